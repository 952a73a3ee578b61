//! Procedural cover art: gradients and simple shapes, deterministic from a seed.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{ImageFormat, Rgb, RgbImage};

use crate::error::Result;

/// The motif drawn over the gradient background.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtStyle {
    /// A striped setting sun over a grid horizon.
    Sunset,
    /// Concentric rings.
    Rings,
    /// Layered mountain ridges.
    Mountains,
    /// Diagonal bands.
    Stripes,
    /// A grid of dots.
    Dots,
    /// Horizontal sine waves.
    Waves,
}

impl ArtStyle {
    /// Every style.
    pub const ALL: [ArtStyle; 6] = [
        ArtStyle::Sunset,
        ArtStyle::Rings,
        ArtStyle::Mountains,
        ArtStyle::Stripes,
        ArtStyle::Dots,
        ArtStyle::Waves,
    ];
}

/// Description of one cover.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArtSpec {
    /// Motif.
    pub style: ArtStyle,
    /// Hue of the background top, in degrees.
    pub hue_a: f32,
    /// Hue of the background bottom and of the motif, in degrees.
    pub hue_b: f32,
    /// Side length in pixels.
    pub size: u32,
}

/// Converts HSV (degrees, 0..1, 0..1) to RGB floats in 0..1.
fn hsv(h: f32, s: f32, v: f32) -> [f32; 3] {
    let h = h.rem_euclid(360.0) / 60.0;
    let c = v * s;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [r + m, g + m, b + m]
}

fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    let t = t.clamp(0.0, 1.0);
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

/// 1 inside, 0 outside, with a one-pixel soft edge; `d` is a signed distance in pixels.
fn coverage(d: f32) -> f32 {
    (0.5 - d).clamp(0.0, 1.0)
}

/// Renders the cover described by `spec`.
pub fn render(spec: &ArtSpec) -> RgbImage {
    let n = spec.size.max(16);
    let size = n as f32;
    let top = hsv(spec.hue_a, 0.65, 0.35);
    let bottom = hsv(spec.hue_b, 0.75, 0.85);
    let ink = hsv(spec.hue_b + 150.0, 0.55, 0.97);
    let dark = hsv(spec.hue_a + 20.0, 0.7, 0.15);
    RgbImage::from_fn(n, n, |x, y| {
        let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
        let (u, v) = (px / size, py / size);
        let mut c = mix(top, bottom, v * 0.8 + u * 0.2);
        match spec.style {
            ArtStyle::Sunset => {
                let (cx, cy, r) = (0.5 * size, 0.55 * size, 0.3 * size);
                let d = ((px - cx).powi(2) + (py - cy).powi(2)).sqrt() - r;
                let stripe = py > cy && ((py - cy) / (0.045 * size)) % 1.0 < 0.35;
                if !stripe && py < 0.7 * size {
                    c = mix(c, mix(ink, bottom, v), coverage(d));
                }
                if py > 0.7 * size {
                    let depth = (py - 0.7 * size) / (0.3 * size);
                    c = mix(dark, c, 0.15);
                    let line_y = (depth.sqrt() * 8.0) % 1.0;
                    let line_x = ((u - 0.5) / (0.15 + depth) * 4.0).rem_euclid(1.0);
                    // Fade the grid out towards the horizon, where its lines would alias.
                    if line_y < 0.12 || line_x < 0.06 {
                        c = mix(c, ink, 0.8 * (depth * 6.0).min(1.0));
                    }
                }
            }
            ArtStyle::Rings => {
                let d = ((u - 0.5).powi(2) + (v - 0.5).powi(2)).sqrt();
                let band = (d * 14.0) % 1.0;
                if d < 0.42 && band < 0.5 {
                    c = mix(c, ink, 0.85 - d);
                }
            }
            ArtStyle::Mountains => {
                for layer in 0..3 {
                    let l = layer as f32;
                    let ridge = 0.45
                        + 0.12 * l
                        + 0.08 * ((u * (5.0 + 2.0 * l)) + l * 1.7).sin()
                        + 0.05 * ((u * (13.0 + l)) + l).sin();
                    if v > ridge {
                        c = mix(mix(ink, dark, 0.35 + 0.3 * l), c, 0.15 * l);
                    }
                }
            }
            ArtStyle::Stripes => {
                let band = ((u + v) * 6.0) % 1.0;
                if band < 0.45 {
                    c = mix(c, ink, 0.55 + 0.3 * u);
                }
            }
            ArtStyle::Dots => {
                let cell = size / 7.0;
                let (gx, gy) = ((px / cell).floor(), (py / cell).floor());
                let (cx, cy) = ((gx + 0.5) * cell, (gy + 0.5) * cell);
                let r = cell * (0.15 + 0.3 * ((gx + gy) / 12.0));
                let d = ((px - cx).powi(2) + (py - cy).powi(2)).sqrt() - r;
                c = mix(c, ink, coverage(d) * 0.9);
            }
            ArtStyle::Waves => {
                for k in 0..5 {
                    let k = k as f32;
                    let center = 0.2 + 0.15 * k + 0.05 * (u * 9.0 + k * 1.3).sin();
                    let d = (v - center).abs() * size - 0.02 * size;
                    c = mix(c, mix(ink, bottom, k / 5.0), coverage(d));
                }
            }
        }
        // Slight vignette so it looks less flat.
        let vignette = 1.0 - 0.35 * ((u - 0.5).powi(2) + (v - 0.5).powi(2));
        Rgb(c.map(|ch| (ch * vignette * 255.0).round().clamp(0.0, 255.0) as u8))
    })
}

/// Encodes as baseline JPEG.
pub fn encode_jpeg(img: &RgbImage, quality: u8) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality).encode_image(img)?;
    Ok(out)
}

/// Encodes as PNG.
pub fn encode_png(img: &RgbImage) -> Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_style_deterministically() {
        for style in ArtStyle::ALL {
            let spec = ArtSpec {
                style,
                hue_a: 200.0,
                hue_b: 320.0,
                size: 64,
            };
            let a = render(&spec);
            assert_eq!(a, render(&spec));
            assert_eq!(a.dimensions(), (64, 64));
            let jpeg = encode_jpeg(&a, 80).unwrap();
            assert_eq!(&jpeg[..3], &[0xFF, 0xD8, 0xFF]);
            let png = encode_png(&a).unwrap();
            assert_eq!(&png[1..4], b"PNG");
        }
    }
}
