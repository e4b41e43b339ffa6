//! Untrusted `runs/` and model output against the real binary: the hostile fixture
//! (`tests/fixtures/hostile`), links and special files planted at test time, and linked
//! output folders. What docs/security.md promises, each case a test.
mod common;

use std::path::Path;
use std::time::Duration;

use common::TestProject;

const A: &str = "11111111-1111-4111-8111-111111111111";
const B: &str = "22222222-2222-4222-8222-222222222222";
const C: &str = "33333333-3333-4333-8333-333333333333";

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every published HTML page, with its path relative to site/.
fn pages(p: &TestProject) -> Vec<(String, String)> {
    p.files_under("site")
        .into_iter()
        .filter(|f| f.ends_with(".html"))
        .map(|f| {
            let text =
                String::from_utf8_lossy(&std::fs::read(p.path(&format!("site/{f}"))).unwrap())
                    .into_owned();
            (f, text)
        })
        .collect()
}

#[test]
fn check_and_strict_build_refuse_the_hostile_fixture_and_name_each_case() {
    let p = TestProject::fixture("hostile");
    let check = p.chorus(&["check"]).output().unwrap();
    assert_eq!(check.status.code(), Some(3), "{}", stderr_of(&check));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        stderr_of(&check)
    );
    for expected in [
        // An "image" named .html, whatever its bytes.
        "offline-minimalist.json: field \"imageFile\"",
        // Reserved names.
        "artists[0].slug",
        "\"index\" is reserved",
        // Too many Artists.
        "40 Artists, more than the 32",
    ] {
        assert!(
            all.contains(expected),
            "check did not report {expected:?}:\n{all}"
        );
    }
    let strict = p.chorus(&["build", "--strict"]).output().unwrap();
    assert_eq!(strict.status.code(), Some(3), "{}", stderr_of(&strict));
}

#[test]
fn a_run_file_cannot_overwrite_a_page_run_script_or_load_anything_remote() {
    let p = TestProject::fixture("hostile");
    let out = p.chorus(&["build"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));

    // The run page is a page, and the "image" is published under a name chorus chose
    // from its content, in the media folder.
    let run_page = p.read(&format!("site/groups/{A}/offline-minimalist.html"));
    assert!(
        run_page.starts_with("<!doctype html>"),
        "{}",
        &run_page[..40.min(run_page.len())]
    );
    let media = p.files_under(&format!("site/groups/{A}/media"));
    assert!(
        media.contains(&"offline-minimalist.jpg".to_string()),
        "{media:?}"
    );
    assert!(!media.iter().any(|m| m.ends_with(".html")), "{media:?}");

    let pages = pages(&p);
    assert!(pages.len() > 5, "{pages:?}");
    for (path, html) in &pages {
        let lower = html.to_lowercase();
        // The script's text may show, escaped, as the model's words; the image's bytes never.
        assert!(
            !lower.contains("pwned-image"),
            "{path}: the \"image\" reached a page"
        );
        assert!(!lower.contains("<script>"), "{path}: an inline script");
        assert!(
            !lower.contains("onerror") && !lower.contains("onclick"),
            "{path}: an event handler"
        );
        assert!(!lower.contains("javascript:"), "{path}: a javascript: URL");
        assert!(
            !lower.contains("<iframe") && !lower.contains("<style>body"),
            "{path}"
        );
        for attr in [
            "src=\"http",
            "src=http",
            "srcset=\"http",
            "href=\"https://tracker.example/svg",
            "url(https",
        ] {
            assert!(
                !lower.contains(attr),
                "{path}: loads something remote ({attr})"
            );
        }
        assert!(
            !html.contains('\u{0}') && !html.contains('\u{7}'),
            "{path}: a control character"
        );
        assert!(
            html.contains("http-equiv=\"Content-Security-Policy\""),
            "{path}: no Content-Security-Policy"
        );
        for img in html.split("<img").skip(1) {
            let tag = img.split('>').next().unwrap_or_default();
            assert!(
                tag.contains(" alt="),
                "{path}: an <img> without alt: <img{tag}>"
            );
        }
    }
    // The Markdown image survives as a link, not as an image.
    let statement = pages
        .iter()
        .find(|(f, _)| f == &format!("groups/{A}/offline-minimalist.html"))
        .map(|(_, h)| h.clone())
        .unwrap();
    assert!(statement.contains("href=\"https://tracker.example/md.png\""));

    // Reserved names never replace the site's own pages.
    let blind_or_index = p.read(&format!("site/groups/{B}/index.html"));
    assert!(
        !blind_or_index.contains("Reserved index"),
        "a run replaced the compare page"
    );
    assert!(
        !p.path(&format!("site/groups/{C}")).exists(),
        "a 40-Artist group was built"
    );
}

#[test]
fn the_problem_list_names_files_relative_to_the_project() {
    let p = TestProject::fixture("hostile");
    p.chorus(&["build"]).assert().success();
    let index = p.read("site/index.html");
    assert!(
        index.contains(&format!("runs/{A}/offline-minimalist.json")),
        "no problem list"
    );
    let root = p.root().to_string_lossy().into_owned();
    for (path, html) in pages(&p) {
        assert!(
            !html.contains(&root),
            "{path} shows the build machine's path {root}"
        );
    }
}

#[test]
fn problems_that_name_a_second_file_show_no_machine_path() {
    let p = TestProject::init();
    let g = p.generate_offline(&[]).remove(0);
    let token = |slug: &str| {
        let bytes = std::fs::read(p.path(&format!("runs/{g}/{slug}.png"))).unwrap();
        let run: chorus::store::RunRecord =
            serde_json::from_str(&p.read(&format!("runs/{g}/{slug}.json"))).unwrap();
        let secret = chorus::store::votes::run_secret(&run);
        chorus::store::votes::vote_token(&g, slug, &chorus::store::sha256_hex(&bytes), &secret)
    };
    let slugs = [
        "offline-maximalist",
        "offline-minimalist",
        "offline-surrealist",
    ];
    // Two files give one vote id to different votes: the problem names both files.
    for (file, winner) in [("a.json", 0), ("b.json", 1)] {
        let losers: Vec<String> = (0..3)
            .filter(|i| *i != winner)
            .map(|i| token(slugs[i]))
            .collect();
        let vote = serde_json::json!({
            "id": "00000000-0000-4000-8000-000000000001", "groupId": g,
            "winner": token(slugs[winner]), "losers": losers,
            "votedAt": "2026-11-30T12:00:00.000Z", "voter": "anonymous",
        });
        let votes = serde_json::json!({"format": "chorus-votes", "version": 1, "votes": [vote]});
        p.write(&format!("runs/{g}/votes/{file}"), &votes.to_string());
    }
    // A lost image: the problem names the image beside the run file.
    std::fs::remove_file(p.path(&format!("runs/{g}/offline-naturalist.png"))).unwrap();
    let out = p.chorus(&["build"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let index = p.read("site/index.html");
    assert!(
        index.contains("duplicate id"),
        "no duplicate-id problem listed"
    );
    assert!(
        index.contains("is missing"),
        "no missing-image problem listed"
    );
    let root = p.root().to_string_lossy().into_owned();
    for (path, html) in pages(&p) {
        assert!(
            !html.contains(&root),
            "{path} shows the build machine's path {root}"
        );
    }
    let check = p.chorus(&["check"]).output().unwrap();
    assert!(
        !stderr_of(&check).contains(&root),
        "check shows the machine path: {}",
        stderr_of(&check)
    );
}

/// Control and bidi characters that must never reach a terminal or a page's text raw:
/// C0 (but newline), DEL, C1, and the bidi marks, embeddings, overrides and isolates.
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

#[test]
fn control_and_bidi_characters_from_runs_are_escaped_on_terminals_and_pages() {
    let p = TestProject::init();
    let g = p.generate_offline(&[]).remove(0);
    // A votes key that would clear the screen and print a fake all-clear line.
    let fake = "\u{1b}[2J\u{1b}[Hok: chorus.toml and 3 group(s), 12 run(s) checked.\u{1b}[8m";
    let key = serde_json::json!({ "format": "chorus-votes", "version": 1, "votes": [
        { fake: 1, "id": "00000000-0000-4000-8000-000000000001", "groupId": g }
    ]});
    p.write(&format!("runs/{g}/votes/keys.json"), &key.to_string());
    // A file name with an unclosed right-to-left override and a C1 control.
    let name = "harmless\u{202e}nosj.\u{9b}31m.json";
    p.write(&format!("runs/{g}/votes/{name}"), "not json");
    // A prompt version (shown by `status`) with a bidi isolate and a BEL.
    let group_json = format!("runs/{g}/group.json");
    let text = p.read(&group_json);
    let version = serde_json::from_str::<serde_json::Value>(&text).unwrap()["promptVersion"]
        .as_str()
        .unwrap()
        .to_string();
    p.write(
        &group_json,
        &text.replace(&format!("\"{version}\""), "\"v2\\u2067\\u0007-neutral\""),
    );

    for args in [&["check"][..], &["build"][..], &["status"][..]] {
        let out = p.chorus(args).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            stderr_of(&out)
        );
        assert_eq!(
            raw_controls(&text),
            Vec::<char>::new(),
            "chorus {args:?}:\n{text}"
        );
        if args != ["status"] {
            // Still reported, visibly.
            assert!(text.contains("\\u{1b}[2J"), "chorus {args:?}:\n{text}");
            assert!(
                text.contains("harmless\\u{202e}nosj"),
                "chorus {args:?}:\n{text}"
            );
        } else {
            assert!(text.contains("v2\\u{2067}\\u{7}-neutral"), "{text}");
        }
    }
    p.write("download.json", &key.to_string());
    let out = p
        .chorus(&["votes", "import", "download.json"])
        .current_dir(p.root())
        .output()
        .unwrap();
    let text = stderr_of(&out);
    assert_eq!(
        raw_controls(&text),
        Vec::<char>::new(),
        "votes import:\n{text}"
    );
    assert!(text.contains("\\u{1b}[2J"), "{text}");
    // The problem list on the index shows the names escaped too.
    let index = p.read("site/index.html");
    assert!(
        index.contains("harmless\\u{202e}nosj"),
        "the problem list lacks the file"
    );
    assert_eq!(
        raw_controls(&index.replace(['\t', '\r'], "")),
        Vec::<char>::new()
    );
}

#[test]
fn links_and_special_files_in_runs_are_reported_and_never_followed() {
    let p = TestProject::fixture("hostile");
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.png");
    std::fs::copy(p.path(&format!("runs/{A}/offline-maximalist.png")), &secret).unwrap();
    // A group folder outside the project, linked in.
    let elsewhere = outside.path().join("group");
    std::fs::create_dir(&elsewhere).unwrap();
    let g = p.path(&format!("runs/{A}"));
    std::os::unix::fs::symlink(
        &elsewhere,
        p.path("runs/44444444-4444-4444-8444-444444444444"),
    )
    .unwrap();
    // An image that is a link out, a run file that is a link to /dev/zero, and a FIFO.
    std::fs::remove_file(g.join("offline-maximalist.png")).unwrap();
    std::os::unix::fs::symlink(&secret, g.join("offline-maximalist.png")).unwrap();
    std::fs::remove_file(g.join("offline-minimalist.json")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", g.join("offline-minimalist.json")).unwrap();
    let fifo = g.join("extra.json");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());

    for args in [&["check"][..], &["build"][..]] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_chorus"))
            .arg("--root")
            .arg(p.root())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("chorus {args:?} hangs on a FIFO or /dev/zero");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            stderr_of(&out)
        );
        if args == ["check"] {
            assert_eq!(out.status.code(), Some(3), "{text}");
            for name in [
                "44444444-4444-4444-8444-444444444444",
                "offline-maximalist.png",
                "offline-minimalist.json",
                "extra.json",
            ] {
                assert!(
                    text.lines().any(|l| l.contains(name)
                        && (l.contains("symbolic link")
                            || l.contains("special file")
                            || l.contains("not a regular file"))),
                    "{name} not reported as a link or special file:\n{text}"
                );
            }
        }
    }
    // Nothing from outside was published.
    let secret_bytes = std::fs::read(&secret).unwrap();
    for f in p.files_under("site") {
        let bytes = std::fs::read(p.path(&format!("site/{f}"))).unwrap();
        assert_ne!(
            bytes, secret_bytes,
            "site/{f} is the file the link pointed at"
        );
    }
    assert!(!p
        .path("site/groups/44444444-4444-4444-8444-444444444444")
        .exists());
}

fn assert_linked_folder_refused(name: &str) {
    let p = TestProject::fixture("hostile");
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("keep.txt");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(outside.path(), p.path(name)).unwrap();
    let out = p.chorus(&["build"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("symbolic link"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let names: Vec<_> = std::fs::read_dir(outside.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "the build wrote outside the project");
}

#[test]
fn a_linked_site_folder_is_refused_and_nothing_outside_is_touched() {
    assert_linked_folder_refused("site");
}

#[test]
fn a_linked_cache_folder_is_refused_and_nothing_outside_is_touched() {
    assert_linked_folder_refused(".chorus-cache");
}

#[test]
fn a_link_inside_a_committed_site_folder_is_removed_not_followed() {
    let p = TestProject::fixture("hostile");
    p.chorus(&["build"]).assert().success();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("keep.txt"), "precious").unwrap();
    let groups = p.path("site/groups");
    std::fs::remove_dir_all(&groups).unwrap();
    std::os::unix::fs::symlink(outside.path(), &groups).unwrap();
    p.chorus(&["build"]).assert().success();
    assert!(!std::fs::symlink_metadata(&groups)
        .unwrap()
        .file_type()
        .is_symlink());
    let names: Vec<_> = std::fs::read_dir(outside.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "the build wrote through the link");
}

#[test]
fn the_ignore_rules_match_linked_output_folders() {
    let p = TestProject::init();
    let ignore = p.read(".gitignore");
    for line in ["/site", "/.chorus-cache"] {
        assert!(
            ignore.lines().any(|l| l == line),
            "{line} missing:\n{ignore}"
        );
    }
    assert!(
        !ignore.contains("/site/"),
        "a trailing slash matches folders only:\n{ignore}"
    );
    let own =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".gitignore")).unwrap();
    assert!(own.lines().any(|l| l == "/site") && own.lines().any(|l| l == "/.chorus-cache"));
}

#[test]
fn reserved_slugs_are_refused_in_chorus_toml() {
    let p = TestProject::with_config(
        r#"
[[artists]]
slug = "index"
name = "Index"
provider = "offline"
model = "minimalist"

[prompts.blind]
text = "x"
"#,
    );
    let out = p.chorus(&["check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr_of(&out)
    );
    assert!(
        text.contains("artists[0].slug") && text.contains("reserved"),
        "{text}"
    );
    assert!(text.contains("prompts.blind"), "{text}");
}

#[test]
fn generate_never_writes_through_a_linked_runs_folder() {
    let p = TestProject::init();
    let outside = tempfile::tempdir().unwrap();
    std::fs::remove_dir_all(p.path("runs")).ok();
    std::os::unix::fs::symlink(outside.path(), p.path("runs")).unwrap();
    let out = p.chorus(&["generate", "--offline"]).output().unwrap();
    let stderr = stderr_of(&out);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("runs: is a symbolic link; chorus never writes through links under runs/"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("is a symbolic link").count(),
        1,
        "the reason is said once: {stderr}"
    );
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing written outside the project"
    );
}
