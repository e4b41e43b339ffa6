//! The voice views and the style map (issue 15) through the real binary: a prompt version
//! with repeats shows each Artist's within/between similarity, separation, interval and a
//! plain-words reading, on its page and on each Artist's page; the style map links every
//! run; an Artist made identical across repeats gets the top separation; the cached result
//! follows changes to the groups.
mod common;

use common::TestProject;

const ARTISTS: [&str; 4] = [
    "Offline Minimalist",
    "Offline Maximalist",
    "Offline Surrealist",
    "Offline Naturalist",
];

fn project_with_repeats(n: &str) -> (TestProject, Vec<String>) {
    let p = TestProject::init();
    let groups = p.generate_offline(&["--repeat", n, "--seed", "5"]);
    assert_eq!(groups.len(), n.parse::<usize>().unwrap());
    (p, groups)
}

/// The only prompt version's page (its file name is the version's).
fn prompt_page(p: &TestProject) -> String {
    let pages: Vec<String> = p
        .files_under("site/prompts")
        .into_iter()
        .filter(|f| f != "index.html" && f.ends_with(".html"))
        .collect();
    assert_eq!(pages.len(), 1, "{pages:?}");
    p.read(&format!("site/prompts/{}", pages[0]))
}

/// The text of the table row whose header cell names `who`, tags stripped.
fn row_of(page: &str, who: &str) -> String {
    let table = &page[page.find("voice-table").expect("a voice table")..];
    let start = table.find(&format!(">{who}</a></th>")).expect("a row");
    let row = &table[start..table[start..].find("</tr>").unwrap() + start];
    let mut text = String::new();
    let mut in_tag = false;
    for c in row.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn prompt_and_artist_pages_show_voice_numbers_readings_and_a_linked_style_map() {
    let (p, groups) = project_with_repeats("3");
    p.chorus(&["build"]).assert().success();
    let page = prompt_page(&p);

    assert!(page.contains("Does each Artist have a voice?"), "{page}");
    assert!(page.contains("12 runs in 3 groups."));
    for name in ARTISTS {
        // A reading in words, with its figures and the number of groups.
        let reading = page
            .split("<li class=\"reading")
            .find(|r| r.contains(&format!(">{name}&#x27;s answers")))
            .unwrap_or_else(|| panic!("no reading for {name}"));
        assert!(reading.contains("(separation "), "{reading}");
        assert!(reading.contains(", 3 groups)"), "{reading}");
        // Runs, within, between, separation and its interval as numbers.
        let row = row_of(&page, name);
        assert!(row.starts_with(&format!("{name} 3 0.")), "{row}");
        assert!(row.contains(" to "), "an interval: {row}");
    }
    // The chart says every row in words.
    assert!(page.contains("Separation per Artist with 95% intervals. Offline Minimalist: "));

    // The style map: one link per run, each to an existing run page, with its tooltip.
    assert_eq!(
        page.matches("<a class=\"pt\" href=\"../groups/").count(),
        12
    );
    for g in &groups {
        let link = format!("href=\"../groups/{g}/offline-surrealist.html\"");
        assert!(page.contains(&link), "{link}");
        assert!(p
            .path(&format!("site/groups/{g}/offline-surrealist.html"))
            .is_file());
    }
    assert_eq!(page.matches("<g class=\"tip\">").count(), 12);
    for name in ARTISTS {
        assert!(page.contains(&format!("</svg> {name} <span class=\"muted\">(3 runs)")));
    }
    assert!(!page.contains(" style="), "the CSP forbids inline style");

    // Each Artist's page shows its voice in this version.
    let artist = p.read("site/artists/offline-naturalist.html");
    assert!(artist.contains("<h2 id=\"voice\">Voice</h2>"), "{artist}");
    assert!(artist.contains("Offline Naturalist&#x27;s answers"));
    assert!(artist.contains("Separation per prompt version with 95% intervals."));
}

#[test]
fn two_groups_cannot_tell_yet_and_the_page_says_why() {
    let (p, _) = project_with_repeats("2");
    p.chorus(&["build"]).assert().success();
    let page = prompt_page(&p);
    assert!(page.contains("8 runs in 2 groups."), "{page}");
    for name in ARTISTS {
        let reading = page
            .split("<li class=\"reading")
            .find(|r| r.contains(&format!(">{name}&#x27;s answers")))
            .unwrap_or_else(|| panic!("no reading for {name}"));
        assert!(
            reading.contains("the history cannot tell yet")
                && reading.contains("2 groups; an interval needs at least 3)"),
            "{reading}"
        );
        // No interval of zero width, and no verdict.
        let row = row_of(&page, name);
        assert!(!row.contains(" to "), "{row}");
    }
    assert!(!page.contains("a distinct voice"));
    assert!(page
        .contains("with fewer than 3 groups there is none and the reading is “cannot tell yet”"));
}

#[test]
fn an_artist_identical_across_repeats_gets_the_top_separation_and_the_cache_follows() {
    let (p, groups) = project_with_repeats("4");
    p.chorus(&["build"]).assert().success();
    let before = prompt_page(&p);
    assert!(!before.contains("separation 1.00"));

    // The minimalist now answers every repeat with the first group's statement and image.
    let first: serde_json::Value =
        serde_json::from_str(&p.read(&format!("runs/{}/offline-minimalist.json", groups[0])))
            .unwrap();
    let image = first["imageFile"].as_str().unwrap();
    for g in &groups[1..] {
        let rel = format!("runs/{g}/offline-minimalist.json");
        let mut run: serde_json::Value = serde_json::from_str(&p.read(&rel)).unwrap();
        run["artistStmt"] = first["artistStmt"].clone();
        p.write(&rel, &serde_json::to_string_pretty(&run).unwrap());
        std::fs::copy(
            p.path(&format!("runs/{}/{image}", groups[0])),
            p.path(&format!("runs/{g}/{}", run["imageFile"].as_str().unwrap())),
        )
        .unwrap();
    }
    p.chorus(&["build"]).assert().success();
    let after = prompt_page(&p);
    let row = row_of(&after, "Offline Minimalist");
    assert!(row.starts_with("Offline Minimalist 4 1.00 "), "{row}");
    assert!(
        after.contains("Offline Minimalist&#x27;s answers are more alike to each other across repeats than to other Artists&#x27; answers: a distinct voice (separation 1.00 ± 0.00, 4 groups)."),
        "{after}"
    );
    let separation = |name: &str| -> f64 {
        let row = row_of(&after, name);
        let v = row
            .split(' ')
            .nth(ARTISTS[0].split(' ').count() + 3)
            .unwrap();
        v.replace('−', "-").parse().unwrap()
    };
    for name in &ARTISTS[1..] {
        assert!(separation(name) < separation(ARTISTS[0]), "{name}");
    }

    // Nothing changed: the cached voice is read back, not computed again.
    let cache = p
        .files_under(".chorus-cache")
        .into_iter()
        .find(|f| f.contains("/voice/"))
        .expect("a voice cache file");
    let path = p.path(&format!(".chorus-cache/{cache}"));
    let stamp = std::fs::metadata(&path).unwrap().modified().unwrap();
    p.chorus(&["build"]).assert().success();
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), stamp);
    assert_eq!(prompt_page(&p), after);
}

#[test]
fn one_group_has_no_voice_yet_and_no_analysis_leaves_it_out() {
    let (p, _) = project_with_repeats("1");
    p.chorus(&["build"]).assert().success();
    assert!(!prompt_page(&p).contains("Does each Artist have a voice?"));
    p.generate_offline(&["--seed", "6"]);
    p.chorus(&["build", "--no-analysis"]).assert().success();
    assert!(!prompt_page(&p).contains("Does each Artist have a voice?"));
    p.chorus(&["build"]).assert().success();
    assert!(prompt_page(&p).contains("Does each Artist have a voice?"));
}
