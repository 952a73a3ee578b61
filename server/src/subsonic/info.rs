//! `getArtistInfo`, `getArtistInfo2`, `getAlbumInfo`, `getAlbumInfo2`: what apps show on an
//! artist's or album's page beside the lists. Similar artists come from the recommender (the
//! artists of the artist's radio: what listeners play with theirs, then content); there is no
//! biography, no external link and no MusicBrainz id to give, so those fields are left out
//! (they are optional in the spec).

use super::api::{Ctx, annotate};
use super::error::SubsonicError;
use super::ids;
use super::model::{ArtistId3, IndexArtist};
use super::params::Params;
use super::response::Payload;
use crate::storage::ItemRef;
use mixtape_shared::ArtistId;
use serde::Serialize;

type Answer = Result<Payload, SubsonicError>;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtistInfo<A> {
    similar_artist: Vec<A>,
}

#[derive(Serialize)]
struct AlbumInfo {}

/// Up to `n` artists like `artist`, most alike first.
fn similar_artists(ctx: &Ctx, artist: ArtistId, n: usize) -> Result<Vec<ArtistId>, SubsonicError> {
    let radio = ctx
        .recs
        .radio(
            Some(&format!("artist:{}", artist.0)),
            None,
            Some(crate::recs::MAX_LIMIT),
        )
        .map_err(|e| match e {
            crate::recs::RecsError::NotFound(what) => SubsonicError::not_found(what),
            crate::recs::RecsError::Invalid(m) => SubsonicError::invalid("id", &m),
            crate::recs::RecsError::Storage(e) => e.into(),
        })?;
    let mut out: Vec<ArtistId> = Vec::new();
    for r in radio.items {
        for a in r
            .track
            .artists
            .iter()
            .map(|a| a.id)
            .chain(r.track.album_artist.map(|a| a.id))
        {
            if a != artist && !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out.truncate(n);
    Ok(out)
}

/// `getArtistInfo` (folder artists) and `getArtistInfo2` (ID3).
pub fn artist_info(ctx: &Ctx, p: &Params, id3: bool) -> Answer {
    let id =
        ids::parse_artist(p.required("id")?).ok_or_else(|| SubsonicError::not_found("artist"))?;
    if ctx.store.artist(id)?.is_none() {
        return Err(SubsonicError::not_found("artist"));
    }
    let count = p.number::<usize>("count")?.unwrap_or(20).min(100);
    let mut similar = Vec::new();
    for a in similar_artists(ctx, id, count)? {
        if let Some(d) = ctx.store.artist(a)? {
            similar.push(d.artist);
        }
    }
    let a = annotate(ctx, similar.iter().map(|ar| ItemRef::Artist(ar.id)))?;
    if id3 {
        let similar_artist: Vec<ArtistId3> = similar.iter().map(|ar| a.artist(ar, None)).collect();
        Payload::one("artistInfo2", &ArtistInfo { similar_artist })
    } else {
        let similar_artist: Vec<IndexArtist> = similar
            .iter()
            .map(|ar| IndexArtist {
                id: ids::artist(ar.id),
                name: ar.name.clone(),
                starred: a.starred(ItemRef::Artist(ar.id)),
            })
            .collect();
        Payload::one("artistInfo", &ArtistInfo { similar_artist })
    }
}

/// `getAlbumInfo` and `getAlbumInfo2`: the album exists; nothing more is known of it.
pub fn album_info(ctx: &Ctx, p: &Params, id3: bool) -> Answer {
    let id =
        ids::parse_album(p.required("id")?).ok_or_else(|| SubsonicError::not_found("album"))?;
    if ctx.store.album(id)?.is_none() {
        return Err(SubsonicError::not_found("album"));
    }
    Payload::one(if id3 { "albumInfo2" } else { "albumInfo" }, &AlbumInfo {})
}
