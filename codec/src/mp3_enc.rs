//! MP3 renditions of exact, precomputed length, made chunk by chunk.
//!
//! LAME in CBR at 48 kHz makes every frame exactly `3 · kbps` bytes (no padding bit at
//! 48 kHz), and with the bit reservoir off no frame borrows bits from the one before, so a
//! chunk of frames can be encoded alone and put beside its neighbours. The file opens with an
//! Info frame written from known values (frame count, encoder delay, padding), which is what
//! lets decoders trim LAME's delay and the last frame's padding: gapless, and the exact sample
//! count. A chunk's encoder starts `PREROLL_FRAMES` early and its first frames are dropped, as
//! for Opus.
//!
//! LAME is Debian's `libmp3lame0`, linked dynamically: it is LGPL, and a shared library can be
//! replaced by the user without relinking Mixtape (see the README's licence section).

use std::ffi::{CStr, c_char, c_float, c_int, c_uchar, c_void};
use std::ops::Range;

/// Samples per MPEG-1 Layer III frame.
pub const FRAME: u64 = 1152;
/// LAME's encoder delay (`lame_get_encoder_delay`), written in the Info frame.
pub const ENCODER_DELAY: u64 = 576;
/// The decoder's delay every MP3 decoder adds (the synthesis filterbank).
const DECODER_DELAY: u64 = 529;
/// The fewest audio frames a rendition has (a track under 50 samples would need one).
const MIN_AUDIO_FRAMES: u64 = 2;
/// Frames per chunk (about two seconds, as for Opus).
pub const CHUNK_FRAMES: u64 = 84;
/// Frames a chunk's encoder runs before its first kept frame: the MDCT overlap and the
/// psychoacoustic model's state converge well within them (96 ms).
const PREROLL_FRAMES: u64 = 4;
/// Frames of real input fed past a chunk's last frame before LAME's flush pads with silence:
/// LAME's analysis of a frame reads 1,904 samples (`BLKSIZE + framesize − FFTOFFSET`).
const LOOKAHEAD_FRAMES: u64 = 2;
/// LAME's quality knob (0 best … 9 fastest); 3 is near its best at a third of the time of 2.
const QUALITY: c_int = 3;
const SAMPLE_RATE: u32 = 48_000;

#[allow(non_camel_case_types)]
type lame_t = *mut c_void;

// lame.h (3.100). Only what the encoder here needs.
#[link(name = "mp3lame")]
unsafe extern "C" {
    fn lame_init() -> lame_t;
    fn lame_close(gfp: lame_t) -> c_int;
    fn lame_set_num_channels(gfp: lame_t, n: c_int) -> c_int;
    fn lame_set_in_samplerate(gfp: lame_t, rate: c_int) -> c_int;
    fn lame_set_out_samplerate(gfp: lame_t, rate: c_int) -> c_int;
    fn lame_set_brate(gfp: lame_t, kbps: c_int) -> c_int;
    fn lame_set_VBR(gfp: lame_t, mode: c_int) -> c_int;
    fn lame_set_mode(gfp: lame_t, mode: c_int) -> c_int;
    fn lame_set_quality(gfp: lame_t, q: c_int) -> c_int;
    fn lame_set_bWriteVbrTag(gfp: lame_t, on: c_int) -> c_int;
    fn lame_set_disable_reservoir(gfp: lame_t, on: c_int) -> c_int;
    fn lame_set_write_id3tag_automatic(gfp: lame_t, on: c_int);
    fn lame_init_params(gfp: lame_t) -> c_int;
    fn lame_get_encoder_delay(gfp: lame_t) -> c_int;
    fn lame_get_lowpassfreq(gfp: lame_t) -> c_int;
    fn lame_encode_buffer_ieee_float(
        gfp: lame_t,
        left: *const c_float,
        right: *const c_float,
        samples: c_int,
        out: *mut c_uchar,
        out_size: c_int,
    ) -> c_int;
    fn lame_encode_flush(gfp: lame_t, out: *mut c_uchar, out_size: c_int) -> c_int;
    fn get_lame_short_version() -> *const c_char;
}

/// `vbr_mode` and `MPEG_mode` values of lame.h.
const VBR_OFF: c_int = 0;
const MODE_JOINT_STEREO: c_int = 1;
const MODE_MONO: c_int = 3;

/// Why a chunk could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum Mp3Error {
    #[error("LAME refused its settings ({0})")]
    Settings(&'static str),
    #[error("LAME failed to encode (code {0})")]
    Encode(c_int),
    #[error(
        "LAME reports an encoder delay of {0} samples, not {ENCODER_DELAY}: the profile ids need a new revision"
    )]
    Delay(c_int),
    #[error("LAME made a frame of {got} bytes where CBR promises {want}")]
    FrameSize { got: usize, want: usize },
    #[error("LAME made {got} frames where {want} were needed")]
    TooFewFrames { got: u64, want: u64 },
}

/// One configured LAME encoder, closed on drop.
struct Lame(lame_t);

impl Lame {
    fn new(channels: u8, kbps: u32) -> Result<Self, Mp3Error> {
        // SAFETY: lame_init has no preconditions; a null return is checked.
        let gfp = unsafe { lame_init() };
        if gfp.is_null() {
            return Err(Mp3Error::Settings("lame_init"));
        }
        let lame = Lame(gfp);
        let check = |code: c_int, what| {
            if code < 0 {
                Err(Mp3Error::Settings(what))
            } else {
                Ok(())
            }
        };
        // SAFETY: gfp is a live encoder owned by `lame`; setters only store values.
        unsafe {
            check(
                lame_set_num_channels(gfp, c_int::from(channels)),
                "channels",
            )?;
            check(
                lame_set_in_samplerate(gfp, SAMPLE_RATE as c_int),
                "input rate",
            )?;
            check(
                lame_set_out_samplerate(gfp, SAMPLE_RATE as c_int),
                "output rate",
            )?;
            check(lame_set_VBR(gfp, VBR_OFF), "CBR")?;
            check(lame_set_brate(gfp, kbps as c_int), "bitrate")?;
            let mode = if channels == 1 {
                MODE_MONO
            } else {
                MODE_JOINT_STEREO
            };
            check(lame_set_mode(gfp, mode), "mode")?;
            check(lame_set_quality(gfp, QUALITY), "quality")?;
            // The Info frame is ours (written first, from known values), and chunks must not
            // share bits through the reservoir.
            check(lame_set_bWriteVbrTag(gfp, 0), "no tag")?;
            check(lame_set_disable_reservoir(gfp, 1), "no reservoir")?;
            lame_set_write_id3tag_automatic(gfp, 0);
            check(lame_init_params(gfp), "init")?;
            let delay = lame_get_encoder_delay(gfp);
            if delay as u64 != ENCODER_DELAY {
                return Err(Mp3Error::Delay(delay));
            }
        }
        Ok(lame)
    }

    fn lowpass_hz(&self) -> i32 {
        // SAFETY: a getter on a live encoder.
        unsafe { lame_get_lowpassfreq(self.0) }
    }

    /// Encodes deinterleaved `left`/`right` (the same slice for mono) and flushes.
    fn encode_all(&mut self, left: &[f32], right: &[f32]) -> Result<Vec<u8>, Mp3Error> {
        let mut out = Vec::new();
        // LAME's bound for one call: 1.25 · samples + 7,200.
        let step = 48_000usize;
        let mut buf = vec![0u8; step * 5 / 4 + 7_200];
        for (l, r) in left.chunks(step).zip(right.chunks(step)) {
            // SAFETY: both inputs hold `l.len()` samples and `buf` is as large as LAME asks.
            let n = unsafe {
                lame_encode_buffer_ieee_float(
                    self.0,
                    l.as_ptr(),
                    r.as_ptr(),
                    l.len() as c_int,
                    buf.as_mut_ptr(),
                    buf.len() as c_int,
                )
            };
            if n < 0 {
                return Err(Mp3Error::Encode(n));
            }
            out.extend_from_slice(&buf[..n as usize]);
        }
        // SAFETY: as above; the flush writes at most 7,200 bytes.
        let n = unsafe { lame_encode_flush(self.0, buf.as_mut_ptr(), buf.len() as c_int) };
        if n < 0 {
            return Err(Mp3Error::Encode(n));
        }
        out.extend_from_slice(&buf[..n as usize]);
        Ok(out)
    }
}

impl Drop for Lame {
    fn drop(&mut self) {
        // SAFETY: the encoder is live and closed once.
        unsafe {
            lame_close(self.0);
        }
    }
}

/// LAME's version as its tags name it ("3.100").
fn lame_version() -> String {
    // SAFETY: LAME returns a pointer to a static NUL-terminated string.
    unsafe { CStr::from_ptr(get_lame_short_version()) }
        .to_string_lossy()
        .into_owned()
}

/// The shape of one MP3 rendition: everything that fixes its bytes' positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mp3Layout {
    pub bitrate_kbps: u32,
    /// Frames of audio at 48 kHz (what a gapless decoder gives).
    pub frames: u64,
    /// 1 or 2.
    pub channels: u8,
}

impl Mp3Layout {
    /// Bytes of every frame, the Info frame included.
    pub fn frame_len(&self) -> u64 {
        // 144 · bitrate / rate, an integer at 48 kHz for every bitrate.
        u64::from(self.bitrate_kbps) * 3
    }

    /// Audio frames (after the Info frame): every sample decoded, after both delays, and at
    /// least two: ffmpeg finds an MP3 stream by two frames in a row, and refuses a file of one.
    pub fn audio_frames(&self) -> u64 {
        (self.frames + ENCODER_DELAY + DECODER_DELAY)
            .div_ceil(FRAME)
            .max(MIN_AUDIO_FRAMES)
    }

    /// Samples of the last frames past the audio, as the Info frame states them.
    fn padding(&self) -> u64 {
        self.audio_frames() * FRAME - ENCODER_DELAY - self.frames
    }

    pub fn len(&self) -> u64 {
        (self.audio_frames() + 1) * self.frame_len()
    }

    pub fn chunks(&self) -> u64 {
        self.audio_frames().div_ceil(CHUNK_FRAMES)
    }

    fn chunk_frames(&self, c: u64) -> Range<u64> {
        let n = self.audio_frames();
        (c * CHUNK_FRAMES).min(n)..((c + 1) * CHUNK_FRAMES).min(n)
    }

    /// The bytes of chunk `c` (chunk 0 carries the Info frame too).
    pub fn chunk_span(&self, c: u64) -> Range<u64> {
        let frames = self.chunk_frames(c);
        let at = |f: u64| {
            if f == 0 {
                0
            } else {
                (f + 1) * self.frame_len()
            }
        };
        at(frames.start)..at(frames.end)
    }

    /// The input frames (48 kHz, in the source's timeline) chunk `c`'s encoder reads: frame
    /// `f` of the stream is LAME's `f`-th whatever sample it starts from, as long as that
    /// sample is a multiple of `FRAME`.
    pub fn chunk_input(&self, c: u64) -> Range<i64> {
        let frames = self.chunk_frames(c);
        let pre = PREROLL_FRAMES.min(frames.start);
        ((frames.start - pre) * FRAME) as i64..((frames.end + LOOKAHEAD_FRAMES) * FRAME) as i64
    }

    /// The output frame where chunk `c`'s audio starts (for measuring its join).
    pub fn chunk_start_frame(&self, c: u64) -> u64 {
        (self.chunk_frames(c).start * FRAME).saturating_sub(ENCODER_DELAY + DECODER_DELAY)
    }

    /// Encodes chunk `c` from `input`: the frames of [`chunk_input`](Self::chunk_input),
    /// interleaved, `channels` per frame (silence past the end of the audio).
    pub fn encode_chunk(&self, c: u64, input: &[f32]) -> Result<Vec<u8>, Mp3Error> {
        let frames = self.chunk_frames(c);
        let pre = PREROLL_FRAMES.min(frames.start);
        let mut lame = Lame::new(self.channels, self.bitrate_kbps)?;
        let encoded = self.frames_of(&mut lame, input)?;
        let mut out = if c == 0 {
            self.info_frame(lame.lowpass_hz())
        } else {
            Vec::new()
        };
        out.extend_from_slice(self.keep(&encoded, pre, frames.end - frames.start)?);
        Ok(out)
    }

    /// The whole file from one encoder that runs from start to end (no chunk grid): the
    /// reference the chunk joins are measured against. `input`: frames from 0 to the last
    /// chunk's input end.
    pub fn encode_continuous(&self, input: &[f32]) -> Result<Vec<u8>, Mp3Error> {
        let mut lame = Lame::new(self.channels, self.bitrate_kbps)?;
        let encoded = self.frames_of(&mut lame, input)?;
        let mut out = self.info_frame(lame.lowpass_hz());
        out.extend_from_slice(self.keep(&encoded, 0, self.audio_frames())?);
        Ok(out)
    }

    /// LAME's frames for `input`, each checked to be one CBR frame of this layout.
    fn frames_of(&self, lame: &mut Lame, input: &[f32]) -> Result<Vec<u8>, Mp3Error> {
        let ch = usize::from(self.channels);
        let left: Vec<f32> = input.iter().step_by(ch).copied().collect();
        let right: Vec<f32> = if ch == 1 {
            left.clone()
        } else {
            input.iter().skip(1).step_by(ch).copied().collect()
        };
        let bytes = lame.encode_all(&left, &right)?;
        let want = self.frame_len() as usize;
        for frame in bytes.chunks(want) {
            let got = frame_size(frame);
            if got != Some(want) {
                return Err(Mp3Error::FrameSize {
                    got: got.unwrap_or(frame.len()),
                    want,
                });
            }
        }
        Ok(bytes)
    }

    /// Frames `skip..skip + count` of `encoded`.
    fn keep<'a>(&self, encoded: &'a [u8], skip: u64, count: u64) -> Result<&'a [u8], Mp3Error> {
        let len = self.frame_len() as usize;
        let have = (encoded.len() / len) as u64;
        if have < skip + count {
            return Err(Mp3Error::TooFewFrames {
                got: have,
                want: skip + count,
            });
        }
        Ok(&encoded[skip as usize * len..(skip + count) as usize * len])
    }

    /// The 4-byte frame header of every frame of this layout (mode extension 0).
    fn header(&self) -> [u8; 4] {
        let index = BITRATES
            .iter()
            .position(|&b| b == self.bitrate_kbps)
            .expect("an MPEG-1 Layer III bitrate") as u8;
        // Channel mode: joint stereo (01) or mono (11); original bit set, as LAME's.
        let mode = if self.channels == 1 { 0b11 } else { 0b01 };
        // Sync, MPEG-1, Layer III, no CRC | bitrate, 48 kHz (01), no padding.
        [0xFF, 0xFB, (index << 4) | (0b01 << 2), (mode << 6) | 0b100]
    }

    /// The Info frame (Xing's CBR form) with its LAME extension: what decoders read the frame
    /// count, the delay and the padding from. Its layout is the one LAME's `VbrTag.c` writes.
    fn info_frame(&self, lowpass_hz: i32) -> Vec<u8> {
        let mut f = Vec::with_capacity(self.frame_len() as usize);
        f.extend_from_slice(&self.header());
        let side_info = if self.channels == 1 { 17 } else { 32 };
        f.resize(f.len() + side_info, 0);
        f.extend_from_slice(b"Info");
        // Frames, bytes, TOC and quality present.
        f.extend_from_slice(&0x0Fu32.to_be_bytes());
        f.extend_from_slice(&(self.audio_frames() as u32).to_be_bytes());
        f.extend_from_slice(&(self.len() as u32).to_be_bytes());
        // A CBR file's table of contents is a straight line.
        f.extend((0..100u32).map(|i| (i * 256 / 100) as u8));
        f.extend_from_slice(&(100 - QUALITY as u32 * 10).to_be_bytes());
        // The LAME extension.
        let mut encoder = format!("LAME{}", lame_version()).into_bytes();
        encoder.resize(9, b' ');
        f.extend_from_slice(&encoder);
        f.push(0x01); // tag revision 0, CBR
        f.push((lowpass_hz / 100).clamp(0, 255) as u8);
        f.extend_from_slice(&[0; 8]); // no ReplayGain: the catalog holds it
        f.push(0); // encoding flags, ATH type
        f.push(self.bitrate_kbps.min(255) as u8);
        let trim = (ENCODER_DELAY << 12) | self.padding();
        f.extend_from_slice(&(trim as u32).to_be_bytes()[1..]);
        f.push(0b10 << 6); // source rate 48 kHz
        f.push(0); // MP3 gain
        f.extend_from_slice(&[0; 2]); // preset, surround
        f.extend_from_slice(&(self.len() as u32).to_be_bytes());
        // The music CRC covers frames not yet encoded when this frame is sent; decoders do not
        // check it.
        f.extend_from_slice(&[0; 2]);
        let crc = crc16_arc(&f);
        f.extend_from_slice(&crc.to_be_bytes());
        f.resize(self.frame_len() as usize, 0);
        f
    }
}

/// MPEG-1 Layer III bitrates, by header index.
const BITRATES: [u32; 15] = [
    0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
];

/// The size a frame's header states, for MPEG-1 Layer III at 48 kHz without padding.
fn frame_size(frame: &[u8]) -> Option<usize> {
    let h = frame.get(..4)?;
    if h[0] != 0xFF || h[1] & 0xFE != 0xFA || (h[2] >> 2) & 0b11 != 0b01 || h[2] & 0b10 != 0 {
        return None;
    }
    let kbps = *BITRATES.get(usize::from(h[2] >> 4))?;
    Some(kbps as usize * 3)
}

/// CRC-16/ARC (polynomial 0x8005, reflected, initial 0): the LAME tag's CRC.
fn crc16_arc(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |crc, &b| {
        (0..8).fold(crc ^ u16::from(b), |c, _| {
            if c & 1 != 0 {
                (c >> 1) ^ 0xA001
            } else {
                c >> 1
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_arc_matches_its_check_value() {
        assert_eq!(crc16_arc(b"123456789"), 0xBB3D);
    }

    #[test]
    fn sizes_follow_from_the_frame_count() {
        let layout = |frames| Mp3Layout {
            bitrate_kbps: 128,
            frames,
            channels: 2,
        };
        // No audio still decodes: two frames (one would hold the delays; ffmpeg needs two).
        assert_eq!(layout(0).audio_frames(), 2);
        assert_eq!(layout(0).len(), 3 * 384);
        assert_eq!(layout(0).padding(), 2 * 1152 - 576);
        // ffmpeg's figure in the research note: 13,230,000 samples, 11,486 frames, padding
        // 1,296.
        let l = layout(13_230_000);
        assert_eq!(l.audio_frames(), 11_486);
        assert_eq!(l.padding(), 1_296);
        assert_eq!(l.chunk_span(0).start, 0);
        assert_eq!(l.chunk_span(l.chunks() - 1).end, l.len());
    }
}
