//! A file's bytes as a stream of chunks for a response body, each chunk one read on the blocking
//! pool straight into the buffer that is sent: no second buffer between the file and the socket
//! (as `tokio::fs::File` keeps), so a chunk costs one copy out of the page cache.
//!
//! The size of a read sets what one stream can carry: each chunk pays a hop to the blocking pool
//! and a write, so small chunks cap a fast reader (64 KiB: about 1 GB/s on loopback here) while
//! large ones multiply the memory of many readers (500 streams × 256 KiB is 125 MiB of chunks
//! alone). So a stream reads small chunks, and the first `LARGE_STREAMS` open at a time read
//! large ones (256 KiB × 8: one stream 1.7-1.9 GB/s, 500 streams 137 MiB; 512 KiB × 16 gave
//! 2.2-2.9 GB/s and 173 MiB; `docs/benchmarks.md`).

use axum::body::Bytes;
use futures_util::Stream;
use std::fs::File;
use std::io::{self, Read};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use tokio::task::JoinHandle;

/// One read for most streams: hundreds of open streams stay cheap.
pub const SMALL_CHUNK: usize = 64 * 1024;
/// One read for a stream holding one of the `LARGE_STREAMS` slots.
pub const LARGE_CHUNK: usize = 256 * 1024;
/// How many streams read large chunks at once: at most 2 MiB in all.
const LARGE_STREAMS: usize = 8;

static LARGE_IN_USE: AtomicUsize = AtomicUsize::new(0);

/// A slot for large chunks, given back when its stream ends or is dropped.
struct LargeSlot;

impl LargeSlot {
    fn take() -> Option<Self> {
        LARGE_IN_USE
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used < LARGE_STREAMS).then_some(used + 1)
            })
            .ok()
            .map(|_| LargeSlot)
    }
}

impl Drop for LargeSlot {
    fn drop(&mut self) {
        LARGE_IN_USE.fetch_sub(1, Ordering::AcqRel);
    }
}

enum Reader {
    Idle(File),
    Reading(JoinHandle<(File, io::Result<Vec<u8>>)>),
    Done,
}

/// The next `len` bytes of `file` from its current position, chunk by chunk.
pub struct FileChunks {
    reader: Reader,
    remaining: u64,
    large: Option<LargeSlot>,
}

impl FileChunks {
    pub fn new(file: File, len: u64) -> Self {
        // A short answer (a range, a small file) never needs a large slot.
        let large = if len > SMALL_CHUNK as u64 {
            LargeSlot::take()
        } else {
            None
        };
        FileChunks {
            reader: Reader::Idle(file),
            remaining: len,
            large,
        }
    }

    pub fn chunk_len(&self) -> usize {
        if self.large.is_some() {
            LARGE_CHUNK
        } else {
            SMALL_CHUNK
        }
    }

    fn finish(&mut self) {
        self.reader = Reader::Done;
        self.large = None;
    }
}

impl Stream for FileChunks {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match &mut this.reader {
                Reader::Done => return Poll::Ready(None),
                Reader::Idle(_) if this.remaining == 0 => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Reader::Idle(_) => {
                    let Reader::Idle(file) = std::mem::replace(&mut this.reader, Reader::Done)
                    else {
                        unreachable!("matched as idle just above")
                    };
                    let len = this.remaining.min(this.chunk_len() as u64);
                    // Allocated here, on one of the runtime's few threads: allocated on the
                    // blocking pool's many threads, the chunks spread over as many malloc
                    // arenas, and 500 streams' memory kept growing.
                    let mut chunk = Vec::with_capacity(len as usize);
                    this.reader = Reader::Reading(tokio::task::spawn_blocking(move || {
                        // `read_to_end` fills the spare capacity without zeroing it first.
                        let read = (&file).take(len).read_to_end(&mut chunk);
                        (file, read.map(|_| chunk))
                    }));
                }
                Reader::Reading(handle) => {
                    let joined = ready!(Pin::new(handle).poll(cx));
                    let (file, read) = match joined {
                        Ok(done) => done,
                        Err(e) => {
                            this.finish();
                            return Poll::Ready(Some(Err(io::Error::other(e))));
                        }
                    };
                    let chunk = match read {
                        Ok(chunk) if chunk.is_empty() => {
                            // The file is shorter than the length promised: the response
                            // must end in an error, not look complete.
                            this.finish();
                            return Poll::Ready(Some(Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "the file ended before the length that was sent",
                            ))));
                        }
                        Ok(chunk) => chunk,
                        Err(e) => {
                            this.finish();
                            return Poll::Ready(Some(Err(e)));
                        }
                    };
                    this.remaining -= chunk.len() as u64;
                    this.reader = Reader::Idle(file);
                    return Poll::Ready(Some(Ok(Bytes::from(chunk))));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use std::io::{Seek, SeekFrom, Write};

    fn file_of(bytes: &[u8]) -> (tempfile::NamedTempFile, File) {
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        tmp.write_all(bytes).unwrap();
        let file = File::open(tmp.path()).unwrap();
        (tmp, file)
    }

    async fn collect(mut chunks: FileChunks) -> (Vec<usize>, io::Result<Vec<u8>>) {
        let mut sizes = Vec::new();
        let mut out = Vec::new();
        while let Some(chunk) = chunks.next().await {
            match chunk {
                Ok(c) => {
                    sizes.push(c.len());
                    out.extend_from_slice(&c);
                }
                Err(e) => return (sizes, Err(e)),
            }
        }
        (sizes, Ok(out))
    }

    #[tokio::test]
    async fn a_range_of_the_file_arrives_whole_and_in_order() {
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let (_tmp, mut file) = file_of(&bytes);
        file.seek(SeekFrom::Start(1000)).unwrap();
        let (sizes, out) = collect(FileChunks::new(file, 200_000)).await;
        assert_eq!(out.unwrap(), bytes[1000..201_000]);
        assert!(sizes.iter().all(|&s| s <= LARGE_CHUNK), "{sizes:?}");
    }

    #[tokio::test]
    async fn a_file_shorter_than_promised_ends_in_an_error() {
        let (_tmp, file) = file_of(&[7u8; 1000]);
        let (_, out) = collect(FileChunks::new(file, 5000)).await;
        assert_eq!(out.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[tokio::test]
    async fn only_a_few_streams_read_large_chunks_and_their_slots_come_back() {
        let (_tmp, file) = file_of(&[1u8; 10]);
        let open: Vec<FileChunks> = (0..LARGE_STREAMS * 2)
            .map(|_| FileChunks::new(file.try_clone().unwrap(), 1 << 30))
            .collect();
        let large = open.iter().filter(|c| c.chunk_len() == LARGE_CHUNK).count();
        // Other tests may hold slots at the same moment; never more than the limit.
        assert!(large <= LARGE_STREAMS, "{large} large streams");
        assert!(large > 0);
        drop(open);
        let again = FileChunks::new(file.try_clone().unwrap(), 1 << 30);
        assert_eq!(again.chunk_len(), LARGE_CHUNK, "a slot came back");
        assert_eq!(
            FileChunks::new(file, 100).chunk_len(),
            SMALL_CHUNK,
            "a short answer reads small"
        );
    }
}
