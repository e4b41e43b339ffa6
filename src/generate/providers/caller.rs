//! Who calls a provider: the label messages use, the key read from the environment (kept
//! out of every message and file), and how the provider's API family takes that key.

use crate::config::{Api, Kind};

/// Who is calling, for messages: `artist "gpt-4o"` and the env var its key comes from.
#[derive(Debug, Clone)]
pub struct Caller {
    pub label: String,
    pub key_env: Option<String>,
    key: Option<String>,
    /// The provider kind and model asked for, so a "no such model" answer can say so.
    pub(crate) serves: Option<(String, String)>,
    /// The API family, which decides how the key is sent.
    api: Api,
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
            serves: None,
            api: Api::Builtin,
        }
    }

    /// Sends the key (and the fixed headers) as `api` wants them.
    pub fn speaking(mut self, api: Api) -> Caller {
        self.api = api;
        self
    }

    /// A caller holding `key` as if read from `key_env`, for tests that must not touch
    /// the environment.
    #[cfg(test)]
    pub(crate) fn with_key(label: &str, key_env: &str, key: &str) -> Caller {
        Caller {
            key: Some(key.to_string()),
            ..Caller::new(label.to_string(), Some(key_env.to_string())).speaking(Api::OpenAi)
        }
    }

    /// The caller for an Artist's requests.
    pub fn artist(artist: &crate::config::Artist) -> Caller {
        Caller::new(
            format!("artist {:?}", artist.slug),
            artist.api_key_env.clone(),
        )
        .serving(&artist.provider, &artist.model)
        .speaking(api_of(artist.kind()))
    }

    /// The caller for a Brush's requests.
    pub fn brush(brush: &crate::config::Brush) -> Caller {
        Caller::new(format!("brush {:?}", brush.slug), brush.api_key_env.clone())
            .serving(&brush.provider, &brush.model)
            .speaking(api_of(brush.kind()))
    }

    pub(crate) fn serving(mut self, provider: &str, model: &str) -> Caller {
        self.serves = Some((provider.to_string(), model.to_string()));
        self
    }

    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The headers every request of this caller carries: the key, where its API takes it.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        api_headers(self.api, self.key())
    }

    /// Removes the key from any text that may be shown or stored (some providers echo it).
    pub fn scrub(&self, text: &str) -> String {
        match &self.key {
            Some(key) if key.len() >= 4 => text.replace(key.as_str(), "[redacted]"),
            _ => text.to_string(),
        }
    }
}

fn api_of(kind: Option<Kind>) -> Api {
    kind.map_or(Api::Builtin, |k| k.info().api)
}

/// Asked of apps by OpenRouter to attribute their traffic
/// (https://openrouter.ai/docs/api-reference/overview#headers).
const OPENROUTER_REFERER: &str = "https://github.com/chorus-art/chorus";
const OPENROUTER_TITLE: &str = "chorus";
/// The Messages API version chorus speaks (its request and reply shapes).
const ANTHROPIC_VERSION: &str = "2023-06-01";

/// How an API family takes a key, and the fixed headers it asks for: the one place that
/// decides them, for direct calls, batches and model lists alike.
pub fn api_headers(api: Api, key: Option<&str>) -> Vec<(&'static str, String)> {
    let bearer = key.map(|k| ("authorization", format!("Bearer {k}")));
    match api {
        Api::Builtin => Vec::new(),
        Api::OpenAi => bearer.into_iter().collect(),
        Api::OpenRouter => [
            ("http-referer", OPENROUTER_REFERER.to_string()),
            ("x-title", OPENROUTER_TITLE.to_string()),
        ]
        .into_iter()
        .chain(bearer)
        .collect(),
        Api::Anthropic => std::iter::once(("anthropic-version", ANTHROPIC_VERSION.to_string()))
            .chain(key.map(|k| ("x-api-key", k.to_string())))
            .collect(),
    }
}
