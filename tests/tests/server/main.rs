//! End-to-end tests of the server: the real server on 127.0.0.1:0 over a temporary copy of the
//! demo library, driven over HTTP.

#[path = "../common/mod.rs"]
mod common;

mod auth;
mod catalog;
mod errors;
mod idempotency;
mod library;
mod lyrics;
mod playlist_writes;
mod playlists;
mod streaming;
mod transcoding;
