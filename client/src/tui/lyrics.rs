//! Lyrics for Now Playing: the playing track's lyrics come from the mirror, or from the server
//! (off the UI thread) and are then kept in the mirror, so a track played once has them offline.
//! They reach the view as an [`Action::Lyrics`]; the pane follows playback by itself
//! ([`LyricsPane::focus`]), and plain lyrics scroll with the list keys.

use super::Msg;
use super::state::{Action, AppState};
use crate::api::ApiClient;
use crate::mirror::{KnownLyrics, Mirror};
use mixtape_shared::TrackId;
use mixtape_shared::api::Lyrics;
use std::sync::Arc;
use std::sync::mpsc::Sender;

/// The lyrics of one track as the view shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct LyricsPane {
    pub track: TrackId,
    /// `None`: the track has none.
    pub lyrics: Option<Arc<Lyrics>>,
    /// First line shown of plain lyrics (synced lyrics follow playback instead).
    pub scroll: usize,
}

impl LyricsPane {
    /// The first line to show in `rows` rows at `position_ms`: synced lyrics keep the current
    /// line a third of the way down (what comes next matters more than what was sung); plain
    /// lyrics show from where they were scrolled to. Never past the point where the last line
    /// reaches the bottom.
    pub fn first_row(&self, position_ms: u64, rows: usize) -> usize {
        let Some(lyrics) = &self.lyrics else {
            return 0;
        };
        let last_start = lyrics.lines.len().saturating_sub(rows);
        let wanted = if lyrics.synced {
            lyrics
                .line_at(position_ms)
                .map_or(0, |i| i.saturating_sub(rows / 3))
        } else {
            self.scroll
        };
        wanted.min(last_start)
    }

    /// Moves plain lyrics by `delta` lines (synced lyrics cannot be scrolled away from the
    /// music).
    pub fn scroll_by(&mut self, delta: isize) {
        let Some(lyrics) = &self.lyrics else { return };
        if lyrics.synced {
            return;
        }
        let max = lyrics.lines.len().saturating_sub(1) as isize;
        self.scroll = (self.scroll as isize + delta).clamp(0, max) as usize;
    }
}

/// Follows the playing track and loads its lyrics when it changes.
pub(crate) struct Loader {
    /// Server and token, to fetch lyrics the mirror lacks.
    session: Option<(String, String)>,
    /// The track last asked for.
    wanted: Option<TrackId>,
}

impl Loader {
    pub fn new(session: Option<(String, String)>) -> Self {
        Self {
            session,
            wanted: None,
        }
    }

    /// Called after every batch of actions: looks the new track's lyrics up in the mirror, or
    /// asks the server on a thread of its own (the answer comes back as [`Msg::Lyrics`]).
    pub fn follow(&mut self, state: &AppState, mirror: &Mirror, tx: &Sender<Msg>) {
        let id = state.now_playing().map(|t| t.id);
        if id == self.wanted {
            return;
        }
        self.wanted = id;
        let Some(id) = id else { return };
        match mirror.lyrics(id) {
            Ok(KnownLyrics::Some(l)) => {
                tx.send(Msg::Action(Action::Lyrics(id, Some(Arc::new(l)))))
                    .ok();
                return;
            }
            Ok(KnownLyrics::None) => {
                tx.send(Msg::Action(Action::Lyrics(id, None))).ok();
                return;
            }
            Ok(KnownLyrics::Unknown) => {}
            Err(e) => tracing::warn!(track = id.0, "lyrics: {e}"),
        }
        let Some((server, token)) = self.session.clone() else {
            tx.send(Msg::Action(Action::Lyrics(id, None))).ok();
            return;
        };
        let tx = tx.clone();
        std::thread::spawn(move || {
            let answer = ApiClient::new(&server, Some(token)).and_then(|api| api.lyrics(id));
            match answer {
                Ok(lyrics) => {
                    tx.send(Msg::Lyrics(id, lyrics)).ok();
                }
                Err(e) => {
                    // Offline or refused: nothing kept, asked again when the track comes back.
                    tracing::debug!(track = id.0, "lyrics not fetched: {e}");
                    tx.send(Msg::Action(Action::Lyrics(id, None))).ok();
                }
            }
        });
    }
}

/// The server's answer for `id`: kept in the mirror, then shown.
pub(crate) fn fetched(mirror: &Mirror, id: TrackId, lyrics: Option<Lyrics>) -> Action {
    if let Err(e) = mirror.set_lyrics(id, lyrics.as_ref()) {
        tracing::warn!(track = id.0, "lyrics not kept: {e}");
    }
    Action::Lyrics(id, lyrics.map(Arc::new))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mixtape_shared::api::LyricsSource;

    fn pane(text: &str) -> LyricsPane {
        LyricsPane {
            track: TrackId(1),
            lyrics: mixtape_shared::lyrics::parse(text, LyricsSource::Lrc).map(Arc::new),
            scroll: 0,
        }
    }

    #[test]
    fn synced_lyrics_keep_the_current_line_in_view() {
        let text: String = (0..30)
            .map(|i| format!("[00:{i:02}.00]line {i}\n"))
            .collect();
        let p = pane(&text);
        assert_eq!(p.first_row(0, 9), 0);
        assert_eq!(p.first_row(2_000, 9), 0);
        // Line 12 sung: it is the fourth row shown.
        assert_eq!(p.first_row(12_500, 9), 9);
        // At the end the last line stays at the bottom, not alone at the top.
        assert_eq!(p.first_row(59_000, 9), 21);
        // Synced lyrics do not scroll away from the music.
        let mut q = p.clone();
        q.scroll_by(5);
        assert_eq!(q.first_row(0, 9), 0);
    }

    #[test]
    fn plain_lyrics_scroll_within_their_lines() {
        let text: String = (0..20).map(|i| format!("plain {i}\n")).collect();
        let mut p = pane(&text);
        p.scroll_by(-3);
        assert_eq!(p.first_row(99_000, 5), 0);
        p.scroll_by(7);
        assert_eq!(p.first_row(0, 5), 7);
        p.scroll_by(100);
        assert_eq!(p.first_row(0, 5), 15);
    }
}
