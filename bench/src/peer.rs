//! `peer`: the search benchmark's queries against Mixtape or Polaris over HTTP, for the
//! side-by-side comparison of issue 16 (`bench/polaris.sh` runs both servers alternately on
//! one library).
//!
//! - `peer tags` reads every track's tags from a running Mixtape, as `search` does, into a
//!   file: both servers then get the same query list (`queries::draw`, one seed, the same
//!   tags in the same order), whatever order each run's scan gave the tracks.
//! - `peer search` times those queries against one running server, one at a time, and judges
//!   recall@10 as `search` does: a top-10 track whose title (or artist) holds what was meant.

use crate::queries::{self, Class, Query, Tags};
use crate::search::{Tally, found, library_tracks, ms, print_table, tags_of};
use anyhow::{Context, Result, bail};
use mixtape_shared::api::SearchResults;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Subcommand)]
pub enum PeerCommand {
    /// Save the tags of every track of a running Mixtape to OUT (JSON); print the content
    /// hash and size of the largest file, for the stream test.
    Tags {
        #[arg(long)]
        url: String,
        #[arg(long)]
        token: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Time the queries drawn from TAGS against a running Mixtape or Polaris; print a Markdown
    /// table and, with --json, the figures for a script to take medians over runs.
    Search {
        #[arg(long, value_enum)]
        server: Server,
        #[arg(long)]
        url: String,
        #[arg(long)]
        token: String,
        #[arg(long)]
        tags: PathBuf,
        #[arg(long, default_value_t = 3000)]
        queries: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Server {
    Mixtape,
    Polaris,
}

pub async fn run(command: PeerCommand) -> Result<()> {
    match command {
        PeerCommand::Tags { url, token, out } => save_tags(&url, &token, &out).await,
        PeerCommand::Search {
            server,
            url,
            token,
            tags,
            queries,
            seed,
            json,
        } => {
            let tags = load_tags(&tags)?;
            let qs = queries::draw(&tags, queries, seed);
            let figures = time_queries(server, &url, &token, &qs).await?;
            if let Some(path) = json {
                std::fs::write(&path, serde_json::to_vec_pretty(&figures)?)
                    .with_context(|| format!("write {}", path.display()))?;
            }
            Ok(())
        }
    }
}

async fn save_tags(url: &str, token: &str, out: &Path) -> Result<()> {
    let http = reqwest::Client::new();
    let tracks = library_tracks(&http, url, token).await?;
    let largest = tracks
        .iter()
        .max_by_key(|t| t.size_bytes)
        .context("the library has no tracks")?;
    // Polaris keeps one value per Vorbis comment name in Opus files when built with the
    // crates.io opus_headers (see docs/benchmarks.md): count the tracks that loses artists of.
    let multi_artist_opus = tracks
        .iter()
        .filter(|t| t.format == "opus" && t.artists.len() > 1)
        .count();
    let mut tags: Vec<Tags> = tracks.iter().map(tags_of).collect();
    // Track ids follow each scan's order: sorted, the draw depends on the library alone.
    tags.sort_by(|a, b| (&a.title, &a.artists, &a.album).cmp(&(&b.title, &b.artists, &b.album)));
    let json: Vec<serde_json::Value> = tags
        .iter()
        .map(|t| serde_json::json!({"title": t.title, "artists": t.artists, "album": t.album}))
        .collect();
    std::fs::write(out, serde_json::to_vec(&json)?)
        .with_context(|| format!("write {}", out.display()))?;
    eprintln!(
        "{} tracks; {multi_artist_opus} Opus tracks with several artists",
        tags.len()
    );
    println!("{} {}", largest.content_hash, largest.size_bytes);
    Ok(())
}

fn load_tags(path: &Path) -> Result<Vec<Tags>> {
    let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    let json: Vec<serde_json::Value> = serde_json::from_slice(&bytes)?;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let tags: Vec<Tags> = json
        .iter()
        .map(|t| Tags {
            title: text(&t["title"]),
            artists: t["artists"]
                .as_array()
                .map(|a| a.iter().map(text).collect())
                .unwrap_or_default(),
            album: text(&t["album"]),
        })
        .collect();
    if tags.is_empty() {
        bail!("no tracks in {}", path.display());
    }
    Ok(tags)
}

/// FNV-1a over the query texts: equal digests in two runs mean the same queries, in order.
fn digest(qs: &[Query]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for q in qs {
        for b in q.text.bytes().chain([0]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// One server's answer to a query, cut to what recall@10 looks at.
enum Answer {
    Mixtape(SearchResults),
    /// Polaris answers songs only, in its collection order (artist, album, track), not by
    /// relevance: the first ten are its top ten. It sends the path of every match and the
    /// tags of the first 200.
    Polaris {
        songs: Vec<Tags>,
        matches: usize,
    },
    /// Polaris refuses queries its syntax cannot parse.
    Refused,
}

impl Answer {
    fn found(&self, q: &Query) -> bool {
        match self {
            Answer::Mixtape(r) => found(&q.meant, r),
            Answer::Polaris { songs, .. } => songs.iter().take(10).any(|t| q.meant.is(t)),
            Answer::Refused => false,
        }
    }

    /// Whether what was meant is anywhere in the tracks sent (Mixtape: 20 by default;
    /// Polaris: 200): tells a match ranked below the top ten from no match.
    fn found_anywhere(&self, q: &Query) -> bool {
        match self {
            // An artist counts among Mixtape's artists too, as in the top ten.
            Answer::Mixtape(r) => {
                found(&q.meant, r) || r.tracks.iter().any(|t| q.meant.is(&tags_of(t)))
            }
            Answer::Polaris { songs, .. } => songs.iter().any(|t| q.meant.is(t)),
            Answer::Refused => false,
        }
    }

    /// Tracks that matched (Mixtape sends no total: those sent).
    fn matches(&self) -> usize {
        match self {
            Answer::Mixtape(r) => r.tracks.len(),
            Answer::Polaris { matches, .. } => *matches,
            Answer::Refused => 0,
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Answer::Mixtape(r) => r.tracks.is_empty(),
            Answer::Polaris { songs, .. } => songs.is_empty(),
            Answer::Refused => true,
        }
    }
}

struct Client {
    server: Server,
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Client {
    async fn ask(&self, text: &str) -> Result<Answer> {
        match self.server {
            Server::Mixtape => {
                let r = self
                    .http
                    .get(format!("{}/api/v1/search", self.url))
                    .query(&[("q", text)])
                    .bearer_auth(&self.token)
                    .send()
                    .await?;
                if r.status() != 200 {
                    bail!("search {text:?}: {}", r.status());
                }
                Ok(Answer::Mixtape(r.json().await?))
            }
            Server::Polaris => {
                // The query is the rest of the path (`/api/search/{*query}`), percent-encoded.
                let mut url = reqwest::Url::parse(&format!("{}/api/search", self.url))?;
                url.path_segments_mut()
                    .map_err(|()| anyhow::anyhow!("{} cannot be a base", self.url))?
                    .push(text);
                let r = self
                    .http
                    .get(url)
                    .header("Accept-Version", "8")
                    .bearer_auth(&self.token)
                    .send()
                    .await?;
                if r.status() == 400 {
                    return Ok(Answer::Refused);
                }
                if r.status() != 200 {
                    bail!("search {text:?}: {}", r.status());
                }
                let body: serde_json::Value = r.json().await?;
                Ok(Answer::Polaris {
                    songs: polaris_songs(&body),
                    matches: body["paths"].as_array().map_or(0, Vec::len),
                })
            }
        }
    }
}

/// The tags of the songs Polaris sends in full (`first_songs`, in the order of `paths`).
fn polaris_songs(body: &serde_json::Value) -> Vec<Tags> {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    body["first_songs"]
        .as_array()
        .map(|songs| {
            songs
                .iter()
                .map(|s| Tags {
                    title: text(&s["title"]),
                    artists: s["artists"]
                        .as_array()
                        .map(|a| a.iter().map(text).collect())
                        .unwrap_or_default(),
                    album: text(&s["album"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn time_queries(
    server: Server,
    url: &str,
    token: &str,
    qs: &[Query],
) -> Result<serde_json::Value> {
    let client = Client {
        server,
        http: reqwest::Client::new(),
        url: url.trim_end_matches('/').to_string(),
        token: token.to_string(),
    };
    // The first search after the scan pays for whatever the server builds for search
    // (Mixtape builds its index then; Polaris has built it during the scan).
    let started = Instant::now();
    client.ask("first search").await?;
    let first = started.elapsed();
    // Warm up connections and caches, as `search` does.
    for q in qs.iter().take(50) {
        client.ask(&q.text).await?;
    }
    let mut tallies: BTreeMap<Class, Tally> = BTreeMap::new();
    let mut refused = 0;
    // Per class: queries whose track was anywhere in the answer, and each answer's matches.
    let mut deeper: BTreeMap<Class, (usize, Vec<usize>)> = BTreeMap::new();
    for q in qs {
        let started = Instant::now();
        let answer = client.ask(&q.text).await?;
        let took = started.elapsed();
        refused += usize::from(matches!(answer, Answer::Refused));
        let hit = answer.found(q);
        let (anywhere, matches) = deeper.entry(q.class).or_default();
        *anywhere += usize::from(answer.found_anywhere(q));
        matches.push(answer.matches());
        if !hit && std::env::var_os("MIXTAPE_BENCH_VERBOSE").is_some() {
            eprintln!("missed {:?} {:?}", q.class, q.text);
        }
        tallies
            .entry(q.class)
            .or_default()
            .add(took, hit, answer.is_empty());
    }
    let name = match server {
        Server::Mixtape => "Mixtape",
        Server::Polaris => "Polaris",
    };
    let digest = digest(qs);
    println!(
        "| {name}: first search after the scan | {:.1} ms |",
        ms(first)
    );
    println!(
        "| {name}: queries | {} (digest {digest}), {refused} refused by the server |",
        qs.len()
    );
    let mut classes = serde_json::Map::new();
    let mut all = Tally::default();
    for (class, tally) in tallies.iter_mut() {
        all.extend(tally);
        let mut figures = tally.json();
        if let Some((anywhere, matches)) = deeper.get_mut(class) {
            matches.sort_unstable();
            figures["in_answer"] = (100.0 * *anywhere as f64 / matches.len() as f64).into();
            figures["median_matches"] = matches[matches.len() / 2].into();
        }
        classes.insert(class.name().to_string(), figures);
    }
    classes.insert("all".to_string(), all.json());
    print_table(
        &format!("{name} over HTTP, {} sequential queries:", qs.len()),
        &mut tallies,
    );
    Ok(serde_json::json!({
        "server": name,
        "queries": qs.len(),
        "digest": digest,
        "refused": refused,
        "first_search_ms": ms(first),
        "classes": classes,
    }))
}
