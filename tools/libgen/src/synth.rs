//! A small deterministic software synthesizer: a handful of instruments, a stereo mix bus and a
//! WAV writer. The demo tracks are rendered with it and then finished (reverb, fades, loudness)
//! with sox.

use std::f32::consts::{PI, TAU};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Sample rate of everything rendered here.
pub const SAMPLE_RATE: u32 = 44_100;
const SR: f32 = SAMPLE_RATE as f32;

/// The voices the synthesizer can play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instrument {
    /// Karplus–Strong plucked string (guitar, harp).
    Pluck,
    /// Bright, short plucked string (mandolin-ish).
    Mandolin,
    /// Two-operator FM electric piano.
    EPiano,
    /// FM bell / celesta.
    Bell,
    /// Marimba / vibraphone: a sine with a decaying fourth-harmonic bar mode.
    Marimba,
    /// Flute-like sine lead with breath and vibrato.
    Flute,
    /// Soft triangle lead with vibrato.
    SoftLead,
    /// Filtered band-limited square lead.
    SquareLead,
    /// Detuned band-limited saws through a low-pass filter, slow attack.
    Pad,
    /// Sine-stack pad with chorus, very soft.
    WarmPad,
    /// Accordion / harmonium: detuned reeds.
    Accordion,
    /// Round electric bass (sine and a little second harmonic).
    Bass,
    /// Filtered saw bass with an envelope on the filter.
    SynthBass,
    /// Plucked upright bass.
    UprightBass,
    /// Drum: kick.
    Kick,
    /// Drum: snare.
    Snare,
    /// Drum: closed hi-hat.
    HiHat,
    /// Drum: brushed snare / shaker swish.
    Brush,
    /// Drum: ride cymbal (metallic FM).
    Ride,
    /// Drum: rim click.
    Rim,
    /// Drum: hand clap.
    Clap,
}

fn midi_to_hz(midi: f32) -> f32 {
    440.0 * 2f32.powf((midi - 69.0) / 12.0)
}

/// Linear attack/decay/sustain/release envelope value at time `t` (seconds) for a note held `held`.
fn adsr(t: f32, held: f32, a: f32, d: f32, s: f32, r: f32) -> f32 {
    let level_at = |t: f32| {
        if t < a {
            t / a
        } else if t < a + d {
            1.0 - (1.0 - s) * (t - a) / d
        } else {
            s
        }
    };
    if t < held {
        level_at(t)
    } else {
        let l = level_at(held);
        (l * (1.0 - (t - held) / r)).max(0.0)
    }
}

/// Release-only gate for percussive sounds: 1 while held, then a short linear fade.
fn gate(t: f32, held: f32, r: f32) -> f32 {
    let attack = (t / 0.003).min(1.0);
    if t < held {
        attack
    } else {
        attack * (1.0 - (t - held) / r).max(0.0)
    }
}

fn poly_blep(t: f32, dt: f32) -> f32 {
    if t < dt {
        let x = t / dt;
        x + x - x * x - 1.0
    } else if t > 1.0 - dt {
        let x = (t - 1.0) / dt;
        x * x + x + x + 1.0
    } else {
        0.0
    }
}

/// Band-limited saw oscillator.
#[derive(Default, Clone, Copy)]
struct Saw {
    phase: f32,
}

impl Saw {
    fn next(&mut self, freq: f32) -> f32 {
        let dt = (freq / SR).min(0.5);
        let v = 2.0 * self.phase - 1.0 - poly_blep(self.phase, dt);
        self.phase = (self.phase + dt).fract();
        v
    }
}

/// Band-limited pulse oscillator.
#[derive(Default, Clone, Copy)]
struct Pulse {
    phase: f32,
}

impl Pulse {
    fn next(&mut self, freq: f32, width: f32) -> f32 {
        let dt = (freq / SR).min(0.5);
        let mut v = if self.phase < width { 1.0 } else { -1.0 };
        v += poly_blep(self.phase, dt);
        v -= poly_blep((self.phase + 1.0 - width).fract(), dt);
        self.phase = (self.phase + dt).fract();
        v
    }
}

/// Topology-preserving state variable filter (low-pass output).
#[derive(Default, Clone, Copy)]
struct Svf {
    ic1: f32,
    ic2: f32,
}

impl Svf {
    fn lowpass(&mut self, x: f32, cutoff: f32, q: f32) -> f32 {
        let g = (PI * cutoff.clamp(20.0, SR * 0.45) / SR).tan();
        let k = 1.0 / q;
        let a1 = 1.0 / (1.0 + g * (g + k));
        let a2 = g * a1;
        let a3 = g * a2;
        let v3 = x - self.ic2;
        let v1 = a1 * self.ic1 + a2 * v3;
        let v2 = self.ic2 + a2 * self.ic1 + a3 * v3;
        self.ic1 = 2.0 * v1 - self.ic1;
        self.ic2 = 2.0 * v2 - self.ic2;
        v2
    }
}

/// One note to render.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoteEvent {
    /// Start, in seconds.
    pub start: f32,
    /// How long the note is held, in seconds.
    pub duration: f32,
    /// MIDI note number (ignored by most drums).
    pub midi: f32,
    /// 0..1.
    pub velocity: f32,
    /// Voice.
    pub instrument: Instrument,
    /// -1 (left) ..= 1 (right).
    pub pan: f32,
}

/// Renders one note to mono samples (including its release tail).
pub fn render_note(ev: &NoteEvent, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let f = midi_to_hz(ev.midi);
    let held = ev.duration.max(0.01);
    use Instrument::*;
    let tail = match ev.instrument {
        Pluck | Mandolin | UprightBass => 1.2,
        EPiano | Bell | Marimba => 1.0,
        Pad | WarmPad => 1.2,
        Kick | Snare | Clap | Rim | Brush | HiHat | Ride => 0.0,
        _ => 0.25,
    };
    let drum_len = match ev.instrument {
        Kick => 0.45,
        Snare | Clap => 0.3,
        HiHat | Rim => 0.09,
        Brush => 0.35,
        Ride => 0.9,
        _ => 0.0,
    };
    let len_s = if drum_len > 0.0 {
        drum_len
    } else {
        held + tail
    };
    let n = (len_s * SR) as usize;
    let mut out = vec![0.0f32; n];
    let mut noise = move || rng.random::<f32>() * 2.0 - 1.0;

    match ev.instrument {
        Pluck | Mandolin | UprightBass => {
            // Karplus–Strong with a one-pole brightness filter on the excitation.
            let (decay, bright) = match ev.instrument {
                Pluck => (0.996, 0.5),
                Mandolin => (0.993, 0.85),
                _ => (0.997, 0.25),
            };
            let period = (SR / f - 0.5).max(2.0);
            let len = period as usize;
            let mut buf = vec![0.0f32; len + 2];
            let mut lp = 0.0;
            for b in buf.iter_mut() {
                lp += bright * (noise() - lp);
                *b = lp;
            }
            let mean = buf.iter().sum::<f32>() / buf.len() as f32;
            buf.iter_mut().for_each(|b| *b -= mean);
            let mut idx = 0;
            let blen = len + 1;
            let mut prev = 0.0;
            for (i, o) in out.iter_mut().enumerate() {
                let t = i as f32 / SR;
                let cur = buf[idx];
                let next = buf[(idx + 1) % blen];
                let v = decay * 0.5 * (cur + next);
                buf[idx] = v;
                idx = (idx + 1) % blen;
                // Mandolin: a touch of tremolo picking.
                let trem = if ev.instrument == Mandolin && held > 0.6 {
                    0.85 + 0.15 * (TAU * 11.0 * t).sin()
                } else {
                    1.0
                };
                let s = 0.5 * (cur + prev);
                prev = cur;
                *o = s * 1.6 * trem * gate(t, held + 0.25, 0.9);
            }
        }
        EPiano | Bell => {
            let (ratio, index0, tau, mod_tau) = if ev.instrument == EPiano {
                (1.0, 1.8, 1.4, 0.35)
            } else {
                (3.5, 2.5, 1.8, 0.8)
            };
            for (i, o) in out.iter_mut().enumerate() {
                let t = i as f32 / SR;
                let index = index0 * (-t / mod_tau).exp() + 0.15;
                let m = (TAU * f * ratio * t).sin();
                let c = (TAU * f * t + index * m).sin();
                let env = (-t / tau).exp() * gate(t, held, 0.35);
                let tine = if ev.instrument == EPiano {
                    0.12 * (TAU * f * 7.0 * t).sin() * (-t / 0.05).exp()
                } else {
                    0.0
                };
                *o = (c + tine) * env * (t / 0.002).min(1.0) * 0.8;
            }
        }
        Marimba => {
            for (i, o) in out.iter_mut().enumerate() {
                let t = i as f32 / SR;
                let body = (TAU * f * t).sin() * (-t / 0.55).exp();
                let bar = 0.35 * (TAU * f * 3.93 * t).sin() * (-t / 0.08).exp();
                let vib = 0.85 + 0.15 * (TAU * 5.5 * t).sin();
                *o = (body * vib + bar) * gate(t, held + 0.3, 0.5) * (t / 0.002).min(1.0);
            }
        }
        Flute | SoftLead => {
            let mut lp = 0.0;
            for (i, o) in out.iter_mut().enumerate() {
                let t = i as f32 / SR;
                let vib_depth = 0.004 * ((t - 0.25) / 0.3).clamp(0.0, 1.0);
                let ff = f * (1.0 + vib_depth * (TAU * 5.2 * t).sin());
                let ph = (ff * t).fract();
                let s = if ev.instrument == Flute {
                    lp += 0.05 * (noise() - lp);
                    (TAU * ph).sin() + 0.18 * (2.0 * TAU * ph).sin() + 0.6 * lp
                } else {
                    // Triangle.
                    let tri = 4.0 * (ph - 0.5).abs() - 1.0;
                    0.9 * tri + 0.1 * (TAU * ph).sin()
                };
                *o = s * adsr(t, held, 0.04, 0.15, 0.75, 0.18) * 0.7;
            }
        }
        SquareLead => {
            let (mut p, mut p2, mut filt) = (Pulse::default(), Pulse::default(), Svf::default());
            for (i, o) in out.iter_mut().enumerate() {
                let t = i as f32 / SR;
                let vib = 1.0 + 0.003 * ((t - 0.2) / 0.3).clamp(0.0, 1.0) * (TAU * 5.8 * t).sin();
                let width = 0.35 + 0.1 * (TAU * 0.7 * t).sin();
                let s = 0.6 * p.next(f * vib, width) + 0.4 * p2.next(f * vib * 1.004, 0.5);
                let env = adsr(t, held, 0.01, 0.2, 0.7, 0.12);
                let cutoff = 900.0 + 2600.0 * env;
                *o = filt.lowpass(s, cutoff, 0.9) * env * 0.45;
            }
        }
        Pad | WarmPad => {
            let mut saws = [Saw::default(); 3];
            for (k, s) in saws.iter_mut().enumerate() {
                s.phase = k as f32 * 0.33;
            }
            let mut filt = Svf::default();
            for (i, o) in out.iter_mut().enumerate() {
                let t = i as f32 / SR;
                let env = adsr(t, held, 0.6, 0.5, 0.8, 1.0);
                let s = if ev.instrument == Pad {
                    let detune = [0.994, 1.0, 1.006];
                    let raw: f32 = saws
                        .iter_mut()
                        .zip(detune)
                        .map(|(s, d)| s.next(f * d))
                        .sum::<f32>()
                        / 3.0;
                    filt.lowpass(
                        raw,
                        700.0 + 900.0 * env + 200.0 * (TAU * 0.2 * t).sin(),
                        0.8,
                    )
                } else {
                    let chorus = 1.0 + 0.002 * (TAU * 0.6 * t).sin();
                    (TAU * f * t).sin() * 0.7
                        + (TAU * f * chorus * t).sin() * 0.3
                        + (TAU * 2.0 * f * t).sin() * 0.25
                        + (TAU * 3.0 * f * chorus * t).sin() * 0.08
                };
                *o = s * env * 0.5;
            }
        }
        Accordion => {
            let mut reeds = [Pulse::default(), Pulse::default(), Pulse::default()];
            let mut filt = Svf::default();
            for (i, o) in out.iter_mut().enumerate() {
                let t = i as f32 / SR;
                let bellows = 0.9 + 0.1 * (TAU * 3.0 * t).sin();
                let raw = 0.4 * reeds[0].next(f * 0.997, 0.3)
                    + 0.4 * reeds[1].next(f * 1.003, 0.3)
                    + 0.2 * reeds[2].next(f * 2.0, 0.4);
                let env = adsr(t, held, 0.05, 0.1, 0.85, 0.1);
                *o = filt.lowpass(raw, 2400.0, 0.7) * env * bellows * 0.4;
            }
        }
        Bass => {
            for (i, o) in out.iter_mut().enumerate() {
                let t = i as f32 / SR;
                let s = (TAU * f * t).sin() + 0.25 * (TAU * 2.0 * f * t).sin();
                let env = adsr(t, held, 0.005, 0.25, 0.6, 0.06);
                *o = (s * 1.4).tanh() * env * 0.8;
            }
        }
        SynthBass => {
            let (mut s1, mut s2, mut filt) = (Saw::default(), Saw::default(), Svf::default());
            for (i, o) in out.iter_mut().enumerate() {
                let t = i as f32 / SR;
                let raw = 0.5 * s1.next(f) + 0.5 * s2.next(f * 1.005);
                let fenv = (-t / 0.12).exp();
                let y = filt.lowpass(raw, 180.0 + 1400.0 * fenv, 1.4);
                *o = y * adsr(t, held, 0.004, 0.2, 0.8, 0.05) * 0.9;
            }
        }
        Kick => {
            let mut phase = 0.0;
            for (i, o) in out.iter_mut().enumerate() {
                let t = i as f32 / SR;
                let freq = 45.0 + 90.0 * (-t / 0.04).exp();
                phase += freq / SR;
                let click = 0.3 * noise() * (-t / 0.004).exp();
                *o = ((TAU * phase).sin() * (-t / 0.22).exp() + click) * 1.1;
            }
        }
        Snare | Clap => {
            let mut hp_prev = 0.0;
            for (i, o) in out.iter_mut().enumerate() {
                let t = i as f32 / SR;
                let x = noise();
                let hp = x - hp_prev;
                hp_prev = x;
                *o = if ev.instrument == Snare {
                    0.5 * hp * (-t / 0.09).exp() + 0.5 * (TAU * 190.0 * t).sin() * (-t / 0.05).exp()
                } else {
                    // Three quick bursts then a tail.
                    let burst = (0..3)
                        .map(|k| {
                            let tk = t - k as f32 * 0.011;
                            if tk >= 0.0 { (-tk / 0.006).exp() } else { 0.0 }
                        })
                        .sum::<f32>();
                    0.6 * hp * (burst + 0.6 * (-t / 0.08).exp())
                };
            }
        }
        HiHat | Brush => {
            let mut prev = 0.0;
            let mut lp = 0.0;
            for (i, o) in out.iter_mut().enumerate() {
                let t = i as f32 / SR;
                let x = noise();
                let hp = x - prev;
                prev = x;
                *o = if ev.instrument == HiHat {
                    0.45 * hp * (-t / 0.025).exp()
                } else {
                    lp += 0.3 * (hp - lp);
                    // Swish: quick fade in, slower fade out.
                    0.5 * lp * (t / 0.04).min(1.0) * (-t / 0.1).exp()
                };
            }
        }
        Ride => {
            for (i, o) in out.iter_mut().enumerate() {
                let t = i as f32 / SR;
                let m = (TAU * 537.0 * t).sin() * 3.0;
                let s = (TAU * 2347.0 * t + m).sin() * 0.5 + 0.2 * noise() * (-t / 0.03).exp();
                *o = s * (-t / 0.35).exp() * 0.3;
            }
        }
        Rim => {
            for (i, o) in out.iter_mut().enumerate() {
                let t = i as f32 / SR;
                *o = ((TAU * 1700.0 * t).sin() * 0.6 + (TAU * 820.0 * t).sin() * 0.4)
                    * (-t / 0.012).exp()
                    * 0.7;
            }
        }
    }
    out
}

/// A stereo buffer to mix notes into.
#[derive(Debug, Clone, Default)]
pub struct Mix {
    left: Vec<f32>,
    right: Vec<f32>,
}

impl Mix {
    /// A silent mix of `seconds`.
    pub fn new(seconds: f32) -> Self {
        let n = (seconds * SR) as usize;
        Mix {
            left: vec![0.0; n],
            right: vec![0.0; n],
        }
    }

    /// Length in seconds.
    pub fn seconds(&self) -> f32 {
        self.left.len() as f32 / SR
    }

    /// Renders `ev` and adds it with constant-power panning.
    pub fn add(&mut self, ev: &NoteEvent, seed: u64) {
        let samples = render_note(ev, seed);
        let angle = (ev.pan.clamp(-1.0, 1.0) + 1.0) * PI / 4.0;
        let (gl, gr) = (angle.cos() * ev.velocity, angle.sin() * ev.velocity);
        let start = (ev.start.max(0.0) * SR) as usize;
        for (i, s) in samples.iter().enumerate() {
            let Some(l) = self.left.get_mut(start + i) else {
                break;
            };
            *l += s * gl;
            self.right[start + i] += s * gr;
        }
    }

    /// Soft-limits and scales so the peak is at `peak` (0..1).
    pub fn normalize(&mut self, peak: f32) {
        for s in self.left.iter_mut().chain(self.right.iter_mut()) {
            *s = (*s * 0.8).tanh();
        }
        let max = self
            .left
            .iter()
            .chain(self.right.iter())
            .fold(0.0f32, |m, s| m.max(s.abs()));
        if max > 0.0 {
            let g = peak / max;
            for s in self.left.iter_mut().chain(self.right.iter_mut()) {
                *s *= g;
            }
        }
    }

    /// Encodes as a 16-bit stereo PCM WAV file.
    pub fn to_wav(&self) -> Vec<u8> {
        let interleaved: Vec<i16> = self
            .left
            .iter()
            .zip(&self.right)
            .flat_map(|(l, r)| [to_i16(*l), to_i16(*r)])
            .collect();
        wav_bytes(&interleaved, 2, SAMPLE_RATE)
    }
}

fn to_i16(s: f32) -> i16 {
    (s.clamp(-1.0, 1.0) * 32767.0).round() as i16
}

/// A 16-bit PCM WAV file of interleaved `samples`.
pub fn wav_bytes(samples: &[i16], channels: u16, sample_rate: u32) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&(sample_rate * u32::from(channels) * 2).to_le_bytes());
    out.extend_from_slice(&(channels * 2).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// A short mono tone (a plucked arpeggio) used as the benchmark template audio.
pub fn template_tone(seconds: f32, sample_rate: u32) -> Vec<u8> {
    let n = (seconds * sample_rate as f32) as usize;
    let sr = sample_rate as f32;
    let notes = [57.0f32, 61.0, 64.0, 69.0];
    let samples: Vec<i16> = (0..n)
        .map(|i| {
            let t = i as f32 / sr;
            let slot = ((t / seconds) * notes.len() as f32) as usize;
            let local = t - slot as f32 * seconds / notes.len() as f32;
            let f = midi_to_hz(notes[slot.min(notes.len() - 1)]);
            let env = (local / 0.005).min(1.0) * (-local / 0.15).exp();
            let fade = ((seconds - t) / 0.02).clamp(0.0, 1.0);
            to_i16(0.5 * (TAU * f * t).sin() * env * fade)
        })
        .collect();
    wav_bytes(&samples, 1, sample_rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_header_is_consistent() {
        let wav = wav_bytes(&[0, 1, -1, 2], 2, 22_050);
        assert_eq!(&wav[..4], b"RIFF");
        assert_eq!(
            u32::from_le_bytes(wav[4..8].try_into().unwrap()) as usize,
            wav.len() - 8
        );
        assert_eq!(u32::from_le_bytes(wav[40..44].try_into().unwrap()), 8);
    }

    #[test]
    fn every_instrument_makes_bounded_sound() {
        use Instrument::*;
        for instrument in [
            Pluck,
            Mandolin,
            EPiano,
            Bell,
            Marimba,
            Flute,
            SoftLead,
            SquareLead,
            Pad,
            WarmPad,
            Accordion,
            Bass,
            SynthBass,
            UprightBass,
            Kick,
            Snare,
            HiHat,
            Brush,
            Ride,
            Rim,
            Clap,
        ] {
            let ev = NoteEvent {
                start: 0.0,
                duration: 0.5,
                midi: 60.0,
                velocity: 1.0,
                instrument,
                pan: 0.0,
            };
            let s = render_note(&ev, 7);
            assert_eq!(
                s,
                render_note(&ev, 7),
                "{instrument:?} is not deterministic"
            );
            let peak = s.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            assert!(peak > 0.01 && peak < 4.0, "{instrument:?} peak {peak}");
            assert!(s.iter().all(|x| x.is_finite()));
        }
    }
}
