//! Decoding: symphonia's demuxers and decoders (plus libopus, see `opus`) turn a
//! `MediaSource` into interleaved `f32` chunks, on a thread per track so that opening (which
//! may wait for the cache's download) and reading never stall the player thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;

use crossbeam_channel::{Receiver, Sender, bounded};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{
    CODEC_TYPE_AAC, CODEC_TYPE_NULL, CODEC_TYPE_OPUS, CodecRegistry, Decoder, DecoderOptions,
};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader, SeekMode, SeekTo};
use symphonia::core::io::{MediaSource, MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;
use symphonia::core::units::{Time, TimeBase};

use super::mp4_edit;
use super::opus::OpusDecoder;
use super::output::PcmSpec;
use super::{PlayerError, QueueItem, TrackOpener};

/// Frames gathered before a chunk is handed to the player thread (~0.1 s).
const CHUNK_FRAMES: usize = 4096;
/// Chunks a decoder thread may be ahead of the player thread.
const CHUNKS_AHEAD: usize = 4;

fn codecs() -> &'static CodecRegistry {
    static REGISTRY: OnceLock<CodecRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut r = CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut r);
        r.register_all::<OpusDecoder>();
        r
    })
}

/// One opened track: its demuxer, its decoder, and where accurate seeking must resume.
pub(crate) struct TrackDecoder {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track_id: u32,
    time_base: Option<TimeBase>,
    spec: PcmSpec,
    buf: Option<SampleBuffer<f32>>,
    /// Frames of the stream's timeline before the track's first frame: Opus's pre-skip, which
    /// symphonia 0.5's Ogg demuxer leaves in (the granule positions count it), or the MP4
    /// edit's start (the AAC priming), which its isomp4 demuxer ignores.
    lead: u64,
    /// Frames of the stream's timeline from this one on are dropped: the end of the MP4 edit
    /// (the encoder's padding). `None`: the stream's own end.
    end: Option<u64>,
    /// Frames a seek starts decoding before its target, for the decoder to converge.
    preroll: u64,
    /// Decoded frames before this one (in the track's timeline) are dropped: the pre-skip at
    /// the start, and what precedes the target after a seek.
    skip_until: u64,
}

/// Opus decoders converge within 80 ms: a seek starts decoding that much before its target.
const OPUS_PREROLL: u64 = 3_840;
/// An AAC frame overlaps the one before (MDCT): two frames back, the output is settled.
const AAC_PREROLL: u64 = 2_048;

impl TrackDecoder {
    /// Probes `source` (`ext` is a hint such as `flac` or `opus`) with gapless trimming on.
    pub fn open(mut source: Box<dyn MediaSource>, ext: &str) -> Result<Self, PlayerError> {
        // Read before symphonia takes the source; only files that start with `ftyp` are
        // looked into, and the source is rewound either way.
        let edit = if source.is_seekable() {
            mp4_edit::read_edit(&mut *source)
                .map_err(|e| PlayerError::Open(format!("rewinding the file: {e}")))?
        } else {
            None
        };
        let mss = MediaSourceStream::new(source, MediaSourceStreamOptions::default());
        let mut hint = Hint::new();
        if !ext.is_empty() {
            hint.with_extension(ext);
        }
        let probed = symphonia::default::get_probe()
            .format(
                &hint,
                mss,
                &FormatOptions {
                    enable_gapless: true,
                    ..Default::default()
                },
                &MetadataOptions::default(),
            )
            .map_err(|e| PlayerError::Decode(format!("unrecognised audio: {e}")))?;
        let format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| PlayerError::Decode("no audio track".into()))?;
        let params = track.codec_params.clone();
        let decoder = codecs()
            .make(&params, &DecoderOptions::default())
            .map_err(|e| PlayerError::Decode(format!("no decoder: {e}")))?;
        let rate = params
            .sample_rate
            .ok_or_else(|| PlayerError::Decode("unknown sample rate".into()))?;
        let channels = params.channels.map_or(0, |c| c.count() as u16);
        let (lead, end) = if params.codec == CODEC_TYPE_OPUS {
            (u64::from(params.delay.unwrap_or(0)), None)
        } else {
            match edit.filter(|e| e.track == track.id as usize) {
                Some(e) => {
                    let (skip, keep) = e.frames(rate);
                    tracing::debug!(skip, keep, "trimming to the MP4 edit");
                    (skip, keep.map(|k| skip.saturating_add(k)))
                }
                None => (0, None),
            }
        };
        let preroll = match params.codec {
            CODEC_TYPE_OPUS => OPUS_PREROLL,
            CODEC_TYPE_AAC => AAC_PREROLL,
            _ => 0,
        };
        Ok(Self {
            lead,
            end,
            preroll,
            track_id: track.id,
            time_base: params.time_base,
            format,
            decoder,
            spec: PcmSpec { rate, channels },
            buf: None,
            skip_until: lead,
        })
    }

    pub fn spec(&self) -> PcmSpec {
        self.spec
    }

    /// Whether timestamps count frames (the time base is one over the sample rate).
    fn ts_is_frames(&self) -> bool {
        self.time_base
            .is_none_or(|tb| tb.numer == 1 && tb.denom == self.spec.rate)
    }

    fn ts_to_frames(&self, ts: u64) -> u64 {
        match self.time_base {
            Some(tb) if !self.ts_is_frames() => {
                let t = tb.calc_time(ts);
                t.seconds * u64::from(self.spec.rate)
                    + (t.frac * f64::from(self.spec.rate)).round() as u64
            }
            _ => ts,
        }
    }

    /// Seeks so that the next frame out is the one at `ms` (symphonia's accurate seek to the
    /// packet before, then decoded frames before the target are dropped). Returns that frame.
    pub fn seek(&mut self, ms: u64) -> Result<u64, PlayerError> {
        let target = self.spec.ms_to_frames(ms);
        let from = (target + self.lead).saturating_sub(self.preroll);
        let to = if self.ts_is_frames() {
            SeekTo::TimeStamp {
                ts: from,
                track_id: self.track_id,
            }
        } else {
            let rate = u64::from(self.spec.rate.max(1));
            SeekTo::Time {
                time: Time::new(from / rate, (from % rate) as f64 / rate as f64),
                track_id: Some(self.track_id),
            }
        };
        match self.format.seek(SeekMode::Accurate, to) {
            Ok(_) => {
                self.decoder.reset();
                self.skip_until = target + self.lead;
                Ok(target)
            }
            Err(SymError::SeekError(_)) => {
                // Past the end (or not seekable): nothing left to play from here.
                self.skip_until = u64::MAX;
                Ok(target)
            }
            Err(e) => Err(PlayerError::Decode(format!("seek: {e}"))),
        }
    }

    /// Decodes at least `CHUNK_FRAMES` frames (fewer at the end); `None` at the end.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<f32>>, PlayerError> {
        let mut out: Vec<f32> = Vec::new();
        while out.len() < CHUNK_FRAMES * usize::from(self.spec.channels.max(1)) {
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    break;
                }
                Err(SymError::ResetRequired) => break,
                Err(e) => return Err(PlayerError::Decode(e.to_string())),
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            let start = self.ts_to_frames(packet.ts());
            // Timestamps only grow: past the end, the rest is padding too.
            let to_end = match self.end {
                Some(end) if start >= end => break,
                Some(end) => end - start,
                None => u64::MAX,
            };
            let decoded = match self.decoder.decode(&packet) {
                Ok(d) => d,
                Err(SymError::DecodeError(e)) => {
                    tracing::warn!(error = e, "skipping a corrupt packet");
                    continue;
                }
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    break;
                }
                Err(e) => return Err(PlayerError::Decode(e.to_string())),
            };
            let frames = decoded.frames();
            if frames == 0 {
                continue;
            }
            let spec = *decoded.spec();
            let channels = spec.channels.count() as u16;
            if self.spec.channels == 0 {
                // The header did not say; the first packet does.
                self.spec.channels = channels;
            }
            if channels != self.spec.channels || spec.rate != self.spec.rate {
                return Err(PlayerError::Decode(
                    "the stream changed its format midway".into(),
                ));
            }
            let samples = decoded_to_vec(&mut self.buf, decoded);
            // Drop what comes before a seek target, and after the end.
            let skip = self.skip_until.saturating_sub(start).min(frames as u64) as usize;
            let keep = to_end.min(frames as u64) as usize;
            if skip >= keep {
                continue;
            }
            self.skip_until = 0;
            let ch = usize::from(channels);
            out.extend_from_slice(&samples[skip * ch..keep * ch]);
        }
        Ok((!out.is_empty()).then_some(out))
    }
}

fn decoded_to_vec(
    buf: &mut Option<SampleBuffer<f32>>,
    decoded: symphonia::core::audio::AudioBufferRef<'_>,
) -> Vec<f32> {
    let needed = decoded.capacity() as u64;
    if buf
        .as_ref()
        .is_none_or(|b| b.capacity() < decoded.capacity())
    {
        *buf = Some(SampleBuffer::new(needed, *decoded.spec()));
    }
    let b = buf.as_mut().expect("just made");
    b.copy_interleaved_ref(decoded);
    b.samples().to_vec()
}

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
        .and_then(|src| TrackDecoder::open(src, &item.format));
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
                let _ = tx.send(DecodeMsg::Failed(e));
                return;
            }
        }
    } else {
        0
    };
    // The spec may be completed by the first packet (channel count): decode it first.
    let first = dec.next_chunk();
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
        next = dec.next_chunk();
    }
}
