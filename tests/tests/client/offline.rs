//! With the server gone: the client says so, searches, plays offline playlists from verified
//! files, keeps edits pending, and syncs them when the server is back (on the same address); two
//! devices that edited one playlist offline end up with the same playlist as the server.

use crate::common::TestServer;
use crate::support::{ClientDevice, blake3_of, cli_entries, server_playlist};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_server_gone_the_client_works_offline_and_syncs_when_it_is_back() {
    let mut server = TestServer::demo().await;
    let tracks = server.track_ids().await;
    let dev = ClientDevice::new();
    dev.login(&server.base).await;
    let id = dev
        .json(&["playlists", "create", "Commute", "--json"])
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let first4: Vec<String> = tracks[..4].iter().map(i64::to_string).collect();
    let mut args = vec!["playlists", "add", id.as_str()];
    args.extend(first4.iter().map(String::as_str));
    dev.ok(&args).await;
    dev.ok(&["offline", "add", "Commute"]).await;

    server.stop().await;

    let status = dev.status().await;
    assert_eq!(status["link"], "offline", "{status}");
    assert_eq!(status["offline_playlists"], 1);
    let found = dev.json(&["search", "espresso", "--json"]).await;
    assert!(
        !found["tracks"].as_array().unwrap().is_empty(),
        "search works offline: {found}"
    );

    // Every pinned track is on disk, and its bytes are the track's content hash.
    let playlist = id.clone();
    let checked = dev
        .with_device(move |d| {
            let p = d.mirror.find_playlist(&playlist).unwrap();
            assert_eq!(p.entries.len(), 4);
            let mut checked = Vec::new();
            for e in &p.entries {
                let track = d.mirror.track(e.track_id).unwrap().unwrap();
                assert!(d.cache.is_pinned(&track.content_hash));
                let path = d
                    .cache
                    .path_of(&track.content_hash)
                    .unwrap_or_else(|| panic!("track {} is not cached", track.id));
                assert_eq!(blake3_of(&path), track.content_hash, "{}", path.display());
                checked.push(track.id);
            }
            checked
        })
        .await;
    assert_eq!(checked.len(), 4);

    // Edits work offline and wait.
    let before = cli_entries(&dev.show(&id).await);
    let added = dev
        .json(&["playlists", "add", &id, &tracks[4].to_string(), "--json"])
        .await;
    assert_eq!(cli_entries(&added).len(), 5);
    assert_eq!(added["pending_ops"], 1, "{added}");
    dev.ok(&["playlists", "mv", &id, &before[0].0, "2"]).await;
    dev.ok(&["playlists", "rm", &id, &before[1].0]).await;
    dev.ok(&["playlists", "rename", &id, "Commute (offline)"])
        .await;
    let local = dev.show(&id).await;
    assert_eq!(local["name"], "Commute (offline)");
    let local = cli_entries(&local);
    assert_eq!(local.len(), 4);
    assert_eq!(
        local[1], before[0],
        "moved to position 2 of 5, then 1 before it left"
    );
    assert!(!local.contains(&before[1]));
    let status = dev.status().await;
    assert_eq!(status["link"], "offline");
    assert_eq!(status["pending_ops"], 4, "{status}");

    // The server comes back where the client left it.
    server.start_again().await;
    dev.ok(&["sync", "--json"]).await;
    let status = dev.status().await;
    assert_eq!(status["link"], "online", "{status}");
    assert_eq!(status["pending_ops"], 0, "{status}");
    let shown = dev.show(&id).await;
    let (name, on_server) = server_playlist(&server, &id).await;
    assert_eq!(name, "Commute (offline)");
    assert_eq!(shown["name"], name.as_str());
    assert_eq!(cli_entries(&shown), on_server);
    assert_eq!(
        on_server, local,
        "what the client showed offline is what the server has"
    );
    // The track added offline was downloaded by that sync: the playlist is whole offline again.
    for e in shown["entries"].as_array().unwrap() {
        assert_eq!(e["cached"], true, "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_editing_one_playlist_offline_converge_on_the_servers_playlist() {
    let mut server = TestServer::demo().await;
    let tracks = server.track_ids().await;
    let t = |i: usize| tracks[i].to_string();
    let (a, b) = (ClientDevice::new(), ClientDevice::new());
    a.login(&server.base).await;
    let id = a.json(&["playlists", "create", "Shared", "--json"]).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    a.ok(&["playlists", "add", &id, &t(0), &t(1), &t(2), &t(3)])
        .await;
    b.login(&server.base).await;
    let start = cli_entries(&b.show(&id).await);
    assert_eq!(start, cli_entries(&a.show(&id).await));
    assert_eq!(start.len(), 4);

    server.stop().await;

    // A: two tracks at the end, then entry 0 to position 3.
    let after_a = cli_entries(
        &a.json(&["playlists", "add", &id, &t(4), &t(5), "--json"])
            .await,
    );
    let a_added: Vec<_> = after_a[4..].to_vec();
    assert_eq!(
        a_added.iter().map(|e| e.1).collect::<Vec<_>>(),
        vec![tracks[4], tracks[5]]
    );
    a.ok(&["playlists", "mv", &id, &start[0].0, "3"]).await;
    // B: one track at position 1, entry 2 removed, a new name.
    let after_b = cli_entries(
        &b.json(&["playlists", "add", &id, &t(6), "--at", "1", "--json"])
            .await,
    );
    let b_added = after_b[1].clone();
    assert_eq!(b_added.1, tracks[6]);
    b.ok(&["playlists", "rm", &id, &start[2].0]).await;
    b.ok(&["playlists", "rename", &id, "Shared by two"]).await;
    assert_eq!(a.status().await["pending_ops"], 2);
    assert_eq!(b.status().await["pending_ops"], 3);

    server.start_again().await;
    a.ok(&["sync"]).await;
    b.ok(&["sync"]).await;
    a.ok(&["sync"]).await;

    let (show_a, show_b) = (a.show(&id).await, b.show(&id).await);
    let (name, on_server) = server_playlist(&server, &id).await;
    assert_eq!(name, "Shared by two");
    for (who, shown) in [("A", &show_a), ("B", &show_b)] {
        assert_eq!(shown["name"], name.as_str(), "{who}: {shown}");
        assert_eq!(
            cli_entries(shown),
            on_server,
            "{who} differs from the server"
        );
        assert_eq!(shown["pending_ops"], 0, "{who}");
    }
    for e in a_added.iter().chain([&b_added]) {
        assert!(
            on_server.contains(e),
            "added entry {e:?} lost: {on_server:?}"
        );
    }
    assert!(
        !on_server.iter().any(|e| e.0 == start[2].0),
        "the removed entry came back: {on_server:?}"
    );
    assert_eq!(on_server.len(), 4 + 2 + 1 - 1);
    // A's two tracks, added in one op, stay together and in order.
    let at = on_server.iter().position(|e| *e == a_added[0]).unwrap();
    assert_eq!(on_server.get(at + 1), Some(&a_added[1]), "{on_server:?}");
}
