//! Making thumbnails within bounds: a pixel budget checked from the image header before
//! anything is decoded, a few fixed sizes (so repeated requests hit the cache), and a bounded
//! number of resizes at once (each decode holds width × height × 4 bytes).

use super::ArtError;
use image::{ImageFormat, ImageReader, Limits};
use std::io::Cursor;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Originals above this many pixels are not decoded (an 11000×11000 PNG of 345 KB decodes to
/// about 480 MB). 40 MP covers any real scan of a cover; the decode then needs at most 160 MB.
pub const MAX_PIXELS: u64 = 40_000_000;
/// Thumbnail sizes: a requested size is rounded up to the next of these.
pub const SIZE_BUCKETS: [u32; 6] = [64, 128, 256, 512, 1024, 2048];
/// How long a resize waits for a free slot before the request is told to come back.
pub const RESIZE_WAIT: Duration = Duration::from_secs(3);

/// The bucket a requested size (already checked to be within MIN_SIZE..=MAX_SIZE) maps to.
pub fn snap_size(size: u32) -> u32 {
    SIZE_BUCKETS
        .iter()
        .copied()
        .find(|b| *b >= size)
        .unwrap_or(SIZE_BUCKETS[SIZE_BUCKETS.len() - 1])
}

/// Decodes `bytes` if the header says it fits the pixel budget, and makes a JPEG that fits in
/// `size`×`size` (never enlarged).
pub fn thumbnail(bytes: &[u8], size: u32) -> Result<Vec<u8>, ArtError> {
    let unreadable = |e: image::ImageError| ArtError::Unreadable(e.to_string());
    let reader = || {
        ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| ArtError::Unreadable(e.to_string()))
    };
    let (width, height) = reader()?.into_dimensions().map_err(unreadable)?;
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ArtError::TooLarge { width, height });
    }
    let mut limits = Limits::default();
    // The decoder's own ceiling, as a second line behind the header check: RGBA of the budget
    // plus headroom for the decoder's buffers.
    limits.max_alloc = Some(MAX_PIXELS * 4 + (64 << 20));
    let mut decoder = reader()?;
    decoder.limits(limits);
    let img = decoder.decode().map_err(unreadable)?;
    let thumb = if img.width() > size || img.height() > size {
        img.thumbnail(size, size)
    } else {
        img
    };
    let mut out = Cursor::new(Vec::new());
    thumb
        .to_rgb8()
        .write_to(&mut out, ImageFormat::Jpeg)
        .map_err(unreadable)?;
    Ok(out.into_inner())
}

/// A counting semaphore for blocking threads: resizes run on the blocking pool, which has far
/// more threads than cores.
pub struct ResizeSlots {
    free: Mutex<usize>,
    freed: Condvar,
}

pub struct ResizeSlot<'a>(&'a ResizeSlots);

impl ResizeSlots {
    pub fn new(slots: usize) -> Self {
        Self {
            free: Mutex::new(slots.max(1)),
            freed: Condvar::new(),
        }
    }

    /// Sized to the machine: resizing is CPU work, more at once only adds memory.
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// A slot, or None when none came free within `wait`.
    pub fn acquire(&self, wait: Duration) -> Option<ResizeSlot<'_>> {
        let deadline = Instant::now() + wait;
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            free = self
                .freed
                .wait_timeout(free, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *free -= 1;
        Some(ResizeSlot(self))
    }
}

impl Drop for ResizeSlot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image::GrayImage::new(width, height)
            .write_to(&mut out, ImageFormat::Png)
            .unwrap();
        out.into_inner()
    }

    #[test]
    fn sizes_round_up_to_a_bucket() {
        assert_eq!(snap_size(16), 64);
        assert_eq!(snap_size(64), 64);
        assert_eq!(snap_size(65), 128);
        assert_eq!(snap_size(101), 128);
        assert_eq!(snap_size(300), 512);
        assert_eq!(snap_size(2047), 2048);
        assert_eq!(snap_size(2048), 2048);
        // 2033 distinct sizes in the attack report collapse into six.
        let distinct: std::collections::BTreeSet<u32> = (16..=2048).map(snap_size).collect();
        assert_eq!(distinct.len(), SIZE_BUCKETS.len());
    }

    #[test]
    fn an_original_above_the_pixel_budget_is_refused_from_its_header() {
        // 7000×7000 = 49 MP: over budget; a black PNG of that size is only a few KB on disk.
        let big = png(7000, 7000);
        assert!(big.len() < 1 << 20);
        match thumbnail(&big, 128) {
            Err(ArtError::TooLarge { width, height }) => assert_eq!((width, height), (7000, 7000)),
            other => panic!("expected TooLarge, got {:?}", other.map(|b| b.len())),
        }
        let ok = thumbnail(&png(6000, 6000), 128).unwrap();
        let thumb = image::load_from_memory(&ok).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (128, 128));
    }

    #[test]
    fn small_originals_are_not_enlarged() {
        let out = thumbnail(&png(40, 20), 256).unwrap();
        let img = image::load_from_memory(&out).unwrap();
        assert_eq!((img.width(), img.height()), (40, 20));
    }

    #[test]
    fn resizes_beyond_the_slots_wait_then_give_up() {
        let slots = ResizeSlots::new(2);
        let a = slots.acquire(Duration::ZERO).unwrap();
        let _b = slots.acquire(Duration::ZERO).unwrap();
        let started = Instant::now();
        assert!(slots.acquire(Duration::from_millis(50)).is_none());
        assert!(started.elapsed() >= Duration::from_millis(50));
        drop(a);
        assert!(slots.acquire(Duration::ZERO).is_some());
        // A slot freed while another thread waits wakes it.
        let slots = std::sync::Arc::new(ResizeSlots::new(1));
        let held = slots.acquire(Duration::ZERO).unwrap();
        let waiter = {
            let slots = slots.clone();
            std::thread::spawn(move || slots.acquire(Duration::from_secs(5)).is_some())
        };
        std::thread::sleep(Duration::from_millis(20));
        drop(held);
        assert!(waiter.join().unwrap());
    }
}
