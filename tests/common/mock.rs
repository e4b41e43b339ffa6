//! Mock providers on 127.0.0.1 (wiremock): one function per behaviour or fault, so a test
//! reads as "the chat endpoint rate-limits once, then answers". Also the chorus.toml
//! snippets that point Artists and Brushes at the mock, and a helper that runs the real
//! binary without blocking the mock's runtime.
#![allow(dead_code)]

use std::io::Cursor;
use std::process::Output;
use std::time::Duration;

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub const CHAT: &str = "/v1/chat/completions";
pub const MESSAGES: &str = "/v1/messages";
pub const IMAGES: &str = "/v1/images/generations";
pub const IMAGE_FILE: &str = "/files/painting.png";

/// A canary key: it must never show up under runs/ or in any output.
pub const CANARY: &str = "sk-canary-7f3b9c1d2e4a";
pub const KEY_ENV: &str = "CHORUS_TEST_KEY";

/// A reply in the marker format the prompt asks for.
pub const REPLY: &str = "===ARTIST STATEMENT===\nI paint the hush before rain.\n\n===FINAL IMAGE PROMPT===\nA grey field under a low violet sky, one red kite.";

/// The dated snapshot every mock chat reply says answered, as providers do behind an alias.
pub const ANSWERED_SNAPSHOT: &str = "mock-model-2026-11-17";

/// Faults take precedence over the happy answer while they last.
const FAULT: u8 = 1;

pub struct MockProvider {
    pub server: MockServer,
}

impl MockProvider {
    pub async fn start() -> MockProvider {
        MockProvider {
            server: MockServer::start().await,
        }
    }

    /// Base URL for OpenAI-style providers (`.../v1`).
    pub fn v1(&self) -> String {
        format!("{}/v1", self.server.uri())
    }

    /// Base URL for Anthropic (the provider adds `/v1/messages`).
    pub fn root(&self) -> String {
        self.server.uri()
    }

    async fn mount(&self, at: &str, response: ResponseTemplate, times: Option<u64>) {
        let verb = if at == IMAGE_FILE { "GET" } else { "POST" };
        let mut mock = Mock::given(method(verb))
            .and(path(at.to_string()))
            .respond_with(response);
        if let Some(n) = times {
            mock = mock.up_to_n_times(n).with_priority(FAULT);
        }
        mock.mount(&self.server).await;
    }

    // ---- chat completions (OpenAI, OpenRouter, local servers) ----

    /// Answers every chat request with `REPLY`, usage and a request id.
    pub async fn chat_ok(&self) {
        self.chat_reply(
            REPLY,
            json!({"prompt_tokens": 120, "completion_tokens": 80}),
        )
        .await;
    }

    pub async fn chat_reply(&self, text: &str, usage: Value) {
        let body = json!({
            "id": "chatcmpl-mock",
            "model": ANSWERED_SNAPSHOT,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": usage,
        });
        self.mount(
            CHAT,
            ResponseTemplate::new(200)
                .set_body_json(body)
                .insert_header("x-request-id", "req-chat-1"),
            None,
        )
        .await;
    }

    /// 429 with `Retry-After: <secs>`, `times` times.
    pub async fn chat_rate_limited(&self, retry_after_secs: u32, times: u64) {
        let r = ResponseTemplate::new(429)
            .insert_header("retry-after", retry_after_secs.to_string().as_str())
            .set_body_json(json!({"error": {"message": "Rate limit reached", "type": "requests"}}));
        self.mount(CHAT, r, Some(times)).await;
    }

    /// 500, `times` times.
    pub async fn chat_server_error(&self, times: u64) {
        self.chat_server_error_saying(times, "upstream exploded")
            .await;
    }

    /// 500 with `body`, `times` times.
    pub async fn chat_server_error_saying(&self, times: u64, body: &str) {
        self.mount(
            CHAT,
            ResponseTemplate::new(500).set_body_string(body),
            Some(times),
        )
        .await;
    }

    /// Answers, but only after `delay`.
    pub async fn chat_slow(&self, delay: Duration) {
        let body = json!({"choices": [{"message": {"content": REPLY}}]});
        self.mount(
            CHAT,
            ResponseTemplate::new(200)
                .set_body_json(body)
                .set_delay(delay),
            None,
        )
        .await;
    }

    pub async fn chat_malformed(&self) {
        self.mount(
            CHAT,
            ResponseTemplate::new(200).set_body_raw("{\"choices\": [ {\"mess", "application/json"),
            None,
        )
        .await;
    }

    /// OpenAI's final 429: the account is out of quota.
    pub async fn chat_insufficient_quota(&self) {
        let body = json!({"error": {"message": "You exceeded your current quota, please check your plan and billing details.", "type": "insufficient_quota", "code": "insufficient_quota"}});
        self.mount(CHAT, ResponseTemplate::new(429).set_body_json(body), None)
            .await;
    }

    /// 401 whose message echoes the key, as OpenAI's does.
    pub async fn chat_unauthorized(&self) {
        let body = json!({"error": {"message": format!("Incorrect API key provided: {CANARY}."), "type": "invalid_request_error"}});
        self.mount(CHAT, ResponseTemplate::new(401).set_body_json(body), None)
            .await;
    }

    // ---- Anthropic Messages ----

    pub async fn anthropic_ok(&self) {
        let body = json!({
            "id": "msg_mock",
            "type": "message",
            "model": ANSWERED_SNAPSHOT,
            "content": [{"type": "text", "text": REPLY}],
            "usage": {"input_tokens": 100, "output_tokens": 60},
        });
        self.mount(
            MESSAGES,
            ResponseTemplate::new(200)
                .set_body_json(body)
                .insert_header("request-id", "req-anthropic-1"),
            None,
        )
        .await;
    }

    // ---- OpenAI Images ----

    /// An OpenAI-compatible image server that answers a URL (LocalAI, stable-diffusion.cpp
    /// with `response_format: "url"`): a signed URL to the image (served by `image_file`)
    /// and a revised prompt.
    pub async fn images_url(&self) {
        let url = format!("{}{IMAGE_FILE}?sig=SIGNED-SECRET-123", self.server.uri());
        let body = json!({"created": 1, "data": [{"url": url, "revised_prompt": "A revised grey field."}]});
        self.mount(IMAGES, ResponseTemplate::new(200).set_body_json(body), None)
            .await;
    }

    /// gpt-image-2 as OpenAI documents it today: base64 only, the output settings echoed,
    /// token usage, and no `model` field.
    pub async fn images_b64(&self, image: &[u8]) {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(image);
        let body = json!({"created": 1, "background": "opaque", "data": [{"b64_json": b64}],
            "output_format": "png", "quality": "medium", "size": "1024x1024",
            "usage": {"input_tokens": 50, "input_tokens_details": {"image_tokens": 0, "text_tokens": 50},
                      "output_tokens": 1056, "total_tokens": 1106}});
        self.mount(IMAGES, ResponseTemplate::new(200).set_body_json(body), None)
            .await;
    }

    /// 500 on the image endpoint, `times` times (None: always).
    pub async fn images_server_error(&self, times: Option<u64>) {
        let r = ResponseTemplate::new(500).set_body_string("painter fell over");
        self.mount(IMAGES, r, Some(times.unwrap_or(u64::MAX))).await;
    }

    /// What the image URL serves.
    pub async fn image_file(&self, status: u16, content_type: &str, bytes: Vec<u8>) {
        self.mount(
            IMAGE_FILE,
            ResponseTemplate::new(status).set_body_raw(bytes, content_type),
            None,
        )
        .await;
    }

    // ---- OpenRouter image output ----

    pub async fn openrouter_image(&self, image: &[u8], cost: f64) {
        use base64::Engine;
        let data_url = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(image)
        );
        let body = json!({
            "id": "gen-image-1",
            "choices": [{"message": {"role": "assistant", "content": "", "images": [{"type": "image_url", "image_url": {"url": data_url}}]}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 1290, "cost": cost},
        });
        self.mount(CHAT, ResponseTemplate::new(200).set_body_json(body), None)
            .await;
    }

    // ---- hostile or broken answers ----

    /// A chat reply whose body is exactly `bytes` (invalid UTF-8, oversize, ...).
    pub async fn chat_raw(&self, bytes: Vec<u8>) {
        self.mount(
            CHAT,
            ResponseTemplate::new(200).set_body_raw(bytes, "application/json"),
            None,
        )
        .await;
    }

    /// The POST endpoint `at` answers `status` with `Location: location`.
    pub async fn redirect(&self, at: &str, status: u16, location: &str) {
        self.mount(
            at,
            ResponseTemplate::new(status).insert_header("location", location),
            Some(u64::MAX),
        )
        .await;
    }

    /// The image endpoint answers with `data[0].url = url`, whatever it is.
    pub async fn images_answer_url(&self, url: &str) {
        let body = json!({"created": 1, "data": [{"url": url}]});
        self.mount(IMAGES, ResponseTemplate::new(200).set_body_json(body), None)
            .await;
    }

    /// The image URL answers `status` with `Location: location` (a loop when it points
    /// back at itself).
    pub async fn image_file_redirect(&self, status: u16, location: &str) {
        self.mount(
            IMAGE_FILE,
            ResponseTemplate::new(status).insert_header("location", location),
            None,
        )
        .await;
    }

    /// The signed URL `images_url` hands out, for a test that points elsewhere.
    pub fn image_url(&self) -> String {
        format!("{}{IMAGE_FILE}?sig=SIGNED-SECRET-123", self.server.uri())
    }

    // ---- what happened ----

    pub async fn requests(&self, at: &str) -> Vec<Request> {
        let all = self.server.received_requests().await.unwrap_or_default();
        all.into_iter().filter(|r| r.url.path() == at).collect()
    }

    pub async fn count(&self, at: &str) -> usize {
        self.requests(at).await.len()
    }

    /// Forgets every mock and every recorded request.
    pub async fn reset(&self) {
        self.server.reset().await;
    }
}

/// A small valid PNG.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 7) as u8, (y * 5) as u8, 90])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}

/// An `[[artists]]` block.
pub fn artist(slug: &str, provider: &str, base_url: &str) -> String {
    format!(
        "[[artists]]\nslug = \"{slug}\"\nname = \"{slug} name\"\nprovider = \"{provider}\"\nmodel = \"model-{slug}\"\n\
         base_url = \"{base_url}\"\napi_key_env = \"{KEY_ENV}\"\ntemperature = 0.7\nmax_tokens = 500\n\
         price = {{ input_per_mtok = 1.0, output_per_mtok = 2.0 }}\n"
    )
}

/// A `[[brushes]]` block with slug `brush`.
pub fn brush(provider: &str, model: &str, base_url: &str) -> String {
    format!(
        "[[brushes]]\nslug = \"brush\"\nname = \"Mock Brush\"\nprovider = \"{provider}\"\nmodel = \"{model}\"\n\
         base_url = \"{base_url}\"\napi_key_env = \"{KEY_ENV}\"\nsize = \"1024x1024\"\n{quality}\
         price = {{ per_image = 0.04 }}\n",
        quality = if model.starts_with("gpt-image") { "quality = \"medium\"\n" } else { "" }
    )
}

/// A whole chorus.toml: quick limits so faults resolve fast, an inline prompt.
/// `limits` lines override the defaults here.
pub fn project_toml(blocks: &[String], limits: &str) -> String {
    let mut all_limits = limits.to_string();
    for (key, value) in [
        ("max_attempts", "3"),
        ("max_retry_wait_secs", "10"),
        ("request_timeout_secs", "5"),
    ] {
        if !limits.contains(key) {
            all_limits.push_str(&format!("\n{key} = {value}"));
        }
    }
    format!(
        "[defaults]\nbrush = \"brush\"\nprompt = \"p1\"\nconcurrency = 4\n\n[limits]\n{all_limits}\n\n\
         [prompts.p1]\ntext = \"Describe the painting you would make about rain.\"\n\n{}",
        blocks.join("\n")
    )
}

/// Runs the real binary off the async runtime, so the mock keeps answering.
pub async fn run(mut cmd: assert_cmd::Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("run chorus"))
        .await
        .expect("join")
}

/// A raw HTTP server on 127.0.0.1 that answers every request with `head`, then sends
/// `chunk` again and again (every `every`, or as fast as the socket takes it) until the
/// client hangs up: a reply that never ends, fast or as a slow drip. Counts connections.
pub struct EndlessServer {
    pub addr: std::net::SocketAddr,
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl EndlessServer {
    pub async fn start(
        head: &'static str,
        chunk: Vec<u8>,
        every: Option<Duration>,
    ) -> EndlessServer {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let connections = std::sync::Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let chunk = chunk.clone();
                tokio::spawn(async move {
                    // Read the request head (the body is small and ignored).
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{head}"
                    );
                    if socket.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    loop {
                        if socket.write_all(&chunk).await.is_err() {
                            return;
                        }
                        if let Some(every) = every {
                            tokio::time::sleep(every).await;
                        }
                    }
                });
            }
        });
        EndlessServer { addr, connections }
    }

    /// Base URL for OpenAI-style providers.
    pub fn v1(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A provider whose every answer depends on the request, with latency, for the crash test:
/// the chat reply's image prompt names the prompt and model it answers, the Brush's URL
/// names the image prompt, so each request can be traced to its run.
pub struct EchoProvider;

impl EchoProvider {
    pub async fn mount(m: &MockProvider, latency: Duration) {
        let uri = m.server.uri();
        Mock::given(method("POST"))
            .and(path(CHAT))
            .respond_with(move |req: &Request| {
                let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
                let prompt = body["messages"][0]["content"].as_str().unwrap_or_default();
                let model = body["model"].as_str().unwrap_or_default();
                let text = format!(
                    "===ARTIST STATEMENT===\nA statement.\n\n===FINAL IMAGE PROMPT===\n{}",
                    echo_image_prompt(prompt, model)
                );
                ResponseTemplate::new(200)
                    .set_body_json(json!({"choices": [{"message": {"content": text}}]}))
                    .set_delay(latency)
            })
            .mount(&m.server)
            .await;
        Mock::given(method("POST"))
            .and(path(IMAGES))
            .respond_with(move |req: &Request| {
                let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
                let prompt = body["prompt"].as_str().unwrap_or_default();
                let url = format!("{uri}{}", echo_file(prompt));
                ResponseTemplate::new(200)
                    .set_body_json(json!({"data": [{"url": url}]}))
                    .set_delay(latency)
            })
            .mount(&m.server)
            .await;
        let image = png(8, 8);
        Mock::given(method("GET"))
            .and(wiremock::matchers::path_regex("^/files/"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(image, "image/png")
                    .set_delay(latency / 3),
            )
            .mount(&m.server)
            .await;
    }
}

/// The image prompt `EchoProvider` answers for a prompt and a model.
pub fn echo_image_prompt(prompt: &str, model: &str) -> String {
    format!("Image for {prompt} by {model}")
}

/// The image path `EchoProvider` hands out for an image prompt.
pub fn echo_file(image_prompt: &str) -> String {
    format!("/files/{}.png", image_prompt.replace(' ', "_"))
}
