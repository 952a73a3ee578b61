//! Supersonic (dweymouth/supersonic 0.22, a desktop app in Go) through its library go-subsonic
//! (supersonic-app/go-subsonic: `subsonic/client.go`, `subsonic/models.go`), which asks for JSON
//! since March 2026 and decodes it with `encoding/json`: one mismatched type fails the answer.

use super::decode::{self, Kind};
use crate::support::*;
use serde_json::Value;

/// go-subsonic's request: GET `/rest/NAME` (no `.view`) with `url.Values.Encode()`'s sorted
/// query (`c`, `f`, `s`, `t`, `u`, `v` among the call's own), one 10-character salt for the
/// whole session, and the app's user agent.
struct Supersonic<'a> {
    sub: &'a Sub,
    salt: String,
    token: String,
}

impl Supersonic<'_> {
    fn params(&self, own: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = [
            ("c", "supersonic"),
            ("f", "json"),
            ("s", self.salt.as_str()),
            ("t", self.token.as_str()),
            ("u", "admin"),
            ("v", "1.15.0"),
        ]
        .iter()
        .chain(own)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        // `url.Values.Encode()` sorts by key; a key's values keep their order.
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    async fn raw(&self, name: &str, own: &[(&str, &str)]) -> reqwest::Response {
        self.sub
            .s
            .http
            .get(self.sub.url(name))
            .query(&self.params(own))
            .header("User-Agent", "supersonic/0.22.0")
            .send()
            .await
            .unwrap()
    }

    async fn call(&self, name: &str, own: &[(&str, &str)]) -> Value {
        let r = self.raw(name, own).await;
        assert_eq!(r.status(), 200, "{name}");
        let v: Value = r.json().await.unwrap();
        let body = v["subsonic-response"].clone();
        ok(&body);
        body
    }

    /// `postValues`: with `formPost` listed, playlist edits go as a form holding every
    /// parameter, the credentials too, and an empty query.
    async fn post_form(&self, name: &str, own: &[(&str, &str)]) -> Value {
        let r = self
            .sub
            .s
            .http
            .post(self.sub.url(name))
            .header("User-Agent", "supersonic/0.22.0")
            .form(&self.params(own))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
        let v: Value = r.json().await.unwrap();
        let body = v["subsonic-response"].clone();
        ok(&body);
        body
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn supersonic_logs_in_browses_plays_and_edits_playlists() {
    let sub = Sub::new().await;
    sub.set_app_password("supersonic-pass").await;
    let salt = "aZ3kP9qW2x";
    let app = Supersonic {
        sub: &sub,
        salt: salt.into(),
        token: md5_hex(&format!("supersonic-pass{salt}")),
    };

    // Login (`subsonicserver.go` Login): a ping before the token is set (empty `t`/`s`), whose
    // `type` it reads to spot funkwhale, then the real ping.
    let before = Supersonic {
        sub: &sub,
        salt: String::new(),
        token: String::new(),
    };
    let r = before.raw("ping", &[]).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let envelope = &v["subsonic-response"];
    assert_eq!(envelope["status"], "failed");
    assert!(envelope["type"].is_string() && envelope["version"].is_string());
    assert!(envelope["error"]["code"].is_u64());
    app.call("ping", &[]).await;

    // Start-up: libraries (`musicFolder.id` is a Go int since the JSON switch), the saved
    // queue, the Albums page, the extensions (for formPost and songLyrics).
    let folders = app.call("getMusicFolders", &[]).await;
    let folder = &decode::list(&folders["musicFolders"], "musicFolder")[0];
    assert!(folder["id"].is_i64(), "{folder}");
    assert!(folder["name"].is_string());
    app.call("getPlayQueue", &[]).await;
    let newest = app
        .call(
            "getAlbumList2",
            &[("type", "newest"), ("size", "20"), ("offset", "0")],
        )
        .await;
    let albums = decode::list(&newest["albumList2"], "album");
    assert_eq!(albums.len(), 5, "the demo's five albums");
    albums.iter().for_each(|a| decode::album(a));
    let extensions = app.call("getOpenSubsonicExtensions", &[]).await;
    let names: Vec<&str> = decode::list(&extensions, "openSubsonicExtensions")
        .iter()
        .map(|e| {
            assert!(decode::list(e, "versions").iter().all(|v| v.is_i64()));
            e["name"].as_str().unwrap()
        })
        .collect();
    assert!(names.contains(&"formPost") && names.contains(&"songLyrics"));

    // The album pages (`albumiterator.go`): year and genre sorts page with `limit`, not `size`.
    let by_year = app
        .call(
            "getAlbumList2",
            &[
                ("type", "byYear"),
                ("fromYear", "3000"),
                ("toYear", "0"),
                ("limit", "20"),
                ("offset", "0"),
            ],
        )
        .await;
    assert_eq!(decode::list(&by_year["albumList2"], "album").len(), 5);
    let page = app
        .call(
            "getAlbumList2",
            &[
                ("type", "byYear"),
                ("fromYear", "0"),
                ("toYear", "3000"),
                ("limit", "2"),
                ("offset", "0"),
            ],
        )
        .await;
    assert_eq!(
        decode::list(&page["albumList2"], "album").len(),
        2,
        "`limit` is the page size"
    );
    for (list, more) in [
        ("random", vec![]),
        ("recent", vec![]),
        ("frequent", vec![]),
        ("alphabeticalByName", vec![]),
        ("alphabeticalByArtist", vec![]),
        ("starred", vec![]),
        ("byGenre", vec![("genre", "Jazz")]),
    ] {
        let mut params = vec![("type", list), ("size", "20"), ("offset", "0")];
        params.extend(more);
        let v = app.call("getAlbumList2", &params).await;
        decode::list(&v["albumList2"], "album")
            .iter()
            .for_each(|a| decode::album(a));
    }
    let starred = app.call("getStarred2", &[]).await;
    assert!(starred["starred2"].is_object());
    let random = app.call("getRandomSongs", &[("size", "25")]).await;
    decode::list(&random["randomSongs"], "song")
        .iter()
        .for_each(|s| decode::child(s));
    // The old library dereferences `playlists` without a nil check: present even when empty.
    let playlists = app.call("getPlaylists", &[]).await;
    assert!(playlists["playlists"].is_object(), "{playlists}");
    let genres = app.call("getGenres", &[]).await;
    for g in decode::list(&genres["genres"], "genre") {
        decode::decodes(
            "genre",
            g,
            &[
                ("value", Kind::Str),
                ("songCount", Kind::Int),
                ("albumCount", Kind::Int),
            ],
            &["value"],
        );
    }
    let radio = app.call("getInternetRadioStations", &[]).await;
    assert!(radio["internetRadioStations"].is_object());

    // Browse: artists, an artist, their info, an album and its info (the non-2 endpoint).
    let artists = app.call("getArtists", &[]).await;
    let artist = decode::list(&artists["artists"], "index")
        .into_iter()
        .flat_map(|i| decode::list(i, "artist"))
        .find(|a| a["name"] == "The Paper Lanterns")
        .unwrap()
        .clone();
    decode::artist(&artist);
    let artist_id = artist["id"].as_str().unwrap();
    let detail = app.call("getArtist", &[("id", artist_id)]).await;
    decode::artist(&detail["artist"]);
    let info = app.call("getArtistInfo2", &[("id", artist_id)]).await;
    decode::decodes("artistInfo2", &info["artistInfo2"], decode::INFO, &[]);
    for similar in decode::list(&info["artistInfo2"], "similarArtist") {
        decode::artist(similar);
    }
    let album_id = decode::list(&detail["artist"], "album")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let album = app.call("getAlbum", &[("id", &album_id)]).await;
    decode::album(&album["album"]);
    let album_info = app.call("getAlbumInfo", &[("id", &album_id)]).await;
    decode::decodes("albumInfo", &album_info["albumInfo"], decode::INFO, &[]);
    let songs = decode::list(&album["album"], "song");
    let song = songs[0]["id"].as_str().unwrap().to_string();
    let second = songs[1]["id"].as_str().unwrap().to_string();
    let cover = songs[0]["coverArt"].as_str().unwrap().to_string();
    decode::child(&app.call("getSong", &[("id", &song)]).await["song"]);
    let top = app
        .call(
            "getTopSongs",
            &[("artist", "The Paper Lanterns"), ("count", "10")],
        )
        .await;
    assert!(!decode::list(&top["topSongs"], "song").is_empty());
    let similar = app
        .call("getSimilarSongs2", &[("id", artist_id), ("count", "25")])
        .await;
    decode::list(&similar["similarSongs2"], "song")
        .iter()
        .for_each(|s| decode::child(s));
    let radio = app
        .call("getSimilarSongs", &[("id", &song), ("count", "25")])
        .await;
    decode::list(&radio["similarSongs"], "song")
        .iter()
        .for_each(|s| decode::child(s));

    // Search (`searchall.go`): 16 of each kind, then the paged search with offsets only.
    let quick = app
        .call(
            "search3",
            &[
                ("query", "lune"),
                ("artistCount", "16"),
                ("albumCount", "16"),
                ("songCount", "16"),
            ],
        )
        .await;
    let found = decode::list(&quick["searchResult3"], "song");
    assert!(found.iter().any(|s| s["title"] == "Rue de la Lune"));
    found.iter().for_each(|s| decode::child(s));
    app.call(
        "search3",
        &[
            ("query", "lune"),
            ("artistOffset", "0"),
            ("albumOffset", "0"),
            ("songOffset", "0"),
        ],
    )
    .await;

    // Play: mpv streams the URL with no format; thumbnails at 300 px in a format Go's
    // `image.Decode` knows; scrobbles with `time` in ms around the play; the queue saved.
    let r = app.raw("stream", &[("id", &song)]).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("audio/")
    );
    let r = app
        .raw("getCoverArt", &[("id", &cover), ("size", "300")])
        .await;
    assert_eq!(r.status(), 200);
    let mime = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        ["image/jpeg", "image/png", "image/gif", "image/webp"].contains(&mime.as_str()),
        "{mime}"
    );
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    app.call(
        "scrobble",
        &[("id", &song), ("time", &now_ms), ("submission", "false")],
    )
    .await;
    let playing = app.call("getNowPlaying", &[]).await;
    let entry = decode::list(&playing["nowPlaying"], "entry")[0].clone();
    decode::child(&entry);
    decode::decodes(
        "nowPlaying entry",
        &entry,
        &[
            ("username", Kind::Str),
            ("minutesAgo", Kind::Int),
            ("playerId", Kind::Int),
            ("playerName", Kind::Str),
        ],
        &["username", "minutesAgo", "playerId"],
    );
    app.call(
        "scrobble",
        &[("id", &song), ("time", &now_ms), ("submission", "true")],
    )
    .await;
    app.call(
        "savePlayQueue",
        &[
            ("id", &song),
            ("id", &second),
            ("current", &second),
            ("position", "42000"),
        ],
    )
    .await;
    let queue = app.call("getPlayQueue", &[]).await;
    decode::decodes(
        "playQueue",
        &queue["playQueue"],
        decode::PLAY_QUEUE,
        &["entry"],
    );
    assert_eq!(queue["playQueue"]["current"], second.as_str());
    assert_eq!(queue["playQueue"]["position"], 42000);
    assert_eq!(queue["playQueue"]["changedBy"], "supersonic");

    // Favourites and ratings.
    app.call("star", &[("id", &song)]).await;
    app.call("star", &[("albumId", &album_id)]).await;
    app.call("star", &[("artistId", artist_id)]).await;
    app.call("setRating", &[("id", &song), ("rating", "4")])
        .await;
    let starred = app.call("getStarred2", &[]).await;
    let starred_songs = decode::list(&starred["starred2"], "song");
    let mine = starred_songs
        .iter()
        .find(|s| s["id"] == song.as_str())
        .unwrap();
    decode::child(mine);
    assert_eq!(mine["userRating"], 4);
    assert!(decode::is_time(mine["starred"].as_str().unwrap()));
    assert_eq!(decode::list(&starred["starred2"], "album").len(), 1);
    assert_eq!(decode::list(&starred["starred2"], "artist").len(), 1);
    app.call("unstar", &[("albumId", &album_id)]).await;

    // Playlists (`playlist.go`): create by name, then the description and visibility with
    // `description` (not the spec's `comment`); tracks added and removed by POST form; the
    // songs replaced with createPlaylist; deleted with a GET.
    let created = app.call("createPlaylist", &[("name", "Desk mix")]).await;
    decode::playlist(&created["playlist"]);
    let id = created["playlist"]["id"].as_str().unwrap().to_string();
    app.call(
        "updatePlaylist",
        &[
            ("playlistId", &id),
            ("description", "for work"),
            ("public", "true"),
        ],
    )
    .await;
    app.post_form(
        "updatePlaylist",
        &[
            ("playlistId", &id),
            ("songIdToAdd", &song),
            ("songIdToAdd", &second),
        ],
    )
    .await;
    app.post_form(
        "updatePlaylist",
        &[("playlistId", &id), ("songIndexToRemove", "0")],
    )
    .await;
    let got = app.call("getPlaylist", &[("id", &id)]).await;
    decode::playlist(&got["playlist"]);
    let entries = decode::list(&got["playlist"], "entry");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["id"], second.as_str());
    assert_eq!(got["playlist"]["public"], true);
    app.post_form("createPlaylist", &[("playlistId", &id), ("songId", &song)])
        .await;
    let got = app.call("getPlaylist", &[("id", &id)]).await;
    assert_eq!(
        decode::list(&got["playlist"], "entry")[0]["id"],
        song.as_str()
    );
    let lists = app.call("getPlaylists", &[]).await;
    decode::list(&lists["playlists"], "playlist")
        .iter()
        .for_each(|p| decode::playlist(p));

    // Lyrics (`songLyrics` is listed): structured lyrics, decoded.
    let lyrics = app.call("getLyricsBySongId", &[("id", &song)]).await;
    for l in decode::list(&lyrics["lyricsList"], "structuredLyrics") {
        decode::decodes("structuredLyrics", l, decode::LYRICS, &["synced", "line"]);
    }
    app.call("deletePlaylist", &[("id", &id)]).await;
    let lists = app.call("getPlaylists", &[]).await;
    assert!(decode::list(&lists["playlists"], "playlist").is_empty());
}
