//! Benchmark for the difference views (issue 6): build time of a site of 1,000 offline runs
//! with and without the analysis, cold (no output, no cache) and warm (cache present).
//!
//!   cargo run --release --example bench_analysis [-- DIR [RUNS [voice]]]
//!
//! DIR (default: a temp folder) keeps the generated project between invocations, so the
//! runs are painted only once; RUNS defaults to 1000 (groups of four offline Artists).
//! The last rows measure the voice views and style map (issue 15) alone: computing every
//! prompt version's voice from the group features with no voice cache (cold), and reading
//! it back when the versions' groups are unchanged (warm), each against the build it sits
//! in. With `voice` as third argument only those rows are measured (one build with the
//! views first, to leave the features), which keeps a 10,000-run run short.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chorus::config::{self, Project};
use chorus::generate::{self, GenerateOptions};
use chorus::site::{self, BuildOptions};

const WARM_REPEATS: usize = 5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let temp;
    let root: PathBuf = match args.next() {
        Some(dir) => PathBuf::from(dir),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let runs: u32 = args.next().map(|n| n.parse()).transpose()?.unwrap_or(1000);
    let project = ensure_project(&root, runs)?;
    let count = chorus::store::load_runs(&project.runs_dir())
        .groups
        .iter()
        .map(|g| g.runs.len())
        .sum::<usize>();
    println!("project {} with {count} runs", root.display());

    let site_dir = root.join("site");
    // Thumbnails and analysis share this cache; "cold" empties all of it, for both builds.
    let cache_dir = root.join(chorus::site::CACHE_DIR);
    let build = |no_analysis: bool| -> Result<Duration, Box<dyn std::error::Error>> {
        let opts = BuildOptions {
            no_analysis,
            ..BuildOptions::default()
        };
        let started = Instant::now();
        let report = site::build(&project, &opts)?;
        let took = started.elapsed();
        if !report.problems.is_empty() {
            return Err(format!("{} problems in runs/", report.problems.len()).into());
        }
        Ok(took)
    };
    let voice_only = args.next().is_some_and(|a| a == "voice");
    let remove = |p: &Path| {
        let _ = std::fs::remove_dir_all(p);
    };
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };

    if voice_only {
        build(false)?;
        let fresh = median(
            (0..3)
                .map(|_| {
                    remove(&site_dir);
                    build(false)
                })
                .collect::<Result<_, _>>()?,
        );
        return voice_rows(&cache_dir, &site_dir, None, fresh);
    }

    // Without the views: nothing cached, then rebuilds, then fresh output over a warm cache.
    remove(&site_dir);
    remove(&cache_dir);
    let base_cold = build(true)?;
    let base_warm = median(
        (0..WARM_REPEATS)
            .map(|_| build(true))
            .collect::<Result<_, _>>()?,
    );
    remove(&site_dir);
    let base_fresh = median(
        (0..WARM_REPEATS)
            .map(|_| {
                remove(&site_dir);
                build(true)
            })
            .collect::<Result<_, _>>()?,
    );

    // With the views: empty cache and output, then rebuilds, then fresh output over a warm cache.
    remove(&site_dir);
    remove(&cache_dir);
    let an_cold = build(false)?;
    let an_warm = median(
        (0..WARM_REPEATS)
            .map(|_| build(false))
            .collect::<Result<_, _>>()?,
    );
    let an_fresh = median(
        (0..WARM_REPEATS)
            .map(|_| {
                remove(&site_dir);
                build(false)
            })
            .collect::<Result<_, _>>()?,
    );

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let row = |label: &str, base: Duration, with: Duration| {
        println!(
            "{label:<38} {:>9.0} ms {:>9.0} ms {:>+9.0} ms {:>+7.1}%",
            ms(base),
            ms(with),
            ms(with) - ms(base),
            (ms(with) / ms(base) - 1.0) * 100.0
        );
    };
    println!(
        "{:<38} {:>12} {:>12} {:>12} {:>8}",
        "build", "no views", "with views", "added", "added"
    );
    row("cold (no output, no analysis cache)", base_cold, an_cold);
    row("warm rebuild (output + cache present)", base_warm, an_warm);
    row("warm cache, fresh output", base_fresh, an_fresh);
    println!("(warm rows: median of {WARM_REPEATS}; target: warm adds at most 10%)");
    voice_rows(&cache_dir, &site_dir, Some(an_cold), an_fresh)
}

/// The voice views alone: every version's voice with no voice cache, then from the cache,
/// each as a share of the build it belongs to (`cold` and `fresh`: a warm cache, fresh output).
fn voice_rows(
    cache_dir: &Path,
    site_dir: &Path,
    cold: Option<Duration>,
    fresh: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    use chorus::site::engine::manifest::{state_dir, Manifest};
    let state = state_dir(cache_dir, site_dir);
    let manifest = Manifest::load(&state);
    let voice_dir = state.join("voice");
    let time = |clear: bool| {
        if clear {
            let _ = std::fs::remove_dir_all(&voice_dir);
        }
        let started = Instant::now();
        let voices = chorus::site::listings::voice::version_voices(&state, &manifest);
        (started.elapsed(), voices)
    };
    let mut colds = Vec::new();
    let mut warms = Vec::new();
    let mut shown = None;
    for _ in 0..3 {
        let (d, v) = time(true);
        colds.push(d);
        shown = Some(v);
    }
    for _ in 0..WARM_REPEATS {
        warms.push(time(false).0);
    }
    colds.sort();
    warms.sort();
    let (vc, vw) = (colds[colds.len() / 2], warms[warms.len() / 2]);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for v in shown.unwrap_or_default().values() {
        println!(
            "voice of {}: {} runs in {} groups used of {} in {}{}",
            v.version,
            v.runs_used,
            v.groups_used,
            v.runs_total,
            v.groups_total,
            if v.sampled() { " (sampled)" } else { "" }
        );
    }
    let share = |part: Duration, of: Duration| ms(part) / ms(of) * 100.0;
    match cold {
        Some(c) => println!(
            "voice + style map, cold (no voice cache) {:>9.1} ms = {:>5.1}% of the cold build ({:.0} ms)",
            ms(vc),
            share(vc, c),
            ms(c)
        ),
        None => println!(
            "voice + style map, cold (no voice cache) {:>9.1} ms = {:>5.1}% of a warm-cache fresh-output build",
            ms(vc),
            share(vc, fresh)
        ),
    }
    println!(
        "voice + style map, warm (cached)         {:>9.1} ms = {:>5.1}% of a warm-cache fresh-output build ({:.0} ms)",
        ms(vw),
        share(vw, fresh),
        ms(fresh)
    );
    println!("(voice rows: median of 3 cold and {WARM_REPEATS} warm; a rebuild with nothing changed skips the listings, so adds 0)");
    Ok(())
}

/// Makes (or reuses) a project with `runs` offline runs.
fn ensure_project(root: &Path, runs: u32) -> Result<Project, Box<dyn std::error::Error>> {
    if !root.join(config::CONFIG_FILE).is_file() {
        std::fs::create_dir_all(root)?;
        std::fs::write(root.join(config::CONFIG_FILE), config::STARTER_CONFIG)?;
        let (rel, text) = config::STARTER_PROMPT;
        std::fs::create_dir_all(root.join(rel).parent().unwrap_or(root))?;
        std::fs::write(root.join(rel), text)?;
    }
    let project = Project::load(root).map_err(|p| format!("{p:?}"))?;
    let have: usize = chorus::store::load_runs(&project.runs_dir())
        .groups
        .iter()
        .map(|g| g.runs.len())
        .sum();
    if have >= runs as usize {
        return Ok(project);
    }
    let per_group = generate::providers::offline_roster().len() as u32;
    let opts = GenerateOptions {
        offline: true,
        repeat: (runs - have as u32).div_ceil(per_group),
        seed: Some(1),
        concurrency: Some(4),
        ..GenerateOptions::default()
    };
    eprintln!("painting {} groups of offline runs (once) ...", opts.repeat);
    let plan = generate::plan(&project, &opts)?;
    let reporter = std::sync::Arc::new(generate::events::Reporter::new(
        generate::events::Style::Plain,
    ));
    let batch = generate::Batch::new(project.runs_dir(), project.config.limits.clone(), reporter)?;
    let providers =
        generate::Providers::new(&plan.artists, std::slice::from_ref(&plan.brush), &batch.kit)?;
    let queued = generate::write_plan(&project.runs_dir(), &plan)?;
    let jobs = providers.jobs(queued, &plan.groups);
    generate::drive(batch, jobs, 4)?;
    Ok(project)
}
