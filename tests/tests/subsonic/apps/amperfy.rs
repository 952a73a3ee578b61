//! Amperfy, an iOS app (XML, Swift's parsers).

use crate::support::*;

/// Swift's `ISO8601DateFormatter` with `.withInternetDateTime, .withFractionalSeconds`, as
/// Amperfy reads `created` and `starred`: it refuses a date without the fraction.
fn amperfy_date(text: &str) -> bool {
    let Some((date, time)) = text.split_once('T') else {
        return false;
    };
    let Some(time) = time.strip_suffix('Z') else {
        return false;
    };
    let Some((hms, fraction)) = time.split_once('.') else {
        return false;
    };
    date.len() == 10
        && hms.len() == 8
        && !fraction.is_empty()
        && fraction.chars().all(|c| c.is_ascii_digit())
}

/// The attributes Amperfy's `SsSongParserDelegate` and `SsPlayableParserDelegate` read off a
/// song (`Int(...)`, `Bool(...)`, the date formatter).
fn amperfy_reads_song(song: &Node) {
    assert!(!song.attr("id").is_empty());
    if let Some(is_dir) = song.attrs.get("isDir") {
        assert!(is_dir == "true" || is_dir == "false");
    }
    for int in [
        "track",
        "year",
        "duration",
        "size",
        "bitRate",
        "discNumber",
        "channelCount",
        "samplingRate",
        "bitDepth",
    ] {
        if let Some(v) = song.attrs.get(int) {
            v.parse::<i64>()
                .unwrap_or_else(|_| panic!("{int}={v} is not an Int"));
        }
    }
    assert!(
        amperfy_date(song.attr("created")),
        "created {:?}",
        song.attrs.get("created")
    );
    if let Some(starred) = song.attrs.get("starred") {
        assert!(amperfy_date(starred), "starred {starred}");
    }
}

/// Amperfy (BLeeEZ/amperfy, `AmperfyKit/Api/Subsonic/SubsonicServerApi.swift` and the
/// `Ss*ParserDelegate.swift` parsers): GET `/rest/NAME.view` with `v=1.13.0`, `c=Amperfy`, a
/// token with a 16-character salt, XML: the version ping, extensions, the ID3 library sync,
/// podcasts, star, similar songs of a song, the stream as raw and as mp3 with a bit rate.
#[tokio::test(flavor = "multi_thread")]
async fn amperfy_syncs_the_library_and_plays() {
    let sub = Sub::new().await;
    sub.set_app_password("amperfy-password").await;
    let salt = "a1b2c3d4e5f6a7b8";
    let token = md5_hex(&format!("amperfy-password{salt}"));
    let call = |name: &'static str, params: Vec<(&'static str, String)>| {
        let (sub, token) = (&sub, token.clone());
        async move {
            let mut query: Vec<(&str, String)> = vec![
                ("u", "admin".into()),
                ("v", "1.13.0".into()),
                ("c", "Amperfy".into()),
                ("t", token),
                ("s", salt.into()),
            ];
            query.extend(params);
            sub.s
                .http
                .get(sub.url(&format!("{name}.view")))
                .query(&query)
                .send()
                .await
                .unwrap()
        }
    };
    let xml = |r: reqwest::Response| async move {
        assert_eq!(r.status(), 200);
        let node = parse_xml(&r.text().await.unwrap());
        xml_ok(&node);
        node
    };
    // SsPingParserDelegate reads `version` for the server API version.
    let ping = xml(call("ping", vec![]).await).await;
    assert_eq!(ping.attr("version"), "1.16.1");
    xml(call("getOpenSubsonicExtensions", vec![]).await).await;

    // The library sync: artists, each artist's albums, an album's songs, genres, playlists.
    let artists = xml(call("getArtists", vec![]).await).await;
    let artist = artists.child("artists").all("index")[0].all("artist")[0]
        .attr("id")
        .to_string();
    let artist = xml(call("getArtist", vec![("id", artist)]).await).await;
    let album = artist.child("artist").all("album")[0]
        .attr("id")
        .to_string();
    let album = xml(call("getAlbum", vec![("id", album)]).await).await;
    let songs = album.child("album").all("song");
    songs.iter().for_each(|s| amperfy_reads_song(s));
    let song = songs[0].attr("id").to_string();
    xml(call("getGenres", vec![]).await).await;
    xml(call("getPlaylists", vec![]).await).await;
    // Podcasts: an empty list, not an error (its podcast check would fail the sync).
    let podcasts = xml(call("getPodcasts", vec![]).await).await;
    assert!(podcasts.child("podcasts").all("channel").is_empty());
    for list in ["newest", "recent", "frequent"] {
        xml(call(
            "getAlbumList2",
            vec![("type", list.into()), ("size", "50".into())],
        )
        .await)
        .await;
    }
    let found = xml(call(
        "search3",
        vec![("query", "a".into()), ("songCount", "20".into())],
    )
    .await)
    .await;
    found
        .child("searchResult3")
        .all("song")
        .iter()
        .for_each(|s| amperfy_reads_song(s));

    // Star, and read the date back as it parses it.
    xml(call("star", vec![("id", song.clone())]).await).await;
    let starred = xml(call("getStarred2", vec![]).await).await;
    let mine = starred.child("starred2").all("song");
    assert!(mine.iter().any(|s| s.attr("id") == song));
    mine.iter().for_each(|s| amperfy_reads_song(s));
    // Similar songs of a song (error 70 before: only artist ids were taken).
    let similar = xml(call(
        "getSimilarSongs2",
        vec![("id", song.clone()), ("count", "20".into())],
    )
    .await)
    .await;
    similar
        .child("similarSongs2")
        .all("song")
        .iter()
        .for_each(|s| amperfy_reads_song(s));
    xml(call(
        "scrobble",
        vec![("id", song.clone()), ("submission", "true".into())],
    )
    .await)
    .await;

    // Streaming: `format=raw` (no limit), `format=mp3&maxBitRate=128` (a limit; served as the
    // original until transcoding exists), `download` for the cache.
    for params in [
        vec![("id", song.clone()), ("format", "raw".into())],
        vec![
            ("id", song.clone()),
            ("format", "mp3".into()),
            ("maxBitRate", "128".into()),
        ],
    ] {
        let r = call("stream", params).await;
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("audio/")
        );
    }
    let r = call("download", vec![("id", song.clone())]).await;
    assert_eq!(r.status(), 200);
    let cover = songs[0].attr("coverArt").to_string();
    let r = call("getCoverArt", vec![("id", cover)]).await;
    assert_eq!(r.status(), 200);
}
