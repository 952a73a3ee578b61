//! The scanner: turns the library folder into catalog rows, in phases.
//!
//! 1. **walk**: list audio files with one stat each, and each folder's art;
//! 2. **classify** against what is indexed: unchanged (same size and mtime: nothing more to do),
//!    changed or new (to read), vanished;
//! 3. **read** changed and new files in parallel (tags + blake3), while one writer thread commits
//!    results in short batches. A new file whose hash matches a vanished one is a move: the track
//!    keeps its id;
//! 4. **remove** what vanished and was not moved, then prune orphan albums and artists. A
//!    removal that looks like a missing disk (`mass_removal`) is held back instead: the tracks
//!    stay, unavailable, until their files return or an admin confirms it.
//!
//! Every batch is its own transaction and a scan is idempotent, so a crash mid-scan leaves a
//! consistent database and the next scan (run at every start) finishes the work.

mod lyrics;
mod removals;
mod role;
mod tags;
mod walk;
pub mod watch;

use removals::*;
use walk::*;

pub use tags::{ReadError, is_audio_path};

use crate::storage::{
    ArtRecord, ArtSource, FencedWriter, IndexedFile, ScanWrite, StorageError, Store,
};
use mixtape_shared::api::{HeldRemovals, ScanFailure, ScanStatus};
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tags::FileFacts;

/// Writes per transaction: big enough to amortize the commit (it writes every page the batch
/// touched, and new tracks land all over the title and hash indexes: at 500 a first scan spent
/// a fifth of its writer's time writing the log), small enough that another writer waits at
/// most about a tenth of a second.
const BATCH_SIZE: usize = 2000;
const BATCH_MAX_WAIT: Duration = Duration::from_millis(250);
/// Failures kept for `GET /api/v1/scan`; beyond this only the count grows.
const MAX_REPORTED_FAILURES: usize = 10_000;
const ART_NAMES: &[&str] = &["cover", "folder", "front"];
const ART_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png"];

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("a scan is already running")]
    AlreadyRunning,
    /// Scoped scans run only on the scan leader (its watcher asks for them).
    #[error("another node runs the scans")]
    NotLeader,
    #[error("library folder {0} cannot be read: {1}")]
    Library(PathBuf, std::io::Error),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Runs scans of one library folder and reports their progress.
pub struct Scanner {
    root: PathBuf,
    store: Arc<dyn Store>,
    status: Mutex<ScanStatus>,
    running: AtomicBool,
    /// Carry out mass removals without asking (`--allow-mass-removal`).
    allow_mass_removal: bool,
    /// Why the last held-back removal was held, reported while tracks stay unavailable.
    held_reason: Mutex<Option<String>>,
    /// This node's id, in the status.
    node: String,
    /// Whether this node runs scans, and how its writes are fenced.
    role: RwLock<role::Role>,
    /// How a node that does not lead reaches the leader (None: a single node).
    coordination: Option<role::Coordination>,
    /// Writes per transaction: `BATCH_SIZE`, smaller only in tests that need a long scan.
    batch_size: usize,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn idle_status() -> ScanStatus {
    ScanStatus {
        state: "idle".into(),
        phase: "none".into(),
        started_at: None,
        finished_at: None,
        files_seen: 0,
        files_unchanged: 0,
        files_read: 0,
        files_hashed: 0,
        files_pending_hash: 0,
        tracks_added: 0,
        tracks_updated: 0,
        tracks_removed: 0,
        tracks_moved: 0,
        tracks_restored: 0,
        failures: Vec::new(),
        held_removals: None,
        leader: None,
        node: String::new(),
    }
}

/// Clears the running flag however the scan ends, panics included.
struct RunningGuard<'a>(&'a AtomicBool);
impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Scanner {
    pub fn new(root: PathBuf, store: Arc<dyn Store>) -> Self {
        Self {
            root,
            store,
            status: Mutex::new(idle_status()),
            running: AtomicBool::new(false),
            allow_mass_removal: false,
            held_reason: Mutex::new(None),
            node: "local".into(),
            role: RwLock::new(role::Role::Standalone),
            coordination: None,
            batch_size: BATCH_SIZE,
        }
    }

    /// Smaller write batches (at least one write each), so that a test can stretch a scan over
    /// many commits.
    pub fn with_batch_size(mut self, writes: usize) -> Self {
        self.batch_size = writes.max(1);
        self
    }

    /// Carry out removals that look like a missing disk without holding them back.
    pub fn with_mass_removal_allowed(mut self, allowed: bool) -> Self {
        self.allow_mass_removal = allowed;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// This node's own scan status (see [`Self::status`] for what the API answers).
    fn local_status(&self) -> ScanStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether a scan runs on this node.
    fn locally_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    fn update(&self, f: impl FnOnce(&mut ScanStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Starts a full scan on its own thread; refused while one runs.
    pub fn spawn_full(self: &Arc<Self>) -> Result<(), ScanError> {
        self.spawn(None)
    }

    /// Starts a full scan that carries out removals even if they look like a missing disk: the
    /// admin's confirmation of a held-back removal.
    pub fn spawn_full_confirming_removals(self: &Arc<Self>) -> Result<(), ScanError> {
        self.spawn_with(None, true)
    }

    /// Starts a scan of some folders (relative paths) on its own thread.
    pub fn spawn(self: &Arc<Self>, scope: Option<Vec<String>>) -> Result<(), ScanError> {
        self.spawn_with(scope, false)
    }

    fn spawn_with(
        self: &Arc<Self>,
        scope: Option<Vec<String>>,
        confirm_removals: bool,
    ) -> Result<(), ScanError> {
        let scope = scope.and_then(minimal_scope);
        let writer = match self.writer() {
            Ok(w) => w,
            // A full scan asked of a node that does not lead goes to the leader.
            Err(ScanError::NotLeader) if scope.is_none() => {
                return self.request_from_leader(confirm_removals);
            }
            Err(e) => return Err(e),
        };
        if self.running.swap(true, Ordering::AcqRel) {
            return Err(ScanError::AlreadyRunning);
        }
        self.begin();
        let this = Arc::clone(self);
        std::thread::Builder::new()
            .name("scanner".into())
            .spawn(move || {
                if let Err(e) = this.run_claimed(&*writer, scope.as_deref(), confirm_removals) {
                    tracing::error!(error = %e, "scan failed");
                }
            })
            .map_err(|e| ScanError::Library(self.root.clone(), e))?;
        Ok(())
    }

    /// Runs a scan on this thread (tests and benchmarks use this).
    pub fn scan_blocking(&self, scope: Option<&[String]>) -> Result<ScanStatus, ScanError> {
        let writer = self.writer()?;
        if self.running.swap(true, Ordering::AcqRel) {
            return Err(ScanError::AlreadyRunning);
        }
        self.begin();
        self.run_claimed(&*writer, scope, false)?;
        Ok(self.status())
    }

    /// Marks a scan as started; callers hold the `running` claim. Done before any thread
    /// starts, so a status read right after `spawn` never shows the previous scan.
    fn begin(&self) {
        self.update(|s| {
            *s = idle_status();
            s.state = "running".into();
            s.phase = "walking".into();
            s.started_at = Some(unix_now());
        });
    }

    /// Runs the scan; every write goes through `writer` (the scan lease when there is one).
    fn run_claimed(
        &self,
        writer: &dyn FencedWriter,
        scope: Option<&[String]>,
        confirm_removals: bool,
    ) -> Result<(), ScanError> {
        let _guard = RunningGuard(&self.running);
        let started = Instant::now();
        let span =
            tracing::info_span!("scan", root = %self.root.display(), scoped = scope.is_some());
        let _enter = span.enter();
        let result = self
            .run_phases(writer, scope, confirm_removals)
            .and_then(|()| self.report_held());
        let elapsed = started.elapsed();
        self.update(|s| {
            s.state = "idle".into();
            s.phase = if result.is_ok() {
                "done".into()
            } else {
                "failed".into()
            };
            s.finished_at = Some(unix_now());
        });
        let status = self.local_status();
        metrics::gauge!("mixtape_scan_files_seen").set(status.files_seen as f64);
        metrics::counter!("mixtape_scans_total").increment(1);
        tracing::info!(
            seconds = elapsed.as_secs_f64(),
            seen = status.files_seen,
            unchanged = status.files_unchanged,
            read = status.files_read,
            added = status.tracks_added,
            updated = status.tracks_updated,
            moved = status.tracks_moved,
            removed = status.tracks_removed,
            restored = status.tracks_restored,
            held = status.held_removals.as_ref().map_or(0, |h| h.count),
            failed = status.failures.len(),
            "scan finished"
        );
        result
    }

    /// Reports the tracks that stay unavailable, whichever scan held them back.
    fn report_held(&self) -> Result<(), ScanError> {
        let count = self.store.unavailable_track_count()?;
        let mut reason = self.held_reason.lock().unwrap_or_else(|e| e.into_inner());
        if count == 0 {
            *reason = None;
        }
        let held = (count > 0).then(|| HeldRemovals {
            count,
            reason: reason.clone().unwrap_or_else(|| {
                "files of these tracks went missing; their removal was held back".into()
            }),
        });
        self.update(|s| s.held_removals = held);
        Ok(())
    }

    fn run_phases(
        &self,
        writer: &dyn FencedWriter,
        scope: Option<&[String]>,
        confirm_removals: bool,
    ) -> Result<(), ScanError> {
        // Phase 1: walk.
        let walked =
            walk(&self.root, scope).map_err(|e| ScanError::Library(self.root.clone(), e))?;
        self.update(|s| {
            s.files_seen = walked.files.len() as u64;
            s.phase = "reading".into();
            for (path, reason) in &walked.failures {
                push_failure(s, path.clone(), reason.clone());
            }
        });

        // Phase 2: classify.
        let mut indexed = self.store.indexed_files()?;
        // Mass removals are judged against the whole library, also in a scoped scan.
        let census = Census::of(indexed.keys());
        let seen_folders: HashSet<String> = walked
            .files
            .iter()
            .filter_map(|f| top_folder(&f.rel_path))
            .map(str::to_string)
            .collect();
        if let Some(scope) = scope {
            indexed.retain(|path, _| in_scope(path, scope));
        }
        let mut to_read = Vec::new();
        let mut returned = Vec::new();
        let mut unchanged = 0u64;
        for facts in walked.files {
            match indexed.remove(&facts.rel_path) {
                Some(known) if known.size == facts.size && known.mtime_ns == facts.mtime_ns => {
                    unchanged += 1;
                    if !known.available {
                        returned.push(ScanWrite::Restore {
                            path: facts.rel_path,
                        });
                    }
                }
                _ => to_read.push(facts),
            }
        }
        for chunk in returned.chunks(self.batch_size) {
            self.flush(writer, &mut chunk.to_vec())?;
        }
        // What is left in `indexed` was not seen: vanished, unless it reappears elsewhere.
        let mut vanished_by_hash: HashMap<String, Vec<String>> = HashMap::new();
        for (path, IndexedFile { content_hash, .. }) in indexed {
            vanished_by_hash.entry(content_hash).or_default().push(path);
        }
        self.update(|s| {
            s.files_unchanged = unchanged;
            s.files_pending_hash = to_read.len() as u64;
        });

        // Phase 3: read in parallel, write in batches on one thread.
        let (tx, rx) = crossbeam_channel::bounded::<
            Result<crate::storage::TrackRecord, (String, ReadError)>,
        >(self.batch_size * 4);
        let root = self.root.clone();
        let folder_art = walked.folder_art;
        let reader = std::thread::Builder::new()
            .name("scan-readers".into())
            .spawn(move || {
                to_read.par_iter().for_each_with(tx, |tx, facts| {
                    let dir = parent_of(&facts.rel_path);
                    let result = tags::read_track(&root, facts, folder_art.get(dir))
                        .map_err(|e| (facts.rel_path.clone(), e));
                    let _ = tx.send(result);
                });
            })
            .map_err(|e| ScanError::Library(self.root.clone(), e))?;

        let mut writing = Duration::ZERO;
        let mut batch = Vec::with_capacity(self.batch_size);
        let mut last_flush = Instant::now();
        loop {
            let received = rx.recv_timeout(BATCH_MAX_WAIT);
            let done = matches!(
                received,
                Err(crossbeam_channel::RecvTimeoutError::Disconnected)
            );
            match received {
                Ok(Ok(record)) => {
                    let write = match take_vanished(&mut vanished_by_hash, &record.content_hash) {
                        Some(from) => ScanWrite::Move { from, record },
                        None => ScanWrite::Upsert(record),
                    };
                    batch.push(write);
                    self.update(|s| {
                        s.files_read += 1;
                        s.files_hashed += 1;
                        s.files_pending_hash = s.files_pending_hash.saturating_sub(1);
                    });
                }
                Ok(Err((path, reason))) => {
                    tracing::warn!(path = %path, reason = %reason, "skipped file");
                    self.update(|s| {
                        s.files_pending_hash = s.files_pending_hash.saturating_sub(1);
                        push_failure(s, path, reason.to_string());
                    });
                }
                Err(_) => {}
            }
            if !batch.is_empty()
                && (batch.len() >= self.batch_size
                    || done
                    || last_flush.elapsed() >= BATCH_MAX_WAIT)
            {
                let started = Instant::now();
                self.flush(writer, &mut batch)?;
                writing += started.elapsed();
                last_flush = Instant::now();
            }
            if done {
                break;
            }
        }
        let _ = reader.join();

        // Phase 4: remove what vanished (or hold it back), then prune.
        self.update(|s| s.phase = "removing".into());
        let gone: Vec<String> = vanished_by_hash.into_values().flatten().collect();
        let hold = match mass_removal(&gone, &census, &seen_folders) {
            Some(reason) if !(confirm_removals || self.allow_mass_removal) => {
                tracing::error!(
                    tracks = gone.len(),
                    reason = %reason,
                    "removal held back: the tracks stay, unavailable; if the files are really gone, \
                     confirm with POST /api/v1/scan {{\"confirm_removals\": true}} or start with --allow-mass-removal"
                );
                *self.held_reason.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
                true
            }
            Some(reason) => {
                tracing::warn!(tracks = gone.len(), reason = %reason, "mass removal carried out as allowed");
                false
            }
            None => false,
        };
        let gone: Vec<ScanWrite> = gone
            .into_iter()
            .map(|path| {
                if hold {
                    ScanWrite::Hold { path }
                } else {
                    ScanWrite::Remove { path }
                }
            })
            .collect();
        for chunk in gone.chunks(self.batch_size) {
            self.flush(writer, &mut chunk.to_vec())?;
        }
        let started = Instant::now();
        // Only updates, moves and removals can orphan an album, artist, genre or image.
        let status = self.local_status();
        if status.tracks_updated + status.tracks_moved + status.tracks_removed > 0 {
            writer.prune_orphans()?;
        }
        tracing::debug!(
            write_seconds = writing.as_secs_f64(),
            prune_seconds = started.elapsed().as_secs_f64(),
            "scan write time"
        );
        Ok(())
    }

    fn flush(
        &self,
        writer: &dyn FencedWriter,
        batch: &mut Vec<ScanWrite>,
    ) -> Result<(), ScanError> {
        let outcome = writer.apply_scan_batch(std::mem::take(batch))?;
        self.update(|s| {
            s.tracks_added += outcome.added;
            s.tracks_updated += outcome.updated;
            s.tracks_moved += outcome.moved;
            s.tracks_removed += outcome.removed;
            s.tracks_restored += outcome.restored;
        });
        Ok(())
    }
}

fn push_failure(s: &mut ScanStatus, path: String, reason: String) {
    if s.failures.len() < MAX_REPORTED_FAILURES {
        s.failures.push(ScanFailure { path, reason });
    }
}

fn take_vanished(vanished: &mut HashMap<String, Vec<String>>, hash: &str) -> Option<String> {
    let paths = vanished.get_mut(hash)?;
    let from = paths.pop();
    if paths.is_empty() {
        vanished.remove(hash);
    }
    from
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_matches_whole_folder_names_only() {
        let scope = vec!["Artist/Album".to_string()];
        assert!(in_scope("Artist/Album/01.mp3", &scope));
        assert!(!in_scope("Artist/Album 2/01.mp3", &scope));
        assert!(in_scope("anything.mp3", &["".to_string()]));
    }

    #[test]
    fn nested_scopes_fold_into_their_ancestors() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            minimal_scope(s(&["A/B", "A", "C", "A/B/D"])),
            Some(s(&["A", "C"]))
        );
        assert_eq!(minimal_scope(s(&["A", ""])), None);
        assert_eq!(minimal_scope(s(&["AB", "A"])), Some(s(&["A", "AB"])));
    }

    #[test]
    fn a_scoped_walk_does_not_enter_a_symlinked_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("lib");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(root.join("Real/Album")).unwrap();
        std::fs::create_dir_all(outside.join("Deeper")).unwrap();
        std::fs::write(root.join("Real/Album/01.mp3"), b"x").unwrap();
        std::fs::write(outside.join("secret.mp3"), b"x").unwrap();
        std::fs::write(outside.join("Deeper/secret2.mp3"), b"x").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("Linked")).unwrap();
        std::os::unix::fs::symlink(root.join("Real"), root.join("Alias")).unwrap();
        let scoped = |dirs: &[&str]| {
            let dirs: Vec<String> = dirs.iter().map(|d| d.to_string()).collect();
            let mut paths: Vec<String> = walk(&root, Some(&dirs))
                .unwrap()
                .files
                .into_iter()
                .map(|f| f.rel_path)
                .collect();
            paths.sort();
            paths
        };
        assert!(scoped(&["Linked"]).is_empty());
        assert!(scoped(&["Linked/Deeper"]).is_empty());
        assert!(scoped(&["Alias/Album"]).is_empty());
        assert!(scoped(&["../outside"]).is_empty());
        assert_eq!(scoped(&["Real", "Linked"]), ["Real/Album/01.mp3"]);
        // A full walk skips the links too.
        let mut all: Vec<String> = walk(&root, None)
            .unwrap()
            .files
            .into_iter()
            .map(|f| f.rel_path)
            .collect();
        all.sort();
        assert_eq!(all, ["Real/Album/01.mp3"]);
    }

    #[test]
    fn art_names_are_ranked() {
        assert!(
            art_rank(Path::new("a/Cover.JPG")).unwrap()
                < art_rank(Path::new("a/folder.jpg")).unwrap()
        );
        assert!(art_rank(Path::new("a/front.png")).is_some());
        assert_eq!(art_rank(Path::new("a/back.jpg")), None);
    }

    fn paths(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_missing_disk_is_told_from_deleted_files() {
        let library: Vec<String> = (0..10)
            .map(|i| format!("NAS/Album/{i:02}.mp3"))
            .chain((0..12).map(|i| format!("Local/Album/{i:02}.mp3")))
            .chain(paths(&["loose.mp3"]))
            .collect();
        let census = Census::of(library.iter());
        let seen = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<HashSet<_>>();

        let everything = mass_removal(&library, &census, &seen(&[]));
        assert!(everything.unwrap().contains("all 23 tracks"));
        let most: Vec<String> = library[..12].to_vec();
        assert!(
            mass_removal(&most, &census, &seen(&["Local"]))
                .unwrap()
                .contains("more than half")
        );
        let nas: Vec<String> = library[..10].to_vec();
        let held = mass_removal(&nas, &census, &seen(&["Local"])).unwrap();
        assert!(held.contains("\"NAS\""), "{held}");
        // The folder still holds audio (new files being read): a reorganisation, not a mount.
        assert_eq!(mass_removal(&nas, &census, &seen(&["Local", "NAS"])), None);
        // Part of a folder, or a few files, go without asking.
        assert_eq!(
            mass_removal(&library[..9], &census, &seen(&["Local"])),
            None
        );
        assert_eq!(
            mass_removal(&library[..4], &census, &seen(&["Local"])),
            None
        );
        assert_eq!(mass_removal(&[], &census, &seen(&[])), None);
    }

    #[test]
    fn moves_consume_one_vanished_path_per_file() {
        let mut v = HashMap::from([("h".to_string(), vec!["a".to_string(), "b".to_string()])]);
        assert!(take_vanished(&mut v, "h").is_some());
        assert!(take_vanished(&mut v, "h").is_some());
        assert_eq!(take_vanished(&mut v, "h"), None);
        assert!(v.is_empty());
    }
}
