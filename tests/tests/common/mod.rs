//! A real server on 127.0.0.1:0 over a temporary copy of the demo library. Shared by the server
//! and client test targets (each includes it with `#[path]`).

#![allow(dead_code)]

use mixtape_server::{Config, RunningServer};
use mixtape_shared::api::{LoginResponse, ScanStatus};
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const ADMIN_PASSWORD: &str = "admin-password-1";

pub fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo")
}

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

/// Relative paths of every file under `dir` with one of `exts`, sorted.
pub fn files_with_ext(dir: &Path, exts: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(root: &Path, dir: &Path, exts: &[&str], out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, exts, out);
            } else if p
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| exts.contains(&x))
            {
                out.push(
                    p.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    walk(dir, dir, exts, &mut out);
    out.sort();
    out
}

pub struct TestServer {
    pub server: Option<RunningServer>,
    /// Where it listens; [`TestServer::start_again`] binds the same address.
    pub addr: SocketAddr,
    pub base: String,
    pub library: PathBuf,
    pub data: PathBuf,
    pub http: Client,
    pub admin_token: String,
    _tmp: tempfile::TempDir,
}

impl TestServer {
    /// A server over a copy of the demo library, scanned.
    pub async fn demo() -> Self {
        Self::with_library(|lib| copy_dir(&demo_dir(), lib)).await
    }

    /// A server over the demo library with a changed configuration.
    pub async fn demo_with(tweak: fn(&mut Config)) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let library = tmp.path().join("library");
        copy_dir(&demo_dir(), &library);
        let data = tmp.path().join("data");
        Self::start_with(tmp, library, data, tweak).await
    }

    /// A server over a library that `fill` writes, scanned.
    pub async fn with_library(fill: impl FnOnce(&Path)) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let library = tmp.path().join("library");
        std::fs::create_dir_all(&library).unwrap();
        fill(&library);
        let data = tmp.path().join("data");
        Self::start_on(tmp, library, data).await
    }

    async fn start_on(tmp: tempfile::TempDir, library: PathBuf, data: PathBuf) -> Self {
        Self::start_with(tmp, library, data, |_| {}).await
    }

    async fn start_with(
        tmp: tempfile::TempDir,
        library: PathBuf,
        data: PathBuf,
        tweak: fn(&mut Config),
    ) -> Self {
        let mut config = Config::embedded(library.canonicalize().unwrap(), data.clone());
        config.admin_password = Some(ADMIN_PASSWORD.into());
        tweak(&mut config);
        let server = mixtape_server::start(config).await.expect("server starts");
        let addr = server.addr;
        let base = format!("http://{addr}");
        let http = Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let mut this = Self {
            server: Some(server),
            addr,
            base,
            library,
            data,
            http,
            admin_token: String::new(),
            _tmp: tmp,
        };
        this.admin_token = this.login("admin", ADMIN_PASSWORD).await.token;
        this.wait_for_scan().await;
        this
    }

    /// Stops the server and starts a new one over the same library and data.
    pub async fn restart(mut self) -> Self {
        self.server.take().unwrap().shutdown().await.unwrap();
        let tmp = std::mem::replace(&mut self._tmp, tempfile::tempdir().unwrap());
        Self::start_on(tmp, self.library.clone(), self.data.clone()).await
    }

    /// Stops the server (in-flight requests finish); the library, data and address are kept.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.unwrap();
        }
    }

    /// Starts a server again over the same library and data, listening on the same address (so
    /// a client's saved URL reaches it). Retries the bind for a while: the old socket may linger.
    pub async fn start_again(&mut self) {
        assert!(self.server.is_none(), "stop the server first");
        let mut config = Config::embedded(self.library.canonicalize().unwrap(), self.data.clone());
        config.admin_password = Some(ADMIN_PASSWORD.into());
        config.listen = self.addr;
        let deadline = Instant::now() + Duration::from_secs(10);
        let server = loop {
            match mixtape_server::start(config.clone()).await {
                Ok(server) => break server,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("restart on {}: {e}; retrying", self.addr);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot start the server again on {}: {e}", self.addr),
            }
        };
        assert_eq!(server.addr, self.addr);
        self.server = Some(server);
        // No pooled connection to the old server may be picked for the next request.
        self.http = Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        self.wait_for_scan().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn req(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(token)
    }

    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        let r = self.req(Method::GET, path, token).send().await.unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    pub async fn admin_get(&self, path: &str) -> Value {
        self.get_json(path, &self.admin_token).await
    }

    pub async fn login(&self, user: &str, password: &str) -> LoginResponse {
        let r = self
            .http
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({"username": user, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "login as {user}");
        r.json().await.unwrap()
    }

    /// Creates a user and returns their token.
    pub async fn user(&self, name: &str) -> String {
        let password = format!("{name}-password");
        let r = self
            .req(Method::POST, "/api/v1/users", &self.admin_token)
            .json(&serde_json::json!({"username": name, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        self.login(name, &password).await.token
    }

    pub async fn scan_status(&self) -> ScanStatus {
        serde_json::from_value(self.admin_get("/api/v1/scan").await).unwrap()
    }

    pub async fn wait_for_scan(&self) -> ScanStatus {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut token = self.admin_token.clone();
        loop {
            let r = self
                .req(Method::GET, "/api/v1/scan", &token)
                .send()
                .await
                .unwrap();
            if r.status() == 401 {
                // A test of token expiry gives tokens a second; a loaded machine's first scan
                // can outlast it (seen in a full run).
                token = self.login("admin", ADMIN_PASSWORD).await.token;
                continue;
            }
            assert_eq!(r.status(), 200, "GET /api/v1/scan");
            let s: ScanStatus = r.json().await.unwrap();
            if s.state == "idle" && s.phase == "done" {
                return s;
            }
            assert!(Instant::now() < deadline, "scan did not finish: {s:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts a full scan and waits for it.
    pub async fn rescan(&self) -> ScanStatus {
        loop {
            let r = self
                .req(Method::POST, "/api/v1/scan", &self.admin_token)
                .send()
                .await
                .unwrap();
            if r.status() == 202 {
                break;
            }
            assert_eq!(r.status(), 409, "start scan");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.wait_for_scan().await
    }

    /// Sends `body` as JSON (nothing when it is null); the status and the JSON answer.
    pub async fn send(&self, method: Method, path: &str, token: &str, body: Value) -> (u16, Value) {
        let mut req = self.req(method, path, token);
        if !body.is_null() {
            req = req.json(&body);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The ids of every track, in title order.
    pub async fn track_ids(&self) -> Vec<i64> {
        self.all_tracks()
            .await
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect()
    }

    /// Every track, walking the pages.
    pub async fn all_tracks(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/tracks?limit=7&cursor={c}"),
                None => "/api/v1/tracks?limit=7".to_string(),
            };
            let page = self.admin_get(&path).await;
            out.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return out,
            }
        }
    }
}

pub async fn error_code(r: Response) -> String {
    let v: Value = r.json().await.unwrap();
    v["error"]["code"].as_str().unwrap_or_default().to_string()
}
