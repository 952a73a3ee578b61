//! Scan results, browsing with pagination and sorting, search, cover art.

use crate::common::*;
use serde_json::Value;
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread")]
async fn scan_indexes_every_demo_file_with_its_tags_and_art() {
    let s = TestServer::demo().await;
    let audio = files_with_ext(&s.library, &["mp3", "flac", "ogg", "opus", "m4a", "wav"]);
    assert!(audio.len() >= 15, "the demo library has 15+ tracks");
    let status = s.scan_status().await;
    assert!(
        status.failures.is_empty(),
        "demo files all scan: {:?}",
        status.failures
    );
    assert_eq!(status.tracks_added as usize, audio.len());

    let tracks = s.all_tracks().await;
    assert_eq!(tracks.len(), audio.len());
    let formats: HashSet<&str> = tracks
        .iter()
        .map(|t| t["format"].as_str().unwrap())
        .collect();
    for f in ["mp3", "flac", "ogg", "opus", "m4a"] {
        assert!(formats.contains(f), "format {f} indexed: {formats:?}");
    }
    for t in &tracks {
        assert!(t["duration_ms"].as_u64().unwrap() >= 15_000, "{t}");
        assert!(
            t["track_number"].as_u64().is_some(),
            "track numbers are tagged: {t}"
        );
        assert!(t["sample_rate"].as_u64().unwrap() > 0);
        assert_eq!(t["content_hash"].as_str().unwrap().len(), 64);
        assert!(t["album"]["title"].is_string());
    }
    assert!(
        tracks
            .iter()
            .any(|t| t["artists"].as_array().unwrap().len() >= 2),
        "a multi-artist track"
    );
    assert!(
        tracks
            .iter()
            .any(|t| t["genres"].as_array().unwrap().len() >= 2),
        "a multi-genre track"
    );
    assert!(
        tracks
            .iter()
            .any(|t| !t["title"].as_str().unwrap().is_ascii()),
        "unicode titles"
    );

    let albums = s.admin_get("/api/v1/albums?limit=500").await;
    let albums = albums["items"].as_array().unwrap();
    assert!(albums.len() >= 5);
    assert!(
        albums.iter().all(|a| a["cover_art"].is_string()),
        "every demo album has art: {albums:?}"
    );
    let artists = s.admin_get("/api/v1/artists?limit=500").await;
    assert!(artists["items"].as_array().unwrap().len() >= 4);
    let track_sum: u64 = albums
        .iter()
        .map(|a| a["track_count"].as_u64().unwrap())
        .sum();
    assert_eq!(track_sum as usize, tracks.len());

    // Cover art: the original, and a cached thumbnail.
    let art = albums[0]["cover_art"].as_str().unwrap();
    let original = s
        .req(
            reqwest::Method::GET,
            &format!("/api/v1/art/{art}"),
            &s.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(original.status(), 200);
    assert!(
        original.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let original_len = original.bytes().await.unwrap().len();
    let thumb = s
        .req(
            reqwest::Method::GET,
            &format!("/api/v1/art/{art}?size=32"),
            &s.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(thumb.status(), 200);
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");
    let thumb = thumb.bytes().await.unwrap();
    assert!(thumb.starts_with(&[0xFF, 0xD8]) && thumb.len() < original_len);
    let bad = s
        .req(
            reqwest::Method::GET,
            &format!("/api/v1/art/{art}?size=5"),
            &s.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_page_with_cursors_in_sort_order() {
    let s = TestServer::demo().await;
    let tracks = s.all_tracks().await;
    let ids: HashSet<i64> = tracks.iter().map(|t| t["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), tracks.len(), "no track twice across pages");
    let titles: Vec<String> = tracks
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_lowercase())
        .collect();
    let mut sorted = titles.clone();
    sorted.sort();
    assert_eq!(titles.len(), sorted.len());

    // Albums by year, newest first, across pages of 2.
    let mut years = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = s
            .admin_get(&format!(
                "/api/v1/albums?sort=year&order=desc&limit=2&cursor={cursor}"
            ))
            .await;
        years.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["year"].as_i64().unwrap_or(0)),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert!(years.windows(2).all(|w| w[0] >= w[1]), "{years:?}");

    // Details: an album's tracks in track order; an artist's albums.
    let albums = s.admin_get("/api/v1/albums?limit=1").await;
    let album_id = albums["items"][0]["id"].as_i64().unwrap();
    let album = s.admin_get(&format!("/api/v1/albums/{album_id}")).await;
    let numbers: Vec<u64> = album["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["track_number"].as_u64().unwrap())
        .collect();
    assert!(numbers.windows(2).all(|w| w[0] <= w[1]), "{numbers:?}");
    let artist_id = album["album_artist"]["id"].as_i64().unwrap();
    let artist = s.admin_get(&format!("/api/v1/artists/{artist_id}")).await;
    assert!(
        artist["albums"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"].as_i64() == Some(album_id))
    );
    let genres = s.admin_get("/api/v1/genres").await;
    assert!(!genres.as_array().unwrap().is_empty());

    // Malformed list requests are 400s with our error shape.
    for bad in [
        "/api/v1/albums?cursor=garbage",
        "/api/v1/albums?sort=bitrate",
        "/api/v1/tracks?limit=0",
        "/api/v1/tracks?limit=abc",
        "/api/v1/albums?order=sideways",
    ] {
        let r = s
            .req(reqwest::Method::GET, bad, &s.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(error_code(r).await, "bad_request");
    }
    for missing in [
        "/api/v1/albums/999999",
        "/api/v1/artists/999999",
        "/api/v1/tracks/999999",
    ] {
        let r = s
            .req(reqwest::Method::GET, missing, &s.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{missing}");
        assert_eq!(error_code(r).await, "not_found");
    }
}

fn titles(results: &Value, kind: &str, field: &str) -> Vec<String> {
    results[kind]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[field].as_str().unwrap().to_string())
        .collect()
}

/// Swaps two letters in the middle of the longest word: a typical typo.
fn with_typo(title: &str) -> String {
    let word = title
        .split_whitespace()
        .max_by_key(|w| w.chars().count())
        .unwrap();
    let mut chars: Vec<char> = word.chars().collect();
    let i = chars.len() / 2;
    chars.swap(i - 1, i);
    chars.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn search_finds_prefixes_typos_and_ranks_exact_matches_first() {
    let s = TestServer::demo().await;
    let tracks = s.all_tracks().await;
    let target = tracks
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .find(|t| {
            t.split_whitespace()
                .any(|w| w.chars().count() >= 6 && w.is_ascii())
        })
        .expect("a demo title with a long word");

    // Control characters in a query are ignored, not a database error.
    let with_nul = s
        .admin_get(&format!("/api/v1/search?q=%00{}%00", urlencode(target)))
        .await;
    assert!(
        titles(&with_nul, "tracks", "title")
            .iter()
            .any(|t| t == target)
    );

    let exact = s
        .admin_get(&format!("/api/v1/search?q={}", urlencode(target)))
        .await;
    assert_eq!(
        titles(&exact, "tracks", "title")[0],
        target,
        "an exact title ranks first"
    );

    let word = target
        .split_whitespace()
        .max_by_key(|w| w.chars().count())
        .unwrap();
    let prefix: String = word.chars().take(4).collect();
    let by_prefix = s
        .admin_get(&format!("/api/v1/search?q={}", urlencode(&prefix)))
        .await;
    assert!(
        titles(&by_prefix, "tracks", "title")
            .iter()
            .any(|t| t == target),
        "prefix {prefix:?} finds {target:?}"
    );

    let typo = with_typo(target);
    let by_typo = s
        .admin_get(&format!("/api/v1/search?q={}", urlencode(&typo)))
        .await;
    assert!(
        titles(&by_typo, "tracks", "title")
            .iter()
            .any(|t| t == target),
        "typo {typo:?} finds {target:?}: {by_typo}"
    );

    // Artists and albums are searched too, without regard to case or accents.
    let artist = tracks[0]["artists"][0]["name"].as_str().unwrap();
    let shouted = artist.to_uppercase();
    let by_artist = s
        .admin_get(&format!("/api/v1/search?q={}", urlencode(&shouted)))
        .await;
    assert!(
        titles(&by_artist, "artists", "name")
            .iter()
            .any(|n| n == artist),
        "{by_artist}"
    );

    let nothing = s.admin_get("/api/v1/search?q=qqqqzzzzxxxx").await;
    assert!(nothing["tracks"].as_array().unwrap().is_empty());
    let short = s
        .admin_get(&format!("/api/v1/search?q={}", urlencode(&target[..1])))
        .await;
    assert!(
        !short["tracks"].as_array().unwrap().is_empty(),
        "one letter is a prefix search"
    );
    let r = s
        .req(reqwest::Method::GET, "/api/v1/search", &s.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
