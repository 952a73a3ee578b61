//! Assembling a running server from a [`Config`]: storage, auth, scanner, watcher, HTTP.
//! The binary and the client's in-process demo both start here.

use crate::art::ArtService;
use crate::auth::{Auth, AuthError};
use crate::config::Config;
use crate::config::Database;
use crate::http::{self, AppState};
use crate::media_url::MediaSigner;
use crate::scanner::Scanner;
use crate::shared_state::SharedState;
use crate::storage::postgres::{LocalWriteMarks, PgOptions, PgStore, WriteMarks};
use crate::storage::sqlite::SqliteStore;
use crate::storage::{StorageError, Store};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::oneshot;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create data folder {0}: {1}")]
    DataDir(std::path::PathBuf, std::io::Error),
    #[error("cannot open the database: {0}")]
    Storage(#[from] StorageError),
    #[error("cannot set up users: {0}")]
    Auth(#[from] AuthError),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("the Subsonic key: {0}")]
    SubsonicKey(#[from] crate::subsonic::keyring::KeyringError),
    #[error("trusted_proxies: {0}")]
    TrustedProxy(#[from] crate::auth::address::BadProxy),
    #[error("redis: {0}")]
    Redis(#[from] crate::shared_state::SharedStateError),
    #[error("a PostgreSQL database needs the secret file (--secret-file)")]
    NoSecret,
    #[error("the media URL key: {0}")]
    MediaKey(#[from] crate::media_url::MediaKeyError),
    #[error("{0}")]
    Broker(#[from] crate::broker::BrokerError),
    #[error("the rendition cache folder: {0}")]
    Transcode(std::io::Error),
}

/// The signer of media URLs: its key derived from the deployment secret when there is one (the
/// same on every node), otherwise `media.key` in the data folder (made on first start).
pub fn media_signer(config: &Config) -> Result<MediaSigner, StartError> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| StartError::DataDir(config.data_dir.clone(), e))?;
    let base = config.media_base.as_deref();
    Ok(match &config.secret {
        Some(secret) => MediaSigner::from_secret(secret, base),
        None => MediaSigner::open(&config.data_dir, base)?,
    })
}

/// One process-wide recorder: several servers in one process (tests) share it, and the
/// first one's node id is the `node` label of every series.
fn metrics_handle(node_id: &str) -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .add_global_label("node", node_id)
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0,
                ])
                .expect("static buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            handle
        })
        .clone()
}

/// A server that is listening. Dropping it does not stop it; call [`RunningServer::shutdown`].
pub struct RunningServer {
    pub addr: SocketAddr,
    /// Set when this start created the admin with a random password.
    pub generated_admin_password: Option<String>,
    pub state: AppState,
    /// After SIGTERM: how long `/readyz` says `draining` before the listener closes.
    drain: Duration,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Runs the scanner, watcher and recommendation worker while this node holds their leases.
    leader: Option<crate::leader::Leader>,
    /// Deletes expired idempotency records now and then (`purge_idempotency_records`).
    purger: tokio::task::JoinHandle<()>,
    /// With `--broker`: moves the outbox to the broker (every node runs one).
    relay: Option<crate::broker::Relay>,
    /// Serves the newest stored trained recommendation model (every node runs one).
    model_loader: Option<crate::recs::trainer::Loader>,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests finish, and waits.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.purger.abort();
        let served = self
            .task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        // The recommendation worker finishes (commits and acknowledges) the batch in hand.
        if let Some(leader) = self.leader.take() {
            let _ = tokio::task::spawn_blocking(move || leader.stop()).await;
        }
        if let Some(relay) = self.relay.take() {
            let _ = tokio::task::spawn_blocking(move || relay.stop()).await;
        }
        if let Some(loader) = self.model_loader.take() {
            let _ = tokio::task::spawn_blocking(move || loader.stop()).await;
        }
        served
    }

    /// `/readyz` answers 503 `draining` from now on; requests are still served.
    pub fn start_draining(&self) {
        self.state.draining.store(true, Ordering::SeqCst);
    }

    /// Drains (see `--drain-secs`), then shuts down: load balancers see the node go unready
    /// and stop sending before it stops accepting.
    pub async fn drain_and_shutdown(self) -> std::io::Result<()> {
        self.start_draining();
        if !self.drain.is_zero() {
            tracing::info!(secs = self.drain.as_secs(), "draining: /readyz answers 503");
            tokio::time::sleep(self.drain).await;
        }
        self.shutdown().await
    }

    /// Serves until SIGTERM or Ctrl-C, then drains and shuts down gracefully.
    pub async fn until_signal(self) -> std::io::Result<()> {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.drain_and_shutdown().await
    }
}

/// The accept loop: axum's router on hyper, with a header-read timeout (which `axum::serve`
/// does not set: a client trickling bytes would hold a connection forever) and graceful
/// shutdown that lets in-flight requests finish, for at most `grace` (a one-hour stream must
/// not hold a restart). Bodies are bounded by the request timeout.
async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    header_timeout: Duration,
    grace: Duration,
    stop: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use tower::ServiceExt;

    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                // Out of file descriptors and the like: back off rather than spin.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                app.clone().oneshot(req.map(axum::body::Body::new))
            });
        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            // Bounds what one connection buffers: a slow reader of a long stream holds at most
            // this plus one read chunk (hyper's default, ~400 KiB, made 500 streams cost 350 MB).
            .max_buf_size(crate::http::CONNECTION_BUFFER_BYTES);
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            secs = grace.as_secs(),
            "open connections (streams) still running after the shutdown grace; closing anyway"
        );
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// The store and the queue the recs worker drains: one object, seen through two traits.
struct Opened {
    store: Arc<dyn Store>,
    queue: Arc<dyn crate::recs::queue::EventQueue>,
    leases: Arc<dyn crate::storage::LeaseStore>,
    subsonic: crate::subsonic::SubsonicState,
    relay: Option<crate::broker::Relay>,
}

/// The embedded SQLite file, or the PostgreSQL primary (with replicas and Redis marks).
async fn open_store(config: &Config, shared: Option<&SharedState>) -> Result<Opened, StartError> {
    match &config.database {
        Database::Sqlite(_) => {
            let db_path = config.database_path();
            if let Some(parent) = db_path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| StartError::DataDir(parent.to_path_buf(), e))?;
            }
            let readers = config.reader_connections;
            let sqlite = Arc::new(
                tokio::task::spawn_blocking(move || SqliteStore::open(&db_path, readers))
                    .await
                    .expect("open task")?,
            );
            let store: Arc<dyn Store> = sqlite.clone();
            // Before anything else starts: a lost key must stop the start, not break app passwords.
            let subsonic = crate::subsonic::SubsonicState::open(&config.data_dir, store.as_ref())?;
            Ok(Opened {
                store,
                queue: sqlite.clone(),
                leases: sqlite,
                subsonic,
                relay: None,
            })
        }
        Database::Postgres(url) => {
            let secret = config.secret.as_ref().ok_or(StartError::NoSecret)?;
            let marks: Arc<dyn WriteMarks> = match shared {
                Some(state) => Arc::new(crate::shared_state::RedisWriteMarks::new(state.clone())),
                None if config.read_replicas.is_empty() => Arc::new(LocalWriteMarks::single_node()),
                // Another node's write is unknown here: user reads stay on the primary.
                None => Arc::new(LocalWriteMarks::unshared()),
            };
            let options = PgOptions {
                replica_urls: config.read_replicas.clone(),
                shards: config.shards.clone(),
                commit_delay: test_commit_delay(),
                ..PgOptions::new(url.clone())
            };
            let pg = Arc::new(
                tokio::task::spawn_blocking(move || PgStore::open(&options, marks))
                    .await
                    .expect("open task")?,
            );
            // With a broker the table is only the outbox: every node relays it, and the recs
            // worker drains the broker's queue instead.
            let (queue, relay): (Arc<dyn crate::recs::queue::EventQueue>, _) = match &config.broker
            {
                Some(url) => {
                    let link = Arc::new(crate::broker::Link::new(
                        url,
                        crate::broker::Names::default(),
                        &config.node_id,
                    )?);
                    let relay = crate::broker::Relay::spawn(link.clone(), pg.clone());
                    let queue = crate::broker::BrokerQueue::new(
                        link,
                        pg.clone(),
                        crate::recs::worker::WorkerConfig::default().batch,
                        &config.node_id,
                    );
                    (Arc::new(queue), Some(relay))
                }
                None => (pg.clone(), None),
            };
            Ok(Opened {
                store: pg.clone(),
                queue,
                leases: pg,
                subsonic: crate::subsonic::SubsonicState::with_secret(secret),
                relay,
            })
        }
    }
}

/// Opens everything and starts listening. The initial scan runs in the background.
pub async fn start(config: Config) -> Result<RunningServer, StartError> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| StartError::DataDir(config.data_dir.clone(), e))?;
    let metrics = metrics_handle(&config.node_id);
    let media = Arc::new(media_signer(&config)?);
    let shared = match &config.redis {
        Some(url) => Some(SharedState::connect(url, "")?),
        None => None,
    };
    let Opened {
        store,
        queue,
        leases,
        subsonic,
        relay,
    } = open_store(&config, shared.as_ref()).await?;
    let subsonic = Arc::new(subsonic);
    let auth = {
        let store = store.clone();
        let ttl = Duration::from_secs(config.token_ttl_secs);
        let password = config.admin_password.clone();
        let proxies = crate::auth::address::TrustedProxies::parse(&config.trusted_proxies)?;
        let throttle = shared
            .clone()
            .map(crate::shared_state::throttle::RedisThrottle::new);
        tokio::task::spawn_blocking(move || -> Result<_, AuthError> {
            let mut auth = Auth::new(store, ttl, proxies)?;
            if let Some(throttle) = throttle {
                auth = auth.with_shared_throttle(throttle);
            }
            let generated = auth.bootstrap_admin(password.as_deref())?;
            Ok((Arc::new(auth), generated))
        })
        .await
        .expect("auth task")?
    };
    let (auth, generated_admin_password) = auth;
    let node_id = config.node_id.clone();
    let mut scanner = Scanner::new(config.library.clone(), store.clone())
        .with_mass_removal_allowed(config.allow_mass_removal)
        .with_node(node_id.clone());
    if let Some(writes) = test_scan_batch() {
        scanner = scanner.with_batch_size(writes);
    }
    if leases.is_shared() {
        scanner = scanner.with_coordination(leases.clone());
    }
    let scanner = Arc::new(scanner);
    let art = Arc::new(ArtService::new(
        store.clone(),
        config.library.clone(),
        config.art_cache_dir(),
        config.art_cache_max_mb.saturating_mul(1 << 20),
    ));
    let transcoder = crate::transcode::Transcoder::start(
        &config.library,
        &config.data_dir,
        crate::transcode::TranscodeConfig {
            cache_bytes: config.transcode_cache_max_mb.saturating_mul(1 << 20),
            threads: config.transcode_threads,
            ..Default::default()
        },
    )
    .map_err(StartError::Transcode)?;
    let recs = Arc::new(crate::recs::Recs {
        store: store.clone(),
        queue: queue.clone(),
        params: crate::recs::model::Params::default(),
        stats: Default::default(),
        trained: Default::default(),
    });
    // Every node serves the newest stored trained model; the trainer runs with the worker.
    let model_loader = crate::recs::trainer::Loader::spawn(
        store.clone(),
        recs.trained.clone(),
        crate::recs::trainer::LOAD_EVERY,
    );
    // The initial scan, the watcher and the recommendation worker run where the leases are.
    let leader_config = crate::leader::LeaderConfig {
        node: node_id,
        initial_scan: config.initial_scan,
        watch: config.watch,
        recs: Some(crate::leader::RecsWork {
            queue,
            params: recs.params,
            cfg: crate::recs::worker::WorkerConfig::default(),
            stats: recs.stats.clone(),
            trainer: Some(crate::leader::TrainerWork {
                store: store.clone(),
                model: recs.trained.clone(),
                cfg: crate::recs::trainer::TrainerConfig::default(),
            }),
        }),
    };
    let leader = {
        let scanner = scanner.clone();
        tokio::task::spawn_blocking(move || {
            crate::leader::Leader::start(leases, scanner, leader_config)
        })
        .await
        .expect("leader task")
        .expect("start the leader loop")
    };
    let state = AppState {
        recs,
        store,
        scanner,
        auth,
        art,
        library: config.library.clone(),
        data_dir: config.data_dir.clone(),
        metrics,
        subsonic,
        pages: Arc::new(crate::pages::PageCache::new(
            crate::pages::DEFAULT_CAPACITY_BYTES,
        )),
        node_id: config.node_id.as_str().into(),
        draining: Arc::default(),
        media,
        transcoder,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| StartError::Bind(config.listen, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Bind(config.listen, e))?;
    tracing::info!(%addr, node = %config.node_id, "listening on http://{addr}");
    let app = http::router(state.clone());
    let purger = tokio::spawn(purge_idempotency_records(state.store.clone()));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(
        listener,
        app,
        Duration::from_secs(config.header_timeout_secs),
        Duration::from_secs(config.shutdown_grace_secs),
        rx,
    ));
    Ok(RunningServer {
        addr,
        generated_admin_password,
        state,
        drain: Duration::from_secs(config.drain_secs),
        shutdown: Some(tx),
        task,
        leader: Some(leader),
        purger,
        relay,
        model_loader: Some(model_loader),
    })
}

/// How often a node deletes expired idempotency records. Every node does (the delete is
/// harmless twice); a record past its expiry is already ignored when its key comes back, so
/// this only keeps the table small.
const IDEMPOTENCY_PURGE_EVERY: Duration = Duration::from_secs(10 * 60);

async fn purge_idempotency_records(store: Arc<dyn crate::storage::Store>) {
    let mut every = tokio::time::interval(IDEMPOTENCY_PURGE_EVERY);
    loop {
        every.tick().await;
        let store = store.clone();
        let now = crate::idempotency::now_ms();
        match tokio::task::spawn_blocking(move || crate::idempotency::purge(store.as_ref(), now))
            .await
        {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::debug!(n, "expired idempotency records deleted"),
            Ok(Err(e)) => tracing::warn!(error = %e, "purging idempotency records failed"),
            Err(e) => tracing::warn!(error = %e, "the idempotency purge task failed"),
        }
    }
}

/// A test hook's number from the environment variable `name` (unset or not a number: none),
/// logged loudly, since it is never meant for a real deployment.
fn test_hook(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?.parse().ok()?;
    tracing::warn!(name, value, "test hook set");
    Some(value)
}

/// Test hook (`MIXTAPE_TEST_SCAN_BATCH`): the scan writes this many tracks per transaction, so
/// that with the commit delay below a scan lasts long enough to kill its leader mid-way however
/// slowly the other node starts.
fn test_scan_batch() -> Option<usize> {
    test_hook("MIXTAPE_TEST_SCAN_BATCH").map(|writes| writes as usize)
}

/// Test hook (`MIXTAPE_TEST_COMMIT_DELAY_MS`): every change-recording transaction on PostgreSQL
/// waits this long between taking its sequence numbers and committing, so the multi-node tests
/// can make commits overlap (and slow a scan down enough to kill its leader mid-way).
fn test_commit_delay() -> Option<Duration> {
    test_hook("MIXTAPE_TEST_COMMIT_DELAY_MS").map(Duration::from_millis)
}
