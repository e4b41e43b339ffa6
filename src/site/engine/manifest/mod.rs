//! The build manifest in `<root>/.chorus-cache/site-<out>/`: what the last build of one
//! output folder saw and made. A small index (`index.bin`) holds, per group, a fingerprint
//! of its input files' metadata, the count and size of what it wrote and its problems,
//! plus the listing pages' keys; that is all an unchanged rebuild reads. The rest is kept
//! in shards by group name, read only when needed: `entries/<xx>.bin` (per group: its
//! input files with content hashes, the files it wrote, the cache files it uses) and
//! `summaries/<xx>.bin` (per group: the [`GroupSummary`] the listings need). A build
//! writes only the shards it changed. All files are bincode. It is an accelerator: a
//! missing, unreadable or inconsistent manifest means a full build, never a wrong one.

mod shards;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use self::shards::Shards;
use crate::fsutil::{write_rebuildable, TEMP_PREFIX};
use crate::site::group::images::{stat_of, SourceInfo};
use crate::site::group::summary::GroupSummary;
use crate::store::{read_capped, sha256_hex, MAX_IMAGE_BYTES};

/// Bumped whenever the manifest's meaning changes, so an old one means a full build.
/// 2: a bincode index plus sharded entries and summaries (1 was one JSON file).
/// 3: the analysis numbers left the summaries for files of their own.
/// 5: vote tallies carry their voter label.
const FORMAT: u32 = 5;

/// What every build reads: small, whatever the size of the history.
#[derive(Debug, Default, Serialize, Deserialize)]
struct IndexFile {
    format: u32,
    settings: String,
    groups: BTreeMap<String, GroupIndex>,
    prompt_texts: BTreeMap<String, String>,
    runs_problems: Vec<String>,
    listings: BTreeMap<PathBuf, (String, u64)>,
}

/// A group as the index knows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupIndex {
    /// [`fingerprint`] of its input files' names, lengths and mtimes.
    pub fingerprint: [u8; 16],
    pub output_files: u64,
    pub output_bytes: u64,
    pub problems: Vec<String>,
    /// Whether it holds a readable group (and so has a summary).
    pub summary: bool,
    /// The next older group's id when the pages were made: the blind page links there.
    pub next_blind: Option<String>,
}

/// The manifest of one output folder: the index in memory, the shards as far as read.
#[derive(Debug, Default)]
pub struct Manifest {
    /// Hash of everything every page depends on (theme, settings, chorus build): when it
    /// changes, everything is rendered again.
    pub settings: String,
    /// By the group's folder name under runs/.
    pub groups: BTreeMap<String, GroupIndex>,
    /// Prompt texts by SHA-256, for the prompt-version pages.
    pub prompt_texts: BTreeMap<String, String>,
    /// Problems with runs/ itself (links or special files beside the groups).
    pub runs_problems: Vec<String>,
    /// Files the listings, exports and theme wrote: path → (key of what it shows, length).
    pub listings: BTreeMap<PathBuf, (String, u64)>,
    entries: Shards<GroupEntry>,
    summaries: Shards<GroupSummary>,
    index_dirty: bool,
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
    pub image: Option<SourceInfo>,
}

/// A group folder's files by metadata only: (name, length, mtime), sorted by name.
pub type Listing = Vec<(String, u64, u128)>;

/// The manifest does not match itself (a shard lost or from another build): the caller
/// builds everything.
#[derive(Debug)]
pub struct Inconsistent(pub String);

/// The folder's files by metadata, skipping hidden and temp files. Links and special
/// files are listed by their own metadata (so adding one, say a linked `votes`, rebuilds
/// the group and its problem is reported), never read: `store` refuses to.
pub fn list_inputs(dir: &Path) -> Listing {
    let Ok(Some(entries)) = crate::store::read_folder(dir) else {
        return Vec::new();
    };
    let mut files: Listing = entries
        .into_iter()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let kind = e.file_type().ok()?;
            if name.starts_with('.') || name.starts_with(TEMP_PREFIX) || kind.is_dir() {
                return None;
            }
            // By the entry (which does not follow links): no second lookup of the
            // folder's path for each file.
            let (len, mtime) = stat_of(&e.metadata().ok()?)?;
            Some((name, len, mtime))
        })
        .collect();
    // A group's votes are inputs of the group: a new votes file rebuilds it.
    files.extend(votes_inputs(dir));
    files.sort();
    files
}

/// A digest of a folder's files by metadata: equal digests mean no file was added,
/// removed, resized or touched.
pub fn fingerprint<'a>(files: impl IntoIterator<Item = (&'a str, u64, u128)>) -> [u8; 16] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for (name, len, mtime) in files {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update(len.to_le_bytes());
        h.update(mtime.to_le_bytes());
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.finalize()[..16]);
    out
}

pub fn listing_fingerprint(listing: &Listing) -> [u8; 16] {
    fingerprint(listing.iter().map(|(n, l, m)| (n.as_str(), *l, *m)))
}

/// `votes/<name>.json` of a group folder, by metadata; none when `votes` is a link or
/// not a folder (it is then listed as an entry of the group folder itself).
fn votes_inputs(dir: &Path) -> Listing {
    let votes = crate::store::votes::VOTES_DIR;
    let Ok(Some(entries)) = crate::store::read_folder(&dir.join(votes)) else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            if name.starts_with('.') || name.starts_with(TEMP_PREFIX) || !name.ends_with(".json") {
                return None;
            }
            let (len, mtime) = stat_of(&e.metadata().ok()?)?;
            Some((format!("{votes}/{name}"), len, mtime))
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
                // Through the one opener: a link or FIFO put where a file was is never read.
                let bytes = read_capped(&dir.join(name), MAX_IMAGE_BYTES).ok()?;
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

    fn index(&self) -> GroupIndex {
        GroupIndex {
            fingerprint: fingerprint(
                self.inputs
                    .iter()
                    .map(|f| (f.name.as_str(), f.len, f.mtime_ns)),
            ),
            output_files: self.outputs.len() as u64,
            output_bytes: self.output_bytes(),
            problems: self.problems.clone(),
            summary: self.summary.is_some(),
            next_blind: self.next_blind.clone(),
        }
    }
}

impl Manifest {
    fn index_path(state_dir: &Path) -> PathBuf {
        state_dir.join("index.bin")
    }

    /// The last build's index (shards are read when asked for), or an empty manifest (a
    /// full build) when there is none or it cannot be read or is of another format.
    pub fn load(state_dir: &Path) -> Manifest {
        let index = std::fs::read(Self::index_path(state_dir))
            .ok()
            .and_then(|b| bincode::deserialize::<IndexFile>(&b).ok())
            .filter(|m| m.format == FORMAT);
        let Some(index) = index else {
            return Manifest::empty(state_dir);
        };
        Manifest {
            settings: index.settings,
            groups: index.groups,
            prompt_texts: index.prompt_texts,
            runs_problems: index.runs_problems,
            listings: index.listings,
            entries: Shards::new(state_dir.join("entries")),
            summaries: Shards::new(state_dir.join("summaries")),
            index_dirty: false,
        }
    }

    /// An empty manifest, whose shards on disk are ignored and replaced when saved: what
    /// a full build starts from when the last one is unknown.
    pub fn empty(state_dir: &Path) -> Manifest {
        Manifest {
            entries: Shards::fresh(state_dir.join("entries")),
            summaries: Shards::fresh(state_dir.join("summaries")),
            index_dirty: true,
            ..Manifest::default()
        }
    }

    /// Whether the group's folder is, by metadata, exactly as the last build saw it.
    pub fn same_fingerprint(&self, name: &str, listing: &Listing) -> bool {
        self.groups
            .get(name)
            .is_some_and(|g| g.fingerprint == listing_fingerprint(listing))
    }

    /// Reads the entries of these groups (the ones about to be looked at closely).
    pub fn load_entries<'a>(
        &mut self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), Inconsistent> {
        self.entries.load(names)?;
        Ok(())
    }

    /// The shard a group's entry is kept in: a build that goes through its groups in this
    /// order can let each shard go (see [`Manifest::release_entries`]) once it is done.
    pub fn entry_shard(name: &str) -> u8 {
        shards::shard_of(name)
    }

    /// Writes the entries of the shards below `below` (every shard with `None`) and drops
    /// them from memory, so a full build never holds every group's entry at once. They
    /// are written before the index: a full build starts with [`Manifest::forget_saved`],
    /// so a build stopped part-way is followed by a full one.
    pub fn release_entries(&mut self, below: Option<u8>) -> std::io::Result<()> {
        self.entries.release(below)
    }

    /// Removes the saved index, so that until this build saves its own the next build is
    /// a full one.
    pub fn forget_saved(state_dir: &Path) {
        let _ = std::fs::remove_file(Self::index_path(state_dir));
    }

    /// Reads every group's summary (the listings are about to be made).
    pub fn load_summaries(&mut self) -> Result<(), Inconsistent> {
        self.summaries.load_all()?;
        let mismatch = self
            .groups
            .iter()
            .find(|(name, g)| g.summary != self.summaries.get(name).is_some());
        if let Some((name, _)) = mismatch {
            return Err(Inconsistent(format!("the summary of {name}")));
        }
        if self.summaries.values().count() != self.readable_groups() {
            return Err(Inconsistent("summaries of unknown groups".into()));
        }
        Ok(())
    }

    /// The group's entry (read by [`Manifest::load_entries`]), with its summary if read.
    pub fn entry(&self, name: &str) -> Option<GroupEntry> {
        let mut e = self.entries.get(name)?.clone();
        e.summary = self.summaries.get(name).cloned();
        Some(e)
    }

    /// Same as [`Manifest::entry`], without the summary and without copying.
    pub fn entry_ref(&self, name: &str) -> Option<&GroupEntry> {
        self.entries.get(name)
    }

    /// The group's inputs are unchanged but their mtimes moved.
    pub fn refresh_inputs(&mut self, name: &str, inputs: Vec<InputFile>) {
        if let Some(e) = self.entries.get_mut(name) {
            e.inputs = inputs;
            let fp = e.index().fingerprint;
            if let Some(g) = self.groups.get_mut(name) {
                g.fingerprint = fp;
            }
            self.index_dirty = true;
        }
    }

    /// Records a built group; returns what the last build had.
    pub fn insert(
        &mut self,
        name: String,
        mut entry: GroupEntry,
    ) -> Result<Option<GroupEntry>, Inconsistent> {
        let old = self.remove(&name)?;
        self.groups.insert(name.clone(), entry.index());
        match entry.summary.take() {
            Some(s) => self.summaries.insert(name.clone(), s),
            None => {
                self.summaries.remove(&name);
            }
        }
        self.entries.insert(name, entry);
        self.index_dirty = true;
        Ok(old)
    }

    /// Forgets a group; returns what the last build had.
    pub fn remove(&mut self, name: &str) -> Result<Option<GroupEntry>, Inconsistent> {
        self.entries.load([name])?;
        self.summaries.load([name])?;
        let index = self.groups.remove(name);
        let summary = self.summaries.remove(name);
        let entry = self.entries.remove(name);
        self.index_dirty |= index.is_some();
        if index.is_some()
            && (entry.is_none() || index.as_ref().is_some_and(|i| i.summary) != summary.is_some())
        {
            return Err(Inconsistent(format!("the entry of {name}")));
        }
        Ok(entry.map(|e| GroupEntry { summary, ..e }))
    }

    /// Summaries of every readable group, newest first (after [`Manifest::load_summaries`]).
    pub fn summaries(&self) -> Vec<&GroupSummary> {
        let mut all: Vec<&GroupSummary> = self.summaries.values().collect();
        all.par_sort_by(|a, b| GroupSummary::newest_first(a, b));
        all
    }

    /// Every summary with its group's folder name (after [`Manifest::load_summaries`]).
    pub fn named_summaries(&self) -> impl Iterator<Item = (&str, &GroupSummary)> {
        self.summaries.named()
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

    pub fn readable_groups(&self) -> usize {
        self.groups.values().filter(|g| g.summary).count()
    }

    /// Total bytes of the output folder as this manifest knows it.
    pub fn site_bytes(&self) -> u64 {
        self.groups.values().map(|g| g.output_bytes).sum::<u64>()
            + self.listings.values().map(|(_, len)| len).sum::<u64>()
    }

    pub fn file_count(&self) -> usize {
        self.groups
            .values()
            .map(|g| g.output_files as usize)
            .sum::<usize>()
            + self.listings.len()
    }

    pub fn mark_changed(&mut self) {
        self.index_dirty = true;
    }

    /// Writes the shards that changed, then the index. Without fsync: losing it costs one
    /// full build, not correctness (a shard newer than its index is noticed).
    pub fn save(&mut self, state_dir: &Path) -> std::io::Result<()> {
        self.entries.save()?;
        self.summaries.save()?;
        if !self.index_dirty {
            return Ok(());
        }
        let index = IndexFile {
            format: FORMAT,
            settings: self.settings.clone(),
            groups: self.groups.clone(),
            prompt_texts: self.prompt_texts.clone(),
            runs_problems: self.runs_problems.clone(),
            listings: self.listings.clone(),
        };
        let bytes = bincode::serialize(&index).map_err(std::io::Error::other)?;
        write_rebuildable(&Self::index_path(state_dir), &bytes)?;
        // What format 1 kept: one JSON file, now stale.
        let _ = std::fs::remove_file(state_dir.join("manifest.json"));
        self.index_dirty = false;
        Ok(())
    }
}

/// Where the build state of one output folder lives: a folder per output, since two
/// outputs (say `site/` and `--out /tmp/preview`) may differ in settings.
pub fn state_dir(cache_dir: &Path, out: &Path) -> PathBuf {
    let abs = std::fs::canonicalize(out).unwrap_or_else(|_| out.to_path_buf());
    let id = sha256_hex(abs.to_string_lossy().as_bytes());
    cache_dir.join(format!("site-{}", &id[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// bincode writes no field names, so a `skip_serializing_if` anywhere in what the
    /// manifest keeps would make it unreadable (every build a full one): each kept type,
    /// with its optional parts both empty and full, must come back as it went in.
    #[test]
    fn what_the_manifest_keeps_round_trips_through_bincode() {
        let summary = |votes: bool| GroupSummary {
            id: "g".into(),
            order: "o".into(),
            created_at: "c".into(),
            created_date: "d".into(),
            prompt_version: "v1".into(),
            prompt_sha256: "s".into(),
            brush_name: "b".into(),
            counts: Default::default(),
            runs: Vec::new(),
            has_numbers: false,
            votes: if votes {
                vec![crate::site::analysis::ratings::VoteTally {
                    voter: "anonymous".into(),
                    winner: "a".into(),
                    losers: vec!["b".into()],
                    count: 2,
                }]
            } else {
                Vec::new()
            },
            digest: "x".into(),
        };
        for s in [summary(false), summary(true)] {
            let bytes = bincode::serialize(&s).unwrap();
            assert_eq!(bincode::deserialize::<GroupSummary>(&bytes).unwrap(), s);
        }
        let entry = GroupEntry {
            inputs: vec![InputFile {
                name: "a.png".into(),
                len: 3,
                mtime_ns: 4,
                sha256: "h".into(),
                image: None,
            }],
            next_blind: Some("n".into()),
            summary: Some(summary(true)),
            ..GroupEntry::default()
        };
        let back: GroupEntry = bincode::deserialize(&bincode::serialize(&entry).unwrap()).unwrap();
        assert_eq!(back.inputs, entry.inputs);
        assert_eq!(back.next_blind, entry.next_blind);
        assert_eq!(back.summary, entry.summary);
    }
}
