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
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use mixtape_codec::{Codec, Profile};
use mixtape_shared::TrackId;
use mixtape_shared::api::Track;

/// What a `stream` request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Original,
    Rendition(&'static Profile),
}

/// The answer to `format` and `maxBitRate` (kb/s, 0 = none) for a source of `source_kbps`
/// in `source_format` (our `format` field: `flac`, `mp3`, `opus`…):
/// - `raw`, or the source's own format within the cap: the original;
/// - `opus`/`ogg`/`oga`: the largest Opus profile within the cap (the original when the source
///   is Opus already within it);
/// - `mp3` and everything else (`aac`, `m4a`…, which Opus cannot stand in for on the devices
///   that ask): the largest MP3 profile within the cap, when this build has MP3; the original
///   otherwise;
/// - no format: the original unless a cap is set and the source exceeds it (or its bitrate is
///   unknown), then Opus within the cap.
pub fn choose(
    format: Option<&str>,
    max_kbps: Option<u32>,
    source_kbps: Option<u32>,
    source_format: &str,
) -> Choice {
    let max = max_kbps.filter(|&m| m > 0);
    let within = |codec: Codec| {
        source_format == codec.suffix()
            && match (max, source_kbps) {
                (None, _) => true,
                (Some(m), Some(b)) => b <= m,
                (Some(_), None) => false,
            }
    };
    let pick = |codec: Codec| {
        if within(codec) {
            return Choice::Original;
        }
        Profile::best_within(codec, max).map_or(Choice::Original, Choice::Rendition)
    };
    let under_cap = match (max, source_kbps) {
        (None, _) => true,
        (Some(m), Some(b)) => b <= m,
        (Some(_), None) => false,
    };
    match format.map(str::to_ascii_lowercase).as_deref() {
        Some("raw") => Choice::Original,
        // The song's own suffix asks for the song as it is (Aonsoku sends it on every stream,
        // `format=ogg` for Ogg Vorbis too).
        Some(f) if f.eq_ignore_ascii_case(source_format) && under_cap => Choice::Original,
        Some("opus" | "ogg" | "oga") => pick(Codec::Opus),
        Some(_) => pick(Codec::Mp3),
        None => match (max, source_kbps) {
            (None, _) => Choice::Original,
            (Some(m), Some(b)) if b <= m => Choice::Original,
            _ => Profile::best_within(Codec::Opus, max).map_or(Choice::Original, Choice::Rendition),
        },
    }
}

fn stream_error(e: StreamError) -> SubsonicError {
    match e {
        StreamError::NotFound => SubsonicError::not_found("song"),
        StreamError::FileGone | StreamError::Changed => {
            SubsonicError::new(Code::NotFound, e.to_string())
        }
        StreamError::Storage(e) => e.into(),
    }
}

/// `stream` (`download`: always the original).
pub(super) async fn stream(
    s: &AppState,
    user: i64,
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
        let max = params.number::<u32>("maxBitRate")?;
        if format.is_none() && max.unwrap_or(0) == 0 {
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
            s, user, id, profile, offset_ms, method, headers,
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
    params: &Params,
    body: &[u8],
) -> Result<Payload, SubsonicError> {
    let id = media_song(params)?;
    let client: ClientInfo = serde_json::from_slice(body).map_err(|e| {
        SubsonicError::invalid("the body", &format!("a ClientInfo JSON object ({e})"))
    })?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn id(c: Choice) -> &'static str {
        match c {
            Choice::Original => "original",
            Choice::Rendition(p) => p.id,
        }
    }

    #[test]
    fn format_and_max_bit_rate_pick_a_profile_as_the_spec_reads() {
        let cases = [
            // (format, maxBitRate, source kb/s, source format, expected)
            (Some("raw"), Some(64), Some(900), "flac", "original"),
            (None, None, Some(900), "flac", "original"),
            (None, Some(0), Some(900), "flac", "original"),
            (None, Some(320), Some(256), "mp3", "original"),
            (None, Some(128), Some(900), "flac", "opus-128"),
            (None, Some(100), None, "flac", "opus-96"),
            (Some("opus"), None, Some(900), "flac", "opus-192"),
            (Some("opus"), Some(150), Some(900), "flac", "opus-128"),
            (Some("ogg"), Some(32), Some(900), "flac", "opus-64"),
            (Some("opus"), Some(160), Some(128), "opus", "original"),
            (Some("opus"), Some(96), Some(128), "opus", "opus-96"),
            (Some("ogg"), None, Some(160), "ogg", "original"),
            (Some("FLAC"), None, Some(900), "flac", "original"),
        ];
        for (format, max, src, src_format, expected) in cases {
            assert_eq!(
                id(choose(format, max, src, src_format)),
                expected,
                "{format:?} {max:?} {src:?} {src_format}"
            );
        }
    }
}
