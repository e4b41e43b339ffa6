//! The difference views of one run group: palettes and palette distances, image and
//! statement similarity heatmaps, distinctive words, simple measures with their extremes,
//! and the blind-mode order. Pure: takes plain per-Artist inputs, returns numbers and
//! ready-to-embed SVG; never reads files.

use serde::{Deserialize, Serialize};

use super::image::{image_similarity, ImageSignature, ImageSimilarity};
use super::palette::{palette_distance, Swatch};
use super::svg;
use super::text::{
    distinctive_words, sentence_count, similarity_matrix, term_counts, word_count, TermCounts,
    WordScore,
};
use crate::site::render::model::{format_ms, format_usd};

/// How many distinctive words each Artist gets per group.
pub const DISTINCTIVE_WORDS: usize = 6;

/// One Artist's column as the analysis sees it.
#[derive(Debug, Clone, Default)]
pub struct Entry<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    /// `None` when the run is missing, unfinished or failed.
    pub statement: Option<&'a str>,
    pub image_prompt: Option<&'a str>,
    pub signature: Option<&'a ImageSignature>,
    pub output_tokens: Option<u64>,
    pub cost_usd: Option<f64>,
    pub latency_ms: Option<u64>,
}

/// The raw numbers of one group, kept for the Artist and prompt-version pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupNumbers {
    pub slugs: Vec<String>,
    pub names: Vec<String>,
    pub statement_similarity: Vec<Vec<Option<f64>>>,
    pub image_similarity: Vec<Vec<Option<ImageSimilarity>>>,
    pub palette_distance: Vec<Vec<Option<f64>>>,
    pub distinctive: Vec<Vec<WordScore>>,
    pub palettes: Vec<Vec<Swatch>>,
}

pub fn group_numbers(entries: &[Entry]) -> GroupNumbers {
    let n = entries.len();
    let statements: Vec<Option<&str>> = entries.iter().map(|e| e.statement).collect();
    // Distinctive words compare only the statements that exist.
    let present: Vec<usize> = (0..n).filter(|&i| statements[i].is_some()).collect();
    let counts: Vec<TermCounts> = present
        .iter()
        .map(|&i| term_counts(statements[i].unwrap_or_default()))
        .collect();
    let mut distinctive = vec![Vec::new(); n];
    for (k, &i) in present.iter().enumerate() {
        distinctive[i] = distinctive_words(&counts, k, DISTINCTIVE_WORDS);
    }
    let pair =
        |f: &dyn Fn(&ImageSignature, &ImageSignature) -> Option<f64>| -> Vec<Vec<Option<f64>>> {
            (0..n)
                .map(|i| {
                    (0..n)
                        .map(|j| {
                            entries[i]
                                .signature
                                .zip(entries[j].signature)
                                .and_then(|(a, b)| f(a, b))
                        })
                        .collect()
                })
                .collect()
        };
    GroupNumbers {
        slugs: entries.iter().map(|e| e.slug.to_string()).collect(),
        names: entries.iter().map(|e| e.name.to_string()).collect(),
        statement_similarity: similarity_matrix(&statements),
        image_similarity: (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        entries[i]
                            .signature
                            .zip(entries[j].signature)
                            .and_then(|(a, b)| image_similarity(a, b))
                    })
                    .collect()
            })
            .collect(),
        palette_distance: pair(&|a, b| palette_distance(&a.palette, &b.palette)),
        distinctive,
        palettes: entries
            .iter()
            .map(|e| e.signature.map(|s| s.palette.clone()).unwrap_or_default())
            .collect(),
    }
}

/// A drawing with the one line that says what it measures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Figure {
    pub title: String,
    pub measures: String,
    /// Inline SVG built by `svg`; every label in it is escaped.
    pub svg: String,
}

/// What sits under one Artist's image in the compare grid.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnAnalysis {
    pub slug: String,
    pub palette_svg: Option<String>,
    pub palette: Vec<SwatchView>,
    /// Mean ΔE from this palette to the other palettes, formatted.
    pub palette_distance: Option<String>,
    /// This column's palette is the one furthest from the others.
    pub most_distinct_palette: bool,
    pub distinctive_words: Vec<String>,
    /// Position in blind mode (CSS `order`) and the neutral label shown instead of the name.
    pub blind_order: usize,
    pub blind_label: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SwatchView {
    pub hex: String,
    pub percent: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeasureCell {
    pub text: String,
    /// "max", "min" or "" (the extreme across the row, when the row has a spread).
    pub mark: String,
    /// The extreme in words: "highest"/"lowest", or for rows where less is better
    /// (cost, latency) "cheapest"/"most expensive", "fastest"/"slowest".
    pub note: String,
    /// "best", "worst" or "" (only rows where less is better have a best).
    pub rank: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeasureRow {
    pub label: String,
    pub cells: Vec<MeasureCell>,
}

/// Everything the group page shows; `columns` is in the group's Artist order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupAnalysis {
    pub columns: Vec<ColumnAnalysis>,
    pub palette_line: String,
    pub image_similarity: Figure,
    pub statement_similarity: Figure,
    pub distinctive_line: String,
    pub measures_line: String,
    pub measure_names: Vec<String>,
    pub measures: Vec<MeasureRow>,
}

pub fn group_analysis(
    entries: &[Entry],
    numbers: &GroupNumbers,
    blind_seed: &str,
) -> GroupAnalysis {
    let n = entries.len();
    let names = &numbers.names;
    let mean_palette: Vec<Option<f64>> = (0..n)
        .map(|i| mean_off_diagonal(&numbers.palette_distance[i], i))
        .collect();
    let furthest = argmax(&mean_palette).filter(|_| mean_palette.iter().flatten().count() > 1);
    let order = blind_order(blind_seed, n);
    let columns = (0..n)
        .map(|i| ColumnAnalysis {
            slug: numbers.slugs[i].clone(),
            palette_svg: entries[i]
                .signature
                .map(|s| svg::palette_strip(&s.palette, 240, 18)),
            palette: numbers.palettes[i]
                .iter()
                .map(|s| SwatchView {
                    hex: s.hex(),
                    percent: format!("{:.0}%", s.share * 100.0),
                })
                .collect(),
            palette_distance: mean_palette[i].map(|d| format!("{d:.1}")),
            most_distinct_palette: furthest == Some(i),
            distinctive_words: numbers.distinctive[i]
                .iter()
                .map(|w| w.word.clone())
                .collect(),
            blind_order: order[i],
            blind_label: format!("Artist {}", blind_letter(order[i])),
        })
        .collect();

    let image_values: Vec<Vec<Option<f64>>> = numbers
        .image_similarity
        .iter()
        .map(|row| row.iter().map(|c| c.map(|s| s.similarity)).collect())
        .collect();
    let image_svg = svg::heatmap(
        "Image similarity",
        names,
        &image_values,
        |i, j, v| match numbers.image_similarity[i][j] {
            Some(s) => format!(
                "{} vs {}: image similarity {:.2} (layout distance {:.2}, colour distance {:.2})",
                names[i], names[j], s.similarity, s.hash_distance, s.histogram_distance
            ),
            None => pair_na(names, i, j, v, "image similarity"),
        },
    );
    let statement_svg = svg::heatmap(
        "Statement similarity",
        names,
        &numbers.statement_similarity,
        |i, j, v| match v {
            Some(v) => format!("{} vs {}: statement similarity {v:.2}", names[i], names[j]),
            None => pair_na(names, i, j, v, "statement similarity"),
        },
    );
    let (measure_names, measures) = measure_rows(entries);
    GroupAnalysis {
        columns,
        palette_line: "Up to six dominant colours of each image (median cut on a 64-pixel thumbnail), with the mean \
                       colour distance (CIE ΔE; about 2 is just noticeable) to the other images' palettes."
            .into(),
        image_similarity: Figure {
            title: "Image similarity".into(),
            measures: "For every pair of images: 1 − the mean of a perceptual-hash distance (layout) and a \
                       colour-histogram distance; 1 means identical."
                .into(),
            svg: image_svg,
        },
        statement_similarity: Figure {
            title: "Statement similarity".into(),
            measures: "For every pair of statements: cosine similarity of TF-IDF word weights, stop words \
                       removed; 1 means the same words in the same proportions, 0 no word in common."
                .into(),
            svg: statement_svg,
        },
        distinctive_line: "Each Artist's words that the other statements in this group use least (TF-IDF against \
                           the others)."
            .into(),
        measures_line: "Simple measures side by side, each row's extremes named in words. Only cost and latency \
                        have a better end (lower); there the best is in bold."
            .into(),
        measure_names,
        measures,
    }
}

fn pair_na(names: &[String], i: usize, j: usize, _v: Option<f64>, what: &str) -> String {
    format!("{} vs {}: {what} not available", names[i], names[j])
}

fn mean_off_diagonal(row: &[Option<f64>], i: usize) -> Option<f64> {
    let vals: Vec<f64> = row
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != i)
        .filter_map(|(_, v)| *v)
        .collect();
    (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64)
}

fn argmax(values: &[Option<f64>]) -> Option<usize> {
    values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i, v)))
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(i, _)| i)
}

/// The rows of the measures table: label, then one cell per Artist, extremes marked.
pub fn measure_rows(entries: &[Entry]) -> (Vec<String>, Vec<MeasureRow>) {
    type Getter = fn(&Entry) -> Option<f64>;
    type Fmt = fn(f64) -> String;
    // (lowest, highest) in words, and whether the lowest is the best.
    type Words = (&'static str, &'static str, bool);
    let count = |v: f64| format!("{v:.0}");
    const NEUTRAL: Words = ("lowest", "highest", false);
    let rows: [(&str, Getter, Fmt, Words); 7] = [
        (
            "Statement words",
            |e| e.statement.map(|s| word_count(s) as f64),
            count,
            ("fewest", "most", false),
        ),
        (
            "Image-prompt words",
            |e| e.image_prompt.map(|s| word_count(s) as f64),
            count,
            ("fewest", "most", false),
        ),
        (
            "Sentences",
            |e| e.statement.map(|s| sentence_count(s) as f64),
            count,
            ("fewest", "most", false),
        ),
        (
            "Words per sentence",
            |e| {
                e.statement
                    .map(|s| word_count(s) as f64 / sentence_count(s).max(1) as f64)
            },
            |v| format!("{v:.1}"),
            NEUTRAL,
        ),
        (
            "Output tokens",
            |e| e.output_tokens.map(|t| t as f64),
            count,
            ("fewest", "most", false),
        ),
        (
            "Cost",
            |e| e.cost_usd,
            format_usd,
            ("cheapest", "most expensive", true),
        ),
        (
            "Latency",
            |e| e.latency_ms.map(|t| t as f64),
            |v| format_ms(v.round() as u64),
            ("fastest", "slowest", true),
        ),
    ];
    let names = entries.iter().map(|e| e.name.to_string()).collect();
    let rows = rows
        .iter()
        .map(|(label, get, fmt, (low, high, low_is_best))| {
            let values: Vec<Option<f64>> = entries.iter().map(get).collect();
            let marks = extremes(&values);
            MeasureRow {
                label: label.to_string(),
                cells: values
                    .iter()
                    .zip(marks)
                    .map(|(v, mark)| {
                        let (note, rank) = match (mark, low_is_best) {
                            ("min", true) => (*low, "best"),
                            ("max", true) => (*high, "worst"),
                            ("min", false) => (*low, ""),
                            ("max", false) => (*high, ""),
                            _ => ("", ""),
                        };
                        MeasureCell {
                            text: v.map_or("–".into(), fmt),
                            mark: mark.to_string(),
                            note: note.to_string(),
                            rank: rank.to_string(),
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    (names, rows)
}

/// Marks every cell holding the row's highest value "max" and its lowest "min"; nothing
/// when fewer than two values exist or all are equal.
pub fn extremes(values: &[Option<f64>]) -> Vec<&'static str> {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let (lo, hi) = present
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    values
        .iter()
        .map(|v| match v {
            Some(v) if present.len() > 1 && hi > lo && *v == hi => "max",
            Some(v) if present.len() > 1 && hi > lo && *v == lo => "min",
            _ => "",
        })
        .collect()
}

/// A stable shuffle of `n` columns, seeded by `seed` (the group id), so the blind order
/// does not follow the registry order yet the page is the same on every build.
pub fn blind_order(seed: &str, n: usize) -> Vec<usize> {
    // FNV-1a then an xorshift stream: tiny, deterministic, good enough to hide an order.
    let mut state = seed.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

fn blind_letter(k: usize) -> String {
    let letters = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    if k < letters.len() {
        (letters[k] as char).to_string()
    } else {
        (k + 1).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::analysis::image::signature_of_pixels;

    fn sig(rgb: [u8; 3]) -> ImageSignature {
        signature_of_pixels(&[rgb; 64], &[f64::from(rgb[0]); 1024])
    }

    #[test]
    fn group_numbers_from_known_inputs() {
        let red = sig([255, 0, 0]);
        let blue = sig([0, 0, 255]);
        let entries = [
            Entry {
                slug: "a",
                name: "Ada",
                statement: Some("red sea storm"),
                signature: Some(&red),
                ..Entry::default()
            },
            Entry {
                slug: "b",
                name: "Bo",
                statement: Some("red sea storm"),
                signature: Some(&red),
                ..Entry::default()
            },
            Entry {
                slug: "c",
                name: "Cy",
                statement: Some("quiet meadow"),
                signature: Some(&blue),
                ..Entry::default()
            },
            Entry {
                slug: "d",
                name: "Di",
                statement: None,
                signature: None,
                ..Entry::default()
            },
        ];
        let g = group_numbers(&entries);
        assert!((g.statement_similarity[0][1].unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(g.statement_similarity[0][2], Some(0.0));
        assert_eq!(g.statement_similarity[0][3], None);
        assert_eq!(g.image_similarity[0][1].unwrap().similarity, 1.0);
        assert_eq!(g.palette_distance[0][1], Some(0.0));
        assert!(g.palette_distance[0][2].unwrap() > 50.0);
        assert_eq!(g.image_similarity[0][3], None);
        assert_eq!(
            g.distinctive[2]
                .iter()
                .map(|w| w.word.as_str())
                .collect::<Vec<_>>(),
            vec!["meadow", "quiet"]
        );
        assert!(
            g.distinctive[0][0].score < g.distinctive[2][0].score,
            "Bo shares Ada's words, so they set her apart less"
        );

        let view = group_analysis(&entries, &g, "seed");
        assert!(view.columns[2].most_distinct_palette);
        assert!(view
            .statement_similarity
            .svg
            .contains("Ada vs Cy: statement similarity 0.00"));
        assert!(view
            .statement_similarity
            .svg
            .contains("Ada vs Bo: statement similarity 1.00"));
        assert!(view
            .image_similarity
            .svg
            .contains("Ada vs Bo: image similarity 1.00"));
        assert!(view
            .image_similarity
            .svg
            .contains("Ada vs Di: image similarity not available"));
        let mut blind: Vec<usize> = view.columns.iter().map(|c| c.blind_order).collect();
        blind.sort();
        assert_eq!(blind, vec![0, 1, 2, 3]);
    }

    #[test]
    fn measures_mark_the_extremes() {
        assert_eq!(
            extremes(&[Some(1.0), Some(3.0), None, Some(2.0)]),
            vec!["min", "max", "", ""]
        );
        assert_eq!(extremes(&[Some(2.0), Some(2.0)]), vec!["", ""]);
        assert_eq!(extremes(&[Some(2.0), None]), vec!["", ""]);
        let entries = [
            Entry {
                name: "Ada",
                statement: Some("One. Two."),
                cost_usd: Some(0.5),
                ..Entry::default()
            },
            Entry {
                name: "Bo",
                statement: Some("One two three four."),
                cost_usd: Some(0.25),
                ..Entry::default()
            },
        ];
        let (names, rows) = measure_rows(&entries);
        assert_eq!(names, vec!["Ada", "Bo"]);
        let words = &rows[0];
        assert_eq!(
            (words.cells[0].text.as_str(), words.cells[0].mark.as_str()),
            ("2", "min")
        );
        assert_eq!(
            (words.cells[1].text.as_str(), words.cells[1].mark.as_str()),
            ("4", "max")
        );
        let cost = rows.iter().find(|r| r.label == "Cost").unwrap();
        assert_eq!(cost.cells[0].text, "$0.50");
        assert_eq!(cost.cells[0].mark, "max");
        assert_eq!(
            (cost.cells[0].note.as_str(), cost.cells[0].rank.as_str()),
            ("most expensive", "worst")
        );
        assert_eq!(
            (cost.cells[1].note.as_str(), cost.cells[1].rank.as_str()),
            ("cheapest", "best")
        );
        assert_eq!(
            (words.cells[1].note.as_str(), words.cells[1].rank.as_str()),
            ("most", "")
        );
    }

    #[test]
    fn blind_order_is_a_stable_permutation() {
        let a = blind_order("6f1c-group", 6);
        assert_eq!(a, blind_order("6f1c-group", 6));
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..6).collect::<Vec<_>>());
        assert_ne!(
            (0..8)
                .map(|k| blind_order(&format!("g{k}"), 6))
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            1
        );
    }
}
