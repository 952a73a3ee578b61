//! Browsing and searching: indexes and folders, ID3 artists and albums, lists, genres, search3.

use crate::support::*;
use serde_json::Value;
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread")]
async fn artists_albums_and_songs_link_up() {
    let sub = Sub::new().await;
    let total_tracks = sub.s.track_ids().await.len();
    let v = sub.json("getArtists", &[]).await;
    let index = arr(&ok(&v)["artists"]["index"]);
    assert!(
        v["artists"]["ignoredArticles"]
            .as_str()
            .unwrap()
            .contains("The")
    );
    let names: Vec<String> = index
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    // "The Paper Lanterns" is filed under P.
    let p = index.iter().find(|i| i["name"] == "P").expect("index P");
    assert!(
        arr(&p["artist"])
            .iter()
            .any(|a| a["name"] == "The Paper Lanterns"),
        "{names:?}"
    );
    let mut songs = 0;
    let mut seen_albums = HashSet::new();
    for i in &index {
        for artist in arr(&i["artist"]) {
            let a = sub
                .json("getArtist", &[("id", artist["id"].as_str().unwrap())])
                .await;
            let a = &ok(&a)["artist"];
            assert_eq!(a["name"], artist["name"]);
            for album in arr(&a["album"]) {
                if !seen_albums.insert(album["id"].as_str().unwrap().to_string()) {
                    continue;
                }
                let full = sub
                    .json("getAlbum", &[("id", album["id"].as_str().unwrap())])
                    .await;
                let list = arr(&full["album"]["song"]);
                assert_eq!(
                    list.len() as u64,
                    full["album"]["songCount"].as_u64().unwrap()
                );
                for s in &list {
                    let one = sub
                        .json("getSong", &[("id", s["id"].as_str().unwrap())])
                        .await;
                    assert_eq!(one["song"]["title"], s["title"]);
                    assert_eq!(one["song"]["albumId"], album["id"]);
                }
                songs += list.len();
            }
        }
    }
    assert_eq!(
        songs, total_tracks,
        "every track is reachable from getArtists"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn folders_browse_artist_then_album_then_songs() {
    let sub = Sub::new().await;
    let folders = sub.json("getMusicFolders", &[]).await;
    assert_eq!(ok(&folders)["musicFolders"]["musicFolder"][0]["id"], 1);
    let idx = sub.json("getIndexes", &[]).await;
    assert!(ok(&idx)["indexes"]["lastModified"].is_i64());
    let artist = arr(&idx["indexes"]["index"])
        .iter()
        .flat_map(|i| arr(&i["artist"]))
        .find(|a| a["name"] == "The Paper Lanterns")
        .expect("an artist folder");
    let dir = sub
        .json(
            "getMusicDirectory",
            &[("id", artist["id"].as_str().unwrap())],
        )
        .await;
    let albums = arr(&ok(&dir)["directory"]["child"]);
    assert!(!albums.is_empty());
    assert!(albums.iter().all(|c| c["isDir"] == true));
    let album_dir = sub
        .json(
            "getMusicDirectory",
            &[("id", albums[0]["id"].as_str().unwrap())],
        )
        .await;
    let songs = arr(&album_dir["directory"]["child"]);
    assert!(!songs.is_empty() && songs.iter().all(|c| c["isDir"] == false));
    assert_eq!(album_dir["directory"]["parent"], artist["id"]);
    // The same in XML.
    let x = sub
        .xml(
            "getMusicDirectory",
            &[("id", albums[0]["id"].as_str().unwrap())],
        )
        .await;
    assert_eq!(x.child("directory").all("child").len(), songs.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn album_lists_of_every_type_page_and_filter() {
    let sub = Sub::new().await;
    let all = sub
        .json(
            "getAlbumList2",
            &[("type", "alphabeticalByName"), ("size", "500")],
        )
        .await;
    let all = arr(&all["albumList2"]["album"]);
    assert!(all.len() >= 5);
    let names: Vec<&str> = all.iter().map(|a| a["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, sorted);
    // Paging by offset covers the list without overlap.
    let mut paged = Vec::new();
    for offset in (0..all.len()).step_by(2) {
        let o = offset.to_string();
        let page = sub
            .json(
                "getAlbumList2",
                &[
                    ("type", "alphabeticalByName"),
                    ("size", "2"),
                    ("offset", &o),
                ],
            )
            .await;
        paged.extend(arr(&page["albumList2"]["album"]));
    }
    assert_eq!(paged, all);
    for t in ["random", "newest", "alphabeticalByArtist"] {
        let v = sub
            .json("getAlbumList2", &[("type", t), ("size", "500")])
            .await;
        assert_eq!(arr(&ok(&v)["albumList2"]["album"]).len(), all.len(), "{t}");
    }
    // Lists of what the user did are empty until they do something.
    for t in ["recent", "frequent", "highest", "starred"] {
        let v = sub.json("getAlbumList2", &[("type", t)]).await;
        assert!(arr(&ok(&v)["albumList2"]["album"]).is_empty(), "{t}");
    }
    let first = &all[0];
    let song = sub
        .json("getAlbum", &[("id", first["id"].as_str().unwrap())])
        .await["album"]["song"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&sub.json("scrobble", &[("id", &song)]).await);
    ok(&sub
        .json("star", &[("albumId", first["id"].as_str().unwrap())])
        .await);
    ok(&sub
        .json(
            "setRating",
            &[("id", first["id"].as_str().unwrap()), ("rating", "5")],
        )
        .await);
    for t in ["recent", "frequent", "highest", "starred"] {
        let v = sub.json("getAlbumList2", &[("type", t)]).await;
        let l = arr(&v["albumList2"]["album"]);
        assert_eq!(l.len(), 1, "{t}");
        assert_eq!(l[0]["id"], first["id"], "{t}");
    }
    let v = sub.json("getAlbumList2", &[("type", "frequent")]).await;
    assert_eq!(v["albumList2"]["album"][0]["playCount"], 1);
    assert_eq!(v["albumList2"]["album"][0]["userRating"], 5);
    assert!(v["albumList2"]["album"][0]["starred"].is_string());
    // byYear (both directions) and byGenre.
    let years: Vec<i64> = all.iter().filter_map(|a| a["year"].as_i64()).collect();
    let (lo, hi) = (*years.iter().min().unwrap(), *years.iter().max().unwrap());
    let (lo_s, hi_s) = (lo.to_string(), hi.to_string());
    let up = sub
        .json(
            "getAlbumList2",
            &[
                ("type", "byYear"),
                ("fromYear", &lo_s),
                ("toYear", &hi_s),
                ("size", "500"),
            ],
        )
        .await;
    let up: Vec<i64> = arr(&up["albumList2"]["album"])
        .iter()
        .map(|a| a["year"].as_i64().unwrap())
        .collect();
    assert_eq!(up.len(), years.len());
    assert!(up.windows(2).all(|w| w[0] <= w[1]));
    let down = sub
        .json(
            "getAlbumList2",
            &[
                ("type", "byYear"),
                ("fromYear", &hi_s),
                ("toYear", &lo_s),
                ("size", "500"),
            ],
        )
        .await;
    let down: Vec<i64> = arr(&down["albumList2"]["album"])
        .iter()
        .map(|a| a["year"].as_i64().unwrap())
        .collect();
    assert!(down.windows(2).all(|w| w[0] >= w[1]));
    let genre = all
        .iter()
        .find_map(|a| a["genre"].as_str())
        .unwrap()
        .to_string();
    let by_genre = sub
        .json("getAlbumList2", &[("type", "byGenre"), ("genre", &genre)])
        .await;
    let by_genre = arr(&by_genre["albumList2"]["album"]);
    assert!(!by_genre.is_empty());
}

/// DSub's default (folder) mode: `getAlbumList` of every type, `search2` and `getStarred`
/// answer as folders, the same albums as their ID3 twins, each folder opening with
/// `getMusicDirectory`.
#[tokio::test(flavor = "multi_thread")]
async fn folder_mode_lists_search_and_starred_match_their_id3_twins() {
    let sub = Sub::new().await;
    let fx = sub.fixture().await;
    ok(&sub.json("star", &[("id", &fx.album)]).await);
    ok(&sub.json("star", &[("id", &fx.song)]).await);
    ok(&sub.json("star", &[("id", &fx.artist)]).await);
    ok(&sub
        .json("setRating", &[("id", &fx.album), ("rating", "5")])
        .await);
    ok(&sub.json("scrobble", &[("id", &fx.song)]).await);
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|x| x["id"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let genre = fx.genre.clone();
    for (t, extra) in [
        ("random", None),
        ("newest", None),
        ("highest", None),
        ("frequent", None),
        ("recent", None),
        ("alphabeticalByName", None),
        ("alphabeticalByArtist", None),
        ("starred", None),
        ("byYear", Some([("fromYear", "1900"), ("toYear", "2100")])),
        ("byGenre", None),
    ] {
        let mut params = vec![("type", t), ("size", "500")];
        if let Some(extra) = extra {
            params.extend(extra);
        }
        if t == "byGenre" {
            params.push(("genre", genre.as_str()));
        }
        let folders = ok(&sub.json("getAlbumList", &params).await)["albumList"]["album"].clone();
        let id3 = ok(&sub.json("getAlbumList2", &params).await)["albumList2"]["album"].clone();
        let (mut f, mut i) = (ids(&folders), ids(&id3));
        if t == "random" {
            f.sort();
            i.sort();
        }
        assert_eq!(f, i, "getAlbumList type={t}");
        assert!(!f.is_empty(), "type={t} lists something");
        for album in folders.as_array().unwrap() {
            assert_eq!(album["isDir"], true, "{album}");
            assert!(
                album["title"].is_string() && album["parent"].is_string(),
                "{album}"
            );
        }
    }
    let first = ok(&sub.json("getAlbumList", &[("type", "starred")]).await)["albumList"]["album"]
        [0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = sub.json("getMusicDirectory", &[("id", &first)]).await;
    assert!(!arr(&ok(&dir)["directory"]["child"]).is_empty());

    let search2 = ok(&sub.json("search2", &[("query", "")]).await)["searchResult2"].clone();
    let search3 = ok(&sub.json("search3", &[("query", "")]).await)["searchResult3"].clone();
    for kind in ["artist", "album", "song"] {
        assert_eq!(ids(&search2[kind]), ids(&search3[kind]), "search2 {kind}");
    }
    assert!(search2["album"][0]["isDir"] == true);

    let starred = ok(&sub.json("getStarred", &[]).await)["starred"].clone();
    let starred2 = ok(&sub.json("getStarred2", &[]).await)["starred2"].clone();
    for kind in ["artist", "album", "song"] {
        assert_eq!(
            ids(&starred[kind]),
            ids(&starred2[kind]),
            "getStarred {kind}"
        );
        assert_eq!(ids(&starred[kind]).len(), 1, "getStarred {kind}");
        assert!(starred[kind][0]["starred"].is_string(), "{starred}");
    }
    let x = sub.xml("getStarred", &[]).await;
    assert!(xml_ok(&x).children.iter().any(|c| c.name == "starred"));
}

/// ID3 and folder indexes list album artists only; a guest artist (tracks on others' albums
/// only) is not listed, and opening one (a song's `artistId` points there) shows the albums
/// they appear on.
#[tokio::test(flavor = "multi_thread")]
async fn artist_lists_hold_album_artists_and_every_artist_opens_onto_albums() {
    let sub = Sub::new().await;
    let all = sub.s.admin_get("/api/v1/artists?limit=500").await;
    let guests: Vec<String> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["album_count"] == 0)
        .map(|a| format!("ar-{}", a["id"]))
        .collect();
    assert!(
        !guests.is_empty(),
        "the demo library has guest artists: {all}"
    );
    let listed: Vec<Value> = arr(&ok(&sub.json("getArtists", &[]).await)["artists"]["index"])
        .iter()
        .flat_map(|i| arr(&i["artist"]))
        .collect();
    let folders: Vec<Value> = arr(&ok(&sub.json("getIndexes", &[]).await)["indexes"]["index"])
        .iter()
        .flat_map(|i| arr(&i["artist"]))
        .collect();
    for artist in listed.iter().chain(&folders) {
        assert!(
            !guests.contains(&artist["id"].as_str().unwrap().to_string()),
            "{artist}"
        );
    }
    for artist in &listed {
        assert!(artist["albumCount"].as_u64().unwrap() > 0, "{artist}");
    }
    for guest in &guests {
        let v = sub.json("getArtist", &[("id", guest)]).await;
        let albums = arr(&ok(&v)["artist"]["album"]);
        assert!(!albums.is_empty(), "guest {guest} opens onto albums: {v}");
        assert_eq!(
            v["artist"]["albumCount"].as_u64().unwrap() as usize,
            albums.len()
        );
    }
}

/// An artist's page: similar artists from the recommender, never the artist, each one that
/// opens; an unknown id is error 70.
#[tokio::test(flavor = "multi_thread")]
async fn artist_info_lists_similar_artists() {
    let sub = Sub::new().await;
    let fx = sub.fixture().await;
    let v = sub.json("getArtistInfo2", &[("id", &fx.artist)]).await;
    let similar = arr(&ok(&v)["artistInfo2"]["similarArtist"]);
    assert!(!similar.is_empty(), "{v}");
    for a in &similar {
        assert_ne!(a["id"], fx.artist.as_str());
        ok(&sub
            .json("getArtist", &[("id", a["id"].as_str().unwrap())])
            .await);
    }
    let folders = sub
        .json("getArtistInfo", &[("id", &fx.artist), ("count", "2")])
        .await;
    assert!(arr(&ok(&folders)["artistInfo"]["similarArtist"]).len() <= 2);
    failed(
        &sub.json("getArtistInfo2", &[("id", "ar-999999")]).await,
        70,
    );
    failed(&sub.json("getAlbumInfo2", &[("id", "al-999999")]).await, 70);
}

const ALBUM_MBID: &str = "3f5c1d2a-6b0e-4c8f-9a31-0d2e7b5a9c41";
const ARTIST_MBID: &str = "b7e2a8c4-1f3d-4e6a-8b90-5c7d2e1f3a68";

/// Artist and album info give the MusicBrainz ids the tags hold and image URLs an app loads
/// without its credentials (Feishin and Tempus show them as plain images); a URL whose
/// signature was changed is refused.
#[tokio::test(flavor = "multi_thread")]
async fn artist_and_album_info_carry_musicbrainz_ids_and_loadable_images() {
    use lofty::config::WriteOptions;
    use lofty::prelude::*;
    use lofty::tag::ItemKey;
    let sub = Sub::with_library(|library| {
        let album = library.join("Sigur Ósk").join("Norðurljós");
        crate::common::copy_dir(
            &crate::common::demo_dir()
                .join("Sigur Ósk")
                .join("Norðurljós"),
            &album,
        );
        for entry in std::fs::read_dir(&album).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "flac") {
                let mut file = lofty::read_from_path(&path).unwrap();
                let tag = file.primary_tag_mut().unwrap();
                tag.insert_text(ItemKey::MusicBrainzReleaseId, ALBUM_MBID.into());
                tag.insert_text(ItemKey::MusicBrainzReleaseArtistId, ARTIST_MBID.into());
                tag.save_to_path(&path, WriteOptions::default()).unwrap();
            }
        }
    })
    .await;
    let artists = sub.json("getArtists", &[]).await;
    let artist = arr(&ok(&artists)["artists"]["index"])
        .iter()
        .flat_map(|i| arr(&i["artist"]))
        .find(|a| a["name"] == "Sigur Ósk")
        .unwrap();
    let artist_id = artist["id"].as_str().unwrap().to_string();
    let info = sub.json("getArtistInfo2", &[("id", &artist_id)]).await;
    let info = &ok(&info)["artistInfo2"];
    assert_eq!(info["musicBrainzId"], ARTIST_MBID, "{info}");
    let folder_info = sub.xml("getArtistInfo", &[("id", &artist_id)]).await;
    assert_eq!(
        folder_info.child("artistInfo").child("musicBrainzId").text,
        ARTIST_MBID,
        "elements, as the spec's XML has them"
    );

    let album = sub.json("getArtist", &[("id", &artist_id)]).await;
    let album_id = ok(&album)["artist"]["album"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let album_info = sub.json("getAlbumInfo2", &[("id", &album_id)]).await;
    let album_info = &ok(&album_info)["albumInfo"];
    assert_eq!(album_info["musicBrainzId"], ALBUM_MBID, "{album_info}");

    // Every image URL loads with no credentials at all, as an image.
    let anonymous = reqwest::Client::new();
    for url_field in ["smallImageUrl", "mediumImageUrl", "largeImageUrl"] {
        for url in [&info[url_field], &album_info[url_field]] {
            let url = url.as_str().unwrap_or_else(|| panic!("{url_field}"));
            assert!(url.starts_with(&sub.s.url("/art/")), "{url}");
            let r = anonymous.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200, "{url}");
            assert!(
                r.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("image/")
            );
            assert!(!r.bytes().await.unwrap().is_empty());
        }
    }
    let url = info["largeImageUrl"].as_str().unwrap();
    let flipped = format!(
        "{}{}",
        &url[..url.len() - 1],
        if url.ends_with('0') { '1' } else { '0' }
    );
    assert_eq!(anonymous.get(&flipped).send().await.unwrap().status(), 403);
    let unsigned = url.split("&e=").next().unwrap();
    assert_eq!(anonymous.get(unsigned).send().await.unwrap().status(), 403);
}

/// Similar songs come from the recommender: a song played together with the seed comes
/// first, though it shares neither artist nor genre with it.
#[tokio::test(flavor = "multi_thread")]
async fn similar_songs_follow_what_listeners_play_together() {
    let sub = Sub::new().await;
    let tracks = sub.s.all_tracks().await;
    let a = &tracks[0];
    let b = tracks
        .iter()
        .find(|t| t["artists"][0]["id"] != a["artists"][0]["id"] && t["genres"] != a["genres"])
        .expect("a track unlike the first");
    let (a, b) = (a["id"].as_i64().unwrap(), b["id"].as_i64().unwrap());
    let events: Vec<Value> = [a, b]
        .iter()
        .enumerate()
        .map(|(k, t)| {
            serde_json::json!({"id": uuid::Uuid::now_v7(), "track_id": t, "kind": "finish",
                "position_ms": 0, "at_ms": 1_700_000_000_000i64 + k as i64 * 200_000})
        })
        .collect();
    let (status, body) = sub
        .s
        .send(
            reqwest::Method::POST,
            "/api/v1/events",
            &sub.s.admin_token,
            serde_json::json!({ "events": events }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while sub.s.admin_get("/api/v1/admin/queue").await["queue"]["depth"] != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the recs queue drains"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for endpoint in ["getSimilarSongs", "getSimilarSongs2"] {
        let v = sub.json(endpoint, &[("id", &format!("tr-{a}"))]).await;
        let element = if endpoint == "getSimilarSongs" {
            "similarSongs"
        } else {
            "similarSongs2"
        };
        let songs = arr(&ok(&v)[element]["song"]);
        assert_eq!(songs[0]["id"], format!("tr-{b}"), "{endpoint}: {v}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn genres_songs_by_genre_and_random_songs() {
    let sub = Sub::new().await;
    let v = sub.json("getGenres", &[]).await;
    let genres = arr(&ok(&v)["genres"]["genre"]);
    assert!(!genres.is_empty());
    let g = &genres[0];
    let name = g["value"].as_str().unwrap();
    let songs = sub
        .json("getSongsByGenre", &[("genre", name), ("count", "500")])
        .await;
    let songs = arr(&songs["songsByGenre"]["song"]);
    assert_eq!(songs.len() as u64, g["songCount"].as_u64().unwrap());
    assert!(songs.iter().all(|s| {
        s["genres"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["name"] == name)
    }));
    let page = sub
        .json(
            "getSongsByGenre",
            &[("genre", name), ("count", "1"), ("offset", "1")],
        )
        .await;
    if songs.len() > 1 {
        assert_eq!(page["songsByGenre"]["song"][0]["id"], songs[1]["id"]);
    }
    // XML: the genre name is the element's text.
    let x = sub.xml("getGenres", &[]).await;
    assert_eq!(x.child("genres").all("genre")[0].text, name);

    let total = sub.s.track_ids().await.len();
    let r = sub.json("getRandomSongs", &[("size", "3")]).await;
    assert_eq!(arr(&r["randomSongs"]["song"]).len(), 3.min(total));
    let r = sub
        .json("getRandomSongs", &[("size", "500"), ("genre", name)])
        .await;
    assert_eq!(arr(&r["randomSongs"]["song"]).len(), songs.len());
    let r = sub.json("getRandomSongs", &[("fromYear", "3000")]).await;
    assert!(arr(&r["randomSongs"]["song"]).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn search3_finds_by_text_and_pages_everything_on_an_empty_query() {
    let sub = Sub::new().await;
    let v = sub.json("search3", &[("query", "cafe")]).await;
    let r = &ok(&v)["searchResult3"];
    assert!(
        arr(&r["album"])
            .iter()
            .any(|a| a["name"] == "Café Nocturne"),
        "{r}"
    );
    assert!(
        arr(&r["song"])
            .iter()
            .any(|s| s["title"] == "Café Nocturne")
    );
    let v = sub.json("search3", &[("query", "Lanterns")]).await;
    assert!(
        arr(&v["searchResult3"]["artist"])
            .iter()
            .any(|a| a["name"] == "The Paper Lanterns")
    );

    // Symfonium's offline sync: an empty query, paged, returns every song exactly once.
    let total = sub.s.track_ids().await.len();
    let mut ids = HashSet::new();
    let mut offset = 0;
    loop {
        let o = offset.to_string();
        let v = sub
            .json(
                "search3",
                &[
                    ("query", ""),
                    ("songCount", "4"),
                    ("songOffset", &o),
                    ("artistCount", "0"),
                    ("albumCount", "0"),
                ],
            )
            .await;
        let page = arr(&v["searchResult3"]["song"]);
        assert!(arr(&v["searchResult3"]["album"]).is_empty());
        if page.is_empty() {
            break;
        }
        for s in page {
            assert!(ids.insert(s["id"].as_str().unwrap().to_string()));
        }
        offset += 4;
    }
    assert_eq!(ids.len(), total);
    let v = sub
        .json(
            "search3",
            &[
                ("query", "\"\""),
                ("albumCount", "500"),
                ("artistCount", "500"),
            ],
        )
        .await;
    assert!(arr(&v["searchResult3"]["album"]).len() >= 5);
    assert!(arr(&v["searchResult3"]["artist"]).len() >= 5);
    let x = sub.xml("search3", &[("query", "")]).await;
    assert!(!x.child("searchResult3").all("song").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn similar_and_top_songs_come_from_the_catalog() {
    let sub = Sub::new().await;
    let fx = sub.fixture().await;
    let v = sub
        .json("getSimilarSongs2", &[("id", &fx.artist), ("count", "500")])
        .await;
    let similar = arr(&ok(&v)["similarSongs2"]["song"]);
    assert!(!similar.is_empty());
    // Same artist first.
    assert!(
        similar[0]["artists"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == fx.artist.as_str())
            || similar[0]["albumArtists"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["id"] == fx.artist.as_str())
    );
    let v = sub
        .json("getSimilarSongs", &[("id", &fx.song), ("count", "3")])
        .await;
    let similar = arr(&v["similarSongs"]["song"]);
    assert!(similar.len() <= 3 && !similar.is_empty());
    assert!(
        similar.iter().all(|s| s["id"] != fx.song.as_str()),
        "the seed is not similar to itself"
    );

    // Top songs: the most scrobbled first.
    let album = sub.json("getAlbum", &[("id", &fx.album)]).await;
    let songs = arr(&album["album"]["song"]);
    let last = songs.last().unwrap()["id"].as_str().unwrap().to_string();
    for t in ["1000", "2000"] {
        ok(&sub.json("scrobble", &[("id", &last), ("time", t)]).await);
    }
    let v = sub
        .json(
            "getTopSongs",
            &[("artist", &fx.artist_name), ("count", "10")],
        )
        .await;
    let top = arr(&ok(&v)["topSongs"]["song"]);
    assert_eq!(top[0]["id"], last.as_str());
    let v = sub
        .json("getTopSongs", &[("artist", "Nobody At All")])
        .await;
    assert!(arr(&ok(&v)["topSongs"]["song"]).is_empty());
}
