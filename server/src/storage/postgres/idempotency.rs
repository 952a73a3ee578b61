//! [`IdempotencyStore`] on PostgreSQL, on the primary: every node reserves keys in the same
//! table, and the primary key settles a race (`ON CONFLICT DO NOTHING` makes the second insert
//! wait for the first transaction, then do nothing).

use super::PgStore;
use crate::storage::{IdempotencyStore, Reservation, StorageError, StorageResult};

impl IdempotencyStore for PgStore {
    fn idempotency_reserve(
        &self,
        lookup: &[u8],
        fingerprint: &[u8],
        now_ms: i64,
        expires_ms: i64,
    ) -> StorageResult<Reservation> {
        // A record released or purged between our insert and our read: try again (twice is
        // plenty; each round needs another transaction to delete exactly that row meanwhile).
        for _ in 0..3 {
            let found = self.write(None, |tx, _| {
                tx.execute(
                    "DELETE FROM idempotency_keys WHERE lookup = $1 AND expires_ms <= $2",
                    &[&lookup, &now_ms],
                )?;
                let inserted = tx.execute(
                    "INSERT INTO idempotency_keys (lookup, fingerprint, answer, created_ms, expires_ms)
                     VALUES ($1, $2, NULL, $3, $4) ON CONFLICT (lookup) DO NOTHING",
                    &[&lookup, &fingerprint, &now_ms, &expires_ms],
                )?;
                if inserted == 1 {
                    return Ok(Some(Reservation::Reserved));
                }
                let row = tx.query_opt(
                    "SELECT fingerprint, answer FROM idempotency_keys WHERE lookup = $1",
                    &[&lookup],
                )?;
                Ok(row.map(|r| {
                    let fingerprint: Vec<u8> = r.get(0);
                    match r.get::<_, Option<Vec<u8>>>(1) {
                        Some(sealed_answer) => Reservation::Done {
                            fingerprint,
                            sealed_answer,
                        },
                        None => Reservation::InFlight { fingerprint },
                    }
                }))
            })?;
            if let Some(found) = found {
                return Ok(found);
            }
        }
        Err(StorageError::Corrupt(
            "an idempotency key kept vanishing while being reserved".into(),
        ))
    }

    fn idempotency_complete(&self, lookup: &[u8], sealed_answer: &[u8]) -> StorageResult<bool> {
        self.write(None, |tx, _| {
            let n = tx.execute(
                "UPDATE idempotency_keys SET answer = $2 WHERE lookup = $1 AND answer IS NULL",
                &[&lookup, &sealed_answer],
            )?;
            Ok(n == 1)
        })
    }

    fn idempotency_release(&self, lookup: &[u8]) -> StorageResult<()> {
        self.write(None, |tx, _| {
            tx.execute(
                "DELETE FROM idempotency_keys WHERE lookup = $1 AND answer IS NULL",
                &[&lookup],
            )?;
            Ok(())
        })
    }

    fn idempotency_purge(&self, now_ms: i64) -> StorageResult<u64> {
        self.write(None, |tx, _| {
            Ok(tx.execute(
                "DELETE FROM idempotency_keys WHERE expires_ms <= $1",
                &[&now_ms],
            )?)
        })
    }
}
