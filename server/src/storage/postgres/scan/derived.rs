//! What a scan batch derives from the tracks it wrote: album and artist counts and search rows
//! (written once at the batch's end), the playlists on shards to touch after it commits, and
//! the pruning of what no track uses any more.

use super::Batch;
use crate::storage::postgres::{PgStore, write_on};
use crate::storage::*;
use ::postgres::Transaction;
use mixtape_shared::UserId;

impl Batch<'_, '_> {
    /// Recomputes the denormalized counts of the albums and artists the batch touched.
    pub(super) fn refresh_counts(&mut self) -> StorageResult<()> {
        let albums: Vec<i64> = self.albums.iter().copied().collect();
        let artists: Vec<i64> = self.artists.iter().copied().collect();
        self.execute(
            // One pass over the batch's albums' tracks for all of them, grouped: four
            // subqueries per album cost a quarter of a first scan's time in PostgreSQL.
            "UPDATE albums al SET
               track_count = coalesce(t.n, 0),
               duration_ms = coalesce(t.duration, 0),
               year = t.year,
               genre_names = coalesce(g.names, '')
             FROM unnest($1::bigint[]) AS a(id)
             LEFT JOIN (
               SELECT album_id, count(*) AS n, sum(duration_ms)::bigint AS duration, max(year) AS year
               FROM tracks WHERE album_id = ANY($1) GROUP BY album_id
             ) t ON t.album_id = a.id
             LEFT JOIN (
               SELECT album_id, string_agg(name, chr(31) ORDER BY name COLLATE \"C\") AS names
               FROM (
                 SELECT DISTINCT t.album_id, g.name FROM tracks t
                 JOIN track_genres tg ON tg.track_id = t.id JOIN genres g ON g.id = tg.genre_id
                 WHERE t.album_id = ANY($1)
               ) n GROUP BY album_id
             ) g ON g.album_id = a.id
             WHERE al.id = a.id",
            &[&albums],
        )?;
        self.execute(
            "UPDATE artists ar SET
               album_count = (SELECT count(*) FROM albums WHERE album_artist_id = ar.id AND track_count > 0),
               track_count = (SELECT count(*) FROM track_artists WHERE artist_id = ar.id)
             WHERE ar.id = ANY($1)",
            &[&artists],
        )?;
        Ok(())
    }

    /// Writes the batch's search rows, one statement per table.
    pub(super) fn write_search(&mut self) -> StorageResult<()> {
        if !self.track_search.is_empty() {
            let mut ids = Vec::new();
            let (mut titles, mut artists, mut albums) = (Vec::new(), Vec::new(), Vec::new());
            for (id, (t, ar, al)) in std::mem::take(&mut self.track_search) {
                ids.push(id);
                titles.push(t);
                artists.push(ar);
                albums.push(al);
            }
            self.execute(
                "INSERT INTO track_search (id, title, artists, album)
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])
                 ON CONFLICT (id) DO UPDATE SET title = excluded.title, artists = excluded.artists,
                   album = excluded.album",
                &[&ids, &titles, &artists, &albums],
            )?;
        }
        if !self.album_search.is_empty() {
            let rows = std::mem::take(&mut self.album_search);
            let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
            let titles: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
            let artists: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
            self.execute(
                "INSERT INTO album_search (id, title, artist)
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[]) ON CONFLICT (id) DO NOTHING",
                &[&ids, &titles, &artists],
            )?;
        }
        if !self.artist_search.is_empty() {
            let rows = std::mem::take(&mut self.artist_search);
            let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
            let names: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
            self.execute(
                "INSERT INTO artist_search (id, name)
                 SELECT * FROM unnest($1::bigint[], $2::text[]) ON CONFLICT (id) DO NOTHING",
                &[&ids, &names],
            )?;
        }
        Ok(())
    }
}

impl PgStore {
    /// After a scan batch committed: each shard records a change of every playlist holding
    /// one of `tracks`, so its owner's devices refetch it (availability is the catalog's). A
    /// node that dies between the batch and this leaves those playlists' flags stale until
    /// their next change.
    pub(crate) fn touch_shard_playlists(&self, tracks: &[i64]) -> StorageResult<()> {
        if tracks.is_empty() {
            return Ok(());
        }
        for shard in self.shard_ids() {
            let mut conn = self.home_connection(shard)?;
            write_on(&mut conn, None, |tx, changes| {
                for r in tx.query(
                    "SELECT DISTINCT p.id::text, p.owner_id FROM playlist_entries e
                     JOIN playlists p ON p.id = e.playlist_id WHERE e.track_id = ANY($1)",
                    &[&tracks],
                )? {
                    changes.push("playlist", r.get(0), Some(UserId(r.get(1))), false);
                }
                Ok(())
            })?;
        }
        Ok(())
    }
}

pub(in crate::storage::postgres) fn prune_orphans(tx: &mut Transaction<'_>) -> StorageResult<()> {
    // Search rows go with their albums and artists (ON DELETE CASCADE).
    tx.batch_execute(
        "DELETE FROM albums WHERE NOT EXISTS (SELECT 1 FROM tracks WHERE album_id = albums.id);
         DELETE FROM artists WHERE NOT EXISTS (SELECT 1 FROM track_artists WHERE artist_id = artists.id)
             AND NOT EXISTS (SELECT 1 FROM tracks WHERE album_artist_id = artists.id)
             AND NOT EXISTS (SELECT 1 FROM albums WHERE album_artist_id = artists.id);
         DELETE FROM genres WHERE NOT EXISTS (SELECT 1 FROM track_genres WHERE genre_id = genres.id);
         DELETE FROM art WHERE hash NOT IN (SELECT cover_art FROM tracks WHERE cover_art IS NOT NULL)
             AND hash NOT IN (SELECT cover_art FROM albums WHERE cover_art IS NOT NULL);
         DELETE FROM art_sources WHERE hash NOT IN (SELECT hash FROM art);
         DELETE FROM art_sources WHERE kind = 'embedded' AND NOT EXISTS
             (SELECT 1 FROM tracks t WHERE t.path = art_sources.path AND t.cover_art = art_sources.hash);
         -- A folder image's folder is its path up to the last '/'.
         DELETE FROM art_sources WHERE kind = 'file' AND NOT EXISTS
             (SELECT 1 FROM tracks t WHERE t.cover_art = art_sources.hash
                 AND starts_with(t.path, regexp_replace(art_sources.path, '[^/]*$', '')));
         UPDATE artists SET album_count = (SELECT count(*) FROM albums WHERE album_artist_id = artists.id);",
    )?;
    Ok(())
}
