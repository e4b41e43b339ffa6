//! `chorus votes import`: a downloaded votes file into the history. Everything is checked
//! before anything is written; each group's new votes go to new files under
//! `runs/<group-id>/votes/`, laid out by `write` within the cap every reader applies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::record::{record_path, render_record};
use super::write::render_parts;
use super::{parse_votes, votes_files, GroupTokens, ParsedVotes, Vote, VoteProblem};
use super::{MAX_VOTES_FILE_BYTES, VOTES_DIR};
use crate::store::files::{linked_on_the_way, read_capped, write_under};
use crate::store::{load_group_dir, sha256_hex, GROUP_FILE};

/// What an import did for one group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupImport {
    pub group_id: Uuid,
    pub added: usize,
    pub known: usize,
    /// The files written (none when no vote was new; more than one when one file would
    /// be over the cap).
    pub written: Vec<PathBuf>,
}

/// Votes an import left out because they no longer apply, by group and reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub group_id: Uuid,
    /// Each vote's number in the file (1-based) and its id.
    pub votes: Vec<(usize, Uuid)>,
    pub reason: String,
}

/// What an import did: each group's new votes, the votes it skipped, and how many labels
/// it cleaned.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportReport {
    pub groups: Vec<GroupImport>,
    pub skipped: Vec<Skipped>,
    pub cleaned_labels: usize,
}

/// Why an import wrote nothing (or, at worst, says exactly what it left).
#[derive(Debug, Clone, PartialEq)]
pub enum ImportError {
    /// The file is not sound; nothing was written.
    Refused(Vec<VoteProblem>),
    /// Writing `path` failed. The files this import had written before it are removed
    /// again (`removed` of them); `left` names any that could not be.
    Write {
        path: PathBuf,
        error: String,
        removed: usize,
        left: Vec<PathBuf>,
    },
}

impl From<Vec<VoteProblem>> for ImportError {
    fn from(problems: Vec<VoteProblem>) -> Self {
        ImportError::Refused(problems)
    }
}

/// Imports a downloaded votes file into `runs_dir`: everything is checked first, and a
/// file that is not sound (format, version, fields, ids twice in it) is refused whole.
/// Votes that no longer apply (their group is gone or is another gallery's, their image
/// was painted again, their id was taken by another vote, or their group holds a votes
/// file that cannot be read) are skipped with the reason, and the rest imported: a
/// browser keeps offering every vote it holds, so refusing the file for one would refuse
/// every later download too. Votes already imported are skipped silently, so importing
/// a file twice changes nothing. Each group's new votes go to one new file,
/// `runs/<group-id>/votes/<hash of its content>.json` (several when one would be over
/// the cap), written atomically. Across groups it is all or nothing: when a write fails,
/// the files written before it are removed again.
pub fn import(runs_dir: &Path, file: &Path) -> Result<ImportReport, ImportError> {
    let whole = |reason: String| {
        vec![VoteProblem {
            file: file.to_path_buf(),
            vote: None,
            reason,
        }]
    };
    let bytes = read_capped(file, MAX_VOTES_FILE_BYTES).map_err(whole)?;
    let source_sha256 = sha256_hex(&bytes);
    let imported_at = chrono::Utc::now();
    let ParsedVotes {
        file: parsed,
        cleaned_labels,
    } = parse_votes(file, &bytes)?;
    if parsed.votes.is_empty() {
        return Err(whole(
            "holds no votes; vote on a group's blind page first, then download".into(),
        )
        .into());
    }

    let mut by_group: BTreeMap<Uuid, Vec<(usize, &Vote)>> = BTreeMap::new();
    for (i, v) in parsed.votes.iter().enumerate() {
        by_group.entry(v.group_id).or_default().push((i + 1, v));
    }
    // Before anything is read or written there: a group whose votes/ (or whose folder)
    // is a link refuses the import, so no vote and no temp file lands outside the project.
    let refused: Vec<VoteProblem> = by_group
        .keys()
        .filter_map(|gid| {
            let probe = runs_dir
                .join(gid.to_string())
                .join(VOTES_DIR)
                .join("probe.json");
            linked_on_the_way(runs_dir, &probe)
        })
        .map(|reason| VoteProblem {
            file: file.to_path_buf(),
            vote: None,
            reason: format!("cannot add votes: {reason}"),
        })
        .collect();
    if !refused.is_empty() {
        return Err(refused.into());
    }
    let mut skips = Skips::default();
    let plans: Vec<Plan> = by_group
        .iter()
        .map(|(gid, votes)| plan_group(runs_dir, *gid, votes, &mut skips))
        .collect();

    let mut done = Vec::new();
    let mut written = Written::default();
    for Plan {
        mut report,
        dir,
        mut new,
    } in plans
    {
        if !new.is_empty() {
            new.sort_by(|a, b| (&a.voted_at, a.id).cmp(&(&b.voted_at, b.id)));
            let votes_dir = dir.join(VOTES_DIR);
            if std::fs::symlink_metadata(&votes_dir).is_err() {
                written.dirs.push(votes_dir.clone());
            }
            for part in render_parts(&new, MAX_VOTES_FILE_BYTES as usize) {
                let name = format!("{}.json", &sha256_hex(&part.bytes)[..16]);
                let path = votes_dir.join(&name);
                // Named by its content: a file already there holds these very votes, and
                // is not this import's to take back (nor to record again).
                if std::fs::symlink_metadata(&path).is_err() {
                    let votes: Vec<&Vote> = new[part.votes.clone()].iter().collect();
                    let record = render_record(&name, &source_sha256, imported_at, &votes);
                    for (at, bytes) in [(path.clone(), part.bytes), (record_path(&path), record)] {
                        if let Err(e) = write_under(runs_dir, &at, &bytes) {
                            return Err(written.take_back(at, e));
                        }
                        written.files.push(at);
                    }
                }
                report.written.push(path);
            }
        }
        done.push(report);
    }
    Ok(ImportReport {
        groups: done,
        skipped: skips.into_list(),
        cleaned_labels,
    })
}

/// What an import has written so far, to take back when a later write fails.
#[derive(Default)]
struct Written {
    files: Vec<PathBuf>,
    /// `votes/` folders this import made.
    dirs: Vec<PathBuf>,
}

impl Written {
    fn take_back(self, path: PathBuf, error: std::io::Error) -> ImportError {
        let left: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|f| std::fs::remove_file(f).is_err())
            .cloned()
            .collect();
        for d in &self.dirs {
            // Only an empty folder goes; one that holds anything stays.
            let _ = std::fs::remove_dir(d);
        }
        ImportError::Write {
            path,
            error: error.to_string(),
            removed: self.files.len() - left.len(),
            left,
        }
    }
}

/// One group's share of an import: what it will write and report.
struct Plan {
    report: GroupImport,
    dir: PathBuf,
    new: Vec<Vote>,
}

/// The votes skipped so far, by group and reason.
#[derive(Default)]
struct Skips(BTreeMap<(Uuid, String), Vec<(usize, Uuid)>>);

impl Skips {
    fn add(&mut self, group: Uuid, reason: &str, (n, vote): (usize, &Vote)) {
        self.0
            .entry((group, reason.to_string()))
            .or_default()
            .push((n, vote.id));
    }

    fn into_list(self) -> Vec<Skipped> {
        self.0
            .into_iter()
            .map(|((group_id, reason), votes)| Skipped {
                group_id,
                votes,
                reason,
            })
            .collect()
    }
}

/// What to do with one group's votes: the new ones to write, the known ones to count,
/// and the ones that no longer apply, skipped into `skips`.
fn plan_group(runs_dir: &Path, gid: Uuid, votes: &[(usize, &Vote)], skips: &mut Skips) -> Plan {
    // The id is a parsed UUID, so this path stays inside runs/.
    let dir = runs_dir.join(gid.to_string());
    let shown = |p: &Path| {
        let base = runs_dir.parent().unwrap_or(runs_dir);
        p.strip_prefix(base).unwrap_or(p).display().to_string()
    };
    let mut plan = Plan {
        report: GroupImport {
            group_id: gid,
            added: 0,
            known: 0,
            written: Vec::new(),
        },
        dir: dir.clone(),
        new: Vec::new(),
    };
    let is_dir = std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir());
    let loaded = is_dir.then(|| load_group_dir(&dir).0).flatten();
    let Some(g) = loaded else {
        let reason = if is_dir {
            format!(
                "{} cannot be read (`chorus check` says why)",
                shown(&dir.join(GROUP_FILE))
            )
        } else {
            "no such group under runs/ (deleted since the vote, or the vote was cast in another gallery on the same site: galleries on one origin, such as you.github.io, share a browser's votes)".to_string()
        };
        votes.iter().for_each(|&v| skips.add(gid, &reason, v));
        return plan;
    };
    let existing = match existing_votes(&dir) {
        Ok(existing) => existing,
        Err(problem) => {
            let reason = format!(
                "{} cannot be read ({}); without its votes none can be added beside them: fix or remove that file, then import again",
                shown(&problem.file),
                problem.reason
            );
            votes.iter().for_each(|&v| skips.add(gid, &reason, v));
            return plan;
        }
    };
    let tokens = GroupTokens::read(&g);
    for &(n, v) in votes {
        match existing.get(&v.id) {
            Some((old, _)) if old == v => plan.report.known += 1,
            Some((_, at)) => skips.add(
                gid,
                &format!(
                    "{} already holds a different vote with this id; the one imported first stands",
                    shown(at)
                ),
                (n, v),
            ),
            None if tokens.resolve(v).is_err() => skips.add(
                gid,
                "names an image the group no longer has (a run painted again since the vote)",
                (n, v),
            ),
            None => plan.new.push(v.clone()),
        }
    }
    plan.report.added = plan.new.len();
    plan
}

/// The votes already under a group's `votes/`, by id, with the file holding each; or the
/// first problem of a file that cannot be read.
fn existing_votes(dir: &Path) -> Result<BTreeMap<Uuid, (Vote, PathBuf)>, VoteProblem> {
    let mut existing = BTreeMap::new();
    // A `votes` that is not a folder holds no votes; writing beside it then fails and is
    // taken back (a linked one refused the import before this).
    for f in votes_files(dir).unwrap_or_default() {
        let parsed = read_capped(&f, MAX_VOTES_FILE_BYTES)
            .map_err(|reason| {
                vec![VoteProblem {
                    file: f.clone(),
                    vote: None,
                    reason,
                }]
            })
            .and_then(|b| parse_votes(&f, &b));
        match parsed {
            Ok(v) => {
                for vote in v.file.votes {
                    existing.entry(vote.id).or_insert((vote, f.clone()));
                }
            }
            Err(mut problems) => return Err(problems.remove(0)),
        }
    }
    Ok(existing)
}
