//! The scale-out backend: a PostgreSQL primary, optional streaming read replicas, shared by any
//! number of server nodes.
//!
//! Where each read goes (`routing`): credential checks and the recs queue to the primary; catalog
//! reads to a replica that has replayed at least the catalog generation this node knows; a
//! user's own reads to a replica only once it has replayed that user's last write (its commit
//! LSN, kept in [`WriteMarks`]), otherwise to the primary. A replica that is down or lags past
//! the bound is skipped.
//!
//! The change feed keeps SQLite's invariant (every change with a sequence at or below a page's
//! `revision` is visible) without SQLite's single writer: a transaction allocates its block of
//! sequence numbers from one counter row as its last statement ([`ChangeSet::record`]), so the
//! row lock orders commits exactly as it orders sequences.

mod accounts;
mod activity;
mod album_list;
mod bookmarks;
mod catalog;
mod catalog_pages;
mod catalog_rows;
mod changes;
mod feed;
mod idempotency;
#[cfg(test)]
mod lease_tests;
mod leases;
mod playlists;
pub(crate) mod queue;
mod recs;
mod routing;
mod scan;
pub mod scratch;
mod search;
mod shard_moves;
#[cfg(test)]
mod shard_tests;
mod shards;

pub use changes::ChangeSet;
pub use routing::{LocalWriteMarks, WriteMarks};
pub use shard_moves::MoveReport;
pub use shards::Home;

use super::{StorageError, StorageResult};
use mixtape_shared::UserId;
use postgres::{Client, NoTls, Transaction};
use r2d2_postgres::PostgresConnectionManager;
use routing::Replica;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub(crate) type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// The schema, applied as one migration step per entry under an advisory lock. Each domain owns
/// its part; the order follows the foreign keys.
const MIGRATIONS: &[&[&str]] = &[
    &[
        include_str!("schema/base.sql"),
        include_str!("schema/accounts.sql"),
        include_str!("schema/catalog.sql"),
        include_str!("schema/playlists.sql"),
        include_str!("schema/activity.sql"),
        include_str!("schema/recs.sql"),
        include_str!("schema/coordination.sql"),
    ],
    // Remembered answers of requests sent with an Idempotency-Key.
    &[include_str!("schema/idempotency.sql")],
    // User-keyed shards: the map, residency, playlist owners, moves.
    &[include_str!("schema/shards.sql")],
    // Lyrics, embedded and from .lrc sidecars (catalog data, on the primary).
    &[include_str!("schema/lyrics.sql")],
    // Bookmarks, and the index "now playing" reads play events by.
    &[include_str!("schema/bookmarks.sql")],
    // The batch-trained recommender's stored versions (on the primary).
    &[include_str!("schema/recs_models.sql")],
    // Per-user stream limits, set by an admin.
    &[include_str!("schema/user_limits.sql")],
    // The search rows without the trigram indexes and vocabulary nothing reads.
    &[include_str!("schema/search_rows.sql")],
];

/// `pg_advisory_lock` key held while migrating (and creating the first admin).
pub const MIGRATION_LOCK: i64 = 0x6d69_7874_0001;

/// How a [`PgStore`] connects.
#[derive(Debug, Clone)]
pub struct PgOptions {
    pub primary_url: String,
    pub replica_urls: Vec<String>,
    /// Connections per pool (the primary's, and each replica's).
    pub pool_size: u32,
    /// A replica further behind the primary than this many WAL bytes is skipped.
    pub max_replica_lag_bytes: u64,
    /// Test hook: sleep this long between allocating change sequences and committing, so tests
    /// can make commits land out of allocation order (they must not).
    pub commit_delay: Option<Duration>,
    /// User-keyed shards, `(name, url)`: where users' own data lives (`shards.rs`). Every node
    /// of a cluster is given all of them.
    pub shards: Vec<(String, String)>,
}

impl PgOptions {
    pub fn new(primary_url: impl Into<String>) -> Self {
        Self {
            primary_url: primary_url.into(),
            replica_urls: Vec::new(),
            pool_size: 16,
            max_replica_lag_bytes: 16 << 20,
            commit_delay: None,
            shards: Vec::new(),
        }
    }
}

pub struct PgStore {
    primary: Pool,
    replicas: Vec<Arc<Replica>>,
    /// The highest catalog generation this node has seen committed (`meta.catalog_gen`).
    generation: Arc<AtomicU64>,
    marks: Arc<dyn WriteMarks>,
    commit_delay: Option<Duration>,
    max_replica_lag_bytes: u64,
    shards: shards::Shards,
    /// Where the next queue fetch or outbox relay starts among the homes (`queue.rs`).
    next_home: std::sync::atomic::AtomicUsize,
    /// The in-memory search index, rebuilt when the generation moves.
    search_index: crate::storage::search_index::SearchCache,
    /// Stops the background threads (generation poll, replica monitor) when dropped.
    _stop: crossbeam_channel::Sender<()>,
}

fn pool(url: &str, size: u32) -> StorageResult<Pool> {
    let config: postgres::Config = url
        .parse()
        .map_err(|e: postgres::Error| StorageError::Config(format!("bad database URL: {e}")))?;
    let manager = PostgresConnectionManager::new(config, NoTls);
    Ok(r2d2::Pool::builder()
        .max_size(size.max(2))
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(10))
        .build(manager)?)
}

impl PgStore {
    /// Connects, migrates (one node at a time) and starts watching the catalog generation and
    /// the replicas. `marks` is where users' last write positions are shared between nodes;
    /// without a shared one ([`LocalWriteMarks::unshared`]) user reads never go to a replica.
    pub fn open(options: &PgOptions, marks: Arc<dyn WriteMarks>) -> StorageResult<Self> {
        let primary = pool(&options.primary_url, options.pool_size)?;
        migrate(&mut *primary.get()?)?;
        let shards = shards::Shards::open(&primary, &options.shards, options.pool_size)?;
        let mut replicas = Vec::new();
        for url in &options.replica_urls {
            // A replica that is down at start is still added: the monitor notices it coming up.
            let pool = r2d2::Pool::builder()
                .max_size(options.pool_size.max(2))
                .min_idle(Some(0))
                .connection_timeout(Duration::from_secs(2))
                .build_unchecked(PostgresConnectionManager::new(
                    url.parse().map_err(|e: postgres::Error| {
                        StorageError::Config(format!("bad read replica URL: {e}"))
                    })?,
                    NoTls,
                ));
            replicas.push(Arc::new(Replica::new(routing::redact(url), pool)));
        }
        let generation = Arc::new(AtomicU64::new(read_generation(&mut *primary.get()?)?));
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        routing::spawn_monitor(
            primary.clone(),
            replicas.clone(),
            generation.clone(),
            stopped,
        );
        Ok(Self {
            primary,
            replicas,
            generation,
            marks,
            commit_delay: options.commit_delay,
            max_replica_lag_bytes: options.max_replica_lag_bytes,
            shards,
            next_home: Default::default(),
            search_index: Default::default(),
            _stop: stop,
        })
    }

    /// A connection to the primary, for work that must hold it (leases).
    pub(crate) fn primary_connection(
        &self,
    ) -> StorageResult<r2d2::PooledConnection<PostgresConnectionManager<NoTls>>> {
        Ok(self.primary.get()?)
    }

    /// Runs `f` in one transaction on the primary; the changes it records get their sequence
    /// numbers as the transaction's last statement. `user`: whose write it is, so that user's
    /// next reads wait for a replica that has replayed it.
    pub(crate) fn write<T>(
        &self,
        user: Option<UserId>,
        f: impl FnOnce(&mut Transaction<'_>, &mut ChangeSet) -> StorageResult<T>,
    ) -> StorageResult<T> {
        let mut conn = self.primary.get()?;
        let out = write_on(&mut conn, self.commit_delay, f)?;
        if let Some(user) = user
            && !self.replicas.is_empty()
        {
            let lsn: String = conn
                .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])?
                .get(0);
            if let Some(lsn) = routing::parse_lsn(&lsn) {
                self.marks.mark(user, lsn);
            }
        }
        Ok(out)
    }

    /// Reads from the primary: credentials, and anything that must see the latest commit.
    pub(crate) fn read_primary<T>(
        &self,
        f: impl FnOnce(&mut Client) -> StorageResult<T>,
    ) -> StorageResult<T> {
        f(&mut *self.primary.get()?)
    }

    /// Reads catalog data: from a replica that has the catalog generation this node knows (read
    /// in the same snapshot as the rows), else from the primary.
    pub(crate) fn read_catalog<T>(
        &self,
        f: impl FnOnce(&mut Transaction<'_>) -> StorageResult<T>,
    ) -> StorageResult<T> {
        let known = self.generation.load(Ordering::SeqCst);
        let mut f = Some(f);
        for replica in self.usable_replicas(0) {
            let Ok(mut conn) = replica.pool.get() else {
                replica.mark_down();
                continue;
            };
            let Ok(mut tx) = conn
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
            else {
                replica.mark_down();
                continue;
            };
            let Ok(generation) = read_generation(&mut tx) else {
                replica.mark_down();
                continue;
            };
            if generation < known {
                metrics::counter!("mixtape_replica_stale_reads_total").increment(1);
                continue;
            }
            let out = (f.take().expect("runs once"))(&mut tx)?;
            tx.commit()?;
            return Ok(out);
        }
        let mut conn = self.primary.get()?;
        let mut tx = conn
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let generation = read_generation(&mut tx)?;
        self.generation.fetch_max(generation, Ordering::SeqCst);
        let out = (f.take().expect("runs once"))(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Reads one user's data: from a replica only if it has replayed the user's last write.
    pub(crate) fn read_user<T>(
        &self,
        user: UserId,
        f: impl FnOnce(&mut Client) -> StorageResult<T>,
    ) -> StorageResult<T> {
        if self.marks.is_shared() {
            let needed = self.marks.last_write(user).unwrap_or(0);
            for replica in self.usable_replicas(needed) {
                if let Ok(mut conn) = replica.pool.get() {
                    return f(&mut conn);
                }
                replica.mark_down();
            }
        }
        f(&mut *self.primary.get()?)
    }

    /// Replicas that are up, within the lag bound, and have replayed at least `lsn`.
    fn usable_replicas(&self, lsn: u64) -> impl Iterator<Item = &Arc<Replica>> {
        self.replicas
            .iter()
            .filter(move |r| r.usable(lsn, self.max_replica_lag_bytes))
    }

    /// Records that a catalog write committed at `generation`.
    pub(crate) fn saw_generation(&self, generation: u64) {
        self.generation.fetch_max(generation, Ordering::SeqCst);
    }

    pub(crate) fn known_generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Primary pool size and idle connections.
    pub(crate) fn primary_pool_stats(&self) -> (u32, u32) {
        let s = self.primary.state();
        (s.connections, s.idle_connections)
    }
}

/// One write transaction on `conn` (see [`PgStore::write`]); also used on a lease's own
/// connection, so a lost lease cannot commit.
pub(crate) fn write_on<T>(
    conn: &mut Client,
    commit_delay: Option<Duration>,
    f: impl FnOnce(&mut Transaction<'_>, &mut ChangeSet) -> StorageResult<T>,
) -> StorageResult<T> {
    let mut tx = conn.transaction()?;
    let mut changes = ChangeSet::default();
    let out = f(&mut tx, &mut changes)?;
    if changes.record(&mut tx)?.is_some()
        && let Some(delay) = commit_delay
    {
        std::thread::sleep(delay);
    }
    tx.commit()?;
    Ok(out)
}

/// `meta.catalog_gen`: bumped by every catalog-changing transaction.
pub(crate) fn read_generation(conn: &mut impl postgres::GenericClient) -> StorageResult<u64> {
    // Typed: one round trip (every catalog read starts with this).
    let row = conn
        .query_typed_opt("SELECT value FROM meta WHERE key = 'catalog_gen'", &[])?
        .ok_or_else(|| StorageError::Corrupt("meta.catalog_gen is missing".into()))?;
    Ok(row.try_get::<_, i64>(0)? as u64)
}

/// Bumps `meta.catalog_gen` inside a catalog-changing transaction; returns the new value.
pub(crate) fn bump_generation(tx: &mut Transaction<'_>) -> StorageResult<u64> {
    let row = tx.query_one(
        "UPDATE meta SET value = value + 1 WHERE key = 'catalog_gen' RETURNING value",
        &[],
    )?;
    Ok(row.get::<_, i64>(0) as u64)
}

fn migrate(conn: &mut Client) -> StorageResult<()> {
    conn.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
    let result = run_migrations(conn);
    let unlocked = conn.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    result?;
    unlocked?;
    Ok(())
}

fn run_migrations(conn: &mut Client) -> StorageResult<()> {
    conn.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
         INSERT INTO schema_version (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM schema_version);",
    )?;
    let version = conn
        .query_one("SELECT version FROM schema_version", &[])?
        .get::<_, i32>(0) as usize;
    if version > MIGRATIONS.len() {
        return Err(StorageError::Migration(format!(
            "database schema version {version} is newer than this server ({}): upgrade mixtape-server",
            MIGRATIONS.len()
        )));
    }
    for (i, parts) in MIGRATIONS.iter().enumerate().skip(version) {
        let step = |e: postgres::Error| StorageError::Migration(format!("step {}: {e}", i + 1));
        let mut tx = conn.transaction()?;
        for sql in *parts {
            tx.batch_execute(sql).map_err(step)?;
        }
        tx.execute(
            "UPDATE schema_version SET version = $1",
            &[&((i + 1) as i32)],
        )
        .map_err(step)?;
        tx.commit()?;
    }
    Ok(())
}
