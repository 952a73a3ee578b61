//! The MP4 edit of an audio track (`moov/trak/edts/elst`, else iTunes' `iTunSMPB` tag): how
//! many frames of encoder priming to drop at the start and how many to keep after them.
//! symphonia 0.5's isomp4 demuxer ignores both, so without this AAC in MP4 is not gapless.
//!
//! Read from the source before symphonia probes it, with every size checked: anything odd
//! gives `None` and the track plays untrimmed.

use std::io::{Read, Seek, SeekFrom};

/// The most of `moov` we read into memory: a bigger claim is refused, not allocated.
const MAX_MOOV: u64 = 64 << 20;
/// Top-level boxes looked at before giving up on finding `moov`.
const MAX_TOP_LEVEL: usize = 1024;

/// What to play of the first audio track, in `timescale` units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Edit {
    /// The index of the track among the file's `trak`s (symphonia's track id).
    pub track: usize,
    /// Units at the start to drop (the encoder priming).
    pub skip: u64,
    /// Units to keep after them; `None`: to the end.
    pub keep: Option<u64>,
    /// Units per second; `None`: frames at the decoded sample rate (`iTunSMPB` counts those).
    pub timescale: Option<u32>,
}

impl Edit {
    /// `(skip, keep)` in frames at `rate`.
    pub fn frames(&self, rate: u32) -> (u64, Option<u64>) {
        let to_frames = |units: u64| match self.timescale {
            Some(ts) if ts != rate => rescale(units, u64::from(rate), u64::from(ts)),
            _ => Some(units),
        };
        (
            to_frames(self.skip).unwrap_or(0),
            self.keep.and_then(to_frames),
        )
    }
}

/// Reads the edit of the first audio track, then seeks `src` back to its start. `Ok(None)`
/// when there is none (or the file is not MP4, or is malformed); an error only when the seek
/// back fails.
pub(crate) fn read_edit<R: Read + Seek + ?Sized>(src: &mut R) -> std::io::Result<Option<Edit>> {
    let edit = match find_moov(src) {
        Ok(Some(moov)) => parse_moov(&moov),
        Ok(None) => None,
        Err(e) => {
            tracing::debug!(error = %e, "no MP4 edit: the file could not be read");
            None
        }
    };
    src.seek(SeekFrom::Start(0))?;
    Ok(edit)
}

/// The body of the top-level `moov`, if the file starts with `ftyp` and has one of sane size.
fn find_moov<R: Read + Seek + ?Sized>(src: &mut R) -> std::io::Result<Option<Vec<u8>>> {
    src.seek(SeekFrom::Start(0))?;
    let mut pos = 0u64;
    for i in 0..MAX_TOP_LEVEL {
        let mut head = [0u8; 8];
        if !read_full(src, &mut head)? {
            return Ok(None);
        }
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let kind = [head[4], head[5], head[6], head[7]];
        if i == 0 && &kind != b"ftyp" {
            return Ok(None);
        }
        let (size, header) = match size32 {
            0 => (None, 8),
            1 => {
                let mut large = [0u8; 8];
                if !read_full(src, &mut large)? {
                    return Ok(None);
                }
                (Some(u64::from_be_bytes(large)), 16)
            }
            n => (Some(u64::from(n)), 8),
        };
        if size.is_some_and(|s| s < header) {
            return Ok(None);
        }
        let body = size.map(|s| s - header);
        if &kind == b"moov" {
            if body.is_some_and(|b| b > MAX_MOOV) {
                tracing::debug!(size = body, "no MP4 edit: moov is implausibly large");
                return Ok(None);
            }
            let want = body.unwrap_or(MAX_MOOV + 1);
            let mut moov = Vec::new();
            Read::take(&mut *src, want).read_to_end(&mut moov)?;
            let complete = match body {
                Some(b) => moov.len() as u64 == b,
                None => moov.len() as u64 <= MAX_MOOV,
            };
            return Ok(complete.then_some(moov));
        }
        // Anything else (`mdat` above all) is skipped; a box to the end leaves no `moov`.
        let Some(size) = size else {
            return Ok(None);
        };
        let Some(next) = pos.checked_add(size) else {
            return Ok(None);
        };
        if src.seek(SeekFrom::Start(next))? != next {
            return Ok(None);
        }
        pos = next;
    }
    Ok(None)
}

/// Fills `buf`; `false` at the end of the source before it is full.
fn read_full<R: Read + ?Sized>(src: &mut R, buf: &mut [u8]) -> std::io::Result<bool> {
    match src.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

/// The child boxes of `data` as `(type, body)`, or `None` if one overruns it.
fn children(data: &[u8]) -> Option<Vec<([u8; 4], &[u8])>> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let size32 = be_u32(rest, 0)?;
        let kind: [u8; 4] = rest.get(4..8)?.try_into().ok()?;
        let (size, header) = match size32 {
            0 => (rest.len() as u64, 8u64),
            1 => (be_u64(rest, 8)?, 16),
            n => (u64::from(n), 8),
        };
        if size < header || size > rest.len() as u64 {
            return None;
        }
        // Both fit in `rest.len()`, so in usize.
        let (size, header) = (size as usize, header as usize);
        out.push((kind, &rest[header..size]));
        rest = &rest[size..];
    }
    Some(out)
}

fn child<'a>(boxes: &[([u8; 4], &'a [u8])], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes.iter().find(|(k, _)| k == kind).map(|(_, b)| *b)
}

fn be_u16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(d.get(at..at + 2)?.try_into().ok()?))
}

fn be_u32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(d: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(d.get(at..at + 8)?.try_into().ok()?))
}

/// `value * numer / denom`, rounded to nearest; `None` on a zero `denom` or overflow.
fn rescale(value: u64, numer: u64, denom: u64) -> Option<u64> {
    if denom == 0 {
        return None;
    }
    let (v, n, d) = (u128::from(value), u128::from(numer), u128::from(denom));
    u64::try_from((v * n + d / 2) / d).ok()
}

fn parse_moov(moov: &[u8]) -> Option<Edit> {
    let boxes = children(moov)?;
    let movie_timescale = timescale_of(child(&boxes, b"mvhd")?, 12, 20)?;
    let traks = boxes.iter().filter(|(k, _)| k == b"trak");
    let (track, trak) = traks.enumerate().find(|(_, (_, t))| is_audio(t))?;
    let trak = children(trak.1)?;
    let mdia = children(child(&trak, b"mdia")?)?;
    let mdhd = child(&mdia, b"mdhd")?;
    let media_timescale = timescale_of(mdhd, 12, 20)?;
    let media_duration = match mdhd.first()? {
        0 => u64::from(be_u32(mdhd, 16)?),
        1 => be_u64(mdhd, 24)?,
        _ => return None,
    };
    let edit = match child(&trak, b"edts").and_then(first_edit) {
        Some((skip, seg)) => Edit {
            track,
            skip,
            keep: seg.and_then(|s| rescale(s, media_timescale.into(), movie_timescale.into())),
            timescale: Some(media_timescale),
        },
        None => {
            let (skip, keep) = itunsmpb(child(&boxes, b"udta")?)?;
            Edit {
                track,
                skip,
                keep: Some(keep),
                timescale: None,
            }
        }
    };
    tracing::trace!(?edit, movie_timescale, media_duration, "MP4 edit");
    // An edit that starts past the media, or keeps nothing, is not one we trust.
    if (media_duration > 0 && edit.timescale.is_some() && edit.skip >= media_duration)
        || edit.keep == Some(0)
    {
        tracing::debug!(?edit, media_duration, "ignoring an implausible MP4 edit");
        return None;
    }
    Some(edit)
}

/// The timescale of an `mvhd` or `mdhd` (version 0: at `v0`, version 1: at `v1`), non-zero.
fn timescale_of(full_box: &[u8], v0: usize, v1: usize) -> Option<u32> {
    let ts = match full_box.first()? {
        0 => be_u32(full_box, v0)?,
        1 => be_u32(full_box, v1)?,
        _ => return None,
    };
    (ts > 0).then_some(ts)
}

fn is_audio(trak: &[u8]) -> bool {
    let handler = || -> Option<bool> {
        let trak = children(trak)?;
        let mdia = children(child(&trak, b"mdia")?)?;
        let hdlr = child(&mdia, b"hdlr")?;
        Some(hdlr.get(8..12)? == b"soun")
    };
    handler().unwrap_or(false)
}

/// The first non-empty edit of an `edts`: its `media_time` (media timescale) and its
/// `segment_duration` (movie timescale; `None` when 0, which fragmented files use for "all").
fn first_edit(edts: &[u8]) -> Option<(u64, Option<u64>)> {
    let boxes = children(edts)?;
    let elst = child(&boxes, b"elst")?;
    let version = *elst.first()?;
    let entry_len = match version {
        0 => 12,
        1 => 20,
        _ => return None,
    };
    let count = be_u32(elst, 4)? as usize;
    let entries = elst.get(8..)?;
    if count.checked_mul(entry_len)? > entries.len() {
        return None;
    }
    for e in entries.chunks_exact(entry_len).take(count) {
        let (duration, media_time, rate_at) = if version == 0 {
            (u64::from(be_u32(e, 0)?), i64::from(be_u32(e, 4)? as i32), 8)
        } else {
            (be_u64(e, 0)?, be_u64(e, 8)? as i64, 16)
        };
        if media_time == -1 {
            // An empty edit (a delay before the media): not something a player trims.
            continue;
        }
        let rate = be_u16(e, rate_at)?;
        if media_time < 0 || rate != 1 {
            return None;
        }
        return Some((media_time as u64, (duration > 0).then_some(duration)));
    }
    None
}

/// iTunes' gapless tag in `udta/meta/ilst/----` named `iTunSMPB`: `(delay, total samples)`.
fn itunsmpb(udta: &[u8]) -> Option<(u64, u64)> {
    let udta = children(udta)?;
    let meta = child(&udta, b"meta")?;
    // ISO's `meta` is a full box (4 bytes of version and flags); QuickTime's is not.
    let meta = if meta.get(4..8) == Some(&b"hdlr"[..]) {
        meta
    } else {
        meta.get(4..)?
    };
    let meta = children(meta)?;
    let ilst = children(child(&meta, b"ilst")?)?;
    let text = ilst
        .iter()
        .filter(|(k, _)| k == b"----")
        .find_map(|(_, tag)| {
            let parts = children(tag)?;
            let name = child(&parts, b"name")?.get(4..)?;
            if name != b"iTunSMPB" {
                return None;
            }
            // `data`: a type and a locale, then the text.
            child(&parts, b"data")?.get(8..)
        })?;
    let text = std::str::from_utf8(text).ok()?;
    let mut fields = text.split_ascii_whitespace();
    let _reserved = fields.next()?;
    let delay = u64::from_str_radix(fields.next()?, 16).ok()?;
    let _padding = u64::from_str_radix(fields.next()?, 16).ok()?;
    let total = u64::from_str_radix(fields.next()?, 16).ok()?;
    Some((delay, total))
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::io::Cursor;

    use super::*;
    use crate::test_support::{demo_files, ffprobe_duration_ts};

    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    /// A full box: version, zero flags, body.
    fn full(kind: &[u8; 4], version: u8, body: &[u8]) -> Vec<u8> {
        let mut b = vec![version, 0, 0, 0];
        b.extend_from_slice(body);
        bx(kind, &b)
    }

    fn ftyp() -> Vec<u8> {
        bx(b"ftyp", b"M4A \0\0\x02\0M4A isom")
    }

    /// `mvhd` or `mdhd`, version 1: creation, modification, timescale, duration.
    fn header_v1(kind: &[u8; 4], timescale: u32, duration: u64) -> Vec<u8> {
        let mut b = vec![0u8; 16];
        b.extend_from_slice(&timescale.to_be_bytes());
        b.extend_from_slice(&duration.to_be_bytes());
        b.extend_from_slice(&[0u8; 4]);
        full(kind, 1, &b)
    }

    fn hdlr(kind: &[u8; 4]) -> Vec<u8> {
        let mut b = vec![0u8; 4];
        b.extend_from_slice(kind);
        b.extend_from_slice(&[0u8; 13]);
        full(b"hdlr", 0, &b)
    }

    fn elst_v1(entries: &[(u64, i64)]) -> Vec<u8> {
        let mut b = (entries.len() as u32).to_be_bytes().to_vec();
        for &(duration, media_time) in entries {
            b.extend_from_slice(&duration.to_be_bytes());
            b.extend_from_slice(&media_time.to_be_bytes());
            b.extend_from_slice(&[0, 1, 0, 0]);
        }
        bx(b"edts", &full(b"elst", 1, &b))
    }

    fn trak(handler: &[u8; 4], edts: Option<Vec<u8>>, timescale: u32, duration: u64) -> Vec<u8> {
        let mdia = [header_v1(b"mdhd", timescale, duration), hdlr(handler)].concat();
        let mut body = edts.unwrap_or_default();
        body.extend(bx(b"mdia", &mdia));
        bx(b"trak", &body)
    }

    fn smpb_udta(text: &str) -> Vec<u8> {
        let mut data = vec![0, 0, 0, 1, 0, 0, 0, 0];
        data.extend_from_slice(text.as_bytes());
        let tag = [
            full(b"mean", 0, b"com.apple.iTunes"),
            full(b"name", 0, b"iTunSMPB"),
            bx(b"data", &data),
        ]
        .concat();
        let meta = [hdlr(b"mdir"), bx(b"ilst", &bx(b"----", &tag))].concat();
        bx(b"udta", &full(b"meta", 0, &meta))
    }

    fn read(bytes: Vec<u8>) -> Option<Edit> {
        let mut c = Cursor::new(bytes);
        let edit = read_edit(&mut c).expect("a cursor seeks");
        assert_eq!(c.position(), 0, "the source is back at its start");
        edit
    }

    #[test]
    fn the_demo_m4a_files_skip_the_aac_priming_and_keep_what_ffprobe_reports() {
        for path in demo_files("m4a") {
            let mut f = File::open(&path).expect("open");
            let edit = read_edit(&mut f).expect("seek").expect("an edit");
            let expected = ffprobe_duration_ts(&path);
            eprintln!(
                "{}: {edit:?}, ffprobe duration_ts {expected}",
                path.display()
            );
            assert_eq!(f.stream_position().expect("pos"), 0);
            assert_eq!(edit.track, 0);
            assert_eq!(edit.timescale, Some(44_100));
            assert_eq!(edit.skip, 1024, "{}: ffmpeg's AAC priming", path.display());
            assert_eq!(edit.keep, Some(expected), "{}", path.display());
            assert_eq!(edit.frames(44_100), (1024, Some(expected)));
        }
    }

    #[test]
    fn a_version_1_edit_after_an_empty_one_in_another_timescale_is_converted() {
        let moov = [
            header_v1(b"mvhd", 600, 6_000),
            trak(b"vide", Some(elst_v1(&[(6_000, 0)])), 90_000, 900_000),
            trak(
                b"soun",
                Some(elst_v1(&[(300, -1), (5_400, 4_224)])),
                96_000,
                1_000_000,
            ),
        ]
        .concat();
        let edit = read([ftyp(), bx(b"moov", &moov)].concat()).expect("an edit");
        assert_eq!(
            edit,
            Edit {
                track: 1,
                skip: 4_224,
                keep: Some(864_000),
                timescale: Some(96_000),
            }
        );
        assert_eq!(edit.frames(48_000), (2_112, Some(432_000)));
    }

    #[test]
    fn without_an_edit_list_the_itunes_tag_gives_the_delay_and_length() {
        let text = " 00000000 00000840 000001CA 00000000003F31F6 00000000 00000000";
        let moov = [
            header_v1(b"mvhd", 44_100, 4_141_056),
            trak(b"soun", None, 44_100, 4_141_056),
            smpb_udta(text),
        ]
        .concat();
        let edit = read([ftyp(), bx(b"moov", &moov)].concat()).expect("an edit");
        assert_eq!(
            (edit.skip, edit.keep, edit.timescale),
            (2112, Some(0x3F31F6), None)
        );
        assert_eq!(edit.frames(44_100), (2112, Some(0x3F31F6)));
        // No edit list and no tag: nothing to trim.
        let bare = [
            header_v1(b"mvhd", 44_100, 1),
            trak(b"soun", None, 44_100, 1),
        ]
        .concat();
        assert_eq!(read([ftyp(), bx(b"moov", &bare)].concat()), None);
    }

    #[test]
    fn a_64_bit_mdat_before_moov_is_skipped() {
        let moov = [
            header_v1(b"mvhd", 1000, 1000),
            trak(b"soun", Some(elst_v1(&[(1000, 1024)])), 44_100, 46_000),
        ]
        .concat();
        let payload = vec![0xAAu8; 1000];
        let mut mdat = 1u32.to_be_bytes().to_vec();
        mdat.extend_from_slice(b"mdat");
        mdat.extend_from_slice(&(16 + payload.len() as u64).to_be_bytes());
        mdat.extend_from_slice(&payload);
        let edit = read([ftyp(), mdat, bx(b"free", &[]), bx(b"moov", &moov)].concat());
        assert_eq!(edit.map(|e| (e.skip, e.keep)), Some((1024, Some(44_100))));
    }

    #[test]
    fn huge_claimed_sizes_are_refused_without_reading() {
        // A moov claiming 4 GiB and one claiming 2^60 bytes (64-bit size), each followed by a
        // valid-looking but short body: refused, not allocated.
        let mut small = 0xFFFF_FFF0u32.to_be_bytes().to_vec();
        small.extend_from_slice(b"moov");
        small.extend_from_slice(&header_v1(b"mvhd", 1000, 1000));
        assert_eq!(read([ftyp(), small].concat()), None);
        let mut large = 1u32.to_be_bytes().to_vec();
        large.extend_from_slice(b"moov");
        large.extend_from_slice(&(1u64 << 60).to_be_bytes());
        assert_eq!(read([ftyp(), large].concat()), None);
        // A box whose size overruns its parent inside moov.
        let mut liar = 0x7FFF_FFFFu32.to_be_bytes().to_vec();
        liar.extend_from_slice(b"trak");
        let moov = [header_v1(b"mvhd", 1000, 1000), liar].concat();
        assert_eq!(read([ftyp(), bx(b"moov", &moov)].concat()), None);
        // An elst claiming more entries than it holds.
        let mut elst = full(b"elst", 0, &u32::MAX.to_be_bytes());
        elst.extend_from_slice(&[0u8; 12]);
        let moov = [
            header_v1(b"mvhd", 1000, 1000),
            trak(b"soun", Some(bx(b"edts", &elst)), 44_100, 46_000),
        ]
        .concat();
        assert_eq!(read([ftyp(), bx(b"moov", &moov)].concat()), None);
    }

    #[test]
    fn garbage_truncated_and_corrupted_files_give_none_without_panicking() {
        let real = std::fs::read(&demo_files("m4a")[0]).expect("read");
        let moov_end = 28 + u32::from_be_bytes(real[28..32].try_into().expect("4")) as usize;
        assert_eq!(&real[32..36], b"moov");
        for cut in [
            0,
            3,
            8,
            27,
            28,
            35,
            36,
            200,
            1000,
            moov_end / 2,
            moov_end - 1,
        ] {
            assert_eq!(read(real[..cut].to_vec()), None, "cut at {cut}");
        }
        assert!(read(real[..moov_end].to_vec()).is_some(), "moov complete");
        // Not MP4 at all.
        assert_eq!(read(b"fLaC\0\0\0\x22".repeat(100)), None);
        // Pseudo-random bytes, and the real file with bytes of its moov overwritten.
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200 {
            let noise: Vec<u8> = (0..4096).map(|_| next() as u8).collect();
            let _ = read([ftyp(), noise].concat());
        }
        for _ in 0..2000 {
            let mut bytes = real[..moov_end].to_vec();
            for _ in 0..4 {
                let at = 28 + (next() as usize) % (moov_end - 28);
                bytes[at] = next() as u8;
            }
            let _ = read(bytes);
        }
    }
}
