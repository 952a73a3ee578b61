//! Engines of its own for each cluster test: a PostgreSQL primary with a streaming replica in
//! temp dirs (from the installed postgresql-15 binaries), and a Redis process that a test may
//! stop. Nothing is shared with other tests, so pausing replay or killing Redis harms no one.

// Shared by the cluster and balancer test targets; each uses a part of it.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Runs a PostgreSQL tool as the `postgres` user when we are root (it refuses to run as root).
fn pg_tool(tool: &str) -> Command {
    let path = Path::new(PG_BIN).join(tool);
    assert!(
        path.exists(),
        "{} is missing: install postgresql-15 (apt-get install postgresql-15)",
        path.display()
    );
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(path);
        cmd
    } else {
        Command::new(path)
    }
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A PostgreSQL server of its own in a temp dir, stopped and removed on drop.
pub struct PgCluster {
    pub port: u16,
    data: PathBuf,
    _dir: tempfile::TempDir,
}

impl PgCluster {
    fn new_dir() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.args(["postgres:postgres"]).arg(dir.path());
                    c
                },
                "chown the cluster dir",
            );
        }
        let data = dir.path().join("data");
        (dir, data)
    }

    /// A fresh primary: trust auth on loopback, replication allowed.
    pub fn primary() -> Self {
        let (dir, data) = Self::new_dir();
        let mut initdb = pg_tool("initdb");
        initdb.args(["-D"]).arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]);
        run(initdb, "initdb");
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nlocal replication all trust\n\
             host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n",
        )
        .unwrap();
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .unwrap();
        use std::io::Write;
        // Durability is not under test here; fsync off keeps the cluster tests quick.
        writeln!(
            conf,
            "listen_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n\
             max_wal_senders = 5\nwal_level = replica\nhot_standby = on\nmax_connections = 200",
            dir.path().display()
        )
        .unwrap();
        let cluster = Self {
            port: free_port(),
            data,
            _dir: dir,
        };
        cluster.start();
        cluster
    }

    /// A streaming replica of `primary` (`pg_basebackup -R`), started and replaying.
    pub fn replica_of(primary: &PgCluster) -> Self {
        let (dir, data) = Self::new_dir();
        let mut backup = pg_tool("pg_basebackup");
        backup
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &primary.port.to_string(),
                "-U",
                "postgres",
                "-D",
            ])
            .arg(&data)
            .args(["-R", "-X", "stream", "-c", "fast"]);
        run(backup, "pg_basebackup");
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .unwrap();
        use std::io::Write;
        writeln!(conf, "unix_socket_directories = '{}'", dir.path().display()).unwrap();
        let cluster = Self {
            port: free_port(),
            data,
            _dir: dir,
        };
        cluster.start();
        cluster
    }

    fn start(&self) {
        let mut ctl = pg_tool("pg_ctl");
        ctl.args(["-D"])
            .arg(&self.data)
            .args(["-o", &format!("-p {}", self.port), "-l"])
            .arg(self.data.join("log"))
            .args(["-w", "-t", "60", "start"]);
        run(ctl, "pg_ctl start");
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub fn client(&self, database: &str) -> postgres::Client {
        postgres::Client::connect(&self.url(database), postgres::NoTls).unwrap()
    }

    /// Waits until this replica has replayed everything the primary had written when called.
    pub fn wait_caught_up(&self, primary: &PgCluster) {
        let target: String = primary
            .client("postgres")
            .query_one("SELECT pg_current_wal_lsn()::text", &[])
            .unwrap()
            .get(0);
        let mut me = self.client("postgres");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let caught: bool = me
                .query_one(
                    "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn",
                    &[&target],
                )
                .unwrap()
                .get(0);
            if caught {
                return;
            }
            assert!(Instant::now() < deadline, "the replica did not catch up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl PgCluster {
    /// Stops the server at once (`immediate`: like a crash, clients are cut off).
    pub fn stop(&self) {
        let mut ctl = pg_tool("pg_ctl");
        ctl.args(["-D"])
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = ctl.status();
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let mut ctl = pg_tool("pg_ctl");
        ctl.args(["-D"])
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = ctl.status();
    }
}

/// A Redis server of its own (no persistence), killed on drop.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> Self {
        let mut server = Self {
            port: free_port(),
            child: None,
        };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Stops it (a Redis outage).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (empty: it keeps nothing).
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("redis-server cannot start ({e}): install redis-server (apt-get install redis-server)")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
