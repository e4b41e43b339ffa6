//! Ratings from blind votes: Bradley–Terry strengths fitted by the MM algorithm, with
//! bootstrap intervals, and the head-to-head win counts. Pure: takes vote tallies by
//! Artist slug, returns numbers. Deterministic (a fixed-seed generator), so a build is
//! byte-identical to the last one given the same votes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One kind of vote and how often one voter cast it: `winner` was picked as the best of
/// an image set holding also `losers` (sorted). A best-of-N vote is N−1 pairwise wins.
/// `voter` is the label the vote carries (typed by anyone, never checked; see
/// docs/votes.md), kept so that a cap on each voter's weight can be applied.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VoteTally {
    pub voter: String,
    pub winner: String,
    pub losers: Vec<String>,
    pub count: u32,
}

/// Merges tallies with the same voter, winner and losers, sorted: what a group's summary
/// keeps and what the leaderboards add up across groups.
pub fn merge_tallies<'a>(all: impl IntoIterator<Item = &'a VoteTally>) -> Vec<VoteTally> {
    let mut by_kind: BTreeMap<(String, String, Vec<String>), u32> = BTreeMap::new();
    for t in all {
        let mut losers = t.losers.clone();
        losers.sort();
        *by_kind
            .entry((t.voter.clone(), t.winner.clone(), losers))
            .or_default() += t.count;
    }
    by_kind
        .into_iter()
        .map(|((voter, winner, losers), count)| VoteTally {
            voter,
            winner,
            losers,
            count,
        })
        .collect()
}

/// Each voter's weight in the ratings under a cap of `cap` votes per voter: 1 for a voter
/// with at most `cap` votes, `cap / votes` beyond, so that no label moves the ratings more
/// than `cap` votes would. Without a cap every vote weighs 1.
pub fn voter_weights(tallies: &[VoteTally], cap: Option<u32>) -> BTreeMap<String, (u32, f64)> {
    let mut totals: BTreeMap<String, u32> = BTreeMap::new();
    for t in tallies {
        *totals.entry(t.voter.clone()).or_default() += t.count;
    }
    totals
        .into_iter()
        .map(|(voter, n)| {
            let weight = match cap {
                Some(cap) if n > cap => f64::from(cap) / f64::from(n),
                _ => 1.0,
            };
            (voter, (n, weight))
        })
        .collect()
}

/// Virtual games each Artist plays against a reference of strength 1: `PRIOR` wins and
/// `PRIOR` losses. This keeps an Artist that never lost (or never won) finite, and pulls
/// Artists with few votes towards the middle; with many votes it hardly matters.
pub const PRIOR: f64 = 0.5;
/// Bootstrap resamples behind each interval.
pub const RESAMPLES: usize = 200;
/// The generator's seed: fixed, so the same votes give the same page.
const SEED: u64 = 0x5eed_c0de_b7a1_2026;

/// One Artist's standing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rating {
    pub slug: String,
    /// On an Elo-like scale: 1000 is the geometric mean of the Artists rated here, and a
    /// lead of 400 points means 10:1 odds of being picked over the other.
    pub rating: f64,
    /// The 2.5th and 97.5th percentiles of the rating over the bootstrap resamples.
    pub low: f64,
    pub high: f64,
    /// Votes in which this Artist's image was shown.
    pub votes: u32,
    /// Votes in which it was picked.
    pub picked: u32,
}

/// What a leaderboard shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Standings {
    /// Best first (ties by slug).
    pub ratings: Vec<Rating>,
    /// `wins[i][j]`: how often the Artist of `ratings[i]` was picked over `ratings[j]`.
    pub wins: Vec<Vec<u32>>,
    /// `shown[i][j]`: the votes that showed both. Best of N says nothing of a pair when a
    /// third Artist was picked, so this can exceed `wins[i][j] + wins[j][i]`.
    pub shown: Vec<Vec<u32>>,
    pub votes: u32,
    /// Each voter's votes and the weight each of them carried in the ratings, most votes
    /// first (ties by label).
    pub voters: Vec<VoterWeight>,
}

/// One voter label's share of a leaderboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VoterWeight {
    pub voter: String,
    pub votes: u32,
    /// What each of its votes counted for in the ratings (1 unless capped).
    pub weight: f64,
}

/// The tallies with Artists as indices.
struct Games {
    slugs: Vec<String>,
    /// (winner, losers, count, the weight of each of these votes)
    kinds: Vec<(usize, Vec<usize>, f64, f64)>,
}

impl Games {
    fn of(tallies: &[VoteTally], weights: &BTreeMap<String, (u32, f64)>) -> Games {
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        for t in tallies {
            for s in std::iter::once(&t.winner).chain(&t.losers) {
                index.insert(s, 0);
            }
        }
        let slugs: Vec<String> = index.keys().map(|s| s.to_string()).collect();
        for (i, v) in index.values_mut().enumerate() {
            *v = i;
        }
        let kinds = tallies
            .iter()
            .filter(|t| t.count > 0 && !t.losers.is_empty())
            .map(|t| {
                (
                    index[t.winner.as_str()],
                    t.losers.iter().map(|l| index[l.as_str()]).collect(),
                    f64::from(t.count),
                    weights.get(&t.voter).map_or(1.0, |w| w.1),
                )
            })
            .collect();
        Games { slugs, kinds }
    }

    /// Log-strengths centred on their mean, for the kinds weighted by `weights`.
    fn fit(&self, weights: &[f64]) -> Vec<f64> {
        let k = self.slugs.len();
        let mut won = vec![0.0; k];
        let mut met = vec![vec![0.0; k]; k];
        for ((w, losers, _, _), weight) in self.kinds.iter().zip(weights) {
            for &l in losers {
                won[*w] += weight;
                met[*w][l] += weight;
                met[l][*w] += weight;
            }
        }
        center(bradley_terry(&won, &met).iter().map(|p| p.ln()).collect())
    }
}

fn center(mut logs: Vec<f64>) -> Vec<f64> {
    let mean = logs.iter().sum::<f64>() / logs.len().max(1) as f64;
    for l in &mut logs {
        *l -= mean;
    }
    logs
}

/// Bradley–Terry strengths by Hunter's MM algorithm: `won[i]` wins in all, `met[i][j]`
/// games between i and j. Each Artist also plays [`PRIOR`] won and lost games against a
/// fixed reference of strength 1, which anchors the scale and keeps every strength finite.
pub fn bradley_terry(won: &[f64], met: &[Vec<f64>]) -> Vec<f64> {
    let k = won.len();
    let mut p = vec![1.0; k];
    for _ in 0..10_000 {
        let mut moved: f64 = 0.0;
        for i in 0..k {
            let mut denom = 2.0 * PRIOR / (p[i] + 1.0);
            for j in 0..k {
                if j != i && met[i][j] > 0.0 {
                    denom += met[i][j] / (p[i] + p[j]);
                }
            }
            let next = (won[i] + PRIOR) / denom;
            moved = moved.max((next / p[i]).ln().abs());
            p[i] = next;
        }
        if moved < 1e-10 {
            break;
        }
    }
    p
}

/// The leaderboard of these votes, every vote weighing 1 (see [`standings_capped`]).
pub fn standings(tallies: &[VoteTally]) -> Standings {
    standings_capped(tallies, None)
}

/// The leaderboard of these votes: ratings with 95% bootstrap intervals, vote counts and
/// the head-to-head wins. Votes are resampled by the Poisson bootstrap (each vote counts a
/// Poisson(1) number of times), which needs only the tallies, never the votes one by one.
/// Under a `cap`, each voter's votes weigh at most `cap` votes in the ratings (see
/// [`voter_weights`]); the counts shown (votes, picks, head to head) stay the votes cast.
pub fn standings_capped(tallies: &[VoteTally], cap: Option<u32>) -> Standings {
    let weights = voter_weights(tallies, cap);
    let games = Games::of(tallies, &weights);
    let k = games.slugs.len();
    let counts: Vec<f64> = games.kinds.iter().map(|(_, _, c, w)| c * w).collect();
    let point = games.fit(&counts);

    let mut rng = SplitMix(SEED);
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(RESAMPLES); k];
    for _ in 0..RESAMPLES {
        let weights: Vec<f64> = games
            .kinds
            .iter()
            .map(|(_, _, c, w)| rng.poisson(*c) * w)
            .collect();
        for (i, l) in games.fit(&weights).into_iter().enumerate() {
            samples[i].push(l);
        }
    }

    let mut votes = vec![0u32; k];
    let mut picked = vec![0u32; k];
    let mut wins = vec![vec![0u32; k]; k];
    let mut shown = vec![vec![0u32; k]; k];
    let mut total = 0u32;
    for (w, losers, c, _) in &games.kinds {
        let c = *c as u32;
        total += c;
        picked[*w] += c;
        votes[*w] += c;
        for &l in losers {
            votes[l] += c;
            wins[*w][l] += c;
        }
        let all: Vec<usize> = std::iter::once(*w).chain(losers.iter().copied()).collect();
        for &a in &all {
            for &b in &all {
                if a != b {
                    shown[a][b] += c;
                }
            }
        }
    }

    let scale = |l: f64| 1000.0 + 400.0 * l / std::f64::consts::LN_10;
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| {
        point[b]
            .total_cmp(&point[a])
            .then_with(|| games.slugs[a].cmp(&games.slugs[b]))
    });
    let ratings = order
        .iter()
        .map(|&i| {
            let s = &mut samples[i];
            s.sort_by(f64::total_cmp);
            Rating {
                slug: games.slugs[i].clone(),
                rating: scale(point[i]),
                low: scale(percentile(s, 0.025)),
                high: scale(percentile(s, 0.975)),
                votes: votes[i],
                picked: picked[i],
            }
        })
        .collect();
    let ranked = |m: &[Vec<u32>]| -> Vec<Vec<u32>> {
        order
            .iter()
            .map(|&i| order.iter().map(|&j| m[i][j]).collect())
            .collect()
    };
    let mut voters: Vec<VoterWeight> = weights
        .into_iter()
        .map(|(voter, (votes, weight))| VoterWeight {
            voter,
            votes,
            weight,
        })
        .collect();
    voters.sort_by(|a, b| b.votes.cmp(&a.votes).then_with(|| a.voter.cmp(&b.voter)));
    Standings {
        ratings,
        wins: ranked(&wins),
        shown: ranked(&shown),
        votes: total,
        voters,
    }
}

/// The `q` quantile of sorted values (nearest rank).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// A small, fixed generator (SplitMix64): the same sequence on every machine and every
/// version of every crate, which a byte-identical build needs.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// A Poisson draw of mean `mean`: by multiplying uniforms while that is cheap, by the
    /// normal approximation beyond.
    fn poisson(&mut self, mean: f64) -> f64 {
        if mean <= 0.0 {
            return 0.0;
        }
        if mean < 30.0 {
            let limit = (-mean).exp();
            let mut n = 0.0;
            let mut prod = self.uniform();
            while prod > limit {
                n += 1.0;
                prod *= self.uniform();
            }
            return n;
        }
        let z = (-2.0 * self.uniform().ln()).sqrt()
            * (2.0 * std::f64::consts::PI * self.uniform()).cos();
        (mean + mean.sqrt() * z).round().max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(winner: &str, losers: &[&str], count: u32) -> VoteTally {
        VoteTally {
            voter: "anonymous".into(),
            winner: winner.into(),
            losers: losers.iter().map(|s| s.to_string()).collect(),
            count,
        }
    }

    fn chain(n: u32) -> Standings {
        standings(&[vote("a", &["b"], n), vote("b", &["c"], n)])
    }

    #[test]
    fn a_beats_b_beats_c_ranks_a_b_c_with_intervals_that_shrink() {
        let mut widths = Vec::new();
        for n in [5, 50, 500] {
            let s = chain(n);
            let order: Vec<&str> = s.ratings.iter().map(|r| r.slug.as_str()).collect();
            assert_eq!(order, ["a", "b", "c"], "{n} votes each");
            for r in &s.ratings {
                assert!(r.rating.is_finite() && r.low <= r.rating && r.rating <= r.high);
            }
            assert_eq!(s.votes, 2 * n);
            assert_eq!(s.ratings[1].votes, 2 * n);
            assert_eq!(s.ratings[1].picked, n);
            // Row a, column b: a was picked over b every time.
            assert_eq!(s.wins[0][1], n);
            assert_eq!(s.wins[1][0], 0);
            assert_eq!(s.wins[0][2], 0, "a and c never met");
            assert_eq!((s.shown[0][1], s.shown[0][2]), (n, 0));
            widths.push(s.ratings[0].high - s.ratings[0].low);
        }
        assert!(
            widths[0] > widths[1] && widths[1] > widths[2],
            "intervals shrink as votes grow: {widths:?}"
        );
    }

    #[test]
    fn seventy_thirty_gives_the_odds_of_seven_to_three() {
        let s = standings(&[vote("a", &["b"], 700), vote("b", &["a"], 300)]);
        let gap = s.ratings[0].rating - s.ratings[1].rating;
        let expected = 400.0 * (7.0f64 / 3.0).log10();
        assert!(
            (gap - expected).abs() < 2.0,
            "gap {gap}, expected {expected}"
        );
        assert!((s.ratings[0].rating + s.ratings[1].rating - 2000.0).abs() < 1e-6);
    }

    #[test]
    fn best_of_n_is_n_minus_one_wins_and_the_same_votes_give_the_same_numbers() {
        let tallies = [
            vote("c", &["a", "b", "d"], 3),
            vote("a", &["b", "c", "d"], 1),
        ];
        let s = standings(&tallies);
        assert_eq!(s.ratings[0].slug, "c");
        assert_eq!(s.votes, 4);
        // b and d lost together in all four votes: shown together, never one over the other.
        let at = |slug: &str| s.ratings.iter().position(|r| r.slug == slug).unwrap();
        let (b, d) = (at("b"), at("d"));
        assert_eq!((s.shown[b][d], s.wins[b][d], s.wins[d][b]), (4, 0, 0));
        assert!(s.ratings.iter().all(|r| r.votes == 4));
        assert_eq!(standings(&tallies), s, "deterministic");
        assert_eq!(
            merge_tallies(&[vote("a", &["c", "b"], 1), vote("a", &["b", "c"], 2)]),
            [vote("a", &["b", "c"], 3)]
        );
    }

    #[test]
    fn a_cap_per_voter_keeps_one_flooding_label_from_swinging_the_ratings() {
        let by = |voter: &str, t: VoteTally| VoteTally {
            voter: voter.into(),
            ..t
        };
        let tallies = [
            by("alice", vote("a", &["b"], 10)),
            by("mallory", vote("b", &["a"], 20_000)),
        ];
        let open = standings(&tallies);
        assert_eq!(open.ratings[0].slug, "b");
        assert!(open.ratings[0].rating - open.ratings[1].rating > 800.0);
        let capped = standings_capped(&tallies, Some(10));
        let gap = capped.ratings[0].rating - capped.ratings[1].rating;
        assert!(gap.abs() < 1e-6, "10 votes against 10 votes' weight: {gap}");
        // What was cast is still what is counted and shown.
        assert_eq!(capped.votes, 20_010);
        assert_eq!(
            capped.voters,
            [
                VoterWeight {
                    voter: "mallory".into(),
                    votes: 20_000,
                    weight: 10.0 / 20_000.0
                },
                VoterWeight {
                    voter: "alice".into(),
                    votes: 10,
                    weight: 1.0
                }
            ]
        );
        assert_eq!(standings_capped(&tallies, Some(20_000)), open);
    }

    #[test]
    fn no_votes_no_ratings() {
        let s = standings(&[]);
        assert!(s.ratings.is_empty() && s.wins.is_empty() && s.shown.is_empty() && s.votes == 0);
    }

    #[test]
    fn poisson_draws_have_the_right_mean() {
        let mut rng = SplitMix(1);
        for mean in [0.5, 4.0, 100.0] {
            let n = 20_000;
            let sum: f64 = (0..n).map(|_| rng.poisson(mean)).sum();
            let got = sum / n as f64;
            assert!((got - mean).abs() < 0.05 * mean + 0.05, "{got} vs {mean}");
        }
    }
}
