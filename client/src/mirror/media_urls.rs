//! The signed `media_url`s the mirror holds, for the cache's download threads: each lookup opens
//! its own read-only connection (a download is seconds long; a `Mirror` is one connection and
//! stays on its thread).

use std::path::PathBuf;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::cache::MediaUrls;

/// Looks up `media_url` by content hash in the mirror file at `path`.
#[derive(Debug, Clone)]
pub struct MirrorMediaUrls {
    path: PathBuf,
}

impl MirrorMediaUrls {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    fn lookup(&self, hash: &str) -> rusqlite::Result<Option<String>> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(2))?;
        let json: Option<String> = conn
            .query_row(
                "SELECT json FROM tracks WHERE content_hash = ?1 LIMIT 1",
                [hash],
                |r| r.get(0),
            )
            .optional()?;
        Ok(json.and_then(|j| {
            serde_json::from_str::<serde_json::Value>(&j)
                .ok()?
                .get("media_url")?
                .as_str()
                .map(str::to_owned)
        }))
    }
}

impl MediaUrls for MirrorMediaUrls {
    fn media_url(&self, hash: &str) -> Option<String> {
        match self.lookup(hash) {
            Ok(url) => url,
            Err(e) => {
                // The token route still works: only the edge is missed.
                tracing::debug!(hash, "no media URL from the mirror: {e}");
                None
            }
        }
    }
}
