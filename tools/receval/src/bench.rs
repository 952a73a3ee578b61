//! `mixtape-receval bench`: an in-process server (embedded default) scans a library, then
//! 1. takes a history of synthetic play events as fast as concurrent posters send them (browser
//!    paging `GET /api/v1/tracks` meanwhile),
//! 2. takes a stream paced at `--rate` events/s for `--paced-secs` while a browser pages
//!    `GET /api/v1/albums`: browse p99 and event-to-model lag p99 (from `recs_applied`:
//!    enqueued → applied, in the transaction that updates the model) under that load,
//! 3. asks the trainer for a training of the model on the whole history (`--train`): its time,
//!    and browse p99 while it runs beside an idle baseline,
//! 4. times for-you (rotating over the listeners), similar and radio.

use mixtape_server::Config;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    /// A library folder (e.g. from `mixtape-libgen bench`); an empty one when absent.
    #[arg(long)]
    library: Option<PathBuf>,
    /// Distinct track ids the events name (the library's ids when it has that many).
    #[arg(long, default_value_t = 100_000)]
    tracks: i64,
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Listener accounts (each posts its own events).
    #[arg(long, default_value_t = 40)]
    users: usize,
    /// Concurrent posters (events are posted 500 a request).
    #[arg(long, default_value_t = 4)]
    posters: usize,
    /// Then this many seconds of events paced at `--rate` (0: skip), a browser paging albums.
    #[arg(long, default_value_t = 30)]
    paced_secs: u64,
    /// Events/s offered in the paced phase.
    #[arg(long, default_value_t = 5000.0)]
    rate: f64,
    /// Concurrent posters in the paced phase (enough that each keeps its schedule).
    #[arg(long, default_value_t = 16)]
    paced_posters: usize,
    /// Events a request in the paced phase.
    #[arg(long, default_value_t = 50)]
    batch: usize,
    /// Requests timed per recommendation endpoint.
    #[arg(long, default_value_t = 500)]
    requests: usize,
    /// Train the recommendation model on the history (phase 3) before timing the endpoints.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    train: bool,
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// A cheap deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Skewed towards small ids (popular tracks), like real listening.
    fn track(&mut self, n: i64) -> i64 {
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        1 + ((n as f64).powf(u) as i64 - 1).clamp(0, n - 1)
    }
}

/// User `u`'s `k`-th play: sessions of 10 plays 3 minutes apart, one session a day; each user
/// sticks to a "taste" neighbourhood of ids so co-listening has structure.
fn event(u: usize, k: usize, tracks: i64, rng: &mut Rng) -> Value {
    let taste = (u as i64 * 7919) % tracks;
    let t = if rng.next().is_multiple_of(3) {
        rng.track(tracks)
    } else {
        1 + (taste + (rng.next() % 200) as i64) % tracks
    };
    let at = 1_700_000_000_000i64 + (k / 10) as i64 * 86_400_000 + (k % 10) as i64 * 180_000;
    json!({"id": uuid::Uuid::now_v7(), "track_id": t, "kind": "finish", "position_ms": 0, "at_ms": at})
}

/// A browser: GET `path` every 20 ms until `stop`; the latencies of the answers.
fn browser(
    http: &reqwest::blocking::Client,
    base: &str,
    token: &str,
    path: &str,
    stop: &Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<f64>> {
    let (http, url, token, stop) = (
        http.clone(),
        format!("{base}{path}"),
        token.to_string(),
        stop.clone(),
    );
    std::thread::spawn(move || {
        let mut lat = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            let ok = http
                .get(&url)
                .bearer_auth(&token)
                .send()
                .and_then(|r| {
                    let ok = r.status().is_success();
                    r.bytes().map(|_| ok)
                })
                .unwrap_or(false);
            if ok {
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        lat
    })
}

fn wait_drained(http: &reqwest::blocking::Client, base: &str, token: &str) -> anyhow::Result<()> {
    loop {
        let q: Value = http
            .get(format!("{base}/api/v1/admin/queue"))
            .bearer_auth(token)
            .send()?
            .json()?;
        if q["queue"]["depth"] == 0 {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Load {
    base: String,
    tokens: Arc<Vec<String>>,
    users: usize,
    tracks: i64,
    posters: usize,
}

impl Load {
    /// Posts `n` events from `posters` threads, `batch` a request; paced at `rate` events/s
    /// (all posters together) when given. `offset` continues each user's timeline.
    fn post(
        &self,
        http: &reqwest::blocking::Client,
        n: usize,
        batch_size: usize,
        rate: Option<f64>,
        offset: usize,
    ) -> anyhow::Result<()> {
        let per = n / self.posters;
        let started = Instant::now();
        let posters: Vec<_> = (0..self.posters)
            .map(|p| {
                let (http, base, tokens) = (http.clone(), self.base.clone(), self.tokens.clone());
                let (users, tracks, posters) = (self.users, self.tracks, self.posters);
                std::thread::spawn(move || -> anyhow::Result<()> {
                    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (p as u64 + 1) ^ offset as u64);
                    let mut batch = Vec::with_capacity(batch_size);
                    let mut counts = vec![offset / users; users];
                    let mine: Vec<usize> = (0..users).filter(|u| u % posters == p).collect();
                    let mut turn = 0;
                    let mut u = mine[0];
                    for i in 0..per {
                        batch.push(event(u, counts[u], tracks, &mut rng));
                        counts[u] += 1;
                        if batch.len() == batch_size || i + 1 == per {
                            if let Some(rate) = rate {
                                // This poster's share: its (i+1)-th event is due at (i+1)*posters/rate.
                                let due = Duration::from_secs_f64(
                                    (i + 1 - batch.len()) as f64 * posters as f64 / rate,
                                );
                                if let Some(wait) = due.checked_sub(started.elapsed()) {
                                    std::thread::sleep(wait);
                                }
                            }
                            let r = http
                                .post(format!("{base}/api/v1/events"))
                                .bearer_auth(&tokens[u])
                                .json(&json!({"events": batch}))
                                .send()?;
                            turn += 1;
                            u = mine[turn % mine.len()];
                            anyhow::ensure!(r.status().is_success(), "post events: {}", r.status());
                            batch.clear();
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for p in posters {
            p.join().expect("poster")?;
        }
        Ok(())
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let tmp = tempfile::tempdir()?;
    let library = match &args.library {
        Some(l) => l.canonicalize()?,
        None => {
            let l = tmp.path().join("library");
            std::fs::create_dir_all(&l)?;
            l
        }
    };
    let data = tmp.path().join("data");
    let mut config = Config::embedded(library, data.clone());
    config.admin_password = Some("bench-password".into());
    let server = rt.block_on(mixtape_server::start(config))?;
    let base = format!("http://{}", server.addr);
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": "bench-password"}))
        .send()?
        .json()?;
    let token = login["token"].as_str().unwrap_or_default().to_string();
    // Wait for the scan of a given library.
    let scan_started = Instant::now();
    loop {
        let s: Value = http
            .get(format!("{base}/api/v1/scan"))
            .bearer_auth(&token)
            .send()?
            .json()?;
        if s["state"] == "idle" && s["phase"] == "done" {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let scan_secs = scan_started.elapsed().as_secs_f64();
    let mut tokens = Vec::new();
    for u in 0..args.users {
        let (name, pw) = (format!("listener{u}"), format!("listener-password-{u}"));
        http.post(format!("{base}/api/v1/users"))
            .bearer_auth(&token)
            .json(&json!({"username": name, "password": pw}))
            .send()?;
        let login: Value = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"username": name, "password": pw}))
            .send()?
            .json()?;
        tokens.push(login["token"].as_str().unwrap_or_default().to_string());
    }
    let tokens = Arc::new(tokens);
    let tracks_in_catalog: i64 = {
        let db = rusqlite::Connection::open_with_flags(
            data.join("mixtape.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        db.query_row("SELECT count(*) FROM tracks", [], |r| r.get(0))?
    };
    println!(
        "catalog: {tracks_in_catalog} tracks scanned in {:.1} s",
        scan_secs
    );

    // Phase 1: the history, as fast as it is accepted.
    eprintln!(
        "phase 1: posting {} events for {} users over {} track ids",
        args.events, args.users, args.tracks
    );
    let load = Load {
        base: base.clone(),
        tokens: tokens.clone(),
        users: args.users,
        tracks: args.tracks,
        posters: args.posters,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let browse = browser(&http, &base, &token, "/api/v1/tracks?limit=50", &stop);
    let started = Instant::now();
    load.post(&http, args.events, 500, None, 0)?;
    let post_secs = started.elapsed().as_secs_f64();
    wait_drained(&http, &base, &token)?;
    let drain_secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut browse = browse.join().expect("browser");
    let db = rusqlite::Connection::open_with_flags(
        data.join("mixtape.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let lag_since = |since_ms: i64| -> anyhow::Result<Vec<f64>> {
        Ok(db
            .prepare("SELECT applied_at_ms - enqueued_at_ms FROM recs_applied WHERE enqueued_at_ms >= ?1")?
            .query_map([since_ms], |r| r.get::<_, i64>(0))?
            .map(|x| x.map(|v| v as f64))
            .collect::<Result<_, _>>()?)
    };
    let mut lag = lag_since(0)?;
    let (pairs, items): (i64, i64) = db.query_row(
        "SELECT (SELECT count(*) FROM recs_pairs) / 2, (SELECT count(*) FROM recs_items)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    println!(
        "phase 1 (unpaced history): {} events accepted in {post_secs:.1} s = {:.0} events/s ({} posters, 500 per request)",
        args.events,
        args.events as f64 / post_secs,
        args.posters
    );
    println!(
        "  worker caught up after {drain_secs:.1} s = {:.0} events/s taken in",
        args.events as f64 / drain_secs
    );
    println!(
        "  browse GET /api/v1/tracks?limit=50 meanwhile: p50 {:.1} ms, p99 {:.1} ms ({} requests)",
        pct(&mut browse, 0.5),
        pct(&mut browse, 0.99),
        browse.len()
    );
    println!(
        "  event accepted -> model updated: p50 {:.0} ms, p99 {:.0} ms (a saturating backlog)",
        pct(&mut lag, 0.5),
        pct(&mut lag, 0.99),
    );
    println!("  model: {items} items, {pairs} pairs");

    // Phase 2: a paced stream, with a browser paging albums meanwhile.
    if args.paced_secs > 0 {
        let n = (args.rate * args.paced_secs as f64) as usize;
        eprintln!(
            "phase 2: {n} events paced at {} events/s, {} a request",
            args.rate, args.batch
        );
        let stop = Arc::new(AtomicBool::new(false));
        let browse = browser(&http, &base, &token, "/api/v1/albums?limit=50", &stop);
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as i64;
        let started = Instant::now();
        let paced = Load {
            posters: args.paced_posters.clamp(1, args.users),
            ..load
        };
        paced.post(&http, n, args.batch, Some(args.rate), args.events)?;
        let post_secs = started.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        let mut browse = browse.join().expect("browser");
        wait_drained(&http, &base, &token)?;
        let mut lag = lag_since(since)?;
        println!(
            "phase 2 (paced): {n} events in {post_secs:.1} s = {:.0} events/s offered ({} posters, {} per request)",
            n as f64 / post_secs,
            args.paced_posters.clamp(1, args.users),
            args.batch
        );
        println!(
            "  browse GET /api/v1/albums?limit=50 meanwhile: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} requests)",
            pct(&mut browse, 0.5),
            pct(&mut browse, 0.99),
            pct(&mut browse, 1.0),
            browse.len()
        );
        println!(
            "  event accepted -> model updated: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} events)",
            pct(&mut lag, 0.5),
            pct(&mut lag, 0.99),
            pct(&mut lag, 1.0),
            lag.len()
        );
    }

    // Phase 3: a training of the recommendation model on the whole history, asked for now,
    // with a browser paging albums meanwhile (and for as long before it, idle, to compare).
    if args.train {
        let stop = Arc::new(AtomicBool::new(false));
        let browse = browser(&http, &base, &token, "/api/v1/albums?limit=50", &stop);
        std::thread::sleep(Duration::from_secs(10));
        stop.store(true, Ordering::Relaxed);
        let mut idle = browse.join().expect("browser");
        let model = |http: &reqwest::blocking::Client| -> anyhow::Result<Value> {
            Ok(http
                .get(format!("{base}/api/v1/admin/recs/model"))
                .bearer_auth(&token)
                .send()?
                .json()?)
        };
        // A training the trainer started on its own first ends before this one is asked for.
        while model(&http)?["training"] == true {
            std::thread::sleep(Duration::from_millis(200));
        }
        let before = model(&http)?["stored"]["version"].as_i64().unwrap_or(0);
        let stop = Arc::new(AtomicBool::new(false));
        let browse = browser(&http, &base, &token, "/api/v1/albums?limit=50", &stop);
        let started = Instant::now();
        let asked = http
            .post(format!("{base}/api/v1/admin/recs/train"))
            .bearer_auth(&token)
            .send()?;
        anyhow::ensure!(asked.status().as_u16() == 202, "train: {}", asked.status());
        let info = loop {
            let m = model(&http)?;
            if m["serving"]["version"].as_i64().unwrap_or(0) > before {
                break m["serving"].clone();
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let secs = started.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        let mut during = browse.join().expect("browser");
        println!(
            "phase 3 (training): model v{} of {} items, {} rows, {} cells from {} events: read + fit {:.1} s, served after {secs:.1} s; {:.1} MB stored",
            info["version"],
            info["items"],
            info["rows"],
            info["cells"],
            info["events"],
            info["train_ms"].as_f64().unwrap_or(0.0) / 1000.0,
            info["bytes"].as_f64().unwrap_or(0.0) / 1e6
        );
        println!(
            "  browse GET /api/v1/albums?limit=50 while training: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} requests); idle before: p50 {:.1} ms, p99 {:.1} ms ({} requests)",
            pct(&mut during, 0.5),
            pct(&mut during, 0.99),
            pct(&mut during, 1.0),
            during.len(),
            pct(&mut idle, 0.5),
            pct(&mut idle, 0.99),
            idle.len()
        );
    }

    // Phase 4: the recommendation endpoints, idle otherwise (with the trained model served
    // when phase 3 ran).
    for (name, path) in [
        (
            "for-you",
            "/api/v1/recommendations/for-you?limit=20".to_string(),
        ),
        ("similar", "/api/v1/tracks/{T}/similar?limit=20".to_string()),
        ("radio", "/api/v1/radio?seed=track:{T}&limit=20".to_string()),
    ] {
        let mut lat = Vec::new();
        let mut rng = Rng(42);
        let mut failures = 0;
        for k in 0..args.requests {
            let t = rng.track(args.tracks.min(tracks_in_catalog.max(items).max(1)));
            let url = format!("{base}{}", path.replace("{T}", &t.to_string()));
            let start = Instant::now();
            let r = http
                .get(url)
                .bearer_auth(&tokens[k % tokens.len()])
                .send()?;
            let ok = r.status().is_success();
            let _ = r.bytes()?;
            if ok {
                lat.push(start.elapsed().as_secs_f64() * 1000.0);
            } else {
                failures += 1;
            }
        }
        println!(
            "{name}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} ok, {failures} not found)",
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.99),
            pct(&mut lat, 1.0),
            lat.len()
        );
    }
    rt.block_on(server.shutdown())?;
    Ok(())
}
