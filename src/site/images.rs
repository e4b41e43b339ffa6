//! Images for the site: identifies each run's image (content hash, size) and makes JPEG
//! thumbnails in a cache kept between builds (`<root>/.chorus-cache/`), keyed by the
//! source's SHA-256 and the resize parameters, never by mtime. It never writes the output
//! folder; `site` copies from the cache.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use fast_image_resize as fr;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::fsutil::write_rebuildable;
use crate::store::sha256_hex;

/// Thumbnail widths (CSS pixels × density the pages ask for). Sources no wider than a
/// width are not upscaled: the full image serves that slot.
pub const THUMB_WIDTHS: [u32; 2] = [400, 800];
/// JPEG quality of thumbnails: 80 is where artefacts stop being visible at these sizes.
pub const JPEG_QUALITY: u8 = 80;
/// Bumped whenever the thumbnail recipe changes, so old cache entries become stale.
const RECIPE: &str = "r1-lanczos3";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub sha256: String,
    pub width: u32,
    pub height: u32,
}

/// One resized variant, in the cache.
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
}

/// What preparing the images did, for the build report and the bench.
#[derive(Debug, Clone, Default)]
pub struct ImageStats {
    pub sources: usize,
    /// Sources read and hashed this build (the others matched the memo).
    pub hashed: usize,
    /// Thumbnails made this build (the others were in the cache).
    pub made: usize,
    pub pruned: usize,
    /// Images that could not be read or decoded: (file, reason).
    pub failed: Vec<(PathBuf, String)>,
}

/// The cache: `thumbs/` holds the JPEGs, `sources.json` remembers the hash and size of
/// each source by (length, mtime). The memo only saves re-reading an unchanged file; a
/// changed mtime (a git checkout) means re-hashing, and the same hash then finds the
/// same thumbnails.
pub struct ImageCache {
    dir: PathBuf,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct SourceMemo {
    #[serde(default)]
    entries: BTreeMap<PathBuf, MemoEntry>,
}

/// One source's outcome: the prepared image, the memo entry to keep, thumbnails made,
/// and whether the source had to be read.
type Outcome = Result<(Prepared, Option<MemoEntry>, usize, bool), String>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct MemoEntry {
    len: u64,
    mtime_ns: u128,
    info: SourceInfo,
}

/// File length and modification time, the quick check for "unchanged since last time".
pub fn stat(path: &Path) -> Option<(u64, u128)> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some((meta.len(), mtime))
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

    fn memo_path(&self) -> PathBuf {
        self.dir.join("sources.json")
    }

    /// Identifies every source and makes the missing thumbnails, in parallel. Sources
    /// that cannot be read are left out of the map and listed in the stats.
    pub fn prepare(&self, sources: &[PathBuf]) -> (BTreeMap<PathBuf, Prepared>, ImageStats) {
        let memo: SourceMemo = std::fs::read(self.memo_path())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let mut stats = ImageStats {
            sources: sources.len(),
            ..ImageStats::default()
        };

        let results: Vec<(PathBuf, Outcome)> = sources
            .par_iter()
            .map(|src| (src.clone(), self.prepare_one(src, memo.entries.get(src))))
            .collect();

        let mut prepared = BTreeMap::new();
        let mut new_memo = SourceMemo::default();
        for (src, result) in results {
            match result {
                Ok((p, entry, made, hashed)) => {
                    stats.made += made;
                    stats.hashed += usize::from(hashed);
                    if let Some(entry) = entry {
                        new_memo.entries.insert(src.clone(), entry);
                    }
                    prepared.insert(src, p);
                }
                Err(reason) => stats.failed.push((src, reason)),
            }
        }
        // The memo is only an accelerator: failing to save it costs time, not correctness.
        if let Ok(bytes) = serde_json::to_vec(&new_memo) {
            let _ = write_rebuildable(&self.memo_path(), &bytes);
        }
        let keep: BTreeSet<&str> = prepared
            .values()
            .flat_map(|p| p.thumbs.iter().map(|t| t.key.as_str()))
            .collect();
        stats.pruned = self.prune(&keep);
        (prepared, stats)
    }

    /// Returns the prepared image, the memo entry to keep, thumbnails made, and whether
    /// the source was read.
    fn prepare_one(&self, src: &Path, memo: Option<&MemoEntry>) -> Outcome {
        let (len, mtime_ns) = stat(src).ok_or_else(|| "cannot read the file".to_string())?;
        let mut bytes: Option<Vec<u8>> = None;
        let (info, hashed) = match memo {
            Some(m) if m.len == len && m.mtime_ns == mtime_ns => (m.info.clone(), false),
            _ => {
                let b = std::fs::read(src).map_err(|e| e.to_string())?;
                let (width, height) = image::ImageReader::new(std::io::Cursor::new(&b))
                    .with_guessed_format()
                    .map_err(|e| e.to_string())?
                    .into_dimensions()
                    .map_err(|e| format!("not a readable image: {e}"))?;
                let info = SourceInfo {
                    sha256: sha256_hex(&b),
                    width,
                    height,
                };
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
                Thumb {
                    width: w,
                    height: h,
                    path: self.thumbs_dir().join(&key),
                    key,
                }
            })
            .collect();
        // An empty entry is what a power cut can leave behind (writes are not fsynced).
        let missing: Vec<&Thumb> = thumbs
            .iter()
            .filter(|t| std::fs::metadata(&t.path).map_or(true, |m| m.len() == 0))
            .collect();
        let made = missing.len();
        if !missing.is_empty() {
            let b = match bytes.take() {
                Some(b) => b,
                None => std::fs::read(src).map_err(|e| e.to_string())?,
            };
            let rgb = decode_rgb(&b)?;
            for t in &missing {
                let jpeg = resize_and_encode(&rgb, t.width, t.height)?;
                write_rebuildable(&t.path, &jpeg)
                    .map_err(|e| format!("writing {}: {e}", t.path.display()))?;
            }
        }
        let entry = MemoEntry {
            len,
            mtime_ns,
            info: info.clone(),
        };
        Ok((
            Prepared {
                source: info,
                thumbs,
            },
            Some(entry),
            made,
            hashed,
        ))
    }

    /// Removes cached thumbnails no source of this build needs.
    fn prune(&self, keep: &BTreeSet<&str>) -> usize {
        let Ok(entries) = std::fs::read_dir(self.thumbs_dir()) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name();
            let stale = name.to_str().map_or(true, |n| !keep.contains(n));
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

pub fn scaled_height(src_w: u32, src_h: u32, w: u32) -> u32 {
    ((u64::from(src_h) * u64::from(w) + u64::from(src_w) / 2) / u64::from(src_w)).max(1) as u32
}

/// Decodes any supported format to 8-bit RGB (alpha is dropped: thumbnails are JPEG).
pub fn decode_rgb(bytes: &[u8]) -> Result<image::RgbImage, String> {
    image::load_from_memory(bytes)
        .map(|img| img.into_rgb8())
        .map_err(|e| format!("not a readable image: {e}"))
}

/// Lanczos3 resize with fast_image_resize, then baseline JPEG with jpeg-encoder.
pub fn resize_and_encode(
    rgb: &image::RgbImage,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, String> {
    let resized = resize_rgb(rgb, width, height)?;
    encode_jpeg(&resized, width, height)
}

pub fn resize_rgb(rgb: &image::RgbImage, width: u32, height: u32) -> Result<Vec<u8>, String> {
    let src =
        fr::images::ImageRef::new(rgb.width(), rgb.height(), rgb.as_raw(), fr::PixelType::U8x3)
            .map_err(|e| format!("resizing: {e}"))?;
    let mut dst = fr::images::Image::new(width, height, fr::PixelType::U8x3);
    let options =
        fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3));
    fr::Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| format!("resizing: {e}"))?;
    Ok(dst.into_vec())
}

pub fn encode_jpeg(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, String> {
    let (w, h) = (
        u16::try_from(width).map_err(|_| "image too wide for JPEG".to_string())?,
        u16::try_from(height).map_err(|_| "image too tall for JPEG".to_string())?,
    );
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, JPEG_QUALITY)
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

        let (p, stats) = cache.prepare(std::slice::from_ref(&a));
        assert_eq!(stats.made, 2);
        let info = &p[&a];
        assert_eq!((info.source.width, info.source.height), (900, 450));
        assert_eq!(
            info.thumbs
                .iter()
                .map(|t| (t.width, t.height))
                .collect::<Vec<_>>(),
            [(400, 200), (800, 400)]
        );
        let decoded =
            image::load_from_memory(&std::fs::read(&info.thumbs[0].path).unwrap()).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (400, 200));

        // Same content under a new mtime (a git checkout): no new thumbnails.
        std::fs::write(&a, png(900, 450)).unwrap();
        let (_, stats) = cache.prepare(std::slice::from_ref(&a));
        assert_eq!((stats.made, stats.pruned), (0, 0));

        // New content: new thumbnails, the old ones pruned.
        std::fs::write(&a, png(900, 300)).unwrap();
        let (_, stats) = cache.prepare(std::slice::from_ref(&a));
        assert_eq!((stats.made, stats.pruned), (2, 2));
    }

    #[test]
    fn small_sources_are_not_upscaled_and_broken_ones_reported() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ImageCache::new(dir.path().join("cache"));
        let small = dir.path().join("s.png");
        std::fs::write(&small, png(300, 300)).unwrap();
        let broken = dir.path().join("b.png");
        std::fs::write(&broken, b"not an image").unwrap();
        let (p, stats) = cache.prepare(&[small.clone(), broken.clone()]);
        assert!(p[&small].thumbs.is_empty());
        assert_eq!(stats.failed.len(), 1);
        assert_eq!(stats.failed[0].0, broken);
    }
}
