//! How the player gets a track's bytes: the caller's [`TrackOpener`], and [`CacheOpener`], the
//! one over the audio cache (the cached file, or a progressive read of the download).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use symphonia::core::io::MediaSource;

use super::QueueItem;
use crate::cache::{AudioCache, Fetcher, ProgressiveReader, RemoteRendition};
use crate::quality::ORIGINAL;

/// Why a track could not be opened, in the opener's own words.
pub type OpenError = Box<dyn std::error::Error + Send + Sync>;

/// Opens a queue entry as a seekable byte source. Called on a decoder thread (never the
/// player's), early enough that a download started here is done by the time it plays.
pub trait TrackOpener: Send + Sync {
    fn open(&self, item: &QueueItem) -> Result<Box<dyn MediaSource>, OpenError>;
}

impl<F> TrackOpener for F
where
    F: Fn(&QueueItem) -> Result<Box<dyn MediaSource>, OpenError> + Send + Sync,
{
    fn open(&self, item: &QueueItem) -> Result<Box<dyn MediaSource>, OpenError> {
        self(item)
    }
}

/// Opens tracks from the [`AudioCache`]: the cached file when there is one, otherwise (with a
/// fetcher, i.e. online) a [`ProgressiveReader`] that plays while the cache downloads.
#[derive(Debug, Clone)]
pub struct CacheOpener {
    cache: AudioCache,
    fetcher: Option<Fetcher>,
    /// The profile streamed when online and nothing is cached (`original` by default); shared
    /// with whoever may change it while playing (the TUI's key), read at each track's open.
    stream_quality: StreamQuality,
}

/// A stream quality that can be changed while the player runs.
#[derive(Debug, Clone)]
pub struct StreamQuality(std::sync::Arc<std::sync::RwLock<String>>);

impl StreamQuality {
    pub fn new(quality: &str) -> Self {
        Self(std::sync::Arc::new(std::sync::RwLock::new(
            quality.to_owned(),
        )))
    }

    pub fn get(&self) -> String {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Applies from the next track opened.
    pub fn set(&self, quality: &str) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = quality.to_owned();
    }
}

impl CacheOpener {
    /// `fetcher: None` plays only what is cached (offline).
    pub fn new(cache: AudioCache, fetcher: Option<Fetcher>) -> Self {
        Self {
            cache,
            fetcher,
            stream_quality: StreamQuality::new(ORIGINAL),
        }
    }

    /// Streams tracks that are not cached as renditions in `quality` (a profile id).
    pub fn with_stream_quality(mut self, quality: StreamQuality) -> Self {
        self.stream_quality = quality;
        self
    }
}

impl TrackOpener for CacheOpener {
    fn open(&self, item: &QueueItem) -> Result<Box<dyn MediaSource>, OpenError> {
        if let Some(path) = self.cache.path_of(&item.content_hash) {
            return Ok(Box::new(File::open(&path)?));
        }
        // An offline playlist kept at a lower quality holds the track as a rendition.
        if let Some((path, profile)) = self.cache.any_rendition_path(&item.content_hash) {
            tracing::debug!(
                track = item.track_id.0,
                profile,
                "playing a cached rendition"
            );
            return Ok(Box::new(File::open(&path)?));
        }
        let quality = self.stream_quality.get();
        if let (Some(f), false) = (&self.fetcher, quality == ORIGINAL) {
            match RemoteRendition::open(f, &item.content_hash, &quality) {
                Ok(remote) => return Ok(Box::new(Remote(remote))),
                // An unknown profile (the server changed) or a busy transcoder: the original
                // still plays.
                Err(e) => tracing::warn!(
                    track = item.track_id.0,
                    quality,
                    "streaming the original: the rendition failed: {e}"
                ),
            }
        }
        match &self.fetcher {
            Some(f) => {
                let reader = self
                    .cache
                    .open_progressive(f, &item.content_hash, item.size)?;
                Ok(Box::new(Progressive(reader)))
            }
            None => Err(format!(
                "track {} is not cached and the server is unreachable",
                item.track_id
            )
            .into()),
        }
    }
}

/// A [`ProgressiveReader`] as symphonia's `MediaSource` (its length is known up front).
struct Progressive(ProgressiveReader);

impl Read for Progressive {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Seek for Progressive {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.0.seek(pos)
    }
}

impl MediaSource for Progressive {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.0.len())
    }
}

/// A [`RemoteRendition`] as symphonia's `MediaSource`.
struct Remote(RemoteRendition);

impl Read for Remote {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Seek for Remote {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.0.seek(pos)
    }
}

impl MediaSource for Remote {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::CacheConfig;
    use crate::cache::test_server::{TOKEN, TestServer};
    use crate::player::ReplayGain;
    use mixtape_shared::TrackId;

    fn item(hash: &str) -> QueueItem {
        QueueItem {
            track_id: TrackId(7),
            content_hash: hash.to_owned(),
            size: 1_000,
            duration_ms: 1_000,
            format: "flac".into(),
            replay_gain: ReplayGain::default(),
        }
    }

    fn read_all(mut source: Box<dyn MediaSource>) -> Vec<u8> {
        let mut out = Vec::new();
        source.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn offline_a_cached_rendition_plays_and_online_the_stream_quality_is_streamed() {
        let dir = tempfile::tempdir().unwrap();
        let (cache, _) = AudioCache::open(dir.path(), CacheConfig::default()).unwrap();
        let server = TestServer::start();
        let fetcher = Fetcher::new(&server.base_url, TOKEN).unwrap();
        let source = "ef".repeat(32);
        let at96: Vec<u8> = (0..5_000u32).map(|i| (i * 7) as u8).collect();
        let at64: Vec<u8> = (0..3_000u32).map(|i| (i * 11) as u8).collect();
        server.add_rendition(&source, "opus-96", at96.clone());
        server.add_rendition(&source, "opus-64", at64.clone());

        // Offline with nothing cached: a clear error.
        let offline = CacheOpener::new(cache.clone(), None);
        assert!(offline.open(&item(&source)).is_err());
        // An offline playlist at opus-96 left its rendition in the cache: that plays.
        cache
            .fetch_rendition(&fetcher, &source, "opus-96", 5_000, |_| {})
            .unwrap();
        assert_eq!(read_all(offline.open(&item(&source)).unwrap()), at96);

        // Online, a track cached in no form streams at the stream quality, changed live.
        let other = "01".repeat(32);
        server.add_rendition(&other, "opus-64", at64.clone());
        let quality = StreamQuality::new("opus-64");
        let online =
            CacheOpener::new(cache.clone(), Some(fetcher)).with_stream_quality(quality.clone());
        let streamed = online.open(&item(&other)).unwrap();
        assert_eq!(streamed.byte_len(), Some(3_000));
        assert_eq!(read_all(streamed), at64);
        assert!(
            !cache.contains_rendition(&other, "opus-64"),
            "a stream is not kept"
        );
        // A profile the server does not have falls back to the original's download.
        quality.set("opus-160");
        let _fallback = online.open(&item(&other)).unwrap();
        assert_eq!(server.served(&format!("{other}/opus-160")).len(), 1);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while server.served(&other).is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the original was not asked for"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
