//! Audio delivery: the original file with a single Range (206/416), HEAD, ETag (the content
//! hash), If-Match and If-None-Match. `/media/{hash}` is the content-addressed, immutable URL.

use super::catalog::IMMUTABLE;
use super::error::ApiError;
use super::extract::{ApiPath, ApiQuery, AuthUser};
use super::{AppState, blocking};
use crate::stream::{self, OpenTrack};
use crate::transcode::choice;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use http_range_header::StartPosition;
use mixtape_codec::Profile;
use mixtape_shared::TrackId;
use mixtape_shared::api::ErrorBody;
use std::io::{Seek, SeekFrom};
use std::ops::RangeInclusive;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tracks/{id}/stream", get(stream_track))
        .route("/api/v1/media/{hash}", get(media))
}

/// `?profile=`: a transcoding profile id (`GET /api/v1/profiles`); absent or `original`: the file.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct StreamQuery {
    pub profile: Option<String>,
}

/// The audio of a track: the original file, or a rendition in `profile`. Range, HEAD, ETag and
/// conditional requests are honoured either way.
#[utoipa::path(get, path = "/api/v1/tracks/{id}/stream", params(("id" = i64, Path), StreamQuery), tag = "stream",
    responses((status = 200, description = "the whole file"), (status = 206, description = "the requested range"),
        (status = 304), (status = 412), (status = 416), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn stream_track(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<StreamQuery>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut profile = match q.profile.as_deref() {
        Some(p) => super::rendition::parse_profile(p)?,
        None => None,
    };
    if let Some(limit) = user.max_bitrate_kbps {
        // Within the user's limit: a profile above it becomes its codec's best within it, the
        // original one of Opus when the file is over it.
        profile = match profile {
            Some(p) if p.bitrate_kbps > limit => Profile::best_within(p.codec, Some(limit)),
            Some(p) => Some(p),
            None => {
                let store = s.store.clone();
                let track = blocking(move || store.track(TrackId(id))).await?;
                let track = track.ok_or_else(|| ApiError::not_found("track"))?;
                choice::default_rendition(Some(limit), &track)
            }
        };
    }
    if let Some(profile) = profile {
        return super::rendition::by_track(
            &s,
            user.id.0,
            TrackId(id),
            profile,
            0,
            &method,
            &headers,
        )
        .await;
    }
    let library = s.library.clone();
    let open = blocking(move || stream::open(s.store.as_ref(), &library, TrackId(id))).await?;
    // The id's content may change on rescan, so caches must revalidate (cheap: the ETag).
    respond(open, &method, &headers, "private, no-cache").await
}

/// The same bytes addressed by content hash: immutable, so the client may keep them for good
/// (`private`: the request is authenticated).
#[utoipa::path(get, path = "/api/v1/media/{hash}", params(("hash" = String, Path)), tag = "stream",
    responses((status = 200), (status = 206), (status = 304), (status = 416), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn media(
    State(s): State<AppState>,
    _: AuthUser,
    ApiPath(hash): ApiPath<String>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let library = s.library.clone();
    let open = blocking(move || stream::open_by_hash(s.store.as_ref(), &library, &hash)).await?;
    respond(open, &method, &headers, IMMUTABLE).await
}

pub(super) fn etag_matches(header_value: Option<&HeaderValue>, etag: &str) -> Option<bool> {
    let value = header_value?.to_str().ok()?;
    Some(
        value
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t == etag || t.strip_prefix("W/") == Some(etag)),
    )
}

/// What validators and Range make of a GET or HEAD of `len` bytes tagged `etag`.
pub(super) enum Preconditions {
    /// 304 or 416, finished.
    Answered(Response),
    /// The range to send; None for all of it.
    Send(Option<RangeInclusive<u64>>),
}

/// If-Match (a mismatch is 412, `changed` saying what changed), If-None-Match (304), If-Range
/// and Range (416 outside the bytes), for the file route and the rendition route alike; `base`
/// starts an answer with the representation's headers.
/// The headers every answer about a file (original or rendition) carries.
pub(super) fn file_response(
    status: StatusCode,
    etag: &str,
    cache: &'static str,
) -> axum::http::response::Builder {
    Response::builder()
        .status(status)
        .header(header::ETAG, etag)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CACHE_CONTROL, cache)
}

pub(super) fn preconditions(
    headers: &HeaderMap,
    etag: &str,
    len: u64,
    changed: &str,
    base: &dyn Fn(StatusCode) -> axum::http::response::Builder,
) -> Result<Preconditions, ApiError> {
    if etag_matches(headers.get(header::IF_MATCH), etag) == Some(false) {
        return Err(ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            format!("{changed}: If-Match does not hold"),
        ));
    }
    if etag_matches(headers.get(header::IF_NONE_MATCH), etag) == Some(true) {
        return base(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .map(Preconditions::Answered)
            .map_err(ApiError::internal);
    }
    // If-Range with another validator means "send it all".
    let range_applies = etag_matches(headers.get(header::IF_RANGE), etag).unwrap_or(true);
    match headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .filter(|_| range_applies)
        .map(|value| requested_range(value, len))
    {
        None | Some(RangeAnswer::Whole) => Ok(Preconditions::Send(None)),
        Some(RangeAnswer::Part(range)) => Ok(Preconditions::Send(Some(range))),
        Some(RangeAnswer::Unsatisfiable) => base(StatusCode::RANGE_NOT_SATISFIABLE)
            .header(header::CONTENT_RANGE, format!("bytes */{len}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                r#"{"error":{"code":"range_not_satisfiable","message":"the requested range lies outside the file"}}"#,
            ))
            .map(Preconditions::Answered)
            .map_err(ApiError::internal),
    }
}

pub(super) async fn respond(
    open: OpenTrack,
    method: &Method,
    headers: &HeaderMap,
    cache: &'static str,
) -> Result<Response, ApiError> {
    let OpenTrack { file, info, len } = open;
    let etag = format!("\"{}\"", info.content_hash);
    let base = |status: StatusCode| file_response(status, &etag, cache);
    let range = match preconditions(headers, &etag, len, "the file changed", &base)? {
        Preconditions::Answered(response) => return Ok(response),
        Preconditions::Send(range) => range,
    };
    let (status, start, count) = match &range {
        Some(r) => (
            StatusCode::PARTIAL_CONTENT,
            *r.start(),
            r.end() - r.start() + 1,
        ),
        None => (StatusCode::OK, 0, len),
    };
    let mut builder = base(status)
        .header(header::CONTENT_TYPE, &info.content_type)
        .header(header::CONTENT_LENGTH, count);
    if range.is_some() {
        builder = builder.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{len}", start + count - 1),
        );
    }
    if method == Method::HEAD {
        return builder.body(Body::empty()).map_err(ApiError::internal);
    }
    let mut file = file;
    file.seek(SeekFrom::Start(start))
        .map_err(ApiError::internal)?;
    metrics::counter!("mixtape_stream_bytes_total").increment(count);
    builder
        .body(Body::from_stream(stream::FileChunks::new(file, count)))
        .map_err(ApiError::internal)
}

/// What a `Range` header asks of a file of `len` bytes (RFC 9110 §14).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum RangeAnswer {
    /// No usable range: answer 200 with the whole file.
    Whole,
    Part(RangeInclusive<u64>),
    Unsatisfiable,
}

pub(super) fn requested_range(value: &str, len: u64) -> RangeAnswer {
    let Ok(mut parsed) = http_range_header::parse_range_header(value) else {
        // A syntactically invalid Range is ignored, as RFC 9110 asks.
        return RangeAnswer::Whole;
    };
    // Several ranges, overlapping or not: the whole file, which the RFC allows.
    if parsed.ranges.len() != 1 {
        return RangeAnswer::Whole;
    }
    // A suffix longer than the file means the whole file (RFC 9110 §14.1.2).
    if let StartPosition::FromLast(suffix) = &mut parsed.ranges[0].start
        && *suffix > len
        && len > 0
    {
        *suffix = len;
    }
    match parsed.validate(len) {
        Ok(mut ranges) if len > 0 && *ranges[0].start() < len => {
            RangeAnswer::Part(ranges.remove(0))
        }
        _ => RangeAnswer::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::{RangeAnswer, requested_range};

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        let len = 1000;
        let cases = [
            ("bytes=0-99", RangeAnswer::Part(0..=99)),
            ("bytes=990-", RangeAnswer::Part(990..=999)),
            ("bytes=990-5000", RangeAnswer::Part(990..=999)),
            ("bytes=-10", RangeAnswer::Part(990..=999)),
            ("bytes=-1000", RangeAnswer::Part(0..=999)),
            // A suffix longer than the file is the whole file, as a 206.
            ("bytes=-9999999999999999999", RangeAnswer::Part(0..=999)),
            ("bytes=-1001", RangeAnswer::Part(0..=999)),
            ("bytes=1000-", RangeAnswer::Unsatisfiable),
            ("bytes=5000-6000", RangeAnswer::Unsatisfiable),
            // Several ranges, overlapping or not, get the whole file.
            ("bytes=0-5,0-5,0-5", RangeAnswer::Whole),
            ("bytes=0-0,5-9", RangeAnswer::Whole),
            ("bytes=0-5,3-9", RangeAnswer::Whole),
            // Nonsense is ignored.
            ("bytes=abc", RangeAnswer::Whole),
            ("items=0-5", RangeAnswer::Whole),
            ("bytes=100000000000000000000000-", RangeAnswer::Whole),
        ];
        for (header, expected) in cases {
            assert_eq!(requested_range(header, len), expected, "{header}");
        }
        assert_eq!(requested_range("bytes=0-0", 0), RangeAnswer::Unsatisfiable);
    }
}
