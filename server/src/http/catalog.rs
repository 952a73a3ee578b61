//! Catalog routes: tracks, albums, artists, genres, search and cover art.

use super::error::ApiError;
use super::extract::{ApiPath, ApiQuery, AuthUser};
use super::media_url::SignMedia;
use super::{AppState, blocking};
use crate::catalog::page_request;
use crate::media_url::{MediaSigner, unix_now};
use crate::pages::Made;
use crate::storage::{AlbumSort, ArtistSort, StorageResult, Store, TrackSort};
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use mixtape_shared::api::{
    Album, AlbumDetail, Artist, ArtistDetail, ErrorBody, Genre, Lyrics, Page, PageQuery,
    SearchQuery, SearchResults, Track,
};
use mixtape_shared::{AlbumId, ArtistId, TrackId};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

/// Content-addressed responses never change, but they are fetched with a bearer token or API
/// key: `private`, because RFC 9111 §3.5 lets a shared cache hand a `public` answer to an
/// authenticated request to anyone (nginx's `proxy_cache` ignores `Authorization`).
pub const IMMUTABLE: &str = "private, max-age=31536000, immutable";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tracks", get(list_tracks))
        .route("/api/v1/tracks/{id}", get(get_track))
        .route("/api/v1/tracks/{id}/lyrics", get(track_lyrics))
        .route("/api/v1/albums", get(list_albums))
        .route("/api/v1/albums/{id}", get(get_album))
        .route("/api/v1/artists", get(list_artists))
        .route("/api/v1/artists/{id}", get(get_artist))
        .route("/api/v1/genres", get(list_genres))
        .route("/api/v1/search", get(search))
        .route("/api/v1/art/{hash}", get(cover_art))
        .route("/art/{hash}", get(signed_cover_art))
}

/// Tracks, keyset-paginated. Sort: title (default), artist, album, year, added.
#[utoipa::path(get, path = "/api/v1/tracks", params(PageQuery), tag = "catalog",
    responses((status = 200, body = Page<Track>), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_tracks(
    State(s): State<AppState>,
    _: AuthUser,
    uri: OriginalUri,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Response, ApiError> {
    let page = page_request::<TrackSort>(&q)?;
    cached(s, &uri, "tracks", move |store| {
        store.list_tracks(&page).map(Some)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/tracks/{id}", params(("id" = i64, Path)), tag = "catalog",
    responses((status = 200, body = Track), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_track(
    State(s): State<AppState>,
    _: AuthUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Track>, ApiError> {
    let store = s.store.clone();
    let mut track = blocking(move || store.track(TrackId(id)))
        .await?
        .ok_or_else(|| ApiError::not_found("track"))?;
    track.sign_media(&s.media, unix_now());
    Ok(Json(track))
}

/// The track's lyrics, from its tags or its sidecar `.lrc`: synced lines carry their start in
/// milliseconds. 404 `not_found` for no such track, 404 `no_lyrics` for a track without any.
#[utoipa::path(get, path = "/api/v1/tracks/{id}/lyrics", params(("id" = i64, Path)), tag = "catalog",
    responses((status = 200, body = Lyrics), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn track_lyrics(
    State(s): State<AppState>,
    _: AuthUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Lyrics>, ApiError> {
    let store = s.store.clone();
    let (exists, lyrics) = blocking(move || {
        let lyrics = store.track_lyrics(TrackId(id))?;
        let exists = lyrics.is_some() || store.track_file(TrackId(id))?.is_some();
        Ok::<_, crate::storage::StorageError>((exists, lyrics))
    })
    .await?;
    match lyrics {
        Some(lyrics) => Ok(Json(lyrics)),
        None if exists => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_lyrics",
            format!("track {id} has no lyrics"),
        )),
        None => Err(ApiError::not_found("track")),
    }
}

/// Albums, keyset-paginated. Sort: title (default), artist, year, added.
#[utoipa::path(get, path = "/api/v1/albums", params(PageQuery), tag = "catalog",
    responses((status = 200, body = Page<Album>), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_albums(
    State(s): State<AppState>,
    _: AuthUser,
    uri: OriginalUri,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Response, ApiError> {
    let page = page_request::<AlbumSort>(&q)?;
    cached(s, &uri, "albums", move |store| {
        store.list_albums(&page).map(Some)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/albums/{id}", params(("id" = i64, Path)), tag = "catalog",
    responses((status = 200, body = AlbumDetail), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_album(
    State(s): State<AppState>,
    _: AuthUser,
    uri: OriginalUri,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    cached(s, &uri, "album", move |store| store.album(AlbumId(id))).await
}

/// Artists, keyset-paginated. Sort: name (default), added.
#[utoipa::path(get, path = "/api/v1/artists", params(PageQuery), tag = "catalog",
    responses((status = 200, body = Page<Artist>), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_artists(
    State(s): State<AppState>,
    _: AuthUser,
    uri: OriginalUri,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Response, ApiError> {
    let page = page_request::<ArtistSort>(&q)?;
    cached(s, &uri, "artists", move |store| {
        store.list_artists(&page).map(Some)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/artists/{id}", params(("id" = i64, Path)), tag = "catalog",
    responses((status = 200, body = ArtistDetail), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_artist(
    State(s): State<AppState>,
    _: AuthUser,
    uri: OriginalUri,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    cached(s, &uri, "artist", move |store| store.artist(ArtistId(id))).await
}

#[utoipa::path(get, path = "/api/v1/genres", tag = "catalog",
    responses((status = 200, body = Vec<Genre>)), security(("bearer" = [])))]
pub async fn list_genres(
    State(s): State<AppState>,
    _: AuthUser,
    uri: OriginalUri,
) -> Result<Response, ApiError> {
    cached(s, &uri, "genres", |store| store.genres().map(Some)).await
}

/// A catalog answer through the page cache: looked up on the async thread (a hit costs a hash
/// lookup), loaded off it on a miss, its tracks' media URLs signed before it is kept. `None`
/// from `load` is a 404 for `what`.
async fn cached<T: Serialize + SignMedia + Send + 'static>(
    s: AppState,
    uri: &OriginalUri,
    what: &'static str,
    load: impl FnOnce(&dyn Store) -> StorageResult<Option<T>> + Send + 'static,
) -> Result<Response, ApiError> {
    let key = uri
        .0
        .path_and_query()
        .map_or_else(|| uri.0.path().to_owned(), |pq| pq.as_str().to_owned());
    // One clock reading signs the page and tags it, so its URLs match its bucket.
    let now = unix_now();
    let made = Made {
        generation: s.store.catalog_generation(),
        bucket: MediaSigner::bucket(now),
    };
    let json = match s.pages.lookup(&key, made) {
        Some(json) => json,
        None => {
            let store = s.store.clone();
            let mut value = blocking(move || load(&*store))
                .await?
                .ok_or_else(|| ApiError::not_found(what))?;
            value.sign_media(&s.media, now);
            s.pages.keep(key, made, &value)
        }
    };
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json,
    )
        .into_response())
}

/// Full-text search over titles, artists and albums: prefixes match, small typos are forgiven.
#[utoipa::path(get, path = "/api/v1/search", params(SearchQuery), tag = "catalog",
    responses((status = 200, body = SearchResults), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn search(
    State(s): State<AppState>,
    _: AuthUser,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<SearchResults>, ApiError> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 100"));
    }
    if q.q.len() > 200 {
        return Err(ApiError::bad_request("query is longer than 200 bytes"));
    }
    let started = std::time::Instant::now();
    let store = s.store.clone();
    let mut results = blocking(move || store.search(&q.q, limit)).await?;
    metrics::histogram!("mixtape_search_seconds").record(started.elapsed().as_secs_f64());
    results.sign_media(&s.media, unix_now());
    Ok(Json(results))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ArtQuery {
    /// Longest side in pixels (16-2048); the original when absent.
    pub size: Option<u32>,
}

/// Cover art by content hash: immutable, so caches may keep it forever.
#[utoipa::path(get, path = "/api/v1/art/{hash}", params(("hash" = String, Path), ArtQuery), tag = "catalog",
    responses((status = 200, content_type = "image/jpeg"), (status = 304), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn cover_art(
    State(s): State<AppState>,
    _: AuthUser,
    ApiPath(hash): ApiPath<String>,
    ApiQuery(q): ApiQuery<ArtQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    art_response(s, hash, q.size, &headers).await
}

/// The query of a signed cover art URL (Subsonic's image URLs): a size and the signature.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct SignedArtQuery {
    /// Longest side in pixels.
    pub size: Option<u32>,
    /// Expiry, Unix seconds.
    pub e: Option<String>,
    /// Hex HMAC-SHA256 of `"/art/{hash}\n{e}"`.
    pub s: Option<String>,
}

/// Cover art under a signed URL, no token: what apps given an image URL load (`artistInfo`'s
/// `largeImageUrl`). A missing or wrong signature is 403, an expired one 410.
#[utoipa::path(get, path = "/art/{hash}", params(("hash" = String, Path), SignedArtQuery), tag = "catalog",
    responses((status = 200, content_type = "image/jpeg"), (status = 304), (status = 403, body = ErrorBody),
        (status = 410, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn signed_cover_art(
    State(s): State<AppState>,
    ApiPath(hash): ApiPath<String>,
    ApiQuery(q): ApiQuery<SignedArtQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    s.media
        .verify(
            &crate::media_url::MediaSigner::art_path(&hash),
            q.e.as_deref(),
            q.s.as_deref(),
            crate::media_url::unix_now(),
        )
        .map_err(super::media_url::signature_error)?;
    art_response(s, hash, q.size, &headers).await
}

/// Cover art `hash` at `size`, cached forever by anyone (the hash names the image).
async fn art_response(
    s: AppState,
    hash: String,
    size: Option<u32>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let etag = format!("\"{hash}-{}\"", size.unwrap_or(0));
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let image = blocking(move || s.art.get(&hash, size)).await?;
    let mut response = image.bytes.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&image.mime).unwrap_or(HeaderValue::from_static("image/jpeg")),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).map_err(ApiError::internal)?,
    );
    Ok(response)
}
