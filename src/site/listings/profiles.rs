//! What the newest listing pages show across a whole history: an Artist's totals (every
//! run) and profile, and a prompt version's matrices, both made from the newest
//! [`PROFILE_GROUPS`] groups, whose analysis numbers are read from the cache once per
//! build. Nothing here renders a page.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rayon::prelude::*;

use crate::site::analysis::{self, GroupNumbers, RunStats};
use crate::site::group::read_numbers;
use crate::site::group::summary::GroupSummary;
use crate::site::render::model::{self, format_ms, format_usd, ArtistTotals};
use crate::site::SiteError;

/// An Artist's totals over `newest_first` (the order the cost is summed in, so the figure
/// never moves with how the groups were listed).
pub(in crate::site) fn totals<'a>(
    newest_first: impl Iterator<Item = &'a GroupSummary>,
    slug: &str,
) -> ArtistTotals {
    let mut t = ArtistTotals::default();
    let (mut latency_sum, mut latency_n, mut cost) = (0u64, 0u64, None::<f64>);
    for r in newest_first.flat_map(|g| g.runs.iter().filter(|r| r.slug == slug)) {
        t.runs += 1;
        match r.status.as_str() {
            "done" => t.done += 1,
            "failed" | "missing" => t.failures += 1,
            _ => {}
        }
        if let Some(ms) = r.latency_ms {
            latency_sum += ms;
            latency_n += 1;
        }
        if let Some(c) = r.cost_usd {
            *cost.get_or_insert(0.0) += c;
        }
    }
    t.mean_latency = (latency_n > 0).then(|| format_ms(latency_sum / latency_n));
    t.total_cost = cost.map(format_usd);
    t
}

/// At most this many of an Artist's (or a prompt version's) newest groups make its
/// profile (or its matrices). Their numbers are read from the cache on every build, so
/// this bounds what a new group costs however long the history; the page says so.
pub const PROFILE_GROUPS: usize = 1000;

/// The newest `cap` (in use, [`PROFILE_GROUPS`]) of `oldest_first` that have analysis
/// numbers, newest first, and how many have them in all.
pub(in crate::site) fn newest_with_numbers<'a>(
    oldest_first: &[&'a GroupSummary],
    cap: usize,
) -> (Vec<&'a GroupSummary>, usize) {
    let with: Vec<&GroupSummary> = oldest_first
        .iter()
        .rev()
        .copied()
        .filter(|g| g.has_numbers)
        .collect();
    let total = with.len();
    (with.into_iter().take(cap).collect(), total)
}

/// The stored numbers of these groups (each one whose summary says it has them), read in
/// parallel. A missing file means the cache was tampered with: the build starts again
/// from nothing rather than leave the group out.
pub(in crate::site) fn read_numbers_of<'a>(
    cards_dir: &Path,
    ids: BTreeSet<&'a str>,
) -> Result<BTreeMap<&'a str, GroupNumbers>, SiteError> {
    ids.into_par_iter()
        .map(|id| {
            read_numbers(cards_dir, id)
                .map(|n| (id, n))
                .ok_or_else(|| SiteError::CacheLacks(format!("group {id}'s analysis numbers")))
        })
        .collect()
}

/// The numbers of `groups` as read, in their order.
pub(in crate::site) fn numbers_of<'a>(
    numbers: &'a BTreeMap<&str, GroupNumbers>,
    groups: &[&GroupSummary],
) -> Vec<&'a GroupNumbers> {
    groups
        .iter()
        .filter_map(|g| numbers.get(g.id.as_str()))
        .collect()
}

/// The Artist's profile across its groups (oldest first in `mine`): the numbers of the
/// newest [`PROFILE_GROUPS`] (`pick`), every run for cost, latency and failures.
pub(in crate::site) fn profile_of(
    numbers: &BTreeMap<&str, GroupNumbers>,
    pick: &(Vec<&GroupSummary>, usize),
    mine: &[&GroupSummary],
    slug: &str,
) -> Option<analysis::ArtistAnalysis> {
    let refs = numbers_of(numbers, &pick.0);
    if refs.is_empty() {
        return None;
    }
    let runs: Vec<RunStats> = mine
        .iter()
        .rev()
        .flat_map(|g| g.runs.iter().filter(|r| r.slug == slug))
        .filter(|r| r.status != "missing")
        .map(|r| RunStats {
            done: r.status == "done",
            failed: r.status == "failed",
            cost_usd: r.cost_usd,
            latency_ms: r.latency_ms,
        })
        .collect();
    let mut profile = analysis::artist_analysis(slug, &refs, &runs);
    if refs.len() < pick.1 {
        profile.scope = Some(format!(
            "Words, palette and similarities from its newest {} of {} groups; cost, latency and failures from all of them.",
            model::format_count(refs.len()),
            model::format_count(pick.1)
        ));
    }
    Some(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_read_the_numbers_of_the_newest_groups_only() {
        let cards = tempfile::tempdir().unwrap();
        let numbers = |k: usize| GroupNumbers {
            slugs: vec![format!("a{k}")],
            names: Vec::new(),
            statement_similarity: Vec::new(),
            image_similarity: Vec::new(),
            palette_distance: Vec::new(),
            distinctive: Vec::new(),
            palettes: Vec::new(),
        };
        // Oldest first; the fourth group has no numbers (no analysis when it was built).
        let groups: Vec<GroupSummary> = (0..6)
            .map(|k| {
                let id = format!("g{k}");
                let has_numbers = k != 3;
                if has_numbers {
                    let path = crate::site::group::numbers_path(cards.path(), &id);
                    std::fs::write(path, bincode::serialize(&numbers(k)).unwrap()).unwrap();
                }
                GroupSummary {
                    id,
                    order: format!("{k}"),
                    created_at: String::new(),
                    created_date: String::new(),
                    prompt_version: "v1".into(),
                    prompt_sha256: String::new(),
                    brush_name: String::new(),
                    counts: Default::default(),
                    runs: Vec::new(),
                    has_numbers,
                    votes: Vec::new(),
                    digest: String::new(),
                }
            })
            .collect();
        let refs: Vec<&GroupSummary> = groups.iter().collect();
        let (pick, total) = newest_with_numbers(&refs, 3);
        assert_eq!(total, 5);
        let ids: Vec<&str> = pick.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids, ["g5", "g4", "g2"]);
        // Read once, then handed out in the pick's order; nothing past the cap is read.
        let numbers = read_numbers_of(cards.path(), ids.iter().copied().collect()).unwrap();
        assert_eq!(numbers.len(), 3);
        let newest = numbers_of(&numbers, &pick);
        let slugs: Vec<&str> = newest.iter().map(|n| n.slugs[0].as_str()).collect();
        assert_eq!(
            slugs,
            ["a5", "a4", "a2"],
            "newest first, skipping the one without"
        );
    }
}
