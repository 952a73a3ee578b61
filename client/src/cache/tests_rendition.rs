//! Renditions in the cache and streamed: against the tiny HTTP server.

use std::io::{Read, Seek, SeekFrom};

use super::test_server::{TOKEN, TestServer};
use super::*;

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2_654_435_761)
                .rotate_left(seed as u32) as u8
        })
        .collect()
}

fn setup() -> (tempfile::TempDir, AudioCache, TestServer, Fetcher) {
    let dir = tempfile::tempdir().unwrap();
    let (cache, _) = AudioCache::open(dir.path(), CacheConfig::default()).unwrap();
    let server = TestServer::start();
    let fetcher = Fetcher::new(&server.base_url, TOKEN).unwrap();
    (dir, cache, server, fetcher)
}

#[test]
fn a_rendition_is_cached_under_its_own_blake3_resumed_after_a_cut_and_verified() {
    let (dir, cache, server, fetcher) = setup();
    let source = "ab".repeat(32);
    let data = bytes(200_000, 3);
    let own = blake3::hash(&data).to_hex().to_string();
    server.add_rendition(&source, "opus-96", data.clone());

    server.cut_next_after(70_000);
    let err = cache
        .fetch_rendition(&fetcher, &source, "opus-96", 200_000, |_| {})
        .unwrap_err();
    assert!(matches!(err, CacheError::Network { .. }), "{err}");
    let part = dir
        .path()
        .join(format!("audio/ab/{source}@opus-96{}", layout::PART_SUFFIX));
    assert_eq!(fs::metadata(&part).unwrap().len(), 70_000);
    // The part survives a restart's reconcile, and the download resumes from it.
    drop(cache);
    let (cache, report) = AudioCache::open(dir.path(), CacheConfig::default()).unwrap();
    assert_eq!(report.kept_parts, vec![part.clone()]);
    let path = cache
        .fetch_rendition(&fetcher, &source, "opus-96", 200_000, |_| {})
        .unwrap();
    let served = server.served("/opus-96");
    assert_eq!(served.last().unwrap().range_from, Some(70_000));
    assert_eq!(path.file_name().unwrap().to_str(), Some(own.as_str()));
    assert_eq!(fs::read(&path).unwrap(), data);
    assert!(!part.exists());
    assert!(cache.contains_rendition(&source, "opus-96"));
    assert!(!cache.contains(&source), "the original is not cached");
    assert_eq!(cache.rendition_size(&source, "opus-96"), Some(200_000));
    assert_eq!(cache.any_rendition_path(&source).unwrap().1, "opus-96");
    let verify = cache.verify().unwrap();
    assert_eq!((verify.checked, verify.corrupt.len()), (1, 0));

    // A wrong length is refused and the part dropped.
    server.add_rendition(&source, "opus-64", bytes(1000, 4));
    let err = cache
        .fetch_rendition(&fetcher, &source, "opus-64", 999, |_| {})
        .unwrap_err();
    assert!(matches!(err, CacheError::SizeMismatch { .. }), "{err}");
    assert!(!cache.contains_rendition(&source, "opus-64"));

    // Pinned by key it stays; released unpinned it goes.
    let key = rendition_key(&source, "opus-96").unwrap();
    cache.pin("p", &[(key.clone(), 200_000)]).unwrap();
    assert_eq!(cache.release(std::slice::from_ref(&key)).unwrap(), 0);
    assert!(path.exists());
    cache.unpin("p").unwrap();
    assert_eq!(cache.release(&[key]).unwrap(), 200_000);
    assert!(!path.exists());
    assert!(!cache.contains_rendition(&source, "opus-96"));
}

#[test]
fn a_streamed_rendition_reads_and_seeks_with_ranges() {
    let (_dir, _cache, server, fetcher) = setup();
    let source = "cd".repeat(32);
    let data = bytes(300_000, 5);
    server.add_rendition(&source, "opus-64", data.clone());
    let mut r = RemoteRendition::open(&fetcher, &source, "opus-64").unwrap();
    assert_eq!(r.len(), 300_000);
    // The last bytes first, as the Ogg reader does, then the middle, then the start.
    r.seek(SeekFrom::End(-100)).unwrap();
    let mut tail = Vec::new();
    r.read_to_end(&mut tail).unwrap();
    assert_eq!(tail, &data[299_900..]);
    r.seek(SeekFrom::Start(150_000)).unwrap();
    let mut mid = vec![0; 10_000];
    r.read_exact(&mut mid).unwrap();
    assert_eq!(mid, &data[150_000..160_000]);
    r.seek(SeekFrom::Start(0)).unwrap();
    let mut all = Vec::new();
    r.read_to_end(&mut all).unwrap();
    assert_eq!(all, data);
    let ranges: Vec<Option<u64>> = server
        .served("/opus-64")
        .iter()
        .map(|s| s.range_from)
        .collect();
    assert_eq!(ranges, vec![None, Some(299_900), Some(150_000), None]);
    // An unknown profile is an error the player falls back from.
    assert!(RemoteRendition::open(&fetcher, &source, "opus-160").is_err());
}
