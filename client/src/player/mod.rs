//! The player: a thread that decodes the queue (symphonia, and libopus for Opus) into one
//! output stream (rodio's default device, a paced null sink, or a WAV file), driven by
//! [`PlayerCommand`]s and reporting by [`PlayerEvent`]s.
//!
//! - Each track decodes on its own short-lived thread (`decode`), which calls the caller's
//!   [`TrackOpener`]: the player thread itself never waits on the network or the disk.
//! - Gapless: the next track is opened early (`PlayerConfig::prefetch`, at least 30 s before the
//!   current one ends, so the cache downloads it) and its samples follow the current track's in
//!   the same output stream, with the encoders' delay and padding trimmed where the container
//!   says (symphonia's gapless mode: MP3 LAME headers, Ogg pre-skip and end granule; the MP4
//!   edit list or iTunSMPB tag for AAC, read by `mixtape_codec` because symphonia ignores them;
//!   FLAC and WAV are exact by nature).
//! - The output is kept about half a second ahead and the thread sleeps in between; paused or
//!   stopped, it blocks on its command channel.
//! - The queue, the current track and its position are saved to a small JSON file
//!   (`PlayerConfig::state_path`) and restored, paused, at the next start.
//!
//! **Invariant:** the player thread never does network IO and never unwraps the audio device.

mod decode;
mod engine;
mod opener;
mod output;
mod queue;
mod state;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_pcm;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use serde::{Deserialize, Serialize};

use crate::shared::api::{ReplayGain, Track};
use crate::shared::ids::TrackId;

pub use opener::{CacheOpener, OpenError, StreamQuality, TrackOpener};
pub use output::{AudioOutput, OutputKind, PcmSpec};
pub use queue::{Advance, Queue, Repeat};
pub use symphonia::core::io::MediaSource;

/// One entry of the play queue: what the player needs to open, decode and level a track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueItem {
    pub track_id: TrackId,
    /// blake3 hex of the file: names it in the cache.
    pub content_hash: String,
    /// Size of the file in bytes.
    pub size: u64,
    pub duration_ms: u64,
    /// `mp3`, `flac`, `ogg`, `opus`, `m4a` or `wav`: a hint for the demuxer.
    pub format: String,
    #[serde(default)]
    pub replay_gain: ReplayGain,
}

impl From<&Track> for QueueItem {
    fn from(t: &Track) -> Self {
        Self {
            track_id: t.id,
            content_hash: t.content_hash.clone(),
            size: t.size_bytes,
            duration_ms: t.duration_ms,
            format: t.format.clone(),
            replay_gain: t.replay_gain.clone(),
        }
    }
}

/// Which ReplayGain value levels a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayGainMode {
    Off,
    /// Each track at the same loudness.
    #[default]
    Track,
    /// Each album at the same loudness (falls back to the track gain when untagged).
    Album,
}

impl std::str::FromStr for ReplayGainMode {
    type Err = PlayerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "off" => Ok(Self::Off),
            "track" => Ok(Self::Track),
            "album" => Ok(Self::Album),
            other => Err(PlayerError::Config(format!(
                "replay gain mode {other:?}: expected off, track or album"
            ))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PlayerConfig {
    pub output: AudioOutput,
    /// Where the queue and position are saved; `None`: not saved.
    pub state_path: Option<PathBuf>,
    pub replay_gain: ReplayGainMode,
    /// Added to the ReplayGain value, in dB (only when a gain applies).
    pub preamp_db: f32,
    /// Open (and so download) the next track this long before the current one ends.
    pub prefetch: Duration,
    /// Volume when no saved state says otherwise, as a linear factor in `0.0..=1.0`.
    pub volume: f32,
}

impl Default for PlayerConfig {
    fn default() -> Self {
        Self {
            output: AudioOutput::Auto,
            state_path: None,
            replay_gain: ReplayGainMode::Track,
            preamp_db: 0.0,
            prefetch: Duration::from_secs(45),
            volume: 1.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum PlayerCommand {
    /// Replaces the queue (keeping shuffle and repeat); plays `start` if given, else stops.
    LoadQueue {
        items: Vec<QueueItem>,
        start: Option<usize>,
    },
    /// Adds tracks at the end of the queue; what plays goes on.
    Append(Vec<QueueItem>),
    /// Removes the queue entry at this index (not the one playing); what plays goes on.
    Remove(usize),
    /// Plays the queue entry at this index (into the list, not the shuffled order).
    Play(usize),
    Pause,
    Resume,
    Toggle,
    Next,
    /// Back to the start of the track when more than 3 s in, else the previous track.
    Prev,
    /// Seeks in the current track, in milliseconds.
    Seek(u64),
    /// Linear factor, clamped to `0.0..=1.0`.
    SetVolume(f32),
    SetShuffle(bool),
    SetRepeat(Repeat),
    Stop,
    /// Saves the state and ends the thread.
    Shutdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlayState {
    #[default]
    Stopped,
    Playing,
    Paused,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PlayerEvent {
    State(PlayState),
    /// Where the audible track is; at most about four a second while playing, and after
    /// every seek.
    Position {
        index: usize,
        position_ms: u64,
        duration_ms: u64,
    },
    /// A track became audible (a play event's start).
    TrackStarted {
        index: usize,
        track_id: TrackId,
    },
    /// A track played to its end.
    TrackFinished {
        index: usize,
        track_id: TrackId,
        position_ms: u64,
    },
    /// A track was left before its end (next, prev, another track, stop, a new queue).
    TrackSkipped {
        index: usize,
        track_id: TrackId,
        position_ms: u64,
    },
    /// The queue, its order or the modes changed (read the rest from [`PlayerHandle::status`]).
    QueueChanged,
    /// Waiting for audio data (a download slower than playback, or opening a track).
    Buffering(bool),
    /// A track could not be opened or decoded (it is skipped), or the output failed.
    Error {
        index: Option<usize>,
        message: String,
    },
}

/// A snapshot of the player, kept current by its thread.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlayerStatus {
    pub state: PlayState,
    /// The audible (or, stopped, the current) track, as an index into `queue`.
    pub index: Option<usize>,
    pub position_ms: u64,
    pub duration_ms: u64,
    pub volume: f32,
    pub shuffle: bool,
    pub repeat: Repeat,
    pub buffering: bool,
    pub queue: Arc<Vec<QueueItem>>,
    /// The play order, as indexes into `queue`.
    pub order: Arc<Vec<usize>>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlayerError {
    #[error("audio output {0:?}: expected auto, null or wav:FILE")]
    OutputSpec(String),
    #[error("audio output: {0}")]
    Output(String),
    #[error("cannot open the track: {0}")]
    Open(String),
    #[error("cannot decode the track: {0}")]
    Decode(String),
    #[error("player config: {0}")]
    Config(String),
    #[error("the player thread has stopped")]
    Stopped,
}

/// Controls a running player. Cheap to clone; the thread ends (saving its state) when every
/// handle is dropped or [`shutdown`](Self::shutdown) is called.
#[derive(Debug, Clone)]
pub struct PlayerHandle {
    tx: Sender<PlayerCommand>,
    status: Arc<Mutex<PlayerStatus>>,
    output: OutputKind,
    notice: Option<String>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

/// The player thread's entry point.
pub struct Player;

impl Player {
    /// Starts the player thread with its output open (the default device, falling back to the
    /// null sink with a notice; see [`PlayerHandle::output_notice`]) and the saved state
    /// restored (paused at the saved position). Fails only when the asked-for output cannot
    /// be opened (a WAV file that cannot be created).
    pub fn spawn(
        config: PlayerConfig,
        opener: Box<dyn TrackOpener>,
    ) -> Result<(PlayerHandle, Receiver<PlayerEvent>), PlayerError> {
        engine::spawn(config, Arc::from(opener))
    }
}

impl PlayerHandle {
    pub fn send(&self, cmd: PlayerCommand) -> Result<(), PlayerError> {
        self.tx.send(cmd).map_err(|_| PlayerError::Stopped)
    }

    pub fn load_queue(
        &self,
        items: Vec<QueueItem>,
        start: Option<usize>,
    ) -> Result<(), PlayerError> {
        self.send(PlayerCommand::LoadQueue { items, start })
    }

    pub fn append(&self, items: Vec<QueueItem>) -> Result<(), PlayerError> {
        self.send(PlayerCommand::Append(items))
    }

    pub fn remove(&self, index: usize) -> Result<(), PlayerError> {
        self.send(PlayerCommand::Remove(index))
    }

    pub fn play(&self, index: usize) -> Result<(), PlayerError> {
        self.send(PlayerCommand::Play(index))
    }

    pub fn pause(&self) -> Result<(), PlayerError> {
        self.send(PlayerCommand::Pause)
    }

    pub fn resume(&self) -> Result<(), PlayerError> {
        self.send(PlayerCommand::Resume)
    }

    pub fn toggle(&self) -> Result<(), PlayerError> {
        self.send(PlayerCommand::Toggle)
    }

    pub fn next(&self) -> Result<(), PlayerError> {
        self.send(PlayerCommand::Next)
    }

    pub fn prev(&self) -> Result<(), PlayerError> {
        self.send(PlayerCommand::Prev)
    }

    pub fn seek(&self, position_ms: u64) -> Result<(), PlayerError> {
        self.send(PlayerCommand::Seek(position_ms))
    }

    pub fn set_volume(&self, volume: f32) -> Result<(), PlayerError> {
        self.send(PlayerCommand::SetVolume(volume))
    }

    pub fn set_shuffle(&self, on: bool) -> Result<(), PlayerError> {
        self.send(PlayerCommand::SetShuffle(on))
    }

    pub fn set_repeat(&self, repeat: Repeat) -> Result<(), PlayerError> {
        self.send(PlayerCommand::SetRepeat(repeat))
    }

    pub fn stop(&self) -> Result<(), PlayerError> {
        self.send(PlayerCommand::Stop)
    }

    /// The latest snapshot (position updated at least four times a second while playing).
    pub fn status(&self) -> PlayerStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// What output was opened.
    pub fn output(&self) -> &OutputKind {
        &self.output
    }

    /// One line for the user when the output is not what was asked for (no sound device: the
    /// null sink plays instead). Print it before the TUI takes the screen.
    pub fn output_notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// Saves the state, closes the output (finishing a WAV file) and waits for the thread.
    pub fn shutdown(self) {
        let _ = self.tx.send(PlayerCommand::Shutdown);
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}
