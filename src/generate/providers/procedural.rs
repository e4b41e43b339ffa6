//! The built-in procedural Brush: paints a PNG from the image prompt alone. Colour words
//! in the prompt choose the palette and form words (circle, mountain, grid, stripes,
//! waves) the composition; a hash of the prompt fills in the rest, so different prompts
//! look visibly different and the same prompt always gives the same bytes.

use std::collections::BTreeMap;

use image::{Rgb, RgbImage};

use super::{BrushProvider, BrushReply, BrushRequest, ImageSource, ProviderError, Seeded};
use crate::config::Brush;

const COLOURS: &[(&str, [u8; 3])] = &[
    ("white", [244, 242, 236]),
    ("ivory", [250, 244, 222]),
    ("grey", [140, 143, 150]),
    ("gray", [140, 143, 150]),
    ("black", [24, 24, 28]),
    ("red", [208, 48, 44]),
    ("rose", [226, 120, 140]),
    ("pink", [240, 140, 190]),
    ("magenta", [200, 40, 140]),
    ("orange", [240, 130, 40]),
    ("gold", [222, 176, 52]),
    ("yellow", [246, 214, 60]),
    ("ochre", [196, 140, 50]),
    ("brown", [120, 80, 50]),
    ("olive", [110, 120, 50]),
    ("lime", [170, 220, 60]),
    ("green", [60, 140, 80]),
    ("teal", [30, 130, 130]),
    ("turquoise", [60, 200, 190]),
    ("blue", [50, 100, 200]),
    ("indigo", [60, 50, 130]),
    ("violet", [140, 80, 190]),
    ("purple", [110, 50, 140]),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Composition {
    Orbs,
    Ridges,
    Grid,
    Stripes,
    Waves,
}

const FORM_WORDS: &[(&str, Composition)] = &[
    ("circle", Composition::Orbs),
    ("orb", Composition::Orbs),
    ("moon", Composition::Orbs),
    ("sun", Composition::Orbs),
    ("mountain", Composition::Ridges),
    ("ridge", Composition::Ridges),
    ("horizon", Composition::Ridges),
    ("forest", Composition::Ridges),
    ("grid", Composition::Grid),
    ("mosaic", Composition::Grid),
    ("tile", Composition::Grid),
    ("square", Composition::Grid),
    ("stripe", Composition::Stripes),
    ("line", Composition::Stripes),
    ("wave", Composition::Waves),
    ("river", Composition::Waves),
    ("sea", Composition::Waves),
    ("shore", Composition::Waves),
];

pub struct ProceduralBrush {
    width: u32,
    height: u32,
}

impl ProceduralBrush {
    pub fn new(brush: &Brush) -> Result<ProceduralBrush, ProviderError> {
        let (width, height) = match &brush.size {
            None => (1024, 1024),
            Some(size) => parse_size(size).ok_or_else(|| ProviderError::Fatal {
                reason: format!(
                    "brush {:?}: size {size:?} is not WIDTHxHEIGHT between 16 and 4096",
                    brush.slug
                ),
            })?,
        };
        Ok(ProceduralBrush { width, height })
    }
}

fn parse_size(size: &str) -> Option<(u32, u32)> {
    let (w, h) = size.split_once('x')?;
    let (w, h) = (w.trim().parse().ok()?, h.trim().parse().ok()?);
    let ok = |v: u32| (16..=4096).contains(&v);
    (ok(w) && ok(h)).then_some((w, h))
}

#[async_trait::async_trait]
impl BrushProvider for ProceduralBrush {
    fn paid(&self) -> bool {
        false
    }

    fn params(&self) -> BTreeMap<String, serde_json::Value> {
        BTreeMap::from([(
            "size".to_string(),
            format!("{}x{}", self.width, self.height).into(),
        )])
    }

    async fn paint(&self, request: &BrushRequest) -> Result<BrushReply, ProviderError> {
        let (prompt, w, h) = (request.image_prompt.clone(), self.width, self.height);
        let png = tokio::task::spawn_blocking(move || paint(&prompt, w, h))
            .await
            .map_err(|e| ProviderError::Fatal {
                reason: format!("procedural brush stopped: {e}"),
            })?;
        Ok(BrushReply {
            image: ImageSource::Bytes(png),
            revised_prompt: None,
            cost_usd: None,
            request_id: None,
            model: None,
        })
    }
}

/// Paints `prompt` into a `width`×`height` PNG.
pub fn paint(prompt: &str, width: u32, height: u32) -> Vec<u8> {
    let lower = prompt.to_lowercase();
    let mut rng = Seeded::from_parts(&[lower.as_bytes()]);
    let palette = palette_for(&words_of(&lower), &mut rng);
    let words = words_of(&lower);
    let composition = FORM_WORDS
        .iter()
        .filter_map(|(word, c)| first_use(&words, word).map(|pos| (pos, *c)))
        .min_by_key(|(pos, _)| *pos)
        .map(|(_, c)| c)
        .unwrap_or_else(|| {
            *rng.pick(&[
                Composition::Orbs,
                Composition::Ridges,
                Composition::Grid,
                Composition::Stripes,
                Composition::Waves,
            ])
        });

    let mut img = RgbImage::new(width, height);
    let (top, bottom) = (palette[0], palette[1]);
    for y in 0..height {
        let c = mix(top, bottom, y as f64 / height.max(1) as f64);
        for x in 0..width {
            img.put_pixel(x, y, Rgb(c));
        }
    }
    let shapes = &palette[2..];
    match composition {
        Composition::Orbs => orbs(&mut img, shapes, &mut rng),
        Composition::Ridges => ridges(&mut img, shapes, &mut rng),
        Composition::Grid => grid(&mut img, shapes, &mut rng),
        Composition::Stripes => stripes(&mut img, shapes, &mut rng),
        Composition::Waves => waves(&mut img, shapes, &mut rng),
    }

    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new_with_quality(
        &mut out,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::Adaptive,
    )
    .write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgb8)
    .expect("encoding an in-memory PNG cannot fail");
    out
}

use image::ImageEncoder;

/// The prompt's words, so "red" does not match inside "rendered".
fn words_of(lower: &str) -> Vec<&str> {
    lower
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Index of the first word that is `key` or its plural.
fn first_use(words: &[&str], key: &str) -> Option<usize> {
    words.iter().position(|w| {
        w.strip_prefix(key)
            .is_some_and(|rest| matches!(rest, "" | "s" | "es"))
    })
}

/// Colours named in the prompt, in order, topped up from the hash to at least five.
fn palette_for(words: &[&str], rng: &mut Seeded) -> Vec<[u8; 3]> {
    let mut named: Vec<(usize, [u8; 3])> = COLOURS
        .iter()
        .filter_map(|(word, rgb)| first_use(words, word).map(|pos| (pos, *rgb)))
        .collect();
    named.sort_by_key(|(pos, _)| *pos);
    let mut palette: Vec<[u8; 3]> = named.into_iter().map(|(_, c)| c).collect();
    palette.dedup();
    while palette.len() < 5 {
        let base = rng.pick(COLOURS).1;
        let jitter =
            |v: u8, r: &mut Seeded| (v as i32 + r.below(61) as i32 - 30).clamp(0, 255) as u8;
        palette.push([
            jitter(base[0], rng),
            jitter(base[1], rng),
            jitter(base[2], rng),
        ]);
    }
    // The first two make the sky; soften it so shapes stand out.
    palette[0] = mix(palette[0], [250, 250, 250], 0.35);
    palette
}

fn mix(a: [u8; 3], b: [u8; 3], t: f64) -> [u8; 3] {
    let t = t.clamp(0.0, 1.0);
    [0, 1, 2].map(|i| (a[i] as f64 * (1.0 - t) + b[i] as f64 * t).round() as u8)
}

fn blend(img: &mut RgbImage, x: u32, y: u32, c: [u8; 3], alpha: f64) {
    let p = img.get_pixel_mut(x, y);
    p.0 = mix(p.0, c, alpha);
}

fn orbs(img: &mut RgbImage, colours: &[[u8; 3]], rng: &mut Seeded) {
    let (w, h) = (img.width() as f64, img.height() as f64);
    let count = 1 + rng.below(6);
    for i in 0..count {
        let c = colours[i % colours.len()];
        let r = (0.08 + rng.unit() * 0.25) * w.min(h);
        let (cx, cy) = (rng.unit() * w, rng.unit() * h);
        let (x0, x1) = ((cx - r).max(0.0) as u32, ((cx + r).min(w - 1.0)) as u32);
        let (y0, y1) = ((cy - r).max(0.0) as u32, ((cy + r).min(h - 1.0)) as u32);
        for y in y0..=y1 {
            for x in x0..=x1 {
                let d = ((x as f64 - cx).powi(2) + (y as f64 - cy).powi(2)).sqrt();
                if d <= r {
                    // A soft edge reads as painted rather than stamped.
                    blend(img, x, y, c, ((r - d) / 3.0).min(1.0) * 0.9);
                }
            }
        }
    }
}

fn ridges(img: &mut RgbImage, colours: &[[u8; 3]], rng: &mut Seeded) {
    let (w, h) = (img.width(), img.height());
    let layers = 2 + rng.below(3);
    for layer in 0..layers {
        let c = colours[layer % colours.len()];
        let base = h as f64 * (0.45 + 0.15 * layer as f64);
        let (f1, f2, p1, p2) = (
            1.0 + rng.unit() * 3.0,
            4.0 + rng.unit() * 6.0,
            rng.unit() * 6.3,
            rng.unit() * 6.3,
        );
        let amp = h as f64 * (0.05 + rng.unit() * 0.08);
        for x in 0..w {
            let t = x as f64 / w as f64 * std::f64::consts::TAU;
            let top = base - amp * ((t * f1 + p1).sin() + 0.4 * (t * f2 + p2).sin());
            for y in (top.max(0.0) as u32).min(h)..h {
                blend(img, x, y, c, 0.92);
            }
        }
    }
}

fn grid(img: &mut RgbImage, colours: &[[u8; 3]], rng: &mut Seeded) {
    let (w, h) = (img.width(), img.height());
    let cells = 2 + rng.below(9) as u32;
    let (cw, ch) = (w.div_ceil(cells), h.div_ceil(cells));
    let gap = (cw / 12).max(1);
    for gy in 0..cells {
        for gx in 0..cells {
            if rng.unit() < 0.2 {
                continue;
            }
            let c = *rng.pick(colours);
            for y in (gy * ch + gap)..((gy + 1) * ch).saturating_sub(gap).min(h) {
                for x in (gx * cw + gap)..((gx + 1) * cw).saturating_sub(gap).min(w) {
                    blend(img, x, y, c, 0.85);
                }
            }
        }
    }
}

fn stripes(img: &mut RgbImage, colours: &[[u8; 3]], rng: &mut Seeded) {
    let (w, h) = (img.width(), img.height());
    let count = 3 + rng.below(12) as u32;
    let vertical = rng.unit() < 0.5;
    let span = if vertical { w } else { h };
    let band = span / (count * 2).max(1);
    for i in 0..count {
        let c = colours[i as usize % colours.len()];
        let start = i * 2 * band + rng.below(band.max(1) as usize) as u32;
        for s in start..(start + band).min(span) {
            for t in 0..(if vertical { h } else { w }) {
                let (x, y) = if vertical { (s, t) } else { (t, s) };
                blend(img, x, y, c, 0.8);
            }
        }
    }
}

fn waves(img: &mut RgbImage, colours: &[[u8; 3]], rng: &mut Seeded) {
    let (w, h) = (img.width(), img.height());
    let count = 3 + rng.below(5);
    let freq = 1.0 + rng.unit() * 4.0;
    for i in 0..count {
        let c = colours[i % colours.len()];
        let base = h as f64 * (0.3 + 0.6 * i as f64 / count as f64);
        let amp = h as f64 * (0.02 + rng.unit() * 0.05);
        let phase = rng.unit() * 6.3;
        let thick = h as f64 * 0.03;
        for x in 0..w {
            let t = x as f64 / w as f64 * std::f64::consts::TAU;
            let centre = base + amp * (t * freq + phase).sin();
            let y0 = (centre - thick).max(0.0) as u32;
            let y1 = ((centre + thick) as u32).min(h);
            for y in y0..y1 {
                blend(img, x, y, c, 0.9);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_prompt_same_bytes_and_decodes() {
        let a = paint("A red circle on white", 128, 96);
        assert_eq!(a, paint("A red circle on white", 128, 96));
        let img = image::load_from_memory(&a).unwrap();
        assert_eq!((img.width(), img.height()), (128, 96));
    }

    #[test]
    fn different_prompts_look_different() {
        let mean = |png: &[u8]| {
            let img = image::load_from_memory(png).unwrap().to_rgb8();
            let n = img.pixels().len() as f64;
            [0, 1, 2].map(|i| img.pixels().map(|p| p.0[i] as f64).sum::<f64>() / n)
        };
        let a = mean(&paint("waves of deep blue and indigo", 64, 64));
        let b = mean(&paint("a grid of orange and gold tiles", 64, 64));
        let dist: f64 = (0..3).map(|i| (a[i] - b[i]).abs()).sum();
        assert!(dist > 40.0, "{a:?} vs {b:?}");
    }

    #[test]
    fn colour_words_match_whole_words_only() {
        let words = words_of("rendered in greyish tones");
        assert_eq!(first_use(&words, "red"), None);
        assert_eq!(first_use(&words_of("two red circles"), "circle"), Some(2));
    }

    #[test]
    fn every_composition_paints() {
        for word in ["circle", "mountain", "grid", "stripe", "wave", "nothing"] {
            let png = paint(word, 64, 48);
            assert!(image::load_from_memory(&png).is_ok(), "{word}");
        }
    }
}
