//! End-to-end tests of the OpenSubsonic API (`/rest/*`): the real server on 127.0.0.1:0 over a
//! temporary copy of the demo library, driven as Subsonic clients drive it, in JSON and XML.

#[path = "../common/mod.rs"]
mod common;

mod apps;
mod auth;
mod browse;
mod endpoints;
mod listening;
mod lyrics;
mod media;
mod playlists;
mod protocol;
mod state;
mod support;
mod transcoding;
