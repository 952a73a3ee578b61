//! Client benchmarks against an in-process server on loopback:
//!
//! - `mirror`: a from-scratch mirror of the catalog, syncs with nothing changed, a sync after a
//!   few playlist edits, and the cold start (open the mirror, first search).
//! - `offline`: a playlist of N generated tracks taken offline, against curl fetching the same
//!   bytes from the same server in the same run.

use anyhow::{Context, Result, bail};
use mixtape::api::ApiClient;
use mixtape::device::{Device, Dirs, Session};
use mixtape::offline;
use mixtape::sync;
use mixtape_shared::sync::{Anchor, NewEntry, OpKind};
use mixtape_shared::{EntryId, PlaylistId, TrackId};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn login_device(root: &Path, base: &str) -> Result<Device> {
    let mut device = Device::open(Dirs::under(root))?;
    let api = ApiClient::new(base, None)?;
    let login = api.login("admin", crate::BENCH_PASSWORD)?;
    device.save_session(Session {
        server: base.to_string(),
        username: "admin".into(),
        token: login.token,
    })?;
    Ok(device)
}

/// Runs on a blocking thread: the client is synchronous.
pub fn mirror(base: &str, runs: usize) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let mut device = login_device(tmp.path(), base)?;
    let api = device.api()?;

    let started = Instant::now();
    let report = sync::sync(&mut device.mirror, &api)?;
    let first = started.elapsed();
    let tracks = device.mirror.track_count()?;
    println!(
        "| mirror from scratch | {tracks} tracks in {:.2} s ({:.0} tracks/s) |",
        first.as_secs_f64(),
        tracks as f64 / first.as_secs_f64()
    );
    if report.tracks_changed != tracks {
        bail!("mirrored {} of {tracks}", report.tracks_changed);
    }

    let idle: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            sync::sync(&mut device.mirror, &api).map(|_| started.elapsed())
        })
        .collect::<Result<_, _>>()?;
    println!(
        "| sync, nothing changed | median {:.1} ms, max {:.1} ms ({runs} runs) |",
        ms(median(idle.clone())),
        ms(*idle.iter().max().unwrap_or(&Duration::ZERO))
    );

    // A few edits: the sync's cost follows them, not the catalog.
    let playlist = PlaylistId::new_v7();
    device.mirror.enqueue_op(
        playlist,
        OpKind::Create {
            name: "bench".into(),
            public: false,
        },
    )?;
    for i in 1..=10 {
        device.mirror.enqueue_op(
            playlist,
            OpKind::Add {
                entries: vec![NewEntry {
                    id: EntryId::new_v7(),
                    track_id: TrackId(i),
                }],
                at: Anchor::End,
            },
        )?;
    }
    let started = Instant::now();
    let edited = sync::sync(&mut device.mirror, &api)?;
    println!(
        "| sync of 11 playlist edits | {:.1} ms ({} ops accepted) |",
        ms(started.elapsed()),
        edited.ops_accepted
    );
    drop(device);

    // Cold start: open the device's files and answer a first search, as a new process would.
    let cold: Vec<Duration> = (0..runs)
        .map(|_| -> Result<Duration> {
            let started = Instant::now();
            let device = Device::open(Dirs::under(tmp.path()))?;
            let hits = device.mirror.search("the", 20)?;
            let took = started.elapsed();
            if hits.is_empty() {
                bail!("cold search found nothing");
            }
            Ok(took)
        })
        .collect::<Result<_>>()?;
    println!(
        "| cold start (open mirror + cache index, first search) | median {:.1} ms ({runs} runs) |",
        ms(median(cold))
    );
    let mirror_bytes = std::fs::metadata(tmp.path().join("data/mirror.sqlite"))?.len();
    println!(
        "| mirror database size | {:.0} MiB |",
        mirror_bytes as f64 / 1048576.0
    );
    Ok(())
}

/// Writes `count` WAV files of `bytes` each (noise, so nothing compresses) into `dir`.
pub fn write_library(dir: &Path, count: usize, bytes: usize) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let data_len = (bytes.saturating_sub(44) / 4 * 4) as u32;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..count {
        let path = dir.join(format!("track-{i:04}.wav"));
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
        f.write_all(b"RIFF")?;
        f.write_all(&(36 + data_len).to_le_bytes())?;
        f.write_all(b"WAVEfmt ")?;
        f.write_all(&16u32.to_le_bytes())?;
        f.write_all(&1u16.to_le_bytes())?; // PCM
        f.write_all(&2u16.to_le_bytes())?; // stereo
        f.write_all(&44_100u32.to_le_bytes())?;
        f.write_all(&(44_100u32 * 4).to_le_bytes())?;
        f.write_all(&4u16.to_le_bytes())?;
        f.write_all(&16u16.to_le_bytes())?;
        f.write_all(b"data")?;
        f.write_all(&data_len.to_le_bytes())?;
        let mut chunk = vec![0u8; 64 * 1024];
        let mut left = data_len as usize;
        while left > 0 {
            let n = left.min(chunk.len());
            for b in chunk[..n].chunks_mut(8) {
                // xorshift: distinct bytes per file, no two files alike.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let bytes = state.to_le_bytes();
                b.copy_from_slice(&bytes[..b.len()]);
            }
            f.write_all(&chunk[..n])?;
            left -= n;
        }
        f.flush()?;
    }
    Ok(())
}

/// Takes a playlist of every track offline; then curl fetches the same media URLs.
pub fn offline(base: &str, parallel: usize) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let mut device = login_device(tmp.path(), base)?;
    let api = device.api()?;
    sync::sync(&mut device.mirror, &api)?;
    let playlist = PlaylistId::new_v7();
    device.mirror.enqueue_op(
        playlist,
        OpKind::Create {
            name: "offline bench".into(),
            public: false,
        },
    )?;
    let count = device.mirror.track_count()? as i64;
    let entries = (1..=count)
        .map(|i| NewEntry {
            id: EntryId::new_v7(),
            track_id: TrackId(i),
        })
        .collect();
    device.mirror.enqueue_op(
        playlist,
        OpKind::Add {
            entries,
            at: Anchor::End,
        },
    )?;
    sync::sync(&mut device.mirror, &api)?;
    let view = device.mirror.find_playlist(&playlist.to_string())?;
    let ids: Vec<TrackId> = view.entries.iter().map(|e| e.track_id).collect();
    let files = device.mirror.tracks_of(&ids)?;
    let total: u64 = files.iter().map(|(_, _, s)| s).sum();

    // curl first, so the page cache is equally warm for the client after it.
    let token = device.session().context("session")?.token.clone();
    // curl stores the same bytes on the same disk as the cache does; `sync` afterwards gives the
    // durability the cache's fsync gives, so both comparisons are printed.
    let curl_out = tmp.path().join("curl-out");
    let curl_config = tmp.path().join("curl.cfg");
    let curl = |extra: &[&str]| -> Result<Duration> {
        let _ = std::fs::remove_dir_all(&curl_out);
        std::fs::create_dir_all(&curl_out)?;
        let mut cfg = String::new();
        for (_, hash, _) in &files {
            cfg.push_str(&format!(
                "url = \"{}\"\noutput = \"{}\"\n",
                api.media_url(hash),
                curl_out.join(hash).display()
            ));
        }
        std::fs::write(&curl_config, cfg)?;
        sync_disk()?;
        let started = Instant::now();
        let status = std::process::Command::new("curl")
            .args(["-s", "-f", "-H"])
            .arg(format!("Authorization: Bearer {token}"))
            .args(extra)
            .arg("-K")
            .arg(&curl_config)
            .status()
            .context("running curl (apt-get install curl)")?;
        if !status.success() {
            bail!("curl failed: {status}");
        }
        Ok(started.elapsed())
    };
    let curl_serial = curl(&[])?;
    let parallel_arg = parallel.to_string();
    let curl_parallel = curl(&["--parallel", "--parallel-max", &parallel_arg])?;
    let started = Instant::now();
    sync_disk()?;
    let curl_parallel_synced = curl_parallel + started.elapsed();
    std::fs::remove_dir_all(&curl_out)?;
    sync_disk()?;

    let fetcher = device.fetcher()?;
    let started = Instant::now();
    offline::mark(&device.mirror, &device.cache, &view, "original")?;
    let report = offline::download(
        &device.mirror,
        &device.cache,
        &fetcher,
        std::slice::from_ref(&view),
        parallel,
        &offline::Quiet,
    )?;
    let took = started.elapsed();
    if report.downloaded != files.len() as u64 || !report.failed.is_empty() {
        bail!("offline download incomplete: {report:?}");
    }
    let rate = |d: Duration| total as f64 / d.as_secs_f64() / 1e6;
    println!(
        "| offline playlist | {} tracks, {:.0} MB |",
        files.len(),
        total as f64 / 1e6
    );
    println!(
        "| curl, one connection | {:.2} s, {:.0} MB/s |",
        curl_serial.as_secs_f64(),
        rate(curl_serial)
    );
    println!(
        "| curl --parallel-max {parallel} | {:.2} s, {:.0} MB/s |",
        curl_parallel.as_secs_f64(),
        rate(curl_parallel)
    );
    println!(
        "| curl --parallel-max {parallel}, then `sync` | {:.2} s, {:.0} MB/s |",
        curl_parallel_synced.as_secs_f64(),
        rate(curl_parallel_synced)
    );
    let best_curl = curl_serial.min(curl_parallel);
    println!(
        "| mixtape offline (verify, fsync, {parallel} at once) | {:.2} s, {:.0} MB/s: {:.0} % of curl's best, {:.0} % of curl + sync |",
        took.as_secs_f64(),
        rate(took),
        100.0 * best_curl.as_secs_f64() / took.as_secs_f64(),
        100.0 * curl_parallel_synced.as_secs_f64() / took.as_secs_f64()
    );
    Ok(())
}

/// Flushes every dirty page to disk, so one measurement does not pay for another's writes.
fn sync_disk() -> Result<()> {
    let status = std::process::Command::new("sync").status()?;
    if !status.success() {
        bail!("sync failed: {status}");
    }
    Ok(())
}

/// Time to first audio: from the play command to the player's `TrackStarted` (the first samples
/// handed to the output), for every track uncached (played while it downloads) and then cached.
pub fn first_audio(base: &str) -> Result<()> {
    use mixtape::player::{AudioOutput, CacheOpener, Player, PlayerConfig, PlayerEvent, QueueItem};
    let tmp = tempfile::tempdir()?;
    let mut device = login_device(tmp.path(), base)?;
    let api = device.api()?;
    sync::sync(&mut device.mirror, &api)?;
    let count = device.mirror.track_count()? as i64;
    let ids: Vec<TrackId> = (1..=count).map(TrackId).collect();
    let tracks = device.mirror.tracks(&ids)?;
    let opener = CacheOpener::new(device.cache.clone(), Some(device.fetcher()?));
    let config = PlayerConfig {
        output: AudioOutput::Null,
        ..PlayerConfig::default()
    };
    let (player, events) = Player::spawn(config, Box::new(opener))?;
    let measure = |item: QueueItem| -> Result<Duration> {
        while events.try_recv().is_ok() {}
        let started = Instant::now();
        player.load_queue(vec![item], Some(0))?;
        loop {
            match events.recv_timeout(Duration::from_secs(10)) {
                Ok(PlayerEvent::TrackStarted { .. }) => break,
                Ok(PlayerEvent::Error { message, .. }) => bail!("player: {message}"),
                Ok(_) => {}
                Err(e) => bail!("no audio within 10 s: {e}"),
            }
        }
        let took = started.elapsed();
        player.stop()?;
        Ok(took)
    };
    let mut uncached = Vec::new();
    for t in &tracks {
        uncached.push(measure(QueueItem::from(t))?);
    }
    // Let the downloads the plays started finish, then play everything again from the cache.
    let deadline = Instant::now() + Duration::from_secs(60);
    while tracks
        .iter()
        .any(|t| !device.cache.contains(&t.content_hash))
    {
        if Instant::now() > deadline {
            bail!("downloads did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut cached = Vec::new();
    for t in &tracks {
        cached.push(measure(QueueItem::from(t))?);
    }
    player.shutdown();
    let formats: Vec<&str> = tracks.iter().map(|t| t.format.as_str()).collect();
    println!("| tracks | {} ({}) |", tracks.len(), formats.join(", "));
    println!(
        "| first audio, uncached (plays while downloading) | median {:.1} ms, max {:.1} ms |",
        ms(median(uncached.clone())),
        ms(*uncached.iter().max().unwrap_or(&Duration::ZERO))
    );
    println!(
        "| first audio, cached | median {:.1} ms, max {:.1} ms |",
        ms(median(cached.clone())),
        ms(*cached.iter().max().unwrap_or(&Duration::ZERO))
    );
    Ok(())
}
