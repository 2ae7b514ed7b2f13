//! Second autocorrelation inequality (AC2): a non-negative step function gives the
//! lower bound C2 = ||f * f||_2^2 / (||f * f||_1 ||f * f||_inf); maximise it.

use discover_guest::math::{check_step_heights, clamp_step_heights, self_convolution, Rng};
use discover_guest::{export_problem, Budgets, Direction, Problem, Shape, Solution, Spec, Verdict};

pub struct Autocorrelation2;

pub const MAX_HEIGHT: f64 = 1000.0;
pub const MIN_SUM: f64 = 0.01;
const MAX_STEPS: u32 = 100_000;

const STATEMENT: &str = "\
Second autocorrelation inequality. Find non-negative step heights a_0 .. a_{n-1} \
(1 <= n <= 100000) that make the lower bound C2 as large as possible.
Valid: every a_i finite with 0 <= a_i <= 1000, and sum a >= 0.01.
Score (maximise): c = np.convolve(a, a) (length M = 2n - 1), h = 1/(M + 1), \
y = [0, c_0, ..., c_{M-1}, 0]; L2sq = sum_{i=0}^{M} (h/3)(y_i^2 + y_i y_{i+1} + y_{i+1}^2); \
L1 = sum(c) / (M + 1); Linf = max |c|; C2 = L2sq / (L1 * Linf). C2 is scale-free; a constant \
sequence gives about 2/3.
Known values: best human 0.9015; TTT-Discover 0.9591797711; AlphaEvolve 0.9610210777840243 \
(50000 steps, the record).";

impl Problem for Autocorrelation2 {
    fn spec() -> Spec {
        Spec::new("autocorrelation-2", "Second autocorrelation inequality (AC2)", Direction::Maximize)
            .statement(STATEMENT)
            .best_known(0.9610210777840243, "AlphaEvolve (2025), 50000 steps")
            .shape(Shape::range(1, MAX_STEPS))
            .budgets(Budgets {
                evaluate_fuel: 60_000_000_000,
                evaluate_millis: 30_000,
                memory_mib: 64,
                candidate_seconds: 600,
            })
    }

    fn initial(seed: u64) -> Solution {
        let mut rng = Rng::new(seed);
        Solution::new((0..600).map(|_| rng.uniform(0.0, 1.0)).collect())
    }

    fn evaluate(solution: &Solution) -> Result<Verdict, String> {
        let a = &solution.values;
        if let Some(reason) = check_step_heights(a, MAX_HEIGHT, MIN_SUM) {
            return Ok(Verdict::invalid(reason));
        }
        Ok(Verdict::valid(c2(a)).metric("steps", a.len() as f64))
    }

    fn repair(solution: &Solution) -> Option<Solution> {
        Some(Solution::new(clamp_step_heights(&solution.values, MAX_HEIGHT, MIN_SUM)))
    }

    fn render_svg(solution: &Solution) -> Option<String> {
        let caption = format!("AC2 step function: {} steps", solution.values.len());
        Some(discover_guest::svg::step_function(&solution.values, -0.25, 0.25, &caption))
    }
}

/// C2 = L2sq / (L1 Linf) with the piecewise-linear L2 norm of the reference.
pub fn c2(a: &[f64]) -> f64 {
    let c = self_convolution(a);
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

export_problem!(Autocorrelation2);

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(v: Vec<f64>) -> Verdict {
        Autocorrelation2::evaluate(&Solution::new(v)).unwrap()
    }

    #[test]
    fn constant_sequence_gives_about_two_thirds_and_is_scale_free() {
        let a = eval(vec![1.0; 1000]).score;
        assert!((a - 2.0 / 3.0).abs() < 1e-3, "{a}");
        let b = eval(vec![7.5; 1000]).score;
        assert!((a - b).abs() < 1e-12 * a);
    }

    #[test]
    fn rejects_bad_heights() {
        assert_eq!(eval(vec![2000.0]).reason.unwrap(), "a[0] = 2000 is above 1000");
        assert!(!eval(vec![]).valid);
        assert!(!eval(vec![0.0; 10]).valid);
    }
}
