//! Decoding on a thread per track, so that opening (which may wait for the cache's download)
//! and reading never stall the player thread. The decoding itself (symphonia, libopus, the
//! MP4 edit list) is `mixtape_codec::TrackDecoder`, shared with the server's transcoder.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use crossbeam_channel::{Receiver, Sender, bounded};
use mixtape_codec::DecodeError;
pub(crate) use mixtape_codec::TrackDecoder;

use super::output::PcmSpec;
use super::{PlayerError, QueueItem, TrackOpener};

impl From<DecodeError> for PlayerError {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Open(m) => PlayerError::Open(m),
            DecodeError::Decode(m) => PlayerError::Decode(m),
        }
    }
}

/// Chunks a decoder thread may be ahead of the player thread.
const CHUNKS_AHEAD: usize = 4;

/// What a decoder thread sends.
pub(crate) enum DecodeMsg {
    /// Opened (and seeked): the format of what follows, and the position of its first frame.
    Ready {
        spec: PcmSpec,
        start_ms: u64,
    },
    Chunk(Vec<f32>),
    End,
    Failed(PlayerError),
}

/// A track being decoded on its own thread. Dropping it stops the thread (at its next chunk;
/// a thread waiting on the network finishes that wait first).
pub(crate) struct DecoderHandle {
    pub index: usize,
    pub rx: Receiver<DecodeMsg>,
    stop: Arc<AtomicBool>,
}

impl Drop for DecoderHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts decoding queue entry `index` from `start_ms`: calls the opener at once (so the cache
/// starts downloading), decodes a few chunks ahead, then waits for the player to take them.
pub(crate) fn spawn(
    opener: Arc<dyn TrackOpener>,
    item: QueueItem,
    index: usize,
    start_ms: u64,
) -> DecoderHandle {
    let (tx, rx) = bounded(CHUNKS_AHEAD);
    let stop = Arc::new(AtomicBool::new(false));
    let thread_stop = Arc::clone(&stop);
    let spawned = thread::Builder::new()
        .name("mixtape-decode".into())
        .spawn(move || run(opener.as_ref(), &item, start_ms, &tx, &thread_stop));
    if let Err(e) = spawned {
        // The receiver then sees a disconnected channel: reported as a failure by the player.
        tracing::error!(error = %e, "cannot start a decoder thread");
    }
    DecoderHandle { index, rx, stop }
}

fn run(
    opener: &dyn TrackOpener,
    item: &QueueItem,
    start_ms: u64,
    tx: &Sender<DecodeMsg>,
    stop: &AtomicBool,
) {
    let opened = opener
        .open(item)
        .map_err(|e| PlayerError::Open(e.to_string()))
        .and_then(|src| TrackDecoder::open(src, &item.format).map_err(PlayerError::from));
    let mut dec = match opened {
        Ok(d) => d,
        Err(e) => {
            let _ = tx.send(DecodeMsg::Failed(e));
            return;
        }
    };
    let start_ms = if start_ms > 0 {
        match dec.seek(start_ms) {
            Ok(_) => start_ms,
            Err(e) => {
                let _ = tx.send(DecodeMsg::Failed(e.into()));
                return;
            }
        }
    } else {
        0
    };
    // The spec may be completed by the first packet (channel count): decode it first.
    let first = dec.next_chunk().map_err(PlayerError::from);
    let ready = DecodeMsg::Ready {
        spec: dec.spec(),
        start_ms,
    };
    if tx.send(ready).is_err() {
        return;
    }
    let mut next = first;
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let msg = match next {
            Ok(Some(chunk)) => DecodeMsg::Chunk(chunk),
            Ok(None) => {
                let _ = tx.send(DecodeMsg::End);
                return;
            }
            Err(e) => {
                let _ = tx.send(DecodeMsg::Failed(e));
                return;
            }
        };
        if tx.send(msg).is_err() {
            return;
        }
        next = dec.next_chunk().map_err(PlayerError::from);
    }
}
