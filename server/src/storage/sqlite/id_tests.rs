//! Ids are never reused (findings 2 and 20), and the v4 migration that made them so keeps a v3
//! database's data.

use super::{MIGRATIONS, SqliteStore};
use crate::storage::*;
use mixtape_shared::sync::{NewEntry, OpKind, PlaylistOp};
use mixtape_shared::{DeviceId, EntryId, OpId};
use mixtape_shared::{PlaylistId, TrackId, UserId};
use rusqlite::Connection;
use std::path::Path;

fn record(path: &str, hash: &str) -> TrackRecord {
    TrackRecord {
        path: path.into(),
        size: 10,
        mtime_ns: 1,
        content_hash: hash.into(),
        format: "mp3".into(),
        content_type: "audio/mpeg".into(),
        title: format!("title of {path}"),
        artists: vec!["Someone".into()],
        album: Some("Album".into()),
        ..TrackRecord::default()
    }
}

fn op(playlist: PlaylistId, clock: u64, kind: OpKind) -> PlaylistOp {
    PlaylistOp {
        id: OpId::new_v7(),
        playlist_id: playlist,
        clock,
        device: DeviceId::new_v7(),
        kind,
    }
}

fn count(db: &Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// A database made by the v3 schema, with the kind of data a v3 server leaves: a deleted track
/// (id 9, only in the change feed) and a deleted user (id 5, in the feed and the recommender).
fn v3_database(path: &Path) {
    let db = Connection::open(path).unwrap();
    db.pragma_update(None, "foreign_keys", "ON").unwrap();
    for sql in &MIGRATIONS[..3] {
        db.execute_batch(sql).unwrap();
    }
    db.pragma_update(None, "user_version", 3).unwrap();
    db.execute_batch(
        "INSERT INTO artists (id, name, sort_name, album_count, track_count) VALUES (1, 'Someone', 'someone', 1, 2);
         INSERT INTO albums (id, title, sort_title, album_artist_id, sort_artist, track_count, added_at) VALUES (1, 'Album', 'album', 1, 'someone', 2, 0);
         INSERT INTO tracks (id, path, size, mtime_ns, content_hash, format, content_type, title, sort_title, album_id,
             album_artist_id, duration_ms, artist_names, artist_ids, genre_names, sort_artist, added_at)
         VALUES (1, 'a.mp3', 10, 1, 'hash-a', 'mp3', 'audio/mpeg', 'A', 'a', 1, 1, 1000, 'Someone', '1', '', 'someone', 0),
                (2, 'b.mp3', 10, 1, 'hash-b', 'mp3', 'audio/mpeg', 'B', 'b', 1, 1, 1000, 'Someone', '1', '', 'someone', 0);
         INSERT INTO track_artists VALUES (1, 0, 1), (2, 0, 1);
         INSERT INTO track_search (rowid, title, artists, album) VALUES (1, 'a', 'someone', 'album'), (2, 'b', 'someone', 'album');
         INSERT INTO users (id, username, password_hash, is_admin, created_at) VALUES (1, 'admin', 'h1', 1, 0), (2, 'bob', 'h2', 0, 0);
         INSERT INTO tokens VALUES ('token-hash', 2, 0, 9999999999);
         INSERT INTO api_keys (id, user_id, name, hash, created_at) VALUES (1, 2, 'phone', 'key-hash', 0);
         INSERT INTO playlists VALUES ('0190a8a0-0000-7000-8000-000000000001', 2, 'Road', 0, 2, 0, 0);
         INSERT INTO playlist_entries VALUES ('0190a8a0-0000-7000-8000-0000000000e1', '0190a8a0-0000-7000-8000-000000000001', 2, 'V', 0);
         INSERT INTO play_events VALUES ('0190a8a0-0000-7000-8000-0000000000a1', 2, 1, 'play', 0, 0, NULL, 0);
         INSERT INTO subsonic_stars VALUES (2, 'track', 1, 0);
         INSERT INTO changes VALUES ('track', '1', NULL, 1, 0), ('track', '2', NULL, 2, 0), ('track', '9', NULL, 3, 1),
             ('playlist', '0190a8a0-0000-7000-8000-000000000001', 2, 4, 0),
             ('playlist', '0190a8a0-0000-7000-8000-0000000000ff', 5, 5, 1);
         UPDATE meta SET value = 5 WHERE key = 'change_seq';
         INSERT INTO recs_plays VALUES (2, 0, 'k2', 1, 1), (5, 0, 'k5', 2, 1);",
    )
    .unwrap();
}

#[test]
fn the_v4_migration_keeps_a_v3_database_and_never_reuses_its_freed_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("mixtape.db");
    v3_database(&path);
    let store = SqliteStore::open(&path, 2).unwrap();

    let db = Connection::open(&path).unwrap();
    assert_eq!(count(&db, "PRAGMA user_version"), MIGRATIONS.len() as i64);
    assert_eq!(
        count(&db, "SELECT count(*) FROM pragma_foreign_key_check"),
        0
    );
    for (table, rows) in [
        ("tracks", 2),
        ("track_artists", 2),
        // v12 moved the search rows out of FTS5 into a plain table.
        ("track_search", 2),
        ("users", 2),
        ("tokens", 1),
        ("api_keys", 1),
        ("playlists", 1),
        ("playlist_entries", 1),
        ("play_events", 1),
        ("subsonic_stars", 1),
    ] {
        assert_eq!(
            count(&db, &format!("SELECT count(*) FROM {table}")),
            rows,
            "{table}"
        );
    }
    // What the v3 schema left of the deleted user 5 is gone; bob's rows stay.
    assert_eq!(
        count(&db, "SELECT count(*) FROM changes WHERE user_id = 5"),
        0
    );
    assert_eq!(count(&db, "SELECT count(*) FROM recs_plays"), 1);

    let bob = store.user_by_id(UserId(2)).unwrap().unwrap();
    assert_eq!(
        (bob.user.username.as_str(), bob.password_hash.as_str()),
        ("bob", "h2")
    );
    assert_eq!(
        store.token("token-hash", 0).unwrap().unwrap().user.id,
        UserId(2)
    );
    let a = store.track(TrackId(1)).unwrap().unwrap();
    assert_eq!((a.title.as_str(), a.available), ("A", true));
    assert_eq!(store.search("b", 10).unwrap().tracks[0].id, TrackId(2));
    // The in-memory index, loaded from the kept search rows.
    assert_eq!(store.search("someone", 10).unwrap().tracks.len(), 2);
    let playlist: PlaylistId = "0190a8a0-0000-7000-8000-000000000001".parse().unwrap();
    let detail = store.playlist(playlist).unwrap().unwrap().detail;
    assert_eq!(detail.entries[0].track_id, TrackId(2));

    // New ids start above every id the v3 database ever handed out.
    let carol = store.create_user("carol", "h3", false).unwrap();
    assert_eq!(carol.id, UserId(6), "user 5 existed once");
    store
        .apply_scan_batch(vec![ScanWrite::Upsert(record("c.mp3", "hash-c"))])
        .unwrap();
    let c = store.indexed_files().unwrap()["c.mp3"].track_id;
    assert_eq!(c, TrackId(10), "track 9 existed once");

    // Foreign keys still cascade after the rebuild.
    assert!(store.delete_user(UserId(2)).unwrap());
    assert_eq!(count(&db, "SELECT count(*) FROM tokens"), 0);
    assert_eq!(count(&db, "SELECT count(*) FROM playlists"), 0);
    assert!(store.delete_user(UserId(6)).unwrap());
    store
        .apply_scan_batch(vec![ScanWrite::Remove {
            path: "b.mp3".into(),
        }])
        .unwrap();
    assert_eq!(
        count(&db, "SELECT count(*) FROM track_artists WHERE track_id = 2"),
        0
    );
}

#[test]
fn a_deleted_users_id_feed_and_plays_are_not_inherited() {
    let tmp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&tmp.path().join("mixtape.db"), 2).unwrap();
    store
        .apply_scan_batch(vec![ScanWrite::Upsert(record("a.mp3", "hash-a"))])
        .unwrap();
    let track = store.indexed_files().unwrap()["a.mp3"].track_id;
    store.create_user("admin", "h", true).unwrap();
    let erin = store.create_user("erin", "h", false).unwrap();
    let playlist = PlaylistId::new_v7();
    store
        .apply_playlist_ops(
            erin.id,
            &[
                op(
                    playlist,
                    1,
                    OpKind::Create {
                        name: "mine".into(),
                        public: false,
                    },
                ),
                op(
                    playlist,
                    2,
                    OpKind::Add {
                        entries: vec![NewEntry {
                            id: EntryId::new_v7(),
                            track_id: track,
                        }],
                        at: mixtape_shared::sync::Anchor::End,
                    },
                ),
            ],
            0,
        )
        .unwrap();
    let erins_feed = store.changes(erin.id, "0", 100).unwrap();
    assert!(
        erins_feed
            .changes
            .iter()
            .any(|c| matches!(c, mixtape_shared::api::Change::Playlist { .. }))
    );
    {
        let db = store.writer.lock().unwrap();
        db.execute(
            "INSERT INTO recs_plays (user_id, at_ms, key, track_id, weight) VALUES (?1, 0, 'k', ?2, 1)",
            [erin.id.0, track.0],
        )
        .unwrap();
    }

    assert!(store.delete_user(erin.id).unwrap());
    let frank = store.create_user("frank", "h", false).unwrap();
    assert_ne!(
        frank.id, erin.id,
        "a deleted user's id is not handed out again"
    );
    let franks_feed = store.changes(frank.id, "0", 100).unwrap();
    assert!(
        franks_feed.changes.iter().all(|c| !matches!(
            c,
            mixtape_shared::api::Change::Playlist { .. }
                | mixtape_shared::api::Change::PlaylistDeleted { .. }
        )),
        "{:?}",
        franks_feed.changes
    );
    let db = store.writer.lock().unwrap();
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM changes WHERE user_id IS NOT NULL"
        ),
        0
    );
    assert_eq!(count(&db, "SELECT count(*) FROM recs_plays"), 0);
}

#[test]
fn a_removed_track_gets_its_id_back_when_its_file_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&tmp.path().join("mixtape.db"), 2).unwrap();
    store
        .apply_scan_batch(vec![
            ScanWrite::Upsert(record("a.mp3", "hash-a")),
            ScanWrite::Upsert(record("b.mp3", "hash-b")),
        ])
        .unwrap();
    let ids = |s: &SqliteStore| -> Vec<(String, TrackId)> {
        let mut v: Vec<_> = s
            .indexed_files()
            .unwrap()
            .into_iter()
            .map(|(p, f)| (p, f.track_id))
            .collect();
        v.sort();
        v
    };
    let before = ids(&store);
    let b = before[1].1;
    store
        .apply_scan_batch(vec![ScanWrite::Remove {
            path: "b.mp3".into(),
        }])
        .unwrap();
    store
        .apply_scan_batch(vec![ScanWrite::Upsert(record("c.mp3", "hash-c"))])
        .unwrap();
    let c = store.indexed_files().unwrap()["c.mp3"].track_id;
    assert!(c.0 > b.0, "a new file gets a new id, not the freed one");
    // The same bytes under another name: the old id.
    store
        .apply_scan_batch(vec![ScanWrite::Upsert(record("Back/b.mp3", "hash-b"))])
        .unwrap();
    assert_eq!(store.indexed_files().unwrap()["Back/b.mp3"].track_id, b);

    // A held-back track stays, unavailable, and comes back.
    let outcome = store
        .apply_scan_batch(vec![ScanWrite::Hold {
            path: "a.mp3".into(),
        }])
        .unwrap();
    assert_eq!(outcome.held, 1);
    assert_eq!(store.unavailable_track_count().unwrap(), 1);
    let a = before[0].1;
    assert!(!store.track(a).unwrap().unwrap().available);
    assert!(!store.track_file(a).unwrap().unwrap().available);
    let outcome = store
        .apply_scan_batch(vec![ScanWrite::Restore {
            path: "a.mp3".into(),
        }])
        .unwrap();
    assert_eq!(outcome.restored, 1);
    assert!(store.track(a).unwrap().unwrap().available);
    assert_eq!(store.unavailable_track_count().unwrap(), 0);
}
