//! One error type for every handler: a status, a stable code and a message, sent as
//! `{"error": {"code", "message"}}`. Internal details are logged, never sent.

use crate::art::ArtError;
use crate::auth::AuthError;
use crate::catalog::ListError;
use crate::events::EventError;
use crate::playlists::PlaylistError;
use crate::scanner::ScanError;
use crate::storage::StorageError;
use crate::stream::StreamError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
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
            other => Self::internal(other),
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
            PlaylistError::IdTaken(_) => Self::new(StatusCode::CONFLICT, "conflict", e.to_string()),
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
