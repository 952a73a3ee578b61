//! A RabbitMQ node of its own for a test: `rabbitmq-server` (Debian's package) run from a temp
//! dir with its own node name, AMQP and distribution ports, data and logs, so a test can stop
//! it (a real outage) without touching the machine's broker or another test's.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = "/usr/lib/rabbitmq/bin";

pub struct RabbitNode {
    pub port: u16,
    dist_port: u16,
    pub name: String,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RabbitNode {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["home", "mnesia", "log"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        std::fs::write(dir.path().join("enabled_plugins"), "[].\n").unwrap();
        // The guest user may connect from loopback only, which is where the nodes are.
        std::fs::write(dir.path().join("rabbitmq.conf"), "log.console = false\n").unwrap();
        std::fs::write(dir.path().join("rabbitmq-env.conf"), "").unwrap();
        let port = crate::engines::free_port();
        let dist_port = crate::engines::free_port();
        let mut node = Self {
            port,
            dist_port,
            name: format!("mixtape-test-{port}@localhost"),
            dir,
            child: None,
        };
        node.restart();
        node
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    fn command(&self, tool: &str) -> Command {
        let path = Path::new(BIN).join(tool);
        assert!(
            path.exists(),
            "{} is missing: install rabbitmq-server (apt-get install rabbitmq-server)",
            path.display()
        );
        let d = self.dir.path();
        let mut cmd = Command::new(path);
        cmd.current_dir(d)
            .env_clear()
            .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
            // The Erlang cookie lives in HOME: the server and rabbitmqctl share this one.
            .env("HOME", d.join("home"))
            .env("RABBITMQ_NODENAME", &self.name)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq"))
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", d.join("advanced.config"))
            .env("RABBITMQ_CONF_ENV_FILE", d.join("rabbitmq-env.conf"))
            .env("RABBITMQ_PID_FILE", d.join("pid"))
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .env(
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                "-kernel inet_dist_use_interface {127,0,0,1}",
            )
            .env("ERL_CRASH_DUMP", d.join("erl_crash.dump"));
        cmd
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.out")
    }

    /// Stops the node (the broker is down: connections drop, nothing answers on the port).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let out = self
                .command("rabbitmqctl")
                .args(["-n", &self.name, "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if !out.is_ok_and(|s| s.success()) {
                let _ = child.kill();
            }
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.wait();
        }
    }

    /// Starts it (again) on the same ports and data: durable queues and their messages stay.
    pub fn restart(&mut self) {
        self.stop();
        let log = std::fs::File::create(self.log_path()).unwrap();
        let child = self
            .command("rabbitmq-server")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("rabbitmq-server cannot start ({e}): install rabbitmq-server (apt-get install rabbitmq-server)")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "rabbitmq-server did not start: {}",
                std::fs::read_to_string(self.log_path()).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RabbitNode {
    fn drop(&mut self) {
        self.stop();
    }
}
