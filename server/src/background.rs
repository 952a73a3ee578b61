//! A named background thread that runs until asked to stop: the recs worker and the outbox
//! relay. `stop` asks and waits for the round in hand; dropping it only asks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

pub struct BackgroundThread {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl BackgroundThread {
    /// Runs `body` on a thread named `name`; `body` returns once the flag it is given is set.
    pub fn spawn(name: &str, body: impl FnOnce(&AtomicBool) + Send + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || body(&flag))
            .unwrap_or_else(|e| panic!("cannot start the {name} thread: {e}"));
        Self {
            stop,
            handle: Some(handle),
        }
    }

    /// Asks the thread to stop and waits for it.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for BackgroundThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
