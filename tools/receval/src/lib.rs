//! Offline evaluation of the recommender on the Last.fm HetRec 2011 play counts: artists are the
//! items, each (user, artist, plays) row one event of weight `log(1 + plays)`, fed through the
//! same `mixtape_server::recs::model` the server's worker runs. Leave-one-out split as the data
//! set's README describes it (Python `random.Random(seed).choice` per user with at least 5
//! artists, users in sorted order, rows in file order), reproduced with the same Mersenne Twister.

use mixtape_server::recs::als::{self, AlsParams, Factors, Interactions};
use mixtape_server::recs::model::{Event, Item, Model, Params, Play};
use mixtape_server::recs::rank_profile;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// Python's `random.Random`: MT19937 seeded by `init_by_array`, `choice` by rejection sampling.
pub struct PyRandom {
    mt: [u32; 624],
    index: usize,
}

impl PyRandom {
    pub fn new(seed: u32) -> Self {
        let mut r = Self {
            mt: [0; 624],
            index: 624,
        };
        r.init_genrand(19_650_218);
        let key = [seed];
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..624usize.max(key.len()) {
            let prev = r.mt[i - 1] ^ (r.mt[i - 1] >> 30);
            r.mt[i] = (r.mt[i] ^ prev.wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= 624 {
                r.mt[0] = r.mt[623];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..623 {
            let prev = r.mt[i - 1] ^ (r.mt[i - 1] >> 30);
            r.mt[i] = (r.mt[i] ^ prev.wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= 624 {
                r.mt[0] = r.mt[623];
                i = 1;
            }
        }
        r.mt[0] = 0x8000_0000;
        r
    }

    fn init_genrand(&mut self, s: u32) {
        self.mt[0] = s;
        for i in 1..624 {
            self.mt[i] = 1_812_433_253u32
                .wrapping_mul(self.mt[i - 1] ^ (self.mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        self.index = 624;
    }

    pub fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            for i in 0..624 {
                let y = (self.mt[i] & 0x8000_0000) | (self.mt[(i + 1) % 624] & 0x7fff_ffff);
                let mut v = self.mt[(i + 397) % 624] ^ (y >> 1);
                if y & 1 != 0 {
                    v ^= 0x9908_b0df;
                }
                self.mt[i] = v;
            }
            self.index = 0;
        }
        let mut y = self.mt[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// `random.Random._randbelow` for n < 2^32.
    pub fn below(&mut self, n: usize) -> usize {
        let k = usize::BITS - n.leading_zeros();
        loop {
            let r = (self.next_u32() >> (32 - k)) as usize;
            if r < n {
                return r;
            }
        }
    }
}

/// `userID -> [(artistID, plays)]` in file order.
pub type Data = BTreeMap<i64, Vec<(i64, i64)>>;

pub fn load(dir: &Path) -> anyhow::Result<Data> {
    let text = std::fs::read_to_string(dir.join("user_artists.dat"))?;
    let mut data = Data::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 3 {
            continue;
        }
        data.entry(f[0].trim().parse()?)
            .or_default()
            .push((f[1].trim().parse()?, f[2].trim().parse()?));
    }
    Ok(data)
}

pub struct Split {
    pub train: Data,
    /// `user -> held-out artist`.
    pub test: BTreeMap<i64, i64>,
}

pub fn split(data: &Data, seed: u32) -> Split {
    let mut rng = PyRandom::new(seed);
    let mut train = Data::new();
    let mut test = BTreeMap::new();
    for (&user, rows) in data {
        if rows.len() >= 5 {
            let k = rng.below(rows.len());
            test.insert(user, rows[k].0);
            let mut rest = rows.clone();
            rest.remove(k);
            train.insert(user, rest);
        } else {
            train.insert(user, rows.clone());
        }
    }
    Split { train, test }
}

/// Event weight of a play count, in the model's integer units.
pub fn weight(plays: i64) -> i64 {
    ((1.0 + plays.max(0) as f64).ln() * 1000.0).round().max(1.0) as i64
}

/// The server's parameters (`Params::default()`), except that every artist of a user is listened
/// "together" (one window, no cap): the data has no times.
pub fn served_params() -> Params {
    Params {
        window_ms: 1,
        max_window_plays: usize::MAX,
        ..Params::default()
    }
}

/// Fits the trained model on `train` as the server's trainer does: one row per user, a cell per
/// artist with its play count (`mixtape_server::recs::trainer` gives finished plays per track).
pub fn train_factors(train: &Data, p: &AlsParams) -> Factors {
    let cells = train
        .values()
        .enumerate()
        .flat_map(|(row, rows)| rows.iter().map(move |&(a, n)| (row as u32, a, n as f64)))
        .collect();
    let data = Interactions::new(cells, p);
    als::train(&data, p, &std::sync::atomic::AtomicBool::new(false)).expect("not stopped")
}

/// Trains the model on `train` through `Model::apply`, as the worker takes in events.
pub fn train(train: &Data, params: Params) -> Model {
    let mut m = Model::new(params);
    for (&user, rows) in train {
        for &(artist, plays) in rows {
            let event = Event::Play(Play {
                user,
                item: artist,
                at_ms: 0,
                weight: weight(plays),
            });
            m.apply(&format!("{user}:{artist}"), &event);
        }
    }
    m
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Scores {
    pub hit_rate: f64,
    pub ndcg: f64,
    pub users: usize,
}

fn evaluate(split: &Split, mut recommend: impl FnMut(i64, &HashSet<Item>) -> Vec<Item>) -> Scores {
    let (mut hits, mut ndcg) = (0.0, 0.0);
    for (&user, &held) in &split.test {
        let seen: HashSet<Item> = split.train[&user].iter().map(|r| r.0).collect();
        let top = recommend(user, &seen);
        if let Some(rank) = top.iter().take(10).position(|&i| i == held) {
            hits += 1.0;
            ndcg += 1.0 / ((rank + 2) as f64).log2();
        }
    }
    let n = split.test.len().max(1) as f64;
    Scores {
        hit_rate: hits / n,
        ndcg: ndcg / n,
        users: split.test.len(),
    }
}

/// The recommender as served: the user's training artists with their play counts as the
/// profile, ranked by `recs::rank_profile` (the neighbours, blended with the trained model when
/// `als` is given).
pub fn eval_model(split: &Split, params: Params, als: Option<&AlsParams>) -> Scores {
    let m = train(&split.train, params);
    let factors = als.map(|p| train_factors(&split.train, p));
    eval_trained(split, &m, factors.as_ref(), &params)
}

/// [`eval_model`] with the neighbour model and the factors already trained (`params` may differ
/// from the model's in how it ranks: alpha, beta, neighbours, the trained model's weight).
pub fn eval_trained(
    split: &Split,
    m: &Model,
    factors: Option<&Factors>,
    params: &Params,
) -> Scores {
    let popular: Vec<Item> = m.popular().into_iter().map(|x| x.0).collect();
    evaluate(split, |user, seen| {
        let profile: Vec<(Item, f64)> = split.train[&user]
            .iter()
            .map(|&(a, p)| (a, p as f64))
            .collect();
        let mut out: Vec<Item> = rank_profile(&profile, m, factors, params)
            .into_iter()
            .map(|x| x.0)
            .filter(|i| !seen.contains(i))
            .take(10)
            .collect();
        // A user whose artists nobody else played: fill with popular ones.
        for &p in &popular {
            if out.len() >= 10 {
                break;
            }
            if !seen.contains(&p) && !out.contains(&p) {
                out.push(p);
            }
        }
        out
    })
}

/// Artists by how many users played them.
pub fn eval_popularity(split: &Split) -> Scores {
    let mut count: BTreeMap<Item, usize> = BTreeMap::new();
    for rows in split.train.values() {
        for r in rows {
            *count.entry(r.0).or_default() += 1;
        }
    }
    let mut ranked: Vec<(Item, usize)> = count.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    evaluate(split, |_, seen| {
        ranked
            .iter()
            .map(|x| x.0)
            .filter(|i| !seen.contains(i))
            .take(10)
            .collect()
    })
}

/// Ten artists at random among those the user has not played.
pub fn eval_random(split: &Split, seed: u32) -> Scores {
    let items: Vec<Item> = split
        .train
        .values()
        .flatten()
        .map(|r| r.0)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut rng = PyRandom::new(seed.wrapping_add(1000));
    evaluate(split, |_, seen| {
        let mut out = Vec::new();
        while out.len() < 10 {
            let i = items[rng.below(items.len())];
            if !seen.contains(&i) && !out.contains(&i) {
                out.push(i);
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_random_is_reproduced() {
        // random.Random(1).getrandbits(32) for the first three draws.
        let mut r = PyRandom::new(1);
        assert_eq!(
            [r.next_u32(), r.next_u32(), r.next_u32()],
            [577_090_037, 2_444_712_010, 3_639_700_191]
        );
    }
}
