//! Planning a batch: which groups and runs to create, what they may cost, which keys are
//! missing, and writing the plan to `runs/` before any provider is called.

use std::path::Path;

use chrono::Utc;
use uuid::Uuid;

use super::budget;
use super::providers;
use super::run::RunJob;
use super::{GenerateError, GenerateOptions};
use crate::config::{Artist, Brush, Kind, Project, Prompt};
use crate::store::{
    self, ArtistRef, BrushRef, GroupRecord, RunMeta, RunRecord, Status, SCHEMA_VERSION,
};

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
    let artists = choose_artists(project, opts)?;
    let brush = choose_brush(project, opts)?;
    let prompt = choose_prompt(project, opts)?;
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

/// The Artists `--artists` names (all of the roster without it), at most a group's worth.
fn choose_artists(project: &Project, opts: &GenerateOptions) -> Result<Vec<Artist>, GenerateError> {
    let roster: Vec<Artist> = if opts.offline {
        providers::offline_roster()
    } else {
        project.config.artists.clone()
    };
    let artists = match &opts.artists {
        None => roster,
        Some(wanted) => wanted
            .iter()
            .map(|slug| {
                roster
                    .iter()
                    .find(|a| &a.slug == slug)
                    .cloned()
                    .ok_or_else(|| {
                        GenerateError::Plan(format!(
                            "--artists: no Artist {slug:?}{}; known: {}",
                            if opts.offline {
                                " among the offline Artists"
                            } else {
                                " in chorus.toml"
                            },
                            slugs(roster.iter().map(|a| a.slug.as_str()))
                        ))
                    })
            })
            .collect::<Result<_, _>>()?,
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
    Ok(artists)
}

fn choose_brush(project: &Project, opts: &GenerateOptions) -> Result<Brush, GenerateError> {
    if opts.offline {
        return Ok(procedural_brush());
    }
    let config = &project.config;
    let slug = opts
        .brush
        .as_ref()
        .or(config.defaults.brush.as_ref())
        .ok_or_else(|| {
            GenerateError::Plan(
                "no Brush chosen: pass --brush SLUG or set defaults.brush in chorus.toml".into(),
            )
        })?;
    project.brush(slug).cloned().ok_or_else(|| {
        GenerateError::Plan(format!(
            "--brush: no Brush {slug:?} in chorus.toml; known: {}",
            slugs(config.brushes.iter().map(|b| b.slug.as_str()))
        ))
    })
}

fn choose_prompt(project: &Project, opts: &GenerateOptions) -> Result<Prompt, GenerateError> {
    let version = opts
        .prompt
        .as_ref()
        .or(project.config.defaults.prompt.as_ref())
        .ok_or_else(|| {
            GenerateError::Plan(
                "no prompt chosen: pass --prompt VERSION or set defaults.prompt in chorus.toml"
                    .into(),
            )
        })?;
    project
        .prompt(version)
        .map_err(|p| GenerateError::Plan(p.to_string()))
}

fn slugs<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
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
        store::write_group(runs_dir, group).map_err(|error| GenerateError::Write {
            path: store::group_dir(runs_dir, &group.run_group_id).join(store::GROUP_FILE),
            error,
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

pub(crate) fn save(runs_dir: &Path, run: &RunRecord) -> Result<(), GenerateError> {
    store::write_run(runs_dir, run).map_err(|error| GenerateError::Write {
        path: store::run_file(
            &store::group_dir(runs_dir, &run.run_group_id),
            &run.artist_slug,
        ),
        error,
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
