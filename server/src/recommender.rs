//! The recommender's model, pure: no SQL, no IO. The storage backends (applying queued events)
//! and the offline evaluation (`tools/receval`) both run it; `crate::recs` is the service around it.
//!
//! State is integers only: each item's weight (the sum of its events' squared weights) and each
//! pair's co-occurrence weight (the sum of the products of the paired events' weights). Updates
//! are additions, so the state after a set of events does not depend on the order they arrived in:
//! an incremental state equals a full rebuild bit for bit.
//!
//! - **Co-listening**: a play pairs with the same user's plays within `window_ms` of it (the
//!   `max_window_plays` nearest in time).
//! - **Playlists**: a track added to a playlist pairs once with every track added before it.
//! - **Similarity**: `co(i, j) / (w(i)^alpha * w(j)^(1 - alpha) + shrink)` (alpha 0.5 is cosine),
//!   each item keeping its `neighbours` most similar; a candidate's score is the weighted sum of
//!   its similarities to the profile, divided by `w(j)^beta` (a popularity penalty).
//! - **Candidates**: each item keeps its `candidates` heaviest co-occurrences (by weight, then
//!   item id) as its neighbour list, maintained incrementally ([`top_update`]); similarity ranks
//!   only these, so a read is bounded. Weights only grow, so an item outside the list can only
//!   enter it by its own increase: the incremental list equals [`top_of`] over all pairs.
//! - **Content** (no history yet): shared artists, album artist, genres and era.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// A catalog item: a track id in the server, an artist id in the evaluation.
pub type Item = i64;

/// The weight of one finished play, and of one playlist addition.
pub const PLAY_WEIGHT: i64 = 100;

/// The weight a play event of `kind` carries: only finished plays say the listener liked it.
pub fn play_weight(kind: &str) -> i64 {
    match kind {
        "finish" => PLAY_WEIGHT,
        _ => 0,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Plays of one user this close in time are co-listened.
    pub window_ms: i64,
    /// At most this many plays of a window pair with a new play (the nearest in time).
    pub max_window_plays: usize,
    /// The weight of a playlist addition.
    pub playlist_weight: i64,
    pub alpha: f64,
    pub beta: f64,
    pub shrink: f64,
    /// Neighbours kept per item when scoring.
    pub neighbours: usize,
    /// Co-occurrences stored per item as its candidate neighbours (the heaviest ones).
    pub candidates: usize,
    /// The batch-trained model's share of a for-you or radio score (`crate::recs::als::blend`);
    /// the co-listening neighbours have the rest.
    pub trained_weight: f64,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            window_ms: 30 * 60 * 1000,
            max_window_plays: 64,
            playlist_weight: PLAY_WEIGHT,
            // alpha, beta and the trained model's weight: tuned on Last.fm seeds 11 to 20
            // (docs/recommendations.md), not the reported 1 to 10.
            alpha: 0.7,
            beta: 0.1,
            shrink: 0.0,
            neighbours: 100,
            candidates: 100,
            trained_weight: 0.7,
        }
    }
}

/// One positive (or ignored, weight 0) play of `item` by `user`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Play {
    pub user: i64,
    pub item: Item,
    pub at_ms: i64,
    pub weight: i64,
}

/// What the queue carries to the recommender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Play(Play),
    /// Tracks added to a playlist, in order.
    PlaylistAdd {
        playlist: String,
        items: Vec<Item>,
    },
}

/// Additions to the state; each pair once, in either order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    pub items: Vec<(Item, i64)>,
    pub pairs: Vec<(Item, Item, i64)>,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.pairs.is_empty()
    }
}

/// The plays among `candidates` (the user's plays already taken in) that `new` pairs with.
pub fn window_partners<'a>(new: &Play, candidates: &'a [Play], p: &Params) -> Vec<&'a Play> {
    let mut near: Vec<&Play> = candidates
        .iter()
        .filter(|c| {
            c.user == new.user && c.weight > 0 && (c.at_ms - new.at_ms).abs() <= p.window_ms
        })
        .collect();
    near.sort_by_key(|c| ((c.at_ms - new.at_ms).abs(), c.at_ms, c.item));
    near.truncate(p.max_window_plays);
    near
}

/// What taking in `new` adds, given the user's plays already taken in near it.
pub fn play_delta(new: &Play, candidates: &[Play], p: &Params) -> Delta {
    if new.weight <= 0 {
        return Delta::default();
    }
    let pairs = window_partners(new, candidates, p)
        .into_iter()
        .filter(|c| c.item != new.item)
        .map(|c| (new.item, c.item, new.weight * c.weight))
        .collect();
    Delta {
        items: vec![(new.item, new.weight * new.weight)],
        pairs,
    }
}

/// What adding `item` to a playlist whose tracks (taken in so far) are `members` adds; nothing
/// when it is there already.
pub fn playlist_delta(item: Item, members: &BTreeSet<Item>, p: &Params) -> Delta {
    if members.contains(&item) {
        return Delta::default();
    }
    let w = p.playlist_weight;
    Delta {
        items: vec![(item, w * w)],
        pairs: members.iter().map(|&m| (item, m, w * w)).collect(),
    }
}

/// The order of an item's candidate list: heaviest co-occurrence first, then smaller item id.
pub fn top_order(a: &(Item, i64), b: &(Item, i64)) -> std::cmp::Ordering {
    b.1.cmp(&a.1).then(a.0.cmp(&b.0))
}

/// Updates a candidate list (in [`top_order`], at most `k` long) after `item`'s co-occurrence
/// weight grew to `co`. Weights never shrink, so the list stays the `k` best of all pairs.
pub fn top_update(top: &mut Vec<(Item, i64)>, item: Item, co: i64, k: usize) {
    if k == 0 {
        return;
    }
    if let Some(at) = top.iter().position(|e| e.0 == item) {
        top.remove(at);
    } else if top.len() >= k {
        if top_order(&(item, co), &top[top.len() - 1]).is_ge() {
            return;
        }
        top.pop();
    }
    let at = top.partition_point(|e| top_order(e, &(item, co)).is_lt());
    top.insert(at, (item, co));
}

/// The reference: the `k` best of all of an item's co-occurrences, in [`top_order`].
pub fn top_of(all: impl IntoIterator<Item = (Item, i64)>, k: usize) -> Vec<(Item, i64)> {
    let mut v: Vec<(Item, i64)> = all.into_iter().collect();
    v.sort_by(top_order);
    v.truncate(k);
    v
}

/// One neighbour of an item as stored: its co-occurrence weight and its own weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    pub item: Item,
    pub co: i64,
    pub weight: i64,
}

/// Where scoring reads the state from: the in-memory [`Model`], or rows the store fetched.
pub trait Source {
    fn weight(&self, item: Item) -> i64;
    /// The item's candidate neighbours (at most `Params::candidates`, see [`top_update`]).
    fn neighbours(&self, item: Item) -> Vec<Neighbour>;
}

/// Rows fetched for a set of items (the store's answer).
#[derive(Debug, Clone, Default)]
pub struct Rows(pub HashMap<Item, (i64, Vec<Neighbour>)>);

impl Source for Rows {
    fn weight(&self, item: Item) -> i64 {
        self.0.get(&item).map_or(0, |r| r.0)
    }
    fn neighbours(&self, item: Item) -> Vec<Neighbour> {
        self.0.get(&item).map(|r| r.1.clone()).unwrap_or_default()
    }
}

fn by_score_desc(a: &(Item, f64), b: &(Item, f64)) -> std::cmp::Ordering {
    b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
}

/// The items most similar to `seed`, best first, at most `p.neighbours`.
pub fn similar(source: &dyn Source, seed: Item, p: &Params) -> Vec<(Item, f64)> {
    let w = source.weight(seed);
    if w <= 0 {
        return Vec::new();
    }
    let wi = (w as f64).powf(p.alpha);
    let mut out: Vec<(Item, f64)> = source
        .neighbours(seed)
        .into_iter()
        .filter(|n| n.co > 0 && n.weight > 0 && n.item != seed)
        .map(|n| {
            let denom = wi * (n.weight as f64).powf(1.0 - p.alpha) + p.shrink;
            (n.item, n.co as f64 / denom)
        })
        .collect();
    out.sort_by(by_score_desc);
    out.truncate(p.neighbours);
    out
}

/// Candidates for a profile (items with how much they count), best first.
pub fn score(profile: &[(Item, f64)], source: &dyn Source, p: &Params) -> Vec<(Item, f64)> {
    let mut acc: HashMap<Item, f64> = HashMap::new();
    let mut weights: HashMap<Item, i64> = HashMap::new();
    for &(item, r) in profile {
        if r <= 0.0 {
            continue;
        }
        for (j, s) in similar(source, item, p) {
            *acc.entry(j).or_default() += r * s;
        }
        if p.beta != 0.0 {
            for n in source.neighbours(item) {
                weights.insert(n.item, n.weight);
            }
        }
    }
    let mut out: Vec<(Item, f64)> = acc
        .into_iter()
        .map(|(j, s)| {
            if p.beta != 0.0 {
                let w = weights.get(&j).copied().unwrap_or(1).max(1) as f64;
                (j, s / w.powf(p.beta))
            } else {
                (j, s)
            }
        })
        .collect();
    out.sort_by(by_score_desc);
    out
}

/// A listener's profile from their recent plays, newest first: recent plays count more, and a
/// track played often counts more.
pub fn profile_from_recent(recent: &[Item]) -> Vec<(Item, f64)> {
    let mut acc: BTreeMap<Item, f64> = BTreeMap::new();
    for (rank, &item) in recent.iter().enumerate() {
        *acc.entry(item).or_default() += 0.97f64.powi(rank as i32);
    }
    acc.into_iter().collect()
}

/// Takes `n` of `ranked` (best first) with at most `max_per_group` per group (artist), then fills
/// up from what was passed over if there are not enough groups.
pub fn diversify(
    ranked: &[(Item, f64)],
    group_of: &dyn Fn(Item) -> Option<i64>,
    max_per_group: usize,
    n: usize,
) -> Vec<(Item, f64)> {
    let mut out = Vec::with_capacity(n);
    let mut skipped = Vec::new();
    let mut counts: HashMap<i64, usize> = HashMap::new();
    for &(item, s) in ranked {
        if out.len() == n {
            break;
        }
        match group_of(item) {
            Some(g) => {
                let c = counts.entry(g).or_default();
                if *c < max_per_group {
                    *c += 1;
                    out.push((item, s));
                } else {
                    skipped.push((item, s));
                }
            }
            None => out.push((item, s)),
        }
    }
    for s in skipped {
        if out.len() == n {
            break;
        }
        out.push(s);
    }
    out
}

/// What content similarity knows of a track.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContentInfo {
    pub item: Item,
    pub artists: Vec<i64>,
    pub album_artist: Option<i64>,
    pub genres: Vec<String>,
    pub year: Option<i32>,
}

/// 0 (nothing shared) to 1: shared artists, album artist, genres (Jaccard) and era (within 5
/// years).
pub fn content_similarity(a: &ContentInfo, b: &ContentInfo) -> f64 {
    if a.item == b.item {
        return 0.0;
    }
    let mut s = 0.0;
    if a.artists.iter().any(|x| b.artists.contains(x)) {
        s += 0.4;
    }
    if a.album_artist.is_some() && a.album_artist == b.album_artist {
        s += 0.2;
    }
    if !a.genres.is_empty() && !b.genres.is_empty() {
        let ga: HashSet<String> = a.genres.iter().map(|g| g.to_lowercase()).collect();
        let gb: HashSet<String> = b.genres.iter().map(|g| g.to_lowercase()).collect();
        let inter = ga.intersection(&gb).count() as f64;
        let union = ga.union(&gb).count() as f64;
        s += 0.3 * inter / union;
    }
    if let (Some(x), Some(y)) = (a.year, b.year) {
        let d = (x - y).abs() as f64;
        if d <= 5.0 {
            s += 0.1 * (1.0 - d / 6.0);
        }
    }
    s
}

/// Candidates ranked by content similarity to `seed`, best first, without the seed.
pub fn rank_by_content(seed: &ContentInfo, candidates: &[ContentInfo]) -> Vec<(Item, f64)> {
    let mut out: Vec<(Item, f64)> = candidates
        .iter()
        .map(|c| (c.item, content_similarity(seed, c)))
        .filter(|&(i, s)| i != seed.item && s > 0.0)
        .collect();
    out.sort_by(by_score_desc);
    out.dedup_by_key(|x| x.0);
    out
}

/// The whole state in memory: what the evaluation trains, and the reference the store's
/// incremental state is checked against.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub params: Params,
    items: HashMap<Item, i64>,
    pairs: HashMap<Item, HashMap<Item, i64>>,
    /// Each item's candidate list, kept up to date by [`top_update`] as pairs grow.
    top: HashMap<Item, Vec<(Item, i64)>>,
    plays: HashMap<i64, Vec<Play>>,
    playlists: HashMap<String, BTreeSet<Item>>,
    applied: HashSet<String>,
}

impl Model {
    pub fn new(params: Params) -> Self {
        Self {
            params,
            ..Self::default()
        }
    }

    /// Takes in the event with this key once; false when the key was seen before.
    pub fn apply(&mut self, key: &str, event: &Event) -> bool {
        if !self.applied.insert(key.to_string()) {
            return false;
        }
        match event {
            Event::Play(play) => {
                if play.weight <= 0 {
                    return true;
                }
                let user = self.plays.entry(play.user).or_default();
                let delta = play_delta(play, user, &self.params);
                user.push(*play);
                self.add(&delta);
            }
            Event::PlaylistAdd { playlist, items } => {
                for &item in items {
                    let members = self.playlists.entry(playlist.clone()).or_default();
                    let delta = playlist_delta(item, members, &self.params);
                    members.insert(item);
                    self.add(&delta);
                }
            }
        }
        true
    }

    pub fn add(&mut self, delta: &Delta) {
        for &(item, w) in &delta.items {
            *self.items.entry(item).or_default() += w;
        }
        let k = self.params.candidates;
        for &(a, b, w) in &delta.pairs {
            for (x, y) in [(a, b), (b, a)] {
                let co = self.pairs.entry(x).or_default().entry(y).or_default();
                *co += w;
                top_update(self.top.entry(x).or_default(), y, *co, k);
            }
        }
    }

    /// Every item's candidate list as kept incrementally, and as [`top_of`] computes it from all
    /// pairs: the two must be equal.
    #[allow(clippy::type_complexity)]
    pub fn tops(
        &self,
    ) -> (
        BTreeMap<Item, Vec<(Item, i64)>>,
        BTreeMap<Item, Vec<(Item, i64)>>,
    ) {
        let kept = self.top.iter().map(|(&a, v)| (a, v.clone())).collect();
        let reference = self
            .pairs
            .iter()
            .map(|(&a, m)| {
                (
                    a,
                    top_of(m.iter().map(|(&b, &w)| (b, w)), self.params.candidates),
                )
            })
            .filter(|(_, v)| !v.is_empty())
            .collect();
        (kept, reference)
    }

    /// Every item's weight and every pair (`a < b`), ordered: for comparing states.
    pub fn snapshot(&self) -> (BTreeMap<Item, i64>, BTreeMap<(Item, Item), i64>) {
        let items = self.items.iter().map(|(&k, &v)| (k, v)).collect();
        let pairs = self
            .pairs
            .iter()
            .flat_map(|(&a, m)| {
                m.iter()
                    .filter(move |(b, _)| a < **b)
                    .map(move |(&b, &w)| ((a, b), w))
            })
            .collect();
        (items, pairs)
    }

    /// Items by weight, heaviest first.
    pub fn popular(&self) -> Vec<(Item, i64)> {
        let mut v: Vec<(Item, i64)> = self.items.iter().map(|(&k, &v)| (k, v)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}

impl Source for Model {
    fn weight(&self, item: Item) -> i64 {
        self.items.get(&item).copied().unwrap_or(0)
    }
    fn neighbours(&self, item: Item) -> Vec<Neighbour> {
        self.top
            .get(&item)
            .map(|m| {
                m.iter()
                    .map(|&(j, co)| Neighbour {
                        item: j,
                        co,
                        weight: self.weight(j),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn play(user: i64, item: Item, at_ms: i64) -> Event {
        Event::Play(Play {
            user,
            item,
            at_ms,
            weight: PLAY_WEIGHT,
        })
    }

    #[test]
    fn plays_of_one_user_within_the_window_are_similar_and_others_are_not() {
        let mut m = Model::new(Params::default());
        m.apply("1", &play(1, 10, 0));
        m.apply("2", &play(1, 11, 60_000));
        m.apply("3", &play(1, 12, 60_000 + 31 * 60_000));
        m.apply("4", &play(2, 13, 60_000));
        let sim: Vec<Item> = similar(&m, 10, &m.params)
            .into_iter()
            .map(|x| x.0)
            .collect();
        assert_eq!(sim, vec![11]);
        assert!(!m.apply("1", &play(1, 99, 0)), "a key is taken in once");
    }

    #[test]
    fn playlist_additions_pair_with_earlier_members_once() {
        let mut m = Model::new(Params::default());
        m.apply(
            "a",
            &Event::PlaylistAdd {
                playlist: "p".into(),
                items: vec![1, 2],
            },
        );
        m.apply(
            "b",
            &Event::PlaylistAdd {
                playlist: "p".into(),
                items: vec![2, 3],
            },
        );
        let (_, pairs) = m.snapshot();
        let w = PLAY_WEIGHT * PLAY_WEIGHT;
        assert_eq!(
            pairs,
            BTreeMap::from([((1, 2), w), ((1, 3), w), ((2, 3), w)])
        );
    }

    #[test]
    fn skipped_and_started_plays_teach_nothing() {
        let mut m = Model::new(Params::default());
        for (k, kind) in ["start", "skip", "finish"].iter().enumerate() {
            m.apply(
                &k.to_string(),
                &Event::Play(Play {
                    user: 1,
                    item: k as i64,
                    at_ms: 0,
                    weight: play_weight(kind),
                }),
            );
        }
        assert_eq!(
            m.snapshot().0,
            BTreeMap::from([(2, PLAY_WEIGHT * PLAY_WEIGHT)])
        );
    }

    #[test]
    fn diversity_caps_each_artist_then_fills_up() {
        let ranked = [(1, 5.0), (2, 4.0), (3, 3.0), (4, 2.0)];
        let group = |i: Item| Some(if i < 4 { 7 } else { 8 });
        let out: Vec<Item> = diversify(&ranked, &group, 2, 3)
            .into_iter()
            .map(|x| x.0)
            .collect();
        assert_eq!(out, vec![1, 2, 4]);
    }

    #[test]
    fn content_prefers_the_same_artist_then_genre_and_era() {
        let seed = ContentInfo {
            item: 1,
            artists: vec![1],
            album_artist: Some(1),
            genres: vec!["Jazz".into()],
            year: Some(1960),
        };
        let same_artist = ContentInfo {
            item: 2,
            artists: vec![1],
            album_artist: Some(1),
            genres: vec![],
            year: None,
        };
        let same_genre = ContentInfo {
            item: 3,
            artists: vec![2],
            album_artist: Some(2),
            genres: vec!["jazz".into()],
            year: Some(1962),
        };
        let other = ContentInfo {
            item: 4,
            artists: vec![3],
            album_artist: Some(3),
            genres: vec!["Rock".into()],
            year: Some(2000),
        };
        let ranked: Vec<Item> = rank_by_content(&seed, &[other, same_genre, same_artist])
            .into_iter()
            .map(|x| x.0)
            .collect();
        assert_eq!(ranked, vec![2, 3]);
    }

    fn events() -> impl Strategy<Value = Vec<(String, Event)>> {
        let one = prop_oneof![
            4 => (0i64..3, 0i64..8, 0i64..4_000_000, prop::sample::select(vec!["finish", "skip"]))
                .prop_map(|(u, i, t, k)| Event::Play(Play { user: u, item: i, at_ms: t, weight: play_weight(k) })),
            1 => (0u8..2, prop::collection::vec(0i64..8, 1..4))
                .prop_map(|(p, items)| Event::PlaylistAdd { playlist: format!("p{p}"), items }),
        ];
        prop::collection::vec(one, 0..40).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(k, e)| (format!("e{k}"), e))
                .collect()
        })
    }

    proptest! {
        /// Events arriving in any order, some twice, make the state a rebuild in order makes.
        #[test]
        fn incremental_state_in_any_order_equals_a_rebuild(
            evs in events(),
            order in prop::collection::vec(any::<prop::sample::Index>(), 0..80),
        ) {
            let mut rebuild = Model::new(Params::default());
            for (k, e) in &evs {
                rebuild.apply(k, e);
            }
            let mut incremental = Model::new(Params::default());
            if !evs.is_empty() {
                // A random delivery order with redeliveries, then everything (at least once).
                for i in &order {
                    let (k, e) = &evs[i.index(evs.len())];
                    incremental.apply(k, e);
                }
                for (k, e) in evs.iter().rev() {
                    incremental.apply(k, e);
                }
            }
            prop_assert_eq!(incremental.snapshot(), rebuild.snapshot());
            let (kept, reference) = incremental.tops();
            prop_assert_eq!(&kept, &reference);
            prop_assert_eq!(kept, rebuild.tops().0);
        }

        /// A short candidate list (3 of up to 8 neighbours) kept incrementally is the best 3 of
        /// all pairs, whatever the order the events came in.
        #[test]
        fn candidate_lists_kept_incrementally_are_the_best_of_all_pairs(
            evs in events(),
            seed in any::<u64>(),
        ) {
            let p = Params { candidates: 3, ..Params::default() };
            let mut rebuild = Model::new(p);
            for (k, e) in &evs {
                rebuild.apply(k, e);
            }
            let mut shuffled = evs.clone();
            let mut x = seed | 1;
            for i in (1..shuffled.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                shuffled.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let mut incremental = Model::new(p);
            for (k, e) in &shuffled {
                incremental.apply(k, e);
            }
            let (kept, reference) = incremental.tops();
            prop_assert_eq!(&kept, &reference);
            prop_assert_eq!(kept, rebuild.tops().0);
        }
    }
}
