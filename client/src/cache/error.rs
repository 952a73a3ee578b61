//! `CacheError`: what went wrong in the audio cache, and what the user can do about it.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Every failure of the audio cache.
///
/// The error is `Clone` (sources are behind `Arc`) because one download can have several
/// waiters: each of them receives the same outcome.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CacheError {
    #[error("invalid content hash {0:?}: expected 64 hex digits (a blake3 hash)")]
    InvalidHash(String),

    #[error(
        "audio cache index {path} is unusable ({source}); delete it and the cache rebuilds \
         its index from the files on the next start"
    )]
    Index {
        path: PathBuf,
        #[source]
        source: Arc<rusqlite::Error>,
    },

    #[error("audio cache I/O failed on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },

    #[error(
        "disk full while writing {path}: downloads are paused; free disk space (`mixtape cache \
         clear` drops unpinned tracks, `mixtape offline rm NAME` unpins a playlist) and retry: \
         the partial download is kept and resumes"
    )]
    DiskFull { path: PathBuf },

    #[error(
        "download of {hash} was corrupt (its blake3 is {actual}); the partial file was deleted, \
         retry to download it again"
    )]
    Corrupt { hash: String, actual: String },

    #[error(
        "the server sent {served} bytes for {hash} but {expected} were expected; the partial file \
         was deleted: sync the catalog and retry"
    )]
    SizeMismatch {
        hash: String,
        expected: u64,
        served: u64,
    },

    #[error(
        "connection to the server lost while downloading {what}: {detail}; the partial download \
         is kept and resumes on retry"
    )]
    Network { what: String, detail: String },

    #[error("the server has no file {hash} (HTTP 404): the catalog is out of date, sync and retry")]
    NotFound { hash: String },

    #[error(
        "the server changed the file {hash} during the download (HTTP 412); retry to start over"
    )]
    Changed { hash: String },

    #[error("the server refused the login token (HTTP {status}): log in again")]
    Unauthorized { status: u16 },

    #[error("the server answered HTTP {status} for {url}; retry later")]
    Http { status: u16, url: String },

    #[error("the HTTP client could not be set up for {base_url}: {detail}")]
    Client { base_url: String, detail: String },

    #[error(
        "cannot pin {owner}: it needs {needed} more bytes but only {available} of the \
         {cap}-byte cache are left for pinned tracks; raise the cache size or unpin a playlist"
    )]
    PinRefused {
        owner: String,
        needed: u64,
        available: u64,
        cap: u64,
    },
}

impl CacheError {
    /// Whether retrying the same call later may succeed without the user changing anything
    /// (a dropped connection, a server hiccup).
    pub fn is_retryable(&self) -> bool {
        match self {
            CacheError::Network { .. } => true,
            CacheError::Http { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        CacheError::Io {
            path: path.to_owned(),
            source: Arc::new(source),
        }
    }

    pub(crate) fn index(path: &Path, source: rusqlite::Error) -> Self {
        CacheError::Index {
            path: path.to_owned(),
            source: Arc::new(source),
        }
    }
}

/// Whether an I/O error means "no space left" (ENOSPC, or EDQUOT for a full quota).
pub(crate) fn is_disk_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    ) || matches!(e.raw_os_error(), Some(ENOSPC) | Some(EDQUOT))
}

// Linux values; the `ErrorKind` check above covers every platform std knows, these catch an
// error built from a raw code where std's mapping is missing.
const ENOSPC: i32 = 28;
const EDQUOT: i32 = 122;

/// Maps an error from writing, syncing or renaming cache files: a full disk becomes
/// [`CacheError::DiskFull`] so callers can pause downloads instead of reporting a generic failure.
pub(crate) fn map_write_error(path: &Path, e: io::Error) -> CacheError {
    if is_disk_full(&e) {
        CacheError::DiskFull {
            path: path.to_owned(),
        }
    } else {
        CacheError::io(path, e)
    }
}

/// Opens (creating) a download's part file to resume it: what is there stays.
pub(crate) fn open_part(path: &Path) -> Result<std::fs::File, CacheError> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| map_write_error(path, e))
}

/// The whole `source()` chain of an error, because reqwest's top-level message hides the cause
/// ("error sending request") that the user needs ("connection refused").
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        next = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enospc_and_storage_full_map_to_disk_full_and_others_do_not() {
        let p = Path::new("/cache/audio/ab/ab.part");
        for e in [
            io::Error::from_raw_os_error(28),
            io::Error::from(io::ErrorKind::StorageFull),
            io::Error::from(io::ErrorKind::QuotaExceeded),
        ] {
            let mapped = map_write_error(p, e);
            assert!(
                matches!(&mapped, CacheError::DiskFull { path } if path == p),
                "{mapped:?}"
            );
            let text = mapped.to_string();
            assert!(text.contains("downloads are paused"), "{text}");
            // Pinned tracks are most of a full cache: the hint names how to unpin them.
            assert!(text.contains("mixtape offline rm NAME"), "{text}");
        }
        for e in [
            io::Error::from(io::ErrorKind::PermissionDenied),
            io::Error::from_raw_os_error(5),
        ] {
            assert!(matches!(map_write_error(p, e), CacheError::Io { .. }));
        }
    }

    #[test]
    fn pin_refusal_names_needed_and_available_bytes() {
        let e = CacheError::PinRefused {
            owner: "p1".into(),
            needed: 300,
            available: 100,
            cap: 1000,
        };
        let text = e.to_string();
        assert!(text.contains("300") && text.contains("100"), "{text}");
    }
}
