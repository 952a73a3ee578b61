//! Moving a user to another home (see `shards.rs` for the protocol): copy under the old home's
//! lock, renumber the feed, flip the map, clear the old home.

use super::PgStore;
use super::shards::{Home, map_home};
use crate::storage::{StorageError, StorageResult};
use mixtape_shared::UserId;
use postgres::Transaction;
use std::collections::BTreeMap;

/// The tables holding a user's data on their home, with the filter that selects one user's
/// rows and the order rows are copied in (keys and foreign keys follow this order).
const USER_TABLES: &[(&str, &str, &str)] = &[
    ("playlists", "owner_id = $1", "id"),
    ("playlist_ops", "user_id = $1", "seq"),
    (
        "playlist_entries",
        "playlist_id IN (SELECT id FROM playlists WHERE owner_id = $1)",
        "playlist_id, id",
    ),
    (
        "playlist_snapshots",
        "playlist_id IN (SELECT playlist_id FROM playlist_ops WHERE user_id = $1)",
        "playlist_id",
    ),
    (
        "playlist_folded_op_ids",
        "playlist_id IN (SELECT playlist_id FROM playlist_ops WHERE user_id = $1)",
        "id",
    ),
    ("play_events", "user_id = $1", "at_ms, id"),
    ("subsonic_stars", "user_id = $1", "kind, item"),
    ("subsonic_ratings", "user_id = $1", "kind, item"),
    ("subsonic_play_queues", "user_id = $1", "user_id"),
    ("subsonic_bookmarks", "user_id = $1", "track_id"),
    ("subsonic_app_passwords", "user_id = $1", "user_id"),
    ("shard_moves", "user_id = $1", "epoch"),
];

/// `pg_advisory_xact_lock` class of a user's move (one move of a user at a time).
const MOVE_LOCK_CLASS: i32 = 0x6d78_6d76;

/// What a move did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MoveReport {
    pub user: i64,
    pub from: String,
    pub to: String,
    /// The placement epoch after the move.
    pub epoch: i32,
    /// Rows copied, per table.
    pub rows: BTreeMap<String, u64>,
}

impl PgStore {
    /// Moves `user`'s data to the shard named `to` ("primary" for the primary). Writes for the
    /// user wait while the rows are copied; reads go on. Nothing is lost if the move stops
    /// part way: the map decides where the user lives, and running the move again finishes it.
    pub fn move_user(&self, user: UserId, to: &str) -> StorageResult<MoveReport> {
        let target = if to == "primary" {
            0
        } else {
            *self
                .shards
                .by_id
                .iter()
                .find(|(_, s)| s.name == to)
                .ok_or_else(|| StorageError::Config(format!("no shard named {to:?}")))?
                .0
        };
        let mut primary = self.primary.get()?;
        let mut map = primary.transaction()?;
        map.execute(
            "SELECT pg_advisory_xact_lock($1, $2)",
            &[&MOVE_LOCK_CLASS, &(user.0 as i32)],
        )?;
        let row = map
            .query_opt(
                "SELECT username, is_admin, created_at FROM users WHERE id = $1",
                &[&user.0],
            )?
            .ok_or_else(|| StorageError::Config(format!("no user #{}", user.0)))?;
        let (username, is_admin, created_at): (String, bool, i64) =
            (row.get(0), row.get(1), row.get(2));
        let from = map_home(&mut map, user)?;
        let mut report = MoveReport {
            user: user.0,
            from: self.shards.name_of(from.shard),
            to: self.shards.name_of(target),
            epoch: from.epoch,
            rows: BTreeMap::new(),
        };
        if from.shard == target {
            // A move cut short after the map flipped: finish the old home's cleanup.
            self.clear_unsettled(user, from)?;
            return Ok(report);
        }
        let epoch = from.epoch + 1;

        // Mark first, in its own commit: if this move stops after the map flips, writers on the
        // old home see the mark and ask the map.
        let mut source_conn = self.home_pool(from.shard)?.get()?;
        source_conn.execute(
            "UPDATE residents SET moving_to = $2 WHERE user_id = $1",
            &[&user.0, &target],
        )?;
        let mut source = source_conn.transaction()?;
        let resident: Option<i32> = source
            .query_opt(
                "SELECT epoch FROM residents WHERE user_id = $1 FOR UPDATE",
                &[&user.0],
            )?
            .map(|r| r.get(0));
        if resident != Some(from.epoch) {
            return Err(StorageError::Corrupt(format!(
                "user #{} is not resident on {} at epoch {}",
                user.0, report.from, from.epoch
            )));
        }

        let mut target_conn = self.home_pool(target)?.get()?;
        let mut dest = target_conn.transaction()?;
        // A copy left by an earlier move that stopped before the map flipped.
        delete_user_rows(&mut dest, user, target != 0)?;
        if target != 0 {
            dest.execute(
                "INSERT INTO users (id, username, password_hash, is_admin, created_at)
                 VALUES ($1, $2, '!', $3, $4) ON CONFLICT (id) DO NOTHING",
                &[&user.0, &username, &is_admin, &created_at],
            )?;
        }
        dest.execute(
            "INSERT INTO residents (user_id, epoch) VALUES ($1, $2)",
            &[&user.0, &epoch],
        )?;
        for (table, filter, order) in USER_TABLES {
            let rows: String = source
                .query_one(
                    &format!(
                        "SELECT coalesce(json_agg(t ORDER BY {order}), '[]')::text
                         FROM {table} t WHERE {filter}"
                    ),
                    &[&user.0],
                )?
                .get(0);
            // playlist_ops' `seq` is the target's own arrival order: new numbers, same order.
            let (into, columns) = if *table == "playlist_ops" {
                let columns = "id, playlist_id, user_id, clock, body, received_at, folded";
                (format!("{table} ({columns})"), columns)
            } else {
                ((*table).to_string(), "*")
            };
            let n = dest.execute(
                &format!(
                    "INSERT INTO {into} SELECT {columns}
                     FROM json_populate_recordset(NULL::{table}, $1::text::json) ORDER BY {order}"
                ),
                &[&rows],
            )?;
            report.rows.insert((*table).to_string(), n);
        }
        // The change feed: the user's rows in their old order, numbered anew on the target.
        let feed: Vec<(String, String, i64, bool)> = source
            .query(
                "SELECT kind, item, seq, deleted FROM changes WHERE user_id = $1 ORDER BY seq",
                &[&user.0],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        let mut changes = super::ChangeSet::default();
        for (kind, item, _, deleted) in &feed {
            let kind = match kind.as_str() {
                "playlist" => "playlist",
                other => return Err(StorageError::Corrupt(format!("user change kind {other}"))),
            };
            changes.push(kind, item.clone(), Some(user), *deleted);
        }
        // Numbered last, as every feed write is (see `changes.rs`).
        let base = changes.record(&mut dest)?.map_or(0, |(first, _)| first - 1);
        let origin: Vec<i64> = feed.iter().map(|(_, _, seq, _)| *seq).collect();
        dest.execute(
            "INSERT INTO shard_moves (user_id, epoch, from_shard, base_seq, origin_seqs, moved_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &user.0,
                &epoch,
                &from.shard,
                &base,
                &origin,
                &super::activity::now_ms(),
            ],
        )?;
        report.rows.insert("changes".into(), feed.len() as u64);
        dest.commit()?;

        map.execute(
            "INSERT INTO user_shards (user_id, shard_id, epoch) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO UPDATE SET shard_id = excluded.shard_id, epoch = excluded.epoch",
            &[&user.0, &target, &epoch],
        )?;
        map.commit()?;

        delete_user_rows(&mut source, user, from.shard != 0)?;
        source.commit()?;
        self.shards.forget(user);
        report.epoch = epoch;
        tracing::info!(user = user.0, from = %report.from, to = %report.to, epoch, "moved a user");
        Ok(report)
    }

    /// After an interrupted move whose map already flipped: any database other than the home
    /// still holding the user is cleared, and the home's mark is lifted.
    fn clear_unsettled(&self, user: UserId, home: Home) -> StorageResult<()> {
        let ids: Vec<i32> = std::iter::once(0)
            .chain(self.shards.by_id.keys().copied())
            .collect();
        for id in ids {
            let mut conn = self.home_pool(id)?.get()?;
            let mut tx = conn.transaction()?;
            if id == home.shard {
                tx.execute(
                    "UPDATE residents SET moving_to = NULL WHERE user_id = $1",
                    &[&user.0],
                )?;
            } else if tx
                .query_opt(
                    "SELECT 1 FROM residents WHERE user_id = $1 FOR UPDATE",
                    &[&user.0],
                )?
                .is_some()
            {
                delete_user_rows(&mut tx, user, id != 0)?;
            }
            tx.commit()?;
        }
        self.shards.forget(user);
        Ok(())
    }
}

/// Deletes one user's rows from the user tables of the database `tx` runs on; `shadow`: the
/// database is a shard, whose credential-less users row goes too.
pub(super) fn delete_user_rows(
    tx: &mut Transaction<'_>,
    user: UserId,
    shadow: bool,
) -> StorageResult<()> {
    // Children before parents: the filters of later tables read the earlier ones.
    for (table, filter, _) in USER_TABLES.iter().rev() {
        if *table == "playlist_ops" || *table == "playlists" {
            continue;
        }
        tx.execute(&format!("DELETE FROM {table} WHERE {filter}"), &[&user.0])?;
    }
    tx.execute("DELETE FROM playlists WHERE owner_id = $1", &[&user.0])?;
    tx.execute("DELETE FROM playlist_ops WHERE user_id = $1", &[&user.0])?;
    tx.execute("DELETE FROM changes WHERE user_id = $1", &[&user.0])?;
    tx.execute("DELETE FROM residents WHERE user_id = $1", &[&user.0])?;
    if shadow {
        tx.execute("DELETE FROM users WHERE id = $1", &[&user.0])?;
    }
    Ok(())
}
