//! Which name an Artist goes by (issue 26, item 17): chorus.toml's display name wins on
//! pages about many groups, else the newest group's; a group's own pages keep its own
//! names, and a group.json that renames an Artist changes no other group's pages.
mod common;
#[path = "common/votes.rs"]
mod fixtures;

use common::TestProject;
use fixtures::{import, tokens, uuid, vote, votes_file};

/// Two built groups of the offline Artists with a vote in each, so the leaderboard names
/// them too.
fn voted_project() -> (TestProject, Vec<String>) {
    let (p, ids) = fixtures::project();
    let votes = ids
        .iter()
        .enumerate()
        .map(|(k, g)| vote(&uuid(k as u32 + 1), g, &tokens(&p, g), "offline-minimalist"))
        .collect();
    p.write("votes.json", &votes_file(votes));
    assert_eq!(import(&p, "votes.json").0, 0);
    (p, ids)
}

fn rename(p: &TestProject, group: &str, slug: &str, name: &str) {
    let path = format!("runs/{group}/group.json");
    let mut g: serde_json::Value = serde_json::from_str(&p.read(&path)).unwrap();
    for a in g["artists"].as_array_mut().unwrap() {
        if a["slug"] == slug {
            a["name"] = name.into();
        }
    }
    p.write(&path, &serde_json::to_string_pretty(&g).unwrap());
}

/// The pages about many groups that name the minimalist.
const ACROSS: [&str; 4] = [
    "site/artists/offline-minimalist.html",
    "site/leaderboards/index.html",
    "site/prompts/v2-neutral.html",
    "site/index.html",
];

#[test]
fn chorus_toml_names_win_across_groups_and_a_group_keeps_its_own() {
    let (p, ids) = voted_project();
    let (older, newest) = (&ids[0], &ids[1]);
    let toml = p.read("chorus.toml");
    p.write(
        "chorus.toml",
        &format!(
            "{toml}\n[[artists]]\nslug = \"offline-minimalist\"\nname = \"Configured Minimalist\"\nprovider = \"offline\"\nmodel = \"minimalist\"\n"
        ),
    );
    rename(&p, newest, "offline-minimalist", "Renamed Minimalist");
    p.chorus(&["build"]).assert().success();

    let group = |id: &str| p.read(&format!("site/groups/{id}/index.html"));
    assert!(group(newest).contains("Renamed Minimalist"), "its own name");
    assert!(group(older).contains("Offline Minimalist"));
    assert!(!group(older).contains("Renamed Minimalist"));
    assert!(!group(older).contains("Configured Minimalist"));
    for page in ACROSS {
        let text = p.read(page);
        assert!(text.contains("Configured Minimalist"), "{page}");
        if page != "site/index.html" {
            // The index's group cards are the groups' own.
            assert!(!text.contains("Renamed Minimalist"), "{page}");
        }
    }
}

#[test]
fn a_group_json_renaming_an_artist_changes_no_other_groups_pages() {
    let (p, ids) = voted_project();
    let (older, newest) = (&ids[0], &ids[1]);
    p.chorus(&["build"]).assert().success();
    let newest_page = |slug: &str| p.read(&format!("site/groups/{newest}/{slug}"));
    let before: Vec<String> = ["index.html", "blind.html", "offline-minimalist.html"]
        .iter()
        .map(|f| newest_page(f))
        .collect();

    // An older group renames an Artist no chorus.toml lists: only its own pages follow.
    rename(&p, older, "offline-minimalist", "Renamed Minimalist");
    p.chorus(&["build"]).assert().success();
    assert!(p
        .read(&format!("site/groups/{older}/index.html"))
        .contains("Renamed Minimalist"));
    let after: Vec<String> = ["index.html", "blind.html", "offline-minimalist.html"]
        .iter()
        .map(|f| newest_page(f))
        .collect();
    assert!(before == after, "the newest group's pages did not change");
    for page in ACROSS {
        let text = p.read(page);
        assert!(text.contains("Offline Minimalist"), "{page}");
        if page != "site/index.html" {
            assert!(!text.contains("Renamed Minimalist"), "{page}: {text}");
        }
    }
}
