//! Activity: play events and history, the recs outbox, stars, ratings, annotations, the saved
//! play queue, bookmarks, each user's latest play and every Subsonic album list.

use super::fixtures;
use crate::storage::{AlbumList, BookmarkRecord, ItemRef, PlayQueueRecord, Store};
use mixtape_shared::api::{PlayEvent, PlayEventKind};
use mixtape_shared::sync::{Anchor, NewEntry, OpKind, PlaylistOp};
use mixtape_shared::{AlbumId, ArtistId, DeviceId, EntryId, EventId, OpId, TrackId, UserId};
use std::collections::HashSet;

fn event(track: i64, kind: PlayEventKind, at_ms: i64) -> PlayEvent {
    PlayEvent {
        id: EventId::new_v7(),
        track_id: TrackId(track),
        kind,
        position_ms: 1_234,
        at_ms,
        device: None,
    }
}

/// Events are stored once per id; history is newest first, paged by `before_ms`, per user.
fn play_events_are_stored_once_and_history_pages_newest_first(store: &dyn Store) {
    let u = fixtures::user(store, "listener");
    let v = fixtures::user(store, "other");
    let mut first = event(1, PlayEventKind::Start, 100);
    first.device = Some(DeviceId::new_v7());
    let batch = vec![
        first.clone(),
        event(1, PlayEventKind::Finish, 300),
        event(2, PlayEventKind::Skip, 200),
    ];
    assert_eq!(store.insert_play_events(u, &batch, 1).unwrap(), 3);
    let later = event(3, PlayEventKind::Finish, 400);
    assert_eq!(
        store
            .insert_play_events(u, &[batch[0].clone(), later.clone(), later.clone()], 2)
            .unwrap(),
        1,
        "replays and in-batch duplicates are not stored twice"
    );
    store
        .insert_play_events(v, &[event(9, PlayEventKind::Finish, 999)], 3)
        .unwrap();

    let (total, events) = store.play_history(u, None, 10).unwrap();
    assert_eq!(total, 4);
    assert_eq!(
        events.iter().map(|e| e.at_ms).collect::<Vec<_>>(),
        [400, 300, 200, 100]
    );
    assert_eq!(events[3], first, "every field round-trips");
    assert_eq!(events[0], later);

    let (total, page) = store.play_history(u, None, 2).unwrap();
    assert_eq!((total, page.len()), (4, 2));
    let (total, rest) = store.play_history(u, Some(page[1].at_ms), 10).unwrap();
    assert_eq!(total, 4, "the total is the user's, not the page's");
    assert_eq!(rest.iter().map(|e| e.at_ms).collect::<Vec<_>>(), [200, 100]);
    assert_eq!(store.play_history(v, None, 10).unwrap().0, 1);

    // Events at the same instant order by id, newest id first.
    let w = fixtures::user(store, "ties");
    let a = event(5, PlayEventKind::Start, 50);
    let b = event(6, PlayEventKind::Start, 50);
    store
        .insert_play_events(w, &[a.clone(), b.clone()], 4)
        .unwrap();
    let (_, tied) = store.play_history(w, None, 10).unwrap();
    let mut expected = vec![a.id, b.id];
    expected.sort_by_key(|id| std::cmp::Reverse(id.to_string()));
    assert_eq!(tied.iter().map(|e| e.id).collect::<Vec<_>>(), expected);
}

/// A new play event and a playlist addition put their recs message in the queue with them;
/// a replay puts none.
fn new_events_and_playlist_additions_reach_the_recs_queue(store: &dyn Store) {
    let u = fixtures::user(store, "outbox");
    let e1 = event(1, PlayEventKind::Finish, 10);
    let e2 = event(2, PlayEventKind::Skip, 20);
    store
        .insert_play_events(u, &[e1.clone(), e2.clone()], 1)
        .unwrap();
    store
        .insert_play_events(u, std::slice::from_ref(&e1), 2)
        .unwrap();
    let create = fixtures::create_op("recs");
    let add = PlaylistOp {
        id: OpId::new_v7(),
        playlist_id: create.playlist_id,
        clock: 2,
        device: create.device,
        kind: OpKind::Add {
            entries: vec![NewEntry {
                id: EntryId::new_v7(),
                track_id: TrackId(7),
            }],
            at: Anchor::End,
        },
    };
    store
        .apply_playlist_ops(u, &[create, add.clone()], 3)
        .unwrap();
    let mut got: Vec<(String, String)> = store
        .fetch(100, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|d| (d.message.kind, d.message.key))
        .collect();
    got.sort();
    let mut expected = vec![
        ("play".to_string(), e1.id.to_string()),
        ("play".to_string(), e2.id.to_string()),
        ("playlist_add".to_string(), add.id.to_string()),
    ];
    expected.sort();
    assert_eq!(got, expected);
}

/// Stars are per user, keep their first time, list newest first, and go on unstar.
fn stars_are_per_user_and_listed_newest_first(store: &dyn Store) {
    let u = fixtures::user(store, "star");
    let v = fixtures::user(store, "gazer");
    let (t, al, ar) = (
        ItemRef::Track(TrackId(1)),
        ItemRef::Album(AlbumId(1)),
        ItemRef::Artist(ArtistId(1)),
    );
    store.set_starred(u, &[t, al], true, 10).unwrap();
    store.set_starred(u, &[ar], true, 20).unwrap();
    store.set_starred(u, &[t], true, 30).unwrap();
    store.set_starred(v, &[ar], true, 5).unwrap();
    // Same time: by kind ("album" < "track"), then id.
    assert_eq!(
        store.starred_items(u).unwrap(),
        [(ar, 20), (al, 10), (t, 10)],
        "a second star keeps the first time"
    );
    store.set_starred(u, &[t, ar], false, 40).unwrap();
    store.set_starred(u, &[t], false, 41).unwrap();
    assert_eq!(store.starred_items(u).unwrap(), [(al, 10)]);
    assert_eq!(store.starred_items(v).unwrap(), [(ar, 5)]);
}

/// Ratings are 1-5 (above 5 is 5), replaced by the next, removed by 0; annotations carry them
/// with stars and play counts (finished plays only; last play of any kind).
fn ratings_and_annotations_without_the_catalog(store: &dyn Store) {
    let u = fixtures::user(store, "rater");
    let v = fixtures::user(store, "someone");
    let t = ItemRef::Track(TrackId(77));
    let ar = ItemRef::Artist(ArtistId(3));
    store.set_rating(u, t, 3, 1).unwrap();
    store.set_rating(u, t, 9, 2).unwrap();
    store.set_rating(u, ar, 2, 2).unwrap();
    store.set_rating(v, t, 1, 2).unwrap();
    store.set_starred(u, &[ar], true, 50).unwrap();
    store
        .insert_play_events(
            u,
            &[
                event(77, PlayEventKind::Finish, 100),
                event(77, PlayEventKind::Finish, 200),
                event(77, PlayEventKind::Skip, 300),
            ],
            1,
        )
        .unwrap();
    store
        .insert_play_events(v, &[event(77, PlayEventKind::Finish, 900)], 1)
        .unwrap();
    let none = ItemRef::Track(TrackId(78));
    let a = store.annotations(u, &[t, ar, none, t]).unwrap();
    assert_eq!(a.len(), 3);
    assert_eq!(a[&t].rating, Some(5));
    assert_eq!(a[&t].play_count, 2);
    assert_eq!(a[&t].last_played_ms, Some(300));
    assert_eq!(a[&t].starred_at, None);
    assert_eq!(a[&t].added_at, None, "not in the library");
    assert_eq!((a[&ar].rating, a[&ar].starred_at), (Some(2), Some(50)));
    assert_eq!((a[&ar].play_count, a[&ar].last_played_ms), (0, None));
    assert_eq!(a[&none], Default::default());
    assert!(store.annotations(u, &[]).unwrap().is_empty());

    store.set_rating(u, t, 0, 3).unwrap();
    assert_eq!(store.annotations(u, &[t]).unwrap()[&t].rating, None);
    assert_eq!(store.annotations(v, &[t]).unwrap()[&t].rating, Some(1));
}

fn the_play_queue_is_saved_replaced_and_cleared(store: &dyn Store) {
    let u = fixtures::user(store, "queue");
    let v = fixtures::user(store, "q2");
    assert_eq!(store.play_queue(u).unwrap(), None);
    let q = PlayQueueRecord {
        track_ids: vec![TrackId(3), TrackId(1), TrackId(2)],
        current: Some(TrackId(1)),
        position_ms: 4_500,
        changed_at: 1_000,
        changed_by: "phone".into(),
    };
    store.save_play_queue(u, &q).unwrap();
    assert_eq!(store.play_queue(u).unwrap(), Some(q.clone()));
    let q2 = PlayQueueRecord {
        track_ids: vec![TrackId(9)],
        current: None,
        position_ms: 0,
        changed_at: 2_000,
        changed_by: "laptop".into(),
    };
    store.save_play_queue(u, &q2).unwrap();
    store.save_play_queue(v, &q).unwrap();
    assert_eq!(store.play_queue(u).unwrap(), Some(q2.clone()));
    store
        .save_play_queue(
            u,
            &PlayQueueRecord {
                track_ids: Vec::new(),
                ..q2
            },
        )
        .unwrap();
    assert_eq!(
        store.play_queue(u).unwrap(),
        None,
        "an empty queue clears it"
    );
    assert_eq!(store.play_queue(v).unwrap(), Some(q));
}

fn bookmarks_are_one_per_track_moved_in_place_and_deleted(store: &dyn Store) {
    let u = fixtures::user(store, "reader");
    let v = fixtures::user(store, "other reader");
    assert!(store.bookmarks(u).unwrap().is_empty());
    let mark = |track: i64, position_ms: i64, at: i64| BookmarkRecord {
        track: TrackId(track),
        position_ms,
        comment: format!("at {position_ms}"),
        created_at: at,
        changed_at: at,
    };
    store.save_bookmark(u, &mark(7, 1_000, 10)).unwrap();
    store.save_bookmark(u, &mark(8, 2_000, 20)).unwrap();
    store.save_bookmark(v, &mark(7, 5_000, 30)).unwrap();
    // Moving a bookmark keeps when it was made and brings it to the front.
    store.save_bookmark(u, &mark(7, 9_000, 40)).unwrap();
    let expected_moved = BookmarkRecord {
        created_at: 10,
        ..mark(7, 9_000, 40)
    };
    assert_eq!(
        store.bookmarks(u).unwrap(),
        vec![expected_moved.clone(), mark(8, 2_000, 20)]
    );
    assert!(store.delete_bookmark(u, TrackId(8)).unwrap());
    assert!(
        !store.delete_bookmark(u, TrackId(8)).unwrap(),
        "deleting twice finds nothing the second time"
    );
    assert_eq!(store.bookmarks(u).unwrap(), vec![expected_moved]);
    assert_eq!(store.bookmarks(v).unwrap(), vec![mark(7, 5_000, 30)]);
}

/// One latest play per user, by play time, among those received since the cut-off.
fn each_users_latest_play_since_a_time(store: &dyn Store) {
    let u = fixtures::user(store, "now one");
    let v = fixtures::user(store, "now two");
    let w = fixtures::user(store, "long ago");
    let started = event(5, PlayEventKind::Start, 5_000);
    store
        .insert_play_events(
            u,
            &[event(4, PlayEventKind::Finish, 4_000), started.clone()],
            1_000,
        )
        .unwrap();
    // Sent late from an offline device: received last, played first.
    store
        .insert_play_events(u, &[event(3, PlayEventKind::Finish, 3_000)], 1_001)
        .unwrap();
    let finished = event(6, PlayEventKind::Finish, 6_000);
    store
        .insert_play_events(v, std::slice::from_ref(&finished), 1_000)
        .unwrap();
    store
        .insert_play_events(w, &[event(1, PlayEventKind::Start, 9_000)], 10)
        .unwrap();
    let latest: Vec<_> = store
        .latest_plays(900)
        .unwrap()
        .into_iter()
        .map(|p| (p.user, p.event, p.received_at))
        .collect();
    assert_eq!(latest.len(), 2, "{latest:?}");
    assert!(latest.contains(&(u, started, 1_000)), "{latest:?}");
    assert!(latest.contains(&(v, finished, 1_000)), "{latest:?}");
    assert!(store.latest_plays(2_000).unwrap().is_empty());
}

/// Four albums, one track each: (title, album artist, year, genre).
const ALBUMS: [(&str, &str, Option<i32>, &str); 4] = [
    ("Bravo", "Zed", Some(2005), "Rock"),
    ("Alpha", "Yan", Some(1990), "Jazz"),
    ("Charlie", "Xu", None, "Rock"),
    ("Delta", "Wu", Some(2010), "Rock"),
];

/// Ids by album title.
type ByTitle<T> = Vec<(String, T)>;

/// Scans [`ALBUMS`]; returns (title -> album id, title -> track id).
fn library(store: &dyn Store) -> (ByTitle<AlbumId>, ByTitle<TrackId>) {
    let records = ALBUMS
        .iter()
        .map(|(title, artist, year, genre)| {
            let mut r = fixtures::record(
                &format!("{artist}/{title}/01.flac"),
                &format!("{title} song"),
                artist,
                title,
                *year,
            );
            r.genres = vec![genre.to_string()];
            r
        })
        .collect();
    fixtures::scan(store, records);
    let paths: Vec<String> = ALBUMS
        .iter()
        .map(|(t, a, _, _)| format!("{a}/{t}/01.flac"))
        .collect();
    let ids = store.track_ids_by_paths(&paths).unwrap();
    let mut albums = Vec::new();
    let mut tracks = Vec::new();
    for ((title, ..), path) in ALBUMS.iter().zip(&paths) {
        let track = ids[path];
        let album = store.track(track).unwrap().unwrap().album.unwrap().id;
        albums.push((title.to_string(), album));
        tracks.push((title.to_string(), track));
    }
    (albums, tracks)
}

fn id_of<T: Copy>(ids: &[(String, T)], title: &str) -> T {
    ids.iter().find(|(t, _)| t == title).expect(title).1
}

/// Album plays sum over the album's tracks; annotations carry when items were added.
fn annotations_sum_album_plays_and_carry_added_times(store: &dyn Store) {
    let u = fixtures::user(store, "ann");
    let (albums, tracks) = library(store);
    let (alpha, delta) = (id_of(&albums, "Alpha"), id_of(&albums, "Delta"));
    let alpha_track = id_of(&tracks, "Alpha");
    store
        .insert_play_events(
            u,
            &[
                event(alpha_track.0, PlayEventKind::Finish, 100),
                event(alpha_track.0, PlayEventKind::Finish, 200),
                event(id_of(&tracks, "Delta").0, PlayEventKind::Start, 400),
            ],
            1,
        )
        .unwrap();
    let items = [
        ItemRef::Album(alpha),
        ItemRef::Album(delta),
        ItemRef::Track(alpha_track),
        ItemRef::Artist(ArtistId(1)),
    ];
    let a = store.annotations(u, &items).unwrap();
    assert_eq!(
        (a[&items[0]].play_count, a[&items[0]].last_played_ms),
        (2, Some(200))
    );
    assert_eq!(
        (a[&items[1]].play_count, a[&items[1]].last_played_ms),
        (0, Some(400))
    );
    assert_eq!(a[&items[2]].play_count, 2);
    assert!(a[&items[0]].added_at.is_some() && a[&items[2]].added_at.is_some());
    assert_eq!(a[&items[3]].added_at, None, "artists have no added time");
}

/// Every album list: catalog orders, years both ways (albums without a year left out), genres
/// in any case, the user's own plays, ratings and stars, and offset paging.
fn album_lists_order_filter_and_page(store: &dyn Store) {
    let u = fixtures::user(store, "lists");
    let v = fixtures::user(store, "bystander");
    let (albums, tracks) = library(store);
    let titles = |user: UserId, list: AlbumList, offset: u32, size: u32| -> Vec<String> {
        store
            .album_list(user, &list, offset, size)
            .unwrap()
            .into_iter()
            .map(|a| a.title)
            .collect()
    };
    let all = |list: AlbumList| titles(u, list, 0, 100);

    assert_eq!(
        all(AlbumList::ByName),
        ["Alpha", "Bravo", "Charlie", "Delta"]
    );
    assert_eq!(
        all(AlbumList::ByArtist),
        ["Delta", "Charlie", "Alpha", "Bravo"]
    );
    assert_eq!(titles(u, AlbumList::ByName, 1, 2), ["Bravo", "Charlie"]);
    assert_eq!(titles(u, AlbumList::ByName, 4, 2), Vec::<String>::new());
    let year = |from, to| all(AlbumList::ByYear { from, to });
    assert_eq!(year(1990, 2010), ["Alpha", "Bravo", "Delta"]);
    assert_eq!(year(2010, 1990), ["Delta", "Bravo", "Alpha"], "descending");
    assert_eq!(year(2000, 2020), ["Bravo", "Delta"]);
    assert_eq!(year(2005, 2005), ["Bravo"]);
    assert_eq!(
        all(AlbumList::ByGenre("Rock".into())),
        ["Bravo", "Charlie", "Delta"]
    );
    assert_eq!(all(AlbumList::ByGenre("jazz".into())), ["Alpha"]);
    assert!(all(AlbumList::ByGenre("Polka".into())).is_empty());

    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let every = ["Alpha", "Bravo", "Charlie", "Delta"];
    assert_eq!(sorted(all(AlbumList::Random)), every);
    assert_eq!(titles(u, AlbumList::Random, 0, 2).len(), 2);
    let newest = all(AlbumList::Newest);
    assert_eq!(sorted(newest.clone()), every);
    let mut paged = titles(u, AlbumList::Newest, 0, 3);
    paged.extend(titles(u, AlbumList::Newest, 3, 3));
    assert_eq!(paged, newest, "offset pages follow one order");

    let track = |t: &str| id_of(&tracks, t).0;
    store
        .insert_play_events(
            u,
            &[
                event(track("Alpha"), PlayEventKind::Finish, 100),
                event(track("Alpha"), PlayEventKind::Finish, 200),
                event(track("Bravo"), PlayEventKind::Finish, 300),
                event(track("Delta"), PlayEventKind::Start, 400),
            ],
            1,
        )
        .unwrap();
    store
        .insert_play_events(v, &[event(track("Charlie"), PlayEventKind::Finish, 999)], 1)
        .unwrap();
    let album = |t: &str| ItemRef::Album(id_of(&albums, t));
    store.set_rating(u, album("Bravo"), 5, 1).unwrap();
    store.set_rating(u, album("Alpha"), 3, 1).unwrap();
    store.set_rating(u, album("Charlie"), 5, 2).unwrap();
    store
        .set_rating(u, ItemRef::Track(TrackId(track("Delta"))), 5, 3)
        .unwrap();
    store.set_rating(v, album("Delta"), 5, 3).unwrap();
    store.set_starred(u, &[album("Delta")], true, 10).unwrap();
    store.set_starred(u, &[album("Alpha")], true, 20).unwrap();
    store.set_starred(v, &[album("Bravo")], true, 30).unwrap();

    assert_eq!(all(AlbumList::Recent), ["Delta", "Bravo", "Alpha"]);
    assert_eq!(titles(u, AlbumList::Recent, 1, 1), ["Bravo"]);
    assert_eq!(
        all(AlbumList::Frequent),
        ["Alpha", "Bravo"],
        "finished plays only"
    );
    assert_eq!(all(AlbumList::Highest), ["Charlie", "Bravo", "Alpha"]);
    assert_eq!(all(AlbumList::Starred), ["Alpha", "Delta"]);
    assert_eq!(titles(v, AlbumList::Recent, 0, 10), ["Charlie"]);
    assert_eq!(titles(v, AlbumList::Highest, 0, 10), ["Delta"]);
    assert_eq!(titles(v, AlbumList::Starred, 0, 10), ["Bravo"]);
    let w = fixtures::user(store, "new");
    let lists = [
        AlbumList::Recent,
        AlbumList::Frequent,
        AlbumList::Highest,
        AlbumList::Starred,
    ];
    let empty: HashSet<usize> = lists
        .into_iter()
        .map(|l| titles(w, l, 0, 10).len())
        .collect();
    assert_eq!(empty, [0].into_iter().collect(), "nothing of others'");
}

stories!(
    play_events_are_stored_once_and_history_pages_newest_first,
    new_events_and_playlist_additions_reach_the_recs_queue,
    stars_are_per_user_and_listed_newest_first,
    ratings_and_annotations_without_the_catalog,
    the_play_queue_is_saved_replaced_and_cleared,
    bookmarks_are_one_per_track_moved_in_place_and_deleted,
    each_users_latest_play_since_a_time,
    annotations_sum_album_plays_and_carry_added_times,
    album_lists_order_filter_and_page,
);
