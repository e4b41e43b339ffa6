//! `site` owns `chorus build`: it reads `runs/` through `store`, builds the page model,
//! makes thumbnails (cached in `<root>/.chorus-cache/`), renders the theme's templates
//! and writes the output folder. It never touches the network, and never rewrites an
//! output file whose content is unchanged.

pub mod analysis;
pub mod exports;
pub mod images;
pub mod incremental;
pub mod markdown;
pub mod model;
pub mod theme;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::Project;
use crate::fsutil::write_rebuildable;
use crate::store::{LoadedGroup, StoreProblem};
use images::{ImageStats, Prepared};
pub use incremental::{Rebuild, Site};
use model::{ImageView, SiteModel, ThumbView};

/// Marks a folder as chorus output, so stale files may be pruned from it safely.
pub const OUTPUT_MARKER: &str = ".chorus-site";
/// The cache folder inside a project root (keep it out of git).
pub const CACHE_DIR: &str = ".chorus-cache";

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
}

/// What a build did.
#[derive(Debug, Default)]
pub struct BuildReport {
    pub out: PathBuf,
    pub groups: usize,
    pub files: usize,
    pub written: usize,
    pub removed: usize,
    pub images: ImageStats,
    /// Problems in runs/; the sound groups were still built.
    pub problems: Vec<StoreProblem>,
    /// Wall time of each phase, in order (for the bench).
    pub timings: Vec<(&'static str, std::time::Duration)>,
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
/// or a cached thumbnail) identified by `key`, which changes when its content does.
/// `link`: the source is chorus's own cache, never edited in place, so a hard link may
/// stand in for the copy.
pub(crate) enum OutFile {
    Bytes(Vec<u8>),
    Copy {
        src: PathBuf,
        key: String,
        link: bool,
    },
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

/// Builds the whole site.
pub fn build(project: &Project, opts: &BuildOptions) -> Result<BuildReport, SiteError> {
    Site::load(project.clone(), opts).map(|(_, report)| report)
}

/// Every image file of a group, as the build reads them.
pub(crate) fn image_sources(groups: &[LoadedGroup]) -> Vec<PathBuf> {
    groups
        .iter()
        .flat_map(|g| {
            g.runs
                .iter()
                .filter_map(|r| model::safe_image_file(r).map(|f| g.dir.join(f)))
        })
        .filter(|p| crate::store::is_regular_file(p))
        .collect()
}

/// How a run's image appears on its pages, once it is prepared.
pub(crate) fn image_view(
    prepared: &BTreeMap<PathBuf, Prepared>,
    g: &LoadedGroup,
    run: &crate::store::RunRecord,
) -> Option<ImageView> {
    let file = model::safe_image_file(run)?;
    let p: &Prepared = prepared.get(&g.dir.join(file))?;
    let group_id = g.group.run_group_id.to_string();
    Some(ImageView {
        url: model::image_url(&group_id, &run.artist_slug, &p.source.format),
        width: p.source.width,
        height: p.source.height,
        thumbs: p
            .thumbs
            .iter()
            .map(|t| ThumbView {
                url: model::thumb_url(&group_id, &run.artist_slug, t.width),
                width: t.width,
                height: t.height,
            })
            .collect(),
    })
}

/// The full images and thumbnails of one group, as copies into the output.
pub(crate) fn image_files(
    g: &LoadedGroup,
    prepared: &BTreeMap<PathBuf, Prepared>,
    files: &mut BTreeMap<PathBuf, OutFile>,
) {
    for run in &g.runs {
        let Some(file) = model::safe_image_file(run) else {
            continue;
        };
        let src = g.dir.join(file);
        let Some(p) = prepared.get(&src) else {
            continue;
        };
        let group_id = g.group.run_group_id.to_string();
        files.insert(
            model::image_url(&group_id, &run.artist_slug, &p.source.format).into(),
            OutFile::Copy {
                src: src.clone(),
                key: p.source.sha256.clone(),
                link: false,
            },
        );
        for t in &p.thumbs {
            files.insert(
                model::thumb_url(&group_id, &run.artist_slug, t.width).into(),
                OutFile::Copy {
                    src: t.path.clone(),
                    key: t.key.clone(),
                    link: true,
                },
            );
        }
    }
}

/// The problems the index lists: broken files in runs/, then unreadable images. Files
/// are named relative to the project `root`: a published page must not show the build
/// machine's folders.
pub(crate) fn problem_lines<'a>(
    root: &Path,
    problems: impl IntoIterator<Item = &'a StoreProblem>,
    image_failures: &[(PathBuf, String)],
) -> Vec<String> {
    let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).to_path_buf();
    problems
        .into_iter()
        .map(|p| {
            StoreProblem {
                file: rel(&p.file),
                ..p.clone()
            }
            .to_string()
        })
        .chain(
            image_failures
                .iter()
                .map(|(p, e)| format!("{}: {e}", rel(p).display())),
        )
        .collect()
}

/// Which pages a render makes: all of them, or the site-wide pages (index, listings,
/// exports) plus the pages of some groups, Artists and prompt versions.
#[derive(Debug, Default)]
pub(crate) enum Scope {
    #[default]
    All,
    Only {
        groups: BTreeSet<String>,
        artists: BTreeSet<String>,
        prompts: BTreeSet<String>,
    },
}

impl Scope {
    fn all(&self) -> bool {
        matches!(self, Scope::All)
    }

    fn group(&self, id: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Only { groups, .. } => groups.contains(id),
        }
    }

    fn artist(&self, slug: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Only { artists, .. } => artists.contains(slug),
        }
    }

    fn prompt(&self, version: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Only { prompts, .. } => prompts.contains(version),
        }
    }
}

/// The rendered files in `scope`: pages, exports, and (for a full build) the theme's
/// static files and the output markers. Images are added by [`image_files`].
pub(crate) fn site_files(
    theme: &theme::Theme,
    site: &SiteContext,
    m: &SiteModel,
    problems: &[String],
    scope: &Scope,
    analysis: Option<&analysis::SiteAnalysis>,
) -> Result<BTreeMap<PathBuf, OutFile>, SiteError> {
    let mut files: BTreeMap<PathBuf, OutFile> = BTreeMap::new();
    for (path, bytes) in render_pages(theme, site, m, problems, scope, analysis)? {
        files.insert(path, OutFile::Bytes(bytes));
    }
    for (path, bytes) in exports::all(m, &site.title, &site.base_url) {
        files.insert(path.into(), OutFile::Bytes(bytes));
    }
    if scope.all() {
        for (rel, bytes) in &theme.statics {
            files.insert(Path::new("static").join(rel), OutFile::Bytes(bytes.clone()));
        }
        // GitHub Pages would otherwise run Jekyll, which hides files starting with `_` or `.`.
        files.insert(".nojekyll".into(), OutFile::Bytes(Vec::new()));
        files.insert(
            OUTPUT_MARKER.into(),
            OutFile::Bytes(
                b"This folder is written by `chorus build`; files not made by it are removed.\n"
                    .to_vec(),
            ),
        );
    }
    Ok(files)
}

/// What every template sees as `site`.
#[derive(Debug, Clone, Serialize)]
pub struct SiteContext {
    pub title: String,
    /// Absolute base URL with a trailing slash, or empty; only for feed, sitemap and
    /// canonical links.
    pub base_url: String,
    /// The stylesheet, for pages that cannot rely on relative links (404.html is served
    /// at any depth).
    pub inline_css: String,
    /// The Content-Security-Policy of every page: the site's own files only.
    pub csp: String,
    /// The same, also allowing exactly `inline_css` in a `<style>` element.
    pub csp_inline_css: String,
}

/// What pages may load: their own site's scripts, styles and images (and `data:` images,
/// which the theme's SVG may use), nothing else; no plugins, forms or `<base>` rewrites.
/// `serve` sends the same policy as a header.
pub const CSP: &str = "default-src 'self'; img-src 'self' data:; script-src 'self'; \
style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'";

/// [`CSP`], also allowing one inline stylesheet by its hash.
fn csp_with_style(css: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(css));
    CSP.replace(
        "style-src 'self'",
        &format!("style-src 'self' 'sha256-{hash}'"),
    )
}

impl SiteContext {
    pub(crate) fn new(project: &Project, opts: &BuildOptions, theme: &theme::Theme) -> SiteContext {
        let base = opts
            .base_url
            .clone()
            .unwrap_or_else(|| project.config.site.base_url.clone());
        let base_url = match base.trim() {
            "" => String::new(),
            b if b.ends_with('/') => b.to_string(),
            b => format!("{b}/"),
        };
        let inline_css = theme
            .statics
            .iter()
            .find(|(p, _)| p == Path::new("style.css"))
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        SiteContext {
            title: project.config.site.title.clone(),
            base_url,
            csp: CSP.to_string(),
            csp_inline_css: csp_with_style(&inline_css),
            inline_css,
        }
    }
}

/// One page to render: output path (root-relative), template, context.
struct Page {
    path: String,
    template: &'static str,
    ctx: tera::Context,
}

fn page(path: String, template: &'static str, ctx: tera::Context) -> Page {
    Page {
        path,
        template,
        ctx,
    }
}

fn ctx_with<T: Serialize + ?Sized>(key: &str, value: &T) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert(key, value);
    ctx
}

/// An Artist as listings show it: the page without its runs.
#[derive(Serialize)]
struct ArtistListing<'a> {
    slug: &'a str,
    name: &'a str,
    model: &'a str,
    provider: &'a str,
    url: &'a str,
    totals: &'a model::ArtistTotals,
}

/// A prompt version as listings show it: its rows name their groups, without the runs.
#[derive(Serialize)]
struct PromptListing<'a> {
    version: &'a str,
    url: &'a str,
    text: &'a str,
    sha256: &'a str,
    text_variants: usize,
    columns: &'a [model::ColumnHead],
    rows: Vec<RowListing<'a>>,
}

#[derive(Serialize)]
struct RowListing<'a> {
    group_url: &'a str,
    group_short_id: &'a str,
    created_date: &'a str,
}

/// The listings the index and the Artist and prompt indexes get. Every run would
/// otherwise be serialised into their contexts once per listing, which was most of the
/// time of an incremental rebuild on a 1,000-run site.
fn listings(m: &SiteModel) -> (Vec<ArtistListing<'_>>, Vec<PromptListing<'_>>) {
    let artists = m
        .artists
        .iter()
        .map(|a| ArtistListing {
            slug: &a.slug,
            name: &a.name,
            model: &a.model,
            provider: &a.provider,
            url: &a.url,
            totals: &a.totals,
        })
        .collect();
    let prompts = m
        .prompts
        .iter()
        .map(|p| PromptListing {
            version: &p.version,
            url: &p.url,
            text: &p.text,
            sha256: &p.sha256,
            text_variants: p.text_variants,
            columns: &p.columns,
            rows: p
                .rows
                .iter()
                .map(|r| RowListing {
                    group_url: &r.group_url,
                    group_short_id: &r.group_short_id,
                    created_date: &r.created_date,
                })
                .collect(),
        })
        .collect();
    (artists, prompts)
}

fn render_pages(
    theme: &theme::Theme,
    site: &SiteContext,
    m: &SiteModel,
    problems: &[String],
    scope: &Scope,
    analysis: Option<&analysis::SiteAnalysis>,
) -> Result<Vec<(PathBuf, Vec<u8>)>, SiteError> {
    let mut pages = Vec::new();
    let (artists, prompts) = listings(m);
    let mut index = ctx_with("groups", &m.groups);
    index.insert("artists", &artists);
    index.insert("prompts", &prompts);
    index.insert("problems", problems);
    pages.push(page("index.html".into(), "index.html", index));
    if scope.all() {
        pages.push(page("404.html".into(), "404.html", tera::Context::new()));
    }
    let has_blind = theme
        .tera
        .get_template_names()
        .any(|n| n == analysis::BLIND_TEMPLATE);
    for (i, g) in m
        .groups
        .iter()
        .enumerate()
        .filter(|(_, g)| scope.group(&g.id))
    {
        // Difference views: `analysis` on the group, Artist and prompt pages, in group order.
        let views = analysis.and_then(|a| a.groups.get(i));
        let mut ctx = ctx_with("group", g);
        ctx.insert("analysis", &views);
        pages.push(page(g.url.clone(), "group.html", ctx));
        if let Some(v) = views.filter(|_| has_blind) {
            let mut ctx = ctx_with("group", g);
            ctx.insert("blind_runs", &analysis::group::blind_columns(v, &g.runs));
            pages.push(page(
                analysis::blind_url(&g.id),
                analysis::BLIND_TEMPLATE,
                ctx,
            ));
        }
        // Run pages see the group without its runs (they have prev/next): serialising every
        // sibling into every run page was most of the render time.
        let summary = model::GroupView {
            runs: Vec::new(),
            ..g.clone()
        };
        for (i, run) in g.runs.iter().enumerate() {
            let mut ctx = ctx_with("group", &summary);
            ctx.insert("run", run);
            ctx.insert("prev", &i.checked_sub(1).map(|p| &g.runs[p]));
            ctx.insert("next", &g.runs.get(i + 1));
            pages.push(page(run.url.clone(), "run.html", ctx));
        }
    }
    pages.push(page(
        "artists/index.html".into(),
        "artists.html",
        ctx_with("artists", &artists),
    ));
    for a in m.artists.iter().filter(|a| scope.artist(&a.slug)) {
        let mut ctx = ctx_with("artist", a);
        ctx.insert("analysis", &analysis.and_then(|x| x.artists.get(&a.slug)));
        pages.push(page(a.url.clone(), "artist.html", ctx));
    }
    pages.push(page(
        "prompts/index.html".into(),
        "prompts.html",
        ctx_with("prompts", &prompts),
    ));
    for p in m.prompts.iter().filter(|p| scope.prompt(&p.version)) {
        let mut ctx = ctx_with("prompt", p);
        ctx.insert(
            "analysis",
            &analysis.and_then(|x| x.versions.get(&p.version)),
        );
        pages.push(page(p.url.clone(), "prompt.html", ctx));
    }

    pages
        .into_par_iter()
        .map(|p| {
            let depth = p.path.matches('/').count();
            let mut ctx = p.ctx;
            ctx.insert("site", site);
            // 404.html is served at whatever depth the missing URL had, so relative links
            // cannot work there; it uses base_url when there is one.
            let root = if p.template == "404.html" && !site.base_url.is_empty() {
                site.base_url.clone()
            } else {
                "../".repeat(depth)
            };
            ctx.insert("root", &root);
            ctx.insert("page_url", &p.path.trim_end_matches("index.html"));
            let html = theme.render(p.template, &ctx)?;
            // Escaping keeps markup out but not NUL and other control characters from
            // run files; they must not reach a page (they are HTML parse errors).
            let html = markdown::scrub_controls(&html).into_owned();
            Ok((PathBuf::from(p.path), html.into_bytes()))
        })
        .collect()
}

/// Remembers, per output folder, the inputs' fingerprint and each output file's length
/// and mtime after the build (and, for copies, what it was copied from), so an unchanged
/// file or an unchanged site is recognised without reading it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct OutputMemo {
    /// Empty after an incremental rebuild: only a full build vouches for the whole output.
    #[serde(default)]
    fingerprint: String,
    /// Root-relative path → (copy key, or empty for rendered files; length; mtime in ns).
    #[serde(default)]
    files: BTreeMap<PathBuf, (String, u64, u128)>,
}

impl OutputMemo {
    pub(crate) fn load(path: &Path) -> OutputMemo {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// The output was made from inputs with this fingerprint, and every file recorded is
    /// there with the same length and mtime, and no other file is.
    pub(crate) fn vouches_for(&self, fingerprint: &str, out: &Path) -> bool {
        if self.files.is_empty() || self.fingerprint != fingerprint {
            return false;
        }
        let same = self
            .files
            .par_iter()
            .all(|(rel, (_, len, mtime))| images::stat(&out.join(rel)) == Some((*len, *mtime)));
        same && walkdir::WalkDir::new(out)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .count()
            == self.files.len()
    }

    pub(crate) fn file_count(&self) -> usize {
        self.files.len()
    }
}

/// A hash of everything the output is made from: the runs, the theme, the site settings,
/// the images' identities and the chorus version.
pub(crate) fn fingerprint(
    groups: &[LoadedGroup],
    problems: &[String],
    theme: &theme::Theme,
    site: &SiteContext,
    prepared: &BTreeMap<PathBuf, Prepared>,
) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    let mut feed = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    feed(env!("CARGO_PKG_VERSION").as_bytes());
    for g in groups {
        feed(g.dir.as_os_str().as_encoded_bytes());
        feed(&serde_json::to_vec(&g.group).unwrap_or_default());
        for r in &g.runs {
            feed(&serde_json::to_vec(r).unwrap_or_default());
        }
    }
    for p in problems {
        feed(p.as_bytes());
    }
    for (name, (path, text)) in &theme.sources {
        feed(name.as_bytes());
        feed(path.as_os_str().as_encoded_bytes());
        feed(text.as_bytes());
    }
    for (rel, bytes) in &theme.statics {
        feed(rel.as_os_str().as_encoded_bytes());
        feed(bytes);
    }
    feed(&serde_json::to_vec(site).unwrap_or_default());
    for (src, p) in prepared {
        feed(src.as_os_str().as_encoded_bytes());
        feed(format!("{p:?}").as_bytes());
    }
    crate::store::sha256_hex(&h.finalize())
}

pub(crate) fn output_memo_path(cache_dir: &Path, out: &Path) -> PathBuf {
    let abs = std::fs::canonicalize(out).unwrap_or_else(|_| out.to_path_buf());
    let id = crate::store::sha256_hex(abs.to_string_lossy().as_bytes());
    cache_dir.join(format!("output-{}.json", &id[..16]))
}

/// Writes changed files and prunes files the build no longer makes. Refuses to prune a
/// non-empty folder that chorus did not write, so `--out ~/Documents` cannot lose data.
/// With `fingerprint` (a full build) stale files are pruned and the memo vouches for the
/// output; without it (an incremental rebuild) only `files` are written, nothing is
/// removed, and what the memo knows of other files is kept.
pub(crate) fn write_output(
    out: &Path,
    files: &BTreeMap<PathBuf, OutFile>,
    cache_dir: &Path,
    fingerprint: Option<String>,
) -> Result<(usize, usize), SiteError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SiteError::Io { path, source }
    };
    guard_folders(out, cache_dir)?;
    if out.is_dir()
        && !out.join(OUTPUT_MARKER).exists()
        && std::fs::read_dir(out).map_err(io(out))?.next().is_some()
    {
        return Err(SiteError::Output(format!(
            "{} exists, is not empty and was not written by chorus; empty it or choose another --out",
            out.display()
        )));
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    if fingerprint.is_some() {
        // A link inside the output (a committed site/, say) would take writes elsewhere;
        // chorus never makes one, so a full build removes them, unfollowed, first.
        for entry in walkdir::WalkDir::new(out)
            .into_iter()
            .filter_map(Result::ok)
        {
            if entry.path_is_symlink() {
                std::fs::remove_file(entry.path()).map_err(io(entry.path()))?;
            }
        }
    }
    let memo_path = output_memo_path(cache_dir, out);
    let memo = OutputMemo::load(&memo_path);

    type Written = (bool, PathBuf, (String, u64, u128));
    let results: Vec<Result<Written, SiteError>> = files
        .par_iter()
        .map(|(rel, file)| {
            let path = out.join(rel);
            let (wrote, key) = match file {
                OutFile::Bytes(bytes) => (write_rebuildable(&path, bytes).map_err(io(&path))?, ""),
                OutFile::Copy { src, key, link } => {
                    let now = images::stat(&path);
                    let known = memo
                        .files
                        .get(rel)
                        .is_some_and(|(k, len, mtime)| k == key && now == Some((*len, *mtime)));
                    let wrote = if known {
                        false
                    } else {
                        copy_if_changed(src, &path, *link).map_err(io(&path))?
                    };
                    (wrote, key.as_str())
                }
            };
            let (len, mtime) = images::stat(&path).unwrap_or_default();
            Ok((wrote, rel.clone(), (key.to_string(), len, mtime)))
        })
        .collect();
    let prune = fingerprint.is_some();
    let mut new_memo = match fingerprint {
        Some(fingerprint) => OutputMemo {
            fingerprint,
            files: BTreeMap::new(),
        },
        None => OutputMemo {
            fingerprint: String::new(),
            files: memo.files,
        },
    };
    let mut written = 0;
    for r in results {
        let (wrote, rel, entry) = r?;
        written += usize::from(wrote);
        new_memo.files.insert(rel, entry);
    }

    let mut removed = 0;
    if prune {
        let stale: Vec<PathBuf> = walkdir::WalkDir::new(out)
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
            std::fs::remove_file(&path).map_err(io(&path))?;
            removed += 1;
        }
        remove_empty_dirs(out);
    }
    // The memo is only an accelerator: failing to save it costs time, not correctness.
    if let Ok(bytes) = serde_json::to_vec(&new_memo) {
        let _ = write_rebuildable(&memo_path, &bytes);
    }
    Ok((written, removed))
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

fn remove_empty_dirs(out: &Path) {
    let dirs: Vec<PathBuf> = walkdir::WalkDir::new(out)
        .contents_first(true)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_dir() && e.path() != out)
        .map(|e| e.into_path())
        .collect();
    for dir in dirs {
        let _ = std::fs::remove_dir(dir); // fails, harmlessly, when not empty
    }
}
