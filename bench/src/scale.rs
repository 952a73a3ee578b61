//! Benchmarks of the storage backends side by side: the first scan and change-recording
//! transactions per second, on SQLite or on PostgreSQL (a scratch database made on the server
//! `--database` points at, dropped afterwards).

use anyhow::{Context, Result};
use mixtape_server::scanner::Scanner;
use mixtape_server::storage::Store;
use mixtape_server::storage::postgres::scratch::ScratchDatabase;
use mixtape_server::storage::postgres::{LocalWriteMarks, PgOptions, PgStore};
use mixtape_server::storage::sqlite::SqliteStore;
use mixtape_shared::sync::{OpKind, PlaylistOp};
use mixtape_shared::{DeviceId, OpId, PlaylistId};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A store for one benchmark run, and what must outlive it.
pub struct BenchStore {
    pub store: Arc<dyn Store>,
    pub label: String,
    _keep: Box<dyn std::any::Any>,
}

/// `database`: absent or `sqlite` = a SQLite file in `data`; a `postgres://` URL = a scratch
/// database on that server.
pub fn open(database: Option<&str>, data: &Path, replicas: &[String]) -> Result<BenchStore> {
    match database {
        Some(url) if url.starts_with("postgres") => {
            let db = ScratchDatabase::create_on(url, "bench")?;
            let mut options = PgOptions::new(db.url());
            options.replica_urls = replicas
                .iter()
                .map(|r| mixtape_server::storage::postgres::scratch::with_database(r, db.name()))
                .collect();
            let store = PgStore::open(&options, Arc::new(LocalWriteMarks::single_node()))
                .context("open PostgreSQL")?;
            Ok(BenchStore {
                store: Arc::new(store),
                label: "PostgreSQL".into(),
                _keep: Box::new(db),
            })
        }
        _ => {
            std::fs::create_dir_all(data)?;
            let store = SqliteStore::open(&data.join("mixtape.db"), 4)?;
            Ok(BenchStore {
                store: Arc::new(store),
                label: "SQLite".into(),
                _keep: Box::new(()),
            })
        }
    }
}

/// The first scan of `library` into an empty store: seconds and files/s.
pub fn first_scan(store: &BenchStore, library: &Path) -> Result<()> {
    let library = library.canonicalize().context("library folder")?;
    let scanner = Scanner::new(library, store.store.clone());
    let started = Instant::now();
    let report = scanner.scan_blocking(None)?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "| {} | first scan | {} files in {secs:.2} s, {:.0} files/s |",
        store.label,
        report.files_seen,
        report.files_seen as f64 / secs
    );
    Ok(())
}

/// Change-recording transactions per second with `writers` threads, each creating playlists
/// (one op, one transaction, one change-feed row) for `seconds`.
pub fn feed_writers(store: &BenchStore, writers: &[usize], seconds: u64) -> Result<()> {
    let owner = store
        .store
        .create_user("bench-writer", "$argon2id$bench", false)?
        .id;
    for &n in writers {
        let done = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        std::thread::scope(|s| -> Result<()> {
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    let (done, count, store) = (done.clone(), count.clone(), store.store.clone());
                    s.spawn(move || -> Result<()> {
                        let device = DeviceId::new_v7();
                        while !done.load(Ordering::Relaxed) {
                            let op = PlaylistOp {
                                id: OpId::new_v7(),
                                playlist_id: PlaylistId::new_v7(),
                                clock: 1,
                                device,
                                kind: OpKind::Create {
                                    name: "bench".into(),
                                    public: false,
                                },
                            };
                            store.apply_playlist_ops(owner, &[op], 0)?;
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(())
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_secs(seconds));
            done.store(true, Ordering::Relaxed);
            for h in handles {
                h.join().expect("writer")?;
            }
            Ok(())
        })?;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "| {} | {n} writers | {:.0} tx/s |",
            store.label,
            count.load(Ordering::Relaxed) as f64 / secs
        );
    }
    Ok(())
}
