//! Tempus (eddyizm/tempus, an Android app, a fork of Tempo): Retrofit services
//! (`subsonic/api/*/…Service.java`), Gson models (`subsonic/models/*.kt`) with its own date
//! adapter (`subsonic/utils/EmptyDateTypeAdapter.kt`: UTC, at most three fraction digits), and
//! stream and cover URLs built by hand (`util/MusicUtil.java`, `glide/CustomGlideRequest.java`).

use super::decode::{self, Kind};
use crate::support::*;
use serde_json::Value;

/// `Subsonic.getParams()`: `u`, a token over a UUID salt made once at login and kept forever,
/// `v=1.15.0`, `c=Tempus`, `f=json`; every call a GET to `/rest/NAME`.
struct Tempus<'a> {
    sub: &'a Sub,
    salt: &'static str,
    token: String,
}

impl Tempus<'_> {
    fn auth(&self) -> Vec<(&str, &str)> {
        vec![
            ("u", "admin"),
            ("s", self.salt),
            ("t", self.token.as_str()),
            ("v", "1.15.0"),
            ("c", "Tempus"),
        ]
    }

    async fn call(&self, name: &str, own: &[(&str, &str)]) -> Value {
        let mut query = self.auth();
        query.push(("f", "json"));
        query.extend_from_slice(own);
        let r = self
            .sub
            .s
            .http
            .get(self.sub.url(name))
            .query(&query)
            .header("User-Agent", "okhttp/4.12.0")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
        let v: Value = r.json().await.unwrap();
        let body = v["subsonic-response"].clone();
        // `SystemRepository` calls `.equals` on `status`: it must be there.
        assert!(body["status"].is_string(), "{name}: {body}");
        ok(&body);
        body
    }

    /// `MusicUtil.getStreamUri` and `CustomGlideRequest.createUrl`: the credentials, `v`, `c`,
    /// then the call's own, and no `f`.
    async fn media(&self, name: &str, own: &[(&str, &str)]) -> reqwest::Response {
        let mut query = self.auth();
        query.extend_from_slice(own);
        self.sub
            .s
            .http
            .get(self.sub.url(name))
            .query(&query)
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tempus_fills_home_browses_plays_and_edits() {
    let sub = Sub::new().await;
    sub.set_app_password("tempus-pass").await;
    let salt = "5b0f4a1e-8c3d-4e2a-9f61-7d2c8b3e4a10";
    let app = Tempus {
        sub: &sub,
        salt,
        token: md5_hex(&format!("tempus-pass{salt}")),
    };

    // Login and start-up (`SystemRepository`, `MainActivity`).
    app.call("ping", &[]).await;
    let extensions = app.call("getOpenSubsonicExtensions", &[]).await;
    for e in decode::list(&extensions, "openSubsonicExtensions") {
        assert!(e["name"].is_string());
        assert!(decode::list(e, "versions").iter().all(|v| v.is_i64()));
    }
    let ping = app.call("ping", &[]).await;
    assert_eq!(ping["openSubsonic"], true);

    // Home (`HomeViewModel`): discovery, the album rows, this year's albums, favourites (then
    // each starred artist), playlists, and the year bounds of the year picker.
    let random = app.call("getRandomSongs", &[("size", "10")]).await;
    let songs = decode::list(&random["randomSongs"], "song");
    assert_eq!(songs.len(), 10);
    songs.iter().for_each(|s| decode::child(s));
    for list in ["newest", "frequent", "recent"] {
        let v = app
            .call(
                "getAlbumList2",
                &[("type", list), ("size", "20"), ("offset", "0")],
            )
            .await;
        decode::list(&v["albumList2"], "album")
            .iter()
            .for_each(|a| decode::album(a));
    }
    let this_year = app
        .call(
            "getAlbumList2",
            &[
                ("type", "byYear"),
                ("size", "500"),
                ("offset", "0"),
                ("fromYear", "2026"),
                ("toYear", "2026"),
            ],
        )
        .await;
    assert!(
        this_year["albumList2"].is_object(),
        "an empty list, not an error"
    );
    for (from, to) in [("1900", "2026"), ("2026", "1900")] {
        let bound = app
            .call(
                "getAlbumList2",
                &[
                    ("type", "byYear"),
                    ("size", "1"),
                    ("offset", "0"),
                    ("fromYear", from),
                    ("toYear", to),
                ],
            )
            .await;
        let albums = decode::list(&bound["albumList2"], "album");
        assert_eq!(albums.len(), 1);
        assert!(albums[0]["year"].is_i64(), "the picker reads `year`");
    }
    app.call("getPlaylists", &[]).await;
    let catalogue = app
        .call(
            "getAlbumList2",
            &[
                ("type", "alphabeticalByName"),
                ("size", "500"),
                ("offset", "0"),
            ],
        )
        .await;
    let albums = decode::list(&catalogue["albumList2"], "album");
    assert_eq!(albums.len(), 5);

    // Browse by tags (`ArtistRepository`, `AlbumRepository`): artists, an artist with its
    // albums, its info and top songs, an album with its info (read off the `albumInfo` key),
    // the instant mix (similar songs of the artist, 30), genres.
    let artists = app.call("getArtists", &[]).await;
    let artist = decode::list(&artists["artists"], "index")[0]["artist"][0].clone();
    decode::artist(&artist);
    let artist_id = artist["id"].as_str().unwrap().to_string();
    let detail = app.call("getArtist", &[("id", &artist_id)]).await;
    decode::artist(&detail["artist"]);
    let info = app.call("getArtistInfo2", &[("id", &artist_id)]).await;
    decode::decodes("artistInfo2", &info["artistInfo2"], decode::INFO, &[]);
    let name = artist["name"].as_str().unwrap().to_string();
    let top = app
        .call("getTopSongs", &[("artist", &name), ("count", "20")])
        .await;
    decode::list(&top["topSongs"], "song")
        .iter()
        .for_each(|s| decode::child(s));
    let mix = app
        .call("getSimilarSongs2", &[("id", &artist_id), ("count", "30")])
        .await;
    decode::list(&mix["similarSongs2"], "song")
        .iter()
        .for_each(|s| decode::child(s));
    let album_id = decode::list(&detail["artist"], "album")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let album = app.call("getAlbum", &[("id", &album_id)]).await;
    decode::album(&album["album"]);
    let album_info = app.call("getAlbumInfo2", &[("id", &album_id)]).await;
    assert!(album_info["albumInfo"].is_object(), "{album_info}");
    decode::decodes("albumInfo", &album_info["albumInfo"], decode::INFO, &[]);
    let tracks = decode::list(&album["album"], "song");
    let song = tracks[0]["id"].as_str().unwrap().to_string();
    let cover = tracks[0]["coverArt"].as_str().unwrap().to_string();
    let genres = app.call("getGenres", &[]).await;
    let genre = decode::list(&genres["genres"], "genre")[0]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let by_genre = app
        .call(
            "getSongsByGenre",
            &[("genre", &genre), ("count", "100"), ("offset", "0")],
        )
        .await;
    assert!(!decode::list(&by_genre["songsByGenre"], "song").is_empty());

    // Browse by folders (`DirectoryRepository`).
    let folders = app.call("getMusicFolders", &[]).await;
    let folder = decode::list(&folders["musicFolders"], "musicFolder")[0]["id"].to_string();
    let indexes = app
        .call(
            "getIndexes",
            &[("musicFolderId", &folder), ("ifModifiedSince", "0")],
        )
        .await;
    let first = decode::list(&indexes["indexes"], "index")[0]["artist"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = app.call("getMusicDirectory", &[("id", &first)]).await;
    decode::list(&dir["directory"], "child")
        .iter()
        .for_each(|c| decode::child(c));

    // Search (`SearchingRepository`): all six counts and offsets, always.
    for n in ["20", "5"] {
        let v = app
            .call(
                "search3",
                &[
                    ("query", "night"),
                    ("songCount", n),
                    ("songOffset", "0"),
                    ("albumCount", n),
                    ("albumOffset", "0"),
                    ("artistCount", n),
                    ("artistOffset", "0"),
                ],
            )
            .await;
        let found = decode::list(&v["searchResult3"], "song");
        assert!(!found.is_empty());
        found.iter().for_each(|s| decode::child(s));
    }

    // Play: the hand-built stream URL with Tempus's defaults (`maxBitRate=0&format=raw`, no
    // `f`), the cover without a size, scrobbles without `time`, the queue at position 0.
    let r = app
        .media(
            "stream",
            &[("maxBitRate", "0"), ("format", "raw"), ("id", &song)],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-length"].to_str().unwrap(),
        tracks[0]["size"].to_string(),
        "raw is the original file"
    );
    let r = app.media("getCoverArt", &[("id", &cover)]).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("image/")
    );
    app.call("scrobble", &[("id", &song), ("submission", "false")])
        .await;
    let playing = app.call("getNowPlaying", &[]).await;
    let entries = decode::list(&playing["nowPlaying"], "entry");
    assert_eq!(entries[0]["id"], song.as_str());
    app.call("scrobble", &[("id", &song), ("submission", "true")])
        .await;
    let second = tracks[1]["id"].as_str().unwrap().to_string();
    app.call(
        "savePlayQueue",
        &[
            ("id", &song),
            ("id", &second),
            ("current", &second),
            ("position", "0"),
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
    assert_eq!(queue["playQueue"]["position"], 0);
    assert_eq!(queue["playQueue"]["current"], second.as_str());

    // Stars one kind at a time, ratings of a song and an album; the starred artists opened.
    app.call("star", &[("id", &song)]).await;
    app.call("star", &[("albumId", &album_id)]).await;
    app.call("star", &[("artistId", &artist_id)]).await;
    app.call("setRating", &[("id", &song), ("rating", "5")])
        .await;
    app.call("setRating", &[("id", &album_id), ("rating", "3")])
        .await;
    let starred = app.call("getStarred2", &[]).await;
    let starred_songs = decode::list(&starred["starred2"], "song");
    assert_eq!(starred_songs.len(), 1);
    decode::child(starred_songs[0]);
    assert_eq!(starred_songs[0]["userRating"], 5);
    for a in decode::list(&starred["starred2"], "album") {
        decode::album(a);
        assert_eq!(a["userRating"], 3);
    }
    for a in decode::list(&starred["starred2"], "artist") {
        decode::artist(a);
        app.call("getArtist", &[("id", a["id"].as_str().unwrap())])
            .await;
    }

    // Playlists (`PlaylistRepository`): created with songs; renamed, added to and removed from
    // with `public` always sent; deleted with a GET.
    let created = app
        .call(
            "createPlaylist",
            &[("name", "Commute"), ("songId", &song), ("songId", &second)],
        )
        .await;
    let id = created["playlist"]["id"].as_str().unwrap().to_string();
    app.call(
        "updatePlaylist",
        &[
            ("playlistId", &id),
            ("name", "Morning commute"),
            ("public", "false"),
            ("songIdToAdd", &song),
        ],
    )
    .await;
    app.call(
        "updatePlaylist",
        &[
            ("playlistId", &id),
            ("public", "false"),
            ("songIndexToRemove", "0"),
        ],
    )
    .await;
    let got = app.call("getPlaylist", &[("id", &id)]).await;
    decode::playlist(&got["playlist"]);
    assert_eq!(got["playlist"]["name"], "Morning commute");
    let ids: Vec<&str> = decode::list(&got["playlist"], "entry")
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.as_str(), song.as_str()]);
    app.call("deletePlaylist", &[("id", &id)]).await;

    // Lyrics: the structured lyrics Gson reads (`LyricsList.kt`).
    let lyrics = app.call("getLyricsBySongId", &[("id", &song)]).await;
    assert!(lyrics["lyricsList"].is_object());
    for l in decode::list(&lyrics["lyricsList"], "structuredLyrics") {
        decode::decodes("structuredLyrics", l, decode::LYRICS, &["line"]);
        for line in decode::list(l, "line") {
            decode::decodes(
                "line",
                line,
                &[("start", Kind::Int), ("value", Kind::Str)],
                &["value"],
            );
        }
    }
}
