//! The bridge between the TUI and the player thread: effects become player commands, and player
//! events become [`Action::Playback`] updates for the view and play events in the outbox
//! (start, finish, skip, with position), recorded also offline and uploaded by the next sync.

use super::state::{Action, Playback, Repeat, TrackRow};
use super::{Msg, TuiError, row};
use crate::device::Device;
use crate::mirror::Mirror;
use crate::player::{
    self, CacheOpener, PlayState, Player, PlayerConfig, PlayerEvent, PlayerHandle, QueueItem,
};
use mixtape_shared::TrackId;
use mixtape_shared::api::{PlayEventKind, Track};
use std::collections::HashMap;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

pub(crate) struct Bridge {
    handle: Option<PlayerHandle>,
    /// "FLAC · 44.1 kHz · 2 ch · 905 kbit/s" by track, for Now Playing.
    formats: Arc<Mutex<HashMap<TrackId, String>>>,
    /// What the opener streams uncached tracks in; the cycle key changes it.
    pub stream_quality: player::StreamQuality,
}

fn describe(t: &Track) -> String {
    let mut parts = vec![t.format.to_uppercase()];
    if let Some(rate) = t.sample_rate {
        parts.push(format!("{:.1} kHz", rate as f64 / 1000.0));
    }
    if let Some(ch) = t.channels {
        parts.push(format!("{ch} ch"));
    }
    if let Some(kbps) = t.bitrate_kbps {
        parts.push(format!("{kbps} kbit/s"));
    }
    parts.join(" · ")
}

fn to_player_repeat(r: Repeat) -> player::Repeat {
    match r {
        Repeat::Off => player::Repeat::Off,
        Repeat::All => player::Repeat::All,
        Repeat::One => player::Repeat::One,
    }
}

fn from_player_repeat(r: player::Repeat) -> Repeat {
    match r {
        player::Repeat::Off => Repeat::Off,
        player::Repeat::All => Repeat::All,
        player::Repeat::One => Repeat::One,
    }
}

fn playback_of(handle: &PlayerHandle, formats: &Mutex<HashMap<TrackId, String>>) -> Playback {
    let s = handle.status();
    let format = s
        .index
        .and_then(|i| s.queue.get(i))
        .and_then(|item| {
            formats
                .lock()
                .ok()
                .and_then(|f| f.get(&item.track_id).cloned())
        })
        .unwrap_or_default();
    Playback {
        current: s.index,
        position_ms: s.position_ms,
        paused: s.state != PlayState::Playing,
        volume: (s.volume * 100.0).round().clamp(0.0, 100.0) as u8,
        shuffle: s.shuffle,
        repeat: from_player_repeat(s.repeat),
        format,
        buffering: s.buffering,
    }
}

impl Bridge {
    /// Opens the output (announcing a fallback to the null sink) and restores the saved queue.
    pub fn start(device: &Device, tx: Sender<Msg>) -> Result<Self, TuiError> {
        let output = device
            .settings
            .audio_output
            .parse()
            .map_err(|e: player::PlayerError| TuiError::Audio(e.to_string()))?;
        let replay_gain = device
            .settings
            .replay_gain
            .parse()
            .map_err(|e: player::PlayerError| TuiError::Audio(e.to_string()))?;
        let config = PlayerConfig {
            output,
            state_path: Some(device.dirs.data.join("player.json")),
            replay_gain,
            ..PlayerConfig::default()
        };
        let stream_quality = player::StreamQuality::new(&device.settings.stream_quality);
        let opener = CacheOpener::new(device.cache.clone(), device.fetcher().ok())
            .with_stream_quality(stream_quality.clone());
        let (handle, events) =
            Player::spawn(config, Box::new(opener)).map_err(|e| TuiError::Audio(e.to_string()))?;
        let formats = Arc::new(Mutex::new(HashMap::new()));
        let mirror_path = device.dirs.data.join("mirror.sqlite");
        let watched = handle.clone();
        let shared_formats = formats.clone();
        std::thread::spawn(move || {
            // Opened here, not before the first frame.
            let mirror = Mirror::open(&mirror_path).ok();
            for event in events {
                let record = match &event {
                    PlayerEvent::TrackStarted { track_id, .. } => {
                        Some((*track_id, PlayEventKind::Start, 0))
                    }
                    PlayerEvent::TrackFinished {
                        track_id,
                        position_ms,
                        ..
                    } => Some((*track_id, PlayEventKind::Finish, *position_ms)),
                    PlayerEvent::TrackSkipped {
                        track_id,
                        position_ms,
                        ..
                    } => Some((*track_id, PlayEventKind::Skip, *position_ms)),
                    _ => None,
                };
                if let (Some((track, kind, position)), Some(m)) = (record, &mirror)
                    && let Err(e) = m.record_event(track, kind, position)
                {
                    tracing::warn!("play event not recorded: {e}");
                }
                let action = match event {
                    PlayerEvent::Error { message, .. } => Action::Message(message),
                    _ => Action::Playback(playback_of(&watched, &shared_formats)),
                };
                if tx.send(Msg::Action(action)).is_err() {
                    return;
                }
            }
        });
        Ok(Self {
            handle: Some(handle),
            formats,
            stream_quality,
        })
    }

    /// The one line said before the screen is taken: which output plays, when it is not a
    /// sound device.
    pub fn notice(&self) -> Option<String> {
        let h = self.handle.as_ref()?;
        if let Some(n) = h.output_notice() {
            return Some(n.to_string());
        }
        match h.output() {
            player::OutputKind::Device => None,
            player::OutputKind::Null => {
                Some("audio output: null, as asked (silent, paced in real time)".into())
            }
            player::OutputKind::Wav(path) => {
                Some(format!("audio output: writing PCM to {}", path.display()))
            }
        }
    }

    fn handle(&self) -> Option<&PlayerHandle> {
        self.handle.as_ref()
    }

    /// The queue the player restored from its saved state, as rows for the Queue view.
    pub fn restored_queue(&self, mirror: &Mirror) -> Result<Option<Action>, TuiError> {
        let Some(h) = self.handle() else {
            return Ok(None);
        };
        let status = h.status();
        if status.queue.is_empty() {
            return Ok(None);
        }
        let ids: Vec<TrackId> = status.queue.iter().map(|q| q.track_id).collect();
        let tracks = mirror.tracks(&ids)?;
        self.remember_formats(&tracks);
        let rows = ids
            .iter()
            .filter_map(|id| tracks.iter().find(|t| t.id == *id).map(|t| row(t, false)))
            .collect();
        Ok(Some(Action::Queue(rows, playback_of(h, &self.formats))))
    }

    fn remember_formats(&self, tracks: &[Track]) {
        if let Ok(mut f) = self.formats.lock() {
            for t in tracks {
                f.insert(t.id, describe(t));
            }
        }
    }

    fn items(&self, mirror: &Mirror, rows: &[TrackRow]) -> Result<Vec<QueueItem>, TuiError> {
        let ids: Vec<TrackId> = rows.iter().map(|r| r.id).collect();
        let tracks = mirror.tracks(&ids)?;
        self.remember_formats(&tracks);
        Ok(ids
            .iter()
            .filter_map(|id| tracks.iter().find(|t| t.id == *id).map(QueueItem::from))
            .collect())
    }

    fn send(&self, f: impl FnOnce(&PlayerHandle) -> Result<(), player::PlayerError>) {
        if let Some(h) = self.handle()
            && let Err(e) = f(h)
        {
            tracing::warn!("player: {e}");
        }
    }

    pub fn play_queue(
        &mut self,
        mirror: &Mirror,
        rows: &[TrackRow],
        index: usize,
    ) -> Result<(), TuiError> {
        let items = self.items(mirror, rows)?;
        self.send(|h| h.load_queue(items, Some(index)));
        Ok(())
    }

    pub fn enqueue(&mut self, mirror: &Mirror, rows: &[TrackRow]) -> Result<(), TuiError> {
        let items = self.items(mirror, rows)?;
        self.send(|h| h.append(items));
        Ok(())
    }

    pub fn play_index(&mut self, i: usize) {
        self.send(|h| h.play(i));
    }

    pub fn remove(&mut self, i: usize) {
        self.send(|h| h.remove(i));
    }

    pub fn toggle_pause(&mut self) {
        self.send(|h| h.toggle());
    }

    pub fn stop(&mut self) {
        self.send(|h| h.stop());
    }

    pub fn next(&mut self) {
        self.send(|h| h.next());
    }

    pub fn prev(&mut self) {
        self.send(|h| h.prev());
    }

    pub fn seek(&mut self, ms: u64) {
        self.send(|h| h.seek(ms));
    }

    pub fn set_volume(&mut self, v: u8) {
        self.send(|h| h.set_volume(v as f32 / 100.0));
    }

    pub fn set_shuffle(&mut self, on: bool) {
        self.send(|h| h.set_shuffle(on));
    }

    pub fn set_repeat(&mut self, r: Repeat) {
        self.send(|h| h.set_repeat(to_player_repeat(r)));
    }

    /// Saves the queue and position, and closes the output.
    pub fn shutdown(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown();
        }
    }
}
