//! The in-process consumer: pulls batches from the [`EventQueue`], takes them into the model in
//! one store transaction (idempotent by message key), then acknowledges. A batch that fails is
//! retried message by message, so one poison message cannot hold the others back; a message
//! that keeps failing is retried with exponential backoff, then dead-lettered.

use super::model::{Event, Params};
use super::queue::{Delivery, EventQueue};
use crate::background::BackgroundThread;
use crate::storage::{FencedWriter, StorageError, StorageResult, Store, Unfenced};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Messages per batch (one transaction).
    pub batch: usize,
    /// How long to wait when the queue is empty.
    pub idle_poll: Duration,
    /// Deliveries before a message is dead-lettered.
    pub max_attempts: u32,
    /// The first retry waits this long, each next one twice as long, up to `max_backoff_ms`.
    pub base_backoff_ms: i64,
    pub max_backoff_ms: i64,
    /// Test hook (`MIXTAPE_RECS_FAULT=abort-before-ack`): the process aborts after a batch's
    /// work committed and before it is acknowledged, the worst moment for a crash.
    pub abort_before_ack: bool,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            batch: 512,
            idle_poll: Duration::from_millis(25),
            max_attempts: 5,
            base_backoff_ms: 200,
            max_backoff_ms: 60_000,
            abort_before_ack: std::env::var("MIXTAPE_RECS_FAULT")
                .is_ok_and(|v| v == "abort-before-ack"),
        }
    }
}

/// Counters since the process started (the queue's own counts are in `EventQueue::stats`).
#[derive(Debug, Default)]
pub struct WorkerStats {
    pub processed: AtomicU64,
    pub duplicates: AtomicU64,
    pub failures: AtomicU64,
    pub dead_lettered: AtomicU64,
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn decode(d: &Delivery) -> Result<(String, i64, Event), String> {
    serde_json::from_str::<Event>(&d.message.payload)
        .map(|e| (d.message.key.clone(), d.enqueued_at_ms, e))
        .map_err(|e| {
            format!(
                "undecodable {} message {}: {e}",
                d.message.kind, d.message.key
            )
        })
}

fn backoff(cfg: &WorkerConfig, attempts: u32) -> i64 {
    cfg.base_backoff_ms
        .saturating_mul(1i64 << attempts.min(20))
        .min(cfg.max_backoff_ms)
}

fn fail(
    queue: &dyn EventQueue,
    cfg: &WorkerConfig,
    stats: &WorkerStats,
    d: &Delivery,
    error: &str,
    now: i64,
) -> StorageResult<()> {
    stats.failures.fetch_add(1, Ordering::Relaxed);
    metrics::counter!("mixtape_recs_failures_total").increment(1);
    if d.attempts + 1 >= cfg.max_attempts {
        tracing::warn!(key = %d.message.key, attempts = d.attempts + 1, error, "recommendation event dead-lettered");
        stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("mixtape_recs_dead_lettered_total").increment(1);
        queue.dead_letter(d.tag, error, now)
    } else {
        tracing::debug!(key = %d.message.key, attempts = d.attempts + 1, error, "recommendation event will be retried");
        queue.retry(d.tag, error, now + backoff(cfg, d.attempts))
    }
}

fn acked(stats: &WorkerStats, done: &[&Delivery], new: u64, now: i64) {
    stats
        .processed
        .fetch_add(done.len() as u64, Ordering::Relaxed);
    stats.duplicates.fetch_add(
        done.len() as u64 - new.min(done.len() as u64),
        Ordering::Relaxed,
    );
    metrics::counter!("mixtape_recs_events_processed_total").increment(done.len() as u64);
    let h = metrics::histogram!("mixtape_recs_event_latency_seconds");
    for d in done {
        h.record((now - d.enqueued_at_ms).max(0) as f64 / 1000.0);
    }
}

/// One round: fetch a batch, apply, acknowledge. Returns how many messages it handled.
pub fn run_once(
    store: &dyn Store,
    queue: &dyn EventQueue,
    params: &Params,
    cfg: &WorkerConfig,
    stats: &WorkerStats,
) -> StorageResult<usize> {
    run_once_through(&Unfenced(store), queue, params, cfg, stats)
}

/// [`run_once`] applying through `writer`: the recs lease, so that a node that lost it cannot
/// take a batch in (nor acknowledge one it did not take in).
pub fn run_once_through(
    writer: &dyn FencedWriter,
    queue: &dyn EventQueue,
    params: &Params,
    cfg: &WorkerConfig,
    stats: &WorkerStats,
) -> StorageResult<usize> {
    let now = now_ms();
    let deliveries = queue.fetch(cfg.batch, now)?;
    if deliveries.is_empty() {
        return Ok(0);
    }
    let started = Instant::now();
    let mut good = Vec::with_capacity(deliveries.len());
    let mut batch = Vec::with_capacity(deliveries.len());
    for d in &deliveries {
        match decode(d) {
            Ok(e) => {
                good.push(d);
                batch.push(e);
            }
            Err(error) => fail(queue, cfg, stats, d, &error, now)?,
        }
    }
    // A queue that is the store's own table takes the acknowledgement into the work's
    // transaction; any other is acknowledged after the work committed.
    let together = queue.acks_with_apply();
    let apply = |batch: &[(String, i64, Event)], tags: &[i64]| {
        if together {
            writer.recs_apply_acking(batch, params, now_ms(), tags)
        } else {
            writer.recs_apply(batch, params, now_ms())
        }
    };
    let tags: Vec<i64> = good.iter().map(|d| d.tag).collect();
    match apply(&batch, &tags) {
        Ok(new) => {
            if cfg.abort_before_ack && new > 0 {
                tracing::error!(
                    "MIXTAPE_RECS_FAULT=abort-before-ack: aborting after the work committed"
                );
                std::process::abort();
            }
            if !together {
                queue.ack(&tags)?;
            }
            acked(stats, &good, new, now_ms());
        }
        // Not the messages' fault: they stay queued for the next lease holder.
        Err(lost @ StorageError::LeaseLost(_)) => return Err(lost),
        Err(batch_error) => {
            tracing::debug!(error = %batch_error, "batch failed; applying its messages one by one");
            for (d, e) in good.iter().zip(batch) {
                match apply(std::slice::from_ref(&e), &[d.tag]) {
                    Ok(new) => {
                        if !together {
                            queue.ack(&[d.tag])?;
                        }
                        acked(stats, &[d], new, now_ms());
                    }
                    Err(lost @ StorageError::LeaseLost(_)) => return Err(lost),
                    Err(error) => fail(queue, cfg, stats, d, &error.to_string(), now)?,
                }
            }
        }
    }
    metrics::histogram!("mixtape_recs_batch_seconds").record(started.elapsed().as_secs_f64());
    Ok(deliveries.len())
}

/// Publishes the queue's depth, lag and dead letters as gauges.
pub fn export_gauges(queue: &dyn EventQueue) -> StorageResult<()> {
    let s = queue.stats()?;
    metrics::gauge!("mixtape_recs_queue_depth").set(s.depth as f64);
    metrics::gauge!("mixtape_recs_queue_retrying").set(s.retrying as f64);
    metrics::gauge!("mixtape_recs_dead_letters").set(s.dead_letters as f64);
    let lag = s
        .oldest_enqueued_at_ms
        .map_or(0.0, |t| (now_ms() - t).max(0) as f64 / 1000.0);
    metrics::gauge!("mixtape_recs_queue_lag_seconds").set(lag);
    Ok(())
}

/// The worker thread; [`Worker::stop`] ends it after the batch in hand.
pub struct Worker(BackgroundThread);

impl Worker {
    /// A worker applying with the store's own writes (a single node).
    pub fn spawn(
        store: Arc<dyn Store>,
        queue: Arc<dyn EventQueue>,
        params: Params,
        cfg: WorkerConfig,
        stats: Arc<WorkerStats>,
    ) -> Self {
        Self::spawn_through(Arc::new(Unfenced(store)), queue, params, cfg, stats)
    }

    /// A worker applying through `writer` (the recs lease, see `crate::leader`).
    pub fn spawn_through(
        writer: Arc<dyn FencedWriter>,
        queue: Arc<dyn EventQueue>,
        params: Params,
        cfg: WorkerConfig,
        stats: Arc<WorkerStats>,
    ) -> Self {
        Self(BackgroundThread::spawn("recs-worker", move |flag| {
            let mut last_gauges = Instant::now() - Duration::from_secs(10);
            while !flag.load(Ordering::Relaxed) {
                let handled = match run_once_through(
                    writer.as_ref(),
                    queue.as_ref(),
                    &params,
                    &cfg,
                    &stats,
                ) {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::warn!(error = %e, "recommendation worker round failed; retrying");
                        std::thread::sleep(Duration::from_millis(500));
                        0
                    }
                };
                if last_gauges.elapsed() >= Duration::from_secs(1) {
                    last_gauges = Instant::now();
                    if let Err(e) = export_gauges(queue.as_ref()) {
                        tracing::debug!(error = %e, "queue gauges");
                    }
                }
                if handled == 0 {
                    std::thread::sleep(cfg.idle_poll);
                }
            }
            queue.release();
        }))
    }

    /// Stops after the batch in hand (its work commits and is acknowledged) and waits.
    pub fn stop(self) {
        self.0.stop();
    }
}
