//! The cache index: one SQLite file (WAL) with a row per complete file and the pins.
//!
//! A row exists only for a file that was verified and renamed into place, so the index never
//! names an incomplete download. Pins are intent ("keep this playlist offline"), not files: a pin
//! may name a track that is not downloaded yet, and its size then reserves room in the cap.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::CacheError;

const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS files (
    hash      TEXT PRIMARY KEY NOT NULL,
    size      INTEGER NOT NULL,
    last_used INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS files_by_last_used ON files (last_used);
CREATE TABLE IF NOT EXISTS pins (
    owner TEXT NOT NULL,
    hash  TEXT NOT NULL,
    size  INTEGER NOT NULL,
    PRIMARY KEY (owner, hash)
) STRICT;
CREATE INDEX IF NOT EXISTS pins_by_hash ON pins (hash);
PRAGMA user_version = 1;
";

/// Renditions (a track transcoded by the server) are files like originals, named by their own
/// blake3; `rendition` says which: `{source hash}/{profile}`. Pins of a rendition use that key,
/// since its blake3 is only known once it is downloaded.
const SCHEMA_V2: &str = "
ALTER TABLE files ADD COLUMN rendition TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS files_by_rendition ON files (rendition);
PRAGMA user_version = 2;
";

/// Whether a file is pinned: by its hash, or (a rendition) by its rendition key.
const PINNED: &str =
    "(hash IN (SELECT hash FROM pins) OR COALESCE(rendition IN (SELECT hash FROM pins), 0))";

/// Why a pin was refused, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PinShortfall {
    pub needed: u64,
    pub available: u64,
}

pub(crate) struct Index {
    path: PathBuf,
    conn: Mutex<Connection>,
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Index {
    /// Opens (creating if needed) the index. On a full disk, where WAL mode cannot size its
    /// shared-memory file, it is opened in exclusive locking mode (the WAL index in memory), so
    /// the cache can still be read; another process on the device then waits for this one.
    pub fn open(path: &Path) -> Result<Self, CacheError> {
        let disk_full = |e: &rusqlite::Error| crate::disk::is_disk_full(e, path);
        match Self::open_with(path, false) {
            Err(e) if disk_full(&e) => {
                tracing::warn!(
                    path = %path.display(),
                    "the disk is full: opening the cache index in exclusive mode"
                );
                Self::open_with(path, true).map_err(|e| {
                    if disk_full(&e) {
                        CacheError::DiskFull {
                            path: path.to_owned(),
                        }
                    } else {
                        CacheError::index(path, e)
                    }
                })
            }
            Err(e) => Err(CacheError::index(path, e)),
            Ok(index) => Ok(index),
        }
    }

    fn open_with(path: &Path, exclusive: bool) -> Result<Self, rusqlite::Error> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        if exclusive {
            // Before the first access, so SQLite never maps the shared-memory file.
            conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        }
        // WAL: readers (stats, path_of) never wait for a download's commit. NORMAL is durable
        // enough here: a lost last commit only loses a row that reconcile re-adds from the file.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version < 1 {
            conn.execute_batch(SCHEMA_V1)?;
        }
        if version < 2 {
            conn.execute_batch(&format!("BEGIN; {SCHEMA_V2} COMMIT;"))?;
        }
        Ok(Self {
            path: path.to_owned(),
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the connection cannot leave SQLite half-written (each statement
        // is atomic), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn err(&self, e: rusqlite::Error) -> CacheError {
        // A full disk is not an unusable index: nothing to delete, only room to make.
        if crate::disk::is_disk_full(&e, &self.path) {
            CacheError::DiskFull {
                path: self.path.clone(),
            }
        } else {
            CacheError::index(&self.path, e)
        }
    }

    pub fn size_of(&self, hash: &str) -> Result<Option<u64>, CacheError> {
        // Prepared once: lists ask this for every row they show (200 per search keystroke).
        self.conn()
            .prepare_cached("SELECT size FROM files WHERE hash = ?1")
            .and_then(|mut s| s.query_row([hash], |r| r.get::<_, i64>(0)).optional())
            .map(|o| o.map(to_u64))
            .map_err(|e| self.err(e))
    }

    /// Marks `hash` as just used; false if it is not in the index.
    pub fn touch(&self, hash: &str, tick: i64) -> Result<bool, CacheError> {
        self.conn()
            .execute(
                "UPDATE files SET last_used = ?2 WHERE hash = ?1",
                params![hash, tick],
            )
            .map(|n| n > 0)
            .map_err(|e| self.err(e))
    }

    pub fn insert(&self, hash: &str, size: u64, tick: i64) -> Result<(), CacheError> {
        self.conn()
            .execute(
                "INSERT INTO files (hash, size, last_used) VALUES (?1, ?2, ?3)
                 ON CONFLICT (hash) DO UPDATE SET size = excluded.size, last_used = excluded.last_used",
                params![hash, to_i64(size), tick],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Records a verified rendition: `key` is `{source hash}/{profile}`. A file already known
    /// under another key keeps its row and gains this key only if it had none.
    pub fn insert_rendition(
        &self,
        hash: &str,
        key: &str,
        size: u64,
        tick: i64,
    ) -> Result<(), CacheError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        // A key names one file: an older file under it (a re-download) loses the key.
        tx.execute(
            "UPDATE files SET rendition = NULL WHERE rendition = ?1 AND hash != ?2",
            params![key, hash],
        )
        .map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO files (hash, size, last_used, rendition) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (hash) DO UPDATE SET size = excluded.size, last_used = excluded.last_used,
                 rendition = COALESCE(files.rendition, excluded.rendition)",
            params![hash, to_i64(size), tick, key],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// The (hash, size) of the cached rendition `key`.
    pub fn rendition(&self, key: &str) -> Result<Option<(String, u64)>, CacheError> {
        self.conn()
            .query_row(
                "SELECT hash, size FROM files WHERE rendition = ?1",
                [key],
                |r| Ok((r.get(0)?, to_u64(r.get(1)?))),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The most recently used cached rendition of `source` in any profile: (hash, key).
    pub fn any_rendition(&self, source: &str) -> Result<Option<(String, String)>, CacheError> {
        self.conn()
            .query_row(
                "SELECT hash, rendition FROM files
                 WHERE rendition >= ?1 || '/' AND rendition < ?1 || '0'
                 ORDER BY last_used DESC LIMIT 1",
                [source],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn remove(&self, hash: &str) -> Result<(), CacheError> {
        self.conn()
            .execute("DELETE FROM files WHERE hash = ?1", [hash])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Every complete file: (hash, size).
    pub fn files(&self) -> Result<Vec<(String, u64)>, CacheError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT hash, size FROM files ORDER BY hash")
            .map_err(|e| self.err(e))?;
        stmt.query_map([], |r| Ok((r.get(0)?, to_u64(r.get(1)?))))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))
    }

    /// Whether `hash` (a file's hash, or a rendition key) is pinned, or is the file of a pinned
    /// rendition.
    pub fn is_pinned(&self, hash: &str) -> Result<bool, CacheError> {
        self.conn()
            .query_row(
                "SELECT 1 FROM pins WHERE hash = ?1
                    OR hash = (SELECT rendition FROM files WHERE hash = ?1) LIMIT 1",
                [hash],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
            .map_err(|e| self.err(e))
    }

    /// (bytes, files) of complete files.
    pub fn used(&self) -> Result<(u64, u64), CacheError> {
        self.conn()
            .query_row(
                "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM files",
                [],
                |r| Ok((to_u64(r.get(0)?), to_u64(r.get(1)?))),
            )
            .map_err(|e| self.err(e))
    }

    /// (bytes, distinct hashes) pinned by anyone; a hash pinned twice counts once.
    pub fn pinned(&self) -> Result<(u64, u64), CacheError> {
        self.conn()
            .query_row(
                "SELECT COALESCE(SUM(size), 0), COUNT(*)
                 FROM (SELECT MAX(size) AS size FROM pins GROUP BY hash)",
                [],
                |r| Ok((to_u64(r.get(0)?), to_u64(r.get(1)?))),
            )
            .map_err(|e| self.err(e))
    }

    /// Pins `items` for `owner` (adding to what it pinned, or replacing it), unless the distinct
    /// pinned bytes would exceed `cap`.
    pub fn pin(
        &self,
        owner: &str,
        items: &[(String, u64)],
        replace: bool,
        cap: u64,
    ) -> Result<Result<(), PinShortfall>, CacheError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let kept: HashMap<String, u64> = {
            // Replacing: the owner's current pins are about to go, so they do not count.
            let (sql, args): (&str, &[&str]) = if replace {
                (
                    "SELECT hash, MAX(size) FROM pins WHERE owner != ?1 GROUP BY hash",
                    &[owner],
                )
            } else {
                ("SELECT hash, MAX(size) FROM pins GROUP BY hash", &[])
            };
            let mut stmt = tx.prepare(sql).map_err(|e| self.err(e))?;
            stmt.query_map(rusqlite::params_from_iter(args), |r| {
                Ok((r.get(0)?, to_u64(r.get(1)?)))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<_>>())
            .map_err(|e| self.err(e))?
        };
        let mut new: HashMap<&str, u64> = HashMap::new();
        for (hash, size) in items {
            if !kept.contains_key(hash) {
                let s = new.entry(hash).or_default();
                *s = (*s).max(*size);
            }
        }
        let kept_bytes: u64 = kept.values().sum();
        let needed: u64 = new.values().sum();
        if kept_bytes.saturating_add(needed) > cap {
            return Ok(Err(PinShortfall {
                needed,
                available: cap.saturating_sub(kept_bytes),
            }));
        }
        if replace {
            tx.execute("DELETE FROM pins WHERE owner = ?1", [owner])
                .map_err(|e| self.err(e))?;
        }
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO pins (owner, hash, size) VALUES (?1, ?2, ?3)
                     ON CONFLICT (owner, hash) DO UPDATE SET size = excluded.size",
                )
                .map_err(|e| self.err(e))?;
            for (hash, size) in items {
                insert
                    .execute(params![owner, hash, to_i64(*size)])
                    .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(Ok(()))
    }

    /// What `owner` pins: (hash or rendition key, size).
    pub fn pins_of(&self, owner: &str) -> Result<Vec<(String, u64)>, CacheError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT hash, size FROM pins WHERE owner = ?1 ORDER BY hash")
            .map_err(|e| self.err(e))?;
        stmt.query_map([owner], |r| Ok((r.get(0)?, to_u64(r.get(1)?))))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))
    }

    /// Releases everything `owner` pinned; returns how many pins were removed.
    pub fn unpin(&self, owner: &str) -> Result<usize, CacheError> {
        self.conn()
            .execute("DELETE FROM pins WHERE owner = ?1", [owner])
            .map_err(|e| self.err(e))
    }

    /// Removes least-recently-used unpinned files until the complete files plus the room
    /// reserved for pinned-but-missing tracks fit in `cap`. `keep` (the file a caller is about
    /// to use) is never chosen. `delete` removes the file; a file that cannot be deleted keeps
    /// its row. Returns the evicted (hash, size) pairs.
    ///
    /// The lock is held throughout, so a concurrent `touch` cannot make a just-chosen victim
    /// the most recently used one.
    pub fn evict(
        &self,
        cap: u64,
        keep: Option<&str>,
        mut delete: impl FnMut(&str) -> bool,
    ) -> Result<Vec<(String, u64)>, CacheError> {
        let conn = self.conn();
        let (files, reserved): (i64, i64) = conn
            .query_row(
                "SELECT (SELECT COALESCE(SUM(size), 0) FROM files),
                        (SELECT COALESCE(SUM(s), 0) FROM
                            (SELECT MAX(size) AS s FROM pins
                             WHERE hash NOT IN (SELECT hash FROM files)
                               AND hash NOT IN
                                   (SELECT rendition FROM files WHERE rendition IS NOT NULL)
                             GROUP BY hash))",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.err(e))?;
        let mut total = to_u64(files).saturating_add(to_u64(reserved));
        if total <= cap {
            return Ok(Vec::new());
        }
        let candidates: Vec<(String, u64)> = {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT hash, size FROM files
                     WHERE NOT {PINNED} AND hash != ?1
                     ORDER BY last_used, hash"
                ))
                .map_err(|e| self.err(e))?;
            stmt.query_map([keep.unwrap_or("")], |r| Ok((r.get(0)?, to_u64(r.get(1)?))))
                .and_then(|rows| rows.collect::<rusqlite::Result<_>>())
                .map_err(|e| self.err(e))?
        };
        let mut evicted = Vec::new();
        for (hash, size) in candidates {
            if total <= cap {
                break;
            }
            if !delete(&hash) {
                continue;
            }
            conn.execute("DELETE FROM files WHERE hash = ?1", [&hash])
                .map_err(|e| self.err(e))?;
            total = total.saturating_sub(size);
            evicted.push((hash, size));
        }
        Ok(evicted)
    }

    /// The largest `last_used` stored, so ticks stay increasing across restarts.
    pub fn max_tick(&self) -> Result<i64, CacheError> {
        self.conn()
            .query_row("SELECT COALESCE(MAX(last_used), 0) FROM files", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(c: char) -> String {
        c.to_string().repeat(64)
    }

    fn open() -> (tempfile::TempDir, Index) {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open(&dir.path().join("index.sqlite")).unwrap();
        (dir, index)
    }

    #[test]
    fn a_hash_pinned_by_two_owners_counts_once_and_stays_pinned_until_both_unpin() {
        let (_d, index) = open();
        index
            .pin("a", &[(h('1'), 60)], false, 100)
            .unwrap()
            .unwrap();
        // Already pinned by "a": costs nothing more for "b".
        index
            .pin("b", &[(h('1'), 60), (h('2'), 40)], false, 100)
            .unwrap()
            .unwrap();
        assert_eq!(index.pinned().unwrap(), (100, 2));
        index.unpin("a").unwrap();
        assert!(index.is_pinned(&h('1')).unwrap());
        index.unpin("b").unwrap();
        assert!(!index.is_pinned(&h('1')).unwrap());
        assert_eq!(index.pinned().unwrap(), (0, 0));
    }

    #[test]
    fn replacing_an_owners_pins_does_not_count_its_old_ones() {
        let (_d, index) = open();
        index
            .pin("a", &[(h('1'), 80)], false, 100)
            .unwrap()
            .unwrap();
        // Adding would need 180 bytes; replacing needs 90.
        assert_eq!(
            index.pin("a", &[(h('2'), 90)], false, 100).unwrap(),
            Err(PinShortfall {
                needed: 90,
                available: 20
            })
        );
        index.pin("a", &[(h('2'), 90)], true, 100).unwrap().unwrap();
        assert_eq!(index.pinned().unwrap(), (90, 1));
    }

    #[test]
    fn a_rendition_pinned_by_its_key_is_never_evicted_and_reserves_room_until_cached() {
        let (_d, index) = open();
        let key = format!("{}/opus-96", h('a'));
        index
            .pin("p", &[(key.clone(), 30)], false, 100)
            .unwrap()
            .unwrap();
        index.insert(&h('1'), 40, 1).unwrap();
        index.insert(&h('2'), 40, 2).unwrap();
        // 80 in files + 30 reserved for the missing rendition: the oldest original goes.
        assert_eq!(
            index.evict(100, None, |_| true).unwrap(),
            vec![(h('1'), 40)]
        );
        index.insert_rendition(&h('3'), &key, 30, 0).unwrap();
        assert_eq!(index.rendition(&key).unwrap(), Some((h('3'), 30)));
        assert_eq!(
            index.any_rendition(&h('a')).unwrap(),
            Some((h('3'), key.clone()))
        );
        assert_eq!(index.any_rendition(&h('b')).unwrap(), None);
        assert!(index.is_pinned(&h('3')).unwrap());
        // The rendition is the least recently used but pinned: the other file goes.
        assert_eq!(index.evict(30, None, |_| true).unwrap(), vec![(h('2'), 40)]);
        index.unpin("p").unwrap();
        assert!(!index.is_pinned(&h('3')).unwrap());
        assert_eq!(index.evict(0, None, |_| true).unwrap(), vec![(h('3'), 30)]);
        assert_eq!(index.rendition(&key).unwrap(), None);
    }

    #[test]
    fn eviction_takes_the_least_recently_used_unpinned_files_first() {
        let (_d, index) = open();
        index.insert(&h('1'), 40, 1).unwrap();
        index.insert(&h('2'), 40, 2).unwrap();
        index.insert(&h('3'), 40, 3).unwrap();
        index.touch(&h('1'), 4).unwrap();
        let evicted = index.evict(80, None, |_| true).unwrap();
        assert_eq!(evicted, vec![(h('2'), 40)]);
        assert_eq!(index.used().unwrap(), (80, 2));
    }
}
