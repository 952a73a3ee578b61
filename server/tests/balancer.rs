//! Faults through the load balancer: haproxy (the configuration `deploy/haproxy/render` makes)
//! in front of `mixtape-server` processes, traffic counted at the client. A node killed or
//! drained, a replica lost, a download cut mid-body; and `deploy/local-cluster` end to end.

mod common;
#[path = "cluster/engines.rs"]
mod engines;
#[path = "cluster/haproxy.rs"]
mod haproxy;
#[path = "cluster/load.rs"]
mod load;
#[path = "cluster/nodes.rs"]
mod nodes;

use engines::{PgCluster, RedisServer};
use haproxy::Haproxy;
use load::Load;
use mixtape_server::storage::postgres::scratch::ScratchDatabase;
use nodes::{ADMIN_PASSWORD, Deployment, Node, md5_hex};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Nodes as a balancer needs them: haproxy (on loopback) is the proxy whose `X-Forwarded-For`
/// they believe; a drain well past haproxy's 2 checks x 500 ms, even on a loaded machine.
const BEHIND_HAPROXY: [(&str, &str); 2] = [
    ("MIXTAPE_TRUSTED_PROXIES", "127.0.0.1"),
    ("MIXTAPE_DRAIN_SECS", "6"),
];

fn balance(nodes: &[&Node]) -> Haproxy {
    let servers: Vec<(&str, &str)> = nodes.iter().map(|n| (n.name.as_str(), n.addr())).collect();
    let lb = Haproxy::start(&servers);
    for n in nodes {
        lb.wait_status(&n.name, "UP", Duration::from_secs(10));
    }
    lb
}

/// A client of the balancer, logged in as the admin.
fn client(lb: &Haproxy) -> Node {
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut node = Node::remote("lb", &lb.url(), http);
    node.token = node.login("admin", ADMIN_PASSWORD);
    node
}

fn track_ids(client: &Node) -> Vec<i64> {
    let page = client.get("/api/v1/tracks?limit=50");
    let ids: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert!(!ids.is_empty(), "the library was scanned");
    ids
}

fn assert_no_errors(phase: &str, tally: &load::Tally) {
    assert!(
        tally.errors.is_empty(),
        "{phase}: {} of {} requests failed: {:?}",
        tally.errors.len(),
        tally.requests(),
        &tally.errors[..tally.errors.len().min(10)]
    );
    for kind in ["albums", "search", "events", "sync_ops"] {
        assert!(
            tally.ok.get(kind).copied().unwrap_or(0) >= 5,
            "{phase}: too little {kind} traffic to mean anything: {:?}",
            tally.ok
        );
    }
}

#[test]
fn a_node_killed_or_drained_under_load_costs_no_request() {
    let db = ScratchDatabase::for_test("lb_kill");
    let redis = RedisServer::start();
    let deploy = Deployment::demo(db.url(), &[], Some(&redis.url()));
    let a = deploy.node_without_login("a", &BEHIND_HAPROXY);
    let mut b = deploy.node_without_login("b", &BEHIND_HAPROXY);
    let mut c = deploy.node_without_login("c", &BEHIND_HAPROXY);
    deploy.wait_scan_idle(&a);
    let lb = balance(&[&a, &b, &c]);
    let client = client(&lb);
    let tracks = track_ids(&client);

    // kill -9 under load: in-flight requests to b get no answer, new ones find it closed,
    // until the health checks take it out. haproxy replays them on another node.
    let load = Load::start(&lb.url(), &client.token, &tracks, 4);
    std::thread::sleep(Duration::from_millis(1500));
    let killed = Instant::now();
    b.kill();
    let out = lb.wait_status("b", "DOWN", Duration::from_secs(15));
    // 2 failed checks 500 ms apart, with room for a starved machine.
    assert!(
        out - killed < Duration::from_secs(6),
        "haproxy took b out after {:?}",
        out - killed
    );
    std::thread::sleep(Duration::from_millis(1500));
    let tally = load.stop();
    let retried: u64 = lb
        .servers()
        .values()
        .map(|s| s.retries + s.redispatches)
        .sum();
    eprintln!(
        "kill: {} requests {:?}, p99 before the kill {:?}, after {:?}, {retried} retried",
        tally.requests(),
        tally.ok,
        tally.p99(killed - Duration::from_secs(60)..killed),
        tally.p99(killed..Instant::now()),
    );
    assert_no_errors("kill -9", &tally);
    assert!(retried > 0, "the kill hit no request: {:?}", lb.servers());
    let mut events = tally.events_sent;
    let mut playlists = tally.playlists_made;

    // SIGTERM under load: c answers 503 on /readyz while it keeps serving, haproxy takes it
    // out, and only then does c stop accepting. No request needs a retry for that.
    let load = Load::start(&lb.url(), &client.token, &tracks, 4);
    std::thread::sleep(Duration::from_millis(1000));
    c.terminate();
    lb.wait_status("c", "DOWN", Duration::from_secs(15));
    assert!(
        c.is_running(),
        "c was still serving when haproxy took it out"
    );
    let status = c.wait_exit(Duration::from_secs(40));
    assert!(status.success(), "c exits cleanly after draining: {status}");
    std::thread::sleep(Duration::from_millis(500));
    let tally = load.stop();
    assert_no_errors("SIGTERM", &tally);
    events += tally.events_sent;
    playlists += tally.playlists_made;

    // Every event and playlist acknowledged is stored, once.
    let history = client.get("/api/v1/history?limit=1");
    assert_eq!(
        history["total"].as_u64(),
        Some(events),
        "events stored = events sent"
    );
    let lists = client.get("/api/v1/playlists");
    assert_eq!(lists.as_array().unwrap().len() as u64, playlists);
}

#[test]
fn reads_move_to_the_primary_when_the_replica_goes_down() {
    let primary = PgCluster::primary();
    primary
        .client("postgres")
        .batch_execute("CREATE DATABASE mixtape")
        .unwrap();
    let replica = PgCluster::replica_of(&primary);
    let redis = RedisServer::start();
    let replica_url = replica.url("mixtape");
    let deploy = Deployment::demo(&primary.url("mixtape"), &[&replica_url], Some(&redis.url()));
    let a = deploy.node_without_login("a", &BEHIND_HAPROXY);
    let b = deploy.node_without_login("b", &BEHIND_HAPROXY);
    deploy.wait_scan_idle(&a);
    replica.wait_caught_up(&primary);
    let lb = balance(&[&a, &b]);
    let client = client(&lb);
    let tracks = track_ids(&client);

    let load = Load::start(&lb.url(), &client.token, &tracks, 4);
    std::thread::sleep(Duration::from_millis(1500));
    // The replica really served reads (the nodes open replica connections only to use them).
    let readers: i64 = replica
        .client("postgres")
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'mixtape' AND backend_type = 'client backend'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(readers > 0, "no node read from the replica");
    let stopped = Instant::now();
    replica.stop();
    std::thread::sleep(Duration::from_secs(8));
    let tally = load.stop();
    assert_no_errors("replica down", &tally);
    let after = tally
        .latencies
        .iter()
        .filter(|(at, _)| *at > stopped + Duration::from_secs(2))
        .count();
    assert!(
        after > 20,
        "reads kept coming after the replica went: {after}"
    );
    for n in ["a", "b"] {
        assert_eq!(lb.servers()[n].status, "UP", "{n} stays in the pool");
    }
}

#[test]
fn a_download_cut_by_a_killed_node_resumes_on_another_and_verifies() {
    use mixtape::cache::{AudioCache, CacheConfig, Fetcher};

    let db = ScratchDatabase::for_test("lb_download");
    let redis = RedisServer::start();
    // One 32 MiB track: long enough that the kill lands mid-body.
    let deploy = Deployment::new(db.url(), &[], Some(&redis.url()), |lib| {
        let dir = lib.join("Big/Long");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("long.wav"), nodes::wav_of_len(7, 16 << 20)).unwrap();
    });
    let mut a = deploy.node_without_login("a", &BEHIND_HAPROXY);
    let b = deploy.node_without_login("b", &BEHIND_HAPROXY);
    deploy.wait_scan_idle(&a);
    let lb = balance(&[&a, &b]);
    let client = client(&lb);
    let track = &client.get("/api/v1/tracks?limit=1")["items"][0];
    let hash = track["content_hash"].as_str().unwrap().to_string();
    let size = track["size_bytes"].as_u64().unwrap();
    assert!(size > 30 << 20, "{track}");

    // Only a takes new requests, so a serves the download's first request.
    lb.set_state("b", "drain");
    let dir = tempfile::tempdir().unwrap();
    let (cache, _) = AudioCache::open(dir.path(), CacheConfig::default()).unwrap();
    let fetcher = Fetcher::new(&lb.url(), &client.token).unwrap();
    let mut cut_at = None;
    let path = cache
        .fetch_with_progress(&fetcher, &hash, size, |done| {
            if cut_at.is_none() && done > 0 && done < size {
                lb.set_state("b", "ready");
                a.kill();
                cut_at = Some(done);
            }
        })
        .expect("the download resumes through the balancer and verifies");
    let cut_at = cut_at.expect("progress was reported mid-download");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len() as u64, size);
    assert_eq!(blake3::hash(&bytes).to_hex().as_str(), hash);

    // b answered a range request for the rest: a resume, not a fresh start.
    let deadline = Instant::now() + Duration::from_secs(30);
    let resumed = loop {
        let log = lb.log();
        let line = log
            .lines()
            .find(|l| l.contains("nodes/b") && l.contains(" 206 ") && l.contains("/api/v1/media/"))
            .map(str::to_string);
        if line.is_some() || Instant::now() > deadline {
            break line;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        resumed.is_some(),
        "no 206 from b after the cut at byte {cut_at}: {}",
        lb.log()
    );
    eprintln!(
        "cut at byte {cut_at} of {size}; media requests:\n{}",
        lb.log()
            .lines()
            .filter(|l| l.contains("/api/v1/media/"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(!a.is_running());
}

/// The pids `deploy/local-cluster up` left in `state`: nodes, haproxy, Redis, both PostgreSQL,
/// nginx (the edge), RabbitMQ (the process `up` spawned and the Erlang VM's own pid file).
fn cluster_pids(state: &Path) -> Vec<u32> {
    let mut files: Vec<_> = std::fs::read_dir(state.join("nodes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pid"))
        .collect();
    files.extend(
        [
            "haproxy/haproxy.pid",
            "redis/redis.pid",
            "pg/primary/postmaster.pid",
            "pg/replica/postmaster.pid",
            "edge/nginx.pid.ours",
            "rabbitmq/rabbitmq.pid",
            "rabbitmq/pid",
        ]
        .map(|f| state.join(f)),
    );
    files
        .iter()
        .map(|f| {
            let text =
                std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            text.lines().next().unwrap().trim().parse().unwrap()
        })
        .collect()
}

/// Alive and not a zombie.
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

#[test]
fn local_cluster_up_serves_through_the_balancer_and_down_leaves_nothing() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/local-cluster");
    let tmp = tempfile::tempdir().unwrap();
    let library = tmp.path().join("library");
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo"),
        &library,
    );
    let state = tmp.path().join("state");
    let run = |args: &[&str]| {
        let out = Command::new(&script)
            .args(args)
            .env("MIXTAPE_SERVER_BIN", env!("CARGO_BIN_EXE_mixtape-server"))
            .env("MIXTAPE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "local-cluster {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let state_arg = state.to_str().unwrap();
    let printed = run(&[
        "up",
        "--nodes",
        "2",
        "--library",
        library.to_str().unwrap(),
        "--state",
        state_arg,
    ]);
    let lb = printed
        .lines()
        .find_map(|l| l.strip_prefix("lb="))
        .unwrap_or_else(|| panic!("no lb= line in {printed:?}"))
        .to_string();
    let edge = printed
        .lines()
        .find_map(|l| l.strip_prefix("edge="))
        .unwrap_or_else(|| panic!("no edge= line in {printed:?}"))
        .to_string();
    let pids = cluster_pids(&state);
    assert_eq!(pids.len(), 9, "{pids:?}");
    assert!(pids.iter().all(|&p| running(p)), "{pids:?}");

    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut client = Node::remote("lb", &lb, http);
    client.token = client.login("admin", ADMIN_PASSWORD);
    // Both nodes answer through lb= (leastconn sends a lone client's requests to either).
    let page = wait_for_albums(&client);
    assert!(!page["items"].as_array().unwrap().is_empty(), "{page}");
    let track = &client.get("/api/v1/tracks?limit=1")["items"][0];
    let stream = client
        .http
        .get(format!("{lb}/api/v1/tracks/{}/stream", track["id"]))
        .bearer_auth(&client.token)
        .send()
        .unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    let audio = stream.bytes().unwrap();
    assert_eq!(audio.len() as u64, track["size_bytes"].as_u64().unwrap());
    assert_eq!(
        blake3::hash(&audio).to_hex().as_str(),
        track["content_hash"].as_str().unwrap()
    );

    // The nodes sign media URLs on the edge: a first fetch is a miss, the next a hit, same bytes.
    let media_url = track["media_url"].as_str().unwrap();
    assert!(
        media_url.starts_with(&format!("{edge}/media/")),
        "{media_url}"
    );
    for expected in ["MISS", "HIT"] {
        let r = client.http.get(media_url).send().unwrap();
        assert_eq!(r.status().as_u16(), 200, "{media_url}");
        let status = r.headers()["x-cache-status"].to_str().unwrap().to_string();
        assert_eq!(status, expected, "{media_url}");
        assert_eq!(r.bytes().unwrap(), audio);
    }

    // The recommender's events go through the cluster's RabbitMQ.
    let queue = client.get("/api/v1/admin/queue");
    assert_eq!(queue["queue"]["broker"]["connected"], true, "{queue}");

    // A Subsonic app, pointed at the edge or the balancer: the edge passes `/rest/` through to
    // haproxy (its URLs carry per-user credentials, so they are not cached), same bytes.
    let r = client
        .http
        .put(format!("{lb}/api/v1/me/subsonic-password"))
        .bearer_auth(&client.token)
        .json(&serde_json::json!({"password": "app-password-1"}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let auth = format!(
        "u=admin&t={}&s=5a17&v=1.16.1&c=cluster-test&f=json",
        md5_hex("app-password-15a17")
    );
    for base in [&edge, &lb] {
        let ping: Value = client
            .http
            .get(format!("{base}/rest/ping?{auth}"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(ping["subsonic-response"]["status"], "ok", "{base}: {ping}");
        let song = client
            .http
            .get(format!("{base}/rest/stream?id={}&{auth}", track["id"]))
            .send()
            .unwrap();
        assert_eq!(song.status().as_u16(), 200, "{base}");
        assert_eq!(song.bytes().unwrap(), audio, "{base}");
        let album = &client.get("/api/v1/albums?limit=1")["items"][0];
        if let Some(art) = album["cover_art"].as_str() {
            let cover = client
                .http
                .get(format!(
                    "{base}/rest/getCoverArt?id=al-{}&size=64&{auth}",
                    album["id"]
                ))
                .send()
                .unwrap();
            assert_eq!(cover.status().as_u16(), 200, "{base} cover {art}");
            assert!(
                cover.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("image/"),
                "{base}"
            );
        }
    }

    // Users live on the two shard databases; STATE/admin moves one, the cluster still serves it.
    let admin = |args: &[&str]| -> Value {
        let out = Command::new(state.join("admin"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "admin {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(
        admin(&["shards", "list"])["shards"],
        serde_json::json!([
            {"name": "primary", "users": 0},
            {"name": "shard1", "users": 1},
            {"name": "shard2", "users": 0},
        ])
    );
    let created = client
        .post_with(
            "/api/v1/playlists",
            &client.token.clone(),
            &serde_json::json!({"name": "moves along"}),
        )
        .unwrap();
    let moved = admin(&["shards", "move", "admin", "shard2"]);
    assert_eq!(
        (moved["from"].as_str(), moved["to"].as_str()),
        (Some("shard1"), Some("shard2"))
    );
    let playlist = client.get(&format!(
        "/api/v1/playlists/{}",
        created["id"].as_str().unwrap()
    ));
    assert_eq!(playlist["name"], "moves along");

    run(&["down", "--state", state_arg]);
    let left: Vec<u32> = pids.iter().copied().filter(|&p| running(p)).collect();
    assert!(left.is_empty(), "still running after down: {left:?}");
    // A second down finds nothing to stop and says so without failing.
    run(&["down", "--state", state_arg]);
}

/// The first scan may still be running when `up` returns: wait for albums to show.
fn wait_for_albums(client: &Node) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page = client.get("/api/v1/albums?limit=10");
        if page["items"].as_array().is_some_and(|a| !a.is_empty()) || Instant::now() > deadline {
            return page;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A stand-in node for the retry policy test: counts each request (`METHOD /path`), answers
/// `/readyz` with 200, and either answers everything else with 200 or reads it and hangs up
/// without a word (what a node killed mid-request looks like from haproxy).
struct StandIn {
    addr: String,
    seen: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, u32>>>,
}

impl StandIn {
    fn start(answers: bool) -> Self {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
        let counts = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut length = 0usize;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                        break;
                    }
                    if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let request: String = line
                    .split_whitespace()
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ");
                if !request.ends_with("/readyz") {
                    *counts.lock().unwrap().entry(request.clone()).or_insert(0) += 1;
                }
                if answers || request.ends_with("/readyz") {
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    );
                }
                // Dropped: closed, with or without an answer.
            }
        });
        Self { addr, seen }
    }

    fn seen(&self, request: &str) -> u32 {
        self.seen.lock().unwrap().get(request).copied().unwrap_or(0)
    }
}

/// The configuration's retry policy, request by request: a node that hangs up without
/// answering is retried on another only for requests that are safe to replay.
#[test]
fn the_balancer_replays_only_what_is_safe_to_replay() {
    let broken = StandIn::start(false);
    let healthy = StandIn::start(true);
    let lb = Haproxy::start(&[("broken", &broken.addr), ("healthy", &healthy.addr)]);
    lb.wait_status("broken", "UP", Duration::from_secs(10));
    lb.wait_status("healthy", "UP", Duration::from_secs(10));
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let tries = 10u32;
    // (method, path, Idempotency-Key, safe to replay)
    let cases = [
        ("GET", "/api/v1/albums", None, true),
        ("HEAD", "/api/v1/media/abc", None, true),
        ("POST", "/api/v1/events", None, true),
        ("POST", "/api/v1/sync/ops", None, true),
        ("POST", "/api/v1/playlists/p/entries", Some("k-1"), true),
        ("GET", "/rest/getAlbum", None, true),
        ("POST", "/api/v1/auth/login", None, false),
        ("POST", "/api/v1/playlists", None, false),
        ("DELETE", "/api/v1/playlists/x", None, false),
        ("GET", "/rest/createPlaylist", None, false),
        ("GET", "/rest/scrobble", None, false),
    ];
    for (method, path, key, safe) in cases {
        let mut failed = 0;
        for _ in 0..tries {
            let mut request = http
                .request(method.parse().unwrap(), format!("{}{path}", lb.url()))
                .body("{}");
            if let Some(key) = key {
                request = request.header("Idempotency-Key", key);
            }
            // Not replayed, a failure reaches the client as a 502, or (on a kept-alive
            // connection) as haproxy closing it without an answer, as a server may.
            match request.send().map(|r| r.status().as_u16()) {
                Ok(200) => {}
                Ok(502) => failed += 1,
                Err(e) if e.is_request() => failed += 1,
                other => panic!("{method} {path}: {other:?}"),
            }
        }
        let what = format!("{method} {path} key={key:?}");
        let request = format!("{method} {path}");
        let (on_broken, on_healthy) = (broken.seen(&request), healthy.seen(&request));
        assert!(on_broken > 0, "{what}: the broken node never got one");
        if safe {
            assert_eq!(failed, 0, "{what}: replayed on the healthy node");
            assert_eq!(on_healthy, tries, "{what}");
        } else {
            assert_eq!(
                failed, on_broken,
                "{what}: not replayed, so the client sees it fail"
            );
            assert_eq!(on_broken + on_healthy, tries, "{what}: each sent once");
        }
    }
}
