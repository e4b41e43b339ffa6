//! Views across groups: an Artist's profile (recurring distinctive words, average palette,
//! mean similarity to each other Artist, cost and latency distributions, failure rate) and
//! a prompt version's mean similarity matrices. Pure: built from the per-group numbers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::group::{Figure, GroupNumbers};
use super::palette::{average_palette, PALETTE_SIZE};
use super::svg;
use super::text::recurring;
use crate::site::render::model::{format_ms, format_usd};

/// One of the Artist's runs, as far as the profile needs it.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunStats {
    pub done: bool,
    pub failed: bool,
    pub cost_usd: Option<f64>,
    pub latency_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecurringWord {
    pub word: String,
    /// In how many groups this word was among the Artist's distinctive words.
    pub groups: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArtistAnalysis {
    /// Which groups the profile covers, when not all of them (set by the listings).
    pub scope: Option<String>,
    pub words_line: String,
    pub recurring_words: Vec<RecurringWord>,
    pub palette_line: String,
    pub palette_svg: Option<String>,
    pub statement_similarity: Figure,
    pub image_similarity: Figure,
    pub cost: Figure,
    pub latency: Figure,
    pub failure_line: String,
    /// e.g. "1 of 12 finished runs failed (8%)".
    pub failure_rate: String,
    pub failure_fraction: Option<f64>,
}

pub fn artist_analysis(slug: &str, groups: &[&GroupNumbers], runs: &[RunStats]) -> ArtistAnalysis {
    let mine: Vec<(&GroupNumbers, usize)> = groups
        .iter()
        .filter_map(|g| g.slugs.iter().position(|s| s == slug).map(|i| (*g, i)))
        .collect();
    let word_lists: Vec<Vec<String>> = mine
        .iter()
        .map(|(g, i)| g.distinctive[*i].iter().map(|w| w.word.clone()).collect())
        .collect();
    let recurring_words = recurring(&word_lists, 12)
        .into_iter()
        .map(|(word, groups)| RecurringWord { word, groups })
        .collect();
    let palettes: Vec<&[super::palette::Swatch]> = mine
        .iter()
        .map(|(g, i)| g.palettes[*i].as_slice())
        .filter(|p| !p.is_empty())
        .collect();
    let avg = average_palette(&palettes, PALETTE_SIZE);

    // Mean similarity to every other Artist met in the same groups, in order of first meeting.
    let mut others: Vec<(String, String)> = Vec::new();
    let mut stmt: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut img: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (g, i) in &mine {
        for (j, other) in g.slugs.iter().enumerate() {
            if j == *i {
                continue;
            }
            if !others.iter().any(|(s, _)| s == other) {
                others.push((other.clone(), g.names[j].clone()));
            }
            if let Some(v) = g.statement_similarity[*i][j] {
                stmt.entry(other.clone()).or_default().push(v);
            }
            if let Some(v) = g.image_similarity[*i][j] {
                img.entry(other.clone()).or_default().push(v.similarity);
            }
        }
    }
    let bar_rows = |values: &BTreeMap<String, Vec<f64>>| -> Vec<(String, Option<f64>, String)> {
        others
            .iter()
            .map(
                |(slug, name)| match values.get(slug).filter(|v| !v.is_empty()) {
                    Some(v) => {
                        let m = v.iter().sum::<f64>() / v.len() as f64;
                        (
                            name.clone(),
                            Some(m),
                            format!("{m:.2} over {} group{}", v.len(), plural(v.len())),
                        )
                    }
                    None => (name.clone(), None, "no shared finished runs".into()),
                },
            )
            .collect()
    };

    let costs: Vec<f64> = runs.iter().filter_map(|r| r.cost_usd).collect();
    let latencies: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.latency_ms.map(|l| l as f64))
        .collect();
    let finished = runs.iter().filter(|r| r.done || r.failed).count();
    let failed = runs.iter().filter(|r| r.failed).count();
    let failure_fraction = (finished > 0).then(|| failed as f64 / finished as f64);
    ArtistAnalysis {
        scope: None,
        words_line: "Words that were among this Artist's most distinctive (TF-IDF against the other statements \
                     of the group) in at least two groups, with the number of groups."
            .into(),
        recurring_words,
        palette_line: "The dominant colours of all its images pooled and clustered again (weighted by area).".into(),
        palette_svg: (!avg.is_empty()).then(|| svg::palette_strip(&avg, 360, 24)),
        statement_similarity: Figure {
            title: "Statement similarity to each other Artist".into(),
            measures: "Mean TF-IDF cosine similarity to the other Artist's statement in the same group (1 = same words)."
                .into(),
            svg: svg::bars("Mean statement similarity", &bar_rows(&stmt)),
        },
        image_similarity: Figure {
            title: "Image similarity to each other Artist".into(),
            measures: "Mean image similarity (perceptual hash and colour histogram) to the other Artist's image in \
                       the same group (1 = identical)."
                .into(),
            svg: svg::bars("Mean image similarity", &bar_rows(&img)),
        },
        cost: Figure {
            title: "Cost per run".into(),
            measures: "Each dot is a run's total cost (runs a pixel apart share a darker dot); the red line is the median."
                .into(),
            svg: svg::distribution("Cost per run", &costs, format_usd),
        },
        latency: Figure {
            title: "Latency per run".into(),
            measures: "Each dot is a run's total time over all stages (runs a pixel apart share a darker dot); the red \
                       line is the median."
                .into(),
            svg: svg::distribution("Latency per run", &latencies, |v| format_ms(v.round() as u64)),
        },
        failure_line: "Failed runs as a share of the runs that finished (done or failed).".into(),
        failure_rate: match failure_fraction {
            Some(f) => format!("{failed} of {finished} finished run{} failed ({:.0}%)", plural(finished), f * 100.0),
            None => "no finished runs yet".into(),
        },
        failure_fraction,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A mean matrix with how many groups fed each cell and their spread.
#[derive(Debug, Clone, Serialize)]
pub struct MeanMatrix {
    pub slugs: Vec<String>,
    pub names: Vec<String>,
    pub mean: Vec<Vec<Option<f64>>>,
    pub stdev: Vec<Vec<Option<f64>>>,
    pub count: Vec<Vec<usize>>,
}

/// Averages per-group matrices cell by cell, matching Artists by slug (groups may hold
/// different Artists). Artists are ordered as first met.
pub fn mean_matrix(
    groups: &[&GroupNumbers],
    value: impl Fn(&GroupNumbers, usize, usize) -> Option<f64>,
) -> MeanMatrix {
    let mut slugs: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for g in groups {
        for (s, name) in g.slugs.iter().zip(&g.names) {
            if !slugs.contains(s) {
                slugs.push(s.clone());
                names.push(name.clone());
            }
        }
    }
    let n = slugs.len();
    let mut samples: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); n]; n];
    for g in groups {
        let idx: Vec<usize> = g
            .slugs
            .iter()
            .map(|s| slugs.iter().position(|t| t == s).unwrap_or(0))
            .collect();
        for i in 0..g.slugs.len() {
            for j in 0..g.slugs.len() {
                if let Some(v) = value(g, i, j) {
                    samples[idx[i]][idx[j]].push(v);
                }
            }
        }
    }
    let stat = |f: &dyn Fn(&[f64]) -> f64| -> Vec<Vec<Option<f64>>> {
        samples
            .iter()
            .map(|row| row.iter().map(|s| (!s.is_empty()).then(|| f(s))).collect())
            .collect()
    };
    let mean_of = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    MeanMatrix {
        mean: stat(&mean_of),
        stdev: stat(&|s| {
            let m = mean_of(s);
            (s.iter().map(|x| (x - m).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
        }),
        count: samples
            .iter()
            .map(|row| row.iter().map(Vec::len).collect())
            .collect(),
        slugs,
        names,
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionAnalysis {
    pub groups: usize,
    /// All of the version's groups with numbers, when more than `groups` (the newest of
    /// them) were measured; set by the listings.
    pub total: usize,
    pub statement_similarity: Figure,
    pub image_similarity: Figure,
}

/// The prompt-version page: how consistently the Artists differ across its groups.
pub fn version_analysis(groups: &[&GroupNumbers]) -> VersionAnalysis {
    let stmt = mean_matrix(groups, |g, i, j| g.statement_similarity[i][j]);
    let img = mean_matrix(groups, |g, i, j| {
        g.image_similarity[i][j].map(|s| s.similarity)
    });
    let figure = |title: &str, measures: &str, m: &MeanMatrix| Figure {
        title: title.into(),
        measures: measures.into(),
        svg: svg::heatmap(title, &m.names, &m.mean, |i, j, v| match v {
            Some(v) => format!(
                "{} vs {}: mean {v:.2} ± {:.2} over {} group{}",
                m.names[i],
                m.names[j],
                m.stdev[i][j].unwrap_or(0.0),
                m.count[i][j],
                plural(m.count[i][j])
            ),
            None => format!("{} vs {}: no group with both", m.names[i], m.names[j]),
        }),
    };
    VersionAnalysis {
        groups: groups.len(),
        total: groups.len(),
        statement_similarity: figure(
            "Mean statement similarity",
            "TF-IDF cosine similarity of each pair of statements, averaged over this version's groups; the \
             spread (±) of each pair, in the list under the table, shows how consistently it differs.",
            &stmt,
        ),
        image_similarity: figure(
            "Mean image similarity",
            "Image similarity (perceptual hash and colour histogram) of each pair, averaged over this version's \
             groups, with its spread.",
            &img,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::analysis::group::{group_numbers, Entry};
    use crate::site::analysis::image::signature_of_pixels;

    fn numbers(
        stmts: [(&str, &str, Option<&str>); 3],
        red: &super::super::image::ImageSignature,
    ) -> GroupNumbers {
        let entries: Vec<Entry> = stmts
            .iter()
            .map(|&(slug, name, s)| Entry {
                slug,
                name,
                statement: s,
                signature: Some(red),
                ..Entry::default()
            })
            .collect();
        group_numbers(&entries)
    }

    #[test]
    fn artist_profile_from_two_groups() {
        let red = signature_of_pixels(&[[255, 0, 0]; 64], &[0.0; 1024]);
        let g1 = numbers(
            [
                ("a", "Ada", Some("storm sea storm")),
                ("b", "Bo", Some("sea meadow")),
                ("c", "Cy", Some("sea")),
            ],
            &red,
        );
        let g2 = numbers(
            [
                ("a", "Ada", Some("storm cliff")),
                ("b", "Bo", Some("meadow")),
                ("c", "Cy", None),
            ],
            &red,
        );
        let runs = [
            RunStats {
                done: true,
                cost_usd: Some(0.01),
                latency_ms: Some(1000),
                ..RunStats::default()
            },
            RunStats {
                failed: true,
                latency_ms: Some(3000),
                ..RunStats::default()
            },
        ];
        let a = artist_analysis("a", &[&g1, &g2], &runs);
        assert_eq!(
            a.recurring_words
                .iter()
                .map(|w| (w.word.as_str(), w.groups))
                .collect::<Vec<_>>(),
            vec![("storm", 2)]
        );
        assert!(a
            .palette_svg
            .as_deref()
            .unwrap_or_default()
            .contains("#ff0000 100%"));
        assert!(a.image_similarity.svg.contains("Bo: 1.00 over 2 groups"));
        assert!(
            a.statement_similarity.svg.contains("over 1 group"),
            "Cy failed in the second group"
        );
        assert_eq!(a.failure_rate, "1 of 2 finished runs failed (50%)");
        assert!(a
            .latency
            .svg
            .contains("2 values, min 1.0 s, median 2.0 s, max 3.0 s"));
    }

    #[test]
    fn version_means_match_artists_by_slug() {
        let red = signature_of_pixels(&[[255, 0, 0]; 64], &[0.0; 1024]);
        let g1 = numbers(
            [
                ("a", "Ada", Some("x1 storm")),
                ("b", "Bo", Some("x1 storm")),
                ("c", "Cy", Some("calm")),
            ],
            &red,
        );
        let g2 = numbers(
            [
                ("b", "Bo", Some("tide")),
                ("a", "Ada", Some("stone")),
                ("c", "Cy", Some("calm")),
            ],
            &red,
        );
        let m = mean_matrix(&[&g1, &g2], |g, i, j| g.statement_similarity[i][j]);
        assert_eq!(m.slugs, vec!["a", "b", "c"]);
        assert!(
            (m.mean[0][1].unwrap() - 0.5).abs() < 1e-12,
            "1.0 in one group, 0.0 in the other"
        );
        assert!((m.stdev[0][1].unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(m.count[0][1], 2);
        let v = version_analysis(&[&g1, &g2]);
        assert!(v
            .statement_similarity
            .svg
            .contains("Ada vs Bo: mean 0.50 ± 0.50 over 2 groups"));
    }
}
