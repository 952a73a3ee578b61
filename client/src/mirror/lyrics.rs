//! Lyrics kept for tracks this device played or keeps offline, so they show without the
//! network: what the server answered, or that it has none.

use super::{Mirror, MirrorResult, corrupt};
use mixtape_shared::TrackId;
use mixtape_shared::api::Lyrics;
use rusqlite::{OptionalExtension, params};

/// What the mirror knows of a track's lyrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KnownLyrics {
    /// Never asked (or the track changed since).
    Unknown,
    /// The server has none.
    None,
    Some(Lyrics),
}

impl Mirror {
    pub fn lyrics(&self, id: TrackId) -> MirrorResult<KnownLyrics> {
        let row: Option<Option<String>> = self
            .conn
            .prepare_cached("SELECT json FROM lyrics WHERE track_id = ?1")?
            .query_row([id.0], |r| r.get(0))
            .optional()?;
        Ok(match row {
            None => KnownLyrics::Unknown,
            Some(None) => KnownLyrics::None,
            Some(Some(json)) => KnownLyrics::Some(
                serde_json::from_str(&json)
                    .map_err(|e| corrupt(format!("lyrics of track {}: {e}", id.0)))?,
            ),
        })
    }

    /// Keeps the server's answer for `id` (`None`: it has no lyrics).
    pub fn set_lyrics(&self, id: TrackId, lyrics: Option<&Lyrics>) -> MirrorResult<()> {
        let json = lyrics
            .map(serde_json::to_string)
            .transpose()
            .map_err(corrupt)?;
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO lyrics (track_id, json) VALUES (?1, ?2)")?
            .execute(params![id.0, json])?;
        Ok(())
    }
}
