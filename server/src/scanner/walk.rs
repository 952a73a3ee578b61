//! Phase 1, the walk: audio files with one stat each and each folder's art, never through a
//! symlink below the root; and the scopes a rescan walks.

use super::*;

/// The folders to walk so that each file is seen once: nested folders fold into their
/// ancestors, and the library root (`""`) means a full scan (`None`).
pub(super) fn minimal_scope(mut dirs: Vec<String>) -> Option<Vec<String>> {
    dirs.sort();
    dirs.dedup();
    let mut kept: Vec<String> = Vec::new();
    for dir in dirs {
        if dir.is_empty() {
            return None;
        }
        if !kept.iter().any(|k| in_scope(&dir, std::slice::from_ref(k))) {
            kept.push(dir);
        }
    }
    Some(kept)
}

pub(super) fn parent_of(rel: &str) -> &str {
    rel.rsplit_once('/').map(|(dir, _)| dir).unwrap_or("")
}

pub(super) fn in_scope(rel: &str, scope: &[String]) -> bool {
    scope
        .iter()
        .any(|dir| dir.is_empty() || rel == dir || rel.starts_with(&format!("{dir}/")))
}

pub(super) struct Walked {
    pub(super) files: Vec<FileFacts>,
    /// Folder (relative) → its cover art file.
    pub(super) folder_art: HashMap<String, ArtRecord>,
    pub(super) failures: Vec<(String, String)>,
}

/// Library-relative, `/`-separated form of a path under `root`; None for paths that are not
/// valid UTF-8 (reported as failures rather than mangled).
pub(super) fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

pub(super) fn walk(root: &Path, scope: Option<&[String]>) -> std::io::Result<Walked> {
    std::fs::read_dir(root)?;
    let starts: Vec<PathBuf> = match scope {
        None => vec![root.to_path_buf()],
        Some(dirs) => dirs
            .iter()
            .filter(|d| plain_folder_in(root, d))
            .map(|d| root.join(d))
            .collect(),
    };
    let mut files = Vec::new();
    let mut art_candidates: HashMap<String, Vec<(usize, PathBuf)>> = HashMap::new();
    let mut failures = Vec::new();
    // Sidecar lyrics: the file's path without its extension → (its path, its mtime).
    let mut lrc_files: HashMap<String, (String, i64)> = HashMap::new();
    for start in starts {
        // Symlinks are not followed: a link could point outside the library. The start of a
        // scoped walk was checked above; `follow_root_links(false)` keeps it so even if it is
        // swapped for a link meanwhile. The library root itself is the configured folder.
        let walker = walkdir::WalkDir::new(&start)
            .follow_links(false)
            .follow_root_links(start.as_path() == root);
        for entry in walker {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let path = e.path().and_then(|p| relative(root, p)).unwrap_or_default();
                    failures.push((path, format!("cannot read: {e}")));
                    continue;
                }
            };
            if !entry.file_type().is_file() {
                continue;
            }
            let path = entry.path();
            let Some(rel) = relative(root, path) else {
                failures.push((
                    path.to_string_lossy().into_owned(),
                    "file name is not valid UTF-8".into(),
                ));
                continue;
            };
            if let Some(rank) = art_rank(path) {
                art_candidates
                    .entry(parent_of(&rel).to_string())
                    .or_default()
                    .push((rank, path.to_path_buf()));
                continue;
            }
            let lrc = is_lrc_path(path);
            if !lrc && !is_audio_path(path) {
                continue;
            }
            match entry.metadata() {
                Ok(meta) => {
                    let mtime_ns = meta
                        .modified()
                        .ok()
                        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
                        .map(|d| d.as_nanos() as i64)
                        .unwrap_or(0);
                    if lrc {
                        lrc_files.insert(without_extension(&rel).to_string(), (rel, mtime_ns));
                        continue;
                    }
                    files.push(FileFacts {
                        rel_path: rel,
                        size: meta.len(),
                        mtime_ns,
                        lrc: None,
                    });
                }
                Err(e) => failures.push((rel, format!("cannot stat: {e}"))),
            }
        }
    }
    for file in &mut files {
        if let Some((lrc, mtime_ns)) = lrc_files.get(without_extension(&file.rel_path)) {
            file.mtime_ns = file.mtime_ns.wrapping_add(*mtime_ns);
            file.lrc = Some(lrc.clone());
        }
    }
    let mut folder_art = HashMap::new();
    for (dir, mut candidates) in art_candidates {
        candidates.sort();
        for (_, path) in candidates {
            if let Some(art) = folder_art_record(root, &path) {
                folder_art.insert(dir, art);
                break;
            }
        }
    }
    Ok(Walked {
        files,
        folder_art,
        failures,
    })
}

/// Whether `rel` (a scoped scan's folder) is a real folder under `root`, reached without
/// crossing a symlink: a symlinked folder would bring files from outside into the catalog.
pub(super) fn plain_folder_in(root: &Path, rel: &str) -> bool {
    let mut path = root.to_path_buf();
    for part in rel.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return false;
        }
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_dir() => {}
            Ok(_) => {
                tracing::warn!(folder = %rel, "scan scope crosses a symlink or a file; skipped");
                return false;
            }
            Err(_) => return false,
        }
    }
    true
}

fn is_lrc_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("lrc"))
}

/// `a/b/01 - Song.flac` → `a/b/01 - Song`: what an audio file and its `.lrc` share.
pub(super) fn without_extension(rel: &str) -> &str {
    match rel.rsplit_once('.') {
        Some((stem, _)) if !stem.ends_with('/') && !stem.is_empty() => stem,
        _ => rel,
    }
}

/// Lower is preferred: cover before folder before front, jpg before png.
pub(super) fn art_rank(path: &Path) -> Option<usize> {
    let stem = path.file_stem()?.to_str()?.to_ascii_lowercase();
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    let name_rank = ART_NAMES.iter().position(|n| *n == stem)?;
    let ext_rank = ART_EXTENSIONS.iter().position(|e| *e == ext)?;
    Some(name_rank * ART_EXTENSIONS.len() + ext_rank)
}

pub(super) fn folder_art_record(root: &Path, path: &Path) -> Option<ArtRecord> {
    let bytes = std::fs::read(path).ok()?;
    let mime = if bytes.starts_with(&[0x89, b'P', b'N', b'G']) {
        "image/png"
    } else if bytes.starts_with(&[0xFF, 0xD8]) {
        "image/jpeg"
    } else {
        return None;
    };
    Some(ArtRecord {
        hash: blake3::hash(&bytes).to_hex().to_string(),
        mime: mime.to_string(),
        source: ArtSource::File(relative(root, path)?),
    })
}
