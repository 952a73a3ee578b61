//! User-keyed shards: placement, moves, nodes with stale homes, cursors carried across moves.
//! Two stores on the same databases stand for two nodes.

use super::scratch::ScratchDatabase;
use super::{LocalWriteMarks, PgOptions, PgStore};
use crate::storage::stories::fixtures::Device;
use crate::storage::{
    AccountStore, ActivityStore, BookmarkRecord, ItemRef, PlayQueueRecord, PlaylistStore,
    SealedSecret, StorageError, Store,
};
use mixtape_shared::api::{Change, PlayEvent, PlayEventKind};
use mixtape_shared::sync::OpKind;
use mixtape_shared::{EventId, PlaylistId, TrackId, UserId};
use std::collections::HashMap;
use std::sync::Arc;

/// A primary and two shard databases, dropped with the value.
struct Cluster {
    primary: ScratchDatabase,
    shards: Vec<ScratchDatabase>,
}

impl Cluster {
    fn new(label: &str) -> Self {
        Self {
            primary: ScratchDatabase::for_test(label),
            shards: vec![
                ScratchDatabase::for_test(&format!("{label}_a")),
                ScratchDatabase::for_test(&format!("{label}_b")),
            ],
        }
    }

    fn options(&self) -> PgOptions {
        let mut options = PgOptions::new(self.primary.url());
        options.shards = vec![
            ("a".into(), self.shards[0].url().to_string()),
            ("b".into(), self.shards[1].url().to_string()),
        ];
        options
    }

    /// One node.
    fn node(&self) -> Arc<PgStore> {
        Arc::new(
            PgStore::open(&self.options(), Arc::new(LocalWriteMarks::single_node()))
                .expect("open sharded postgres"),
        )
    }

    /// How many rows of `table` hold `user` on each database (primary, a, b).
    fn rows(&self, table: &str, column: &str, user: UserId) -> [i64; 3] {
        let count = |url: &str| -> i64 {
            let mut c = postgres::Client::connect(url, postgres::NoTls).expect("connect");
            c.query_one(
                &format!("SELECT count(*) FROM {table} WHERE {column} = $1"),
                &[&user.0],
            )
            .expect("count")
            .get(0)
        };
        [
            count(self.primary.url()),
            count(self.shards[0].url()),
            count(self.shards[1].url()),
        ]
    }
}

fn user(store: &dyn Store, name: &str) -> UserId {
    store
        .create_user(name, "$argon2id$not-a-real-hash", false)
        .expect("create user")
        .id
}

fn play(track: i64, at_ms: i64) -> PlayEvent {
    PlayEvent {
        id: EventId::new_v7(),
        track_id: TrackId(track),
        kind: PlayEventKind::Finish,
        position_ms: 0,
        at_ms,
        device: None,
    }
}

/// Pulls the feed from `since` to the end; every `(playlist, name)` delivered, in order.
fn pull(store: &dyn Store, user: UserId, since: &mut String) -> Vec<(PlaylistId, String)> {
    let mut seen = Vec::new();
    loop {
        let page = store.changes(user, since, 3).expect("changes");
        for change in &page.changes {
            if let Change::Playlist { playlist, .. } = change {
                seen.push((playlist.playlist.id, playlist.playlist.name.clone()));
            }
        }
        *since = page.next_since;
        if !page.has_more {
            return seen;
        }
    }
}

#[test]
fn new_users_go_to_the_least_loaded_shard_and_their_data_lives_there() {
    let cluster = Cluster::new("shards_placement");
    let node = cluster.node();
    let users: Vec<UserId> = (0..4).map(|i| user(&*node, &format!("u{i}"))).collect();
    assert_eq!(
        node.shard_loads().unwrap(),
        [("primary".into(), 0), ("a".into(), 2), ("b".into(), 2)]
    );
    let mut d = Device::new();
    let id = PlaylistId::new_v7();
    node.apply_playlist_ops(
        users[0],
        &[d.op(
            id,
            OpKind::Create {
                name: "mine".into(),
                public: false,
            },
        )],
        1,
    )
    .unwrap();
    node.insert_play_events(users[0], &[play(7, 1)], 1).unwrap();
    let on = |table, column| cluster.rows(table, column, users[0]);
    let home = |rows: [i64; 3]| rows.iter().position(|n| *n > 0);
    let h = home(on("playlists", "owner_id")).expect("the playlist is somewhere");
    assert_ne!(h, 0, "a user's playlists live on their shard");
    assert_eq!(on("playlists", "owner_id").iter().sum::<i64>(), 1);
    assert_eq!(home(on("play_events", "user_id")), Some(h));
    assert_eq!(home(on("changes", "user_id")), Some(h));
    // Credentials stay on the primary.
    assert_eq!(cluster.rows("users", "id", users[0])[0], 1);
    assert_eq!(node.playlist_owner(id).unwrap(), Some(users[0]));
}

#[test]
fn moving_a_user_loses_nothing_and_their_device_sees_each_change_once() {
    let cluster = Cluster::new("shards_move");
    let node = cluster.node();
    let u = user(&*node, "mover");
    let mut d = Device::new();
    let ids: Vec<PlaylistId> = (0..4).map(|_| PlaylistId::new_v7()).collect();
    for (i, id) in ids.iter().enumerate() {
        let create = d.op(
            *id,
            OpKind::Create {
                name: format!("p{i}.0"),
                public: i == 0,
            },
        );
        node.apply_playlist_ops(u, &[create], 1).unwrap();
    }
    node.insert_play_events(u, &[play(1, 10), play(2, 20)], 1)
        .unwrap();
    node.set_starred(u, &[ItemRef::Track(TrackId(1))], true, 5)
        .unwrap();
    node.set_rating(u, ItemRef::Track(TrackId(2)), 4, 6)
        .unwrap();
    node.save_play_queue(
        u,
        &PlayQueueRecord {
            track_ids: vec![TrackId(1), TrackId(2)],
            current: Some(TrackId(2)),
            position_ms: 99,
            changed_at: 7,
            changed_by: "test".into(),
        },
    )
    .unwrap();
    let secret = SealedSecret {
        nonce: vec![1, 2, 3],
        ciphertext: vec![4, 5, 6],
    };
    node.set_subsonic_app_password(u, Some(&secret), 8).unwrap();
    let bookmark = BookmarkRecord {
        track: TrackId(2),
        position_ms: 61_000,
        comment: "chapter 4".into(),
        created_at: 9,
        changed_at: 9,
    };
    node.save_bookmark(u, &bookmark).unwrap();

    // The device is in sync, then changes p1 and p2 and pulls nothing yet.
    let mut since = "0".to_string();
    let first = pull(&*node, u, &mut since);
    assert_eq!(first.len(), 4);
    node.apply_playlist_ops(u, &[d.rename(ids[1], "p1.1")], 2)
        .unwrap();
    node.apply_playlist_ops(u, &[d.rename(ids[2], "p2.1")], 2)
        .unwrap();
    let before = (
        node.play_history(u, None, 10).unwrap(),
        node.starred_items(u).unwrap(),
        node.play_queue(u).unwrap(),
        node.playlists_visible_to(u).unwrap(),
    );

    let from = node.home(u).unwrap();
    let to = if from.shard == node.shard_ids()[0] {
        "b"
    } else {
        "a"
    };
    let report = node.move_user(u, to).unwrap();
    assert_eq!((report.epoch, report.to.as_str()), (1, to));
    assert_eq!(report.rows["playlists"], 4);
    assert_eq!(report.rows["play_events"], 2);
    // Then p3 changes on the new home.
    node.apply_playlist_ops(u, &[d.rename(ids[3], "p3.1")], 3)
        .unwrap();

    let after = pull(&*node, u, &mut since);
    let names: Vec<&str> = after.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(
        names,
        ["p1.1", "p2.1", "p3.1"],
        "each change once, none lost"
    );
    assert!(pull(&*node, u, &mut since).is_empty(), "caught up");

    let after = (
        node.play_history(u, None, 10).unwrap(),
        node.starred_items(u).unwrap(),
        node.play_queue(u).unwrap(),
        node.playlists_visible_to(u).unwrap(),
    );
    assert_eq!(before.0, after.0, "history moved whole");
    assert_eq!(before.1, after.1, "stars moved");
    assert_eq!(before.2, after.2, "the play queue moved");
    let renamed: Vec<String> = after.3.iter().map(|p| p.name.clone()).collect();
    assert_eq!(renamed, ["p0.0", "p1.1", "p2.1", "p3.1"]);
    assert_eq!(node.subsonic_app_password(u).unwrap(), Some(secret));
    assert_eq!(
        node.bookmarks(u).unwrap(),
        vec![bookmark],
        "bookmarks moved"
    );
    let annotations = node.annotations(u, &[ItemRef::Track(TrackId(2))]).unwrap();
    assert_eq!(annotations[&ItemRef::Track(TrackId(2))].rating, Some(4));
    // The old home holds nothing of the user's any more.
    let old = from.shard as usize; // shard ids are 1 and 2: the index into (primary, a, b)
    for (table, column) in [
        ("playlists", "owner_id"),
        ("playlist_ops", "user_id"),
        ("play_events", "user_id"),
        ("subsonic_bookmarks", "user_id"),
        ("changes", "user_id"),
        ("residents", "user_id"),
        ("users", "id"),
    ] {
        assert_eq!(
            cluster.rows(table, column, u)[old],
            0,
            "{table} left behind"
        );
    }
    // A device that had never synced gets everything once.
    let mut fresh = "0".to_string();
    assert_eq!(pull(&*node, u, &mut fresh).len(), 4);
}

#[test]
fn a_cursor_follows_its_user_through_several_moves() {
    let cluster = Cluster::new("shards_moves");
    let node = cluster.node();
    let u = user(&*node, "nomad");
    let mut d = Device::new();
    let id = PlaylistId::new_v7();
    let other = PlaylistId::new_v7();
    for (p, name) in [(id, "x.0"), (other, "y.0")] {
        let create = d.op(
            p,
            OpKind::Create {
                name: name.into(),
                public: false,
            },
        );
        node.apply_playlist_ops(u, &[create], 1).unwrap();
    }
    let mut since = "0".to_string();
    assert_eq!(pull(&*node, u, &mut since).len(), 2);
    node.apply_playlist_ops(u, &[d.rename(id, "x.1")], 2)
        .unwrap();
    assert_eq!(
        node.home(u).unwrap().shard,
        node.shard_ids()[0],
        "the first user goes to a"
    );
    for to in ["b", "primary", "a", "b"] {
        node.move_user(u, to).unwrap();
    }
    node.apply_playlist_ops(u, &[d.rename(other, "y.1")], 3)
        .unwrap();
    let names: Vec<String> = pull(&*node, u, &mut since)
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert_eq!(names, ["x.1", "y.1"]);
    assert_eq!(node.home(u).unwrap().epoch, 4);
}

#[test]
fn a_node_with_a_stale_home_follows_the_user() {
    let cluster = Cluster::new("shards_stale");
    let (one, two) = (cluster.node(), cluster.node());
    let u = user(&*one, "roamer");
    let mut d = Device::new();
    let id = PlaylistId::new_v7();
    let create = d.op(
        id,
        OpKind::Create {
            name: "roams".into(),
            public: false,
        },
    );
    one.apply_playlist_ops(u, &[create], 1).unwrap();
    one.insert_play_events(u, &[play(1, 1)], 1).unwrap();
    let cached = one.home(u).unwrap();
    let to = if cached.shard == one.shard_ids()[0] {
        "b"
    } else {
        "a"
    };
    two.move_user(u, to).unwrap();
    assert_eq!(one.home(u).unwrap(), cached, "node one's cache is stale");
    // Its writes and reads land on the new home all the same.
    one.insert_play_events(u, &[play(2, 2)], 2).unwrap();
    one.apply_playlist_ops(u, &[d.rename(id, "roamed")], 2)
        .unwrap();
    assert_eq!(one.play_history(u, None, 10).unwrap().0, 2);
    assert_eq!(two.play_history(u, None, 10).unwrap().0, 2);
    assert_eq!(
        two.playlist(id).unwrap().unwrap().detail.playlist.name,
        "roamed"
    );
    assert_ne!(
        one.home(u).unwrap(),
        cached,
        "node one learned the new home"
    );
}

#[test]
fn writes_racing_a_move_are_all_kept() {
    let cluster = Cluster::new("shards_race");
    let (writer, mover) = (cluster.node(), cluster.node());
    let u = user(&*writer, "busy");
    let sent = std::sync::atomic::AtomicI64::new(0);
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut at = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                at += 1;
                writer.insert_play_events(u, &[play(at, at)], at).unwrap();
                sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        // Each move starts once the writer has written since the last one (not after a fixed
        // time, which a starved writer thread could sleep through).
        for to in ["a", "b", "primary", "b", "a"] {
            let before = sent.load(std::sync::atomic::Ordering::SeqCst);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while sent.load(std::sync::atomic::Ordering::SeqCst) < before + 2 {
                assert!(std::time::Instant::now() < deadline, "the writer stalled");
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            mover.move_user(u, to).unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let sent = sent.load(std::sync::atomic::Ordering::SeqCst);
    assert!(sent > 5, "the writer wrote during the moves ({sent})");
    assert_eq!(mover.play_history(u, None, 1).unwrap().0 as i64, sent);
    let everywhere: i64 = cluster.rows("play_events", "user_id", u).iter().sum();
    assert_eq!(everywhere, sent, "no copy left behind");
}

#[test]
fn a_move_cut_short_after_the_map_flipped_is_settled_by_the_map() {
    let cluster = Cluster::new("shards_cut");
    let (one, two) = (cluster.node(), cluster.node());
    let u = user(&*one, "halfway");
    one.insert_play_events(u, &[play(1, 1)], 1).unwrap();
    let old = one.home(u).unwrap();
    let (old_name, to) = if old.shard == one.shard_ids()[0] {
        ("a", "b")
    } else {
        ("b", "a")
    };
    two.move_user(u, to).unwrap();
    // As if the old home's cleanup had never run: the user's rows and residence are back,
    // marked as moving (what a move leaves when it stops after the map flipped).
    let old_url = cluster.shards[if old_name == "a" { 0 } else { 1 }].url();
    let mut c = postgres::Client::connect(old_url, postgres::NoTls).unwrap();
    c.batch_execute(&format!(
        "INSERT INTO users (id, username, password_hash, is_admin, created_at)
             VALUES ({0}, 'halfway', '!', false, 0);
         INSERT INTO residents (user_id, epoch, moving_to) VALUES ({0}, 0, 9);",
        u.0
    ))
    .unwrap();
    // Node one still believes the old home: the mark sends it to the map, not the old rows.
    one.insert_play_events(u, &[play(2, 2)], 2).unwrap();
    assert_eq!(two.play_history(u, None, 10).unwrap().0, 2);
    // Running the move again finishes the cleanup.
    two.move_user(u, to).unwrap();
    assert_eq!(
        cluster.rows("residents", "user_id", u).iter().sum::<i64>(),
        1
    );
}

#[test]
fn a_node_missing_a_shard_or_a_renamed_shard_is_refused() {
    let cluster = Cluster::new("shards_config");
    drop(cluster.node());
    let mut missing = cluster.options();
    missing.shards.pop();
    let err = PgStore::open(&missing, Arc::new(LocalWriteMarks::single_node()))
        .err()
        .expect("a node without shard b");
    assert!(
        matches!(&err, StorageError::Config(m) if m.contains("\"b\"")),
        "{err}"
    );
    let mut swapped = cluster.options();
    swapped.shards[0].1 = cluster.shards[1].url().to_string();
    swapped.shards[1].1 = cluster.shards[0].url().to_string();
    let err = PgStore::open(&swapped, Arc::new(LocalWriteMarks::single_node()))
        .err()
        .expect("shards swapped");
    assert!(matches!(err, StorageError::Config(_)), "{err}");
}

#[test]
fn public_playlists_of_users_on_other_shards_are_listed() {
    let cluster = Cluster::new("shards_public");
    let node = cluster.node();
    let (ann, ben) = (user(&*node, "ann"), user(&*node, "ben"));
    assert_ne!(node.home(ann).unwrap(), node.home(ben).unwrap());
    let mut d = Device::new();
    let shared = PlaylistId::new_v7();
    let create = d.op(
        shared,
        OpKind::Create {
            name: "shared".into(),
            public: true,
        },
    );
    node.apply_playlist_ops(ann, &[create], 1).unwrap();
    let names: HashMap<String, bool> = node
        .playlists_visible_to(ben)
        .unwrap()
        .into_iter()
        .map(|p| (p.name, p.public))
        .collect();
    assert_eq!(names, HashMap::from([("shared".to_string(), true)]));
    // Another user's id is theirs on every shard.
    let steal = d.rename(shared, "mine now");
    assert!(matches!(
        node.apply_playlist_ops(ben, &[steal], 2),
        Err(StorageError::Conflict(_))
    ));
}
