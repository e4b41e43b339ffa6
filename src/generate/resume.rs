//! `chorus resume`: finds the runs of one group (or all) that are queued, failed or left
//! `generating` by a crash, and matches each with its Artist and Brush from chorus.toml,
//! refusing when the model changed (the group would no longer compare like with like).

use uuid::Uuid;

use super::plan::procedural_brush;
use super::{providers, GenerateError};
use crate::config::{validate_slug, Artist, Brush, Kind, Project};
use crate::store::{self, GroupRecord, RunRecord, Status};

/// What `resume` will run.
#[derive(Debug, Clone)]
pub struct ResumePlan {
    pub groups: Vec<GroupRecord>,
    pub runs: Vec<RunRecord>,
    pub artists: Vec<Artist>,
    pub brushes: Vec<Brush>,
    /// Files under runs/ that could not be read (their runs are skipped).
    pub problems: Vec<String>,
    /// Temp files an interrupted chorus left, removed before planning.
    pub cleaned: Vec<std::path::PathBuf>,
}

/// `target`: one group id, or None for every group.
pub fn plan_resume(project: &Project, target: Option<Uuid>) -> Result<ResumePlan, GenerateError> {
    let cleaned = store::clean_leftovers(&project.runs_dir());
    // Only groups with something to do are kept, each with only its pending runs, so
    // `resume --all` over a long history holds little more than what it will run.
    let (mut groups, problems) = store::scan_groups(&project.runs_dir(), |mut g| {
        if target.is_some_and(|id| g.group.run_group_id != id) {
            return None;
        }
        let unwritten = g.group.artists.len() > g.runs.len();
        g.runs.retain(|r| r.status != Status::Done);
        (target.is_some() || unwritten || !g.runs.is_empty()).then_some(g)
    });
    groups.sort_by(store::newest_first);
    let problems = problems.iter().map(ToString::to_string).collect();
    if let Some(id) = target {
        if groups.is_empty() {
            return Err(GenerateError::Plan(format!(
                "no run group {id} under {}; `chorus status` lists the groups",
                project.runs_dir().display()
            )));
        }
    }
    let mut plan = ResumePlan {
        groups: Vec::new(),
        runs: Vec::new(),
        artists: Vec::new(),
        brushes: Vec::new(),
        problems,
        cleaned,
    };
    for loaded in &groups {
        let group = &loaded.group;
        // A crash while the plan was written can leave an Artist of the group without a
        // run file: that run was never started, so it is queued again.
        let unwritten: Vec<RunRecord> = group
            .artists
            .iter()
            .filter(|a| loaded.run(&a.slug).is_none())
            .filter(|a| validate_slug(&a.slug).is_ok())
            .filter(|a| !store::run_file(&loaded.dir, &a.slug).exists())
            .map(|a| super::plan::queued_run(group, &a.slug))
            .collect();
        let pending: Vec<&RunRecord> = loaded
            .runs
            .iter()
            .filter(|r| r.status != Status::Done)
            .chain(&unwritten)
            .collect();
        if pending.is_empty() {
            continue;
        }
        for run in &pending {
            let artist = resolve_artist(project, group, &run.artist_slug)?;
            if !plan.artists.iter().any(|a| a.slug == artist.slug) {
                plan.artists.push(artist);
            }
            let brush = resolve_brush(project, group, &run.brush_slug)?;
            if !plan.brushes.iter().any(|b| b.slug == brush.slug) {
                plan.brushes.push(brush);
            }
            plan.runs.push((*run).clone());
        }
        plan.groups.push(group.clone());
    }
    Ok(plan)
}

fn resolve_artist(
    project: &Project,
    group: &GroupRecord,
    slug: &str,
) -> Result<Artist, GenerateError> {
    let recorded = group.artists.iter().find(|a| a.slug == slug);
    let artist = project
        .artist(slug)
        .cloned()
        .or_else(|| providers::offline_roster().into_iter().find(|a| a.slug == slug))
        .ok_or_else(|| {
            GenerateError::Plan(format!(
                "group {}: Artist {slug:?} is no longer in chorus.toml; add it back to resume its run",
                group.run_group_id
            ))
        })?;
    if let Some(r) = recorded.filter(|r| r.model != artist.model) {
        return Err(GenerateError::Plan(format!(
            "group {}: Artist {slug:?} ran model {:?} but chorus.toml now says {:?}; a group compares one model per Artist, so start a new group with `chorus generate` instead",
            group.run_group_id, r.model, artist.model
        )));
    }
    Ok(artist)
}

fn resolve_brush(
    project: &Project,
    group: &GroupRecord,
    slug: &str,
) -> Result<Brush, GenerateError> {
    let brush = project
        .brush(slug)
        .cloned()
        .or_else(|| (group.brush.provider == Kind::Procedural.name()).then(procedural_brush))
        .ok_or_else(|| {
            GenerateError::Plan(format!(
                "group {}: Brush {slug:?} is no longer in chorus.toml; add it back to resume",
                group.run_group_id
            ))
        })?;
    if brush.model != group.brush.model {
        return Err(GenerateError::Plan(format!(
            "group {}: Brush {slug:?} painted with {:?} but chorus.toml now says {:?}; start a new group instead",
            group.run_group_id, group.brush.model, brush.model
        )));
    }
    Ok(brush)
}
