//! Renditions in the cache: a track transcoded by the server (`/api/v1/media/{hash}/{profile}`),
//! kept like an original under its own blake3, with a row that says which track and profile it
//! is (`{source hash}/{profile}`, the key its pins use).
//!
//! The server states a rendition's exact length up front but not its blake3 (it is known only
//! once encoded), so a download is checked against that length, hashed as it is written, and
//! named by that hash; `verify` re-hashes it against its name like any file. The part is
//! `{source hash}@{profile}.part` beside the originals' parts: resumable with Range and
//! `If-Match` on the rendition's ETag, and locked while written so `clear` leaves it alone.

use std::fs;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use super::error::{self, map_write_error};
use super::fetcher::MediaBody;
use super::layout::{PART_SUFFIX, normalize_hash, sync_dir};
use super::{AudioCache, CacheError, Fetcher};

/// The key of a rendition: `{source hash}/{profile}` (what its pins and its row name).
pub fn rendition_key(source: &str, profile: &str) -> Result<String, CacheError> {
    let source = normalize_hash(source)?;
    crate::quality::check_syntax(profile)
        .map_err(|_| CacheError::InvalidHash(format!("{source}/{profile}")))?;
    Ok(format!("{source}/{profile}"))
}

/// A pin's key as given: a content hash, or a rendition key; normalized.
pub(crate) fn normalize_pin(key: &str) -> Result<String, CacheError> {
    match key.split_once('/') {
        Some((source, profile)) => rendition_key(source, profile),
        None => normalize_hash(key),
    }
}

/// Whether a part file's stem (`{hash}@{profile}`) is a rendition download's.
pub(crate) fn is_rendition_part(stem: &str, dir_prefix: &str) -> bool {
    stem.split_once('@').is_some_and(|(hash, profile)| {
        super::layout::is_hash(hash)
            && hash.starts_with(dir_prefix)
            && crate::quality::check_syntax(profile).is_ok()
    })
}

impl AudioCache {
    /// The cached rendition of `source` in `profile`, marked as just used.
    pub fn rendition_path(&self, source: &str, profile: &str) -> Option<PathBuf> {
        let key = rendition_key(source, profile).ok()?;
        let (hash, _) = self.inner.index.rendition(&key).ok()??;
        self.path_of(&hash)
    }

    /// The size of the cached rendition, if cached (not a use).
    pub fn rendition_size(&self, source: &str, profile: &str) -> Option<u64> {
        let key = rendition_key(source, profile).ok()?;
        self.inner.index.rendition(&key).ok()?.map(|(_, size)| size)
    }

    /// What `owner` pins: (content hash or rendition key, size).
    pub fn pins_of(&self, owner: &str) -> Result<Vec<(String, u64)>, CacheError> {
        self.inner.index.pins_of(owner)
    }

    /// A cached rendition of `source` in whatever profile (the most recently used), with that
    /// profile: what plays a track offline whose original is not here.
    pub fn any_rendition_path(&self, source: &str) -> Option<(PathBuf, String)> {
        let source = normalize_hash(source).ok()?;
        let (hash, key) = self.inner.index.any_rendition(&source).ok()??;
        let profile = key.split_once('/')?.1.to_owned();
        Some((self.path_of(&hash)?, profile))
    }

    /// Whether the rendition is cached (not a use).
    pub fn contains_rendition(&self, source: &str, profile: &str) -> bool {
        rendition_key(source, profile)
            .ok()
            .is_some_and(|key| matches!(self.inner.index.rendition(&key), Ok(Some(_))))
    }

    /// Downloads the rendition of `source` in `profile` (`size` bytes, as `/renditions` said)
    /// unless cached; returns the verified file. `on_progress` gets the bytes held so far.
    pub fn fetch_rendition(
        &self,
        fetcher: &Fetcher,
        source: &str,
        profile: &str,
        size: u64,
        mut on_progress: impl FnMut(u64),
    ) -> Result<PathBuf, CacheError> {
        let key = rendition_key(source, profile)?;
        if let Some(path) = self.rendition_path(source, profile) {
            on_progress(size);
            return Ok(path);
        }
        let source = &key[..64];
        let layout = &self.inner.layout;
        let dir = layout.audio_dir(source);
        fs::create_dir_all(&dir).map_err(|e| map_write_error(&dir, e))?;
        let part = dir.join(format!("{source}@{profile}{PART_SUFFIX}"));
        let mut file = error::open_part(&part)?;
        // One writer per part, in this process or another; the loser waits, then finds it done.
        file.lock().map_err(|e| CacheError::io(&part, e))?;
        if let Some(path) = self.rendition_path(source, profile) {
            on_progress(size);
            return Ok(path);
        }
        let result = self.transfer(
            fetcher,
            &key,
            profile,
            size,
            &part,
            &mut file,
            &mut on_progress,
        );
        let _ = file.unlock();
        match result {
            Ok(path) => Ok(path),
            Err(e) => {
                // A wrong length or a changed file makes the part useless; a dropped link does not.
                if matches!(
                    e,
                    CacheError::SizeMismatch { .. } | CacheError::Changed { .. }
                ) {
                    let _ = fs::remove_file(&part);
                }
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn transfer(
        &self,
        fetcher: &Fetcher,
        key: &str,
        profile: &str,
        size: u64,
        part: &std::path::Path,
        file: &mut fs::File,
        on_progress: &mut impl FnMut(u64),
    ) -> Result<PathBuf, CacheError> {
        let source = &key[..64];
        // The bytes already held are hashed first: the name is the hash of the whole file.
        let mut hasher = blake3::Hasher::new();
        let mut have =
            io::copy(&mut (&*file).take(size), &mut hasher).map_err(|e| CacheError::io(part, e))?;
        if have < size {
            let body = fetcher.rendition(source, profile, have)?;
            let mut response = match body {
                MediaBody::Rest(r) => r,
                MediaBody::Whole(r) => {
                    // The server ignored the range: start over.
                    file.set_len(0).map_err(|e| map_write_error(part, e))?;
                    hasher = blake3::Hasher::new();
                    have = 0;
                    r
                }
                MediaBody::Unsatisfiable => {
                    return Err(CacheError::SizeMismatch {
                        hash: key.to_owned(),
                        expected: size,
                        served: have,
                    });
                }
            };
            file.set_len(have).map_err(|e| map_write_error(part, e))?;
            let mut writer = io::BufWriter::new(&mut *file);
            io::Seek::seek(&mut writer, io::SeekFrom::Start(have))
                .map_err(|e| CacheError::io(part, e))?;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = response.read(&mut buf).map_err(|e| CacheError::Network {
                    what: key.to_owned(),
                    detail: error::chain(&e),
                })?;
                if n == 0 {
                    break;
                }
                have += n as u64;
                if have > size {
                    break;
                }
                writer
                    .write_all(&buf[..n])
                    .map_err(|e| map_write_error(part, e))?;
                hasher.update(&buf[..n]);
                on_progress(have);
            }
            writer.flush().map_err(|e| map_write_error(part, e))?;
        }
        if have != size {
            return Err(CacheError::SizeMismatch {
                hash: key.to_owned(),
                expected: size,
                served: have,
            });
        }
        file.sync_all().map_err(|e| map_write_error(part, e))?;
        let hash = hasher.finalize().to_hex().to_string();
        let layout = &self.inner.layout;
        let dir = layout.audio_dir(&hash);
        fs::create_dir_all(&dir).map_err(|e| map_write_error(&dir, e))?;
        let path = layout.audio(&hash);
        fs::rename(part, &path).map_err(|e| map_write_error(&path, e))?;
        sync_dir(&dir).map_err(|e| map_write_error(&dir, e))?;
        let part_dir = layout.audio_dir(source);
        if part_dir != dir {
            sync_dir(&part_dir).map_err(|e| map_write_error(&part_dir, e))?;
        }
        self.inner
            .index
            .insert_rendition(&hash, key, size, self.inner.tick())?;
        tracing::info!(key, hash, size, "rendition cached");
        on_progress(size);
        self.inner.evict_logged(Some(&hash));
        Ok(path)
    }

    /// Deletes the cached files of `keys` (content hashes or rendition keys) that nobody pins:
    /// what a playlist no longer needs after its quality changed. Returns the bytes freed.
    pub fn release(&self, keys: &[impl AsRef<str>]) -> Result<u64, CacheError> {
        let inner = &self.inner;
        let mut freed = 0;
        for key in keys {
            let key = normalize_pin(key.as_ref())?;
            let file = if key.contains('/') {
                inner.index.rendition(&key)?
            } else {
                inner.index.size_of(&key)?.map(|size| (key.clone(), size))
            };
            let Some((hash, size)) = file else { continue };
            if inner.index.is_pinned(&hash)? || inner.downloads().contains_key(&hash) {
                continue;
            }
            if inner.delete_file(&inner.layout.audio(&hash)) {
                inner.index.remove(&hash)?;
                freed += size;
            }
        }
        tracing::info!(freed, "released files no playlist needs");
        Ok(freed)
    }
}
