//! Offline downloads go through the tracks' signed `media_url`, here through a real nginx edge
//! (`deploy/nginx/`) that the client uses as its server address: the files verify, a second
//! device is served from the edge's cache, and a device whose mirror holds refused URLs gets
//! fresh ones from the server.

#[path = "../../../server/tests/cluster/edge.rs"]
mod harness;

use crate::common::TestServer;
use crate::support::{ClientDevice, blake3_of};
use harness::Edge;
use mixtape::shared::api::{Change, ChangesPage};

/// Access-log lines of `GET` requests whose path starts with `prefix`.
fn lines<'a>(log: &'a str, prefix: &str) -> Vec<&'a str> {
    let needle = format!("\"GET {prefix}");
    log.lines().filter(|l| l.contains(&needle)).collect()
}

/// A playlist of `ids` made offline on `dev` (downloads run), returning its id.
async fn offline_playlist(dev: &ClientDevice, name: &str, ids: &[i64]) -> String {
    let id = dev.json(&["playlists", "create", name, "--json"]).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    let mut args = vec!["playlists", "add", id.as_str()];
    args.extend(ids.iter().map(String::as_str));
    dev.ok(&args).await;
    dev.ok(&["offline", "add", name]).await;
    id
}

/// Every track of `playlist` is cached under its blake3; returns how many.
async fn verified(dev: &ClientDevice, playlist: &str) -> usize {
    let playlist = playlist.to_string();
    dev.with_device(move |d| {
        let p = d.mirror.find_playlist(&playlist).unwrap();
        for e in &p.entries {
            let track = d.mirror.track(e.track_id).unwrap().unwrap();
            assert!(track.media_url.is_some(), "the mirror keeps media_url");
            let path = d
                .cache
                .path_of(&track.content_hash)
                .unwrap_or_else(|| panic!("track {} is not cached", track.id));
            assert_eq!(blake3_of(&path), track.content_hash);
        }
        p.entries.len()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_downloads_use_signed_media_urls_through_the_edge() {
    let server = TestServer::demo().await;
    let tracks = server.track_ids().await;
    let edge = Edge::start(&server.addr.to_string(), &server.data.join("media.key"));

    // Device A: every download through the edge's signed route, none by token.
    let a = ClientDevice::new();
    a.login(&edge.url()).await;
    let first = offline_playlist(&a, "Edge", &tracks[..4]).await;
    assert_eq!(verified(&a, &first).await, 4);
    let log = edge.access_log();
    let signed = lines(&log, "/media/");
    assert!(signed.len() >= 4, "{log}");
    assert!(
        signed
            .iter()
            .all(|l| l.contains(" 200 ") || l.contains(" 206 ")),
        "{log}"
    );
    assert!(signed.iter().all(|l| l.contains("cache=MISS")), "{log}");
    assert!(
        lines(&log, "/api/v1/media/").is_empty(),
        "no token route: {log}"
    );

    // Device B: the same tracks come from the edge's cache.
    let b = ClientDevice::new();
    b.login(&edge.url()).await;
    let second = offline_playlist(&b, "Edge again", &tracks[..4]).await;
    assert_eq!(verified(&b, &second).await, 4);
    let log = edge.access_log();
    let served_to_b = &lines(&log, "/media/")[signed.len()..];
    assert!(served_to_b.len() >= 4, "{log}");
    assert!(served_to_b.iter().all(|l| l.contains("cache=HIT")), "{log}");

    // Device C's mirror holds URLs the edge refuses (as after their expiry): it asks the server
    // for fresh ones and still downloads through the edge, verified.
    let c = ClientDevice::new();
    c.login(&edge.url()).await;
    c.ok(&["sync"]).await;
    let tampered = tracks[4..6].to_vec();
    c.with_device(move |d| {
        let since = d.mirror.since().unwrap();
        let revision = d.mirror.revision().unwrap();
        let mut changes = Vec::new();
        for id in &tampered {
            let mut track = d
                .mirror
                .track(mixtape::shared::TrackId(*id))
                .unwrap()
                .unwrap();
            let url = track.media_url.clone().unwrap();
            let (head, _) = url.split_once("&s=").unwrap();
            track.media_url = Some(format!("{head}&s={}", "0".repeat(64)));
            changes.push(Change::Track {
                rev: revision,
                track: Box::new(track),
            });
        }
        d.mirror
            .apply_changes(&ChangesPage {
                changes,
                next_since: since.clone(),
                has_more: false,
                revision,
            })
            .unwrap();
    })
    .await;
    let before = edge.access_log();
    let third = offline_playlist(&c, "Refreshed", &tracks[4..6]).await;
    assert_eq!(verified(&c, &third).await, 2);
    let log = edge.access_log();
    let new = &log[before.len()..];
    let refused = lines(new, "/media/")
        .into_iter()
        .filter(|l| l.contains(" 403 "))
        .count();
    assert_eq!(refused, 2, "{new}");
    assert_eq!(lines(new, "/api/v1/media-url/").len(), 2, "{new}");
    assert!(lines(new, "/api/v1/media/").is_empty(), "{new}");
    let fetched = lines(new, "/media/")
        .into_iter()
        .filter(|l| l.contains(" 200 ") || l.contains(" 206 "))
        .count();
    assert!(fetched >= 2, "{new}");
}
