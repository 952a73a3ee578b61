//! The recommendation queue across crashes of the `mixtape-server` binary: the worker aborted
//! between its commit and its acknowledgement, and kill -9 while it works. After a restart the
//! state equals a full rebuild from history (what a run without a crash makes) and nothing is
//! lost or counted twice.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "recs-crash-password";

struct Server {
    child: Child,
    base: String,
    token: String,
    http: reqwest::blocking::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(library: &Path, data: &Path, fault: bool) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mixtape-server"));
    cmd.args([
        "--library",
        library.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--no-watch",
    ])
    .env("MIXTAPE_ADMIN_PASSWORD", PASSWORD)
    .env("MIXTAPE_LOG", "info")
    .env("NO_COLOR", "1")
    .stderr(Stdio::piped());
    if fault {
        cmd.env("MIXTAPE_RECS_FAULT", "abort-before-ack");
    } else {
        cmd.env_remove("MIXTAPE_RECS_FAULT");
    }
    let mut child = cmd.spawn().unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if let Some(addr) = line.split("listening on http://").nth(1) {
                let _ = tx.send(addr.split_whitespace().next().unwrap().to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server logs its address");
    let base = format!("http://{addr}");
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    Server {
        child,
        base,
        token: login["token"].as_str().unwrap().to_string(),
        http,
    }
}

impl Server {
    fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .unwrap()
            .json()
            .unwrap()
    }
    fn post(&self, path: &str, body: &Value) -> reqwest::Result<Value> {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()?
            .json()
    }
    fn drain(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let q = self.get("/api/v1/admin/queue");
            if q["queue"]["depth"] == 0 {
                return q;
            }
            assert!(Instant::now() < deadline, "queue did not drain: {q}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `n` finished plays over `tracks` by one listener, three minutes apart.
fn events(n: usize, offset: usize) -> Vec<Value> {
    (0..n)
        .map(|k| {
            let k = k + offset;
            json!({"id": uuid::Uuid::now_v7(), "track_id": 1 + (k * 7 % 17) as i64, "kind": "finish", "position_ms": 0,
                   "at_ms": 1_700_000_000_000i64 + k as i64 * 180_000})
        })
        .collect()
}

fn post_all(s: &Server, events: &[Value]) -> u64 {
    let mut accepted = 0;
    for chunk in events.chunks(1000) {
        let r = s.post("/api/v1/events", &json!({"events": chunk})).unwrap();
        accepted += r["accepted"].as_u64().unwrap();
    }
    accepted
}

fn demo_copy(root: &Path) -> PathBuf {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &to.join(e.file_name()));
            } else {
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
    }
    let lib = root.join("library");
    copy(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo"),
        &lib,
    );
    lib
}

#[test]
fn a_worker_crash_mid_batch_loses_nothing_and_counts_nothing_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let library = demo_copy(tmp.path());
    let data = tmp.path().join("data");

    // 1. The worker commits a batch's work, then the process aborts before the acknowledgement.
    let mut s = start(&library, &data, true);
    let first = events(300, 0);
    assert_eq!(post_all(&s, &first), 300, "accepted before the crash");
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the fault hook did not abort the server"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(s);
    s = start(&library, &data, false);
    let q = s.drain();
    assert!(
        q["duplicates"].as_u64().unwrap() > 0,
        "the unacknowledged batch came again: {q}"
    );
    let after_abort = s.get("/api/v1/admin/recs");
    assert_eq!(after_abort["applied"], 300, "{after_abort}");

    // 2. kill -9 while the worker is busy with a backlog.
    let second = events(4000, 300);
    assert_eq!(post_all(&s, &second), 4000);
    let _ = s.child.kill();
    let _ = s.child.wait();
    drop(s);
    s = start(&library, &data, false);
    s.drain();
    // Resubmitting everything (a client that never saw the answers) changes nothing.
    let all: Vec<Value> = first.iter().chain(&second).cloned().collect();
    assert_eq!(post_all(&s, &all), 0);
    s.drain();
    let incremental = s.get("/api/v1/admin/recs");
    assert_eq!(incremental["applied"], 4300, "{incremental}");
    let rebuilt = s.post("/api/v1/admin/recs/rebuild", &json!({})).unwrap();
    assert_eq!(
        rebuilt["summary"], incremental,
        "the state equals a run without crashes"
    );
}
