//! `generate` owns a batch: it plans run groups from the registry, writes the plan to
//! `runs/` before any provider is called, then drives every run through its stages
//! (artist → brush → image) and records each step. It never renders HTML.
//!
//! The rooms: `plan` (groups, keys, estimates, the plan on disk), `run` (one run's
//! stages and its record writes), `paint` (the Brush stage and the download), `batch`
//! (provider Batch APIs), `providers` (the wire protocols). This file holds what a
//! batch shares: its providers, throttles, the scheduler and Ctrl-C.

pub mod batch;
pub mod budget;
pub mod events;
pub mod image;
mod paint;
pub mod parse;
mod plan;
pub mod preflight;
pub mod providers;
mod resume;
pub mod retry;
mod run;
pub mod throttle;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::config::{Artist, Brush, Limits};
use crate::store::{GroupRecord, RunRecord};
use budget::Budget;
use events::{Event, Sink};
pub use plan::{
    check_budget, estimate_jobs, missing_keys, missing_keys_message, plan, preview_runs,
    procedural_brush, queued_run, write_plan, Plan,
};
use providers::{ArtistProvider, BrushProvider, Kit, ProviderError};
pub use resume::{plan_resume, ResumePlan};
use retry::{with_retries, Attempts, Stop};
use run::blocking;
pub use run::{execute_run, RunJob};
use throttle::{Gate, Gates};

/// What the user asked `generate` for.
#[derive(Debug, Clone, Default)]
pub struct GenerateOptions {
    pub offline: bool,
    pub artists: Option<Vec<String>>,
    pub brush: Option<String>,
    pub prompt: Option<String>,
    pub repeat: u32,
    /// Fixes the seed of the first group (later repetitions add one each).
    pub seed: Option<u64>,
    pub concurrency: Option<usize>,
    /// `--max-cost`: dollars this batch may spend.
    pub max_cost: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("{0}")]
    Plan(String),
    /// The why is in the message, not a source, so a chain of errors says it once.
    #[error("{}: {error}", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// The provider instances and throttles for a batch, one per Artist/Brush slug.
pub struct Providers {
    artists: Vec<(Artist, Arc<dyn ArtistProvider>)>,
    brushes: Vec<(Brush, Arc<dyn BrushProvider>)>,
    gates: Gates,
}

impl Providers {
    /// Sets every provider up; fails (before anything is written) if one cannot be.
    pub fn new(
        artists: &[Artist],
        brushes: &[Brush],
        kit: &Kit,
    ) -> Result<Providers, ProviderError> {
        Ok(Providers {
            artists: artists
                .iter()
                .map(|a| Ok((a.clone(), providers::artist_provider(a, kit)?)))
                .collect::<Result<_, ProviderError>>()?,
            brushes: brushes
                .iter()
                .map(|b| Ok((b.clone(), providers::brush_provider(b, kit)?)))
                .collect::<Result<_, ProviderError>>()?,
            gates: Gates::new(artists, brushes),
        })
    }

    /// The jobs for `runs`, each with its group from `groups`; runs whose group, Artist or
    /// Brush is not in this batch are left out.
    pub fn jobs(&self, runs: Vec<RunRecord>, groups: &[GroupRecord]) -> Vec<RunJob> {
        runs.into_iter()
            .filter_map(|run| {
                let group = groups.iter().find(|g| g.run_group_id == run.run_group_id)?;
                self.job(run, group)
            })
            .collect()
    }

    /// The job for one run of `group`; None if its Artist or Brush is not in this batch.
    pub fn job(&self, run: RunRecord, group: &GroupRecord) -> Option<RunJob> {
        let (artist_config, artist) = self
            .artists
            .iter()
            .find(|(a, _)| a.slug == run.artist_slug)?;
        let (brush_config, brush) = self
            .brushes
            .iter()
            .find(|(b, _)| b.slug == run.brush_slug)?;
        Some(RunJob {
            prompt: group.prompt_text.clone(),
            seed: group.seed,
            artist: artist.clone(),
            artist_gate: self.gates.for_artist(artist_config),
            artist_config: artist_config.clone(),
            brush: brush.clone(),
            brush_gate: self.gates.for_brush(brush_config),
            brush_config: brush_config.clone(),
            run,
        })
    }
}

/// What every run of a batch shares.
pub struct Batch {
    pub runs_dir: PathBuf,
    pub limits: Limits,
    pub kit: Kit,
    pub stop: Stop,
    pub budget: Option<Budget>,
    pub events: Arc<dyn Sink>,
}

impl Batch {
    pub fn new(
        runs_dir: PathBuf,
        limits: Limits,
        events: Arc<dyn Sink>,
    ) -> Result<Batch, ProviderError> {
        let kit = Kit::new(&limits)?;
        Ok(Batch {
            runs_dir,
            limits,
            kit,
            stop: Stop::default(),
            budget: None,
            events,
        })
    }

    /// Writes the record off the async workers: each write ends in an fsync, and a
    /// blocked worker would stall every other run's network I/O.
    async fn save(&self, run: &RunRecord) -> Result<(), GenerateError> {
        let (dir, run) = (self.runs_dir.clone(), run.clone());
        blocking(move || plan::save(&dir, &run)).await
    }

    /// Runs one stage's call with retries, telling the watcher about each retry.
    async fn attempt<T, F, Fut>(
        &self,
        run: &RunRecord,
        stage: &'static str,
        gate: &Gate,
        call: F,
    ) -> (Result<T, ProviderError>, Attempts)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ProviderError>>,
    {
        self.events.emit(Event::Stage {
            group: run.run_group_id,
            artist: run.artist_slug.clone(),
            stage,
        });
        let events = self.events.clone();
        let (group, artist) = (run.run_group_id, run.artist_slug.clone());
        let on_retry = move |attempt: u32, reason: &str, wait: Duration| {
            events.emit(Event::Retry {
                group,
                artist: artist.clone(),
                stage,
                attempt,
                reason: reason.to_string(),
                wait_ms: wait.as_millis() as u64,
            })
        };
        with_retries(&self.limits, gate, &self.stop, &on_retry, call).await
    }
}

/// Runs every job, at most `concurrency` runs at a time, in order. Stops starting runs on
/// Ctrl-C or when the budget would be passed; those runs stay `queued` on disk. Returns
/// every run's record, started or not.
pub async fn execute_all(
    batch: Arc<Batch>,
    jobs: Vec<RunJob>,
    concurrency: usize,
) -> Result<Vec<RunRecord>, GenerateError> {
    let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    let mut not_started = Vec::new();
    // Records come back in plan order, whatever order they finished in.
    let order: std::collections::HashMap<(Uuid, String), usize> = jobs
        .iter()
        .enumerate()
        .map(|(i, j)| ((j.run.run_group_id, j.run.artist_slug.clone()), i))
        .collect();
    let mut jobs = jobs.into_iter();
    for job in jobs.by_ref() {
        let permit = tokio::select! {
            permit = semaphore.clone().acquire_owned() => permit.ok(),
            _ = batch.stop.wait() => None,
        };
        let Some(permit) = permit else {
            not_started.push(job.run);
            break;
        };
        if batch.stop.is_set() {
            not_started.push(job.run);
            break;
        }
        let estimate = job.estimate().unwrap_or(0.0);
        if let Some(budget) = &batch.budget {
            if !budget.try_reserve(estimate) {
                batch.events.emit(Event::Notice {
                    message: format!(
                        "budget: ${:.4} spent, and the next run (estimate ${estimate:.4}) would pass --max-cost ${:.4}; no more runs start (resume later with `chorus resume`)",
                        budget.spent(),
                        budget.max_usd
                    ),
                });
                not_started.push(job.run);
                break;
            }
        }
        let batch = batch.clone();
        set.spawn(async move {
            let _permit = permit;
            let before = job.run.cost_usd().unwrap_or(0.0);
            let result = execute_run(&batch, job).await;
            if let (Some(budget), Ok(run)) = (&batch.budget, &result) {
                budget.settle(estimate, run.cost_usd().unwrap_or(0.0) - before);
            }
            result
        });
    }
    not_started.extend(jobs.map(|j| j.run));
    let mut finished = Vec::new();
    while let Some(joined) = set.join_next().await {
        finished
            .push(joined.map_err(|e| GenerateError::Plan(format!("a run task stopped: {e}")))??);
    }
    finished.extend(not_started);
    finished.sort_by_key(|r| order.get(&(r.run_group_id, r.artist_slug.clone())).copied());
    Ok(finished)
}

/// The CLI's Ctrl-C handling: the first stops new work (in-flight requests finish or are
/// recorded as interrupted); the second quits at once. Every write is atomic, so quitting
/// never leaves a half-written file.
pub fn watch_ctrl_c(stop: Stop, events: Arc<dyn Sink>) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        stop.trigger();
        events.emit(Event::Notice {
            message: "Ctrl-C: no new work will start; finishing requests in flight (Ctrl-C again to quit at once)".into(),
        });
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("Ctrl-C again: quitting now; files on disk are whole. Continue later with `chorus resume --all`.");
            std::process::exit(130);
        }
    });
}

/// How a driven batch ended.
#[derive(Debug)]
pub struct Outcome {
    pub runs: Vec<RunRecord>,
    /// Ctrl-C stopped it early.
    pub interrupted: bool,
}

/// Runs the jobs on a fresh runtime with Ctrl-C handling.
pub fn drive(
    batch: Batch,
    jobs: Vec<RunJob>,
    concurrency: usize,
) -> Result<Outcome, GenerateError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| GenerateError::Plan(format!("cannot start the async runtime: {e}")))?;
    let batch = Arc::new(batch);
    runtime.block_on(async {
        watch_ctrl_c(batch.stop.clone(), batch.events.clone());
        let runs = execute_all(batch.clone(), jobs, concurrency).await?;
        Ok(Outcome {
            runs,
            interrupted: batch.stop.is_set(),
        })
    })
}
