//! State several server nodes share through Redis: users' last write positions for
//! read-your-writes routing ([`RedisWriteMarks`]) and the login throttle's counters
//! ([`throttle::RedisThrottle`]).
//!
//! Redis is a helper here, never the source of truth (it keeps nothing on disk): every call has
//! a short timeout, and when Redis does not answer each caller falls back to what one node can
//! do alone (reads from the primary, in-process throttle counters). An outage is logged once,
//! when it starts, and once when it ends.

pub mod throttle;

use crate::storage::postgres::WriteMarks;
use mixtape_shared::UserId;
use redis::aio::ConnectionManager;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The longest any Redis call may take: a dead Redis must not stall requests.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(200);

/// While Redis is down, how often one caller tries it again.
const RETRY_DOWN_MS: u64 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum SharedStateError {
    #[error("bad Redis URL: {0}")]
    BadUrl(redis::RedisError),
    #[error("the Redis connection: {0}")]
    Connect(redis::RedisError),
}

/// Why one Redis call did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum RedisCallError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("redis is down; not tried again yet")]
    Down,
}

/// One Redis connection (multiplexed, reconnecting) shared by everything in this process.
#[derive(Clone)]
pub struct SharedState {
    inner: Arc<Inner>,
}

struct Inner {
    conn: ConnectionManager,
    /// Prepended to every key, so tests (or several deployments) can share one Redis.
    namespace: String,
    /// The last call failed: callers treat Redis as absent until one succeeds.
    down: AtomicBool,
    /// While down, when (ms after `epoch`) one caller may try Redis again.
    retry_at_ms: AtomicU64,
    epoch: Instant,
    /// For calls from threads outside the runtime (storage, blocking tasks).
    runtime: tokio::runtime::Handle,
}

impl SharedState {
    /// Connects lazily: a Redis that is down at start does not stop the start; each call
    /// retries the connection within its timeout. Must be called inside the tokio runtime.
    pub fn connect(url: &str, namespace: &str) -> Result<Self, SharedStateError> {
        let client = redis::Client::open(url).map_err(SharedStateError::BadUrl)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(100));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(SharedStateError::Connect)?;
        Ok(Self {
            inner: Arc::new(Inner {
                conn,
                namespace: namespace.to_string(),
                down: AtomicBool::new(false),
                retry_at_ms: AtomicU64::new(0),
                epoch: Instant::now(),
                runtime: tokio::runtime::Handle::current(),
            }),
        })
    }

    /// `namespace` + `key`.
    pub fn key(&self, key: &str) -> String {
        format!("{}{key}", self.inner.namespace)
    }

    /// False while the last call failed.
    pub fn is_up(&self) -> bool {
        !self.inner.down.load(Ordering::SeqCst)
    }

    /// Whether to use Redis now: while it is up, always; while it is down, once a second (one
    /// caller tries it, the others use their fallback without waiting on a dead Redis).
    pub fn usable(&self) -> bool {
        if self.is_up() {
            return true;
        }
        let now = self.now_ms();
        let due = self.inner.retry_at_ms.load(Ordering::SeqCst);
        now >= due
            && self
                .inner
                .retry_at_ms
                .compare_exchange(due, now + RETRY_DOWN_MS, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
    }

    fn now_ms(&self) -> u64 {
        self.inner.epoch.elapsed().as_millis() as u64
    }

    /// Runs one Redis call with the timeout, and keeps the up/down state (logging a change).
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T, RedisCallError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let result = match tokio::time::timeout(REDIS_TIMEOUT, f(self.inner.conn.clone())).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(RedisCallError::Redis(e)),
            Err(_) => Err(RedisCallError::Timeout(REDIS_TIMEOUT)),
        };
        match &result {
            Ok(_) => {
                if self.inner.down.swap(false, Ordering::SeqCst) {
                    tracing::info!("redis answers again; shared state back in use");
                }
            }
            Err(e) => {
                self.inner
                    .retry_at_ms
                    .store(self.now_ms() + RETRY_DOWN_MS, Ordering::SeqCst);
                if !self.inner.down.swap(true, Ordering::SeqCst) {
                    tracing::warn!(error = %e, "redis unreachable; falling back to this node's own state");
                }
            }
        }
        result
    }

    /// [`Self::call`] from a thread that is not running async code (storage, blocking tasks).
    pub fn call_blocking<T, F, Fut>(&self, f: F) -> Result<T, RedisCallError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        self.inner.runtime.block_on(self.call(f))
    }

    /// Runs `fut` in the background on the runtime (from any thread).
    pub fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        self.inner.runtime.spawn(fut);
    }
}

/// How long a user's write position is kept (the storage's sticking time, 30 s).
const STICKY_SECS: u64 = 30;

/// Keeps the highest of the stored and the given position (fixed-width hex compares as the
/// number does, so no precision is lost in Lua's doubles) and renews the expiry.
const MARK_SCRIPT: &str = r"
local cur = redis.call('GET', KEYS[1])
if (not cur) or ARGV[1] > cur then cur = ARGV[1] end
redis.call('SET', KEYS[1], cur, 'EX', ARGV[2])
return cur
";

/// Users' last write positions in Redis (`ryw:{user}`, 30 s), so a user's next read on any node
/// waits for a replica that has replayed it. While Redis is down, `is_shared` is false and user
/// reads go to the primary; a failed read of a mark answers "newer than any replica" for the
/// same reason.
pub struct RedisWriteMarks {
    state: SharedState,
    script: redis::Script,
}

impl RedisWriteMarks {
    pub fn new(state: SharedState) -> Self {
        Self {
            state,
            script: redis::Script::new(MARK_SCRIPT),
        }
    }

    fn user_key(&self, user: UserId) -> String {
        self.state.key(&format!("ryw:{}", user.0))
    }
}

impl WriteMarks for RedisWriteMarks {
    fn mark(&self, user: UserId, lsn: u64) {
        // While Redis is down this node's reads of the user go to the primary anyway.
        if !self.state.usable() {
            return;
        }
        let key = self.user_key(user);
        let ttl = STICKY_SECS;
        let script = &self.script;
        let result = self.state.call_blocking(|mut conn| async move {
            script
                .key(key)
                .arg(format!("{lsn:016x}"))
                .arg(ttl)
                .invoke_async::<String>(&mut conn)
                .await
        });
        if let Err(e) = result {
            tracing::debug!(error = %e, user = user.0, "cannot record a write position in redis");
        }
    }

    fn last_write(&self, user: UserId) -> Option<u64> {
        let key = self.user_key(user);
        let found = self.state.call_blocking(|mut conn| async move {
            redis::cmd("GET")
                .arg(key)
                .query_async::<Option<String>>(&mut conn)
                .await
        });
        match found {
            Ok(text) => text.and_then(|t| u64::from_str_radix(&t, 16).ok()),
            Err(e) => {
                tracing::debug!(error = %e, user = user.0, "cannot read a write position from redis");
                // Unknown: assume the newest write, which no replica has, so the read goes to
                // the primary (no mark at all would let any replica answer).
                Some(u64::MAX)
            }
        }
    }

    /// False while Redis is down (user reads then go to the primary), except for the one read
    /// a second that tries Redis again.
    fn is_shared(&self) -> bool {
        self.state.usable()
    }
}
