//! The player against real audio, headless: through the WAV sink (exact PCM, compared with
//! ffmpeg's decode of the same file) and the paced null sink (timing, pause, events, restart).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::decode::TrackDecoder;
use super::{
    AudioOutput, MediaSource, OpenError, PlayState, Player, PlayerConfig, PlayerEvent,
    PlayerHandle, QueueItem, ReplayGainMode,
};
use crate::shared::api::ReplayGain;
use crate::shared::ids::TrackId;

const WAIT: Duration = Duration::from_secs(60);

pub(super) use mixtape_codec::test_support::demo_files;

/// A queue entry whose content hash is the file's path (see [`path_opener`]).
fn file_item(n: i64, path: &Path) -> QueueItem {
    QueueItem {
        track_id: TrackId(n),
        content_hash: path.to_string_lossy().into_owned(),
        size: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        duration_ms: 60_000,
        format: path
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default(),
        replay_gain: ReplayGain::default(),
    }
}

fn path_opener() -> Box<dyn super::TrackOpener> {
    Box::new(
        |item: &QueueItem| -> Result<Box<dyn MediaSource>, OpenError> {
            Ok(Box::new(File::open(&item.content_hash)?))
        },
    )
}

fn config(output: AudioOutput) -> PlayerConfig {
    PlayerConfig {
        output,
        replay_gain: ReplayGainMode::Off,
        ..PlayerConfig::default()
    }
}

/// Waits for an event matching `pred`, returning it and everything seen before it.
fn wait_for(
    rx: &Receiver<PlayerEvent>,
    what: &str,
    pred: impl Fn(&PlayerEvent) -> bool,
) -> Vec<PlayerEvent> {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(ev) => {
                let done = pred(&ev);
                seen.push(ev);
                if done {
                    return seen;
                }
            }
            Err(_) => panic!("timed out waiting for {what}; saw {seen:?}"),
        }
    }
}

fn stopped(ev: &PlayerEvent) -> bool {
    matches!(ev, PlayerEvent::State(PlayState::Stopped))
}

struct Wav {
    rate: u32,
    channels: u16,
    samples: Vec<f32>,
}

fn read_wav(path: &Path) -> Wav {
    let mut r = hound::WavReader::open(path).expect("open wav");
    let spec = r.spec();
    let samples = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(|s| s.expect("sample")).collect(),
        hound::SampleFormat::Int => r
            .samples::<i32>()
            .map(|s| s.expect("sample") as f32 / 32768.0)
            .collect(),
    };
    Wav {
        rate: spec.sample_rate,
        channels: spec.channels,
        samples,
    }
}

/// Plays `items` from the first to the end of the queue into a WAV file and reads it back,
/// with the events seen.
fn render(items: Vec<QueueItem>) -> (Wav, Vec<PlayerEvent>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let wav = dir.path().join("out.wav");
    let (player, rx) =
        Player::spawn(config(AudioOutput::Wav(wav.clone())), path_opener()).expect("spawn");
    player.load_queue(items, Some(0)).expect("load");
    let events = wait_for(&rx, "the end of the queue", |ev| {
        stopped(ev) || matches!(ev, PlayerEvent::Error { .. })
    });
    player.shutdown();
    (read_wav(&wav), events)
}

/// ffmpeg's decode of `path` as interleaved f32 at this rate and channel count.
fn ffmpeg(path: &Path, rate: u32, channels: u16) -> Vec<f32> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-map", "0:a:0", "-f", "f32le", "-ac"])
        .arg(channels.to_string())
        .arg("-ar")
        .arg(rate.to_string())
        .arg("-")
        .output()
        .expect("ffmpeg runs (it is installed by .ci/run)");
    assert!(
        out.status.success(),
        "ffmpeg failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The length of the first audio stream as ffprobe reads it (for MP4: the edit list's
/// `segment_duration`), in frames: the stream's time base must count frames.
pub(super) fn ffprobe_duration_ts(path: &Path) -> u64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "a:0", "-show_entries"])
        .args(["stream=sample_rate,time_base,duration_ts", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe runs (it comes with ffmpeg)");
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.trim().split(',').collect();
    let [rate, time_base, duration] = fields[..] else {
        panic!("ffprobe on {}: {text:?}", path.display());
    };
    assert_eq!(time_base, format!("1/{rate}"), "{}", path.display());
    duration.parse().expect("duration_ts")
}

/// ffmpeg's decode of an MP4 file, ending where its edit list ends. ffmpeg's demuxer applies
/// the whole edit (the priming is skipped, and the last packet's duration stops at the edit's
/// end, which is ffprobe's `duration_ts`), but ffmpeg 5.1's command line does not cut the
/// last decoded frame to that duration, so the encoder padding would stay in.
fn ffmpeg_mp4(path: &Path, rate: u32, channels: u16) -> Vec<f32> {
    let mut pcm = ffmpeg(path, rate, channels);
    let end = ffprobe_duration_ts(path) as usize * usize::from(channels);
    assert!(
        pcm.len() >= end,
        "{}: ffmpeg's decode is short",
        path.display()
    );
    pcm.truncate(end);
    pcm
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// The offset (in frames, of `ours` against `reference`) within `max` that best lines the two
/// up (searched on a window in the middle), and the relative RMS error over the whole overlap
/// there.
fn align(ours: &[f32], reference: &[f32], channels: usize, max: i64) -> (i64, f64) {
    let frames = (ours.len().min(reference.len()) / channels) as i64;
    let window = 4096.min(frames - 2 * max).max(0);
    let start = (frames - window) / 2;
    let err_at = |off: i64, from: i64, to: i64| -> (f64, f64) {
        let (mut err, mut sig) = (0f64, 0f64);
        for f in from..to {
            let g = f + off;
            if g < 0 || g >= (ours.len() / channels) as i64 {
                continue;
            }
            for c in 0..channels {
                let a = f64::from(ours[(g as usize) * channels + c]);
                let b = f64::from(reference[(f as usize) * channels + c]);
                err += (a - b) * (a - b);
                sig += b * b;
            }
        }
        (err, sig)
    };
    let best = (-max..=max)
        .map(|off| (off, err_at(off, start, start + window).0))
        .min_by(|x, y| x.1.total_cmp(&y.1))
        .map_or(0, |b| b.0);
    let (err, sig) = err_at(best, 0, (reference.len() / channels) as i64);
    (best, (err / sig.max(1e-12)).sqrt())
}

/// Exact comparison, with the first difference in the message.
fn assert_same_pcm(ours: &[f32], reference: &[f32], what: &str) {
    if let Some(i) = ours.iter().zip(reference).position(|(a, b)| a != b) {
        panic!(
            "{what}: sample {i} differs: ours {} ffmpeg {}",
            ours[i], reference[i]
        );
    }
    assert_eq!(ours.len(), reference.len(), "{what}: length");
}

#[test]
fn flac_decodes_to_exactly_ffmpegs_pcm() {
    for path in demo_files("flac") {
        let (wav, _) = render(vec![file_item(1, &path)]);
        let reference = ffmpeg(&path, wav.rate, wav.channels);
        assert_same_pcm(&wav.samples, &reference, &path.display().to_string());
    }
}

#[test]
fn wav_decodes_to_exactly_ffmpegs_pcm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = &demo_files("flac")[0];
    let wav_in = dir.path().join("in.wav");
    let ok = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(src)
        .args(["-map", "0:a:0", "-ac", "2", "-c:a", "pcm_s16le"])
        .arg(&wav_in)
        .status()
        .expect("ffmpeg");
    assert!(ok.success());
    let (wav, _) = render(vec![file_item(1, &wav_in)]);
    assert_eq!((wav.rate, wav.channels), (44_100, 2));
    let reference = ffmpeg(&wav_in, 44_100, 2);
    assert_same_pcm(&wav.samples, &reference, "wav");
}

/// Lossy formats: the same signal as ffmpeg's decode (`reference`), lined up within the
/// codec's padding, with a small relative error (decoders of a lossy codec may differ in
/// rounding), and the same length within one codec frame.
fn assert_lossy_matches(
    ext: &str,
    reference: fn(&Path, u32, u16) -> Vec<f32>,
    max_offset: i64,
    max_len_diff: i64,
    max_rel_err: f64,
) -> Vec<(i64, i64)> {
    let mut measured = Vec::new();
    for path in demo_files(ext) {
        let what = path.display().to_string();
        let (wav, _) = render(vec![file_item(1, &path)]);
        let ch = usize::from(wav.channels);
        let reference = reference(&path, wav.rate, wav.channels);
        assert!(
            rms(&reference) > 0.01,
            "{what}: the reference is not silent"
        );
        let (off, rel) = align(&wav.samples, &reference, ch, max_offset);
        let len_diff = (wav.samples.len() / ch) as i64 - (reference.len() / ch) as i64;
        eprintln!("{what}: offset {off} frames, relative error {rel:.1e}, length diff {len_diff}");
        assert!(rel <= max_rel_err, "{what}: relative RMS error {rel}");
        assert!(
            off.abs() < max_offset,
            "{what}: offset {off} at the edge of the search"
        );
        assert!(
            len_diff.abs() <= max_len_diff,
            "{what}: {len_diff} frames longer than ffmpeg's decode"
        );
        measured.push((off, len_diff));
    }
    measured
}

#[test]
fn mp3_decodes_like_ffmpeg_within_a_frame() {
    // Both trim the LAME encoder delay and padding: aligned at 0, equal lengths.
    assert_lossy_matches("mp3", ffmpeg, 1152, 0, 0.01);
}

#[test]
fn vorbis_decodes_like_ffmpeg_within_a_frame() {
    assert_lossy_matches("ogg", ffmpeg, 2048, 0, 0.01);
}

#[test]
fn opus_decodes_like_ffmpeg_within_a_frame() {
    // libopus against ffmpeg's own Opus decoder: same pre-skip and end trim.
    assert_lossy_matches("opus", ffmpeg, 960, 0, 0.05);
}

#[test]
fn m4a_decodes_like_ffmpeg_with_the_edit_list_applied() {
    // The MP4 edit list (`mp4_edit`) drops the AAC priming (1024 frames in the demo files)
    // and the encoder padding, as ffmpeg does: aligned at 0, equal lengths. The search still
    // spans more than the priming so that a miss shows as an offset, not a mismatch. From the
    // start, symphonia's AAC decoder gives ffmpeg's samples to float rounding (about 1e-6).
    let measured = assert_lossy_matches("m4a", ffmpeg_mp4, 2112 + 64, 0, 1e-3);
    assert!(measured.iter().all(|&m| m == (0, 0)), "{measured:?}");
}

#[test]
fn two_gapless_tracks_are_exactly_the_sum_of_their_samples() {
    let flacs = demo_files("flac");
    let (a, b) = (&flacs[0], &flacs[1]);
    let (wav, events) = render(vec![file_item(1, a), file_item(2, b)]);
    let mut expected = ffmpeg(a, wav.rate, wav.channels);
    let first_len = expected.len() / usize::from(wav.channels);
    expected.extend(ffmpeg(b, wav.rate, wav.channels));
    assert_same_pcm(&wav.samples, &expected, "flac then flac");

    let starts: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            PlayerEvent::TrackStarted { index, .. } => Some(*index),
            _ => None,
        })
        .collect();
    assert_eq!(starts, vec![0, 1]);
    let first_end = events.iter().find_map(|e| match e {
        PlayerEvent::TrackFinished {
            index: 0,
            position_ms,
            ..
        } => Some(*position_ms),
        _ => None,
    });
    assert_eq!(first_end, Some(first_len as u64 * 1000 / 44_100));
}

#[test]
fn two_gapless_m4a_tracks_are_the_sum_of_their_samples() {
    let m4as = demo_files("m4a");
    let (a, b) = (&m4as[0], &m4as[1]);
    let (wav, events) = render(vec![file_item(1, a), file_item(2, b)]);
    let ch = usize::from(wav.channels);
    let first = ffmpeg_mp4(a, wav.rate, wav.channels);
    let second = ffmpeg_mp4(b, wav.rate, wav.channels);
    // Exactly the two edits' lengths: no priming, no padding, nothing lost at the joint.
    assert_eq!(
        wav.samples.len(),
        first.len() + second.len(),
        "frames: ours {}, ffmpeg {} + {}",
        wav.samples.len() / ch,
        first.len() / ch,
        second.len() / ch
    );
    let (ours_a, ours_b) = wav.samples.split_at(first.len());
    for (what, ours, reference) in [("first", ours_a, &first), ("second", ours_b, &second)] {
        let (off, rel) = align(ours, reference, ch, 2112 + 64);
        eprintln!("m4a then m4a, {what}: offset {off} frames, relative error {rel:.1e}");
        assert_eq!(off, 0, "{what} track");
        assert!(rel <= 1e-3, "{what} track: relative RMS error {rel}");
    }
    // The joint itself, 0.1 s either side, is the two tracks' ends.
    let joint = 4410 * ch;
    let expected: Vec<f32> = first[first.len() - joint..]
        .iter()
        .chain(&second[..joint])
        .copied()
        .collect();
    let ours = &wav.samples[first.len() - joint..first.len() + joint];
    let (_, rel) = align(ours, &expected, ch, 0);
    eprintln!("m4a then m4a: relative error {rel:.1e} around the joint");
    assert!(rel <= 1e-3, "around the joint: relative RMS error {rel}");

    let first_end = events.iter().find_map(|e| match e {
        PlayerEvent::TrackFinished {
            index: 0,
            position_ms,
            ..
        } => Some(*position_ms),
        _ => None,
    });
    assert_eq!(
        first_end,
        Some((first.len() / ch) as u64 * 1000 / u64::from(wav.rate))
    );
}

#[test]
fn synthetic_wav_clips_follow_each_other_sample_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.wav");
    let b = dir.path().join("b.wav");
    let ramp =
        |n: usize, k: f32| -> Vec<f32> { (0..n).map(|i| (i as f32 * k).sin() * 0.5).collect() };
    // Odd lengths, not multiples of any chunk or packet size.
    let (sa, sb) = (ramp(2 * 12_345, 0.01), ramp(2 * 6_789, 0.03));
    for (path, samples) in [(&a, &sa), (&b, &sb)] {
        write_wav(path, 48_000, 2, samples);
    }
    let (wav, _) = render(vec![file_item(1, &a), file_item(2, &b)]);
    assert_eq!((wav.rate, wav.channels), (48_000, 2));
    let expected: Vec<f32> = sa.iter().chain(&sb).copied().collect();
    assert_same_pcm(&wav.samples, &expected, "a.wav then b.wav");
}

fn write_wav(path: &Path, rate: u32, channels: u16, samples: &[f32]) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create wav");
    for &s in samples {
        w.write_sample(s).expect("write");
    }
    w.finalize().expect("finalize");
}

fn clip(dir: &Path, name: &str, seconds: f32) -> PathBuf {
    let path = dir.join(name);
    let n = (44_100.0 * seconds) as usize;
    let samples: Vec<f32> = (0..n * 2)
        .map(|i| ((i / 2) as f32 * 0.05).sin() * 0.25)
        .collect();
    write_wav(&path, 44_100, 2, &samples);
    path
}

#[test]
fn seeking_lands_on_the_target_frame() {
    // At the decoder: FLAC lands exactly; MP3, Vorbis and Opus within a frame.
    for (ext, tolerance) in [("flac", 0), ("mp3", 1152), ("ogg", 2048), ("opus", 960)] {
        let path = &demo_files(ext)[0];
        let mut dec =
            TrackDecoder::open(Box::new(File::open(path).expect("open")), ext).expect("probe");
        let spec = dec.spec();
        let target_ms = 10_500;
        let frame = dec.seek(target_ms).expect("seek");
        assert_eq!(frame, u64::from(spec.rate) * target_ms / 1000);
        let chunk = dec.next_chunk().expect("decode").expect("not at the end");
        let reference = ffmpeg(path, spec.rate, spec.channels);
        let ch = usize::from(spec.channels);
        let at = frame as usize * ch;
        if tolerance == 0 {
            assert_same_pcm(&chunk, &reference[at..at + chunk.len()], ext);
            continue;
        }
        // Where in ffmpeg's decode does our first chunk sit?
        // The second half of the first chunk: a lossy decoder restarted by the seek needs a
        // few packets to converge on what a decoder that ran from the start produces.
        let probe_len = 2048 * ch;
        let ours = &chunk[probe_len..2 * probe_len];
        let best = (-(tolerance as i64)..=tolerance as i64)
            .map(|off| {
                let s = (at as i64 + off * ch as i64) as usize + probe_len;
                let err: f64 = ours
                    .iter()
                    .zip(&reference[s..s + probe_len])
                    .map(|(a, b)| f64::from(a - b).powi(2))
                    .sum();
                (off, err)
            })
            .min_by(|x, y| x.1.total_cmp(&y.1))
            .expect("offsets");
        let rel = (best.1 / probe_len as f64).sqrt() / rms(ours).max(1e-9);
        eprintln!(
            "{ext}: seek landed {} frames off, relative error {rel:.5}",
            best.0
        );
        assert!(rel < 0.05, "{ext}: no match near the target ({rel})");
        assert!(
            best.0.abs() < tolerance as i64,
            "{ext}: landed {} frames off",
            best.0
        );
    }
}

#[test]
fn seeking_an_m4a_lands_on_the_target_frame_and_still_ends_at_the_edit() {
    let path = &demo_files("m4a")[0];
    let open = || TrackDecoder::open(Box::new(File::open(path).expect("open")), "m4a");
    let mut dec = open().expect("probe");
    let frame = dec.seek(10_500).expect("seek");
    let chunk = dec.next_chunk().expect("decode").expect("not at the end");
    // The channel count comes with the first packet.
    let spec = dec.spec();
    assert_eq!(frame, u64::from(spec.rate) * 10_500 / 1000);
    let ch = usize::from(spec.channels);
    let reference = ffmpeg_mp4(path, spec.rate, spec.channels);
    let at = frame as usize * ch;
    // From its first frame: the seek starts decoding AAC frames early, so the overlap with
    // the frame before is there. What differs is the noise of the bands coded as noise (PNS):
    // the decoder's generator restarts at a seek, ffmpeg's ran from the start (about 6e-4).
    let (off, rel) = align(&chunk, &reference[at..at + chunk.len()], ch, 1024);
    eprintln!("m4a: seek landed {off} frames off, relative error {rel:.1e}");
    assert_eq!(off, 0, "landed {off} frames off");
    assert!(rel < 5e-3, "no match at the target ({rel})");

    // Five seconds before the end (the last one is silent, so compared at offset 0): what
    // follows the seek stops where the edit does.
    let total = reference.len() / ch;
    let mut dec = open().expect("probe");
    let frame = dec
        .seek(total as u64 * 1000 / u64::from(spec.rate) - 5_000)
        .expect("seek");
    let mut rest = Vec::new();
    while let Some(chunk) = dec.next_chunk().expect("decode") {
        rest.extend(chunk);
    }
    eprintln!(
        "m4a: from frame {frame}, {} frames to the end (the edit: {total})",
        rest.len() / ch
    );
    assert_eq!(frame as usize + rest.len() / ch, total);
    let (_, rel) = align(&rest, &reference[frame as usize * ch..], ch, 0);
    eprintln!("m4a: the last five seconds, relative error {rel:.1e}");
    assert!(rel < 5e-3, "the last five seconds ({rel})");
}

#[test]
fn a_seek_before_play_starts_the_output_at_the_target() {
    let path = &demo_files("flac")[0];
    let dir = tempfile::tempdir().expect("tempdir");
    // Stopped on a queue (the WAV file keeps all it was given, so nothing is written before
    // the seek): seek, then resume from there.
    let out2 = dir.path().join("out2.wav");
    let (player, rx) =
        Player::spawn(config(AudioOutput::Wav(out2.clone())), path_opener()).expect("spawn");
    player
        .load_queue(vec![file_item(1, path)], None)
        .expect("load");
    player.seek(5_000).expect("seek");
    player.resume().expect("resume");
    wait_for(&rx, "the end", |e| {
        matches!(e, PlayerEvent::TrackFinished { .. })
    });
    player.shutdown();
    let wav = read_wav(&out2);
    let reference = ffmpeg(path, wav.rate, wav.channels);
    let at = 5 * wav.rate as usize * usize::from(wav.channels);
    assert_same_pcm(&wav.samples, &reference[at..], "from 5 s");
}

fn spawn_null(state: Option<PathBuf>) -> (PlayerHandle, Receiver<PlayerEvent>) {
    let cfg = PlayerConfig {
        state_path: state,
        ..config(AudioOutput::Null)
    };
    Player::spawn(cfg, path_opener()).expect("spawn")
}

#[test]
fn the_null_sink_plays_in_real_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let two_seconds = clip(dir.path(), "two.wav", 2.0);
    let (player, rx) = spawn_null(None);
    assert_eq!(player.output(), &super::OutputKind::Null);
    let t0 = Instant::now();
    player
        .load_queue(vec![file_item(1, &two_seconds)], Some(0))
        .expect("load");
    let events = wait_for(&rx, "the end", stopped);
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(1800), "took only {took:?}");
    let ticks = events
        .iter()
        .filter(|e| matches!(e, PlayerEvent::Position { .. }))
        .count();
    // At most about four a second (plus the one at the start).
    assert!(ticks <= 2 * 4 + 2, "{ticks} position events in 2 s");
    assert!(events.iter().any(|e| matches!(
        e,
        PlayerEvent::TrackFinished {
            index: 0,
            position_ms: 1990..=2010,
            ..
        }
    )));
    player.shutdown();
}

#[test]
fn pause_holds_the_position_and_resume_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = clip(dir.path(), "three.wav", 3.0);
    let (player, rx) = spawn_null(None);
    player
        .load_queue(vec![file_item(1, &path)], Some(0))
        .expect("load");
    wait_for(&rx, "start", |e| {
        matches!(e, PlayerEvent::TrackStarted { .. })
    });
    std::thread::sleep(Duration::from_millis(600));
    player.pause().expect("pause");
    wait_for(&rx, "paused", |e| {
        matches!(e, PlayerEvent::State(PlayState::Paused))
    });
    let paused = player.status();
    assert_eq!(paused.state, PlayState::Paused, "the status lags the event");
    let held = paused.position_ms;
    // At least the 600 ms slept; a starved machine may sleep longer, but not the 3 s clip.
    assert!((400..3_000).contains(&held), "paused at {held} ms");
    std::thread::sleep(Duration::from_millis(700));
    let status = player.status();
    assert_eq!(status.state, PlayState::Paused);
    assert_eq!(status.position_ms, held, "the position moved while paused");
    player.toggle().expect("resume");
    wait_for(&rx, "playing", |e| {
        matches!(e, PlayerEvent::State(PlayState::Playing))
    });
    let t = Instant::now();
    wait_for(&rx, "the end", stopped);
    let rest = t.elapsed();
    let expected = Duration::from_millis(3000 - held);
    assert!(
        rest + Duration::from_millis(300) >= expected,
        "resumed playback took {rest:?}, expected about {expected:?}"
    );
    player.shutdown();
}

#[test]
fn next_reports_a_skip_and_starts_the_following_track() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = clip(dir.path(), "a.wav", 3.0);
    let b = clip(dir.path(), "b.wav", 0.5);
    let (player, rx) = spawn_null(None);
    player
        .load_queue(vec![file_item(1, &a), file_item(2, &b)], Some(0))
        .expect("load");
    wait_for(&rx, "start", |e| {
        matches!(e, PlayerEvent::TrackStarted { index: 0, .. })
    });
    std::thread::sleep(Duration::from_millis(300));
    player.next().expect("next");
    let events = wait_for(&rx, "second start", |e| {
        matches!(e, PlayerEvent::TrackStarted { index: 1, .. })
    });
    let skipped = events.iter().find_map(|e| match e {
        PlayerEvent::TrackSkipped {
            index: 0,
            track_id,
            position_ms,
        } => Some((*track_id, *position_ms)),
        _ => None,
    });
    let (id, at) = skipped.expect("a skip event");
    assert_eq!(id, TrackId(1));
    assert!((100..2000).contains(&at), "skipped at {at} ms");
    let events = wait_for(&rx, "the end", stopped);
    assert!(events.iter().any(|e| matches!(
        e,
        PlayerEvent::TrackFinished {
            index: 1,
            track_id: TrackId(2),
            ..
        }
    )));
    player.shutdown();
}

#[test]
fn the_queue_and_position_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("player.json");
    let a = clip(dir.path(), "a.wav", 1.0);
    let b = clip(dir.path(), "b.wav", 4.0);
    let items = vec![file_item(1, &a), file_item(2, &b)];
    {
        let (player, rx) = spawn_null(Some(state.clone()));
        player.load_queue(items.clone(), None).expect("load");
        player.set_volume(0.25).expect("volume");
        player.play(1).expect("play");
        wait_for(&rx, "start", |e| {
            matches!(e, PlayerEvent::TrackStarted { index: 1, .. })
        });
        player.seek(2_000).expect("seek");
        std::thread::sleep(Duration::from_millis(300));
        player.pause().expect("pause");
        wait_for(&rx, "paused", |e| {
            matches!(e, PlayerEvent::State(PlayState::Paused))
        });
        player.shutdown();
    }
    let (player, rx) = spawn_null(Some(state));
    let status = player.status();
    assert_eq!(status.queue.as_slice(), items.as_slice());
    assert_eq!(status.index, Some(1));
    assert_eq!(status.state, PlayState::Stopped);
    assert_eq!(status.volume, 0.25);
    assert!(
        // Past the seek, before the 4 s clip's end (however long the 300 ms sleep took).
        (2_000..4_000).contains(&status.position_ms),
        "restored at {} ms",
        status.position_ms
    );
    player.resume().expect("resume");
    wait_for(&rx, "start", |e| {
        matches!(e, PlayerEvent::TrackStarted { index: 1, .. })
    });
    let at = player.status().position_ms;
    assert!(
        at >= 2_000,
        "resumed at {at} ms, not from the saved position"
    );
    player.shutdown();
}

#[test]
fn a_track_that_cannot_open_is_reported_and_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = clip(dir.path(), "good.wav", 0.3);
    let missing = dir.path().join("missing.flac");
    let (player, rx) = spawn_null(None);
    player
        .load_queue(vec![file_item(1, &missing), file_item(2, &good)], Some(0))
        .expect("load");
    let events = wait_for(&rx, "the end", stopped);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, PlayerEvent::Error { index: Some(0), .. }))
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, PlayerEvent::TrackFinished { index: 1, .. }))
    );
    player.shutdown();
}

#[test]
fn a_seek_beyond_the_download_plays_before_the_download_gets_there() {
    use crate::cache::test_server::{TOKEN, TestServer};
    use crate::cache::{AudioCache, CacheConfig, Fetcher};

    let dir = tempfile::tempdir().expect("tempdir");
    let wav = clip(dir.path(), "long.wav", 40.0);
    let bytes = std::fs::read(&wav).expect("read");
    let size = bytes.len() as u64;
    let server = TestServer::start();
    let hash = server.add_media(bytes);
    // About 3 MB/s: the whole 14 MB file takes four and a half seconds.
    server.throttle(64 * 1024, Duration::from_millis(20));
    let (cache, _) =
        AudioCache::open(&dir.path().join("cache"), CacheConfig::default()).expect("cache");
    let fetcher = Fetcher::new(&server.base_url, TOKEN).expect("fetcher");
    let opener = super::CacheOpener::new(cache, Some(fetcher));
    let (player, rx) = Player::spawn(config(AudioOutput::Null), Box::new(opener)).expect("spawn");
    let item = QueueItem {
        track_id: TrackId(1),
        content_hash: hash.clone(),
        size,
        duration_ms: 40_000,
        format: "wav".into(),
        replay_gain: ReplayGain::default(),
    };
    player.load_queue(vec![item], Some(0)).expect("load");
    wait_for(&rx, "the start", |ev| {
        matches!(ev, PlayerEvent::TrackStarted { .. })
    });

    let target_ms = 32_000;
    player.seek(target_ms).expect("seek");
    wait_for(
        &rx,
        "audio after the seek target",
        |ev| matches!(ev, PlayerEvent::Position { position_ms, .. } if *position_ms >= target_ms + 300),
    );
    let part = dir
        .path()
        .join("cache/audio")
        .join(&hash[..2])
        .join(format!("{hash}.part"));
    let prefix = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(size);
    assert!(
        prefix < size * 3 / 4,
        "the audio at 80 % played while the download had {prefix} of {size} bytes"
    );
    player.shutdown();
}
