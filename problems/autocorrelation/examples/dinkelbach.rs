//! Dinkelbach's parametric form for AC2 against the refine's log-ratio
//! surrogate, natively, at equal L-BFGS iterations, from the coarse starts:
//! `cargo run --release -p autocorrelation --example dinkelbach -- ITERATIONS`.
//!
//! C2 = N / D with N = 2 sum c^2 + sum c_k c_{k+1} and D = 3 S^2 max c. Each
//! phase fixes lambda at the current ratio and minimises -(N - lambda D) / D0,
//! the soft maximum standing in for max c at the phase's temperature, in
//! a = v^2; the refine instead minimises -ln N + ln D. Both have the same
//! stationary points where lambda equals the ratio; the curvature differs.
use autocorrelation::{lbfgs_refine_schedule, Ac2, Autocorrelation, Inequality};
use discover_guest::fft::Fft;
use discover_guest::optimize::{lbfgs, soft_max};
use discover_guest::{Problem, Solution};

const TEMPERATURES: [f64; 8] = [1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 1e-6, 1e-7, 1e-8];

/// N, D (with the soft maximum at relative temperature t) and their gradients in a.
fn parts(a: &[f64], t: f64, fft: &mut Fft) -> (f64, f64, Vec<f64>, Vec<f64>) {
    let c = fft.convolve(a, a);
    let m = c.len();
    let n_val = 2.0 * c.iter().map(|v| v * v).sum::<f64>() + c.windows(2).map(|w| w[0] * w[1]).sum::<f64>();
    let g_c: Vec<f64> =
        (0..m).map(|k| 4.0 * c[k] + if k > 0 { c[k - 1] } else { 0.0 } + if k + 1 < m { c[k + 1] } else { 0.0 }).collect();
    let grad_n: Vec<f64> = fft.correlate(&g_c, a).into_iter().map(|v| 2.0 * v).collect();
    let top = c.iter().fold(f64::MIN_POSITIVE, |x, &v| x.max(v));
    let mut w = Vec::new();
    let peak = soft_max(&c, t * top, &mut w);
    let s: f64 = a.iter().sum();
    let d_val = 3.0 * s * s * peak;
    let rw = fft.correlate(&w, a);
    let grad_d: Vec<f64> = rw.iter().map(|r| 3.0 * (2.0 * s * peak + s * s * 2.0 * r)).collect();
    (n_val, d_val, grad_n, grad_d)
}

fn dinkelbach(a: &[f64], iterations: usize) -> Vec<f64> {
    let n = a.len();
    let mut v: Vec<f64> = a.iter().map(|x| x.sqrt()).collect();
    let mut fft = Fft::new(2 * n - 1);
    let score = |a: &[f64]| Ac2::bound(a);
    let mut best = (score(a), a.to_vec());
    let per_phase = (iterations / TEMPERATURES.len()).max(1);
    // N - lambda D is homogeneous (degree 4 in a): without a normalisation
    // it is unbounded, so it is taken at a / sum(a) (Dinkelbach's problem on
    // the simplex), with the chain rule of the normalisation in the gradient.
    let normalised = |v: &[f64]| -> (Vec<f64>, f64) {
        let a: Vec<f64> = v.iter().map(|x| x * x).collect();
        let s: f64 = a.iter().sum();
        (a.iter().map(|x| x / s).collect(), s)
    };
    for &t in &TEMPERATURES {
        let (ah, _) = normalised(&v);
        let (n0, d0, _, _) = parts(&ah, t, &mut fft);
        let lambda = n0 / d0;
        lbfgs(
            &mut v,
            |v, g| {
                let (ah, s) = normalised(v);
                let (nv, dv, gn, gd) = parts(&ah, t, &mut fft);
                let grad: Vec<f64> = gn.iter().zip(&gd).map(|(x, y)| -(x - lambda * y) / d0).collect();
                let mean: f64 = grad.iter().zip(&ah).map(|(x, y)| x * y).sum();
                for j in 0..v.len() {
                    g[j] = (grad[j] - mean) / s * 2.0 * v[j];
                }
                -(nv - lambda * dv) / d0
            },
            8,
            per_phase,
            0.0,
        );
        let a_now: Vec<f64> = v.iter().map(|x| x * x).collect();
        let s = score(&a_now);
        if s > best.0 {
            best = (s, a_now);
        } else {
            v = best.1.iter().map(|x| x.sqrt()).collect();
        }
    }
    best.1
}

fn main() {
    let iterations: usize = std::env::args().nth(1).map(|a| a.parse().unwrap()).unwrap_or(1000);
    for seed in 0..8 {
        let a = Autocorrelation::<Ac2>::initial(seed).values;
        let t = std::time::Instant::now();
        let ratio = Ac2::bound(&lbfgs_refine_schedule::<Ac2>(&a, iterations, f64::INFINITY, &TEMPERATURES).0);
        let ratio_s = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        let dink = Ac2::bound(&dinkelbach(&a, iterations));
        let dink_s = t.elapsed().as_secs_f64();
        println!(
            "seed {seed} ({} steps): log-ratio {ratio:.10} ({ratio_s:.2} s)  dinkelbach {dink:.10} ({dink_s:.2} s)  {}",
            a.len(),
            if dink > ratio { "dinkelbach" } else { "log-ratio" }
        );
    }
    let _ = Autocorrelation::<Ac2>::evaluate(&Solution::new(vec![1.0]));
}
