//! m3u8 export and import. An import is bounded (lines, tracks), decodes Latin-1 files as well
//! as UTF-8, looks its paths up in batches and creates its playlist in one transaction; the
//! caller can cancel it (a dropped request) between steps.

use super::{MAX_ENTRIES_PER_ADD, PlaylistError, Result, create_with_tracks};
use crate::storage::Store;
use mixtape_shared::TrackId;
use mixtape_shared::api::{ImportPlaylistReport, PlaylistDetail, Track, User};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// Lines an m3u import may have: room for an `#EXTINF` line and a comment beside each of the
/// `MAX_ENTRIES_PER_ADD` tracks.
pub const MAX_IMPORT_LINES: usize = 3 * MAX_ENTRIES_PER_ADD;

/// Paths looked up per store call, so a cancelled import stops between calls.
const LOOKUP_CHUNK: usize = 500;

/// The text of an m3u body: UTF-8 when it is valid UTF-8 (`.m3u8`), otherwise Windows-1252, the
/// Latin-1 superset that players write plain `.m3u` files in.
pub fn decode(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => {
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
        }
    }
}

fn check_cancelled(cancelled: &AtomicBool) -> Result<()> {
    if cancelled.load(Ordering::Relaxed) {
        return Err(PlaylistError::Cancelled);
    }
    Ok(())
}

/// Creates a playlist from an m3u body: named `name`, else by its `#PLAYLIST` title. Lines that
/// match no track are reported, not fatal. Nothing is created unless it all succeeds; when
/// `cancelled` is set (the client went away) the work stops at the next step.
pub fn import_m3u(
    store: &dyn Store,
    user: &User,
    body: &[u8],
    name: Option<String>,
    library_root: &str,
    cancelled: &AtomicBool,
) -> Result<ImportPlaylistReport> {
    let parsed = parse_m3u8(&decode(body))?;
    let name = name.or(parsed.title).ok_or(PlaylistError::NoName)?;
    let located: Vec<(String, Location)> = parsed
        .locations
        .into_iter()
        .map(|l| {
            let location = resolve_location(&l, library_root);
            (l, location)
        })
        .collect();
    let paths: Vec<String> = located
        .iter()
        .filter_map(|(_, l)| match l {
            Location::Path(p) => Some(p.clone()),
            Location::Track(_) => None,
        })
        .collect();
    let mut by_path = HashMap::new();
    for chunk in paths.chunks(LOOKUP_CHUNK) {
        check_cancelled(cancelled)?;
        by_path.extend(store.track_ids_by_paths(chunk)?);
    }
    let mut ids: Vec<TrackId> = located
        .iter()
        .filter_map(|(_, l)| match l {
            Location::Track(id) => Some(*id),
            Location::Path(_) => None,
        })
        .collect();
    ids.sort();
    ids.dedup();
    check_cancelled(cancelled)?;
    let existing: std::collections::HashSet<TrackId> =
        store.existing_track_ids(&ids)?.into_iter().collect();
    let mut track_ids = Vec::new();
    let mut unmatched = Vec::new();
    for (line, location) in located {
        let id = match location {
            Location::Track(id) => existing.contains(&id).then_some(id),
            Location::Path(p) => by_path.get(&p).copied(),
        };
        match id {
            Some(id) => track_ids.push(id),
            None => unmatched.push(line),
        }
    }
    check_cancelled(cancelled)?;
    let playlist = create_with_tracks(store, user, &name, &track_ids)?;
    Ok(ImportPlaylistReport {
        playlist,
        unmatched,
    })
}

/// An extended M3U playlist, paths relative to the library root.
pub fn to_m3u8(
    detail: &PlaylistDetail,
    tracks: &[Track],
    paths: &HashMap<TrackId, String>,
) -> String {
    let by_id: HashMap<TrackId, &Track> = tracks.iter().map(|t| (t.id, t)).collect();
    let mut out = format!(
        "#EXTM3U\n#PLAYLIST:{}\n",
        detail.playlist.name.replace(['\r', '\n'], " ")
    );
    for entry in &detail.entries {
        let (Some(track), Some(path)) = (by_id.get(&entry.track_id), paths.get(&entry.track_id))
        else {
            continue;
        };
        let artists = track
            .artists
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let line = format!("{artists} - {}", track.title).replace(['\r', '\n'], " ");
        out.push_str(&format!(
            "#EXTINF:{},{line}\n{path}\n",
            track.duration_ms.div_ceil(1000)
        ));
    }
    out
}

/// The parsed lines of an m3u8: its title (if any) and each entry's location, in order.
#[derive(Debug, PartialEq)]
pub struct ParsedM3u {
    pub title: Option<String>,
    pub locations: Vec<String>,
}

/// Parses an m3u8 of at most `MAX_IMPORT_LINES` lines and `MAX_ENTRIES_PER_ADD` locations,
/// stopping at the first line past either (so an 8 MB body of junk costs little).
pub fn parse_m3u8(text: &str) -> Result<ParsedM3u> {
    let mut title = None;
    let mut locations = Vec::new();
    for (n, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        if n >= MAX_IMPORT_LINES {
            return Err(PlaylistError::Invalid(format!(
                "an m3u import holds at most {MAX_IMPORT_LINES} lines"
            )));
        }
        if locations.len() > MAX_ENTRIES_PER_ADD {
            return Err(PlaylistError::Invalid(format!(
                "an m3u import holds at most {MAX_ENTRIES_PER_ADD} tracks"
            )));
        }
        let line = line.trim();
        if let Some(name) = line.strip_prefix("#PLAYLIST:") {
            title = Some(name.trim().to_string()).filter(|n| !n.is_empty());
        } else if !line.is_empty() && !line.starts_with('#') {
            locations.push(line.replace('\\', "/"));
        }
    }
    if locations.len() > MAX_ENTRIES_PER_ADD {
        return Err(PlaylistError::Invalid(format!(
            "an m3u import holds at most {MAX_ENTRIES_PER_ADD} tracks"
        )));
    }
    Ok(ParsedM3u { title, locations })
}

/// A location as a library-relative path, if it can be one: our own stream URLs resolve to their
/// track id instead; absolute paths under `library_root` lose the root.
pub fn resolve_location(location: &str, library_root: &str) -> Location {
    if let Some(rest) = location.split("/api/v1/tracks/").nth(1)
        && let Some(id) = rest.split('/').next().and_then(|s| s.parse().ok())
    {
        return Location::Track(TrackId(id));
    }
    let stripped = location.strip_prefix("file://").unwrap_or(location);
    let root = library_root.trim_end_matches('/');
    let rel = stripped
        .strip_prefix(&format!("{root}/"))
        .unwrap_or(stripped);
    Location::Path(rel.trim_start_matches("./").to_string())
}

#[derive(Debug, PartialEq)]
pub enum Location {
    Track(TrackId),
    Path(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m3u8_lines_parse_with_title_comments_and_windows_paths() {
        let parsed = parse_m3u8(
            "\u{feff}#EXTM3U\n#PLAYLIST: Road trip \n#EXTINF:31,A - B\nA\\B\\01.mp3\r\n\n# note\nC/02.flac\n",
        )
        .unwrap();
        assert_eq!(parsed.title.as_deref(), Some("Road trip"));
        assert_eq!(parsed.locations, vec!["A/B/01.mp3", "C/02.flac"]);
    }

    #[test]
    fn locations_resolve_to_paths_or_track_ids() {
        assert_eq!(
            resolve_location("/music/A/01.mp3", "/music/"),
            Location::Path("A/01.mp3".into())
        );
        assert_eq!(
            resolve_location("file:///music/A/01.mp3", "/music"),
            Location::Path("A/01.mp3".into())
        );
        assert_eq!(
            resolve_location("http://h:1/api/v1/tracks/42/stream", "/music"),
            Location::Track(TrackId(42))
        );
        assert_eq!(
            resolve_location("./A/01.mp3", "/music"),
            Location::Path("A/01.mp3".into())
        );
    }

    #[test]
    fn an_m3u_past_the_line_or_track_cap_is_refused() {
        let junk = "#junk\n".repeat(MAX_IMPORT_LINES + 1);
        let err = parse_m3u8(&junk).unwrap_err().to_string();
        assert!(err.contains("lines"), "{err}");
        let tracks = "a.mp3\n".repeat(MAX_ENTRIES_PER_ADD + 1);
        let err = parse_m3u8(&tracks).unwrap_err().to_string();
        assert!(err.contains("tracks"), "{err}");
        let at_cap = "a.mp3\n".repeat(MAX_ENTRIES_PER_ADD);
        assert_eq!(
            parse_m3u8(&at_cap).unwrap().locations.len(),
            MAX_ENTRIES_PER_ADD
        );
    }

    #[test]
    fn latin1_bodies_are_decoded_and_utf8_ones_kept() {
        // "Café/Déjà vu.mp3" in Latin-1 (Windows-1252): not valid UTF-8.
        let latin1 = b"#PLAYLIST:Caf\xe9\nCaf\xe9/D\xe9j\xe0 vu.mp3\n";
        let parsed = parse_m3u8(&decode(latin1)).unwrap();
        assert_eq!(parsed.title.as_deref(), Some("Café"));
        assert_eq!(parsed.locations, vec!["Café/Déjà vu.mp3"]);
        assert_eq!(decode("Café".as_bytes()), "Café");
    }
}
