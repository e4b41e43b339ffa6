//! OpenRouter batches for chat: `POST {base}/batches` with one endpoint, one model and
//! the requests inline; `GET {base}/batches/{id}` reports the status and, once the batch
//! is finished, carries the result lines inline (OpenAI's line format). No image output.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::wire::{batch_state, id_of, openai_style_line, Endpoint};
use super::{Answer, BatchApi, BatchLine, LineResult, Phase, Progress};
use crate::config::{Artist, Limits};
use crate::generate::providers::http::Caller;
use crate::generate::providers::{
    openai_chat_body, openai_chat_reply, with_prompt, Kit, ProviderError,
};

/// OpenRouter takes up to 5,000 requests per batch, all for one model.
const MAX_REQUESTS: usize = 5_000;

pub struct OpenRouterBatch {
    base: String,
    model: String,
    body: Value,
    endpoint: Endpoint,
    limits: Limits,
}

impl OpenRouterBatch {
    pub fn new(artist: &Artist, kit: &Kit, limits: &Limits) -> OpenRouterBatch {
        let caller = Caller::artist(artist);
        let headers = caller.headers();
        OpenRouterBatch {
            base: artist.base_url().unwrap_or_default().to_string(),
            model: artist.model.clone(),
            body: openai_chat_body(artist, true),
            endpoint: Endpoint::new(kit, caller, headers),
            limits: limits.clone(),
        }
    }
}

#[async_trait::async_trait]
impl BatchApi for OpenRouterBatch {
    fn provider(&self) -> &'static str {
        "openrouter"
    }

    fn max_requests(&self) -> usize {
        MAX_REQUESTS
    }

    fn body(&self, prompt: &str, _seed: u64) -> Value {
        with_prompt(self.body.clone(), prompt)
    }

    fn params(&self) -> BTreeMap<String, Value> {
        super::body_params(&self.body)
    }

    fn parse(&self, body: &Value) -> Result<Answer, ProviderError> {
        openai_chat_reply(body, &self.endpoint.caller.label).map(Answer::Text)
    }

    async fn submit(&self, lines: &[BatchLine]) -> Result<String, ProviderError> {
        let requests: Vec<Value> = lines
            .iter()
            .map(|l| json!({ "custom_id": l.custom_id, "body": l.body }))
            .collect();
        // serde_json keeps keys sorted, so `endpoint` and `model` precede `requests`, as
        // OpenRouter's streaming parser requires.
        let created = self
            .endpoint
            .post_json(
                &format!("{}/batches", self.base),
                &json!({
                    "endpoint": "/v1/chat/completions",
                    "model": self.model,
                    "requests": requests,
                }),
            )
            .await?;
        id_of(&created, &self.endpoint.caller.label, "batch creation")
    }

    async fn poll(&self, id: &str) -> Result<Progress, ProviderError> {
        let batch = self
            .endpoint
            // A finished batch carries its results inline: room for every line.
            .get_json(
                &format!("{}/batches/{id}", self.base),
                &self.limits,
                self.endpoint.results_cap(MAX_REQUESTS as u64, false),
            )
            .await?;
        let (state, count) = batch_state(&batch, "status");
        let phase = match state.as_str() {
            "completed" | "expired" | "cancelled" => Phase::Ended,
            "failed" => Phase::Failed(format!(
                "the batch failed: {}",
                batch
                    .get("error")
                    .map(super::wire::reason)
                    .unwrap_or_else(|| "no reason given".into())
            )),
            _ => Phase::Running,
        };
        Ok(Progress {
            phase,
            total: count("total"),
            succeeded: count("completed"),
            failed: count("failed"),
            handles: json!({ "results": batch.get("results").cloned().unwrap_or(Value::Null) }),
            state,
        })
    }

    async fn results(
        &self,
        _id: &str,
        progress: &Progress,
    ) -> Result<Vec<LineResult>, ProviderError> {
        Ok(progress
            .handles
            .get("results")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(openai_style_line)
            .collect())
    }
}
