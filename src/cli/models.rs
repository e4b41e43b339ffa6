//! `chorus models`, `chorus check --online` and the preflight `generate` runs: what the
//! configured endpoints serve, and whether every Artist and Brush is among it.

use std::collections::BTreeMap;

use super::*;
use crate::generate::preflight::{self, Finding};
use crate::generate::providers::models::{Listing, ServedModel};
use crate::generate::providers::Kit;

#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Only ids containing this text (case-insensitive)
    pub filter: Option<String>,
    /// Only the endpoints of this provider kind (openai, openrouter, anthropic, ...)
    #[arg(long, value_name = "KIND")]
    pub provider: Option<String>,
    /// JSON on stdout instead of a table
    #[arg(long)]
    pub json: bool,
}

/// A model id or name from the network, escaped before the table measures its width
/// (`outln!` would escape it anyway, but after the columns were padded).
fn printable(text: &str) -> String {
    crate::untrusted::escape_controls(text).into_owned()
}

fn kit(project: &Project) -> Result<Kit> {
    Kit::new(&project.config.limits).map_err(|e| anyhow!("{e}"))
}

pub(super) fn models(root: &Path, args: ModelsArgs) -> Result<u8> {
    let project = load_project(root)?;
    let config = &project.config;
    if let Some(p) = &args.provider {
        if !config::KINDS.iter().any(|k| k.name == p) {
            anyhow::bail!(
                "--provider {p:?} is not a provider kind; use one of: {}",
                config::KINDS
                    .iter()
                    .map(|k| k.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let entries = preflight::entries(config, &config.artists, &config.brushes);
    // The provider kinds that use each endpoint, for the heading and --provider.
    let mut kinds: BTreeMap<_, std::collections::BTreeSet<String>> = BTreeMap::new();
    for e in entries {
        if let Some(endpoint) = e.endpoint {
            if args.provider.as_ref().map_or(true, |p| *p == e.provider) {
                kinds.entry(endpoint).or_default().insert(e.provider);
            }
        }
    }
    let endpoints: Vec<_> = kinds.keys().cloned().collect();
    if endpoints.is_empty() {
        errln!("No endpoint to ask: every selected Artist and Brush is built in (offline, procedural).");
        return Ok(exit::OK);
    }
    let kit = kit(&project)?;
    let lists =
        batch::block_on(preflight::fetch_lists(&kit, endpoints, None)).map_err(|e| anyhow!(e))?;
    let needle = args.filter.as_deref().unwrap_or("").to_lowercase();
    let matches = |m: &&ServedModel| m.id.to_lowercase().contains(&needle);
    let mut failed = false;
    let mut json = Vec::new();
    for (endpoint, answer) in &lists {
        let names: Vec<&str> = kinds[endpoint].iter().map(String::as_str).collect();
        let head = format!("{} at {}", names.join(", "), endpoint.base_url);
        match answer {
            Ok(Listing::Served(models)) => {
                let shown: Vec<&ServedModel> = models.iter().filter(matches).collect();
                if args.json {
                    json.push(serde_json::json!({
                        "providers": names, "base_url": endpoint.base_url,
                        "status": "ok", "models": shown,
                    }));
                    continue;
                }
                outln!("{head}: {} model(s), {} shown", models.len(), shown.len());
                outln!("{}", table(&shown).trim_end());
            }
            Ok(Listing::NoList(status)) => {
                let why = format!("no model list (HTTP {status})");
                if args.json {
                    json.push(serde_json::json!({"providers": names, "base_url": endpoint.base_url, "status": "no-list", "error": why}));
                } else {
                    outln!("{head}: {why}");
                }
            }
            Err(e) => {
                failed = true;
                errln!("error: {e}");
                if args.json {
                    json.push(serde_json::json!({"providers": names, "base_url": endpoint.base_url, "status": "error", "error": e.to_string()}));
                }
            }
        }
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&json)?);
    }
    Ok(if failed { exit::ERROR } else { exit::OK })
}

/// Id, name and the published prices, in columns.
fn table(models: &[&ServedModel]) -> String {
    let price = |p: Option<f64>| p.map_or(String::new(), |p| format!("{p}"));
    let rows: Vec<[String; 4]> = models
        .iter()
        .map(|m| {
            [
                printable(&m.id),
                printable(m.name.as_deref().unwrap_or("")),
                price(m.input_per_mtok),
                price(m.output_per_mtok),
            ]
        })
        .collect();
    let header = ["id", "name", "in $/Mtok", "out $/Mtok"].map(String::from);
    let width = |i: usize| {
        std::iter::once(&header)
            .chain(&rows)
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1).min(40), width(2), width(3)];
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let name: String = row[1].chars().take(40).collect();
        out.push_str(&format!(
            "  {:<w0$}  {:<w1$}  {:>w2$}  {:>w3$}\n",
            row[0],
            name,
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        ));
    }
    out
}

/// `check --online`: every Artist and Brush in chorus.toml against its endpoint's list.
/// Exit 1 when a model is missing or a list could not be read.
pub(super) fn check_online(project: &Project) -> Result<u8> {
    let config = &project.config;
    let findings = preflight::check(
        &kit(project)?,
        config,
        &config.artists,
        &config.brushes,
        None,
    )
    .map_err(|e| anyhow!(e))?;
    report(&findings, true, false);
    let bad = findings
        .iter()
        .filter(|f| f.blocks() || matches!(f.verdict, preflight::Verdict::Unreadable { .. }))
        .count();
    let endpoints: std::collections::BTreeSet<_> = findings
        .iter()
        .filter_map(|f| f.entry.endpoint.as_ref())
        .collect();
    errln!(
        "{} model(s) checked against {} endpoint list(s), with no paid request: {}.",
        findings.len(),
        endpoints.len(),
        if bad == 0 {
            "all served or built in".to_string()
        } else {
            format!("{bad} not served or not checkable")
        }
    );
    Ok(if bad == 0 { exit::OK } else { exit::ERROR })
}

/// Prints findings: problems always, the served ones when `all`; with `json`, as
/// `{"event": "preflight", ...}` lines beside generate's other JSON events.
fn report(findings: &[Finding], all: bool, json: bool) {
    let say = |level: &str, message: String| {
        if json {
            let line =
                serde_json::json!({"event": "preflight", "level": level, "message": message});
            errln!("{line}");
        } else if level == "warning" {
            errln!("warning: {message}");
        } else {
            errln!("{message}");
        }
    };
    for f in findings {
        let serious = !matches!(
            f.verdict,
            preflight::Verdict::Served | preflight::Verdict::Builtin
        );
        if all || serious {
            say(if f.blocks() { "error" } else { "info" }, f.line());
        }
        if let Some(w) = &f.price_warning {
            say("warning", w.clone());
        }
    }
}

/// The preflight of `generate` and `resume`: refuses (with every reason) when a model is
/// missing or a key is refused; warns and goes on when a list cannot be read.
pub(super) fn preflight(
    project: &Project,
    kit: &Kit,
    artists: &[config::Artist],
    brushes: &[config::Brush],
    json: bool,
) -> Result<()> {
    let cache = project.cache_dir();
    let findings = preflight::check(kit, &project.config, artists, brushes, Some(&cache))
        .map_err(|e| anyhow!(e))?;
    report(&findings, false, json);
    let blocking = findings.iter().filter(|f| f.blocks()).count();
    if blocking > 0 {
        anyhow::bail!(
            "{blocking} model(s) cannot be used (above); nothing was written under runs/ and nothing was spent. Fix chorus.toml (`chorus models` lists what is served), or pass --no-preflight to skip this check"
        );
    }
    Ok(())
}
