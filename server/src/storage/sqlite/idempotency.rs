//! [`IdempotencyStore`] on SQLite: one writer, so the reserve is a plain check-and-insert inside
//! the writer's immediate transaction.

use super::SqliteStore;
use crate::storage::{IdempotencyStore, Reservation, StorageError, StorageResult};
use rusqlite::{OptionalExtension, params};

impl IdempotencyStore for SqliteStore {
    fn idempotency_reserve(
        &self,
        lookup: &[u8],
        fingerprint: &[u8],
        now_ms: i64,
        expires_ms: i64,
    ) -> StorageResult<Reservation> {
        self.write(|tx| {
            tx.prepare_cached(
                "DELETE FROM idempotency_keys WHERE lookup = ?1 AND expires_ms <= ?2",
            )?
            .execute(params![lookup, now_ms])?;
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO idempotency_keys (lookup, fingerprint, answer, created_ms, expires_ms)
                     VALUES (?1, ?2, NULL, ?3, ?4) ON CONFLICT (lookup) DO NOTHING",
                )?
                .execute(params![lookup, fingerprint, now_ms, expires_ms])?;
            if inserted == 1 {
                return Ok(Reservation::Reserved);
            }
            let (fingerprint, answer) = tx
                .prepare_cached("SELECT fingerprint, answer FROM idempotency_keys WHERE lookup = ?1")?
                .query_row([lookup], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Option<Vec<u8>>>(1)?))
                })
                .optional()?
                .ok_or_else(|| StorageError::Corrupt("idempotency key vanished".into()))?;
            Ok(match answer {
                Some(sealed_answer) => Reservation::Done {
                    fingerprint,
                    sealed_answer,
                },
                None => Reservation::InFlight { fingerprint },
            })
        })
    }

    fn idempotency_complete(&self, lookup: &[u8], sealed_answer: &[u8]) -> StorageResult<bool> {
        self.write(|tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE idempotency_keys SET answer = ?2 WHERE lookup = ?1 AND answer IS NULL",
                )?
                .execute(params![lookup, sealed_answer])?;
            Ok(n == 1)
        })
    }

    fn idempotency_release(&self, lookup: &[u8]) -> StorageResult<()> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM idempotency_keys WHERE lookup = ?1 AND answer IS NULL")?
                .execute([lookup])?;
            Ok(())
        })
    }

    fn idempotency_purge(&self, now_ms: i64) -> StorageResult<u64> {
        self.write(|tx| {
            let n = tx
                .prepare_cached("DELETE FROM idempotency_keys WHERE expires_ms <= ?1")?
                .execute([now_ms])?;
            Ok(n as u64)
        })
    }
}
