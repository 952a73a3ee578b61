//! `ProgressiveReader`: play a track while it downloads.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

use super::download::{Download, Readable};
use super::layout::read_at;

/// Reads a cached track, or one still downloading: bytes not written yet are waited for
/// (without polling: the download announces every chunk), and a read far beyond them makes the
/// download fetch from there first, so a seek does not wait for everything before it. Once the
/// download is verified the reader goes on reading the same open file, which by then has its
/// final name.
///
/// The end of the track (`Ok(0)`) is only reported after the download is verified; a corrupt
/// or failed download turns into an `io::Error` (carrying the `CacheError`) when the reader
/// needs bytes it does not have. Dropping the reader does not stop the download: the track
/// still ends up cached.
pub struct ProgressiveReader {
    file: File,
    hash: String,
    size: u64,
    pos: u64,
    download: Option<Arc<Download>>,
}

impl std::fmt::Debug for ProgressiveReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgressiveReader")
            .field("hash", &self.hash)
            .field("size", &self.size)
            .field("pos", &self.pos)
            .field("downloading", &self.download.is_some())
            .finish()
    }
}

impl ProgressiveReader {
    pub(crate) fn complete(file: File, hash: String, size: u64) -> Self {
        Self {
            file,
            hash,
            size,
            pos: 0,
            download: None,
        }
    }

    pub(crate) fn downloading(download: Arc<Download>) -> io::Result<Self> {
        Ok(Self {
            file: download.file.try_clone()?,
            hash: download.hash.clone(),
            size: download.size,
            pos: 0,
            download: Some(download),
        })
    }

    /// The content hash of the track.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The size of the whole track, known before it is downloaded.
    pub fn len(&self) -> u64 {
        self.size
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Whether the track is completely downloaded and verified.
    pub fn is_complete(&self) -> bool {
        match &self.download {
            None => true,
            Some(d) => matches!(d.outcome(), Some(Ok(_))),
        }
    }
}

impl Read for ProgressiveReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let (file, offset, end) = match &self.download {
                None => (None, 0, self.size),
                Some(download) => match download.readable_at(self.pos).map_err(io::Error::other)? {
                    Readable::Part(end) => {
                        if matches!(download.outcome(), Some(Ok(_))) {
                            self.download = None;
                        }
                        (None, 0, end)
                    }
                    Readable::Ahead { file, start, end } => (Some(file), start, end),
                },
            };
            if self.pos >= end {
                // Only reached at or beyond the end of a verified download.
                return Ok(0);
            }
            let want = usize::try_from(end - self.pos).map_or(buf.len(), |n| n.min(buf.len()));
            let n = match &file {
                Some(ahead) => read_at(ahead, &mut buf[..want], self.pos - offset)?,
                None => read_at(&self.file, &mut buf[..want], self.pos)?,
            };
            if n > 0 {
                self.pos += n as u64;
                return Ok(n);
            }
            if self.download.is_none() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "cached file {} is shorter than {} bytes",
                        self.hash, self.size
                    ),
                ));
            }
            // The download restarted from zero between our look and our read: look again.
        }
    }
}

impl Seek for ProgressiveReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let Some(target) = target else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the track",
            ));
        };
        self.pos = target;
        Ok(target)
    }
}
