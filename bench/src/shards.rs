//! `mixtape-bench shards`: what user-keyed shards cost. On scratch databases (a primary and two
//! shards on DATABASE's server): the rate of one-event writes for one user on an unsharded
//! store and on a sharded one (the residency check and the home lookup are the difference),
//! then the time to move a user holding EVENTS play events and PLAYLISTS playlists of 100
//! entries to the other shard and back.

use crate::broker::{events, now_ms};
use anyhow::{Context, Result};
use mixtape_server::storage::postgres::scratch::ScratchDatabase;
use mixtape_server::storage::postgres::{LocalWriteMarks, PgOptions, PgStore};
use mixtape_server::storage::{AccountStore, ActivityStore, PlaylistStore};
use mixtape_shared::sync::{Anchor, NewEntry, OpKind, PlaylistOp};
use mixtape_shared::{DeviceId, EntryId, OpId, PlaylistId, TrackId, UserId};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn open(primary: &ScratchDatabase, shards: &[ScratchDatabase]) -> Result<PgStore> {
    let mut options = PgOptions::new(primary.url());
    options.shards = shards
        .iter()
        .enumerate()
        .map(|(i, db)| (format!("s{i}"), db.url().to_string()))
        .collect();
    PgStore::open(&options, Arc::new(LocalWriteMarks::single_node())).context("open PostgreSQL")
}

/// One-event writes for `seconds`, one after another: writes per second.
fn write_rate(store: &PgStore, user: UserId, seconds: u64) -> Result<f64> {
    let started = Instant::now();
    let mut n = 0usize;
    while started.elapsed() < Duration::from_secs(seconds) {
        store.insert_play_events(user, &events(1, n), now_ms())?;
        n += 1;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

fn playlist_ops(clock: &mut u64, entries: usize) -> Vec<PlaylistOp> {
    let device = DeviceId::new_v7();
    let playlist = PlaylistId::new_v7();
    let name = format!("list {clock}");
    let mut op = |kind| {
        *clock += 1;
        PlaylistOp {
            id: OpId::new_v7(),
            playlist_id: playlist,
            clock: *clock,
            device,
            kind,
        }
    };
    vec![
        op(OpKind::Create {
            name,
            public: false,
        }),
        op(OpKind::Add {
            at: Anchor::End,
            entries: (0..entries)
                .map(|i| NewEntry {
                    id: EntryId::new_v7(),
                    track_id: TrackId(1 + i as i64),
                })
                .collect(),
        }),
    ]
}

pub fn run(database: &str, events_n: usize, playlists: usize, seconds: u64) -> Result<()> {
    let plain_db = ScratchDatabase::create_on(database, "bench_unsharded")?;
    let primary = ScratchDatabase::create_on(database, "bench_sharded")?;
    let shards = [
        ScratchDatabase::create_on(database, "bench_shard_0")?,
        ScratchDatabase::create_on(database, "bench_shard_1")?,
    ];
    let plain = open(&plain_db, &[])?;
    let sharded = open(&primary, &shards)?;
    let u_plain = plain.create_user("writer", "x", false)?.id;
    let u_sharded = sharded.create_user("writer", "x", false)?.id;
    // Alternating runs, so both see the same machine.
    let mut rates = (Vec::new(), Vec::new());
    for _ in 0..3 {
        rates.0.push(write_rate(&plain, u_plain, seconds)?);
        rates.1.push(write_rate(&sharded, u_sharded, seconds)?);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "| one-event writes, one user, one writer (median of 3 runs of {seconds} s) | unsharded {:.0}/s | sharded {:.0}/s |",
        median(&mut rates.0),
        median(&mut rates.1)
    );

    let mover = sharded.create_user("mover", "x", false)?.id;
    for chunk in events(events_n, 1_000_000).chunks(1000) {
        sharded.insert_play_events(mover, chunk, now_ms())?;
    }
    let mut clock = 0;
    for _ in 0..playlists {
        sharded.apply_playlist_ops(mover, &playlist_ops(&mut clock, 100), now_ms())?;
    }
    let home = sharded.home(mover)?;
    let (there, back) = if home.shard == 1 {
        ("s1", "s0")
    } else {
        ("s0", "s1")
    };
    for to in [there, back] {
        let started = Instant::now();
        let report = sharded.move_user(mover, to)?;
        let took = started.elapsed();
        let rows: u64 = report.rows.values().sum();
        println!(
            "| move a user ({events_n} play events, {playlists} playlists of 100) {} → {} | {:.2} s | {rows} rows, {:.0} rows/s |",
            report.from,
            report.to,
            took.as_secs_f64(),
            rows as f64 / took.as_secs_f64()
        );
    }
    // The stores hold connections the drop of the databases ends: they go first.
    drop((plain, sharded));
    Ok(())
}
