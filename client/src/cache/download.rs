//! One download: `.part` file → verified → fsync → rename → fsync dir → index row.
//!
//! A `Download` is shared by everyone interested in the hash: the thread that transfers it,
//! `fetch` callers waiting for it, and progressive readers. They meet in its `State`, guarded
//! by a mutex and announced through a condvar on every chunk written.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::error::map_write_error;
use super::fetcher::MediaBody;
use super::layout::{read_at, sync_dir, write_all_at};
use super::{CacheError, Fetcher, Inner};

const CHUNK: usize = 64 * 1024;

pub(crate) struct Download {
    pub hash: String,
    pub size: u64,
    pub part: PathBuf,
    /// The `.part` file, opened once. Readers clone this handle and use positional reads, so
    /// after the rename they keep reading the same inode, now the final file.
    pub file: File,
    state: Mutex<State>,
    changed: Condvar,
}

struct State {
    /// Bytes of the part file that hold downloaded data (not yet verified).
    written: u64,
    outcome: Option<Result<PathBuf, CacheError>>,
}

impl Download {
    pub fn new(hash: String, size: u64, part: PathBuf, file: File, written: u64) -> Self {
        Self {
            hash,
            size,
            part,
            file,
            state: Mutex::new(State {
                written,
                outcome: None,
            }),
            changed: Condvar::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, written: u64) {
        self.state().written = written;
        self.changed.notify_all();
    }

    fn finish(&self, outcome: Result<PathBuf, CacheError>) {
        self.state().outcome = Some(outcome);
        self.changed.notify_all();
    }

    pub fn outcome(&self) -> Option<Result<PathBuf, CacheError>> {
        self.state().outcome.clone()
    }

    /// Blocks until the download has finished, calling `on_progress` with the bytes written so
    /// far whenever that changes (outside the lock, so a slow callback never stalls the writer).
    pub fn wait(&self, mut on_progress: impl FnMut(u64)) -> Result<PathBuf, CacheError> {
        let mut reported = None;
        let mut state = self.state();
        loop {
            if let Some(outcome) = &state.outcome {
                let outcome = outcome.clone();
                drop(state);
                if outcome.is_ok() && reported != Some(self.size) {
                    on_progress(self.size);
                }
                return outcome;
            }
            if reported != Some(state.written) {
                let written = state.written;
                reported = Some(written);
                drop(state);
                on_progress(written);
                state = self.state();
                continue;
            }
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// How many bytes from the start may be read: blocks until more than `pos` are there or the
    /// download has ended. A finished download makes the whole size readable; a failed one
    /// returns its error once the reader needs bytes it does not have.
    pub fn readable_beyond(&self, pos: u64) -> Result<u64, CacheError> {
        let mut state = self.state();
        loop {
            if let Some(Ok(_)) = &state.outcome {
                return Ok(self.size);
            }
            if state.written > pos {
                return Ok(state.written);
            }
            if let Some(Err(e)) = &state.outcome {
                return Err(e.clone());
            }
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// The body of a download thread: transfer, finish, announce, and leave the in-flight table.
pub(crate) fn run(inner: Arc<Inner>, download: Arc<Download>, fetcher: Fetcher) {
    let span = tracing::info_span!("download", hash = %&download.hash[..12], size = download.size);
    let _enter = span.enter();
    let outcome = transfer(&inner, &download, &fetcher).and_then(|()| install(&inner, &download));
    match &outcome {
        Ok(_) => tracing::info!("downloaded"),
        Err(e @ CacheError::DiskFull { .. }) => tracing::warn!(error = %e, "downloads paused"),
        Err(e) => tracing::warn!(error = %e, "download failed"),
    }
    if outcome.is_err() {
        remove_empty_part(&download);
    }
    download.finish(outcome);
    inner.download_ended(&download);
}

/// Fills the part file with verified content, resuming where it stopped and retrying dropped
/// connections a few times.
fn transfer(inner: &Inner, dl: &Download, fetcher: &Fetcher) -> Result<(), CacheError> {
    let mut have = dl
        .file
        .metadata()
        .map_err(|e| CacheError::io(&dl.part, e))?
        .len();
    if have > dl.size {
        reset(dl, &mut have)?;
    }
    // Resuming: the bytes already there must be part of the hash.
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; CHUNK];
    let mut hashed = 0;
    while hashed < have {
        let want = usize::try_from(have - hashed).map_or(CHUNK, |left| left.min(CHUNK));
        let n =
            read_at(&dl.file, &mut buf[..want], hashed).map_err(|e| CacheError::io(&dl.part, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        hashed += n as u64;
    }
    have = hashed;
    if have > 0 {
        tracing::info!(resume_from = have, "resuming");
    }

    let mut attempt = 0u32;
    loop {
        match pass(dl, fetcher, &mut hasher, &mut have, &mut buf) {
            Ok(()) => break,
            Err(e) if e.is_retryable() && attempt < inner.config.retries => {
                attempt += 1;
                let pause = inner.config.retry_pause * 2u32.saturating_pow(attempt - 1);
                tracing::info!(error = %e, attempt, ?pause, "retrying");
                std::thread::sleep(pause);
            }
            Err(e) => return Err(e),
        }
    }

    let actual = hasher.finalize().to_hex().to_string();
    if actual != dl.hash {
        discard(dl);
        return Err(CacheError::Corrupt {
            hash: dl.hash.clone(),
            actual,
        });
    }
    Ok(())
}

/// One request: from `have` to the end of the file.
fn pass(
    dl: &Download,
    fetcher: &Fetcher,
    hasher: &mut blake3::Hasher,
    have: &mut u64,
    buf: &mut [u8],
) -> Result<(), CacheError> {
    if *have == dl.size {
        // A complete part left by a crash before its rename: nothing to fetch, only verify.
        return Ok(());
    }
    let mut body = match fetcher.media(&dl.hash, *have)? {
        MediaBody::Whole(body) => {
            if *have > 0 {
                // 200 to a range request: the server sends the whole file, so start over.
                tracing::info!(discarded = *have, "server ignored the range; starting over");
                reset(dl, have)?;
                *hasher = blake3::Hasher::new();
            }
            body
        }
        MediaBody::Rest(body) => body,
        MediaBody::Unsatisfiable if *have > 0 => {
            tracing::info!(
                discarded = *have,
                "server refused the resume offset; starting over"
            );
            reset(dl, have)?;
            *hasher = blake3::Hasher::new();
            return pass(dl, fetcher, hasher, have, buf);
        }
        MediaBody::Unsatisfiable => {
            return Err(CacheError::Http {
                status: 416,
                url: format!("{}/api/v1/media/{}", fetcher.base_url(), dl.hash),
            });
        }
    };
    if let Some(len) = body.content_length()
        && have.saturating_add(len) != dl.size
    {
        discard(dl);
        return Err(CacheError::SizeMismatch {
            hash: dl.hash.clone(),
            expected: dl.size,
            served: *have + len,
        });
    }
    loop {
        let n = match body.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(CacheError::Network {
                    what: dl.hash.clone(),
                    detail: super::error::chain(&e),
                });
            }
        };
        if *have + n as u64 > dl.size {
            discard(dl);
            return Err(CacheError::SizeMismatch {
                hash: dl.hash.clone(),
                expected: dl.size,
                served: *have + n as u64,
            });
        }
        write_all_at(&dl.file, &buf[..n], *have).map_err(|e| map_write_error(&dl.part, e))?;
        hasher.update(&buf[..n]);
        *have += n as u64;
        dl.publish(*have);
    }
    if *have < dl.size {
        return Err(CacheError::Network {
            what: dl.hash.clone(),
            detail: format!(
                "the server closed the connection after {have} of {} bytes",
                dl.size
            ),
        });
    }
    Ok(())
}

/// Empties the part file. Readers are told first that nothing is readable, so none reads the
/// truncated range in between.
fn reset(dl: &Download, have: &mut u64) -> Result<(), CacheError> {
    dl.publish(0);
    dl.file
        .set_len(0)
        .map_err(|e| map_write_error(&dl.part, e))?;
    *have = 0;
    Ok(())
}

/// Removes a part whose content can never become the file it names.
fn discard(dl: &Download) {
    dl.publish(0);
    if let Err(e) = fs::remove_file(&dl.part)
        && e.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(path = %dl.part.display(), error = %e, "cannot delete a bad partial download");
    }
}

/// A failed download that wrote nothing (refused, unreachable) leaves no empty part behind.
/// Still in the in-flight table here, so no new download of the hash can have opened it.
fn remove_empty_part(dl: &Download) {
    if fs::symlink_metadata(&dl.part).is_ok_and(|m| m.is_file() && m.len() == 0) {
        let _ = fs::remove_file(&dl.part);
    }
}

/// Makes a verified part the cached file: data on disk, then the name, then the index row.
/// A crash between the rename and the row leaves a file that reconcile re-hashes and adopts.
fn install(inner: &Inner, dl: &Download) -> Result<PathBuf, CacheError> {
    let path = inner.layout.audio(&dl.hash);
    dl.file
        .sync_all()
        .map_err(|e| map_write_error(&dl.part, e))?;
    fs::rename(&dl.part, &path).map_err(|e| map_write_error(&path, e))?;
    let dir = inner.layout.audio_dir(&dl.hash);
    sync_dir(&dir).map_err(|e| map_write_error(&dir, e))?;
    inner.index.insert(&dl.hash, dl.size, inner.tick())?;
    inner.evict_logged(Some(&dl.hash));
    Ok(path)
}

/// Pause between retries of a dropped connection, doubled each time.
pub(crate) const DEFAULT_RETRY_PAUSE: Duration = Duration::from_millis(500);
