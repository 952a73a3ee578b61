//! Server configuration: defaults, then a TOML file, then `MIXTAPE_*` environment variables,
//! then command-line flags, each overriding the one before.

use clap::Parser;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

mod scale;
pub use scale::{Database, DeploySecret, SECRET_MIN_BYTES, SUBSONIC_SEALING_CONTEXT, redact_url};

/// The documented default: loopback only, so a fresh install is not open to the network.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4870";
/// With PostgreSQL (behind a load balancer): long enough for a health check every 500 ms to
/// fail twice, with margin.
pub const DEFAULT_POSTGRES_DRAIN_SECS: u64 = 5;
/// A one-hour stream must not hold a restart forever.
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 10;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("config file {0} is invalid: {1}")]
    Parse(PathBuf, toml::de::Error),
    #[error(
        "no library folder: pass --library DIR, set MIXTAPE_LIBRARY, or set `library` in the config file"
    )]
    NoLibrary,
    #[error("library folder {0} is not a readable directory")]
    BadLibrary(PathBuf),
    #[error("no data folder: the home directory is unknown; pass --data-dir")]
    NoDataDir,
    #[error("trusted proxy {0}")]
    BadProxy(#[from] crate::auth::address::BadProxy),
    #[error("database {0:?} is neither `sqlite:PATH` nor a `postgres://` (or `postgresql://`) URL")]
    BadDatabase(String),
    #[error("database URL {0}: {1}")]
    BadDatabaseUrl(String, String),
    #[error("read replica URL {0}: {1}")]
    BadReplicaUrl(String, String),
    #[error("read replicas need a PostgreSQL database (--database postgres://...)")]
    ReplicasWithoutPostgres,
    #[error("shard {0}: {1} (expected NAME=postgres://...)")]
    BadShard(String, String),
    #[error("shards need a PostgreSQL database (--database postgres://...)")]
    ShardsWithoutPostgres,
    #[error("redis URL {0}: {1}")]
    BadRedisUrl(String, String),
    #[error("broker URL {0}: {1} (expected amqp://USER:PASSWORD@HOST:PORT/VHOST)")]
    BadBrokerUrl(String, String),
    #[error(
        "a broker relays PostgreSQL's outbox: --broker needs --database postgres://... (the embedded default has its own queue)"
    )]
    BrokerWithoutPostgres,
    #[error(
        "a PostgreSQL database needs --secret-file (or MIXTAPE_SECRET_FILE): a file of at least {SECRET_MIN_BYTES} random bytes, the same on every node (e.g. `head -c 32 /dev/urandom > secret`)"
    )]
    NoSecretFile,
    #[error("cannot read the secret file {0}: {1}")]
    ReadSecret(PathBuf, std::io::Error),
    #[error(
        "the secret file {0} has {1} bytes; it needs at least {SECRET_MIN_BYTES} random bytes (e.g. `head -c 32 /dev/urandom > secret`)"
    )]
    ShortSecret(PathBuf, usize),
    #[error("node id must be 1-128 printable characters without spaces")]
    BadNodeId,
    #[error(
        "media base {0:?} must be an http:// or https:// URL without a query (the edge's origin, e.g. https://edge.example.com)"
    )]
    BadMediaBase(String),
}

/// `hostname:port`, the default node id.
fn default_node_id(listen: SocketAddr) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", listen.port())
}

/// Command-line flags; each can also come from its `MIXTAPE_*` variable.
#[derive(Debug, Default, Parser)]
#[command(
    name = "mixtape-server",
    version,
    about = "Mixtape music server: scans a folder, serves catalog, playlists and streams"
)]
pub struct Args {
    /// The music folder to scan and serve.
    #[arg(long, env = "MIXTAPE_LIBRARY")]
    pub library: Option<PathBuf>,
    /// Address to listen on; `127.0.0.1:0` picks a free port. Use `0.0.0.0:PORT` to open it to the network.
    #[arg(long, env = "MIXTAPE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Where the database and caches live (default: the XDG data folder, e.g. ~/.local/share/mixtape).
    #[arg(long, env = "MIXTAPE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Cap of the thumbnail cache (data-dir/art-cache) in MiB; least recently used go first.
    #[arg(long, env = "MIXTAPE_ART_CACHE_MAX_MB")]
    pub art_cache_max_mb: Option<u64>,
    /// Cap of the rendition cache (data-dir/renditions) in MiB (default 1024); 0 keeps nothing.
    #[arg(long, env = "MIXTAPE_TRANSCODE_CACHE_MAX_MB")]
    pub transcode_cache_max_mb: Option<u64>,
    /// Encoder threads for transcoding (default: one per core but one).
    #[arg(long, env = "MIXTAPE_TRANSCODE_THREADS")]
    pub transcode_threads: Option<usize>,
    /// TOML config file (default: $XDG_CONFIG_HOME/mixtape/server.toml when it exists).
    #[arg(long, env = "MIXTAPE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Password of the `admin` user created on first start (otherwise a random one is printed once).
    #[arg(long, env = "MIXTAPE_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Do not watch the library for changes.
    #[arg(long, env = "MIXTAPE_NO_WATCH")]
    pub no_watch: bool,
    /// Do not scan at start.
    #[arg(long, env = "MIXTAPE_NO_INITIAL_SCAN")]
    pub no_initial_scan: bool,
    /// Remove missing tracks even when most of the library (or a whole top-level folder) is gone;
    /// by default such a scan holds the removal back until an admin confirms it.
    #[arg(long, env = "MIXTAPE_ALLOW_MASS_REMOVAL")]
    pub allow_mass_removal: bool,
    /// Log filter, e.g. `info` or `mixtape_server=debug`.
    #[arg(long, env = "MIXTAPE_LOG")]
    pub log: Option<String>,
    /// A reverse proxy whose `X-Forwarded-For` names the client (an address or a CIDR block);
    /// repeat for several. The env variable takes a comma-separated list.
    #[arg(
        long = "trusted-proxy",
        env = "MIXTAPE_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,
    /// Where the data lives: `sqlite:PATH` (the default is data-dir/mixtape.db), or a
    /// `postgres://` URL of the primary that several nodes share.
    #[arg(long, env = "MIXTAPE_DATABASE", hide_env_values = true)]
    pub database: Option<String>,
    /// A PostgreSQL streaming replica for reads; repeat for several. The env variable takes
    /// a comma-separated list.
    #[arg(
        long = "read-replica",
        env = "MIXTAPE_READ_REPLICAS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub read_replicas: Vec<String>,
    /// A PostgreSQL database holding users' own data, as `NAME=URL`; repeat for several. Every
    /// node of a cluster is given all of them (new users go to the least loaded). The env
    /// variable takes a comma-separated list.
    #[arg(
        long = "shard",
        env = "MIXTAPE_SHARDS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub shards: Vec<String>,
    /// Redis shared by the nodes (login throttle, read-your-writes marks), e.g. redis://127.0.0.1:6379.
    #[arg(long, env = "MIXTAPE_REDIS", hide_env_values = true)]
    pub redis: Option<String>,
    /// RabbitMQ carrying play events and playlist additions to the recommender, e.g.
    /// amqp://guest:guest@127.0.0.1:5672/%2f (needs PostgreSQL).
    #[arg(long, env = "MIXTAPE_BROKER", hide_env_values = true)]
    pub broker: Option<String>,
    /// A file of at least 32 random bytes, the same on every node (required with PostgreSQL):
    /// seals Subsonic app passwords.
    #[arg(long, env = "MIXTAPE_SECRET_FILE")]
    pub secret_file: Option<PathBuf>,
    /// This node's name in logs and metrics (default: hostname:port).
    #[arg(long, env = "MIXTAPE_NODE_ID")]
    pub node_id: Option<String>,
    /// After SIGTERM, seconds `/readyz` answers 503 before the node stops accepting, so load
    /// balancers move away first (default: 5 with PostgreSQL, 0 embedded).
    #[arg(long, env = "MIXTAPE_DRAIN_SECS")]
    pub drain_secs: Option<u64>,
    /// After it stops accepting, seconds the node waits for open requests and streams before
    /// it exits anyway (default 10).
    #[arg(long, env = "MIXTAPE_SHUTDOWN_GRACE_SECS")]
    pub shutdown_grace_secs: Option<u64>,
    /// The public base of signed media URLs, e.g. `https://edge.example.com` (the nginx edge in
    /// front of the nodes); by default `media_url` is relative to the API's own address.
    #[arg(long, env = "MIXTAPE_MEDIA_BASE")]
    pub media_base: Option<String>,
    /// Print the key that signs media URLs (64 hex digits: the nginx edge's key file) and exit.
    #[arg(long)]
    pub print_media_key: bool,
    /// An admin command to run instead of serving (with the node's own configuration).
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// User-keyed shards: where users' own data lives.
    #[command(subcommand)]
    Shards(ShardsCommand),
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ShardsCommand {
    /// Each shard (the primary first) with how many users live on it, as JSON.
    List,
    /// Move a user's data to another shard (`primary` for the primary database). Their
    /// devices go on syncing; writes wait while the rows are copied. Prints a JSON report.
    Move {
        /// The user's name.
        user: String,
        /// The shard's name.
        to: String,
    },
}

/// The TOML file's shape; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub library: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub art_cache_max_mb: Option<u64>,
    pub transcode_cache_max_mb: Option<u64>,
    pub transcode_threads: Option<usize>,
    pub admin_password: Option<String>,
    pub watch: Option<bool>,
    pub initial_scan: Option<bool>,
    pub allow_mass_removal: Option<bool>,
    pub log: Option<String>,
    pub token_ttl_days: Option<u64>,
    pub reader_connections: Option<u32>,
    pub trusted_proxies: Option<Vec<String>>,
    pub database: Option<String>,
    pub read_replicas: Option<Vec<String>>,
    pub shards: Option<Vec<String>>,
    pub redis: Option<String>,
    pub broker: Option<String>,
    pub secret_file: Option<PathBuf>,
    pub node_id: Option<String>,
    pub drain_secs: Option<u64>,
    pub shutdown_grace_secs: Option<u64>,
    pub media_base: Option<String>,
}

/// The rendition cache's default cap (1 GiB).
pub const DEFAULT_TRANSCODE_CACHE_MAX_MB: u64 = 1024;

/// The settings in force.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub library: PathBuf,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Cap of the thumbnail cache, in MiB.
    pub art_cache_max_mb: u64,
    /// Cap of the rendition cache, in MiB; 0 keeps nothing.
    pub transcode_cache_max_mb: u64,
    /// Encoder threads.
    pub transcode_threads: usize,
    #[serde(skip)]
    pub admin_password: Option<String>,
    pub watch: bool,
    pub initial_scan: bool,
    /// Carry out removals that look like a missing disk without holding them back.
    pub allow_mass_removal: bool,
    pub log: String,
    /// How long a login token lasts, in seconds.
    pub token_ttl_secs: u64,
    /// How long a client may take to send a request's headers, in seconds.
    pub header_timeout_secs: u64,
    pub reader_connections: u32,
    /// Reverse proxies whose `X-Forwarded-For` is believed, as canonical CIDR blocks.
    pub trusted_proxies: Vec<String>,
    /// URLs may hold passwords: see [`Config::redacted`].
    #[serde(skip)]
    pub database: Database,
    #[serde(skip)]
    pub read_replicas: Vec<String>,
    /// User-keyed shards, `(name, url)`.
    #[serde(skip)]
    pub shards: Vec<(String, String)>,
    #[serde(skip)]
    pub redis: Option<String>,
    /// RabbitMQ for the recommender's events (`crate::broker`); None: the outbox table is
    /// the queue.
    #[serde(skip)]
    pub broker: Option<String>,
    /// Read from `secret_file` at start (required with PostgreSQL).
    #[serde(skip)]
    pub secret: Option<DeploySecret>,
    pub secret_file: Option<PathBuf>,
    /// This node's name in logs and metrics.
    pub node_id: String,
    /// After SIGTERM: seconds of 503 from `/readyz` before the listener closes.
    pub drain_secs: u64,
    /// Then at most this long for open requests and streams.
    pub shutdown_grace_secs: u64,
    /// The public base of `media_url`s (`None`: relative to the API's address).
    pub media_base: Option<String>,
    /// `--print-media-key`: print the signing key and exit instead of serving.
    #[serde(skip)]
    pub print_media_key: bool,
    /// An admin command to run instead of serving.
    #[serde(skip)]
    pub command: Option<Command>,
}

impl Config {
    /// The SQLite file (embedded database).
    pub fn database_path(&self) -> PathBuf {
        match &self.database {
            Database::Sqlite(Some(path)) => path.clone(),
            _ => self.data_dir.join("mixtape.db"),
        }
    }

    pub fn art_cache_dir(&self) -> PathBuf {
        self.data_dir.join("art-cache")
    }

    /// For the start-up log: every setting, secrets shown only as set or not.
    pub fn redacted(&self) -> String {
        format!(
            "library={} listen={} data_dir={} art_cache_max_mb={} transcode_cache_max_mb={} transcode_threads={} admin_password={} watch={} initial_scan={} log={} token_ttl_secs={} reader_connections={} trusted_proxies=[{}] allow_mass_removal={} database={} read_replicas=[{}] shards=[{}] redis={} broker={} secret_file={} node_id={} drain_secs={} shutdown_grace_secs={} media_base={}",
            self.library.display(),
            self.listen,
            self.data_dir.display(),
            self.art_cache_max_mb,
            self.transcode_cache_max_mb,
            self.transcode_threads,
            if self.admin_password.is_some() {
                "<redacted>"
            } else {
                "<unset>"
            },
            self.watch,
            self.initial_scan,
            self.log,
            self.token_ttl_secs,
            self.reader_connections,
            self.trusted_proxies.join(","),
            self.allow_mass_removal,
            match &self.database {
                Database::Sqlite(_) => format!("sqlite:{}", self.database_path().display()),
                Database::Postgres(url) => redact_url(url),
            },
            self.read_replicas
                .iter()
                .map(|u| redact_url(u))
                .collect::<Vec<_>>()
                .join(","),
            self.shards
                .iter()
                .map(|(name, url)| format!("{name}={}", redact_url(url)))
                .collect::<Vec<_>>()
                .join(","),
            self.redis.as_deref().map_or("<unset>".into(), redact_url),
            self.broker.as_deref().map_or("<unset>".into(), redact_url),
            self.secret_file
                .as_ref()
                .map_or("<unset>".into(), |p| p.display().to_string()),
            self.node_id,
            self.drain_secs,
            self.shutdown_grace_secs,
            self.media_base.as_deref().unwrap_or("<relative>"),
        )
    }

    /// A config for an embedded server (tests, benchmarks, the client's demo).
    pub fn embedded(library: PathBuf, data_dir: PathBuf) -> Self {
        Self {
            library,
            listen: "127.0.0.1:0".parse().expect("valid address"),
            data_dir,
            art_cache_max_mb: crate::art::DEFAULT_CACHE_MAX_MB,
            transcode_cache_max_mb: DEFAULT_TRANSCODE_CACHE_MAX_MB,
            transcode_threads: crate::transcode::TranscodeConfig::default().threads,
            admin_password: None,
            watch: false,
            initial_scan: true,
            allow_mass_removal: false,
            log: "info".into(),
            token_ttl_secs: 30 * 86_400,
            header_timeout_secs: 10,
            reader_connections: 8,
            trusted_proxies: Vec::new(),
            database: Database::Sqlite(None),
            read_replicas: Vec::new(),
            shards: Vec::new(),
            redis: None,
            broker: None,
            secret: None,
            secret_file: None,
            node_id: "embedded".into(),
            drain_secs: 0,
            shutdown_grace_secs: DEFAULT_SHUTDOWN_GRACE_SECS,
            media_base: None,
            print_media_key: false,
            command: None,
        }
    }
}

/// `NAME=URL` entries: names unique, URLs PostgreSQL's.
fn parse_shards(entries: Vec<String>) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        let Some((name, url)) = entry.split_once('=') else {
            return Err(ConfigError::BadShard(redact_url(entry), "no NAME=".into()));
        };
        let (name, url) = (name.trim(), url.trim());
        let valid_name = !name.is_empty()
            && name != "primary"
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_name {
            return Err(ConfigError::BadShard(
                name.into(),
                "a name is letters, digits, - and _, and not `primary`".into(),
            ));
        }
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError::BadShard(
                name.into(),
                "not a postgres:// URL".into(),
            ));
        }
        url.parse::<postgres::Config>()
            .map_err(|e| ConfigError::BadShard(name.into(), e.to_string()))?;
        if out.iter().any(|(n, _)| n == name) {
            return Err(ConfigError::BadShard(name.into(), "given twice".into()));
        }
        out.push((name.to_string(), url.to_string()));
    }
    Ok(out)
}

fn default_config_file() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "mixtape")?;
    let path = dirs.config_dir().join("server.toml");
    path.exists().then_some(path)
}

fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "mixtape").map(|d| d.data_dir().to_path_buf())
}

pub fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.to_path_buf(), e))?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse(path.to_path_buf(), e))
}

/// Merges file and flags (clap already merged env vars under the flags).
pub fn resolve(args: Args) -> Result<Config, ConfigError> {
    let file = match args.config.clone().or_else(default_config_file) {
        Some(path) => read_file(&path)?,
        None => FileConfig::default(),
    };
    let library = args
        .library
        .or(file.library)
        .ok_or(ConfigError::NoLibrary)?;
    if !library.is_dir() {
        return Err(ConfigError::BadLibrary(library));
    }
    let library = library
        .canonicalize()
        .map_err(|_| ConfigError::BadLibrary(library.clone()))?;
    let proxies = if args.trusted_proxies.is_empty() {
        file.trusted_proxies.unwrap_or_default()
    } else {
        args.trusted_proxies
    };
    let trusted_proxies = crate::auth::address::TrustedProxies::parse(&proxies)?.to_strings();
    let database = match args.database.or(file.database) {
        None => Database::Sqlite(None),
        Some(text) => Database::parse(&text)?,
    };
    let read_replicas = if args.read_replicas.is_empty() {
        file.read_replicas.unwrap_or_default()
    } else {
        args.read_replicas
    };
    let read_replicas: Vec<String> = read_replicas
        .into_iter()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .collect();
    if !read_replicas.is_empty() && !database.is_postgres() {
        return Err(ConfigError::ReplicasWithoutPostgres);
    }
    for url in &read_replicas {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError::BadReplicaUrl(
                redact_url(url),
                "not a postgres:// URL".into(),
            ));
        }
        url.parse::<postgres::Config>()
            .map_err(|e| ConfigError::BadReplicaUrl(redact_url(url), e.to_string()))?;
    }
    let shards = parse_shards(if args.shards.is_empty() {
        file.shards.unwrap_or_default()
    } else {
        args.shards
    })?;
    if !shards.is_empty() && !database.is_postgres() {
        return Err(ConfigError::ShardsWithoutPostgres);
    }
    let redis = args.redis.or(file.redis).filter(|u| !u.trim().is_empty());
    if let Some(url) = &redis {
        redis::Client::open(url.as_str())
            .map_err(|e| ConfigError::BadRedisUrl(redact_url(url), e.to_string()))?;
    }
    let broker = args.broker.or(file.broker).filter(|u| !u.trim().is_empty());
    if let Some(url) = &broker {
        scale::check_broker_url(url)?;
        if !database.is_postgres() {
            return Err(ConfigError::BrokerWithoutPostgres);
        }
    }
    let secret_file = args.secret_file.or(file.secret_file);
    // Embedded: the Subsonic key stays in the data folder (subsonic.key) as before.
    let secret = match (&secret_file, database.is_postgres()) {
        (Some(path), _) => Some(DeploySecret::read(path)?),
        (None, true) => return Err(ConfigError::NoSecretFile),
        (None, false) => None,
    };
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default"));
    let node_id = match args.node_id.or(file.node_id) {
        Some(id) => {
            let ok = (1..=128).contains(&id.chars().count())
                && id
                    .chars()
                    .all(|c| c.is_ascii_graphic() || c.is_alphanumeric());
            if !ok {
                return Err(ConfigError::BadNodeId);
            }
            id
        }
        None => default_node_id(listen),
    };
    let drain_secs = args
        .drain_secs
        .or(file.drain_secs)
        .unwrap_or(if database.is_postgres() {
            DEFAULT_POSTGRES_DRAIN_SECS
        } else {
            0
        });
    let shutdown_grace_secs = args
        .shutdown_grace_secs
        .or(file.shutdown_grace_secs)
        .unwrap_or(DEFAULT_SHUTDOWN_GRACE_SECS);
    let media_base = match args.media_base.or(file.media_base) {
        Some(base) if base.trim().is_empty() => None,
        Some(base) => {
            let base = base.trim().trim_end_matches('/').to_string();
            let scheme_ok = base.starts_with("http://") || base.starts_with("https://");
            if !scheme_ok || base.contains(['?', '#', ' ']) {
                return Err(ConfigError::BadMediaBase(base));
            }
            Some(base)
        }
        None => None,
    };
    Ok(Config {
        library,
        listen,
        data_dir: args
            .data_dir
            .or(file.data_dir)
            .or_else(default_data_dir)
            .ok_or(ConfigError::NoDataDir)?,
        art_cache_max_mb: args
            .art_cache_max_mb
            .or(file.art_cache_max_mb)
            .unwrap_or(crate::art::DEFAULT_CACHE_MAX_MB),
        transcode_cache_max_mb: args
            .transcode_cache_max_mb
            .or(file.transcode_cache_max_mb)
            .unwrap_or(DEFAULT_TRANSCODE_CACHE_MAX_MB),
        transcode_threads: args
            .transcode_threads
            .or(file.transcode_threads)
            .filter(|&n| n > 0)
            .unwrap_or_else(|| crate::transcode::TranscodeConfig::default().threads),
        admin_password: args.admin_password.or(file.admin_password),
        watch: !args.no_watch && file.watch.unwrap_or(true),
        initial_scan: !args.no_initial_scan && file.initial_scan.unwrap_or(true),
        allow_mass_removal: args.allow_mass_removal || file.allow_mass_removal.unwrap_or(false),
        log: args.log.or(file.log).unwrap_or_else(|| "info".into()),
        token_ttl_secs: file.token_ttl_days.unwrap_or(30).max(1) * 86_400,
        header_timeout_secs: 10,
        reader_connections: file.reader_connections.unwrap_or(8).clamp(1, 64),
        trusted_proxies,
        database,
        read_replicas,
        shards,
        redis,
        broker,
        secret,
        secret_file,
        node_id,
        drain_secs,
        shutdown_grace_secs,
        media_base,
        print_media_key: args.print_media_key,
        command: args.command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_and_secrets_are_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("server.toml");
        std::fs::write(
            &file,
            format!(
                "library = {:?}\nlisten = \"127.0.0.1:9000\"\nadmin_password = \"hunter22\"\n",
                dir.path()
            ),
        )
        .unwrap();
        let args = Args {
            config: Some(file),
            listen: Some("127.0.0.1:9001".parse().unwrap()),
            data_dir: Some(dir.path().join("data")),
            ..Args::default()
        };
        let config = resolve(args).unwrap();
        assert_eq!(config.listen.port(), 9001);
        assert_eq!(config.admin_password.as_deref(), Some("hunter22"));
        assert!(!config.redacted().contains("hunter22"));
        assert!(config.trusted_proxies.is_empty());
    }

    #[test]
    fn trusted_proxies_come_from_flags_env_or_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("server.toml");
        std::fs::write(
            &file,
            format!(
                "library = {:?}\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n",
                dir.path()
            ),
        )
        .unwrap();
        let args = |flags: &[&str]| {
            let mut argv = vec!["mixtape-server", "--config", file.to_str().unwrap()];
            argv.extend_from_slice(flags);
            Args::try_parse_from(argv).unwrap()
        };
        let data = |mut a: Args| {
            a.data_dir = Some(dir.path().join("data"));
            a
        };
        let from_file = resolve(data(args(&[]))).unwrap();
        assert_eq!(from_file.trusted_proxies, ["10.0.0.0/8", "::1/128"]);
        let from_flags = resolve(data(args(&[
            "--trusted-proxy",
            "192.168.1.1",
            "--trusted-proxy",
            "172.16.0.0/12,127.0.0.1",
        ])))
        .unwrap();
        assert_eq!(
            from_flags.trusted_proxies,
            ["192.168.1.1/32", "172.16.0.0/12", "127.0.0.1/32"]
        );
        assert!(
            from_flags
                .redacted()
                .contains("trusted_proxies=[192.168.1.1/32")
        );
        assert!(matches!(
            resolve(data(args(&["--trusted-proxy", "proxy.lan"]))),
            Err(ConfigError::BadProxy(_))
        ));
    }

    #[test]
    fn unknown_keys_and_missing_library_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("server.toml");
        std::fs::write(&file, "libary = \"/x\"\n").unwrap();
        assert!(matches!(read_file(&file), Err(ConfigError::Parse(..))));
        let args = Args {
            data_dir: Some(dir.path().into()),
            config: Some(dir.path().join("none.toml")),
            ..Args::default()
        };
        assert!(matches!(resolve(args), Err(ConfigError::Read(..))));
    }

    #[test]
    fn the_media_base_is_an_http_origin_or_relative_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("server.toml");
        std::fs::write(&file, "media_base = \"https://edge.example.com/\"\n").unwrap();
        let args = |media_base: Option<&str>| Args {
            library: Some(dir.path().into()),
            data_dir: Some(dir.path().into()),
            config: Some(file.clone()),
            media_base: media_base.map(str::to_string),
            ..Args::default()
        };
        let from_file = resolve(args(None)).unwrap();
        assert_eq!(
            from_file.media_base.as_deref(),
            Some("https://edge.example.com")
        );
        let flag = resolve(args(Some("http://127.0.0.1:8090"))).unwrap();
        assert_eq!(flag.media_base.as_deref(), Some("http://127.0.0.1:8090"));
        assert!(flag.redacted().contains("media_base=http://127.0.0.1:8090"));
        for bad in ["edge.example.com", "ftp://edge", "https://edge/?x=1"] {
            assert!(
                matches!(resolve(args(Some(bad))), Err(ConfigError::BadMediaBase(_))),
                "{bad}"
            );
        }
        // An empty value turns it off (relative URLs).
        assert_eq!(resolve(args(Some(""))).unwrap().media_base, None);
        assert_eq!(
            Config::embedded(dir.path().into(), dir.path().into()).media_base,
            None
        );
    }
}
