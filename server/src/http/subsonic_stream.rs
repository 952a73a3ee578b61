//! Subsonic `stream` and `download`. `download` and `stream?format=raw` give the original file;
//! `stream` with `format` and/or `maxBitRate` a rendition (exact `Content-Length`, Range, so
//! `estimateContentLength` needs no estimate). Plays are never counted here. Also the
//! `transcoding` extension's two calls: `getTranscodeDecision` (decided in
//! `subsonic::decision`) and `getTranscodeStream`.

use super::AppState;
use super::error::ApiError;
use crate::stream::StreamError;
use crate::subsonic::decision::{self, ClientInfo, StreamParams};
use crate::subsonic::{Code, Params, Payload, SubsonicError, ids};
use crate::transcode::choice::{Choice, choose, effective_max};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use mixtape_shared::TrackId;
use mixtape_shared::api::{Track, User};

fn stream_error(e: StreamError) -> SubsonicError {
    match e {
        StreamError::NotFound => SubsonicError::not_found("song"),
        StreamError::FileGone | StreamError::Changed => {
            SubsonicError::new(Code::NotFound, e.to_string())
        }
        StreamError::Storage(e) => e.into(),
    }
}

/// `stream` (`download`: always the original), within the user's own limit.
pub(super) async fn stream(
    s: &AppState,
    user: &User,
    params: &Params,
    method: &Method,
    headers: &HeaderMap,
    download: bool,
) -> Result<Response, SubsonicError> {
    let id =
        ids::parse_track(params.required("id")?).ok_or_else(|| SubsonicError::not_found("song"))?;
    let choice = if download {
        Choice::Original
    } else {
        let format = params.get("format").filter(|f| !f.is_empty());
        let max = effective_max(params.number::<u32>("maxBitRate")?, user.max_bitrate_kbps);
        if format.is_none() && max.is_none() {
            Choice::Original
        } else {
            let store = s.store.clone();
            let track = tokio::task::spawn_blocking(move || store.track(id))
                .await
                .map_err(SubsonicError::internal)??
                .ok_or_else(|| SubsonicError::not_found("song"))?;
            choose(format, max, track.bitrate_kbps, &track.format)
        }
    };
    // `timeOffset` (whole seconds, the `transcodeOffset` extension): a rendition from there.
    // The original is sent whole: clients seek in it with Range.
    let offset_ms = params
        .number::<u64>("timeOffset")?
        .unwrap_or(0)
        .saturating_mul(1000);
    match choice {
        Choice::Rendition(profile) => Ok(super::rendition::by_track(
            s, user.id.0, id, profile, offset_ms, method, headers,
        )
        .await
        .unwrap_or_else(IntoResponse::into_response)),
        Choice::Original => original(s, id, method, headers).await,
    }
}

/// The file as it is, with Range and ETag.
async fn original(
    s: &AppState,
    id: TrackId,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Response, SubsonicError> {
    let (store, library) = (s.store.clone(), s.library.clone());
    let open =
        tokio::task::spawn_blocking(move || crate::stream::open(store.as_ref(), &library, id))
            .await
            .map_err(SubsonicError::internal)?
            .map_err(stream_error)?;
    Ok(
        super::stream::respond(open, method, headers, "private, no-cache")
            .await
            .unwrap_or_else(IntoResponse::into_response),
    )
}

/// `mediaId` with `mediaType=song` (we have no podcasts), for the `transcoding` extension.
fn media_song(params: &Params) -> Result<TrackId, SubsonicError> {
    let id = params.required("mediaId")?;
    match params.required("mediaType")? {
        "song" => ids::parse_track(id).ok_or_else(|| SubsonicError::not_found("song")),
        "podcast" => Err(SubsonicError::not_found("podcast episode")),
        _ => Err(SubsonicError::invalid("mediaType", "song or podcast")),
    }
}

async fn track_of(s: &AppState, id: TrackId) -> Result<Track, SubsonicError> {
    let store = s.store.clone();
    tokio::task::spawn_blocking(move || store.track(id))
        .await
        .map_err(SubsonicError::internal)??
        .ok_or_else(|| SubsonicError::not_found("song"))
}

/// `getTranscodeDecision`: the client's `ClientInfo` (the JSON body) against the song.
pub(super) async fn transcode_decision(
    s: &AppState,
    user: &User,
    params: &Params,
    body: &[u8],
) -> Result<Payload, SubsonicError> {
    let id = media_song(params)?;
    let mut client: ClientInfo = serde_json::from_slice(body).map_err(|e| {
        SubsonicError::invalid("the body", &format!("a ClientInfo JSON object ({e})"))
    })?;
    client.limit_to(user.max_bitrate_kbps);
    let track = track_of(s, id).await?;
    Payload::one("transcodeDecision", &decision::decide(&client, &track))
}

/// `getTranscodeStream`: what a decision's `transcodeParams` names, from `offset` seconds.
/// Errors are HTTP statuses, as the extension has them: 400 for a bad request, 404 for an
/// unknown song, 410 when the file changed since the decision (ask for a new one).
pub(super) async fn transcode_stream(
    s: &AppState,
    user: i64,
    params: &Params,
    method: &Method,
    headers: &HeaderMap,
) -> Response {
    let http_error = |e: SubsonicError| {
        let status = if e.code == Code::NotFound {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::BAD_REQUEST
        };
        ApiError::new(status, "bad_request", e.message).into_response()
    };
    let id = match media_song(params) {
        Ok(id) => id,
        Err(e) => return http_error(e),
    };
    let token = match params.required("transcodeParams") {
        Ok(t) => t,
        Err(e) => return http_error(e),
    };
    let Some(wanted) = StreamParams::decode(token) else {
        return ApiError::bad_request(
            "transcodeParams must come from this server's getTranscodeDecision",
        )
        .into_response();
    };
    let offset_ms = match params.number::<u64>("offset") {
        Ok(o) => o.unwrap_or(0).saturating_mul(1000),
        Err(e) => return http_error(e),
    };
    let track = match track_of(s, id).await {
        Ok(t) => t,
        Err(e) => return http_error(e),
    };
    if !wanted.matches(&track.content_hash) {
        return ApiError::new(
            StatusCode::GONE,
            "stale_decision",
            "the song's file changed since this decision: ask getTranscodeDecision again",
        )
        .into_response();
    }
    match wanted.profile {
        Some(profile) => {
            super::rendition::by_track(s, user, id, profile, offset_ms, method, headers)
                .await
                .unwrap_or_else(IntoResponse::into_response)
        }
        None => original(s, id, method, headers)
            .await
            .unwrap_or_else(http_error),
    }
}
