//! Drives the real `mixtape` binary in a real terminal (tmux, 120x40), as a person would:
//! `mixtape demo`, search, play, and watch the progress move; then quit and find the terminal
//! given back.

use std::process::Command;
use std::time::{Duration, Instant};

struct Session {
    name: String,
}

impl Session {
    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(args)
            .output()
            .expect("tmux is installed (apt-get install tmux; .ci/run does)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-t", &self.name, "-p"])
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.name];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Waits until the screen shows what `done` looks for; the screen on timeout.
    fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Session {
    /// Starts `mixtape demo ARGS` in a fresh device (XDG folders under `home`) in a 120x40
    /// tmux session; stderr goes to `home/stderr`, and the exit status is echoed on exit.
    fn demo(label: &str, home: &std::path::Path, args: &str) -> Self {
        let session = Session {
            name: format!("mixtape-test-{label}-{}", std::process::id()),
        };
        let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let command = format!(
            "cd {repo} && XDG_DATA_HOME={h}/data XDG_CACHE_HOME={h}/cache XDG_CONFIG_HOME={h}/config \
             {bin} demo {args} 2>{h}/stderr; echo MIXTAPE-EXITED-$?; sleep 30",
            h = home.display(),
            bin = env!("CARGO_BIN_EXE_mixtape"),
        );
        session.tmux(&[
            "new-session",
            "-d",
            "-s",
            &session.name,
            "-x",
            "120",
            "-y",
            "40",
            &command,
        ]);
        session
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .output();
    }
}

/// Seconds played, from the status line's "m:ss / m:ss".
fn elapsed(screen: &str) -> Option<u64> {
    screen.lines().find_map(|line| {
        let (before, _) = line.split_once(" / ")?;
        let clock = before.rsplit(' ').next()?;
        let (m, s) = clock.split_once(':')?;
        Some(m.parse::<u64>().ok()? * 60 + s.parse::<u64>().ok()?)
    })
}

#[test]
fn demo_search_play_and_watch_the_progress_move_in_a_real_terminal() {
    let home = tempfile::tempdir().unwrap();
    let session = Session::demo("null", home.path(), "--audio-output null");

    session.wait_for("the library", |s| {
        s.contains("Artists") && s.contains("The Paper Lanterns")
    });
    session.keys(&["/"]);
    session.wait_for("the search box", |s| s.contains("Type to search"));
    session.keys(&["-l", "lantern"]);
    session.wait_for("results", |s| {
        s.contains("results") && s.contains("Slow Espresso")
    });
    session.keys(&["Escape"]);
    // Escape and Enter read together are one Alt+Enter, which only leaves the search box (seen
    // on a loaded machine): Enter goes once the box has let go (its cursor gone).
    session.wait_for("the search box to let go", |s| {
        s.contains("lantern") && !s.contains("lantern█")
    });
    session.keys(&["Enter"]);
    let first = session.wait_for("playback to start", |s| elapsed(s).is_some_and(|t| t >= 1));
    let started = elapsed(&first).unwrap();
    let later = session.wait_for("the progress to move", |s| {
        elapsed(s).is_some_and(|t| t >= started + 2)
    });
    assert!(later.contains("▶"), "playing, not paused:\n{later}");

    session.keys(&["q"]);
    let end = session.wait_for("the program to exit", |s| s.contains("MIXTAPE-EXITED-"));
    assert!(end.contains("MIXTAPE-EXITED-0"), "exit status:\n{end}");
    // The alternate screen is gone: the TUI's frame is no longer on the terminal.
    assert!(!end.contains("1 Library"), "terminal not restored:\n{end}");
    let stderr = std::fs::read_to_string(home.path().join("stderr")).unwrap();
    assert!(
        stderr.contains("null"),
        "the null output was announced: {stderr}"
    );
}

/// The lyrics pane follows the music: the marked line moves as the track plays and jumps with
/// a seek (Rue de la Lune has synced lyrics in an ID3 SYLT frame, lines at 1.5 s, 6 s, 11 s,
/// 16 s, 22 s).
#[test]
fn demo_now_playing_lyrics_move_with_playback_and_seeks() {
    let home = tempfile::tempdir().unwrap();
    let session = Session::demo("lyrics", home.path(), "--audio-output null");
    session.wait_for("the library", |s| s.contains("The Paper Lanterns"));
    session.keys(&["/"]);
    session.wait_for("the search box", |s| s.contains("Type to search"));
    session.keys(&["-l", "rue de la lune"]);
    session.wait_for("results", |s| {
        s.contains("results") && s.contains("Rue de la Lune")
    });
    session.keys(&["Escape"]);
    // As in the test above: Enter once the search box has let go.
    session.wait_for("the search box to let go", |s| {
        s.contains("rue de la lune") && !s.contains("rue de la lune█")
    });
    session.keys(&["Enter"]);
    session.wait_for("playback to start", |s| elapsed(s).is_some());
    session.keys(&["5"]);
    // The first line is marked from 1.5 s to 6 s; a starved machine may first draw the pane later.
    let first = session.wait_for("the first or second line marked", |s| {
        s.contains("▸ Sous la lune de la rue") || s.contains("▸ Les pavés chantent doucement")
    });
    assert!(first.contains("Les pavés chantent doucement"), "{first}");
    let second = session.wait_for("the mark to move to the second line", |s| {
        s.contains("▸ Les pavés chantent doucement")
    });
    assert!(
        !second.contains("▸ Sous la lune"),
        "one line marked:\n{second}"
    );
    // Ten seconds on: the fourth line (16 s) or the fifth (22 s).
    session.keys(&["]"]);
    session.wait_for("the mark to follow the seek", |s| {
        s.contains("▸ Et la nuit qui nous attend") || s.contains("▸ La la la, rue de la Lune")
    });
    session.keys(&["q"]);
    session.wait_for("the program to exit", |s| s.contains("MIXTAPE-EXITED-"));
}

#[test]
fn without_a_sound_card_the_demo_says_one_line_and_alsa_says_nothing() {
    let home = tempfile::tempdir().unwrap();
    // The default output: the device if this machine has one, else the null sink.
    let session = Session::demo("auto", home.path(), "");
    session.wait_for("the library", |s| s.contains("The Paper Lanterns"));
    session.keys(&["q"]);
    let end = session.wait_for("the program to exit", |s| s.contains("MIXTAPE-EXITED-"));
    assert!(end.contains("MIXTAPE-EXITED-0"), "exit status:\n{end}");
    let stderr = std::fs::read_to_string(home.path().join("stderr")).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines.len() <= 1 && lines.iter().all(|l| l.starts_with("mixtape: ")),
        "at most our one notice on stderr, got:\n{stderr}"
    );
}
