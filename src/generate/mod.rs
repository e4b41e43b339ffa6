//! `generate` owns a batch: it plans run groups from the registry, writes the plan to
//! `runs/` before any provider is called, then drives every run through its stages
//! (artist → brush → image) and records each step. It never renders HTML.

pub mod batch;
pub mod budget;
pub mod events;
pub mod image;
mod paint;
pub mod parse;
pub mod preflight;
pub mod providers;
mod resume;
pub mod retry;
pub mod throttle;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use uuid::Uuid;

use crate::config::{Artist, Brush, Kind, Limits, Project};
use crate::store::{
    self, ArtistRef, BrushRef, Cost, CostSource, GroupRecord, RunMeta, RunRecord, StageMeta,
    StageStatus, Status, SCHEMA_VERSION,
};
use budget::Budget;
use events::{Event, Sink};
use providers::{ArtistProvider, ArtistRequest, BrushProvider, Kit, ProviderError};
pub use resume::{plan_resume, ResumePlan};
use retry::{with_retries, Attempts, Stop};
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
    #[error("{path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The groups to create and who takes part: decided before anything is written.
#[derive(Debug, Clone)]
pub struct Plan {
    pub artists: Vec<Artist>,
    pub brush: Brush,
    pub groups: Vec<GroupRecord>,
}

/// The built-in procedural Brush used by `--offline`.
pub fn procedural_brush() -> Brush {
    Brush {
        slug: "procedural".into(),
        name: "Procedural Brush".into(),
        provider: Kind::Procedural.name().into(),
        model: "procedural-v1".into(),
        size: Some("1024x1024".into()),
        quality: None,
        output_format: None,
        output_compression: None,
        response_format: None,
        base_url: None,
        api_key_env: None,
        price: Default::default(),
        concurrency: None,
        rpm: None,
    }
}

/// Chooses Artists, Brush and prompt for the batch; pure apart from reading a prompt file.
pub fn plan(project: &Project, opts: &GenerateOptions) -> Result<Plan, GenerateError> {
    let config = &project.config;
    let roster: Vec<Artist> = if opts.offline {
        providers::offline_roster()
    } else {
        config.artists.clone()
    };
    let artists = match &opts.artists {
        None => roster,
        Some(wanted) => {
            let mut chosen = Vec::new();
            for slug in wanted {
                let artist = roster.iter().find(|a| &a.slug == slug).ok_or_else(|| {
                    GenerateError::Plan(format!(
                        "--artists: no Artist {slug:?}{}; known: {}",
                        if opts.offline {
                            " among the offline Artists"
                        } else {
                            " in chorus.toml"
                        },
                        roster
                            .iter()
                            .map(|a| a.slug.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
                chosen.push(artist.clone());
            }
            chosen
        }
    };
    if artists.is_empty() {
        return Err(GenerateError::Plan(
            "no Artists to run: add [[artists]] to chorus.toml, or use --offline".into(),
        ));
    }
    if artists.len() > crate::store::MAX_ARTISTS_PER_GROUP {
        return Err(GenerateError::Plan(format!(
            "{} Artists selected, but a group holds at most {} (its compare page must stay \
             readable); choose some with --artists",
            artists.len(),
            crate::store::MAX_ARTISTS_PER_GROUP
        )));
    }

    let brush = if opts.offline {
        procedural_brush()
    } else {
        let slug = opts
            .brush
            .as_ref()
            .or(config.defaults.brush.as_ref())
            .ok_or_else(|| {
                GenerateError::Plan(
                    "no Brush chosen: pass --brush SLUG or set defaults.brush in chorus.toml"
                        .into(),
                )
            })?;
        project.brush(slug).cloned().ok_or_else(|| {
            GenerateError::Plan(format!(
                "--brush: no Brush {slug:?} in chorus.toml; known: {}",
                config
                    .brushes
                    .iter()
                    .map(|b| b.slug.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?
    };

    let version = opts
        .prompt
        .as_ref()
        .or(config.defaults.prompt.as_ref())
        .ok_or_else(|| {
            GenerateError::Plan(
                "no prompt chosen: pass --prompt VERSION or set defaults.prompt in chorus.toml"
                    .into(),
            )
        })?;
    let prompt = project
        .prompt(version)
        .map_err(|p| GenerateError::Plan(p.to_string()))?;
    let prompt_sha256 = store::sha256_hex(prompt.text.as_bytes());

    let now = Utc::now();
    let groups = (0..opts.repeat.max(1))
        .map(|i| {
            let id = Uuid::new_v4();
            let seed = match opts.seed {
                Some(s) => s.wrapping_add(u64::from(i)),
                None => id.as_u64_pair().0 >> 16,
            };
            GroupRecord {
                schema_version: SCHEMA_VERSION,
                run_group_id: id,
                prompt_version: prompt.version.clone(),
                prompt_text: prompt.text.clone(),
                prompt_sha256: prompt_sha256.clone(),
                brush: brush_ref(&brush),
                artists: artists.iter().map(artist_ref).collect(),
                seed,
                // Distinct timestamps keep "newest first" stable within one batch.
                created_at: now + chrono::Duration::milliseconds(i64::from(i)),
            }
        })
        .collect();
    Ok(Plan {
        artists,
        brush,
        groups,
    })
}

fn artist_ref(a: &Artist) -> ArtistRef {
    ArtistRef {
        slug: a.slug.clone(),
        name: a.name.clone(),
        provider: a.provider.clone(),
        model: a.model.clone(),
    }
}

fn brush_ref(b: &Brush) -> BrushRef {
    BrushRef {
        slug: b.slug.clone(),
        name: b.name.clone(),
        provider: b.provider.clone(),
        model: b.model.clone(),
        size: b.size.clone(),
        quality: b.quality.clone(),
    }
}

/// Writes every group and every run as `queued`, so the plan is on disk before any
/// money is spent. Returns the queued runs.
/// Files are written in parallel: each write ends in an fsync, and one after another
/// they would delay the first request of a large batch by seconds.
pub fn write_plan(runs_dir: &Path, plan: &Plan) -> Result<Vec<RunRecord>, GenerateError> {
    in_parallel(&plan.groups, |group| {
        store::write_group(runs_dir, group).map_err(|source| GenerateError::Write {
            path: store::group_dir(runs_dir, &group.run_group_id).join(store::GROUP_FILE),
            source,
        })
    })?;
    let runs = preview_runs(plan);
    in_parallel(&runs, |run| save(runs_dir, run))?;
    Ok(runs)
}

/// The runs a plan makes, all `queued`, before anything is written.
pub fn preview_runs(plan: &Plan) -> Vec<RunRecord> {
    let mut runs = Vec::new();
    for group in &plan.groups {
        for artist in &plan.artists {
            runs.push(queued_run(group, &artist.slug));
        }
    }
    runs
}

/// A run of `group` as the plan writes it, before any provider is called.
pub fn queued_run(group: &GroupRecord, artist_slug: &str) -> RunRecord {
    RunRecord {
        schema_version: SCHEMA_VERSION,
        run_id: Uuid::new_v4(),
        run_group_id: group.run_group_id,
        artist_slug: artist_slug.to_string(),
        brush_slug: group.brush.slug.clone(),
        prompt_version: group.prompt_version.clone(),
        status: Status::Queued,
        artist_stmt: String::new(),
        image_prompt: String::new(),
        revised_prompt: None,
        image_file: None,
        error: None,
        meta: RunMeta::default(),
        created_at: group.created_at,
        updated_at: None,
    }
}

/// Threads for writing a plan. fsync waits on the disk, not the CPU, so many more threads
/// than cores pay off: 300 records took 1.0 s on 2 threads and 0.25 s on 16 here.
const PLAN_WRITERS: usize = 16;

fn in_parallel<T: Sync>(
    items: &[T],
    write: impl Fn(&T) -> Result<(), GenerateError> + Sync,
) -> Result<(), GenerateError> {
    let chunk = items.len().div_ceil(PLAN_WRITERS).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().try_for_each(&write)))
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    })
}

fn save(runs_dir: &Path, run: &RunRecord) -> Result<(), GenerateError> {
    store::write_run(runs_dir, run).map_err(|source| GenerateError::Write {
        path: store::run_file(
            &store::group_dir(runs_dir, &run.run_group_id),
            &run.artist_slug,
        ),
        source,
    })
}

/// Artists and Brushes whose `api_key_env` names a variable that is unset or empty, as
/// lines for the message shown before any request is sent.
pub fn missing_keys(artists: &[Artist], brushes: &[&Brush]) -> Vec<String> {
    let unset = |env: &Option<String>| {
        env.as_ref()
            .filter(|e| std::env::var(e).map_or(true, |v| v.is_empty()))
            .cloned()
    };
    let mut lines: Vec<String> = artists
        .iter()
        .filter_map(|a| {
            unset(&a.api_key_env)
                .map(|env| format!("artist {:?} ({}): {env} is not set", a.slug, a.name))
        })
        .collect();
    lines.extend(brushes.iter().filter_map(|b| {
        unset(&b.api_key_env)
            .map(|env| format!("brush {:?} ({}): {env} is not set", b.slug, b.name))
    }));
    lines
}

/// The message for [`missing_keys`]: what is missing and the way to try chorus anyway.
pub fn missing_keys_message(lines: &[String]) -> String {
    format!(
        "missing API keys; nothing was sent and nothing was written:\n  {}\n\
         Export the variables above (or set api_key_env in chorus.toml), or try chorus without keys:\n  chorus generate --offline",
        lines.join("\n  ")
    )
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
        blocking(move || save(&dir, &run)).await
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
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
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

fn image_present(runs_dir: &Path, run: &RunRecord) -> bool {
    let dir = store::group_dir(runs_dir, &run.run_group_id);
    run.image_file
        .as_ref()
        .is_some_and(|f| dir.join(f).is_file())
}

fn touch(run: &mut RunRecord) {
    run.updated_at = Some(Utc::now());
}

fn stage_meta(
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

async fn fail(
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
async fn interrupted(
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
struct Recorder<'a> {
    batch: &'a Batch,
    pending: Option<tokio::task::JoinHandle<Result<(), GenerateError>>>,
}

impl Recorder<'_> {
    async fn flush(&mut self) -> Result<(), GenerateError> {
        match self.pending.take() {
            None => Ok(()),
            Some(handle) => match handle.await {
                Ok(result) => result,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => panic!("a record write was cancelled: {e}"),
            },
        }
    }

    async fn save_behind(&mut self, run: &RunRecord) -> Result<(), GenerateError> {
        self.flush().await?;
        let (dir, run) = (self.batch.runs_dir.clone(), run.clone());
        self.pending = Some(tokio::task::spawn_blocking(move || save(&dir, &run)));
        Ok(())
    }

    async fn save(&mut self, run: &RunRecord) -> Result<(), GenerateError> {
        self.flush().await?;
        self.batch.save(run).await
    }
}

/// Runs blocking file work on the blocking pool; a panic there stays a panic.
async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only a runtime shutting down cancels a blocking task; nothing waits for it then.
        Err(e) => panic!("a file write was cancelled: {e}"),
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

impl Plan {
    /// The estimate `--max-cost` checks before anything starts.
    pub fn estimate(&self) -> Result<f64, GenerateError> {
        let prompt = self
            .groups
            .first()
            .map(|g| g.prompt_text.as_str())
            .unwrap_or_default();
        let per_group = self
            .artists
            .iter()
            .map(|a| budget::estimate_run(a, &self.brush, prompt, false))
            .sum::<Result<f64, String>>()
            .map_err(GenerateError::Plan)?;
        Ok(per_group * self.groups.len() as f64)
    }
}

/// The estimate of what a list of jobs may still cost.
pub fn estimate_jobs(jobs: &[RunJob]) -> Result<f64, GenerateError> {
    jobs.iter()
        .map(RunJob::estimate)
        .sum::<Result<f64, String>>()
        .map_err(GenerateError::Plan)
}

/// Refuses a batch whose estimate is over the budget, naming both figures.
pub fn check_budget(estimate: f64, max_cost: f64) -> Result<(), GenerateError> {
    if estimate > max_cost {
        Err(GenerateError::Plan(format!(
            "the batch is estimated at ${estimate:.4}, over --max-cost ${max_cost:.4}; nothing was sent or written. \
             Raise --max-cost, run fewer Artists (--artists) or groups (--repeat)"
        )))
    } else {
        Ok(())
    }
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
