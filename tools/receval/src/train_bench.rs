//! `mixtape-receval train`: the trainer's time and peak memory on a synthetic history, in a
//! process that does nothing else. The history goes straight into an embedded store's
//! recommender tables (what the worker would have taken in): `--users` listeners each with
//! `--events / --users` finished plays over `--tracks` ids (a third skewed to popular ids, the
//! rest in the listener's "taste" neighbourhood, as `bench` posts them). Then
//! `trainer::train_once` reads it back in one snapshot, fits and stores the model, as the
//! server's trainer does; peak memory is the process's high-water mark (VmHWM) from just before
//! the training, reset through `/proc/self/clear_refs`.

use mixtape_server::recs::als::AlsParams;
use mixtape_server::recs::trainer::{TrainerConfig, train_once};
use mixtape_server::storage::leases::Unfenced;
use mixtape_server::storage::sqlite::SqliteStore;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 100_000)]
    tracks: i64,
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// Threads the fit runs on (the server's trainer uses `AlsParams::default().threads`).
    #[arg(long, default_value_t = AlsParams::default().threads)]
    threads: usize,
}

/// xorshift, skewed towards small ids like `bench`'s generator.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn track(&mut self, n: i64) -> i64 {
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        1 + ((n as f64).powf(u) as i64 - 1).clamp(0, n - 1)
    }
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("mixtape.db");
    let store = std::sync::Arc::new(SqliteStore::open(&path, 2)?);
    let started = Instant::now();
    {
        let mut conn = rusqlite::Connection::open(&path)?;
        let tx = conn.transaction()?;
        {
            let mut play = tx.prepare(
                "INSERT INTO recs_plays (user_id, at_ms, key, track_id, weight) VALUES (?1, ?2, ?3, ?4, 100)",
            )?;
            let mut applied = tx.prepare(
                "INSERT INTO recs_applied (key, enqueued_at_ms, applied_at_ms) VALUES (?1, 0, 0)",
            )?;
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
            let per_user = args.events / args.users.max(1);
            for u in 0..args.users {
                let taste = (u as i64 * 7919) % args.tracks;
                for k in 0..per_user {
                    let t = if rng.next().is_multiple_of(3) {
                        rng.track(args.tracks)
                    } else {
                        1 + (taste + (rng.next() % 200) as i64) % args.tracks
                    };
                    let key = format!("{u}-{k}");
                    play.execute(rusqlite::params![u as i64 + 1, k as i64 * 180_000, key, t])?;
                    applied.execute([&key])?;
                }
            }
        }
        tx.commit()?;
    }
    println!(
        "history: {} events of {} listeners over {} track ids, written in {:.1} s",
        args.events,
        args.users,
        args.tracks,
        started.elapsed().as_secs_f64()
    );
    let cfg = TrainerConfig {
        als: AlsParams {
            threads: args.threads,
            ..AlsParams::default()
        },
        ..TrainerConfig::default()
    };
    // Peak memory from here on: reset the high-water mark to the current RSS.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = status_kb("VmRSS:");
    let t = Instant::now();
    let (info, _) = train_once(
        &*store,
        &Unfenced(store.clone()),
        &cfg,
        &AtomicBool::new(false),
    )?;
    let total = t.elapsed();
    let peak = status_kb("VmHWM:");
    println!("trainer: {:?}", cfg.als);
    println!("| measure | value |\n|---|---|");
    println!(
        "| items, rows, cells | {} / {} / {} |",
        info.items, info.rows, info.cells
    );
    println!(
        "| read + fit (train_ms) | {:.1} s |",
        info.train_ms as f64 / 1000.0
    );
    println!("| read + fit + store | {:.1} s |", total.as_secs_f64());
    println!("| stored model | {:.1} MB |", info.bytes as f64 / 1e6);
    if reset {
        println!(
            "| peak RSS while training | {:.0} MB (RSS before {:.0} MB: +{:.0} MB) |",
            peak as f64 / 1024.0,
            before as f64 / 1024.0,
            peak.saturating_sub(before) as f64 / 1024.0
        );
    } else {
        println!(
            "| peak RSS | {:.0} MB (process lifetime: /proc/self/clear_refs unavailable) |",
            peak as f64 / 1024.0
        );
    }
    Ok(())
}
