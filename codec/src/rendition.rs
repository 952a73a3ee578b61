//! A rendition: a source track in a profile, planned before any encoding (its exact size and
//! chunk grid) and produced chunk by chunk, each chunk from a freshly opened decoder.

use std::ops::Range;

use symphonia::core::audio::Channels;

use crate::decode::{DecodeError, TrackDecoder};
#[cfg(feature = "mp3")]
use crate::mp3_enc::{Mp3Error, Mp3Layout};
use crate::opus_enc::{EncodeError, OpusLayout};
use crate::profile::{Codec, Profile};
use crate::resample::{self, OUT_RATE, Resampler};

#[derive(Debug, thiserror::Error)]
pub enum RenditionError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("cannot encode: {0}")]
    Encode(#[from] EncodeError),
    #[cfg(feature = "mp3")]
    #[error("cannot encode: {0}")]
    Mp3(#[from] Mp3Error),
    #[error("this build cannot encode {0} (the `mp3` feature is off)")]
    Unsupported(&'static str),
    #[error("no chunk {0} in this rendition")]
    NoSuchChunk(u64),
}

/// What a rendition needs to know of its source, read once (cheap for lossless sources; a
/// lossy source is decoded once to count its frames).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceInfo {
    pub rate: u32,
    pub channels: u16,
    pub layout: Option<Channels>,
    /// Frames a full decode gives, at `rate`.
    pub frames: u64,
    /// Frames at the start left out of the rendition (a `timeOffset` stream starts later).
    pub start: u64,
}

impl SourceInfo {
    /// Reads the source's format and length. `open` opens a fresh decoder on it (called
    /// twice for a lossy source: once to read the header, once to count).
    pub fn probe(
        open: &dyn Fn() -> Result<TrackDecoder, DecodeError>,
    ) -> Result<Self, RenditionError> {
        let mut dec = open()?;
        let frames = match dec.stated_frames() {
            Some(n) => n,
            None => dec.count_frames()?,
        };
        let spec = dec.spec();
        if spec.channels == 0 {
            return Err(DecodeError::Decode("no channels".into()).into());
        }
        Ok(Self {
            rate: spec.rate,
            channels: spec.channels,
            layout: dec.layout(),
            frames,
            start: 0,
        })
    }

    /// The same source from `ms` on (clamped to its end).
    pub fn from_ms(mut self, ms: u64) -> Self {
        let start = u128::from(ms) * u128::from(self.rate) / 1000;
        self.start = (start as u64).min(self.frames);
        self
    }

    /// Frames of the rendition's part of the source, at `rate`.
    pub fn kept_frames(&self) -> u64 {
        self.frames - self.start.min(self.frames)
    }

    /// Frames at 48 kHz.
    pub fn out_frames(&self) -> u64 {
        resample::out_frames(self.kept_frames(), self.rate)
    }

    /// Renditions are mono for a mono source, stereo otherwise (downmixed).
    pub fn out_channels(&self) -> u16 {
        self.channels.clamp(1, 2)
    }
}

/// A planned rendition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub profile: &'static Profile,
    pub source: SourceInfo,
    layout: Layout,
}

/// The byte layout of a rendition, by codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Opus(OpusLayout),
    #[cfg(feature = "mp3")]
    Mp3(Mp3Layout),
}

impl Plan {
    /// `serial`: the Ogg stream serial (derive it from the content hash: it is in every page).
    pub fn new(
        profile: &'static Profile,
        source: SourceInfo,
        serial: u32,
    ) -> Result<Self, RenditionError> {
        let layout = match profile.codec {
            Codec::Opus => Layout::Opus(OpusLayout {
                bitrate_kbps: profile.bitrate_kbps,
                frames: source.out_frames(),
                channels: source.out_channels() as u8,
                input_rate: source.rate,
                serial,
            }),
            #[cfg(feature = "mp3")]
            Codec::Mp3 => Layout::Mp3(Mp3Layout {
                bitrate_kbps: profile.bitrate_kbps,
                frames: source.out_frames(),
                channels: source.out_channels() as u8,
            }),
            #[cfg(not(feature = "mp3"))]
            Codec::Mp3 => return Err(RenditionError::Unsupported("mp3")),
        };
        Ok(Self {
            profile,
            source,
            layout,
        })
    }

    /// The exact size in bytes.
    pub fn len(&self) -> u64 {
        match &self.layout {
            Layout::Opus(l) => l.len(),
            #[cfg(feature = "mp3")]
            Layout::Mp3(l) => l.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Decoded frames at 48 kHz (what a gapless decoder gives).
    pub fn frames(&self) -> u64 {
        self.source.out_frames()
    }

    pub fn duration_ms(&self) -> u64 {
        self.frames() * 1000 / u64::from(OUT_RATE)
    }

    pub fn chunks(&self) -> u64 {
        match &self.layout {
            Layout::Opus(l) => l.chunks(),
            #[cfg(feature = "mp3")]
            Layout::Mp3(l) => l.chunks(),
        }
    }

    /// The bytes chunk `c` occupies.
    pub fn chunk_span(&self, c: u64) -> Range<u64> {
        match &self.layout {
            Layout::Opus(l) => l.chunk_span(c),
            #[cfg(feature = "mp3")]
            Layout::Mp3(l) => l.chunk_span(c),
        }
    }

    /// The decoded frame (48 kHz) where chunk `c`'s audio starts, about: where its join is.
    pub fn chunk_start_frame(&self, c: u64) -> u64 {
        match &self.layout {
            Layout::Opus(l) => l.chunk_start_frame(c),
            #[cfg(feature = "mp3")]
            Layout::Mp3(l) => l.chunk_start_frame(c),
        }
    }

    /// The chunk holding byte `offset` (the last one for offsets past the end).
    pub fn chunk_at(&self, offset: u64) -> u64 {
        // Chunks after the first are of equal size but the last: a division, then a check.
        let first = self.chunk_span(0);
        if offset < first.end || self.chunks() == 1 {
            return 0;
        }
        let size = self.chunk_span(1).end - first.end;
        (1 + (offset - first.end) / size).min(self.chunks() - 1)
    }

    fn chunk_input(&self, c: u64) -> Range<i64> {
        match &self.layout {
            Layout::Opus(l) => l.chunk_input(c),
            #[cfg(feature = "mp3")]
            Layout::Mp3(l) => l.chunk_input(c),
        }
    }

    /// Encodes chunk `c`, decoding what it needs from a decoder `open` makes.
    pub fn encode_chunk(
        &self,
        c: u64,
        open: &dyn Fn() -> Result<TrackDecoder, DecodeError>,
    ) -> Result<Vec<u8>, RenditionError> {
        if c >= self.chunks() {
            return Err(RenditionError::NoSuchChunk(c));
        }
        let pcm = read_pcm(&self.source, open, self.chunk_input(c))?;
        Ok(match &self.layout {
            Layout::Opus(l) => l.encode_chunk(c, &pcm)?,
            #[cfg(feature = "mp3")]
            Layout::Mp3(l) => l.encode_chunk(c, &pcm)?,
        })
    }

    /// The whole rendition from one continuous encoder (no chunk grid, same header and pages):
    /// the reference the chunk joins are measured against, never served.
    pub fn encode_continuous(
        &self,
        open: &dyn Fn() -> Result<TrackDecoder, DecodeError>,
    ) -> Result<Vec<u8>, RenditionError> {
        let end = self.chunk_input(self.chunks() - 1).end;
        let pcm = read_pcm(&self.source, open, 0..end)?;
        Ok(match &self.layout {
            Layout::Opus(l) => l.encode_continuous(&pcm)?,
            #[cfg(feature = "mp3")]
            Layout::Mp3(l) => l.encode_continuous(&pcm)?,
        })
    }
}

/// Frames `span` of the rendition's part of the source at 48 kHz, downmixed to the rendition's
/// channels; silence outside it (before its start, past its stated length).
pub fn read_pcm(
    source: &SourceInfo,
    open: &dyn Fn() -> Result<TrackDecoder, DecodeError>,
    span: Range<i64>,
) -> Result<Vec<f32>, RenditionError> {
    let resampler = Resampler::for_rate(source.rate);
    let out_frames = source.out_frames() as i64;
    // Output past the end is silence by contract, whatever the resampler's tail would say.
    let live = span.start.max(0)..span.end.min(out_frames);
    let out_ch = usize::from(source.out_channels());
    let mut out = vec![0.0f32; (span.end - span.start).max(0) as usize * out_ch];
    if live.start >= live.end {
        return Ok(out);
    }
    let (in_start, in_end) = resampler.input_span(live.start, live.end);
    // Positions relative to the kept part; decoded from `source.start` on.
    let (from, to) = (
        in_start.max(0) as u64,
        (in_end.max(0) as u64).min(source.kept_frames()),
    );
    let src_ch = usize::from(source.channels);
    let mut input = Vec::with_capacity((to.saturating_sub(from)) as usize * src_ch);
    if from < to {
        let mut dec = open()?;
        if source.start + from > 0 {
            dec.seek_frame(source.start + from)?;
        }
        let want = (to - from) as usize * src_ch;
        while input.len() < want {
            match dec.next_chunk()? {
                Some(chunk) => input.extend_from_slice(&chunk),
                None => break,
            }
        }
        input.truncate(want);
        if usize::from(dec.spec().channels) != src_ch {
            return Err(DecodeError::Decode("the channel count changed".into()).into());
        }
    }
    let matrix = resample::downmix_matrix(source.channels, source.layout);
    let mixed = resample::downmix(&input, &matrix);
    let resampled = resampler.process(
        &mixed,
        from as i64,
        out_ch,
        live.start,
        (live.end - live.start) as usize,
    );
    let at = (live.start - span.start) as usize * out_ch;
    out[at..at + resampled.len()].copy_from_slice(&resampled);
    Ok(out)
}
