//! With the server up: login mirrors the catalog, search runs on the mirror, and playlist edits
//! made with the CLI are on the server, in the same order, at once.

use crate::common::TestServer;
use crate::support::{ClientDevice, cli_entries, server_playlist};
use serde_json::Value;

fn track_ids(found: &Value) -> Vec<i64> {
    found["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_mirrors_the_catalog_and_playlist_edits_reach_the_server_in_order() {
    let server = TestServer::demo().await;
    let tracks = server.all_tracks().await;
    let id_of = |title: &str| {
        tracks
            .iter()
            .find(|t| t["title"] == title)
            .unwrap_or_else(|| panic!("no demo track {title:?}"))["id"]
            .as_i64()
            .unwrap()
    };
    let dev = ClientDevice::new();
    dev.login(&server.base).await;

    let status = dev.status().await;
    assert_eq!(status["link"], "online", "{status}");
    assert_eq!(status["user"], "admin");
    assert_eq!(status["server"], server.base.as_str());
    assert_eq!(status["tracks"].as_u64(), Some(tracks.len() as u64));
    assert_eq!(status["pending_ops"], 0);

    // A title word, in another case; and a word without its accent.
    let found = dev.json(&["search", "ESPRESSO", "--json"]).await;
    assert!(
        track_ids(&found).contains(&id_of("Slow Espresso")),
        "{found}"
    );
    let found = dev.json(&["search", "cafe", "nocturne", "--json"]).await;
    assert_eq!(
        track_ids(&found).first(),
        Some(&id_of("Café Nocturne")),
        "{found}"
    );
    let found = dev.json(&["search", "no-such-song-xyz", "--json"]).await;
    assert!(track_ids(&found).is_empty(), "{found}");

    let created = dev
        .json(&["playlists", "create", "Road Trip", "--json"])
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["name"], "Road Trip");
    assert_eq!(created["local_only"], false, "pushed at once: {created}");
    assert!(cli_entries(&created).is_empty());

    let t: Vec<i64> = ["Paper Cranes", "Hafið", "Kettle Song", "Shibuya Rain"]
        .iter()
        .map(|title| id_of(title))
        .collect();
    let (a, b, c, d) = (t[0].to_string(), t[1].to_string(), t[2].to_string(), t[3]);
    let added = dev
        .json(&["playlists", "add", &id, &a, &b, &c, "--json"])
        .await;
    assert_eq!(
        cli_entries(&added).iter().map(|e| e.1).collect::<Vec<_>>(),
        vec![t[0], t[1], t[2]]
    );
    let added = dev
        .json(&[
            "playlists",
            "add",
            &id,
            &d.to_string(),
            "--at",
            "1",
            "--json",
        ])
        .await;
    assert_eq!(
        cli_entries(&added).iter().map(|e| e.1).collect::<Vec<_>>(),
        vec![t[0], t[3], t[1], t[2]]
    );

    let shown = dev.show("Road Trip").await;
    assert_eq!(shown["id"], id.as_str());
    assert_eq!(shown["pending_ops"], 0, "{shown}");
    let entries = cli_entries(&shown);
    assert_eq!(entries, cli_entries(&added));
    for (entry, _) in &entries {
        entry
            .parse::<uuid::Uuid>()
            .unwrap_or_else(|_| panic!("entry id {entry:?} is not a UUID"));
    }
    let mut distinct: Vec<_> = entries.iter().map(|e| &e.0).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), entries.len(), "entry ids are distinct");
    for (e, title) in shown["entries"].as_array().unwrap().iter().zip([
        "Paper Cranes",
        "Shibuya Rain",
        "Hafið",
        "Kettle Song",
    ]) {
        assert_eq!(e["title"], title);
    }

    let (name, on_server) = server_playlist(&server, &id).await;
    assert_eq!(name, "Road Trip");
    assert_eq!(on_server, entries, "the server's order is the client's");
}

/// `mixtape subsonic-password set` is all a token-auth Subsonic app needs: a token made from
/// that password opens `/rest/`; `clear` closes it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_sets_the_app_password_a_subsonic_app_signs_in_with() {
    use crate::support::SUBSONIC_PASSWORD;
    use md5::Digest;
    let server = TestServer::demo().await;
    let dev = ClientDevice::new();
    dev.login(&server.base).await;
    let ping = || async {
        let token = hex::encode(md5::Md5::digest(
            format!("{SUBSONIC_PASSWORD}c0ffee").as_bytes(),
        ));
        let v: serde_json::Value = server
            .http
            .get(server.url(&format!(
                "/rest/ping.view?u=admin&t={token}&s=c0ffee&v=1.16.1&c=DSub&f=json"
            )))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["subsonic-response"]["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(ping().await, "failed", "no app password yet");
    let run = dev.ok(&["subsonic-password", "set"]).await;
    assert!(run.stderr.contains("Subsonic app password set"), "{run}");
    assert_eq!(ping().await, "ok");
    dev.ok(&["subsonic-password", "clear"]).await;
    assert_eq!(ping().await, "failed");
}
