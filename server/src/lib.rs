//! `mixtape-server`: scans a music folder and serves its catalog, playlists and audio over HTTP.
//!
//! Start with [`app::start`]; the domain modules (`scanner`, `catalog`, `auth`, `playlists`,
//! `events`, `art`, `stream`) know nothing of HTTP, and only `storage` knows SQL.

pub mod app;
pub mod art;
pub mod auth;
pub mod background;
pub mod broker;
pub mod catalog;
pub mod config;
pub mod disk;
pub mod events;
pub mod http;
pub mod idempotency;
pub mod leader;
pub mod library_fs;
pub mod logging;
pub mod media_url;
pub mod pages;
pub mod playlists;
pub mod recommender;
pub mod recs;
pub mod scanner;
pub mod secret_file;
pub mod shard_admin;
pub mod shared_state;
pub mod storage;
pub mod stream;
pub mod subsonic;
pub mod transcode;

pub use app::{RunningServer, start};
pub use config::Config;
