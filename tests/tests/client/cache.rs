//! The audio cache end to end: a download killed with SIGKILL resumes where it stopped, a
//! corrupted file is caught and fetched again, and the size cap holds without touching pins.

use crate::common::{TestServer, copy_dir, demo_dir};
use crate::support::{ClientDevice, Proxy, blake3_of, blocking, cli_entries, poll};
use serde_json::Value;
use std::time::Duration;

/// `(id, content_hash, size_bytes)` of a server track.
fn track_facts(t: &Value) -> (i64, String, u64) {
    (
        t["id"].as_i64().unwrap(),
        t["content_hash"].as_str().unwrap().to_string(),
        t["size_bytes"].as_u64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_killed_mid_file_resumes_at_the_next_start_and_verifies() {
    // ~32 MB of noise beside the demo library.
    let mut big_size = 0;
    let server = TestServer::with_library(|lib| {
        copy_dir(&demo_dir(), lib);
        let dir = lib.join("Test Signals/White Noise");
        std::fs::create_dir_all(&dir).unwrap();
        big_size = crate::support::write_noise_wav(&dir.join("01 - Static.wav"), 190);
    })
    .await;
    let big = server
        .all_tracks()
        .await
        .into_iter()
        .find(|t| t["size_bytes"].as_u64() == Some(big_size))
        .expect("the big track is scanned");
    let (big_id, hash, size) = track_facts(&big);

    let proxy = Proxy::start(server.addr);
    let dev = ClientDevice::new();
    dev.login(&proxy.url()).await;
    let id = dev.json(&["playlists", "create", "Noise", "--json"]).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    dev.ok(&["playlists", "add", &id, &big_id.to_string()])
        .await;

    // The server may send half the file, then the transfer stalls; the client is killed once
    // it has written all of that half (so a restart from zero could not pass the byte count).
    proxy.reset_served();
    let budget = size / 2;
    proxy.set_budget(budget);
    let mut child = dev.spawn(&["offline", "add", &id]);
    let part = dev.part_path(&hash);
    let written = blocking({
        let part = part.clone();
        move || {
            let written = poll(Duration::from_secs(30), "the partial download", || {
                if let Some(code) = child.try_code() {
                    panic!("offline add ended early:\n{}", child.output(code));
                }
                let len = std::fs::metadata(&part).map_or(0, |m| m.len());
                // Response headers count in the budget but are not in the file.
                (len > 0 && len + 64 * 1024 >= budget).then_some(len)
            });
            child.kill9();
            written
        }
    })
    .await;
    let left = std::fs::metadata(&part)
        .expect("the part survives SIGKILL")
        .len();
    assert!(left >= written && left < size, "part {left} of {size}");

    // The next start keeps the part and fetches only the rest.
    proxy.set_budget(u64::MAX);
    let run = dev.ok(&["offline", "add", &id]).await;
    assert!(run.stdout.contains("1 of 1 tracks cached"), "{run}");
    let served = proxy.served();
    assert!(
        served >= size && (served as f64) < size as f64 * 1.05,
        "the server sent {served} bytes for a {size}-byte track ({left} were kept)"
    );
    assert!(!part.exists(), "the part is gone once the file is complete");
    let (path, stats) = dev
        .with_device(move |d| (d.cache.path_of(&hash), d.cache.stats().unwrap()))
        .await;
    let path = path.expect("the track is cached");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), size);
    assert_eq!(blake3_of(&path), big["content_hash"].as_str().unwrap());
    assert_eq!(stats.partial_files, 0);
    assert_eq!(dev.show(&id).await["entries"][0]["cached"], true);
}

/// Creates playlist `name` with `tracks` on the device (online); returns its id.
async fn playlist_with(dev: &ClientDevice, name: &str, tracks: &[i64]) -> String {
    let id = dev.json(&["playlists", "create", name, "--json"]).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ids: Vec<String> = tracks.iter().map(i64::to_string).collect();
    let mut args = vec!["playlists", "add", id.as_str(), "--json"];
    args.extend(ids.iter().map(String::as_str));
    let shown = dev.json(&args).await;
    assert_eq!(cli_entries(&shown).len(), tracks.len());
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_verify_catches_a_corrupted_file_and_fetches_it_again() {
    let server = TestServer::demo().await;
    let tracks: Vec<_> = server.all_tracks().await.iter().map(track_facts).collect();
    let dev = ClientDevice::new();
    dev.login(&server.base).await;
    let ids: Vec<i64> = tracks[..3].iter().map(|t| t.0).collect();
    let id = playlist_with(&dev, "Keep", &ids).await;
    dev.ok(&["offline", "add", &id]).await;

    let (_, hash, _) = tracks[1].clone();
    let victim = hash.clone();
    let path = dev
        .with_device(move |d| d.cache.path_of(&victim).expect("cached"))
        .await;
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    assert_ne!(blake3_of(&path), hash);

    let report = dev.json(&["cache", "verify", "--json"]).await;
    assert_eq!(report["checked"], 3, "{report}");
    assert_eq!(report["corrupt"], serde_json::json!([hash]), "{report}");
    assert_eq!(report["refetched"], 1, "{report}");
    let victim = hash.clone();
    let again = dev
        .with_device(move |d| d.cache.path_of(&victim))
        .await
        .expect("fetched again");
    assert_eq!(blake3_of(&again), hash);

    let report = dev.json(&["cache", "verify", "--json"]).await;
    assert_eq!(report["corrupt"], serde_json::json!([]), "{report}");
    assert_eq!(report["checked"], 3, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_stays_under_its_cap_and_never_evicts_pinned_tracks() {
    let server = TestServer::demo().await;
    let tracks: Vec<_> = server.all_tracks().await.iter().map(track_facts).collect();
    let (pinned, unpinned) = tracks.split_at(3);
    let pinned_bytes: u64 = pinned.iter().map(|t| t.2).sum();
    let largest = tracks.iter().map(|t| t.2).max().unwrap();
    let total: u64 = tracks.iter().map(|t| t.2).sum();
    // Room for the pins and two of the biggest unpinned tracks, far from all of them.
    let cap = pinned_bytes + 2 * largest;
    assert!(
        cap < total - largest,
        "the demo library is too small for this test"
    );

    let dev = ClientDevice::new();
    dev.write_config(&format!("cache_cap_bytes = {cap}\n"));
    dev.login(&server.base).await;
    assert_eq!(dev.status().await["cache"]["cap_bytes"], cap);
    let ids: Vec<i64> = pinned.iter().map(|t| t.0).collect();
    let id = playlist_with(&dev, "Pinned", &ids).await;
    dev.ok(&["offline", "add", &id]).await;

    let (pinned_hashes, unpinned) = (
        pinned.iter().map(|t| t.1.clone()).collect::<Vec<_>>(),
        unpinned.to_vec(),
    );
    dev.with_device(move |d| {
        let fetcher = d.fetcher().unwrap();
        let mut fetched: Vec<String> = Vec::new();
        let mut evicted = false;
        for (id, hash, size) in &unpinned {
            let path = d.cache.fetch(&fetcher, hash, *size).unwrap();
            assert_eq!(blake3_of(&path), *hash, "track {id}");
            fetched.push(hash.clone());
            let stats = d.cache.stats().unwrap();
            assert!(
                stats.used_bytes <= cap,
                "{} bytes used, cap {cap}",
                stats.used_bytes
            );
            for h in &pinned_hashes {
                assert!(d.cache.contains(h), "pinned {h} was evicted");
            }
            evicted |= fetched.iter().any(|h| !d.cache.contains(h));
        }
        assert!(evicted, "nothing was ever evicted: the test proves nothing");
        assert!(
            d.cache.contains(fetched.last().unwrap()),
            "the track just fetched stays"
        );
    })
    .await;

    // A playlist bigger than the cap is refused, with what it would take.
    let all: Vec<i64> = tracks.iter().map(|t| t.0).collect();
    let everything = playlist_with(&dev, "Everything", &all).await;
    let run = dev.run(&["offline", "add", &everything]).await;
    assert_eq!(run.code, 6, "{run}");
    let needed = total - pinned_bytes;
    let available = cap - pinned_bytes;
    assert!(
        run.stderr.contains(&format!("needs {needed} more bytes"))
            && run.stderr.contains(&available.to_string()),
        "{run}"
    );
    let listed = dev.json(&["offline", "ls", "--json"]).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["cached"], 3, "{listed}");
    let stats = dev.status().await["cache"].clone();
    assert!(stats["used_bytes"].as_u64().unwrap() <= cap, "{stats}");
}
