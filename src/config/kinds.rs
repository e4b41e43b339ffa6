//! Provider kinds: every `provider = "..."` chorus.toml may name, declared once with what
//! it can do. Validation, provider construction, budgets, batch eligibility and model
//! lists all read this table, so adding a provider is one entry here and one file in
//! `generate::providers`.

/// A provider kind. Construction matches on it exhaustively, so a new kind cannot be
/// forgotten anywhere the compiler can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Offline,
    OpenAi,
    OpenRouter,
    Anthropic,
    Procedural,
    OpenAiImages,
    OpenRouterImages,
}

/// What a kind is for: writing (an Artist) or painting (a Brush).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Artist,
    Brush,
}

/// The API family a kind speaks: how it takes its key and which fixed headers it wants
/// (`generate::providers::http::api_headers`), and how it says which models it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Built into chorus: no key, no network; it serves its own models.
    Builtin,
    /// A bearer key; `GET {base_url}/models` answering `{data: [{id}]}`: OpenAI, Ollama,
    /// vLLM, LocalAI and any OpenAI-compatible server.
    OpenAi,
    /// `x-api-key` and a pinned `anthropic-version`; `GET {base_url}/v1/models`,
    /// paginated with `has_more` and `after_id`.
    Anthropic,
    /// A bearer key and the attribution headers OpenRouter asks apps for;
    /// `GET {base_url}/models`, with each model's price per token.
    OpenRouter,
}

/// One row of the table.
#[derive(Debug)]
pub struct KindInfo {
    pub kind: Kind,
    /// The name chorus.toml uses.
    pub name: &'static str,
    pub role: Role,
    /// Where requests go when the entry gives no `base_url`.
    pub default_base_url: Option<&'static str>,
    pub api: Api,
    /// Whether the kind has a Batch API chorus can submit to (Artists only).
    pub batch_api: bool,
}

impl KindInfo {
    /// Built-in kinds need no key, cost nothing and never touch the network.
    pub fn builtin(&self) -> bool {
        self.api == Api::Builtin
    }
}

/// Every kind chorus knows, Artists first.
pub const KINDS: &[KindInfo] = &[
    KindInfo {
        kind: Kind::Offline,
        name: "offline",
        role: Role::Artist,
        default_base_url: None,
        api: Api::Builtin,
        batch_api: true,
    },
    KindInfo {
        kind: Kind::OpenAi,
        name: "openai",
        role: Role::Artist,
        default_base_url: Some("https://api.openai.com/v1"),
        api: Api::OpenAi,
        batch_api: true,
    },
    KindInfo {
        kind: Kind::OpenRouter,
        name: "openrouter",
        role: Role::Artist,
        default_base_url: Some("https://openrouter.ai/api/v1"),
        api: Api::OpenRouter,
        batch_api: true,
    },
    KindInfo {
        kind: Kind::Anthropic,
        name: "anthropic",
        role: Role::Artist,
        default_base_url: Some("https://api.anthropic.com"),
        api: Api::Anthropic,
        batch_api: true,
    },
    KindInfo {
        kind: Kind::Procedural,
        name: "procedural",
        role: Role::Brush,
        default_base_url: None,
        api: Api::Builtin,
        batch_api: false,
    },
    KindInfo {
        kind: Kind::OpenAiImages,
        name: "openai-images",
        role: Role::Brush,
        default_base_url: Some("https://api.openai.com/v1"),
        api: Api::OpenAi,
        batch_api: false,
    },
    KindInfo {
        kind: Kind::OpenRouterImages,
        name: "openrouter-images",
        role: Role::Brush,
        default_base_url: Some("https://openrouter.ai/api/v1"),
        api: Api::OpenRouter,
        batch_api: false,
    },
];

impl Kind {
    /// The kind a role's entry names, if chorus knows it.
    pub fn parse(name: &str, role: Role) -> Option<Kind> {
        KINDS
            .iter()
            .find(|k| k.name == name && k.role == role)
            .map(|k| k.kind)
    }

    pub fn info(self) -> &'static KindInfo {
        KINDS
            .iter()
            .find(|k| k.kind == self)
            .expect("every Kind has a row in KINDS")
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }
}

/// The names a role may use, for messages: "offline, openai, ...".
pub fn names(role: Role) -> String {
    let names: Vec<&str> = KINDS
        .iter()
        .filter(|k| k.role == role)
        .map(|k| k.name)
        .collect();
    names.join(", ")
}

/// The families of the OpenAI Images API, which take different parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFamily {
    /// gpt-image-*: always base64; `quality` low|medium|high|auto, `output_format`.
    GptImage,
    /// dall-e-*: a URL or base64 by `response_format`; `quality` standard|hd.
    DallE,
}

impl ImageFamily {
    /// The family of an Images API model, by its id.
    pub fn of(model: &str) -> Option<ImageFamily> {
        if model.starts_with("gpt-image") {
            Some(ImageFamily::GptImage)
        } else if model.starts_with("dall-e") {
            Some(ImageFamily::DallE)
        } else {
            None
        }
    }

    pub fn qualities(self) -> &'static [&'static str] {
        match self {
            ImageFamily::GptImage => &["low", "medium", "high", "auto"],
            ImageFamily::DallE => &["standard", "hd"],
        }
    }
}

/// The `output_format` values of gpt-image models.
pub const OUTPUT_FORMATS: &[&str] = &["png", "jpeg", "webp"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_row_and_parses_back() {
        for info in KINDS {
            assert_eq!(info.kind.info().name, info.name);
            assert_eq!(Kind::parse(info.name, info.role), Some(info.kind));
            let other = match info.role {
                Role::Artist => Role::Brush,
                Role::Brush => Role::Artist,
            };
            assert_eq!(Kind::parse(info.name, other), None, "{}", info.name);
        }
        assert_eq!(
            names(Role::Brush),
            "procedural, openai-images, openrouter-images"
        );
    }
}
