//! Decoding: symphonia's demuxers and decoders (plus libopus, see `opus_dec`) turn a
//! `MediaSource` into interleaved `f32` chunks, gapless: the Opus pre-skip and end granule, the
//! MP3 encoder delay and padding, and the MP4 edit (see `mp4_edit`) are trimmed.

use std::sync::OnceLock;

use symphonia::core::audio::{Channels, SampleBuffer};
use symphonia::core::codecs::{
    CODEC_TYPE_AAC, CODEC_TYPE_FLAC, CODEC_TYPE_MP3, CODEC_TYPE_NULL, CODEC_TYPE_OPUS,
    CODEC_TYPE_VORBIS, CodecRegistry, Decoder, DecoderOptions,
};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader, SeekMode, SeekTo};
use symphonia::core::io::{MediaSource, MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;
use symphonia::core::units::{Time, TimeBase};

use crate::mp4_edit;
use crate::opus_dec::OpusDecoder;

/// Frames gathered before a chunk is handed out (~0.1 s).
const CHUNK_FRAMES: usize = 4096;

/// Why a source cannot be opened or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("cannot open the audio: {0}")]
    Open(String),
    #[error("cannot decode the audio: {0}")]
    Decode(String),
}

/// The format of decoded PCM: interleaved `f32` at `rate`, `channels` per frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcmSpec {
    pub rate: u32,
    pub channels: u16,
}

impl PcmSpec {
    pub fn frames_to_ms(&self, frames: u64) -> u64 {
        frames.saturating_mul(1000) / u64::from(self.rate.max(1))
    }

    pub fn ms_to_frames(&self, ms: u64) -> u64 {
        ms.saturating_mul(u64::from(self.rate)) / 1000
    }
}

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
pub struct TrackDecoder {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track_id: u32,
    time_base: Option<TimeBase>,
    spec: PcmSpec,
    layout: Option<Channels>,
    lossless: bool,
    /// Frames of the track as the container states them (after gapless trimming), if it does.
    stated_frames: Option<u64>,
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
/// An MP3 frame may take its data from the frames before (the bit reservoir, up to 511 bytes)
/// and overlaps the one before: the first frames after a seek decode wrong or not at all.
const MP3_PREROLL: u64 = 2 * 1_152;
/// A Vorbis block overlaps the one before, and the first packet after a reset gives nothing:
/// two long blocks back.
const VORBIS_PREROLL: u64 = 2 * 2_048;

impl TrackDecoder {
    /// Probes `source` (`ext` is a hint such as `flac` or `opus`) with gapless trimming on.
    pub fn open(mut source: Box<dyn MediaSource>, ext: &str) -> Result<Self, DecodeError> {
        // Read before symphonia takes the source; only files that start with `ftyp` are
        // looked into, and the source is rewound either way.
        let edit = if source.is_seekable() {
            mp4_edit::read_edit(&mut *source)
                .map_err(|e| DecodeError::Open(format!("rewinding the file: {e}")))?
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
            .map_err(|e| DecodeError::Decode(format!("unrecognised audio: {e}")))?;
        let format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| DecodeError::Decode("no audio track".into()))?;
        let params = track.codec_params.clone();
        let decoder = codecs()
            .make(&params, &DecoderOptions::default())
            .map_err(|e| DecodeError::Decode(format!("no decoder: {e}")))?;
        let rate = params
            .sample_rate
            .ok_or_else(|| DecodeError::Decode("unknown sample rate".into()))?;
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
            CODEC_TYPE_MP3 => MP3_PREROLL,
            CODEC_TYPE_VORBIS => VORBIS_PREROLL,
            _ => 0,
        };
        // Only lossless containers state a length that every decoder agrees with to the frame
        // (FLAC's STREAMINFO, WAV's data size); lossy ones are counted by decoding.
        let lossless = params.codec == CODEC_TYPE_FLAC
            || symphonia::default::get_codecs()
                .get_codec(params.codec)
                .is_some_and(|d| d.short_name.starts_with("pcm_"));
        let stated_frames = if lossless { params.n_frames } else { None };
        Ok(Self {
            lead,
            end,
            preroll,
            track_id: track.id,
            time_base: params.time_base,
            layout: params.channels,
            lossless,
            stated_frames,
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

    /// The channel layout, when the container states it (the order of interleaved samples is
    /// the order of its bits).
    pub fn layout(&self) -> Option<Channels> {
        self.layout
    }

    /// Whether the source is lossless (FLAC, PCM): then its decode is exact and
    /// [`stated_frames`](Self::stated_frames) is known.
    pub fn is_lossless(&self) -> bool {
        self.lossless
    }

    /// The number of frames a full decode gives, when the container states it exactly.
    pub fn stated_frames(&self) -> Option<u64> {
        self.stated_frames
    }

    /// Counts the frames of the whole track by decoding it (from where the decoder stands:
    /// call on a freshly opened one).
    pub fn count_frames(&mut self) -> Result<u64, DecodeError> {
        let ch = u64::from(self.spec.channels.max(1));
        let mut frames = 0u64;
        while let Some(chunk) = self.next_chunk()? {
            // The channel count may have come with the first packet.
            let ch = u64::from(self.spec.channels).max(ch);
            frames += chunk.len() as u64 / ch;
        }
        Ok(frames)
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
    pub fn seek(&mut self, ms: u64) -> Result<u64, DecodeError> {
        let target = self.spec.ms_to_frames(ms);
        self.seek_frame(target)?;
        Ok(target)
    }

    /// Seeks so that the next frame out is frame `target` of the track.
    pub fn seek_frame(&mut self, target: u64) -> Result<(), DecodeError> {
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
                Ok(())
            }
            Err(SymError::SeekError(_)) => {
                // Past the end (or not seekable): nothing left to play from here.
                self.skip_until = u64::MAX;
                Ok(())
            }
            Err(e) => Err(DecodeError::Decode(format!("seek: {e}"))),
        }
    }

    /// Decodes at least `CHUNK_FRAMES` frames (fewer at the end); `None` at the end.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<f32>>, DecodeError> {
        let mut out: Vec<f32> = Vec::new();
        while out.len() < CHUNK_FRAMES * usize::from(self.spec.channels.max(1)) {
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    break;
                }
                Err(SymError::ResetRequired) => break,
                Err(e) => return Err(DecodeError::Decode(e.to_string())),
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
                Err(e) => return Err(DecodeError::Decode(e.to_string())),
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
                self.layout = Some(spec.channels);
            }
            if channels != self.spec.channels || spec.rate != self.spec.rate {
                return Err(DecodeError::Decode(
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
