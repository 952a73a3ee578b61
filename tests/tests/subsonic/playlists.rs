//! Playlists go through our playlist rules: our own API and change feed see Subsonic's edits.

use crate::support::*;
use serde_json::Value;

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn subsonic_playlist_edits_reach_our_api_and_change_feed() {
    let sub = Sub::new().await;
    let fx = sub.fixture().await;
    let album = sub.json("getAlbum", &[("id", &fx.album)]).await;
    let songs = ids(&album["album"]["song"]);
    assert!(songs.len() >= 3);
    let since = sub.s.admin_get("/api/v1/changes?since=0").await["revision"]
        .as_i64()
        .unwrap();

    let v = sub
        .json(
            "createPlaylist",
            &[
                ("name", "Road trip"),
                ("songId", &songs[0]),
                ("songId", &songs[1]),
            ],
        )
        .await;
    let pl = &ok(&v)["playlist"];
    let id = pl["id"].as_str().unwrap().to_string();
    assert_eq!(pl["name"], "Road trip");
    assert_eq!(pl["songCount"], 2);
    assert_eq!(ids(&pl["entry"]), songs[..2].to_vec());
    assert_eq!(pl["owner"], "admin");

    // Our REST API sees it, with the same tracks.
    let rest = sub.s.admin_get(&format!("/api/v1/playlists/{id}")).await;
    let rest_tracks: Vec<String> = rest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("tr-{}", e["track_id"]))
        .collect();
    assert_eq!(rest_tracks, songs[..2].to_vec());
    // And so does the change feed our client syncs from.
    let changes = sub
        .s
        .admin_get(&format!("/api/v1/changes?since={since}"))
        .await;
    assert!(changes.to_string().contains(&id), "{changes}");

    // updatePlaylist: rename, add, remove by index.
    ok(&sub
        .json(
            "updatePlaylist",
            &[
                ("playlistId", &id),
                ("name", "Long road trip"),
                ("songIdToAdd", &songs[2]),
                ("songIndexToRemove", "0"),
                ("public", "true"),
            ],
        )
        .await);
    let v = sub.json("getPlaylist", &[("id", &id)]).await;
    assert_eq!(v["playlist"]["name"], "Long road trip");
    assert_eq!(v["playlist"]["public"], true);
    assert_eq!(
        ids(&v["playlist"]["entry"]),
        vec![songs[1].clone(), songs[2].clone()]
    );
    let rest = sub.s.admin_get(&format!("/api/v1/playlists/{id}")).await;
    assert_eq!(rest["name"], "Long road trip");
    assert_eq!(rest["entries"].as_array().unwrap().len(), 2);
    let x = sub.xml("getPlaylist", &[("id", &id)]).await;
    assert_eq!(x.child("playlist").all("entry").len(), 2);

    // createPlaylist with playlistId replaces the songs.
    let v = sub
        .json(
            "createPlaylist",
            &[("playlistId", &id), ("songId", &songs[0])],
        )
        .await;
    assert_eq!(ids(&ok(&v)["playlist"]["entry"]), vec![songs[0].clone()]);
    // An index out of range changes nothing and says so.
    failed(
        &sub.json(
            "updatePlaylist",
            &[("playlistId", &id), ("songIndexToRemove", "7")],
        )
        .await,
        70,
    );

    let v = sub.json("getPlaylists", &[]).await;
    assert_eq!(ids(&v["playlists"]["playlist"]), vec![id.clone()]);

    // Another user sees a public playlist read-only, and may not change it.
    let token = sub.s.user("friend").await;
    let key = api_key(&sub.s, &token).await;
    let v = sub
        .json_raw(
            "getPlaylist",
            &[("apiKey", &key), ("f", "json"), ("id", &id)],
        )
        .await;
    assert_eq!(ok(&v)["playlist"]["readonly"], true);
    failed(
        &sub.json_raw(
            "updatePlaylist",
            &[
                ("apiKey", &key),
                ("f", "json"),
                ("playlistId", &id),
                ("name", "mine"),
            ],
        )
        .await,
        50,
    );
    failed(
        &sub.json_raw(
            "deletePlaylist",
            &[("apiKey", &key), ("f", "json"), ("id", &id)],
        )
        .await,
        50,
    );

    ok(&sub.json("deletePlaylist", &[("id", &id)]).await);
    let r = sub
        .s
        .req(
            reqwest::Method::GET,
            &format!("/api/v1/playlists/{id}"),
            &sub.s.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    failed(&sub.json("getPlaylist", &[("id", &id)]).await, 70);
}

/// The change sequence the playlist was last written at: one more per write transaction.
async fn revision(sub: &Sub, id: &str) -> i64 {
    sub.s.admin_get(&format!("/api/v1/playlists/{id}")).await["revision"]
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn replacing_or_removing_many_songs_is_one_write() {
    let sub = Sub::new().await;
    let tracks = sub.s.track_ids().await;
    let songs: Vec<i64> = tracks.iter().cycle().take(600).copied().collect();
    let (status, p) = sub
        .s
        .send(
            reqwest::Method::POST,
            "/api/v1/playlists",
            &sub.s.admin_token,
            serde_json::json!({"name": "long"}),
        )
        .await;
    assert_eq!(status, 201);
    let id = p["id"].as_str().unwrap().to_string();
    let (status, _) = sub
        .s
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/playlists/{id}/entries"),
            &sub.s.admin_token,
            serde_json::json!({"track_ids": songs}),
        )
        .await;
    assert_eq!(status, 200);

    // "Save" from a Subsonic client: replace 600 songs by two, and rename, in one batch.
    let before = revision(&sub, &id).await;
    let first = format!("tr-{}", tracks[0]);
    let second = format!("tr-{}", tracks[1]);
    let v = sub
        .json(
            "createPlaylist",
            &[
                ("playlistId", &id),
                ("name", "short"),
                ("songId", &first),
                ("songId", &second),
            ],
        )
        .await;
    assert_eq!(
        ids(&ok(&v)["playlist"]["entry"]),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(ok(&v)["playlist"]["name"], "short");
    assert_eq!(revision(&sub, &id).await, before + 1, "one transaction");

    // Many indexes to remove, an add and a rename: one batch too.
    let (_, _) = sub
        .s
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/playlists/{id}/entries"),
            &sub.s.admin_token,
            serde_json::json!({"track_ids": songs}),
        )
        .await;
    let before = revision(&sub, &id).await;
    let indexes: Vec<String> = (0..400).map(|i| i.to_string()).collect();
    let mut params: Vec<(&str, &str)> = vec![("playlistId", &id), ("name", "trimmed")];
    params.extend(indexes.iter().map(|i| ("songIndexToRemove", i.as_str())));
    params.push(("songIdToAdd", &first));
    ok(&sub.json("updatePlaylist", &params).await);
    assert_eq!(revision(&sub, &id).await, before + 1, "one transaction");
    let v = sub.json("getPlaylist", &[("id", &id)]).await;
    assert_eq!(v["playlist"]["name"], "trimmed");
    assert_eq!(v["playlist"]["songCount"], 602 - 400 + 1);
    assert_eq!(ids(&v["playlist"]["entry"]).last(), Some(&first));
}
