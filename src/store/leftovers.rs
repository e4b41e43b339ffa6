//! What an interrupted chorus leaves under `runs/`: `.chorus-tmp-*` files from an atomic
//! write cut short by a crash or a kill. `check` lists them; `generate`, `resume` and
//! `build` remove them. A temp file whose writer is still running (a `serve` rebuild while
//! `generate` writes) is never touched.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::fsutil::TEMP_PREFIX;

/// Without `/proc`, a temp file this old is taken as abandoned: a write takes milliseconds.
const ABANDONED_AFTER: Duration = Duration::from_secs(600);

/// Temp files in `runs/` and its group folders whose writer is gone, sorted.
pub fn leftovers(runs_dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = scan(runs_dir)
        .into_iter()
        .flat_map(|d| d.leftovers)
        .collect();
    found.sort();
    found
}

/// Removes [`leftovers`]; returns what was removed. An empty group folder goes too.
pub fn clean_leftovers(runs_dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for dir in scan(runs_dir) {
        let found = dir.leftovers.len();
        let gone: Vec<PathBuf> = dir
            .leftovers
            .into_iter()
            .filter(|p| std::fs::remove_file(p).is_ok())
            .collect();
        let all_gone = gone.len() == found;
        removed.extend(gone);
        // A group folder chorus made (named by a group id) that holds nothing: a crash came
        // before its group.json. remove_dir fails, as it should, on a folder that is not
        // empty (a file written since it was read).
        if dir.group && dir.others == 0 && all_gone {
            let _ = std::fs::remove_dir(&dir.path);
        }
    }
    removed.sort();
    removed
}

/// One folder of runs/ as the leftover scan saw it.
struct Seen {
    path: PathBuf,
    /// A group folder chorus made: named by a group id.
    group: bool,
    leftovers: Vec<PathBuf>,
    /// Entries that are not leftovers.
    others: usize,
}

/// runs/ and each folder in it, read in parallel: at 50,000 runs that is 12,500 folders.
fn scan(runs_dir: &Path) -> Vec<Seen> {
    use rayon::prelude::*;
    let mut dirs = vec![(runs_dir.to_path_buf(), false)];
    // Through the one opener: a linked runs/ or group folder is never cleaned.
    if let Ok(Some(entries)) = super::read_folder(runs_dir) {
        dirs.extend(
            entries
                .into_iter()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| {
                    let group = e
                        .file_name()
                        .to_str()
                        .is_some_and(|n| uuid::Uuid::parse_str(n).is_ok());
                    (e.path(), group)
                }),
        );
    }
    dirs.into_par_iter()
        .filter_map(|(path, group)| {
            let entries = super::read_folder(&path).ok()??;
            let mut seen = Seen {
                path,
                group,
                leftovers: Vec::new(),
                others: 0,
            };
            for e in entries {
                let p = e.path();
                if e.file_type().is_ok_and(|t| t.is_file()) && is_abandoned_temp(&p) {
                    seen.leftovers.push(p);
                } else {
                    seen.others += 1;
                }
            }
            Some(seen)
        })
        .collect()
}

/// `.chorus-tmp-<pid>-<n>-<name>` whose process no longer runs.
fn is_abandoned_temp(path: &Path) -> bool {
    let Some(rest) = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix(TEMP_PREFIX))
    else {
        return false;
    };
    let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
    match pid {
        Some(pid) if pid == std::process::id() => false,
        Some(pid) if Path::new("/proc/self").exists() => {
            !Path::new(&format!("/proc/{pid}")).exists()
        }
        _ => std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > ABANDONED_AFTER),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_temp_files_of_dead_writers_are_leftovers() {
        let runs = tempfile::tempdir().unwrap();
        let group = runs.path().join("g");
        std::fs::create_dir_all(&group).unwrap();
        // No process has pid u32::MAX - 1 (Linux caps pids far lower).
        let dead = group.join(format!("{TEMP_PREFIX}{}-0-a.png", u32::MAX - 1));
        let mine = group.join(format!("{TEMP_PREFIX}{}-0-a.json", std::process::id()));
        let top = runs
            .path()
            .join(format!("{TEMP_PREFIX}{}-3-x", u32::MAX - 1));
        for p in [
            &dead,
            &mine,
            &top,
            &group.join("a.json"),
            &group.join(".chorus-paid-a.json"),
        ] {
            std::fs::write(p, b"").unwrap();
        }
        if Path::new("/proc/self").exists() {
            assert_eq!(leftovers(runs.path()), vec![top.clone(), dead.clone()]);
            assert_eq!(clean_leftovers(runs.path()).len(), 2);
            assert!(!dead.exists() && mine.exists() && group.join("a.json").exists());
        }
    }
}
