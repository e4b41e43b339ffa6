//! The built site in a real browser (issue 12). Builds a fixture with the real binary (6
//! Artists with long real-model names, a failed run with a long provider error, hostile
//! statements, 40 groups), starts `chorus serve` for live reload, and runs
//! tests/browser/check.mjs, which serves the site under a sub-path on 127.0.0.1 and drives
//! Debian's chromium: console errors and failed requests, layout at 360–1920 px, keyboard
//! and lightbox, axe-core, the Nu HTML checker, blind-page leaks, live reload.
//!
//! Needs chromium, node, java and `npm ci` in tests/browser (`.ci/run` installs them).
//! Without them the test says so loudly and passes, unless CHORUS_REQUIRE_BROWSER=1
//! (set by `.ci/run`), where a missing tool fails it. Screenshots go to
//! target/browser-shots/.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TestProject;

const ARTISTS: [(&str, &str, &str); 6] = [
    (
        "claude-3-5-sonnet",
        "Claude 3.5 Sonnet (2024-10-22)",
        "minimalist",
    ),
    (
        "gpt-4o-2024-08-06",
        "GPT-4o (2024-08-06) via OpenRouter",
        "maximalist",
    ),
    (
        "gemini-1-5-pro-002",
        "Gemini 1.5 Pro 002 Experimental",
        "surrealist",
    ),
    (
        "mistral-large-2411",
        "Mistral Large 2411 Instruct",
        "naturalist",
    ),
    (
        "llama-3-1-405b",
        "Llama 3.1 405B Instruct Turbo",
        "minimalist",
    ),
    (
        "qwen-2-5-72b",
        "Qwen 2.5 72B Instruct (long context)",
        "surrealist",
    ),
];

const FAILED: &str = "gpt-4o-2024-08-06";
const HOSTILE: &str = "gemini-1-5-pro-002";
const PROVIDER_ERROR: &str = "openrouter: HTTP 502 Bad Gateway from upstream provider: \
{\"error\":{\"message\":\"Upstream request failed\",\"code\":502,\"metadata\":{\"request_id\":\
\"req_01JD8ZQ3XK7M4VNP2W9T6YBHCFRAGSDL0E5U8I1O3A7S9D2F4G6H8J0KQWERTYUIOPASDFGHJKLZXCVBNM\",\
\"provider_name\":\"OpenAI\"}}} (after 3 attempts; run `chorus resume` to retry)";
const HOSTILE_STATEMENT: &str = "Hostile <img src=x> <script>alert(1)</script> \
<span style=\"color:red\" aria-label=\"x\">styled</span> <a href=\"javascript:alert(1)\">js</a> \
[md link](javascript:alert(2)) \"quotes\" & <b>ampersands</b> \
Unbreakable_Unbreakable_Unbreakable_Unbreakable_Unbreakable_Unbreakable_Unbreakable_Unbreakable_\
Unbreakable_Unbreakable_Unbreakable_Unbreakable\n\n<iframe src=\"https://example.com\"></iframe>\n\n\
| a | b |\n|---|---|\n| <img src=y onerror=alert(3)> | cell |\n";

fn config() -> String {
    let mut toml = String::from(
        "[site]\ntitle = \"chorus browser fixture\"\nbase_url = \"https://example.invalid/gallery/\"\n\n\
         [defaults]\nbrush = \"procedural\"\nprompt = \"v3-dawn\"\n\n",
    );
    for (slug, name, model) in ARTISTS {
        toml.push_str(&format!(
            "[[artists]]\nslug = \"{slug}\"\nname = \"{name}\"\nprovider = \"offline\"\nmodel = \"{model}\"\n\n"
        ));
    }
    toml.push_str(
        "[[brushes]]\nslug = \"procedural\"\nname = \"Procedural Brush\"\nprovider = \"procedural\"\n\
         model = \"procedural-v1\"\nsize = \"512x512\"\n\n\
         [prompts.v3-dawn]\nfile = \"prompts/v3-dawn.md\"\n\n[prompts.v4-sea]\nfile = \"prompts/v4-sea.md\"\n",
    );
    toml
}

/// Something the browser tests need, or why it is missing.
fn tool(path: &str, what: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(path);
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!("{what} ({path}) is missing"))
    }
}

fn which(cmd: &str) -> Result<PathBuf, String> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(cmd))
                .find(|p| p.is_file())
        })
        .ok_or_else(|| format!("`{cmd}` is not on PATH"))
}

/// The tools, or the reasons they are missing.
fn tools(harness: &Path) -> Result<PathBuf, Vec<String>> {
    let chromium = std::env::var("CHORUS_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let checks = [
        tool(&chromium, "chromium (apt-get install chromium)"),
        which("node"),
        which("java"),
        tool(
            &harness
                .join("node_modules/puppeteer-core/package.json")
                .to_string_lossy(),
            "the npm packages (npm ci in tests/browser)",
        ),
    ];
    let missing: Vec<String> = checks.iter().filter_map(|c| c.clone().err()).collect();
    if missing.is_empty() {
        Ok(PathBuf::from(chromium))
    } else {
        Err(missing)
    }
}

/// Builds the fixture project: 2 groups of one prompt, 38 of another, then one failed run
/// with a long provider error and one hostile statement in the newest group.
fn fixture() -> (TestProject, String) {
    let p = TestProject::with_config(&config());
    p.write(
        "prompts/v3-dawn.md",
        "You are an artist with a voice of your own. Imagine one original artwork on the theme\n\
         \"a place that exists only at dawn\". Choose your own medium, subject, composition and\n\
         palette; nothing is required except that the work is yours.\n\n\
         ===ARTIST STATEMENT===\nA short artist statement.\n\n===FINAL IMAGE PROMPT===\nOne paragraph.\n",
    );
    p.write(
        "prompts/v4-sea.md",
        "Imagine one artwork on the theme \"the sea remembering a ship\".\n",
    );
    // The configured Artists are offline ones (no key, no network), under real-model names.
    let generate = |args: &[&str]| -> Vec<String> {
        let out = p.chorus(&[&["generate"], args].concat()).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };
    generate(&["--prompt", "v4-sea", "--repeat", "2", "--seed", "1"]);
    let ids = generate(&["--repeat", "38", "--seed", "10"]);
    let newest = ids.last().expect("groups made").clone();
    let edit = |slug: &str, f: &dyn Fn(&mut serde_json::Value)| {
        let path = format!("runs/{newest}/{slug}.json");
        let mut v: serde_json::Value = serde_json::from_str(&p.read(&path)).unwrap();
        f(&mut v);
        p.write(&path, &serde_json::to_string_pretty(&v).unwrap());
    };
    edit(FAILED, &|v| {
        v["status"] = "failed".into();
        v["error"] = PROVIDER_ERROR.into();
        v.as_object_mut().unwrap().remove("imageFile");
    });
    std::fs::remove_file(p.path(&format!("runs/{newest}/{FAILED}.png"))).unwrap();
    edit(HOSTILE, &|v| v["artistStmt"] = HOSTILE_STATEMENT.into());
    p.chorus(&["build"]).assert().success();
    (p, newest)
}

/// `chorus serve` on a free port, killed when dropped.
struct Preview {
    child: Child,
    url: String,
}

impl Preview {
    fn start(p: &TestProject) -> Preview {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chorus"))
            .arg("--root")
            .arg(p.root())
            .args(["serve", "--port", "0", "--poll", "--out"])
            .arg(p.path("preview"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chorus serve");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&log);
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let start = Instant::now();
        let url = loop {
            let text = log.lock().unwrap().clone();
            if let Some(rest) = text.split("http://127.0.0.1:").nth(1) {
                let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                break format!("http://127.0.0.1:{port}/");
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "chorus serve printed no address:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        Preview { child, url }
    }
}

impl Drop for Preview {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_site_works_in_a_real_browser() {
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = match tools(&harness) {
        Ok(c) => c,
        Err(missing) => {
            let msg = format!(
                "\n{bar}\n!! BROWSER TESTS SKIPPED: {}\n!! Install them as .ci/run does: apt-get install -y chromium \
                 default-jre-headless nodejs npm; (cd tests/browser && npm ci)\n{bar}\n",
                missing.join("; "),
                bar = "!".repeat(78)
            );
            eprintln!("{msg}");
            assert!(
                std::env::var("CHORUS_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "CHORUS_REQUIRE_BROWSER=1 but {msg}"
            );
            return;
        }
    };
    let (p, newest) = fixture();
    let preview = Preview::start(&p);
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-shots");
    let slugs: Vec<&str> = ARTISTS.iter().map(|a| a.0).collect();
    // Distinctive parts of the names (the blind page must carry none in an attribute).
    let names: Vec<&str> = ARTISTS
        .iter()
        .map(|a| a.1.split(" (").next().unwrap_or(a.1))
        .collect();
    let facts = serde_json::json!({
        "site": p.path("site"),
        "prefix": "/gallery/",
        "compare": format!("groups/{newest}/index.html"),
        "run": format!("groups/{newest}/{HOSTILE}.html"),
        "failed_run": format!("groups/{newest}/{FAILED}.html"),
        "artist": format!("artists/{}.html", ARTISTS[0].0),
        "prompt": "prompts/v3-dawn.html",
        "blind": format!("groups/{newest}/blind.html"),
        "prompt_leaderboard": "leaderboards/v3-dawn.html",
        "newest": newest,
        // The newest group's images (one run failed): a vote is best of this many.
        "ballot": ARTISTS.len() - 1,
        "chorus": env!("CARGO_BIN_EXE_chorus"),
        "root": p.root(),
        "downloads": p.path("downloads"),
        "chromium": chromium,
        "shots": shots,
        "slugs": slugs,
        "names": names,
        "preview": {
            "url": format!("{}groups/{newest}/{}.html", preview.url, ARTISTS[3].0),
            "run_file": p.path(&format!("runs/{newest}/{}.json", ARTISTS[3].0)),
        },
    });
    let facts_file = p.path("browser-fixture.json");
    std::fs::write(&facts_file, facts.to_string()).unwrap();

    let out = Command::new("node")
        .arg(harness.join("check.mjs"))
        .env("FIXTURE", &facts_file)
        .current_dir(&harness)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "browser checks failed:\n{}",
        stdout
            .lines()
            .filter(|l| l.starts_with("FAIL"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    drop(preview);
}
