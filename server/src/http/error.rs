//! One error type for every handler: a status, a stable code and a message, sent as
//! `{"error": {"code", "message"}}`. Internal details are logged, never sent.

use crate::art::ArtError;
use crate::auth::AuthError;
use crate::catalog::ListError;
use crate::events::EventError;
use crate::idempotency::IdempotencyError;
use crate::playlists::PlaylistError;
use crate::scanner::ScanError;
use crate::storage::StorageError;
use crate::stream::StreamError;
use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mixtape_shared::api::{ErrorBody, ErrorDetail};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what}"),
        )
    }
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or invalid credentials: log in and send Authorization: Bearer TOKEN",
        )
    }
    /// 507: nothing was saved because the server's disk is full.
    pub fn disk_full() -> Self {
        Self::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "disk_full",
            "the server's disk is full: nothing was saved; retry when space is freed",
        )
    }
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(error = %error, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error; see the server log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict(what) => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{what} already exists"),
            ),
            StorageError::BadCursor => Self::bad_request("cursor is not one this server issued"),
            ref full if full.is_disk_full() => {
                tracing::error!(error = %full, "the database's disk is full");
                Self::disk_full()
            }
            ref down if down.is_unavailable() => {
                tracing::error!(error = %down, "the database is unreachable");
                let mut e = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "the database cannot be reached; nothing was saved; retry shortly",
                );
                e.retry_after = Some(2);
                e
            }
            other => Self::internal(other),
        }
    }
}

impl From<IdempotencyError> for ApiError {
    fn from(e: IdempotencyError) -> Self {
        match e {
            IdempotencyError::Malformed => Self::new(
                StatusCode::BAD_REQUEST,
                "idempotency_key_invalid",
                e.to_string(),
            ),
            IdempotencyError::Reused => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                e.to_string(),
            ),
            IdempotencyError::InFlight => Self {
                retry_after: Some(1),
                ..Self::new(StatusCode::CONFLICT, "idempotency_in_flight", e.to_string())
            },
            IdempotencyError::Unreadable(_) => Self::internal(e),
            IdempotencyError::Storage(s) => s.into(),
        }
    }
}

impl From<ListError> for ApiError {
    fn from(e: ListError) -> Self {
        Self::bad_request(e.to_string())
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::BadCredentials => {
                Self::new(StatusCode::UNAUTHORIZED, "bad_credentials", e.to_string())
            }
            AuthError::Unauthenticated => Self::unauthorized(),
            AuthError::Throttled(secs) => Self {
                retry_after: Some(secs),
                ..Self::new(StatusCode::TOO_MANY_REQUESTS, "throttled", e.to_string())
            },
            AuthError::Forbidden => Self::new(StatusCode::FORBIDDEN, "forbidden", e.to_string()),
            AuthError::Invalid(m) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m),
            AuthError::Storage(s) => s.into(),
            AuthError::Hashing(_) => Self::internal(e),
            AuthError::Busy(secs) => Self {
                retry_after: Some(secs),
                ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", e.to_string())
            },
            AuthError::NotASession => {
                Self::new(StatusCode::BAD_REQUEST, "not_a_session", e.to_string())
            }
        }
    }
}

impl From<PlaylistError> for ApiError {
    fn from(e: PlaylistError) -> Self {
        match e {
            PlaylistError::NotFound => Self::not_found("playlist"),
            PlaylistError::EntryNotFound => Self::not_found("playlist entry"),
            PlaylistError::Forbidden => {
                Self::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
            }
            PlaylistError::UnknownTracks(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_tracks",
                e.to_string(),
            ),
            PlaylistError::Invalid(m) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m),
            PlaylistError::IdTaken(_) | PlaylistError::EntryTaken(_) => {
                Self::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            PlaylistError::NoName => Self::bad_request(e.to_string()),
            // Nobody reads this answer: the client has gone.
            PlaylistError::Cancelled => {
                Self::new(StatusCode::REQUEST_TIMEOUT, "cancelled", e.to_string())
            }
            PlaylistError::Storage(s) => s.into(),
        }
    }
}

impl From<EventError> for ApiError {
    fn from(e: EventError) -> Self {
        match e {
            EventError::Invalid(m) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m),
            EventError::Storage(s) => s.into(),
        }
    }
}

impl From<StreamError> for ApiError {
    fn from(e: StreamError) -> Self {
        match e {
            StreamError::NotFound => Self::not_found("track"),
            StreamError::FileGone => Self::new(StatusCode::GONE, "file_gone", e.to_string()),
            StreamError::Changed => Self::new(StatusCode::CONFLICT, "file_changed", e.to_string()),
            StreamError::Storage(s) => s.into(),
        }
    }
}

impl From<crate::transcode::TranscodeError> for ApiError {
    fn from(e: crate::transcode::TranscodeError) -> Self {
        use crate::transcode::TranscodeError;
        match e {
            TranscodeError::FileGone => Self::new(StatusCode::GONE, "file_gone", e.to_string()),
            TranscodeError::Source(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "cannot_transcode",
                e.to_string(),
            ),
            TranscodeError::Busy(_) => {
                let mut err = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "transcoder_busy",
                    e.to_string(),
                );
                err.retry_after = Some(5);
                err
            }
            TranscodeError::Failed(_) => Self::internal(e),
        }
    }
}

impl From<ArtError> for ApiError {
    fn from(e: ArtError) -> Self {
        match e {
            ArtError::NotFound => Self::not_found("cover art"),
            ArtError::BadSize => Self::bad_request(e.to_string()),
            ArtError::Unreadable(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "art_unreadable",
                e.to_string(),
            ),
            ArtError::TooLarge { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "art_too_large",
                e.to_string(),
            ),
            ArtError::Busy => Self {
                retry_after: Some(1),
                ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", e.to_string())
            },
            ArtError::Storage(s) => s.into(),
            ArtError::Cache(_) => Self::internal(e),
        }
    }
}

impl From<ScanError> for ApiError {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::AlreadyRunning => {
                Self::new(StatusCode::CONFLICT, "scan_running", e.to_string())
            }
            ScanError::Storage(s) => s.into(),
            other => Self::internal(other),
        }
    }
}

/// The longest plain-text rejection kept as the message of its JSON envelope.
const MAX_PLAIN_MESSAGE: usize = 300;

/// Puts error answers made outside our handlers (the router's 405, the timeout's 408, axum's
/// body rejections: 413, bad UTF-8) into the same `{"error": {"code", "message"}}` envelope.
pub async fn envelope_plain_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    // Only bodiless or plain-text answers: JSON is ours already, XML is the Subsonic envelope.
    let is_plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !is_plain {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_PLAIN_MESSAGE * 4)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let (code, default_message) = plain_status_code(status);
    let message = if text.is_empty() {
        default_message.to_owned()
    } else {
        text.chars().take(MAX_PLAIN_MESSAGE).collect()
    };
    let body = serde_json::to_vec(&ErrorBody {
        error: ErrorDetail {
            code: code.to_owned(),
            message,
        },
    })
    .unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// The stable code and a default message for an error status we did not make ourselves.
fn plain_status_code(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this endpoint does not take that method; see /api/openapi.json",
        ),
        StatusCode::REQUEST_TIMEOUT => (
            "timeout",
            "the request was not received and answered in time",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("too_large", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "the request body has the wrong content type",
        ),
        StatusCode::NOT_FOUND => ("not_found", "no such endpoint; see /api/openapi.json"),
        StatusCode::UNAUTHORIZED => (
            "unauthorized",
            "missing or invalid credentials: log in and send Authorization: Bearer TOKEN",
        ),
        s if s.is_server_error() => ("internal", "internal server error; see the server log"),
        _ => ("bad_request", "the request is malformed"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_unreachable_database_is_a_503_not_a_500() {
        // Nothing listens on port 1: the connection error carries no SQLSTATE.
        let e = ::postgres::Client::connect("postgres://x@127.0.0.1:1/x", ::postgres::NoTls)
            .err()
            .expect("port 1 refuses");
        let api = super::ApiError::from(crate::storage::StorageError::Postgres(e));
        assert_eq!(api.status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(api.code, "database_unavailable");
    }

    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use std::time::Duration;
    use tower::ServiceExt;

    /// The layers in `router`'s order: the timeout inside, the envelope around it.
    fn app() -> Router {
        Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .route(
                "/plain",
                get(|| async { (StatusCode::BAD_REQUEST, "no good") }),
            )
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                Duration::from_millis(20),
            ))
            .layer(axum::middleware::from_fn(super::envelope_plain_errors))
    }

    async fn call(method: &str, uri: &str) -> (StatusCode, serde_json::Value) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let response = app().oneshot(request).await.unwrap();
        let status = response.status();
        assert_eq!(response.headers()["content-type"], "application/json");
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn timeouts_wrong_methods_and_plain_rejections_get_the_json_envelope() {
        let (status, body) = call("GET", "/slow").await;
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
        assert_eq!(body["error"]["code"], "timeout");
        let (status, body) = call("POST", "/plain").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(body["error"]["code"], "method_not_allowed");
        let (status, body) = call("GET", "/plain").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["error"]["message"], "no good",
            "the rejection's own words are kept"
        );
    }
}
