//! A tiny HTTP/1.1 server for the cache tests: just enough of `/api/v1/media/{hash}` (Range,
//! If-Match, ETag) and `/api/v1/art/{hash}`, with knobs to cut, throttle or misbehave, and
//! counters of what it served.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

pub(crate) const TOKEN: &str = "test-token";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Served {
    pub path: String,
    /// The `N` of `Range: bytes=N-` or `bytes=N-M`, if sent.
    pub range_from: Option<u64>,
    /// The `M` of `Range: bytes=N-M` (inclusive), if sent.
    pub range_last: Option<u64>,
    pub status: u16,
}

#[derive(Default)]
struct State {
    files: Mutex<HashMap<String, Vec<u8>>>,
    log: Mutex<Vec<Served>>,
    bytes_served: AtomicU64,
    /// One-shot: the next media body stops (connection closed) after this many bytes.
    cut_after: Mutex<Option<u64>>,
    /// Body written in chunks of this many bytes with a pause after each.
    throttle: Mutex<Option<(usize, Duration)>>,
    /// Answer range requests with 200 and the whole file.
    ignore_range: AtomicBool,
    stop: AtomicBool,
}

pub(crate) struct TestServer {
    pub base_url: String,
    addr: std::net::SocketAddr,
    state: Arc<State>,
}

impl TestServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let accept_state = state.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_state.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = accept_state.clone();
                thread::spawn(move || serve(&state, stream));
            }
        });
        Self {
            base_url: format!("http://{addr}"),
            addr,
            state,
        }
    }

    /// Serves `bytes` as media under their blake3 hash, which is returned.
    pub fn add_media(&self, bytes: Vec<u8>) -> String {
        let hash = blake3::hash(&bytes).to_hex().to_string();
        self.add_media_as(&hash, bytes);
        hash
    }

    /// Serves `bytes` under `hash`, whatever their real hash (a misbehaving server).
    pub fn add_media_as(&self, hash: &str, bytes: Vec<u8>) {
        self.state
            .files
            .lock()
            .unwrap()
            .insert(format!("/api/v1/media/{hash}"), bytes);
    }

    /// Serves `bytes` as the rendition of `source` in `profile` (ETag `"{source}.{profile}"`).
    pub fn add_rendition(&self, source: &str, profile: &str, bytes: Vec<u8>) {
        self.state
            .files
            .lock()
            .unwrap()
            .insert(format!("/api/v1/media/{source}/{profile}"), bytes);
    }

    pub fn add_art(&self, hash: &str, bytes: Vec<u8>) {
        self.state
            .files
            .lock()
            .unwrap()
            .insert(format!("/api/v1/art/{hash}"), bytes);
    }

    pub fn cut_next_after(&self, bytes: u64) {
        *self.state.cut_after.lock().unwrap() = Some(bytes);
    }

    pub fn throttle(&self, chunk: usize, pause: Duration) {
        *self.state.throttle.lock().unwrap() = Some((chunk, pause));
    }

    pub fn ignore_range(&self, on: bool) {
        self.state.ignore_range.store(on, Ordering::SeqCst);
    }

    pub fn bytes_served(&self) -> u64 {
        self.state.bytes_served.load(Ordering::SeqCst)
    }

    /// Requests answered for paths ending with `suffix` (a hash).
    pub fn served(&self, suffix: &str) -> Vec<Served> {
        self.state
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path.ends_with(suffix))
            .cloned()
            .collect()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(state: &State, mut stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line.trim().is_empty() => break,
            Ok(_) => {
                if let Some((k, v)) = line.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                }
            }
        }
    }
    let range = headers
        .get("range")
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'));
    let range_from = range.and_then(|(n, _)| n.parse::<u64>().ok());
    let range_last = range.and_then(|(_, m)| m.parse::<u64>().ok());
    let file = state.files.lock().unwrap().get(&path).cloned();
    let hash = path.rsplit('/').next().unwrap_or_default().to_owned();
    // A rendition (`/media/{hash}/{profile}`) has the server's `"{hash}.{profile}"`.
    let etag = match path
        .strip_prefix("/api/v1/media/")
        .and_then(|r| r.split_once('/'))
    {
        Some((source, profile)) => format!("\"{source}.{profile}\""),
        None => format!("\"{hash}\""),
    };

    let (status, reason, body, extra): (u16, &str, &[u8], String) =
        if headers.get("authorization").map(String::as_str) != Some(&format!("Bearer {TOKEN}")) {
            (401, "Unauthorized", b"", String::new())
        } else if let Some(file) = &file {
            let is_media = path.starts_with("/api/v1/media/");
            let len = file.len() as u64;
            match (headers.get("if-match"), range_from) {
                (Some(m), _) if is_media && m != &etag && m != "*" => {
                    (412, "Precondition Failed", b"", String::new())
                }
                (_, Some(from)) if is_media && !state.ignore_range.load(Ordering::SeqCst) => {
                    if from >= len {
                        (
                            416,
                            "Range Not Satisfiable",
                            b"",
                            format!("Content-Range: bytes */{len}\r\n"),
                        )
                    } else {
                        let last = range_last.unwrap_or(len - 1).min(len - 1).max(from);
                        (
                            206,
                            "Partial Content",
                            &file[from as usize..=last as usize],
                            format!("Content-Range: bytes {from}-{last}/{len}\r\n"),
                        )
                    }
                }
                _ => (200, "OK", &file[..], String::new()),
            }
        } else {
            (404, "Not Found", b"", String::new())
        };
    state.log.lock().unwrap().push(Served {
        path: path.clone(),
        range_from,
        range_last,
        status,
    });
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nETag: {etag}\r\nAccept-Ranges: bytes\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    );
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let limit = if status == 200 || status == 206 {
        state.cut_after.lock().unwrap().take()
    } else {
        None
    };
    let body = match limit {
        Some(n) => &body[..body.len().min(n as usize)],
        None => body,
    };
    let throttle = *state.throttle.lock().unwrap();
    let (chunk, pause) = throttle.unwrap_or((64 * 1024, Duration::ZERO));
    for piece in body.chunks(chunk) {
        if stream.write_all(piece).is_err() {
            return;
        }
        state
            .bytes_served
            .fetch_add(piece.len() as u64, Ordering::SeqCst);
        if !pause.is_zero() {
            let _ = stream.flush();
            thread::sleep(pause);
        }
    }
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Both);
}
