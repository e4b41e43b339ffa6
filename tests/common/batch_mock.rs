//! Mock Batch APIs on 127.0.0.1: OpenAI (file upload, batches, output and error files),
//! Anthropic Message Batches and OpenRouter batches. Each remembers the custom_ids it was
//! sent, walks its batches through the statuses a test scripts (one per poll, the last
//! repeating), and answers every line: some expired, optionally one line for a custom_id
//! nobody sent. Results come back in reverse order, as no provider promises any order.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use wiremock::matchers::path_regex;
use wiremock::{Mock, Request, Respond, ResponseTemplate};

use super::mock::{MockProvider, REPLY};

/// How a mock batch behaves.
#[derive(Debug, Clone)]
pub struct Script {
    /// The status each poll reports in turn; the last one repeats.
    pub polls: Vec<&'static str>,
    /// How many lines (the first submitted) come back expired.
    pub expire: usize,
    /// Add a result line for a custom_id that was never sent.
    pub unknown_line: bool,
    /// The batch fails validation (OpenAI) or as a whole (OpenRouter).
    pub fail: bool,
    /// The PNG gpt-image lines answer with.
    pub image: Vec<u8>,
    /// What every chat line answers.
    pub reply: String,
}

impl Script {
    pub fn polls(polls: &[&'static str]) -> Script {
        Script {
            polls: polls.to_vec(),
            expire: 0,
            unknown_line: false,
            fail: false,
            image: super::mock::png(8, 8),
            reply: REPLY.to_string(),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
pub enum Api {
    OpenAi,
    Anthropic,
    OpenRouter,
}

#[derive(Default)]
struct Batch {
    ids: Vec<String>,
    images: bool,
    polls: usize,
}

#[derive(Default)]
struct State {
    /// OpenAI: uploaded files (custom_ids, whether they are image requests).
    files: Vec<(Vec<String>, bool)>,
    batches: Vec<Batch>,
}

#[derive(Clone)]
struct Lifecycle {
    api: Api,
    script: Script,
    state: Arc<Mutex<State>>,
}

pub const UNKNOWN_ID: &str = "00000000-0000-0000-0000-000000000000_artist";

fn chat_body(reply: &str) -> Value {
    json!({
        "id": "chatcmpl-batch",
        "model": super::mock::ANSWERED_SNAPSHOT,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 80},
    })
}

fn message_body(reply: &str) -> Value {
    json!({
        "id": "msg_batch",
        "type": "message",
        "content": [{"type": "text", "text": reply}],
        "usage": {"input_tokens": 100, "output_tokens": 60},
    })
}

impl Lifecycle {
    fn status(&self, batch: &mut Batch) -> &'static str {
        let s = self.script.polls[batch.polls.min(self.script.polls.len() - 1)];
        batch.polls += 1;
        s
    }

    /// Every line of a finished batch, reversed; `ok` says which part to give.
    fn lines(&self, batch: &Batch, ok: Option<bool>) -> Vec<Value> {
        let mut out = Vec::new();
        for (i, id) in batch.ids.iter().enumerate() {
            let expired = i < self.script.expire;
            if ok.is_some_and(|want_ok| want_ok == expired) {
                continue;
            }
            out.push(self.line(id, expired, batch.images));
        }
        if self.script.unknown_line && ok != Some(false) {
            out.push(self.line(UNKNOWN_ID, false, batch.images));
        }
        out.reverse();
        out
    }

    fn line(&self, id: &str, expired: bool, images: bool) -> Value {
        use base64::Engine;
        match (self.api, expired) {
            (Api::Anthropic, true) => json!({"custom_id": id, "result": {"type": "expired"}}),
            (Api::Anthropic, false) => {
                json!({"custom_id": id, "result": {"type": "succeeded", "message": message_body(&self.script.reply)}})
            }
            (_, true) => json!({
                "id": "batch_req_x", "custom_id": id, "response": null,
                "error": {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."},
            }),
            (_, false) => {
                let body = if images {
                    let b64 = base64::engine::general_purpose::STANDARD.encode(&self.script.image);
                    json!({"created": 1, "data": [{"b64_json": b64}]})
                } else {
                    chat_body(&self.script.reply)
                };
                json!({"id": "batch_req_y", "custom_id": id, "response": {"status_code": 200, "request_id": "req-b", "body": body}, "error": null})
            }
        }
    }

    fn counts(&self, batch: &Batch, finished: bool) -> Value {
        let n = batch.ids.len() as u64;
        let expired = self.script.expire.min(batch.ids.len()) as u64;
        if !finished {
            return json!({"total": n, "completed": 0, "failed": 0});
        }
        json!({"total": n, "completed": n - expired, "failed": expired})
    }
}

fn jsonl(lines: &[Value]) -> ResponseTemplate {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    ResponseTemplate::new(200).set_body_raw(text, "application/jsonl")
}

fn index(path: &str, prefix: &str) -> Option<usize> {
    let rest = path.strip_prefix(prefix)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse::<usize>().ok()?.checked_sub(1)
}

impl Respond for Lifecycle {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut state = self.state.lock().unwrap();
        let path = req.url.path().to_string();
        let post = req.method.as_str() == "POST";
        let body_text = String::from_utf8_lossy(&req.body).into_owned();
        match self.api {
            Api::OpenAi => {
                if post && path == "/v1/files" {
                    // The JSONL file part: every line that parses as JSON is a request.
                    let lines: Vec<Value> = body_text
                        .lines()
                        .filter_map(|l| serde_json::from_str(l.trim()).ok())
                        .collect();
                    let ids = lines
                        .iter()
                        .filter_map(|l| l["custom_id"].as_str().map(str::to_string))
                        .collect();
                    let images = lines.iter().any(|l| l["url"] == "/v1/images/generations");
                    state.files.push((ids, images));
                    let id = format!("file-in-{}", state.files.len());
                    return ResponseTemplate::new(200)
                        .set_body_json(json!({"id": id, "object": "file", "purpose": "batch"}));
                }
                if post && path == "/v1/batches" {
                    let body: Value = serde_json::from_str(&body_text).unwrap_or_default();
                    let Some(file) = body["input_file_id"]
                        .as_str()
                        .and_then(|f| index(f, "file-in-"))
                    else {
                        return ResponseTemplate::new(400)
                            .set_body_json(json!({"error": {"message": "no input_file_id"}}));
                    };
                    let (ids, images) = state.files[file].clone();
                    state.batches.push(Batch {
                        ids,
                        images,
                        polls: 0,
                    });
                    let id = format!("batch_{}", state.batches.len());
                    return ResponseTemplate::new(200).set_body_json(
                        json!({"id": id, "object": "batch", "status": "validating"}),
                    );
                }
                if let Some(n) = index(&path, "/v1/batches/batch_") {
                    let fail = self.script.fail;
                    let batch = &mut state.batches[n];
                    let status = self.status(batch);
                    let finished = matches!(status, "completed" | "expired" | "cancelled");
                    let mut reply = json!({
                        "id": format!("batch_{}", n + 1), "object": "batch", "status": status,
                        "request_counts": self.counts(batch, finished),
                        "output_file_id": null, "error_file_id": null,
                    });
                    if finished {
                        reply["output_file_id"] = json!(format!("file-out-{}", n + 1));
                        if self.script.expire > 0 {
                            reply["error_file_id"] = json!(format!("file-err-{}", n + 1));
                        }
                    }
                    if fail && status == "failed" {
                        reply["errors"] = json!({"object": "list", "data": [{"code": "invalid_request", "line": 1, "message": "Model 'model-a' is not supported by the Batch API."}]});
                    }
                    return ResponseTemplate::new(200).set_body_json(reply);
                }
                if let Some(n) = index(&path, "/v1/files/file-out-") {
                    return jsonl(&self.lines(&state.batches[n], Some(true)));
                }
                if let Some(n) = index(&path, "/v1/files/file-err-") {
                    return jsonl(&self.lines(&state.batches[n], Some(false)));
                }
            }
            Api::Anthropic => {
                if post && path == "/v1/messages/batches" {
                    let body: Value = serde_json::from_str(&body_text).unwrap_or_default();
                    let ids = body["requests"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| r["custom_id"].as_str().map(str::to_string))
                        .collect();
                    state.batches.push(Batch {
                        ids,
                        images: false,
                        polls: 0,
                    });
                    let id = format!("msgbatch_{}", state.batches.len());
                    return ResponseTemplate::new(200).set_body_json(json!({"id": id, "type": "message_batch", "processing_status": "in_progress"}));
                }
                if let Some(n) = index(&path, "/v1/messages/batches/msgbatch_") {
                    if path.ends_with("/results") {
                        return jsonl(&self.lines(&state.batches[n], None));
                    }
                    let batch = &mut state.batches[n];
                    let status = self.status(batch);
                    let total = batch.ids.len() as u64;
                    let expired = self.script.expire.min(batch.ids.len()) as u64;
                    let counts = if status == "ended" {
                        json!({"processing": 0, "succeeded": total - expired, "errored": 0, "canceled": 0, "expired": expired})
                    } else {
                        json!({"processing": total, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0})
                    };
                    return ResponseTemplate::new(200).set_body_json(json!({
                        "id": format!("msgbatch_{}", n + 1), "type": "message_batch",
                        "processing_status": status, "request_counts": counts,
                        "results_url": if status == "ended" { json!("https://elsewhere.invalid/results") } else { Value::Null },
                    }));
                }
            }
            Api::OpenRouter => {
                if post && path == "/v1/batches" {
                    let body: Value = serde_json::from_str(&body_text).unwrap_or_default();
                    let ids = body["requests"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| r["custom_id"].as_str().map(str::to_string))
                        .collect();
                    state.batches.push(Batch {
                        ids,
                        images: false,
                        polls: 0,
                    });
                    let id = format!("orb_{}", state.batches.len());
                    return ResponseTemplate::new(202).set_body_json(
                        json!({"id": id, "object": "batch", "status": "validating"}),
                    );
                }
                if let Some(n) = index(&path, "/v1/batches/orb_") {
                    let fail = self.script.fail;
                    let batch = &mut state.batches[n];
                    let status = self.status(batch);
                    let finished = matches!(status, "completed" | "expired" | "cancelled");
                    let mut reply = json!({
                        "id": format!("orb_{}", n + 1), "object": "batch", "status": status,
                        "request_counts": self.counts(batch, finished), "results": null, "error": null,
                    });
                    if finished {
                        reply["results"] = json!(self.lines(batch, None));
                    }
                    if fail && status == "failed" {
                        reply["error"] = json!({"message": "model does not support batches"});
                    }
                    return ResponseTemplate::new(200).set_body_json(reply);
                }
            }
        }
        ResponseTemplate::new(404)
            .set_body_json(json!({"error": {"message": format!("mock: no route for {path}")}}))
    }
}

/// Mounts the scripted Batch API of `api` on the mock.
pub async fn mount(m: &MockProvider, api: Api, script: Script) {
    let routes = match api {
        Api::OpenAi => r"^/v1/(files|batches)",
        Api::Anthropic => r"^/v1/messages/batches",
        Api::OpenRouter => r"^/v1/batches",
    };
    Mock::given(path_regex(routes))
        .respond_with(Lifecycle {
            api,
            script,
            state: Arc::default(),
        })
        .mount(&m.server)
        .await;
}

/// Requests to paths matching `method` and `prefix`.
pub async fn count(m: &MockProvider, method: &str, prefix: &str) -> usize {
    let all = m.server.received_requests().await.unwrap_or_default();
    all.iter()
        .filter(|r| r.method.as_str() == method && r.url.path().starts_with(prefix))
        .count()
}
