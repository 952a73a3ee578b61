//! Search: `search2` and `search3` over our search, or everything paged on an empty query.

use super::*;

pub(super) fn page<T>(v: Vec<T>, offset: u32, n: u32) -> Vec<T> {
    v.into_iter()
        .skip(offset as usize)
        .take(n as usize)
        .collect()
}

/// At most this many results of one kind are searched through with offsets.
pub(super) const MAX_SEARCH_WINDOW: u32 = 1000;

pub(super) fn search(ctx: &Ctx, p: &Params, shape: Shape) -> Answer {
    let query = p.required("query")?.trim();
    // Symfonium's offline sync pages through everything with an empty query (or `""`).
    let everything = query.is_empty() || query == "\"\"" || query == "*";
    let (ac, ao) = (
        count(p, "artistCount", 20, 500)?,
        p.number::<u32>("artistOffset")?.unwrap_or(0),
    );
    let (lc, lo) = (
        count(p, "albumCount", 20, 500)?,
        p.number::<u32>("albumOffset")?.unwrap_or(0),
    );
    let (sc, so) = (
        count(p, "songCount", 20, 500)?,
        p.number::<u32>("songOffset")?.unwrap_or(0),
    );
    let (artists, found_albums, tracks) = if everything {
        (
            if ac > 0 {
                ctx.store.artist_page(ao, ac)?
            } else {
                Vec::new()
            },
            if lc > 0 {
                ctx.store
                    .album_list(ctx.user.id, &AlbumList::ByName, lo, lc)?
            } else {
                Vec::new()
            },
            if sc > 0 {
                ctx.store.track_list(&TrackQuery::All, so, sc)?
            } else {
                Vec::new()
            },
        )
    } else {
        let window = |offset: u32, n: u32| (offset.saturating_add(n)).min(MAX_SEARCH_WINDOW);
        let limit = window(ao, ac)
            .max(window(lo, lc))
            .max(window(so, sc))
            .max(1);
        // Control characters (a NUL ends an FTS string early) match nothing anyway.
        let text: String = query
            .trim_matches('"')
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let r = ctx.store.search(&text, limit)?;
        (
            page(r.artists, ao, ac),
            page(r.albums, lo, lc),
            page(r.tracks, so, sc),
        )
    };
    let element = match shape {
        Shape::Id3 => "searchResult3",
        Shape::Folders => "searchResult2",
    };
    artists_albums_songs(ctx, element, shape, &artists, &found_albums, &tracks)
}
