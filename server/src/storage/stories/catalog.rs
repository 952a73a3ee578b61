//! Catalog reads: keyset pages in every sort and direction (NULL years across page boundaries,
//! bytewise text order), details, lookups by id, hash and path, genres, art, the Subsonic
//! offset-paged lists, and the catalog generation.

use super::fixtures::{record, scan};
use crate::catalog::fold;
use crate::storage::*;
use mixtape_shared::api::{Page, Track};
use mixtape_shared::{AlbumId, ArtistId, TrackId};
use std::collections::HashSet;

/// Every page of a list, following the cursors.
pub(super) fn all_pages<T, S: Copy>(
    sort: S,
    order: SortOrder,
    limit: u32,
    list: impl Fn(&PageRequest<S>) -> StorageResult<Page<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    let mut after = None;
    for _ in 0..1000 {
        let page = list(&PageRequest {
            sort,
            order,
            limit,
            after: after.take(),
        })
        .expect("page");
        assert!(page.items.len() <= limit as usize, "a page over its limit");
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => after = Some(Cursor::decode(&c).expect("our own cursor")),
            None => return out,
        }
    }
    panic!("the cursors never end");
}

/// A small library: punctuation and case that bytewise order sorts differently from a
/// locale's, several NULL years, two albums of one artist, a featured artist.
fn library(store: &dyn Store) -> Vec<Track> {
    let mut records = vec![
        record("x/ab.flac", "ab", "Zed", "Zeta", Some(2001)),
        record("x/a-c.flac", "a-c", "zed", "Zeta", None),
        record("x/a b.flac", "a b", "Émile", "Alpha", None),
        record("x/aa.flac", "aa", "Émile", "Alpha", Some(1999)),
        record("x/Zz.flac", "Zz", "Mono", "Beta", None),
        record("x/b.flac", "B", "Mono", "Beta", Some(1999)),
        record("x/c.flac", "C", "apple", "Gamma", None),
        record("x/d.flac", "D", "apple", "Delta", Some(2010)),
    ];
    records[1].artists = vec!["zed".into(), "Guest".into()];
    records[1].album_artist = Some("Zed".into());
    records[2].track_number = Some(2);
    scan(store, records);
    store.track_list(&TrackQuery::All, 0, 100).expect("all")
}

fn sorted_by<T: Clone, K: Ord>(
    items: &[T],
    order: SortOrder,
    key: impl Fn(&T) -> (K, i64),
) -> Vec<T> {
    let mut v = items.to_vec();
    v.sort_by_key(|t| key(t));
    if order == SortOrder::Desc {
        v.reverse();
    }
    v
}

/// Tracks with no album sort first by album (as album 0) and stay in the pages after a page
/// boundary: a keyset comparison on a NULL key would drop them from every later page.
fn album_sort_keeps_tracks_without_an_album(store: &dyn Store) {
    let mut records = vec![
        record("y/1.flac", "one", "Ann", "First", None),
        record("y/2.flac", "two", "Ann", "First", None),
        record("y/3.flac", "loose three", "Ann", "-", None),
        record("y/4.flac", "three", "Ann", "Second", None),
        record("y/5.flac", "loose five", "Ann", "-", None),
    ];
    for loose in [2, 4] {
        records[loose].album = None;
        records[loose].album_artist = None;
    }
    scan(store, records);
    let tracks = store.track_list(&TrackQuery::All, 0, 100).expect("all");
    assert_eq!(tracks.iter().filter(|t| t.album.is_none()).count(), 2);
    for order in [SortOrder::Asc, SortOrder::Desc] {
        let expected: Vec<i64> = sorted_by(&tracks, order, |t| {
            (t.album.as_ref().map_or(0, |a| a.id.0), t.id.0)
        })
        .iter()
        .map(|t| t.id.0)
        .collect();
        for limit in [1, 2, 3] {
            let got: Vec<i64> = all_pages(TrackSort::Album, order, limit, |p| store.list_tracks(p))
                .iter()
                .map(|t| t.id.0)
                .collect();
            assert_eq!(got, expected, "tracks by album {order:?}, pages of {limit}");
        }
    }
}

fn list_pages_follow_every_sort_and_order(store: &dyn Store) {
    let tracks = library(store);
    assert_eq!(tracks.len(), 8);
    for order in [SortOrder::Asc, SortOrder::Desc] {
        for sort in [
            TrackSort::Title,
            TrackSort::Artist,
            TrackSort::Album,
            TrackSort::Year,
            TrackSort::Added,
        ] {
            let expected: Vec<i64> = match sort {
                TrackSort::Title => sorted_by(&tracks, order, |t| (fold(&t.title), t.id.0)),
                TrackSort::Artist => {
                    sorted_by(&tracks, order, |t| (fold(&t.artists[0].name), t.id.0))
                }
                TrackSort::Album => sorted_by(&tracks, order, |t| {
                    (t.album.as_ref().map(|a| a.id.0).unwrap_or(0), t.id.0)
                }),
                TrackSort::Year => sorted_by(&tracks, order, |t| (t.year.unwrap_or(0), t.id.0)),
                TrackSort::Added => sorted_by(&tracks, order, |t| (0, t.id.0)),
            }
            .iter()
            .map(|t| t.id.0)
            .collect();
            for limit in [1, 2, 3, 100] {
                let got: Vec<i64> = all_pages(sort, order, limit, |p| store.list_tracks(p))
                    .iter()
                    .map(|t| t.id.0)
                    .collect();
                assert_eq!(
                    got, expected,
                    "tracks by {sort:?} {order:?}, pages of {limit}"
                );
            }
        }
        // Bytewise: "a b" < "a-c" < "aa" < "ab" < "b" (a locale would ignore the punctuation).
        let titles: Vec<String> = all_pages(TrackSort::Title, SortOrder::Asc, 3, |p| {
            store.list_tracks(p)
        })
        .into_iter()
        .map(|t| t.title)
        .collect();
        assert_eq!(titles, ["a b", "a-c", "aa", "ab", "B", "C", "D", "Zz"]);

        let albums = all_pages(AlbumSort::Added, SortOrder::Asc, 100, |p| {
            store.list_albums(p)
        });
        assert_eq!(albums.len(), 5);
        for sort in [
            AlbumSort::Title,
            AlbumSort::Artist,
            AlbumSort::Year,
            AlbumSort::Added,
        ] {
            let expected: Vec<i64> = match sort {
                AlbumSort::Title => sorted_by(&albums, order, |a| (fold(&a.title), a.id.0)),
                AlbumSort::Artist => {
                    sorted_by(&albums, order, |a| (fold(&a.album_artist.name), a.id.0))
                }
                AlbumSort::Year => sorted_by(&albums, order, |a| (a.year.unwrap_or(0), a.id.0)),
                AlbumSort::Added => sorted_by(&albums, order, |a| (0, a.id.0)),
            }
            .iter()
            .map(|a| a.id.0)
            .collect();
            for limit in [1, 2, 100] {
                let got: Vec<i64> = all_pages(sort, order, limit, |p| store.list_albums(p))
                    .iter()
                    .map(|a| a.id.0)
                    .collect();
                assert_eq!(
                    got, expected,
                    "albums by {sort:?} {order:?}, pages of {limit}"
                );
            }
        }

        let artists = all_pages(ArtistSort::Added, SortOrder::Asc, 100, |p| {
            store.list_artists(p)
        });
        assert_eq!(artists.len(), 5, "Zed and zed are one artist, Guest is one");
        for sort in [ArtistSort::Name, ArtistSort::Added] {
            let expected: Vec<i64> = match sort {
                ArtistSort::Name => sorted_by(&artists, order, |a| (fold(&a.name), a.id.0)),
                ArtistSort::Added => sorted_by(&artists, order, |a| (0, a.id.0)),
            }
            .iter()
            .map(|a| a.id.0)
            .collect();
            for limit in [1, 2, 100] {
                let got: Vec<i64> = all_pages(sort, order, limit, |p| store.list_artists(p))
                    .iter()
                    .map(|a| a.id.0)
                    .collect();
                assert_eq!(
                    got, expected,
                    "artists by {sort:?} {order:?}, pages of {limit}"
                );
            }
        }
    }
    // The first spelling of an artist is the one shown.
    let names: HashSet<String> = store
        .artist_page(0, 100)
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert!(names.contains("Zed") && !names.contains("zed"), "{names:?}");
}

fn details_list_tracks_and_albums_in_order(store: &dyn Store) {
    let mut records = vec![
        record("a/2-1.flac", "Second disc", "Band", "Album", Some(2000)),
        record("a/1-2.flac", "Two", "Band", "Album", Some(2002)),
        record("a/1-1.flac", "One", "Band", "Album", Some(2001)),
        record("b/1.flac", "Early", "Band", "Older", Some(1990)),
        record("c/1.flac", "Undated", "Band", "Undated", None),
        record("d/1.flac", "Feat", "Other", "Theirs", Some(2005)),
    ];
    records[0].disc_number = Some(2);
    records[1].track_number = Some(2);
    records[1].disc_number = Some(1);
    records[5].artists = vec!["Other".into(), "Band".into()];
    records[5].album_artist = Some("Other".into());
    scan(store, records);
    let band = store.artist_by_name("band").unwrap().expect("band");
    let detail = store.artist(band.id).unwrap().expect("artist detail");
    let albums: Vec<&str> = detail.albums.iter().map(|a| a.title.as_str()).collect();
    assert_eq!(
        albums,
        ["Undated", "Older", "Album"],
        "by year, no year first"
    );
    let feat: Vec<&str> = detail.appears_on.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(feat, ["Feat"]);
    assert_eq!(detail.artist.album_count, 3);
    assert_eq!(detail.artist.track_count, 6);

    let album = detail.albums.iter().find(|a| a.title == "Album").unwrap();
    assert_eq!(
        album.year,
        Some(2002),
        "an album's year is its latest track's"
    );
    assert_eq!(album.track_count, 3);
    assert_eq!(album.duration_ms, 3 * 180_000);
    assert_eq!(album.genres, ["Rock"]);
    let tracks: Vec<String> = store
        .album(album.id)
        .unwrap()
        .expect("album detail")
        .tracks
        .into_iter()
        .map(|t| t.title)
        .collect();
    assert_eq!(tracks, ["One", "Two", "Second disc"]);

    assert!(store.album(AlbumId(999_999)).unwrap().is_none());
    assert!(store.artist(ArtistId(999_999)).unwrap().is_none());
    assert!(store.track(TrackId(999_999)).unwrap().is_none());
    assert_eq!(store.track_count().unwrap(), 6);
}

fn tracks_by_ids_keep_the_order_asked(store: &dyn Store) {
    let tracks = library(store);
    let (a, b, c) = (tracks[0].id, tracks[3].id, tracks[6].id);
    let got: Vec<TrackId> = store
        .tracks_by_ids(&[c, TrackId(999_999), a, b, a])
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(
        got,
        [c, a, b, a],
        "asked order, repeats kept, missing left out"
    );
    assert_eq!(
        store.existing_track_ids(&[b, TrackId(999_999), a]).unwrap(),
        [b, a]
    );
    assert!(store.tracks_by_ids(&[]).unwrap().is_empty());
    assert!(store.existing_track_ids(&[]).unwrap().is_empty());
    let one = store.track(b).unwrap().expect("track");
    assert_eq!(one, tracks[3]);
}

fn track_files_are_found_by_id_and_hash(store: &dyn Store) {
    let mut r = record("f/song.flac", "Song", "Band", "Album", Some(2000));
    r.size = 4242;
    r.content_hash = "hash-song".into();
    scan(store, vec![r]);
    let id = store.indexed_files().unwrap()["f/song.flac"].track_id;
    let file = store.track_file(id).unwrap().expect("file");
    assert_eq!(file.path, "f/song.flac");
    assert_eq!(file.size, 4242);
    assert_eq!(file.content_type, "audio/flac");
    assert!(file.available);
    let by_hash = store
        .track_file_by_hash("hash-song")
        .unwrap()
        .expect("by hash");
    assert_eq!(by_hash.path, "f/song.flac");
    assert!(store.track_file_by_hash("nope").unwrap().is_none());
    assert!(store.track_file(TrackId(999_999)).unwrap().is_none());
    let track = store.track(id).unwrap().unwrap();
    assert_eq!(track.size_bytes, 4242);
    assert_eq!(track.content_hash, "hash-song");
    assert_eq!(track.format, "flac");
}

fn m3u_paths_match_exactly_or_by_longest_suffix(store: &dyn Store) {
    scan(
        store,
        vec![
            record("Band/Album/01 Song.flac", "Song", "Band", "Album", None),
            record("Other/Album/01 Song.flac", "Song", "Other", "Album", None),
            record("Band/Live/02 Other.flac", "Other", "Band", "Live", None),
        ],
    );
    let files = store.indexed_files().unwrap();
    let id = |p: &str| files[p].track_id;
    let asked: Vec<String> = [
        "Band/Live/02 Other.flac",
        "/home/me/Music/Other/Album/01 Song.flac",
        "D:/x/Band/Album/01 Song.flac",
        "Nowhere/missing.flac",
        "Band/Live/02 Other.flac",
    ]
    .map(String::from)
    .to_vec();
    let got = store.track_ids_by_paths(&asked).unwrap();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[&asked[0]], id("Band/Live/02 Other.flac"));
    assert_eq!(got[&asked[1]], id("Other/Album/01 Song.flac"));
    assert_eq!(got[&asked[2]], id("Band/Album/01 Song.flac"));
    assert!(store.track_ids_by_paths(&[]).unwrap().is_empty());
}

fn genres_merge_case_and_count(store: &dyn Store) {
    let mut records = vec![
        record("g/1.flac", "One", "A", "First", None),
        record("g/2.flac", "Two", "A", "First", None),
        record("g/3.flac", "Three", "B", "Second", None),
        record("g/4.flac", "Four", "B", "Second", None),
    ];
    records[1].genres = vec!["rock".into(), "Jazz".into(), "Jazz".into()];
    records[2].genres = vec!["ambient".into()];
    records[3].genres = vec![];
    scan(store, records);
    let genres: Vec<(String, u32, u32)> = store
        .genres()
        .unwrap()
        .into_iter()
        .map(|g| (g.name, g.track_count, g.album_count))
        .collect();
    assert_eq!(
        genres,
        [
            ("ambient".to_string(), 1, 1),
            ("Jazz".to_string(), 1, 1),
            ("Rock".to_string(), 2, 1)
        ]
    );
    let two = store.tracks_by_ids(&[store.indexed_files().unwrap()["g/2.flac"].track_id]);
    assert_eq!(
        two.unwrap()[0].genres,
        ["rock", "Jazz"],
        "as tagged, no repeats"
    );
    let album = all_pages(AlbumSort::Title, SortOrder::Asc, 10, |p| {
        store.list_albums(p)
    });
    assert_eq!(
        album[0].genres,
        ["Jazz", "Rock"],
        "an album's genres, sorted"
    );
    assert!(album[1].genres.is_empty() || album[1].genres == ["ambient"]);
}

fn art_lists_every_source_most_recent_first(store: &dyn Store) {
    let art = |source| ArtRecord {
        hash: "art-1".into(),
        mime: "image/jpeg".into(),
        source,
    };
    let mut first = record("A/1.flac", "One", "Band", "Album", None);
    first.cover_art = Some(art(ArtSource::File("A/cover.jpg".into())));
    scan(store, vec![first]);
    // Sources are ordered by the second they were seen in.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let mut second = record("B/2.flac", "Two", "Band", "Other", None);
    second.cover_art = Some(art(ArtSource::Embedded("B/2.flac".into())));
    scan(store, vec![second]);
    let stored = store.art("art-1").unwrap().expect("art");
    assert_eq!(stored.mime, "image/jpeg");
    assert_eq!(
        stored.sources,
        [
            ArtSource::Embedded("B/2.flac".into()),
            ArtSource::File("A/cover.jpg".into())
        ]
    );
    assert!(store.art("nope").unwrap().is_none());
    let album = store
        .track(store.indexed_files().unwrap()["A/1.flac"].track_id)
        .unwrap()
        .unwrap();
    assert_eq!(album.cover_art.as_deref(), Some("art-1"));

    // Removing the embedding track drops that source at the next prune; the folder one stays.
    store
        .apply_scan_batch(vec![ScanWrite::Remove {
            path: "B/2.flac".into(),
        }])
        .unwrap();
    store.prune_orphans().unwrap();
    assert_eq!(
        store.art("art-1").unwrap().unwrap().sources,
        [ArtSource::File("A/cover.jpg".into())]
    );
    store
        .apply_scan_batch(vec![ScanWrite::Remove {
            path: "A/1.flac".into(),
        }])
        .unwrap();
    store.prune_orphans().unwrap();
    assert!(
        store.art("art-1").unwrap().is_none(),
        "unused art is pruned"
    );
}

fn track_lists_answer_every_query(store: &dyn Store) {
    let mut records = vec![
        record("t/a1.flac", "A1", "Alpha", "Later", Some(2010)),
        record("t/a2.flac", "A2", "Alpha", "Later", Some(2010)),
        record("t/a3.flac", "A3", "Alpha", "Earlier", Some(1990)),
        record("t/b1.flac", "B1", "Beta", "Beta Album", None),
        record("t/f1.flac", "F1", "Gamma", "Gamma Album", Some(2000)),
    ];
    records[0].track_number = Some(2);
    records[1].track_number = Some(1);
    records[3].genres = vec!["Jazz".into()];
    records[4].artists = vec!["Gamma".into(), "Alpha".into()];
    records[4].genres = vec!["Jazz".into(), "Rock".into()];
    scan(store, records);
    let files = store.indexed_files().unwrap();
    let id = |p: &str| files[&format!("t/{p}.flac")].track_id;
    let ids = |tracks: Vec<Track>| tracks.into_iter().map(|t| t.id).collect::<Vec<_>>();
    let set = |tracks: Vec<Track>| tracks.into_iter().map(|t| t.id).collect::<HashSet<_>>();

    let all = ids(store.track_list(&TrackQuery::All, 0, 100).unwrap());
    let mut by_id = all.clone();
    by_id.sort();
    assert_eq!(all, by_id, "All is by id");
    assert_eq!(
        ids(store.track_list(&TrackQuery::All, 1, 2).unwrap()),
        all[1..3]
    );
    assert!(
        store
            .track_list(&TrackQuery::All, 10, 2)
            .unwrap()
            .is_empty()
    );

    let rock = ids(store
        .track_list(&TrackQuery::Genre("ROCK".into()), 0, 100)
        .unwrap());
    let mut expected: Vec<(Option<i64>, u32, TrackId)> = ["a1", "a2", "a3", "f1"]
        .iter()
        .map(|p| {
            let t = store.track(id(p)).unwrap().unwrap();
            (t.album.map(|a| a.id.0), t.track_number.unwrap(), t.id)
        })
        .collect();
    expected.sort();
    assert_eq!(rock, expected.into_iter().map(|e| e.2).collect::<Vec<_>>());

    let random = TrackQuery::Random {
        genre: Some("jazz".into()),
        from_year: None,
        to_year: None,
    };
    assert_eq!(
        set(store.track_list(&random, 0, 100).unwrap()),
        HashSet::from([id("b1"), id("f1")])
    );
    let years = TrackQuery::Random {
        genre: None,
        from_year: Some(1995),
        to_year: Some(2005),
    };
    assert_eq!(
        set(store.track_list(&years, 0, 100).unwrap()),
        HashSet::from([id("f1")]),
        "a year range leaves out tracks without a year"
    );
    assert_eq!(store.track_list(&random, 0, 1).unwrap().len(), 1);

    let alpha = store.artist_by_name("ALPHA").unwrap().expect("alpha");
    let shuffled = TrackQuery::ByArtistShuffled {
        artist: alpha.id,
        except: vec![id("a2")],
    };
    assert_eq!(
        set(store.track_list(&shuffled, 0, 100).unwrap()),
        HashSet::from([id("a1"), id("a3"), id("f1")]),
        "as track artist or album artist, except some"
    );
    let genres = TrackQuery::ByGenresShuffled {
        genres: vec!["jazz".into(), "Nope".into()],
        except: vec![id("f1")],
    };
    assert_eq!(
        set(store.track_list(&genres, 0, 100).unwrap()),
        HashSet::from([id("b1")])
    );
    let none = TrackQuery::ByGenresShuffled {
        genres: vec![],
        except: vec![],
    };
    assert!(store.track_list(&none, 0, 100).unwrap().is_empty());

    // Without plays: album year, album title, disc, track number.
    let top = ids(store
        .track_list(&TrackQuery::TopByArtist(alpha.id), 0, 100)
        .unwrap());
    assert_eq!(top, [id("a3"), id("f1"), id("a2"), id("a1")]);
    assert_eq!(
        ids(store
            .track_list(&TrackQuery::TopByArtist(alpha.id), 1, 2)
            .unwrap()),
        [id("f1"), id("a2")]
    );
}

fn artists_page_by_name_and_are_found_folded(store: &dyn Store) {
    scan(
        store,
        vec![
            record("n/1.flac", "One", "Björk", "Post", None),
            record("n/2.flac", "Two", "ABBA", "Gold", None),
            record("n/3.flac", "Three", "  Zappa  ", "Hot Rats", None),
        ],
    );
    let names =
        |v: Vec<mixtape_shared::api::Artist>| v.into_iter().map(|a| a.name).collect::<Vec<_>>();
    assert_eq!(
        names(store.artist_page(0, 10).unwrap()),
        ["ABBA", "Björk", "Zappa"]
    );
    assert_eq!(names(store.artist_page(1, 1).unwrap()), ["Björk"]);
    assert!(store.artist_page(5, 10).unwrap().is_empty());
    let bjork = store.artist_by_name("BJORK").unwrap().expect("folded");
    assert_eq!(bjork.name, "Björk");
    assert_eq!(bjork.track_count, 1);
    assert_eq!(bjork.album_count, 1);
    assert_eq!(
        store.artist_by_name(" björk ").unwrap().map(|a| a.id),
        Some(bjork.id)
    );
    assert!(store.artist_by_name("Nobody").unwrap().is_none());
}

fn the_catalog_generation_grows_with_every_write(store: &dyn Store) {
    let g0 = store.catalog_generation();
    scan(store, vec![record("g/1.flac", "One", "A", "B", None)]);
    let g1 = store.catalog_generation();
    assert!(g1 > g0, "a scan batch grows it");
    store.prune_orphans().unwrap();
    let g2 = store.catalog_generation();
    assert!(g2 > g1, "pruning grows it");
    store.track_count().unwrap();
    assert_eq!(store.catalog_generation(), g2, "reads leave it");
    assert!(store.pool_stats().is_some());
}

stories!(
    list_pages_follow_every_sort_and_order,
    album_sort_keeps_tracks_without_an_album,
    details_list_tracks_and_albums_in_order,
    tracks_by_ids_keep_the_order_asked,
    track_files_are_found_by_id_and_hash,
    m3u_paths_match_exactly_or_by_longest_suffix,
    genres_merge_case_and_count,
    art_lists_every_source_most_recent_first,
    track_lists_answer_every_query,
    artists_page_by_name_and_are_found_folded,
    the_catalog_generation_grows_with_every_write,
);
