//! `site` owns `chorus build`: it reads `runs/` through `store`, renders the theme's
//! templates and writes the output folder. It never touches the network, and never
//! rewrites an output file whose content is unchanged.

pub mod analysis;
pub mod markdown;
pub mod model;
pub mod theme;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::Project;
use crate::fsutil::write_if_changed;
use crate::store::{load_runs, StoreProblem};
use model::GroupView;

/// Marks a folder as chorus output, so stale files may be pruned from it safely.
pub const OUTPUT_MARKER: &str = ".chorus-site";

#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Output folder; `<root>/site` when `None`.
    pub out: Option<PathBuf>,
    /// Overrides `site.base_url`.
    pub base_url: Option<String>,
    /// Skips the difference views (palettes, similarity, profiles; see `analysis`).
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
    /// Problems in runs/; the sound groups were still built.
    pub problems: Vec<StoreProblem>,
}

/// Builds the whole site.
pub fn build(project: &Project, opts: &BuildOptions) -> Result<BuildReport, SiteError> {
    let out = opts.out.clone().unwrap_or_else(|| project.root.join("site"));
    let theme = theme::load(&project.root, &project.config.site.theme)?;
    let mut tree = load_runs(&project.runs_dir());
    let analysis = match opts.no_analysis {
        true => None,
        false => Some(analysis::analyse(&tree.groups, &analysis::SignatureCache::for_project(&project.root))?),
    };
    if let Some(a) = &analysis {
        tree.problems.extend(a.problems.iter().cloned());
    }

    let groups: Vec<GroupView> = tree
        .groups
        .iter()
        .map(|g| {
            model::group_view(g, |run| {
                run.image_file.as_ref().is_some_and(|f| g.dir.join(f).is_file())
            })
        })
        .collect();

    let site = SiteContext {
        title: project.config.site.title.clone(),
        base_url: opts.base_url.clone().unwrap_or_else(|| project.config.site.base_url.clone()),
    };
    let mut files: BTreeMap<PathBuf, Vec<u8>> = BTreeMap::new();
    let render = |template: &str, depth: usize, extra: tera::Context| -> Result<Vec<u8>, SiteError> {
        let mut ctx = tera::Context::new();
        ctx.insert("site", &site);
        ctx.insert("root", &"../".repeat(depth));
        ctx.extend(extra);
        theme
            .tera
            .render(template, &ctx)
            .map(String::into_bytes)
            .map_err(|e| SiteError::Template(format!("rendering {template}: {}", theme::error_chain(&e))))
    };

    let mut ctx = tera::Context::new();
    ctx.insert("groups", &groups);
    ctx.insert("problems", &tree.problems.iter().map(ToString::to_string).collect::<Vec<_>>());
    files.insert("index.html".into(), render("index.html", 0, ctx)?);

    for (g, (view, loaded)) in groups.iter().zip(&tree.groups).enumerate() {
        let group_analysis = analysis.as_ref().and_then(|a| a.groups.get(g));
        let mut ctx = tera::Context::new();
        ctx.insert("group", view);
        ctx.insert("analysis", &group_analysis);
        files.insert(PathBuf::from(&view.url), render("group.html", 2, ctx)?);
        if let Some(a) = group_analysis.filter(|_| theme.tera.get_template_names().any(|n| n == analysis::BLIND_TEMPLATE)) {
            let mut ctx = tera::Context::new();
            ctx.insert("group", view);
            ctx.insert("blind_runs", &analysis::group::blind_columns(a, &view.runs));
            files.insert(PathBuf::from(analysis::blind_url(&view.id)), render(analysis::BLIND_TEMPLATE, 2, ctx)?);
        }
        for (i, run) in view.runs.iter().enumerate() {
            let mut ctx = tera::Context::new();
            ctx.insert("group", view);
            ctx.insert("run", run);
            ctx.insert("prev", &i.checked_sub(1).map(|p| &view.runs[p]));
            ctx.insert("next", &view.runs.get(i + 1));
            files.insert(PathBuf::from(&run.url), render("run.html", 2, ctx)?);
        }
        for run in &loaded.runs {
            if let Some(file) = &run.image_file {
                let src = loaded.dir.join(file);
                if let Ok(bytes) = std::fs::read(&src) {
                    files.insert(PathBuf::from(model::image_url(&view.id, file)), bytes);
                }
            }
        }
    }
    for (rel, bytes) in theme.statics {
        files.insert(Path::new("static").join(rel), bytes);
    }
    files.insert(OUTPUT_MARKER.into(), b"This folder is written by `chorus build`; files not made by it are removed.\n".to_vec());

    let (written, removed) = write_output(&out, &files)?;
    Ok(BuildReport {
        out,
        groups: groups.len(),
        files: files.len(),
        written,
        removed,
        problems: tree.problems,
    })
}

#[derive(serde::Serialize)]
struct SiteContext {
    title: String,
    base_url: String,
}

/// Writes changed files and prunes files the build no longer makes. Refuses to prune a
/// non-empty folder that chorus did not write, so `--out ~/Documents` cannot lose data.
fn write_output(out: &Path, files: &BTreeMap<PathBuf, Vec<u8>>) -> Result<(usize, usize), SiteError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SiteError::Io { path, source }
    };
    if out.is_dir() && !out.join(OUTPUT_MARKER).exists() && std::fs::read_dir(out).map_err(io(out))?.next().is_some() {
        return Err(SiteError::Output(format!(
            "{} exists, is not empty and was not written by chorus; empty it or choose another --out",
            out.display()
        )));
    }
    let mut written = 0;
    for (rel, bytes) in files {
        let path = out.join(rel);
        if write_if_changed(&path, bytes).map_err(io(&path))? {
            written += 1;
        }
    }
    let mut removed = 0;
    let stale: Vec<PathBuf> = walkdir::WalkDir::new(out)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| e.path().strip_prefix(out).is_ok_and(|rel| !files.contains_key(rel)))
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
