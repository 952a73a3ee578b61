//! The player thread: commands in, decoded chunks through, events out.
//!
//! The output holds the tracks back to back; `segments` remembers at which output frame each
//! one starts, so the audible track, its position, and the start/finish events follow what is
//! heard rather than what is decoded (which runs up to half a second ahead).

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Select, Sender, TryRecvError, unbounded};
use rand::rngs::ThreadRng;

use super::decode::{self, DecodeMsg, DecoderHandle};
use super::output::{self, Output, PcmSpec};
use super::queue::{Advance, Queue};
use super::state::{self, SavedState};
use super::{
    PlayState, PlayerCommand, PlayerConfig, PlayerError, PlayerEvent, PlayerHandle, PlayerStatus,
    QueueItem, ReplayGainMode, TrackOpener,
};

const TICK: Duration = Duration::from_millis(250);
const SAVE_EVERY: Duration = Duration::from_secs(10);
/// `Prev` restarts the track when it has played longer than this.
const PREV_RESTARTS_AFTER_MS: u64 = 3_000;

pub(super) fn spawn(
    config: PlayerConfig,
    opener: Arc<dyn TrackOpener>,
) -> Result<(PlayerHandle, Receiver<PlayerEvent>), PlayerError> {
    let (cmd_tx, cmd_rx) = unbounded();
    let (ev_tx, ev_rx) = unbounded();
    let status = Arc::new(Mutex::new(PlayerStatus::default()));
    let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
    let thread_status = Arc::clone(&status);
    let thread = thread::Builder::new()
        .name("mixtape-player".into())
        .spawn(move || {
            // The output is made on this thread: a device stream need not be `Send`.
            let (out, notice) = match output::open(&config.output) {
                Ok(opened) => opened,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let kind = out.kind();
            let mut engine = Engine::new(config, opener, out, ev_tx, thread_status);
            // The restored queue is in the status before `spawn` returns, so a caller can
            // show it at once.
            engine.publish();
            let _ = ready_tx.send(Ok((kind, notice)));
            engine.run(&cmd_rx);
        })
        .map_err(|e| PlayerError::Output(format!("cannot start the player thread: {e}")))?;
    let (kind, notice) = ready_rx.recv().map_err(|_| PlayerError::Stopped)??;
    if let Some(n) = &notice {
        tracing::info!("{n}");
    }
    let handle = PlayerHandle {
        tx: cmd_tx,
        status,
        output: kind,
        notice,
        thread: Arc::new(Mutex::new(Some(thread))),
    };
    Ok((handle, ev_rx))
}

/// A track in the output: from `start_frame` on, the output plays `index` from `start_ms`.
#[derive(Debug, Clone, Copy)]
struct Segment {
    index: usize,
    start_frame: u64,
    start_ms: u64,
    spec: PcmSpec,
}

struct Engine {
    config: PlayerConfig,
    opener: Arc<dyn TrackOpener>,
    out: Box<dyn Output>,
    events: Sender<PlayerEvent>,
    status: Arc<Mutex<PlayerStatus>>,
    rng: ThreadRng,

    queue: Queue,
    /// Bumped when the queue or its order changes; `published` is the one in `status`.
    queue_version: u64,
    published: Option<u64>,
    state: PlayState,
    volume: f32,
    /// Stopped with a current track: where `Resume` starts it (a restored or stopped queue).
    resume_ms: u64,

    /// The decoder feeding the output, and the one opened ahead for the following track.
    current: Option<DecoderHandle>,
    next: Option<DecoderHandle>,
    /// `Ready` received for `current`, but the output still plays another format.
    pending: Option<(PcmSpec, u64)>,
    /// `current` decoded everything.
    current_done: bool,
    gain: f32,
    segments: VecDeque<Segment>,
    /// Consecutive tracks that failed to open: stop when the whole queue fails.
    failures: usize,
    buffering: bool,
    last_tick: Instant,
    last_save: Instant,
    shutdown: bool,
}

impl Engine {
    fn new(
        config: PlayerConfig,
        opener: Arc<dyn TrackOpener>,
        out: Box<dyn Output>,
        events: Sender<PlayerEvent>,
        status: Arc<Mutex<PlayerStatus>>,
    ) -> Self {
        let volume = config.volume.clamp(0.0, 1.0);
        let mut e = Self {
            config,
            opener,
            out,
            events,
            status,
            rng: rand::rng(),
            queue: Queue::default(),
            queue_version: 0,
            published: None,
            state: PlayState::Stopped,
            volume,
            resume_ms: 0,
            current: None,
            next: None,
            pending: None,
            current_done: false,
            gain: 1.0,
            segments: VecDeque::new(),
            failures: 0,
            buffering: false,
            last_tick: Instant::now(),
            last_save: Instant::now(),
            shutdown: false,
        };
        if let Some(saved) = e.config.state_path.as_deref().and_then(state::load) {
            e.queue = Queue::restore(
                saved.items,
                saved.order,
                saved.current,
                saved.shuffle,
                saved.repeat,
            );
            e.volume = saved.volume.clamp(0.0, 1.0);
            e.resume_ms = saved.position_ms;
        }
        e.publish();
        e
    }

    fn emit(&self, ev: PlayerEvent) {
        // A caller that dropped the receiver still has a working player.
        let _ = self.events.send(ev);
    }

    fn run(&mut self, commands: &Receiver<PlayerCommand>) {
        while !self.shutdown {
            if self.state == PlayState::Playing {
                self.pump();
            }
            self.follow_output();
            self.publish();
            let wait = self.wait_time();
            let want_data = self.wants_data();
            let decoder_rx = self
                .current
                .as_ref()
                .filter(|_| want_data)
                .map(|d| d.rx.clone());
            match (wait, decoder_rx) {
                (None, None) => match commands.recv() {
                    Ok(cmd) => self.command(cmd),
                    Err(_) => break,
                },
                (wait, Some(rx)) => {
                    let mut sel = Select::new();
                    let ci = sel.recv(commands);
                    sel.recv(&rx);
                    let op = match wait {
                        Some(d) => sel.select_timeout(d).ok(),
                        None => Some(sel.select()),
                    };
                    if let Some(op) = op {
                        if op.index() == ci {
                            match op.recv(commands) {
                                Ok(cmd) => self.command(cmd),
                                Err(_) => break,
                            }
                        } else {
                            let msg = op.recv(&rx);
                            self.decoded(msg.ok());
                        }
                    }
                }
                (Some(d), None) => match commands.recv_timeout(d) {
                    Ok(cmd) => self.command(cmd),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                },
            }
            if self.last_save.elapsed() >= SAVE_EVERY && self.state == PlayState::Playing {
                self.save();
            }
        }
        self.save();
        if let Err(e) = self.out.flush() {
            tracing::warn!(error = %e, "audio output flush failed");
        }
    }

    /// Whether the thread should wake for the current decoder's next message.
    fn wants_data(&self) -> bool {
        self.state == PlayState::Playing
            && self.current.is_some()
            && !self.current_done
            && self.pending.is_none()
            && !self.output_full()
    }

    fn output_full(&self) -> bool {
        self.out
            .target_ahead()
            .is_some_and(|target| self.out.ahead() >= target)
    }

    /// How long to sleep when nothing happens: `None` while paused or stopped (wake only for
    /// a command).
    fn wait_time(&self) -> Option<Duration> {
        if self.state != PlayState::Playing {
            return None;
        }
        let mut wait = TICK.saturating_sub(self.last_tick.elapsed());
        let ahead = self.out.ahead();
        if self.pending.is_some() || self.current_done {
            // Waiting for the output to drain.
            wait = wait.min(ahead);
        } else if let Some(target) = self.out.target_ahead()
            && ahead >= target
        {
            // Full: wake when half of it has played.
            wait = wait.min(ahead.saturating_sub(target / 2));
        }
        // Segment boundaries within the buffer are picked up at the next wake.
        Some(wait.max(Duration::from_millis(5)))
    }

    // ---- feeding the output --------------------------------------------------------------

    /// Moves decoded chunks to the output while it has room and they are there.
    fn pump(&mut self) {
        loop {
            if self.state != PlayState::Playing || self.output_full() {
                return;
            }
            if let Some((spec, start_ms)) = self.pending {
                if self.out.spec() != Some(spec) && self.out.played() < self.out.written() {
                    return; // another format still playing: wait for it to drain
                }
                self.pending = None;
                self.begin_segment(spec, start_ms);
                continue;
            }
            if self.current_done {
                if !self.advance_gapless() {
                    return;
                }
                continue;
            }
            let Some(dec) = &self.current else { return };
            match dec.rx.try_recv() {
                Ok(msg) => self.decoded(Some(msg)),
                Err(TryRecvError::Empty) => {
                    // Only a paced output can run dry; the WAV file just waits.
                    if !self.buffering
                        && self.out.target_ahead().is_some()
                        && self.out.ahead() < Duration::from_millis(50)
                    {
                        self.buffering = true;
                        self.emit(PlayerEvent::Buffering(true));
                    }
                    return;
                }
                Err(TryRecvError::Disconnected) => self.decoded(None),
            }
        }
    }

    fn decoded(&mut self, msg: Option<DecodeMsg>) {
        let Some(index) = self.current.as_ref().map(|d| d.index) else {
            return;
        };
        if self.buffering && !matches!(msg, Some(DecodeMsg::Failed(_)) | None) {
            self.buffering = false;
            self.emit(PlayerEvent::Buffering(false));
        }
        match msg {
            Some(DecodeMsg::Ready { spec, start_ms }) => {
                self.failures = 0;
                self.gain = self.gain_for(index);
                self.pending = Some((spec, start_ms));
            }
            Some(DecodeMsg::Chunk(mut samples)) => {
                if self.pending.is_some() {
                    // Cannot happen: `wants_data` is false while a format change waits.
                    tracing::warn!("chunk before its format was applied");
                }
                let gain = self.gain * self.volume;
                if gain != 1.0 {
                    samples.iter_mut().for_each(|s| *s *= gain);
                }
                if let Err(e) = self.out.write(&samples) {
                    self.output_failed(e);
                }
            }
            Some(DecodeMsg::End) => self.current_done = true,
            Some(DecodeMsg::Failed(e)) => self.track_failed(index, &e.to_string()),
            None => self.track_failed(index, "the decoder thread stopped"),
        }
    }

    fn begin_segment(&mut self, spec: PcmSpec, start_ms: u64) {
        let Some(index) = self.current.as_ref().map(|d| d.index) else {
            return;
        };
        if self.out.spec() != Some(spec)
            && let Err(e) = self.out.set_spec(spec)
        {
            self.output_failed(e);
            return;
        }
        self.segments.push_back(Segment {
            index,
            start_frame: self.out.written(),
            start_ms,
            spec,
        });
        if self.segments.len() == 1 {
            self.started(index);
        }
    }

    /// The current track is decoded to its end: the following one (opened ahead, or now)
    /// continues in the same stream. False when the queue is over.
    fn advance_gapless(&mut self) -> bool {
        let Some(following) = self.queue.peek_next(Advance::Ended) else {
            return false;
        };
        let dec = match self.next.take() {
            Some(n) if n.index == following => n,
            _ => decode::spawn(
                Arc::clone(&self.opener),
                self.item(following).clone(),
                following,
                0,
            ),
        };
        self.queue.advance(Advance::Ended);
        self.current = Some(dec);
        self.current_done = false;
        true
    }

    fn track_failed(&mut self, index: usize, message: &str) {
        tracing::warn!(index, error = message, "track failed");
        self.emit(PlayerEvent::Error {
            index: Some(index),
            message: message.to_owned(),
        });
        self.failures += 1;
        self.current_done = true;
        if self.failures >= self.queue.len().max(1) || self.queue.repeat() == super::Repeat::One {
            // Everything failed (offline with nothing cached, say): stop rather than spin.
            self.current = None;
            self.next = None;
            self.failures = 0;
            if self.segments.is_empty() {
                self.set_state(PlayState::Stopped);
            }
        }
    }

    fn output_failed(&mut self, e: PlayerError) {
        tracing::error!(error = %e, "audio output failed");
        self.emit(PlayerEvent::Error {
            index: self.audible(),
            message: e.to_string(),
        });
        self.halt();
        self.set_state(PlayState::Stopped);
    }

    // ---- following what is heard ---------------------------------------------------------

    fn audible(&self) -> Option<usize> {
        self.segments
            .front()
            .map(|s| s.index)
            .or_else(|| self.queue.current())
    }

    fn position_ms(&self) -> u64 {
        match self.segments.front() {
            Some(s) => {
                let played = self.out.played().saturating_sub(s.start_frame);
                s.start_ms + s.spec.frames_to_ms(played)
            }
            None => self.resume_ms,
        }
    }

    /// Track boundaries crossed by the output, the end of the queue, ticks and prefetch.
    fn follow_output(&mut self) {
        let played = self.out.played();
        while self.segments.len() >= 2 && played >= self.segments[1].start_frame {
            let done = self.segments.pop_front().expect("two segments");
            let end_ms = done.start_ms
                + done
                    .spec
                    .frames_to_ms(self.segments[0].start_frame - done.start_frame);
            self.emit(PlayerEvent::TrackFinished {
                index: done.index,
                track_id: self.item(done.index).track_id,
                position_ms: end_ms,
            });
            let now = self.segments[0].index;
            self.started(now);
        }
        // The end of the queue, once everything written was heard.
        if self.state == PlayState::Playing
            && self.current_done
            && self
                .queue
                .peek_next(Advance::Ended)
                .is_none_or(|_| self.current.is_none())
            && played >= self.out.written()
            && self.pending.is_none()
        {
            if let Some(last) = self.segments.pop_front() {
                let position_ms = self.position_at(&last, played);
                self.emit(PlayerEvent::TrackFinished {
                    index: last.index,
                    track_id: self.item(last.index).track_id,
                    position_ms,
                });
            }
            self.halt();
            self.resume_ms = 0;
            self.set_state(PlayState::Stopped);
            self.save();
        }
        if self.state == PlayState::Playing {
            self.prefetch();
            if self.last_tick.elapsed() >= TICK {
                self.tick();
            }
        }
    }

    fn position_at(&self, s: &Segment, played: u64) -> u64 {
        s.start_ms + s.spec.frames_to_ms(played.saturating_sub(s.start_frame))
    }

    fn tick(&mut self) {
        self.last_tick = Instant::now();
        if let Some(index) = self.audible() {
            self.emit(PlayerEvent::Position {
                index,
                position_ms: self.position_ms(),
                duration_ms: self.item(index).duration_ms,
            });
        }
    }

    fn started(&mut self, index: usize) {
        self.emit(PlayerEvent::TrackStarted {
            index,
            track_id: self.item(index).track_id,
        });
        self.tick();
        self.save();
    }

    /// Opens the following track once the one being decoded is within `prefetch` of its end.
    fn prefetch(&mut self) {
        let following = self.queue.peek_next(Advance::Ended);
        if self.next.as_ref().map(|n| n.index) != following {
            self.next = None;
        }
        let (Some(following), Some(cur)) = (following, self.current.as_ref()) else {
            return;
        };
        if self.next.is_some() {
            return;
        }
        // Where the track being decoded is: audible now, or queued behind the audible one.
        let Some(last) = self.segments.back() else {
            return; // not started yet
        };
        if last.index != cur.index {
            return;
        }
        let position = if self.segments.len() == 1 {
            self.position_ms()
        } else {
            last.start_ms
        };
        let remaining = self.item(cur.index).duration_ms.saturating_sub(position);
        if Duration::from_millis(remaining) <= self.config.prefetch {
            self.next = Some(decode::spawn(
                Arc::clone(&self.opener),
                self.item(following).clone(),
                following,
                0,
            ));
        }
    }

    // ---- commands ------------------------------------------------------------------------

    fn command(&mut self, cmd: PlayerCommand) {
        match cmd {
            PlayerCommand::LoadQueue { items, start } => {
                self.skip_audible();
                self.halt();
                let (shuffle, repeat) = (self.queue.shuffle(), self.queue.repeat());
                self.queue = Queue::new(items);
                self.queue.set_repeat(repeat);
                if shuffle {
                    self.queue.set_shuffle(true, &mut self.rng);
                }
                self.resume_ms = 0;
                self.queue_version += 1;
                self.emit(PlayerEvent::QueueChanged);
                match start {
                    Some(i) if i < self.queue.len() => self.start(i, 0),
                    _ => self.set_state(PlayState::Stopped),
                }
                self.save();
            }
            PlayerCommand::Append(items) => {
                self.queue.append(items);
                self.queue_version += 1;
                self.emit(PlayerEvent::QueueChanged);
                self.save();
            }
            PlayerCommand::Remove(i) => {
                let playing = self.segments.iter().any(|s| s.index == i)
                    || self.current.as_ref().is_some_and(|c| c.index == i);
                if playing || !self.queue.remove(i) {
                    self.emit(PlayerEvent::Error {
                        index: Some(i),
                        message: "the track playing stays in the queue".into(),
                    });
                    return;
                }
                // Everything that names a queue entry after the removed one moves down.
                for s in &mut self.segments {
                    if s.index > i {
                        s.index -= 1;
                    }
                }
                if let Some(c) = self.current.as_mut()
                    && c.index > i
                {
                    c.index -= 1;
                }
                match self.next.as_mut() {
                    Some(n) if n.index == i => self.next = None,
                    Some(n) if n.index > i => n.index -= 1,
                    _ => {}
                }
                self.queue_version += 1;
                self.emit(PlayerEvent::QueueChanged);
                self.save();
            }
            PlayerCommand::Play(i) => {
                if i < self.queue.len() {
                    self.skip_audible();
                    self.start(i, 0);
                }
            }
            PlayerCommand::Pause => self.pause(),
            PlayerCommand::Resume => self.resume(),
            PlayerCommand::Toggle => match self.state {
                PlayState::Playing => self.pause(),
                _ => self.resume(),
            },
            PlayerCommand::Next => {
                if let Some(a) = self.audible() {
                    self.queue.jump(a);
                }
                match self.queue.peek_next(Advance::User) {
                    Some(i) => {
                        self.skip_audible();
                        self.start(i, 0);
                    }
                    None => self.stop(),
                }
            }
            PlayerCommand::Prev => {
                let restart = self.position_ms() > PREV_RESTARTS_AFTER_MS;
                if let Some(a) = self.audible() {
                    self.queue.jump(a);
                }
                let target = if restart { None } else { self.queue.back() };
                match (target, self.audible()) {
                    (Some(i), _) => {
                        self.skip_audible();
                        self.start(i, 0);
                    }
                    (None, Some(_)) => self.seek(0),
                    (None, None) => {}
                }
            }
            PlayerCommand::Seek(ms) => self.seek(ms),
            PlayerCommand::SetVolume(v) => {
                self.volume = if v.is_finite() {
                    v.clamp(0.0, 1.0)
                } else {
                    1.0
                };
                self.save();
            }
            PlayerCommand::SetShuffle(on) => {
                if let Some(a) = self.audible() {
                    self.queue.jump(a);
                }
                self.queue.set_shuffle(on, &mut self.rng);
                self.queue_version += 1;
                self.next = None;
                self.emit(PlayerEvent::QueueChanged);
                self.save();
            }
            PlayerCommand::SetRepeat(r) => {
                self.queue.set_repeat(r);
                self.emit(PlayerEvent::QueueChanged);
                self.save();
            }
            PlayerCommand::Stop => self.stop(),
            PlayerCommand::Shutdown => self.shutdown = true,
        }
    }

    /// Starts `index` from `start_ms` now, dropping whatever the output held.
    fn start(&mut self, index: usize, start_ms: u64) {
        self.load(index, start_ms);
        if self.state == PlayState::Paused {
            self.out.resume();
        }
        self.set_state(PlayState::Playing);
    }

    /// Drops what the output held and opens `index` at `start_ms`; the state is unchanged.
    fn load(&mut self, index: usize, start_ms: u64) {
        self.halt();
        self.queue.jump(index);
        self.current = Some(decode::spawn(
            Arc::clone(&self.opener),
            self.item(index).clone(),
            index,
            start_ms,
        ));
        self.resume_ms = start_ms;
    }

    /// Drops the decoders and the buffered output.
    fn halt(&mut self) {
        self.current = None;
        self.next = None;
        self.pending = None;
        self.current_done = false;
        self.segments.clear();
        self.out.clear();
        if self.buffering {
            self.buffering = false;
            self.emit(PlayerEvent::Buffering(false));
        }
    }

    /// Reports the audible track as skipped at its position (before leaving it).
    fn skip_audible(&mut self) {
        if let Some(s) = self.segments.front().copied() {
            let position_ms = self.position_at(&s, self.out.played());
            self.emit(PlayerEvent::TrackSkipped {
                index: s.index,
                track_id: self.item(s.index).track_id,
                position_ms,
            });
        }
    }

    fn seek(&mut self, ms: u64) {
        // Nothing chosen yet: the seek is into the track a resume would start.
        let Some(index) = self.audible().or(self.queue.peek_next(Advance::User)) else {
            return;
        };
        let ms = ms.min(self.item(index).duration_ms);
        match self.state {
            PlayState::Stopped => {
                self.queue.jump(index);
                self.resume_ms = ms;
            }
            PlayState::Paused => self.load(index, ms),
            PlayState::Playing => self.start(index, ms),
        }
        self.emit(PlayerEvent::Position {
            index,
            position_ms: ms,
            duration_ms: self.item(index).duration_ms,
        });
        self.save();
    }

    fn pause(&mut self) {
        if self.state == PlayState::Playing {
            self.out.pause();
            self.resume_ms = self.position_ms();
            self.set_state(PlayState::Paused);
            self.save();
        }
    }

    fn resume(&mut self) {
        match self.state {
            PlayState::Paused => {
                self.out.resume();
                self.set_state(PlayState::Playing);
            }
            PlayState::Stopped => {
                if let Some(i) = self.queue.current().or(self.queue.peek_next(Advance::User)) {
                    self.start(i, self.resume_ms);
                }
            }
            PlayState::Playing => {}
        }
    }

    fn stop(&mut self) {
        self.skip_audible();
        if let Some(a) = self.audible() {
            self.queue.jump(a);
        }
        self.halt();
        if self.state == PlayState::Paused {
            self.out.resume();
        }
        self.resume_ms = 0;
        self.set_state(PlayState::Stopped);
        self.save();
    }

    fn set_state(&mut self, s: PlayState) {
        if self.state != s {
            self.state = s;
            // Whoever reacts to the event reads a status that already agrees with it.
            self.publish();
            self.emit(PlayerEvent::State(s));
        }
    }

    // ---- helpers -------------------------------------------------------------------------

    fn item(&self, index: usize) -> &QueueItem {
        &self.queue.items()[index]
    }

    fn gain_for(&self, index: usize) -> f32 {
        replay_gain(
            &self.item(index).replay_gain,
            self.config.replay_gain,
            self.config.preamp_db,
        )
    }

    fn publish(&mut self) {
        let index = self.audible();
        let next = PlayerStatus {
            state: self.state,
            index,
            position_ms: self.position_ms(),
            duration_ms: index.map_or(0, |i| self.item(i).duration_ms),
            volume: self.volume,
            shuffle: self.queue.shuffle(),
            repeat: self.queue.repeat(),
            buffering: self.buffering,
            queue: Arc::default(),
            order: Arc::default(),
        };
        let changed = self.published != Some(self.queue_version);
        if let Ok(mut s) = self.status.lock() {
            // The queue is copied only when it changed.
            let (queue, order) = if changed {
                (
                    Arc::new(self.queue.items().to_vec()),
                    Arc::new(self.queue.order().to_vec()),
                )
            } else {
                (Arc::clone(&s.queue), Arc::clone(&s.order))
            };
            *s = PlayerStatus {
                queue,
                order,
                ..next
            };
            self.published = Some(self.queue_version);
        }
    }

    fn save(&mut self) {
        self.last_save = Instant::now();
        let Some(path) = self.config.state_path.clone() else {
            return;
        };
        let saved = SavedState {
            version: state::VERSION,
            items: self.queue.items().to_vec(),
            order: self.queue.order().to_vec(),
            current: self.audible(),
            position_ms: self.position_ms(),
            shuffle: self.queue.shuffle(),
            repeat: self.queue.repeat(),
            volume: self.volume,
        };
        write_state(&path, &saved);
    }
}

fn write_state(path: &Path, saved: &SavedState) {
    if let Err(e) = state::save(path, saved) {
        tracing::warn!(path = %path.display(), error = %e, "cannot save the player state");
    }
}

/// The linear factor for a track's ReplayGain: the gain (plus preamp) in the chosen mode,
/// lowered when the peak would clip; 1 when untagged or off.
pub(crate) fn replay_gain(
    rg: &crate::shared::api::ReplayGain,
    mode: ReplayGainMode,
    preamp_db: f32,
) -> f32 {
    let (gain, peak) = match mode {
        ReplayGainMode::Off => return 1.0,
        ReplayGainMode::Track => (rg.track_gain_db, rg.track_peak),
        ReplayGainMode::Album => match rg.album_gain_db {
            Some(g) => (Some(g), rg.album_peak.or(rg.track_peak)),
            None => (rg.track_gain_db, rg.track_peak),
        },
    };
    let Some(db) = gain else { return 1.0 };
    let mut factor = 10f32.powf((db + preamp_db) / 20.0);
    if let Some(p) = peak.filter(|p| *p > 0.0)
        && factor * p > 1.0
    {
        factor = 1.0 / p;
    }
    factor
}
