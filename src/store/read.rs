//! Loads a whole `runs/` tree. A broken file does not stop the load: it becomes a
//! [`StoreProblem`] and the rest is still read, so `check` can report everything and
//! `build` can publish the groups that are sound.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::files::{
    check_image_file, read_capped, read_folder, MAX_ARTISTS_PER_GROUP, MAX_GROUP_JSON_BYTES,
    MAX_RUN_JSON_BYTES, MAX_STATEMENT_BYTES,
};
use super::{GroupRecord, RunRecord, Status, GROUP_FILE, SCHEMA_VERSION};
use crate::config::validate_slug;
use crate::fsutil::TEMP_PREFIX;

/// One problem in `runs/`: the file, the field (empty when the whole file is at fault)
/// and what is wrong. Shown with control and bidi characters escaped: the file name, the
/// field and the reason may quote what a pull request put there.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", crate::untrusted::escape_controls(&format!("{}{}: {reason}", file.display(), if field.is_empty() { String::new() } else { format!(": field \"{field}\"") })))]
pub struct StoreProblem {
    pub file: PathBuf,
    pub field: String,
    pub reason: String,
}

impl StoreProblem {
    /// The problem as chorus shows it, on a page or a terminal: its file named from the
    /// project root (`runs/<id>/x.json`), never by the machine's folders.
    pub fn relative_to(&self, root: &Path) -> String {
        StoreProblem {
            file: self
                .file
                .strip_prefix(root)
                .unwrap_or(&self.file)
                .to_path_buf(),
            ..self.clone()
        }
        .to_string()
    }

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

/// Reads every group under `runs_dir`. A missing `runs/` is an empty tree. This holds the
/// whole history in memory; commands that only need a little of each group use
/// [`scan_groups`].
pub fn load_runs(runs_dir: &Path) -> RunsTree {
    let (mut groups, problems) = scan_groups(runs_dir, Some);
    groups.sort_by(newest_first);
    RunsTree { groups, problems }
}

/// Reads the groups under `runs_dir` in parallel, handing each to `keep` as soon as it is
/// read and holding on only to what `keep` returns: memory follows what the caller keeps,
/// not the size of the history. Results and problems come in folder-name order.
pub fn scan_groups<T: Send>(
    runs_dir: &Path,
    keep: impl Fn(LoadedGroup) -> Option<T> + Sync,
) -> (Vec<T>, Vec<StoreProblem>) {
    use rayon::prelude::*;
    let mut problems = Vec::new();
    let dirs = group_dirs(runs_dir, &mut problems);
    let read: Vec<(Option<T>, Vec<StoreProblem>)> = dirs
        .par_iter()
        .map(|dir| {
            let mut problems = Vec::new();
            let kept = load_group(dir, &mut problems).and_then(&keep);
            (kept, problems)
        })
        .collect();
    let mut kept = Vec::new();
    for (k, p) in read {
        kept.extend(k);
        problems.extend(p);
    }
    problems.extend(super::leftovers(runs_dir).into_iter().map(|file| {
        StoreProblem::new(
            &file,
            "",
            "a temp file left by an interrupted write (chorus was stopped mid-write); `chorus resume` or `chorus build` removes it",
        )
    }));
    (kept, problems)
}

/// The group folders under `runs_dir`, sorted. Symbolic links and special files are
/// problems, never followed: a link would publish whatever it points at.
pub fn group_dirs(runs_dir: &Path, problems: &mut Vec<StoreProblem>) -> Vec<PathBuf> {
    let entries = match read_folder(runs_dir) {
        Ok(entries) => entries.unwrap_or_default(),
        Err(reason) => {
            problems.push(StoreProblem::new(runs_dir, "", reason));
            return Vec::new();
        }
    };
    let mut dirs = Vec::new();
    for entry in entries {
        let path = entry.path();
        if is_hidden(&path) {
            continue;
        }
        match entry.file_type() {
            Ok(t) if t.is_dir() => dirs.push(path),
            Ok(t) if t.is_file() => {} // a README beside the groups is fine
            _ => problems.push(special_file(&path)),
        }
    }
    dirs
}

fn special_file(path: &Path) -> StoreProblem {
    StoreProblem::new(
        path,
        "",
        "is a symbolic link or special file; chorus never follows or reads these under runs/ (remove it)",
    )
}

/// The order of groups everywhere: newest first, ties broken by id.
pub fn newest_first(a: &LoadedGroup, b: &LoadedGroup) -> std::cmp::Ordering {
    (b.group.created_at, b.group.run_group_id).cmp(&(a.group.created_at, a.group.run_group_id))
}

/// Reads one group folder, as [`load_runs`] does for each (used by incremental rebuilds).
/// `None` when the folder holds no readable group; the problems say why.
pub fn load_group_dir(dir: &Path) -> (Option<LoadedGroup>, Vec<StoreProblem>) {
    let mut problems = Vec::new();
    let real_dir = std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_dir());
    if is_hidden(dir) || !dir.exists() {
        return (None, problems);
    }
    if !real_dir {
        problems.push(special_file(dir));
        return (None, problems);
    }
    let group = load_group(dir, &mut problems);
    (group, problems)
}

/// The group's place in time, `(createdAt, runGroupId)`, from its group.json alone; `None`
/// when that file cannot be read or names another folder's group (loading the group says
/// why).
pub fn group_order(dir: &Path) -> Option<(String, String)> {
    let group: GroupRecord = read_record(&dir.join(GROUP_FILE), MAX_GROUP_JSON_BYTES).ok()?;
    let id = group.run_group_id.to_string();
    (dir.file_name()? == id.as_str()).then(|| (order_key(&group), id))
}

/// Sorts groups as the runs do: by creation time to the nanosecond (then by id).
pub fn order_key(group: &GroupRecord) -> String {
    group
        .created_at
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.') || n.starts_with(TEMP_PREFIX))
}

fn load_group(dir: &Path, problems: &mut Vec<StoreProblem>) -> Option<LoadedGroup> {
    let group_path = dir.join(GROUP_FILE);
    if std::fs::symlink_metadata(&group_path).is_err() {
        problems.push(StoreProblem::new(
            &group_path,
            "",
            "missing; every folder under runs/ must hold a group.json (remove the folder, or restore the file from git)",
        ));
        return None;
    }
    let group: GroupRecord = match read_record(&group_path, MAX_GROUP_JSON_BYTES) {
        Ok(g) => g,
        Err(p) => {
            problems.push(p);
            return None;
        }
    };
    let dir_name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    // The folder name is the group's identity (its pages are groups/<id>/): a copy of
    // another group's folder would list that group twice and overwrite its pages.
    if dir_name != group.run_group_id.to_string() {
        problems.push(StoreProblem::new(
            &group_path,
            "runGroupId",
            format!(
                "{} does not match its folder name {dir_name:?}, so the folder is skipped; \
                 rename the folder to its group id, or remove it if it is a copy",
                group.run_group_id
            ),
        ));
        return None;
    }
    if group.artists.len() > MAX_ARTISTS_PER_GROUP {
        problems.push(StoreProblem::new(
            &group_path,
            "artists",
            format!(
                "{} Artists, more than the {MAX_ARTISTS_PER_GROUP} a group may have; split the group",
                group.artists.len()
            ),
        ));
        return None;
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
        if std::fs::symlink_metadata(&path).is_err() {
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
        match read_record::<RunRecord>(&path, MAX_RUN_JSON_BYTES) {
            Ok(run) => {
                // A run with a problem (say, a lost image) is still shown, flagged by the list.
                check_run(&path, dir, &group, &artist.slug, &run, problems);
                runs.push(run);
            }
            Err(p) => problems.push(p),
        }
    }
    problems.extend(special_entries(dir));
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
    if run.artist_stmt.len() > MAX_STATEMENT_BYTES {
        problem(
            "artistStmt",
            format!(
                "{} bytes, more than the {MAX_STATEMENT_BYTES} a page shows; it is cut there",
                run.artist_stmt.len()
            ),
        );
    }
    if let Some(file) = &run.image_file {
        let ext = file.strip_prefix(&format!("{slug}.")).unwrap_or_default();
        let image = dir.join(file);
        if !IMAGE_EXTENSIONS.contains(&ext) {
            problem(
                "imageFile",
                format!(
                    "{file:?} must be \"{slug}.<ext>\" beside the run file, with <ext> one of {}",
                    IMAGE_EXTENSIONS.join(", ")
                ),
            );
        } else if std::fs::symlink_metadata(&image).is_err() {
            problem(
                "imageFile",
                format!(
                    "image {file} is missing; restore it from git, or run `chorus resume {}` to paint it again",
                    group.run_group_id
                ),
            );
        } else if let Err(reason) = check_image_file(&image) {
            problem("imageFile", format!("{file}: {reason}"));
        }
    } else if run.status == Status::Done {
        problem(
            "imageFile",
            "a done run must name its image file".to_string(),
        );
    }
}

/// The extensions an `imageFile` may have. What is published is named from the
/// image's content; the name on disk must still look like an image to a reviewer.
pub const IMAGE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "webp", "gif"];

/// Symbolic links and special files inside a group folder, and a `votes` that is not a
/// real folder (its votes are never read; see `votes::votes_files`).
fn special_entries(dir: &Path) -> Vec<StoreProblem> {
    let mut found: Vec<StoreProblem> = entries(dir)
        .into_iter()
        .filter(|e| e.file_type().map_or(true, |t| !t.is_file() && !t.is_dir()))
        .filter(|e| e.file_name() != super::votes::VOTES_DIR)
        .map(|e| special_file(&e.path()))
        .collect();
    if let Err(reason) = super::votes::votes_files(dir) {
        found.push(StoreProblem::new(
            &dir.join(super::votes::VOTES_DIR),
            "",
            format!("{reason}; its votes are not counted"),
        ));
    }
    found.sort_by(|a, b| a.file.cmp(&b.file));
    found
}

/// A group folder's entries, sorted; none when it cannot be read as a real folder.
fn entries(dir: &Path) -> Vec<std::fs::DirEntry> {
    read_folder(dir).ok().flatten().unwrap_or_default()
}

fn stray_run_files(dir: &Path, group: &GroupRecord) -> Vec<PathBuf> {
    entries(dir)
        .into_iter()
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
        .collect()
}

/// Reads one JSON record, refusing newer schema versions and naming the failing field.
fn read_record<T: DeserializeOwned>(path: &Path, cap: u64) -> Result<T, StoreProblem> {
    let bytes = read_capped(path, cap).map_err(|reason| StoreProblem::new(path, "", reason))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
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
