//! `mixtape-receval eval DIR`: HitRate@10 and NDCG@10 of the recommender as served (neighbours
//! blended with the trained model) on the Last.fm HetRec 2011 split, seeds 1 to 10, beside the
//! neighbours alone, popularity, random, and the `implicit` library's anchors (see `anchors.rs`).
//! `grid DIR` tunes on validation seeds. `bench`: the load benchmark (see `bench.rs`); `train`:
//! the trainer's time and peak memory on synthetic history (see `train_bench.rs`).

mod anchors;
mod bench;
mod train_bench;

use clap::{Parser, Subcommand};
use mixtape_receval::*;
use mixtape_server::recs::als::AlsParams;
use mixtape_server::recs::model::Params;
use std::collections::BTreeMap;
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
        #[arg(long, value_delimiter = ',', default_values_t = (1..=10).collect::<Vec<u32>>())]
        seeds: Vec<u32>,
        /// Skip the `implicit` anchors.
        #[arg(long)]
        no_anchors: bool,
        /// The venv the anchors run in (created when missing).
        #[arg(long)]
        venv: Option<PathBuf>,
    },
    /// Tries parameter combinations on validation seeds (not the reported 1 to 10).
    Grid {
        dir: PathBuf,
        #[arg(long, value_delimiter = ',', default_values_t = (11..=20).collect::<Vec<u32>>())]
        seeds: Vec<u32>,
    },
    /// Load: events/s with browse p99, event-to-recommendation lag, endpoint p99.
    Bench(bench::Args),
    /// The trainer's time and peak memory on synthetic history.
    Train(train_bench::Args),
}

const SERVED: &str = "mixtape (served)";
const NEIGHBOURS: &str = "mixtape neighbours";

fn fmt(x: Option<(f64, f64)>, ndcg: bool) -> String {
    x.map_or("–".into(), |(h, n)| {
        format!("{:.3}", if ndcg { n } else { h })
    })
}

fn eval(
    dir: PathBuf,
    seeds: Vec<u32>,
    no_anchors: bool,
    venv: Option<PathBuf>,
) -> anyhow::Result<()> {
    let data = load(&dir)?;
    let params = served_params();
    let als = AlsParams {
        threads: 2,
        ..AlsParams::default()
    };
    println!("served: {params:?}\ntrained: {als:?}");
    let anchors = if no_anchors {
        None
    } else {
        let venv = venv.unwrap_or_else(anchors::default_venv);
        match anchors::measure(&dir, &seeds, &venv) {
            Ok(a) => Some(a),
            Err(e) => {
                println!("anchors skipped: {e:#}");
                None
            }
        }
    };
    let mut methods: Vec<&str> = vec![SERVED, NEIGHBOURS];
    if anchors.is_some() {
        methods.extend(anchors::METHODS);
    }
    methods.extend(["popularity", "random"]);
    let mut rows: Vec<Vec<Option<(f64, f64)>>> = Vec::new();
    for &seed in &seeds {
        let s = split(&data, seed);
        let model = train(&s.train, params);
        let factors = train_factors(&s.train, &als);
        let mut row = Vec::new();
        for m in &methods {
            let r = match *m {
                SERVED => Some(eval_trained(&s, &model, Some(&factors), &params)),
                NEIGHBOURS => Some(eval_trained(&s, &model, None, &params)),
                "popularity" => Some(eval_popularity(&s)),
                "random" => Some(eval_random(&s, seed)),
                _ => None,
            };
            row.push(match r {
                Some(r) => Some((r.hit_rate, r.ndcg)),
                None => anchors
                    .as_ref()
                    .and_then(|a| a.get(&(seed, m.to_string())).copied()),
            });
        }
        rows.push(row);
    }
    for (title, ndcg) in [("HitRate@10", false), ("NDCG@10", true)] {
        println!(
            "\n{title}, {} test users a seed\n",
            split(&data, 1).test.len()
        );
        println!("| seed | {} |", methods.join(" | "));
        println!("|---|{}", "---|".repeat(methods.len()));
        for (seed, row) in seeds.iter().zip(&rows) {
            let cells: Vec<String> = row.iter().map(|x| fmt(*x, ndcg)).collect();
            println!("| {seed} | {} |", cells.join(" | "));
        }
        let means: Vec<String> = (0..methods.len())
            .map(|k| {
                let v: Vec<(f64, f64)> = rows.iter().filter_map(|r| r[k]).collect();
                if v.is_empty() {
                    return "–".into();
                }
                let m =
                    v.iter().map(|x| if ndcg { x.1 } else { x.0 }).sum::<f64>() / v.len() as f64;
                format!("{m:.3}")
            })
            .collect();
        println!("| mean | {} |", means.join(" | "));
    }
    if let Some(k) = methods.iter().position(|m| *m == "implicit ALS") {
        let at_or_above = rows
            .iter()
            .filter(|r| matches!((r[0], r[k]), (Some(a), Some(b)) if a.0 >= b.0))
            .count();
        println!(
            "\nHitRate@10 at or above implicit ALS on {at_or_above} of {} seeds",
            rows.len()
        );
    }
    Ok(())
}

fn grid(dir: PathBuf, seeds: Vec<u32>) -> anyhow::Result<()> {
    let data = load(&dir)?;
    // (configuration, hit rate sum, ndcg sum) over the seeds.
    let mut sums: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let mut add = |key: String, r: Scores| {
        let e = sums.entry(key).or_default();
        e.0 += r.hit_rate / seeds.len() as f64;
        e.1 += r.ndcg / seeds.len() as f64;
    };
    for &seed in &seeds {
        eprintln!("seed {seed}");
        let s = split(&data, seed);
        let m = train(&s.train, served_params());
        for (alpha, beta) in [(0.5, 0.0), (0.7, 0.1)] {
            let params = Params {
                alpha,
                beta,
                ..served_params()
            };
            add(
                format!("neighbours alpha={alpha} beta={beta}"),
                eval_trained(&s, &m, None, &params),
            );
        }
        for scale in [1.0f32, 2.0, 4.0] {
            let als = AlsParams {
                confidence_scale: scale,
                threads: 2,
                ..AlsParams::default()
            };
            let f = train_factors(&s.train, &als);
            for (alpha, beta) in [(0.5, 0.0), (0.7, 0.1)] {
                for weight in [0.5, 0.6, 0.7] {
                    let p = Params {
                        alpha,
                        beta,
                        trained_weight: weight,
                        ..served_params()
                    };
                    add(
                        format!("alpha={alpha} beta={beta} scale={scale} weight={weight}"),
                        eval_trained(&s, &m, Some(&f), &p),
                    );
                }
            }
        }
    }
    let mut ranked: Vec<(String, (f64, f64))> = sums.into_iter().collect();
    ranked.sort_by(|a, b| b.1.0.total_cmp(&a.1.0));
    for (k, (h, n)) in ranked {
        println!("hr={h:.4} ndcg={n:.4} {k}");
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Eval {
            dir,
            seeds,
            no_anchors,
            venv,
        } => eval(dir, seeds, no_anchors, venv)?,
        Cmd::Grid { dir, seeds } => grid(dir, seeds)?,
        Cmd::Bench(args) => bench::run(args)?,
        Cmd::Train(args) => train_bench::run(args)?,
    }
    Ok(())
}
