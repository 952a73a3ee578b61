//! Recommendations: "for you", similar tracks and radio, from a model the worker keeps up to
//! date as events arrive through the durable queue.
//!
//! - [`model`]: the recommender itself, pure (also run by `tools/receval` on Last.fm data).
//! - [`queue`]: the queue trait (embedded impl in `storage::sqlite::queue`; broker mapping in
//!   its docs).
//! - [`worker`]: the in-process consumer.
//! - [`als`]: the batch-trained model (matrix factorisation), pure; [`trainer`]: the background
//!   job that fits and stores it on the recs lease's holder, and the loader every node serves
//!   the stored version from.
//!
//! This module reads the model's rows through the `Store` and ranks; it knows no HTTP.

/// The recommender itself is pure and lives in `crate::recommender`; storage backends run it.
pub use crate::recommender as model;
pub mod als;
pub mod queue;
pub mod trainer;
pub mod worker;

#[cfg(test)]
mod tests;

use crate::storage::{PageRequest, SortOrder, StorageError, Store, TrackSort};
use mixtape_shared::TrackId;
use mixtape_shared::api::{PlayEventKind, Track, User};
use model::{ContentInfo, Item, Params};
use queue::EventQueue;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use worker::WorkerStats;

/// At most this many items a page.
pub const MAX_LIMIT: u32 = 100;
/// Radio remembers this many tracks it played (in its cursor) and does not repeat them.
pub const RADIO_MEMORY: usize = 200;
/// For-you scores from at most this many of the listener's recent tracks (the ones that count
/// most), each with at most `Params::candidates` neighbours: a bounded read.
pub const PROFILE_ITEMS: usize = 50;
/// For-you and radio give at most this many tracks of one artist a page.
pub const MAX_PER_ARTIST: usize = 2;

/// The served ranking of a profile `(item, plays)` (plays may be fractional: decayed counts):
/// the co-listening candidates of its [`PROFILE_ITEMS`] most played items (weighted by
/// `ln(1 + plays)`: a bounded read of neighbour rows), re-ranked with the trained model when one
/// is loaded ([`als::blend`]; the listener's vector is folded in from the whole profile, which
/// costs no read). What for-you and radio serve, and what `tools/receval` evaluates.
pub fn rank_profile(
    profile: &[(Item, f64)],
    source: &dyn model::Source,
    trained: Option<&als::Factors>,
    p: &Params,
) -> Vec<(Item, f64)> {
    let mut profile: Vec<(Item, f64)> = profile.iter().filter(|x| x.1 > 0.0).copied().collect();
    profile.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let weighted: Vec<(Item, f64)> = profile
        .iter()
        .take(PROFILE_ITEMS)
        .map(|&(i, n)| (i, n.ln_1p()))
        .collect();
    let ranked = model::score(&weighted, source, p);
    match trained {
        Some(f) => als::blend(ranked, f.fold_in(&profile).as_deref(), f, p.trained_weight),
        None => ranked,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecsError {
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub use crate::storage::RecsSummary;

/// Why a track is recommended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Listened to (or put in playlists) together with what you played or the seed.
    CoListened,
    /// Same artist, album artist, genres or era.
    Content,
    /// Much played on this server.
    Popular,
    /// From the catalog, to keep a radio going.
    Catalog,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Recommendation {
    pub track: Track,
    pub score: f64,
    pub reason: Reason,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Recommendations {
    pub items: Vec<Recommendation>,
    /// Radio only: pass it back as `cursor` for the next tracks (never null: radio is endless).
    pub next_cursor: Option<String>,
}

/// What the handlers need: the store, the queue, the model's parameters and the trained model
/// this node serves.
pub struct Recs {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn EventQueue>,
    pub params: Params,
    pub stats: Arc<WorkerStats>,
    pub trained: Arc<trainer::TrainedModel>,
}

/// A radio seed: `track:ID` or `artist:ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Seed {
    Track(i64),
    Artist(i64),
}

impl Seed {
    pub fn parse(s: &str) -> Result<Self, RecsError> {
        let bad = || RecsError::Invalid(format!("seed {s:?}: use track:ID or artist:ID"));
        let (kind, id) = s.split_once(':').ok_or_else(bad)?;
        let id: i64 = id.parse().map_err(|_| bad())?;
        match kind {
            "track" => Ok(Self::Track(id)),
            "artist" => Ok(Self::Artist(id)),
            _ => Err(bad()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RadioCursor {
    seed: Seed,
    played: Vec<i64>,
}

impl RadioCursor {
    fn encode(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(self).expect("cursor serializes"))
    }
    fn decode(s: &str) -> Result<Self, RecsError> {
        use base64::Engine;
        let bad = || RecsError::Invalid("invalid radio cursor".into());
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| bad())?;
        serde_json::from_slice(&bytes).map_err(|_| bad())
    }
}

fn check_limit(limit: Option<u32>) -> Result<usize, RecsError> {
    let limit = limit.unwrap_or(20);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(RecsError::Invalid(format!("limit must be 1-{MAX_LIMIT}")));
    }
    Ok(limit as usize)
}

/// Ranked candidates from several sources: the first source to name an item keeps it.
#[derive(Default)]
struct Pool {
    ranked: Vec<(Item, f64, Reason)>,
    seen: HashSet<Item>,
}

impl Pool {
    fn extend(
        &mut self,
        items: impl IntoIterator<Item = (Item, f64)>,
        reason: Reason,
        exclude: &HashSet<Item>,
    ) {
        for (i, s) in items {
            if !exclude.contains(&i) && self.seen.insert(i) {
                self.ranked.push((i, s, reason));
            }
        }
    }
    fn len(&self) -> usize {
        self.ranked.len()
    }
}

impl Recs {
    /// Candidates for `profile` (`(item, plays)`) by [`rank_profile`]: the neighbour lists of
    /// its most played items, blended with the trained model this node serves; minus `exclude`.
    fn co_listened(
        &self,
        profile: &[(Item, f64)],
        exclude: &HashSet<Item>,
    ) -> Result<Pool, RecsError> {
        let mut profile = profile.to_vec();
        profile.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        // Only the items `rank_profile` scores neighbours of (the fold-in reads nothing).
        let rows = self.store.recs_rows(
            &profile
                .iter()
                .take(PROFILE_ITEMS)
                .map(|x| x.0)
                .collect::<Vec<_>>(),
        )?;
        let trained = self.trained.current();
        let mut pool = Pool::default();
        pool.extend(
            rank_profile(
                &profile,
                &rows,
                trained.as_deref().map(|t| &t.factors),
                &self.params,
            ),
            Reason::CoListened,
            exclude,
        );
        Ok(pool)
    }

    fn content_for(&self, seeds: &[Item], per_seed: usize) -> Result<Vec<(Item, f64)>, RecsError> {
        let mut out = Vec::new();
        for info in self.store.recs_content_info(seeds)? {
            let cands = self.store.recs_content_candidates(&info, 100)?;
            out.extend(
                model::rank_by_content(&info, &cands)
                    .into_iter()
                    .take(per_seed),
            );
        }
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(out)
    }

    /// Picks `n` of the pool (diverse across artists) and loads the tracks, in rank order.
    fn finish(
        &self,
        pool: Pool,
        n: usize,
        diverse: bool,
    ) -> Result<Vec<Recommendation>, RecsError> {
        // Only as many as can be used: diversity looks a few pages ahead.
        let head: Vec<(Item, f64, Reason)> = pool.ranked.into_iter().take(n * 8 + 50).collect();
        let reasons: HashMap<Item, Reason> = head.iter().map(|x| (x.0, x.2)).collect();
        let scored: Vec<(Item, f64)> = head.iter().map(|x| (x.0, x.1)).collect();
        let picked = if diverse {
            let infos: HashMap<Item, ContentInfo> = self
                .store
                .recs_content_info(&scored.iter().map(|x| x.0).collect::<Vec<_>>())?
                .into_iter()
                .map(|c| (c.item, c))
                .collect();
            let group = |i: Item| {
                infos
                    .get(&i)
                    .and_then(|c| c.artists.first().copied().or(c.album_artist))
            };
            // Tracks no longer in the catalog drop out before picking.
            let present: Vec<(Item, f64)> = scored
                .into_iter()
                .filter(|x| infos.contains_key(&x.0))
                .collect();
            model::diversify(&present, &group, MAX_PER_ARTIST, n)
        } else {
            scored.into_iter().take(n * 2).collect()
        };
        let ids: Vec<TrackId> = picked.iter().map(|x| TrackId(x.0)).collect();
        let mut tracks: HashMap<i64, Track> = self
            .store
            .tracks_by_ids(&ids)?
            .into_iter()
            .map(|t| (t.id.0, t))
            .collect();
        Ok(picked
            .into_iter()
            .filter_map(|(i, s)| {
                tracks.remove(&i).map(|track| Recommendation {
                    track,
                    score: s,
                    reason: reasons[&i],
                })
            })
            .take(n)
            .collect())
    }

    fn popular(&self, n: u32) -> Result<Vec<(Item, f64)>, RecsError> {
        Ok(self
            .store
            .recs_popular(n)?
            .into_iter()
            .map(|(i, w)| (i, w as f64 * 1e-9))
            .collect())
    }

    fn catalog(&self, n: u32) -> Result<Vec<(Item, f64)>, RecsError> {
        let page = self.store.list_tracks(&PageRequest {
            sort: TrackSort::Added,
            order: SortOrder::Desc,
            limit: n,
            after: None,
        })?;
        Ok(page.items.into_iter().map(|t| (t.id.0, 0.0)).collect())
    }

    /// From the user's recent finished plays, without what they heard lately, diverse across
    /// artists; popular tracks when they have not played anything yet.
    pub fn for_you(
        &self,
        user: &User,
        limit: Option<u32>,
    ) -> Result<Vec<Recommendation>, RecsError> {
        let n = check_limit(limit)?;
        let (_, history) = self.store.play_history(user.id, None, 200)?;
        let heard: HashSet<Item> = history.iter().map(|e| e.track_id.0).collect();
        let recent: Vec<Item> = history
            .iter()
            .filter(|e| e.kind == PlayEventKind::Finish)
            .map(|e| e.track_id.0)
            .collect();
        let mut profile = model::profile_from_recent(&recent);
        profile.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut pool = self.co_listened(&profile, &heard)?;
        if pool.len() < n * 3 {
            let seeds: Vec<Item> = profile.iter().take(5).map(|x| x.0).collect();
            pool.extend(self.content_for(&seeds, n)?, Reason::Content, &heard);
        }
        if pool.len() < n * 3 {
            pool.extend(self.popular((n * 4) as u32)?, Reason::Popular, &heard);
        }
        if pool.len() < n {
            pool.extend(self.catalog((n * 4) as u32)?, Reason::Catalog, &heard);
        }
        self.finish(pool, n, true)
    }

    /// Tracks played together with this one, then tracks like it (content) when it has little
    /// history.
    pub fn similar(
        &self,
        track: TrackId,
        limit: Option<u32>,
    ) -> Result<Vec<Recommendation>, RecsError> {
        let n = check_limit(limit)?;
        if self.store.track(track)?.is_none() {
            return Err(RecsError::NotFound("track"));
        }
        let rows = self.store.recs_rows(&[track.0])?;
        let exclude = HashSet::from([track.0]);
        let mut pool = Pool::default();
        pool.extend(
            model::similar(&rows, track.0, &self.params),
            Reason::CoListened,
            &exclude,
        );
        if pool.len() < n {
            pool.extend(
                self.content_for(&[track.0], n * 2)?,
                Reason::Content,
                &exclude,
            );
        }
        self.finish(pool, n, false)
    }

    /// A page of an endless radio: like the seed and what the radio played lately, never a track
    /// among the last [`RADIO_MEMORY`] it played. Pass `next_cursor` back for more.
    pub fn radio(
        &self,
        seed: Option<&str>,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Recommendations, RecsError> {
        let n = check_limit(limit)?;
        let mut state = match (seed, cursor) {
            (_, Some(c)) => RadioCursor::decode(c)?,
            (Some(s), None) => RadioCursor {
                seed: Seed::parse(s)?,
                played: Vec::new(),
            },
            (None, None) => {
                return Err(RecsError::Invalid(
                    "give seed=track:ID|artist:ID, or a cursor".into(),
                ));
            }
        };
        let seeds: Vec<Item> = match state.seed {
            Seed::Track(id) => {
                if self.store.track(TrackId(id))?.is_none() {
                    return Err(RecsError::NotFound("track"));
                }
                vec![id]
            }
            Seed::Artist(id) => {
                let tracks = self.store.recs_artist_tracks(id, 50)?;
                if tracks.is_empty() {
                    return Err(RecsError::NotFound("artist"));
                }
                tracks
            }
        };
        let mut exclude: HashSet<Item> = state.played.iter().copied().collect();
        if let Seed::Track(id) = state.seed {
            exclude.insert(id);
        }
        let page = self.radio_page(&seeds, &state.played, &exclude, n)?;
        let page = if page.is_empty() && !state.played.is_empty() {
            // Everything it could find was played: start a new round.
            state.played.clear();
            self.radio_page(&seeds, &[], &HashSet::new(), n)?
        } else {
            page
        };
        state.played.extend(page.iter().map(|r| r.track.id.0));
        let drop = state.played.len().saturating_sub(RADIO_MEMORY);
        state.played.drain(..drop);
        Ok(Recommendations {
            items: page,
            next_cursor: Some(state.encode()),
        })
    }

    fn radio_page(
        &self,
        seeds: &[Item],
        played: &[Item],
        exclude: &HashSet<Item>,
        n: usize,
    ) -> Result<Vec<Recommendation>, RecsError> {
        let mut profile: HashMap<Item, f64> = seeds.iter().map(|&s| (s, 1.0)).collect();
        for (k, &p) in played.iter().rev().take(20).enumerate() {
            *profile.entry(p).or_default() += 0.5 * 0.9f64.powi(k as i32);
        }
        let profile: Vec<(Item, f64)> = profile.into_iter().collect();
        let mut pool = self.co_listened(&profile, exclude)?;
        if pool.len() < n * 3 {
            let firsts: Vec<Item> = seeds
                .iter()
                .take(3)
                .copied()
                .chain(played.iter().rev().take(2).copied())
                .collect();
            pool.extend(self.content_for(&firsts, n * 4)?, Reason::Content, exclude);
        }
        if pool.len() < n * 3 {
            pool.extend(
                self.popular(RADIO_MEMORY as u32 + (n * 4) as u32)?,
                Reason::Popular,
                exclude,
            );
        }
        if pool.len() < n {
            pool.extend(
                self.catalog(RADIO_MEMORY as u32 + (n * 4) as u32)?,
                Reason::Catalog,
                exclude,
            );
        }
        self.finish(pool, n, true)
    }

    /// Forgets the model and takes in the whole event history again.
    pub fn rebuild(&self) -> Result<u64, RecsError> {
        Ok(self.store.recs_rebuild(&self.params, worker::now_ms())?)
    }
}
