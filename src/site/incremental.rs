//! Incremental rebuilds for `chorus serve` and `chorus build --watch`: a [`Site`] keeps the
//! loaded runs, page views and theme between builds, and for a changed run file re-renders
//! only the pages that depend on it. It never watches files or serves anything (`serve` does).

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use super::model::GroupView;
use super::{
    group_view, render_files, write_output, BuildOptions, BuildReport, Renderer, Scope, SiteError,
};
use crate::config::Project;
use crate::fsutil::{write_if_changed, TEMP_PREFIX};
use crate::store::{load_group_dir, load_runs, sort_newest_first, LoadedGroup, StoreProblem};

/// A built site, kept in memory so the next change costs only what depends on it.
pub struct Site {
    project: Project,
    opts: BuildOptions,
    out: PathBuf,
    renderer: Renderer,
    /// Newest first, each with its page view (Markdown already rendered).
    groups: Vec<(LoadedGroup, GroupView)>,
    problems: Vec<StoreProblem>,
    /// Set when a rebuild failed part-way, so the next one renders everything.
    dirty: bool,
}

/// What one rebuild did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Rebuild {
    /// Everything was rendered (a theme change, or recovery from a failed rebuild).
    pub full: bool,
    /// Groups whose pages were re-rendered.
    pub groups: usize,
    pub written: usize,
    pub removed: usize,
}

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

impl Site {
    /// Loads everything and builds the whole site (what `chorus build` does).
    pub fn load(project: Project, opts: &BuildOptions) -> Result<(Site, BuildReport), SiteError> {
        let out = opts
            .out
            .clone()
            .unwrap_or_else(|| project.root.join("site"));
        let renderer = Renderer::load(&project, opts)?;
        let mut site = Site {
            project,
            opts: opts.clone(),
            out,
            renderer,
            groups: Vec::new(),
            problems: Vec::new(),
            dirty: true,
        };
        let report = site.build_all()?;
        Ok((site, report))
    }

    pub fn project(&self) -> &Project {
        &self.project
    }

    pub fn out(&self) -> &Path {
        &self.out
    }

    /// Problems in runs/ as of the last build; the sound groups were built.
    pub fn problems(&self) -> &[StoreProblem] {
        &self.problems
    }

    /// Brings the output up to date with `changed` files: a run file re-renders its group's
    /// pages and the site-wide pages; a theme or template change rebuilds everything.
    pub fn rebuild_changed(&mut self, changed: &[PathBuf]) -> Result<Rebuild, SiteError> {
        let affected = if self.dirty {
            Affected::Everything
        } else {
            affected(&self.project.root, changed)
        };
        match affected {
            Affected::Nothing => Ok(Rebuild::default()),
            Affected::Everything => {
                self.dirty = true;
                self.renderer = Renderer::load(&self.project, &self.opts)?;
                let report = self.build_all()?;
                Ok(Rebuild {
                    full: true,
                    groups: report.groups,
                    written: report.written,
                    removed: report.removed,
                })
            }
            Affected::Groups(dirs) => {
                self.dirty = true;
                let result = self.rebuild_groups(&dirs);
                self.dirty = result.is_err();
                result
            }
        }
    }

    fn build_all(&mut self) -> Result<BuildReport, SiteError> {
        let tree = load_runs(&self.project.runs_dir());
        self.groups = tree
            .groups
            .into_iter()
            .map(|g| {
                let v = group_view(&g);
                (g, v)
            })
            .collect();
        self.problems = tree.problems;
        let files = render_files(&self.renderer, &self.groups, &self.problems, &Scope::All)?;
        let (written, removed) = write_output(&self.out, &files)?;
        self.dirty = false;
        Ok(BuildReport {
            out: self.out.clone(),
            groups: self.groups.len(),
            files: files.len(),
            written,
            removed,
            problems: self.problems.clone(),
        })
    }

    fn rebuild_groups(&mut self, dirs: &BTreeSet<PathBuf>) -> Result<Rebuild, SiteError> {
        let mut ids = BTreeSet::new();
        let mut gone = BTreeSet::new();
        for dir in dirs {
            if let Some(pos) = self.groups.iter().position(|(g, _)| &g.dir == dir) {
                let (_, old) = self.groups.remove(pos);
                gone.insert(old.id);
            }
            self.problems.retain(|p| !p.file.starts_with(dir));
            let (loaded, problems) = load_group_dir(dir);
            self.problems.extend(problems);
            if let Some(loaded) = loaded {
                let view = group_view(&loaded);
                gone.remove(&view.id);
                ids.insert(view.id.clone());
                self.groups.push((loaded, view));
            }
        }
        // The same order a full load gives, so incremental output equals a clean build's.
        let mut loaded: Vec<LoadedGroup> = Vec::with_capacity(self.groups.len());
        let mut views = std::collections::HashMap::new();
        for (g, v) in self.groups.drain(..) {
            views.insert(g.dir.clone(), v);
            loaded.push(g);
        }
        sort_newest_first(&mut loaded);
        self.groups = loaded
            .into_iter()
            .map(|g| {
                let v = views.remove(&g.dir).expect("every group has its view");
                (g, v)
            })
            .collect();
        self.problems
            .sort_by(|a, b| a.file.parent().cmp(&b.file.parent()));

        let files = render_files(
            &self.renderer,
            &self.groups,
            &self.problems,
            &Scope::Groups(&ids),
        )?;
        let mut written = 0;
        for (rel, bytes) in &files {
            let path = self.out.join(rel);
            if write_if_changed(&path, bytes).map_err(|source| SiteError::Io {
                path: path.clone(),
                source,
            })? {
                written += 1;
            }
        }
        let removed = prune_groups(&self.out, &ids, &gone, &files)?;
        Ok(Rebuild {
            full: false,
            groups: ids.len(),
            written,
            removed,
        })
    }
}

/// Removes what a re-rendered group no longer makes, and the pages of groups that are gone.
fn prune_groups(
    out: &Path,
    rendered: &BTreeSet<String>,
    gone: &BTreeSet<String>,
    files: &std::collections::BTreeMap<PathBuf, Vec<u8>>,
) -> Result<usize, SiteError> {
    let mut removed = 0;
    for id in rendered.iter().chain(gone) {
        let dir = out.join("groups").join(id);
        let stale: Vec<PathBuf> = walkdir::WalkDir::new(&dir)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .filter(|e| {
                e.path()
                    .strip_prefix(out)
                    .is_ok_and(|rel| !files.contains_key(rel))
            })
            .map(|e| e.into_path())
            .collect();
        for path in stale {
            std::fs::remove_file(&path).map_err(|source| SiteError::Io {
                path: path.clone(),
                source,
            })?;
            removed += 1;
        }
        let _ = std::fs::remove_dir(&dir); // only when now empty
    }
    Ok(removed)
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
