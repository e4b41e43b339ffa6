//! The leaderboards: one over every group and one per prompt version, made from the vote
//! tallies in the group summaries alone (`ratings` does the arithmetic). Each shows the
//! Artists' Bradley–Terry ratings with their intervals and vote counts, and the
//! head-to-head wins. Themes without `leaderboard.html` have no leaderboards.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::site::analysis::ratings::{merge_tallies, standings_capped, Standings, VoteTally};
use crate::site::group::summary::GroupSummary;
use crate::site::render::model;

/// The leaderboard template; a theme without it has no leaderboards.
pub const TEMPLATE: &str = "leaderboard.html";

/// Where the leaderboard of one prompt version (or of all, `None`) lives.
pub fn url(version: Option<&str>) -> String {
    match version {
        None => "leaderboards/index.html".into(),
        Some(v) => format!("leaderboards/{}.html", model::path_segment(v)),
    }
}

/// Whether the theme has leaderboards.
pub fn in_theme(theme: &crate::site::render::theme::Theme) -> bool {
    theme.tera.get_template_names().any(|n| n == TEMPLATE)
}

/// Every leaderboard as a link, for each page's list of the others.
pub fn links(boards: &[Board]) -> Vec<serde_json::Value> {
    boards
        .iter()
        .map(|b| {
            let label = b
                .version
                .as_deref()
                .map_or("All prompt versions".to_string(), |v| format!("Prompt {v}"));
            serde_json::json!({ "label": label, "url": b.url, "votes": b.votes })
        })
        .collect()
}

/// An Artist's name and page, as a leaderboard shows them.
pub fn named(name: &str, url: &str) -> Named {
    Named {
        name: name.to_string(),
        url: url.to_string(),
    }
}

/// An Artist as a leaderboard names it.
#[derive(Debug, Clone, Serialize)]
pub struct Named {
    pub name: String,
    pub url: String,
}

/// One leaderboard page.
#[derive(Debug, Clone, Serialize)]
pub struct Board {
    /// `None` for the overall board.
    pub version: Option<String>,
    pub url: String,
    pub votes: u32,
    /// Groups with at least one vote.
    pub groups: usize,
    pub rows: Vec<Row>,
    /// Head-to-head: one row per Artist, in rank order.
    pub matrix: Vec<MatrixRow>,
    /// Votes per voter label, most first, at most [`MAX_VOTER_ROWS`] of them.
    pub voters: Vec<VoterRow>,
    /// Voters past those rows, and their votes.
    pub more_voters: usize,
    pub more_votes: u32,
    /// `[votes] max_weight_per_voter`, when set.
    pub cap: Option<u32>,
}

/// The most voter labels a leaderboard lists: a flood of labels stays one line.
pub const MAX_VOTER_ROWS: usize = 50;

/// One voter label on a leaderboard.
#[derive(Debug, Clone, Serialize)]
pub struct VoterRow {
    /// As the votes carry it (cleaned on import; escaped by the template).
    pub voter: String,
    pub votes: u32,
    /// How many votes' weight its votes carry in the ratings (the cap, when capped).
    pub counted: u32,
    pub capped: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub rank: usize,
    pub slug: String,
    pub name: String,
    pub url: String,
    pub rating: String,
    pub low: String,
    pub high: String,
    pub votes: u32,
    pub picked: u32,
    /// The interval drawn on a 0–100 axis shared by the board's rows.
    pub bar_from: String,
    pub bar_width: String,
    pub bar_point: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MatrixRow {
    pub name: String,
    pub url: String,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub text: String,
    /// heat-0…heat-5 by the row's share of wins, heat-diag, or heat-na when never met.
    pub class: String,
    /// Said in words, for the cell's title.
    pub label: String,
}

/// Every leaderboard: the overall one first, then one per prompt version in `versions`'
/// order. `names` gives each slug's name and page; `cap` is `[votes]
/// max_weight_per_voter`, applied on each board to the votes it counts.
pub fn boards(
    groups: &[&GroupSummary],
    versions: &[&str],
    names: &BTreeMap<String, Named>,
    cap: Option<u32>,
) -> Vec<Board> {
    let mut out = vec![board(None, groups.iter().copied(), names, cap)];
    for v in versions {
        out.push(board(
            Some(v),
            groups.iter().copied().filter(|g| g.prompt_version == *v),
            names,
            cap,
        ));
    }
    out
}

fn board<'a>(
    version: Option<&str>,
    groups: impl Iterator<Item = &'a GroupSummary>,
    names: &BTreeMap<String, Named>,
    cap: Option<u32>,
) -> Board {
    let mut voted = 0;
    let mut all: Vec<&VoteTally> = Vec::new();
    for g in groups {
        if !g.votes.is_empty() {
            voted += 1;
            all.extend(&g.votes);
        }
    }
    let s = standings_capped(&merge_tallies(all), cap);
    let voters: Vec<VoterRow> = s
        .voters
        .iter()
        .take(MAX_VOTER_ROWS)
        .map(|v| VoterRow {
            voter: v.voter.clone(),
            votes: v.votes,
            counted: cap.filter(|_| v.weight < 1.0).unwrap_or(v.votes),
            capped: v.weight < 1.0,
        })
        .collect();
    let rest = s.voters.get(MAX_VOTER_ROWS..).unwrap_or_default();
    Board {
        version: version.map(str::to_string),
        url: url(version),
        votes: s.votes,
        groups: voted,
        rows: rows(&s, names),
        matrix: matrix(&s, names),
        voters,
        more_voters: rest.len(),
        more_votes: rest.iter().map(|v| v.votes).sum(),
        cap,
    }
}

fn name_of(names: &BTreeMap<String, Named>, slug: &str) -> (String, String) {
    names.get(slug).map_or_else(
        || (slug.to_string(), model::artist_url(slug)),
        |n| (n.name.clone(), n.url.clone()),
    )
}

fn rows(s: &Standings, names: &BTreeMap<String, Named>) -> Vec<Row> {
    let lo = s
        .ratings
        .iter()
        .map(|r| r.low)
        .fold(f64::INFINITY, f64::min);
    let hi = s
        .ratings
        .iter()
        .map(|r| r.high)
        .fold(f64::NEG_INFINITY, f64::max);
    let span = (hi - lo).max(1.0);
    let at = |x: f64| 2.0 + 96.0 * (x - lo) / span;
    s.ratings
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let (name, url) = name_of(names, &r.slug);
            Row {
                rank: i + 1,
                slug: r.slug.clone(),
                name,
                url,
                rating: format!("{:.0}", r.rating),
                low: format!("{:.0}", r.low),
                high: format!("{:.0}", r.high),
                votes: r.votes,
                picked: r.picked,
                bar_from: format!("{:.1}", at(r.low)),
                bar_width: format!("{:.1}", (at(r.high) - at(r.low)).max(0.5)),
                bar_point: format!("{:.1}", at(r.rating)),
            }
        })
        .collect()
}

fn matrix(s: &Standings, names: &BTreeMap<String, Named>) -> Vec<MatrixRow> {
    let names_of: Vec<(String, String)> =
        s.ratings.iter().map(|r| name_of(names, &r.slug)).collect();
    s.wins
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let cells = row
                .iter()
                .enumerate()
                .map(|(j, &won)| cell(s, i, j, won, (&names_of[i].0, &names_of[j].0)))
                .collect();
            MatrixRow {
                name: names_of[i].0.clone(),
                url: names_of[i].1.clone(),
                cells,
            }
        })
        .collect()
}

/// One cell of the head-to-head: the row's wins over the column's, said in words with what
/// best of N does not tell (how two Artists rank when a third was picked).
fn cell(s: &Standings, i: usize, j: usize, won: u32, (me, them): (&str, &str)) -> Cell {
    let lost = s.wins[j][i];
    let shown = s.shown[i][j];
    let third = shown.saturating_sub(won + lost);
    if i == j {
        return Cell {
            text: "–".into(),
            class: "heat-diag".into(),
            label: String::new(),
        };
    }
    if shown == 0 {
        return Cell {
            text: "·".into(),
            class: "heat-na".into(),
            label: format!("{me} and {them} were never shown together"),
        };
    }
    if won + lost == 0 {
        return Cell {
            text: "0–0".into(),
            class: "heat-na".into(),
            label: format!("{me} and {them} were shown together in {}; another Artist was picked each time, and best of N does not say which of the two came second", votes(shown)),
        };
    }
    let share = f64::from(won) / f64::from(won + lost);
    let mut label =
        format!("{me} was picked over {them} {won} times, {them} over {me} {lost} times");
    if third > 0 {
        label += &format!(
            "; in the other {} that showed both, another Artist was picked",
            votes(third)
        );
    }
    Cell {
        text: format!("{won}–{lost}"),
        class: format!("heat-{}", ((share * 6.0) as usize).min(5)),
        label,
    }
}

/// "1 vote", "3 votes".
fn votes(n: u32) -> String {
    format!("{n} vote{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::analysis::ratings::standings;

    #[test]
    fn the_matrix_reads_row_over_column() {
        let s = standings(&[
            VoteTally {
                voter: "anonymous".into(),
                winner: "a".into(),
                losers: vec!["b".into()],
                count: 3,
            },
            VoteTally {
                voter: "anonymous".into(),
                winner: "b".into(),
                losers: vec!["a".into()],
                count: 1,
            },
        ]);
        let m = matrix(&s, &BTreeMap::new());
        assert_eq!(m[0].name, "a");
        assert_eq!(m[0].cells[1].text, "3–1");
        assert_eq!(m[0].cells[1].class, "heat-4");
        assert_eq!(m[1].cells[0].text, "1–3");
        assert_eq!(m[0].cells[0].class, "heat-diag");
        let r = rows(&s, &BTreeMap::new());
        assert_eq!((r[0].votes, r[0].picked), (4, 3));

        // b and c only ever lost to a together: shown together, but no order between them.
        let s = standings(&[VoteTally {
            voter: "anonymous".into(),
            winner: "a".into(),
            losers: vec!["b".into(), "c".into()],
            count: 2,
        }]);
        let m = matrix(&s, &BTreeMap::new());
        assert_eq!(
            (m[1].cells[2].text.as_str(), m[1].cells[2].class.as_str()),
            ("0–0", "heat-na")
        );
        assert!(m[1].cells[2].label.contains("shown together in 2 votes"));
    }
}
