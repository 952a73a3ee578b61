//! The nginx CDN edge of `deploy/nginx/`, started from the config `render-edge` makes, in a
//! temporary folder, unprivileged (`nginx -p DIR`), in front of an origin. Stopped on drop.
//! Shared by `server/tests/edge.rs` and the client tests (`tests/tests/client/edge.rs`).

// Each test target uses a part of this module.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NJS_MODULE: &str = "/usr/lib/nginx/modules/ngx_http_js_module.so";

pub struct Edge {
    child: Child,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
}

/// `deploy/nginx/` of this checkout.
pub fn deploy_nginx() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/nginx")
        .canonicalize()
        .expect("deploy/nginx exists")
}

fn nginx_binary() -> PathBuf {
    for dir in ["/usr/sbin", "/usr/local/sbin", "/usr/bin"] {
        let path = Path::new(dir).join("nginx");
        if path.is_file() {
            return path;
        }
    }
    panic!(
        "nginx is not installed: install the Debian package `nginx` (and `libnginx-mod-http-js`)"
    );
}

impl Edge {
    /// An edge in front of `origin` (`host:port`) whose media key is in `keyfile`.
    pub fn start(origin: &str, keyfile: &Path) -> Self {
        let nginx = nginx_binary();
        assert!(
            Path::new(NJS_MODULE).is_file(),
            "{NJS_MODULE} is missing: install the Debian package `libnginx-mod-http-js` (njs)"
        );
        // A free port: taken by the OS, released, then given to nginx; tried again if another
        // process took it meanwhile.
        for _ in 0..5 {
            let addr = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap();
            let dir = tempfile::tempdir().unwrap();
            let state = dir.path().join("state");
            let rendered = Command::new(deploy_nginx().join("render-edge"))
                .arg(origin)
                .arg(addr.to_string())
                .arg(&state)
                .arg(keyfile)
                .output()
                .expect("run deploy/nginx/render-edge");
            assert!(
                rendered.status.success(),
                "render-edge failed: {}",
                String::from_utf8_lossy(&rendered.stderr)
            );
            let conf = state.join("edge.conf");
            std::fs::write(&conf, &rendered.stdout).unwrap();
            let child = Command::new(&nginx)
                .arg("-p")
                .arg(&state)
                .arg("-e")
                .arg(state.join("error.log"))
                .arg("-c")
                .arg(&conf)
                .args(["-g", "daemon off;"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start nginx");
            let mut edge = Edge { child, addr, dir };
            if edge.wait_listening() {
                return edge;
            }
            let log = edge.error_log();
            drop(edge);
            assert!(
                log.contains("Address already in use"),
                "nginx did not start: {log}"
            );
        }
        panic!("no free port for nginx after 5 tries");
    }

    fn wait_listening(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect(self.addr).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.state().join("error.log")).unwrap_or_default()
    }

    /// The access log: one line per request, with `cache=` and `upstream=`.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.state().join("access.log")).unwrap_or_default()
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers (SIGKILL would leave them running).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
