//! The `mixtape-server` binary started as an operator would start it, for the process tests:
//! a free loopback port read back from the log, the first admin logged in, killed on drop so a
//! failed assertion never leaves a server holding the test's output pipe.

// Each test target uses a part of this module.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Server {
    pub child: Child,
    pub base: String,
    pub token: String,
    pub http: reqwest::blocking::Client,
    /// Every line the server wrote to stderr so far.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the server on `library` with its data in `data`; `env` adds (or, with an empty
/// value, removes) environment variables.
pub fn start(library: &Path, data: &Path, password: &str, env: &[(&str, &str)]) -> Server {
    launch(library, data, password, env, &["--no-watch"])
}

/// Same as `start`, with the library watcher on.
pub fn start_watching(library: &Path, data: &Path, password: &str) -> Server {
    launch(library, data, password, &[], &[])
}

fn launch(
    library: &Path,
    data: &Path,
    password: &str,
    env: &[(&str, &str)],
    flags: &[&str],
) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mixtape-server"));
    cmd.args([
        "--library",
        library.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ])
    .args(flags)
    .env("MIXTAPE_ADMIN_PASSWORD", password)
    .env("MIXTAPE_LOG", "info")
    .env("NO_COLOR", "1")
    .stderr(Stdio::piped());
    for (key, value) in env {
        if value.is_empty() {
            cmd.env_remove(key);
        } else {
            cmd.env(key, value);
        }
    }
    let mut child = cmd.spawn().unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let lines = log.clone();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            lines.lock().unwrap().push(line.clone());
            if let Some(addr) = line.split("listening on http://").nth(1) {
                let _ = tx.send(addr.split_whitespace().next().unwrap().to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server logs the address it bound");
    let base = format!("http://{addr}");
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    Server {
        child,
        base,
        token: login["token"].as_str().unwrap().to_string(),
        http,
        log,
    }
}

impl Server {
    pub fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .unwrap()
            .json()
            .unwrap()
    }

    /// Waits for the scan to end (done or failed, 120 s at most) and returns its status.
    pub fn wait_for_scan(&self) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let s = self.get("/api/v1/scan");
            if s["state"] == "idle" && (s["phase"] == "done" || s["phase"] == "failed") {
                return s;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "scan did not finish: {s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn post(&self, path: &str, body: &Value) -> reqwest::Result<Value> {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()?
            .json()
    }
}

/// A real copy of `from` (tests replace files in it).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
