//! Blind votes in the history: the versioned votes file a blind page downloads
//! (docs/votes.md), its validation against the groups under `runs/`, and `chorus votes
//! import`, which adds the new votes of each group as one file under
//! `runs/<group-id>/votes/`. Votes files are untrusted like everything under `runs/`:
//! capped, parsed strictly, and they never choose a path (only a validated group id does).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::files::{read_capped, read_folder, MAX_IMAGE_BYTES};
use super::{sha256_hex, LoadedGroup, RunRecord};
use crate::fsutil::TEMP_PREFIX;

mod import;
mod label;
mod parse;
mod record;
mod write;

pub use import::{import, GroupImport, ImportError, ImportReport, Skipped};
pub use label::{clean_voter, mend_lone_surrogates, ANONYMOUS, MAX_VOTER_CHARS};
pub use parse::parse_votes;
pub use record::{read_records, record_path, ImportRecord, VoterCount, RECORD_FORMAT};

/// The `format` every votes file carries.
pub const VOTES_FORMAT: &str = "chorus-votes";
/// The version this chorus writes and the only one it reads.
pub const VOTES_VERSION: u32 = 1;
/// Where a group keeps its votes.
pub const VOTES_DIR: &str = "votes";
/// How an import record beside the votes files ends (see `record`).
pub const RECORD_SUFFIX: &str = ".import.json";
/// The most a votes file may hold (a vote is about 300 bytes).
pub const MAX_VOTES_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// A votes file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VotesFile {
    pub format: String,
    pub version: u32,
    pub votes: Vec<Vote>,
}

/// One vote: on the blind page of `group_id`, the viewer picked the image `winner` as the
/// best of those shown (`winner` and `losers`). Images are named by their blind token
/// ([`vote_token`]), never by the Artist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Vote {
    pub id: Uuid,
    pub group_id: Uuid,
    pub winner: String,
    pub losers: Vec<String>,
    /// RFC 3339, as the browser's clock said.
    pub voted_at: String,
    /// What the viewer chose to be called; "anonymous" unless they said otherwise.
    /// Always cleaned ([`clean_voter`]) once read.
    pub voter: String,
}

/// A votes file as read: its votes, and how many voter labels had to be cleaned.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedVotes {
    pub file: VotesFile,
    pub cleaned_labels: usize,
}

/// A vote with its images resolved to Artists, and the label it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedVote {
    pub voter: String,
    pub winner: String,
    pub losers: Vec<String>,
}

/// What a problem with votes is about: a file, and in it a vote (1-based, with its id).
/// Shown with control and bidi characters escaped (see `untrusted`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", crate::untrusted::escape_controls(&format!("{}{}: {reason}", file.display(), vote.as_ref().map(|(n, id)| format!(": vote {n}{}", id.map(|i| format!(" (id {i})")).unwrap_or_default())).unwrap_or_default())))]
pub struct VoteProblem {
    pub file: PathBuf,
    pub vote: Option<(usize, Option<Uuid>)>,
    pub reason: String,
}

/// The opaque name of an image's thumbnails: a hash of the group and the image's
/// content, so it says nothing of the Artist.
pub fn blind_token(group_id: &str, image_sha256: &str) -> String {
    sha256_hex(format!("blind/{group_id}/{image_sha256}").as_bytes())[..20].to_string()
}

/// What a run's record holds and no page shows: its timestamps below the second (pages
/// show times to the second). Fixed once the run has its image; a run made again gets
/// new ones.
pub fn run_secret(run: &RunRecord) -> String {
    let nanos =
        |t: &chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let mut parts = vec![nanos(&run.created_at)];
    let stages = [&run.meta.artist, &run.meta.brush, &run.meta.download];
    parts.extend(
        stages
            .iter()
            .filter_map(|s| s.as_ref())
            .map(|s| nanos(&s.finished_at)),
    );
    parts.join("|")
}

/// The opaque name of one run's image in votes: a hash of the group, the run's Artist, its
/// image's content and [`run_secret`]. It tells apart two Artists whose images are
/// identical, and it changes when the run is painted again (the vote was about the old
/// image). Someone who reads the named pages can hash a published image, but without the
/// run's secret cannot turn that into the blind page's token.
pub fn vote_token(group_id: &str, artist_slug: &str, image_sha256: &str, secret: &str) -> String {
    let text = format!("vote2/{group_id}/{artist_slug}/{image_sha256}/{secret}");
    sha256_hex(text.as_bytes())[..20].to_string()
}

/// The token blind pages offered before [`vote_token`] took the run's secret: anyone with
/// a published original could compute it. Still accepted, so that the votes already in a
/// history, and files downloaded from older pages, keep counting.
pub fn legacy_vote_token(group_id: &str, artist_slug: &str, image_sha256: &str) -> String {
    sha256_hex(format!("vote/{group_id}/{artist_slug}/{image_sha256}").as_bytes())[..20].to_string()
}

/// A group's vote tokens: token → Artist slug.
#[derive(Debug, Clone, Default)]
pub struct GroupTokens {
    pub slugs: BTreeMap<String, String>,
}

impl GroupTokens {
    /// From (slug, image SHA-256, [`run_secret`]) triples; each run answers to its token
    /// and to its legacy one.
    pub fn new<'a>(
        group_id: &str,
        images: impl IntoIterator<Item = (&'a str, &'a str, String)>,
    ) -> Self {
        let mut slugs = BTreeMap::new();
        for (slug, sha, secret) in images {
            slugs.insert(legacy_vote_token(group_id, slug, sha), slug.to_string());
            slugs.insert(vote_token(group_id, slug, sha, &secret), slug.to_string());
        }
        GroupTokens { slugs }
    }

    /// The tokens of a group as read from disk: each run's image hashed.
    pub fn read(g: &LoadedGroup) -> Self {
        let hashed: Vec<(String, String, String)> = g
            .runs
            .iter()
            .filter_map(|run| {
                let file = run.image_file.as_deref()?;
                let ext = file.strip_prefix(&format!("{}.", run.artist_slug))?;
                if ext.is_empty() || !ext.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return None;
                }
                let bytes = read_capped(&g.dir.join(file), MAX_IMAGE_BYTES).ok()?;
                Some((run.artist_slug.clone(), sha256_hex(&bytes), run_secret(run)))
            })
            .collect();
        GroupTokens::new(
            &g.group.run_group_id.to_string(),
            hashed
                .iter()
                .map(|(a, b, c)| (a.as_str(), b.as_str(), c.clone())),
        )
    }

    /// The vote with its tokens resolved, or why it cannot count.
    pub fn resolve(&self, vote: &Vote) -> Result<CountedVote, String> {
        let name = |token: &str, field: &str| -> Result<String, String> {
            self.slugs.get(token).cloned().ok_or_else(|| {
                format!(
                    "field \"{field}\": {token:?} is not an image of group {} (was the run painted again since the vote?)",
                    vote.group_id
                )
            })
        };
        let winner = name(&vote.winner, "winner")?;
        let mut losers = Vec::with_capacity(vote.losers.len());
        for (i, l) in vote.losers.iter().enumerate() {
            losers.push(name(l, &format!("losers[{i}]"))?);
        }
        losers.sort();
        Ok(CountedVote {
            voter: vote.voter.clone(),
            winner,
            losers,
        })
    }
}

/// The votes files of a group folder, sorted by name: `votes/*.json` (import records, `*.import.json`, are not votes). No files when there is no `votes/`;
/// why not when it is a link or not a folder (the group's problems say so, and its votes
/// are never read: a link would count, and publish the names of, files from elsewhere).
pub fn votes_files(group_dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = read_folder(&group_dir.join(VOTES_DIR))?.unwrap_or_default();
    Ok(entries
        .into_iter()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.ends_with(".json")
                && !name.ends_with(RECORD_SUFFIX)
                && !name.starts_with('.')
                && !name.starts_with(TEMP_PREFIX)
        })
        .map(|e| e.path())
        .collect())
}

/// The votes a group's folder holds, each counted once, with what could not be counted.
/// Votes for another group, unknown images and ids used twice with different content are
/// problems; the rest count.
pub fn group_votes(
    group_dir: &Path,
    group_id: Uuid,
    tokens: &GroupTokens,
) -> (Vec<CountedVote>, Vec<VoteProblem>) {
    let mut counted = Vec::new();
    let mut problems = Vec::new();
    let mut seen: BTreeMap<Uuid, (Vote, PathBuf)> = BTreeMap::new();
    for file in votes_files(group_dir).unwrap_or_default() {
        let parsed = read_capped(&file, MAX_VOTES_FILE_BYTES)
            .map_err(|reason| {
                vec![VoteProblem {
                    file: file.clone(),
                    vote: None,
                    reason,
                }]
            })
            .and_then(|bytes| parse_votes(&file, &bytes));
        let votes = match parsed {
            Ok(v) => v.file.votes,
            Err(p) => {
                problems.extend(p);
                continue;
            }
        };
        let mut elsewhere = 0;
        for (i, vote) in votes.into_iter().enumerate() {
            let mut problem = |reason: String| {
                problems.push(VoteProblem {
                    file: file.clone(),
                    vote: Some((i + 1, Some(vote.id))),
                    reason,
                })
            };
            if vote.group_id != group_id {
                elsewhere += 1;
                continue;
            }
            if let Some((known, at)) = seen.get(&vote.id) {
                if *known != vote {
                    // Named within the folder: the list on the index shows no machine path.
                    problem(format!(
                        "duplicate id: {} in the same folder holds a different vote with this id; this one is not counted",
                        at.file_name().unwrap_or_default().to_string_lossy()
                    ));
                }
                continue;
            }
            match tokens.resolve(&vote) {
                Ok(c) => counted.push(c),
                Err(reason) => problem(reason),
            }
            seen.insert(vote.id, (vote, file.clone()));
        }
        if elsewhere > 0 {
            problems.push(VoteProblem {
                file: file.clone(),
                vote: None,
                reason: format!(
                    "{elsewhere} vote(s) belong to other groups and are not counted here; import the downloaded file with `chorus votes import FILE`, which files each vote under its group"
                ),
            });
        }
    }
    // Records are checked where votes are, so `check` and the build say the same.
    problems.extend(read_records(group_dir).1);
    (counted, problems)
}

/// Whether a group folder's `votes/` holds any votes file or import record: without
/// one there is nothing to read (and no image to hash for the tokens).
pub fn holds_votes(group_dir: &Path) -> bool {
    read_folder(&group_dir.join(VOTES_DIR))
        .ok()
        .flatten()
        .is_some_and(|entries| {
            entries
                .iter()
                .any(|e| e.file_name().to_string_lossy().ends_with(".json"))
        })
}

/// The problems of a loaded group's votes files, as `chorus check` reports them.
pub fn check_group_votes(g: &LoadedGroup) -> Vec<VoteProblem> {
    if !holds_votes(&g.dir) {
        return Vec::new();
    }
    group_votes(&g.dir, g.group.run_group_id, &GroupTokens::read(g)).1
}

#[cfg(test)]
mod tests {
    use super::parse::check_fields;
    use super::*;

    #[test]
    fn tokens_resolve_to_artists_even_when_their_images_are_identical() {
        let g = "5bde0f55-34a5-4094-98b6-57738293c652";
        let t = GroupTokens::new(
            g,
            [("a", "1"), ("b", "2"), ("c", "3"), ("d", "3")].map(|(a, s)| (a, s, format!("t{a}"))),
        );
        let vote = |w: &str, l: &[&str]| Vote {
            id: Uuid::nil(),
            group_id: Uuid::parse_str(g).unwrap(),
            winner: w.into(),
            losers: l.iter().map(|s| s.to_string()).collect(),
            voted_at: String::new(),
            voter: String::new(),
        };
        let tok = |slug: &str, sha: &str| vote_token(g, slug, sha, &format!("t{slug}"));
        // Votes from before the secret still count; a wrong secret does not.
        let legacy = t.resolve(&vote(&legacy_vote_token(g, "b", "2"), &[&tok("a", "1")]));
        assert_eq!(legacy.unwrap().winner, "b");
        let guessed = vote_token(g, "b", "2", "");
        assert!(t.resolve(&vote(&guessed, &[&tok("a", "1")])).is_err());
        assert_eq!(
            t.resolve(&vote(&tok("b", "2"), &[&tok("a", "1")])).unwrap(),
            CountedVote {
                voter: String::new(),
                winner: "b".into(),
                losers: vec!["a".into()]
            }
        );
        assert_eq!(
            t.resolve(&vote(&tok("d", "3"), &[&tok("c", "3")])).unwrap(),
            CountedVote {
                voter: String::new(),
                winner: "d".into(),
                losers: vec!["c".into()]
            }
        );
        let unknown = t.resolve(&vote(&tok("a", "9"), &[&tok("b", "2")]));
        assert!(unknown.unwrap_err().contains("not an image"));
        let mut twice = vote(&tok("a", "1"), &[&tok("b", "2"), &tok("a", "1")]);
        twice.voted_at = "2026-11-30T12:00:00Z".into();
        assert!(check_fields(&twice).unwrap_err().contains("losers[1]"));
    }
}
