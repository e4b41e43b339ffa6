//! Fuzz targets for the three parsers untrusted bytes reach, run on stable Rust with
//! proptest's generators: the run-record loader, the reply (statement) parser, and the
//! Markdown → sanitised HTML path. Each target first replays its corpus
//! (`tests/fuzz/corpus/<target>/`), then generates inputs: a few hundred in `cargo test`,
//! or for `CHORUS_FUZZ_SECS` seconds each (`scripts/fuzz.sh` runs 60 s per target).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

/// Replays the corpus, then feeds `check` generated inputs for the time budget (or a
/// fixed number of cases), printing the count so a long run shows it did work.
fn fuzz(target: &str, strategy: impl Strategy<Value = Vec<u8>>, check: impl Fn(&Vec<u8>)) {
    for seed in corpus(target) {
        check(&seed);
    }
    let secs: u64 = std::env::var("CHORUS_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut runner = TestRunner::deterministic();
    let start = Instant::now();
    let mut cases = 0u64;
    loop {
        let done = if secs == 0 {
            cases >= 300
        } else {
            start.elapsed() >= Duration::from_secs(secs)
        };
        if done {
            break;
        }
        let value = strategy.new_tree(&mut runner).expect("generate").current();
        check(&value);
        cases += 1;
    }
    eprintln!(
        "fuzz {target}: {cases} generated cases in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

/// Corpus inputs with random bytes overwritten, inserted or cut: mostly-valid inputs
/// reach deeper than random noise.
fn mutated(target: &str) -> impl Strategy<Value = Vec<u8>> {
    let seeds = corpus(target);
    (
        0..seeds.len(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..12),
    )
        .prop_map(move |(i, edits)| {
            let mut bytes = seeds[i].clone();
            for (at, byte, kind) in edits {
                let pos = if bytes.is_empty() {
                    0
                } else {
                    at.index(bytes.len())
                };
                match kind {
                    0 if !bytes.is_empty() => bytes[pos] = byte,
                    1 => bytes.insert(pos, byte),
                    _ if !bytes.is_empty() => {
                        bytes.truncate(pos);
                    }
                    _ => {}
                }
            }
            bytes
        })
}

#[test]
fn fuzz_run_record_loader() {
    let group = corpus("run_record")
        .into_iter()
        .find(|b| String::from_utf8_lossy(b).contains("\"artists\""))
        .expect("a group.json in the corpus");
    let group: serde_json::Value = serde_json::from_slice(&group).unwrap();
    let id = group["runGroupId"].as_str().unwrap().to_string();
    let slug = group["artists"][0]["slug"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let gdir = dir.path().join(&id);
    std::fs::create_dir(&gdir).unwrap();
    std::fs::write(gdir.join("group.json"), serde_json::to_vec(&group).unwrap()).unwrap();
    fuzz("run_record", mutated("run_record"), |bytes| {
        std::fs::write(gdir.join(format!("{slug}.json")), bytes).unwrap();
        // Never panics; a broken file is a problem naming the file.
        let (loaded, problems) = chorus::store::load_group_dir(&gdir);
        assert!(loaded.is_some(), "the group itself is sound");
        for p in problems {
            assert!(p.file.starts_with(&gdir), "{p}");
        }
    });
}

#[test]
fn fuzz_reply_parser() {
    let pieces = prop::sample::select(vec![
        "===ARTIST STATEMENT===",
        "===FINAL IMAGE PROMPT===",
        "**",
        "#",
        "\n",
        "\r\n",
        "\r",
        " ",
        "text",
        "é",
        "\u{0}",
        "===",
        "`",
        "ARTIST",
        "prompt:",
        "\u{FEFF}",
    ]);
    let generated = prop::collection::vec(pieces, 0..60).prop_map(|v| v.concat().into_bytes());
    let strategy = prop_oneof![mutated("reply"), generated];
    fuzz("reply", strategy, |bytes| {
        let reply = String::from_utf8_lossy(bytes);
        // The property is only that no reply makes the parser panic: what it returns for
        // odd input is pinned by the unit tests in src/generate/parse.rs.
        let _ = chorus::generate::parse::parse_reply(&reply);
    });
}

/// The sanitised statement's promise: no script, no event handler, nothing that loads
/// from elsewhere, no `<img>` (so none without alt). ammonia writes `<` in text as
/// `&lt;`, so every `<` in its output opens a tag: the tags are what is checked.
fn assert_safe(html: &str, input: &str) {
    let fail = |what: &str| panic!("{what} survived\ninput: {input:?}\noutput: {html}");
    for tag in html.split('<').skip(1) {
        let tag = tag
            .split('>')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if [
            "script", "img", "iframe", "object", "embed", "style", "link", "svg", "video", "audio",
            "source", "input", "base", "form", "meta", "picture",
        ]
        .contains(&name.as_str())
        {
            fail(&format!("<{name}>"));
        }
        let inside = &tag.trim_start_matches('/')[name.len()..];
        for (key, value) in attributes(inside) {
            if key.starts_with("on") {
                fail(&format!("the attribute {key}"));
            }
            if [
                "src",
                "srcset",
                "poster",
                "background",
                "data",
                "style",
                "action",
                "formaction",
            ]
            .contains(&key.as_str())
            {
                fail(&format!("the attribute {key}"));
            }
            // A URL's scheme is what comes before its first ':' once leading spaces are
            // gone; `%22*javascript:` is a relative path, `javascript:x` is not.
            if value.trim_start().starts_with("javascript:") {
                fail("a javascript: URL");
            }
        }
    }
}

/// The `key="value"` pairs of a tag's inside (after its name), values unquoted. A quoted
/// value may hold spaces and `=`; ammonia always writes values in double quotes.
fn attributes(mut rest: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() {
            return out;
        }
        let key_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let key = rest[..key_end].to_string();
        rest = &rest[key_end..];
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted.find('"').unwrap_or(quoted.len());
                value = quoted[..end].to_string();
                rest = quoted.get(end + 1..).unwrap_or("");
            } else {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                value = after[..end].to_string();
                rest = &after[end..];
            }
        }
        out.push((key, value));
    }
}

#[test]
fn fuzz_statement_sanitiser() {
    let pieces = prop::sample::select(vec![
        "<script>",
        "</script>",
        "<img src=",
        "<IMG SRC=",
        "https://t.example/x.png",
        "//t.example/y",
        " onerror=",
        " ONLOAD=",
        "alert(1)",
        "![a](",
        "](",
        ")",
        "[r]: ",
        "<svg>",
        "<a href=",
        "\"",
        "'",
        ">",
        "<",
        "javascript:",
        "data:image/png;base64,AA",
        "<style>",
        "url(",
        "\n\n",
        "`",
        "<!--",
        "-->",
        "<video poster=",
        "<picture><source srcset=",
        "&lt;",
        "&#x3C;",
        "<![CDATA[",
        "\u{0}",
        "*",
        "text ",
    ]);
    let generated = prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat().into_bytes());
    let strategy = prop_oneof![mutated("statement"), generated];
    fuzz("statement", strategy, |bytes| {
        let input = String::from_utf8_lossy(bytes);
        let html = chorus::site::render::markdown::render_markdown(&input);
        assert_safe(&html, &input);
        assert!(!html.contains('\u{0}'), "NUL survived: {input:?}");
    });
}
