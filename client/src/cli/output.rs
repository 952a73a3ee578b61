//! What the CLI prints: stdout through [`say!`] and [`print_json`], which hand a failed write
//! back as [`CliError::Stdout`] (so `mixtape ... | head` ends quietly instead of panicking the
//! way `println!` does), notes on stderr through [`note!`], and the progress bar.

use super::{CliError, Result};
use crate::cache::CacheStats;
use crate::offline::{DownloadReport, Progress};
use crate::sync::SyncReport;
use indicatif::{ProgressBar, ProgressStyle};
use mixtape_shared::api::Track;
use serde_json::json;
use std::io::{IsTerminal, Write};

/// `println!` that returns from the calling function with [`CliError::Stdout`] when stdout
/// cannot be written (a closed pipe, a full disk under a redirect).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*).map_err($crate::cli::CliError::Stdout)?
    }};
}

/// `eprintln!` that never panics: a note the user cannot see is not worth dying for.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub(super) use {note, say};

/// Writes `text` as it is (no newline added), as `say!` does.
pub(super) fn print_raw(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(CliError::Stdout)
}

pub(super) fn print_json(value: &serde_json::Value) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out))
        .and_then(|()| out.flush())
        .map_err(CliError::Stdout)
}

pub(super) fn print_sync(report: &SyncReport, json: bool) -> Result<()> {
    if json {
        return print_json(&serde_json::to_value(report).unwrap_or_default());
    }
    say!(
        "synced: {} edits sent ({} already there), {} play events sent, {} tracks and {} playlists updated; revision {}",
        report.ops_accepted,
        report.ops_duplicate,
        report.events_accepted + report.events_duplicate,
        report.tracks_changed + report.tracks_deleted,
        report.playlists_changed + report.playlists_deleted,
        report.revision
    );
    for r in &report.ops_rejected {
        say!("  the server refused an edit ({}): {}", r.code, r.message);
    }
    Ok(())
}

pub(super) fn report_downloads(report: &DownloadReport, human: bool) {
    if !human {
        return;
    }
    if report.downloaded > 0 || !report.failed.is_empty() {
        note!(
            "offline: {} of {} tracks cached ({} downloaded now, {:.1} MB)",
            report.already_cached + report.downloaded,
            report.tracks,
            report.downloaded,
            report.downloaded_bytes as f64 / 1e6
        );
    }
    for (track, reason) in &report.failed {
        note!("  track {track} not cached: {reason}");
    }
}

pub(super) fn track_line(t: &Track) -> String {
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

pub(super) fn clock_time(ms: u64) -> String {
    let s = ms / 1000;
    format!("{}:{:02}", s / 60, s % 60)
}

pub(super) fn stats_json(s: &CacheStats) -> serde_json::Value {
    json!({
        "used_bytes": s.used_bytes, "cap_bytes": s.cap_bytes, "files": s.files,
        "pinned_bytes": s.pinned_bytes, "pinned_files": s.pinned_files,
        "partial_bytes": s.partial_bytes, "partial_files": s.partial_files,
        "art_bytes": s.art_bytes, "art_files": s.art_files,
    })
}

/// A byte progress bar on stderr when it is a terminal; silent otherwise.
pub(super) struct Bar(Option<ProgressBar>);

impl Bar {
    pub(super) fn new(show: bool) -> Self {
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

    pub(super) fn finish(&self) {
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
