//! Where decoded PCM goes: the sound card through rodio, a paced null sink, or a WAV file.
//!
//! Every output is a queue of interleaved `f32` frames in one format at a time, with two
//! counters: frames `written` by the player thread and frames `played` (taken by the device,
//! consumed by the null sink's clock, or at once for the WAV file). The player thread writes
//! until the output is a little ahead ([`Output::target_ahead`]) and then sleeps, so decoding
//! is paced by the output, never by a spinning loop.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::BufWriter;
use std::num::NonZero;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::PlayerError;

/// Which output to open: parsed from `auto`, `null` or `wav:FILE`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AudioOutput {
    /// The default sound device, or the null sink (with a notice) when there is none.
    #[default]
    Auto,
    /// The paced null sink: consumes samples in real time and plays nothing.
    Null,
    /// Writes exactly the PCM that would be played to a 32-bit float WAV file, as fast as it
    /// is decoded (not paced).
    Wav(PathBuf),
}

impl std::str::FromStr for AudioOutput {
    type Err = PlayerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        match s {
            "auto" | "" => Ok(Self::Auto),
            "null" => Ok(Self::Null),
            _ => match s.strip_prefix("wav:") {
                Some(path) if !path.is_empty() => Ok(Self::Wav(PathBuf::from(path))),
                _ => Err(PlayerError::OutputSpec(s.to_owned())),
            },
        }
    }
}

impl fmt::Display for AudioOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Null => f.write_str("null"),
            Self::Wav(p) => write!(f, "wav:{}", p.display()),
        }
    }
}

/// What was actually opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputKind {
    Device,
    Null,
    Wav(PathBuf),
}

/// The format of the PCM in an output (the decoder's, shared with the server).
pub use mixtape_codec::PcmSpec;

/// Made and used on the player thread only (a cpal stream need not be `Send`).
pub(crate) trait Output {
    fn kind(&self) -> OutputKind;
    fn spec(&self) -> Option<PcmSpec>;
    /// Changes the format; the player calls it only when nothing is buffered.
    fn set_spec(&mut self, spec: PcmSpec) -> Result<(), PlayerError>;
    /// Appends interleaved samples in the current format; never blocks for long.
    fn write(&mut self, samples: &[f32]) -> Result<(), PlayerError>;
    fn written(&self) -> u64;
    fn played(&self) -> u64;
    /// How far ahead of what is heard the player should keep the output; `None`: no pacing
    /// (write as fast as decoding goes).
    fn target_ahead(&self) -> Option<Duration>;
    fn pause(&mut self);
    fn resume(&mut self);
    /// Drops what is buffered and not played yet (seek, skip): afterwards `written == played`.
    fn clear(&mut self);
    /// Makes what was written durable (the WAV header); called at stops and on drop.
    fn flush(&mut self) -> Result<(), PlayerError>;

    /// Time until the buffered frames are played.
    fn ahead(&self) -> Duration {
        match self.spec() {
            Some(spec) => {
                let frames = self.written().saturating_sub(self.played());
                Duration::from_secs_f64(frames as f64 / f64::from(spec.rate.max(1)))
            }
            None => Duration::ZERO,
        }
    }
}

/// Opens the output asked for. `Auto` falls back to the null sink when no device opens, and
/// says so in the returned notice (one line, for the user).
pub(crate) fn open(which: &AudioOutput) -> Result<(Box<dyn Output>, Option<String>), PlayerError> {
    match which {
        AudioOutput::Null => Ok((Box::new(NullOutput::new()), None)),
        AudioOutput::Wav(path) => Ok((Box::new(WavOutput::create(path)?), None)),
        AudioOutput::Auto => match DeviceOutput::open() {
            Ok(d) => Ok((Box::new(d), None)),
            Err(e) => Ok((
                Box::new(NullOutput::new()),
                Some(format!(
                    "no audio device ({e}): playing to the null output (silent, in real time)"
                )),
            )),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Null

/// Consumes samples in real time: a clock started at the first write after an underrun,
/// stopped while paused. Nothing to do between calls, so it costs nothing while it "plays".
pub(crate) struct NullOutput {
    spec: Option<PcmSpec>,
    written: u64,
    /// Frames played when the clock (re)started, and when it did (`None`: stopped).
    base: u64,
    since: Option<Instant>,
    paused: bool,
}

impl NullOutput {
    pub fn new() -> Self {
        Self {
            spec: None,
            written: 0,
            base: 0,
            since: None,
            paused: false,
        }
    }

    /// Freezes the clock at what it has played.
    fn settle(&mut self) {
        self.base = self.played();
        self.since = None;
    }
}

impl Output for NullOutput {
    fn kind(&self) -> OutputKind {
        OutputKind::Null
    }

    fn spec(&self) -> Option<PcmSpec> {
        self.spec
    }

    fn set_spec(&mut self, spec: PcmSpec) -> Result<(), PlayerError> {
        self.settle();
        self.spec = Some(spec);
        Ok(())
    }

    fn write(&mut self, samples: &[f32]) -> Result<(), PlayerError> {
        let Some(spec) = self.spec else {
            return Err(PlayerError::Output(
                "write before the format was set".into(),
            ));
        };
        if self.played() >= self.written {
            // Underrun (or first write): the clock starts from here, not from the past.
            self.base = self.written;
            self.since = None;
        }
        self.written += (samples.len() / usize::from(spec.channels.max(1))) as u64;
        if self.since.is_none() && !self.paused {
            self.since = Some(Instant::now());
        }
        Ok(())
    }

    fn written(&self) -> u64 {
        self.written
    }

    fn played(&self) -> u64 {
        let (Some(since), Some(spec)) = (self.since, self.spec) else {
            return self.base.min(self.written);
        };
        let elapsed = since.elapsed().as_secs_f64() * f64::from(spec.rate);
        (self.base + elapsed as u64).min(self.written)
    }

    fn target_ahead(&self) -> Option<Duration> {
        Some(Duration::from_millis(500))
    }

    fn pause(&mut self) {
        self.settle();
        self.paused = true;
    }

    fn resume(&mut self) {
        self.paused = false;
        if self.since.is_none() {
            self.since = Some(Instant::now());
        }
    }

    fn clear(&mut self) {
        self.settle();
        self.written = self.base;
        if !self.paused {
            self.since = Some(Instant::now());
        }
    }

    fn flush(&mut self) -> Result<(), PlayerError> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// WAV

/// Writes the exact samples the player produces, 32-bit float, in the first track's format.
/// A later track with another channel count is mixed to it; one with another rate is written
/// as is (a warning is logged: the file then plays at the wrong speed).
pub(crate) struct WavOutput {
    path: PathBuf,
    writer: Option<hound::WavWriter<BufWriter<File>>>,
    file_spec: Option<PcmSpec>,
    spec: Option<PcmSpec>,
    frames: u64,
}

impl WavOutput {
    pub fn create(path: &Path) -> Result<Self, PlayerError> {
        // Fail now, not at the first track, when the file cannot be created.
        File::create(path).map_err(|e| PlayerError::Output(format!("{}: {e}", path.display())))?;
        Ok(Self {
            path: path.to_owned(),
            writer: None,
            file_spec: None,
            spec: None,
            frames: 0,
        })
    }

    fn err(&self, e: impl fmt::Display) -> PlayerError {
        PlayerError::Output(format!("{}: {e}", self.path.display()))
    }
}

impl Output for WavOutput {
    fn kind(&self) -> OutputKind {
        OutputKind::Wav(self.path.clone())
    }

    fn spec(&self) -> Option<PcmSpec> {
        self.spec
    }

    fn set_spec(&mut self, spec: PcmSpec) -> Result<(), PlayerError> {
        if self.writer.is_none() {
            let wav = hound::WavSpec {
                channels: spec.channels,
                sample_rate: spec.rate,
                bits_per_sample: 32,
                sample_format: hound::SampleFormat::Float,
            };
            let w = hound::WavWriter::create(&self.path, wav).map_err(|e| self.err(e))?;
            self.writer = Some(w);
            self.file_spec = Some(spec);
        } else if self.file_spec.is_some_and(|f| f.rate != spec.rate) {
            tracing::warn!(
                path = %self.path.display(),
                "wav output: sample rate changed from {:?} to {}; writing unconverted",
                self.file_spec.map(|f| f.rate),
                spec.rate
            );
        }
        self.spec = Some(spec);
        Ok(())
    }

    fn write(&mut self, samples: &[f32]) -> Result<(), PlayerError> {
        let (Some(spec), Some(file)) = (self.spec, self.file_spec) else {
            return Err(self.err("write before the format was set"));
        };
        let Some(w) = self.writer.as_mut() else {
            return Err(PlayerError::Output("wav output closed".into()));
        };
        let (cin, cout) = (usize::from(spec.channels), usize::from(file.channels));
        let result = if cin == cout {
            samples.iter().try_for_each(|&s| w.write_sample(s))
        } else {
            samples.chunks_exact(cin.max(1)).try_for_each(|frame| {
                (0..cout).try_for_each(|c| {
                    let s = if cin == 1 {
                        frame[0]
                    } else if cout == 1 {
                        frame.iter().sum::<f32>() / cin as f32
                    } else {
                        frame[c.min(cin - 1)]
                    };
                    w.write_sample(s)
                })
            })
        };
        result.map_err(|e| PlayerError::Output(format!("{}: {e}", self.path.display())))?;
        self.frames += (samples.len() / cin.max(1)) as u64;
        Ok(())
    }

    fn written(&self) -> u64 {
        self.frames
    }

    fn played(&self) -> u64 {
        self.frames
    }

    fn target_ahead(&self) -> Option<Duration> {
        None
    }

    fn pause(&mut self) {}

    fn resume(&mut self) {}

    fn clear(&mut self) {}

    fn flush(&mut self) -> Result<(), PlayerError> {
        match self.writer.as_mut() {
            Some(w) => w.flush().map_err(|e| self.err(e)),
            None => Ok(()),
        }
    }
}

impl Drop for WavOutput {
    fn drop(&mut self) {
        if let Some(w) = self.writer.take()
            && let Err(e) = w.finalize()
        {
            tracing::warn!(path = %self.path.display(), error = %e, "wav output: finalize failed");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Device (rodio)

/// The frames waiting for the device, shared between the player thread and rodio's.
struct Ring {
    state: Mutex<RingState>,
    /// Frames handed to the device (read by the player thread for the position).
    played: AtomicU64,
}

struct RingState {
    chunks: VecDeque<Vec<f32>>,
    written: u64,
    /// No more writes: the source ends once it is empty (a format change).
    closed: bool,
}

/// One format's worth of playback: a rodio `Source` over a [`Ring`]. Plays silence on
/// underrun; ends when its ring is closed and empty, and rodio's queue moves to the next one.
struct RingSource {
    ring: Arc<Ring>,
    spec: PcmSpec,
    current: Vec<f32>,
    at: usize,
}

impl RingSource {
    fn refill(&mut self) -> Option<()> {
        let Ok(mut st) = self.ring.state.lock() else {
            return None;
        };
        match st.chunks.pop_front() {
            Some(chunk) => {
                let frames = (chunk.len() / usize::from(self.spec.channels.max(1))) as u64;
                self.ring.played.fetch_add(frames, Ordering::Relaxed);
                self.current = chunk;
                self.at = 0;
                Some(())
            }
            None if st.closed => None,
            None => {
                // Underrun: a short span of silence, then look again.
                self.current.clear();
                self.current
                    .resize(usize::from(self.spec.channels.max(1)) * 256, 0.0);
                self.at = 0;
                Some(())
            }
        }
    }
}

impl Iterator for RingSource {
    type Item = rodio::Sample;

    fn next(&mut self) -> Option<rodio::Sample> {
        if self.at >= self.current.len() {
            // Only between chunks: a stale chunk after a clear plays out (at most ~0.1 s).
            self.refill()?;
        }
        let s = self.current.get(self.at).copied().unwrap_or(0.0);
        self.at += 1;
        Some(s as rodio::Sample)
    }
}

impl rodio::Source for RingSource {
    fn current_span_len(&self) -> Option<usize> {
        None
    }

    fn channels(&self) -> rodio::ChannelCount {
        NonZero::new(self.spec.channels).unwrap_or(NonZero::<u16>::MIN)
    }

    fn sample_rate(&self) -> rodio::SampleRate {
        NonZero::new(self.spec.rate).unwrap_or(NonZero::<u32>::MIN)
    }

    fn total_duration(&self) -> Option<Duration> {
        None
    }
}

pub(crate) struct DeviceOutput {
    // Field order: the player before the sink it plays into.
    player: rodio::Player,
    _sink: rodio::MixerDeviceSink,
    ring: Option<Arc<Ring>>,
    spec: Option<PcmSpec>,
    /// Frames played by rings of earlier formats.
    played_before: u64,
    written_before: u64,
}

impl DeviceOutput {
    pub fn open() -> Result<Self, PlayerError> {
        let mut sink = quiet_alsa(rodio::DeviceSinkBuilder::open_default_sink)
            .map_err(|e| PlayerError::Output(e.to_string()))?;
        sink.log_on_drop(false);
        let player = rodio::Player::connect_new(sink.mixer());
        Ok(Self {
            player,
            _sink: sink,
            ring: None,
            spec: None,
            played_before: 0,
            written_before: 0,
        })
    }
}

/// Runs `open` with alsa-lib's error messages going to the log instead of stderr: on a machine
/// without a sound card alsa-lib prints a screenful of probe failures before the TUI starts,
/// when our one-line notice already says what happened. The handler is per thread, and
/// alsa-lib reports on the thread that opens the device, which is this one.
#[cfg(target_os = "linux")]
fn quiet_alsa<T>(open: impl FnOnce() -> T) -> T {
    let buffer = alsa::Output::local_error_handler();
    let opened = open();
    if let Ok(buffer) = &buffer {
        let text = buffer.borrow().to_string();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            tracing::debug!(target: "alsa", "{line}");
        }
    }
    // The handler stays installed on this thread, which opens nothing else afterwards.
    opened
}

#[cfg(not(target_os = "linux"))]
fn quiet_alsa<T>(open: impl FnOnce() -> T) -> T {
    open()
}

impl Output for DeviceOutput {
    fn kind(&self) -> OutputKind {
        OutputKind::Device
    }

    fn spec(&self) -> Option<PcmSpec> {
        self.spec
    }

    fn set_spec(&mut self, spec: PcmSpec) -> Result<(), PlayerError> {
        if self.spec == Some(spec) {
            return Ok(());
        }
        if let Some(old) = self.ring.take() {
            if let Ok(mut st) = old.state.lock() {
                st.closed = true;
                self.written_before += st.written;
            }
            self.played_before += old.played.load(Ordering::Relaxed);
        }
        let ring = Arc::new(Ring {
            state: Mutex::new(RingState {
                chunks: VecDeque::new(),
                written: 0,
                closed: false,
            }),
            played: AtomicU64::new(0),
        });
        self.player.append(RingSource {
            ring: Arc::clone(&ring),
            spec,
            current: Vec::new(),
            at: 0,
        });
        self.ring = Some(ring);
        self.spec = Some(spec);
        Ok(())
    }

    fn write(&mut self, samples: &[f32]) -> Result<(), PlayerError> {
        let (Some(ring), Some(spec)) = (&self.ring, self.spec) else {
            return Err(PlayerError::Output(
                "write before the format was set".into(),
            ));
        };
        let mut st = ring
            .state
            .lock()
            .map_err(|_| PlayerError::Output("audio thread panicked".into()))?;
        st.written += (samples.len() / usize::from(spec.channels.max(1))) as u64;
        st.chunks.push_back(samples.to_vec());
        Ok(())
    }

    fn written(&self) -> u64 {
        let now = self
            .ring
            .as_ref()
            .and_then(|r| r.state.lock().ok().map(|st| st.written))
            .unwrap_or(0);
        self.written_before + now
    }

    fn played(&self) -> u64 {
        let now = self
            .ring
            .as_ref()
            .map_or(0, |r| r.played.load(Ordering::Relaxed));
        self.played_before + now
    }

    fn target_ahead(&self) -> Option<Duration> {
        Some(Duration::from_millis(500))
    }

    fn pause(&mut self) {
        self.player.pause();
    }

    fn resume(&mut self) {
        self.player.play();
    }

    fn clear(&mut self) {
        if let Some(ring) = &self.ring
            && let Ok(mut st) = ring.state.lock()
        {
            st.chunks.clear();
            st.written = ring.played.load(Ordering::Relaxed);
        }
    }

    fn flush(&mut self) -> Result<(), PlayerError> {
        Ok(())
    }
}
