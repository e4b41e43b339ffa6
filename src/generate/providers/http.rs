//! The one HTTP client builder, the one way a reply body is read (streamed, capped) and
//! the mapping of a failed status onto a [`Fault`](super::fault::Fault): success, retryable
//! (429, 5xx, 529, timeouts, resets) or final (401/403, quota, redirects, bad requests).
//! Error texts never carry a key or a URL: reqwest errors are stripped of their URL and
//! every provider message is scrubbed of the key before it can reach `runs/` or a terminal.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::redirect::Policy;
use serde_json::Value;

pub use super::caller::{api_headers, Caller};
use super::fault::{self, Fault};
use super::ProviderError;

/// Hops an image download may take: CDNs redirect once or twice; more is a loop or a trap.
pub const MAX_DOWNLOAD_REDIRECTS: usize = 5;

/// Which redirects a client follows.
#[derive(Debug, Clone, Copy)]
pub enum Redirects {
    /// API calls carry a key (`Authorization`, `x-api-key`): a redirect is never followed,
    /// so no credential can be sent to a host the user did not configure.
    Never,
    /// Image downloads carry no credential: up to [`MAX_DOWNLOAD_REDIRECTS`] hops over
    /// http(s), a loop refused at once.
    Download,
}

/// The client builder: one connection pool per kind for the whole batch.
pub fn client(redirects: Redirects) -> Result<reqwest::Client, ProviderError> {
    let policy = match redirects {
        Redirects::Never => Policy::none(),
        Redirects::Download => Policy::custom(|attempt| {
            if attempt.previous().len() > MAX_DOWNLOAD_REDIRECTS {
                attempt.error(format!("more than {MAX_DOWNLOAD_REDIRECTS} redirects"))
            } else if attempt.previous().contains(attempt.url()) {
                attempt.error("a redirect loop")
            } else if !matches!(attempt.url().scheme(), "http" | "https") {
                attempt.error("a redirect to a scheme chorus does not fetch")
            } else {
                attempt.follow()
            }
        }),
    };
    reqwest::Client::builder()
        .user_agent(concat!("chorus/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(64)
        .redirect(policy)
        .build()
        .map_err(|e| Fault::Local.error(format!("cannot set up the HTTP client: {}", chain(&e))))
}

/// The most a reply body may hold, and the `[limits]` key that sets it (for the message).
#[derive(Debug, Clone, Copy)]
pub struct Cap {
    pub bytes: u64,
    pub limit: &'static str,
}

/// Error bodies are read only this far: the message is cut to 200 characters anyway.
const ERROR_BODY_BYTES: u64 = 64 * 1024;

/// A JSON reply, the provider's request id if it sent one, and oddities worth keeping
/// in the run's meta (say, invalid UTF-8 that was replaced).
#[derive(Debug)]
pub struct JsonReply {
    pub body: Value,
    pub request_id: Option<String>,
    pub warnings: Vec<String>,
}

/// One HTTP provider's request: where it goes, who sends it (the key, the label in
/// messages) and the body it always carries, to which each call adds its prompt.
pub struct JsonCall {
    pub url: String,
    pub caller: Caller,
    pub body: Value,
    pub kit: super::Kit,
}

impl JsonCall {
    /// The parameters as sent, for the run's meta.
    pub fn params(&self) -> std::collections::BTreeMap<String, Value> {
        super::chat::params_of(&self.body)
    }

    /// POSTs `body` (this call's body with the prompt added) with the caller's headers.
    pub async fn send(&self, body: &Value, cap: Cap) -> Result<JsonReply, ProviderError> {
        post_json(
            &self.kit,
            &self.url,
            &self.caller.headers(),
            body,
            &self.caller,
            cap,
        )
        .await
    }
}

/// POSTs `body` as JSON and classifies the answer. The reply is streamed and refused as
/// soon as it passes `cap`: a provider cannot make chorus hold more than that.
pub async fn post_json(
    kit: &super::Kit,
    url: &str,
    headers: &[(&str, String)],
    body: &Value,
    caller: &Caller,
    cap: Cap,
) -> Result<JsonReply, ProviderError> {
    let response = send(kit, kit.client.post(url).json(body), headers, caller).await?;
    read_json(kit, response, caller, cap).await
}

/// GETs a JSON document (a model list) with the same caps, classification and refusal
/// of redirects as every API call. A status in `absent` (say 404: there is no such
/// document here) is answered as `Ok(Err(status))` rather than as a failure.
pub async fn get_json(
    kit: &super::Kit,
    url: &str,
    headers: &[(&str, String)],
    caller: &Caller,
    cap: Cap,
    absent: &[u16],
) -> Result<Result<JsonReply, u16>, ProviderError> {
    let response = send(kit, kit.client.get(url), headers, caller).await?;
    let status = response.status().as_u16();
    if absent.contains(&status) {
        return Ok(Err(status));
    }
    read_json(kit, response, caller, cap).await.map(Ok)
}

/// Sends a request with the caller's headers within the timeout; a redirect is refused.
async fn send(
    kit: &super::Kit,
    request: reqwest::RequestBuilder,
    headers: &[(&str, String)],
    caller: &Caller,
) -> Result<reqwest::Response, ProviderError> {
    let mut request = request.timeout(kit.timeout);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request
        .send()
        .await
        .map_err(|e| transport_error(e, kit.timeout, caller))?;
    let status = response.status().as_u16();
    if (300..400).contains(&status) {
        return Err(redirect_refused(status, response.headers(), caller));
    }
    Ok(response)
}

/// Reads a reply within `cap` and classifies it: JSON on success, else an error that
/// says whether trying again can help.
async fn read_json(
    kit: &super::Kit,
    response: reqwest::Response,
    caller: &Caller,
    cap: Cap,
) -> Result<JsonReply, ProviderError> {
    let timeout = kit.timeout;
    let status = response.status().as_u16();
    let request_id = request_id(response.headers());
    let retry_after = retry_after(response.headers(), SystemTime::now());
    let success = (200..300).contains(&status);
    let read = read_body(response, if success { cap.bytes } else { ERROR_BODY_BYTES }).await;
    let body = read.map_err(|e| transport_error(e, timeout, caller))?;
    if success && !body.complete {
        return Err(too_large(&caller.label, "the reply", cap));
    }
    let mut warnings = Vec::new();
    let text = match String::from_utf8(body.bytes) {
        Ok(text) => text,
        Err(e) => {
            warnings.push(format!(
                "{}: the reply was not valid UTF-8; the invalid bytes were replaced with U+FFFD",
                caller.label
            ));
            String::from_utf8_lossy(e.as_bytes()).into_owned()
        }
    };
    if !success {
        return Err(classify(status, &text, retry_after, caller));
    }
    let body: Value = serde_json::from_str(&text).map_err(|e| {
        Fault::BadReply.error(format!(
            "{}: the reply is not valid JSON ({e}); it began {:?}",
            caller.label,
            caller.scrub(&snippet(&text))
        ))
    })?;
    let request_id =
        request_id.or_else(|| body.get("id").and_then(Value::as_str).map(str::to_string));
    Ok(JsonReply {
        body,
        request_id,
        warnings,
    })
}

/// A body read up to a limit; `complete` is false when the sender had more.
pub struct Body {
    pub bytes: Vec<u8>,
    pub complete: bool,
}

/// Reads a body chunk by chunk and stops at `limit` bytes, dropping the connection: a
/// declared `Content-Length` over the limit stops it before the first byte. The
/// request's own timeout covers the whole body, so a slow drip ends too.
pub async fn read_body(
    mut response: reqwest::Response,
    limit: u64,
) -> Result<Body, reqwest::Error> {
    if response.content_length().is_some_and(|len| len > limit) {
        return Ok(Body {
            bytes: Vec::new(),
            complete: false,
        });
    }
    // Room for the whole body at once: growing by doubling would copy a large body
    // several times and hold two copies at the peak. Untouched capacity costs no memory.
    let mut bytes =
        Vec::with_capacity(response.content_length().unwrap_or(limit).min(limit) as usize);
    while let Some(chunk) = response.chunk().await? {
        if (bytes.len() + chunk.len()) as u64 > limit {
            return Ok(Body {
                bytes,
                complete: false,
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Body {
        bytes,
        complete: true,
    })
}

/// The error for a body over its cap: final, since the same request gets the same reply.
pub fn too_large(who: &str, what: &str, cap: Cap) -> ProviderError {
    Fault::TooLarge.error(format!(
        "{who}: {what} is larger than {} ({} bytes), so chorus stopped reading it; raise the limit in chorus.toml if such replies are expected",
        cap.limit, cap.bytes
    ))
}

/// An API call answered with a redirect. Following it would send the key to wherever the
/// provider (or whoever answers in its place) points, so chorus stops and says where.
fn redirect_refused(status: u16, headers: &HeaderMap, caller: &Caller) -> ProviderError {
    let target = headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|l| reqwest::Url::parse(l).ok())
        .and_then(|u| u.host_str().map(str::to_string));
    let to = target.map_or(String::new(), |host| format!(" to {host}"));
    Fault::Redirect.error(format!(
        "{}: the endpoint answered HTTP {status}, a redirect{to}; chorus never follows a redirect on an API call (the key would go with it), so set base_url in chorus.toml to the address the provider now uses",
        caller.label
    ))
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
    if let (Some((provider, model)), true) = (&caller.serves, model_missing(status, body)) {
        return Fault::Status(status).error(format!(
            "{who}: model {model:?} is not served by {provider} (retired?) (HTTP {status}: {message}); pick a served id with `chorus models --provider {provider}`, set it in chorus.toml, then run `chorus resume`"
        ));
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
        429 => Fault::Status(status).error_after(format!("rate limited (HTTP 429: {message})"), retry_after),
        _ if fault::transient(Fault::Status(status)) => {
            Fault::Status(status).error_after(format!("server error (HTTP {status}: {message})"), retry_after)
        }
        _ => Fault::Status(status).error(format!("{who}: the provider answered HTTP {status}: {message}")),
    }
}

/// Whether an error answer says the model does not exist: OpenAI's (and compatible
/// servers') `model_not_found`, Anthropic's `not_found_error` about a model, OpenRouter's
/// "is not a valid model ID" (400) and "No endpoints found" (404).
fn model_missing(status: u16, body: &str) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return false;
    };
    let text = |pointer: &str| v.pointer(pointer).and_then(Value::as_str).unwrap_or("");
    let message = text("/error/message");
    match status {
        404 => {
            text("/error/code") == "model_not_found"
                || (text("/error/type") == "not_found_error" && message.starts_with("model"))
                || message.starts_with("No endpoints found for")
        }
        400 => {
            message.ends_with("is not a valid model ID") || text("/error/code") == "model_not_found"
        }
        _ => false,
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

/// A transport failure. Timeouts, refused and reset connections are worth another try;
/// a refused redirect or an unusable URL is not ([`fault::of_transport`] decides).
pub fn transport_error(error: reqwest::Error, timeout: Duration, caller: &Caller) -> ProviderError {
    let error = error.without_url();
    let fault = fault::of_transport(&error);
    let reason = match fault {
        Fault::Timeout => format!(
            "timed out after {:.1} s (limits.request_timeout_secs)",
            timeout.as_secs_f64()
        ),
        Fault::Connect => format!("could not connect ({})", chain(&error)),
        Fault::Redirect => format!("{}: redirect refused ({})", caller.label, chain(&error)),
        Fault::RefusedUrl => format!(
            "{}: the URL cannot be fetched ({})",
            caller.label,
            chain(&error)
        ),
        _ => format!("connection error ({})", chain(&error)),
    };
    fault.error(caller.scrub(&reason))
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

    /// The "no such model" answers as each provider documents them today; other 404s
    /// (a batch id Anthropic does not know) are not about the model.
    #[test]
    fn missing_models_are_told_from_other_not_found_answers() {
        for (status, body) in [
            (
                404,
                r#"{"error":{"message":"The model `x` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#,
            ),
            (
                404,
                r#"{"type":"error","error":{"type":"not_found_error","message":"model: claude-3-opus-20240229"},"request_id":"req_1"}"#,
            ),
            (
                400,
                r#"{"error":{"message":"google/gemini-pro-1.5 is not a valid model ID","code":400},"user_id":"u"}"#,
            ),
            (
                404,
                r#"{"error":{"message":"No endpoints found for google/gemini-pro-1.5.","code":404}}"#,
            ),
        ] {
            assert!(model_missing(status, body), "{body}");
        }
        for (status, body) in [
            (
                404,
                r#"{"type":"error","error":{"type":"not_found_error","message":"batch msgbatch_1 not found"}}"#,
            ),
            (
                400,
                r#"{"error":{"message":"Invalid value: 'hd'.","code":"invalid_value"}}"#,
            ),
            (404, "not json"),
        ] {
            assert!(!model_missing(status, body), "{body}");
        }
    }

    #[test]
    fn classification() {
        let caller =
            Caller::with_key("artist \"a\"", "K_ENV", "sk-secret").serving("openai", "gpt-4-32k");
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
