//! User-keyed shards: each user's own data (playlists and their op logs, play events, stars,
//! ratings, the saved play queue, the Subsonic app password, the user's part of the change feed
//! and the recs outbox rows those writes make) lives in one database, the user's *home*: the
//! primary (shard 0) or one of the shard databases given with `--shard NAME=URL`. The catalog,
//! credentials, the recommender's model and the coordination tables stay on the primary.
//!
//! - **The map**: `user_shards` on the primary (no row: the primary, epoch 0), read once per
//!   user per node and cached. A token, API key or Subsonic login names a user on the primary;
//!   the map names the home: no query goes to every shard for one user.
//! - **Residency**: each database's `residents` row says the user lives there, at which
//!   placement epoch. Every user write locks that row `FOR KEY SHARE` before writing, every
//!   user read checks it in the read's snapshot; a node whose cached home is stale (another
//!   node moved the user) finds the row gone or at another epoch, drops the cache entry and
//!   goes to the new home.
//! - **Moves** ([`PgStore::move_user`]): the old home's residents row is locked `FOR UPDATE`
//!   (writers wait), the user's rows are copied to the new home in one transaction with their
//!   change-feed rows renumbered in order (`shard_moves` keeps the old numbers), the map is
//!   flipped, and the old home's rows are deleted. A device's cursor from before the move is
//!   translated through `shard_moves` (see `feed.rs`), so it sees each change once.
//! - A move cut short leaves `residents.moving_to` set on the old home: writers there then ask
//!   the map itself (not their cache) whether the user still lives there.

use super::{PgStore, Pool, pool};
use crate::storage::{StorageError, StorageResult};
use mixtape_shared::UserId;
use postgres::Transaction;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// Where a user's data lives: shard 0 is the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Home {
    pub shard: i32,
    pub epoch: i32,
}

impl Home {
    pub const PRIMARY: Home = Home { shard: 0, epoch: 0 };
}

pub(crate) struct Shard {
    pub(crate) name: String,
    pub(crate) pool: Pool,
}

/// The shard databases this node was given, by registry id, and its cache of users' homes.
#[derive(Default)]
pub(crate) struct Shards {
    pub(crate) by_id: BTreeMap<i32, Shard>,
    homes: Mutex<HashMap<UserId, Home>>,
}

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

impl Shards {
    /// Connects to each `(name, url)`, migrates it and registers it in the primary's
    /// `shards` table; a name registered for another database is refused.
    pub(crate) fn open(
        primary: &Pool,
        shards: &[(String, String)],
        pool_size: u32,
    ) -> StorageResult<Self> {
        let mut by_id = BTreeMap::new();
        let mut conn = primary.get()?;
        let primary_uuid = identity(&mut conn)?;
        for (name, url) in shards {
            if name.is_empty() || name == "primary" {
                return Err(StorageError::Config(format!(
                    "shard name {name:?} is reserved: name shards like `a=postgres://...`"
                )));
            }
            let pool = pool(url, pool_size)?;
            super::migrate(&mut *pool.get()?)?;
            let uuid = identity(&mut *pool.get()?)?;
            if uuid == primary_uuid {
                return Err(StorageError::Config(format!(
                    "shard {name} is the primary database itself"
                )));
            }
            conn.execute(
                "INSERT INTO shards (name, uuid, added_at) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[name, &uuid, &super::activity::now_ms()],
            )?;
            let row = conn.query_opt("SELECT id, uuid FROM shards WHERE name = $1", &[name])?;
            match row {
                Some(r) if r.get::<_, String>(1) == uuid => {
                    by_id.insert(
                        r.get::<_, i32>(0),
                        Shard {
                            name: name.clone(),
                            pool,
                        },
                    );
                }
                _ => {
                    return Err(StorageError::Config(format!(
                        "shard {name}: the cluster registered another database under this \
                         name, or this database under another name"
                    )));
                }
            }
        }
        // Every node must reach every shard: a user placed on one it lacks would be unreachable.
        let registered: Vec<String> = conn
            .query("SELECT name FROM shards ORDER BY id", &[])?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let missing: Vec<&String> = registered
            .iter()
            .filter(|n| !by_id.values().any(|s| &s.name == *n))
            .collect();
        if !missing.is_empty() {
            return Err(StorageError::Config(format!(
                "the cluster has shards {missing:?} this node was not given: pass every shard \
                 with --shard NAME=URL"
            )));
        }
        Ok(Self {
            by_id,
            homes: Mutex::default(),
        })
    }

    fn cached(&self, user: UserId) -> Option<Home> {
        self.homes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&user)
            .copied()
    }

    fn remember(&self, user: UserId, home: Home) {
        let mut homes = self.homes.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: a node serving more users than this re-reads the map now and then.
        if homes.len() >= 100_000 {
            homes.clear();
        }
        homes.insert(user, home);
    }

    fn forget(&self, user: UserId) {
        self.homes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&user);
    }

    pub(crate) fn name_of(&self, shard: i32) -> String {
        match shard {
            0 => "primary".into(),
            id => self
                .by_id
                .get(&id)
                .map_or_else(|| format!("#{id}"), |s| s.name.clone()),
        }
    }
}

fn identity(conn: &mut postgres::Client) -> StorageResult<String> {
    Ok(conn
        .query_one("SELECT uuid FROM shard_identity WHERE id = 1", &[])?
        .get(0))
}

/// The user's home as the map says now (not the cache).
pub(super) fn map_home(c: &mut impl postgres::GenericClient, user: UserId) -> StorageResult<Home> {
    Ok(c.query_opt(
        "SELECT shard_id, epoch FROM user_shards WHERE user_id = $1",
        &[&user.0],
    )?
    .map_or(Home::PRIMARY, |r| Home {
        shard: r.get(0),
        epoch: r.get(1),
    }))
}

/// Whether the user lives in the database `tx` runs on, at `home.epoch`. `lock`: take the
/// residents row `FOR KEY SHARE` (writes), so a move waits for this transaction.
enum Residency {
    Here,
    Elsewhere,
    /// A move of this user was cut short here: the map decides.
    Unsettled(i32),
}

fn residency(
    tx: &mut Transaction<'_>,
    user: UserId,
    home: Home,
    lock: bool,
) -> StorageResult<Residency> {
    let sql = if lock {
        "SELECT epoch, moving_to FROM residents WHERE user_id = $1 FOR KEY SHARE"
    } else {
        "SELECT epoch, moving_to FROM residents WHERE user_id = $1"
    };
    Ok(match tx.query_opt(sql, &[&user.0])? {
        None => Residency::Elsewhere,
        Some(r) => {
            let epoch: i32 = r.get(0);
            let moving: Option<i32> = r.get(1);
            match moving {
                Some(_) => Residency::Unsettled(epoch),
                None if epoch == home.epoch => Residency::Here,
                None => Residency::Elsewhere,
            }
        }
    })
}

/// How often a request follows a moved user before giving up (each try re-reads the map).
const FOLLOW_MOVES: usize = 4;

impl PgStore {
    /// The user's home: cached, else from the map on the primary.
    pub(crate) fn home(&self, user: UserId) -> StorageResult<Home> {
        if let Some(home) = self.shards.cached(user) {
            return Ok(home);
        }
        let home = map_home(&mut *self.primary.get()?, user)?;
        self.shards.remember(user, home);
        Ok(home)
    }

    fn home_pool(&self, shard: i32) -> StorageResult<&Pool> {
        match shard {
            0 => Ok(&self.primary),
            id => self.shards.by_id.get(&id).map(|s| &s.pool).ok_or_else(|| {
                StorageError::Config(format!("shard #{id} is not configured on this node"))
            }),
        }
    }

    /// Whether `tx` (on `home`'s database) holds the user's data; settles an interrupted move
    /// by asking the map.
    fn settle(
        &self,
        tx: &mut Transaction<'_>,
        user: UserId,
        home: Home,
        lock: bool,
    ) -> StorageResult<bool> {
        Ok(match residency(tx, user, home, lock)? {
            Residency::Here => true,
            Residency::Elsewhere => false,
            Residency::Unsettled(epoch) => {
                let now = map_home(&mut *self.primary.get()?, user)?;
                now.shard == home.shard && now.epoch == epoch && epoch == home.epoch
            }
        })
    }

    /// One write transaction on the user's home (see [`PgStore::write`] for the change
    /// sequences); follows the user to a new home if they were moved.
    pub(crate) fn write_home<T>(
        &self,
        user: UserId,
        f: impl FnOnce(&mut Transaction<'_>, &mut super::ChangeSet) -> StorageResult<T>,
    ) -> StorageResult<T> {
        let mut f = Some(f);
        for _ in 0..FOLLOW_MOVES {
            let home = self.home(user)?;
            let write = |tx: &mut Transaction<'_>, changes: &mut super::ChangeSet| {
                if !self.settle(tx, user, home, true)? {
                    return Ok(None);
                }
                Ok(Some((f.take().expect("runs once"))(tx, changes)?))
            };
            let out = if home.shard == 0 {
                self.write(Some(user), write)?
            } else {
                let mut conn = self.home_pool(home.shard)?.get()?;
                super::write_on(&mut conn, self.commit_delay, write)?
            };
            match out {
                Some(out) => return Ok(out),
                None => self.shards.forget(user),
            }
        }
        Err(moved_too_often(user))
    }

    /// Reads the user's data in one REPEATABLE READ snapshot of their home (a replica of the
    /// primary when it has the user's last write, as [`PgStore::read_user`]).
    pub(crate) fn read_home<T>(
        &self,
        user: UserId,
        f: impl FnOnce(&mut Transaction<'_>) -> StorageResult<T>,
    ) -> StorageResult<T> {
        self.read_home_at(user, |tx, _| f(tx))
    }

    /// [`PgStore::read_home`], telling `f` which home it reads.
    pub(crate) fn read_home_at<T>(
        &self,
        user: UserId,
        f: impl FnOnce(&mut Transaction<'_>, Home) -> StorageResult<T>,
    ) -> StorageResult<T> {
        let mut f = Some(f);
        for _ in 0..FOLLOW_MOVES {
            let home = self.home(user)?;
            let mut run = |c: &mut postgres::Client| -> StorageResult<Option<T>> {
                let mut tx = c
                    .build_transaction()
                    .isolation_level(postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()?;
                if !self.settle(&mut tx, user, home, false)? {
                    return Ok(None);
                }
                let out = (f.take().expect("runs once"))(&mut tx, home)?;
                tx.commit()?;
                Ok(Some(out))
            };
            let out = if home.shard == 0 {
                self.read_user(user, |c| run(c))?
            } else {
                run(&mut *self.home_pool(home.shard)?.get()?)?
            };
            match out {
                Some(out) => return Ok(out),
                None => self.shards.forget(user),
            }
        }
        Err(moved_too_often(user))
    }

    /// Runs `f` on every home database (the primary first), for work that is not one user's:
    /// the recs outbox, the scanner's playlist touches, rebuilds and admin counts.
    pub(crate) fn each_home<T>(
        &self,
        mut f: impl FnMut(i32, &mut postgres::Client) -> StorageResult<T>,
    ) -> StorageResult<Vec<T>> {
        let mut out = vec![f(0, &mut *self.primary.get()?)?];
        for (id, shard) in &self.shards.by_id {
            out.push(f(*id, &mut *shard.pool.get()?)?);
        }
        Ok(out)
    }

    /// A connection to one home database.
    pub(crate) fn home_connection(
        &self,
        shard: i32,
    ) -> StorageResult<
        r2d2::PooledConnection<r2d2_postgres::PostgresConnectionManager<postgres::NoTls>>,
    > {
        Ok(self.home_pool(shard)?.get()?)
    }

    /// The shard databases' ids (the primary, 0, not among them).
    pub(crate) fn shard_ids(&self) -> Vec<i32> {
        self.shards.by_id.keys().copied().collect()
    }

    pub(crate) fn is_sharded(&self) -> bool {
        !self.shards.by_id.is_empty()
    }

    /// The home a new user gets: the shard with the fewest users (the primary when there are
    /// no shards).
    pub(crate) fn place_new_user(
        &self,
        c: &mut impl postgres::GenericClient,
    ) -> StorageResult<i32> {
        if !self.is_sharded() {
            return Ok(0);
        }
        let counts: HashMap<i32, i64> = c
            .query(
                "SELECT shard_id, count(*) FROM user_shards GROUP BY shard_id",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        Ok(self
            .shards
            .by_id
            .keys()
            .min_by_key(|id| (counts.get(id).copied().unwrap_or(0), **id))
            .copied()
            .unwrap_or(0))
    }

    /// Makes `shard` the home of new user `user` (before the primary commits the user): on a
    /// shard, the user's row that its tables' foreign keys need, without credentials.
    pub(crate) fn settle_new_user(
        &self,
        shard: i32,
        user: UserId,
        username: &str,
        is_admin: bool,
        created_at: i64,
    ) -> StorageResult<()> {
        let mut conn = self.home_pool(shard)?.get()?;
        let mut tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO users (id, username, password_hash, is_admin, created_at)
             VALUES ($1, $2, '!', $3, $4) ON CONFLICT (id) DO NOTHING",
            &[&user.0, &username, &is_admin, &created_at],
        )?;
        tx.execute(
            "INSERT INTO residents (user_id, epoch) VALUES ($1, 0) ON CONFLICT (user_id) DO NOTHING",
            &[&user.0],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes a user's data on their home (a shard: its credential-less users row too).
    pub(crate) fn delete_home_data(&self, user: UserId) -> StorageResult<()> {
        let home = self.home(user)?;
        if home.shard == 0 {
            return Ok(());
        }
        let mut conn = self.home_pool(home.shard)?.get()?;
        let mut tx = conn.transaction()?;
        delete_user_rows(&mut tx, user, true)?;
        tx.commit()?;
        self.shards.forget(user);
        Ok(())
    }

    /// The shard names this node knows, the primary first, with how many users live on each.
    pub fn shard_loads(&self) -> StorageResult<Vec<(String, u64)>> {
        let mut conn = self.primary.get()?;
        let counts: HashMap<i32, i64> = conn
            .query(
                "SELECT coalesce(s.shard_id, 0), count(*) FROM users u
                 LEFT JOIN user_shards s ON s.user_id = u.id GROUP BY 1",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let mut out = vec![(
            "primary".to_string(),
            counts.get(&0).copied().unwrap_or(0) as u64,
        )];
        for (id, shard) in &self.shards.by_id {
            out.push((
                shard.name.clone(),
                counts.get(id).copied().unwrap_or(0) as u64,
            ));
        }
        Ok(out)
    }

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
fn delete_user_rows(tx: &mut Transaction<'_>, user: UserId, shadow: bool) -> StorageResult<()> {
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

fn moved_too_often(user: UserId) -> StorageError {
    StorageError::Config(format!(
        "user #{} moved between shards {FOLLOW_MOVES} times during one request",
        user.0
    ))
}
