//! `spread-points`: place 8 points in the unit square so that the closest two
//! are as far apart as possible. A small, complete construction problem: the
//! starting point of `discover pack new NAME --kind component`. Edit it, then
//! rebuild the component (see the pack's README.md).

use discover_guest::{export_problem, Direction, Problem, Shape, Solution, Spec, Verdict};

const POINTS: usize = 8;

pub struct SpreadPoints;

impl Problem for SpreadPoints {
    fn spec() -> Spec {
        Spec::new("spread-points", "Spread 8 points in the unit square", Direction::Maximize)
            .statement(
                "Place 8 points in the unit square [0, 1]^2 to maximise the smallest distance \
                 between two of them. A solution is 16 numbers: x0, y0, x1, y1, ...",
            )
            .shape(Shape::exact(2 * POINTS as u32))
            // Schaer (1965): the optimum for 8 points is (sqrt 6 - sqrt 2) / 2.
            .best_known(0.517_638_090_205_041_5, "(sqrt(6) - sqrt(2)) / 2, Schaer 1965")
    }

    fn initial(seed: u64) -> Solution {
        // A 3 x 3 grid minus one cell, jittered by a small generator from the seed.
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let mut jitter = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 0.05
        };
        let mut values = Vec::with_capacity(2 * POINTS);
        for cell in 0..POINTS {
            let (i, j) = (cell % 3, cell / 3);
            values.push((0.2 + 0.3 * i as f64 + jitter()).clamp(0.0, 1.0));
            values.push((0.2 + 0.3 * j as f64 + jitter()).clamp(0.0, 1.0));
        }
        Solution::new(values)
    }

    fn evaluate(solution: &Solution) -> Result<Verdict, String> {
        let v = &solution.values;
        for (i, &x) in v.iter().enumerate() {
            if !(0.0..=1.0).contains(&x) {
                let axis = if i % 2 == 0 { "x" } else { "y" };
                return Ok(Verdict::invalid(format!("{axis} of point {} is {x:e}, outside [0, 1]", i / 2)));
            }
        }
        let mut closest = f64::INFINITY;
        let mut pair = (0, 0);
        for a in 0..POINTS {
            for b in a + 1..POINTS {
                let d = (v[2 * a] - v[2 * b]).hypot(v[2 * a + 1] - v[2 * b + 1]);
                if d < closest {
                    closest = d;
                    pair = (a, b);
                }
            }
        }
        Ok(Verdict::valid(closest).metric("closest_a", pair.0 as f64).metric("closest_b", pair.1 as f64))
    }
}

export_problem!(SpreadPoints);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_square_corners_and_centre_score_their_smallest_distance() {
        let mut values = vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.5, 0.5];
        values.extend([0.5, 0.0, 0.0, 0.5, 1.0, 0.5]);
        let verdict = SpreadPoints::evaluate(&Solution::new(values)).unwrap();
        assert!(verdict.valid);
        assert!((verdict.score.unwrap() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn a_point_outside_the_square_is_named() {
        let mut values = SpreadPoints::initial(0).values;
        values[5] = 1.5;
        let verdict = SpreadPoints::evaluate(&Solution::new(values)).unwrap();
        assert_eq!(verdict.reason.as_deref(), Some("y of point 2 is 1.5e0, outside [0, 1]"));
    }

    #[test]
    fn every_initial_state_is_valid() {
        for seed in 0..50 {
            assert!(SpreadPoints::evaluate(&SpreadPoints::initial(seed)).unwrap().valid);
        }
    }
}
