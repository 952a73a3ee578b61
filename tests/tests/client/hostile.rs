//! The client against servers that misbehave (findings 14, 26, 28) and a reader that goes away
//! (finding 25): an answer too large to hold, an answer that drips, a pipe closed early, and a
//! server that refuses an edit for now.

use crate::common::TestServer;
use crate::support::{ClientDevice, Proxy};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a hostile server streams before it gives up: far past the client's 8 MiB cap, so a
/// client that reads it all shows it in its memory.
const HOSTILE_BYTES: usize = 256 << 20;
/// A client that stops at its cap stays far below this (its cap plus its usual ~30 MiB).
const PEAK_RSS_CEILING_KIB: u64 = 100 << 10;

/// A server on 127.0.0.1:0 that reads each request and answers it with `answer`, one thread per
/// connection. Stopped when dropped (an `answer` still writing ends when the client is gone).
struct HostileServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl HostileServer {
    fn start(answer: fn(&mut TcpStream, &AtomicBool)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let accept = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut conn) = conn else { continue };
                let stopping = stopping.clone();
                std::thread::spawn(move || {
                    if read_request(&mut conn) {
                        answer(&mut conn, &stopping);
                    }
                });
            }
        });
        Self {
            addr,
            stop,
            accept: Some(accept),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request (headers, then a Content-Length body); false if the client went away.
fn read_request(conn: &mut TcpStream) -> bool {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&seen[..head_end]).to_ascii_lowercase();
    let body_len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut have = seen.len() - head_end;
    while have < body_len {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => have += n,
        }
    }
    true
}

/// Writes `HOSTILE_BYTES` of a JSON string's inside, `chunk` bytes at a time, through `frame`,
/// then holds the connection a second: a client that kept it all sits at its peak memory long
/// enough to be seen.
fn stream_junk(conn: &mut TcpStream, stop: &AtomicBool, frame: fn(&[u8]) -> Vec<u8>) {
    let chunk = vec![b'a'; 64 << 10];
    let mut sent = 0;
    while sent < HOSTILE_BYTES && !stop.load(Ordering::SeqCst) {
        if conn.write_all(&frame(&chunk)).is_err() {
            return;
        }
        sent += chunk.len();
    }
    std::thread::sleep(Duration::from_secs(1));
}

fn huge_declared_body(conn: &mut TcpStream, stop: &AtomicBool) {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                content-length: 1073741824\r\n\r\n{\"token\":\"";
    if conn.write_all(head.as_bytes()).is_ok() {
        stream_junk(conn, stop, |c| c.to_vec());
    }
}

fn endless_chunked_body(conn: &mut TcpStream, stop: &AtomicBool) {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                transfer-encoding: chunked\r\n\r\na\r\n{\"token\":\"\r\n";
    if conn.write_all(head.as_bytes()).is_ok() {
        stream_junk(conn, stop, |c| {
            let mut framed = format!("{:x}\r\n", c.len()).into_bytes();
            framed.extend_from_slice(c);
            framed.extend_from_slice(b"\r\n");
            framed
        });
        let _ = conn.write_all(b"0\r\n\r\n");
    }
}

/// `Content-Length: 100000`, then one byte a second.
fn dripping_body(conn: &mut TcpStream, stop: &AtomicBool) {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                content-length: 100000\r\n\r\n";
    if conn.write_all(head.as_bytes()).is_err() {
        return;
    }
    while !stop.load(Ordering::SeqCst) {
        if conn.write_all(b" ").is_err() {
            return;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[track_caller]
fn assert_refused_as_too_large(answer: fn(&mut TcpStream, &AtomicBool)) {
    let server = HostileServer::start(answer);
    let dev = ClientDevice::new();
    let started = Instant::now();
    let (run, peak_kib) = dev
        .spawn(&["login", &server.url(), "--user", "bob"])
        .wait_with_peak_rss();
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.stderr.contains("the server's answer is too large"),
        "{run}"
    );
    assert!(
        peak_kib < PEAK_RSS_CEILING_KIB,
        "the client's peak RSS was {} MiB for a refused answer:\n{run}",
        peak_kib >> 10
    );
    assert!(started.elapsed() < Duration::from_secs(20), "{run}");
    eprintln!(
        "refused in {:?}, peak RSS {} MiB",
        started.elapsed(),
        peak_kib >> 10
    );
}

#[test]
fn an_answer_declared_as_a_gigabyte_is_refused_before_it_is_read() {
    assert_refused_as_too_large(huge_declared_body);
}

#[test]
fn an_endless_chunked_answer_is_cut_off_at_the_cap() {
    assert_refused_as_too_large(endless_chunked_body);
}

#[test]
fn an_answer_that_drips_is_a_timeout_and_exits_as_offline() {
    let server = HostileServer::start(dripping_body);
    let dev = ClientDevice::new();
    let started = Instant::now();
    let run = dev.spawn(&["login", &server.url(), "--user", "bob"]).wait();
    assert_eq!(run.code, 3, "{run}");
    assert!(
        run.stderr
            .contains("the server did not finish answering within 30 s"),
        "{run}"
    );
    assert!(started.elapsed() < Duration::from_secs(45), "{run}");
}

#[test]
fn a_pipe_closed_early_ends_commands_quietly() {
    let dev = ClientDevice::new();
    for args in [
        &["status"][..],
        &["playlists", "list"],
        &["search", "lantern"],
        &["offline", "ls"],
        &["cache", "stats"],
        &["status", "--json"],
    ] {
        // The reading end is closed before the command starts, so its first write is EPIPE.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let run = dev.spawn_to(args, Some(writer.into())).wait();
        assert_eq!(run.code, 0, "{run}");
        assert!(!run.stderr.contains("panicked"), "{run}");
        assert!(run.stderr.is_empty(), "{run}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_the_server_refuses_for_now_is_kept_and_does_not_fail() {
    let server = TestServer::demo().await;
    let proxy = Proxy::start(server.addr);
    let dev = ClientDevice::new();
    dev.login(&proxy.url()).await;

    proxy.fail_requests(Some(("POST /api/v1/sync/ops", 500)));
    let run = dev.run(&["playlists", "create", "Later"]).await;
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.stderr
            .contains("saved here; the server refused it for now (500 internal: "),
        "{run}"
    );
    assert!(run.stderr.contains("retried"), "{run}");
    assert!(proxy.failed() >= 1);
    assert_eq!(dev.status().await["pending_ops"], 1);

    proxy.fail_requests(None);
    let run = dev.ok(&["sync"]).await;
    assert!(run.stdout.contains("synced: 1 edits sent"), "{run}");
    let lists = dev.json(&["playlists", "list", "--json"]).await;
    let later = lists
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Later")
        .unwrap_or_else(|| panic!("no playlist Later in {lists}"));
    assert_eq!(later["local_only"], false, "{later}");
    assert_eq!(later["pending_ops"], 0, "{later}");
}
