//! Playlists as the user sees them: the canonical state last pulled with pending ops on top,
//! and which playlists are kept offline.

use super::*;

impl Mirror {
    /// The user's playlists (and others' public ones) as the user sees them, by name.
    pub fn playlists(&self) -> MirrorResult<Vec<PlaylistView>> {
        let pending = self.pending_ops_by_playlist()?;
        let offline = self.offline_playlists()?;
        let canonical = self.canonical_playlists()?;
        let mut views = Vec::new();
        for (id, (state, owner)) in &canonical {
            let ops = pending.get(id).map(Vec::as_slice).unwrap_or_default();
            let mut state = state.clone();
            for op in ops {
                state.apply(op);
            }
            if !state.deleted {
                views.push(view(
                    &state,
                    Some(owner.clone()),
                    false,
                    ops.len(),
                    &offline,
                ));
            }
        }
        for (id, ops) in &pending {
            if canonical.contains_key(id) {
                continue;
            }
            if let Some(state) = materialize(ops.iter())
                && !state.deleted
            {
                views.push(view(&state, None, true, ops.len(), &offline));
            }
        }
        views.sort_by_cached_key(|p| (p.name.to_lowercase(), p.id.0));
        Ok(views)
    }

    /// A playlist by id or exact name (case-insensitive).
    pub fn find_playlist(&self, name_or_id: &str) -> MirrorResult<PlaylistView> {
        let all = self.playlists()?;
        if let Ok(id) = name_or_id.parse::<PlaylistId>()
            && let Some(p) = all.iter().find(|p| p.id == id)
        {
            return Ok(p.clone());
        }
        let mut named = all
            .into_iter()
            .filter(|p| p.name.eq_ignore_ascii_case(name_or_id) || p.name == name_or_id);
        match (named.next(), named.next()) {
            (Some(p), None) => Ok(p),
            (Some(_), Some(_)) => Err(MirrorError::AmbiguousPlaylist(name_or_id.into())),
            _ => Err(MirrorError::NoSuchPlaylist(name_or_id.into())),
        }
    }

    fn canonical_playlists(&self) -> MirrorResult<HashMap<PlaylistId, (PlaylistState, String)>> {
        let rows: Vec<(String, String, String, bool, i64)> = self
            .conn
            .prepare_cached("SELECT id, owner, name, public, clock FROM playlists")?
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<_, _>>()?;
        let mut out = HashMap::new();
        for (id, owner, name, public, clock) in rows {
            let pid: PlaylistId = id.parse().map_err(|_| corrupt(format!("playlist {id}")))?;
            let entries: Vec<(EntryId, TrackId)> = self
                .conn
                .prepare_cached(
                    "SELECT entry_id, track_id FROM playlist_entries WHERE playlist_id = ?1 ORDER BY position",
                )?
                .query_map([&id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                .map(|row| {
                    let (entry, track) = row?;
                    let entry = entry.parse().map_err(|_| corrupt(format!("entry {entry}")))?;
                    Ok((entry, TrackId(track)))
                })
                .collect::<MirrorResult<_>>()?;
            let state =
                PlaylistState::from_entries(pid, name, public, clock.max(0) as u64, entries);
            out.insert(pid, (state, owner));
        }
        Ok(out)
    }

    fn pending_ops_by_playlist(&self) -> MirrorResult<HashMap<PlaylistId, Vec<PlaylistOp>>> {
        let mut out: HashMap<PlaylistId, Vec<PlaylistOp>> = HashMap::new();
        for op in self.pending_ops(u32::MAX)? {
            out.entry(op.playlist_id).or_default().push(op);
        }
        Ok(out)
    }

    pub fn set_offline(&self, id: PlaylistId, offline: bool) -> MirrorResult<()> {
        if offline {
            self.conn.execute(
                "INSERT OR IGNORE INTO offline_playlists (playlist_id) VALUES (?1)",
                [id.to_string()],
            )?;
        } else {
            self.conn.execute(
                "DELETE FROM offline_playlists WHERE playlist_id = ?1",
                [id.to_string()],
            )?;
            self.conn
                .execute("DELETE FROM meta WHERE key = ?1", [offline_quality_key(id)])?;
        }
        Ok(())
    }

    /// The quality an offline playlist is kept in; `None` when it was marked before qualities
    /// existed or never given one (the caller's default applies).
    pub fn offline_quality(&self, id: PlaylistId) -> MirrorResult<Option<String>> {
        super::meta(&self.conn, &offline_quality_key(id))
    }

    /// Records the quality an offline playlist is kept in.
    pub fn set_offline_quality(&self, id: PlaylistId, quality: &str) -> MirrorResult<()> {
        super::set_meta(&self.conn, &offline_quality_key(id), quality)
    }

    pub fn offline_playlists(&self) -> MirrorResult<Vec<PlaylistId>> {
        self.conn
            .prepare_cached("SELECT playlist_id FROM offline_playlists ORDER BY playlist_id")?
            .query_map([], |r| r.get::<_, String>(0))?
            .map(|id| {
                let id = id?;
                id.parse().map_err(|_| corrupt(format!("playlist {id}")))
            })
            .collect()
    }
}

/// Kept in `meta` (a device-local fact like the offline mark; no schema change needed).
fn offline_quality_key(id: PlaylistId) -> String {
    format!("offline_quality:{id}")
}

fn view(
    state: &PlaylistState,
    owner: Option<String>,
    local_only: bool,
    pending_ops: usize,
    offline: &[PlaylistId],
) -> PlaylistView {
    PlaylistView {
        id: state.id,
        name: state.name.clone(),
        owner,
        public: state.public,
        local_only,
        pending_ops,
        offline: offline.contains(&state.id),
        entries: state
            .entries()
            .map(|(entry_id, track_id)| EntryView { entry_id, track_id })
            .collect(),
    }
}
