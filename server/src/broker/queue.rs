//! [`BrokerQueue`]: the `EventQueue` the recs worker drains when a broker carries the events.
//!
//! - `fetch`: the first call subscribes (manual ack, prefetch of two batches); single active
//!   consumer gives the deliveries to one subscriber at a time. Delivery tags are only valid on
//!   their channel, so a tag carries the subscription's generation: an ack for a subscription
//!   that is gone (the link broke) is dropped, and the broker delivers the message again, which
//!   the worker's dedup by key turns into nothing.
//! - `ack` after the worker's commit; `retry` holds the delivery until its backoff ends, then
//!   gives it back (`nack` with requeue, which the quorum queue counts: `x-delivery-count` is
//!   the next delivery's `attempts`); `dead_letter` rejects it into the dead-letter exchange.
//! - `publish` writes to the outbox (the relay takes it from there); `stats` and the dead
//!   letters combine the outbox table and what the broker says.

use super::relay::{ENQUEUED_HEADER, confirming, publish_confirmed};
use super::{BrokerError, Link, topology};
use crate::storage::queue::{BrokerStats, DeadLetter, Delivery, EventQueue, Message, QueueStats};
use crate::storage::{StorageError, StorageResult};
use futures_util::StreamExt;
use lapin::message::Delivery as AmqpDelivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicQosOptions,
    BasicRejectOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Consumer};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long `fetch` waits for a first message before answering "nothing".
const FIRST_WAIT: Duration = Duration::from_millis(100);
/// Generations live above the broker's delivery tags (which count from 1 per channel).
const TAG_BITS: u32 = 40;

struct Subscription {
    generation: i64,
    channel: Channel,
    consumer: Consumer,
    /// Deliveries held back for a retry: (delivery tag, due at Unix ms).
    retries: Vec<(u64, i64)>,
}

/// The consumer side of the broker, plus the outbox it is fed from.
pub struct BrokerQueue {
    link: Arc<Link>,
    /// The outbox table (`recs_queue`) as the store sees it.
    outbox: Arc<dyn EventQueue>,
    prefetch: u16,
    consumer_tag: String,
    subscription: Mutex<Option<Subscription>>,
    generations: std::sync::atomic::AtomicI64,
}

fn storage(e: BrokerError) -> StorageError {
    StorageError::Config(e.to_string())
}

fn header_i64(headers: Option<&FieldTable>, name: &str) -> Option<i64> {
    match headers?.inner().get(name)? {
        AMQPValue::LongLongInt(v) => Some(*v),
        AMQPValue::LongInt(v) => Some(i64::from(*v)),
        AMQPValue::LongUInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortUInt(v) => Some(i64::from(*v)),
        AMQPValue::Timestamp(v) => i64::try_from(*v).ok(),
        _ => None,
    }
}

/// The reason and time (Unix ms) of the last dead-lettering, from `x-death`.
fn death(headers: Option<&FieldTable>) -> (String, Option<i64>) {
    let Some(AMQPValue::FieldArray(deaths)) = headers.and_then(|h| h.inner().get("x-death")) else {
        return ("dead-lettered".into(), None);
    };
    let Some(AMQPValue::FieldTable(first)) = deaths.as_slice().first() else {
        return ("dead-lettered".into(), None);
    };
    let reason = match first.inner().get("reason") {
        Some(AMQPValue::LongString(s)) => s.to_string(),
        Some(AMQPValue::ShortString(s)) => s.to_string(),
        _ => "dead-lettered".into(),
    };
    let time = header_i64(Some(first), "time").map(|s| s * 1000);
    (format!("broker: {reason}"), time)
}

fn message_of(d: &AmqpDelivery) -> Option<Message> {
    let key = d.properties.message_id().as_ref()?.as_str().to_string();
    Some(Message {
        kind: d
            .properties
            .kind()
            .as_ref()
            .map_or_else(|| "event".into(), |k| k.to_string()),
        key,
        // Not UTF-8: the worker cannot decode it and it ends in the dead letters.
        payload: String::from_utf8_lossy(&d.data).into_owned(),
    })
}

impl BrokerQueue {
    pub fn new(link: Arc<Link>, outbox: Arc<dyn EventQueue>, batch: usize, node: &str) -> Self {
        Self {
            link,
            outbox,
            prefetch: (batch * 2).clamp(1, u16::MAX as usize) as u16,
            consumer_tag: format!("mixtape-server {node}"),
            subscription: Mutex::new(None),
            generations: Default::default(),
        }
    }

    fn subscribe(&self) -> Result<Subscription, BrokerError> {
        let channel = self.link.channel()?;
        let queue = self.link.names.queue.clone();
        let tag = self.consumer_tag.clone();
        let prefetch = self.prefetch;
        let ch = channel.clone();
        let consumer = self.link.block_on(async move {
            ch.basic_qos(prefetch, BasicQosOptions::default()).await?;
            Ok(ch
                .basic_consume(
                    queue.as_str().into(),
                    tag.as_str().into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?)
        })?;
        let generation = self
            .generations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        tracing::info!(queue = %self.link.names.queue, "consuming from the broker (single active consumer)");
        Ok(Subscription {
            generation,
            channel,
            consumer,
            retries: Vec::new(),
        })
    }

    /// Ends the subscription after a failure; what it held comes back from the broker.
    fn lost(&self, slot: &mut Option<Subscription>, error: BrokerError) {
        *slot = None;
        if !matches!(error, BrokerError::Down(_)) {
            self.link.failed(&error);
        }
    }

    fn split(&self, tag: i64) -> (i64, u64) {
        (tag >> TAG_BITS, (tag & ((1i64 << TAG_BITS) - 1)) as u64)
    }

    fn to_delivery(&self, generation: i64, d: &AmqpDelivery) -> Option<Delivery> {
        let headers = d.properties.headers().as_ref();
        Some(Delivery {
            tag: (generation << TAG_BITS) | (d.delivery_tag as i64 & ((1i64 << TAG_BITS) - 1)),
            message: message_of(d)?,
            attempts: header_i64(headers, "x-delivery-count")
                .unwrap_or(0)
                .clamp(0, u32::MAX as i64) as u32,
            enqueued_at_ms: header_i64(headers, ENQUEUED_HEADER).unwrap_or(0),
        })
    }

    /// Runs `f` on a short-lived channel (admin views): None when the broker is unreachable.
    fn with_channel<T>(
        &self,
        f: impl AsyncFnOnce(&Channel) -> Result<T, BrokerError>,
    ) -> Result<T, BrokerError> {
        let ch = self.link.channel()?;
        let out = self.link.block_on(async {
            let out = f(&ch).await;
            // Closing returns whatever a peek took (unacked) to its queue.
            let _ = ch.close(200, "done".into()).await;
            out
        });
        if let Err(e) = &out
            && !matches!(e, BrokerError::Down(_))
        {
            self.link.failed(e);
        }
        out
    }

    fn broker_stats(&self) -> BrokerStats {
        let names = self.link.names.clone();
        match self.with_channel(async |ch| {
            let (ready, consumers) = topology::counts(ch, &names.queue).await?;
            let (dead, _) = topology::counts(ch, &names.dead_queue).await?;
            Ok((ready, consumers, dead))
        }) {
            Ok((ready, consumers, dead)) => BrokerStats {
                connected: true,
                outbox: 0,
                ready: u64::from(ready),
                consumers,
                dead_letters: u64::from(dead),
            },
            Err(_) => BrokerStats::default(),
        }
    }
}

impl EventQueue for BrokerQueue {
    /// Into the outbox, like an event's own message: the relay publishes it.
    fn publish(&self, message: &Message, now_ms: i64) -> StorageResult<i64> {
        self.outbox.publish(message, now_ms)
    }

    fn fetch(&self, max: usize, now_ms: i64) -> StorageResult<Vec<Delivery>> {
        let mut slot = self.subscription.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            match self.subscribe() {
                Ok(s) => *slot = Some(s),
                Err(e) => {
                    self.lost(&mut slot, e);
                    // The worker polls again soon; the link's backoff paces the reconnects.
                    std::thread::sleep(self.link.retry_in().min(Duration::from_millis(500)));
                    return Ok(Vec::new());
                }
            }
        }
        let sub = slot.as_mut().expect("subscribed above");
        // Retries whose backoff is over go back to the broker, which delivers them again.
        let (due, waiting): (Vec<_>, Vec<_>) =
            sub.retries.iter().partition(|(_, at)| *at <= now_ms);
        sub.retries = waiting;
        let channel = sub.channel.clone();
        let consumer = &mut sub.consumer;
        let got = self.link.block_on(async move {
            for (tag, _) in due {
                channel
                    .basic_nack(
                        tag,
                        BasicNackOptions {
                            multiple: false,
                            requeue: true,
                        },
                    )
                    .await?;
            }
            let mut got = Vec::new();
            match tokio::time::timeout(FIRST_WAIT, consumer.next()).await {
                Err(_) => return Ok(got),
                Ok(None) => return Err(BrokerError::Refused("the consumer was cancelled".into())),
                Ok(Some(d)) => got.push(d?),
            }
            // Then whatever is already here, without waiting.
            while got.len() < max {
                match tokio::time::timeout(Duration::ZERO, consumer.next()).await {
                    Ok(Some(d)) => got.push(d?),
                    Ok(None) => break,
                    Err(_) => break,
                }
            }
            Ok(got)
        });
        let got = match got {
            Ok(got) => got,
            Err(e) => {
                self.lost(&mut slot, e);
                return Ok(Vec::new());
            }
        };
        let generation = sub.generation;
        let mut out = Vec::with_capacity(got.len());
        let mut keyless = Vec::new();
        for d in &got {
            match self.to_delivery(generation, d) {
                Some(delivery) => out.push(delivery),
                None => keyless.push(d.delivery_tag),
            }
        }
        if !keyless.is_empty() {
            // Without a key it cannot be deduplicated: straight to the dead letters.
            tracing::warn!(
                count = keyless.len(),
                "broker messages without message_id dead-lettered"
            );
            let ch = sub.channel.clone();
            let rejected = self.link.block_on(async move {
                for tag in keyless {
                    ch.basic_reject(tag, BasicRejectOptions { requeue: false })
                        .await?;
                }
                Ok(())
            });
            if let Err(e) = rejected {
                self.lost(&mut slot, e);
                return Ok(Vec::new());
            }
        }
        Ok(out)
    }

    fn ack(&self, tags: &[i64]) -> StorageResult<()> {
        let mut slot = self.subscription.lock().unwrap_or_else(|e| e.into_inner());
        let Some(sub) = slot.as_ref() else {
            return Ok(());
        };
        let current: Vec<u64> = tags
            .iter()
            .map(|t| self.split(*t))
            .filter(|(g, _)| *g == sub.generation)
            .map(|(_, t)| t)
            .collect();
        if current.len() < tags.len() {
            tracing::debug!(
                stale = tags.len() - current.len(),
                "acks for a closed subscription dropped: the broker delivers those again"
            );
        }
        let ch = sub.channel.clone();
        let acked = self.link.block_on(async move {
            for tag in current {
                ch.basic_ack(tag, BasicAckOptions { multiple: false })
                    .await?;
            }
            Ok(())
        });
        if let Err(e) = acked {
            // The work committed; the redelivery will be a duplicate, which changes nothing.
            self.lost(&mut slot, e);
        }
        Ok(())
    }

    fn retry(&self, tag: i64, _error: &str, not_before_ms: i64) -> StorageResult<()> {
        let mut slot = self.subscription.lock().unwrap_or_else(|e| e.into_inner());
        let (generation, tag) = self.split(tag);
        if let Some(sub) = slot.as_mut()
            && sub.generation == generation
        {
            sub.retries.push((tag, not_before_ms));
        }
        Ok(())
    }

    fn dead_letter(&self, tag: i64, error: &str, _now_ms: i64) -> StorageResult<()> {
        let mut slot = self.subscription.lock().unwrap_or_else(|e| e.into_inner());
        let (generation, tag) = self.split(tag);
        let Some(sub) = slot.as_ref().filter(|s| s.generation == generation) else {
            return Ok(());
        };
        tracing::warn!(
            error,
            "recommendation event rejected into the broker's dead letters"
        );
        let ch = sub.channel.clone();
        let rejected = self.link.block_on(async move {
            ch.basic_reject(tag, BasicRejectOptions { requeue: false })
                .await?;
            Ok(())
        });
        if let Err(e) = rejected {
            self.lost(&mut slot, e);
        }
        Ok(())
    }

    fn stats(&self) -> StorageResult<QueueStats> {
        let table = self.outbox.stats()?;
        let mut broker = self.broker_stats();
        broker.outbox = table.depth;
        Ok(QueueStats {
            depth: table.depth + broker.ready,
            retrying: table.retrying,
            oldest_enqueued_at_ms: table.oldest_enqueued_at_ms,
            dead_letters: table.dead_letters + broker.dead_letters,
            broker: Some(broker),
        })
    }

    fn dead_letters(&self, limit: u32) -> StorageResult<Vec<DeadLetter>> {
        let mut out = self.outbox.dead_letters(limit)?;
        let dead_queue = self.link.names.dead_queue.clone();
        let peeked = self.with_channel(async |ch| {
            let mut seen = Vec::new();
            while seen.len() < limit as usize {
                // Not acknowledged: closing the channel puts them back.
                match ch
                    .basic_get(
                        dead_queue.as_str().into(),
                        BasicGetOptions { no_ack: false },
                    )
                    .await?
                {
                    Some(m) => seen.push(m.delivery),
                    None => break,
                }
            }
            Ok(seen)
        });
        // The broker's letters are listed only when it answers.
        for d in peeked.unwrap_or_default() {
            let headers = d.properties.headers().as_ref();
            let (last_error, dead_at) = death(headers);
            let Some(message) = message_of(&d) else {
                continue;
            };
            out.push(DeadLetter {
                tag: d.delivery_tag as i64,
                kind: message.kind,
                key: message.key,
                payload: message.payload,
                attempts: header_i64(headers, "x-delivery-count")
                    .unwrap_or(0)
                    .clamp(0, u32::MAX as i64) as u32,
                last_error,
                enqueued_at_ms: header_i64(headers, ENQUEUED_HEADER).unwrap_or(0),
                dead_at_ms: dead_at.unwrap_or(0),
            });
        }
        out.sort_by_key(|d| std::cmp::Reverse(d.dead_at_ms));
        out.truncate(limit as usize);
        Ok(out)
    }

    fn requeue_dead_letters(&self, now_ms: i64) -> StorageResult<u64> {
        let from_table = self.outbox.requeue_dead_letters(now_ms)?;
        let names = self.link.names.clone();
        let from_broker = self
            .with_channel(async |ch| {
                let publisher = confirming(ch.clone()).await?;
                let mut moved = 0u64;
                while let Some(m) = ch
                    .basic_get(
                        names.dead_queue.as_str().into(),
                        BasicGetOptions { no_ack: false },
                    )
                    .await?
                {
                    let d = m.delivery;
                    // Back into the queue with a fresh delivery count, then (confirmed) out of
                    // the dead letters: a failure in between leaves a copy in both.
                    let mut props = d.properties.clone();
                    if let Some(headers) = props.headers().clone() {
                        let mut kept = FieldTable::default();
                        for (k, v) in &headers {
                            if !matches!(k.as_str(), "x-death" | "x-delivery-count") {
                                kept.insert(k.clone(), v.clone());
                            }
                        }
                        props = props.with_headers(kept);
                    }
                    publish_confirmed(
                        &publisher,
                        &names.queue,
                        std::iter::once((d.data.as_slice(), props)),
                    )
                    .await?;
                    ch.basic_ack(d.delivery_tag, BasicAckOptions { multiple: false })
                        .await?;
                    moved += 1;
                }
                Ok(moved)
            })
            .map_err(storage)?;
        Ok(from_table + from_broker)
    }

    fn release(&self) {
        let mut slot = self.subscription.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sub) = slot.take() {
            // Unacked deliveries go back to the queue, for the next lease holder.
            let _ = self.link.block_on(async move {
                let _ = sub.channel.close(200, "released".into()).await;
                Ok(())
            });
        }
    }
}
