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

use super::PgStore;
use crate::storage::StorageResult;
use crate::storage::queue::{DeadLetter, Delivery, EventQueue, Message, Outbox, QueueStats};
use postgres::IsolationLevel;

/// How long a fetched message stays with the worker that fetched it. A batch takes well under
/// a second; this only bounds how late a dead worker's messages come back.
pub const LEASE_MS: i64 = 30_000;

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
        if max == 0 {
            return Ok(Vec::new());
        }
        self.write(None, |tx, _| {
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
                    &(max.min(i64::MAX as usize) as i64),
                    &now_ms.saturating_add(LEASE_MS),
                ],
            )?;
            let mut out: Vec<Delivery> = rows.iter().map(delivery).collect();
            // RETURNING keeps no order.
            out.sort_by_key(|d| d.tag);
            Ok(out)
        })
    }

    fn ack(&self, tags: &[i64]) -> StorageResult<()> {
        if tags.is_empty() {
            return Ok(());
        }
        self.write(None, |tx, _| {
            tx.execute("DELETE FROM recs_queue WHERE seq = ANY($1)", &[&tags])?;
            Ok(())
        })
    }

    fn retry(&self, tag: i64, error: &str, not_before_ms: i64) -> StorageResult<()> {
        self.write(None, |tx, _| {
            // The lease ends with the failure: the message is due again at `not_before_ms`.
            tx.execute(
                "UPDATE recs_queue SET attempts = attempts + 1, not_before_ms = $2,
                     last_error = $3, lease_until_ms = 0
                 WHERE seq = $1",
                &[&tag, &not_before_ms, &error],
            )?;
            Ok(())
        })
    }

    fn dead_letter(&self, tag: i64, error: &str, now_ms: i64) -> StorageResult<()> {
        self.write(None, |tx, _| {
            tx.execute(
                "WITH gone AS (DELETE FROM recs_queue WHERE seq = $1
                     RETURNING seq, kind, key, payload, enqueued_at_ms, attempts)
                 INSERT INTO recs_dead_letters
                     (seq, kind, key, payload, enqueued_at_ms, attempts, last_error, dead_at_ms)
                 SELECT seq, kind, key, payload, enqueued_at_ms, attempts + 1, $2, $3 FROM gone
                 ON CONFLICT (seq) DO NOTHING",
                &[&tag, &error, &now_ms],
            )?;
            Ok(())
        })
    }

    fn acks_with_apply(&self) -> bool {
        true
    }

    fn stats(&self) -> StorageResult<QueueStats> {
        self.read_primary(|c| {
            // One snapshot, so depth and dead letters agree with each other.
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
        })
    }

    fn dead_letters(&self, limit: u32) -> StorageResult<Vec<DeadLetter>> {
        self.read_primary(|c| {
            let rows = c.query(
                "SELECT seq, kind, key, payload, attempts, last_error, enqueued_at_ms, dead_at_ms
                 FROM recs_dead_letters ORDER BY dead_at_ms DESC, seq DESC LIMIT $1",
                &[&(limit as i64)],
            )?;
            Ok(rows
                .iter()
                .map(|r| DeadLetter {
                    tag: r.get(0),
                    kind: r.get(1),
                    key: r.get(2),
                    payload: r.get(3),
                    attempts: r.get::<_, i64>(4).clamp(0, u32::MAX as i64) as u32,
                    last_error: r.get(5),
                    enqueued_at_ms: r.get(6),
                    dead_at_ms: r.get(7),
                })
                .collect())
        })
    }

    fn requeue_dead_letters(&self, now_ms: i64) -> StorageResult<u64> {
        self.write(None, |tx, _| {
            // One statement: a letter that dies while this runs is either moved or kept, never
            // deleted unqueued. Requeued in their original order, with fresh attempts.
            let n = tx.execute(
                "WITH gone AS (DELETE FROM recs_dead_letters
                     RETURNING seq, kind, key, payload, enqueued_at_ms)
                 INSERT INTO recs_queue (kind, key, payload, enqueued_at_ms, not_before_ms)
                 SELECT kind, key, payload, enqueued_at_ms, $1 FROM gone ORDER BY seq",
                &[&now_ms],
            )?;
            Ok(n)
        })
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
        let mut conn = self.primary_connection()?;
        let mut tx = conn.transaction()?;
        // SKIP LOCKED: every node relays, each claiming rows no other relay holds; the locks
        // last until the rows are deleted (published) or the transaction rolls back.
        let rows = tx.query(
            "SELECT seq, kind, key, payload, attempts, enqueued_at_ms FROM recs_queue
             ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
            &[&(max.min(i64::MAX as usize) as i64)],
        )?;
        if rows.is_empty() {
            return Ok(Ok(0));
        }
        let batch: Vec<Delivery> = rows.iter().map(delivery).collect();
        if let Err(reason) = publish(&batch) {
            // Dropping the transaction rolls it back: the rows stay for the next try.
            return Ok(Err(reason));
        }
        let seqs: Vec<i64> = batch.iter().map(|d| d.tag).collect();
        tx.execute("DELETE FROM recs_queue WHERE seq = ANY($1)", &[&seqs])?;
        tx.commit()?;
        Ok(Ok(batch.len()))
    }
}

/// A delivery from a row of `seq, kind, key, payload, attempts, enqueued_at_ms`.
fn delivery(r: &postgres::Row) -> Delivery {
    Delivery {
        tag: r.get(0),
        message: Message {
            kind: r.get(1),
            key: r.get(2),
            payload: r.get(3),
        },
        attempts: r.get::<_, i64>(4).clamp(0, u32::MAX as i64) as u32,
        enqueued_at_ms: r.get(5),
    }
}
