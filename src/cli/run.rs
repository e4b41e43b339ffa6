//! `generate` and `resume` (with `collect`): planning a batch, running it directly or through
//! a provider's Batch API, and reporting how it ended.

use super::*;

pub(super) fn generate_cmd(root: &Path, args: GenerateArgs) -> Result<u8> {
    let project = load_project(root)?;
    let opts = GenerateOptions {
        offline: args.offline,
        artists: args.artists,
        brush: args.brush,
        prompt: args.prompt,
        repeat: args.repeat,
        seed: args.seed,
        concurrency: args.concurrency,
        max_cost: args.batch.max_cost,
    };
    let plan = generate::plan(&project, &opts)?;
    // Check keys, set up providers and check the budget before writing anything.
    let Some((reporter, mut batch, providers)) = start_batch(
        &project,
        &plan.artists,
        std::slice::from_ref(&plan.brush),
        args.batch.json,
    )?
    else {
        return Ok(exit::ERROR);
    };
    let preflight = |batch: &Batch| -> Result<()> {
        if opts.offline || args.batch.no_preflight {
            return Ok(());
        }
        let brushes = std::slice::from_ref(&plan.brush);
        models::preflight(
            &project,
            &batch.kit,
            &plan.artists,
            brushes,
            args.batch.json,
        )
    };
    if args.via_batch {
        preflight(&batch)?;
        return generate_via_batch(&project, &plan, &batch, opts.max_cost);
    }
    if let Some(max) = opts.max_cost {
        generate::check_budget(plan.estimate()?, max)?;
        batch.budget = Some(Budget::new(max));
    }
    // After the budget, which needs no network: the first request is the model lists.
    preflight(&batch)?;
    store::clean_leftovers(&batch.runs_dir);
    let queued = generate::write_plan(&batch.runs_dir, &plan)?;
    for g in &plan.groups {
        outln!("{}", g.run_group_id);
        reporter.emit(Event::Planned {
            group: g.run_group_id,
            runs: plan.artists.len(),
        });
    }
    let jobs = providers.jobs(queued, &plan.groups);
    let concurrency = opts
        .concurrency
        .unwrap_or(project.config.defaults.concurrency);
    let code = finish_batch(batch, jobs, concurrency, &reporter)?;
    if args.build && code != exit::INTERRUPTED {
        let built = build_cmd(
            &project,
            &BuildArgs {
                out: None,
                base_url: None,
                strict: false,
                watch: false,
                poll: false,
                no_analysis: false,
            },
        )?;
        if built != exit::OK {
            return Ok(built);
        }
    }
    Ok(code)
}

/// `generate --batch`: submit every Artist request as provider batches, print the group
/// ids and how to collect, and return without waiting.
fn generate_via_batch(
    project: &Project,
    plan: &generate::Plan,
    direct: &Batch,
    max_cost: Option<f64>,
) -> Result<u8> {
    let ctx = batch_context(
        project,
        direct,
        plan.artists.clone(),
        vec![plan.brush.clone()],
        plan.groups.clone(),
    );
    store::clean_leftovers(&ctx.runs_dir);
    let (runs, submitted) = batch::start(&ctx, plan, max_cost)?;
    for g in &plan.groups {
        outln!("{}", g.run_group_id);
    }
    batch::report::submitted(&submitted)
        .iter()
        .for_each(|l| errln!("{l}"));
    let failed: Vec<&store::RunRecord> =
        runs.iter().filter(|r| r.status == Status::Failed).collect();
    for run in &failed {
        errln!(
            "failed: {} / {}: {}",
            run.run_group_id,
            run.artist_slug,
            run.error.as_deref().unwrap_or_default()
        );
    }
    if !submitted.is_empty() {
        errln!(
            "Collect the results with `chorus resume --all` (same as `chorus collect --all`) once the batches end, within {} h; `chorus status` shows their progress.",
            batch::WINDOW_HOURS
        );
    }
    Ok(if failed.is_empty() {
        exit::OK
    } else {
        exit::RUNS_FAILED
    })
}

fn batch_context(
    project: &Project,
    direct: &Batch,
    artists: Vec<config::Artist>,
    brushes: Vec<config::Brush>,
    groups: Vec<store::GroupRecord>,
) -> batch::BatchContext {
    batch::BatchContext::new(project, direct.kit.clone(), artists, brushes, groups)
}

/// The set-up `generate` and `resume` share. When a key is missing it says which, before
/// any request, and returns `None`; otherwise the reporter, the batch and its providers.
fn start_batch(
    project: &Project,
    artists: &[config::Artist],
    brushes: &[config::Brush],
    json: bool,
) -> Result<Option<(Arc<Reporter>, Batch, Providers)>> {
    let brush_refs: Vec<&config::Brush> = brushes.iter().collect();
    let missing = generate::missing_keys(artists, &brush_refs);
    if !missing.is_empty() {
        errln!("error: {}", generate::missing_keys_message(&missing));
        return Ok(None);
    }
    let reporter = Arc::new(Reporter::new(Style::detect(json)));
    let batch = Batch::new(
        project.runs_dir(),
        project.config.limits.clone(),
        reporter.clone(),
    )?;
    let providers = Providers::new(artists, brushes, &batch.kit)?;
    Ok(Some((reporter, batch, providers)))
}

pub(super) fn resume_cmd(root: &Path, args: ResumeArgs) -> Result<u8> {
    let project = load_project(root)?;
    let plan = generate::plan_resume(&project, args.group)?;
    for file in &plan.cleaned {
        errln!("removed {} (left by an interrupted write)", file.display());
    }
    for p in &plan.problems {
        errln!("warning: {p}");
    }
    if plan.runs.is_empty() {
        errln!("Nothing to resume: every run is done.");
        return Ok(exit::OK);
    }
    let Some((reporter, mut batch, providers)) =
        start_batch(&project, &plan.artists, &plan.brushes, args.batch.json)?
    else {
        return Ok(exit::ERROR);
    };
    if !args.batch.no_preflight {
        models::preflight(
            &project,
            &batch.kit,
            &plan.artists,
            &plan.brushes,
            args.batch.json,
        )?;
    }
    let mut runs = plan.runs;
    let (mut waiting, mut failed) = (0, 0);
    if args.via_batch || runs.iter().any(|r| r.meta.submitted.is_some()) {
        let ctx = batch_context(
            &project,
            &batch,
            plan.artists.clone(),
            plan.brushes.clone(),
            plan.groups.clone(),
        );
        if let (Some(max), true) = (args.batch.max_cost, args.via_batch) {
            let estimate = batch::estimate(&ctx, &runs).map_err(|e| anyhow!(e))?;
            generate::check_budget(estimate, max)?;
        }
        let done = batch::block_on(batch::continue_runs(&ctx, runs, args.via_batch))
            .map_err(|e| anyhow!(e))??;
        batch::report::continued(&done)
            .iter()
            .for_each(|l| errln!("{l}"));
        waiting = done.still_running();
        failed = done.collected.failed.len();
        runs = done.direct;
    }
    let jobs = providers.jobs(runs, &plan.groups);
    if let Some(max) = args.batch.max_cost {
        generate::check_budget(generate::estimate_jobs(&jobs)?, max)?;
        batch.budget = Some(Budget::new(max));
    }
    for g in &plan.groups {
        outln!("{}", g.run_group_id);
    }
    let code = if jobs.is_empty() {
        exit::OK
    } else {
        let concurrency = args
            .concurrency
            .unwrap_or(project.config.defaults.concurrency);
        finish_batch(batch, jobs, concurrency, &reporter)?
    };
    Ok(match code {
        exit::OK if failed > 0 => exit::RUNS_FAILED,
        exit::OK if waiting > 0 => exit::WAITING,
        code => code,
    })
}

/// Runs the batch, prints the summary and picks the exit code.
fn finish_batch(
    batch: Batch,
    jobs: Vec<generate::RunJob>,
    concurrency: usize,
    reporter: &Reporter,
) -> Result<u8> {
    let outcome = generate::drive(batch, jobs, concurrency)?;
    reporter.summary(&outcome.runs);
    if outcome.interrupted {
        errln!(
            "Stopped by Ctrl-C; every file on disk is whole. Continue with `chorus resume --all`."
        );
        return Ok(exit::INTERRUPTED);
    }
    let unfinished = outcome
        .runs
        .iter()
        .filter(|r| r.status != Status::Done)
        .count();
    Ok(if unfinished > 0 {
        exit::RUNS_FAILED
    } else {
        exit::OK
    })
}
