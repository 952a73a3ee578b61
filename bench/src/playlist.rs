//! `playlist-push`: the latency of one single-op push (`POST /api/v1/sync/ops`) on a playlist
//! whose op log already holds 1k, then 200k ops, as one device that keeps moving entries would
//! make it (finding 13 of the 2026-12 attack report). The log is filled through the store in one
//! batch (one materialize, also on servers that replay the whole log on every push), then single
//! moves are pushed over HTTP and timed.

use anyhow::{Context, Result, bail};
use mixtape_server::storage::Store;
use mixtape_shared::api::{PushOpsRequest, PushOpsResponse};
use mixtape_shared::sync::{Anchor, NewEntry, OpKind, PlaylistOp};
use mixtape_shared::{DeviceId, EntryId, OpId, PlaylistId, TrackId, UserId};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The bench's user: the first admin.
const ADMIN: UserId = UserId(1);
/// Entries in the playlist that the moves shuffle.
const ENTRIES: usize = 50;

struct Device {
    store: Arc<dyn Store>,
    http: reqwest::Client,
    base: String,
    token: String,
    device: DeviceId,
    playlist: PlaylistId,
    entries: Vec<EntryId>,
    clock: u64,
    in_log: usize,
}

impl Device {
    fn op(&mut self, kind: OpKind) -> PlaylistOp {
        self.clock += 1;
        PlaylistOp {
            id: OpId::new_v7(),
            playlist_id: self.playlist,
            clock: self.clock,
            device: self.device,
            kind,
        }
    }

    /// The n-th move: entry n after entry n+7 (mod the playlist), so every move changes the order.
    fn a_move(&mut self, n: usize) -> PlaylistOp {
        let entry = self.entries[n % ENTRIES];
        let after = self.entries[(n + 7) % ENTRIES];
        self.op(OpKind::Move {
            entry,
            to: Anchor::After(after),
        })
    }

    async fn push(&mut self, ops: Vec<PlaylistOp>) -> Result<Duration> {
        let n = ops.len();
        let started = Instant::now();
        let r = self
            .http
            .post(format!("{}/api/v1/sync/ops", self.base))
            .bearer_auth(&self.token)
            .json(&PushOpsRequest { ops })
            .send()
            .await?;
        if r.status() != 200 {
            bail!("push: {} {}", r.status(), r.text().await?);
        }
        let answer: PushOpsResponse = r.json().await?;
        let took = started.elapsed();
        if answer.accepted as usize != n {
            bail!("push: {answer:?}");
        }
        self.in_log += n;
        Ok(took)
    }

    async fn fill_to(&mut self, target: usize) -> Result<Duration> {
        let n = target.saturating_sub(self.in_log);
        let ops: Vec<PlaylistOp> = (0..n).map(|i| self.a_move(self.in_log + i)).collect();
        let store = self.store.clone();
        let started = Instant::now();
        let new =
            tokio::task::spawn_blocking(move || store.apply_playlist_ops(ADMIN, &ops, 0)).await??;
        if new as usize != n {
            bail!("fill: {new} of {n} ops new");
        }
        self.in_log += n;
        Ok(started.elapsed())
    }
}

pub async fn playlist_push(
    store: Arc<dyn Store>,
    base: &str,
    token: &str,
    sizes: &[usize],
    samples: usize,
) -> Result<()> {
    let http = reqwest::Client::new();
    let tracks: serde_json::Value = http
        .get(format!("{base}/api/v1/tracks?limit={ENTRIES}"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    let track_ids: Vec<TrackId> = tracks["items"]
        .as_array()
        .context("tracks")?
        .iter()
        .filter_map(|t| t["id"].as_i64().map(TrackId))
        .collect();
    if track_ids.is_empty() {
        bail!("the library has no tracks");
    }
    let mut device = Device {
        store,
        http,
        base: base.to_string(),
        token: token.to_string(),
        device: DeviceId::new_v7(),
        playlist: PlaylistId::new_v7(),
        entries: (0..ENTRIES).map(|_| EntryId::new_v7()).collect(),
        clock: 0,
        in_log: 0,
    };
    let create = device.op(OpKind::Create {
        name: "bench".into(),
        public: false,
    });
    let entries = device
        .entries
        .iter()
        .enumerate()
        .map(|(i, id)| NewEntry {
            id: *id,
            track_id: track_ids[i % track_ids.len()],
        })
        .collect();
    let add = device.op(OpKind::Add {
        entries,
        at: Anchor::End,
    });
    device.push(vec![create, add]).await?;
    println!("| ops in the log | single-op push p50 | p90 | max | filling took |");
    println!("|---|---|---|---|---|");
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for &size in sizes {
        let fill = device.fill_to(size).await?;
        let mut times = Vec::with_capacity(samples);
        for _ in 0..samples {
            let op = device.a_move(device.in_log);
            times.push(device.push(vec![op]).await?);
        }
        times.sort();
        println!(
            "| {size} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} s |",
            ms(crate::percentile(&times, 0.5)),
            ms(crate::percentile(&times, 0.9)),
            ms(*times.last().unwrap()),
            fill.as_secs_f64()
        );
    }
    Ok(())
}
