//! init → generate --offline → check → build, through the real binary.
mod common;

use common::TestProject;

#[test]
fn offline_pipeline_builds_a_gallery() {
    let p = TestProject::init();
    let groups = p.generate_offline(&["--seed", "7"]);
    assert_eq!(groups.len(), 1);
    let g = &groups[0];
    p.chorus(&["check"]).assert().success();
    p.chorus(&["build"]).assert().success();

    let index = p.read("site/index.html");
    assert!(index.contains(&format!("groups/{g}/index.html")));
    let page = p.read(&format!("site/groups/{g}/index.html"));
    for artist in [
        "Offline Minimalist",
        "Offline Maximalist",
        "Offline Surrealist",
        "Offline Naturalist",
    ] {
        assert!(
            page.contains(&format!("{artist} → Procedural Brush")),
            "no column for {artist}"
        );
    }
    for slug in [
        "offline-minimalist",
        "offline-maximalist",
        "offline-surrealist",
        "offline-naturalist",
    ] {
        assert!(p.path(&format!("site/groups/{g}/{slug}.png")).is_file());
        assert!(p.path(&format!("runs/{g}/{slug}.png")).is_file());
    }
}
