//! Model lists: which models an endpoint serves, asked with one GET per endpoint and never
//! a paid call. The shape of each list (OpenAI-compatible, Anthropic's pages, OpenRouter's
//! prices) comes from the kind's row in `config::KINDS`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fault::Fault;
use super::http::{get_json, Caller, Cap};
use super::{Kit, ProviderError};
use crate::config::Api;

/// The most one page of a model list may hold. OpenRouter's whole catalogue, with a
/// description per model, is a few MB; a list past this is not a list.
pub const MODEL_LIST_BYTES: u64 = 16 * 1024 * 1024;
/// Pages followed at most (Anthropic's `has_more`, OpenRouter's `links.next`).
const MAX_PAGES: usize = 50;

/// An endpoint that answers a model list: one per (shape, base URL, key) in chorus.toml,
/// however many Artists and Brushes share it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    pub shape: ListShape,
    pub base_url: String,
    pub key_env: Option<String>,
}

/// [`Api`] minus the built-in case, which has no endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ListShape {
    OpenAi,
    Anthropic,
    OpenRouter,
}

impl ListShape {
    /// The API family, which also says how the key is sent.
    pub fn api(self) -> Api {
        match self {
            ListShape::OpenAi => Api::OpenAi,
            ListShape::Anthropic => Api::Anthropic,
            ListShape::OpenRouter => Api::OpenRouter,
        }
    }

    pub fn of(list: Api) -> Option<ListShape> {
        match list {
            Api::Builtin => None,
            Api::OpenAi => Some(ListShape::OpenAi),
            Api::Anthropic => Some(ListShape::Anthropic),
            Api::OpenRouter => Some(ListShape::OpenRouter),
        }
    }
}

/// One model an endpoint serves, with its published price when the list gives one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServedModel {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_per_mtok: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_per_mtok: Option<f64>,
}

/// What an endpoint said about its models.
#[derive(Debug, Clone)]
pub enum Listing {
    Served(Vec<ServedModel>),
    /// The endpoint has no model list (404 or 405, as some local servers answer): chorus
    /// cannot tell, which is not the same as "missing".
    NoList(u16),
}

impl Endpoint {
    /// The first page's address.
    pub fn url(&self) -> String {
        match self.shape {
            ListShape::OpenAi => format!("{}/models", self.base_url),
            ListShape::Anthropic => format!("{}/v1/models?limit=1000", self.base_url),
            // Without the filter OpenRouter lists text-output models only; a Brush's
            // image model would read as missing.
            ListShape::OpenRouter => format!("{}/models?output_modalities=all", self.base_url),
        }
    }

    fn caller(&self) -> Caller {
        Caller::new(
            format!("the model list at {}", self.base_url),
            self.key_env.clone(),
        )
        .speaking(self.shape.api())
    }
}

/// Asks `endpoint` which models it serves, following its pages.
pub async fn list_models(kit: &Kit, endpoint: &Endpoint) -> Result<Listing, ProviderError> {
    let caller = endpoint.caller();
    let headers = caller.headers();
    let cap = Cap {
        bytes: MODEL_LIST_BYTES,
        limit: "a model list's cap",
    };
    let mut models = Vec::new();
    let mut url = endpoint.url();
    for _ in 0..MAX_PAGES {
        let reply = match get_json(kit, &url, &headers, &caller, cap, &[404, 405]).await? {
            Ok(reply) => reply,
            Err(status) => return Ok(Listing::NoList(status)),
        };
        let page = parse_page(endpoint.shape, &reply.body)
            .map_err(|e| Fault::BadReply.error(format!("{}: {e}", caller.label)))?;
        models.extend(page.models);
        match page.next.map(|next| next_url(endpoint, &url, &next)) {
            None => return Ok(Listing::Served(models)),
            Some(Ok(next)) => url = next,
            Some(Err(e)) => return Err(Fault::BadReply.error(format!("{}: {e}", caller.label))),
        }
    }
    Err(Fault::BadReply.error(format!(
        "{}: more than {MAX_PAGES} pages; chorus stopped following them",
        caller.label
    )))
}

/// One page of a list: its models, and where the next page is.
#[derive(Debug, PartialEq)]
pub struct Page {
    pub models: Vec<ServedModel>,
    pub next: Option<Next>,
}

/// How a list points at its next page.
#[derive(Debug, PartialEq)]
pub enum Next {
    /// Anthropic: the last id of this page, for `after_id`.
    AfterId(String),
    /// OpenRouter: a link, usually a path on the same host.
    Link(String),
}

/// Reads one page of `shape`. `data: null` is an empty list (Ollama with no models).
pub fn parse_page(shape: ListShape, body: &Value) -> Result<Page, String> {
    let data = match body.get("data") {
        Some(Value::Array(items)) => items.as_slice(),
        Some(Value::Null) => &[],
        _ => return Err("the reply has no `data` list of models".into()),
    };
    let mut models = Vec::with_capacity(data.len());
    for item in data {
        let Some(id) = item.get("id").and_then(Value::as_str) else {
            return Err("a model in `data` has no string `id`".into());
        };
        let name = item
            .get(if shape == ListShape::Anthropic {
                "display_name"
            } else {
                "name"
            })
            .and_then(Value::as_str)
            .map(str::to_string);
        let per_mtok = |key: &str| per_token_price(item.pointer(&format!("/pricing/{key}")));
        models.push(ServedModel {
            id: id.to_string(),
            name,
            input_per_mtok: per_mtok("prompt"),
            output_per_mtok: per_mtok("completion"),
        });
    }
    let next = match shape {
        ListShape::OpenAi => None,
        ListShape::Anthropic => (body.get("has_more").and_then(Value::as_bool) == Some(true))
            .then(|| body.get("last_id").and_then(Value::as_str))
            .flatten()
            .map(|id| Next::AfterId(id.to_string())),
        ListShape::OpenRouter => body
            .pointer("/links/next")
            .and_then(Value::as_str)
            .map(|l| Next::Link(l.to_string())),
    };
    if matches!(next, Some(Next::AfterId(_))) && data.is_empty() {
        return Err("`has_more` is true on an empty page".into());
    }
    Ok(Page { models, next })
}

/// OpenRouter gives dollars per token as a string ("0.000003"); chorus.toml speaks of
/// dollars per million tokens. A negative price ("-1": varies by route) is no price.
fn per_token_price(value: Option<&Value>) -> Option<f64> {
    let per_token = match value? {
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        Value::Number(n) => n.as_f64()?,
        _ => return None,
    };
    (per_token.is_finite() && per_token >= 0.0).then(|| (per_token * 1e6 * 1e6).round() / 1e6)
}

/// The next page's URL. A link may only point at the endpoint's own host: the key goes
/// with the request.
fn next_url(endpoint: &Endpoint, current: &str, next: &Next) -> Result<String, String> {
    match next {
        Next::AfterId(id) => {
            let base = endpoint.url();
            Ok(format!("{base}&after_id={}", percent_encode(id)))
        }
        Next::Link(link) => {
            let here = reqwest::Url::parse(current).map_err(|e| e.to_string())?;
            let there = here
                .join(link)
                .map_err(|e| format!("bad next link ({e})"))?;
            if there.origin() != here.origin() {
                return Err(format!(
                    "the next page is on another host ({}); chorus does not follow it",
                    there.host_str().unwrap_or("?")
                ));
            }
            Ok(there.to_string())
        }
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_three_shapes_are_read() {
        let openai = json!({"object": "list", "data": [{"id": "gpt-image-2", "object": "model", "owned_by": "system"}]});
        let page = parse_page(ListShape::OpenAi, &openai).unwrap();
        assert_eq!(page.models[0].id, "gpt-image-2");
        assert_eq!(page.next, None);

        let anthropic = json!({"data": [{"id": "claude-sonnet-5-5", "display_name": "Claude Sonnet 5.5", "type": "model"}],
            "has_more": true, "first_id": "claude-sonnet-5-5", "last_id": "claude-sonnet-5-5"});
        let page = parse_page(ListShape::Anthropic, &anthropic).unwrap();
        assert_eq!(page.models[0].name.as_deref(), Some("Claude Sonnet 5.5"));
        assert_eq!(page.next, Some(Next::AfterId("claude-sonnet-5-5".into())));

        let openrouter = json!({"data": [{"id": "anthropic/claude-sonnet-5.5", "name": "Claude Sonnet 5.5",
            "pricing": {"prompt": "0.000002", "completion": "0.00001", "request": "0"}}], "links": {"next": null}});
        let m = &parse_page(ListShape::OpenRouter, &openrouter)
            .unwrap()
            .models[0];
        assert_eq!(
            (m.input_per_mtok, m.output_per_mtok),
            (Some(2.0), Some(10.0))
        );

        assert_eq!(
            parse_page(ListShape::OpenAi, &json!({"data": null}))
                .unwrap()
                .models,
            vec![]
        );
        for garbage in [
            json!([1, 2]),
            json!({"data": [{"name": "x"}]}),
            json!({"data": "x"}),
        ] {
            assert!(
                parse_page(ListShape::OpenAi, &garbage).is_err(),
                "{garbage}"
            );
        }
    }

    #[test]
    fn next_links_stay_on_the_endpoints_host() {
        let endpoint = Endpoint {
            shape: ListShape::OpenRouter,
            base_url: "http://127.0.0.1:9/api/v1".into(),
            key_env: None,
        };
        let here = endpoint.url();
        let next = Next::Link("/api/v1/models?offset=500".into());
        assert_eq!(
            next_url(&endpoint, &here, &next).unwrap(),
            "http://127.0.0.1:9/api/v1/models?offset=500"
        );
        let away = Next::Link("https://evil.example/models".into());
        assert!(next_url(&endpoint, &here, &away).is_err());
    }
}
