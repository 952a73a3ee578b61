//! Resolving a track to the bytes to stream. No request path reaches the filesystem except
//! through the track table, and a path that resolves outside the library is refused. The bytes
//! go out as `FileChunks`.

use crate::library_fs::LibraryFsError;
use crate::storage::{StorageError, Store, TrackFile};
use mixtape_shared::TrackId;
use std::path::Path;

mod chunks;
pub use chunks::FileChunks;

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("no such track")]
    NotFound,
    #[error("the file of this track is gone; a rescan will update the library")]
    FileGone,
    #[error("the file of this track changed since the last scan; a rescan will update the library")]
    Changed,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub struct OpenTrack {
    pub file: std::fs::File,
    pub info: TrackFile,
    pub len: u64,
}

/// Opens the file behind `id` through `library_fs::open`: a symlink swapped in after the scan
/// must not leak other files.
pub fn open(store: &dyn Store, library: &Path, id: TrackId) -> Result<OpenTrack, StreamError> {
    let info = store.track_file(id)?.ok_or(StreamError::NotFound)?;
    open_file(library, info)
}

/// Same, by content hash (the immutable media URL).
pub fn open_by_hash(
    store: &dyn Store,
    library: &Path,
    hash: &str,
) -> Result<OpenTrack, StreamError> {
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(StreamError::NotFound);
    }
    let info = store
        .track_file_by_hash(hash)?
        .ok_or(StreamError::NotFound)?;
    open_file(library, info)
}

fn open_file(library: &Path, info: TrackFile) -> Result<OpenTrack, StreamError> {
    // A track held back by a scan (its file went missing) is not served even if a file has
    // reappeared at its path: the next scan checks it first.
    if !info.available {
        return Err(StreamError::FileGone);
    }
    let file = match crate::library_fs::open(library, &info.path) {
        Ok(file) => file,
        Err(LibraryFsError::Refused) => {
            tracing::warn!(path = %info.path, "track path crosses a symlink or is not a plain file; refused");
            return Err(StreamError::FileGone);
        }
        Err(_) => return Err(StreamError::FileGone),
    };
    let len = file.metadata().map_err(|_| StreamError::FileGone)?.len();
    // The ETag is the content hash taken at scan time: never send other bytes under it.
    if len != info.size {
        return Err(StreamError::Changed);
    }
    Ok(OpenTrack { file, info, len })
}
