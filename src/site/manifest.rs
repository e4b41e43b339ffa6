//! The build manifest in `<root>/.chorus-cache/site-<out>/`: what the last build of one
//! output folder saw and made. Per group: its input files (length, mtime and SHA-256),
//! the files it wrote, its problems and its [`GroupSummary`]; per listing page: the key of
//! what it showed. A new `chorus build` process compares file metadata with it (content
//! hashes only when the metadata differs) and rebuilds only what changed. It is an
//! accelerator: a missing or unreadable manifest means a full build, never a wrong one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::images::{stat, SourceInfo};
use super::summary::GroupSummary;
use crate::fsutil::{write_rebuildable, TEMP_PREFIX};
use crate::store::sha256_hex;

/// Bumped whenever the manifest's meaning changes, so an old one means a full build.
const FORMAT: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(default)]
    pub format: u32,
    /// Hash of everything every page depends on (theme, settings, chorus version): when
    /// it changes, everything is rendered again.
    #[serde(default)]
    pub settings: String,
    /// By the group's folder name under runs/.
    #[serde(default)]
    pub groups: BTreeMap<String, GroupEntry>,
    /// Prompt texts by SHA-256, for the prompt-version pages.
    #[serde(default)]
    pub prompt_texts: BTreeMap<String, String>,
    /// Problems with runs/ itself (links or special files beside the groups).
    #[serde(default)]
    pub runs_problems: Vec<String>,
    /// Files the listings, exports and theme wrote: path → (key of what it shows, length).
    #[serde(default)]
    pub listings: BTreeMap<PathBuf, (String, u64)>,
}

/// One group folder as the last build saw it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroupEntry {
    /// Every file in the folder, sorted by name.
    pub inputs: Vec<InputFile>,
    /// Files written for this group: root-relative path → length.
    pub outputs: BTreeMap<PathBuf, u64>,
    /// Cache files (thumbnails, web encodings) its images use.
    pub cache_keys: Vec<String>,
    /// Broken files and unreadable images, as the index lists them.
    pub problems: Vec<String>,
    /// `None` when the folder holds no readable group.
    pub summary: Option<GroupSummary>,
    /// The next older group's id when the pages were made: the blind page links there.
    #[serde(default)]
    pub next_blind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputFile {
    pub name: String,
    pub len: u64,
    pub mtime_ns: u128,
    pub sha256: String,
    /// For images: what identifying it found.
    #[serde(default)]
    pub image: Option<SourceInfo>,
}

/// A group folder's files by metadata only: (name, length, mtime), sorted by name.
pub type Listing = Vec<(String, u64, u128)>;

/// The folder's files by metadata, skipping hidden and temp files. Symlinks are listed
/// (so a change to one is noticed) but `store` refuses to read through them.
pub fn list_inputs(dir: &Path) -> Listing {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Listing = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            // Only regular files: a FIFO would block the read, a link is never followed
            // (`store` reports both).
            if name.starts_with('.')
                || name.starts_with(TEMP_PREFIX)
                || !e.file_type().is_ok_and(|t| t.is_file())
            {
                return None;
            }
            let (len, mtime) = stat(&e.path())?;
            Some((name, len, mtime))
        })
        .collect();
    // A group's votes are inputs of the group: a new votes file rebuilds it.
    files.extend(votes_inputs(dir));
    files.sort();
    files
}

/// `votes/<name>.json` of a group folder, by metadata; a linked `votes` folder is skipped
/// (`store` never reads through it).
fn votes_inputs(dir: &Path) -> Listing {
    let votes = dir.join(crate::store::votes::VOTES_DIR);
    if !std::fs::symlink_metadata(&votes).is_ok_and(|m| m.is_dir()) {
        return Vec::new();
    }
    crate::store::votes::votes_files(dir)
        .into_iter()
        .filter(|p| crate::store::is_regular_file(p))
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?;
            let (len, mtime) = stat(&p)?;
            Some((
                format!("{}/{name}", crate::store::votes::VOTES_DIR),
                len,
                mtime,
            ))
        })
        .collect()
}

impl GroupEntry {
    /// Whether the folder still holds what this entry was built from: same names, and each
    /// file the same by length and mtime, or else by content. Returns the entry's inputs
    /// brought up to date (new mtimes) when only metadata moved, e.g. after a git checkout.
    pub fn unchanged(&self, dir: &Path, now: &Listing) -> Option<Vec<InputFile>> {
        if now.len() != self.inputs.len() {
            return None;
        }
        let mut refreshed = Vec::with_capacity(now.len());
        for ((name, len, mtime), known) in now.iter().zip(&self.inputs) {
            if *name != known.name || *len != known.len {
                return None;
            }
            if *mtime != known.mtime_ns {
                let bytes = std::fs::read(dir.join(name)).ok()?;
                if sha256_hex(&bytes) != known.sha256 {
                    return None;
                }
            }
            refreshed.push(InputFile {
                mtime_ns: *mtime,
                ..known.clone()
            });
        }
        Some(refreshed)
    }

    /// The known identity of an image input, if its file is unchanged by metadata.
    pub fn known_image(&self, name: &str, len: u64, mtime_ns: u128) -> Option<&InputFile> {
        self.inputs
            .iter()
            .find(|f| f.name == name && f.len == len && f.mtime_ns == mtime_ns)
    }

    pub fn output_bytes(&self) -> u64 {
        self.outputs.values().sum()
    }
}

impl Manifest {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join("manifest.json")
    }

    /// The last build's manifest, or an empty one (a full build) when there is none or it
    /// cannot be read or is of another format.
    pub fn load(state_dir: &Path) -> Manifest {
        std::fs::read(Self::path(state_dir))
            .ok()
            .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
            .filter(|m| m.format == FORMAT)
            .unwrap_or_default()
    }

    /// Saves without fsync: losing it costs one full build, not correctness.
    pub fn save(&mut self, state_dir: &Path) -> std::io::Result<()> {
        self.format = FORMAT;
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        write_rebuildable(&Self::path(state_dir), &bytes).map(|_| ())
    }

    /// Summaries of every readable group, newest first.
    pub fn summaries(&self) -> Vec<&GroupSummary> {
        let mut all: Vec<&GroupSummary> = self
            .groups
            .values()
            .filter_map(|e| e.summary.as_ref())
            .collect();
        all.par_sort_by(|a, b| GroupSummary::newest_first(a, b));
        all
    }

    /// Every problem, folder by folder.
    pub fn problems(&self) -> Vec<String> {
        self.runs_problems
            .iter()
            .cloned()
            .chain(
                self.groups
                    .values()
                    .flat_map(|e| e.problems.iter().cloned()),
            )
            .collect()
    }

    /// Total bytes of the output folder as this manifest knows it.
    pub fn site_bytes(&self) -> u64 {
        self.groups
            .values()
            .map(GroupEntry::output_bytes)
            .sum::<u64>()
            + self.listings.values().map(|(_, len)| len).sum::<u64>()
    }

    pub fn file_count(&self) -> usize {
        self.groups.values().map(|e| e.outputs.len()).sum::<usize>() + self.listings.len()
    }
}

/// Where the build state of one output folder lives: a folder per output, since two
/// outputs (say `site/` and `--out /tmp/preview`) may differ in settings.
pub fn state_dir(cache_dir: &Path, out: &Path) -> PathBuf {
    let abs = std::fs::canonicalize(out).unwrap_or_else(|_| out.to_path_buf());
    let id = sha256_hex(abs.to_string_lossy().as_bytes());
    cache_dir.join(format!("site-{}", &id[..16]))
}
