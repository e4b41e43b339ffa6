//! Every provider protocol against a mock on 127.0.0.1, through the real binary: happy
//! paths, retries, final errors and bad images. Request counts prove what was retried.
mod common;

use std::process::Output;
use std::time::Duration;

use common::mock::{self, MockProvider, CANARY, CHAT, IMAGES, IMAGE_FILE, KEY_ENV, MESSAGES};
use common::TestProject;
use serde_json::Value;

/// A project whose chorus.toml holds `blocks`; `generate` run with the canary key set.
async fn generate(blocks: &[String], limits: &str, extra: &[&str]) -> (TestProject, Output) {
    let p = TestProject::with_config(&mock::project_toml(blocks, limits));
    let mut args = vec!["generate"];
    args.extend_from_slice(extra);
    let mut cmd = p.chorus(&args);
    cmd.env(KEY_ENV, CANARY);
    let out = mock::run(cmd).await;
    (p, out)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn group_id(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ids: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        ids.len(),
        1,
        "stdout should hold exactly one group id: {stdout:?}"
    );
    ids[0].to_string()
}

fn run_json(p: &TestProject, group: &str, slug: &str) -> Value {
    serde_json::from_str(&p.read(&format!("runs/{group}/{slug}.json"))).expect("run record is JSON")
}

/// No key, no signed URL, anywhere under runs/ or in the output.
fn assert_no_secrets(p: &TestProject, out: &Output) {
    for file in p.files_under("runs") {
        let bytes = std::fs::read(p.path(&format!("runs/{file}"))).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(CANARY), "key in runs/{file}");
        assert!(!text.contains("SIGNED-SECRET"), "signed URL in runs/{file}");
        assert!(
            !text.to_lowercase().contains("bearer"),
            "auth header in runs/{file}"
        );
    }
    for stream in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(stream);
        assert!(
            !text.contains(CANARY) && !text.contains("SIGNED-SECRET"),
            "secret in output: {text}"
        );
    }
}

#[tokio::test]
async fn openai_chat_and_url_image() {
    let m = MockProvider::start().await;
    m.chat_ok().await;
    m.images_url().await;
    m.image_file(200, "image/png", mock::png(24, 16)).await;
    let (p, out) = generate(
        &[
            mock::artist("gpt", "openai", &m.v1()),
            mock::brush("openai-images", "sd-turbo", &m.v1()),
        ],
        "",
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let g = group_id(&out);
    let run = run_json(&p, &g, "gpt");
    assert_eq!(run["status"], "done");
    assert_eq!(run["artistStmt"], "I paint the hush before rain.");
    assert_eq!(
        run["imagePrompt"],
        "A grey field under a low violet sky, one red kite."
    );
    assert_eq!(run["revisedPrompt"], "A revised grey field.");
    assert_eq!(run["imageFile"], "gpt.png");
    assert!(p.path(&format!("runs/{g}/gpt.png")).is_file());
    let artist = &run["meta"]["artist"];
    assert_eq!(artist["params"]["model"], "model-gpt");
    assert_eq!(artist["params"]["temperature"], 0.7);
    assert_eq!(artist["params"]["max_tokens"], 500);
    assert_eq!(artist["tokens"]["input"], 120);
    assert_eq!(artist["requestId"], "req-chat-1");
    assert_eq!(artist["cost"]["source"], "estimate");
    assert_eq!(run["meta"]["brush"]["params"]["size"], "1024x1024");
    assert_eq!(run["meta"]["brush"]["cost"]["usd"], 0.04);
    assert_eq!(run["meta"]["download"]["params"]["source"], "url");

    let chat = &m.requests(CHAT).await[0];
    assert_eq!(
        chat.headers.get("authorization").unwrap(),
        &format!("Bearer {CANARY}")
    );
    assert!(
        chat.headers.get("x-title").is_none(),
        "OpenRouter headers only go to OpenRouter"
    );
    let body: Value = chat.body_json().unwrap();
    assert_eq!(
        body["messages"][0]["content"],
        "Describe the painting you would make about rain."
    );
    let img: Value = m.requests(IMAGES).await[0].body_json().unwrap();
    assert_eq!(
        img["prompt"],
        "A grey field under a low violet sky, one red kite."
    );
    assert_eq!(
        (img["n"].as_u64(), img["quality"].as_str()),
        (Some(1), None)
    );
    assert_no_secrets(&p, &out);
}

#[tokio::test]
async fn openrouter_chat_cost_and_data_url_image() {
    // Two mocks, so the Artist's and the Brush's chat requests can be told apart.
    let (chat, painter) = (MockProvider::start().await, MockProvider::start().await);
    chat.chat_reply(
        mock::REPLY,
        serde_json::json!({"prompt_tokens": 10, "completion_tokens": 20, "cost": 0.0123}),
    )
    .await;
    painter.openrouter_image(&mock::png(8, 8), 0.02).await;
    let blocks = [
        mock::artist("or", "openrouter", &chat.v1()),
        mock::brush("openrouter-images", "google/gemini-image", &painter.v1()),
    ];
    let (p, out) = generate(&blocks, "", &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let run = run_json(&p, &group_id(&out), "or");
    assert_eq!(run["status"], "done");
    assert_eq!(
        run["meta"]["artist"]["cost"],
        serde_json::json!({"usd": 0.0123, "source": "provider"})
    );
    assert_eq!(
        run["meta"]["brush"]["cost"],
        serde_json::json!({"usd": 0.02, "source": "provider"})
    );
    assert_eq!(run["meta"]["download"]["params"]["source"], "inline");
    assert_eq!(run["imageFile"], "or.png");
    for request in [
        &chat.requests(CHAT).await[0],
        &painter.requests(CHAT).await[0],
    ] {
        assert_eq!(request.headers.get("x-title").unwrap(), "chorus");
        assert!(request.headers.get("http-referer").is_some());
    }
    let body: Value = chat.requests(CHAT).await[0].body_json().unwrap();
    assert_eq!(body["usage"]["include"], true);
    assert!(body.get("modalities").is_none());
    let body: Value = painter.requests(CHAT).await[0].body_json().unwrap();
    assert_eq!(body["modalities"], serde_json::json!(["image", "text"]));
    assert_eq!(
        body["messages"][0]["content"],
        "A grey field under a low violet sky, one red kite."
    );
    assert_no_secrets(&p, &out);
}

#[tokio::test]
async fn anthropic_messages_and_gpt_image_b64() {
    let m = MockProvider::start().await;
    m.anthropic_ok().await;
    let mut jpeg = std::io::Cursor::new(Vec::new());
    image::RgbImage::new(10, 10)
        .write_to(&mut jpeg, image::ImageFormat::Jpeg)
        .unwrap();
    m.images_b64(&jpeg.into_inner()).await;
    let (p, out) = generate(
        &[
            mock::artist("claude", "anthropic", &m.root()),
            mock::brush("openai-images", "gpt-image-2", &m.v1()),
        ],
        "",
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let g = group_id(&out);
    let run = run_json(&p, &g, "claude");
    assert_eq!(run["status"], "done");
    // The extension comes from the decoded bytes, not from what was asked for.
    assert_eq!(run["imageFile"], "claude.jpg");
    assert_eq!(
        run["meta"]["artist"]["tokens"],
        serde_json::json!({"input": 100, "output": 60})
    );
    assert_eq!(run["meta"]["artist"]["requestId"], "req-anthropic-1");
    let req = &m.requests(MESSAGES).await[0];
    assert_eq!(req.headers.get("x-api-key").unwrap(), CANARY);
    assert_eq!(req.headers.get("anthropic-version").unwrap(), "2023-06-01");
    assert!(req.headers.get("authorization").is_none());
    let body: Value = req.body_json().unwrap();
    assert_eq!(body["max_tokens"], 500);
    let img: Value = m.requests(IMAGES).await[0].body_json().unwrap();
    assert!(
        img.get("response_format").is_none(),
        "gpt-image-2 refuses response_format"
    );
    assert_eq!(img["output_format"], "png");
    assert_no_secrets(&p, &out);
}

/// An Artist on the mock, painted by a b64 Brush: the setup of the fault tests below.
async fn chat_case(m: &MockProvider, limits: &str) -> (TestProject, Output, Value) {
    m.images_b64(&mock::png(8, 8)).await;
    let (p, out) = generate(
        &[
            mock::artist("a", "openai", &m.v1()),
            mock::brush("openai-images", "gpt-image-2", &m.v1()),
        ],
        limits,
        &[],
    )
    .await;
    let g = group_id(&out);
    let run = run_json(&p, &g, "a");
    (p, out, run)
}

#[tokio::test]
async fn rate_limit_honours_retry_after_then_succeeds() {
    let m = MockProvider::start().await;
    m.chat_ok().await;
    m.chat_rate_limited(1, 1).await;
    let started = std::time::Instant::now();
    let (_p, out, run) = chat_case(&m, "").await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured"
    );
    assert_eq!(m.count(CHAT).await, 2);
    assert_eq!(run["meta"]["artist"]["attempts"], 2);
    let reason = run["meta"]["artist"]["retries"][0].as_str().unwrap();
    assert!(
        reason.contains("429") && reason.contains("waited 1000 ms"),
        "{reason}"
    );
    assert!(
        stderr(&out).contains("retrying in 1.0 s"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn server_errors_twice_then_success() {
    let m = MockProvider::start().await;
    m.chat_ok().await;
    m.chat_server_error(2).await;
    let (_p, out, run) = chat_case(&m, "").await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(m.count(CHAT).await, 3);
    assert_eq!(run["meta"]["artist"]["attempts"], 3);
    assert_eq!(
        run["meta"]["artist"]["retries"].as_array().unwrap().len(),
        2
    );
}

/// A provider's error body is untrusted: the retry line that quotes it shows its terminal
/// escapes and bidi controls as visible escapes, so it cannot clear the screen or print a
/// fake line.
#[tokio::test]
async fn a_quoted_error_body_cannot_drive_the_terminal() {
    let m = MockProvider::start().await;
    m.chat_ok().await;
    m.chat_server_error_saying(1, "\u{1b}[2J\u{1b}[Hok: all done\u{202e}")
        .await;
    let (_p, out, _run) = chat_case(&m, "").await;
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("\\u{1b}[2J"),
        "the escape is shown as text: {err}"
    );
    assert!(
        !err.contains('\u{1b}') && !err.contains('\u{202e}'),
        "{err:?}"
    );
}

#[tokio::test]
async fn timeout_is_retried_then_fails_with_its_reason() {
    let m = MockProvider::start().await;
    m.chat_slow(Duration::from_secs(3)).await;
    let (_p, out, run) = chat_case(&m, "request_timeout_secs = 0.3\nmax_attempts = 2").await;
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(m.count(CHAT).await, 2);
    assert_eq!(run["status"], "failed");
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("timed out") && error.contains("gave up after 2 attempts"),
        "{error}"
    );
    assert_eq!(
        m.count(IMAGES).await,
        0,
        "no brush call without a statement"
    );
}

#[tokio::test]
async fn malformed_json_fails_clearly() {
    let m = MockProvider::start().await;
    m.chat_malformed().await;
    let (_p, out, run) = chat_case(&m, "").await;
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(run["status"], "failed");
    assert!(
        run["error"].as_str().unwrap().contains("not valid JSON"),
        "{}",
        run["error"]
    );
    assert_eq!(run["meta"]["artist"]["status"], "failed");
}

#[tokio::test]
async fn reply_without_markers_is_kept_with_a_warning() {
    let m = MockProvider::start().await;
    m.chat_reply(
        "Just a paragraph about rain, with no markers at all.",
        Value::Null,
    )
    .await;
    let (_p, out, run) = chat_case(&m, "").await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(run["status"], "done");
    assert!(!run["imagePrompt"].as_str().unwrap().is_empty());
    assert!(
        run["meta"]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("markers"),
        "{}",
        run["meta"]
    );
    assert!(
        run["meta"]["artist"].get("tokens").is_none(),
        "usage is optional"
    );
}

#[tokio::test]
async fn insufficient_quota_is_never_retried() {
    let m = MockProvider::start().await;
    m.chat_insufficient_quota().await;
    let (_p, out, run) = chat_case(&m, "").await;
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(m.count(CHAT).await, 1);
    assert!(
        run["error"].as_str().unwrap().contains("quota"),
        "{}",
        run["error"]
    );
}

#[tokio::test]
async fn unauthorized_names_the_env_var_and_never_leaks_the_key() {
    let m = MockProvider::start().await;
    m.chat_unauthorized().await;
    let (p, out, run) = chat_case(&m, "").await;
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(m.count(CHAT).await, 1);
    let error = run["error"].as_str().unwrap();
    assert!(error.contains(KEY_ENV) && error.contains("401"), "{error}");
    assert_no_secrets(&p, &out);
}

/// A URL-answering Brush (an OpenAI-compatible image server) whose image URL serves `status`/`content_type`/`bytes`.
async fn image_case(
    limits: &str,
    status: u16,
    content_type: &str,
    bytes: Vec<u8>,
) -> (MockProvider, Value) {
    let m = MockProvider::start().await;
    m.chat_ok().await;
    m.images_url().await;
    m.image_file(status, content_type, bytes).await;
    let (p, out) = generate(
        &[
            mock::artist("a", "openai", &m.v1()),
            mock::brush("openai-images", "sd-turbo", &m.v1()),
        ],
        limits,
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let run = run_json(&p, &group_id(&out), "a");
    assert_eq!(run["status"], "failed");
    assert_eq!(
        run["meta"]["artist"]["status"], "done",
        "the statement is kept"
    );
    assert_eq!(run["meta"]["download"]["status"], "failed");
    assert!(run.get("imageFile").is_none());
    assert_no_secrets(&p, &out);
    (m, run)
}

#[tokio::test]
async fn invalid_image_bytes_fail_the_download_stage() {
    let (_m, run) = image_case("", 200, "image/png", b"<html>not a picture</html>".to_vec()).await;
    assert!(
        run["error"].as_str().unwrap().contains("not an image"),
        "{}",
        run["error"]
    );
}

#[tokio::test]
async fn image_over_the_size_cap_is_refused() {
    let (_m, run) = image_case("max_image_bytes = 100", 200, "image/png", mock::png(64, 64)).await;
    assert!(
        run["error"]
            .as_str()
            .unwrap()
            .contains("limits.max_image_bytes"),
        "{}",
        run["error"]
    );
}

#[tokio::test]
async fn expired_image_url_fails_clearly_without_retry() {
    let (m, run) = image_case(
        "",
        403,
        "application/xml",
        b"<Error>AuthenticationFailed</Error>".to_vec(),
    )
    .await;
    assert!(
        run["error"].as_str().unwrap().contains("expired"),
        "{}",
        run["error"]
    );
    assert_eq!(m.count(IMAGE_FILE).await, 1);
}

#[tokio::test]
async fn a_non_image_content_type_is_refused() {
    let (_m, run) = image_case("", 200, "text/html", mock::png(4, 4)).await;
    assert!(
        run["error"].as_str().unwrap().contains("content-type"),
        "{}",
        run["error"]
    );
}
