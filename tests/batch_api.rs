//! `generate --batch` and collecting with `resume`, against scripted Batch APIs on
//! 127.0.0.1 (OpenAI, Anthropic, OpenRouter) and the offline simulation. Request counts
//! prove that nothing is submitted twice and no result is recorded twice.
mod common;

use std::process::Output;

use common::batch_mock::{self, Api, Script, UNKNOWN_ID};
use common::mock::{self, MockProvider, CANARY, CHAT, IMAGES, KEY_ENV, MESSAGES};
use common::TestProject;
use serde_json::Value;

async fn chorus(p: &TestProject, args: &[&str]) -> Output {
    chorus_env(p, args, &[]).await
}

async fn chorus_env(p: &TestProject, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = p.chorus(args);
    cmd.env(KEY_ENV, CANARY);
    for (k, v) in env {
        cmd.env(k, v);
    }
    mock::run(cmd).await
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ids(out: &Output) -> Vec<String> {
    stdout(out).lines().map(str::to_string).collect()
}

/// Every run of the project, as JSON, with its group.
fn runs(p: &TestProject) -> Vec<Value> {
    p.files_under("runs")
        .into_iter()
        .filter(|f| f.ends_with(".json") && !f.ends_with("group.json"))
        .map(|f| serde_json::from_str(&p.read(&format!("runs/{f}"))).expect("whole JSON"))
        .collect()
}

fn statuses(p: &TestProject) -> Vec<String> {
    let mut s: Vec<String> = runs(p)
        .iter()
        .map(|r| r["status"].as_str().unwrap_or_default().to_string())
        .collect();
    s.sort();
    s
}

/// One OpenAI-style Artist per slug and a Brush, all pointed at `m`.
fn project(m: &MockProvider, provider: &str, artists: &[&str], brush_model: &str) -> TestProject {
    let base = if provider == "anthropic" {
        m.root()
    } else {
        m.v1()
    };
    let mut blocks: Vec<String> = artists
        .iter()
        .map(|a| mock::artist(a, provider, &base))
        .collect();
    blocks.push(mock::brush("openai-images", brush_model, &m.v1()));
    TestProject::with_config(&mock::project_toml(&blocks, "max_attempts = 2"))
}

async fn dalle(m: &MockProvider) {
    m.images_url().await;
    m.image_file(200, "image/png", mock::png(16, 16)).await;
}

fn no_secrets(p: &TestProject) {
    for file in p.files_under("runs") {
        let text =
            String::from_utf8_lossy(&std::fs::read(p.path(&format!("runs/{file}"))).unwrap())
                .into_owned();
        assert!(!text.contains(CANARY), "key in runs/{file}");
    }
}

#[tokio::test]
async fn offline_batch_runs_the_whole_lifecycle_without_a_key() {
    let p = TestProject::init();
    let out = chorus(&p, &["generate", "--offline", "--batch", "--seed", "3"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let group = ids(&out).remove(0);
    assert!(
        stderr(&out).contains("chorus resume --all"),
        "{}",
        stderr(&out)
    );
    let submitted = runs(&p);
    assert_eq!(submitted.len(), 4);
    for run in &submitted {
        assert_eq!(run["status"], "queued");
        let ticket = &run["meta"]["submitted"];
        assert_eq!(ticket["provider"], "offline");
        assert_eq!(ticket["stage"], "artist");
        assert_eq!(
            ticket["customId"],
            format!("{}_artist", run["runId"].as_str().unwrap())
        );
    }
    // The four offline Artists share one batch.
    let batch_id = submitted[0]["meta"]["submitted"]["batchId"].clone();
    assert!(submitted
        .iter()
        .all(|r| r["meta"]["submitted"]["batchId"] == batch_id));

    let status = chorus(&p, &["status"]).await;
    let table = stdout(&status);
    assert!(table.contains("Submitted batches"), "{table}");
    assert!(
        table.contains(batch_id.as_str().unwrap()) && table.contains("offline"),
        "{table}"
    );
    assert!(table.contains("4 of 4 done"), "{table}");

    let out = chorus(&p, &["collect", "--all"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ids(&out), vec![group.clone()]);
    for run in runs(&p) {
        assert_eq!(run["status"], "done", "{run}");
        assert!(run["meta"].get("submitted").is_none());
        assert_eq!(run["meta"]["artist"]["batch"]["batchId"], batch_id);
        assert_eq!(run["meta"]["artist"]["batch"]["priceFactor"], 0.5);
        assert_eq!(run["meta"]["brush"]["provider"], "procedural");
    }
    // Same answers as a direct offline run with the same seed.
    let direct = TestProject::init();
    direct.generate_offline(&["--seed", "3"]);
    let stmts = |p: &TestProject| {
        let mut s: Vec<String> = runs(p)
            .iter()
            .map(|r| r["artistStmt"].as_str().unwrap().to_string())
            .collect();
        s.sort();
        s
    };
    assert_eq!(stmts(&p), stmts(&direct));

    let again = chorus(&p, &["resume", "--all"]).await;
    assert!(again.status.success());
    assert!(stderr(&again).contains("Nothing to resume"));
    assert!(!stdout(&chorus(&p, &["status"]).await).contains("Submitted batches"));
    p.chorus(&["build"]).assert().success();
}

#[tokio::test]
async fn openai_chat_then_gpt_image_batches_from_validating_to_completed() {
    let m = MockProvider::start().await;
    batch_mock::mount(
        &m,
        Api::OpenAi,
        Script::polls(&["validating", "in_progress", "completed"]),
    )
    .await;
    let p = project(&m, "openai", &["a"], "gpt-image-2");

    let out = chorus(&p, &["generate", "--batch", "--repeat", "2"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ids(&out).len(), 2);
    assert_eq!(batch_mock::count(&m, "POST", "/v1/files").await, 1);
    assert_eq!(batch_mock::count(&m, "POST", "/v1/batches").await, 1);
    let upload = m.requests("/v1/files").await.remove(0);
    let text = String::from_utf8_lossy(&upload.body).into_owned();
    assert!(text.contains("name=\"purpose\"") && text.contains("batch"));
    assert!(text.contains("\"url\":\"/v1/chat/completions\""));
    assert_eq!(
        upload
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap(),
        format!("Bearer {CANARY}")
    );

    // validating, then in_progress: nothing to record yet.
    for state in ["validating", "in_progress"] {
        let out = chorus(&p, &["resume", "--all"]).await;
        assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
        assert!(stderr(&out).contains(state), "{}", stderr(&out));
        assert_eq!(statuses(&p), ["queued", "queued"]);
    }
    // completed: statements recorded, the images go as a second batch.
    let out = chorus(&p, &["resume", "--all"]).await;
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("brush stage"), "{}", stderr(&out));
    assert_eq!(batch_mock::count(&m, "POST", "/v1/batches").await, 2);
    for run in runs(&p) {
        assert_eq!(run["meta"]["artist"]["status"], "done");
        assert_eq!(run["meta"]["artist"]["tokens"]["input"], 120);
        // 120 in at $1/M + 80 out at $2/M, at half price.
        let usd = run["meta"]["artist"]["cost"]["usd"].as_f64().unwrap();
        assert!((usd - 0.00014).abs() < 1e-12, "{usd}");
        assert_eq!(
            run["imagePrompt"],
            "A grey field under a low violet sky, one red kite."
        );
        assert_eq!(run["meta"]["submitted"]["stage"], "brush");
        assert_eq!(run["meta"]["submitted"]["batchId"], "batch_2");
    }
    let table = stdout(&chorus(&p, &["status"]).await);
    assert!(
        table.contains("batch_2") && table.contains("brush"),
        "{table}"
    );

    for _ in 0..2 {
        let out = chorus(&p, &["resume", "--all"]).await;
        if out.status.code() == Some(0) {
            break;
        }
        assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    }
    for run in runs(&p) {
        assert_eq!(run["status"], "done", "{run}");
        assert_eq!(run["meta"]["brush"]["batch"]["batchId"], "batch_2");
        assert_eq!(run["meta"]["brush"]["cost"]["usd"], 0.02);
        let group = run["runGroupId"].as_str().unwrap();
        let image = run["imageFile"].as_str().unwrap();
        assert!(p.path(&format!("runs/{group}/{image}")).is_file());
    }
    // Nothing was called directly, nothing was sent twice.
    assert_eq!(m.count(CHAT).await, 0);
    assert_eq!(m.count(IMAGES).await, 0);
    let again = chorus(&p, &["collect", "--all"]).await;
    assert!(
        stderr(&again).contains("Nothing to resume"),
        "{}",
        stderr(&again)
    );
    assert_eq!(batch_mock::count(&m, "POST", "/v1/files").await, 2);
    assert_eq!(batch_mock::count(&m, "POST", "/v1/batches").await, 2);
    no_secrets(&p);
}

#[tokio::test]
async fn expired_lines_fail_with_the_reason_and_resume_runs_them_directly() {
    let m = MockProvider::start().await;
    let mut script = Script::polls(&["expired"]);
    script.expire = 1;
    script.unknown_line = true;
    batch_mock::mount(&m, Api::OpenAi, script).await;
    m.chat_ok().await;
    dalle(&m).await;
    let p = project(&m, "openai", &["a"], "sd-turbo");
    let out = chorus(&p, &["generate", "--batch", "--repeat", "3"]).await;
    assert!(out.status.success(), "{}", stderr(&out));

    let out = chorus(&p, &["resume", "--all"]).await;
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(UNKNOWN_ID) && err.contains("ignored"), "{err}");
    assert_eq!(statuses(&p), ["done", "done", "failed"]);
    let failed = runs(&p)
        .into_iter()
        .find(|r| r["status"] == "failed")
        .unwrap();
    let why = failed["error"].as_str().unwrap();
    assert!(
        why.contains("batch_expired") && why.contains("chorus resume"),
        "{why}"
    );
    assert_eq!(failed["meta"]["artist"]["status"], "failed");
    assert!(failed["meta"].get("submitted").is_none());
    // Images for a URL-answering server are painted directly; the expired run was not retried yet.
    assert_eq!(m.count(IMAGES).await, 2);
    assert_eq!(m.count(CHAT).await, 0);

    let out = chorus(&p, &["resume", "--all"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(statuses(&p), ["done", "done", "done"]);
    assert_eq!(
        m.count(CHAT).await,
        1,
        "only the expired line is run again, directly"
    );
    assert_eq!(batch_mock::count(&m, "POST", "/v1/batches").await, 1);
    assert_eq!(
        batch_mock::count(&m, "GET", "/v1/files/").await,
        2,
        "output and error files, once"
    );
}

#[tokio::test]
async fn a_batch_that_fails_validation_fails_its_runs_with_the_providers_reason() {
    let m = MockProvider::start().await;
    let mut script = Script::polls(&["validating", "failed"]);
    script.fail = true;
    batch_mock::mount(&m, Api::OpenAi, script).await;
    m.chat_ok().await;
    dalle(&m).await;
    let p = project(&m, "openai", &["a", "b"], "sd-turbo");
    assert!(chorus(&p, &["generate", "--batch"]).await.status.success());
    assert_eq!(
        batch_mock::count(&m, "POST", "/v1/batches").await,
        2,
        "one model per batch"
    );

    assert_eq!(
        chorus(&p, &["resume", "--all"]).await.status.code(),
        Some(5)
    );
    let out = chorus(&p, &["resume", "--all"]).await;
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    for run in runs(&p) {
        let why = run["error"].as_str().unwrap();
        assert!(
            why.contains("failed validation") && why.contains("not supported by the Batch API"),
            "{why}"
        );
    }
    assert_eq!(m.count(CHAT).await, 0);
    let out = chorus(&p, &["resume", "--all"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(m.count(CHAT).await, 2);
    assert_eq!(batch_mock::count(&m, "POST", "/v1/batches").await, 2);
}

#[tokio::test]
async fn anthropic_message_batches_with_results_out_of_order() {
    let m = MockProvider::start().await;
    let mut script = Script::polls(&["in_progress", "ended"]);
    script.expire = 1;
    batch_mock::mount(&m, Api::Anthropic, script).await;
    dalle(&m).await;
    let p = project(&m, "anthropic", &["claude", "haiku"], "sd-turbo");
    let out = chorus(&p, &["generate", "--batch", "--repeat", "2"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        batch_mock::count(&m, "POST", "/v1/messages/batches").await,
        1,
        "one batch for both models"
    );
    let create = m.requests("/v1/messages/batches").await.remove(0);
    assert_eq!(
        create.headers.get("x-api-key").unwrap().to_str().unwrap(),
        CANARY
    );
    assert_eq!(
        create
            .headers
            .get("anthropic-version")
            .unwrap()
            .to_str()
            .unwrap(),
        "2023-06-01"
    );
    let body: Value = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(body["requests"].as_array().unwrap().len(), 4);
    assert_eq!(body["requests"][0]["params"]["max_tokens"], 500);
    let mut models: Vec<&str> = body["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["params"]["model"].as_str().unwrap())
        .collect();
    models.sort();
    assert_eq!(
        models,
        ["model-claude", "model-claude", "model-haiku", "model-haiku"]
    );

    let out = chorus(&p, &["resume", "--all"]).await;
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("in_progress"));
    let out = chorus(&p, &["resume", "--all"]).await;
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(statuses(&p), ["done", "done", "done", "failed"]);
    let failed = runs(&p)
        .into_iter()
        .find(|r| r["status"] == "failed")
        .unwrap();
    assert!(failed["error"].as_str().unwrap().contains("expired"));
    for run in runs(&p).iter().filter(|r| r["status"] == "done") {
        assert_eq!(run["meta"]["artist"]["tokens"]["output"], 60);
        assert_eq!(run["meta"]["artist"]["batch"]["provider"], "anthropic");
        let model = format!("model-{}", run["artistSlug"].as_str().unwrap());
        assert_eq!(run["meta"]["artist"]["params"]["model"], model.as_str());
    }
    assert_eq!(m.count(MESSAGES).await, 0);
    assert_eq!(
        batch_mock::count(&m, "GET", "/v1/messages/batches/msgbatch_1/results").await,
        1
    );
    // The results are read from the configured host, never from `results_url`.
    assert_eq!(
        batch_mock::count(&m, "POST", "/v1/messages/batches").await,
        1
    );
}

#[tokio::test]
async fn openrouter_batches_return_results_inline() {
    let m = MockProvider::start().await;
    batch_mock::mount(
        &m,
        Api::OpenRouter,
        Script::polls(&["in_progress", "completed"]),
    )
    .await;
    dalle(&m).await;
    let p = project(&m, "openrouter", &["mistral"], "sd-turbo");
    let out = chorus(&p, &["generate", "--batch", "--repeat", "2"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let create = m.requests("/v1/batches").await.remove(0);
    let text = String::from_utf8_lossy(&create.body).into_owned();
    let (e, mo, r) = (
        text.find("\"endpoint\"").unwrap(),
        text.find("\"model\"").unwrap(),
        text.find("\"requests\"").unwrap(),
    );
    assert!(
        e < r && mo < r,
        "endpoint and model come before requests: {text}"
    );

    assert_eq!(
        chorus(&p, &["resume", "--all"]).await.status.code(),
        Some(5)
    );
    let out = chorus(&p, &["resume", "--all"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(statuses(&p), ["done", "done"]);
    assert_eq!(m.count(CHAT).await, 0);
    assert_eq!(batch_mock::count(&m, "POST", "/v1/batches").await, 1);
}

#[tokio::test]
async fn a_crash_between_download_and_recording_loses_nothing_and_pays_nothing_twice() {
    let m = MockProvider::start().await;
    batch_mock::mount(&m, Api::OpenAi, Script::polls(&["completed"])).await;
    dalle(&m).await;
    let p = project(&m, "openai", &["a"], "sd-turbo");
    assert!(chorus(&p, &["generate", "--batch", "--repeat", "3"])
        .await
        .status
        .success());

    // Killed right after the results arrived: nothing recorded, every ticket kept.
    let out = chorus_env(
        &p,
        &["resume", "--all"],
        &[("CHORUS_FAILPOINT", "collect-after-download")],
    )
    .await;
    assert!(!out.status.success(), "{}", stderr(&out));
    assert_eq!(statuses(&p), ["queued", "queued", "queued"]);
    assert!(runs(&p)
        .iter()
        .all(|r| r["meta"]["submitted"]["batchId"] == "batch_1"));

    // Killed after the first run was written: that one is recorded, the others wait.
    let out = chorus_env(
        &p,
        &["resume", "--all"],
        &[("CHORUS_FAILPOINT", "collect-after-first-record")],
    )
    .await;
    assert!(!out.status.success(), "{}", stderr(&out));
    let recorded: Vec<Value> = runs(&p)
        .into_iter()
        .filter(|r| r["meta"].get("artist").is_some())
        .collect();
    assert_eq!(recorded.len(), 1);
    let first = recorded[0]["meta"]["artist"].clone();

    let out = chorus(&p, &["resume", "--all"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("recorded by an earlier collect"),
        "{}",
        stderr(&out)
    );
    assert_eq!(statuses(&p), ["done", "done", "done"]);
    let same = runs(&p)
        .into_iter()
        .find(|r| r["runId"] == recorded[0]["runId"])
        .unwrap();
    assert_eq!(
        same["meta"]["artist"], first,
        "the first result was not recorded again"
    );
    assert_eq!(batch_mock::count(&m, "POST", "/v1/files").await, 1);
    assert_eq!(batch_mock::count(&m, "POST", "/v1/batches").await, 1);
    assert_eq!(m.count(CHAT).await, 0);
    assert_eq!(m.count(IMAGES).await, 3, "each image painted once");
}

#[tokio::test]
async fn max_cost_uses_batch_prices() {
    let m = MockProvider::start().await;
    batch_mock::mount(&m, Api::OpenAi, Script::polls(&["in_progress"])).await;
    let p = project(&m, "openai", &["a"], "gpt-image-2");
    // Per run: (13 prompt tokens at $1/M + 500 out at $2/M) + $0.04 image = $0.041013 at
    // list price, $0.0205065 at batch price. Two runs: $0.082 listed, $0.041 batched.
    let out = chorus(
        &p,
        &["generate", "--batch", "--repeat", "2", "--max-cost", "0.03"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("over --max-cost"));
    assert!(p.files_under("runs").is_empty());
    let out = chorus(
        &p,
        &["generate", "--batch", "--repeat", "2", "--max-cost", "0.05"],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = chorus(&p, &["generate", "--repeat", "2", "--max-cost", "0.05"]).await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "the same budget does not cover list prices"
    );
}

#[tokio::test]
async fn resume_with_batch_sends_failed_lines_as_a_new_batch() {
    let m = MockProvider::start().await;
    let mut script = Script::polls(&["completed"]);
    script.expire = 1;
    batch_mock::mount(&m, Api::OpenAi, script).await;
    dalle(&m).await;
    let p = project(&m, "openai", &["a"], "sd-turbo");
    assert!(chorus(&p, &["generate", "--batch", "--repeat", "2"])
        .await
        .status
        .success());
    assert_eq!(
        chorus(&p, &["collect", "--all"]).await.status.code(),
        Some(4)
    );
    assert_eq!(statuses(&p), ["done", "failed"]);

    // The expired line goes out again as a batch of one, not as a direct call.
    let out = chorus(&p, &["resume", "--all", "--batch"]).await;
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert_eq!(batch_mock::count(&m, "POST", "/v1/batches").await, 2);
    let upload = m.requests("/v1/files").await.remove(1);
    assert_eq!(
        String::from_utf8_lossy(&upload.body)
            .matches("\"custom_id\"")
            .count(),
        1
    );
    assert_eq!(m.count(CHAT).await, 0);
    let waiting = runs(&p)
        .into_iter()
        .find(|r| r["status"] != "done")
        .unwrap();
    assert_eq!(waiting["meta"]["submitted"]["batchId"], "batch_2");
    assert!(waiting.get("error").is_none());
}

/// A batch-collected statement over the 256 KiB a run file may hold is cut there, with a
/// warning, exactly as a direct one: stored whole, it made every build and `check`
/// report the run as a broken file.
#[tokio::test]
async fn a_batch_statement_over_the_cap_is_cut_as_a_direct_one_is() {
    let m = MockProvider::start().await;
    let long = format!(
        "===ARTIST STATEMENT===\n{}\n===FINAL IMAGE PROMPT===\nA red kite.",
        "rain on slate, ".repeat(25_000)
    );
    let script = Script {
        reply: long,
        ..Script::polls(&["completed"])
    };
    batch_mock::mount(&m, Api::OpenAi, script).await;
    let p = project(&m, "openai", &["a"], "gpt-image-2");
    let out = chorus(&p, &["generate", "--batch"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    chorus(&p, &["resume", "--all"]).await;
    let run = runs(&p).remove(0);
    assert_eq!(run["meta"]["artist"]["status"], "done");
    assert_eq!(
        run["meta"]["artist"]["answeredModel"],
        mock::ANSWERED_SNAPSHOT
    );
    let statement = run["artistStmt"].as_str().unwrap();
    assert!(
        statement.len() <= 256 * 1024,
        "{} bytes stored",
        statement.len()
    );
    let warnings = run["meta"]["warnings"].to_string();
    assert!(warnings.contains("the statement was"), "{warnings}");
    let check = p.chorus(&["check"]).output().unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}
