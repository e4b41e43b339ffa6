//! A hostile or broken provider, through the real binary: replies that never end, bombs,
//! redirects that would carry a key away, URLs chorus refuses, invalid UTF-8, and images
//! paid for but not yet downloaded. Request counts prove what was (not) retried.
mod common;

use std::process::Output;
use std::time::Duration;

use common::mock::{
    self, EndlessServer, MockProvider, CANARY, CHAT, IMAGES, IMAGE_FILE, KEY_ENV, MESSAGES,
};
use common::TestProject;
use serde_json::Value;

async fn chorus(p: &TestProject, args: &[&str]) -> Output {
    let mut cmd = p.chorus(args);
    cmd.env(KEY_ENV, CANARY);
    mock::run(cmd).await
}

async fn generate(blocks: &[String], limits: &str) -> (TestProject, Output) {
    let p = TestProject::with_config(&mock::project_toml(blocks, limits));
    // The faults here are the paid stages'; the model-list preflight (tests/models.rs)
    // would be one more connection to servers that count theirs.
    let out = chorus(&p, &["generate", "--no-preflight"]).await;
    (p, out)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn group_id(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout.lines().next().expect("a group id").to_string()
}

fn run_json(p: &TestProject, group: &str, slug: &str) -> Value {
    serde_json::from_str(&p.read(&format!("runs/{group}/{slug}.json"))).expect("run record is JSON")
}

fn error(run: &Value) -> String {
    run["error"].as_str().unwrap_or_default().to_string()
}

/// Artist "a" on `artist_base`, an OpenAI Images Brush on `brush_base`.
fn blocks(artist_base: &str, model: &str, brush_base: &str) -> Vec<String> {
    vec![
        mock::artist("a", "openai", artist_base),
        mock::brush("openai-images", model, brush_base),
    ]
}

/// The run failed, and the stage named failed with an error containing `needle`.
fn assert_failed(p: &TestProject, out: &Output, stage: &str, needle: &str) -> Value {
    assert_eq!(out.status.code(), Some(4), "{}", stderr(out));
    let run = run_json(p, &group_id(out), "a");
    assert_eq!(run["status"], "failed");
    assert_eq!(run["meta"][stage]["status"], "failed", "{}", run["meta"]);
    assert!(error(&run).contains(needle), "{}", error(&run));
    run
}

// ---- 1. every reply is capped while it streams ----

#[tokio::test]
async fn a_chat_reply_over_the_cap_fails_at_once_and_is_not_stored() {
    let m = MockProvider::start().await;
    let huge = format!(
        r#"{{"choices":[{{"message":{{"content":"{}"}}}}]}}"#,
        "rain ".repeat(60_000)
    );
    m.chat_raw(huge.into_bytes()).await;
    let (p, out) = generate(
        &blocks(&m.v1(), "gpt-image-2", &m.v1()),
        "max_reply_bytes = 100000",
    )
    .await;
    assert_failed(&p, &out, "artist", "limits.max_reply_bytes");
    assert_eq!(
        m.count(CHAT).await,
        1,
        "an oversize reply is not asked for again"
    );
    let g = group_id(&out);
    let size = std::fs::metadata(p.path(&format!("runs/{g}/a.json")))
        .unwrap()
        .len();
    assert!(size < 20_000, "the run file holds {size} bytes");
}

#[tokio::test]
async fn a_chat_reply_that_never_ends_is_cut_at_the_cap() {
    let endless = EndlessServer::start(
        r#"{"choices":[{"message":{"content":""#,
        b"rain rain rain rain ".repeat(3000),
        None,
    )
    .await;
    let m = MockProvider::start().await;
    let (p, out) = generate(
        &blocks(&endless.v1(), "gpt-image-2", &m.v1()),
        "max_reply_bytes = 1000000\nrequest_timeout_secs = 20",
    )
    .await;
    assert_failed(&p, &out, "artist", "limits.max_reply_bytes");
    assert_eq!(endless.connections(), 1, "not retried");
}

#[tokio::test]
async fn a_b64_image_reply_that_never_ends_is_cut_while_streaming() {
    let endless = EndlessServer::start(
        r#"{"created":1,"data":[{"b64_json":""#,
        b"AAAA".repeat(16_384),
        None,
    )
    .await;
    let m = MockProvider::start().await;
    m.chat_ok().await;
    let (p, out) = generate(
        &blocks(&m.v1(), "gpt-image-2", &endless.v1()),
        "max_image_bytes = 1000000\nrequest_timeout_secs = 20",
    )
    .await;
    let run = assert_failed(&p, &out, "brush", "limits.max_image_bytes");
    assert_eq!(run["meta"]["artist"]["status"], "done");
    assert_eq!(endless.connections(), 1, "not retried");
}

#[tokio::test]
async fn a_slow_drip_times_out_and_is_retried() {
    let endless = EndlessServer::start("{", b" ".to_vec(), Some(Duration::from_millis(100))).await;
    let m = MockProvider::start().await;
    let (p, out) = generate(
        &blocks(&endless.v1(), "gpt-image-2", &m.v1()),
        "request_timeout_secs = 0.5\nmax_attempts = 2",
    )
    .await;
    assert_failed(&p, &out, "artist", "timed out");
    assert_eq!(endless.connections(), 2, "a timeout is transient");
}

// ---- 2. decompression bombs ----

#[tokio::test]
async fn a_decompression_bomb_is_refused_before_decoding() {
    // 10000 × 10000 grey pixels: a few hundred KB of PNG, 100 MB once decoded.
    let mut bomb = std::io::Cursor::new(Vec::new());
    image::GrayImage::new(10_000, 10_000)
        .write_to(&mut bomb, image::ImageFormat::Png)
        .unwrap();
    let m = MockProvider::start().await;
    m.chat_ok().await;
    m.images_b64(&bomb.into_inner()).await;
    let (p, out) = generate(&blocks(&m.v1(), "gpt-image-2", &m.v1()), "").await;
    let run = assert_failed(&p, &out, "download", "limits.max_image_pixels");
    assert!(error(&run).contains("10000×10000"), "{}", error(&run));
    assert_eq!(m.count(IMAGES).await, 1);
}

// ---- 3. no key ever follows a redirect ----

#[tokio::test]
async fn no_provider_follows_a_redirect_with_its_key() {
    // (artist provider, brush provider, brush model, which side redirects, endpoint path)
    let cases = [
        ("openai", "openai-images", "gpt-image-2", "artist", CHAT),
        ("openrouter", "openai-images", "gpt-image-2", "artist", CHAT),
        (
            "anthropic",
            "openai-images",
            "gpt-image-2",
            "artist",
            MESSAGES,
        ),
        ("openai", "openai-images", "sd-turbo", "brush", IMAGES),
        (
            "openai",
            "openrouter-images",
            "google/gemini-image",
            "brush",
            CHAT,
        ),
    ];
    for (artist, brush, model, side, endpoint) in cases {
        for status in [302, 307] {
            let evil = MockProvider::start().await;
            let (artist_mock, brush_mock) =
                (MockProvider::start().await, MockProvider::start().await);
            artist_mock.chat_ok().await;
            artist_mock.anthropic_ok().await;
            let target = if side == "artist" {
                &artist_mock
            } else {
                &brush_mock
            };
            target
                .redirect(
                    endpoint,
                    status,
                    &format!("{}{endpoint}", evil.server.uri()),
                )
                .await;
            let base = |m: &MockProvider, provider: &str| {
                if provider == "anthropic" {
                    m.root()
                } else {
                    m.v1()
                }
            };
            let blocks = [
                mock::artist("a", artist, &base(&artist_mock, artist)),
                mock::brush(brush, model, &brush_mock.v1()),
            ];
            let (p, out) = generate(&blocks, "").await;
            let case = format!("{artist}/{brush} {side} answering {status}");
            assert_eq!(out.status.code(), Some(4), "{case}: {}", stderr(&out));
            let run = run_json(&p, &group_id(&out), "a");
            assert_eq!(run["meta"][side]["status"], "failed", "{case}");
            assert!(error(&run).contains("redirect"), "{case}: {}", error(&run));
            let leaked = evil.server.received_requests().await.unwrap_or_default();
            assert!(
                leaked.is_empty(),
                "{case}: {} request(s) reached the other host",
                leaked.len()
            );
            assert_eq!(
                target.count(endpoint).await,
                1,
                "{case}: a redirect is not retried"
            );
        }
    }
}

// ---- 4. permanent errors are not retried; 6. raster data URLs are images ----

#[tokio::test]
async fn urls_chorus_refuses_fail_the_download_once_and_keep_the_paid_brush() {
    for (url, needle) in [
        ("file:///etc/passwd".to_string(), "\"file:\""),
        (
            "data:image/svg+xml;base64,PHN2Zy8+".to_string(),
            "image/svg+xml",
        ),
        ("ftp://127.0.0.1/a.png".to_string(), "\"ftp:\""),
        ("data:text/html;base64,PGgxPg==".to_string(), "text/html"),
    ] {
        let m = MockProvider::start().await;
        m.chat_ok().await;
        m.images_answer_url(&url).await;
        let (p, out) = generate(&blocks(&m.v1(), "sd-turbo", &m.v1()), "").await;
        let run = assert_failed(&p, &out, "download", needle);
        assert_eq!(m.count(IMAGES).await, 1, "{url}: painted once");
        assert_eq!(run["meta"]["download"]["attempts"], 1, "{url}: not retried");
        assert_eq!(
            run["meta"]["brush"]["cost"]["usd"], 0.04,
            "{url}: the painting was paid"
        );
    }
}

#[tokio::test]
async fn a_redirect_loop_on_the_image_url_is_not_retried() {
    let m = MockProvider::start().await;
    m.chat_ok().await;
    m.images_url().await;
    m.image_file_redirect(302, &m.image_url()).await;
    let (p, out) = generate(&blocks(&m.v1(), "sd-turbo", &m.v1()), "").await;
    assert_failed(&p, &out, "download", "redirect");
    let fetched = m.count(IMAGE_FILE).await;
    assert!(fetched <= 6, "the loop was followed {fetched} times");
}

#[tokio::test]
async fn raster_data_urls_in_the_url_field_are_images() {
    let mut jpeg = std::io::Cursor::new(Vec::new());
    image::RgbImage::new(12, 12)
        .write_to(&mut jpeg, image::ImageFormat::Jpeg)
        .unwrap();
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    for (url, ext) in [
        (
            format!("data:image/png;base64,{}", b64(&mock::png(8, 8))),
            "png",
        ),
        (
            format!("data:image/jpeg;base64,{}", b64(&jpeg.clone().into_inner())),
            "jpg",
        ),
    ] {
        let m = MockProvider::start().await;
        m.chat_ok().await;
        m.images_answer_url(&url).await;
        let (p, out) = generate(&blocks(&m.v1(), "sd-turbo", &m.v1()), "").await;
        assert!(out.status.success(), "{ext}: {}", stderr(&out));
        let run = run_json(&p, &group_id(&out), "a");
        assert_eq!(run["imageFile"], format!("a.{ext}"));
        assert_eq!(run["meta"]["download"]["params"]["source"], "inline");
    }
}

// ---- 8. invalid UTF-8 ----

#[tokio::test]
async fn invalid_utf8_in_a_reply_is_replaced_and_warned_about() {
    let m = MockProvider::start().await;
    let mut body = br#"{"choices":[{"message":{"content":"===ARTIST STATEMENT===\nRain "#.to_vec();
    body.extend_from_slice(b"\xff\xfe");
    body.extend_from_slice(br#" falls.\n\n===FINAL IMAGE PROMPT===\nA grey field."}}]}"#);
    m.chat_raw(body).await;
    m.images_b64(&mock::png(8, 8)).await;
    let (p, out) = generate(&blocks(&m.v1(), "gpt-image-2", &m.v1()), "").await;
    assert!(out.status.success(), "{}", stderr(&out));
    let run = run_json(&p, &group_id(&out), "a");
    assert!(
        run["artistStmt"].as_str().unwrap().contains('\u{FFFD}'),
        "{}",
        run["artistStmt"]
    );
    let warnings = run["meta"]["warnings"].to_string();
    assert!(warnings.contains("UTF-8"), "{warnings}");
}

// ---- 5. a paid image is never lost ----

/// A run whose image URL answered 500 until attempts ran out: paid, not downloaded.
async fn paid_but_not_downloaded() -> (MockProvider, TestProject, String) {
    let m = MockProvider::start().await;
    m.chat_ok().await;
    m.images_url().await;
    m.image_file(500, "text/plain", b"blob store down".to_vec())
        .await;
    let (p, out) = generate(&blocks(&m.v1(), "sd-turbo", &m.v1()), "max_attempts = 2").await;
    let run = assert_failed(&p, &out, "download", "500");
    assert_eq!(run["meta"]["brush"]["status"], "done");
    let g = group_id(&out);
    assert!(p.path(&format!("runs/{g}/.chorus-paid-a.json")).is_file());
    m.reset().await;
    m.chat_ok().await;
    m.images_url().await;
    m.image_file(200, "image/png", mock::png(8, 8)).await;
    (m, p, g)
}

#[tokio::test]
async fn resume_downloads_a_paid_image_again_without_painting_it_again() {
    let (m, p, g) = paid_but_not_downloaded().await;
    // The waiting answer holds the signed URL: it never reaches the run or the site.
    assert!(!p
        .read(&format!("runs/{g}/a.json"))
        .contains("SIGNED-SECRET"));
    p.chorus(&["build", "--no-analysis"]).assert().success();
    for file in p.files_under("site") {
        let bytes = std::fs::read(p.path(&format!("site/{file}"))).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("SIGNED-SECRET"),
            "site/{file}"
        );
    }
    let out = chorus(&p, &["resume", &g]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let run = run_json(&p, &g, "a");
    assert_eq!(run["status"], "done");
    assert_eq!(m.count(IMAGES).await, 0, "the Brush was not asked again");
    assert_eq!(m.count(CHAT).await, 0);
    assert_eq!(m.count(IMAGE_FILE).await, 1);
    assert!(run["meta"].get("superseded").is_none(), "{}", run["meta"]);
    assert_eq!(run["meta"]["brush"]["cost"]["usd"], 0.04);
    assert!(!p.path(&format!("runs/{g}/.chorus-paid-a.json")).exists());
    p.chorus(&["check"]).assert().success();
}

#[tokio::test]
async fn an_expired_link_is_painted_again_and_both_paintings_stay_in_the_cost() {
    let (m, p, g) = paid_but_not_downloaded().await;
    let paid_file = format!("runs/{g}/.chorus-paid-a.json");
    let mut paid: Value = serde_json::from_str(&p.read(&paid_file)).unwrap();
    paid["expiresAt"] = Value::from("2001-01-01T00:00:00Z");
    p.write(&paid_file, &paid.to_string());
    let out = chorus(&p, &["resume", &g]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("expired"), "{}", stderr(&out));
    assert_eq!(m.count(IMAGES).await, 1, "painted again");
    let run = run_json(&p, &g, "a");
    assert_eq!(run["status"], "done");
    let superseded = &run["meta"]["superseded"][0];
    assert_eq!(superseded["stage"], "brush");
    assert_eq!(superseded["cost"]["usd"], 0.04);
    assert!(superseded["reason"].as_str().unwrap().contains("expired"));
    assert_eq!(run["meta"]["brush"]["cost"]["usd"], 0.04);
    // Both paintings count in the run's cost: 0.08 for the Brush, 0.00028 for the Artist.
    let stderr = stderr(&out);
    assert!(stderr.contains("$0.0803"), "{stderr}");
}

// ---- 7. crash leftovers ----

#[test]
fn leftover_temp_files_are_reported_by_check_and_cleaned_by_resume_and_build() {
    let p = TestProject::init();
    let gitignore = p.read(".gitignore");
    assert!(gitignore.contains("runs/**/.chorus-tmp-*"), "{gitignore}");
    assert!(gitignore.contains("runs/**/.chorus-paid-*"), "{gitignore}");
    let g = p
        .generate_offline(&["--artists", "offline-minimalist"])
        .remove(0);
    // Named as an atomic write names its temp file, by a process that no longer runs.
    let stray = [
        format!("runs/{g}/.chorus-tmp-4294967294-0-offline-minimalist.png"),
        "runs/.chorus-tmp-4294967294-1-x.json".to_string(),
    ];
    let plant = || {
        for s in &stray {
            p.write(s, "");
        }
    };
    plant();
    let out = p.chorus(&["check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains(".chorus-tmp-4294967294-0-offline-minimalist.png")
            && text.contains("interrupted write"),
        "{text}"
    );
    p.chorus(&["resume", "--all"]).assert().success();
    assert!(stray.iter().all(|s| !p.path(s).exists()), "resume cleans");
    plant();
    p.chorus(&["build", "--no-analysis"]).assert().success();
    assert!(stray.iter().all(|s| !p.path(s).exists()), "build cleans");
    p.chorus(&["check"]).assert().success();
}
