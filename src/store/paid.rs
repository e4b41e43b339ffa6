//! A Brush's answer waiting to become an image: `.chorus-paid-<slug>.json` beside the run,
//! with the image bytes in `.chorus-paid-<slug>.bin` when the Brush sent bytes. It is
//! written before the download starts, so a painting that was paid for survives a failed
//! download or a crash, and removed once the image is stored. Readers of `runs/` skip it
//! and git ignores it: it may hold a signed URL, which must never be published.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::files::write_under;
use super::{to_json, StageMeta};

/// File names of waiting answers start with this; never confused with a temp file.
pub const PAID_PREFIX: &str = ".chorus-paid-";

/// The Brush's answer and the stage that paid for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaidImage {
    /// The brush stage as it will be recorded, cost included.
    pub brush: StageMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revised_prompt: Option<String>,
    /// The image URL (possibly signed) and when it stops working; none when the bytes
    /// are in the `.bin` file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A waiting answer as read back: the record, and the bytes when there is no URL.
#[derive(Debug, Clone)]
pub struct Waiting {
    pub paid: PaidImage,
    pub bytes: Option<Vec<u8>>,
}

fn paths(group_dir: &Path, artist_slug: &str) -> (PathBuf, PathBuf) {
    (
        group_dir.join(format!("{PAID_PREFIX}{artist_slug}.json")),
        group_dir.join(format!("{PAID_PREFIX}{artist_slug}.bin")),
    )
}

/// Writes the answer: the bytes first, then the record that points at them, so a record
/// on disk always has what it needs.
pub fn write_paid(
    group_dir: &Path,
    artist_slug: &str,
    paid: &PaidImage,
    bytes: Option<&[u8]>,
) -> std::io::Result<()> {
    let (record, bin) = paths(group_dir, artist_slug);
    let runs_dir = group_dir.parent().unwrap_or(group_dir);
    match bytes {
        Some(bytes) => write_under(runs_dir, &bin, bytes)?,
        None => remove(&bin)?,
    }
    write_under(runs_dir, &record, &to_json(paid))
}

/// The waiting answer for a run, if there is a whole one.
pub fn read_paid(group_dir: &Path, artist_slug: &str) -> Option<Waiting> {
    let (record, bin) = paths(group_dir, artist_slug);
    let paid: PaidImage = serde_json::from_slice(&std::fs::read(record).ok()?).ok()?;
    let bytes = match paid.url {
        Some(_) => None,
        None => Some(std::fs::read(bin).ok()?),
    };
    Some(Waiting { paid, bytes })
}

/// Forgets a waiting answer (the image is stored, or the answer cannot be used).
pub fn remove_paid(group_dir: &Path, artist_slug: &str) -> std::io::Result<()> {
    let (record, bin) = paths(group_dir, artist_slug);
    remove(&record)?;
    remove(&bin)
}

fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
