//! Playlists on PostgreSQL: the op log, the playlists it materializes and their kept snapshots,
//! as `sqlite/playlists.rs` does them. What differs is concurrency: several nodes may push ops
//! to one playlist at once, so a batch first takes a transaction-scoped advisory lock per
//! playlist it touches (the playlist row may not exist yet), and only then reads the owner, the
//! log and the snapshot it materializes from.

use super::changes::ChangeSet;
use super::{PgStore, feed};
use crate::storage::{OwnedPlaylist, PlaylistStore, StorageError, StorageResult};
use mixtape_shared::api::{ChangesPage, Playlist, PlaylistDetail, PlaylistEntry};
use mixtape_shared::sync::{OpKind, PlaylistOp, PlaylistState, Snapshot};
use mixtape_shared::{EntryId, OpId, PlaylistId, TrackId, UserId, order_key};
use postgres::{GenericClient, Row, Transaction};
use std::collections::{BTreeMap, HashSet};

/// Ops logged since the last compaction before the next one folds them into a base (as SQLite).
pub(crate) const COMPACT_AFTER: u64 = 5_000;

/// The first key of the two-key advisory locks on playlists (the one-key form is migrations').
const PLAYLIST_LOCK_CLASS: i32 = 0x6d78_706c;

const PLAYLIST_SELECT: &str = "SELECT p.id, u.username, p.name, p.public,
    (SELECT count(*) FROM playlist_entries e WHERE e.playlist_id = p.id),
    (SELECT coalesce(sum(t.duration_ms), 0)::int8 FROM playlist_entries e
        JOIN tracks t ON t.id = e.track_id WHERE e.playlist_id = p.id),
    coalesce((SELECT seq FROM changes WHERE kind = 'playlist' AND item = p.id), 0),
    p.updated_at, p.owner_id, p.clock
    FROM playlists p JOIN users u ON u.id = p.owner_id";

fn corrupt(what: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(what.to_string())
}

fn uuid_col(r: &Row, i: usize) -> StorageResult<uuid::Uuid> {
    let s: String = r.get(i);
    uuid::Uuid::parse_str(&s).map_err(|e| corrupt(format!("uuid {s}: {e}")))
}

fn playlist_from_row(r: &Row) -> StorageResult<(Playlist, UserId)> {
    Ok((
        Playlist {
            id: PlaylistId(uuid_col(r, 0)?),
            owner: r.get(1),
            name: r.get(2),
            public: r.get(3),
            entry_count: r.get::<_, i64>(4).max(0) as u32,
            duration_ms: r.get::<_, i64>(5).max(0) as u64,
            revision: r.get(6),
            updated_at: r.get(7),
            clock: r.get::<_, i64>(9).max(0) as u64,
        },
        UserId(r.get(8)),
    ))
}

pub(super) fn visible_to(c: &mut impl GenericClient, user: UserId) -> StorageResult<Vec<Playlist>> {
    // SQLite: `ORDER BY p.name COLLATE NOCASE, p.id` (ASCII case folding, bytewise).
    c.query(
        &format!(
            "{PLAYLIST_SELECT} WHERE p.owner_id = $1 OR p.public
             ORDER BY lower(p.name) COLLATE \"C\", p.id COLLATE \"C\""
        ),
        &[&user.0],
    )?
    .iter()
    .map(|r| playlist_from_row(r).map(|(p, _)| p))
    .collect()
}

pub(super) fn playlist(
    c: &mut impl GenericClient,
    id: PlaylistId,
) -> StorageResult<Option<OwnedPlaylist>> {
    let key = id.to_string();
    let Some(row) = c.query_opt(&format!("{PLAYLIST_SELECT} WHERE p.id = $1"), &[&key])? else {
        return Ok(None);
    };
    let (playlist, owner_id) = playlist_from_row(&row)?;
    let entries = c
        .query(
            "SELECT e.id, e.track_id, e.order_key, coalesce(t.available, false)
             FROM playlist_entries e LEFT JOIN tracks t ON t.id = e.track_id
             WHERE e.playlist_id = $1 ORDER BY e.order_key, e.id",
            &[&key],
        )?
        .iter()
        .map(|r| {
            Ok(PlaylistEntry {
                id: EntryId(uuid_col(r, 0)?),
                track_id: TrackId(r.get(1)),
                order_key: r.get(2),
                available: r.get(3),
            })
        })
        .collect::<StorageResult<_>>()?;
    Ok(Some(OwnedPlaylist {
        owner_id,
        detail: PlaylistDetail { playlist, entries },
    }))
}

/// Who owns a playlist id: the user whose ops named it, deleted playlists included.
fn owner(c: &mut impl GenericClient, id: PlaylistId) -> StorageResult<Option<UserId>> {
    Ok(c.query_opt(
        "SELECT user_id FROM playlist_ops WHERE playlist_id = $1 LIMIT 1",
        &[&id.to_string()],
    )?
    .map(|r| UserId(r.get(0))))
}

/// The ops of a playlist not folded into its base, in the order they were logged.
fn unfolded_ops(c: &mut impl GenericClient, id: PlaylistId) -> StorageResult<Vec<PlaylistOp>> {
    c.query(
        "SELECT body FROM playlist_ops WHERE playlist_id = $1 AND NOT folded ORDER BY seq",
        &[&id.to_string()],
    )?
    .iter()
    .map(|r| {
        let body: String = r.get(0);
        serde_json::from_str(&body).map_err(|e| corrupt(format!("playlist op {body}: {e}")))
    })
    .collect()
}

/// A playlist's kept snapshot, its compacted base and how many ops were logged since that base.
struct Kept {
    snapshot: Snapshot,
    base: Option<Snapshot>,
    unfolded: u64,
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> StorageResult<T> {
    serde_json::from_str(text).map_err(|e| corrupt(format!("{what}: {e}")))
}

fn to_json<T: serde::Serialize>(what: &str, value: &T) -> StorageResult<String> {
    serde_json::to_string(value).map_err(|e| corrupt(format!("{what}: {e}")))
}

fn kept(c: &mut impl GenericClient, id: PlaylistId) -> StorageResult<Option<Kept>> {
    let Some(row) = c.query_opt(
        "SELECT snapshot, base, unfolded FROM playlist_snapshots WHERE playlist_id = $1",
        &[&id.to_string()],
    )?
    else {
        return Ok(None);
    };
    let snapshot: String = row.get(0);
    let base: Option<String> = row.get(1);
    Ok(Some(Kept {
        snapshot: from_json("playlist snapshot", &snapshot)?,
        base: base.map(|b| from_json("playlist base", &b)).transpose()?,
        unfolded: row.get::<_, i64>(2).max(0) as u64,
    }))
}

fn save(tx: &mut Transaction<'_>, id: PlaylistId, kept: &Kept) -> StorageResult<()> {
    let base = kept
        .base
        .as_ref()
        .map(|b| to_json("playlist base", b))
        .transpose()?;
    tx.execute(
        "INSERT INTO playlist_snapshots (playlist_id, snapshot, base, unfolded) VALUES ($1, $2, $3, $4)
         ON CONFLICT (playlist_id) DO UPDATE SET snapshot = excluded.snapshot, base = excluded.base,
             unfolded = excluded.unfolded",
        &[
            &id.to_string(),
            &to_json("playlist snapshot", &kept.snapshot)?,
            &base,
            &i64::try_from(kept.unfolded).unwrap_or(i64::MAX),
        ],
    )?;
    Ok(())
}

/// The playlist as its ops make it, tombstones included (None before its create).
pub(super) fn state(
    c: &mut impl GenericClient,
    id: PlaylistId,
) -> StorageResult<Option<PlaylistState>> {
    if let Some(kept) = kept(c, id)? {
        return Ok(Some(kept.snapshot.state));
    }
    Ok(Snapshot::rebuild(None, &unfolded_ops(c, id)?).map(|s| s.state))
}

/// The op ids of `ids` already applied, folded ones included.
fn known_ops(c: &mut impl GenericClient, ids: &[OpId]) -> StorageResult<HashSet<OpId>> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let keys: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    let rows = c.query(
        "SELECT id FROM playlist_ops WHERE id = ANY($1)
         UNION SELECT id FROM playlist_folded_op_ids WHERE id = ANY($1)",
        &[&keys],
    )?;
    let found: HashSet<String> = rows.iter().map(|r| r.get(0)).collect();
    Ok(ids
        .iter()
        .filter(|id| found.contains(&id.to_string()))
        .copied()
        .collect())
}

/// Folds the unfolded ops into `kept.snapshot`, which becomes the base. Moves, removes, renames
/// and visibility changes leave the log (their ids stay, for dedup); the rest stay, marked.
fn compact(tx: &mut Transaction<'_>, id: PlaylistId, kept: &mut Kept) -> StorageResult<()> {
    let id = id.to_string();
    const FOLDABLE: &str = "playlist_id = $1 AND NOT folded
        AND (body::jsonb -> 'kind' ->> 'type') NOT IN ('create', 'add', 'delete')";
    tx.execute(
        &format!(
            "INSERT INTO playlist_folded_op_ids (id, playlist_id)
             SELECT id, playlist_id FROM playlist_ops WHERE {FOLDABLE} ON CONFLICT DO NOTHING"
        ),
        &[&id],
    )?;
    tx.execute(
        &format!("DELETE FROM playlist_ops WHERE {FOLDABLE}"),
        &[&id],
    )?;
    tx.execute(
        "UPDATE playlist_ops SET folded = TRUE WHERE playlist_id = $1 AND NOT folded",
        &[&id],
    )?;
    kept.base = Some(kept.snapshot.clone());
    kept.unfolded = 0;
    Ok(())
}

/// The advisory lock key of a playlist: its uuid folded to 32 bits. Two playlists sharing a key
/// only wait for each other.
fn lock_key(id: PlaylistId) -> i32 {
    let v = id.0.as_u128();
    (v as u32 ^ (v >> 32) as u32 ^ (v >> 64) as u32 ^ (v >> 96) as u32) as i32
}

/// The recs outbox message of an op that adds tracks, in the op's transaction (as SQLite's
/// `recs::enqueue_op`; the `recs_queue` table is the recs domain's).
fn enqueue_op(tx: &mut Transaction<'_>, op: &PlaylistOp, now_ms: i64) -> StorageResult<()> {
    if let OpKind::Add { entries, .. } = &op.kind {
        let event = crate::recs::model::Event::PlaylistAdd {
            playlist: op.playlist_id.to_string(),
            items: entries.iter().map(|e| e.track_id.0).collect(),
        };
        let payload = serde_json::to_string(&event).expect("events serialize");
        tx.execute(
            "INSERT INTO recs_queue (kind, key, payload, enqueued_at_ms, not_before_ms)
             VALUES ('playlist_add', $1, $2, $3::int8, $3::int8)",
            &[&op.id.to_string(), &payload, &now_ms],
        )?;
    }
    Ok(())
}

/// Records each op not seen before and rewrites the playlists they touch; see
/// `sqlite::playlists::apply_ops` for the snapshot, rebuild and compaction rules.
fn apply_ops(
    tx: &mut Transaction<'_>,
    changes: &mut ChangeSet,
    user: UserId,
    ops: &[PlaylistOp],
    now: i64,
) -> StorageResult<u64> {
    // Locks in one global order, so two batches touching the same playlists cannot deadlock.
    let mut keys: Vec<i32> = ops.iter().map(|op| lock_key(op.playlist_id)).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, $2)",
            &[&PLAYLIST_LOCK_CLASS, &key],
        )?;
    }
    let now_ms = super::activity::now_ms();
    let mut new_ops: BTreeMap<PlaylistId, Vec<&PlaylistOp>> = BTreeMap::new();
    let mut inserted = 0;
    for op in ops {
        if let Some(owner) = owner(tx, op.playlist_id)?
            && owner != user
        {
            return Err(StorageError::Conflict(format!(
                "playlist {}",
                op.playlist_id
            )));
        }
        let body = to_json("playlist op", op)?;
        let clock =
            i64::try_from(op.clock).map_err(|_| corrupt(format!("op clock {}", op.clock)))?;
        let op_id = op.id.to_string();
        if tx
            .query_opt(
                "SELECT 1 FROM playlist_folded_op_ids WHERE id = $1",
                &[&op_id],
            )?
            .is_some()
        {
            continue;
        }
        let new = tx.execute(
            "INSERT INTO playlist_ops (id, playlist_id, user_id, clock, body, received_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
            &[
                &op_id,
                &op.playlist_id.to_string(),
                &user.0,
                &clock,
                &body,
                &now,
            ],
        )?;
        if new > 0 {
            inserted += 1;
            new_ops.entry(op.playlist_id).or_default().push(op);
            // The outbox: additions reach the recommender's queue in this transaction.
            enqueue_op(tx, op, now_ms)?;
        }
    }
    for (id, new) in new_ops {
        let kept = match kept(tx, id)? {
            Some(mut kept) => {
                if kept.snapshot.advance(&new) {
                    kept.unfolded += new.len() as u64;
                    Some(kept)
                } else {
                    let ops = unfolded_ops(tx, id)?;
                    Snapshot::rebuild(kept.base.clone(), &ops).map(|snapshot| Kept {
                        snapshot,
                        base: kept.base,
                        unfolded: ops.len() as u64,
                    })
                }
            }
            None => {
                let ops = unfolded_ops(tx, id)?;
                Snapshot::rebuild(None, &ops).map(|snapshot| Kept {
                    snapshot,
                    base: None,
                    unfolded: ops.len() as u64,
                })
            }
        };
        // No create among the ops yet: nothing to show (the domain refuses such ops).
        let Some(mut kept) = kept else { continue };
        write_state(tx, changes, user, &kept.snapshot.state, now)?;
        if kept.unfolded >= COMPACT_AFTER {
            compact(tx, id, &mut kept)?;
        }
        save(tx, id, &kept)?;
    }
    Ok(inserted)
}

fn write_state(
    tx: &mut Transaction<'_>,
    changes: &mut ChangeSet,
    owner: UserId,
    state: &PlaylistState,
    now: i64,
) -> StorageResult<()> {
    let id = state.id.to_string();
    if state.deleted {
        tx.execute("DELETE FROM playlists WHERE id = $1", &[&id])?;
        changes.push("playlist", id, Some(owner), true);
        return Ok(());
    }
    let clock = i64::try_from(state.clock).unwrap_or(i64::MAX);
    tx.execute(
        "INSERT INTO playlists (id, owner_id, name, public, clock, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, public = excluded.public,
             clock = excluded.clock, updated_at = excluded.updated_at",
        &[&id, &owner.0, &state.name, &state.public, &clock, &now],
    )?;
    // Entries are rewritten whole: order keys follow the materialized order, so they stay short
    // however many moves happened.
    tx.execute(
        "DELETE FROM playlist_entries WHERE playlist_id = $1",
        &[&id],
    )?;
    let entries: Vec<_> = state.entries().collect();
    let keys = order_key::n_between(None, None, entries.len());
    let entry_ids: Vec<String> = entries.iter().map(|(e, _)| e.to_string()).collect();
    let track_ids: Vec<i64> = entries.iter().map(|(_, t)| t.0).collect();
    tx.execute(
        "INSERT INTO playlist_entries (id, playlist_id, track_id, order_key, added_at)
         SELECT e, $2::text, t, k, $5::int8 FROM unnest($1::text[], $3::int8[], $4::text[]) AS x(e, t, k)",
        &[&entry_ids, &id, &track_ids, &keys, &now],
    )?;
    changes.push("playlist", id, Some(owner), false);
    Ok(())
}

impl PlaylistStore for PgStore {
    fn playlists_visible_to(&self, user: UserId) -> StorageResult<Vec<Playlist>> {
        self.read_user(user, |c| visible_to(c, user))
    }

    // Reads by playlist id serve permission checks and other users' public playlists: the
    // primary, so a check never runs against an older state than the write it guards.
    fn playlist(&self, id: PlaylistId) -> StorageResult<Option<OwnedPlaylist>> {
        self.read_primary(|c| {
            let mut tx = c
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let out = playlist(&mut tx, id)?;
            tx.commit()?;
            Ok(out)
        })
    }

    fn playlist_owner(&self, id: PlaylistId) -> StorageResult<Option<UserId>> {
        self.read_primary(|c| owner(c, id))
    }

    fn apply_playlist_ops(&self, user: UserId, ops: &[PlaylistOp], now: i64) -> StorageResult<u64> {
        self.write(Some(user), |tx, changes| {
            apply_ops(tx, changes, user, ops, now)
        })
    }

    fn playlist_state(&self, id: PlaylistId) -> StorageResult<Option<PlaylistState>> {
        self.read_primary(|c| state(c, id))
    }

    fn known_playlist_ops(&self, ids: &[OpId]) -> StorageResult<HashSet<OpId>> {
        self.read_primary(|c| known_ops(c, ids))
    }

    fn changes(&self, user: UserId, since: i64, limit: u32) -> StorageResult<ChangesPage> {
        self.read_user(user, |c| {
            // The revision and the rows in one snapshot: every change at or below the revision
            // is visible to the rows' reads.
            let mut tx = c
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let page = feed::page(&mut tx, user, since, limit)?;
            tx.commit()?;
            Ok(page)
        })
    }
}
