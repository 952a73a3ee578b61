//! Subsonic's album lists (`getAlbumList2`) on PostgreSQL, `offset`/`size` paged as in
//! `sqlite/subsonic.rs`. Lists built from the user's own plays, ratings and stars read where
//! that user's writes are; the others are catalog reads.

use super::PgStore;
use super::catalog_rows::{ALBUM_SELECT, album_from_row};
use crate::storage::{AlbumList, StorageResult};
use mixtape_shared::UserId;
use mixtape_shared::api::Album;
use postgres::GenericClient;
use postgres::types::ToSql;

/// The query of one list: joins, filter, order, and the parameters after `$1` (the user, when
/// the list is the user's).
struct ListQuery {
    join: &'static str,
    filter: &'static str,
    order: String,
    args: Vec<Box<dyn ToSql + Sync>>,
    per_user: bool,
}

fn query_of(list: &AlbumList) -> ListQuery {
    // Titles sort bytewise, as SQLite's BINARY collation does.
    let by_title = "al.sort_title COLLATE \"C\", al.id";
    let plain = |order: String| ListQuery {
        join: "",
        filter: "TRUE",
        order,
        args: Vec::new(),
        per_user: false,
    };
    let user_list = |join: &'static str, order: &str| ListQuery {
        join,
        filter: "TRUE",
        order: order.to_string(),
        args: Vec::new(),
        per_user: true,
    };
    match list {
        AlbumList::Random => plain("random()".into()),
        AlbumList::Newest => plain("al.added_at DESC, al.id DESC".into()),
        AlbumList::ByName => plain(by_title.into()),
        AlbumList::ByArtist => plain(format!("al.sort_artist COLLATE \"C\", {by_title}")),
        AlbumList::Recent => user_list(
            "JOIN (SELECT t.album_id AS aid, max(e.at_ms) AS last FROM play_events e
               JOIN tracks t ON t.id = e.track_id WHERE e.user_id = $1 GROUP BY t.album_id) p
               ON p.aid = al.id",
            "p.last DESC, al.id",
        ),
        AlbumList::Frequent => user_list(
            "JOIN (SELECT t.album_id AS aid, count(*) AS plays FROM play_events e
               JOIN tracks t ON t.id = e.track_id WHERE e.user_id = $1 AND e.kind = 'finish'
               GROUP BY t.album_id) p ON p.aid = al.id",
            "p.plays DESC, al.id",
        ),
        AlbumList::Highest => user_list(
            "JOIN subsonic_ratings r ON r.user_id = $1 AND r.kind = 'album' AND r.item = al.id",
            "r.rating DESC, r.rated_at DESC, al.id",
        ),
        AlbumList::Starred => user_list(
            "JOIN subsonic_stars s ON s.user_id = $1 AND s.kind = 'album' AND s.item = al.id",
            "s.starred_at DESC, al.id",
        ),
        AlbumList::ByYear { from, to } => {
            let (lo, hi, dir) = if from <= to {
                (*from, *to, "ASC")
            } else {
                (*to, *from, "DESC")
            };
            ListQuery {
                join: "",
                filter: "al.year BETWEEN $1::int8 AND $2::int8",
                order: format!("al.year {dir}, {by_title}"),
                args: vec![Box::new(i64::from(lo)), Box::new(i64::from(hi))],
                per_user: false,
            }
        }
        // Genre names compare case-insensitively (SQLite's `genres.name COLLATE NOCASE`).
        AlbumList::ByGenre(genre) => ListQuery {
            join: "",
            filter: "EXISTS (SELECT 1 FROM tracks t JOIN track_genres tg ON tg.track_id = t.id
                JOIN genres g ON g.id = tg.genre_id
                WHERE t.album_id = al.id AND lower(g.name) = lower($1))",
            order: by_title.into(),
            args: vec![Box::new(genre.clone())],
            per_user: false,
        },
    }
}

fn run(
    c: &mut impl GenericClient,
    user: UserId,
    q: ListQuery,
    offset: u32,
    size: u32,
) -> StorageResult<Vec<Album>> {
    let mut args: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    if q.per_user {
        args.push(Box::new(user.0));
    }
    args.extend(q.args);
    let n = args.len();
    args.push(Box::new(i64::from(size)));
    args.push(Box::new(i64::from(offset)));
    let sql = format!(
        "{ALBUM_SELECT} {} WHERE {} ORDER BY {} LIMIT ${} OFFSET ${}",
        q.join,
        q.filter,
        q.order,
        n + 1,
        n + 2
    );
    let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref()).collect();
    Ok(c.query(&sql, &params)?.iter().map(album_from_row).collect())
}

pub(super) fn album_list(
    store: &PgStore,
    user: UserId,
    list: &AlbumList,
    offset: u32,
    size: u32,
) -> StorageResult<Vec<Album>> {
    let q = query_of(list);
    if q.per_user {
        store.read_user(user, |c| run(c, user, q, offset, size))
    } else {
        store.read_catalog(|tx| run(tx, user, q, offset, size))
    }
}
