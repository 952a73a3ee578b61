//! Similar and top songs: the recommender first, the catalog's choice to fill.

use super::*;

/// Songs like the seed: until `crate::recs` serves these, honest catalog results — the seed's
/// artists' other songs, then songs sharing its genres, each group shuffled.
pub fn similar_tracks(
    store: &dyn Store,
    seed: ItemRef,
    n: u32,
) -> Result<Vec<Track>, SubsonicError> {
    let (artists, genres, mut except) = match seed {
        ItemRef::Track(id) => {
            let t = store
                .track(id)?
                .ok_or_else(|| SubsonicError::not_found("song"))?;
            let artists = t
                .artists
                .iter()
                .map(|a| a.id)
                .chain(t.album_artist.map(|a| a.id))
                .collect();
            (artists, t.genres, vec![id])
        }
        ItemRef::Album(id) => {
            let d = store
                .album(id)?
                .ok_or_else(|| SubsonicError::not_found("album"))?;
            let except = d.tracks.iter().map(|t| t.id).collect();
            (vec![d.album.album_artist.id], d.album.genres, except)
        }
        ItemRef::Artist(id) => {
            let d = store
                .artist(id)?
                .ok_or_else(|| SubsonicError::not_found("artist"))?;
            let mut genres: Vec<String> = d.albums.iter().flat_map(|a| a.genres.clone()).collect();
            genres.sort();
            genres.dedup();
            (vec![id], genres, Vec::new())
        }
    };
    let mut out: Vec<Track> = Vec::new();
    let mut seen_artists = Vec::new();
    for artist in artists {
        if out.len() >= n as usize || seen_artists.contains(&artist) {
            continue;
        }
        seen_artists.push(artist);
        let more = store.track_list(
            &TrackQuery::ByArtistShuffled {
                artist,
                except: except.clone(),
            },
            0,
            n - out.len() as u32,
        )?;
        except.extend(more.iter().map(|t| t.id));
        out.extend(more);
    }
    if out.len() < n as usize {
        let more = store.track_list(
            &TrackQuery::ByGenresShuffled { genres, except },
            0,
            n - out.len() as u32,
        )?;
        out.extend(more);
    }
    Ok(out)
}

/// Songs like a song, album or artist (any id for either version: Amperfy asks
/// `getSimilarSongs2` with a song's), from the recommender.
pub(super) fn get_similar_songs(ctx: &Ctx, p: &Params, element: &'static str) -> Answer {
    let id = p.required("id")?;
    let seed = ids::parse(id)
        .or_else(|| ids::parse_artist(id).map(ItemRef::Artist))
        .ok_or_else(|| SubsonicError::not_found("item"))?;
    let n = count(p, "count", 50, 500)?;
    let tracks = recommended_similar(ctx, seed, n)?;
    Payload::one(
        element,
        &Songs {
            song: songs(ctx, &tracks)?,
        },
    )
}

/// Songs like `seed` from the recommender: what listeners played together with the seed's
/// songs (co-listening), then songs like them by content; for an artist, a radio page seeded
/// by them. The catalog choice ([`similar_tracks`]) fills what the recommender cannot.
pub(super) fn recommended_similar(
    ctx: &Ctx,
    seed: ItemRef,
    n: u32,
) -> Result<Vec<Track>, SubsonicError> {
    use crate::recs::{MAX_LIMIT, RecsError};
    let per_ask = Some(n.clamp(1, MAX_LIMIT));
    let recs_error = |e: RecsError| match e {
        RecsError::NotFound(what) => SubsonicError::not_found(what),
        RecsError::Invalid(m) => SubsonicError::invalid("id", &m),
        RecsError::Storage(e) => e.into(),
    };
    let mut out: Vec<TrackId> = Vec::new();
    let (seeds, except): (Vec<TrackId>, Vec<TrackId>) = match seed {
        ItemRef::Track(id) => (vec![id], vec![id]),
        ItemRef::Album(id) => {
            let d = ctx
                .store
                .album(id)?
                .ok_or_else(|| SubsonicError::not_found("album"))?;
            let tracks: Vec<TrackId> = d.tracks.iter().map(|t| t.id).collect();
            (tracks.iter().take(5).copied().collect(), tracks)
        }
        ItemRef::Artist(id) => {
            let page = ctx
                .recs
                .radio(Some(&format!("artist:{}", id.0)), None, per_ask)
                .map_err(recs_error)?;
            out.extend(page.items.into_iter().map(|r| r.track.id));
            (Vec::new(), Vec::new())
        }
    };
    for track in seeds {
        for r in ctx.recs.similar(track, per_ask).map_err(recs_error)? {
            if !except.contains(&r.track.id) && !out.contains(&r.track.id) {
                out.push(r.track.id);
            }
        }
    }
    if out.len() < n as usize {
        for t in similar_tracks(ctx.store, seed, n)? {
            if !out.contains(&t.id) {
                out.push(t.id);
            }
        }
    }
    out.truncate(n as usize);
    let found = ctx.store.tracks_by_ids(&out)?;
    Ok(out
        .iter()
        .filter_map(|id| found.iter().find(|t| t.id == *id).cloned())
        .collect())
}

/// The artist's most played songs (finished plays by every user), then in album order.
pub(super) fn get_top_songs(ctx: &Ctx, p: &Params) -> Answer {
    let n = count(p, "count", 50, 500)?;
    let artist = match (p.get("artist"), p.get("id")) {
        (_, Some(id)) => ids::parse_artist(id)
            .and_then(|a| ctx.store.artist(a).transpose())
            .transpose()?
            .map(|d| d.artist),
        (Some(name), None) => ctx.store.artist_by_name(name)?,
        (None, None) => return Err(SubsonicError::missing("artist")),
    };
    let tracks = match artist {
        Some(a) => ctx.store.track_list(&TrackQuery::TopByArtist(a.id), 0, n)?,
        None => Vec::new(),
    };
    Payload::one(
        "topSongs",
        &Songs {
            song: songs(ctx, &tracks)?,
        },
    )
}
