//! The trained model's life outside the request path.
//!
//! - [`Trainer`]: runs beside the worker on the recs lease's holder (one trainer in a cluster).
//!   Every `check_every` it compares the newest stored model with the events taken in since
//!   ([`due`]); when due it reads the training data in one snapshot, fits [`als`] on a thread at
//!   the lowest CPU priority, and stores the factors as the next version through the lease
//!   (`FencedWriter::recs_model_put`), so a node that lost the lease cannot store one.
//! - [`Loader`]: on every node, polls the newest stored version and swaps it in whole
//!   ([`TrainedModel`]), so a node serves one version at a time and all nodes converge on the
//!   newest. A restart loads the stored model; it does not retrain.
//!
//! Between trainings the co-listening neighbours (updated per event by the worker) keep for-you
//! fresh, and a listener's vector is folded in from their current plays at request time.

use super::als::{self, AlsError, AlsParams, Factors, Interactions};
use super::model::Item;
use crate::background::BackgroundThread;
use crate::storage::{FencedWriter, ModelInfo, StorageError, Store, TrainingData};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How often every node looks for a newer stored model.
pub const LOAD_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Model(#[from] AlsError),
}

#[derive(Debug, Clone)]
pub struct TrainerConfig {
    pub als: AlsParams,
    /// How often the trainer looks whether a training is due.
    pub check_every: Duration,
    /// A model older than this is retrained when any event arrived since.
    pub max_age: Duration,
    /// Otherwise a training is due once this many events arrived since the model's data was
    /// read...
    pub min_new_events: u64,
    /// ...and they are at least this share of the events the model saw (trainings get rarer as
    /// the history grows).
    pub min_growth: f64,
    /// With fewer events than this in all there is no model: the neighbours alone serve.
    pub min_events: u64,
    /// The training thread's nice value (19: it yields to requests and the worker).
    pub nice: i32,
}

impl Default for TrainerConfig {
    fn default() -> Self {
        Self {
            als: AlsParams::default(),
            check_every: Duration::from_secs(30),
            max_age: Duration::from_secs(6 * 3600),
            min_new_events: 10_000,
            min_growth: 0.2,
            min_events: 1_000,
            nice: 19,
        }
    }
}

/// Whether a training is due, given the newest stored model and the events taken in now.
pub fn due(latest: Option<&ModelInfo>, events: u64, now_ms: i64, cfg: &TrainerConfig) -> bool {
    if events < cfg.min_events {
        return false;
    }
    let Some(m) = latest else {
        return true;
    };
    if events < m.events {
        // The state was rebuilt from a shorter history.
        return true;
    }
    let new = events - m.events;
    if new == 0 {
        return false;
    }
    let age_ms = now_ms.saturating_sub(m.trained_at_ms);
    age_ms >= cfg.max_age.as_millis() as i64
        || (new >= cfg.min_new_events && new as f64 >= cfg.min_growth * m.events as f64)
}

/// The training cells: a row per listener (finished plays per track), then a row per playlist
/// (each member once).
pub fn cells(data: &TrainingData) -> Vec<(u32, Item, f64)> {
    let mut rows: BTreeMap<i64, u32> = BTreeMap::new();
    for &(user, _, _) in &data.plays {
        let next = rows.len() as u32;
        rows.entry(user).or_insert(next);
    }
    let mut playlists: BTreeMap<&str, u32> = BTreeMap::new();
    for (p, _) in &data.playlists {
        let next = (rows.len() + playlists.len()) as u32;
        playlists.entry(p.as_str()).or_insert(next);
    }
    let mut out = Vec::with_capacity(data.plays.len() + data.playlists.len());
    out.extend(
        data.plays
            .iter()
            .map(|&(user, track, n)| (rows[&user], track, n as f64)),
    );
    out.extend(
        data.playlists
            .iter()
            .map(|(p, track)| (playlists[p.as_str()], *track, 1.0)),
    );
    out
}

/// A stored model as this node serves it.
#[derive(Debug)]
pub struct Served {
    pub info: ModelInfo,
    pub factors: Factors,
}

/// What this node knows of the trained model: the version it serves, and the trainer's state
/// when the trainer runs here.
#[derive(Debug, Default)]
pub struct TrainedModel {
    serving: RwLock<Option<Arc<Served>>>,
    /// Set by `POST /api/v1/admin/recs/train`; the trainer takes it at its next check.
    requested: AtomicBool,
    /// True while this node holds the recs lease and runs the trainer.
    trainer_here: AtomicBool,
    training: AtomicBool,
}

impl TrainedModel {
    /// The version being served, whole (a request keeps it even if a newer one is swapped in).
    pub fn current(&self) -> Option<Arc<Served>> {
        self.serving
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn serve(&self, served: Served) {
        metrics::gauge!("mixtape_recs_model_version").set(served.info.version as f64);
        *self.serving.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(served));
    }

    /// Asks this node's trainer to train at its next check; false when the trainer does not
    /// run on this node (another node holds the recs lease).
    pub fn request_training(&self) -> bool {
        if !self.trainer_here.load(Ordering::SeqCst) {
            return false;
        }
        self.requested.store(true, Ordering::SeqCst);
        true
    }

    pub fn trainer_here(&self) -> bool {
        self.trainer_here.load(Ordering::SeqCst)
    }

    pub fn training(&self) -> bool {
        self.training.load(Ordering::SeqCst)
    }

    /// Serves the newest stored version if it is not the one served; true when it swapped.
    pub fn refresh(&self, store: &dyn Store) -> Result<bool, TrainError> {
        let Some(info) = store.recs_model_info()? else {
            return Ok(false);
        };
        if self
            .current()
            .is_some_and(|s| s.info.version >= info.version)
        {
            return Ok(false);
        }
        // Pruned between the two reads: the next poll finds the newer one.
        let Some(bytes) = store.recs_model(info.version)? else {
            return Ok(false);
        };
        let factors = Factors::decode(&bytes)?;
        tracing::info!(
            version = info.version,
            items = info.items,
            "serving the trained recommendation model"
        );
        self.serve(Served { info, factors });
        Ok(true)
    }
}

/// Lowers the calling thread's CPU priority (Linux: nice is per thread, and threads it starts
/// inherit it).
fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(None, nice) {
        tracing::debug!(error = %e, "cannot lower the trainer's priority");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

/// Reads the data, fits, stores the next version through `writer`. `stop` ends it early.
pub fn train_once(
    store: &dyn Store,
    writer: &dyn FencedWriter,
    cfg: &TrainerConfig,
    stop: &AtomicBool,
) -> Result<(ModelInfo, Factors), TrainError> {
    let started = Instant::now();
    let data = store.recs_training_data()?;
    let events = data.events;
    let interactions = Interactions::new(cells(&data), &cfg.als);
    drop(data);
    let factors = als::train(&interactions, &cfg.als, stop)?;
    let bytes = factors.encode();
    let mut info = ModelInfo {
        version: 0,
        trained_at_ms: super::worker::now_ms(),
        events,
        items: interactions.items.len() as u64,
        rows: interactions.rows() as u64,
        cells: interactions.cells() as u64,
        train_ms: started.elapsed().as_millis() as u64,
        bytes: bytes.len() as u64,
    };
    drop(interactions);
    info.version = writer.recs_model_put(&info, &bytes)?;
    metrics::histogram!("mixtape_recs_train_seconds").record(info.train_ms as f64 / 1000.0);
    tracing::info!(
        version = info.version,
        events = info.events,
        items = info.items,
        rows = info.rows,
        train_ms = info.train_ms,
        "trained the recommendation model"
    );
    Ok((info, factors))
}

/// The trainer thread, run by the recs lease's holder; [`Trainer::stop`] ends a training in
/// hand without storing it.
pub struct Trainer(BackgroundThread, Arc<TrainedModel>);

impl Trainer {
    pub fn spawn(
        store: Arc<dyn Store>,
        writer: Arc<dyn FencedWriter>,
        model: Arc<TrainedModel>,
        cfg: TrainerConfig,
    ) -> Self {
        model.trainer_here.store(true, Ordering::SeqCst);
        let here = model.clone();
        Self(
            BackgroundThread::spawn("recs-trainer", move |stop| {
                lower_priority(cfg.nice);
                let mut next = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    let requested = model.requested.load(Ordering::SeqCst);
                    if Instant::now() >= next || requested {
                        next = Instant::now() + cfg.check_every;
                        if let Err(e) = check(&*store, &*writer, &model, &cfg, stop) {
                            match e {
                                TrainError::Model(AlsError::Stopped) => {}
                                e => tracing::warn!(error = %e, "recommendation training failed"),
                            }
                        }
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }),
            here,
        )
    }

    pub fn stop(self) {
        self.0.stop();
        self.1.trainer_here.store(false, Ordering::SeqCst);
    }
}

fn check(
    store: &dyn Store,
    writer: &dyn FencedWriter,
    model: &TrainedModel,
    cfg: &TrainerConfig,
    stop: &AtomicBool,
) -> Result<(), TrainError> {
    let requested = model.requested.swap(false, Ordering::SeqCst);
    let events = store.recs_events_taken_in()?;
    let latest = store.recs_model_info()?;
    if !(requested && events > 0 || due(latest.as_ref(), events, super::worker::now_ms(), cfg)) {
        return Ok(());
    }
    model.training.store(true, Ordering::SeqCst);
    let out = train_once(store, writer, cfg, stop);
    model.training.store(false, Ordering::SeqCst);
    let (info, factors) = out?;
    // This node serves it at once; the others at their next poll.
    model.serve(Served { info, factors });
    Ok(())
}

/// Keeps a node's served model the newest stored one.
pub struct Loader(BackgroundThread);

impl Loader {
    /// Polls every `every` (the first time at once).
    pub fn spawn(store: Arc<dyn Store>, model: Arc<TrainedModel>, every: Duration) -> Self {
        Self(BackgroundThread::spawn("recs-model-loader", move |stop| {
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                if Instant::now() >= next {
                    next = Instant::now() + every;
                    if let Err(e) = model.refresh(&*store) {
                        tracing::warn!(error = %e, "cannot load the trained recommendation model");
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }))
    }

    pub fn stop(self) {
        self.0.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(events: u64, trained_at_ms: i64) -> ModelInfo {
        ModelInfo {
            version: 1,
            trained_at_ms,
            events,
            items: 1,
            rows: 1,
            cells: 1,
            train_ms: 1,
            bytes: 1,
        }
    }

    #[test]
    fn a_training_is_due_on_enough_new_events_or_age() {
        let cfg = TrainerConfig::default();
        let hour = 3_600_000;
        let cases = [
            // (latest model, events now, now, due)
            (None, 999, 0, false),
            (None, 1_000, 0, true),
            (Some(info(100_000, 0)), 100_000, 7 * hour, false),
            (Some(info(100_000, 0)), 100_001, 7 * hour, true),
            (Some(info(100_000, 0)), 119_999, hour, false),
            (Some(info(100_000, 0)), 120_000, hour, true),
            (Some(info(10_000, 0)), 19_999, hour, false),
            (Some(info(10_000, 0)), 20_000, hour, true),
            (Some(info(10_000, 0)), 5_000, hour, true),
        ];
        for (latest, events, now, want) in cases {
            assert_eq!(
                due(latest.as_ref(), events, now, &cfg),
                want,
                "{latest:?} {events} {now}"
            );
        }
    }

    #[test]
    fn listeners_and_playlists_are_rows_of_their_own() {
        let data = TrainingData {
            events: 5,
            plays: vec![(7, 1, 3), (9, 1, 1), (7, 2, 1)],
            playlists: vec![("p".into(), 2), ("q".into(), 1), ("p".into(), 3)],
        };
        assert_eq!(
            cells(&data),
            vec![
                (0, 1, 3.0),
                (1, 1, 1.0),
                (0, 2, 1.0),
                (2, 2, 1.0),
                (3, 1, 1.0),
                (2, 3, 1.0)
            ]
        );
    }
}
