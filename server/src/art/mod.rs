//! Cover art: originals are read from where the scanner found them (a folder image or an audio
//! file's embedded picture), through `library_fs` and checked against their hash; resized
//! thumbnails are made within bounds (`resize`) and kept in a byte-capped cache (`thumbs`).

mod resize;
mod thumbs;

pub use resize::{MAX_PIXELS, SIZE_BUCKETS, snap_size};

use crate::library_fs::{self, LibraryFsError};
use crate::storage::{ArtSource, StorageError, Store};
use lofty::file::TaggedFileExt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const MIN_SIZE: u32 = 16;
pub const MAX_SIZE: u32 = 2048;
/// Folder images larger than this are not read into memory (real covers are a few MB).
const MAX_ORIGINAL_BYTES: u64 = 64 << 20;
/// The thumbnail cache's cap when the config does not say.
pub const DEFAULT_CACHE_MAX_MB: u64 = 256;

#[derive(Debug, thiserror::Error)]
pub enum ArtError {
    #[error("no such cover art")]
    NotFound,
    #[error("size must be between {MIN_SIZE} and {MAX_SIZE}")]
    BadSize,
    #[error("cover art is unreadable: {0}")]
    Unreadable(String),
    #[error("cover art is {width}×{height}, above the {MAX_PIXELS}-pixel budget for thumbnails")]
    TooLarge { width: u32, height: u32 },
    #[error("too many thumbnails are being made; try again shortly")]
    Busy,
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
    thumbs: thumbs::ThumbCache,
    resizes: resize::ResizeSlots,
}

fn valid_hash(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

impl ArtService {
    /// `cache_max_bytes` caps the thumbnail cache in `cache_dir`.
    pub fn new(
        store: Arc<dyn Store>,
        library: PathBuf,
        cache_dir: PathBuf,
        cache_max_bytes: u64,
    ) -> Self {
        Self {
            store,
            library,
            thumbs: thumbs::ThumbCache::new(cache_dir, cache_max_bytes),
            resizes: resize::ResizeSlots::per_core(),
        }
    }

    /// The image with this hash, resized to fit the size bucket at or above `size` when asked.
    /// Blocking.
    pub fn get(&self, hash: &str, size: Option<u32>) -> Result<Image, ArtError> {
        if !valid_hash(hash) {
            return Err(ArtError::NotFound);
        }
        let hash = hash.to_ascii_lowercase();
        if let Some(s) = size
            && !(MIN_SIZE..=MAX_SIZE).contains(&s)
        {
            return Err(ArtError::BadSize);
        }
        let art = self.store.art(&hash)?.ok_or(ArtError::NotFound)?;
        let Some(size) = size.map(snap_size) else {
            return Ok(Image {
                bytes: self.original(&art.sources, &hash)?,
                mime: art.mime,
            });
        };
        let name = format!("{hash}-{size}.jpg");
        if let Some(bytes) = self.thumbs.get(&name) {
            return Ok(Image {
                bytes,
                mime: "image/jpeg".into(),
            });
        }
        let original = self.original(&art.sources, &hash)?;
        let bytes = {
            let _slot = self
                .resizes
                .acquire(resize::RESIZE_WAIT)
                .ok_or(ArtError::Busy)?;
            resize::thumbnail(&original, size)?
        };
        self.thumbs.put(&name, &bytes);
        Ok(Image {
            bytes,
            mime: "image/jpeg".into(),
        })
    }

    /// The bytes of the first source that still holds exactly this image. A source may be gone
    /// (a removed copy of an album) or now hold something else (an edited or swapped file):
    /// nothing is served under a hash it does not have.
    fn original(&self, sources: &[ArtSource], hash: &str) -> Result<Vec<u8>, ArtError> {
        let mut last = ArtError::NotFound;
        for source in sources {
            match self.read_source(source, hash) {
                Ok(bytes) => return Ok(bytes),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn read_source(&self, source: &ArtSource, hash: &str) -> Result<Vec<u8>, ArtError> {
        let (ArtSource::File(rel) | ArtSource::Embedded(rel)) = source;
        let mut file = match library_fs::open(&self.library, rel) {
            Ok(file) => file,
            Err(LibraryFsError::Refused) => {
                tracing::warn!(path = %rel, "art path crosses a symlink or is not a plain file; refused");
                return Err(ArtError::NotFound);
            }
            Err(_) => return Err(ArtError::NotFound),
        };
        let bytes = match source {
            ArtSource::File(_) => {
                let mut bytes = Vec::new();
                file.by_ref()
                    .take(MAX_ORIGINAL_BYTES + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|_| ArtError::NotFound)?;
                if bytes.len() as u64 > MAX_ORIGINAL_BYTES {
                    return Err(ArtError::NotFound);
                }
                bytes
            }
            ArtSource::Embedded(_) => {
                let tagged =
                    lofty::read_from(&mut file).map_err(|e| ArtError::Unreadable(e.to_string()))?;
                tagged
                    .tags()
                    .iter()
                    .flat_map(|t| t.pictures())
                    .find(|p| blake3::hash(p.data()).to_hex().as_str() == hash)
                    .map(|p| p.data().to_vec())
                    .ok_or(ArtError::NotFound)?
            }
        };
        if blake3::hash(&bytes).to_hex().as_str() != hash {
            tracing::warn!(path = %rel, "art file no longer matches its hash; not served");
            return Err(ArtError::NotFound);
        }
        Ok(bytes)
    }
}

/// Writes to a temporary sibling then renames, so a reader never sees half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        // A half-written temporary (disk full) must not stay behind taking space.
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
