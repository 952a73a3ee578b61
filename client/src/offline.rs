//! Offline playlists: a playlist marked offline has every track pinned in the audio cache and
//! downloaded, several at once, with its cover art and lyrics; tracks added later arrive on the
//! next sync; unmarking unpins. Pins are owned by the playlist id, so a track two offline playlists share
//! stays until both let go.
//!
//! A playlist is kept at a quality (`original` or a server profile such as `opus-96`): its
//! tracks are then pinned and downloaded as renditions, by their rendition keys. Changing the
//! quality keeps each track's old file pinned until its new one is cached, and only then frees
//! the old one, so the playlist stays playable throughout.

use crate::api::{ApiClient, ApiError};
use crate::cache::{AudioCache, CacheError, Fetcher, rendition_key};
use crate::mirror::{KnownLyrics, Mirror, MirrorError, PlaylistView};
use crate::quality::ORIGINAL;
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
    #[error("cannot learn the size of track {track} at {quality} from the server: {source}")]
    Sizes {
        track: TrackId,
        quality: String,
        #[source]
        source: ApiError,
    },
    #[error("the server has no {quality} rendition of track {track}")]
    NoRendition { track: TrackId, quality: String },
}

impl OfflineError {
    /// The server could not be reached: worth retrying later, nothing is wrong here.
    pub fn is_offline(&self) -> bool {
        match self {
            OfflineError::Sizes { source, .. } => source.is_offline(),
            OfflineError::Cache(e) => matches!(e, CacheError::Network { .. }),
            _ => false,
        }
    }
}

/// One track of an offline playlist at its quality: what is pinned and downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub track: TrackId,
    /// The original's content hash.
    pub source: String,
    /// `None` for the original.
    pub profile: Option<String>,
    /// The pin key: the content hash, or `{source}/{profile}`.
    pub key: String,
    /// Exact bytes (the server computes a rendition's length without encoding it).
    pub size: u64,
}

impl Item {
    fn is_cached(&self, cache: &AudioCache) -> bool {
        match &self.profile {
            None => cache.contains(&self.source),
            Some(p) => cache.contains_rendition(&self.source, p),
        }
    }
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
    /// Bytes of files at a playlist's former quality freed once their replacements were cached.
    pub freed_bytes: u64,
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

/// The quality `playlist` is kept at (`original` for one marked before qualities existed).
pub fn quality_of(mirror: &Mirror, playlist: &PlaylistView) -> Result<String, OfflineError> {
    Ok(mirror
        .offline_quality(playlist.id)?
        .unwrap_or_else(|| ORIGINAL.to_owned()))
}

/// What keeping `playlist` at `quality` takes, track by track, with exact sizes: the mirror's
/// for originals, the cache's for renditions already held, else the server's `/renditions`
/// (`api: None` offline: then an uncached rendition is an error, nothing is guessed).
pub fn plan(
    mirror: &Mirror,
    cache: &AudioCache,
    api: Option<&ApiClient>,
    playlist: &PlaylistView,
    quality: &str,
) -> Result<Vec<Item>, OfflineError> {
    let mut items = Vec::new();
    for (track, source, size) in pins_for(mirror, playlist)? {
        if quality == ORIGINAL {
            items.push(Item {
                track,
                key: source.clone(),
                source,
                profile: None,
                size,
            });
            continue;
        }
        let key = rendition_key(&source, quality)?;
        let size = match cache.rendition_size(&source, quality) {
            Some(size) => size,
            None => {
                let sizes = |source: ApiError| OfflineError::Sizes {
                    track,
                    quality: quality.to_owned(),
                    source,
                };
                let api = api.ok_or_else(|| sizes(ApiError::Decode("no server".into())))?;
                api.renditions(track)
                    .map_err(sizes)?
                    .renditions
                    .into_iter()
                    .find(|r| r.profile == quality)
                    .ok_or_else(|| OfflineError::NoRendition {
                        track,
                        quality: quality.to_owned(),
                    })?
                    .size_bytes
            }
        };
        items.push(Item {
            track,
            source,
            profile: Some(quality.to_owned()),
            key,
            size,
        });
    }
    Ok(items)
}

/// Makes the playlist's pins `items`, plus, for each track whose file at `items`' quality is
/// not cached yet, the file it had pinned before (another quality), so it stays playable. Old
/// files whose replacement is cached are freed at once. Returns the bytes freed.
fn settle(cache: &AudioCache, owner: &str, items: &[Item]) -> Result<u64, OfflineError> {
    let mut pins: Vec<(String, u64)> = items.iter().map(|i| (i.key.clone(), i.size)).collect();
    let mut superseded = Vec::new();
    for (key, size) in cache.pins_of(owner)? {
        if items.iter().any(|i| i.key == key) {
            continue;
        }
        // A pin key starts with the source hash (an original's key is the hash).
        let Some(item) = items.iter().find(|i| key.starts_with(i.source.as_str())) else {
            continue; // the track left the playlist: unpinned, as ever, not deleted
        };
        if item.is_cached(cache) {
            superseded.push(key);
        } else {
            pins.push((key, size));
        }
    }
    cache.set_pins(owner, &pins)?;
    Ok(cache.release(&superseded)?)
}

/// Marks a playlist offline at `quality` and pins its tracks (`items`, from [`plan`]); refused
/// (and left as it was) when the pins cannot fit in the cache's cap. A playlist already offline
/// at another quality keeps its old files pinned until [`download`] has the new ones.
pub fn mark_at(
    mirror: &Mirror,
    cache: &AudioCache,
    playlist: &PlaylistView,
    quality: &str,
    items: &[Item],
) -> Result<(), OfflineError> {
    settle(cache, &playlist.id.to_string(), items)?;
    mirror.set_offline(playlist.id, true)?;
    mirror.set_offline_quality(playlist.id, quality)?;
    Ok(())
}

/// Marks a playlist offline at `quality` without the server: originals are pinned at once;
/// renditions not yet cached are pinned by the next [`download`], which learns their sizes.
pub fn mark(
    mirror: &Mirror,
    cache: &AudioCache,
    playlist: &PlaylistView,
    quality: &str,
) -> Result<(), OfflineError> {
    match plan(mirror, cache, None, playlist, quality) {
        Ok(items) => mark_at(mirror, cache, playlist, quality, &items),
        Err(OfflineError::Sizes { .. }) => {
            mirror.set_offline(playlist.id, true)?;
            mirror.set_offline_quality(playlist.id, quality)?;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Unmarks a playlist: its tracks may be evicted again.
pub fn unmark(mirror: &Mirror, cache: &AudioCache, id: PlaylistId) -> Result<(), OfflineError> {
    cache.unpin(&id.to_string())?;
    mirror.set_offline(id, false)?;
    Ok(())
}

/// Re-pins every offline playlist as it now stands (entries added or removed since) and drops
/// the marks of playlists that no longer exist. Returns the playlists that stay offline. A
/// playlist at a quality whose sizes need the server keeps its pins until [`download`].
pub fn refresh_pins(
    mirror: &Mirror,
    cache: &AudioCache,
) -> Result<Vec<PlaylistView>, OfflineError> {
    let all = mirror.playlists()?;
    let mut offline = Vec::new();
    for id in mirror.offline_playlists()? {
        match all.iter().find(|p| p.id == id) {
            Some(p) => {
                let quality = quality_of(mirror, p)?;
                let result = plan(mirror, cache, None, p, &quality)
                    .and_then(|items| settle(cache, &id.to_string(), &items));
                match result {
                    Ok(_) | Err(OfflineError::Sizes { .. }) => {}
                    // The playlist grew past the cap: keep the old pins, say so, go on.
                    Err(OfflineError::Cache(e @ CacheError::PinRefused { .. })) => {
                        tracing::warn!(playlist = %p.name, "cannot pin every track: {e}");
                    }
                    Err(e) => return Err(e),
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
    let api = fetcher.api().ok();
    let mut seen = HashSet::new();
    let mut wanted = Vec::new();
    let mut plans = Vec::new();
    for p in playlists {
        let quality = quality_of(mirror, p)?;
        let items = plan(mirror, cache, api.as_ref(), p, &quality)?;
        // The new files are pinned (beside the old ones) before they are fetched.
        if let Err(e) = settle(cache, &p.id.to_string(), &items) {
            match e {
                OfflineError::Cache(CacheError::PinRefused { .. }) => {
                    tracing::warn!(playlist = %p.name, "cannot pin every track: {e}");
                }
                e => return Err(e),
            }
        }
        for item in &items {
            if seen.insert(item.key.clone()) {
                wanted.push(item.clone());
            }
        }
        plans.push((p.id.to_string(), items));
    }
    let mut report = DownloadReport {
        tracks: wanted.len() as u64,
        ..Default::default()
    };
    let (cached, missing): (Vec<_>, Vec<_>) =
        wanted.into_iter().partition(|item| item.is_cached(cache));
    report.already_cached = cached.len() as u64;
    let total: u64 = missing.iter().map(|i| i.size).sum();
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
                    let Some(item) = queue.lock().unwrap_or_else(|e| e.into_inner()).next() else {
                        return;
                    };
                    let (track, size) = (item.track, item.size);
                    let mut last = 0;
                    let on_progress = |n: u64| {
                        let delta = n.saturating_sub(last);
                        last = n;
                        progress.advance(done_bytes.fetch_add(delta, Ordering::Relaxed) + delta);
                    };
                    let result = match &item.profile {
                        None => cache.fetch_with_progress(fetcher, &item.source, size, on_progress),
                        Some(profile) => {
                            cache.fetch_rendition(fetcher, &item.source, profile, size, on_progress)
                        }
                    };
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
    // Only now are old files whose new ones arrived let go.
    for (owner, items) in &plans {
        match settle(cache, owner, items) {
            Ok(freed) => report.freed_bytes += freed,
            Err(OfflineError::Cache(e @ CacheError::PinRefused { .. })) => {
                tracing::warn!(owner, "cannot pin every track: {e}");
            }
            Err(e) => return Err(e),
        }
    }
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
