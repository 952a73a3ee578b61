//! The server on a full data disk: writes answer 507 `disk_full` (not a generic 500), `/readyz`
//! says not ready, and everything works again once space is freed.
//!
//! The data dir is a small tmpfs mounted for the test, so this needs root (CAP_SYS_ADMIN), as in
//! CI; without it the test fails saying so rather than skipping.

mod common;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of `size_mb` at `dir`, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size_mb: u32) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("`mount` (util-linux) runs");
        assert!(
            out.status.success(),
            "this test mounts a tmpfs for the data dir and needs root (CAP_SYS_ADMIN): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self(dir.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes zeros into `path` until the filesystem refuses.
fn fill(path: &Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    while file.write_all(&block).is_ok() {}
    let small = [0u8; 512];
    while file.write_all(&small).is_ok() {}
    let _ = file.sync_all();
}

#[test]
fn a_full_data_disk_answers_507_and_readiness_says_why_then_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let library = tmp.path().join("lib");
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo"),
        &library,
    );
    let data = tmp.path().join("data");
    let _mount = Tmpfs::mount(&data, 24);
    let server = common::start(&library, &data.join("srv"), "disk-full-password", &[]);
    // The first scan writes (and frees WAL space) while the disk fills otherwise.
    server.wait_for_scan();
    let url = |p: &str| format!("{}{p}", server.base);
    let create = |name: &str| {
        server
            .http
            .post(url("/api/v1/playlists"))
            .bearer_auth(&server.token)
            .json(&json!({"name": name}))
            .send()
            .unwrap()
    };
    assert_eq!(create("before").status(), 201);
    assert_eq!(
        server.http.get(url("/readyz")).send().unwrap().status(),
        200
    );

    fill(&data.join("filler"));
    let full = create("while full");
    assert_eq!(full.status(), 507, "a write on a full disk");
    let body: Value = full.json().unwrap();
    assert_eq!(body["error"]["code"], "disk_full", "{body}");
    let ready = server.http.get(url("/readyz")).send().unwrap();
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().unwrap();
    assert_eq!(body["error"]["code"], "disk_full", "{body}");
    // Reads still work.
    assert_eq!(
        server
            .http
            .get(url("/api/v1/albums"))
            .bearer_auth(&server.token)
            .send()
            .unwrap()
            .status(),
        200
    );

    std::fs::remove_file(data.join("filler")).unwrap();
    assert_eq!(
        server.http.get(url("/readyz")).send().unwrap().status(),
        200
    );
    assert_eq!(create("after").status(), 201);
    let names: Vec<String> = server
        .get("/api/v1/playlists")
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        ["after", "before"],
        "nothing half-written while full"
    );
}
