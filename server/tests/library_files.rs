//! The real `mixtape-server` binary against a library someone else can write to: symlinks
//! planted after the scan must not hand out files from outside the library (cover art, Subsonic
//! cover art), and a symlinked folder must not bring outside files into the catalog, even with
//! the watcher on.

mod common;

use common::Server;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PASSWORD: &str = "library-files-password";

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo")
}

fn track_count(server: &Server) -> usize {
    let mut count = 0;
    let mut cursor = String::new();
    loop {
        let page = server.get(&format!("/api/v1/tracks?limit=500&cursor={cursor}"));
        count += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => return count,
        }
    }
}

/// Status and body of an authenticated GET.
fn fetch(server: &Server, path: &str) -> (u16, Vec<u8>) {
    let r = server
        .http
        .get(format!("{}{path}", server.base))
        .bearer_auth(&server.token)
        .send()
        .unwrap();
    (r.status().as_u16(), r.bytes().unwrap().to_vec())
}

fn subsonic_cover(server: &Server, id: &str) -> (u16, Vec<u8>) {
    fetch(
        server,
        &format!("/rest/getCoverArt?u=admin&p={PASSWORD}&v=1.16.1&c=test&id={id}"),
    )
}

#[test]
fn cover_art_is_never_read_through_a_symlink_or_served_under_another_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let library = tmp.path().join("lib");
    let data = tmp.path().join("data");
    common::copy_dir(&demo_dir(), &library);
    let folder_png = library.join("Marble & Moss/Small Hours/folder.png");
    let hash = blake3::hash(&std::fs::read(&folder_png).unwrap())
        .to_hex()
        .to_string();
    let server = common::start(&library, &data, PASSWORD, &[]);
    server.wait_for_scan();
    assert_eq!(fetch(&server, &format!("/api/v1/art/{hash}")).0, 200);

    // Someone with write access to the music folder swaps the image for a link to the server's
    // own database (or its Subsonic key, /etc/passwd, …).
    let secret = data.join("mixtape.db");
    let secret_head = std::fs::read(&secret).unwrap()[..16].to_vec();
    std::fs::rename(&folder_png, folder_png.with_extension("png.orig")).unwrap();
    std::os::unix::fs::symlink(&secret, &folder_png).unwrap();
    let leaked = |body: &[u8]| body.windows(16).any(|w| w == secret_head.as_slice());
    for path in [
        format!("/api/v1/art/{hash}"),
        format!("/api/v1/art/{hash}?size=100"),
    ] {
        let (status, body) = fetch(&server, &path);
        assert_eq!(status, 404, "{path}");
        assert!(!leaked(&body), "{path} served the database");
    }
    let (_, body) = subsonic_cover(&server, &hash);
    assert!(!leaked(&body), "getCoverArt served the database");
    assert!(
        String::from_utf8_lossy(&body).contains("status=\"failed\""),
        "getCoverArt answers a Subsonic error: {}",
        String::from_utf8_lossy(&body)
    );
    // A symlinked folder on the way is refused the same way.
    let album = library.join("Marble & Moss/Small Hours");
    let real_album = library.join("Marble & Moss/Small Hours.real");
    std::fs::remove_file(&folder_png).unwrap();
    std::fs::rename(folder_png.with_extension("png.orig"), &folder_png).unwrap();
    assert_eq!(fetch(&server, &format!("/api/v1/art/{hash}")).0, 200);
    std::fs::rename(&album, &real_album).unwrap();
    std::os::unix::fs::symlink(&real_album, &album).unwrap();
    assert_eq!(fetch(&server, &format!("/api/v1/art/{hash}")).0, 404);
    std::fs::remove_file(&album).unwrap();
    std::fs::rename(&real_album, &album).unwrap();

    // A plain file with other bytes under the old name is not served under the old hash.
    std::fs::write(&folder_png, b"\x89PNG not the scanned image").unwrap();
    let (status, body) = fetch(&server, &format!("/api/v1/art/{hash}"));
    assert_eq!(status, 404);
    assert!(!body.starts_with(b"\x89PNG"));
}

#[test]
fn a_symlinked_folder_is_not_indexed_with_the_watcher_on() {
    let tmp = tempfile::tempdir().unwrap();
    let library = tmp.path().join("lib");
    let data = tmp.path().join("data");
    common::copy_dir(&demo_dir(), &library);
    let outside = tmp.path().join("outside");
    let demo_album = demo_dir().join("The Paper Lanterns/Café Nocturne");
    common::copy_dir(&demo_album, &outside);
    std::os::unix::fs::symlink(&outside, library.join("Linked")).unwrap();

    // A first start indexes the library, then a restart with the link already there (the
    // report's case: notify then watches the link's target).
    {
        let server = common::start(&library, &data, PASSWORD, &[]);
        server.wait_for_scan();
    }
    let server = common::start_watching(&library, &data, PASSWORD);
    server.wait_for_scan();
    let before = track_count(&server);
    assert_eq!(before, 18, "the demo library, without the linked folder");

    // A change outside, seen through the link.
    let outside_song = outside.join("01 - Café Nocturne.mp3");
    let bytes = std::fs::read(&outside_song).unwrap();
    std::fs::write(&outside_song, &bytes).unwrap();
    std::fs::write(outside.join("new-outside.mp3"), &bytes).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    server.wait_for_scan();

    // A change inside proves the watcher is alive: exactly that file is added.
    let inside = library.join("The Paper Lanterns/Café Nocturne/05 - Copy.mp3");
    std::fs::write(&inside, &bytes).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while track_count(&server) == before {
        assert!(
            Instant::now() < deadline,
            "the watcher did not pick up a new file"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    server.wait_for_scan();
    assert_eq!(
        track_count(&server),
        before + 1,
        "files behind the symlinked folder entered the catalog"
    );
}

fn rescan(server: &Server) {
    server.post("/api/v1/scan", &serde_json::json!({})).unwrap();
    server.wait_for_scan();
}

#[test]
fn art_found_in_two_folders_keeps_serving_when_one_copy_is_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let library = tmp.path().join("lib");
    common::copy_dir(&demo_dir(), &library);
    let album = library.join("Marble & Moss/Small Hours");
    let hash = blake3::hash(&std::fs::read(album.join("folder.png")).unwrap())
        .to_hex()
        .to_string();
    let server = common::start(&library, &tmp.path().join("data"), PASSWORD, &[]);
    server.wait_for_scan();
    assert_eq!(fetch(&server, &format!("/api/v1/art/{hash}")).0, 200);
    // The report's case: a copied album is scanned (its folder becomes the latest source of
    // the image), then removed again.
    let copy = library.join("Marble & Moss/Small Hours (copy)");
    common::copy_dir(&album, &copy);
    rescan(&server);
    assert_eq!(fetch(&server, &format!("/api/v1/art/{hash}")).0, 200);
    std::fs::remove_dir_all(&copy).unwrap();
    rescan(&server);
    let (status, body) = fetch(&server, &format!("/api/v1/art/{hash}"));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(blake3::hash(&body).to_hex().as_str(), hash);
    // The same when the copy was the one scanned first and the original goes.
    common::copy_dir(&album, &copy);
    rescan(&server);
    std::fs::remove_dir_all(&album).unwrap();
    rescan(&server);
    assert_eq!(fetch(&server, &format!("/api/v1/art/{hash}")).0, 200);
}
