//! OpenSubsonic state (stars, ratings, the saved play queue, sealed app passwords) and the
//! offset-paged catalog reads Subsonic's lists need. Tables: `schema_v2.sql`.

use super::catalog::{
    ALBUM_SELECT, ARTIST_SELECT, TRACK_SELECT, album_from_row, artist_from_row, track_from_row,
};
use super::*;
use mixtape_shared::{AlbumId, ArtistId};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

fn kind_of(item: ItemRef) -> (&'static str, i64) {
    match item {
        ItemRef::Track(id) => ("track", id.0),
        ItemRef::Album(id) => ("album", id.0),
        ItemRef::Artist(id) => ("artist", id.0),
    }
}

fn item_of(kind: &str, id: i64) -> Option<ItemRef> {
    match kind {
        "track" => Some(ItemRef::Track(TrackId(id))),
        "album" => Some(ItemRef::Album(AlbumId(id))),
        "artist" => Some(ItemRef::Artist(ArtistId(id))),
        _ => None,
    }
}

pub fn app_password(conn: &Connection, user: UserId) -> StorageResult<Option<SealedSecret>> {
    Ok(conn
        .prepare_cached("SELECT nonce, ciphertext FROM subsonic_app_passwords WHERE user_id = ?1")?
        .query_row([user.0], |r| {
            Ok(SealedSecret {
                nonce: r.get(0)?,
                ciphertext: r.get(1)?,
            })
        })
        .optional()?)
}

pub fn set_app_password(
    tx: &Connection,
    user: UserId,
    sealed: Option<&SealedSecret>,
    now: i64,
) -> StorageResult<()> {
    match sealed {
        None => {
            tx.execute(
                "DELETE FROM subsonic_app_passwords WHERE user_id = ?1",
                [user.0],
            )?;
        }
        Some(s) => {
            tx.execute(
                "INSERT INTO subsonic_app_passwords (user_id, nonce, ciphertext, updated_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (user_id) DO UPDATE SET nonce = excluded.nonce,
                   ciphertext = excluded.ciphertext, updated_at = excluded.updated_at",
                params![user.0, s.nonce, s.ciphertext, now],
            )?;
        }
    }
    Ok(())
}

pub fn set_starred(
    tx: &Connection,
    user: UserId,
    items: &[ItemRef],
    starred: bool,
    now: i64,
) -> StorageResult<()> {
    let sql = if starred {
        "INSERT INTO subsonic_stars (user_id, kind, item, starred_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM subsonic_stars WHERE user_id = ?1 AND kind = ?2 AND item = ?3 AND ?4 = ?4"
    };
    let mut stmt = tx.prepare_cached(sql)?;
    for item in items {
        let (kind, id) = kind_of(*item);
        stmt.execute(params![user.0, kind, id, now])?;
    }
    Ok(())
}

pub fn set_rating(
    tx: &Connection,
    user: UserId,
    item: ItemRef,
    rating: u8,
    now: i64,
) -> StorageResult<()> {
    let (kind, id) = kind_of(item);
    if rating == 0 {
        tx.execute(
            "DELETE FROM subsonic_ratings WHERE user_id = ?1 AND kind = ?2 AND item = ?3",
            params![user.0, kind, id],
        )?;
    } else {
        tx.execute(
            "INSERT INTO subsonic_ratings (user_id, kind, item, rating, rated_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (user_id, kind, item) DO UPDATE SET rating = excluded.rating, rated_at = excluded.rated_at",
            params![user.0, kind, id, rating.min(5), now],
        )?;
    }
    Ok(())
}

pub fn starred_items(conn: &Connection, user: UserId) -> StorageResult<Vec<(ItemRef, i64)>> {
    let rows = conn
        .prepare_cached(
            "SELECT kind, item, starred_at FROM subsonic_stars WHERE user_id = ?1
             ORDER BY starred_at DESC, kind, item",
        )?
        .query_map([user.0], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(k, id, at)| item_of(&k, id).map(|i| (i, at)))
        .collect())
}

pub fn annotations(
    conn: &Connection,
    user: UserId,
    items: &[ItemRef],
) -> StorageResult<HashMap<ItemRef, Annotation>> {
    let mut out = HashMap::new();
    let mut star = conn.prepare_cached(
        "SELECT starred_at FROM subsonic_stars WHERE user_id = ?1 AND kind = ?2 AND item = ?3",
    )?;
    let mut rating = conn.prepare_cached(
        "SELECT rating FROM subsonic_ratings WHERE user_id = ?1 AND kind = ?2 AND item = ?3",
    )?;
    let mut track_plays = conn.prepare_cached(
        "SELECT count(*) FILTER (WHERE kind = 'finish'), max(at_ms) FROM play_events
         WHERE user_id = ?1 AND track_id = ?2",
    )?;
    let mut album_plays = conn.prepare_cached(
        "SELECT count(*) FILTER (WHERE e.kind = 'finish'), max(e.at_ms) FROM play_events e
         JOIN tracks t ON t.id = e.track_id WHERE e.user_id = ?1 AND t.album_id = ?2",
    )?;
    let mut track_added = conn.prepare_cached("SELECT added_at FROM tracks WHERE id = ?1")?;
    let mut album_added = conn.prepare_cached("SELECT added_at FROM albums WHERE id = ?1")?;
    for item in items {
        if out.contains_key(item) {
            continue;
        }
        let (kind, id) = kind_of(*item);
        let mut a = Annotation {
            starred_at: star
                .query_row(params![user.0, kind, id], |r| r.get(0))
                .optional()?,
            rating: rating
                .query_row(params![user.0, kind, id], |r| r.get::<_, i64>(0))
                .optional()?
                .map(|r| r.clamp(1, 5) as u8),
            ..Annotation::default()
        };
        let plays = match item {
            ItemRef::Track(_) => Some(&mut track_plays),
            ItemRef::Album(_) => Some(&mut album_plays),
            ItemRef::Artist(_) => None,
        };
        if let Some(stmt) = plays {
            let (count, last): (i64, Option<i64>) =
                stmt.query_row(params![user.0, id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            a.play_count = count.max(0) as u64;
            a.last_played_ms = last;
        }
        a.added_at = match item {
            ItemRef::Track(_) => track_added.query_row([id], |r| r.get(0)).optional()?,
            ItemRef::Album(_) => album_added.query_row([id], |r| r.get(0)).optional()?,
            ItemRef::Artist(_) => None,
        };
        out.insert(*item, a);
    }
    Ok(out)
}

pub fn play_queue(conn: &Connection, user: UserId) -> StorageResult<Option<PlayQueueRecord>> {
    let row = conn
        .prepare_cached(
            "SELECT track_ids, current_track, position_ms, changed_at, changed_by
             FROM subsonic_play_queues WHERE user_id = ?1",
        )?
        .query_row([user.0], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
            ))
        })
        .optional()?;
    Ok(row.map(
        |(ids, current, position_ms, changed_at, changed_by)| PlayQueueRecord {
            track_ids: ids
                .split(',')
                .filter_map(|s| s.parse().ok())
                .map(TrackId)
                .collect(),
            current: current.map(TrackId),
            position_ms,
            changed_at,
            changed_by,
        },
    ))
}

pub fn save_play_queue(tx: &Connection, user: UserId, q: &PlayQueueRecord) -> StorageResult<()> {
    if q.track_ids.is_empty() {
        tx.execute(
            "DELETE FROM subsonic_play_queues WHERE user_id = ?1",
            [user.0],
        )?;
        return Ok(());
    }
    let ids = q
        .track_ids
        .iter()
        .map(|t| t.0.to_string())
        .collect::<Vec<_>>()
        .join(",");
    tx.execute(
        "INSERT INTO subsonic_play_queues (user_id, track_ids, current_track, position_ms, changed_at, changed_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (user_id) DO UPDATE SET track_ids = excluded.track_ids,
           current_track = excluded.current_track, position_ms = excluded.position_ms,
           changed_at = excluded.changed_at, changed_by = excluded.changed_by",
        params![
            user.0,
            ids,
            q.current.map(|t| t.0),
            q.position_ms,
            q.changed_at,
            q.changed_by
        ],
    )?;
    Ok(())
}

pub fn album_list(
    conn: &Connection,
    user: UserId,
    list: &AlbumList,
    offset: u32,
    size: u32,
) -> StorageResult<Vec<Album>> {
    let mut args: Vec<Value> = vec![Value::Integer(user.0)];
    let (join, filter, order) = match list {
        AlbumList::Random => ("", "1", "random()".to_string()),
        AlbumList::Newest => ("", "1", "al.added_at DESC, al.id DESC".into()),
        AlbumList::ByName => ("", "1", "al.sort_title, al.id".into()),
        AlbumList::ByArtist => ("", "1", "al.sort_artist, al.sort_title, al.id".into()),
        AlbumList::Recent => (
            "JOIN (SELECT t.album_id AS aid, max(e.at_ms) AS last FROM play_events e JOIN tracks t ON t.id = e.track_id
               WHERE e.user_id = ?1 GROUP BY t.album_id) p ON p.aid = al.id",
            "1",
            "p.last DESC, al.id".into(),
        ),
        AlbumList::Frequent => (
            "JOIN (SELECT t.album_id AS aid, count(*) AS plays FROM play_events e JOIN tracks t ON t.id = e.track_id
               WHERE e.user_id = ?1 AND e.kind = 'finish' GROUP BY t.album_id) p ON p.aid = al.id",
            "1",
            "p.plays DESC, al.id".into(),
        ),
        AlbumList::Highest => (
            "JOIN subsonic_ratings r ON r.user_id = ?1 AND r.kind = 'album' AND r.item = al.id",
            "1",
            "r.rating DESC, r.rated_at DESC, al.id".into(),
        ),
        AlbumList::Starred => (
            "JOIN subsonic_stars s ON s.user_id = ?1 AND s.kind = 'album' AND s.item = al.id",
            "1",
            "s.starred_at DESC, al.id".into(),
        ),
        AlbumList::ByYear { from, to } => {
            let (lo, hi, dir) = if from <= to {
                (*from, *to, "ASC")
            } else {
                (*to, *from, "DESC")
            };
            args.push(Value::Integer(lo.into()));
            args.push(Value::Integer(hi.into()));
            (
                "",
                "al.year BETWEEN ?2 AND ?3",
                format!("al.year {dir}, al.sort_title, al.id"),
            )
        }
        AlbumList::ByGenre(genre) => {
            args.push(Value::Text(genre.clone()));
            (
                "",
                "EXISTS (SELECT 1 FROM tracks t JOIN track_genres tg ON tg.track_id = t.id
                   JOIN genres g ON g.id = tg.genre_id WHERE t.album_id = al.id AND g.name = ?2)",
                "al.sort_title, al.id".into(),
            )
        }
    };
    let n = args.len();
    args.push(Value::Integer(size.into()));
    args.push(Value::Integer(offset.into()));
    // ?1 is always bound (the user); lists that do not use it compare it with itself.
    let sql = format!(
        "{ALBUM_SELECT} {join} WHERE {filter} AND ?1 = ?1 ORDER BY {order} LIMIT ?{} OFFSET ?{}",
        n + 1,
        n + 2
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(args), album_from_row)?
        .collect::<Result<_, _>>()?)
}

pub fn track_list(
    conn: &Connection,
    query: &TrackQuery,
    offset: u32,
    count: u32,
) -> StorageResult<Vec<Track>> {
    let mut args: Vec<Value> = Vec::new();
    let except = |args: &mut Vec<Value>, ids: &[TrackId]| -> String {
        if ids.is_empty() {
            return String::new();
        }
        let start = args.len() + 1;
        args.extend(ids.iter().map(|t| Value::Integer(t.0)));
        let marks: Vec<String> = (start..start + ids.len())
            .map(|i| format!("?{i}"))
            .collect();
        format!(" AND t.id NOT IN ({})", marks.join(", "))
    };
    let (filter, order) = match query {
        TrackQuery::All => ("1".to_string(), "t.id".to_string()),
        TrackQuery::Genre(genre) => {
            args.push(Value::Text(genre.clone()));
            (
                "EXISTS (SELECT 1 FROM track_genres tg JOIN genres g ON g.id = tg.genre_id
                   WHERE tg.track_id = t.id AND g.name = ?1)"
                    .into(),
                "t.album_id, t.disc_number, t.track_number, t.id".into(),
            )
        }
        TrackQuery::Random {
            genre,
            from_year,
            to_year,
        } => {
            let mut f = vec!["1".to_string()];
            if let Some(g) = genre {
                args.push(Value::Text(g.clone()));
                f.push(format!(
                    "EXISTS (SELECT 1 FROM track_genres tg JOIN genres g ON g.id = tg.genre_id
                       WHERE tg.track_id = t.id AND g.name = ?{})",
                    args.len()
                ));
            }
            if let Some(y) = from_year {
                args.push(Value::Integer((*y).into()));
                f.push(format!("t.year >= ?{}", args.len()));
            }
            if let Some(y) = to_year {
                args.push(Value::Integer((*y).into()));
                f.push(format!("t.year <= ?{}", args.len()));
            }
            (f.join(" AND "), "random()".into())
        }
        TrackQuery::ByArtistShuffled { artist, except: ex } => {
            args.push(Value::Integer(artist.0));
            let filter = format!(
                "(t.album_artist_id = ?1 OR EXISTS (SELECT 1 FROM track_artists ta
                   WHERE ta.track_id = t.id AND ta.artist_id = ?1)){}",
                except(&mut args, ex)
            );
            (filter, "random()".into())
        }
        TrackQuery::ByGenresShuffled { genres, except: ex } => {
            if genres.is_empty() {
                return Ok(Vec::new());
            }
            let marks: Vec<String> = genres
                .iter()
                .map(|g| {
                    args.push(Value::Text(g.clone()));
                    format!("?{}", args.len())
                })
                .collect();
            let filter = format!(
                "EXISTS (SELECT 1 FROM track_genres tg JOIN genres g ON g.id = tg.genre_id
                   WHERE tg.track_id = t.id AND g.name IN ({})){}",
                marks.join(", "),
                except(&mut args, ex)
            );
            (filter, "random()".into())
        }
        TrackQuery::TopByArtist(artist) => {
            args.push(Value::Integer(artist.0));
            (
                "(t.album_artist_id = ?1 OR EXISTS (SELECT 1 FROM track_artists ta
                   WHERE ta.track_id = t.id AND ta.artist_id = ?1))"
                    .into(),
                "(SELECT count(*) FROM play_events e WHERE e.track_id = t.id AND e.kind = 'finish') DESC,
                 al.year, al.sort_title, t.disc_number, t.track_number, t.id"
                    .into(),
            )
        }
    };
    let n = args.len();
    args.push(Value::Integer(count.into()));
    args.push(Value::Integer(offset.into()));
    let sql = format!(
        "{TRACK_SELECT} WHERE {filter} ORDER BY {order} LIMIT ?{} OFFSET ?{}",
        n + 1,
        n + 2
    );
    Ok(conn
        .prepare(&sql)?
        .query_map(params_from_iter(args), track_from_row)?
        .collect::<Result<_, _>>()?)
}

pub fn artist_page(conn: &Connection, offset: u32, count: u32) -> StorageResult<Vec<Artist>> {
    Ok(conn
        .prepare_cached(&format!(
            "{ARTIST_SELECT} ORDER BY ar.sort_name, ar.id LIMIT ?1 OFFSET ?2"
        ))?
        .query_map([count, offset], artist_from_row)?
        .collect::<Result<_, _>>()?)
}

pub fn artist_by_name(conn: &Connection, folded: &str) -> StorageResult<Option<Artist>> {
    Ok(conn
        .prepare_cached(&format!("{ARTIST_SELECT} WHERE ar.sort_name = ?1"))?
        .query_row([folded], artist_from_row)
        .optional()?)
}
