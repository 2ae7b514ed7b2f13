//! Packing `N` circles in the unit square, maximising the sum of their radii.
//!
//! A solution is `3N` numbers: flat `(x, y, r)` triples. Validity is **exact**: no
//! tolerance at all. Every comparison is decided over the real numbers that the
//! doubles denote, not over rounded intermediate results: walls with an error-free
//! sum, pairs with a floating-point filter backed by big-integer arithmetic when the
//! filter cannot decide. The smallest slack over all constraints is reported as the
//! `min_slack` metric, so a user can also see how a packing fares under the 1e-12
//! slack some published results assume.

mod exact;
mod refine;
mod svg;

use discover_guest::math::{first_non_finite, show, Rng};
use discover_guest::{Budgets, Direction, Problem, Shape, Solution, Spec, Verdict};

/// The circle-packing problem with `N` circles.
pub struct CirclePacking<const N: usize>;

/// The best known sums, each exactly valid (zero tolerance): AlphaEvolve's
/// published packings are invalid by less than 1e-16 in exact arithmetic, and
/// this problem's own refine repairs them (`discover refine circle-packing-N
/// FILE --effort 200 --rounds 1`) to these sums; the repaired packings ship as
/// `tests/data/fixtures/cp{26,32}_alphaevolve_repaired.json`.
fn best_known(n: usize) -> Option<(f64, &'static str)> {
    match n {
        26 => Some((2.6359830849176067, "AlphaEvolve (2025), repaired to exact validity")),
        32 => Some((2.939572771206323, "AlphaEvolve (2025), repaired to exact validity")),
        _ => None,
    }
}

const ROLE: [&str; 3] = ["x", "y", "r"];

impl<const N: usize> Problem for CirclePacking<N> {
    fn spec() -> Spec {
        let len = 3 * N as u32;
        let mut spec = Spec::new(
            &format!("circle-packing-{N}"),
            &format!("Circle packing: {N} circles in the unit square"),
            Direction::Maximize,
        )
        .statement(&statement(N))
        .shape(Shape { min_len: len, max_len: len, multiple_of: 3 })
        .budgets(Budgets {
            evaluate_fuel: 50_000_000,
            evaluate_millis: 2_000,
            memory_mib: 64,
            candidate_seconds: 300,
        });
        if let Some((value, source)) = best_known(N) {
            spec = spec.best_known(value, source);
        }
        spec
    }

    /// Circles on a grid, each strictly inside its own cell, with seeded jitter.
    fn initial(seed: u64) -> Solution {
        let mut rng = Rng::new(seed);
        let cols = (N as f64).sqrt().ceil() as usize;
        let rows = N.div_ceil(cols);
        let cell = 1.0 / cols.max(rows) as f64;
        let mut values = Vec::with_capacity(3 * N);
        for i in 0..N {
            let (c, r) = (i % cols, i / cols);
            let radius = cell * rng.uniform(0.30, 0.45);
            let jitter = cell / 2.0 - radius;
            let x = (c as f64 + 0.5) * cell + rng.uniform(-jitter, jitter);
            let y = (r as f64 + 0.5) * cell + rng.uniform(-jitter, jitter);
            values.extend([x, y, radius]);
        }
        Solution::new(values)
    }

    fn evaluate(solution: &Solution) -> Result<Verdict, String> {
        Ok(judge(N, &solution.values))
    }

    fn repair(solution: &Solution) -> Option<Solution> {
        Some(Solution::new(repair(N, &solution.values)))
    }

    /// Penalty method + L-BFGS, `effort` iterations in all, then exact repair.
    fn refine(solution: &Solution, effort: u32) -> Option<Solution> {
        Some(Solution::new(refine::refine(N, &solution.values, effort)))
    }

    fn render_svg(solution: &Solution) -> Option<String> {
        Some(svg::render(&solution.values))
    }
}

fn statement(n: usize) -> String {
    let target = best_known(n)
        .map(|(v, s)| format!("The best known sum is {v} ({s}).\n"))
        .unwrap_or_default();
    format!(
        "Pack {n} disjoint circles inside the unit square [0, 1] x [0, 1] so that the sum of \
         their radii is as large as possible.\n\
         A solution is a flat list of {len} numbers: x_0, y_0, r_0, x_1, y_1, r_1, ... \
         (centre and radius of each circle).\n\
         Valid when every number is finite, every r_i >= 0, every circle lies inside the \
         square (x_i - r_i >= 0, x_i + r_i <= 1, and the same for y), and no two circles \
         overlap (distance between centres >= r_i + r_j).\n\
         Validity is checked exactly, with zero tolerance: touching is allowed, an overlap \
         of 1e-16 is not. Leave a margin of a few ulps if your construction comes from an \
         optimiser.\n\
         Score: the sum of the radii (maximise).\n{target}",
        len = 3 * n
    )
}

/// One constraint violation, or the smallest slack of a valid packing.
fn judge(n: usize, v: &[f64]) -> Verdict {
    if v.len() != 3 * n {
        return Verdict::invalid(format!(
            "expected {} values ({n} circles as x, y, r), got {}",
            3 * n,
            v.len()
        ));
    }
    if let Some((i, x)) = first_non_finite(v) {
        return Verdict::invalid(format!(
            "value {i} ({} of circle {}) is {x}, not a finite number",
            ROLE[i % 3],
            i / 3
        ));
    }
    let circles: Vec<[f64; 3]> = v.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();
    let mut min_slack = f64::INFINITY;
    for (i, &[x, y, r]) in circles.iter().enumerate() {
        if r < 0.0 {
            return Verdict::invalid(format!("circle {i} has a negative radius r = {}", show(r)));
        }
        for (axis, c) in [("x", x), ("y", y)] {
            // c - r is exact in sign (IEEE subtraction is 0 only for equal operands).
            if c - r < 0.0 {
                return Verdict::invalid(format!(
                    "circle {i} sticks out of the square: {axis} - r = {} < 0",
                    show(c - r)
                ));
            }
            if !exact::sum_at_most_one(c, r) {
                let excess = exact::excess_over_one(c, r);
                return Verdict::invalid(if excess.is_finite() {
                    format!("circle {i} sticks out of the square: {axis} + r exceeds 1 by {}", show(excess))
                } else {
                    format!("circle {i} sticks out of the square: {axis} + r overflows ({axis} = {c:e}, r = {r:e})")
                });
            }
            min_slack = min_slack.min(c - r).min(1.0 - c - r);
        }
    }
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = (circles[i], circles[j]);
            let gap = exact::float_gap(a, b);
            if !exact::disjoint(a, b) {
                let amount = if gap < 0.0 {
                    format!("{:.2e}", -gap)
                } else {
                    "less than 1e-16 (found by exact arithmetic)".to_string()
                };
                return Verdict::invalid(format!("circles {i} and {j} overlap by {amount}"));
            }
            min_slack = min_slack.min(gap);
        }
    }
    // The sum of the radii over the reals, rounded once: a float sum in
    // another order can differ in the last place, where records now differ.
    let radii: Vec<f64> = circles.iter().map(|c| c[2]).collect();
    let score = discover_guest::exact::sum(&radii);
    Verdict::valid(score).metric("circles", n as f64).metric("min_slack", min_slack)
}

/// Project a proposal onto the valid set: clamp into the square, then shrink radii
/// until every constraint holds exactly. Deterministic; never grows a radius.
fn repair(n: usize, v: &[f64]) -> Vec<f64> {
    let mut c: Vec<[f64; 3]> = (0..n)
        .map(|i| {
            let get = |k: usize| v.get(3 * i + k).copied().filter(|x| x.is_finite());
            let x = get(0).unwrap_or(0.5).clamp(0.0, 1.0);
            let y = get(1).unwrap_or(0.5).clamp(0.0, 1.0);
            let r = get(2).unwrap_or(0.0).max(0.0);
            [x, y, r]
        })
        .collect();
    for k in &mut c {
        let wall = k[0].min(1.0 - k[0]).min(k[1]).min(1.0 - k[1]);
        k[2] = k[2].min(wall);
        while !(exact::sum_at_most_one(k[0], k[2]) && exact::sum_at_most_one(k[1], k[2]))
            || k[0] - k[2] < 0.0
            || k[1] - k[2] < 0.0
        {
            k[2] = shrink(k[2]);
        }
    }
    // Shrinking only ever removes overlaps, so one pass over the pairs suffices
    // after scaling each overlapping pair to touch.
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = (c[i], c[j]);
            if exact::disjoint(a, b) {
                continue;
            }
            let d = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
            let s = a[2] + b[2];
            let f = if s > 0.0 { d / s } else { 0.0 };
            c[i][2] *= f;
            c[j][2] *= f;
            while !exact::disjoint(c[i], c[j]) {
                c[i][2] = shrink(c[i][2]);
                c[j][2] = shrink(c[j][2]);
            }
        }
    }
    c.into_iter().flatten().collect()
}

/// The next smaller non-negative double, a little more than one ulp away.
/// Whether circle `i` of `c` fits exactly: inside the square and disjoint
/// from every other circle.
fn fits(c: &[[f64; 3]], i: usize) -> bool {
    let k = c[i];
    exact::sum_at_most_one(k[0], k[2])
        && exact::sum_at_most_one(k[1], k[2])
        && k[0] - k[2] >= 0.0
        && k[1] - k[2] >= 0.0
        && (0..c.len()).all(|j| j == i || exact::disjoint(k, c[j]))
}

/// Grow each radius, centres fixed, to the largest double at which its
/// circle still fits exactly (a bisection over the doubles between the
/// radius and its wall distance), in sweeps until nothing grows: coordinate
/// ascent on the LP of the radii, in exact arithmetic. After [`repair`]'s
/// proportional shrinking this recovers the ulps it gave away, which is
/// where the last digits of the records are: a polisher for a finished
/// packing (`examples/repair_records.rs`), not part of `refine`.
pub fn inflate(v: &[f64]) -> Vec<f64> {
    let mut c: Vec<[f64; 3]> = v.chunks_exact(3).map(|k| [k[0], k[1], k[2]]).collect();
    for _sweep in 0..8 {
        let mut grew = false;
        for i in 0..c.len() {
            let k = c[i];
            let wall = k[0].min(1.0 - k[0]).min(k[1]).min(1.0 - k[1]);
            if !(k[2] >= 0.0) || !fits(&c, i) || wall <= k[2] {
                continue;
            }
            // Positive doubles order like their bit patterns: bisect on those.
            let (mut lo, mut hi) = (k[2].to_bits(), discover_guest::exact::next_up(wall).to_bits());
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                c[i][2] = f64::from_bits(mid);
                if fits(&c, i) { lo = mid } else { hi = mid }
            }
            c[i][2] = f64::from_bits(lo);
            grew |= c[i][2] > k[2];
        }
        if !grew {
            break;
        }
    }
    c.into_iter().flatten().collect()
}

fn shrink(r: f64) -> f64 {
    if r <= f64::MIN_POSITIVE {
        0.0
    } else {
        r * (1.0 - 2.0 * f64::EPSILON)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type P26 = CirclePacking<26>;

    fn verdict(values: Vec<f64>) -> Verdict {
        P26::evaluate(&Solution::new(values)).unwrap()
    }

    /// 26 points (radius 0) on the vertical line x = 0.5: valid, and leaves room.
    fn base() -> Vec<f64> {
        (0..26).flat_map(|i| [0.5, (i as f64 + 0.5) / 26.0, 0.0]).collect()
    }

    #[test]
    fn initial_states_are_valid_and_seeded() {
        for seed in 0..20 {
            let v = verdict(P26::initial(seed).values);
            assert!(v.valid, "seed {seed}: {:?}", v.reason);
            assert!(v.score.unwrap() > 1.0);
        }
        assert_ne!(P26::initial(1), P26::initial(2));
        assert_eq!(P26::initial(3), P26::initial(3));
        let v = CirclePacking::<32>::evaluate(&CirclePacking::<32>::initial(0)).unwrap();
        assert!(v.valid);
    }

    #[test]
    fn score_is_the_sum_of_radii() {
        let mut v = vec![0.0; 78];
        for i in 0..26 {
            v[3 * i] = 0.5;
            v[3 * i + 1] = 0.5;
        }
        v[2] = 0.5; // one circle filling the square, 25 points of radius 0 at its centre
        let out = verdict(v.clone());
        // Zero-radius circles at distance 0 from each other touch: allowed.
        // But at distance 0 from the big circle's centre they are inside it.
        assert!(!out.valid);
        assert!(out.reason.unwrap().contains("circles 0 and 1 overlap"));
        for i in 1..26 {
            v[3 * i] = 0.0;
            v[3 * i + 1] = 0.0;
        }
        let out = verdict(v);
        assert!(out.valid, "{:?}", out.reason);
        assert_eq!(out.score.unwrap(), 0.5);
    }

    #[test]
    fn rejects_non_finite_values() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut v = base();
            v[7] = bad;
            let out = verdict(v);
            assert!(!out.valid);
            let reason = out.reason.unwrap();
            assert!(reason.contains("value 7 (y of circle 2)"), "{reason}");
        }
    }

    #[test]
    fn rejects_negative_radius() {
        let mut v = base();
        v[3 * 4 + 2] = -1e-3;
        let reason = verdict(v).reason.unwrap();
        assert_eq!(reason, "circle 4 has a negative radius r = -0.001");
    }

    #[test]
    fn rejects_a_circle_outside_the_square_by_1e_15() {
        let mut v = base();
        // Circle 0 touching the left wall exactly is valid ...
        v[0] = 0.1;
        v[1] = 0.5;
        v[2] = 0.1;
        assert!(verdict(v.clone()).valid);
        // ... and sticking out by 1e-15 is not.
        v[2] = 0.1 + 1e-15;
        let reason = verdict(v.clone()).reason.unwrap();
        assert!(reason.starts_with("circle 0 sticks out of the square: x - r = -9.99"), "{reason}");
        // The right wall, where x + r rounds to 1.0 in floating point.
        let x = 0.9;
        let r = 1.0 - x; // rounded: x + r may exceed 1 in exact arithmetic
        v[0] = x;
        v[2] = r;
        let exact_ok = exact::sum_at_most_one(x, r);
        assert_eq!(verdict(v.clone()).valid, exact_ok);
        v[2] = 0.1 + 1e-15;
        let reason = verdict(v).reason.unwrap();
        assert!(reason.contains("x + r exceeds 1 by"), "{reason}");
        // Huge coordinates: the excess overflows, and the reason says so
        // instead of "exceeds 1 by NaN".
        let mut huge = vec![0.5; 78];
        huge[0] = 1e308;
        huge[2] = 1e308;
        let reason = verdict(huge).reason.unwrap();
        assert_eq!(reason, "circle 0 sticks out of the square: x + r overflows (x = 1e308, r = 1e308)");
    }

    #[test]
    fn rejects_circles_overlapping_by_1e_15() {
        let mut v = vec![0.0; 78];
        // Circles 3 and 17 side by side, touching exactly: valid.
        let (a, b) = (3, 17);
        v[3 * a..3 * a + 3].copy_from_slice(&[0.25, 0.5, 0.25]);
        v[3 * b..3 * b + 3].copy_from_slice(&[0.75, 0.5, 0.25]);
        assert!(verdict(v.clone()).valid);
        v[3 * b + 2] = 0.25 + 1e-15;
        v[3 * b] = 0.75; // still inside: 0.75 + 0.25 + 1e-15 > 1, so move it left
        v[3 * b] = 0.75 - 2e-15;
        let reason = verdict(v).reason.unwrap();
        assert!(reason.starts_with("circles 3 and 17 overlap by"), "{reason}");
    }

    #[test]
    fn overlap_below_float_resolution_is_still_found() {
        // Centres one ulp closer than r_i + r_j along a diagonal, where the float
        // distance rounds: the exact path decides.
        let mut v = vec![0.0; 78];
        let r = 0.2;
        let d = 2.0 * r / 2f64.sqrt();
        v[0..3].copy_from_slice(&[0.3, 0.3, r]);
        v[3..6].copy_from_slice(&[0.3 + d, 0.3 + d, r]);
        let out = verdict(v.clone());
        let exact_disjoint = exact::disjoint([0.3, 0.3, r], [0.3 + d, 0.3 + d, r]);
        assert_eq!(out.valid, exact_disjoint);
        v[5] = r + 1e-16;
        assert!(!verdict(v).valid);
    }

    #[test]
    fn rejects_wrong_lengths() {
        let reason = verdict(vec![0.5; 77]).reason.unwrap();
        assert_eq!(reason, "expected 78 values (26 circles as x, y, r), got 77");
        assert!(!verdict(vec![]).valid);
    }

    #[test]
    fn refine_turns_the_grid_into_a_good_valid_packing() {
        let start = P26::initial(5);
        let before = verdict(start.values.clone()).score.unwrap();
        let refined = P26::refine(&start, 1000).unwrap();
        let after = verdict(refined.values.clone());
        assert!(after.valid, "{:?}", after.reason);
        assert!(after.score.unwrap() > 2.5 && after.score.unwrap() > before, "{before} -> {}", after.score.unwrap());
        assert_eq!(refined, P26::refine(&start, 1000).unwrap(), "deterministic");
        // From garbage (overlapping, outside) it still ends valid.
        let mut rng = Rng::new(1);
        let garbage = Solution::new((0..78).map(|_| rng.uniform(-0.5, 1.5)).collect());
        assert!(verdict(P26::refine(&garbage, 300).unwrap().values).valid);
    }

    #[test]
    fn inflate_grows_radii_to_exact_contact_and_stays_valid() {
        // Two circles that could touch at x = 0.5: one shrunk by a thousand ulps.
        let r: f64 = 0.25;
        let shrunk = f64::from_bits(r.to_bits() - 1000);
        let v = vec![0.25, 0.5, shrunk, 0.75, 0.5, r];
        let grown = inflate(&v);
        assert_eq!(grown[2], r, "grown back to touching exactly");
        assert_eq!(grown[5], r);
        let verdict = judge(2, &grown);
        assert!(verdict.valid, "{:?}", verdict.reason);
        // A wall stops it too: a lone circle at the centre grows to 1/2.
        assert_eq!(inflate(&[0.5, 0.5, 0.1])[2], 0.5);
        // An invalid circle is left alone rather than made worse.
        let bad = vec![0.25, 0.5, 0.3, 0.75, 0.5, 0.3];
        assert_eq!(inflate(&bad), bad);
    }

    #[test]
    fn repair_returns_a_valid_packing() {
        let mut rng = Rng::new(9);
        for _ in 0..50 {
            let v: Vec<f64> = (0..78).map(|_| rng.uniform(-0.2, 1.2)).collect();
            let fixed = repair(26, &v);
            let out = verdict(fixed);
            assert!(out.valid, "{:?}", out.reason);
        }
        // A valid packing is left alone.
        let v = base();
        assert_eq!(repair(26, &v), v);
    }
}
