//! Crashes at random moments. `chorus generate` (or `resume --all` while runs are
//! unfinished) runs against a loopback mock with latency and is SIGKILLed, again and again.
//! After every kill each file under runs/ must parse; temp files a killed process left must
//! be gone once the next process has started; after a final `resume --all` every run is
//! done, and the mock's request log proves no stage recorded as done was requested again.
//! Replay a failure with CHORUS_CRASH_SEED=<the printed seed>.
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::mock::{self, EchoProvider, MockProvider, CANARY, CHAT, IMAGES, KEY_ENV};
use common::TestProject;
use serde_json::Value;

/// SIGKILLs that must land on a running process; the loop stops after `MAX_ROUNDS`.
const KILLS: usize = 20;
const MAX_ROUNDS: usize = 60;
const ARTISTS: [&str; 5] = ["a", "b", "c", "d", "e"];
const LATENCY: Duration = Duration::from_millis(120);

/// xorshift64*: enough randomness for kill moments, and replayable from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn config(m: &MockProvider) -> String {
    let mut blocks: Vec<String> = ARTISTS
        .iter()
        .map(|a| mock::artist(a, "openai", &m.v1()))
        .collect();
    blocks.push(mock::brush("openai-images", "sd-turbo", &m.v1()));
    let mut toml = mock::project_toml(&blocks, "");
    for k in 0..=MAX_ROUNDS {
        toml.push_str(&format!("\n[prompts.crash{k}]\ntext = \"Prompt {k}\"\n"));
    }
    toml
}

/// What the disk says is done: the request key of every done stage, per stage.
#[derive(Default)]
struct Done {
    chat: BTreeSet<String>,
    brush: BTreeSet<String>,
    download: BTreeSet<String>,
    runs: usize,
    unfinished: usize,
}

fn chat_key(prompt: &str, model: &str) -> String {
    format!("{prompt}|{model}")
}

/// Reads every file under runs/: JSON must parse, images must decode (temp files a kill
/// left are skipped: they are the point of the test). Returns the done stages.
fn check_files(runs: &Path) -> Done {
    let mut done = Done::default();
    for entry in walkdir::WalkDir::new(runs)
        .into_iter()
        .filter_map(Result::ok)
    {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if !entry.file_type().is_file() || name.starts_with(".chorus-tmp-") || name == ".gitkeep" {
            continue;
        }
        let bytes = std::fs::read(path).unwrap();
        if name.ends_with(".json") {
            serde_json::from_slice::<Value>(&bytes)
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
        } else if name.ends_with(".png") {
            image::load_from_memory(&bytes)
                .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()));
        }
    }
    let Ok(groups) = std::fs::read_dir(runs) else {
        return done;
    };
    for group in groups.filter_map(Result::ok).map(|e| e.path()) {
        let Ok(text) = std::fs::read_to_string(group.join("group.json")) else {
            continue;
        };
        let g: Value = serde_json::from_str(&text).unwrap();
        let prompt = g["promptText"].as_str().unwrap().to_string();
        for slug in ARTISTS {
            done.runs += 1;
            let Ok(text) = std::fs::read_to_string(group.join(format!("{slug}.json"))) else {
                done.unfinished += 1;
                continue;
            };
            let run: Value = serde_json::from_str(&text).unwrap();
            let model = format!("model-{slug}");
            let image_prompt = mock::echo_image_prompt(&prompt, &model);
            let stage_done = |s: &str| run["meta"][s]["status"] == "done";
            if stage_done("artist") {
                done.chat.insert(chat_key(&prompt, &model));
            }
            if stage_done("brush") {
                done.brush.insert(image_prompt.clone());
            }
            if stage_done("download") {
                done.download.insert(mock::echo_file(&image_prompt));
            }
            if run["status"] != "done" {
                done.unfinished += 1;
            }
        }
    }
    done
}

/// How many times the mock was asked for each key, per stage.
async fn request_counts(m: &MockProvider) -> [BTreeMap<String, usize>; 3] {
    let mut counts: [BTreeMap<String, usize>; 3] = Default::default();
    for r in m.server.received_requests().await.unwrap_or_default() {
        let path = r.url.path().to_string();
        let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
        let (i, key) = if path == CHAT {
            let prompt = body["messages"][0]["content"].as_str().unwrap_or_default();
            (
                0,
                chat_key(prompt, body["model"].as_str().unwrap_or_default()),
            )
        } else if path == IMAGES {
            (1, body["prompt"].as_str().unwrap_or_default().to_string())
        } else {
            (2, path)
        };
        *counts[i].entry(key).or_default() += 1;
    }
    counts
}

fn temp_files(runs: &Path) -> BTreeSet<String> {
    walkdir::WalkDir::new(runs)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".chorus-tmp-"))
        .map(|e| e.path().display().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_nothing_and_repeats_nothing() {
    let seed = std::env::var("CHORUS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test seed: CHORUS_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let m = MockProvider::start().await;
    EchoProvider::mount(&m, LATENCY).await;
    let p = TestProject::with_config(&config(&m));
    let runs = p.path("runs");

    // The count each done stage had when the disk first said it was done.
    let mut frozen: [BTreeMap<String, usize>; 3] = Default::default();
    let mut left_behind = BTreeSet::new();
    let mut prompts = 0;
    let mut kills = 0;
    for round in 0..MAX_ROUNDS {
        if kills >= KILLS {
            break;
        }
        let done = check_files(&runs);
        let args: Vec<String> = if done.unfinished > 0 {
            vec!["resume".into(), "--all".into()]
        } else {
            prompts += 1;
            vec![
                "generate".into(),
                "--prompt".into(),
                format!("crash{prompts}"),
            ]
        };
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("chorus"))
            .arg("--root")
            .arg(p.root())
            .args(&args)
            .env(KEY_ENV, CANARY)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chorus");
        let after = Duration::from_millis(rng.next() % 900);
        tokio::time::sleep(after).await;
        if child.try_wait().unwrap().is_none() {
            kills += 1;
        }
        let _ = child.kill(); // SIGKILL, unless it has finished already.
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
            .await
            .unwrap();
        let context = format!(
            "round {round} ({} killed after {after:?}, seed {seed})",
            args.join(" ")
        );

        let done = check_files(&runs);
        // A process that printed a group id had started its batch, and so had removed
        // what earlier kills left.
        let now_temp = temp_files(&runs);
        if !out.stdout.is_empty() {
            let survivors: Vec<_> = left_behind.intersection(&now_temp).collect();
            assert!(
                survivors.is_empty(),
                "{context}: temp files survived: {survivors:?}"
            );
        }
        left_behind.extend(now_temp);
        let counts = request_counts(&m).await;
        for (i, set) in [&done.chat, &done.brush, &done.download]
            .into_iter()
            .enumerate()
        {
            for key in set {
                let n = counts[i].get(key).copied().unwrap_or(0);
                let first = *frozen[i].entry(key.clone()).or_insert(n);
                assert_eq!(
                    n, first,
                    "{context}: {key} was requested again after it was done"
                );
            }
        }
    }

    assert!(
        kills >= KILLS,
        "seed {seed}: only {kills} kills landed in {MAX_ROUNDS} rounds"
    );
    let out = mock::run({
        let mut cmd = p.chorus(&["resume", "--all"]);
        cmd.env(KEY_ENV, CANARY);
        cmd
    })
    .await;
    assert!(
        out.status.success(),
        "seed {seed}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done = check_files(&runs);
    assert_eq!(done.unfinished, 0, "seed {seed}: every run is done");
    assert!(
        done.runs >= ARTISTS.len(),
        "seed {seed}: at least one group"
    );
    assert!(
        temp_files(&runs).is_empty(),
        "seed {seed}: no temp file survives resume"
    );
    let counts = request_counts(&m).await;
    for (i, frozen) in frozen.iter().enumerate() {
        for (key, first) in frozen {
            assert_eq!(
                counts[i].get(key),
                Some(first),
                "seed {seed}: {key} was requested again after it was done"
            );
        }
    }
    p.chorus(&["check"]).assert().success();
    eprintln!(
        "crash test: {kills} kills, {} temp files left by them and cleaned, {} groups, {} runs, {} chat / {} image / {} download requests",
        left_behind.len(),
        prompts,
        done.runs,
        counts[0].values().sum::<usize>(),
        counts[1].values().sum::<usize>(),
        counts[2].values().sum::<usize>()
    );
}
