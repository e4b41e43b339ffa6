//! Themes: `themes/<name>/templates/*.html` (tera) and `themes/<name>/static/`. A file in
//! the project's own `templates/` replaces the theme's template of the same name, as in
//! Zola. The default theme is also built into the binary, so a project without a
//! `themes/default` folder still builds.

use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};

use crate::site::SiteError;

/// The default theme as shipped, for `chorus init` and for projects without a copy.
pub static DEFAULT_THEME: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/themes/default");

/// A loaded theme: compiled templates plus the static files to copy.
pub struct Theme {
    pub tera: tera::Tera,
    /// Template name → (file it came from, its text), for error messages.
    pub sources: std::collections::BTreeMap<String, (PathBuf, String)>,
    /// (path relative to the output's `static/`, bytes)
    pub statics: Vec<(PathBuf, Vec<u8>)>,
    /// What the build should say about the theme (files taken from the built-in one).
    pub warnings: Vec<String>,
}

/// (template name, text, where it came from) of every template.
type Templates = Vec<(String, String, PathBuf)>;

/// The built-in default theme's templates.
fn builtin_templates() -> Templates {
    let Some(dir) = DEFAULT_THEME.get_dir("templates") else {
        return Vec::new();
    };
    embedded_files(dir)
        .into_iter()
        .map(|file| {
            let rel = file.path().strip_prefix("templates").unwrap_or(file.path());
            (
                rel.to_string_lossy().replace('\\', "/"),
                file.contents_utf8().unwrap_or_default().to_string(),
                PathBuf::from("<built-in default theme>/templates").join(rel),
            )
        })
        .collect()
}

/// The built-in default theme's static files.
fn builtin_statics() -> Vec<(PathBuf, Vec<u8>)> {
    let Some(dir) = DEFAULT_THEME.get_dir("static") else {
        return Vec::new();
    };
    embedded_files(dir)
        .into_iter()
        .map(|file| {
            let rel = file.path().strip_prefix("static").unwrap_or(file.path());
            (rel.to_path_buf(), file.contents().to_vec())
        })
        .collect()
}

/// A theme folder is usually a copy `chorus init` made of the default theme, which a newer
/// chorus may have added files to: pages would then lose a feature and keep a link to it
/// (no leaderboard template, yet the header links the leaderboard). Every template and
/// static file of the built-in theme that the folder (and the project's templates/) lacks
/// is taken from the built-in theme, and the build says which.
fn fill_from_builtin(
    theme_dir: &Path,
    templates: &mut Templates,
    statics: &mut Vec<(PathBuf, Vec<u8>)>,
) -> Option<String> {
    let mut filled = Vec::new();
    for t in builtin_templates() {
        if !templates.iter().any(|(name, _, _)| *name == t.0) {
            filled.push(format!("templates/{}", t.0));
            templates.push(t);
        }
    }
    for f in builtin_statics() {
        if !statics.iter().any(|(rel, _)| *rel == f.0) {
            filled.push(format!(
                "static/{}",
                f.0.to_string_lossy().replace('\\', "/")
            ));
            statics.push(f);
        }
    }
    statics.sort_by(|a, b| a.0.cmp(&b.0));
    (!filled.is_empty()).then(|| {
        format!(
            "{} lacks {} (added to chorus after the theme was copied?); the built-in default \
             theme's are used. Copy them in from a new `chorus init`, or delete the theme folder \
             to use the built-in theme throughout.",
            theme_dir.display(),
            filled.join(", ")
        )
    })
}

/// Loads `theme` for the project at `root`.
pub fn load(root: &Path, theme: &str) -> Result<Theme, SiteError> {
    let theme_dir = root.join("themes").join(theme);
    let from_folder = theme_dir.is_dir();
    let (mut templates, mut statics) = if from_folder {
        let templates: Templates = read_dir_files(&theme_dir.join("templates"))?
            .into_iter()
            .filter_map(|(rel, bytes, path)| {
                Some((
                    rel.to_str()?.replace('\\', "/"),
                    String::from_utf8(bytes).ok()?,
                    path,
                ))
            })
            .collect();
        let statics: Vec<(PathBuf, Vec<u8>)> = read_dir_files(&theme_dir.join("static"))?
            .into_iter()
            .map(|(rel, bytes, _)| (rel, bytes))
            .collect();
        (templates, statics)
    } else if theme == "default" {
        (builtin_templates(), builtin_statics())
    } else {
        return Err(SiteError::Theme(format!(
            "theme {theme:?} not found: expected the folder {} (set site.theme in chorus.toml)",
            theme_dir.display()
        )));
    };

    // Zola's rule: the project's templates/ override the theme's, file by file.
    let overrides = root.join("templates");
    if overrides.is_dir() {
        for (rel, bytes, path) in read_dir_files(&overrides)? {
            let name = rel.to_string_lossy().replace('\\', "/");
            let text = String::from_utf8(bytes)
                .map_err(|_| SiteError::Theme(format!("{}: not UTF-8 text", path.display())))?;
            templates.retain(|(n, _, _)| n != &name);
            templates.push((name, text, path));
        }
    }
    let mut warnings = Vec::new();
    if from_folder {
        let rel_dir = theme_dir.strip_prefix(root).unwrap_or(&theme_dir);
        warnings.extend(fill_from_builtin(rel_dir, &mut templates, &mut statics));
    }

    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![".html", ".xml"]);
    tera.set_escape_fn(escape_html);
    // Tera needs all templates at once so `extends` can resolve; on failure, find the
    // file at fault by compiling each alone.
    let all: Vec<(String, String)> = templates
        .iter()
        .map(|(n, t, _)| (n.clone(), t.clone()))
        .collect();
    if let Err(e) = tera.add_raw_templates(all) {
        // Tera names the template it failed to parse ("Failed to parse 'group.html'");
        // other errors (a missing parent, say) are found by parsing each file alone.
        let message = error_chain(&e);
        let named = message
            .split('\'')
            .nth(1)
            .and_then(|n| templates.iter().find(|(name, _, _)| name == n));
        let culprit = named.or_else(|| {
            templates
                .iter()
                .find(|(name, text, _)| tera::Template::new(name, None, text).is_err())
        });
        let place = culprit
            .map(|(_, _, path)| format!("{}: ", path.display()))
            .unwrap_or_default();
        return Err(SiteError::Template(format!("{place}{message}")));
    }
    let sources = templates.into_iter().map(|(n, t, p)| (n, (p, t))).collect();
    Ok(Theme {
        tera,
        sources,
        statics,
        warnings,
    })
}

impl Theme {
    /// Renders one template; an error names the template's file and, when tera names
    /// the variable or filter at fault, the first line that uses it.
    pub fn render(&self, name: &str, ctx: &tera::Context) -> Result<String, SiteError> {
        self.tera.render(name, ctx).map_err(|e| {
            let message = error_chain(&e);
            let (file, line) = self.locate(name, &message);
            let at = match line {
                Some(l) => format!("{}:{l}", file.display()),
                None => file.display().to_string(),
            };
            SiteError::Template(format!("{at}: {message}"))
        })
    }

    /// Tera 1 reports render errors without a line; the quoted name in the message
    /// (`x` in "Variable `x` not found") is searched for in the template and its parents.
    fn locate(&self, name: &str, message: &str) -> (PathBuf, Option<usize>) {
        let file_of = |n: &str| {
            self.sources
                .get(n)
                .map(|(p, _)| p.clone())
                .unwrap_or_else(|| PathBuf::from(n))
        };
        let needle = message.split('`').nth(1).filter(|s| !s.is_empty());
        let mut chain = vec![name.to_string()];
        while let Some(parent) = self
            .tera
            .get_template(chain.last().map_or(name, |s| s.as_str()))
            .ok()
            .and_then(|t| t.parent.clone())
        {
            if chain.contains(&parent) {
                break;
            }
            chain.push(parent);
        }
        if let Some(needle) = needle {
            for n in &chain {
                if let Some((path, text)) = self.sources.get(n) {
                    if let Some(i) = text.lines().position(|l| l.contains(needle)) {
                        return (path.clone(), Some(i + 1));
                    }
                }
            }
        }
        (file_of(name), None)
    }
}

use crate::untrusted::escape_html;

fn embedded_files<'a>(dir: &'a Dir<'a>) -> Vec<&'a include_dir::File<'a>> {
    let mut files: Vec<&include_dir::File> = dir.files().collect();
    for sub in dir.dirs() {
        files.extend(embedded_files(sub));
    }
    files
}

/// Every file under `dir` as (relative path, bytes, full path), sorted; none if absent.
fn read_dir_files(dir: &Path) -> Result<Vec<(PathBuf, Vec<u8>, PathBuf)>, SiteError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| SiteError::Theme(format!("{}: {e}", dir.display())))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path().to_path_buf();
        let bytes = std::fs::read(&path)
            .map_err(|e| SiteError::Theme(format!("{}: {e}", path.display())))?;
        let rel = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
        out.push((rel, bytes, path));
    }
    Ok(out)
}

/// Tera hides the useful part (file, line, what was expected) in the error's sources.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}

/// Writes the default theme into `dest` (used by `chorus init`).
pub fn write_default_theme(dest: &Path) -> std::io::Result<()> {
    for file in embedded_files(&DEFAULT_THEME) {
        crate::fsutil::write_atomic(&dest.join(file.path()), file.contents())?;
    }
    Ok(())
}
