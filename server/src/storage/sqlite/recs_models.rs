//! The trained recommender's storage (`recs_models`) and its input: what the recommender took
//! in (`recs_plays`, `recs_playlist_items`), read in one snapshot.

use crate::storage::{MODELS_KEPT, ModelInfo, StorageResult, TrainingData};
use rusqlite::{Connection, OptionalExtension, params};

pub fn training_data(conn: &Connection) -> StorageResult<TrainingData> {
    // One read transaction: the counts and the rows of one state.
    let tx = conn.unchecked_transaction()?;
    let events = events_taken_in(&tx)?;
    let plays = tx
        .prepare(
            "SELECT user_id, track_id, count(*) FROM recs_plays WHERE weight > 0
             GROUP BY user_id, track_id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let playlists = tx
        .prepare("SELECT playlist_id, track_id FROM recs_playlist_items")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    tx.commit()?;
    Ok(TrainingData {
        events,
        plays,
        playlists,
    })
}

pub fn events_taken_in(conn: &Connection) -> StorageResult<u64> {
    let n: i64 = conn.query_row("SELECT count(*) FROM recs_applied", [], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

fn info_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<ModelInfo> {
    let u = |k: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(k)?.max(0) as u64) };
    Ok(ModelInfo {
        version: r.get(0)?,
        trained_at_ms: r.get(1)?,
        events: u(2)?,
        items: u(3)?,
        rows: u(4)?,
        cells: u(5)?,
        train_ms: u(6)?,
        bytes: u(7)?,
    })
}

pub fn info(conn: &Connection) -> StorageResult<Option<ModelInfo>> {
    Ok(conn
        .prepare_cached(
            "SELECT version, trained_at_ms, events, items, rows, cells, train_ms, bytes
             FROM recs_models ORDER BY version DESC LIMIT 1",
        )?
        .query_row([], info_of)
        .optional()?)
}

pub fn model(conn: &Connection, version: i64) -> StorageResult<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT data FROM recs_models WHERE version = ?1")?
        .query_row([version], |r| r.get(0))
        .optional()?)
}

pub fn put(tx: &Connection, info: &ModelInfo, data: &[u8]) -> StorageResult<i64> {
    let version: i64 = tx.query_row(
        "SELECT coalesce(max(version), 0) + 1 FROM recs_models",
        [],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO recs_models (version, trained_at_ms, events, items, rows, cells, train_ms, bytes, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            version,
            info.trained_at_ms,
            info.events as i64,
            info.items as i64,
            info.rows as i64,
            info.cells as i64,
            info.train_ms as i64,
            data.len() as i64,
            data
        ],
    )?;
    tx.execute(
        "DELETE FROM recs_models WHERE version <= ?1",
        [version - MODELS_KEPT],
    )?;
    Ok(version)
}
