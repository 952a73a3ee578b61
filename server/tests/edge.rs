//! The CDN edge: a real nginx (`deploy/nginx/render-edge`) in front of a real `mixtape-server`
//! process, serving the signed `media_url`s the API hands out. Counts are taken on the origin
//! (its `/metrics` request counter for `/media/{hash}`), so "the origin was not asked" is
//! checked, not assumed.

mod common;
#[path = "cluster/edge.rs"]
mod edge;

use edge::Edge;
use mixtape_server::media_url::{MediaSigner, unix_now};
use reqwest::blocking::Response;
use serde_json::Value;

const SLICE: u64 = 1 << 20;
const PASSWORD: &str = "edge-test-password";

/// A 16-bit mono WAV of `data_bytes` bytes of noise from `seed`: distinct, incompressible files
/// several slices long.
fn noise_wav(seed: u64, data_bytes: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(44 + data_bytes as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_bytes).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&44_100u32.to_le_bytes());
    out.extend_from_slice(&88_200u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_bytes.to_le_bytes());
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    while out.len() < 44 + data_bytes as usize {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push((x >> 24) as u8);
    }
    out
}

struct Setup {
    server: common::Server,
    edge: Edge,
    /// Tracks by title: (content hash, size, media_url).
    tracks: Vec<(String, u64, String)>,
    signer: MediaSigner,
    _tmp: tempfile::TempDir,
}

/// Three tracks of 3.5 MB (4 slices each) behind an edge.
fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let library = tmp.path().join("library");
    std::fs::create_dir_all(library.join("Artist/Album")).unwrap();
    for i in 0..3u64 {
        let path = library.join(format!("Artist/Album/Track {i}.wav"));
        std::fs::write(path, noise_wav(i + 1, 3_500_000)).unwrap();
    }
    let data = tmp.path().join("data");
    let server = common::start(&library, &data, PASSWORD, &[]);
    let tracks = wait_for_tracks(&server, 3);
    let keyfile = data.join("media.key");
    let key: [u8; 32] = hex::decode(std::fs::read_to_string(&keyfile).unwrap().trim())
        .unwrap()
        .try_into()
        .unwrap();
    let origin = server.base.trim_start_matches("http://").to_string();
    let edge = Edge::start(&origin, &keyfile);
    Setup {
        server,
        edge,
        tracks,
        signer: MediaSigner::new(key, None),
        _tmp: tmp,
    }
}

fn wait_for_tracks(server: &common::Server, count: usize) -> Vec<(String, u64, String)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let page = server.get("/api/v1/tracks?limit=100");
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if items.len() == count {
            return items
                .iter()
                .map(|t| {
                    (
                        t["content_hash"].as_str().unwrap().to_string(),
                        t["size_bytes"].as_u64().unwrap(),
                        t["media_url"]
                            .as_str()
                            .unwrap_or_else(|| panic!("no media_url in {t}"))
                            .to_string(),
                    )
                })
                .collect();
        }
        assert!(std::time::Instant::now() < deadline, "scan: {page}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Requests the origin answered on `/media/{hash}` so far, by status class, from its metrics.
fn origin_media_requests(server: &common::Server) -> u64 {
    let text = server
        .http
        .get(format!("{}/metrics", server.base))
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("mixtape_http_request_duration_seconds_count{"))
        .filter(|l| l.contains("route=\"/media/{hash}\""))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap() as u64)
        .sum()
}

fn get(url: &str, range: Option<&str>) -> Response {
    let client = reqwest::blocking::Client::new();
    let mut request = client.get(url);
    if let Some(range) = range {
        request = request.header("Range", range);
    }
    request.send().unwrap()
}

fn cache_status(r: &Response) -> String {
    r.headers()
        .get("x-cache-status")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

fn error_code(r: Response) -> String {
    let body: Value = r.json().unwrap();
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn blake3_hex(body: &[u8]) -> String {
    blake3::hash(body).to_hex().to_string()
}

#[test]
fn the_edge_caches_signed_media_by_slice_and_refuses_bad_signatures_before_the_cache() {
    let s = setup();
    let slices = |size: u64| size.div_ceil(SLICE);
    let (hash, size, url) = &s.tracks[0];
    assert!(url.starts_with("/media/"), "relative by default: {url}");
    let base = s.edge.url();

    // First fetch: a miss, the whole file, one origin request per slice.
    let before = origin_media_requests(&s.server);
    let r = get(&format!("{base}{url}"), None);
    assert_eq!(r.status(), 200);
    assert_eq!(cache_status(&r), "MISS");
    let body = r.bytes().unwrap();
    assert_eq!(body.len() as u64, *size);
    assert_eq!(&blake3_hex(&body), hash);
    let after_first = origin_media_requests(&s.server);
    assert_eq!(
        after_first - before,
        slices(*size),
        "one origin request per slice"
    );

    // Second fetch: a hit, the origin untouched.
    let r = get(&format!("{base}{url}"), None);
    assert_eq!(r.status(), 200);
    assert_eq!(cache_status(&r), "HIT");
    assert_eq!(&blake3_hex(&r.bytes().unwrap()), hash);
    assert_eq!(origin_media_requests(&s.server), after_first);

    // Another signature (another expiry) for the same hash shares the cached object.
    let path = MediaSigner::path(hash);
    let expiry = unix_now() + 120;
    let other = format!(
        "{base}{path}?e={expiry}&s={}",
        s.signer.signature(&path, expiry)
    );
    assert_ne!(format!("{base}{url}"), other);
    let r = get(&other, None);
    assert_eq!(r.status(), 200);
    assert_eq!(cache_status(&r), "HIT");
    assert_eq!(origin_media_requests(&s.server), after_first);

    // A range of another track, across slices 1 and 2: 206 built from those slices alone.
    let (hash2, size2, url2) = &s.tracks[1];
    let whole = {
        let r = s
            .server
            .http
            .get(format!("{}/api/v1/media/{hash2}", s.server.base))
            .bearer_auth(&s.server.token)
            .send()
            .unwrap();
        r.bytes().unwrap()
    };
    assert_eq!(whole.len() as u64, *size2);
    let before_range = origin_media_requests(&s.server);
    let (from, to) = (1_500_000u64, 2_600_000u64);
    let r = get(
        &format!("{base}{url2}"),
        Some(&format!("bytes={from}-{to}")),
    );
    assert_eq!(r.status(), 206);
    assert_eq!(cache_status(&r), "MISS");
    assert_eq!(
        r.headers()["content-range"].to_str().unwrap(),
        format!("bytes {from}-{to}/{size2}")
    );
    assert_eq!(&r.bytes().unwrap()[..], &whole[from as usize..=to as usize]);
    assert_eq!(
        origin_media_requests(&s.server) - before_range,
        2,
        "slices 1 and 2 only"
    );
    // The same range again, and a range inside slice 2: hits.
    let r = get(&format!("{base}{url2}"), Some("bytes=2200000-2300000"));
    assert_eq!(r.status(), 206);
    assert_eq!(cache_status(&r), "HIT");
    assert_eq!(&r.bytes().unwrap()[..], &whole[2_200_000..=2_300_000]);
    assert_eq!(origin_media_requests(&s.server) - before_range, 2);

    // Bad and expired signatures: refused at the edge, the origin never asked.
    let settled = origin_media_requests(&s.server);
    let (hash3, _, url3) = &s.tracks[2];
    let tampered_sig = {
        let (head, sig) = url3.split_once("&s=").unwrap();
        let flipped = if sig.starts_with('0') { "1" } else { "0" };
        format!("{base}{head}&s={flipped}{}", &sig[1..])
    };
    let r = get(&tampered_sig, None);
    assert_eq!(r.status(), 403);
    assert_eq!(error_code(r), "bad_signature");
    // A valid signature moved to another hash.
    let moved = format!("{base}{}", url3.replace(hash3.as_str(), hash));
    let r = get(&moved, None);
    assert_eq!(r.status(), 403);
    assert_eq!(error_code(r), "bad_signature");
    // A later expiry under the old signature.
    let (_, query) = url3.split_once("?e=").unwrap();
    let (e, sig) = query.split_once("&s=").unwrap();
    let later: u64 = e.parse::<u64>().unwrap() + 86_400;
    let r = get(
        &format!("{base}{}?e={later}&s={sig}", MediaSigner::path(hash3)),
        None,
    );
    assert_eq!(r.status(), 403);
    // No signature at all, even for a cached object.
    let r = get(&format!("{base}{path}"), None);
    assert_eq!(r.status(), 403);
    let past = unix_now() - 10;
    let expired = format!(
        "{base}{path}?e={past}&s={}",
        s.signer.signature(&path, past)
    );
    let r = get(&expired, None);
    assert_eq!(r.status(), 410);
    assert_eq!(error_code(r), "expired");
    assert_eq!(
        origin_media_requests(&s.server),
        settled,
        "refused requests never reach the origin"
    );
    let log = s.edge.access_log();
    assert!(log.contains("cache=HIT"), "{log}");
}

#[test]
fn the_origin_checks_signatures_itself_and_keeps_token_answers_private() {
    let s = setup();
    let server = &s.server;
    let (hash, size, url) = &s.tracks[0];
    let origin = |u: &str| get(&format!("{}{u}", server.base), None);

    let r = origin(url);
    assert_eq!(r.status(), 200, "no token needed");
    let cache_control = r.headers()["cache-control"].to_str().unwrap().to_string();
    assert!(cache_control.starts_with("public"), "{cache_control}");
    assert_eq!(r.headers()["etag"].to_str().unwrap(), format!("\"{hash}\""));
    assert_eq!(r.bytes().unwrap().len() as u64, *size);
    let r = get(&format!("{}{url}", server.base), Some("bytes=10-19"));
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().unwrap().len(), 10);

    let path = MediaSigner::path(hash);
    let past = unix_now() - 1;
    let r = origin(&format!(
        "{path}?e={past}&s={}",
        s.signer.signature(&path, past)
    ));
    assert_eq!(r.status(), 410);
    assert_eq!(error_code(r), "expired");
    let r = origin(&format!("{path}?e=99999999999&s={}", "ab".repeat(32)));
    assert_eq!(r.status(), 403);
    assert_eq!(error_code(r), "bad_signature");
    let r = origin(&path);
    assert_eq!(r.status(), 403);
    // A hash the library does not have, validly signed: 404 after the check.
    let unknown = "0".repeat(64);
    let upath = MediaSigner::path(&unknown);
    let later = unix_now() + 60;
    let r = origin(&format!(
        "{upath}?e={later}&s={}",
        s.signer.signature(&upath, later)
    ));
    assert_eq!(r.status(), 404);

    // The token routes stay private: a shared cache must not keep them.
    let r = server
        .http
        .get(format!("{}/api/v1/media/{hash}", server.base))
        .bearer_auth(&server.token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let cache_control = r.headers()["cache-control"].to_str().unwrap();
    assert!(cache_control.starts_with("private"), "{cache_control}");

    // Every track answer carries a signed URL, the same within the bucket (cached pages too).
    let id = server.get("/api/v1/tracks?limit=1")["items"][0]["id"]
        .as_i64()
        .unwrap();
    let one = server.get(&format!("/api/v1/tracks/{id}"));
    assert!(one["media_url"].as_str().unwrap().starts_with("/media/"));
    let found = server.get("/api/v1/search?q=track");
    assert!(found["tracks"][0]["media_url"].is_string(), "{found}");
    let feed = server.get("/api/v1/changes?since=0");
    let track_change = feed["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "track")
        .unwrap();
    assert!(track_change["track"]["media_url"].is_string(), "{feed}");
    let again = server.get("/api/v1/tracks?limit=100");
    assert!(
        again["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["media_url"].as_str() == Some(url.as_str()))
    );
    let fresh = server.get(&format!("/api/v1/media-url/{hash}"));
    assert_eq!(fresh["media_url"].as_str(), Some(url.as_str()));
    let r = server
        .http
        .get(format!(
            "{}/api/v1/media-url/{}",
            server.base,
            "f".repeat(64)
        ))
        .bearer_auth(&server.token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
}
