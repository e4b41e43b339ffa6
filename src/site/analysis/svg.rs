//! Markup for the analysis numbers: heatmaps (HTML tables with colour classes), and inline
//! SVG palette strips, distribution strips and bars. Every figure carries its numbers as
//! visible text, so it is readable without sight or hover and testable. Colours come from
//! presentation attributes and CSS classes, never `style` (the pages' CSP forbids it).
//! Pure string building; every label is escaped here.

use std::fmt::Write;

use super::palette::Swatch;

use crate::untrusted::escape_html as esc;

/// How many colour steps a heatmap uses (CSS classes `heat-0` … `heat-5`, light and
/// dark schemes in analysis.css).
pub const HEAT_STEPS: usize = 6;

/// The colour step of `v` within the off-diagonal range `lo..=hi`, so the differences that
/// matter use the whole scale instead of crowding into a few pale shades.
fn heat_step(v: f64, lo: f64, hi: f64) -> usize {
    if hi - lo < 1e-9 {
        return HEAT_STEPS / 2;
    }
    let t = ((v - lo) / (hi - lo)).clamp(0.0, 1.0);
    ((t * HEAT_STEPS as f64) as usize).min(HEAT_STEPS - 1)
}

/// A square matrix of 0–1 values as an HTML table: names on both axes, each number in its
/// cell (readable without hover, by keyboard and by screen readers), colour scaled to the
/// off-diagonal range with a legend, the always-1 diagonal muted. `cell_text(i, j, v)` is
/// each pair in words; the pairs are also listed under the table, with their components.
pub fn heatmap(
    caption: &str,
    labels: &[String],
    values: &[Vec<Option<f64>>],
    cell_text: impl Fn(usize, usize, Option<f64>) -> String,
) -> String {
    let n = labels.len();
    let off: Vec<f64> = (0..n)
        .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
        .filter_map(|(i, j)| values.get(i).and_then(|r| r.get(j)).copied().flatten())
        .collect();
    let (lo, hi) = off
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let mut s = format!(
        r#"<div class="table-scroll heatmap-wrap" tabindex="0" role="region" aria-label="{c} (scrolls sideways on narrow screens)"><p class="scroll-more" aria-hidden="true">Scroll sideways for more →</p><table class="heatmap"><caption class="visually-hidden">{c}</caption><thead><tr><td></td>"#,
        c = esc(caption)
    );
    for l in labels {
        let _ = write!(s, r#"<th scope="col">{}</th>"#, esc(l));
    }
    s.push_str("</tr></thead><tbody>");
    for (i, row) in values.iter().enumerate() {
        let _ = write!(
            s,
            r#"<tr><th scope="row">{}</th>"#,
            esc(labels.get(i).map_or("", String::as_str))
        );
        for (j, &v) in row.iter().enumerate() {
            if i == j {
                s.push_str(r#"<td class="heat-diag"><span aria-hidden="true">–</span><span class="visually-hidden">same Artist</span></td>"#);
                continue;
            }
            match v {
                Some(v) => {
                    let _ = write!(
                        s,
                        r#"<td class="heat-{}">{v:.2}</td>"#,
                        heat_step(v, lo, hi)
                    );
                }
                None => s.push_str(r#"<td class="heat-na">n/a</td>"#),
            }
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table></div>");
    if !off.is_empty() {
        let _ = write!(
            s,
            r#"<p class="heat-legend"><span>less similar ({lo:.2})</span>"#
        );
        for k in 0..HEAT_STEPS {
            let _ = write!(s, r#"<span class="heat-swatch heat-{k}"></span>"#);
        }
        let _ = write!(
            s,
            r#"<span>more similar ({hi:.2})</span><span class="muted"> · colours span this table's range, not 0–1</span></p>"#
        );
    }
    let mut pairs = String::new();
    for (i, row) in values.iter().enumerate() {
        for (j, v) in row.iter().enumerate().skip(i + 1) {
            let _ = write!(pairs, "<li>{}</li>", esc(&cell_text(i, j, *v)));
        }
    }
    if !pairs.is_empty() {
        let _ = write!(
            s,
            r#"<details class="heat-pairs"><summary>Every pair in words</summary><ul>{pairs}</ul></details>"#
        );
    }
    s
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut t: String = text.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// A strip of swatches, each as wide as its share of the image.
pub fn palette_strip(swatches: &[Swatch], width: usize, height: usize) -> String {
    let label = if swatches.is_empty() {
        "No palette".to_string()
    } else {
        let parts: Vec<String> = swatches
            .iter()
            .map(|s| format!("{} {:.0}%", s.hex(), s.share * 100.0))
            .collect();
        format!("Dominant colours: {}", parts.join(", "))
    };
    let mut s = format!(
        r#"<svg class="palette" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" height="{height}" preserveAspectRatio="none" role="img" aria-label="{l}"><title>{l}</title>"#,
        l = esc(&label)
    );
    let total: f64 = swatches
        .iter()
        .map(|s| s.share)
        .sum::<f64>()
        .max(f64::EPSILON);
    let mut x = 0.0;
    for sw in swatches {
        let w = sw.share / total * width as f64;
        let _ = write!(
            s,
            r#"<rect x="{x:.2}" y="0" width="{w:.2}" height="{height}" fill="{hex}"><title>{hex} · {pct:.0}%</title></rect>"#,
            hex = sw.hex(),
            pct = sw.share * 100.0
        );
        x += w;
    }
    s.push_str("</svg>");
    s
}

/// Min, median and max of some values, for the text beside a distribution.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Summary {
    pub n: usize,
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

pub fn summary(values: &[f64]) -> Option<Summary> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Summary {
        n,
        min: v[0],
        median,
        max: v[n - 1],
    })
}

/// A strip plot: translucent dots for the values on a line from min to max (one per
/// pixel), the median marked. `fmt` formats a value for the labels.
pub fn distribution(caption: &str, values: &[f64], fmt: impl Fn(f64) -> String) -> String {
    let (w, h) = (320usize, 64usize);
    // An empty chart says nothing: the page leaves the figure out.
    let Some(sm) = summary(values) else {
        return String::new();
    };
    let label = esc(&format!(
        "{caption}: {} values, min {}, median {}, max {}",
        sm.n,
        fmt(sm.min),
        fmt(sm.median),
        fmt(sm.max)
    ));
    let span = (sm.max - sm.min).max(f64::EPSILON);
    let x = |v: f64| 10.0 + (v - sm.min) / span * (w as f64 - 20.0);
    let mut s = format!(
        r##"<svg class="distribution" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{label}"><title>{label}</title><line class="axis" x1="10" y1="32" x2="{}" y2="32" stroke="#6b6b75"/>"##,
        w - 10
    );
    // One dot per whole pixel, darker the more runs it stands for: a history of 50,000
    // runs then draws at most a few hundred dots, and the page stays small.
    let mut at: std::collections::BTreeMap<i64, usize> = std::collections::BTreeMap::new();
    for &v in values.iter().filter(|v| v.is_finite()) {
        *at.entry(x(v).round() as i64).or_default() += 1;
    }
    for (px, count) in at {
        let opacity = (0.6 + 0.1 * count as f64).min(1.0);
        let _ = write!(
            s,
            r##"<circle class="dot" cx="{px}" cy="32" r="5" fill="#1f55b0" fill-opacity="{opacity:.1}"/>"##
        );
    }
    let mx = x(sm.median);
    // The median's label stays inside the drawing even when the median sits at an end.
    let mlx = mx.clamp(60.0, w as f64 - 60.0);
    let _ = write!(
        s,
        r##"<line class="median" x1="{mx:.1}" y1="20" x2="{mx:.1}" y2="44" stroke="#a1231b" stroke-width="3"/><text x="10" y="60" font-size="14" fill="currentColor">min {}</text><text class="median-label" x="{mlx:.1}" y="14" font-size="14" text-anchor="middle" fill="#a1231b">median {}</text><text x="{}" y="60" font-size="14" text-anchor="end" fill="currentColor">max {}</text></svg>"##,
        esc(&fmt(sm.min)),
        esc(&fmt(sm.median)),
        w - 10,
        esc(&fmt(sm.max))
    );
    s
}

/// Horizontal bars for 0–1 values, one per label.
pub fn bars(caption: &str, rows: &[(String, Option<f64>, String)]) -> String {
    let (w, row_h) = (540usize, 26usize);
    let h = rows.len() * row_h + 4;
    let parts: Vec<String> = rows.iter().map(|(l, _, t)| format!("{l}: {t}")).collect();
    let label = esc(&format!("{caption}. {}", parts.join("; ")));
    let mut s = format!(
        r#"<svg class="bars" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{label}"><title>{label}</title>"#
    );
    for (k, (name, v, text)) in rows.iter().enumerate() {
        let y = 2 + k * row_h;
        let bw = v.map_or(0.0, |v| v.clamp(0.0, 1.0) * 170.0);
        let t = esc(&format!("{name}: {text}"));
        let _ = write!(
            s,
            r##"<g><title>{t}</title><text x="176" y="{ty}" font-size="14" text-anchor="end" fill="currentColor">{n}</text><rect class="bar" x="182" y="{y}" width="{bw:.1}" height="{bh}" fill="#1f55b0"/><text x="{vx:.1}" y="{ty}" font-size="14" fill="currentColor">{v}</text></g>"##,
            ty = y + 17,
            n = esc(&truncate(name, 22)),
            bh = row_h - 4,
            vx = 188.0 + bw,
            v = esc(text)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heatmap_shows_every_number_names_both_axes_and_escapes_labels() {
        let labels = vec!["A<b>".to_string(), "B & co".to_string(), "C".to_string()];
        let values = vec![
            vec![Some(1.0), Some(0.25), Some(0.5)],
            vec![Some(0.25), None, None],
            vec![Some(0.5), None, Some(1.0)],
        ];
        let html = heatmap("Statement similarity", &labels, &values, |i, j, v| {
            format!(
                "{} vs {}: {}",
                labels[i],
                labels[j],
                v.map_or("n/a".into(), |v| format!("{v:.2}"))
            )
        });
        assert!(
            html.contains(r#"<th scope="col">A&lt;b&gt;</th>"#),
            "{html}"
        );
        assert!(html.contains(r#"<th scope="row">B &amp; co</th>"#));
        // Colours span the off-diagonal range: its ends get the first and last steps.
        assert!(html.contains(r#"<td class="heat-0">0.25</td>"#), "{html}");
        assert!(html.contains(r#"<td class="heat-5">0.50</td>"#), "{html}");
        assert_eq!(
            html.matches("heat-diag").count(),
            3,
            "the diagonal is muted"
        );
        assert!(html.contains("less similar (0.25)") && html.contains("more similar (0.50)"));
        assert!(html.contains("<li>A&lt;b&gt; vs B &amp; co: 0.25</li>"));
        assert!(!html.contains("A<b>"));
        assert!(!html.contains("style="));
    }

    #[test]
    fn palette_strip_names_each_colour() {
        let svg = palette_strip(
            &[Swatch {
                rgb: [255, 0, 0],
                share: 1.0,
            }],
            100,
            10,
        );
        assert!(svg.contains("Dominant colours: #ff0000 100%"));
        assert!(svg.contains(r##"fill="#ff0000""##));
    }

    #[test]
    fn summary_and_distribution_text() {
        let s = summary(&[3.0, 1.0, 2.0, 10.0]).unwrap();
        assert_eq!((s.n, s.min, s.median, s.max), (4, 1.0, 2.5, 10.0));
        let svg = distribution("Cost", &[1.0, 2.0, 3.0], |v| format!("${v:.2}"));
        assert!(svg.contains("Cost: 3 values, min $1.00, median $2.00, max $3.00"));
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(distribution("Cost", &[], |v| v.to_string()).is_empty());
        // 50,000 runs still draw one dot per pixel of the 300 px line, and say how many.
        let many: Vec<f64> = (0..50_000).map(|i| (i % 977) as f64).collect();
        let svg = distribution("Latency", &many, |v| v.to_string());
        assert!(svg.contains("Latency: 50000 values"));
        assert!(
            (250..=301).contains(&svg.matches("<circle").count()),
            "{}",
            svg.len()
        );
        assert!(svg.len() < 40_000);
    }

    #[test]
    fn bars_label_each_row() {
        let svg = bars(
            "Mean similarity",
            &[("Ada".into(), Some(0.5), "0.50".into())],
        );
        assert!(svg.contains("<title>Ada: 0.50</title>"));
    }
}
