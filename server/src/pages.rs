//! Rendered catalog answers: the JSON of a catalog page, kept in memory and served again until
//! the catalog changes.
//!
//! The catalog changes only when a scan writes; every other request reads it, so the album
//! list a client pages through is rendered once per scan instead of once per request (a 50-album
//! page costs about 0.3 ms of SQLite and serde per request otherwise). An entry is valid for one
//! [`Store::catalog_generation`](crate::storage::Store::catalog_generation); a new generation makes every older entry a miss, and the
//! weight cap evicts them.
//!
//! Track answers carry signed media URLs, which expire: an entry is also tagged with the
//! expiry bucket ([`MediaSigner::bucket`](crate::media_url::MediaSigner::bucket)) its URLs were
//! signed in, and is served only within that bucket (at most an hour), so a cached page never
//! hands out a URL with less than `media_url::VALID_SECS` left.
//!
//! Only answers that are the same for every user belong here (the catalog has no per-user
//! fields); search is left out on purpose, its cost is in ranking the query, which varies.
//! This is the embedded cache; behind a load balancer each instance keeps its own, which is
//! correct as long as the store's generation is shared (see the trait).

use axum::body::Bytes;
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use serde::Serialize;

/// Memory for rendered pages, in bytes of JSON.
pub const DEFAULT_CAPACITY_BYTES: u64 = 32 << 20;
/// Answers larger than this are not kept (a single page of 500 tracks is about 0.5 MB).
const MAX_ENTRY_BYTES: usize = 2 << 20;

#[derive(Clone)]
struct ByLength;

/// What an entry was made in: the catalog generation and the media URL expiry bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Made {
    pub generation: u64,
    pub bucket: u64,
}

impl Weighter<String, (Made, Bytes)> for ByLength {
    fn weight(&self, key: &String, value: &(Made, Bytes)) -> u64 {
        (key.len() + value.1.len()) as u64
    }
}

/// Catalog answers by request (path and query), each tagged with the generation it was made in.
pub struct PageCache {
    pages: Cache<String, (Made, Bytes), ByLength>,
}

impl std::fmt::Debug for PageCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageCache")
            .field("entries", &self.pages.len())
            .field("bytes", &self.pages.weight())
            .finish()
    }
}

impl PageCache {
    pub fn new(capacity_bytes: u64) -> Self {
        // About 10 KB per page: an estimate for the table's initial size only.
        let items = usize::try_from(capacity_bytes / 10_000)
            .unwrap_or(1024)
            .max(16);
        Self {
            pages: Cache::with_weighter(items, capacity_bytes, ByLength),
        }
    }

    /// The JSON kept for `key` if it was made in `made` (read the generation with
    /// [`Store::catalog_generation`](crate::storage::Store::catalog_generation) before looking, and pass the same value to [`keep`]).
    ///
    /// [`keep`]: Self::keep
    pub fn lookup(&self, key: &str, made: Made) -> Option<Bytes> {
        match self.pages.get(key) {
            Some((made_in, json)) if made_in == made => {
                metrics::counter!("mixtape_page_cache_hits_total").increment(1);
                Some(json)
            }
            _ => {
                metrics::counter!("mixtape_page_cache_misses_total").increment(1);
                None
            }
        }
    }

    /// Renders `value` and keeps it for `key` as made in `made`, with the generation read
    /// before `value` was loaded (a scan that committed meanwhile bumped it, so what was loaded
    /// is kept under the older generation and never served as current) and the bucket its
    /// media URLs were signed in.
    pub fn keep<T: Serialize>(&self, key: String, made: Made, value: &T) -> Bytes {
        let json = Bytes::from(serde_json::to_vec(value).expect("catalog types serialize"));
        if json.len() <= MAX_ENTRY_BYTES {
            self.pages.insert(key, (made, json.clone()));
        }
        json
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::CatalogStore;
    use crate::storage::sqlite::SqliteStore;

    fn made(generation: u64) -> Made {
        Made {
            generation,
            bucket: 7,
        }
    }

    #[test]
    fn a_page_is_served_until_a_scan_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite"), 2).unwrap();
        let cache = PageCache::new(1 << 20);
        let g = store.catalog_generation();
        assert_eq!(cache.lookup("/a", made(g)), None);
        let json = cache.keep("/a".into(), made(g), &vec![1, 2]);
        assert_eq!(&json[..], b"[1,2]");
        assert_eq!(
            cache.lookup("/a", made(store.catalog_generation())),
            Some(json)
        );
        assert_eq!(cache.lookup("/b", made(store.catalog_generation())), None);

        // A scan batch (even an empty one) is a new generation: the old page is a miss.
        store.apply_scan_batch(Vec::new()).unwrap();
        let g2 = store.catalog_generation();
        assert!(g2 > g);
        assert_eq!(cache.lookup("/a", made(g2)), None);
        store.prune_orphans().unwrap();
        assert!(store.catalog_generation() > g2);
    }

    #[test]
    fn a_page_loaded_across_a_scan_is_kept_under_the_older_generation() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite"), 2).unwrap();
        let cache = PageCache::new(1 << 20);
        let before = store.catalog_generation();
        // ...the page is loaded, and a scan commits before it is kept...
        store.apply_scan_batch(Vec::new()).unwrap();
        cache.keep("/a".into(), made(before), &"old");
        assert_eq!(cache.lookup("/a", made(store.catalog_generation())), None);
    }

    #[test]
    fn a_page_is_served_only_in_the_bucket_its_media_urls_were_signed_in() {
        let cache = PageCache::new(1 << 20);
        let json = cache.keep("/a".into(), made(3), &"urls");
        assert_eq!(cache.lookup("/a", made(3)), Some(json));
        let next_hour = Made {
            generation: 3,
            bucket: 8,
        };
        assert_eq!(cache.lookup("/a", next_hour), None);
    }

    #[test]
    fn the_cap_bounds_the_memory() {
        let cache = PageCache::new(64 * 1024);
        let big = "x".repeat(10_000);
        for i in 0..100 {
            cache.keep(format!("/p{i}"), made(0), &big);
        }
        assert!(cache.pages.weight() <= 64 * 1024, "{cache:?}");
        // An answer over the entry limit is rendered but not kept.
        let huge = "y".repeat(MAX_ENTRY_BYTES + 1);
        let json = cache.keep("/huge".into(), made(0), &huge);
        assert_eq!(json.len(), MAX_ENTRY_BYTES + 3);
        assert_eq!(cache.lookup("/huge", made(0)), None);
    }
}
