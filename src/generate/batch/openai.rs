//! The OpenAI Batch API: the lines go up as a JSONL file (`/files`, purpose `batch`), a
//! batch is created on it (`/batches`, window 24 h), polled through validating,
//! in_progress and finalizing, and read back from its output and error files. Serves
//! chat Artists (`/v1/chat/completions`) and gpt-image Brushes (`/v1/images/generations`).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::wire::{batch_state, id_of, jsonl, openai_style_line, Endpoint};
use super::{Answer, BatchApi, BatchLine, LineResult, Phase, Progress};
use crate::config::{Artist, Brush, Limits};
use crate::generate::providers::http::Caller;
use crate::generate::providers::{
    openai_chat_body, openai_chat_reply, openai_image_reply, openai_images_body, with_prompt, Kit,
    ProviderError,
};

/// OpenAI takes up to 50,000 requests per batch file.
const MAX_REQUESTS: usize = 50_000;
/// An image line's result carries the PNG as base64 (1–3 MB), and the output file is read
/// whole: small image batches keep that file, and memory, to a few hundred MB.
const MAX_IMAGE_REQUESTS: usize = 100;

enum Kind {
    Chat,
    Images,
}

pub struct OpenAiBatch {
    base: String,
    kind: Kind,
    body: Value,
    endpoint: Endpoint,
    limits: Limits,
    max_image_bytes: u64,
}

impl OpenAiBatch {
    pub fn chat(artist: &Artist, kit: &Kit, limits: &Limits) -> OpenAiBatch {
        OpenAiBatch::new(
            limits,
            artist.base_url(),
            Kind::Chat,
            openai_chat_body(artist, false),
            Caller::artist(artist),
            kit,
        )
    }

    pub fn images(brush: &Brush, kit: &Kit, limits: &Limits) -> OpenAiBatch {
        OpenAiBatch::new(
            limits,
            brush.base_url(),
            Kind::Images,
            openai_images_body(brush),
            Caller::brush(brush),
            kit,
        )
    }

    fn new(
        limits: &Limits,
        base: Option<&str>,
        kind: Kind,
        body: Value,
        caller: Caller,
        kit: &Kit,
    ) -> OpenAiBatch {
        let headers = caller.headers();
        OpenAiBatch {
            base: base.unwrap_or_default().to_string(),
            kind,
            body,
            endpoint: Endpoint::new(kit, caller, headers),
            limits: limits.clone(),
            max_image_bytes: kit.max_image_bytes,
        }
    }

    /// The path inside the batch, as OpenAI names it (always with `/v1`).
    fn url_in_batch(&self) -> &'static str {
        match self.kind {
            Kind::Chat => "/v1/chat/completions",
            Kind::Images => "/v1/images/generations",
        }
    }

    async fn file_lines(
        &self,
        file_id: &str,
        lines: u64,
    ) -> Result<Vec<LineResult>, ProviderError> {
        let images = matches!(self.kind, Kind::Images);
        let text = self
            .endpoint
            .get_text(
                &format!("{}/files/{file_id}/content", self.base),
                &self.limits,
                self.endpoint.results_cap(lines, images),
            )
            .await?;
        let (values, _) = jsonl(&text);
        Ok(values.iter().filter_map(openai_style_line).collect())
    }
}

#[async_trait::async_trait]
impl BatchApi for OpenAiBatch {
    fn provider(&self) -> &'static str {
        "openai"
    }

    fn max_requests(&self) -> usize {
        match self.kind {
            Kind::Chat => MAX_REQUESTS,
            Kind::Images => MAX_IMAGE_REQUESTS,
        }
    }

    fn body(&self, prompt: &str, _seed: u64) -> Value {
        match self.kind {
            Kind::Chat => with_prompt(self.body.clone(), prompt),
            Kind::Images => {
                let mut body = self.body.clone();
                body["prompt"] = json!(prompt);
                body
            }
        }
    }

    fn params(&self) -> BTreeMap<String, Value> {
        super::body_params(&self.body)
    }

    fn parse(&self, body: &Value) -> Result<Answer, ProviderError> {
        let label = &self.endpoint.caller.label;
        match self.kind {
            Kind::Chat => openai_chat_reply(body, label).map(Answer::Text),
            Kind::Images => {
                openai_image_reply(body, label, self.max_image_bytes).map(Answer::Image)
            }
        }
    }

    async fn submit(&self, lines: &[BatchLine]) -> Result<String, ProviderError> {
        let mut file = Vec::new();
        for line in lines {
            let entry = json!({
                "custom_id": line.custom_id,
                "method": "POST",
                "url": self.url_in_batch(),
                "body": line.body,
            });
            file.extend_from_slice(entry.to_string().as_bytes());
            file.push(b'\n');
        }
        let uploaded = self
            .endpoint
            .post_file(
                &format!("{}/files", self.base),
                &[("purpose", "batch")],
                "chorus-batch.jsonl",
                file,
            )
            .await?;
        let file_id = id_of(&uploaded, &self.endpoint.caller.label, "file upload")?;
        let created = self
            .endpoint
            .post_json(
                &format!("{}/batches", self.base),
                &json!({
                    "input_file_id": file_id,
                    "endpoint": self.url_in_batch(),
                    "completion_window": "24h",
                    "metadata": { "created_by": "chorus" },
                }),
            )
            .await?;
        id_of(&created, &self.endpoint.caller.label, "batch creation")
    }

    async fn poll(&self, id: &str) -> Result<Progress, ProviderError> {
        let batch = self
            .endpoint
            .get_json(
                &format!("{}/batches/{id}", self.base),
                &self.limits,
                self.endpoint.reply_cap(),
            )
            .await?;
        let (state, count) = batch_state(&batch, "status");
        let phase = match state.as_str() {
            "completed" | "expired" | "cancelled" => Phase::Ended,
            "failed" => Phase::Failed(validation_errors(&batch)),
            _ => Phase::Running,
        };
        Ok(Progress {
            phase,
            total: count("total"),
            succeeded: count("completed"),
            failed: count("failed"),
            handles: json!({
                "output": batch.get("output_file_id").cloned().unwrap_or(Value::Null),
                "errors": batch.get("error_file_id").cloned().unwrap_or(Value::Null),
            }),
            state,
        })
    }

    async fn results(
        &self,
        _id: &str,
        progress: &Progress,
    ) -> Result<Vec<LineResult>, ProviderError> {
        let mut all = Vec::new();
        for handle in ["output", "errors"] {
            if let Some(file_id) = progress.handles.get(handle).and_then(Value::as_str) {
                all.extend(self.file_lines(file_id, progress.total).await?);
            }
        }
        Ok(all)
    }
}

/// A batch that failed validation says why in `errors.data[]`.
fn validation_errors(batch: &Value) -> String {
    let found: Vec<String> = batch
        .pointer("/errors/data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| {
            let line = e.get("line").and_then(Value::as_u64);
            let text = super::wire::reason(e);
            match line {
                Some(n) => format!("line {n}: {text}"),
                None => text,
            }
        })
        .collect();
    if found.is_empty() {
        "the batch failed (the provider gave no reason)".to_string()
    } else {
        format!("the batch failed validation: {}", found.join("; "))
    }
}
