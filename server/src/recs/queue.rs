//! The durable event queue between the requests that accept events and the recommender.
//!
//! Producers never call the queue directly: the store inserts a message in the same transaction
//! as the event it announces (an outbox), so an accepted event always has its message and a
//! rolled-back one never does. The worker ([`super::worker`]) pulls batches, does the work in its
//! own transaction (idempotent by message key), then acknowledges. Delivery is at least once:
//! a crash between the work's commit and the acknowledgement redelivers, and the key makes the
//! redelivery change nothing.
//!
//! The trait is `storage::queue`; the embedded implementation is `storage::sqlite::queue` (tables `recs_queue` and
//! `recs_dead_letters`), PostgreSQL's is `storage::postgres::queue` (the same tables; a batch's
//! work and the deletion of its rows commit together). RabbitMQ (`crate::broker`, `--broker`)
//! slots in behind the same trait; NATS is how it would map, not implemented (Debian's 2.9 cannot
//! fsync each acknowledged message):
//!
//! | trait | NATS JetStream | RabbitMQ |
//! |---|---|---|
//! | outbox row | the outbox relay publishes with `Nats-Msg-Id` = key (dedup window) and deletes the row | relay publishes with publisher confirms, `message_id` = key, then deletes the row |
//! | [`EventQueue::fetch`] | pull consumer `fetch(max)`, explicit ack, `AckWait` | `basic.consume` with manual ack and `prefetch = 2 × batch` |
//! | [`EventQueue::ack`] | `ack` (after the work committed) | `basic.ack` |
//! | [`EventQueue::retry`] | `nak` with delay = backoff | held for the backoff, then `basic.nack(requeue = true)` (the quorum queue counts it in `x-delivery-count`) |
//! | [`EventQueue::dead_letter`] | `term`, plus `MAX_DELIVERIES` advisory → a DLQ stream | `basic.reject(requeue = false)`: at-least-once dead lettering to the DLX queue |
//! | [`EventQueue::stats`] | consumer info: `num_pending`, `num_ack_pending`; oldest from stream info | outbox rows + passive `queue.declare` counts (ready, consumers, dead letters) |
//!
//! Redelivery after a consumer dies is the broker's (AckWait / channel close); the embedded queue
//! has one consumer, which starts from the oldest unacknowledged message after a restart.

pub use crate::storage::queue::{DeadLetter, Delivery, EventQueue, Message, QueueStats};
