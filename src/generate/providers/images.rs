//! Brushes over HTTP: the OpenAI Images API (gpt-image models answer `b64_json`; the
//! retired dall-e models answered a short-lived `url`) and OpenRouter image output (chat completions with
//! `modalities`, images as data URLs). They return where the image is, as the provider
//! said it; the batch records that answer, then downloads, validates and stores the image.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{json, Value};

use super::fault::Fault;
use super::http::{Caller, JsonCall};
use super::{BrushProvider, BrushReply, BrushRequest, ImageSource, Kit, ProviderError};
use crate::config::{Brush, ImageFamily};

/// `{base_url}/images/generations`.
pub struct OpenAiImages(JsonCall);

impl OpenAiImages {
    pub fn new(brush: &Brush, kit: Kit) -> OpenAiImages {
        OpenAiImages(brush_call(
            brush,
            "/images/generations",
            openai_images_body(brush),
            kit,
        ))
    }
}

fn brush_call(brush: &Brush, path: &str, body: Value, kit: Kit) -> JsonCall {
    JsonCall {
        url: format!("{}{path}", brush.base_url().unwrap_or_default()),
        caller: Caller::brush(brush),
        body,
        kit,
    }
}

/// The Images request minus the prompt, as the direct call and a batch line send it.
pub fn openai_images_body(brush: &Brush) -> Value {
    let mut body = json!({ "model": brush.model, "n": 1 });
    if let Some(size) = &brush.size {
        body["size"] = json!(size);
    }
    if let Some(quality) = &brush.quality {
        body["quality"] = json!(quality);
    }
    // gpt-image-* always answers b64_json and refuses `response_format`; it takes
    // `output_format` (and, for jpeg and webp, `output_compression`) instead. Config
    // validation refuses the parameters a family does not take.
    if ImageFamily::of(&brush.model) == Some(ImageFamily::GptImage) {
        body["output_format"] = json!(brush.output_format.as_deref().unwrap_or("png"));
        if let Some(c) = brush.output_compression {
            body["output_compression"] = json!(c);
        }
    }
    if let Some(r) = &brush.response_format {
        body["response_format"] = json!(r);
    }
    body
}

#[async_trait::async_trait]
impl BrushProvider for OpenAiImages {
    fn params(&self) -> BTreeMap<String, Value> {
        self.0.params()
    }

    async fn paint(&self, request: &BrushRequest) -> Result<BrushReply, ProviderError> {
        let call = &self.0;
        let mut body = call.body.clone();
        body["prompt"] = json!(request.image_prompt);
        let reply = call.send(&body, call.kit.image_reply_cap()).await?;
        let mut answer =
            openai_image_reply(&reply.body, &call.caller.label, call.kit.max_image_bytes)?;
        answer.request_id = reply.request_id;
        Ok(answer)
    }
}

/// Reads an Images body: `data[0].b64_json` (gpt-image) or `data[0].url` (dall-e).
pub fn openai_image_reply(
    body: &Value,
    label: &str,
    max_image_bytes: u64,
) -> Result<BrushReply, ProviderError> {
    let item = body.pointer("/data/0");
    let image = if let Some(b64) = item.and_then(|i| i.get("b64_json")).and_then(Value::as_str) {
        ImageSource::Bytes(decode_base64(b64, label, max_image_bytes)?)
    } else if let Some(url) = item.and_then(|i| i.get("url")).and_then(Value::as_str) {
        ImageSource::Url(url.to_string())
    } else {
        return Err(Fault::BadReply.error(format!(
            "{label}: the reply has neither data[0].url nor data[0].b64_json"
        )));
    };
    Ok(BrushReply {
        image,
        revised_prompt: item
            .and_then(|i| i.get("revised_prompt"))
            .and_then(Value::as_str)
            .map(str::to_string),
        cost_usd: None,
        request_id: None,
        // The Images API names no model today; a compatible server may.
        model: super::answered_model(body),
    })
}

/// OpenRouter image output: `{base_url}/chat/completions` with `modalities: ["image","text"]`.
pub struct OpenRouterImages(JsonCall);

impl OpenRouterImages {
    pub fn new(brush: &Brush, kit: Kit) -> OpenRouterImages {
        let body = json!({
            "model": brush.model,
            "modalities": ["image", "text"],
            "usage": { "include": true },
        });
        OpenRouterImages(brush_call(brush, "/chat/completions", body, kit))
    }
}

#[async_trait::async_trait]
impl BrushProvider for OpenRouterImages {
    fn params(&self) -> BTreeMap<String, Value> {
        self.0.params()
    }

    async fn paint(&self, request: &BrushRequest) -> Result<BrushReply, ProviderError> {
        let call = &self.0;
        let body = super::chat::with_prompt(call.body.clone(), &request.image_prompt);
        let reply = call.send(&body, call.kit.image_reply_cap()).await?;
        let url = reply
            .body
            .pointer("/choices/0/message/images/0/image_url/url")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Fault::BadReply.error(format!(
                    "{}: the reply has no image in choices[0].message.images[]; is {:?} an image model?",
                    call.caller.label,
                    call.body["model"].as_str().unwrap_or_default()
                ))
            })?;
        // Usually a data URL; the download stage decides what it accepts.
        let image = ImageSource::Url(url.to_string());
        let revised = reply
            .body
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .map(str::trim);
        Ok(BrushReply {
            image,
            revised_prompt: revised.filter(|t| !t.is_empty()).map(str::to_string),
            cost_usd: reply.body.pointer("/usage/cost").and_then(Value::as_f64),
            model: super::answered_model(&reply.body),
            request_id: reply.request_id,
        })
    }
}

/// Decodes base64 image bytes, refusing before decoding when the result would pass
/// `max_bytes` (every 4 characters make 3 bytes).
pub fn decode_base64(b64: &str, who: &str, max_bytes: u64) -> Result<Vec<u8>, ProviderError> {
    let b64 = b64.trim();
    if (b64.len() as u64 / 4).saturating_mul(3) > max_bytes {
        return Err(Fault::TooLarge.error(format!(
            "{who}: the image is larger than limits.max_image_bytes ({max_bytes} bytes); raise the limit in chorus.toml to accept it"
        )));
    }
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| Fault::BadReply.error(format!("{who}: the image is not valid base64 ({e})")))
}
