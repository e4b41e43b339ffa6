//! The Artists the listings show, in order, each under the name the names rule gives it
//! (`render::names`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::site::group::summary::GroupSummary;
use crate::site::listings::leaderboard;
use crate::site::render::model::{self, ArtistTotals};
use crate::site::render::names::Names;

/// An Artist as the listings show it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct ArtistListing {
    pub(super) slug: String,
    pub(super) name: String,
    pub(super) model: String,
    pub(super) provider: String,
    pub(super) url: String,
    /// Only on the newest page and the Artists index, where it changes with every group.
    pub(super) totals: Option<ArtistTotals>,
    /// Its row of the overall leaderboard, on its newest page, when it has votes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) rating: Option<leaderboard::Row>,
}

/// Artists in the order of the newest group, then those seen only in older groups; each
/// named by the rule in `render::names`.
pub(super) fn artist_order(newest_first: &[&GroupSummary], names: &Names) -> Vec<ArtistListing> {
    let mut seen: BTreeMap<&str, ()> = BTreeMap::new();
    let mut out = Vec::new();
    for g in newest_first {
        for r in &g.runs {
            if seen.insert(&r.slug, ()).is_none() {
                out.push(ArtistListing {
                    slug: r.slug.clone(),
                    name: names.across_groups(&r.slug, &r.name),
                    model: r.model.clone(),
                    provider: r.provider.clone(),
                    url: model::artist_url(&r.slug),
                    totals: None,
                    rating: None,
                });
            }
        }
    }
    out
}
