//! Pure tests: the queue's next/prev/repeat/shuffle rules, output specs, ReplayGain, the saved
//! state file.

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::engine::replay_gain;
use super::queue::{Advance, Queue, Repeat};
use super::state::{self, SavedState};
use super::{AudioOutput, QueueItem, ReplayGainMode};
use crate::shared::api::ReplayGain;
use crate::shared::ids::TrackId;

fn item(n: i64) -> QueueItem {
    QueueItem {
        track_id: TrackId(n),
        content_hash: format!("{n:064x}"),
        size: 1000,
        duration_ms: 30_000,
        format: "flac".into(),
        replay_gain: ReplayGain::default(),
    }
}

fn queue(n: usize) -> Queue {
    Queue::new((0..n as i64).map(item).collect())
}

#[test]
fn an_unstarted_queue_starts_at_its_first_track() {
    let mut q = queue(3);
    assert_eq!(q.current(), None);
    assert_eq!(q.advance(Advance::Ended), Some(0));
    let mut empty = queue(0);
    assert_eq!(empty.advance(Advance::User), None);
}

#[test]
fn next_walks_the_list_and_stops_at_its_end_without_repeat() {
    let mut q = queue(3);
    q.jump(0);
    assert_eq!(q.advance(Advance::Ended), Some(1));
    assert_eq!(q.advance(Advance::User), Some(2));
    assert_eq!(q.advance(Advance::Ended), None);
    assert_eq!(
        q.current(),
        Some(2),
        "the end leaves the last track current"
    );
}

#[test]
fn repeat_all_wraps_both_ways() {
    let mut q = queue(3);
    q.set_repeat(Repeat::All);
    q.jump(2);
    assert_eq!(q.advance(Advance::Ended), Some(0));
    assert_eq!(q.back(), Some(2));
}

#[test]
fn repeat_one_replays_an_ended_track_but_a_user_next_moves_on() {
    let mut q = queue(3);
    q.set_repeat(Repeat::One);
    q.jump(1);
    assert_eq!(q.peek_next(Advance::Ended), Some(1));
    assert_eq!(q.advance(Advance::Ended), Some(1));
    assert_eq!(q.advance(Advance::User), Some(2));
    assert_eq!(
        q.advance(Advance::User),
        None,
        "repeat one does not wrap a user next"
    );
}

#[test]
fn prev_stops_at_the_first_track_without_repeat_all() {
    let mut q = queue(3);
    q.jump(1);
    assert_eq!(q.back(), Some(0));
    assert_eq!(q.back(), None);
    assert_eq!(q.current(), Some(0));
}

#[test]
fn shuffle_keeps_the_current_track_first_and_plays_every_track_once() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut q = queue(10);
    q.jump(4);
    q.set_shuffle(true, &mut rng);
    assert_eq!(q.current(), Some(4));
    assert_eq!(q.order()[0], 4);
    let mut seen = vec![4];
    while let Some(i) = q.advance(Advance::Ended) {
        seen.push(i);
    }
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..10).collect::<Vec<_>>());
    assert_ne!(seen, (0..10).collect::<Vec<_>>(), "seed 7 does shuffle");
}

#[test]
fn shuffle_off_returns_to_list_order_on_the_same_track() {
    let mut rng = StdRng::seed_from_u64(1);
    let mut q = queue(5);
    q.jump(3);
    q.set_shuffle(true, &mut rng);
    q.advance(Advance::User);
    let now = q.current();
    q.set_shuffle(false, &mut rng);
    assert_eq!(q.order(), &[0, 1, 2, 3, 4]);
    assert_eq!(q.current(), now);
}

#[test]
fn a_restored_queue_rejects_an_order_that_is_not_a_permutation() {
    let items: Vec<_> = (0..3).map(item).collect();
    let q = Queue::restore(items.clone(), vec![2, 0, 1], Some(0), true, Repeat::All);
    assert_eq!(q.order(), &[2, 0, 1]);
    assert_eq!(q.current(), Some(0));
    let bad = Queue::restore(items, vec![0, 0, 1], Some(7), false, Repeat::Off);
    assert_eq!(bad.order(), &[0, 1, 2]);
    assert_eq!(bad.current(), None);
}

#[test]
fn output_specs_parse() {
    assert_eq!("auto".parse::<AudioOutput>().ok(), Some(AudioOutput::Auto));
    assert_eq!("null".parse::<AudioOutput>().ok(), Some(AudioOutput::Null));
    assert_eq!(
        "wav:/tmp/x y.wav".parse::<AudioOutput>().ok(),
        Some(AudioOutput::Wav("/tmp/x y.wav".into()))
    );
    for bad in ["wav:", "pulse", "wav"] {
        assert!(bad.parse::<AudioOutput>().is_err(), "{bad}");
    }
    assert_eq!(AudioOutput::Wav("a.wav".into()).to_string(), "wav:a.wav");
}

#[test]
fn the_automatic_output_never_fails() {
    // On a machine without a sound card this is the null sink with a notice.
    let (out, notice) = super::output::open(&AudioOutput::Auto).expect("auto opens something");
    if notice.is_some() {
        assert_eq!(out.kind(), super::OutputKind::Null);
        assert!(!notice.unwrap_or_default().contains('\n'), "one line");
    }
}

#[test]
fn replay_gain_levels_by_the_chosen_mode_without_clipping() {
    let rg = ReplayGain {
        track_gain_db: Some(-6.0),
        track_peak: Some(0.9),
        album_gain_db: Some(-3.0),
        album_peak: Some(0.95),
    };
    let close = |a: f32, b: f32| (a - b).abs() < 1e-3;
    assert!(close(replay_gain(&rg, ReplayGainMode::Track, 0.0), 0.5012));
    assert!(close(replay_gain(&rg, ReplayGainMode::Album, 0.0), 0.7079));
    assert_eq!(replay_gain(&rg, ReplayGainMode::Off, 0.0), 1.0);
    // +6 dB would push a 0.9 peak past full scale: limited to 1/peak.
    let loud = ReplayGain {
        track_gain_db: Some(6.0),
        track_peak: Some(0.9),
        ..Default::default()
    };
    assert!(close(
        replay_gain(&loud, ReplayGainMode::Track, 0.0),
        1.0 / 0.9
    ));
    // Album mode on an untagged album falls back to the track gain; untagged is unity.
    assert!(close(
        replay_gain(&loud, ReplayGainMode::Album, 0.0),
        1.0 / 0.9
    ));
    assert_eq!(
        replay_gain(&ReplayGain::default(), ReplayGainMode::Track, 0.0),
        1.0
    );
}

#[test]
fn the_saved_state_round_trips_and_a_corrupt_one_is_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sub/player.json");
    let saved = SavedState {
        version: state::VERSION,
        items: (0..3).map(item).collect(),
        order: vec![1, 2, 0],
        current: Some(2),
        position_ms: 12_345,
        shuffle: true,
        repeat: Repeat::One,
        volume: 0.5,
    };
    state::save(&path, &saved).expect("save");
    assert_eq!(state::load(&path), Some(saved));
    std::fs::write(&path, b"{not json").expect("write");
    assert_eq!(state::load(&path), None);
    assert_eq!(state::load(&dir.path().join("missing.json")), None);
}

#[test]
fn appended_tracks_play_last_and_removing_keeps_the_current_track() {
    let mut q = queue(3);
    q.jump(1);
    q.append(vec![item(3), item(4)]);
    assert_eq!(q.len(), 5);
    assert_eq!(q.order(), &[0, 1, 2, 3, 4]);
    assert!(!q.remove(1), "the current track stays");
    assert!(q.remove(0));
    assert_eq!(
        q.current(),
        Some(0),
        "the current track moved down with the list"
    );
    assert_eq!(q.order(), &[0, 1, 2, 3]);
    assert!(q.remove(3));
    assert!(!q.remove(9));
    assert_eq!(q.len(), 3);
}
