//! Where the cache keeps things on disk, and the content-hash names it accepts.
//!
//! ```text
//! {dir}/index.sqlite            the index (WAL)
//! {dir}/audio/{hh}/{hash}       complete, verified audio files ({hh}: first two hex digits)
//! {dir}/audio/{hh}/{hash}.part  downloads in progress (resumable)
//! {dir}/audio/{hh}/{hash}.seek.part  bytes fetched ahead of a download for a seek (never resumed)
//! {dir}/art/{arthash}           cover art
//! ```
//!
//! Parts live beside their final name so the last step of a download is a rename inside one
//! directory (atomic) followed by an fsync of that one directory.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use super::CacheError;

pub(crate) const PART_SUFFIX: &str = ".part";

#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn index(&self) -> PathBuf {
        self.root.join("index.sqlite")
    }

    pub fn audio_root(&self) -> PathBuf {
        self.root.join("audio")
    }

    pub fn art_root(&self) -> PathBuf {
        self.root.join("art")
    }

    /// The fan-out directory of `hash`: 256 directories keep each one small.
    pub fn audio_dir(&self, hash: &str) -> PathBuf {
        self.audio_root().join(&hash[..2])
    }

    pub fn audio(&self, hash: &str) -> PathBuf {
        self.audio_dir(hash).join(hash)
    }

    pub fn part(&self, hash: &str) -> PathBuf {
        self.audio_dir(hash).join(format!("{hash}{PART_SUFFIX}"))
    }

    /// Where a download keeps the range a reader seeked to beyond its bytes. Not a valid part
    /// name, so a crash leaves it for `reconcile` to delete; the part itself stays a prefix.
    pub fn seek_part(&self, hash: &str) -> PathBuf {
        self.audio_dir(hash)
            .join(format!("{hash}.seek{PART_SUFFIX}"))
    }

    pub fn art(&self, hash: &str) -> PathBuf {
        self.art_root().join(hash)
    }
}

/// Whether another process holds the lock of the part at `path` (it is downloading into it).
pub(crate) fn locked_elsewhere(path: &Path) -> bool {
    File::open(path).is_ok_and(|f| matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)))
}

/// Checks and normalizes (lowercase) a blake3 hex hash; it becomes a file name, so nothing else
/// may pass.
pub(crate) fn normalize_hash(hash: &str) -> Result<String, CacheError> {
    if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hash.to_ascii_lowercase())
    } else {
        Err(CacheError::InvalidHash(hash.to_owned()))
    }
}

pub(crate) fn is_hash(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Makes a rename or an unlink in `dir` durable: without it a power cut can bring back the old
/// directory entry even though the file's data was synced.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        // Windows cannot open a directory as a file; NTFS journals the rename itself.
        let _ = dir;
        Ok(())
    }
}

/// Reads exactly `buf.len()` bytes or up to end of file at `offset`, without moving any shared
/// file offset (the downloader and every reader use their own positions on one open file).
pub(crate) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        std::os::windows::fs::FileExt::seek_read(file, buf, offset)
    }
}

#[cfg(unix)]
pub(crate) fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(windows)]
pub(crate) fn write_all_at(file: &File, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_write(file, buf, offset) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                buf = &buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_normalized_and_anything_else_refused() {
        let h = "AB".repeat(32);
        assert_eq!(normalize_hash(&h).unwrap(), "ab".repeat(32));
        for bad in ["", "../etc/passwd", &"g".repeat(64), &"a".repeat(63)] {
            assert!(matches!(
                normalize_hash(bad),
                Err(CacheError::InvalidHash(_))
            ));
        }
        assert!(is_hash(&"0f".repeat(32)));
        assert!(!is_hash(&"0F".repeat(32)));
    }

    #[test]
    fn files_fan_out_by_the_first_two_hex_digits() {
        let l = Layout {
            root: PathBuf::from("/c"),
        };
        let h = format!("ab{}", "0".repeat(62));
        assert_eq!(l.audio(&h), PathBuf::from(format!("/c/audio/ab/{h}")));
        assert_eq!(l.part(&h), PathBuf::from(format!("/c/audio/ab/{h}.part")));
    }
}
