//! Machine-readable files beside the HTML, split so none grows with the history:
//! `groups/<id>/runs.json` (one group's runs, written by the group's build), `runs.json`
//! (a small index of the groups), `atom.xml` (the newest groups) and `sitemap.xml` (a
//! sitemap index over `sitemaps/<n>.xml` files of at most 50,000 URLs). Built from the
//! group view or the summaries only; absolute URLs use `base_url`, and timestamps come
//! from the runs, never from the clock, so builds are reproducible. docs/exports.md
//! describes the formats.

use serde::Serialize;

use crate::site::group::summary::GroupSummary;
use crate::site::render::model::{self, GroupView};
use crate::untrusted::escape_html;

/// How many groups `atom.xml` carries, newest first.
pub const FEED_GROUPS: usize = 50;
/// The sitemap protocol's limit of URLs per file.
pub const SITEMAP_URLS: usize = 50_000;
/// The `schemaVersion` of `runs.json` and `groups/<id>/runs.json`. 2: split per group.
pub const RUNS_SCHEMA: u32 = 2;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunEntry<'a> {
    run_group_id: &'a str,
    artist_slug: &'a str,
    artist_name: &'a str,
    artist_model: &'a str,
    /// The snapshot that answered, when the reply named another id than the configured one.
    #[serde(skip_serializing_if = "Option::is_none")]
    answered_model: Option<&'a str>,
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

pub fn group_runs_path(group_id: &str) -> String {
    format!("groups/{group_id}/runs.json")
}

fn pretty(value: &serde_json::Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).unwrap_or_default();
    out.push(b'\n');
    out
}

/// `groups/<id>/runs.json`: every run of one group.
pub fn group_runs_json(g: &GroupView) -> Vec<u8> {
    let runs: Vec<RunEntry> = g
        .runs
        .iter()
        .map(|r| RunEntry {
            run_group_id: &g.id,
            artist_slug: &r.artist_slug,
            artist_name: &r.artist_name,
            artist_model: &r.artist_model,
            answered_model: r.artist_answered.as_deref(),
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
        .collect();
    pretty(&serde_json::json!({ "schemaVersion": RUNS_SCHEMA, "runs": runs }))
}

/// `runs.json`: one line per group, newest first, pointing at its own `runs.json`.
pub fn runs_index(groups: &[&GroupSummary]) -> Vec<u8> {
    let entries: Vec<serde_json::Value> = groups
        .iter()
        .map(|g| {
            serde_json::json!({
                "runGroupId": g.id,
                "promptVersion": g.prompt_version,
                "createdAt": g.created_at,
                "runs": g.runs.len(),
                "done": g.counts.done,
                "page": model::group_url(&g.id),
                "runsUrl": group_runs_path(&g.id),
            })
        })
        .collect();
    pretty(&serde_json::json!({ "schemaVersion": RUNS_SCHEMA, "groups": entries }))
}

/// `atom.xml`: the newest [`FEED_GROUPS`] groups.
pub fn atom(groups: &[&GroupSummary], title: &str, base: &str) -> Vec<u8> {
    let updated = groups
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
    for g in groups.iter().take(FEED_GROUPS) {
        let names: Vec<&str> = g.runs.iter().map(|r| r.name.as_str()).collect();
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
            escape_html(&format!("{base}{}", model::group_url(&g.id)))
        );
        s += &format!("<updated>{}</updated>\n", g.created_at);
        s += &format!("<summary>{}</summary>\n", escape_html(&summary));
        s += "</entry>\n";
    }
    s += "</feed>\n";
    // Control characters from run files are invalid in XML even when escaped.
    crate::site::render::markdown::scrub_controls(&s)
        .into_owned()
        .into_bytes()
}

/// Every page's root-relative URL for the sitemap: groups oldest first (so the earlier
/// files stay stable as the history grows), then the listing pages.
pub fn sitemap_urls(groups_newest_first: &[&GroupSummary], listings: &[String]) -> Vec<String> {
    let mut urls = Vec::new();
    for g in groups_newest_first.iter().rev() {
        urls.push(format!("groups/{}/", g.id));
        urls.extend(g.runs.iter().map(|r| model::run_url(&g.id, &r.slug)));
    }
    urls.extend(
        listings
            .iter()
            .map(|u| u.trim_end_matches("index.html").to_string()),
    );
    urls
}

/// `sitemap.xml` as a sitemap index, and `sitemaps/<n>.xml` files of at most `limit` URLs.
pub fn sitemaps(urls: &[String], base: &str, limit: usize) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut index = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for (n, chunk) in urls.chunks(limit.max(1)).enumerate() {
        let path = format!("sitemaps/{}.xml", n + 1);
        let mut s = String::from(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
        );
        for u in chunk {
            s += &format!(
                "<url><loc>{}</loc></url>\n",
                escape_html(&format!("{base}{u}"))
            );
        }
        s += "</urlset>\n";
        index += &format!(
            "<sitemap><loc>{}</loc></sitemap>\n",
            escape_html(&format!("{base}{path}"))
        );
        files.push((path, s.into_bytes()));
    }
    index += "</sitemapindex>\n";
    files.push(("sitemap.xml".into(), index.into_bytes()));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sitemap_is_an_index_of_files_within_the_limit() {
        let urls: Vec<String> = (0..7).map(|i| format!("p{i}.html")).collect();
        let files = sitemaps(&urls, "https://x.example/g/", 3);
        let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "sitemaps/1.xml",
                "sitemaps/2.xml",
                "sitemaps/3.xml",
                "sitemap.xml"
            ]
        );
        let text = |i: usize| String::from_utf8(files[i].1.clone()).unwrap();
        assert_eq!(text(0).matches("<url>").count(), 3);
        assert_eq!(text(2).matches("<url>").count(), 1);
        assert!(text(2).contains("<loc>https://x.example/g/p6.html</loc>"));
        let index = text(3);
        assert!(index.starts_with("<?xml") && index.contains("<sitemapindex"));
        assert_eq!(index.matches("<sitemap>").count(), 3);
        assert!(index.contains("<loc>https://x.example/g/sitemaps/2.xml</loc>"));
        // The protocol's own limit is what the build uses.
        assert_eq!(SITEMAP_URLS, 50_000);
    }
}
