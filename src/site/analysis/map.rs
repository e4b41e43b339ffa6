//! The drawings of the voice views: the style map (one mark per run, placed by MDS, colour
//! and shape by Artist, each a link with a tooltip that keyboard focus shows too) and the
//! separation chart (a dot and its interval per row). Fixed-size inline SVG, so text stays
//! 14 px at any screen width (the page scrolls them sideways); colours come from classes
//! with presentation-attribute fallbacks, never `style` (the CSP forbids it). Pure string
//! building; every label is escaped here.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::voice::signed;
use crate::untrusted::escape_html as esc;

/// Distinct marker colours (CSS classes `mk-0` … `mk-7`) and shapes.
pub const MARKERS: usize = 8;

/// The colour class and shape of the `k`-th Artist: both change together for the first
/// eight, then the shapes shift so every (colour, shape) pair stays distinct.
pub fn marker(k: usize) -> (usize, usize) {
    (k % MARKERS, (k + k / MARKERS) % MARKERS)
}

/// Light-scheme colours, used as presentation attributes when the stylesheet is missing;
/// analysis.css gives both schemes (each ≥ 3:1 on its background).
const FALLBACK: [&str; MARKERS] = [
    "#1f55b0", "#b3261e", "#1b7a3a", "#7b3fa0", "#a35a00", "#00707a", "#b0306a", "#4d4d55",
];

/// One marker of `shape` centred on (x, y) with radius `r`.
pub fn shape(shape: usize, x: f64, y: f64, r: f64, class: &str, fill: &str) -> String {
    let poly = |pts: &[(f64, f64)]| {
        let d: Vec<String> = pts
            .iter()
            .map(|(px, py)| format!("{:.1},{:.1}", x + px * r, y + py * r))
            .collect();
        format!(
            r#"<path class="{class}" fill="{fill}" d="M{}Z"/>"#,
            d.join("L")
        )
    };
    match shape % MARKERS {
        0 => {
            format!(r#"<circle class="{class}" fill="{fill}" cx="{x:.1}" cy="{y:.1}" r="{r:.1}"/>"#)
        }
        1 => poly(&[(-0.85, -0.85), (0.85, -0.85), (0.85, 0.85), (-0.85, 0.85)]),
        2 => poly(&[(0.0, -1.1), (1.0, 0.75), (-1.0, 0.75)]),
        3 => poly(&[(0.0, -1.15), (1.15, 0.0), (0.0, 1.15), (-1.15, 0.0)]),
        4 => poly(&[(0.0, 1.1), (1.0, -0.75), (-1.0, -0.75)]),
        5 => poly(&[
            (-0.35, -1.0),
            (0.35, -1.0),
            (0.35, -0.35),
            (1.0, -0.35),
            (1.0, 0.35),
            (0.35, 0.35),
            (0.35, 1.0),
            (-0.35, 1.0),
            (-0.35, 0.35),
            (-1.0, 0.35),
            (-1.0, -0.35),
            (-0.35, -0.35),
        ]),
        6 => poly(&[
            (0.0, -1.1),
            (1.05, -0.34),
            (0.65, 0.9),
            (-0.65, 0.9),
            (-1.05, -0.34),
        ]),
        _ => poly(&[
            (-0.5, -0.95),
            (0.5, -0.95),
            (1.05, 0.0),
            (0.5, 0.95),
            (-0.5, 0.95),
            (-1.05, 0.0),
        ]),
    }
}

/// A small standalone marker for a legend entry (decorative: the name is beside it).
pub fn legend_marker(k: usize) -> String {
    let (colour, sh) = marker(k);
    format!(
        r#"<svg class="legend-mark" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false">{}</svg>"#,
        shape(
            sh,
            8.0,
            8.0,
            6.0,
            &format!("mk mk-{colour}"),
            FALLBACK[colour]
        )
    )
}

/// One run on the map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapPoint {
    pub x: f64,
    pub y: f64,
    /// Index into the map's Artists.
    pub artist: usize,
    /// Root-relative URL of the run's page.
    pub url: String,
    /// The tooltip after the Artist's name, e.g. "group 6f1c2a3b · 2026-11-30 14:03:47 UTC".
    pub label: String,
    /// Longer text for screen readers after the Artist's name (the group and an excerpt).
    pub description: String,
}

/// Side of the map in pixels.
pub const MAP_WIDTH: f64 = 640.0;
pub const MAP_HEIGHT: f64 = 440.0;
const PAD: f64 = 16.0;

/// The style map: every point a link to `root` + its URL, marked by its Artist, with a
/// tooltip shown on hover and on keyboard focus. Both axes share one scale, so distances
/// on the page keep their proportions.
pub fn style_map(caption: &str, names: &[String], points: &[MapPoint], root: &str) -> String {
    let (w, h) = (MAP_WIDTH, MAP_HEIGHT);
    let mut s = format!(
        r##"<svg class="style-map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="group" aria-label="{c}"><title>{c}</title><rect class="map-frame" x="0.5" y="0.5" width="{fw}" height="{fh}" fill="none" stroke="#8a8a94"/>"##,
        c = esc(caption),
        fw = w - 1.0,
        fh = h - 1.0
    );
    if points.is_empty() {
        s.push_str("</svg>");
        return s;
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in points {
        x0 = x0.min(p.x);
        x1 = x1.max(p.x);
        y0 = y0.min(p.y);
        y1 = y1.max(p.y);
    }
    let r = if points.len() > 150 { 4.5 } else { 6.5 };
    // The plot sits below the label band.
    let plot_h = h - BAND;
    let span = ((x1 - x0) / (w - 2.0 * (PAD + r))).max((y1 - y0) / (plot_h - 2.0 * (PAD + r)));
    let scale = if span > 1e-12 { 1.0 / span } else { 0.0 };
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let place = |p: &MapPoint| {
        (
            w / 2.0 + (p.x - cx) * scale,
            BAND + plot_h / 2.0 - (p.y - cy) * scale,
        )
    };
    let _ = write!(
        s,
        r##"<line class="map-band" x1="1" y1="{BAND}" x2="{x2}" y2="{BAND}" stroke="#8a8a94"/><text class="map-hint" x="10" y="22" font-size="14" fill="currentColor">Hover or tab to a mark: its run is named here.</text><rect class="tip-bg" x="1" y="1" width="{bw}" height="{bh}" fill="#1c1c21"/><g class="marks" font-size="14" fill="#ffffff">"##,
        x2 = w - 1.0,
        bw = w - 2.0,
        bh = BAND - 2.0,
    );
    for p in points {
        let (x, y) = place(p);
        let (colour, sh) = marker(p.artist);
        let name = names.get(p.artist).map_or("", String::as_str);
        // No <title> per mark: the band shows the name on hover and focus, and a second
        // copy of the description in every mark made a 480-run map 350 KB.
        let _ = write!(
            s,
            r#"<a class="pt" href="{root}{url}" aria-label="{d}">{mark}{tip}</a>"#,
            root = esc(root),
            url = esc(&p.url),
            d = esc(&format!("{name}, {}", p.description)),
            mark = shape(sh, x, y, r, &format!("mk mk-{colour}"), FALLBACK[colour]),
            tip = tooltip(&format!("{name} · {}", p.label)),
        );
    }
    s.push_str("</g></svg>");
    s
}

/// Height of the band along the top of the map where a mark's label appears.
const BAND: f64 = 34.0;

/// A mark's label, in the band along the top of the map where no mark is drawn (so later
/// marks never cover it); hidden until its link is hovered or focused (analysis.css). Its
/// text style and the band's background are the map's, drawn once: one copy per mark
/// made a 480-run map 50 KB larger.
fn tooltip(text: &str) -> String {
    let text: String = if text.chars().count() > 76 {
        text.chars().take(75).chain(['…']).collect()
    } else {
        text.to_string()
    };
    format!(
        r#"<g class="tip"><text x="10" y="22">{t}</text></g>"#,
        t = esc(&text)
    )
}

/// One row of the separation chart.
#[derive(Debug, Clone)]
pub struct SeparationRow {
    pub label: String,
    pub value: Option<f64>,
    pub interval: Option<[f64; 2]>,
}

/// A dot per row at its separation with a line across its interval, a dashed line at 0
/// ("no voice"); the value is printed at the end of each row.
pub fn separation_chart(caption: &str, rows: &[SeparationRow]) -> String {
    let (w, row_h, top, label_w) = (600.0, 34.0, 6.0, 196.0);
    let (plot0, plot1) = (label_w + 12.0, w - 96.0);
    let axis_y = top + rows.len() as f64 * row_h + 4.0;
    let h = axis_y + 40.0;
    let ends = rows
        .iter()
        .flat_map(|r| r.interval.into_iter().flatten().chain(r.value))
        .fold((0.0f64, 0.5f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let lo = ((ends.0 / 0.25).floor() * 0.25).max(-1.0);
    let hi = ((ends.1 / 0.25).ceil() * 0.25).min(1.0);
    let x = |v: f64| plot0 + (v.clamp(lo, hi) - lo) / (hi - lo) * (plot1 - plot0);
    let words: Vec<String> = rows
        .iter()
        .map(|r| match (r.value, r.interval) {
            (Some(v), Some([a, b])) => {
                format!(
                    "{}: {} (95% interval {} to {})",
                    r.label,
                    signed(v),
                    signed(a),
                    signed(b)
                )
            }
            (Some(v), None) => format!("{}: {}", r.label, signed(v)),
            _ => format!("{}: not enough groups", r.label),
        })
        .collect();
    let label = esc(&format!("{caption}. {}", words.join("; ")));
    let mut s = format!(
        r##"<svg class="separation" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{label}"><title>{label}</title>"##
    );
    let mut tick = lo;
    while tick <= hi + 1e-9 {
        let tx = x(tick);
        let zero = tick.abs() < 1e-9;
        let _ = write!(
            s,
            r##"<line class="{cls}" x1="{tx:.1}" y1="{top}" x2="{tx:.1}" y2="{axis_y}" stroke="#8a8a94"{dash}/><text x="{tx:.1}" y="{ly}" font-size="14" text-anchor="middle" fill="currentColor">{t}</text>"##,
            cls = if zero { "zero" } else { "grid" },
            dash = if zero {
                r#" stroke-dasharray="4 3""#
            } else {
                ""
            },
            ly = axis_y + 18.0,
            t = signed(tick)
        );
        tick += 0.25;
    }
    let _ = write!(
        s,
        r##"<text x="{zx:.1}" y="{ly}" font-size="14" text-anchor="middle" fill="currentColor">0 = no voice · 1 = same answer every time</text>"##,
        zx = (plot0 + plot1) / 2.0,
        ly = axis_y + 36.0
    );
    for (k, (r, words)) in rows.iter().zip(&words).enumerate() {
        let cy = top + k as f64 * row_h + row_h / 2.0;
        let name: String = if r.label.chars().count() > 24 {
            r.label.chars().take(23).chain(['…']).collect()
        } else {
            r.label.clone()
        };
        let _ = write!(
            s,
            r##"<g><title>{t}</title><text x="{label_w}" y="{ty:.1}" font-size="14" text-anchor="end" fill="currentColor">{n}</text>"##,
            t = esc(words),
            ty = cy + 5.0,
            n = esc(&name)
        );
        if let Some([a, b]) = r.interval {
            let _ = write!(
                s,
                r##"<line class="interval" x1="{:.1}" y1="{cy:.1}" x2="{:.1}" y2="{cy:.1}" stroke="#1f55b0" stroke-width="3"/>"##,
                x(a),
                x(b)
            );
        }
        let value = match r.value {
            Some(v) => {
                let _ = write!(
                    s,
                    r##"<circle class="dot" cx="{:.1}" cy="{cy:.1}" r="6" fill="#1f55b0"/>"##,
                    x(v)
                );
                signed(v)
            }
            None => "–".to_string(),
        };
        let _ = write!(
            s,
            r##"<text x="{vx:.1}" y="{ty:.1}" font-size="14" fill="currentColor">{v}</text></g>"##,
            vx = plot1 + 12.0,
            ty = cy + 5.0,
            v = esc(&value)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(x: f64, artist: usize, label: &str) -> MapPoint {
        MapPoint {
            x,
            y: x / 2.0,
            artist,
            url: format!("groups/g/{artist}.html"),
            label: label.into(),
            description: format!("{label} <run>"),
        }
    }

    #[test]
    fn the_map_links_each_run_with_a_focusable_tooltip() {
        let names = vec!["Ada".to_string(), "Bo & co".to_string()];
        let svg = style_map(
            "Style map",
            &names,
            &[point(0.0, 0, "one"), point(1.0, 1, "two")],
            "../",
        );
        assert_eq!(
            svg.matches(r#"<a class="pt" href="../groups/g/"#).count(),
            2
        );
        assert!(svg.contains(r#"aria-label="Bo &amp; co, two &lt;run&gt;""#));
        assert!(svg.contains("Bo &amp; co · two"));
        assert_eq!(svg.matches(r#"<g class="tip">"#).count(), 2);
        assert_eq!(
            svg.matches(r#"class="tip-bg""#).count(),
            1,
            "one band background"
        );
        assert!(svg.contains("mk-0") && svg.contains("mk-1"));
        assert!(
            svg.contains("<circle") && svg.contains("<path"),
            "shapes differ by Artist"
        );
        assert!(!svg.contains("style="));
        // Points stay inside the drawing.
        for cap in svg.split("cx=\"").skip(1) {
            let v: f64 = cap.split('"').next().unwrap().parse().unwrap();
            assert!((0.0..=MAP_WIDTH).contains(&v));
        }
    }

    #[test]
    fn markers_stay_distinct_past_eight_artists() {
        let all: std::collections::BTreeSet<(usize, usize)> = (0..24).map(marker).collect();
        assert_eq!(all.len(), 24);
        assert_ne!(marker(0).1, marker(1).1);
    }

    #[test]
    fn the_separation_chart_says_each_row_in_words() {
        let svg = separation_chart(
            "Separation",
            &[
                SeparationRow {
                    label: "Ada".into(),
                    value: Some(0.41),
                    interval: Some([0.35, 0.47]),
                },
                SeparationRow {
                    label: "Bo".into(),
                    value: None,
                    interval: None,
                },
            ],
        );
        assert!(svg.contains("Ada: 0.41 (95% interval 0.35 to 0.47)"));
        assert!(svg.contains("Bo: not enough groups"));
        assert!(svg.contains(r#"class="zero""#));
        assert!(!svg.contains("style="));
    }
}
