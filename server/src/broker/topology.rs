//! The broker's queues, declared idempotently on every new connection (declaring what exists
//! with the same arguments changes nothing; different arguments are refused by the broker,
//! which is reported, never silently replaced).
//!
//! - `mixtape.recs`: a quorum queue (Raft-replicated, fsynced before the publisher confirm),
//!   `x-delivery-limit` deliveries, then dead-lettered `at-least-once` (which RabbitMQ allows
//!   only with `x-overflow=reject-publish`), `x-single-active-consumer`.
//! - `mixtape.recs.dlx` (fanout) → `mixtape.recs.dead` (quorum): the dead letters, kept until
//!   an admin requeues them.

use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

/// Deliveries of one message before the broker dead-letters it (the worker gives up after
/// `WorkerConfig::max_attempts` failures first; this catches a message that crashes it).
pub const DELIVERY_LIMIT: i32 = 5;

/// The names of the queue, its dead-letter exchange and its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub queue: String,
    pub dead_exchange: String,
    pub dead_queue: String,
}

impl Names {
    pub fn new(queue: &str) -> Self {
        Self {
            queue: queue.to_string(),
            dead_exchange: format!("{queue}.dlx"),
            dead_queue: format!("{queue}.dead"),
        }
    }
}

impl Default for Names {
    fn default() -> Self {
        Self::new("mixtape.recs")
    }
}

fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(s.into())
}

/// The main queue's arguments.
pub fn queue_arguments(names: &Names) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), text("quorum"));
    args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongInt(DELIVERY_LIMIT),
    );
    args.insert("x-dead-letter-exchange".into(), text(&names.dead_exchange));
    args.insert("x-dead-letter-strategy".into(), text("at-least-once"));
    args.insert("x-overflow".into(), text("reject-publish"));
    args.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
    args
}

/// Declares the dead-letter exchange and queue, then the queue.
pub async fn declare(ch: &Channel, names: &Names) -> lapin::Result<()> {
    ch.exchange_declare(
        names.dead_exchange.as_str().into(),
        ExchangeKind::Fanout,
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await?;
    let mut dead_args = FieldTable::default();
    dead_args.insert("x-queue-type".into(), text("quorum"));
    ch.queue_declare(
        names.dead_queue.as_str().into(),
        QueueDeclareOptions::durable(),
        dead_args,
    )
    .await?;
    ch.queue_bind(
        names.dead_queue.as_str().into(),
        names.dead_exchange.as_str().into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    ch.queue_declare(
        names.queue.as_str().into(),
        QueueDeclareOptions::durable(),
        queue_arguments(names),
    )
    .await?;
    Ok(())
}

/// Message and consumer counts of a queue that exists (a passive declare).
pub async fn counts(ch: &Channel, queue: &str) -> lapin::Result<(u32, u32)> {
    let q = ch
        .queue_declare(
            queue.into(),
            QueueDeclareOptions::default().passive(),
            FieldTable::default(),
        )
        .await?;
    Ok((q.message_count(), q.consumer_count()))
}

/// Deletes the queues and the dead-letter exchange (a benchmark's throwaway names).
pub async fn delete(ch: &Channel, names: &Names) -> lapin::Result<()> {
    for queue in [&names.queue, &names.dead_queue] {
        ch.queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await?;
    }
    ch.exchange_delete(
        names.dead_exchange.as_str().into(),
        ExchangeDeleteOptions::default(),
    )
    .await
}
