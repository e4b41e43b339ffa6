//! `site` owns `chorus build`: it reads `runs/` through `store`, builds the page model,
//! makes thumbnails (cached in `<root>/.chorus-cache/`), renders the theme's templates
//! and writes the output folder. It never touches the network, and never rewrites an
//! output file whose content is unchanged.

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
use crate::fsutil::{write_atomic, write_if_changed};
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
}

/// One file of the output: rendered bytes, or a copy of a file on disk (a run's image
/// or a cached thumbnail) identified by `key`, which changes when its content does.
pub(crate) enum OutFile {
    Bytes(Vec<u8>),
    Copy { src: PathBuf, key: String },
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
        .filter(|p| p.is_file())
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
        url: model::image_url(&group_id, file),
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
            model::image_url(&group_id, file).into(),
            OutFile::Copy {
                src: src.clone(),
                key: p.source.sha256.clone(),
            },
        );
        for t in &p.thumbs {
            files.insert(
                model::thumb_url(&group_id, &run.artist_slug, t.width).into(),
                OutFile::Copy {
                    src: t.path.clone(),
                    key: t.key.clone(),
                },
            );
        }
    }
}

/// The problems the index lists: broken files in runs/, then unreadable images.
pub(crate) fn problem_lines(
    problems: &[StoreProblem],
    image_failures: &[(PathBuf, String)],
) -> Vec<String> {
    problems
        .iter()
        .map(ToString::to_string)
        .chain(
            image_failures
                .iter()
                .map(|(p, e)| format!("{}: {e}", p.display())),
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
) -> Result<BTreeMap<PathBuf, OutFile>, SiteError> {
    let mut files: BTreeMap<PathBuf, OutFile> = BTreeMap::new();
    for (path, bytes) in render_pages(theme, site, m, problems, scope)? {
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
    for g in m.groups.iter().filter(|g| scope.group(&g.id)) {
        pages.push(page(g.url.clone(), "group.html", ctx_with("group", g)));
        for (i, run) in g.runs.iter().enumerate() {
            let mut ctx = ctx_with("group", g);
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
        pages.push(page(a.url.clone(), "artist.html", ctx_with("artist", a)));
    }
    pages.push(page(
        "prompts/index.html".into(),
        "prompts.html",
        ctx_with("prompts", &prompts),
    ));
    for p in m.prompts.iter().filter(|p| scope.prompt(&p.version)) {
        pages.push(page(p.url.clone(), "prompt.html", ctx_with("prompt", p)));
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
            Ok((PathBuf::from(p.path), html.into_bytes()))
        })
        .collect()
}

/// Remembers, per output folder, what each copied file was made from and its length and
/// mtime afterwards, so an unchanged copy is recognised without reading it.
#[derive(Debug, Default, Serialize, Deserialize)]
struct OutputMemo {
    #[serde(default)]
    copies: BTreeMap<PathBuf, (String, u64, u128)>,
}

fn output_memo_path(cache_dir: &Path, out: &Path) -> PathBuf {
    let abs = std::fs::canonicalize(out).unwrap_or_else(|_| out.to_path_buf());
    let id = crate::store::sha256_hex(abs.to_string_lossy().as_bytes());
    cache_dir.join(format!("output-{}.json", &id[..16]))
}

/// Writes changed files and prunes files the build no longer makes. Refuses to prune a
/// non-empty folder that chorus did not write, so `--out ~/Documents` cannot lose data.
/// With `prune` false (an incremental rebuild) only `files` are written: nothing is
/// removed and what the memo knows of other files is kept.
pub(crate) fn write_output(
    out: &Path,
    files: &BTreeMap<PathBuf, OutFile>,
    cache_dir: &Path,
    prune: bool,
) -> Result<(usize, usize), SiteError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SiteError::Io { path, source }
    };
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
    let memo_path = output_memo_path(cache_dir, out);
    let memo: OutputMemo = std::fs::read(&memo_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();

    type Written = (bool, Option<(PathBuf, (String, u64, u128))>);
    let results: Vec<Result<Written, SiteError>> = files
        .par_iter()
        .map(|(rel, file)| {
            let path = out.join(rel);
            match file {
                OutFile::Bytes(bytes) => {
                    Ok((write_if_changed(&path, bytes).map_err(io(&path))?, None))
                }
                OutFile::Copy { src, key } => {
                    let now = images::stat(&path);
                    let known = memo
                        .copies
                        .get(rel)
                        .is_some_and(|(k, len, mtime)| k == key && now == Some((*len, *mtime)));
                    let wrote = if known {
                        false
                    } else {
                        let bytes = std::fs::read(src).map_err(io(src))?;
                        write_if_changed(&path, &bytes).map_err(io(&path))?
                    };
                    let (len, mtime) = images::stat(&path).unwrap_or_default();
                    Ok((wrote, Some((rel.clone(), (key.clone(), len, mtime)))))
                }
            }
        })
        .collect();
    let mut written = 0;
    let mut new_memo = if prune { OutputMemo::default() } else { memo };
    for r in results {
        let (wrote, entry) = r?;
        written += usize::from(wrote);
        if let Some((rel, e)) = entry {
            new_memo.copies.insert(rel, e);
        }
    }
    if let Ok(bytes) = serde_json::to_vec(&new_memo) {
        if std::fs::read(&memo_path).ok().as_deref() != Some(&bytes[..]) {
            let _ = write_atomic(&memo_path, &bytes);
        }
    }

    if !prune {
        return Ok((written, 0));
    }
    let mut removed = 0;
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
    Ok((written, removed))
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
