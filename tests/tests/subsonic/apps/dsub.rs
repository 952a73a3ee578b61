//! DSub, in its default folder mode, over XML.

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
