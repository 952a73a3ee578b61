//! The `implicit` library's anchors (item-item cosine and BM25 with 100 neighbours, ALS with 64
//! factors, regularisation 0.05, 20 iterations) on the same split, from `python/anchors.py` run
//! in a venv this tool creates (`python3 -m venv`, then `pip install implicit==0.7.3`). When
//! Python or the package cannot be had, the evaluation goes on without them and says why.

use anyhow::{Context, bail};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const SCRIPT: &str = include_str!("../python/anchors.py");
/// The version the data set's README quotes its reference figures with.
pub const IMPLICIT: &str = "implicit==0.7.3";
pub const METHODS: [&str; 3] = ["implicit cosine", "implicit BM25", "implicit ALS"];

/// `(seed, method) -> (HitRate@10, NDCG@10)`.
pub type Anchors = BTreeMap<(u32, String), (f64, f64)>;

/// Where the venv goes unless `--venv` says otherwise.
pub fn default_venv() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("mixtape-receval/venv")
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The venv's python with `implicit` installed (created on first use).
fn python(venv: &Path) -> anyhow::Result<PathBuf> {
    let py = venv.join("bin/python");
    let ready = venv.join(format!(".{IMPLICIT}"));
    if !ready.exists() {
        eprintln!("anchors: setting up {} ({IMPLICIT})", venv.display());
        run(Command::new("python3").arg("-m").arg("venv").arg(venv))?;
        run(Command::new(&py).args(["-m", "pip", "install", "-q", IMPLICIT, "numpy", "scipy"]))?;
        std::fs::write(&ready, b"")?;
    }
    Ok(py)
}

/// Runs the anchors on `seeds` of the data in `dir`.
pub fn measure(dir: &Path, seeds: &[u32], venv: &Path) -> anyhow::Result<Anchors> {
    let py = python(venv)?;
    let script = venv.join("mixtape_anchors.py");
    std::fs::write(&script, SCRIPT)?;
    let seeds: Vec<String> = seeds.iter().map(u32::to_string).collect();
    let out = Command::new(py)
        .arg(&script)
        .arg(dir)
        .arg("--seeds")
        .arg(seeds.join(","))
        .output()
        .context("cannot run the anchors script")?;
    if !out.status.success() {
        bail!(
            "the anchors script failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let mut anchors = Anchors::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value =
            serde_json::from_str(line).with_context(|| format!("anchor line {line:?}"))?;
        let (Some(seed), Some(method), Some(hr), Some(ndcg)) = (
            v["seed"].as_u64(),
            v["method"].as_str(),
            v["hit_rate"].as_f64(),
            v["ndcg"].as_f64(),
        ) else {
            bail!("anchor line {line:?} lacks a field");
        };
        anchors.insert((seed as u32, method.to_string()), (hr, ndcg));
    }
    Ok(anchors)
}
