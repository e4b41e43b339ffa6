//! One run's stages: the Artist stage (the one way a reply is parsed, cut, costed and
//! recorded, for direct and batch runs alike), then the Brush and the download, with the
//! run file written after each step.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;

use super::budget;
use super::events::Event;
use super::plan::save;
use super::providers::{self, ArtistProvider, ArtistRequest, BrushProvider, ProviderError};
use super::retry::Attempts;
use super::throttle::Gate;
use super::{paint, parse, Batch, GenerateError};
use crate::config::{Artist, Brush};
use crate::store::{self, Cost, CostSource, RunMeta, RunRecord, StageMeta, StageStatus, Status};

/// Everything one run needs to proceed.
pub struct RunJob {
    pub run: RunRecord,
    pub prompt: String,
    pub seed: u64,
    pub artist: Arc<dyn ArtistProvider>,
    pub artist_config: Artist,
    pub artist_gate: Arc<Gate>,
    pub brush: Arc<dyn BrushProvider>,
    pub brush_config: Brush,
    pub brush_gate: Arc<Gate>,
}

impl RunJob {
    /// What this run may still cost (stages already done cost nothing more).
    pub fn estimate(&self) -> Result<f64, String> {
        budget::estimate_run(
            &self.artist_config,
            &self.brush_config,
            &self.prompt,
            stage_done(&self.run.meta.artist),
        )
    }
}

/// Drives one run through its remaining stages (artist → brush → download), writing the
/// record after each. A stage already done (say, a paid-for statement) is never repeated.
pub async fn execute_run(batch: &Batch, job: RunJob) -> Result<RunRecord, GenerateError> {
    let RunJob {
        mut run,
        prompt,
        seed,
        artist,
        artist_config,
        artist_gate,
        brush,
        brush_config,
        brush_gate,
    } = job;
    batch.events.emit(Event::RunStarted {
        group: run.run_group_id,
        artist: run.artist_slug.clone(),
    });
    let mut rec = Recorder {
        batch,
        pending: None,
    };
    run.status = Status::Generating;
    run.error = None;
    touch(&mut run);
    rec.save_behind(&run).await?;

    if !stage_done(&run.meta.artist) {
        if batch.stop.is_set() {
            return interrupted(&mut rec, run, "artist").await;
        }
        let started = Instant::now();
        let request = ArtistRequest { prompt, seed };
        let (result, attempts) = batch
            .attempt(&run, "artist", &artist_gate, || artist.write(&request))
            .await;
        let mut stage = stage_meta(
            Some(&artist_config.provider),
            Some(&artist_config.model),
            artist.params(),
            started,
            attempts,
        );
        match result {
            Ok(reply) => {
                record_reply(&mut run, &mut stage, reply, &artist_config.price, 1.0);
                run.meta.artist = Some(stage);
            }
            Err(e) => return fail(&mut rec, run, stage, |m| &mut m.artist, "artist", e).await,
        }
        touch(&mut run);
        rec.save_behind(&run).await?;
    }

    if !(stage_done(&run.meta.download) && image_present(&batch.runs_dir, &run)) {
        let painter = paint::Painter {
            brush: brush.as_ref(),
            config: &brush_config,
            gate: &brush_gate,
            seed,
        };
        run = match paint::brush_and_download(&mut rec, run, painter).await? {
            Ok(run) => run,
            Err(failed) => return Ok(failed),
        };
    }

    run.status = Status::Done;
    touch(&mut run);
    rec.save(&run).await?;
    // Only now that the run names its image is the Brush's answer no longer needed.
    paint::forget(&rec, &run).await;
    batch.events.emit(Event::finished(&run));
    Ok(run)
}

/// The Artist stage's one way to keep a reply, for direct and batch runs alike: the
/// statement and image prompt parsed and cut to what a run file may hold, the warnings,
/// tokens, answering model and cost (`price_factor` 0.5 for a Batch API).
pub(crate) fn record_reply(
    run: &mut RunRecord,
    stage: &mut StageMeta,
    reply: providers::ArtistReply,
    price: &crate::config::Price,
    price_factor: f64,
) {
    let parsed = parse::parse_reply(&reply.text);
    run.artist_stmt = parsed.statement;
    run.image_prompt = parsed.image_prompt;
    run.meta.warnings.extend(reply.warnings);
    run.meta.warnings.extend(parsed.warnings);
    for (what, text) in [
        ("statement", &mut run.artist_stmt),
        ("image prompt", &mut run.image_prompt),
    ] {
        run.meta
            .warnings
            .extend(cut_to(text, store::MAX_STATEMENT_BYTES, what));
    }
    stage.tokens = reply.tokens;
    stage.request_id = reply.request_id;
    stage.answered_model = reply.model;
    stage.cost = cost(reply.cost_usd, || {
        let t = reply.tokens?;
        budget::token_usd(t.input as f64, t.output as f64, price).map(|usd| usd * price_factor)
    });
}

/// Cuts `text` to at most `max` bytes (on a character boundary), saying so: the site shows
/// no more of a statement, and a run file must stay readable.
fn cut_to(text: &mut String, max: usize, what: &str) -> Option<String> {
    if text.len() <= max {
        return None;
    }
    let end = crate::untrusted::cut_at(text, max).len();
    let warning = format!(
        "the {what} was {} bytes; it was cut to {end}, the most a page shows",
        text.len()
    );
    text.truncate(end);
    Some(warning)
}

pub(crate) fn stage_done(stage: &Option<StageMeta>) -> bool {
    stage
        .as_ref()
        .is_some_and(|s| s.status == StageStatus::Done)
}

pub(crate) fn image_present(runs_dir: &Path, run: &RunRecord) -> bool {
    let dir = store::group_dir(runs_dir, &run.run_group_id);
    run.image_file
        .as_ref()
        .is_some_and(|f| dir.join(f).is_file())
}

pub(crate) fn touch(run: &mut RunRecord) {
    run.updated_at = Some(Utc::now());
}

pub(crate) fn stage_meta(
    provider: Option<&str>,
    model: Option<&str>,
    params: BTreeMap<String, serde_json::Value>,
    started: Instant,
    attempts: Attempts,
) -> StageMeta {
    StageMeta {
        status: StageStatus::Done,
        provider: provider.map(str::to_string),
        model: model.map(str::to_string),
        answered_model: None,
        params,
        latency_ms: started.elapsed().as_millis() as u64,
        tokens: None,
        cost: None,
        attempts: attempts.count,
        retries: attempts.reasons,
        request_id: None,
        error: None,
        batch: None,
        finished_at: Utc::now(),
    }
}

/// The provider's figure when it gives one, else the estimate from config prices.
pub(crate) fn cost(reported: Option<f64>, estimate: impl FnOnce() -> Option<f64>) -> Option<Cost> {
    // Rounded to 1e-10 dollars so float noise never shows up in `git diff`.
    let round = |usd: f64| (usd * 1e10).round() / 1e10;
    let (reported, estimate) = (reported.map(round), || estimate().map(round));
    match reported {
        Some(usd) => Some(Cost {
            usd,
            source: CostSource::Provider,
        }),
        None => estimate().map(|usd| Cost {
            usd,
            source: CostSource::Estimate,
        }),
    }
}

pub(crate) async fn fail(
    rec: &mut Recorder<'_>,
    mut run: RunRecord,
    mut stage: StageMeta,
    slot: fn(&mut RunMeta) -> &mut Option<StageMeta>,
    stage_name: &str,
    error: ProviderError,
) -> Result<RunRecord, GenerateError> {
    stage.status = match error {
        ProviderError::Interrupted => StageStatus::Interrupted,
        _ => StageStatus::Failed,
    };
    stage.error = Some(error.to_string());
    *slot(&mut run.meta) = Some(stage);
    run.status = Status::Failed;
    run.error = Some(match error {
        ProviderError::Interrupted => format!(
            "{stage_name} stage interrupted (Ctrl-C); run `chorus resume {}` to continue",
            run.run_group_id
        ),
        e => format!("{stage_name} stage: {e}"),
    });
    touch(&mut run);
    rec.save(&run).await?;
    rec.batch.events.emit(Event::finished(&run));
    Ok(run)
}

/// Ctrl-C came between stages: the run is recorded as stopped before `stage`.
pub(crate) async fn interrupted(
    rec: &mut Recorder<'_>,
    mut run: RunRecord,
    stage: &str,
) -> Result<RunRecord, GenerateError> {
    run.status = Status::Failed;
    run.error = Some(format!(
        "interrupted (Ctrl-C) before the {stage} stage; run `chorus resume {}` to continue",
        run.run_group_id
    ));
    touch(&mut run);
    rec.save(&run).await?;
    rec.batch.events.emit(Event::finished(&run));
    Ok(run)
}

/// A run's record writes. Intermediate states are written behind: the write finishes
/// while the next request is in flight. Each write waits for the one before, so the file
/// on disk only moves forward, and the final state is written before the run counts as
/// finished.
pub(crate) struct Recorder<'a> {
    pub(crate) batch: &'a Batch,
    pending: Option<tokio::task::JoinHandle<Result<(), GenerateError>>>,
}

impl Recorder<'_> {
    pub(crate) async fn flush(&mut self) -> Result<(), GenerateError> {
        match self.pending.take() {
            None => Ok(()),
            Some(handle) => match handle.await {
                Ok(result) => result,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => panic!("a record write was cancelled: {e}"),
            },
        }
    }

    pub(crate) async fn save_behind(&mut self, run: &RunRecord) -> Result<(), GenerateError> {
        self.flush().await?;
        let (dir, run) = (self.batch.runs_dir.clone(), run.clone());
        self.pending = Some(tokio::task::spawn_blocking(move || save(&dir, &run)));
        Ok(())
    }

    pub(crate) async fn save(&mut self, run: &RunRecord) -> Result<(), GenerateError> {
        self.flush().await?;
        self.batch.save(run).await
    }
}

/// Runs blocking file work on the blocking pool; a panic there stays a panic.
pub(crate) async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only a runtime shutting down cancels a blocking task; nothing waits for it then.
        Err(e) => panic!("a file write was cancelled: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_cut_on_a_character_boundary_with_a_warning() {
        let mut short = "rain".to_string();
        assert_eq!(cut_to(&mut short, 10, "statement"), None);
        let mut long = "é".repeat(10); // 20 bytes
        let warning = cut_to(&mut long, 7, "statement").unwrap();
        assert_eq!(long, "ééé");
        assert!(
            warning.contains("20 bytes") && warning.contains("cut to 6"),
            "{warning}"
        );
    }
}
