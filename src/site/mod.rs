//! `site` owns `chorus build`: it reads `runs/` through `store`, builds the page model,
//! makes thumbnails (cached in `<root>/.chorus-cache/`), renders the theme's templates
//! and writes the output folder. It never touches the network, and never rewrites an
//! output file whose content is unchanged.

pub mod analysis;
pub mod exports;
pub mod images;
pub mod markdown;
pub mod model;
pub mod theme;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::Project;
use crate::fsutil::{write_atomic, write_if_changed};
use crate::store::{load_runs, StoreProblem};
use images::{ImageCache, ImageStats, Prepared};
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
}

/// One file of the output: rendered bytes, or a copy of a file on disk (a run's image
/// or a cached thumbnail) identified by `key`, which changes when its content does.
enum OutFile {
    Bytes(Vec<u8>),
    Copy { src: PathBuf, key: String },
}

/// Builds the whole site.
pub fn build(project: &Project, opts: &BuildOptions) -> Result<BuildReport, SiteError> {
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| project.root.join("site"));
    let cache = ImageCache::new(
        opts.cache_dir
            .clone()
            .unwrap_or_else(|| project.root.join(CACHE_DIR)),
    );
    let theme = theme::load(&project.root, &project.config.site.theme)?;
    let mut tree = load_runs(&project.runs_dir());

    // Images first: the pages need each image's size and variants.
    let sources: Vec<PathBuf> = tree
        .groups
        .iter()
        .flat_map(|g| {
            g.runs
                .iter()
                .filter_map(|r| model::safe_image_file(r).map(|f| g.dir.join(f)))
        })
        .filter(|p| p.is_file())
        .collect();
    let (prepared, image_stats) = cache.prepare(&sources);
    let analysis = match opts.no_analysis {
        true => None,
        false => Some(analysis::analyse(
            &tree.groups,
            &analysis::SignatureCache::new(cache.dir()),
            |path| prepared.get(path).map(|p| p.source.sha256.clone()),
        )?),
    };
    if let Some(a) = &analysis {
        tree.problems.extend(a.problems.iter().cloned());
    }

    let mut files: BTreeMap<PathBuf, OutFile> = BTreeMap::new();
    let site_model = model::site_model(&tree.groups, |g, run| {
        let file = model::safe_image_file(run)?;
        let p: &Prepared = prepared.get(&g.dir.join(file))?;
        let group_id = g.group.run_group_id.to_string();
        let view = ImageView {
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
        };
        Some(view)
    });
    for g in &tree.groups {
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

    let site = SiteContext::new(project, opts, &theme);
    let problems: Vec<String> = tree
        .problems
        .iter()
        .map(ToString::to_string)
        .chain(
            image_stats
                .failed
                .iter()
                .map(|(p, e)| format!("{}: {e}", p.display())),
        )
        .collect();
    for (path, bytes) in render_pages(&theme, &site, &site_model, &problems, analysis.as_ref())? {
        files.insert(path, OutFile::Bytes(bytes));
    }
    for (path, bytes) in exports::all(&site_model, &site.title, &site.base_url) {
        files.insert(path.into(), OutFile::Bytes(bytes));
    }
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

    let (written, removed) = write_output(&out, &files, cache.dir())?;
    Ok(BuildReport {
        out,
        groups: site_model.groups.len(),
        files: files.len(),
        written,
        removed,
        images: image_stats,
        problems: tree.problems,
    })
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
    fn new(project: &Project, opts: &BuildOptions, theme: &theme::Theme) -> SiteContext {
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

fn render_pages(
    theme: &theme::Theme,
    site: &SiteContext,
    m: &SiteModel,
    problems: &[String],
    analysis: Option<&analysis::SiteAnalysis>,
) -> Result<Vec<(PathBuf, Vec<u8>)>, SiteError> {
    let mut pages = Vec::new();
    let mut index = ctx_with("groups", &m.groups);
    index.insert("artists", &m.artists);
    index.insert("prompts", &m.prompts);
    index.insert("problems", problems);
    pages.push(page("index.html".into(), "index.html", index));
    pages.push(page("404.html".into(), "404.html", tera::Context::new()));
    let has_blind = theme
        .tera
        .get_template_names()
        .any(|n| n == analysis::BLIND_TEMPLATE);
    for (i, g) in m.groups.iter().enumerate() {
        // Difference views (issue 6): `analysis` on the group, Artist and prompt pages.
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
        ctx_with("artists", &m.artists),
    ));
    for a in &m.artists {
        let mut ctx = ctx_with("artist", a);
        ctx.insert("analysis", &analysis.and_then(|x| x.artists.get(&a.slug)));
        pages.push(page(a.url.clone(), "artist.html", ctx));
    }
    pages.push(page(
        "prompts/index.html".into(),
        "prompts.html",
        ctx_with("prompts", &m.prompts),
    ));
    for p in &m.prompts {
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
fn write_output(
    out: &Path,
    files: &BTreeMap<PathBuf, OutFile>,
    cache_dir: &Path,
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
    let mut new_memo = OutputMemo::default();
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
