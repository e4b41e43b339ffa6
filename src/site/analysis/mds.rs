//! Classical (Torgerson) multidimensional scaling: places points on a plane so that their
//! distances match a distance matrix as well as two dimensions allow. Pure numerics over a
//! dense matrix; the style map uses it on a sampled prompt version (a few hundred points).

/// Most iterations of the block power method; it usually settles long before.
const MAX_ITERATIONS: usize = 300;
/// The subspace has settled when no coordinate of the basis moves by more than this: far
/// below a pixel on the map (coordinates of unit vectors over hundreds of points).
const TOLERANCE: f64 = 1e-7;

/// Two coordinates per point from the `n × n` symmetric `distances` (row-major). Points
/// are centred on the origin; each axis is scaled by the square root of its eigenvalue, so
/// the plane's distances approximate the given ones. Deterministic (fixed start, fixed
/// signs), so a rebuild draws the same map.
pub fn classical_mds(distances: &[f64], n: usize) -> Vec<[f64; 2]> {
    if n == 0 || distances.len() != n * n {
        return vec![[0.0, 0.0]; n];
    }
    let b = double_centre(distances, n);
    let (vectors, values) = top_two_eigen(&b, n);
    let scale = values.map(|v| v.max(0.0).sqrt());
    (0..n)
        .map(|i| [vectors[0][i] * scale[0], vectors[1][i] * scale[1]])
        .collect()
}

/// B = −½ J D² J, with J the centring matrix: the Gram matrix of centred points whose
/// distances are D (when D is Euclidean).
fn double_centre(d: &[f64], n: usize) -> Vec<f64> {
    let sq: Vec<f64> = d.iter().map(|v| v * v).collect();
    let row_mean: Vec<f64> = (0..n)
        .map(|i| sq[i * n..(i + 1) * n].iter().sum::<f64>() / n as f64)
        .collect();
    let all_mean = row_mean.iter().sum::<f64>() / n as f64;
    let mut b = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            // D is symmetric, so column means equal row means.
            b[i * n + j] = -0.5 * (sq[i * n + j] - row_mean[i] - row_mean[j] + all_mean);
        }
    }
    b
}

/// The two eigenvectors of the symmetric `b` with the largest eigenvalues, by block power
/// iteration with Gram–Schmidt (enough for two of a few hundred; no linear-algebra crate).
fn top_two_eigen(b: &[f64], n: usize) -> ([Vec<f64>; 2], [f64; 2]) {
    // Start vectors that are neither constant (the null direction of B) nor alike.
    let mut basis = [
        (0..n)
            .map(|i| ((i * 7 + 3) % 11) as f64 - 5.0)
            .collect::<Vec<f64>>(),
        (0..n)
            .map(|i| ((i * 5 + 1) % 13) as f64 - 6.0)
            .collect::<Vec<f64>>(),
    ];
    orthonormalise(&mut basis);
    // Power iteration finds the largest eigenvalues in magnitude; shifting by a bound on
    // the spectrum makes that the largest algebraic ones (B may have negative ones).
    let shift = (0..n)
        .map(|i| b[i * n..(i + 1) * n].iter().map(|v| v.abs()).sum::<f64>())
        .fold(0.0, f64::max);
    for _ in 0..MAX_ITERATIONS {
        let mut next = [multiply(b, n, &basis[0]), multiply(b, n, &basis[1])];
        for (k, v) in next.iter_mut().enumerate() {
            for (x, s) in v.iter_mut().zip(&basis[k]) {
                *x += shift * s;
            }
        }
        orthonormalise(&mut next);
        let moved = next
            .iter()
            .zip(&basis)
            .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
            .fold(0.0, f64::max);
        basis = next;
        if moved < TOLERANCE {
            break;
        }
    }
    let rayleigh = |v: &[f64]| -> f64 { multiply(b, n, v).iter().zip(v).map(|(x, y)| x * y).sum() };
    let mut values = [rayleigh(&basis[0]), rayleigh(&basis[1])];
    if values[1] > values[0] {
        basis.swap(0, 1);
        values.swap(0, 1);
    }
    // A fixed sign per axis: the component largest in magnitude is positive.
    for v in basis.iter_mut() {
        let big = v
            .iter()
            .copied()
            .max_by(|a, b| a.abs().total_cmp(&b.abs()))
            .unwrap_or(0.0);
        if big < 0.0 {
            v.iter_mut().for_each(|x| *x = -*x);
        }
    }
    (basis, values)
}

fn multiply(b: &[f64], n: usize, v: &[f64]) -> Vec<f64> {
    (0..n)
        .map(|i| {
            b[i * n..(i + 1) * n]
                .iter()
                .zip(v)
                .map(|(x, y)| x * y)
                .sum()
        })
        .collect()
}

/// Gram–Schmidt on two vectors; a vector that collapses to zero is left as zero.
fn orthonormalise(basis: &mut [Vec<f64>; 2]) {
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let n0 = norm(&basis[0]);
    if n0 > 0.0 {
        basis[0].iter_mut().for_each(|x| *x /= n0);
    }
    let dot: f64 = basis[0].iter().zip(&basis[1]).map(|(x, y)| x * y).sum();
    let first = basis[0].clone();
    for (x, f) in basis[1].iter_mut().zip(&first) {
        *x -= dot * f;
    }
    let n1 = norm(&basis[1]);
    if n1 > 0.0 {
        basis[1].iter_mut().for_each(|x| *x /= n1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(points: &[[f64; 2]]) -> Vec<f64> {
        let n = points.len();
        let mut d = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                d[i * n + j] = ((points[i][0] - points[j][0]).powi(2)
                    + (points[i][1] - points[j][1]).powi(2))
                .sqrt();
            }
        }
        d
    }

    #[test]
    fn a_planar_configuration_is_recovered_up_to_rotation() {
        let points = [[0.0, 0.0], [3.0, 0.0], [0.0, 4.0], [3.0, 4.0], [1.0, 2.0]];
        let d = dist(&points);
        let placed = classical_mds(&d, points.len());
        let again = dist(&placed);
        for (a, b) in d.iter().zip(&again) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn two_clusters_stay_two_separated_clusters() {
        // Ten points: five close together, five close together, the two sets far apart.
        let n = 10;
        let cluster = |i: usize| i / 5;
        let mut d = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                d[i * n + j] = if i == j {
                    0.0
                } else if cluster(i) == cluster(j) {
                    0.1 + 0.01 * ((i + j) % 3) as f64
                } else {
                    0.9
                };
            }
        }
        let p = classical_mds(&d, n);
        let gap =
            |i: usize, j: usize| ((p[i][0] - p[j][0]).powi(2) + (p[i][1] - p[j][1]).powi(2)).sqrt();
        let mut widest_inside: f64 = 0.0;
        let mut closest_across = f64::INFINITY;
        for i in 0..n {
            for j in i + 1..n {
                if cluster(i) == cluster(j) {
                    widest_inside = widest_inside.max(gap(i, j));
                } else {
                    closest_across = closest_across.min(gap(i, j));
                }
            }
        }
        assert!(
            closest_across > 3.0 * widest_inside,
            "clusters overlap: inside {widest_inside}, across {closest_across}"
        );
        // The first axis is the one that splits them.
        assert!(p[..5].iter().all(|q| q[0].signum() == p[0][0].signum()));
        assert!(p[5..].iter().all(|q| q[0].signum() == -p[0][0].signum()));
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        assert_eq!(classical_mds(&[], 0), Vec::<[f64; 2]>::new());
        assert_eq!(classical_mds(&[0.0], 1), vec![[0.0, 0.0]]);
        let same = classical_mds(&[0.0; 9], 3);
        assert!(same.iter().all(|p| p[0].abs() < 1e-9 && p[1].abs() < 1e-9));
        assert_eq!(
            classical_mds(&[1.0], 3).len(),
            3,
            "a wrong size gives the origin"
        );
    }

    #[test]
    fn the_map_is_the_same_every_time() {
        let d = dist(&[[0.0, 1.0], [2.0, 0.5], [1.0, 3.0], [4.0, 4.0]]);
        assert_eq!(classical_mds(&d, 4), classical_mds(&d, 4));
    }
}
