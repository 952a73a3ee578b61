//! End-to-end tests of recommendations: the real server on 127.0.0.1:0 over a copy of the demo
//! library, events from HTTP and from the real client library (mirror + sync), recommendations
//! read back over HTTP once the queue has drained.

#[path = "../common/mod.rs"]
mod common;

use common::TestServer;
use mixtape::api::ApiClient;
use mixtape::mirror::Mirror;
use mixtape::shared::TrackId;
use mixtape::shared::api::PlayEventKind;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Waits until the recommendation queue is empty.
async fn drained(server: &TestServer) -> Value {
    queue_when(server, "the queue drains", |q| q["queue"]["depth"] == 0).await
}

/// The admin's queue view once `done` holds.
async fn queue_when(server: &TestServer, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let q = server.admin_get("/api/v1/admin/queue").await;
        if done(&q) {
            return q;
        }
        assert!(Instant::now() < deadline, "never {what}: {q}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn finish(track: i64, at_ms: i64) -> Value {
    json!({"id": uuid::Uuid::now_v7(), "track_id": track, "kind": "finish", "position_ms": 0, "at_ms": at_ms})
}

/// `user` listens to each group of tracks in its own session (a day apart).
async fn listen(server: &TestServer, token: &str, groups: &[&[i64]]) -> Value {
    let mut events = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        for (k, &t) in group.iter().enumerate() {
            events.push(finish(
                t,
                1_700_000_000_000 + g as i64 * 86_400_000 + k as i64 * 200_000,
            ));
        }
    }
    let (status, body) = server
        .send(
            Method::POST,
            "/api/v1/events",
            token,
            json!({"events": events}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["track"]["id"].as_i64().unwrap())
        .collect()
}

fn reasons(page: &Value) -> Vec<(i64, String)> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["track"]["id"].as_i64().unwrap(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_plays_offline_and_syncs_gets_recommendations_from_what_it_played() {
    let server = TestServer::demo().await;
    let t = server.track_ids().await;
    // Others listened to t0 with t1 and t2, and t3 with t4.
    let others = server.user("others").await;
    listen(
        &server,
        &others,
        &[&[t[0], t[1], t[2]], &[t[0], t[1], t[2]], &[t[3], t[4]]],
    )
    .await;
    let token = server.user("listener").await;
    drained(&server).await;
    let before = server
        .get_json("/api/v1/recommendations/for-you?limit=5", &token)
        .await;
    assert!(
        reasons(&before).iter().all(|(_, r)| r != "co_listened"),
        "nothing played yet: {before}"
    );

    // The client records a play with no server in reach, then syncs.
    let tmp = tempfile::tempdir().unwrap();
    let base = server.base.clone();
    let first = t[0];
    let (played, report) = tokio::task::spawn_blocking(move || {
        let mut mirror = Mirror::open(&tmp.path().join("mirror.sqlite")).unwrap();
        let played = mirror
            .record_event(TrackId(first), PlayEventKind::Finish, 180_000)
            .unwrap();
        let api = ApiClient::new(&base, Some(token.clone())).unwrap();
        let report = mixtape::sync::sync(&mut mirror, &api).unwrap();
        (played, (report, token))
    })
    .await
    .unwrap();
    let (report, token) = report;
    assert_eq!(report.events_accepted, 1, "{report:?}");
    drained(&server).await;
    let after = server
        .get_json("/api/v1/recommendations/for-you?limit=5", &token)
        .await;
    let got = reasons(&after);
    assert!(
        !ids(&after).contains(&played.track_id.0),
        "what was just heard is left out: {after}"
    );
    let co: HashSet<i64> = got
        .iter()
        .filter(|(_, r)| r == "co_listened")
        .map(|x| x.0)
        .collect();
    assert_eq!(co, HashSet::from([t[1], t[2]]), "{after}");
    assert_eq!(
        &ids(&after)[..2].iter().copied().collect::<HashSet<_>>(),
        &co,
        "co-listened first: {after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn similar_tracks_fall_back_to_content_then_follow_playlists() {
    let server = TestServer::demo().await;
    let tracks = server.all_tracks().await;
    let (a, b) = (
        tracks[0]["id"].as_i64().unwrap(),
        tracks[5]["id"].as_i64().unwrap(),
    );
    let fresh = server
        .admin_get(&format!("/api/v1/tracks/{a}/similar?limit=5"))
        .await;
    let artist = &tracks[0]["artists"][0]["id"];
    for item in fresh["items"].as_array().unwrap() {
        assert_eq!(item["reason"], "content", "{fresh}");
    }
    if let Some(first) = fresh["items"].as_array().unwrap().first() {
        let same_artist = tracks
            .iter()
            .filter(|x| &x["artists"][0]["id"] == artist)
            .count();
        if same_artist > 1 {
            assert_eq!(
                &first["track"]["artists"][0]["id"], artist,
                "same artist first: {fresh}"
            );
        }
    }
    let (status, pl) = server
        .send(
            Method::POST,
            "/api/v1/playlists",
            &server.admin_token,
            json!({"name": "mix"}),
        )
        .await;
    assert_eq!(status, 201, "{pl}");
    let id = pl["id"].as_str().unwrap().to_string();
    let (status, body) = server
        .send(
            Method::POST,
            &format!("/api/v1/playlists/{id}/entries"),
            &server.admin_token,
            json!({"track_ids": [a, b]}),
        )
        .await;
    assert!(status == 200 || status == 201, "{status} {body}");
    drained(&server).await;
    let learned = server
        .admin_get(&format!("/api/v1/tracks/{a}/similar?limit=5"))
        .await;
    assert_eq!(
        reasons(&learned)[0],
        (b, "co_listened".to_string()),
        "{learned}"
    );
    let (status, _) = server
        .send(
            Method::GET,
            "/api/v1/tracks/999999/similar",
            &server.admin_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn radio_continues_page_after_page_without_repeating() {
    let server = TestServer::demo().await;
    let tracks = server.all_tracks().await;
    let t: Vec<i64> = tracks.iter().map(|x| x["id"].as_i64().unwrap()).collect();
    listen(&server, &server.admin_token, &[&[t[0], t[1], t[2], t[3]]]).await;
    drained(&server).await;
    let mut seen = HashSet::from([t[0]]);
    let mut page = server
        .admin_get(&format!("/api/v1/radio?seed=track:{}&limit=4", t[0]))
        .await;
    assert_eq!(
        &ids(&page)[..3].iter().copied().collect::<HashSet<_>>(),
        &HashSet::from([t[1], t[2], t[3]]),
        "{page}"
    );
    for _ in 0..3 {
        assert_eq!(ids(&page).len(), 4, "{page}");
        for id in ids(&page) {
            assert!(seen.insert(id), "track {id} repeated: {page}");
        }
        let cursor = page["next_cursor"].as_str().unwrap().to_string();
        page = server
            .admin_get(&format!("/api/v1/radio?cursor={cursor}&limit=4"))
            .await;
    }
    // Past the end of a small library it starts a new round rather than stopping.
    for _ in 0..3 {
        let cursor = page["next_cursor"].as_str().unwrap().to_string();
        page = server
            .admin_get(&format!("/api/v1/radio?cursor={cursor}&limit=4"))
            .await;
        assert!(!ids(&page).is_empty(), "{page}");
    }
    let artist = tracks[0]["artists"][0]["id"].as_i64().unwrap();
    let by_artist = server
        .admin_get(&format!("/api/v1/radio?seed=artist:{artist}&limit=3"))
        .await;
    assert!(!ids(&by_artist).is_empty(), "{by_artist}");
    for bad in [
        "/api/v1/radio?seed=album:1",
        "/api/v1/radio",
        "/api/v1/radio?cursor=nope",
    ] {
        let (status, body) = server
            .send(Method::GET, bad, &server.admin_token, Value::Null)
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_submissions_count_once_and_the_admin_sees_the_queue() {
    let server = TestServer::demo().await;
    let t = server.track_ids().await;
    let token = server.user("listener").await;
    let events: Vec<Value> = (0..20)
        .map(|k| finish(t[k % 6], 1_700_000_000_000 + k as i64 * 60_000))
        .collect();
    let (_, first) = server
        .send(
            Method::POST,
            "/api/v1/events",
            &token,
            json!({"events": events}),
        )
        .await;
    assert_eq!(first["accepted"], 20);
    drained(&server).await;
    let state = server.admin_get("/api/v1/admin/recs").await;
    let (_, again) = server
        .send(
            Method::POST,
            "/api/v1/events",
            &token,
            json!({"events": events}),
        )
        .await;
    assert_eq!(again["duplicates"], 20);
    drained(&server).await;
    assert_eq!(
        server.admin_get("/api/v1/admin/recs").await,
        state,
        "a resubmission changes nothing"
    );
    assert_eq!(state["applied"], 20);
    // The worker counts a batch just after the commit that empties the queue.
    let q = queue_when(&server, "20 counted as processed", |q| {
        q["processed"].as_u64().is_some_and(|n| n >= 20)
    })
    .await;
    assert_eq!(q["queue"]["dead_letters"], 0, "{q}");
    let (status, rebuilt) = server
        .send(
            Method::POST,
            "/api/v1/admin/recs/rebuild",
            &server.admin_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        rebuilt["summary"], state,
        "incremental state equals a rebuild"
    );
    let (status, _) = server
        .send(Method::GET, "/api/v1/admin/queue", &token, Value::Null)
        .await;
    assert_eq!(status, 403);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let metrics = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "mixtape_recs_queue_depth",
        "mixtape_recs_queue_lag_seconds",
        "mixtape_recs_events_processed_total",
        "mixtape_recs_event_latency_seconds",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    let doc = server
        .http
        .get(server.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    for path in [
        "/api/v1/recommendations/for-you",
        "/api/v1/tracks/{id}/similar",
        "/api/v1/radio",
        "/api/v1/admin/queue",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} not in the OpenAPI document"
        );
    }
}

/// Waits until this node serves the trained model's version `version`.
async fn serving(server: &TestServer, version: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = server.admin_get("/api/v1/admin/recs/model").await;
        if m["serving"]["version"] == version {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "version {version} not served: {m}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trained_model_is_served_blended_and_kept_across_a_restart() {
    let server = TestServer::demo().await;
    let t = server.track_ids().await;
    let others = server.user("others").await;
    listen(
        &server,
        &others,
        &[&[t[0], t[1], t[2]], &[t[0], t[1], t[2]], &[t[3], t[4]]],
    )
    .await;
    let token = server.user("listener").await;
    listen(&server, &token, &[&[t[0]]]).await;
    drained(&server).await;
    let status = server.admin_get("/api/v1/admin/recs/model").await;
    assert!(
        status["serving"].is_null(),
        "too few events to train on their own: {status}"
    );
    assert_eq!(status["trainer_here"], true, "{status}");
    assert_eq!(status["events"], 9, "{status}");

    let (code, body) = server
        .send(
            Method::POST,
            "/api/v1/admin/recs/train",
            &server.admin_token,
            json!({}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let m = serving(&server, 1).await;
    assert_eq!(m["stored"], m["serving"], "{m}");
    assert_eq!(
        (
            &m["serving"]["events"],
            &m["serving"]["items"],
            &m["serving"]["rows"]
        ),
        (&json!(9), &json!(5), &json!(2)),
        "{m}"
    );
    let page = server
        .get_json("/api/v1/recommendations/for-you?limit=5", &token)
        .await;
    let co: HashSet<i64> = reasons(&page)
        .iter()
        .filter(|(_, r)| r == "co_listened")
        .map(|x| x.0)
        .collect();
    assert_eq!(co, HashSet::from([t[1], t[2]]), "{page}");
    assert!(!ids(&page).contains(&t[0]), "{page}");

    // A restart serves the stored version and does not train again (no new events).
    let server = server.restart().await;
    let m = serving(&server, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = server.admin_get("/api/v1/admin/recs/model").await;
    assert_eq!(again["stored"]["version"], 1, "{again}");
    assert_eq!(again["serving"], m["serving"], "{again}");
}
