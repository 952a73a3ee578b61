//! `mixtape demo`: the server, as a library in this process, on the bundled demo library on a free
//! loopback port; a device of its own logged in to it; then the TUI. Everything lives under
//! `$XDG_DATA_HOME/mixtape/demo`, so a second run starts warm and the user's real login is untouched.

use crate::api::ApiClient;
use crate::device::{Device, DeviceError, Dirs, Session};
use crate::sync;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "no demo library: run from the repository (it holds assets/demo) or pass --library DIR"
    )]
    NoLibrary,
    #[error("cannot prepare {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the demo server did not start: {0}")]
    Server(String),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Api(#[from] crate::api::ApiError),
    #[error(transparent)]
    Sync(#[from] sync::SyncError),
    #[error(transparent)]
    Tui(#[from] crate::tui::TuiError),
}

/// `./assets/demo` when run from the repository, else the one beside this crate's sources.
pub fn find_library(given: Option<PathBuf>) -> Result<PathBuf, DemoError> {
    let candidates = given.into_iter().chain([
        PathBuf::from("assets/demo"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo"),
    ]);
    for dir in candidates {
        if dir.is_dir() {
            return dir
                .canonicalize()
                .map_err(|source| DemoError::Io { path: dir, source });
        }
    }
    Err(DemoError::NoLibrary)
}

fn password(root: &Path) -> Result<String, DemoError> {
    let path = root.join("admin-password");
    if let Ok(p) = std::fs::read_to_string(&path) {
        return Ok(p.trim().to_string());
    }
    let p = uuid::Uuid::new_v4().simple().to_string();
    std::fs::write(&path, &p).map_err(|source| DemoError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(p)
}

/// The demo server and the runtime that serves it, until `stop`.
pub struct Demo {
    runtime: tokio::runtime::Runtime,
    server: Option<mixtape_server::RunningServer>,
}

impl Demo {
    /// Starts the server and returns it with a logged-in, synced device (under `base`'s data dir).
    pub fn start(base: &Dirs, library: Option<PathBuf>) -> Result<(Self, Device), DemoError> {
        let library = find_library(library)?;
        let root = base.data.join("demo");
        std::fs::create_dir_all(&root).map_err(|source| DemoError::Io {
            path: root.clone(),
            source,
        })?;
        let password = password(&root)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|source| DemoError::Io {
                path: root.clone(),
                source,
            })?;
        let mut config = mixtape_server::Config::embedded(library, root.join("server"));
        config.admin_password = Some(password.clone());
        let server = runtime
            .block_on(mixtape_server::start(config))
            .map_err(|e| DemoError::Server(e.to_string()))?;
        let base_url = format!("http://{}", server.addr);
        // The first scan of the demo takes well under a second; wait for it so the TUI opens full.
        let deadline = Instant::now() + Duration::from_secs(60);
        let scanned =
            |s: &mixtape_shared::api::ScanStatus| s.state == "idle" && s.finished_at.is_some();
        while !scanned(&server.state.scanner.status()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut device = Device::open(Dirs::under(&root.join("device")))?;
        let login = ApiClient::new(&base_url, None)?.login("admin", &password)?;
        device.save_session(Session {
            server: base_url,
            username: "admin".into(),
            token: login.token,
        })?;
        let api = device.api()?;
        sync::sync(&mut device.mirror, &api)?;
        Ok((
            Self {
                runtime,
                server: Some(server),
            },
            device,
        ))
    }

    pub fn stop(mut self) {
        if let Some(server) = self.server.take() {
            let _ = self.runtime.block_on(server.shutdown());
        }
    }
}
