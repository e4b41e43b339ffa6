//! The voice as pages show it: the prompt-version page's table, chart and style map, and
//! an Artist's rows across versions, formatted from [`VersionVoice`]s.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{ArtistVoice, VersionVoice};
use crate::site::analysis::map::{self, SeparationRow};
use crate::site::analysis::voice::{self, VoiceNumbers};
use crate::site::render::model;

/// One row of a voice table, formatted for the page.
#[derive(Debug, Clone, Serialize)]
pub struct VoiceRow {
    pub name: String,
    pub url: String,
    pub runs: usize,
    pub groups: usize,
    pub within: String,
    pub between: String,
    pub separation: String,
    pub interval: String,
    pub image: String,
    pub statement: String,
    pub reading: String,
    /// "distinct", "unsteady", "unclear" or "too-few", for the reading's mark.
    pub verdict: &'static str,
}

fn row(name: &str, url: String, v: &ArtistVoice) -> VoiceRow {
    let num = |x: Option<f64>| x.map_or("–".to_string(), |x| format!("{x:.2}"));
    let sep = |n: &VoiceNumbers| n.separation.map_or("–".to_string(), voice::signed);
    let c = &v.combined;
    VoiceRow {
        name: name.to_string(),
        url,
        runs: c.runs,
        groups: c.groups,
        within: num(c.within),
        between: num(c.between),
        separation: sep(c),
        interval: c.interval.map_or("–".to_string(), |[a, b]| {
            format!("{} to {}", voice::signed(a), voice::signed(b))
        }),
        image: sep(&v.image),
        statement: sep(&v.statement),
        reading: voice::reading(&v.name, c),
        verdict: match voice::verdict(c) {
            voice::Verdict::Distinct => "distinct",
            voice::Verdict::Unsteady => "unsteady",
            voice::Verdict::Unclear => "unclear",
            voice::Verdict::TooFew => "too-few",
        },
    }
}

/// What the prompt-version page shows of its voice.
#[derive(Debug, Clone, Serialize)]
pub struct VersionVoiceView {
    pub groups_total: usize,
    pub groups_used: usize,
    pub runs_total: usize,
    pub runs_used: usize,
    pub sampled: bool,
    pub within: String,
    pub between: String,
    pub rows: Vec<VoiceRow>,
    pub chart_svg: String,
    pub map_svg: String,
    pub legend: Vec<LegendItem>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LegendItem {
    pub name: String,
    pub runs: usize,
    pub marker_svg: String,
}

/// The prompt page's view; `root` leads from the page back to the site's root.
pub fn version_view(v: &VersionVoice, root: &str) -> VersionVoiceView {
    let names: Vec<String> = v.artists.iter().map(|a| a.name.clone()).collect();
    let chart_rows: Vec<SeparationRow> = v
        .artists
        .iter()
        .map(|a| SeparationRow {
            label: a.name.clone(),
            value: a.combined.separation,
            interval: a.combined.interval,
        })
        .collect();
    let caption = format!(
        "Style map of prompt version {}: {} runs, one mark each; runs placed close together are alike",
        v.version, v.runs_used
    );
    VersionVoiceView {
        groups_total: v.groups_total,
        groups_used: v.groups_used,
        runs_total: v.runs_total,
        runs_used: v.runs_used,
        sampled: v.sampled(),
        within: v.within.map_or("–".into(), |x| format!("{x:.2}")),
        between: v.between.map_or("–".into(), |x| format!("{x:.2}")),
        rows: v
            .artists
            .iter()
            .map(|a| row(&a.name, model::artist_url(&a.slug), a))
            .collect(),
        chart_svg: map::separation_chart("Separation per Artist with 95% intervals", &chart_rows),
        map_svg: map::style_map(&caption, &names, &v.points, root),
        legend: v
            .artists
            .iter()
            .enumerate()
            .map(|(k, a)| LegendItem {
                name: a.name.clone(),
                runs: a.combined.runs,
                marker_svg: map::legend_marker(k),
            })
            .collect(),
    }
}

/// What an Artist's page shows: one row per prompt version where it has a voice.
#[derive(Debug, Clone, Serialize)]
pub struct ArtistVoiceView {
    pub rows: Vec<VoiceRow>,
    pub chart_svg: String,
}

pub fn artist_view(slug: &str, voices: &BTreeMap<String, VersionVoice>) -> Option<ArtistVoiceView> {
    let mine: Vec<(&VersionVoice, &ArtistVoice)> = voices
        .values()
        .filter_map(|v| v.artists.iter().find(|a| a.slug == slug).map(|a| (v, a)))
        .collect();
    if mine.is_empty() {
        return None;
    }
    let rows: Vec<VoiceRow> = mine
        .iter()
        .map(|(v, a)| row(&v.version, model::prompt_url(&v.version), a))
        .collect();
    let chart_rows: Vec<SeparationRow> = mine
        .iter()
        .map(|(v, a)| SeparationRow {
            label: v.version.clone(),
            value: a.combined.separation,
            interval: a.combined.interval,
        })
        .collect();
    Some(ArtistVoiceView {
        rows,
        chart_svg: map::separation_chart(
            "Separation per prompt version with 95% intervals",
            &chart_rows,
        ),
    })
}
