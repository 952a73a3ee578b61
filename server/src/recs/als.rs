//! The batch-trained model: implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008),
//! fitted by alternating least squares with a few conjugate-gradient steps per row (Takács et
//! al. 2011, as the `implicit` library does). Pure: no IO. The trainer (`super::trainer`) fits it
//! in the background; every node loads the stored [`Factors`] and blends them with the
//! co-listening neighbours at request time ([`blend`]).
//!
//! Rows are listeners (their finished plays) and playlists (their tracks); a cell's confidence is
//! `1 + confidence_scale * ln(1 + plays)`. Only item factors are kept: a listener's vector is
//! folded in at request time from their profile ([`Factors::fold_in`], the exact least-squares
//! solution the training's user step computes), so a new play counts before the next training.
//!
//! Bounded: memory is `(rows + items) * factors * 4` bytes for the factors plus 16 bytes a
//! distinct (row, item) cell for the two sparse copies; time is linear in cells and rows/items
//! times `factors^2` per iteration, on at most `threads` threads.

use super::model::Item;
use nalgebra::{DMatrix, DVector};
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlsParams {
    pub factors: usize,
    pub regularization: f32,
    pub iterations: usize,
    /// Conjugate-gradient steps per row and half-iteration (warm-started from the last solve).
    pub cg_steps: usize,
    /// How much a play count adds to a cell's confidence (over the 1 every cell has).
    pub confidence_scale: f32,
    /// Threads the training runs on.
    pub threads: usize,
    /// The initial factors' random seed (a training is deterministic for a given thread count).
    pub seed: u64,
}

impl Default for AlsParams {
    fn default() -> Self {
        Self {
            factors: 64,
            regularization: 0.05,
            iterations: 15,
            cg_steps: 3,
            // Tuned with the blend on Last.fm seeds 11 to 20 (1, 2 and 4 tried).
            confidence_scale: 1.0,
            threads: 1,
            seed: 42,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AlsError {
    #[error("training stopped")]
    Stopped,
    #[error("stored model is unreadable: {0}")]
    Corrupt(String),
}

/// The training input: one row per listener or playlist, `(item, plays)` cells.
#[derive(Debug, Clone, Default)]
pub struct Interactions {
    /// The distinct items, ascending: the factors' order.
    pub items: Vec<Item>,
    rows: usize,
    /// Row-major cells: `row_ptr[r]..row_ptr[r + 1]` index `row_items` / `row_conf`.
    row_ptr: Vec<usize>,
    row_items: Vec<u32>,
    row_conf: Vec<f32>,
    /// The same cells by item.
    item_ptr: Vec<usize>,
    item_rows: Vec<u32>,
    item_conf: Vec<f32>,
}

/// A cell's confidence for `plays` plays (fractional for decayed profile counts).
pub fn confidence(plays: f64, p: &AlsParams) -> f32 {
    1.0 + p.confidence_scale * (1.0 + plays.max(0.0)).ln() as f32
}

impl Interactions {
    /// Cells `(row, item, plays)`, in any order; repeated cells add up. Rows are `0..rows`.
    pub fn new(mut cells: Vec<(u32, Item, f64)>, p: &AlsParams) -> Self {
        let rows = cells.iter().map(|c| c.0 as usize + 1).max().unwrap_or(0);
        let mut items: Vec<Item> = cells.iter().map(|c| c.1).collect();
        items.sort_unstable();
        items.dedup();
        cells.sort_unstable_by_key(|c| (c.0, c.1));
        cells.dedup_by(|b, a| {
            let same = a.0 == b.0 && a.1 == b.1;
            if same {
                a.2 += b.2;
            }
            same
        });
        let mut row_ptr = vec![0usize; rows + 1];
        let mut row_items = Vec::with_capacity(cells.len());
        let mut row_conf = Vec::with_capacity(cells.len());
        let mut item_count = vec![0usize; items.len() + 1];
        for &(r, item, plays) in &cells {
            let i = items.binary_search(&item).expect("every item is listed") as u32;
            row_ptr[r as usize + 1] += 1;
            row_items.push(i);
            row_conf.push(confidence(plays, p));
            item_count[i as usize + 1] += 1;
        }
        let row_of: Vec<u32> = cells.iter().map(|c| c.0).collect();
        drop(cells);
        for r in 0..rows {
            row_ptr[r + 1] += row_ptr[r];
        }
        for i in 0..items.len() {
            item_count[i + 1] += item_count[i];
        }
        let item_ptr = item_count.clone();
        let mut next = item_count;
        let mut item_rows = vec![0u32; row_items.len()];
        let mut item_conf = vec![0f32; row_items.len()];
        for (k, &i) in row_items.iter().enumerate() {
            let at = &mut next[i as usize];
            item_rows[*at] = row_of[k];
            item_conf[*at] = row_conf[k];
            *at += 1;
        }
        Self {
            items,
            rows,
            row_ptr,
            row_items,
            row_conf,
            item_ptr,
            item_rows,
            item_conf,
        }
    }

    pub fn cells(&self) -> usize {
        self.row_items.len()
    }

    pub fn rows(&self) -> usize {
        self.rows
    }
}

/// The trained item factors, what every node serves.
#[derive(Debug, Clone, PartialEq)]
pub struct Factors {
    pub dim: usize,
    pub regularization: f32,
    /// The confidence scale the factors were trained with (fold-in uses the same).
    pub confidence_scale: f32,
    /// Ascending; `vectors[k * dim..(k + 1) * dim]` is `items[k]`'s.
    pub items: Vec<Item>,
    pub vectors: Vec<f32>,
    /// `Yᵀ Y + regularization · I`, for fold-in.
    gram: Vec<f64>,
}

/// xorshift64*: the initial factors, deterministic for a seed.
fn init(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.max(1);
    (0..n * dim)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            let u = (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 / (1u64 << 24) as f32;
            u * 0.01
        })
        .collect()
}

/// `Yᵀ Y + reg · I` of `n` vectors of `dim` (column-major view: one column a vector).
fn gram(y: &[f32], dim: usize, reg: f32) -> DMatrix<f32> {
    let n = y.len() / dim.max(1);
    let view = nalgebra::DMatrixView::<f32>::from_slice(y, dim, n);
    let mut g = view * view.transpose();
    for k in 0..dim {
        g[(k, k)] += reg;
    }
    g
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn axpy(out: &mut [f32], a: f32, x: &[f32]) {
    for (o, v) in out.iter_mut().zip(x) {
        *o += a * v;
    }
}

/// One row's least-squares update by conjugate gradient, warm-started from `x`:
/// `(G + Σ (c - 1) y yᵀ) x = Σ c y` over the row's cells.
#[allow(clippy::too_many_arguments)]
fn cg_row(
    x: &mut [f32],
    other: &[f32],
    cells: &[u32],
    conf: &[f32],
    g: &DMatrix<f32>,
    steps: usize,
    scratch: &mut [Vec<f32>; 3],
) {
    let dim = x.len();
    let y = |i: u32| &other[i as usize * dim..(i as usize + 1) * dim];
    let [r, ap, p] = scratch;
    // r = b - A x
    let gs = g.as_slice();
    for k in 0..dim {
        r[k] = -dot(&gs[k * dim..(k + 1) * dim], x);
    }
    for (&i, &c) in cells.iter().zip(conf) {
        let yi = y(i);
        axpy(r, c - (c - 1.0) * dot(yi, x), yi);
    }
    p.copy_from_slice(r);
    let mut rs_old = dot(r, r);
    for _ in 0..steps {
        if rs_old < 1e-20 {
            break;
        }
        for k in 0..dim {
            ap[k] = dot(&gs[k * dim..(k + 1) * dim], p);
        }
        for (&i, &c) in cells.iter().zip(conf) {
            let yi = y(i);
            axpy(ap, (c - 1.0) * dot(yi, p), yi);
        }
        let pap = dot(p, ap);
        if pap <= 0.0 {
            break;
        }
        let alpha = rs_old / pap;
        axpy(x, alpha, p);
        axpy(r, -alpha, ap);
        let rs_new = dot(r, r);
        let beta = rs_new / rs_old;
        for (pk, rk) in p.iter_mut().zip(r.iter()) {
            *pk = rk + beta * *pk;
        }
        rs_old = rs_new;
    }
}

/// Updates every row of `x` (the side being solved) against `other`, on `threads` threads.
#[allow(clippy::too_many_arguments)]
fn half_step(
    x: &mut [f32],
    other: &[f32],
    ptr: &[usize],
    cells: &[u32],
    conf: &[f32],
    dim: usize,
    p: &AlsParams,
    stop: &AtomicBool,
) -> Result<(), AlsError> {
    let g = gram(other, dim, p.regularization);
    let rows = ptr.len() - 1;
    let threads = p.threads.max(1);
    let per = rows.div_ceil(threads).max(1);
    let stopped = AtomicBool::new(false);
    std::thread::scope(|s| {
        for (t, chunk) in x.chunks_mut(per * dim).enumerate() {
            let (g, stopped) = (&g, &stopped);
            s.spawn(move || {
                let mut scratch = [vec![0f32; dim], vec![0f32; dim], vec![0f32; dim]];
                for (k, xr) in chunk.chunks_mut(dim).enumerate() {
                    if k % 1024 == 0 && stop.load(Ordering::Relaxed) {
                        stopped.store(true, Ordering::Relaxed);
                        return;
                    }
                    let r = t * per + k;
                    let span = ptr[r]..ptr[r + 1];
                    cg_row(
                        xr,
                        other,
                        &cells[span.clone()],
                        &conf[span],
                        g,
                        p.cg_steps,
                        &mut scratch,
                    );
                }
            });
        }
    });
    if stopped.load(Ordering::Relaxed) {
        return Err(AlsError::Stopped);
    }
    Ok(())
}

/// Fits the factors; `stop` ends the training early ([`AlsError::Stopped`]).
pub fn train(data: &Interactions, p: &AlsParams, stop: &AtomicBool) -> Result<Factors, AlsError> {
    let dim = p.factors;
    let mut users = init(data.rows, dim, p.seed);
    let mut items = init(data.items.len(), dim, p.seed ^ 0x9e37_79b9_7f4a_7c15);
    for _ in 0..p.iterations {
        half_step(
            &mut users,
            &items,
            &data.row_ptr,
            &data.row_items,
            &data.row_conf,
            dim,
            p,
            stop,
        )?;
        half_step(
            &mut items,
            &users,
            &data.item_ptr,
            &data.item_rows,
            &data.item_conf,
            dim,
            p,
            stop,
        )?;
    }
    Ok(Factors::new(
        dim,
        p.regularization,
        p.confidence_scale,
        data.items.clone(),
        items,
    ))
}

const MAGIC: &[u8; 8] = b"MXALS\x00\x00\x01";

impl Factors {
    pub fn new(
        dim: usize,
        regularization: f32,
        confidence_scale: f32,
        items: Vec<Item>,
        vectors: Vec<f32>,
    ) -> Self {
        let g = gram(&vectors, dim, regularization);
        Self {
            dim,
            regularization,
            confidence_scale,
            items,
            gram: g.iter().map(|&v| v as f64).collect(),
            vectors,
        }
    }

    pub fn vector(&self, item: Item) -> Option<&[f32]> {
        let k = self.items.binary_search(&item).ok()?;
        Some(&self.vectors[k * self.dim..(k + 1) * self.dim])
    }

    /// A listener's vector from their profile `(item, plays)`: the training's user step, exactly
    /// (Cholesky). None when no profile item has factors.
    pub fn fold_in(&self, profile: &[(Item, f64)]) -> Option<Vec<f32>> {
        let d = self.dim;
        let mut a = DMatrix::<f64>::from_column_slice(d, d, &self.gram);
        let mut b = DVector::<f64>::zeros(d);
        let p = AlsParams {
            confidence_scale: self.confidence_scale,
            ..AlsParams::default()
        };
        let mut any = false;
        for &(item, plays) in profile {
            let Some(y) = self.vector(item) else {
                continue;
            };
            any = true;
            let c = confidence(plays, &p) as f64;
            let y = DVector::<f64>::from_iterator(d, y.iter().map(|&v| v as f64));
            a.ger(c - 1.0, &y, &y, 1.0);
            b.axpy(c, &y, 1.0);
        }
        if !any {
            return None;
        }
        let x = a.cholesky()?.solve(&b);
        Some(x.iter().map(|&v| v as f32).collect())
    }

    /// The bytes stored for a model version: a header, the items, the vectors, a checksum.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.items.len() * (8 + 4 * self.dim) + 32);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.dim as u32).to_le_bytes());
        out.extend_from_slice(&(self.items.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.regularization.to_le_bytes());
        out.extend_from_slice(&self.confidence_scale.to_le_bytes());
        for i in &self.items {
            out.extend_from_slice(&i.to_le_bytes());
        }
        for v in &self.vectors {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let sum = blake3::hash(&out);
        out.extend_from_slice(sum.as_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, AlsError> {
        let bad = |why: &str| AlsError::Corrupt(why.to_string());
        if bytes.len() < 24 + 32 || &bytes[..8] != MAGIC {
            return Err(bad("not a factor model"));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if blake3::hash(body).as_bytes() != sum {
            return Err(bad("checksum mismatch"));
        }
        let u32_at = |k: usize| u32::from_le_bytes(body[k..k + 4].try_into().expect("4 bytes"));
        let f32_at = |k: usize| f32::from_le_bytes(body[k..k + 4].try_into().expect("4 bytes"));
        let (dim, n) = (u32_at(8) as usize, u32_at(12) as usize);
        let (reg, scale) = (f32_at(16), f32_at(20));
        if dim == 0 || body.len() != 24 + n * 8 + n * dim * 4 {
            return Err(bad("size does not match its header"));
        }
        let items: Vec<Item> = body[24..24 + n * 8]
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        if items.windows(2).any(|w| w[0] >= w[1]) {
            return Err(bad("items out of order"));
        }
        let vectors: Vec<f32> = body[24 + n * 8..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        Ok(Self::new(dim, reg, scale, items, vectors))
    }
}

/// Re-ranks the co-listening candidates `ranked` (best first) with the trained model: each
/// score is `weight · (x·y_j) / max + (1 − weight) · s_j / max` over the candidates, `x` the
/// listener's folded-in vector. Candidates the model does not know (newer than the training)
/// keep their neighbour share alone. Without a vector, `ranked` is returned as it was.
pub fn blend(
    ranked: Vec<(Item, f64)>,
    user: Option<&[f32]>,
    factors: &Factors,
    weight: f64,
) -> Vec<(Item, f64)> {
    let Some(x) = user else {
        return ranked;
    };
    if ranked.is_empty() || weight <= 0.0 {
        return ranked;
    }
    let trained: Vec<f64> = ranked
        .iter()
        .map(|&(j, _)| factors.vector(j).map_or(0.0, |y| dot(x, y) as f64))
        .collect();
    let max_s = ranked.iter().map(|x| x.1.abs()).fold(0.0, f64::max);
    let max_t = trained.iter().map(|x| x.abs()).fold(0.0, f64::max);
    let norm = |v: f64, m: f64| if m > 0.0 { v / m } else { 0.0 };
    let mut out: Vec<(Item, f64)> = ranked
        .into_iter()
        .zip(trained)
        .map(|((j, s), t)| (j, weight * norm(t, max_t) + (1.0 - weight) * norm(s, max_s)))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two taste groups: listeners 0-9 play items 1-5, listeners 10-19 items 11-15.
    fn groups() -> Vec<(u32, Item, f64)> {
        let mut cells = Vec::new();
        for u in 0..20u32 {
            let base = if u < 10 { 1 } else { 11 };
            for k in 0..5 {
                // Each listener misses one item of their group.
                if (u as i64 + k) % 5 != 0 {
                    cells.push((u, base + k, 1.0 + (u % 3) as f64));
                }
            }
        }
        cells
    }

    /// Two factors for two groups: with as many factors as items, each item would get a factor
    /// of its own and nothing would generalise.
    fn params() -> AlsParams {
        AlsParams {
            factors: 2,
            iterations: 10,
            ..AlsParams::default()
        }
    }

    #[test]
    fn a_listener_of_one_group_scores_that_group_above_the_other() {
        let data = Interactions::new(groups(), &params());
        assert_eq!((data.rows(), data.items.len()), (20, 10));
        let f = train(&data, &params(), &AtomicBool::new(false)).unwrap();
        let x = f.fold_in(&[(1, 3.0), (2, 1.0)]).unwrap();
        let score = |i: Item| dot(&x, f.vector(i).unwrap());
        for mine in 3..=5 {
            for theirs in 11..=15 {
                assert!(score(mine) > score(theirs), "{mine} vs {theirs}");
            }
        }
        assert_eq!(f.fold_in(&[(99, 1.0)]), None, "no known item, no vector");
    }

    #[test]
    fn training_is_deterministic_and_threads_do_not_change_it() {
        let data = Interactions::new(groups(), &params());
        let one = train(&data, &params(), &AtomicBool::new(false)).unwrap();
        let two = train(
            &data,
            &AlsParams {
                threads: 2,
                ..params()
            },
            &AtomicBool::new(false),
        )
        .unwrap();
        assert_eq!(one, two);
    }

    #[test]
    fn a_stop_request_ends_the_training() {
        let data = Interactions::new(groups(), &params());
        assert_eq!(
            train(&data, &params(), &AtomicBool::new(true)),
            Err(AlsError::Stopped)
        );
    }

    #[test]
    fn stored_bytes_round_trip_and_damage_is_detected() {
        let data = Interactions::new(groups(), &params());
        let f = train(&data, &params(), &AtomicBool::new(false)).unwrap();
        let bytes = f.encode();
        assert_eq!(Factors::decode(&bytes).unwrap(), f);
        let mut bad = bytes.clone();
        bad[40] ^= 1;
        assert!(matches!(
            Factors::decode(&bad),
            Err(AlsError::Corrupt(e)) if e.contains("checksum")
        ));
        assert!(Factors::decode(b"nonsense").is_err());
    }

    #[test]
    fn the_blend_reorders_candidates_and_keeps_unknown_ones() {
        let f = Factors::new(
            2,
            0.1,
            1.0,
            vec![1, 2],
            vec![1.0, 0.0, /* item 2 */ 0.0, 1.0],
        );
        let ranked = vec![(1, 1.0), (2, 0.9), (7, 0.8)];
        let out = blend(ranked.clone(), Some(&[0.0, 1.0]), &f, 0.5);
        let order: Vec<Item> = out.iter().map(|x| x.0).collect();
        assert_eq!(order, vec![2, 1, 7]);
        assert_eq!(blend(ranked.clone(), None, &f, 0.5), ranked);
    }

    #[test]
    fn repeated_cells_add_up() {
        let p = params();
        let data = Interactions::new(vec![(0, 5, 1.0), (0, 5, 2.0), (1, 6, 1.0)], &p);
        assert_eq!(data.cells(), 2);
        assert_eq!(data.row_conf[0], confidence(3.0, &p));
    }
}
