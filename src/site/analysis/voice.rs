//! Voice: is an Artist more like itself across repeats than like the other Artists? From a
//! prompt version's runs (each in a group, each by an Artist) and a similarity for every
//! pair of runs: within-Artist and between-Artist mean similarity, a separation score per
//! Artist, and a bootstrap interval over groups. Pure numbers and plain-words readings;
//! never reads files.

use serde::{Deserialize, Serialize};

/// Bootstrap resamples of the groups behind each interval.
pub const RESAMPLES: usize = 200;

/// One run as the voice sees it: which group (index) and which Artist (index) it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunAt {
    pub group: usize,
    pub artist: usize,
}

/// The numbers of one Artist under one measure.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VoiceNumbers {
    /// Runs and groups of this Artist that took part.
    pub runs: usize,
    pub groups: usize,
    /// Mean similarity over pairs of this Artist's runs (from different groups).
    pub within: Option<f64>,
    /// Mean similarity over pairs of one run of this Artist and one of another Artist
    /// (from different groups).
    pub between: Option<f64>,
    /// (between-distance − within-distance) / the larger of the two, distance = 1 −
    /// similarity: 1 when every repeat is identical and unlike the others, 0 when repeats
    /// are no more alike than any two Artists' answers, below 0 when they are less alike.
    pub separation: Option<f64>,
    /// 95% bootstrap interval of the separation over groups (resampled with replacement).
    pub interval: Option<[f64; 2]>,
}

/// Separation from two mean similarities (see [`VoiceNumbers::separation`]).
pub fn separation(within: f64, between: f64) -> f64 {
    let (dw, db) = (1.0 - within, 1.0 - between);
    let scale = dw.max(db);
    if scale <= 1e-12 {
        return 0.0;
    }
    // `+ 0.0` keeps "-0.00" off the pages.
    ((db - dw) / scale).clamp(-1.0, 1.0) + 0.0
}

/// Pair sums of one Artist, by group: what a resample reweights.
struct Sums {
    /// The groups this Artist has runs in.
    groups: Vec<usize>,
    /// [p * groups.len() + q]: (similarity sum, pairs) of this Artist's runs in its p-th
    /// and q-th groups, p < q.
    within: Vec<(f64, f64)>,
    /// [p * all_groups + h]: (similarity sum, pairs) of its runs in its p-th group with
    /// other Artists' runs in group h ≠ that group.
    between: Vec<(f64, f64)>,
}

impl Sums {
    fn means(&self, weight: &[f64], all_groups: usize) -> (Option<f64>, Option<f64>) {
        let k = self.groups.len();
        let (mut ws, mut wc, mut bs, mut bc) = (0.0, 0.0, 0.0, 0.0);
        for p in 0..k {
            let wp = weight[self.groups[p]];
            if wp == 0.0 {
                continue;
            }
            for q in p + 1..k {
                let w = wp * weight[self.groups[q]];
                let (s, c) = self.within[p * k + q];
                ws += w * s;
                wc += w * c;
            }
            for (h, &wh) in weight.iter().enumerate().take(all_groups) {
                let (s, c) = self.between[p * all_groups + h];
                bs += wp * wh * s;
                bc += wp * wh * c;
            }
        }
        ((wc > 0.0).then(|| ws / wc), (bc > 0.0).then(|| bs / bc))
    }
}

/// Voice numbers for each of `artists` Artists. `sim` is the `n × n` similarity of runs
/// (row-major, `NaN` where unknown). Only pairs from different groups count, so that
/// within and between compare answers to separate asks alike. `resamples` > 0 adds the
/// bootstrap interval (seeded by `seed`, so pages are stable).
pub fn artist_voices(
    runs: &[RunAt],
    artists: usize,
    groups: usize,
    sim: &[f64],
    resamples: usize,
    seed: u64,
) -> Vec<VoiceNumbers> {
    let n = runs.len();
    if sim.len() != n * n {
        return vec![VoiceNumbers::default(); artists];
    }
    let mut sums: Vec<Sums> = (0..artists)
        .map(|a| {
            let mut gs: Vec<usize> = runs
                .iter()
                .filter(|r| r.artist == a)
                .map(|r| r.group)
                .collect();
            gs.sort_unstable();
            gs.dedup();
            let k = gs.len();
            Sums {
                groups: gs,
                within: vec![(0.0, 0.0); k * k],
                between: vec![(0.0, 0.0); k * groups],
            }
        })
        .collect();
    // Where each run's group sits among its Artist's groups.
    let slot: Vec<usize> = runs
        .iter()
        .map(|r| {
            sums[r.artist]
                .groups
                .binary_search(&r.group)
                .unwrap_or_default()
        })
        .collect();
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = (runs[i], runs[j]);
            let s = sim[i * n + j];
            if a.group == b.group || !s.is_finite() {
                continue;
            }
            if a.artist == b.artist {
                let t = &mut sums[a.artist];
                let k = t.groups.len();
                let (p, q) = (slot[i].min(slot[j]), slot[i].max(slot[j]));
                let cell = &mut t.within[p * k + q];
                cell.0 += s;
                cell.1 += 1.0;
            } else {
                for (x, y) in [(i, j), (j, i)] {
                    let cell = &mut sums[runs[x].artist].between[slot[x] * groups + runs[y].group];
                    cell.0 += s;
                    cell.1 += 1.0;
                }
            }
        }
    }
    let ones = vec![1.0; groups];
    let mut rng = seed | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let weights: Vec<Vec<f64>> = (0..resamples)
        .map(|_| {
            let mut w = vec![0.0; groups];
            for _ in 0..groups {
                w[(next() % groups.max(1) as u64) as usize] += 1.0;
            }
            w
        })
        .collect();
    sums.iter()
        .enumerate()
        .map(|(a, t)| {
            let (within, between) = t.means(&ones, groups);
            let score = within.zip(between).map(|(w, b)| separation(w, b));
            let interval = score.and_then(|_| {
                let mut draws: Vec<f64> = weights
                    .iter()
                    .filter_map(|w| {
                        let (wi, be) = t.means(w, groups);
                        wi.zip(be).map(|(w, b)| separation(w, b))
                    })
                    .collect();
                draws.sort_by(f64::total_cmp);
                (draws.len() >= 2).then(|| [percentile(&draws, 0.025), percentile(&draws, 0.975)])
            });
            VoiceNumbers {
                runs: runs.iter().filter(|r| r.artist == a).count(),
                groups: t.groups.len(),
                within,
                between,
                separation: score,
                interval,
            }
        })
        .collect()
}

/// Mean similarity of all same-Artist pairs and of all different-Artist pairs (from
/// different groups), for the version as a whole.
pub fn overall(runs: &[RunAt], sim: &[f64]) -> (Option<f64>, Option<f64>) {
    let n = runs.len();
    if sim.len() != n * n {
        return (None, None);
    }
    let (mut ws, mut wc, mut bs, mut bc) = (0.0, 0.0, 0.0, 0.0);
    for i in 0..n {
        for j in i + 1..n {
            let s = sim[i * n + j];
            if runs[i].group == runs[j].group || !s.is_finite() {
                continue;
            }
            if runs[i].artist == runs[j].artist {
                ws += s;
                wc += 1.0;
            } else {
                bs += s;
                bc += 1.0;
            }
        }
    }
    ((wc > 0.0).then(|| ws / wc), (bc > 0.0).then(|| bs / bc))
}

/// The value below which `q` of the sorted `v` falls (linear between ranks).
fn percentile(v: &[f64], q: f64) -> f64 {
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// Half the width of the interval: the "±" a reader sees.
pub fn spread(v: &VoiceNumbers) -> Option<f64> {
    v.interval.map(|[lo, hi]| (hi - lo) / 2.0)
}

/// What kind of voice the numbers show: the interval decides, so a small history says
/// "cannot tell" rather than guessing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    Distinct,
    Unsteady,
    Unclear,
    TooFew,
}

pub fn verdict(v: &VoiceNumbers) -> Verdict {
    match (v.separation, v.interval) {
        (Some(_), Some([lo, _])) if lo > 0.0 => Verdict::Distinct,
        (Some(_), Some([_, hi])) if hi < 0.0 => Verdict::Unsteady,
        (Some(_), _) => Verdict::Unclear,
        _ => Verdict::TooFew,
    }
}

/// The one-line reading in plain words, e.g. "Ada's answers are more alike across repeats
/// than any two Artists' answers are: a distinct voice (separation 0.41 ± 0.06, 12 groups)."
pub fn reading(name: &str, v: &VoiceNumbers) -> String {
    let figures = match (v.separation, spread(v)) {
        (Some(s), Some(pm)) => format!(
            "separation {} ± {pm:.2}, {} group{}",
            signed(s),
            v.groups,
            if v.groups == 1 { "" } else { "s" }
        ),
        (Some(s), None) => format!("separation {}, {} groups", signed(s), v.groups),
        _ => String::new(),
    };
    match verdict(v) {
        Verdict::Distinct => format!(
            "{name}'s answers are more alike to each other across repeats than to other Artists' answers: a distinct voice ({figures})."
        ),
        Verdict::Unsteady => format!(
            "{name}'s answers are less alike to each other across repeats than to other Artists' answers: no steady voice ({figures})."
        ),
        Verdict::Unclear => format!(
            "{name}'s answers are not clearly more alike to each other than to other Artists' answers; the history cannot tell yet ({figures})."
        ),
        Verdict::TooFew => format!(
            "{name} needs runs in at least two groups of this version before its voice can be measured."
        ),
    }
}

/// A number with a true minus sign, two decimals.
pub fn signed(v: f64) -> String {
    let s = format!("{v:.2}");
    match s.strip_prefix('-') {
        Some(rest) if rest != "0.00" => format!("−{rest}"),
        Some(rest) => rest.to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `groups` groups, one run per Artist each; `sim(i, j)` for runs i, j.
    fn history(
        groups: usize,
        artists: usize,
        sim: impl Fn(RunAt, RunAt, usize, usize) -> f64,
    ) -> (Vec<RunAt>, Vec<f64>) {
        let runs: Vec<RunAt> = (0..groups)
            .flat_map(|g| {
                (0..artists).map(move |a| RunAt {
                    group: g,
                    artist: a,
                })
            })
            .collect();
        let n = runs.len();
        let mut m = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                m[i * n + j] = if i == j {
                    1.0
                } else {
                    sim(runs[i], runs[j], i.min(j), i.max(j))
                };
            }
        }
        (runs, m)
    }

    /// A fixed pseudo-random similarity in 0.2..0.6 for a pair.
    fn noise(i: usize, j: usize) -> f64 {
        let h = (i as u64 * 2654435761) ^ (j as u64 * 40503);
        0.2 + (h % 1000) as f64 / 2500.0
    }

    #[test]
    fn an_artist_identical_across_repeats_has_the_top_separation() {
        // Artist 0 answers the same every time; the others answer at random.
        let (runs, sim) = history(12, 4, |a, b, i, j| {
            if a.artist == 0 && b.artist == 0 {
                1.0
            } else {
                noise(i, j)
            }
        });
        let v = artist_voices(&runs, 4, 12, &sim, RESAMPLES, 7);
        let top = v[0].separation.unwrap();
        assert!((v[0].within.unwrap() - 1.0).abs() < 1e-12);
        assert!(
            (top - 1.0).abs() < 1e-12,
            "identical repeats separate fully: {top}"
        );
        for other in &v[1..] {
            assert!(other.separation.unwrap() < top - 0.5, "{other:?}");
        }
        assert_eq!(verdict(&v[0]), Verdict::Distinct);
        let [lo, hi] = v[0].interval.unwrap();
        assert!(lo > 0.9 && hi <= 1.0);
        assert!(reading("Ada", &v[0])
            .starts_with("Ada's answers are more alike to each other across repeats"));
        assert!(reading("Ada", &v[0]).contains("12 groups"));
    }

    #[test]
    fn identical_artists_have_a_separation_near_zero() {
        // Every Artist answers like every other: similarity depends only on the pair.
        let (runs, sim) = history(10, 3, |_, _, i, j| noise(i, j));
        let v = artist_voices(&runs, 3, 10, &sim, RESAMPLES, 7);
        for a in &v {
            let s = a.separation.unwrap();
            assert!(s.abs() < 0.1, "separation {s}");
            let [lo, hi] = a.interval.unwrap();
            assert!(lo <= s && s <= hi);
            assert_ne!(verdict(a), Verdict::Distinct);
        }
    }

    #[test]
    fn the_interval_shrinks_as_groups_grow() {
        let sim_of = |a: RunAt, b: RunAt, i: usize, j: usize| {
            if a.artist == b.artist {
                0.5 + noise(i, j) / 2.0
            } else {
                noise(i, j)
            }
        };
        let width = |g: usize| {
            let (runs, sim) = history(g, 3, sim_of);
            let v = artist_voices(&runs, 3, g, &sim, RESAMPLES, 3);
            spread(&v[0]).unwrap()
        };
        assert!(width(40) < width(4), "{} vs {}", width(40), width(4));
    }

    #[test]
    fn pairs_inside_one_group_do_not_count_and_one_group_is_too_few() {
        let (runs, sim) = history(1, 3, |_, _, _, _| 0.9);
        let v = artist_voices(&runs, 3, 1, &sim, RESAMPLES, 1);
        assert_eq!(v[0].within, None);
        assert_eq!(v[0].between, None);
        assert_eq!(verdict(&v[0]), Verdict::TooFew);
        assert!(reading("Bo", &v[0]).contains("at least two groups"));
        assert_eq!(overall(&runs, &sim), (None, None));
    }

    #[test]
    fn separation_is_bounded_and_signed() {
        assert_eq!(separation(1.0, 0.0), 1.0);
        assert_eq!(separation(0.5, 0.5), 0.0);
        assert_eq!(separation(1.0, 1.0), 0.0);
        assert!(separation(0.2, 0.6) < 0.0);
        assert_eq!(signed(-0.123), "−0.12");
        assert_eq!(signed(-0.0001), "0.00");
        assert_eq!(signed(0.5), "0.50");
    }
}
