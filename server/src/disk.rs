//! Free space on the disk that holds the database and caches: below a small reserve the server
//! reports itself not ready, so a balancer sends writes elsewhere and monitoring sees why.

use std::path::Path;

/// Less than this free on the data disk counts as full: SQLite needs room for its WAL pages and
/// a checkpoint before a write can commit.
pub const MIN_FREE_BYTES: u64 = 1024 * 1024;

/// Bytes an unprivileged writer may still use on the filesystem holding `path`.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    let stat = rustix::fs::statvfs(path)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// `Some(free)` when the filesystem holding `path` is full (below `MIN_FREE_BYTES`).
pub fn full(path: &Path) -> Option<u64> {
    free_bytes(path).ok().filter(|free| *free < MIN_FREE_BYTES)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_working_directory_has_room_and_a_missing_one_is_not_called_full() {
        let dir = tempfile::tempdir().unwrap();
        assert!(super::free_bytes(dir.path()).unwrap() > 0);
        assert_eq!(super::full(&dir.path().join("missing")), None);
    }
}
