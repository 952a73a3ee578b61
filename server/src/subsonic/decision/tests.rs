use super::*;
use serde_json::json;

fn track(format: &str, kbps: u32, channels: u8) -> Track {
    serde_json::from_value(json!({
        "id": 7, "title": "t", "artists": [], "genres": [], "duration_ms": 200_000,
        "bitrate_kbps": kbps, "sample_rate": 44_100, "channels": channels,
        "format": format, "content_type": "audio/x", "size_bytes": 1,
        "content_hash": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "replay_gain": {}, "musicbrainz": {}
    }))
    .unwrap()
}

fn client(v: serde_json::Value) -> ClientInfo {
    serde_json::from_value(v).unwrap()
}

#[test]
fn a_format_the_client_plays_is_played_as_it_is() {
    let c = client(json!({
        "name": "app", "platform": "android",
        "directPlayProfiles": [{"containers": ["flac"], "audioCodecs": ["flac"], "protocols": ["http"]}],
        "transcodingProfiles": [{"container": "ogg", "audioCodec": "opus", "protocol": "http"}]
    }));
    let d = decide(&c, &track("flac", 900, 2));
    assert!(d.can_direct_play && !d.can_transcode);
    assert_eq!(
        d.transcode_params.as_deref(),
        Some("original.0123456789abcdef")
    );
    assert_eq!(d.source_stream.codec, "flac");
    assert_eq!(d.source_stream.audio_bitrate, Some(900_000));
}

#[test]
fn otherwise_the_first_transcoding_profile_we_make_within_the_caps() {
    let c = client(json!({
        "name": "sonos", "platform": "sonos", "maxAudioBitrate": 320_000,
        "maxTranscodingAudioBitrate": 130_000,
        "directPlayProfiles": [{"containers": ["mp3"], "audioCodecs": ["mp3"], "protocols": []}],
        "transcodingProfiles": [
            {"container": "aac", "audioCodec": "aac", "protocol": "http"},
            {"container": "ogg", "audioCodec": "opus", "protocol": "http"}
        ]
    }));
    let d = decide(&c, &track("flac", 900, 6));
    assert!(!d.can_direct_play && d.can_transcode);
    assert_eq!(d.transcode_reason, ["container not supported"]);
    assert_eq!(
        d.transcode_params.as_deref(),
        Some("opus-128.0123456789abcdef")
    );
    let out = d.transcode_stream.unwrap();
    assert_eq!(
        (out.container.as_str(), out.codec.as_str()),
        ("ogg", "opus")
    );
    assert_eq!(out.audio_bitrate, Some(128_000));
    assert_eq!(out.audio_channels, Some(2), "5.1 folds to stereo");
    assert_eq!(out.audio_samplerate, Some(48_000));
}

#[test]
fn a_source_over_the_bitrate_cap_or_the_codec_limits_is_transcoded() {
    let direct = json!([{"containers": [], "audioCodecs": [], "protocols": ["http"]}]);
    let opus = json!([{"container": "opus", "audioCodec": "opus", "protocol": "http"}]);
    let capped = client(
        json!({"name": "a", "platform": "b", "maxAudioBitrate": 192_000,
        "directPlayProfiles": direct, "transcodingProfiles": opus}),
    );
    let d = decide(&capped, &track("flac", 900, 2));
    assert_eq!(d.transcode_reason, ["audio bitrate not supported"]);
    assert_eq!(
        d.transcode_params.as_deref(),
        Some("opus-192.0123456789abcdef")
    );
    assert!(decide(&capped, &track("mp3", 128, 2)).can_direct_play);

    let limited = client(json!({"name": "a", "platform": "b",
    "directPlayProfiles": direct, "transcodingProfiles": opus,
    "codecProfiles": [
        {"type": "AudioCodec", "name": "flac", "limitations": [
            {"name": "audioSamplerate", "comparison": "LessThanEqual", "values": ["48000"], "required": true}]},
        {"type": "AudioCodec", "name": "opus", "limitations": [
            {"name": "audioBitrate", "comparison": "LessThanEqual", "values": ["96000"], "required": true}]}
    ]}));
    let mut hi_res = track("flac", 3000, 2);
    hi_res.sample_rate = Some(96_000);
    let d = decide(&limited, &hi_res);
    assert_eq!(d.transcode_reason, ["audioSamplerate not supported"]);
    assert_eq!(
        d.transcode_params.as_deref(),
        Some("opus-96.0123456789abcdef")
    );
    assert!(decide(&limited, &track("flac", 900, 2)).can_direct_play);
}

#[test]
fn nothing_we_make_is_an_error_with_its_reasons() {
    let c = client(json!({"name": "ios", "platform": "ios",
        "directPlayProfiles": [{"containers": ["m4a"], "audioCodecs": ["alac"], "protocols": ["http"]}],
        "transcodingProfiles": [{"container": "mp4", "audioCodec": "aac", "protocol": "http"},
                                {"container": "ogg", "audioCodec": "opus", "protocol": "hls"}]}));
    let d = decide(&c, &track("flac", 900, 2));
    assert!(!d.can_direct_play && !d.can_transcode);
    assert!(d.transcode_params.is_none());
    assert!(!d.error_reason.is_empty());
    assert_eq!(d.transcode_reason, ["container not supported"]);
}

#[test]
fn stream_params_round_trip_and_refuse_what_we_did_not_make() {
    let hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let opus = Profile::by_id("opus-96").unwrap();
    let token = StreamParams::encode(Some(opus), hash);
    let p = StreamParams::decode(&token).unwrap();
    assert_eq!(p.profile, Some(opus));
    assert!(p.matches(hash));
    assert!(!p.matches("ff23456789abcdef"));
    assert_eq!(
        StreamParams::decode("original.0123456789abcdef")
            .unwrap()
            .profile,
        None
    );
    for bad in [
        "",
        "opus-96",
        "wav-1.0123456789abcdef",
        "opus-96.xyz",
        "opus-96.0123",
    ] {
        assert!(StreamParams::decode(bad).is_none(), "{bad}");
    }
}
