//! Cover art: originals are read from where the scanner found them (a folder image or an audio
//! file's embedded picture); resized thumbnails are made once and kept in the cache folder.

use crate::storage::{ArtSource, StorageError, Store};
use image::ImageFormat;
use lofty::file::TaggedFileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const MIN_SIZE: u32 = 16;
pub const MAX_SIZE: u32 = 2048;

#[derive(Debug, thiserror::Error)]
pub enum ArtError {
    #[error("no such cover art")]
    NotFound,
    #[error("size must be between {MIN_SIZE} and {MAX_SIZE}")]
    BadSize,
    #[error("cover art is unreadable: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("art cache: {0}")]
    Cache(#[from] std::io::Error),
}

pub struct Image {
    pub bytes: Vec<u8>,
    pub mime: String,
}

pub struct ArtService {
    store: Arc<dyn Store>,
    library: PathBuf,
    cache_dir: PathBuf,
}

fn valid_hash(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

impl ArtService {
    pub fn new(store: Arc<dyn Store>, library: PathBuf, cache_dir: PathBuf) -> Self {
        Self {
            store,
            library,
            cache_dir,
        }
    }

    /// The image with this hash, resized to fit `size`×`size` when asked. Blocking.
    pub fn get(&self, hash: &str, size: Option<u32>) -> Result<Image, ArtError> {
        if !valid_hash(hash) {
            return Err(ArtError::NotFound);
        }
        if let Some(s) = size
            && !(MIN_SIZE..=MAX_SIZE).contains(&s)
        {
            return Err(ArtError::BadSize);
        }
        let record = self.store.art(hash)?.ok_or(ArtError::NotFound)?;
        let Some(size) = size else {
            return Ok(Image {
                bytes: self.original(&record.source, hash)?,
                mime: record.mime,
            });
        };
        let cached = self.cache_dir.join(format!("{hash}-{size}.jpg"));
        if let Ok(bytes) = std::fs::read(&cached) {
            return Ok(Image {
                bytes,
                mime: "image/jpeg".into(),
            });
        }
        let original = self.original(&record.source, hash)?;
        let img =
            image::load_from_memory(&original).map_err(|e| ArtError::Unreadable(e.to_string()))?;
        let thumb = if img.width() > size || img.height() > size {
            img.thumbnail(size, size)
        } else {
            img
        };
        let mut out = std::io::Cursor::new(Vec::new());
        thumb
            .to_rgb8()
            .write_to(&mut out, ImageFormat::Jpeg)
            .map_err(|e| ArtError::Unreadable(e.to_string()))?;
        let bytes = out.into_inner();
        write_atomically(&cached, &bytes)?;
        Ok(Image {
            bytes,
            mime: "image/jpeg".into(),
        })
    }

    fn original(&self, source: &ArtSource, hash: &str) -> Result<Vec<u8>, ArtError> {
        match source {
            ArtSource::File(rel) => {
                std::fs::read(self.library.join(rel)).map_err(|_| ArtError::NotFound)
            }
            ArtSource::Embedded(rel) => {
                let tagged = lofty::read_from_path(self.library.join(rel))
                    .map_err(|e| ArtError::Unreadable(e.to_string()))?;
                tagged
                    .tags()
                    .iter()
                    .flat_map(|t| t.pictures())
                    .find(|p| blake3::hash(p.data()).to_hex().as_str() == hash)
                    .map(|p| p.data().to_vec())
                    .ok_or(ArtError::NotFound)
            }
        }
    }
}

/// Writes to a temporary sibling then renames, so a reader never sees half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
