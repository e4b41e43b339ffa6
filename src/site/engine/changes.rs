//! What a change touches: which group folders a set of changed paths affects (for
//! `serve` and `build --watch`), and which groups' blind pages must link to a new older
//! neighbour once groups come or go; and, for a build, which group folders changed since
//! the manifest saw them. Functions over paths and the manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;

use crate::fsutil::TEMP_PREFIX;
use crate::site::engine::manifest::{Inconsistent, Manifest};
use crate::site::engine::scan::{Listed, Scan, Seen};

/// What a set of changed paths asks of the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Affected {
    Nothing,
    /// A theme or template changed: every page may differ.
    Everything,
    /// These folders under `runs/` changed (created, edited or removed).
    Groups(BTreeSet<PathBuf>),
}

/// Sorts changed paths into what they affect. Paths outside `runs/`, `themes/` and
/// `templates/` (and temp files of atomic writes) affect nothing here; the config is the
/// caller's business, since it changes the [`Project`] itself.
pub fn affected(root: &Path, changed: &[PathBuf]) -> Affected {
    let runs = root.join("runs");
    let mut groups = BTreeSet::new();
    for path in changed {
        if path.starts_with(root.join("themes")) || path.starts_with(root.join("templates")) {
            return Affected::Everything;
        }
        let Ok(rel) = path.strip_prefix(&runs) else {
            continue;
        };
        let mut parts = rel.components();
        let Some(Component::Normal(dir)) = parts.next() else {
            continue;
        };
        let is_temp = |c: Component| matches!(c, Component::Normal(n) if n.to_string_lossy().starts_with(TEMP_PREFIX));
        if dir.to_string_lossy().starts_with('.') || parts.any(is_temp) {
            continue;
        }
        groups.insert(runs.join(dir));
    }
    if groups.is_empty() {
        Affected::Nothing
    } else {
        Affected::Groups(groups)
    }
}

/// Each group's next older group's id, keyed by folder name; groups come as
/// `(order, id, folder name)`.
pub(in crate::site) fn older_neighbours(
    groups: impl Iterator<Item = (String, String, String)>,
) -> BTreeMap<String, Option<String>> {
    let mut groups: Vec<(String, String, String)> = groups.collect();
    groups.sort_unstable_by(|a, b| (&b.0, &b.1).cmp(&(&a.0, &a.1)));
    (0..groups.len())
        .map(|i| (groups[i].2.clone(), groups.get(i + 1).map(|g| g.1.clone())))
        .collect()
}

/// The neighbours the groups about to be built will have: the unchanged groups as the
/// manifest has them, the changed ones as their group.json says.
pub(in crate::site) fn predicted_neighbours(
    manifest: &Manifest,
    todo: &[(PathBuf, String)],
    gone: &[String],
) -> BTreeMap<String, Option<String>> {
    let changed: BTreeSet<&str> = todo
        .iter()
        .map(|(_, n)| n.as_str())
        .chain(gone.iter().map(String::as_str))
        .collect();
    let known = manifest
        .named_summaries()
        .filter(|(name, _)| !changed.contains(name))
        .map(|(name, s)| (s.order.clone(), s.id.clone(), name.to_string()));
    let fresh: Vec<(String, String, String)> = todo
        .par_iter()
        .filter_map(|(dir, name)| {
            let (order, id) = crate::store::group_order(dir)?;
            Some((order, id, name.clone()))
        })
        .collect();
    older_neighbours(known.chain(fresh))
}

/// What a build found changed.
pub(crate) struct Changes {
    /// Group folders to build.
    pub todo: Vec<(PathBuf, String)>,
    /// Groups whose folders are gone.
    pub gone: Vec<String>,
    /// The problems of runs/ itself changed (the index lists them).
    pub problems_changed: bool,
}

/// Which group folders changed (by metadata, then by content where it moved), which
/// are gone, and whether the problems of runs/ itself changed.
pub(crate) fn folder_changes(
    manifest: &mut Manifest,
    mut listed: Listed,
    full: bool,
    scan: &Scan,
) -> Result<Changes, Inconsistent> {
    let mut changed_problems = false;
    if let Some(runs_problems) = listed.runs_problems.take() {
        if runs_problems != manifest.runs_problems {
            manifest.runs_problems = runs_problems;
            // The index lists them.
            manifest.listings.remove(Path::new("index.html"));
            changed_problems = true;
        }
    }
    let dirs = listed.dirs;
    // By metadata first: the index's fingerprint of each folder's files.
    let known = &*manifest;
    let checked: Vec<(PathBuf, String, Seen)> = listed
        .folders
        .into_par_iter()
        .map(|(dir, name, listing)| {
            let seen = match listing {
                None => Seen::Gone,
                Some(_) if full || !known.groups.contains_key(&name) => Seen::New,
                Some(listing) if known.same_fingerprint(&name, &listing) => Seen::Same,
                Some(listing) => Seen::Moved(listing),
            };
            (dir, name, seen)
        })
        .collect();
    // Then by content, for folders whose metadata moved (a git checkout touches all).
    let moved: Vec<&str> = checked
        .iter()
        .filter(|(_, _, s)| matches!(s, Seen::Moved(_)))
        .map(|(_, n, _)| n.as_str())
        .collect();
    manifest.load_entries(moved)?;
    let known = &*manifest;
    let checked: Vec<(PathBuf, String, Seen)> = checked
        .into_par_iter()
        .map(|(dir, name, seen)| {
            let Seen::Moved(listing) = seen else {
                return Ok((dir, name, seen));
            };
            let entry = known
                .entry_ref(&name)
                .ok_or_else(|| Inconsistent(format!("the entry of {name}")))?;
            let seen = match entry.unchanged(&dir, &listing) {
                Some(inputs) => Seen::Touched(inputs),
                None => Seen::New,
            };
            Ok((dir, name, seen))
        })
        .collect::<Result<_, Inconsistent>>()?;
    let mut gone: Vec<String> = Vec::new();
    let mut todo: Vec<(PathBuf, String)> = Vec::new();
    for (dir, name, seen) in checked {
        match seen {
            Seen::Gone => gone.push(name),
            Seen::Same | Seen::Moved(_) => {}
            Seen::Touched(inputs) => manifest.refresh_inputs(&name, inputs),
            Seen::New => todo.push((dir, name)),
        }
    }
    if let Scan::All = scan {
        let present: BTreeSet<&str> = dirs
            .iter()
            .filter_map(|d| d.file_name()?.to_str())
            .collect();
        gone.extend(
            manifest
                .groups
                .keys()
                .filter(|k| !present.contains(k.as_str()))
                .cloned(),
        );
    }
    gone.sort();
    gone.dedup();
    Ok(Changes {
        todo,
        gone,
        problems_changed: changed_problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_files_affect_their_group_and_templates_affect_everything() {
        let root = Path::new("/p");
        let g = PathBuf::from("/p/runs/1234");
        assert_eq!(
            affected(root, &[g.join("a.json"), g.join("a.png")]),
            Affected::Groups([g.clone()].into())
        );
        assert_eq!(
            affected(root, std::slice::from_ref(&g)),
            Affected::Groups([g.clone()].into())
        );
        assert_eq!(
            affected(root, &[g.join(".chorus-tmp-1-0-a.json")]),
            Affected::Nothing
        );
        assert_eq!(
            affected(root, &[PathBuf::from("/p/runs/.git/x")]),
            Affected::Nothing
        );
        assert_eq!(
            affected(root, &[PathBuf::from("/p/site/index.html")]),
            Affected::Nothing
        );
        assert_eq!(
            affected(
                root,
                &[g.join("a.json"), PathBuf::from("/p/templates/run.html")]
            ),
            Affected::Everything
        );
        assert_eq!(
            affected(root, &[PathBuf::from("/p/themes/default/static/style.css")]),
            Affected::Everything
        );
    }
}
