//! The `mixtape-server` binary as an operator runs it: flags, the bound address in the log,
//! SIGTERM, and kill -9 in the middle of a scan.

mod common;

use common::Server;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const PASSWORD: &str = "process-test-password";

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo")
}

/// `copies` copies of the demo library as hard links: many paths, little disk.
fn linked_library(root: &Path, copies: usize) -> usize {
    let mut count = 0;
    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                files(&p, out)
            } else {
                out.push(p)
            }
        }
    }
    let mut all = Vec::new();
    files(&demo_dir(), &mut all);
    for i in 0..copies {
        for f in &all {
            let rel = f.strip_prefix(demo_dir()).unwrap();
            let target = root.join(format!("copy{i:03}")).join(rel);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::hard_link(f, &target).unwrap();
            if !matches!(
                target.extension().and_then(|e| e.to_str()),
                Some("jpg" | "png")
            ) {
                count += 1;
            }
        }
    }
    count
}

fn start(library: &Path, data: &Path) -> Server {
    common::start(library, data, PASSWORD, &[])
}

impl Server {
    fn wait_for_scan(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let s = self.get("/api/v1/scan");
            if s["state"] == "idle" && s["phase"] == "done" {
                return s;
            }
            assert!(Instant::now() < deadline, "scan did not finish: {s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// (path-independent) fingerprint of the catalog: each track's hash, title, artists, album.
    fn catalog(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = self.get(&format!(
                "/api/v1/tracks?limit=500&sort=added&cursor={cursor}"
            ));
            for t in page["items"].as_array().unwrap() {
                out.push(format!(
                    "{} {} {} {} {}",
                    t["content_hash"], t["title"], t["artists"], t["album"]["title"], t["genres"]
                ));
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = c.to_string(),
                None => break,
            }
        }
        out.sort();
        out
    }
}

#[test]
fn sigterm_shuts_down_gracefully() {
    let tmp = tempfile::tempdir().unwrap();
    let library = tmp.path().join("lib");
    linked_library(&library, 1);
    let mut server = start(&library, &tmp.path().join("data"));
    server.wait_for_scan();
    let health: Value = reqwest::blocking::get(format!("{}/healthz", server.base))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["status"], "ok");
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn kill_9_during_a_scan_leaves_a_consistent_database_and_the_next_start_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let library = tmp.path().join("lib");
    let expected = linked_library(&library, 40);
    let data = tmp.path().join("data");

    let mut server = start(&library, &data);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = server.get("/api/v1/scan");
        if s["tracks_added"].as_u64().unwrap_or(0) > 0 && s["state"] == "running" {
            break;
        }
        assert!(
            s["state"] == "running" || s["phase"] != "done",
            "the scan finished before it could be interrupted: {s}"
        );
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    {
        let db = rusqlite::Connection::open(data.join("mixtape.db")).unwrap();
        let check: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        let tracks: i64 = db
            .query_row("SELECT count(*) FROM tracks", [], |r| r.get(0))
            .unwrap();
        assert!(
            tracks > 0 && (tracks as usize) < expected,
            "interrupted part-way: {tracks} of {expected}"
        );
        let orphans: i64 = db
            .query_row("SELECT count(*) FROM tracks t WHERE NOT EXISTS (SELECT 1 FROM track_artists a WHERE a.track_id = t.id)", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            orphans, 0,
            "each committed track has its artists: batches are atomic"
        );
    }

    let mut server = start(&library, &data);
    let status = server.wait_for_scan();
    assert!(
        status["failures"].as_array().unwrap().is_empty(),
        "{status}"
    );
    let recovered = server.catalog();
    assert_eq!(recovered.len(), expected);
    let recovered_search = server.get("/api/v1/search?q=nocturne");
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    // The same library scanned without a crash gives the same catalog.
    let mut clean = start(&library, &tmp.path().join("clean-data"));
    clean.wait_for_scan();
    assert_eq!(clean.catalog(), recovered);
    let search = |v: &Value| {
        v["tracks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["content_hash"].clone())
            .collect::<Vec<_>>()
    };
    // Equal-ranked results may come in id order, and ids differ between the two databases.
    let sorted = |mut v: Vec<Value>| {
        v.sort_by_key(|h| h.to_string());
        v
    };
    assert_eq!(
        sorted(search(&clean.get("/api/v1/search?q=nocturne"))),
        sorted(search(&recovered_search)),
        "the search index recovered too"
    );
    clean.child.kill().unwrap();
    clean.child.wait().unwrap();
}
