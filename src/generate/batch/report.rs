//! What batch work tells the person at the terminal: submitted batches, a collection's
//! outcome and the `chorus status` table, as lines of text. Pure: the CLI prints them.

use chrono::{DateTime, Utc};

use super::{BatchStatus, Continued, Submitted, PRICE_FACTOR};

/// One line per accepted batch.
pub fn submitted(batches: &[Submitted]) -> Vec<String> {
    batches
        .iter()
        .map(|s| {
            format!(
                "submitted {} batch {} ({} stage, {}): {} request{} at {}% of list price",
                s.provider,
                s.batch_id,
                s.stage.as_str(),
                s.who,
                s.requests,
                plural(s.requests),
                (PRICE_FACTOR * 100.0).round()
            )
        })
        .collect()
}

/// What a collection recorded, what failed and why, and what still runs.
pub fn continued(done: &Continued) -> Vec<String> {
    let c = &done.collected;
    let mut lines: Vec<String> = c.notes.iter().map(|n| format!("warning: {n}")).collect();
    if c.recorded > 0 || c.already > 0 {
        let skipped = if c.already > 0 {
            format!(
                "; {} line(s) were recorded by an earlier collect and skipped",
                c.already
            )
        } else {
            String::new()
        };
        lines.push(format!(
            "collected {} result{} ({} failed){skipped}",
            c.recorded,
            plural(c.recorded),
            c.failed.len()
        ));
    }
    for run in c.runs.iter().filter(|r| c.failed.contains(&r.run_id)) {
        lines.push(format!(
            "failed: {} / {}: {}",
            run.run_group_id,
            run.artist_slug,
            run.error.as_deref().unwrap_or_default()
        ));
    }
    for w in &c.waiting {
        lines.push(format!(
            "waiting: {} batch {} ({} stage, {} run{}, submitted {} ago): {}",
            w.provider,
            w.batch_id,
            w.stage,
            w.runs,
            plural(w.runs),
            age(w.submitted_at),
            w.progress
        ));
    }
    lines.extend(submitted(&done.submitted));
    if done.still_running() > 0 {
        lines.push(
            "Batches are still running; collect again later with `chorus resume --all`.".into(),
        );
    }
    lines
}

/// The `chorus status` section for submitted batches (empty when there are none).
pub fn status_table(batches: &[BatchStatus]) -> String {
    if batches.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nSubmitted batches (collect with `chorus resume --all`):\n");
    out.push_str(&format!(
        "{:<10}  {:<46}  {:<6}  {:>4}  {:<12}  progress\n",
        "provider", "batch", "stage", "runs", "age"
    ));
    for b in batches {
        out.push_str(&format!(
            "{:<10}  {:<46}  {:<6}  {:>4}  {:<12}  {}\n",
            b.provider,
            b.batch_id,
            b.stage,
            b.runs,
            age(b.submitted_at),
            b.progress
        ));
    }
    out
}

/// "3 h 12 min", "45 s": how long ago a batch was submitted.
pub fn age(since: DateTime<Utc>) -> String {
    let secs = (Utc::now() - since).num_seconds().max(0);
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
