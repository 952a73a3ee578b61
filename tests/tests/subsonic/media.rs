//! stream, download and getCoverArt: the original bytes with Range, never a play; art resized.

use crate::support::*;
use reqwest::Method;

#[tokio::test(flavor = "multi_thread")]
async fn stream_serves_the_file_with_ranges_and_counts_no_play() {
    let sub = Sub::new().await;
    let fx = sub.fixture().await;
    for endpoint in ["stream", "stream.view", "download"] {
        let r = sub
            .get(
                endpoint,
                &[
                    ("apiKey", &sub.key),
                    ("id", &fx.song),
                    ("format", "raw"),
                    ("maxBitRate", "128"),
                ],
            )
            .await;
        assert_eq!(r.status(), 200, "{endpoint}");
        assert_eq!(r.headers()["accept-ranges"], "bytes");
        let etag = r.headers()["etag"].to_str().unwrap().to_string();
        let whole = r.bytes().await.unwrap();
        assert_eq!(whole.len() as u64, fx.song_size);
        assert_eq!(format!("\"{}\"", blake3::hash(&whole).to_hex()), etag);
        // Seeking: a Range answers exactly those bytes.
        let r = sub
            .s
            .http
            .get(sub.url(endpoint))
            .query(&[("apiKey", sub.key.as_str()), ("id", fx.song.as_str())])
            .header("range", "bytes=100-199")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 206);
        assert_eq!(
            r.headers()["content-range"],
            format!("bytes 100-199/{}", whole.len()).as_str()
        );
        assert_eq!(r.bytes().await.unwrap(), whole.slice(100..200));
    }
    // Form POST works for stream too, with password auth.
    let r = sub
        .s
        .http
        .post(sub.url("stream"))
        .form(&[
            ("u", "admin"),
            ("p", crate::common::ADMIN_PASSWORD),
            ("id", fx.song.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().len() as u64, fx.song_size);
    // Streaming never counts a play.
    let history = sub.s.admin_get("/api/v1/history").await;
    assert_eq!(history["total"], 0, "{history}");
    let song = sub.json("getSong", &[("id", &fx.song)]).await;
    assert_eq!(song["song"]["playCount"], 0);
    // Errors are Subsonic errors, in the asked format.
    let x = sub.xml("stream", &[("id", "tr-424242")]).await;
    xml_failed(&x, 70);
    let j = sub.json("download", &[]).await;
    failed(&j, 10);
}

#[tokio::test(flavor = "multi_thread")]
async fn cover_art_by_hash_or_id_resized_on_request() {
    let sub = Sub::new().await;
    let fx = sub.fixture().await;
    let original = sub
        .get("getCoverArt", &[("apiKey", &sub.key), ("id", &fx.cover)])
        .await;
    assert_eq!(original.status(), 200);
    assert!(
        original.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("image/")
    );
    let original = original.bytes().await.unwrap();
    // The same bytes as our REST art endpoint.
    let rest = sub
        .s
        .req(
            Method::GET,
            &format!("/api/v1/art/{}", fx.cover),
            &sub.s.admin_token,
        )
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(original, rest);
    for id in [
        fx.cover.as_str(),
        fx.album.as_str(),
        fx.song.as_str(),
        fx.artist.as_str(),
    ] {
        let r = sub
            .get(
                "getCoverArt",
                &[("apiKey", &sub.key), ("id", id), ("size", "32")],
            )
            .await;
        assert_eq!(r.status(), 200, "{id}");
        assert_eq!(r.headers()["content-type"], "image/jpeg", "{id}");
        let bytes = r.bytes().await.unwrap();
        assert!(bytes.starts_with(&[0xff, 0xd8]), "{id}: a JPEG");
        assert!(bytes.len() < original.len(), "{id}: resized");
    }
    // Sizes beyond what the art service makes are clamped, not refused.
    let r = sub
        .get(
            "getCoverArt",
            &[("apiKey", &sub.key), ("id", &fx.cover), ("size", "1")],
        )
        .await;
    assert_eq!(r.status(), 200);
    failed(
        &sub.json("getCoverArt", &[("id", &"0".repeat(64))]).await,
        70,
    );
    xml_failed(&sub.xml("getCoverArt", &[("id", "tr-99999")]).await, 70);
}
