//! Generators for Mixtape music libraries.
//!
//! * [`demo`]: the small demo library committed under `assets/demo` — generated music
//!   (melodies over chords, bass and drums from a tiny software synthesizer, finished with sox
//!   and encoded with ffmpeg), tagged uniformly with lofty, with cover art.
//! * [`bench`]: large synthetic libraries for scan benchmarks — tens of thousands of ~1 s
//!   files with realistic, deterministic tags, written in parallel from one template per format.

pub mod art;
pub mod bench;
pub mod compose;
pub mod demo;
pub mod demo_lyrics;
pub mod error;
pub mod format;
pub mod names;
pub mod syllables;
pub mod synth;
pub mod tags;
pub mod tools;

pub use bench::{BenchConfig, BenchPlan, BenchReport, NameModel, generate_bench};
pub use demo::{DemoReport, build_demo};
pub use error::{Error, Result};
pub use format::AudioFormat;
pub use tags::{TrackTags, read_back};
