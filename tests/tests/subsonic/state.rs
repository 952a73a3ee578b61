//! What a Subsonic client keeps on the server: scrobbles (our play events), stars, ratings, the
//! play queue; and the scan endpoints.

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn scrobbles_are_play_events_stored_once() {
    let sub = Sub::new().await;
    let fx = sub.fixture().await;
    // Now playing, then the finished play; the same scrobble resent is stored once.
    ok(&sub
        .json(
            "scrobble",
            &[
                ("id", &fx.song),
                ("submission", "false"),
                ("time", "1700000000000"),
            ],
        )
        .await);
    for _ in 0..3 {
        ok(&sub
            .json("scrobble", &[("id", &fx.song), ("time", "1700000100000")])
            .await);
    }
    xml_ok(
        &sub.xml("scrobble", &[("id", &fx.song), ("time", "1700000100000")])
            .await,
    );
    let history = sub.s.admin_get("/api/v1/history").await;
    assert_eq!(history["total"], 2, "{history}");
    let events = history["events"].as_array().unwrap();
    assert_eq!(events[0]["kind"], "finish");
    assert_eq!(events[0]["at_ms"], 1_700_000_100_000i64);
    assert_eq!(format!("tr-{}", events[0]["track_id"]), fx.song);
    assert_eq!(events[1]["kind"], "start");
    let song = sub.json("getSong", &[("id", &fx.song)]).await;
    assert_eq!(song["song"]["playCount"], 1);
    assert!(song["song"]["played"].is_string());
    // Several at once, with their times.
    let (a, b) = sub.two_songs(&fx.album).await;
    ok(&sub
        .json(
            "scrobble",
            &[
                ("id", &a),
                ("id", &b),
                ("time", "1700000200000"),
                ("time", "1700000300000"),
            ],
        )
        .await);
    assert_eq!(sub.s.admin_get("/api/v1/history").await["total"], 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn stars_and_ratings_show_on_items_and_in_starred2() {
    let sub = Sub::new().await;
    let fx = sub.fixture().await;
    ok(&sub
        .json(
            "star",
            &[
                ("id", &fx.song),
                ("albumId", &fx.album),
                ("artistId", &fx.artist),
            ],
        )
        .await);
    let v = sub.json("getStarred2", &[]).await;
    let s = &ok(&v)["starred2"];
    assert_eq!(s["song"][0]["id"], fx.song.as_str());
    assert!(s["song"][0]["starred"].is_string());
    assert_eq!(s["album"][0]["id"], fx.album.as_str());
    assert_eq!(s["artist"][0]["id"], fx.artist.as_str());
    let x = sub.xml("getStarred2", &[]).await;
    let xs = x.child("starred2");
    assert_eq!(xs.all("song").len(), 1);
    assert_eq!(xs.all("album").len(), 1);
    assert_eq!(xs.all("artist").len(), 1);
    // Stars are per user.
    let token = sub.s.user("other").await;
    let key = api_key(&sub.s, &token).await;
    let v = sub
        .json_raw("getStarred2", &[("apiKey", &key), ("f", "json")])
        .await;
    assert!(ok(&v)["starred2"]["song"].as_array().unwrap().is_empty());

    ok(&sub
        .json(
            "unstar",
            &[
                ("id", &fx.song),
                ("albumId", &fx.album),
                ("artistId", &fx.artist),
            ],
        )
        .await);
    let v = sub.json("getStarred2", &[]).await;
    assert!(v["starred2"]["song"].as_array().unwrap().is_empty());
    assert!(v["starred2"]["album"].as_array().unwrap().is_empty());

    ok(&sub
        .json("setRating", &[("id", &fx.song), ("rating", "4")])
        .await);
    ok(&sub
        .json("setRating", &[("id", &fx.album), ("rating", "2")])
        .await);
    let song = sub.json("getSong", &[("id", &fx.song)]).await;
    assert_eq!(song["song"]["userRating"], 4);
    let album = sub.json("getAlbum", &[("id", &fx.album)]).await;
    assert_eq!(album["album"]["userRating"], 2);
    ok(&sub
        .json("setRating", &[("id", &fx.song), ("rating", "0")])
        .await);
    let song = sub.json("getSong", &[("id", &fx.song)]).await;
    assert!(song["song"]["userRating"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_play_queue_is_saved_and_restored() {
    let sub = Sub::new().await;
    let fx = sub.fixture().await;
    let v = sub.json("getPlayQueue", &[]).await;
    assert!(ok(&v)["playQueue"]["entry"].as_array().unwrap().is_empty());
    let (a, b) = sub.two_songs(&fx.album).await;
    ok(&sub
        .json(
            "savePlayQueue",
            &[
                ("id", &a),
                ("id", &b),
                ("current", &b),
                ("position", "42000"),
            ],
        )
        .await);
    let v = sub.json("getPlayQueue", &[]).await;
    let q = &v["playQueue"];
    assert_eq!(q["current"], b.as_str());
    assert_eq!(q["position"], 42000);
    assert_eq!(q["username"], "admin");
    assert_eq!(q["changedBy"], "tests");
    let entries: Vec<&str> = q["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(entries, vec![a.as_str(), b.as_str()]);
    let x = sub.xml("getPlayQueue", &[]).await;
    assert_eq!(x.child("playQueue").all("entry").len(), 2);
    // Saving no ids clears it.
    ok(&sub.json("savePlayQueue", &[]).await);
    let v = sub.json("getPlayQueue", &[]).await;
    assert!(v["playQueue"]["entry"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_status_and_start_scan() {
    let sub = Sub::new().await;
    let total = sub.s.track_ids().await.len() as u64;
    let v = sub.json("getScanStatus", &[]).await;
    assert_eq!(ok(&v)["scanStatus"]["count"], total);
    assert_eq!(v["scanStatus"]["scanning"], false);
    let v = sub.json("startScan", &[]).await;
    assert!(ok(&v)["scanStatus"]["scanning"].is_boolean());
    sub.s.wait_for_scan().await;
    let x = sub.xml("getScanStatus", &[]).await;
    assert_eq!(x.child("scanStatus").attr("count"), total.to_string());
}
