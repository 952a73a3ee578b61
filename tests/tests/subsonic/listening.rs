//! Who is listening now (`getNowPlaying`, fed by scrobbles) and bookmarks.

use crate::support::*;

/// A `scrobble?submission=false` makes the user's song "now playing" for everyone, with the
/// app it plays on; the finished scrobble ends it. Another user's view shows the same.
#[tokio::test(flavor = "multi_thread")]
async fn now_playing_follows_scrobbles_of_every_user() {
    let sub = Sub::new().await;
    let fx = sub.fixture().await;
    let empty = sub.json("getNowPlaying", &[]).await;
    assert!(
        ok(&empty)["nowPlaying"]["entry"]
            .as_array()
            .is_none_or(|e| e.is_empty()),
        "{empty}"
    );
    ok(&sub
        .json("scrobble", &[("id", &fx.song), ("submission", "false")])
        .await);

    // Another user sees it, in JSON and XML, with every field a song has.
    let token = sub.s.user("listener").await;
    let key = api_key(&sub.s, &token).await;
    let mine = [
        ("apiKey", key.as_str()),
        ("c", "other-app"),
        ("v", "1.16.1"),
    ];
    let mut json_params = mine.to_vec();
    json_params.push(("f", "json"));
    let v = sub.json_raw("getNowPlaying", &json_params).await;
    let entries = arr(&ok(&v)["nowPlaying"]["entry"]);
    assert_eq!(entries.len(), 1, "{v}");
    let e = &entries[0];
    assert_eq!(e["id"], fx.song.as_str());
    assert_eq!(e["username"], "admin");
    assert_eq!(e["minutesAgo"], 0);
    assert!(e["playerId"].as_u64().is_some(), "{e}");
    assert!(e["title"].is_string() && e["duration"].is_u64(), "{e}");
    let x = sub.xml_raw("getNowPlaying", &mine).await;
    let entry = &x.child("nowPlaying").all("entry")[0];
    assert_eq!(entry.attr("id"), fx.song);
    assert_eq!(entry.attr("username"), "admin");
    entry.attr("playerId").parse::<u32>().unwrap();

    // The same app on two users' devices are two players.
    ok(&sub
        .json_raw(
            "scrobble",
            &[
                ("apiKey", key.as_str()),
                ("c", "tests"),
                ("v", "1.16.1"),
                ("f", "json"),
                ("id", &fx.song),
                ("submission", "false"),
            ],
        )
        .await);
    let v = sub.json("getNowPlaying", &[]).await;
    let entries = arr(&ok(&v)["nowPlaying"]["entry"]);
    assert_eq!(entries.len(), 2, "{v}");
    assert_ne!(entries[0]["playerId"], entries[1]["playerId"]);

    // The finished play ends it.
    ok(&sub
        .json("scrobble", &[("id", &fx.song), ("submission", "true")])
        .await);
    let v = sub.json("getNowPlaying", &[]).await;
    let entries = arr(&ok(&v)["nowPlaying"]["entry"]);
    assert_eq!(entries.len(), 1, "{v}");
    assert_eq!(entries[0]["username"], "listener");
}

/// A play that started longer ago than its song lasts is over, whatever came after.
#[tokio::test(flavor = "multi_thread")]
async fn a_start_older_than_its_song_is_not_now_playing() {
    let sub = Sub::new().await;
    let fx = sub.fixture().await;
    let long_ago = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        - 3_600_000)
        .to_string();
    ok(&sub
        .json(
            "scrobble",
            &[
                ("id", &fx.song),
                ("submission", "false"),
                ("time", &long_ago),
            ],
        )
        .await);
    let v = sub.json("getNowPlaying", &[]).await;
    assert!(
        ok(&v)["nowPlaying"]["entry"]
            .as_array()
            .is_none_or(|e| e.is_empty()),
        "{v}"
    );
}

/// Bookmarks: one per song, moved in place, listed with their song, per user, deleted once.
#[tokio::test(flavor = "multi_thread")]
async fn bookmarks_keep_a_position_per_song_and_user() {
    let sub = Sub::new().await;
    let fx = sub.fixture().await;
    let (first, second) = sub.two_songs(&fx.album).await;
    ok(&sub
        .json(
            "createBookmark",
            &[
                ("id", &first),
                ("position", "12000"),
                ("comment", "chapter 2"),
            ],
        )
        .await);
    ok(&sub
        .json("createBookmark", &[("id", &second), ("position", "500")])
        .await);
    ok(&sub
        .json(
            "createBookmark",
            &[
                ("id", &first),
                ("position", "64000"),
                ("comment", "chapter 3"),
            ],
        )
        .await);
    let v = sub.json("getBookmarks", &[]).await;
    let marks = arr(&ok(&v)["bookmarks"]["bookmark"]);
    assert_eq!(marks.len(), 2, "one per song: {v}");
    let first_mark = marks
        .iter()
        .find(|m| m["entry"]["id"] == first.as_str())
        .unwrap();
    assert_eq!(first_mark["position"], 64000);
    assert_eq!(first_mark["comment"], "chapter 3");
    assert_eq!(first_mark["username"], "admin");
    for date in ["created", "changed"] {
        let d = first_mark[date].as_str().unwrap();
        assert!(d.ends_with(".000Z") && d.len() == 24, "{date}: {d}");
    }
    assert!(first_mark["entry"]["title"].is_string());

    // XML: position is a long attribute, the song its `entry` element.
    let x = sub.xml("getBookmarks", &[]).await;
    let marks = x.child("bookmarks").all("bookmark");
    assert_eq!(marks.len(), 2);
    for m in &marks {
        m.attr("position").parse::<i64>().unwrap();
        assert!(!m.child("entry").attr("id").is_empty());
    }

    // Another user's list is their own.
    let token = sub.s.user("listener").await;
    let key = api_key(&sub.s, &token).await;
    let theirs = sub
        .json_raw("getBookmarks", &[("apiKey", key.as_str()), ("f", "json")])
        .await;
    assert!(
        ok(&theirs)["bookmarks"]["bookmark"]
            .as_array()
            .is_none_or(|b| b.is_empty()),
        "{theirs}"
    );

    ok(&sub.json("deleteBookmark", &[("id", &second)]).await);
    failed(&sub.json("deleteBookmark", &[("id", &second)]).await, 70);
    let v = sub.json("getBookmarks", &[]).await;
    assert_eq!(arr(&ok(&v)["bookmarks"]["bookmark"]).len(), 1, "{v}");

    // Bad input: no position, a negative one, an unknown song.
    failed(&sub.json("createBookmark", &[("id", &first)]).await, 10);
    failed(
        &sub.json("createBookmark", &[("id", &first), ("position", "-5")])
            .await,
        10,
    );
    failed(
        &sub.json("createBookmark", &[("id", "tr-999999"), ("position", "5")])
            .await,
        70,
    );
}
