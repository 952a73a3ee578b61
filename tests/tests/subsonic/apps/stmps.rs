//! stmps, a terminal client in Go (`encoding/json`).

use crate::support::*;

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
