//! `getLyrics` (Subsonic: plain text by artist and title) and `getLyricsBySongId` (the
//! OpenSubsonic `songLyrics` extension: structured, synced when we have stamps), both from the
//! lyrics the scanner stored (`CatalogStore::track_lyrics`), the same data as
//! `GET /api/v1/tracks/{id}/lyrics`.

use super::api::Ctx;
use super::error::SubsonicError;
use super::ids;
use super::params::Params;
use super::response::Payload;
use crate::catalog::fold;
use mixtape_shared::api::{Lyrics, Track};
use serde::Serialize;

type Answer = Result<Payload, SubsonicError>;

/// How many search hits `getLyrics` looks through for the exact title.
const CANDIDATES: u32 = 50;

#[derive(Debug, Serialize)]
pub struct PlainLyrics {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artist: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub value: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LyricsList {
    pub structured_lyrics: Vec<StructuredLyrics>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StructuredLyrics {
    /// `und` when the source does not say.
    pub lang: String,
    pub synced: bool,
    pub line: Vec<Line>,
    pub display_artist: String,
    pub display_title: String,
}

#[derive(Debug, Serialize)]
pub struct Line {
    /// Omitted in unsynced lyrics, as the extension requires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<u64>,
    pub value: String,
}

fn artists(track: &Track) -> String {
    track
        .artists
        .iter()
        .map(|a| a.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `getLyrics?artist=&title=`: the lyrics of the first track with that title (and, when given,
/// that artist), as text. Nothing found is an empty `lyrics` element, as the original API did.
pub fn get_lyrics(ctx: &Ctx, p: &Params) -> Answer {
    let artist = p.get("artist").map(str::trim).filter(|a| !a.is_empty());
    let title = p.get("title").map(str::trim).filter(|t| !t.is_empty());
    let empty = || {
        Payload::one(
            "lyrics",
            &PlainLyrics {
                artist: artist.map(str::to_string),
                title: title.map(str::to_string),
                value: String::new(),
            },
        )
    };
    let Some(title) = title else {
        return empty();
    };
    let wanted_title = fold(title);
    let wanted_artist = artist.map(fold);
    let hits = ctx.store.search(title, CANDIDATES)?.tracks;
    for track in hits.iter().filter(|t| {
        fold(&t.title) == wanted_title
            && wanted_artist
                .as_ref()
                .is_none_or(|a| t.artists.iter().any(|t| fold(&t.name) == *a))
    }) {
        if let Some(lyrics) = ctx.store.track_lyrics(track.id)? {
            let value = lyrics
                .lines
                .iter()
                .map(|l| l.text.as_str())
                .collect::<Vec<_>>()
                .join("\n");
            return Payload::one(
                "lyrics",
                &PlainLyrics {
                    artist: Some(artists(track)),
                    title: Some(track.title.clone()),
                    value,
                },
            );
        }
    }
    empty()
}

/// `getLyricsBySongId?id=`: the track's lyrics as one `structuredLyrics` (none: an empty list).
/// Only the main layer exists here, so `enhanced` changes nothing.
pub fn get_lyrics_by_song_id(ctx: &Ctx, p: &Params) -> Answer {
    let id = ids::parse_track(p.required("id")?).ok_or_else(|| SubsonicError::not_found("song"))?;
    let track = ctx
        .store
        .track(id)?
        .ok_or_else(|| SubsonicError::not_found("song"))?;
    let structured_lyrics = ctx
        .store
        .track_lyrics(id)?
        .map(|lyrics| structured(&track, lyrics))
        .into_iter()
        .collect();
    Payload::one("lyricsList", &LyricsList { structured_lyrics })
}

fn structured(track: &Track, lyrics: Lyrics) -> StructuredLyrics {
    StructuredLyrics {
        lang: lyrics.lang.unwrap_or_else(|| "und".into()),
        synced: lyrics.synced,
        line: lyrics
            .lines
            .into_iter()
            .map(|l| Line {
                start: if lyrics.synced { l.start_ms } else { None },
                value: l.text,
            })
            .collect(),
        display_artist: artists(track),
        display_title: track.title.clone(),
    }
}
