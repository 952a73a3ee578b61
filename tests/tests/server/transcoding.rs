//! Transcoding: renditions answer like files (exact length before encoding, Range, validators,
//! signed URLs), any fill order gives the same bytes, a closed connection stops the encoder,
//! and a flood is refused with 503.

use crate::common::*;
use mixtape_codec::{TrackDecoder, out_frames};
use rand::seq::SliceRandom;
use reqwest::Method;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// A 16-bit PCM WAV of `secs` seconds: tones that differ per second, so misplaced bytes show.
fn write_wav(path: &Path, rate: u32, channels: u16, secs: u32) {
    let frames = rate * secs;
    let data_len = frames * u32::from(channels) * 2;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
    out.extend_from_slice(&(channels * 2).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..frames {
        let t = f64::from(i) / f64::from(rate);
        let f = 200.0 + 50.0 * f64::from(i / rate % 7);
        for c in 0..channels {
            let s = (2.0 * std::f64::consts::PI * f * (1.0 + f64::from(c) * 0.25) * t).sin() * 0.4;
            out.extend_from_slice(&((s * 32_767.0) as i16).to_le_bytes());
        }
    }
    std::fs::write(path, out).unwrap();
}

/// Adds WAVs of these lengths to the library, rescans, and returns their tracks.
async fn add_wavs(s: &TestServer, secs: &[u32]) -> Vec<Value> {
    for (i, &n) in secs.iter().enumerate() {
        write_wav(&s.library.join(format!("long-{i}.wav")), 44_100, 2, n);
    }
    s.rescan().await;
    let mut tracks: Vec<Value> = s
        .all_tracks()
        .await
        .into_iter()
        .filter(|t| t["format"] == "wav")
        .collect();
    tracks.sort_by_key(|t| t["duration_ms"].as_u64());
    assert_eq!(tracks.len(), secs.len());
    tracks
}

fn demo_flac(tracks: &[Value]) -> Value {
    tracks
        .iter()
        .find(|t| t["format"] == "flac")
        .cloned()
        .unwrap()
}

/// Frames a gapless decode of `bytes` gives, and their rate.
fn decoded_frames(bytes: Vec<u8>, ext: &str) -> (u64, u32) {
    let mut dec = TrackDecoder::open(Box::new(std::io::Cursor::new(bytes)), ext).unwrap();
    let mut samples = 0u64;
    while let Some(chunk) = dec.next_chunk().unwrap() {
        samples += chunk.len() as u64;
    }
    let spec = dec.spec();
    (samples / u64::from(spec.channels), spec.rate)
}

async fn get_bytes(
    s: &TestServer,
    path: &str,
    range: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = s.req(Method::GET, path, &s.admin_token);
    if let Some(r) = range {
        req = req.header("range", r);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.bytes().await.unwrap().to_vec())
}

/// The `len` bytes of `path`, read by concurrent Range requests of `piece` bytes sent in a
/// shuffled order.
async fn fill_by_shuffled_ranges(s: &TestServer, path: &str, len: u64, piece: u64) -> Vec<u8> {
    let mut starts: Vec<u64> = (0..len).step_by(piece as usize).collect();
    starts.shuffle(&mut rand::rng());
    let mut tasks = tokio::task::JoinSet::new();
    for start in starts {
        let req = s.req(Method::GET, path, &s.admin_token).header(
            "range",
            format!("bytes={start}-{}", (start + piece).min(len) - 1),
        );
        tasks.spawn(async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 206);
            (start, r.bytes().await.unwrap())
        });
    }
    let mut filled = vec![0u8; len as usize];
    while let Some(done) = tasks.join_next().await {
        let (start, bytes) = done.unwrap();
        filled[start as usize..start as usize + bytes.len()].copy_from_slice(&bytes);
    }
    filled
}

/// Whether the server holds all of track `id` in `profile` (`cached` of its renditions).
async fn rendition_cached(s: &TestServer, id: i64, profile: &str) -> bool {
    let sizes = s
        .admin_get(&format!("/api/v1/tracks/{id}/renditions"))
        .await;
    sizes["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["profile"] == profile)
        .unwrap()["cached"]
        .as_bool()
        .unwrap()
}

fn stats(s: &TestServer) -> mixtape_server::transcode::PoolStats {
    s.server.as_ref().unwrap().state.transcoder.pool_stats()
}

#[tokio::test(flavor = "multi_thread")]
async fn profiles_are_listed_with_codec_container_bitrate_and_content_type() {
    let s = TestServer::demo().await;
    let list = s.admin_get("/api/v1/profiles").await;
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    for id in [
        "original", "opus-64", "opus-96", "opus-128", "opus-160", "opus-192", "mp3-128", "mp3-192",
        "mp3-320",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let p96 = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "opus-96")
        .unwrap();
    assert_eq!(p96["codec"], "opus");
    assert_eq!(p96["container"], "ogg");
    assert_eq!(p96["bitrate_kbps"], 96);
    assert_eq!(p96["content_type"], "audio/ogg");
    let mp3 = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "mp3-192")
        .unwrap();
    assert_eq!(
        (&mp3["codec"], &mp3["container"], &mp3["content_type"]),
        (&"mp3".into(), &"mp3".into(), &"audio/mpeg".into())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rendition_has_its_exact_length_before_encoding_and_decodes_to_every_frame() {
    let s = TestServer::demo().await;
    let track = demo_flac(&s.all_tracks().await);
    let (id, hash) = (
        track["id"].as_i64().unwrap(),
        track["content_hash"].as_str().unwrap(),
    );
    let sizes = s
        .admin_get(&format!("/api/v1/tracks/{id}/renditions"))
        .await;
    let size_of = |p: &str| {
        sizes["renditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["profile"] == p)
            .unwrap()["size_bytes"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(size_of("original"), track["size_bytes"].as_u64().unwrap());
    let path = format!("/api/v1/media/{hash}/opus-96");
    let head = s
        .req(Method::HEAD, &path, &s.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    let head_len: u64 = head.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(head_len, size_of("opus-96"));
    assert_eq!(stats(&s).done, 0, "neither the sizes nor HEAD encode");

    let (status, headers, bytes) = get_bytes(&s, &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "audio/ogg");
    assert_eq!(headers["accept-ranges"], "bytes");
    assert_eq!(headers["etag"], format!("\"{hash}.opus-96\"").as_str());
    assert_eq!(bytes.len() as u64, head_len);

    // Every frame of the original, resampled to 48 kHz, and not one more.
    let original = std::fs::read(
        files_with_ext(&s.library, &["flac"])
            .into_iter()
            .map(|p| s.library.join(p))
            .find(|p| blake3::hash(&std::fs::read(p).unwrap()).to_hex().as_str() == hash)
            .unwrap(),
    )
    .unwrap();
    let (src_frames, src_rate) = decoded_frames(original, "flac");
    let (frames, rate) = decoded_frames(bytes.clone(), "opus");
    assert_eq!(rate, 48_000);
    assert_eq!(frames, out_frames(src_frames, src_rate));

    // The same bytes by track id.
    let (status, headers, by_id) = get_bytes(
        &s,
        &format!("/api/v1/tracks/{id}/stream?profile=opus-96"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "private, no-cache");
    assert!(by_id == bytes);
    let r = s
        .req(
            Method::GET,
            &format!("/api/v1/tracks/{id}/stream?profile=opus-7"),
            &s.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "unknown_profile");
}

/// MP3 renditions as files too: HEAD's length without encoding, the tail and shuffled ranges
/// before the rest, the same bytes as a sequential read, and every frame of the source once
/// decoded (the Info frame's delay and padding trimmed).
#[tokio::test(flavor = "multi_thread")]
async fn an_mp3_rendition_is_exact_and_fills_in_any_order() {
    let s = TestServer::demo().await;
    let track = add_wavs(&s, &[13]).await.remove(0);
    let hash = track["content_hash"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/media/{hash}/mp3-192");
    let head = s
        .req(Method::HEAD, &path, &s.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-type"], "audio/mpeg");
    let len: u64 = head.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(len % 576, 0, "whole 576-byte frames at 192 kb/s");
    assert_eq!(stats(&s).done, 0, "HEAD encodes nothing");
    let (status, _, tail) = get_bytes(&s, &path, Some("bytes=-1000")).await;
    assert_eq!(status, 206);
    let shuffled = fill_by_shuffled_ranges(&s, &path, len, 40_000).await;
    let (status, _, sequential) = get_bytes(&s, &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(sequential.len() as u64, len);
    assert!(sequential[(len - 1000) as usize..] == tail[..]);
    assert_eq!(blake3::hash(&shuffled), blake3::hash(&sequential));
    let (frames, rate) = decoded_frames(sequential, "mp3");
    assert_eq!(rate, 48_000);
    assert_eq!(frames, out_frames(13 * 44_100, 44_100));
}

#[tokio::test(flavor = "multi_thread")]
async fn ranges_come_before_completion_and_every_fill_order_gives_the_same_bytes() {
    // A 1 MiB cache: one 65 s rendition at opus-64 (~0.5 MB) fits, a second one evicts it.
    let s = TestServer::demo_with(|c| c.transcode_cache_max_mb = 1).await;
    let track = add_wavs(&s, &[65]).await.remove(0);
    let (id, hash) = (
        track["id"].as_i64().unwrap(),
        track["content_hash"].as_str().unwrap().to_owned(),
    );
    let path = format!("/api/v1/media/{hash}/opus-64");

    // The tail first, as an Ogg demuxer asks, then the middle: both before anything else.
    let (status, headers, tail) = get_bytes(&s, &path, Some("bytes=-4096")).await;
    assert_eq!(status, 206);
    let len: u64 = headers["content-range"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        headers["content-range"],
        format!("bytes {}-{}/{len}", len - 4096, len - 1).as_str()
    );
    assert_eq!(tail.len(), 4096);
    let mid = len / 2;
    let (status, _, middle) =
        get_bytes(&s, &path, Some(&format!("bytes={mid}-{}", mid + 9_999))).await;
    assert_eq!(status, 206);
    assert_eq!(middle.len(), 10_000);
    assert!(
        !rendition_cached(&s, id, "opus-64").await,
        "both ranges came before the rendition was complete"
    );

    let (_, _, sequential) = get_bytes(&s, &path, None).await;
    assert_eq!(sequential.len() as u64, len);
    assert!(sequential[(len - 4096) as usize..] == tail[..]);
    assert!(sequential[mid as usize..mid as usize + 10_000] == middle[..]);

    // Another rendition pushes this one out of the 1 MiB cache.
    let (_, _, other) = get_bytes(&s, &format!("/api/v1/media/{hash}/opus-96"), None).await;
    assert!(!other.is_empty());
    assert!(rendition_cached(&s, id, "opus-96").await);
    assert!(!rendition_cached(&s, id, "opus-64").await, "evicted");

    // Refilled by concurrent ranges in shuffled order: the same bytes.
    let refilled = fill_by_shuffled_ranges(&s, &path, len, 50_000).await;
    assert_eq!(blake3::hash(&refilled), blake3::hash(&sequential));
}

/// One small range is enough for the whole rendition to be made in the background, each
/// chunk once: then a full read encodes nothing more.
#[tokio::test(flavor = "multi_thread")]
async fn a_started_rendition_is_completed_in_the_background() {
    let s = TestServer::demo_with(|c| c.transcode_threads = 1).await;
    let track = add_wavs(&s, &[30]).await.remove(0);
    let (id, hash) = (
        track["id"].as_i64().unwrap(),
        track["content_hash"].as_str().unwrap().to_owned(),
    );
    let path = format!("/api/v1/media/{hash}/opus-96");
    let (status, _, _) = get_bytes(&s, &path, Some("bytes=0-999")).await;
    assert_eq!(status, 206);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if rendition_cached(&s, id, "opus-96").await {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not completed: {:?}",
            stats(&s)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // 30 s in 2 s chunks: 16 chunks (the pre-skip spills into a sixteenth), each encoded once.
    let encoded = stats(&s).done;
    assert_eq!(encoded, 16, "{:?}", stats(&s));
    let (status, _, whole) = get_bytes(&s, &path, None).await;
    assert_eq!(status, 200);
    assert!(!whole.is_empty());
    assert_eq!(stats(&s).done, encoded, "the full read was all cache hits");
}

#[tokio::test(flavor = "multi_thread")]
async fn validators_and_unsatisfiable_ranges_answer_as_for_files() {
    let s = TestServer::demo().await;
    let track = demo_flac(&s.all_tracks().await);
    let hash = track["content_hash"].as_str().unwrap();
    let path = format!("/api/v1/media/{hash}/opus-128");
    let head = s
        .req(Method::HEAD, &path, &s.admin_token)
        .send()
        .await
        .unwrap();
    let len: u64 = head.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let etag = head.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(
        head.headers()["cache-control"],
        "private, max-age=31536000, immutable"
    );

    let r = s
        .req(Method::GET, &path, &s.admin_token)
        .header("range", format!("bytes={len}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes */{len}").as_str()
    );
    let r = s
        .req(Method::GET, &path, &s.admin_token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let r = s
        .req(Method::GET, &path, &s.admin_token)
        .header("if-match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    // If-Range with another validator: the whole rendition.
    let r = s
        .req(Method::GET, &path, &s.admin_token)
        .header("range", "bytes=0-99")
        .header("if-range", "\"old\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().len() as u64, len);

    let unknown = s
        .req(
            Method::GET,
            &format!("/api/v1/media/{hash}/flac-9000"),
            &s.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let anonymous = s.http.get(s.url(&path)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_rendition_urls_work_without_a_token_and_refuse_a_forged_one() {
    let s = TestServer::demo().await;
    let track = demo_flac(&s.all_tracks().await);
    let id = track["id"].as_i64().unwrap();
    let sizes = s
        .admin_get(&format!("/api/v1/tracks/{id}/renditions"))
        .await;
    let r96 = sizes["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["profile"] == "opus-96")
        .unwrap()
        .clone();
    let url = r96["media_url"].as_str().unwrap();
    assert!(url.starts_with(&format!(
        "/media/{}/opus-96?e=",
        track["content_hash"].as_str().unwrap()
    )));
    let r = s
        .http
        .get(s.url(url))
        .header("range", "bytes=0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(&r.bytes().await.unwrap()[..], b"OggS");
    // The signature covers the profile: the same query on another profile is refused.
    let forged = url.replace("/opus-96?", "/opus-192?");
    let r = s.http.get(s.url(&forged)).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(error_code(r).await, "bad_signature");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_connection_stops_the_encoder_within_a_chunk() {
    let s = TestServer::demo_with(|c| {
        c.transcode_cache_max_mb = 0;
        c.transcode_threads = 1;
    })
    .await;
    let track = add_wavs(&s, &[200]).await.remove(0);
    let hash = track["content_hash"].as_str().unwrap();
    let mut r = s
        .req(
            Method::GET,
            &format!("/api/v1/media/{hash}/opus-192"),
            &s.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.chunk().await.unwrap().is_some());
    drop(r);
    // Give the server a moment to see the close, then the pool must go idle and stay so.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let st = stats(&s);
        if st.running == 0 && st.queued == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still encoding: {st:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let idle = stats(&s).done;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(stats(&s).done, idle, "encoding went on after the close");
    assert!(
        idle < 10,
        "{idle} of 100 chunks encoded for one closed response"
    );

    // Twelve seeks at once, all given up while the first chunk encodes: the queued ones are
    // dropped, not encoded.
    let path = format!("/api/v1/media/{hash}/opus-160");
    let mut tasks = tokio::task::JoinSet::new();
    for k in 0..12u64 {
        let req = s
            .req(Method::GET, &path, &s.admin_token)
            .header("range", format!("bytes={}-", 100_000 + k * 300_000));
        tasks.spawn(async move { req.send().await.map(|r| r.status()) });
    }
    // Until every one is queued or running on the single thread.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while stats(&s).queued + stats(&s).running < 12 {
        assert!(std::time::Instant::now() < deadline, "{:?}", stats(&s));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let st = stats(&s);
        if st.running == 0 && st.queued == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still encoding: {st:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let st = stats(&s);
    // The running chunk, and on a starved machine a few more before the closes are noticed.
    assert!(
        st.done - idle <= 5,
        "{} chunks encoded for 12 abandoned requests ({st:?})",
        st.done - idle
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_beyond_the_queue_gets_503_with_retry_after() {
    let s = TestServer::demo_with(|c| {
        c.transcode_cache_max_mb = 0;
        c.transcode_threads = 1;
    })
    .await;
    let tracks = add_wavs(&s, &[150, 160]).await;
    // 2 tracks × 5 profiles × 15+ chunks: far more distinct chunks than the queue holds.
    let mut tasks = tokio::task::JoinSet::new();
    for t in &tracks {
        let hash = t["content_hash"].as_str().unwrap();
        for p in ["opus-64", "opus-96", "opus-128", "opus-160", "opus-192"] {
            let path = format!("/api/v1/media/{hash}/{p}");
            let len: u64 = s
                .req(Method::HEAD, &path, &s.admin_token)
                .send()
                .await
                .unwrap()
                .headers()["content-length"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            for k in 0..15u64 {
                let at = len * k / 15;
                let req = s
                    .req(Method::GET, &path, &s.admin_token)
                    .header("range", format!("bytes={at}-{at}"));
                tasks.spawn(async move {
                    let r = req.send().await.unwrap();
                    (
                        r.status().as_u16(),
                        r.headers()
                            .get("retry-after")
                            .map(|v| v.to_str().unwrap().to_owned()),
                    )
                });
            }
        }
    }
    let mut ok = 0;
    let mut busy = 0;
    while let Some(done) = tasks.join_next().await {
        match done.unwrap() {
            (206, _) => ok += 1,
            (503, retry) => {
                assert_eq!(retry.as_deref(), Some("5"));
                busy += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        busy > 0,
        "150 chunks at once on one thread and nothing refused"
    );
    assert!(ok > 0);
    assert!(stats(&s).queued <= 64);
}
