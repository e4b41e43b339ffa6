//! Sending stages as batches: the runs that need a stage are grouped by endpoint, key and
//! model (each provider wants one model per batch), split at the provider's size limit,
//! submitted, and each run gets its `submitted` ticket. A batch the provider refuses
//! fails its runs with the reason, so plain `chorus resume` can run them directly.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;

use super::{custom_id, BatchApi, BatchContext, BatchLine, Stage};
use crate::config::Kind;
use crate::generate::GenerateError;
use crate::store::{BatchTicket, RunRecord, Status};

/// A batch the provider accepted.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub provider: String,
    pub batch_id: String,
    pub stage: Stage,
    /// The Artist or Brush slugs it carries.
    pub who: String,
    pub requests: usize,
}

/// Submits `stage` of the runs at `which` whose Artist (or Brush) has a batch API,
/// updating them in place (ticket, or failure) and on disk. Runs with no batch API are
/// left untouched. Returns the accepted batches.
pub async fn submit(
    ctx: &BatchContext,
    runs: &mut [RunRecord],
    which: &[usize],
    stage: Stage,
) -> Result<Vec<Submitted>, GenerateError> {
    let mut lots: BTreeMap<String, (Arc<dyn BatchApi>, Vec<usize>)> = BTreeMap::new();
    for &i in which {
        let run = &runs[i];
        let Some(api) = ctx.api_for(run, stage) else {
            continue;
        };
        let Some(key) = lot_key(ctx, run, stage).filter(|_| line(ctx, run, stage).is_some()) else {
            continue;
        };
        lots.entry(key)
            .or_insert_with(|| (api, Vec::new()))
            .1
            .push(i);
    }
    let mut submitted = Vec::new();
    for (api, members) in lots.into_values() {
        for chunk in members.chunks(api.max_requests().max(1)) {
            // Each line from its own Artist's settings: a lot may mix models and params.
            let lines: Vec<BatchLine> = chunk
                .iter()
                .filter_map(|&i| line(ctx, &runs[i], stage))
                .collect();
            let result = api.submit(&lines).await;
            let mut who: Vec<&str> = chunk
                .iter()
                .map(|&i| match stage {
                    Stage::Artist => runs[i].artist_slug.as_str(),
                    Stage::Brush => runs[i].brush_slug.as_str(),
                })
                .collect();
            who.sort_unstable();
            who.dedup();
            let who = who.join(", ");
            match result {
                Ok(batch_id) => {
                    submitted.push(Submitted {
                        provider: api.provider().to_string(),
                        batch_id: batch_id.clone(),
                        stage,
                        who,
                        requests: lines.len(),
                    });
                    for &i in chunk {
                        let run = &mut runs[i];
                        run.meta.submitted = Some(BatchTicket {
                            stage: stage.as_str().to_string(),
                            provider: api.provider().to_string(),
                            batch_id: batch_id.clone(),
                            custom_id: custom_id(run.run_id, stage),
                            submitted_at: Utc::now(),
                        });
                        run.status = Status::Queued;
                        run.error = None;
                        run.updated_at = Some(Utc::now());
                        super::collect::save(ctx, run)?;
                    }
                }
                Err(e) => {
                    for &i in chunk {
                        let run = &mut runs[i];
                        run.status = Status::Failed;
                        run.error = Some(format!(
                            "{} stage: the {} batch was not accepted ({e}); `chorus resume {}` runs it directly",
                            stage.as_str(),
                            api.provider(),
                            run.run_group_id
                        ));
                        run.updated_at = Some(Utc::now());
                        super::collect::save(ctx, run)?;
                    }
                }
            }
        }
    }
    Ok(submitted)
}

/// Runs share a batch when they share provider, endpoint, key and model.
fn lot_key(ctx: &BatchContext, run: &RunRecord, stage: Stage) -> Option<String> {
    Some(match stage {
        Stage::Artist => {
            let a = ctx.artist(&run.artist_slug)?;
            // OpenAI and OpenRouter take one model per batch; Anthropic and the offline
            // simulation take any mix.
            let model = match a.kind() {
                Some(Kind::Anthropic | Kind::Offline) => "",
                _ => a.model.as_str(),
            };
            format!(
                "{}|{:?}|{:?}|{model}",
                a.provider, a.base_url, a.api_key_env
            )
        }
        Stage::Brush => {
            let b = ctx.brush(&run.brush_slug)?;
            format!(
                "{}|{:?}|{:?}|{}",
                b.provider, b.base_url, b.api_key_env, b.model
            )
        }
    })
}

fn line(ctx: &BatchContext, run: &RunRecord, stage: Stage) -> Option<BatchLine> {
    let group = ctx.group(run.run_group_id)?;
    let api = ctx.api_for(run, stage)?;
    let prompt = match stage {
        Stage::Artist => group.prompt_text.as_str(),
        Stage::Brush => run.image_prompt.as_str(),
    };
    Some(BatchLine {
        custom_id: custom_id(run.run_id, stage),
        body: api.body(prompt, group.seed),
    })
}
