//! Dominant colours of an image: median cut on a small downscale, refined by a few
//! k-means steps, compared in CIE Lab. Pure functions over pixels; never decodes or
//! reads files.

use serde::{Deserialize, Serialize};

/// One dominant colour and the share of the image it covers (0–1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Swatch {
    pub rgb: [u8; 3],
    pub share: f64,
}

impl Swatch {
    pub fn hex(&self) -> String {
        let [r, g, b] = self.rgb;
        format!("#{r:02x}{g:02x}{b:02x}")
    }
}

/// How many colours a palette holds at most (the issue asks for 5–8).
pub const PALETTE_SIZE: usize = 6;
const KMEANS_STEPS: usize = 4;

/// Up to `k` dominant colours of `pixels`, largest share first. An image with fewer
/// distinct colours gets fewer swatches (a solid image has one).
pub fn dominant_colours(pixels: &[[u8; 3]], k: usize) -> Vec<Swatch> {
    if pixels.is_empty() || k == 0 {
        return Vec::new();
    }
    let mut centres: Vec<[f64; 3]> = median_cut(pixels, k).iter().map(|b| mean(b)).collect();
    let mut counts = vec![0usize; centres.len()];
    // Each distinct colour once, with its count: the same sums (whole numbers, exact in
    // f64) for a fraction of the work, since pooled palettes repeat each swatch ~100 times.
    let mut distinct: Vec<[u8; 3]> = pixels.to_vec();
    distinct.sort_unstable();
    let mut weighted: Vec<([u8; 3], usize)> = Vec::new();
    for p in distinct {
        match weighted.last_mut() {
            Some((q, n)) if *q == p => *n += 1,
            _ => weighted.push((p, 1)),
        }
    }
    for _ in 0..KMEANS_STEPS {
        let mut sums = vec![[0f64; 3]; centres.len()];
        counts.iter_mut().for_each(|c| *c = 0);
        for &(p, n) in &weighted {
            let i = nearest(&centres, to_f(p));
            counts[i] += n;
            for c in 0..3 {
                sums[i][c] += f64::from(p[c]) * n as f64;
            }
        }
        for (i, centre) in centres.iter_mut().enumerate() {
            if counts[i] > 0 {
                *centre = sums[i].map(|s| s / counts[i] as f64);
            }
        }
    }
    let total = pixels.len() as f64;
    let mut swatches: Vec<Swatch> = centres
        .iter()
        .zip(&counts)
        .filter(|(_, &n)| n > 0)
        .map(|(c, &n)| Swatch {
            rgb: c.map(|v| v.round().clamp(0.0, 255.0) as u8),
            share: n as f64 / total,
        })
        .collect();
    swatches.sort_by(|a, b| b.share.total_cmp(&a.share).then(a.rgb.cmp(&b.rgb)));
    swatches
}

/// Splits the colour cloud into at most `k` boxes, always cutting the box with the widest
/// channel range at its median, so large uniform areas stay one colour.
fn median_cut(pixels: &[[u8; 3]], k: usize) -> Vec<Vec<[u8; 3]>> {
    let mut boxes = vec![pixels.to_vec()];
    while boxes.len() < k {
        let Some((idx, channel, _)) = boxes
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let (c, range) = widest_channel(b);
                (i, c, range)
            })
            .filter(|&(i, _, range)| range > 0 && boxes[i].len() > 1)
            .max_by_key(|&(i, _, range)| (range, boxes[i].len()))
        else {
            break;
        };
        let mut b = boxes.swap_remove(idx);
        b.sort_unstable_by_key(|p| p[channel]);
        let upper = b.split_off(b.len() / 2);
        boxes.push(b);
        boxes.push(upper);
    }
    boxes
}

fn widest_channel(pixels: &[[u8; 3]]) -> (usize, u8) {
    (0..3)
        .map(|c| {
            let (lo, hi) = pixels
                .iter()
                .fold((255u8, 0u8), |(lo, hi), p| (lo.min(p[c]), hi.max(p[c])));
            (c, hi.saturating_sub(lo))
        })
        .max_by_key(|&(c, range)| (range, std::cmp::Reverse(c)))
        .unwrap_or((0, 0))
}

fn mean(pixels: &[[u8; 3]]) -> [f64; 3] {
    let n = pixels.len().max(1) as f64;
    let mut s = [0f64; 3];
    for p in pixels {
        for c in 0..3 {
            s[c] += f64::from(p[c]);
        }
    }
    s.map(|v| v / n)
}

fn to_f(p: [u8; 3]) -> [f64; 3] {
    p.map(f64::from)
}

fn nearest(centres: &[[f64; 3]], p: [f64; 3]) -> usize {
    let d = |c: &[f64; 3]| (0..3).map(|i| (c[i] - p[i]).powi(2)).sum::<f64>();
    (0..centres.len())
        .min_by(|&a, &b| d(&centres[a]).total_cmp(&d(&centres[b])))
        .unwrap_or(0)
}

/// sRGB → CIE L*a*b* (D65), where Euclidean distance approximates perceived difference.
pub fn lab(rgb: [u8; 3]) -> [f64; 3] {
    let lin = |v: u8| {
        let c = f64::from(v) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let [r, g, b] = rgb.map(lin);
    let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
    let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
    let f = |t: f64| {
        if t > 0.008856 {
            t.cbrt()
        } else {
            7.787 * t + 16.0 / 116.0
        }
    };
    let (fx, fy, fz) = (f(x), f(y), f(z));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// CIE76 ΔE between two colours: about 2.3 is just noticeable, 100 is black vs white.
pub fn delta_e(a: [u8; 3], b: [u8; 3]) -> f64 {
    palette_distance(
        &[Swatch { rgb: a, share: 1.0 }],
        &[Swatch { rgb: b, share: 1.0 }],
    )
    .unwrap_or(0.0)
}

/// How far apart two palettes are, in ΔE: each swatch's distance to the nearest swatch of
/// the other palette, weighted by its share, averaged over both directions (so it is
/// symmetric and 0 for identical palettes). `None` when either palette is empty.
pub fn palette_distance(a: &[Swatch], b: &[Swatch]) -> Option<f64> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    // Convert once per swatch, not once per pair: the Lab transform dominates otherwise.
    let to_lab = |p: &[Swatch]| -> Vec<(f64, [f64; 3])> {
        p.iter().map(|s| (s.share, lab(s.rgb))).collect()
    };
    let (a, b) = (to_lab(a), to_lab(b));
    let dist =
        |x: &[f64; 3], y: &[f64; 3]| (0..3).map(|i| (x[i] - y[i]).powi(2)).sum::<f64>().sqrt();
    let one_way = |from: &[(f64, [f64; 3])], to: &[(f64, [f64; 3])]| {
        let weight: f64 = from.iter().map(|(share, _)| share).sum();
        let sum: f64 = from
            .iter()
            .map(|(share, c)| {
                share
                    * to.iter()
                        .map(|(_, t)| dist(c, t))
                        .fold(f64::INFINITY, f64::min)
            })
            .sum();
        if weight > 0.0 {
            sum / weight
        } else {
            0.0
        }
    };
    Some((one_way(&a, &b) + one_way(&b, &a)) / 2.0)
}

/// One palette standing for many (an Artist's average palette): pools every swatch,
/// weighted by its share, and clusters the pool again.
pub fn average_palette(palettes: &[&[Swatch]], k: usize) -> Vec<Swatch> {
    // Replicate each swatch in proportion to its share (100 samples per palette) so the
    // same clustering as for pixels applies.
    let mut pool: Vec<[u8; 3]> = Vec::new();
    for p in palettes {
        for s in p.iter() {
            let n = (s.share * 100.0).round() as usize;
            pool.extend(std::iter::repeat(s.rgb).take(n.max(1)));
        }
    }
    dominant_colours(&pool, k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solid_red_image_has_a_red_palette() {
        let pixels = vec![[255, 0, 0]; 64 * 64];
        let p = dominant_colours(&pixels, PALETTE_SIZE);
        assert_eq!(
            p,
            vec![Swatch {
                rgb: [255, 0, 0],
                share: 1.0
            }]
        );
        assert_eq!(p[0].hex(), "#ff0000");
    }

    #[test]
    fn two_colour_image_gets_both_colours_with_their_shares() {
        let mut pixels = vec![[0, 0, 255]; 300];
        pixels.extend(vec![[255, 255, 0]; 100]);
        let p = dominant_colours(&pixels, PALETTE_SIZE);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].rgb, [0, 0, 255]);
        assert!((p[0].share - 0.75).abs() < 1e-9);
        assert_eq!(p[1].rgb, [255, 255, 0]);
    }

    #[test]
    fn many_colours_are_capped_at_k() {
        let pixels: Vec<[u8; 3]> = (0..4096u32)
            .map(|i| [(i % 256) as u8, (i / 16 % 256) as u8, (i * 7 % 256) as u8])
            .collect();
        let p = dominant_colours(&pixels, 6);
        assert_eq!(p.len(), 6);
        assert!((p.iter().map(|s| s.share).sum::<f64>() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn identical_palettes_are_zero_apart_and_distance_is_symmetric() {
        let a = [
            Swatch {
                rgb: [255, 0, 0],
                share: 0.5,
            },
            Swatch {
                rgb: [0, 0, 0],
                share: 0.5,
            },
        ];
        let b = [Swatch {
            rgb: [255, 255, 255],
            share: 1.0,
        }];
        assert_eq!(palette_distance(&a, &a), Some(0.0));
        assert_eq!(palette_distance(&a, &b), palette_distance(&b, &a));
        assert!(palette_distance(&a, &b).unwrap() > 50.0);
        assert_eq!(palette_distance(&a, &[]), None);
    }

    #[test]
    fn black_and_white_are_a_hundred_apart() {
        assert!((delta_e([0, 0, 0], [255, 255, 255]) - 100.0).abs() < 0.1);
    }

    #[test]
    fn average_of_one_palette_is_that_palette() {
        let red = [Swatch {
            rgb: [200, 10, 10],
            share: 1.0,
        }];
        assert_eq!(average_palette(&[&red, &red], 6), red.to_vec());
    }
}
