//! Signed media URLs in answers, and the routes behind them: `/media/{hash}` (no token: the
//! signature is the authorization, checked here as at the edge) and
//! `/api/v1/media-url/{hash}` (a fresh URL for a client whose copy expired).

use super::error::ApiError;
use super::extract::{ApiPath, ApiQuery, AuthUser};
use super::{AppState, blocking};
use crate::media_url::{MediaSigner, SignatureError, unix_now};
use crate::recs::Recommendations;
use crate::stream;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use mixtape_shared::api::{
    AlbumDetail, ArtistDetail, Change, ChangesPage, ErrorBody, MediaUrl, Page, SearchResults, Track,
};

/// The signed route is content-addressed and its signature was checked: a shared cache may
/// keep it and serve it to anyone holding a valid URL (the edge checks before its cache).
pub const SIGNED_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/media/{hash}", get(signed_media))
        .route("/api/v1/media-url/{hash}", get(fresh_media_url))
}

/// An answer whose tracks get a signed `media_url` before it is sent (or kept in the page
/// cache: the bucket of `now` then tags the page, see `pages`).
pub trait SignMedia {
    fn sign_media(&mut self, signer: &MediaSigner, now: u64);
}

impl SignMedia for Track {
    fn sign_media(&mut self, signer: &MediaSigner, now: u64) {
        self.media_url = Some(signer.url(&self.content_hash, now));
    }
}

impl<T: SignMedia> SignMedia for Vec<T> {
    fn sign_media(&mut self, signer: &MediaSigner, now: u64) {
        self.iter_mut().for_each(|t| t.sign_media(signer, now));
    }
}

impl<T: SignMedia> SignMedia for Option<T> {
    fn sign_media(&mut self, signer: &MediaSigner, now: u64) {
        if let Some(t) = self {
            t.sign_media(signer, now);
        }
    }
}

impl<T: SignMedia> SignMedia for Page<T> {
    fn sign_media(&mut self, signer: &MediaSigner, now: u64) {
        self.items.sign_media(signer, now);
    }
}

impl SignMedia for AlbumDetail {
    fn sign_media(&mut self, signer: &MediaSigner, now: u64) {
        self.tracks.sign_media(signer, now);
    }
}

impl SignMedia for ArtistDetail {
    fn sign_media(&mut self, signer: &MediaSigner, now: u64) {
        self.appears_on.sign_media(signer, now);
    }
}

impl SignMedia for SearchResults {
    fn sign_media(&mut self, signer: &MediaSigner, now: u64) {
        self.tracks.sign_media(signer, now);
    }
}

impl SignMedia for ChangesPage {
    fn sign_media(&mut self, signer: &MediaSigner, now: u64) {
        for change in &mut self.changes {
            if let Change::Track { track, .. } = change {
                track.sign_media(signer, now);
            }
        }
    }
}

impl SignMedia for Recommendations {
    fn sign_media(&mut self, signer: &MediaSigner, now: u64) {
        for item in &mut self.items {
            item.track.sign_media(signer, now);
        }
    }
}

/// Answers without tracks.
macro_rules! no_tracks {
    ($($t:ty),*) => { $(impl SignMedia for $t { fn sign_media(&mut self, _: &MediaSigner, _: u64) {} })* };
}
no_tracks!(
    mixtape_shared::api::Album,
    mixtape_shared::api::Artist,
    mixtape_shared::api::Genre
);

/// The query of a signed URL, as it arrives (each part checked by the signer).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct SignedQuery {
    /// Expiry, Unix seconds.
    pub e: Option<String>,
    /// Hex HMAC-SHA256 of `"/media/{hash}\n{e}"`.
    pub s: Option<String>,
}

/// The audio file by content hash under a signed URL from a `media_url`: no token. A missing
/// or wrong signature is 403 `bad_signature`, an expired one 410 `expired`, both before any
/// lookup or file is opened. Range, ETag and conditional requests as on the other routes.
#[utoipa::path(get, path = "/media/{hash}", params(("hash" = String, Path), SignedQuery), tag = "stream",
    responses((status = 200), (status = 206), (status = 304), (status = 416),
        (status = 403, body = ErrorBody), (status = 410, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn signed_media(
    State(s): State<AppState>,
    ApiPath(hash): ApiPath<String>,
    ApiQuery(q): ApiQuery<SignedQuery>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_signature(&s, &MediaSigner::path(&hash), &q)?;
    let library = s.library.clone();
    let open = blocking(move || stream::open_by_hash(s.store.as_ref(), &library, &hash)).await?;
    super::stream::respond(open, &method, &headers, SIGNED_CACHE_CONTROL).await
}

/// Checks a signed media request (403 `bad_signature`, 410 `expired`), counting refusals.
pub(super) fn check_signature(s: &AppState, path: &str, q: &SignedQuery) -> Result<(), ApiError> {
    s.media
        .verify(path, q.e.as_deref(), q.s.as_deref(), unix_now())
        .map_err(|e| {
            metrics::counter!("mixtape_media_signature_refusals_total", "reason" => match e {
                SignatureError::Bad => "bad_signature",
                SignatureError::Expired => "expired",
            })
            .increment(1);
            signature_error(e)
        })
}

pub(super) fn signature_error(e: SignatureError) -> ApiError {
    match e {
        SignatureError::Bad => ApiError::new(StatusCode::FORBIDDEN, "bad_signature", e.to_string()),
        SignatureError::Expired => ApiError::new(StatusCode::GONE, "expired", e.to_string()),
    }
}

/// A freshly signed URL for the file `hash`, for a client whose `media_url` expired (403/410).
#[utoipa::path(get, path = "/api/v1/media-url/{hash}", params(("hash" = String, Path)), tag = "stream",
    responses((status = 200, body = MediaUrl), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn fresh_media_url(
    State(s): State<AppState>,
    _: AuthUser,
    ApiPath(hash): ApiPath<String>,
) -> Result<Json<MediaUrl>, ApiError> {
    let known = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) && {
        let store = s.store.clone();
        let hash = hash.clone();
        blocking(move || store.track_file_by_hash(&hash))
            .await?
            .is_some()
    };
    if !known {
        return Err(ApiError::not_found("media"));
    }
    Ok(Json(MediaUrl {
        media_url: s.media.url_now(&hash),
    }))
}
