//! The scale-out settings' types: where the data lives ([`Database`]), the deployment secret
//! every node shares ([`DeploySecret`]), and URLs made fit for logs ([`redact_url`]).

use super::ConfigError;
use std::path::{Path, PathBuf};

/// The shortest secret file accepted: 256 bits.
pub const SECRET_MIN_BYTES: usize = 32;

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// The embedded SQLite file; `None` is `data_dir/mixtape.db`.
    Sqlite(Option<PathBuf>),
    /// The PostgreSQL primary's URL (shared by every node).
    Postgres(String),
}

impl Database {
    /// `sqlite:PATH`, `postgres://…` or `postgresql://…`.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        if let Some(path) = text.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(ConfigError::BadDatabase(text.into()));
            }
            return Ok(Self::Sqlite(Some(PathBuf::from(path))));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            text.parse::<postgres::Config>()
                .map_err(|e| ConfigError::BadDatabaseUrl(redact_url(text), e.to_string()))?;
            return Ok(Self::Postgres(text.into()));
        }
        Err(ConfigError::BadDatabase(redact_url(text)))
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }
}

/// The deployment secret every node is given (`--secret-file`). Keys for each use are derived
/// from it with blake3's `derive_key` and a context of their own, so one leaked derived key
/// does not give away another.
#[derive(Clone)]
pub struct DeploySecret(Vec<u8>);

/// The context of the key that seals Subsonic app passwords.
pub const SUBSONIC_SEALING_CONTEXT: &str = "mixtape 2026-12-03 subsonic app password sealing key";

impl DeploySecret {
    /// At least [`SECRET_MIN_BYTES`], used byte for byte (a trailing newline included).
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let bytes =
            std::fs::read(path).map_err(|e| ConfigError::ReadSecret(path.to_path_buf(), e))?;
        Self::from_bytes(bytes).map_err(|len| ConfigError::ShortSecret(path.to_path_buf(), len))
    }

    /// Err: the length, when too short.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, usize> {
        if bytes.len() < SECRET_MIN_BYTES {
            return Err(bytes.len());
        }
        Ok(Self(bytes))
    }

    /// The key for one use (`context` names it; never reuse one for another purpose).
    pub fn derive_key(&self, context: &str) -> [u8; 32] {
        blake3::derive_key(context, &self.0)
    }
}

impl std::fmt::Debug for DeploySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeploySecret(<redacted>)")
    }
}

/// A RabbitMQ URL (`amqp://` or `amqps://`) as the broker client reads it.
pub fn check_broker_url(url: &str) -> Result<(), ConfigError> {
    if !(url.starts_with("amqp://") || url.starts_with("amqps://")) {
        return Err(ConfigError::BadBrokerUrl(
            redact_url(url),
            "not an amqp:// URL".into(),
        ));
    }
    url.parse::<lapin::uri::AMQPUri>()
        .map(|_| ())
        .map_err(|e| ConfigError::BadBrokerUrl(redact_url(url), e))
}

/// A URL with its password (userinfo or `password=` parameter) replaced, for logs.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest = scheme_end + 3;
        let authority_end = out[rest..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| rest + i);
        if let Some(at) = out[rest..authority_end].rfind('@') {
            let userinfo = &out[rest..rest + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest + colon + 1..rest + at, "<redacted>");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=<redacted>"),
                _ => pair.to_string(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}
