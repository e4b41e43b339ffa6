//! The records under `runs/`, field for field. camelCase as in the seed schema; field
//! order here is the order on disk.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `runs/<group-id>/group.json`: what every run in a group shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupRecord {
    pub schema_version: u32,
    pub run_group_id: Uuid,
    pub prompt_version: String,
    pub prompt_text: String,
    pub prompt_sha256: String,
    pub brush: BrushRef,
    /// In registry order; this is the column order of the compare grid.
    pub artists: Vec<ArtistRef>,
    /// Seed handed to deterministic providers (offline Artists, procedural Brush).
    pub seed: u64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtistRef {
    pub slug: String,
    pub name: String,
    pub provider: String,
    pub model: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrushRef {
    pub slug: String,
    pub name: String,
    pub provider: String,
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Generating,
    Done,
    Failed,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Queued,
        Status::Generating,
        Status::Done,
        Status::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Generating => "generating",
            Status::Done => "done",
            Status::Failed => "failed",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `runs/<group-id>/<artist-slug>.json`: one Artist's answer in one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    pub schema_version: u32,
    pub run_id: Uuid,
    pub run_group_id: Uuid,
    pub artist_slug: String,
    pub brush_slug: String,
    pub prompt_version: String,
    pub status: Status,
    /// Markdown, untrusted: sanitise before it reaches a page.
    pub artist_stmt: String,
    pub image_prompt: String,
    /// The Brush's rewrite of the image prompt, when it reports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revised_prompt: Option<String>,
    /// File name of the image beside this record: `<artist-slug>.<ext>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_file: Option<String>,
    /// Why the run failed, in words a person can act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub meta: RunMeta,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// Model parameters, timing, tokens, cost and retries, stage by stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artist: Option<StageMeta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brush: Option<StageMeta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download: Option<StageMeta>,
    /// Non-fatal oddities, e.g. a reply that ignored the output markers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Stage state `submitted`: a stage waiting in a provider's batch (`generate --batch`).
    /// Cleared in the same write that records the stage's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted: Option<BatchTicket>,
    /// Paid stages a later attempt replaced (say, an image painted again because its link
    /// expired before the download): kept so the run's cost is what was really spent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<SupersededStage>,
}

/// Where a run's stage waits: the provider's batch and the line that carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchTicket {
    /// `artist` or `brush`.
    pub stage: String,
    /// The batch API: `openai`, `anthropic`, `openrouter` or `offline`.
    pub provider: String,
    pub batch_id: String,
    /// `<runId>_<stage>`: ties the provider's result line to this run and stage.
    pub custom_id: String,
    pub submitted_at: DateTime<Utc>,
}

/// A stage that went through a provider's batch, and the share of the list price it
/// cost (0.5: half price).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchRef {
    pub provider: String,
    pub batch_id: String,
    pub price_factor: f64,
}

/// A stage that was done (and paid for) and then done again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SupersededStage {
    /// `artist`, `brush` or `download`.
    pub stage: String,
    /// Why it was done again.
    pub reason: String,
    #[serde(flatten)]
    pub meta: StageMeta,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStatus {
    Done,
    Failed,
    Interrupted,
}

/// One stage of a run (artist call, brush call, image download).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageMeta {
    pub status: StageStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The model id the provider answered with, usually a dated snapshot behind the
    /// configured alias (`gpt-6.2-sol` answered as `gpt-6.2-sol-2026-11-17`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_model: Option<String>,
    /// Parameters as sent (never headers or keys).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, serde_json::Value>,
    pub latency_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Tokens>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Cost>,
    #[serde(default = "one")]
    pub attempts: u32,
    /// Why each earlier attempt was retried.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retries: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Set when the stage ran in a provider's batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchRef>,
    pub finished_at: DateTime<Utc>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CostSource {
    /// The provider reported the figure.
    Provider,
    /// Computed from the prices in chorus.toml.
    Estimate,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    pub usd: f64,
    pub source: CostSource,
}

impl RunRecord {
    /// Total cost over all stages that report one, superseded ones included: what was
    /// really spent on this run.
    pub fn cost_usd(&self) -> Option<f64> {
        let costs: Vec<f64> = self
            .stages()
            .chain(self.meta.superseded.iter().map(|s| &s.meta))
            .filter_map(|s| s.cost.map(|c| c.usd))
            .collect();
        (!costs.is_empty()).then(|| costs.iter().sum())
    }

    /// Total latency over all stages, in milliseconds.
    pub fn latency_ms(&self) -> Option<u64> {
        let mut stages = self.stages().peekable();
        stages.peek()?;
        Some(stages.map(|s| s.latency_ms).sum())
    }

    pub fn tokens(&self) -> Option<Tokens> {
        self.meta.artist.as_ref().and_then(|s| s.tokens)
    }

    pub fn stages(&self) -> impl Iterator<Item = &StageMeta> {
        [&self.meta.artist, &self.meta.brush, &self.meta.download]
            .into_iter()
            .flatten()
    }
}
