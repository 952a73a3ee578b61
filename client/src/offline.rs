//! Offline playlists: a playlist marked offline has every track pinned in the audio cache and
//! downloaded, several at once, with its cover art and lyrics; tracks added later arrive on the
//! next sync; unmarking unpins. Pins are owned by the playlist id, so a track two offline playlists share
//! stays until both let go.

use crate::cache::{AudioCache, CacheError, Fetcher};
use crate::mirror::{KnownLyrics, Mirror, MirrorError, PlaylistView};
use mixtape_shared::{PlaylistId, TrackId};
use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    #[error(transparent)]
    Mirror(#[from] MirrorError),
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// Progress of a download batch, for progress bars: called from worker threads.
pub trait Progress: Sync {
    /// Total bytes to fetch (called once, before any download).
    fn start(&self, _total_bytes: u64, _tracks: u64) {}
    /// Bytes fetched so far across the batch.
    fn advance(&self, _done_bytes: u64) {}
    /// One track is cached (or failed).
    fn track_done(&self, _track: TrackId, _error: Option<&CacheError>) {}
}

/// No progress reporting.
pub struct Quiet;
impl Progress for Quiet {}

#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct DownloadReport {
    /// Tracks the playlists hold (distinct).
    pub tracks: u64,
    /// Tracks that were already cached.
    pub already_cached: u64,
    /// Tracks downloaded now.
    pub downloaded: u64,
    pub downloaded_bytes: u64,
    /// Tracks that could not be fetched, with the reason (they are retried next sync).
    pub failed: Vec<(TrackId, String)>,
}

/// The (hash, size) of each track of `playlist` the mirror knows, deduplicated.
fn pins_for(
    mirror: &Mirror,
    playlist: &PlaylistView,
) -> Result<Vec<(TrackId, String, u64)>, OfflineError> {
    let mut seen = HashSet::new();
    let ids: Vec<TrackId> = playlist
        .entries
        .iter()
        .map(|e| e.track_id)
        .filter(|id| seen.insert(*id))
        .collect();
    Ok(mirror.tracks_of(&ids)?)
}

/// Marks a playlist offline and pins its tracks; refused (and left unmarked) when the pins
/// cannot fit in the cache's cap. Call [`download`] afterwards to fetch them.
pub fn mark(
    mirror: &Mirror,
    cache: &AudioCache,
    playlist: &PlaylistView,
) -> Result<(), OfflineError> {
    let tracks = pins_for(mirror, playlist)?;
    let pins: Vec<(&str, u64)> = tracks.iter().map(|(_, h, s)| (h.as_str(), *s)).collect();
    cache.set_pins(&playlist.id.to_string(), &pins)?;
    mirror.set_offline(playlist.id, true)?;
    Ok(())
}

/// Unmarks a playlist: its tracks may be evicted again.
pub fn unmark(mirror: &Mirror, cache: &AudioCache, id: PlaylistId) -> Result<(), OfflineError> {
    cache.unpin(&id.to_string())?;
    mirror.set_offline(id, false)?;
    Ok(())
}

/// Re-pins every offline playlist as it now stands (entries added or removed since) and drops
/// the marks of playlists that no longer exist. Returns the playlists that stay offline.
pub fn refresh_pins(
    mirror: &Mirror,
    cache: &AudioCache,
) -> Result<Vec<PlaylistView>, OfflineError> {
    let all = mirror.playlists()?;
    let mut offline = Vec::new();
    for id in mirror.offline_playlists()? {
        match all.iter().find(|p| p.id == id) {
            Some(p) => {
                let tracks = pins_for(mirror, p)?;
                let pins: Vec<(&str, u64)> =
                    tracks.iter().map(|(_, h, s)| (h.as_str(), *s)).collect();
                match cache.set_pins(&id.to_string(), &pins) {
                    Ok(()) => {}
                    // The playlist grew past the cap: keep the old pins, say so, go on.
                    Err(e @ CacheError::PinRefused { .. }) => {
                        tracing::warn!(playlist = %p.name, "cannot pin every track: {e}");
                    }
                    Err(e) => return Err(e.into()),
                }
                offline.push(p.clone());
            }
            None => unmark(mirror, cache, id)?,
        }
    }
    Ok(offline)
}

/// Downloads every track of `playlists` not yet cached, `parallel` at a time, and their cover
/// art. A failed track does not stop the others; a full disk does (downloads pause).
pub fn download(
    mirror: &Mirror,
    cache: &AudioCache,
    fetcher: &Fetcher,
    playlists: &[PlaylistView],
    parallel: usize,
    progress: &dyn Progress,
) -> Result<DownloadReport, OfflineError> {
    let mut seen = HashSet::new();
    let mut wanted = Vec::new();
    for p in playlists {
        for t in pins_for(mirror, p)? {
            if seen.insert(t.0) {
                wanted.push(t);
            }
        }
    }
    let mut report = DownloadReport {
        tracks: wanted.len() as u64,
        ..Default::default()
    };
    let (cached, missing): (Vec<_>, Vec<_>) = wanted
        .into_iter()
        .partition(|(_, hash, _)| cache.contains(hash));
    report.already_cached = cached.len() as u64;
    let total: u64 = missing.iter().map(|(_, _, s)| s).sum();
    progress.start(total, missing.len() as u64);

    let queue = Mutex::new(missing.into_iter());
    let done_bytes = AtomicU64::new(0);
    let outcome = Mutex::new((Vec::new(), Vec::new()));
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..parallel.max(1) {
            scope.spawn(|| {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let Some((track, hash, size)) =
                        queue.lock().unwrap_or_else(|e| e.into_inner()).next()
                    else {
                        return;
                    };
                    let mut last = 0;
                    let result = cache.fetch_with_progress(fetcher, &hash, size, |n| {
                        let delta = n.saturating_sub(last);
                        last = n;
                        progress.advance(done_bytes.fetch_add(delta, Ordering::Relaxed) + delta);
                    });
                    progress.track_done(track, result.as_ref().err());
                    let mut out = outcome.lock().unwrap_or_else(|e| e.into_inner());
                    match result {
                        Ok(_) => out.0.push(size),
                        Err(e) => {
                            if matches!(e, CacheError::DiskFull { .. }) {
                                stop.store(true, Ordering::Relaxed);
                            }
                            out.1.push((track, e));
                        }
                    }
                }
            });
        }
    });
    let (ok, failed) = outcome.into_inner().unwrap_or_else(|e| e.into_inner());
    report.downloaded = ok.len() as u64;
    report.downloaded_bytes = ok.iter().sum();
    if let Some((_, e)) = failed
        .iter()
        .find(|(_, e)| matches!(e, CacheError::DiskFull { .. }))
    {
        return Err(OfflineError::Cache(e.clone()));
    }
    report.failed = failed
        .into_iter()
        .map(|(t, e)| (t, e.to_string()))
        .collect();
    fetch_art(mirror, cache, fetcher, playlists)?;
    fetch_lyrics(mirror, fetcher, playlists)?;
    Ok(report)
}

/// Lyrics of the playlists' tracks the mirror does not know yet, so they show offline. As with
/// art, a failure is logged and retried next time; the server going away stops the round.
fn fetch_lyrics(
    mirror: &Mirror,
    fetcher: &Fetcher,
    playlists: &[PlaylistView],
) -> Result<(), OfflineError> {
    let api = match fetcher.api() {
        Ok(api) => api,
        Err(e) => {
            tracing::warn!("lyrics not fetched: {e}");
            return Ok(());
        }
    };
    let mut seen = HashSet::new();
    for p in playlists {
        for id in p.entries.iter().map(|e| e.track_id) {
            if !seen.insert(id) || mirror.lyrics(id)? != KnownLyrics::Unknown {
                continue;
            }
            match api.lyrics(id) {
                Ok(lyrics) => mirror.set_lyrics(id, lyrics.as_ref())?,
                Err(e) if e.is_offline() => {
                    tracing::warn!("lyrics not fetched: {e}");
                    return Ok(());
                }
                Err(e) => tracing::warn!(track = id.0, "lyrics not fetched: {e}"),
            }
        }
    }
    Ok(())
}

/// Cover art of the playlists' tracks, so browsing offline shows it. Failures are logged only:
/// art is a nicety, the audio is the point.
fn fetch_art(
    mirror: &Mirror,
    cache: &AudioCache,
    fetcher: &Fetcher,
    playlists: &[PlaylistView],
) -> Result<(), OfflineError> {
    let mut seen = HashSet::new();
    for p in playlists {
        let ids: Vec<TrackId> = p.entries.iter().map(|e| e.track_id).collect();
        for track in mirror.tracks(&ids)? {
            if let Some(art) = track.cover_art
                && seen.insert(art.clone())
                && cache.art_path(&art).is_none()
                && let Err(e) = cache.fetch_art(fetcher, &art)
            {
                tracing::warn!(art, "cover art not cached: {e}");
            }
        }
    }
    Ok(())
}
