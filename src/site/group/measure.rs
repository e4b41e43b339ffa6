//! What a group's build measures: the difference views and the numbers the profiles are
//! made of (from the image signatures and the texts), and the features the prompt
//! version's voice and style map read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::site::analysis::{self, Entry, SignatureCache};
use crate::site::group::blind::BlindKey;
use crate::site::group::images::Prepared;
use crate::site::listings::voice;
use crate::site::render::model::{self, GroupView};
use crate::site::SiteError;
use crate::store::{LoadedGroup, RunRecord};

/// The group's difference views and the numbers profiles are made of. Images that cannot
/// be decoded are left out and reported.
pub(super) fn analyse(
    g: &LoadedGroup,
    sigs: &SignatureCache,
    prepared: &BTreeMap<String, Prepared>,
    dir: &Path,
    rel: &dyn Fn(&Path) -> PathBuf,
    blind_key: &BlindKey,
) -> Result<Analysed, SiteError> {
    let mut problems = Vec::new();
    let mut signatures = BTreeMap::new();
    for run in &g.runs {
        let Some(file) = model::safe_image_file(run) else {
            continue;
        };
        let Some(p) = prepared.get(file) else {
            continue;
        };
        let path = dir.join(file);
        match sigs.signature_keyed(&p.source.sha256, &path, || std::fs::read(&path)) {
            Ok(sig) => {
                signatures.insert(run.artist_slug.clone(), sig);
            }
            Err(analysis::AnalysisError::Decode { path, source }) => {
                let problem = format!(
                    "{}: not a readable image ({source}); regenerate the run or remove the file",
                    rel(&path).display()
                );
                problems.push(crate::untrusted::escape_controls(&problem).into_owned());
            }
            Err(e) => return Err(e.into()),
        }
    }
    let non_empty = |t: &str| -> Option<String> { (!t.trim().is_empty()).then(|| t.to_string()) };
    let texts: Vec<(Option<String>, Option<String>)> = g
        .group
        .artists
        .iter()
        .map(|a| {
            let run = g.run(&a.slug);
            (
                run.and_then(|r| non_empty(&r.artist_stmt)),
                run.and_then(|r| non_empty(&r.image_prompt)),
            )
        })
        .collect();
    let entries: Vec<Entry> = g
        .group
        .artists
        .iter()
        .zip(&texts)
        .map(|(a, (stmt, prompt))| {
            let run = g.run(&a.slug);
            Entry {
                slug: &a.slug,
                name: &a.name,
                statement: stmt.as_deref(),
                image_prompt: prompt.as_deref(),
                signature: signatures.get(&a.slug),
                output_tokens: run.and_then(RunRecord::tokens).map(|t| t.output),
                cost_usd: run.and_then(RunRecord::cost_usd),
                latency_ms: run.and_then(RunRecord::latency_ms),
            }
        })
        .collect();
    let numbers = analysis::group_numbers(&entries);
    let views = analysis::group_analysis(&entries, &numbers, blind_key.seed());
    Ok((numbers, views, problems, signatures))
}

/// The group's numbers and views, the problems met, and each Artist's image signature.
pub(super) type Analysed = (
    analysis::GroupNumbers,
    analysis::GroupAnalysis,
    Vec<String>,
    BTreeMap<String, analysis::ImageSignature>,
);

/// What the prompt version's voice and style map need of this group's runs.
pub(super) fn features(
    g: &LoadedGroup,
    view: &GroupView,
    signatures: &BTreeMap<String, analysis::ImageSignature>,
) -> voice::GroupFeatures {
    voice::GroupFeatures {
        id: view.id.clone(),
        date: view.created_date.clone(),
        short_id: view.short_id.clone(),
        runs: view
            .runs
            .iter()
            .filter(|r| r.status == "done")
            .map(|r| {
                let statement = g
                    .run(&r.artist_slug)
                    .map(|run| run.artist_stmt.as_str())
                    .filter(|t| !t.trim().is_empty());
                voice::RunFeatures::new(
                    &view.id,
                    &r.artist_slug,
                    &r.artist_name,
                    statement,
                    &r.excerpt,
                    signatures.get(&r.artist_slug),
                )
            })
            .collect(),
    }
}
