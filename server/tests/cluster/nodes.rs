//! Server nodes of one deployment: separate `mixtape-server` processes on their own ports and
//! data dirs, sharing the database, Redis, the secret file and the library.

// Shared by the cluster and balancer test targets; each uses a part of it.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN_PASSWORD: &str = "cluster-admin-password";

pub fn md5_hex(s: &str) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(s.as_bytes()))
}

pub struct Deployment {
    database: String,
    replicas: Vec<String>,
    redis: Option<String>,
    pub library: PathBuf,
    secret: PathBuf,
    tmp: tempfile::TempDir,
}

pub struct Node {
    pub name: String,
    child: Option<Child>,
    pub base: String,
    pub token: String,
    pub http: reqwest::blocking::Client,
}

impl Deployment {
    /// Over a library that `fill` writes.
    pub fn new(
        database: &str,
        replicas: &[&str],
        redis: Option<&str>,
        fill: impl FnOnce(&Path),
    ) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let library = tmp.path().join("library");
        std::fs::create_dir_all(&library).unwrap();
        fill(&library);
        let secret = tmp.path().join("secret");
        let bytes: Vec<u8> = (0..48).map(|i| (i * 37 + 11) as u8).collect();
        std::fs::write(&secret, bytes).unwrap();
        Self {
            database: database.into(),
            replicas: replicas.iter().map(|r| r.to_string()).collect(),
            redis: redis.map(str::to_string),
            library,
            secret,
            tmp,
        }
    }

    /// Over a copy of the demo library.
    pub fn demo(database: &str, replicas: &[&str], redis: Option<&str>) -> Self {
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo");
        Self::new(database, replicas, redis, |lib| {
            crate::common::copy_dir(&demo, lib)
        })
    }

    /// Over `count` tiny distinct WAV files, ten to an album folder.
    pub fn generated(database: &str, replicas: &[&str], redis: Option<&str>, count: usize) -> Self {
        Self::new(database, replicas, redis, |lib| {
            for i in 0..count {
                let dir = lib.join(format!("Artist {}/Album {}", i / 100, i / 10));
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join(format!("Track {i}.wav")), wav(i as u32)).unwrap();
            }
        })
    }

    fn command(&self, name: &str, env: &[(&str, &str)]) -> Command {
        let data = self.tmp.path().join(format!("data-{name}"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mixtape-server"));
        cmd.arg("--library")
            .arg(&self.library)
            .arg("--data-dir")
            .arg(&data)
            .args(["--listen", "127.0.0.1:0", "--no-watch"])
            .args(["--database", &self.database, "--node-id", name])
            .arg("--secret-file")
            .arg(&self.secret);
        for r in &self.replicas {
            cmd.args(["--read-replica", r]);
        }
        if let Some(redis) = &self.redis {
            cmd.args(["--redis", redis]);
        }
        cmd.env("MIXTAPE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("MIXTAPE_LOG", "info")
            .env("NO_COLOR", "1")
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `mixtape-server` with a node's configuration plus `args` (an admin command) to
    /// its end.
    pub fn admin(&self, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
        let mut cmd = self.command("admin", env);
        cmd.args(args).stdout(Stdio::piped());
        cmd.output().unwrap()
    }

    /// Starts a node and logs in as the admin.
    pub fn node(&self, name: &str, env: &[(&str, &str)]) -> Node {
        let mut node = self.node_without_login(name, env);
        node.token = node.login("admin", ADMIN_PASSWORD);
        node
    }

    /// Starts a node; `token` stays empty.
    pub fn node_without_login(&self, name: &str, env: &[(&str, &str)]) -> Node {
        let mut child = self.command(name, env).spawn().unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        let label = name.to_string();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if std::env::var_os("MIXTAPE_TEST_NODE_LOGS").is_some() {
                    eprintln!("[{label}] {line}");
                }
                if let Some(addr) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(addr.split_whitespace().next().unwrap().to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("node {name} logs the address it bound"));
        Node {
            name: name.into(),
            child: Some(child),
            base: format!("http://{addr}"),
            token: String::new(),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    /// Polls `node`'s scan status until `leader` leads; returns when.
    pub fn wait_for_leader(&self, node: &Node, leader: &str) -> Instant {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = node.scan_status();
            if status["leader"] == leader {
                return Instant::now();
            }
            assert!(Instant::now() < deadline, "{leader} never led: {status}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until a scan is running and has written something.
    pub fn wait_scan_progress(&self, node: &Node) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status = node.scan_status();
            if status["state"] == "running" && status["tracks_added"].as_u64().unwrap_or(0) > 0 {
                return status;
            }
            assert!(Instant::now() < deadline, "no scan progress: {status}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn wait_scan_idle(&self, node: &Node) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let status = node.scan_status();
            if status["state"] == "idle" && status["finished_at"].is_i64() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the scan never finished: {status}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every track as `content hash → (title, album, artists, duration)`.
    pub fn catalog(&self, node: &Node) -> BTreeMap<String, Value> {
        let token = if node.token.is_empty() {
            node.login("admin", ADMIN_PASSWORD)
        } else {
            node.token.clone()
        };
        let mut out = BTreeMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/tracks?limit=500&cursor={c}"),
                None => "/api/v1/tracks?limit=500".into(),
            };
            let page = node.get_with(&path, &token);
            for t in page["items"].as_array().unwrap() {
                out.insert(
                    t["content_hash"].as_str().unwrap().to_string(),
                    json!([
                        t["title"],
                        t["album"]["title"],
                        t["artists"],
                        t["duration_ms"]
                    ]),
                );
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return out,
            }
        }
    }

    /// The same library scanned by one embedded (SQLite) server.
    pub fn reference_catalog(&self) -> BTreeMap<String, Value> {
        let data = self.tmp.path().join("reference");
        let server = crate::common::start(&self.library, &data, ADMIN_PASSWORD, &[]);
        let node = Node {
            name: "reference".into(),
            child: None,
            base: server.base.clone(),
            token: server.token.clone(),
            http: server.http.clone(),
        };
        self.wait_scan_idle(&node);
        self.catalog(&node)
    }
}

impl Node {
    /// A client of a service this test did not start as a node (a balancer): no process.
    pub fn remote(name: &str, base: &str, http: reqwest::blocking::Client) -> Self {
        Self {
            name: name.into(),
            child: None,
            base: base.trim_end_matches('/').to_string(),
            token: String::new(),
            http,
        }
    }

    /// The address it listens on, `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// Sends SIGTERM (the node drains, then exits) and returns at once.
    pub fn terminate(&self) {
        let pid = self.child.as_ref().expect("a running node").id();
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM {pid}");
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    /// Waits for the process to exit by itself; its exit status.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let child = self.child.as_mut().expect("a started node");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(Instant::now() < deadline, "node {} did not exit", self.name);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn login_status(&self, user: &str, password: &str) -> u16 {
        self.http
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"username": user, "password": password}))
            .send()
            .unwrap()
            .status()
            .as_u16()
    }

    pub fn login(&self, user: &str, password: &str) -> String {
        let r: Value = self
            .http
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"username": user, "password": password}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        r["token"]
            .as_str()
            .unwrap_or_else(|| panic!("login on {}: {r}", self.name))
            .to_string()
    }

    pub fn scan_status(&self) -> Value {
        let token = if self.token.is_empty() {
            self.login("admin", ADMIN_PASSWORD)
        } else {
            self.token.clone()
        };
        self.get_with("/api/v1/scan", &token)
    }

    pub fn status(&self, path: &str) -> u16 {
        self.status_with(path, &self.token)
    }

    pub fn status_with(&self, path: &str, token: &str) -> u16 {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .unwrap()
            .status()
            .as_u16()
    }

    pub fn get(&self, path: &str) -> Value {
        self.get_with(path, &self.token)
    }

    pub fn get_with(&self, path: &str, token: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .unwrap();
        let status = r.status();
        let body: Value = r.json().unwrap();
        assert!(
            status.is_success(),
            "GET {path} on {}: {status} {body}",
            self.name
        );
        body
    }

    pub fn post_with(&self, path: &str, token: &str, body: &Value) -> reqwest::Result<Value> {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(body)
            .send()?
            .error_for_status()?
            .json()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A 0.1 s mono 8 kHz WAV whose samples depend on `seed`, so every file has its own hash.
fn wav(seed: u32) -> Vec<u8> {
    wav_of_len(seed, 800)
}

/// A mono 8 kHz WAV of `samples` samples that depend on `seed`.
pub fn wav_of_len(seed: u32, samples: u32) -> Vec<u8> {
    let rate = 8000u32;
    let samples: Vec<i16> = (0..samples)
        .map(|i| (((i.wrapping_mul(seed + 7)) % 2000) as i16) - 1000)
        .collect();
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}
