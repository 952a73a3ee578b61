//! `mixtape offline ...` and `mixtape cache ...`: pinned playlists and the audio cache.

use super::output::{Bar, note, print_json, report_downloads, say, stats_json};
use super::{CacheCommand, JsonFlag, OfflineCommand, Result};
use crate::cli::megabytes;
use crate::device::Device;
use crate::offline::{self, OfflineError};
use crate::quality::{self, ORIGINAL};
use mixtape_shared::TrackId;
use serde_json::json;

pub(super) fn offline_cmd(device: &mut Device, cmd: OfflineCommand) -> Result<()> {
    match cmd {
        OfflineCommand::Add { name, quality } => {
            let quality = quality.unwrap_or_else(|| device.settings.download_quality.clone());
            let p = device.mirror.find_playlist(&name)?;
            let api = device.api()?;
            quality::check_syntax(&quality)?;
            if quality != ORIGINAL {
                quality::check_offered(&api, &quality)?;
            }
            let items = offline::plan(&device.mirror, &device.cache, Some(&api), &p, &quality)?;
            let total: u64 = items.iter().map(|i| i.size).sum();
            say!("{} at {quality}: {}", p.name, megabytes(total));
            offline::mark_at(&device.mirror, &device.cache, &p, &quality, &items)?;
            let fetcher = device.fetcher()?;
            let bar = Bar::new(true);
            let result = offline::download(
                &device.mirror,
                &device.cache,
                &fetcher,
                std::slice::from_ref(&p),
                device.settings.parallel_downloads,
                &bar,
            );
            bar.finish();
            match result {
                Ok(report) => {
                    report_downloads(&report, true);
                    if report.freed_bytes > 0 {
                        say!(
                            "freed {} of files at the former quality",
                            megabytes(report.freed_bytes)
                        );
                    }
                    let cached = report.already_cached + report.downloaded;
                    say!(
                        "{} is offline: {cached} of {} tracks cached",
                        p.name,
                        report.tracks
                    );
                    Ok(())
                }
                Err(OfflineError::Cache(e)) if e.is_retryable() => {
                    say!(
                        "{} is marked offline; its tracks download on the next `mixtape sync` ({e})",
                        p.name
                    );
                    Ok(())
                }
                Err(e) => Err(e.into()),
            }
        }
        OfflineCommand::Rm { name } => {
            let p = device.mirror.find_playlist(&name)?;
            offline::unmark(&device.mirror, &device.cache, p.id)?;
            say!("{} is no longer kept offline", p.name);
            Ok(())
        }
        OfflineCommand::Ls(JsonFlag { json }) => {
            let all = device.mirror.playlists()?;
            let mut rows = Vec::new();
            for p in all.iter().filter(|p| p.offline) {
                let quality = offline::quality_of(&device.mirror, p)?;
                // Sizes from the mirror and the cache only: `ls` works offline. A rendition
                // not cached yet counts what the cache will pin for it once it is known.
                let (mut tracks, mut cached, mut bytes) = (0, 0, 0);
                let ids: Vec<TrackId> = p.entries.iter().map(|e| e.track_id).collect();
                let mut seen = std::collections::HashSet::new();
                for (_, hash, size) in device.mirror.tracks_of(&ids)? {
                    if !seen.insert(hash.clone()) {
                        continue;
                    }
                    tracks += 1;
                    if quality == ORIGINAL {
                        bytes += size;
                        cached += usize::from(device.cache.contains(&hash));
                    } else if let Some(size) = device.cache.rendition_size(&hash, &quality) {
                        bytes += size;
                        cached += 1;
                    }
                }
                rows.push(
                    json!({"id": p.id, "name": p.name, "quality": quality, "tracks": tracks,
                    "cached": cached, "bytes": bytes}),
                );
            }
            if json {
                print_json(&json!(rows))?;
            } else if rows.is_empty() {
                say!("no offline playlists: `mixtape offline add NAME`");
            } else {
                for r in rows {
                    say!(
                        "{:<30} {:<9} {}/{} tracks cached  {:.1} MB",
                        r["name"].as_str().unwrap_or_default(),
                        r["quality"].as_str().unwrap_or_default(),
                        r["cached"],
                        r["tracks"],
                        r["bytes"].as_u64().unwrap_or(0) as f64 / 1e6
                    );
                }
            }
            Ok(())
        }
    }
}

pub(super) fn cache_cmd(device: &mut Device, cmd: CacheCommand) -> Result<()> {
    match cmd {
        CacheCommand::Stats(JsonFlag { json }) => {
            let s = device.cache.stats()?;
            if json {
                print_json(&stats_json(&s))?;
            } else {
                say!(
                    "{:.1} of {:.1} MB used by {} files ({} pinned, {:.1} MB); {} partial downloads ({:.1} MB); {} cover images",
                    s.used_bytes as f64 / 1e6,
                    s.cap_bytes as f64 / 1e6,
                    s.files,
                    s.pinned_files,
                    s.pinned_bytes as f64 / 1e6,
                    s.partial_files,
                    s.partial_bytes as f64 / 1e6,
                    s.art_files
                );
            }
            Ok(())
        }
        CacheCommand::Verify(JsonFlag { json }) => {
            let report = device.cache.verify()?;
            // Pinned tracks that were corrupt are fetched again when the server is there.
            let mut refetched = None;
            if !report.corrupt.is_empty() || !report.missing.is_empty() {
                let playlists = offline::refresh_pins(&device.mirror, &device.cache)?;
                if let (false, Ok(fetcher)) = (playlists.is_empty(), device.fetcher()) {
                    match offline::download(
                        &device.mirror,
                        &device.cache,
                        &fetcher,
                        &playlists,
                        device.settings.parallel_downloads,
                        &offline::Quiet,
                    ) {
                        Ok(r) => refetched = Some(r.downloaded),
                        Err(e) => note!("could not fetch them again now: {e}"),
                    }
                }
            }
            if json {
                print_json(
                    &json!({"checked": report.checked, "checked_bytes": report.checked_bytes,
                    "corrupt": report.corrupt, "missing": report.missing, "refetched": refetched}),
                )?;
            } else {
                say!(
                    "checked {} files ({:.1} MB): {} corrupt, {} missing",
                    report.checked,
                    report.checked_bytes as f64 / 1e6,
                    report.corrupt.len(),
                    report.missing.len()
                );
                for h in &report.corrupt {
                    say!("  removed corrupt {h}");
                }
                if let Some(n) = refetched {
                    say!("  fetched {n} pinned track(s) again");
                }
            }
            Ok(())
        }
        CacheCommand::Clear => {
            let freed = device.cache.clear()?;
            let left = device.cache.stats()?;
            if left.pinned_files == 0 {
                say!("freed {:.1} MB", freed as f64 / 1e6);
            } else {
                // What stays is pinned: only unpinning a playlist can free more.
                say!(
                    "freed {:.1} MB; {} pinned tracks ({:.1} MB) stay: `mixtape offline rm NAME` \
                     unpins a playlist (see `mixtape offline ls`)",
                    freed as f64 / 1e6,
                    left.pinned_files,
                    left.pinned_bytes as f64 / 1e6
                );
            }
            Ok(())
        }
    }
}
