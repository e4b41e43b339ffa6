//! Building only what changed, in one process (`chorus serve`, `build --watch`) or across
//! processes (`chorus build`): a [`Site`] holds the theme and the manifest of the last
//! build. Each update finds the group folders whose files changed (by metadata, then
//! content), builds those groups with `group`, removes what removed groups left, then
//! remakes the listings from the summaries. A changed theme, template or setting renders
//! everything again (images stay cached). The output equals a clean build's, byte for
//! byte. It never watches files or serves anything (`serve` does).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::config::Project;
use crate::site::analysis::SignatureCache;
use crate::site::engine::changes::{
    affected, folder_changes, older_neighbours, predicted_neighbours, Affected, Changes,
};
use crate::site::engine::manifest::{state_dir, GroupEntry, Inconsistent, Manifest};
use crate::site::engine::scan::{list_folders, Listed, Scan};
use crate::site::engine::settings::settings_key;
use crate::site::engine::tidy;
use crate::site::group::images::{ImageCache, ImageStats};
use crate::site::group::{build_group, card_path, numbers_path, GroupBuilt, GroupContext};
use crate::site::listings::pages::{listing_files, ListingContext, ListingFile};
use crate::site::render::names::Names;
use crate::site::render::theme::{self, Theme};
use crate::site::{
    engine::path_hash, engine::Kept, engine::Phases, render::output::OutFile,
    render::output::Output, render::output::MARKER_DONE, BuildOptions, BuildReport, SiteContext,
    SiteError, CACHE_DIR, OUTPUT_MARKER,
};

/// A built site, kept so the next change costs only what depends on it.
pub struct Site {
    project: Project,
    opts: BuildOptions,
    out: PathBuf,
    cache: ImageCache,
    theme: Theme,
    site: SiteContext,
    manifest: Manifest,
    /// Where the manifest and the cards live.
    state: PathBuf,
    /// Set when a rebuild failed part-way, so the next one renders everything.
    dirty: bool,
    /// How long reading the manifest took, reported with the first update's phases.
    load_time: Option<std::time::Duration>,
}

/// Why an update stopped: a build error, or a manifest that does not match itself (the
/// update then starts again from an empty one).
enum Stop {
    Site(SiteError),
    Inconsistent(Inconsistent),
}

impl From<SiteError> for Stop {
    fn from(e: SiteError) -> Stop {
        match e {
            SiteError::CacheLacks(what) => Stop::Inconsistent(Inconsistent(what)),
            e => Stop::Site(e),
        }
    }
}

impl From<Inconsistent> for Stop {
    fn from(e: Inconsistent) -> Stop {
        Stop::Inconsistent(e)
    }
}

/// Groups built between two moves into the manifest: enough to keep both cores busy. Two
/// in debug builds, so the tests' small histories go through the chunked path (entries
/// let go part-way through a full build) too.
const BUILD_CHUNK: usize = if cfg!(debug_assertions) { 2 } else { 64 };
/// A build of more groups than this lets their entries go as it goes (see `update_inner`);
/// one in debug builds, for the same reason as [`BUILD_CHUNK`].
const RELEASE_PAST: usize = if cfg!(debug_assertions) { 1 } else { 1000 };

/// Stands in for the binary's build id. Only for tests, which cannot build a second
/// binary to show that a new chorus renders everything again; never set it otherwise.
pub const TEST_BUILD_ID_ENV: &str = "CHORUS_TEST_BUILD_ID";

/// The chorus binary's build id: a digest of its sources, built-in theme and locked
/// dependencies (see build.rs), so pages an older chorus rendered are never kept.
pub fn build_id() -> String {
    std::env::var(TEST_BUILD_ID_ENV).unwrap_or_else(|_| env!("CHORUS_BUILD_ID").to_string())
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
    /// Wall time of each phase (see [`BuildReport::timings`]).
    pub timings: Vec<(&'static str, std::time::Duration)>,
}

impl Site {
    /// Loads the last build's manifest and brings the output up to date (what `chorus
    /// build` does).
    pub fn load(project: Project, opts: &BuildOptions) -> Result<(Site, BuildReport), SiteError> {
        let out = opts
            .out
            .clone()
            .unwrap_or_else(|| project.root.join("site"));
        let cache_dir = opts
            .cache_dir
            .clone()
            .unwrap_or_else(|| project.root.join(CACHE_DIR));
        crate::site::render::output::guard_folders(&out, &cache_dir)?;
        let theme = theme::load(&project.root, &project.config.site.theme)?;
        let site = SiteContext::new(&project, opts);
        // The output folder must exist for its state folder to be named by its real path.
        Output::open(&out)?;
        let state = state_dir(&cache_dir, &out);
        let started = std::time::Instant::now();
        let manifest = Manifest::load(&state);
        let load_time = Some(started.elapsed());
        let mut s = Site {
            project,
            opts: opts.clone(),
            out,
            cache: ImageCache::new(cache_dir),
            theme,
            site,
            manifest,
            state,
            dirty: false,
            load_time,
        };
        let report = s.update(Scan::All)?;
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
        self.manifest.problems()
    }

    /// What the last theme load had to say (files taken from the built-in theme).
    pub fn warnings(&self) -> &[String] {
        &self.theme.warnings
    }

    /// Brings the output up to date with `changed` files: a run file rebuilds its group
    /// and the listings; a theme or template change renders everything.
    pub fn rebuild_changed(&mut self, changed: &[PathBuf]) -> Result<Rebuild, SiteError> {
        let affected = if self.dirty {
            Affected::Everything
        } else {
            affected(&self.project.root, changed)
        };
        let report = match affected {
            Affected::Nothing => return Ok(Rebuild::default()),
            Affected::Everything => {
                self.theme = theme::load(&self.project.root, &self.project.config.site.theme)?;
                self.site = SiteContext::new(&self.project, &self.opts);
                self.update(Scan::All)?
            }
            Affected::Groups(dirs) => self.update(Scan::Only(dirs))?,
        };
        Ok(Rebuild {
            full: report.full,
            groups: report.rebuilt,
            written: report.written,
            removed: report.removed,
            timings: report.timings,
        })
    }

    fn update(&mut self, scan: Scan) -> Result<BuildReport, SiteError> {
        self.dirty = true;
        let result = match self.update_inner(scan) {
            // Start again from nothing: a full build, never a wrong one.
            Err(Stop::Inconsistent(_)) => {
                self.manifest = Manifest::empty(&self.state);
                self.update_inner(Scan::All)
            }
            other => other,
        };
        let result = result.map_err(|stop| match stop {
            Stop::Site(e) => e,
            Stop::Inconsistent(Inconsistent(what)) => SiteError::Output(format!(
                "the build cache does not match itself ({what}); delete .chorus-cache and build again"
            )),
        });
        self.dirty = result.is_err();
        result
    }

    /// One build, in the steps its phases are timed by: what to look at, what changed,
    /// the changed groups, the listings, then pruning and saving what the build kept.
    fn update_inner(&mut self, scan: Scan) -> Result<BuildReport, Stop> {
        let mut clock = Phases::start();
        if let Some(load) = self.load_time.take() {
            clock.laps.push(("load manifest", load));
        }
        crate::site::render::output::guard_folders(&self.out, self.cache.dir())?;
        let output = Output::open(&self.out)?;
        let settings = settings_key(&self.project, &self.opts, &self.theme, &self.site);
        let (full, scan, listed) = self.survey(&output, &settings, scan)?;
        clock.lap("links and listing");
        let Changes {
            todo,
            gone,
            problems_changed,
        } = folder_changes(&mut self.manifest, listed, full, &scan)?;
        clock.lap("changes");
        let mut report = BuildReport {
            out: self.out.clone(),
            full,
            ..BuildReport::default()
        };
        if todo.is_empty() && gone.is_empty() && !full && !problems_changed {
            // Only refreshed mtimes, if anything, to remember.
            let _ = self.manifest.save(&self.state);
            clock.lap("check");
            return Ok(self.finish(report, clock));
        }
        let mut kept = Kept::default();
        self.build_groups(
            &output,
            todo,
            gone,
            full,
            &mut report,
            &mut kept,
            &mut clock,
        )?;
        clock.lap("groups");
        self.write_listings(&output, full, &mut report)?;
        clock.lap("listings");
        self.tidy(&output, full, kept, settings, &mut report)?;
        clock.lap("save manifest");
        Ok(self.finish(report, clock))
    }

    /// Removes links planted in the output and lists the group folders to look at; says
    /// whether everything must be built (and then lists all of runs/).
    fn survey(
        &mut self,
        output: &Output,
        settings: &str,
        scan: Scan,
    ) -> Result<(bool, Scan, Listed), Stop> {
        // A link in the output means someone changed it: it is removed and everything built.
        // Looked for whenever all of runs/ is (every `build`, a `serve` start or config
        // change), not on each file `serve` sees change: the walk costs as much as the rest.
        // Both walks are mostly waiting on the file system, so they run side by side.
        let runs_dir = self.project.runs_dir();
        let root = self.project.root.clone();
        let (links, mut listed) = rayon::join(
            || match scan {
                Scan::All => output.remove_links(),
                Scan::Only(_) => Ok(0),
            },
            || list_folders(&runs_dir, &root, &scan),
        );
        let tampered = links? > 0;
        // A different setting, a removed output or a removed cache: build everything.
        let full = tampered
            || settings != self.manifest.settings
            || !output.finished()
            || !self.state.join("cards").is_dir()
            // The voice views need every group's features (a cache from before them).
            || (!self.opts.no_analysis && !crate::site::listings::voice::features_dir(&self.state).is_dir());
        if full {
            // Nothing rendered before can be trusted to match; images stay cached.
            self.manifest.listings.clear();
            if matches!(scan, Scan::Only(_)) {
                listed = list_folders(&runs_dir, &root, &Scan::All);
            }
        }
        let scan = if full { Scan::All } else { scan };
        Ok((full, scan, listed))
    }

    /// Builds the changed groups, in parallel, each in its own bounded memory, and removes
    /// the outputs of those that are gone.
    #[allow(clippy::too_many_arguments)]
    fn build_groups(
        &mut self,
        output: &Output,
        mut todo: Vec<(PathBuf, String)>,
        gone: Vec<String>,
        full: bool,
        report: &mut BuildReport,
        kept: &mut Kept,
        clock: &mut Phases,
    ) -> Result<(), Stop> {
        // What the listings need (every summary) and what the changed groups had. A build
        // of much of the history (a full one, or every run file rewritten) reads entries a
        // chunk of groups at a time and lets them go, after removing the saved index: if
        // it stops part-way, the next build is a full one.
        let release = full || todo.len() > RELEASE_PAST;
        if release {
            Manifest::forget_saved(&self.state);
        } else {
            let known = todo
                .iter()
                .map(|(_, n)| n.as_str())
                .chain(gone.iter().map(String::as_str));
            self.manifest.load_entries(known)?;
        }
        self.manifest.load_summaries()?;
        clock.lap("read manifest");
        let runs_dir = self.project.runs_dir();

        // Build the changed groups, in parallel, each in its own bounded memory. A blind
        // page links to the next older group's, so a group whose older neighbour changed
        // is built again too: first as predicted from the group files, then as the
        // summaries say (they differ only when a group.json turns out unusable).
        let cards_dir = self.state.join("cards");
        if !self.opts.no_analysis {
            let dir = crate::site::listings::voice::features_dir(&self.state);
            std::fs::create_dir_all(&dir).map_err(|source| SiteError::Io { path: dir, source })?;
        }
        let cx = GroupContext {
            root: &self.project.root,
            theme: &self.theme,
            site: &self.site,
            images: &self.cache,
            signatures: (!self.opts.no_analysis).then(|| SignatureCache::new(self.cache.dir())),
            originals: self.project.config.site.originals,
            output,
            known_artists: &self.project.config.artists,
            cards_dir: cards_dir.clone(),
        };
        let mut neighbours = predicted_neighbours(&self.manifest, &todo, &gone);
        let mut images = ImageStats::default();
        for round in 0..2 {
            // A chunk at a time, each result moved into the manifest before the next; in
            // shard order, so a full build lets each shard of entries go once it is done.
            todo.sort_by_cached_key(|(_, n)| (Manifest::entry_shard(n), n.clone()));
            for (k, chunk) in todo.chunks(BUILD_CHUNK).enumerate() {
                self.manifest
                    .load_entries(chunk.iter().map(|(_, n)| n.as_str()))?;
                let manifest = &self.manifest;
                let built: Vec<(String, Result<GroupBuilt, SiteError>)> = chunk
                    .par_iter()
                    .map(|(dir, name)| {
                        let next = neighbours.get(name).and_then(Option::as_deref);
                        let known = manifest.entry_ref(name);
                        (name.clone(), build_group(&cx, dir, known, next))
                    })
                    .collect();
                for (name, result) in built {
                    let b = result?;
                    report.written += b.written;
                    images.add(b.images);
                    if let Some((sha, text)) = b.prompt_text {
                        self.manifest.prompt_texts.insert(sha, text);
                    }
                    report.rebuilt += usize::from(round == 0);
                    if let Some(old) = self.manifest.remove(&name)? {
                        report.removed += self.remove_stale(output, &old, Some(&b.entry))?;
                    }
                    if full {
                        kept.add(&b.entry);
                    }
                    self.manifest.insert(name, b.entry)?;
                }
                if release {
                    let next = todo.get((k + 1) * BUILD_CHUNK);
                    let below = next.map(|(_, n)| Manifest::entry_shard(n));
                    self.manifest
                        .release_entries(below)
                        .map_err(|e| SiteError::Output(format!("saving the build cache: {e}")))?;
                }
            }
            if round == 0 {
                for name in &gone {
                    if let Some(old) = self.manifest.remove(name)? {
                        report.removed += self.remove_stale(output, &old, None)?;
                    }
                }
            }
            neighbours = older_neighbours(
                self.manifest
                    .named_summaries()
                    .map(|(name, s)| (s.order.clone(), s.id.clone(), name.to_string())),
            );
            todo = neighbours
                .iter()
                .filter(|(name, next)| self.manifest.groups[*name].next_blind != **next)
                .map(|(name, _)| (runs_dir.join(name), name.clone()))
                .collect();
        }
        report.images = images;
        Ok(())
    }

    /// The listings and exports, from the summaries; a listing the build no longer makes
    /// is removed.
    fn write_listings(
        &mut self,
        output: &Output,
        full: bool,
        report: &mut BuildReport,
    ) -> Result<(), Stop> {
        // The listings and exports, from the summaries.
        let problems = self.manifest.problems();
        let lcx = ListingContext {
            theme: &self.theme,
            site: &self.site,
            per_page: self.project.config.site.per_page,
            cards_dir: &self.state.join("cards"),
            voice_state: (!self.opts.no_analysis).then_some(self.state.as_path()),
            full,
            max_weight_per_voter: self.project.config.votes.max_weight_per_voter,
            names: &Names::new(&self.project.config.artists),
        };
        let mut listings = BTreeMap::new();
        let known = &self.manifest.listings;
        let mut write = |f: ListingFile| -> Result<(), SiteError> {
            let len = match f.bytes {
                Some(bytes) => {
                    let (wrote, len) = output.write(&f.path, &OutFile::Bytes(bytes))?;
                    report.written += usize::from(wrote);
                    len
                }
                None => known.get(&f.path).map_or(0, |(_, l)| *l),
            };
            listings.insert(f.path, (f.key, len));
            Ok(())
        };
        listing_files(&lcx, &self.manifest, &problems, &mut write)?;
        for f in self.site_files() {
            write(f)?;
        }
        let old = std::mem::replace(&mut self.manifest.listings, listings);
        for path in old
            .keys()
            .filter(|p| !self.manifest.listings.contains_key(*p))
        {
            report.removed += usize::from(output.remove(path)?);
        }
        Ok(())
    }

    /// After a full build, prunes the output and cache to exactly what it made; then saves
    /// the manifest.
    fn tidy(
        &mut self,
        output: &Output,
        full: bool,
        mut kept: Kept,
        settings: String,
        report: &mut BuildReport,
    ) -> Result<(), Stop> {
        if full {
            // Exactly what a clean build makes: no file of an older chorus or setting stays.
            for path in self.manifest.listings.keys() {
                kept.outputs.insert(path_hash(path));
            }
            report.removed += output.prune(&|rel| kept.outputs.contains(&path_hash(rel)))?;
            report.images.pruned = self
                .cache
                .prune(&|key| kept.cache.contains(&path_hash(Path::new(key))));
            tidy::prune_cards(&self.state, &self.manifest);
        }
        tidy::forget_unused_prompts(&mut self.manifest);
        self.manifest.settings = settings;
        self.manifest.mark_changed();
        // The manifest is only an accelerator: failing to save it costs time next build.
        let _ = self.manifest.save(&self.state);
        Ok(())
    }

    fn finish(&self, mut report: BuildReport, clock: Phases) -> BuildReport {
        report.groups = self.manifest.readable_groups();
        report.files = self.manifest.file_count();
        report.site_bytes = self.manifest.site_bytes();
        report.problems = self.manifest.problems();
        report.warnings = self.theme.warnings.clone();
        report.timings = clock.laps;
        report
    }

    /// Removes what an older build of a group wrote that the new one (if any) does not.
    fn remove_stale(
        &self,
        output: &Output,
        old: &GroupEntry,
        new: Option<&GroupEntry>,
    ) -> Result<usize, SiteError> {
        let mut removed = 0;
        for rel in old.outputs.keys() {
            if !new.is_some_and(|n| n.outputs.contains_key(rel)) {
                removed += usize::from(output.remove(rel)?);
            }
        }
        if new.and_then(|n| n.summary.as_ref()).is_none() {
            if let Some(s) = &old.summary {
                let cards = self.state.join("cards");
                let _ = std::fs::remove_file(card_path(&cards, &s.id));
                let _ = std::fs::remove_file(numbers_path(&cards, &s.id));
                let _ = std::fs::remove_file(crate::site::listings::voice::features_path(
                    &self.state,
                    &s.id,
                ));
            }
        }
        Ok(removed)
    }

    /// The theme's static files and the output's markers.
    fn site_files(&self) -> Vec<ListingFile> {
        let mut files: Vec<ListingFile> = self
            .theme
            .statics
            .iter()
            .map(|(rel, bytes)| ListingFile {
                path: Path::new("static").join(rel),
                key: String::new(),
                bytes: Some(bytes.clone()),
            })
            .collect();
        let mut add = |path: &str, bytes: &[u8]| {
            files.push(ListingFile {
                path: path.into(),
                key: String::new(),
                bytes: Some(bytes.to_vec()),
            })
        };
        // GitHub Pages would otherwise run Jekyll, which hides files starting with `_` or `.`.
        add(".nojekyll", b"");
        add(OUTPUT_MARKER, MARKER_DONE);
        files
    }
}
