//! Playlist rules: who may read or change a playlist, where an inserted or moved entry lands
//! (its order key), and m3u8 import and export. Persistence is the store's.

use crate::auth::unix_now;
use crate::storage::{NewEntry, OwnedPlaylist, StorageError, Store};
use mixtape_shared::api::{
    AddEntriesRequest, CreatePlaylistRequest, Playlist, PlaylistDetail, PlaylistEntry, Track,
    UpdatePlaylistRequest, User,
};
use mixtape_shared::{EntryId, PlaylistId, TrackId, order_key};
use std::collections::HashMap;

pub const MAX_NAME_LEN: usize = 200;
pub const MAX_ENTRIES_PER_ADD: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum PlaylistError {
    /// Also returned for playlists the user may not see, so ids cannot be probed.
    #[error("no such playlist")]
    NotFound,
    #[error("only the owner can change this playlist")]
    Forbidden,
    #[error("no such entry in this playlist")]
    EntryNotFound,
    #[error("unknown track ids: {0:?}")]
    UnknownTracks(Vec<TrackId>),
    #[error("{0}")]
    Invalid(String),
    #[error("playlist id {0} is taken")]
    IdTaken(PlaylistId),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

type Result<T> = std::result::Result<T, PlaylistError>;

fn readable(p: Option<OwnedPlaylist>, user: &User) -> Result<OwnedPlaylist> {
    p.filter(|p| p.owner_id == user.id || p.detail.playlist.public)
        .ok_or(PlaylistError::NotFound)
}

fn writable(p: Option<OwnedPlaylist>, user: &User) -> Result<OwnedPlaylist> {
    let p = readable(p, user)?;
    if p.owner_id != user.id {
        return Err(PlaylistError::Forbidden);
    }
    Ok(p)
}

fn valid_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        return Err(PlaylistError::Invalid(format!(
            "playlist name must be 1-{MAX_NAME_LEN} characters"
        )));
    }
    Ok(name)
}

pub fn list(store: &dyn Store, user: &User) -> Result<Vec<Playlist>> {
    Ok(store.playlists_visible_to(user.id)?)
}

pub fn get(store: &dyn Store, user: &User, id: PlaylistId) -> Result<PlaylistDetail> {
    Ok(readable(store.playlist(id)?, user)?.detail)
}

/// Creates a playlist. Replaying a create with the same client-made id returns the playlist.
pub fn create(
    store: &dyn Store,
    user: &User,
    req: &CreatePlaylistRequest,
) -> Result<PlaylistDetail> {
    let name = valid_name(&req.name)?;
    let id = req.id.unwrap_or_else(PlaylistId::new_v7);
    if !store.create_playlist(user.id, id, name, req.public, unix_now())? {
        let existing = store.playlist(id)?.ok_or(PlaylistError::IdTaken(id))?;
        if existing.owner_id != user.id {
            return Err(PlaylistError::IdTaken(id));
        }
        return Ok(existing.detail);
    }
    get(store, user, id)
}

pub fn update(
    store: &dyn Store,
    user: &User,
    id: PlaylistId,
    req: &UpdatePlaylistRequest,
) -> Result<PlaylistDetail> {
    writable(store.playlist(id)?, user)?;
    let name = req.name.as_deref().map(valid_name).transpose()?;
    store.update_playlist(id, name, req.public, unix_now())?;
    get(store, user, id)
}

pub fn delete(store: &dyn Store, user: &User, id: PlaylistId) -> Result<()> {
    writable(store.playlist(id)?, user)?;
    Ok(store.delete_playlist(id)?)
}

/// Order keys for `n` entries inserted at `position` (appended when None) among `entries`.
fn keys_at(entries: &[PlaylistEntry], position: Option<u32>, n: usize) -> Vec<String> {
    let at = position
        .map(|p| (p as usize).min(entries.len()))
        .unwrap_or(entries.len());
    let before = at.checked_sub(1).map(|i| entries[i].order_key.as_str());
    let after = entries.get(at).map(|e| e.order_key.as_str());
    order_key::n_between(before, after, n)
}

pub fn add_entries(
    store: &dyn Store,
    user: &User,
    id: PlaylistId,
    req: &AddEntriesRequest,
) -> Result<PlaylistDetail> {
    let playlist = writable(store.playlist(id)?, user)?;
    if req.track_ids.is_empty() || req.track_ids.len() > MAX_ENTRIES_PER_ADD {
        return Err(PlaylistError::Invalid(format!(
            "add 1-{MAX_ENTRIES_PER_ADD} tracks at a time"
        )));
    }
    if let Some(ids) = &req.entry_ids
        && ids.len() != req.track_ids.len()
    {
        return Err(PlaylistError::Invalid(
            "entry_ids must have one id per track".into(),
        ));
    }
    let mut unique: Vec<TrackId> = req.track_ids.clone();
    unique.sort();
    unique.dedup();
    let existing = store.existing_track_ids(&unique)?;
    if existing.len() != unique.len() {
        let missing = unique
            .into_iter()
            .filter(|t| !existing.contains(t))
            .collect();
        return Err(PlaylistError::UnknownTracks(missing));
    }
    let keys = keys_at(&playlist.detail.entries, req.position, req.track_ids.len());
    let entries: Vec<NewEntry> = req
        .track_ids
        .iter()
        .zip(keys)
        .enumerate()
        .map(|(i, (track_id, order_key))| NewEntry {
            id: req
                .entry_ids
                .as_ref()
                .map(|ids| ids[i])
                .unwrap_or_else(EntryId::new_v7),
            track_id: *track_id,
            order_key,
        })
        .collect();
    store.insert_entries(id, &entries, unix_now())?;
    get(store, user, id)
}

pub fn remove_entry(
    store: &dyn Store,
    user: &User,
    id: PlaylistId,
    entry: EntryId,
) -> Result<PlaylistDetail> {
    writable(store.playlist(id)?, user)?;
    if !store.remove_entry(id, entry, unix_now())? {
        return Err(PlaylistError::EntryNotFound);
    }
    get(store, user, id)
}

/// Moves an entry so that it ends up at `position` (zero-based, clamped to the end).
pub fn move_entry(
    store: &dyn Store,
    user: &User,
    id: PlaylistId,
    entry: EntryId,
    position: u32,
) -> Result<PlaylistDetail> {
    let playlist = writable(store.playlist(id)?, user)?;
    let mut others = playlist.detail.entries;
    let Some(from) = others.iter().position(|e| e.id == entry) else {
        return Err(PlaylistError::EntryNotFound);
    };
    others.remove(from);
    let key = keys_at(&others, Some(position), 1).remove(0);
    store.set_entry_key(id, entry, &key, unix_now())?;
    get(store, user, id)
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

pub fn parse_m3u8(text: &str) -> ParsedM3u {
    let mut title = None;
    let mut locations = Vec::new();
    for line in text.trim_start_matches('\u{feff}').lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("#PLAYLIST:") {
            title = Some(name.trim().to_string()).filter(|n| !n.is_empty());
        } else if !line.is_empty() && !line.starts_with('#') {
            locations.push(line.replace('\\', "/"));
        }
    }
    ParsedM3u { title, locations }
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
        );
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
    fn inserts_land_between_their_neighbours() {
        let e = |k: &str| PlaylistEntry {
            id: EntryId::new_v7(),
            track_id: TrackId(1),
            order_key: k.into(),
        };
        let entries = vec![e("VVVV"), e("VVVW"), e("VVVX")];
        let keys = keys_at(&entries, Some(1), 2);
        assert!(
            keys.iter()
                .all(|k| k.as_str() > "VVVV" && k.as_str() < "VVVW")
        );
        let appended = keys_at(&entries, None, 1);
        assert!(appended[0].as_str() > "VVVX");
        let first = keys_at(&entries, Some(0), 1);
        assert!(first[0].as_str() < "VVVV");
        assert_eq!(keys_at(&entries, Some(99), 1), appended);
    }
}
