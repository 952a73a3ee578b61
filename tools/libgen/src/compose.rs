//! Turns a short description of a song (key, scale, tempo, chord progression, instruments) into
//! notes: a melody built from repeated and varied two-bar motifs over the chords, an
//! accompaniment pattern, a bass line and drums. Everything is deterministic from the seed.

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::synth::{Instrument, Mix, NoteEvent};

/// Scale, as semitone offsets from the tonic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Ionian.
    Major,
    /// Aeolian.
    Minor,
    /// Dorian.
    Dorian,
    /// Mixolydian.
    Mixolydian,
    /// Lydian.
    Lydian,
    /// Harmonic minor.
    HarmonicMinor,
}

impl Scale {
    fn steps(self) -> &'static [i32; 7] {
        match self {
            Scale::Major => &[0, 2, 4, 5, 7, 9, 11],
            Scale::Minor => &[0, 2, 3, 5, 7, 8, 10],
            Scale::Dorian => &[0, 2, 3, 5, 7, 9, 10],
            Scale::Mixolydian => &[0, 2, 4, 5, 7, 9, 10],
            Scale::Lydian => &[0, 2, 4, 6, 7, 9, 11],
            Scale::HarmonicMinor => &[0, 2, 3, 5, 7, 8, 11],
        }
    }
}

/// How the harmony instrument plays the chords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChordStyle {
    /// Held for the whole bar.
    Sustain,
    /// Broken chord in eighth notes.
    Arpeggio,
    /// Broken chord in sixteenth notes.
    FastArpeggio,
    /// Jazz comping: short chords off the beat.
    Comp,
    /// Guitar strumming pattern.
    Strum,
    /// Waltz: chord on beats 2 and 3 (bass takes beat 1).
    Waltz,
    /// Bossa nova syncopation.
    Bossa,
}

/// Bass line pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BassStyle {
    /// Root, whole bar.
    Root,
    /// Root and fifth, half bars.
    RootFifth,
    /// Quarter-note walking line.
    Walking,
    /// Pulsing eighth notes on the root.
    Eighths,
}

/// Drum pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrumStyle {
    /// Kick on 1 and 3, snare on 2 and 4, eighth hats.
    Rock,
    /// Kick on every beat, off-beat hats, clap on 2 and 4.
    FourOnTheFloor,
    /// Kick on 1, snare on 3.
    HalfTime,
    /// Ride pattern and brushes.
    JazzBrush,
    /// Shaker eighths and a soft kick.
    Shaker,
    /// Rim clicks in a bossa pattern.
    BossaRim,
    /// 3/4: kick on 1, brush on 2 and 3.
    Waltz,
}

/// A song description.
#[derive(Debug, Clone, PartialEq)]
pub struct SongSpec {
    /// Seed for every random choice.
    pub seed: u64,
    /// Tempo.
    pub bpm: f32,
    /// 3 or 4.
    pub beats_per_bar: u32,
    /// MIDI note of the tonic around which the melody sits (e.g. 69 = A4).
    pub tonic: i32,
    /// Scale.
    pub scale: Scale,
    /// Chord roots as scale degrees (0 = I), one per bar, repeated.
    pub progression: Vec<i32>,
    /// Add sevenths to the chords.
    pub sevenths: bool,
    /// Target length in seconds, final chord and reverb tail included.
    pub target_seconds: f32,
    /// Melody voice.
    pub melody: Instrument,
    /// How busy the melody is, 0..1.
    pub density: f32,
    /// Harmony voice.
    pub chords: Instrument,
    /// Harmony pattern.
    pub chord_style: ChordStyle,
    /// Optional second harmony voice, held for the whole bar (a pad behind the pattern).
    pub pad: Option<Instrument>,
    /// Bass voice and pattern.
    pub bass: Option<(Instrument, BassStyle)>,
    /// Drums.
    pub drums: Option<DrumStyle>,
    /// Swing of off-beat eighths, 0 (straight) ..= 1/3 (triplet).
    pub swing: f32,
}

/// Maps a scale degree (any integer) to a MIDI note.
fn degree_midi(tonic: i32, scale: Scale, degree: i32) -> i32 {
    let steps = scale.steps();
    let octave = degree.div_euclid(7);
    tonic + 12 * octave + steps[degree.rem_euclid(7) as usize]
}

/// Degrees of the chord built on `root` (stacked thirds).
fn chord_degrees(root: i32, sevenths: bool) -> Vec<i32> {
    let mut d = vec![root, root + 2, root + 4];
    if sevenths {
        d.push(root + 6);
    }
    d
}

fn is_chord_tone(degree: i32, root: i32, sevenths: bool) -> bool {
    let rel = (degree - root).rem_euclid(7);
    rel == 0 || rel == 2 || rel == 4 || (sevenths && rel == 6)
}

fn nearest_chord_tone(degree: i32, root: i32, sevenths: bool) -> i32 {
    for delta in [0, -1, 1, -2, 2, -3, 3] {
        if is_chord_tone(degree + delta, root, sevenths) {
            return degree + delta;
        }
    }
    degree
}

/// A note in musical time.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Beat {
    at: f32,
    len: f32,
    degree: i32,
}

/// A two-bar melodic idea: onsets/lengths in beats and pitch movement relative to its first note.
#[derive(Debug, Clone)]
struct Motif {
    notes: Vec<(f32, f32, i32)>,
}

fn rhythms(beats: u32, density: f32) -> Vec<&'static [f32]> {
    let sparse4: &[&[f32]] = &[
        &[2.0, 2.0],
        &[3.0, 1.0],
        &[1.0, 1.0, 2.0],
        &[4.0],
        &[2.0, 1.0, 1.0],
    ];
    let medium4: &[&[f32]] = &[
        &[1.0, 1.0, 1.0, 1.0],
        &[1.5, 0.5, 2.0],
        &[1.0, 0.5, 0.5, 2.0],
        &[0.5, 0.5, 1.0, 2.0],
        &[1.5, 0.5, 1.0, 1.0],
        &[2.0, 0.5, 0.5, 1.0],
    ];
    let busy4: &[&[f32]] = &[
        &[0.5, 0.5, 0.5, 0.5, 1.0, 1.0],
        &[1.0, 0.5, 0.5, 0.5, 0.5, 1.0],
        &[0.5, 0.5, 1.0, 0.5, 0.5, 1.0],
        &[0.75, 0.25, 0.5, 0.5, 1.0, 1.0],
    ];
    let sparse3: &[&[f32]] = &[&[3.0], &[2.0, 1.0], &[1.0, 2.0]];
    let medium3: &[&[f32]] = &[&[1.0, 1.0, 1.0], &[1.5, 0.5, 1.0], &[2.0, 0.5, 0.5]];
    let busy3: &[&[f32]] = &[
        &[0.5, 0.5, 1.0, 1.0],
        &[1.0, 0.5, 0.5, 1.0],
        &[0.5, 0.5, 0.5, 0.5, 1.0],
    ];
    let (s, m, b) = if beats == 3 {
        (sparse3, medium3, busy3)
    } else {
        (sparse4, medium4, busy4)
    };
    let mut out: Vec<&'static [f32]> = Vec::new();
    if density < 0.6 {
        out.extend_from_slice(s);
    }
    if density > 0.25 {
        out.extend_from_slice(m);
    }
    if density > 0.6 {
        out.extend_from_slice(b);
    }
    out
}

fn make_motif(rng: &mut ChaCha8Rng, spec: &SongSpec) -> Motif {
    let pool = rhythms(spec.beats_per_bar, spec.density);
    let mut notes = Vec::new();
    let mut degree = 0;
    for bar in 0..2 {
        let pattern = *pool.choose(rng).expect("rhythm pool is never empty");
        let mut at = (bar * spec.beats_per_bar) as f32;
        for &len in pattern {
            notes.push((at, len, degree));
            let step = *[-2, -1, -1, 1, 1, 2, 3, -3, 0, 4, -4]
                .choose(rng)
                .expect("non-empty");
            degree = (degree + step).clamp(-4, 6);
            at += len;
        }
    }
    Motif { notes }
}

/// Lays a motif at `start_bar`, fitting it to the chords; `ending` makes it land on the tonic.
fn realize(
    motif: &Motif,
    spec: &SongSpec,
    start_bar: u32,
    anchor: i32,
    ending: bool,
    out: &mut Vec<Beat>,
) -> i32 {
    let bpb = spec.beats_per_bar as f32;
    let chord_at = |beat: f32| {
        let bar = start_bar + (beat / bpb) as u32;
        spec.progression[bar as usize % spec.progression.len()]
    };
    let first_chord = chord_at(0.0);
    let base = nearest_chord_tone(anchor, first_chord, spec.sevenths) - motif.notes[0].2;
    let mut last = anchor;
    let count = motif.notes.len();
    for (i, &(at, len, rel)) in motif.notes.iter().enumerate() {
        let chord = chord_at(at);
        let mut degree = base + rel;
        let strong = at.fract() == 0.0 && (at as u32).is_multiple_of(2);
        if strong {
            degree = nearest_chord_tone(degree, chord, spec.sevenths);
        }
        // Keep the melody in a singable range around the tonic.
        while degree > 9 {
            degree -= 7;
        }
        while degree < -3 {
            degree += 7;
        }
        let mut len = len;
        if ending && i == count - 1 {
            degree = if degree > 3 { 7 } else { 0 };
            len = len.max(1.0);
        }
        out.push(Beat {
            at: start_bar as f32 * bpb + at,
            len,
            degree,
        });
        last = degree;
    }
    last
}

/// The notes of the melody, in beats.
fn melody(spec: &SongSpec, bars: u32, rng: &mut ChaCha8Rng) -> Vec<Beat> {
    let a = make_motif(rng, spec);
    let b = make_motif(rng, spec);
    let c = make_motif(rng, spec);
    let mut out = Vec::new();
    let mut anchor = 2;
    let mut bar = 0;
    let mut section = 0;
    while bar + 2 <= bars {
        let phrase = (bar / 2) % 4;
        let (motif, ending) = match (section % 2, phrase) {
            (_, 2) => (&b, false),
            (0, 3) | (1, 3) => (&a, true),
            (0, _) => (&a, false),
            _ => (&c, false),
        };
        let ending = ending || bar + 2 == bars;
        anchor = realize(motif, spec, bar, anchor, ending, &mut out);
        // Occasionally leave a breath at a phrase end.
        if rng.random_bool(0.3)
            && let Some(last) = out.last_mut()
        {
            last.len = (last.len - 0.5).max(0.5);
        }
        bar += 2;
        if phrase == 3 {
            section += 1;
        }
    }
    out
}

/// Number of bars before the final chord: an even number, so that phrases are complete.
fn bar_count(spec: &SongSpec) -> u32 {
    let bar_s = 60.0 / spec.bpm * spec.beats_per_bar as f32;
    // target = bars + the final chord bar + 2 s of release here + 1.5 s of reverb tail (sox).
    let bars = ((spec.target_seconds - 3.5) / bar_s - 1.0).round().max(2.0) as u32;
    bars + bars % 2
}

/// Length of the finished track in seconds: the rendered mix plus the 1.5 s reverb tail that
/// the demo pipeline pads with sox.
pub fn planned_seconds(spec: &SongSpec) -> f32 {
    let bar_s = 60.0 / spec.bpm * spec.beats_per_bar as f32;
    (bar_count(spec) + 1) as f32 * bar_s + 2.0 + 1.5
}

/// Renders the whole song into a mix.
pub fn render(spec: &SongSpec) -> Mix {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let beat_s = 60.0 / spec.bpm;
    let bpb = spec.beats_per_bar;
    let bar_s = beat_s * bpb as f32;
    let bars = bar_count(spec);
    let total = (bars + 1) as f32 * bar_s + 2.0;
    let mut mix = Mix::new(total);
    let mut seed = spec.seed.wrapping_mul(1_000_003);
    let mut next_seed = || {
        seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        seed
    };

    // Musical time (beats) to seconds, with swing on off-beat eighths.
    let swing = spec.swing;
    let time = |beat: f32| {
        let whole = beat.floor();
        let frac = beat - whole;
        let frac = if (frac - 0.5).abs() < 1e-4 {
            0.5 + swing * 0.5
        } else {
            frac
        };
        (whole + frac) * beat_s
    };
    let chord_root = |bar: u32| {
        if bar >= bars {
            0
        } else {
            spec.progression[bar as usize % spec.progression.len()]
        }
    };
    let humanize = |rng: &mut ChaCha8Rng, t: f32| t + rng.random_range(-0.006f32..0.006);

    // Melody.
    for note in melody(spec, bars, &mut rng) {
        let v = 0.55 + 0.1 * rng.random::<f32>() + if note.at.fract() == 0.0 { 0.1 } else { 0.0 };
        let start = humanize(&mut rng, time(note.at)).max(0.0);
        mix.add(
            &NoteEvent {
                start,
                duration: note.len * beat_s * 0.92,
                midi: degree_midi(spec.tonic, spec.scale, note.degree) as f32,
                velocity: v,
                instrument: spec.melody,
                pan: 0.15,
            },
            next_seed(),
        );
    }
    // Final melody note: the tonic, held through the last bar.
    mix.add(
        &NoteEvent {
            start: time((bars * bpb) as f32),
            duration: bar_s,
            midi: spec.tonic as f32,
            velocity: 0.6,
            instrument: spec.melody,
            pan: 0.15,
        },
        next_seed(),
    );

    // Harmony: chord tones voiced in the octave below the melody.
    let low = spec.tonic - 10;
    let voicing = |root: i32| -> Vec<f32> {
        let mut notes: Vec<i32> = chord_degrees(root, spec.sevenths)
            .into_iter()
            .map(|d| {
                let mut m = degree_midi(spec.tonic, spec.scale, d);
                while m >= low + 12 {
                    m -= 12;
                }
                while m < low {
                    m += 12;
                }
                m
            })
            .collect();
        notes.sort_unstable();
        notes.into_iter().map(|m| m as f32).collect()
    };
    for bar in 0..=bars {
        let last = bar == bars;
        let root = chord_root(bar);
        let chord = voicing(root);
        let b0 = (bar * bpb) as f32;
        let mut play = |at: f32,
                        len: f32,
                        midi: f32,
                        vel: f32,
                        inst: Instrument,
                        pan: f32,
                        rng: &mut ChaCha8Rng| {
            mix.add(
                &NoteEvent {
                    start: humanize(rng, time(at)).max(0.0),
                    duration: len * beat_s,
                    midi,
                    velocity: vel,
                    instrument: inst,
                    pan,
                },
                next_seed(),
            );
        };
        if let Some(pad) = spec.pad {
            for &m in &chord {
                play(b0, bpb as f32, m, 0.22, pad, -0.3, &mut rng);
            }
        }
        let style = if last {
            ChordStyle::Sustain
        } else {
            spec.chord_style
        };
        let inst = spec.chords;
        match style {
            ChordStyle::Sustain => {
                for &m in &chord {
                    play(b0, bpb as f32, m, 0.3, inst, -0.25, &mut rng);
                }
            }
            ChordStyle::Arpeggio | ChordStyle::FastArpeggio => {
                let step = if style == ChordStyle::Arpeggio {
                    0.5
                } else {
                    0.25
                };
                let mut order: Vec<f32> = chord.clone();
                order.push(chord[0] + 12.0);
                let up_down: Vec<f32> = order
                    .iter()
                    .chain(
                        order
                            .iter()
                            .rev()
                            .skip(1)
                            .take(order.len().saturating_sub(2)),
                    )
                    .copied()
                    .collect();
                let count = (bpb as f32 / step) as usize;
                for i in 0..count {
                    let m = up_down[i % up_down.len()];
                    let vel = if i % 2 == 0 { 0.34 } else { 0.27 };
                    play(
                        b0 + i as f32 * step,
                        step * 1.6,
                        m,
                        vel,
                        inst,
                        -0.35,
                        &mut rng,
                    );
                }
            }
            ChordStyle::Comp => {
                let hits: &[(f32, f32)] = if rng.random_bool(0.5) {
                    &[(1.0, 0.6), (2.5, 1.0)]
                } else {
                    &[(0.0, 1.2), (1.5, 0.5), (3.0, 0.6)]
                };
                for &(at, len) in hits {
                    for &m in &chord {
                        play(b0 + at, len, m, 0.26, inst, -0.3, &mut rng);
                    }
                }
            }
            ChordStyle::Strum => {
                // D . D U . U D U
                let strokes: &[(f32, bool)] = &[
                    (0.0, true),
                    (1.0, true),
                    (1.5, false),
                    (2.5, false),
                    (3.0, true),
                    (3.5, false),
                ];
                for &(at, down) in strokes {
                    let mut notes = chord.clone();
                    notes.push(chord[0] + 12.0);
                    if !down {
                        notes.reverse();
                    }
                    for (k, &m) in notes.iter().enumerate() {
                        let t = at + k as f32 * 0.012 / beat_s;
                        play(
                            b0 + t,
                            0.9,
                            m,
                            if down { 0.22 } else { 0.16 },
                            inst,
                            -0.35,
                            &mut rng,
                        );
                    }
                }
            }
            ChordStyle::Waltz => {
                for at in [1.0, 2.0] {
                    for &m in &chord {
                        play(b0 + at, 0.7, m + 12.0, 0.2, inst, -0.3, &mut rng);
                    }
                }
            }
            ChordStyle::Bossa => {
                for &(at, len) in &[(0.0, 1.0), (1.5, 1.0), (3.0, 0.5), (3.5, 0.5)] {
                    for &m in &chord {
                        play(b0 + at, len, m, 0.22, inst, -0.3, &mut rng);
                    }
                }
            }
        }

        // Bass.
        if let Some((bass, bass_style)) = spec.bass {
            let root_midi = |r: i32| {
                let mut m = degree_midi(spec.tonic, spec.scale, r);
                while m > spec.tonic - 17 {
                    m -= 12;
                }
                while m < spec.tonic - 29 {
                    m += 12;
                }
                m as f32
            };
            let r = root_midi(root);
            let fifth = r + 7.0;
            let style = if last { BassStyle::Root } else { bass_style };
            match style {
                BassStyle::Root => play(b0, bpb as f32 * 0.95, r, 0.8, bass, 0.0, &mut rng),
                BassStyle::RootFifth => {
                    let half = bpb as f32 / 2.0;
                    if bpb == 3 {
                        play(b0, 1.0, r, 0.8, bass, 0.0, &mut rng);
                        play(b0 + 2.0, 0.9, fifth, 0.6, bass, 0.0, &mut rng);
                    } else {
                        play(b0, half * 0.9, r, 0.8, bass, 0.0, &mut rng);
                        play(b0 + half, half * 0.9, fifth, 0.7, bass, 0.0, &mut rng);
                    }
                }
                BassStyle::Walking => {
                    let next = root_midi(chord_root(bar + 1));
                    let third = degree_midi(spec.tonic, spec.scale, root + 2) as f32;
                    let third = r + (third - r).rem_euclid(12.0);
                    let approach = if next > r { next - 1.0 } else { next + 1.0 };
                    let line = [r, third, fifth, approach];
                    for (i, &m) in line.iter().take(bpb as usize).enumerate() {
                        play(b0 + i as f32, 0.9, m, 0.75, bass, 0.0, &mut rng);
                    }
                }
                BassStyle::Eighths => {
                    for i in 0..bpb * 2 {
                        let m = if i == bpb * 2 - 1 { r + 12.0 } else { r };
                        play(
                            b0 + i as f32 * 0.5,
                            0.42,
                            m,
                            if i % 2 == 0 { 0.8 } else { 0.6 },
                            bass,
                            0.0,
                            &mut rng,
                        );
                    }
                }
            }
        }

        // Drums (not on the final chord, except a closing hit).
        if let Some(drums) = spec.drums {
            use Instrument::*;
            let mut hit = |at: f32, inst: Instrument, vel: f32, pan: f32, rng: &mut ChaCha8Rng| {
                let vel = vel * (0.85 + 0.15 * rng.random::<f32>());
                play(b0 + at, 0.1, 60.0, vel, inst, pan, rng);
            };
            if last {
                hit(0.0, Kick, 0.8, 0.0, &mut rng);
                if drums == DrumStyle::JazzBrush || drums == DrumStyle::FourOnTheFloor {
                    hit(0.0, Ride, 0.5, 0.3, &mut rng);
                }
                continue;
            }
            let fill = bar % 8 == 7;
            match drums {
                DrumStyle::Rock => {
                    for i in 0..8 {
                        hit(
                            i as f32 * 0.5,
                            HiHat,
                            if i % 2 == 0 { 0.5 } else { 0.3 },
                            0.35,
                            &mut rng,
                        );
                    }
                    hit(0.0, Kick, 0.9, 0.0, &mut rng);
                    hit(2.0, Kick, 0.85, 0.0, &mut rng);
                    if rng.random_bool(0.4) {
                        hit(2.5, Kick, 0.6, 0.0, &mut rng);
                    }
                    hit(1.0, Snare, 0.7, 0.05, &mut rng);
                    hit(3.0, Snare, 0.7, 0.05, &mut rng);
                    if fill {
                        hit(3.5, Snare, 0.5, 0.05, &mut rng);
                        hit(3.75, Snare, 0.6, 0.05, &mut rng);
                    }
                }
                DrumStyle::FourOnTheFloor => {
                    for i in 0..4 {
                        hit(i as f32, Kick, 0.9, 0.0, &mut rng);
                        hit(i as f32 + 0.5, HiHat, 0.5, 0.35, &mut rng);
                    }
                    hit(1.0, Clap, 0.55, -0.1, &mut rng);
                    hit(3.0, Clap, 0.55, -0.1, &mut rng);
                    if fill {
                        hit(3.75, Clap, 0.4, -0.1, &mut rng);
                    }
                }
                DrumStyle::HalfTime => {
                    hit(0.0, Kick, 0.9, 0.0, &mut rng);
                    if rng.random_bool(0.5) {
                        hit(1.75, Kick, 0.6, 0.0, &mut rng);
                    }
                    hit(2.0, Snare, 0.65, 0.05, &mut rng);
                    for i in 0..8 {
                        hit(
                            i as f32 * 0.5,
                            HiHat,
                            if i % 2 == 0 { 0.35 } else { 0.22 },
                            0.35,
                            &mut rng,
                        );
                    }
                }
                DrumStyle::JazzBrush => {
                    for &at in &[0.0, 1.0, 1.5, 2.0, 3.0, 3.5] {
                        hit(
                            at,
                            Ride,
                            if at.fract() == 0.0 { 0.45 } else { 0.3 },
                            0.3,
                            &mut rng,
                        );
                    }
                    hit(1.0, Brush, 0.45, -0.1, &mut rng);
                    hit(3.0, Brush, 0.45, -0.1, &mut rng);
                    hit(0.0, Kick, 0.35, 0.0, &mut rng);
                }
                DrumStyle::Shaker => {
                    for i in 0..bpb * 2 {
                        hit(
                            i as f32 * 0.5,
                            Brush,
                            if i % 2 == 0 { 0.3 } else { 0.4 },
                            0.4,
                            &mut rng,
                        );
                    }
                    hit(0.0, Kick, 0.5, 0.0, &mut rng);
                    if bpb == 4 {
                        hit(2.0, Kick, 0.4, 0.0, &mut rng);
                    }
                }
                DrumStyle::BossaRim => {
                    for &at in &[0.0, 1.5, 3.0] {
                        hit(at, Kick, 0.5, 0.0, &mut rng);
                    }
                    for &at in &[0.0, 0.75, 1.5, 2.5, 3.25] {
                        hit(at, Rim, 0.45, -0.2, &mut rng);
                    }
                    for i in 0..8 {
                        hit(i as f32 * 0.5, HiHat, 0.2, 0.35, &mut rng);
                    }
                }
                DrumStyle::Waltz => {
                    hit(0.0, Kick, 0.6, 0.0, &mut rng);
                    hit(1.0, Brush, 0.35, -0.1, &mut rng);
                    hit(2.0, Brush, 0.35, -0.1, &mut rng);
                }
            }
        }
    }
    mix.normalize(0.7);
    mix
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SongSpec {
        SongSpec {
            seed: 1,
            bpm: 120.0,
            beats_per_bar: 4,
            tonic: 69,
            scale: Scale::Minor,
            progression: vec![0, 5, 2, 6],
            sevenths: false,
            target_seconds: 8.0,
            melody: Instrument::SoftLead,
            density: 0.5,
            chords: Instrument::Pluck,
            chord_style: ChordStyle::Arpeggio,
            pad: None,
            bass: Some((Instrument::Bass, BassStyle::RootFifth)),
            drums: Some(DrumStyle::Rock),
            swing: 0.0,
        }
    }

    #[test]
    fn degrees_map_to_scale_notes() {
        assert_eq!(degree_midi(60, Scale::Major, 0), 60);
        assert_eq!(degree_midi(60, Scale::Major, 2), 64);
        assert_eq!(degree_midi(60, Scale::Major, 7), 72);
        assert_eq!(degree_midi(60, Scale::Major, -1), 59);
        assert_eq!(degree_midi(69, Scale::Minor, 2), 72);
    }

    #[test]
    fn melody_fits_the_bars_and_ends_on_the_tonic() {
        let s = spec();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let notes = melody(&s, 8, &mut rng);
        assert!(notes.len() >= 8);
        assert!(notes.iter().all(|n| n.at >= 0.0 && n.at < 32.0));
        assert!(notes.windows(2).all(|w| w[0].at <= w[1].at));
        assert_eq!(notes.last().unwrap().degree.rem_euclid(7), 0);
    }

    #[test]
    fn rendering_is_deterministic() {
        let a = render(&spec()).to_wav();
        let b = render(&spec()).to_wav();
        assert_eq!(a, b);
        let mut other = spec();
        other.seed = 2;
        assert_ne!(a, render(&other).to_wav());
    }
}
