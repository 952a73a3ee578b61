//! Aonsoku (victoralvesf/aonsoku 0.15, React in Electron and in a browser): `fetch` through
//! `src/api/httpClient.ts`, a constant token salt (`src/utils/salt.ts`), the unauthenticated
//! server probe (`src/api/queryServerInfo.ts`), and DELETE for playlists.

use super::decode;
use crate::support::*;
use serde_json::Value;

const SALT: &str = "40n50kuPl4y3r";

/// `httpClient`: `/rest/PATH?u&t&s&v&c&f=json&…`, where `v` is the version the server's ping
/// gave at login; a non-2xx answer reads as nothing.
struct Aonsoku<'a> {
    sub: &'a Sub,
    token: String,
    version: String,
}

impl Aonsoku<'_> {
    fn query<'a>(&'a self, own: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut q = vec![
            ("u", "admin"),
            ("t", self.token.as_str()),
            ("s", SALT),
            ("v", self.version.as_str()),
            ("c", "Aonsoku"),
            ("f", "json"),
        ];
        q.extend_from_slice(own);
        q
    }

    async fn send(&self, method: reqwest::Method, path: &str, own: &[(&str, &str)]) -> Value {
        let r = self
            .sub
            .s
            .http
            .request(method, self.sub.url(path))
            .query(&self.query(own))
            .header("Origin", "http://localhost:8080")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let v: Value = r.json().await.unwrap();
        let body = v["subsonic-response"].clone();
        ok(&body);
        body
    }

    async fn call(&self, path: &str, own: &[(&str, &str)]) -> Value {
        self.send(reqwest::Method::GET, path, own).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn aonsoku_probes_logs_in_and_deletes_with_delete() {
    let sub = Sub::new().await;
    sub.set_app_password("aonsoku-pass").await;
    let mut app = Aonsoku {
        sub: &sub,
        token: md5_hex(&format!("aonsoku-pass{SALT}")),
        version: "1.16.0".into(),
    };

    // Login (`saveConfig`): the token ping with `.view`; then the deliberately unauthenticated
    // probe, whose `version` and `type` it calls string methods on, and the extensions the
    // same way (a refusal would hide `songLyrics` from it).
    let ping = app.call("ping.view", &[]).await;
    app.version = ping["version"].as_str().unwrap().to_string();
    let dummy = [
        ("u", "dummy"),
        ("p", "dummy"),
        ("v", "1.16.0"),
        ("c", "Aonsoku"),
        ("f", "json"),
    ];
    let probe: Value = sub
        .s
        .http
        .get(sub.url("ping.view"))
        .query(&dummy)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let probe = &probe["subsonic-response"];
    assert!(
        probe["version"].is_string() && probe["type"].is_string(),
        "{probe}"
    );
    assert_eq!(probe["openSubsonic"], true);
    let r = sub
        .s
        .http
        .get(sub.url("getOpenSubsonicExtensions.view"))
        .query(&dummy)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let extensions: Value = r.json().await.unwrap();
    let names: Vec<&str> = decode::list(&extensions["subsonic-response"], "openSubsonicExtensions")
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"songLyrics"), "{names:?}");

    // Home (`use-home.tsx`).
    app.call("getRandomSongs", &[("size", "10")]).await;
    for list in ["newest", "frequent", "recent", "random"] {
        let v = app
            .call(
                "getAlbumList2",
                &[("type", list), ("size", "16"), ("offset", "0")],
            )
            .await;
        assert!(
            v["albumList2"].is_object(),
            "{list}: the container is always there"
        );
    }

    // Albums, genres and artists pages.
    let page = app
        .call(
            "getAlbumList2",
            &[
                ("type", "alphabeticalByName"),
                ("size", "128"),
                ("offset", "0"),
            ],
        )
        .await;
    let albums = decode::list(&page["albumList2"], "album");
    for a in &albums {
        // Arithmetic on these; a starred test of `starred !== undefined`.
        assert!(a["songCount"].is_u64() && a["duration"].is_u64(), "{a}");
        assert!(
            a.get("starred").is_none(),
            "absent, not null, when not starred: {a}"
        );
    }
    let genres = app.call("getGenres", &[]).await;
    let genre = decode::list(&genres["genres"], "genre")[0]["value"]
        .as_str()
        .unwrap()
        .to_string();
    app.call(
        "getAlbumList2",
        &[
            ("type", "byGenre"),
            ("genre", &genre),
            ("size", "500"),
            ("offset", "0"),
        ],
    )
    .await;
    app.call("getRandomSongs", &[("genre", &genre), ("size", "500")])
        .await;
    app.call(
        "getSongsByGenre",
        &[("genre", &genre), ("count", "500"), ("offset", "0")],
    )
    .await;
    let artists = app.call("getArtists", &[]).await;
    let index = decode::list(&artists["artists"], "index");
    let artist = index
        .iter()
        .flat_map(|i| decode::list(i, "artist"))
        .find(|a| a["name"] == "Marble & Moss")
        .unwrap()
        .clone();
    let artist_id = artist["id"].as_str().unwrap().to_string();
    let detail = app.call("getArtist", &[("id", &artist_id)]).await;
    let song_total: u64 = decode::list(&detail["artist"], "album")
        .iter()
        .map(|a| a["songCount"].as_u64().unwrap())
        .sum();
    // Their album (3 songs) and the sampler they appear on (4).
    assert_eq!(song_total, 7);
    let info = app.call("getArtistInfo", &[("id", &artist_id)]).await;
    assert!(info["artistInfo"].is_object());
    let top = app
        .call("getTopSongs", &[("artist", "Marble & Moss")])
        .await;
    assert_eq!(decode::list(&top["topSongs"], "song").len(), 4);
    // "All artist songs": a search by the name with a count no server gives in full.
    let all = app
        .call(
            "search3",
            &[
                ("query", "Marble & Moss"),
                ("songCount", "9999999"),
                ("albumCount", "0"),
                ("artistCount", "0"),
            ],
        )
        .await;
    assert_eq!(decode::list(&all["searchResult3"], "song").len(), 4);

    // Album page.
    let album_id = decode::list(&detail["artist"], "album")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let album = app.call("getAlbum", &[("id", &album_id)]).await;
    let songs = decode::list(&album["album"], "song");
    let song = songs[0].clone();
    let song_id = song["id"].as_str().unwrap().to_string();
    let info = app.call("getAlbumInfo2", &[("id", &album_id)]).await;
    assert!(info["albumInfo"].is_object());

    // Search: the defaults, then the songs page with an empty query (every song).
    let found = app
        .call(
            "search3",
            &[
                ("query", "kettle"),
                ("artistCount", "20"),
                ("artistOffset", "0"),
                ("albumCount", "20"),
                ("albumOffset", "0"),
                ("songCount", "20"),
                ("songOffset", "0"),
            ],
        )
        .await;
    assert!(
        decode::list(&found["searchResult3"], "song")
            .iter()
            .any(|s| s["title"] == "Kettle Song")
    );
    let everything = app
        .call(
            "search3",
            &[
                ("query", ""),
                ("artistCount", "0"),
                ("albumCount", "0"),
                ("songCount", "100"),
                ("songOffset", "0"),
            ],
        )
        .await;
    assert_eq!(decode::list(&everything["searchResult3"], "song").len(), 18);

    // Play: the stream asks for the song's own format with an estimated length (the original
    // comes back, whole); the cover at 300 px; scrobbles with `time` in ms.
    let suffix = song["suffix"].as_str().unwrap();
    let r = sub
        .s
        .http
        .get(sub.url("stream"))
        .query(&app.query(&[
            ("id", &song_id),
            ("format", suffix),
            ("estimateContentLength", "true"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-length"].to_str().unwrap(),
        song["size"].to_string()
    );
    let cover = song["coverArt"].as_str().unwrap();
    let r = sub
        .s
        .http
        .get(sub.url("getCoverArt"))
        .query(&app.query(&[("id", cover), ("size", "300")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    for submission in ["false", "true"] {
        app.call(
            "scrobble",
            &[
                ("id", &song_id),
                ("submission", submission),
                ("time", &now_ms),
            ],
        )
        .await;
    }

    // Stars with `id` alone, for an album and an artist too.
    app.call("star", &[("id", &album_id)]).await;
    app.call("star", &[("id", &artist_id)]).await;
    app.call("star", &[("id", &song_id)]).await;
    let starred = app.call("getStarred2", &[]).await;
    assert_eq!(decode::list(&starred["starred2"], "album").len(), 1);
    assert_eq!(decode::list(&starred["starred2"], "artist").len(), 1);
    let starred_song = &decode::list(&starred["starred2"], "song")[0];
    assert!(starred_song["starred"].is_string());
    app.call("unstar", &[("id", &artist_id)]).await;

    // Playlists: create with a song, then comment and visibility; delete with DELETE, after
    // the browser's preflight.
    let created = app
        .call(
            "createPlaylist",
            &[("name", "Sunday"), ("songId", &song_id)],
        )
        .await;
    let id = created["playlist"]["id"].as_str().unwrap().to_string();
    app.call(
        "updatePlaylist",
        &[
            ("playlistId", &id),
            ("comment", "slow"),
            ("public", "false"),
        ],
    )
    .await;
    let lists = app.call("getPlaylists", &[]).await;
    assert_eq!(decode::list(&lists["playlists"], "playlist").len(), 1);
    let preflight = sub
        .s
        .http
        .request(reqwest::Method::OPTIONS, sub.url("deletePlaylist"))
        .header("Origin", "http://localhost:8080")
        .header("Access-Control-Request-Method", "DELETE")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let allowed = preflight.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(allowed == "*" || allowed.contains("DELETE"), "{allowed}");
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    app.send(reqwest::Method::DELETE, "deletePlaylist", &[("id", &id)])
        .await;
    let lists = app.call("getPlaylists", &[]).await;
    assert!(
        decode::list(&lists["playlists"], "playlist").is_empty(),
        "the DELETE deleted it"
    );
    app.call("getScanStatus", &[]).await;
}
