//! The difference views (issue 6) through the real binary: heatmaps carry their numbers as
//! text, constructed inputs give the known answers, the cache lives outside the output,
//! blind mode works without JavaScript, and `--no-analysis` leaves the views out.
mod common;

use common::TestProject;

const ARTISTS: [(&str, &str); 4] = [
    ("offline-minimalist", "Offline Minimalist"),
    ("offline-maximalist", "Offline Maximalist"),
    ("offline-surrealist", "Offline Surrealist"),
    ("offline-naturalist", "Offline Naturalist"),
];

fn project_with_one_group() -> (TestProject, String) {
    let p = TestProject::init();
    let g = p.generate_offline(&["--seed", "11"]).remove(0);
    (p, g)
}

/// Makes the maximalist's run a copy of the minimalist's: same statement, same image.
fn make_twins(p: &TestProject, g: &str) {
    let read = |slug: &str| -> serde_json::Value {
        serde_json::from_str(&p.read(&format!("runs/{g}/{slug}.json"))).unwrap()
    };
    let (a, mut b) = (read("offline-minimalist"), read("offline-maximalist"));
    b["artistStmt"] = a["artistStmt"].clone();
    p.write(
        &format!("runs/{g}/offline-maximalist.json"),
        &serde_json::to_string_pretty(&b).unwrap(),
    );
    let (from, to) = (
        a["imageFile"].as_str().unwrap(),
        b["imageFile"].as_str().unwrap(),
    );
    std::fs::copy(
        p.path(&format!("runs/{g}/{from}")),
        p.path(&format!("runs/{g}/{to}")),
    )
    .unwrap();
}

#[test]
fn group_page_shows_every_view_with_its_numbers_as_text() {
    let (p, g) = project_with_one_group();
    make_twins(&p, &g);
    p.chorus(&["build"]).assert().success();
    let page = p.read(&format!("site/groups/{g}/index.html"));

    // Identical statement and image give the known answers, readable as text.
    assert!(
        page.contains("Offline Minimalist vs Offline Maximalist: statement similarity 1.00"),
        "{page}"
    );
    assert!(page.contains(
        "Offline Minimalist vs Offline Maximalist: image similarity 1.00 (layout distance 0.00, colour distance 0.00)"
    ));
    // Every pair is in both heatmaps' labels.
    for (i, (_, a)) in ARTISTS.iter().enumerate() {
        for (_, b) in &ARTISTS[i + 1..] {
            assert!(
                page.contains(&format!("{a} vs {b}: statement similarity ")),
                "{a} vs {b}"
            );
            assert!(
                page.contains(&format!("{a} vs {b}: image similarity ")),
                "{a} vs {b}"
            );
        }
    }
    // One palette under each image, each line saying what it measures.
    assert_eq!(page.matches("aria-label=\"Dominant colours: #").count(), 4);
    assert!(page.contains("cosine similarity of TF-IDF word weights, stop words removed"));
    assert!(page.contains("perceptual-hash distance"));
    // Distinctive words and the measures table with its extremes marked.
    assert!(page.contains("Distinctive words"));
    for label in [
        "Statement words",
        "Image-prompt words",
        "Sentences",
        "Output tokens",
        "Latency",
    ] {
        assert!(
            page.contains(&format!("<th scope=\"row\">{label}</th>")),
            "no row {label}"
        );
    }
    // Extremes are named in words; only rows where less is better have a bold best.
    assert!(page.contains("<small>most</small>") && page.contains("<small>fewest</small>"));
    assert!(!page.contains("▲") && !page.contains("▼"));
    // The measures table scrolls inside a focusable region on narrow screens.
    assert!(page.contains("class=\"table-scroll\" tabindex=\"0\" role=\"region\""));
    let views = page.split("<section class=\"analysis\"").nth(1).unwrap();
    let views = views.split("</section>").next().unwrap();
    assert!(!views.contains("<script"), "the views need no JavaScript");
}

#[test]
fn analysis_is_cached_outside_the_site_and_reused() {
    let (p, g) = project_with_one_group();
    p.chorus(&["build"]).assert().success();
    let cached = p.files_under(".chorus-cache/analysis");
    let signatures: Vec<&String> = cached.iter().collect();
    assert_eq!(signatures.len(), 4, "one signature per image: {cached:?}");
    assert!(cached
        .iter()
        .all(|f| f.starts_with("v2/") && f.ends_with(".json")));
    assert!(p
        .files_under("site")
        .iter()
        .all(|f| !f.contains("chorus-cache")));

    // Unchanged inputs: nothing is measured again.
    p.chorus(&["build"]).assert().success();
    assert_eq!(p.files_under(".chorus-cache/analysis"), cached);

    // A planted signature shows a recomputation reads the cache instead of the image.
    let entry = p.path(&format!(".chorus-cache/analysis/{}", signatures[0]));
    let mut sig: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&entry).unwrap()).unwrap();
    sig["palette"] = serde_json::json!([{ "rgb": [1, 2, 3], "share": 1.0 }]);
    std::fs::write(&entry, sig.to_string()).unwrap();
    // A fresh output folder, as the build skips groups that are unchanged in the old one.
    let fresh = p.path("site2");
    p.chorus(&["build", "--out", fresh.to_str().unwrap()])
        .assert()
        .success();
    let page = p.read(&format!("site2/groups/{g}/index.html"));
    assert!(page.contains("Dominant colours: #010203 100%"));

    // A changed statement changes the views; the images are not measured again.
    let run = format!("runs/{g}/offline-naturalist.json");
    let mut record: serde_json::Value = serde_json::from_str(&p.read(&run)).unwrap();
    record["artistStmt"] = "Marmalade zeppelins.".into();
    p.write(&run, &serde_json::to_string_pretty(&record).unwrap());
    p.chorus(&["build"]).assert().success();
    assert_eq!(p.files_under(".chorus-cache/analysis"), cached);
    let page = p.read(&format!("site/groups/{g}/index.html"));
    assert!(
        page.contains("marmalade"),
        "distinctive words follow the new statement"
    );
}

#[test]
fn blind_page_hides_names_until_revealed() {
    let (p, g) = project_with_one_group();
    p.chorus(&["build"]).assert().success();
    let group = p.read(&format!("site/groups/{g}/index.html"));
    assert!(group.contains("href=\"blind.html\""));
    let blind = p.read(&format!("site/groups/{g}/blind.html"));
    for letter in ["A", "B", "C", "D"] {
        assert!(
            blind.contains(&format!(">Artist {letter}</h2>")),
            "no column {letter}"
        );
    }
    // Names sit only in each column's <details> reveal (a statement may still sign itself).
    let headings: Vec<&str> = blind
        .split("<h")
        .skip(1)
        .map(|h| h.split("</h").next().unwrap_or(""))
        .collect();
    let title = blind
        .split("<title>")
        .nth(1)
        .and_then(|t| t.split("</title>").next())
        .unwrap_or("");
    for (_, name) in ARTISTS {
        assert!(
            headings.iter().all(|h| !h.contains(name)),
            "{name} in a heading"
        );
        assert!(!title.contains(name));
        assert!(
            blind.contains(&format!(
                "<summary>Reveal</summary><p>{name} → Procedural Brush"
            )),
            "{name}"
        );
    }
    assert!(
        !blind.contains("<script>"),
        "no inline script (the lightbox is a file)"
    );
    // Neutral names: no slug in any URL or attribute (images are copies named by content).
    for (slug, _) in ARTISTS {
        assert!(!blind.contains(slug), "{slug} on the blind page");
    }
    let image = blind
        .split("src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("an image");
    assert!(image.contains("/media/@"), "{image}");
    assert!(p
        .path(&format!(
            "site/groups/{g}/{}",
            image
                .trim_start_matches("../../groups/")
                .trim_start_matches(&format!("{g}/"))
        ))
        .is_file());
    assert!(blind.contains("Reveal all"));
}

/// Every image URL (`src`, `srcset`, `href`, `data-full`) a page names under `media/`.
fn media_names(page: &str) -> std::collections::BTreeSet<String> {
    page.split(['"', ' ', ','])
        .filter(|w| w.contains("/media/"))
        .map(|w| w.rsplit('/').next().unwrap_or(w).to_string())
        .collect()
}

/// The page without its reveals, where the names are meant to be.
fn outside_reveals(page: &str) -> String {
    let mut out = String::new();
    let mut rest = page;
    while let Some(at) = rest.find("<details class=\"reveal") {
        out.push_str(&rest[..at]);
        rest = rest[at..].split_once("</details>").map_or("", |(_, r)| r);
    }
    out + rest
}

#[test]
fn blind_page_has_its_own_image_names_and_no_names_in_its_text() {
    let (p, g) = project_with_one_group();
    // A statement and an image prompt that name their Artist every way a model might.
    let path = format!("runs/{g}/offline-surrealist.json");
    let mut run: serde_json::Value = serde_json::from_str(&p.read(&path)).unwrap();
    run["artistStmt"] = "I, OFFLINE SURREALIST (model `Surrealist`, slug offline-surrealist), \
        made this.\n\n_Made by the Offline Surrealist, seed 11._"
        .into();
    run["imagePrompt"] = "A moon in a room, signed offline surrealist".into();
    p.write(&path, &serde_json::to_string_pretty(&run).unwrap());
    p.chorus(&["build"]).assert().success();

    let blind = p.read(&format!("site/groups/{g}/blind.html"));
    let mut named = media_names(&p.read(&format!("site/groups/{g}/index.html")));
    for (slug, _) in ARTISTS {
        named.extend(media_names(
            &p.read(&format!("site/groups/{g}/{slug}.html")),
        ));
    }
    let own = media_names(&blind);
    assert!(own.len() >= 8, "every column's thumbnails: {own:?}");
    let shared: Vec<_> = own.intersection(&named).collect();
    assert!(
        shared.is_empty(),
        "the blind page shares {shared:?} with the named pages"
    );
    for name in &own {
        assert!(
            p.path(&format!("site/groups/{g}/media/{name}")).is_file(),
            "{name} is published"
        );
    }

    // Outside the reveals the page names no Artist, slug or model, in any case.
    let text = outside_reveals(&blind).to_lowercase();
    for (slug, name) in ARTISTS {
        let model = slug.trim_start_matches("offline-");
        for word in [slug, &name.to_lowercase(), model] {
            assert!(!text.contains(word), "{word:?} on the blind page");
        }
    }
    assert_eq!(
        text.matches("made by the").count(),
        1,
        "the offline Artists stopped signing (only the one written above is left)"
    );
    assert!(
        blind.contains("I, ⟨name hidden⟩ (model <code>⟨name hidden⟩</code>, slug ⟨name hidden⟩)"),
        "{blind}"
    );
    assert!(blind.contains("alt=\"A moon in a room, signed ⟨name hidden⟩\""));
    // Hashing an image the named pages publish (here the original PNG itself) gives no
    // vote token the blind page offers.
    assert!(blind.contains("data-token=\""));
    for (slug, _) in ARTISTS {
        let bytes = std::fs::read(p.path(&format!("runs/{g}/{slug}.png"))).unwrap();
        let sha = chorus::store::sha256_hex(&bytes);
        let computable = chorus::store::votes::legacy_vote_token(&g, slug, &sha);
        assert!(!blind.contains(&computable), "{slug}'s token is computable");
    }
    // The named view still shows the statement as the Artist wrote it.
    let page = p.read(&format!("site/groups/{g}/offline-surrealist.html"));
    assert!(page.contains("I, OFFLINE SURREALIST"));
}

#[test]
fn no_analysis_flag_leaves_the_views_out() {
    let (p, g) = project_with_one_group();
    p.chorus(&["build"]).assert().success();
    p.chorus(&["build", "--no-analysis"]).assert().success();
    let page = p.read(&format!("site/groups/{g}/index.html"));
    assert!(!page.contains("Statement similarity"));
    assert!(
        !p.path(&format!("site/groups/{g}/blind.html")).exists(),
        "stale blind page pruned"
    );
}

#[test]
fn an_unreadable_image_is_a_warning_not_a_failed_build() {
    let (p, g) = project_with_one_group();
    p.write(&format!("runs/{g}/offline-surrealist.png"), "not a png");
    // The build reports the bad image itself; the views leave it out and carry on.
    p.chorus(&["build"]).assert().success();
    let page = p.read(&format!("site/groups/{g}/index.html"));
    assert!(
        page.contains("Offline Minimalist vs Offline Surrealist: image similarity not available")
    );
    assert!(page.contains("Offline Minimalist vs Offline Surrealist: statement similarity "));
}

#[test]
fn artist_and_prompt_pages_show_views_across_groups() {
    let p = TestProject::init();
    p.generate_offline(&["--seed", "5", "--repeat", "2"]);
    p.chorus(&["build"]).assert().success();

    let artist = p.read("site/artists/offline-minimalist.html");
    assert!(artist.contains("Recurring distinctive words"));
    assert!(
        artist.contains("aria-label=\"Dominant colours: #"),
        "average palette"
    );
    assert!(
        artist.contains("Offline Maximalist: "),
        "mean similarity to each other Artist"
    );
    assert!(artist.contains(" over 2 groups"));
    assert!(artist.contains("Latency per run: 2 values, min "));
    assert!(artist.contains("0 of 2 finished runs failed (0%)"));

    let prompt = p.read("site/prompts/v2-neutral.html");
    assert!(prompt.contains("How consistently the Artists differ"));
    assert!(prompt.contains("Offline Minimalist vs Offline Maximalist: mean "));
    assert!(prompt.contains(" over 2 groups"));
}
