//! Machine-readable files beside the HTML: `runs.json` (every run), `atom.xml` (groups)
//! and `sitemap.xml`. Built from the page model only; absolute URLs use `base_url`, and
//! timestamps come from the runs, never from the clock, so builds are reproducible.

use serde::Serialize;

use super::model::SiteModel;
use super::theme::escape_html;

/// (root-relative path, bytes) of every export.
pub fn all(m: &SiteModel, title: &str, base_url: &str) -> Vec<(String, Vec<u8>)> {
    vec![
        ("runs.json".into(), runs_json(m)),
        // Control characters from run files are invalid in XML even when escaped.
        (
            "atom.xml".into(),
            super::markdown::scrub_controls(&atom(m, title, base_url))
                .into_owned()
                .into_bytes(),
        ),
        ("sitemap.xml".into(), sitemap(m, base_url).into_bytes()),
    ]
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunEntry<'a> {
    run_group_id: &'a str,
    artist_slug: &'a str,
    artist_name: &'a str,
    brush_name: &'a str,
    prompt_version: &'a str,
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    created_at: &'a str,
    /// Root-relative URLs.
    page: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    image_prompt: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ms: Option<u64>,
}

fn runs_json(m: &SiteModel) -> Vec<u8> {
    let runs: Vec<RunEntry> = m
        .groups
        .iter()
        .flat_map(|g| {
            g.runs.iter().map(move |r| RunEntry {
                run_group_id: &g.id,
                artist_slug: &r.artist_slug,
                artist_name: &r.artist_name,
                brush_name: &r.brush_name,
                prompt_version: &g.prompt_version,
                status: &r.status,
                reason: r.reason.as_deref(),
                created_at: if r.created_at.is_empty() {
                    &g.created_at
                } else {
                    &r.created_at
                },
                page: &r.url,
                image: r.image.as_ref().map(|i| i.url.as_str()),
                image_prompt: &r.image_prompt,
                cost_usd: r.cost_usd,
                latency_ms: r.latency_ms,
            })
        })
        .collect();
    let mut out =
        serde_json::to_vec_pretty(&serde_json::json!({ "schemaVersion": 1, "runs": runs }))
            .unwrap_or_default();
    out.push(b'\n');
    out
}

fn atom(m: &SiteModel, title: &str, base: &str) -> String {
    let updated = m
        .groups
        .first()
        .map_or("1970-01-01T00:00:00Z", |g| g.created_at.as_str());
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    s += &format!("<title>{}</title>\n", escape_html(title));
    s += &format!("<id>{}</id>\n", escape_html(&format!("{base}atom.xml")));
    s += &format!(
        "<link rel=\"self\" href=\"{}\"/>\n",
        escape_html(&format!("{base}atom.xml"))
    );
    s += &format!(
        "<link href=\"{}\"/>\n",
        escape_html(&format!("{base}index.html"))
    );
    s += &format!("<updated>{updated}</updated>\n<author><name>chorus</name></author>\n");
    for g in &m.groups {
        let names: Vec<&str> = g.runs.iter().map(|r| r.artist_name.as_str()).collect();
        let summary = format!(
            "Prompt {}: {} Artists ({}) painted by {}; {} done, {} failed.",
            g.prompt_version,
            g.runs.len(),
            names.join(", "),
            g.brush_name,
            g.counts.done,
            g.counts.failed
        );
        s += "<entry>\n";
        s += &format!(
            "<title>{}</title>\n",
            escape_html(&format!("{} · {}", g.prompt_version, g.created_date))
        );
        s += &format!("<id>urn:uuid:{}</id>\n", g.id);
        s += &format!(
            "<link href=\"{}\"/>\n",
            escape_html(&format!("{base}{}", g.url))
        );
        s += &format!("<updated>{}</updated>\n", g.created_at);
        s += &format!("<summary>{}</summary>\n", escape_html(&summary));
        s += "</entry>\n";
    }
    s += "</feed>\n";
    s
}

fn sitemap(m: &SiteModel, base: &str) -> String {
    let mut urls: Vec<String> = vec![String::new(), "artists/".into(), "prompts/".into()];
    for g in &m.groups {
        urls.push(g.url.trim_end_matches("index.html").to_string());
        urls.extend(g.runs.iter().map(|r| r.url.clone()));
    }
    urls.extend(m.artists.iter().map(|a| a.url.clone()));
    urls.extend(m.prompts.iter().map(|p| p.url.clone()));
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for u in urls {
        s += &format!(
            "<url><loc>{}</loc></url>\n",
            escape_html(&format!("{base}{u}"))
        );
    }
    s += "</urlset>\n";
    s
}
