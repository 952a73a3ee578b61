//! Search of the mirrored catalog: the server's [`SearchIndex`] over the mirrored tracks, in
//! memory, rebuilt when `catalog_version` in `meta` moved; built on a thread of its own when
//! asked ahead ([`Mirror::prepare_search`]), so the first keystroke does not pay for it. The
//! rows a list shows are read from the tracks' columns ([`Mirror::search_rows`]), not parsed
//! from their JSON.

use super::*;
use mixtape_shared::search::{clean_query, fold as search_fold, words_of};
use rusqlite::OpenFlags;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// What a list of tracks shows of one: the columns of the `tracks` table, the same values as
/// the track's JSON (`artists` joined by ", ").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackSummary {
    pub id: TrackId,
    pub title: String,
    pub artists: String,
    /// The album's title, empty without an album.
    pub album: String,
    pub duration_ms: u64,
    pub content_hash: String,
    pub cover_art: Option<String>,
}

impl From<&Track> for TrackSummary {
    /// The row of a track as its JSON has it (what the columns must equal).
    fn from(t: &Track) -> Self {
        Self {
            id: t.id,
            title: t.title.clone(),
            artists: artist_names(t),
            album: t
                .album
                .as_ref()
                .map(|a| a.title.clone())
                .unwrap_or_default(),
            duration_ms: t.duration_ms,
            content_hash: t.content_hash.clone(),
            cover_art: t.cover_art.clone(),
        }
    }
}

/// The index of one mirror, shared with the thread that builds it ahead.
#[derive(Default)]
pub(super) struct IndexSlot {
    state: Mutex<SlotState>,
    done: Condvar,
}

#[derive(Default)]
struct SlotState {
    /// The index with the `catalog_version` its rows were read at.
    built: Option<(String, Arc<SearchIndex>)>,
    /// A builder thread is running (it rebuilds until it has the version it last read).
    building: bool,
}

impl IndexSlot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The version and the index of the tracks, read in one transaction so they agree.
fn load_index(conn: &Connection) -> MirrorResult<(String, SearchIndex)> {
    let tx = conn.unchecked_transaction()?;
    let version = meta(&tx, "catalog_version")?.unwrap_or_default();
    let docs: Vec<(i64, Vec<String>)> = tx
        .prepare_cached("SELECT id, title, artists, coalesce(album, '') FROM tracks")?
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                vec![
                    search_fold(&r.get::<_, String>(1)?),
                    search_fold(&r.get::<_, String>(2)?),
                    search_fold(&r.get::<_, String>(3)?),
                ],
            ))
        })?
        .collect::<Result<_, _>>()?;
    tx.finish()?;
    Ok((version, SearchIndex::build(docs)))
}

/// The builder thread: builds, keeps the index, and builds again while the version moved
/// under it; waiters are woken when it stops.
fn build_ahead(path: &Path, slot: &IndexSlot) {
    let result = (|| -> MirrorResult<()> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(10))?;
        loop {
            let (version, index) = load_index(&conn)?;
            let now = meta(&conn, "catalog_version")?.unwrap_or_default();
            let moved = now != version;
            slot.lock().built = Some((version, Arc::new(index)));
            slot.done.notify_all();
            if !moved {
                return Ok(());
            }
        }
    })();
    if let Err(e) = result {
        tracing::warn!(error = %e, "building the search index ahead failed: the first search builds it");
    }
    slot.lock().building = false;
    slot.done.notify_all();
}

impl Mirror {
    /// Search of the local catalog with the server's rules (`mixtape_shared::search`): every
    /// query word a substring of the title, artists or album (or the start of a word), case and
    /// accents aside, typos forgiven, words run together split apart; best matches first.
    /// The index lives in memory, built ahead or at the first search, and again after a pull
    /// changed tracks (in this process or another), so each keystroke costs only the lookup.
    pub fn search(&self, query: &str, limit: u32) -> MirrorResult<Vec<Track>> {
        self.tracks(&self.search_ids(query, limit)?)
    }

    /// [`Mirror::search`] as a list shows it: the same tracks in the same order, only the
    /// fields of [`TrackSummary`], read from columns (no JSON), for search as you type.
    pub fn search_rows(&self, query: &str, limit: u32) -> MirrorResult<Vec<TrackSummary>> {
        self.summaries(&self.search_ids(query, limit)?)
    }

    /// The [`TrackSummary`] of the tracks with these ids that the mirror has, in the order
    /// asked.
    pub fn summaries(&self, ids: &[TrackId]) -> MirrorResult<Vec<TrackSummary>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT title, artists, coalesce(album, ''), duration_ms, content_hash, cover_art
             FROM tracks WHERE id = ?1",
        )?;
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let row = stmt
                .query_row([id.0], |r| {
                    Ok(TrackSummary {
                        id,
                        title: r.get(0)?,
                        artists: r.get(1)?,
                        album: r.get(2)?,
                        duration_ms: r.get::<_, i64>(3)?.max(0) as u64,
                        content_hash: r.get(4)?,
                        cover_art: r.get(5)?,
                    })
                })
                .optional()?;
            out.extend(row);
        }
        Ok(out)
    }

    /// The ids of the best `limit` tracks for `query`, best first.
    pub fn search_ids(&self, query: &str, limit: u32) -> MirrorResult<Vec<TrackId>> {
        let folded = clean_query(query);
        if words_of(&folded).next().is_none() {
            return Ok(Vec::new());
        }
        Ok(self
            .search_index()?
            .search(&folded, limit as usize)
            .into_iter()
            .map(TrackId)
            .collect())
    }

    /// Starts building the search index on a thread of its own if the one in memory is not
    /// of the current catalog, so the first search finds it ready (or waits for it rather than
    /// building it twice). Call it when a list that searches opens and after a pull that
    /// changed tracks. Does nothing on a mirror opened in exclusive mode (a full disk), where
    /// a second connection could not read.
    pub fn prepare_search(&self) -> MirrorResult<()> {
        if self.exclusive {
            return Ok(());
        }
        let version = meta(&self.conn, "catalog_version")?.unwrap_or_default();
        {
            let mut state = self.search.lock();
            let current = state.built.as_ref().is_some_and(|(v, _)| *v == version);
            if current || state.building {
                return Ok(());
            }
            state.building = true;
        }
        let slot = self.search.clone();
        let path = self.path.clone();
        let spawned = std::thread::Builder::new()
            .name("mirror-search-index".into())
            .spawn(move || build_ahead(&path, &slot));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no thread to build the search index ahead");
            self.search.lock().building = false;
        }
        Ok(())
    }

    /// Whether the search index of the current catalog is in memory (a search would not wait).
    pub fn search_ready(&self) -> MirrorResult<bool> {
        let version = meta(&self.conn, "catalog_version")?.unwrap_or_default();
        let state = self.search.lock();
        Ok(state.built.as_ref().is_some_and(|(v, _)| *v == version))
    }

    /// The search index of the current catalog: the one in memory, the one being built ahead
    /// (waited for), or one built here.
    pub fn search_index(&self) -> MirrorResult<Arc<SearchIndex>> {
        let version = meta(&self.conn, "catalog_version")?.unwrap_or_default();
        {
            let mut state = self.search.lock();
            loop {
                if let Some((built, index)) = &state.built
                    && *built == version
                {
                    return Ok(index.clone());
                }
                if !state.building {
                    break;
                }
                state = self
                    .search
                    .done
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
        let (built, index) = load_index(&self.conn)?;
        let index = Arc::new(index);
        self.search.lock().built = Some((built, index.clone()));
        Ok(index)
    }
}
