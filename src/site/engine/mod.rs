//! The build engine: which group folders a build looks at (`scan`), what it kept from
//! the last build (`manifest`, under `<root>/.chorus-cache/`), what a change touches
//! (`changes`), and the incremental update that rebuilds only that (`incremental`).

pub mod changes;
pub mod incremental;
pub mod manifest;
pub(crate) mod scan;
pub(crate) mod settings;
pub(crate) mod tidy;

use std::path::Path;

/// Wall-clock laps of a build's phases.
pub(crate) struct Phases {
    last: std::time::Instant,
    pub(crate) laps: Vec<(&'static str, std::time::Duration)>,
}

impl Phases {
    pub(crate) fn start() -> Phases {
        Phases {
            last: std::time::Instant::now(),
            laps: Vec::new(),
        }
    }

    pub(crate) fn lap(&mut self, name: &'static str) {
        let now = std::time::Instant::now();
        self.laps.push((name, now - self.last));
        self.last = now;
    }
}

/// What a full build made, as hashes of root-relative paths (output files) and of cache
/// file names: everything else in the output and the cache is removed. Hashes, since at
/// 50,000 runs the paths themselves would take tens of MB; two paths sharing a hash (odds
/// of about 1 in 10⁸ there) only leave one stale file in place.
#[derive(Default)]
pub(crate) struct Kept {
    pub outputs: std::collections::HashSet<u64>,
    pub cache: std::collections::HashSet<u64>,
}

impl Kept {
    pub fn add(&mut self, entry: &manifest::GroupEntry) {
        self.outputs
            .extend(entry.outputs.keys().map(|p| path_hash(p)));
        self.cache
            .extend(entry.cache_keys.iter().map(|k| path_hash(Path::new(k))));
    }
}

/// A hash of a path's components, so `a/b` and `a//b` agree.
pub(crate) fn path_hash(path: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for c in path.components() {
        c.as_os_str().hash(&mut h);
    }
    h.finish()
}
