//! Loads a whole `runs/` tree. A broken file does not stop the load: it becomes a
//! [`StoreProblem`] and the rest is still read, so `check` can report everything and
//! `build` can publish the groups that are sound.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::{GroupRecord, RunRecord, Status, GROUP_FILE, SCHEMA_VERSION};
use crate::config::validate_slug;
use crate::fsutil::TEMP_PREFIX;

/// One problem in `runs/`: the file, the field (empty when the whole file is at fault)
/// and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{}: {reason}", file.display(), if field.is_empty() { String::new() } else { format!(": field \"{field}\"") })]
pub struct StoreProblem {
    pub file: PathBuf,
    pub field: String,
    pub reason: String,
}

impl StoreProblem {
    fn new(file: &Path, field: &str, reason: impl Into<String>) -> StoreProblem {
        StoreProblem {
            file: file.to_path_buf(),
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}

/// A group that could be read, with the runs that could be read, in the group's Artist
/// order.
#[derive(Debug, Clone)]
pub struct LoadedGroup {
    pub dir: PathBuf,
    pub group: GroupRecord,
    pub runs: Vec<RunRecord>,
}

impl LoadedGroup {
    pub fn run(&self, artist_slug: &str) -> Option<&RunRecord> {
        self.runs.iter().find(|r| r.artist_slug == artist_slug)
    }

    pub fn count(&self, status: Status) -> usize {
        self.runs.iter().filter(|r| r.status == status).count()
    }
}

#[derive(Debug, Default)]
pub struct RunsTree {
    /// Newest first.
    pub groups: Vec<LoadedGroup>,
    pub problems: Vec<StoreProblem>,
}

/// Reads every group under `runs_dir`. A missing `runs/` is an empty tree.
pub fn load_runs(runs_dir: &Path) -> RunsTree {
    let mut tree = RunsTree::default();
    let Ok(entries) = std::fs::read_dir(runs_dir) else {
        return tree;
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !is_hidden(p))
        .collect();
    dirs.sort();
    for dir in dirs {
        if let Some(group) = load_group(&dir, &mut tree.problems) {
            tree.groups.push(group);
        }
    }
    tree.groups.sort_by(newest_first);
    tree.problems
        .extend(super::leftovers(runs_dir).into_iter().map(|file| {
            StoreProblem::new(
                &file,
                "",
                "a temp file left by an interrupted write (chorus was stopped mid-write); `chorus resume` or `chorus build` removes it",
            )
        }));
    tree
}

/// The order of groups everywhere: newest first, ties broken by id.
pub fn newest_first(a: &LoadedGroup, b: &LoadedGroup) -> std::cmp::Ordering {
    (b.group.created_at, b.group.run_group_id).cmp(&(a.group.created_at, a.group.run_group_id))
}

/// Reads one group folder, as [`load_runs`] does for each (used by incremental rebuilds).
/// `None` when the folder holds no readable group; the problems say why.
pub fn load_group_dir(dir: &Path) -> (Option<LoadedGroup>, Vec<StoreProblem>) {
    let mut problems = Vec::new();
    if !dir.is_dir() || is_hidden(dir) {
        return (None, problems);
    }
    let group = load_group(dir, &mut problems);
    (group, problems)
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.') || n.starts_with(TEMP_PREFIX))
}

fn load_group(dir: &Path, problems: &mut Vec<StoreProblem>) -> Option<LoadedGroup> {
    let group_path = dir.join(GROUP_FILE);
    if !group_path.exists() {
        problems.push(StoreProblem::new(
            &group_path,
            "",
            "missing; every folder under runs/ must hold a group.json (remove the folder, or restore the file from git)",
        ));
        return None;
    }
    let group: GroupRecord = match read_record(&group_path) {
        Ok(g) => g,
        Err(p) => {
            problems.push(p);
            return None;
        }
    };
    let dir_name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if dir_name != group.run_group_id.to_string() {
        problems.push(StoreProblem::new(
            &group_path,
            "runGroupId",
            format!(
                "{} does not match its folder name {dir_name:?}",
                group.run_group_id
            ),
        ));
    }
    for (i, a) in group.artists.iter().enumerate() {
        if let Err(reason) = validate_slug(&a.slug) {
            problems.push(StoreProblem::new(
                &group_path,
                &format!("artists[{i}].slug"),
                reason,
            ));
        }
    }

    let mut runs = Vec::new();
    for artist in &group.artists {
        if validate_slug(&artist.slug).is_err() {
            continue;
        }
        let path = super::run_file(dir, &artist.slug);
        if !path.exists() {
            problems.push(StoreProblem::new(
                &path,
                "",
                format!(
                    "missing: group.json lists Artist {:?} but it has no run file (run `chorus resume {}` to redo it)",
                    artist.slug, group.run_group_id
                ),
            ));
            continue;
        }
        match read_record::<RunRecord>(&path) {
            Ok(run) => {
                // A run with a problem (say, a lost image) is still shown, flagged by the list.
                check_run(&path, dir, &group, &artist.slug, &run, problems);
                runs.push(run);
            }
            Err(p) => problems.push(p),
        }
    }
    for stray in stray_run_files(dir, &group) {
        problems.push(StoreProblem::new(
            &stray,
            "",
            "not an Artist of this group (group.json does not list it); remove it or add the Artist to group.json",
        ));
    }
    Some(LoadedGroup {
        dir: dir.to_path_buf(),
        group,
        runs,
    })
}

fn check_run(
    path: &Path,
    dir: &Path,
    group: &GroupRecord,
    slug: &str,
    run: &RunRecord,
    problems: &mut Vec<StoreProblem>,
) {
    let mut problem =
        |field: &str, reason: String| problems.push(StoreProblem::new(path, field, reason));
    if run.artist_slug != slug {
        problem(
            "artistSlug",
            format!(
                "{:?} does not match the file name {slug}.json",
                run.artist_slug
            ),
        );
    }
    if run.run_group_id != group.run_group_id {
        problem(
            "runGroupId",
            format!(
                "{} does not match group.json ({})",
                run.run_group_id, group.run_group_id
            ),
        );
    }
    if let Some(file) = &run.image_file {
        let expected_prefix = format!("{slug}.");
        if !file.starts_with(&expected_prefix) || file.contains(['/', '\\']) || file.contains("..")
        {
            problem(
                "imageFile",
                format!("{file:?} must be \"{slug}.<ext>\" beside the run file"),
            );
        } else if !dir.join(file).is_file() {
            problem(
                "imageFile",
                format!(
                    "image {} is missing; restore it from git, or run `chorus resume {}` to paint it again",
                    dir.join(file).display(),
                    group.run_group_id
                ),
            );
        }
    } else if run.status == Status::Done {
        problem(
            "imageFile",
            "a done run must name its image file".to_string(),
        );
    }
}

fn stray_run_files(dir: &Path, group: &GroupRecord) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut stray: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !is_hidden(p)
                && p.file_name().is_some_and(|n| n != GROUP_FILE)
                && !group
                    .artists
                    .iter()
                    .any(|a| p.file_stem().and_then(|s| s.to_str()) == Some(a.slug.as_str()))
        })
        .collect();
    stray.sort();
    stray
}

/// Reads one JSON record, refusing newer schema versions and naming the failing field.
fn read_record<T: DeserializeOwned>(path: &Path) -> Result<T, StoreProblem> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| StoreProblem::new(path, "", format!("cannot read: {e}")))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        StoreProblem::new(
            path,
            "",
            format!(
                "not valid JSON ({e}); restore it from git or delete it and run `chorus resume`"
            ),
        )
    })?;
    match value.get("schemaVersion").and_then(|v| v.as_u64()) {
        Some(v) if v > u64::from(SCHEMA_VERSION) => {
            return Err(StoreProblem::new(
                path,
                "schemaVersion",
                format!(
                    "version {v} is newer than this chorus reads ({SCHEMA_VERSION}); upgrade chorus"
                ),
            ))
        }
        _ => {}
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde names a missing field in its message; lift it into the field slot.
        let (field, reason) = match inner.strip_prefix("missing field `") {
            Some(rest) => {
                let name = rest.split('`').next().unwrap_or_default();
                let full = if field == "." {
                    name.to_string()
                } else {
                    format!("{field}.{name}")
                };
                (full, "missing (required)".to_string())
            }
            None => (if field == "." { String::new() } else { field }, inner),
        };
        StoreProblem::new(path, &field, reason)
    })
}
