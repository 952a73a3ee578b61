//! The client on full disks: reads keep working and writes say "disk full" with exit 6 when its
//! data and cache disks are full (finding 18); with every cached track pinned, clearing the cache points at
//! `mixtape offline rm` (finding 29).
//!
//! A full disk is a small tmpfs mounted over the device's data folder and filled up: that needs
//! root (or CAP_SYS_ADMIN), which CI has; without it the test fails and says so.

use crate::common::TestServer;
use crate::support::{ClientDevice, cli_entries};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of `size_mib` mounted at a folder, unmounted when dropped.
struct Tmpfs {
    at: PathBuf,
}

impl Tmpfs {
    fn mount(at: &Path, size_mib: u32) -> Self {
        std::fs::create_dir_all(at).unwrap();
        let size = format!("size={size_mib}m");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &size, "tmpfs"])
            .arg(at)
            .output();
        match out {
            Ok(out) if out.status.success() => Self { at: at.to_owned() },
            Ok(out) => panic!(
                "this test simulates a full disk with a {size_mib} MiB tmpfs at {} and needs \
                 root (or CAP_SYS_ADMIN) for it; `mount` failed: {}",
                at.display(),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => panic!("this test needs the `mount` command (to mount a tmpfs): {e}"),
        }
    }

    /// Fills the filesystem to the last byte; returns the file that holds it.
    fn fill(&self) -> PathBuf {
        let path = self.at.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 64 << 10];
        let mut size = block.len();
        // Smaller and smaller writes, so not even a page is left.
        while size > 0 {
            match file.write(&block[..size]) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => size /= 2,
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy, so a process still holding a file there cannot keep the mount alive.
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_full_data_disk_reads_work_and_writes_say_disk_full() {
    let server = TestServer::demo().await;
    let tracks = server.all_tracks().await;
    let title = tracks[0]["title"].as_str().unwrap().to_string();
    let ids: Vec<String> = tracks.iter().map(|t| t["id"].to_string()).collect();
    let dev = ClientDevice::new();
    // The data and the cache each on a disk of their own, both to be filled: the mirror and the
    // cache index each have to open on a full disk.
    let data_disk = Tmpfs::mount(dev.dirs().data.parent().unwrap(), 8);
    let cache_disk = Tmpfs::mount(dev.dirs().cache.parent().unwrap(), 8);
    dev.login(&server.base).await;
    dev.ok(&["playlists", "create", "Kept"]).await;
    dev.ok(&["playlists", "add", "Kept", &ids[0], &ids[1]])
        .await;
    let before = dev.status().await;

    let fillers = [data_disk.fill(), cache_disk.fill()];

    let status = dev.status().await;
    assert_eq!(status["tracks"], before["tracks"], "{status}");
    assert_eq!(status["link"], "online", "{status}");
    let found = dev.json(&["search", &title, "--json"]).await;
    assert!(!found["tracks"].as_array().unwrap().is_empty(), "{found}");
    let lists = dev.json(&["playlists", "list", "--json"]).await;
    assert!(lists.to_string().contains("\"Kept\""), "{lists}");
    assert_eq!(cli_entries(&dev.show("Kept").await).len(), 2);
    dev.ok(&["cache", "stats"]).await;

    for args in [
        &["playlists", "create", "Refused"][..],
        &["playlists", "add", "Kept", &ids[2]],
    ] {
        let run = dev.run(args).await;
        assert_eq!(run.code, 6, "{run}");
        assert!(run.stderr.contains("disk full"), "{run}");
        assert!(!run.stderr.contains("disk I/O error"), "{run}");
    }

    for filler in &fillers {
        std::fs::remove_file(filler).unwrap();
    }
    let lists = dev.json(&["playlists", "list", "--json"]).await;
    assert!(!lists.to_string().contains("Refused"), "{lists}");
    assert_eq!(cli_entries(&dev.show("Kept").await).len(), 2);
    dev.ok(&["playlists", "create", "Afterwards"]).await;
    assert_eq!(dev.status().await["pending_ops"], 0);
    drop((data_disk, cache_disk));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clearing_a_cache_of_pinned_tracks_points_at_offline_rm() {
    let server = TestServer::demo().await;
    let ids: Vec<String> = server
        .track_ids()
        .await
        .iter()
        .map(i64::to_string)
        .collect();
    let dev = ClientDevice::new();
    dev.login(&server.base).await;
    dev.ok(&["playlists", "create", "Pinned"]).await;
    dev.ok(&["playlists", "add", "Pinned", &ids[0], &ids[1]])
        .await;
    dev.ok(&["offline", "add", "Pinned"]).await;

    let run = dev.ok(&["cache", "clear"]).await;
    assert!(
        run.stdout
            .contains("`mixtape offline rm NAME` unpins a playlist"),
        "{run}"
    );
    assert!(run.stdout.contains("2 pinned tracks"), "{run}");
}
