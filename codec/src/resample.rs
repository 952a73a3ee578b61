//! Resampling to 48 kHz with a polyphase windowed-sinc filter (Kaiser window), and the
//! downmix of more than two channels to stereo.
//!
//! Every output frame is a pure function of the source frames around its absolute position,
//! so a chunk of a rendition resampled on its own is sample-identical to the same frames of a
//! continuous resample. Block resamplers with state (rubato's) would need the whole track run
//! through them to give the same samples at a chunk's start; this one needs `half` frames.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use symphonia::core::audio::Channels;

/// The rate every rendition is encoded at (Opus's native rate; MP3 at 48 kHz has frames of a
/// fixed size in bytes).
pub const OUT_RATE: u32 = 48_000;
/// Zero crossings of the sinc on each side at the narrower of the two rates.
const ZERO_CROSSINGS: usize = 16;
/// Fraction of the narrower Nyquist frequency passed (the rest is the transition band).
const PASSBAND: f64 = 0.92;
const KAISER_BETA: f64 = 7.0;

/// Frames at 48 kHz for `frames` at `rate`: round(frames · 48000 / rate).
pub fn out_frames(frames: u64, rate: u32) -> u64 {
    let rate = u128::from(rate.max(1));
    ((u128::from(frames) * u128::from(OUT_RATE) + rate / 2) / rate) as u64
}

/// A resampler from `rate` to 48 kHz: one coefficient row per output phase.
#[derive(Debug)]
pub struct Resampler {
    /// Output frame j reads input position j · step_in / step_out.
    step_in: u64,
    step_out: u64,
    /// Taps each side of the position.
    half: usize,
    /// `step_out` rows of `2 · half` taps; empty for 48 kHz input (a copy).
    table: Vec<f32>,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The zeroth-order modified Bessel function of the first kind (Kaiser's window).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let q = x * x / 4.0;
    for k in 1..64 {
        term *= q / f64::from(k * k);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

impl Resampler {
    /// The resampler for `rate`, built once per rate and shared.
    pub fn for_rate(rate: u32) -> Arc<Resampler> {
        static CACHE: OnceLock<Mutex<HashMap<u32, Arc<Resampler>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(
            map.entry(rate)
                .or_insert_with(|| Arc::new(Resampler::new(rate))),
        )
    }

    fn new(rate: u32) -> Self {
        let rate = u64::from(rate.max(1));
        let out = u64::from(OUT_RATE);
        let g = gcd(rate, out);
        let (step_in, step_out) = (rate / g, out / g);
        if rate == out {
            return Self {
                step_in,
                step_out,
                half: 0,
                table: Vec::new(),
            };
        }
        // Cutoff in cycles per input sample, relative to the input's Nyquist frequency.
        let ratio = (out as f64 / rate as f64).min(1.0);
        let fc = PASSBAND * ratio;
        let half = (ZERO_CROSSINGS as f64 / ratio).ceil() as usize;
        let norm = bessel_i0(KAISER_BETA);
        let mut table = Vec::with_capacity(step_out as usize * 2 * half);
        for phase in 0..step_out {
            let frac = phase as f64 / step_out as f64;
            let start = table.len();
            for k in 0..2 * half {
                // Input frame i0 + k + 1 − half sits at distance u from the position.
                let u = (k as f64 + 1.0 - half as f64) - frac;
                let x = u / half as f64;
                let w = if x.abs() >= 1.0 {
                    0.0
                } else {
                    bessel_i0(KAISER_BETA * (1.0 - x * x).sqrt()) / norm
                };
                let arg = std::f64::consts::PI * fc * u;
                let sinc = if arg.abs() < 1e-12 {
                    1.0
                } else {
                    arg.sin() / arg
                };
                table.push((fc * sinc * w) as f32);
            }
            // Unity gain at DC for every phase (no ripple from the table's truncation).
            let sum: f32 = table[start..].iter().sum();
            if sum.abs() > 1e-6 {
                table[start..].iter_mut().for_each(|t| *t /= sum);
            }
        }
        Self {
            step_in,
            step_out,
            half,
            table,
        }
    }

    /// The input frames `[start, end)` that output frames `[out_start, out_end)` read.
    pub fn input_span(&self, out_start: i64, out_end: i64) -> (i64, i64) {
        if self.table.is_empty() {
            return (out_start, out_end);
        }
        let pos = |j: i64| (j * self.step_in as i64).div_euclid(self.step_out as i64);
        (
            pos(out_start) + 1 - self.half as i64,
            pos(out_end - 1) + self.half as i64 + 1,
        )
    }

    /// Output frames `[out_start, out_start + frames)` from `input`, interleaved with `ch`
    /// channels, whose first frame is input frame `in_start` (frames outside it count as
    /// silence).
    pub fn process(
        &self,
        input: &[f32],
        in_start: i64,
        ch: usize,
        out_start: i64,
        frames: usize,
    ) -> Vec<f32> {
        let in_frames = (input.len() / ch.max(1)) as i64;
        let at = |i: i64, c: usize| -> f32 {
            let r = i - in_start;
            if r < 0 || r >= in_frames {
                0.0
            } else {
                input[r as usize * ch + c]
            }
        };
        let mut out = vec![0.0f32; frames * ch];
        if self.table.is_empty() {
            for j in 0..frames {
                for c in 0..ch {
                    out[j * ch + c] = at(out_start + j as i64, c);
                }
            }
            return out;
        }
        let taps = 2 * self.half;
        for j in 0..frames {
            let abs = (out_start + j as i64) * self.step_in as i64;
            let i0 = abs.div_euclid(self.step_out as i64);
            let phase = abs.rem_euclid(self.step_out as i64) as usize;
            let row = &self.table[phase * taps..(phase + 1) * taps];
            let first = i0 + 1 - self.half as i64;
            let r = first - in_start;
            if r >= 0 && r + taps as i64 <= in_frames {
                // The fast path: every tap inside the input.
                let base = r as usize * ch;
                for c in 0..ch {
                    let mut acc = 0.0f32;
                    for (k, t) in row.iter().enumerate() {
                        acc += input[base + k * ch + c] * t;
                    }
                    out[j * ch + c] = acc;
                }
            } else {
                for c in 0..ch {
                    out[j * ch + c] = row
                        .iter()
                        .enumerate()
                        .map(|(k, t)| at(first + k as i64, c) * t)
                        .sum();
                }
            }
        }
        out
    }
}

/// Channel gains for a downmix to at most two channels: one row per output channel, one
/// column per source channel (in the order of the layout's bits, as symphonia interleaves).
pub fn downmix_matrix(channels: u16, layout: Option<Channels>) -> Vec<Vec<f32>> {
    let n = usize::from(channels);
    match n {
        0 => return Vec::new(),
        1 => return vec![vec![1.0]],
        2 => return vec![vec![1.0, 0.0], vec![0.0, 1.0]],
        _ => {}
    }
    // Without a layout, the WAV/FLAC order: FL FR FC LFE BL BR SL SR.
    let layout = layout.filter(|l| l.count() == n).unwrap_or_else(|| {
        Channels::from_bits_truncate(match n {
            3 => 0x7,
            4 => 0x33,
            5 => 0x37,
            6 => 0x3F,
            7 => 0x70F,
            _ => 0x63F,
        })
    });
    let left = Channels::FRONT_LEFT
        | Channels::FRONT_LEFT_CENTRE
        | Channels::REAR_LEFT
        | Channels::SIDE_LEFT
        | Channels::TOP_FRONT_LEFT
        | Channels::TOP_REAR_LEFT
        | Channels::FRONT_LEFT_WIDE
        | Channels::FRONT_LEFT_HIGH;
    let right = Channels::FRONT_RIGHT
        | Channels::FRONT_RIGHT_CENTRE
        | Channels::REAR_RIGHT
        | Channels::SIDE_RIGHT
        | Channels::TOP_FRONT_RIGHT
        | Channels::TOP_REAR_RIGHT
        | Channels::FRONT_RIGHT_WIDE
        | Channels::FRONT_RIGHT_HIGH;
    let lfe = Channels::LFE1 | Channels::LFE2;
    let front = Channels::FRONT_LEFT | Channels::FRONT_RIGHT;
    let mut rows = vec![vec![0.0f32; n], vec![0.0f32; n]];
    for (i, bit) in layout.iter().take(n).enumerate() {
        // Front left/right at full level, everything else −3 dB (ITU-R BS.775), LFE dropped.
        let g = if front.contains(bit) {
            1.0
        } else {
            std::f32::consts::FRAC_1_SQRT_2
        };
        if lfe.contains(bit) {
            continue;
        } else if left.contains(bit) {
            rows[0][i] = g;
        } else if right.contains(bit) {
            rows[1][i] = g;
        } else {
            rows[0][i] = g;
            rows[1][i] = g;
        }
    }
    // Normalised so that a full-scale source cannot clip.
    for row in &mut rows {
        let sum: f32 = row.iter().sum();
        if sum > 0.0 {
            row.iter_mut().for_each(|g| *g /= sum);
        }
    }
    rows
}

/// Applies a [`downmix_matrix`] to interleaved frames.
pub fn downmix(input: &[f32], matrix: &[Vec<f32>]) -> Vec<f32> {
    let src = matrix.first().map_or(1, Vec::len).max(1);
    let out_ch = matrix.len();
    if src == out_ch && src <= 2 {
        return input.to_vec();
    }
    let frames = input.len() / src;
    let mut out = Vec::with_capacity(frames * out_ch);
    for f in input.chunks_exact(src) {
        for row in matrix {
            out.push(f.iter().zip(row).map(|(s, g)| s * g).sum());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f64, frames: usize) -> Vec<f32> {
        (0..frames)
            .map(|i| (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin() as f32)
            .collect()
    }

    #[test]
    fn a_sine_keeps_its_frequency_and_level_at_every_rate() {
        for rate in [22_050, 32_000, 44_100, 48_000, 88_200, 96_000] {
            let input = sine(rate, 1000.0, rate as usize);
            let r = Resampler::for_rate(rate);
            let out = r.process(&input, 0, 1, 0, 48_000);
            let expected = sine(OUT_RATE, 1000.0, 48_000);
            // Away from the edges (which see silence beyond the input).
            let err: f64 = out[1000..47_000]
                .iter()
                .zip(&expected[1000..47_000])
                .map(|(a, b)| f64::from(a - b).powi(2))
                .sum::<f64>()
                / 46_000.0;
            assert!(err.sqrt() < 2e-3, "{rate}: rms error {}", err.sqrt());
        }
    }

    #[test]
    fn a_piece_resampled_alone_equals_the_same_frames_of_a_whole_resample() {
        let rate = 44_100;
        let input: Vec<f32> = (0..20_000)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
            .flat_map(|s| [s, -s])
            .collect();
        let r = Resampler::for_rate(rate);
        let whole = r.process(&input, 0, 2, 0, 21_000);
        let (a, b) = r.input_span(9_000, 12_000);
        let piece = &input[a as usize * 2..b as usize * 2];
        let alone = r.process(piece, a, 2, 9_000, 3_000);
        assert_eq!(alone, whole[18_000..24_000]);
    }

    #[test]
    fn lengths_round_to_the_nearest_frame() {
        assert_eq!(out_frames(44_100, 44_100), 48_000);
        assert_eq!(out_frames(1, 44_100), 1);
        assert_eq!(out_frames(0, 22_050), 0);
        assert_eq!(out_frames(96_001, 96_000), 48_001);
    }

    #[test]
    fn five_one_folds_to_stereo_without_lfe_and_without_clipping() {
        let m = downmix_matrix(6, None);
        assert_eq!(m.len(), 2);
        // FL FR FC LFE BL BR
        assert_eq!(m[0][3], 0.0);
        assert_eq!(m[0][1], 0.0);
        assert!(m[0][0] > m[0][2] && m[0][2] > 0.0);
        let full = downmix(&[1.0; 6], &m);
        assert!((full[0] - 1.0).abs() < 1e-6 && (full[1] - 1.0).abs() < 1e-6);
    }
}
