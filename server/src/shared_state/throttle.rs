//! The login throttle's counters in Redis, so every node sees every failure: 5 failures spread
//! over 3 nodes count as 5. Same rules as the in-process [`crate::auth::throttle`] (each step
//! is one Lua script, so it is atomic across nodes); counters expire `FORGET_AFTER` after their
//! last failure, which is when the in-process ones are forgotten too.

use super::{RedisCallError, SharedState};
use crate::auth::throttle::{self as rules, Mechanism};
use std::time::Duration;

/// Reserves one evaluation: `0` granted, otherwise the milliseconds to wait.
const BEGIN: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local f = tonumber(redis.call('HGET', KEYS[1], 'f') or '0')
local i = tonumber(redis.call('HGET', KEYS[1], 'i') or '0')
local b = tonumber(redis.call('HGET', KEYS[1], 'b') or '0')
if b > now then return b - now end
if i > 0 and f + i >= tonumber(ARGV[1]) then return 1000 end
redis.call('HINCRBY', KEYS[1], 'i', 1)
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 0
";

/// A matching credential: the client's failures are forgotten.
const SUCCEEDED: &str = r"
local i = redis.call('HINCRBY', KEYS[1], 'i', -1)
if i <= 0 then redis.call('DEL', KEYS[1]) else redis.call('HSET', KEYS[1], 'f', 0, 'b', 0) end
return 0
";

/// An attempt given up without an outcome: counts nothing.
const RELEASE: &str = r"
local i = redis.call('HINCRBY', KEYS[1], 'i', -1)
local f = tonumber(redis.call('HGET', KEYS[1], 'f') or '0')
if i <= 0 and f == 0 then redis.call('DEL', KEYS[1]) elseif i < 0 then redis.call('HSET', KEYS[1], 'i', 0) end
return 0
";

/// A failure: the client's count and delay, then the user's and the address's counts.
const FAILED: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local i = redis.call('HINCRBY', KEYS[1], 'i', -1)
if i < 0 then redis.call('HSET', KEYS[1], 'i', 0) end
local f = redis.call('HINCRBY', KEYS[1], 'f', 1)
local free = tonumber(ARGV[1])
if f >= free then
  local d = tonumber(ARGV[3])
  local max = tonumber(ARGV[4])
  for _ = 1, f - free do
    d = d * 2
    if d >= max then d = max break end
  end
  if d > max then d = max end
  redis.call('HSET', KEYS[1], 'b', now + d)
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
local u = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
local a = redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], ARGV[2])
return {u, a}
";

struct Scripts {
    begin: redis::Script,
    succeeded: redis::Script,
    release: redis::Script,
    failed: redis::Script,
}

/// The shared counters. Every call may fail (Redis down): the caller then uses the
/// in-process throttle.
#[derive(Clone)]
pub struct RedisThrottle {
    state: SharedState,
    scripts: std::sync::Arc<Scripts>,
}

fn digest(parts: &[&str]) -> String {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(&[0]);
    }
    h.finalize().to_hex()[..32].to_string()
}

fn mechanism_name(m: Mechanism) -> &'static str {
    match m {
        Mechanism::Login => "login",
        Mechanism::SubsonicPassword => "subsonic-password",
        Mechanism::SubsonicToken => "subsonic-token",
    }
}

impl RedisThrottle {
    pub fn new(state: SharedState) -> Self {
        Self {
            state,
            scripts: std::sync::Arc::new(Scripts {
                begin: redis::Script::new(BEGIN),
                succeeded: redis::Script::new(SUCCEEDED),
                release: redis::Script::new(RELEASE),
                failed: redis::Script::new(FAILED),
            }),
        }
    }

    /// Reserves one evaluation for this client: `Ok(Ok(attempt))`, `Ok(Err(seconds))` to wait,
    /// or `Err` when Redis does not answer.
    pub async fn begin(
        &self,
        user: &str,
        address: &str,
        mechanism: Mechanism,
    ) -> Result<Result<RedisAttempt, u64>, RedisCallError> {
        if !self.state.usable() {
            return Err(RedisCallError::Down);
        }
        // User names are whatever a client sends: hashed, so keys stay short and unambiguous.
        let user = user.to_lowercase();
        let client = self.state.key(&format!(
            "throttle:c:{}",
            digest(&[mechanism_name(mechanism), &user, address])
        ));
        let script = &self.scripts.begin;
        let key = client.clone();
        let wait_ms: i64 = self
            .state
            .call(|mut conn| async move {
                script
                    .key(key)
                    .arg(rules::CLIENT_FREE_FAILURES)
                    .arg(rules::FORGET_AFTER.as_secs())
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        if wait_ms > 0 {
            return Ok(Err((wait_ms as u64).div_ceil(1000).max(1)));
        }
        Ok(Ok(RedisAttempt {
            throttle: self.clone(),
            client: Some(client),
            user: self.state.key(&format!("throttle:u:{}", digest(&[&user]))),
            address: self.state.key(&format!("throttle:a:{address}")),
        }))
    }
}

/// One evaluation reserved in Redis. Settled from a blocking thread; dropped without an
/// outcome, it is released in the background.
pub struct RedisAttempt {
    throttle: RedisThrottle,
    client: Option<String>,
    user: String,
    address: String,
}

impl RedisAttempt {
    /// The credential matched. Blocking: call it off the async threads.
    pub fn succeeded(mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        let script = &self.throttle.scripts.succeeded;
        let result = self.throttle.state.call_blocking(|mut conn| async move {
            script.key(client).invoke_async::<i64>(&mut conn).await
        });
        if let Err(e) = result {
            tracing::debug!(error = %e, "cannot clear a login throttle counter in redis");
        }
    }

    /// The credential did not match: how long the answer waits. Blocking. When Redis does not
    /// answer the failure is counted in `fallback` (this node's own counters) instead.
    pub fn failed(mut self, fallback: impl FnOnce() -> Option<rules::Attempt>) -> Duration {
        let Some(client) = self.client.take() else {
            return Duration::ZERO;
        };
        let script = &self.throttle.scripts.failed;
        let (user, address) = (self.user.clone(), self.address.clone());
        let result = self.throttle.state.call_blocking(|mut conn| async move {
            script
                .key(client)
                .key(user)
                .key(address)
                .arg(rules::CLIENT_FREE_FAILURES)
                .arg(rules::FORGET_AFTER.as_secs())
                .arg(rules::CLIENT_FIRST_DELAY.as_millis() as u64)
                .arg(rules::CLIENT_MAX_DELAY.as_millis() as u64)
                .invoke_async::<(u32, u32)>(&mut conn)
                .await
        });
        match result {
            Ok((by_user, by_address)) => rules::slowdown(by_user, rules::USER_FREE_FAILURES)
                .max(rules::slowdown(by_address, rules::ADDRESS_FREE_FAILURES)),
            Err(e) => {
                tracing::debug!(error = %e, "cannot count a failed login in redis; counting it on this node");
                metrics::counter!("mixtape_redis_fallback_total").increment(1);
                fallback().map_or(Duration::ZERO, rules::Attempt::failed)
            }
        }
    }
}

impl Drop for RedisAttempt {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let throttle = self.throttle.clone();
            self.throttle.state.spawn(async move {
                let script = &throttle.scripts.release;
                let _ = throttle
                    .state
                    .call(|mut conn| async move {
                        script.key(client).invoke_async::<i64>(&mut conn).await
                    })
                    .await;
            });
        }
    }
}
