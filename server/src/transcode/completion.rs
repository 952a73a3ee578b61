//! Background completion: a rendition a response started is finished in the cache at the
//! pool's lowest priority, one chunk at a time, so a listener who seeks back, plays it again or
//! resumes a download finds it whole. Readers never wait behind it for more than the one chunk
//! in hand: waiting and read-ahead chunks are taken first, and background work is refused long
//! before the queue is full.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Duration;

use super::{Priority, Rendition, Submitted, Transcoder};

/// Renditions waiting to be completed, at most this many (the oldest are dropped: they are
/// what nobody asked for longest).
const PENDING_MAX: usize = 64;
/// How long the completer rests when the pool refuses background work.
const BUSY_PAUSE: Duration = Duration::from_millis(200);
/// How often an idle completer checks that its transcoder is still there.
const IDLE_CHECK: Duration = Duration::from_millis(500);

struct Pending {
    rendition: Arc<Rendition>,
    user: i64,
}

#[derive(Default)]
pub(super) struct Completion {
    pending: Mutex<VecDeque<Pending>>,
    ready: Condvar,
}

impl Completion {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `r` for completion, unless it is queued already.
    pub(super) fn request(&self, r: Arc<Rendition>, user: i64) {
        let mut pending = self.lock();
        if pending.iter().any(|p| p.rendition.key == r.key) {
            return;
        }
        if pending.len() >= PENDING_MAX {
            pending.pop_front();
        }
        pending.push_back(Pending { rendition: r, user });
        self.ready.notify_one();
    }

    /// Runs on its own thread until the transcoder is dropped.
    pub(super) fn run(transcoder: Weak<Transcoder>) {
        loop {
            let Some(t) = transcoder.upgrade() else {
                return;
            };
            let next = {
                let mut pending = t.completion.lock();
                if pending.is_empty() {
                    pending = t
                        .completion
                        .ready
                        .wait_timeout(pending, IDLE_CHECK)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                pending.pop_front()
            };
            let Some(job) = next else {
                continue;
            };
            if let Some(again) = step(&t, job) {
                t.completion.lock().push_front(again);
            }
        }
    }
}

/// Encodes the first chunk of `job` the cache lacks; gives the job back while chunks remain.
fn step(t: &Transcoder, job: Pending) -> Option<Pending> {
    let r = &job.rendition;
    let c = (0..r.plan.chunks()).find(|&c| !t.cache.has_chunk(&r.key, c))?;
    match t.submit(r, c, Priority::Background, job.user) {
        Ok(Submitted::Cached(_)) => {}
        Ok(Submitted::Queued(rx)) => {
            if rx.blocking_recv().map_or(true, |done| done.is_err()) {
                return None; // the source is unreadable: nothing more to gain
            }
        }
        Err(_busy) => {
            std::thread::sleep(BUSY_PAUSE);
            return Some(job);
        }
    }
    // A chunk the cache would not keep (its cap is smaller than the rendition, or the
    // rendition was evicted meanwhile) ends the completion rather than looping on it.
    t.cache.has_chunk(&r.key, c).then_some(job)
}
