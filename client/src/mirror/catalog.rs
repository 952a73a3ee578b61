//! The mirrored catalog: tracks by id, local search, the album-artist list and albums.

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

    /// Full-text search of the local catalog: every query word must appear (as a substring, case
    /// and accents aside) in the title, artists or album; best matches first.
    pub fn search(&self, query: &str, limit: u32) -> MirrorResult<Vec<Track>> {
        let folded = fold(query);
        let words: Vec<&str> = folded
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let long: Vec<String> = words
            .iter()
            .filter(|w| w.chars().count() >= 3)
            .map(|w| format!("\"{w}\""))
            .collect();
        let short: Vec<&str> = words
            .iter()
            .copied()
            .filter(|w| w.chars().count() < 3)
            .collect();
        // Rank on the folded text alone; only the winners' JSON is read and parsed.
        let rows: Vec<(i64, String)> = if long.is_empty() {
            // Trigrams need three letters: short queries match word starts with LIKE instead.
            let pattern = format!("%{}%", short.join("%"));
            self.conn
                .prepare_cached(
                    "SELECT rowid, text FROM track_search WHERE text LIKE ?1 LIMIT 2000",
                )?
                .query_map([pattern], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?
        } else {
            self.conn
                .prepare_cached(
                    "SELECT rowid, text FROM track_search WHERE track_search MATCH ?1 LIMIT 2000",
                )?
                .query_map([long.join(" AND ")], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?
        };
        let mut scored: Vec<(u32, usize, i64)> = Vec::new();
        for (id, text) in rows {
            if !short.iter().all(|w| text.contains(w)) {
                continue;
            }
            // Whole words before word starts before mere substrings, and each in the title
            // before the artists and album; then shorter texts first.
            let (title, rest) = text.split_once(TITLE_END).unwrap_or((&text, ""));
            let split = |s: &'_ str| -> Vec<String> {
                s.split(|c: char| !c.is_alphanumeric())
                    .map(str::to_string)
                    .collect()
            };
            let (title_words, rest_words) = (split(title), split(rest));
            let score = words
                .iter()
                .map(|w| {
                    let whole = |ws: &[String]| ws.iter().any(|t| t == w);
                    let start = |ws: &[String]| ws.iter().any(|t| t.starts_with(w));
                    if whole(&title_words) {
                        0
                    } else if whole(&rest_words) {
                        1
                    } else if start(&title_words) {
                        2
                    } else if start(&rest_words) {
                        3
                    } else {
                        4
                    }
                })
                .sum();
            scored.push((score, text.len(), id));
        }
        scored.sort_unstable();
        let ids: Vec<TrackId> = scored
            .into_iter()
            .take(limit as usize)
            .map(|(_, _, id)| TrackId(id))
            .collect();
        self.tracks(&ids)
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
