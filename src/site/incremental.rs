//! Incremental rebuilds for `chorus serve` and `chorus build --watch`: a [`Site`] keeps the
//! loaded runs, page model, prepared images and theme between builds, and for a changed run
//! file re-renders only what depends on it. It never watches files or serves anything
//! (`serve` does).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use super::images::{ImageCache, ImageStats, Prepared, SourceInfo};
use super::model::{self, GroupView, SiteModel};
use super::theme::{self, Theme};
use super::{
    fingerprint, image_files, image_sources, image_view, output_memo_path, problem_lines,
    site_files, write_output, BuildOptions, BuildReport, OutFile, OutputMemo, Phases, Scope,
    SiteContext, SiteError, CACHE_DIR,
};
use crate::config::Project;
use crate::fsutil::TEMP_PREFIX;
use crate::store::{load_group_dir, load_runs, newest_first, LoadedGroup, StoreProblem};

/// A built site, kept in memory so the next change costs only what depends on it.
pub struct Site {
    project: Project,
    opts: BuildOptions,
    out: PathBuf,
    cache: ImageCache,
    theme: Theme,
    site: SiteContext,
    /// Newest first; `model.groups` holds their views in the same order.
    groups: Vec<LoadedGroup>,
    model: SiteModel,
    prepared: BTreeMap<PathBuf, Prepared>,
    /// Images that could not be read: (file, reason), sorted by file.
    image_failures: Vec<(PathBuf, String)>,
    problems: Vec<StoreProblem>,
    /// Set when a rebuild failed part-way, so the next one renders everything.
    dirty: bool,
    /// The difference views of `groups`, in the same order; `None` with `--no-analysis`.
    analysis: Option<super::analysis::SiteAnalysis>,
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
        let cache_dir = opts
            .cache_dir
            .clone()
            .unwrap_or_else(|| project.root.join(CACHE_DIR));
        super::guard_folders(&out, &cache_dir)?;
        let theme = theme::load(&project.root, &project.config.site.theme)?;
        let site = SiteContext::new(&project, opts, &theme);
        let mut s = Site {
            project,
            opts: opts.clone(),
            out,
            cache: ImageCache::new(cache_dir),
            theme,
            site,
            groups: Vec::new(),
            model: SiteModel::default(),
            prepared: BTreeMap::new(),
            image_failures: Vec::new(),
            problems: Vec::new(),
            dirty: true,
            analysis: None,
        };
        let report = s.build_all()?;
        Ok((s, report))
    }

    pub fn project(&self) -> &Project {
        &self.project
    }

    pub fn out(&self) -> &Path {
        &self.out
    }

    /// Problems as of the last build (broken files in runs/, unreadable images); the sound
    /// groups were built.
    pub fn problems(&self) -> Vec<String> {
        let analysis = self.analysis.iter().flat_map(|a| &a.problems);
        problem_lines(
            &self.project.root,
            self.problems.iter().chain(analysis),
            &self.image_failures,
        )
    }

    /// Prepares `sources` (all of them when `complete`). Unless the views are off, the
    /// pixels decoded for thumbnails are measured for them at the same time, so a cold
    /// build decodes each image once.
    fn prepare_images(
        &self,
        sources: &[PathBuf],
        complete: bool,
    ) -> (BTreeMap<PathBuf, Prepared>, ImageStats) {
        let signatures = (!self.opts.no_analysis)
            .then(|| super::analysis::SignatureCache::new(self.cache.dir()));
        let on_decoded = |info: &SourceInfo, rgb: &image::RgbImage| {
            if let Some(cache) = &signatures {
                cache.store_decoded(&info.sha256, rgb);
            }
        };
        if complete {
            self.cache.prepare(sources, &on_decoded)
        } else {
            self.cache.prepare_some(sources, &on_decoded)
        }
    }

    /// Recomputes the difference views over every group (cached by content, so only
    /// what changed costs anything).
    fn analyse(&mut self) -> Result<(), SiteError> {
        if self.opts.no_analysis {
            self.analysis = None;
            return Ok(());
        }
        let cache = super::analysis::SignatureCache::new(self.cache.dir());
        let prepared = &self.prepared;
        self.analysis = Some(super::analysis::analyse(&self.groups, &cache, |path| {
            prepared.get(path).map(|p| p.source.sha256.clone())
        })?);
        Ok(())
    }

    /// Brings the output up to date with `changed` files: a run file re-renders its group's
    /// pages, its Artists' and prompt version's pages, the index and the exports; a theme
    /// or template change rebuilds everything.
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
                self.theme = theme::load(&self.project.root, &self.project.config.site.theme)?;
                self.site = SiteContext::new(&self.project, &self.opts, &self.theme);
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
        let mut clock = Phases::start();
        self.analysis = None;
        let tree = load_runs(&self.project.runs_dir());
        clock.lap("load");
        // Images first: the pages need each image's size and variants.
        let (prepared, stats) = self.prepare_images(&image_sources(&tree.groups), true);
        self.prepared = prepared;
        self.image_failures = stats.failed.clone();
        self.image_failures.sort();
        self.groups = tree.groups;
        self.problems = tree.problems;
        clock.lap("images");
        let prepared = &self.prepared;
        self.model = model::site_model(&self.groups, |g, run| image_view(prepared, g, run));
        clock.lap("model");

        let problems = self.problems();
        let mut print = fingerprint(
            &self.groups,
            &problems,
            &self.theme,
            &self.site,
            &self.prepared,
        );
        // The difference views come from the same inputs; only switching them off changes pages.
        if self.opts.no_analysis {
            print.push_str("-no-analysis");
        }
        // Nothing that goes into the output changed and the output is as we left it: the
        // pages would come out byte for byte the same, so rendering them can be skipped.
        let memo = OutputMemo::load(&output_memo_path(self.cache.dir(), &self.out));
        if memo.vouches_for(&print, &self.out) {
            clock.lap("check");
            self.dirty = false;
            return Ok(BuildReport {
                out: self.out.clone(),
                groups: self.groups.len(),
                files: memo.file_count(),
                written: 0,
                removed: 0,
                images: stats,
                problems: self.problems.clone(),
                timings: clock.laps,
            });
        }
        self.analyse()?;
        clock.lap("analysis");
        let problems = self.problems();
        let mut files = site_files(
            &self.theme,
            &self.site,
            &self.model,
            &problems,
            &Scope::All,
            self.analysis.as_ref(),
        )?;
        for g in &self.groups {
            image_files(g, &self.prepared, &mut files);
        }
        clock.lap("render");
        let (written, removed) = write_output(&self.out, &files, self.cache.dir(), Some(print))?;
        clock.lap("write");
        self.dirty = false;
        Ok(BuildReport {
            out: self.out.clone(),
            groups: self.groups.len(),
            files: files.len(),
            written,
            removed,
            images: stats,
            problems: self.problems.clone(),
            timings: clock.laps,
        })
    }

    fn rebuild_groups(&mut self, dirs: &BTreeSet<PathBuf>) -> Result<Rebuild, SiteError> {
        let mut ids = BTreeSet::new();
        let mut gone = BTreeSet::new();
        let mut artists = BTreeSet::new();
        let mut prompts = BTreeSet::new();
        let mut old_views: BTreeMap<String, GroupView> = BTreeMap::new();
        let mut fresh = Vec::new();
        for dir in dirs {
            if let Some(pos) = self.groups.iter().position(|g| &g.dir == dir) {
                self.groups.remove(pos);
                let old = self.model.groups.remove(pos);
                gone.insert(old.id.clone());
                old_views.insert(old.id.clone(), old);
            }
            self.problems.retain(|p| !p.file.starts_with(dir));
            self.prepared.retain(|src, _| !src.starts_with(dir));
            self.image_failures.retain(|(src, _)| !src.starts_with(dir));
            let (loaded, problems) = load_group_dir(dir);
            self.problems.extend(problems);
            fresh.extend(loaded);
        }
        let (prepared, stats) = self.prepare_images(&image_sources(&fresh), false);
        self.prepared.extend(prepared);
        self.image_failures.extend(stats.failed);
        self.image_failures.sort();

        let groups = std::mem::take(&mut self.groups);
        let views = std::mem::take(&mut self.model.groups);
        let mut pairs: Vec<(LoadedGroup, GroupView)> = groups.into_iter().zip(views).collect();
        for g in fresh {
            let view = model::group_view(&g, |run| image_view(&self.prepared, &g, run));
            let old = old_views.remove(&view.id);
            artists.extend(Self::changed_artists(old.as_ref(), &view));
            prompts.insert(view.prompt_version.clone());
            prompts.extend(old.map(|o| o.prompt_version));
            gone.remove(&view.id);
            ids.insert(view.id.clone());
            pairs.push((g, view));
        }
        for old in old_views.values() {
            artists.extend(old.runs.iter().map(|r| r.artist_slug.clone()));
            prompts.insert(old.prompt_version.clone());
        }
        // The order and problem list a full load gives, so the output equals a clean build's.
        pairs.sort_by(|a, b| newest_first(&a.0, &b.0));
        self.problems
            .sort_by(|a, b| a.file.parent().cmp(&b.file.parent()));
        let (groups, views): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
        self.groups = groups;
        self.model = model::assemble(views);

        self.analyse()?;
        let mut files = site_files(
            &self.theme,
            &self.site,
            &self.model,
            &self.problems(),
            &Scope::Only {
                groups: ids.clone(),
                artists: artists.clone(),
                prompts: prompts.clone(),
            },
            self.analysis.as_ref(),
        )?;
        for g in self
            .groups
            .iter()
            .filter(|g| ids.contains(&g.group.run_group_id.to_string()))
        {
            image_files(g, &self.prepared, &mut files);
        }
        let (written, _) = write_output(&self.out, &files, self.cache.dir(), None)?;
        let mut stale = self.stale_group_files(ids.iter().chain(&gone), &files);
        stale.extend(
            artists
                .iter()
                .filter(|slug| !self.model.artists.iter().any(|a| &&a.slug == slug))
                .map(|slug| self.out.join(model::artist_url(slug))),
        );
        stale.extend(
            prompts
                .iter()
                .filter(|v| !self.model.prompts.iter().any(|p| &&p.version == v))
                .map(|v| self.out.join(model::prompt_url(v))),
        );
        let mut removed = 0;
        for path in stale.iter().filter(|p| p.is_file()) {
            std::fs::remove_file(path).map_err(|source| SiteError::Io {
                path: path.clone(),
                source,
            })?;
            removed += 1;
        }
        for id in ids.iter().chain(&gone) {
            // Only when now empty.
            let dir = self.out.join("groups").join(id);
            let _ = std::fs::remove_dir(dir.join("media"));
            let _ = std::fs::remove_dir(dir);
        }
        Ok(Rebuild {
            full: false,
            groups: dirs.len(),
            written,
            removed,
        })
    }

    /// The Artists whose pages show something else now: those whose run changed, or all of
    /// the group's when what their entries say about the group changed.
    fn changed_artists(old: Option<&GroupView>, new: &GroupView) -> Vec<String> {
        let slugs = |g: &GroupView| {
            g.runs
                .iter()
                .map(|r| r.artist_slug.clone())
                .collect::<Vec<_>>()
        };
        let Some(old) = old else {
            return slugs(new);
        };
        let heading = |g: &GroupView| {
            (
                g.url.clone(),
                g.short_id.clone(),
                g.prompt_version.clone(),
                g.prompt_url.clone(),
                g.created_date.clone(),
            )
        };
        if heading(old) != heading(new) || old.runs.len() != new.runs.len() {
            let mut all = slugs(old);
            all.extend(slugs(new));
            return all;
        }
        new.runs
            .iter()
            .zip(&old.runs)
            .filter(|(n, o)| {
                n.artist_slug != o.artist_slug
                    || serde_json::to_value(n).ok() != serde_json::to_value(o).ok()
            })
            .flat_map(|(n, o)| [n.artist_slug.clone(), o.artist_slug.clone()])
            .collect()
    }

    /// Files under the output folders of these groups that this render did not make.
    fn stale_group_files<'a>(
        &self,
        ids: impl Iterator<Item = &'a String>,
        files: &BTreeMap<PathBuf, OutFile>,
    ) -> Vec<PathBuf> {
        let mut stale = Vec::new();
        for id in ids {
            let dir = self.out.join("groups").join(id);
            stale.extend(
                walkdir::WalkDir::new(&dir)
                    .into_iter()
                    .filter_map(Result::ok)
                    .filter(|e| e.file_type().is_file())
                    .filter(|e| {
                        e.path()
                            .strip_prefix(&self.out)
                            .is_ok_and(|rel| !files.contains_key(rel))
                    })
                    .map(|e| e.into_path()),
            );
        }
        stale
    }
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
