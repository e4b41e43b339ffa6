//! The build's unit of work: one run group. A group's files go in; its pages (compare
//! grid, blind page, one page per run), its images and thumbnails, its `runs.json`, a
//! [`GroupCard`] for listings and a small [`GroupSummary`] come out. Nothing here looks at
//! another group, so groups build in parallel, in bounded memory, and only when they
//! changed. Listings are made from the summaries by `listings`.

pub mod blind;
pub mod images;
mod measure;
pub mod redact;
pub mod summary;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::config::Originals;
use crate::site::analysis::ratings::{merge_tallies, VoteTally};
use crate::site::analysis::{self, SignatureCache};
use crate::site::engine::manifest::{list_inputs, GroupEntry, InputFile};
use crate::site::group::blind::BlindKey;
use crate::site::group::images::{ImageCache, ImageStats, Prepared, SourceInfo};
use crate::site::group::redact::Redaction;
use crate::site::group::summary::{GroupCard, GroupSummary, RunBrief};
use crate::site::render::model::{self, GroupView, ImageView, ThumbView};
use crate::site::{
    listings::exports, listings::voice, render::output::OutFile, render::output::Output,
    render::render_page, render::theme::Theme, SiteContext, SiteError,
};
use crate::store::{load_group_dir, sha256_hex, votes, LoadedGroup, RunRecord, MAX_IMAGE_BYTES};
use measure::{analyse, features};

/// One image prepared: the result, variants made, and whether the source was read.
type Prepare = Result<(Prepared, usize, bool), String>;

/// What every group's build shares: settings, theme, caches, the output.
pub(crate) struct GroupContext<'a> {
    /// The project root: problems name files relative to it, since a published page must
    /// not show the build machine's folders.
    pub root: &'a Path,
    pub theme: &'a Theme,
    pub site: &'a SiteContext,
    pub images: &'a ImageCache,
    pub signatures: Option<SignatureCache>,
    pub originals: Originals,
    pub output: &'a Output,
    /// Every Artist chorus.toml knows, taken out of the blind pages' text beside the
    /// group's own.
    pub known_artists: &'a [crate::config::Artist],
    /// Where cards are kept (`<state>/cards/<id>.json`).
    pub cards_dir: PathBuf,
}

/// One group built.
pub struct GroupBuilt {
    pub entry: GroupEntry,
    pub images: ImageStats,
    pub written: usize,
    /// The prompt text, to be kept once per hash.
    pub prompt_text: Option<(String, String)>,
}

/// Where a group's card is kept between builds.
pub fn card_path(cards_dir: &Path, id: &str) -> PathBuf {
    cards_dir.join(format!("{}.json", model::path_segment(id)))
}

/// Where a group's analysis numbers are kept, beside its card.
pub fn numbers_path(cards_dir: &Path, id: &str) -> PathBuf {
    cards_dir.join(format!("{}.numbers.bin", model::path_segment(id)))
}

/// A group's stored analysis numbers; `None` when missing or unreadable.
pub fn read_numbers(cards_dir: &Path, id: &str) -> Option<analysis::GroupNumbers> {
    let bytes = std::fs::read(numbers_path(cards_dir, id)).ok()?;
    bincode::deserialize(&bytes).ok()
}

/// Reads a stored card; `None` when it is missing or unreadable (the caller rebuilds).
pub fn read_card(cards_dir: &Path, id: &str) -> Option<GroupCard> {
    let bytes = std::fs::read(card_path(cards_dir, id)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Builds the group in `dir`. `known` is the manifest's entry from the last build: images
/// whose length and mtime are unchanged are not read again to be identified.
/// `next_blind` is the id of the next older group, whose blind page this one's links to.
pub(crate) fn build_group(
    cx: &GroupContext,
    dir: &Path,
    known: Option<&GroupEntry>,
    next_blind: Option<&str>,
) -> Result<GroupBuilt, SiteError> {
    let listing = list_inputs(dir);
    let (loaded, store_problems) = load_group_dir(dir);
    let rel = |p: &Path| p.strip_prefix(cx.root).unwrap_or(p).to_path_buf();
    let mut problems: Vec<String> = store_problems
        .iter()
        .map(|p| p.relative_to(cx.root))
        .collect();
    let mut stats = ImageStats::default();

    // Identify and prepare the images, remembering what was learnt for the manifest.
    let mut prepared: BTreeMap<String, Prepared> = BTreeMap::new();
    let mut identified: BTreeMap<String, SourceInfo> = BTreeMap::new();
    if let Some(g) = &loaded {
        let on_decoded = |info: &SourceInfo, rgb: &image::RgbImage| {
            if let Some(sigs) = &cx.signatures {
                sigs.store_decoded(&info.sha256, rgb);
            }
        };
        // The group's images in parallel: a new group (the common incremental case) then
        // uses every core, while a cold build still holds a few decoded images at a time.
        let results: Vec<(String, PathBuf, Prepare)> = g
            .runs
            .par_iter()
            .filter_map(|run| {
                let file = model::safe_image_file(run)?;
                let (_, len, mtime) = listing.iter().find(|(n, _, _)| n == file)?;
                let src = dir.join(file);
                // A link or special file is never read or published; `store` reports it.
                if !crate::store::is_regular_file(&src) {
                    return None;
                }
                let known_info = known
                    .and_then(|k| k.known_image(file, *len, *mtime))
                    .and_then(|f| f.image.clone());
                let result = cx
                    .images
                    .prepare_image(&src, known_info, cx.originals, &on_decoded);
                Some((file.to_string(), src, result))
            })
            .collect();
        for (file, src, result) in results {
            stats.sources += 1;
            match result {
                Ok((p, made, hashed)) => {
                    stats.made += made;
                    stats.hashed += usize::from(hashed);
                    identified.insert(file.clone(), p.source.clone());
                    prepared.insert(file, p);
                }
                Err(reason) => {
                    let problem = format!("{}: {reason}", rel(&src).display());
                    problems.push(crate::untrusted::escape_controls(&problem).into_owned());
                    stats.failed.push((src, reason));
                }
            }
        }
    }

    let inputs = input_files(dir, &listing, known, &identified);
    let mut entry = GroupEntry {
        inputs,
        next_blind: next_blind.map(str::to_string),
        cache_keys: prepared.values().flat_map(Prepared::cache_keys).collect(),
        ..GroupEntry::default()
    };
    let Some(g) = loaded else {
        entry.problems = problems;
        return Ok(GroupBuilt {
            entry,
            images: stats,
            written: 0,
            prompt_text: None,
        });
    };

    let id = g.group.run_group_id.to_string();
    let view = model::group_view(&g, |run| image_view(cx.originals, &id, run, &prepared));
    let blind_key = BlindKey::of(&g, prepared.values().map(|p| p.source.sha256.as_str()));
    let (numbers, views) = match &cx.signatures {
        Some(sigs) => {
            let (n, v, decode_problems, signatures) =
                analyse(&g, sigs, &prepared, dir, &rel, &blind_key)?;
            problems.extend(decode_problems);
            if let Some(state) = cx.cards_dir.parent() {
                voice::write_features(state, &features(&g, &view, &signatures));
            }
            (Some(n), Some(v))
        }
        None => (None, None),
    };

    let has_blind = cx
        .theme
        .tera
        .get_template_names()
        .any(|n| n == analysis::BLIND_TEMPLATE);
    let blind = views.as_ref().filter(|_| has_blind).map(|v| Blind {
        runs: blind::blind_runs(v, &view, &g, &blind_key, &redaction(&g, cx.known_artists)),
        key: &blind_key,
        positions: g
            .group
            .artists
            .iter()
            .zip(&v.columns)
            .map(|(a, c)| (a.slug.clone(), c.blind_order))
            .collect(),
    });

    let mut files: BTreeMap<PathBuf, OutFile> = BTreeMap::new();
    let pages = render_group_pages(
        cx.theme,
        cx.site,
        &view,
        views.as_ref(),
        blind.as_ref(),
        next_blind,
    )?;
    for (path, bytes) in pages {
        files.insert(path, OutFile::Bytes(bytes));
    }
    files.insert(
        exports::group_runs_path(&id).into(),
        OutFile::Bytes(exports::group_runs_json(&view)),
    );
    image_files(cx.originals, &g, &id, &prepared, blind.as_ref(), &mut files);

    let mut written = 0;
    for (rel, file) in &files {
        let (wrote, len) = cx.output.write(rel, file)?;
        written += usize::from(wrote);
        entry.outputs.insert(rel.clone(), len);
    }

    let votes = group_votes(&g, &prepared, &rel, &mut problems);
    let card = GroupCard::of(&view);
    let card_json = serde_json::to_vec(&card).unwrap_or_default();
    let card_path = card_path(&cx.cards_dir, &id);
    write_rebuildable_io(&card_path, &card_json)?;
    let numbers_path = numbers_path(&cx.cards_dir, &id);
    match &numbers {
        Some(n) => {
            let bytes = bincode::serialize(n).map_err(|e| SiteError::Output(e.to_string()))?;
            write_rebuildable_io(&numbers_path, &bytes)?;
        }
        None => {
            let _ = std::fs::remove_file(&numbers_path);
        }
    }
    entry.problems = problems;
    entry.summary = Some(GroupSummary {
        votes,
        ..summary(&g, &view, numbers.is_some(), sha256_hex(&card_json))
    });
    Ok(GroupBuilt {
        entry,
        images: stats,
        written,
        prompt_text: Some((g.group.prompt_sha256.clone(), g.group.prompt_text.clone())),
    })
}

fn write_rebuildable_io(path: &Path, bytes: &[u8]) -> Result<(), SiteError> {
    crate::fsutil::write_rebuildable(path, bytes)
        .map(|_| ())
        .map_err(|source| SiteError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// The manifest's record of the folder's files: content hashes are carried over for
/// files unchanged by metadata, otherwise computed (images were hashed when identified).
fn input_files(
    dir: &Path,
    listing: &[(String, u64, u128)],
    known: Option<&GroupEntry>,
    identified: &BTreeMap<String, SourceInfo>,
) -> Vec<InputFile> {
    listing
        .iter()
        .map(|(name, len, mtime)| {
            let image = identified.get(name).cloned();
            let sha256 = match (
                &image,
                known.and_then(|k| k.known_image(name, *len, *mtime)),
            ) {
                (Some(info), _) => info.sha256.clone(),
                (None, Some(f)) => f.sha256.clone(),
                // Unreadable files get an empty hash, so they count as changed next time.
                (None, None) => crate::store::read_capped(&dir.join(name), MAX_IMAGE_BYTES)
                    .map(|b| sha256_hex(&b))
                    .unwrap_or_default(),
            };
            InputFile {
                name: name.clone(),
                len: *len,
                mtime_ns: *mtime,
                sha256,
                image,
            }
        })
        .collect()
}

fn summary(g: &LoadedGroup, view: &GroupView, has_numbers: bool, digest: String) -> GroupSummary {
    GroupSummary {
        id: view.id.clone(),
        order: crate::store::order_key(&g.group),
        created_at: view.created_at.clone(),
        created_date: view.created_date.clone(),
        prompt_version: view.prompt_version.clone(),
        prompt_sha256: view.prompt_sha256.clone(),
        brush_name: view.brush_name.clone(),
        counts: view.counts.clone(),
        runs: view
            .runs
            .iter()
            .map(|r| RunBrief {
                slug: r.artist_slug.clone(),
                name: r.artist_name.clone(),
                model: r.artist_model.clone(),
                provider: r.artist_provider.clone(),
                status: r.status.clone(),
                cost_usd: r.cost_usd,
                latency_ms: r.latency_ms,
            })
            .collect(),
        has_numbers,
        votes: Vec::new(),
        digest,
    }
}

/// The group's votes under `votes/`, tallied by Artist; votes that cannot count become
/// problems. Images are known by the hashes `prepare` already took.
fn group_votes(
    g: &LoadedGroup,
    prepared: &BTreeMap<String, Prepared>,
    rel: &dyn Fn(&Path) -> PathBuf,
    problems: &mut Vec<String>,
) -> Vec<VoteTally> {
    if !votes::holds_votes(&g.dir) {
        return Vec::new();
    }
    let id = g.group.run_group_id.to_string();
    let images = g.runs.iter().filter_map(|run| {
        let p = prepared.get(model::safe_image_file(run)?)?;
        Some((
            run.artist_slug.as_str(),
            p.source.sha256.as_str(),
            votes::run_secret(run),
        ))
    });
    let tokens = votes::GroupTokens::new(&id, images);
    let (counted, vote_problems) = votes::group_votes(&g.dir, g.group.run_group_id, &tokens);
    problems.extend(vote_problems.into_iter().map(|p| {
        votes::VoteProblem {
            file: rel(&p.file),
            ..p
        }
        .to_string()
    }));
    let tallies: Vec<VoteTally> = counted
        .into_iter()
        .map(|c| VoteTally {
            voter: c.voter,
            winner: c.winner,
            losers: c.losers,
            count: 1,
        })
        .collect();
    merge_tallies(&tallies)
}

/// How a run's image appears on the pages, by `[site] originals`: the full image (the
/// original, or its web encoding) with the thumbnails as `srcset`; with "none", the
/// largest thumbnail stands in for the full image.
fn image_view(
    originals: Originals,
    group_id: &str,
    run: &RunRecord,
    prepared: &BTreeMap<String, Prepared>,
) -> Option<ImageView> {
    let file = model::safe_image_file(run)?;
    let p = prepared.get(file)?;
    let mut thumbs: Vec<ThumbView> = p
        .thumbs
        .iter()
        .map(|t| ThumbView {
            url: model::thumb_url(group_id, &p.source.sha256, t.width),
            width: t.width,
            height: t.height,
        })
        .collect();
    let (url, width, height) = match (&p.web, originals) {
        (Some(w), _) => (
            model::image_url(group_id, &run.artist_slug, "jpg"),
            w.width,
            w.height,
        ),
        (None, Originals::None) => {
            let largest = thumbs.pop()?;
            (largest.url, largest.width, largest.height)
        }
        (None, _) => (
            model::image_url(group_id, &run.artist_slug, &p.source.format),
            p.source.width,
            p.source.height,
        ),
    };
    Some(ImageView {
        url,
        width,
        height,
        thumbs,
        sha256: p.source.sha256.clone(),
    })
}

/// What the blind page is made of: its columns, and where each Artist's images go.
struct Blind<'a> {
    runs: Vec<blind::BlindRun<'a>>,
    key: &'a BlindKey,
    /// Artist slug → blind position.
    positions: BTreeMap<String, usize>,
}

/// What the blind page takes out of its text: the group's own Artists (their names as
/// group.json gives them) and every Artist chorus.toml knows.
fn redaction(g: &LoadedGroup, known: &[crate::config::Artist]) -> Redaction {
    let own = g
        .group
        .artists
        .iter()
        .map(|a| (a.name.as_str(), a.slug.as_str(), a.model.as_str()));
    let known = known
        .iter()
        .map(|a| (a.name.as_str(), a.slug.as_str(), a.model.as_str()));
    Redaction::of_artists(own.chain(known))
}

/// The full images (or their web encodings) and thumbnails of one group, as copies, and
/// the blind page's own copies of them.
fn image_files(
    originals: Originals,
    g: &LoadedGroup,
    group_id: &str,
    prepared: &BTreeMap<String, Prepared>,
    blind: Option<&Blind>,
    files: &mut BTreeMap<PathBuf, OutFile>,
) {
    for run in &g.runs {
        let Some(file) = model::safe_image_file(run) else {
            continue;
        };
        let Some(p) = prepared.get(file) else {
            continue;
        };
        let full = match (&p.web, originals) {
            (Some(w), _) => Some(("jpg", w.path.clone(), true)),
            (None, Originals::None) => None,
            (None, _) => Some((p.source.format.as_str(), g.dir.join(file), false)),
        };
        let position = blind.and_then(|b| Some((b.key, *b.positions.get(&run.artist_slug)?)));
        if let Some((ext, src, link)) = &full {
            let copy = || OutFile::Copy {
                src: src.clone(),
                link: *link,
            };
            files.insert(
                model::image_url(group_id, &run.artist_slug, ext).into(),
                copy(),
            );
            // Without thumbnails the blind page shows the full image (see BlindKey::image).
            if let Some((key, at)) = position.filter(|_| p.thumbs.is_empty()) {
                files.insert(key.media_url(group_id, at, None, ext).into(), copy());
            }
        }
        for t in &p.thumbs {
            let copy = || OutFile::Copy {
                src: t.path.clone(),
                link: true,
            };
            files.insert(
                model::thumb_url(group_id, &p.source.sha256, t.width).into(),
                copy(),
            );
            if let Some((key, at)) = position {
                files.insert(
                    key.media_url(group_id, at, Some(t.width), "jpg").into(),
                    copy(),
                );
            }
        }
    }
}

/// The group page, its blind page and one page per run.
fn render_group_pages(
    theme: &Theme,
    site: &SiteContext,
    g: &GroupView,
    views: Option<&analysis::GroupAnalysis>,
    blind: Option<&Blind>,
    next_blind: Option<&str>,
) -> Result<Vec<(PathBuf, Vec<u8>)>, SiteError> {
    let mut pages = Vec::new();
    let mut ctx = tera::Context::new();
    ctx.insert("group", g);
    ctx.insert("analysis", &views);
    pages.push((g.url.clone(), "group.html", ctx));
    if let Some(blind) = blind {
        let mut ctx = tera::Context::new();
        ctx.insert("group", g);
        // Best of N: a vote needs at least two images to choose between.
        let ballot = blind.runs.iter().filter(|b| b.token.is_some()).count();
        ctx.insert("ballot", &ballot);
        ctx.insert("blind_runs", &blind.runs);
        ctx.insert("next_blind", &next_blind.map(analysis::blind_url));
        pages.push((analysis::blind_url(&g.id), analysis::BLIND_TEMPLATE, ctx));
    }
    // Run pages see the group without its runs (they have prev/next): serialising every
    // sibling into every run page was most of the render time.
    let summary = GroupView {
        runs: Vec::new(),
        ..g.clone()
    };
    for (i, run) in g.runs.iter().enumerate() {
        let mut ctx = tera::Context::new();
        ctx.insert("group", &summary);
        ctx.insert("run", run);
        ctx.insert("prev", &i.checked_sub(1).map(|p| &g.runs[p]));
        ctx.insert("next", &g.runs.get(i + 1));
        pages.push((run.url.clone(), "run.html", ctx));
    }
    pages
        .into_iter()
        .map(|(path, template, ctx)| {
            let html = render_page(theme, site, &path, template, ctx)?;
            Ok((PathBuf::from(path), html))
        })
        .collect()
}
