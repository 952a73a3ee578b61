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
use std::collections::{BTreeMap, HashMap, HashSet};

/// Ops logged since the last compaction before the next one folds them into a base (as SQLite).
pub(crate) const COMPACT_AFTER: u64 = 5_000;

/// The first key of the two-key advisory locks on playlists (the one-key form is migrations').
const PLAYLIST_LOCK_CLASS: i32 = 0x6d78_706c;

// Read on the owner's home, which holds no catalog: durations and availability are filled in
// from the catalog afterwards ([`PgStore::with_track_facts`]).
const PLAYLIST_SELECT: &str = "SELECT p.id, u.username, p.name, p.public,
    (SELECT count(*) FROM playlist_entries e WHERE e.playlist_id = p.id),
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
            duration_ms: 0,
            revision: r.get(5),
            updated_at: r.get(6),
            clock: r.get::<_, i64>(8).max(0) as u64,
        },
        UserId(r.get(7)),
    ))
}

/// The playlists on this home that `user` may see: their own, and (`others`) other users'
/// public ones, unsorted.
fn visible_here(
    c: &mut impl GenericClient,
    user: UserId,
    own: bool,
    others: bool,
) -> StorageResult<Vec<Playlist>> {
    c.query(
        &format!(
            "{PLAYLIST_SELECT} WHERE ($2 AND p.owner_id = $1) OR ($3 AND p.public AND p.owner_id != $1)"
        ),
        &[&user.0, &own, &others],
    )?
    .iter()
    .map(|r| playlist_from_row(r).map(|(p, _)| p))
    .collect()
}

/// Each playlist's tracks with how often they occur, for durations.
fn track_counts(
    c: &mut impl GenericClient,
    playlists: &[Playlist],
) -> StorageResult<Vec<(String, i64, i64)>> {
    let ids: Vec<String> = playlists.iter().map(|p| p.id.to_string()).collect();
    Ok(c.query(
        "SELECT playlist_id, track_id, count(*) FROM playlist_entries
             WHERE playlist_id = ANY($1) GROUP BY 1, 2",
        &[&ids],
    )?
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect())
}

/// The catalog's duration and availability of these tracks.
pub(super) fn track_facts(
    c: &mut impl GenericClient,
    ids: &[i64],
) -> StorageResult<HashMap<i64, (i64, bool)>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(c.query(
        "SELECT id, duration_ms::int8, available FROM tracks WHERE id = ANY($1)",
        &[&ids],
    )?
    .iter()
    .map(|r| (r.get(0), (r.get(1), r.get(2))))
    .collect())
}

/// Fills in what a playlist read on its home lacks: the duration of its tracks that exist, and
/// whether each entry's track is available.
pub(super) fn apply_track_facts(detail: &mut PlaylistDetail, facts: &HashMap<i64, (i64, bool)>) {
    let mut duration = 0;
    for entry in &mut detail.entries {
        let fact = facts.get(&entry.track_id.0);
        entry.available = fact.is_some_and(|(_, available)| *available);
        duration += fact.map_or(0, |(ms, _)| (*ms).max(0));
    }
    detail.playlist.duration_ms = duration as u64;
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
            "SELECT id, track_id, order_key FROM playlist_entries
             WHERE playlist_id = $1 ORDER BY order_key, id",
            &[&key],
        )?
        .iter()
        .map(|r| {
            Ok(PlaylistEntry {
                id: EntryId(uuid_col(r, 0)?),
                track_id: TrackId(r.get(1)),
                order_key: r.get(2),
                // Filled from the catalog by `apply_track_facts`.
                available: false,
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

impl PgStore {
    /// Reads a playlist on its owner's home (the owner from the primary's directory), with
    /// its track facts from the catalog.
    fn playlist_by_id(&self, id: PlaylistId) -> StorageResult<Option<OwnedPlaylist>> {
        let Some(owner) = self.owner_of(id)? else {
            return Ok(None);
        };
        let Some(mut found) = self.read_home(owner, |tx| playlist(tx, id))? else {
            return Ok(None);
        };
        self.with_track_facts(std::slice::from_mut(&mut found.detail))?;
        Ok(Some(found))
    }

    /// Fills in the catalog's facts for these playlists, in one catalog read.
    pub(super) fn with_track_facts(&self, details: &mut [PlaylistDetail]) -> StorageResult<()> {
        let mut ids: Vec<i64> = details
            .iter()
            .flat_map(|d| d.entries.iter().map(|e| e.track_id.0))
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        ids.sort_unstable();
        ids.dedup();
        let facts = self.read_catalog(|tx| track_facts(tx, &ids))?;
        for detail in details {
            apply_track_facts(detail, &facts);
        }
        Ok(())
    }

    /// The owner of a playlist id, from the primary's directory.
    fn owner_of(&self, id: PlaylistId) -> StorageResult<Option<UserId>> {
        self.read_primary(|c| {
            Ok(c.query_opt(
                "SELECT owner_id FROM playlist_owners WHERE playlist_id = $1",
                &[&id.to_string()],
            )?
            .map(|r| UserId(r.get(0))))
        })
    }

    /// Claims the playlist ids of `ops` for `user` in the directory; another user's id is a
    /// conflict. Committed before the ops are written on the home: an id claimed by a write
    /// that then failed stays the pusher's, as the client made it for them.
    fn claim_playlists(&self, user: UserId, ops: &[PlaylistOp]) -> StorageResult<()> {
        let mut ids: Vec<String> = ops.iter().map(|op| op.playlist_id.to_string()).collect();
        ids.sort_unstable();
        ids.dedup();
        let owners: Vec<(String, i64)> = self.write(None, |tx, _| {
            tx.execute(
                "INSERT INTO playlist_owners (playlist_id, owner_id)
                 SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING",
                &[&ids, &user.0],
            )?;
            Ok(tx
                .query(
                    "SELECT playlist_id, owner_id FROM playlist_owners WHERE playlist_id = ANY($1)",
                    &[&ids],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
        })?;
        match owners.into_iter().find(|(_, owner)| *owner != user.0) {
            Some((id, _)) => Err(StorageError::Conflict(format!("playlist {id}"))),
            None => Ok(()),
        }
    }
}

impl PlaylistStore for PgStore {
    /// The user's own playlists from their home; other users' public ones from every home.
    fn playlists_visible_to(&self, user: UserId) -> StorageResult<Vec<Playlist>> {
        let mut lists = self.read_home(user, |tx| {
            let lists = visible_here(tx, user, true, false)?;
            let counts = track_counts(tx, &lists)?;
            Ok((lists, counts))
        })?;
        let public = self.each_home(|_, c| {
            let lists = visible_here(c, user, false, true)?;
            let counts = track_counts(c, &lists)?;
            Ok((lists, counts))
        })?;
        for (more, counts) in public {
            lists.0.extend(more);
            lists.1.extend(counts);
        }
        let (mut lists, counts) = lists;
        let mut ids: Vec<i64> = counts.iter().map(|(_, t, _)| *t).collect();
        ids.sort_unstable();
        ids.dedup();
        let facts = self.read_catalog(|tx| track_facts(tx, &ids))?;
        let mut durations: HashMap<String, i64> = HashMap::new();
        for (playlist, track, n) in counts {
            if let Some((ms, _)) = facts.get(&track) {
                *durations.entry(playlist).or_default() += ms.max(&0) * n;
            }
        }
        for p in &mut lists {
            p.duration_ms = durations.get(&p.id.to_string()).copied().unwrap_or(0) as u64;
        }
        // SQLite's `ORDER BY p.name COLLATE NOCASE, p.id`: ASCII case folding, bytewise.
        lists.sort_by(|a, b| {
            (a.name.to_ascii_lowercase(), a.id.to_string())
                .cmp(&(b.name.to_ascii_lowercase(), b.id.to_string()))
        });
        Ok(lists)
    }

    fn playlist(&self, id: PlaylistId) -> StorageResult<Option<OwnedPlaylist>> {
        self.playlist_by_id(id)
    }

    fn playlist_owner(&self, id: PlaylistId) -> StorageResult<Option<UserId>> {
        self.owner_of(id)
    }

    fn apply_playlist_ops(&self, user: UserId, ops: &[PlaylistOp], now: i64) -> StorageResult<u64> {
        if ops.is_empty() {
            return Ok(0);
        }
        self.claim_playlists(user, ops)?;
        self.write_home(user, |tx, changes| apply_ops(tx, changes, user, ops, now))
    }

    fn playlist_state(&self, id: PlaylistId) -> StorageResult<Option<PlaylistState>> {
        match self.owner_of(id)? {
            Some(owner) => self.read_home(owner, |tx| state(tx, id)),
            None => Ok(None),
        }
    }

    fn known_playlist_ops(&self, user: UserId, ids: &[OpId]) -> StorageResult<HashSet<OpId>> {
        self.read_home(user, |tx| known_ops(tx, ids))
    }

    fn changes(&self, user: UserId, since: &str, limit: u32) -> StorageResult<ChangesPage> {
        feed::page(self, user, since, limit)
    }
}
