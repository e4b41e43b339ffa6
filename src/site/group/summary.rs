//! What the listings know of a group once it is built: a small [`GroupSummary`] kept in
//! the manifest for every group (counts, Artists, votes), and a
//! [`GroupCard`] (what an index, Artist or prompt page shows of it) kept in the cache and
//! read only for the pages being rendered. Both are plain data, made by `group` and read by
//! `listings`; nothing here touches files.

use serde::{Deserialize, Serialize};

use crate::site::analysis::ratings::VoteTally;
use crate::site::render::model::{Counts, GroupView, ImageView};

/// The part of a built group every listing and export needs, for all groups at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub id: String,
    /// RFC 3339 to the nanosecond, so that with `id` it orders groups as the runs do.
    pub order: String,
    /// RFC 3339 to the second, as pages and feeds show it.
    pub created_at: String,
    pub created_date: String,
    pub prompt_version: String,
    pub prompt_sha256: String,
    pub brush_name: String,
    pub counts: Counts,
    /// One per Artist of the group, in its order.
    pub runs: Vec<RunBrief>,
    /// Whether the build left the difference views' raw numbers (for Artist profiles and
    /// prompt matrices) beside the group's card: they are read only for the newest groups
    /// a profile covers, not kept here for every group.
    pub has_numbers: bool,
    /// The group's blind votes as tallies by Artist slug (see `ratings`). Never skipped
    /// when empty: the manifest's bincode has no field names, so a skipped field would
    /// misread every field after it (`manifest`'s tests round-trip a summary).
    #[serde(default)]
    pub votes: Vec<VoteTally>,
    /// SHA-256 of the group's card: equal digests mean a listing shows it the same.
    pub digest: String,
}

/// One run as totals, profiles and the sitemap need it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunBrief {
    pub slug: String,
    pub name: String,
    pub model: String,
    pub provider: String,
    /// queued | generating | done | failed | missing
    pub status: String,
    pub cost_usd: Option<f64>,
    pub latency_ms: Option<u64>,
}

impl GroupSummary {
    /// Newest first, ties broken by id: the order of groups everywhere.
    pub fn newest_first(a: &GroupSummary, b: &GroupSummary) -> std::cmp::Ordering {
        (&b.order, &b.id).cmp(&(&a.order, &a.id))
    }

    pub fn has_artist(&self, slug: &str) -> bool {
        self.runs.iter().any(|r| r.slug == slug)
    }
}

/// A group as a listing shows it: the group view without statements and metadata. The
/// field names are the group view's, so listing templates read like the group page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupCard {
    pub id: String,
    pub short_id: String,
    pub url: String,
    pub prompt_version: String,
    pub prompt_url: String,
    pub created_at: String,
    pub created_date: String,
    /// The brief's subject and the seed tell apart groups of one prompt version.
    #[serde(default)]
    pub brief: String,
    #[serde(default)]
    pub seed: u64,
    pub brush_name: String,
    pub brush_model: String,
    pub counts: Counts,
    pub total_cost: Option<String>,
    pub runs: Vec<RunCard>,
}

/// A run as a listing shows it: a thumbnail, a status and a short excerpt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunCard {
    pub artist_slug: String,
    pub artist_name: String,
    pub artist_url: String,
    pub brush_name: String,
    pub status: String,
    pub reason: Option<String>,
    pub url: String,
    pub image: Option<ImageView>,
    pub alt: String,
    pub excerpt: String,
    pub cost: Option<String>,
    pub latency: Option<String>,
    /// The snapshot that answered, when not the configured id (see `RunView`).
    #[serde(default)]
    pub answered: Option<String>,
}

/// The distinct snapshots that answered these runs, sorted: more than one means the
/// runs of one Artist compared here came from different model versions.
pub fn snapshots<'a>(runs: impl IntoIterator<Item = &'a RunCard>) -> Vec<String> {
    let set: std::collections::BTreeSet<&String> = runs
        .into_iter()
        .filter_map(|r| r.answered.as_ref())
        .collect();
    set.into_iter().cloned().collect()
}

impl GroupCard {
    pub fn of(g: &GroupView) -> GroupCard {
        GroupCard {
            id: g.id.clone(),
            short_id: g.short_id.clone(),
            url: g.url.clone(),
            prompt_version: g.prompt_version.clone(),
            prompt_url: g.prompt_url.clone(),
            created_at: g.created_at.clone(),
            created_date: g.created_date.clone(),
            brief: g.brief.clone(),
            seed: g.seed,
            brush_name: g.brush_name.clone(),
            brush_model: g.brush_model.clone(),
            counts: g.counts.clone(),
            total_cost: g.total_cost.clone(),
            runs: g
                .runs
                .iter()
                .map(|r| RunCard {
                    artist_slug: r.artist_slug.clone(),
                    artist_name: r.artist_name.clone(),
                    artist_url: r.artist_url.clone(),
                    brush_name: r.brush_name.clone(),
                    status: r.status.clone(),
                    reason: r.reason.clone(),
                    url: r.url.clone(),
                    image: r.image.clone(),
                    alt: r.alt.clone(),
                    excerpt: r.excerpt.clone(),
                    cost: r.cost.clone(),
                    latency: r.latency.clone(),
                    answered: r.artist_answered.clone(),
                })
                .collect(),
        }
    }

    pub fn run(&self, slug: &str) -> Option<&RunCard> {
        self.runs.iter().find(|r| r.artist_slug == slug)
    }
}
