//! The library changing under the server: bad files, moves, deletions, rescans, restarts.

use crate::common::*;
use reqwest::Method;
use serde_json::Value;

fn track_by_path<'a>(tracks: &'a [Value], hash: &str) -> Option<&'a Value> {
    tracks.iter().find(|t| t["content_hash"] == hash)
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_files_are_skipped_with_reasons_while_the_rest_is_indexed() {
    let s = TestServer::with_library(|lib| {
        copy_dir(&demo_dir(), lib);
        let mp3 = files_with_ext(lib, &["mp3"]).remove(0);
        let bytes = std::fs::read(lib.join(&mp3)).unwrap();
        let broken = lib.join("Broken");
        std::fs::create_dir_all(&broken).unwrap();
        // Cut inside the tag: the header promises more than the file holds.
        std::fs::write(broken.join("truncated.mp3"), &bytes[..bytes.len().min(600)]).unwrap();
        let noise: Vec<u8> = (0..50_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        std::fs::write(broken.join("noise.flac"), noise).unwrap();
        std::fs::write(broken.join("empty.ogg"), b"").unwrap();
    })
    .await;
    let status = s.scan_status().await;
    let demo_count =
        files_with_ext(&demo_dir(), &["mp3", "flac", "ogg", "opus", "m4a", "wav"]).len();
    assert_eq!(
        s.all_tracks().await.len(),
        demo_count,
        "every good file is indexed"
    );
    let mut failed: Vec<(&str, &str)> = status
        .failures
        .iter()
        .map(|f| (f.path.as_str(), f.reason.as_str()))
        .collect();
    failed.sort();
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert_eq!(failed[0].0, "Broken/empty.ogg");
    assert_eq!(failed[0].1, "empty file");
    assert_eq!(failed[1].0, "Broken/noise.flac");
    assert_eq!(failed[2].0, "Broken/truncated.mp3");
    assert!(failed.iter().all(|(_, reason)| !reason.is_empty()));
    // A rescan reports them again and changes nothing else.
    let again = s.rescan().await;
    assert_eq!(again.failures.len(), 3);
    assert_eq!(again.files_unchanged as usize, demo_count);
    assert_eq!(
        again.tracks_added + again.tracks_updated + again.tracks_removed,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn moved_files_keep_their_track_id_and_deleted_ones_go() {
    let s = TestServer::demo().await;
    let before = s.all_tracks().await;
    let files = files_with_ext(&s.library, &["opus", "ogg", "mp3"]);
    let (moved, deleted) = (&files[0], &files[1]);
    let moved_hash = blake3::hash(&std::fs::read(s.library.join(moved)).unwrap())
        .to_hex()
        .to_string();
    let deleted_hash = blake3::hash(&std::fs::read(s.library.join(deleted)).unwrap())
        .to_hex()
        .to_string();
    let id_before = track_by_path(&before, &moved_hash).unwrap()["id"].clone();
    let deleted_id = track_by_path(&before, &deleted_hash).unwrap()["id"]
        .as_i64()
        .unwrap();

    // A playlist holding the deleted track keeps that entry as unavailable (it plays again if
    // the file returns), and the feed says the playlist changed.
    let r = s
        .req(Method::POST, "/api/v1/playlists", &s.admin_token)
        .json(&serde_json::json!({"name": "p"}))
        .send()
        .await
        .unwrap();
    let p: Value = r.json().await.unwrap();
    let pid = p["id"].as_str().unwrap().to_string();
    let r = s
        .req(
            Method::POST,
            &format!("/api/v1/playlists/{pid}/entries"),
            &s.admin_token,
        )
        .json(&serde_json::json!({"track_ids": [deleted_id, id_before]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let since = s.admin_get("/api/v1/changes?since=0&limit=1").await["revision"]
        .as_i64()
        .unwrap();

    let target_dir = s.library.join("Moved Here");
    std::fs::create_dir_all(&target_dir).unwrap();
    let ext = moved.rsplit('.').next().unwrap();
    std::fs::rename(
        s.library.join(moved),
        target_dir.join(format!("renamed.{ext}")),
    )
    .unwrap();
    std::fs::remove_file(s.library.join(deleted)).unwrap();

    let status = s.rescan().await;
    assert_eq!(
        (
            status.tracks_moved,
            status.tracks_removed,
            status.tracks_added
        ),
        (1, 1, 0),
        "{status:?}"
    );
    let after = s.all_tracks().await;
    assert_eq!(after.len(), before.len() - 1);
    assert_eq!(
        track_by_path(&after, &moved_hash).unwrap()["id"],
        id_before,
        "the moved track keeps its id"
    );
    assert!(track_by_path(&after, &deleted_hash).is_none());
    let r = s
        .req(
            Method::GET,
            &format!("/api/v1/tracks/{}/stream", id_before),
            &s.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "the moved track streams from its new place"
    );

    let playlist = s.admin_get(&format!("/api/v1/playlists/{pid}")).await;
    let entries: Vec<(i64, bool)> = playlist["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["track_id"].as_i64().unwrap(),
                e["available"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [(deleted_id, false), (id_before.as_i64().unwrap(), true)]
    );
    let feed = s.admin_get(&format!("/api/v1/changes?since={since}")).await;
    let kinds: Vec<&str> = feed["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"track_deleted") && kinds.contains(&"playlist") && kinds.contains(&"track"),
        "{kinds:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn symlinks_out_of_the_library_are_neither_indexed_nor_served() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.mp3");
    let mp3 = files_with_ext(&demo_dir(), &["mp3"]).remove(0);
    std::fs::copy(demo_dir().join(&mp3), &secret).unwrap();
    let s = TestServer::with_library(|lib| {
        copy_dir(&demo_dir(), lib);
        #[cfg(unix)]
        std::os::unix::fs::symlink(&secret, lib.join("link.mp3")).unwrap();
    })
    .await;
    let demo_count =
        files_with_ext(&demo_dir(), &["mp3", "flac", "ogg", "opus", "m4a", "wav"]).len();
    assert_eq!(
        s.all_tracks().await.len(),
        demo_count,
        "the symlink is not followed"
    );

    // A file swapped for a symlink after the scan is refused at stream time.
    let tracks = s.all_tracks().await;
    let victim = tracks.iter().find(|t| t["format"] == "mp3").unwrap();
    let victim_hash = victim["content_hash"].as_str().unwrap();
    let path = files_with_ext(&s.library, &["mp3"])
        .into_iter()
        .find(|p| {
            blake3::hash(&std::fs::read(s.library.join(p)).unwrap())
                .to_hex()
                .as_str()
                == victim_hash
        })
        .unwrap();
    std::fs::remove_file(s.library.join(&path)).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&secret, s.library.join(&path)).unwrap();
    let r = s
        .req(
            Method::GET,
            &format!("/api/v1/tracks/{}/stream", victim["id"]),
            &s.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    assert_eq!(error_code(r).await, "file_gone");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_rejects_bad_requests_with_json_errors() {
    let s = TestServer::demo().await;
    let r = s
        .req(Method::GET, "/api/v1/nothing-here", &s.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "not_found");
    let big = "x".repeat(2 * 1024 * 1024);
    // The server answers before reading the whole body and drops the connection, so this
    // request gets a connection of its own.
    let r = reqwest::Client::new()
        .post(s.url("/api/v1/playlists"))
        .bearer_auth(&s.admin_token)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = s
        .req(Method::POST, "/api/v1/playlists", &s.admin_token)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415, "JSON needs its content type");
    let alice = s.user("alice").await;
    let r = s
        .req(Method::POST, "/api/v1/scan", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "only admins start scans");
    let metrics = s
        .http
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("mixtape_http_request_duration_seconds"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_keeps_the_catalog_ids_and_playlists() {
    let s = TestServer::demo().await;
    let before = s.all_tracks().await;
    let r = s
        .req(Method::POST, "/api/v1/playlists", &s.admin_token)
        .json(&serde_json::json!({"name": "kept"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let s = s.restart().await;
    let status = s.scan_status().await;
    assert_eq!(
        status.files_unchanged as usize,
        before.len(),
        "nothing re-read after a restart"
    );
    assert_eq!(s.all_tracks().await, before);
    let playlists = s.admin_get("/api/v1/playlists").await;
    assert_eq!(playlists[0]["name"], "kept");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_watcher_picks_up_added_and_removed_files() {
    let s = TestServer::demo_with(|c| c.watch = true).await;
    let before = s.all_tracks().await.len();
    let source = files_with_ext(&s.library, &["ogg"]).remove(0);
    let bytes = std::fs::read(s.library.join(&source)).unwrap();
    let mut changed = bytes.clone();
    // Different bytes, so this is a new track rather than a copy of one.
    changed.extend_from_slice(&[0u8; 16]);
    let added = s.library.join("Dropped In").join("new.ogg");
    std::fs::create_dir_all(added.parent().unwrap()).unwrap();
    std::fs::write(&added, &changed).unwrap();

    wait_for_track_count(&s, before + 1).await;
    std::fs::remove_file(&added).unwrap();
    wait_for_track_count(&s, before).await;
}

async fn wait_for_track_count(s: &TestServer, want: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let now = s.all_tracks().await.len();
        if now == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the watcher never got to {want} tracks (at {now})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = TestServer::demo_with(|c| c.header_timeout_secs = 1).await;
    let mut slow = tokio::net::TcpStream::connect(s.base.trim_start_matches("http://"))
        .await
        .unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(std::time::Duration::from_secs(30), slow.read(&mut buf)).await;
    let n = read
        .expect("the server closes the connection instead of waiting forever")
        .unwrap_or(0);
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(n == 0 || answer.starts_with("HTTP/1.1 408"), "{answer}");
    // Everyone else is still served: on a new connection, since the same timeout also ends
    // the test client's pooled ones, idle as long, and reusing one races its close.
    let fresh = reqwest::Client::new();
    assert_eq!(
        fresh.get(s.url("/healthz")).send().await.unwrap().status(),
        200
    );
}
