//! The library that disappears (finding 2), against the `mixtape-server` binary: a disk that is
//! not mounted at start must not wipe the catalog or the playlists, and the files coming back
//! must get their old ids, so that the playlists' op logs still name the same songs.

mod common;

use common::Server;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const PASSWORD: &str = "library-test-password";

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo")
}

/// A track as the tests compare it: (id, content hash, title, available).
type TrackRow = (i64, String, String, bool);

impl Server {
    /// Every track as (id, content hash, title, available), in id order.
    fn tracks(&self) -> Vec<TrackRow> {
        let page = self.get("/api/v1/tracks?limit=500");
        let mut out: Vec<_> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["id"].as_i64().unwrap(),
                    t["content_hash"].as_str().unwrap().to_string(),
                    t["title"].as_str().unwrap().to_string(),
                    t["available"].as_bool().unwrap(),
                )
            })
            .collect();
        out.sort();
        out
    }

    /// The playlist's (track id, available) in playlist order, and its entry count.
    fn playlist(&self, id: &str) -> (Vec<(i64, bool)>, u64) {
        let p = self.get(&format!("/api/v1/playlists/{id}"));
        let entries = p["entries"]
            .as_array()
            .unwrap_or_else(|| panic!("{p}"))
            .iter()
            .map(|e| {
                (
                    e["track_id"].as_i64().unwrap(),
                    e["available"].as_bool().unwrap(),
                )
            })
            .collect();
        (entries, p["entry_count"].as_u64().unwrap())
    }

    fn status_of(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> u16 {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            r = r.json(body);
        }
        r.send().unwrap().status().as_u16()
    }
}

fn start(library: &Path, data: &Path) -> Server {
    common::start(library, data, PASSWORD, &[])
}

/// A library, a playlist of several of its tracks (some twice), and the tracks as scanned.
fn library_with_playlist(library: &Path, data: &Path) -> (String, Vec<i64>, Vec<TrackRow>) {
    common::copy_dir(&demo_dir(), library);
    let server = start(library, data);
    server.wait_for_scan();
    let tracks = server.tracks();
    assert!(tracks.len() >= 10, "{tracks:?}");
    let picked: Vec<i64> = [3, 0, 7, tracks.len() - 1, 3, 5]
        .iter()
        .map(|&i| tracks[i].0)
        .collect();
    let playlist = server
        .post("/api/v1/playlists", &json!({"name": "Burst"}))
        .unwrap();
    let pid = playlist["id"].as_str().unwrap().to_string();
    let added = server
        .post(
            &format!("/api/v1/playlists/{pid}/entries"),
            &json!({"track_ids": picked}),
        )
        .unwrap();
    assert_eq!(added["entries"].as_array().unwrap().len(), picked.len());
    (pid, picked, tracks)
}

fn unmount(library: &Path) -> PathBuf {
    let away = library.with_extension("away");
    std::fs::rename(library, &away).unwrap();
    std::fs::create_dir(library).unwrap();
    away
}

fn remount(library: &Path, away: &Path) {
    std::fs::remove_dir(library).unwrap();
    std::fs::rename(away, library).unwrap();
}

#[test]
fn an_unmounted_library_is_held_back_and_comes_back_with_the_same_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let library = tmp.path().join("lib");
    let data = tmp.path().join("data");
    let (pid, picked, before) = library_with_playlist(&library, &data);
    let all_available =
        |entries: &[(i64, bool)], available: bool| entries.iter().all(|&(_, a)| a == available);

    // The disk is not mounted at start: an empty folder.
    let away = unmount(&library);
    let server = start(&library, &data);
    let status = server.wait_for_scan();
    assert_eq!(status["tracks_removed"], 0, "{status}");
    assert_eq!(
        status["held_removals"]["count"].as_u64(),
        Some(before.len() as u64),
        "{status}"
    );
    assert!(
        status["held_removals"]["reason"]
            .as_str()
            .unwrap()
            .contains("mounted"),
        "{status}"
    );
    let held = server.tracks();
    assert_eq!(held.len(), before.len(), "the tracks stay");
    assert!(held.iter().all(|t| !t.3), "and are unavailable: {held:?}");
    let (entries, count) = server.playlist(&pid);
    assert_eq!(count, picked.len() as u64);
    assert_eq!(
        entries.iter().map(|e| e.0).collect::<Vec<_>>(),
        picked,
        "the playlist keeps its entries"
    );
    assert!(all_available(&entries, false), "{entries:?}");
    assert_eq!(
        server.status_of(
            reqwest::Method::GET,
            &format!("/api/v1/tracks/{}/stream", picked[0]),
            None
        ),
        410
    );
    // A plain rescan holds the removal back again.
    assert_eq!(
        server.status_of(reqwest::Method::POST, "/api/v1/scan", None),
        202
    );
    let status = server.wait_for_scan();
    assert_eq!(status["tracks_removed"], 0, "{status}");
    assert_eq!(
        status["held_removals"]["count"].as_u64(),
        Some(before.len() as u64)
    );
    drop(server);

    // The disk is back.
    remount(&library, &away);
    let server = start(&library, &data);
    let status = server.wait_for_scan();
    assert_eq!(status["tracks_restored"], before.len() as u64, "{status}");
    assert_eq!(status["tracks_added"], 0, "{status}");
    assert!(status["held_removals"].is_null(), "{status}");
    assert_eq!(server.tracks(), before, "same ids, same songs");
    let (entries, _) = server.playlist(&pid);
    assert_eq!(entries.iter().map(|e| e.0).collect::<Vec<_>>(), picked);
    assert!(all_available(&entries, true), "{entries:?}");
    assert_eq!(
        server.status_of(
            reqwest::Method::GET,
            &format!("/api/v1/tracks/{}/stream", picked[0]),
            None
        ),
        200
    );

    // An edit replays the op log: nothing shifts.
    let extra = before[1].0;
    server
        .post(
            &format!("/api/v1/playlists/{pid}/entries"),
            &json!({"track_ids": [extra]}),
        )
        .unwrap();
    let (entries, count) = server.playlist(&pid);
    let mut want = picked.clone();
    want.push(extra);
    assert_eq!(entries.iter().map(|e| e.0).collect::<Vec<_>>(), want);
    assert_eq!(count, want.len() as u64);
    let titles: Vec<String> = want
        .iter()
        .map(|id| {
            server.get(&format!("/api/v1/tracks/{id}"))["title"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let want_titles: Vec<String> = want
        .iter()
        .map(|id| before.iter().find(|t| t.0 == *id).unwrap().2.clone())
        .collect();
    assert_eq!(titles, want_titles, "the playlist names the songs it named");
}

#[test]
fn a_confirmed_mass_removal_removes_and_returning_files_get_their_ids_back() {
    let tmp = tempfile::tempdir().unwrap();
    let library = tmp.path().join("lib");
    let data = tmp.path().join("data");
    let (pid, picked, before) = library_with_playlist(&library, &data);

    let away = unmount(&library);
    let server = start(&library, &data);
    let status = server.wait_for_scan();
    assert_eq!(status["tracks_removed"], 0, "{status}");
    let bad = server.status_of(
        reqwest::Method::POST,
        "/api/v1/scan",
        Some(&json!({"confirm_removals": "yes"})),
    );
    assert_eq!(bad, 400, "a malformed confirmation is refused");
    assert_eq!(
        server.status_of(
            reqwest::Method::POST,
            "/api/v1/scan",
            Some(&json!({"confirm_removals": true}))
        ),
        202
    );
    let status = server.wait_for_scan();
    assert_eq!(status["tracks_removed"], before.len() as u64, "{status}");
    assert!(status["held_removals"].is_null(), "{status}");
    assert!(server.tracks().is_empty());
    let (entries, count) = server.playlist(&pid);
    assert_eq!(count, picked.len() as u64, "entries of gone tracks stay");
    assert_eq!(
        entries,
        picked.iter().map(|&id| (id, false)).collect::<Vec<_>>()
    );
    drop(server);

    remount(&library, &away);
    let server = start(&library, &data);
    let status = server.wait_for_scan();
    assert_eq!(status["tracks_added"], before.len() as u64, "{status}");
    assert_eq!(
        server.tracks(),
        before,
        "each file gets its old id back by content hash"
    );
    let (entries, _) = server.playlist(&pid);
    assert_eq!(
        entries,
        picked.iter().map(|&id| (id, true)).collect::<Vec<_>>()
    );
}

#[test]
fn the_allow_mass_removal_switch_removes_without_asking() {
    let tmp = tempfile::tempdir().unwrap();
    let library = tmp.path().join("lib");
    let data = tmp.path().join("data");
    let (_pid, _picked, before) = library_with_playlist(&library, &data);
    let _away = unmount(&library);
    let server = common::start(
        &library,
        &data,
        PASSWORD,
        &[("MIXTAPE_ALLOW_MASS_REMOVAL", "true")],
    );
    let status = server.wait_for_scan();
    assert_eq!(status["tracks_removed"], before.len() as u64, "{status}");
    assert!(status["held_removals"].is_null(), "{status}");
}
