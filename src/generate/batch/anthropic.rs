//! Anthropic Message Batches: `POST /v1/messages/batches` with `{requests: [{custom_id,
//! params}]}`, polled until `processing_status` is `ended`, results read as JSONL (in no
//! particular order) from the batch's `/results`. chorus builds that URL from the
//! configured base rather than following `results_url`, so the key only ever goes to the
//! host the user configured.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::wire::{batch_state, id_of, jsonl, reason, Endpoint};
use super::{Answer, BatchApi, BatchLine, LineResult, Phase, Progress};
use crate::config::{Artist, Limits};
use crate::generate::providers::http::Caller;
use crate::generate::providers::{
    anthropic_body, anthropic_reply, with_prompt, Kit, ProviderError,
};

/// Anthropic takes up to 100,000 requests per batch.
const MAX_REQUESTS: usize = 100_000;

pub struct AnthropicBatch {
    base: String,
    body: Value,
    endpoint: Endpoint,
    limits: Limits,
}

impl AnthropicBatch {
    pub fn new(artist: &Artist, kit: &Kit, limits: &Limits) -> AnthropicBatch {
        let caller = Caller::artist(artist);
        let headers = caller.headers();
        AnthropicBatch {
            base: artist.base_url().unwrap_or_default().to_string(),
            body: anthropic_body(artist),
            endpoint: Endpoint::new(kit, caller, headers),
            limits: limits.clone(),
        }
    }

    fn batches(&self) -> String {
        format!("{}/v1/messages/batches", self.base)
    }
}

#[async_trait::async_trait]
impl BatchApi for AnthropicBatch {
    fn provider(&self) -> &'static str {
        "anthropic"
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
        anthropic_reply(body, &self.endpoint.caller.label).map(Answer::Text)
    }

    async fn submit(&self, lines: &[BatchLine]) -> Result<String, ProviderError> {
        let requests: Vec<Value> = lines
            .iter()
            .map(|l| json!({ "custom_id": l.custom_id, "params": l.body }))
            .collect();
        let created = self
            .endpoint
            .post_json(&self.batches(), &json!({ "requests": requests }))
            .await?;
        id_of(&created, &self.endpoint.caller.label, "batch creation")
    }

    async fn poll(&self, id: &str) -> Result<Progress, ProviderError> {
        let batch = self
            .endpoint
            .get_json(
                &format!("{}/{id}", self.batches()),
                &self.limits,
                self.endpoint.reply_cap(),
            )
            .await?;
        let (state, count) = batch_state(&batch, "processing_status");
        let failed = count("errored") + count("canceled") + count("expired");
        Ok(Progress {
            phase: if state == "ended" {
                Phase::Ended
            } else {
                Phase::Running
            },
            total: count("processing") + count("succeeded") + failed,
            succeeded: count("succeeded"),
            failed,
            handles: Value::Null,
            state,
        })
    }

    async fn results(
        &self,
        id: &str,
        progress: &Progress,
    ) -> Result<Vec<LineResult>, ProviderError> {
        let text = self
            .endpoint
            .get_text(
                &format!("{}/{id}/results", self.batches()),
                &self.limits,
                self.endpoint.results_cap(progress.total, false),
            )
            .await?;
        let (values, _) = jsonl(&text);
        Ok(values.iter().filter_map(result_line).collect())
    }
}

/// `{custom_id, result: {type: succeeded | errored | canceled | expired, ...}}`.
fn result_line(line: &Value) -> Option<LineResult> {
    let custom_id = line.get("custom_id")?.as_str()?.to_string();
    let result = line.get("result")?;
    let kind = result
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let outcome = match kind {
        "succeeded" => result
            .get("message")
            .cloned()
            .ok_or_else(|| "succeeded, but the line has no message".to_string()),
        "errored" => Err(format!(
            "errored: {}",
            result
                .get("error")
                .map(reason)
                .unwrap_or_else(|| "no reason given".into())
        )),
        "expired" => Err("expired: the batch's 24 h window ended before this request ran".into()),
        "canceled" => Err("canceled: the batch was cancelled before this request ran".into()),
        other => Err(format!("result type {other:?}")),
    };
    Some(LineResult { custom_id, outcome })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_types() {
        let ok =
            json!({"custom_id": "a", "result": {"type": "succeeded", "message": {"content": []}}});
        assert!(result_line(&ok).unwrap().outcome.is_ok());
        let err = json!({"custom_id": "b", "result": {"type": "errored", "error": {"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens too large"}}}});
        let why = result_line(&err).unwrap().outcome.unwrap_err();
        assert!(why.contains("max_tokens too large"), "{why}");
        let expired = json!({"custom_id": "c", "result": {"type": "expired"}});
        assert!(result_line(&expired)
            .unwrap()
            .outcome
            .unwrap_err()
            .starts_with("expired"));
    }
}
