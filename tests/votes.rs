//! Blind votes through the real binary (issue 15): `chorus votes import` refuses files
//! that are not sound and writes nothing, imports idempotently, and the build turns votes (imported or
//! dropped under runs/<group>/votes/) into leaderboards, incrementally and reproducibly.

mod common;
#[path = "common/votes.rs"]
mod fixtures;

use common::tree;
use fixtures::{import, project, runs_snapshot, tokens, uuid, vote, votes_file};

#[test]
fn bad_vote_files_are_refused_with_the_vote_named_and_nothing_is_written() {
    let (p, ids) = project();
    let g = &ids[0];
    let t = tokens(&p, g);
    let good = vote(&uuid(1), g, &t, "offline-naturalist");

    // One vote already imported: refused files leave it as it is.
    p.write("first.json", &votes_file(vec![good]));
    assert_eq!(import(&p, "first.json").0, 0);
    let before = runs_snapshot(&p);

    // The same image twice: the file is not one a blind page makes.
    let mut twice = vote(&uuid(3), g, &t, "offline-minimalist");
    twice["losers"][1] = twice["winner"].clone();
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "twice.json",
            votes_file(vec![vote(&uuid(2), g, &t, "offline-surrealist"), twice]),
            vec![
                "twice.json: vote 2 (id 00000000-0000-4000-8000-000000000003): field \"losers[1]\"",
                "appears twice in the vote",
            ],
        ),
        (
            "version.json",
            votes_file(vec![vote(&uuid(2), g, &t, "offline-surrealist")])
                .replace("\"version\": 1", "\"version\": 2"),
            vec!["version.json: field \"version\": version 2 is newer than this chorus reads (1); upgrade chorus"],
        ),
        (
            "version-zero.json",
            votes_file(vec![vote(&uuid(2), g, &t, "offline-surrealist")])
                .replace("\"version\": 1", "\"version\": 0"),
            vec!["version-zero.json: field \"version\": expected 1, found 0"],
        ),
        (
            "duplicate.json",
            votes_file(vec![
                vote(&uuid(2), g, &t, "offline-surrealist"),
                vote(&uuid(2), g, &t, "offline-maximalist"),
            ]),
            vec!["duplicate.json: vote 2 (id 00000000-0000-4000-8000-000000000002): duplicate id: vote 1 has the same id"],
        ),
        (
            "not-votes.json",
            "{\"schemaVersion\": 1}".to_string(),
            vec!["not-votes.json: field \"format\": expected \"chorus-votes\""],
        ),
    ];
    for (name, text, expected) in cases {
        p.write(name, &text);
        let (code, stderr) = import(&p, name);
        assert_eq!(code, 1, "{name} is refused with exit code 1:\n{stderr}");
        for e in expected {
            assert!(stderr.contains(e), "{name}: expected {e:?} in:\n{stderr}");
        }
        assert!(stderr.contains("nothing was imported"), "{stderr}");
        assert!(
            runs_snapshot(&p) == before,
            "{name}: runs/ changed although the import was refused"
        );
    }
}

#[test]
fn importing_twice_changes_nothing_and_the_build_shows_the_votes() {
    let (p, ids) = project();
    let (g0, g1) = (&ids[0], &ids[1]);
    let (t0, t1) = (tokens(&p, g0), tokens(&p, g1));
    // The naturalist wins every vote but one; votes span both groups, as a browser's do.
    let file = votes_file(vec![
        vote(&uuid(1), g0, &t0, "offline-naturalist"),
        vote(&uuid(2), g1, &t1, "offline-naturalist"),
        vote(&uuid(3), g1, &t1, "offline-naturalist"),
        vote(&uuid(4), g0, &t0, "offline-surrealist"),
    ]);
    p.write("chorus-votes.json", &file);
    let (code, stderr) = import(&p, "chorus-votes.json");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("Imported 4 vote(s) into 2 group(s)"),
        "{stderr}"
    );
    let once = runs_snapshot(&p);
    // One votes file, and the record of where its votes came from.
    let names = p.files_under(&format!("runs/{g0}/votes"));
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(
        names[1],
        names[0].replace(".import.json", ".json"),
        "{names:?}"
    );

    let (code, stderr) = import(&p, "chorus-votes.json");
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("Nothing to import"), "{stderr}");
    assert!(runs_snapshot(&p) == once, "a second import changed runs/");

    let out = p.chorus(&["build"]).output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("2 rebuilt"),
        "the votes rebuilt their groups: {stderr}"
    );
    let board = p.read("site/leaderboards/index.html");
    assert!(board.contains("From 4 blind votes on 2 groups"), "{board}");
    let first = board.find("<td>1</td>").expect("a first row");
    assert!(
        board[first..].find("Offline Naturalist") < board[first..].find("Offline Surrealist"),
        "the naturalist leads"
    );
    assert!(board.contains("<td class=\"heat-5\" title=\"Offline Naturalist was picked over Offline Minimalist 3 times, Offline Minimalist over Offline Naturalist 0 times; in the other 1 vote that showed both, another Artist was picked\">3–0</td>"));
    assert!(p
        .read("site/leaderboards/v2-neutral.html")
        .contains("From 4 blind votes"));
    assert!(p
        .read("site/artists/offline-naturalist.html")
        .contains("picked in 3 of 4 votes"));
    assert!(p
        .read("site/prompts/v2-neutral.html")
        .contains("leaderboards/v2-neutral.html"));
    assert!(p
        .read("site/index.html")
        .contains("leaderboards/index.html"));

    // Reproducible: a clean build writes the same leaderboard, byte for byte.
    std::fs::remove_dir_all(p.path("site")).unwrap();
    std::fs::remove_dir_all(p.path(".chorus-cache")).unwrap();
    p.chorus(&["build"]).assert().success();
    assert_eq!(p.read("site/leaderboards/index.html"), board);
}

#[test]
fn a_votes_file_dropped_under_runs_counts_and_a_broken_one_is_a_problem() {
    let (p, ids) = project();
    let g = &ids[1];
    let t = tokens(&p, g);
    assert!(p
        .read("site/leaderboards/index.html")
        .contains("No blind votes yet"));

    // Dropped in by hand (say, in a pull request): the next build sees it.
    p.write(
        &format!("runs/{g}/votes/from-alice.json"),
        &votes_file(vec![vote(&uuid(7), g, &t, "offline-minimalist")]),
    );
    let out = p.chorus(&["build", "--strict"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("1 rebuilt"), "only its group: {stderr}");
    assert!(p
        .read("site/leaderboards/index.html")
        .contains("From 1 blind vote on 1 group"));

    // A vote for an image the group does not have is named and not counted.
    let mut bad = vote(&uuid(8), g, &t, "offline-maximalist");
    bad["losers"][0] = "ffffffffffffffffffff".into();
    p.write(
        &format!("runs/{g}/votes/broken.json"),
        &votes_file(vec![bad]),
    );
    let out = p.chorus(&["build", "--strict"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "runs/{g}/votes/broken.json: vote 1 (id 00000000-0000-4000-8000-000000000008): field \"losers[0]\""
        )),
        "{stderr}"
    );
    assert!(p
        .read("site/leaderboards/index.html")
        .contains("From 1 blind vote on 1 group"));
    let out = p.chorus(&["check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("votes/broken.json: vote 1"));
}

#[test]
fn the_head_to_head_tells_a_pair_that_only_lost_together_from_one_never_shown() {
    let (p, ids) = project();
    let g = &ids[0];
    let t = tokens(&p, g);
    p.write(
        "votes.json",
        &votes_file(vec![
            vote(&uuid(1), g, &t, "offline-naturalist"),
            vote(&uuid(2), g, &t, "offline-naturalist"),
        ]),
    );
    assert_eq!(import(&p, "votes.json").0, 0);
    p.chorus(&["build"]).assert().success();
    let board = p.read("site/leaderboards/index.html");
    assert!(
        !board.contains("were never shown together"),
        "the minimalist and the surrealist were shown together twice:\n{board}"
    );
    assert!(
        board.contains("title=\"Offline Minimalist and Offline Surrealist were shown together in 2 votes; another Artist was picked each time, and best of N does not say which of the two came second\""),
        "{board}"
    );
    assert!(
        board.contains("Best of N says that the picked image beat each of the others shown, and nothing about how the others rank among themselves"),
        "the page says what a cell can and cannot tell"
    );
}

#[test]
fn a_linked_votes_folder_is_never_followed_by_import_check_or_either_build() {
    let (p, ids) = project();
    let g = &ids[0];
    let t = tokens(&p, g);
    // A pull request commits runs/<g>/votes as a link to a folder outside the project,
    // which holds sound votes under a name that must not be published.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("secret-name.json"),
        votes_file(vec![vote(&uuid(9), g, &t, "offline-surrealist")]),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), p.path(&format!("runs/{g}/votes"))).unwrap();
    let outside_before = tree(outside.path());
    let runs_before = runs_snapshot(&p);

    // Import refuses, and writes nothing there (not even a temp file) nor under runs/.
    p.write(
        "votes.json",
        &votes_file(vec![vote(&uuid(1), g, &t, "offline-naturalist")]),
    );
    let (code, stderr) = import(&p, "votes.json");
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("runs/{g}/votes: is a symbolic link")),
        "the link is named from the project root:\n{stderr}"
    );
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    assert_eq!(
        tree(outside.path()),
        outside_before,
        "nothing written outside"
    );
    assert!(runs_snapshot(&p) == runs_before);

    // check names the link as a problem and counts nothing behind it.
    let out = p.chorus(&["check"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(&format!("runs/{g}/votes: is a symbolic link"))),
        "named from the project root, no machine path: {stderr}"
    );
    assert!(!stderr.contains("secret-name"), "{stderr}");

    // The incremental build (the project was built before the link came) and a clean
    // build agree: both exit 3 under --strict, and make the same pages.
    let incremental = p.chorus(&["build", "--strict"]).output().unwrap();
    assert_eq!(
        incremental.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&incremental.stderr)
    );
    let site = tree(&p.path("site"));
    let index = p.read("site/index.html");
    assert!(
        index.contains(&format!("runs/{g}/votes: is a symbolic link")),
        "the index lists the problem"
    );
    assert!(
        !index.contains("secret-name"),
        "no name from outside is published"
    );
    assert!(p
        .read("site/leaderboards/index.html")
        .contains("No blind votes yet"));
    std::fs::remove_dir_all(p.path("site")).unwrap();
    std::fs::remove_dir_all(p.path(".chorus-cache")).unwrap();
    let clean = p.chorus(&["build", "--strict"]).output().unwrap();
    assert_eq!(clean.status.code(), Some(3));
    assert!(
        tree(&p.path("site")) == site,
        "clean and incremental builds differ"
    );
    assert_eq!(tree(outside.path()), outside_before);
}
