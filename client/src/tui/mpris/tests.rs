//! MPRIS: the snapshot the UI hands over, and the real server on a private session bus
//! (`dbus-daemon`), driven by a zbus client as a desktop widget would.

use super::*;
use crate::tui::state::{Effect, update};
use crate::tui::tests::sample_state;
use mpris_server::zbus::{Connection, ObjectPath, OwnedVariant, Proxy, proxy::CacheProperties};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn snapshot_follows_the_playing_track_and_lists_what_changed() {
    let state = sample_state();
    let snap = Snapshot::of(&state);
    assert_eq!(snap.status, PlaybackStatus::Playing);
    assert_eq!(snap.volume, 80);
    assert_eq!(snap.position_ms, 12_000);
    let track = snap.track.clone().unwrap();
    assert_eq!(track.title, "Rue de la Lune");
    assert_eq!(track.artists, vec!["The Paper Lanterns".to_string()]);
    assert_eq!(snap.loop_status(), LoopStatus::Playlist);
    let md = snap.metadata();
    assert_eq!(md.title(), Some("Rue de la Lune"));
    assert_eq!(md.length(), Some(Time::from_millis(31_000)));
    assert_eq!(md.trackid().unwrap().as_str(), "/org/mixtape/track/1");

    let mut paused = state.clone();
    paused.playback.paused = true;
    let changes = Snapshot::of(&paused).changes(&snap);
    assert_eq!(
        changes,
        vec![Property::PlaybackStatus(PlaybackStatus::Paused)]
    );
    let mut stopped = state;
    stopped.playback.current = None;
    let stopped = Snapshot::of(&stopped);
    assert_eq!(stopped.status, PlaybackStatus::Stopped);
    assert!(stopped.changes(&snap).contains(&Property::CanPlay(false)));
    assert_eq!(
        stopped.metadata().trackid(),
        Some(TrackId::NO_TRACK),
        "no track: the spec's NoTrack id"
    );
}

/// Set in the child process the bus test runs in: "bus" with a private session bus, "none"
/// with a bus address nobody answers on.
const CHILD: &str = "MIXTAPE_MPRIS_TEST_CHILD";
const TEST: &str = "tui::mpris::tests::mpris_serves_the_player_on_a_session_bus";

/// The server reads the session bus address from the environment, which a test must not
/// change in its own (threaded) process: the test runs itself again in a child process with
/// the address of a private `dbus-daemon`, or, where there is none, an address that fails.
#[test]
fn mpris_serves_the_player_on_a_session_bus() {
    match std::env::var(CHILD).as_deref() {
        Ok("bus") => return on_private_bus(),
        Ok(_) => return without_bus(),
        Err(_) => {}
    }
    let daemon = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = Command::new(std::env::current_exe().unwrap());
    child.args(["--exact", TEST, "--nocapture", "--test-threads=1"]);
    let mut daemon = match daemon {
        Ok(mut d) => {
            let mut address = String::new();
            BufReader::new(d.stdout.take().unwrap())
                .read_line(&mut address)
                .unwrap();
            assert!(address.starts_with("unix:"), "dbus-daemon said {address:?}");
            child
                .env(CHILD, "bus")
                .env("DBUS_SESSION_BUS_ADDRESS", address.trim());
            Some(d)
        }
        Err(e) => {
            eprintln!("no dbus-daemon ({e}): checking that MPRIS stays silently absent");
            child.env(CHILD, "none").env(
                "DBUS_SESSION_BUS_ADDRESS",
                "unix:path=/nonexistent/mixtape-test-bus",
            );
            None
        }
    };
    let out = child.output().unwrap();
    if let Some(d) = daemon.as_mut() {
        d.kill().ok();
        d.wait().ok();
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{stdout}\n{stderr}");
}

fn without_bus() {
    assert!(start(|_| {}).is_none(), "a bus nobody answers on: no MPRIS");
}

async fn proxy<'a>(conn: &Connection, name: &'a str, interface: &'a str) -> Proxy<'a> {
    mpris_server::zbus::proxy::Builder::new(conn)
        .destination(name)
        .path("/org/mpris/MediaPlayer2")
        .interface(interface)
        .cache_properties(CacheProperties::No)
        .build()
        .await
        .unwrap()
}

async fn wait_for_status(player: &Proxy<'_>, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status: String = player.get_property("PlaybackStatus").await.unwrap();
        if status == want {
            return;
        }
        assert!(Instant::now() < deadline, "PlaybackStatus stayed {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn on_private_bus() {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut mpris = start(move |c| {
        tx.send(c).ok();
    })
    .expect("MPRIS on the private session bus");
    let state = sample_state();
    mpris.update(&state);
    let name = mpris.bus_name().to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let conn = Connection::session().await.unwrap();
        let root = proxy(&conn, &name, "org.mpris.MediaPlayer2").await;
        let identity: String = root.get_property("Identity").await.unwrap();
        assert_eq!(identity, "Mixtape");
        let player = proxy(&conn, &name, "org.mpris.MediaPlayer2.Player").await;
        wait_for_status(&player, "Playing").await;

        let md: HashMap<String, OwnedVariant> = player.get_property("Metadata").await.unwrap();
        let text = |k: &str| String::try_from(md[k].try_clone().unwrap()).unwrap();
        assert_eq!(text("xesam:title"), "Rue de la Lune");
        assert_eq!(text("xesam:album"), "Café Nocturne");
        let artists = Vec::<String>::try_from(md["xesam:artist"].try_clone().unwrap()).unwrap();
        assert_eq!(artists, vec!["The Paper Lanterns".to_string()]);
        let length = i64::try_from(md["mpris:length"].try_clone().unwrap()).unwrap();
        assert_eq!(length, 31_000_000, "microseconds");
        let id = ObjectPath::try_from(md["mpris:trackid"].try_clone().unwrap()).unwrap();
        assert_eq!(id.as_str(), "/org/mixtape/track/1");
        let position: i64 = player.get_property("Position").await.unwrap();
        assert_eq!(position, 12_000_000);
        let volume: f64 = player.get_property("Volume").await.unwrap();
        assert!((volume - 0.8).abs() < 1e-9);

        player.call_method("PlayPause", &()).await.unwrap();
        player.call_method("Seek", &(5_000_000i64,)).await.unwrap();
        let track = ObjectPath::try_from("/org/mixtape/track/1").unwrap();
        player
            .call_method("SetPosition", &(&track, 20_000_000i64))
            .await
            .unwrap();
        // Another track's id: ignored, as the spec asks.
        let other = ObjectPath::try_from("/org/mixtape/track/2").unwrap();
        player
            .call_method("SetPosition", &(&other, 1_000_000i64))
            .await
            .unwrap();
        player.call_method("Next", &()).await.unwrap();
        player.set_property("Volume", 0.5f64).await.unwrap();

        // What the UI reports next reaches the bus.
        let mut paused = sample_state();
        paused.playback.paused = true;
        mpris.update(&paused);
        wait_for_status(&player, "Paused").await;
    });
    let got: Vec<RemoteCommand> = (0..5)
        .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
        .collect();
    assert_eq!(
        got,
        vec![
            RemoteCommand::PlayPause,
            RemoteCommand::SeekBy(5_000),
            RemoteCommand::SetPosition(20_000),
            RemoteCommand::Next,
            RemoteCommand::SetVolume(50),
        ]
    );
    assert!(rx.try_recv().is_err(), "nothing else was asked");
    // And in the UI they do what the keys do.
    let mut s = sample_state();
    assert_eq!(
        update(&mut s, Action::Remote(got[0])),
        vec![Effect::TogglePause]
    );
}
