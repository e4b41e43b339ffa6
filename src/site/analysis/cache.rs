//! The image-signature cache under `<root>/.chorus-cache/analysis/`: one small JSON file
//! per image, named by the SHA-256 of the image bytes, so an image is decoded and measured
//! once however often the site is built. It never lives in the output folder.

use std::path::{Path, PathBuf};

use super::image::{signature, signature_of_image, ImageSignature};
use crate::fsutil::write_rebuildable;
use crate::store::sha256_hex;

/// Where the cache lives inside the build's cache folder (`<root>/.chorus-cache`).
pub const CACHE_SUBDIR: &str = "analysis";
/// Bumped whenever the signature's algorithm or format changes, so old entries are
/// ignored instead of misread.
const VERSION: &str = "v2";

#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("{path}: not a readable image ({source}); regenerate the run or remove the file")]
    Decode {
        path: PathBuf,
        source: image::ImageError,
    },
    #[error("{path}: cannot write the analysis cache ({source}); check permissions or delete .chorus-cache")]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl From<AnalysisError> for crate::site::SiteError {
    fn from(e: AnalysisError) -> Self {
        match e {
            AnalysisError::Cache { path, source } => crate::site::SiteError::Io { path, source },
            other => crate::site::SiteError::Output(other.to_string()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SignatureCache {
    dir: PathBuf,
}

impl SignatureCache {
    /// The analysis cache inside the build's cache folder (`<root>/.chorus-cache`).
    pub fn new(cache_dir: &Path) -> SignatureCache {
        SignatureCache {
            dir: cache_dir.join(CACHE_SUBDIR).join(VERSION),
        }
    }

    pub fn entry_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    /// The signature of `bytes` (the content of the image at `path`, named in errors):
    /// from the cache when present and readable, otherwise computed and stored.
    pub fn signature(&self, path: &Path, bytes: &[u8]) -> Result<ImageSignature, AnalysisError> {
        let key = sha256_hex(bytes);
        self.signature_keyed(&key, path, || Ok(bytes.to_vec()))
    }

    /// Measures pixels another stage has already decoded (the thumbnail step), unless the
    /// signature of `sha256` is cached. Best effort: a failed write only means the
    /// analysis decodes the image again later, and reports the problem then.
    pub fn store_decoded(&self, sha256: &str, rgb: &image::RgbImage) {
        if self.cached(sha256).is_none() {
            let _ = self.store(sha256, &signature_of_image(rgb));
        }
    }

    /// Like [`Self::signature`] when the image's SHA-256 is already known (the thumbnail
    /// step memoises it): a warm build then reads neither the image nor its hash.
    pub fn signature_keyed(
        &self,
        sha256: &str,
        path: &Path,
        read: impl FnOnce() -> std::io::Result<Vec<u8>>,
    ) -> Result<ImageSignature, AnalysisError> {
        if let Some(sig) = self.cached(sha256) {
            return Ok(sig);
        }
        let bytes = read().map_err(|e| AnalysisError::Decode {
            path: path.to_path_buf(),
            source: image::ImageError::IoError(e),
        })?;
        let sig = signature(&bytes).map_err(|source| AnalysisError::Decode {
            path: path.to_path_buf(),
            source,
        })?;
        self.store(sha256, &sig)?;
        Ok(sig)
    }

    /// The stored signature of `sha256`; a missing or unreadable entry is `None`.
    fn cached(&self, sha256: &str) -> Option<ImageSignature> {
        let bytes = std::fs::read(self.entry_path(sha256)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Stores without fsync, like the thumbnails: a torn entry is unreadable and so is
    /// simply measured again.
    fn store(&self, sha256: &str, sig: &ImageSignature) -> Result<(), AnalysisError> {
        let entry = self.entry_path(sha256);
        let json = serde_json::to_vec(sig).expect("signatures always serialise");
        write_rebuildable(&entry, &json)
            .map(|_| ())
            .map_err(|source| AnalysisError::Cache {
                path: entry,
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::write_atomic;

    fn red_png() -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        image::RgbImage::from_pixel(8, 8, image::Rgb([255, 0, 0]))
            .write_to(&mut out, image::ImageFormat::Png)
            .unwrap();
        out.into_inner()
    }

    #[test]
    fn computes_once_then_reads_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SignatureCache::new(&dir.path().join(".chorus-cache"));
        let bytes = red_png();
        let first = cache.signature(Path::new("a.png"), &bytes).unwrap();
        let entry = cache.entry_path(&sha256_hex(&bytes));
        assert!(entry.starts_with(dir.path().join(".chorus-cache/analysis")));
        assert!(entry.is_file());
        // A planted entry proves the second call reads the cache instead of decoding.
        let mut planted = first.clone();
        planted.phash = "00000000000000ff".into();
        write_atomic(&entry, &serde_json::to_vec(&planted).unwrap()).unwrap();
        assert_eq!(
            cache.signature(Path::new("a.png"), &bytes).unwrap(),
            planted
        );
    }

    #[test]
    fn a_corrupt_entry_is_recomputed_and_a_bad_image_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SignatureCache::new(&dir.path().join(".chorus-cache"));
        let bytes = red_png();
        write_atomic(&cache.entry_path(&sha256_hex(&bytes)), b"{broken").unwrap();
        assert_eq!(
            cache.signature(Path::new("a.png"), &bytes).unwrap().palette[0].rgb,
            [255, 0, 0]
        );
        let err = cache
            .signature(Path::new("runs/g/x.png"), b"nope")
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("runs/g/x.png: not a readable image"),
            "{err}"
        );
    }

    #[test]
    fn pixels_measured_by_the_thumbnail_step_are_not_decoded_again() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SignatureCache::new(&dir.path().join(".chorus-cache"));
        let bytes = red_png();
        let sha = sha256_hex(&bytes);
        let rgb = image::load_from_memory(&bytes).unwrap().into_rgb8();
        // A torn entry counts as missing, so the decoded pixels replace it.
        write_atomic(&cache.entry_path(&sha), b"{broken").unwrap();
        cache.store_decoded(&sha, &rgb);
        let sig = cache
            .signature_keyed(&sha, Path::new("a.png"), || {
                Err(std::io::Error::other("the image must not be read again"))
            })
            .unwrap();
        // The same numbers as measuring the file from scratch.
        let fresh = SignatureCache::new(&dir.path().join("other"));
        assert_eq!(sig, fresh.signature(Path::new("a.png"), &bytes).unwrap());
    }
}
