//! Subsonic's album lists (`getAlbumList2`) on PostgreSQL, `offset`/`size` paged as in
//! `sqlite/subsonic.rs`. Lists built from the user's own plays, ratings and stars read those
//! on the user's home first (which holds no catalog), then order the catalog's albums by them;
//! the others are catalog reads.

use super::PgStore;
use super::catalog_rows::{ALBUM_SELECT, album_from_row};
use crate::storage::{AlbumList, StorageResult};
use mixtape_shared::UserId;
use mixtape_shared::api::Album;
use postgres::GenericClient;
use postgres::types::ToSql;

/// The query of one list: joins, filter, order, and its parameters. A user's list first runs
/// `home` on their home: its rows `(id, a, b)` become the arrays `$1..$3` the join unnests.
struct ListQuery {
    join: &'static str,
    filter: &'static str,
    order: String,
    args: Vec<Box<dyn ToSql + Sync>>,
    home: Option<&'static str>,
}

fn query_of(list: &AlbumList) -> ListQuery {
    // Titles sort bytewise, as SQLite's BINARY collation does.
    let by_title = "al.sort_title COLLATE \"C\", al.id";
    let plain = |order: String| ListQuery {
        join: "",
        filter: "TRUE",
        order,
        args: Vec::new(),
        home: None,
    };
    let user_list = |home: &'static str, join: &'static str, order: &str| ListQuery {
        join,
        filter: "TRUE",
        order: order.to_string(),
        args: Vec::new(),
        home: Some(home),
    };
    match list {
        AlbumList::Random => plain("random()".into()),
        AlbumList::Newest => plain("al.added_at DESC, al.id DESC".into()),
        AlbumList::ByName => plain(by_title.into()),
        AlbumList::ByArtist => plain(format!("al.sort_artist COLLATE \"C\", {by_title}")),
        AlbumList::Recent => user_list(
            "SELECT track_id, max(at_ms), 0::int8 FROM play_events WHERE user_id = $1 GROUP BY track_id",
            "JOIN (SELECT t.album_id AS aid, max(x.a) AS last FROM unnest($1::int8[], $2::int8[], $3::int8[]) AS x(id, a, b)
               JOIN tracks t ON t.id = x.id GROUP BY t.album_id) p ON p.aid = al.id",
            "p.last DESC, al.id",
        ),
        AlbumList::Frequent => user_list(
            "SELECT track_id, count(*), 0::int8 FROM play_events WHERE user_id = $1 AND kind = 'finish'
             GROUP BY track_id",
            "JOIN (SELECT t.album_id AS aid, sum(x.a) AS plays FROM unnest($1::int8[], $2::int8[], $3::int8[]) AS x(id, a, b)
               JOIN tracks t ON t.id = x.id GROUP BY t.album_id) p ON p.aid = al.id",
            "p.plays DESC, al.id",
        ),
        AlbumList::Highest => user_list(
            "SELECT item, rating, rated_at FROM subsonic_ratings WHERE user_id = $1 AND kind = 'album'",
            "JOIN unnest($1::int8[], $2::int8[], $3::int8[]) AS x(id, a, b) ON x.id = al.id",
            "x.a DESC, x.b DESC, al.id",
        ),
        AlbumList::Starred => user_list(
            "SELECT item, starred_at, 0::int8 FROM subsonic_stars WHERE user_id = $1 AND kind = 'album'",
            "JOIN unnest($1::int8[], $2::int8[], $3::int8[]) AS x(id, a, b) ON x.id = al.id",
            "x.a DESC, al.id",
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
                home: None,
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
            home: None,
        },
    }
}

fn run(
    c: &mut impl GenericClient,
    q: ListQuery,
    user_rows: Option<[Vec<i64>; 3]>,
    offset: u32,
    size: u32,
) -> StorageResult<Vec<Album>> {
    let mut args: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    if let Some(columns) = user_rows {
        args.extend(columns.map(|c| Box::new(c) as Box<dyn ToSql + Sync>));
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
    let user_rows = match q.home {
        Some(sql) => Some(store.read_home(user, |tx| {
            let mut columns: [Vec<i64>; 3] = Default::default();
            for r in tx.query(sql, &[&user.0])? {
                for (i, column) in columns.iter_mut().enumerate() {
                    column.push(r.get::<_, i64>(i));
                }
            }
            Ok(columns)
        })?),
        None => None,
    };
    store.read_catalog(|tx| run(tx, q, user_rows, offset, size))
}
