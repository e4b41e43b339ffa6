//! `site` owns `chorus build`, in rooms that follow the build:
//! - `group`: the unit of work, one group's files in; its pages, images and thumbnails,
//!   summary, card and numbers out;
//! - `listings`: the index, Artist, prompt and leaderboard pages, the voice readings and
//!   the machine-readable exports, made from the group summaries alone;
//! - `engine`: what the last build kept (the manifest under `<root>/.chorus-cache/`),
//!   what a change touches, and the incremental update that rebuilds only that;
//! - `render`: the theme, Markdown made safe, the page model and the output folder;
//! - `analysis`: the pure measures (palettes, similarity, ratings, voice) beneath them.
//!
//! It never touches the network, and never rewrites an output file whose content is
//! unchanged.

pub mod analysis;
pub mod engine;
pub mod group;
pub mod listings;
pub mod render;

use std::path::PathBuf;

use crate::config::Project;
pub use crate::config::CACHE_DIR;
pub use engine::incremental::{Rebuild, Site};
use group::images::ImageStats;
pub use render::output::OUTPUT_MARKER;
pub use render::{SiteContext, CSP};

#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Output folder; `<root>/site` when `None`.
    pub out: Option<PathBuf>,
    /// Overrides `site.base_url`.
    pub base_url: Option<String>,
    /// Thumbnail cache; `<root>/.chorus-cache` when `None`.
    pub cache_dir: Option<PathBuf>,
    /// Leaves out the difference views (palettes, similarity, profiles; see `analysis`).
    pub no_analysis: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("{0}")]
    Theme(String),
    #[error("{0}")]
    Template(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Output(String),
    /// The build cache lacks something it should hold (a card removed by hand, say): the
    /// update starts again from an empty manifest, which makes it again.
    #[error("the build cache lacks {0}")]
    CacheLacks(String),
}

/// What a build did.
#[derive(Debug, Default)]
pub struct BuildReport {
    pub out: PathBuf,
    pub groups: usize,
    /// Groups built this time (the others were unchanged since the last build).
    pub rebuilt: usize,
    /// Every page was rendered (first build, or a theme, template or setting changed).
    pub full: bool,
    pub files: usize,
    pub written: usize,
    pub removed: usize,
    pub images: ImageStats,
    /// Problems in runs/ (and unreadable images); the sound groups were still built.
    pub problems: Vec<String>,
    /// What the build says besides (a theme folder missing files, filled from the
    /// built-in theme); not problems in runs/, so `--strict` ignores them.
    pub warnings: Vec<String>,
    /// Total size of the output folder, in bytes.
    pub site_bytes: u64,
    /// Wall time of each phase, in order (for the bench).
    pub timings: Vec<(&'static str, std::time::Duration)>,
}

/// When set, `build` prints how long each phase took (for the benchmarks).
pub const TIMINGS_ENV: &str = "CHORUS_BUILD_TIMINGS";

/// " Phases: scan 3 ms, …." for the [`TIMINGS_ENV`] output.
pub fn phases_line(laps: &[(&'static str, std::time::Duration)]) -> String {
    let laps: Vec<String> = laps
        .iter()
        .map(|(name, d)| format!("{name} {:.1} ms", d.as_secs_f64() * 1000.0))
        .collect();
    format!(" Phases: {}.", laps.join(", "))
}

/// What `build` says when the site weighs more than `[site] size_budget` (GitHub Pages'
/// 1 GB by default), with the settings that would publish less.
pub fn size_warning(site_bytes: u64, site: &crate::config::SiteConfig) -> Option<String> {
    let limit = site.size_budget;
    if site_bytes <= limit {
        return None;
    }
    let originals = site.originals;
    // What the setting does now, and what would publish less.
    let (now, instead) = match originals {
        crate::config::Originals::Copy => (
            "originals = \"copy\" publishes every image as it is in runs/",
            "set originals = \"web\" (a JPEG of each full image) or originals = \"none\" (thumbnails only) to publish less",
        ),
        crate::config::Originals::Web => (
            "originals = \"web\" publishes a JPEG of every full-size image (or the original, when smaller)",
            "set originals = \"none\" (thumbnails only) to publish less",
        ),
        crate::config::Originals::None => (
            "originals = \"none\" already publishes thumbnails only",
            "fewer runs per site (say, one site per experiment) would fit",
        ),
    };
    Some(format!(
        "the site is {}, over {}. Under [site] in chorus.toml, {now}; {instead}, or host the site elsewhere.",
        human_bytes(site_bytes),
        if limit == crate::config::PAGES_LIMIT_BYTES {
            "GitHub Pages' 1 GB limit ([site] size_budget)".to_string()
        } else {
            format!("[site] size_budget, {}", human_bytes(limit))
        }
    ))
}

/// A size as people read it: "812 KB", "1.3 GB".
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} bytes");
    }
    let mut v = n as f64;
    let mut unit = "";
    for u in UNITS {
        v /= 1000.0;
        unit = u;
        if v < 1000.0 {
            break;
        }
    }
    if v < 10.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.0} {unit}")
    }
}

/// Builds the site: only what changed since the last build of the same output folder.
pub fn build(project: &Project, opts: &BuildOptions) -> Result<BuildReport, SiteError> {
    Site::load(project.clone(), opts).map(|(_, report)| report)
}
