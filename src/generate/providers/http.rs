//! The one HTTP client builder and the one way a provider reply is classified: success,
//! retryable (429, 5xx, 529, timeouts, resets) or final (401/403, quota, bad requests).
//! Error texts never carry a key or a URL: reqwest errors are stripped of their URL and
//! every provider message is scrubbed of the key before it can reach `runs/` or a terminal.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use serde_json::Value;

use super::ProviderError;

/// The shared client: one connection pool for the whole batch.
pub fn client() -> Result<reqwest::Client, ProviderError> {
    reqwest::Client::builder()
        .user_agent(concat!("chorus/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(64)
        .build()
        .map_err(|e| ProviderError::Fatal {
            reason: format!("cannot set up the HTTP client: {}", chain(&e)),
        })
}

/// Who is calling, for messages: `artist "gpt-4o"` and the env var its key comes from.
#[derive(Debug, Clone)]
pub struct Caller {
    pub label: String,
    pub key_env: Option<String>,
    key: Option<String>,
}

impl Caller {
    pub fn new(label: String, key_env: Option<String>) -> Caller {
        let key = key_env
            .as_deref()
            .and_then(|env| std::env::var(env).ok())
            .filter(|k| !k.is_empty());
        Caller {
            label,
            key_env,
            key,
        }
    }

    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// Removes the key from any text that may be shown or stored (some providers echo it).
    pub fn scrub(&self, text: &str) -> String {
        match &self.key {
            Some(key) if key.len() >= 4 => text.replace(key.as_str(), "[redacted]"),
            _ => text.to_string(),
        }
    }
}

/// A JSON reply and the provider's request id, if it sent one.
#[derive(Debug)]
pub struct JsonReply {
    pub body: Value,
    pub request_id: Option<String>,
}

/// POSTs `body` as JSON and classifies the answer.
pub async fn post_json(
    client: &reqwest::Client,
    timeout: Duration,
    url: &str,
    headers: &[(&str, String)],
    body: &Value,
    caller: &Caller,
) -> Result<JsonReply, ProviderError> {
    let mut request = client.post(url).timeout(timeout).json(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request
        .send()
        .await
        .map_err(|e| transport_error(e, timeout, caller))?;
    let status = response.status().as_u16();
    let request_id = request_id(response.headers());
    let retry_after = retry_after(response.headers(), SystemTime::now());
    let text = response
        .text()
        .await
        .map_err(|e| transport_error(e, timeout, caller))?;
    if (200..300).contains(&status) {
        let body: Value = serde_json::from_str(&text).map_err(|e| ProviderError::Fatal {
            reason: format!(
                "{}: the reply is not valid JSON ({e}); it began {:?}",
                caller.label,
                caller.scrub(&snippet(&text))
            ),
        })?;
        let request_id =
            request_id.or_else(|| body.get("id").and_then(Value::as_str).map(str::to_string));
        Ok(JsonReply { body, request_id })
    } else {
        Err(classify(status, &text, retry_after, caller))
    }
}

/// Turns a failed status into an error that says whether trying again can help.
pub fn classify(
    status: u16,
    body: &str,
    retry_after: Option<Duration>,
    caller: &Caller,
) -> ProviderError {
    let message = caller.scrub(&error_message(body));
    let who = &caller.label;
    if is_quota_error(body) {
        return ProviderError::Refused {
            reason: format!(
                "{who}: quota or spend limit reached (HTTP {status}: {message}); add credit or raise the limit with the provider, then run `chorus resume`"
            ),
        };
    }
    match status {
        401 | 403 => ProviderError::Refused {
            reason: match &caller.key_env {
                Some(env) => format!(
                    "{who}: the provider refused the key (HTTP {status}: {message}); set a valid key in the environment variable {env}"
                ),
                None => format!(
                    "{who}: the endpoint wants a key (HTTP {status}: {message}); set api_key_env in chorus.toml and export that variable"
                ),
            },
        },
        429 => ProviderError::Retryable { reason: format!("rate limited (HTTP 429: {message})"), retry_after },
        408 | 425 | 500..=599 => {
            ProviderError::Retryable { reason: format!("server error (HTTP {status}: {message})"), retry_after }
        }
        _ => ProviderError::Fatal { reason: format!("{who}: the provider answered HTTP {status}: {message}") },
    }
}

/// OpenAI says `insufficient_quota`; Anthropic and OpenRouter speak of spend limits,
/// credit balances and credits. None of these gets better by waiting.
fn is_quota_error(body: &str) -> bool {
    let lower = body.to_lowercase();
    [
        "insufficient_quota",
        "spend limit",
        "spending limit",
        "credit balance",
        "insufficient credits",
        "billing_hard_limit",
    ]
    .iter()
    .any(|marker| lower.contains(marker))
}

/// The provider's own words: `error.message`, `message`, or the start of the body.
fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let found = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("message"))
            .or_else(|| v.get("error").filter(|e| e.is_string()))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    match found {
        Some(m) => snippet(&m),
        None if body.trim().is_empty() => "no details".to_string(),
        None => snippet(body),
    }
}

fn snippet(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}

/// A transport failure (timeout, refused or reset connection): always worth another try.
pub fn transport_error(error: reqwest::Error, timeout: Duration, caller: &Caller) -> ProviderError {
    let error = error.without_url();
    let reason = if error.is_timeout() {
        format!(
            "timed out after {:.1} s (limits.request_timeout_secs)",
            timeout.as_secs_f64()
        )
    } else if error.is_connect() {
        format!("could not connect ({})", chain(&error))
    } else {
        format!("connection error ({})", chain(&error))
    };
    ProviderError::Retryable {
        reason: caller.scrub(&reason),
        retry_after: None,
    }
}

/// An error and its sources on one line.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    ["x-request-id", "request-id", "openai-request-id", "cf-ray"]
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok().map(str::to_string))
}

fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    parse_retry_after(get("retry-after-ms"), get("retry-after"), now)
}

/// `retry-after-ms` (OpenAI, Anthropic) wins; else `Retry-After` in seconds or as an
/// HTTP date (RFC 9110). A date in the past means "now".
pub fn parse_retry_after(
    ms: Option<&str>,
    value: Option<&str>,
    now: SystemTime,
) -> Option<Duration> {
    if let Some(ms) = ms
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let value = value?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after(None, Some("3"), now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            parse_retry_after(Some("250"), Some("3"), now),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            parse_retry_after(None, Some("Wed, 21 Oct 2015 07:28:07 GMT"), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after(None, Some("Wed, 21 Oct 2015 07:27:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after(None, Some("soon"), now), None);
        assert_eq!(parse_retry_after(None, None, now), None);
    }

    #[test]
    fn classification() {
        let caller = Caller {
            label: "artist \"a\"".into(),
            key_env: Some("K_ENV".into()),
            key: Some("sk-secret".into()),
        };
        let quota = r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota"}}"#;
        assert!(matches!(
            classify(429, quota, None, &caller),
            ProviderError::Refused { .. }
        ));
        assert!(matches!(
            classify(429, "{}", None, &caller),
            ProviderError::Retryable { .. }
        ));
        assert!(matches!(
            classify(529, "overloaded", None, &caller),
            ProviderError::Retryable { .. }
        ));
        assert!(matches!(
            classify(503, "", None, &caller),
            ProviderError::Retryable { .. }
        ));
        assert!(matches!(
            classify(400, "bad", None, &caller),
            ProviderError::Fatal { .. }
        ));
        let denied = classify(
            401,
            r#"{"error":{"message":"Incorrect API key provided: sk-secret"}}"#,
            None,
            &caller,
        );
        let text = denied.to_string();
        assert!(
            text.contains("K_ENV") && !text.contains("sk-secret"),
            "{text}"
        );
    }
}
