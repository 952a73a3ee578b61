//! Ogg Opus renditions of exact, precomputed length, made chunk by chunk.
//!
//! libopus in hard CBR makes every 20 ms packet exactly `bitrate / 400` bytes, and our pages
//! hold 50 packets (one second) each, so the file's size follows from the frame count alone.
//! A chunk is 2 pages, encoded by a fresh encoder started 4 packets (80 ms) early whose
//! first packets are dropped: its bytes depend only on the source, the profile and the chunk
//! number, so any chunk (the last one first, as an Ogg demuxer reads it) can be made alone.

use std::ops::Range;

use crate::ogg;

/// Samples per packet at 48 kHz (20 ms).
pub const FRAME: u64 = 960;
/// Packets per Ogg page (one second).
pub const PAGE_PACKETS: u64 = 50;
/// Packets per chunk (two seconds, two pages): a response waits for one chunk's encode before
/// its first byte (about 30 ms of a core at ×70 realtime), and each chunk pays 4 packets of
/// pre-roll (4 %).
pub const CHUNK_PACKETS: u64 = 100;
/// The encoder's lookahead at 48 kHz in the Audio application: the stream's pre-skip.
pub const PRE_SKIP: u64 = 312;
/// Packets a chunk's encoder runs before its first kept packet, for its state to converge.
const PREROLL_PACKETS: u64 = 4;
/// The OpusTags vendor string: constant, so the tags page (and the file) has a known size.
const VENDOR: &[u8] = b"Mixtape (libopus, hard CBR)";
const COMPLEXITY: i32 = 10;

/// Why a chunk could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("libopus: {0}")]
    Opus(#[from] opus::Error),
    #[error("libopus made a {got}-byte packet where hard CBR promises {want}")]
    PacketSize { got: usize, want: usize },
    #[error(
        "libopus reports a lookahead of {0} samples, not {PRE_SKIP}: the profile ids need a new revision"
    )]
    Lookahead(i32),
}

/// The shape of one Ogg Opus rendition: everything that fixes its bytes' positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusLayout {
    pub bitrate_kbps: u32,
    /// Frames of audio at 48 kHz (without pre-skip).
    pub frames: u64,
    /// 1 or 2.
    pub channels: u8,
    /// The source's sample rate, stated in OpusHead (informational).
    pub input_rate: u32,
    pub serial: u32,
}

impl OpusLayout {
    pub fn packet_len(&self) -> usize {
        (self.bitrate_kbps * 1000 / 400) as usize
    }

    /// Packets in the stream: enough for the pre-skip and every frame.
    pub fn packets(&self) -> u64 {
        (self.frames + PRE_SKIP).div_ceil(FRAME)
    }

    pub fn chunks(&self) -> u64 {
        self.packets().div_ceil(CHUNK_PACKETS)
    }

    fn head(&self) -> Vec<u8> {
        let mut h = b"OpusHead".to_vec();
        h.push(1);
        h.push(self.channels);
        h.extend_from_slice(&(PRE_SKIP as u16).to_le_bytes());
        h.extend_from_slice(&self.input_rate.to_le_bytes());
        // Output gain 0 (ReplayGain stays in the catalog), channel mapping family 0.
        h.extend_from_slice(&0i16.to_le_bytes());
        h.push(0);
        h
    }

    fn tags() -> Vec<u8> {
        let mut t = b"OpusTags".to_vec();
        t.extend_from_slice(&(VENDOR.len() as u32).to_le_bytes());
        t.extend_from_slice(VENDOR);
        t.extend_from_slice(&0u32.to_le_bytes());
        t
    }

    /// The two header pages.
    fn header_pages(&self) -> Vec<u8> {
        let mut out = Vec::new();
        ogg::write_page(
            &mut out,
            ogg::BOS,
            0,
            self.serial,
            0,
            &[self.head().as_slice()],
        );
        ogg::write_page(&mut out, 0, 0, self.serial, 1, &[Self::tags().as_slice()]);
        out
    }

    fn header_len(&self) -> u64 {
        (ogg::page_len([self.head().len()]) + ogg::page_len([Self::tags().len()])) as u64
    }

    fn pages_len(&self, packets: u64) -> u64 {
        let full = packets / PAGE_PACKETS;
        let rest = packets % PAGE_PACKETS;
        let page = |n: u64| ogg::page_len((0..n).map(|_| self.packet_len())) as u64;
        full * page(PAGE_PACKETS) + if rest > 0 { page(rest) } else { 0 }
    }

    /// The exact size of the file.
    pub fn len(&self) -> u64 {
        self.header_len() + self.pages_len(self.packets())
    }

    /// The bytes of chunk `c` (chunk 0 carries the header pages too).
    pub fn chunk_span(&self, c: u64) -> Range<u64> {
        let start_packet = (c * CHUNK_PACKETS).min(self.packets());
        let end_packet = ((c + 1) * CHUNK_PACKETS).min(self.packets());
        let at = |p: u64| {
            if p == 0 {
                0
            } else {
                self.header_len() + self.pages_len(p)
            }
        };
        at(start_packet)..at(end_packet)
    }

    /// The input frames (48 kHz, in the source's timeline) chunk `c`'s encoder reads.
    pub fn chunk_input(&self, c: u64) -> Range<i64> {
        let p0 = c * CHUNK_PACKETS;
        let p1 = ((c + 1) * CHUNK_PACKETS).min(self.packets());
        let pre = PREROLL_PACKETS.min(p0);
        ((p0 - pre) * FRAME) as i64..(p1 * FRAME) as i64
    }

    /// The output frame where chunk `c`'s audio starts (for measuring its join).
    pub fn chunk_start_frame(&self, c: u64) -> u64 {
        (c * CHUNK_PACKETS * FRAME).saturating_sub(PRE_SKIP)
    }

    /// Encodes chunk `c` from `input`: the frames of [`chunk_input`](Self::chunk_input),
    /// interleaved, `channels` per frame (silence past the end of the audio).
    pub fn encode_chunk(&self, c: u64, input: &[f32]) -> Result<Vec<u8>, EncodeError> {
        let p0 = c * CHUNK_PACKETS;
        let pre = PREROLL_PACKETS.min(p0);
        let packets = self.encode_packets(pre, input)?;
        Ok(self.paginate(c == 0, p0, &packets))
    }

    /// The whole file from one encoder that runs from start to end (no chunk grid): the
    /// reference the chunk joins are measured against. `input`: frames from 0 to
    /// `packets() · FRAME`.
    pub fn encode_continuous(&self, input: &[f32]) -> Result<Vec<u8>, EncodeError> {
        let packets = self.encode_packets(0, input)?;
        Ok(self.paginate(true, 0, &packets))
    }

    /// One fresh encoder over `input`, 20 ms at a time; the first `pre` packets are dropped.
    fn encode_packets(&self, pre: u64, input: &[f32]) -> Result<Vec<Vec<u8>>, EncodeError> {
        let ch = usize::from(self.channels);
        let mut enc = opus::Encoder::new(
            48_000,
            if ch == 1 {
                opus::Channels::Mono
            } else {
                opus::Channels::Stereo
            },
            opus::Application::Audio,
        )?;
        enc.set_bitrate(opus::Bitrate::Bits(self.bitrate_kbps as i32 * 1000))?;
        enc.set_vbr(false)?;
        enc.set_complexity(COMPLEXITY)?;
        let lookahead = enc.get_lookahead()?;
        if lookahead as u64 != PRE_SKIP {
            return Err(EncodeError::Lookahead(lookahead));
        }
        let want = self.packet_len();
        let frame = FRAME as usize * ch;
        let mut packets = Vec::with_capacity(input.len() / frame.max(1) + 1);
        for (i, pcm) in input.chunks(frame).enumerate() {
            let mut buf = vec![0u8; want];
            let n = if pcm.len() == frame {
                enc.encode_float(pcm, &mut buf)?
            } else {
                let mut padded = pcm.to_vec();
                padded.resize(frame, 0.0);
                enc.encode_float(&padded, &mut buf)?
            };
            if (i as u64) < pre {
                continue;
            }
            if n < want {
                // CBR pads on its own; should it not, Opus padding keeps the packet valid.
                opus::packet::pad(&mut buf, n)?;
            } else if n > want {
                return Err(EncodeError::PacketSize { got: n, want });
            }
            packets.push(buf);
        }
        Ok(packets)
    }

    /// Ogg pages for `packets`, the first of which is packet `p0` of the stream.
    fn paginate(&self, with_header: bool, p0: u64, packets: &[Vec<u8>]) -> Vec<u8> {
        let mut out = if with_header {
            self.header_pages()
        } else {
            Vec::new()
        };
        let last_page = (self.packets() - 1) / PAGE_PACKETS;
        for (k, page) in packets.chunks(PAGE_PACKETS as usize).enumerate() {
            let page_no = p0 / PAGE_PACKETS + k as u64;
            let end_packet = page_no * PAGE_PACKETS + page.len() as u64;
            let (flags, granule) = if page_no == last_page {
                // The end granule trims the last packet's padding (RFC 7845 §4).
                (ogg::EOS, PRE_SKIP + self.frames)
            } else {
                (0, end_packet * FRAME)
            };
            let refs: Vec<&[u8]> = page.iter().map(Vec::as_slice).collect();
            ogg::write_page(
                &mut out,
                flags,
                granule,
                self.serial,
                (page_no + 2) as u32,
                &refs,
            );
        }
        out
    }
}
