//! Playlist rules: who may read or change a playlist, how REST edits and devices' pushed ops
//! become ops of the sync model (`mixtape_shared::sync`), and m3u8 import and export.
//! Persistence, and materializing ops into entries, is the store's.

use crate::auth::unix_now;
use crate::storage::{OwnedPlaylist, StorageError, Store};
use mixtape_shared::api::{
    AddEntriesRequest, CreatePlaylistRequest, Playlist, PlaylistDetail, PushOpsResponse,
    RejectedOp, UpdatePlaylistRequest, User,
};
use mixtape_shared::sync::{Anchor, NewEntry, OpKind, PlaylistOp, PlaylistState};
use mixtape_shared::{DeviceId, EntryId, OpId, PlaylistId, TrackId};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

mod m3u;

pub use m3u::{
    Location, MAX_IMPORT_LINES, ParsedM3u, import_m3u, parse_m3u8, resolve_location, to_m3u8,
};

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
    /// An entry id the playlist has held (even if removed since): ids name one entry forever.
    #[error("entry id {0} is already used in this playlist")]
    EntryTaken(EntryId),
    #[error("give the playlist a name: ?name=...")]
    NoName,
    /// The request was dropped (the client gave up): the work stopped, nothing was written.
    #[error("the request was cancelled")]
    Cancelled,
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
    apply_server_ops(store, user, id, clock, vec![kind])
}

/// Applies ops the server makes, in this order, as one batch: one transaction, one materialize.
fn apply_server_ops(
    store: &dyn Store,
    user: &User,
    id: PlaylistId,
    clock: u64,
    kinds: Vec<OpKind>,
) -> Result<PlaylistDetail> {
    let ops: Vec<PlaylistOp> = kinds
        .into_iter()
        .zip(clock + 1..)
        .map(|(kind, clock)| PlaylistOp {
            id: OpId::new_v7(),
            playlist_id: id,
            clock,
            device: SERVER_DEVICE,
            kind,
        })
        .collect();
    if !ops.is_empty() {
        store.apply_playlist_ops(user.id, &ops, unix_now())?;
    }
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

/// Every entry id the playlist has held, removed ones included.
fn entry_ids_of(store: &dyn Store, playlist: PlaylistId) -> Result<HashSet<EntryId>> {
    Ok(store
        .playlist_state(playlist)?
        .map(|state| state.slots.iter().map(|s| s.entry).collect())
        .unwrap_or_default())
}

/// Entry ids of a new add: distinct, and not among `taken` (the playlist's, see
/// [`entry_ids_of`]). Other playlists' ids do not matter: ids are scoped to their playlist, so
/// nobody can squat another user's future entries.
fn check_entry_ids(ids: &[EntryId], taken: &HashSet<EntryId>) -> Result<()> {
    let mut distinct = HashSet::with_capacity(ids.len());
    if !ids.iter().all(|id| distinct.insert(*id)) {
        return Err(PlaylistError::Invalid("entry ids must be distinct".into()));
    }
    match ids.iter().find(|id| taken.contains(id)) {
        Some(id) => Err(PlaylistError::EntryTaken(*id)),
        None => Ok(()),
    }
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
    if let Some(ids) = &req.entry_ids {
        check_entry_ids(ids, &entry_ids_of(store, id)?)?;
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

/// A Subsonic-style save: rename, change visibility, remove entries, append tracks.
#[derive(Debug, Default)]
pub struct BatchEdit {
    pub name: Option<String>,
    pub public: Option<bool>,
    pub remove: Vec<EntryId>,
    pub append: Vec<TrackId>,
}

/// Applies a [`BatchEdit`] as one batch of ops (one transaction, one materialize), so replacing
/// a long playlist's songs costs one write, not one per entry. Nothing changes unless all of it
/// is valid.
pub fn edit_batch(
    store: &dyn Store,
    user: &User,
    id: PlaylistId,
    edit: &BatchEdit,
) -> Result<PlaylistDetail> {
    let playlist = writable(store.playlist(id)?, user)?;
    let mut kinds = Vec::new();
    if let Some(name) = &edit.name {
        kinds.push(OpKind::Rename {
            name: valid_name(name)?.into(),
        });
    }
    if let Some(public) = edit.public {
        kinds.push(OpKind::SetPublic { public });
    }
    let present: HashSet<EntryId> = playlist.detail.entries.iter().map(|e| e.id).collect();
    let mut removed = HashSet::new();
    for entry in &edit.remove {
        if !present.contains(entry) {
            return Err(PlaylistError::EntryNotFound);
        }
        if removed.insert(*entry) {
            kinds.push(OpKind::Remove { entry: *entry });
        }
    }
    kinds.extend(appends(store, &edit.append)?);
    apply_server_ops(store, user, id, playlist.detail.playlist.clock, kinds)
}

/// Creates a private playlist holding these tracks in one transaction: the create and the adds
/// commit together or not at all (an m3u import or a Subsonic create leaves nothing behind
/// when its tracks are refused).
pub fn create_with_tracks(
    store: &dyn Store,
    user: &User,
    name: &str,
    track_ids: &[TrackId],
) -> Result<PlaylistDetail> {
    let mut kinds = vec![OpKind::Create {
        name: valid_name(name)?.to_string(),
        public: false,
    }];
    kinds.extend(appends(store, track_ids)?);
    apply_server_ops(store, user, PlaylistId::new_v7(), 0, kinds)
}

/// Adds at the end of these tracks, in chunks of at most `MAX_ENTRIES_PER_ADD`, each checked.
fn appends(store: &dyn Store, track_ids: &[TrackId]) -> Result<Vec<OpKind>> {
    let mut kinds = Vec::new();
    for chunk in track_ids.chunks(MAX_ENTRIES_PER_ADD) {
        check_tracks(store, chunk)?;
        kinds.push(OpKind::Add {
            entries: chunk
                .iter()
                .map(|&track_id| NewEntry {
                    id: EntryId::new_v7(),
                    track_id,
                })
                .collect(),
            at: Anchor::End,
        });
    }
    Ok(kinds)
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
    // A replayed op is a duplicate, not a conflict with the entries it added itself.
    let op_ids: Vec<OpId> = ops.iter().map(|op| op.id).collect();
    let known = store.known_playlist_ops(user.id, &op_ids)?;
    // Entry ids each playlist has held, with those taken by earlier adds of this push.
    let mut taken: HashMap<PlaylistId, HashSet<EntryId>> = HashMap::new();
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
            (OpKind::Add { .. }, _) if known.contains(&op.id) => None,
            (OpKind::Add { entries, .. }, _) => {
                let tracks: Vec<TrackId> = entries.iter().map(|e| e.track_id).collect();
                let ids: Vec<EntryId> = entries.iter().map(|e| e.id).collect();
                let used = match taken.entry(op.playlist_id) {
                    Entry::Occupied(o) => o.into_mut(),
                    Entry::Vacant(v) => v.insert(entry_ids_of(store, op.playlist_id)?),
                };
                match check_entry_ids(&ids, used).and_then(|()| check_tracks(store, &tracks)) {
                    Ok(()) => {
                        used.extend(ids);
                        None
                    }
                    Err(e @ PlaylistError::EntryTaken(_)) => Some(("conflict", e.to_string())),
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
