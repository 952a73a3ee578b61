//! File watching: changes under the library are collected for a quiet second, then the touched
//! folders are rescanned (a scoped scan, so the cost follows the change, not the library).

use super::Scanner;
use notify::{RecursiveMode, Watcher};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const QUIET_PERIOD: Duration = Duration::from_secs(1);

/// Keeps the watcher alive; dropping it stops watching.
pub struct LibraryWatcher {
    _watcher: notify::RecommendedWatcher,
}

pub fn watch(scanner: Arc<Scanner>) -> notify::Result<LibraryWatcher> {
    let (tx, rx) = std::sync::mpsc::channel::<notify::Result<notify::Event>>();
    // Not following symlinks: a linked folder would report (and so rescan) files outside the
    // library; the scanner refuses such scopes anyway.
    let mut watcher =
        notify::RecommendedWatcher::new(tx, notify::Config::default().with_follow_symlinks(false))?;
    watcher.watch(scanner.root(), RecursiveMode::Recursive)?;
    let root = scanner.root().to_path_buf();
    std::thread::Builder::new()
        .name("library-watch".into())
        .spawn(move || {
            let mut pending: BTreeSet<String> = BTreeSet::new();
            loop {
                match rx.recv_timeout(QUIET_PERIOD) {
                    // Reads (the scanner's own included) change nothing.
                    Ok(Ok(event)) if !changes_content(&event.kind) => {}
                    Ok(Ok(event)) => {
                        for path in event.paths {
                            if let Some(dir) = touched_folder(&root, &path) {
                                pending.insert(dir);
                            }
                        }
                    }
                    Ok(Err(e)) => tracing::warn!(error = %e, "file watch error"),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        if pending.is_empty() {
                            continue;
                        }
                        // A running scan keeps the folders pending until it is done.
                        let scope: Vec<String> = pending.iter().cloned().collect();
                        if scanner.spawn(Some(scope)).is_ok() {
                            tracing::info!(folders = pending.len(), "rescanning changed folders");
                            pending.clear();
                        }
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
        })?;
    Ok(LibraryWatcher { _watcher: watcher })
}

fn changes_content(kind: &notify::EventKind) -> bool {
    use notify::EventKind;
    use notify::event::{MetadataKind, ModifyKind};
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)) => false,
        EventKind::Modify(_) => true,
        EventKind::Access(_) | EventKind::Any | EventKind::Other => false,
    }
}

/// The library-relative folder to rescan for a changed path: its parent, since the path itself
/// may be a file that is gone. A removed folder rescans its parent.
fn touched_folder(root: &Path, path: &Path) -> Option<String> {
    let mut dir = path.parent()?;
    while !dir.is_dir() {
        dir = dir.parent()?;
    }
    let rel = dir.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}
