//! `mixtape-bench broker`: outbox → RabbitMQ → applier on PostgreSQL, in one process with the
//! server's own relay, broker queue and recs worker (as a node running them would).
//!
//! - Throughput: EVENTS play events written to the outbox as fast as the producers can, timed
//!   from the first write until the recommender has taken the last one in.
//! - Lag: events written at a steady RATE for SECONDS; the lag of each is its time from the
//!   outbox (`enqueued_at_ms`) to the applier's transaction (`recs_applied.applied_at_ms`).
//!
//! A scratch database on `--database` and queues with throwaway names on `--broker`, both
//! removed afterwards.

use anyhow::{Context, Result};
use mixtape_server::broker::{BrokerQueue, Link, Names, Relay};
use mixtape_server::recs::model::Params;
use mixtape_server::recs::worker::{Worker, WorkerConfig, WorkerStats};
use mixtape_server::storage::postgres::scratch::ScratchDatabase;
use mixtape_server::storage::postgres::{LocalWriteMarks, PgOptions, PgStore};
use mixtape_server::storage::{AccountStore, Store};
use mixtape_shared::api::{PlayEvent, PlayEventKind};
use mixtape_shared::{EventId, TrackId, UserId};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) fn events(n: usize, offset: usize) -> Vec<PlayEvent> {
    (offset..offset + n)
        .map(|k| PlayEvent {
            id: EventId::new_v7(),
            track_id: TrackId(1 + (k * 7 % 997) as i64),
            kind: PlayEventKind::Finish,
            position_ms: 0,
            at_ms: 1_700_000_000_000 + k as i64 * 180_000,
            device: None,
        })
        .collect()
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn applied(db: &mut postgres::Client) -> Result<i64> {
    Ok(db
        .query_one("SELECT count(*) FROM recs_applied", &[])?
        .get(0))
}

fn wait_applied(db: &mut postgres::Client, n: i64, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    while applied(db)? < n {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {n} events applied",
            applied(db)?
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Users spread the events so that the per-user work of the model stays realistic.
fn write(store: &dyn Store, users: &[UserId], batch: &[PlayEvent], i: usize) -> Result<()> {
    let n = store.insert_play_events(users[i % users.len()], batch, now_ms())?;
    anyhow::ensure!(n as usize == batch.len(), "events refused");
    Ok(())
}

pub fn run(database: &str, broker: &str, events_n: usize, rate: usize, seconds: u64) -> Result<()> {
    let db = ScratchDatabase::create_on(database, "bench_broker")?;
    let store = Arc::new(
        PgStore::open(
            &PgOptions::new(db.url()),
            Arc::new(LocalWriteMarks::single_node()),
        )
        .context("open PostgreSQL")?,
    );
    let users: Vec<UserId> = (0..50)
        .map(|i| Ok(store.create_user(&format!("listener{i}"), "x", false)?.id))
        .collect::<Result<_>>()?;
    let names = Names::new(&format!("mixtape.bench.{}", std::process::id()));
    let link = Arc::new(Link::new(broker, names, "bench")?);
    let cfg = WorkerConfig::default();
    let queue = Arc::new(BrokerQueue::new(
        link.clone(),
        store.clone(),
        cfg.batch,
        "bench",
    ));
    let relay = Relay::spawn(link.clone(), store.clone());
    let stats = Arc::new(WorkerStats::default());
    let worker = Worker::spawn(store.clone(), queue, Params::default(), cfg, stats.clone());
    let mut pg = postgres::Client::connect(db.url(), postgres::NoTls)?;

    // Throughput: the whole burst in the outbox as fast as one writer can, in batches of 100.
    let burst = events(events_n, 0);
    let started = Instant::now();
    for (i, chunk) in burst.chunks(100).enumerate() {
        write(store.as_ref(), &users, chunk, i)?;
    }
    let written = started.elapsed();
    // The relay's half: until the outbox is empty (every row confirmed by the broker).
    let mut relayed = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    while applied(&mut pg)? < events_n as i64 {
        anyhow::ensure!(Instant::now() < deadline, "the burst was not applied");
        if relayed.is_none() {
            let left: i64 = pg.query_one("SELECT count(*) FROM recs_queue", &[])?.get(0);
            if left == 0 {
                relayed = Some(started.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let drained = started.elapsed();
    let relayed = relayed.unwrap_or(drained);
    let throughput = events_n as f64 / drained.as_secs_f64();

    // Lag at a steady rate: a batch every 10 ms.
    let per_tick = (rate / 100).max(1);
    let ticks = seconds as usize * 100;
    let steady_from = now_ms();
    let start = Instant::now();
    for t in 0..ticks {
        let due = start + Duration::from_millis(10 * t as u64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        write(
            store.as_ref(),
            &users,
            &events(per_tick, events_n + t * per_tick),
            t,
        )?;
    }
    let steady_total = events_n + ticks * per_tick;
    wait_applied(&mut pg, steady_total as i64, Duration::from_secs(600))?;
    let offered = (ticks * per_tick) as f64 / start.elapsed().as_secs_f64();
    let mut lags: Vec<i64> = pg
        .query(
            "SELECT applied_at_ms - enqueued_at_ms FROM recs_applied WHERE enqueued_at_ms >= $1",
            &[&steady_from],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    lags.sort_unstable();
    let pct = |p: f64| lags[((lags.len() as f64 - 1.0) * p).round() as usize];

    worker.stop();
    relay.stop();
    if let Err(e) = link.delete_topology() {
        eprintln!("could not delete the bench queues: {e}");
    }
    drop(store);
    drop(db);

    println!("| outbox → RabbitMQ → applier | figure |");
    println!("|---|---|");
    println!(
        "| burst of {events_n} events: written to the outbox in | {:.2} s ({:.0} events/s) |",
        written.as_secs_f64(),
        events_n as f64 / written.as_secs_f64()
    );
    println!(
        "| burst: outbox empty (all confirmed by the broker) after | {:.2} s ({:.0} events/s) |",
        relayed.as_secs_f64(),
        events_n as f64 / relayed.as_secs_f64()
    );
    println!(
        "| burst: all applied after | {:.2} s → **{throughput:.0} events/s** end to end |",
        drained.as_secs_f64()
    );
    println!(
        "| steady {offered:.0} events/s for {seconds} s: lag p50 / p99 / max | {} / **{}** / {} ms ({} events) |",
        pct(0.5),
        pct(0.99),
        lags.last().copied().unwrap_or(0),
        lags.len()
    );
    Ok(())
}
