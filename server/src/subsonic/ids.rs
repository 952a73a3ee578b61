//! Subsonic ids are strings. Ours name their table: `tr-12` (a track), `al-3` (an album),
//! `ar-7` (an artist); playlists keep their UUIDs; cover art is the image's content hash. The
//! folder-browsing endpoints use the same ids (an artist is a folder of albums, an album a folder
//! of tracks). A bare number is read as a track, for clients that build song ids themselves.

use crate::storage::ItemRef;
use mixtape_shared::{AlbumId, ArtistId, TrackId};

pub fn track(id: TrackId) -> String {
    format!("tr-{}", id.0)
}
pub fn album(id: AlbumId) -> String {
    format!("al-{}", id.0)
}
pub fn artist(id: ArtistId) -> String {
    format!("ar-{}", id.0)
}

/// The item an id names, if it is one of ours.
pub fn parse(id: &str) -> Option<ItemRef> {
    let id = id.trim();
    let number = |s: &str| s.parse::<i64>().ok().filter(|n| *n > 0);
    if let Some(n) = id.strip_prefix("tr-") {
        return number(n).map(|n| ItemRef::Track(TrackId(n)));
    }
    if let Some(n) = id.strip_prefix("al-") {
        return number(n).map(|n| ItemRef::Album(AlbumId(n)));
    }
    if let Some(n) = id.strip_prefix("ar-") {
        return number(n).map(|n| ItemRef::Artist(ArtistId(n)));
    }
    number(id).map(|n| ItemRef::Track(TrackId(n)))
}

pub fn parse_track(id: &str) -> Option<TrackId> {
    match parse(id)? {
        ItemRef::Track(t) => Some(t),
        _ => None,
    }
}

pub fn parse_album(id: &str) -> Option<AlbumId> {
    let id = id.trim();
    let n = id.strip_prefix("al-").unwrap_or(id).parse().ok()?;
    (n > 0).then_some(AlbumId(n))
}

pub fn parse_artist(id: &str) -> Option<ArtistId> {
    let id = id.trim();
    let n = id.strip_prefix("ar-").unwrap_or(id).parse().ok()?;
    (n > 0).then_some(ArtistId(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_foreign_ones() {
        assert_eq!(parse(&track(TrackId(5))), Some(ItemRef::Track(TrackId(5))));
        assert_eq!(parse(&album(AlbumId(2))), Some(ItemRef::Album(AlbumId(2))));
        assert_eq!(
            parse(&artist(ArtistId(9))),
            Some(ItemRef::Artist(ArtistId(9)))
        );
        assert_eq!(parse("17"), Some(ItemRef::Track(TrackId(17))));
        assert_eq!(parse("al-x"), None);
        assert_eq!(parse("tr-0"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse_album("al-4"), Some(AlbumId(4)));
        assert_eq!(parse_artist("4"), Some(ArtistId(4)));
    }
}
