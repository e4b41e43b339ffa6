//! Artists over HTTP: OpenAI-compatible chat completions (OpenAI, OpenRouter, Mistral,
//! Ollama, llama.cpp, vLLM) and Anthropic Messages. Each turns one prompt into one reply
//! with tokens, cost and request id; neither retries (the batch does) nor writes files.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::fault::Fault;
use super::http::{Caller, JsonCall};
use super::{ArtistProvider, ArtistReply, ArtistRequest, Kit, ProviderError};
use crate::config::Artist;
use crate::store::Tokens;

/// Anthropic refuses a request without `max_tokens`; this is used when config gives none.
pub const ANTHROPIC_DEFAULT_MAX_TOKENS: u32 = 1024;

/// `{base_url}/chat/completions` with an optional Bearer key.
pub struct OpenAiChat(JsonCall);

impl OpenAiChat {
    pub fn new(artist: &Artist, openrouter: bool, kit: Kit) -> OpenAiChat {
        OpenAiChat(artist_call(
            artist,
            "/chat/completions",
            openai_chat_body(artist, openrouter),
            kit,
        ))
    }
}

fn artist_call(artist: &Artist, path: &str, body: Value, kit: Kit) -> JsonCall {
    JsonCall {
        url: format!("{}{path}", artist.base_url().unwrap_or_default()),
        caller: Caller::artist(artist),
        body,
        kit,
    }
}

/// The chat request minus the conversation, as the direct call and a batch line send it.
pub fn openai_chat_body(artist: &Artist, openrouter: bool) -> Value {
    let mut body = json!({ "model": artist.model });
    if let Some(t) = artist.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(m) = artist.max_tokens {
        body["max_tokens"] = json!(m);
    }
    if openrouter {
        // Asks OpenRouter to report what the call cost in `usage.cost`.
        body["usage"] = json!({ "include": true });
    }
    body
}

/// Sends the prompt as the one user message and reads the answer with `read`.
async fn ask(
    call: &JsonCall,
    request: &ArtistRequest,
    read: fn(&Value, &str) -> Result<ArtistReply, ProviderError>,
) -> Result<ArtistReply, ProviderError> {
    let body = with_prompt(call.body.clone(), &request.prompt);
    let reply = call.send(&body, call.kit.chat_cap()).await?;
    let mut answer = read(&reply.body, &call.caller.label)?;
    answer.request_id = reply.request_id;
    answer.warnings = reply.warnings;
    Ok(answer)
}

/// The body with the one user message that carries the prompt.
pub fn with_prompt(mut body: Value, prompt: &str) -> Value {
    body["messages"] = json!([{ "role": "user", "content": prompt }]);
    body
}

#[async_trait::async_trait]
impl ArtistProvider for OpenAiChat {
    fn params(&self) -> BTreeMap<String, Value> {
        self.0.params()
    }

    async fn write(&self, request: &ArtistRequest) -> Result<ArtistReply, ProviderError> {
        ask(&self.0, request, openai_chat_reply).await
    }
}

/// Reads a chat completion body: the text, usage and (OpenRouter) the reported cost.
pub fn openai_chat_reply(body: &Value, label: &str) -> Result<ArtistReply, ProviderError> {
    let text = message_text(body).ok_or_else(|| {
        Fault::BadReply.error(format!(
            "{label}: the reply has no text in choices[0].message.content"
        ))
    })?;
    let usage = body.get("usage");
    let tokens = usage.and_then(|u| {
        Some(Tokens {
            input: u.get("prompt_tokens")?.as_u64()?,
            output: u.get("completion_tokens")?.as_u64()?,
        })
    });
    let cost_usd = usage.and_then(|u| u.get("cost")).and_then(Value::as_f64);
    Ok(ArtistReply {
        text,
        tokens,
        cost_usd,
        request_id: body.get("id").and_then(Value::as_str).map(str::to_string),
        warnings: Vec::new(),
        model: super::answered_model(body),
    })
}

/// `content` is a string, or (some servers) an array of `{type: "text", text}` parts.
fn message_text(body: &Value) -> Option<String> {
    let content = body.pointer("/choices/0/message/content")?;
    match content {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => {
            let text: Vec<&str> = parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect();
            (!text.is_empty()).then(|| text.join(""))
        }
        _ => None,
    }
}

/// `{base_url}/v1/messages` with `x-api-key` and a pinned `anthropic-version`.
pub struct AnthropicMessages(JsonCall);

impl AnthropicMessages {
    pub fn new(artist: &Artist, kit: Kit) -> AnthropicMessages {
        AnthropicMessages(artist_call(
            artist,
            "/v1/messages",
            anthropic_body(artist),
            kit,
        ))
    }
}

/// The Messages request minus the conversation.
pub fn anthropic_body(artist: &Artist) -> Value {
    let mut body = json!({
        "model": artist.model,
        "max_tokens": artist.max_tokens.unwrap_or(ANTHROPIC_DEFAULT_MAX_TOKENS),
    });
    if let Some(t) = artist.temperature {
        // Anthropic accepts 0..=1; config allows up to 2 for OpenAI-style models.
        body["temperature"] = json!(t.min(1.0));
    }
    body
}

#[async_trait::async_trait]
impl ArtistProvider for AnthropicMessages {
    fn params(&self) -> BTreeMap<String, Value> {
        self.0.params()
    }

    async fn write(&self, request: &ArtistRequest) -> Result<ArtistReply, ProviderError> {
        ask(&self.0, request, anthropic_reply).await
    }
}

/// Reads a Messages body: the text blocks joined, and usage.
pub fn anthropic_reply(body: &Value, label: &str) -> Result<ArtistReply, ProviderError> {
    let blocks = body.get("content").and_then(Value::as_array);
    let text: Vec<&str> = blocks
        .into_iter()
        .flatten()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    if text.is_empty() {
        return Err(
            Fault::BadReply.error(format!("{label}: the reply has no text block in content[]"))
        );
    }
    let tokens = body.get("usage").and_then(|u| {
        Some(Tokens {
            input: u.get("input_tokens")?.as_u64()?,
            output: u.get("output_tokens")?.as_u64()?,
        })
    });
    Ok(ArtistReply {
        text: text.join("\n"),
        tokens,
        cost_usd: None,
        request_id: body.get("id").and_then(Value::as_str).map(str::to_string),
        warnings: Vec::new(),
        model: super::answered_model(body),
    })
}

/// The request body minus the conversation: what the run's meta records as "sent".
pub(super) fn params_of(body: &Value) -> BTreeMap<String, Value> {
    body.as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| *k != "messages" && *k != "prompt")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_as_string_or_parts() {
        let s = json!({"choices":[{"message":{"content":"hi"}}]});
        assert_eq!(message_text(&s).as_deref(), Some("hi"));
        let parts = json!({"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}}]});
        assert_eq!(message_text(&parts).as_deref(), Some("ab"));
        assert_eq!(message_text(&json!({"choices":[]})), None);
    }
}
