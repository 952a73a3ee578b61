//! Playlists: editing with stable entry ids, m3u8 round trip, the change feed.

use crate::common::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn send(s: &TestServer, method: Method, path: &str, body: Value) -> (u16, Value) {
    s.send(method, path, &s.admin_token, body).await
}

fn track_ids(playlist: &Value) -> Vec<i64> {
    playlist["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["track_id"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn entries_keep_their_ids_through_inserts_moves_and_removes() {
    let s = TestServer::demo().await;
    let t = s.track_ids().await;
    let client_id = uuid::Uuid::now_v7().to_string();
    let (status, p) = send(
        &s,
        Method::POST,
        "/api/v1/playlists",
        json!({"id": client_id, "name": "Mix"}),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(p["id"], client_id.as_str());
    // Replaying the create is harmless.
    let (status, again) = send(
        &s,
        Method::POST,
        "/api/v1/playlists",
        json!({"id": client_id, "name": "Mix"}),
    )
    .await;
    assert_eq!((status, again["id"].clone()), (201, json!(client_id)));

    let base = format!("/api/v1/playlists/{client_id}");
    let (_, p) = send(
        &s,
        Method::POST,
        &format!("{base}/entries"),
        json!({"track_ids": [t[0], t[1], t[0]]}),
    )
    .await;
    assert_eq!(
        track_ids(&p),
        vec![t[0], t[1], t[0]],
        "a track may appear twice"
    );
    let (_, p) = send(
        &s,
        Method::POST,
        &format!("{base}/entries"),
        json!({"track_ids": [t[2], t[3]], "position": 1}),
    )
    .await;
    assert_eq!(
        track_ids(&p),
        vec![t[0], t[2], t[3], t[1], t[0]],
        "a batch insert stays together"
    );
    let entry_ids: Vec<String> = p["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();

    let (status, p) = send(
        &s,
        Method::POST,
        &format!("{base}/entries/{}/move", entry_ids[0]),
        json!({"position": 4}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(track_ids(&p), vec![t[2], t[3], t[1], t[0], t[0]]);
    let moved: Vec<String> = p["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(moved[4], entry_ids[0], "the moved entry keeps its id");

    let r = s
        .req(
            Method::DELETE,
            &format!("{base}/entries/{}", entry_ids[2]),
            &s.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let p = s.admin_get(&base).await;
    assert_eq!(track_ids(&p), vec![t[2], t[1], t[0], t[0]]);
    let r = s
        .req(
            Method::DELETE,
            &format!("{base}/entries/{}", entry_ids[2]),
            &s.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "removing twice");

    let (status, p) = send(&s, Method::PATCH, &base, json!({"name": "Renamed"})).await;
    assert_eq!((status, p["name"].clone()), (200, json!("Renamed")));
    assert_eq!(p["entry_count"], 4);

    // Bad input: unknown tracks, empty names, malformed ids and bodies.
    let (status, err) = send(
        &s,
        Method::POST,
        &format!("{base}/entries"),
        json!({"track_ids": [999999]}),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].clone()),
        (422, json!("unknown_tracks"))
    );
    let (status, _) = send(&s, Method::PATCH, &base, json!({"name": "  "})).await;
    assert_eq!(status, 422);
    let (status, _) = send(
        &s,
        Method::POST,
        &format!("{base}/entries"),
        json!({"track_ids": "nope"}),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = send(&s, Method::GET, "/api/v1/playlists/not-a-uuid", json!(null)).await;
    assert_eq!(status, 400);

    let r = s
        .req(Method::DELETE, &base, &s.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        s.req(Method::GET, &base, &s.admin_token)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn m3u8_export_then_import_round_trips_the_order() {
    let s = TestServer::demo().await;
    let t = s.track_ids().await;
    let (_, p) = send(
        &s,
        Method::POST,
        "/api/v1/playlists",
        json!({"name": "Road trip"}),
    )
    .await;
    let base = format!("/api/v1/playlists/{}", p["id"].as_str().unwrap());
    let order = vec![t[4], t[1], t[4], t[7]];
    send(
        &s,
        Method::POST,
        &format!("{base}/entries"),
        json!({"track_ids": order}),
    )
    .await;

    let r = s
        .req(Method::GET, &format!("{base}/m3u8"), &s.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("audio/x-mpegurl")
    );
    let text = r.text().await.unwrap();
    assert!(text.starts_with("#EXTM3U\n"));
    assert_eq!(
        text.lines().filter(|l| l.starts_with("#EXTINF:")).count(),
        4
    );

    // Add a line that matches nothing, and one with the library's absolute root.
    let first_path = text
        .lines()
        .find(|l| !l.starts_with('#'))
        .unwrap()
        .to_string();
    let abs = format!(
        "{}/{first_path}",
        s.library.canonicalize().unwrap().display()
    );
    let edited = format!("{text}missing/song.mp3\n{abs}\n");
    let r = s
        .req(
            Method::POST,
            "/api/v1/playlists/import?name=Imported",
            &s.admin_token,
        )
        .body(edited)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let report: Value = r.json().await.unwrap();
    let mut expected = order.clone();
    expected.push(t[4]);
    assert_eq!(track_ids(&report["playlist"]), expected);
    assert_eq!(report["unmatched"], json!(["missing/song.mp3"]));
    assert_eq!(report["playlist"]["name"], "Imported");

    let r = s
        .req(Method::POST, "/api/v1/playlists/import", &s.admin_token)
        .body("#EXTM3U\nx.mp3\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "no name given anywhere");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_change_feed_pages_and_shows_each_user_only_their_playlists() {
    let s = TestServer::demo().await;
    let alice = s.user("alice").await;
    let track_count = s.all_tracks().await.len();
    // From zero: the whole catalog, in pages.
    let mut since = "0".to_string();
    let mut seen = 0;
    loop {
        let page = s
            .get_json(&format!("/api/v1/changes?since={since}&limit=4"), &alice)
            .await;
        seen += page["changes"].as_array().unwrap().len();
        assert!(
            page["changes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["kind"] == "track")
        );
        // An opaque cursor: on SQLite, the page's revision as a string.
        since = page["next_since"].as_str().unwrap().to_string();
        if !page["has_more"].as_bool().unwrap() {
            assert_eq!(since, page["revision"].as_i64().unwrap().to_string());
            break;
        }
    }
    assert_eq!(seen, track_count);
    let caught_up = s
        .get_json(&format!("/api/v1/changes?since={since}"), &alice)
        .await;
    assert!(
        caught_up["changes"].as_array().unwrap().is_empty(),
        "nothing changed"
    );

    // The admin's playlist is not in alice's feed; alice's own is, with its entries.
    send(
        &s,
        Method::POST,
        "/api/v1/playlists",
        json!({"name": "admin's"}),
    )
    .await;
    let r = s
        .req(Method::POST, "/api/v1/playlists", &alice)
        .json(&json!({"name": "alice's"}))
        .send()
        .await
        .unwrap();
    let mine: Value = r.json().await.unwrap();
    let feed = s
        .get_json(&format!("/api/v1/changes?since={since}"), &alice)
        .await;
    let changes = feed["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{feed}");
    assert_eq!(changes[0]["kind"], "playlist");
    assert_eq!(changes[0]["playlist"]["id"], mine["id"]);
    let since = feed["next_since"].as_str().unwrap();
    let r = s
        .req(
            Method::DELETE,
            &format!("/api/v1/playlists/{}", mine["id"].as_str().unwrap()),
            &alice,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let feed = s
        .get_json(&format!("/api/v1/changes?since={since}"), &alice)
        .await;
    assert_eq!(feed["changes"][0]["kind"], "playlist_deleted");
    let r = s
        .req(Method::GET, "/api/v1/changes?since=-4", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
