//! Helpers for the client tests: a device (its own XDG folders) driven through the real CLI
//! binary or the library, and a counting TCP proxy that can throttle and drop responses.

use crate::common::{ADMIN_PASSWORD, TestServer};
use mixtape::device::{Device, Dirs};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What `mixtape subsonic-password set` reads from `MIXTAPE_SUBSONIC_PASSWORD` in these tests.
pub const SUBSONIC_PASSWORD: &str = "subsonic-app-password";

/// The client binary (see `tests/src/bin/mixtape-under-test.rs` for why it is a copy).
pub const BIN: &str = env!("CARGO_BIN_EXE_mixtape-under-test");
/// No CLI call in these tests should take anywhere near this long.
const CLI_DEADLINE: Duration = Duration::from_secs(60);

/// Runs blocking work (the client library uses reqwest's blocking client, which panics inside
/// an async context; subprocess waits block too) on tokio's blocking pool, so the in-process
/// server keeps serving. A panic inside is re-raised here, with its message.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => v,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("blocking task failed: {e}"),
        },
    }
}

/// Polls `check` until it gives a value or `within` passes (then panics with `what`).
pub fn poll<T>(within: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn blake3_of(path: &Path) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher
        .update_reader(std::fs::File::open(path).unwrap())
        .unwrap();
    hasher.finalize().to_hex().to_string()
}

/// One CLI run's outcome.
#[derive(Debug)]
pub struct Run {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("mixtape {:?}: stdout is not JSON ({e}):\n{self}", self.args)
        })
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A child process that is killed (SIGKILL) and reaped when dropped, so a failing assertion
/// never leaves one behind.
pub struct ChildGuard {
    child: Child,
    args: Vec<String>,
    stdout: PathBuf,
    stderr: PathBuf,
    done: bool,
}

impl ChildGuard {
    /// The exit code if the process has ended.
    pub fn try_code(&mut self) -> Option<i32> {
        let status = self.child.try_wait().unwrap()?;
        self.done = true;
        Some(status.code().unwrap_or(-1))
    }

    /// SIGKILL (`Child::kill`), then reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.done = true;
    }

    /// Waits (up to the CLI deadline, then kills) and collects the output.
    pub fn wait(mut self) -> Run {
        let deadline = Instant::now() + CLI_DEADLINE;
        let code = loop {
            if let Some(code) = self.try_code() {
                break code;
            }
            if Instant::now() > deadline {
                self.kill9();
                panic!(
                    "mixtape {:?} still running after {CLI_DEADLINE:?}:\n{}",
                    self.args,
                    self.output(-1)
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        self.output(code)
    }

    /// [`wait`](Self::wait), and the child's peak resident memory in KiB: the highest `VmHWM`
    /// of `/proc/PID/status` seen, read every 2 ms while it runs. A lower bound (the last
    /// moments before exit can be missed), so it never overstates. Not `wait4`'s `ru_maxrss`:
    /// that counts the memory of this (large) test process, which the child was forked from.
    pub fn wait_with_peak_rss(mut self) -> (Run, u64) {
        let status_file = format!("/proc/{}/status", self.child.id());
        let deadline = Instant::now() + CLI_DEADLINE;
        let mut peak_kib = 0;
        loop {
            let hwm = std::fs::read_to_string(&status_file).ok().and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            });
            peak_kib = peak_kib.max(hwm.unwrap_or(0));
            if let Some(code) = self.try_code() {
                return (self.output(code), peak_kib);
            }
            if Instant::now() > deadline {
                self.kill9();
                panic!(
                    "mixtape {:?} still running after {CLI_DEADLINE:?}",
                    self.args
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub fn output(&self, code: i32) -> Run {
        Run {
            args: self.args.clone(),
            code,
            stdout: std::fs::read_to_string(&self.stdout).unwrap_or_default(),
            stderr: std::fs::read_to_string(&self.stderr).unwrap_or_default(),
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if !self.done {
            self.kill9();
        }
    }
}

/// One client device: its own `XDG_{CONFIG,DATA,CACHE}_HOME` under a temporary folder.
pub struct ClientDevice {
    root: tempfile::TempDir,
    runs: AtomicUsize,
}

impl ClientDevice {
    pub fn new() -> Self {
        Self {
            root: tempfile::tempdir().unwrap(),
            runs: AtomicUsize::new(0),
        }
    }

    /// The folders the CLI resolves from the XDG variables set in [`command`](Self::command).
    pub fn dirs(&self) -> Dirs {
        let root = self.root.path();
        Dirs {
            config: root.join("config/mixtape"),
            data: root.join("data/mixtape"),
            cache: root.join("cache/mixtape"),
        }
    }

    /// Writes the device's `config.toml`.
    pub fn write_config(&self, text: &str) {
        let dir = self.dirs().config;
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), text).unwrap();
    }

    /// Where the cache keeps the partial download of `hash`.
    pub fn part_path(&self, hash: &str) -> PathBuf {
        self.dirs()
            .cache
            .join("audio")
            .join(&hash[..2])
            .join(format!("{hash}.part"))
    }

    /// Starts `mixtape ARGS` for this device; output goes to files read when it ends.
    pub fn spawn(&self, args: &[&str]) -> ChildGuard {
        self.spawn_to(args, None)
    }

    /// [`spawn`](Self::spawn) with stdout going to `stdout` instead of a file (a pipe).
    pub fn spawn_to(&self, args: &[&str], stdout_to: Option<Stdio>) -> ChildGuard {
        let n = self.runs.fetch_add(1, Ordering::Relaxed);
        let out_dir = self.root.path().join("runs");
        std::fs::create_dir_all(&out_dir).unwrap();
        let stdout = out_dir.join(format!("{n}.out"));
        let stderr = out_dir.join(format!("{n}.err"));
        let root = self.root.path();
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("HOME", root)
            .env("XDG_CONFIG_HOME", root.join("config"))
            .env("XDG_DATA_HOME", root.join("data"))
            .env("XDG_CACHE_HOME", root.join("cache"))
            .env("MIXTAPE_PASSWORD", ADMIN_PASSWORD)
            .env("MIXTAPE_SUBSONIC_PASSWORD", SUBSONIC_PASSWORD)
            .env_remove("MIXTAPE_CACHE_CAP_BYTES")
            .env_remove("MIXTAPE_PARALLEL_DOWNLOADS")
            .stdin(Stdio::null())
            .stdout(stdout_to.unwrap_or_else(|| std::fs::File::create(&stdout).unwrap().into()))
            .stderr(std::fs::File::create(&stderr).unwrap());
        let child = cmd.spawn().expect("start mixtape-under-test");
        ChildGuard {
            child,
            args: args.iter().map(|s| s.to_string()).collect(),
            stdout,
            stderr,
            done: false,
        }
    }

    /// Runs `mixtape ARGS` to its end.
    pub async fn run(&self, args: &[&str]) -> Run {
        let child = self.spawn(args);
        blocking(move || child.wait()).await
    }

    /// Runs `mixtape ARGS` and asserts exit code 0.
    #[track_caller]
    pub fn ok<'a>(&'a self, args: &'a [&'a str]) -> impl Future<Output = Run> + 'a {
        let caller = std::panic::Location::caller();
        async move {
            let run = self.run(args).await;
            assert_eq!(
                run.code, 0,
                "mixtape {args:?} failed (called at {caller}):\n{run}"
            );
            run
        }
    }

    /// Runs `mixtape ARGS` (which must include `--json`), asserts success, parses stdout.
    pub async fn json(&self, args: &[&str]) -> Value {
        self.ok(args).await.json()
    }

    /// `mixtape login URL --user admin`, password from `MIXTAPE_PASSWORD`.
    pub async fn login(&self, url: &str) {
        self.ok(&["login", url, "--user", "admin"]).await;
    }

    pub async fn status(&self) -> Value {
        self.json(&["status", "--json"]).await
    }

    /// `playlists show ID --json`.
    pub async fn show(&self, playlist: &str) -> Value {
        self.json(&["playlists", "show", playlist, "--json"]).await
    }

    /// Opens the device with the library (never while a CLI process of it runs: one process
    /// per cache) and runs `f` on tokio's blocking pool.
    pub async fn with_device<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Device) -> T + Send + 'static,
    ) -> T {
        let dirs = self.dirs();
        blocking(move || {
            let mut device = Device::open(dirs).expect("open the device");
            f(&mut device)
        })
        .await
    }
}

/// `(entry id, track id)` of each entry of a `playlists show --json` answer, in order.
pub fn cli_entries(playlist: &Value) -> Vec<(String, i64)> {
    playlist["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("no entries in {playlist}"))
        .iter()
        .map(|e| {
            (
                e["entry_id"].as_str().unwrap().to_string(),
                e["track_id"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// `(name, [(entry id, track id)])` of a playlist as the server has it.
pub async fn server_playlist(server: &TestServer, id: &str) -> (String, Vec<(String, i64)>) {
    let p = server.admin_get(&format!("/api/v1/playlists/{id}")).await;
    let entries = p["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["track_id"].as_i64().unwrap(),
            )
        })
        .collect();
    (p["name"].as_str().unwrap().to_string(), entries)
}

/// Writes a 16-bit stereo 44.1 kHz WAV of white noise (deterministic), `seconds` long; returns
/// its size. Written here rather than with ffmpeg so the test needs no external tool.
pub fn write_noise_wav(path: &Path, seconds: u32) -> u64 {
    const RATE: u32 = 44_100;
    const CHANNELS: u16 = 2;
    const BITS: u16 = 16;
    let block = u32::from(CHANNELS * BITS / 8);
    let data_len = seconds * RATE * block;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    out.write_all(b"RIFF").unwrap();
    out.write_all(&(36 + data_len).to_le_bytes()).unwrap();
    out.write_all(b"WAVEfmt ").unwrap();
    out.write_all(&16u32.to_le_bytes()).unwrap();
    out.write_all(&1u16.to_le_bytes()).unwrap(); // PCM
    out.write_all(&CHANNELS.to_le_bytes()).unwrap();
    out.write_all(&RATE.to_le_bytes()).unwrap();
    out.write_all(&(RATE * block).to_le_bytes()).unwrap();
    out.write_all(&(block as u16).to_le_bytes()).unwrap();
    out.write_all(&BITS.to_le_bytes()).unwrap();
    out.write_all(b"data").unwrap();
    out.write_all(&data_len.to_le_bytes()).unwrap();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chunk = vec![0u8; 1 << 16];
    let mut left = data_len as usize;
    while left > 0 {
        for word in chunk.chunks_exact_mut(8) {
            // xorshift64*
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            word.copy_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        let n = left.min(chunk.len());
        out.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    out.flush().unwrap();
    u64::from(44 + data_len)
}

/// A TCP proxy on 127.0.0.1:0 in front of the server. It counts the bytes the server sent,
/// can hold them back past a budget (a download that stalls mid-file), and can drop the
/// response to chosen requests after the server has handled them (an answer lost on the way).
/// Stopped, with every connection cut, when dropped.
pub struct Proxy {
    pub addr: SocketAddr,
    shared: Arc<ProxyShared>,
    accept: Option<JoinHandle<()>>,
}

struct ProxyShared {
    upstream: SocketAddr,
    /// Bytes read from the server, over every connection.
    from_server: AtomicU64,
    /// No more than this is read from the server (in total) until it is raised.
    budget: AtomicU64,
    /// Requests whose first bytes contain this pattern get their response dropped.
    drop_pattern: Mutex<Vec<u8>>,
    /// How many more such responses to drop; negative: all of them.
    drops_left: AtomicI64,
    dropped: AtomicU64,
    /// Requests whose first bytes contain this pattern are answered by the proxy with this
    /// status and a JSON error body, and never reach the server.
    fail: Mutex<Option<(Vec<u8>, u16)>>,
    failed: AtomicU64,
    stop: AtomicBool,
    connections: Mutex<Vec<TcpStream>>,
}

impl Proxy {
    pub fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(ProxyShared {
            upstream,
            from_server: AtomicU64::new(0),
            budget: AtomicU64::new(u64::MAX),
            drop_pattern: Mutex::new(Vec::new()),
            drops_left: AtomicI64::new(0),
            dropped: AtomicU64::new(0),
            fail: Mutex::new(None),
            failed: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            connections: Mutex::new(Vec::new()),
        });
        let s = shared.clone();
        let accept = std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let s = s.clone();
                std::thread::spawn(move || relay(&s, client));
            }
        });
        Self {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Bytes the server sent through the proxy since the last reset.
    pub fn served(&self) -> u64 {
        self.shared.from_server.load(Ordering::SeqCst)
    }

    pub fn reset_served(&self) {
        self.shared.from_server.store(0, Ordering::SeqCst);
    }

    /// Holds back whatever the server sends beyond `bytes` (counted like [`served`](Self::served)).
    pub fn set_budget(&self, bytes: u64) {
        self.shared.budget.store(bytes, Ordering::SeqCst);
    }

    /// Drops the responses to the next `count` requests containing `pattern` (negative: all),
    /// after the request reached the server.
    pub fn drop_responses(&self, pattern: &str, count: i64) {
        *self.shared.drop_pattern.lock().unwrap() = pattern.as_bytes().to_vec();
        self.shared.drops_left.store(count, Ordering::SeqCst);
    }

    /// Responses dropped so far.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::SeqCst)
    }

    /// Answers every request containing `pattern` with `status` and a JSON error body itself,
    /// as a server out of disk would; `None` passes everything through again.
    pub fn fail_requests(&self, failing: Option<(&str, u16)>) {
        *self.shared.fail.lock().unwrap() = failing.map(|(p, s)| (p.as_bytes().to_vec(), s));
    }

    /// Requests the proxy answered with an error itself so far.
    pub fn failed(&self) -> u64 {
        self.shared.failed.load(Ordering::SeqCst)
    }
}

/// The answer [`Proxy::fail_requests`] gives; it closes the connection so no part of the request
/// it swallowed can reach the server later.
fn error_response(status: u16) -> Vec<u8> {
    let body = r#"{"error":{"code":"internal","message":"injected by the test proxy"}}"#;
    format!(
        "HTTP/1.1 {status} Injected\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for c in self.shared.connections.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
        // Wake the accept loop so it sees `stop`.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn relay(s: &Arc<ProxyShared>, client: TcpStream) {
    // Server down: close the client's connection at once, like a refused one would fail.
    let Ok(server) = TcpStream::connect(s.upstream) else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    {
        let mut conns = s.connections.lock().unwrap();
        if s.stop.load(Ordering::SeqCst) {
            return;
        }
        conns.extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
    }
    let closed = Arc::new(AtomicBool::new(false));
    let poisoned = Arc::new(AtomicBool::new(false));
    let up = {
        let (s, closed, poisoned) = (s.clone(), closed.clone(), poisoned.clone());
        let (mut from, mut to) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let fail = s.fail.lock().unwrap().clone();
                if let Some((pattern, status)) = fail
                    && buf[..n].windows(pattern.len()).any(|w| w == pattern)
                {
                    s.failed.fetch_add(1, Ordering::SeqCst);
                    let _ = from.write_all(&error_response(status));
                    break;
                }
                let pattern = s.drop_pattern.lock().unwrap().clone();
                if !pattern.is_empty()
                    && buf[..n].windows(pattern.len()).any(|w| w == pattern)
                    && s.drops_left
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| match left {
                            0 => None,
                            l if l < 0 => Some(l),
                            l => Some(l - 1),
                        })
                        .is_ok()
                {
                    // Before forwarding: the response cannot overtake this flag.
                    poisoned.store(true, Ordering::SeqCst);
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            closed.store(true, Ordering::SeqCst);
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
        })
    };
    let (mut from, mut to) = (server, client);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let allowed = loop {
            if closed.load(Ordering::SeqCst) || s.stop.load(Ordering::SeqCst) {
                break 0;
            }
            let left = s
                .budget
                .load(Ordering::SeqCst)
                .saturating_sub(s.from_server.load(Ordering::SeqCst));
            if left > 0 {
                break left.min(buf.len() as u64) as usize;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        if allowed == 0 {
            break;
        }
        let n = match from.read(&mut buf[..allowed]) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        s.from_server.fetch_add(n as u64, Ordering::SeqCst);
        if poisoned.load(Ordering::SeqCst) {
            // The server answered; the client never hears it.
            s.dropped.fetch_add(1, Ordering::SeqCst);
            break;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    closed.store(true, Ordering::SeqCst);
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
    let _ = up.join();
}
