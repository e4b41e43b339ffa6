//! Gathers the analysis of a whole `runs/` tree for the build: image signatures through
//! the cache (in parallel), then the per-group views, the Artist profiles and the
//! prompt-version matrices. Reads images and the cache; never writes the output folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::cache::{AnalysisError, SignatureCache};
use super::group::{group_analysis, group_numbers, Entry, GroupAnalysis, GroupNumbers};
use super::image::ImageSignature;
use super::profile::{
    artist_analysis, version_analysis, ArtistAnalysis, RunStats, VersionAnalysis,
};
use crate::store::{LoadedGroup, RunRecord, Status, StoreProblem};

/// The analysis of every group, Artist and prompt version.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct SiteAnalysis {
    /// In the order of the groups given.
    pub groups: Vec<GroupAnalysis>,
    /// By Artist slug.
    pub artists: BTreeMap<String, ArtistAnalysis>,
    /// By prompt version.
    pub versions: BTreeMap<String, VersionAnalysis>,
    /// Images that could not be decoded; their runs are shown without image measures.
    /// A result with problems is never cached, so they are reported on every build.
    #[serde(skip)]
    pub problems: Vec<StoreProblem>,
}

/// Bumped whenever what the views show changes, so a cached result is not reused.
const VIEWS_VERSION: &str = "views-2";

/// Analyses `groups`. `sha256_of` gives the content hash of an image the build could read
/// (the thumbnail step memoises it); images without one are left out, as the build
/// already reports them. When nothing the views depend on changed since the last build,
/// the whole result comes from the cache. Fails only when the cache cannot be written.
pub fn analyse(
    groups: &[LoadedGroup],
    cache: &SignatureCache,
    sha256_of: impl Fn(&Path) -> Option<String> + Sync,
) -> Result<SiteAnalysis, AnalysisError> {
    let images: BTreeMap<(usize, usize), (PathBuf, String)> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, loaded)| {
            loaded.runs.iter().enumerate().filter_map(move |(r, run)| {
                crate::site::model::safe_image_file(run).map(|f| ((g, r), loaded.dir.join(f)))
            })
        })
        .filter_map(|(at, path)| sha256_of(&path).map(|key| (at, (path, key))))
        .collect();
    let fingerprint = fingerprint(groups, &images);
    if let Some(stored) = cache.load_views(&fingerprint) {
        return Ok(stored);
    }
    let analysis = compute(groups, cache, &images)?;
    if analysis.problems.is_empty() {
        cache.store_views(&fingerprint, &analysis)?;
    }
    Ok(analysis)
}

/// SHA-256 over everything the views are computed from: texts, measures, image hashes,
/// names and order. Equal fingerprints mean equal views.
fn fingerprint(
    groups: &[LoadedGroup],
    images: &BTreeMap<(usize, usize), (PathBuf, String)>,
) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    // Length-prefixed, so no two different inputs can run together into the same bytes.
    let mut feed = |text: &str| {
        h.update((text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    };
    feed(VIEWS_VERSION);
    feed(env!("CARGO_PKG_VERSION"));
    for (g, loaded) in groups.iter().enumerate() {
        let group = &loaded.group;
        feed(&group.run_group_id.to_string());
        feed(&group.prompt_version);
        for a in &group.artists {
            feed(&a.slug);
            feed(&a.name);
        }
        for (r, run) in loaded.runs.iter().enumerate() {
            feed(&run.artist_slug);
            feed(run.status.as_str());
            feed(&run.artist_stmt);
            feed(&run.image_prompt);
            feed(&format!(
                "{:?}|{:?}|{:?}",
                run.tokens().map(|t| t.output),
                run.cost_usd(),
                run.latency_ms()
            ));
            feed(images.get(&(g, r)).map_or("", |(_, key)| key));
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn compute(
    groups: &[LoadedGroup],
    cache: &SignatureCache,
    images: &BTreeMap<(usize, usize), (PathBuf, String)>,
) -> Result<SiteAnalysis, AnalysisError> {
    let results: Vec<(usize, usize, Result<ImageSignature, AnalysisError>)> = images
        .par_iter()
        .map(|(&(g, r), (path, key))| {
            (
                g,
                r,
                cache.signature_keyed(key, path, || std::fs::read(path)),
            )
        })
        .collect();
    let mut signatures: BTreeMap<(usize, usize), ImageSignature> = BTreeMap::new();
    let mut problems = Vec::new();
    for (g, r, result) in results {
        match result {
            Ok(sig) => {
                signatures.insert((g, r), sig);
            }
            Err(AnalysisError::Decode { path, source }) => problems.push(StoreProblem {
                file: path,
                field: String::new(),
                reason: format!(
                    "not a readable image ({source}); regenerate the run or remove the file"
                ),
            }),
            Err(e) => return Err(e),
        }
    }

    let mut numbers: Vec<GroupNumbers> = Vec::with_capacity(groups.len());
    let mut views = Vec::with_capacity(groups.len());
    for (g, loaded) in groups.iter().enumerate() {
        let entries: Vec<Entry> = loaded
            .group
            .artists
            .iter()
            .map(|a| {
                let found = loaded.runs.iter().position(|r| r.artist_slug == a.slug);
                let run = found.map(|r| &loaded.runs[r]);
                Entry {
                    slug: &a.slug,
                    name: &a.name,
                    statement: run.and_then(|r| non_empty(&r.artist_stmt)),
                    image_prompt: run.and_then(|r| non_empty(&r.image_prompt)),
                    signature: found.and_then(|r| signatures.get(&(g, r))),
                    output_tokens: run.and_then(RunRecord::tokens).map(|t| t.output),
                    cost_usd: run.and_then(RunRecord::cost_usd),
                    latency_ms: run.and_then(RunRecord::latency_ms),
                }
            })
            .collect();
        let n = group_numbers(&entries);
        views.push(group_analysis(
            &entries,
            &n,
            &loaded.group.run_group_id.to_string(),
        ));
        numbers.push(n);
    }

    let mut artists: BTreeMap<String, (Vec<&GroupNumbers>, Vec<RunStats>)> = BTreeMap::new();
    let mut versions: BTreeMap<String, Vec<&GroupNumbers>> = BTreeMap::new();
    for (loaded, n) in groups.iter().zip(&numbers) {
        versions
            .entry(loaded.group.prompt_version.clone())
            .or_default()
            .push(n);
        for a in &loaded.group.artists {
            let slot = artists.entry(a.slug.clone()).or_default();
            slot.0.push(n);
            if let Some(run) = loaded.run(&a.slug) {
                slot.1.push(RunStats {
                    done: run.status == Status::Done,
                    failed: run.status == Status::Failed,
                    cost_usd: run.cost_usd(),
                    latency_ms: run.latency_ms(),
                });
            }
        }
    }
    Ok(SiteAnalysis {
        groups: views,
        artists: artists
            .into_iter()
            .map(|(slug, (g, runs))| {
                let a = artist_analysis(&slug, &g, &runs);
                (slug, a)
            })
            .collect(),
        versions: versions
            .into_iter()
            .map(|(v, g)| (v, version_analysis(&g)))
            .collect(),
        problems,
    })
}

fn non_empty(text: &str) -> Option<&str> {
    (!text.trim().is_empty()).then_some(text)
}
