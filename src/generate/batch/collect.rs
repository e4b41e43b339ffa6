//! Collecting batches: poll each batch the runs' tickets name, download the results of
//! those that ended, and record each line on the run its `custom_id` names, clearing the
//! ticket in the same atomic write. A line whose run no longer holds that ticket was
//! recorded before (collecting twice, or after a crash), so it is skipped; a line naming
//! no run of ours is reported and ignored; a run the batch ended without answering fails
//! with the reason, ready for a direct `chorus resume`.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::{
    parse_custom_id, Answer, BatchApi, BatchContext, LineResult, Phase, Progress, Stage,
    PRICE_FACTOR,
};
use crate::generate::providers::{ArtistReply, BrushReply, ProviderError};
use crate::generate::run::{cost, record_reply, stage_done};
use crate::generate::{image, GenerateError};
use crate::store::{self, BatchRef, RunRecord, StageMeta, StageStatus, Status};

/// A batch still running at the provider (also what `chorus status` shows of a batch).
#[derive(Debug, Clone)]
pub struct Waiting {
    pub provider: String,
    pub batch_id: String,
    pub stage: String,
    pub runs: usize,
    pub submitted_at: DateTime<Utc>,
    /// The provider's own state and counts, or why they could not be had.
    pub progress: String,
}

/// What a collection did.
#[derive(Debug, Default)]
pub struct Collected {
    /// Every run passed in, as it now stands.
    pub runs: Vec<RunRecord>,
    pub waiting: Vec<Waiting>,
    /// Lines recorded now (done or failed), and lines skipped as recorded before.
    pub recorded: usize,
    /// Runs whose line failed in this collection (expired, errored, batch failed).
    pub failed: Vec<uuid::Uuid>,
    pub already: usize,
    /// Things the user should know (unknown lines, polls that failed).
    pub notes: Vec<String>,
}

type BatchKey = (String, String, String);

/// Polls and collects every batch the tickets of `runs` name.
pub async fn collect(ctx: &BatchContext, runs: Vec<RunRecord>) -> Result<Collected, GenerateError> {
    let mut out = Collected::default();
    let mut by_batch: BTreeMap<BatchKey, Vec<usize>> = BTreeMap::new();
    for (i, run) in runs.iter().enumerate() {
        if let Some(t) = &run.meta.submitted {
            by_batch
                .entry((t.provider.clone(), t.batch_id.clone(), t.stage.clone()))
                .or_default()
                .push(i);
        }
    }
    let mut runs = runs;
    for (key, members) in by_batch {
        collect_batch(ctx, &mut runs, key, &members, &mut out).await?;
    }
    out.runs = runs;
    Ok(out)
}

/// One batch, named by the tickets of `runs[members]`: polled, and once it has ended, its
/// result lines recorded in their runs.
async fn collect_batch(
    ctx: &BatchContext,
    runs: &mut [RunRecord],
    (provider, batch_id, stage_name): BatchKey,
    members: &[usize],
    out: &mut Collected,
) -> Result<(), GenerateError> {
    let first = &runs[members[0]];
    let mut waiting = Waiting {
        provider: provider.clone(),
        batch_id: batch_id.clone(),
        stage: stage_name.clone(),
        runs: members.len(),
        submitted_at: first
            .meta
            .submitted
            .as_ref()
            .map_or_else(Utc::now, |t| t.submitted_at),
        progress: String::new(),
    };
    let api = Stage::parse(&stage_name)
        .and_then(|stage| Some((stage, ctx.api_for(first, stage)?)))
        .filter(|(_, api)| api.provider() == provider && super::safe_batch_id(&batch_id));
    let Some((stage, api)) = api else {
        waiting.progress = format!(
            "not collected: the batch id is malformed, or its {stage_name} (group {}) no longer has a {provider} batch API in chorus.toml",
            first.run_group_id
        );
        out.waiting.push(waiting);
        return Ok(());
    };
    let custom_ids: Vec<String> = members
        .iter()
        .filter_map(|&i| runs[i].meta.submitted.as_ref())
        .map(|t| t.custom_id.clone())
        .collect();
    let Some((progress, lines)) =
        ended_lines(api.as_ref(), &batch_id, custom_ids, &mut waiting).await
    else {
        out.waiting.push(waiting);
        return Ok(());
    };
    failpoint("collect-after-download");
    let batch = Ended {
        api: api.as_ref(),
        provider: &provider,
        id: &batch_id,
        stage,
        state: &progress.state,
    };
    record_lines(ctx, &batch, runs, members, lines, out).await
}

/// The result lines of a batch that has ended (a failed batch fails every line), or None
/// with `waiting.progress` saying why there are none yet.
async fn ended_lines(
    api: &dyn BatchApi,
    batch_id: &str,
    custom_ids: Vec<String>,
    waiting: &mut Waiting,
) -> Option<(Progress, Vec<LineResult>)> {
    let progress = match api.poll(batch_id).await {
        Ok(p) => p,
        Err(e) => {
            waiting.progress = format!("not polled: {e}");
            return None;
        }
    };
    let lines = match &progress.phase {
        Phase::Running => {
            waiting.progress = progress.counts();
            return None;
        }
        Phase::Failed(reason) => custom_ids
            .into_iter()
            .map(|custom_id| LineResult {
                custom_id,
                outcome: Err(reason.clone()),
            })
            .collect(),
        Phase::Ended => match api.results(batch_id, &progress).await {
            Ok(lines) => lines,
            Err(e) => {
                waiting.progress = format!("{}; results not downloaded: {e}", progress.counts());
                return None;
            }
        },
    };
    Some((progress, lines))
}

/// A batch that has ended, as its lines are recorded.
struct Ended<'a> {
    api: &'a dyn BatchApi,
    provider: &'a str,
    id: &'a str,
    stage: Stage,
    /// The provider's final state, for runs it never answered.
    state: &'a str,
}

/// Records each line in the run whose ticket names it (each exactly once, saved at once),
/// then fails the members the batch never answered, so they can be run directly.
async fn record_lines(
    ctx: &BatchContext,
    batch: &Ended<'_>,
    runs: &mut [RunRecord],
    members: &[usize],
    lines: Vec<LineResult>,
    out: &mut Collected,
) -> Result<(), GenerateError> {
    let ticket_of = |run: &RunRecord, custom_id: Option<&str>| {
        run.meta
            .submitted
            .as_ref()
            .is_some_and(|t| t.batch_id == batch.id && custom_id.map_or(true, |c| t.custom_id == c))
    };
    let index: HashMap<String, usize> = members
        .iter()
        .filter_map(|&i| Some((runs[i].meta.submitted.as_ref()?.custom_id.clone(), i)))
        .collect();
    for line in lines {
        let slot = index
            .get(&line.custom_id)
            .copied()
            .filter(|&i| ticket_of(&runs[i], Some(&line.custom_id)));
        let Some(i) = slot else {
            let ours = parse_custom_id(&line.custom_id)
                .is_some_and(|(id, _)| runs.iter().any(|r| r.run_id == id));
            if ours {
                out.already += 1;
            } else {
                out.notes.push(format!(
                    "{} batch {}: a result line names custom_id {:?}, which is no run of this project; ignored",
                    batch.provider,
                    batch.id,
                    truncate(&line.custom_id)
                ));
            }
            continue;
        };
        let run = &mut runs[i];
        record(ctx, batch.api, batch.id, batch.stage, run, line.outcome).await?;
        save(ctx, run)?;
        failpoint("collect-after-first-record");
        out.recorded += 1;
        if run.status == Status::Failed {
            out.failed.push(run.run_id);
        }
    }
    for &i in members {
        let run = &mut runs[i];
        if ticket_of(run, None) {
            let reason = format!(
                "the batch ended ({}) without a result for this request",
                batch.state
            );
            record(ctx, batch.api, batch.id, batch.stage, run, Err(reason)).await?;
            save(ctx, run)?;
            out.recorded += 1;
            out.failed.push(run.run_id);
        }
    }
    Ok(())
}

/// Writes one run record off the async workers' hot path.
pub(super) fn save(ctx: &BatchContext, run: &RunRecord) -> Result<(), GenerateError> {
    tokio::task::block_in_place(|| {
        store::write_run(&ctx.runs_dir, run).map_err(|error| GenerateError::Write {
            path: store::run_file(
                &store::group_dir(&ctx.runs_dir, &run.run_group_id),
                &run.artist_slug,
            ),
            error,
        })
    })
}

/// Records one line's outcome on its run and clears the ticket.
async fn record(
    ctx: &BatchContext,
    api: &dyn BatchApi,
    batch_id: &str,
    stage: Stage,
    run: &mut RunRecord,
    outcome: Result<serde_json::Value, String>,
) -> Result<(), GenerateError> {
    let submitted_at = run
        .meta
        .submitted
        .take()
        .map_or_else(Utc::now, |t| t.submitted_at);
    run.updated_at = Some(Utc::now());
    let (provider, model) = match stage {
        Stage::Artist => ctx
            .artist(&run.artist_slug)
            .map(|a| (a.provider.clone(), a.model.clone())),
        Stage::Brush => ctx
            .brush(&run.brush_slug)
            .map(|b| (b.provider.clone(), b.model.clone())),
    }
    .unwrap_or_default();
    let mut meta = StageMeta {
        status: StageStatus::Done,
        provider: Some(provider),
        model: Some(model),
        answered_model: None,
        // The run's own Artist's params: one batch may carry several models.
        params: ctx
            .api_for(run, stage)
            .map_or_else(|| api.params(), |own| own.params()),
        latency_ms: (Utc::now() - submitted_at).num_milliseconds().max(0) as u64,
        tokens: None,
        cost: None,
        attempts: 1,
        retries: Vec::new(),
        request_id: None,
        error: None,
        batch: Some(BatchRef {
            provider: api.provider().to_string(),
            batch_id: batch_id.to_string(),
            price_factor: PRICE_FACTOR,
        }),
        finished_at: Utc::now(),
    };
    let answer = outcome
        .map_err(|reason| ProviderError::Fatal { reason })
        .and_then(|body| api.parse(&body));
    match (stage, answer) {
        (Stage::Artist, Ok(Answer::Text(reply))) => {
            record_statement(ctx, run, &mut meta, reply);
            Ok(())
        }
        (Stage::Brush, Ok(Answer::Image(reply))) => record_image(ctx, run, meta, reply).await,
        (_, Ok(_)) => {
            fail(
                run,
                meta,
                stage,
                "the result is not the kind this stage expects".into(),
            );
            Ok(())
        }
        (_, Err(e)) => {
            fail(run, meta, stage, e.to_string());
            Ok(())
        }
    }
}

fn record_statement(
    ctx: &BatchContext,
    run: &mut RunRecord,
    meta: &mut StageMeta,
    reply: ArtistReply,
) {
    let price = ctx
        .artist(&run.artist_slug)
        .map(|a| a.price.clone())
        .unwrap_or_default();
    record_reply(run, meta, reply, &price, PRICE_FACTOR);
    run.meta.artist = Some(meta.clone());
    // The run goes on to its Brush: still queued until that starts.
    run.status = Status::Queued;
    run.error = None;
}

async fn record_image(
    ctx: &BatchContext,
    run: &mut RunRecord,
    mut meta: StageMeta,
    reply: BrushReply,
) -> Result<(), GenerateError> {
    let price = ctx.brush(&run.brush_slug).and_then(|b| b.price.per_image);
    meta.cost = cost(reply.cost_usd, || price.map(|p| p * PRICE_FACTOR));
    run.revised_prompt = reply.revised_prompt.clone();
    let started = std::time::Instant::now();
    let caps = image::ImageCaps {
        max_bytes: ctx.limits.max_image_bytes,
        max_pixels: ctx.limits.max_image_pixels,
    };
    let checked = image::obtain(&ctx.kit.download, &reply.image, ctx.kit.timeout, caps).await;
    let checked = match checked {
        Ok(c) => c,
        Err(e) => {
            fail(
                run,
                meta,
                Stage::Brush,
                format!("the image is unusable: {e}"),
            );
            return Ok(());
        }
    };
    let name = store::image_file_name(&run.artist_slug, checked.extension);
    let path = store::group_dir(&ctx.runs_dir, &run.run_group_id).join(&name);
    let written =
        tokio::task::block_in_place(|| store::write_under(&ctx.runs_dir, &path, &checked.bytes));
    if let Err(e) = written {
        fail(
            run,
            meta,
            Stage::Brush,
            format!("cannot write {}: {e}", path.display()),
        );
        return Ok(());
    }
    let mut download = meta.clone();
    download.provider = None;
    download.model = None;
    download.cost = None;
    download.batch = None;
    download.params = BTreeMap::from([
        ("source".to_string(), "inline".into()),
        ("bytes".to_string(), checked.bytes.len().into()),
        ("format".to_string(), checked.extension.into()),
    ]);
    download.latency_ms = started.elapsed().as_millis() as u64;
    run.meta.brush = Some(meta);
    run.meta.download = Some(download);
    run.image_file = Some(name);
    run.status = Status::Done;
    run.error = None;
    Ok(())
}

fn fail(run: &mut RunRecord, mut meta: StageMeta, stage: Stage, reason: String) {
    meta.status = StageStatus::Failed;
    meta.error = Some(reason.clone());
    let batch = meta
        .batch
        .as_ref()
        .map(|b| format!("{} batch {}", b.provider, b.batch_id));
    match stage {
        Stage::Artist => run.meta.artist = Some(meta),
        Stage::Brush => run.meta.brush = Some(meta),
    }
    run.status = Status::Failed;
    run.error = Some(format!(
        "{} stage ({}): {reason}; `chorus resume {}` runs it directly",
        stage.as_str(),
        batch.unwrap_or_default(),
        run.run_group_id
    ));
}

/// The runs whose statement came from a batch and whose Brush paints in batches too,
/// with no brush attempt yet: their images go as a second batch.
pub fn brush_batch_candidates(ctx: &BatchContext, runs: &[RunRecord]) -> Vec<usize> {
    runs.iter()
        .enumerate()
        .filter(|(_, r)| {
            r.meta.submitted.is_none()
                && r.status != Status::Done
                && stage_done(&r.meta.artist)
                && r.meta.artist.as_ref().is_some_and(|a| a.batch.is_some())
                && r.meta.brush.is_none()
                && ctx.brush(&r.brush_slug).is_some_and(super::brush_batches)
        })
        .map(|(i, _)| i)
        .collect()
}

/// One submitted batch as `chorus status` shows it: the same facts as a batch still
/// running when `collect` returns.
pub type BatchStatus = Waiting;

/// Every batch the tickets of `runs` name, polled through `ctx` when one is given.
pub async fn survey(ctx: Option<&BatchContext>, runs: &[RunRecord]) -> Vec<BatchStatus> {
    let mut batches: BTreeMap<BatchKey, (usize, DateTime<Utc>, &RunRecord)> = BTreeMap::new();
    for run in runs {
        if let Some(t) = &run.meta.submitted {
            let entry = batches
                .entry((t.provider.clone(), t.batch_id.clone(), t.stage.clone()))
                .or_insert((0, t.submitted_at, run));
            entry.0 += 1;
            entry.1 = entry.1.min(t.submitted_at);
        }
    }
    let mut out = Vec::new();
    for ((provider, batch_id, stage), (n, at, run)) in batches {
        let progress = match ctx {
            None => "not polled (chorus.toml could not be read)".to_string(),
            Some(_) if !super::safe_batch_id(&batch_id) => "not polled: malformed batch id".into(),
            Some(ctx) => match Stage::parse(&stage).and_then(|s| ctx.api_for(run, s)) {
                None => {
                    format!("not polled: no {provider} batch API for this {stage} in chorus.toml")
                }
                Some(api) => match api.poll(&batch_id).await {
                    Ok(p) => p.counts(),
                    Err(e) => format!("not polled: {e}"),
                },
            },
        };
        out.push(BatchStatus {
            provider,
            batch_id,
            stage,
            runs: n,
            submitted_at: at,
            progress,
        });
    }
    out
}

/// A crash injected at a named point, for the tests that prove collecting survives one.
/// `abort` ends the process at once, as a kill would: no destructor, no flush.
fn failpoint(name: &str) {
    if std::env::var("CHORUS_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("failpoint {name}: aborting");
        std::process::abort();
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(80).collect()
}
