//! Phase 4's guard: whether a removal looks like a disk that is not mounted (the whole
//! library, more than half of it, or a top-level folder gone empty) rather than deleted files.

use super::*;

/// Fewer missing tracks than this are removed without asking (unless they are the whole
/// library): deleting an album is routine, a disk that is not mounted takes many more with it.
pub(super) const MASS_REMOVAL_FLOOR: usize = 5;

/// How many tracks the library has, in all and per top-level folder.
#[derive(Debug, Default)]
pub(super) struct Census {
    pub(super) total: usize,
    pub(super) per_top_folder: HashMap<String, usize>,
}

impl Census {
    pub(super) fn of<'a>(paths: impl Iterator<Item = &'a String>) -> Self {
        let mut census = Self::default();
        for path in paths {
            census.total += 1;
            if let Some(top) = top_folder(path) {
                *census.per_top_folder.entry(top.to_string()).or_default() += 1;
            }
        }
        census
    }
}

/// The first folder of a library-relative path (None for files at the root).
pub(super) fn top_folder(rel: &str) -> Option<&str> {
    rel.split_once('/').map(|(top, _)| top)
}

/// Why removing `gone` looks like a disk that is not mounted rather than deleted files, if it
/// does: the whole library, more than half of it, or every track of a top-level folder that now
/// holds no audio file (a mount point is usually such a folder, or the library itself).
pub(super) fn mass_removal(
    gone: &[String],
    census: &Census,
    seen_folders: &HashSet<String>,
) -> Option<String> {
    if gone.is_empty() {
        return None;
    }
    if gone.len() == census.total {
        return Some(format!(
            "all {} tracks of the library are missing: is the library folder mounted?",
            gone.len()
        ));
    }
    if gone.len() < MASS_REMOVAL_FLOOR {
        return None;
    }
    if gone.len() * 2 > census.total {
        return Some(format!(
            "{} of {} tracks are missing (more than half the library)",
            gone.len(),
            census.total
        ));
    }
    let mut gone_per_folder: HashMap<&str, usize> = HashMap::new();
    for top in gone.iter().filter_map(|p| top_folder(p)) {
        *gone_per_folder.entry(top).or_default() += 1;
    }
    let mut emptied: Vec<(&str, usize)> = gone_per_folder
        .into_iter()
        .filter(|(top, n)| {
            *n >= MASS_REMOVAL_FLOOR
                && census.per_top_folder.get(*top) == Some(n)
                && !seen_folders.contains(*top)
        })
        .collect();
    emptied.sort();
    let (top, n) = emptied.first()?;
    Some(format!(
        "all {n} tracks under the top-level folder {top:?} are missing and the folder is missing or empty"
    ))
}
