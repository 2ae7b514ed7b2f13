//! Small numeric helpers that many problems need. Deterministic and allocation-light.

/// The full discrete self-convolution `c = a * a`, of length `2n - 1`
/// (`c_k = sum_{i + j = k} a_i a_j`). Empty input gives an empty output.
///
/// Uses the symmetry `a_i a_j = a_j a_i` to do half the products, and skips zero
/// entries (sparse step functions are common); both leave the result equal to the
/// textbook sum up to rounding in the last bits. The inner loop is a plain
/// `axpy` so that it vectorises both natively and in Wasm (simd128).
pub fn self_convolution(a: &[f64]) -> Vec<f64> {
    let n = a.len();
    if n == 0 {
        return Vec::new();
    }
    let mut c = vec![0.0; 2 * n - 1];
    for i in 0..n {
        let ai = a[i];
        if ai == 0.0 {
            continue;
        }
        c[2 * i] += ai * ai;
        axpy(&mut c[2 * i + 1..i + n], 2.0 * ai, &a[i + 1..]);
    }
    c
}

/// `out[k] += t * x[k]`, element by element (no fused multiply-add), so every
/// target computes the same bits.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn axpy(out: &mut [f64], t: f64, x: &[f64]) {
    for (o, &xk) in out.iter_mut().zip(x) {
        *o += t * xk;
    }
}

/// The same loop written with Wasm SIMD, four vectors per iteration: Cranelift
/// does not unroll, and LLVM's vectoriser leaves this loop scalar for wasm32,
/// which made the convolution five times slower than native.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn axpy(out: &mut [f64], t: f64, x: &[f64]) {
    use core::arch::wasm32::{f64x2_add, f64x2_mul, f64x2_splat, v128, v128_load, v128_store};
    let n = out.len().min(x.len());
    let tv = f64x2_splat(t);
    let mut k = 0;
    while k + 8 <= n {
        // SAFETY: k + 8 <= n bounds every 16-byte access below; Wasm loads and
        // stores need no alignment.
        unsafe {
            let o = out.as_mut_ptr().add(k) as *mut v128;
            let xs = x.as_ptr().add(k) as *const v128;
            for lane in 0..4 {
                let (o, xs) = (o.add(lane), xs.add(lane));
                v128_store(o, f64x2_add(v128_load(o), f64x2_mul(tv, v128_load(xs))));
            }
        }
        k += 8;
    }
    for (o, &xk) in out[k..n].iter_mut().zip(&x[k..n]) {
        *o += t * xk;
    }
}

/// The index and value of the first non-finite entry, if any.
pub fn first_non_finite(values: &[f64]) -> Option<(usize, f64)> {
    values.iter().copied().enumerate().find(|(_, v)| !v.is_finite())
}

/// A number for a message: plain notation for ordinary magnitudes, scientific for
/// tiny or huge ones (`0.25`, `-1e-15`, `1.5e12`). Shortest round-trip digits.
pub fn show(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || !a.is_finite() || (1e-4..1e9).contains(&a) { format!("{v}") } else { format!("{v:e}") }
}

/// The first entry that is not a finite number in `[lo, hi]`, described for a
/// verdict: `"a[12] = -0.5 is below 0"`. `name` is how the entries are called.
pub fn check_range(values: &[f64], lo: f64, hi: f64, name: &str) -> Option<String> {
    values.iter().enumerate().find_map(|(i, &v)| {
        if !v.is_finite() {
            Some(format!("{name}[{i}] = {v} is not a finite number"))
        } else if v < lo {
            Some(format!("{name}[{i}] = {} is below {lo}", show(v)))
        } else if v > hi {
            Some(format!("{name}[{i}] = {} is above {hi}", show(v)))
        } else {
            None
        }
    })
}

/// Rules shared by the autocorrelation problems: a non-empty list of finite step
/// heights in `[0, max]` whose sum is at least `min_sum`.
pub fn check_step_heights(a: &[f64], max: f64, min_sum: f64) -> Option<String> {
    if a.is_empty() {
        return Some("the list of step heights is empty".to_string());
    }
    if let Some(reason) = check_range(a, 0.0, max, "a") {
        return Some(reason);
    }
    let sum: f64 = a.iter().sum();
    (sum < min_sum).then(|| format!("the heights sum to {}, below the minimum {min_sum}", show(sum)))
}

/// Project onto the rules of [`check_step_heights`]: clamp into `[0, max]`
/// (non-finite entries become 0); an empty or too-small result becomes all ones.
pub fn clamp_step_heights(values: &[f64], max: f64, min_sum: f64) -> Vec<f64> {
    let mut a: Vec<f64> =
        values.iter().map(|v| if v.is_finite() { v.clamp(0.0, max) } else { 0.0 }).collect();
    if a.iter().sum::<f64>() < min_sum {
        a = vec![1.0; a.len().max(1)];
    }
    a
}

/// Each step split into `factor` equal steps of the same height: the same
/// step function on a grid `factor` times finer. Bounds that depend only on the
/// function (the autocorrelation constants, the Erdos overlap) are unchanged,
/// so an optimiser can continue from here with more freedom.
pub fn upsample(a: &[f64], factor: usize) -> Vec<f64> {
    a.iter().flat_map(|&v| std::iter::repeat_n(v, factor.max(1))).collect()
}

/// A small deterministic generator (SplitMix64) for `initial(seed)` and tests.
/// Not for cryptography.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5851_f42d_4c95_7f2d)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }

    /// Uniform integer in [lo, hi] (inclusive).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f64]) -> Vec<f64> {
        let n = a.len();
        let mut c = vec![0.0; 2 * n - 1];
        for i in 0..n {
            for j in 0..n {
                c[i + j] += a[i] * a[j];
            }
        }
        c
    }

    #[test]
    fn convolution_matches_the_textbook_sum() {
        let mut rng = Rng::new(7);
        for n in [1, 2, 3, 17, 100] {
            let a: Vec<f64> =
                (0..n).map(|i| if i % 5 == 3 { 0.0 } else { rng.next_f64() }).collect();
            let fast = self_convolution(&a);
            let slow = naive(&a);
            assert_eq!(fast.len(), 2 * n - 1);
            for (f, s) in fast.iter().zip(&slow) {
                assert!((f - s).abs() <= 1e-14 * s.abs().max(1.0), "{f} vs {s}");
            }
        }
        assert!(self_convolution(&[]).is_empty());
    }

    #[test]
    fn upsampling_repeats_each_step() {
        assert_eq!(upsample(&[1.0, 2.0], 3), vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
        assert_eq!(upsample(&[1.0, 2.0], 0), vec![1.0, 2.0]);
        assert!(upsample(&[], 2).is_empty());
    }

    #[test]
    fn range_check_names_the_first_offender() {
        assert_eq!(check_range(&[0.5, 1.0, 0.0], 0.0, 1.0, "h"), None);
        assert_eq!(check_range(&[0.5, -0.5, 2.0], 0.0, 1.0, "a").unwrap(), "a[1] = -0.5 is below 0");
        assert_eq!(check_range(&[0.5, 1.5], 0.0, 1.0, "h").unwrap(), "h[1] = 1.5 is above 1");
        assert_eq!(check_range(&[f64::NAN], 0.0, 1.0, "h").unwrap(), "h[0] = NaN is not a finite number");
    }

    #[test]
    fn rng_is_deterministic_and_in_range() {
        let (mut a, mut b) = (Rng::new(3), Rng::new(3));
        for _ in 0..1000 {
            let x = a.next_f64();
            assert_eq!(x, b.next_f64());
            assert!((0.0..1.0).contains(&x));
            let k = a.range(40, 99);
            b.range(40, 99);
            assert!((40..=99).contains(&k));
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }
}
