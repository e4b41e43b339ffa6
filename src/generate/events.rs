//! What a batch tells the person watching it: one event per step, shown as a live
//! indicatif line per run on a terminal, one plain line per event otherwise, or JSON
//! lines with `--json`. Everything goes to stderr; stdout is kept for group ids.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::Serialize;
use uuid::Uuid;

use crate::store::{RunRecord, Status};

#[derive(Debug, Clone, Serialize)]
#[serde(
    tag = "event",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Event {
    /// The plan is on disk.
    Planned {
        group: Uuid,
        runs: usize,
    },
    RunStarted {
        group: Uuid,
        artist: String,
    },
    Stage {
        group: Uuid,
        artist: String,
        stage: &'static str,
    },
    Retry {
        group: Uuid,
        artist: String,
        stage: &'static str,
        attempt: u32,
        reason: String,
        wait_ms: u64,
    },
    RunFinished {
        group: Uuid,
        artist: String,
        status: Status,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        latency_ms: Option<u64>,
        tokens: Option<u64>,
        cost_usd: Option<f64>,
    },
    /// Something about the batch as a whole (budget reached, Ctrl-C).
    Notice {
        message: String,
    },
    Summary {
        done: usize,
        failed: usize,
        queued: usize,
        cost_usd: f64,
    },
}

impl Event {
    pub fn finished(run: &RunRecord) -> Event {
        Event::RunFinished {
            group: run.run_group_id,
            artist: run.artist_slug.clone(),
            status: run.status,
            error: run.error.clone(),
            latency_ms: run.latency_ms(),
            tokens: run.tokens().map(|t| t.input + t.output),
            cost_usd: run.cost_usd(),
        }
    }
}

/// Where events go.
pub trait Sink: Send + Sync {
    fn emit(&self, event: Event);
}

/// How events are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Live,
    Plain,
    Json,
}

impl Style {
    /// Live bars only when a person is watching both streams.
    pub fn detect(json: bool) -> Style {
        if json {
            Style::Json
        } else if std::io::stderr().is_terminal() && std::io::stdout().is_terminal() {
            Style::Live
        } else {
            Style::Plain
        }
    }
}

pub struct Reporter {
    style: Style,
    multi: MultiProgress,
    bars: Mutex<HashMap<(Uuid, String), ProgressBar>>,
}

impl Reporter {
    pub fn new(style: Style) -> Reporter {
        Reporter {
            style,
            multi: MultiProgress::new(),
            bars: Mutex::new(HashMap::new()),
        }
    }

    /// Prints a line of its own above the bars. The text may quote a provider's answer
    /// (an error body, a model id), so its controls are escaped first.
    fn line(&self, text: &str) {
        let text = crate::untrusted::escape_message(text);
        if self.style == Style::Live {
            let _ = self.multi.println(text);
        } else {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        }
    }

    fn bar(&self, group: Uuid, artist: &str, f: impl FnOnce(&ProgressBar)) {
        let mut bars = self.bars.lock().unwrap_or_else(|p| p.into_inner());
        let bar = bars.entry((group, artist.to_string())).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:.bold} {wide_msg} {elapsed:>4}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(format!("{} {artist}", short(group)));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        f(bar);
    }

    /// The table that ends a batch: artist, status, latency, tokens, cost.
    pub fn summary(&self, runs: &[RunRecord]) {
        let done = runs.iter().filter(|r| r.status == Status::Done).count();
        let failed = runs.iter().filter(|r| r.status == Status::Failed).count();
        let queued = runs.len() - done - failed;
        let cost: f64 = runs
            .iter()
            .filter_map(RunRecord::cost_usd)
            .fold(0.0, |a, b| a + b);
        if self.style == Style::Json {
            self.emit(Event::Summary {
                done,
                failed,
                queued,
                cost_usd: cost,
            });
            return;
        }
        self.line(&summary_table(runs));
    }
}

pub fn summary_table(runs: &[RunRecord]) -> String {
    let mut out = format!(
        "{:<8}  {:<24}  {:<10}  {:>9}  {:>8}  {:>10}\n",
        "group", "artist", "status", "latency", "tokens", "cost"
    );
    for r in runs {
        out.push_str(&format!(
            "{:<8}  {:<24}  {:<10}  {:>9}  {:>8}  {:>10}\n",
            short(r.run_group_id),
            r.artist_slug,
            r.status.as_str(),
            r.latency_ms()
                .map_or("-".into(), |ms| format!("{:.1} s", ms as f64 / 1000.0)),
            r.tokens()
                .map_or("-".into(), |t| (t.input + t.output).to_string()),
            r.cost_usd().map_or("-".into(), |c| format!("${c:.4}")),
        ));
    }
    let done = runs.iter().filter(|r| r.status == Status::Done).count();
    let failed = runs.iter().filter(|r| r.status == Status::Failed).count();
    let cost: f64 = runs
        .iter()
        .filter_map(RunRecord::cost_usd)
        .fold(0.0, |a, b| a + b);
    out.push_str(&format!(
        "{done} done, {failed} failed, {} not run; cost ${cost:.4}",
        runs.len() - done - failed
    ));
    out
}

fn short(group: Uuid) -> String {
    group.to_string()[..8].to_string()
}

impl Sink for Reporter {
    fn emit(&self, event: Event) {
        match self.style {
            Style::Json => {
                if let Ok(text) = serde_json::to_string(&event) {
                    let _ = writeln!(std::io::stderr().lock(), "{text}");
                }
            }
            Style::Plain => self.line(&plain(&event)),
            Style::Live => match &event {
                Event::RunStarted { group, artist } => {
                    self.bar(*group, artist, |b| b.set_message("starting"))
                }
                Event::Stage {
                    group,
                    artist,
                    stage,
                } => self.bar(*group, artist, |b| b.set_message(format!("{stage} stage"))),
                Event::Retry {
                    group,
                    artist,
                    stage,
                    attempt,
                    reason,
                    wait_ms,
                } => self.bar(*group, artist, |b| {
                    b.set_message(format!(
                        "{stage} stage, retry {attempt} in {:.1} s: {}",
                        *wait_ms as f64 / 1000.0,
                        crate::untrusted::escape_controls(reason)
                    ))
                }),
                Event::RunFinished { group, artist, .. } => {
                    if let Some(bar) = self
                        .bars
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&(*group, artist.clone()))
                    {
                        bar.finish_and_clear();
                        self.multi.remove(&bar);
                    }
                    self.line(&plain(&event));
                }
                _ => self.line(&plain(&event)),
            },
        }
    }
}

/// One line per event, for logs and pipes.
pub fn plain(event: &Event) -> String {
    match event {
        Event::Planned { group, runs } => {
            format!("{group}: planned {runs} run(s), written as queued")
        }
        Event::RunStarted { group, artist } => format!("{} {artist}: started", short(*group)),
        Event::Stage {
            group,
            artist,
            stage,
        } => format!("{} {artist}: {stage} stage", short(*group)),
        Event::Retry {
            group,
            artist,
            stage,
            attempt,
            reason,
            wait_ms,
        } => format!(
            "{} {artist}: {stage} stage attempt {attempt} failed ({reason}); retrying in {:.1} s",
            short(*group),
            *wait_ms as f64 / 1000.0
        ),
        Event::RunFinished {
            group,
            artist,
            status,
            error,
            latency_ms,
            ..
        } => {
            let latency = latency_ms.map_or(String::new(), |ms| {
                format!(" in {:.1} s", ms as f64 / 1000.0)
            });
            match error {
                Some(e) => format!("{} {artist}: {status}{latency}: {e}", short(*group)),
                None => format!("{} {artist}: {status}{latency}", short(*group)),
            }
        }
        Event::Notice { message } => message.clone(),
        Event::Summary {
            done,
            failed,
            queued,
            cost_usd,
        } => {
            format!("{done} done, {failed} failed, {queued} not run; cost ${cost_usd:.4}")
        }
    }
}

/// Throws events away (library callers and tests that do not watch).
pub struct Silent;

impl Sink for Silent {
    fn emit(&self, _event: Event) {}
}
