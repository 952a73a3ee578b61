//! Mixed client traffic through the balancer, counted: catalog pages, searches, play events
//! and playlist sync ops (both with client-made ids, so replayable), from a few threads.

use mixtape_shared::api::{PlayEvent, PlayEventKind, PostEventsRequest, PushOpsRequest};
use mixtape_shared::sync::{Anchor, NewEntry, OpKind, PlaylistOp};
use mixtape_shared::{DeviceId, EntryId, EventId, OpId, PlaylistId, TrackId};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Events in each `POST /api/v1/events`.
pub const EVENTS_PER_POST: usize = 5;

/// What the clients saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// Successful answers by request kind.
    pub ok: BTreeMap<&'static str, u64>,
    /// Every failure: kind, then status or transport error.
    pub errors: Vec<String>,
    /// Events in successful posts.
    pub events_sent: u64,
    /// Playlists created by successful sync pushes.
    pub playlists_made: u64,
    /// (when it was sent, how long it took), for latency figures.
    pub latencies: Vec<(Instant, Duration)>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        for (k, v) in other.ok {
            *self.ok.entry(k).or_default() += v;
        }
        self.errors.extend(other.errors);
        self.events_sent += other.events_sent;
        self.playlists_made += other.playlists_made;
        self.latencies.extend(other.latencies);
    }

    pub fn requests(&self) -> u64 {
        self.ok.values().sum::<u64>() + self.errors.len() as u64
    }

    /// The 99th percentile latency of the requests sent within `window`.
    pub fn p99(&self, window: std::ops::Range<Instant>) -> Duration {
        let mut l: Vec<Duration> = self
            .latencies
            .iter()
            .filter(|(at, _)| window.contains(at))
            .map(|(_, d)| *d)
            .collect();
        l.sort();
        l.get((l.len() * 99 / 100).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    }
}

pub struct Load {
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<Tally>>,
}

impl Load {
    /// `workers` threads, each cycling through the four kinds of request against `base`.
    pub fn start(base: &str, token: &str, tracks: &[i64], workers: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..workers)
            .map(|w| {
                let (base, token, tracks, stop) = (
                    base.to_string(),
                    token.to_string(),
                    tracks.to_vec(),
                    stop.clone(),
                );
                std::thread::spawn(move || worker(w, &base, &token, &tracks, &stop))
            })
            .collect();
        Self { stop, workers }
    }

    pub fn stop(self) -> Tally {
        self.stop.store(true, Ordering::SeqCst);
        let mut tally = Tally::default();
        for w in self.workers {
            tally.merge(w.join().expect("load worker"));
        }
        tally
    }
}

fn worker(w: usize, base: &str, token: &str, tracks: &[i64], stop: &AtomicBool) -> Tally {
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let device = DeviceId::new_v7();
    let mut tally = Tally::default();
    let mut clock = 0u64;
    let mut i = w;
    while !stop.load(Ordering::SeqCst) {
        i += 1;
        let track = TrackId(tracks[i % tracks.len()]);
        let (kind, request) = match i % 4 {
            0 => (
                "albums",
                http.get(format!("{base}/api/v1/albums?limit=50&offset={}", i % 3)),
            ),
            1 => (
                "search",
                http.get(format!(
                    "{base}/api/v1/search?q={}",
                    ["a", "the", "e"][i % 3]
                )),
            ),
            2 => {
                let events = (0..EVENTS_PER_POST)
                    .map(|k| PlayEvent {
                        id: EventId::new_v7(),
                        track_id: track,
                        kind: PlayEventKind::Start,
                        position_ms: k as u64,
                        at_ms: 1_700_000_000_000 + i as i64,
                        device: Some(device),
                    })
                    .collect();
                (
                    "events",
                    http.post(format!("{base}/api/v1/events"))
                        .json(&PostEventsRequest { events }),
                )
            }
            _ => {
                let playlist = PlaylistId::new_v7();
                let mut op = |kind| {
                    clock += 1;
                    PlaylistOp {
                        id: OpId::new_v7(),
                        playlist_id: playlist,
                        clock,
                        device,
                        kind,
                    }
                };
                let ops = vec![
                    op(OpKind::Create {
                        name: format!("load {w}-{i}"),
                        public: false,
                    }),
                    op(OpKind::Add {
                        entries: vec![NewEntry {
                            id: EntryId::new_v7(),
                            track_id: track,
                        }],
                        at: Anchor::End,
                    }),
                ];
                (
                    "sync_ops",
                    http.post(format!("{base}/api/v1/sync/ops"))
                        .json(&PushOpsRequest { ops }),
                )
            }
        };
        let sent = Instant::now();
        let answer = request.bearer_auth(token).send();
        let took = sent.elapsed();
        match answer {
            Ok(r) if r.status().is_success() => {
                // The whole body: a reset mid-body is an error too.
                match r.bytes() {
                    Ok(_) => {
                        *tally.ok.entry(kind).or_default() += 1;
                        tally.latencies.push((sent, took));
                        match kind {
                            "events" => tally.events_sent += EVENTS_PER_POST as u64,
                            "sync_ops" => tally.playlists_made += 1,
                            _ => {}
                        }
                    }
                    Err(e) => tally.errors.push(format!("{kind}: body: {e}")),
                }
            }
            Ok(r) => {
                let status = r.status();
                let body = r.text().unwrap_or_default();
                tally.errors.push(format!("{kind}: {status} {body}"));
            }
            Err(e) => tally.errors.push(format!("{kind}: {e}")),
        }
    }
    tally
}
