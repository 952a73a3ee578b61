//! `GET /api/v1/tracks/{id}/lyrics` over the demo library, whose generator wrote lyrics of every
//! kind: a sidecar `.lrc`, synced lyrics in an ID3 SYLT frame and in a Vorbis comment, plain
//! lyrics in FLAC and M4A tags. And a changed `.lrc` picked up by the watcher.

use crate::common::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn id_of(s: &TestServer, title: &str) -> i64 {
    s.all_tracks()
        .await
        .iter()
        .find(|t| t["title"] == title)
        .unwrap_or_else(|| panic!("no track {title:?} in the demo library"))["id"]
        .as_i64()
        .unwrap()
}

async fn lyrics(s: &TestServer, id: i64) -> (u16, Value) {
    let r = s
        .req(
            Method::GET,
            &format!("/api/v1/tracks/{id}/lyrics"),
            &s.admin_token,
        )
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn lyrics_answer_in_one_shape_from_lrc_files_and_tags() {
    let s = TestServer::demo().await;

    // The sidecar: header tags read, the +200 ms offset applied, the chorus line at both
    // its stamps, the empty line kept as a break.
    let (status, body) = lyrics(&s, id_of(&s, "Shibuya Rain").await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "synced": true,
            "source": "lrc",
            "lang": "eng",
            "lines": [
                {"start_ms": 2000, "text": "Neon on the wet street"},
                {"start_ms": 6000, "text": "渋谷の雨が降る"},
                {"start_ms": 10000, "text": "Umbrellas bloom like city lights"},
                {"start_ms": 14000, "text": "Trains hum under my feet"},
                {"start_ms": 18000, "text": "夜はまだ始まったばかり"},
                {"start_ms": 22000, "text": ""},
                {"start_ms": 26000, "text": "Umbrellas bloom like city lights"},
                {"start_ms": 30000, "text": "Hold the night a little longer"},
            ],
        })
    );

    // ID3 SYLT in the MP3.
    let (status, body) = lyrics(&s, id_of(&s, "Rue de la Lune").await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["synced"], true);
    assert_eq!(body["source"], "embedded");
    assert_eq!(body["lang"], "fra");
    assert_eq!(
        body["lines"][0],
        json!({"start_ms": 1500, "text": "Sous la lune de la rue"})
    );
    assert_eq!(body["lines"].as_array().unwrap().len(), 5);

    // LRC text in a Vorbis LYRICS comment.
    let (_, body) = lyrics(&s, id_of(&s, "Kettle Song").await).await;
    assert_eq!(body["synced"], true);
    assert_eq!(body["lang"], "eng");
    assert_eq!(body["lines"][3]["start_ms"], 20000);

    // Plain lyrics: FLAC UNSYNCEDLYRICS and MP4 ©lyr; no start times, the blank line kept.
    for title in ["Hafið", "Campfire Waltz"] {
        let (status, body) = lyrics(&s, id_of(&s, title).await).await;
        assert_eq!(status, 200, "{title}: {body}");
        assert_eq!(body["synced"], false, "{title}");
        assert_eq!(body["source"], "embedded", "{title}");
        assert_eq!(body["lang"], Value::Null, "{title}");
        let lines = body["lines"].as_array().unwrap();
        assert_eq!(lines.len(), 5, "{title}: {body}");
        assert!(lines.iter().all(|l| l["start_ms"].is_null()), "{title}");
        assert_eq!(lines[2]["text"], "", "{title}");
    }

    // A track without lyrics, and no track at all: both 404, told apart by the code.
    let (status, body) = lyrics(&s, id_of(&s, "Slow Espresso").await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("no_lyrics"))
    );
    let (status, body) = lyrics(&s, 999_999).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let r = s
        .req(Method::GET, "/api/v1/tracks/abc/lyrics", &s.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);

    // Documented.
    let doc = s.get_json("/api/openapi.json", &s.admin_token).await;
    assert!(doc["paths"]["/api/v1/tracks/{id}/lyrics"]["get"].is_object());
    assert!(doc["components"]["schemas"]["Lyrics"].is_object());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_watcher_picks_up_a_changed_lrc_file() {
    let s = TestServer::demo_with(|c| c.watch = true).await;
    let rain = id_of(&s, "Shibuya Rain").await;
    let lrc = s
        .library
        .join("Neon Harbor/東京 Nights/01 - Shibuya Rain.lrc");
    assert!(lrc.exists());
    std::fs::write(&lrc, "[00:01.00]rewritten\n[00:03.50]by hand\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = lyrics(&s, rain).await;
        if body["lines"][0]["text"] == "rewritten" {
            assert_eq!(
                body["lines"][1],
                json!({"start_ms": 3500, "text": "by hand"})
            );
            assert_eq!(body["lang"], Value::Null);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new .lrc never showed: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Same id: the track was read again, not replaced.
    assert_eq!(id_of(&s, "Shibuya Rain").await, rain);

    // A new .lrc beside a track without lyrics, then the old one removed.
    let espresso = id_of(&s, "Slow Espresso").await;
    std::fs::write(
        s.library
            .join("The Paper Lanterns/Café Nocturne/03 - Slow Espresso.lrc"),
        "Just words\nno stamps\n",
    )
    .unwrap();
    std::fs::remove_file(&lrc).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (added, body) = lyrics(&s, espresso).await;
        let (removed, _) = lyrics(&s, rain).await;
        if added == 200 && removed == 404 {
            assert_eq!(body["synced"], false);
            assert_eq!(body["source"], "lrc");
            assert_eq!(body["lines"][1]["text"], "no stamps");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the watcher missed an added or removed .lrc ({added}, {removed})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
