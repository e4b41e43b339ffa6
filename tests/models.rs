//! Models that providers serve today: `chorus models`, `check --online`, the preflight of
//! `generate`, a retired model answering 404 at run time, the snapshot that answered, and
//! gpt-image-2's parameters. Mocks on 127.0.0.1 answer as the providers document today.
mod common;

use std::process::Output;

use common::mock::{self, MockProvider, ANSWERED_SNAPSHOT, CANARY, CHAT, IMAGES, KEY_ENV};
use common::TestProject;
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, Request, ResponseTemplate};

const MODELS: &str = "/v1/models";

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// An OpenAI-style list serving `ids`.
async fn openai_list(m: &MockProvider, ids: &[&str]) {
    let data: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1, "owned_by": "system"}))
        .collect();
    Mock::given(method("GET"))
        .and(path(MODELS))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"object": "list", "data": data})),
        )
        .mount(&m.server)
        .await;
}

/// Every request the mock saw that was not a GET of a model list: the paid calls.
async fn paid_requests(m: &MockProvider) -> usize {
    let all: Vec<Request> = m.server.received_requests().await.unwrap_or_default();
    all.iter().filter(|r| r.method.as_str() != "GET").count()
}

/// Two OpenAI Artists (`a` served, `b` retired) and a Brush named by `brush_model`.
fn config(m: &MockProvider, brush_model: &str) -> String {
    let mut b = mock::artist("b", "openai", &m.v1());
    b = b.replace("model-b", "gpt-4-32k");
    mock::project_toml(
        &[
            mock::artist("a", "openai", &m.v1()),
            b,
            mock::brush("openai-images", brush_model, &m.v1()),
        ],
        "",
    )
}

async fn chorus(p: &TestProject, args: &[&str]) -> Output {
    let mut cmd = p.chorus(args);
    cmd.env(KEY_ENV, CANARY);
    mock::run(cmd).await
}

#[tokio::test]
async fn check_online_names_a_retired_artist_and_brush_without_a_paid_request() {
    let m = MockProvider::start().await;
    openai_list(&m, &["model-a", "gpt-4.1", "gpt-image-2", "gpt-6.2-sol"]).await;
    m.chat_ok().await;
    let p = TestProject::with_config(&config(&m, "dall-e-3"));
    let out = chorus(&p, &["check", "--online"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("ok: artist \"a\""), "{err}");
    assert!(
        err.contains("missing: artist \"b\" (openai, model \"gpt-4-32k\")")
            && err.contains("set artists[1].model in chorus.toml")
            && err.contains("nearest served: gpt-4.1"),
        "{err}"
    );
    assert!(
        err.contains("missing: brush \"brush\" (openai-images, model \"dall-e-3\")")
            && err.contains("brushes[0].model"),
        "{err}"
    );
    assert!(!err.contains(CANARY), "{err}");
    assert_eq!(paid_requests(&m).await, 0);
    // One GET for the one endpoint the three share.
    assert_eq!(m.server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn generate_refuses_a_group_with_a_retired_model_and_writes_nothing() {
    let m = MockProvider::start().await;
    openai_list(&m, &["model-a", "gpt-image-2"]).await;
    m.chat_ok().await;
    m.images_b64(&mock::png(8, 8)).await;
    for extra in [&[][..], &["--batch"][..]] {
        let p = TestProject::with_config(&config(&m, "gpt-image-2"));
        let mut args = vec!["generate"];
        args.extend_from_slice(extra);
        let out = chorus(&p, &args).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {err}");
        assert!(err.contains("model \"gpt-4-32k\") is not served"), "{err}");
        assert!(err.contains("nothing was written under runs/"), "{err}");
        assert!(out.stdout.is_empty(), "no group id is printed");
        let groups: Vec<String> = p
            .files_under("runs")
            .into_iter()
            .filter(|f| f.ends_with(".json"))
            .collect();
        assert!(groups.is_empty(), "{extra:?}: runs/ holds {groups:?}");
    }
    assert_eq!(paid_requests(&m).await, 0);

    // --no-preflight skips the check: the served Artist and the Brush are paid for, and
    // the retired one fails at once on its 404, never retried.
    Mock::given(method("POST"))
        .and(path(CHAT))
        .and(wiremock::matchers::body_partial_json(
            json!({"model": "gpt-4-32k"}),
        ))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": {
            "message": "The model `gpt-4-32k` does not exist or you do not have access to it.",
            "type": "invalid_request_error", "param": null, "code": "model_not_found"}})))
        .with_priority(1)
        .mount(&m.server)
        .await;
    let p = TestProject::with_config(&config(&m, "gpt-image-2"));
    let out = chorus(&p, &["generate", "--no-preflight"]).await;
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let group = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let b: Value = serde_json::from_str(&p.read(&format!("runs/{group}/b.json"))).unwrap();
    let error = b["error"].as_str().unwrap();
    assert!(
        error.contains("model \"gpt-4-32k\" is not served by openai (retired?)"),
        "{error}"
    );
    assert_eq!(b["meta"]["artist"]["attempts"], 1, "a 404 is final");
}

#[tokio::test]
async fn a_list_that_answers_404_is_unknown_and_does_not_block() {
    let m = MockProvider::start().await; // no list mounted: wiremock answers 404
    m.chat_ok().await;
    m.images_b64(&mock::png(8, 8)).await;
    let p = TestProject::with_config(&config(&m, "gpt-image-2"));
    let out = chorus(&p, &["check", "--online"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("has no model list (HTTP 404), so chorus cannot tell"),
        "{err}"
    );
    let out = chorus(&p, &["generate"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[tokio::test]
async fn a_refused_key_on_the_list_names_the_variable_and_blocks_generate() {
    let m = MockProvider::start().await;
    Mock::given(method("GET"))
        .and(path(MODELS))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {
            "message": "Incorrect API key provided.", "type": "invalid_request_error", "code": "invalid_api_key"}})))
        .mount(&m.server)
        .await;
    m.chat_ok().await;
    let p = TestProject::with_config(&config(&m, "gpt-image-2"));
    let out = chorus(&p, &["check", "--online"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!(
            "set a valid key in the environment variable {KEY_ENV}"
        )),
        "{}",
        stderr(&out)
    );
    let out = chorus(&p, &["generate"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(paid_requests(&m).await, 0);
}

#[tokio::test]
async fn garbage_and_redirected_lists_cannot_be_checked() {
    let m = MockProvider::start().await;
    Mock::given(method("GET"))
        .and(path(MODELS))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"))
        .mount(&m.server)
        .await;
    let p = TestProject::with_config(&config(&m, "gpt-image-2"));
    let out = chorus(&p, &["check", "--online"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot check: artist \"a\"")
            && stderr(&out).contains("not valid JSON"),
        "{}",
        stderr(&out)
    );

    let r = MockProvider::start().await;
    Mock::given(method("GET"))
        .and(path(MODELS))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", "http://127.0.0.2:9/v1/models"),
        )
        .mount(&r.server)
        .await;
    let p = TestProject::with_config(&config(&r, "gpt-image-2"));
    let out = chorus(&p, &["check", "--online"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("never follows a redirect"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn openrouter_prices_and_anthropic_pages_are_read() {
    let m = MockProvider::start().await;
    // OpenRouter: dollars per token as strings; only with output_modalities=all are the
    // image models listed.
    Mock::given(method("GET"))
        .and(path(MODELS))
        .and(query_param("output_modalities", "all"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [
            {"id": "model-or", "name": "Served Model", "pricing": {"prompt": "0.000003", "completion": "0.000002"}},
            {"id": "google/gemini-4-hydrogen", "name": "Gemini 4 Hydrogen", "pricing": {"prompt": "0.0000015", "completion": "0.0000075"}}
        ], "links": {"next": null}})))
        .mount(&m.server)
        .await;
    // Anthropic: two pages, the Artist's model on the second.
    Mock::given(method("GET"))
        .and(path(MODELS))
        .and(query_param("after_id", "claude-opus-5-5"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [
            {"type": "model", "id": "model-claude", "display_name": "Claude", "created_at": "2026-09-28T00:00:00Z"}],
            "has_more": false, "first_id": "model-claude", "last_id": "model-claude"})))
        .with_priority(1)
        .mount(&m.server)
        .await;
    Mock::given(method("GET"))
        .and(path(MODELS))
        .and(query_param("limit", "1000"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [
            {"type": "model", "id": "claude-opus-5-5", "display_name": "Claude Opus 5.5", "created_at": "2026-09-28T00:00:00Z"}],
            "has_more": true, "first_id": "claude-opus-5-5", "last_id": "claude-opus-5-5"})))
        .with_priority(2)
        .mount(&m.server)
        .await;
    let toml = mock::project_toml(
        &[
            mock::artist("or", "openrouter", &m.v1()),
            mock::artist("claude", "anthropic", &m.root()),
            mock::brush("procedural", "procedural-v1", &m.v1())
                .replace("price = { per_image = 0.04 }\n", ""),
        ],
        "",
    );
    let p = TestProject::with_config(&toml);
    let out = chorus(&p, &["check", "--online"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("ok: artist \"claude\""), "{err}");
    assert!(
        err.contains("warning: artist \"or\": artists[0].price.input_per_mtok is $1/Mtok, openrouter publishes $3/Mtok"),
        "{err}"
    );
    assert!(
        !err.contains("output_per_mtok"),
        "the output price agrees: {err}"
    );

    let out = chorus(
        &p,
        &["models", "--provider", "openrouter", "--json", "gemini"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let models = listed[0]["models"].as_array().unwrap();
    assert_eq!(models.len(), 1, "{listed}");
    assert_eq!(models[0]["id"], "google/gemini-4-hydrogen");
    assert_eq!(models[0]["input_per_mtok"], 1.5);

    let out = chorus(&p, &["models"]).await;
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("anthropic at ") && table.contains("2 model(s), 2 shown"),
        "{table}"
    );
    assert!(
        table.contains("Claude Opus 5.5") && table.contains("model-claude"),
        "{table}"
    );
}

#[tokio::test]
async fn the_answering_snapshot_is_recorded_and_shown() {
    let m = MockProvider::start().await;
    openai_list(&m, &["model-a", "gpt-image-2"]).await;
    m.chat_ok().await;
    m.images_b64(&mock::png(8, 8)).await;
    let toml = mock::project_toml(
        &[
            mock::artist("a", "openai", &m.v1()),
            mock::brush("openai-images", "gpt-image-2", &m.v1()),
        ],
        "",
    );
    let p = TestProject::with_config(&toml);
    let out = chorus(&p, &["generate", "--build"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let group = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let run: Value = serde_json::from_str(&p.read(&format!("runs/{group}/a.json"))).unwrap();
    assert_eq!(run["meta"]["artist"]["model"], "model-a");
    assert_eq!(run["meta"]["artist"]["answeredModel"], ANSWERED_SNAPSHOT);
    let page = p.read(&format!("site/groups/{group}/a.html"));
    assert!(
        page.contains(&format!("answered as {ANSWERED_SNAPSHOT}")),
        "run page"
    );
    let export = p.read(&format!("site/groups/{group}/runs.json"));
    assert!(
        export.contains(&format!("\"answeredModel\": \"{ANSWERED_SNAPSHOT}\"")),
        "{export}"
    );
    let note = "answered by 2 different snapshots";
    assert!(!p.read("site/artists/a.html").contains(note));

    // A second group, then the provider moves the alias to a new snapshot: the Artist's
    // page and the prompt's page say its runs came from two model versions.
    let out = chorus(&p, &["generate"]).await;
    let second = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let file = format!("runs/{second}/a.json");
    let moved = p
        .read(&file)
        .replace(ANSWERED_SNAPSHOT, "mock-model-2026-12-01");
    p.write(&file, &moved);
    let out = chorus(&p, &["build"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for page in ["site/artists/a.html", "site/prompts/p1.html"] {
        let html = p.read(page);
        assert!(html.contains(note), "{page}");
        assert!(
            html.contains(&format!("{ANSWERED_SNAPSHOT}, mock-model-2026-12-01")),
            "{page}"
        );
    }
}

/// An Images endpoint that behaves as gpt-image-2 does: 400 for dall-e parameters, base64.
async fn gpt_image_2(m: &MockProvider, image: &[u8]) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(image);
    Mock::given(method("POST"))
        .and(path(IMAGES))
        .respond_with(move |req: &Request| {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
            if body.get("response_format").is_some() {
                return ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "Unknown parameter: 'response_format'.",
                    "type": "invalid_request_error", "param": "response_format", "code": "unknown_parameter"}}));
            }
            let quality = body["quality"].as_str().unwrap_or("auto");
            if !["low", "medium", "high", "auto"].contains(&quality) {
                return ResponseTemplate::new(400).set_body_json(json!({"error": {"message": format!("Invalid value: '{quality}'. Supported values are: 'low', 'medium', 'high', and 'auto'."),
                    "type": "invalid_request_error", "param": "quality", "code": "invalid_value"}}));
            }
            ResponseTemplate::new(200).set_body_json(json!({"created": 1, "data": [{"b64_json": b64}],
                "output_format": body["output_format"], "quality": quality, "size": "1024x1024",
                "usage": {"input_tokens": 40, "output_tokens": 1056, "total_tokens": 1096}}))
        })
        .mount(&m.server)
        .await;
}

fn webp() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8 * 4, y as u8 * 4, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::WebP)
        .unwrap();
    out.into_inner()
}

#[tokio::test]
async fn gpt_image_2_paints_through_the_shipped_brush_settings() {
    let m = MockProvider::start().await;
    gpt_image_2(&m, &webp()).await;
    m.chat_ok().await;
    let p = TestProject::init();
    let shipped = p.read("chorus.toml");
    for retired in [
        "dall-e",
        "gpt-image-1",
        "claude-3-opus",
        "gemini-pro-1.5",
        "gemini-1.5",
        "gpt-4o",
    ] {
        assert!(
            !shipped.contains(retired),
            "the shipped registry names {retired}"
        );
    }
    // The shipped registry, pointed at the mock: the Brush block exactly as shipped.
    let pointed = shipped
        .replace("https://api.openai.com/v1", &m.v1())
        .replace("https://openrouter.ai/api/v1", &m.v1())
        .replace("OPENAI_API_KEY", KEY_ENV)
        .replace("OPENROUTER_API_KEY", KEY_ENV);
    p.write("chorus.toml", &pointed);
    let out = chorus(
        &p,
        &[
            "generate",
            "--no-preflight",
            "--artists",
            "claude-sonnet-5.5",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sent: Vec<Value> = m
        .requests(IMAGES)
        .await
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["model"], "gpt-image-2");
    assert_eq!(
        (
            sent[0]["quality"].as_str(),
            sent[0]["output_format"].as_str()
        ),
        (Some("medium"), Some("webp"))
    );
    assert_eq!(sent[0]["output_compression"], 90);
    let group = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let stored = p.files_under(&format!("runs/{group}"));
    assert!(
        stored.iter().any(|f| f == "claude-sonnet-5.5.webp"),
        "{stored:?}"
    );
}

#[test]
fn dall_e_parameters_on_gpt_image_2_are_config_errors() {
    let toml = mock::project_toml(
        &[
            mock::artist("a", "openai", "http://127.0.0.1:9/v1"),
            mock::brush("openai-images", "gpt-image-2", "http://127.0.0.1:9/v1")
                .replace("quality = \"medium\"", "quality = \"hd\"\nresponse_format = \"url\"\noutput_format = \"gif\"\noutput_compression = 80"),
        ],
        "",
    );
    let p = TestProject::with_config(&toml);
    let out = p.chorus(&["check"]).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    for expected in [
        "brushes[0].quality: \"hd\" is not a quality \"gpt-image-2\" takes; use one of: low, medium, high, auto",
        "brushes[0].response_format: \"gpt-image-2\" always answers base64 and refuses response_format",
        "brushes[0].output_format: \"gif\" is not an output format; use one of: png, jpeg, webp",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in {err}");
    }
}
