//! Several `mixtape-server` processes as one service: the same `--database` (PostgreSQL),
//! `--redis`, `--secret-file` and library, different ports. Each test makes its own database
//! (and, where it pauses replay or stops Redis, its own PostgreSQL cluster and Redis process).

mod common;
#[path = "cluster/engines.rs"]
mod engines;
#[path = "cluster/nodes.rs"]
mod nodes;

use engines::{PgCluster, RedisServer};
use mixtape_server::storage::postgres::scratch::ScratchDatabase;
use nodes::{Deployment, md5_hex};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

#[test]
fn any_node_serves_any_request() {
    let db = ScratchDatabase::for_test("any_node");
    let redis = RedisServer::start();
    let deploy = Deployment::demo(db.url(), &[], Some(&redis.url()));
    let a = deploy.node("a", &[]);
    let b = deploy.node("b", &[]);

    // A login on A is a session on B.
    let token = a.login("admin", common_password());
    assert_eq!(b.status_with("/api/v1/me", &token), 200);

    // A playlist made on A is in B's change feed at once.
    let created = a
        .post_with("/api/v1/playlists", &token, &json!({"name": "from A"}))
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let feed = b.get_with("/api/v1/changes?since=0&limit=1000", &token);
    let names: Vec<&str> = feed["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["playlist"]["id"].as_str().filter(|i| *i == id))
        .collect();
    assert_eq!(names.len(), 1, "B's feed has A's playlist: {feed}");

    // A Subsonic app password set on A opens on B (the sealing key comes from the secret file).
    let r = a
        .http
        .put(format!("{}/api/v1/me/subsonic-password", a.base))
        .bearer_auth(&token)
        .json(&json!({"password": "app-password-1"}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let salt = "c0ffee";
    let t = md5_hex(&format!("app-password-1{salt}"));
    let ping: Value = b
        .http
        .get(format!(
            "{}/rest/ping?u=admin&t={t}&s={salt}&v=1.16.1&c=test&f=json",
            b.base
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        ping["subsonic-response"]["status"], "ok",
        "token auth on B: {ping}"
    );
}

#[test]
fn failed_logins_count_across_nodes() {
    let db = ScratchDatabase::for_test("throttle");
    let redis = RedisServer::start();
    let deploy = Deployment::demo(db.url(), &[], Some(&redis.url()));
    let nodes: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|n| deploy.node(n, &[]))
        .collect();
    // Five failures spread over three nodes: each node alone has seen at most two, under the
    // free budget of five, so only a shared counter refuses the next attempt.
    for i in 0..5 {
        let status = nodes[i % 3].login_status("admin", "wrong-password");
        assert_eq!(status, 401, "attempt {i}");
    }
    for node in &nodes {
        assert_eq!(
            node.login_status("admin", "wrong-password"),
            429,
            "node {} refuses the sixth failure",
            node.name
        );
    }
}

#[test]
fn three_nodes_starting_at_once_make_one_admin() {
    let db = ScratchDatabase::for_test("first_start");
    let redis = RedisServer::start();
    let deploy = Deployment::demo(db.url(), &[], Some(&redis.url()));
    let nodes = std::thread::scope(|s| {
        let handles: Vec<_> = ["a", "b", "c"]
            .iter()
            .map(|n| s.spawn(|| deploy.node(n, &[])))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("node started"))
            .collect::<Vec<_>>()
    });
    for n in &nodes {
        assert_eq!(n.status("/readyz"), 200);
    }
    let users = nodes[0].get("/api/v1/users");
    let admins = users
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["is_admin"] == true)
        .count();
    assert_eq!(admins, 1, "{users}");
}

#[test]
fn a_killed_scan_leader_is_replaced_and_the_catalog_completes() {
    let db = ScratchDatabase::for_test("failover");
    let redis = RedisServer::start();
    let deploy = Deployment::generated(db.url(), &[], Some(&redis.url()), 3000);
    // 3,000 files in batches of 200, each waiting a second before it commits: the scan lasts
    // about 15 s, so it is still running when B is up and sees it write, however slowly B
    // starts on a loaded machine (with two batches of 1.5 s, CI's B came up after the end).
    let slow = [
        ("MIXTAPE_TEST_COMMIT_DELAY_MS", "1000"),
        ("MIXTAPE_TEST_SCAN_BATCH", "200"),
    ];
    let mut a = deploy.node_without_login("a", &slow);
    // A starts first, so it leads the first scan; B waits for the lease.
    deploy.wait_for_leader(&a, "a");
    let mut b = deploy.node_without_login("b", &slow);
    // Logged in once: every poll without a token would hash the password again.
    b.token = b.login("admin", common_password());
    let scan = deploy.wait_scan_progress(&b);
    assert_eq!(scan["leader"], "a", "{scan}");
    a.kill();
    let killed = Instant::now();
    let took_over = deploy.wait_for_leader(&b, "b");
    assert!(
        took_over.duration_since(killed) < Duration::from_secs(10),
        "B took over after {:?}",
        took_over.duration_since(killed)
    );
    deploy.wait_scan_idle(&b);
    let clustered = deploy.catalog(&b);
    let reference = deploy.reference_catalog();
    assert_eq!(clustered.len(), reference.len());
    assert_eq!(
        clustered, reference,
        "the catalog equals a fresh single-node scan"
    );
}

#[test]
fn a_user_reads_their_own_writes_while_the_replica_is_paused() {
    let primary = PgCluster::primary();
    let mut admin = primary.client("postgres");
    admin.batch_execute("CREATE DATABASE mixtape").unwrap();
    let replica = PgCluster::replica_of(&primary);
    replica.wait_caught_up(&primary);
    let redis = RedisServer::start();
    let replica_url = replica.url("mixtape");
    let deploy = Deployment::demo(&primary.url("mixtape"), &[&replica_url], Some(&redis.url()));
    let a = deploy.node("a", &[]);
    let b = deploy.node("b", &[]);
    deploy.wait_scan_idle(&a);
    replica.wait_caught_up(&primary);
    let tracks_before = b.get("/api/v1/tracks?limit=5");

    let mut standby = replica.client("postgres");
    standby
        .batch_execute("SELECT pg_wal_replay_pause()")
        .unwrap();
    // A token issued now exists only on the primary: it works on every node.
    let token = a.login("admin", common_password());
    assert_eq!(b.status_with("/api/v1/me", &token), 200);
    // A write on A is read back on B although the replica has not replayed it.
    let created = a
        .post_with("/api/v1/playlists", &token, &json!({"name": "paused"}))
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let mine = b.get_with("/api/v1/playlists", &token);
    assert!(
        mine.to_string().contains(id),
        "B lists the playlist written on A: {mine}"
    );
    let on_replica: i64 = replica
        .client("mixtape")
        .query_one("SELECT count(*) FROM playlists WHERE name = 'paused'", &[])
        .unwrap()
        .get(0);
    assert_eq!(on_replica, 0, "the replica really is behind");
    // Catalog reads still answer (from a replica or the primary), unchanged.
    assert_eq!(b.get("/api/v1/tracks?limit=5"), tracks_before);

    standby
        .batch_execute("SELECT pg_wal_replay_resume()")
        .unwrap();
    replica.wait_caught_up(&primary);
    let mine = b.get_with("/api/v1/playlists", &token);
    assert!(mine.to_string().contains(id));
}

#[test]
fn the_change_feed_misses_nothing_under_concurrent_writers() {
    let db = ScratchDatabase::for_test("feed");
    let redis = RedisServer::start();
    let deploy = Deployment::demo(db.url(), &[], Some(&redis.url()));
    // Commits wait 30 ms after taking their sequence numbers: a feed built on a plain sequence
    // would let later numbers commit first and the poller below would skip the earlier ones.
    let delay = [("MIXTAPE_TEST_COMMIT_DELAY_MS", "30")];
    let nodes: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|n| deploy.node(n, &delay))
        .collect();
    let token = nodes[0].login("admin", common_password());
    let writers = 6;
    let per_writer = 10;
    let mut seen = HashSet::new();
    let mut since = "0".to_string();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let node = &nodes[w % nodes.len()];
                let token = &token;
                s.spawn(move || {
                    for i in 0..per_writer {
                        node.post_with(
                            "/api/v1/playlists",
                            token,
                            &json!({"name": format!("w{w}-{i}")}),
                        )
                        .unwrap();
                    }
                })
            })
            .collect();
        let mut round = 0;
        let mut poll = |since: &mut String, seen: &mut HashSet<String>| loop {
            round += 1;
            let node = &nodes[round % nodes.len()];
            let page = node.get_with(&format!("/api/v1/changes?since={since}&limit=5"), &token);
            for change in page["changes"].as_array().unwrap() {
                if let Some(name) = change["playlist"]["name"].as_str() {
                    seen.insert(name.to_string());
                }
            }
            *since = page["next_since"].to_string().trim_matches('"').to_string();
            if page["has_more"] != true {
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
        "the poller missed {} playlists",
        writers * per_writer - seen.len()
    );
}

#[test]
fn redis_going_away_breaks_nothing() {
    let db = ScratchDatabase::for_test("redis_down");
    let mut redis = RedisServer::start();
    let deploy = Deployment::demo(db.url(), &[], Some(&redis.url()));
    let a = deploy.node("a", &[]);
    let b = deploy.node("b", &[]);
    deploy.wait_scan_idle(&a);
    redis.stop();
    let mut statuses = BTreeMap::new();
    for path in [
        "/api/v1/tracks?limit=20",
        "/api/v1/albums?limit=20",
        "/api/v1/artists",
        "/api/v1/genres",
        "/api/v1/search?q=a",
    ] {
        for node in [&a, &b] {
            *statuses.entry(node.status(path)).or_insert(0) += 1;
        }
    }
    assert_eq!(
        statuses.keys().copied().collect::<Vec<_>>(),
        vec![200],
        "{statuses:?}"
    );
    // Logins still work (the throttle falls back to each node's own counters).
    let token = b.login("admin", common_password());
    assert_eq!(a.status_with("/api/v1/me", &token), 200);
    assert_eq!(a.login_status("admin", "wrong-password"), 401);
    redis.restart();
    let token = a.login("admin", common_password());
    assert_eq!(b.status_with("/api/v1/me", &token), 200);
}

fn common_password() -> &'static str {
    nodes::ADMIN_PASSWORD
}
