//! The embedded backend: one SQLite file in WAL mode, one writer connection behind a mutex and a
//! pool of readers, so reads never wait for a scan's write batches.

mod bookmarks;
mod catalog;
mod changes;
mod events;
#[cfg(test)]
mod id_tests;
mod idempotency;
mod leases;
mod playlists;
mod queue;
mod recs;
mod recs_models;
mod scan;
mod subsonic;
mod users;

use super::search_index::{self, SearchCache};
use super::*;
use mixtape_shared::api::{
    Album, AlbumDetail, ApiKey, Artist, ArtistDetail, ChangesPage, Genre, Lyrics, Page, PlayEvent,
    PlaylistDetail, SearchResults, Track, User,
};
use mixtape_shared::search::clean_query;
use mixtape_shared::sync::PlaylistOp;
use mixtape_shared::{PlaylistId, TrackId, UserId};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Migrations in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    include_str!("schema_v1.sql"),
    include_str!("schema_v2.sql"),
    include_str!("schema_v3.sql"),
    include_str!("schema_v4.sql"),
    include_str!("schema_v5.sql"),
    include_str!("schema_v6.sql"),
    include_str!("schema_v7.sql"),
    include_str!("schema_v8.sql"),
    include_str!("schema_v9.sql"),
    include_str!("schema_v10.sql"),
    include_str!("schema_v11.sql"),
    include_str!("schema_v12.sql"),
];

/// Separates multi-valued fields stored in one column (unit separator, never in tags).
pub(crate) const SEP: char = '\u{1f}';

pub struct SqliteStore {
    writer: Mutex<Connection>,
    readers: r2d2::Pool<SqliteConnectionManager>,
    /// Bumped after every committed catalog write (see `Store::catalog_generation`).
    catalog_generation: AtomicU64,
    /// The in-memory search index, rebuilt when the generation moves.
    search_index: SearchCache,
}

/// Pages in the write-ahead log before the writer copies them into the database (40 MiB).
const WAL_CHECKPOINT_PAGES: i64 = 10_000;
/// What the log file keeps of its size once checkpointed.
const WAL_KEPT_BYTES: i64 = 16 * 1024 * 1024;

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", -16_000)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // The scanner's batch uses a few dozen distinct statements; re-preparing them dominated.
    conn.set_prepared_statement_cache_capacity(128);
    Ok(())
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the database at `path`.
    pub fn open(path: &Path, readers: u32) -> StorageResult<Self> {
        let mut writer = Connection::open(path)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        // A checkpoint copies each page once however often the log holds it: at the default
        // 1,000 pages, a first scan rewrote the same index pages checkpoint after checkpoint
        // (12 % of the writer's time). The log is cut back to `journal_size_limit` after.
        writer.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)?;
        writer.pragma_update(None, "journal_size_limit", WAL_KEPT_BYTES)?;
        configure(&writer)?;
        migrate(&mut writer)?;
        writer.execute_batch(scan::STAGING)?;
        let manager = SqliteConnectionManager::file(path)
            .with_flags(
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )
            .with_init(|c| {
                configure(c)?;
                c.pragma_update(None, "query_only", "ON")
            });
        let readers = r2d2::Pool::builder()
            .max_size(readers.max(1))
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .build(manager)?;
        Ok(Self {
            writer: Mutex::new(writer),
            readers,
            catalog_generation: AtomicU64::new(0),
            search_index: SearchCache::default(),
        })
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> StorageResult<T>) -> StorageResult<T> {
        let conn = self.readers.get()?;
        f(&conn)
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> StorageResult<T>,
    ) -> StorageResult<T> {
        // A poisoned lock only means another writer panicked mid-call; SQLite rolled that
        // transaction back, so the connection is still sound.
        let mut conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

fn migrate(conn: &mut Connection) -> StorageResult<()> {
    let version: usize =
        conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))? as usize;
    if version > MIGRATIONS.len() {
        return Err(StorageError::Migration(format!(
            "database schema version {version} is newer than this server ({}): upgrade mixtape-server",
            MIGRATIONS.len()
        )));
    }
    if version == MIGRATIONS.len() {
        return Ok(());
    }
    // Table rebuilds (v4) drop and recreate tables others reference: with foreign keys on, the
    // drop would cascade. The pragma is a no-op inside a transaction, so it is switched here and
    // each step checks the keys itself before it commits (SQLite's documented procedure).
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let result = run_migrations(conn, version);
    conn.pragma_update(None, "foreign_keys", "ON")?;
    result
}

fn run_migrations(conn: &mut Connection, version: usize) -> StorageResult<()> {
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let step = |e: rusqlite::Error| StorageError::Migration(format!("step {}: {e}", i + 1));
        let tx = conn.transaction()?;
        tx.execute_batch(sql).map_err(step)?;
        let dangling: i64 = tx
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .map_err(step)?;
        if dangling > 0 {
            return Err(StorageError::Migration(format!(
                "step {}: {dangling} rows break a foreign key",
                i + 1
            )));
        }
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// Bumps the global change sequence and records that `item` changed (or was deleted).
pub(crate) fn record_change(
    tx: &Connection,
    kind: &str,
    item: &str,
    user: Option<UserId>,
    deleted: bool,
) -> StorageResult<i64> {
    let seq: i64 = tx
        .prepare_cached(
            "UPDATE meta SET value = value + 1 WHERE key = 'change_seq' RETURNING value",
        )?
        .query_row([], |r| r.get(0))?;
    tx.prepare_cached(
        "INSERT INTO changes (kind, item, user_id, seq, deleted) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (kind, item) DO UPDATE SET seq = excluded.seq, deleted = excluded.deleted, user_id = excluded.user_id",
    )?
    .execute(rusqlite::params![kind, item, user.map(|u| u.0), seq, deleted])?;
    Ok(seq)
}

/// One change to record, in the order of a batch.
pub(crate) struct Change {
    pub kind: &'static str,
    pub item: String,
    pub user: Option<UserId>,
    pub deleted: bool,
}

/// Records `changes` in order, as many `record_change` calls would, with one update of the
/// sequence for all of them (a scan batch records one change per track).
pub(crate) fn record_changes(tx: &Connection, changes: &[Change]) -> StorageResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let last: i64 = tx
        .prepare_cached(
            "UPDATE meta SET value = value + ?1 WHERE key = 'change_seq' RETURNING value",
        )?
        .query_row([changes.len() as i64], |r| r.get(0))?;
    let first = last - changes.len() as i64 + 1;
    let mut insert = tx.prepare_cached(
        "INSERT INTO changes (kind, item, user_id, seq, deleted) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (kind, item) DO UPDATE SET seq = excluded.seq, deleted = excluded.deleted, user_id = excluded.user_id",
    )?;
    for (seq, change) in (first..).zip(changes) {
        insert.execute(rusqlite::params![
            change.kind,
            change.item,
            change.user.map(|u| u.0),
            seq,
            change.deleted
        ])?;
    }
    Ok(())
}

impl CatalogStore for SqliteStore {
    fn catalog_generation(&self) -> u64 {
        self.catalog_generation.load(Ordering::SeqCst)
    }
    fn list_tracks(&self, page: &PageRequest<TrackSort>) -> StorageResult<Page<Track>> {
        self.read(|c| catalog::list_tracks(c, page))
    }
    fn track(&self, id: TrackId) -> StorageResult<Option<Track>> {
        self.read(|c| Ok(catalog::tracks_by_ids(c, &[id])?.pop()))
    }
    fn tracks_by_ids(&self, ids: &[TrackId]) -> StorageResult<Vec<Track>> {
        self.read(|c| catalog::tracks_by_ids(c, ids))
    }
    fn track_file(&self, id: TrackId) -> StorageResult<Option<TrackFile>> {
        self.read(|c| catalog::track_file_where(c, "id = ?1", id.0))
    }
    fn track_lyrics(&self, id: TrackId) -> StorageResult<Option<Lyrics>> {
        self.read(|c| {
            c.prepare_cached("SELECT lyrics FROM track_lyrics WHERE track_id = ?1")?
                .query_row([id.0], |r| r.get::<_, String>(0))
                .optional()?
                .map(|json| crate::storage::lyrics_from_json(id, &json))
                .transpose()
        })
    }
    fn track_file_by_hash(&self, content_hash: &str) -> StorageResult<Option<TrackFile>> {
        self.read(|c| catalog::track_file_where(c, "content_hash = ?1", content_hash))
    }
    fn track_ids_by_paths(&self, paths: &[String]) -> StorageResult<HashMap<String, TrackId>> {
        self.read(|c| catalog::track_ids_by_paths(c, paths))
    }
    fn list_albums(&self, page: &PageRequest<AlbumSort>) -> StorageResult<Page<Album>> {
        self.read(|c| catalog::list_albums(c, page))
    }
    fn album(&self, id: mixtape_shared::AlbumId) -> StorageResult<Option<AlbumDetail>> {
        self.read(|c| catalog::album(c, id))
    }
    fn list_artists(&self, page: &PageRequest<ArtistSort>) -> StorageResult<Page<Artist>> {
        self.read(|c| catalog::list_artists(c, page))
    }
    fn artist(&self, id: mixtape_shared::ArtistId) -> StorageResult<Option<ArtistDetail>> {
        self.read(|c| catalog::artist(c, id))
    }
    fn genres(&self) -> StorageResult<Vec<Genre>> {
        self.read(catalog::genres)
    }
    fn search(&self, query: &str, limit: u32) -> StorageResult<SearchResults> {
        let q = clean_query(query);
        if q.is_empty() {
            return Ok(search_index::nothing());
        }
        let found = if search_index::is_short(&q) {
            self.read(|c| catalog::short_search(c, &q, limit))?
        } else {
            let generation = self.catalog_generation();
            self.search_index
                .search(generation, &q, limit as usize, || {
                    self.read(catalog::search_docs)
                })?
        };
        self.read(|c| catalog::search_results(c, &found))
    }
    fn art(&self, hash: &str) -> StorageResult<Option<StoredArt>> {
        self.read(|c| catalog::art(c, hash))
    }
    fn track_count(&self) -> StorageResult<u64> {
        self.read(|c| {
            Ok(c.query_row("SELECT count(*) FROM tracks", [], |r| r.get::<_, i64>(0))? as u64)
        })
    }
    fn pool_stats(&self) -> Option<(u32, u32)> {
        let s = self.readers.state();
        Some((s.connections, s.idle_connections))
    }
    fn indexed_files(&self) -> StorageResult<HashMap<String, IndexedFile>> {
        self.read(scan::indexed_files)
    }
    fn apply_scan_batch(&self, writes: Vec<ScanWrite>) -> StorageResult<BatchOutcome> {
        let outcome = self.write(|tx| scan::apply_batch(tx, writes));
        self.catalog_generation.fetch_add(1, Ordering::SeqCst);
        outcome
    }
    fn prune_orphans(&self) -> StorageResult<()> {
        let pruned = self.write(scan::prune_orphans);
        self.catalog_generation.fetch_add(1, Ordering::SeqCst);
        pruned
    }
    fn unavailable_track_count(&self) -> StorageResult<u64> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT count(*) FROM tracks WHERE available = 0", [], |r| {
                    r.get::<_, i64>(0)
                })? as u64,
            )
        })
    }
    fn existing_track_ids(&self, ids: &[TrackId]) -> StorageResult<Vec<TrackId>> {
        self.read(|c| catalog::existing_track_ids(c, ids))
    }
    fn track_list(&self, query: &TrackQuery, offset: u32, count: u32) -> StorageResult<Vec<Track>> {
        self.read(|c| subsonic::track_list(c, query, offset, count))
    }
    fn artist_page(&self, offset: u32, count: u32) -> StorageResult<Vec<Artist>> {
        self.read(|c| subsonic::artist_page(c, offset, count))
    }
    fn artist_by_name(&self, name: &str) -> StorageResult<Option<Artist>> {
        let folded = crate::catalog::fold(name);
        self.read(|c| subsonic::artist_by_name(c, &folded))
    }
}

impl AccountStore for SqliteStore {
    fn user_count(&self) -> StorageResult<u64> {
        self.read(|c| {
            Ok(c.query_row("SELECT count(*) FROM users", [], |r| r.get::<_, i64>(0))? as u64)
        })
    }
    fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> StorageResult<User> {
        self.write(|tx| users::create_user(tx, username, password_hash, is_admin))
    }
    fn user_by_name(&self, username: &str) -> StorageResult<Option<StoredUser>> {
        self.read(|c| users::user_where(c, "username = ?1", username))
    }
    fn user_by_id(&self, id: UserId) -> StorageResult<Option<StoredUser>> {
        self.read(|c| users::user_where(c, "id = ?1", id.0))
    }
    fn list_users(&self) -> StorageResult<Vec<User>> {
        self.read(users::list_users)
    }
    fn delete_user(&self, id: UserId) -> StorageResult<bool> {
        self.write(|tx| users::delete_user(tx, id))
    }
    fn set_max_bitrate(&self, id: UserId, kbps: Option<u32>) -> StorageResult<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE users SET max_bitrate_kbps = ?2 WHERE id = ?1",
                rusqlite::params![id.0, kbps],
            )? > 0)
        })
    }
    fn set_password(&self, id: UserId, password_hash: &str) -> StorageResult<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                rusqlite::params![id.0, password_hash],
            )? > 0)
        })
    }
    fn insert_token(
        &self,
        user: UserId,
        token_hash: &str,
        created_at: i64,
        expires_at: i64,
    ) -> StorageResult<()> {
        self.write(|tx| {
            // Expired tokens are swept here rather than by a timer: logins are rare and cheap.
            tx.execute("DELETE FROM tokens WHERE expires_at <= ?1", [created_at])?;
            tx.execute(
                "INSERT INTO tokens (hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![token_hash, user.0, created_at, expires_at],
            )?;
            Ok(())
        })
    }
    fn token(&self, token_hash: &str, now: i64) -> StorageResult<Option<Credential>> {
        self.read(|c| users::token(c, token_hash, now))
    }
    fn revoke_token(&self, token_hash: &str) -> StorageResult<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM tokens WHERE hash = ?1", [token_hash])? > 0))
    }
    fn revoke_user_tokens(&self, user: UserId) -> StorageResult<u64> {
        self.write(|tx| Ok(tx.execute("DELETE FROM tokens WHERE user_id = ?1", [user.0])? as u64))
    }
    fn change_password(
        &self,
        id: UserId,
        password_hash: &str,
        revoke_all: bool,
    ) -> StorageResult<bool> {
        self.write(|tx| users::change_password(tx, id, password_hash, revoke_all))
    }
    fn insert_api_key(
        &self,
        user: UserId,
        name: &str,
        key_hash: &str,
        now: i64,
    ) -> StorageResult<ApiKey> {
        self.write(|tx| users::insert_api_key(tx, user, name, key_hash, now))
    }
    fn api_key(&self, key_hash: &str, now: i64) -> StorageResult<Option<Credential>> {
        // Recording last use needs the writer; it is skipped when the writer is busy with a scan.
        let found = self.read(|c| users::api_key(c, key_hash))?;
        if found.is_some()
            && let Ok(conn) = self.writer.try_lock()
        {
            let _ = conn.execute(
                "UPDATE api_keys SET last_used_at = ?2 WHERE hash = ?1",
                rusqlite::params![key_hash, now],
            );
        }
        Ok(found)
    }
    fn list_api_keys(&self, user: UserId) -> StorageResult<Vec<ApiKey>> {
        self.read(|c| users::list_api_keys(c, user))
    }
    fn delete_api_key(&self, user: UserId, id: i64) -> StorageResult<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM api_keys WHERE id = ?1 AND user_id = ?2",
                [id, user.0],
            )? > 0)
        })
    }
    fn subsonic_app_password(&self, user: UserId) -> StorageResult<Option<SealedSecret>> {
        self.read(|c| subsonic::app_password(c, user))
    }
    fn sealed_app_password_count(&self) -> StorageResult<u64> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT count(*) FROM subsonic_app_passwords", [], |r| {
                    r.get::<_, i64>(0)
                })? as u64,
            )
        })
    }
    fn set_subsonic_app_password(
        &self,
        user: UserId,
        sealed: Option<&SealedSecret>,
        now: i64,
    ) -> StorageResult<()> {
        self.write(|tx| subsonic::set_app_password(tx, user, sealed, now))
    }
}

impl PlaylistStore for SqliteStore {
    fn playlists_visible_to(
        &self,
        user: UserId,
    ) -> StorageResult<Vec<mixtape_shared::api::Playlist>> {
        self.read(|c| playlists::visible_to(c, user))
    }
    fn playlist(&self, id: PlaylistId) -> StorageResult<Option<OwnedPlaylist>> {
        self.read(|c| playlists::playlist(c, id))
    }
    fn playlist_owner(&self, id: PlaylistId) -> StorageResult<Option<UserId>> {
        self.read(|c| playlists::owner(c, id))
    }
    fn apply_playlist_ops(&self, user: UserId, ops: &[PlaylistOp], now: i64) -> StorageResult<u64> {
        self.write(|tx| playlists::apply_ops(tx, user, ops, now))
    }
    fn playlist_state(
        &self,
        id: PlaylistId,
    ) -> StorageResult<Option<mixtape_shared::sync::PlaylistState>> {
        self.read(|c| playlists::state(c, id))
    }
    fn known_playlist_ops(
        &self,
        _user: UserId,
        ids: &[mixtape_shared::OpId],
    ) -> StorageResult<std::collections::HashSet<mixtape_shared::OpId>> {
        self.read(|c| playlists::known_ops(c, ids))
    }
    fn changes(&self, user: UserId, since: &str, limit: u32) -> StorageResult<ChangesPage> {
        let since = changes::parse_cursor(since)?;
        self.read(|c| changes::page(c, user, since, limit))
    }
}

impl ActivityStore for SqliteStore {
    fn insert_play_events(
        &self,
        user: UserId,
        events: &[PlayEvent],
        now: i64,
    ) -> StorageResult<u64> {
        self.write(|tx| events::insert(tx, user, events, now))
    }
    fn play_history(
        &self,
        user: UserId,
        before_ms: Option<i64>,
        limit: u32,
    ) -> StorageResult<(u64, Vec<PlayEvent>)> {
        self.read(|c| events::history(c, user, before_ms, limit))
    }

    fn set_starred(
        &self,
        user: UserId,
        items: &[ItemRef],
        starred: bool,
        now: i64,
    ) -> StorageResult<()> {
        self.write(|tx| subsonic::set_starred(tx, user, items, starred, now))
    }
    fn set_rating(&self, user: UserId, item: ItemRef, rating: u8, now: i64) -> StorageResult<()> {
        self.write(|tx| subsonic::set_rating(tx, user, item, rating, now))
    }
    fn starred_items(&self, user: UserId) -> StorageResult<Vec<(ItemRef, i64)>> {
        self.read(|c| subsonic::starred_items(c, user))
    }
    fn annotations(
        &self,
        user: UserId,
        items: &[ItemRef],
    ) -> StorageResult<HashMap<ItemRef, Annotation>> {
        self.read(|c| subsonic::annotations(c, user, items))
    }
    fn play_queue(&self, user: UserId) -> StorageResult<Option<PlayQueueRecord>> {
        self.read(|c| subsonic::play_queue(c, user))
    }
    fn save_play_queue(&self, user: UserId, queue: &PlayQueueRecord) -> StorageResult<()> {
        self.write(|tx| subsonic::save_play_queue(tx, user, queue))
    }
    fn latest_plays(&self, since: i64) -> StorageResult<Vec<LatestPlay>> {
        self.read(|c| events::latest(c, since))
    }
    fn bookmarks(&self, user: UserId) -> StorageResult<Vec<BookmarkRecord>> {
        self.read(|c| bookmarks::list(c, user))
    }
    fn save_bookmark(&self, user: UserId, bookmark: &BookmarkRecord) -> StorageResult<()> {
        self.write(|tx| bookmarks::save(tx, user, bookmark))
    }
    fn delete_bookmark(&self, user: UserId, track: TrackId) -> StorageResult<bool> {
        self.write(|tx| bookmarks::delete(tx, user, track))
    }
    fn album_list(
        &self,
        user: UserId,
        list: &AlbumList,
        offset: u32,
        size: u32,
    ) -> StorageResult<Vec<Album>> {
        self.read(|c| subsonic::album_list(c, user, list, offset, size))
    }
}

impl RecsStore for SqliteStore {
    fn recs_apply(
        &self,
        batch: &[(String, i64, crate::recommender::Event)],
        params: &crate::recommender::Params,
        now_ms: i64,
    ) -> StorageResult<u64> {
        self.write(|tx| recs::apply(tx, batch, params, now_ms))
    }
    fn recs_rebuild(&self, params: &crate::recommender::Params, now_ms: i64) -> StorageResult<u64> {
        self.write(|tx| recs::rebuild(tx, params, now_ms))
    }
    fn recs_rows(&self, items: &[i64]) -> StorageResult<crate::recommender::Rows> {
        self.read(|c| recs::rows(c, items))
    }
    fn recs_popular(&self, limit: u32) -> StorageResult<Vec<(i64, i64)>> {
        self.read(|c| recs::popular(c, limit))
    }
    fn recs_content_info(
        &self,
        ids: &[i64],
    ) -> StorageResult<Vec<crate::recommender::ContentInfo>> {
        self.read(|c| recs::content_info(c, ids))
    }
    fn recs_content_candidates(
        &self,
        seed: &crate::recommender::ContentInfo,
        per_kind: u32,
    ) -> StorageResult<Vec<crate::recommender::ContentInfo>> {
        self.read(|c| recs::content_candidates(c, seed, per_kind))
    }
    fn recs_artist_tracks(&self, artist: i64, limit: u32) -> StorageResult<Vec<i64>> {
        self.read(|c| recs::artist_tracks(c, artist, limit))
    }
    fn recs_summary(&self) -> StorageResult<RecsSummary> {
        self.read(recs::summary)
    }
    fn recs_training_data(&self) -> StorageResult<crate::storage::TrainingData> {
        self.read(recs_models::training_data)
    }
    fn recs_events_taken_in(&self) -> StorageResult<u64> {
        self.read(recs_models::events_taken_in)
    }
    fn recs_model_info(&self) -> StorageResult<Option<crate::storage::ModelInfo>> {
        self.read(recs_models::info)
    }
    fn recs_model(&self, version: i64) -> StorageResult<Option<Vec<u8>>> {
        self.read(|c| recs_models::model(c, version))
    }
    fn recs_model_put(&self, info: &crate::storage::ModelInfo, data: &[u8]) -> StorageResult<i64> {
        self.write(|tx| recs_models::put(tx, info, data))
    }
}
