//! The mirrored catalog: tracks by id, the album-artist list and albums (search: `search.rs`).

use super::*;

impl Mirror {
    pub fn track_count(&self) -> MirrorResult<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM tracks", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    pub fn track(&self, id: TrackId) -> MirrorResult<Option<Track>> {
        self.conn
            .prepare_cached("SELECT json FROM tracks WHERE id = ?1")?
            .query_row([id.0], |r| r.get::<_, String>(0))
            .optional()?
            .map(|json| serde_json::from_str(&json).map_err(corrupt))
            .transpose()
    }

    /// The tracks with these ids that the mirror has, in the order asked.
    pub fn tracks(&self, ids: &[TrackId]) -> MirrorResult<Vec<Track>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(t) = self.track(*id)? {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// Album artists with their album counts, by name: the first column of the Library.
    pub fn album_artists(&self) -> MirrorResult<Vec<(mixtape_shared::ArtistId, String, u32)>> {
        self.refresh_album_artists()?;
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, name, albums FROM album_artists ORDER BY name COLLATE NOCASE, id",
            )?
            .query_map([], |r| {
                Ok((
                    mixtape_shared::ArtistId(r.get(0)?),
                    r.get(1)?,
                    r.get::<_, i64>(2)? as u32,
                ))
            })?
            .collect::<Result<_, _>>()?)
    }

    /// Rebuilds the album-artist list if tracks changed since it was last built (a sync calls
    /// this after its pull, so the next start finds it ready).
    pub fn refresh_album_artists(&self) -> MirrorResult<()> {
        if meta(&self.conn, "artists_dirty")?.as_deref() != Some("1") {
            return Ok(());
        }
        let tx = self.conn.unchecked_transaction()?;
        tx.execute_batch(
            "DELETE FROM album_artists;
             INSERT INTO album_artists (id, name, albums)
                 SELECT album_artist_id, coalesce(album_artist, ''), count(DISTINCT album_id)
                 FROM tracks WHERE album_artist_id IS NOT NULL GROUP BY album_artist_id;
             DELETE FROM meta WHERE key = 'artists_dirty';",
        )?;
        tx.commit()?;
        Ok(())
    }

    /// An album artist's albums: (id, title, year, track count), by year then title.
    #[allow(clippy::type_complexity)]
    pub fn albums_of(
        &self,
        artist: mixtape_shared::ArtistId,
    ) -> MirrorResult<Vec<(mixtape_shared::AlbumId, String, Option<i32>, u32)>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT album_id, album, max(year), count(*) FROM tracks
                 WHERE album_artist_id = ?1 AND album_id IS NOT NULL
                 GROUP BY album_id ORDER BY max(year), album COLLATE NOCASE",
            )?
            .query_map([artist.0], |r| {
                Ok((
                    mixtape_shared::AlbumId(r.get(0)?),
                    r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    r.get(2)?,
                    r.get::<_, i64>(3)? as u32,
                ))
            })?
            .collect::<Result<_, _>>()?)
    }

    /// An album's tracks in disc and track order.
    pub fn album_tracks(&self, album: mixtape_shared::AlbumId) -> MirrorResult<Vec<Track>> {
        self.conn
            .prepare_cached(
                "SELECT json FROM tracks WHERE album_id = ?1
                 ORDER BY coalesce(disc_number, 1), coalesce(track_number, 0), title",
            )?
            .query_map([album.0], |r| r.get::<_, String>(0))?
            .map(|json| serde_json::from_str(&json?).map_err(corrupt))
            .collect()
    }

    /// Content hashes (with sizes) of every track any offline playlist holds.
    pub fn tracks_of(&self, ids: &[TrackId]) -> MirrorResult<Vec<(TrackId, String, u64)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT content_hash, size_bytes FROM tracks WHERE id = ?1")?;
        let mut out = Vec::new();
        for id in ids {
            if let Some((hash, size)) = stmt
                .query_row([id.0], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })
                .optional()?
            {
                out.push((*id, hash, size.max(0) as u64));
            }
        }
        Ok(out)
    }
}
