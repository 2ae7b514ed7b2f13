//! The autocorrelation inequalities: a non-negative step function f with n equal
//! steps gives a bound computed from its self-convolution f * f.
//!
//! - AC1 (minimise): C1 = 2n max(f * f) / (sum f)^2, an upper bound.
//! - AC2 (maximise): C2 = ||f * f||_2^2 / (||f * f||_1 ||f * f||_inf), a lower bound.
//!
//! Both take the same solutions (step heights in [0, 1000] with sum >= 0.01) and
//! differ only in the bound; [`Autocorrelation`] is the problem, generic over it.

use std::marker::PhantomData;

use discover_guest::fft::Fft;
use discover_guest::math::{check_step_heights, clamp_step_heights, self_convolution, Rng};
use discover_guest::minimax::{prox_linear, Linearized, ProxLinear, ProxReport};
use discover_guest::optimize::{anneal, soft_max};
use discover_guest::{Budgets, Direction, Problem, Shape, Solution, Spec, Verdict};

/// Heights above this are rejected (the reference clipped silently).
pub const MAX_HEIGHT: f64 = 1000.0;
/// A sum below this is rejected: the bounds are scale-free, but tiny sums are noise.
pub const MIN_SUM: f64 = 0.01;
const MAX_STEPS: u32 = 100_000;
/// The range of initial lengths (inclusive).
const INITIAL_STEPS: (u64, u64) = (40, 99);

/// One inequality: its identity and its bound.
pub trait Inequality {
    const ID: &'static str;
    const TITLE: &'static str;
    const DIRECTION: Direction;
    const STATEMENT: &'static str;
    const BEST_KNOWN: (f64, &'static str);
    /// The bound at a fixed `sum a` as the largest entry of a smooth map to
    /// minimise (`discover_guest::minimax`, [`polish_minimax`]). AC1: `a * a`;
    /// AC2: `(a * a) / Q(a)`.
    fn minimax_map(n: usize) -> Box<dyn Linearized>;
    /// The bound for step heights `a` from their self-convolution `c = a * a`.
    fn bound_from(a: &[f64], c: &[f64]) -> f64;
    /// The bound for valid step heights, from the exact direct sum.
    fn bound(a: &[f64]) -> f64 {
        Self::bound_from(a, &self_convolution(a))
    }
    /// A smooth stand-in for the loss (the bound, negated when maximised) with
    /// the maximum of `a * a` replaced by a soft maximum at relative temperature
    /// `t`; writes the gradient. Convolutions by `fft` (a plan of at least
    /// `2 a.len() - 1`): O(n log n).
    fn surrogate(a: &[f64], t: f64, fft: &mut Fft, grad: &mut [f64]) -> f64;
}

/// The loss refine tracks: the bound (negated for a maximised bound) from an
/// FFT convolution, which is within ~1e-15 relative of the exact one; the
/// verifier rescores whatever refine returns with the direct sum.
fn loss<I: Inequality>(a: &[f64], fft: &mut Fft) -> f64 {
    let bound = I::bound_from(a, &fft.convolve(a, a));
    match I::DIRECTION {
        Direction::Minimize => bound,
        Direction::Maximize => -bound,
    }
}

/// The soft maximum of `c` at temperature `t * max c`, and its weights.
fn soft_peak(c: &[f64], t: f64) -> (f64, Vec<f64>) {
    let top = c.iter().fold(f64::MIN_POSITIVE, |m, &v| m.max(v));
    let mut w = Vec::new();
    (soft_max(c, t * top, &mut w), w)
}

/// The self-convolution `F(a) = a * a` as a map for prox-linear polishing:
/// `J d = 2 a * d` and `J^T lambda = 2 (lambda correlated with a)`.
pub struct SelfConvolution {
    a: Vec<f64>,
    fft: Fft,
}

impl SelfConvolution {
    pub fn new(n: usize) -> SelfConvolution {
        SelfConvolution { a: Vec::new(), fft: Fft::new(2 * n - 1) }
    }
}

impl Linearized for SelfConvolution {
    fn values(&mut self, a: &[f64]) -> Vec<f64> {
        self.a = a.to_vec();
        self.fft.convolve(a, a)
    }
    fn apply(&mut self, d: &[f64]) -> Vec<f64> {
        let mut out = self.fft.convolve(&self.a, d);
        out.iter_mut().for_each(|v| *v *= 2.0);
        out
    }
    fn apply_transpose(&mut self, lambda: &[f64]) -> Vec<f64> {
        let mut out = self.fft.correlate(lambda, &self.a);
        out.iter_mut().for_each(|v| *v *= 2.0);
        out
    }
}

/// Prox-linear polishing of a bound through its minimax map
/// ([`Inequality::minimax_map`]): `sum a` is held, so the bound improves with
/// the map's largest entry. `iterations` dual iterations of two FFT
/// convolutions each. The settings were tuned on a 1200-step AC1 state where
/// the soft-maximum refine had stalled for 20 minutes (docs/problems.md): first
/// lag weights from the soft maximum at 1e-5, a first step of a fifth of the
/// mean height, at most 500 dual iterations per step.
pub fn polish_minimax(map: &mut dyn Linearized, a: &[f64], iterations: usize) -> (Vec<f64>, ProxReport) {
    let settings = ProxLinear { lo: 0.0, hi: MAX_HEIGHT, step: 0.2, iterations, per_step: 500, temperature: 1e-5 };
    prox_linear(a, map, settings)
}

/// AC2 as a minimax: at a fixed `sum a` (so a fixed L1 norm of `c = a * a`),
/// C2 = L2sq / (L1 max c) is largest where `max_k c_k / Q` is smallest, with
/// `Q = 2 sum c_k^2 + sum c_k c_{k+1}` (the piecewise-linear L2 norm of the
/// bound up to the constant h/3). With `q = grad_a Q = 2 (grad_c Q correlated
/// with a)`, `grad_c Q = 4 c_k + c_{k-1} + c_{k+1}`:
/// `J d = 2 (a * d) / Q - c (q . d) / Q^2` and
/// `J^T lambda = 2 (lambda correlated with a) / Q - (lambda . c) q / Q^2`.
pub struct PeakOverNorm {
    a: Vec<f64>,
    c: Vec<f64>,
    q: f64,
    grad_q: Vec<f64>,
    fft: Fft,
}

impl Linearized for PeakOverNorm {
    fn values(&mut self, a: &[f64]) -> Vec<f64> {
        self.a = a.to_vec();
        self.c = self.fft.convolve(a, a);
        let c = &self.c;
        let m = c.len();
        self.q = 2.0 * c.iter().map(|v| v * v).sum::<f64>() + c.windows(2).map(|w| w[0] * w[1]).sum::<f64>();
        let grad_c: Vec<f64> = (0..m)
            .map(|k| 4.0 * c[k] + if k > 0 { c[k - 1] } else { 0.0 } + if k + 1 < m { c[k + 1] } else { 0.0 })
            .collect();
        self.grad_q = self.fft.correlate(&grad_c, a).into_iter().map(|v| 2.0 * v).collect();
        c.iter().map(|v| v / self.q).collect()
    }
    fn apply(&mut self, d: &[f64]) -> Vec<f64> {
        let qd: f64 = self.grad_q.iter().zip(d).map(|(x, y)| x * y).sum();
        let ad = self.fft.convolve(&self.a, d);
        let q2 = self.q * self.q;
        ad.iter().zip(&self.c).map(|(x, c)| 2.0 * x / self.q - c * qd / q2).collect()
    }
    fn apply_transpose(&mut self, lambda: &[f64]) -> Vec<f64> {
        let lc: f64 = lambda.iter().zip(&self.c).map(|(x, y)| x * y).sum();
        let r = self.fft.correlate(lambda, &self.a);
        let q2 = self.q * self.q;
        r.iter().zip(&self.grad_q).map(|(x, g)| 2.0 * x / self.q - lc * g / q2).collect()
    }
}

/// Up to this many steps a unit of refine effort is one iteration.
const WORK_LENGTH: usize = 1024;

/// Refine iterations for `effort` units of work on `n` steps: `effort` up to
/// [`WORK_LENGTH`] steps, `effort * WORK_LENGTH / n` above (at least
/// `effort / 16`), so a rollout costs about the same at any length. Why: a
/// run's states double in length, and at 1000 iterations per rollout a step of
/// AC2 at 3072 steps took 330 s, so the hour held 21 steps; with constant work
/// the same hour went further (BENCHMARKS.md, issue 19, "constant work per
/// rollout").
pub fn iterations(effort: u32, n: usize) -> usize {
    let effort = effort as usize;
    (effort * WORK_LENGTH / n.max(WORK_LENGTH)).max(effort / 16).max(effort.min(4))
}

/// The problem for inequality `I`.
pub struct Autocorrelation<I>(PhantomData<I>);

impl<I: Inequality> Problem for Autocorrelation<I> {
    fn spec() -> Spec {
        Spec::new(I::ID, I::TITLE, I::DIRECTION)
            .statement(I::STATEMENT)
            .best_known(I::BEST_KNOWN.0, I::BEST_KNOWN.1)
            .shape(Shape::range(1, MAX_STEPS))
            .budgets(Budgets {
                evaluate_fuel: 60_000_000_000,
                evaluate_millis: 30_000,
                memory_mib: 64,
                candidate_seconds: 600,
            })
    }

    /// Uniform heights on a coarse grid of 40 to 99 steps. Coarse to fine:
    /// refine from a random 50-step start and doubling reaches better bounds
    /// than refine from a random 600-step one, on both inequalities, because
    /// a coarse search sees the whole landscape (docs/problems.md); the
    /// policy's upsampling proposals then add resolution.
    fn initial(seed: u64) -> Solution {
        let mut rng = Rng::new(seed);
        let n = rng.range(INITIAL_STEPS.0, INITIAL_STEPS.1) as usize;
        Solution::new((0..n).map(|_| rng.uniform(0.0, 1.0)).collect())
    }

    fn evaluate(solution: &Solution) -> Result<Verdict, String> {
        let a = &solution.values;
        if let Some(reason) = check_step_heights(a, MAX_HEIGHT, MIN_SUM) {
            return Ok(Verdict::invalid(reason));
        }
        Ok(Verdict::valid(I::bound(a)).metric("steps", a.len() as f64))
    }

    fn repair(solution: &Solution) -> Option<Solution> {
        Some(Solution::new(clamp_step_heights(&solution.values, MAX_HEIGHT, MIN_SUM)))
    }

    /// Projected Adam on [`Inequality::surrogate`], annealed, for
    /// [`iterations`]`(effort, n)` iterations of O(n log n) each (FFT
    /// convolutions). Returns the best point seen, so never a worse solution
    /// (up to the FFT's ~1e-15 relative rounding).
    ///
    /// No polishing here, unlike Erdos: in 8-minute runs Adam plus
    /// [`polish_minimax`] did worse per step than Adam alone on AC1 (at sigma
    /// 0.2 and 0.01), and in chained short refines on AC1 and AC2 too; the
    /// polish pays in long uninterrupted runs (BENCHMARKS.md, issue 19).
    fn refine(solution: &Solution, effort: u32) -> Option<Solution> {
        let a = Self::repair(solution)?.values;
        let scale = a.iter().sum::<f64>() / a.len() as f64;
        let schedule = [(1e-2, 1e-2 * scale), (1e-3, 3e-3 * scale), (1e-4, 1e-3 * scale), (1e-5, 3e-4 * scale)];
        let (mut fft, mut tracking) = (Fft::new(2 * a.len() - 1), Fft::new(2 * a.len() - 1));
        let best = anneal(
            &a,
            iterations(effort, a.len()),
            &schedule,
            |a, t, grad| I::surrogate(a, t, &mut fft, grad),
            |a| a.iter_mut().for_each(|v| *v = v.clamp(0.0, MAX_HEIGHT)),
            |a| {
                if check_step_heights(a, MAX_HEIGHT, MIN_SUM).is_none() { loss::<I>(a, &mut tracking) } else { f64::INFINITY }
            },
        );
        Some(Solution::new(best))
    }

    fn render_svg(solution: &Solution) -> Option<String> {
        let caption = format!("{} step function: {} steps on [-1/4, 1/4]", I::TITLE, solution.values.len());
        Some(discover_guest::svg::step_function(&solution.values, -0.25, 0.25, &caption))
    }
}

/// The first autocorrelation inequality.
pub struct Ac1;

const AC1_STATEMENT: &str = "\
First autocorrelation inequality. Find non-negative step heights a_0 .. a_{n-1} of a function \
f on [-1/4, 1/4] (n equal steps, 1 <= n <= 100000) that make the upper bound C1 as small as \
possible.
Valid: every a_i finite with 0 <= a_i <= 1000, and sum a >= 0.01.
Score (minimise): C1 = 2n * max(a * a) / (sum a)^2, where a * a is the full discrete \
self-convolution (length 2n - 1); in numpy: 2*n*np.max(np.convolve(a, a)) / np.sum(a)**2.
A constant sequence scores exactly 2. Known values: previous human 1.50972 (208 steps); \
AlphaEvolve 1.5031636 (1319 steps); TTT-Discover 1.5028628982558263 (30000 steps). \
Typical lengths are 1000 to 100000.";

impl Inequality for Ac1 {
    const ID: &'static str = "autocorrelation-1";
    const TITLE: &'static str = "First autocorrelation inequality (AC1)";
    const DIRECTION: Direction = Direction::Minimize;
    const STATEMENT: &'static str = AC1_STATEMENT;
    const BEST_KNOWN: (f64, &'static str) = (1.5028628982558263, "TTT-Discover (2026), 30000 steps");

    fn minimax_map(n: usize) -> Box<dyn Linearized> {
        Box::new(SelfConvolution::new(n))
    }

    /// C1 = 2n max(a * a) / (sum a)^2.
    fn bound_from(a: &[f64], c: &[f64]) -> f64 {
        let n = a.len() as f64;
        let peak = c.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = a.iter().sum();
        2.0 * n * peak / (sum * sum)
    }

    /// F = 2n M / S^2 with M the soft peak: dF/da_j = 2n (2 r_j / S^2 - 2 M / S^3).
    fn surrogate(a: &[f64], t: f64, fft: &mut Fft, grad: &mut [f64]) -> f64 {
        let n = a.len() as f64;
        let (peak, w) = soft_peak(&fft.convolve(a, a), t);
        let s: f64 = a.iter().sum();
        for (g, r) in grad.iter_mut().zip(fft.correlate(&w, a)) {
            *g = 2.0 * n * (2.0 * r / (s * s) - 2.0 * peak / (s * s * s));
        }
        2.0 * n * peak / (s * s)
    }
}

/// The second autocorrelation inequality.
pub struct Ac2;

const AC2_STATEMENT: &str = "\
Second autocorrelation inequality. Find non-negative step heights a_0 .. a_{n-1} \
(1 <= n <= 100000) that make the lower bound C2 as large as possible.
Valid: every a_i finite with 0 <= a_i <= 1000, and sum a >= 0.01.
Score (maximise): c = np.convolve(a, a) (length M = 2n - 1), h = 1/(M + 1), \
y = [0, c_0, ..., c_{M-1}, 0]; L2sq = sum_{i=0}^{M} (h/3)(y_i^2 + y_i y_{i+1} + y_{i+1}^2); \
L1 = sum(c) / (M + 1); Linf = max |c|; C2 = L2sq / (L1 * Linf). C2 is scale-free; a constant \
sequence gives about 2/3.
Known values: best human 0.9015; TTT-Discover 0.9591797711; AlphaEvolve 0.9610210777840243 \
(50000 steps, the record).";

impl Inequality for Ac2 {
    const ID: &'static str = "autocorrelation-2";
    const TITLE: &'static str = "Second autocorrelation inequality (AC2)";
    const DIRECTION: Direction = Direction::Maximize;
    const STATEMENT: &'static str = AC2_STATEMENT;
    const BEST_KNOWN: (f64, &'static str) = (0.9610210777840243, "AlphaEvolve (2025), 50000 steps");

    fn minimax_map(n: usize) -> Box<dyn Linearized> {
        Box::new(PeakOverNorm { a: Vec::new(), c: Vec::new(), q: 0.0, grad_q: Vec::new(), fft: Fft::new(2 * n - 1) })
    }

    /// C2 = L2sq / (L1 Linf) with the piecewise-linear L2 norm of the reference.
    fn bound_from(_a: &[f64], c: &[f64]) -> f64 {
        let m = c.len();
        let h = 1.0 / (m as f64 + 1.0);
        // y = (0, c_0, .., c_{M-1}, 0): sum over the M + 1 consecutive pairs.
        let y = |i: usize| if i == 0 || i > m { 0.0 } else { c[i - 1] };
        let mut l2sq = 0.0;
        for i in 0..=m {
            let (p, q) = (y(i), y(i + 1));
            l2sq += h / 3.0 * (p * p + p * q + q * q);
        }
        let l1 = c.iter().sum::<f64>() / (m as f64 + 1.0);
        let linf = c.iter().fold(0.0f64, |acc, v| acc.max(v.abs()));
        l2sq / (l1 * linf)
    }

    /// G = -ln Q + 2 ln S + ln M with Q = sum c_k^2 (the L2 norm without the
    /// trapezoid corrections), S = sum a (so L1 = S^2) and M the soft peak.
    fn surrogate(a: &[f64], t: f64, fft: &mut Fft, grad: &mut [f64]) -> f64 {
        let c = fft.convolve(a, a);
        let (peak, w) = soft_peak(&c, t);
        let q: f64 = c.iter().map(|v| v * v).sum();
        let s: f64 = a.iter().sum();
        let (rc, rw) = (fft.correlate(&c, a), fft.correlate(&w, a));
        for j in 0..a.len() {
            grad[j] = -4.0 * rc[j] / q + 2.0 / s + 2.0 * rw[j] / peak;
        }
        -q.ln() + 2.0 * s.ln() + peak.ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Ac1Problem = Autocorrelation<Ac1>;
    type Autocorrelation2 = Autocorrelation<Ac2>;

    fn eval(v: Vec<f64>) -> Verdict {
        Ac1Problem::evaluate(&Solution::new(v)).unwrap()
    }

    fn eval2(v: Vec<f64>) -> Verdict {
        Autocorrelation2::evaluate(&Solution::new(v)).unwrap()
    }

    /// Finite differences of the surrogate (its temperature is held fixed, so
    /// a small `t` keeps the difference below the tolerance).
    fn check_gradient<I: Inequality>() {
        let a: Vec<f64> = (0..12).map(|i| 0.2 + ((i * 5 % 7) as f64) / 7.0).collect();
        let mut g = vec![0.0; 12];
        let mut fft = Fft::new(23);
        I::surrogate(&a, 1e-4, &mut fft, &mut g);
        for j in 0..12 {
            let (mut ap, mut am) = (a.clone(), a.clone());
            ap[j] += 1e-7;
            am[j] -= 1e-7;
            let mut tmp = vec![0.0; 12];
            let fd = (I::surrogate(&ap, 1e-4, &mut fft, &mut tmp) - I::surrogate(&am, 1e-4, &mut fft, &mut tmp)) / 2e-7;
            assert!((fd - g[j]).abs() < 1e-3 * (1.0 + g[j].abs()), "{} a[{j}]: {fd} vs {}", I::ID, g[j]);
        }
    }

    #[test]
    fn surrogate_gradients_match_finite_differences() {
        check_gradient::<Ac1>();
        check_gradient::<Ac2>();
    }

    #[test]
    fn refine_improves_the_initial_state_of_both_bounds() {
        let start = Ac1Problem::initial(2);
        let (before, after) = (eval(start.values.clone()), eval(Ac1Problem::refine(&start, 200).unwrap().values));
        assert!(after.valid && after.score.unwrap() < before.score.unwrap() - 0.05, "AC1 {} -> {}", before.score.unwrap(), after.score.unwrap());
        let (before, after) =
            (eval2(start.values.clone()), eval2(Autocorrelation2::refine(&start, 200).unwrap().values));
        assert!(after.valid && after.score.unwrap() > before.score.unwrap() + 0.01, "AC2 {} -> {}", before.score.unwrap(), after.score.unwrap());
    }

    #[test]
    fn upsampling_leaves_both_bounds_unchanged() {
        // The bounds are properties of the step function, not of its grid: the
        // autoconvolution of a step function is piecewise linear with knots on
        // the grid, so its maximum and its (exact, piecewise-linear) L2 norm
        // are the same read on a finer grid.
        use discover_guest::math::upsample;
        let a = Ac1Problem::initial(4).values;
        for factor in [2, 3, 8] {
            let fine = upsample(&a, factor);
            let (c1, c1_fine) = (Ac1::bound(&a), Ac1::bound(&fine));
            assert!((c1 - c1_fine).abs() < 1e-12 * c1, "AC1 x{factor}: {c1} vs {c1_fine}");
            let (c2, c2_fine) = (Ac2::bound(&a), Ac2::bound(&fine));
            assert!((c2 - c2_fine).abs() < 1e-12 * c2, "AC2 x{factor}: {c2} vs {c2_fine}");
        }
    }

    #[test]
    fn the_fft_loss_refine_tracks_agrees_with_the_exact_bound() {
        let a = Ac1Problem::initial(9).values;
        let mut fft = Fft::new(2 * a.len() - 1);
        let (exact, fast) = (Ac1::bound(&a), loss::<Ac1>(&a, &mut fft));
        assert!((exact - fast).abs() < 1e-12 * exact, "{exact} vs {fast}");
        let (exact, fast) = (Ac2::bound(&a), -loss::<Ac2>(&a, &mut fft));
        assert!((exact - fast).abs() < 1e-12 * exact, "{exact} vs {fast}");
    }

    /// `J d` against central differences of each map, and `J^T` as the
    /// adjoint of `J`.
    fn check_linearisation(map: &mut dyn Linearized, name: &str) {
        let a: Vec<f64> = (0..13).map(|i| 0.2 + ((i * 5 % 7) as f64) / 7.0).collect();
        let d: Vec<f64> = (0..13).map(|i| ((i * 3 % 4) as f64 - 1.5) * 0.1).collect();
        let lambda: Vec<f64> = (0..25).map(|k| 1.0 + (k % 3) as f64).collect();
        let e = 1e-5;
        let plus: Vec<f64> = a.iter().zip(&d).map(|(x, y)| x + e * y).collect();
        let minus: Vec<f64> = a.iter().zip(&d).map(|(x, y)| x - e * y).collect();
        let (fp, fm) = (map.values(&plus), map.values(&minus));
        let f = map.values(&a);
        let top = f.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let jd = map.apply(&d);
        for k in 0..25 {
            let fd = (fp[k] - fm[k]) / (2.0 * e);
            assert!((fd - jd[k]).abs() < 1e-7 * top, "{name} lag {k}: {fd} vs {}", jd[k]);
        }
        let jt = map.apply_transpose(&lambda);
        let left: f64 = jd.iter().zip(&lambda).map(|(x, y)| x * y).sum();
        let right: f64 = d.iter().zip(&jt).map(|(x, y)| x * y).sum();
        assert!((left - right).abs() < 1e-12 * left.abs().max(top), "{name}: {left} vs {right}");
    }

    #[test]
    fn minimax_maps_match_differences_and_their_adjoints() {
        check_linearisation(Ac1::minimax_map(13).as_mut(), "AC1");
        check_linearisation(Ac2::minimax_map(13).as_mut(), "AC2");
        // AC2's map is the bound in disguise: at a fixed sum, max F = (h/3) / (L1 C2).
        let a = Autocorrelation2::initial(1).values;
        let f = Ac2::minimax_map(a.len()).values(&a);
        let m = 2 * a.len() - 1;
        let (h, l1) = (1.0 / (m as f64 + 1.0), a.iter().sum::<f64>().powi(2) / (m as f64 + 1.0));
        let from_map = h / 3.0 / (l1 * f.iter().fold(0.0f64, |x, v| x.max(*v)));
        assert!((from_map - Ac2::bound(&a)).abs() < 1e-12, "{from_map} vs {}", Ac2::bound(&a));
    }

    #[test]
    fn polishing_moves_on_where_the_soft_maximum_stalls() {
        // Refine's Adam phase alone (as refine calls it), then the polish: C1
        // falls further and stays valid with the same sum.
        let a = Ac1Problem::initial(5).values;
        let scale = a.iter().sum::<f64>() / a.len() as f64;
        let schedule = [(1e-2, 1e-2 * scale), (1e-3, 3e-3 * scale), (1e-4, 1e-3 * scale), (1e-5, 3e-4 * scale)];
        let (mut fft, mut tracking) = (Fft::new(2 * a.len() - 1), Fft::new(2 * a.len() - 1));
        let adam = anneal(
            &a,
            3000,
            &schedule,
            |a, t, grad| Ac1::surrogate(a, t, &mut fft, grad),
            |a| a.iter_mut().for_each(|v| *v = v.clamp(0.0, MAX_HEIGHT)),
            |a| loss::<Ac1>(a, &mut tracking),
        );
        let (polished, report) = polish_minimax(&mut SelfConvolution::new(a.len()), &adam, 3000);
        let (before, after) = (Ac1::bound(&adam), Ac1::bound(&polished));
        assert!(after < before - 1e-4, "{before} -> {after} ({report:?})");
        assert!(eval(polished.clone()).valid);
        let (s0, s1) = (adam.iter().sum::<f64>(), polished.iter().sum::<f64>());
        assert!((s0 - s1).abs() < 1e-10 * s0, "{s0} vs {s1}");
    }

    #[test]
    fn refine_work_is_constant_above_the_work_length() {
        assert_eq!(iterations(1000, 80), 1000);
        assert_eq!(iterations(1000, 1024), 1000);
        assert_eq!(iterations(1000, 2048), 500);
        assert_eq!(iterations(1000, 3072), 333);
        // The floor: a 50 000-step state still gets effort / 16.
        assert_eq!(iterations(1000, 50_000), 62);
        assert_eq!(iterations(1, 50_000), 1);
        assert_eq!(iterations(0, 600), 0);
    }

    #[test]
    fn initial_states_are_coarse_valid_and_differ_in_length() {
        let lengths: std::collections::BTreeSet<usize> = (0..20)
            .map(|seed| {
                let s = Ac1Problem::initial(seed);
                assert!(eval(s.values.clone()).valid && eval2(s.values.clone()).valid, "seed {seed}");
                s.values.len()
            })
            .collect();
        assert!(lengths.iter().all(|n| (40..=99).contains(n)), "{lengths:?}");
        assert!(lengths.len() > 5, "{lengths:?}");
    }

    #[test]
    fn constant_sequence_scores_exactly_two() {
        for n in [1, 2, 7, 100] {
            assert!((eval(vec![0.3; n]).score.unwrap() - 2.0).abs() < 1e-14);
            assert!((eval(vec![1.0; n]).score.unwrap() - 2.0).abs() < 1e-15);
        }
    }

    #[test]
    fn rejects_what_the_reference_clipped() {
        assert_eq!(eval(vec![1.0, -0.5]).reason.unwrap(), "a[1] = -0.5 is below 0");
        assert_eq!(eval(vec![1.0, 1000.5]).reason.unwrap(), "a[1] = 1000.5 is above 1000");
        assert_eq!(eval(vec![]).reason.unwrap(), "the list of step heights is empty");
        assert!(eval(vec![0.001, 0.001]).reason.unwrap().contains("below the minimum 0.01"));
        assert!(!eval(vec![f64::INFINITY]).valid);
    }

    #[test]
    fn repair_makes_any_vector_valid() {
        let fixed = Ac1Problem::repair(&Solution::new(vec![-1.0, f64::NAN, 5000.0])).unwrap();
        assert_eq!(fixed.values, vec![0.0, 0.0, 1000.0]);
        assert!(eval(fixed.values).valid);
        assert!(eval(Ac1Problem::repair(&Solution::default()).unwrap().values).valid);
    }

    #[test]
    fn constant_sequence_gives_about_two_thirds_and_is_scale_free() {
        let a = eval2(vec![1.0; 1000]).score.unwrap();
        assert!((a - 2.0 / 3.0).abs() < 1e-3, "{a}");
        let b = eval2(vec![7.5; 1000]).score.unwrap();
        assert!((a - b).abs() < 1e-12 * a);
    }

    #[test]
    fn ac2_rejects_bad_heights() {
        assert_eq!(eval2(vec![2000.0]).reason.unwrap(), "a[0] = 2000 is above 1000");
        assert!(!eval2(vec![]).valid);
        assert!(!eval2(vec![0.0; 10]).valid);
    }
}
