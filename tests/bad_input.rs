//! Bad input ends with an error that names the file and field, says what to do, exits
//! non-zero and leaves nothing half-written.
mod common;

use common::TestProject;
use predicates::prelude::*;

const GOOD: &str = r#"
[defaults]
prompt = "p1"
brush = "b1"

[[brushes]]
slug = "b1"
name = "B One"
provider = "procedural"
model = "procedural-v1"
size = "64x64"

[[artists]]
slug = "a1"
name = "A One"
provider = "offline"
model = "minimalist"

[prompts.p1]
text = "Paint \"a quiet harbour\"."
"#;

/// `generate` on a broken config fails, names what is wrong and writes no runs/.
fn assert_config_refused(toml: &str, expected: &[&str]) {
    let p = TestProject::with_config(toml);
    let assert = p.chorus(&["generate", "--offline"]).assert().code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("chorus.toml"), "no file named: {stderr}");
    for e in expected {
        assert!(stderr.contains(e), "expected {e:?} in: {stderr}");
    }
    assert!(
        !p.path("runs").exists(),
        "runs/ was written despite the error"
    );
    p.chorus(&["check"]).assert().code(3);
}

#[test]
fn malformed_toml() {
    assert_config_refused("[site\ntitle = 1", &["line 1"]);
}

#[test]
fn unknown_key() {
    assert_config_refused(
        &GOOD.replace(
            "model = \"minimalist\"",
            "model = \"minimalist\"\ntemprature = 0.5",
        ),
        &["temprature", "line"],
    );
}

#[test]
fn duplicate_slug() {
    let dup = format!("{GOOD}\n[[artists]]\nslug = \"a1\"\nname = \"Again\"\nprovider = \"offline\"\nmodel = \"maximalist\"\n");
    assert_config_refused(&dup, &["artists[1].slug", "duplicate"]);
}

#[test]
fn slug_with_path_characters() {
    assert_config_refused(
        &GOOD.replace("slug = \"a1\"", "slug = \"../a1\""),
        &["artists[0].slug", "not a valid slug"],
    );
    assert_config_refused(
        &GOOD.replace("slug = \"a1\"", "slug = \"x/y\""),
        &["artists[0].slug"],
    );
}

#[test]
fn unknown_provider() {
    assert_config_refused(
        &GOOD.replace("provider = \"offline\"", "provider = \"gpt\""),
        &["artists[0].provider", "openrouter"],
    );
}

#[test]
fn missing_prompt() {
    assert_config_refused(
        &GOOD.replace("prompt = \"p1\"", "prompt = \"nope\""),
        &["defaults.prompt", "nope"],
    );
    assert_config_refused(
        &GOOD.replace(
            "text = \"Paint \\\"a quiet harbour\\\".\"",
            "file = \"prompts/missing.md\"",
        ),
        &["prompts.p1", "missing.md"],
    );
}

#[test]
fn missing_config_says_how_to_start() {
    TestProject::empty()
        .chorus(&["build"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("chorus init"));
}

/// A project with two good groups; returns (project, [group ids]).
fn two_groups() -> (TestProject, Vec<String>) {
    let p = TestProject::with_config(GOOD);
    let out = p
        .chorus(&["generate", "--repeat", "2", "--seed", "1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(ids.len(), 2);
    p.chorus(&["check"]).assert().success();
    (p, ids)
}

/// `check` reports the problem (file + field + reason) with exit 3; `build` still builds
/// the sound group, lists the problem, exits 0, and 3 with --strict.
fn assert_run_problem(p: &TestProject, sound: &str, expected: &[&str]) {
    let out = p.chorus(&["check"]).assert().code(3);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    for e in expected {
        assert!(stderr.contains(e), "expected {e:?} in: {stderr}");
    }
    let out = p.chorus(&["build"]).assert().success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains(expected[0]),
        "build did not list the problem: {stderr}"
    );
    assert!(
        p.path(&format!("site/groups/{sound}/index.html")).is_file(),
        "sound group not built"
    );
    assert!(
        p.read("site/index.html").contains(expected[0]),
        "index does not list the problem"
    );
    p.chorus(&["build", "--strict"]).assert().code(3);
}

#[test]
fn run_file_that_is_not_json() {
    let (p, ids) = two_groups();
    let file = format!("runs/{}/a1.json", ids[0]);
    p.write(&file, "{ this is not json");
    assert_run_problem(&p, &ids[1], &[&file, "not valid JSON"]);
}

#[test]
fn run_file_with_a_field_missing() {
    let (p, ids) = two_groups();
    let file = format!("runs/{}/a1.json", ids[0]);
    let mut v: serde_json::Value = serde_json::from_str(&p.read(&file)).unwrap();
    v.as_object_mut().unwrap().remove("status");
    p.write(&file, &v.to_string());
    assert_run_problem(&p, &ids[1], &[&file, "field \"status\"", "missing"]);
}

#[test]
fn run_file_with_a_bad_status() {
    let (p, ids) = two_groups();
    let file = format!("runs/{}/a1.json", ids[0]);
    p.write(
        &file,
        &p.read(&file)
            .replacen("\"status\": \"done\"", "\"status\": \"ok\"", 1),
    );
    assert_run_problem(&p, &ids[1], &[&file, "field \"status\"", "queued"]);
}

#[test]
fn newer_schema_version() {
    let (p, ids) = two_groups();
    let file = format!("runs/{}/group.json", ids[0]);
    p.write(
        &file,
        &p.read(&file)
            .replace("\"schemaVersion\": 1", "\"schemaVersion\": 99"),
    );
    assert_run_problem(&p, &ids[1], &[&file, "schemaVersion", "upgrade chorus"]);
}

#[test]
fn missing_image_file() {
    let (p, ids) = two_groups();
    std::fs::remove_file(p.path(&format!("runs/{}/a1.png", ids[0]))).unwrap();
    let file = format!("runs/{}/a1.json", ids[0]);
    assert_run_problem(&p, &ids[1], &[&file, "imageFile", "missing"]);
    // The group with the lost image is still built, the run shown as broken, not blank.
    let page = p.read(&format!("site/groups/{}/index.html", ids[0]));
    assert!(page.contains("image file is missing"));
}

#[test]
fn build_refuses_to_prune_a_foreign_folder() {
    let (p, _) = two_groups();
    p.write("elsewhere/precious.txt", "keep me");
    p.chorus(&["build", "--out", p.path("elsewhere").to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not written by chorus"));
    assert_eq!(p.read("elsewhere/precious.txt"), "keep me");
}
