//! Semantic checks on a parsed `chorus.toml`: slugs, providers, references and prompt
//! sources. Returns every problem rather than the first one.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{kind_names, Brush, Config, ImageFamily, Kind, PromptSource, Role, OUTPUT_FORMATS};

/// One problem in the configuration: which file, which key, and what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{}{}", file.display(), if key.is_empty() { String::new() } else { format!(": {key}") }, format!(": {reason}"))]
pub struct ConfigProblem {
    pub file: PathBuf,
    pub key: String,
    pub reason: String,
}

impl ConfigProblem {
    pub fn new(file: &Path, key: &str, reason: impl Into<String>) -> ConfigProblem {
        ConfigProblem {
            file: file.to_path_buf(),
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}

/// Names a slug may not take: the site's own pages in the folders slugs share
/// (`groups/<id>/index.html`, `groups/<id>/blind.html`, `artists/index.html`,
/// `prompts/index.html`) and the asset folder. Refusing them here, the one place that
/// decides what a slug is, makes a run page overwriting a listing impossible.
pub const RESERVED_SLUGS: [&str; 5] = ["index", "blind", "media", "404", "page"];

/// Slugs become file names under `runs/` and in the site, so only a safe alphabet is
/// allowed: `[a-z0-9][a-z0-9._-]*`, never `..`, at most 100 bytes, and none of
/// [`RESERVED_SLUGS`].
pub fn validate_slug(slug: &str) -> Result<(), String> {
    let mut chars = slug.chars();
    let first_ok = matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok = slug
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if slug.is_empty() || !first_ok || !rest_ok || slug.contains("..") || slug.len() > 100 {
        Err(format!(
            "{slug:?} is not a valid slug: use lowercase letters, digits, '.', '_' and '-', \
             starting with a letter or digit (it becomes a file name)"
        ))
    } else if RESERVED_SLUGS.contains(&slug) {
        Err(format!(
            "{slug:?} is reserved for the site's own pages; choose another slug (reserved: {})",
            RESERVED_SLUGS.join(", ")
        ))
    } else {
        Ok(())
    }
}

pub(super) fn validate(config: &Config, root: &Path, file: &Path) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    let mut problem =
        |key: String, reason: String| problems.push(ConfigProblem::new(file, &key, reason));

    let mut seen = HashSet::new();
    for (i, a) in config.artists.iter().enumerate() {
        let key = format!("artists[{i}]");
        if let Err(reason) = validate_slug(&a.slug) {
            problem(format!("{key}.slug"), reason);
        }
        if !seen.insert(a.slug.as_str()) {
            problem(
                format!("{key}.slug"),
                format!(
                    "duplicate Artist slug {:?}; every Artist needs its own slug",
                    a.slug
                ),
            );
        }
        if a.kind().is_none() {
            problem(
                format!("{key}.provider"),
                format!(
                    "unknown Artist provider {:?}; use one of: {}",
                    a.provider,
                    kind_names(Role::Artist)
                ),
            );
        }
        if let Some(t) = a.temperature {
            if !(0.0..=2.0).contains(&t) {
                problem(
                    format!("{key}.temperature"),
                    format!("{t} is outside 0.0..=2.0"),
                );
            }
        }
    }

    let mut seen = HashSet::new();
    for (i, b) in config.brushes.iter().enumerate() {
        let key = format!("brushes[{i}]");
        if let Err(reason) = validate_slug(&b.slug) {
            problem(format!("{key}.slug"), reason);
        }
        if !seen.insert(b.slug.as_str()) {
            problem(
                format!("{key}.slug"),
                format!(
                    "duplicate Brush slug {:?}; every Brush needs its own slug",
                    b.slug
                ),
            );
        }
        if b.kind().is_none() {
            problem(
                format!("{key}.provider"),
                format!(
                    "unknown Brush provider {:?}; use one of: {}",
                    b.provider,
                    kind_names(Role::Brush)
                ),
            );
        }
        for (field, reason) in brush_params(b) {
            problem(format!("{key}.{field}"), reason);
        }
    }

    for (version, source) in &config.prompts {
        if let Err(reason) = validate_slug(version) {
            problem(
                format!("prompts.{version}"),
                format!("prompt version {reason}"),
            );
        }
        if let Err(reason) = prompt_text(source, root) {
            problem(format!("prompts.{version}"), reason);
        }
    }

    if let Some(brush) = &config.defaults.brush {
        if !config.brushes.iter().any(|b| &b.slug == brush) {
            problem(
                "defaults.brush".into(),
                format!(
                    "no Brush with slug {brush:?}; add it under [[brushes]] or change the default"
                ),
            );
        }
    }
    if let Some(prompt) = &config.defaults.prompt {
        if !config.prompts.contains_key(prompt) {
            problem(
                "defaults.prompt".into(),
                format!("no prompt {prompt:?}; add [prompts.{prompt}] or change the default"),
            );
        }
    }
    if config.defaults.concurrency == 0 {
        problem("defaults.concurrency".into(), "must be at least 1".into());
    }
    if config.site.theme.is_empty()
        || config.site.theme.contains(['/', '\\'])
        || config.site.theme.contains("..")
    {
        problem(
            "site.theme".into(),
            format!(
                "{:?} is not a theme name; name a folder under themes/",
                config.site.theme
            ),
        );
    }
    if !(1..=1000).contains(&config.site.per_page) {
        problem(
            "site.per_page".into(),
            format!(
                "{} groups per page; choose between 1 and 1000 (24 is the default)",
                config.site.per_page
            ),
        );
    }
    problems
}

/// The Images API parameters a Brush's model family refuses, as (field, reason). The
/// provider would answer 400 for each, after the Artists were already paid for.
fn brush_params(b: &Brush) -> Vec<(&'static str, String)> {
    let mut found = Vec::new();
    let family = match b.kind() {
        Some(Kind::OpenAiImages) => ImageFamily::of(&b.model),
        _ => None,
    };
    let Some(family) = family else {
        for (field, set) in [
            ("output_format", b.output_format.is_some()),
            ("output_compression", b.output_compression.is_some()),
            ("response_format", b.response_format.is_some()),
        ] {
            if set {
                found.push((
                    field,
                    format!(
                        "is an OpenAI Images parameter of gpt-image and dall-e models; {:?} with provider {:?} does not take it, so remove it",
                        b.model, b.provider
                    ),
                ));
            }
        }
        return found;
    };
    if let Some(q) = &b.quality {
        if !family.qualities().contains(&q.as_str()) {
            found.push((
                "quality",
                format!(
                    "{q:?} is not a quality {:?} takes; use one of: {}",
                    b.model,
                    family.qualities().join(", ")
                ),
            ));
        }
    }
    match family {
        ImageFamily::GptImage => {
            if b.response_format.is_some() {
                found.push((
                    "response_format",
                    format!(
                        "{:?} always answers base64 and refuses response_format; remove it (use output_format for png, jpeg or webp)",
                        b.model
                    ),
                ));
            }
            if let Some(f) = &b.output_format {
                if !OUTPUT_FORMATS.contains(&f.as_str()) {
                    found.push((
                        "output_format",
                        format!(
                            "{f:?} is not an output format; use one of: {}",
                            OUTPUT_FORMATS.join(", ")
                        ),
                    ));
                }
            }
            match (b.output_compression, b.output_format.as_deref()) {
                (Some(c), _) if c > 100 => found.push((
                    "output_compression",
                    format!("{c} is outside 0..=100"),
                )),
                (Some(_), None | Some("png")) => found.push((
                    "output_compression",
                    "applies only to output_format \"jpeg\" or \"webp\"; set one of them or remove it".to_string(),
                )),
                _ => {}
            }
        }
        ImageFamily::DallE => {
            for (field, set) in [
                ("output_format", b.output_format.is_some()),
                ("output_compression", b.output_compression.is_some()),
            ] {
                if set {
                    found.push((
                        field,
                        format!(
                            "{:?} does not take {field}; only gpt-image models do",
                            b.model
                        ),
                    ));
                }
            }
            if let Some(r) = &b.response_format {
                if !["url", "b64_json"].contains(&r.as_str()) {
                    found.push((
                        "response_format",
                        format!("{r:?} is not a response format; use url or b64_json"),
                    ));
                }
            }
        }
    }
    found
}

/// The text of a prompt: inline, or read from a file relative to the root.
pub(super) fn prompt_text(source: &PromptSource, root: &Path) -> Result<String, String> {
    match (&source.text, &source.file) {
        (Some(text), None) if !text.trim().is_empty() => Ok(text.clone()),
        (Some(_), None) => Err("the prompt text is empty".into()),
        (None, Some(file)) => {
            if file.is_absolute()
                || file
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
            {
                return Err(format!(
                    "file {:?} must be a relative path inside the project",
                    file.display()
                ));
            }
            std::fs::read_to_string(root.join(file))
                .map_err(|e| format!("cannot read prompt file {}: {e}", root.join(file).display()))
        }
        (Some(_), Some(_)) => Err("give either `text` or `file`, not both".into()),
        (None, None) => {
            Err("missing `text` (inline prompt) or `file` (path relative to the project)".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["gpt-4o-mini", "claude-3.5", "a", "0_x"] {
            assert!(validate_slug(ok).is_ok(), "{ok}");
        }
        for bad in ["", "../x", "a/b", "A", "-x", ".x", "a..b", "a b", "é"] {
            assert!(validate_slug(bad).is_err(), "{bad}");
        }
    }
}
