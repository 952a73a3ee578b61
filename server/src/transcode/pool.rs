//! The encoder pool: plain threads (not tokio's) taking chunk jobs by priority. A chunk asked
//! for twice is encoded once; a job nobody waits for any more is dropped when its turn comes,
//! so a closed connection stops costing CPU after the chunk in progress; one user's jobs run
//! at most `per_user` at a time; past `max_queue` queued jobs, new work is refused (503).

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

use tokio::sync::oneshot;

/// What a chunk is for, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// A response is waiting on it.
    Wait = 0,
    /// The chunk after the one a response is sending.
    ReadAhead = 1,
    /// Completing a rendition for the cache.
    Background = 2,
}

/// A chunk of a rendition: content hash, profile id, chunk number.
pub type ChunkKey = (Arc<str>, &'static str, u64);

pub type ChunkResult = Result<Arc<Vec<u8>>, String>;

/// The work of one chunk, run on a pool thread.
pub type Work = Box<dyn FnOnce() -> ChunkResult + Send>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the transcoder is busy: {queued} chunks queued; retry in a few seconds")]
pub struct Busy {
    pub queued: usize,
}

struct Job {
    priority: Priority,
    seq: u64,
    user: i64,
    work: Work,
    waiters: Vec<oneshot::Sender<ChunkResult>>,
}

impl Job {
    /// Nobody waits and it is not background work: a dropped response's.
    fn abandoned(&self) -> bool {
        self.priority != Priority::Background && self.waiters.iter().all(|w| w.is_closed())
    }
}

#[derive(Default)]
struct State {
    queued: HashMap<ChunkKey, Job>,
    /// Chunks being encoded, and who waits for them.
    running: HashMap<ChunkKey, Vec<oneshot::Sender<ChunkResult>>>,
    running_per_user: HashMap<i64, usize>,
    seq: u64,
    shutdown: bool,
    /// Chunks encoded and jobs dropped unrun (nobody waited), for tests and metrics.
    done: u64,
    cancelled: u64,
}

/// Counters of the pool, as seen at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    pub queued: usize,
    pub running: usize,
    pub done: u64,
    pub cancelled: u64,
}

struct Shared {
    state: Mutex<State>,
    ready: Condvar,
    per_user: usize,
    max_queue: usize,
}

pub struct Pool {
    shared: Arc<Shared>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Pool {
    /// `threads` encoders; `per_user` jobs of one user at a time; `max_queue` queued jobs.
    pub fn threads(&self) -> usize {
        self.threads.len()
    }

    pub fn new(threads: usize, per_user: usize, max_queue: usize) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            ready: Condvar::new(),
            per_user: per_user.max(1),
            max_queue,
        });
        let threads = (0..threads.max(1))
            .filter_map(|i| {
                let shared = Arc::clone(&shared);
                thread::Builder::new()
                    .name(format!("mixtape-encode-{i}"))
                    .spawn(move || worker(&shared))
                    .map_err(|e| tracing::error!(error = %e, "cannot start an encoder thread"))
                    .ok()
            })
            .collect();
        Self { shared, threads }
    }

    /// The default size: one thread per core but one (left to the network and the database).
    pub fn default_threads() -> usize {
        thread::available_parallelism()
            .map_or(1, |n| n.get())
            .saturating_sub(1)
            .max(1)
    }

    /// Asks for a chunk. Joins the job already queued or running for it (raising its
    /// priority); otherwise queues `work`, unless the queue is full (background work is
    /// refused at half of it).
    pub fn submit(
        &self,
        key: ChunkKey,
        priority: Priority,
        user: i64,
        work: impl FnOnce() -> ChunkResult + Send + 'static,
    ) -> Result<oneshot::Receiver<ChunkResult>, Busy> {
        let (tx, rx) = oneshot::channel();
        let mut st = self.shared.lock();
        if let Some(waiters) = st.running.get_mut(&key) {
            waiters.push(tx);
            return Ok(rx);
        }
        if let Some(job) = st.queued.get_mut(&key) {
            job.priority = job.priority.min(priority);
            job.waiters.push(tx);
            return Ok(rx);
        }
        // Background work gives way first: it is refused well before the queue is full.
        let limit = if priority == Priority::Background {
            self.shared.max_queue / 2
        } else {
            self.shared.max_queue
        };
        if st.queued.len() >= limit {
            return Err(Busy {
                queued: st.queued.len(),
            });
        }
        st.seq += 1;
        let seq = st.seq;
        // A background job's waiter (the completer) never cancels it: see `abandoned`.
        let waiters = vec![tx];
        st.queued.insert(
            key,
            Job {
                priority,
                seq,
                user,
                work: Box::new(work),
                waiters,
            },
        );
        metrics::gauge!("mixtape_transcode_queued").set(st.queued.len() as f64);
        drop(st);
        self.shared.ready.notify_one();
        Ok(rx)
    }

    /// Raises a queued chunk's priority (a response now waits on what it read ahead).
    pub fn raise(&self, key: &ChunkKey, priority: Priority) {
        if let Some(job) = self.shared.lock().queued.get_mut(key) {
            job.priority = job.priority.min(priority);
        }
    }

    pub fn stats(&self) -> PoolStats {
        let st = self.shared.lock();
        PoolStats {
            queued: st.queued.len(),
            running: st.running.len(),
            done: st.done,
            cancelled: st.cancelled,
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.ready.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The next job to run: the most urgent, oldest first, of a user under the limit; abandoned
/// jobs met on the way are dropped.
fn take(st: &mut State, per_user: usize) -> Option<(ChunkKey, Job)> {
    let abandoned: Vec<ChunkKey> = st
        .queued
        .iter()
        .filter(|(_, j)| j.abandoned())
        .map(|(k, _)| k.clone())
        .collect();
    for k in abandoned {
        st.queued.remove(&k);
        st.cancelled += 1;
        metrics::counter!("mixtape_transcode_cancelled_total").increment(1);
    }
    let key = st
        .queued
        .iter()
        .filter(|(_, j)| st.running_per_user.get(&j.user).copied().unwrap_or(0) < per_user)
        .min_by_key(|(_, j)| (j.priority, j.seq))
        .map(|(k, _)| k.clone())?;
    let job = st.queued.remove(&key)?;
    Some((key, job))
}

fn worker(shared: &Shared) {
    loop {
        // Taken and marked running under one lock: in between, another worker could start a
        // second job of the same user past its limit, or a request queue this chunk again.
        let (key, user, work) = {
            let mut st = shared.lock();
            let (key, job) = loop {
                if st.shutdown {
                    return;
                }
                if let Some(next) = take(&mut st, shared.per_user) {
                    break next;
                }
                st = shared.ready.wait(st).unwrap_or_else(|p| p.into_inner());
            };
            let Job {
                user,
                work,
                waiters,
                ..
            } = job;
            st.running.insert(key.clone(), waiters);
            *st.running_per_user.entry(user).or_default() += 1;
            metrics::gauge!("mixtape_transcode_queued").set(st.queued.len() as f64);
            (key, user, work)
        };
        let result = work();
        let waiters = {
            let mut st = shared.lock();
            st.done += 1;
            if let Some(n) = st.running_per_user.get_mut(&user) {
                *n -= 1;
                if *n == 0 {
                    st.running_per_user.remove(&user);
                }
            }
            st.running.remove(&key).unwrap_or_default()
        };
        metrics::counter!("mixtape_transcode_chunks_total").increment(1);
        for w in waiters {
            let _ = w.send(result.clone());
        }
        // A user's next job may have been waiting for this one to finish.
        shared.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn key(c: u64) -> ChunkKey {
        (Arc::from("h"), "opus-96", c)
    }

    fn slow(ran: &Arc<AtomicUsize>) -> impl FnOnce() -> ChunkResult + Send + 'static {
        let ran = Arc::clone(ran);
        move || {
            thread::sleep(Duration::from_millis(50));
            ran.fetch_add(1, Ordering::SeqCst);
            Ok(Arc::new(vec![1]))
        }
    }

    #[tokio::test]
    async fn one_chunk_asked_twice_is_encoded_once() {
        let pool = Pool::new(1, 2, 8);
        let ran = Arc::new(AtomicUsize::new(0));
        let a = pool
            .submit(key(0), Priority::Wait, 1, slow(&ran))
            .expect("queued");
        let b = pool
            .submit(key(0), Priority::Wait, 2, slow(&ran))
            .expect("joined");
        assert_eq!(a.await.expect("sent"), Ok(Arc::new(vec![1])));
        assert_eq!(b.await.expect("sent"), Ok(Arc::new(vec![1])));
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }

    /// Holds jobs until opened, so a test decides when a running job ends (no sleeps).
    #[derive(Clone, Default)]
    struct Gate(Arc<(Mutex<bool>, std::sync::Condvar)>);

    impl Gate {
        fn open(&self) {
            *self.0.0.lock().expect("lock") = true;
            self.0.1.notify_all();
        }

        fn pass(&self) {
            let mut open = self.0.0.lock().expect("lock");
            while !*open {
                open = self.0.1.wait(open).expect("lock");
            }
        }
    }

    /// Opens its gate when dropped: a failing test unwinds past jobs it still holds, and the
    /// pool's drop joins their threads.
    struct OpenOnDrop(Gate);

    impl Drop for OpenOnDrop {
        fn drop(&mut self) {
            self.0.open();
        }
    }

    /// A job that records `tag` when it starts, then waits for `gate`.
    fn held<T: Send + 'static>(
        order: &Arc<Mutex<Vec<T>>>,
        tag: T,
        gate: &Gate,
    ) -> impl FnOnce() -> ChunkResult + Send + 'static {
        let (order, gate) = (Arc::clone(order), gate.clone());
        move || {
            order.lock().expect("lock").push(tag);
            gate.pass();
            Ok(Arc::new(Vec::new()))
        }
    }

    /// Polls the pool's counters until `done` holds (a worker updates them after its job).
    fn wait_until(pool: &Pool, what: &str, done: impl Fn(PoolStats) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !done(pool.stats()) {
            assert!(std::time::Instant::now() < deadline, "never {what}");
            thread::sleep(Duration::from_millis(1));
        }
    }

    #[tokio::test]
    async fn a_full_queue_refuses_and_abandoned_jobs_never_run() {
        let pool = Pool::new(1, 1, 3);
        let (started, gate) = (Arc::new(Mutex::new(Vec::new())), Gate::default());
        let _release = OpenOnDrop(gate.clone());
        let ran = Arc::new(AtomicUsize::new(0));
        // The first occupies the thread; the next three fill the queue.
        let first = pool
            .submit(key(0), Priority::Wait, 1, held(&started, 0, &gate))
            .expect("q");
        wait_until(&pool, "the first job running", |s| s.running == 1);
        let queued: Vec<_> = (1..4)
            .map(|c| {
                pool.submit(key(c), Priority::Wait, 1, slow(&ran))
                    .expect("q")
            })
            .collect();
        assert_eq!(
            pool.submit(key(9), Priority::Wait, 1, slow(&ran)).err(),
            Some(Busy { queued: 3 })
        );
        // The responses go away: their chunks are dropped, not encoded.
        drop(queued);
        gate.open();
        first.await.expect("sent").expect("ok");
        wait_until(&pool, "the abandoned jobs dropped", |s| s.cancelled == 3);
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        assert_eq!(pool.stats().queued, 0);
    }

    #[tokio::test]
    async fn waiting_responses_go_before_read_ahead_and_background() {
        let pool = Pool::new(1, 4, 16);
        let (order, gate) = (Arc::new(Mutex::new(Vec::new())), Gate::default());
        let _release = OpenOnDrop(gate.clone());
        let blocker = pool
            .submit(key(0), Priority::Wait, 1, held(&order, 0, &gate))
            .expect("q");
        wait_until(&pool, "the blocker running", |s| s.running == 1);
        let open = Gate::default();
        open.open();
        let background = pool
            .submit(key(1), Priority::Background, 1, held(&order, 1, &open))
            .expect("q");
        let ahead = pool
            .submit(key(2), Priority::ReadAhead, 1, held(&order, 2, &open))
            .expect("q");
        let wait = pool
            .submit(key(3), Priority::Wait, 1, held(&order, 3, &open))
            .expect("q");
        gate.open();
        for rx in [blocker, wait, ahead, background] {
            rx.await.expect("sent").expect("ok");
        }
        assert_eq!(*order.lock().expect("lock"), vec![0, 3, 2, 1]);
    }

    #[tokio::test]
    async fn one_user_runs_at_most_its_share_while_another_gets_a_thread() {
        let pool = Pool::new(2, 1, 16);
        let (order, gate) = (Arc::new(Mutex::new(Vec::new())), Gate::default());
        let _release = OpenOnDrop(gate.clone());
        let a1 = pool
            .submit(key(1), Priority::Wait, 1, held(&order, "a1", &gate))
            .expect("q");
        let a2 = pool
            .submit(key(2), Priority::Wait, 1, held(&order, "a2", &gate))
            .expect("q");
        // User 2 asks once user 1's first chunk is running, and gets the idle thread while
        // that chunk is held: user 1's second waits although a thread was free.
        wait_until(&pool, "user 1's first chunk running", |s| s.running == 1);
        let b1 = pool
            .submit(key(3), Priority::Wait, 2, held(&order, "b1", &gate))
            .expect("q");
        wait_until(&pool, "user 2's chunk running", |s| s.running == 2);
        assert_eq!(pool.stats().queued, 1, "user 1's second chunk waits");
        gate.open();
        for rx in [a1, a2, b1] {
            rx.await.expect("sent").expect("ok");
        }
        assert_eq!(*order.lock().expect("lock"), vec!["a1", "b1", "a2"]);
    }
}
