//! The thumbnail cache on disk (`data-dir/art-cache`), capped in bytes: the least recently
//! used thumbnails are deleted to make room. The index lives in memory and is rebuilt from the
//! folder at first use (oldest modification first), so after a restart "recently used" starts
//! as "recently made". A thumbnail that cannot be kept (larger than the cap, disk full, any
//! write error) is still served, just not cached.

use lru::LruCache;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct ThumbCache {
    dir: PathBuf,
    max_bytes: u64,
    index: Mutex<Option<Index>>,
}

struct Index {
    /// File name → size in bytes, least recently used first out.
    files: LruCache<String, u64>,
    total: u64,
}

impl ThumbCache {
    pub fn new(dir: PathBuf, max_bytes: u64) -> Self {
        Self {
            dir,
            max_bytes,
            index: Mutex::new(None),
        }
    }

    /// The cached bytes of `name`, marking it used.
    pub fn get(&self, name: &str) -> Option<Vec<u8>> {
        let known = self.with_index(|index| index.files.get(name).is_some());
        if !known {
            return None;
        }
        match std::fs::read(self.dir.join(name)) {
            Ok(bytes) => Some(bytes),
            Err(_) => {
                // Deleted behind our back: forget it.
                self.with_index(|index| {
                    if let Some(size) = index.files.pop(name) {
                        index.total -= size;
                    }
                });
                None
            }
        }
    }

    /// Keeps `bytes` as `name` if it fits under the cap after evicting older thumbnails.
    /// Never fails: a thumbnail that cannot be kept is simply not cached.
    pub fn put(&self, name: &str, bytes: &[u8]) {
        let len = bytes.len() as u64;
        if len > self.max_bytes {
            tracing::debug!(
                name,
                len,
                "thumbnail larger than the art cache cap; not cached"
            );
            return;
        }
        // The lock is held across the write so eviction and insertion stay one step; these are
        // small files written once per (image, size) bucket.
        self.with_index(|index| {
            if let Some(old) = index.files.pop(name) {
                index.total -= old;
            }
            while index.total + len > self.max_bytes {
                let Some((victim, size)) = index.files.pop_lru() else {
                    break;
                };
                index.total -= size;
                if let Err(e) = std::fs::remove_file(self.dir.join(&victim))
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(file = %victim, error = %e, "art cache: cannot evict");
                }
            }
            match super::write_atomically(&self.dir.join(name), bytes) {
                Ok(()) => {
                    index.files.push(name.to_string(), len);
                    index.total += len;
                }
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => {
                    tracing::warn!("art cache: disk full; serving thumbnails uncached")
                }
                Err(e) => tracing::warn!(error = %e, "art cache: cannot write; serving uncached"),
            }
        })
    }

    /// Bytes the cache holds now.
    #[cfg(test)]
    pub fn total_bytes(&self) -> u64 {
        self.with_index(|index| index.total)
    }

    fn with_index<T>(&self, f: impl FnOnce(&mut Index) -> T) -> T {
        let mut guard = self.index.lock().unwrap_or_else(|e| e.into_inner());
        let index = guard.get_or_insert_with(|| load(&self.dir, self.max_bytes));
        f(index)
    }
}

/// The index from what is on disk; also removes temporaries of interrupted writes and evicts
/// down to the cap (it may have been lowered since the last run).
fn load(dir: &Path, max_bytes: u64) -> Index {
    let mut found: Vec<(std::time::SystemTime, String, u64)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            if !name.ends_with(".jpg") {
                let _ = std::fs::remove_file(entry.path());
                continue;
            }
            let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
            found.push((modified, name, meta.len()));
        }
    }
    found.sort();
    let mut index = Index {
        files: LruCache::unbounded(),
        total: 0,
    };
    for (_, name, len) in found {
        index.total += len;
        index.files.push(name, len);
    }
    while index.total > max_bytes {
        let Some((victim, size)) = index.files.pop_lru() else {
            break;
        };
        index.total -= size;
        let _ = std::fs::remove_file(dir.join(victim));
    }
    tracing::debug!(
        files = index.files.len(),
        bytes = index.total,
        "art cache index loaded"
    );
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn the_least_recently_used_thumbnails_go_first_and_the_cap_holds() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = ThumbCache::new(tmp.path().to_path_buf(), 300);
        cache.put("a.jpg", &[1; 100]);
        cache.put("b.jpg", &[2; 100]);
        cache.put("c.jpg", &[3; 100]);
        assert_eq!(cache.total_bytes(), 300);
        // a was used last, so b is now the oldest.
        assert_eq!(cache.get("a.jpg").unwrap(), vec![1; 100]);
        cache.put("d.jpg", &[4; 150]);
        assert_eq!(names(tmp.path()), ["a.jpg", "d.jpg"]);
        assert_eq!(cache.total_bytes(), 250);
        assert!(cache.get("b.jpg").is_none());
        assert!(cache.get("c.jpg").is_none());
        // Larger than the whole cap: not kept, nothing evicted for it.
        cache.put("huge.jpg", &[5; 301]);
        assert_eq!(names(tmp.path()), ["a.jpg", "d.jpg"]);
    }

    #[test]
    fn the_index_is_rebuilt_from_disk_and_trimmed_to_a_lower_cap() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let cache = ThumbCache::new(tmp.path().to_path_buf(), 1000);
            for (i, name) in ["old.jpg", "mid.jpg", "new.jpg"].iter().enumerate() {
                cache.put(name, &[0; 100]);
                let t = std::time::SystemTime::UNIX_EPOCH
                    + std::time::Duration::from_secs(1_000_000 + i as u64);
                let f = std::fs::File::options()
                    .write(true)
                    .open(tmp.path().join(name))
                    .unwrap();
                f.set_modified(t).unwrap();
            }
        }
        std::fs::write(tmp.path().join("x.tmp123"), b"half").unwrap();
        let cache = ThumbCache::new(tmp.path().to_path_buf(), 250);
        assert_eq!(cache.total_bytes(), 200);
        assert_eq!(names(tmp.path()), ["mid.jpg", "new.jpg"]);
    }

    #[test]
    fn a_failed_write_is_not_fatal_and_not_indexed() {
        let tmp = tempfile::tempdir().unwrap();
        // The cache "folder" is a file: every write fails.
        let blocked = tmp.path().join("art-cache");
        std::fs::write(&blocked, b"").unwrap();
        let cache = ThumbCache::new(blocked, 1000);
        cache.put("a.jpg", &[1; 10]);
        assert_eq!(cache.total_bytes(), 0);
        assert!(cache.get("a.jpg").is_none());
    }
}
