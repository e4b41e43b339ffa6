//! Which listing pages there are: one job per page of the index (newest and oldest
//! first), of each Artist and of each prompt version, each with what its page shows.
//! `pages` renders them.

use std::collections::{BTreeMap, BTreeSet};

use crate::site::analysis;
use crate::site::engine::manifest::Manifest;
use crate::site::group::summary::GroupSummary;
use crate::site::listings::artists::ArtistListing;
use crate::site::listings::pager::{page_key, paginate};
use crate::site::listings::pages::{Filters, Job, ListingContext, OLDEST_FIRST};
use crate::site::listings::profiles::{numbers_of, totals};
use crate::site::listings::{leaderboard, voice};
use crate::site::render::model;

/// The index pages, newest first and oldest first; the newest carries the problems of
/// runs/ and the filters.
pub(super) fn index_jobs<'a>(
    cx: &ListingContext,
    oldest_first: &[&'a GroupSummary],
    problems: &'a [String],
    filters: &Filters,
) -> Vec<Job<'a>> {
    let mut jobs = Vec::new();
    for slot in paginate(oldest_first.len(), cx.per_page, "index.html", |k| {
        format!("page/{k}.html")
    }) {
        let newest = slot.pager.newer.is_none();
        let items: Vec<&GroupSummary> = oldest_first[slot.items.clone()].to_vec();
        let key = page_key("index", &slot, &items, "");
        jobs.push(Job::Index {
            slot,
            items,
            problems: newest.then_some(problems),
            filters: newest.then(|| filters.clone()),
            key,
        });
    }
    // The same pages oldest first, under oldest/: the last one changes with a new group.
    let pages = oldest_first.len().div_ceil(cx.per_page.max(1)).max(1);
    for mut slot in paginate(
        oldest_first.len(),
        cx.per_page,
        &format!("{OLDEST_FIRST}/{pages}.html"),
        |k| format!("{OLDEST_FIRST}/{k}.html"),
    ) {
        slot.pager.ascending = true;
        let items: Vec<&GroupSummary> = oldest_first[slot.items.clone()].to_vec();
        let key = page_key("index-ascending", &slot, &items, "");
        jobs.push(Job::Index {
            slot,
            items,
            problems: None,
            filters: None,
            key,
        });
    }
    jobs
}

/// Each Artist's pages; the newest carries its totals, rating, profile and voice.
pub(super) fn artist_jobs<'a>(
    cx: &ListingContext,
    artists: &[ArtistListing],
    all_mine: Vec<Vec<&'a GroupSummary>>,
    mut profiles: Vec<Option<Box<analysis::ArtistAnalysis>>>,
    boards: &[leaderboard::Board],
    voices: &BTreeMap<String, voice::VersionVoice>,
) -> Vec<Job<'a>> {
    let mut jobs = Vec::new();
    for ((a, mine), profile) in artists.iter().zip(all_mine).zip(&mut profiles) {
        let seg = model::path_segment(&a.slug);
        for slot in paginate(mine.len(), cx.per_page, &a.url, |k| {
            format!("artists/{seg}/{k}.html")
        }) {
            let items = mine[slot.items.clone()].to_vec();
            let newest = slot.pager.newer.is_none();
            let extra = format!("{}|{}|{}", a.name, a.model, a.provider);
            let key = page_key("artist", &slot, &items, &extra);
            let (listing, profile, voice) = if newest {
                let mut full = a.clone();
                full.totals = Some(totals(mine.iter().rev().copied(), &a.slug));
                full.rating = boards
                    .first()
                    .and_then(|b| b.rows.iter().find(|r| r.slug == a.slug))
                    .cloned();
                (full, profile.take(), voice::artist_view(&a.slug, voices))
            } else {
                (a.clone(), None, None)
            };
            jobs.push(Job::Artist {
                slot,
                items,
                artist: listing,
                profile,
                voice,
                key,
            });
        }
    }
    jobs
}

/// What the prompt versions' pages are made from.
pub(super) struct Versions<'a, 'g> {
    pub names: &'a [&'g str],
    /// Each version's groups, oldest first.
    pub mine: Vec<Vec<&'g GroupSummary>>,
    pub picks: &'a [(Vec<&'g GroupSummary>, usize)],
    pub numbers: &'a BTreeMap<&'g str, analysis::GroupNumbers>,
    pub voices: &'a BTreeMap<String, voice::VersionVoice>,
    pub cross_names: &'a BTreeMap<String, String>,
}

/// Each prompt version's pages, newest first by its newest group.
pub(super) fn prompt_jobs<'a>(
    cx: &ListingContext,
    manifest: &Manifest,
    v: Versions<'a, 'a>,
) -> Vec<Job<'a>> {
    let Versions {
        names: versions,
        mine: version_mine,
        picks: version_picks,
        numbers,
        voices,
        cross_names,
    } = v;
    let mut jobs = Vec::new();
    for ((v, mine), pick) in versions.iter().zip(version_mine).zip(version_picks) {
        let url = model::prompt_url(v);
        let seg = model::path_segment(v);
        for slot in paginate(mine.len(), cx.per_page, &url, |k| {
            format!("prompts/{seg}/{k}.html")
        }) {
            let items = mine[slot.items.clone()].to_vec();
            let newest = slot.pager.newer.is_none();
            // The text shown: the newest group's of all (newest page) or of this page.
            let over: &[&GroupSummary] = if newest { &mine } else { &items };
            let mut hashes: Vec<&str> = over.iter().map(|g| g.prompt_sha256.as_str()).collect();
            let sha = hashes.last().copied().unwrap_or_default().to_string();
            hashes.sort_unstable();
            hashes.dedup();
            // The columns' names follow the names rule, which groups off this page can change.
            let heads: BTreeSet<&str> = items
                .iter()
                .flat_map(|g| g.runs.iter().map(|r| r.slug.as_str()))
                .collect();
            let heads: Vec<&str> = heads
                .into_iter()
                .filter_map(|h| cross_names.get(h).map(String::as_str))
                .collect();
            let extra = format!("{sha}|{}|{}", hashes.len(), heads.join("|"));
            let key = page_key("prompt", &slot, &items, &extra);
            let analysis = newest
                .then(|| {
                    let refs = numbers_of(numbers, &pick.0);
                    (!refs.is_empty()).then(|| analysis::VersionAnalysis {
                        total: pick.1,
                        ..analysis::version_analysis(&refs)
                    })
                })
                .flatten();
            jobs.push(Job::Prompt {
                slot,
                items,
                version: v.to_string(),
                text: manifest.prompt_texts.get(&sha).cloned().unwrap_or_default(),
                sha256: sha,
                text_variants: hashes.len(),
                analysis,
                voice: if newest { voices.get(*v) } else { None },
                names: cross_names,
                key,
            });
        }
    }
    jobs
}
