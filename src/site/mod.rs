//! `site` owns `chorus build`: it reads `runs/` through `store` one group at a time
//! (`group`: a group's files in, its pages, images and a small summary out), makes the
//! listings from the summaries (`listing`), keeps what it saw in a manifest under
//! `<root>/.chorus-cache/` (`manifest`) so a new process rebuilds only what changed
//! (`incremental`, told by `changes` what a change touches), and writes the output folder. It never touches the network, and never
//! rewrites an output file whose content is unchanged.

pub mod analysis;
pub mod blind;
pub mod changes;
pub mod exports;
pub mod group;
pub mod images;
pub mod incremental;
pub mod leaderboard;
pub mod listing;
pub mod manifest;
pub mod markdown;
pub mod model;
pub mod pager;
pub mod profiles;
pub mod ratings;
pub(crate) mod scan;
pub mod summary;
pub mod theme;
pub mod voice;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Project;
use crate::fsutil::write_rebuildable;
use images::ImageStats;
pub use incremental::{Rebuild, Site};

/// Marks a folder as chorus output, so stale files may be pruned from it safely. It is
/// written before anything else (holding [`MARKER_STARTED`]), so a build interrupted on
/// its first run leaves a folder the next build recognises, and holds [`MARKER_DONE`]
/// once a build has finished: until then every build renders everything.
pub const OUTPUT_MARKER: &str = ".chorus-site";
pub use crate::config::CACHE_DIR;
/// The marker's text while a folder's first build (or the first since it was emptied)
/// has not finished.
const MARKER_STARTED: &[u8] =
    b"This folder is being written by `chorus build`; files not made by it are removed.\n";
/// The marker's text once a build has finished writing the folder.
pub(crate) const MARKER_DONE: &[u8] =
    b"This folder is written by `chorus build`; files not made by it are removed.\n";

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

/// GitHub Pages publishes sites of at most 1 GB.
pub const PAGES_LIMIT_BYTES: u64 = 1_000_000_000;
/// Overrides [`PAGES_LIMIT_BYTES`] (in bytes), for a host with another limit.
pub const SIZE_LIMIT_ENV: &str = "CHORUS_SITE_SIZE_LIMIT";

/// What `build` says when the site is too big for GitHub Pages (or the limit in
/// `CHORUS_SITE_SIZE_LIMIT`), with the ways out.
pub fn size_warning(site_bytes: u64, originals: crate::config::Originals) -> Option<String> {
    let limit = std::env::var(SIZE_LIMIT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(PAGES_LIMIT_BYTES);
    if site_bytes <= limit {
        return None;
    }
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
        if limit == PAGES_LIMIT_BYTES {
            "GitHub Pages' 1 GB limit".to_string()
        } else {
            format!("the limit of {} set in {SIZE_LIMIT_ENV}", human_bytes(limit))
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

/// Wall-clock laps of a build's phases.
pub(crate) struct Phases {
    last: std::time::Instant,
    pub(crate) laps: Vec<(&'static str, std::time::Duration)>,
}

impl Phases {
    pub(crate) fn start() -> Phases {
        Phases {
            last: std::time::Instant::now(),
            laps: Vec::new(),
        }
    }

    pub(crate) fn lap(&mut self, name: &'static str) {
        let now = std::time::Instant::now();
        self.laps.push((name, now - self.last));
        self.last = now;
    }
}

/// One file of the output: rendered bytes, or a copy of a file on disk (a run's image
/// or a cached thumbnail). `link`: the source is chorus's own cache, never edited in
/// place, so a hard link may stand in for the copy.
pub(crate) enum OutFile {
    Bytes(Vec<u8>),
    Copy { src: PathBuf, link: bool },
}

/// Makes `dest` hold `src`'s bytes, atomically, leaving it alone when it already does.
/// Returns whether it wrote.
fn copy_if_changed(src: &Path, dest: &Path, link: bool) -> std::io::Result<bool> {
    // Whatever is copied must be a file itself: a link planted in runs/ or in a committed
    // cache would otherwise publish what it points at.
    if !crate::store::is_regular_file(src) {
        return Err(std::io::Error::other(
            "not a regular file (a symbolic link?); chorus only publishes files themselves",
        ));
    }
    let same_len = std::fs::metadata(src)?.len()
        == std::fs::metadata(dest).map(|m| m.len()).unwrap_or(u64::MAX);
    if link && !same_len {
        // Link under a temporary name beside the destination, then rename over it: the
        // same all-or-nothing guarantee as fsutil::write_atomic, without copying bytes.
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = dest.with_file_name(format!(
            "{}{}-link-{}",
            crate::fsutil::TEMP_PREFIX,
            std::process::id(),
            dest.file_name().and_then(|n| n.to_str()).unwrap_or("file")
        ));
        let _ = std::fs::remove_file(&tmp);
        if std::fs::hard_link(src, &tmp).is_ok() {
            return std::fs::rename(&tmp, dest).map(|_| true);
        }
    }
    write_rebuildable(dest, &std::fs::read(src)?)
}

/// Builds the site: only what changed since the last build of the same output folder.
pub fn build(project: &Project, opts: &BuildOptions) -> Result<BuildReport, SiteError> {
    Site::load(project.clone(), opts).map(|(_, report)| report)
}

/// What every template sees as `site`.
#[derive(Debug, Clone, Serialize)]
pub struct SiteContext {
    pub title: String,
    /// Absolute base URL with a trailing slash, or empty; only for feed, sitemap and
    /// canonical links.
    pub base_url: String,
    /// The Content-Security-Policy of every page: the site's own files only (404.html
    /// too: it links its stylesheet from the base_url's path, as it does its links).
    pub csp: String,
}

/// What pages may load: their own site's scripts, styles and images (and `data:` images,
/// which the theme's SVG may use), nothing else; no plugins, forms or `<base>` rewrites.
/// `serve` sends the same policy as a header.
pub const CSP: &str = "default-src 'self'; img-src 'self' data:; script-src 'self'; \
style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'";

impl SiteContext {
    pub(crate) fn new(project: &Project, opts: &BuildOptions) -> SiteContext {
        let base = opts
            .base_url
            .clone()
            .unwrap_or_else(|| project.config.site.base_url.clone());
        let base_url = match base.trim() {
            "" => String::new(),
            b if b.ends_with('/') => b.to_string(),
            b => format!("{b}/"),
        };
        SiteContext {
            title: project.config.site.title.clone(),
            base_url,
            csp: CSP.to_string(),
        }
    }
}

/// The output folder, checked once before anything is written to it.
pub(crate) struct Output {
    dir: PathBuf,
}

impl Output {
    /// Refuses a non-empty folder that chorus did not write, so `--out ~/Documents`
    /// cannot lose data; otherwise creates the folder and claims it with the marker
    /// before anything else is written, so an interrupted build never leaves a folder
    /// the next build would refuse.
    pub(crate) fn open(dir: &Path) -> Result<Output, SiteError> {
        let io = |source| SiteError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let marker = dir.join(OUTPUT_MARKER);
        if !marker.exists() {
            if dir.is_dir() && std::fs::read_dir(dir).map_err(io)?.next().is_some() {
                return Err(SiteError::Output(format!(
                    "{} exists, is not empty and was not written by chorus; empty it or choose another --out",
                    dir.display()
                )));
            }
            crate::fsutil::write_atomic(&marker, MARKER_STARTED).map_err(io)?;
        }
        Ok(Output {
            dir: dir.to_path_buf(),
        })
    }

    /// Whether a build has finished writing this folder (and nothing removed the marker
    /// since): otherwise the next build renders everything.
    pub(crate) fn finished(&self) -> bool {
        crate::store::read_capped(&self.dir.join(OUTPUT_MARKER), 4096)
            .is_ok_and(|text| text == MARKER_DONE)
    }

    /// Writes one file unless it already holds these bytes. Returns whether it wrote, and
    /// the file's length.
    pub(crate) fn write(&self, rel: &Path, file: &OutFile) -> Result<(bool, u64), SiteError> {
        let path = self.dir.join(rel);
        let io = |source| SiteError::Io {
            path: path.clone(),
            source,
        };
        // A linked folder inside the output would take this write elsewhere; chorus never
        // makes one, so it is removed, unfollowed.
        for dir in rel
            .ancestors()
            .skip(1)
            .filter(|d| !d.as_os_str().is_empty())
        {
            let at = self.dir.join(dir);
            if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
                std::fs::remove_file(&at).map_err(io)?;
            }
        }
        let wrote = match file {
            OutFile::Bytes(bytes) => write_rebuildable(&path, bytes).map_err(io)?,
            OutFile::Copy { src, link } => copy_if_changed(src, &path, *link).map_err(io)?,
        };
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        Ok((wrote, len))
    }

    /// Removes one file the build no longer makes (and its folder, once empty).
    pub(crate) fn remove(&self, rel: &Path) -> Result<bool, SiteError> {
        let path = self.dir.join(rel);
        match std::fs::remove_file(&path) {
            Ok(()) => {
                let mut dir = path.parent();
                while let Some(d) = dir.filter(|d| *d != self.dir) {
                    if std::fs::remove_dir(d).is_err() {
                        break;
                    }
                    dir = d.parent();
                }
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(SiteError::Io { path, source }),
        }
    }

    /// Removes every symbolic link inside the output, unfollowed: a link (in a committed
    /// site/, say) would take writes elsewhere, and chorus never makes one.
    pub(crate) fn remove_links(&self) -> Result<usize, SiteError> {
        use rayon::prelude::*;
        // Folders are read but files are not looked at one by one, and the folders two
        // levels down (one per group) are walked in parallel, so this stays cheap on every
        // build however large the site.
        let entries = |dir: &Path| -> Vec<std::fs::DirEntry> {
            std::fs::read_dir(dir)
                .map(|r| r.filter_map(Result::ok).collect())
                .unwrap_or_default()
        };
        let (mut links, mut subtrees) = (Vec::new(), Vec::new());
        for top in entries(&self.dir) {
            let kind = top.file_type().ok();
            if kind.is_some_and(|t| t.is_symlink()) {
                links.push(top.path());
            } else if kind.is_some_and(|t| t.is_dir()) {
                for child in entries(&top.path()) {
                    let kind = child.file_type().ok();
                    if kind.is_some_and(|t| t.is_symlink()) {
                        links.push(child.path());
                    } else if kind.is_some_and(|t| t.is_dir()) {
                        subtrees.push(child.path());
                    }
                }
            }
        }
        links.par_extend(subtrees.par_iter().flat_map_iter(|dir| {
            walkdir::WalkDir::new(dir)
                .into_iter()
                .filter_entry(|e| e.file_type().is_dir() || e.path_is_symlink())
                .filter_map(Result::ok)
                .filter(|e| e.path_is_symlink())
                .map(walkdir::DirEntry::into_path)
        }));
        for link in &links {
            std::fs::remove_file(link).map_err(|source| SiteError::Io {
                path: link.clone(),
                source,
            })?;
        }
        Ok(links.len())
    }

    /// Removes every file `keep` refuses (it is given root-relative paths): what a full
    /// build does, so the folder holds exactly what a clean build makes.
    pub(crate) fn prune(&self, keep: &dyn Fn(&Path) -> bool) -> Result<usize, SiteError> {
        let stale: Vec<PathBuf> = walkdir::WalkDir::new(&self.dir)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| !e.file_type().is_dir())
            .filter_map(|e| {
                let rel = e.path().strip_prefix(&self.dir).ok()?;
                (!keep(rel)).then(|| rel.to_path_buf())
            })
            .collect();
        let mut removed = 0;
        for rel in stale {
            removed += usize::from(self.remove(&rel)?);
        }
        Ok(removed)
    }
}

/// What a full build made, as hashes of root-relative paths (output files) and of cache
/// file names: everything else in the output and the cache is removed. Hashes, since at
/// 50,000 runs the paths themselves would take tens of MB; two paths sharing a hash (odds
/// of about 1 in 10⁸ there) only leave one stale file in place.
#[derive(Default)]
pub(crate) struct Kept {
    pub outputs: std::collections::HashSet<u64>,
    pub cache: std::collections::HashSet<u64>,
}

impl Kept {
    pub fn add(&mut self, entry: &manifest::GroupEntry) {
        self.outputs
            .extend(entry.outputs.keys().map(|p| path_hash(p)));
        self.cache
            .extend(entry.cache_keys.iter().map(|k| path_hash(Path::new(k))));
    }
}

/// A hash of a path's components, so `a/b` and `a//b` agree.
pub(crate) fn path_hash(path: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for c in path.components() {
        c.as_os_str().hash(&mut h);
    }
    h.finish()
}

/// Renders one page: `path` is root-relative; the template also sees `site`, `root` (the
/// way back up, so links stay relative) and `page_url`.
pub(crate) fn render_page(
    theme: &theme::Theme,
    site: &SiteContext,
    path: &str,
    template: &str,
    mut ctx: tera::Context,
) -> Result<Vec<u8>, SiteError> {
    let depth = path.matches('/').count();
    ctx.insert("site", site);
    // 404.html is served at whatever depth the missing URL had, so relative links
    // cannot work there; it links from the site's path on its host, which also works on
    // a preview or a mirror (unlike base_url's host).
    let root = if template == "404.html" {
        crate::config::base_path(&site.base_url)
    } else {
        "../".repeat(depth)
    };
    ctx.insert("root", &root);
    ctx.insert("page_url", &path.trim_end_matches("index.html"));
    let html = theme.render(template, &ctx)?;
    // Escaping keeps markup out but not NUL and other control characters from run
    // files; they must not reach a page (they are HTML parse errors).
    Ok(markdown::scrub_controls(&html).into_owned().into_bytes())
}

/// Refuses to build when the output or cache folder (or a folder directly in the cache)
/// is a symbolic link, which would make the build write and prune outside the project.
pub(crate) fn guard_folders(out: &Path, cache_dir: &Path) -> Result<(), SiteError> {
    crate::fsutil::refuse_linked_folder(cache_dir).map_err(SiteError::Output)?;
    if std::fs::symlink_metadata(out).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(SiteError::Output(format!(
            "{} is a symbolic link; chorus never writes through links (delete the link, or \
             choose another folder with --out)",
            out.display()
        )));
    }
    Ok(())
}
