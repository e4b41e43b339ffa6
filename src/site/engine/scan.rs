//! Which group folders a build looks at (all of runs/, or those `serve` saw change) and
//! what it finds in each by metadata alone: the first step of every incremental build.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::fsutil::TEMP_PREFIX;
use crate::site::engine::manifest::{list_inputs, InputFile, Listing};

/// What the scan found of one group folder.
pub(crate) enum Seen {
    Gone,
    /// Not in the manifest, or changed: built.
    New,
    /// Same metadata as last time.
    Same,
    /// Metadata moved; its content is compared next.
    Moved(Listing),
    /// Same content under new mtimes.
    Touched(Vec<InputFile>),
}

/// Which group folders an update looks at.
#[derive(Clone)]
pub(crate) enum Scan {
    /// Every folder under runs/ (a new process, or a full build).
    All,
    /// Only these (the watcher said so).
    Only(BTreeSet<PathBuf>),
}

/// Group folders as a scan found them.
pub(crate) struct Listed {
    /// Every folder looked at.
    pub dirs: Vec<PathBuf>,
    /// Each with its name and its files by metadata; `None` when it is gone (or hidden).
    pub folders: Vec<(PathBuf, String, Option<Listing>)>,
    /// Problems of runs/ itself, when all of it was read.
    pub runs_problems: Option<Vec<String>>,
}

/// Lists the folders `scan` names (all of runs/, or those the watcher saw change) and
/// their files by metadata, in parallel.
pub(crate) fn list_folders(runs_dir: &Path, root: &Path, scan: &Scan) -> Listed {
    let (dirs, runs_problems) = match scan {
        Scan::All => {
            let mut problems = Vec::new();
            let dirs = crate::store::group_dirs(runs_dir, &mut problems);
            let problems = problems.iter().map(|p| p.relative_to(root)).collect();
            (dirs, Some(problems))
        }
        Scan::Only(dirs) => (dirs.iter().cloned().collect(), None),
    };
    let folders = dirs
        .par_iter()
        .filter_map(|dir| {
            let name = dir.file_name()?.to_str()?.to_string();
            let gone = !dir.is_dir() || name.starts_with('.') || name.starts_with(TEMP_PREFIX);
            Some((dir.clone(), name, (!gone).then(|| list_inputs(dir))))
        })
        .collect();
    Listed {
        dirs,
        folders,
        runs_problems,
    }
}
