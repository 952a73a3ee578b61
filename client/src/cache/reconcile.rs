//! Crash repair on open (`reconcile`) and full re-verification on demand (`verify`).
//!
//! Policy, in the order applied on open:
//! - a file named by a valid hash (in its right fan-out directory) without an index row is
//!   re-hashed: if the content matches the name it is indexed ("adopted": the usual cause is a
//!   crash between the rename and the index write, and the download was verified), otherwise
//!   deleted;
//! - an indexed file whose length differs from its row is deleted with its row (full re-hashing
//!   of indexed files is `verify`'s job, too slow for every start);
//! - a `.part` younger than `CacheConfig::part_max_age` is kept, to be resumed when its track is
//!   wanted again; an older one is deleted (its track is probably not wanted any more);
//! - any other file under `audio/` (unknown names, symlinks) is deleted: the directory is ours;
//! - a row whose file is gone is deleted (pins are kept: they are intent, not files);
//! - cover-art parts are deleted (art downloads never resume);
//! - finally, eviction down to the cap (the cap may have been lowered since the last run).

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::layout::{PART_SUFFIX, is_hash, locked_elsewhere};
use super::{CacheError, Inner, list_dirs, list_files};

/// What `AudioCache::open` repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairReport {
    /// Files that had no index row and whose content matched their hash: now indexed.
    pub adopted: Vec<String>,
    /// Files deleted: content not matching the name, wrong length, or an unknown name.
    pub removed_files: Vec<PathBuf>,
    /// Index rows whose file was gone, deleted.
    pub dropped_rows: Vec<String>,
    /// Partial downloads deleted as stale.
    pub removed_parts: Vec<PathBuf>,
    /// Partial downloads kept to be resumed (not a repair).
    pub kept_parts: Vec<PathBuf>,
    /// Files evicted to get under the cap.
    pub evicted: Vec<String>,
}

impl RepairReport {
    /// True if nothing needed repairing (kept parts are normal).
    pub fn is_clean(&self) -> bool {
        self.adopted.is_empty()
            && self.removed_files.is_empty()
            && self.dropped_rows.is_empty()
            && self.removed_parts.is_empty()
            && self.evicted.is_empty()
    }
}

/// What `AudioCache::verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Files re-hashed.
    pub checked: u64,
    pub checked_bytes: u64,
    /// Hashes whose file did not match (now removed): fetch them again.
    pub corrupt: Vec<String>,
    /// Hashes whose file was gone (row removed): fetch them again.
    pub missing: Vec<String>,
}

pub(crate) fn hash_file(path: &Path) -> io::Result<(String, u64)> {
    let mut file = fs::File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    let len = io::copy(&mut file, &mut hasher)?;
    Ok((hasher.finalize().to_hex().to_string(), len))
}

pub(crate) fn reconcile(inner: &Inner) -> Result<RepairReport, CacheError> {
    let mut report = RepairReport::default();
    let mut rows: HashMap<String, u64> = inner.index.files()?.into_iter().collect();
    let audio = inner.layout.audio_root();

    for (path, _) in list_files(&audio)? {
        // Nothing belongs directly in audio/.
        remove(inner, &path, &mut report.removed_files);
    }
    remove_symlinks(inner, &audio, &mut report.removed_files)?;
    for dir in list_dirs(&audio)? {
        let prefix = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        remove_symlinks(inner, &dir, &mut report.removed_files)?;
        for (path, len) in list_files(&dir)? {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let in_place = |h: &str| is_hash(h) && h.starts_with(prefix.as_str());
            if let Some(stem) = name.strip_suffix(PART_SUFFIX)
                && (in_place(stem) || super::rendition::is_rendition_part(stem, &prefix))
            {
                if is_stale(&path, inner.config.part_max_age) && !locked_elsewhere(&path) {
                    remove(inner, &path, &mut report.removed_parts);
                } else {
                    report.kept_parts.push(path);
                }
            } else if in_place(&name) {
                match rows.remove(&name) {
                    Some(size) if size == len => {}
                    Some(_) => {
                        remove(inner, &path, &mut report.removed_files);
                        inner.index.remove(&name)?;
                    }
                    None => adopt(inner, &name, &path, &mut report)?,
                }
            } else {
                remove(inner, &path, &mut report.removed_files);
            }
        }
    }
    // Rows left had no file.
    for hash in rows.into_keys() {
        inner.index.remove(&hash)?;
        report.dropped_rows.push(hash);
    }
    for (path, _) in list_files(&inner.layout.art_root())? {
        if path.to_string_lossy().ends_with(PART_SUFFIX) {
            remove(inner, &path, &mut report.removed_parts);
        }
    }
    report.evicted = inner.evict(None)?.into_iter().map(|(h, _)| h).collect();

    if report.is_clean() {
        tracing::debug!(
            kept_parts = report.kept_parts.len(),
            "audio cache consistent"
        );
    } else {
        tracing::info!(
            adopted = report.adopted.len(),
            removed_files = report.removed_files.len(),
            dropped_rows = report.dropped_rows.len(),
            removed_parts = report.removed_parts.len(),
            kept_parts = report.kept_parts.len(),
            evicted = report.evicted.len(),
            "audio cache repaired"
        );
    }
    Ok(report)
}

fn adopt(
    inner: &Inner,
    hash: &str,
    path: &Path,
    report: &mut RepairReport,
) -> Result<(), CacheError> {
    match hash_file(path) {
        Ok((actual, len)) if actual == hash => {
            inner.index.insert(hash, len, inner.tick())?;
            report.adopted.push(hash.to_owned());
        }
        Ok(_) => remove(inner, path, &mut report.removed_files),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "unreadable cache file");
            remove(inner, path, &mut report.removed_files);
        }
    }
    Ok(())
}

fn is_stale(path: &Path, max_age: std::time::Duration) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age > max_age)
}

fn remove(inner: &Inner, path: &Path, list: &mut Vec<PathBuf>) {
    if inner.delete_file(path) {
        list.push(path.to_owned());
    }
}

/// We never create symlinks; one under `audio/` could point anywhere, so it goes (the link,
/// not its target).
fn remove_symlinks(inner: &Inner, dir: &Path, list: &mut Vec<PathBuf>) -> Result<(), CacheError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(CacheError::io(dir, e)),
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_symlink()) {
            remove(inner, &entry.path(), list);
        }
    }
    Ok(())
}

pub(crate) fn verify(inner: &Inner) -> Result<VerifyReport, CacheError> {
    let mut report = VerifyReport::default();
    // Hash without holding any lock: this takes as long as reading the whole cache.
    for (hash, size) in inner.index.files()? {
        let path = inner.layout.audio(&hash);
        let bad = match hash_file(&path) {
            Ok((actual, len)) => {
                report.checked += 1;
                report.checked_bytes += len;
                actual != hash || len != size
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Evicted while we were hashing others is not "missing".
                if inner.index.size_of(&hash)?.is_some() {
                    inner.index.remove(&hash)?;
                    report.missing.push(hash);
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "unreadable cache file");
                true
            }
        };
        if bad {
            // Under the downloads lock, so no `fetch` sees the row between these two steps.
            let _downloads = inner.downloads();
            inner.delete_file(&path);
            inner.index.remove(&hash)?;
            tracing::warn!(hash, "corrupt cached file removed");
            report.corrupt.push(hash);
        }
    }
    tracing::info!(
        checked = report.checked,
        corrupt = report.corrupt.len(),
        missing = report.missing.len(),
        "audio cache verified"
    );
    Ok(report)
}
