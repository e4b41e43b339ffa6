//! Commands that read `runs/` and report or add to it without generating: `status`,
//! `check` and `votes import`.

use super::*;

/// Groups `status` lists unless `--all`: a long history would otherwise scroll away.
const STATUS_GROUPS: usize = 30;

pub(super) fn status(root: &Path, all: bool) -> Result<u8> {
    // One line per group, read in parallel without holding the runs.
    let (mut rows, problems) = store::scan_groups(&root.join("runs"), |g| {
        let counts = [
            Status::Queued,
            Status::Generating,
            Status::Done,
            Status::Failed,
        ]
        .map(|s| g.count(s));
        Some((
            g.group.created_at,
            g.group.run_group_id,
            g.group.prompt_version,
            counts,
        ))
    });
    rows.sort_by_key(|r| std::cmp::Reverse((r.0, r.1)));
    if rows.is_empty() {
        outln!("No run groups in {}.", root.join("runs").display());
    } else {
        outln!(
            "{:<36}  {:<14}  {:<20}  queued generating done failed",
            "group",
            "prompt",
            "created"
        );
        let shown = if all { rows.len() } else { STATUS_GROUPS };
        for (created, id, version, [q, g, d, f]) in rows.iter().take(shown) {
            outln!(
                "{:<36}  {:<14}  {:<20}  {:>6} {:>10} {:>4} {:>6}",
                id,
                version,
                created.format("%Y-%m-%d %H:%M:%S"),
                q,
                g,
                d,
                f,
            );
        }
        let mut total = [0usize; 4];
        for (_, _, _, c) in &rows {
            for (t, n) in total.iter_mut().zip(c) {
                *t += n;
            }
        }
        if rows.len() > shown {
            outln!(
                "… and {} older group(s); `chorus status --all` lists every one.",
                rows.len() - shown
            );
        }
        outln!(
            "{} group(s), {} run(s): {} queued, {} generating, {} done, {} failed.",
            rows.len(),
            total.iter().sum::<usize>(),
            total[0],
            total[1],
            total[2],
            total[3]
        );
    }
    print_batches(root);
    if !problems.is_empty() {
        errln!(
            "{} problem(s) in runs/; run `chorus check` for details.",
            problems.len()
        );
    }
    Ok(exit::OK)
}

/// The submitted batches, with the provider's own progress when chorus.toml and the keys
/// allow a poll.
fn print_batches(root: &Path) {
    // Only the runs waiting in a batch are kept while the groups are read.
    let (waiting, _) = store::scan_groups(&root.join("runs"), |g| {
        let runs: Vec<store::RunRecord> = g
            .runs
            .into_iter()
            .filter(|r| r.meta.submitted.is_some())
            .collect();
        (!runs.is_empty()).then_some(runs)
    });
    let runs: Vec<store::RunRecord> = waiting.into_iter().flatten().collect();
    if runs.is_empty() {
        return;
    }
    let ctx = Project::load(root)
        .ok()
        .and_then(|p| batch::BatchContext::for_status(&p).ok());
    if let Ok(batches) = batch::block_on(batch::survey(ctx.as_ref(), &runs)) {
        write_out(&batch::report::status_table(&batches));
    }
}

pub(super) fn check(root: &Path, online: bool) -> Result<u8> {
    let project = Project::load(root);
    let mut problems: Vec<String> = match &project {
        Ok(_) => Vec::new(),
        Err(ps) => ps.iter().map(ToString::to_string).collect(),
    };
    // Only the counts are kept, so a long history is checked in little memory.
    // Votes are checked against their group's images, as the build counts them.
    let (runs, store_problems) = store::scan_groups(&root.join("runs"), |g| {
        Some((g.runs.len(), store::votes::check_group_votes(&g)))
    });
    problems.extend(store_problems.iter().map(|p| p.relative_to(root)));
    let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).to_path_buf();
    for (_, vote_problems) in &runs {
        problems.extend(vote_problems.iter().map(|p| {
            store::votes::VoteProblem {
                file: rel(&p.file),
                ..p.clone()
            }
            .to_string()
        }));
    }
    let runs: Vec<usize> = runs.iter().map(|(n, _)| *n).collect();
    for p in &problems {
        errln!("{p}");
    }
    let groups = runs.len();
    let runs: usize = runs.iter().sum();
    let offline = if problems.is_empty() {
        errln!("ok: chorus.toml and {groups} group(s), {runs} run(s) checked.");
        exit::OK
    } else {
        errln!("{} problem(s) found.", problems.len());
        exit::PROBLEMS
    };
    match (online, &project) {
        (true, Ok(project)) => match super::models::check_online(project)? {
            exit::OK => Ok(offline),
            code => Ok(code),
        },
        (true, Err(_)) => {
            errln!("The online check needs a valid chorus.toml; fix the problems above first.");
            Ok(offline)
        }
        (false, _) => Ok(offline),
    }
}

pub(super) fn votes_import(root: &Path, file: &Path) -> Result<u8> {
    let project = load_project(root)?;
    match store::votes::import(&project.runs_dir(), file) {
        Ok(report) => {
            print_import(root, file, &report);
            Ok(exit::OK)
        }
        Err(store::votes::ImportError::Refused(problems)) => {
            for p in &problems {
                errln!("error: {p}");
            }
            errln!(
                "{} problem(s) in {}; nothing was imported. Fix the file (or re-download it from the blind page) and import it again.",
                problems.len(),
                file.display()
            );
            Ok(exit::ERROR)
        }
        Err(store::votes::ImportError::Write {
            path,
            error,
            removed,
            left,
        }) => {
            let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
            errln!("error: cannot write {}: {error}", rel(&path));
            if left.is_empty() {
                errln!(
                    "The {removed} file(s) this import had written before were removed again; nothing was imported. Fix the cause and import {} again.",
                    file.display()
                );
            } else {
                let left: Vec<String> = left.iter().map(|p| rel(p)).collect();
                errln!(
                    "error: these file(s) were written and could not be removed again: {}. They hold sound votes, which the next build counts; once the cause is fixed, import {} again (the votes they hold are skipped as already imported).",
                    left.join(", "),
                    file.display()
                );
            }
            Ok(exit::ERROR)
        }
    }
}

/// What an import did, group by group, then what it skipped and why, then the sum.
fn print_import(root: &Path, file: &Path, report: &store::votes::ImportReport) {
    let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let (mut added, mut known) = (0, 0);
    for g in &report.groups {
        added += g.added;
        known += g.known;
        if g.written.is_empty() {
            if g.known > 0 {
                errln!(
                    "group {}: nothing new ({} vote(s) already imported)",
                    g.group_id,
                    g.known
                );
            }
            continue;
        }
        let files: Vec<String> = g.written.iter().map(|p| rel(p)).collect();
        errln!(
            "group {}: {} new vote(s){} -> {} (each with its import record, *{})",
            g.group_id,
            g.added,
            if g.known > 0 {
                format!(", {} already imported", g.known)
            } else {
                String::new()
            },
            files.join(", "),
            store::votes::RECORD_SUFFIX
        );
    }
    let mut skipped = 0;
    for s in &report.skipped {
        skipped += s.votes.len();
        let mut numbers: Vec<String> = s.votes.iter().take(5).map(|(n, _)| n.to_string()).collect();
        if s.votes.len() > 5 {
            numbers.push("…".into());
        }
        errln!(
            "skipped {} vote(s) for group {} (vote {}): {}",
            s.votes.len(),
            s.group_id,
            numbers.join(", "),
            s.reason
        );
    }
    if report.cleaned_labels > 0 {
        errln!(
            "note: cleaned the voter label of {} vote(s): control and direction characters dropped, whitespace made single spaces, at most {} characters kept",
            report.cleaned_labels,
            store::votes::MAX_VOTER_CHARS
        );
    }
    let skipped_note = format!("{skipped} vote(s) that no longer apply were skipped (see above)");
    if added == 0 {
        let mut parts = Vec::new();
        if known > 0 || skipped == 0 {
            parts.push(format!(
                "all {known} vote(s) of {} were imported before",
                file.display()
            ));
        }
        if skipped > 0 {
            parts.push(skipped_note);
        }
        errln!("Nothing to import: {}.", parts.join("; "));
    } else {
        errln!(
            "Imported {added} vote(s) into {} group(s); run `chorus build` to update the leaderboards.{}",
            report.groups.iter().filter(|g| g.added > 0).count(),
            if skipped > 0 { format!(" {skipped_note}.") } else { String::new() }
        );
    }
}
