//! Providers: one small trait for Artists (LLMs) and one for Brushes (image models), and
//! the factory that picks the implementation named by `provider = "..."` in chorus.toml.
//! Providers talk to the outside world; they never write under `runs/`.

pub mod caller;
mod chat;
pub mod fault;
pub mod http;
mod images;
pub mod models;
mod offline;
mod procedural;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{kind_names, Artist, Brush, Kind, Role};
use crate::store::Tokens;

pub use chat::{
    anthropic_body, anthropic_reply, openai_chat_body, openai_chat_reply, with_prompt,
    AnthropicMessages, OpenAiChat, ANTHROPIC_DEFAULT_MAX_TOKENS,
};
pub use images::{
    decode_base64, openai_image_reply, openai_images_body, OpenAiImages, OpenRouterImages,
};
pub use offline::{offline_roster, OfflineArtist};
pub use procedural::{paint, ProceduralBrush};

/// What an Artist is asked.
#[derive(Debug, Clone)]
pub struct ArtistRequest {
    pub prompt: String,
    pub seed: u64,
}

/// What an Artist answered, before parsing.
#[derive(Debug, Clone, Default)]
pub struct ArtistReply {
    pub text: String,
    pub tokens: Option<Tokens>,
    /// Dollars, when the provider reports the figure itself.
    pub cost_usd: Option<f64>,
    pub request_id: Option<String>,
    /// Oddities in the reply worth keeping in the run's meta (say, invalid UTF-8).
    pub warnings: Vec<String>,
    /// The model the reply says answered (see [`answered_model`]).
    pub model: Option<String>,
}

#[derive(Debug, Clone)]
pub struct BrushRequest {
    pub image_prompt: String,
    pub seed: u64,
}

/// Where the painted image is: bytes in hand (b64, procedural) or the URL the Brush gave
/// (http(s) to download, or a data URL), as given: the download stage decides what it
/// accepts. The URL may be signed: it is never published or shown.
#[derive(Clone)]
pub enum ImageSource {
    Bytes(Vec<u8>),
    Url(String),
}

impl std::fmt::Debug for ImageSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageSource::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            ImageSource::Url(_) => f.write_str("Url(..)"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct BrushReply {
    pub image: ImageSource,
    pub revised_prompt: Option<String>,
    pub cost_usd: Option<f64>,
    pub request_id: Option<String>,
    pub model: Option<String>,
}

/// The most of a reply's `model` kept: an id, not a place to store text.
const ANSWERED_MODEL_CHARS: usize = 200;

/// The `model` a reply names (chat completions, Anthropic Messages, OpenRouter), cut to
/// an id's length; it is shown on pages (escaped there) beside the configured id.
pub fn answered_model(body: &serde_json::Value) -> Option<String> {
    let model = body.get("model")?.as_str()?.trim();
    (!model.is_empty()).then(|| model.chars().take(ANSWERED_MODEL_CHARS).collect())
}

/// Why a provider call failed, and whether trying again may help.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    #[error("{reason}")]
    Retryable {
        reason: String,
        /// What the provider asked us to wait, if it said.
        retry_after: Option<Duration>,
    },
    #[error("{reason}")]
    Fatal { reason: String },
    /// The provider refused the account (bad key, no quota, spend limit): final for
    /// every request to that endpoint, so the batch sends it no more.
    #[error("{reason}")]
    Refused { reason: String },
    /// Ctrl-C arrived while the stage waited to try again.
    #[error("interrupted (Ctrl-C) before the stage finished")]
    Interrupted,
}

#[async_trait::async_trait]
pub trait ArtistProvider: Send + Sync {
    /// Parameters as they will be sent, for the run's meta (never keys or headers).
    fn params(&self) -> BTreeMap<String, serde_json::Value>;
    async fn write(&self, request: &ArtistRequest) -> Result<ArtistReply, ProviderError>;
}

#[async_trait::async_trait]
pub trait BrushProvider: Send + Sync {
    fn params(&self) -> BTreeMap<String, serde_json::Value>;
    /// Whether an answer is paid for and so recorded beside the run before its download
    /// (a local Brush paints again for free).
    fn paid(&self) -> bool {
        true
    }
    async fn paint(&self, request: &BrushRequest) -> Result<BrushReply, ProviderError>;
}

/// What every HTTP provider shares: the clients (one connection pool each), the timeout
/// and the caps on what a reply may hold.
#[derive(Clone)]
pub struct Kit {
    /// For API calls: never follows a redirect, since every request carries a key.
    pub client: reqwest::Client,
    /// For image downloads: no credentials, a few redirects.
    pub download: reqwest::Client,
    pub timeout: Duration,
    pub max_reply_bytes: u64,
    pub max_image_bytes: u64,
}

impl Kit {
    pub fn new(limits: &crate::config::Limits) -> Result<Kit, ProviderError> {
        Ok(Kit {
            client: http::client(http::Redirects::Never)?,
            download: http::client(http::Redirects::Download)?,
            timeout: Duration::from_secs_f64(limits.request_timeout_secs.max(0.001)),
            max_reply_bytes: limits.max_reply_bytes,
            max_image_bytes: limits.max_image_bytes,
        })
    }

    /// The cap on a chat reply.
    pub fn chat_cap(&self) -> http::Cap {
        http::Cap {
            bytes: self.max_reply_bytes,
            limit: "limits.max_reply_bytes",
        }
    }

    /// The cap on an image endpoint's reply: the largest image allowed, as base64 (4
    /// bytes per 3), plus room for the JSON around it.
    pub fn image_reply_cap(&self) -> http::Cap {
        http::Cap {
            bytes: self.max_image_bytes.saturating_mul(4) / 3 + self.max_reply_bytes,
            limit: "an image of limits.max_image_bytes as base64",
        }
    }
}

/// Builds the Artist implementation that the config names.
pub fn artist_provider(
    artist: &Artist,
    kit: &Kit,
) -> Result<Arc<dyn ArtistProvider>, ProviderError> {
    let kit = kit.clone();
    match artist.kind() {
        Some(Kind::Offline) => Ok(Arc::new(OfflineArtist::new(&artist.model)?)),
        Some(Kind::OpenAi) => Ok(Arc::new(OpenAiChat::new(artist, false, kit))),
        Some(Kind::OpenRouter) => Ok(Arc::new(OpenAiChat::new(artist, true, kit))),
        Some(Kind::Anthropic) => Ok(Arc::new(AnthropicMessages::new(artist, kit))),
        Some(Kind::Procedural | Kind::OpenAiImages | Kind::OpenRouterImages) | None => {
            Err(ProviderError::Fatal {
                reason: format!(
                    "artist {:?}: unknown Artist provider {:?}; use one of: {}",
                    artist.slug,
                    artist.provider,
                    kind_names(Role::Artist)
                ),
            })
        }
    }
}

/// Builds the Brush implementation that the config names.
pub fn brush_provider(brush: &Brush, kit: &Kit) -> Result<Arc<dyn BrushProvider>, ProviderError> {
    let kit = kit.clone();
    match brush.kind() {
        Some(Kind::Procedural) => Ok(Arc::new(ProceduralBrush::new(brush)?)),
        Some(Kind::OpenAiImages) => Ok(Arc::new(OpenAiImages::new(brush, kit))),
        Some(Kind::OpenRouterImages) => Ok(Arc::new(OpenRouterImages::new(brush, kit))),
        Some(Kind::Offline | Kind::OpenAi | Kind::OpenRouter | Kind::Anthropic) | None => {
            Err(ProviderError::Fatal {
                reason: format!(
                    "brush {:?}: unknown Brush provider {:?}; use one of: {}",
                    brush.slug,
                    brush.provider,
                    kind_names(Role::Brush)
                ),
            })
        }
    }
}

/// A small deterministic generator (SplitMix64): the offline providers must give the same
/// output for the same inputs on every machine, which a seeded std-free PRNG guarantees.
#[derive(Debug, Clone)]
pub struct Seeded(u64);

impl Seeded {
    /// Seeds from any bytes via SHA-256, so every input bit matters.
    pub fn from_parts(parts: &[&[u8]]) -> Seeded {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for p in parts {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p);
        }
        let d = h.finalize();
        Seeded(u64::from_le_bytes(
            d[..8].try_into().expect("32-byte digest"),
        ))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}
