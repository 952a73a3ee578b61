//! Writing tags with lofty, the same way for every format.
//!
//! * MP3 and WAV get an ID3v2.4 tag; several artists or genres become one frame whose values
//!   are separated by NUL, which is how ID3v2.4 stores multiple values.
//! * FLAC, Ogg Vorbis and Opus get Vorbis comments; several values are several fields with the
//!   same name (`ARTIST=A`, `ARTIST=B`). FLAC pictures go in PICTURE metadata blocks, Ogg
//!   pictures in `METADATA_BLOCK_PICTURE`.
//! * M4A gets an `ilst`; several values are several `data` atoms inside one atom (`©ART`),
//!   the layout iTunes-compatible taggers use.

use std::io::Cursor;

use lofty::TextEncoding;
use lofty::config::WriteOptions;
use lofty::id3::v2::{
    BinaryFrame, Frame, FrameId, Id3v2Tag, SyncTextContentType, SynchronizedTextFrame,
    TimestampFormat, UnsynchronizedTextFrame,
};
use lofty::mp4::{Atom, AtomData, AtomIdent, Ilst};
use lofty::picture::{MimeType, Picture, PictureType};
use lofty::prelude::*;
use lofty::tag::items::UNKNOWN_LANGUAGE;
use lofty::tag::{ItemValue, Tag, TagItem, TagType};

use crate::error::{Error, Result};
use crate::format::AudioFormat;

/// The tags of one track, as the generators plan them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrackTags {
    /// Track title.
    pub title: String,
    /// Track artists, in order; more than one is written as a real multi-valued tag.
    pub artists: Vec<String>,
    /// Album title.
    pub album: String,
    /// Album artists.
    pub album_artists: Vec<String>,
    /// Track number, from 1.
    pub track_number: u32,
    /// Number of tracks on this disc.
    pub track_total: u32,
    /// Disc number, from 1.
    pub disc_number: u32,
    /// Number of discs.
    pub disc_total: u32,
    /// Release year.
    pub year: u32,
    /// Genres; more than one is written as a real multi-valued tag.
    pub genres: Vec<String>,
    /// Part of a compilation ("Various Artists").
    pub compilation: bool,
    /// Free text comment.
    pub comment: Option<String>,
    /// Lyrics to embed.
    pub lyrics: Option<TagLyrics>,
}

/// Lyrics embedded in the tag, the way taggers store them in each format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagLyrics {
    /// Unsynchronized text: ID3 USLT, Vorbis `UNSYNCEDLYRICS`, MP4 `©lyr`.
    Plain(String),
    /// Lines with their start in milliseconds: ID3 SYLT, or LRC text in Vorbis `LYRICS` and MP4
    /// `©lyr` (the convention of taggers, for want of a synced field there).
    Synced {
        /// ISO 639-2, written where the format has a place for it (ID3).
        lang: [u8; 3],
        /// (start in ms, text), in time order.
        lines: Vec<(u32, String)>,
    },
}

impl TagLyrics {
    /// The LRC text of synced lyrics: `[la:xxx]`, then `[mm:ss.xx]text` per line.
    pub fn lrc(lang: &[u8; 3], lines: &[(u32, String)]) -> String {
        let header = format!("[la:{}]\n", String::from_utf8_lossy(lang));
        header
            + &lines
                .iter()
                .map(|(ms, text)| {
                    format!(
                        "[{:02}:{:02}.{:02}]{text}\n",
                        ms / 60_000,
                        ms / 1000 % 60,
                        ms % 1000 / 10
                    )
                })
                .collect::<String>()
    }
}

/// An image to embed as the front cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverImage {
    /// Encoded image bytes.
    pub data: Vec<u8>,
    /// JPEG (`true`) or PNG (`false`).
    pub jpeg: bool,
}

impl CoverImage {
    fn to_picture(&self) -> Picture {
        Picture::unchecked(self.data.clone())
            .pic_type(PictureType::CoverFront)
            .mime_type(if self.jpeg {
                MimeType::Jpeg
            } else {
                MimeType::Png
            })
            .build()
    }
}

/// Tags `audio` (an untagged file of `format`) and returns the tagged bytes.
///
/// `padding` is the free space left in the tag for later edits (0 for none); `what` names the
/// file in error messages.
pub fn tag_bytes(
    format: AudioFormat,
    audio: Vec<u8>,
    tags: &TrackTags,
    cover: Option<&CoverImage>,
    padding: u32,
    what: &str,
) -> Result<Vec<u8>> {
    let mut file = Cursor::new(audio);
    let options = WriteOptions::default().preferred_padding(padding);
    let result = match format {
        AudioFormat::M4a => build_ilst(tags, cover).save_to(&mut file, options),
        AudioFormat::Mp3 | AudioFormat::Wav => {
            build_id3v2(tags, cover)?.save_to(&mut file, options)
        }
        AudioFormat::Flac | AudioFormat::Ogg | AudioFormat::Opus => {
            build_tag(TagType::VorbisComments, tags, cover).save_to(&mut file, options)
        }
    };
    result.map_err(|source| Error::Tagging {
        what: what.to_owned(),
        source,
    })?;
    Ok(file.into_inner())
}

fn text(key: ItemKey, value: impl Into<String>) -> TagItem {
    TagItem::new(key, ItemValue::Text(value.into()))
}

/// The tag items in write order, grouped so that each group becomes one ID3v2 frame.
fn item_groups(tags: &TrackTags) -> Vec<Vec<TagItem>> {
    let many = |key: ItemKey, values: &[String]| values.iter().map(|v| text(key, v)).collect();
    let mut groups = vec![
        vec![text(ItemKey::TrackTitle, &tags.title)],
        many(ItemKey::TrackArtist, &tags.artists),
        vec![text(ItemKey::AlbumTitle, &tags.album)],
        many(ItemKey::AlbumArtist, &tags.album_artists),
        vec![
            text(ItemKey::TrackNumber, tags.track_number.to_string()),
            text(ItemKey::TrackTotal, tags.track_total.to_string()),
        ],
        vec![
            text(ItemKey::DiscNumber, tags.disc_number.to_string()),
            text(ItemKey::DiscTotal, tags.disc_total.to_string()),
        ],
        vec![text(ItemKey::RecordingDate, tags.year.to_string())],
        many(ItemKey::Genre, &tags.genres),
    ];
    if tags.compilation {
        groups.push(vec![text(ItemKey::FlagCompilation, "1")]);
    }
    if let Some(comment) = &tags.comment {
        groups.push(vec![text(ItemKey::Comment, comment)]);
    }
    groups
}

/// The generic lyrics item of Vorbis comments (ID3 and MP4 are built apart).
fn vorbis_lyrics(lyrics: &TagLyrics) -> TagItem {
    match lyrics {
        TagLyrics::Plain(t) => text(ItemKey::UnsyncLyrics, t),
        TagLyrics::Synced { lang, lines } => text(ItemKey::Lyrics, TagLyrics::lrc(lang, lines)),
    }
}

/// A generic lofty [`Tag`] of `tag_type` (Vorbis comments keep the item order).
fn build_tag(tag_type: TagType, tags: &TrackTags, cover: Option<&CoverImage>) -> Tag {
    let mut tag = Tag::new(tag_type);
    let lyrics = tags.lyrics.as_ref().map(vorbis_lyrics);
    for item in item_groups(tags).into_iter().flatten().chain(lyrics) {
        let key = item.key();
        let pushed = tag.push(item);
        debug_assert!(pushed, "{key:?} cannot be stored in {tag_type:?}");
    }
    if let Some(cover) = cover {
        tag.push_picture(cover.to_picture());
    }
    tag
}

/// An ID3v2.4 tag. lofty converts a whole generic tag through a hash map, which makes the frame
/// order (and so the file bytes) vary from run to run; converting one frame's worth of items
/// at a time keeps the output byte-for-byte reproducible.
fn build_id3v2(tags: &TrackTags, cover: Option<&CoverImage>) -> Result<Id3v2Tag> {
    let mut id3 = Id3v2Tag::new();
    for group in item_groups(tags) {
        let mut part = Tag::new(TagType::Id3v2);
        for item in group {
            part.push(item);
        }
        for frame in Id3v2Tag::from(part) {
            id3.insert(frame);
        }
    }
    if let Some(cover) = cover {
        let mut part = Tag::new(TagType::Id3v2);
        part.push_picture(cover.to_picture());
        for frame in Id3v2Tag::from(part) {
            id3.insert(frame);
        }
    }
    match &tags.lyrics {
        Some(TagLyrics::Plain(t)) => {
            id3.insert(Frame::UnsynchronizedText(UnsynchronizedTextFrame::new(
                TextEncoding::UTF8,
                UNKNOWN_LANGUAGE,
                String::new(),
                t.clone(),
            )));
        }
        Some(TagLyrics::Synced { lang, lines }) => {
            let sylt = SynchronizedTextFrame::new(
                TextEncoding::UTF8,
                *lang,
                TimestampFormat::MS,
                SyncTextContentType::Lyrics,
                None,
                lines.clone(),
            );
            // SYLT is a binary frame to lofty: encoded here, parsed by the reader.
            let bytes = sylt
                .as_bytes(WriteOptions::default())
                .map_err(|e| Error::Invalid(format!("SYLT frame: {e}")))?;
            let id = FrameId::new("SYLT").map_err(|e| Error::Invalid(e.to_string()))?;
            id3.insert(Frame::Binary(BinaryFrame::new(id, bytes)));
        }
        None => {}
    }
    Ok(id3)
}

/// An MP4 `ilst`, built directly so that multiple values share one atom.
fn build_ilst(tags: &TrackTags, cover: Option<&CoverImage>) -> Ilst {
    fn insert_all(ilst: &mut Ilst, fourcc: [u8; 4], values: &[String]) {
        for value in values {
            ilst.insert(Atom::new(
                AtomIdent::Fourcc(fourcc),
                AtomData::UTF8(value.clone()),
            ));
        }
    }

    let mut ilst = Ilst::new();
    ilst.set_title(tags.title.clone());
    insert_all(&mut ilst, *b"\xa9ART", &tags.artists);
    ilst.set_album(tags.album.clone());
    insert_all(&mut ilst, *b"aART", &tags.album_artists);
    ilst.set_track(tags.track_number);
    ilst.set_track_total(tags.track_total);
    ilst.set_disk(tags.disc_number);
    ilst.set_disk_total(tags.disc_total);
    ilst.insert(Atom::new(
        AtomIdent::Fourcc(*b"\xa9day"),
        AtomData::UTF8(tags.year.to_string()),
    ));
    insert_all(&mut ilst, *b"\xa9gen", &tags.genres);
    if tags.compilation {
        ilst.set_flag(AtomIdent::Fourcc(*b"cpil"), true);
    }
    if let Some(comment) = &tags.comment {
        ilst.set_comment(comment.clone());
    }
    if let Some(cover) = cover {
        ilst.insert_picture(cover.to_picture());
    }
    match &tags.lyrics {
        Some(TagLyrics::Plain(t)) => ilst.insert(Atom::new(
            AtomIdent::Fourcc(*b"\xa9lyr"),
            AtomData::UTF8(t.clone()),
        )),
        Some(TagLyrics::Synced { lang, lines }) => ilst.insert(Atom::new(
            AtomIdent::Fourcc(*b"\xa9lyr"),
            AtomData::UTF8(TagLyrics::lrc(lang, lines)),
        )),
        None => {}
    }
    ilst
}

/// The tags read back from a file through lofty's generic interface, for checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBack {
    /// What [`TrackTags`] lofty sees (comment and compilation included).
    pub tags: TrackTags,
    /// Number of embedded pictures.
    pub pictures: usize,
    /// Duration in milliseconds.
    pub duration_ms: u128,
}

/// Reads a generated file back with lofty (the first tag that has a title).
pub fn read_back(path: &std::path::Path) -> Result<ReadBack> {
    let file = lofty::read_from_path(path).map_err(|source| Error::Reading {
        path: path.to_owned(),
        source,
    })?;
    let duration_ms = file.properties().duration().as_millis();
    let Some(tag) = file
        .primary_tag()
        .filter(|t| t.title().is_some())
        .or_else(|| file.tags().iter().find(|t| t.title().is_some()))
    else {
        return Ok(ReadBack {
            tags: TrackTags::default(),
            pictures: 0,
            duration_ms,
        });
    };
    let strings = |key| tag.get_strings(key).map(str::to_owned).collect::<Vec<_>>();
    let year = tag
        .get_string(ItemKey::RecordingDate)
        .or_else(|| tag.get_string(ItemKey::Year))
        .and_then(|s| s.get(..4))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let tags = TrackTags {
        title: tag.title().map(|t| t.into_owned()).unwrap_or_default(),
        artists: strings(ItemKey::TrackArtist),
        album: tag.album().map(|t| t.into_owned()).unwrap_or_default(),
        album_artists: strings(ItemKey::AlbumArtist),
        track_number: tag.track().unwrap_or(0),
        track_total: tag.track_total().unwrap_or(0),
        disc_number: tag.disk().unwrap_or(0),
        disc_total: tag.disk_total().unwrap_or(0),
        year,
        genres: strings(ItemKey::Genre),
        compilation: tag
            .get_string(ItemKey::FlagCompilation)
            .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true")),
        comment: tag.comment().map(|c| c.into_owned()),
        lyrics: lyrics_back(path, &file, tag)?,
    };
    Ok(ReadBack {
        tags,
        pictures: tag.picture_count() as usize,
        duration_ms,
    })
}

/// The lyrics of a generated file, read back as [`TagLyrics`]: SYLT from the ID3v2 tag itself
/// (lofty's generic tag leaves it out), LRC text in `LYRICS`/`©lyr` parsed back from the
/// `[mm:ss.xx]` form [`TagLyrics::lrc`] writes.
fn lyrics_back(
    path: &std::path::Path,
    file: &lofty::file::TaggedFile,
    tag: &Tag,
) -> Result<Option<TagLyrics>> {
    let file_type = file.file_type();
    let id3 = if matches!(
        file_type,
        lofty::file::FileType::Mpeg | lofty::file::FileType::Wav
    ) {
        let mut reader = std::fs::File::open(path).map_err(Error::io("reading", path))?;
        let options = lofty::config::ParseOptions::new();
        let read = |source| Error::Reading {
            path: path.to_owned(),
            source,
        };
        if file_type == lofty::file::FileType::Mpeg {
            lofty::mpeg::MpegFile::read_from(&mut reader, options)
                .map_err(read)?
                .id3v2()
                .cloned()
        } else {
            lofty::iff::wav::WavFile::read_from(&mut reader, options)
                .map_err(read)?
                .id3v2()
                .cloned()
        }
    } else {
        None
    };
    for frame in id3.iter().flatten() {
        if let Frame::Binary(binary) = frame
            && binary.id().as_str() == "SYLT"
        {
            let sylt = SynchronizedTextFrame::parse(&binary.data, binary.flags())
                .map_err(|e| Error::Invalid(format!("{}: bad SYLT: {e}", path.display())))?;
            return Ok(Some(TagLyrics::Synced {
                lang: sylt.language,
                lines: sylt.content,
            }));
        }
    }
    if let Some(t) = tag.get_string(ItemKey::UnsyncLyrics) {
        return Ok(Some(TagLyrics::Plain(t.to_owned())));
    }
    let Some(t) = tag.get_string(ItemKey::Lyrics) else {
        return Ok(None);
    };
    let mut lang = None;
    let lines: Option<Vec<(u32, String)>> = t
        .lines()
        .filter(
            |l| match l.strip_prefix("[la:").and_then(|r| r.strip_suffix(']')) {
                Some(code) => {
                    lang = <[u8; 3]>::try_from(code.as_bytes()).ok();
                    false
                }
                None => true,
            },
        )
        .map(|l| {
            let (stamp, text) = l.strip_prefix('[')?.split_once(']')?;
            let (min, rest) = stamp.split_once(':')?;
            let (sec, cs) = rest.split_once('.')?;
            let ms = min.parse::<u32>().ok()? * 60_000
                + sec.parse::<u32>().ok()? * 1000
                + cs.parse::<u32>().ok()? * 10;
            Some((ms, text.to_owned()))
        })
        .collect();
    Ok(Some(match lines {
        Some(lines) if !lines.is_empty() => TagLyrics::Synced {
            lang: lang.unwrap_or(*b"und"),
            lines,
        },
        _ => TagLyrics::Plain(t.to_owned()),
    }))
}
