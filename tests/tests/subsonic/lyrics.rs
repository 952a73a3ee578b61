//! `getLyrics` and `getLyricsBySongId` (the songLyrics extension) from the lyrics the scanner
//! read: the same data as `/api/v1/tracks/{id}/lyrics`.

use crate::support::*;
use serde_json::json;

async fn song_id(sub: &Sub, title: &str) -> String {
    let found = sub.json("search3", &[("query", title)]).await;
    ok(&found)["searchResult3"]["song"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["title"] == title)
        .unwrap_or_else(|| panic!("no song {title:?}: {found}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn structured_lyrics_by_song_id_synced_plain_and_none() {
    let sub = Sub::new().await;
    let rue = song_id(&sub, "Rue de la Lune").await;
    let v = sub.json("getLyricsBySongId", &[("id", &rue)]).await;
    let list = ok(&v)["lyricsList"]["structuredLyrics"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{v}");
    let l = &list[0];
    assert_eq!(l["lang"], "fra");
    assert_eq!(l["synced"], true);
    assert_eq!(l["displayTitle"], "Rue de la Lune");
    assert_eq!(l["displayArtist"], "The Paper Lanterns");
    assert_eq!(
        l["line"][0],
        json!({"start": 1500, "value": "Sous la lune de la rue"})
    );

    // XML: lines are elements with the text as content and `start` as an attribute.
    let x = sub.xml("getLyricsBySongId", &[("id", &rue)]).await;
    let lines = xml_ok(&x)
        .child("lyricsList")
        .child("structuredLyrics")
        .all("line");
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[1].attr("start"), "6000");
    assert_eq!(lines[1].text, "Les pavés chantent doucement");

    // Plain lyrics: no `start` at all, language unknown.
    let hafid = song_id(&sub, "Hafið").await;
    let v = sub.json("getLyricsBySongId", &[("id", &hafid)]).await;
    let l = &ok(&v)["lyricsList"]["structuredLyrics"][0];
    assert_eq!(l["synced"], false);
    assert_eq!(l["lang"], "und");
    assert!(
        l["line"]
            .as_array()
            .unwrap()
            .iter()
            .all(|line| line.get("start").is_none())
    );

    // No lyrics: an empty list, not an error.
    let espresso = song_id(&sub, "Slow Espresso").await;
    let v = sub.json("getLyricsBySongId", &[("id", &espresso)]).await;
    assert_eq!(ok(&v)["lyricsList"]["structuredLyrics"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn lyrics_by_artist_and_title_are_plain_text() {
    let sub = Sub::new().await;
    let v = sub
        .json(
            "getLyrics",
            &[
                ("artist", "the paper lanterns"),
                ("title", "RUE DE LA LUNE"),
            ],
        )
        .await;
    let l = &ok(&v)["lyrics"];
    assert_eq!(l["artist"], "The Paper Lanterns");
    assert_eq!(l["title"], "Rue de la Lune");
    assert!(
        l["value"]
            .as_str()
            .unwrap()
            .starts_with("Sous la lune de la rue\nLes pavés chantent doucement\n"),
        "{v}"
    );
    // The wrong artist, an unknown title, or no title: an empty value.
    for params in [
        vec![("artist", "Neon Harbor"), ("title", "Rue de la Lune")],
        vec![("title", "No Such Song")],
        vec![],
    ] {
        let v = sub.json("getLyrics", &params).await;
        assert_eq!(ok(&v)["lyrics"]["value"], "", "{params:?}: {v}");
    }
}
