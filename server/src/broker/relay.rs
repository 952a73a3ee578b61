//! The outbox relay: outbox rows → the broker's queue, deleted only once confirmed.
//!
//! Every node runs one. Claims use `FOR UPDATE SKIP LOCKED` (`Outbox::relay_batch`), so relays
//! on several nodes share the rows without waiting for each other and never publish a row
//! another relay holds; a row is published again only after a failure (a crash between the
//! confirm and the commit, a refused batch), and the applier deduplicates by key.

use super::{BrokerError, Link};
use crate::background::BackgroundThread;
use crate::storage::queue::{Delivery, Outbox};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Rows per claim (one transaction, one round of confirms).
pub const BATCH: usize = 500;
/// How long an idle relay waits before looking at the outbox again.
pub const IDLE_POLL: Duration = Duration::from_millis(20);

/// The header carrying when the event entered the outbox (Unix ms), for the lag figures.
pub const ENQUEUED_HEADER: &str = "x-mixtape-enqueued-at-ms";

/// The AMQP properties of an outbox row: persistent, `message_id` = the event key.
pub fn properties(d: &Delivery) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(
        ENQUEUED_HEADER.into(),
        AMQPValue::LongLongInt(d.enqueued_at_ms),
    );
    BasicProperties::default()
        .with_message_id(d.message.key.as_str().into())
        .with_type(d.message.kind.as_str().into())
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
        .with_headers(headers)
}

/// A channel in confirm mode.
pub async fn confirming(ch: Channel) -> Result<Channel, BrokerError> {
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    Ok(ch)
}

/// Publishes `rows` to `queue` (mandatory, so an unroutable message comes back) and waits for
/// every confirm: Ok only when the broker has taken all of them.
pub async fn publish_confirmed<'a>(
    ch: &Channel,
    queue: &str,
    rows: impl Iterator<Item = (&'a [u8], BasicProperties)>,
) -> Result<usize, BrokerError> {
    let mut pending = Vec::new();
    for (body, props) in rows {
        pending.push(
            ch.basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                body,
                props,
            )
            .await?,
        );
    }
    let n = pending.len();
    for confirm in pending {
        match confirm.await? {
            Confirmation::Ack(None) => {}
            Confirmation::Ack(Some(returned)) => {
                return Err(BrokerError::Refused(format!(
                    "unroutable: {}",
                    returned.reply_text
                )));
            }
            Confirmation::Nack(_) => {
                return Err(BrokerError::Refused(
                    "negative confirm (queue full, reject-publish?)".into(),
                ));
            }
            Confirmation::NotRequested => {
                return Err(BrokerError::Refused("the channel is not confirming".into()));
            }
        }
    }
    Ok(n)
}

/// The relay thread; [`Relay::stop`] ends it after the batch in hand.
pub struct Relay(BackgroundThread);

impl Relay {
    pub fn spawn(link: Arc<Link>, outbox: Arc<dyn Outbox>) -> Self {
        Self(BackgroundThread::spawn("broker-relay", move |stop| {
            run(&link, outbox.as_ref(), stop)
        }))
    }

    pub fn stop(self) {
        self.0.stop();
    }
}

fn run(link: &Link, outbox: &dyn Outbox, stop: &AtomicBool) {
    let mut channel: Option<Channel> = None;
    let mut storage_failing = false;
    while !stop.load(Ordering::Relaxed) {
        let ch = match channel.take() {
            Some(ch) if ch.status().connected() => ch,
            _ => match link.channel().and_then(|ch| link.block_on(confirming(ch))) {
                Ok(ch) => ch,
                Err(e) => {
                    if !matches!(e, BrokerError::Down(_)) {
                        link.failed(&e);
                    }
                    std::thread::sleep(link.retry_in().clamp(IDLE_POLL, Duration::from_secs(1)));
                    continue;
                }
            },
        };
        let started = Instant::now();
        let mut failure = None;
        let outcome = outbox.relay_batch(BATCH, &mut |rows| {
            let sent = link.block_on(publish_confirmed(
                &ch,
                &link.names.queue,
                rows.iter()
                    .map(|d| (d.message.payload.as_bytes(), properties(d))),
            ));
            sent.map(|_| ()).map_err(|e| {
                let reason = e.to_string();
                failure = Some(e);
                reason
            })
        });
        match outcome {
            Ok(Ok(0)) => {
                storage_failing = false;
                channel = Some(ch);
                std::thread::sleep(IDLE_POLL);
            }
            Ok(Ok(n)) => {
                storage_failing = false;
                channel = Some(ch);
                metrics::counter!("mixtape_broker_relayed_total").increment(n as u64);
                metrics::histogram!("mixtape_broker_relay_batch_seconds")
                    .record(started.elapsed().as_secs_f64());
            }
            Ok(Err(_)) => {
                // The rows stay in the outbox; a new channel (or connection) next round.
                if let Some(e) = failure {
                    link.failed(&e);
                }
                std::thread::sleep(link.retry_in().clamp(IDLE_POLL, Duration::from_secs(1)));
            }
            Err(e) => {
                if !storage_failing {
                    tracing::warn!(error = %e, "outbox relay cannot read the outbox; retrying");
                    storage_failing = true;
                }
                channel = Some(ch);
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
}
