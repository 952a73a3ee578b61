//! End-to-end tests of the client: the real `mixtape` CLI (as a subprocess, see
//! `tests/src/bin/mixtape-under-test.rs`) and the `mixtape` library against the real server on
//! 127.0.0.1:0 over a temporary copy of the demo library. Each device is its own set of
//! temporary XDG folders; some tests put a counting proxy between client and server.

#[path = "../common/mod.rs"]
mod common;
mod support;

mod cache;
mod disk;
mod edge;
mod events;
mod hostile;
mod offline;
mod online;
mod quality;
