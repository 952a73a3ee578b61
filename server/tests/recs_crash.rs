//! The recommendation queue across crashes of the `mixtape-server` binary: the worker aborted
//! between its commit and its acknowledgement, and kill -9 while it works. After a restart the
//! state equals a full rebuild from history (what a run without a crash makes) and nothing is
//! lost or counted twice.

mod common;

use common::Server;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PASSWORD: &str = "recs-crash-password";

fn start(library: &Path, data: &Path, fault: bool) -> Server {
    let fault = if fault { "abort-before-ack" } else { "" };
    common::start(library, data, PASSWORD, &[("MIXTAPE_RECS_FAULT", fault)])
}

impl Server {
    fn drain(&self) -> Value {
        self.queue_when("the queue drains", |q| q["queue"]["depth"] == 0)
    }

    /// The admin's queue view once `done` holds.
    fn queue_when(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let q = self.get("/api/v1/admin/queue");
            if done(&q) {
                return q;
            }
            assert!(Instant::now() < deadline, "never {what}: {q}");
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
    s.drain();
    // Counted just after the commit that empties the queue.
    s.queue_when("the unacknowledged batch came again", |q| {
        q["duplicates"].as_u64().is_some_and(|n| n > 0)
    });
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
