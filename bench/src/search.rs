//! `search`: the server's search over HTTP, and the same queries on the store in-process (the
//! difference is HTTP, JSON and media-URL signing), per query class, with recall@10.
//! `mirror-search`: the client's local search, keystroke by keystroke, on a mirror of the
//! whole library.
//!
//! Queries come from the library's own tags (`queries.rs`); the tags are read back through
//! the API, so any library the server can scan will do.

use crate::queries::{self, Class, Meant, Query, Tags};
use crate::{BENCH_PASSWORD, Backend, percentile, start_server_on};
use anyhow::{Result, bail};
use mixtape::api::ApiClient;
use mixtape::device::{Device, Dirs, Session};
use mixtape::mirror::TrackSummary;
use mixtape_shared::api::{SearchResults, Track};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(crate) fn tags_of(track: &Track) -> Tags {
    Tags {
        title: track.title.clone(),
        artists: track.artists.iter().map(|a| a.name.clone()).collect(),
        album: track
            .album
            .as_ref()
            .map(|a| a.title.clone())
            .unwrap_or_default(),
    }
}

/// Every track of the library, through the API's pages.
async fn library_tags(http: &reqwest::Client, base: &str, token: &str) -> Result<Vec<Tags>> {
    Ok(library_tracks(http, base, token)
        .await?
        .iter()
        .map(tags_of)
        .collect())
}

pub(crate) async fn library_tracks(
    http: &reqwest::Client,
    base: &str,
    token: &str,
) -> Result<Vec<Track>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut req = http
            .get(format!("{base}/api/v1/tracks"))
            .bearer_auth(token)
            .query(&[("limit", "500")]);
        if let Some(c) = &cursor {
            req = req.query(&[("cursor", c)]);
        }
        let page: mixtape_shared::api::Page<Track> =
            req.send().await?.error_for_status()?.json().await?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// Whether what was meant is among the first ten tracks (or, for an artist, the artists).
pub(crate) fn found(meant: &Meant, results: &SearchResults) -> bool {
    let tracks = results
        .tracks
        .iter()
        .take(10)
        .any(|t| meant.is(&tags_of(t)));
    let artists = meant.in_artist
        && results.artists.iter().take(10).any(|a| {
            meant.is(&Tags {
                title: String::new(),
                artists: vec![a.name.clone()],
                album: String::new(),
            })
        });
    tracks || artists
}

/// Latencies and hits of one class.
#[derive(Default)]
pub(crate) struct Tally {
    times: Vec<Duration>,
    hits: usize,
    empty: usize,
}

impl Tally {
    pub(crate) fn add(&mut self, took: Duration, hit: bool, empty: bool) {
        self.times.push(took);
        self.hits += usize::from(hit);
        self.empty += usize::from(empty);
    }

    /// Counts `other`'s queries here too (the "all" row).
    pub(crate) fn extend(&mut self, other: &Tally) {
        self.times.extend(&other.times);
        self.hits += other.hits;
        self.empty += other.empty;
    }

    /// The row's figures as JSON, for a script that takes medians over runs (bench/polaris.sh).
    pub(crate) fn json(&mut self) -> serde_json::Value {
        self.times.sort();
        let t = &self.times;
        let Some(max) = t.last() else {
            return serde_json::json!({ "queries": 0 });
        };
        serde_json::json!({
            "queries": t.len(),
            "p50_ms": ms(percentile(t, 0.5)),
            "p95_ms": ms(percentile(t, 0.95)),
            "p99_ms": ms(percentile(t, 0.99)),
            "max_ms": ms(*max),
            "recall": 100.0 * self.hits as f64 / t.len() as f64,
            "empty": self.empty,
        })
    }

    fn row(&mut self, label: &str) -> String {
        self.times.sort();
        let t = &self.times;
        if t.is_empty() {
            return format!("| {label} | 0 | | | | | |");
        }
        format!(
            "| {label} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} % ({} empty) |",
            t.len(),
            ms(percentile(t, 0.5)),
            ms(percentile(t, 0.95)),
            ms(percentile(t, 0.99)),
            ms(*t.last().expect("non-empty")),
            100.0 * self.hits as f64 / t.len() as f64,
            self.empty
        )
    }
}

pub(crate) fn print_table(title: &str, tallies: &mut BTreeMap<Class, Tally>) {
    println!();
    println!("{title}");
    println!();
    println!("| class | queries | p50 ms | p95 ms | p99 ms | max ms | recall@10 |");
    println!("|---|---|---|---|---|---|---|");
    let mut all = Tally::default();
    for (class, tally) in tallies.iter_mut() {
        all.extend(tally);
        println!("{}", tally.row(class.name()));
    }
    println!("{}", all.row("**all**"));
}

fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub async fn search(
    library: &Path,
    data: &Path,
    total: usize,
    seed: u64,
    backend: &Backend,
) -> Result<()> {
    let (server, token) = start_server_on(library, data, "127.0.0.1:0".parse()?, backend).await?;
    let base = format!("http://{}", server.server.addr);
    let http = reqwest::Client::new();
    let tags = library_tags(&http, &base, &token).await?;
    if tags.is_empty() {
        bail!("the library has no tracks");
    }
    let qs = queries::draw(&tags, total, seed);
    let ask = |q: String| {
        http.get(format!("{base}/api/v1/search"))
            .query(&[("q", q)])
            .bearer_auth(&token)
            .send()
    };
    // The first search after the scan pays for whatever the server builds for search.
    let started = Instant::now();
    ask("first search".into()).await?.bytes().await?;
    let first = started.elapsed();
    let rss_after_first = rss_mib().unwrap_or(f64::NAN);
    // Warm up connections and caches.
    for q in qs.iter().take(50) {
        ask(q.text.clone()).await?.bytes().await?;
    }
    let mut over_http: BTreeMap<Class, Tally> = BTreeMap::new();
    for q in &qs {
        let started = Instant::now();
        let r = ask(q.text.clone()).await?;
        if r.status() != 200 {
            bail!("search {:?}: {}", q.text, r.status());
        }
        let body: SearchResults = r.json().await?;
        let took = started.elapsed();
        let hit = found(&q.meant, &body);
        if !hit && std::env::var_os("MIXTAPE_BENCH_VERBOSE").is_some() {
            let top: Vec<&str> = body
                .tracks
                .iter()
                .take(3)
                .map(|t| t.title.as_str())
                .collect();
            eprintln!("missed {:?} {:?}: {top:?}", q.class, q.text);
        }
        over_http
            .entry(q.class)
            .or_default()
            .add(took, hit, body.tracks.is_empty());
    }
    // The same queries on the store, in-process: what search costs without HTTP and JSON.
    let store = server.server.state.store.clone();
    let queries: Vec<Query> = qs.clone();
    let in_process = tokio::task::spawn_blocking(move || -> Result<BTreeMap<Class, Tally>> {
        let mut tallies: BTreeMap<Class, Tally> = BTreeMap::new();
        for q in &queries {
            let started = Instant::now();
            let r = store.search(&q.text, 20)?;
            let took = started.elapsed();
            tallies
                .entry(q.class)
                .or_default()
                .add(took, found(&q.meant, &r), r.tracks.is_empty());
        }
        Ok(tallies)
    });
    let mut in_process = in_process.await??;
    let store = server.server.state.store.clone();
    let tracks = tokio::task::spawn_blocking(move || store.track_count()).await??;
    println!("| tracks | {tracks} |");
    println!(
        "| first search after the scan | {:.1} ms (RSS after it: {rss_after_first:.0} MiB) |",
        ms(first)
    );
    println!(
        "| RSS after the run (bench client in the same process) | {:.0} MiB |",
        rss_mib().unwrap_or(f64::NAN)
    );
    print_table(
        &format!("Over HTTP, {} sequential queries (seed {seed}):", qs.len()),
        &mut over_http,
    );
    print_table(
        "The same queries on the store, in-process (no HTTP, no JSON):",
        &mut in_process,
    );
    server.shutdown().await?;
    Ok(())
}

/// Latencies of one stage of a keystroke.
fn stage_row(label: &str, times: &mut [Duration]) -> String {
    times.sort();
    format!(
        "| {label} | {:.2} | {:.2} | {:.2} | {:.2} |",
        ms(percentile(times, 0.5)),
        ms(percentile(times, 0.95)),
        ms(percentile(times, 0.99)),
        ms(*times.last().unwrap_or(&Duration::ZERO)),
    )
}

/// Runs on a blocking thread: the client is synchronous. Mirrors the whole catalog, then
/// searches the mirror as the TUI does (200 results, one search per keystroke from the first
/// letter), for `phrases` phrases drawn like the server bench's prefix queries. Each keystroke
/// is also timed stage by stage (the index, the rows from columns, the tracks from JSON as
/// `mixtape search` reads them, the audio cache's lookups), and the rows are checked against
/// the tracks: the same tracks, in the same order, with the same fields.
pub fn mirror_search(base: &str, phrases: usize, seed: u64) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let mut device = Device::open(Dirs::under(tmp.path()))?;
    let api = ApiClient::new(base, None)?;
    let login = api.login("admin", BENCH_PASSWORD)?;
    device.save_session(Session {
        server: base.to_string(),
        username: "admin".into(),
        token: login.token,
    })?;
    let api = device.api()?;
    mixtape::sync::sync(&mut device.mirror, &api)?;
    let tracks = device.mirror.track_count()?;
    let mut tags = Vec::new();
    let mut id = 1;
    while tags.len() < tracks as usize && id < 10 * tracks as i64 + 10 {
        if let Some(t) = device.mirror.track(mixtape_shared::TrackId(id))? {
            tags.push(tags_of(&t));
        }
        id += 1;
    }
    // Phrases typed keystroke by keystroke, from the first letter (the TUI searches at each).
    let qs: Vec<Query> = queries::draw(&tags, phrases * 12, seed)
        .into_iter()
        .filter(|q| q.class == Class::Prefix)
        .collect();
    // As the TUI opens: the index is built on a thread of its own (a keystroke that comes
    // before it is ready waits for it).
    let started = Instant::now();
    device.mirror.prepare_search()?;
    let prepare = started.elapsed();
    while !device.mirror.search_ready()? {
        std::thread::sleep(Duration::from_millis(1));
    }
    let ready = started.elapsed();
    let started = Instant::now();
    let first_hits = device.mirror.search_rows("first search", 200)?;
    let first = started.elapsed();
    let rss_after_first = rss_mib().unwrap_or(f64::NAN);
    // The same on a mirror opened afresh, without building ahead: the first search builds.
    let fresh = mixtape::mirror::Mirror::open(&device.dirs.data.join("mirror.sqlite"))?;
    let started = Instant::now();
    fresh.search_rows("first search", 200)?;
    let first_unprepared = started.elapsed();
    drop(fresh);
    let mirror = &device.mirror;
    let mut per_key = Tally::default();
    let mut old_per_key: Vec<Duration> = Vec::new();
    let mut stages: [Vec<Duration>; 4] = Default::default();
    let mut last_text = String::new();
    for q in &qs {
        // Each phrase's first two keystrokes precede its first three-letter prefix.
        let mut keys: Vec<String> = Vec::new();
        if !q.text.starts_with(&last_text) || last_text.is_empty() {
            let chars: Vec<char> = q.text.chars().collect();
            keys.extend((1..chars.len().min(3)).map(|k| chars[..k].iter().collect()));
        }
        keys.push(q.text.clone());
        last_text = q.text.clone();
        for key in keys {
            // A keystroke as the TUI makes it: rows from the mirror, each looked up in the cache.
            let started = Instant::now();
            let rows = mirror.search_rows(&key, 200)?;
            let cached = rows
                .iter()
                .filter(|r| device.cache.contains(&r.content_hash))
                .count();
            let took = started.elapsed();
            std::hint::black_box(cached);
            let hit = rows
                .iter()
                .take(10)
                .filter_map(|r| mirror.track(r.id).ok().flatten())
                .any(|t| q.meant.is(&tags_of(&t)));
            per_key.add(took, hit, rows.is_empty());
            // Before: the whole tracks, from their JSON, each looked up in the cache.
            let started = Instant::now();
            let full = mirror.search(&key, 200)?;
            let cached = full
                .iter()
                .filter(|t| device.cache.contains(&t.content_hash))
                .count();
            old_per_key.push(started.elapsed());
            std::hint::black_box(cached);
            let same: Vec<TrackSummary> = full.iter().map(TrackSummary::from).collect();
            if same != rows {
                bail!("{key:?}: the rows differ from the tracks");
            }
            // Stage by stage.
            let started = Instant::now();
            let ids = mirror.search_ids(&key, 200)?;
            let took = started.elapsed();
            stages[0].push(took);
            if took > Duration::from_millis(4)
                && std::env::var_os("MIXTAPE_BENCH_VERBOSE").is_some()
            {
                eprintln!(
                    "slow index {:.1} ms: {key:?} ({} results)",
                    ms(took),
                    ids.len()
                );
            }
            let started = Instant::now();
            std::hint::black_box(mirror.summaries(&ids)?);
            stages[1].push(started.elapsed());
            let started = Instant::now();
            std::hint::black_box(mirror.tracks(&ids)?);
            stages[2].push(started.elapsed());
            let started = Instant::now();
            for r in &rows {
                std::hint::black_box(device.cache.contains(&r.content_hash));
            }
            stages[3].push(started.elapsed());
        }
    }
    println!("| mirrored tracks | {tracks} |");
    println!(
        "| index built ahead: prepare_search returns in {:.2} ms, the index is ready {:.0} ms later; the first search then {:.1} ms ({} results), RSS after it {rss_after_first:.0} MiB |",
        ms(prepare),
        ms(ready),
        ms(first),
        first_hits.len()
    );
    println!(
        "| first search on a mirror not prepared (builds the index) | {:.1} ms |",
        ms(first_unprepared)
    );
    let mut tallies = BTreeMap::from([(Class::Prefix, per_key)]);
    print_table(
        "Mirror search per keystroke, as the TUI asks (200 rows from columns, each looked up in the audio cache):",
        &mut tallies,
    );
    println!();
    println!("Per keystroke, stage by stage:");
    println!();
    println!("| stage | p50 ms | p95 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|");
    println!("{}", stage_row("index (ids of 200)", &mut stages[0]));
    println!("{}", stage_row("200 rows from columns", &mut stages[1]));
    println!(
        "{}",
        stage_row(
            "200 tracks from JSON (before; `mixtape search`)",
            &mut stages[2]
        )
    );
    println!("{}", stage_row("200 audio-cache lookups", &mut stages[3]));
    println!(
        "{}",
        stage_row(
            "whole keystroke before (index + JSON + cache lookups)",
            &mut old_per_key
        )
    );
    println!(
        "| RSS after the run (server in the same process) | {:.0} MiB |",
        rss_mib().unwrap_or(f64::NAN)
    );
    Ok(())
}
