//! One download: `.part` file → verified → fsync → rename → fsync dir → index row.
//!
//! A `Download` is shared by everyone interested in the hash: the thread that transfers it,
//! `fetch` callers waiting for it, and progressive readers. They meet in its `State`, guarded
//! by a mutex and announced through a condvar on every chunk written.
//!
//! The part file only ever holds a prefix of the track, so whatever a crash leaves is resumable.
//! A reader that seeks beyond that prefix makes the transfer jump: the bytes from its position
//! on are fetched first, into a separate seek part ("ahead"), and moved into the part once the
//! prefix reaches them. `plan` decides, between chunks, which of the two the transfer extends.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::error::map_write_error;
use super::fetcher::MediaBody;
use super::layout::{read_at, sync_dir, write_all_at};
use super::{CacheError, Fetcher, Inner};

const CHUNK: usize = 64 * 1024;
/// A reader waiting this close to where the transfer is writing is served without a jump: about
/// what arrives in the time a new request takes to answer.
const NEAR: u64 = 256 * 1024;

pub(crate) struct Download {
    pub hash: String,
    pub size: u64,
    pub part: PathBuf,
    /// The `.part` file, opened once. Readers clone this handle and use positional reads, so
    /// after the rename they keep reading the same inode, now the final file.
    pub file: File,
    /// Where bytes fetched ahead of the prefix for a seek are kept.
    seek_part: PathBuf,
    state: Mutex<State>,
    changed: Condvar,
}

struct State {
    /// Bytes of the part file that hold downloaded data (not yet verified): always a prefix.
    written: u64,
    /// Bytes beyond `written` fetched for a reader that seeked there.
    ahead: Option<Ahead>,
    /// The last position a reader had to wait for.
    wanted: Option<u64>,
    /// False once the server answered a range request with something else: no more jumps.
    jumps: bool,
    outcome: Option<Result<PathBuf, CacheError>>,
}

/// Bytes `start..end` of the track, at offset 0 of their own file. Each jump makes a new file
/// (the old one is unlinked, not truncated), so a reader still holding the old handle reads
/// what it was promised.
#[derive(Clone)]
struct Ahead {
    start: u64,
    end: u64,
    file: Arc<File>,
}

/// Where a reader can read at its position, and up to where.
pub(crate) enum Readable {
    /// The part (through the reader's own handle), up to this offset; the size once verified.
    Part(u64),
    /// The seek part, holding `start..end` of the track from its offset 0.
    Ahead {
        file: Arc<File>,
        start: u64,
        end: u64,
    },
}

/// What the transfer does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// Extend the prefix (up to the seek part, or to the end).
    Prefix,
    /// Extend the seek part.
    Ahead,
    /// Start a new seek part at this offset, in place of the current one.
    Jump(u64),
}

/// Chooses what to fetch next from where things stand. A reader waiting near one of the two
/// places being filled is served by that one; a reader waiting anywhere else gets a jump; with
/// nobody waiting, a reader last seen in the seek part is kept ahead of, else the prefix grows.
fn plan(
    written: u64,
    size: u64,
    ahead: Option<(u64, u64)>,
    wanted: Option<u64>,
    jumps: bool,
) -> Plan {
    if !jumps {
        return Plan::Prefix;
    }
    let in_ahead = |w: u64| ahead.is_some_and(|(s, e)| s <= w && w < e);
    let waiting = wanted.filter(|&w| w >= written && w < size && !in_ahead(w));
    match (waiting, ahead) {
        (Some(w), _) if w < written.saturating_add(NEAR) => Plan::Prefix,
        (Some(w), Some((_, e))) if w >= e && w < e.saturating_add(NEAR) => Plan::Ahead,
        (Some(w), _) => Plan::Jump(w),
        (None, Some((_, e))) if e < size && wanted.is_some_and(in_ahead) => Plan::Ahead,
        (None, _) => Plan::Prefix,
    }
}

impl State {
    fn plan(&self, size: u64) -> Plan {
        let ahead = self.ahead.as_ref().map(|a| (a.start, a.end));
        plan(self.written, size, ahead, self.wanted, self.jumps)
    }
}

impl Download {
    pub fn new(
        hash: String,
        size: u64,
        part: PathBuf,
        seek_part: PathBuf,
        file: File,
        written: u64,
    ) -> Self {
        Self {
            hash,
            size,
            part,
            file,
            seek_part,
            state: Mutex::new(State {
                written,
                ahead: None,
                wanted: None,
                jumps: true,
                outcome: None,
            }),
            changed: Condvar::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Announces the prefix; returns what the transfer should do next.
    fn publish(&self, written: u64) -> Plan {
        let mut state = self.state();
        state.written = written;
        self.changed.notify_all();
        state.plan(self.size)
    }

    /// Announces the end of the seek part; returns what the transfer should do next.
    fn publish_ahead(&self, end: u64) -> Plan {
        let mut state = self.state();
        if let Some(a) = &mut state.ahead {
            a.end = end;
        }
        self.changed.notify_all();
        state.plan(self.size)
    }

    fn plan(&self) -> Plan {
        self.state().plan(self.size)
    }

    fn ahead(&self) -> Option<Ahead> {
        self.state().ahead.clone()
    }

    /// Starts an empty seek part at `at`, unlinking the previous one.
    fn start_ahead(&self, at: u64) -> Result<Ahead, CacheError> {
        self.drop_ahead();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&self.seek_part)
            .map_err(|e| map_write_error(&self.seek_part, e))?;
        let ahead = Ahead {
            start: at,
            end: at,
            file: Arc::new(file),
        };
        self.state().ahead = Some(ahead.clone());
        Ok(ahead)
    }

    fn drop_ahead(&self) {
        if self.state().ahead.take().is_some()
            && let Err(e) = fs::remove_file(&self.seek_part)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.seek_part.display(), error = %e, "cannot delete a seek part");
        }
    }

    /// The server does not serve ranges: readers wait for the prefix from now on.
    fn stop_jumping(&self) {
        self.state().jumps = false;
        self.drop_ahead();
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

    /// Where the byte at `pos` can be read: blocks until it is there or the download has ended,
    /// telling the transfer that a reader waits at `pos` (which may make it jump there). A
    /// finished download makes the whole size readable; a failed one returns its error once the
    /// reader needs bytes it does not have.
    pub fn readable_at(&self, pos: u64) -> Result<Readable, CacheError> {
        let mut state = self.state();
        loop {
            if let Some(Ok(_)) = &state.outcome {
                return Ok(Readable::Part(self.size));
            }
            if state.written > pos {
                return Ok(Readable::Part(state.written));
            }
            if let Some(a) = &state.ahead
                && a.start <= pos
                && pos < a.end
            {
                return Ok(Readable::Ahead {
                    file: a.file.clone(),
                    start: a.start,
                    end: a.end,
                });
            }
            if let Some(Err(e)) = &state.outcome {
                return Err(e.clone());
            }
            if pos < self.size {
                state.wanted = Some(pos);
            }
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// The body of a download thread: transfer, finish, announce, and leave the in-flight table.
pub(crate) fn run(inner: Arc<Inner>, download: Arc<Download>, fetcher: Fetcher) {
    let span = tracing::info_span!("download", hash = %&download.hash[..12], size = download.size);
    let _enter = span.enter();
    let outcome = match take_part(&inner, &download) {
        Ok(Some(done)) => Ok(done),
        Ok(None) => transfer(&inner, &download, &fetcher).and_then(|()| install(&inner, &download)),
        Err(e) => Err(e),
    };
    match &outcome {
        Ok(_) => tracing::info!("downloaded"),
        Err(e @ CacheError::DiskFull { .. }) => tracing::warn!(error = %e, "downloads paused"),
        Err(e) => tracing::warn!(error = %e, "download failed"),
    }
    download.drop_ahead();
    if outcome.is_err() {
        remove_empty_part(&download);
    }
    // Readers keep clones of the handle, which would keep the lock: another process waiting
    // for this part must not wait for them too.
    let _ = download.file.unlock();
    download.finish(outcome);
    inner.download_ended(&download);
}

/// Takes the part's lock, waiting while another process downloads the same track into it.
/// `Some(path)` when that process finished it meanwhile (its file is indexed): nothing to do.
fn take_part(inner: &Inner, dl: &Download) -> Result<Option<PathBuf>, CacheError> {
    match dl.file.try_lock() {
        Ok(()) => return Ok(None),
        Err(std::fs::TryLockError::WouldBlock) => {
            tracing::info!("another process is downloading this track; waiting for it");
            dl.file.lock().map_err(|e| CacheError::io(&dl.part, e))?;
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(CacheError::io(&dl.part, e)),
    }
    // Our handle may now name the other process's finished file (renamed from the part).
    let path = inner.layout.audio(&dl.hash);
    if inner.index.size_of(&dl.hash)? == Some(dl.size) && path.is_file() {
        return Ok(Some(path));
    }
    // It stopped without finishing: its bytes are ours to resume from, and readers see them.
    let have = dl
        .file
        .metadata()
        .map_err(|e| CacheError::io(&dl.part, e))?
        .len();
    dl.publish(have.min(dl.size));
    Ok(None)
}

/// A transfer's own bookkeeping: the verified-so-far prefix and its running hash.
struct Transfer {
    have: u64,
    hasher: blake3::Hasher,
    buf: Vec<u8>,
}

/// Fills the part file with verified content, resuming where it stopped, jumping where readers
/// wait, and retrying dropped connections a few times.
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
    let mut t = Transfer {
        have: 0,
        hasher: blake3::Hasher::new(),
        buf: vec![0u8; CHUNK],
    };
    while t.have < have {
        let want = usize::try_from(have - t.have).map_or(CHUNK, |left| left.min(CHUNK));
        let n = read_at(&dl.file, &mut t.buf[..want], t.have)
            .map_err(|e| CacheError::io(&dl.part, e))?;
        if n == 0 {
            break;
        }
        t.hasher.update(&t.buf[..n]);
        t.have += n as u64;
    }
    if t.have > 0 {
        tracing::info!(resume_from = t.have, "resuming");
    }

    let mut attempt = 0u32;
    loop {
        t.take_ahead(dl)?;
        if t.have >= dl.size {
            break;
        }
        let step = match dl.plan() {
            Plan::Prefix => t.extend_prefix(dl, fetcher),
            Plan::Ahead => t.extend_ahead(dl, fetcher),
            Plan::Jump(at) => {
                tracing::debug!(
                    at,
                    from = t.have,
                    "a reader seeked ahead; fetching there first"
                );
                dl.start_ahead(at)?;
                t.extend_ahead(dl, fetcher)
            }
        };
        match step {
            Ok(()) => {}
            Err(e) if e.is_retryable() && attempt < inner.config.retries => {
                attempt += 1;
                let pause = inner.config.retry_pause * 2u32.saturating_pow(attempt - 1);
                tracing::info!(error = %e, attempt, ?pause, "retrying");
                std::thread::sleep(pause);
            }
            Err(e) => return Err(e),
        }
    }

    let actual = t.hasher.finalize().to_hex().to_string();
    if actual != dl.hash {
        discard(dl);
        return Err(CacheError::Corrupt {
            hash: dl.hash.clone(),
            actual,
        });
    }
    Ok(())
}

impl Transfer {
    /// One request extending the prefix, up to the seek part or the end. Returns early (Ok)
    /// when the plan changes.
    fn extend_prefix(&mut self, dl: &Download, fetcher: &Fetcher) -> Result<(), CacheError> {
        let end = dl
            .ahead()
            .map(|a| a.start)
            .filter(|&s| s > self.have && s < dl.size);
        let (mut body, until) = match fetcher.media(&dl.hash, self.have, end)? {
            MediaBody::Whole(body) => {
                if self.have > 0 {
                    // 200 to a range request: the server sends the whole file, so start over.
                    tracing::info!(
                        discarded = self.have,
                        "server ignored the range; starting over"
                    );
                    reset(dl, &mut self.have)?;
                    self.hasher = blake3::Hasher::new();
                }
                if end.is_some() {
                    dl.stop_jumping();
                }
                expect_length(dl, &body, 0, dl.size)?;
                (body, dl.size)
            }
            MediaBody::Rest(body) => {
                let until = end.unwrap_or(dl.size);
                expect_length(dl, &body, self.have, until)?;
                (body, until)
            }
            MediaBody::Unsatisfiable if self.have > 0 => {
                tracing::info!(
                    discarded = self.have,
                    "server refused the resume offset; starting over"
                );
                reset(dl, &mut self.have)?;
                self.hasher = blake3::Hasher::new();
                return Ok(());
            }
            MediaBody::Unsatisfiable => {
                return Err(CacheError::Http {
                    status: 416,
                    url: format!("{}/api/v1/media/{}", fetcher.base_url(), dl.hash),
                });
            }
        };
        while self.have < until {
            let n = read_body(dl, &mut body, &mut self.buf)?;
            if n == 0 {
                return Err(closed_early(dl, self.have, until));
            }
            check_fits(dl, self.have, n)?;
            write_all_at(&dl.file, &self.buf[..n], self.have)
                .map_err(|e| map_write_error(&dl.part, e))?;
            self.hasher.update(&self.buf[..n]);
            self.have += n as u64;
            if dl.publish(self.have) != Plan::Prefix {
                return Ok(());
            }
        }
        Ok(())
    }

    /// One request extending the seek part to the end. Returns early (Ok) when the plan changes.
    fn extend_ahead(&mut self, dl: &Download, fetcher: &Fetcher) -> Result<(), CacheError> {
        let Some(ahead) = dl.ahead() else {
            return Ok(());
        };
        let mut end = ahead.end;
        if end >= dl.size {
            return Ok(());
        }
        let mut body = match fetcher.media(&dl.hash, end, None)? {
            MediaBody::Rest(body) => body,
            MediaBody::Whole(_) | MediaBody::Unsatisfiable => {
                tracing::info!("the server does not serve ranges: seeks wait for the download");
                dl.stop_jumping();
                return Ok(());
            }
        };
        expect_length(dl, &body, end, dl.size)?;
        while end < dl.size {
            let n = read_body(dl, &mut body, &mut self.buf)?;
            if n == 0 {
                return Err(closed_early(dl, end, dl.size));
            }
            check_fits(dl, end, n)?;
            write_all_at(&ahead.file, &self.buf[..n], end - ahead.start)
                .map_err(|e| map_write_error(&dl.seek_part, e))?;
            end += n as u64;
            if dl.publish_ahead(end) != Plan::Ahead {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Once the prefix has reached the seek part, its bytes join the part (and the hash) and
    /// it goes away.
    fn take_ahead(&mut self, dl: &Download) -> Result<(), CacheError> {
        let Some(ahead) = dl.ahead() else {
            return Ok(());
        };
        if ahead.start > self.have {
            return Ok(());
        }
        while self.have < ahead.end {
            let want = usize::try_from(ahead.end - self.have).map_or(CHUNK, |n| n.min(CHUNK));
            let n = read_at(&ahead.file, &mut self.buf[..want], self.have - ahead.start)
                .map_err(|e| CacheError::io(&dl.seek_part, e))?;
            if n == 0 {
                break;
            }
            write_all_at(&dl.file, &self.buf[..n], self.have)
                .map_err(|e| map_write_error(&dl.part, e))?;
            self.hasher.update(&self.buf[..n]);
            self.have += n as u64;
            dl.publish(self.have);
        }
        dl.drop_ahead();
        Ok(())
    }
}

/// A body announcing another length than `from..until` is not the file we want.
fn expect_length(
    dl: &Download,
    body: &reqwest::blocking::Response,
    from: u64,
    until: u64,
) -> Result<(), CacheError> {
    match body.content_length() {
        Some(len) if from.saturating_add(len) != until => {
            discard(dl);
            Err(CacheError::SizeMismatch {
                hash: dl.hash.clone(),
                expected: dl.size,
                served: from.saturating_add(len) + (dl.size - until),
            })
        }
        _ => Ok(()),
    }
}

fn read_body(
    dl: &Download,
    body: &mut reqwest::blocking::Response,
    buf: &mut [u8],
) -> Result<usize, CacheError> {
    loop {
        match body.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(CacheError::Network {
                    what: dl.hash.clone(),
                    detail: super::error::chain(&e),
                });
            }
        }
    }
}

/// More bytes than the track has: the server's file is not the one we want.
fn check_fits(dl: &Download, at: u64, n: usize) -> Result<(), CacheError> {
    if at + n as u64 > dl.size {
        discard(dl);
        return Err(CacheError::SizeMismatch {
            hash: dl.hash.clone(),
            expected: dl.size,
            served: at + n as u64,
        });
    }
    Ok(())
}

fn closed_early(dl: &Download, at: u64, until: u64) -> CacheError {
    CacheError::Network {
        what: dl.hash.clone(),
        detail: format!("the server closed the connection at byte {at} of {until}"),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const SIZE: u64 = 10 << 20;

    #[test]
    fn a_reader_streaming_at_the_prefix_never_makes_a_jump() {
        assert_eq!(plan(0, SIZE, None, None, true), Plan::Prefix);
        assert_eq!(plan(1_000, SIZE, None, Some(1_000), true), Plan::Prefix);
        assert_eq!(
            plan(1_000, SIZE, None, Some(1_000 + NEAR - 1), true),
            Plan::Prefix
        );
        // Already there: nothing to wait for.
        assert_eq!(plan(5_000, SIZE, None, Some(10), true), Plan::Prefix);
    }

    #[test]
    fn a_reader_waiting_far_ahead_gets_a_jump_and_is_then_kept_ahead_of() {
        let far = 6 << 20;
        assert_eq!(plan(1_000, SIZE, None, Some(far), true), Plan::Jump(far));
        // The empty seek part just started there: extend it, don't jump again.
        assert_eq!(
            plan(1_000, SIZE, Some((far, far)), Some(far), true),
            Plan::Ahead
        );
        // The reader plays inside the seek part: keep it fed until the end of the file.
        assert_eq!(
            plan(1_000, SIZE, Some((far, far + 500_000)), Some(far), true),
            Plan::Ahead
        );
        assert_eq!(
            plan(
                1_000,
                SIZE,
                Some((far, far + 500_000)),
                Some(far + 500_000),
                true
            ),
            Plan::Ahead
        );
        // The seek part reached the end: fill the gap before it.
        assert_eq!(
            plan(1_000, SIZE, Some((far, SIZE)), Some(far), true),
            Plan::Prefix
        );
    }

    #[test]
    fn a_reader_going_back_is_served_by_the_prefix_or_a_new_jump() {
        let far = 6 << 20;
        let ahead = Some((far, far + 500_000));
        assert_eq!(plan(1_000, SIZE, ahead, Some(2_000), true), Plan::Prefix);
        assert_eq!(
            plan(1_000, SIZE, ahead, Some(3 << 20), true),
            Plan::Jump(3 << 20)
        );
        assert_eq!(
            plan(1_000, SIZE, ahead, Some(9 << 20), true),
            Plan::Jump(9 << 20)
        );
    }

    #[test]
    fn without_ranges_everything_waits_for_the_prefix() {
        assert_eq!(plan(1_000, SIZE, None, Some(6 << 20), false), Plan::Prefix);
    }
}
