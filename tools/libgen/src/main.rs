//! `mixtape-libgen`: builds the demo library and synthetic benchmark libraries.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use mixtape_libgen::{AudioFormat, BenchConfig, NameModel};

#[derive(Parser)]
#[command(
    name = "mixtape-libgen",
    version,
    about = "Generates music libraries for Mixtape"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the demo library (generated music, fully tagged, with cover art).
    ///
    /// Needs sox and ffmpeg on PATH.
    Demo {
        /// Output directory (e.g. assets/demo).
        #[arg(long)]
        out: PathBuf,
        /// Also print a Markdown table of the tracks (for assets/README.md).
        #[arg(long)]
        table: bool,
    },
    /// Write N small, fully tagged files in mixed formats, fast (for scan benchmarks).
    ///
    /// Needs ffmpeg on PATH unless only wav is requested.
    Bench {
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Number of audio files.
        #[arg(long)]
        count: usize,
        /// Seed: the same seed gives the same library.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Comma separated formats to mix.
        #[arg(long, default_value = "mp3,flac,ogg,opus,m4a,wav", value_parser = parse_formats)]
        formats: Formats,
        /// Name model: `words` (English word lists) or `syllables` (short made-up artist
        /// names, long titles of a few shared words).
        #[arg(long, default_value = "words", value_parser = parse_names)]
        names: NameModel,
        /// Worker threads (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
    },
}

#[derive(Clone)]
struct Formats(Vec<AudioFormat>);

fn parse_formats(s: &str) -> Result<Formats, String> {
    AudioFormat::parse_list(s)
        .map(Formats)
        .map_err(|e| e.to_string())
}

fn parse_names(s: &str) -> Result<NameModel, String> {
    NameModel::parse(s).ok_or_else(|| {
        format!(
            "unknown name model {s:?}; expected one of: {}",
            NameModel::NAMES
        )
    })
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo { out, table } => {
            let start = Instant::now();
            let report = mixtape_libgen::build_demo(&out, |path| {
                eprintln!("  wrote {}", path.display());
            })
            .with_context(|| format!("building the demo library in {}", out.display()))?;
            if table {
                println!("{}", report.markdown_table());
            }
            println!(
                "demo: {} tracks and {} art files, {:.1} MiB, in {:.1} s -> {}",
                report.files.len(),
                report.art_files.len(),
                report.total_bytes as f64 / (1024.0 * 1024.0),
                start.elapsed().as_secs_f64(),
                out.display()
            );
        }
        Command::Bench {
            out,
            count,
            seed,
            formats,
            names,
            threads,
        } => {
            if let Some(threads) = threads {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build_global()
                    .context("configuring the thread pool")?;
            }
            let config = BenchConfig {
                count,
                seed,
                formats: formats.0,
                names,
            };
            let start = Instant::now();
            let step = (count / 10).max(1);
            let next_report = AtomicUsize::new(step);
            let progress = |done: usize| {
                let mark = next_report.load(Ordering::Relaxed);
                if done >= mark
                    && next_report
                        .compare_exchange(mark, mark + step, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                    && done < count
                    && count >= 1000
                {
                    eprintln!(
                        "  {done}/{count} files ({:.1} s)",
                        start.elapsed().as_secs_f64()
                    );
                }
            };
            let report = mixtape_libgen::generate_bench(&out, &config, &progress)
                .with_context(|| format!("writing the bench library to {}", out.display()))?;
            let secs = start.elapsed().as_secs_f64();
            let formats: Vec<String> = report
                .per_format
                .iter()
                .map(|(f, n)| format!("{f} {n}"))
                .collect();
            println!(
                "bench: {} files ({}) in {} albums by {} artists, {} cover.jpg, {:.1} MiB, \
                 in {:.1} s ({:.0} files/s) -> {}",
                report.files,
                formats.join(", "),
                report.albums,
                report.artists,
                report.folder_art,
                report.bytes as f64 / (1024.0 * 1024.0),
                secs,
                report.files as f64 / secs.max(1e-9),
                out.display()
            );
        }
    }
    Ok(())
}
