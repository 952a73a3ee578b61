//! `mixtape-bench transcode`: encode speed per core for each profile, time to first byte and to
//! a seek over HTTP with nothing cached, and the rate of a cached rendition against the
//! original's on the same server.
//!
//! The source is a generated 44.1 kHz stereo 16-bit WAV (tones that change every second plus
//! noise, so the encoder has work); decoding a WAV costs nearly nothing, so the figures are the
//! resampler's and the encoder's. A FLAC source adds symphonia's decode (×1000 realtime).

use anyhow::{Context, Result, bail};
use mixtape_codec::{DecodeError, PROFILES, Plan, SourceInfo, TrackDecoder};
use mixtape_server::Config;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const RATE: u32 = 44_100;
const PASSWORD: &str = "bench-password-1";

fn write_wav(path: &Path, secs: u32) -> Result<()> {
    let frames = RATE * secs;
    let data_len = frames * 4;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&RATE.to_le_bytes());
    out.extend_from_slice(&(RATE * 4).to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    let mut noise = 0x2545_f491_4f6c_dd1du64;
    for i in 0..frames {
        let t = f64::from(i) / f64::from(RATE);
        let f = 110.0 * f64::from(1 + i / RATE % 9);
        for c in 0..2 {
            noise ^= noise << 13;
            noise ^= noise >> 7;
            noise ^= noise << 17;
            let n = (noise % 2001) as f64 / 1000.0 - 1.0;
            let s = (2.0 * std::f64::consts::PI * f * (1.0 + f64::from(c) * 0.01) * t).sin() * 0.3
                + (2.0 * std::f64::consts::PI * 2.5 * f * t).sin() * 0.1
                + n * 0.05;
            out.extend_from_slice(&((s * 32_767.0) as i16).to_le_bytes());
        }
    }
    std::fs::write(path, out)?;
    Ok(())
}

fn opener(path: PathBuf) -> impl Fn() -> Result<TrackDecoder, DecodeError> {
    move || {
        let f = std::fs::File::open(&path).map_err(|e| DecodeError::Open(e.to_string()))?;
        TrackDecoder::open(Box::new(f), "wav")
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Server {
    running: mixtape_server::RunningServer,
    base: String,
    token: String,
    http: reqwest::Client,
}

async fn server(library: &Path, data: &Path, cache_mb: u64) -> Result<Server> {
    let mut config = Config::embedded(library.canonicalize()?, data.to_path_buf());
    config.admin_password = Some(PASSWORD.into());
    config.transcode_cache_max_mb = cache_mb;
    let running = mixtape_server::start(config).await?;
    let base = format!("http://{}", running.addr);
    let http = reqwest::Client::new();
    let login: serde_json::Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["token"].as_str().context("login")?.to_string();
    loop {
        let s: serde_json::Value = http
            .get(format!("{base}/api/v1/scan"))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        if s["state"] == "idle" && s["phase"] == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(Server {
        running,
        base,
        token,
        http,
    })
}

impl Server {
    async fn hash(&self) -> Result<String> {
        let page: serde_json::Value = self
            .http
            .get(format!("{}/api/v1/tracks?limit=1", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?
            .json()
            .await?;
        page["items"][0]["content_hash"]
            .as_str()
            .map(str::to_owned)
            .context("a track")
    }

    /// Time to the first body byte of a GET of `path` with `range`.
    async fn first_byte(&self, path: &str, range: &str) -> Result<Duration> {
        let started = Instant::now();
        let mut r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("range", range)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("{path} {range}: {}", r.status());
        }
        r.chunk().await?.context("a body")?;
        Ok(started.elapsed())
    }

    /// Seconds to GET all of `path`, and its size.
    async fn whole(&self, path: &str) -> Result<(Duration, usize)> {
        let started = Instant::now();
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("{path}: {}", r.status());
        }
        let n = r.bytes().await?.len();
        Ok((started.elapsed(), n))
    }
}

pub async fn run(seconds: u32, runs: usize) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let library = tmp.path().join("library");
    std::fs::create_dir_all(&library)?;
    let wav = library.join("source.wav");
    write_wav(&wav, seconds)?;

    // Encode speed: every chunk of the rendition on this one thread.
    println!("| profile | encode, one thread | × realtime per core |");
    println!("|---|---|---|");
    let open = opener(wav.clone());
    let source = SourceInfo::probe(&open)?;
    for profile in PROFILES {
        let plan = Plan::new(profile, source, 1)?;
        let mut best = Duration::MAX;
        for _ in 0..runs.min(3) {
            let started = Instant::now();
            let mut len = 0;
            for c in 0..plan.chunks() {
                len += plan.encode_chunk(c, &open)?.len();
            }
            if len as u64 != plan.len() {
                bail!("{}: {} bytes, planned {}", profile.id, len, plan.len());
            }
            best = best.min(started.elapsed());
        }
        println!(
            "| {} | {:.2} s for {seconds} s | ×{:.0} |",
            profile.id,
            best.as_secs_f64(),
            f64::from(seconds) / best.as_secs_f64()
        );
    }

    // Latency with nothing cached: each request at a different chunk, so none is a hit.
    let cold = server(&library, &tmp.path().join("cold"), 0).await?;
    let hash = cold.hash().await?;
    for profile in ["opus-128", "mp3-128"] {
        latency(&cold, &hash, profile, runs).await?;
    }
    listeners(&cold, &hash, seconds).await?;
    cold.running.shutdown().await?;
    warm_path(&library, tmp.path(), runs).await
}

/// Time to first byte, from the start, at a seek and at the tail, of `profile` with nothing
/// cached.
async fn latency(cold: &Server, hash: &str, profile: &str, runs: usize) -> Result<()> {
    let path = format!("/api/v1/media/{hash}/{profile}");
    let head = cold
        .http
        .head(format!("{}{path}", cold.base))
        .bearer_auth(&cold.token)
        .send()
        .await?;
    let len: u64 = head.headers()["content-length"].to_str()?.parse()?;
    let before = cold.running.state.transcoder.pool_stats().done;
    let mut first = Vec::new();
    let mut seeks = Vec::new();
    let mut tails = Vec::new();
    for i in 0..runs {
        first.push(cold.first_byte(&path, "bytes=0-").await?);
        let at = len * (i as u64 * 7 % 29 + 1) / 31;
        seeks.push(cold.first_byte(&path, &format!("bytes={at}-")).await?);
        tails.push(cold.first_byte(&path, "bytes=-65536").await?);
    }
    let done = cold.running.state.transcoder.pool_stats().done - before;
    println!();
    println!("| {profile}, nothing cached ({runs} runs each) | median |");
    println!("|---|---|");
    println!(
        "| time to first byte, from the start | {:.1} ms |",
        ms(median(first))
    );
    println!(
        "| time to first byte, a seek (Range into the middle) | {:.1} ms |",
        ms(median(seeks))
    );
    println!(
        "| time to first byte, the last 64 KiB (what a demuxer reads first) | {:.1} ms |",
        ms(median(tails))
    );
    println!("| chunks encoded for these requests | {done} |");
    Ok(())
}

/// CPU seconds this process has used (user + system), from `/proc/self/stat`.
fn cpu_seconds() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name (which may hold spaces) start at state, field 3.
    let rest = stat.rsplit_once(')').context("/proc/self/stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> { Ok(fields.get(i).context("a field")?.parse::<f64>()?) };
    // utime and stime are fields 14 and 15 (11 and 12 after the state), in USER_HZ (100).
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// Concurrent listeners one node sustains while transcoding: many renditions of the source
/// (every profile, nothing cached) fetched at once, as fast as the pool makes them. Their
/// audio seconds per wall second is how many real-time listeners the pool keeps up with; the
/// CPU time per audio second is a listener's share of a core (HTTP and all included).
async fn listeners(server: &Server, hash: &str, seconds: u32) -> Result<()> {
    let started = Instant::now();
    let cpu = cpu_seconds()?;
    let mut tasks = tokio::task::JoinSet::new();
    for profile in PROFILES {
        let url = format!("{}/api/v1/media/{hash}/{}", server.base, profile.id);
        let req = server.http.get(url).bearer_auth(&server.token);
        tasks.spawn(async move {
            let r = req.send().await?;
            if !r.status().is_success() {
                bail!("{}", r.status());
            }
            Ok(r.bytes().await?.len())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds()? - cpu;
    let audio = f64::from(seconds) * PROFILES.len() as f64;
    let threads = server.running.state.transcoder.threads();
    println!();
    println!(
        "| {} renditions of {seconds} s at once, nothing cached, {threads} encoder thread(s) | figure |",
        PROFILES.len()
    );
    println!("|---|---|");
    println!("| wall time | {wall:.1} s |");
    println!(
        "| real-time listeners sustained (audio seconds per wall second) | {:.0} |",
        audio / wall
    );
    println!(
        "| CPU per listener (CPU seconds per audio second) | {:.2} % of a core |",
        cpu / audio * 100.0
    );
    Ok(())
}

/// The cache hit path against the original, on one server.
async fn warm_path(library: &Path, tmp: &Path, runs: usize) -> Result<()> {
    let warm = server(library, &tmp.join("warm"), 1024).await?;
    let hash = warm.hash().await?;
    let rendition = format!("/api/v1/media/{hash}/opus-192");
    let (fill, size) = warm.whole(&rendition).await?;
    let mut hit = Duration::MAX;
    let mut original = Duration::MAX;
    let mut original_size = 0;
    for _ in 0..runs.min(5) {
        hit = hit.min(warm.whole(&rendition).await?.0);
        let (d, n) = warm.whole(&format!("/api/v1/media/{hash}")).await?;
        original = original.min(d);
        original_size = n;
    }
    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64() / 1e6;
    println!();
    println!("| one GET over loopback | size | time | rate |");
    println!("|---|---|---|---|");
    println!(
        "| opus-192, first (encoded while sent) | {:.1} MB | {:.0} ms | {:.0} MB/s |",
        size as f64 / 1e6,
        ms(fill),
        rate(size, fill)
    );
    println!(
        "| opus-192, cached | {:.1} MB | {:.1} ms | {:.0} MB/s |",
        size as f64 / 1e6,
        ms(hit),
        rate(size, hit)
    );
    println!(
        "| original (WAV) | {:.1} MB | {:.1} ms | {:.0} MB/s |",
        original_size as f64 / 1e6,
        ms(original),
        rate(original_size, original)
    );
    warm.running.shutdown().await?;
    Ok(())
}
