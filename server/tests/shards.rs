//! User-keyed shards with real nodes: two `mixtape-server` processes on a PostgreSQL primary
//! and two shard databases, a device syncing through both while the admin command moves its
//! user from shard to shard.

mod common;
#[path = "cluster/nodes.rs"]
mod nodes;

use mixtape_server::storage::postgres::scratch::ScratchDatabase;
use mixtape_shared::api::PlayEvent;
use mixtape_shared::sync::{OpKind, PlaylistOp};
use mixtape_shared::{DeviceId, EventId, OpId, PlaylistId, TrackId};
use nodes::{Deployment, Node};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What a device does: pushes ops and events, pulls the feed from its cursor.
struct Device {
    id: DeviceId,
    clock: u64,
    token: String,
    since: String,
    /// Every `(playlist, name)` the feed delivered, in order.
    seen: Vec<(String, String)>,
}

impl Device {
    fn op(&mut self, playlist: PlaylistId, kind: OpKind) -> PlaylistOp {
        self.clock += 1;
        PlaylistOp {
            id: OpId::new_v7(),
            playlist_id: playlist,
            clock: self.clock,
            device: self.id,
            kind,
        }
    }

    fn push(&self, node: &Node, ops: &[PlaylistOp]) {
        let answer = node
            .post_with("/api/v1/sync/ops", &self.token, &json!({ "ops": ops }))
            .expect("push ops");
        assert_eq!(answer["accepted"], ops.len(), "{answer}");
    }

    fn pull(&mut self, node: &Node) {
        loop {
            let page = node.get_with(
                &format!("/api/v1/changes?since={}&limit=2", self.since),
                &self.token,
            );
            for change in page["changes"].as_array().unwrap() {
                if change["kind"] == "playlist" {
                    let p = &change["playlist"];
                    self.seen.push((
                        p["id"].as_str().unwrap().into(),
                        p["name"].as_str().unwrap().into(),
                    ));
                }
            }
            self.since = page["next_since"].as_str().unwrap().to_string();
            if page["has_more"] == false {
                return;
            }
        }
    }
}

fn move_user(deploy: &Deployment, env: &[(&str, &str)], to: &str) -> Value {
    let out = deploy.admin(env, &["shards", "move", "listener", to]);
    assert!(
        out.status.success(),
        "shards move {to}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn moving_a_user_between_shards_during_their_devices_sync_loses_and_repeats_nothing() {
    let db = ScratchDatabase::for_test("shards_e2e");
    let shard_a = ScratchDatabase::for_test("shards_e2e_a");
    let shard_b = ScratchDatabase::for_test("shards_e2e_b");
    let shards = format!("a={},b={}", shard_a.url(), shard_b.url());
    let env = [("MIXTAPE_SHARDS", shards.as_str())];
    let deploy = Deployment::demo(db.url(), &[], None);
    let nodes = [deploy.node("n1", &env), deploy.node("n2", &env)];
    // The device plays a track of the demo: the first scan must have written it.
    deploy.wait_scan_idle(&nodes[0]);
    nodes[0]
        .post_with(
            "/api/v1/users",
            &nodes[0].token,
            &json!({"username": "listener", "password": "listener-password-1"}),
        )
        .unwrap();
    let token = nodes[1].login("listener", "listener-password-1");
    let track = nodes[0].get_with("/api/v1/tracks?limit=1", &token)["items"][0]["id"]
        .as_i64()
        .unwrap();

    let mut device = Device {
        id: DeviceId::new_v7(),
        clock: 0,
        token: token.clone(),
        since: "0".into(),
        seen: Vec::new(),
    };
    let playlists: Vec<PlaylistId> = (0..3).map(|_| PlaylistId::new_v7()).collect();
    for (i, id) in playlists.iter().enumerate() {
        let create = device.op(
            *id,
            OpKind::Create {
                name: format!("p{i}.0"),
                public: false,
            },
        );
        device.push(&nodes[i % 2], &[create]);
    }

    // The device syncs through both nodes, as fast as it can, until the moves are done.
    let stop = AtomicBool::new(false);
    let rounds = AtomicUsize::new(0);
    let mut last_name: HashMap<String, String> = HashMap::new();
    let mut events_sent = 0;
    let reports = std::thread::scope(|s| {
        let syncing = s.spawn(|| {
            let mut round = 0;
            while !stop.load(Ordering::SeqCst) {
                round += 1;
                let id = playlists[round % playlists.len()];
                let name = format!("p{}.{round}", round % playlists.len());
                let rename = device.op(id, OpKind::Rename { name: name.clone() });
                device.push(&nodes[round % 2], &[rename]);
                last_name.insert(id.to_string(), name);
                let event = PlayEvent {
                    id: EventId::new_v7(),
                    track_id: TrackId(track),
                    kind: mixtape_shared::api::PlayEventKind::Finish,
                    position_ms: 0,
                    at_ms: round as i64,
                    device: Some(device.id),
                };
                let answer = nodes[(round + 1) % 2]
                    .post_with("/api/v1/events", &token, &json!({ "events": [event] }))
                    .expect("post an event");
                assert_eq!(answer["accepted"], 1);
                events_sent += 1;
                device.pull(&nodes[(round + 1) % 2]);
                rounds.fetch_add(1, Ordering::SeqCst);
            }
        });
        let wait_rounds = |n: usize| {
            let until = Instant::now() + Duration::from_secs(60);
            let start = rounds.load(Ordering::SeqCst);
            while rounds.load(Ordering::SeqCst) < start + n {
                assert!(Instant::now() < until, "the device stopped syncing");
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        wait_rounds(5);
        let mut reports = Vec::new();
        // The admin lives on a, the listener on b (the least loaded when they joined).
        for to in ["a", "primary", "b", "a"] {
            reports.push(move_user(&deploy, &env, to));
            wait_rounds(3);
        }
        stop.store(true, Ordering::SeqCst);
        syncing.join().expect("the device's sync");
        reports
    });
    let epochs: Vec<i64> = reports
        .iter()
        .map(|r| r["epoch"].as_i64().unwrap())
        .collect();
    assert_eq!(epochs, [1, 2, 3, 4], "{reports:?}");
    assert_eq!(reports[0]["from"], "b");
    device.pull(&nodes[0]);

    // Nothing seen twice: every rename has its own name.
    let mut once = HashSet::new();
    for seen in &device.seen {
        assert!(once.insert(seen.clone()), "{seen:?} was delivered twice");
    }
    // Nothing lost: the last name delivered is the last pushed, and the server's.
    let mut delivered: HashMap<String, String> = HashMap::new();
    for (id, name) in &device.seen {
        delivered.insert(id.clone(), name.clone());
    }
    for id in &playlists {
        let id = id.to_string();
        let server = nodes[1].get_with(&format!("/api/v1/playlists/{id}"), &token);
        assert_eq!(
            server["name"].as_str(),
            last_name.get(&id).map(String::as_str)
        );
        assert_eq!(delivered.get(&id), last_name.get(&id), "playlist {id}");
    }
    let history = nodes[0].get_with("/api/v1/history?limit=1", &token);
    assert_eq!(history["total"], events_sent, "every play event kept");

    let list = deploy.admin(&env, &["shards", "list"]);
    let list: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(
        list["shards"],
        json!([
            {"name": "primary", "users": 0},
            {"name": "a", "users": 2},
            {"name": "b", "users": 0},
        ])
    );
}
