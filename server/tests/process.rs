//! The `mixtape-server` binary as an operator runs it: flags, the bound address in the log,
//! SIGTERM, and kill -9 in the middle of a scan and of heavy playlist pushes.

mod common;

use common::Server;
use mixtape_shared::sync::{Anchor, NewEntry, OpKind, PlaylistOp, Snapshot, materialize};
use mixtape_shared::{DeviceId, EntryId, OpId, PlaylistId, TrackId};
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
                Some("jpg" | "png" | "lrc")
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

/// A log that is not a terminal gets no colour codes, NO_COLOR or not.
#[test]
fn the_log_has_no_colour_codes_when_stderr_is_not_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let library = tmp.path().join("library");
    common::copy_dir(&demo_dir(), &library);
    // An empty value removes NO_COLOR from the environment.
    let server = common::start(
        &library,
        &tmp.path().join("data"),
        PASSWORD,
        &[("NO_COLOR", "")],
    );
    server.wait_for_scan();
    let log = server.log.lock().unwrap().clone();
    assert!(log.iter().any(|l| l.contains("listening on")), "{log:?}");
    assert!(
        log.iter().all(|l| !l.contains('\u{1b}')),
        "ANSI codes in a piped log: {log:?}"
    );
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

/// One device's ops on one playlist, as the heavy pusher of finding 13 makes them.
struct Pusher {
    device: DeviceId,
    playlist: PlaylistId,
    entries: Vec<EntryId>,
    clock: u64,
}

impl Pusher {
    fn op(&mut self, kind: OpKind) -> PlaylistOp {
        self.clock += 1;
        PlaylistOp {
            id: OpId::new_v7(),
            playlist_id: self.playlist,
            clock: self.clock,
            device: self.device,
            kind,
        }
    }

    fn moves(&mut self, n: usize) -> Vec<PlaylistOp> {
        (0..n)
            .map(|_| {
                let k = self.clock as usize;
                let entry = self.entries[k % self.entries.len()];
                let after = self.entries[(k * 7 + 3) % self.entries.len()];
                self.op(OpKind::Move {
                    entry,
                    to: Anchor::After(after),
                })
            })
            .collect()
    }
}

fn push_ops(
    http: &reqwest::blocking::Client,
    base: &str,
    token: &str,
    ops: &[PlaylistOp],
) -> reqwest::Result<Value> {
    http.post(format!("{base}/api/v1/sync/ops"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "ops": ops }))
        .send()?
        .error_for_status()?
        .json()
}

#[test]
fn kill_9_during_heavy_playlist_pushes_keeps_every_acknowledged_op_and_a_consistent_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let library = tmp.path().join("lib");
    linked_library(&library, 1);
    let data = tmp.path().join("data");
    let server = start(&library, &data);
    server.wait_for_scan();
    let tracks = server.get("/api/v1/tracks?limit=20");
    let tracks: Vec<i64> = tracks["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    let mut pusher = Pusher {
        device: DeviceId::new_v7(),
        playlist: PlaylistId::new_v7(),
        entries: (0..tracks.len()).map(|_| EntryId::new_v7()).collect(),
        clock: 0,
    };
    let create = pusher.op(OpKind::Create {
        name: "heavy".into(),
        public: false,
    });
    let entries = pusher
        .entries
        .iter()
        .zip(&tracks)
        .map(|(&id, &t)| NewEntry {
            id,
            track_id: TrackId(t),
        })
        .collect();
    let add = pusher.op(OpKind::Add {
        entries,
        at: Anchor::End,
    });
    let first = vec![create, add];
    push_ops(&server.http, &server.base, &server.token, &first).unwrap();

    // Pushes of 1000 moves until the server dies; past two compactions before it does.
    let acked = std::sync::Arc::new(std::sync::Mutex::new(first));
    let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (base, token) = (server.base.clone(), server.token.clone());
    let (acked2, sent2) = (acked.clone(), sent.clone());
    let pushing = std::thread::spawn(move || {
        let http = reqwest::blocking::Client::new();
        loop {
            let batch = pusher.moves(1000);
            sent2.lock().unwrap().extend(batch.iter().cloned());
            match push_ops(&http, &base, &token, &batch) {
                Ok(answer) => {
                    assert_eq!(answer["accepted"], 1000, "{answer}");
                    acked2.lock().unwrap().extend(batch);
                }
                Err(_) => return,
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(240);
    while acked.lock().unwrap().len() < 12_000 {
        assert!(Instant::now() < deadline, "pushes too slow");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    pushing.join().unwrap();

    let acked = acked.lock().unwrap().clone();
    let sent = sent.lock().unwrap().clone();
    {
        let db = rusqlite::Connection::open(data.join("mixtape.db")).unwrap();
        let check: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        // The kept snapshot is what its base and the ops logged since make.
        let (snapshot, base): (String, Option<String>) = db
            .query_row("SELECT snapshot, base FROM playlist_snapshots", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        let snapshot: Snapshot = serde_json::from_str(&snapshot).unwrap();
        let base: Option<Snapshot> = base.map(|b| serde_json::from_str(&b).unwrap());
        assert!(base.is_some(), "the log was compacted");
        let unfolded: Vec<PlaylistOp> = db
            .prepare("SELECT body FROM playlist_ops WHERE folded = 0 ORDER BY rowid")
            .unwrap()
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|b| serde_json::from_str(&b.unwrap()).unwrap())
            .collect();
        assert_eq!(Snapshot::rebuild(base, &unfolded), Some(snapshot));
    }

    let server = start(&library, &data);
    // Every acknowledged op is there: pushed again, each is a duplicate.
    for chunk in acked.chunks(1000) {
        let answer = push_ops(&server.http, &server.base, &server.token, chunk).unwrap();
        assert_eq!(
            (answer["accepted"].clone(), answer["duplicates"].as_u64()),
            (serde_json::json!(0), Some(chunk.len() as u64)),
            "{answer}"
        );
    }
    // The push the kill cut short goes again too; then the playlist is the full materialize.
    for chunk in sent[acked.len() - 2..].chunks(1000) {
        push_ops(&server.http, &server.base, &server.token, chunk).unwrap();
    }
    let all: Vec<PlaylistOp> = acked.iter().chain(&sent).cloned().collect();
    let expected = materialize(&all).unwrap();
    let playlist = server.get(&format!("/api/v1/playlists/{}", expected.id));
    let got: Vec<String> = playlist["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let want: Vec<String> = expected.entries().map(|(e, _)| e.to_string()).collect();
    assert_eq!(got, want);
}
