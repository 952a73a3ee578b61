//! The embedded [`EventQueue`]: rows in `recs_queue`, written by the transaction that accepted
//! the event ([`enqueue`]), consumed by the in-process worker, moved to `recs_dead_letters`
//! when they keep failing.

use super::SqliteStore;
use crate::recs::queue::{DeadLetter, Delivery, EventQueue, Message, QueueStats};
use crate::storage::StorageResult;
use rusqlite::{Connection, OptionalExtension, params};

/// Inserts a message inside the caller's transaction: the outbox half of accepting an event.
pub(crate) fn enqueue(tx: &Connection, message: &Message, now_ms: i64) -> StorageResult<i64> {
    tx.prepare_cached(
        "INSERT INTO recs_queue (kind, key, payload, enqueued_at_ms, not_before_ms) VALUES (?1, ?2, ?3, ?4, ?4)",
    )?
    .execute(params![message.kind, message.key, message.payload, now_ms])?;
    Ok(tx.last_insert_rowid())
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl EventQueue for SqliteStore {
    fn publish(&self, message: &Message, now_ms: i64) -> StorageResult<i64> {
        self.write(|tx| enqueue(tx, message, now_ms))
    }

    fn fetch(&self, max: usize, now_ms: i64) -> StorageResult<Vec<Delivery>> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT seq, kind, key, payload, attempts, enqueued_at_ms FROM recs_queue
                 WHERE not_before_ms <= ?1 ORDER BY seq LIMIT ?2",
            )?
            .query_map(params![now_ms, max as i64], |r| {
                Ok(Delivery {
                    tag: r.get(0)?,
                    message: Message {
                        kind: r.get(1)?,
                        key: r.get(2)?,
                        payload: r.get(3)?,
                    },
                    attempts: r.get::<_, i64>(4)?.max(0) as u32,
                    enqueued_at_ms: r.get(5)?,
                })
            })?
            .collect::<Result<_, _>>()?)
        })
    }

    fn ack(&self, tags: &[i64]) -> StorageResult<()> {
        if tags.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let mut stmt = tx.prepare_cached("DELETE FROM recs_queue WHERE seq = ?1")?;
            for tag in tags {
                stmt.execute([tag])?;
            }
            Ok(())
        })
    }

    fn retry(&self, tag: i64, error: &str, not_before_ms: i64) -> StorageResult<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE recs_queue SET attempts = attempts + 1, not_before_ms = ?2, last_error = ?3 WHERE seq = ?1",
                params![tag, not_before_ms, error],
            )?;
            Ok(())
        })
    }

    fn dead_letter(&self, tag: i64, error: &str, now_ms: i64) -> StorageResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO recs_dead_letters (seq, kind, key, payload, enqueued_at_ms, attempts, last_error, dead_at_ms)
                 SELECT seq, kind, key, payload, enqueued_at_ms, attempts + 1, ?2, ?3 FROM recs_queue WHERE seq = ?1
                 ON CONFLICT (seq) DO NOTHING",
                params![tag, error, now_ms],
            )?;
            tx.execute("DELETE FROM recs_queue WHERE seq = ?1", [tag])?;
            Ok(())
        })
    }

    fn stats(&self) -> StorageResult<QueueStats> {
        self.read(|c| {
            let (depth, retrying): (i64, i64) = c
                .prepare_cached("SELECT count(*), coalesce(sum(attempts > 0), 0) FROM recs_queue")?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let oldest: Option<i64> = c
                .prepare_cached("SELECT enqueued_at_ms FROM recs_queue ORDER BY seq LIMIT 1")?
                .query_row([], |r| r.get(0))
                .optional()?;
            let dead: i64 = c
                .prepare_cached("SELECT count(*) FROM recs_dead_letters")?
                .query_row([], |r| r.get(0))?;
            Ok(QueueStats {
                depth: depth.max(0) as u64,
                retrying: retrying.max(0) as u64,
                oldest_enqueued_at_ms: oldest,
                dead_letters: dead.max(0) as u64,
                broker: None,
            })
        })
    }

    fn dead_letters(&self, limit: u32) -> StorageResult<Vec<DeadLetter>> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT seq, kind, key, payload, attempts, last_error, enqueued_at_ms, dead_at_ms
                 FROM recs_dead_letters ORDER BY dead_at_ms DESC, seq DESC LIMIT ?1",
            )?
            .query_map([limit as i64], |r| {
                Ok(DeadLetter {
                    tag: r.get(0)?,
                    kind: r.get(1)?,
                    key: r.get(2)?,
                    payload: r.get(3)?,
                    attempts: r.get::<_, i64>(4)?.max(0) as u32,
                    last_error: r.get(5)?,
                    enqueued_at_ms: r.get(6)?,
                    dead_at_ms: r.get(7)?,
                })
            })?
            .collect::<Result<_, _>>()?)
        })
    }

    fn requeue_dead_letters(&self, now_ms: i64) -> StorageResult<u64> {
        self.write(|tx| {
            let n = tx.execute(
                "INSERT INTO recs_queue (kind, key, payload, enqueued_at_ms, not_before_ms)
                 SELECT kind, key, payload, enqueued_at_ms, ?1 FROM recs_dead_letters ORDER BY seq",
                [now_ms],
            )?;
            tx.execute("DELETE FROM recs_dead_letters", [])?;
            Ok(n as u64)
        })
    }
}
