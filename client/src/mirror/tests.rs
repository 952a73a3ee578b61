use super::*;
use mixtape_shared::api::{
    AlbumRef, ArtistRef, MusicBrainzIds, Playlist, PlaylistDetail, PlaylistEntry, ReplayGain,
};
use mixtape_shared::sync::{Anchor, NewEntry};
use mixtape_shared::{AlbumId, ArtistId};

fn track(id: i64, title: &str, artist: &str, album: &str) -> Track {
    Track {
        id: TrackId(id),
        title: title.into(),
        artists: vec![ArtistRef {
            id: ArtistId(id * 10),
            name: artist.into(),
        }],
        album: Some(AlbumRef {
            id: AlbumId(1),
            title: album.into(),
        }),
        album_artist: None,
        track_number: Some(id as u32),
        track_total: None,
        disc_number: None,
        year: None,
        genres: vec![],
        duration_ms: 30_000,
        bitrate_kbps: None,
        sample_rate: None,
        channels: None,
        format: "flac".into(),
        content_type: "audio/flac".into(),
        size_bytes: 1000 + id as u64,
        content_hash: format!("{id:064x}"),
        replay_gain: ReplayGain::default(),
        musicbrainz: MusicBrainzIds::default(),
        cover_art: None,
        available: true,
        media_url: None,
    }
}

fn page(changes: Vec<Change>, next_since: i64) -> ChangesPage {
    ChangesPage {
        changes,
        next_since: next_since.to_string(),
        has_more: false,
        revision: next_since,
    }
}

fn mirror() -> (tempfile::TempDir, Mirror) {
    let tmp = tempfile::tempdir().unwrap();
    let m = Mirror::open(&tmp.path().join("mirror.sqlite")).unwrap();
    (tmp, m)
}

fn with_tracks(m: &mut Mirror) {
    let changes = vec![
        Change::Track {
            rev: 1,
            track: Box::new(track(1, "Nocturne in Blue", "Léa Fontaine", "Night Songs")),
        },
        Change::Track {
            rev: 2,
            track: Box::new(track(2, "Morning Run", "The Pacers", "Daybreak")),
        },
        Change::Track {
            rev: 3,
            track: Box::new(track(3, "Blue Hour", "Léa Fontaine", "Night Songs")),
        },
    ];
    m.apply_changes(&page(changes, 3)).unwrap();
}

#[test]
fn search_finds_words_anywhere_ignoring_case_and_accents() {
    let (_tmp, mut m) = mirror();
    with_tracks(&mut m);
    let titles = |q: &str| -> Vec<String> {
        m.search(q, 10)
            .unwrap()
            .into_iter()
            .map(|t| t.title)
            .collect()
    };
    assert_eq!(titles("blue").len(), 2);
    assert_eq!(titles("lea noct"), vec!["Nocturne in Blue"]);
    assert_eq!(titles("DAYBR"), vec!["Morning Run"]);
    assert!(titles("zzz").is_empty());
    // Whole-word matches rank above substrings of longer words.
    assert_eq!(titles("blue")[0], "Blue Hour");
    // One- and two-letter words still filter.
    assert_eq!(titles("mo ru"), vec!["Morning Run"]);
}

#[test]
fn search_rows_are_the_searched_tracks_as_a_list_shows_them() {
    let (_tmp, mut m) = mirror();
    with_tracks(&mut m);
    let mut two_artists = track(4, "Blue Train", "Lee Morgan", "");
    two_artists.artists.push(ArtistRef {
        id: ArtistId(99),
        name: "Curtis Fuller".into(),
    });
    two_artists.album = None;
    two_artists.cover_art = Some("ab".repeat(32));
    m.apply_changes(&page(
        vec![Change::Track {
            rev: 4,
            track: Box::new(two_artists),
        }],
        4,
    ))
    .unwrap();
    for q in ["blue", "lea", "b", "blu tran", "bleu", "nothing here"] {
        let tracks = m.search(q, 10).unwrap();
        let rows = m.search_rows(q, 10).unwrap();
        let expected: Vec<TrackSummary> = tracks.iter().map(TrackSummary::from).collect();
        assert_eq!(rows, expected, "{q:?}");
    }
    let train = m.search_rows("train", 10).unwrap();
    assert_eq!(train[0].artists, "Lee Morgan, Curtis Fuller");
    assert_eq!(train[0].album, "");
}

#[test]
fn the_search_index_is_built_ahead_and_again_after_a_pull() {
    let (_tmp, mut m) = mirror();
    with_tracks(&mut m);
    let ready = |m: &Mirror| {
        let until = std::time::Instant::now() + Duration::from_secs(20);
        while !m.search_ready().unwrap() {
            assert!(std::time::Instant::now() < until, "never built");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    assert!(!m.search_ready().unwrap());
    m.prepare_search().unwrap();
    ready(&m);
    assert_eq!(m.search_rows("morning", 10).unwrap()[0].id, TrackId(2));
    m.apply_changes(&page(
        vec![Change::Track {
            rev: 4,
            track: Box::new(track(4, "Evening Walk", "The Pacers", "Daybreak")),
        }],
        4,
    ))
    .unwrap();
    assert!(!m.search_ready().unwrap(), "a pull changed tracks");
    m.prepare_search().unwrap();
    // A search while it builds waits for it rather than building its own.
    assert_eq!(m.search_rows("evening", 10).unwrap()[0].id, TrackId(4));
    assert!(m.search_ready().unwrap());
    m.prepare_search().unwrap();
    assert_eq!(m.search("pacers", 10).unwrap().len(), 2);
}

#[test]
fn changes_apply_atomically_and_the_position_survives_reopening() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("mirror.sqlite");
    let device;
    {
        let mut m = Mirror::open(&path).unwrap();
        device = m.device_id();
        with_tracks(&mut m);
        m.apply_changes(&page(
            vec![Change::TrackDeleted {
                rev: 4,
                id: TrackId(2),
            }],
            4,
        ))
        .unwrap();
    }
    let m = Mirror::open(&path).unwrap();
    assert_eq!(m.device_id(), device, "a device keeps its id");
    assert_eq!(m.since().unwrap(), "4");
    assert_eq!(m.revision().unwrap(), 4);
    assert_eq!(m.track_count().unwrap(), 2);
    assert!(m.search("morning", 10).unwrap().is_empty());
}

fn server_playlist(id: PlaylistId, entries: &[(EntryId, i64)], clock: u64) -> Change {
    Change::Playlist {
        rev: 10,
        playlist: Box::new(PlaylistDetail {
            playlist: Playlist {
                id,
                owner: "ann".into(),
                name: "Road".into(),
                public: false,
                entry_count: entries.len() as u32,
                duration_ms: 0,
                revision: 10,
                clock,
                updated_at: 0,
            },
            entries: entries
                .iter()
                .map(|(e, t)| PlaylistEntry {
                    id: *e,
                    track_id: TrackId(*t),
                    order_key: String::new(),
                    available: true,
                })
                .collect(),
        }),
    }
}

#[test]
fn pending_edits_show_on_top_of_the_pulled_playlist_until_pushed() {
    let (_tmp, mut m) = mirror();
    with_tracks(&mut m);
    let id = PlaylistId::new_v7();
    let (a, b) = (EntryId::new_v7(), EntryId::new_v7());
    m.apply_changes(&page(vec![server_playlist(id, &[(a, 1), (b, 2)], 7)], 10))
        .unwrap();

    let c = EntryId::new_v7();
    let op = m
        .enqueue_op(
            id,
            OpKind::Add {
                entries: vec![NewEntry {
                    id: c,
                    track_id: TrackId(3),
                }],
                at: Anchor::Start,
            },
        )
        .unwrap();
    assert!(op.clock > 7, "a new op is stamped above every clock seen");
    m.enqueue_op(id, OpKind::Remove { entry: b }).unwrap();
    let view = m.find_playlist("road").unwrap();
    let order: Vec<EntryId> = view.entries.iter().map(|e| e.entry_id).collect();
    assert_eq!(order, vec![c, a]);
    assert_eq!(view.pending_ops, 2);
    assert_eq!(m.pending_op_count().unwrap(), 2);

    let pending = m.pending_ops(10).unwrap();
    assert_eq!(pending[0].id, op.id, "oldest first");
    m.remove_ops(&pending.iter().map(|o| o.id).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(m.find_playlist("Road").unwrap().entries.len(), 2);
}

#[test]
fn a_playlist_made_offline_is_visible_before_the_server_has_it() {
    let (_tmp, mut m) = mirror();
    let id = PlaylistId::new_v7();
    m.enqueue_op(
        id,
        OpKind::Create {
            name: "Train".into(),
            public: false,
        },
    )
    .unwrap();
    let p = m.find_playlist("train").unwrap();
    assert!(p.local_only);
    assert_eq!(p.id, id);
    m.enqueue_op(id, OpKind::Delete).unwrap();
    assert!(matches!(
        m.find_playlist("Train"),
        Err(MirrorError::NoSuchPlaylist(_))
    ));
}

#[test]
fn events_wait_in_order_until_removed() {
    let (_tmp, mut m) = mirror();
    let first = m.record_event(TrackId(1), PlayEventKind::Start, 0).unwrap();
    let second = m
        .record_event(TrackId(1), PlayEventKind::Finish, 30_000)
        .unwrap();
    assert_eq!(
        m.pending_events(10).unwrap(),
        vec![first.clone(), second.clone()]
    );
    m.remove_events(&[first.id]).unwrap();
    assert_eq!(m.pending_events(10).unwrap(), vec![second]);
    assert_eq!(m.pending_event_count().unwrap(), 1);
}

#[test]
fn a_deleted_playlist_loses_its_offline_mark() {
    let (_tmp, mut m) = mirror();
    let id = PlaylistId::new_v7();
    m.apply_changes(&page(vec![server_playlist(id, &[], 1)], 1))
        .unwrap();
    m.set_offline(id, true).unwrap();
    assert_eq!(m.offline_playlists().unwrap(), vec![id]);
    m.apply_changes(&page(vec![Change::PlaylistDeleted { rev: 2, id }], 2))
        .unwrap();
    assert!(m.offline_playlists().unwrap().is_empty());
}

fn by(id: i64, album: i64, artist: (i64, &str)) -> Change {
    let mut t = track(id, &format!("t{id}"), artist.1, &format!("album {album}"));
    t.album = Some(AlbumRef {
        id: AlbumId(album),
        title: format!("album {album}"),
    });
    t.album_artist = Some(ArtistRef {
        id: ArtistId(artist.0),
        name: artist.1.into(),
    });
    Change::Track {
        rev: id,
        track: Box::new(t),
    }
}

#[test]
fn the_artist_list_follows_the_tracks_pulled_and_deleted() {
    let (_tmp, mut m) = mirror();
    let (zoe, abba) = ((1, "zoë"), (2, "ABBA"));
    m.apply_changes(&page(
        vec![
            by(1, 10, zoe),
            by(2, 10, zoe),
            by(3, 11, zoe),
            by(4, 20, abba),
        ],
        4,
    ))
    .unwrap();
    let names = |m: &Mirror| -> Vec<(String, u32)> {
        m.album_artists()
            .unwrap()
            .into_iter()
            .map(|(_, name, albums)| (name, albums))
            .collect()
    };
    assert_eq!(names(&m), vec![("ABBA".into(), 1), ("zoë".into(), 2)]);
    m.apply_changes(&page(
        vec![Change::TrackDeleted {
            rev: 5,
            id: TrackId(4),
        }],
        5,
    ))
    .unwrap();
    assert_eq!(names(&m), vec![("zoë".into(), 2)]);
}

#[test]
fn an_older_mirror_is_migrated_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mirror.sqlite");
    let device = {
        let mut m = Mirror::open(&path).unwrap();
        m.apply_changes(&page(vec![by(1, 10, (7, "Nina"))], 1))
            .unwrap();
        // Back to version 1: no artist table, the narrow index, the FTS5 search table.
        m.conn
            .execute_batch(
                "CREATE VIRTUAL TABLE track_search USING fts5 (text, tokenize = 'trigram');
                 INSERT INTO track_search (rowid, text) VALUES (1, 'nina');
                 DROP TABLE album_artists;
                 DROP TABLE lyrics;
                 DELETE FROM meta WHERE key = 'artists_dirty';
                 DROP INDEX tracks_by_album_artist;
                 CREATE INDEX tracks_by_album_artist ON tracks (album_artist_id, album_id);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        m.device_id()
    };
    let m = Mirror::open(&path).unwrap();
    assert_eq!(m.device_id(), device);
    let version: i64 = m
        .conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 5);
    let search_table: i64 = m
        .conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'track_search'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(search_table, 0, "v5 dropped the FTS5 table");
    assert_eq!(
        m.album_artists().unwrap().len(),
        1,
        "rebuilt from the tracks"
    );
    m.set_lyrics(TrackId(1), None).unwrap();
    assert_eq!(m.lyrics(TrackId(1)).unwrap(), KnownLyrics::None);
    drop(m);
    // A mirror from a newer program is refused, not damaged.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 6).unwrap();
    drop(conn);
    assert!(matches!(Mirror::open(&path), Err(MirrorError::TooNew(6))));
}

#[test]
fn lyrics_are_kept_until_their_track_changes() {
    use mixtape_shared::api::LyricsSource;
    let dir = tempfile::tempdir().unwrap();
    let mut m = Mirror::open(&dir.path().join("mirror.sqlite")).unwrap();
    m.apply_changes(&page(
        vec![by(10, 1, (7, "Nina")), by(11, 1, (7, "Nina"))],
        2,
    ))
    .unwrap();
    assert_eq!(m.lyrics(TrackId(10)).unwrap(), KnownLyrics::Unknown);
    let lyrics =
        mixtape_shared::lyrics::parse("[00:01.00]uno\n[00:02.00]dos", LyricsSource::Lrc).unwrap();
    m.set_lyrics(TrackId(10), Some(&lyrics)).unwrap();
    m.set_lyrics(TrackId(11), None).unwrap();
    assert_eq!(m.lyrics(TrackId(10)).unwrap(), KnownLyrics::Some(lyrics));
    assert_eq!(m.lyrics(TrackId(11)).unwrap(), KnownLyrics::None);
    // A rescan changed track 10 (maybe its .lrc): asked again; track 11 removed: gone.
    m.apply_changes(&page(
        vec![
            by(10, 1, (7, "Nina")),
            Change::TrackDeleted {
                rev: 4,
                id: TrackId(11),
            },
        ],
        4,
    ))
    .unwrap();
    assert_eq!(m.lyrics(TrackId(10)).unwrap(), KnownLyrics::Unknown);
    assert_eq!(m.lyrics(TrackId(11)).unwrap(), KnownLyrics::Unknown);
}
