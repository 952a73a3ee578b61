//! The Mixtape client library: the local mirror of the server's catalog and playlists, the
//! verified audio cache, offline edits with exactly-once sync, and the CLI built on them.
//!
//! A [`device::Device`] is one set of XDG directories; [`mirror`] holds what was pulled and what
//! waits to be pushed, [`sync`] moves it, [`cache`] holds audio, [`offline`] keeps playlists
//! playable without a network, and [`cli`] is the scriptable face of all of it.

pub use mixtape_shared as shared;

pub mod api;
pub mod cache;
pub mod cli;
pub mod connectivity;
#[cfg(feature = "demo")]
pub mod demo;
pub mod device;
pub mod disk;
pub mod mirror;
pub mod offline;
pub mod player;
pub mod quality;
pub mod settings;
pub mod sync;
pub mod tui;
