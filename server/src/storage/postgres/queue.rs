//! The shared [`EventQueue`]: rows in `recs_queue`, written by the transaction that accepted the
//! event (the outbox, see the play-event and playlist writes), consumed by every node's worker.
//!
//! Unlike SQLite's single in-process consumer, several workers compete here, so `fetch` claims
//! what it returns with a lease (`FOR UPDATE SKIP LOCKED`, then `lease_until_ms`): no other
//! worker gets those messages until the lease runs out, and a worker that dies mid-batch has its
//! messages delivered again once it has. A lease is not a failed delivery: `attempts` counts only
//! `retry`, as in SQLite.
//!
//! The table is the queue, so a message's work and its removal commit together
//! ([`EventQueue::acks_with_apply`]: the worker applies through `recs_apply_acking`); the
//! separate `ack` remains for other callers. With a broker (`crate::broker`) the table is only
//! the outbox: [`Outbox::relay_batch`] moves its rows to the broker.
//!
//! With user-keyed shards each home database has its own `recs_queue` (a user's event commits
//! with its outbox row on their home): the queue is the union of them, a delivery's tag names
//! its home ([`tag`]), and the applier (on the primary) acks after its commit instead of in it.

use super::PgStore;
use crate::storage::StorageResult;
use crate::storage::queue::{DeadLetter, Delivery, EventQueue, Message, Outbox, QueueStats};
use postgres::IsolationLevel;

/// How long a fetched message stays with the worker that fetched it. A batch takes well under
/// a second; this only bounds how late a dead worker's messages come back.
pub const LEASE_MS: i64 = 30_000;

/// A delivery's tag: the row's `seq`, with its home's shard id in the top bits (0, the
/// primary, leaves the tag equal to the seq).
fn tag(shard: i32, seq: i64) -> i64 {
    (i64::from(shard) << 48) | seq
}

fn untag(tag: i64) -> (i32, i64) {
    ((tag >> 48) as i32, tag & ((1 << 48) - 1))
}

/// Tags grouped by home, as seqs.
fn by_home(tags: &[i64]) -> std::collections::BTreeMap<i32, Vec<i64>> {
    let mut out: std::collections::BTreeMap<i32, Vec<i64>> = Default::default();
    for t in tags {
        let (shard, seq) = untag(*t);
        out.entry(shard).or_default().push(seq);
    }
    out
}

/// Runs one write transaction on home `shard`.
fn on_home<T>(
    store: &PgStore,
    shard: i32,
    f: impl FnOnce(&mut postgres::Transaction<'_>) -> StorageResult<T>,
) -> StorageResult<T> {
    let mut conn = store.home_connection(shard)?;
    let mut tx = conn.transaction()?;
    let out = f(&mut tx)?;
    tx.commit()?;
    Ok(out)
}

/// The home databases' shard ids, the primary first.
fn homes(store: &PgStore) -> Vec<i32> {
    std::iter::once(0).chain(store.shard_ids()).collect()
}

impl EventQueue for PgStore {
    fn publish(&self, message: &Message, now_ms: i64) -> StorageResult<i64> {
        self.write(None, |tx, _| {
            let row = tx.query_one(
                "INSERT INTO recs_queue (kind, key, payload, enqueued_at_ms, not_before_ms)
                 VALUES ($1, $2, $3, $4, $4) RETURNING seq",
                &[&message.kind, &message.key, &message.payload, &now_ms],
            )?;
            Ok(row.get(0))
        })
    }

    fn fetch(&self, max: usize, now_ms: i64) -> StorageResult<Vec<Delivery>> {
        let mut out = Vec::new();
        let homes = homes(self);
        // Each fetch starts at the next home, so a busy one cannot starve the rest.
        let start = self
            .next_home
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for i in 0..homes.len() {
            let shard = homes[(start + i) % homes.len()];
            let room = max - out.len();
            if room == 0 {
                break;
            }
            let fetched = on_home(self, shard, |tx| {
                // SKIP LOCKED: a row another worker is claiming right now is passed over, not
                // waited for; the lease then keeps it out of every later fetch.
                let rows = tx.query(
                    "WITH due AS (
                         SELECT seq FROM recs_queue
                         WHERE not_before_ms <= $1 AND lease_until_ms <= $1
                         ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED)
                     UPDATE recs_queue q SET lease_until_ms = $3 FROM due WHERE q.seq = due.seq
                     RETURNING q.seq, q.kind, q.key, q.payload, q.attempts, q.enqueued_at_ms",
                    &[
                        &now_ms,
                        &(room.min(i64::MAX as usize) as i64),
                        &now_ms.saturating_add(LEASE_MS),
                    ],
                )?;
                Ok(rows.iter().map(|r| delivery(shard, r)).collect::<Vec<_>>())
            })?;
            out.extend(fetched);
        }
        // RETURNING keeps no order.
        out.sort_by_key(|d| d.tag);
        Ok(out)
    }

    fn ack(&self, tags: &[i64]) -> StorageResult<()> {
        for (shard, seqs) in by_home(tags) {
            on_home(self, shard, |tx| {
                tx.execute("DELETE FROM recs_queue WHERE seq = ANY($1)", &[&seqs])?;
                Ok(())
            })?;
        }
        Ok(())
    }

    fn retry(&self, tag: i64, error: &str, not_before_ms: i64) -> StorageResult<()> {
        let (shard, seq) = untag(tag);
        on_home(self, shard, |tx| {
            // The lease ends with the failure: the message is due again at `not_before_ms`.
            tx.execute(
                "UPDATE recs_queue SET attempts = attempts + 1, not_before_ms = $2,
                     last_error = $3, lease_until_ms = 0
                 WHERE seq = $1",
                &[&seq, &not_before_ms, &error],
            )?;
            Ok(())
        })
    }

    fn dead_letter(&self, tag: i64, error: &str, now_ms: i64) -> StorageResult<()> {
        let (shard, seq) = untag(tag);
        on_home(self, shard, |tx| {
            tx.execute(
                "WITH gone AS (DELETE FROM recs_queue WHERE seq = $1
                     RETURNING seq, kind, key, payload, enqueued_at_ms, attempts)
                 INSERT INTO recs_dead_letters
                     (seq, kind, key, payload, enqueued_at_ms, attempts, last_error, dead_at_ms)
                 SELECT seq, kind, key, payload, enqueued_at_ms, attempts + 1, $2, $3 FROM gone
                 ON CONFLICT (seq) DO NOTHING",
                &[&seq, &error, &now_ms],
            )?;
            Ok(())
        })
    }

    /// Only when the queue is the primary's table alone, where the model is.
    fn acks_with_apply(&self) -> bool {
        !self.is_sharded()
    }

    fn stats(&self) -> StorageResult<QueueStats> {
        let per_home = self.each_home(|_, c| {
            // One snapshot per home, so its depth and dead letters agree with each other.
            let mut tx = c
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let row = tx.query_one(
                "SELECT count(*), count(*) FILTER (WHERE attempts > 0),
                     (SELECT enqueued_at_ms FROM recs_queue ORDER BY seq LIMIT 1),
                     (SELECT count(*) FROM recs_dead_letters)
                 FROM recs_queue",
                &[],
            )?;
            let stats = QueueStats {
                depth: row.get::<_, i64>(0).max(0) as u64,
                retrying: row.get::<_, i64>(1).max(0) as u64,
                oldest_enqueued_at_ms: row.get(2),
                dead_letters: row.get::<_, i64>(3).max(0) as u64,
                broker: None,
            };
            tx.commit()?;
            Ok(stats)
        })?;
        Ok(per_home.into_iter().fold(
            QueueStats {
                depth: 0,
                retrying: 0,
                oldest_enqueued_at_ms: None,
                dead_letters: 0,
                broker: None,
            },
            |a, b| QueueStats {
                depth: a.depth + b.depth,
                retrying: a.retrying + b.retrying,
                oldest_enqueued_at_ms: match (a.oldest_enqueued_at_ms, b.oldest_enqueued_at_ms) {
                    (Some(x), Some(y)) => Some(x.min(y)),
                    (x, y) => x.or(y),
                },
                dead_letters: a.dead_letters + b.dead_letters,
                broker: None,
            },
        ))
    }

    fn dead_letters(&self, limit: u32) -> StorageResult<Vec<DeadLetter>> {
        let mut all: Vec<DeadLetter> = self
            .each_home(|shard, c| {
                let rows = c.query(
                    "SELECT seq, kind, key, payload, attempts, last_error, enqueued_at_ms, dead_at_ms
                     FROM recs_dead_letters ORDER BY dead_at_ms DESC, seq DESC LIMIT $1",
                    &[&(limit as i64)],
                )?;
                Ok(rows
                    .iter()
                    .map(|r| DeadLetter {
                        tag: tag(shard, r.get(0)),
                        kind: r.get(1),
                        key: r.get(2),
                        payload: r.get(3),
                        attempts: r.get::<_, i64>(4).clamp(0, u32::MAX as i64) as u32,
                        last_error: r.get(5),
                        enqueued_at_ms: r.get(6),
                        dead_at_ms: r.get(7),
                    })
                    .collect::<Vec<_>>())
            })?
            .into_iter()
            .flatten()
            .collect();
        all.sort_by_key(|d| std::cmp::Reverse((d.dead_at_ms, d.tag)));
        all.truncate(limit as usize);
        Ok(all)
    }

    fn requeue_dead_letters(&self, now_ms: i64) -> StorageResult<u64> {
        let moved = self.each_home(|_, c| {
            // One statement: a letter that dies while this runs is either moved or kept, never
            // deleted unqueued. Requeued in their original order, with fresh attempts.
            Ok(c.execute(
                "WITH gone AS (DELETE FROM recs_dead_letters
                     RETURNING seq, kind, key, payload, enqueued_at_ms)
                 INSERT INTO recs_queue (kind, key, payload, enqueued_at_ms, not_before_ms)
                 SELECT kind, key, payload, enqueued_at_ms, $1 FROM gone ORDER BY seq",
                &[&now_ms],
            )?)
        })?;
        Ok(moved.into_iter().sum())
    }
}

impl Outbox for PgStore {
    fn relay_batch(
        &self,
        max: usize,
        publish: &mut dyn FnMut(&[Delivery]) -> Result<(), String>,
    ) -> StorageResult<Result<usize, String>> {
        if max == 0 {
            return Ok(Ok(0));
        }
        // One home per call, in turn; an empty one passes to the next.
        let homes = homes(self);
        let start = self
            .next_home
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for i in 0..homes.len() {
            let shard = homes[(start + i) % homes.len()];
            let mut conn = self.home_connection(shard)?;
            let mut tx = conn.transaction()?;
            // SKIP LOCKED: every node relays, each claiming rows no other relay holds; the
            // locks last until the rows are deleted (published) or the transaction rolls back.
            let rows = tx.query(
                "SELECT seq, kind, key, payload, attempts, enqueued_at_ms FROM recs_queue
                 ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
                &[&(max.min(i64::MAX as usize) as i64)],
            )?;
            if rows.is_empty() {
                continue;
            }
            let batch: Vec<Delivery> = rows.iter().map(|r| delivery(shard, r)).collect();
            if let Err(reason) = publish(&batch) {
                // Dropping the transaction rolls it back: the rows stay for the next try.
                return Ok(Err(reason));
            }
            let seqs: Vec<i64> = rows.iter().map(|r| r.get::<_, i64>(0)).collect();
            tx.execute("DELETE FROM recs_queue WHERE seq = ANY($1)", &[&seqs])?;
            tx.commit()?;
            return Ok(Ok(batch.len()));
        }
        Ok(Ok(0))
    }
}

/// A delivery from a row of `seq, kind, key, payload, attempts, enqueued_at_ms` on home `shard`.
fn delivery(shard: i32, r: &postgres::Row) -> Delivery {
    Delivery {
        tag: tag(shard, r.get(0)),
        message: Message {
            kind: r.get(1),
            key: r.get(2),
            payload: r.get(3),
        },
        attempts: r.get::<_, i64>(4).clamp(0, u32::MAX as i64) as u32,
        enqueued_at_ms: r.get(5),
    }
}
