//! Feishin, a desktop and web app (JSON).

use crate::support::*;

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
