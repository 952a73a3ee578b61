//! `stream` with `format`, `maxBitRate` and `timeOffset`: renditions of exact length.

use crate::support::*;
use mixtape_codec::TrackDecoder;

/// The first channel of a gapless decode, and the rate.
fn decode(bytes: Vec<u8>) -> (Vec<f32>, u32) {
    let mut dec = TrackDecoder::open(Box::new(std::io::Cursor::new(bytes)), "").unwrap();
    let mut samples = Vec::new();
    while let Some(chunk) = dec.next_chunk().unwrap() {
        samples.extend(chunk);
    }
    let spec = dec.spec();
    let ch = usize::from(spec.channels);
    (samples.into_iter().step_by(ch).collect(), spec.rate)
}

/// The demo library's first FLAC track.
async fn demo_flac(sub: &Sub) -> serde_json::Value {
    sub.s
        .all_tracks()
        .await
        .into_iter()
        .find(|t| t["format"] == "flac")
        .unwrap()
}

/// The lag (within ±`range`) at which `a` best matches `b` shifted by `at`.
fn best_lag(a: &[f32], b: &[f32], at: usize, range: i64) -> i64 {
    let corr = |lag: i64| -> f64 {
        (48_000..96_000)
            .map(|i| f64::from(a[i]) * f64::from(b[(at as i64 + i as i64 + lag) as usize]))
            .sum()
    };
    (-range..=range)
        .max_by(|x, y| corr(*x).total_cmp(&corr(*y)))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn max_bit_rate_gives_an_exact_length_rendition_and_time_offset_starts_there() {
    let sub = Sub::new().await;
    let track = demo_flac(&sub).await;
    let id = format!("tr-{}", track["id"]);
    let r = sub
        .get(
            "stream",
            &[
                ("apiKey", &sub.key),
                ("id", &id),
                ("format", "opus"),
                ("maxBitRate", "100"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "audio/ogg");
    let len: u64 = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.ends_with(".opus-96\""), "{etag}");
    let whole = r.bytes().await.unwrap().to_vec();
    assert_eq!(whole.len() as u64, len, "the length sent first is exact");
    let (pcm, rate) = decode(whole.clone());
    let frames = pcm.len() as u64;
    assert_eq!(rate, 48_000);
    let duration_frames = track["duration_ms"].as_u64().unwrap() * 48;
    assert!(
        frames.abs_diff(duration_frames) < 48,
        "{frames} vs {duration_frames}"
    );

    // No format, a cap under the source's bitrate: Opus within it.
    let r = sub
        .get(
            "stream",
            &[("apiKey", &sub.key), ("id", &id), ("maxBitRate", "64")],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["etag"]
            .to_str()
            .unwrap()
            .ends_with(".opus-64\"")
    );

    // timeOffset=10: the rendition of the rest, exactly that long.
    let r = sub
        .get(
            "stream",
            &[
                ("apiKey", &sub.key),
                ("id", &id),
                ("format", "opus"),
                ("maxBitRate", "100"),
                ("timeOffset", "10"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let rest = r.bytes().await.unwrap().to_vec();
    let (rest_pcm, _) = decode(rest);
    assert_eq!(
        rest_pcm.len() as u64 + 480_000,
        frames,
        "the rest after 10.000 s"
    );
    assert_eq!(
        best_lag(&rest_pcm, &pcm, 480_000, 200),
        0,
        "starts at 10.000 s"
    );

    // download is always the original.
    let r = sub
        .get(
            "download",
            &[("apiKey", &sub.key), ("id", &id), ("format", "opus")],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "audio/flac");
    assert_eq!(
        r.bytes().await.unwrap().len() as u64,
        track["size_bytes"].as_u64().unwrap()
    );
}

/// `format=mp3&maxBitRate=128`, what iOS and car apps send: audio/mpeg of the length sent
/// first, the whole track gapless (the Info frame's delay and padding trimmed), and a Range
/// into its middle served before the rest.
#[tokio::test(flavor = "multi_thread")]
async fn mp3_at_128_is_audio_mpeg_of_exact_length_and_gapless() {
    let sub = Sub::new().await;
    let track = demo_flac(&sub).await;
    let id = format!("tr-{}", track["id"]);
    let query = [
        ("apiKey", sub.key.as_str()),
        ("id", id.as_str()),
        ("format", "mp3"),
        ("maxBitRate", "128"),
    ];
    let mid = sub
        .s
        .http
        .get(sub.url("stream"))
        .query(&query)
        .header("range", "bytes=100000-100999")
        .send()
        .await
        .unwrap();
    assert_eq!(mid.status(), 206);
    assert_eq!(mid.headers()["content-type"], "audio/mpeg");
    let total: u64 = mid.headers()["content-range"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mid = mid.bytes().await.unwrap().to_vec();
    let r = sub.get("stream", &query).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "audio/mpeg");
    let len: u64 = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(len, total);
    assert!(
        r.headers()["etag"]
            .to_str()
            .unwrap()
            .ends_with(".mp3-128\"")
    );
    let whole = r.bytes().await.unwrap().to_vec();
    assert_eq!(whole.len() as u64, len, "the length sent first is exact");
    assert_eq!(&whole[100_000..101_000], mid.as_slice());
    // Every frame 384 bytes (128 kb/s at 48 kHz), the first one the Info frame.
    assert_eq!(len % 384, 0);
    // After the header and the side information (17 bytes for mono, 32 for stereo).
    assert!(
        &whole[21..25] == b"Info" || &whole[36..40] == b"Info",
        "no Info frame first"
    );
    let (pcm, rate) = decode(whole);
    assert_eq!(rate, 48_000);
    let duration_frames = track["duration_ms"].as_u64().unwrap() * 48;
    assert!(
        (pcm.len() as u64).abs_diff(duration_frames) < 48,
        "{} vs {duration_frames}",
        pcm.len()
    );
}

/// The `transcoding` extension: a client that plays MP3 and takes Opus transcodes gets a FLAC
/// song as Opus within its cap, and the stream `getTranscodeStream` gives for the decision's
/// token is that rendition with its exact length; an MP3 song plays as it is. A token this
/// server did not make is 400, one for a file since changed 410.
#[tokio::test(flavor = "multi_thread")]
async fn transcode_decision_and_stream_follow_the_clients_profiles() {
    let sub = Sub::new().await;
    let tracks = sub.s.all_tracks().await;
    let flac = tracks.iter().find(|t| t["format"] == "flac").unwrap();
    let mp3 = tracks.iter().find(|t| t["format"] == "mp3").unwrap();
    let client = serde_json::json!({
        "name": "Symfonium", "platform": "Sonos",
        "maxAudioBitrate": 320_000, "maxTranscodingAudioBitrate": 100_000,
        "directPlayProfiles": [{"containers": ["mp3"], "audioCodecs": ["mp3"], "protocols": ["http"]}],
        "transcodingProfiles": [
            {"container": "mp4", "audioCodec": "aac", "protocol": "http"},
            {"container": "ogg", "audioCodec": "opus", "protocol": "http", "maxAudioChannels": 2}
        ]
    });
    let decide = |t: &serde_json::Value| {
        let id = format!("tr-{}", t["id"]);
        let (sub, client) = (&sub, client.clone());
        async move {
            let r = sub
                .s
                .http
                .post(sub.url("getTranscodeDecision"))
                .query(&[
                    ("apiKey", sub.key.as_str()),
                    ("f", "json"),
                    ("mediaId", &id),
                    ("mediaType", "song"),
                ])
                .json(&client)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let v: serde_json::Value = r.json().await.unwrap();
            ok(&v["subsonic-response"])["transcodeDecision"].clone()
        }
    };
    let d = decide(flac).await;
    assert_eq!(d["canDirectPlay"], false, "{d}");
    assert_eq!(d["canTranscode"], true, "{d}");
    assert_eq!(d["transcodeStream"]["codec"], "opus");
    assert_eq!(d["transcodeStream"]["audioBitrate"], 96_000);
    assert_eq!(d["sourceStream"]["codec"], "flac");
    let params = d["transcodeParams"].as_str().unwrap().to_string();
    let flac_id = format!("tr-{}", flac["id"]);
    let stream = |id: String, params: String| {
        let sub = &sub;
        async move {
            sub.get(
                "getTranscodeStream",
                &[
                    ("apiKey", sub.key.as_str()),
                    ("mediaId", &id),
                    ("mediaType", "song"),
                    ("transcodeParams", &params),
                ],
            )
            .await
        }
    };
    let r = stream(flac_id.clone(), params.clone()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "audio/ogg");
    assert!(
        r.headers()["etag"]
            .to_str()
            .unwrap()
            .ends_with(".opus-96\"")
    );
    let len: u64 = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().len() as u64, len);

    let d = decide(mp3).await;
    assert_eq!(d["canDirectPlay"], true, "{d}");
    let r = stream(
        format!("tr-{}", mp3["id"]),
        d["transcodeParams"].as_str().unwrap().to_string(),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.bytes().await.unwrap().len() as u64,
        mp3["size_bytes"].as_u64().unwrap()
    );

    let (profile, _) = params.rsplit_once('.').unwrap();
    let stale = format!("{profile}.ffffffffffffffff");
    assert_eq!(stream(flac_id.clone(), stale).await.status(), 410);
    assert_eq!(
        stream(flac_id.clone(), "opus-96".into()).await.status(),
        400
    );
    assert_eq!(stream("tr-999999".into(), params).await.status(), 404);

    // XML: the decision's lists and streams as elements.
    let r = sub
        .s
        .http
        .post(sub.url("getTranscodeDecision"))
        .query(&[
            ("apiKey", sub.key.as_str()),
            ("mediaId", flac_id.as_str()),
            ("mediaType", "song"),
        ])
        .json(&client)
        .send()
        .await
        .unwrap();
    let x = parse_xml(&r.text().await.unwrap());
    let d = xml_ok(&x).child("transcodeDecision");
    assert_eq!(d.attr("canTranscode"), "true");
    assert_eq!(d.child("transcodeStream").attr("codec"), "opus");
    assert_eq!(d.all("transcodeReason").len(), 1);
    // A body that is not a ClientInfo is error 10.
    let r = sub
        .s
        .http
        .post(sub.url("getTranscodeDecision"))
        .query(&[
            ("apiKey", sub.key.as_str()),
            ("f", "json"),
            ("mediaId", flac_id.as_str()),
            ("mediaType", "song"),
        ])
        .body("not json")
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    failed(&v["subsonic-response"], 10);
}

/// An admin's stream limit: set over `/api/v1/users/{id}/max-bitrate` (and Subsonic
/// `updateUser`), it caps every `stream` of that user, whatever `maxBitRate` the app asks for,
/// songs say what they will stream as, `getUsers` shows it, and lifting it gives the originals
/// back. Other users are not limited.
#[tokio::test(flavor = "multi_thread")]
async fn an_admins_stream_limit_caps_the_users_streams() {
    let sub = Sub::new().await;
    let phone_token = sub.s.user("phone").await;
    let phone_key = api_key(&sub.s, &phone_token).await;
    let me = sub.s.get_json("/api/v1/me", &phone_token).await;
    let id = me["id"].as_i64().unwrap();
    assert!(me.get("max_bitrate_kbps").is_none(), "{me}");
    let track = demo_flac(&sub).await;
    let song = format!("tr-{}", track["id"]);
    let set = |kbps: serde_json::Value, token: &str| {
        sub.s
            .http
            .put(sub.s.url(&format!("/api/v1/users/{id}/max-bitrate")))
            .bearer_auth(token)
            .json(&serde_json::json!({ "max_bitrate_kbps": kbps }))
            .send()
    };
    // Only an admin sets it; a limit past any audio is refused.
    assert_eq!(set(96.into(), &phone_token).await.unwrap().status(), 403);
    let admin = sub.s.admin_token.as_str();
    assert_eq!(set(1_000_000.into(), admin).await.unwrap().status(), 422);
    let r = set(96.into(), admin).await.unwrap();
    assert_eq!(r.status(), 200);
    let user: serde_json::Value = r.json().await.unwrap();
    assert_eq!(user["max_bitrate_kbps"], 96);

    let etag_of = |r: &reqwest::Response| r.headers()["etag"].to_str().unwrap().to_owned();
    for asked in [None, Some("320")] {
        let mut q = vec![("apiKey", phone_key.as_str()), ("id", song.as_str())];
        q.extend(asked.map(|m| ("maxBitRate", m)));
        let r = sub.get("stream", &q).await;
        assert_eq!(r.status(), 200);
        assert!(etag_of(&r).ends_with(".opus-96\""), "asked {asked:?}");
    }
    // The admin streams the original.
    let r = sub
        .get("stream", &[("apiKey", &sub.key), ("id", &song)])
        .await;
    assert_eq!(r.headers()["content-type"], "audio/flac");
    // Songs say what they will stream as; getUsers shows the limit.
    let got = sub
        .json_raw(
            "getSong",
            &[("apiKey", &phone_key), ("id", &song), ("f", "json")],
        )
        .await;
    assert_eq!(got["song"]["transcodedSuffix"], "opus", "{got}");
    assert_eq!(got["song"]["transcodedContentType"], "audio/ogg");
    let got = sub.json("getSong", &[("id", &song)]).await;
    assert!(got["song"].get("transcodedSuffix").is_none());
    let users = sub.json("getUsers", &[]).await;
    let listed = arr(&users["users"]["user"]);
    let phone_row = listed.iter().find(|u| u["username"] == "phone").unwrap();
    assert_eq!(phone_row["maxBitRate"], 96);

    // Subsonic updateUser lifts it (0 = none): the original again.
    let r = sub
        .json("updateUser", &[("username", "phone"), ("maxBitRate", "0")])
        .await;
    assert_eq!(r["status"], "ok", "{r}");
    let r = sub
        .get("stream", &[("apiKey", &phone_key), ("id", &song)])
        .await;
    assert_eq!(r.headers()["content-type"], "audio/flac");
}
