//! Listings made from group summaries alone: the index, each Artist's page and each prompt
//! version's page, paginated; the Artist and prompt indexes; the exports. Pages are
//! numbered from the oldest group, so a new group touches the newest page (and the one
//! before it when the newest fills up), never the whole history. An older page is
//! rendered only when its key (what it shows) differs from the manifest's; the newest
//! pages, which carry totals, profiles and problems, are rendered every time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::site::analysis;
use crate::site::engine::manifest::Manifest;
use crate::site::group::read_card;
use crate::site::group::summary::{self, GroupCard, GroupSummary, RunCard};
use crate::site::listings::artists::{artist_order, ArtistListing};
use crate::site::listings::jobs::{artist_jobs, index_jobs, prompt_jobs, Versions};
use crate::site::listings::leaderboard;
use crate::site::listings::pager::Slot;
use crate::site::listings::profiles::{
    newest_with_numbers, profile_of, read_numbers_of, totals, PROFILE_GROUPS,
};
use crate::site::render::model::{self, ColumnHead};
use crate::site::render::names::Names;
use crate::site::{
    listings::exports, listings::voice, render::render_page, render::theme::Theme, SiteContext,
    SiteError,
};

/// Pages rendered at once: enough for both cores, few enough that a full build of a long
/// history never holds its thousands of pages in memory together.
const RENDER_CHUNK: usize = 32;

/// At most this many problems are listed on the index; `chorus check` lists them all.
pub const PROBLEMS_SHOWN: usize = 50;

/// A listing file: rendered bytes, or `None` when the page on disk already shows `key`.
pub struct ListingFile {
    pub path: PathBuf,
    pub key: String,
    pub bytes: Option<Vec<u8>>,
}

/// What listings need besides the summaries.
pub struct ListingContext<'a> {
    pub theme: &'a Theme,
    pub site: &'a SiteContext,
    pub per_page: usize,
    pub cards_dir: &'a Path,
    /// The build state folder, for the voice views' features and cache; `None` without
    /// the analysis.
    pub voice_state: Option<&'a Path>,
    /// Render every page, whatever the manifest says (a full build).
    pub full: bool,
    /// `[votes] max_weight_per_voter`: what one voter's votes may weigh in the ratings.
    pub max_weight_per_voter: Option<u32>,
    /// Which name each Artist goes by on these pages (see `render::names`).
    pub names: &'a Names,
}

#[derive(Serialize)]
struct ArtistEntry<'a> {
    group_url: &'a str,
    group_short_id: &'a str,
    prompt_version: &'a str,
    prompt_url: &'a str,
    created_date: &'a str,
    run: &'a RunCard,
}

#[derive(Serialize)]
struct PromptRow<'a> {
    group_url: &'a str,
    group_short_id: &'a str,
    created_date: &'a str,
    cells: Vec<Option<&'a RunCard>>,
}

#[derive(Clone, Serialize)]
struct PromptListing {
    version: String,
    url: String,
    groups: usize,
}

/// The links that narrow the index to one prompt version or one Artist.
#[derive(Clone, Serialize)]
pub(super) struct Filters {
    prompts: Vec<PromptListing>,
    artists: Vec<ArtistListing>,
}

/// The folder of the index's oldest-first pages.
pub const OLDEST_FIRST: &str = "oldest";

/// Every listing page and export, each handed to `sink` as soon as it is made (rendered,
/// or `bytes: None` when unchanged), so a full build never holds every page at once.
pub fn listing_files(
    cx: &ListingContext,
    manifest: &Manifest,
    problems: &[String],
    sink: &mut dyn FnMut(ListingFile) -> Result<(), SiteError>,
) -> Result<(), SiteError> {
    let groups = manifest.summaries();
    // Every version's voice first: Artist pages show theirs across versions.
    let artists = artist_order(&groups, cx.names);
    let name_of = |slug: &str, fallback: &str| {
        artists.iter().find(|a| a.slug == slug).map_or_else(
            || cx.names.across_groups(slug, fallback),
            |a| a.name.clone(),
        )
    };
    let mut voices = cx
        .voice_state
        .map(|state| voice::version_voices(state, manifest))
        .unwrap_or_default();
    for a in voices.values_mut().flat_map(|v| v.artists.iter_mut()) {
        a.name = name_of(&a.slug, &a.name);
    }
    let cross_names: BTreeMap<String, String> = artists
        .iter()
        .map(|a| (a.slug.clone(), a.name.clone()))
        .collect();
    let oldest_first: Vec<&GroupSummary> = groups.iter().rev().copied().collect();

    // The index, newest first; the newest page also carries the filters, whose counts
    // change with every group.
    let versions = prompt_versions(&groups);
    let filters = Filters {
        prompts: versions
            .iter()
            .map(|v| PromptListing {
                version: v.to_string(),
                url: model::prompt_url(v),
                groups: groups.iter().filter(|g| g.prompt_version == *v).count(),
            })
            .collect(),
        artists: artists
            .iter()
            .map(|a| ArtistListing {
                totals: Some(totals(groups.iter().copied(), &a.slug)),
                ..a.clone()
            })
            .collect(),
    };
    let mut jobs = index_jobs(cx, &oldest_first, problems, &filters);
    let boards = leaderboards(cx, &groups, &versions, &artists);
    // Each Artist, in the order of the newest group, then those only in older groups.
    // Their profiles span the whole history: made in parallel, the slowest part here.
    let all_mine: Vec<Vec<&GroupSummary>> = artists
        .par_iter()
        .map(|a| {
            oldest_first
                .iter()
                .copied()
                .filter(|g| g.has_artist(&a.slug))
                .collect()
        })
        .collect();
    let version_mine: Vec<Vec<&GroupSummary>> = versions
        .iter()
        .map(|v| {
            oldest_first
                .iter()
                .copied()
                .filter(|g| g.prompt_version == *v)
                .collect()
        })
        .collect();
    // The analysis numbers of every group a profile or a prompt matrix is made from, each
    // read once: Artists and versions share most of their newest groups.
    let artist_picks: Vec<_> = all_mine
        .iter()
        .map(|m| newest_with_numbers(m, PROFILE_GROUPS))
        .collect();
    let version_picks: Vec<_> = version_mine
        .iter()
        .map(|m| newest_with_numbers(m, PROFILE_GROUPS))
        .collect();
    let mut numbers = read_numbers_of(
        cx.cards_dir,
        artist_picks
            .iter()
            .chain(&version_picks)
            .flat_map(|(p, _)| p.iter().map(|g| g.id.as_str()))
            .collect(),
    )?;
    // Profiles and matrices span groups: their names follow the rule, not each group's.
    for n in numbers.values_mut() {
        n.names = n
            .slugs
            .iter()
            .zip(&n.names)
            .map(|(s, m)| name_of(s, m))
            .collect();
    }
    let profiles: Vec<Option<Box<analysis::ArtistAnalysis>>> = artists
        .par_iter()
        .zip(&all_mine)
        .zip(&artist_picks)
        .map(|((a, mine), pick)| profile_of(&numbers, pick, mine, &a.slug).map(Box::new))
        .collect();
    jobs.extend(artist_jobs(
        cx, &artists, all_mine, profiles, &boards, &voices,
    ));

    // Each prompt version, newest first by its newest group.
    let versions_in = Versions {
        names: &versions,
        mine: version_mine,
        picks: &version_picks,
        numbers: &numbers,
        voices: &voices,
        cross_names: &cross_names,
    };
    jobs.extend(prompt_jobs(cx, manifest, versions_in));

    // The sitemap lists every page but the 404 page.
    let mut pages: Vec<String> = Vec::new();
    let mut emit = |f: ListingFile| -> Result<(), SiteError> {
        if f.path.extension().is_some_and(|e| e == "html") && f.path != Path::new("404.html") {
            pages.push(f.path.to_string_lossy().replace('\\', "/"));
        }
        sink(f)
    };
    while !jobs.is_empty() {
        let chunk: Vec<Job> = jobs.drain(..jobs.len().min(RENDER_CHUNK)).collect();
        let files: Vec<ListingFile> = chunk
            .into_par_iter()
            .map(|job| job.run(cx, manifest))
            .collect::<Result<_, _>>()?;
        for f in files {
            emit(f)?;
        }
    }

    // The indexes of Artists and prompt versions, the 404 page and the exports.
    let mut always = |path: &str, template: &str, ctx: tera::Context| -> Result<(), SiteError> {
        let bytes = render_page(cx.theme, cx.site, path, template, ctx)?;
        emit(fresh(path, bytes))
    };
    let mut ctx = tera::Context::new();
    ctx.insert("artists", &filters.artists);
    always("artists/index.html", "artists.html", ctx)?;
    let mut ctx = tera::Context::new();
    ctx.insert("prompts", &filters.prompts);
    always("prompts/index.html", "prompts.html", ctx)?;
    always("404.html", "404.html", tera::Context::new())?;
    for b in &boards {
        let mut ctx = tera::Context::new();
        ctx.insert("board", b);
        ctx.insert("boards", &leaderboard::links(&boards));
        always(&b.url.clone(), leaderboard::TEMPLATE, ctx)?;
    }

    emit(fresh("runs.json", exports::runs_index(&groups)))?;
    emit(fresh(
        "atom.xml",
        exports::atom(&groups, &cx.site.title, &cx.site.base_url),
    ))?;
    pages.sort();
    let urls = exports::sitemap_urls(&groups, &pages);
    for (path, bytes) in exports::sitemaps(&urls, &cx.site.base_url, exports::SITEMAP_URLS) {
        sink(fresh(&path, bytes))?;
    }
    Ok(())
}

/// The leaderboards, when the theme has a template for them.
fn leaderboards(
    cx: &ListingContext,
    groups: &[&GroupSummary],
    versions: &[&str],
    artists: &[ArtistListing],
) -> Vec<leaderboard::Board> {
    if !leaderboard::in_theme(cx.theme) {
        return Vec::new();
    }
    let names = artists
        .iter()
        .map(|a| (a.slug.clone(), leaderboard::named(&a.name, &a.url)))
        .collect();
    leaderboard::boards(groups, versions, &names, cx.max_weight_per_voter)
}

fn fresh(path: &str, bytes: Vec<u8>) -> ListingFile {
    ListingFile {
        path: path.into(),
        key: String::new(),
        bytes: Some(bytes),
    }
}

// One job per page; the few of each kind are built at once, so their size is no concern.
#[allow(clippy::large_enum_variant)]
pub(super) enum Job<'a> {
    Index {
        slot: Slot,
        items: Vec<&'a GroupSummary>,
        problems: Option<&'a [String]>,
        filters: Option<Filters>,
        key: String,
    },
    Artist {
        slot: Slot,
        items: Vec<&'a GroupSummary>,
        artist: ArtistListing,
        profile: Option<Box<analysis::ArtistAnalysis>>,
        voice: Option<voice::ArtistVoiceView>,
        key: String,
    },
    Prompt {
        slot: Slot,
        items: Vec<&'a GroupSummary>,
        version: String,
        text: String,
        sha256: String,
        text_variants: usize,
        analysis: Option<analysis::VersionAnalysis>,
        voice: Option<&'a voice::VersionVoice>,
        /// Slug → the name on pages about many groups (`render::names`).
        names: &'a BTreeMap<String, String>,
        key: String,
    },
}

impl Job<'_> {
    fn run(self, cx: &ListingContext, manifest: &Manifest) -> Result<ListingFile, SiteError> {
        let (slot, items, key) = match &self {
            Job::Index {
                slot, items, key, ..
            }
            | Job::Artist {
                slot, items, key, ..
            }
            | Job::Prompt {
                slot, items, key, ..
            } => (slot, items, key),
        };
        let path = PathBuf::from(&slot.path);
        if !cx.full
            && !key.is_empty()
            && manifest.listings.get(&path).is_some_and(|(k, _)| k == key)
        {
            return Ok(ListingFile {
                path,
                key: key.clone(),
                bytes: None,
            });
        }
        // Newest first on the page, unless the page is of the oldest-first order.
        let mut cards: Vec<GroupCard> = items
            .iter()
            .map(|g| card(cx.cards_dir, g))
            .collect::<Result<_, _>>()?;
        if !slot.pager.ascending {
            cards.reverse();
        }
        let mut ctx = tera::Context::new();
        ctx.insert("pager", &slot.pager);
        let template = match &self {
            Job::Index {
                problems, filters, ..
            } => {
                let problems = problems.unwrap_or_default();
                ctx.insert("filters", filters);
                ctx.insert("oldest_first_url", &format!("{OLDEST_FIRST}/1.html"));
                ctx.insert("groups", &cards);
                ctx.insert("problems", &problems[..problems.len().min(PROBLEMS_SHOWN)]);
                ctx.insert(
                    "more_problems",
                    &problems.len().saturating_sub(PROBLEMS_SHOWN),
                );
                "index.html"
            }
            Job::Artist {
                artist,
                profile,
                voice,
                ..
            } => {
                let entries: Vec<ArtistEntry> = cards
                    .iter()
                    .filter_map(|c| {
                        c.run(&artist.slug).map(|run| ArtistEntry {
                            group_url: &c.url,
                            group_short_id: &c.short_id,
                            prompt_version: &c.prompt_version,
                            prompt_url: &c.prompt_url,
                            created_date: &c.created_date,
                            run,
                        })
                    })
                    .collect();
                let mut value = serde_json::to_value(artist).unwrap_or_default();
                value["snapshots"] =
                    serde_json::json!(summary::snapshots(entries.iter().map(|e| e.run)));
                value["entries"] = serde_json::to_value(&entries).unwrap_or_default();
                ctx.insert("artist", &value);
                ctx.insert("analysis", profile);
                ctx.insert("voice", voice);
                "artist.html"
            }
            Job::Prompt {
                version,
                text,
                sha256,
                text_variants,
                analysis,
                voice,
                names,
                ..
            } => {
                let mut columns: Vec<ColumnHead> = Vec::new();
                for c in &cards {
                    for r in &c.runs {
                        if !columns.iter().any(|h| h.slug == r.artist_slug) {
                            columns.push(ColumnHead {
                                slug: r.artist_slug.clone(),
                                name: names
                                    .get(&r.artist_slug)
                                    .cloned()
                                    .unwrap_or_else(|| r.artist_name.clone()),
                                url: r.artist_url.clone(),
                                snapshots: Vec::new(),
                            });
                        }
                    }
                }
                for h in &mut columns {
                    h.snapshots = summary::snapshots(cards.iter().filter_map(|c| c.run(&h.slug)));
                }
                let rows: Vec<PromptRow> = cards
                    .iter()
                    .map(|c| PromptRow {
                        group_url: &c.url,
                        group_short_id: &c.short_id,
                        created_date: &c.created_date,
                        cells: columns.iter().map(|h| c.run(&h.slug)).collect(),
                    })
                    .collect();
                ctx.insert(
                    "prompt",
                    &serde_json::json!({
                        "version": version,
                        "url": model::prompt_url(version),
                        "text": text,
                        "paragraphs": model::paragraphs(text),
                        "sha256": sha256,
                        "text_variants": text_variants,
                        "columns": columns,
                        "rows": rows,
                        "leaderboard": leaderboard::url(Some(version)),
                    }),
                );
                ctx.insert("analysis", analysis);
                let root = "../".repeat(slot.path.matches('/').count());
                ctx.insert("voice", &voice.map(|v| voice::version_view(v, &root)));
                "prompt.html"
            }
        };
        let bytes = render_page(cx.theme, cx.site, &slot.path, template, ctx)?;
        Ok(ListingFile {
            path,
            key: key.clone(),
            bytes: Some(bytes),
        })
    }
}

/// A group's card from the cache. A missing card (the cache was tampered with) is never
/// shown as a gap: the build starts again from nothing and makes it.
fn card(cards_dir: &Path, g: &GroupSummary) -> Result<GroupCard, SiteError> {
    read_card(cards_dir, &g.id)
        .ok_or_else(|| SiteError::CacheLacks(format!("group {}'s card", g.id)))
}

/// Prompt versions, newest first by their newest group.
fn prompt_versions<'a>(newest_first: &[&'a GroupSummary]) -> Vec<&'a str> {
    let mut versions: Vec<&str> = Vec::new();
    for g in newest_first {
        if !versions.contains(&g.prompt_version.as_str()) {
            versions.push(&g.prompt_version);
        }
    }
    versions
}
