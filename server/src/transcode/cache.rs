//! The rendition cache: `data-dir/renditions/{hh}/{hash}.{profile}`, each file made at its
//! exact size up front (sparse) and filled chunk by chunk at the chunk's offset, under a byte
//! cap with least-recently-used eviction that never takes a rendition being read.
//!
//! Everything here can be made again from the library, so the index lives in memory: the
//! folder is emptied at start, and a crash or an eviction costs only encoding time.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lru::LruCache;

/// A rendition: content hash and profile id.
pub type RenditionKey = (Arc<str>, &'static str);

/// The default cap: about 210 five-minute tracks at 128 kb/s.
pub const DEFAULT_CAP_BYTES: u64 = 1 << 30;
/// Eviction frees down to this share of the cap, so that it does not run on every insert.
const LOW_WATER_PERCENT: u64 = 90;

struct Entry {
    size: u64,
    done: Vec<bool>,
    done_count: usize,
    path: PathBuf,
}

struct Inner {
    /// Most recently used last.
    entries: LruCache<RenditionKey, Entry>,
    used: u64,
    /// Open responses per rendition (whether or not it has an entry yet).
    readers: HashMap<RenditionKey, usize>,
}

pub struct RenditionCache {
    dir: PathBuf,
    cap: u64,
    inner: Mutex<Inner>,
}

/// Counted as a reader while alive: its rendition is not evicted.
pub struct ReaderGuard {
    cache: Arc<RenditionCache>,
    key: RenditionKey,
}

impl Drop for ReaderGuard {
    fn drop(&mut self) {
        let mut inner = self.cache.lock();
        if let Some(n) = inner.readers.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                inner.readers.remove(&self.key);
            }
        }
    }
}

impl RenditionCache {
    /// The cache in `dir` (emptied: its index is not kept across starts). `cap` 0 keeps
    /// nothing.
    pub fn open(dir: &Path, cap: u64) -> std::io::Result<Self> {
        if dir.exists() {
            fs::remove_dir_all(dir)?;
        }
        if cap > 0 {
            fs::create_dir_all(dir)?;
        }
        Ok(Self {
            dir: dir.to_owned(),
            cap,
            inner: Mutex::new(Inner {
                entries: LruCache::unbounded(),
                used: 0,
                readers: HashMap::new(),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn reader(self: &Arc<Self>, key: RenditionKey) -> ReaderGuard {
        *self.lock().readers.entry(key.clone()).or_default() += 1;
        ReaderGuard {
            cache: Arc::clone(self),
            key,
        }
    }

    /// Bytes held.
    pub fn used(&self) -> u64 {
        self.lock().used
    }

    /// Whether every chunk of the rendition is held.
    pub fn is_complete(&self, key: &RenditionKey) -> bool {
        self.lock()
            .entries
            .peek(key)
            .is_some_and(|e| e.done_count == e.done.len())
    }

    /// Whether chunk `c` of the rendition is held (its use is not recorded).
    pub fn has_chunk(&self, key: &RenditionKey, c: u64) -> bool {
        self.lock()
            .entries
            .peek(key)
            .is_some_and(|e| e.done.get(c as usize).copied().unwrap_or(false))
    }

    /// Chunk `c` (at `offset`, `len` bytes) if held; marks the rendition used.
    pub fn read_chunk(&self, key: &RenditionKey, c: u64, offset: u64, len: u64) -> Option<Vec<u8>> {
        let path = {
            let mut inner = self.lock();
            let e = inner.entries.get(key)?;
            if !e.done.get(c as usize).copied().unwrap_or(false) {
                return None;
            }
            e.path.clone()
        };
        let mut buf = vec![0u8; len as usize];
        match File::open(&path).and_then(|f| f.read_exact_at(&mut buf, offset)) {
            Ok(()) => {
                metrics::counter!("mixtape_transcode_cache_hits_total").increment(1);
                Some(buf)
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "rendition cache file unreadable; dropped");
                self.remove(key);
                None
            }
        }
    }

    fn remove(&self, key: &RenditionKey) {
        let mut inner = self.lock();
        if let Some(e) = inner.entries.pop(key) {
            inner.used -= e.size;
            let _ = fs::remove_file(&e.path);
        }
    }

    /// Keeps chunk `c` of a rendition of `size` bytes in `chunks` chunks, if the cap allows
    /// (evicting renditions nobody reads, least recently used first).
    pub fn store_chunk(
        &self,
        key: &RenditionKey,
        size: u64,
        chunks: u64,
        c: u64,
        offset: u64,
        bytes: &[u8],
    ) {
        if self.cap == 0 || size > self.cap {
            return;
        }
        let mut inner = self.lock();
        if inner.entries.peek(key).is_none() {
            if inner.used + size > self.cap && !Self::evict(&mut inner, self.cap, size) {
                // Everything held is being read: this one is served uncached.
                return;
            }
            let (hash, profile) = key;
            let sub = self.dir.join(&hash[..2.min(hash.len())]);
            let path = sub.join(format!("{hash}.{profile}"));
            let made = fs::create_dir_all(&sub)
                .and_then(|()| {
                    OpenOptions::new()
                        .create(true)
                        .truncate(true)
                        .write(true)
                        .open(&path)
                })
                .and_then(|f| f.set_len(size));
            if let Err(e) = made {
                tracing::warn!(path = %path.display(), error = %e, "cannot make a rendition cache file");
                return;
            }
            inner.used += size;
            inner.entries.put(
                key.clone(),
                Entry {
                    size,
                    done: vec![false; chunks as usize],
                    done_count: 0,
                    path,
                },
            );
        }
        let Some(e) = inner.entries.get_mut(key) else {
            return;
        };
        if e.done.get(c as usize).copied().unwrap_or(true) {
            return;
        }
        // Written under the lock: chunks are small (~120–240 kB) and this keeps a reader from
        // seeing a chunk marked done before its bytes are there.
        let written = OpenOptions::new()
            .write(true)
            .open(&e.path)
            .and_then(|f| f.write_all_at(bytes, offset));
        match written {
            Ok(()) => {
                e.done[c as usize] = true;
                e.done_count += 1;
            }
            Err(e) => tracing::warn!(error = %e, "cannot write a rendition chunk"),
        }
        metrics::gauge!("mixtape_transcode_cache_bytes").set(inner.used as f64);
    }

    /// Evicts unread renditions, least recently used first, until `size` more fits under the
    /// low-water mark. False if it cannot fit.
    fn evict(inner: &mut Inner, cap: u64, size: u64) -> bool {
        let target = (cap * LOW_WATER_PERCENT / 100).max(size);
        let victims: Vec<RenditionKey> = inner
            .entries
            .iter()
            .rev()
            .filter(|(k, _)| !inner.readers.contains_key(*k))
            .map(|(k, _)| k.clone())
            .collect();
        for k in victims {
            if inner.used + size <= target {
                break;
            }
            if let Some(e) = inner.entries.pop(&k) {
                inner.used -= e.size;
                let _ = fs::remove_file(&e.path);
                metrics::counter!("mixtape_transcode_cache_evictions_total").increment(1);
            }
        }
        inner.used + size <= cap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(h: &str) -> RenditionKey {
        (Arc::from(h), "opus-96")
    }

    #[test]
    fn least_recently_used_goes_first_but_never_one_being_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Arc::new(RenditionCache::open(&dir.path().join("r"), 300).expect("open"));
        cache.store_chunk(&key("aa1"), 100, 1, 0, 0, &[1; 100]);
        cache.store_chunk(&key("aa2"), 100, 1, 0, 0, &[2; 100]);
        cache.store_chunk(&key("aa3"), 100, 1, 0, 0, &[3; 100]);
        assert_eq!(cache.used(), 300);
        // aa1 is read (so most recent and pinned); aa2 is the least recently used.
        let _reading = cache.reader(key("aa1"));
        assert_eq!(cache.read_chunk(&key("aa1"), 0, 0, 100), Some(vec![1; 100]));
        cache.store_chunk(&key("aa4"), 100, 1, 0, 0, &[4; 100]);
        assert!(cache.read_chunk(&key("aa2"), 0, 0, 100).is_none());
        assert!(cache.read_chunk(&key("aa1"), 0, 0, 100).is_some());
        assert!(cache.read_chunk(&key("aa4"), 0, 0, 100).is_some());
        assert!(cache.used() <= 300);
    }

    #[test]
    fn a_cap_of_zero_keeps_nothing_and_pinned_renditions_are_not_pushed_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let none = RenditionCache::open(&dir.path().join("n"), 0).expect("open");
        none.store_chunk(&key("bb1"), 10, 1, 0, 0, &[1; 10]);
        assert_eq!(none.used(), 0);
        assert!(none.read_chunk(&key("bb1"), 0, 0, 10).is_none());

        let cache = Arc::new(RenditionCache::open(&dir.path().join("p"), 150).expect("open"));
        let _a = cache.reader(key("bb1"));
        cache.store_chunk(&key("bb1"), 100, 2, 0, 0, &[1; 50]);
        cache.store_chunk(&key("bb2"), 100, 1, 0, 0, &[2; 100]);
        assert!(cache.read_chunk(&key("bb2"), 0, 0, 100).is_none());
        assert!(cache.read_chunk(&key("bb1"), 0, 0, 50).is_some());
        assert!(!cache.is_complete(&key("bb1")));
        cache.store_chunk(&key("bb1"), 100, 2, 1, 50, &[9; 50]);
        assert!(cache.is_complete(&key("bb1")));
    }
}
