//! Streaming: byte-exact ranges, HEAD, validators, immutable media URLs.

use crate::common::*;
use reqwest::Method;

#[tokio::test(flavor = "multi_thread")]
async fn ranges_are_byte_exact_against_the_file() {
    let s = TestServer::demo().await;
    let track = s
        .all_tracks()
        .await
        .into_iter()
        .find(|t| t["format"] == "flac")
        .unwrap();
    let id = track["id"].as_i64().unwrap();
    let stream = format!("/api/v1/tracks/{id}/stream");
    let whole = s
        .req(Method::GET, &stream, &s.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["content-type"], "audio/flac");
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    let etag = whole.headers()["etag"].to_str().unwrap().to_string();
    let bytes = whole.bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, track["size_bytes"].as_u64().unwrap());
    assert_eq!(
        format!("\"{}\"", blake3::hash(&bytes).to_hex()),
        etag,
        "the ETag is the content hash"
    );
    assert_eq!(
        etag.trim_matches('"'),
        track["content_hash"].as_str().unwrap()
    );
    let on_disk = files_with_ext(&s.library, &["flac"])
        .into_iter()
        .map(|p| std::fs::read(s.library.join(p)).unwrap())
        .find(|b| b.as_slice() == bytes.as_ref());
    assert!(on_disk.is_some(), "the stream is the original file");
    let len = bytes.len();

    for (range, start, end) in [
        ("bytes=0-0", 0, 0),
        ("bytes=100-1099", 100, 1099),
        (&*format!("bytes={}-", len - 10), len - 10, len - 1),
        ("bytes=-500", len - 500, len - 1),
        (&*format!("bytes=10-{}", len * 2), 10, len - 1),
    ] {
        let r = s
            .req(Method::GET, &stream, &s.admin_token)
            .header("range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 206, "{range}");
        assert_eq!(
            r.headers()["content-range"],
            format!("bytes {start}-{end}/{len}").as_str(),
            "{range}"
        );
        assert_eq!(
            r.headers()["content-length"],
            (end - start + 1).to_string().as_str()
        );
        assert_eq!(
            r.bytes().await.unwrap().as_ref(),
            &bytes[start..=end],
            "{range}"
        );
    }
    let r = s
        .req(Method::GET, &stream, &s.admin_token)
        .header("range", format!("bytes={}-", len + 5))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes */{len}").as_str()
    );
    // A suffix longer than the file is the whole file, as a 206 (RFC 9110 §14.1.2).
    let r = s
        .req(Method::GET, &stream, &s.admin_token)
        .header("range", "bytes=-9999999999999999999")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 0-{}/{len}", len - 1).as_str()
    );
    assert_eq!(r.bytes().await.unwrap().len(), len);
    // Several ranges, overlapping or not, are answered with the whole file.
    for range in ["bytes=0-5,0-5,0-5", "bytes=0-0,5-9"] {
        let r = s
            .req(Method::GET, &stream, &s.admin_token)
            .header("range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{range}");
        assert_eq!(r.bytes().await.unwrap().len(), len, "{range}");
    }
    // A malformed Range is ignored: the whole file.
    let r = s
        .req(Method::GET, &stream, &s.admin_token)
        .header("range", "pages=1-2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // HEAD, conditional requests.
    let r = s
        .req(Method::HEAD, &stream, &s.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], len.to_string().as_str());
    let r = s
        .req(Method::GET, &stream, &s.admin_token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let r = s
        .req(Method::GET, &stream, &s.admin_token)
        .header("if-match", "\"stale\"")
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    let r = s
        .req(Method::GET, &stream, &s.admin_token)
        .header("if-match", &etag)
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);

    // The content-addressed URL serves the same bytes, immutable.
    let hash = track["content_hash"].as_str().unwrap();
    let r = s
        .req(
            Method::GET,
            &format!("/api/v1/media/{hash}"),
            &s.admin_token,
        )
        .header("range", "bytes=100-1099")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["cache-control"],
        "private, max-age=31536000, immutable"
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[100..1100]);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_request_path_reaches_files_outside_the_track_table() {
    let s = TestServer::demo().await;
    for path in [
        "/api/v1/tracks/..%2F..%2Fetc%2Fpasswd/stream",
        "/api/v1/tracks/1%2F..%2F..%2Fetc%2Fpasswd/stream",
        "/api/v1/media/..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/v1/media/%2Fetc%2Fpasswd",
        "/api/v1/art/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/tracks/-1/stream",
        "/api/v1/playlists/..%2Fx",
    ] {
        let r = s
            .req(Method::GET, path, &s.admin_token)
            .send()
            .await
            .unwrap();
        assert!(
            matches!(r.status().as_u16(), 400 | 404),
            "{path}: {}",
            r.status()
        );
        let body = r.text().await.unwrap();
        assert!(!body.contains("root:"), "{path} leaked a file");
        assert!(body.starts_with("{\"error\""), "{path}: {body}");
    }
}
