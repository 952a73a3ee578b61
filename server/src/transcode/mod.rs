//! Transcoding: renditions of library files in the profiles of `mixtape_codec`, planned
//! (exact size) without encoding, and produced chunk by chunk on the encoder pool (`pool`)
//! when a response needs them, kept in the rendition cache (`cache`) under a byte cap. `choice`
//! picks the profile a request gets (Subsonic's parameters, a user's stream limit).
//!
//! **Invariant:** no HTTP here, and no encoding on tokio's threads: chunks are encoded on the
//! pool's own threads, sources probed on the blocking pool by the caller.

mod cache;
pub mod choice;
mod completion;
mod pool;

pub use cache::{DEFAULT_CAP_BYTES, ReaderGuard, RenditionKey};
pub use pool::{Busy, PoolStats, Priority};

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lru::LruCache;
use mixtape_codec::{DecodeError, Plan, Profile, RenditionError, SourceInfo, TrackDecoder};

use crate::storage::TrackFile;
use cache::RenditionCache;
use pool::{ChunkKey, Pool};

/// Source facts kept in memory (a lossy source's frame count costs a decode).
const SOURCES_KEPT: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TranscodeConfig {
    /// Rendition cache cap in bytes; 0 keeps nothing.
    pub cache_bytes: u64,
    pub threads: usize,
    /// Chunks of one user encoded at a time.
    pub per_user: usize,
    /// Queued chunks beyond which requests get 503.
    pub max_queue: usize,
}

impl Default for TranscodeConfig {
    fn default() -> Self {
        Self {
            cache_bytes: DEFAULT_CAP_BYTES,
            threads: Pool::default_threads(),
            per_user: 2,
            max_queue: 64,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TranscodeError {
    #[error("the file of this track is gone; a rescan will update the library")]
    FileGone,
    #[error("cannot transcode this file: {0}")]
    Source(String),
    #[error(transparent)]
    Busy(#[from] Busy),
    #[error("transcoding failed: {0}")]
    Failed(String),
}

/// A rendition being served: which file, in which profile, and its plan.
#[derive(Debug)]
pub struct Rendition {
    pub key: RenditionKey,
    pub plan: Plan,
    pub file: TrackFile,
}

impl Rendition {
    pub fn etag(&self) -> String {
        format!("\"{}.{}\"", self.key.0, self.key.1)
    }
}

pub struct Transcoder {
    library: PathBuf,
    pool: Pool,
    cache: Arc<RenditionCache>,
    sources: Mutex<LruCache<Arc<str>, SourceInfo>>,
    /// Renditions to finish in the background (none when the cache keeps nothing).
    completion: completion::Completion,
    keeps_renditions: bool,
}

fn opener(library: &Path, path: &str) -> impl Fn() -> Result<TrackDecoder, DecodeError> + use<> {
    let library = library.to_owned();
    let path = path.to_owned();
    move || {
        let file = crate::library_fs::open(&library, &path)
            .map_err(|e| DecodeError::Open(format!("{path}: {e}")))?;
        let ext = Path::new(&path)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        TrackDecoder::open(Box::new(file), &ext)
    }
}

impl Transcoder {
    /// The cache lives in `data_dir/renditions` (emptied now). With a cache, a thread completes
    /// started renditions in the background; it ends when the transcoder is dropped.
    pub fn start(
        library: &Path,
        data_dir: &Path,
        config: TranscodeConfig,
    ) -> std::io::Result<Arc<Self>> {
        let cache = RenditionCache::open(&data_dir.join("renditions"), config.cache_bytes)?;
        let transcoder = Arc::new(Self {
            library: library.to_owned(),
            pool: Pool::new(config.threads, config.per_user, config.max_queue),
            cache: Arc::new(cache),
            sources: Mutex::new(LruCache::new(
                std::num::NonZeroUsize::new(SOURCES_KEPT).expect("non-zero"),
            )),
            completion: completion::Completion::default(),
            keeps_renditions: config.cache_bytes > 0,
        });
        if transcoder.keeps_renditions {
            let weak = Arc::downgrade(&transcoder);
            std::thread::Builder::new()
                .name("transcode-completion".into())
                .spawn(move || completion::Completion::run(weak))?;
        }
        Ok(transcoder)
    }

    /// Finishes `r` in the cache at background priority, after what readers wait for.
    pub fn complete_in_background(&self, r: Arc<Rendition>, user: i64) {
        if self.keeps_renditions && !self.cache.is_complete(&r.key) {
            self.completion.request(r, user);
        }
    }

    /// Plans `file` in `profile`: reads the source's format and length (decoding a lossy one
    /// once, then remembered). Blocking; never encodes.
    pub fn plan(
        &self,
        file: TrackFile,
        profile: &'static Profile,
    ) -> Result<Rendition, TranscodeError> {
        self.plan_from(file, profile, 0)
    }

    /// Same, of the track from `offset_ms` on (Subsonic's `timeOffset`): a rendition of its
    /// own, keyed `{hash}@{offset_ms}`.
    pub fn plan_from(
        &self,
        file: TrackFile,
        profile: &'static Profile,
        offset_ms: u64,
    ) -> Result<Rendition, TranscodeError> {
        if !file.available {
            return Err(TranscodeError::FileGone);
        }
        let hash: Arc<str> = Arc::from(file.content_hash.as_str());
        let known = self
            .sources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&hash)
            .copied();
        let source = match known {
            Some(s) => s,
            None => {
                let open = opener(&self.library, &file.path);
                let source = SourceInfo::probe(&open).map_err(|e| match e {
                    RenditionError::Decode(DecodeError::Open(_)) => TranscodeError::FileGone,
                    other => TranscodeError::Source(other.to_string()),
                })?;
                self.sources
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .put(Arc::clone(&hash), source);
                source
            }
        };
        let serial =
            u32::from_str_radix(file.content_hash.get(..8).unwrap_or("0"), 16).unwrap_or(0);
        let plan = Plan::new(profile, source.from_ms(offset_ms), serial)
            .map_err(|e| TranscodeError::Source(e.to_string()))?;
        let key = if offset_ms > 0 {
            Arc::from(format!("{hash}@{offset_ms}"))
        } else {
            hash
        };
        Ok(Rendition {
            key: (key, profile.id),
            plan,
            file,
        })
    }

    /// Keeps `r` from eviction while the guard lives.
    pub fn reader(&self, r: &Rendition) -> ReaderGuard {
        self.cache.reader(r.key.clone())
    }

    fn chunk_key(r: &Rendition, c: u64) -> ChunkKey {
        (Arc::clone(&r.key.0), r.key.1, c)
    }

    /// Chunk `c` of `r` from the cache, else encoded on the pool at `priority`.
    pub async fn chunk(
        &self,
        r: &Rendition,
        c: u64,
        priority: Priority,
        user: i64,
    ) -> Result<Arc<Vec<u8>>, TranscodeError> {
        match self.submit(r, c, priority, user)? {
            Submitted::Cached(bytes) => Ok(bytes),
            Submitted::Queued(rx) => Self::wait(rx).await,
        }
    }

    /// Asks for chunk `c` ahead of need; await it with [`wait`](Self::wait).
    pub fn submit(
        &self,
        r: &Rendition,
        c: u64,
        priority: Priority,
        user: i64,
    ) -> Result<Submitted, TranscodeError> {
        let span = r.plan.chunk_span(c);
        if let Some(bytes) = self
            .cache
            .read_chunk(&r.key, c, span.start, span.end - span.start)
        {
            return Ok(Submitted::Cached(Arc::new(bytes)));
        }
        let plan = r.plan;
        let key = r.key.clone();
        let cache = Arc::clone(&self.cache);
        let open = opener(&self.library, &r.file.path);
        let work = move || {
            let started = std::time::Instant::now();
            let bytes = plan.encode_chunk(c, &open).map_err(|e| e.to_string())?;
            metrics::histogram!("mixtape_transcode_chunk_seconds", "codec" => plan.profile.codec.name())
                .record(started.elapsed().as_secs_f64());
            cache.store_chunk(&key, plan.len(), plan.chunks(), c, span.start, &bytes);
            Ok(Arc::new(bytes))
        };
        let rx = self
            .pool
            .submit(Self::chunk_key(r, c), priority, user, work)?;
        Ok(Submitted::Queued(rx))
    }

    /// Raises a submitted chunk to `Wait` (a response now needs it) and waits for it.
    pub async fn wait_for(
        &self,
        r: &Rendition,
        c: u64,
        rx: tokio::sync::oneshot::Receiver<pool::ChunkResult>,
    ) -> Result<Arc<Vec<u8>>, TranscodeError> {
        self.pool.raise(&Self::chunk_key(r, c), Priority::Wait);
        Self::wait(rx).await
    }

    async fn wait(
        rx: tokio::sync::oneshot::Receiver<pool::ChunkResult>,
    ) -> Result<Arc<Vec<u8>>, TranscodeError> {
        match rx.await {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(e)) => Err(TranscodeError::Failed(e)),
            Err(_) => Err(TranscodeError::Failed("the encoder pool stopped".into())),
        }
    }

    pub fn pool_stats(&self) -> PoolStats {
        self.pool.stats()
    }

    /// Encoder threads in the pool.
    pub fn threads(&self) -> usize {
        self.pool.threads()
    }

    pub fn cache_used(&self) -> u64 {
        self.cache.used()
    }

    pub fn is_cached(&self, r: &Rendition) -> bool {
        self.cache.is_complete(&r.key)
    }
}

/// A chunk asked for: already there, or on its way.
pub enum Submitted {
    Cached(Arc<Vec<u8>>),
    Queued(tokio::sync::oneshot::Receiver<pool::ChunkResult>),
}
