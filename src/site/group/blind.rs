//! The blind page's view of a group: the columns in a shuffled order under neutral labels
//! ("Artist C"), images under content-derived names. No URL, file name, alt text or
//! attribute of the page names an Artist; the names appear only as revealed text. Votes
//! name runs by their vote token, a hash that needs the source image's digest to undo.

use serde::Serialize;

use crate::site::analysis::GroupAnalysis;
use crate::site::render::model::{GroupView, ImageView};

/// One column of the blind page.
#[derive(Debug, Serialize)]
pub struct BlindRun<'a> {
    /// "Artist C".
    pub label: &'a str,
    /// "c": the lightbox permalink (`#view-c`) and the reveal's anchor.
    pub key: String,
    pub status: &'a str,
    pub image: Option<ImageView>,
    /// The image prompt, or a neutral description (the usual one names the Artist).
    pub alt: String,
    pub statement_html: &'a str,
    /// Revealed only as text, on request.
    pub artist_name: &'a str,
    pub brush_name: &'a str,
    /// 1-based column of the named view (`index.html#col-N`).
    pub column: usize,
    /// The run's opaque name in votes ([`crate::store::votes::vote_token`]).
    pub token: Option<String>,
}

/// The group's columns in blind order.
pub fn blind_runs<'a>(analysis: &'a GroupAnalysis, group: &'a GroupView) -> Vec<BlindRun<'a>> {
    let mut cols: Vec<(usize, BlindRun)> = analysis
        .columns
        .iter()
        .zip(&group.runs)
        .enumerate()
        .map(|(i, (c, run))| {
            let key = c
                .blind_label
                .rsplit(' ')
                .next()
                .unwrap_or_default()
                .to_lowercase();
            let alt = if run.image_prompt.trim().is_empty() {
                format!("Image by {}", c.blind_label)
            } else {
                run.image_prompt.clone()
            };
            let blind = BlindRun {
                label: &c.blind_label,
                key,
                status: &run.status,
                image: run.image.as_ref().map(|img| img.blind(&group.id)),
                alt,
                statement_html: &run.statement_html,
                artist_name: &run.artist_name,
                brush_name: &run.brush_name,
                column: i + 1,
                token: run.image.as_ref().map(|img| {
                    crate::store::votes::vote_token(&group.id, &run.artist_slug, &img.sha256)
                }),
            };
            (c.blind_order, blind)
        })
        .collect();
    cols.sort_by_key(|(order, _)| *order);
    cols.into_iter().map(|(_, c)| c).collect()
}
