//! Deterministic local optimisers for `refine`: L-BFGS for smooth unconstrained
//! (or penalised) objectives and projected Adam for objectives with simple
//! constraints (boxes, a fixed sum). Both count their work in iterations, which is
//! what `effort` means for the built-in problems, and neither allocates per step
//! beyond its start-up buffers.

/// Minimise `f` from `x` with L-BFGS (history `memory`) and a backtracking Armijo
/// line search, for at most `max_iters` iterations. `f(x, grad)` returns the value
/// and writes the gradient. Stops early when the gradient's largest entry is below
/// `gtol` or no step decreases `f`. Returns the final value; `x` holds the point.
pub fn lbfgs(
    x: &mut [f64],
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    memory: usize,
    max_iters: usize,
    gtol: f64,
) -> f64 {
    let n = x.len();
    let mut g = vec![0.0; n];
    let mut fx = f(x, &mut g);
    let (mut s_hist, mut y_hist, mut rho): (Vec<Vec<f64>>, Vec<Vec<f64>>, Vec<f64>) =
        (Vec::new(), Vec::new(), Vec::new());
    let (mut d, mut x_new, mut g_new) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut alpha = vec![0.0; memory];
    for _ in 0..max_iters {
        if g.iter().fold(0.0f64, |m, v| m.max(v.abs())) < gtol {
            break;
        }
        // Two-loop recursion: d = -H g.
        d.copy_from_slice(&g);
        for k in (0..s_hist.len()).rev() {
            alpha[k] = rho[k] * dot(&s_hist[k], &d);
            axpy(&mut d, -alpha[k], &y_hist[k]);
        }
        if let (Some(s), Some(y)) = (s_hist.last(), y_hist.last()) {
            let gamma = dot(s, y) / dot(y, y);
            d.iter_mut().for_each(|v| *v *= gamma);
        } else {
            // First step: a unit-length move along -g, a scale-free guess.
            let norm = dot(&g, &g).sqrt().max(1e-300);
            d.iter_mut().for_each(|v| *v /= norm);
        }
        for k in 0..s_hist.len() {
            let beta = rho[k] * dot(&y_hist[k], &d);
            axpy(&mut d, alpha[k] - beta, &s_hist[k]);
        }
        d.iter_mut().for_each(|v| *v = -*v);
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            // Not a descent direction (bad curvature pairs): restart from -g.
            s_hist.clear();
            y_hist.clear();
            rho.clear();
            d.iter_mut().zip(&g).for_each(|(di, gi)| *di = -gi);
            slope = -dot(&g, &g);
        }
        // Backtracking line search with the Armijo condition.
        let mut step = 1.0;
        let mut accepted = None;
        for _ in 0..40 {
            for i in 0..n {
                x_new[i] = x[i] + step * d[i];
            }
            let f_new = f(&x_new, &mut g_new);
            if f_new <= fx + 1e-4 * step * slope {
                accepted = Some(f_new);
                break;
            }
            step *= 0.5;
        }
        let Some(f_new) = accepted else { break };
        let s: Vec<f64> = x_new.iter().zip(x.iter()).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        x.copy_from_slice(&x_new);
        g.copy_from_slice(&g_new);
        fx = f_new;
        // Keep only pairs with positive curvature, so H stays positive definite.
        if sy > 1e-12 * dot(&y, &y).sqrt() * dot(&s, &s).sqrt() {
            if s_hist.len() == memory {
                s_hist.remove(0);
                y_hist.remove(0);
                rho.remove(0);
            }
            s_hist.push(s);
            y_hist.push(y);
            rho.push(1.0 / sy);
        }
    }
    fx
}

/// Minimise `f` with Adam (step size `lr`, the usual 0.9 / 0.999 moments) and
/// project after every step with `project`. `f(x, grad)` returns the value of a
/// smooth surrogate and writes its gradient; `score(x)` is the true objective
/// (smaller is better). Returns the point with the best true score seen,
/// including the start, so refining never makes a solution worse.
pub fn projected_adam(
    x0: &[f64],
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    mut project: impl FnMut(&mut [f64]),
    mut score: impl FnMut(&[f64]) -> f64,
    lr: f64,
    iters: usize,
) -> Vec<f64> {
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut best = (score(&x), x.clone());
    let (mut m, mut v, mut g) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let (b1, b2) = (0.9f64, 0.999f64);
    for t in 1..=iters {
        f(&x, &mut g);
        let (c1, c2) = (1.0 - b1.powi(t as i32), 1.0 - b2.powi(t as i32));
        for i in 0..n {
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
            x[i] -= lr * (m[i] / c1) / ((v[i] / c2).sqrt() + 1e-12);
        }
        project(&mut x);
        let s = score(&x);
        if s < best.0 {
            best = (s, x.clone());
        }
    }
    best.1
}

/// [`projected_adam`] in phases of falling temperature and step size:
/// `schedule` holds `(temperature, lr)` pairs, `iters` is split evenly over them,
/// and each phase starts from the best point of the one before. `f(x, t, grad)`
/// is a smooth surrogate at temperature `t` (a soft maximum, say).
pub fn anneal(
    x0: &[f64],
    iters: usize,
    schedule: &[(f64, f64)],
    mut f: impl FnMut(&[f64], f64, &mut [f64]) -> f64,
    mut project: impl FnMut(&mut [f64]),
    mut score: impl FnMut(&[f64]) -> f64,
) -> Vec<f64> {
    let per_phase = (iters / schedule.len().max(1)).max(1);
    let mut x = x0.to_vec();
    for &(t, lr) in schedule {
        x = projected_adam(&x, |x, g| f(x, t, g), &mut project, &mut score, lr, per_phase);
    }
    x
}

/// Project `x` onto `{ lo <= x_i <= hi, sum x = total }` (Euclidean), by
/// bisection on the shift `t` in `clamp(x_i - t, lo, hi)`. Needs
/// `n lo <= total <= n hi`.
pub fn project_box_sum(x: &mut [f64], lo: f64, hi: f64, total: f64) {
    let sum_at = |t: f64, x: &[f64]| x.iter().map(|v| (v - t).clamp(lo, hi)).sum::<f64>();
    let (min, max) = x.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let (mut a, mut b) = (min - hi, max - lo); // sum_at(a) = n hi, sum_at(b) = n lo
    for _ in 0..100 {
        let mid = 0.5 * (a + b);
        if sum_at(mid, x) > total {
            a = mid;
        } else {
            b = mid;
        }
    }
    let t = 0.5 * (a + b);
    x.iter_mut().for_each(|v| *v = (*v - t).clamp(lo, hi));
}

/// Softmax weights of `values / temperature` (max-shifted), written into `w`;
/// returns the smooth maximum `temperature * ln sum exp(values / temperature)`.
pub fn soft_max(values: &[f64], temperature: f64, w: &mut Vec<f64>) -> f64 {
    let top = values.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    w.clear();
    w.extend(values.iter().map(|v| ((v - top) / temperature).exp()));
    let z: f64 = w.iter().sum();
    w.iter_mut().for_each(|v| *v /= z);
    top + temperature * z.ln()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn axpy(out: &mut [f64], t: f64, x: &[f64]) {
    out.iter_mut().zip(x).for_each(|(o, v)| *o += t * v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lbfgs_finds_the_minimum_of_rosenbrock() {
        let mut x = [-1.2, 1.0];
        let f = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (1.0 - x[0], x[1] - x[0] * x[0]);
            g[0] = -2.0 * a - 400.0 * x[0] * b;
            g[1] = 200.0 * b;
            a * a + 100.0 * b * b
        };
        let value = lbfgs(&mut x, f, 8, 200, 1e-10);
        assert!(value < 1e-12, "{value}");
        assert!((x[0] - 1.0).abs() < 1e-6 && (x[1] - 1.0).abs() < 1e-6, "{x:?}");
    }

    #[test]
    fn box_sum_projection_hits_the_sum_and_the_box() {
        let mut x = [0.2, 1.7, -0.4, 0.5, 0.9];
        project_box_sum(&mut x, 0.0, 1.0, 2.5);
        assert!((x.iter().sum::<f64>() - 2.5).abs() < 1e-12);
        assert!(x.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(x[1], 1.0);
        assert_eq!(x[2], 0.0);
    }

    #[test]
    fn projected_adam_never_returns_worse_than_the_start() {
        // A surrogate that points the wrong way: the best point is the start.
        let x0 = [0.3, 0.7];
        let out = projected_adam(
            &x0,
            |_, g| {
                g.iter_mut().for_each(|v| *v = -1.0);
                0.0
            },
            |_| {},
            |x| x.iter().map(|v| v * v).sum(),
            0.1,
            20,
        );
        assert_eq!(out, x0);
    }

    #[test]
    fn soft_max_is_between_max_and_max_plus_t_ln_n() {
        let mut w = Vec::new();
        let v = [1.0, 3.0, 2.0];
        let s = soft_max(&v, 0.1, &mut w);
        assert!(s >= 3.0 && s <= 3.0 + 0.1 * 3f64.ln());
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(w[1] > w[2] && w[2] > w[0]);
    }
}
