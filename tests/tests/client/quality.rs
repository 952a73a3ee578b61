//! Offline playlists at a quality: the size is shown before anything is fetched, renditions are
//! cached under their own blake3 and verified, a quality change downloads the new files before
//! it frees the old ones, and `original` stays the default.

use crate::common::TestServer;
use crate::support::{ClientDevice, Proxy, blake3_of};
use serde_json::Value;
use std::path::PathBuf;

use mixtape::cli::megabytes;

/// (content hash, exact size in `profile`) of each track, as the server computes them.
async fn sizes(server: &TestServer, tracks: &[i64], profile: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for t in tracks {
        let r: Value = server
            .admin_get(&format!("/api/v1/tracks/{t}/renditions"))
            .await;
        let size = r["renditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["profile"] == profile)
            .unwrap_or_else(|| panic!("no {profile} in {r}"))["size_bytes"]
            .as_u64()
            .unwrap();
        out.push((r["content_hash"].as_str().unwrap().to_owned(), size));
    }
    out
}

/// Per track: the cached rendition's path in `profile`, if any.
async fn cached(dev: &ClientDevice, hashes: &[String], profile: &str) -> Vec<Option<PathBuf>> {
    let (hashes, profile) = (hashes.to_vec(), profile.to_owned());
    dev.with_device(move |d| {
        hashes
            .iter()
            .map(|h| d.cache.rendition_path(h, &profile))
            .collect()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_playlist_at_opus_96_verifies_switches_quality_and_frees_the_old_files() {
    let server = TestServer::demo().await;
    let tracks: Vec<i64> = server.track_ids().await[..3].to_vec();
    let proxy = Proxy::start(server.addr);
    let dev = ClientDevice::new();
    dev.login(&proxy.url()).await;
    let id = dev
        .json(&["playlists", "create", "Road trip", "--json"])
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ids: Vec<String> = tracks.iter().map(i64::to_string).collect();
    let mut args = vec!["playlists", "add", id.as_str()];
    args.extend(ids.iter().map(String::as_str));
    dev.ok(&args).await;

    // An unknown quality is refused with the ones the server offers, and nothing is marked.
    let run = dev
        .run(&["offline", "add", "Road trip", "--quality", "opus-999"])
        .await;
    assert_eq!(run.code, 2, "{run}");
    assert!(
        run.stderr.contains("opus-96") && run.stderr.contains("opus-999"),
        "{run}"
    );
    assert_eq!(dev.status().await["offline_playlists"], 0);

    // At opus-96: the exact total first, then renditions cached, not originals.
    let at96 = sizes(&server, &tracks, "opus-96").await;
    let hashes: Vec<String> = at96.iter().map(|(h, _)| h.clone()).collect();
    let total: u64 = at96.iter().map(|(_, s)| s).sum();
    let run = dev
        .ok(&["offline", "add", "Road trip", "--quality", "opus-96"])
        .await;
    let shown = format!("Road trip at opus-96: {}", megabytes(total));
    assert!(
        run.stdout.starts_with(&shown),
        "expected {shown:?} first:\n{run}"
    );
    let paths96: Vec<PathBuf> = cached(&dev, &hashes, "opus-96")
        .await
        .into_iter()
        .map(|p| p.expect("every track cached at opus-96"))
        .collect();
    for ((path, (hash, size)), track) in paths96.iter().zip(&at96).zip(&tracks) {
        // Named by its own blake3, of the exact length, and the server's bytes.
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        assert_eq!(blake3_of(path), name);
        assert_ne!(&name, hash, "a rendition is not the original");
        assert_eq!(std::fs::metadata(path).unwrap().len(), *size);
        let body = reqwest::Client::new()
            .get(format!(
                "{}/api/v1/tracks/{track}/stream?profile=opus-96",
                server.base
            ))
            .bearer_auth(&server.admin_token)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(blake3::hash(&body).to_hex().to_string(), name);
    }
    let hs = hashes.clone();
    let (originals, pinned, verify) = dev
        .with_device(move |d| {
            let originals = hs.iter().filter(|h| d.cache.contains(h)).count();
            let pinned = paths_pinned(d, &hs, "opus-96");
            (originals, pinned, d.cache.verify().unwrap())
        })
        .await;
    assert_eq!(originals, 0, "the originals were not downloaded");
    assert!(pinned);
    assert!(verify.corrupt.is_empty() && verify.missing.is_empty());
    assert!(verify.checked >= 3);

    // Switching to opus-64 while the server cannot send opus-64: the opus-96 files stay,
    // pinned, so the playlist stays playable.
    proxy.fail_requests(Some(("/opus-64 ", 503)));
    let run = dev
        .run(&["offline", "add", "Road trip", "--quality", "opus-64"])
        .await;
    let at64 = sizes(&server, &tracks, "opus-64").await;
    let total64: u64 = at64.iter().map(|(_, s)| s).sum();
    assert!(
        run.stdout
            .contains(&format!("Road trip at opus-64: {}", megabytes(total64))),
        "{run}"
    );
    assert!(proxy.failed() >= 3, "the opus-64 downloads were attempted");
    assert!(paths96.iter().all(|p| p.is_file()), "old files kept: {run}");
    let hs = hashes.clone();
    assert!(
        dev.with_device(move |d| paths_pinned(d, &hs, "opus-96"))
            .await
    );
    assert!(
        cached(&dev, &hashes, "opus-64")
            .await
            .iter()
            .all(Option::is_none)
    );

    // The server sends again: the next sync fetches opus-64, and only then frees opus-96.
    proxy.fail_requests(None);
    dev.ok(&["sync"]).await;
    let paths64 = cached(&dev, &hashes, "opus-64").await;
    for (p, (_, size)) in paths64.iter().zip(&at64) {
        let p = p.as_ref().expect("every track cached at opus-64");
        assert_eq!(std::fs::metadata(p).unwrap().len(), *size);
        assert_eq!(blake3_of(p), p.file_name().unwrap().to_str().unwrap());
    }
    assert!(paths96.iter().all(|p| !p.exists()), "opus-96 files freed");
    assert!(
        cached(&dev, &hashes, "opus-96")
            .await
            .iter()
            .all(Option::is_none)
    );
    let ls = dev.json(&["offline", "ls", "--json"]).await;
    assert_eq!(ls[0]["quality"], "opus-64", "{ls}");
    assert_eq!(ls[0]["cached"], 3, "{ls}");
    assert_eq!(ls[0]["bytes"], total64, "{ls}");

    // Without --quality the default download_quality, `original`, applies.
    let other = dev
        .json(&["playlists", "create", "Originals", "--json"])
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    dev.ok(&["playlists", "add", &other, &ids[0]]).await;
    let original_size = server
        .all_tracks()
        .await
        .iter()
        .find(|t| t["id"] == tracks[0])
        .unwrap()["size_bytes"]
        .as_u64()
        .unwrap();
    let run = dev.ok(&["offline", "add", "Originals"]).await;
    assert!(
        run.stdout.starts_with(&format!(
            "Originals at original: {}",
            megabytes(original_size)
        )),
        "{run}"
    );
    let h = hashes[0].clone();
    let path = dev.with_device(move |d| d.cache.path_of(&h)).await.unwrap();
    assert_eq!(blake3_of(&path), hashes[0]);
}

fn paths_pinned(d: &mixtape::device::Device, hashes: &[String], profile: &str) -> bool {
    hashes.iter().all(|h| {
        d.cache
            .rendition_path(h, profile)
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .is_some_and(|name| d.cache.is_pinned(&name))
    })
}
