//! The offset-paged catalog reads of the OpenSubsonic API (`sqlite/subsonic.rs`'s catalog part).
//! SQLite sorts NULLs first in ascending order; PostgreSQL last, hence the `NULLS FIRST`s.

use super::catalog::{ARTIST_SELECT, TRACK_SELECT, artist_from_row, map_rows, track_from_row};
use crate::storage::*;
use ::postgres::Transaction;
use ::postgres::types::ToSql;
use mixtape_shared::api::{Artist, Track};

const BY_ARTIST: &str = "(t.album_artist_id = $1 OR EXISTS (SELECT 1 FROM track_artists ta
    WHERE ta.track_id = t.id AND ta.artist_id = $1))";

pub(super) fn track_list(
    tx: &mut Transaction<'_>,
    query: &TrackQuery,
    offset: u32,
    count: u32,
) -> StorageResult<Vec<Track>> {
    let limit = i64::from(count);
    let skip = i64::from(offset);
    let ids_of = |ids: &[mixtape_shared::TrackId]| ids.iter().map(|t| t.0).collect::<Vec<i64>>();
    let rows = match query {
        TrackQuery::All => tx.query(
            &format!("{TRACK_SELECT} ORDER BY t.id LIMIT $1 OFFSET $2"),
            &[&limit, &skip],
        )?,
        TrackQuery::Genre(genre) => tx.query(
            &format!(
                "{TRACK_SELECT} WHERE EXISTS (SELECT 1 FROM track_genres tg JOIN genres g ON g.id = tg.genre_id
                   WHERE tg.track_id = t.id AND lower(g.name) = lower($1))
                 ORDER BY t.album_id NULLS FIRST, t.disc_number NULLS FIRST, t.track_number NULLS FIRST, t.id
                 LIMIT $2 OFFSET $3"
            ),
            &[genre, &limit, &skip],
        )?,
        TrackQuery::Random {
            genre,
            from_year,
            to_year,
        } => {
            let from = from_year.map(i64::from);
            let to = to_year.map(i64::from);
            tx.query(
                &format!(
                    "{TRACK_SELECT} WHERE ($1::text IS NULL OR EXISTS (SELECT 1 FROM track_genres tg
                       JOIN genres g ON g.id = tg.genre_id WHERE tg.track_id = t.id AND lower(g.name) = lower($1)))
                     AND ($2::bigint IS NULL OR t.year >= $2) AND ($3::bigint IS NULL OR t.year <= $3)
                     ORDER BY random() LIMIT $4 OFFSET $5"
                ),
                &[genre, &from, &to, &limit, &skip],
            )?
        }
        TrackQuery::ByArtistShuffled { artist, except } => tx.query(
            &format!(
                "{TRACK_SELECT} WHERE {BY_ARTIST} AND NOT (t.id = ANY($2))
                 ORDER BY random() LIMIT $3 OFFSET $4"
            ),
            &[&artist.0, &ids_of(except), &limit, &skip],
        )?,
        TrackQuery::ByGenresShuffled { genres, except } => {
            if genres.is_empty() {
                return Ok(Vec::new());
            }
            tx.query(
                &format!(
                    "{TRACK_SELECT} WHERE EXISTS (SELECT 1 FROM track_genres tg JOIN genres g ON g.id = tg.genre_id
                       WHERE tg.track_id = t.id AND lower(g.name) IN (SELECT lower(x) FROM unnest($1::text[]) x))
                     AND NOT (t.id = ANY($2))
                     ORDER BY random() LIMIT $3 OFFSET $4"
                ),
                &[genres, &ids_of(except), &limit, &skip],
            )?
        }
        TrackQuery::TopByArtist(artist) => {
            let plays = "(SELECT count(*) FROM play_events e WHERE e.track_id = t.id AND e.kind = 'finish') DESC,";
            let params: [&(dyn ToSql + Sync); 3] = [&artist.0, &limit, &skip];
            tx.query(
                &format!(
                    "{TRACK_SELECT} WHERE {BY_ARTIST}
                     ORDER BY {plays} al.year NULLS FIRST, al.sort_title NULLS FIRST,
                       t.disc_number NULLS FIRST, t.track_number NULLS FIRST, t.id
                     LIMIT $2 OFFSET $3"
                ),
                &params,
            )?
        }
    };
    map_rows(rows, track_from_row)
}

pub(super) fn artist_page(
    tx: &mut Transaction<'_>,
    offset: u32,
    count: u32,
) -> StorageResult<Vec<Artist>> {
    map_rows(
        tx.query(
            &format!("{ARTIST_SELECT} ORDER BY ar.sort_name, ar.id LIMIT $1 OFFSET $2"),
            &[&i64::from(count), &i64::from(offset)],
        )?,
        artist_from_row,
    )
}
