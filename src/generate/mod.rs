//! `generate` owns a batch: it plans run groups from the registry, writes the plan to
//! `runs/` before any provider is called, then drives every run through its stages
//! (artist → brush → image) and records each step. It never renders HTML.

pub mod parse;
pub mod providers;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use uuid::Uuid;

use crate::config::{Artist, Brush, Project};
use crate::store::{
    self, ArtistRef, BrushRef, Cost, CostSource, GroupRecord, RunMeta, RunRecord, StageMeta,
    StageStatus, Status, SCHEMA_VERSION,
};
use providers::{
    ArtistProvider, ArtistRequest, BrushProvider, BrushRequest, ImageSource, ProviderError,
};

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
        provider: "procedural".into(),
        model: "procedural-v1".into(),
        size: Some("1024x1024".into()),
        quality: None,
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
pub fn write_plan(runs_dir: &Path, plan: &Plan) -> Result<Vec<RunRecord>, GenerateError> {
    let mut runs = Vec::new();
    for group in &plan.groups {
        let dir = store::group_dir(runs_dir, &group.run_group_id);
        store::write_group(runs_dir, group).map_err(|source| GenerateError::Write {
            path: dir.join(store::GROUP_FILE),
            source,
        })?;
        for artist in &plan.artists {
            let run = RunRecord {
                schema_version: SCHEMA_VERSION,
                run_id: Uuid::new_v4(),
                run_group_id: group.run_group_id,
                artist_slug: artist.slug.clone(),
                brush_slug: plan.brush.slug.clone(),
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
            };
            save(runs_dir, &run)?;
            runs.push(run);
        }
    }
    Ok(runs)
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

/// Everything one run needs to proceed.
pub struct RunJob {
    pub run: RunRecord,
    pub prompt: String,
    pub seed: u64,
    pub artist: Arc<dyn ArtistProvider>,
    pub artist_config: Artist,
    pub brush: Arc<dyn BrushProvider>,
    pub brush_config: Brush,
}

/// Drives one run through its remaining stages, writing the record after each. A stage
/// already done (say, a paid-for statement) is never repeated.
pub async fn execute_run(runs_dir: &Path, job: RunJob) -> Result<RunRecord, GenerateError> {
    let RunJob {
        mut run,
        prompt,
        seed,
        artist,
        artist_config,
        brush,
        brush_config,
    } = job;
    run.status = Status::Generating;
    run.error = None;
    touch(&mut run);
    save(runs_dir, &run)?;

    if !stage_done(&run.meta.artist) {
        let started = Instant::now();
        let result = artist.write(&ArtistRequest { prompt, seed }).await;
        let mut stage = stage_meta(
            &artist_config.provider,
            &artist_config.model,
            artist.params(),
            started,
        );
        match result {
            Ok(reply) => {
                let parsed = parse::parse_reply(&reply.text);
                run.artist_stmt = parsed.statement;
                run.image_prompt = parsed.image_prompt;
                run.meta.warnings.extend(parsed.warnings);
                stage.tokens = reply.tokens;
                stage.request_id = reply.request_id;
                stage.cost = cost(reply.cost_usd, || {
                    let t = reply.tokens?;
                    let p = &artist_config.price;
                    Some(
                        t.input as f64 * p.input_per_mtok? / 1e6
                            + t.output as f64 * p.output_per_mtok? / 1e6,
                    )
                });
                run.meta.artist = Some(stage);
            }
            Err(e) => return fail(runs_dir, run, stage, |m| &mut m.artist, "artist", e),
        }
        save(runs_dir, &run)?;
    }

    if !stage_done(&run.meta.brush) || !image_present(runs_dir, &run) {
        let started = Instant::now();
        let result = brush
            .paint(&BrushRequest {
                image_prompt: run.image_prompt.clone(),
                seed,
            })
            .await;
        let mut stage = stage_meta(
            &brush_config.provider,
            &brush_config.model,
            brush.params(),
            started,
        );
        let reply = match result {
            Ok(reply) => reply,
            Err(e) => return fail(runs_dir, run, stage, |m| &mut m.brush, "brush", e),
        };
        stage.request_id = reply.request_id;
        stage.cost = cost(reply.cost_usd, || brush_config.price.per_image);
        let ImageSource::Bytes(bytes) = reply.image;
        match store_image(runs_dir, &run, &bytes) {
            Ok(file) => run.image_file = Some(file),
            Err(reason) => {
                return fail(
                    runs_dir,
                    run,
                    stage,
                    |m| &mut m.brush,
                    "brush",
                    ProviderError::Fatal { reason },
                )
            }
        }
        run.revised_prompt = reply.revised_prompt;
        run.meta.brush = Some(stage);
    }

    run.status = Status::Done;
    touch(&mut run);
    save(runs_dir, &run)?;
    Ok(run)
}

fn stage_done(stage: &Option<StageMeta>) -> bool {
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
    provider: &str,
    model: &str,
    params: std::collections::BTreeMap<String, serde_json::Value>,
    started: Instant,
) -> StageMeta {
    StageMeta {
        status: StageStatus::Done,
        provider: Some(provider.to_string()),
        model: Some(model.to_string()),
        params,
        latency_ms: started.elapsed().as_millis() as u64,
        tokens: None,
        cost: None,
        attempts: 1,
        retries: Vec::new(),
        request_id: None,
        error: None,
        finished_at: Utc::now(),
    }
}

/// The provider's figure when it gives one, else the estimate from config prices.
fn cost(reported: Option<f64>, estimate: impl FnOnce() -> Option<f64>) -> Option<Cost> {
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

fn fail(
    runs_dir: &Path,
    mut run: RunRecord,
    mut stage: StageMeta,
    slot: fn(&mut RunMeta) -> &mut Option<StageMeta>,
    stage_name: &str,
    error: ProviderError,
) -> Result<RunRecord, GenerateError> {
    stage.status = StageStatus::Failed;
    stage.error = Some(error.to_string());
    *slot(&mut run.meta) = Some(stage);
    run.status = Status::Failed;
    run.error = Some(format!("{stage_name} stage: {error}"));
    touch(&mut run);
    save(runs_dir, &run)?;
    Ok(run)
}

/// Decodes the image to prove it is one, then writes it as `<slug>.<ext>`, the extension
/// taken from the decoded format.
fn store_image(runs_dir: &Path, run: &RunRecord, bytes: &[u8]) -> Result<String, String> {
    let format = image::guess_format(bytes)
        .map_err(|e| format!("the Brush returned something that is not an image ({e})"))?;
    image::load_from_memory_with_format(bytes, format)
        .map_err(|e| format!("the Brush returned an image that does not decode ({e})"))?;
    let ext = format.extensions_str().first().copied().unwrap_or("img");
    let name = store::image_file_name(&run.artist_slug, ext);
    let path = store::group_dir(runs_dir, &run.run_group_id).join(&name);
    crate::fsutil::write_atomic(&path, bytes)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(name)
}

/// Runs every job, at most `concurrency` at a time, calling `on_done` as each finishes.
pub async fn execute_all(
    runs_dir: &Path,
    jobs: Vec<RunJob>,
    concurrency: usize,
    mut on_done: impl FnMut(&RunRecord),
) -> Result<Vec<RunRecord>, GenerateError> {
    let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for job in jobs {
        let permit = semaphore.clone();
        let dir = runs_dir.to_path_buf();
        set.spawn(async move {
            let _permit = permit
                .acquire_owned()
                .await
                .expect("semaphore never closes");
            execute_run(&dir, job).await
        });
    }
    let mut finished = Vec::new();
    while let Some(joined) = set.join_next().await {
        let run = joined.map_err(|e| GenerateError::Plan(format!("a run task stopped: {e}")))??;
        on_done(&run);
        finished.push(run);
    }
    Ok(finished)
}

/// Builds the jobs for queued runs of a freshly written plan.
pub fn jobs_for(plan: &Plan, runs: Vec<RunRecord>) -> Result<Vec<RunJob>, ProviderError> {
    let brush = providers::brush_provider(&plan.brush)?;
    let mut artist_providers = Vec::new();
    for a in &plan.artists {
        artist_providers.push((a.slug.clone(), providers::artist_provider(a)?));
    }
    Ok(runs
        .into_iter()
        .filter_map(|run| {
            let group = plan
                .groups
                .iter()
                .find(|g| g.run_group_id == run.run_group_id)?;
            let (_, provider) = artist_providers
                .iter()
                .find(|(s, _)| s == &run.artist_slug)?;
            let artist_config = plan
                .artists
                .iter()
                .find(|a| a.slug == run.artist_slug)?
                .clone();
            Some(RunJob {
                prompt: group.prompt_text.clone(),
                seed: group.seed,
                artist: provider.clone(),
                artist_config,
                brush: brush.clone(),
                brush_config: plan.brush.clone(),
                run,
            })
        })
        .collect())
}
