//! Read routing: the replicas' health and replay position, and users' last write positions.

use super::{Pool, read_generation};
use mixtape_shared::UserId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a user's reads stick to replicas that have replayed their last write (GitLab's
/// sticking keeps 30 s too): past that, any replica within the lag bound has it.
pub const STICKY_FOR: Duration = Duration::from_secs(30);

/// Where each user's last write landed in the primary's WAL, shared by every node.
pub trait WriteMarks: Send + Sync + 'static {
    /// Records that `user` wrote at `lsn` (keeping the highest).
    fn mark(&self, user: UserId, lsn: u64);
    /// The user's last write position within [`STICKY_FOR`], if known.
    fn last_write(&self, user: UserId) -> Option<u64>;
    /// False when the marks live in this process only: another node's write is unknown, so
    /// user reads must go to the primary.
    fn is_shared(&self) -> bool;
}

/// Marks kept in this process.
#[derive(Default)]
pub struct LocalWriteMarks {
    marks: Mutex<HashMap<UserId, (u64, Instant)>>,
    shared: bool,
}

impl LocalWriteMarks {
    /// For a deployment of several nodes without Redis: user reads stay on the primary.
    pub fn unshared() -> Self {
        Self::default()
    }

    /// For one node (or tests): its own marks are all the marks there are.
    pub fn single_node() -> Self {
        Self {
            shared: true,
            ..Self::default()
        }
    }
}

impl WriteMarks for LocalWriteMarks {
    fn mark(&self, user: UserId, lsn: u64) {
        let mut marks = self.marks.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        marks.retain(|_, (_, at)| now.duration_since(*at) < STICKY_FOR);
        let entry = marks.entry(user).or_insert((lsn, now));
        *entry = (entry.0.max(lsn), now);
    }
    fn last_write(&self, user: UserId) -> Option<u64> {
        let marks = self.marks.lock().unwrap_or_else(|e| e.into_inner());
        marks
            .get(&user)
            .filter(|(_, at)| at.elapsed() < STICKY_FOR)
            .map(|(lsn, _)| *lsn)
    }
    fn is_shared(&self) -> bool {
        self.shared
    }
}

/// `X/Y` (two hex halves) as one number.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

/// A URL without its password, for logs and metric labels.
pub fn redact(url: &str) -> String {
    match url.parse::<postgres::Config>() {
        Ok(c) => {
            let host = c
                .get_hosts()
                .first()
                .map(|h| match h {
                    postgres::config::Host::Tcp(h) => h.clone(),
                    postgres::config::Host::Unix(p) => p.display().to_string(),
                })
                .unwrap_or_default();
            let port = c.get_ports().first().copied().unwrap_or(5432);
            format!("{host}:{port}")
        }
        Err(_) => "replica".into(),
    }
}

pub(crate) struct Replica {
    pub(crate) name: String,
    pub(crate) pool: Pool,
    up: AtomicBool,
    /// The replica's `pg_last_wal_replay_lsn()` when last checked (only grows).
    replayed: AtomicU64,
    lag_bytes: AtomicU64,
}

impl Replica {
    pub(crate) fn new(name: String, pool: Pool) -> Self {
        Self {
            name,
            pool,
            up: AtomicBool::new(false),
            replayed: AtomicU64::new(0),
            lag_bytes: AtomicU64::new(u64::MAX),
        }
    }

    pub(crate) fn usable(&self, lsn: u64, max_lag: u64) -> bool {
        self.up.load(Ordering::SeqCst)
            && self.lag_bytes.load(Ordering::SeqCst) <= max_lag
            && self.replayed.load(Ordering::SeqCst) >= lsn
    }

    pub(crate) fn mark_down(&self) {
        if self.up.swap(false, Ordering::SeqCst) {
            tracing::warn!(replica = %self.name, "read replica unreachable; reading from the primary");
        }
    }

    fn check(&self, primary_lsn: u64) {
        let replayed = self.pool.get().ok().and_then(|mut c| {
            c.query_one("SELECT pg_last_wal_replay_lsn()::text", &[])
                .ok()
                .and_then(|row| row.get::<_, Option<String>>(0))
                .and_then(|t| parse_lsn(&t))
        });
        match replayed {
            Some(lsn) => {
                self.replayed.fetch_max(lsn, Ordering::SeqCst);
                let lag = primary_lsn.saturating_sub(lsn);
                self.lag_bytes.store(lag, Ordering::SeqCst);
                metrics::gauge!("mixtape_replica_lag_bytes", "replica" => self.name.clone())
                    .set(lag as f64);
                if !self.up.swap(true, Ordering::SeqCst) {
                    tracing::info!(replica = %self.name, "read replica up");
                }
            }
            None => self.mark_down(),
        }
    }
}

/// Every 250 ms: the primary's catalog generation and WAL position, each replica's replay
/// position. Stops when `stop`'s sender is dropped.
pub(crate) fn spawn_monitor(
    primary: Pool,
    replicas: Vec<Arc<Replica>>,
    generation: Arc<AtomicU64>,
    stop: crossbeam_channel::Receiver<()>,
) {
    let tick = Duration::from_millis(250);
    let run = move || {
        loop {
            if let Ok(mut conn) = primary.get() {
                if let Ok(g) = read_generation(&mut *conn) {
                    generation.fetch_max(g, Ordering::SeqCst);
                }
                if !replicas.is_empty() {
                    let lsn = conn
                        .query_one("SELECT pg_current_wal_lsn()::text", &[])
                        .ok()
                        .and_then(|r| parse_lsn(&r.get::<_, String>(0)));
                    if let Some(lsn) = lsn {
                        for replica in &replicas {
                            replica.check(lsn);
                        }
                    }
                }
            }
            match stop.recv_timeout(tick) {
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
                _ => return,
            }
        }
    };
    std::thread::Builder::new()
        .name("pg-monitor".into())
        .spawn(run)
        .expect("spawn pg monitor");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_halves_combine() {
        assert_eq!(parse_lsn("0/16B3748"), Some(0x16B3748));
        assert_eq!(parse_lsn("1/0"), Some(1 << 32));
        assert_eq!(parse_lsn("nonsense"), None);
    }

    #[test]
    fn local_marks_keep_the_highest_write() {
        let marks = LocalWriteMarks::single_node();
        marks.mark(UserId(1), 10);
        marks.mark(UserId(1), 5);
        assert_eq!(marks.last_write(UserId(1)), Some(10));
        assert_eq!(marks.last_write(UserId(2)), None);
    }
}
