//! The manifest's per-group records, kept in [`SHARDS`] files by group name and read and
//! written a shard at a time, so a build reads only the shards of the groups it looks at.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::Inconsistent;
use crate::fsutil::write_rebuildable;

/// Shards per kind: a group's shard is the first byte of its name's SHA-256.
const SHARDS: usize = 256;

/// Per-group records kept in [`SHARDS`] files, read and written a shard at a time.
#[derive(Debug)]
pub(super) struct Shards<T> {
    dir: PathBuf,
    loaded: BTreeMap<u8, BTreeMap<String, T>>,
    dirty: BTreeSet<u8>,
}

impl<T> Default for Shards<T> {
    fn default() -> Self {
        Shards {
            dir: PathBuf::new(),
            loaded: BTreeMap::new(),
            dirty: BTreeSet::new(),
        }
    }
}

/// One shard's records, by group folder name.
type Shard<T> = BTreeMap<String, T>;

fn shard_path(dir: &Path, shard: u8) -> PathBuf {
    dir.join(format!("{shard:02x}.bin"))
}

pub(super) fn shard_of(name: &str) -> u8 {
    use sha2::Digest;
    sha2::Sha256::digest(name.as_bytes())[0]
}

impl<T: Serialize + DeserializeOwned + Send> Shards<T> {
    pub(super) fn new(dir: PathBuf) -> Shards<T> {
        Shards {
            dir,
            loaded: BTreeMap::new(),
            dirty: BTreeSet::new(),
        }
    }

    /// Every shard known empty (and to be written so), whatever is on disk.
    pub(super) fn fresh(dir: PathBuf) -> Shards<T> {
        let all = (0..SHARDS as u16).map(|s| s as u8);
        Shards {
            dir,
            loaded: all.clone().map(|s| (s, BTreeMap::new())).collect(),
            dirty: all.collect(),
        }
    }

    fn path(&self, shard: u8) -> PathBuf {
        shard_path(&self.dir, shard)
    }

    pub(super) fn load<'a>(
        &mut self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), Inconsistent> {
        let wanted: BTreeSet<u8> = names
            .into_iter()
            .map(shard_of)
            .filter(|s| !self.loaded.contains_key(s))
            .collect();
        self.read(wanted.into_iter().collect())
    }

    pub(super) fn load_all(&mut self) -> Result<(), Inconsistent> {
        let wanted: Vec<u8> = (0..SHARDS as u16)
            .map(|s| s as u8)
            .filter(|s| !self.loaded.contains_key(s))
            .collect();
        self.read(wanted)
    }

    fn read(&mut self, shards: Vec<u8>) -> Result<(), Inconsistent> {
        let dir = &self.dir;
        let read: Vec<(u8, Result<Shard<T>, Inconsistent>)> = shards
            .into_par_iter()
            .map(|s| {
                let path = shard_path(dir, s);
                let map = match std::fs::read(&path) {
                    Ok(bytes) => bincode::deserialize(&bytes)
                        .map_err(|e| Inconsistent(format!("{}: {e}", path.display()))),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
                    Err(e) => Err(Inconsistent(format!("{}: {e}", path.display()))),
                };
                (s, map)
            })
            .collect();
        for (s, map) in read {
            self.loaded.insert(s, map?);
        }
        Ok(())
    }

    pub(super) fn get(&self, name: &str) -> Option<&T> {
        self.loaded.get(&shard_of(name))?.get(name)
    }

    pub(super) fn get_mut(&mut self, name: &str) -> Option<&mut T> {
        let s = shard_of(name);
        let v = self.loaded.get_mut(&s)?.get_mut(name)?;
        self.dirty.insert(s);
        Some(v)
    }

    /// The shard must have been read (or the old records in it would be lost on save):
    /// [`Manifest::remove`] reads it first.
    pub(super) fn insert(&mut self, name: String, value: T) {
        let s = shard_of(&name);
        self.loaded.entry(s).or_default().insert(name, value);
        self.dirty.insert(s);
    }

    pub(super) fn remove(&mut self, name: &str) -> Option<T> {
        let s = shard_of(name);
        let v = self.loaded.get_mut(&s)?.remove(name);
        if v.is_some() {
            self.dirty.insert(s);
        }
        v
    }

    pub(super) fn named(&self) -> impl Iterator<Item = (&str, &T)> {
        self.loaded
            .values()
            .flat_map(|m| m.iter().map(|(k, v)| (k.as_str(), v)))
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &T> {
        self.loaded.values().flat_map(BTreeMap::values)
    }

    pub(super) fn save(&mut self) -> std::io::Result<()> {
        for s in std::mem::take(&mut self.dirty) {
            self.write(s)?;
        }
        Ok(())
    }

    /// Writes the loaded shards below `below` (all with `None`) if changed and drops them
    /// from memory; they are read again when asked for.
    pub(super) fn release(&mut self, below: Option<u8>) -> std::io::Result<()> {
        let done: Vec<u8> = self
            .loaded
            .keys()
            .copied()
            .filter(|&s| below.map_or(true, |b| s < b))
            .collect();
        for s in done {
            if self.dirty.contains(&s) {
                self.write(s)?;
                self.dirty.remove(&s);
            }
            self.loaded.remove(&s);
        }
        Ok(())
    }

    fn write(&self, s: u8) -> std::io::Result<()> {
        let path = self.path(s);
        match self.loaded.get(&s).filter(|m| !m.is_empty()) {
            Some(map) => {
                let bytes = bincode::serialize(map).map_err(std::io::Error::other)?;
                write_rebuildable(&path, &bytes).map(drop)
            }
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
        }
    }
}
