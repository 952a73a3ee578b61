//! The protocol: paths with and without `.view`, GET and form POST, XML by default, JSON and
//! JSONP, the envelope, versions and ids as strings.

use crate::support::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn view_suffix_form_post_and_every_format_answer_alike() {
    let sub = Sub::new().await;
    let key = sub.key.clone();
    // XML by default, with the namespace and the envelope.
    let x = sub
        .xml_raw(
            "ping.view",
            &[("apiKey", &key), ("v", "1.16.1"), ("c", "t")],
        )
        .await;
    xml_ok(&x);
    assert!(!x.attr("serverVersion").is_empty());
    ok(&sub
        .json_raw("ping", &[("apiKey", &key), ("f", "json")])
        .await);
    ok(&sub
        .json_raw("ping.view", &[("apiKey", &key), ("f", "json")])
        .await);

    // Form POST (the formPost extension): parameters in the body.
    let r = sub
        .s
        .http
        .post(sub.url("getAlbumList2.view"))
        .form(&[
            ("apiKey", key.as_str()),
            ("f", "json"),
            ("type", "newest"),
            ("size", "2"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let albums = ok(&v["subsonic-response"])["albumList2"]["album"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(albums.len(), 2);

    // JSONP wraps the JSON answer in the callback.
    let r = sub
        .get(
            "ping",
            &[("apiKey", &key), ("f", "jsonp"), ("callback", "cb")],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/javascript")
    );
    let body = r.text().await.unwrap();
    let inner = body
        .strip_prefix("cb(")
        .and_then(|b| b.strip_suffix(");"))
        .unwrap();
    let v: Value = serde_json::from_str(inner).unwrap();
    ok(&v["subsonic-response"]);
    // A callback that is not a plain name is refused (in JSON).
    failed(
        &sub.json_raw(
            "ping",
            &[("apiKey", &key), ("f", "jsonp"), ("callback", "alert(1)")],
        )
        .await,
        10,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ids_are_strings_and_types_follow_the_spec() {
    let sub = Sub::new().await;
    let fx = sub.fixture().await;
    let album = sub.json("getAlbum", &[("id", &fx.album)]).await;
    let album = &album["album"];
    assert!(album["id"].is_string() && album["artistId"].is_string());
    assert!(album["songCount"].is_u64() && album["duration"].is_u64());
    assert!(album["created"].as_str().unwrap().ends_with('Z'));
    let song = &album["song"][0];
    assert!(song["id"].is_string() && song["albumId"].is_string() && song["parent"].is_string());
    assert_eq!(song["isDir"], false);
    assert_eq!(song["type"], "music");
    assert!(song["size"].is_u64() && song["duration"].is_u64());
    // The same album in XML: attributes with the same values.
    let x = sub.xml("getAlbum", &[("id", &fx.album)]).await;
    let xa = x.child("album");
    assert_eq!(xa.attr("id"), fx.album);
    assert_eq!(xa.attr("name"), album["name"].as_str().unwrap());
    assert_eq!(
        xa.all("song").len(),
        album["song"].as_array().unwrap().len()
    );
    assert_eq!(xa.all("song")[0].attr("id"), song["id"].as_str().unwrap());
}

/// No client is refused for its `v`: stmps sends its own release number (`0.9.9`).
#[tokio::test(flavor = "multi_thread")]
async fn any_version_is_accepted() {
    let sub = Sub::new().await;
    let key = sub.key.clone();
    for v in [
        "1.2.0", "1.13.0", "1.16.1", "1.1.0", "2.0.0", "0.9.9", "stmps",
    ] {
        ok(&sub
            .json_raw("ping", &[("apiKey", &key), ("f", "json"), ("v", v)])
            .await);
        xml_ok(&sub.xml_raw("ping", &[("apiKey", &key), ("v", v)]).await);
    }
}

/// Every `/rest/NAME` answers in the envelope with HTTP 200 (error 70 for one we do not
/// have), in every format: DSub's HTTP client throws on a 404, stmps crashes.
#[tokio::test(flavor = "multi_thread")]
async fn unknown_endpoints_answer_error_70_with_http_200() {
    let sub = Sub::new().await;
    for (format, extra) in [
        ("json", None),
        ("xml", None),
        ("jsonp", Some(("callback", "cb"))),
    ] {
        let mut params = vec![("apiKey", sub.key.as_str()), ("f", format)];
        params.extend(extra);
        let r = sub.get("getPodcastsAndMore", &params).await;
        assert_eq!(r.status(), 200, "{format}");
        let text = r.text().await.unwrap();
        match format {
            "json" => failed(
                &serde_json::from_str::<Value>(&text).unwrap()["subsonic-response"],
                70,
            ),
            "xml" => xml_failed(&crate::support::parse_xml(&text), 70),
            _ => assert!(
                text.starts_with("cb(") && text.contains("\"code\":70"),
                "{text}"
            ),
        }
    }
}

/// Any HTTP method reaches the API (Aonsoku deletes playlists with DELETE; others PUT).
#[tokio::test(flavor = "multi_thread")]
async fn any_method_is_accepted() {
    let sub = Sub::new().await;
    let created = sub.json("createPlaylist", &[("name", "to delete")]).await;
    let id = created["playlist"]["id"].as_str().unwrap().to_string();
    let r = sub
        .s
        .http
        .delete(sub.url("deletePlaylist"))
        .query(&[
            ("apiKey", sub.key.as_str()),
            ("f", "json"),
            ("id", id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    ok(&r.json::<Value>().await.unwrap()["subsonic-response"]);
    failed(&sub.json("getPlaylist", &[("id", &id)]).await, 70);
    let r = sub
        .s
        .http
        .put(sub.url("ping"))
        .form(&[("apiKey", sub.key.as_str()), ("f", "json")])
        .send()
        .await
        .unwrap();
    ok(&r.json::<Value>().await.unwrap()["subsonic-response"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn extensions_are_listed_without_authentication() {
    let sub = Sub::new().await;
    let v = sub
        .json_raw("getOpenSubsonicExtensions", &[("f", "json")])
        .await;
    let names: Vec<&str> = ok(&v)["openSubsonicExtensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec![
            "apiKeyAuthentication",
            "formPost",
            "songLyrics",
            "transcodeOffset",
            "transcoding"
        ]
    );
    assert_eq!(
        v["openSubsonicExtensions"][0]["versions"],
        serde_json::json!([1])
    );
    let x = sub.xml_raw("getOpenSubsonicExtensions", &[]).await;
    let exts = xml_ok(&x).all("openSubsonicExtensions");
    assert_eq!(exts.len(), names.len());
    assert_eq!(exts[0].child("versions").text, "1");
}
