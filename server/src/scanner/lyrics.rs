//! Lyrics of one track: from its tags (ID3 SYLT and USLT, Vorbis `LYRICS`/`UNSYNCEDLYRICS`,
//! MP4 `©lyr`) or from the sidecar `.lrc` beside it; parsed by `mixtape_shared::lyrics`.

use lofty::config::ParseOptions;
use lofty::file::{AudioFile, FileType};
use lofty::id3::v2::{Frame, SyncTextContentType, SynchronizedTextFrame, TimestampFormat};
use lofty::iff::wav::WavFile;
use lofty::mpeg::MpegFile;
use lofty::tag::{ItemKey, Tag, TagItem};
use mixtape_shared::api::{Lyrics, LyricsSource};
use mixtape_shared::lyrics;
use std::io::{Cursor, Read};
use std::path::Path;

/// A sidecar `.lrc`: UTF-8 (a BOM is fine), else read as Latin-1, as old LRC editors wrote.
/// Files larger than the parser keeps are cut.
pub fn sidecar(path: &Path) -> std::io::Result<Option<Lyrics>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(lyrics::MAX_TEXT as u64)
        .read_to_end(&mut bytes)?;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
    };
    Ok(lyrics::parse(&text, LyricsSource::Lrc))
}

/// Lyrics in the generic tags: the first lyrics field that holds any, LRC text read as synced.
pub fn from_tags(tags: &[Tag]) -> Option<Lyrics> {
    let mut found: Option<Lyrics> = None;
    for tag in tags {
        for key in [ItemKey::Lyrics, ItemKey::UnsyncLyrics] {
            for item in tag.get_items(key) {
                let Some(text) = item.value().text() else {
                    continue;
                };
                let Some(mut parsed) = lyrics::parse(text, LyricsSource::Embedded) else {
                    continue;
                };
                parsed.lang = parsed.lang.or_else(|| language(item));
                // Synced lyrics beat plain ones wherever they are.
                match &found {
                    Some(f) if f.synced || !parsed.synced => {}
                    _ => found = Some(parsed),
                }
            }
        }
    }
    found
}

fn language(item: &TagItem) -> Option<String> {
    iso_language(item.lang())
}

/// An ID3 language code as a string; `None` for the "unknown" `XXX` and anything not a code.
fn iso_language(lang: &[u8; 3]) -> Option<String> {
    (lang.iter().all(u8::is_ascii_alphabetic) && !lang.eq_ignore_ascii_case(b"xxx"))
        .then(|| String::from_utf8_lossy(lang).to_ascii_lowercase())
}

/// ID3v2 SYLT (lyrics content, millisecond stamps), which lofty keeps out of its generic tag.
/// Only MP3 and WAV bytes that hold the frame's id are parsed a second time.
pub fn id3_synced(file_type: FileType, bytes: &[u8]) -> Option<Lyrics> {
    if !bytes.windows(4).any(|w| w == b"SYLT") {
        return None;
    }
    let mut options = ParseOptions::new();
    options.read_properties(false).read_cover_art(false);
    let mut reader = Cursor::new(bytes);
    let tag = match file_type {
        FileType::Mpeg => MpegFile::read_from(&mut reader, options)
            .ok()?
            .id3v2()
            .cloned(),
        FileType::Wav => WavFile::read_from(&mut reader, options)
            .ok()?
            .id3v2()
            .cloned(),
        _ => None,
    }?;
    tag.into_iter().find_map(|frame| {
        let Frame::Binary(binary) = frame else {
            return None;
        };
        if binary.id().as_str() != "SYLT" {
            return None;
        }
        let sylt = match SynchronizedTextFrame::parse(&binary.data, binary.flags()) {
            Ok(sylt) => sylt,
            Err(e) => {
                tracing::debug!(error = %e, "unreadable SYLT frame skipped");
                return None;
            }
        };
        if sylt.timestamp_format != TimestampFormat::MS
            || !matches!(
                sylt.content_type,
                SyncTextContentType::Lyrics | SyncTextContentType::TextTranscription
            )
        {
            return None;
        }
        let mut parsed = lyrics::synced(
            sylt.content
                .iter()
                .map(|(ms, text)| (u64::from(*ms), text.clone()))
                .collect(),
            LyricsSource::Embedded,
        )?;
        parsed.lang = iso_language(&sylt.language);
        Some(parsed)
    })
}

#[cfg(test)]
mod tests {
    //! The readers on the files `mixtape-libgen demo` wrote (`assets/demo`), one per kind.

    use super::super::tags::{FileFacts, read_track};
    use super::super::walk::walk;
    use mixtape_shared::api::{LyricLine, LyricsSource};
    use std::path::PathBuf;

    fn demo() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../assets/demo")
    }

    /// The track at `rel` as a scan reads it, its sidecar found by the walk.
    fn scanned(rel: &str) -> Option<mixtape_shared::api::Lyrics> {
        let root = demo();
        let folder = rel.rsplit_once('/').unwrap().0.to_string();
        let walked = walk(&root, Some(&[folder])).unwrap();
        let facts: &FileFacts = walked
            .files
            .iter()
            .find(|f| f.rel_path == rel)
            .unwrap_or_else(|| panic!("{rel} not walked"));
        read_track(&root, facts, None).unwrap().lyrics
    }

    #[test]
    fn a_sidecar_lrc_is_found_by_the_walk_and_read() {
        let l = scanned("Neon Harbor/東京 Nights/01 - Shibuya Rain.opus").unwrap();
        assert_eq!(l.source, LyricsSource::Lrc);
        assert!(l.synced);
        assert_eq!(l.lang.as_deref(), Some("eng"));
        assert_eq!(
            l.lines[1],
            LyricLine {
                start_ms: Some(6_000),
                text: "渋谷の雨が降る".into()
            }
        );
        // Its neighbours have no sidecar and no lyrics.
        assert_eq!(
            scanned("Neon Harbor/東京 Nights/02 - 東京 Nights.opus"),
            None
        );
    }

    #[test]
    fn id3_sylt_and_lrc_in_vorbis_comments_are_synced() {
        let l = scanned("The Paper Lanterns/Café Nocturne/02 - Rue de la Lune.mp3").unwrap();
        assert_eq!((l.source, l.synced), (LyricsSource::Embedded, true));
        assert_eq!(l.lang.as_deref(), Some("fra"));
        assert_eq!(l.lines.len(), 5);
        assert_eq!(l.lines[4].start_ms, Some(22_000));
        let l = scanned("Marble & Moss/Small Hours/01 - Kettle Song.ogg").unwrap();
        assert_eq!((l.source, l.synced), (LyricsSource::Embedded, true));
        assert_eq!(l.lang.as_deref(), Some("eng"));
        assert_eq!(l.lines[0].text, "The kettle sings at half past six");
    }

    #[test]
    fn plain_lyrics_in_flac_and_mp4_tags() {
        for rel in [
            "Sigur Ósk/Norðurljós/01 - Hafið.flac",
            "Various Artists/Mixtape Sampler, Vol. 1/2-01 - Campfire Waltz.m4a",
        ] {
            let l = scanned(rel).unwrap_or_else(|| panic!("{rel}: no lyrics"));
            assert_eq!(
                (l.source, l.synced, l.lang.as_deref()),
                (LyricsSource::Embedded, false, None),
                "{rel}"
            );
            assert_eq!(l.lines.len(), 5, "{rel}");
            assert!(l.lines.iter().all(|l| l.start_ms.is_none()), "{rel}");
        }
        assert_eq!(
            scanned("The Paper Lanterns/Café Nocturne/03 - Slow Espresso.mp3"),
            None
        );
    }

    #[test]
    fn a_latin1_lrc_and_an_unreadable_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lrc");
        std::fs::write(&path, b"[00:01.00]caf\xe9 cr\xe8me\n").unwrap();
        let l = super::sidecar(&path).unwrap().unwrap();
        assert_eq!(l.lines[0].text, "café crème");
        assert!(super::sidecar(&dir.path().join("missing.lrc")).is_err());
        std::fs::write(&path, b"").unwrap();
        assert_eq!(super::sidecar(&path).unwrap(), None);
    }
}
