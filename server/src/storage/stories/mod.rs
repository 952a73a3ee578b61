//! The story suite: every storage behaviour the server relies on, written once over
//! `&dyn Store` and run against each backend (SQLite in a temp dir, PostgreSQL in a scratch
//! database). A story names what a user of the store can count on; a backend that needs a
//! story changed to pass is a backend that behaves differently.
//!
//! Each domain's stories sit in their own file and end with `stories!(name, ...)`, which makes
//! one test per story per backend (`on_sqlite::name`, `on_postgres::name`, and
//! `on_sharded::name`: PostgreSQL with two user-keyed shards, where users live off the primary).

use super::Store;
use super::postgres::scratch::ScratchDatabase;
use super::postgres::{LocalWriteMarks, PgOptions, PgStore};
use super::sqlite::SqliteStore;
use std::sync::Arc;

/// A store and what keeps it alive (its temp dir or scratch database).
pub(crate) struct Backend {
    pub store: Arc<dyn Store>,
    _keep: Box<dyn std::any::Any>,
}

pub(crate) fn sqlite() -> Backend {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("mixtape.db"), 4).expect("open sqlite");
    Backend {
        store: Arc::new(store),
        _keep: Box::new(dir),
    }
}

pub(crate) fn postgres(label: &str) -> Backend {
    let db = ScratchDatabase::for_test(label);
    let store = PgStore::open(
        &PgOptions::new(db.url()),
        Arc::new(LocalWriteMarks::single_node()),
    )
    .expect("open postgres");
    // The store goes first: its pools hold connections the drop of the database ends.
    Backend {
        store: Arc::new(store),
        _keep: Box::new(db),
    }
}

/// PostgreSQL with two shard databases: every user created lives on a shard, so each story
/// crosses from the primary (catalog, credentials) to a shard (the user's own data).
pub(crate) fn sharded(label: &str) -> Backend {
    let primary = ScratchDatabase::for_test(label);
    let shards = [
        ScratchDatabase::for_test(&format!("{label}_a")),
        ScratchDatabase::for_test(&format!("{label}_b")),
    ];
    let mut options = PgOptions::new(primary.url());
    options.shards = vec![
        ("a".into(), shards[0].url().to_string()),
        ("b".into(), shards[1].url().to_string()),
    ];
    let store = PgStore::open(&options, Arc::new(LocalWriteMarks::single_node()))
        .expect("open sharded postgres");
    Backend {
        store: Arc::new(store),
        _keep: Box::new((primary, shards)),
    }
}

/// One test per story per backend.
macro_rules! stories {
    ($($story:ident),* $(,)?) => {
        mod on_sqlite {
            $( #[test] fn $story() { super::$story(&*crate::storage::stories::sqlite().store); } )*
        }
        mod on_postgres {
            $( #[test] fn $story() {
                let backend = crate::storage::stories::postgres(stringify!($story));
                super::$story(&*backend.store);
            } )*
        }
        mod on_sharded {
            $( #[test] fn $story() {
                let backend = crate::storage::stories::sharded(stringify!($story));
                super::$story(&*backend.store);
            } )*
        }
    };
}
pub(crate) use stories;

mod accounts;
mod activity;
mod catalog;
mod feed;
pub(crate) mod fixtures;
mod idempotency;
mod playlists;
mod queue;
mod recs;
mod scan;
mod search;
