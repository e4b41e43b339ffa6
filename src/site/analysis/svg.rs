//! Inline SVG drawings of the analysis numbers: heatmaps, palette strips, distribution
//! strips and bars. Every drawing carries its numbers as text (`<title>` and
//! `aria-label`), so it is readable without sight and testable. Pure string building;
//! every label is escaped here.

use std::fmt::Write;

use super::palette::Swatch;

/// Escapes text for SVG/HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A light-to-dark blue for 0–1, so darker means more similar.
fn shade(v: f64) -> String {
    let t = v.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(247.0, 33.0),
        mix(244.0, 72.0),
        mix(236.0, 140.0)
    )
}

const CELL: usize = 44;
const LABEL_W: usize = 170;

/// A square matrix of 0–1 values. Rows are labelled with names, columns with the row
/// numbers (so long names fit); `cell_text(i, j, v)` is each cell's spoken/hover text.
pub fn heatmap(
    caption: &str,
    labels: &[String],
    values: &[Vec<Option<f64>>],
    cell_text: impl Fn(usize, usize, Option<f64>) -> String,
) -> String {
    let n = labels.len();
    let (w, h) = (LABEL_W + n * CELL + 2, 18 + n * CELL + 2);
    let mut summary = format!("{caption}.");
    for (i, row) in values.iter().enumerate() {
        for (j, v) in row.iter().enumerate().skip(i + 1) {
            let _ = write!(summary, " {}.", cell_text(i, j, *v));
        }
    }
    let mut s = format!(
        r#"<svg class="heatmap" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{}"><title>{}</title>"#,
        esc(&summary),
        esc(caption)
    );
    for j in 0..n {
        let _ = write!(
            s,
            r#"<text x="{}" y="13" text-anchor="middle" font-size="12" fill="currentColor">{}</text>"#,
            LABEL_W + j * CELL + CELL / 2,
            j + 1
        );
    }
    for (i, row) in values.iter().enumerate() {
        let y = 18 + i * CELL;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end" font-size="12" fill="currentColor">{} {}</text>"#,
            LABEL_W - 6,
            y + CELL / 2 + 4,
            esc(&truncate(labels.get(i).map_or("", String::as_str), 20)),
            i + 1
        );
        for (j, &v) in row.iter().enumerate() {
            let x = LABEL_W + j * CELL;
            let text = esc(&cell_text(i, j, v));
            let (fill, ink) = match v {
                Some(v) => (shade(v), if v > 0.55 { "#fff" } else { "#222" }),
                None => ("#ddd".to_string(), "#666"),
            };
            let shown = v.map_or("–".to_string(), |v| format!("{v:.2}"));
            let _ = write!(
                s,
                r##"<g aria-label="{text}"><title>{text}</title><rect x="{x}" y="{y}" width="{c}" height="{c}" fill="{fill}" stroke="#fff"/><text x="{tx}" y="{ty}" text-anchor="middle" font-size="12" fill="{ink}">{shown}</text></g>"##,
                c = CELL,
                tx = x + CELL / 2,
                ty = y + CELL / 2 + 4,
            );
        }
    }
    s.push_str("</svg>");
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

/// A strip plot: one translucent dot per value on a line from min to max, the median
/// marked. `fmt` formats a value for the labels.
pub fn distribution(caption: &str, values: &[f64], fmt: impl Fn(f64) -> String) -> String {
    let (w, h) = (260usize, 44usize);
    let Some(sm) = summary(values) else {
        let l = esc(&format!("{caption}: no values"));
        return format!(
            r#"<svg class="distribution" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} 20" width="{w}" height="20" role="img" aria-label="{l}"><title>{l}</title><text x="0" y="14" font-size="11" fill="currentColor">no values</text></svg>"#
        );
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
        r##"<svg class="distribution" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{label}"><title>{label}</title><line x1="10" y1="16" x2="{}" y2="16" stroke="#999"/>"##,
        w - 10
    );
    for &v in values.iter().filter(|v| v.is_finite()) {
        let _ = write!(
            s,
            r##"<circle cx="{:.1}" cy="16" r="4" fill="#21488c" fill-opacity="0.35"/>"##,
            x(v)
        );
    }
    let mx = x(sm.median);
    let _ = write!(
        s,
        r##"<line x1="{mx:.1}" y1="6" x2="{mx:.1}" y2="26" stroke="#c0392b" stroke-width="2"/><text x="10" y="40" font-size="10" fill="currentColor">{}</text><text x="{mx:.1}" y="40" font-size="10" text-anchor="middle" fill="#c0392b">{}</text><text x="{}" y="40" font-size="10" text-anchor="end" fill="currentColor">{}</text></svg>"##,
        esc(&fmt(sm.min)),
        esc(&fmt(sm.median)),
        w - 10,
        esc(&fmt(sm.max))
    );
    s
}

/// Horizontal bars for 0–1 values, one per label.
pub fn bars(caption: &str, rows: &[(String, Option<f64>, String)]) -> String {
    let (w, row_h) = (360usize, 20usize);
    let h = rows.len() * row_h + 4;
    let parts: Vec<String> = rows.iter().map(|(l, _, t)| format!("{l}: {t}")).collect();
    let label = esc(&format!("{caption}. {}", parts.join("; ")));
    let mut s = format!(
        r#"<svg class="bars" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{label}"><title>{label}</title>"#
    );
    for (k, (name, v, text)) in rows.iter().enumerate() {
        let y = 2 + k * row_h;
        let bw = v.map_or(0.0, |v| v.clamp(0.0, 1.0) * 150.0);
        let t = esc(&format!("{name}: {text}"));
        let _ = write!(
            s,
            r##"<g aria-label="{t}"><title>{t}</title><text x="140" y="{ty}" font-size="11" text-anchor="end" fill="currentColor">{n}</text><rect x="146" y="{y}" width="{bw:.1}" height="{bh}" fill="{fill}"/><text x="{vx:.1}" y="{ty}" font-size="10" fill="currentColor">{v}</text></g>"##,
            ty = y + 13,
            n = esc(&truncate(name, 22)),
            bh = row_h - 4,
            fill = shade(v.unwrap_or(0.0)),
            vx = 150.0 + bw,
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
    fn heatmap_carries_every_number_as_text_and_escapes_labels() {
        let labels = vec!["A<b>".to_string(), "B & co".to_string()];
        let values = vec![vec![Some(1.0), Some(0.25)], vec![Some(0.25), None]];
        let svg = heatmap("Statement similarity", &labels, &values, |i, j, v| {
            format!(
                "{} vs {}: {}",
                labels[i],
                labels[j],
                v.map_or("n/a".into(), |v| format!("{v:.2}"))
            )
        });
        assert!(
            svg.contains(r#"aria-label="A&lt;b&gt; vs B &amp; co: 0.25""#),
            "{svg}"
        );
        assert!(svg.contains("<title>B &amp; co vs B &amp; co: n/a</title>"));
        assert!(svg.contains("Statement similarity. A&lt;b&gt; vs B &amp; co: 0.25."));
        assert!(!svg.contains("A<b>"));
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
        assert!(distribution("Cost", &[], |v| v.to_string()).contains("no values"));
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
