//! Preflight: before anything is planned or paid for, ask each endpoint's model list
//! whether every Artist and Brush the batch will use is served. `chorus check --online`
//! prints the findings; `generate` refuses a batch with a missing model. Lists are one GET
//! per endpoint, never a paid call, and `generate` may reuse one for [`CACHE_SECS`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::providers::models::{list_models, Endpoint, ListShape, Listing, ServedModel};
use super::providers::{Kit, ProviderError};
use crate::config::{Artist, Brush, Config, Kind, Price};

/// How long `generate` trusts a model list it fetched (`check --online` always asks).
pub const CACHE_SECS: u64 = 10 * 60;
/// Served ids offered in place of a missing one.
const NEAREST: usize = 3;
/// A configured price this far (relative) from the published one is worth a warning.
const PRICE_TOLERANCE: f64 = 0.01;

/// One configured Artist or Brush to check.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `artist "slug"` or `brush "slug"`, as every message names them.
    pub who: String,
    /// Where it sits in chorus.toml: `artists[2]`.
    pub key: String,
    pub provider: String,
    pub model: String,
    pub price: Price,
    /// `None` for built-in kinds, which serve their own models.
    pub endpoint: Option<Endpoint>,
}

/// What the endpoint's list said about one entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Builtin,
    Served,
    /// Not in the list: the nearest served ids, best first.
    Missing {
        nearest: Vec<String>,
    },
    /// The endpoint has no model list (404/405): chorus cannot tell.
    Unknown {
        status: u16,
    },
    /// The list could not be read; `refused` when the provider refused the key.
    Unreadable {
        reason: String,
        refused: bool,
    },
}

/// An entry, its verdict, and a price warning when the provider publishes a price that
/// differs from chorus.toml's.
#[derive(Debug, Clone)]
pub struct Finding {
    pub entry: Entry,
    pub verdict: Verdict,
    pub price_warning: Option<String>,
}

impl Finding {
    /// Whether `generate` must refuse the batch: the model is gone, or the key is.
    pub fn blocks(&self) -> bool {
        matches!(
            self.verdict,
            Verdict::Missing { .. } | Verdict::Unreadable { refused: true, .. }
        )
    }

    /// One line for a terminal, saying what to do.
    pub fn line(&self) -> String {
        let e = &self.entry;
        let at = e.endpoint.as_ref().map_or("", |p| p.base_url.as_str());
        let what = format!("{} ({}, model {:?})", e.who, e.provider, e.model);
        match &self.verdict {
            Verdict::Builtin => format!("ok: {what} is built in"),
            Verdict::Served => format!("ok: {what} is served by {at}"),
            Verdict::Missing { nearest } => {
                let near = if nearest.is_empty() {
                    String::new()
                } else {
                    format!("; nearest served: {}", nearest.join(", "))
                };
                format!(
                    "missing: {what} is not served by {at} (retired?); set {}.model in chorus.toml to a served id{near} (`chorus models --provider {}` lists them)",
                    e.key, e.provider
                )
            }
            Verdict::Unknown { status } => format!(
                "unknown: {what}: {at} has no model list (HTTP {status}), so chorus cannot tell; the first request will"
            ),
            Verdict::Unreadable { reason, .. } => {
                format!("cannot check: {what}: {reason}")
            }
        }
    }
}

/// The entries for these Artists and Brushes, keyed by their place in `config`.
pub fn entries(config: &Config, artists: &[Artist], brushes: &[Brush]) -> Vec<Entry> {
    let place = |slug: &str, list: &str, slugs: Vec<&String>| {
        slugs
            .iter()
            .position(|s| *s == slug)
            .map_or_else(|| list.to_string(), |i| format!("{list}[{i}]"))
    };
    let mut out = Vec::new();
    for a in artists {
        let key = place(
            &a.slug,
            "artists",
            config.artists.iter().map(|a| &a.slug).collect(),
        );
        out.push(entry(
            format!("artist {:?}", a.slug),
            key,
            a.kind(),
            &a.provider,
            &a.model,
            &a.price,
            a.base_url(),
            &a.api_key_env,
        ));
    }
    for b in brushes {
        let key = place(
            &b.slug,
            "brushes",
            config.brushes.iter().map(|b| &b.slug).collect(),
        );
        out.push(entry(
            format!("brush {:?}", b.slug),
            key,
            b.kind(),
            &b.provider,
            &b.model,
            &b.price,
            b.base_url(),
            &b.api_key_env,
        ));
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn entry(
    who: String,
    key: String,
    kind: Option<Kind>,
    provider: &str,
    model: &str,
    price: &Price,
    base_url: Option<&str>,
    key_env: &Option<String>,
) -> Entry {
    let endpoint = kind
        .and_then(|k| ListShape::of(k.info().api))
        .zip(base_url)
        .map(|(shape, base)| Endpoint {
            shape,
            base_url: base.to_string(),
            key_env: key_env.clone(),
        });
    Entry {
        who,
        key,
        provider: provider.to_string(),
        model: model.to_string(),
        price: price.clone(),
        endpoint,
    }
}

/// Checks every entry of these Artists and Brushes against its endpoint's list: the
/// whole preflight, for callers outside a runtime.
pub fn check(
    kit: &Kit,
    config: &Config,
    artists: &[Artist],
    brushes: &[Brush],
    cache: Option<&Path>,
) -> Result<Vec<Finding>, String> {
    let entries = entries(config, artists, brushes);
    let endpoints = entries.iter().filter_map(|e| e.endpoint.clone()).collect();
    let lists = super::batch::block_on(fetch_lists(kit, endpoints, cache))?;
    Ok(judge(entries, &lists))
}

/// What each distinct endpoint answered.
pub type Lists = BTreeMap<Endpoint, Result<Listing, ProviderError>>;

/// Fetches each distinct endpoint's list once, concurrently. With `cache`, a list
/// fetched less than [`CACHE_SECS`] ago is read from there instead, and new ones kept.
pub async fn fetch_lists(kit: &Kit, endpoints: Vec<Endpoint>, cache: Option<&Path>) -> Lists {
    let mut unique = endpoints;
    unique.sort();
    unique.dedup();
    let fetches = unique.into_iter().map(|endpoint| async move {
        if let Some(models) = cache.and_then(|dir| cached(dir, &endpoint)) {
            return (endpoint, Ok(Listing::Served(models)));
        }
        let answer = list_models(kit, &endpoint).await;
        if let (Some(dir), Ok(Listing::Served(models))) = (cache, &answer) {
            keep(dir, &endpoint, models);
        }
        (endpoint, answer)
    });
    futures_util::future::join_all(fetches)
        .await
        .into_iter()
        .collect()
}

/// Judges every entry against the lists.
pub fn judge(entries: Vec<Entry>, lists: &Lists) -> Vec<Finding> {
    entries
        .into_iter()
        .map(|entry| {
            let answer = entry.endpoint.as_ref().and_then(|e| lists.get(e));
            let (verdict, served) = match answer {
                None => (Verdict::Builtin, None),
                Some(Ok(Listing::NoList(status))) => (Verdict::Unknown { status: *status }, None),
                Some(Err(e)) => (
                    Verdict::Unreadable {
                        reason: e.to_string(),
                        refused: matches!(e, ProviderError::Refused { .. }),
                    },
                    None,
                ),
                Some(Ok(Listing::Served(models))) => {
                    match models.iter().find(|m| m.id == entry.model) {
                        Some(m) => (Verdict::Served, Some(m)),
                        None => (
                            Verdict::Missing {
                                nearest: nearest(&entry.model, models),
                            },
                            None,
                        ),
                    }
                }
            };
            let price_warning = served.and_then(|m| price_warning(&entry, m));
            Finding {
                entry,
                verdict,
                price_warning,
            }
        })
        .collect()
}

/// The served ids most like `model`: the same vendor prefix first (`anthropic/`), then
/// the most shared words (`claude`, `opus`), then the fewest edits.
fn nearest(model: &str, served: &[ServedModel]) -> Vec<String> {
    let vendor = |id: &str| id.split_once('/').map(|(v, _)| v.to_string());
    let words = |id: &str| -> std::collections::BTreeSet<String> {
        id.to_lowercase()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let (want, want_words) = (model.to_lowercase(), words(model));
    let mut scored: Vec<(bool, std::cmp::Reverse<usize>, usize, &str)> = served
        .iter()
        .map(|m| {
            let id = m.id.as_str();
            let shared = words(id).intersection(&want_words).count();
            let edits = edits(&want, &id.to_lowercase());
            (
                vendor(id) != vendor(model),
                std::cmp::Reverse(shared),
                edits,
                id,
            )
        })
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(NEAREST)
        .map(|(.., id)| id.to_string())
        .collect()
}

/// Levenshtein distance over characters.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// "artist x: chorus.toml prices input at $15.00/Mtok; openrouter publishes $5.00/Mtok".
fn price_warning(entry: &Entry, served: &ServedModel) -> Option<String> {
    let pairs = [
        (
            "input_per_mtok",
            entry.price.input_per_mtok,
            served.input_per_mtok,
        ),
        (
            "output_per_mtok",
            entry.price.output_per_mtok,
            served.output_per_mtok,
        ),
    ];
    let differ: Vec<String> = pairs
        .iter()
        .filter_map(|(field, mine, theirs)| {
            let (mine, theirs) = ((*mine)?, (*theirs)?);
            let off = (mine - theirs).abs() > PRICE_TOLERANCE * theirs.max(mine).max(1e-9);
            off.then(|| {
                format!(
                    "{}.price.{field} is ${mine}/Mtok, {} publishes ${theirs}/Mtok",
                    entry.key, entry.provider
                )
            })
        })
        .collect();
    (!differ.is_empty()).then(|| {
        format!(
            "{}: {}; update chorus.toml so estimates and --max-cost stay true",
            entry.who,
            differ.join(", ")
        )
    })
}

/// A cached list: when it was fetched, and what it said.
#[derive(Serialize, Deserialize)]
struct Cached {
    fetched_at: u64,
    url: String,
    models: Vec<ServedModel>,
}

fn cache_file(dir: &Path, endpoint: &Endpoint) -> PathBuf {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{}|{:?}", endpoint.url(), endpoint.key_env));
    let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    dir.join(format!("models-{name}.json"))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn cached(dir: &Path, endpoint: &Endpoint) -> Option<Vec<ServedModel>> {
    let bytes = crate::store::read_capped(&cache_file(dir, endpoint), 64 * 1024 * 1024).ok()?;
    let cached: Cached = serde_json::from_slice(&bytes).ok()?;
    let fresh = now().saturating_sub(cached.fetched_at) < CACHE_SECS && cached.fetched_at <= now();
    (fresh && cached.url == endpoint.url()).then_some(cached.models)
}

/// Keeps a list for the next `generate`; a cache that cannot be written only costs a GET.
fn keep(dir: &Path, endpoint: &Endpoint, models: &[ServedModel]) {
    let cached = Cached {
        fetched_at: now(),
        url: endpoint.url(),
        models: models.to_vec(),
    };
    if let Ok(bytes) = serde_json::to_vec(&cached) {
        let _ = std::fs::create_dir_all(dir);
        let _ = crate::fsutil::write_atomic(&cache_file(dir, endpoint), &bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(ids: &[&str]) -> Vec<ServedModel> {
        ids.iter()
            .map(|id| ServedModel {
                id: id.to_string(),
                name: None,
                input_per_mtok: Some(2.0),
                output_per_mtok: Some(10.0),
            })
            .collect()
    }

    #[test]
    fn nearest_prefers_the_same_vendor_then_fewest_edits() {
        let list = served(&[
            "openai/gpt-6.2-sol",
            "anthropic/claude-opus-5.5",
            "anthropic/claude-sonnet-5.5",
            "mistralai/mistral-large-4-0",
            "anthropic/claude-haiku-5",
        ]);
        let near = nearest("anthropic/claude-3-opus", &list);
        assert_eq!(near.len(), 3);
        assert!(
            near.iter().all(|id| id.starts_with("anthropic/")),
            "{near:?}"
        );
        assert_eq!(near[0], "anthropic/claude-opus-5.5");
        assert_eq!(edits("kitten", "sitting"), 3);
    }

    #[test]
    fn a_stale_price_is_named_with_both_figures() {
        let entry = Entry {
            who: "artist \"opus\"".into(),
            key: "artists[1]".into(),
            provider: "openrouter".into(),
            model: "anthropic/claude-opus-5.5".into(),
            price: Price {
                input_per_mtok: Some(15.0),
                output_per_mtok: Some(10.0),
                per_image: None,
            },
            endpoint: None,
        };
        let warning = price_warning(&entry, &served(&["x"])[0]).unwrap();
        assert!(
            warning.contains(
                "artists[1].price.input_per_mtok is $15/Mtok, openrouter publishes $2/Mtok"
            ),
            "{warning}"
        );
        assert!(!warning.contains("output_per_mtok"), "{warning}");
    }
}
