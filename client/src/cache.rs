//! The audio cache: audio files by blake3 content hash, downloaded resumably and verified,
//! kept under a size cap by LRU eviction, with pins that keep playlists offline.
//!
//! Layout and naming are in `layout`; the SQLite index in `index`; one download's life in
//! `download`; crash repair and re-verification in `reconcile`; playing while downloading in
//! `progressive`. A file is in the index only once it was verified, synced and renamed into
//! place, so after any crash the index names no incomplete file.
//!
//! Within a process the cache is `Send + Sync`, cheap to clone, and downloads one hash only once
//! however many threads ask for it. Across processes (the TUI open while `mixtape sync` runs in
//! another terminal) a download holds an exclusive lock on its `.part`, so a second process
//! waits for the first one's download instead of writing into the same file.

mod download;
mod error;
mod fetcher;
mod index;
mod layout;
mod progressive;
mod reconcile;
mod remote;
mod rendition;
#[cfg(test)]
pub(crate) mod test_server;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_rendition;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use error::CacheError;
pub use fetcher::{Fetcher, MediaUrls};
pub use progressive::ProgressiveReader;
pub use reconcile::{RepairReport, VerifyReport};
pub use remote::RemoteRendition;
pub use rendition::rendition_key;

use download::Download;
use error::map_write_error;
use index::Index;
use layout::{Layout, PART_SUFFIX, normalize_hash, sync_dir};

/// Cover art larger than this is refused: the server sends originals, and no cover is this big.
const MAX_ART_BYTES: u64 = 64 * 1024 * 1024;

/// Settings fixed when the cache is opened.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// The most bytes of complete audio files to keep (pinned included).
    pub cap_bytes: u64,
    /// Partial downloads older than this are deleted on open; younger ones are resumed when
    /// the track is wanted again.
    pub part_max_age: Duration,
    /// How many times a download resumes by itself after a dropped connection.
    pub retries: u32,
    /// Pause before the first automatic resume, doubled for each next one.
    pub retry_pause: Duration,
}

impl CacheConfig {
    pub const DEFAULT_CAP_BYTES: u64 = 2 << 30;

    pub fn with_cap(cap_bytes: u64) -> Self {
        Self {
            cap_bytes,
            ..Self::default()
        }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            cap_bytes: Self::DEFAULT_CAP_BYTES,
            part_max_age: Duration::from_secs(7 * 24 * 60 * 60),
            retries: 2,
            retry_pause: download::DEFAULT_RETRY_PAUSE,
        }
    }
}

/// What the cache holds, for `mixtape cache` and the status line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Bytes of complete audio files.
    pub used_bytes: u64,
    pub cap_bytes: u64,
    /// Complete audio files.
    pub files: u64,
    /// Bytes of the distinct pinned tracks, downloaded or not (a pin reserves its room).
    pub pinned_bytes: u64,
    pub pinned_files: u64,
    /// Bytes in `.part` files (downloads running or waiting to resume).
    pub partial_bytes: u64,
    pub partial_files: u64,
    /// Cover art, outside the cap (it is small and needed to browse offline).
    pub art_bytes: u64,
    pub art_files: u64,
}

/// The audio cache. Clone it or share it in an `Arc`: every clone is the same cache.
#[derive(Clone)]
pub struct AudioCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AudioCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioCache")
            .field("dir", &self.inner.layout.root)
            .field("cap_bytes", &self.inner.config.cap_bytes)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    layout: Layout,
    index: Index,
    config: CacheConfig,
    /// Downloads in flight, by hash: the single place where two callers of one hash meet.
    /// Lock order: `downloads`, then the index.
    downloads: Mutex<HashMap<String, Arc<Download>>>,
    last_tick: AtomicI64,
}

/// Where a wanted track stands once `start` returns.
enum Started {
    Complete(PathBuf),
    Running(Arc<Download>),
}

impl AudioCache {
    /// Opens (creating if needed) the cache in `dir`, repairs what a crash left behind, and
    /// evicts down to the cap. The report says what was repaired; it is also logged.
    pub fn open(dir: &Path, config: CacheConfig) -> Result<(Self, RepairReport), CacheError> {
        let layout = Layout {
            root: dir.to_owned(),
        };
        for d in [layout.root.clone(), layout.audio_root(), layout.art_root()] {
            fs::create_dir_all(&d).map_err(|e| map_write_error(&d, e))?;
        }
        let index = Index::open(&layout.index())?;
        let last_tick = AtomicI64::new(index.max_tick()?);
        let inner = Arc::new(Inner {
            layout,
            index,
            config,
            downloads: Mutex::new(HashMap::new()),
            last_tick,
        });
        let report = reconcile::reconcile(&inner)?;
        Ok((Self { inner }, report))
    }

    pub fn dir(&self) -> &Path {
        &self.inner.layout.root
    }

    pub fn cap_bytes(&self) -> u64 {
        self.inner.config.cap_bytes
    }

    /// Downloads `hash` (of `size` bytes) unless cached, and returns the verified file's path.
    /// Joins a download of the same hash that is already running instead of starting another.
    pub fn fetch(&self, fetcher: &Fetcher, hash: &str, size: u64) -> Result<PathBuf, CacheError> {
        self.fetch_with_progress(fetcher, hash, size, |_| {})
    }

    /// [`fetch`](Self::fetch), calling `on_progress` with the bytes downloaded so far (from the
    /// calling thread, each time they change, and with `size` at the end).
    pub fn fetch_with_progress(
        &self,
        fetcher: &Fetcher,
        hash: &str,
        size: u64,
        mut on_progress: impl FnMut(u64),
    ) -> Result<PathBuf, CacheError> {
        let hash = normalize_hash(hash)?;
        match self.start(fetcher, hash, size)? {
            Started::Complete(path) => {
                on_progress(size);
                Ok(path)
            }
            Started::Running(download) => download.wait(on_progress),
        }
    }

    /// Returns a reader over `hash` at once: the cached file, or the download started (or
    /// joined) in the background, read as it arrives.
    pub fn open_progressive(
        &self,
        fetcher: &Fetcher,
        hash: &str,
        size: u64,
    ) -> Result<ProgressiveReader, CacheError> {
        let hash = normalize_hash(hash)?;
        match self.start(fetcher, hash.clone(), size)? {
            Started::Complete(path) => {
                let file = File::open(&path).map_err(|e| CacheError::io(&path, e))?;
                Ok(ProgressiveReader::complete(file, hash, size))
            }
            Started::Running(download) => {
                let part = download.part.clone();
                ProgressiveReader::downloading(download).map_err(|e| CacheError::io(&part, e))
            }
        }
    }

    /// The path of the complete file `hash`, marking it as just used; `None` if it is not
    /// cached (or still downloading).
    pub fn path_of(&self, hash: &str) -> Option<PathBuf> {
        let hash = normalize_hash(hash).ok()?;
        match self.inner.index.touch(&hash, self.inner.tick()) {
            Ok(true) => Some(self.inner.layout.audio(&hash)),
            Ok(false) => None,
            Err(e) => {
                tracing::warn!(error = %e, "cache index lookup failed");
                None
            }
        }
    }

    /// Whether `hash` is cached complete (does not count as a use).
    pub fn contains(&self, hash: &str) -> bool {
        normalize_hash(hash)
            .ok()
            .is_some_and(|h| matches!(self.inner.index.size_of(&h), Ok(Some(_))))
    }

    /// Whether any owner pins `hash`.
    pub fn is_pinned(&self, hash: &str) -> bool {
        normalize_hash(hash)
            .ok()
            .is_some_and(|h| matches!(self.inner.index.is_pinned(&h), Ok(true)))
    }

    /// Whether a download of `hash` is running.
    pub fn is_downloading(&self, hash: &str) -> bool {
        normalize_hash(hash)
            .ok()
            .is_some_and(|h| self.inner.downloads().contains_key(&h))
    }

    /// Pins `tracks` (hash, size) for `owner` (a playlist id), in addition to what `owner`
    /// already pinned. Pinned files are never evicted. Refused with
    /// [`CacheError::PinRefused`] when the distinct pinned bytes would exceed the cap; a track
    /// already pinned by anyone costs nothing more.
    pub fn pin(&self, owner: &str, tracks: &[(impl AsRef<str>, u64)]) -> Result<(), CacheError> {
        self.pin_inner(owner, tracks, false)
    }

    /// Makes `tracks` exactly what `owner` pins (a playlist whose entries changed), in one
    /// transaction; the same cap check as [`pin`](Self::pin), not counting `owner`'s old pins.
    pub fn set_pins(
        &self,
        owner: &str,
        tracks: &[(impl AsRef<str>, u64)],
    ) -> Result<(), CacheError> {
        self.pin_inner(owner, tracks, true)
    }

    fn pin_inner(
        &self,
        owner: &str,
        tracks: &[(impl AsRef<str>, u64)],
        replace: bool,
    ) -> Result<(), CacheError> {
        let items = tracks
            .iter()
            .map(|(h, size)| Ok((rendition::normalize_pin(h.as_ref())?, *size)))
            .collect::<Result<Vec<_>, CacheError>>()?;
        let cap = self.inner.config.cap_bytes;
        if let Err(short) = self.inner.index.pin(owner, &items, replace, cap)? {
            return Err(CacheError::PinRefused {
                owner: owner.to_owned(),
                needed: short.needed,
                available: short.available,
                cap,
            });
        }
        tracing::info!(owner, tracks = items.len(), replace, "pinned");
        // The new pins reserve room: unpinned files may have to make way.
        self.inner.evict_logged(None);
        Ok(())
    }

    /// Releases everything `owner` pinned. A track another owner pins stays pinned.
    pub fn unpin(&self, owner: &str) -> Result<(), CacheError> {
        let n = self.inner.index.unpin(owner)?;
        tracing::info!(owner, pins = n, "unpinned");
        Ok(())
    }

    pub fn stats(&self) -> Result<CacheStats, CacheError> {
        let (used_bytes, files) = self.inner.index.used()?;
        let (pinned_bytes, pinned_files) = self.inner.index.pinned()?;
        let (mut partial_bytes, mut partial_files) = (0, 0);
        for (_, len) in self.inner.parts()? {
            partial_bytes += len;
            partial_files += 1;
        }
        let (mut art_bytes, mut art_files) = (0, 0);
        for (path, len) in list_files(&self.inner.layout.art_root())? {
            if !path.to_string_lossy().ends_with(PART_SUFFIX) {
                art_bytes += len;
                art_files += 1;
            }
        }
        Ok(CacheStats {
            used_bytes,
            cap_bytes: self.inner.config.cap_bytes,
            files,
            pinned_bytes,
            pinned_files,
            partial_bytes,
            partial_files,
            art_bytes,
            art_files,
        })
    }

    /// Re-hashes every complete file. Corrupt or missing ones leave the cache (file and row)
    /// and are listed, so the caller can fetch them again.
    pub fn verify(&self) -> Result<VerifyReport, CacheError> {
        reconcile::verify(&self.inner)
    }

    /// Removes every unpinned complete file, every partial download not running, and the cover
    /// art. Returns the bytes freed.
    pub fn clear(&self) -> Result<u64, CacheError> {
        let inner = &self.inner;
        let downloads = inner.downloads();
        let evicted = inner
            .index
            .evict(0, None, |hash| inner.delete_file(&inner.layout.audio(hash)))?;
        let mut freed: u64 = evicted.iter().map(|(_, size)| size).sum();
        for (path, len) in inner.parts()? {
            let running = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(PART_SUFFIX))
                .is_some_and(|h| downloads.contains_key(h));
            if !running && !layout::locked_elsewhere(&path) && inner.delete_file(&path) {
                freed += len;
            }
        }
        drop(downloads);
        for (path, len) in list_files(&inner.layout.art_root())? {
            // Art parts belong to fetches in progress; they remove their own on failure.
            if !path.to_string_lossy().ends_with(PART_SUFFIX) && inner.delete_file(&path) {
                freed += len;
            }
        }
        tracing::info!(freed, files = evicted.len(), "cache cleared");
        Ok(freed)
    }

    /// The cached cover art `hash`, if any.
    pub fn art_path(&self, hash: &str) -> Option<PathBuf> {
        let hash = normalize_hash(hash).ok()?;
        let path = self.inner.layout.art(&hash);
        path.is_file().then_some(path)
    }

    /// Downloads cover art `hash` unless cached. Art is small and not range-aware: it is
    /// fetched whole and checked against its Content-Length only (its hash may be of an image
    /// the server re-encodes), then renamed into place.
    pub fn fetch_art(&self, fetcher: &Fetcher, hash: &str) -> Result<PathBuf, CacheError> {
        let hash = normalize_hash(hash)?;
        let path = self.inner.layout.art(&hash);
        if path.is_file() {
            return Ok(path);
        }
        let dir = self.inner.layout.art_root();
        fs::create_dir_all(&dir).map_err(|e| map_write_error(&dir, e))?;
        let response = fetcher.art(&hash)?;
        // A unique part name: two threads may fetch the same art, and the loser's rename
        // simply replaces the winner's identical file.
        let part = dir.join(format!(
            "{hash}.{}{PART_SUFFIX}",
            uuid::Uuid::new_v4().simple()
        ));
        let result = write_art(response, &hash, &part, &path);
        if result.is_err() {
            let _ = fs::remove_file(&part);
        }
        result?;
        sync_dir(&dir).map_err(|e| map_write_error(&dir, e))?;
        Ok(path)
    }

    /// Claims the download of `hash`, joins the one running, or finds the file cached.
    fn start(&self, fetcher: &Fetcher, hash: String, size: u64) -> Result<Started, CacheError> {
        let inner = &self.inner;
        let mut downloads = inner.downloads();
        if let Some(running) = downloads.get(&hash) {
            // A download that has just ended may still be in the table for a moment.
            match running.outcome() {
                None => {
                    if running.size != size {
                        tracing::warn!(
                            hash,
                            size,
                            running = running.size,
                            "size differs from the running download's"
                        );
                    }
                    return Ok(Started::Running(running.clone()));
                }
                Some(Ok(path)) => {
                    inner.index.touch(&hash, inner.tick())?;
                    return Ok(Started::Complete(path));
                }
                // Failed: this caller tries again.
                Some(Err(_)) => {
                    downloads.remove(&hash);
                }
            }
        }
        // Checked under the `downloads` lock: a finishing download writes its row before it
        // leaves the table, so no moment exists where neither shows it.
        if inner.index.size_of(&hash)?.is_some() {
            let path = inner.layout.audio(&hash);
            if path.is_file() {
                inner.index.touch(&hash, inner.tick())?;
                return Ok(Started::Complete(path));
            }
            tracing::warn!(hash, "cached file vanished; downloading it again");
            inner.index.remove(&hash)?;
        }
        let dir = inner.layout.audio_dir(&hash);
        fs::create_dir_all(&dir).map_err(|e| map_write_error(&dir, e))?;
        let part = inner.layout.part(&hash);
        let file = error::open_part(&part)?;
        let have = file.metadata().map_err(|e| CacheError::io(&part, e))?.len();
        // Bytes already in a part are readable at once; the download verifies them in the end.
        let download = Arc::new(Download::new(
            hash.clone(),
            size,
            part.clone(),
            inner.layout.seek_part(&hash),
            file,
            have.min(size),
        ));
        downloads.insert(hash, download.clone());
        drop(downloads);

        let (thread_inner, thread_download) = (inner.clone(), download.clone());
        let fetcher = fetcher.clone();
        let spawned = std::thread::Builder::new()
            .name("mixtape-download".into())
            .spawn(move || download::run(thread_inner, thread_download, fetcher));
        if let Err(e) = spawned {
            inner.download_ended(&download);
            return Err(CacheError::io(&part, e));
        }
        Ok(Started::Running(download))
    }
}

impl Inner {
    fn downloads(&self) -> MutexGuard<'_, HashMap<String, Arc<Download>>> {
        self.downloads.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A `last_used` value: wall-clock milliseconds, but always increasing, so two uses within
    /// one millisecond (or a clock step back) still order correctly for LRU.
    fn tick(&self) -> i64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let previous = self
            .last_tick
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| Some(now.max(t + 1)))
            .unwrap_or(now);
        now.max(previous + 1)
    }

    fn download_ended(&self, download: &Arc<Download>) {
        let mut downloads = self.downloads();
        if downloads
            .get(&download.hash)
            .is_some_and(|d| Arc::ptr_eq(d, download))
        {
            downloads.remove(&download.hash);
        }
    }

    /// Deletes a cache file; false (and a warning) if it is still there.
    fn delete_file(&self, path: &Path) -> bool {
        match fs::remove_file(path) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => true,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot delete a cache file");
                false
            }
        }
    }

    /// Evicts down to the cap, sparing `keep`. Returns the evicted (hash, size) pairs.
    fn evict(&self, keep: Option<&str>) -> Result<Vec<(String, u64)>, CacheError> {
        self.index.evict(self.config.cap_bytes, keep, |hash| {
            self.delete_file(&self.layout.audio(hash))
        })
    }

    /// Eviction after a download or a pin: a failure must not fail what the caller did, so it
    /// is logged (the next download or open tries again).
    fn evict_logged(&self, keep: Option<&str>) {
        match self.evict(keep) {
            Ok(evicted) if !evicted.is_empty() => {
                let bytes: u64 = evicted.iter().map(|(_, s)| s).sum();
                tracing::info!(
                    files = evicted.len(),
                    bytes,
                    "evicted to stay under the cache size"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "eviction failed"),
        }
    }

    /// Every `.part` file under `audio/`, with its length.
    fn parts(&self) -> Result<Vec<(PathBuf, u64)>, CacheError> {
        let mut parts = Vec::new();
        for dir in list_dirs(&self.layout.audio_root())? {
            for (path, len) in list_files(&dir)? {
                if path.to_string_lossy().ends_with(PART_SUFFIX) {
                    parts.push((path, len));
                }
            }
        }
        Ok(parts)
    }
}

/// What `keep` makes of each entry directly in `dir`; a missing `dir` has none.
fn list_entries<T>(
    dir: &Path,
    keep: impl Fn(&fs::DirEntry) -> Option<T>,
) -> Result<Vec<T>, CacheError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CacheError::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| CacheError::io(dir, e))?;
        out.extend(keep(&entry));
    }
    Ok(out)
}

/// Regular files directly in `dir` with their lengths.
fn list_files(dir: &Path) -> Result<Vec<(PathBuf, u64)>, CacheError> {
    list_entries(dir, |e| {
        e.metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| (e.path(), m.len()))
    })
}

/// Folders directly in `dir`.
fn list_dirs(dir: &Path) -> Result<Vec<PathBuf>, CacheError> {
    list_entries(dir, |e| {
        e.file_type().is_ok_and(|t| t.is_dir()).then(|| e.path())
    })
}

fn write_art(
    mut response: reqwest::blocking::Response,
    hash: &str,
    part: &Path,
    path: &Path,
) -> Result<(), CacheError> {
    let expected = response.content_length();
    if expected.is_some_and(|len| len > MAX_ART_BYTES) {
        return Err(CacheError::SizeMismatch {
            hash: hash.to_owned(),
            expected: MAX_ART_BYTES,
            served: expected.unwrap_or_default(),
        });
    }
    let mut file = File::create(part).map_err(|e| map_write_error(part, e))?;
    let mut limited = (&mut response).take(MAX_ART_BYTES + 1);
    let written = io::copy(&mut limited, &mut file).map_err(|e| {
        if error::is_disk_full(&e) {
            map_write_error(part, e)
        } else {
            // io::copy mixes read and write errors; a body that stops is the usual cause.
            CacheError::Network {
                what: format!("cover art {hash}"),
                detail: error::chain(&e),
            }
        }
    })?;
    if expected.is_some_and(|len| len != written) || written > MAX_ART_BYTES {
        return Err(CacheError::SizeMismatch {
            hash: hash.to_owned(),
            expected: expected.unwrap_or(MAX_ART_BYTES),
            served: written,
        });
    }
    file.sync_all().map_err(|e| map_write_error(part, e))?;
    fs::rename(part, path).map_err(|e| map_write_error(path, e))?;
    Ok(())
}
