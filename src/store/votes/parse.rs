//! A votes file read on its own: format, version, fields, and every vote's fields and
//! id checked, labels cleaned rather than refused. What the groups under `runs/` say of
//! the votes (their images, their ids elsewhere) is decided by the callers.

use std::collections::BTreeMap;
use std::path::Path;

use uuid::Uuid;

use super::{clean_voter, mend_lone_surrogates, ParsedVotes, Vote, VoteProblem, VotesFile};
use super::{VOTES_FORMAT, VOTES_VERSION};

/// The fields of a votes file; any other is refused, as in each vote (a typo should
/// not pass silently).
const TOP_LEVEL_FIELDS: &[&str] = &["format", "version", "votes"];
/// Parses and checks a votes file on its own (format, version, fields, unique ids).
/// Voter labels are cleaned, not refused (see `label`), and a lone surrogate, which a
/// browser may have written in a label, no longer makes the whole file unreadable.
pub fn parse_votes(file: &Path, bytes: &[u8]) -> Result<ParsedVotes, Vec<VoteProblem>> {
    let whole = |reason: String| {
        vec![VoteProblem {
            file: file.to_path_buf(),
            vote: None,
            reason,
        }]
    };
    let mended = mend_lone_surrogates(bytes);
    let value: serde_json::Value = serde_json::from_slice(mended.as_deref().unwrap_or(bytes))
        .map_err(|e| whole(format!("not valid JSON ({e}); is it a chorus votes file?")))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(VOTES_FORMAT) {
        return Err(whole(format!(
            "field \"format\": expected \"{VOTES_FORMAT}\"; this is not a chorus votes file"
        )));
    }
    match value.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(VOTES_VERSION) => {}
        Some(v) if v > u64::from(VOTES_VERSION) => {
            return Err(whole(format!(
                "field \"version\": version {v} is newer than this chorus reads ({VOTES_VERSION}); upgrade chorus"
            )))
        }
        other => {
            return Err(whole(format!(
                "field \"version\": expected {VOTES_VERSION}, found {}",
                other.map_or_else(
                    || value.get("version").map_or("nothing".into(), |v| v.to_string()),
                    |v| v.to_string()
                )
            )))
        }
    }
    let unknown: Vec<VoteProblem> = value
        .as_object()
        .into_iter()
        .flat_map(|o| o.keys())
        .filter(|k| !TOP_LEVEL_FIELDS.contains(&k.as_str()))
        .map(|k| VoteProblem {
            file: file.to_path_buf(),
            vote: None,
            reason: format!(
                "field {k:?}: unknown field; a votes file holds only {}",
                TOP_LEVEL_FIELDS.join(", ")
            ),
        })
        .collect();
    if !unknown.is_empty() {
        return Err(unknown);
    }
    let Some(votes) = value.get("votes").and_then(|v| v.as_array()) else {
        return Err(whole("field \"votes\": expected a list of votes".into()));
    };
    let mut problems = Vec::new();
    let mut parsed = Vec::new();
    let mut seen: BTreeMap<Uuid, usize> = BTreeMap::new();
    let mut cleaned_labels = 0;
    for (i, v) in votes.iter().enumerate() {
        let id = v
            .get("id")
            .and_then(|s| s.as_str())
            .and_then(|s| Uuid::parse_str(s).ok());
        let mut problem = |reason: String| {
            problems.push(VoteProblem {
                file: file.to_path_buf(),
                vote: Some((i + 1, id)),
                reason,
            })
        };
        let mut vote: Vote = match serde_path_to_error::deserialize(v) {
            Ok(vote) => vote,
            Err(e) => {
                let field = e.path().to_string();
                let inner = e.into_inner();
                problem(if field == "." {
                    inner.to_string()
                } else {
                    format!("field \"{field}\": {inner}")
                });
                continue;
            }
        };
        let voter = clean_voter(&vote.voter);
        if voter != vote.voter {
            cleaned_labels += 1;
            vote.voter = voter;
        }
        if let Err(reason) = check_fields(&vote) {
            problem(reason);
            continue;
        }
        if let Some(first) = seen.insert(vote.id, i + 1) {
            problem(format!(
                "duplicate id: vote {first} has the same id; every vote needs its own"
            ));
            continue;
        }
        parsed.push(vote);
    }
    if problems.is_empty() {
        Ok(ParsedVotes {
            file: VotesFile {
                format: VOTES_FORMAT.into(),
                version: VOTES_VERSION,
                votes: parsed,
            },
            cleaned_labels,
        })
    } else {
        Err(problems)
    }
}

pub(super) fn check_fields(vote: &Vote) -> Result<(), String> {
    let token_ok = |t: &str| t.len() == 20 && t.bytes().all(|b| b.is_ascii_hexdigit());
    if !token_ok(&vote.winner) {
        return Err(format!(
            "field \"winner\": {:?} is not an image token (20 hex digits)",
            vote.winner
        ));
    }
    if vote.losers.is_empty() {
        return Err("field \"losers\": a vote needs at least one other image".into());
    }
    if vote.losers.len() >= crate::store::MAX_ARTISTS_PER_GROUP {
        return Err(format!(
            "field \"losers\": {} images, more than a group can show",
            vote.losers.len()
        ));
    }
    if let Some(bad) = vote.losers.iter().find(|t| !token_ok(t)) {
        return Err(format!(
            "field \"losers\": {bad:?} is not an image token (20 hex digits)"
        ));
    }
    // Distinct images: a token twice would count one pair twice, or a win over itself.
    for (i, l) in vote.losers.iter().enumerate() {
        if *l == vote.winner || vote.losers[..i].contains(l) {
            return Err(format!(
                "field \"losers[{i}]\": {l:?} appears twice in the vote"
            ));
        }
    }
    if chrono::DateTime::parse_from_rfc3339(&vote.voted_at).is_err() {
        return Err(format!(
            "field \"votedAt\": {:?} is not an RFC 3339 time",
            vote.voted_at
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote_json(id: &str, winner: &str, losers: &[&str]) -> serde_json::Value {
        serde_json::json!({
            "id": id, "groupId": "5bde0f55-34a5-4094-98b6-57738293c652",
            "winner": winner, "losers": losers,
            "votedAt": "2026-11-30T12:00:00.000Z", "voter": "anonymous"
        })
    }

    fn file(votes: Vec<serde_json::Value>, version: u32) -> Vec<u8> {
        serde_json::to_vec(
            &serde_json::json!({"format": "chorus-votes", "version": version, "votes": votes}),
        )
        .unwrap()
    }

    const A: &str = "aaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbb";
    const ID: &str = "0b6f1f1e-8a4c-4c1e-9f3e-2f5d8c7b6a51";

    #[test]
    fn a_sound_file_parses_and_bad_ones_name_the_vote() {
        let p = Path::new("v.json");
        assert_eq!(
            parse_votes(p, &file(vec![vote_json(ID, A, &[B])], 1))
                .unwrap()
                .file
                .votes
                .len(),
            1
        );
        let newer = parse_votes(p, &file(vec![], 2)).unwrap_err();
        assert!(newer[0].to_string().contains("newer than this chorus"));
        let dup = parse_votes(
            p,
            &file(vec![vote_json(ID, A, &[B]), vote_json(ID, B, &[A])], 1),
        )
        .unwrap_err();
        assert_eq!(
            dup[0].to_string(),
            format!("v.json: vote 2 (id {ID}): duplicate id: vote 1 has the same id; every vote needs its own")
        );
        let bad = parse_votes(p, &file(vec![vote_json(ID, "alice", &[B])], 1)).unwrap_err();
        assert!(
            bad[0].to_string().contains("field \"winner\""),
            "{}",
            bad[0]
        );
        let mut extra = vote_json(ID, A, &[B]);
        extra["artistSlug"] = "x".into();
        assert!(parse_votes(p, &file(vec![extra], 1)).is_err());
        let mut top: serde_json::Value =
            serde_json::from_slice(&file(vec![vote_json(ID, A, &[B])], 1)).unwrap();
        top["vote"] = serde_json::json!([]);
        let unknown = parse_votes(p, &serde_json::to_vec(&top).unwrap()).unwrap_err();
        assert_eq!(
            unknown[0].to_string(),
            "v.json: field \"vote\": unknown field; a votes file holds only format, version, votes"
        );
    }
}
