//! A Subsonic client for the tests: requests with an API key (or other credentials), answers
//! parsed from JSON or from XML into a small tree.

use crate::common::*;
use quick_xml::events::Event;
use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeMap;

pub struct Sub {
    pub s: TestServer,
    /// An API key of the admin.
    pub key: String,
}

/// One XML element.
#[derive(Debug, Clone, Default)]
pub struct Node {
    pub name: String,
    pub attrs: BTreeMap<String, String>,
    pub children: Vec<Node>,
    pub text: String,
}

impl Node {
    pub fn attr(&self, name: &str) -> &str {
        self.attrs
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("<{}> has no {name}: {self:?}", self.name))
    }
    pub fn all(&self, name: &str) -> Vec<&Node> {
        self.children.iter().filter(|c| c.name == name).collect()
    }
    pub fn child(&self, name: &str) -> &Node {
        self.children
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("<{}> has no <{name}>: {self:?}", self.name))
    }
}

pub fn parse_xml(text: &str) -> Node {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Node> = vec![Node::default()];
    let element = |e: &quick_xml::events::BytesStart| Node {
        name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
        attrs: e
            .attributes()
            .map(|a| {
                let a = a.unwrap();
                (
                    String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                    a.unescape_value().unwrap().into_owned(),
                )
            })
            .collect(),
        ..Node::default()
    };
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => stack.push(element(&e)),
            Event::Empty(e) => {
                let n = element(&e);
                stack.last_mut().unwrap().children.push(n);
            }
            Event::End(_) => {
                let n = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(n);
            }
            Event::Text(t) => {
                let raw = String::from_utf8(t.into_inner().into_owned()).unwrap();
                stack
                    .last_mut()
                    .unwrap()
                    .text
                    .push_str(&quick_xml::escape::unescape(&raw).unwrap());
            }
            Event::GeneralRef(r) => {
                let name = String::from_utf8(r.into_inner().into_owned()).unwrap();
                let text = quick_xml::escape::unescape(&format!("&{name};"))
                    .unwrap()
                    .into_owned();
                stack.last_mut().unwrap().text.push_str(&text);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "unbalanced XML: {text}");
    let root = stack.pop().unwrap();
    assert_eq!(root.children.len(), 1, "one root element: {text}");
    root.children.into_iter().next().unwrap()
}

impl Sub {
    pub async fn new() -> Self {
        let s = TestServer::demo().await;
        let key = api_key(&s, &s.admin_token).await;
        Self { s, key }
    }

    /// On a library `fill` makes.
    pub async fn with_library(fill: impl FnOnce(&std::path::Path)) -> Self {
        let s = TestServer::with_library(fill).await;
        s.wait_for_scan().await;
        let key = api_key(&s, &s.admin_token).await;
        Self { s, key }
    }

    pub fn url(&self, endpoint: &str) -> String {
        self.s.url(&format!("/rest/{endpoint}"))
    }

    /// Sets the admin's Subsonic app password, as a user does once before a token-auth app.
    pub async fn set_app_password(&self, password: &str) {
        let r = self
            .s
            .http
            .put(self.s.url("/api/v1/me/subsonic-password"))
            .bearer_auth(&self.s.admin_token)
            .json(&serde_json::json!({ "password": password }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }

    /// GET with exactly these parameters.
    pub async fn get(&self, endpoint: &str, params: &[(&str, &str)]) -> reqwest::Response {
        self.s
            .http
            .get(self.url(endpoint))
            .query(params)
            .send()
            .await
            .unwrap()
    }

    fn with_key<'a>(&'a self, params: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut all = vec![
            ("apiKey", self.key.as_str()),
            ("v", "1.16.1"),
            ("c", "tests"),
        ];
        all.extend_from_slice(params);
        all
    }

    /// The `subsonic-response` object of a JSON call with the admin's API key.
    /// The first two song ids of `album`, in album order.
    pub async fn two_songs(&self, album: &str) -> (String, String) {
        let album = self.json("getAlbum", &[("id", album)]).await;
        let id = |i: usize| {
            album["album"]["song"][i]["id"]
                .as_str()
                .unwrap()
                .to_string()
        };
        (id(0), id(1))
    }

    pub async fn json(&self, endpoint: &str, params: &[(&str, &str)]) -> Value {
        let mut p = self.with_key(params);
        p.push(("f", "json"));
        self.json_raw(endpoint, &p).await
    }

    /// The `subsonic-response` object of a JSON call with exactly these parameters.
    pub async fn json_raw(&self, endpoint: &str, params: &[(&str, &str)]) -> Value {
        let r = self.get(endpoint, params).await;
        assert_eq!(r.status(), 200, "{endpoint}");
        assert_eq!(
            r.headers()["content-type"],
            "application/json",
            "{endpoint}"
        );
        let v: Value = r.json().await.unwrap();
        v["subsonic-response"].clone()
    }

    /// The root element of an XML call with the admin's API key.
    pub async fn xml(&self, endpoint: &str, params: &[(&str, &str)]) -> Node {
        let p = self.with_key(params);
        self.xml_raw(endpoint, &p).await
    }

    pub async fn xml_raw(&self, endpoint: &str, params: &[(&str, &str)]) -> Node {
        let r = self.get(endpoint, params).await;
        assert_eq!(r.status(), 200, "{endpoint}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/xml"),
            "{endpoint}"
        );
        let root = parse_xml(&r.text().await.unwrap());
        assert_eq!(root.name, "subsonic-response");
        assert_eq!(root.attr("xmlns"), "http://subsonic.org/restapi");
        root
    }

    /// Ids from the demo library to call endpoints with.
    pub async fn fixture(&self) -> Fixture {
        let album_list = self
            .json(
                "getAlbumList2",
                &[("type", "alphabeticalByName"), ("size", "500")],
            )
            .await;
        let album = album_list["albumList2"]["album"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["coverArt"].is_string() && a["genre"].is_string())
            .expect("an album with art and a genre")
            .clone();
        let album_id = album["id"].as_str().unwrap().to_string();
        let full = self.json("getAlbum", &[("id", &album_id)]).await;
        let song = full["album"]["song"][0].clone();
        Fixture {
            album: album_id,
            artist: album["artistId"].as_str().unwrap().to_string(),
            artist_name: album["artist"].as_str().unwrap().to_string(),
            genre: album["genre"].as_str().unwrap().to_string(),
            cover: album["coverArt"].as_str().unwrap().to_string(),
            song: song["id"].as_str().unwrap().to_string(),
            song_size: song["size"].as_u64().unwrap(),
        }
    }
}

pub struct Fixture {
    pub album: String,
    pub artist: String,
    pub artist_name: String,
    pub genre: String,
    pub cover: String,
    pub song: String,
    pub song_size: u64,
}

pub async fn api_key(s: &TestServer, token: &str) -> String {
    let (status, v) = s
        .send(
            Method::POST,
            "/api/v1/api-keys",
            token,
            serde_json::json!({"name": "subsonic client"}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    v["secret"].as_str().unwrap().to_string()
}

/// Asserts a successful JSON answer and its envelope.
/// A JSON list's items; none for a missing list (an empty list may be left out).
pub fn arr(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

pub fn ok(v: &Value) -> &Value {
    assert_eq!(v["status"], "ok", "{v}");
    assert_eq!(v["version"], "1.16.1");
    assert_eq!(v["type"], "mixtape");
    assert_eq!(v["openSubsonic"], true);
    assert!(v["serverVersion"].is_string());
    v
}

/// Asserts a failed JSON answer with this code.
pub fn failed(v: &Value, code: u64) {
    assert_eq!(v["status"], "failed", "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(v["error"]["message"].is_string());
    assert_eq!(v["openSubsonic"], true);
}

pub fn xml_ok(n: &Node) -> &Node {
    assert_eq!(n.attr("status"), "ok", "{n:?}");
    assert_eq!(n.attr("version"), "1.16.1");
    assert_eq!(n.attr("type"), "mixtape");
    assert_eq!(n.attr("openSubsonic"), "true");
    n
}

pub fn xml_failed(n: &Node, code: u64) {
    assert_eq!(n.attr("status"), "failed", "{n:?}");
    assert_eq!(n.child("error").attr("code"), code.to_string(), "{n:?}");
}

pub fn md5_hex(s: &str) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(s.as_bytes()))
}
