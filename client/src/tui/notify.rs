//! Desktop notifications on track change (org.freedesktop.Notifications through notify-rust),
//! when a session bus exists and `notifications` is not turned off. [`Follower`] decides when
//! (a new track starts, not a pause or a seek) and what ([`message`]); a thread of its own
//! talks to the bus, so the UI never waits for it.

use super::state::{AppState, TrackRow};
use mixtape_shared::TrackId;
use std::sync::mpsc::{Receiver, Sender, channel};

/// What a notification says: the title, then "artists — album".
pub fn message(track: &TrackRow) -> (String, String) {
    let body = if track.album.is_empty() {
        track.artists.clone()
    } else {
        format!("{} — {}", track.artists, track.album)
    };
    (track.title.clone(), body)
}

/// Follows the playing track and hands a message to the sender when a new one starts.
pub(crate) struct Follower {
    last: Option<TrackId>,
    tx: Sender<(String, String)>,
}

impl Follower {
    pub fn new(tx: Sender<(String, String)>) -> Self {
        Self { last: None, tx }
    }

    /// Called after every batch of actions.
    pub fn follow(&mut self, state: &AppState) {
        let now = state.now_playing();
        let id = now.map(|t| t.id);
        if id == self.last {
            return;
        }
        self.last = id;
        if let Some(track) = now
            && !state.playback.paused
        {
            self.tx.send(message(track)).ok();
        }
    }
}

/// Starts the notification thread when there is a session bus; `None` otherwise (said at debug
/// level: no bus is a normal desktop-less machine).
#[cfg(target_os = "linux")]
pub(crate) fn start() -> Option<Follower> {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none_or(|a| a.is_empty()) {
        tracing::debug!("notifications: no session bus");
        return None;
    }
    let (tx, rx) = channel();
    std::thread::Builder::new()
        .name("notify".into())
        .spawn(move || run(rx))
        .map_err(|e| tracing::debug!("notifications: {e}"))
        .ok()?;
    Some(Follower::new(tx))
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn start() -> Option<Follower> {
    None
}

#[cfg(target_os = "linux")]
fn run(rx: Receiver<(String, String)>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!("notifications: {e}");
            return;
        }
    };
    let mut failed = false;
    for (summary, body) in rx {
        let shown = runtime.block_on(
            notify_rust::Notification::new()
                .appname("mixtape")
                .summary(&summary)
                .body(&body)
                .icon("audio-x-generic")
                .timeout(notify_rust::Timeout::Milliseconds(4000))
                .show_async(),
        );
        // One line in the log the first time, not one per track.
        if let Err(e) = shown
            && !std::mem::replace(&mut failed, true)
        {
            tracing::warn!("desktop notification not shown: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::tests::sample_state;

    #[test]
    fn one_message_per_track_change_never_for_a_pause_or_a_seek() {
        let (tx, rx) = channel();
        let mut f = Follower::new(tx);
        let mut state = sample_state();
        f.follow(&state);
        assert_eq!(
            rx.try_recv().unwrap(),
            (
                "Rue de la Lune".to_string(),
                "The Paper Lanterns — Café Nocturne".to_string()
            )
        );
        state.playback.position_ms += 10_000;
        state.playback.paused = true;
        f.follow(&state);
        state.playback.paused = false;
        f.follow(&state);
        assert!(rx.try_recv().is_err(), "same track: nothing");
        state.playback.current = Some(2);
        f.follow(&state);
        assert_eq!(rx.try_recv().unwrap().0, "Last Tram Home");
        state.playback.current = None;
        f.follow(&state);
        assert!(rx.try_recv().is_err(), "stopping says nothing");
    }

    #[test]
    fn a_track_without_album_says_only_its_artists() {
        let mut t = sample_state().queue[0].clone();
        t.album.clear();
        assert_eq!(message(&t).1, "The Paper Lanterns");
    }
}
