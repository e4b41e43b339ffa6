//! `chorus votes import` against what the hostile review of issue 26 found: labels the old
//! blind page cut badly, files near the size cap, a write that fails half way, fields the
//! docs promise to refuse, votes that no longer apply, and the provenance an import
//! records. Every case runs the real binary on a real project.

mod common;
#[path = "common/votes.rs"]
mod fixtures;

use fixtures::{
    import, project, runs_snapshot, stored, stored_voters, tokens, uuid, vote, vote_by, votes_file,
    ARTISTS,
};

/// The most a votes file may hold, as docs/votes.md says.
const CAP: usize = 4 * 1024 * 1024;

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

#[test]
fn a_file_near_the_cap_is_written_as_files_the_build_and_later_imports_accept() {
    let (p, ids) = project();
    let g = &ids[0];
    let t = tokens(&p, g);
    // As a browser with many votes would download it, but compact: just under the cap.
    let mut votes = Vec::new();
    let mut size = 64;
    for n in 0.. {
        let v = vote(&uuid(n), g, &t, ARTISTS[n as usize % 4]);
        let len = serde_json::to_string(&v).unwrap().len() + 1;
        if size + len > CAP - 64 {
            break;
        }
        size += len;
        votes.push(v);
    }
    let count = votes.len();
    let text = serde_json::to_string(&serde_json::json!({
        "format": "chorus-votes", "version": 1, "votes": votes
    }))
    .unwrap();
    assert!(
        text.len() <= CAP && text.len() > CAP - 1024,
        "{}",
        text.len()
    );
    p.write("many.json", &text);

    let (code, stderr) = import(&p, "many.json");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(&format!("Imported {count} vote(s) into 1 group(s)")),
        "{stderr}"
    );
    for (name, _) in stored(&p, g) {
        let len = std::fs::metadata(p.path(&format!("runs/{g}/votes/{name}")))
            .unwrap()
            .len();
        assert!(len as usize <= CAP, "{name} is {len} bytes, over the cap");
    }
    let out = p.chorus(&["build", "--strict"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "every vote counts:\n{stderr}");
    assert!(p
        .read("site/leaderboards/index.html")
        .contains(&format!("From {count} blind votes on 1 group")));

    // The group still takes votes.
    p.write(
        "next.json",
        &votes_file(vec![vote(&uuid(999_999), g, &t, "offline-minimalist")]),
    );
    let (code, stderr) = import(&p, "next.json");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("Imported 1 vote(s) into 1 group(s)"),
        "{stderr}"
    );
}

#[test]
fn a_write_that_fails_half_way_leaves_runs_as_it_was() {
    let (p, ids) = project();
    let mut sorted = ids.clone();
    sorted.sort();
    let (first, second) = (&sorted[0], &sorted[1]);
    let (t1, t2) = (tokens(&p, first), tokens(&p, second));
    // The second group's votes folder cannot be made: a file stands in its place.
    p.write(&format!("runs/{second}/votes"), "not a folder\n");
    let before = runs_snapshot(&p);
    p.write(
        "both.json",
        &votes_file(vec![
            vote(&uuid(1), first, &t1, "offline-naturalist"),
            vote(&uuid(2), second, &t2, "offline-naturalist"),
        ]),
    );
    let (code, stderr) = import(&p, "both.json");
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot write runs/{second}/votes/")),
        "the failed write is named:\n{stderr}"
    );
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    assert!(
        runs_snapshot(&p) == before,
        "the first group's new file was taken back:\n{stderr}"
    );
}

#[test]
fn unknown_fields_are_refused_and_ids_are_unique_within_a_group_as_documented() {
    let (p, ids) = project();
    let (g0, g1) = (&ids[0], &ids[1]);
    let (t0, t1) = (tokens(&p, g0), tokens(&p, g1));
    let before = runs_snapshot(&p);
    let text = votes_file(vec![vote(&uuid(1), g0, &t0, "offline-naturalist")]).replacen(
        '{',
        "{\n  \"comment\": \"typo of votes?\",",
        1,
    );
    p.write("extra.json", &text);
    let (code, stderr) = import(&p, "extra.json");
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("extra.json: field \"comment\": unknown field"),
        "{stderr}"
    );
    assert!(runs_snapshot(&p) == before);

    // The same id in another group is another vote: the build counts votes by group.
    p.write(
        "g0.json",
        &votes_file(vec![vote(&uuid(1), g0, &t0, "offline-naturalist")]),
    );
    p.write(
        "g1.json",
        &votes_file(vec![vote(&uuid(1), g1, &t1, "offline-surrealist")]),
    );
    assert_eq!(import(&p, "g0.json").0, 0);
    let (code, stderr) = import(&p, "g1.json");
    assert_eq!(code, 0, "{stderr}");
    p.chorus(&["build", "--strict"]).assert().success();
    assert!(p
        .read("site/leaderboards/index.html")
        .contains("From 2 blind votes on 2 groups"));
}

#[test]
fn votes_that_no_longer_apply_are_skipped_with_a_reason_and_the_rest_imported() {
    let (p, ids) = project();
    let (g0, g1) = (&ids[0], &ids[1]);
    let (t0, t1) = (tokens(&p, g0), tokens(&p, g1));
    p.write(
        "first.json",
        &votes_file(vec![vote(&uuid(1), g0, &t0, "offline-naturalist")]),
    );
    assert_eq!(import(&p, "first.json").0, 0);
    // g1's minimalist is painted again: the votes cast on its old image name a token the
    // group no longer has.
    std::fs::copy(
        p.path(&format!("runs/{g0}/offline-minimalist.png")),
        p.path(&format!("runs/{g1}/offline-minimalist.png")),
    )
    .unwrap();
    // A second gallery on the same github.io origin shares the browser's votes.
    let elsewhere = "7d1c1b9e-0000-4000-8000-000000000000";
    let mut reused = vote(&uuid(1), g0, &t0, "offline-surrealist");
    reused["voter"] = "someone else".into();
    let file = votes_file(vec![
        vote(&uuid(2), g0, &t0, "offline-naturalist"),
        vote(&uuid(3), elsewhere, &t0, "offline-naturalist"),
        vote(&uuid(4), elsewhere, &t0, "offline-surrealist"),
        vote(&uuid(5), g1, &t1, "offline-minimalist"),
        reused,
    ]);
    p.write("browser.json", &file);
    for round in ["first", "second"] {
        let (code, stderr) = import(&p, "browser.json");
        assert_eq!(code, 0, "{round} import:\n{stderr}");
        for expected in [
            format!("skipped 2 vote(s) for group {elsewhere}"),
            "no such group under runs/".into(),
            format!("skipped 1 vote(s) for group {g1}"),
            "painted again".into(),
            format!("skipped 1 vote(s) for group {g0}"),
            "already holds a different vote with this id".into(),
        ] {
            assert!(
                stderr.contains(&expected),
                "{round}: {expected:?} in:\n{stderr}"
            );
        }
        let summary = if round == "first" {
            "Imported 1 vote(s) into 1 group(s)"
        } else {
            "Nothing to import"
        };
        assert!(stderr.contains(summary), "{round}:\n{stderr}");
    }

    // A votes file import cannot read skips its group's votes, naming it; the rest go in.
    p.write(&format!("runs/{g0}/votes/broken.json"), "{not json");
    p.chorus(&["build"]).output().unwrap();
    let t1 = tokens(&p, g1);
    p.write(
        "later.json",
        &votes_file(vec![
            vote(&uuid(7), g0, &t0, "offline-naturalist"),
            vote(&uuid(8), g1, &t1, "offline-naturalist"),
        ]),
    );
    let (code, stderr) = import(&p, "later.json");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(&format!("skipped 1 vote(s) for group {g0}"))
            && stderr.contains("broken.json"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Imported 1 vote(s) into 1 group(s)"),
        "{stderr}"
    );
}

/// The leaderboard's ranking table, top first, as Artist names.
fn ranking(board: &str) -> Vec<&str> {
    let table = &board[..board.find("Head to head").expect("a head-to-head section")];
    let mut names: Vec<(usize, &str)> = ARTIST_NAMES
        .iter()
        .filter_map(|n| table.find(&format!(">{n}</a></th>")).map(|at| (at, *n)))
        .collect();
    names.sort();
    names.into_iter().map(|(_, n)| n).collect()
}

const ARTIST_NAMES: [&str; 4] = [
    "Offline Maximalist",
    "Offline Minimalist",
    "Offline Naturalist",
    "Offline Surrealist",
];

#[test]
fn an_import_records_its_source_and_a_cap_per_voter_limits_a_flood() {
    let (p, ids) = project();
    let g = &ids[0];
    let t = tokens(&p, g);
    // Two viewers pick the naturalist twice each; one label floods the minimalist.
    let mut votes = Vec::new();
    for (i, voter) in ["alice", "alice", "bob", "bob"].iter().enumerate() {
        votes.push(vote_by(
            voter,
            &uuid(i as u32 + 1),
            g,
            &t,
            "offline-naturalist",
        ));
    }
    for i in 0..30 {
        votes.push(vote_by(
            "mallory",
            &uuid(100 + i),
            g,
            &t,
            "offline-minimalist",
        ));
    }
    let text = votes_file(votes);
    p.write("votes.json", &text);
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let (code, stderr) = import(&p, "votes.json");
    assert_eq!(code, 0, "{stderr}");

    // Beside the votes file, a record of who imported what and when.
    let files = p.files_under(&format!("runs/{g}/votes"));
    let record_name = files
        .iter()
        .find(|f| f.ends_with(".import.json"))
        .unwrap_or_else(|| panic!("no import record in {files:?}"));
    let record: serde_json::Value =
        serde_json::from_str(&p.read(&format!("runs/{g}/votes/{record_name}"))).unwrap();
    assert_eq!(record["format"], "chorus-votes-import");
    assert_eq!(record["version"], 1);
    assert_eq!(
        record["votesFile"],
        record_name.replace(".import.json", ".json").as_str()
    );
    assert_eq!(
        record["sourceSha256"],
        chorus::store::sha256_hex(text.as_bytes()).as_str(),
        "the digest of the file as downloaded"
    );
    let at = chrono::DateTime::parse_from_rfc3339(record["importedAt"].as_str().unwrap())
        .expect("an RFC 3339 time");
    assert!(at >= before && at <= chrono::Utc::now(), "{at}");
    assert_eq!(
        record["voters"],
        serde_json::json!([
            {"voter": "alice", "votes": 2},
            {"voter": "bob", "votes": 2},
            {"voter": "mallory", "votes": 30}
        ])
    );

    // Uncapped, the flood wins, and the page says who cast how many.
    p.chorus(&["build", "--strict"]).assert().success();
    let board = p.read("site/leaderboards/index.html");
    assert_eq!(ranking(&board)[0], "Offline Minimalist", "{board}");
    assert!(board.contains("Votes per voter"), "{board}");
    assert!(
        board.contains("<tr><th scope=\"row\">mallory</th><td>30</td><td>30</td></tr>"),
        "{board}"
    );
    assert!(board.contains("No cap is set"), "{board}");

    // A cap of 2 votes per voter: the same votes, the flood weighs as much as one viewer.
    let toml = p.read("chorus.toml");
    p.write(
        "chorus.toml",
        &format!("{toml}\n[votes]\nmax_weight_per_voter = 2\n"),
    );
    p.chorus(&["build", "--strict"]).assert().success();
    let capped = p.read("site/leaderboards/index.html");
    assert_eq!(ranking(&capped)[0], "Offline Naturalist", "{capped}");
    assert!(
        capped.contains(
            "<tr><th scope=\"row\">mallory</th><td>30</td><td><strong>2</strong></td></tr>"
        ),
        "{capped}"
    );
    assert!(
        capped.contains("as at most 2 votes in the ratings"),
        "{capped}"
    );
    // The incremental build made what a clean one makes.
    std::fs::remove_dir_all(p.path("site")).unwrap();
    std::fs::remove_dir_all(p.path(".chorus-cache")).unwrap();
    p.chorus(&["build", "--strict"]).assert().success();
    assert_eq!(p.read("site/leaderboards/index.html"), capped);

    // A record edited afterwards is read as untrusted: check names what is wrong.
    let path = format!("runs/{g}/votes/{record_name}");
    let original = p.read(&path);
    p.write(
        &path,
        &original.replace("\"votesFile\": \"", "\"votesFile\": \"../../elsewhere-"),
    );
    let out = p.chorus(&["check"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("{path}: field \"votesFile\"")),
        "{stderr}"
    );
    // A record whose votes file was removed says so, in check and in the build alike.
    p.write(&path, &original);
    let votes_path = path.replace(".import.json", ".json");
    std::fs::remove_file(p.path(&votes_path)).unwrap();
    let gone = format!(
        "{path}: describes {}",
        &votes_path[votes_path.rfind('/').unwrap() + 1..]
    );
    let out = p.chorus(&["check"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(&gone), "{stderr}");
    let out = p.chorus(&["build", "--strict"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(p.read("site/index.html").contains(&gone), "{stderr}");

    // The cap is checked like every setting, naming the field.
    for bad in ["0", "-3", "2.5", "\"lots\""] {
        p.write(
            "chorus.toml",
            &format!("{toml}\n[votes]\nmax_weight_per_voter = {bad}\n"),
        );
        let out = p.chorus(&["check"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad}: {stderr}");
        assert!(
            stderr.contains("max_weight_per_voter") && stderr.contains("at least 1"),
            "{bad}: {stderr}"
        );
    }
    p.write("chorus.toml", &format!("{toml}\n[votes]\nmax_weight = 2\n"));
    let out = p.chorus(&["check"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_weight"));
}
