//! The page model: what templates see, derived from the runs/ tree by pure functions.
//! URLs here are relative to the site root; templates prefix them with `root` (the way
//! back up from the page being rendered), so the site works under any base path and
//! from `file://`. Every view is a plain serde struct: add a field, use it in a template.

use serde::{Deserialize, Serialize};

use crate::config::validate_slug;
use crate::site::render::markdown::{plain_excerpt, render_markdown};
use crate::store::{sha256_hex, LoadedGroup, RunRecord, StageMeta, Status};

#[derive(Debug, Clone, Serialize)]
pub struct GroupView {
    pub id: String,
    pub short_id: String,
    pub url: String,
    pub prompt_version: String,
    pub prompt_url: String,
    pub prompt_text: String,
    pub prompt_sha256: String,
    /// The brief's subject (see `config::brief_of`), so groups read apart in headings.
    pub brief: String,
    /// The group's seed, which tells apart groups made from the same prompt.
    pub seed: u64,
    pub created_at: String,
    /// To the second, so groups made in the same minute differ.
    pub created_date: String,
    pub brush_name: String,
    pub brush_model: String,
    pub counts: Counts,
    pub total_cost: Option<String>,
    /// One per Artist of the group, in registry order (the compare grid's columns).
    pub runs: Vec<RunView>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub queued: usize,
    pub generating: usize,
    pub done: usize,
    pub failed: usize,
    /// Listed in group.json but without a readable run file.
    pub missing: usize,
    pub total: usize,
}

/// An image as the page shows it: the full copy plus resized variants for `srcset`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageView {
    /// Root-relative URL of the full image (copied as it is).
    pub url: String,
    pub width: u32,
    pub height: u32,
    /// Smallest first; the full image is not repeated here.
    pub thumbs: Vec<ThumbView>,
    /// SHA-256 of the source bytes; names the thumbnails (see [`thumb_url`]).
    #[serde(skip)]
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThumbView {
    pub url: String,
    pub width: u32,
    pub height: u32,
}

impl ImageView {
    /// The variant a small slot should load first (`src` fallback).
    pub fn smallest_url(&self) -> &str {
        self.thumbs.first().map_or(&self.url, |t| &t.url)
    }
}

/// The extension of a URL's file name (`png` for `groups/x/a.png`), or empty.
pub fn extension(url: &str) -> &str {
    let name = url.rsplit('/').next().unwrap_or(url);
    name.rsplit_once('.').map_or("", |(_, ext)| ext)
}

#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub group_id: String,
    pub artist_slug: String,
    pub artist_name: String,
    pub artist_model: String,
    pub artist_provider: String,
    /// The model id the Artist's reply named (usually a dated snapshot), when it is not
    /// the configured one.
    pub artist_answered: Option<String>,
    pub artist_url: String,
    pub brush_name: String,
    /// queued | generating | done | failed | missing
    pub status: String,
    /// Why a run is not done, in words (never blank for a run that is not done).
    pub reason: Option<String>,
    pub url: String,
    pub image: Option<ImageView>,
    /// Sanitised HTML; the only field templates may mark safe.
    pub statement_html: String,
    pub excerpt: String,
    pub image_prompt: String,
    /// Alt text: the image prompt, or a description when the run has none.
    pub alt: String,
    pub revised_prompt: Option<String>,
    pub warnings: Vec<String>,
    pub cost: Option<String>,
    pub cost_usd: Option<f64>,
    pub latency: Option<String>,
    pub latency_ms: Option<u64>,
    pub tokens: Option<String>,
    pub created_at: String,
    pub meta_rows: Vec<MetaRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetaRow {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ArtistTotals {
    pub runs: usize,
    pub done: usize,
    pub failures: usize,
    pub mean_latency: Option<String>,
    pub total_cost: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnHead {
    pub slug: String,
    pub name: String,
    pub url: String,
    /// The snapshots that answered this column's runs on the page (see
    /// `summary::snapshots`).
    pub snapshots: Vec<String>,
}

/// A path segment from a name found in a file: the name itself when it is a valid slug,
/// otherwise a hash of it, so content never chooses a path.
pub fn path_segment(name: &str) -> String {
    if validate_slug(name).is_ok() {
        name.to_string()
    } else {
        format!("h-{}", &sha256_hex(name.as_bytes())[..16])
    }
}

pub fn group_url(id: &str) -> String {
    format!("groups/{id}/index.html")
}

pub fn run_url(group_id: &str, slug: &str) -> String {
    format!("groups/{group_id}/{}.html", path_segment(slug))
}

pub fn artist_url(slug: &str) -> String {
    format!("artists/{}.html", path_segment(slug))
}

pub fn prompt_url(version: &str) -> String {
    format!("prompts/{}.html", path_segment(version))
}

/// Where a run's full image lives in the output. Every image lives under `media/`, where
/// no page does, and chorus picks the whole name: the slug (which is never a page's name)
/// and `ext`, the format its content was recognised as. So no file from `runs/` can land
/// on a page's name, whatever its record says.
pub fn image_url(group_id: &str, slug: &str, ext: &str) -> String {
    format!("groups/{group_id}/media/{}.{ext}", path_segment(slug))
}

/// Where a resized variant of a run's image lives in the output: named by a hash of the
/// group and the image's content, so no name gives the Artist away (the blind page has
/// copies under names of its own, see `group::blind::BlindKey`). The kinds of name in `media/` cannot meet: a full image's
/// (`<slug>.<ext>`) has no `@` (a slug never holds one), the others start with one.
pub fn thumb_url(group_id: &str, sha256: &str, width: u32) -> String {
    let token = crate::store::votes::blind_token(group_id, sha256);
    format!("groups/{group_id}/media/@{token}-{width}.jpg")
}

/// The run's image file name, if it is a safe name beside the run file
/// (`<slug>.<ext>`); anything else is ignored, so a record cannot point outside its folder.
pub fn safe_image_file(run: &RunRecord) -> Option<&str> {
    let file = run.image_file.as_deref()?;
    let ext = file.strip_prefix(&format!("{}.", run.artist_slug))?;
    let ok = validate_slug(&run.artist_slug).is_ok()
        && !ext.is_empty()
        && ext.chars().all(|c| c.is_ascii_alphanumeric());
    ok.then_some(file)
}

/// Builds the view of one group. `image` gives a run's image view, if it has one on disk.
pub fn group_view(
    loaded: &LoadedGroup,
    image: impl Fn(&RunRecord) -> Option<ImageView>,
) -> GroupView {
    let g = &loaded.group;
    let id = g.run_group_id.to_string();
    let mut counts = Counts {
        total: g.artists.len(),
        ..Counts::default()
    };
    let runs: Vec<RunView> = g
        .artists
        .iter()
        .map(|artist| {
            let base = RunView {
                group_id: id.clone(),
                artist_slug: artist.slug.clone(),
                artist_name: artist.name.clone(),
                artist_model: artist.model.clone(),
                artist_provider: artist.provider.clone(),
                artist_answered: None,
                artist_url: artist_url(&artist.slug),
                brush_name: g.brush.name.clone(),
                status: "missing".into(),
                reason: Some(
                    "the run file is missing or unreadable; run `chorus check` for details".into(),
                ),
                url: run_url(&id, &artist.slug),
                image: None,
                statement_html: String::new(),
                excerpt: String::new(),
                image_prompt: String::new(),
                alt: format!("No image: the run of {} is missing", artist.name),
                revised_prompt: None,
                warnings: Vec::new(),
                cost: None,
                cost_usd: None,
                latency: None,
                latency_ms: None,
                tokens: None,
                created_at: String::new(),
                meta_rows: Vec::new(),
            };
            match loaded.run(&artist.slug) {
                Some(run) => {
                    match run.status {
                        Status::Queued => counts.queued += 1,
                        Status::Generating => counts.generating += 1,
                        Status::Done => counts.done += 1,
                        Status::Failed => counts.failed += 1,
                    }
                    fill_run(base, run, image(run))
                }
                None => {
                    counts.missing += 1;
                    base
                }
            }
        })
        .collect();
    let costs: Vec<f64> = runs.iter().filter_map(|r| r.cost_usd).collect();
    GroupView {
        short_id: id.chars().take(8).collect(),
        url: group_url(&id),
        prompt_version: g.prompt_version.clone(),
        prompt_url: prompt_url(&g.prompt_version),
        prompt_text: g.prompt_text.clone(),
        prompt_sha256: g.prompt_sha256.clone(),
        brief: crate::config::brief_of(&g.prompt_text),
        seed: g.seed,
        created_at: rfc3339(&g.created_at),
        created_date: g.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        brush_name: g.brush.name.clone(),
        brush_model: g.brush.model.clone(),
        counts,
        total_cost: (!costs.is_empty()).then(|| format_usd(costs.iter().sum())),
        runs,
        id,
    }
}

/// A stage's answering model, when it differs from the one asked for.
pub fn answered_model(stage: Option<&StageMeta>) -> Option<String> {
    let s = stage?;
    s.answered_model
        .clone()
        .filter(|answered| Some(answered) != s.model.as_ref())
}

fn fill_run(base: RunView, run: &RunRecord, image: Option<ImageView>) -> RunView {
    let reason = match (run.status, &run.error) {
        (_, Some(e)) => Some(e.clone()),
        (Status::Done, None) if image.is_none() => {
            Some("the image file is missing or unreadable; run `chorus check` for details".into())
        }
        (Status::Done, None) => None,
        (Status::Failed, None) => Some("failed without a recorded reason".into()),
        (Status::Queued, None) => {
            Some("queued: not started yet (run `chorus generate` again to resume)".into())
        }
        (Status::Generating, None) => {
            Some("unfinished: still generating, or interrupted before it finished".into())
        }
    };
    let alt = if run.image_prompt.trim().is_empty() {
        format!("Image by {} (no image prompt recorded)", base.artist_name)
    } else {
        run.image_prompt.clone()
    };
    RunView {
        status: run.status.to_string(),
        reason,
        image,
        statement_html: render_markdown(&run.artist_stmt),
        excerpt: plain_excerpt(&run.artist_stmt, 280),
        image_prompt: run.image_prompt.clone(),
        alt,
        revised_prompt: run.revised_prompt.clone(),
        warnings: run.meta.warnings.clone(),
        cost: run.cost_usd().map(format_usd),
        cost_usd: run.cost_usd(),
        latency: run.latency_ms().map(format_ms),
        latency_ms: run.latency_ms(),
        tokens: run
            .tokens()
            .map(|t| format!("{} in / {} out", t.input, t.output)),
        created_at: rfc3339(&run.created_at),
        meta_rows: meta_rows(run),
        artist_answered: answered_model(run.meta.artist.as_ref()),
        ..base
    }
}

/// Blank-line-separated paragraphs with the prompt file's soft wraps joined, so the text
/// reflows to the screen instead of wrapping twice. A line break stays (as `\n`, shown by
/// `white-space: pre-line`) after a short line and around structure: markers (`===`),
/// list items, headings and quotes.
pub fn paragraphs(text: &str) -> Vec<String> {
    fn structural(line: &str) -> bool {
        let t = line.trim_start();
        let numbered = t
            .split_once(". ")
            .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        numbered
            || ["===", "-", "*", "+", "#", ">", "|"]
                .iter()
                .any(|m| t.starts_with(m))
    }
    text.replace("\r\n", "\n")
        .split("\n\n")
        .map(|p| {
            let lines: Vec<&str> = p.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            let mut out = String::new();
            for (k, line) in lines.iter().enumerate() {
                if k > 0 {
                    let prev = lines[k - 1];
                    let hard = prev.chars().count() < 50 || structural(prev) || structural(line);
                    out.push(if hard { '\n' } else { ' ' });
                }
                out.push_str(line);
            }
            out
        })
        .filter(|p| !p.is_empty())
        .collect()
}

pub fn rfc3339(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn format_usd(usd: f64) -> String {
    if usd == 0.0 {
        "$0".into()
    } else if usd < 0.01 {
        format!("${usd:.4}")
    } else {
        format!("${usd:.2}")
    }
}

/// A count as people read it: "12,507".
pub fn format_count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn format_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// Every piece of metadata as label/value rows, stage by stage.
fn meta_rows(run: &RunRecord) -> Vec<MetaRow> {
    let mut rows: Vec<MetaRow> = Vec::new();
    let mut push = |label: String, value: String| rows.push(MetaRow { label, value });
    push("Run id".into(), run.run_id.to_string());
    push("Status".into(), run.status.to_string());
    push("Prompt version".into(), run.prompt_version.clone());
    push("Created".into(), rfc3339(&run.created_at));
    if let Some(u) = &run.updated_at {
        push("Updated".into(), rfc3339(u));
    }
    if let Some(c) = run.cost_usd() {
        push("Total cost".into(), format_usd(c));
    }
    if let Some(ms) = run.latency_ms() {
        push("Total latency".into(), format_ms(ms));
    }
    let stages: [(&str, &Option<StageMeta>); 3] = [
        ("Artist", &run.meta.artist),
        ("Brush", &run.meta.brush),
        ("Download", &run.meta.download),
    ];
    for (name, stage) in stages {
        let Some(s) = stage else { continue };
        let mut add = |label: &str, value: String| push(format!("{name} {label}"), value);
        add("status", format!("{:?}", s.status).to_lowercase());
        if let Some(m) = &s.model {
            add(
                "model",
                format!("{} ({})", m, s.provider.clone().unwrap_or_default()),
            );
        }
        if let Some(answered) = &s.answered_model {
            add("answered as", answered.clone());
        }
        for (k, v) in &s.params {
            add(k, v.to_string().trim_matches('"').to_string());
        }
        add("latency", format_ms(s.latency_ms));
        if let Some(t) = s.tokens {
            add("tokens", format!("{} in / {} out", t.input, t.output));
        }
        if let Some(c) = s.cost {
            add(
                "cost",
                format!(
                    "{} ({})",
                    format_usd(c.usd),
                    format!("{:?}", c.source).to_lowercase()
                ),
            );
        }
        add("attempts", s.attempts.to_string());
        for r in &s.retries {
            add("retry", r.clone());
        }
        if let Some(id) = &s.request_id {
            add("request id", id.clone());
        }
        if let Some(e) = &s.error {
            add("error", e.clone());
        }
        add("finished", rfc3339(&s.finished_at));
    }
    for w in &run.meta.warnings {
        push("Warning".into(), w.clone());
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_slugs_never_become_paths() {
        assert_eq!(path_segment("v2-neutral"), "v2-neutral");
        let odd = path_segment("../../etc/passwd");
        assert!(
            odd.starts_with("h-") && !odd.contains('/') && !odd.contains(".."),
            "{odd}"
        );
        assert_eq!(
            prompt_url("A B"),
            format!("prompts/{}.html", path_segment("A B"))
        );
    }

    #[test]
    fn prompt_paragraphs_join_soft_wraps_and_keep_structure() {
        let text = "You are an artist with a voice of your own. Imagine one original\nartwork on the theme \"dawn\".\n\n===ARTIST STATEMENT===\nA short statement.\n\n- one\n- two\n";
        assert_eq!(
            paragraphs(text),
            vec![
                "You are an artist with a voice of your own. Imagine one original artwork on the theme \"dawn\".",
                "===ARTIST STATEMENT===\nA short statement.",
                "- one\n- two",
            ]
        );
    }

    #[test]
    fn full_images_and_thumbnails_never_share_a_name() {
        let g = "g";
        let sha = "0".repeat(64);
        let thumb = thumb_url(g, &sha, 400);
        let token = thumb.rsplit('/').next().unwrap().trim_start_matches('@');
        let slug = token.trim_end_matches(".jpg");
        assert_ne!(image_url(g, slug, "jpg"), thumb);
        assert!(!image_url(g, "a", "png").contains('@'));
    }

    #[test]
    fn money_and_time_read_well() {
        assert_eq!(format_usd(0.0), "$0");
        assert_eq!(format_usd(0.0012), "$0.0012");
        assert_eq!(format_usd(1.234), "$1.23");
        assert_eq!(format_ms(950), "950 ms");
        assert_eq!(format_count(7), "7");
        assert_eq!(format_count(963), "963");
        assert_eq!(format_count(12_507), "12,507");
        assert_eq!(format_count(1_000_000), "1,000,000");
        assert_eq!(format_ms(1500), "1.5 s");
    }
}
