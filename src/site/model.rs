//! The page model: what templates see, derived from the runs/ tree by pure functions.
//! URLs here are relative to the site root; templates prefix them with `root` (the way
//! back up from the page being rendered), so the site works under any base path and
//! from `file://`.

use serde::Serialize;

use super::markdown::{plain_excerpt, render_markdown};
use crate::store::{LoadedGroup, RunRecord, StageMeta, Status};

#[derive(Debug, Clone, Serialize)]
pub struct GroupView {
    pub id: String,
    pub short_id: String,
    pub url: String,
    pub prompt_version: String,
    pub prompt_text: String,
    pub prompt_sha256: String,
    pub created_at: String,
    pub created_date: String,
    pub brush_name: String,
    pub brush_model: String,
    pub counts: Counts,
    pub runs: Vec<RunView>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub queued: usize,
    pub generating: usize,
    pub done: usize,
    pub failed: usize,
    pub total: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub artist_slug: String,
    pub artist_name: String,
    pub artist_model: String,
    pub artist_provider: String,
    pub brush_name: String,
    pub status: String,
    pub url: String,
    /// Root-relative URL of the full image, when there is one on disk.
    pub image_url: Option<String>,
    /// Sanitised HTML; the only field templates may mark safe.
    pub statement_html: String,
    pub excerpt: String,
    pub image_prompt: String,
    pub revised_prompt: Option<String>,
    pub error: Option<String>,
    pub warnings: Vec<String>,
    pub cost: Option<String>,
    pub latency: Option<String>,
    pub tokens: Option<String>,
    pub meta_rows: Vec<(String, String)>,
}

pub fn group_url(id: &str) -> String {
    format!("groups/{id}/index.html")
}

pub fn run_url(group_id: &str, slug: &str) -> String {
    format!("groups/{group_id}/{slug}.html")
}

/// Where a run's full image lives in the output.
pub fn image_url(group_id: &str, file: &str) -> String {
    format!("groups/{group_id}/{file}")
}

/// Builds the view of one group. `image_exists` says whether a run's image is on disk.
pub fn group_view(loaded: &LoadedGroup, image_exists: impl Fn(&RunRecord) -> bool) -> GroupView {
    let g = &loaded.group;
    let id = g.run_group_id.to_string();
    let runs: Vec<RunView> = g
        .artists
        .iter()
        .map(|artist| match loaded.run(&artist.slug) {
            Some(run) => run_view(
                &id,
                &artist.name,
                &artist.model,
                &artist.provider,
                &g.brush.name,
                run,
                image_exists(run),
            ),
            None => RunView {
                artist_slug: artist.slug.clone(),
                artist_name: artist.name.clone(),
                artist_model: artist.model.clone(),
                artist_provider: artist.provider.clone(),
                brush_name: g.brush.name.clone(),
                status: "missing".into(),
                url: run_url(&id, &artist.slug),
                image_url: None,
                statement_html: String::new(),
                excerpt: String::new(),
                image_prompt: String::new(),
                revised_prompt: None,
                error: Some("the run file is missing or unreadable; see `chorus check`".into()),
                warnings: Vec::new(),
                cost: None,
                latency: None,
                tokens: None,
                meta_rows: Vec::new(),
            },
        })
        .collect();
    let mut counts = Counts {
        total: g.artists.len(),
        ..Counts::default()
    };
    for run in &loaded.runs {
        match run.status {
            Status::Queued => counts.queued += 1,
            Status::Generating => counts.generating += 1,
            Status::Done => counts.done += 1,
            Status::Failed => counts.failed += 1,
        }
    }
    GroupView {
        short_id: id.chars().take(8).collect(),
        url: group_url(&id),
        prompt_version: g.prompt_version.clone(),
        prompt_text: g.prompt_text.clone(),
        prompt_sha256: g.prompt_sha256.clone(),
        created_at: g
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        created_date: g.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        brush_name: g.brush.name.clone(),
        brush_model: g.brush.model.clone(),
        counts,
        runs,
        id,
    }
}

fn run_view(
    group_id: &str,
    artist_name: &str,
    artist_model: &str,
    artist_provider: &str,
    brush_name: &str,
    run: &RunRecord,
    has_image: bool,
) -> RunView {
    let image_url = run
        .image_file
        .as_ref()
        .filter(|_| has_image)
        .map(|f| image_url(group_id, f));
    let error = match (run.status, &run.error) {
        (_, Some(e)) => Some(e.clone()),
        (Status::Done, None) if !has_image => {
            Some("the image file is missing; see `chorus check`".into())
        }
        _ => None,
    };
    RunView {
        artist_slug: run.artist_slug.clone(),
        artist_name: artist_name.to_string(),
        artist_model: artist_model.to_string(),
        artist_provider: artist_provider.to_string(),
        brush_name: brush_name.to_string(),
        status: run.status.to_string(),
        url: run_url(group_id, &run.artist_slug),
        image_url,
        statement_html: render_markdown(&run.artist_stmt),
        excerpt: plain_excerpt(&run.artist_stmt, 280),
        image_prompt: run.image_prompt.clone(),
        revised_prompt: run.revised_prompt.clone(),
        error,
        warnings: run.meta.warnings.clone(),
        cost: run.cost_usd().map(format_usd),
        latency: run.latency_ms().map(format_ms),
        tokens: run
            .tokens()
            .map(|t| format!("{} in / {} out", t.input, t.output)),
        meta_rows: meta_rows(run),
    }
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

pub fn format_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// Every piece of metadata as label/value rows, stage by stage.
fn meta_rows(run: &RunRecord) -> Vec<(String, String)> {
    let mut rows = vec![
        ("Run id".to_string(), run.run_id.to_string()),
        ("Status".to_string(), run.status.to_string()),
        (
            "Created".to_string(),
            run.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
    ];
    let stages: [(&str, &Option<StageMeta>); 3] = [
        ("Artist", &run.meta.artist),
        ("Brush", &run.meta.brush),
        ("Download", &run.meta.download),
    ];
    for (name, stage) in stages {
        let Some(s) = stage else { continue };
        let mut add = |label: &str, value: String| rows.push((format!("{name} {label}"), value));
        add("status", format!("{:?}", s.status).to_lowercase());
        if let Some(m) = &s.model {
            add(
                "model",
                format!("{} ({})", m, s.provider.clone().unwrap_or_default()),
            );
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
    }
    for w in &run.meta.warnings {
        rows.push(("Warning".to_string(), w.clone()));
    }
    rows
}
