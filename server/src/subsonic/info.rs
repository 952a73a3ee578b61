//! `getArtistInfo`, `getArtistInfo2`, `getAlbumInfo`, `getAlbumInfo2`: what apps show on an
//! artist's or album's page beside the lists. Similar artists come from the recommender (the
//! artists of the artist's radio: what listeners play with theirs, then content); MusicBrainz
//! ids from the tracks' tags; image URLs are signed links to our cover art (an artist's is
//! their first album's), which apps load without their credentials. There is no biography and
//! no external link to give, so those fields are left out (they are optional in the spec).

use super::api::{Ctx, annotate};
use super::error::SubsonicError;
use super::ids;
use super::model::{ArtistId3, IndexArtist};
use super::params::Params;
use super::response::Payload;
use crate::media_url::{MediaSigner, unix_now};
use crate::storage::ItemRef;
use mixtape_shared::api::Track;
use mixtape_shared::{AlbumId, ArtistId};
use serde::Serialize;

type Answer = Result<Payload, SubsonicError>;

/// Where image URLs point: the API's public origin as the request reached it, and the key
/// that signs them.
pub struct ImageLinks<'a> {
    pub signer: &'a MediaSigner,
    pub origin: String,
}

/// Longest sides of the small, medium and large image, in pixels.
const IMAGE_SIZES: [u32; 3] = [150, 300, 600];

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Images {
    #[serde(skip_serializing_if = "Option::is_none")]
    small_image_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    medium_image_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    large_image_url: Option<String>,
}

impl Images {
    fn of(ctx: &Ctx, art: Option<&str>) -> Self {
        let (Some(links), Some(hash)) = (&ctx.images, art) else {
            return Self::default();
        };
        let now = unix_now();
        let [small, medium, large] =
            IMAGE_SIZES.map(|size| Some(links.signer.art_url(&links.origin, hash, size, now)));
        Self {
            small_image_url: small,
            medium_image_url: medium,
            large_image_url: large,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtistInfo<A> {
    #[serde(skip_serializing_if = "Option::is_none")]
    music_brainz_id: Option<String>,
    #[serde(flatten)]
    images: Images,
    similar_artist: Vec<A>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlbumInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    music_brainz_id: Option<String>,
    #[serde(flatten)]
    images: Images,
}

/// The artist's MusicBrainz id as their tracks' tags give it: the album artist id of their
/// albums' tracks, else the artist id of a track they alone are credited on.
fn artist_mbid(
    ctx: &Ctx,
    id: ArtistId,
    albums: &[AlbumId],
    appears_on: &[Track],
) -> Result<Option<String>, SubsonicError> {
    for album in albums.iter().take(3) {
        if let Some(d) = ctx.store.album(*album)? {
            let found = d.tracks.iter().find_map(|t| {
                (t.album_artist.as_ref().map(|a| a.id) == Some(id))
                    .then(|| t.musicbrainz.album_artist_id.clone())
                    .flatten()
            });
            if found.is_some() {
                return Ok(found);
            }
        }
    }
    Ok(appears_on.iter().find_map(|t| {
        (t.artists.len() == 1 && t.artists[0].id == id)
            .then(|| t.musicbrainz.artist_id.clone())
            .flatten()
    }))
}

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
    let detail = ctx
        .store
        .artist(id)?
        .ok_or_else(|| SubsonicError::not_found("artist"))?;
    let album_ids: Vec<AlbumId> = detail.albums.iter().map(|a| a.id).collect();
    let music_brainz_id = artist_mbid(ctx, id, &album_ids, &detail.appears_on)?;
    let art = detail
        .albums
        .iter()
        .find_map(|a| a.cover_art.as_deref())
        .or_else(|| {
            detail
                .appears_on
                .iter()
                .find_map(|t| t.cover_art.as_deref())
        });
    let images = Images::of(ctx, art);
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
        Payload::one(
            "artistInfo2",
            &ArtistInfo {
                music_brainz_id,
                images,
                similar_artist,
            },
        )
    } else {
        let similar_artist: Vec<IndexArtist> = similar
            .iter()
            .map(|ar| IndexArtist {
                id: ids::artist(ar.id),
                name: ar.name.clone(),
                starred: a.starred(ItemRef::Artist(ar.id)),
            })
            .collect();
        Payload::one(
            "artistInfo",
            &ArtistInfo {
                music_brainz_id,
                images,
                similar_artist,
            },
        )
    }
}

/// `getAlbumInfo` and `getAlbumInfo2`: the release's MusicBrainz id from its tracks' tags, and
/// its cover as image URLs. Both answer `albumInfo`, as the spec has it (Tempus reads that key
/// off `getAlbumInfo2`; there is no `albumInfo2` element).
pub fn album_info(ctx: &Ctx, p: &Params) -> Answer {
    let id =
        ids::parse_album(p.required("id")?).ok_or_else(|| SubsonicError::not_found("album"))?;
    let detail = ctx
        .store
        .album(id)?
        .ok_or_else(|| SubsonicError::not_found("album"))?;
    let info = AlbumInfo {
        music_brainz_id: detail
            .tracks
            .iter()
            .find_map(|t| t.musicbrainz.album_id.clone()),
        images: Images::of(ctx, detail.album.cover_art.as_deref()),
    };
    Payload::one("albumInfo", &info)
}
