//! The trained recommender's storage (`recs_models`) and its input, as SQLite's
//! `storage::sqlite::recs_models` does it. Everything is on the primary: the recs tables live
//! there, and a node must not miss the version another node just stored.

use crate::storage::{MODELS_KEPT, ModelInfo, StorageResult, TrainingData};
use postgres::{Client, Transaction};

pub(in crate::storage::postgres) fn training_data(c: &mut Client) -> StorageResult<TrainingData> {
    let mut tx = c
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let events = events_taken_in(&mut tx)?;
    let plays = tx
        .query(
            "SELECT user_id, track_id, count(*) FROM recs_plays WHERE weight > 0
             GROUP BY user_id, track_id",
            &[],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let playlists = tx
        .query("SELECT playlist_id, track_id FROM recs_playlist_items", &[])?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    tx.commit()?;
    Ok(TrainingData {
        events,
        plays,
        playlists,
    })
}

pub(in crate::storage::postgres) fn events_taken_in(
    tx: &mut impl postgres::GenericClient,
) -> StorageResult<u64> {
    let n: i64 = tx
        .query_one("SELECT count(*) FROM recs_applied", &[])?
        .get(0);
    Ok(n.max(0) as u64)
}

pub(in crate::storage::postgres) fn info(c: &mut Client) -> StorageResult<Option<ModelInfo>> {
    let row = c.query_opt(
        "SELECT version, trained_at_ms, events, items, rows, cells, train_ms, bytes
         FROM recs_models ORDER BY version DESC LIMIT 1",
        &[],
    )?;
    Ok(row.map(|r| {
        let u = |k: usize| r.get::<_, i64>(k).max(0) as u64;
        ModelInfo {
            version: r.get(0),
            trained_at_ms: r.get(1),
            events: u(2),
            items: u(3),
            rows: u(4),
            cells: u(5),
            train_ms: u(6),
            bytes: u(7),
        }
    }))
}

pub(in crate::storage::postgres) fn model(
    c: &mut Client,
    version: i64,
) -> StorageResult<Option<Vec<u8>>> {
    Ok(c.query_opt(
        "SELECT data FROM recs_models WHERE version = $1",
        &[&version],
    )?
    .map(|r| r.get(0)))
}

pub(in crate::storage::postgres) fn put(
    tx: &mut Transaction<'_>,
    info: &ModelInfo,
    data: &[u8],
) -> StorageResult<i64> {
    // One trainer holds the lease; the lock also orders a stray unfenced writer behind it.
    tx.execute("LOCK TABLE recs_models IN EXCLUSIVE MODE", &[])?;
    let version: i64 = tx
        .query_one("SELECT coalesce(max(version), 0) + 1 FROM recs_models", &[])?
        .get(0);
    tx.execute(
        "INSERT INTO recs_models (version, trained_at_ms, events, items, rows, cells, train_ms, bytes, data)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &version,
            &info.trained_at_ms,
            &(info.events as i64),
            &(info.items as i64),
            &(info.rows as i64),
            &(info.cells as i64),
            &(info.train_ms as i64),
            &(data.len() as i64),
            &data,
        ],
    )?;
    tx.execute(
        "DELETE FROM recs_models WHERE version <= $1",
        &[&(version - MODELS_KEPT)],
    )?;
    Ok(version)
}
