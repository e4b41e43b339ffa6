//! Voice: is an Artist more like itself across repeats than like the other Artists? From a
//! prompt version's runs (each in a group, each by an Artist) and a similarity for every
//! pair of runs: within-Artist and between-Artist mean similarity, a separation score per
//! Artist, and a jackknife interval over groups. Pure numbers and plain-words readings;
//! never reads files.

use serde::{Deserialize, Serialize};

/// Fewer groups than this and the reading is "cannot tell yet", whatever the numbers say.
/// Three is the least the interval can be made from: leaving one group out of two leaves
/// one, which has no pairs from different groups; and the coverage test below measures
/// the interval close to 95% from three groups on.
pub const MIN_GROUPS: usize = 3;

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
    /// 95% interval of the separation: the delete-one-group jackknife's standard error
    /// times Student's t with groups − 1 degrees of freedom, cut to [−1, 1]. `None` below
    /// [`MIN_GROUPS`].
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
/// within and between compare answers to separate asks alike. `with_interval` adds the
/// 95% interval (see [`VoiceNumbers::interval`]).
pub fn artist_voices(
    runs: &[RunAt],
    artists: usize,
    groups: usize,
    sim: &[f64],
    with_interval: bool,
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
    sums.iter()
        .enumerate()
        .map(|(a, t)| {
            let (within, between) = t.means(&ones, groups);
            let score = within.zip(between).map(|(w, b)| separation(w, b));
            let interval = score
                .filter(|_| with_interval && t.groups.len() >= MIN_GROUPS)
                .and_then(|s| jackknife_interval(t, groups, s));
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

/// The 95% interval around `estimate` from leaving out one group at a time. A bootstrap's
/// percentiles are far too narrow with few groups (with two, every resample that counts is
/// the pair itself, so the interval has no width); the jackknife's standard error with
/// Student's t keeps its promise from three groups on (see the coverage test).
fn jackknife_interval(t: &Sums, groups: usize, estimate: f64) -> Option<[f64; 2]> {
    let mut weight = vec![1.0; groups];
    let mut leave_one_out = Vec::with_capacity(groups);
    for h in 0..groups {
        weight[h] = 0.0;
        let (w, b) = t.means(&weight, groups);
        weight[h] = 1.0;
        leave_one_out.push(separation(w?, b?));
    }
    let n = leave_one_out.len() as f64;
    if n < MIN_GROUPS as f64 {
        return None;
    }
    let mean = leave_one_out.iter().sum::<f64>() / n;
    let variance = (n - 1.0) / n
        * leave_one_out
            .iter()
            .map(|x| (x - mean).powi(2))
            .sum::<f64>();
    let half = t_975(groups - 1) * variance.sqrt();
    Some([(estimate - half).max(-1.0), (estimate + half).min(1.0)])
}

/// Student's t 97.5th percentile for `df` degrees of freedom (a table, then the
/// Cornish–Fisher expansion, within 0.001 beyond it).
fn t_975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df - 1],
        _ => {
            let (z, d) = (1.959_964_f64, df as f64);
            z + (z.powi(3) + z) / (4.0 * d)
                + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * d * d)
        }
    }
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
    if v.groups < 2 || v.separation.is_none() {
        return Verdict::TooFew;
    }
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
        (Some(s), None) if v.groups < MIN_GROUPS => format!(
            "separation {}, {} groups; an interval needs at least {MIN_GROUPS}",
            signed(s),
            v.groups
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
        let v = artist_voices(&runs, 4, 12, &sim, true);
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
        let v = artist_voices(&runs, 3, 10, &sim, true);
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
            let v = artist_voices(&runs, 3, g, &sim, true);
            spread(&v[0]).unwrap()
        };
        assert!(width(40) < width(4), "{} vs {}", width(40), width(4));
    }

    #[test]
    fn pairs_inside_one_group_do_not_count_and_one_group_is_too_few() {
        let (runs, sim) = history(1, 3, |_, _, _, _| 0.9);
        let v = artist_voices(&runs, 3, 1, &sim, true);
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

    /// Synthetic Artists with a known separation: each run is a point, its Artist's centre
    /// plus a shift shared by its group (the ask) plus its own noise, and two runs'
    /// similarity is exp(−|x − y|² / 2). For a Gaussian difference the expected similarity
    /// has a closed form, so the true separation is known exactly.
    struct Synthetic {
        centres: Vec<[f64; 2]>,
        group_sd: f64,
        run_sd: f64,
    }

    impl Synthetic {
        /// E exp(−|D|²/2) for D ~ N(m, s² I₂), with s² the variance of a difference of two
        /// runs from different groups.
        fn expected(&self, m2: f64) -> f64 {
            let s2 = 2.0 * (self.group_sd.powi(2) + self.run_sd.powi(2));
            (1.0 / (1.0 + s2)) * (-m2 / (2.0 * (1.0 + s2))).exp()
        }

        fn true_separation(&self, a: usize) -> f64 {
            let d2 = |b: usize| {
                let (p, q) = (self.centres[a], self.centres[b]);
                (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)
            };
            let others: Vec<usize> = (0..self.centres.len()).filter(|b| *b != a).collect();
            let between =
                others.iter().map(|b| self.expected(d2(*b))).sum::<f64>() / others.len() as f64;
            separation(self.expected(0.0), between)
        }

        fn history(&self, groups: usize, rng: &mut impl FnMut() -> f64) -> (Vec<RunAt>, Vec<f64>) {
            let artists = self.centres.len();
            let mut runs = Vec::new();
            let mut points = Vec::new();
            for g in 0..groups {
                let shift = [rng() * self.group_sd, rng() * self.group_sd];
                for (a, c) in self.centres.iter().enumerate() {
                    runs.push(RunAt {
                        group: g,
                        artist: a,
                    });
                    points.push([
                        c[0] + shift[0] + rng() * self.run_sd,
                        c[1] + shift[1] + rng() * self.run_sd,
                    ]);
                }
            }
            let n = groups * artists;
            let mut sim = vec![1.0; n * n];
            for i in 0..n {
                for j in 0..n {
                    let (p, q) = (points[i], points[j]);
                    let d2 = (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2);
                    sim[i * n + j] = (-d2 / 2.0).exp();
                }
            }
            (runs, sim)
        }
    }

    /// Standard normal draws (Box–Muller over an xorshift stream).
    fn normals(seed: u64) -> impl FnMut() -> f64 {
        let mut state = seed | 1;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        move || {
            let (u, v) = (uniform(), uniform());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        }
    }

    /// How often the 95% interval holds the true separation, over `trials` histories.
    fn coverage(model: &Synthetic, groups: usize, trials: usize) -> f64 {
        let mut rng = normals(groups as u64 * 7919);
        let truth: Vec<f64> = (0..model.centres.len())
            .map(|a| model.true_separation(a))
            .collect();
        let (mut held, mut total) = (0usize, 0usize);
        for _ in 0..trials {
            let (runs, sim) = model.history(groups, &mut rng);
            for (a, v) in artist_voices(&runs, truth.len(), groups, &sim, true)
                .iter()
                .enumerate()
            {
                let [lo, hi] = v.interval.expect("an interval from three groups on");
                held += usize::from(lo <= truth[a] && truth[a] <= hi);
                total += 1;
            }
        }
        held as f64 / total as f64
    }

    #[test]
    fn the_interval_holds_the_true_separation_95_times_in_100_from_three_groups() {
        // One Artist well apart, three close together, all with noisy repeats.
        let model = Synthetic {
            centres: vec![[1.2, 0.0], [0.0, 0.0], [0.3, 0.2], [0.1, -0.3]],
            group_sd: 0.3,
            run_sd: 0.5,
        };
        assert!(model.true_separation(0) > 0.1, "a voice to find");
        for groups in [3, 5, 10] {
            let c = coverage(&model, groups, 1500);
            eprintln!("{groups} groups: coverage {c:.3}");
            assert!(
                (0.92..=0.985).contains(&c),
                "{groups} groups: coverage {c:.3}"
            );
        }
    }

    #[test]
    fn two_groups_cannot_tell_yet() {
        // However alike the repeats, two groups are too few for an interval or a verdict.
        let (runs, sim) = history(2, 4, |a, b, i, j| {
            if a.artist == b.artist {
                0.95
            } else {
                noise(i, j)
            }
        });
        for v in artist_voices(&runs, 4, 2, &sim, true) {
            assert_eq!(v.interval, None);
            assert_eq!(verdict(&v), Verdict::Unclear);
            let r = reading("Ada", &v);
            assert!(
                r.contains("cannot tell yet") && r.contains("at least 3"),
                "{r}"
            );
        }
    }
}
