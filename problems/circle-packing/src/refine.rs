//! `refine` for circle packing: a penalty method solved by L-BFGS, then the exact
//! repair.
//!
//! Maximise sum r subject to the wall and pair constraints by minimising
//! `-sum r + (mu / 2) sum violation^2` for a rising sequence of penalty weights
//! `mu`. Each stage starts from the previous stage's point; the last leaves
//! violations of order 1/mu, which [`repair`](super::repair) removes by shrinking
//! radii until every constraint holds exactly (costing about 1/mu per contact).
//! [`inflate`](super::inflate), which grows each radius back to the largest
//! double that still fits, is not part of it: its gains are below one ulp of
//! the sum, and in a run they only moved the search elsewhere (the README's
//! seed-0 run ended at 2.634292 with it, 2.6359774 without; BENCHMARKS.md).

use discover_guest::optimize::lbfgs;

/// Penalty weights, from soft (circles may overlap and move through each other)
/// to hard. Starting soft lets a perturbed packing find a new arrangement;
/// ending at 1e9 leaves violations near 1e-9.
const PENALTIES: [f64; 9] = [1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// Run about `effort` L-BFGS iterations in total over the penalty stages and
/// return the exactly repaired packing, or the repaired start if that is better.
pub fn refine(n: usize, v: &[f64], effort: u32) -> Vec<f64> {
    let start = super::repair(n, v);
    let mut z = start.clone();
    let per_stage = (effort as usize / PENALTIES.len()).max(5);
    for mu in PENALTIES {
        lbfgs(&mut z, |z, g| penalty(n, z, g, mu), 12, per_stage, 1e-13);
    }
    let out = super::repair(n, &z);
    if radii_sum(&out) >= radii_sum(&start) { out } else { start }
}

fn radii_sum(v: &[f64]) -> f64 {
    let radii: Vec<f64> = v.chunks_exact(3).map(|c| c[2]).collect();
    discover_guest::exact::sum(&radii)
}

/// `-sum r + (mu / 2) sum max(0, violation)^2` and its gradient.
fn penalty(n: usize, z: &[f64], g: &mut [f64], mu: f64) -> f64 {
    g.iter_mut().for_each(|v| *v = 0.0);
    let mut f = 0.0;
    let hinge = |viol: f64, f: &mut f64| -> f64 {
        if viol > 0.0 {
            *f += 0.5 * mu * viol * viol;
            mu * viol
        } else {
            0.0
        }
    };
    for i in 0..n {
        let (x, y, r) = (z[3 * i], z[3 * i + 1], z[3 * i + 2]);
        f -= r;
        g[3 * i + 2] -= 1.0;
        // Walls: r - x, x + r - 1, r - y, y + r - 1, and r >= 0.
        let a = hinge(r - x, &mut f);
        let b = hinge(x + r - 1.0, &mut f);
        let c = hinge(r - y, &mut f);
        let d = hinge(y + r - 1.0, &mut f);
        let e = hinge(-r, &mut f);
        g[3 * i] += b - a;
        g[3 * i + 1] += d - c;
        g[3 * i + 2] += a + b + c + d - e;
    }
    for i in 0..n {
        for j in i + 1..n {
            let dx = z[3 * i] - z[3 * j];
            let dy = z[3 * i + 1] - z[3 * j + 1];
            let dist = (dx * dx + dy * dy).sqrt();
            let viol = z[3 * i + 2] + z[3 * j + 2] - dist;
            if viol <= 0.0 {
                continue;
            }
            let w = hinge(viol, &mut f);
            g[3 * i + 2] += w;
            g[3 * j + 2] += w;
            if dist > 0.0 {
                let (ux, uy) = (dx / dist, dy / dist);
                g[3 * i] -= w * ux;
                g[3 * i + 1] -= w * uy;
                g[3 * j] += w * ux;
                g[3 * j + 1] += w * uy;
            }
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalty_gradient_matches_finite_differences() {
        let mut rng = discover_guest::math::Rng::new(4);
        let z: Vec<f64> = (0..30).map(|_| rng.uniform(0.0, 0.6)).collect();
        let mut g = vec![0.0; 30];
        let mu = 50.0;
        penalty(10, &z, &mut g, mu);
        for k in 0..30 {
            let h = 1e-6;
            let (mut zp, mut zm) = (z.clone(), z.clone());
            zp[k] += h;
            zm[k] -= h;
            let mut tmp = vec![0.0; 30];
            let fd = (penalty(10, &zp, &mut tmp, mu) - penalty(10, &zm, &mut tmp, mu)) / (2.0 * h);
            assert!((fd - g[k]).abs() < 1e-4 * (1.0 + g[k].abs()), "coordinate {k}: {fd} vs {}", g[k]);
        }
    }
}
