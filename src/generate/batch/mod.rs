//! `generate --batch`: the providers' own Batch APIs (OpenAI `/v1/batches`, Anthropic
//! Message Batches, OpenRouter batches, and a simulated offline one). One small trait,
//! [`BatchApi`], per provider; `submit` sends runs' stages as batches and records a
//! `submitted` ticket on each run; `collect` polls, downloads and records each result
//! once, keyed by `custom_id`. Like the rest of `generate`, it never renders HTML.

mod anthropic;
mod collect;
mod offline;
mod openai;
mod openrouter;
pub mod report;
mod submit;
mod wire;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use uuid::Uuid;

use super::providers::{ArtistReply, BrushReply, Kit, ProviderError};
use super::GenerateError;
use crate::config::{Artist, Brush, ImageFamily, Kind, Limits, Project};
use crate::store::{GroupRecord, RunRecord};

pub use collect::{collect, survey, BatchStatus, Collected, Waiting};
pub use submit::{submit, Submitted};

/// Batch work is billed at half the list price by OpenAI, Anthropic and OpenRouter.
pub const PRICE_FACTOR: f64 = 0.5;

/// The completion window every provider gives a batch.
pub const WINDOW_HOURS: i64 = 24;

/// Which stage of a run a batch line carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    Artist,
    Brush,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Artist => "artist",
            Stage::Brush => "brush",
        }
    }

    pub fn parse(text: &str) -> Option<Stage> {
        match text {
            "artist" => Some(Stage::Artist),
            "brush" => Some(Stage::Brush),
            _ => None,
        }
    }
}

/// `<runId>_<stage>`: within Anthropic's `^[a-zA-Z0-9_-]{1,64}$` and unique across groups.
pub fn custom_id(run_id: Uuid, stage: Stage) -> String {
    format!("{run_id}_{}", stage.as_str())
}

/// The run and stage a result line names, if it is one of ours.
pub fn parse_custom_id(id: &str) -> Option<(Uuid, Stage)> {
    let (run, stage) = id.rsplit_once('_')?;
    Some((Uuid::parse_str(run).ok()?, Stage::parse(stage)?))
}

/// Batch ids come back from run files, which are untrusted, and go into request paths:
/// only the characters providers use (`batch_…`, `msgbatch_…`, `offline-batch-…`) pass.
pub fn safe_batch_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// One request in a batch: the body is exactly what the direct call would send.
#[derive(Debug, Clone)]
pub struct BatchLine {
    pub custom_id: String,
    pub body: Value,
}

/// Where a batch stands, in the provider's words and as chorus acts on it.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Still validating or running: collect later.
    Running,
    /// Finished (completed, expired or cancelled): results are ready, possibly partial.
    Ended,
    /// Refused as a whole (say, failed validation): every line failed for this reason.
    Failed(String),
}

/// A poll's answer: the provider's own state word and counts.
#[derive(Debug, Clone)]
pub struct Progress {
    pub state: String,
    pub phase: Phase,
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// What `results` needs from the poll (file ids, inline results).
    pub handles: Value,
}

impl Progress {
    pub fn counts(&self) -> String {
        format!(
            "{}: {} of {} done, {} failed",
            self.state, self.succeeded, self.total, self.failed
        )
    }
}

/// One result line: the response body, or the provider's reason it has none.
#[derive(Debug, Clone)]
pub struct LineResult {
    pub custom_id: String,
    pub outcome: Result<Value, String>,
}

/// A result body read by the provider that produced it.
#[derive(Debug)]
pub enum Answer {
    Text(ArtistReply),
    Image(BrushReply),
}

/// One provider's Batch API for one endpoint (an Artist's chat, a Brush's images).
/// A request body's top-level fields, as `meta` records a stage's parameters.
pub(crate) fn body_params(body: &Value) -> BTreeMap<String, Value> {
    body.as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

#[async_trait::async_trait]
pub trait BatchApi: Send + Sync {
    /// Recorded in tickets: `openai`, `anthropic`, `openrouter` or `offline`.
    fn provider(&self) -> &'static str;
    /// Most requests one batch may carry.
    fn max_requests(&self) -> usize;
    /// The request body for one line.
    fn body(&self, prompt: &str, seed: u64) -> Value;
    /// Parameters as sent, for the run's meta.
    fn params(&self) -> BTreeMap<String, Value>;
    /// Reads one successful result body.
    fn parse(&self, body: &Value) -> Result<Answer, ProviderError>;
    /// Sends the lines as one batch; returns the provider's batch id.
    async fn submit(&self, lines: &[BatchLine]) -> Result<String, ProviderError>;
    async fn poll(&self, id: &str) -> Result<Progress, ProviderError>;
    /// Every result line of an ended batch, in the provider's order.
    async fn results(
        &self,
        id: &str,
        progress: &Progress,
    ) -> Result<Vec<LineResult>, ProviderError>;
}

/// What batch work shares: where runs live, the HTTP kit, limits, and who takes part.
pub struct BatchContext {
    pub runs_dir: PathBuf,
    /// Where the offline batch simulation keeps its "uploaded" input files.
    pub cache_dir: PathBuf,
    pub kit: Kit,
    pub limits: Limits,
    pub artists: Vec<Artist>,
    pub brushes: Vec<Brush>,
    pub groups: Vec<GroupRecord>,
}

impl BatchContext {
    pub fn new(
        project: &Project,
        kit: Kit,
        artists: Vec<Artist>,
        brushes: Vec<Brush>,
        groups: Vec<GroupRecord>,
    ) -> BatchContext {
        BatchContext {
            runs_dir: project.runs_dir(),
            cache_dir: project.cache_dir(),
            kit,
            limits: project.config.limits.clone(),
            artists,
            brushes,
            groups,
        }
    }

    /// For `chorus status`: every Artist and Brush the project knows, offline ones too.
    pub fn for_status(project: &Project) -> Result<BatchContext, ProviderError> {
        let mut artists = project.config.artists.clone();
        artists.extend(super::providers::offline_roster());
        let kit = Kit::new(&project.config.limits)?;
        let brushes = project.config.brushes.clone();
        Ok(BatchContext::new(
            project,
            kit,
            artists,
            brushes,
            Vec::new(),
        ))
    }

    pub fn artist(&self, slug: &str) -> Option<&Artist> {
        self.artists.iter().find(|a| a.slug == slug)
    }

    pub fn brush(&self, slug: &str) -> Option<&Brush> {
        self.brushes.iter().find(|b| b.slug == slug)
    }

    pub fn group(&self, id: Uuid) -> Option<&GroupRecord> {
        self.groups.iter().find(|g| g.run_group_id == id)
    }

    /// The batch API that carries `stage` of `run`, if its Artist or Brush has one.
    pub fn api_for(&self, run: &RunRecord, stage: Stage) -> Option<Arc<dyn BatchApi>> {
        match stage {
            Stage::Artist => self.for_artist(self.artist(&run.artist_slug)?).ok(),
            Stage::Brush => self.for_brush(self.brush(&run.brush_slug)?),
        }
    }

    /// The Batch API of an Artist's provider, or why it has none.
    pub fn for_artist(&self, artist: &Artist) -> Result<Arc<dyn BatchApi>, String> {
        let (kit, limits) = (&self.kit, &self.limits);
        match artist.kind() {
            Some(Kind::OpenAi) => Ok(Arc::new(openai::OpenAiBatch::chat(artist, kit, limits))),
            Some(Kind::Anthropic) => Ok(Arc::new(anthropic::AnthropicBatch::new(
                artist, kit, limits,
            ))),
            Some(Kind::OpenRouter) => Ok(Arc::new(openrouter::OpenRouterBatch::new(
                artist, kit, limits,
            ))),
            Some(Kind::Offline) => offline::OfflineBatch::new(artist, &self.cache_dir)
                .map(|b| Arc::new(b) as Arc<dyn BatchApi>)
                .map_err(|e| e.to_string()),
            _ => Err(format!(
                "artist {:?}: provider {:?} has no batch API; run it without --batch",
                artist.slug, artist.provider
            )),
        }
    }

    /// The Batch API of a Brush, when it has one: only OpenAI's gpt-image models paint
    /// in batches. dall-e-3, OpenRouter images and the procedural Brush paint directly.
    pub fn for_brush(&self, brush: &Brush) -> Option<Arc<dyn BatchApi>> {
        brush_batches(brush).then(|| {
            Arc::new(openai::OpenAiBatch::images(brush, &self.kit, &self.limits))
                as Arc<dyn BatchApi>
        })
    }
}

/// Whether a Brush can paint through a batch (OpenAI gpt-image models).
pub fn brush_batches(brush: &Brush) -> bool {
    brush.kind() == Some(Kind::OpenAiImages)
        && ImageFamily::of(&brush.model) == Some(ImageFamily::GptImage)
}

/// The Artists that cannot go through `--batch`, as lines for the error.
pub fn unsupported(artists: &[Artist]) -> Vec<String> {
    artists
        .iter()
        .filter(|a| !a.kind().is_some_and(|k| k.info().batch_api))
        .map(|a| {
            format!(
                "artist {:?}: provider {:?} has no batch API",
                a.slug, a.provider
            )
        })
        .collect()
}

/// The upper-bound cost of sending `runs`' remaining stages through batches: Artists and
/// batch-capable Brushes at [`PRICE_FACTOR`], other Brushes at list price.
pub fn estimate(ctx: &BatchContext, runs: &[RunRecord]) -> Result<f64, String> {
    let mut usd = 0.0;
    for run in runs {
        let (Some(artist), Some(brush), Some(group)) = (
            ctx.artist(&run.artist_slug),
            ctx.brush(&run.brush_slug),
            ctx.group(run.run_group_id),
        ) else {
            continue;
        };
        if !super::run::stage_done(&run.meta.artist) {
            usd += super::budget::estimate_artist(artist, &group.prompt_text)? * PRICE_FACTOR;
        }
        let factor = if brush_batches(brush) {
            PRICE_FACTOR
        } else {
            1.0
        };
        usd += super::budget::estimate_brush(brush)? * factor;
    }
    Ok(usd)
}

/// What `resume` did with the batches, and what is left to run directly.
#[derive(Debug, Default)]
pub struct Continued {
    pub collected: Collected,
    pub submitted: Vec<Submitted>,
    /// Runs to drive directly now: not done, in no batch, and not just failed by one.
    pub direct: Vec<RunRecord>,
}

impl Continued {
    /// Batches left running at the providers (old ones, and any just submitted).
    pub fn still_running(&self) -> usize {
        self.collected.waiting.len() + self.submitted.len()
    }
}

/// `generate --batch`, once the plan is made: refuse Artists without a batch API and a
/// batch over `max_cost` (at batch prices) before anything is written; then write the
/// plan and submit every Artist request. Returns the runs as submitted and the batches.
pub fn start(
    ctx: &BatchContext,
    plan: &super::Plan,
    max_cost: Option<f64>,
) -> Result<(Vec<RunRecord>, Vec<Submitted>), GenerateError> {
    let unsupported = unsupported(&plan.artists);
    if !unsupported.is_empty() {
        return Err(GenerateError::Plan(format!(
            "--batch: nothing was sent and nothing was written:\n  {}\nRun these Artists without --batch, or leave them out with --artists",
            unsupported.join("\n  ")
        )));
    }
    if let Some(max) = max_cost {
        let estimate = estimate(ctx, &super::preview_runs(plan)).map_err(GenerateError::Plan)?;
        super::check_budget(estimate, max)?;
    }
    let mut runs = super::write_plan(&ctx.runs_dir, plan)?;
    let all: Vec<usize> = (0..runs.len()).collect();
    let submitted =
        block_on(submit(ctx, &mut runs, &all, Stage::Artist)).map_err(GenerateError::Plan)??;
    Ok((runs, submitted))
}

/// `resume`'s batch half: collect every submitted batch; send the images of collected
/// runs whose Brush paints in batches as a second batch; with `resubmit` (`--batch`),
/// send runs that still need their Artist or Brush as new batches too. Lines that failed
/// in this collection are left failed, for the user to see and resume directly.
pub async fn continue_runs(
    ctx: &BatchContext,
    runs: Vec<RunRecord>,
    resubmit: bool,
) -> Result<Continued, GenerateError> {
    let mut collected = collect(ctx, runs).await?;
    let just_failed = collected.failed.clone();
    let mut runs = std::mem::take(&mut collected.runs);
    let mut submitted = Vec::new();
    let images = collect::brush_batch_candidates(ctx, &runs);
    submitted.extend(submit(ctx, &mut runs, &images, Stage::Brush).await?);
    if resubmit {
        let free = |r: &RunRecord| {
            r.meta.submitted.is_none()
                && r.status != crate::store::Status::Done
                && !just_failed.contains(&r.run_id)
        };
        let artists: Vec<usize> = (0..runs.len())
            .filter(|&i| free(&runs[i]) && !super::run::stage_done(&runs[i].meta.artist))
            .collect();
        submitted.extend(submit(ctx, &mut runs, &artists, Stage::Artist).await?);
        let brushes: Vec<usize> = (0..runs.len())
            .filter(|&i| free(&runs[i]) && super::run::stage_done(&runs[i].meta.artist))
            .collect();
        submitted.extend(submit(ctx, &mut runs, &brushes, Stage::Brush).await?);
    }
    let direct = runs
        .iter()
        .filter(|r| {
            r.meta.submitted.is_none()
                && r.status != crate::store::Status::Done
                && !just_failed.contains(&r.run_id)
        })
        .cloned()
        .collect();
    collected.runs = runs;
    Ok(Continued {
        collected,
        submitted,
        direct,
    })
}

/// Runs a future on a fresh runtime (the CLI is synchronous).
pub fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    Ok(runtime.block_on(future))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_ids_round_trip_and_fit_anthropic() {
        let id = Uuid::new_v4();
        for stage in [Stage::Artist, Stage::Brush] {
            let c = custom_id(id, stage);
            assert!(c.len() <= 64);
            assert!(c
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-'));
            assert_eq!(parse_custom_id(&c), Some((id, stage)));
        }
        assert_eq!(parse_custom_id("nonsense"), None);
        assert_eq!(parse_custom_id(&format!("{id}_painter")), None);
        assert!(safe_batch_id("batch_abc-1") && safe_batch_id("msgbatch_01X"));
        assert!(!safe_batch_id("../files/x") && !safe_batch_id("") && !safe_batch_id("a/b"));
    }
}
