//! The command line: argument parsing and wiring only. Each subcommand calls into
//! `config`, `store`, `generate`, `site` or `serve`; errors gain their context here (anyhow).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::config::{self, Project};
use crate::generate::budget::Budget;
use crate::generate::events::{Event, Reporter, Sink, Style};
use crate::generate::{self, batch, Batch, GenerateOptions, Providers};
use crate::serve::{self, ServeOptions};
use crate::site::{self, BuildOptions};
use crate::store::{self, Status};

/// `println!` for commands: see [`write_out`].
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::write_out(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` for commands: see [`write_err`].
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::write_err(&format!("{}\n", format_args!($($arg)*)))
    };
}

mod inspect;
mod models;
mod run;

/// Writes to stdout, with control and bidi characters escaped but line breaks kept
/// (commands quote names and keys from runs/; see `untrusted`). A closed pipe (`chorus status --all | head -1`) is a normal end, not
/// a panic: the rest of the output is dropped and the command finishes its work (a
/// `generate` whose ids nobody reads still writes its runs). Other failures are said once
/// on stderr.
pub(crate) fn write_out(text: &str) {
    use std::io::Write;
    let text = crate::untrusted::escape_message(text);
    if let Err(e) = std::io::stdout().lock().write_all(text.as_bytes()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            write_err(&format!("warning: cannot write to stdout: {e}\n"));
        }
    }
}

/// Writes to stderr, escaped as [`write_out`] does; a closed stderr (`chorus check 2>&1 | head -1`) drops the message
/// instead of panicking, so the exit code still says how the command went.
pub(crate) fn write_err(text: &str) {
    use std::io::Write;
    let text = crate::untrusted::escape_message(text);
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Exit codes scripts can rely on.
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    /// `check` found problems, or `build --strict` met broken files in runs/.
    pub const PROBLEMS: u8 = 3;
    /// `generate` finished, but at least one run failed or was not started.
    pub const RUNS_FAILED: u8 = 4;
    /// `resume`: everything collectable was collected, but batches are still running at
    /// the provider (`generate --batch`); collect again later.
    pub const WAITING: u8 = 5;
    /// `build --strict`: the site weighs more than `[site] size_budget`.
    pub const TOO_LARGE: u8 = 6;
    /// `generate`/`resume` stopped by Ctrl-C (the shell convention, 128 + SIGINT).
    pub const INTERRUPTED: u8 = 130;
}

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  error (bad chorus.toml, unreadable files, a provider that cannot be set up)
  2  bad command-line usage
  3  problems found in runs/ (check; build --strict)
  4  generate/resume finished but some runs failed or did not start (see `chorus status`)
  5  resume/collect: provider batches are still running; collect again later
  6  build --strict: the site weighs more than [site] size_budget (1 GB by default)
130  generate/resume stopped by Ctrl-C (resume with `chorus resume --all`)";

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
    /// Collect finished batches and continue runs that are queued, failed, or left generating by a crash
    #[command(
        visible_alias = "collect",
        long_about = "Continue the runs of one group (or --all) that are queued, failed, or were left \
`generating` by a crash or Ctrl-C. Each run restarts at its first unfinished stage: a statement \
that was paid for is never requested again. Resumed group ids are printed on stdout.\n\n\
Runs submitted with `generate --batch` are collected first (`chorus collect` is the same \
command): each submitted batch is polled; a finished one's results are downloaded and recorded \
once per run, however often you collect. Images for a gpt-image Brush go as a second batch; \
other Brushes paint directly. Batches still running are left for later (exit code 5). Lines \
that expired or failed in a batch become failed runs; the next plain `resume` runs them directly.",
        after_help = EXIT_CODES
    )]
    Resume(ResumeArgs),
    /// Render runs/ into the static site (default site/)
    #[command(
        long_about = "Render runs/ into the static site (default site/). Pages use relative links, \
so the output works at /, under a sub-path such as /repo/ (GitHub Pages), or from disk.\n\n\
A broken file in runs/ does not stop the build: the sound groups are built and the problems \
are listed on stderr and on the index page. The exit code is 0 unless --strict is given.",
        after_help = EXIT_CODES
    )]
    Build(BuildArgs),
    /// Build the site, serve it on 127.0.0.1 and rebuild + reload the browser on every change
    #[command(
        long_about = "Build the site, serve it on 127.0.0.1 (port 1111, or the next free one) and \
watch chorus.toml, runs/, themes/ and templates/. A changed run file re-renders only the pages \
that depend on it; a template or config change rebuilds everything. Open pages reload by \
themselves. A failed build shows its error in the browser until the file is fixed; the server \
keeps running.\n\n\
The pages are written to the output folder (default site/) exactly as `chorus build` writes \
them; the live-reload script is added only to what the server sends.",
        after_help = EXIT_CODES
    )]
    Serve(ServeArgs),
    /// List the newest run groups with their run counts by status, and the totals
    #[command(after_help = EXIT_CODES)]
    Status {
        /// List every group, not only the newest
        #[arg(long)]
        all: bool,
    },
    /// Validate chorus.toml and every file under runs/; report every problem
    #[command(
        long_about = "Validate chorus.toml and every file under runs/, reporting every problem \
(exit code 3 when there are any). Offline: no network.\n\n\
With --online, also ask each configured endpoint's model list whether every Artist's and \
Brush's model is served: one GET per endpoint, never a paid request. A missing model is named \
with its provider, where it sits in chorus.toml and the nearest served ids; a price that \
differs from the provider's published one is a warning. Exit code 1 when a model is missing or \
a list cannot be read (say, a refused key).",
        after_help = EXIT_CODES
    )]
    Check(CheckArgs),
    /// List the models each configured endpoint serves (one GET each, never a paid call)
    #[command(
        long_about = "List the models each endpoint in chorus.toml serves, to pick an id for an \
Artist or Brush: `GET /v1/models` on OpenAI and any OpenAI-compatible server (Ollama, vLLM), \
Anthropic's paginated list, and OpenRouter's list with its published prices per million \
tokens. A table on stdout, or JSON with --json. Exit code 1 when a list cannot be read.",
        after_help = EXIT_CODES
    )]
    Models(models::ModelsArgs),
    /// Blind votes: import the votes a blind page downloaded into runs/
    #[command(subcommand)]
    Votes(VotesCommand),
}

#[derive(Debug, Subcommand)]
pub enum VotesCommand {
    /// Add the votes of a downloaded votes file to runs/<group-id>/votes/
    #[command(
        long_about = "Add the votes of a file downloaded from a blind page (\"Download your votes\") \
to the history: each group's new votes become one file under runs/<group-id>/votes/, which the \
next `chorus build` turns into the leaderboards, and beside it a record of the import \
(<name>.import.json: the file's SHA-256, the time, the voter labels). A group whose folder or \
votes/ is a symbolic link refuses the import, with nothing written.\n\n\
The whole file is checked first: its format and version, its fields and every vote's, and that \
no id is used twice in it. If any of that is wrong, every problem is listed (file, vote number \
and id, field) and nothing is written (exit code 1). Votes that no longer apply (their group is \
not under runs/, their image was painted again, their id is taken by a different vote) are \
skipped with the reason, and the rest imported. Votes already imported are skipped, so \
importing the same file twice changes nothing. The format is described in docs/votes.md.",
        after_help = EXIT_CODES
    )]
    Import {
        /// The votes file (JSON, as a blind page downloads it)
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Also ask each endpoint's model list whether every model is served
    #[arg(long)]
    pub online: bool,
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
    #[arg(long, conflicts_with = "via_batch")]
    pub build: bool,
    /// Send the Artists' requests through the providers' Batch APIs (about half price,
    /// results within 24 h) and return at once; collect with `chorus resume --all`
    #[arg(long = "batch")]
    pub via_batch: bool,
    #[command(flatten)]
    pub batch: BatchArgs,
}

/// Flags shared by `generate` and `resume`.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// Refuse to start if the estimate from config prices is over USD; stop starting runs
    /// once spent + in-flight estimates would pass it
    #[arg(long, value_name = "USD", value_parser = parse_usd)]
    pub max_cost: Option<f64>,
    /// Progress as JSON lines on stderr (stdout still has only the group ids)
    #[arg(long)]
    pub json: bool,
    /// Do not ask the endpoints' model lists whether every model is served before starting
    #[arg(long)]
    pub no_preflight: bool,
}

fn parse_usd(text: &str) -> std::result::Result<f64, String> {
    match text.trim().trim_start_matches('$').parse::<f64>() {
        Ok(usd) if usd.is_finite() && usd >= 0.0 => Ok(usd),
        _ => Err(format!("{text:?} is not an amount of dollars, e.g. 2.50")),
    }
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["group", "all"]))]
pub struct ResumeArgs {
    /// The run group to continue
    pub group: Option<uuid::Uuid>,
    /// Continue every group with unfinished runs
    #[arg(long)]
    pub all: bool,
    /// Runs in flight at once (default: defaults.concurrency)
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Send runs that still need their Artist (or a gpt-image Brush) as new provider
    /// batches instead of calling the providers directly
    #[arg(long = "batch")]
    pub via_batch: bool,
    #[command(flatten)]
    pub batch: BatchArgs,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Output folder (default: <root>/site)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Absolute URL the site is published at (overrides site.base_url)
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Exit 3 when runs/ has problems, 6 when the site weighs more than [site] size_budget
    #[arg(long)]
    pub strict: bool,
    /// Keep running and rebuild whenever chorus.toml, runs/, themes/ or templates/ change
    #[arg(long)]
    pub watch: bool,
    /// With --watch: poll for changes instead of relying on file-system events
    #[arg(long, requires = "watch")]
    pub poll: bool,
    /// Leave out the difference views (palettes, similarity maps, profiles)
    #[arg(long)]
    pub no_analysis: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Port to listen on (default 1111, or the next free one; 0 picks any free port)
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
    /// Address to listen on; anything but loopback exposes the preview to the network
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Open the site in the default browser
    #[arg(long)]
    pub open: bool,
    /// Poll for changes instead of relying on file-system events (network drives, some VMs)
    #[arg(long)]
    pub poll: bool,
    /// Output folder (default: <root>/site)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Absolute URL the site is published at (overrides site.base_url)
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
}

/// Entry point used by `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            errln!("error: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}

fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Init(args) => init(&cli.root, args),
        Command::Generate(args) => run::generate_cmd(&cli.root, args),
        Command::Resume(args) => run::resume_cmd(&cli.root, args),
        Command::Build(args) if args.watch => {
            let build = BuildOptions {
                out: args.out,
                base_url: args.base_url,
                cache_dir: None,
                no_analysis: args.no_analysis,
            };
            serve::watch(&cli.root, build, args.poll)?;
            Ok(exit::OK)
        }
        Command::Build(args) => {
            let project = load_project(&cli.root)?;
            build_cmd(&project, &args)
        }
        Command::Serve(args) => {
            let opts = ServeOptions {
                bind: args.bind,
                port: args.port,
                open: args.open,
                poll: args.poll,
                build: BuildOptions {
                    out: args.out,
                    base_url: args.base_url,
                    ..BuildOptions::default()
                },
            };
            serve::serve(&cli.root, opts)?;
            Ok(exit::OK)
        }
        Command::Status { all } => inspect::status(&cli.root, all),
        Command::Check(args) => inspect::check(&cli.root, args.online),
        Command::Models(args) => models::models(&cli.root, args),
        Command::Votes(VotesCommand::Import { file }) => inspect::votes_import(&cli.root, &file),
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
    // No trailing slash: the patterns must match a symbolic link too, not only a folder.
    // chorus's own temp files and Brush answers waiting to be downloaded stay out of git.
    write(
        ".gitignore",
        b"/site\n/.chorus-cache\nruns/**/.chorus-tmp-*\nruns/**/.chorus-paid-*\n",
    )?;
    write("runs/.gitkeep", b"")?;
    site::render::theme::write_default_theme(&dir.join("themes/default")).with_context(|| {
        format!(
            "writing the default theme into {}",
            dir.join("themes/default").display()
        )
    })?;
    errln!(
        "Created a chorus project in {}.\nNext: `chorus generate --offline --build` (no key needed), \
         or export OPENROUTER_API_KEY and OPENAI_API_KEY and run `chorus generate`.",
        dir.display()
    );
    Ok(exit::OK)
}

fn build_cmd(project: &Project, args: &BuildArgs) -> Result<u8> {
    let started = std::time::Instant::now();
    store::clean_leftovers(&project.runs_dir());
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
    for p in report.problems.iter().chain(&report.warnings) {
        errln!("warning: {p}");
    }
    if std::env::var_os(site::TIMINGS_ENV).is_some() {
        errln!("{}", site::phases_line(&report.timings).trim_start());
    }
    let index = report.out.join("index.html");
    errln!(
        "Built {} group(s) into {} in {} ms ({} rebuilt, the others unchanged; {} files, {} written, {} removed; {} images, {} thumbnails made).\nSite size: {}.\nOpen {} in a browser.",
        report.groups,
        report.out.display(),
        started.elapsed().as_millis(),
        report.rebuilt,
        report.files,
        report.written,
        report.removed,
        report.images.sources,
        report.images.made,
        site::human_bytes(report.site_bytes),
        std::fs::canonicalize(&index).unwrap_or(index).display()
    );
    let too_large = site::size_warning(report.site_bytes, &project.config.site);
    if let Some(warning) = &too_large {
        errln!("warning: {warning}");
    }
    if !report.problems.is_empty() {
        errln!(
            "{} problem(s) in runs/ (the other groups were built); run `chorus check` for the list.",
            report.problems.len()
        );
        if args.strict {
            return Ok(exit::PROBLEMS);
        }
    }
    if too_large.is_some() && args.strict {
        return Ok(exit::TOO_LARGE);
    }
    Ok(exit::OK)
}
