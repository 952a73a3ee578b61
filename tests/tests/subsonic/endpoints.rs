//! Every endpoint once on its happy path and once on an error, in JSON and in XML.

use crate::support::*;

/// Query parameters of one request.
type Params<'a> = Vec<(&'a str, &'a str)>;

#[tokio::test(flavor = "multi_thread")]
async fn every_endpoint_answers_ok_in_json_and_xml_with_its_element() {
    let sub = Sub::new().await;
    let fx = sub.fixture().await;
    let created = sub
        .json("createPlaylist", &[("name", "For the table")])
        .await;
    let playlist = ok(&created)["playlist"]["id"].as_str().unwrap().to_string();
    let cases: Vec<(&str, Params, Option<&str>)> = vec![
        ("ping", vec![], None),
        ("getLicense", vec![], Some("license")),
        (
            "getOpenSubsonicExtensions",
            vec![],
            Some("openSubsonicExtensions"),
        ),
        ("getUser", vec![("username", "admin")], Some("user")),
        ("getMusicFolders", vec![], Some("musicFolders")),
        ("getIndexes", vec![], Some("indexes")),
        (
            "getMusicDirectory",
            vec![("id", &fx.album)],
            Some("directory"),
        ),
        ("getArtists", vec![], Some("artists")),
        ("getArtist", vec![("id", &fx.artist)], Some("artist")),
        ("getAlbum", vec![("id", &fx.album)], Some("album")),
        ("getSong", vec![("id", &fx.song)], Some("song")),
        (
            "getAlbumList2",
            vec![("type", "newest")],
            Some("albumList2"),
        ),
        ("getAlbumList", vec![("type", "newest")], Some("albumList")),
        ("getGenres", vec![], Some("genres")),
        (
            "getSongsByGenre",
            vec![("genre", &fx.genre)],
            Some("songsByGenre"),
        ),
        ("getRandomSongs", vec![], Some("randomSongs")),
        ("search3", vec![("query", "")], Some("searchResult3")),
        ("search2", vec![("query", "")], Some("searchResult2")),
        ("getPlaylists", vec![], Some("playlists")),
        ("getPlaylist", vec![("id", &playlist)], Some("playlist")),
        (
            "updatePlaylist",
            vec![("playlistId", &playlist), ("songIdToAdd", &fx.song)],
            None,
        ),
        (
            "scrobble",
            vec![("id", &fx.song), ("submission", "false")],
            None,
        ),
        ("star", vec![("id", &fx.song)], None),
        ("getStarred2", vec![], Some("starred2")),
        ("getStarred", vec![], Some("starred")),
        ("unstar", vec![("id", &fx.song)], None),
        ("setRating", vec![("id", &fx.album), ("rating", "4")], None),
        (
            "savePlayQueue",
            vec![("id", &fx.song), ("position", "1000")],
            None,
        ),
        ("getPlayQueue", vec![], Some("playQueue")),
        ("getNowPlaying", vec![], Some("nowPlaying")),
        (
            "createBookmark",
            vec![("id", &fx.song), ("position", "5000")],
            None,
        ),
        ("getBookmarks", vec![], Some("bookmarks")),
        ("getScanStatus", vec![], Some("scanStatus")),
        (
            "getSimilarSongs",
            vec![("id", &fx.song)],
            Some("similarSongs"),
        ),
        (
            "getSimilarSongs2",
            vec![("id", &fx.artist)],
            Some("similarSongs2"),
        ),
        // Amperfy asks with a song's id.
        (
            "getSimilarSongs2",
            vec![("id", &fx.song)],
            Some("similarSongs2"),
        ),
        (
            "getTopSongs",
            vec![("artist", &fx.artist_name)],
            Some("topSongs"),
        ),
        (
            "getArtistInfo",
            vec![("id", &fx.artist)],
            Some("artistInfo"),
        ),
        (
            "getArtistInfo2",
            vec![("id", &fx.artist)],
            Some("artistInfo2"),
        ),
        ("getAlbumInfo", vec![("id", &fx.album)], Some("albumInfo")),
        // The spec's element for both is `albumInfo` (Tempus reads it off getAlbumInfo2).
        ("getAlbumInfo2", vec![("id", &fx.album)], Some("albumInfo")),
        // Features we do not have answer empty lists, not errors.
        ("getShares", vec![], Some("shares")),
        ("getPodcasts", vec![], Some("podcasts")),
        ("getNewestPodcasts", vec![], Some("newestPodcasts")),
        (
            "getInternetRadioStations",
            vec![],
            Some("internetRadioStations"),
        ),
        ("getLyrics", vec![("title", "Hafið")], Some("lyrics")),
        (
            "getLyricsBySongId",
            vec![("id", &fx.song)],
            Some("lyricsList"),
        ),
    ];
    for (endpoint, params, element) in &cases {
        let j = sub.json(endpoint, params).await;
        ok(&j);
        let x = sub.xml(endpoint, params).await;
        xml_ok(&x);
        if let Some(element) = element {
            assert!(!j[*element].is_null(), "{endpoint}: {j}");
            assert!(
                x.children.iter().any(|c| c.name == *element),
                "{endpoint}: {x:?}"
            );
        }
    }
    // Deleting is once per bookmark: JSON first, then XML on a new one.
    ok(&sub.json("deleteBookmark", &[("id", &fx.song)]).await);
    ok(&sub
        .json("createBookmark", &[("id", &fx.song), ("position", "1")])
        .await);
    xml_ok(&sub.xml("deleteBookmark", &[("id", &fx.song)]).await);
    // Last, as they change what the others see.
    for endpoint in ["startScan", "deletePlaylist"] {
        let params = [("id", playlist.as_str())];
        ok(&sub.json(endpoint, &params).await);
        sub.s.wait_for_scan().await;
        let again = sub.createplaylist_if_needed(endpoint, &playlist).await;
        xml_ok(&sub.xml(endpoint, &[("id", again.as_str())]).await);
        sub.s.wait_for_scan().await;
    }
}

impl Sub {
    /// deletePlaylist needs a fresh playlist for its second (XML) call.
    async fn createplaylist_if_needed(&self, endpoint: &str, id: &str) -> String {
        if endpoint != "deletePlaylist" {
            return id.to_string();
        }
        let v = self.json("createPlaylist", &[("name", "again")]).await;
        v["playlist"]["id"].as_str().unwrap().to_string()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_endpoint_reports_its_error_code_in_json_and_xml() {
    let sub = Sub::new().await;
    let unknown_playlist = "01890000-0000-7000-8000-000000000000";
    let cases: Vec<(&str, Params, u64)> = vec![
        ("getUser", vec![], 10),
        ("getUser", vec![("username", "nobody")], 70),
        ("getMusicDirectory", vec![("id", "al-999999")], 70),
        ("getMusicDirectory", vec![], 10),
        ("getArtist", vec![("id", "ar-999999")], 70),
        ("getAlbum", vec![("id", "al-999999")], 70),
        ("getAlbum", vec![], 10),
        ("getSong", vec![("id", "tr-999999")], 70),
        ("getLyricsBySongId", vec![], 10),
        ("getLyricsBySongId", vec![("id", "tr-999999")], 70),
        ("getAlbumList2", vec![], 10),
        ("getAlbumList2", vec![("type", "sideways")], 10),
        ("getAlbumList2", vec![("type", "byYear")], 10),
        ("getAlbumList2", vec![("type", "byGenre")], 10),
        (
            "getAlbumList2",
            vec![("type", "newest"), ("size", "many")],
            10,
        ),
        ("getSongsByGenre", vec![], 10),
        ("getRandomSongs", vec![("size", "-1")], 10),
        ("search3", vec![], 10),
        ("getPlaylist", vec![("id", unknown_playlist)], 70),
        ("getPlaylist", vec![("id", "not-a-uuid")], 70),
        ("createPlaylist", vec![], 10),
        (
            "createPlaylist",
            vec![("name", "x"), ("songId", "tr-999999")],
            70,
        ),
        ("updatePlaylist", vec![("playlistId", unknown_playlist)], 70),
        ("updatePlaylist", vec![], 10),
        ("deletePlaylist", vec![("id", unknown_playlist)], 70),
        ("stream", vec![("id", "tr-999999")], 70),
        ("stream", vec![], 10),
        ("download", vec![("id", "tr-999999")], 70),
        ("getCoverArt", vec![("id", "al-999999")], 70),
        ("getCoverArt", vec![], 10),
        ("scrobble", vec![("id", "tr-999999")], 70),
        ("scrobble", vec![], 10),
        ("star", vec![], 10),
        ("star", vec![("albumId", "al-999999")], 70),
        ("unstar", vec![], 10),
        ("setRating", vec![("id", "tr-999999"), ("rating", "3")], 70),
        ("setRating", vec![("id", "tr-1"), ("rating", "9")], 10),
        (
            "savePlayQueue",
            vec![("id", "tr-999999"), ("current", "x")],
            70,
        ),
        ("getSimilarSongs", vec![("id", "tr-999999")], 70),
        ("getSimilarSongs2", vec![], 10),
        ("getTopSongs", vec![], 10),
        ("createBookmark", vec![("id", "tr-1")], 10),
        (
            "createBookmark",
            vec![("id", "tr-999999"), ("position", "1")],
            70,
        ),
        ("deleteBookmark", vec![("id", "tr-1")], 70),
        ("deleteBookmark", vec![], 10),
    ];
    for (endpoint, params, code) in &cases {
        let j = sub.json(endpoint, params).await;
        failed(&j, *code);
        let x = sub.xml(endpoint, params).await;
        xml_failed(&x, *code);
    }
    // Endpoints that need an administrator answer 50 to others.
    let token = sub.s.user("listener").await;
    let key = api_key(&sub.s, &token).await;
    for (endpoint, params) in [
        ("startScan", vec![]),
        ("getUser", vec![("username", "admin")]),
        ("getPlaylists", vec![("username", "admin")]),
    ] {
        let mut p = vec![("apiKey", key.as_str()), ("f", "json")];
        p.extend(params.iter().copied());
        failed(&sub.json_raw(endpoint, &p).await, 50);
        p.retain(|(k, _)| *k != "f");
        xml_failed(&sub.xml_raw(endpoint, &p).await, 50);
    }
}
