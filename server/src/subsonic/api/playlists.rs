//! Playlists: the Subsonic playlist calls over the playlist domain (`crate::playlists`).

use super::*;
use crate::playlists;

pub(super) fn playlist_id(p: &Params, name: &str) -> Result<PlaylistId, SubsonicError> {
    p.required(name)?
        .trim()
        .parse()
        .map_err(|_| SubsonicError::not_found("playlist"))
}

pub(super) fn playlist_answer(ctx: &Ctx, detail: &PlaylistDetail) -> Answer {
    let ids: Vec<TrackId> = detail.entries.iter().map(|e| e.track_id).collect();
    let tracks = tracks_by_id(ctx, &ids)?;
    let in_order: Vec<Track> = ids
        .iter()
        .filter_map(|id| tracks.get(id).cloned())
        .collect();
    let entries = songs(ctx, &in_order)?;
    Payload::one(
        "playlist",
        &PlaylistOut::from_playlist(&detail.playlist, ctx.user, Some(entries)),
    )
}

pub(super) fn get_playlists(ctx: &Ctx, p: &Params) -> Answer {
    let user = match p.get("username") {
        Some(name) if !name.eq_ignore_ascii_case(&ctx.user.username) => {
            if !ctx.user.is_admin {
                return Err(SubsonicError::new(
                    Code::NotAuthorized,
                    "only an administrator can list another user's playlists",
                ));
            }
            ctx.store
                .user_by_name(name)?
                .ok_or_else(|| SubsonicError::not_found("user"))?
                .user
        }
        _ => ctx.user.clone(),
    };
    let playlist = playlists::list(ctx.store, &user)?
        .iter()
        .map(|pl| PlaylistOut::from_playlist(pl, ctx.user, None))
        .collect();
    Payload::one("playlists", &Playlists { playlist })
}

pub(super) fn get_playlist(ctx: &Ctx, p: &Params) -> Answer {
    let id = playlist_id(p, "id")?;
    let detail = playlists::get(ctx.store, ctx.user, id)?;
    playlist_answer(ctx, &detail)
}

pub(super) fn track_ids(p: &Params, name: &str) -> Result<Vec<TrackId>, SubsonicError> {
    p.all(name)
        .into_iter()
        .map(|s| ids::parse_track(s).ok_or_else(|| SubsonicError::not_found("song")))
        .collect()
}

/// The entries at these positions (of the playlist as it is now), each once.
pub(super) fn entries_at(
    detail: &PlaylistDetail,
    positions: &[usize],
) -> Result<Vec<EntryId>, SubsonicError> {
    let mut entries = Vec::new();
    for &i in positions {
        let entry = detail
            .entries
            .get(i)
            .ok_or_else(|| SubsonicError::not_found(&format!("playlist entry {i}")))?;
        if !entries.contains(&entry.id) {
            entries.push(entry.id);
        }
    }
    Ok(entries)
}

pub(super) fn create_playlist(ctx: &Ctx, p: &Params) -> Answer {
    let songs = track_ids(p, "songId")?;
    let detail = match p.get("playlistId") {
        // Replaces the songs of an existing playlist, as one batch of ops.
        Some(_) => {
            let id = playlist_id(p, "playlistId")?;
            let detail = playlists::get(ctx.store, ctx.user, id)?;
            let edit = playlists::BatchEdit {
                name: p.get("name").map(str::to_string),
                remove: detail.entries.iter().map(|e| e.id).collect(),
                append: songs,
                ..Default::default()
            };
            playlists::edit_batch(ctx.store, ctx.user, id, &edit)?
        }
        None => {
            let name = p
                .get("name")
                .ok_or_else(|| SubsonicError::missing("name or playlistId"))?;
            playlists::create_with_tracks(ctx.store, ctx.user, name, &songs)?
        }
    };
    playlist_answer(ctx, &detail)
}

pub(super) fn update_playlist(ctx: &Ctx, p: &Params) -> Answer {
    let id = playlist_id(p, "playlistId")?;
    let add = track_ids(p, "songIdToAdd")?;
    let remove: Vec<usize> = p.numbers("songIndexToRemove")?;
    // Ownership first, so nothing is changed for a request that cannot finish.
    let detail = playlists::get(ctx.store, ctx.user, id)?;
    if detail.playlist.owner != ctx.user.username {
        return Err(SubsonicError::new(
            Code::NotAuthorized,
            "only the owner can change this playlist",
        ));
    }
    // Every change of the request in one batch: one transaction, one materialize.
    let edit = playlists::BatchEdit {
        name: p.get("name").map(str::to_string),
        public: p.boolean("public")?,
        remove: entries_at(&detail, &remove)?,
        append: add,
    };
    playlists::edit_batch(ctx.store, ctx.user, id, &edit)?;
    Ok(Payload::empty())
}

pub(super) fn delete_playlist(ctx: &Ctx, p: &Params) -> Answer {
    let id = playlist_id(p, "id")?;
    playlists::delete(ctx.store, ctx.user, id)?;
    Ok(Payload::empty())
}
