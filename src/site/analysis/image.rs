//! What an image looks like in numbers: its palette, a perceptual hash (DCT of a 32×32
//! grey downscale) and a coarse colour histogram. Decodes bytes it is given; never reads
//! files or writes anything.

use image::imageops::FilterType;
use serde::{Deserialize, Serialize};

use super::palette::{dominant_colours, Swatch, PALETTE_SIZE};

/// Side of the downscale the palette and histogram are taken from.
const SAMPLE_SIDE: u32 = 64;
/// Bins per channel of the colour histogram (4³ = 64 bins).
const BINS: usize = 4;

/// Everything the views need from one image; small enough to cache as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageSignature {
    pub palette: Vec<Swatch>,
    /// 64-bit perceptual hash, as 16 hex digits.
    pub phash: String,
    /// Share of pixels per RGB bin; sums to 1.
    pub histogram: Vec<f64>,
}

/// Decodes `bytes` and computes its signature.
pub fn signature(bytes: &[u8]) -> Result<ImageSignature, image::ImageError> {
    Ok(signature_of_image(
        &image::load_from_memory(bytes)?.into_rgb8(),
    ))
}

/// The signature of decoded pixels. The thumbnail step calls this with the pixels it
/// already has, so a cold build decodes each image once.
pub fn signature_of_image(rgb: &image::RgbImage) -> ImageSignature {
    let (w, h) = (rgb.width().max(1), rgb.height().max(1));
    let scale = f64::from(SAMPLE_SIDE) / f64::from(w.max(h));
    let side = |v: u32| ((f64::from(v) * scale).round() as u32).clamp(1, SAMPLE_SIDE);
    // An area average over whole pixel blocks is enough for colour statistics.
    let small = crate::site::group::images::resize_rgb(rgb, side(w), side(h), BOX)
        .unwrap_or_else(|_| image::RgbImage::from_pixel(1, 1, image::Rgb([0, 0, 0])));
    let pixels: Vec<[u8; 3]> = small.pixels().map(|p| p.0).collect();
    let grey = image::imageops::resize(
        &image::DynamicImage::ImageRgb8(small).to_luma8(),
        32,
        32,
        FilterType::Triangle,
    );
    let grey: Vec<f64> = grey.pixels().map(|p| f64::from(p.0[0])).collect();
    signature_of_pixels(&pixels, &grey)
}

const BOX: fast_image_resize::ResizeAlg =
    fast_image_resize::ResizeAlg::Convolution(fast_image_resize::FilterType::Box);

/// The signature of already-decoded pixels: `pixels` is the colour downscale, `grey` the
/// 32×32 luminance (row-major).
pub fn signature_of_pixels(pixels: &[[u8; 3]], grey: &[f64]) -> ImageSignature {
    ImageSignature {
        palette: dominant_colours(pixels, PALETTE_SIZE),
        phash: format!("{:016x}", phash(grey)),
        histogram: histogram(pixels),
    }
}

/// pHash: the 8×8 lowest frequencies of a 32×32 DCT, one bit per coefficient above their
/// median (DC excluded from the median, as it only measures brightness).
pub fn phash(grey32: &[f64]) -> u64 {
    const N: usize = 32;
    if grey32.len() != N * N {
        return 0;
    }
    let cos: Vec<f64> = (0..8 * N)
        .map(|i| {
            let (u, x) = (i / N, i % N);
            (std::f64::consts::PI * (2 * x + 1) as f64 * u as f64 / (2 * N) as f64).cos()
        })
        .collect();
    // Separable DCT, keeping only the 8 lowest frequencies in each direction.
    let mut rows = [[0f64; 8]; N];
    for (y, row) in rows.iter_mut().enumerate() {
        for (u, out) in row.iter_mut().enumerate() {
            *out = (0..N).map(|x| grey32[y * N + x] * cos[u * N + x]).sum();
        }
    }
    let mut coef = [0f64; 64];
    for v in 0..8 {
        for u in 0..8 {
            coef[v * 8 + u] = (0..N).map(|y| rows[y][u] * cos[v * N + y]).sum();
        }
    }
    let mut ac: Vec<f64> = coef[1..].to_vec();
    ac.sort_by(f64::total_cmp);
    let median = (ac[31] + ac[32]) / 2.0;
    coef.iter()
        .enumerate()
        .fold(0u64, |h, (i, &c)| if c > median { h | 1 << i } else { h })
}

/// Share of pixels in each of 4×4×4 RGB bins.
pub fn histogram(pixels: &[[u8; 3]]) -> Vec<f64> {
    let mut bins = vec![0f64; BINS * BINS * BINS];
    if pixels.is_empty() {
        return bins;
    }
    let bin = |v: u8| usize::from(v) * BINS / 256;
    for p in pixels {
        bins[(bin(p[0]) * BINS + bin(p[1])) * BINS + bin(p[2])] += 1.0;
    }
    let n = pixels.len() as f64;
    bins.iter_mut().for_each(|b| *b /= n);
    bins
}

/// Structural distance: the share of perceptual-hash bits that differ (0 = same layout,
/// about 0.5 = unrelated). `None` when a hash is unreadable.
pub fn hash_distance(a: &str, b: &str) -> Option<f64> {
    let (a, b) = (
        u64::from_str_radix(a, 16).ok()?,
        u64::from_str_radix(b, 16).ok()?,
    );
    Some(f64::from((a ^ b).count_ones()) / 64.0)
}

/// Colour distance: 1 − histogram intersection (0 = same colours in the same amounts,
/// 1 = no colour in common).
pub fn histogram_distance(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let overlap: f64 = a.iter().zip(b).map(|(x, y)| x.min(*y)).sum();
    Some((1.0 - overlap).clamp(0.0, 1.0))
}

/// One similarity (1 = identical) from both distances, so a single heatmap can show it;
/// the parts stay available for the cell's text.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ImageSimilarity {
    pub similarity: f64,
    pub hash_distance: f64,
    pub histogram_distance: f64,
}

pub fn image_similarity(a: &ImageSignature, b: &ImageSignature) -> Option<ImageSimilarity> {
    let h = hash_distance(&a.phash, &b.phash)?;
    let c = histogram_distance(&a.histogram, &b.histogram)?;
    Some(ImageSimilarity {
        similarity: 1.0 - (h + c) / 2.0,
        hash_distance: h,
        histogram_distance: c,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(img: &image::RgbImage) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn gradient(w: u32, h: u32) -> image::RgbImage {
        image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, 90])
        })
    }

    #[test]
    fn two_identical_images_are_zero_apart() {
        let a = signature(&png(&gradient(80, 60))).unwrap();
        let b = signature(&png(&gradient(80, 60))).unwrap();
        let s = image_similarity(&a, &b).unwrap();
        assert_eq!(s.hash_distance, 0.0);
        assert_eq!(s.histogram_distance, 0.0);
        assert_eq!(s.similarity, 1.0);
    }

    #[test]
    fn solid_red_png_has_a_red_palette_and_one_full_bin() {
        let sig = signature(&png(&image::RgbImage::from_pixel(
            40,
            40,
            image::Rgb([255, 0, 0]),
        )))
        .unwrap();
        assert_eq!(sig.palette.len(), 1);
        assert_eq!(sig.palette[0].rgb, [255, 0, 0]);
        assert_eq!(sig.histogram.iter().filter(|&&b| b == 1.0).count(), 1);
    }

    #[test]
    fn different_images_are_apart() {
        let a = signature(&png(&gradient(64, 64))).unwrap();
        let flipped = image::imageops::rotate180(&gradient(64, 64));
        let b = signature(&png(&flipped)).unwrap();
        let red = signature(&png(&image::RgbImage::from_pixel(
            64,
            64,
            image::Rgb([255, 0, 0]),
        )))
        .unwrap();
        assert!(
            image_similarity(&a, &b).unwrap().hash_distance > 0.2,
            "layout differs"
        );
        assert_eq!(
            image_similarity(&a, &b).unwrap().histogram_distance,
            0.0,
            "same colours"
        );
        assert!(image_similarity(&a, &red).unwrap().histogram_distance > 0.9);
    }

    #[test]
    fn garbage_bytes_are_an_error_not_a_panic() {
        assert!(signature(b"not an image").is_err());
    }

    #[test]
    fn histogram_distance_bounds() {
        assert_eq!(histogram_distance(&[1.0, 0.0], &[0.0, 1.0]), Some(1.0));
        assert_eq!(histogram_distance(&[1.0], &[0.0, 1.0]), None);
        assert_eq!(
            hash_distance("ffffffffffffffff", "0000000000000000"),
            Some(1.0)
        );
        assert_eq!(hash_distance("zz", "00"), None);
    }
}
