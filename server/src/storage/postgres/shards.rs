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
//! - **Moves** (`shard_moves.rs`, [`PgStore::move_user`]): the old home's residents row is locked `FOR UPDATE`
//!   (writers wait), the user's rows are copied to the new home in one transaction with their
//!   change-feed rows renumbered in order (`shard_moves` keeps the old numbers), the map is
//!   flipped, and the old home's rows are deleted. A device's cursor from before the move is
//!   translated through `shard_moves` (see `feed.rs`), so it sees each change once.
//! - A move cut short leaves `residents.moving_to` set on the old home: writers there then ask
//!   the map itself (not their cache) whether the user still lives there.

use super::shard_moves::delete_user_rows;
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

    pub(super) fn forget(&self, user: UserId) {
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
    pub fn home(&self, user: UserId) -> StorageResult<Home> {
        if let Some(home) = self.shards.cached(user) {
            return Ok(home);
        }
        let home = map_home(&mut *self.primary.get()?, user)?;
        self.shards.remember(user, home);
        Ok(home)
    }

    pub(super) fn home_pool(&self, shard: i32) -> StorageResult<&Pool> {
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
}

fn moved_too_often(user: UserId) -> StorageError {
    StorageError::Config(format!(
        "user #{} moved between shards {FOLLOW_MOVES} times during one request",
        user.0
    ))
}
