//! The leader loop: the scanner (with its watcher) and the recommendation applier each run on
//! exactly one node at a time, the one holding that work's lease ([`LeaseStore`]).
//!
//! Every node tries each lease it does not hold every second. The scan lease's holder runs the
//! initial full scan, watches the library, takes the scan requests other nodes queue, and
//! publishes its scan status; the recs lease's holder runs the recommendation worker. A lease
//! whose connection is gone is dropped with its work, and the node goes back to trying. The
//! work's writes go through the lease, so a node that lost it cannot commit meanwhile.
//!
//! On the embedded backend the leases are always granted, on the first round, which runs before
//! [`Leader::start`] returns: one node behaves as it did before leases.

use crate::recs::model::Params;
use crate::recs::queue::EventQueue;
use crate::recs::trainer::{TrainedModel, Trainer, TrainerConfig};
use crate::recs::worker::{Worker, WorkerConfig, WorkerStats};
use crate::scanner::watch::{self, LibraryWatcher};
use crate::scanner::{ScanError, Scanner};
use crate::storage::{FencedWriter, Lease, LeaseStore, Work};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a node tries a lease it does not hold, and checks one it holds.
pub const TRY_EVERY: Duration = Duration::from_secs(1);
/// How often the leader looks for scan requests and status changes.
const TICK: Duration = Duration::from_millis(250);
/// The status of a running scan is published at most this often (and always when it ends).
const PUBLISH_EVERY: Duration = Duration::from_millis(500);

/// The recommendation worker (and the trainer), run by the recs lease's holder.
pub struct RecsWork {
    pub queue: Arc<dyn EventQueue>,
    pub params: Params,
    pub cfg: WorkerConfig,
    pub stats: Arc<WorkerStats>,
    /// The batch-trained model's trainer (None: the neighbours alone).
    pub trainer: Option<TrainerWork>,
}

/// What the trainer needs: it reads the store, and stores versions through the lease.
pub struct TrainerWork {
    pub store: Arc<dyn crate::storage::Store>,
    pub model: Arc<TrainedModel>,
    pub cfg: TrainerConfig,
}

pub struct LeaderConfig {
    /// This node's id (recorded with its leases, named in the scan status).
    pub node: String,
    /// Run a full scan on taking the scan lease (it also finishes what a dead leader left).
    pub initial_scan: bool,
    /// Watch the library while holding the scan lease.
    pub watch: bool,
    /// Run the recommendation worker while holding the recs lease (None: never take it).
    pub recs: Option<RecsWork>,
}

/// Which leases this node holds, for tests and `/metrics`.
#[derive(Debug, Default)]
pub struct Held {
    scan: AtomicBool,
    recs: AtomicBool,
}

impl Held {
    pub fn holds(&self, work: Work) -> bool {
        self.flag(work).load(Ordering::SeqCst)
    }

    fn flag(&self, work: Work) -> &AtomicBool {
        match work {
            Work::Scan => &self.scan,
            Work::Recs => &self.recs,
        }
    }

    fn set(&self, work: Work, held: bool) {
        self.flag(work).store(held, Ordering::SeqCst);
        metrics::gauge!("mixtape_lease_held", "work" => work.name()).set(if held {
            1.0
        } else {
            0.0
        });
    }
}

/// The running loop; dropping it (or [`Leader::stop`]) ends it and gives the leases up.
pub struct Leader {
    held: Arc<Held>,
    /// Test hook: a paused loop does nothing, like a stopped (SIGSTOP) process.
    paused: Arc<AtomicBool>,
    stop: Option<crossbeam_channel::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl Leader {
    /// Runs the first round (blocking: it may take leases and start their work), then keeps
    /// going on a thread of its own.
    pub fn start(
        leases: Arc<dyn LeaseStore>,
        scanner: Arc<Scanner>,
        config: LeaderConfig,
    ) -> std::io::Result<Self> {
        let held = Arc::new(Held::default());
        let mut node = Node {
            leases,
            scanner,
            config,
            held: held.clone(),
            scan: None,
            recs: None,
            last_round: None,
        };
        node.tick();
        let paused = Arc::new(AtomicBool::new(false));
        let is_paused = paused.clone();
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let handle = std::thread::Builder::new()
            .name("leader".into())
            .spawn(move || {
                while let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(TICK)
                {
                    if !is_paused.load(Ordering::SeqCst) {
                        node.tick();
                    }
                }
                node.shutdown();
            })?;
        Ok(Self {
            held,
            paused,
            stop: Some(stop),
            handle: Some(handle),
        })
    }

    pub fn holds(&self, work: Work) -> bool {
        self.held.holds(work)
    }

    /// Test hook: a paused loop neither checks nor tries leases, like a stopped process (the
    /// work it started goes on, and fails at its next write once the lease is lost).
    #[doc(hidden)]
    pub fn pause(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
    }

    /// Stops the loop: the recommendation worker finishes the batch in hand, the watcher
    /// stops, the leases are given up (a scan still running keeps its lease until it ends).
    pub fn stop(mut self) {
        self.stop.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        // Disconnecting ends the loop; it shuts its work down on its own thread.
        self.stop.take();
    }
}

struct ScanLead {
    lease: Arc<dyn Lease>,
    _watcher: Option<LibraryWatcher>,
    initial_pending: bool,
    /// Requests taken but not yet started (a scan was running): confirm removals, newest id.
    queued: Option<(bool, i64)>,
    /// The newest request a scan was started for.
    served: i64,
    /// What was last published, to skip publishing the same status again.
    published: Option<(String, i64)>,
    last_publish: Instant,
}

struct RecsLead {
    lease: Arc<dyn Lease>,
    worker: Worker,
    trainer: Option<Trainer>,
}

impl RecsLead {
    fn stop(self) {
        if let Some(t) = self.trainer {
            t.stop();
        }
        self.worker.stop();
    }
}

struct Node {
    leases: Arc<dyn LeaseStore>,
    scanner: Arc<Scanner>,
    config: LeaderConfig,
    held: Arc<Held>,
    scan: Option<ScanLead>,
    recs: Option<RecsLead>,
    last_round: Option<Instant>,
}

impl Node {
    fn tick(&mut self) {
        let round = self.last_round.is_none_or(|t| t.elapsed() >= TRY_EVERY);
        if round {
            self.last_round = Some(Instant::now());
            self.check();
            self.try_take();
            if self.scan.is_none() {
                // Keeps the non-blocking status of this node fresh.
                if let Err(e) = self.scanner.shared_status() {
                    tracing::debug!(error = %e, "reading the scan leader's status");
                }
            }
        }
        if let Some(lead) = &mut self.scan {
            lead.serve(&self.scanner);
        }
    }

    /// Drops leases whose connection is gone, and their work.
    fn check(&mut self) {
        if let Some(lead) = &self.scan
            && !lead.lease.is_held()
        {
            tracing::warn!(node = %self.config.node, "lost the scan lease; no longer scanning");
            self.scanner.follow();
            self.scan = None;
            self.held.set(Work::Scan, false);
        }
        if let Some(lead) = &self.recs
            && !lead.lease.is_held()
        {
            tracing::warn!(node = %self.config.node, "lost the recs lease; stopping the worker");
            if let Some(lead) = self.recs.take() {
                lead.stop();
            }
            self.held.set(Work::Recs, false);
        }
    }

    fn try_take(&mut self) {
        if self.scan.is_none()
            && let Some(lease) = self.try_lease(Work::Scan)
        {
            self.take_scan(lease);
        }
        if self.recs.is_none()
            && self.config.recs.is_some()
            && let Some(lease) = self.try_lease(Work::Recs)
            && let Some(recs) = &self.config.recs
        {
            let writer: Arc<dyn FencedWriter> = lease.clone();
            let worker = Worker::spawn_through(
                writer.clone(),
                recs.queue.clone(),
                recs.params,
                recs.cfg.clone(),
                recs.stats.clone(),
            );
            let trainer = recs
                .trainer
                .as_ref()
                .map(|t| Trainer::spawn(t.store.clone(), writer, t.model.clone(), t.cfg.clone()));
            self.recs = Some(RecsLead {
                lease,
                worker,
                trainer,
            });
            self.held.set(Work::Recs, true);
        }
    }

    fn try_lease(&self, work: Work) -> Option<Arc<dyn Lease>> {
        match self.leases.clone().try_lease(work, &self.config.node) {
            Ok(lease) => lease,
            Err(e) => {
                tracing::warn!(error = %e, work = work.name(), "cannot try the lease");
                None
            }
        }
    }

    fn take_scan(&mut self, lease: Arc<dyn Lease>) {
        // Requests the previous leader already started scans for are not pending any more.
        let served = match self.leases.published_scan_status() {
            Ok(p) => p.map_or(0, |p| p.served_request),
            Err(e) => {
                tracing::warn!(error = %e, "reading the last published scan status");
                0
            }
        };
        self.scanner.lead(lease.clone());
        let watcher = if self.config.watch {
            match watch::watch(self.scanner.clone()) {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot watch the library; changes need POST /api/v1/scan");
                    None
                }
            }
        } else {
            None
        };
        self.scan = Some(ScanLead {
            lease,
            _watcher: watcher,
            initial_pending: self.config.initial_scan,
            queued: None,
            served,
            published: None,
            last_publish: Instant::now(),
        });
        self.held.set(Work::Scan, true);
    }

    fn shutdown(&mut self) {
        if let Some(lead) = self.recs.take() {
            lead.stop();
            self.held.set(Work::Recs, false);
        }
        if self.scan.take().is_some() {
            self.held.set(Work::Scan, false);
        }
    }
}

impl ScanLead {
    /// One leader round: start the scans due, publish the status.
    fn serve(&mut self, scanner: &Arc<Scanner>) {
        if self.initial_pending {
            // A scan at every start also finishes whatever a crash interrupted; a scan still
            // running (from before the lease was lost and taken again) delays it.
            match scanner.spawn_full() {
                Err(ScanError::AlreadyRunning) => {}
                Ok(()) => self.initial_pending = false,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start the initial scan");
                    self.initial_pending = false;
                }
            }
        }
        if self.queued.is_none() && scanner.is_idle_leader() {
            match self.lease.take_scan_requests() {
                Ok(requests) if !requests.is_empty() => {
                    let confirm = requests.iter().any(|r| r.confirm_removals);
                    let newest = requests.iter().map(|r| r.id).max().unwrap_or(0);
                    tracing::info!(
                        requests = requests.len(),
                        confirm,
                        "scan requested by another node"
                    );
                    self.queued = Some((confirm, newest));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot take scan requests"),
            }
        }
        if let Some((confirm, newest)) = self.queued {
            let started = if confirm {
                scanner.spawn_full_confirming_removals()
            } else {
                scanner.spawn_full()
            };
            match started {
                Err(ScanError::AlreadyRunning) => {}
                other => {
                    if let Err(e) = other {
                        tracing::warn!(error = %e, "cannot start a requested scan");
                    }
                    self.queued = None;
                    self.served = self.served.max(newest);
                }
            }
        }
        self.publish(scanner);
    }

    fn publish(&mut self, scanner: &Scanner) {
        let status = scanner.status();
        let json = match serde_json::to_string(&status) {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(error = %e, "scan status");
                return;
            }
        };
        let (same, served_changed) = match &self.published {
            Some((last, served)) => (*last == json, *served != self.served),
            None => (false, true),
        };
        if same && !served_changed {
            return;
        }
        let running = status.state == "running";
        if running && !served_changed && self.last_publish.elapsed() < PUBLISH_EVERY {
            return;
        }
        match self.lease.publish_scan_status(&status, self.served) {
            Ok(()) => {
                self.published = Some((json, self.served));
                self.last_publish = Instant::now();
            }
            Err(e) => tracing::warn!(error = %e, "cannot publish the scan status"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Store;
    use crate::storage::postgres::scratch::ScratchDatabase;
    use crate::storage::postgres::{LocalWriteMarks, PgOptions, PgStore};
    use crate::storage::sqlite::SqliteStore;

    fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(started.elapsed() < within, "{what}: not within {within:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn config(node: &str, initial_scan: bool, recs: Option<RecsWork>) -> LeaderConfig {
        LeaderConfig {
            node: node.into(),
            initial_scan,
            watch: false,
            recs,
        }
    }

    fn recs_work(queue: Arc<dyn EventQueue>) -> RecsWork {
        RecsWork {
            queue,
            params: Params::default(),
            cfg: WorkerConfig::default(),
            stats: Default::default(),
            trainer: None,
        }
    }

    #[test]
    fn a_single_node_holds_every_lease_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("db"), 2).unwrap());
        let scanner = Arc::new(
            Scanner::new(dir.path().join("lib"), store.clone() as Arc<dyn Store>).with_node("n1"),
        );
        let leader = Leader::start(
            store.clone(),
            scanner.clone(),
            config("n1", true, Some(recs_work(store.clone()))),
        )
        .unwrap();
        // The first round ran before start returned: the initial scan is already under way.
        assert!(leader.holds(Work::Scan) && leader.holds(Work::Recs));
        assert!(scanner.is_leader());
        assert!(scanner.status().started_at.is_some());
        wait_until("the initial scan", Duration::from_secs(10), || {
            scanner.status().phase == "done"
        });
        let status = scanner.shared_status().unwrap();
        assert_eq!(status.leader.as_deref(), Some("n1"));
        assert_eq!(status.node, "n1");
        leader.stop();
    }

    struct PgNode {
        store: Arc<PgStore>,
        scanner: Arc<Scanner>,
        leader: Leader,
    }

    /// A node on `db` whose catalog (scanner reads, its queue) is a SQLite store of its own:
    /// what is tested is who leads, not the catalog.
    fn pg_node(db: &ScratchDatabase, name: &str, dir: &std::path::Path) -> PgNode {
        let store = Arc::new(
            PgStore::open(
                &PgOptions::new(db.url()),
                Arc::new(LocalWriteMarks::single_node()),
            )
            .unwrap(),
        );
        let local = Arc::new(SqliteStore::open(&dir.join(format!("{name}.db")), 2).unwrap());
        let scanner = Arc::new(
            Scanner::new(dir.join("lib"), local.clone() as Arc<dyn Store>)
                .with_node(name)
                .with_coordination(store.clone()),
        );
        let leader = Leader::start(
            store.clone(),
            scanner.clone(),
            config(name, false, Some(recs_work(local))),
        )
        .unwrap();
        PgNode {
            store,
            scanner,
            leader,
        }
    }

    fn holder_pid(store: &PgStore, work: Work) -> i32 {
        store
            .read_primary(|c| {
                Ok(
                    c.query_one("SELECT pid FROM leases WHERE work = $1", &[&work.name()])?
                        .get(0),
                )
            })
            .unwrap()
    }

    #[test]
    fn another_node_takes_over_when_the_leader_dies() {
        let db = ScratchDatabase::for_test("leader_takeover");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        let a = pg_node(&db, "a", dir.path());
        let b = pg_node(&db, "b", dir.path());
        assert!(a.leader.holds(Work::Scan) && a.leader.holds(Work::Recs));
        assert!(!b.leader.holds(Work::Scan) && !b.leader.holds(Work::Recs));
        assert!(a.scanner.is_leader() && !b.scanner.is_leader());
        let seen = b.scanner.shared_status().unwrap();
        assert_eq!(seen.leader.as_deref(), Some("a"));
        assert_eq!(seen.node, "b");
        // Scoped scans (the watcher's) run only on the leader.
        assert!(matches!(
            b.scanner.spawn(Some(vec!["x".into()])),
            Err(ScanError::NotLeader)
        ));

        // The leader stalls and its sessions end, as a killed or cut-off process's would.
        a.leader.pause(true);
        for work in Work::ALL {
            let pid = holder_pid(&b.store, work);
            b.store
                .read_primary(|c| {
                    c.execute("SELECT pg_terminate_backend($1)", &[&pid])?;
                    Ok(())
                })
                .unwrap();
        }
        // Takeover comes within a second or two; a loaded machine gets room.
        let within = Duration::from_secs(30);
        wait_until("b takes the scan lease", within, || {
            b.leader.holds(Work::Scan)
        });
        wait_until("b takes the recs lease", within, || {
            b.leader.holds(Work::Recs)
        });
        assert!(b.scanner.is_leader());
        // Woken up, the old leader finds its leases gone and does not take them back.
        a.leader.pause(false);
        wait_until("a notices", within, || {
            !a.leader.holds(Work::Scan) && !a.leader.holds(Work::Recs)
        });
        assert!(!a.scanner.is_leader());
        wait_until("a names the new leader", within, || {
            a.scanner.shared_status().unwrap().leader.as_deref() == Some("b")
        });
        // And a does not take the leases back while b holds them.
        std::thread::sleep(TRY_EVERY * 2);
        assert!(!a.leader.holds(Work::Scan) && b.leader.holds(Work::Scan));
    }

    #[test]
    fn a_scan_asked_of_another_node_runs_on_the_leader() {
        let db = ScratchDatabase::for_test("leader_request");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        let a = pg_node(&db, "a", dir.path());
        let b = pg_node(&db, "b", dir.path());
        assert!(a.scanner.status().started_at.is_none(), "no initial scan");
        b.scanner.spawn_full().unwrap();
        // Until the leader starts it, the asking node reports it under way.
        let asked = b.scanner.shared_status().unwrap();
        assert_eq!(asked.state, "running", "{asked:?}");
        wait_until("the leader ran the scan", Duration::from_secs(30), || {
            a.scanner.status().phase == "done"
        });
        wait_until("b sees it done", Duration::from_secs(30), || {
            let s = b.scanner.shared_status().unwrap();
            s.state == "idle" && s.phase == "done"
        });
        let done = b.scanner.shared_status().unwrap();
        assert_eq!(done.leader.as_deref(), Some("a"));
        assert_eq!(done.finished_at, a.scanner.status().finished_at);
        assert!(!b.scanner.is_running());
    }
}
