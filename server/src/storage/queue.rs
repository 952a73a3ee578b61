//! The durable event queue's interface (see `crate::recs::queue` for how it is used and how it
//! maps to a broker). Every backend implements it over its own tables.

use super::StorageResult;

/// A message as the queue keeps it: `key` is the id consumers deduplicate on (the event or op
/// id), `payload` the JSON of a [`crate::recommender::Event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: String,
    pub key: String,
    pub payload: String,
}

/// One delivery of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The queue's handle for ack/retry (the row's sequence in SQLite, a stream sequence or a
    /// delivery tag in a broker).
    pub tag: i64,
    pub message: Message,
    /// Failed deliveries before this one.
    pub attempts: u32,
    pub enqueued_at_ms: i64,
}

/// A message that failed every retry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct DeadLetter {
    pub tag: i64,
    pub kind: String,
    pub key: String,
    pub payload: String,
    pub attempts: u32,
    pub last_error: String,
    pub enqueued_at_ms: i64,
    pub dead_at_ms: i64,
}

/// How far behind the consumer is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct QueueStats {
    /// Messages not yet acknowledged (retries waiting included). With a broker: the outbox
    /// rows not yet relayed plus the messages ready in the broker's queue.
    pub depth: u64,
    /// Of those, messages waiting for a retry.
    pub retrying: u64,
    /// When the oldest unacknowledged message was enqueued (Unix ms). With a broker: the
    /// oldest outbox row (the broker does not say).
    pub oldest_enqueued_at_ms: Option<i64>,
    pub dead_letters: u64,
    /// Set when a broker carries the messages (`--broker`): what it and the outbox say.
    pub broker: Option<BrokerStats>,
}

/// The two halves of a queue relayed to a broker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct BrokerStats {
    /// Whether this node reached the broker just now (false: the numbers below it are 0).
    pub connected: bool,
    /// Rows in the outbox table, not yet confirmed by the broker.
    pub outbox: u64,
    /// Messages ready in the broker's queue (not counting those delivered and not yet acked).
    pub ready: u64,
    /// Consumers attached to the queue (one active: single active consumer).
    pub consumers: u32,
    /// Messages in the broker's dead-letter queue.
    pub dead_letters: u64,
}

pub trait EventQueue: Send + Sync + 'static {
    /// Enqueues outside an event's transaction (events normally come through the outbox).
    fn publish(&self, message: &Message, now_ms: i64) -> StorageResult<i64>;
    /// Up to `max` messages due at `now_ms`, oldest first.
    fn fetch(&self, max: usize, now_ms: i64) -> StorageResult<Vec<Delivery>>;
    /// Removes messages whose work has committed.
    fn ack(&self, tags: &[i64]) -> StorageResult<()>;
    /// Redelivers a failed message no sooner than `not_before_ms`.
    fn retry(&self, tag: i64, error: &str, not_before_ms: i64) -> StorageResult<()>;
    /// Moves a message that keeps failing to the dead letters.
    fn dead_letter(&self, tag: i64, error: &str, now_ms: i64) -> StorageResult<()>;
    fn stats(&self) -> StorageResult<QueueStats>;
    /// The newest dead letters first.
    fn dead_letters(&self, limit: u32) -> StorageResult<Vec<DeadLetter>>;
    /// Puts dead letters back in the queue (after a fix); returns how many.
    fn requeue_dead_letters(&self, now_ms: i64) -> StorageResult<u64>;
    /// Whether the queue is the store's own outbox table, so that a message's work and its
    /// acknowledgement commit in one transaction (`FencedWriter::recs_apply_acking`) instead
    /// of `ack` after the work's commit. Only a queue inside the store applying can say yes.
    fn acks_with_apply(&self) -> bool {
        false
    }
    /// The consumer stops fetching (it lost its lease, or the node stops): a broker gives the
    /// messages in hand to the next consumer.
    fn release(&self) {}
}

/// The outbox side of a queue relayed to a broker: the rows the event transactions wrote.
pub trait Outbox: Send + Sync + 'static {
    /// Claims up to `max` of the oldest rows that no other relay holds, hands them to
    /// `publish`, and when it returns Ok deletes them in the same transaction; when it returns
    /// Err the rows stay (Ok(Err(reason)) is that). A crash after `publish` and before the
    /// commit leaves the rows to be published again: consumers deduplicate by key.
    fn relay_batch(
        &self,
        max: usize,
        publish: &mut dyn FnMut(&[Delivery]) -> Result<(), String>,
    ) -> StorageResult<Result<usize, String>>;
}
