//! First autocorrelation inequality (AC1): a non-negative step function f on
//! [-1/4, 1/4] gives the upper bound C1 = 2n max(f * f) / (sum f)^2; minimise it.

use discover_guest::math::{check_step_heights, clamp_step_heights, self_convolution, Rng};
use discover_guest::{export_problem, Budgets, Direction, Problem, Shape, Solution, Spec, Verdict};

pub struct Autocorrelation1;

/// Heights above this are rejected (the reference clipped silently).
pub const MAX_HEIGHT: f64 = 1000.0;
/// A sum below this is rejected: the bound is scale-free, but tiny sums are noise.
pub const MIN_SUM: f64 = 0.01;
const MAX_STEPS: u32 = 100_000;

const STATEMENT: &str = "\
First autocorrelation inequality. Find non-negative step heights a_0 .. a_{n-1} of a function \
f on [-1/4, 1/4] (n equal steps, 1 <= n <= 100000) that make the upper bound C1 as small as \
possible.
Valid: every a_i finite with 0 <= a_i <= 1000, and sum a >= 0.01.
Score (minimise): C1 = 2n * max(a * a) / (sum a)^2, where a * a is the full discrete \
self-convolution (length 2n - 1); in numpy: 2*n*np.max(np.convolve(a, a)) / np.sum(a)**2.
A constant sequence scores exactly 2. Known values: previous human 1.50972 (208 steps); \
AlphaEvolve 1.5031636 (1319 steps); TTT-Discover 1.5028628982558263 (30000 steps). \
Typical lengths are 1000 to 100000.";

impl Problem for Autocorrelation1 {
    fn spec() -> Spec {
        Spec::new("autocorrelation-1", "First autocorrelation inequality (AC1)", Direction::Minimize)
            .statement(STATEMENT)
            .best_known(1.5028628982558263, "TTT-Discover (2026), 30000 steps")
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
        Ok(Verdict::valid(c1(a)).metric("steps", a.len() as f64))
    }

    fn repair(solution: &Solution) -> Option<Solution> {
        Some(Solution::new(clamp_step_heights(&solution.values, MAX_HEIGHT, MIN_SUM)))
    }

    fn render_svg(solution: &Solution) -> Option<String> {
        let caption = format!("AC1 step function: {} steps on [-1/4, 1/4]", solution.values.len());
        Some(discover_guest::svg::step_function(&solution.values, -0.25, 0.25, &caption))
    }
}

/// C1 = 2n max(a * a) / (sum a)^2.
pub fn c1(a: &[f64]) -> f64 {
    let n = a.len() as f64;
    let peak = self_convolution(a).into_iter().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = a.iter().sum();
    2.0 * n * peak / (sum * sum)
}

export_problem!(Autocorrelation1);

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(v: Vec<f64>) -> Verdict {
        Autocorrelation1::evaluate(&Solution::new(v)).unwrap()
    }

    #[test]
    fn constant_sequence_scores_exactly_two() {
        for n in [1, 2, 7, 100] {
            assert!((eval(vec![0.3; n]).score - 2.0).abs() < 1e-14);
            assert!((eval(vec![1.0; n]).score - 2.0).abs() < 1e-15);
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
        let fixed = Autocorrelation1::repair(&Solution::new(vec![-1.0, f64::NAN, 5000.0])).unwrap();
        assert_eq!(fixed.values, vec![0.0, 0.0, 1000.0]);
        assert!(eval(fixed.values).valid);
        assert!(eval(Autocorrelation1::repair(&Solution::default()).unwrap().values).valid);
    }
}
