//! Reading one audio file: format, properties, tags and embedded art, via lofty; plus its blake3
//! content hash. Anything lofty rejects becomes a [`ReadError`] with a reason, never a panic.

use super::lyrics;
use crate::storage::{ArtRecord, ArtSource, TrackRecord};
use lofty::config::{ParseOptions, ParsingMode};
use lofty::file::{AudioFile, FileType, TaggedFileExt};
use lofty::picture::{MimeType, PictureType};
use lofty::probe::Probe;
use lofty::tag::{Accessor, ItemKey, Tag};
use mixtape_shared::api::{MusicBrainzIds, ReplayGain};
use std::io::{Cursor, Read};
use std::path::Path;

/// Files up to this size are read into memory once for both parsing and hashing.
const IN_MEMORY_LIMIT: u64 = 64 * 1024 * 1024;

/// File name extensions the scanner looks at; content decides the real format.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "mp3", "flac", "ogg", "oga", "opus", "m4a", "m4b", "mp4", "aac", "wav", "aif", "aiff", "wv",
    "ape", "mpc",
];

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read file: {0}")]
    Io(#[from] std::io::Error),
    #[error("empty file")]
    Empty,
    #[error("not a recognised audio format")]
    UnknownFormat,
    #[error("unsupported audio format {0:?}")]
    Unsupported(FileType),
    #[error("malformed audio file: {0}")]
    Malformed(String),
    #[error("no audio stream found (zero duration or sample rate)")]
    NoAudio,
    #[error("the tag parser crashed on this file")]
    ParserPanicked,
}

pub fn is_audio_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(e)))
}

fn format_of(ft: FileType) -> Result<(&'static str, &'static str), ReadError> {
    Ok(match ft {
        FileType::Mpeg => ("mp3", "audio/mpeg"),
        FileType::Flac => ("flac", "audio/flac"),
        FileType::Vorbis => ("ogg", "audio/ogg"),
        FileType::Opus => ("opus", "audio/ogg"),
        FileType::Speex => ("spx", "audio/ogg"),
        FileType::Mp4 => ("m4a", "audio/mp4"),
        FileType::Aac => ("aac", "audio/aac"),
        FileType::Wav => ("wav", "audio/wav"),
        FileType::Aiff => ("aiff", "audio/aiff"),
        FileType::WavPack => ("wv", "audio/wavpack"),
        FileType::Ape => ("ape", "audio/ape"),
        FileType::Mpc => ("mpc", "audio/musepack"),
        other => return Err(ReadError::Unsupported(other)),
    })
}

/// Facts the walker already has, so the file is stat'ed once.
#[derive(Debug, Clone)]
pub struct FileFacts {
    pub rel_path: String,
    pub size: u64,
    /// The file's mtime, plus its sidecar `.lrc`'s when it has one: a change to either (the
    /// sidecar added, edited or removed) makes the file read again.
    pub mtime_ns: i64,
    /// The sidecar `.lrc` (same name, library-relative), found by the walk.
    pub lrc: Option<String>,
}

/// Reads and hashes one file. `folder_art` is the album folder's art, used when none is embedded.
/// `root` is the library folder, where the sidecar `.lrc` named in `facts` is read from.
pub fn read_track(
    root: &Path,
    facts: &FileFacts,
    folder_art: Option<&ArtRecord>,
) -> Result<TrackRecord, ReadError> {
    if facts.size == 0 {
        return Err(ReadError::Empty);
    }
    let abs = root.join(&facts.rel_path);
    // lofty is defensive, but one malformed file must never take the scan down with it.
    let mut record = match std::panic::catch_unwind(|| read_unguarded(&abs, facts, folder_art)) {
        Ok(result) => result?,
        Err(_) => return Err(ReadError::ParserPanicked),
    };
    // A sidecar .lrc wins over lyrics in the tags: it is what the user added by hand.
    if let Some(lrc) = &facts.lrc {
        match lyrics::sidecar(&root.join(lrc)) {
            Ok(Some(found)) => record.lyrics = Some(found),
            Ok(None) => {}
            Err(e) => tracing::warn!(file = %lrc, error = %e, "lyrics file skipped"),
        }
    }
    Ok(record)
}

fn read_unguarded(
    abs: &Path,
    facts: &FileFacts,
    folder_art: Option<&ArtRecord>,
) -> Result<TrackRecord, ReadError> {
    let mut options = ParseOptions::new();
    options
        .parsing_mode(ParsingMode::BestAttempt)
        .read_cover_art(true);
    let mut in_memory = None;
    let (tagged, content_hash) = if facts.size <= IN_MEMORY_LIMIT {
        let mut bytes = Vec::with_capacity(facts.size as usize);
        std::fs::File::open(abs)?.read_to_end(&mut bytes)?;
        if bytes.is_empty() {
            return Err(ReadError::Empty);
        }
        let hash = blake3::hash(&bytes).to_hex().to_string();
        let probe = Probe::new(Cursor::new(&bytes))
            .options(options)
            .guess_file_type()?;
        if probe.file_type().is_none() {
            return Err(ReadError::UnknownFormat);
        }
        let tagged = probe
            .read()
            .map_err(|e| ReadError::Malformed(e.to_string()))?;
        in_memory = Some(bytes);
        (tagged, hash)
    } else {
        let mut hasher = blake3::Hasher::new();
        hasher.update_reader(std::fs::File::open(abs)?)?;
        let probe = Probe::open(abs)
            .map_err(|e| ReadError::Malformed(e.to_string()))?
            .options(options)
            .guess_file_type()?;
        if probe.file_type().is_none() {
            return Err(ReadError::UnknownFormat);
        }
        (
            probe
                .read()
                .map_err(|e| ReadError::Malformed(e.to_string()))?,
            hasher.finalize().to_hex().to_string(),
        )
    };
    let (format, content_type) = format_of(tagged.file_type())?;
    let props = tagged.properties();
    let duration_ms = props.duration().as_millis() as u64;
    if duration_ms == 0 || props.sample_rate().unwrap_or(0) == 0 {
        return Err(ReadError::NoAudio);
    }
    let empty = Tag::new(lofty::tag::TagType::Id3v2);
    let tag = tagged
        .primary_tag()
        .or_else(|| tagged.first_tag())
        .unwrap_or(&empty);

    let file_stem = Path::new(&facts.rel_path)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("Untitled");
    let mut record = TrackRecord {
        path: facts.rel_path.clone(),
        size: facts.size,
        mtime_ns: facts.mtime_ns,
        content_hash,
        format: format.to_string(),
        content_type: content_type.to_string(),
        title: tag
            .title()
            .map(|t| t.into_owned())
            .unwrap_or_else(|| file_stem.to_string()),
        artists: multi(tag, ItemKey::TrackArtist, Some(ItemKey::TrackArtists)),
        album: tag.album().map(|a| a.into_owned()),
        album_artist: tag.get_string(ItemKey::AlbumArtist).map(str::to_string),
        track_number: tag.track(),
        track_total: tag.track_total(),
        disc_number: tag.disk(),
        year: tag.date().map(|d| d.year as i32).filter(|y| *y > 0),
        genres: multi(tag, ItemKey::Genre, None),
        duration_ms,
        bitrate_kbps: props.audio_bitrate().or(props.overall_bitrate()),
        sample_rate: props.sample_rate(),
        channels: props.channels(),
        replay_gain: ReplayGain {
            track_gain_db: gain(tag, ItemKey::ReplayGainTrackGain),
            track_peak: gain(tag, ItemKey::ReplayGainTrackPeak),
            album_gain_db: gain(tag, ItemKey::ReplayGainAlbumGain),
            album_peak: gain(tag, ItemKey::ReplayGainAlbumPeak),
        },
        musicbrainz: MusicBrainzIds {
            track_id: text(tag, ItemKey::MusicBrainzTrackId),
            recording_id: text(tag, ItemKey::MusicBrainzRecordingId),
            album_id: text(tag, ItemKey::MusicBrainzReleaseId),
            artist_id: text(tag, ItemKey::MusicBrainzArtistId),
            album_artist_id: text(tag, ItemKey::MusicBrainzReleaseArtistId),
        },
        cover_art: None,
        lyrics: None,
    };
    record.lyrics = in_memory
        .as_deref()
        .and_then(|bytes| lyrics::id3_synced(tagged.file_type(), bytes))
        .or_else(|| lyrics::from_tags(tagged.tags()));
    let pictures: Vec<_> = tagged.tags().iter().flat_map(|t| t.pictures()).collect();
    let front = pictures
        .iter()
        .find(|p| p.pic_type() == PictureType::CoverFront)
        .or(pictures.first());
    record.cover_art = match front {
        Some(p) if !p.data().is_empty() => Some(ArtRecord {
            hash: blake3::hash(p.data()).to_hex().to_string(),
            mime: picture_mime(p.mime_type(), p.data()),
            source: ArtSource::Embedded(facts.rel_path.clone()),
        }),
        _ => folder_art.cloned(),
    };
    Ok(record)
}

fn text(tag: &Tag, key: ItemKey) -> Option<String> {
    tag.get_string(key)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn gain(tag: &Tag, key: ItemKey) -> Option<f32> {
    // "-6.50 dB" and "0.988" both occur in the wild.
    let raw = tag.get_string(key)?;
    raw.trim()
        .trim_end_matches("dB")
        .trim_end_matches("db")
        .trim()
        .parse()
        .ok()
}

/// All values of a multi-valued field, in tag order, without duplicates. Values some taggers
/// pack into one string with NUL separators are split too.
fn multi(tag: &Tag, key: ItemKey, plural: Option<ItemKey>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |v: &str| {
        for part in v.split('\0') {
            let part = part.trim();
            if !part.is_empty() && !out.iter().any(|o| o == part) {
                out.push(part.to_string());
            }
        }
    };
    tag.get_strings(key).for_each(&mut push);
    if let Some(plural) = plural {
        tag.get_strings(plural).for_each(&mut push);
    }
    out
}

fn picture_mime(mime: Option<&MimeType>, data: &[u8]) -> String {
    match mime {
        Some(m) if !m.as_str().is_empty() => m.as_str().to_string(),
        _ if data.starts_with(&[0x89, b'P', b'N', b'G']) => "image/png".into(),
        _ => "image/jpeg".into(),
    }
}
