//! Images for the site: identifies each run's image (content hash, size) and makes JPEG
//! thumbnails in a cache kept between builds (`<root>/.chorus-cache/`), keyed by the
//! source's SHA-256 and the resize parameters, never by mtime. It never writes the output
//! folder; `site` copies from the cache.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use fast_image_resize as fr;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::Originals;
use crate::fsutil::write_rebuildable;
use crate::store::sha256_hex;

/// Thumbnail widths (CSS pixels × density the pages ask for). Sources no wider than a
/// width are not upscaled: the full image serves that slot.
pub const THUMB_WIDTHS: [u32; 3] = [200, 400, 800];
/// JPEG quality of thumbnails: 80 is where artefacts stop being visible at these sizes.
pub const JPEG_QUALITY: u8 = 80;
/// JPEG quality of the full-size web encoding (`originals = "web"`): about 200–400 KB for
/// a 1024² image where the PNG is 1–3 MB.
pub const WEB_QUALITY: u8 = 85;
/// Bumped whenever the thumbnail recipe changes, so old cache entries become stale.
/// r2: each width is resized from the next larger one (source → 800 → 400 → 200).
/// r3: JPEGs with Huffman tables fitted to each image.
/// r4: the standard tables again: fitting cost a cold build a quarter of its time (a
/// second pass over every block of every encoding) for files about a tenth smaller.
const RECIPE: &str = "r4-lanczos3-chain";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub sha256: String,
    pub width: u32,
    pub height: u32,
    /// The extension its content says: png, jpg, webp or gif (see `store::sniff_image`).
    /// Empty in memos from before it was recorded, which makes them stale.
    #[serde(default)]
    pub format: String,
}

/// One resized or re-encoded variant, in the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumb {
    pub width: u32,
    pub height: u32,
    pub path: PathBuf,
    /// The cache file name; it changes exactly when the content does.
    pub key: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub source: SourceInfo,
    pub thumbs: Vec<Thumb>,
    /// A full-size JPEG to publish instead of the original (see [`Originals`]); `None`
    /// when the original itself is published, or nothing full-size is.
    pub web: Option<Thumb>,
    /// A full-size JPEG made but not published, because it came out no smaller than the
    /// original (small flat PNGs do); kept in the cache so it is not made again.
    pub unused_web: Option<Thumb>,
}

/// What preparing the images did, for the build report and the bench.
#[derive(Debug, Clone, Default)]
pub struct ImageStats {
    pub sources: usize,
    /// Sources read and hashed this build (the others matched the manifest).
    pub hashed: usize,
    /// Thumbnails and web encodings made this build (the others were in the cache).
    pub made: usize,
    pub pruned: usize,
    /// Images that could not be read or decoded: (file, reason).
    pub failed: Vec<(PathBuf, String)>,
}

impl ImageStats {
    pub fn add(&mut self, other: ImageStats) {
        self.sources += other.sources;
        self.hashed += other.hashed;
        self.made += other.made;
        self.pruned += other.pruned;
        self.failed.extend(other.failed);
    }
}

/// The cache: `thumbs/` holds the JPEGs (thumbnails and full-size web encodings), named by
/// the source's content hash and the recipe. What a source's hash is, is remembered by
/// the build's manifest, by (length, mtime).
pub struct ImageCache {
    dir: PathBuf,
}

/// Called with every source the build decodes, so other stages (the analysis) can measure
/// the pixels without decoding the file a second time. Runs on rayon's threads.
pub type OnDecoded<'a> = dyn Fn(&SourceInfo, &image::RgbImage) + Sync + 'a;

/// File length and modification time, the quick check for "unchanged since last time".
pub fn stat(path: &Path) -> Option<(u64, u128)> {
    stat_of(&std::fs::metadata(path).ok()?)
}

/// [`stat`] of metadata already read (say, from a folder listing's entry).
pub fn stat_of(meta: &std::fs::Metadata) -> Option<(u64, u128)> {
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some((meta.len(), mtime))
}

/// Reads what the build needs to know of an image: content hash, size, format (from its
/// content). Refuses, from the header alone, an image with more pixels than chorus decodes.
pub fn identify(bytes: &[u8]) -> Result<SourceInfo, String> {
    let format = crate::store::sniff_image(bytes)
        .ok_or("not a PNG, JPEG, WebP or GIF image (its content says otherwise)")?;
    let (width, height) = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?
        .into_dimensions()
        .map_err(|e| format!("not a readable image: {e}"))?;
    // A small file can claim enough pixels to exhaust memory.
    if u64::from(width) * u64::from(height) > crate::store::MAX_IMAGE_PIXELS {
        return Err(format!(
            "{width}×{height} pixels, more than the {} chorus decodes",
            crate::store::MAX_IMAGE_PIXELS
        ));
    }
    Ok(SourceInfo {
        sha256: sha256_hex(bytes),
        width,
        height,
        format: format.to_string(),
    })
}

/// Whether a source is already a web encoding that a browser shows without help.
fn is_web_format(format: &str) -> bool {
    matches!(format, "jpg" | "jpeg" | "webp")
}

impl ImageCache {
    pub fn new(dir: PathBuf) -> ImageCache {
        ImageCache { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn thumbs_dir(&self) -> PathBuf {
        self.dir.join("thumbs")
    }

    /// Identifies every source and makes the missing thumbnails (publishing originals as
    /// they are), in parallel; with `complete`, prunes cached files no source needs.
    /// Sources that cannot be read are left out of the map and listed in the stats.
    pub fn prepare(
        &self,
        sources: &[PathBuf],
        on_decoded: &OnDecoded,
    ) -> (BTreeMap<PathBuf, Prepared>, ImageStats) {
        let mut stats = ImageStats {
            sources: sources.len(),
            ..ImageStats::default()
        };
        #[allow(clippy::type_complexity)]
        let results: Vec<(PathBuf, Result<(Prepared, usize), String>)> = sources
            .par_iter()
            .map(|src| {
                let r = self.prepare_image(src, None, Originals::Copy, on_decoded);
                (src.clone(), r.map(|(p, made, _)| (p, made)))
            })
            .collect();
        let mut prepared = BTreeMap::new();
        for (src, r) in results {
            match r {
                Ok((p, made)) => {
                    stats.made += made;
                    stats.hashed += 1;
                    prepared.insert(src, p);
                }
                Err(reason) => stats.failed.push((src, reason)),
            }
        }
        let keep: BTreeSet<String> = prepared.values().flat_map(Prepared::cache_keys).collect();
        stats.pruned = self.prune(&|name| keep.contains(name));
        (prepared, stats)
    }

    /// Prepares one source: identifies it (unless `known`, which the caller vouches for
    /// by length and mtime) and makes whatever variant is missing from the cache, decoding
    /// the source at most once. Returns the prepared image, variants made, and whether the
    /// source was read.
    pub fn prepare_image(
        &self,
        src: &Path,
        known: Option<SourceInfo>,
        originals: Originals,
        on_decoded: &OnDecoded,
    ) -> Result<(Prepared, usize, bool), String> {
        let mut bytes: Option<Vec<u8>> = None;
        let (info, hashed) = match known.filter(|k| !k.format.is_empty()) {
            Some(info) => (info, false),
            None => {
                let b = read_source(src)?;
                let info = identify(&b)?;
                bytes = Some(b);
                (info, true)
            }
        };
        let thumbs: Vec<Thumb> = THUMB_WIDTHS
            .iter()
            .filter(|&&w| w < info.width)
            .map(|&w| {
                let h = scaled_height(info.width, info.height, w);
                let key = format!("{}-{w}x{h}-q{JPEG_QUALITY}-{RECIPE}.jpg", info.sha256);
                self.variant(w, h, key)
            })
            .collect();
        let wants_web = match originals {
            Originals::Web => !is_web_format(&info.format),
            Originals::Copy => false,
            // Nothing full-size is published, unless no thumbnail can stand in for it.
            Originals::None => thumbs.is_empty(),
        };
        let web = wants_web.then(|| {
            let key = format!(
                "{}-full-{}x{}-q{WEB_QUALITY}-{RECIPE}.jpg",
                info.sha256, info.width, info.height
            );
            self.variant(info.width, info.height, key)
        });
        // An empty entry is what a power cut can leave behind (writes are not fsynced).
        let missing = |t: &&Thumb| std::fs::metadata(&t.path).map_or(true, |m| m.len() == 0);
        let missing_thumbs: Vec<&Thumb> = thumbs.iter().filter(missing).collect();
        let web_missing = web.as_ref().filter(missing);
        let made = missing_thumbs.len() + usize::from(web_missing.is_some());
        if made > 0 {
            let b = match bytes.take() {
                Some(b) => b,
                None => read_source(src)?,
            };
            let rgb = decode_rgb(&b)?;
            drop(b);
            on_decoded(&info, &rgb);
            if let Some(w) = web_missing {
                let jpeg = encode_jpeg_q(rgb.as_raw(), w.width, w.height, WEB_QUALITY)?;
                write_rebuildable(&w.path, &jpeg)
                    .map_err(|e| format!("writing {}: {e}", w.path.display()))?;
            }
            make_thumbs(&rgb, &thumbs, &missing_thumbs)?;
        }
        // The web encoding is there to publish less; the original wins when it is smaller.
        let (web, unused_web) = match web {
            Some(w) if originals == Originals::Web && !smaller(&w.path, src) => (None, Some(w)),
            w => (w, None),
        };
        Ok((
            Prepared {
                source: info,
                thumbs,
                web,
                unused_web,
            },
            made,
            hashed,
        ))
    }

    fn variant(&self, width: u32, height: u32, key: String) -> Thumb {
        Thumb {
            width,
            height,
            path: self.thumbs_dir().join(&key),
            key,
        }
    }

    /// Removes cached files no source of this build needs.
    pub fn prune(&self, keep: &dyn Fn(&str) -> bool) -> usize {
        let Ok(entries) = std::fs::read_dir(self.thumbs_dir()) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name();
            let stale = name.to_str().map_or(true, |n| !keep(n));
            if stale
                && entry.file_type().is_ok_and(|t| t.is_file())
                && std::fs::remove_file(entry.path()).is_ok()
            {
                removed += 1;
            }
        }
        removed
    }
}

impl Prepared {
    /// The cache files this image uses.
    pub fn cache_keys(&self) -> impl Iterator<Item = String> + '_ {
        self.thumbs
            .iter()
            .chain(self.web.as_ref())
            .chain(self.unused_web.as_ref())
            .map(|t| t.key.clone())
    }
}

/// Whether the encoding at `web` is smaller than the original at `src`.
fn smaller(web: &Path, src: &Path) -> bool {
    let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).ok();
    match (len(web), len(src)) {
        (Some(w), Some(s)) => w < s,
        _ => true,
    }
}

/// A run's image, read the one way untrusted files are: a regular file within the cap.
fn read_source(src: &Path) -> Result<Vec<u8>, String> {
    crate::store::read_capped(src, crate::store::MAX_IMAGE_BYTES)
}

pub fn scaled_height(src_w: u32, src_h: u32, w: u32) -> u32 {
    ((u64::from(src_h) * u64::from(w) + u64::from(src_w) / 2) / u64::from(src_w)).max(1) as u32
}

/// Decodes any supported format to 8-bit RGB (alpha is dropped: thumbnails are JPEG).
pub fn decode_rgb(bytes: &[u8]) -> Result<image::RgbImage, String> {
    image::load_from_memory(bytes)
        .map(|img| img.into_rgb8())
        .map_err(|e| format!("not a readable image: {e}"))
}

/// Makes the `missing` ones of `thumbs` (ascending widths). Each width is resized from
/// the next larger one rather than from the source: a 400 px from the 800 px costs a third
/// of one from a 1024 px source. The chain is the same whichever are missing, so a
/// thumbnail's bytes never depend on what the cache held.
fn make_thumbs(rgb: &image::RgbImage, thumbs: &[Thumb], missing: &[&Thumb]) -> Result<(), String> {
    let Some(smallest) = missing.iter().map(|t| t.width).min() else {
        return Ok(());
    };
    let mut larger: Option<image::RgbImage> = None;
    for t in thumbs.iter().rev().filter(|t| t.width >= smallest) {
        let resized = resize_rgb(larger.as_ref().unwrap_or(rgb), t.width, t.height, LANCZOS3)?;
        if missing.iter().any(|m| m.key == t.key) {
            let jpeg = encode_jpeg(resized.as_raw(), t.width, t.height)?;
            write_rebuildable(&t.path, &jpeg)
                .map_err(|e| format!("writing {}: {e}", t.path.display()))?;
        }
        larger = Some(resized);
    }
    Ok(())
}

/// The thumbnails' filter, the one Hugo's `Lanczos` also uses.
pub const LANCZOS3: fr::ResizeAlg = fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3);

thread_local! {
    // Keeps its multi-megabyte scratch buffer between images instead of allocating (and
    // page-faulting) a fresh one for every resize.
    static RESIZER: RefCell<fr::Resizer> = RefCell::new(fr::Resizer::new());
}

/// Resizes with fast_image_resize (SIMD; about 13× faster than `image`'s resize here).
pub fn resize_rgb(
    rgb: &image::RgbImage,
    width: u32,
    height: u32,
    alg: fr::ResizeAlg,
) -> Result<image::RgbImage, String> {
    let src =
        fr::images::ImageRef::new(rgb.width(), rgb.height(), rgb.as_raw(), fr::PixelType::U8x3)
            .map_err(|e| format!("resizing: {e}"))?;
    let mut dst = fr::images::Image::new(width, height, fr::PixelType::U8x3);
    RESIZER
        .with_borrow_mut(|r| r.resize(&src, &mut dst, &fr::ResizeOptions::new().resize_alg(alg)))
        .map_err(|e| format!("resizing: {e}"))?;
    image::RgbImage::from_raw(width, height, dst.into_vec())
        .ok_or_else(|| "resizing: wrong buffer size".to_string())
}

pub fn encode_jpeg(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, String> {
    encode_jpeg_q(rgb, width, height, JPEG_QUALITY)
}

pub fn encode_jpeg_q(rgb: &[u8], width: u32, height: u32, quality: u8) -> Result<Vec<u8>, String> {
    let (w, h) = (
        u16::try_from(width).map_err(|_| "image too wide for JPEG".to_string())?,
        u16::try_from(height).map_err(|_| "image too tall for JPEG".to_string())?,
    );
    // Room for a typical thumbnail up front, so the output is not copied as it grows.
    let mut out = Vec::with_capacity(rgb.len() / 8);
    // The standard Huffman tables: fitted ones (`set_optimized_huffman_tables`) make
    // files about a tenth smaller but take a second pass over every block (RECIPE r4).
    jpeg_encoder::Encoder::new(&mut out, quality)
        .encode(rgb, w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| format!("encoding JPEG: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn thumbnails_are_cached_by_content_and_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ImageCache::new(dir.path().join("cache"));
        let a = dir.path().join("a.png");
        std::fs::write(&a, png(900, 450)).unwrap();

        let (p, stats) = cache.prepare(std::slice::from_ref(&a), &|_, _| {});
        assert_eq!(stats.made, 3);
        let info = &p[&a];
        assert_eq!((info.source.width, info.source.height), (900, 450));
        assert_eq!(
            info.thumbs
                .iter()
                .map(|t| (t.width, t.height))
                .collect::<Vec<_>>(),
            [(200, 100), (400, 200), (800, 400)]
        );
        let decoded =
            image::load_from_memory(&std::fs::read(&info.thumbs[0].path).unwrap()).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (200, 100));

        // Same content under a new mtime (a git checkout): no new thumbnails.
        std::fs::write(&a, png(900, 450)).unwrap();
        let (_, stats) = cache.prepare(std::slice::from_ref(&a), &|_, _| {});
        assert_eq!((stats.made, stats.pruned), (0, 0));

        // New content: new thumbnails, the old ones pruned.
        std::fs::write(&a, png(900, 300)).unwrap();
        let (_, stats) = cache.prepare(std::slice::from_ref(&a), &|_, _| {});
        assert_eq!((stats.made, stats.pruned), (3, 3));
    }

    #[test]
    fn small_sources_are_not_upscaled_and_broken_ones_reported() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ImageCache::new(dir.path().join("cache"));
        let small = dir.path().join("s.png");
        std::fs::write(&small, png(180, 180)).unwrap();
        let broken = dir.path().join("b.png");
        std::fs::write(&broken, b"not an image").unwrap();
        let (p, stats) = cache.prepare(&[small.clone(), broken.clone()], &|_, _| {});
        assert!(p[&small].thumbs.is_empty());
        assert_eq!(stats.failed.len(), 1);
        assert_eq!(stats.failed[0].0, broken);
    }

    #[test]
    fn decoded_pixels_are_handed_on_once_and_not_when_cached() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ImageCache::new(dir.path().join("cache"));
        let a = dir.path().join("a.png");
        std::fs::write(&a, png(900, 450)).unwrap();
        let seen = std::sync::Mutex::new(Vec::new());
        let hook = |info: &SourceInfo, rgb: &image::RgbImage| {
            seen.lock()
                .unwrap()
                .push((info.sha256.clone(), rgb.dimensions()));
        };
        let (p, _) = cache.prepare(std::slice::from_ref(&a), &hook);
        assert_eq!(
            *seen.lock().unwrap(),
            [(p[&a].source.sha256.clone(), (900, 450))]
        );
        // Thumbnails cached: nothing is decoded, so nothing is handed on.
        cache.prepare(std::slice::from_ref(&a), &hook);
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_thumbnail_remade_alone_matches_the_cold_one() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ImageCache::new(dir.path().join("cache"));
        let a = dir.path().join("a.png");
        std::fs::write(&a, png(1000, 1000)).unwrap();
        let (p, _) = cache.prepare(std::slice::from_ref(&a), &|_, _| {});
        let small = &p[&a].thumbs[0];
        let cold = std::fs::read(&small.path).unwrap();
        std::fs::remove_file(&small.path).unwrap();
        let (_, stats) = cache.prepare(std::slice::from_ref(&a), &|_, _| {});
        assert_eq!(stats.made, 1);
        assert_eq!(std::fs::read(&small.path).unwrap(), cold);
    }
}
