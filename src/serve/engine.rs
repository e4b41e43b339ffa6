//! The rebuild loop's state: the project as last loaded, the [`Site`] kept between builds,
//! and whether the last build worked. A failed build is a state to show, never an exit.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::config::{Project, CONFIG_FILE};
use crate::site::{BuildOptions, Site};

/// How the last build went, as the browser should see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Built; `problems` lists broken files in runs/ (their groups were skipped or flagged).
    Built { problems: Vec<String> },
    /// Nothing could be built: a bad chorus.toml, a template error, an unwritable output.
    Failed { message: String },
}

/// What one (re)build did, for the log and the browser.
pub struct Outcome {
    pub status: Status,
    /// One line for the terminal.
    pub summary: String,
    /// Whether open pages should reload.
    pub reload: bool,
}

pub struct Engine {
    root: PathBuf,
    opts: BuildOptions,
    site: Option<Site>,
    status: Option<Status>,
}

impl Engine {
    pub fn new(root: &Path, opts: BuildOptions) -> Engine {
        Engine {
            root: root.to_path_buf(),
            opts,
            site: None,
            status: None,
        }
    }

    /// Where the pages are written.
    pub fn out(&self) -> PathBuf {
        self.opts
            .out
            .clone()
            .unwrap_or_else(|| self.root.join("site"))
    }

    pub fn project(&self) -> Option<&Project> {
        self.site.as_ref().map(Site::project)
    }

    /// Loads the project and builds everything.
    pub fn build_all(&mut self) -> Outcome {
        let started = Instant::now();
        self.site = None;
        let result = Project::load(&self.root)
            .map_err(|problems| {
                let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
                format!(
                    "{} problem(s) in {}:\n{}",
                    lines.len(),
                    CONFIG_FILE,
                    lines.join("\n")
                )
            })
            .and_then(|project| Site::load(project, &self.opts).map_err(|e| e.to_string()));
        match result {
            Ok((site, report)) => {
                let mut summary = format!(
                    "Built {} group(s) in {} ms ({} files, {} written, {} removed).",
                    report.groups,
                    started.elapsed().as_millis(),
                    report.files,
                    report.written,
                    report.removed
                );
                for w in &report.warnings {
                    summary += &format!("\nwarning: {w}");
                }
                let changed = report.written + report.removed > 0;
                self.site = Some(site);
                self.finish(self.built_status(), summary, changed)
            }
            Err(message) => self.finish(Status::Failed { message }, "Build failed.".into(), false),
        }
    }

    /// Rebuilds what `changed` affects. A config change, or any change while no site is
    /// loaded (the last build failed), rebuilds everything.
    pub fn apply(&mut self, changed: &[PathBuf], everything: bool) -> Option<Outcome> {
        let config = self.root.join(CONFIG_FILE);
        let Some(site) = self
            .site
            .as_mut()
            .filter(|_| !everything && !changed.contains(&config))
        else {
            return Some(self.build_all());
        };
        let started = Instant::now();
        let result = site.rebuild_changed(changed);
        let warnings = site.warnings().to_vec();
        match result {
            Ok(r)
                if r.written + r.removed == 0
                    && self.status.as_ref() == Some(&self.built_status()) =>
            {
                None
            }
            Ok(r) => {
                let what = if r.full {
                    "everything".to_string()
                } else {
                    format!("{} group(s)", r.groups)
                };
                let mut summary = format!(
                    "Rebuilt {what} in {} ms ({} written, {} removed).",
                    started.elapsed().as_millis(),
                    r.written,
                    r.removed
                );
                if std::env::var_os(crate::site::TIMINGS_ENV).is_some() {
                    summary += &crate::site::phases_line(&r.timings);
                }
                if r.full {
                    for w in &warnings {
                        summary += &format!("\nwarning: {w}");
                    }
                }
                let status = self.built_status();
                Some(self.finish(status, summary, r.written + r.removed > 0))
            }
            Err(e) => Some(self.finish(
                Status::Failed {
                    message: e.to_string(),
                },
                "Rebuild failed.".into(),
                false,
            )),
        }
    }

    fn built_status(&self) -> Status {
        let problems = self
            .site
            .as_ref()
            .map(|s| s.problems().iter().map(ToString::to_string).collect());
        Status::Built {
            problems: problems.unwrap_or_default(),
        }
    }

    fn finish(&mut self, status: Status, summary: String, changed: bool) -> Outcome {
        let reload = changed || self.status.as_ref() != Some(&status);
        self.status = Some(status.clone());
        Outcome {
            status,
            summary,
            reload,
        }
    }
}
