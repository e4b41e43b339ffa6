//! `chorus votes import` against what the hostile review of issue 26 found: labels the old
//! blind page cut badly, files near the size cap, a write that fails half way, fields the
//! docs promise to refuse, votes that no longer apply, and the provenance an import
//! records. Every case runs the real binary on a real project.

mod common;
#[path = "common/votes.rs"]
mod fixtures;

use fixtures::{import, project, stored_voters, tokens, uuid, vote_by, votes_file};

#[test]
fn a_label_the_old_blind_page_cut_badly_is_cleaned_and_every_vote_imported() {
    let (p, ids) = project();
    let (g0, g1) = (&ids[0], &ids[1]);
    let (t0, t1) = (tokens(&p, g0), tokens(&p, g1));
    // The old page cut labels with slice(0, 64) on UTF-16 units: an emoji at the end left
    // a lone surrogate, which JSON.stringify writes as \ud83d. Pasted tabs were kept.
    let cut = vote_by("CUT", &uuid(1), g0, &t0, "offline-naturalist");
    let tabbed = vote_by(
        "Ada\tLovelace\u{202e}",
        &uuid(2),
        g1,
        &t1,
        "offline-surrealist",
    );
    let text = votes_file(vec![cut, tabbed]).replace("CUT", &format!("{}\\ud83d", "x".repeat(63)));
    p.write("old-page.json", &text);

    let (code, stderr) = import(&p, "old-page.json");
    assert_eq!(code, 0, "a bad label does not refuse the file:\n{stderr}");
    assert!(
        stderr.contains("Imported 2 vote(s) into 2 group(s)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cleaned the voter label of 2 vote(s)"),
        "{stderr}"
    );
    assert_eq!(stored_voters(&p, g0), ["x".repeat(63)]);
    assert_eq!(stored_voters(&p, g1), ["Ada Lovelace"]);

    // The browser keeps offering the same votes; they are known, whatever their label was.
    let (code, stderr) = import(&p, "old-page.json");
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("Nothing to import"), "{stderr}");
    let out = p.chorus(&["build", "--strict"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}





