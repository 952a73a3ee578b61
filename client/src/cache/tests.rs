//! Behaviour of the whole cache against a real (tiny) HTTP server.

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, SystemTime};

use super::test_server::{TOKEN, TestServer};
use super::*;

/// Deterministic bytes that differ per seed (xorshift).
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn config(cap_bytes: u64) -> CacheConfig {
    CacheConfig {
        cap_bytes,
        retries: 0,
        retry_pause: Duration::from_millis(10),
        ..CacheConfig::default()
    }
}

struct Setup {
    dir: tempfile::TempDir,
    cache: AudioCache,
    server: TestServer,
    fetcher: Fetcher,
}

fn setup(config: CacheConfig) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (cache, report) = AudioCache::open(dir.path(), config).unwrap();
    assert!(report.is_clean(), "{report:?}");
    let server = TestServer::start();
    let fetcher = Fetcher::new(&server.base_url, TOKEN).unwrap();
    Setup {
        dir,
        cache,
        server,
        fetcher,
    }
}

fn part_of(root: &Path, hash: &str) -> std::path::PathBuf {
    root.join("audio")
        .join(&hash[..2])
        .join(format!("{hash}.part"))
}

#[test]
fn the_cache_can_be_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<AudioCache>();
    send_sync::<Fetcher>();
    send_sync::<CacheError>();
    fn send<T: Send>() {}
    send::<ProgressiveReader>();
}

#[test]
fn a_download_is_verified_renamed_into_place_and_indexed() {
    let s = setup(config(1 << 30));
    let data = bytes(300_000, 1);
    let hash = s.server.add_media(data.clone());
    let mut progress = Vec::new();
    let path = s
        .cache
        .fetch_with_progress(&s.fetcher, &hash, data.len() as u64, |n| progress.push(n))
        .unwrap();

    assert_eq!(
        path,
        s.dir.path().join("audio").join(&hash[..2]).join(&hash)
    );
    assert_eq!(fs::read(&path).unwrap(), data);
    assert!(!part_of(s.dir.path(), &hash).exists());
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert_eq!(progress.last(), Some(&(data.len() as u64)));
    assert!(s.cache.contains(&hash));
    assert_eq!(s.cache.path_of(&hash), Some(path.clone()));
    let stats = s.cache.stats().unwrap();
    assert_eq!(
        (stats.used_bytes, stats.files, stats.partial_files),
        (300_000, 1, 0)
    );

    // Cached now: no second request.
    assert_eq!(s.cache.fetch(&s.fetcher, &hash, 300_000).unwrap(), path);
    assert_eq!(s.server.served(&hash).len(), 1);
}

#[test]
fn a_cut_connection_resumes_from_the_part_and_fetches_only_the_missing_bytes() {
    let s = setup(config(1 << 30));
    let data = bytes(300_000, 2);
    let hash = s.server.add_media(data.clone());
    s.server.cut_next_after(100_000);

    let err = s.cache.fetch(&s.fetcher, &hash, 300_000).unwrap_err();
    assert!(matches!(err, CacheError::Network { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(
        fs::metadata(part_of(s.dir.path(), &hash)).unwrap().len(),
        100_000
    );
    assert!(
        !s.cache.contains(&hash),
        "no index row for an incomplete file"
    );
    let stats = s.cache.stats().unwrap();
    assert_eq!(
        (stats.partial_bytes, stats.partial_files, stats.files),
        (100_000, 1, 0)
    );

    let path = s.cache.fetch(&s.fetcher, &hash, 300_000).unwrap();
    assert_eq!(fs::read(path).unwrap(), data);
    assert_eq!(s.server.bytes_served(), 300_000, "each byte served once");
    let ranges: Vec<_> = s
        .server
        .served(&hash)
        .iter()
        .map(|r| r.range_from)
        .collect();
    assert_eq!(ranges, vec![None, Some(100_000)]);
}

#[test]
fn a_dropped_connection_is_resumed_by_the_download_itself() {
    let s = setup(CacheConfig {
        retries: 2,
        ..config(1 << 30)
    });
    let data = bytes(200_000, 3);
    let hash = s.server.add_media(data.clone());
    s.server.cut_next_after(50_000);
    let path = s.cache.fetch(&s.fetcher, &hash, 200_000).unwrap();
    assert_eq!(fs::read(path).unwrap(), data);
    assert_eq!(s.server.bytes_served(), 200_000);
    let served = s.server.served(&hash);
    assert_eq!(served[1].range_from, Some(50_000));
    assert_eq!(served[1].status, 206);
}

#[test]
fn a_200_answer_to_a_range_request_starts_the_file_over() {
    let s = setup(config(1 << 30));
    let data = bytes(120_000, 4);
    let hash = s.server.add_media(data.clone());
    s.server.cut_next_after(40_000);
    s.cache.fetch(&s.fetcher, &hash, 120_000).unwrap_err();

    s.server.ignore_range(true);
    let path = s.cache.fetch(&s.fetcher, &hash, 120_000).unwrap();
    assert_eq!(fs::read(path).unwrap(), data);
    let served = s.server.served(&hash);
    assert_eq!(
        (served[1].range_from, served[1].status),
        (Some(40_000), 200)
    );
}

#[test]
fn wrong_bytes_from_the_server_are_corrupt_and_leave_nothing_cached() {
    let s = setup(config(1 << 30));
    let good = bytes(50_000, 5);
    let hash = blake3::hash(&good).to_hex().to_string();
    s.server.add_media_as(&hash, bytes(50_000, 6));

    let err = s.cache.fetch(&s.fetcher, &hash, 50_000).unwrap_err();
    assert!(
        matches!(&err, CacheError::Corrupt { hash: h, .. } if *h == hash),
        "{err:?}"
    );
    assert!(!part_of(s.dir.path(), &hash).exists());
    assert!(!s.cache.contains(&hash));
    assert_eq!(s.cache.stats().unwrap().files, 0);

    // A length other than the catalog's is refused before anything is written.
    s.server.add_media_as(&hash, bytes(60_000, 6));
    let err = s.cache.fetch(&s.fetcher, &hash, 50_000).unwrap_err();
    assert!(
        matches!(
            err,
            CacheError::SizeMismatch {
                expected: 50_000,
                served: 60_000,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!part_of(s.dir.path(), &hash).exists());

    // With the right bytes served again, the track downloads.
    s.server.add_media_as(&hash, good.clone());
    let path = s.cache.fetch(&s.fetcher, &hash, 50_000).unwrap();
    assert_eq!(fs::read(path).unwrap(), good);
}

#[test]
fn a_resumed_part_with_bad_bytes_is_caught_by_the_final_hash() {
    let s = setup(config(1 << 30));
    let data = bytes(80_000, 7);
    let hash = s.server.add_media(data.clone());
    let part = part_of(s.dir.path(), &hash);
    fs::create_dir_all(part.parent().unwrap()).unwrap();
    let mut bad = data[..30_000].to_vec();
    bad[10] ^= 0xff;
    fs::write(&part, bad).unwrap();

    let err = s.cache.fetch(&s.fetcher, &hash, 80_000).unwrap_err();
    assert!(matches!(err, CacheError::Corrupt { .. }), "{err:?}");
    assert!(!part.exists());
    // Only the missing bytes were asked for: the part was hashed, not re-downloaded.
    assert_eq!(s.server.served(&hash)[0].range_from, Some(30_000));
    // The retry starts from zero and succeeds.
    assert_eq!(
        fs::read(s.cache.fetch(&s.fetcher, &hash, 80_000).unwrap()).unwrap(),
        data
    );
}

#[test]
fn eviction_keeps_the_cache_under_its_cap_and_never_evicts_pinned_tracks() {
    let s = setup(config(300_000));
    let files: Vec<(String, Vec<u8>)> = (0..4)
        .map(|i| {
            let data = bytes(100_000, 10 + i);
            (s.server.add_media(data.clone()), data)
        })
        .collect();
    let [a, b, c, d] = [0, 1, 2, 3].map(|i| files[i].0.clone());
    s.cache.pin("playlist-1", &[(a.as_str(), 100_000)]).unwrap();
    for h in [&a, &b, &c] {
        s.cache.fetch(&s.fetcher, h, 100_000).unwrap();
    }
    // A was fetched first but is pinned; B was used after C, so C is the least recently used.
    s.cache.path_of(&b).unwrap();
    s.cache.fetch(&s.fetcher, &d, 100_000).unwrap();
    assert!(s.cache.contains(&a) && s.cache.contains(&b) && s.cache.contains(&d));
    assert!(!s.cache.contains(&c));
    assert!(!s.dir.path().join("audio").join(&c[..2]).join(&c).exists());
    assert_eq!(s.cache.stats().unwrap().used_bytes, 300_000);

    // Reopened with a smaller cap: the least recently used unpinned file goes at open.
    drop(s.cache);
    let (cache, report) = AudioCache::open(s.dir.path(), config(200_000)).unwrap();
    assert_eq!(report.evicted, vec![b.clone()]);
    assert!(cache.contains(&a) && cache.contains(&d) && !cache.contains(&b));

    // Even a cap smaller than the pinned bytes never evicts a pinned file.
    drop(cache);
    let (cache, _) = AudioCache::open(s.dir.path(), config(50_000)).unwrap();
    assert!(cache.contains(&a));
    assert!(!cache.contains(&d));
}

#[test]
fn a_pin_that_cannot_fit_is_refused_with_the_bytes_needed_and_available() {
    let s = setup(config(1_000));
    let h1 = "1".repeat(64);
    let h2 = "2".repeat(64);
    s.cache.pin("p1", &[(h1.as_str(), 600)]).unwrap();
    let err = s
        .cache
        .pin("p2", &[(h1.as_str(), 600), (h2.as_str(), 500)])
        .unwrap_err();
    assert!(
        matches!(&err, CacheError::PinRefused { owner, needed: 500, available: 400, cap: 1_000 } if owner == "p2"),
        "{err:?}"
    );
    // h1 is already pinned by p1, so it costs p2 nothing.
    s.cache
        .pin("p2", &[(h1.as_str(), 600), (h2.as_str(), 400)])
        .unwrap();
    let stats = s.cache.stats().unwrap();
    assert_eq!((stats.pinned_bytes, stats.pinned_files), (1_000, 2));

    s.cache.unpin("p1").unwrap();
    assert_eq!(
        s.cache.stats().unwrap().pinned_bytes,
        1_000,
        "p2 still pins h1"
    );
    s.cache.unpin("p2").unwrap();
    assert_eq!(s.cache.stats().unwrap().pinned_bytes, 0);

    // set_pins replaces an owner's pins, so its old ones do not count against the new set.
    s.cache.pin("p3", &[(h1.as_str(), 900)]).unwrap();
    s.cache.set_pins("p3", &[(h2.as_str(), 900)]).unwrap();
    assert_eq!(s.cache.stats().unwrap().pinned_files, 1);
}

#[test]
fn a_pin_reserves_room_so_unpinned_files_make_way() {
    let s = setup(config(250_000));
    let a = s.server.add_media(bytes(100_000, 20));
    let b = s.server.add_media(bytes(100_000, 21));
    s.cache.fetch(&s.fetcher, &a, 100_000).unwrap();
    s.cache.fetch(&s.fetcher, &b, 100_000).unwrap();
    let future = "f".repeat(64);
    s.cache.pin("p", &[(future.as_str(), 100_000)]).unwrap();
    // 200 000 cached + 100 000 reserved > 250 000: the least recently used file goes.
    assert!(!s.cache.contains(&a));
    assert!(s.cache.contains(&b));
}

#[test]
fn open_repairs_what_a_crash_left_behind() {
    let s = setup(config(1 << 30));
    let audio = s.dir.path().join("audio");
    let a = s.server.add_media(bytes(10_000, 30));
    let b = s.server.add_media(bytes(10_000, 31));
    s.cache.fetch(&s.fetcher, &a, 10_000).unwrap();
    s.cache.fetch(&s.fetcher, &b, 10_000).unwrap();
    drop(s.cache);

    // B's file deleted behind the index's back.
    fs::remove_file(audio.join(&b[..2]).join(&b)).unwrap();
    // An orphan whose content matches its name (crash between rename and index write).
    let c_data = bytes(7_000, 32);
    let c = blake3::hash(&c_data).to_hex().to_string();
    fs::create_dir_all(audio.join(&c[..2])).unwrap();
    fs::write(audio.join(&c[..2]).join(&c), &c_data).unwrap();
    // An orphan whose content does not match its name, and a stray file.
    let d = "d".repeat(64);
    fs::create_dir_all(audio.join("dd")).unwrap();
    fs::write(audio.join("dd").join(&d), b"not this").unwrap();
    fs::write(audio.join("dd").join("notes.txt"), b"?").unwrap();
    // A recent part (kept for resume) and a stale one (deleted).
    let e_data = bytes(90_000, 33);
    let e = s.server.add_media(e_data.clone());
    let e_part = part_of(s.dir.path(), &e);
    fs::create_dir_all(e_part.parent().unwrap()).unwrap();
    fs::write(&e_part, &e_data[..20_000]).unwrap();
    let f = "e".repeat(64);
    let f_part = part_of(s.dir.path(), &f);
    fs::create_dir_all(f_part.parent().unwrap()).unwrap();
    fs::write(&f_part, b"old").unwrap();
    let eight_days_ago = SystemTime::now() - Duration::from_secs(8 * 24 * 3600);
    fs::File::options()
        .write(true)
        .open(&f_part)
        .unwrap()
        .set_modified(eight_days_ago)
        .unwrap();

    let (cache, report) = AudioCache::open(s.dir.path(), config(1 << 30)).unwrap();
    assert_eq!(report.adopted, vec![c.clone()]);
    assert_eq!(report.dropped_rows, vec![b.clone()]);
    let mut removed = report.removed_files.clone();
    removed.sort();
    assert_eq!(
        removed,
        vec![
            audio.join("dd").join(&d),
            audio.join("dd").join("notes.txt")
        ]
    );
    assert_eq!(report.removed_parts, vec![f_part.clone()]);
    assert_eq!(report.kept_parts, vec![e_part.clone()]);
    assert!(!report.is_clean());
    assert!(cache.contains(&a) && cache.contains(&c) && !cache.contains(&b));
    assert!(!f_part.exists());

    // The kept part resumes.
    let fetcher = Fetcher::new(&s.server.base_url, TOKEN).unwrap();
    let path = cache.fetch(&fetcher, &e, 90_000).unwrap();
    assert_eq!(fs::read(path).unwrap(), e_data);
    assert_eq!(s.server.served(&e)[0].range_from, Some(20_000));

    // Opening again finds nothing to repair.
    drop(cache);
    let (_, report) = AudioCache::open(s.dir.path(), config(1 << 30)).unwrap();
    assert!(report.is_clean(), "{report:?}");
}

#[test]
fn verify_removes_a_file_with_a_flipped_byte_so_it_is_fetched_again() {
    let s = setup(config(1 << 30));
    let a_data = bytes(40_000, 40);
    let a = s.server.add_media(a_data.clone());
    let b = s.server.add_media(bytes(40_000, 41));
    let a_path = s.cache.fetch(&s.fetcher, &a, 40_000).unwrap();
    s.cache.fetch(&s.fetcher, &b, 40_000).unwrap();

    let mut on_disk = fs::read(&a_path).unwrap();
    on_disk[12_345] ^= 0x01;
    fs::write(&a_path, on_disk).unwrap();

    let report = s.cache.verify().unwrap();
    assert_eq!(report.corrupt, vec![a.clone()]);
    assert_eq!((report.checked, report.checked_bytes), (2, 80_000));
    assert!(report.missing.is_empty());
    assert!(!a_path.exists() && !s.cache.contains(&a) && s.cache.contains(&b));

    assert_eq!(
        fs::read(s.cache.fetch(&s.fetcher, &a, 40_000).unwrap()).unwrap(),
        a_data
    );
}

#[test]
fn a_progressive_reader_returns_exactly_the_file_while_it_downloads() {
    let s = setup(config(1 << 30));
    let data = bytes(200_000, 50);
    let hash = s.server.add_media(data.clone());
    // About a second for the whole file: still downloading after the first read, however
    // late this thread gets to run again.
    s.server.throttle(4_096, Duration::from_millis(20));

    let mut reader = s
        .cache
        .open_progressive(&s.fetcher, &hash, 200_000)
        .unwrap();
    assert_eq!(reader.len(), 200_000);
    let mut head = vec![0u8; 1_000];
    reader.read_exact(&mut head).unwrap();
    assert_eq!(head, data[..1_000]);
    assert!(
        !reader.is_complete() && !s.cache.contains(&hash),
        "still downloading"
    );
    assert!(s.cache.is_downloading(&hash));

    // Seeking ahead waits for those bytes; seeking back reads what is there.
    reader.seek(SeekFrom::End(-100)).unwrap();
    let mut tail = Vec::new();
    reader.read_to_end(&mut tail).unwrap();
    assert_eq!(tail, data[199_900..]);
    reader.seek(SeekFrom::Start(1_000)).unwrap();
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, data[1_000..]);
    assert!(reader.is_complete());
    assert!(s.cache.contains(&hash));

    // The same file read from the start through a reader on the cached file.
    let mut cached = s
        .cache
        .open_progressive(&s.fetcher, &hash, 200_000)
        .unwrap();
    let mut all = Vec::new();
    cached.read_to_end(&mut all).unwrap();
    assert_eq!(all, data);
    assert_eq!(s.server.served(&hash).len(), 1);
}

fn seek_part_of(root: &Path, hash: &str) -> std::path::PathBuf {
    root.join("audio")
        .join(&hash[..2])
        .join(format!("{hash}.seek.part"))
}

#[test]
fn a_seek_far_beyond_the_download_is_fetched_first_and_the_file_still_verifies() {
    let s = setup(config(1 << 30));
    const SIZE: usize = 2 << 20;
    const FAR: u64 = 1_536 * 1024;
    let data = bytes(SIZE, 52);
    let hash = s.server.add_media(data.clone());
    // About 2.6 s for the whole file: the prefix cannot reach FAR while the seek is served.
    s.server.throttle(32 * 1024, Duration::from_millis(40));

    let mut reader = s
        .cache
        .open_progressive(&s.fetcher, &hash, SIZE as u64)
        .unwrap();
    let mut head = vec![0u8; 1_000];
    reader.read_exact(&mut head).unwrap();
    assert_eq!(head, data[..1_000]);

    reader.seek(SeekFrom::Start(FAR)).unwrap();
    let mut there = vec![0u8; 64 * 1024];
    reader.read_exact(&mut there).unwrap();
    assert_eq!(there, data[FAR as usize..FAR as usize + there.len()]);
    let prefix = fs::metadata(part_of(s.dir.path(), &hash)).unwrap().len();
    assert!(
        prefix < FAR,
        "the seek was served before the download got there ({prefix} bytes)"
    );
    let jump = s
        .server
        .served(&hash)
        .into_iter()
        .find(|r| r.range_from == Some(FAR));
    assert!(
        jump.is_some_and(|r| r.status == 206 && r.range_last.is_none()),
        "{:?}",
        s.server.served(&hash)
    );

    // Reading on, then back before the seek, gives the file exactly.
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, data[FAR as usize + there.len()..]);
    reader.seek(SeekFrom::Start(0)).unwrap();
    let mut all = Vec::new();
    reader.read_to_end(&mut all).unwrap();
    assert!(all == data, "the whole file, read back");

    let path = s.cache.fetch(&s.fetcher, &hash, SIZE as u64).unwrap();
    assert!(fs::read(path).unwrap() == data);
    // The gap was filled by a request that stopped where the seek part began.
    assert!(
        s.server
            .served(&hash)
            .iter()
            .any(|r| r.range_last == Some(FAR - 1)),
        "{:?}",
        s.server.served(&hash)
    );
    assert!(!seek_part_of(s.dir.path(), &hash).exists());
    // Dropped requests may have had a few chunks in flight; nothing was fetched twice beyond.
    assert!(
        s.server.bytes_served() < SIZE as u64 + 512 * 1024,
        "{} bytes served for {SIZE}",
        s.server.bytes_served()
    );
}

#[test]
fn a_far_seek_on_a_server_without_ranges_waits_for_the_download() {
    let s = setup(config(1 << 30));
    const SIZE: usize = 1 << 20;
    let data = bytes(SIZE, 53);
    let hash = s.server.add_media(data.clone());
    s.server.ignore_range(true);
    s.server.throttle(64 * 1024, Duration::from_millis(5));

    let mut reader = s
        .cache
        .open_progressive(&s.fetcher, &hash, SIZE as u64)
        .unwrap();
    reader.seek(SeekFrom::Start(900_000)).unwrap();
    let mut tail = Vec::new();
    reader.read_to_end(&mut tail).unwrap();
    assert_eq!(tail, data[900_000..]);
    let path = s.cache.fetch(&s.fetcher, &hash, SIZE as u64).unwrap();
    assert!(fs::read(path).unwrap() == data);
    assert!(!seek_part_of(s.dir.path(), &hash).exists());
}

#[test]
fn a_seek_part_left_by_a_crash_is_deleted_and_the_part_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start();
    let fetcher = Fetcher::new(&server.base_url, TOKEN).unwrap();
    let data = bytes(300_000, 54);
    let hash = server.add_media(data.clone());
    let part = part_of(dir.path(), &hash);
    fs::create_dir_all(part.parent().unwrap()).unwrap();
    fs::write(&part, &data[..100_000]).unwrap();
    let seek_part = seek_part_of(dir.path(), &hash);
    fs::write(&seek_part, &data[250_000..260_000]).unwrap();

    let (cache, report) = AudioCache::open(dir.path(), config(1 << 30)).unwrap();
    assert_eq!(report.removed_files, vec![seek_part.clone()]);
    assert_eq!(report.kept_parts, vec![part]);
    let path = cache.fetch(&fetcher, &hash, 300_000).unwrap();
    assert!(fs::read(path).unwrap() == data);
    assert_eq!(server.served(&hash)[0].range_from, Some(100_000));
    assert!(!seek_part.exists());
}

#[test]
fn a_second_process_waits_for_the_first_ones_download_instead_of_fetching_it_again() {
    let s = setup(config(1 << 30));
    let data = bytes(400_000, 55);
    let hash = s.server.add_media(data.clone());
    // About 1.5 s for the whole file: the other process starts while it downloads.
    s.server.throttle(16 * 1024, Duration::from_millis(60));
    let mut reader = s
        .cache
        .open_progressive(&s.fetcher, &hash, 400_000)
        .unwrap();
    let mut head = vec![0u8; 1_000];
    reader.read_exact(&mut head).unwrap();

    // Another process: its own cache over the same directory (its own locks and index handle).
    let (other, _) = AudioCache::open(s.dir.path(), config(1 << 30)).unwrap();
    assert!(
        other.clear().is_ok() && part_of(s.dir.path(), &hash).exists(),
        "clear spares a part another process is downloading into"
    );
    let path = other.fetch(&s.fetcher, &hash, 400_000).unwrap();
    assert!(fs::read(&path).unwrap() == data);
    assert_eq!(s.server.served(&hash).len(), 1, "downloaded once");
    assert_eq!(s.server.bytes_served(), 400_000);

    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert!(rest == data[1_000..]);
}

#[test]
fn a_progressive_reader_over_a_corrupt_download_fails_instead_of_ending() {
    let s = setup(config(1 << 30));
    let hash = blake3::hash(b"the real thing").to_hex().to_string();
    s.server.add_media_as(&hash, bytes(50_000, 51));
    let mut reader = s.cache.open_progressive(&s.fetcher, &hash, 50_000).unwrap();
    let err = reader.read_to_end(&mut Vec::new()).unwrap_err();
    let inner = err.get_ref().and_then(|e| e.downcast_ref::<CacheError>());
    assert!(matches!(inner, Some(CacheError::Corrupt { .. })), "{err:?}");
}

#[test]
fn concurrent_fetches_of_one_hash_download_it_once() {
    let s = setup(config(1 << 30));
    let cache = Arc::new(s.cache.clone());
    let tracks: Vec<(String, Vec<u8>)> = (0..3)
        .map(|i| {
            let data = bytes(100_000, 60 + i);
            (s.server.add_media(data.clone()), data)
        })
        .collect();
    s.server.throttle(8_192, Duration::from_millis(5));

    // Two threads per track, three tracks at once.
    let barrier = Arc::new(Barrier::new(6));
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let (cache, fetcher, barrier) = (cache.clone(), s.fetcher.clone(), barrier.clone());
            let hash = tracks[i % 3].0.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let mut last = 0;
                let path = cache
                    .fetch_with_progress(&fetcher, &hash, 100_000, |n| last = n)
                    .unwrap();
                assert_eq!(last, 100_000);
                path
            })
        })
        .collect();
    let paths: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    for (i, (hash, data)) in tracks.iter().enumerate() {
        assert_eq!(paths[i], paths[i + 3]);
        assert_eq!(fs::read(&paths[i]).unwrap(), *data);
        assert_eq!(s.server.served(hash).len(), 1, "one download per hash");
    }
    assert_eq!(s.server.bytes_served(), 300_000);
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_pauses_the_download_with_a_distinct_error_and_no_index_row() {
    let dev_full = Path::new("/dev/full");
    if fs::OpenOptions::new().write(true).open(dev_full).is_err() {
        // No /dev/full here (a minimal container): the mapping itself is unit-tested in `error`.
        return;
    }
    let s = setup(config(1 << 30));
    let data = bytes(50_000, 70);
    let hash = s.server.add_media(data.clone());
    // Every write to the part now fails with ENOSPC, as on a full disk.
    let part = part_of(s.dir.path(), &hash);
    fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(dev_full, &part).unwrap();

    let err = s.cache.fetch(&s.fetcher, &hash, 50_000).unwrap_err();
    assert!(
        matches!(&err, CacheError::DiskFull { path } if *path == part),
        "{err:?}"
    );
    assert!(err.to_string().contains("downloads are paused"));
    assert!(!s.cache.contains(&hash));
    assert_eq!(s.cache.stats().unwrap().files, 0);

    // Space is back: the download goes through.
    fs::remove_file(&part).unwrap();
    assert_eq!(
        fs::read(s.cache.fetch(&s.fetcher, &hash, 50_000).unwrap()).unwrap(),
        data
    );
}

#[test]
fn clear_frees_everything_but_pinned_files() {
    let s = setup(config(1 << 30));
    let a = s.server.add_media(bytes(30_000, 80));
    let b = s.server.add_media(bytes(20_000, 81));
    let c = s.server.add_media(bytes(50_000, 82));
    let art = "a".repeat(64);
    s.server.add_art(&art, bytes(1_000, 83));
    s.cache.pin("p", &[(a.as_str(), 30_000)]).unwrap();
    s.cache.fetch(&s.fetcher, &a, 30_000).unwrap();
    s.cache.fetch(&s.fetcher, &b, 20_000).unwrap();
    s.server.cut_next_after(5_000);
    s.cache.fetch(&s.fetcher, &c, 50_000).unwrap_err();
    s.cache.fetch_art(&s.fetcher, &art).unwrap();

    assert_eq!(s.cache.clear().unwrap(), 20_000 + 5_000 + 1_000);
    assert!(s.cache.contains(&a) && !s.cache.contains(&b));
    let stats = s.cache.stats().unwrap();
    assert_eq!(
        (
            stats.files,
            stats.used_bytes,
            stats.partial_files,
            stats.art_files
        ),
        (1, 30_000, 0, 0)
    );
}

#[test]
fn cover_art_is_fetched_whole_once_and_kept_by_its_hash() {
    let s = setup(config(1 << 30));
    let art = "0a".repeat(32);
    let image = bytes(5_000, 90);
    s.server.add_art(&art, image.clone());
    assert_eq!(s.cache.art_path(&art), None);
    let path = s.cache.fetch_art(&s.fetcher, &art).unwrap();
    assert_eq!(path, s.dir.path().join("art").join(&art));
    assert_eq!(fs::read(&path).unwrap(), image);
    assert_eq!(s.cache.fetch_art(&s.fetcher, &art).unwrap(), path);
    assert_eq!(s.server.served(&art).len(), 1);
    assert_eq!(s.cache.art_path(&art), Some(path));
    let stats = s.cache.stats().unwrap();
    assert_eq!(
        (stats.art_files, stats.art_bytes, stats.used_bytes),
        (1, 5_000, 0)
    );
}

#[test]
fn server_refusals_become_errors_that_say_what_to_do() {
    let s = setup(config(1 << 30));
    let missing = "9".repeat(64);
    let err = s.cache.fetch(&s.fetcher, &missing, 10).unwrap_err();
    assert!(matches!(err, CacheError::NotFound { .. }), "{err:?}");
    assert!(
        !part_of(s.dir.path(), &missing).exists(),
        "no empty part left behind"
    );

    let hash = s.server.add_media(bytes(1_000, 91));
    let stranger = Fetcher::new(&s.server.base_url, "wrong").unwrap();
    let err = s.cache.fetch(&stranger, &hash, 1_000).unwrap_err();
    assert!(
        matches!(err, CacheError::Unauthorized { status: 401 }),
        "{err:?}"
    );
    assert!(err.to_string().contains("log in again"));

    let err = s
        .cache
        .fetch(&s.fetcher, "../../etc/passwd", 1)
        .unwrap_err();
    assert!(matches!(err, CacheError::InvalidHash(_)));

    let nobody = Fetcher::new("http://127.0.0.1:1", TOKEN).unwrap();
    let err = s.cache.fetch(&nobody, &hash, 1_000).unwrap_err();
    assert!(
        matches!(err, CacheError::Network { .. }) && err.is_retryable(),
        "{err:?}"
    );
}
