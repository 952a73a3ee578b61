//! `mixtape-receval eval DIR`: HitRate@10 and NDCG@10 of the recommender on the Last.fm HetRec
//! 2011 split, beside popularity and random baselines. `grid DIR` tunes on a validation seed.
//! `bench`: the load benchmark (see `bench.rs`).

mod bench;

use clap::{Parser, Subcommand};
use mixtape_receval::*;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Evaluates and load-tests the Mixtape recommender")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Quality on the Last.fm HetRec 2011 leave-one-out split.
    Eval {
        /// The folder with user_artists.dat.
        dir: PathBuf,
        #[arg(long, value_delimiter = ',', default_values_t = vec![1, 2, 3])]
        seeds: Vec<u32>,
        #[arg(long, default_value_t = DEFAULT.0)]
        alpha: f64,
        #[arg(long, default_value_t = DEFAULT.1)]
        beta: f64,
        #[arg(long, default_value_t = DEFAULT.2)]
        neighbours: usize,
        #[arg(long, default_value_t = DEFAULT.3)]
        shrink: f64,
    },
    /// Tries parameter combinations on one (validation) seed.
    Grid {
        dir: PathBuf,
        #[arg(long, default_value_t = 100)]
        seed: u32,
    },
    /// Load: events/s with browse p99, event-to-recommendation lag, endpoint p99.
    Bench(bench::Args),
}

/// alpha, beta, neighbours, shrink: tuned with `grid` on seed 100 (not an evaluation seed).
const DEFAULT: (f64, f64, usize, f64) = (0.7, 0.1, 300, 0.0);

fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Eval {
            dir,
            seeds,
            alpha,
            beta,
            neighbours,
            shrink,
        } => {
            let data = load(&dir)?;
            let params = eval_params(alpha, beta, neighbours, shrink);
            println!(
                "recommender: alpha={alpha} beta={beta} neighbours={neighbours} shrink={shrink}"
            );
            println!("| seed | users | method | HitRate@10 | NDCG@10 |\n|---|---|---|---|---|");
            let mut mean = [0.0f64; 6];
            for &seed in &seeds {
                let s = split(&data, seed);
                let rows = [
                    ("mixtape item-item", eval_model(&s, params)),
                    ("popularity", eval_popularity(&s)),
                    ("random", eval_random(&s, seed)),
                ];
                for (k, (name, r)) in rows.iter().enumerate() {
                    println!(
                        "| {seed} | {} | {name} | {:.3} | {:.3} |",
                        r.users, r.hit_rate, r.ndcg
                    );
                    mean[2 * k] += r.hit_rate / seeds.len() as f64;
                    mean[2 * k + 1] += r.ndcg / seeds.len() as f64;
                }
            }
            for (k, name) in ["mixtape item-item", "popularity", "random"]
                .iter()
                .enumerate()
            {
                println!(
                    "| mean | | {name} | {:.3} | {:.3} |",
                    mean[2 * k],
                    mean[2 * k + 1]
                );
            }
        }
        Cmd::Grid { dir, seed } => {
            let data = load(&dir)?;
            let s = split(&data, seed);
            for alpha in [0.5, 0.7, 0.85] {
                for beta in [0.0, 0.1] {
                    for neighbours in [300, 1000] {
                        for shrink in [0.0, 5.0] {
                            let r =
                                eval_model(&s, eval_params(alpha, beta, neighbours, shrink * 1e6));
                            println!(
                                "alpha={alpha} beta={beta} k={neighbours} shrink={shrink}e6 hr={:.4} ndcg={:.4}",
                                r.hit_rate, r.ndcg
                            );
                        }
                    }
                }
            }
        }
        Cmd::Bench(args) => bench::run(args)?,
    }
    Ok(())
}
