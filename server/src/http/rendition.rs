//! Transcoded audio over HTTP: the profiles, a rendition by content hash (token or signed URL)
//! or by track id, and every profile's exact size. A rendition answers like a file: exact
//! `Content-Length` before any encoding, Range (206/416), ETag `"{hash}.{profile}"`, If-Match,
//! If-None-Match, If-Range; the bytes of a range are encoded on demand, chunk by chunk.

use super::catalog::IMMUTABLE;
use super::error::ApiError;
use super::extract::{ApiPath, ApiQuery, AuthUser};
use super::media_url::{SIGNED_CACHE_CONTROL, SignedQuery};
use super::stream::{Preconditions, preconditions};
use super::{AppState, blocking};
use crate::media_url::{MediaSigner, unix_now};
use crate::stream::{self, StreamError};
use crate::transcode::{Priority, ReaderGuard, Rendition, Submitted, Transcoder};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use mixtape_codec::{ORIGINAL, PROFILES, Profile};
use mixtape_shared::TrackId;
use mixtape_shared::api::{ErrorBody, RenditionSize, Renditions, TranscodeProfile};
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/profiles", get(profiles))
        .route("/api/v1/media/{hash}/{profile}", get(media_rendition))
        .route("/media/{hash}/{profile}", get(signed_rendition))
        .route("/api/v1/tracks/{id}/renditions", get(renditions))
}

/// The profile named in a path or query: `None` for `original`, 404 for an unknown id.
pub(super) fn parse_profile(id: &str) -> Result<Option<&'static Profile>, ApiError> {
    if id == ORIGINAL {
        return Ok(None);
    }
    Profile::by_id(id).map(Some).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_profile",
            format!("no profile {id:?}; see /api/v1/profiles"),
        )
    })
}

/// The transcoding profiles, `original` first.
#[utoipa::path(get, path = "/api/v1/profiles", tag = "stream",
    responses((status = 200, body = [TranscodeProfile])), security(("bearer" = [])))]
pub async fn profiles(_: AuthUser) -> Json<Vec<TranscodeProfile>> {
    let mut out = vec![TranscodeProfile {
        id: ORIGINAL.into(),
        codec: None,
        container: None,
        bitrate_kbps: None,
        content_type: None,
    }];
    out.extend(PROFILES.iter().map(|p| TranscodeProfile {
        id: p.id.into(),
        codec: Some(p.codec.name().into()),
        container: Some(p.codec.container().into()),
        bitrate_kbps: Some(p.bitrate_kbps),
        content_type: Some(p.codec.content_type().into()),
    }));
    Json(out)
}

/// A track in a profile, by content hash: immutable like `/api/v1/media/{hash}`.
#[utoipa::path(get, path = "/api/v1/media/{hash}/{profile}", params(("hash" = String, Path), ("profile" = String, Path)), tag = "stream",
    responses((status = 200, description = "the whole rendition, exact Content-Length"), (status = 206), (status = 304), (status = 412), (status = 416),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody, description = "the transcoder is busy: Retry-After")), security(("bearer" = [])))]
pub async fn media_rendition(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((hash, profile)): ApiPath<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    by_hash(s, user.id.0, hash, &profile, &method, &headers, IMMUTABLE).await
}

/// A track in a profile under a signed URL (`media_url` of `/renditions`): no token.
#[utoipa::path(get, path = "/media/{hash}/{profile}", params(("hash" = String, Path), ("profile" = String, Path), SignedQuery), tag = "stream",
    responses((status = 200), (status = 206), (status = 304), (status = 416),
        (status = 403, body = ErrorBody), (status = 410, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn signed_rendition(
    State(s): State<AppState>,
    ApiPath((hash, profile)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<SignedQuery>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    super::media_url::check_signature(&s, &MediaSigner::rendition_path(&hash, &profile), &q)?;
    // Signed requests carry no user: they share one per-user budget.
    by_hash(
        s,
        0,
        hash,
        &profile,
        &method,
        &headers,
        SIGNED_CACHE_CONTROL,
    )
    .await
}

async fn by_hash(
    s: AppState,
    user: i64,
    hash: String,
    profile: &str,
    method: &Method,
    headers: &HeaderMap,
    cache: &'static str,
) -> Result<Response, ApiError> {
    let profile = parse_profile(profile)?;
    let library = s.library.clone();
    let Some(profile) = profile else {
        let store = s.store.clone();
        let open = blocking(move || stream::open_by_hash(store.as_ref(), &library, &hash)).await?;
        return super::stream::respond(open, method, headers, cache).await;
    };
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::not_found("media"));
    }
    let store = s.store.clone();
    let file = blocking(move || {
        store
            .track_file_by_hash(&hash)?
            .ok_or(StreamError::NotFound)
    })
    .await?;
    let transcoder = Arc::clone(&s.transcoder);
    let rendition = blocking(move || transcoder.plan(file, profile).map(Arc::new)).await?;
    respond(&s.transcoder, rendition, user, method, headers, cache).await
}

/// A track in `profile` by id (`GET /api/v1/tracks/{id}/stream?profile=…`), from
/// `offset_ms` on.
pub(super) async fn by_track(
    s: &AppState,
    user: i64,
    id: TrackId,
    profile: &'static Profile,
    offset_ms: u64,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let store = s.store.clone();
    let file = blocking(move || store.track_file(id)?.ok_or(StreamError::NotFound)).await?;
    let transcoder = Arc::clone(&s.transcoder);
    let rendition =
        blocking(move || transcoder.plan_from(file, profile, offset_ms).map(Arc::new)).await?;
    respond(
        &s.transcoder,
        rendition,
        user,
        method,
        headers,
        "private, no-cache",
    )
    .await
}

/// The exact size of a track in every profile, from its plan (nothing is encoded).
#[utoipa::path(get, path = "/api/v1/tracks/{id}/renditions", params(("id" = i64, Path)), tag = "stream",
    responses((status = 200, body = Renditions), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn renditions(
    State(s): State<AppState>,
    _: AuthUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Renditions>, ApiError> {
    let store = s.store.clone();
    let transcoder = Arc::clone(&s.transcoder);
    let signer = Arc::clone(&s.media);
    let answer = blocking(move || -> Result<Renditions, ApiError> {
        let file = store
            .track_file(TrackId(id))?
            .ok_or(StreamError::NotFound)?;
        let now = unix_now();
        let mut out = vec![RenditionSize {
            profile: ORIGINAL.into(),
            size_bytes: file.size,
            content_type: file.content_type.clone(),
            cached: true,
            media_url: signer.url(&file.content_hash, now),
        }];
        let mut duration_ms = 0;
        for p in PROFILES {
            let r = transcoder.plan(file.clone(), p)?;
            duration_ms = r.plan.duration_ms();
            out.push(RenditionSize {
                profile: p.id.into(),
                size_bytes: r.plan.len(),
                content_type: p.codec.content_type().into(),
                cached: transcoder.is_cached(&r),
                media_url: signer.rendition_url(&file.content_hash, p.id, now),
            });
        }
        Ok(Renditions {
            track_id: TrackId(id),
            content_hash: file.content_hash,
            duration_ms,
            renditions: out,
        })
    })
    .await?;
    Ok(Json(answer))
}

async fn respond(
    transcoder: &Arc<Transcoder>,
    r: Arc<Rendition>,
    user: i64,
    method: &Method,
    headers: &HeaderMap,
    cache: &'static str,
) -> Result<Response, ApiError> {
    let etag = r.etag();
    let len = r.plan.len();
    let content_type = r.plan.profile.codec.content_type();
    let base = |status: StatusCode| {
        super::stream::file_response(status, &etag, cache).header(
            "X-Content-Duration",
            format!("{:.3}", r.plan.frames() as f64 / 48_000.0),
        )
    };
    let range = match preconditions(
        headers,
        &etag,
        len,
        "the rendition is not the one asked for",
        &base,
    )? {
        Preconditions::Answered(response) => return Ok(response),
        Preconditions::Send(range) => range,
    };
    let (status, start, end) = match &range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, *r.start(), *r.end()),
        None => (StatusCode::OK, 0, len - 1),
    };
    let mut builder = base(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, end - start + 1);
    if range.is_some() {
        builder = builder.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"));
    }
    // HEAD: the length is the plan's; nothing is encoded.
    if method == Method::HEAD {
        return builder.body(Body::empty()).map_err(ApiError::internal);
    }
    // The first chunk before the headers go: a busy pool is a 503, not a broken body.
    let first = r.plan.chunk_at(start);
    let first_bytes = transcoder.chunk(&r, first, Priority::Wait, user).await?;
    // The rest is made when the pool has nothing more urgent, whatever this response reads.
    transcoder.complete_in_background(Arc::clone(&r), user);
    metrics::counter!("mixtape_transcode_bytes_total").increment(end - start + 1);
    let body = Body::from_stream(body_stream(
        Arc::clone(transcoder),
        r,
        user,
        start,
        end,
        first_bytes,
    ));
    builder.body(body).map_err(ApiError::internal)
}

struct BodyState {
    transcoder: Arc<Transcoder>,
    r: Arc<Rendition>,
    user: i64,
    /// The next byte to send, and the last one.
    pos: u64,
    end: u64,
    /// The chunk holding `pos`, if already at hand.
    ready: Option<Arc<Vec<u8>>>,
    /// The chunk after it, asked for ahead.
    ahead: Option<(u64, Submitted)>,
    /// Keeps the rendition in the cache while it is read.
    _reader: ReaderGuard,
}

/// The bytes `start..=end`, chunk by chunk; the next chunk is asked for while one is sent.
/// Dropping the stream (a closed connection) drops the waits, and the pool skips the chunks
/// nobody waits for.
fn body_stream(
    transcoder: Arc<Transcoder>,
    r: Arc<Rendition>,
    user: i64,
    start: u64,
    end: u64,
    first: Arc<Vec<u8>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    let reader = transcoder.reader(&r);
    let state = BodyState {
        transcoder,
        r,
        user,
        pos: start,
        end,
        ready: Some(first),
        ahead: None,
        _reader: reader,
    };
    futures_util::stream::unfold(state, |mut st| async move {
        if st.pos > st.end {
            return None;
        }
        let c = st.r.plan.chunk_at(st.pos);
        let bytes = match st.ready.take() {
            Some(b) => b,
            None => {
                let got = match st.ahead.take() {
                    Some((n, Submitted::Cached(b))) if n == c => Ok(b),
                    Some((n, Submitted::Queued(rx))) if n == c => {
                        st.transcoder.wait_for(&st.r, c, rx).await
                    }
                    _ => st.transcoder.chunk(&st.r, c, Priority::Wait, st.user).await,
                };
                match got {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(error = %e, "a rendition chunk failed mid-response");
                        st.pos = st.end + 1;
                        return Some((Err(std::io::Error::other(e.to_string())), st));
                    }
                }
            }
        };
        let span = st.r.plan.chunk_span(c);
        if span.end <= st.end + 1 && c + 1 < st.r.plan.chunks() {
            // Read ahead within the range; a full queue just means no read-ahead.
            st.ahead = st
                .transcoder
                .submit(&st.r, c + 1, Priority::ReadAhead, st.user)
                .ok()
                .map(|s| (c + 1, s));
        }
        let from = (st.pos - span.start) as usize;
        let to = ((st.end + 1).min(span.end) - span.start) as usize;
        st.pos = span.start + to as u64;
        Some((Ok(Bytes::copy_from_slice(&bytes[from..to])), st))
    })
}
