//! The `mixtape-server` binary under hostile logins: a burst of made-up names (bounded memory),
//! parallel guesses at one account (the throttle cannot be raced), a flood from one address
//! (nobody else locked out), and credentials kept out of a debug log.

mod common;

use common::Server;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

const PASSWORD: &str = "process-test-password";

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo")
}

fn start(tmp: &Path) -> Server {
    common::start(&demo_dir(), &tmp.join("data"), PASSWORD, &[])
}

/// `VmHWM` (peak) and `VmRSS` (now) of a process, in MiB.
fn memory_mib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kib| kib.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
            / 1024
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn client_from(address: &str) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .local_address(address.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// `count` logins released together, each from `address(i)` as `username(i)`; their statuses.
fn burst(
    server: &Server,
    count: usize,
    address: impl Fn(usize) -> String,
    login: impl Fn(usize) -> (String, String),
) -> Vec<u16> {
    let barrier = Arc::new(Barrier::new(count));
    let url = format!("{}/api/v1/auth/login", server.base);
    let threads: Vec<_> = (0..count)
        .map(|i| {
            let (barrier, url) = (barrier.clone(), url.clone());
            let client = client_from(&address(i));
            let (username, password) = login(i);
            std::thread::spawn(move || {
                barrier.wait();
                client
                    .post(&url)
                    .json(&json!({"username": username, "password": password}))
                    .send()
                    .map(|r| r.status().as_u16())
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().unwrap().expect("every login is answered"))
        .collect()
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[test]
fn a_burst_of_made_up_logins_keeps_memory_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start(tmp.path());
    let pid = server.child.id();
    let (_, before) = memory_mib(pid);
    // The worst case for memory: every login from its own address, so no address budget helps.
    let statuses = burst(
        &server,
        150,
        |i| format!("127.0.1.{}", i + 1),
        |i| (format!("nobody{i}"), "x".into()),
    );
    let (peak, after) = memory_mib(pid);
    eprintln!(
        "login burst: rss before {before} MiB, peak {peak} MiB, after {after} MiB; 401 ×{}, 429 ×{}, 503 ×{}",
        count(&statuses, 401),
        count(&statuses, 429),
        count(&statuses, 503)
    );
    assert!(
        statuses.iter().all(|s| matches!(s, 401 | 429 | 503)),
        "{statuses:?}"
    );
    assert!(count(&statuses, 401) > 0, "some were evaluated");
    assert!(peak < 400, "peak RSS {peak} MiB");
    assert!(after < 300, "RSS after the burst {after} MiB");
}

#[test]
fn parallel_guesses_evaluate_at_most_the_allowed_number() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start(tmp.path());
    let statuses = burst(
        &server,
        60,
        |_| "127.0.0.2".into(),
        |i| ("admin".into(), format!("guess{i}")),
    );
    eprintln!(
        "parallel guesses: 401 ×{}, 429 ×{}, 503 ×{}",
        count(&statuses, 401),
        count(&statuses, 429),
        count(&statuses, 503)
    );
    assert!(
        statuses.iter().all(|s| matches!(s, 401 | 429 | 503)),
        "{statuses:?}"
    );
    assert!(
        count(&statuses, 401) <= 5,
        "{} guesses evaluated",
        count(&statuses, 401)
    );
    // The owner, elsewhere, is not locked out.
    let r = client_from("127.0.0.3")
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn a_flood_from_one_address_locks_nobody_out() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start(tmp.path());
    let created = server
        .post(
            "/api/v1/users",
            &json!({"username": "u1", "password": "u1-password"}),
        )
        .unwrap();
    assert_eq!(created["username"], "u1");
    let login = |from: &str, username: &str, password: &str| {
        client_from(from)
            .post(format!("{}/api/v1/auth/login", server.base))
            .json(&json!({"username": username, "password": password}))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    // 25 bad logins from one address (a shared proxy, a NAT), distinct made-up names.
    for i in 0..25 {
        assert_eq!(login("127.0.0.4", &format!("made-up{i}"), "x"), 401);
    }
    // Another user's correct password from the same address: accepted.
    assert_eq!(login("127.0.0.4", "admin", PASSWORD), 200);
    // The user's own failures from one address do not lock out their other clients.
    for _ in 0..8 {
        login("127.0.0.5", "u1", "wrong");
    }
    assert_eq!(login("127.0.0.6", "u1", "u1-password"), 200);
}

#[test]
fn a_debug_log_holds_no_credentials() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mixtape-server"))
        .args(["--library", demo_dir().to_str().unwrap()])
        .args(["--data-dir", tmp.path().join("data").to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0", "--no-watch", "--log", "debug"])
        .env("MIXTAPE_ADMIN_PASSWORD", PASSWORD)
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let lines = lines.clone();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(addr.split_whitespace().next().unwrap().to_string());
                }
                lines.lock().unwrap().push(line);
            }
        });
    }
    let addr = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let http = reqwest::blocking::Client::new();
    for query in [
        "u=admin&p=SuperSecretPW123&f=json",
        "apiKey=mk_LEAKTEST&f=json",
        "u=admin&t=0123456789abcdef0123456789abcdef&s=SALTLEAK&f=json",
    ] {
        http.get(format!("http://{addr}/rest/ping?{query}"))
            .send()
            .unwrap();
    }
    // The three requests' log lines, then the process goes.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while lines
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("uri=/rest/ping?"))
        .count()
        < 3
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = lines.lock().unwrap().join("\n");
    assert!(
        log.contains("uri=/rest/ping?"),
        "requests are logged at debug"
    );
    for secret in [
        "SuperSecretPW123",
        "mk_LEAKTEST",
        "0123456789abcdef0123456789abcdef",
        "SALTLEAK",
    ] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
}
