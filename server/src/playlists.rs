//! Playlist rules: who may read or change a playlist, how REST edits and devices' pushed ops
//! become ops of the sync model (`mixtape_shared::sync`), and m3u8 import and export.
//! Persistence, and materializing ops into entries, is the store's.

use crate::auth::unix_now;
use crate::storage::{OwnedPlaylist, StorageError, Store};
use mixtape_shared::api::{
    AddEntriesRequest, CreatePlaylistRequest, Playlist, PlaylistDetail, PushOpsResponse,
    RejectedOp, Track, UpdatePlaylistRequest, User,
};
use mixtape_shared::sync::{Anchor, NewEntry, OpKind, PlaylistOp, PlaylistState};
use mixtape_shared::{DeviceId, EntryId, OpId, PlaylistId, TrackId};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

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

/// Edits made through the REST endpoints are ops from the server itself: this device id.
pub const SERVER_DEVICE: DeviceId = DeviceId(Uuid::nil());

/// At most this many ops in one push.
pub const MAX_OPS_PER_PUSH: usize = 1000;

/// Applies one op the server makes on the user's behalf, after every op the playlist has seen.
fn apply_server_op(
    store: &dyn Store,
    user: &User,
    id: PlaylistId,
    clock: u64,
    kind: OpKind,
) -> Result<PlaylistDetail> {
    let op = PlaylistOp {
        id: OpId::new_v7(),
        playlist_id: id,
        clock: clock + 1,
        device: SERVER_DEVICE,
        kind,
    };
    store.apply_playlist_ops(user.id, &[op], unix_now())?;
    get(store, user, id)
}

fn state_of(detail: &PlaylistDetail) -> PlaylistState {
    let p = &detail.playlist;
    PlaylistState::from_entries(
        p.id,
        p.name.clone(),
        p.public,
        p.clock,
        detail.entries.iter().map(|e| (e.id, e.track_id)),
    )
}

/// Creates a playlist. Replaying a create with the same client-made id returns the playlist.
pub fn create(
    store: &dyn Store,
    user: &User,
    req: &CreatePlaylistRequest,
) -> Result<PlaylistDetail> {
    let name = valid_name(&req.name)?.to_string();
    let id = req.id.unwrap_or_else(PlaylistId::new_v7);
    match store.playlist_owner(id)? {
        Some(owner) if owner == user.id => {
            return store
                .playlist(id)?
                .map(|p| p.detail)
                .ok_or(PlaylistError::IdTaken(id));
        }
        Some(_) => return Err(PlaylistError::IdTaken(id)),
        None => {}
    }
    let kind = OpKind::Create {
        name,
        public: req.public,
    };
    apply_server_op(store, user, id, 0, kind)
}

pub fn update(
    store: &dyn Store,
    user: &User,
    id: PlaylistId,
    req: &UpdatePlaylistRequest,
) -> Result<PlaylistDetail> {
    let playlist = writable(store.playlist(id)?, user)?;
    let name = req.name.as_deref().map(valid_name).transpose()?;
    let mut clock = playlist.detail.playlist.clock;
    let mut detail = playlist.detail;
    if let Some(name) = name {
        detail = apply_server_op(store, user, id, clock, OpKind::Rename { name: name.into() })?;
        clock = detail.playlist.clock;
    }
    if let Some(public) = req.public {
        detail = apply_server_op(store, user, id, clock, OpKind::SetPublic { public })?;
    }
    Ok(detail)
}

pub fn delete(store: &dyn Store, user: &User, id: PlaylistId) -> Result<()> {
    let playlist = writable(store.playlist(id)?, user)?;
    let op = PlaylistOp {
        id: OpId::new_v7(),
        playlist_id: id,
        clock: playlist.detail.playlist.clock + 1,
        device: SERVER_DEVICE,
        kind: OpKind::Delete,
    };
    store.apply_playlist_ops(user.id, &[op], unix_now())?;
    Ok(())
}

fn check_tracks(store: &dyn Store, track_ids: &[TrackId]) -> Result<()> {
    if track_ids.is_empty() || track_ids.len() > MAX_ENTRIES_PER_ADD {
        return Err(PlaylistError::Invalid(format!(
            "add 1-{MAX_ENTRIES_PER_ADD} tracks at a time"
        )));
    }
    let mut unique: Vec<TrackId> = track_ids.to_vec();
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
    Ok(())
}

/// Inserts tracks at `position` (appended when None); the batch stays together.
pub fn add_entries(
    store: &dyn Store,
    user: &User,
    id: PlaylistId,
    req: &AddEntriesRequest,
) -> Result<PlaylistDetail> {
    let playlist = writable(store.playlist(id)?, user)?;
    if let Some(ids) = &req.entry_ids
        && ids.len() != req.track_ids.len()
    {
        return Err(PlaylistError::Invalid(
            "entry_ids must have one id per track".into(),
        ));
    }
    check_tracks(store, &req.track_ids)?;
    let at = match req.position {
        Some(p) => state_of(&playlist.detail).anchor_at(p as usize, None),
        None => Anchor::End,
    };
    let entries = req
        .track_ids
        .iter()
        .enumerate()
        .map(|(i, track_id)| NewEntry {
            id: req
                .entry_ids
                .as_ref()
                .map(|ids| ids[i])
                .unwrap_or_else(EntryId::new_v7),
            track_id: *track_id,
        })
        .collect();
    let clock = playlist.detail.playlist.clock;
    apply_server_op(store, user, id, clock, OpKind::Add { entries, at })
}

pub fn remove_entry(
    store: &dyn Store,
    user: &User,
    id: PlaylistId,
    entry: EntryId,
) -> Result<PlaylistDetail> {
    let playlist = writable(store.playlist(id)?, user)?;
    if !playlist.detail.entries.iter().any(|e| e.id == entry) {
        return Err(PlaylistError::EntryNotFound);
    }
    let clock = playlist.detail.playlist.clock;
    apply_server_op(store, user, id, clock, OpKind::Remove { entry })
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
    if !playlist.detail.entries.iter().any(|e| e.id == entry) {
        return Err(PlaylistError::EntryNotFound);
    }
    let to = state_of(&playlist.detail).anchor_at(position as usize, Some(entry));
    let clock = playlist.detail.playlist.clock;
    apply_server_op(store, user, id, clock, OpKind::Move { entry, to })
}

/// Why one op of a push cannot apply, ever.
fn rejection(op: &PlaylistOp, code: &str, message: String) -> RejectedOp {
    RejectedOp {
        id: op.id,
        code: code.into(),
        message,
    }
}

/// Applies a device's ops: each op id once (a replayed push is a no-op), ops that can never
/// apply are reported, not fatal, so one bad op cannot wedge a device's outbox.
pub fn push_ops(store: &dyn Store, user: &User, ops: Vec<PlaylistOp>) -> Result<PushOpsResponse> {
    if ops.len() > MAX_OPS_PER_PUSH {
        return Err(PlaylistError::Invalid(format!(
            "push at most {MAX_OPS_PER_PUSH} ops at a time"
        )));
    }
    let mut rejected = Vec::new();
    let mut accepted: Vec<PlaylistOp> = Vec::new();
    // Playlists this push creates: later ops in the same push may act on them.
    let mut created: HashSet<PlaylistId> = HashSet::new();
    for op in ops {
        if i64::try_from(op.clock).is_err() {
            rejected.push(rejection(
                &op,
                "invalid",
                format!("clock {} is too large", op.clock),
            ));
            continue;
        }
        let owner = store.playlist_owner(op.playlist_id)?;
        let mine = owner == Some(user.id) || created.contains(&op.playlist_id);
        let problem = match (&op.kind, owner) {
            (_, Some(owner)) if owner != user.id => {
                Some(("not_found", format!("no such playlist {}", op.playlist_id)))
            }
            (OpKind::Create { name, .. }, _) => {
                valid_name(name).err().map(|e| ("invalid", e.to_string()))
            }
            (_, _) if !mine => Some(("not_found", format!("no such playlist {}", op.playlist_id))),
            (OpKind::Rename { name }, _) => {
                valid_name(name).err().map(|e| ("invalid", e.to_string()))
            }
            (OpKind::Add { entries, .. }, _) => {
                let tracks: Vec<TrackId> = entries.iter().map(|e| e.track_id).collect();
                match check_tracks(store, &tracks) {
                    Ok(()) => None,
                    Err(PlaylistError::Storage(e)) => return Err(e.into()),
                    Err(e @ PlaylistError::UnknownTracks(_)) => {
                        Some(("unknown_tracks", e.to_string()))
                    }
                    Err(e) => Some(("invalid", e.to_string())),
                }
            }
            _ => None,
        };
        match problem {
            Some((code, message)) => rejected.push(rejection(&op, code, message)),
            None => {
                if matches!(op.kind, OpKind::Create { .. }) {
                    created.insert(op.playlist_id);
                }
                accepted.push(op);
            }
        }
    }
    let new = store.apply_playlist_ops(user.id, &accepted, unix_now())?;
    Ok(PushOpsResponse {
        accepted: new as u32,
        duplicates: (accepted.len() as u64 - new) as u32,
        rejected,
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
}
