//! Apps as their own code calls us. Each sequence replays what one app sends, with its auth
//! style, URL form, `v`, method and response format, and checks the fields its parser reads.

use crate::common::ADMIN_PASSWORD;
use crate::support::*;

/// One app's way of calling: its URL form, credentials and version, POST with the parameters
/// in the query string.
struct App<'a> {
    sub: &'a Sub,
    name: &'static str,
    version: &'static str,
    /// `u`/`p`/`t`/`s` as the app sends them.
    credentials: Vec<(&'static str, String)>,
}

impl App<'_> {
    /// DSub's `getReaderForURL`: POST to `/rest/METHOD.view?…` with fewer than ten parameters
    /// moved into the query string, no `f` (XML), gzip asked for, its own user agent.
    async fn dsub_call(&self, method: &str, params: &[(&str, &str)]) -> Node {
        let mut query: Vec<(&str, &str)> = self
            .credentials
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        query.extend([("v", self.version), ("c", self.name)]);
        query.extend_from_slice(params);
        let r = self
            .sub
            .s
            .http
            .post(self.sub.url(&format!("{method}.view")))
            .query(&query)
            .header("User-Agent", "DSub")
            .header("Accept-Encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{method}");
        let text = r.text().await.unwrap();
        let node = parse_xml(&text);
        xml_ok(&node);
        node
    }
}

/// The fields DSub's `MusicDirectoryParser`/`AbstractParser` read from a `child`: the id and
/// title always; for songs the parent, the album and artist, track and year where known, the
/// size, content type, suffix, duration and bit rate (parsed with `Integer.parseInt`/`Long`).
fn dsub_reads_child(child: &Node) {
    assert!(!child.attr("id").is_empty(), "{child:?}");
    assert!(!child.attr("title").is_empty(), "{child:?}");
    let is_dir = child.attr("isDir");
    assert!(is_dir == "true" || is_dir == "false", "{child:?}");
    if is_dir == "false" {
        assert!(!child.attr("parent").is_empty());
        assert!(!child.attr("album").is_empty());
        assert!(!child.attr("artist").is_empty());
        child.attr("size").parse::<u64>().expect("size is a long");
        child
            .attr("duration")
            .parse::<u32>()
            .expect("duration is an int");
        child
            .attr("bitRate")
            .parse::<u32>()
            .expect("bitRate is an int");
        assert!(child.attr("contentType").starts_with("audio/"));
        assert!(!child.attr("suffix").is_empty());
        for int in ["track", "year"] {
            if let Some(v) = child.attrs.get(int) {
                v.parse::<i32>().expect("an int");
            }
        }
    }
}

/// DSub 5.5 (daneren2005/Subsonic, `app/src/main/java/github/daneren2005/dsub/service/
/// RESTMusicService.java`) in its default folder mode: start-up, home lists, browse, search,
/// star, a playlist, a scrobble, a stream with its Range and `maxBitRate`, cover art; first with
/// `p=enc:` and then with a token over the app password.
#[tokio::test(flavor = "multi_thread")]
async fn dsub_in_folder_mode() {
    let sub = Sub::new().await;
    sub.set_app_password("dsub-app-password").await;
    let token = md5_hex("dsub-app-passwordf00d");
    let logins = [
        vec![
            ("u", "admin".to_string()),
            ("p", format!("enc:{}", hex::encode(ADMIN_PASSWORD))),
        ],
        vec![
            ("u", "admin".to_string()),
            ("t", token),
            ("s", "f00d".to_string()),
        ],
    ];
    for credentials in logins {
        let app = App {
            sub: &sub,
            name: "DSub",
            // Constants.REST_PROTOCOL_VERSION
            version: "1.2.0",
            credentials,
        };
        // Start-up: ping, license, folders.
        app.dsub_call("ping", &[]).await;
        assert_eq!(
            app.dsub_call("getLicense", &[])
                .await
                .child("license")
                .attr("valid"),
            "true"
        );
        let folders = app.dsub_call("getMusicFolders", &[]).await;
        let folder = folders.child("musicFolders").all("musicFolder")[0]
            .attr("id")
            .to_string();

        // Browse: indexes → artist folder → album folder → songs.
        let indexes = app
            .dsub_call("getIndexes", &[("musicFolderId", &folder)])
            .await;
        let artist = indexes.child("indexes").all("index")[0].all("artist")[0]
            .attr("id")
            .to_string();
        let dir = app.dsub_call("getMusicDirectory", &[("id", &artist)]).await;
        let albums = dir.child("directory").all("child");
        assert!(!albums.is_empty());
        albums.iter().for_each(|c| dsub_reads_child(c));
        let album = albums[0].attr("id").to_string();
        let dir = app.dsub_call("getMusicDirectory", &[("id", &album)]).await;
        let songs = dir.child("directory").all("child");
        songs.iter().for_each(|c| dsub_reads_child(c));
        let song = songs[0].attr("id").to_string();
        let cover = songs[0].attr("coverArt").to_string();

        // Home: the album lists, by folder.
        for list in [
            "newest", "random", "highest", "frequent", "recent", "starred",
        ] {
            let answer = app
                .dsub_call(
                    "getAlbumList",
                    &[
                        ("type", list),
                        ("size", "20"),
                        ("offset", "0"),
                        ("musicFolderId", &folder),
                    ],
                )
                .await;
            answer
                .child("albumList")
                .all("album")
                .iter()
                .for_each(|c| dsub_reads_child(c));
        }

        // Search (search2 in folder mode), star, the starred list.
        let found = app
            .dsub_call(
                "search2",
                &[
                    ("query", "the"),
                    ("artistCount", "20"),
                    ("albumCount", "20"),
                    ("songCount", "25"),
                ],
            )
            .await;
        let result = found.child("searchResult2");
        result.all("song").iter().for_each(|c| dsub_reads_child(c));
        app.dsub_call("star", &[("id", &song)]).await;
        let starred = app.dsub_call("getStarred", &[]).await;
        let starred_songs = starred.child("starred").all("song");
        assert!(starred_songs.iter().any(|s| s.attr("id") == song));
        app.dsub_call("unstar", &[("id", &song)]).await;

        // A playlist made from songs, renamed, deleted.
        app.dsub_call("createPlaylist", &[("name", "Road"), ("songId", &song)])
            .await;
        let lists = app.dsub_call("getPlaylists", &[]).await;
        let road = lists
            .child("playlists")
            .all("playlist")
            .into_iter()
            .find(|p| p.attr("name") == "Road")
            .expect("the new playlist")
            .attr("id")
            .to_string();
        let playlist = app.dsub_call("getPlaylist", &[("id", &road)]).await;
        assert_eq!(playlist.child("playlist").all("entry").len(), 1);
        app.dsub_call(
            "updatePlaylist",
            &[
                ("playlistId", &road),
                ("name", "Road trip"),
                ("comment", "null"),
                ("public", "false"),
            ],
        )
        .await;
        app.dsub_call("deletePlaylist", &[("id", &road)]).await;

        // Playing: now playing, then the finished play; similar songs for its radio.
        app.dsub_call("scrobble", &[("id", &song), ("submission", "false")])
            .await;
        app.dsub_call(
            "scrobble",
            &[
                ("id", &song),
                ("submission", "true"),
                ("time", "1700000000000"),
            ],
        )
        .await;
        app.dsub_call("getSimilarSongs", &[("id", &artist), ("count", "25")])
            .await;
        app.dsub_call("getRandomSongs", &[("size", "20")]).await;

        // The stream: `maxBitRate=0` and a Range from an offset, as its download resumes.
        let mut query: Vec<(&str, &str)> = app
            .credentials
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        query.extend([
            ("v", "1.2.0"),
            ("c", "DSub"),
            ("id", song.as_str()),
            ("maxBitRate", "0"),
        ]);
        let r = sub
            .s
            .http
            .post(sub.url("stream.view"))
            .query(&query)
            .header("Range", "bytes=100-")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 206);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("audio/")
        );
        let size: u64 = songs[0].attr("size").parse().unwrap();
        assert_eq!(r.bytes().await.unwrap().len() as u64, size - 100);
        query.truncate(query.len() - 2);
        query.push(("id", cover.as_str()));
        let r = sub
            .s
            .http
            .post(sub.url("getCoverArt.view"))
            .query(&query)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("image/")
        );
    }
}

/// The fields stmps decodes (`subsonic/api.go`'s structs, Go's `encoding/json`: a number where
/// it says `int`, a bool where it says `bool`, or the whole answer fails to decode).
mod stmps_types {
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct Wrapper {
        #[serde(rename = "subsonic-response")]
        pub response: Response,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct Response {
        pub status: String,
        pub indexes: Indexes,
        pub directory: Directory,
        #[serde(rename = "randomSongs")]
        pub random_songs: Songs,
        pub starred: Songs,
        pub playlists: Playlists,
        pub playlist: Playlist,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct Indexes {
        pub index: Vec<Index>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct Index {
        pub name: String,
        pub artist: Vec<Artist>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    pub struct Artist {
        pub id: String,
        pub name: String,
        pub album_count: i64,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct Directory {
        pub id: String,
        pub parent: String,
        pub name: String,
        pub child: Vec<Entity>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    pub struct Entity {
        pub id: String,
        pub is_dir: bool,
        pub parent: String,
        pub title: String,
        pub artist: String,
        pub duration: i64,
        pub track: i64,
        pub disk_number: i64,
        pub path: String,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct Songs {
        pub song: Vec<Entity>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct Playlists {
        pub playlist: Vec<Playlist>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    pub struct Playlist {
        pub id: String,
        pub name: String,
        pub song_count: i64,
        pub entry: Vec<Entity>,
    }
}

/// stmps (xxxserxxx/stmps, `subsonic/api.go`): GET `/rest/NAME` with a token, `c=stmp`,
/// `f=json`, and its own release as `v` (0.9.9; the report) or 1.15.1 (that file's):
/// start-up, the artist index, folders, random songs, stars, playlists, scrobbles, the stream.
#[tokio::test(flavor = "multi_thread")]
async fn stmps_browses_stars_and_plays() {
    use stmps_types::{Response, Wrapper};
    let sub = Sub::new().await;
    sub.set_app_password("stmps-app-password").await;
    for version in ["0.9.9", "1.15.1"] {
        let token = md5_hex("stmps-app-passwordbeef");
        let call = |name: &'static str, params: Vec<(&'static str, String)>| {
            let sub = &sub;
            let token = token.clone();
            async move {
                let mut query: Vec<(&str, String)> = vec![
                    ("t", token),
                    ("s", "beef".into()),
                    ("u", "admin".into()),
                    ("v", version.into()),
                    ("c", "stmp".into()),
                    ("f", "json".into()),
                ];
                query.extend(params);
                let r = sub
                    .s
                    .http
                    .get(sub.url(name))
                    .query(&query)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200, "{name}");
                let text = r.text().await.unwrap();
                let decoded: Wrapper = serde_json::from_str(&text).unwrap_or_else(|e| {
                    panic!("{name} does not decode as stmps reads it: {e}\n{text}")
                });
                assert_eq!(decoded.response.status, "ok", "{name}: {text}");
                decoded.response
            }
        };
        call("ping", vec![]).await;
        let indexes: Response = call("getIndexes", vec![]).await;
        let artist = indexes.indexes.index[0].artist[0].id.clone();
        let artist_dir = call("getMusicDirectory", vec![("id", artist)]).await;
        let album = artist_dir
            .directory
            .child
            .iter()
            .find(|c| c.is_dir)
            .expect("an album")
            .id
            .clone();
        let album_dir = call("getMusicDirectory", vec![("id", album)]).await;
        let song = &album_dir.directory.child[0];
        assert!(!song.is_dir && song.duration > 0 && !song.title.is_empty());
        let song = song.id.clone();
        let random = call("getRandomSongs", vec![("size", "50".into())]).await;
        assert!(!random.random_songs.song.is_empty());
        call("star", vec![("id", song.clone())]).await;
        let starred = call("getStarred", vec![]).await;
        assert!(starred.starred.song.iter().any(|s| s.id == song));
        call("unstar", vec![("id", song.clone())]).await;
        call("createPlaylist", vec![("name", format!("stmps {version}"))]).await;
        let lists = call("getPlaylists", vec![]).await;
        let id = lists
            .playlists
            .playlist
            .iter()
            .find(|p| p.name == format!("stmps {version}"))
            .expect("the new playlist")
            .id
            .clone();
        call(
            "updatePlaylist",
            vec![("playlistId", id.clone()), ("songIdToAdd", song.clone())],
        )
        .await;
        let list = call("getPlaylist", vec![("id", id.clone())]).await;
        assert_eq!(
            (list.playlist.song_count, list.playlist.entry.len()),
            (1, 1)
        );
        call(
            "updatePlaylist",
            vec![
                ("playlistId", id.clone()),
                ("songIndexToRemove", "0".into()),
            ],
        )
        .await;
        call("deletePlaylist", vec![("id", id)]).await;
        call(
            "scrobble",
            vec![("id", song.clone()), ("submission", "false".into())],
        )
        .await;
        call(
            "scrobble",
            vec![("id", song.clone()), ("submission", "true".into())],
        )
        .await;
        // GetPlayUrl: handed to mpv as it is.
        let r = sub
            .s
            .http
            .get(sub.url("stream"))
            .query(&[
                ("t", token.as_str()),
                ("s", "beef"),
                ("u", "admin"),
                ("v", version),
                ("c", "stmp"),
                ("f", "json"),
                ("id", song.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("audio/")
        );
    }
}

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

/// Feishin (jeffvli/feishin, `src/renderer/api/subsonic/subsonic-controller.ts`, normalized by
/// `src/shared/api/subsonic/subsonic-normalize.ts`): GET, `f=json`, `v=1.13.0`, `c=Feishin`, a
/// token with a 12-character salt. Sign-in is `getUser?username=` (it reads `adminRole`), then
/// artists with their info, an album, the album lists (by year from 0), favourites through
/// `getStarred` (albums read by `name`), search, a playlist, a scrobble, similar songs.
#[tokio::test(flavor = "multi_thread")]
async fn feishin_signs_in_browses_and_keeps_favourites() {
    let sub = Sub::new().await;
    sub.set_app_password("feishin-password").await;
    let salt = "0123456789ab";
    let token = md5_hex(&format!("feishin-password{salt}"));
    let call = |name: &'static str, params: Vec<(&'static str, String)>| {
        let (sub, token) = (&sub, token.clone());
        async move {
            let mut query: Vec<(&str, String)> = vec![
                ("c", "Feishin".into()),
                ("f", "json".into()),
                ("v", "1.13.0".into()),
                ("u", "admin".into()),
                ("s", salt.into()),
                ("t", token),
            ];
            query.extend(params);
            let r = sub
                .s
                .http
                .get(sub.url(name))
                .query(&query)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{name}");
            let v: serde_json::Value = r.json().await.unwrap();
            ok(&v["subsonic-response"]);
            v["subsonic-response"].clone()
        }
    };
    // authenticate: `resp.body.user.adminRole`.
    let me = call("getUser", vec![("username", "admin".into())]).await;
    assert_eq!(me["user"]["adminRole"], true);
    assert!(
        me["user"]["folder"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f.is_number())
    );

    // getAlbumArtistList / getAlbumArtistDetail: getArtists, then getArtistInfo and getArtist.
    let artists = call("getArtists", vec![]).await;
    let artist = artists["artists"]["index"][0]["artist"][0].clone();
    assert!(artist["name"].is_string() && artist["albumCount"].is_number());
    let id = artist["id"].as_str().unwrap().to_string();
    let info = call("getArtistInfo", vec![("id", id.clone())]).await;
    assert!(info["artistInfo"]["similarArtist"].is_array());
    let detail = call("getArtist", vec![("id", id)]).await;
    let album = detail["artist"]["album"][0].clone();
    for field in ["id", "name", "artist", "coverArt", "created"] {
        assert!(album[field].is_string(), "album {field}: {album}");
    }
    assert!(album["duration"].is_number() && album["songCount"].is_number());
    let full = call(
        "getAlbum",
        vec![("id", album["id"].as_str().unwrap().into())],
    )
    .await;
    let song = full["album"]["song"][0].clone();
    for field in [
        "contentType",
        "created",
        "parent",
        "path",
        "suffix",
        "title",
    ] {
        assert!(song[field].is_string(), "song {field}: {song}");
    }
    assert!(song["size"].is_number() && song["isDir"] == false);
    let song = song["id"].as_str().unwrap().to_string();

    // getAlbumList: by year from 0 to this year (its default for a year sort), newest.
    let by_year = call(
        "getAlbumList2",
        vec![
            ("type", "byYear".into()),
            ("fromYear", "0".into()),
            ("toYear", "2026".into()),
            ("offset", "0".into()),
            ("size", "50".into()),
        ],
    )
    .await;
    assert!(
        !by_year["albumList2"]["album"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    call(
        "getAlbumList2",
        vec![("type", "newest".into()), ("size", "50".into())],
    )
    .await;

    // Favourites: createFavorite with `albumId`, then the favourites page's getStarred.
    call(
        "star",
        vec![("albumId", album["id"].as_str().unwrap().into())],
    )
    .await;
    call("star", vec![("id", song.clone())]).await;
    let starred = call("getStarred", vec![]).await;
    let albums = starred["starred"]["album"].as_array().unwrap().clone();
    assert_eq!(albums.len(), 1);
    assert_eq!(
        albums[0]["name"], album["name"],
        "ssNormalize.album reads `name`"
    );
    assert!(
        starred["starred"]["song"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == song.as_str())
    );

    // Search, a playlist, a scrobble, similar songs.
    let found = call(
        "search3",
        vec![
            ("query", "a".into()),
            ("albumCount", "10".into()),
            ("albumOffset", "0".into()),
            ("artistCount", "0".into()),
            ("artistOffset", "0".into()),
            ("songCount", "0".into()),
            ("songOffset", "0".into()),
        ],
    )
    .await;
    assert!(found["searchResult3"].is_object());
    let created = call("createPlaylist", vec![("name", "Feishin mix".into())]).await;
    let playlist = created["playlist"]["id"].as_str().unwrap().to_string();
    call(
        "updatePlaylist",
        vec![
            ("playlistId", playlist.clone()),
            ("songIdToAdd", song.clone()),
        ],
    )
    .await;
    let lists = call("getPlaylists", vec![]).await;
    let mine = lists["playlists"]["playlist"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == playlist.as_str())
        .expect("the playlist")
        .clone();
    assert_eq!(mine["songCount"], 1);
    assert!(mine["created"].is_string() && mine["owner"] == "admin" && mine["public"].is_boolean());
    call(
        "scrobble",
        vec![("id", song.clone()), ("submission", "true".into())],
    )
    .await;
    let similar = call(
        "getSimilarSongs2",
        vec![("id", song), ("count", "20".into())],
    )
    .await;
    assert!(similar["similarSongs2"]["song"].is_array());
}
