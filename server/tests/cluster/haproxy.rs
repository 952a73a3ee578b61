//! haproxy in front of a test's nodes, with the configuration `deploy/haproxy/render` makes
//! (the one `deploy/local-cluster` runs), on a free port, in the foreground (`-db`), its log
//! kept in a file the test can read, killed on drop.

use crate::engines::free_port;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Haproxy {
    pub port: u16,
    socket: PathBuf,
    log: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

/// One row of `show stat` for a server of backend `nodes`.
#[derive(Debug, Clone)]
pub struct ServerStat {
    /// UP, DOWN, MAINT, `UP 1/2` while rising…
    pub status: String,
    /// Requests retried on it, and redispatched away from it.
    pub retries: u64,
    pub redispatches: u64,
}

impl Haproxy {
    /// Starts haproxy over `servers` (`name`, `127.0.0.1:PORT`) and waits until it listens and
    /// answers on its admin socket.
    pub fn start(servers: &[(&str, &str)]) -> Self {
        let status = Command::new("haproxy").arg("-v").output();
        assert!(
            status.is_ok_and(|o| o.status.success()),
            "haproxy is missing: install the Debian package haproxy (apt-get install haproxy)"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let socket = dir.path().join("admin.sock");
        let config = dir.path().join("haproxy.cfg");
        let log = dir.path().join("haproxy.log");
        let render = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/haproxy/render");
        let mut cmd = Command::new(render);
        cmd.args(["--bind", &format!("127.0.0.1:{port}")])
            .arg("--socket")
            .arg(&socket);
        for (name, addr) in servers {
            cmd.args(["--server", &format!("{name}={addr}")]);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "render: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(&config, &out.stdout).unwrap();
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let haproxy = Self {
            port,
            socket,
            log,
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        // Listening and the admin socket both: haproxy may bind one before making the other
        // (seen on a loaded machine).
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
            || UnixStream::connect(&haproxy.socket).is_err()
        {
            assert!(
                Instant::now() < deadline,
                "haproxy did not start: {}",
                haproxy.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        haproxy
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its log so far (one line per request: `nodes/<server>`, status, bytes, flags).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A runtime API command's answer.
    pub fn command(&self, command: &str) -> String {
        let mut s = UnixStream::connect(&self.socket).unwrap();
        s.write_all(format!("{command}\n").as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    /// The servers of backend `nodes`, by name.
    pub fn servers(&self) -> HashMap<String, ServerStat> {
        let csv = self.command("show stat");
        let mut lines = csv.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap()
            .trim_start_matches("# ")
            .split(',')
            .collect();
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (px, sv, status, wretr, wredis) = (
            col("pxname"),
            col("svname"),
            col("status"),
            col("wretr"),
            col("wredis"),
        );
        let num = |f: &[&str], i: usize| f[i].parse::<u64>().unwrap_or(0);
        lines
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f.len() > wredis && f[px] == "nodes")
            .filter(|f| f[sv] != "BACKEND" && f[sv] != "FRONTEND")
            .map(|f| {
                (
                    f[sv].to_string(),
                    ServerStat {
                        status: f[status].to_string(),
                        retries: num(&f, wretr),
                        redispatches: num(&f, wredis),
                    },
                )
            })
            .collect()
    }

    /// Waits until haproxy's health checks call `server` `status` (`UP`, `DOWN`); returns when.
    pub fn wait_status(&self, server: &str, status: &str, limit: Duration) -> Instant {
        let deadline = Instant::now() + limit;
        loop {
            let servers = self.servers();
            if servers.get(server).is_some_and(|s| s.status == status) {
                return Instant::now();
            }
            assert!(
                Instant::now() < deadline,
                "haproxy never saw {server} {status}: {servers:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sets a server's admin state: `ready`, `drain` or `maint`.
    pub fn set_state(&self, server: &str, state: &str) {
        let answer = self.command(&format!("set server nodes/{server} state {state}"));
        assert!(answer.trim().is_empty(), "set server: {answer}");
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() || std::env::var_os("MIXTAPE_TEST_NODE_LOGS").is_some() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("haproxy log (last lines):");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}
