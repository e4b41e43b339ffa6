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
            page.contains(&format!(
                ">{artist}</a><span class=\"visually-hidden\"> → Procedural Brush</span>"
            )),
            "no column for {artist}"
        );
    }
    for slug in [
        "offline-minimalist",
        "offline-maximalist",
        "offline-surrealist",
        "offline-naturalist",
    ] {
        // The full image: its JPEG, or the PNG itself when that is smaller (the offline
        // Brush's flat images are).
        let full = |ext: &str| p.path(&format!("site/groups/{g}/media/{slug}.{ext}"));
        assert!(full("jpg").is_file() || full("png").is_file());
        assert!(p.path(&format!("runs/{g}/{slug}.png")).is_file());
    }
}

#[test]
fn run_files_are_pretty_camel_case_with_trailing_newline() {
    let p = TestProject::init();
    let g = &p.generate_offline(&["--seed", "3"])[0];
    let text = p.read(&format!("runs/{g}/offline-naturalist.json"));
    assert!(text.ends_with("}\n"));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for field in [
        "schemaVersion",
        "runId",
        "runGroupId",
        "artistSlug",
        "brushSlug",
        "promptVersion",
        "artistStmt",
        "imagePrompt",
        "status",
        "meta",
        "createdAt",
        "imageFile",
    ] {
        assert!(v.get(field).is_some(), "missing {field}");
    }
    assert_eq!(v["status"], "done");
    assert_eq!(v["imageFile"], "offline-naturalist.png");
    assert!(v["meta"]["artist"]["latencyMs"].is_u64());
    assert!(v["meta"]["artist"]["tokens"]["output"].as_u64().unwrap() > 0);
    let group: serde_json::Value =
        serde_json::from_str(&p.read(&format!("runs/{g}/group.json"))).unwrap();
    let text = group["promptText"].as_str().unwrap();
    assert!(text.contains("===ARTIST STATEMENT==="));
    assert_eq!(
        group["promptSha256"].as_str().unwrap(),
        chorus::store::sha256_hex(text.as_bytes())
    );
    // No temp files left behind by the atomic writes.
    assert!(p
        .files_under("runs")
        .iter()
        .all(|f| !f.contains("chorus-tmp")));
}

#[test]
fn same_seed_gives_the_same_statements_and_images() {
    let p = TestProject::init();
    let ids = p.generate_offline(&["--seed", "11"]);
    let again = p.generate_offline(&["--seed", "11"]);
    let other = p.generate_offline(&["--seed", "12"]);
    let stmt = |g: &str| {
        let v: serde_json::Value =
            serde_json::from_str(&p.read(&format!("runs/{g}/offline-surrealist.json"))).unwrap();
        v["artistStmt"].as_str().unwrap().to_string()
    };
    let image =
        |g: &str| std::fs::read(p.path(&format!("runs/{g}/offline-surrealist.png"))).unwrap();
    assert_eq!(stmt(&ids[0]), stmt(&again[0]));
    assert_eq!(image(&ids[0]), image(&again[0]));
    assert_ne!(stmt(&ids[0]), stmt(&other[0]));
}

#[test]
fn repeat_prints_one_id_per_group_and_status_counts_them() {
    let p = TestProject::init();
    let ids = p.generate_offline(&[
        "--repeat",
        "3",
        "--artists",
        "offline-minimalist,offline-naturalist",
    ]);
    assert_eq!(ids.len(), 3);
    for id in &ids {
        uuid::Uuid::parse_str(id).expect("stdout holds only group ids");
    }
    let out = p.chorus(&["status"]).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    for id in &ids {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(id.as_str()))
            .expect("group listed");
        let counts: Vec<&str> = line.split_whitespace().rev().take(4).collect();
        assert_eq!(
            counts,
            ["0", "2", "0", "0"],
            "failed, done, generating, queued in {line}"
        );
    }
}

/// Runs chorus with the reading end of its stdout (or stderr) already closed, as
/// `chorus status --all | head -1` leaves it once `head` has its line.
fn run_into_a_closed_pipe(p: &TestProject, args: &[&str], close_stderr: bool) -> (i32, String) {
    use std::io::Read;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_chorus"))
        .arg("--root")
        .arg(p.root())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut other = if close_stderr {
        drop(child.stderr.take());
        Box::new(child.stdout.take().unwrap()) as Box<dyn Read>
    } else {
        drop(child.stdout.take());
        Box::new(child.stderr.take().unwrap())
    };
    let mut text = String::new();
    other.read_to_string(&mut text).unwrap();
    let code = child.wait().unwrap().code().unwrap_or(-1);
    (code, text)
}

#[test]
fn a_closed_pipe_is_a_normal_end() {
    let p = TestProject::init();
    p.generate_offline(&["--repeat", "3"]);
    let (code, stderr) = run_into_a_closed_pipe(&p, &["status", "--all"], false);
    assert_eq!(code, 0, "status into a closed pipe: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // `check` reports on stderr: `chorus check 2>&1 | head -1` closes that.
    let (code, stdout) = run_into_a_closed_pipe(&p, &["check"], true);
    assert_eq!(code, 0, "check into a closed pipe: {stdout}");
    // The ids `generate` prints are not worth a run: it finishes its group.
    let (code, _) = run_into_a_closed_pipe(&p, &["generate", "--offline"], false);
    assert_eq!(code, 0);
    let out = p.chorus(&["status"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("4 group(s)"));
}

#[test]
fn statements_are_sanitised_and_escaped_in_pages() {
    let p = TestProject::init();
    let g = &p.generate_offline(&["--seed", "5"])[0];
    let file = format!("runs/{g}/offline-minimalist.json");
    let mut v: serde_json::Value = serde_json::from_str(&p.read(&file)).unwrap();
    v["artistStmt"] =
        "Fish & chips <script>alert('x')</script> **bold** <img src=x onerror=alert(1)>".into();
    v["imagePrompt"] = "<b>tag</b> & \"quotes\"".into();
    p.write(&file, &v.to_string());
    p.chorus(&["build"]).assert().success();
    let run = p.read(&format!("site/groups/{g}/offline-minimalist.html"));
    assert!(run.contains("<strong>bold</strong>"), "markdown rendered");
    assert!(run.contains("Fish &amp; chips"));
    assert!(run.contains("&lt;b&gt;tag&lt;/b&gt; &amp; &quot;quotes&quot;"));
    let group = p.read(&format!("site/groups/{g}/index.html"));
    for page in [&run, &group] {
        assert!(!page.contains("<script>alert"), "script survived");
        assert!(!page.contains("onerror="), "event handler survived");
    }
}

#[test]
fn init_refuses_to_overwrite_and_help_explains() {
    let p = TestProject::init();
    assert!(p.path("themes/default/templates/group.html").is_file());
    assert!(p.path("prompts/v2-neutral.md").is_file());
    p.chorus(&["init"]).assert().code(1);
    let out = p.chorus(&["generate", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        help.contains("--offline") && help.contains("Exit codes"),
        "{help}"
    );
}

#[test]
fn rebuild_without_changes_rewrites_nothing() {
    let p = TestProject::init();
    p.generate_offline(&["--seed", "2"]);
    p.chorus(&["build"]).assert().success();
    let before: Vec<(String, std::time::SystemTime)> = p
        .files_under("site")
        .into_iter()
        .map(|f| {
            let m = std::fs::metadata(p.path(&format!("site/{f}")))
                .unwrap()
                .modified()
                .unwrap();
            (f, m)
        })
        .collect();
    let out = p.chorus(&["build"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains(" 0 written"));
    for (f, m) in before {
        assert_eq!(
            std::fs::metadata(p.path(&format!("site/{f}")))
                .unwrap()
                .modified()
                .unwrap(),
            m,
            "{f} rewritten"
        );
    }
}
