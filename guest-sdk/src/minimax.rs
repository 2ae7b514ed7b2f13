//! Prox-linear polishing for minimax objectives: minimise `max_k F_k(x)` over
//! `{ lo <= x_i <= hi, sum x = const }` for a smooth vector map `F`.
//!
//! Why: the autocorrelation and overlap bounds are the largest entry of a
//! quadratic map, and at a good state hundreds of entries tie for the maximum.
//! A soft maximum with Adam stalls there (its temperature must fall below the
//! gaps between the tied entries, and then its gradient is ill-conditioned).
//! The prox-linear method (Drusvyatskiy and Lewis; it is sequential linear
//! programming with a quadratic instead of a box trust region) instead solves,
//! at each point `x`, the convex model
//!
//! ```text
//!   minimise over d in D:  max_k ( F_k(x) + (J d)_k ) + |d|^2 / (2 rho)
//!   D = { lo - x_i <= d_i <= hi - x_i, sum d = 0 },   J = dF/dx at x
//! ```
//!
//! and takes the step when the true maximum falls. Its dual is smooth and lives
//! on the simplex of lag weights `lambda`:
//!
//! ```text
//!   phi(lambda) = lambda . F + min over d in D of ( (J^T lambda) . d + |d|^2 / (2 rho) )
//!   d(lambda)_i = clamp( -rho (g_i + nu), lo - x_i, hi - x_i ),  g = J^T lambda,
//!                 nu such that sum d = 0
//!   grad phi    = F + J d(lambda),   Lipschitz with constant rho |J|^2
//! ```
//!
//! so accelerated projected gradient ascent (FISTA with adaptive restart)
//! solves it with one `J d` and one `J^T lambda` per iteration: for the
//! convolution maps here two FFTs, O(n log n), where a simplex LP on the
//! hundreds of near-active rows costs seconds per step. The primal model is
//! strongly convex, so `d(lambda)` converges with the dual; the duality gap
//! says when to stop. Lag weights are kept from one step to the next (the
//! active lags change slowly), which is most of the speed.

/// A vector map `F` and its Jacobian at the last point given to [`values`](Self::values).
pub trait Linearized {
    /// `F(x)`, every entry; later `apply` calls linearise at this `x`.
    fn values(&mut self, x: &[f64]) -> Vec<f64>;
    /// `J d` (length `F.len()`).
    fn apply(&mut self, d: &[f64]) -> Vec<f64>;
    /// `J^T lambda` (length `x.len()`).
    fn apply_transpose(&mut self, lambda: &[f64]) -> Vec<f64>;
}

/// Settings of [`prox_linear`]. `iterations` is the work budget: dual
/// iterations in all (each one `apply` and one `apply_transpose`), which is how
/// `refine`'s effort is counted.
#[derive(Clone, Copy, Debug)]
pub struct ProxLinear {
    /// Bounds every `x_i` keeps.
    pub lo: f64,
    pub hi: f64,
    /// First prox parameter, as a step length relative to the mean `|x_i|`.
    pub step: f64,
    /// Dual iterations in all.
    pub iterations: usize,
    /// Dual iterations at most per step.
    pub per_step: usize,
    /// The first lag weights: a soft maximum of `F` at this temperature
    /// relative to `max F` (0: all weight on the largest entry). After a
    /// soft-maximum optimiser these are close to the optimal multipliers,
    /// which saves most of the first model's iterations.
    pub temperature: f64,
}

/// What [`prox_linear`] did: for progress reports and tests.
#[derive(Clone, Debug, PartialEq)]
pub struct ProxReport {
    pub start: f64,
    pub end: f64,
    pub steps_taken: usize,
    pub steps_refused: usize,
    pub iterations: usize,
}

/// Minimise `max_k F_k(x)` from `x0` (which must lie in the box) keeping
/// `sum x` and the box. Returns the best point and a report; the point is
/// never worse than `x0` by `F`'s own values.
pub fn prox_linear<M: Linearized + ?Sized>(x0: &[f64], model: &mut M, settings: ProxLinear) -> (Vec<f64>, ProxReport) {
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut f = model.values(&x);
    let mut top = max_of(&f);
    let mut report = ProxReport { start: top, end: top, steps_taken: 0, steps_refused: 0, iterations: 0 };
    if n == 0 || f.is_empty() {
        return (x, report);
    }
    let norm = operator_norm(model, n);
    if norm.is_nan() || norm <= 0.0 {
        return (x, report);
    }
    let mean = x.iter().map(|v| v.abs()).sum::<f64>() / n as f64;
    // rho such that a typical step moves entries by about `step * mean`: a
    // dual gradient of size |J| / n per entry times rho.
    let mut rho = settings.step * mean.max(f64::MIN_POSITIVE) * n as f64 / norm;
    let mut lambda = first_weights(&f, settings.temperature);
    while report.iterations < settings.iterations && rho > 1e-14 * mean * n as f64 / norm {
        let budget = settings.per_step.min(settings.iterations - report.iterations);
        let sub = solve_model(model, &x, &f, &mut lambda, rho, norm, settings.lo, settings.hi, budget);
        report.iterations += sub.iterations;
        let trial: Vec<f64> = x.iter().zip(&sub.d).map(|(v, d)| (v + d).clamp(settings.lo, settings.hi)).collect();
        let trial_f = model.values(&trial);
        let trial_top = max_of(&trial_f);
        let predicted = top - sub.model_max;
        if trial_top < top {
            // Grow the step when the model predicted the decrease well.
            if top - trial_top > 0.5 * predicted {
                rho *= 2.0;
            }
            (x, f, top) = (trial, trial_f, trial_top);
            report.steps_taken += 1;
        } else {
            model.values(&x); // linearise at x again
            rho *= 0.25;
            report.steps_refused += 1;
        }
    }
    report.end = top;
    (x, report)
}

/// The solution of one model, from the dual.
struct ModelStep {
    d: Vec<f64>,
    /// `max_k (F + J d)_k`: the linear model's maximum after the step.
    model_max: f64,
    iterations: usize,
}

/// FISTA ascent on `phi` from `lambda` (updated in place), stopping when the
/// duality gap is below a tenth of the model's predicted decrease.
#[allow(clippy::too_many_arguments)]
fn solve_model<M: Linearized + ?Sized>(
    model: &mut M,
    x: &[f64],
    f: &[f64],
    lambda: &mut Vec<f64>,
    rho: f64,
    norm: f64,
    lo: f64,
    hi: f64,
    max_iters: usize,
) -> ModelStep {
    let lipschitz = rho * norm * norm;
    let top = max_of(f);
    let mut y = lambda.clone();
    let mut momentum = 1.0f64;
    let mut iterations = 0;
    let mut nu = 0.0;
    loop {
        // Gradient at the extrapolated point y.
        let g = model.apply_transpose(&y);
        let d = best_step(&g, x, rho, lo, hi, &mut nu);
        let jd = model.apply(&d);
        iterations += 1;
        let mut next: Vec<f64> = y.iter().zip(f).zip(&jd).map(|((l, fk), j)| l + (fk + j) / lipschitz).collect();
        project_simplex(&mut next);
        let t_next = 0.5 * (1.0 + (1.0 + 4.0 * momentum * momentum).sqrt());
        // Adaptive restart (O'Donoghue and Candes): drop the momentum when the
        // step went against the gradient.
        let along: f64 = next.iter().zip(lambda.iter()).zip(f.iter().zip(&jd)).map(|((a, b), (fk, j))| (a - b) * (fk + j)).sum();
        if along < 0.0 {
            y.clone_from(&next);
            momentum = 1.0;
        } else {
            let beta = (momentum - 1.0) / t_next;
            y = next.iter().zip(lambda.iter()).map(|(a, b)| a + beta * (a - b)).collect();
            momentum = t_next;
        }
        *lambda = next;
        if iterations % 20 == 0 || iterations >= max_iters {
            // Gap between the primal model at d(lambda) and phi(lambda).
            let g = model.apply_transpose(lambda);
            let d = best_step(&g, x, rho, lo, hi, &mut nu);
            let jd = model.apply(&d);
            let prox = d.iter().map(|v| v * v).sum::<f64>() / (2.0 * rho);
            let model_max = f.iter().zip(&jd).map(|(a, b)| a + b).fold(f64::NEG_INFINITY, f64::max);
            let primal = model_max + prox;
            let dual = lambda.iter().zip(f).map(|(l, v)| l * v).sum::<f64>() + dot(&g, &d) + prox;
            let decrease = top - primal;
            if iterations >= max_iters || primal - dual <= 0.1 * decrease.max(0.0) + 1e-15 * top.abs() {
                return ModelStep { d, model_max, iterations };
            }
        }
    }
}

/// `d_i = clamp(-rho (g_i + nu), lo - x_i, hi - x_i)` with `nu` found by
/// bisection so that `sum d = 0` (the sum of a clamped, decreasing function of
/// `nu`); `nu` carries the last value as a first guess for the bracket.
fn best_step(g: &[f64], x: &[f64], rho: f64, lo: f64, hi: f64, nu: &mut f64) -> Vec<f64> {
    let at = |nu: f64| -> f64 { g.iter().zip(x).map(|(gi, xi)| (-rho * (gi + nu)).clamp(lo - xi, hi - xi)).sum() };
    // sum_at is non-increasing in nu: positive left of the root.
    let (mut a, mut b) = (*nu, *nu);
    let mut width = 1e-6 * (1.0 + nu.abs());
    while at(a) < 0.0 {
        a -= width;
        width *= 2.0;
    }
    width = 1e-6 * (1.0 + nu.abs());
    while at(b) > 0.0 {
        b += width;
        width *= 2.0;
    }
    for _ in 0..100 {
        let mid = 0.5 * (a + b);
        if mid <= a || mid >= b {
            break;
        }
        if at(mid) > 0.0 {
            a = mid;
        } else {
            b = mid;
        }
    }
    *nu = 0.5 * (a + b);
    let mut d: Vec<f64> = g.iter().zip(x).map(|(gi, xi)| (-rho * (gi + *nu)).clamp(lo - xi, hi - xi)).collect();
    // The bisection leaves a residual of about one rounding per entry; put it
    // on the entry with the most room so the sum is kept exactly enough.
    let residual: f64 = d.iter().sum();
    if let Some(i) = (0..d.len()).max_by(|&i, &j| room(&d, x, i, lo, hi, residual).total_cmp(&room(&d, x, j, lo, hi, residual))) {
        d[i] -= residual.clamp(d[i] - (hi - x[i]), d[i] - (lo - x[i]));
    }
    d
}

/// How far `d_i` can move against `residual` inside its bounds.
fn room(d: &[f64], x: &[f64], i: usize, lo: f64, hi: f64, residual: f64) -> f64 {
    if residual > 0.0 { d[i] - (lo - x[i]) } else { (hi - x[i]) - d[i] }
}

/// Euclidean projection onto the probability simplex (sort-based, O(m log m)).
pub fn project_simplex(v: &mut [f64]) {
    let mut sorted = v.to_vec();
    sorted.sort_unstable_by(|a, b| b.total_cmp(a));
    let (mut cumulative, mut shift) = (0.0, 0.0);
    for (k, &u) in sorted.iter().enumerate() {
        cumulative += u;
        let t = (cumulative - 1.0) / (k + 1) as f64;
        if u > t {
            shift = t;
        } else {
            break;
        }
    }
    v.iter_mut().for_each(|x| *x = (*x - shift).max(0.0));
}

/// `|J|_2` by power iteration on `J^T J` (20 rounds), padded by 10 % so that
/// `1 / (rho |J|^2)` is a safe step.
fn operator_norm<M: Linearized + ?Sized>(model: &mut M, n: usize) -> f64 {
    let mut v: Vec<f64> = (0..n).map(|i| 1.0 + 0.1 * ((i * 7919 % 13) as f64)).collect();
    let mut estimate = 0.0;
    for _ in 0..20 {
        let norm = dot(&v, &v).sqrt();
        if norm.is_nan() || norm <= 0.0 {
            return 0.0;
        }
        v.iter_mut().for_each(|x| *x /= norm);
        let jv = model.apply(&v);
        estimate = dot(&jv, &jv).sqrt();
        v = model.apply_transpose(&jv);
    }
    1.1 * estimate
}

/// Softmax of `f / (temperature * |max f|)`, or the indicator of the largest entry.
fn first_weights(f: &[f64], temperature: f64) -> Vec<f64> {
    let scale = temperature * max_of(f).abs();
    let mut w = vec![0.0; f.len()];
    if scale.is_nan() || scale <= 0.0 {
        w[argmax(f)] = 1.0;
    } else {
        crate::optimize::soft_max(f, scale, &mut w);
    }
    w
}

fn max_of(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

fn argmax(v: &[f64]) -> usize {
    (0..v.len()).max_by(|&i, &j| v[i].total_cmp(&v[j])).unwrap_or(0)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// F(x) = A x for a small dense A: the model is exact, so the minimax
    /// optimum of a linear map over the box and the sum is an LP we can solve
    /// by enumeration in 2-D.
    struct Dense {
        rows: Vec<Vec<f64>>,
    }

    impl Linearized for Dense {
        fn values(&mut self, x: &[f64]) -> Vec<f64> {
            self.rows.iter().map(|r| dot(r, x)).collect()
        }
        fn apply(&mut self, d: &[f64]) -> Vec<f64> {
            self.values(d)
        }
        fn apply_transpose(&mut self, lambda: &[f64]) -> Vec<f64> {
            let n = self.rows[0].len();
            (0..n).map(|j| self.rows.iter().zip(lambda).map(|(r, l)| r[j] * l).sum()).collect()
        }
    }

    #[test]
    fn simplex_projection_matches_its_definition() {
        let mut v = [0.5, 1.2, -0.3, 0.4];
        project_simplex(&mut v);
        assert!((v.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        // The projection of v is max(v - t, 0) with one shift t: here the three
        // largest stay positive, t = (0.5 + 1.2 + 0.4 - 1) / 3 = 11/30.
        let expected = [0.5 - 11.0 / 30.0, 1.2 - 11.0 / 30.0, 0.0, 0.4 - 11.0 / 30.0];
        for (a, b) in v.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12, "{v:?}");
        }
        let mut inside = [0.25, 0.75];
        project_simplex(&mut inside);
        assert_eq!(inside, [0.25, 0.75]);
    }

    #[test]
    fn best_step_keeps_the_sum_and_the_box() {
        let x = [0.0, 0.5, 1.0, 0.9, 0.2];
        let g = [3.0, -1.0, 0.5, -2.0, 0.1];
        let mut nu = 0.0;
        for rho in [1e-3, 0.1, 10.0] {
            let d = best_step(&g, &x, rho, 0.0, 1.0, &mut nu);
            assert!(d.iter().sum::<f64>().abs() < 1e-14, "rho {rho}: {d:?}");
            for (xi, di) in x.iter().zip(&d) {
                assert!((0.0..=1.0).contains(&(xi + di)), "rho {rho}: {d:?}");
            }
            // Optimality: entries strictly inside the box share one nu.
            let free: Vec<f64> = (0..5).filter(|&i| x[i] + d[i] > 1e-12 && x[i] + d[i] < 1.0 - 1e-12).map(|i| -d[i] / rho - g[i]).collect();
            for w in free.windows(2) {
                assert!((w[0] - w[1]).abs() < 1e-9, "rho {rho}: {free:?}");
            }
        }
    }

    #[test]
    fn reaches_the_lp_optimum_of_a_linear_minimax() {
        // minimise max(x0 - x1, x1 - x0, 2 x0 + x1 - 3.5 + ..) over [0, 2]^3 with
        // sum 3: rows are linear, so the prox-linear steps solve the LP
        // min max_k (A x)_k exactly in the limit. Optimum by brute force on a grid
        // refined around the best point.
        let rows = vec![vec![1.0, -1.0, 0.0], vec![-1.0, 1.0, 0.5], vec![2.0, 1.0, -1.0], vec![0.0, -0.5, 1.0]];
        let value = |x: &[f64]| rows.iter().map(|r| dot(r, x)).fold(f64::NEG_INFINITY, f64::max);
        let mut best = f64::INFINITY;
        let steps = 600;
        for i in 0..=steps {
            for j in 0..=steps {
                let (a, b) = (2.0 * i as f64 / steps as f64, 2.0 * j as f64 / steps as f64);
                let c = 3.0 - a - b;
                if (0.0..=2.0).contains(&c) {
                    best = best.min(value(&[a, b, c]));
                }
            }
        }
        let mut model = Dense { rows: rows.clone() };
        let settings = ProxLinear { lo: 0.0, hi: 2.0, step: 0.1, iterations: 20_000, per_step: 2_000, temperature: 0.0 };
        let (x, report) = prox_linear(&[1.0, 1.0, 1.0], &mut model, settings);
        assert!((x.iter().sum::<f64>() - 3.0).abs() < 1e-12, "{x:?}");
        assert!(x.iter().all(|v| (0.0..=2.0).contains(v)), "{x:?}");
        assert!(report.end <= report.start && (report.end - value(&x)).abs() < 1e-15);
        // The grid's optimum is within its spacing (2/600, slope <= 3) of the LP's.
        assert!(report.end <= best + 1e-9 && report.end >= best - 0.011, "{} vs grid {best}", report.end);
    }

    #[test]
    fn refuses_steps_the_linearisation_oversells_and_never_ends_worse() {
        // F(x) = u + 50 u^2 with u = x0 - x1: the model sees only the slope, so
        // long steps look good and are not; the step must shrink until one is,
        // and the end is the true minimum along the line, u = -1/100.
        struct Curved(Vec<f64>);
        impl Linearized for Curved {
            fn values(&mut self, x: &[f64]) -> Vec<f64> {
                self.0 = x.to_vec();
                let u = x[0] - x[1];
                vec![u + 50.0 * u * u]
            }
            fn apply(&mut self, d: &[f64]) -> Vec<f64> {
                let u = self.0[0] - self.0[1];
                vec![(1.0 + 100.0 * u) * (d[0] - d[1])]
            }
            fn apply_transpose(&mut self, l: &[f64]) -> Vec<f64> {
                let u = self.0[0] - self.0[1];
                vec![(1.0 + 100.0 * u) * l[0], -(1.0 + 100.0 * u) * l[0]]
            }
        }
        let mut model = Curved(Vec::new());
        let settings = ProxLinear { lo: 0.0, hi: 1.0, step: 0.5, iterations: 2_000, per_step: 50, temperature: 0.0 };
        let (x, report) = prox_linear(&[0.5, 0.5], &mut model, settings);
        assert!(report.steps_refused > 0, "{report:?}");
        assert!(report.end < report.start, "{report:?}");
        assert_eq!(report.end, model.values(&x)[0]);
        assert!((x[0] - x[1] + 0.01).abs() < 1e-4, "{x:?}");
        assert!((x[0] + x[1] - 1.0).abs() < 1e-14, "{x:?}");
    }
}
