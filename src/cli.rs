//! The command line: argument parsing and wiring only. Each subcommand calls into
//! `config`, `store`, `generate` or `site`; errors gain their context here (anyhow).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::config::{self, Project};
use crate::generate::{self, GenerateOptions};
use crate::site::{self, BuildOptions};
use crate::store::{self, Status};

/// Exit codes scripts can rely on.
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    /// `check` found problems, or `build --strict` met broken files in runs/.
    pub const PROBLEMS: u8 = 3;
    /// `generate` finished, but at least one run failed.
    pub const RUNS_FAILED: u8 = 4;
}

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  error (bad chorus.toml, unreadable files, a provider that cannot be set up)
  2  bad command-line usage
  3  problems found in runs/ (check; build --strict)
  4  generate finished but some runs failed (see `chorus status`)";

#[derive(Debug, Parser)]
#[command(
    name = "chorus",
    version,
    about = "Run a chorus of LLM Artists on one prompt, paint every answer with one Brush, and publish the comparison as a static site.",
    long_about = "Run a chorus of LLM Artists on one prompt, paint every answer with one Brush, \
and publish the comparison as a static site.\n\n\
A project is a folder with chorus.toml (the registry), runs/ (every run as JSON plus its image, \
meant for git), themes/ and site/ (the built gallery).\n\n\
Try it without any key:  chorus generate --offline --build",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// Project folder holding chorus.toml, runs/, themes/ and site/
    #[arg(long, global = true, default_value = ".", value_name = "DIR")]
    pub root: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a starter project: chorus.toml, the canonical prompt and the default theme
    #[command(after_help = EXIT_CODES)]
    Init(InitArgs),
    /// Create run groups: every selected Artist answers the prompt, the Brush paints each answer
    #[command(
        long_about = "Create run groups: every selected Artist answers the same prompt, and the \
Brush paints each Artist's final image prompt. One group is made per --repeat; each new group \
id is printed on stdout, one per line, so scripts can capture it. Progress goes to stderr.\n\n\
The plan (group.json and every run as `queued`) is written before any provider is called.",
        after_help = EXIT_CODES
    )]
    Generate(GenerateArgs),
    /// Render runs/ into the static site (default site/)
    #[command(
        long_about = "Render runs/ into the static site (default site/). Pages use relative links, \
so the output works at /, under a sub-path such as /repo/ (GitHub Pages), or from disk.\n\n\
A broken file in runs/ does not stop the build: the sound groups are built and the problems \
are listed on stderr and on the index page. The exit code is 0 unless --strict is given.",
        after_help = EXIT_CODES
    )]
    Build(BuildArgs),
    /// List run groups with their run counts by status
    #[command(after_help = EXIT_CODES)]
    Status,
    /// Validate chorus.toml and every file under runs/; report every problem
    #[command(after_help = EXIT_CODES)]
    Check,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Folder to create the project in (default: --root)
    pub dir: Option<PathBuf>,
    /// Overwrite an existing chorus.toml
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Use the built-in offline Artists and the procedural Brush (no key, no network)
    #[arg(long)]
    pub offline: bool,
    /// Comma-separated Artist slugs to run (default: all)
    #[arg(long, value_delimiter = ',', value_name = "SLUGS")]
    pub artists: Option<Vec<String>>,
    /// Brush slug (default: defaults.brush)
    #[arg(long, value_name = "SLUG")]
    pub brush: Option<String>,
    /// Prompt version (default: defaults.prompt)
    #[arg(long, value_name = "VERSION")]
    pub prompt: Option<String>,
    /// Number of groups to create
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,
    /// Seed for deterministic providers; repetitions use SEED, SEED+1, ... (default: random)
    #[arg(long)]
    pub seed: Option<u64>,
    /// Runs in flight at once (default: defaults.concurrency)
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Build the site afterwards
    #[arg(long)]
    pub build: bool,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Output folder (default: <root>/site)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Absolute URL the site is published at (overrides site.base_url)
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Exit non-zero (3) when runs/ has problems
    #[arg(long)]
    pub strict: bool,
    /// Leave out the difference views (palettes, similarity maps, profiles)
    #[arg(long)]
    pub no_analysis: bool,
}

/// Entry point used by `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}

fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Init(args) => init(&cli.root, args),
        Command::Generate(args) => generate_cmd(&cli.root, args),
        Command::Build(args) => {
            let project = load_project(&cli.root)?;
            build_cmd(&project, &args)
        }
        Command::Status => status(&cli.root),
        Command::Check => check(&cli.root),
    }
}

fn load_project(root: &Path) -> Result<Project> {
    Project::load(root).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow!(
            "{} problem{} in the configuration:\n  {}",
            lines.len(),
            if lines.len() == 1 { "" } else { "s" },
            lines.join("\n  ")
        )
    })
}

fn init(root: &Path, args: InitArgs) -> Result<u8> {
    let dir = args.dir.unwrap_or_else(|| root.to_path_buf());
    let cfg = dir.join(config::CONFIG_FILE);
    if cfg.exists() && !args.force {
        anyhow::bail!(
            "{} already exists; use --force to overwrite it",
            cfg.display()
        );
    }
    let write = |rel: &str, bytes: &[u8]| {
        let path = dir.join(rel);
        crate::fsutil::write_atomic(&path, bytes)
            .with_context(|| format!("writing {}", path.display()))
    };
    write(config::CONFIG_FILE, config::STARTER_CONFIG.as_bytes())?;
    write(
        config::STARTER_PROMPT.0,
        config::STARTER_PROMPT.1.as_bytes(),
    )?;
    write(".gitignore", b"/site/\n/.chorus-cache/\n")?;
    write("runs/.gitkeep", b"")?;
    site::theme::write_default_theme(&dir.join("themes/default")).with_context(|| {
        format!(
            "writing the default theme into {}",
            dir.join("themes/default").display()
        )
    })?;
    eprintln!(
        "Created a chorus project in {}.\nNext: `chorus generate --offline --build` (no key needed), \
         or export OPENROUTER_API_KEY and OPENAI_API_KEY and run `chorus generate`.",
        dir.display()
    );
    Ok(exit::OK)
}

fn generate_cmd(root: &Path, args: GenerateArgs) -> Result<u8> {
    let project = load_project(root)?;
    let opts = GenerateOptions {
        offline: args.offline,
        artists: args.artists,
        brush: args.brush,
        prompt: args.prompt,
        repeat: args.repeat,
        seed: args.seed,
        concurrency: args.concurrency,
    };
    let plan = generate::plan(&project, &opts)?;
    let jobs_plan = plan.clone();
    // Set up providers before writing anything, so a misconfigured one costs no files.
    let probe = generate::jobs_for(&jobs_plan, Vec::new())?;
    drop(probe);
    let runs_dir = project.runs_dir();
    let queued = generate::write_plan(&runs_dir, &plan)?;
    for g in &plan.groups {
        println!("{}", g.run_group_id);
    }
    let jobs = generate::jobs_for(&plan, queued)?;
    let concurrency = opts
        .concurrency
        .unwrap_or(project.config.defaults.concurrency);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let finished = runtime.block_on(generate::execute_all(
        &runs_dir,
        jobs,
        concurrency,
        |run| match &run.error {
            None => eprintln!("{} {} {}", run.run_group_id, run.artist_slug, run.status),
            Some(e) => eprintln!(
                "{} {} {}: {e}",
                run.run_group_id, run.artist_slug, run.status
            ),
        },
    ))?;
    let failed = finished
        .iter()
        .filter(|r| r.status == Status::Failed)
        .count();
    eprintln!("{} run(s) done, {failed} failed.", finished.len() - failed);

    if args.build {
        let code = build_cmd(
            &project,
            &BuildArgs {
                out: None,
                base_url: None,
                strict: false,
                no_analysis: false,
            },
        )?;
        if code != exit::OK {
            return Ok(code);
        }
    }
    Ok(if failed > 0 {
        exit::RUNS_FAILED
    } else {
        exit::OK
    })
}

fn build_cmd(project: &Project, args: &BuildArgs) -> Result<u8> {
    let started = std::time::Instant::now();
    let report = site::build(
        project,
        &BuildOptions {
            out: args.out.clone(),
            base_url: args.base_url.clone(),
            cache_dir: None,
            no_analysis: args.no_analysis,
        },
    )
    .context("building the site")?;
    for p in &report.problems {
        eprintln!("warning: {p}");
    }
    for (file, reason) in &report.images.failed {
        eprintln!(
            "warning: {}: {reason} (shown without thumbnails)",
            file.display()
        );
    }
    let index = report.out.join("index.html");
    eprintln!(
        "Built {} group(s) into {} in {} ms ({} files, {} written, {} removed; {} images, {} thumbnails made).\nOpen {} in a browser.",
        report.groups,
        report.out.display(),
        started.elapsed().as_millis(),
        report.files,
        report.written,
        report.removed,
        report.images.sources,
        report.images.made,
        std::fs::canonicalize(&index).unwrap_or(index).display()
    );
    if !report.problems.is_empty() {
        eprintln!(
            "{} problem(s) in runs/ (the other groups were built); run `chorus check` for the list.",
            report.problems.len()
        );
        if args.strict {
            return Ok(exit::PROBLEMS);
        }
    }
    Ok(exit::OK)
}

fn status(root: &Path) -> Result<u8> {
    let tree = store::load_runs(&root.join("runs"));
    if tree.groups.is_empty() {
        println!("No run groups in {}.", root.join("runs").display());
    } else {
        println!(
            "{:<36}  {:<14}  {:<20}  queued generating done failed",
            "group", "prompt", "created"
        );
        for g in &tree.groups {
            println!(
                "{:<36}  {:<14}  {:<20}  {:>6} {:>10} {:>4} {:>6}",
                g.group.run_group_id,
                g.group.prompt_version,
                g.group.created_at.format("%Y-%m-%d %H:%M:%S"),
                g.count(Status::Queued),
                g.count(Status::Generating),
                g.count(Status::Done),
                g.count(Status::Failed),
            );
        }
    }
    if !tree.problems.is_empty() {
        eprintln!(
            "{} problem(s) in runs/; run `chorus check` for details.",
            tree.problems.len()
        );
    }
    Ok(exit::OK)
}

fn check(root: &Path) -> Result<u8> {
    let mut problems: Vec<String> = match Project::load(root) {
        Ok(_) => Vec::new(),
        Err(ps) => ps.iter().map(ToString::to_string).collect(),
    };
    let tree = store::load_runs(&root.join("runs"));
    problems.extend(tree.problems.iter().map(ToString::to_string));
    for p in &problems {
        eprintln!("{p}");
    }
    let runs: usize = tree.groups.iter().map(|g| g.runs.len()).sum();
    if problems.is_empty() {
        eprintln!(
            "ok: chorus.toml and {} group(s), {runs} run(s) checked.",
            tree.groups.len()
        );
        Ok(exit::OK)
    } else {
        eprintln!("{} problem(s) found.", problems.len());
        Ok(exit::PROBLEMS)
    }
}
