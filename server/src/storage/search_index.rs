//! Search for both backends: the in-memory index of `mixtape_shared::search` (the one the
//! client's mirror uses too), built from a backend's search rows (folded text) and kept under
//! the catalog generation it was loaded at. A search that finds the generation moved rebuilds
//! it first, so answers are never older than the last committed catalog write, and SQLite and
//! PostgreSQL answer alike because the same code ranks both.
//!
//! Queries under three characters are the backends' own (a prefix of the sort keys, indexed).

use super::StorageResult;
use mixtape_shared::api::SearchResults;
use mixtape_shared::search::SearchIndex;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

/// The folded fields a backend keeps for search, per kind, as `(id, fields)`.
#[derive(Debug, Default)]
pub(crate) struct SearchDocs {
    /// Title, artists, album.
    pub tracks: Vec<(i64, Vec<String>)>,
    /// Title, album artist.
    pub albums: Vec<(i64, Vec<String>)>,
    /// Name.
    pub artists: Vec<(i64, Vec<String>)>,
}

/// One index per kind of result.
struct CatalogIndex {
    tracks: SearchIndex,
    albums: SearchIndex,
    artists: SearchIndex,
}

/// Ids of the best matches, best first.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Found {
    pub artists: Vec<i64>,
    pub albums: Vec<i64>,
    pub tracks: Vec<i64>,
}

/// The index a store keeps, with the catalog generation it was loaded at.
#[derive(Default)]
pub(crate) struct SearchCache {
    current: RwLock<Option<(u64, Arc<CatalogIndex>)>>,
    /// One rebuild at a time: searches that find the index stale wait for it, not build twice.
    building: Mutex<()>,
}

impl SearchCache {
    fn fresh(&self, generation: u64) -> Option<Arc<CatalogIndex>> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        current
            .as_ref()
            .filter(|(at, _)| *at >= generation)
            .map(|(_, index)| index.clone())
    }

    /// The best `limit` matches of each kind for a folded query ([`mixtape_shared::search::clean_query`]),
    /// from an index at least as new as `generation` (read before `load` runs), rebuilt from
    /// `load` if it is older.
    pub(crate) fn search(
        &self,
        generation: u64,
        query: &str,
        limit: usize,
        load: impl FnOnce() -> StorageResult<SearchDocs>,
    ) -> StorageResult<Found> {
        let index = match self.fresh(generation) {
            Some(index) => index,
            None => {
                let _one = self.building.lock().unwrap_or_else(|e| e.into_inner());
                match self.fresh(generation) {
                    Some(index) => index,
                    None => {
                        let started = Instant::now();
                        let docs = load()?;
                        let index = Arc::new(CatalogIndex {
                            tracks: SearchIndex::build(docs.tracks),
                            albums: SearchIndex::build(docs.albums),
                            artists: SearchIndex::build(docs.artists),
                        });
                        tracing::info!(
                            generation,
                            tracks = index.tracks.len(),
                            words = index.tracks.vocabulary(),
                            mib = (index.tracks.memory_bytes()
                                + index.albums.memory_bytes()
                                + index.artists.memory_bytes())
                                as f64
                                / (1024.0 * 1024.0),
                            ms = started.elapsed().as_secs_f64() * 1000.0,
                            "search index built"
                        );
                        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
                        *current = Some((generation, index.clone()));
                        index
                    }
                }
            }
        };
        Ok(Found {
            artists: index.artists.search(query, limit),
            albums: index.albums.search(query, limit),
            tracks: index.tracks.search(query, limit),
        })
    }
}

/// No artists, albums or tracks: the answer to a query with nothing to search for.
pub(crate) fn nothing() -> SearchResults {
    SearchResults {
        artists: Vec::new(),
        albums: Vec::new(),
        tracks: Vec::new(),
    }
}

/// Queries this short are answered from the sort keys (a prefix of a title or name), not the
/// index: one or two letters as typed mean "starts with".
pub(crate) fn is_short(query: &str) -> bool {
    query.chars().count() < 3
}
