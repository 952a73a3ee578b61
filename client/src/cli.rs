//! The scriptable CLI: `mixtape login|sync|search|playlists|offline|cache|status`. Human output by
//! default, `--json` for scripts, and exit codes that say what went wrong (see [`ExitStatus`]).
//! Edits apply locally at once and go to the server when it can be reached.

use crate::api::{ApiClient, ApiError};
use crate::cache::{CacheError, CacheStats};
use crate::connectivity::Connectivity;
use crate::device::{Device, DeviceError, Dirs, Session};
use crate::mirror::{MirrorError, PlaylistView};
use crate::offline::{self, DownloadReport, OfflineError, Progress};
use crate::sync::{self, SyncError, SyncReport};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use mixtape_shared::api::Track;
use mixtape_shared::sync::{Anchor, NewEntry, OpKind};
use mixtape_shared::{EntryId, PlaylistId, TrackId};
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

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
    /// Pin a playlist's tracks and download them.
    Add { name: String },
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
    /// The command needed the server and could not reach it.
    Offline = 3,
    /// Not logged in, or the server refused the credentials.
    Unauthorized = 4,
    /// No such playlist, entry or track.
    NotFound = 5,
    /// The cache cannot hold it (cap or full disk).
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
    Cache(#[from] CacheError),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Tui(#[from] crate::tui::TuiError),
    #[error(transparent)]
    Demo(#[from] crate::demo::DemoError),
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl CliError {
    pub fn exit_status(&self) -> ExitStatus {
        fn of_api(e: &ApiError) -> ExitStatus {
            match e {
                ApiError::Unreachable { .. } => ExitStatus::Offline,
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
            _ => ExitStatus::Failed,
        }
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
        .init();
    let cli = Cli::parse();
    let dirs = match Dirs::from_env() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("mixtape: {e}");
            return ExitStatus::Failed as i32;
        }
    };
    match run(cli.command.unwrap_or(Command::Tui), cli.audio_output, dirs) {
        Ok(()) => ExitStatus::Ok as i32,
        Err(e) => {
            eprintln!("mixtape: {e}");
            e.exit_status() as i32
        }
    }
}

pub fn run(command: Command, audio_output: Option<String>, dirs: Dirs) -> Result<()> {
    let mut device = Device::open(dirs)?;
    if let Some(out) = audio_output {
        device.settings.audio_output = out;
    }
    if !device.repaired.is_clean() {
        eprintln!("mixtape: repaired the audio cache after an unclean stop (see the log for what)");
    }
    match command {
        Command::Demo { library } => {
            let (demo, mut demo_device) = crate::demo::Demo::start(&device.dirs, library)?;
            demo_device.settings.audio_output = device.settings.audio_output.clone();
            let result = crate::tui::run(demo_device);
            demo.stop();
            Ok(result?)
        }
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
                print_sync(&report, json);
                Ok(())
            }
        }
        Command::Search { query, limit, json } => {
            search(&mut device, &query.join(" "), limit, json)
        }
        Command::Playlists(cmd) => playlists(&mut device, cmd),
        Command::Offline(cmd) => offline_cmd(&mut device, cmd),
        Command::Cache(cmd) => cache_cmd(&mut device, cmd),
        Command::Status { json } => status(&mut device, json),
    }
}

fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
    move |source| CliError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn print_json(value: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, value);
    let _ = writeln!(out);
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
    eprintln!("logged in to {} as {user}", anonymous.base_url());
    let report = sync_all(device, true)?;
    print_sync(&report, false);
    Ok(())
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

fn print_sync(report: &SyncReport, json: bool) {
    if json {
        print_json(&serde_json::to_value(report).unwrap_or_default());
        return;
    }
    println!(
        "synced: {} edits sent ({} already there), {} play events sent, {} tracks and {} playlists updated; revision {}",
        report.ops_accepted,
        report.ops_duplicate,
        report.events_accepted + report.events_duplicate,
        report.tracks_changed + report.tracks_deleted,
        report.playlists_changed + report.playlists_deleted,
        report.revision
    );
    for r in &report.ops_rejected {
        println!("  the server refused an edit ({}): {}", r.code, r.message);
    }
}

fn report_downloads(report: &DownloadReport, human: bool) {
    if !human {
        return;
    }
    if report.downloaded > 0 || !report.failed.is_empty() {
        eprintln!(
            "offline: {} of {} tracks cached ({} downloaded now, {:.1} MB)",
            report.already_cached + report.downloaded,
            report.tracks,
            report.downloaded,
            report.downloaded_bytes as f64 / 1e6
        );
    }
    for (track, reason) in &report.failed {
        eprintln!("  track {track} not cached: {reason}");
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
                print_json(&json!({"link": state}));
            } else {
                eprintln!("mixtape: server is {state}");
            }
        }
        match outcome {
            Ok(report) => {
                if report != SyncReport::default() || json {
                    print_sync(&report, json);
                }
            }
            Err(CliError::Sync(e)) if e.is_offline() => {}
            Err(e) if e.exit_status() == ExitStatus::Offline => {}
            Err(e) => return Err(e),
        }
        std::thread::sleep(every);
    }
}

/// After an edit: push it now if the server answers, else say it waits.
fn sync_after_edit(device: &mut Device, json: bool) -> Result<()> {
    if device.session().is_none() {
        if !json {
            eprintln!("not logged in: the edit is kept here and sent after `mixtape login`");
        }
        return Ok(());
    }
    let api = device.api()?;
    let result = sync::sync(&mut device.mirror, &api);
    record_link(device, &result);
    match result {
        Ok(report) => {
            for r in &report.ops_rejected {
                eprintln!("the server refused an edit ({}): {}", r.code, r.message);
            }
            Ok(())
        }
        Err(e) if e.is_offline() => {
            if !json {
                let n = device.mirror.pending_op_count()?;
                eprintln!(
                    "offline: saved here; {n} edit(s) will be sent on the next `mixtape sync`"
                );
            }
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

fn track_line(t: &Track) -> String {
    let artists: Vec<&str> = t.artists.iter().map(|a| a.name.as_str()).collect();
    let album = t.album.as_ref().map_or("", |a| a.title.as_str());
    format!(
        "{:>7}  {} - {}  [{}]  {}",
        t.id.0,
        artists.join(", "),
        t.title,
        album,
        clock_time(t.duration_ms)
    )
}

fn clock_time(ms: u64) -> String {
    let s = ms / 1000;
    format!("{}:{:02}", s / 60, s % 60)
}

fn search(device: &mut Device, query: &str, limit: u32, json: bool) -> Result<()> {
    // A fresh login that never pulled: fill the mirror first if the server is there.
    if device.mirror.since()? == 0 && device.session().is_some() {
        let _ = sync_all(device, !json);
    }
    let tracks = device.mirror.search(query, limit)?;
    if json {
        print_json(&json!({"query": query, "tracks": tracks}));
    } else if tracks.is_empty() {
        println!("no tracks match {query:?}");
    } else {
        for t in &tracks {
            println!("{}", track_line(t));
        }
    }
    Ok(())
}

fn playlist_json(device: &Device, p: &PlaylistView) -> Result<serde_json::Value> {
    let ids: Vec<TrackId> = p.entries.iter().map(|e| e.track_id).collect();
    let tracks = device.mirror.tracks(&ids)?;
    let entries: Vec<serde_json::Value> = p
        .entries
        .iter()
        .map(|e| {
            let t = tracks.iter().find(|t| t.id == e.track_id);
            json!({
                "entry_id": e.entry_id,
                "track_id": e.track_id,
                "title": t.map(|t| t.title.clone()),
                "artists": t.map(|t| t.artists.iter().map(|a| a.name.clone()).collect::<Vec<_>>()),
                "duration_ms": t.map(|t| t.duration_ms),
                "cached": t.is_some_and(|t| device.cache.contains(&t.content_hash)),
            })
        })
        .collect();
    Ok(json!({
        "id": p.id,
        "name": p.name,
        "owner": p.owner,
        "public": p.public,
        "local_only": p.local_only,
        "pending_ops": p.pending_ops,
        "offline": p.offline,
        "entries": entries,
    }))
}

fn print_playlist(device: &Device, p: &PlaylistView, json: bool) -> Result<()> {
    if json {
        print_json(&playlist_json(device, p)?);
        return Ok(());
    }
    let flags = [
        (p.local_only, "not yet on the server"),
        (p.pending_ops > 0, "edits pending"),
        (p.offline, "offline"),
        (p.public, "public"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, s)| *s)
    .collect::<Vec<_>>()
    .join(", ");
    println!(
        "{} ({})  {} entries  {}",
        p.name,
        p.id,
        p.entries.len(),
        flags
    );
    let ids: Vec<TrackId> = p.entries.iter().map(|e| e.track_id).collect();
    let tracks = device.mirror.tracks(&ids)?;
    for (i, e) in p.entries.iter().enumerate() {
        let line = tracks.iter().find(|t| t.id == e.track_id).map_or_else(
            || format!("{:>7}  (not in the local catalog)", e.track_id.0),
            track_line,
        );
        println!("{i:>4}  {}  {line}", e.entry_id);
    }
    Ok(())
}

fn playlists(device: &mut Device, cmd: PlaylistCommand) -> Result<()> {
    match cmd {
        PlaylistCommand::List(JsonFlag { json }) => {
            let all = device.mirror.playlists()?;
            if json {
                let list: Vec<_> = all
                    .iter()
                    .map(|p| {
                        json!({"id": p.id, "name": p.name, "owner": p.owner, "public": p.public,
                            "entries": p.entries.len(), "pending_ops": p.pending_ops,
                            "local_only": p.local_only, "offline": p.offline})
                    })
                    .collect();
                print_json(&json!(list));
            } else if all.is_empty() {
                println!("no playlists yet: `mixtape playlists create NAME`");
            } else {
                for p in all {
                    let owner = p.owner.as_deref().unwrap_or("you");
                    println!(
                        "{}  {:<30} {:>5} entries  by {owner}{}{}",
                        p.id,
                        p.name,
                        p.entries.len(),
                        if p.offline { "  [offline]" } else { "" },
                        if p.pending_ops > 0 {
                            "  [edits pending]"
                        } else {
                            ""
                        }
                    );
                }
            }
            Ok(())
        }
        PlaylistCommand::Show { name, json } => {
            let p = device.mirror.find_playlist(&name)?;
            print_playlist(device, &p, json.json)
        }
        PlaylistCommand::Create { name, public, json } => {
            let name = name.trim().to_string();
            if name.is_empty() {
                return Err(CliError::Usage("a playlist needs a name".into()));
            }
            let id = PlaylistId::new_v7();
            device
                .mirror
                .enqueue_op(id, OpKind::Create { name, public })?;
            sync_after_edit(device, json.json)?;
            let p = device.mirror.find_playlist(&id.to_string())?;
            if !json.json {
                println!("created {} ({})", p.name, p.id);
            }
            print_playlist_if_json(device, &p, json.json)
        }
        PlaylistCommand::Add {
            name,
            track_ids,
            at,
            json,
        } => {
            let p = device.mirror.find_playlist(&name)?;
            let ids: Vec<TrackId> = track_ids.into_iter().map(TrackId).collect();
            let known = device.mirror.tracks(&ids)?;
            if let Some(missing) = ids.iter().find(|id| !known.iter().any(|t| t.id == **id)) {
                return Err(MirrorError::NoSuchTrack(missing.0).into());
            }
            let at = match at {
                Some(pos) => state_of(&p).anchor_at(pos, None),
                None => Anchor::End,
            };
            let entries = ids
                .iter()
                .map(|t| NewEntry {
                    id: EntryId::new_v7(),
                    track_id: *t,
                })
                .collect();
            device
                .mirror
                .enqueue_op(p.id, OpKind::Add { entries, at })?;
            finish_edit(
                device,
                p.id,
                json.json,
                &format!("added {} track(s)", ids.len()),
            )
        }
        PlaylistCommand::Rm {
            name,
            entry_id,
            json,
        } => {
            let p = device.mirror.find_playlist(&name)?;
            require_entry(&p, entry_id)?;
            device
                .mirror
                .enqueue_op(p.id, OpKind::Remove { entry: entry_id })?;
            finish_edit(device, p.id, json.json, "removed the entry")
        }
        PlaylistCommand::Mv {
            name,
            entry_id,
            position,
            json,
        } => {
            let p = device.mirror.find_playlist(&name)?;
            require_entry(&p, entry_id)?;
            let to = state_of(&p).anchor_at(position, Some(entry_id));
            device.mirror.enqueue_op(
                p.id,
                OpKind::Move {
                    entry: entry_id,
                    to,
                },
            )?;
            finish_edit(
                device,
                p.id,
                json.json,
                &format!("moved to position {position}"),
            )
        }
        PlaylistCommand::Rename {
            name,
            new_name,
            json,
        } => {
            let p = device.mirror.find_playlist(&name)?;
            let new_name = new_name.trim().to_string();
            if new_name.is_empty() {
                return Err(CliError::Usage("a playlist needs a name".into()));
            }
            device
                .mirror
                .enqueue_op(p.id, OpKind::Rename { name: new_name })?;
            finish_edit(device, p.id, json.json, "renamed")
        }
        PlaylistCommand::Delete { name } => {
            let p = device.mirror.find_playlist(&name)?;
            device.mirror.enqueue_op(p.id, OpKind::Delete)?;
            if p.offline {
                offline::unmark(&device.mirror, &device.cache, p.id)?;
            }
            sync_after_edit(device, false)?;
            println!("deleted {}", p.name);
            Ok(())
        }
        PlaylistCommand::Import { file, name, json } => {
            let text = std::fs::read_to_string(&file).map_err(io_err(&file))?;
            let api = device.api()?;
            let report = api.import_m3u8(&text, name.as_deref())?;
            let mut ignored = SyncReport::default();
            sync::pull(&mut device.mirror, &api, &mut ignored)?;
            let p = device
                .mirror
                .find_playlist(&report.playlist.playlist.id.to_string())?;
            if json.json {
                let mut value = playlist_json(device, &p)?;
                value["unmatched"] = json!(report.unmatched);
                print_json(&value);
            } else {
                println!("imported {} ({} entries)", p.name, p.entries.len());
                for line in &report.unmatched {
                    println!("  no track for: {line}");
                }
            }
            Ok(())
        }
        PlaylistCommand::Export { name, output } => {
            let p = device.mirror.find_playlist(&name)?;
            let text = export_m3u8(device, &p)?;
            match output {
                Some(path) => std::fs::write(&path, text).map_err(io_err(&path))?,
                None => print!("{text}"),
            }
            Ok(())
        }
    }
}

fn print_playlist_if_json(device: &Device, p: &PlaylistView, json: bool) -> Result<()> {
    if json {
        print_json(&playlist_json(device, p)?);
    }
    Ok(())
}

fn finish_edit(device: &mut Device, id: PlaylistId, json: bool, done: &str) -> Result<()> {
    sync_after_edit(device, json)?;
    let p = device.mirror.find_playlist(&id.to_string())?;
    if json {
        print_json(&playlist_json(device, &p)?);
    } else {
        println!("{done}: {} now has {} entries", p.name, p.entries.len());
    }
    Ok(())
}

fn require_entry(p: &PlaylistView, entry: EntryId) -> Result<()> {
    if p.entries.iter().any(|e| e.entry_id == entry) {
        Ok(())
    } else {
        Err(MirrorError::NoSuchEntry(entry.to_string()).into())
    }
}

fn state_of(p: &PlaylistView) -> mixtape_shared::sync::PlaylistState {
    mixtape_shared::sync::PlaylistState::from_entries(
        p.id,
        p.name.clone(),
        p.public,
        0,
        p.entries.iter().map(|e| (e.entry_id, e.track_id)),
    )
}

/// Extended M3U with the server's stream URLs, which its import maps back to track ids.
fn export_m3u8(device: &Device, p: &PlaylistView) -> Result<String> {
    let base = device
        .session()
        .map(|s| s.server.clone())
        .unwrap_or_default();
    let ids: Vec<TrackId> = p.entries.iter().map(|e| e.track_id).collect();
    let tracks = device.mirror.tracks(&ids)?;
    let mut out = format!("#EXTM3U\n#PLAYLIST:{}\n", p.name.replace(['\r', '\n'], " "));
    for e in &p.entries {
        if let Some(t) = tracks.iter().find(|t| t.id == e.track_id) {
            let artists: Vec<&str> = t.artists.iter().map(|a| a.name.as_str()).collect();
            let line = format!("{} - {}", artists.join(", "), t.title).replace(['\r', '\n'], " ");
            out.push_str(&format!(
                "#EXTINF:{},{line}\n{base}/api/v1/tracks/{}/stream\n",
                t.duration_ms.div_ceil(1000),
                t.id.0
            ));
        }
    }
    Ok(out)
}

fn offline_cmd(device: &mut Device, cmd: OfflineCommand) -> Result<()> {
    match cmd {
        OfflineCommand::Add { name } => {
            let p = device.mirror.find_playlist(&name)?;
            offline::mark(&device.mirror, &device.cache, &p)?;
            let fetcher = device.fetcher()?;
            let bar = Bar::new(true);
            let result = offline::download(
                &device.mirror,
                &device.cache,
                &fetcher,
                std::slice::from_ref(&p),
                device.settings.parallel_downloads,
                &bar,
            );
            bar.finish();
            match result {
                Ok(report) => {
                    report_downloads(&report, true);
                    let cached = report.already_cached + report.downloaded;
                    println!(
                        "{} is offline: {cached} of {} tracks cached",
                        p.name, report.tracks
                    );
                    Ok(())
                }
                Err(OfflineError::Cache(e)) if e.is_retryable() => {
                    println!(
                        "{} is marked offline; its tracks download on the next `mixtape sync` ({e})",
                        p.name
                    );
                    Ok(())
                }
                Err(e) => Err(e.into()),
            }
        }
        OfflineCommand::Rm { name } => {
            let p = device.mirror.find_playlist(&name)?;
            offline::unmark(&device.mirror, &device.cache, p.id)?;
            println!("{} is no longer kept offline", p.name);
            Ok(())
        }
        OfflineCommand::Ls(JsonFlag { json }) => {
            let all = device.mirror.playlists()?;
            let mut rows = Vec::new();
            for p in all.iter().filter(|p| p.offline) {
                let ids: Vec<TrackId> = p.entries.iter().map(|e| e.track_id).collect();
                let tracks = device.mirror.tracks_of(&ids)?;
                let cached = tracks
                    .iter()
                    .filter(|(_, h, _)| device.cache.contains(h))
                    .count();
                let bytes: u64 = tracks.iter().map(|(_, _, s)| s).sum();
                rows.push(json!({"id": p.id, "name": p.name, "tracks": tracks.len(),
                    "cached": cached, "bytes": bytes}));
            }
            if json {
                print_json(&json!(rows));
            } else if rows.is_empty() {
                println!("no offline playlists: `mixtape offline add NAME`");
            } else {
                for r in rows {
                    println!(
                        "{:<30} {}/{} tracks cached  {:.1} MB",
                        r["name"].as_str().unwrap_or_default(),
                        r["cached"],
                        r["tracks"],
                        r["bytes"].as_u64().unwrap_or(0) as f64 / 1e6
                    );
                }
            }
            Ok(())
        }
    }
}

fn stats_json(s: &CacheStats) -> serde_json::Value {
    json!({
        "used_bytes": s.used_bytes, "cap_bytes": s.cap_bytes, "files": s.files,
        "pinned_bytes": s.pinned_bytes, "pinned_files": s.pinned_files,
        "partial_bytes": s.partial_bytes, "partial_files": s.partial_files,
        "art_bytes": s.art_bytes, "art_files": s.art_files,
    })
}

fn cache_cmd(device: &mut Device, cmd: CacheCommand) -> Result<()> {
    match cmd {
        CacheCommand::Stats(JsonFlag { json }) => {
            let s = device.cache.stats()?;
            if json {
                print_json(&stats_json(&s));
            } else {
                println!(
                    "{:.1} of {:.1} MB used by {} files ({} pinned, {:.1} MB); {} partial downloads ({:.1} MB); {} cover images",
                    s.used_bytes as f64 / 1e6,
                    s.cap_bytes as f64 / 1e6,
                    s.files,
                    s.pinned_files,
                    s.pinned_bytes as f64 / 1e6,
                    s.partial_files,
                    s.partial_bytes as f64 / 1e6,
                    s.art_files
                );
            }
            Ok(())
        }
        CacheCommand::Verify(JsonFlag { json }) => {
            let report = device.cache.verify()?;
            // Pinned tracks that were corrupt are fetched again when the server is there.
            let mut refetched = None;
            if !report.corrupt.is_empty() || !report.missing.is_empty() {
                let playlists = offline::refresh_pins(&device.mirror, &device.cache)?;
                if let (false, Ok(fetcher)) = (playlists.is_empty(), device.fetcher()) {
                    match offline::download(
                        &device.mirror,
                        &device.cache,
                        &fetcher,
                        &playlists,
                        device.settings.parallel_downloads,
                        &offline::Quiet,
                    ) {
                        Ok(r) => refetched = Some(r.downloaded),
                        Err(e) => eprintln!("could not fetch them again now: {e}"),
                    }
                }
            }
            if json {
                print_json(
                    &json!({"checked": report.checked, "checked_bytes": report.checked_bytes,
                    "corrupt": report.corrupt, "missing": report.missing, "refetched": refetched}),
                );
            } else {
                println!(
                    "checked {} files ({:.1} MB): {} corrupt, {} missing",
                    report.checked,
                    report.checked_bytes as f64 / 1e6,
                    report.corrupt.len(),
                    report.missing.len()
                );
                for h in &report.corrupt {
                    println!("  removed corrupt {h}");
                }
                if let Some(n) = refetched {
                    println!("  fetched {n} pinned track(s) again");
                }
            }
            Ok(())
        }
        CacheCommand::Clear => {
            let freed = device.cache.clear()?;
            println!("freed {:.1} MB (pinned tracks stay)", freed as f64 / 1e6);
            Ok(())
        }
    }
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
        device.mirror.set_connectivity(&link)?;
    }
    let stats = device.cache.stats()?;
    let session = device.session();
    let value = json!({
        "link": if session.is_some() { link.link.as_str() } else { "logged_out" },
        "server": session.map(|s| s.server.clone()),
        "user": session.map(|s| s.username.clone()),
        "pending_ops": device.mirror.pending_op_count()?,
        "pending_events": device.mirror.pending_event_count()?,
        "revision": device.mirror.since()?,
        "tracks": device.mirror.track_count()?,
        "offline_playlists": device.mirror.offline_playlists()?.len(),
        "device_id": device.mirror.device_id(),
        "cache": stats_json(&stats),
    });
    if json {
        print_json(&value);
    } else {
        println!(
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

/// A byte progress bar on stderr when it is a terminal; silent otherwise.
struct Bar(Option<ProgressBar>);

impl Bar {
    fn new(show: bool) -> Self {
        if !show || !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        Self(Some(bar))
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn start(&self, total_bytes: u64, tracks: u64) {
        if let Some(bar) = &self.0 {
            bar.set_length(total_bytes);
            bar.set_message(format!("downloading {tracks} tracks"));
        }
    }
    fn advance(&self, done_bytes: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(done_bytes);
        }
    }
}
