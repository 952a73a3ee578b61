//! Subsonic's error codes. Errors are answered with HTTP 200 and `status="failed"`.

use crate::auth::AuthError;
use crate::events::EventError;
use crate::playlists::PlaylistError;
use crate::scanner::ScanError;
use crate::storage::StorageError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Generic = 0,
    MissingParameter = 10,
    ClientTooOld = 20,
    ServerTooOld = 30,
    WrongCredentials = 40,
    TokenAuthNotSupported = 41,
    AuthMechanismNotSupported = 42,
    ConflictingAuth = 43,
    InvalidApiKey = 44,
    NotAuthorized = 50,
    TrialOver = 60,
    NotFound = 70,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("subsonic error {}: {message}", *code as u32)]
pub struct SubsonicError {
    pub code: Code,
    pub message: String,
}

impl SubsonicError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
    pub fn missing(param: &str) -> Self {
        Self::new(
            Code::MissingParameter,
            format!("required parameter is missing: {param}"),
        )
    }
    pub fn invalid(param: &str, expected: &str) -> Self {
        Self::new(
            Code::MissingParameter,
            format!("parameter {param} must be {expected}"),
        )
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(Code::NotFound, format!("{what} not found"))
    }
    pub fn wrong_credentials() -> Self {
        Self::new(Code::WrongCredentials, "wrong username or password")
    }
    /// Logs the detail; the client gets a generic message.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(error = %error, "subsonic: internal error");
        Self::new(Code::Generic, "internal server error; see the server log")
    }
}

impl From<StorageError> for SubsonicError {
    fn from(e: StorageError) -> Self {
        Self::internal(e)
    }
}

impl From<AuthError> for SubsonicError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::BadCredentials | AuthError::Unauthenticated => Self::wrong_credentials(),
            AuthError::Throttled(secs) => Self::new(
                Code::WrongCredentials,
                format!("too many failed attempts; try again in {secs} s"),
            ),
            AuthError::Forbidden => Self::new(Code::NotAuthorized, e.to_string()),
            AuthError::Invalid(m) => Self::new(Code::Generic, m),
            AuthError::Storage(s) => s.into(),
            AuthError::Hashing(_) => Self::internal(e),
            AuthError::Busy(_) | AuthError::NotASession => Self::new(Code::Generic, e.to_string()),
        }
    }
}

impl From<PlaylistError> for SubsonicError {
    fn from(e: PlaylistError) -> Self {
        match e {
            PlaylistError::NotFound | PlaylistError::EntryNotFound => {
                Self::new(Code::NotFound, e.to_string())
            }
            PlaylistError::UnknownTracks(_) => Self::new(Code::NotFound, e.to_string()),
            PlaylistError::Forbidden => Self::new(Code::NotAuthorized, e.to_string()),
            PlaylistError::Invalid(m) => Self::new(Code::Generic, m),
            PlaylistError::IdTaken(_)
            | PlaylistError::EntryTaken(_)
            | PlaylistError::NoName
            | PlaylistError::Cancelled => Self::new(Code::Generic, e.to_string()),
            PlaylistError::Storage(s) => s.into(),
        }
    }
}

impl From<EventError> for SubsonicError {
    fn from(e: EventError) -> Self {
        match e {
            EventError::Invalid(m) => Self::new(Code::Generic, m),
            EventError::Storage(s) => s.into(),
        }
    }
}

impl From<ScanError> for SubsonicError {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::Storage(s) => s.into(),
            other => Self::internal(other),
        }
    }
}
