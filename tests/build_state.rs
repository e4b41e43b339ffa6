//! The build's own state (the output folder, the cache beside it) never locks a user out:
//! whatever an interrupted build or an edit under runs/ left, the next `build` makes the
//! site a clean build makes, and nothing has to be deleted by hand.
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::TestProject;

/// Every file under `dir` with its bytes, sorted by path.
fn contents(p: &TestProject, dir: &str) -> Vec<(String, Vec<u8>)> {
    p.files_under(dir)
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(p.path(&format!("{dir}/{f}"))).unwrap();
            (f, bytes)
        })
        .collect()
}

/// Builds into a new folder `clean/` (a first build there: its manifest is its own) and
/// says whether `site/` holds exactly the same files.
fn assert_site_is_a_clean_build(p: &TestProject) {
    let _ = std::fs::remove_dir_all(p.path("clean"));
    let clean = p.path("clean");
    let out = p
        .chorus(&["build", "--out", clean.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (site, clean) = (contents(p, "site"), contents(p, "clean"));
    let names = |c: &[(String, Vec<u8>)]| c.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&site),
        names(&clean),
        "site/ and a clean build list different files"
    );
    for ((name, a), (_, b)) in site.iter().zip(&clean) {
        assert!(a == b, "site/{name} differs from a clean build's");
    }
}

/// Starts `chorus build` and SIGKILLs it as soon as it has written a group's page, before
/// it finishes. Returns false when the build finished first.
fn kill_build_part_way(p: &TestProject) -> bool {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_chorus"))
        .arg("--root")
        .arg(p.root())
        .arg("build")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let groups = p.path("site/groups");
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if has_a_file(&groups) || start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn has_a_file(dir: &Path) -> bool {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .any(|e| e.file_type().is_file())
}

#[test]
fn an_interrupted_first_build_is_finished_by_the_next_build() {
    let p = TestProject::init();
    p.generate_offline(&["--repeat", "8"]);
    let mut killed = false;
    for _ in 0..5 {
        let _ = std::fs::remove_dir_all(p.path("site"));
        let _ = std::fs::remove_dir_all(p.path(".chorus-cache"));
        if kill_build_part_way(&p) {
            killed = true;
            break;
        }
    }
    assert!(
        killed,
        "every build finished before it could be interrupted"
    );
    // The next build and serve recognise the folder as chorus's own and finish the job.
    let out = p.chorus(&["build"]).output().unwrap();
    assert!(
        out.status.success(),
        "the build after an interrupted first build failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_site_is_a_clean_build(&p);
}

/// `cp -a runs/<from> runs/<to>`: a folder whose group.json names another group's id.
fn copy_group(p: &TestProject, from: &str, to: &str) {
    let ok = std::process::Command::new("cp")
        .arg("-a")
        .arg(p.path(&format!("runs/{from}")))
        .arg(p.path(&format!("runs/{to}")))
        .status()
        .unwrap()
        .success();
    assert!(ok, "cp -a failed");
}

const COPY: &str = "cccccccc-0000-4000-8000-000000000000";

#[test]
fn a_folder_naming_another_groups_id_is_reported_and_not_listed() {
    let p = TestProject::init();
    let ids = p.generate_offline(&["--repeat", "2"]);
    let g = &ids[0];
    p.chorus(&["build"]).assert().success();
    let link = format!("groups/{g}/index.html");
    let links_before = p.read("site/index.html").matches(&link).count();
    copy_group(&p, g, COPY);
    let out = p.chorus(&["build"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs: serde_json::Value = serde_json::from_str(&p.read("site/runs.json")).unwrap();
    let listed: Vec<&str> = runs["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["runGroupId"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 2, "runs.json lists {listed:?}");
    assert_eq!(listed.iter().filter(|id| *id == g).count(), 1, "{listed:?}");
    let index = p.read("site/index.html");
    assert_eq!(
        index.matches(&link).count(),
        links_before,
        "the index links group {g} more often than before the copy"
    );
    assert!(
        index.contains(&format!("runs/{COPY}/group.json")),
        "the copy is not reported on the index"
    );
    assert!(!p.path(&format!("site/groups/{COPY}")).exists());
    // status and check count the groups the build lists.
    let status = p.chorus(&["status"]).output().unwrap();
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert_eq!(status.matches(g.as_str()).count(), 1, "{status}");
    assert!(status.contains("2 group(s), 8 run(s)"), "{status}");
    let check = p.chorus(&["check"]).output().unwrap();
    assert_eq!(check.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&check.stderr).contains(&format!("runs/{COPY}/group.json")));
    // The same output as a clean build of the same runs/.
    assert_site_is_a_clean_build(&p);
}

/// The cards folders of the build cache (one per output folder).
fn cards_dirs(p: &TestProject) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(p.path(".chorus-cache"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path().join("cards"))
        .filter(|d| d.is_dir())
        .collect()
}

#[test]
fn a_build_remakes_what_the_cache_lacks() {
    let p = TestProject::init();
    let ids = p.generate_offline(&["--repeat", "2"]);
    let g = &ids[0];
    // The steps of issue 26: build; copy a group folder; build; remove the copy, edit
    // the group, build.
    p.chorus(&["build"]).assert().success();
    copy_group(&p, g, COPY);
    p.chorus(&["build"]).assert().success();
    std::fs::remove_dir_all(p.path(&format!("runs/{COPY}"))).unwrap();
    let group_json = format!("runs/{g}/group.json");
    let text = p.read(&group_json);
    p.write(&group_json, &format!("{text}\n"));
    let out = p.chorus(&["build"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_site_is_a_clean_build(&p);

    // A group's analysis numbers, then its card, removed from the cache by hand or lost:
    // the next build makes them again.
    for (lost, ending) in [("numbers", ".numbers.bin"), ("card", ".json")] {
        for dir in cards_dirs(&p) {
            std::fs::remove_file(dir.join(format!("{g}{ending}"))).unwrap();
        }
        // A change elsewhere, so the listings are made again from the cache.
        let other = format!("runs/{}/group.json", ids[1]);
        let text = p.read(&other);
        p.write(&other, &format!("{text}\n"));
        let out = p.chorus(&["build"]).output().unwrap();
        assert!(
            out.status.success(),
            "a lost {lost} file locked the build: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_site_is_a_clean_build(&p);
    }
}
