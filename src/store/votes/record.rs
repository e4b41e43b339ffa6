//! Who imported what: beside each votes file that `chorus votes import` writes
//! (`votes/<name>.json`), a record `votes/<name>.import.json` of where its votes came
//! from: the downloaded file's SHA-256, when it was imported, and each voter label with
//! its votes there. Written one way (fields in order, labels sorted, pretty JSON), so the
//! same import makes the same bytes. Read back as untrusted as anything under `runs/`:
//! capped, parsed strictly, and the file it names is only compared, never opened.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{clean_voter, Vote, VoteProblem, MAX_VOTES_FILE_BYTES, RECORD_SUFFIX, VOTES_DIR};
use crate::store::files::{is_regular_file, read_capped, read_folder};

/// The `format` of every import record.
pub const RECORD_FORMAT: &str = "chorus-votes-import";
/// The version this chorus writes and the only one it reads.
pub const RECORD_VERSION: u32 = 1;

/// An import record. A record never holds more than the votes file it describes (each
/// label it lists came on a vote there), so the votes files' cap holds for it too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportRecord {
    pub format: String,
    pub version: u32,
    /// The votes file beside it: `<name>.json` for `<name>.import.json`.
    pub votes_file: String,
    /// Hex SHA-256 of the downloaded file as it was imported.
    pub source_sha256: String,
    /// RFC 3339, UTC, to the second, by the importing machine's clock.
    pub imported_at: String,
    /// Each voter label in the votes file, sorted, with its votes there.
    pub voters: Vec<VoterCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VoterCount {
    pub voter: String,
    pub votes: usize,
}

/// Where the record of the votes file `votes_file` lives.
pub fn record_path(votes_file: &Path) -> PathBuf {
    let stem = votes_file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    votes_file.with_file_name(format!("{stem}{RECORD_SUFFIX}"))
}

/// The record of `votes`, written to `votes_file_name` from a file whose SHA-256 is
/// `source_sha256`, at `imported_at`.
pub fn render_record(
    votes_file_name: &str,
    source_sha256: &str,
    imported_at: chrono::DateTime<chrono::Utc>,
    votes: &[&Vote],
) -> Vec<u8> {
    let mut by_voter: BTreeMap<&str, usize> = BTreeMap::new();
    for v in votes {
        *by_voter.entry(v.voter.as_str()).or_default() += 1;
    }
    crate::store::to_json(&ImportRecord {
        format: RECORD_FORMAT.into(),
        version: RECORD_VERSION,
        votes_file: votes_file_name.into(),
        source_sha256: source_sha256.into(),
        imported_at: imported_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        voters: by_voter
            .into_iter()
            .map(|(voter, votes)| VoterCount {
                voter: voter.into(),
                votes,
            })
            .collect(),
    })
}

/// The import records of a group folder, each read and checked; what is wrong with any.
pub fn read_records(group_dir: &Path) -> (Vec<ImportRecord>, Vec<VoteProblem>) {
    let mut records = Vec::new();
    let mut problems = Vec::new();
    let Ok(Some(entries)) = read_folder(&group_dir.join(VOTES_DIR)) else {
        return (records, problems);
    };
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(RECORD_SUFFIX) || name.starts_with('.') {
            continue;
        }
        let path = e.path();
        match read_record(&path, &name) {
            Ok(r) => records.push(r),
            Err(reason) => problems.push(VoteProblem {
                file: path,
                vote: None,
                reason,
            }),
        }
    }
    (records, problems)
}

fn read_record(path: &Path, name: &str) -> Result<ImportRecord, String> {
    let bytes = read_capped(path, MAX_VOTES_FILE_BYTES)?;
    let r: ImportRecord =
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(&bytes))
            .map_err(|e| {
                format!(
                    "not an import record (field \"{}\": {})",
                    e.path(),
                    e.inner()
                )
            })?;
    if r.format != RECORD_FORMAT || r.version != RECORD_VERSION {
        return Err(format!(
            "expected format \"{RECORD_FORMAT}\" version {RECORD_VERSION}, found {:?} version {}",
            r.format, r.version
        ));
    }
    let expected = format!("{}.json", name.trim_end_matches(RECORD_SUFFIX));
    if r.votes_file != expected {
        return Err(format!(
            "field \"votesFile\": {:?}, but a record describes the votes file beside it, {expected}",
            r.votes_file
        ));
    }
    if !is_regular_file(&path.with_file_name(&expected)) {
        return Err(format!(
            "describes {expected}, which is not there (removed without its record?)"
        ));
    }
    if r.source_sha256.len() != 64 || !r.source_sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "field \"sourceSha256\": {:?} is not a SHA-256 (64 hex digits)",
            r.source_sha256
        ));
    }
    if chrono::DateTime::parse_from_rfc3339(&r.imported_at).is_err() {
        return Err(format!(
            "field \"importedAt\": {:?} is not an RFC 3339 time",
            r.imported_at
        ));
    }
    if let Some(v) = r.voters.iter().find(|v| clean_voter(&v.voter) != v.voter) {
        return Err(format!(
            "field \"voters\": {:?} is not a label import would keep",
            v.voter
        ));
    }
    Ok(r)
}
