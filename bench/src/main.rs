//! `mixtape-bench`: measures the server on a generated library (see `mixtape-libgen bench`).
//!
//! - `scan`: first scan (files/s), rescan with nothing changed, peak RSS, all in one process.
//! - `search`: search over HTTP on an in-process server, with queries drawn from the library's
//!   own tags as people type them, p50/p95/p99 and recall@10 per query class (`search.rs`,
//!   `queries.rs`); `mirror-search`: the client's local search per keystroke.
//! - `serve`: a scanned server that prints its URL and a token, for wrk (see bench/http.sh).
//!   Both take `--database postgres://…` (a scratch database on that server, dropped after) and
//!   `--read-replica URL` to run on the scale-out backend instead of SQLite.
//! - `mirror`: the client mirroring the catalog, idle syncs, cold start (see `client.rs`).
//! - `offline`: the client taking a playlist of generated tracks offline, against curl.
//! - `playlist-push`: one single-op playlist push against op logs of 1k and 200k ops.
//! - `edge`: edge byte offload on a replay workload through nginx (see `edge.rs`).
//! - `broker`: outbox → RabbitMQ → applier throughput and lag on PostgreSQL (`broker.rs`).
//! - `peer`: the `search` queries against a running Mixtape or Polaris, side by side
//!   (`peer.rs`, bench/polaris.sh).
//! - `transcode`: encode speed per core per profile, time to first byte and to a seek, the
//!   cached rendition's rate against the original's (`transcode.rs`).
//!
//! Results are printed as Markdown rows for docs/benchmarks.md.

mod broker;
mod client;
mod edge;
mod peer;
mod playlist;
mod queries;
mod scale;
mod search;
mod shards;
mod transcode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use mixtape_server::Config;
use mixtape_server::config::{Database, DeploySecret, SECRET_MIN_BYTES};
use mixtape_server::scanner::Scanner;
use mixtape_server::storage::Store;
use mixtape_server::storage::postgres::scratch::{self, ScratchDatabase};
use mixtape_server::storage::sqlite::SqliteStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Benchmarks of the Mixtape server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// First scan, then a rescan with nothing changed; prints files/s and peak RSS.
    Scan {
        #[arg(long)]
        library: PathBuf,
        /// Keep the database here (default: a temporary folder).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Search over HTTP against an in-process server: queries drawn from the library's own
    /// tags as people type them; p50/p95/p99 and recall@10 per query class.
    Search {
        #[arg(long)]
        library: PathBuf,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Queries to time (every prefix typed counts as one).
        #[arg(long, alias = "requests", default_value_t = 3000)]
        queries: usize,
        /// Seed of the query draw: the same library and seed give the same queries.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        backend: Backend,
    },
    /// The client's local search on a mirror of the whole library, keystroke by keystroke.
    MirrorSearch {
        #[arg(long)]
        library: PathBuf,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Phrases typed (each from its first letter to its end).
        #[arg(long, default_value_t = 300)]
        phrases: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// The client: mirror the catalog from scratch, idle syncs, cold start.
    Mirror {
        #[arg(long)]
        library: PathBuf,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long, default_value_t = 9)]
        runs: usize,
    },
    /// The client: take a playlist of TRACKS generated tracks of MB each offline, against curl.
    Offline {
        #[arg(long, default_value_t = 200)]
        tracks: usize,
        #[arg(long, default_value_t = 4)]
        mb: usize,
        #[arg(long, default_value_t = 4)]
        parallel: usize,
    },
    /// The player: time to first audio, uncached and cached, over loopback (null output).
    FirstAudio {
        #[arg(long, default_value = "assets/demo")]
        library: PathBuf,
    },
    /// Transcoding: encode speed per core, time to first byte and to a seek, cache hits.
    Transcode {
        /// Length of the generated source, in seconds.
        #[arg(long, default_value_t = 300)]
        seconds: u32,
        /// Requests timed per figure (medians), encodes per profile (best of 3).
        #[arg(long, default_value_t = 9)]
        runs: usize,
    },
    /// Latency of a single-op playlist push with LOG_SIZES ops already in the playlist's log.
    PlaylistPush {
        #[arg(long, default_value = "assets/demo")]
        library: PathBuf,
        #[arg(long, value_delimiter = ',', default_value = "1000,200000")]
        log_sizes: Vec<usize>,
        /// Single-op pushes timed at each size.
        #[arg(long, default_value_t = 30)]
        samples: usize,
    },
    /// The first scan on SQLite or PostgreSQL (`--database postgres://…`: a scratch database on
    /// that server), and change-recording transactions per second at each writer count.
    Storage {
        #[arg(long)]
        library: PathBuf,
        #[arg(long)]
        database: Option<String>,
        #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
        writers: Vec<usize>,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// Many listeners replaying generated tracks (Zipf-like choice) through the nginx edge:
    /// edge byte offload = 1 - origin bytes / client bytes.
    Edge {
        #[arg(long, default_value_t = 200)]
        tracks: usize,
        #[arg(long, default_value_t = 2)]
        mb: usize,
        #[arg(long, default_value_t = 50)]
        listeners: usize,
        #[arg(long, default_value_t = 40)]
        plays: usize,
        /// Zipf exponent of track popularity.
        #[arg(long, default_value_t = 1.0)]
        zipf: f64,
        /// One play in this many is a seek (a Range from a random offset); 0: none.
        #[arg(long, default_value_t = 5)]
        seek_every: usize,
    },
    /// Outbox → RabbitMQ → applier: throughput of a burst of EVENTS, then lag p99 at RATE
    /// events/s for SECONDS (a scratch database on DATABASE, throwaway queues on BROKER).
    Broker {
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
        database: String,
        #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
        broker: String,
        #[arg(long, default_value_t = 20_000)]
        events: usize,
        #[arg(long, default_value_t = 2_000)]
        rate: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// User-keyed shards: one-event write rate unsharded vs sharded, and moving a user with
    /// EVENTS play events and PLAYLISTS playlists (scratch databases on DATABASE's server).
    Shards {
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
        database: String,
        #[arg(long, default_value_t = 100_000)]
        events: usize,
        #[arg(long, default_value_t = 50)]
        playlists: usize,
        #[arg(long, default_value_t = 3)]
        seconds: u64,
    },
    /// Side by side with Polaris (bench/polaris.sh): `peer tags` saves a running Mixtape's
    /// tags, `peer search` times the queries drawn from them against Mixtape or Polaris.
    Peer {
        #[command(subcommand)]
        command: peer::PeerCommand,
    },
    /// Scan, then serve on ADDR and print `BASE_URL TOKEN` on stdout until killed.
    Serve {
        #[arg(long)]
        library: PathBuf,
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        #[command(flatten)]
        backend: Backend,
    },
}

/// Where the benchmarked server keeps its data: SQLite (the default) or PostgreSQL.
#[derive(clap::Args, Clone, Default)]
struct Backend {
    /// `postgres://…`: a scratch database is made on that server for the run and dropped after.
    #[arg(long)]
    database: Option<String>,
    /// A streaming replica of that server (repeatable): the scratch database is read there too.
    #[arg(long = "read-replica")]
    read_replicas: Vec<String>,
}

pub const BENCH_PASSWORD: &str = "bench-password";

/// Peak resident set size of this process, from /proc (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn data_dir(given: Option<PathBuf>, tmp: &tempfile::TempDir) -> PathBuf {
    given.unwrap_or_else(|| tmp.path().to_path_buf())
}

fn scan(library: &Path, data: &Path) -> Result<()> {
    std::fs::create_dir_all(data)?;
    let library = library.canonicalize().context("library folder")?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&data.join("mixtape.db"), 4)?);
    let scanner = Scanner::new(library.clone(), store.clone());

    let started = Instant::now();
    let first = scanner.scan_blocking(None)?;
    let first_secs = started.elapsed().as_secs_f64();
    let tracks = store.track_count()?;
    let peak_first = peak_rss_mib().unwrap_or(f64::NAN);

    let started = Instant::now();
    let again = scanner.scan_blocking(None)?;
    let rescan_secs = started.elapsed().as_secs_f64();
    if again.files_unchanged != tracks {
        bail!("rescan re-read files: {again:?}");
    }
    println!("| files seen | {} |", first.files_seen);
    println!(
        "| tracks indexed | {tracks} (failures: {}) |",
        first.failures.len()
    );
    println!(
        "| first scan | {first_secs:.2} s, {:.0} files/s |",
        first.files_seen as f64 / first_secs
    );
    println!("| peak RSS after first scan | {peak_first:.0} MiB |");
    println!(
        "| rescan, nothing changed | {rescan_secs:.3} s ({} unchanged) |",
        again.files_unchanged
    );
    println!(
        "| peak RSS overall | {:.0} MiB |",
        peak_rss_mib().unwrap_or(f64::NAN)
    );
    Ok(())
}

/// A server started for a benchmark, with the scratch database it runs on (if any), which is
/// dropped after the server.
struct BenchServer {
    server: mixtape_server::RunningServer,
    scratch: Option<ScratchDatabase>,
}

impl BenchServer {
    async fn shutdown(self) -> Result<()> {
        let state = self.server.state.clone();
        self.server.shutdown().await?;
        drop_off_runtime(state, self.scratch).await
    }

    async fn until_signal(self) -> Result<()> {
        let state = self.server.state.clone();
        self.server.until_signal().await?;
        drop_off_runtime(state, self.scratch).await
    }
}

/// The PostgreSQL driver is synchronous and blocks on its own runtime when a connection or a
/// scratch database is dropped, which panics on the async runtime: the last handle on the
/// store, and the scratch database, are dropped on a blocking thread.
async fn drop_off_runtime(
    state: mixtape_server::http::AppState,
    scratch: Option<ScratchDatabase>,
) -> Result<()> {
    tokio::task::spawn_blocking(move || drop((state, scratch))).await?;
    Ok(())
}

async fn start_server(
    library: &Path,
    data: &Path,
    listen: std::net::SocketAddr,
) -> Result<(BenchServer, String)> {
    start_server_on(library, data, listen, &Backend::default()).await
}

async fn start_server_on(
    library: &Path,
    data: &Path,
    listen: std::net::SocketAddr,
    backend: &Backend,
) -> Result<(BenchServer, String)> {
    let mut config = Config::embedded(library.canonicalize()?, data.to_path_buf());
    config.listen = listen;
    config.admin_password = Some(BENCH_PASSWORD.into());
    let mut scratch = None;
    if let Some(url) = backend
        .database
        .clone()
        .filter(|u| u.starts_with("postgres"))
    {
        let db = tokio::task::spawn_blocking(move || ScratchDatabase::create_on(&url, "bench"))
            .await?
            .context("make a scratch database")?;
        config.database = Database::Postgres(db.url().to_string());
        config.read_replicas = backend
            .read_replicas
            .iter()
            .map(|r| scratch::with_database(r, db.name()))
            .collect();
        let mut secret = vec![0u8; SECRET_MIN_BYTES];
        rand::fill(&mut secret[..]);
        config.secret = Some(DeploySecret::from_bytes(secret).expect("long enough"));
        config.node_id = "bench".into();
        scratch = Some(db);
    }
    let server = BenchServer {
        server: mixtape_server::start(config).await?,
        scratch,
    };
    let server_addr = server.server.addr;
    let base = format!("http://{server_addr}");
    let http = reqwest::Client::new();
    let login: serde_json::Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": BENCH_PASSWORD}))
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
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok((server, token))
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Ok(filter) = std::env::var("MIXTAPE_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .init();
    }
    let tmp = tempfile::tempdir()?;
    match cli.command {
        Command::Scan {
            library,
            data_dir: d,
        } => {
            let data = data_dir(d, &tmp);
            tokio::task::spawn_blocking(move || scan(&library, &data)).await??;
        }
        Command::Search {
            library,
            data_dir: d,
            queries,
            seed,
            backend,
        } => search::search(&library, &data_dir(d, &tmp), queries, seed, &backend).await?,
        Command::MirrorSearch {
            library,
            data_dir: d,
            phrases,
            seed,
        } => {
            let (server, _) =
                start_server(&library, &data_dir(d, &tmp), "127.0.0.1:0".parse()?).await?;
            let base = format!("http://{}", server.server.addr);
            tokio::task::spawn_blocking(move || search::mirror_search(&base, phrases, seed))
                .await??;
            server.shutdown().await?;
        }
        Command::Mirror {
            library,
            data_dir: d,
            runs,
        } => {
            let (server, _) =
                start_server(&library, &data_dir(d, &tmp), "127.0.0.1:0".parse()?).await?;
            let base = format!("http://{}", server.server.addr);
            tokio::task::spawn_blocking(move || client::mirror(&base, runs)).await??;
            server.shutdown().await?;
        }
        Command::Offline {
            tracks,
            mb,
            parallel,
        } => {
            let library = tmp.path().join("library");
            client::write_library(&library, tracks, mb << 20)?;
            let (server, _) =
                start_server(&library, &tmp.path().join("server"), "127.0.0.1:0".parse()?).await?;
            let base = format!("http://{}", server.server.addr);
            tokio::task::spawn_blocking(move || client::offline(&base, parallel)).await??;
            server.shutdown().await?;
        }
        Command::Storage {
            library,
            database,
            writers,
            seconds,
        } => {
            // The PostgreSQL driver is synchronous: it must not run on the async runtime.
            let data = tmp.path().to_path_buf();
            tokio::task::spawn_blocking(move || -> Result<()> {
                let bench = scale::open(database.as_deref(), &data, &[])?;
                scale::first_scan(&bench, &library)?;
                scale::feed_writers(&bench, &writers, seconds)
            })
            .await??;
        }
        Command::Transcode { seconds, runs } => transcode::run(seconds, runs).await?,
        Command::FirstAudio { library } => {
            let (server, _) =
                start_server(&library, &tmp.path().join("server"), "127.0.0.1:0".parse()?).await?;
            let base = format!("http://{}", server.server.addr);
            tokio::task::spawn_blocking(move || client::first_audio(&base)).await??;
            server.shutdown().await?;
        }
        Command::PlaylistPush {
            library,
            log_sizes,
            samples,
        } => {
            let (server, token) =
                start_server(&library, &tmp.path().join("server"), "127.0.0.1:0".parse()?).await?;
            let base = format!("http://{}", server.server.addr);
            let store = server.server.state.store.clone();
            playlist::playlist_push(store, &base, &token, &log_sizes, samples).await?;
            server.shutdown().await?;
        }
        Command::Edge {
            tracks,
            mb,
            listeners,
            plays,
            zipf,
            seek_every,
        } => {
            let library = tmp.path().join("library");
            client::write_library(&library, tracks, mb << 20)?;
            let data = tmp.path().join("server");
            let (server, token) = start_server(&library, &data, "127.0.0.1:0".parse()?).await?;
            let workload = edge::Workload {
                tracks,
                mb,
                listeners,
                plays,
                zipf,
                seek_every,
            };
            let (origin, dir) = (server.server.addr, tmp.path().to_path_buf());
            tokio::task::spawn_blocking(move || {
                edge::run(origin, &token, &data.join("media.key"), &dir, &workload)
            })
            .await??;
            server.shutdown().await?;
        }
        Command::Shards {
            database,
            events,
            playlists,
            seconds,
        } => {
            // The PostgreSQL driver blocks: not on the async runtime.
            tokio::task::spawn_blocking(move || shards::run(&database, events, playlists, seconds))
                .await??;
        }
        Command::Broker {
            database,
            broker,
            events,
            rate,
            seconds,
        } => {
            // The PostgreSQL driver and the broker link block: not on the async runtime.
            tokio::task::spawn_blocking(move || {
                broker::run(&database, &broker, events, rate, seconds)
            })
            .await??;
        }
        Command::Peer { command } => peer::run(command).await?,
        Command::Serve {
            library,
            data_dir,
            listen,
            backend,
        } => {
            let (server, token) = start_server_on(&library, &data_dir, listen, &backend).await?;
            println!("http://{} {token}", server.server.addr);
            server.until_signal().await?;
        }
    }
    Ok(())
}
