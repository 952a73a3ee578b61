//! Scanner writes: upserts, moves, removals, held-back and restored tracks (their counts and
//! ids), retired ids coming back with their content, denormalized counts, and pruning.

use super::fixtures::{record, scan};
use crate::storage::*;
use mixtape_shared::TrackId;

fn id_at(store: &dyn Store, path: &str) -> TrackId {
    store.indexed_files().unwrap()[path].track_id
}

fn upserts_add_then_update_in_place(store: &dyn Store) {
    let outcome = store
        .apply_scan_batch(vec![
            ScanWrite::Upsert(record("u/1.flac", "One", "Band", "Album", Some(2000))),
            ScanWrite::Upsert(record("u/2.flac", "Two", "Band", "Album", None)),
        ])
        .unwrap();
    assert_eq!(
        outcome,
        BatchOutcome {
            added: 2,
            ..BatchOutcome::default()
        }
    );
    let id = id_at(store, "u/1.flac");
    let files = store.indexed_files().unwrap();
    let file = &files["u/1.flac"];
    assert_eq!(file.size, 1000 + "u/1.flac".len() as u64);
    assert_eq!(file.mtime_ns, 1_700_000_000_000_000_000);
    assert!(file.available);

    let mut changed = record("u/1.flac", "One (Remaster)", "Band", "Album", Some(2001));
    changed.mtime_ns += 1;
    changed.track_number = Some(7);
    changed.replay_gain.track_gain_db = Some(-6.5);
    changed.musicbrainz.recording_id = Some("mb-rec".into());
    changed.bitrate_kbps = Some(900);
    changed.sample_rate = Some(44_100);
    changed.channels = Some(2);
    let outcome = store
        .apply_scan_batch(vec![ScanWrite::Upsert(changed)])
        .unwrap();
    assert_eq!(outcome.updated, 1);
    assert_eq!(outcome.added, 0);
    assert_eq!(id_at(store, "u/1.flac"), id, "an update keeps the id");
    let t = store.track(id).unwrap().unwrap();
    assert_eq!(t.title, "One (Remaster)");
    assert_eq!(t.track_number, Some(7));
    assert_eq!(t.year, Some(2001));
    assert_eq!(t.replay_gain.track_gain_db, Some(-6.5));
    assert_eq!(t.musicbrainz.recording_id.as_deref(), Some("mb-rec"));
    assert_eq!(
        (t.bitrate_kbps, t.sample_rate, t.channels),
        (Some(900), Some(44_100), Some(2))
    );
    assert_eq!(store.track_count().unwrap(), 2);
    let album = store.album(t.album.unwrap().id).unwrap().unwrap().album;
    assert_eq!(album.year, Some(2001));
    assert_eq!(album.track_count, 2);

    // Blank tags get the placeholders; an empty artist list is the unknown artist.
    let mut blank = record("u/3.flac", "  ", "x", "  ", None);
    blank.artists = vec![" ".into()];
    blank.album_artist = None;
    scan(store, vec![blank]);
    let t = store.track(id_at(store, "u/3.flac")).unwrap().unwrap();
    assert_eq!(t.title, "Untitled");
    assert_eq!(t.artists[0].name, "Unknown Artist");
    assert!(t.album.is_none());
}

fn moves_keep_the_id(store: &dyn Store) {
    scan(
        store,
        vec![
            record("m/a.flac", "A", "Band", "Album", None),
            record("m/b.flac", "B", "Band", "Album", None),
        ],
    );
    let (a, b) = (id_at(store, "m/a.flac"), id_at(store, "m/b.flac"));
    let outcome = store
        .apply_scan_batch(vec![ScanWrite::Move {
            from: "m/a.flac".into(),
            record: record("m/moved/a.flac", "A", "Band", "Album", None),
        }])
        .unwrap();
    assert_eq!(outcome.moved, 1);
    assert_eq!(id_at(store, "m/moved/a.flac"), a);
    assert!(!store.indexed_files().unwrap().contains_key("m/a.flac"));

    // Moved onto another indexed file: that one goes, the moved one keeps its id.
    let outcome = store
        .apply_scan_batch(vec![ScanWrite::Move {
            from: "m/moved/a.flac".into(),
            record: record("m/b.flac", "A", "Band", "Album", None),
        }])
        .unwrap();
    assert_eq!((outcome.moved, outcome.removed), (1, 1));
    assert_eq!(id_at(store, "m/b.flac"), a);
    assert!(store.track(b).unwrap().is_none());

    // From a path nobody knows: an add.
    let outcome = store
        .apply_scan_batch(vec![ScanWrite::Move {
            from: "m/ghost.flac".into(),
            record: record("m/new.flac", "New", "Band", "Album", None),
        }])
        .unwrap();
    assert_eq!((outcome.added, outcome.moved), (1, 0));
    assert_eq!(store.track_count().unwrap(), 2);
}

fn removed_tracks_get_their_id_back_when_their_file_returns(store: &dyn Store) {
    let with_hash = |path: &str, hash: &str| {
        let mut r = record(path, path, "Band", "Album", None);
        r.content_hash = hash.into();
        r
    };
    scan(
        store,
        vec![with_hash("a.mp3", "hash-a"), with_hash("b.mp3", "hash-b")],
    );
    let b = id_at(store, "b.mp3");
    let outcome = store
        .apply_scan_batch(vec![
            ScanWrite::Remove {
                path: "b.mp3".into(),
            },
            ScanWrite::Remove {
                path: "never.mp3".into(),
            },
        ])
        .unwrap();
    assert_eq!(outcome.removed, 1, "removing an unknown path is nothing");
    assert!(store.track(b).unwrap().is_none());
    assert!(store.existing_track_ids(&[b]).unwrap().is_empty());
    scan(store, vec![with_hash("c.mp3", "hash-c")]);
    let c = id_at(store, "c.mp3");
    assert!(c.0 > b.0, "a new file gets a new id, not the freed one");
    scan(store, vec![with_hash("Back/b.mp3", "hash-b")]);
    assert_eq!(id_at(store, "Back/b.mp3"), b, "the same bytes: the old id");
    scan(store, vec![with_hash("d.mp3", "hash-d")]);
    let d = id_at(store, "d.mp3");
    assert!(d.0 > c.0, "ids never go back");
    // Removed and back within one batch (ids a batch reads ahead must not miss it).
    store
        .apply_scan_batch(vec![
            ScanWrite::Remove {
                path: "d.mp3".into(),
            },
            ScanWrite::Upsert(with_hash("again/d.mp3", "hash-d")),
        ])
        .unwrap();
    assert_eq!(
        id_at(store, "again/d.mp3"),
        d,
        "the old id, in the same batch"
    );
}

fn held_tracks_stay_unavailable_until_restored(store: &dyn Store) {
    scan(
        store,
        vec![
            record("h/a.flac", "A", "Band", "Album", None),
            record("h/b.flac", "B", "Band", "Album", None),
        ],
    );
    let a = id_at(store, "h/a.flac");
    let hold = || ScanWrite::Hold {
        path: "h/a.flac".into(),
    };
    let outcome = store.apply_scan_batch(vec![hold()]).unwrap();
    assert_eq!(outcome.held, 1);
    assert_eq!(
        store.apply_scan_batch(vec![hold()]).unwrap().held,
        0,
        "once"
    );
    assert_eq!(store.unavailable_track_count().unwrap(), 1);
    assert!(!store.track(a).unwrap().unwrap().available);
    assert!(!store.track_file(a).unwrap().unwrap().available);
    assert!(!store.indexed_files().unwrap()["h/a.flac"].available);
    assert_eq!(store.track_count().unwrap(), 2, "a held track stays");
    let restore = || ScanWrite::Restore {
        path: "h/a.flac".into(),
    };
    assert_eq!(store.apply_scan_batch(vec![restore()]).unwrap().restored, 1);
    assert_eq!(store.apply_scan_batch(vec![restore()]).unwrap().restored, 0);
    assert!(store.track(a).unwrap().unwrap().available);
    assert_eq!(store.unavailable_track_count().unwrap(), 0);
    let missing = ScanWrite::Hold {
        path: "h/none.flac".into(),
    };
    assert_eq!(store.apply_scan_batch(vec![missing]).unwrap().held, 0);

    // An upsert of a held track makes it available again.
    store.apply_scan_batch(vec![hold()]).unwrap();
    scan(store, vec![record("h/a.flac", "A", "Band", "Album", None)]);
    assert!(store.track(a).unwrap().unwrap().available);
}

fn counts_follow_the_tracks(store: &dyn Store) {
    scan(
        store,
        vec![
            record("c/1.flac", "One", "Band", "First", None),
            record("c/2.flac", "Two", "Band", "First", None),
            record("c/3.flac", "Three", "Band", "Second", None),
        ],
    );
    let band = store.artist_by_name("Band").unwrap().unwrap();
    assert_eq!((band.album_count, band.track_count), (2, 3));
    store
        .apply_scan_batch(vec![ScanWrite::Remove {
            path: "c/3.flac".into(),
        }])
        .unwrap();
    let band = store.artist_by_name("Band").unwrap().unwrap();
    assert_eq!(
        (band.album_count, band.track_count),
        (1, 2),
        "an album without tracks is not counted"
    );
    // Retagged to another artist: both artists' counts follow.
    scan(
        store,
        vec![record("c/2.flac", "Two", "Solo", "Solo Album", None)],
    );
    let band = store.artist_by_name("Band").unwrap().unwrap();
    let solo = store.artist_by_name("Solo").unwrap().unwrap();
    assert_eq!((band.album_count, band.track_count), (1, 1));
    assert_eq!((solo.album_count, solo.track_count), (1, 1));
    let first = store
        .artist(band.id)
        .unwrap()
        .unwrap()
        .albums
        .into_iter()
        .find(|a| a.title == "First")
        .unwrap();
    assert_eq!(first.track_count, 1);
    assert_eq!(first.duration_ms, 180_000);
}

fn pruning_drops_what_no_track_uses(store: &dyn Store) {
    let mut jazz = record("p/1.flac", "One", "Gone", "Gone Album", None);
    jazz.genres = vec!["Jazz".into()];
    scan(
        store,
        vec![jazz, record("p/2.flac", "Two", "Stays", "Kept", None)],
    );
    let gone = store.artist_by_name("Gone").unwrap().unwrap();
    let album = store.artist(gone.id).unwrap().unwrap().albums[0].id;
    store
        .apply_scan_batch(vec![ScanWrite::Remove {
            path: "p/1.flac".into(),
        }])
        .unwrap();
    assert!(store.album(album).unwrap().is_some(), "kept until pruned");
    store.prune_orphans().unwrap();
    assert!(store.album(album).unwrap().is_none());
    assert!(store.artist_by_name("Gone").unwrap().is_none());
    assert!(store.artist(gone.id).unwrap().is_none());
    let genres: Vec<String> = store
        .genres()
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(genres, ["Rock"]);
    assert!(store.search("gone", 10).unwrap().albums.is_empty());
    assert!(store.search("gone", 10).unwrap().artists.is_empty());
    assert!(store.artist_by_name("Stays").unwrap().is_some());
    assert_eq!(store.artist_page(0, 10).unwrap().len(), 1);
    // Pruning twice is pruning once.
    store.prune_orphans().unwrap();
    assert_eq!(store.track_count().unwrap(), 1);
}

fn big_batches_write_every_track(store: &dyn Store) {
    let records: Vec<TrackRecord> = (0..300)
        .map(|i| {
            record(
                &format!("big/{i:03}.flac"),
                &format!("Song {i}"),
                &format!("Artist {}", i % 7),
                &format!("Album {}", i % 13),
                (i % 3 != 0).then_some(1990 + i % 20),
            )
        })
        .collect();
    let outcome = store
        .apply_scan_batch(records.into_iter().map(ScanWrite::Upsert).collect())
        .unwrap();
    assert_eq!(outcome.added, 300);
    assert_eq!(store.track_count().unwrap(), 300);
    assert_eq!(store.indexed_files().unwrap().len(), 300);
    let total: u32 = store
        .artist_page(0, 100)
        .unwrap()
        .iter()
        .map(|a| a.track_count)
        .sum();
    assert_eq!(total, 300);
    let found = store.search("song 123", 5).unwrap();
    assert_eq!(found.tracks[0].title, "Song 123");
}

fn lyrics_are_written_with_their_track_and_go_with_it(store: &dyn Store) {
    use mixtape_shared::api::LyricsSource;
    let lyrics =
        mixtape_shared::lyrics::parse("[la:jpn]\n[00:01.50]雨\n[00:03.00]", LyricsSource::Lrc)
            .unwrap();
    let mut with = record("l/1.flac", "Rain", "Band", "Album", None);
    with.lyrics = Some(lyrics.clone());
    scan(
        store,
        vec![
            with.clone(),
            record("l/2.flac", "Dry", "Band", "Album", None),
        ],
    );
    let (one, two) = (id_at(store, "l/1.flac"), id_at(store, "l/2.flac"));
    assert_eq!(store.track_lyrics(one).unwrap(), Some(lyrics));
    assert_eq!(store.track_lyrics(two).unwrap(), None);
    assert_eq!(store.track_lyrics(TrackId(999_999)).unwrap(), None);
    // Read again without lyrics (the .lrc removed): none; a move keeps what the record says.
    let mut without = with.clone();
    without.lyrics = None;
    without.mtime_ns += 1;
    scan(store, vec![without]);
    assert_eq!(store.track_lyrics(one).unwrap(), None);
    let plain = mixtape_shared::lyrics::plain("words", LyricsSource::Embedded).unwrap();
    let mut moved = record("l/moved.flac", "Rain", "Band", "Album", None);
    moved.content_hash = with.content_hash.clone();
    moved.lyrics = Some(plain.clone());
    store
        .apply_scan_batch(vec![ScanWrite::Move {
            from: "l/1.flac".into(),
            record: moved,
        }])
        .unwrap();
    assert_eq!(store.track_lyrics(one).unwrap(), Some(plain));
    store
        .apply_scan_batch(vec![ScanWrite::Remove {
            path: "l/moved.flac".into(),
        }])
        .unwrap();
    assert_eq!(store.track_lyrics(one).unwrap(), None);
}

/// A batch's tracks reach the change feed one row each, in the batch's order: what a client
/// pulling the feed applies in turn (an update, then a removal of another track).
fn a_batch_reaches_the_feed_in_its_order(store: &dyn Store) {
    use mixtape_shared::api::{Change, ChangesPage};
    let u = super::fixtures::user(store, "feed-reader");
    let tracks = |page: &ChangesPage| -> Vec<(TrackId, bool)> {
        page.changes
            .iter()
            .filter_map(|c| match c {
                Change::Track { track, .. } => Some((track.id, false)),
                Change::TrackDeleted { id, .. } => Some((*id, true)),
                _ => None,
            })
            .collect()
    };
    let increasing = |page: &ChangesPage| {
        let revs: Vec<i64> = page.changes.iter().map(Change::rev).collect();
        assert!(revs.windows(2).all(|w| w[0] < w[1]), "{revs:?}");
        revs
    };
    let start = store.changes(u, "0", 1000).unwrap();
    scan(
        store,
        vec![
            record("f/1.flac", "One", "Band", "Album", None),
            record("f/2.flac", "Two", "Band", "Album", None),
            record("f/3.flac", "Three", "Band", "Album", None),
        ],
    );
    let (one, two, three) = (
        id_at(store, "f/1.flac"),
        id_at(store, "f/2.flac"),
        id_at(store, "f/3.flac"),
    );
    let first = store.changes(u, &start.next_since, 1000).unwrap();
    assert_eq!(tracks(&first), [(one, false), (two, false), (three, false)]);
    let first_revs = increasing(&first);

    let mut three_again = record("f/3.flac", "Three (Live)", "Band", "Album", None);
    three_again.mtime_ns += 1;
    store
        .apply_scan_batch(vec![
            ScanWrite::Upsert(three_again),
            ScanWrite::Remove {
                path: "f/1.flac".into(),
            },
        ])
        .unwrap();
    let second = store.changes(u, &first.next_since, 1000).unwrap();
    assert_eq!(tracks(&second), [(three, false), (one, true)]);
    let second_revs = increasing(&second);
    assert!(second_revs[0] > *first_revs.last().unwrap());
    let caught_up = store.changes(u, &second.next_since, 1000).unwrap();
    assert!(caught_up.changes.is_empty(), "{:?}", caught_up.changes);
}

stories!(
    lyrics_are_written_with_their_track_and_go_with_it,
    upserts_add_then_update_in_place,
    moves_keep_the_id,
    removed_tracks_get_their_id_back_when_their_file_returns,
    held_tracks_stay_unavailable_until_restored,
    counts_follow_the_tracks,
    pruning_drops_what_no_track_uses,
    big_batches_write_every_track,
    a_batch_reaches_the_feed_in_its_order,
);
