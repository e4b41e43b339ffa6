//! What the votes tests share: a project with two built groups, each Artist's vote token
//! as the blind page offers it, votes as a blind page writes them, and `chorus votes
//! import` run the way a user runs it. Included by the votes tests only
//! (`#[path = "common/votes.rs"]`), so the other test binaries do not carry it.
#![allow(dead_code)]

use std::collections::BTreeMap;

use chorus::store::votes::{run_secret, vote_token};
use chorus::store::{sha256_hex, RunRecord};

use crate::common::TestProject;

pub const ARTISTS: [&str; 4] = [
    "offline-maximalist",
    "offline-minimalist",
    "offline-naturalist",
    "offline-surrealist",
];

/// A project with two built groups of the offline Artists.
pub fn project() -> (TestProject, Vec<String>) {
    let p = TestProject::init();
    let ids = p.generate_offline(&["--repeat", "2", "--seed", "3"]);
    p.chorus(&["build"]).assert().success();
    (p, ids)
}

/// Each Artist's blind token in a group, checked against the blind page.
pub fn tokens(p: &TestProject, group: &str) -> BTreeMap<&'static str, String> {
    let page = p.read(&format!("site/groups/{group}/blind.html"));
    ARTISTS
        .iter()
        .map(|slug| {
            let bytes = std::fs::read(p.path(&format!("runs/{group}/{slug}.png"))).unwrap();
            let run: RunRecord =
                serde_json::from_str(&p.read(&format!("runs/{group}/{slug}.json"))).unwrap();
            let token = vote_token(group, slug, &sha256_hex(&bytes), &run_secret(&run));
            assert!(
                page.contains(&format!("data-token=\"{token}\"")),
                "the blind page offers {slug}'s image as {token}"
            );
            (*slug, token)
        })
        .collect()
}

/// A vote as a blind page writes it: `winner` best of the group's four images.
pub fn vote(id: &str, group: &str, t: &BTreeMap<&str, String>, winner: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "groupId": group,
        "winner": t[winner],
        "losers": ARTISTS.iter().filter(|a| **a != winner).map(|a| t[a].clone()).collect::<Vec<_>>(),
        "votedAt": "2026-11-30T12:00:00.000Z",
        "voter": "anonymous",
    })
}

/// The same, from a viewer who gave a label.
pub fn vote_by(
    voter: &str,
    id: &str,
    group: &str,
    t: &BTreeMap<&str, String>,
    winner: &str,
) -> serde_json::Value {
    let mut v = vote(id, group, t, winner);
    v["voter"] = voter.into();
    v
}

/// A votes file as a blind page downloads it.
pub fn votes_file(votes: Vec<serde_json::Value>) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "format": "chorus-votes", "version": 1, "votes": votes
    }))
    .unwrap()
}

/// Every file under runs/ with its content: "nothing written" means this is unchanged.
pub fn runs_snapshot(p: &TestProject) -> Vec<(String, Vec<u8>)> {
    p.files_under("runs")
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(p.path(&format!("runs/{f}"))).unwrap();
            (f, bytes)
        })
        .collect()
}

/// A vote id: `uuid(4)` is 00000000-0000-4000-8000-000000000004.
pub fn uuid(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// `chorus votes import FILE`: its exit code and what it said.
pub fn import(p: &TestProject, file: &str) -> (i32, String) {
    // A relative FILE is read from the current folder, as any command-line tool does.
    let out = p
        .chorus(&["votes", "import", file])
        .current_dir(p.root())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every votes file of a group as parsed JSON, by file name.
pub fn stored(p: &TestProject, group: &str) -> BTreeMap<String, serde_json::Value> {
    p.files_under(&format!("runs/{group}/votes"))
        .into_iter()
        // Import records (`*.import.json`) sit beside the votes files.
        .filter(|f| !f.ends_with(".import.json"))
        .map(|f| {
            let text = p.read(&format!("runs/{group}/votes/{f}"));
            (
                f,
                serde_json::from_str(&text).expect("a stored votes file is JSON"),
            )
        })
        .collect()
}

/// The labels of every vote stored under a group, sorted.
pub fn stored_voters(p: &TestProject, group: &str) -> Vec<String> {
    let mut voters: Vec<String> = stored(p, group)
        .values()
        .flat_map(|f| f["votes"].as_array().cloned().unwrap_or_default())
        .map(|v| v["voter"].as_str().unwrap_or_default().to_string())
        .collect();
    voters.sort();
    voters
}
