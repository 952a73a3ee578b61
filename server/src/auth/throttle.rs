//! Login throttling without lockouts.
//!
//! Three counters see every failed check of a password or token:
//! - the **client**: (user, address, mechanism). Its first `CLIENT_FREE_FAILURES` failures cost
//!   nothing; after that it waits a delay that doubles with each failure (1 s, 2 s, 4 s, … up
//!   to 15 min), and attempts inside the delay are refused (429). This is the only counter
//!   that refuses, so a correct password from a client with no failures is never refused.
//! - the **user** (every address) and the **address** (every user): past their budget they
//!   only slow failures down (the wrong-password answer waits, up to `MAX_SLOWDOWN`); a success
//!   is never delayed, so a flood from one address (or a proxy shared by everyone) cannot lock
//!   anybody out.
//!
//! An attempt is reserved before it is evaluated (`Throttle::begin`, under one lock), so N
//! parallel guesses evaluate at most the client's free budget: the rest are refused before any
//! hashing. Counters are forgotten `FORGET_AFTER` after their last failure.
//!
//! With several nodes the counters live in Redis (`shared_state::throttle`, same rules); these
//! in-process ones are the fallback while Redis does not answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which credential a client presented. A phone app sending a wrong Subsonic token over and
/// over does not hold up its owner's login password or the Subsonic password of other apps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    Login,
    SubsonicPassword,
    SubsonicToken,
}

pub const CLIENT_FREE_FAILURES: u32 = 5;
pub const CLIENT_FIRST_DELAY: Duration = Duration::from_secs(1);
pub const CLIENT_MAX_DELAY: Duration = Duration::from_secs(15 * 60);
pub const USER_FREE_FAILURES: u32 = 20;
pub const ADDRESS_FREE_FAILURES: u32 = 20;
const FIRST_SLOWDOWN: Duration = Duration::from_millis(250);
pub const MAX_SLOWDOWN: Duration = Duration::from_secs(8);
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Past this many keys in one map, forgotten ones are dropped (bounds memory under a flood of
/// made-up names; each key costs the attacker one evaluated attempt).
const PRUNE_ABOVE: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    user: String,
    address: String,
    mechanism: Mechanism,
}

#[derive(Debug, Default)]
struct Counter {
    failures: u32,
    in_flight: u32,
    blocked_until: Option<Instant>,
    last_failure: Option<Instant>,
}

impl Counter {
    fn forgotten(&self, now: Instant) -> bool {
        self.in_flight == 0
            && self
                .last_failure
                .is_none_or(|at| now.duration_since(at) >= FORGET_AFTER)
    }

    /// Forgets failures older than `FORGET_AFTER`.
    fn refresh(&mut self, now: Instant) {
        if self
            .last_failure
            .is_some_and(|at| now.duration_since(at) >= FORGET_AFTER)
        {
            self.failures = 0;
            self.blocked_until = None;
            self.last_failure = None;
        }
    }

    fn fail(&mut self, now: Instant) {
        self.refresh(now);
        self.failures = self.failures.saturating_add(1);
        self.last_failure = Some(now);
    }
}

#[derive(Default)]
struct Counters {
    clients: HashMap<ClientKey, Counter>,
    users: HashMap<String, Counter>,
    addresses: HashMap<String, Counter>,
}

fn prune<K>(map: &mut HashMap<K, Counter>, now: Instant) {
    if map.len() > PRUNE_ABOVE {
        map.retain(|_, c| !c.forgotten(now));
    }
}

/// `first`, doubled for each step past zero, at most `max`.
fn doubling(first: Duration, steps: u32, max: Duration) -> Duration {
    first
        .checked_mul(1u32.checked_shl(steps).unwrap_or(u32::MAX))
        .map_or(max, |d| d.min(max))
}

/// How long the answer to a failure waits when a shared budget (`free`) is spent.
pub fn slowdown(failures: u32, free: u32) -> Duration {
    match failures.checked_sub(free + 1) {
        None => Duration::ZERO,
        Some(steps) => doubling(FIRST_SLOWDOWN, steps, MAX_SLOWDOWN),
    }
}

#[derive(Default)]
pub struct Throttle {
    counters: Mutex<Counters>,
}

impl Throttle {
    /// Reserves one evaluation for this client, or says how many seconds it must wait.
    pub fn begin(
        self: &Arc<Self>,
        user: &str,
        address: &str,
        mechanism: Mechanism,
    ) -> Result<Attempt, u64> {
        let key = ClientKey {
            user: user.to_lowercase(),
            address: address.to_string(),
            mechanism,
        };
        let now = Instant::now();
        let mut counters = self.lock();
        prune(&mut counters.clients, now);
        let client = counters.clients.entry(key.clone()).or_default();
        client.refresh(now);
        if let Some(wait) = client
            .blocked_until
            .and_then(|until| until.checked_duration_since(now))
        {
            return Err(wait.as_secs_f64().ceil().max(1.0) as u64);
        }
        // Past the free budget, one attempt at a time, each after its delay.
        if client.in_flight > 0 && client.failures + client.in_flight >= CLIENT_FREE_FAILURES {
            return Err(1);
        }
        client.in_flight += 1;
        Ok(Attempt {
            throttle: self.clone(),
            key: Some(key),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn release(&self, key: &ClientKey) {
        let mut counters = self.lock();
        if let Some(c) = counters.clients.get_mut(key) {
            c.in_flight = c.in_flight.saturating_sub(1);
            if c.in_flight == 0 && c.failures == 0 {
                counters.clients.remove(key);
            }
        }
    }
}

/// One reserved evaluation. Dropped without an outcome (the server was busy, the store
/// failed), it counts nothing.
pub struct Attempt {
    throttle: Arc<Throttle>,
    key: Option<ClientKey>,
}

impl Attempt {
    /// The credential matched: the client's failures are forgotten.
    pub fn succeeded(mut self) {
        let Some(key) = self.key.take() else { return };
        let mut counters = self.throttle.lock();
        if let Some(c) = counters.clients.get_mut(&key) {
            c.in_flight = c.in_flight.saturating_sub(1);
            c.failures = 0;
            c.blocked_until = None;
            c.last_failure = None;
            if c.in_flight == 0 {
                counters.clients.remove(&key);
            }
        }
    }

    /// The credential did not match. Returns how long the answer should wait (the user's or
    /// the address's budget is spent).
    pub fn failed(mut self) -> Duration {
        let Some(key) = self.key.take() else {
            return Duration::ZERO;
        };
        let now = Instant::now();
        let mut counters = self.throttle.lock();
        let counters = &mut *counters;
        let client = counters.clients.entry(key.clone()).or_default();
        client.in_flight = client.in_flight.saturating_sub(1);
        client.fail(now);
        if let Some(steps) = client.failures.checked_sub(CLIENT_FREE_FAILURES) {
            client.blocked_until =
                Some(now + doubling(CLIENT_FIRST_DELAY, steps, CLIENT_MAX_DELAY));
        }
        prune(&mut counters.users, now);
        prune(&mut counters.addresses, now);
        let user = counters.users.entry(key.user).or_default();
        user.fail(now);
        let by_user = slowdown(user.failures, USER_FREE_FAILURES);
        let address = counters.addresses.entry(key.address).or_default();
        address.fail(now);
        let by_address = slowdown(address.failures, ADDRESS_FREE_FAILURES);
        by_user.max(by_address)
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.throttle.release(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> Arc<Throttle> {
        Arc::new(Throttle::default())
    }

    #[test]
    fn parallel_attempts_reserve_at_most_the_free_budget() {
        let t = throttle();
        let held: Vec<_> = (0..60)
            .filter_map(|_| t.begin("victim", "10.0.0.1", Mechanism::Login).ok())
            .collect();
        assert_eq!(held.len(), CLIENT_FREE_FAILURES as usize);
        for a in held {
            a.failed();
        }
        assert!(t.begin("victim", "10.0.0.1", Mechanism::Login).is_err());
    }

    #[test]
    fn failures_grow_a_delay_that_only_the_failing_client_waits() {
        let t = throttle();
        for _ in 0..CLIENT_FREE_FAILURES {
            t.begin("u1", "10.0.0.1", Mechanism::Login)
                .unwrap()
                .failed();
        }
        let wait = t.begin("U1", "10.0.0.1", Mechanism::Login).err().unwrap();
        assert!((1..=2).contains(&wait), "{wait}");
        // Another address, another mechanism, another user: not affected.
        t.begin("u1", "10.0.0.2", Mechanism::Login)
            .unwrap()
            .succeeded();
        t.begin("u1", "10.0.0.1", Mechanism::SubsonicToken)
            .unwrap()
            .succeeded();
        t.begin("u2", "10.0.0.1", Mechanism::Login)
            .unwrap()
            .succeeded();
    }

    #[test]
    fn delays_double_up_to_fifteen_minutes() {
        assert_eq!(
            doubling(CLIENT_FIRST_DELAY, 0, CLIENT_MAX_DELAY).as_secs(),
            1
        );
        assert_eq!(
            doubling(CLIENT_FIRST_DELAY, 3, CLIENT_MAX_DELAY).as_secs(),
            8
        );
        assert_eq!(
            doubling(CLIENT_FIRST_DELAY, 40, CLIENT_MAX_DELAY),
            CLIENT_MAX_DELAY
        );
        assert_eq!(
            slowdown(ADDRESS_FREE_FAILURES, ADDRESS_FREE_FAILURES),
            Duration::ZERO
        );
        assert_eq!(
            slowdown(ADDRESS_FREE_FAILURES + 1, ADDRESS_FREE_FAILURES),
            FIRST_SLOWDOWN
        );
        assert_eq!(slowdown(u32::MAX, ADDRESS_FREE_FAILURES), MAX_SLOWDOWN);
    }

    #[test]
    fn a_spent_address_budget_slows_failures_and_refuses_no_one() {
        let t = throttle();
        let mut slowed = Duration::ZERO;
        for i in 0..ADDRESS_FREE_FAILURES + 3 {
            slowed = t
                .begin(&format!("nobody{i}"), "10.0.0.9", Mechanism::Login)
                .unwrap()
                .failed();
        }
        assert!(slowed > Duration::ZERO);
        t.begin("admin", "10.0.0.9", Mechanism::Login)
            .unwrap()
            .succeeded();
    }

    #[test]
    fn success_forgets_the_clients_failures_and_a_dropped_attempt_counts_nothing() {
        let t = throttle();
        for _ in 0..CLIENT_FREE_FAILURES - 1 {
            t.begin("u", "a", Mechanism::Login).unwrap().failed();
        }
        drop(t.begin("u", "a", Mechanism::Login).unwrap());
        t.begin("u", "a", Mechanism::Login).unwrap().succeeded();
        assert!(t.lock().clients.is_empty());
        for _ in 0..CLIENT_FREE_FAILURES - 1 {
            t.begin("u", "a", Mechanism::Login).unwrap().failed();
        }
        assert!(t.begin("u", "a", Mechanism::Login).is_ok());
    }
}
