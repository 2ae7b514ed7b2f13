//! Erdos minimum overlap: a step function h on [0, 2] with values in [0, 1] and
//! integral 1, minimising the largest overlap C5 = max_k integral h(x) (1 - h(x + k)).
//!
//! A solution is the n step heights; the steps have width 2/n. A solution whose sum
//! is not n/2 is rescaled to it (and must still lie in [0, 1]). The score is always
//! recomputed from the heights.

use discover_guest::fft::Fft;
use discover_guest::math::{check_range, Rng};
use discover_guest::minimax::{prox_linear, Linearized, ProxLinear, ProxReport};
use discover_guest::optimize::{anneal, project_box_sum, soft_max};
use discover_guest::{export_problem, Budgets, Direction, Problem, Shape, Solution, Spec, Verdict};

pub struct ErdosMinOverlap;

const MAX_STEPS: u32 = 10_000;

const STATEMENT: &str = "\
Erdos minimum overlap problem. Find a step function h: [0, 2] -> [0, 1] with n equal steps \
(width 2/n) whose overlap bound C5 is as small as possible.
A solution is the list of n step heights h_0 .. h_{n-1} (2 <= n <= 10000), each in [0, 1].
The heights are rescaled so that sum h = n/2 (integral 1); after rescaling every height must \
still lie in [0, 1].
Score (minimise): C5 = (2/n) * max over all 2n-1 lags k of sum_i h_i * (1 - h_{i+k}), indices \
outside 0..n-1 absent; in numpy: (2/n) * max(np.correlate(h, 1 - h, mode='full')).
Known values: Haugland (2016) 0.380926853 with 51 steps; AlphaEvolve 0.380923035 with 95 \
steps; TTT-Discover 0.3808753232177188 with 600 steps.";

impl Problem for ErdosMinOverlap {
    fn spec() -> Spec {
        Spec::new("erdos-min-overlap", "Erdos minimum overlap", Direction::Minimize)
            .statement(STATEMENT)
            .best_known(0.3808753232177188, "TTT-Discover (2026), 600 steps")
            .shape(Shape::range(2, MAX_STEPS))
            .budgets(Budgets {
                evaluate_fuel: 2_000_000_000,
                evaluate_millis: 5_000,
                memory_mib: 64,
                candidate_seconds: 300,
            })
    }

    /// As in the reference: n ~ U{40..99}, h = 0.5 + centred U(-0.4, 0.4).
    fn initial(seed: u64) -> Solution {
        let mut rng = Rng::new(seed);
        let n = rng.range(40, 99) as usize;
        let noise: Vec<f64> = (0..n).map(|_| rng.uniform(-0.4, 0.4)).collect();
        let mean = noise.iter().sum::<f64>() / n as f64;
        Solution::new(noise.iter().map(|e| (0.5 + e - mean).clamp(0.0, 1.0)).collect())
    }

    fn evaluate(solution: &Solution) -> Result<Verdict, String> {
        let h = &solution.values;
        let n = h.len();
        if n < 2 {
            return Ok(Verdict::invalid(format!("need at least 2 steps, got {n}")));
        }
        if let Some(reason) = check_range(h, 0.0, 1.0, "h") {
            return Ok(Verdict::invalid(reason));
        }
        let sum: f64 = h.iter().sum();
        if sum <= 0.0 {
            return Ok(Verdict::invalid("every step is zero: h cannot have integral 1"));
        }
        let target = n as f64 / 2.0;
        let factor = target / sum;
        let scaled: Vec<f64> = if sum == target { h.clone() } else { h.iter().map(|v| v * factor).collect() };
        if let Some(reason) = check_range(&scaled, 0.0, 1.0, "h") {
            return Ok(Verdict::invalid(format!(
                "after rescaling to sum n/2 = {target} (factor {factor:.6}), {reason}"
            )));
        }
        Ok(Verdict::valid(c5(&scaled)).metric("steps", n as f64).metric("rescale_factor", factor))
    }

    fn repair(solution: &Solution) -> Option<Solution> {
        let mut h: Vec<f64> = solution
            .values
            .iter()
            .map(|v| if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.5 })
            .collect();
        if h.len() < 2 {
            h.resize(2, 0.5);
        }
        if h.iter().all(|&v| v == 0.0) {
            h.iter_mut().for_each(|v| *v = 0.5);
        }
        Some(Solution::new(h))
    }

    /// Projected Adam on a soft maximum over the lags, annealed, then prox-linear
    /// polishing of the largest overlap; `effort` iterations of each, O(n log n)
    /// apiece (FFT correlations). Never returns a worse solution than it got.
    fn refine(solution: &Solution, effort: u32) -> Option<Solution> {
        let start = Self::repair(solution)?.values;
        let n = start.len();
        let half = n as f64 / 2.0;
        let mut h = start.clone();
        project_box_sum(&mut h, 0.0, 1.0, half);
        // Temperatures in score units (C5 = (2/n) C): t_C = t * n / 2.
        let schedule = [(1e-3, 1e-2), (1e-4, 3e-3), (1e-5, 1e-3), (1e-6, 3e-4)];
        let mut w = Vec::new();
        let (mut fft, mut tracking) = (Fft::new(2 * n - 1), Fft::new(2 * n - 1));
        let best = anneal(
            &h,
            effort as usize,
            &schedule,
            |h, t, grad| soft_overlap(h, t * half, &mut fft, &mut w, grad),
            |h| project_box_sum(h, 0.0, 1.0, half),
            |h| c5_fft(h, &mut tracking),
        );
        // Then prox-linear polishing of the largest overlap, which moves on
        // where the soft maximum stalls (see `polish_minimax`).
        let best = match polish_minimax(&best, effort as usize) {
            (polished, report) if report.end < report.start => settle(polished).unwrap_or(best),
            _ => best,
        };
        // The start may already beat the refined point (a projected start can be worse).
        let start_score = Self::evaluate(&Solution::new(start.clone())).ok().filter(|v| v.valid).and_then(|v| v.score);
        match start_score {
            Some(s) if s <= c5(&best) => Some(Solution::new(start)),
            _ => Some(Solution::new(best)),
        }
    }

    fn render_svg(solution: &Solution) -> Option<String> {
        let caption = format!("Erdos minimum overlap: {} steps on [0, 2]", solution.values.len());
        Some(discover_guest::svg::step_function(&solution.values, 0.0, 2.0, &caption))
    }
}

/// The overlaps C_k = sum_i h_i (1 - h_{i+k}) for lags k = -(n-1) .. n-1,
/// by FFT: with h reversed, C is the convolution of h' and g = 1 - h.
fn overlaps(h: &[f64], fft: &mut Fft) -> Vec<f64> {
    let reversed: Vec<f64> = h.iter().rev().copied().collect();
    let g: Vec<f64> = h.iter().map(|v| 1.0 - v).collect();
    fft.convolve(&reversed, &g)
}

/// [`c5`] from FFT overlaps, within ~1e-15 relative: what refine tracks.
fn c5_fft(h: &[f64], fft: &mut Fft) -> f64 {
    2.0 / h.len() as f64 * overlaps(h, fft).into_iter().fold(f64::NEG_INFINITY, f64::max)
}

/// Soft maximum of the overlaps at temperature `t` and its gradient:
/// dC_k/dh_j = (1 - h_{j+k}) - h_{j-k}, so with weights W_m = w_{k = m - n + 1}
/// grad_j = sum_q W_{q + n-1-j} g_q - sum_p W'_{p + n-1-j} h_p (W' = W reversed):
/// two correlations, read at n - 1 - j.
fn soft_overlap(h: &[f64], t: f64, fft: &mut Fft, w: &mut Vec<f64>, grad: &mut [f64]) -> f64 {
    let n = h.len();
    let lags = overlaps(h, fft);
    let value = soft_max(&lags, t, w);
    let g: Vec<f64> = h.iter().map(|v| 1.0 - v).collect();
    let reversed: Vec<f64> = w.iter().rev().copied().collect();
    let (plus, minus) = (fft.correlate(w, &g), fft.correlate(&reversed, h));
    for j in 0..n {
        grad[j] = plus[n - 1 - j] - minus[n - 1 - j];
    }
    value
}

/// The overlaps as a map for prox-linear polishing: `F(h) = h' * (1 - h)`
/// (h' reversed), so `J d = d' * (1 - h) - h' * d`, and `J^T lambda` is the
/// gradient of `sum_k lambda_k F_k`, the two correlations of [`soft_overlap`].
struct Overlaps {
    h: Vec<f64>,
    fft: Fft,
}

impl Linearized for Overlaps {
    fn values(&mut self, h: &[f64]) -> Vec<f64> {
        self.h = h.to_vec();
        overlaps(h, &mut self.fft)
    }
    fn apply(&mut self, d: &[f64]) -> Vec<f64> {
        let g: Vec<f64> = self.h.iter().map(|v| 1.0 - v).collect();
        let d_reversed: Vec<f64> = d.iter().rev().copied().collect();
        let h_reversed: Vec<f64> = self.h.iter().rev().copied().collect();
        let plus = self.fft.convolve(&d_reversed, &g);
        let minus = self.fft.convolve(&h_reversed, d);
        plus.iter().zip(&minus).map(|(p, m)| p - m).collect()
    }
    fn apply_transpose(&mut self, lambda: &[f64]) -> Vec<f64> {
        let n = self.h.len();
        let g: Vec<f64> = self.h.iter().map(|v| 1.0 - v).collect();
        let reversed: Vec<f64> = lambda.iter().rev().copied().collect();
        let (plus, minus) = (self.fft.correlate(lambda, &g), self.fft.correlate(&reversed, &self.h));
        (0..n).map(|j| plus[n - 1 - j] - minus[n - 1 - j]).collect()
    }
}

/// Prox-linear polishing of C5 (`discover_guest::minimax`): heights stay in
/// [0, 1] with their sum; `iterations` dual iterations. Same settings as
/// AC1's polish (first lag weights from the soft maximum at 1e-5, first step
/// a fifth of the mean height, at most 500 dual iterations per step).
pub fn polish_minimax(h: &[f64], iterations: usize) -> (Vec<f64>, ProxReport) {
    let mut model = Overlaps { h: Vec::new(), fft: Fft::new(2 * h.len() - 1) };
    let settings = ProxLinear { lo: 0.0, hi: 1.0, step: 0.2, iterations, per_step: 500, temperature: 1e-5 };
    prox_linear(h, &mut model, settings)
}

/// `h` as the verifier will take it, or None. Rounding can leave `sum h` a
/// few ulps under n/2, and the verifier's rescale then lifts a height of
/// exactly 1 above 1: heights are capped a few ulps under 1 (a change of
/// ~1e-16 in C5) before giving up.
fn settle(mut h: Vec<f64>) -> Option<Vec<f64>> {
    let valid = |h: &[f64]| ErdosMinOverlap::evaluate(&Solution::new(h.to_vec())).is_ok_and(|v| v.valid);
    if valid(&h) {
        return Some(h);
    }
    h.iter_mut().for_each(|v| *v = v.min(1.0 - 4.0 * f64::EPSILON));
    valid(&h).then_some(h)
}

/// C5 = (2/n) max_k sum_i h_i (1 - h_{i+k}) over all lags k = -(n-1) .. n-1.
pub fn c5(h: &[f64]) -> f64 {
    let n = h.len();
    let g: Vec<f64> = h.iter().map(|v| 1.0 - v).collect();
    let mut best = f64::NEG_INFINITY;
    for lag in 0..n {
        // h shifted against g in both directions.
        let forward: f64 = h[..n - lag].iter().zip(&g[lag..]).map(|(a, b)| a * b).sum();
        let backward: f64 = h[lag..].iter().zip(&g[..n - lag]).map(|(a, b)| a * b).sum();
        best = best.max(forward).max(backward);
    }
    2.0 / n as f64 * best
}

export_problem!(ErdosMinOverlap);

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(v: Vec<f64>) -> Verdict {
        ErdosMinOverlap::evaluate(&Solution::new(v)).unwrap()
    }

    #[test]
    fn soft_overlap_gradient_matches_finite_differences() {
        let h: Vec<f64> = (0..9).map(|i| 0.5 + 0.3 * ((i * 7 % 5) as f64 / 5.0 - 0.4)).collect();
        let (mut fft, mut w, mut g) = (Fft::new(17), Vec::new(), vec![0.0; 9]);
        soft_overlap(&h, 0.05, &mut fft, &mut w, &mut g);
        for j in 0..9 {
            let (mut hp, mut hm) = (h.clone(), h.clone());
            hp[j] += 1e-6;
            hm[j] -= 1e-6;
            let mut tmp = vec![0.0; 9];
            let fd = (soft_overlap(&hp, 0.05, &mut fft, &mut w, &mut tmp)
                - soft_overlap(&hm, 0.05, &mut fft, &mut w, &mut tmp))
                / 2e-6;
            assert!((fd - g[j]).abs() < 1e-6, "h[{j}]: {fd} vs {}", g[j]);
        }
    }

    /// `J d` against central differences of `F` (exact up to rounding: F is
    /// quadratic), and `J^T` as the adjoint of `J`.
    #[test]
    fn overlap_linearisation_matches_differences_and_its_adjoint() {
        let h: Vec<f64> = (0..11).map(|i| 0.5 + 0.3 * ((i * 7 % 5) as f64 / 5.0 - 0.4)).collect();
        let d: Vec<f64> = (0..11).map(|i| ((i * 3 % 4) as f64 - 1.5) * 0.1).collect();
        let lambda: Vec<f64> = (0..21).map(|k| 1.0 + (k % 3) as f64).collect();
        let mut model = Overlaps { h: Vec::new(), fft: Fft::new(21) };
        let e = 1e-4;
        let plus: Vec<f64> = h.iter().zip(&d).map(|(a, b)| a + e * b).collect();
        let minus: Vec<f64> = h.iter().zip(&d).map(|(a, b)| a - e * b).collect();
        let (fp, fm) = (model.values(&plus), model.values(&minus));
        model.values(&h);
        let jd = model.apply(&d);
        for k in 0..21 {
            let fd = (fp[k] - fm[k]) / (2.0 * e);
            assert!((fd - jd[k]).abs() < 1e-9, "lag {k}: {fd} vs {}", jd[k]);
        }
        let jt = model.apply_transpose(&lambda);
        let (left, right): (f64, f64) =
            (jd.iter().zip(&lambda).map(|(a, b)| a * b).sum(), d.iter().zip(&jt).map(|(a, b)| a * b).sum());
        assert!((left - right).abs() < 1e-12 * left.abs().max(1.0), "{left} vs {right}");
    }

    #[test]
    fn polishing_moves_on_where_the_soft_maximum_stalls() {
        // Adam alone, then polishing from its end point: the largest overlap
        // falls further, and the result is valid with the same sum.
        let start = ErdosMinOverlap::repair(&ErdosMinOverlap::initial(4)).unwrap().values;
        let (mut h, half) = (start.clone(), start.len() as f64 / 2.0);
        project_box_sum(&mut h, 0.0, 1.0, half);
        let mut w = Vec::new();
        let (mut fft, mut tracking) = (Fft::new(2 * h.len() - 1), Fft::new(2 * h.len() - 1));
        let adam = anneal(
            &h,
            2000,
            &[(1e-3, 1e-2), (1e-4, 3e-3), (1e-5, 1e-3), (1e-6, 3e-4)],
            |h, t, grad| soft_overlap(h, t * half, &mut fft, &mut w, grad),
            |h| project_box_sum(h, 0.0, 1.0, half),
            |h| c5_fft(h, &mut tracking),
        );
        let (polished, report) = polish_minimax(&adam, 3000);
        let polished = settle(polished).expect("a polished state the verifier takes");
        assert!(c5(&polished) < c5(&adam) - 1e-5, "{} -> {} ({report:?})", c5(&adam), c5(&polished));
        let verdict = eval(polished.clone());
        assert!(verdict.valid, "{:?} sum {}", verdict.reason, polished.iter().sum::<f64>());
        assert!((polished.iter().sum::<f64>() - half).abs() < 1e-9);
    }

    #[test]
    fn refine_improves_the_initial_state_and_stays_valid() {
        let start = ErdosMinOverlap::initial(1);
        let before = eval(start.values.clone()).score.unwrap();
        let refined = ErdosMinOverlap::refine(&start, 400).unwrap();
        let after = eval(refined.values.clone());
        assert!(after.valid, "{:?}", after.reason);
        assert!(after.score.unwrap() < before - 0.01, "{before} -> {}", after.score.unwrap());
        assert_eq!(refined, ErdosMinOverlap::refine(&start, 400).unwrap(), "deterministic");
        // Refining again never makes it worse.
        let again = eval(ErdosMinOverlap::refine(&refined, 50).unwrap().values).score.unwrap();
        assert!(again <= after.score.unwrap());
    }

    #[test]
    fn fft_overlaps_match_the_direct_sums() {
        let h = ErdosMinOverlap::initial(3).values;
        let n = h.len() as isize;
        let direct: Vec<f64> = (-(n - 1)..n)
            .map(|k| (0..n).filter(|i| (0..n).contains(&(i + k))).map(|i| h[i as usize] * (1.0 - h[(i + k) as usize])).sum())
            .collect();
        let fast = overlaps(&h, &mut Fft::new(2 * h.len() - 1));
        let top = direct.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (f, d) in fast.iter().zip(&direct) {
            assert!((f - d).abs() < 1e-12 * top, "{f} vs {d}");
        }
        assert!((c5_fft(&h, &mut Fft::new(2 * h.len() - 1)) - c5(&h)).abs() < 1e-12);
    }

    #[test]
    fn upsampling_leaves_the_overlap_bound_unchanged() {
        // The overlap of two step functions on one grid is piecewise linear in
        // the shift with knots on the grid, so its maximum is the same read on
        // a finer grid, and C5 = (2/n) sum is normalised per step.
        let h = eval(ErdosMinOverlap::initial(5).values).score.unwrap();
        for factor in [2, 3, 6] {
            let fine = eval(discover_guest::math::upsample(&ErdosMinOverlap::initial(5).values, factor)).score.unwrap();
            assert!((h - fine).abs() < 1e-12, "x{factor}: {h} vs {fine}");
        }
    }

    #[test]
    fn constant_half_scores_one_half() {
        // h = 1/2 everywhere: at lag 0 the overlap is n/4 * (2/n) = 1/2.
        let v = eval(vec![0.5; 10]);
        assert!(v.valid);
        assert!((v.score.unwrap() - 0.5).abs() < 1e-15);
    }

    #[test]
    fn rescales_and_rechecks_the_range() {
        let v = eval(vec![0.25; 10]); // sum 2.5, rescaled by 2 to 0.5
        assert!(v.valid);
        assert!((v.score.unwrap() - 0.5).abs() < 1e-15);
        let v = eval(vec![1.0, 0.1, 0.1, 0.1]); // sum 1.3 -> factor 2/1.3, h_0 > 1
        assert!(!v.valid);
        assert!(v.reason.unwrap().starts_with("after rescaling to sum n/2 = 2 (factor 1.538462), h[0]"));
    }

    #[test]
    fn rejects_bad_heights() {
        assert_eq!(eval(vec![0.5, -0.1]).reason.unwrap(), "h[1] = -0.1 is below 0");
        assert!(eval(vec![0.5, f64::NAN]).reason.unwrap().contains("not a finite number"));
        assert!(!eval(vec![0.0, 0.0]).valid);
        assert!(!eval(vec![0.5]).valid);
    }

    #[test]
    fn initial_states_are_valid() {
        for seed in 0..10 {
            let s = ErdosMinOverlap::initial(seed);
            assert!((40..=99).contains(&s.values.len()));
            assert!(eval(s.values).valid);
        }
    }
}

