//! Telling a full disk from other failures of SQLite. SQLite reports no room as SQLITE_FULL when
//! a write fails, but as SQLITE_IOERR when it cannot size its WAL index (`-shm`) or sync, so an
//! I/O error counts as a full disk when the filesystem has next to no room left.

use std::path::Path;

/// Below this much free space an I/O error is taken for a full disk: SQLite needs a few pages
/// (4 KiB each) and a 32 KiB shared-memory file, so a disk this close to full is the cause.
const NO_ROOM_BYTES: u64 = 1 << 20;

/// Whether the filesystem holding `dir` has (next to) no room left for this user.
#[cfg(unix)]
pub fn no_room_left(dir: &Path) -> bool {
    rustix::fs::statvfs(dir).is_ok_and(|s| s.f_bavail.saturating_mul(s.f_frsize) < NO_ROOM_BYTES)
}

#[cfg(not(unix))]
pub fn no_room_left(_dir: &Path) -> bool {
    false
}

/// SQLITE_IOERR, which on a full disk stands for ENOSPC.
pub fn is_io_error(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::SystemIoFailure)
}

/// Whether `e`, from the database file at `db`, means its disk is full.
pub fn is_disk_full(e: &rusqlite::Error, db: &Path) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
        || (is_io_error(e) && no_room_left(folder_of(db)))
}

fn folder_of(file: &Path) -> &Path {
    file.parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}
