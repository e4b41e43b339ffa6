//! `config` owns `chorus.toml`: the registry of Artists, Brushes and prompts, the site
//! settings and the defaults. It parses and validates, reporting every problem with the
//! file and key; it never touches `runs/` or the network.

mod kinds;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use kinds::{
    names as kind_names, Api, ImageFamily, Kind, KindInfo, Role, KINDS, OUTPUT_FORMATS,
};
pub use validate::{validate_slug, ConfigProblem, RESERVED_SLUGS};

/// The file name of the project configuration inside the project root.
pub const CONFIG_FILE: &str = "chorus.toml";

/// The build cache inside the project root: derived data only, safe to delete.
pub const CACHE_DIR: &str = ".chorus-cache";

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub site: SiteConfig,
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default, rename = "artists")]
    pub artists: Vec<Artist>,
    #[serde(default, rename = "brushes")]
    pub brushes: Vec<Brush>,
    #[serde(default)]
    pub prompts: BTreeMap<String, PromptSource>,
    #[serde(default)]
    pub votes: VotesConfig,
}

/// `[votes]`: how blind votes count on the leaderboards.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VotesConfig {
    /// The most votes' weight one voter label carries in a leaderboard's ratings: a label
    /// with more votes has each count `max / votes`. None: no cap. Labels are typed by
    /// anyone, so this limits one flooding label, not someone who invents many.
    #[serde(default, deserialize_with = "whole_number")]
    pub max_weight_per_voter: Option<u32>,
}

/// A whole number of at least 1, with a message that says so (serde's own would say
/// "expected u32").
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = toml::Value::deserialize(d)?;
    match &v {
        toml::Value::Integer(n) if *n >= 1 && *n <= i64::from(u32::MAX) => Ok(Some(*n as u32)),
        other => Err(serde::de::Error::custom(format!(
            "max_weight_per_voter = {other}: expected a whole number of votes, at least 1 (leave it out for no cap)"
        ))),
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    #[serde(default = "default_title")]
    pub title: String,
    /// Absolute URL the site is published under; used only where a URL must be
    /// absolute (feeds, sitemap, canonical links).
    #[serde(default)]
    pub base_url: String,
    #[serde(default = "default_theme")]
    pub theme: String,
    /// Groups per listing page (index, each Artist, each prompt version).
    #[serde(default = "default_per_page")]
    pub per_page: usize,
    /// How full-size images are published; runs/ always keeps the original bytes.
    #[serde(default)]
    pub originals: Originals,
    /// The most the published site may weigh before `build` warns (and `build --strict`
    /// fails): bytes, or a size such as "500 MB". GitHub Pages publishes at most 1 GB.
    #[serde(default = "default_size_budget", deserialize_with = "byte_size")]
    pub size_budget: u64,
}

/// GitHub Pages publishes sites of at most 1 GB.
pub const PAGES_LIMIT_BYTES: u64 = 1_000_000_000;

fn default_size_budget() -> u64 {
    PAGES_LIMIT_BYTES
}

/// A size in bytes from a whole number or a string with a decimal unit ("800 MB",
/// "1.5 GB"), as people write sizes.
fn byte_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = toml::Value::deserialize(d)?;
    let parsed = match &v {
        toml::Value::Integer(n) if *n > 0 => Some(*n as u64),
        toml::Value::String(s) => parse_size(s),
        _ => None,
    };
    parsed.ok_or_else(|| {
        serde::de::Error::custom(format!(
            "site.size_budget = {v} is not a size: write bytes (1000000000) or a number with KB, MB or GB (\"800 MB\")"
        ))
    })
}

/// "800 MB" → 800,000,000; units are decimal, as hosts count them.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1.0,
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        _ => return None,
    };
    let value: f64 = number.parse().ok()?;
    let bytes = (value * scale).round();
    (1.0..1e18).contains(&bytes).then_some(bytes as u64)
}

/// `[site] originals`: what the site publishes as each run's full-size image.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum Originals {
    /// A JPEG (quality 85) of the full image, or the original when it is smaller; a
    /// source that is already JPEG or WebP is copied as it is.
    #[default]
    Web,
    /// The original bytes, as they are in runs/.
    Copy,
    /// No full-size image: the largest thumbnail stands in for it.
    None,
}

impl Default for SiteConfig {
    fn default() -> Self {
        SiteConfig {
            title: default_title(),
            base_url: String::new(),
            theme: default_theme(),
            per_page: default_per_page(),
            originals: Originals::default(),
            size_budget: PAGES_LIMIT_BYTES,
        }
    }
}

fn default_title() -> String {
    "chorus".to_string()
}
impl TryFrom<String> for Originals {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        match value.as_str() {
            "web" => Ok(Originals::Web),
            "copy" => Ok(Originals::Copy),
            "none" => Ok(Originals::None),
            other => Err(format!(
                "site.originals = {other:?}: choose \"web\" (a JPEG of each full image), \"copy\" (the original bytes) or \"none\" (thumbnails only)"
            )),
        }
    }
}

fn default_per_page() -> usize {
    24
}
fn default_theme() -> String {
    "default".to_string()
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Brush slug used when `generate` gets no `--brush`.
    pub brush: Option<String>,
    /// Prompt version used when `generate` gets no `--prompt`.
    pub prompt: Option<String>,
    /// Runs in flight at once across all providers.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            brush: None,
            prompt: None,
            concurrency: default_concurrency(),
        }
    }
}

fn default_concurrency() -> usize {
    4
}

/// Network limits for the generator: retries, timeouts and caps on what a provider may
/// make chorus hold (reply bytes, image bytes, image pixels).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_attempts: u32,
    pub max_retry_wait_secs: f64,
    pub request_timeout_secs: f64,
    /// A chat reply (the whole JSON body); a statement is a few KB, so this is generous.
    pub max_reply_bytes: u64,
    pub max_image_bytes: u64,
    /// Width × height read from the image header before any decoding: a small PNG can
    /// declare 100 megapixels and take gigabytes to decode.
    pub max_image_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_attempts: 5,
            max_retry_wait_secs: 120.0,
            request_timeout_secs: 180.0,
            // A run file may hold 2 MiB (`store::MAX_RUN_JSON_BYTES`); a reply is half that.
            max_reply_bytes: 1024 * 1024,
            max_image_bytes: 25 * 1024 * 1024,
            // 8192 × 4883: room for any size an image API offers today (gpt-image-1 and
            // dall-e-3 stay under 2.5 megapixels).
            max_image_pixels: 40_000_000,
        }
    }
}

/// Prices in US dollars, used to estimate cost when a provider reports none.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Dollars per million input tokens.
    pub input_per_mtok: Option<f64>,
    /// Dollars per million output tokens.
    pub output_per_mtok: Option<f64>,
    /// Dollars per image (Brushes).
    pub per_image: Option<f64>,
}

/// An LLM endpoint that writes an artist statement and a final image prompt.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Artist {
    pub slug: String,
    pub name: String,
    pub provider: String,
    pub model: String,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    pub base_url: Option<String>,
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub price: Price,
    /// Requests in flight at once for this Artist's provider endpoint.
    pub concurrency: Option<usize>,
    /// Requests per minute allowed for this Artist's provider endpoint.
    pub rpm: Option<u32>,
}

/// An image model that paints every Artist's final image prompt.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Brush {
    pub slug: String,
    pub name: String,
    pub provider: String,
    pub model: String,
    pub size: Option<String>,
    pub quality: Option<String>,
    /// gpt-image: `png`, `jpeg` or `webp` (smaller originals in runs/ and on the site).
    pub output_format: Option<String>,
    /// gpt-image with `jpeg` or `webp`: 0–100.
    pub output_compression: Option<u8>,
    /// dall-e only (`url` or `b64_json`); gpt-image refuses it, and `check` says so.
    pub response_format: Option<String>,
    pub base_url: Option<String>,
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub price: Price,
    pub concurrency: Option<usize>,
    pub rpm: Option<u32>,
}

impl Artist {
    /// The provider kind; `None` only before validation has refused the entry.
    pub fn kind(&self) -> Option<Kind> {
        Kind::parse(&self.provider, Role::Artist)
    }

    /// The base URL requests go to: the entry's, else the kind's default.
    pub fn base_url(&self) -> Option<&str> {
        base_url_of(self.base_url.as_deref(), self.kind())
    }
}

impl Brush {
    pub fn kind(&self) -> Option<Kind> {
        Kind::parse(&self.provider, Role::Brush)
    }

    pub fn base_url(&self) -> Option<&str> {
        base_url_of(self.base_url.as_deref(), self.kind())
    }
}

fn base_url_of(given: Option<&str>, kind: Option<Kind>) -> Option<&str> {
    given
        .or_else(|| kind.and_then(|k| k.info().default_base_url))
        .map(|u| u.trim_end_matches('/'))
}

/// A prompt version: its text inline, or a file relative to the project root.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PromptSource {
    pub text: Option<String>,
    pub file: Option<PathBuf>,
}

/// A prompt with its text resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub version: String,
    pub text: String,
}

/// The brief's subject, as pages and the offline Artists name it: the first quoted
/// phrase of the prompt when there is one, else its first non-empty line, at most 120
/// characters.
pub fn brief_of(prompt: &str) -> String {
    let quoted = prompt
        .split('"')
        .nth(1)
        .filter(|q| !q.trim().is_empty() && q.len() < 120);
    let theme = quoted.unwrap_or_else(|| {
        prompt
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("the brief")
    });
    theme
        .chars()
        .take(120)
        .collect::<String>()
        .trim()
        .to_string()
}

/// A loaded, validated project: where it lives and what it says.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub config: Config,
}

impl Project {
    /// Reads and validates `<root>/chorus.toml`. Every problem is returned at once.
    pub fn load(root: &Path) -> Result<Project, Vec<ConfigProblem>> {
        let path = root.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            vec![ConfigProblem::new(
                &path,
                "",
                if e.kind() == std::io::ErrorKind::NotFound {
                    "file not found; run `chorus init` to create a project, or pass --root DIR"
                        .to_string()
                } else {
                    format!("cannot read: {e}")
                },
            )]
        })?;
        let config = Config::parse(&text, &path)?;
        let problems = validate::validate(&config, root, &path);
        if problems.is_empty() {
            Ok(Project {
                root: root.to_path_buf(),
                config,
            })
        } else {
            Err(problems)
        }
    }

    /// The build cache (derived data: thumbnails, analysis, model lists).
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join(CACHE_DIR)
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.root.join("runs")
    }

    pub fn artist(&self, slug: &str) -> Option<&Artist> {
        self.config.artists.iter().find(|a| a.slug == slug)
    }

    pub fn brush(&self, slug: &str) -> Option<&Brush> {
        self.config.brushes.iter().find(|b| b.slug == slug)
    }

    /// Resolves a prompt version to its text (reading the file if it has one).
    pub fn prompt(&self, version: &str) -> Result<Prompt, ConfigProblem> {
        let cfg = self.root.join(CONFIG_FILE);
        let source = self.config.prompts.get(version).ok_or_else(|| {
            let known: Vec<&str> = self.config.prompts.keys().map(String::as_str).collect();
            ConfigProblem::new(
                &cfg,
                &format!("prompts.{version}"),
                format!(
                    "no such prompt version; add [prompts.{version}] or use one of: {}",
                    known.join(", ")
                ),
            )
        })?;
        let text = validate::prompt_text(source, &self.root)
            .map_err(|reason| ConfigProblem::new(&cfg, &format!("prompts.{version}"), reason))?;
        Ok(Prompt {
            version: version.to_string(),
            text,
        })
    }
}

impl Config {
    /// Parses TOML, turning syntax errors and unknown keys into problems that name the key.
    pub fn parse(text: &str, path: &Path) -> Result<Config, Vec<ConfigProblem>> {
        toml::from_str(text).map_err(|e| {
            let key = e
                .span()
                .map(|span| describe_location(text, span.start))
                .unwrap_or_default();
            vec![ConfigProblem::new(path, &key, e.message().to_string())]
        })
    }
}

/// "line N" for a byte offset, so a TOML error points at the place to fix.
fn describe_location(text: &str, offset: usize) -> String {
    let line = text[..offset.min(text.len())].matches('\n').count() + 1;
    format!("line {line}")
}

/// The chorus.toml that `chorus init` writes and the repository ships.
pub const STARTER_CONFIG: &str = include_str!("../../chorus.toml");
/// The canonical prompt the starter config points at, relative to the root.
pub const STARTER_PROMPT: (&str, &str) = (
    "prompts/v2-neutral.md",
    include_str!("../../prompts/v2-neutral.md"),
);

/// The path part of a base URL, with slashes at both ends: `https://x.io/repo` → `/repo/`,
/// and `/` for none. The preview server answers there, and the 404 page links from there.
pub fn base_path(base_url: &str) -> String {
    let after_scheme = base_url
        .split_once("://")
        .map_or(base_url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        "/".into()
    } else {
        format!("/{trimmed}/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starter_config_is_valid() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), STARTER_CONFIG).unwrap();
        std::fs::create_dir_all(dir.path().join("prompts")).unwrap();
        std::fs::write(dir.path().join(STARTER_PROMPT.0), STARTER_PROMPT.1).unwrap();
        let project = Project::load(dir.path()).expect("starter config validates");
        assert_eq!(project.config.artists.len(), 4);
        assert!(project
            .prompt("v2-neutral")
            .unwrap()
            .text
            .contains("===FINAL IMAGE PROMPT==="));
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::parse("[site]\ntitel = \"x\"\n", Path::new("chorus.toml")).unwrap_err();
        let msg = err[0].to_string();
        assert!(msg.contains("titel"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(parse_size("1 GB"), Some(1_000_000_000));
        assert_eq!(parse_size("800MB"), Some(800_000_000));
        assert_eq!(parse_size("0.5 mb"), Some(500_000));
        assert_eq!(parse_size("1200"), Some(1200));
        for bad in ["", "GB", "1 GiB", "-5 MB", "0", "1e30 GB", "one GB"] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
        let err = Config::parse("[site]\nsize_budget = \"lots\"\n", Path::new("chorus.toml"))
            .unwrap_err();
        let msg = err[0].to_string();
        assert!(
            msg.contains("size_budget") && msg.contains("\"800 MB\""),
            "{msg}"
        );
    }
}
