//! RabbitMQ between the outbox and the recommender (`--broker amqp://…`, PostgreSQL only).
//!
//! Play events and playlist additions are written to the outbox table (`recs_queue`) in the
//! transaction that accepts them, as without a broker. Then:
//!
//! - [`relay`]: every node relays. A relay claims the oldest outbox rows with `FOR UPDATE SKIP
//!   LOCKED` (so no two relays hold the same row), publishes them persistent with
//!   `message_id` = the event key, waits for the broker's publisher confirms, and only then
//!   deletes the rows, in the claiming transaction. A crash between the confirm and the commit
//!   publishes the rows again; the applier deduplicates by key.
//! - [`topology`]: a quorum queue with a delivery limit, at-least-once dead lettering into a
//!   dead-letter exchange and queue, and single active consumer; declared on every connection.
//! - [`queue`]: [`BrokerQueue`], the `EventQueue` the recs worker drains. Only the node holding
//!   the recs lease runs the worker, so only it consumes; single active consumer makes the
//!   broker hand messages to one consumer even while a lease changes hands, and the lease still
//!   fences the writes (a node that lost it cannot commit). Manual acks, after the commit.
//!
//! When the broker is down, events are still accepted (they wait in the outbox), the relay and
//! the consumer retry with backoff, the outage is logged once, and `mixtape_broker_connected`
//! is 0 until the link is back.

pub mod queue;
pub mod relay;
pub mod topology;

pub use queue::BrokerQueue;
pub use relay::Relay;
pub use topology::Names;

use lapin::{Channel, Connection, ConnectionProperties};
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long one broker operation (connect, declare, publish and confirm a batch) may take
/// before the link is called down.
pub const OP_TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("cannot start the broker client's runtime: {0}")]
    Runtime(std::io::Error),
    #[error("broker unreachable (retrying in {0:?})")]
    Down(Duration),
    #[error("broker: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("broker did not answer within {0:?}")]
    Timeout(Duration),
    #[error("broker refused: {0}")]
    Refused(String),
}

struct Health {
    up: bool,
    /// When the current outage began (None while up, or before the first connection).
    down_since: Option<Instant>,
    /// No new connection is tried before this.
    next_try: Instant,
    backoff: Duration,
}

/// The node's connection to the broker, shared by the relay, the consumer and the admin views
/// (each on channels of their own), with its own small runtime: the callers are threads.
pub struct Link {
    url: String,
    pub names: Names,
    node: String,
    runtime: Option<tokio::runtime::Runtime>,
    conn: Mutex<Option<Connection>>,
    health: Mutex<Health>,
}

impl Link {
    /// Connects lazily: a broker that is down at start delays nothing.
    pub fn new(url: &str, names: Names, node: &str) -> Result<Self, BrokerError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("broker-io")
            .enable_all()
            .build()
            .map_err(BrokerError::Runtime)?;
        metrics::gauge!("mixtape_broker_connected").set(0.0);
        Ok(Self {
            url: url.to_string(),
            names,
            node: node.to_string(),
            runtime: Some(runtime),
            conn: Mutex::new(None),
            health: Mutex::new(Health {
                up: false,
                down_since: None,
                next_try: Instant::now(),
                backoff: FIRST_BACKOFF,
            }),
        })
    }

    /// Runs `f` on the link's runtime, bounded by [`OP_TIMEOUT`]. Call from a thread, never
    /// from async code.
    pub fn block_on<T>(
        &self,
        f: impl Future<Output = Result<T, BrokerError>>,
    ) -> Result<T, BrokerError> {
        let rt = self
            .runtime
            .as_ref()
            .expect("the runtime lives as long as the link");
        rt.block_on(async {
            tokio::time::timeout(OP_TIMEOUT, f)
                .await
                .map_err(|_| BrokerError::Timeout(OP_TIMEOUT))?
        })
    }

    /// A new channel, connecting first (and declaring the topology) when there is no live
    /// connection. While backing off after a failure: `Down` at once, without trying.
    pub fn channel(&self) -> Result<Channel, BrokerError> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = conn.as_ref()
            && !c.status().connected()
        {
            *conn = None;
        }
        if conn.is_none() {
            {
                let h = self.health.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                if now < h.next_try {
                    return Err(BrokerError::Down(h.next_try - now));
                }
            }
            match self.connect() {
                Ok(c) => {
                    *conn = Some(c);
                    self.succeeded();
                }
                Err(e) => {
                    drop(conn);
                    self.failed(&e);
                    return Err(e);
                }
            }
        }
        let c = conn.as_ref().expect("connected above");
        let channel = self.block_on(async { Ok(c.create_channel().await?) });
        if let Err(e) = &channel {
            drop(conn);
            self.failed(e);
        }
        channel
    }

    fn connect(&self) -> Result<Connection, BrokerError> {
        let props = ConnectionProperties::default()
            .with_connection_name(format!("mixtape-server {}", self.node).into());
        self.block_on(async {
            let conn = Connection::connect(&self.url, props).await?;
            let ch = conn.create_channel().await?;
            topology::declare(&ch, &self.names).await?;
            // The declaring channel is not needed any more.
            let _ = ch.close(200, "declared".into()).await;
            Ok(conn)
        })
    }

    /// Reports a failed operation: if the connection is gone, the link is down until a new
    /// one is made (after a backoff); the first failure of an outage is logged, not the others.
    pub fn failed(&self, error: &BrokerError) {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let connection_lost = conn.as_ref().is_none_or(|c| !c.status().connected());
        if !connection_lost {
            // A channel-level error (a refused publish, a precondition): the link is fine.
            tracing::warn!(%error, "broker operation failed");
            return;
        }
        *conn = None;
        drop(conn);
        let mut h = self.health.lock().unwrap_or_else(|e| e.into_inner());
        if h.up || h.down_since.is_none() {
            tracing::warn!(
                %error,
                url = %crate::config::redact_url(&self.url),
                "broker unreachable: events wait in the outbox; retrying with backoff"
            );
            metrics::counter!("mixtape_broker_outages_total").increment(1);
            metrics::gauge!("mixtape_broker_connected").set(0.0);
            h.down_since = Some(Instant::now());
            h.backoff = FIRST_BACKOFF;
        } else {
            h.backoff = (h.backoff * 2).min(MAX_BACKOFF);
        }
        h.up = false;
        h.next_try = Instant::now() + h.backoff;
    }

    fn succeeded(&self) {
        let mut h = self.health.lock().unwrap_or_else(|e| e.into_inner());
        if !h.up {
            match h.down_since.take() {
                Some(since) => tracing::info!(
                    down_secs = since.elapsed().as_secs_f64(),
                    "broker reachable again"
                ),
                None => tracing::info!(
                    url = %crate::config::redact_url(&self.url),
                    queue = %self.names.queue,
                    "connected to the broker"
                ),
            }
            metrics::gauge!("mixtape_broker_connected").set(1.0);
        }
        h.up = true;
        h.backoff = FIRST_BACKOFF;
    }

    /// How long until the next connection attempt (zero while connected).
    pub fn retry_in(&self) -> Duration {
        let h = self.health.lock().unwrap_or_else(|e| e.into_inner());
        h.next_try.saturating_duration_since(Instant::now())
    }

    /// Deletes the link's queues and exchange (benchmarks clean up their throwaway names).
    pub fn delete_topology(&self) -> Result<(), BrokerError> {
        let ch = self.channel()?;
        self.block_on(async {
            topology::delete(&ch, &self.names).await?;
            Ok(())
        })
    }

    pub fn is_up(&self) -> bool {
        self.health.lock().unwrap_or_else(|e| e.into_inner()).up
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside async code (a test's server).
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
