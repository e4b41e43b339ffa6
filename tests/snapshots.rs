//! Snapshot tests: what users read (the CLI's help, `status`, `check`'s problems) and a
//! few pages' markup, kept as files under `tests/snapshots/`, so a change to any of them
//! shows in review as a diff of those files. After an intended change:
//! `CHORUS_BLESS=1 cargo test --test snapshots`, then read the diff before committing.

mod common;

use std::path::Path;

use common::TestProject;

/// Compares `actual` with `tests/snapshots/<name>`, or writes it when blessing.
fn snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("CHORUS_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!("no snapshot tests/snapshots/{name}; run CHORUS_BLESS=1 cargo test --test snapshots")
    });
    if expected != actual {
        panic!(
            "tests/snapshots/{name} differs from what chorus printed now (if intended: \
             CHORUS_BLESS=1 cargo test --test snapshots, then review the diff):\n{}",
            first_difference(&expected, actual)
        );
    }
}

/// The first line that differs, with two lines of context before it.
fn first_difference(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let at = (0..e.len().max(a.len()))
        .find(|&i| e.get(i) != a.get(i))
        .unwrap_or(0);
    let mut out = String::new();
    for (i, line) in e.iter().enumerate().take(at).skip(at.saturating_sub(2)) {
        out += &format!("   {:>4} {line}\n", i + 1);
    }
    out += &format!("-  {:>4} {}\n", at + 1, e.get(at).unwrap_or(&"<end>"));
    out += &format!("+  {:>4} {}\n", at + 1, a.get(at).unwrap_or(&"<end>"));
    out
}

/// Output with the temp project's path replaced, so snapshots hold on any machine.
fn output(p: &TestProject, args: &[&str]) -> (i32, String) {
    let out = p.chorus(args).env("NO_COLOR", "1").output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let root = p.root().display().to_string();
    (
        out.status.code().unwrap_or(-1),
        text.replace(&root, "[ROOT]"),
    )
}

#[test]
fn help_texts() {
    let p = TestProject::empty();
    for cmd in [
        "", "init", "generate", "resume", "collect", "build", "serve", "status", "check", "votes",
        "models",
    ] {
        let mut args: Vec<&str> = cmd.split_whitespace().collect();
        args.push("--help");
        let (code, text) = output(&p, &args);
        assert_eq!(code, 0, "{cmd} --help: {text}");
        let name = if cmd.is_empty() { "chorus" } else { cmd };
        snapshot(&format!("help-{name}.txt"), &text);
    }
}

#[test]
fn status_and_check_reports() {
    let p = TestProject::fixture("hostile");
    let (code, text) = output(&p, &["status", "--all"]);
    snapshot("status-hostile.txt", &format!("exit {code}\n{text}"));
    let (code, text) = output(&p, &["check"]);
    snapshot("check-hostile.txt", &format!("exit {code}\n{text}"));
}

#[test]
fn pages_markup() {
    let p = TestProject::fixture("hostile");
    p.chorus(&["build"]).assert().success();
    let group = "11111111-1111-4111-8111-111111111111";
    for (name, rel) in [
        ("page-index.html", "site/index.html".to_string()),
        (
            "page-compare.html",
            format!("site/groups/{group}/index.html"),
        ),
        (
            "page-run.html",
            format!("site/groups/{group}/offline-maximalist.html"),
        ),
    ] {
        snapshot(name, &p.read(&rel));
    }
}
