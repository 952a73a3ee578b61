//! The recommender's state on PostgreSQL: the same tables and the same arithmetic as SQLite's
//! `storage::sqlite::recs` (the model is `crate::recommender`; this module only stores it), so
//! one event history gives one digest on either backend.
//!
//! Applying is not safe to run twice at once (two batches read and bump the same pair rows and
//! candidate lists), and nodes may each run a worker: every apply and rebuild takes one
//! transaction-scoped advisory lock first, and skips keys already in `recs_applied` under it.

pub(super) mod models;
mod reads;

use super::PgStore;
use crate::recommender::{self as model, ContentInfo, Delta, Event, Params, Play, Rows};
use crate::storage::{RecsStore, RecsSummary, StorageError, StorageResult};
use mixtape_shared::sync::{OpKind, PlaylistOp};
use postgres::{Statement, Transaction};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// `pg_advisory_xact_lock` key held by `recs_apply` and `recs_rebuild` ("mixt" + 2).
pub const APPLY_LOCK: i64 = 0x6d69_7874_0002;

/// `(neighbour, co-occurrence weight)` in `model::top_order`.
type CandidateList = Vec<(i64, i64)>;

/// The statements one apply runs per event, prepared once per transaction.
struct Stmts {
    applied: Statement,
    near: Statement,
    play: Statement,
    members: Statement,
    member: Statement,
}

impl Stmts {
    fn prepare(tx: &mut Transaction<'_>) -> StorageResult<Self> {
        Ok(Self {
            applied: tx.prepare(
                "INSERT INTO recs_applied (key, enqueued_at_ms, applied_at_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO NOTHING",
            )?,
            near: tx.prepare(
                "SELECT track_id, at_ms, weight FROM recs_plays
                 WHERE user_id = $1 AND at_ms BETWEEN $2 AND $3
                 ORDER BY abs(at_ms - $4), at_ms, track_id LIMIT $5",
            )?,
            play: tx.prepare(
                "INSERT INTO recs_plays (user_id, at_ms, key, track_id, weight)
                 VALUES ($1, $2, $3, $4, $5)",
            )?,
            members: tx
                .prepare("SELECT track_id FROM recs_playlist_items WHERE playlist_id = $1")?,
            member: tx.prepare(
                "INSERT INTO recs_playlist_items (playlist_id, track_id) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
            )?,
        })
    }
}

/// The candidate lists (`recs_top`) of the items a batch touched: loaded on first touch, kept
/// in memory by [`model::top_update`], written back (only the rows that changed) by `flush`.
#[derive(Default)]
struct Tops {
    /// Per item: its list as stored, and as updated.
    lists: HashMap<i64, (CandidateList, CandidateList)>,
}

impl Tops {
    /// Reads the neighbour lists of `items` not read yet in this batch, in one statement.
    fn load(&mut self, tx: &mut Transaction<'_>, items: &[i64]) -> StorageResult<()> {
        let mut missing: Vec<i64> = items
            .iter()
            .copied()
            .filter(|a| !self.lists.contains_key(a))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if missing.is_empty() {
            return Ok(());
        }
        let mut read: HashMap<i64, CandidateList> =
            missing.iter().map(|a| (*a, Vec::new())).collect();
        for r in tx.query(
            "SELECT a, b, co FROM recs_top WHERE a = ANY($1) ORDER BY a, co DESC, b",
            &[&missing],
        )? {
            if let Some(list) = read.get_mut(&r.get::<_, i64>(0)) {
                list.push((r.get(1), r.get(2)));
            }
        }
        for (a, list) in read {
            self.lists.insert(a, (list.clone(), list));
        }
        Ok(())
    }

    /// `a`'s list (loaded) after its pair with `b` reached `co`.
    fn update(&mut self, a: i64, b: i64, co: i64, k: usize) {
        if let Some((_, cur)) = self.lists.get_mut(&a) {
            model::top_update(cur, b, co, k);
        }
    }

    fn flush(&mut self, tx: &mut Transaction<'_>) -> StorageResult<()> {
        let (mut del_a, mut del_co, mut del_b) = (Vec::new(), Vec::new(), Vec::new());
        let (mut ins_a, mut ins_co, mut ins_b) = (Vec::new(), Vec::new(), Vec::new());
        for (a, (old, new)) in self.lists.drain() {
            let before: HashSet<&(i64, i64)> = old.iter().collect();
            let after: HashSet<&(i64, i64)> = new.iter().collect();
            for &(b, co) in old.iter().filter(|e| !after.contains(e)) {
                del_a.push(a);
                del_co.push(co);
                del_b.push(b);
            }
            for &(b, co) in new.iter().filter(|e| !before.contains(e)) {
                ins_a.push(a);
                ins_co.push(co);
                ins_b.push(b);
            }
        }
        if !del_a.is_empty() {
            tx.execute(
                "DELETE FROM recs_top t USING unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[])
                     AS d (a, co, b)
                 WHERE t.a = d.a AND t.co = d.co AND t.b = d.b",
                &[&del_a, &del_co, &del_b],
            )?;
        }
        if !ins_a.is_empty() {
            tx.execute(
                "INSERT INTO recs_top (a, co, b)
                 SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[])",
                &[&ins_a, &ins_co, &ins_b],
            )?;
        }
        Ok(())
    }
}

/// Adds a delta to the model in three statements whatever its size (items, pairs both ways,
/// the touched neighbour lists), not one round trip per pair: the applier's cost is round
/// trips. Weights are summed per key first (one statement may not update a row twice); the
/// neighbour lists only grow with the weights, so updating them with the final weights gives
/// the lists a pair-by-pair update would.
fn add(tx: &mut Transaction<'_>, tops: &mut Tops, delta: &Delta, k: usize) -> StorageResult<()> {
    let mut items: BTreeMap<i64, i64> = BTreeMap::new();
    for &(i, w) in &delta.items {
        *items.entry(i).or_default() += w;
    }
    if !items.is_empty() {
        let (ids, weights): (Vec<i64>, Vec<i64>) = items.into_iter().unzip();
        tx.execute(
            "INSERT INTO recs_items (item, weight)
             SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[])
             ON CONFLICT (item) DO UPDATE SET weight = recs_items.weight + excluded.weight",
            &[&ids, &weights],
        )?;
    }
    let mut pairs: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    for &(a, b, w) in &delta.pairs {
        for key in [(a, b), (b, a)] {
            *pairs.entry(key).or_default() += w;
        }
    }
    if pairs.is_empty() {
        return Ok(());
    }
    let (a, b): (Vec<i64>, Vec<i64>) = pairs.keys().copied().unzip();
    let w: Vec<i64> = pairs.values().copied().collect();
    let mut grown: Vec<(i64, i64, i64)> = tx
        .query(
            "INSERT INTO recs_pairs (a, b, weight)
             SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[])
             ON CONFLICT (a, b) DO UPDATE SET weight = recs_pairs.weight + excluded.weight
             RETURNING a, b, weight",
            &[&a, &b, &w],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    grown.sort_unstable();
    tops.load(tx, &a)?;
    for (a, b, co) in grown {
        tops.update(a, b, co, k);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn apply_one(
    tx: &mut Transaction<'_>,
    s: &Stmts,
    tops: &mut Tops,
    key: &str,
    enqueued_at_ms: i64,
    event: &Event,
    p: &Params,
    now_ms: i64,
) -> StorageResult<bool> {
    if tx.execute(&s.applied, &[&key, &enqueued_at_ms, &now_ms])? == 0 {
        return Ok(false);
    }
    match event {
        Event::Play(play) if play.weight > 0 => {
            let near: Vec<Play> = tx
                .query(
                    &s.near,
                    &[
                        &play.user,
                        &play.at_ms.saturating_sub(p.window_ms),
                        &play.at_ms.saturating_add(p.window_ms),
                        &play.at_ms,
                        &(p.max_window_plays.min(i64::MAX as usize) as i64),
                    ],
                )?
                .iter()
                .map(|r| Play {
                    user: play.user,
                    item: r.get(0),
                    at_ms: r.get(1),
                    weight: r.get(2),
                })
                .collect();
            add(tx, tops, &model::play_delta(play, &near, p), p.candidates)?;
            tx.execute(
                &s.play,
                &[&play.user, &play.at_ms, &key, &play.item, &play.weight],
            )?;
        }
        Event::Play(_) => {}
        Event::PlaylistAdd { playlist, items } => {
            let mut members: BTreeSet<i64> = tx
                .query(&s.members, &[playlist])?
                .iter()
                .map(|r| r.get(0))
                .collect();
            for &item in items {
                add(
                    tx,
                    tops,
                    &model::playlist_delta(item, &members, p),
                    p.candidates,
                )?;
                members.insert(item);
                tx.execute(&s.member, &[playlist, &item])?;
            }
        }
    }
    Ok(true)
}

/// Serializes appliers across nodes until the transaction ends.
fn lock(tx: &mut Transaction<'_>) -> StorageResult<()> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&APPLY_LOCK])?;
    Ok(())
}

pub(super) fn apply(
    tx: &mut Transaction<'_>,
    batch: &[(String, i64, Event)],
    p: &Params,
    now_ms: i64,
) -> StorageResult<u64> {
    lock(tx)?;
    let s = Stmts::prepare(tx)?;
    let mut n = 0;
    let mut tops = Tops::default();
    for (key, enqueued_at, event) in batch {
        n += apply_one(tx, &s, &mut tops, key, *enqueued_at, event, p, now_ms)? as u64;
    }
    tops.flush(tx)?;
    Ok(n)
}

/// Every stored play event `(id, user, track, kind, at_ms)` and playlist op `(id, body)` on
/// every home, in the order a rebuild takes them in (SQLite's order: plays by time then id in
/// byte order, ops by arrival; ops of different homes by arrival time, then home).
pub(crate) type History = (Vec<(String, i64, i64, String, i64)>, Vec<(String, String)>);

fn history(store: &PgStore) -> StorageResult<History> {
    let mut plays = Vec::new();
    let mut ops: Vec<(i64, i32, i64, String, String)> = Vec::new();
    for (p, o) in store.each_home(|shard, c| {
        let plays: Vec<(String, i64, i64, String, i64)> = c
            .query(
                "SELECT id, user_id, track_id, kind, at_ms FROM play_events",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect();
        // `seq` is playlist_ops' arrival order on its home (SQLite's rowid).
        let ops: Vec<(i64, i32, i64, String, String)> = c
            .query("SELECT received_at, seq, id, body FROM playlist_ops", &[])?
            .iter()
            .map(|r| (r.get(0), shard, r.get(1), r.get(2), r.get(3)))
            .collect();
        Ok((plays, ops))
    })? {
        plays.extend(p);
        ops.extend(o);
    }
    plays.sort_by(|a, b| (a.4, a.0.as_bytes()).cmp(&(b.4, b.0.as_bytes())));
    ops.sort_by_key(|(at, shard, seq, _, _)| (*at, *shard, *seq));
    Ok((
        plays,
        ops.into_iter()
            .map(|(_, _, _, id, body)| (id, body))
            .collect(),
    ))
}

/// Forgets the state and takes in every stored play event and playlist addition again.
/// The caller holds the model's lock (taken before `history` was read).
fn rebuild(
    tx: &mut Transaction<'_>,
    history: History,
    p: &Params,
    now_ms: i64,
) -> StorageResult<u64> {
    tx.batch_execute(
        "DELETE FROM recs_applied; DELETE FROM recs_plays; DELETE FROM recs_playlist_items;
         DELETE FROM recs_items; DELETE FROM recs_pairs; DELETE FROM recs_top;",
    )?;
    let (plays, ops) = history;
    let s = Stmts::prepare(tx)?;
    let mut n = 0;
    let mut tops = Tops::default();
    for (k, (key, user, track, kind, at_ms)) in plays.into_iter().enumerate() {
        if k % 10_000 == 0 {
            tops.flush(tx)?;
        }
        let event = Event::Play(Play {
            user,
            item: track,
            at_ms,
            weight: model::play_weight(&kind),
        });
        n += apply_one(tx, &s, &mut tops, &key, now_ms, &event, p, now_ms)? as u64;
    }
    for (key, body) in ops {
        let op: PlaylistOp = serde_json::from_str(&body)
            .map_err(|e| StorageError::Corrupt(format!("playlist op {key}: {e}")))?;
        if let OpKind::Add { entries, .. } = op.kind {
            let event = Event::PlaylistAdd {
                playlist: op.playlist_id.to_string(),
                items: entries.iter().map(|e| e.track_id.0).collect(),
            };
            n += apply_one(tx, &s, &mut tops, &key, now_ms, &event, p, now_ms)? as u64;
        }
    }
    tops.flush(tx)?;
    Ok(n)
}

/// [`apply`] and the removal of the queue rows the batch came from, in the caller's
/// transaction: the outbox table is the queue, so the work and its acknowledgement commit
/// together (or not at all).
pub(crate) fn apply_acking(
    tx: &mut Transaction<'_>,
    batch: &[(String, i64, Event)],
    params: &Params,
    now_ms: i64,
    queued: &[i64],
) -> StorageResult<u64> {
    let n = if batch.is_empty() {
        0
    } else {
        apply(tx, batch, params, now_ms)?
    };
    if !queued.is_empty() {
        tx.execute("DELETE FROM recs_queue WHERE seq = ANY($1)", &[&queued])?;
    }
    Ok(n)
}

impl RecsStore for PgStore {
    fn recs_apply(
        &self,
        batch: &[(String, i64, Event)],
        params: &Params,
        now_ms: i64,
    ) -> StorageResult<u64> {
        if batch.is_empty() {
            return Ok(0);
        }
        self.write(None, |tx, _| apply(tx, batch, params, now_ms))
    }

    fn recs_apply_acking(
        &self,
        batch: &[(String, i64, Event)],
        params: &Params,
        now_ms: i64,
        queued: &[i64],
    ) -> StorageResult<u64> {
        self.write(None, |tx, _| {
            apply_acking(tx, batch, params, now_ms, queued)
        })
    }

    fn recs_rebuild(&self, params: &Params, now_ms: i64) -> StorageResult<u64> {
        self.write(None, |tx, _| {
            // The lock first: no batch is applied between reading the history (on every home)
            // and replacing the model; what arrives later is in the queue, not yet applied.
            lock(tx)?;
            let history = history(self)?;
            rebuild(tx, history, params, now_ms)
        })
    }

    fn recs_rows(&self, items: &[i64]) -> StorageResult<Rows> {
        // Recommendations may lag a little: a replica's snapshot is one consistent state.
        self.read_catalog(|tx| reads::rows(tx, items))
    }

    fn recs_popular(&self, limit: u32) -> StorageResult<Vec<(i64, i64)>> {
        self.read_catalog(|tx| reads::popular(tx, limit))
    }

    fn recs_content_info(&self, ids: &[i64]) -> StorageResult<Vec<ContentInfo>> {
        self.read_catalog(|tx| reads::content_info(tx, ids))
    }

    fn recs_content_candidates(
        &self,
        seed: &ContentInfo,
        per_kind: u32,
    ) -> StorageResult<Vec<ContentInfo>> {
        self.read_catalog(|tx| reads::content_candidates(tx, seed, per_kind))
    }

    fn recs_artist_tracks(&self, artist: i64, limit: u32) -> StorageResult<Vec<i64>> {
        self.read_catalog(|tx| reads::artist_tracks(tx, artist, limit))
    }

    fn recs_summary(&self) -> StorageResult<RecsSummary> {
        // The primary: a summary is compared right after a write (tests, the admin page).
        self.read_primary(|c| {
            let mut tx = c
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let summary = reads::summary(&mut tx)?;
            tx.commit()?;
            Ok(summary)
        })
    }

    fn recs_training_data(&self) -> StorageResult<crate::storage::TrainingData> {
        self.read_primary(models::training_data)
    }

    fn recs_events_taken_in(&self) -> StorageResult<u64> {
        self.read_primary(models::events_taken_in)
    }

    fn recs_model_info(&self) -> StorageResult<Option<crate::storage::ModelInfo>> {
        self.read_primary(models::info)
    }

    fn recs_model(&self, version: i64) -> StorageResult<Option<Vec<u8>>> {
        self.read_primary(|c| models::model(c, version))
    }

    fn recs_model_put(&self, info: &crate::storage::ModelInfo, data: &[u8]) -> StorageResult<i64> {
        self.write(None, |tx, _| models::put(tx, info, data))
    }
}
