//! The blind page's view of a group: the columns in a shuffled order under neutral labels
//! ("Artist C"), images under names of their own, statements with the Artists' names
//! taken out. No URL, file name, alt text or attribute of the page names an Artist; the
//! names appear only as revealed text. Votes name runs by their vote token.
//!
//! What a reader of both the blind and the named page can compute decides the design.
//! The shuffle and the blind image names come from a [`BlindKey`], a hash of what the
//! group's files hold and no page publishes (timestamps below the second, the source
//! images' digests). The names are a hash of the key, the group and the blind position
//! only, so they say nothing about which Artist sits there, and the compare page's names
//! (a hash of the group and the image's content) cannot be turned into them. The same
//! pixels are still on both pages: blind means the page gives nothing away to a viewer,
//! not that the two cannot be compared by eye.

use serde::Serialize;

use crate::site::analysis::GroupAnalysis;
use crate::site::group::redact::Redaction;
use crate::site::render::markdown::render_markdown;
use crate::site::render::model::{extension, GroupView, ImageView, ThumbView};
use crate::store::{sha256_hex, votes, LoadedGroup};

/// One column of the blind page.
#[derive(Debug, Serialize)]
pub struct BlindRun<'a> {
    /// "Artist C".
    pub label: &'a str,
    /// "c": the lightbox permalink (`#view-c`) and the reveal's anchor.
    pub key: String,
    pub status: &'a str,
    pub image: Option<ImageView>,
    /// The image prompt, or a neutral description, with the Artists' names taken out.
    pub alt: String,
    /// Sanitised HTML of the statement with the Artists' names taken out.
    pub statement_html: String,
    /// Revealed only as text, on request.
    pub artist_name: &'a str,
    pub brush_name: &'a str,
    /// 1-based column of the named view (`index.html#col-N`).
    pub column: usize,
    /// The run's opaque name in votes ([`votes::vote_token`]).
    pub token: Option<String>,
}

/// A group's secret for its blind page: a hash of what the group's own files hold and no
/// page shows. Stable while the group's files are (so clean and incremental builds agree);
/// it changes when a run is made again, and with it the shuffle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlindKey(String);

impl BlindKey {
    /// From the records' sub-second timestamps and the source images' SHA-256 digests
    /// (`image_digests`, any order). Pages show times to the second and publish images
    /// re-encoded or resized, so neither is on a page, though the repository holds both.
    pub fn of<'a>(g: &LoadedGroup, image_digests: impl IntoIterator<Item = &'a str>) -> Self {
        let mut parts = vec![
            "chorus blind key v2".to_string(),
            g.group.run_group_id.to_string(),
            g.group
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        ];
        let mut runs: Vec<_> = g.runs.iter().collect();
        runs.sort_by(|a, b| a.artist_slug.cmp(&b.artist_slug));
        for run in runs {
            parts.push(run.artist_slug.clone());
            // The same hidden timestamps a vote token is keyed by: one definition of what
            // a record holds and no page shows.
            parts.push(votes::run_secret(run));
        }
        let mut digests: Vec<&str> = image_digests.into_iter().collect();
        digests.sort_unstable();
        parts.extend(digests.into_iter().map(str::to_string));
        // Length-prefixed, so no two lists of parts hash alike.
        let joined: String = parts.iter().map(|p| format!("{}:{p}", p.len())).collect();
        BlindKey(sha256_hex(joined.as_bytes()))
    }

    /// The seed of the blind column order.
    pub fn seed(&self) -> &str {
        &self.0
    }

    /// Where the blind page's copy of the image at blind `position` lives: a resized
    /// variant (`Some(width)`) or the full image (`None`, with its extension).
    pub fn media_url(
        &self,
        group_id: &str,
        position: usize,
        width: Option<u32>,
        ext: &str,
    ) -> String {
        let variant = width.map_or_else(|| "full".to_string(), |w| w.to_string());
        let token = &sha256_hex(
            format!("blind-media/{}/{group_id}/{position}/{variant}", self.0).as_bytes(),
        )[..20];
        match width {
            Some(w) => format!("groups/{group_id}/media/@{token}-{w}.jpg"),
            None => format!("groups/{group_id}/media/@{token}.{ext}"),
        }
    }

    /// The image as the blind page shows it: its resized variants under blind names, the
    /// largest standing in for the full image, or the full image under a blind name when
    /// it has no variants. `group::image_files` publishes the same files.
    pub fn image(&self, group_id: &str, position: usize, img: &ImageView) -> ImageView {
        let thumbs: Vec<ThumbView> = img
            .thumbs
            .iter()
            .map(|t| ThumbView {
                url: self.media_url(group_id, position, Some(t.width), "jpg"),
                ..t.clone()
            })
            .collect();
        match thumbs.split_last() {
            Some((largest, rest)) => ImageView {
                url: largest.url.clone(),
                width: largest.width,
                height: largest.height,
                thumbs: rest.to_vec(),
                sha256: img.sha256.clone(),
            },
            None => ImageView {
                url: self.media_url(group_id, position, None, extension(&img.url)),
                thumbs: Vec::new(),
                ..img.clone()
            },
        }
    }
}

/// The group's columns in blind order. `loaded` gives the statements' Markdown, which is
/// redacted before it is rendered (and sanitised) again.
pub fn blind_runs<'a>(
    analysis: &'a GroupAnalysis,
    group: &'a GroupView,
    loaded: &LoadedGroup,
    key: &BlindKey,
    redaction: &Redaction,
) -> Vec<BlindRun<'a>> {
    let mut cols: Vec<(usize, BlindRun)> = analysis
        .columns
        .iter()
        .zip(&group.runs)
        .enumerate()
        .map(|(i, (c, run))| {
            let key_letter = c
                .blind_label
                .rsplit(' ')
                .next()
                .unwrap_or_default()
                .to_lowercase();
            let alt = if run.image_prompt.trim().is_empty() {
                format!("Image by {}", c.blind_label)
            } else {
                redaction.apply(&run.image_prompt)
            };
            let record = loaded.run(&run.artist_slug);
            let statement = record.map_or("", |r| r.artist_stmt.as_str());
            let blind = BlindRun {
                label: &c.blind_label,
                key: key_letter,
                status: &run.status,
                image: run
                    .image
                    .as_ref()
                    .map(|img| key.image(&group.id, c.blind_order, img)),
                alt,
                statement_html: render_markdown(&redaction.apply(statement)),
                artist_name: &run.artist_name,
                brush_name: &run.brush_name,
                column: i + 1,
                token: run.image.as_ref().zip(record).map(|(img, r)| {
                    let secret = votes::run_secret(r);
                    votes::vote_token(&group.id, &run.artist_slug, &img.sha256, &secret)
                }),
            };
            (c.blind_order, blind)
        })
        .collect();
    cols.sort_by_key(|(order, _)| *order);
    cols.into_iter().map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(created: &str) -> LoadedGroup {
        let group = serde_json::json!({
            "schemaVersion": 1, "runGroupId": "6f1c0000-0000-4000-8000-000000000000",
            "promptVersion": "v1", "promptText": "p", "promptSha256": "h",
            "brush": {"slug": "b", "name": "B", "provider": "procedural", "model": "m"},
            "artists": [], "seed": 1, "createdAt": created,
        });
        LoadedGroup {
            dir: "runs/g".into(),
            group: serde_json::from_value(group).unwrap(),
            runs: Vec::new(),
        }
    }

    #[test]
    fn the_key_needs_what_no_page_shows() {
        let a = BlindKey::of(&group("2026-12-01T10:00:00.123456789Z"), ["d1", "d2"]);
        assert_eq!(
            a,
            BlindKey::of(&group("2026-12-01T10:00:00.123456789Z"), ["d2", "d1"])
        );
        // The same second on every page, another nanosecond or image: another key.
        assert_ne!(
            a,
            BlindKey::of(&group("2026-12-01T10:00:00.123456788Z"), ["d1", "d2"])
        );
        assert_ne!(
            a,
            BlindKey::of(&group("2026-12-01T10:00:00.123456789Z"), ["d1", "d3"])
        );
    }

    #[test]
    fn media_names_say_only_the_position() {
        let key = BlindKey::of(&group("2026-12-01T10:00:00.5Z"), ["d"]);
        let name = key.media_url("g", 0, Some(400), "jpg");
        assert!(
            name.starts_with("groups/g/media/@") && name.ends_with("-400.jpg"),
            "{name}"
        );
        assert_ne!(name, key.media_url("g", 1, Some(400), "jpg"));
        assert_ne!(name, key.media_url("g", 0, Some(800), "jpg"));
        assert!(key.media_url("g", 0, None, "png").ends_with(".png"));
    }
}
