//! HTTP for the Batch APIs: JSON, JSONL and multipart over the shared client (which never
//! follows a redirect), bodies read with the one capped reader and errors classified the
//! one way of `providers::http`. Reads (polls, result files) are retried
//! like any call; creating a batch is sent once, since a retry could pay twice.

use std::time::Duration;

use serde_json::Value;

use crate::config::Limits;
use crate::generate::providers::http::{
    classify, read_body, too_large, transport_error, Caller, Cap,
};
use crate::generate::providers::{Kit, ProviderError};
use crate::generate::retry::{with_retries, Stop};
use crate::generate::throttle::Gate;

/// Error bodies are read only this far: the message shown is short anyway.
const ERROR_BODY_BYTES: u64 = 64 * 1024;

/// One provider endpoint with its key headers.
pub struct Endpoint {
    pub client: reqwest::Client,
    pub timeout: Duration,
    /// `limits.max_reply_bytes`: the most one reply (or one result line) may hold.
    pub max_reply_bytes: u64,
    /// The most one image result line may hold: an image as base64 plus its JSON.
    pub max_image_line_bytes: u64,
    pub caller: Caller,
    /// Headers every call sends (auth, API version); never logged or stored.
    pub headers: Vec<(&'static str, String)>,
}

impl Endpoint {
    pub fn new(kit: &Kit, caller: Caller, headers: Vec<(&'static str, String)>) -> Endpoint {
        Endpoint {
            client: kit.client.clone(),
            timeout: kit.timeout,
            max_reply_bytes: kit.max_reply_bytes,
            max_image_line_bytes: kit.image_reply_cap().bytes,
            caller,
            headers,
        }
    }

    /// The cap for a reply: one JSON object.
    pub fn reply_cap(&self) -> Cap {
        Cap {
            bytes: self.max_reply_bytes,
            limit: "limits.max_reply_bytes",
        }
    }

    /// The cap for a results file of `lines` lines.
    pub fn results_cap(&self, lines: u64, images: bool) -> Cap {
        let per_line = if images {
            self.max_image_line_bytes
        } else {
            self.max_reply_bytes
        };
        Cap {
            bytes: per_line
                .saturating_mul(lines.max(1))
                .saturating_add(self.max_reply_bytes),
            limit: "limits.max_reply_bytes per result line",
        }
    }

    fn with_headers(&self, mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        for (name, value) in &self.headers {
            request = request.header(*name, value);
        }
        request.timeout(self.timeout)
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        cap: Cap,
    ) -> Result<String, ProviderError> {
        let response = self
            .with_headers(request)
            .send()
            .await
            .map_err(|e| transport_error(e, self.timeout, &self.caller))?;
        let status = response.status().as_u16();
        let success = (200..300).contains(&status);
        let body = read_body(response, if success { cap.bytes } else { ERROR_BODY_BYTES })
            .await
            .map_err(|e| transport_error(e, self.timeout, &self.caller))?;
        if success && !body.complete {
            return Err(too_large(&self.caller.label, "the batch API's reply", cap));
        }
        let text = String::from_utf8_lossy(&body.bytes).into_owned();
        if success {
            Ok(text)
        } else {
            Err(classify(status, &text, None, &self.caller))
        }
    }

    fn json(&self, text: &str) -> Result<Value, ProviderError> {
        serde_json::from_str(text).map_err(|e| ProviderError::Fatal {
            reason: format!(
                "{}: the batch API's reply is not JSON ({e})",
                self.caller.label
            ),
        })
    }

    /// GET, retried on transient failures within `[limits]`, read up to `cap`.
    pub async fn get_text(
        &self,
        url: &str,
        limits: &Limits,
        cap: Cap,
    ) -> Result<String, ProviderError> {
        let (result, _) = with_retries(
            limits,
            &Gate::default(),
            &Stop::default(),
            &|_, _, _| {},
            || self.send(self.client.get(url), cap),
        )
        .await;
        result
    }

    pub async fn get_json(
        &self,
        url: &str,
        limits: &Limits,
        cap: Cap,
    ) -> Result<Value, ProviderError> {
        let text = self.get_text(url, limits, cap).await?;
        self.json(&text)
    }

    /// POST JSON once.
    pub async fn post_json(&self, url: &str, body: &Value) -> Result<Value, ProviderError> {
        let text = self
            .send(self.client.post(url).json(body), self.reply_cap())
            .await?;
        self.json(&text)
    }

    /// POST a multipart form once: text fields, then one file part.
    pub async fn post_file(
        &self,
        url: &str,
        fields: &[(&str, &str)],
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Result<Value, ProviderError> {
        let boundary = format!("chorus-{}", uuid::Uuid::new_v4().simple());
        let body = multipart(&boundary, fields, file_name, &bytes);
        let request = self
            .client
            .post(url)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        let text = self.send(request, self.reply_cap()).await?;
        self.json(&text)
    }
}

/// A multipart/form-data body (RFC 7578). Field values and the file name are ours, never
/// a provider's, so they need no escaping beyond what they already avoid.
fn multipart(boundary: &str, fields: &[(&str, &str)], file_name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 512);
    for (name, value) in fields {
        out.extend_from_slice(
            format!(
                "--{boundary}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    out.extend_from_slice(
        format!(
            "--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
             content-type: application/jsonl\r\n\r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(bytes);
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

/// The `id` a creation reply carries (a batch, an uploaded file).
pub fn id_of(reply: &Value, label: &str, what: &str) -> Result<String, ProviderError> {
    reply
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ProviderError::Fatal {
            reason: format!("{label}: the {what} reply has no id"),
        })
}

/// What a batch object's `state_key` says, and a reader of its `request_counts`.
pub fn batch_state<'a>(batch: &'a Value, state_key: &str) -> (String, impl Fn(&str) -> u64 + 'a) {
    let state = batch
        .get(state_key)
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string();
    let count = move |k: &str| {
        batch
            .get("request_counts")
            .and_then(|c| c.get(k))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    (state, count)
}

/// JSONL lines as values; a line that is not JSON is skipped and counted.
pub fn jsonl(text: &str) -> (Vec<Value>, usize) {
    let mut bad = 0;
    let values = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let v = serde_json::from_str(l).ok();
            if v.is_none() {
                bad += 1;
            }
            v
        })
        .collect();
    (values, bad)
}

/// The provider's words for a failed line: `error.message`, nested or not.
pub fn reason(error: &Value) -> String {
    let message = error
        .pointer("/error/message")
        .or_else(|| error.get("message"))
        .and_then(Value::as_str);
    let code = error
        .get("code")
        .or_else(|| error.get("type"))
        .or_else(|| error.pointer("/error/type"))
        .and_then(Value::as_str);
    match (code, message) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (None, Some(m)) => m.to_string(),
        (Some(c), None) => c.to_string(),
        (None, None) => "no reason given".to_string(),
    }
}

/// An OpenAI-style result line (`{custom_id, response: {status_code, body}, error}`), as
/// OpenAI's output and error files and OpenRouter's inline results carry them.
pub fn openai_style_line(line: &Value) -> Option<super::LineResult> {
    let custom_id = line.get("custom_id")?.as_str()?.to_string();
    let error = line.get("error").filter(|e| !e.is_null());
    let response = line.get("response").filter(|r| !r.is_null());
    let outcome = match (response, error) {
        (_, Some(e)) => Err(reason(e)),
        (Some(r), None) => {
            let status = r.get("status_code").and_then(Value::as_u64).unwrap_or(200);
            let body = r.get("body").cloned().unwrap_or(Value::Null);
            if (200..300).contains(&status) {
                Ok(body)
            } else {
                Err(format!("HTTP {status}: {}", reason(&body)))
            }
        }
        (None, None) => Err("the line has neither a response nor an error".to_string()),
    };
    Some(super::LineResult { custom_id, outcome })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openai_lines() {
        let ok = json!({"custom_id": "a", "response": {"status_code": 200, "body": {"x": 1}}, "error": null});
        assert_eq!(
            openai_style_line(&ok).unwrap().outcome.unwrap(),
            json!({"x": 1})
        );
        let expired = json!({"custom_id": "b", "response": null, "error": {"code": "batch_expired", "message": "not run in time"}});
        assert_eq!(
            openai_style_line(&expired).unwrap().outcome.unwrap_err(),
            "batch_expired: not run in time"
        );
        let bad = json!({"custom_id": "c", "response": {"status_code": 400, "body": {"error": {"message": "bad model", "type": "invalid_request_error"}}}});
        assert!(openai_style_line(&bad)
            .unwrap()
            .outcome
            .unwrap_err()
            .contains("bad model"));
        assert!(openai_style_line(&json!({"no": "id"})).is_none());
    }

    #[test]
    fn multipart_has_fields_and_file() {
        let body = multipart("B", &[("purpose", "batch")], "x.jsonl", b"{}\n");
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("name=\"purpose\"\r\n\r\nbatch\r\n"));
        assert!(text.contains("filename=\"x.jsonl\""));
        assert!(text.ends_with("--B--\r\n"));
    }
}
