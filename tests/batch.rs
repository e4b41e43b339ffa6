//! The batch as a user lives it: missing keys, budgets, resume after a failure or a
//! crash, Ctrl-C, JSON events. Real binary, mock providers on 127.0.0.1.
mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::mock::{self, MockProvider, CANARY, CHAT, IMAGES, KEY_ENV};
use common::TestProject;
use serde_json::Value;

fn project(m: &MockProvider, artists: &[&str], limits: &str) -> TestProject {
    let mut blocks: Vec<String> = artists
        .iter()
        .map(|a| mock::artist(a, "openai", &m.v1()))
        .collect();
    blocks.push(mock::brush("openai-images", "gpt-image-2", &m.v1()));
    TestProject::with_config(&mock::project_toml(&blocks, limits))
}

async fn chorus(p: &TestProject, args: &[&str]) -> Output {
    let mut cmd = p.chorus(args);
    cmd.env(KEY_ENV, CANARY);
    mock::run(cmd).await
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ids(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn run_json(p: &TestProject, group: &str, slug: &str) -> Value {
    serde_json::from_str(&p.read(&format!("runs/{group}/{slug}.json")))
        .expect("run record is whole JSON")
}

#[tokio::test]
async fn resume_after_a_brush_failure_never_calls_the_artist_again() {
    let m = MockProvider::start().await;
    m.chat_ok().await;
    m.images_server_error(None).await;
    let p = project(&m, &["a", "b"], "max_attempts = 1");
    let out = chorus(&p, &["generate"]).await;
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let g = ids(&out).remove(0);
    let before = run_json(&p, &g, "a");
    assert_eq!(before["status"], "failed");
    assert_eq!(before["meta"]["artist"]["status"], "done");
    assert_eq!(before["meta"]["brush"]["status"], "failed");
    assert_eq!(m.count(CHAT).await, 2);

    m.reset().await;
    m.chat_ok().await;
    m.images_b64(&mock::png(8, 8)).await;
    let out = chorus(&p, &["resume", &g]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ids(&out), vec![g.clone()]);
    assert_eq!(
        m.count(CHAT).await,
        0,
        "a paid-for statement is never requested again"
    );
    assert_eq!(m.count(IMAGES).await, 2);
    let after = run_json(&p, &g, "a");
    assert_eq!(after["status"], "done");
    assert_eq!(after["artistStmt"], before["artistStmt"]);
    assert_eq!(after["meta"]["artist"], before["meta"]["artist"]);
    assert!(after.get("error").is_none());

    let again = chorus(&p, &["resume", "--all"]).await;
    assert!(again.status.success());
    assert!(stderr(&again).contains("Nothing to resume"));
    assert_eq!(m.count(IMAGES).await, 2);
}

#[tokio::test]
async fn missing_keys_are_listed_before_anything_is_sent_or_written() {
    let m = MockProvider::start().await;
    m.chat_ok().await;
    let p = project(&m, &["first", "second"], "");
    let out = mock::run(p.chorus(&["generate"])).await; // no key in the environment
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    for needle in [
        "artist \"first\"",
        "artist \"second\"",
        KEY_ENV,
        "--offline",
    ] {
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }
    assert!(out.stdout.is_empty());
    assert!(!p.path("runs").exists(), "nothing may be written");
    assert_eq!(
        m.server.received_requests().await.unwrap_or_default().len(),
        0
    );
}

#[tokio::test]
async fn max_cost_refuses_a_batch_estimated_over_budget() {
    let m = MockProvider::start().await;
    m.chat_ok().await;
    let p = project(&m, &["a", "b"], "");
    let out = chorus(&p, &["generate", "--max-cost", "0.05"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("over --max-cost"), "{}", stderr(&out));
    assert!(!p.path("runs").exists());
    assert_eq!(
        m.server.received_requests().await.unwrap_or_default().len(),
        0
    );
}

#[tokio::test]
async fn budget_stops_starting_runs_once_spending_would_pass_it() {
    let m = MockProvider::start().await;
    // The provider reports $1 per statement, far above the estimate from prices.
    m.chat_reply(
        mock::REPLY,
        serde_json::json!({"prompt_tokens": 1, "completion_tokens": 1, "cost": 1.0}),
    )
    .await;
    m.images_b64(&mock::png(8, 8)).await;
    let p = project(&m, &["a", "b", "c"], "");
    let out = chorus(&p, &["generate", "--max-cost", "1.5", "--concurrency", "1"]).await;
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("would pass --max-cost"),
        "{}",
        stderr(&out)
    );
    let g = ids(&out).remove(0);
    let statuses: Vec<Value> = ["a", "b", "c"]
        .iter()
        .map(|s| run_json(&p, &g, s)["status"].clone())
        .collect();
    assert_eq!(statuses, ["done", "done", "queued"]);
    assert_eq!(m.count(CHAT).await, 2);
}

#[tokio::test]
async fn json_events_are_one_object_per_line_on_stderr() {
    let m = MockProvider::start().await;
    m.chat_ok().await;
    m.images_b64(&mock::png(8, 8)).await;
    let p = project(&m, &["a"], "");
    let out = chorus(&p, &["generate", "--json"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ids(&out).len(), 1);
    let events: Vec<Value> = stderr(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    // The model-list preflight may speak first (the mock has no list: "unknown").
    let kinds: Vec<&str> = kinds
        .into_iter()
        .skip_while(|k| *k == "preflight")
        .collect();
    assert_eq!(kinds.first(), Some(&"planned"));
    assert!(kinds.contains(&"runFinished"));
    assert_eq!(kinds.last(), Some(&"summary"));
    assert_eq!(events.last().unwrap()["done"], 1);
}

#[test]
fn resume_continues_a_run_a_crash_left_generating() {
    let p = TestProject::init();
    let g = p.generate_offline(&["--seed", "3"]).remove(0);
    let file = format!("runs/{g}/offline-surrealist.json");
    let mut run: Value = serde_json::from_str(&p.read(&file)).unwrap();
    let statement = run["artistStmt"].clone();
    std::fs::remove_file(p.path(&format!("runs/{g}/{}", run["imageFile"].as_str().unwrap())))
        .unwrap();
    run["status"] = "generating".into();
    let meta = run["meta"].as_object_mut().unwrap();
    meta.remove("brush");
    meta.remove("download");
    run.as_object_mut().unwrap().remove("imageFile");
    p.write(&file, &serde_json::to_string_pretty(&run).unwrap());

    let out = p.chorus(&["resume", "--all"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(ids(&out), vec![g.clone()]);
    let after: Value = serde_json::from_str(&p.read(&file)).unwrap();
    assert_eq!(after["status"], "done");
    assert_eq!(after["artistStmt"], statement);
    assert!(p
        .path(&format!("runs/{g}/offline-surrealist.png"))
        .is_file());
    p.chorus(&["check"]).assert().success();
}

#[test]
fn resume_needs_a_group_or_all() {
    let p = TestProject::init();
    p.chorus(&["resume"]).assert().code(2);
}

/// Starts `chorus generate` as a child we can signal.
fn spawn_generate(p: &TestProject, args: &[&str]) -> std::process::Child {
    Command::new(assert_cmd::cargo::cargo_bin("chorus"))
        .arg("--root")
        .arg(p.root())
        .arg("generate")
        .args(args)
        .env(KEY_ENV, CANARY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn chorus")
}

fn interrupt(child: &std::process::Child) {
    let ok = Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status()
        .expect("kill")
        .success();
    assert!(ok, "could not signal the child");
}

async fn wait_for_requests(m: &MockProvider, at: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while m.count(at).await < n {
        assert!(
            Instant::now() < deadline,
            "the mock never got {n} request(s)"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn first_ctrl_c_finishes_in_flight_work_and_leaves_the_rest_queued() {
    let m = MockProvider::start().await;
    m.chat_slow(Duration::from_millis(800)).await;
    m.images_b64(&mock::png(8, 8)).await;
    let p = project(&m, &["a", "b", "c"], "");
    let child = spawn_generate(&p, &["--concurrency", "1"]);
    wait_for_requests(&m, CHAT, 1).await;
    interrupt(&child);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let g = ids(&out).remove(0);
    let a = run_json(&p, &g, "a");
    assert_eq!(
        a["meta"]["artist"]["status"], "done",
        "the in-flight request finished and was kept"
    );
    assert_eq!(a["status"], "failed");
    assert!(
        a["error"].as_str().unwrap().contains("interrupted"),
        "{}",
        a["error"]
    );
    assert_eq!(run_json(&p, &g, "b")["status"], "queued");
    assert_eq!(run_json(&p, &g, "c")["status"], "queued");
    assert_eq!(m.count(CHAT).await, 1);
    assert_eq!(m.count(IMAGES).await, 0);
    assert!(p
        .files_under("runs")
        .iter()
        .all(|f| !f.contains(".chorus-tmp-")));

    let out = chorus(&p, &["resume", &g]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        m.count(CHAT).await,
        3,
        "resume asks only b and c for statements"
    );
    for s in ["a", "b", "c"] {
        assert_eq!(run_json(&p, &g, s)["status"], "done");
    }
}

#[tokio::test]
async fn second_ctrl_c_quits_at_once_with_whole_files() {
    let m = MockProvider::start().await;
    m.chat_slow(Duration::from_secs(5)).await;
    let p = project(&m, &["a", "b"], "");
    let child = spawn_generate(&p, &[]);
    wait_for_requests(&m, CHAT, 2).await;
    interrupt(&child);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    interrupt(&child);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the second Ctrl-C must not wait for requests"
    );
    assert_eq!(out.status.code(), Some(130));
    let g = ids(&out).remove(0);
    for s in ["a", "b"] {
        assert_eq!(run_json(&p, &g, s)["status"], "generating");
    }
    p.chorus(&["check"]).assert().success();
}

#[tokio::test]
async fn a_refused_key_stops_requests_to_that_endpoint() {
    let m = MockProvider::start().await;
    m.chat_unauthorized().await;
    let p = project(&m, &["a", "b", "c"], "");
    let out = chorus(&p, &["generate", "--concurrency", "1"]).await;
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        m.count(CHAT).await,
        1,
        "one 401 is enough to know the key is wrong"
    );
    let g = ids(&out).remove(0);
    for s in ["b", "c"] {
        let run = run_json(&p, &g, s);
        assert_eq!(run["status"], "failed");
        let error = run["error"].as_str().unwrap();
        assert!(
            error.contains("not sent") && error.contains(KEY_ENV),
            "{error}"
        );
        assert_eq!(run["meta"]["artist"]["attempts"], 0);
    }
    assert!(!stderr(&out).contains(CANARY));
}

#[tokio::test]
async fn per_endpoint_concurrency_holds_requests_back() {
    let m = MockProvider::start().await;
    m.chat_slow(Duration::from_millis(300)).await;
    m.images_b64(&mock::png(8, 8)).await;
    // Three Artists share one endpoint limited to one request at a time; the global
    // limit (4) would let all three go at once.
    let mut blocks = vec![format!(
        "{}concurrency = 1\n",
        mock::artist("a", "openai", &m.v1())
    )];
    blocks.extend(["b", "c"].map(|s| mock::artist(s, "openai", &m.v1())));
    blocks.push(mock::brush("openai-images", "gpt-image-2", &m.v1()));
    let p = TestProject::with_config(&mock::project_toml(&blocks, ""));
    let started = Instant::now();
    let out = chorus(&p, &["generate"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "three 300 ms requests ran side by side"
    );
    assert_eq!(m.count(CHAT).await, 3);
}
