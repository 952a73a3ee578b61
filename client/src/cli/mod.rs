//! The scriptable CLI: `mixtape login|sync|search|playlists|offline|cache|subsonic-password|status`. Human output by
//! default, `--json` for scripts, and exit codes that say what went wrong (see [`ExitStatus`]).
//! Edits apply locally at once and go to the server when it can be reached.

mod output;

mod cache;
mod playlists;
mod subsonic;

use crate::api::{ApiClient, ApiError};
use crate::cache::CacheError;
use crate::connectivity::Connectivity;
use crate::device::{Device, DeviceError, Dirs, Session};
use crate::mirror::MirrorError;
use crate::offline::{self, OfflineError};
use crate::quality::QualityError;
use crate::sync::{self, SyncError, SyncReport};
use cache::{cache_cmd, offline_cmd};
use clap::{Args, Parser, Subcommand};
use mixtape_shared::EntryId;
use output::{Bar, note, print_json, print_sync, report_downloads, say, stats_json, track_line};
use playlists::playlists;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;
use subsonic::{SubsonicPasswordCommand, subsonic_password};

/// Mixtape: your music server in a terminal. Browse, search, keep playlists offline.
#[derive(Debug, Parser)]
#[command(name = "mixtape", version, about)]
pub struct Cli {
    /// Audio output for playback: `auto` (the default device, else a paced null sink), `null`,
    /// or `wav:FILE`.
    #[arg(long, global = true, env = "MIXTAPE_AUDIO_OUTPUT")]
    pub audio_output: Option<String>,
    /// With no command, the full-screen interface opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a server on the bundled demo library (in this process), log in, open the TUI.
    Demo {
        /// The music folder to serve (default: the repository's assets/demo).
        #[arg(long)]
        library: Option<PathBuf>,
    },
    /// Open the full-screen interface (also what `mixtape` with no command does).
    Tui,
    /// Log in to a server and mirror its catalog. The password comes from MIXTAPE_PASSWORD, else a prompt.
    Login {
        /// Server address, e.g. http://127.0.0.1:4870
        url: String,
        #[arg(long)]
        user: String,
    },
    /// Push local edits and play events, pull the server's changes, fetch offline tracks.
    Sync {
        /// Keep syncing every --interval seconds, following the server going and coming back.
        #[arg(long)]
        watch: bool,
        #[arg(long, default_value_t = 30)]
        interval: u64,
        #[arg(long)]
        json: bool,
    },
    /// Search the local catalog (works offline).
    Search {
        query: Vec<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// List, show and edit playlists (edits work offline and sync later).
    #[command(subcommand)]
    Playlists(PlaylistCommand),
    /// Keep playlists fully playable with no network.
    #[command(subcommand)]
    Offline(OfflineCommand),
    /// The audio cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// The app password Subsonic apps (DSub, Symfonium, Amperfy, ...) sign in with.
    #[command(subcommand)]
    SubsonicPassword(SubsonicPasswordCommand),
    /// Online or offline, pending edits and events, cache use.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum PlaylistCommand {
    /// Your playlists and other users' public ones.
    List(JsonFlag),
    /// A playlist's entries in order, each with its entry id and track id.
    Show {
        name: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    Create {
        name: String,
        #[arg(long)]
        public: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Add tracks (by id), appended or at --at POSITION (0 = first); they stay together.
    Add {
        name: String,
        #[arg(required = true)]
        track_ids: Vec<i64>,
        #[arg(long)]
        at: Option<usize>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Remove one entry (by entry id).
    Rm {
        name: String,
        entry_id: EntryId,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Move an entry to POSITION (0 = first).
    Mv {
        name: String,
        entry_id: EntryId,
        position: usize,
        #[command(flatten)]
        json: JsonFlag,
    },
    Rename {
        name: String,
        new_name: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    Delete {
        name: String,
    },
    /// Create a playlist from an m3u8 file (needs the server to match paths).
    Import {
        file: PathBuf,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Write a playlist as m3u8 (stdout unless --output), with stream URLs the server imports back.
    Export {
        name: String,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OfflineCommand {
    /// Pin a playlist's tracks and download them (its size is shown first).
    Add {
        name: String,
        /// `original` or a server profile such as `opus-96` (default: the `download_quality`
        /// setting). Changing it downloads the new files before freeing the old ones.
        #[arg(long)]
        quality: Option<String>,
    },
    /// Unpin a playlist (its tracks may be evicted).
    Rm { name: String },
    /// Offline playlists and how much of each is cached.
    Ls(JsonFlag),
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    Stats(JsonFlag),
    /// Re-hash every cached file; corrupt ones are removed and pinned ones fetched again.
    Verify(JsonFlag),
    /// Remove every unpinned file.
    Clear,
}

/// What the process exit code means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Ok = 0,
    Failed = 1,
    /// Bad arguments (clap uses 2 as well).
    Usage = 2,
    /// The command needed the server and could not reach it, or it did not answer in time.
    Offline = 3,
    /// Not logged in, or the server refused the credentials.
    Unauthorized = 4,
    /// No such playlist, entry or track.
    NotFound = 5,
    /// No room: the cache's cap, or a full disk under the cache or the local database.
    NoRoom = 6,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Mirror(#[from] MirrorError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error(transparent)]
    Offline(#[from] OfflineError),
    #[error(transparent)]
    Quality(#[from] crate::quality::QualityError),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Tui(#[from] crate::tui::TuiError),
    #[cfg(feature = "demo")]
    #[error(transparent)]
    Demo(#[from] crate::demo::DemoError),
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Standard output could not be written; a closed pipe (`| head`) ends the program quietly.
    #[error("cannot write the output: {0}")]
    Stdout(std::io::Error),
}

impl CliError {
    pub fn exit_status(&self) -> ExitStatus {
        fn of_api(e: &ApiError) -> ExitStatus {
            match e {
                ApiError::Unreachable { .. } | ApiError::Timeout { .. } => ExitStatus::Offline,
                ApiError::Unauthorized { .. } => ExitStatus::Unauthorized,
                ApiError::Server { status: 404, .. } => ExitStatus::NotFound,
                _ => ExitStatus::Failed,
            }
        }
        fn of_cache(e: &CacheError) -> ExitStatus {
            match e {
                CacheError::PinRefused { .. } | CacheError::DiskFull { .. } => ExitStatus::NoRoom,
                CacheError::Network { .. } => ExitStatus::Offline,
                CacheError::Unauthorized { .. } => ExitStatus::Unauthorized,
                _ => ExitStatus::Failed,
            }
        }
        fn of_mirror(e: &MirrorError) -> ExitStatus {
            match e {
                MirrorError::NoSuchPlaylist(_)
                | MirrorError::NoSuchEntry(_)
                | MirrorError::NoSuchTrack(_) => ExitStatus::NotFound,
                MirrorError::AmbiguousPlaylist(_) => ExitStatus::Usage,
                MirrorError::DiskFull => ExitStatus::NoRoom,
                _ => ExitStatus::Failed,
            }
        }
        match self {
            CliError::Device(DeviceError::NotLoggedIn) => ExitStatus::Unauthorized,
            CliError::Device(DeviceError::Api(e)) | CliError::Api(e) => of_api(e),
            CliError::Sync(SyncError::Api(e)) => of_api(e),
            CliError::Device(DeviceError::Cache(e))
            | CliError::Cache(e)
            | CliError::Offline(OfflineError::Cache(e)) => of_cache(e),
            CliError::Device(DeviceError::Mirror(e))
            | CliError::Mirror(e)
            | CliError::Sync(SyncError::Mirror(e))
            | CliError::Offline(OfflineError::Mirror(e)) => of_mirror(e),
            CliError::Usage(_) => ExitStatus::Usage,
            CliError::Quality(QualityError::Api(e))
            | CliError::Offline(OfflineError::Sizes { source: e, .. }) => of_api(e),
            CliError::Quality(_) => ExitStatus::Usage,
            CliError::Offline(OfflineError::NoRendition { .. }) => ExitStatus::NotFound,
            _ => ExitStatus::Failed,
        }
    }
}

impl CliError {
    fn mirror_error_mut(&mut self) -> Option<&mut MirrorError> {
        match self {
            CliError::Device(DeviceError::Mirror(e))
            | CliError::Mirror(e)
            | CliError::Sync(SyncError::Mirror(e))
            | CliError::Offline(OfflineError::Mirror(e)) => Some(e),
            _ => None,
        }
    }

    /// An I/O error of the mirror while its disk has no room left is the full disk: say so
    /// (and exit 6) rather than "disk I/O error".
    fn with_full_disk_named(mut self, data_dir: &std::path::Path) -> Self {
        if let Some(e) = self.mirror_error_mut()
            && e.is_io_error()
            && crate::disk::no_room_left(data_dir)
        {
            *e = MirrorError::DiskFull;
        }
        self
    }
}

type Result<T> = std::result::Result<T, CliError>;

/// The whole `mixtape` program: logging to stderr (filtered by `MIXTAPE_LOG`, default `warn`),
/// then the CLI on the process's arguments and XDG directories. Returns the exit code.
pub fn main() -> i32 {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MIXTAPE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal, never with NO_COLOR (as the server's log).
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .init();
    let cli = Cli::parse();
    let dirs = match Dirs::from_env() {
        Ok(d) => d,
        Err(e) => {
            note!("mixtape: {e}");
            return ExitStatus::Failed as i32;
        }
    };
    match run(cli.command.unwrap_or(Command::Tui), cli.audio_output, dirs) {
        Ok(()) => ExitStatus::Ok as i32,
        // The reader went away (`| head`): it has all it wanted, so this is not a failure.
        Err(CliError::Stdout(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitStatus::Ok as i32
        }
        Err(e) => {
            note!("mixtape: {e}");
            e.exit_status() as i32
        }
    }
}

pub fn run(command: Command, audio_output: Option<String>, dirs: Dirs) -> Result<()> {
    let data_dir = dirs.data.clone();
    run_command(command, audio_output, dirs).map_err(|e| e.with_full_disk_named(&data_dir))
}

fn run_command(command: Command, audio_output: Option<String>, dirs: Dirs) -> Result<()> {
    let mut device = Device::open(dirs)?;
    if let Some(out) = audio_output {
        device.settings.audio_output = out;
    }
    if !device.repaired.is_clean() {
        note!("mixtape: repaired the audio cache after an unclean stop (see the log for what)");
    }
    match command {
        #[cfg(feature = "demo")]
        Command::Demo { library } => {
            let (demo, mut demo_device) = crate::demo::Demo::start(&device.dirs, library)?;
            demo_device.settings.audio_output = device.settings.audio_output.clone();
            let result = crate::tui::run(demo_device);
            demo.stop();
            Ok(result?)
        }
        #[cfg(not(feature = "demo"))]
        Command::Demo { .. } => Err(CliError::Usage(
            "this mixtape was built without the demo server: build it with the `demo` \
             feature (on by default), or run `mixtape-server` and `mixtape login`"
                .into(),
        )),
        Command::Tui => Ok(crate::tui::run(device)?),
        Command::Login { url, user } => login(&mut device, &url, &user),
        Command::Sync {
            watch,
            interval,
            json,
        } => {
            if watch {
                sync_watch(&mut device, Duration::from_secs(interval.max(1)), json)
            } else {
                let report = sync_all(&mut device, !json)?;
                print_sync(&report, json)
            }
        }
        Command::Search { query, limit, json } => {
            search(&mut device, &query.join(" "), limit, json)
        }
        Command::Playlists(cmd) => playlists(&mut device, cmd),
        Command::Offline(cmd) => offline_cmd(&mut device, cmd),
        Command::Cache(cmd) => cache_cmd(&mut device, cmd),
        Command::SubsonicPassword(cmd) => subsonic_password(&mut device, cmd),
        Command::Status { json } => status(&mut device, json),
    }
}

fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
    move |source| CliError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn login(device: &mut Device, url: &str, user: &str) -> Result<()> {
    let password = match std::env::var("MIXTAPE_PASSWORD") {
        Ok(p) => p,
        Err(_) => rpassword::prompt_password(format!("password for {user}: "))
            .map_err(io_err(std::path::Path::new("/dev/tty")))?,
    };
    let anonymous = ApiClient::new(url, None)?;
    let answer = anonymous.login(user, &password)?;
    device.save_session(Session {
        server: anonymous.base_url().to_string(),
        username: user.to_string(),
        token: answer.token,
    })?;
    note!("logged in to {} as {user}", anonymous.base_url());
    let report = sync_all(device, true)?;
    print_sync(&report, false)
}

/// A sync round, then the offline playlists brought up to date. Records connectivity.
fn sync_all(device: &mut Device, show_progress: bool) -> Result<SyncReport> {
    let api = device.api()?;
    let result = sync::sync(&mut device.mirror, &api);
    record_link(device, &result);
    let report = result?;
    let playlists = offline::refresh_pins(&device.mirror, &device.cache)?;
    if !playlists.is_empty() {
        let fetcher = device.fetcher()?;
        let bar = Bar::new(show_progress);
        let downloaded = offline::download(
            &device.mirror,
            &device.cache,
            &fetcher,
            &playlists,
            device.settings.parallel_downloads,
            &bar,
        )?;
        bar.finish();
        report_downloads(&downloaded, show_progress);
    }
    Ok(report)
}

fn record_link<T>(device: &Device, result: &std::result::Result<T, SyncError>) {
    let mut link = device.mirror.connectivity().unwrap_or_default();
    let reached = !matches!(result, Err(e) if e.is_offline());
    link.record(reached);
    if let Err(e) = device.mirror.set_connectivity(&link) {
        tracing::warn!("cannot save the connectivity state: {e}");
    }
}

fn sync_watch(device: &mut Device, every: Duration, json: bool) -> Result<()> {
    let mut link = Connectivity::default();
    loop {
        let outcome = sync_all(device, false);
        let reached = !matches!(&outcome, Err(CliError::Sync(e)) if e.is_offline());
        if link.record(reached) {
            let state = link.link.as_str();
            if json {
                print_json(&json!({"link": state}))?;
            } else {
                note!("mixtape: server is {state}");
            }
        }
        match outcome {
            Ok(report) => {
                if report != SyncReport::default() || json {
                    print_sync(&report, json)?;
                }
            }
            Err(CliError::Sync(e)) if e.is_offline() => {}
            Err(e) if e.exit_status() == ExitStatus::Offline => {}
            Err(e) => return Err(e),
        }
        std::thread::sleep(every);
    }
}

fn search(device: &mut Device, query: &str, limit: u32, json: bool) -> Result<()> {
    // A fresh login that never pulled: fill the mirror first if the server is there.
    if device.mirror.revision()? == 0 && device.session().is_some() {
        let _ = sync_all(device, !json);
    }
    let tracks = device.mirror.search(query, limit)?;
    if json {
        print_json(&json!({"query": query, "tracks": tracks}))?;
    } else if tracks.is_empty() {
        say!("no tracks match {query:?}");
    } else {
        for t in &tracks {
            say!("{}", track_line(t));
        }
    }
    Ok(())
}

fn status(device: &mut Device, json: bool) -> Result<()> {
    let mut link = device.mirror.connectivity()?;
    if let Ok(api) = device.api() {
        // Two failed checks in a row mean offline; a single blip does not.
        for attempt in 0..2 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(300));
            }
            let reached = api.health().is_ok();
            link.record(reached);
            if reached {
                break;
            }
        }
        // A status is a read: on a full disk it still answers, the state is just not kept.
        if let Err(e) = device.mirror.set_connectivity(&link) {
            tracing::warn!("cannot save the connectivity state: {e}");
        }
    }
    let stats = device.cache.stats()?;
    let session = device.session();
    let value = json!({
        "link": if session.is_some() { link.link.as_str() } else { "logged_out" },
        "server": session.map(|s| s.server.clone()),
        "user": session.map(|s| s.username.clone()),
        "pending_ops": device.mirror.pending_op_count()?,
        "pending_events": device.mirror.pending_event_count()?,
        "revision": device.mirror.revision()?,
        "tracks": device.mirror.track_count()?,
        "offline_playlists": device.mirror.offline_playlists()?.len(),
        "device_id": device.mirror.device_id(),
        "cache": stats_json(&stats),
    });
    if json {
        print_json(&value)?;
    } else {
        say!(
            "{} {}; {} edits and {} play events pending; {} tracks mirrored (revision {}); cache {:.1}/{:.1} MB",
            value["link"].as_str().unwrap_or_default(),
            value["server"].as_str().unwrap_or("(not logged in)"),
            value["pending_ops"],
            value["pending_events"],
            value["tracks"],
            value["revision"],
            stats.used_bytes as f64 / 1e6,
            stats.cap_bytes as f64 / 1e6
        );
    }
    Ok(())
}

/// Sizes as people read them: `212 MB`, `1.4 GB`, `640 kB` (decimal, like the other output).
pub fn megabytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.0} MB", b / 1e6)
    } else {
        format!("{:.0} kB", (b / 1e3).ceil())
    }
}
