//! `chorus votes import`: a downloaded votes file into the history. Everything is checked
//! before anything is written; each group's new votes go to new files under
//! `runs/<group-id>/votes/`, laid out by `write` within the cap every reader applies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::write::render_parts;
use super::{parse_votes, votes_files, GroupTokens, ParsedVotes, Vote, VoteProblem};
use super::{MAX_VOTES_FILE_BYTES, VOTES_DIR};
use crate::fsutil::write_atomic;
use crate::store::files::read_capped;
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

/// What an import did: each group's new votes, and how many labels it cleaned.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportReport {
    pub groups: Vec<GroupImport>,
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

/// Imports a downloaded votes file into `runs_dir`: everything is checked first (the
/// file, every vote against its group's images, ids against the votes already there) and
/// nothing is written unless all of it is sound. Votes already imported are skipped, so
/// importing a file twice changes nothing. Each group's new votes go to one new file,
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
    let mut problems = Vec::new();
    let mut plans: Vec<(GroupImport, PathBuf, Vec<Vote>)> = Vec::new();
    for (gid, votes) in &by_group {
        let problem = |n: usize, v: &Vote, reason: String| VoteProblem {
            file: file.to_path_buf(),
            vote: Some((n, Some(v.id))),
            reason,
        };
        // The id is a parsed UUID, so this path stays inside runs/.
        let dir = runs_dir.join(gid.to_string());
        let loaded = std::fs::symlink_metadata(&dir)
            .is_ok_and(|m| m.is_dir())
            .then(|| load_group_dir(&dir).0)
            .flatten();
        let Some(g) = loaded else {
            for (n, v) in votes {
                problems.push(problem(*n, v, format!(
                    "field \"groupId\": unknown group {gid}: there is no readable {} (was the vote cast on another project's site?)",
                    dir.join(GROUP_FILE).display()
                )));
            }
            continue;
        };
        let tokens = GroupTokens::read(&g);
        let mut existing: BTreeMap<Uuid, (Vote, PathBuf)> = BTreeMap::new();
        for f in votes_files(&dir) {
            match read_capped(&f, MAX_VOTES_FILE_BYTES)
                .map_err(|reason| {
                    vec![VoteProblem {
                        file: f.clone(),
                        vote: None,
                        reason,
                    }]
                })
                .and_then(|b| parse_votes(&f, &b))
            {
                Ok(v) => {
                    for vote in v.file.votes {
                        existing.entry(vote.id).or_insert((vote, f.clone()));
                    }
                }
                Err(p) => problems.extend(p.into_iter().map(|mut p| {
                    p.reason += " (fix or remove this file before importing more votes)";
                    p
                })),
            }
        }
        let mut new = Vec::new();
        let mut known = 0;
        for (n, v) in votes {
            if let Some((old, at)) = existing.get(&v.id) {
                if old == *v {
                    known += 1;
                } else {
                    problems.push(problem(
                        *n,
                        v,
                        format!(
                            "duplicate id: {} already holds a different vote with this id",
                            at.display()
                        ),
                    ));
                }
                continue;
            }
            match tokens.resolve(v) {
                Ok(_) => new.push((*v).clone()),
                Err(reason) => problems.push(problem(*n, v, reason)),
            }
        }
        plans.push((
            GroupImport {
                group_id: *gid,
                added: new.len(),
                known,
                written: Vec::new(),
            },
            dir,
            new,
        ));
    }
    if !problems.is_empty() {
        return Err(ImportError::Refused(problems));
    }

    let mut done = Vec::new();
    let mut written = Written::default();
    for (mut report, dir, mut new) in plans {
        if !new.is_empty() {
            new.sort_by(|a, b| (&a.voted_at, a.id).cmp(&(&b.voted_at, b.id)));
            let votes_dir = dir.join(VOTES_DIR);
            if std::fs::symlink_metadata(&votes_dir).is_err() {
                written.dirs.push(votes_dir.clone());
            }
            for bytes in render_parts(&new, MAX_VOTES_FILE_BYTES as usize) {
                let path = votes_dir.join(format!("{}.json", &sha256_hex(&bytes)[..16]));
                // Named by its content: a file already there holds these very votes, and
                // is not this import's to take back.
                if std::fs::symlink_metadata(&path).is_err() {
                    if let Err(e) = write_atomic(&path, &bytes) {
                        return Err(written.take_back(path, e));
                    }
                    written.files.push(path.clone());
                }
                report.written.push(path);
            }
        }
        done.push(report);
    }
    Ok(ImportReport {
        groups: done,
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
