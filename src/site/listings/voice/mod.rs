//! The voice views across a prompt version's groups (issue 15): each group's build leaves
//! a small feature file (per run: image hash and histogram, statement word counts) under
//! `<state>/features/`; per prompt version with at least two groups, the listings read
//! those files for a bounded sample of groups, compute the voice numbers and the style map
//! (`analysis::voice`, `analysis::mds`) and cache the result under `<state>/voice/`, keyed
//! on the groups' input fingerprints, so a version is recomputed only when its groups
//! change. Nothing here renders pages or holds more than one version's sample at a time.

mod view;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::fsutil::write_rebuildable;
use crate::site::analysis::image::{hash_distance, histogram_distance, ImageSignature};
use crate::site::analysis::map::MapPoint;
use crate::site::analysis::mds::classical_mds;
use crate::site::analysis::text::term_counts;
use crate::site::analysis::voice::{self, RunAt, VoiceNumbers};
use crate::site::engine::manifest::{GroupIndex, Manifest};
use crate::site::group::summary::GroupSummary;
use crate::site::render::model;
use crate::store::sha256_hex;

pub use self::view::{artist_view, version_view, ArtistVoiceView, VersionVoiceView, VoiceRow};

/// At most this many runs of one version enter its voice numbers and its map: whole groups
/// are taken in a fixed order (by a hash of their id) until the next would pass the cap.
/// Pairs grow with the square of runs, so this bounds time (about 115,000 pairs) and
/// memory, and keeps the map readable; the page says when a sample was used.
pub const SAMPLE_RUNS: usize = 480;
/// Bumped when features, numbers or the cache's meaning change (4: jackknife intervals).
const FORMAT: &str = "voice-4";
/// Longest excerpt kept for a map point's description.
const EXCERPT_CHARS: usize = 60;

/// One group's runs as the voice needs them; written by the group's build.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupFeatures {
    pub id: String,
    pub date: String,
    pub short_id: String,
    pub runs: Vec<RunFeatures>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunFeatures {
    pub slug: String,
    pub name: String,
    pub url: String,
    pub excerpt: String,
    pub phash: Option<String>,
    /// The colour histogram, rounded to 4 decimals (it only feeds a distance).
    pub histogram: Option<Vec<f32>>,
    /// The statement's meaningful words and their counts.
    pub terms: Vec<(String, u32)>,
}

impl RunFeatures {
    pub fn new(
        group_id: &str,
        slug: &str,
        name: &str,
        statement: Option<&str>,
        excerpt: &str,
        signature: Option<&ImageSignature>,
    ) -> RunFeatures {
        RunFeatures {
            slug: slug.to_string(),
            name: name.to_string(),
            url: model::run_url(group_id, slug),
            excerpt: excerpt.chars().take(EXCERPT_CHARS).collect(),
            phash: signature.map(|s| s.phash.clone()),
            histogram: signature.map(|s| {
                s.histogram
                    .iter()
                    .map(|v| ((v * 10_000.0).round() / 10_000.0) as f32)
                    .collect()
            }),
            terms: statement
                .map(|t| term_counts(t).into_iter().collect())
                .unwrap_or_default(),
        }
    }

    fn is_empty(&self) -> bool {
        self.phash.is_none() && self.terms.is_empty()
    }
}

pub fn features_dir(state: &Path) -> PathBuf {
    state.join("features")
}

pub fn features_path(state: &Path, id: &str) -> PathBuf {
    features_dir(state).join(format!("{}.json", model::path_segment(id)))
}

/// Keeps a group's features for the listings (best effort: without the file the group
/// simply stays out of its version's voice until it is built again).
pub fn write_features(state: &Path, features: &GroupFeatures) {
    if let Ok(bytes) = serde_json::to_vec(features) {
        let _ = write_rebuildable(&features_path(state, &features.id), &bytes);
    }
}

fn read_features(state: &Path, id: &str) -> Option<GroupFeatures> {
    serde_json::from_slice(&std::fs::read(features_path(state, id)).ok()?).ok()
}

/// One Artist's voice in one version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtistVoice {
    pub slug: String,
    pub name: String,
    /// Image and statement together (their mean similarity), with the interval.
    pub combined: VoiceNumbers,
    pub image: VoiceNumbers,
    pub statement: VoiceNumbers,
}

/// A version's voice numbers and style map, as cached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionVoice {
    pub version: String,
    pub groups_total: usize,
    pub runs_total: usize,
    pub groups_used: usize,
    pub runs_used: usize,
    pub within: Option<f64>,
    pub between: Option<f64>,
    /// Newest group's Artists first.
    pub artists: Vec<ArtistVoice>,
    pub points: Vec<MapPoint>,
}

impl VersionVoice {
    pub fn sampled(&self) -> bool {
        self.groups_used < self.groups_total
    }
}

#[derive(Serialize, Deserialize)]
struct Cached {
    key: String,
    voice: VersionVoice,
}

/// The voice of every prompt version with at least two built groups: from the cache when
/// its groups are unchanged, computed otherwise (versions in parallel, each bounded by
/// [`SAMPLE_RUNS`]). Cache files of versions that are gone are removed.
pub fn version_voices(state: &Path, manifest: &Manifest) -> BTreeMap<String, VersionVoice> {
    let mut by_version: BTreeMap<&str, Vec<(&GroupIndex, &GroupSummary)>> = BTreeMap::new();
    for (name, s) in manifest.named_summaries() {
        if let Some(e) = manifest.groups.get(name) {
            by_version
                .entry(&s.prompt_version)
                .or_default()
                .push((e, s));
        }
    }
    let dir = state.join("voice");
    let wanted: Vec<(&str, Vec<(&GroupIndex, &GroupSummary)>)> = by_version
        .into_iter()
        .filter(|(_, groups)| groups.len() >= 2)
        .collect();
    let keep: BTreeSet<PathBuf> = wanted.iter().map(|(v, _)| cache_path(&dir, v)).collect();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if !keep.contains(&entry.path()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    wanted
        .into_par_iter()
        .filter_map(|(version, mut groups)| {
            // Newest first, as the pages list Artists.
            groups.sort_by(|a, b| GroupSummary::newest_first(a.1, b.1));
            let ids: Vec<&str> = groups.iter().map(|(_, s)| s.id.as_str()).collect();
            let sizes: Vec<usize> = groups.iter().map(|(_, s)| s.runs.len()).collect();
            let mut chosen = sample_groups(&ids, &sizes, SAMPLE_RUNS);
            chosen.sort_unstable();
            let sample: Vec<(&GroupIndex, &GroupSummary)> =
                chosen.iter().map(|&i| groups[i]).collect();
            // Keyed on the sample only: a new group that stays out of it costs nothing.
            let key = version_key(version, &sample);
            let path = cache_path(&dir, version);
            let cached = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Cached>(&b).ok())
                .filter(|c| c.key == key);
            let mut voice = match cached {
                Some(c) => c.voice,
                None => {
                    let voice = compute(state, version, &sample)?;
                    if let Ok(bytes) = serde_json::to_vec(&Cached {
                        key,
                        voice: voice.clone(),
                    }) {
                        let _ = write_rebuildable(&path, &bytes);
                    }
                    voice
                }
            };
            voice.groups_total = groups.len();
            voice.runs_total = sizes.iter().sum();
            Some((version.to_string(), voice))
        })
        .collect()
}

fn cache_path(dir: &Path, version: &str) -> PathBuf {
    dir.join(format!("{}.json", &sha256_hex(version.as_bytes())[..16]))
}

/// What a version's voice depends on: its groups and each one's input files (by the
/// manifest index's fingerprint of their names, lengths and mtimes).
fn version_key(version: &str, groups: &[(&GroupIndex, &GroupSummary)]) -> String {
    let mut parts: Vec<String> = groups
        .iter()
        .map(|(e, s)| {
            let files: String = e.fingerprint.iter().map(|b| format!("{b:02x}")).collect();
            format!("{}|{files}", s.id)
        })
        .collect();
    parts.sort_unstable();
    sha256_hex(format!("{FORMAT}|{SAMPLE_RUNS}|{version}|{}", parts.join(";")).as_bytes())
}

/// Whole groups in a fixed pseudo-random order (by a hash of their id) until the next one
/// would pass `cap` runs; at least two groups. Returns indices into `runs_per_group`.
pub fn sample_groups(ids: &[&str], runs_per_group: &[usize], cap: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_cached_key(|&i| sha256_hex(ids[i].as_bytes()));
    let mut total = 0;
    let mut chosen = Vec::new();
    for i in order {
        if chosen.len() >= 2 && total + runs_per_group[i] > cap {
            break;
        }
        total += runs_per_group[i];
        chosen.push(i);
    }
    chosen
}

/// A statement as a unit-length TF-IDF vector over term ids, sorted by id.
type Sparse = Vec<(u32, f64)>;

/// The voice of the sampled groups (newest first); the totals are the caller's.
fn compute(
    state: &Path,
    version: &str,
    sample: &[(&GroupIndex, &GroupSummary)],
) -> Option<VersionVoice> {
    let features: Vec<GroupFeatures> = sample
        .iter()
        .filter_map(|(_, s)| read_features(state, &s.id))
        .collect();
    if features.len() < 2 {
        return None;
    }
    let mut artists: Vec<(String, String)> = Vec::new();
    let mut runs: Vec<RunAt> = Vec::new();
    let mut kept: Vec<(&GroupFeatures, &RunFeatures)> = Vec::new();
    for (g, f) in features.iter().enumerate() {
        for r in f.runs.iter().filter(|r| !r.is_empty()) {
            let artist = match artists.iter().position(|(s, _)| *s == r.slug) {
                Some(k) => k,
                None => {
                    artists.push((r.slug.clone(), r.name.clone()));
                    artists.len() - 1
                }
            };
            runs.push(RunAt { group: g, artist });
            kept.push((f, r));
        }
    }
    let n = runs.len();
    let vectors = tfidf_vectors(kept.iter().map(|(_, r)| r.terms.as_slice()));
    let (mut image, mut statement, mut combined) = (
        vec![f64::NAN; n * n],
        vec![f64::NAN; n * n],
        vec![f64::NAN; n * n],
    );
    for i in 0..n {
        for j in i..n {
            let (a, b) = (kept[i].1, kept[j].1);
            let im = image_similarity(a, b);
            let st = cosine(&vectors[i], &vectors[j]);
            let co = match (im, st) {
                (Some(x), Some(y)) => Some((x + y) / 2.0),
                (x, y) => x.or(y),
            };
            for (m, v) in [(&mut image, im), (&mut statement, st), (&mut combined, co)] {
                let v = v.unwrap_or(f64::NAN);
                m[i * n + j] = v;
                m[j * n + i] = v;
            }
        }
    }
    let g = features.len();
    let with_interval = voice::artist_voices(&runs, artists.len(), g, &combined, true);
    let by_image = voice::artist_voices(&runs, artists.len(), g, &image, false);
    let by_statement = voice::artist_voices(&runs, artists.len(), g, &statement, false);
    let (within, between) = voice::overall(&runs, &combined);

    // The map: 1 − combined similarity, unknown pairs at the mean distance.
    let known: Vec<f64> = combined.iter().copied().filter(|v| v.is_finite()).collect();
    let mean = if known.is_empty() {
        0.5
    } else {
        1.0 - known.iter().sum::<f64>() / known.len() as f64
    };
    let distances: Vec<f64> = (0..n * n)
        .map(|k| {
            if k / n == k % n {
                0.0
            } else if combined[k].is_finite() {
                (1.0 - combined[k]).max(0.0)
            } else {
                mean
            }
        })
        .collect();
    let placed = classical_mds(&distances, n);
    let points = kept
        .iter()
        .zip(&runs)
        .zip(&placed)
        .map(|(((f, r), at), p)| MapPoint {
            x: p[0],
            y: p[1],
            artist: at.artist,
            url: r.url.clone(),
            label: format!("group {} · {}", f.short_id, f.date),
            // Without the Artist's name, which the page adds by the names rule.
            description: format!("group {} {}: {}", f.date, f.short_id, r.excerpt),
        })
        .collect();
    Some(VersionVoice {
        version: version.to_string(),
        groups_total: sample.len(),
        runs_total: n,
        groups_used: g,
        runs_used: n,
        within,
        between,
        artists: artists
            .into_iter()
            .zip(with_interval)
            .zip(by_image.into_iter().zip(by_statement))
            .map(
                |(((slug, name), combined), (image, statement))| ArtistVoice {
                    slug,
                    name,
                    combined,
                    image,
                    statement,
                },
            )
            .collect(),
        points,
    })
}

fn image_similarity(a: &RunFeatures, b: &RunFeatures) -> Option<f64> {
    let h = hash_distance(a.phash.as_deref()?, b.phash.as_deref()?)?;
    let wide = |f: &RunFeatures| -> Option<Vec<f64>> {
        Some(
            f.histogram
                .as_ref()?
                .iter()
                .map(|v| f64::from(*v))
                .collect(),
        )
    };
    let c = histogram_distance(&wide(a)?, &wide(b)?)?;
    Some(1.0 - (h + c) / 2.0)
}

/// TF-IDF over the sample (the group views' smoothed IDF), each vector of unit length.
fn tfidf_vectors<'a>(docs: impl Iterator<Item = &'a [(String, u32)]> + Clone) -> Vec<Sparse> {
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let mut df: Vec<f64> = Vec::new();
    let mut n = 0.0;
    for d in docs.clone() {
        n += 1.0;
        for (w, _) in d {
            let next = ids.len() as u32;
            let id = *ids.entry(w.as_str()).or_insert(next);
            if id as usize == df.len() {
                df.push(0.0);
            }
            df[id as usize] += 1.0;
        }
    }
    docs.map(|d| {
        let mut v: Sparse = d
            .iter()
            .filter_map(|(w, c)| {
                let id = *ids.get(w.as_str())?;
                Some((
                    id,
                    f64::from(*c) * (((1.0 + n) / (1.0 + df[id as usize])).ln() + 1.0),
                ))
            })
            .collect();
        v.sort_by_key(|(id, _)| *id);
        let norm = v.iter().map(|(_, x)| x * x).sum::<f64>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|(_, x)| *x /= norm);
        }
        v
    })
    .collect()
}

fn cosine(a: &Sparse, b: &Sparse) -> Option<f64> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let (mut i, mut j, mut dot) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                dot += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    Some(dot.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_takes_whole_groups_up_to_the_cap_in_a_stable_order() {
        let ids: Vec<String> = (0..50).map(|k| format!("group-{k}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let sizes = vec![4; 50];
        let chosen = sample_groups(&refs, &sizes, 40);
        assert_eq!(chosen.len(), 10);
        assert_eq!(chosen, sample_groups(&refs, &sizes, 40));
        // A new group leaves the earlier choice mostly in place.
        let mut more = refs.clone();
        more.push("group-new");
        let again = sample_groups(&more, &[4; 51], 40);
        let common = again.iter().filter(|i| chosen.contains(i)).count();
        assert!(common >= 9, "{common}");
        // Under the cap, everything.
        assert_eq!(sample_groups(&refs[..3], &sizes[..3], 40).len(), 3);
        // Two groups at least, however large.
        assert_eq!(sample_groups(&refs[..5], &[500; 5], 40).len(), 2);
    }

    #[test]
    fn statement_vectors_are_unit_length_and_identical_texts_are_alike() {
        let a = vec![("storm".to_string(), 2), ("sea".to_string(), 1)];
        let b = vec![("meadow".to_string(), 1)];
        let v = tfidf_vectors([a.as_slice(), a.as_slice(), b.as_slice()].into_iter());
        assert!((cosine(&v[0], &v[1]).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(cosine(&v[0], &v[2]), Some(0.0));
        assert_eq!(cosine(&v[0], &Vec::new()), None);
    }
}
