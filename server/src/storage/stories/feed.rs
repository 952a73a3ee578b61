//! The change feed's invariant under concurrent writers: a reader that polls `since` sees every
//! change exactly once, however the writers' commits interleave.

use super::fixtures;
use crate::storage::Store;
use mixtape_shared::api::Change;
use std::collections::HashSet;

/// Writers create playlists from several threads while a reader polls the feed; at the end the
/// reader has seen every playlist, and no page ever went backwards.
fn concurrent_writers_miss_nothing(store: &dyn Store) {
    let owner = fixtures::user(store, "writer");
    let writers = 4;
    let per_writer = 25;
    let mut seen = HashSet::new();
    let last_revision = std::cell::Cell::new(0);
    let mut since = "0".to_string();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                s.spawn(move || {
                    for i in 0..per_writer {
                        let op = fixtures::create_op(&format!("w{w}-{i}"));
                        store.apply_playlist_ops(owner, &[op], 0).expect("apply");
                    }
                })
            })
            .collect();
        let poll = |since: &mut String, seen: &mut HashSet<String>| loop {
            let page = store.changes(owner, since, 7).expect("changes");
            assert!(
                page.revision >= last_revision.get(),
                "the feed went backwards"
            );
            last_revision.set(page.revision);
            for change in &page.changes {
                if let Change::Playlist { playlist, .. } = change {
                    seen.insert(playlist.playlist.name.clone());
                }
            }
            *since = page.next_since.clone();
            if !page.has_more {
                break;
            }
        };
        while handles.iter().any(|h| !h.is_finished()) {
            poll(&mut since, &mut seen);
        }
        poll(&mut since, &mut seen);
    });
    assert_eq!(
        seen.len(),
        writers * per_writer,
        "the reader missed changes"
    );
}

super::stories!(concurrent_writers_miss_nothing);

/// The same on PostgreSQL with every commit held back 20 ms after its sequence numbers are
/// taken: numbers from a plain sequence would commit out of order here, and the poller would
/// step over the late ones for good.
#[test]
fn postgres_commits_in_sequence_order_when_commits_are_slow() {
    use crate::storage::postgres::scratch::ScratchDatabase;
    use crate::storage::postgres::{LocalWriteMarks, PgOptions, PgStore};
    let db = ScratchDatabase::for_test("slow_commits");
    let mut options = PgOptions::new(db.url());
    options.commit_delay = Some(std::time::Duration::from_millis(20));
    let store = PgStore::open(
        &options,
        std::sync::Arc::new(LocalWriteMarks::single_node()),
    )
    .expect("open postgres");
    concurrent_writers_miss_nothing(&store);
}
