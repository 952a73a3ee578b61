//! Playlist writes under careless or hostile input: entry ids scoped to their playlist, reused
//! and repeated ids refused one op at a time, m3u imports that are atomic, bounded and decode
//! Latin-1, and edits applied to a kept snapshot (also across late ops and compaction).

use crate::common::*;
use mixtape_shared::sync::{Anchor, NewEntry, OpKind, PlaylistOp, Snapshot, materialize};
use mixtape_shared::{DeviceId, EntryId, OpId, PlaylistId, TrackId};
use reqwest::Method;
use serde_json::{Value, json};

fn entry_ids(playlist: &Value) -> Vec<String> {
    playlist["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

async fn create(s: &TestServer, token: &str, name: &str, public: bool) -> String {
    let (status, p) = s
        .send(
            Method::POST,
            "/api/v1/playlists",
            token,
            json!({"name": name, "public": public}),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    p["id"].as_str().unwrap().to_string()
}

async fn push(s: &TestServer, token: &str, ops: &[PlaylistOp]) -> Value {
    let (status, answer) = s
        .send(Method::POST, "/api/v1/sync/ops", token, json!({"ops": ops}))
        .await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// A device's ops, one clock after another.
struct Device {
    id: DeviceId,
    clock: u64,
}

impl Device {
    fn new() -> Self {
        Self {
            id: DeviceId::new_v7(),
            clock: 0,
        }
    }

    fn op(&mut self, playlist: &str, kind: OpKind) -> PlaylistOp {
        self.clock += 1;
        PlaylistOp {
            id: OpId::new_v7(),
            playlist_id: playlist.parse().unwrap(),
            clock: self.clock,
            device: self.id,
            kind,
        }
    }
}

fn add(entries: &[(EntryId, i64)]) -> OpKind {
    OpKind::Add {
        entries: entries
            .iter()
            .map(|&(id, track)| NewEntry {
                id,
                track_id: TrackId(track),
            })
            .collect(),
        at: Anchor::End,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn entry_ids_are_scoped_to_their_playlist_and_a_reused_one_rejects_only_its_op() {
    let s = TestServer::demo().await;
    let t = s.track_ids().await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let public = create(&s, &alice, "alice's", true).await;
    let x = EntryId::new_v7().to_string();
    let (status, _) = s
        .send(
            Method::POST,
            &format!("/api/v1/playlists/{public}/entries"),
            &alice,
            json!({"track_ids": [t[0]], "entry_ids": [x]}),
        )
        .await;
    assert_eq!(status, 200);

    // Bob copies alice's entry id into his own playlist, by REST and by a pushed op: fine,
    // ids belong to their playlist.
    let bobs = create(&s, &bob, "bob's", false).await;
    let (status, p) = s
        .send(
            Method::POST,
            &format!("/api/v1/playlists/{bobs}/entries"),
            &bob,
            json!({"track_ids": [t[1]], "entry_ids": [x]}),
        )
        .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(entry_ids(&p), vec![x.clone()]);

    // Bob squats an id alice's device is about to push: her push still applies whole.
    let z2 = EntryId::new_v7();
    let answer = push(
        &s,
        &bob,
        &[Device {
            id: DeviceId::new_v7(),
            clock: 5,
        }
        .op(&bobs, add(&[(z2, t[2])]))],
    )
    .await;
    assert_eq!(answer["accepted"], 1, "{answer}");
    let mut phone = Device::new();
    phone.clock = 10;
    let alice_push = vec![
        phone.op(&public, add(&[(z2, t[3])])),
        phone.op(
            &public,
            OpKind::Rename {
                name: "renamed".into(),
            },
        ),
    ];
    let answer = push(&s, &alice, &alice_push).await;
    assert_eq!(
        (answer["accepted"].clone(), answer["rejected"].clone()),
        (json!(2), json!([])),
        "{answer}"
    );
    let p = s
        .get_json(&format!("/api/v1/playlists/{public}"), &alice)
        .await;
    assert_eq!(p["name"], "renamed");
    assert_eq!(entry_ids(&p), vec![x.clone(), z2.to_string()]);

    // Reusing an id within the same playlist: REST answers 409, a pushed op is rejected alone
    // while the rest of its push applies, and a replay of an accepted add is a duplicate.
    let (status, err) = s
        .send(
            Method::POST,
            &format!("/api/v1/playlists/{public}/entries"),
            &alice,
            json!({"track_ids": [t[4]], "entry_ids": [x]}),
        )
        .await;
    assert_eq!(
        (status, err["error"]["code"].clone()),
        (409, json!("conflict"))
    );
    let reuse = phone.op(&public, add(&[(x.parse().unwrap(), t[4])]));
    let rename = phone.op(
        &public,
        OpKind::Rename {
            name: "again".into(),
        },
    );
    let answer = push(&s, &alice, &[reuse.clone(), rename]).await;
    assert_eq!(answer["accepted"], 1, "{answer}");
    assert_eq!(answer["rejected"][0]["id"], reuse.id.to_string());
    assert_eq!(answer["rejected"][0]["code"], "conflict");
    let answer = push(&s, &alice, &alice_push).await;
    assert_eq!(
        (answer["duplicates"].clone(), answer["rejected"].clone()),
        (json!(2), json!([])),
        "{answer}"
    );
    let p = s
        .get_json(&format!("/api/v1/playlists/{public}"), &alice)
        .await;
    assert_eq!(p["name"], "again");
    assert_eq!(p["entry_count"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_entry_ids_inside_one_add_are_refused() {
    let s = TestServer::demo().await;
    let t = s.track_ids().await;
    let id = create(&s, &s.admin_token, "dups", false).await;
    let z = EntryId::new_v7().to_string();
    let (status, err) = s
        .send(
            Method::POST,
            &format!("/api/v1/playlists/{id}/entries"),
            &s.admin_token,
            json!({"track_ids": [t[0], t[1]], "entry_ids": [z, z]}),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["message"], "entry ids must be distinct");
    let z: EntryId = z.parse().unwrap();
    let mut device = Device::new();
    device.clock = 5;
    let op = device.op(&id, add(&[(z, t[0]), (z, t[1])]));
    let answer = push(&s, &s.admin_token, std::slice::from_ref(&op)).await;
    assert_eq!(answer["rejected"][0]["code"], "invalid", "{answer}");
    assert_eq!(
        s.admin_get(&format!("/api/v1/playlists/{id}")).await["entry_count"],
        0
    );
}

async fn import(s: &TestServer, query: &str, body: Vec<u8>) -> (u16, Value) {
    let r = s
        .req(
            Method::POST,
            &format!("/api/v1/playlists/import{query}"),
            &s.admin_token,
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn playlist_names(s: &TestServer) -> Vec<String> {
    let list = s.admin_get("/api/v1/playlists").await;
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn m3u_imports_are_bounded_atomic_and_decode_latin1() {
    let s = TestServer::demo().await;
    let track = s.track_ids().await[0];
    let stream_url = format!("{}/api/v1/tracks/{track}/stream", s.base);

    // Junk just under the body limit: refused at once, nothing created.
    let mut junk = b"#PLAYLIST:junkimport\n".to_vec();
    junk.extend(b"x\n".repeat(4_194_284));
    let started = std::time::Instant::now();
    let (status, err) = import(&s, "", junk).await;
    assert_eq!(status, 422, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("an m3u import holds at most"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(playlist_names(&s).await.is_empty(), "nothing was created");

    // More tracks than one playlist add takes: refused, and no empty playlist left behind.
    let big = format!(
        "#PLAYLIST:bigimport\n{}",
        format!("{stream_url}\n").repeat(10_001)
    );
    let (status, err) = import(&s, "", big.into_bytes()).await;
    assert_eq!(status, 422, "{err}");
    assert!(playlist_names(&s).await.is_empty(), "nothing was created");

    // A Latin-1 file (plain .m3u from an old player): decoded, not refused.
    let mut latin1 = b"#EXTM3U\n#PLAYLIST:Caf\xe9 \xe0 trois\n".to_vec();
    latin1.extend(stream_url.as_bytes());
    latin1.extend(b"\nm\xfcssing.mp3\n");
    let (status, report) = import(&s, "", latin1).await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(report["playlist"]["name"], "Café à trois");
    assert_eq!(report["playlist"]["entry_count"], 1);
    assert_eq!(report["unmatched"], json!(["müssing.mp3"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_import_stops_and_creates_nothing() {
    let s = TestServer::demo().await;
    let store = s.server.as_ref().unwrap().state.store.clone();
    let admin = store.user_by_name("admin").unwrap().unwrap().user;
    let cancelled = std::sync::atomic::AtomicBool::new(true);
    let body = b"#PLAYLIST:gone\nsome/song.mp3\n";
    let result = mixtape_server::playlists::import_m3u(
        store.as_ref(),
        &admin,
        body,
        None,
        "/music",
        &cancelled,
    );
    assert!(
        matches!(
            result,
            Err(mixtape_server::playlists::PlaylistError::Cancelled)
        ),
        "{result:?}"
    );
    assert!(playlist_names(&s).await.is_empty());
}

/// Pushes `n` moves of the playlist's entries, in pushes of at most 1000.
async fn push_moves(
    s: &TestServer,
    device: &mut Device,
    playlist: &str,
    entries: &[EntryId],
    n: usize,
    log: &mut Vec<PlaylistOp>,
) {
    let mut left = n;
    while left > 0 {
        let batch: Vec<PlaylistOp> = (0..left.min(1000))
            .map(|i| {
                let k = log.len() + i;
                device.op(
                    playlist,
                    OpKind::Move {
                        entry: entries[k % entries.len()],
                        to: Anchor::After(entries[(k * 7 + 3) % entries.len()]),
                    },
                )
            })
            .collect();
        let answer = push(s, &s.admin_token, &batch).await;
        assert_eq!(answer["accepted"], batch.len(), "{answer}");
        left -= batch.len();
        log.extend(batch);
    }
}

fn live(state: &mixtape_shared::sync::PlaylistState) -> Vec<String> {
    state.entries().map(|(e, _)| e.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_apply_to_a_kept_snapshot_and_late_ops_and_compaction_keep_the_merge_rules() {
    let s = TestServer::demo().await;
    let t = s.track_ids().await;
    let playlist = PlaylistId::new_v7().to_string();
    let mut phone = Device::new();
    let mut laptop = Device::new();
    let entries: Vec<EntryId> = (0..8).map(|_| EntryId::new_v7()).collect();
    let mut log = vec![
        phone.op(
            &playlist,
            OpKind::Create {
                name: "snap".into(),
                public: false,
            },
        ),
        phone.op(
            &playlist,
            add(&entries
                .iter()
                .zip(&t)
                .map(|(e, t)| (*e, *t))
                .collect::<Vec<_>>()),
        ),
    ];
    push(&s, &s.admin_token, &log).await;
    laptop.clock = phone.clock;

    // The laptop goes offline and edits; the phone keeps pushing (the snapshot advances).
    let offline = vec![
        laptop.op(&playlist, OpKind::Remove { entry: entries[2] }),
        laptop.op(
            &playlist,
            OpKind::Move {
                entry: entries[5],
                to: Anchor::Start,
            },
        ),
    ];
    push_moves(&s, &mut phone, &playlist, &entries, 300, &mut log).await;
    // Back online: its ops sort before the snapshot, so the server rebuilds, and gets what a
    // full materialize of every op gives.
    push(&s, &s.admin_token, &offline).await;
    log.extend(offline.iter().cloned());
    let expected = materialize(&log).unwrap();
    let p = s.admin_get(&format!("/api/v1/playlists/{playlist}")).await;
    assert_eq!(entry_ids(&p), live(&expected));
    assert!(
        !entry_ids(&p).contains(&entries[2].to_string()),
        "remove beats move"
    );

    // Enough moves for a compaction (5,000 ops since the last one).
    push_moves(&s, &mut phone, &playlist, &entries, 5_000, &mut log).await;
    let base = Snapshot::of(&log).unwrap();
    let p = s.admin_get(&format!("/api/v1/playlists/{playlist}")).await;
    assert_eq!(entry_ids(&p), live(&base.state));
    // Folded ops are still known: replaying them is a no-op, not a second application.
    let answer = push(&s, &s.admin_token, &log[2..1000]).await;
    assert_eq!(
        (answer["accepted"].clone(), answer["duplicates"].clone()),
        (json!(0), json!(998)),
        "{answer}"
    );
    // A device offline across the compaction: its op lands right after the base.
    let mut old = Device {
        id: DeviceId::new_v7(),
        clock: 3,
    };
    let late = old.op(
        &playlist,
        OpKind::Move {
            entry: entries[7],
            to: Anchor::Start,
        },
    );
    let after = phone.op(
        &playlist,
        OpKind::Rename {
            name: "after".into(),
        },
    );
    push(&s, &s.admin_token, &[late.clone(), after.clone()]).await;
    let expected = Snapshot::rebuild(Some(base), [&late, &after]).unwrap();
    let p = s.admin_get(&format!("/api/v1/playlists/{playlist}")).await;
    assert_eq!(entry_ids(&p), live(&expected.state));
    assert_eq!(entry_ids(&p)[0], entries[7].to_string());
    assert_eq!(p["name"], "after");

    // And it all survives a restart.
    let s = s.restart().await;
    let p = s.admin_get(&format!("/api/v1/playlists/{playlist}")).await;
    assert_eq!(entry_ids(&p), live(&expected.state));
}
