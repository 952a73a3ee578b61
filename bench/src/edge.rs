//! `mixtape-bench edge`: a replay workload through the nginx CDN edge (`deploy/nginx/`).
//!
//! LISTENERS threads each play PLAYS tracks chosen with a Zipf-like law (weight 1/rank^S) over
//! a generated library of TRACKS noise WAVs of MB MiB, through the tracks' signed `media_url`s
//! at the edge. A play fetches the whole file; one in SEEK_EVERY plays is a seek, a Range from
//! a random offset to the end (the player jumping ahead). Byte offload is
//! 1 − origin bytes / client bytes, with origin bytes the server's own
//! `mixtape_stream_bytes_total` (the bytes its media routes sent) and client bytes the bodies
//! the listeners received.

use anyhow::{Context, Result, bail, ensure};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct Workload {
    pub tracks: usize,
    pub mb: usize,
    pub listeners: usize,
    pub plays: usize,
    pub zipf: f64,
    pub seek_every: usize,
}

/// nginx from `deploy/nginx/render-edge`, stopped (SIGTERM) on drop.
struct Nginx {
    child: Child,
    addr: SocketAddr,
    state: PathBuf,
}

impl Nginx {
    fn start(origin: SocketAddr, keyfile: &Path, dir: &Path) -> Result<Self> {
        let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx");
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let state = dir.join("edge");
        let rendered = Command::new(deploy.join("render-edge"))
            .arg(origin.to_string())
            .arg(addr.to_string())
            .arg(&state)
            .arg(keyfile)
            .output()
            .context("run deploy/nginx/render-edge")?;
        ensure!(
            rendered.status.success(),
            "render-edge: {}",
            String::from_utf8_lossy(&rendered.stderr)
        );
        let conf = state.join("edge.conf");
        std::fs::write(&conf, &rendered.stdout)?;
        let child = Command::new("nginx")
            .arg("-p")
            .arg(&state)
            .arg("-e")
            .arg(state.join("error.log"))
            .arg("-c")
            .arg(&conf)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start nginx (Debian packages `nginx` and `libnginx-mod-http-js`)")?;
        let mut nginx = Self { child, addr, state };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            if nginx.child.try_wait()?.is_some() || Instant::now() > deadline {
                bail!(
                    "nginx did not start: {}",
                    std::fs::read_to_string(nginx.state.join("error.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(nginx)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// xorshift64*: reproducible choices without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Cumulative weights of ranks 1..=n under 1/rank^s.
fn zipf_cdf(n: usize, s: f64) -> Vec<f64> {
    let mut acc = 0.0;
    let mut cdf: Vec<f64> = (1..=n)
        .map(|k| {
            acc += 1.0 / (k as f64).powf(s);
            acc
        })
        .collect();
    cdf.iter_mut().for_each(|c| *c /= acc);
    cdf
}

fn origin_stream_bytes(http: &reqwest::blocking::Client, base: &str) -> Result<u64> {
    let text = http.get(format!("{base}/metrics")).send()?.text()?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with("mixtape_stream_bytes_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64)
}

/// Runs the workload against the server at `origin` (its media key in `keyfile`), printing
/// Markdown rows for docs/benchmarks.md.
pub fn run(
    origin: SocketAddr,
    token: &str,
    keyfile: &Path,
    dir: &Path,
    w: &Workload,
) -> Result<()> {
    let nginx = Nginx::start(origin, keyfile, dir)?;
    let edge = format!("http://{}", nginx.addr);
    let base = format!("http://{origin}");
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?;
    let page: serde_json::Value = http
        .get(format!("{base}/api/v1/tracks?limit=500"))
        .bearer_auth(token)
        .send()?
        .json()?;
    let tracks: Vec<(String, u64)> = page["items"]
        .as_array()
        .context("tracks")?
        .iter()
        .map(|t| {
            (
                t["media_url"].as_str().unwrap_or_default().to_string(),
                t["size_bytes"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    ensure!(tracks.len() == w.tracks, "{} tracks scanned", tracks.len());
    let cdf = zipf_cdf(tracks.len(), w.zipf);
    let origin_before = origin_stream_bytes(&http, &base)?;
    let client_bytes = AtomicU64::new(0);
    let hits = AtomicU64::new(0);
    let misses = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| -> Result<()> {
        let mut handles = Vec::new();
        for listener in 0..w.listeners {
            let (http, edge, tracks, cdf) = (&http, &edge, &tracks, &cdf);
            let (client_bytes, hits, misses) = (&client_bytes, &hits, &misses);
            handles.push(scope.spawn(move || -> Result<()> {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((listener as u64 + 1) * 0x1000_0001));
                for play in 0..w.plays {
                    let u = rng.unit();
                    let rank = cdf.partition_point(|c| *c < u).min(tracks.len() - 1);
                    let (url, size) = &tracks[rank];
                    let mut request = http.get(format!("{edge}{url}"));
                    let seek = w.seek_every > 0 && play % w.seek_every == w.seek_every - 1;
                    let from = if seek { rng.next() % size } else { 0 };
                    if seek {
                        request = request.header("Range", format!("bytes={from}-"));
                    }
                    let response = request.send()?;
                    let status = response.status().as_u16();
                    ensure!(status == 200 || status == 206, "edge answered {status}");
                    match response
                        .headers()
                        .get("x-cache-status")
                        .map(|v| v.as_bytes())
                    {
                        Some(b"HIT") => hits.fetch_add(1, Ordering::Relaxed),
                        _ => misses.fetch_add(1, Ordering::Relaxed),
                    };
                    let body = response.bytes()?;
                    ensure!(body.len() as u64 == size - from, "short body");
                    client_bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                }
                Ok(())
            }));
        }
        for h in handles {
            h.join().expect("listener thread")?;
        }
        Ok(())
    })?;
    let secs = started.elapsed().as_secs_f64();
    let origin_bytes = origin_stream_bytes(&http, &base)? - origin_before;
    let client = client_bytes.load(Ordering::Relaxed);
    let (hits, misses) = (hits.load(Ordering::Relaxed), misses.load(Ordering::Relaxed));
    let mib = |b: u64| b as f64 / 1048576.0;
    println!(
        "| workload | {} listeners x {} plays, Zipf s={} over {} tracks of {} MiB, 1 in {} plays a seek |",
        w.listeners, w.plays, w.zipf, w.tracks, w.mb, w.seek_every
    );
    println!("| client bytes | {:.0} MiB |", mib(client));
    println!("| origin bytes | {:.0} MiB |", mib(origin_bytes));
    println!(
        "| edge byte offload (1 - origin/client) | {:.1} % |",
        100.0 * (1.0 - origin_bytes as f64 / client as f64)
    );
    println!(
        "| answers HIT / MISS | {hits} / {misses} ({:.1} % hits) |",
        100.0 * hits as f64 / (hits + misses).max(1) as f64
    );
    println!(
        "| wall time, client throughput | {secs:.1} s, {:.0} MiB/s |",
        mib(client) / secs
    );
    drop(nginx);
    Ok(())
}
