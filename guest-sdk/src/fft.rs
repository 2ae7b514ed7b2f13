//! Convolutions in O(n log n) by the fast Fourier transform, for optimisers.
//!
//! The verifiers keep their exact direct sums (`math::self_convolution`): a
//! score must not depend on rounding that grows with log n. Inside `refine` the
//! same numbers are needed thousands of times per rollout, and at the
//! resolutions the records use (1 000 to 100 000 steps) the direct O(n^2) sum
//! is what limits how far an optimiser gets; these agree with it to about
//! 1e-15 of the largest entry (tested to 1e-12).
//!
//! The transform is an iterative radix-2 Cooley-Tukey on split real and
//! imaginary arrays. Twiddle factors come from one table of `cos`/`sin` of
//! `2 pi j / N`, each evaluated directly rather than by repeated rotation, which
//! is what keeps the error at the level of one rounding per butterfly.

use std::f64::consts::PI;

/// A reusable plan for transforms of one power-of-two length: the twiddle
/// table and the bit-reversal permutation. Build once per length; `Fft` holds
/// its scratch, so repeated convolutions allocate nothing.
#[derive(Clone, Debug)]
pub struct Fft {
    n: usize,
    cos: Vec<f64>,
    sin: Vec<f64>,
    rev: Vec<u32>,
    re: Vec<f64>,
    im: Vec<f64>,
}

impl Fft {
    /// A plan for length `n`, rounded up to a power of two (at least 1).
    pub fn new(n: usize) -> Fft {
        let n = n.max(1).next_power_of_two();
        let half = n / 2;
        let cos = (0..half).map(|j| (2.0 * PI * j as f64 / n as f64).cos()).collect();
        let sin = (0..half).map(|j| (2.0 * PI * j as f64 / n as f64).sin()).collect();
        let bits = n.trailing_zeros();
        let rev = (0..n as u32).map(|i| if bits == 0 { 0 } else { i.reverse_bits() >> (32 - bits) }).collect();
        Fft { n, cos, sin, rev, re: vec![0.0; n], im: vec![0.0; n] }
    }

    /// The transform length (a power of two).
    pub fn len(&self) -> usize {
        self.n
    }

    /// In-place transform of `(re, im)`: forward is `X_k = sum_j x_j e^{-2 pi i jk/N}`;
    /// the inverse uses `e^{+...}` and divides by N.
    fn transform(&self, re: &mut [f64], im: &mut [f64], inverse: bool) {
        let n = self.n;
        for i in 0..n {
            let j = self.rev[i] as usize;
            if i < j {
                re.swap(i, j);
                im.swap(i, j);
            }
        }
        let sign = if inverse { 1.0 } else { -1.0 };
        let mut len = 2;
        while len <= n {
            let stride = n / len;
            for start in (0..n).step_by(len) {
                for k in 0..len / 2 {
                    let (wr, wi) = (self.cos[k * stride], sign * self.sin[k * stride]);
                    let (a, b) = (start + k, start + k + len / 2);
                    let (xr, xi) = (re[b] * wr - im[b] * wi, re[b] * wi + im[b] * wr);
                    re[b] = re[a] - xr;
                    im[b] = im[a] - xi;
                    re[a] += xr;
                    im[a] += xi;
                }
            }
            len *= 2;
        }
        if inverse {
            let scale = 1.0 / n as f64;
            re.iter_mut().for_each(|v| *v *= scale);
            im.iter_mut().for_each(|v| *v *= scale);
        }
    }

    /// The cyclic convolution of `a` and `b` (each at most `len()` long, zero
    /// padded), left in the scratch `re`.
    ///
    /// Both real inputs go into one complex transform (`a + i b`); their spectra
    /// are separated by conjugate symmetry, multiplied, and transformed back.
    fn cyclic(&mut self, a: &[f64], b: &[f64]) {
        let n = self.n;
        // Out of `self` while `transform` borrows the plan; put back at the end.
        let (mut re, mut im) = (std::mem::take(&mut self.re), std::mem::take(&mut self.im));
        re.iter_mut().for_each(|v| *v = 0.0);
        im.iter_mut().for_each(|v| *v = 0.0);
        re[..a.len()].copy_from_slice(a);
        im[..b.len()].copy_from_slice(b);
        self.transform(&mut re, &mut im, false);
        // Z = A + iB with A, B the spectra of real signals:
        // A_k = (Z_k + conj Z_{-k}) / 2, B_k = (Z_k - conj Z_{-k}) / 2i, and the
        // product P_k = A_k B_k; P_{-k} = conj P_k, so compute each pair once.
        for k in 0..=n / 2 {
            let m = (n - k) % n;
            let (zr, zi, yr, yi) = (re[k], im[k], re[m], -im[m]); // y = conj Z_{-k}
            let (ar, ai) = (0.5 * (zr + yr), 0.5 * (zi + yi));
            let (br, bi) = (0.5 * (zi - yi), -0.5 * (zr - yr));
            let (pr, pi) = (ar * br - ai * bi, ar * bi + ai * br);
            re[k] = pr;
            im[k] = pi;
            re[m] = pr;
            im[m] = -pi;
        }
        self.transform(&mut re, &mut im, true);
        (self.re, self.im) = (re, im);
    }

    /// The linear convolution `(a * b)_k = sum_{i + j = k} a_i b_j`, length
    /// `a.len() + b.len() - 1` (empty if either is). Needs
    /// `a.len() + b.len() - 1 <= self.len()`.
    pub fn convolve(&mut self, a: &[f64], b: &[f64]) -> Vec<f64> {
        if a.is_empty() || b.is_empty() {
            return Vec::new();
        }
        let out_len = a.len() + b.len() - 1;
        assert!(out_len <= self.n, "a convolution of length {out_len} needs a plan of at least that length, not {}", self.n);
        self.cyclic(a, b);
        self.re[..out_len].to_vec()
    }

    /// `r_j = sum_i w_{i + j} a_i` for `j` in `0..a.len()` (entries past the
    /// end of `w` are zero): the correlation behind the gradient of
    /// `sum_k w_k (a * a)_k`, which is `2 r`. Needs
    /// `self.len() >= max(w.len(), 2 a.len() - 1)`: the wanted entries of the
    /// cyclic convolution are then clear of the wrapped-around ones.
    pub fn correlate(&mut self, w: &[f64], a: &[f64]) -> Vec<f64> {
        let n = a.len();
        if n == 0 {
            return Vec::new();
        }
        assert!(
            w.len() <= self.n && 2 * n - 1 <= self.n,
            "correlating {} weights with {n} values needs a plan of at least {}, not {}",
            w.len(),
            w.len().max(2 * n - 1),
            self.n
        );
        // With a' = reversed a: (w * a')_{j + n - 1} = sum_i w_{j + i} a_i. The
        // linear result has length |w| + n - 1; entries from N on wrap to
        // k - N <= |w| + n - 2 - N < n - 1, below the ones wanted.
        let reversed: Vec<f64> = a.iter().rev().copied().collect();
        self.cyclic(w, &reversed);
        self.re[n - 1..2 * n - 1].to_vec()
    }
}

/// `a * a` by FFT, with a plan made for it. For repeated calls keep an [`Fft`].
pub fn self_convolution_fft(a: &[f64]) -> Vec<f64> {
    if a.is_empty() {
        return Vec::new();
    }
    Fft::new(2 * a.len() - 1).convolve(a, a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::{self_convolution, Rng};

    fn direct(a: &[f64], b: &[f64]) -> Vec<f64> {
        let mut c = vec![0.0; a.len() + b.len() - 1];
        for (i, x) in a.iter().enumerate() {
            for (j, y) in b.iter().enumerate() {
                c[i + j] += x * y;
            }
        }
        c
    }

    /// Largest entry-wise difference, relative to the largest entry: the
    /// error of an FFT convolution is spread evenly over the output, so this
    /// is the meaningful measure (tiny tail entries have large relative error).
    fn relative_error(fast: &[f64], exact: &[f64]) -> f64 {
        assert_eq!(fast.len(), exact.len());
        let top = exact.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        fast.iter().zip(exact).fold(0.0f64, |m, (f, e)| m.max((f - e).abs())) / top
    }

    #[test]
    fn self_convolution_matches_the_direct_sum_to_1e_12() {
        let mut rng = Rng::new(11);
        for n in [1, 2, 3, 5, 64, 600, 1319, 4096, 30_000] {
            let a: Vec<f64> = (0..n).map(|i| if i % 7 == 2 { 0.0 } else { rng.uniform(0.0, 3.0) }).collect();
            let err = relative_error(&self_convolution_fft(&a), &self_convolution(&a));
            assert!(err < 1e-12, "n = {n}: relative error {err:e}");
        }
        assert!(self_convolution_fft(&[]).is_empty());
    }

    #[test]
    fn convolution_of_two_sequences_and_correlation_match_direct_sums() {
        let mut rng = Rng::new(5);
        for (la, lb) in [(1, 1), (3, 8), (100, 37), (513, 1025)] {
            let a: Vec<f64> = (0..la).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let b: Vec<f64> = (0..lb).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let mut plan = Fft::new(la + lb - 1);
            let err = relative_error(&plan.convolve(&a, &b), &direct(&a, &b));
            assert!(err < 1e-12, "{la} x {lb}: {err:e}");
            // The same plan again gives the same bits (its scratch is reset).
            assert_eq!(plan.convolve(&a, &b), plan.convolve(&a, &b));
        }
        for n in [1, 4, 99, 1000] {
            let a: Vec<f64> = (0..n).map(|_| rng.next_f64()).collect();
            let w: Vec<f64> = (0..2 * n - 1).map(|_| rng.next_f64()).collect();
            let exact: Vec<f64> = (0..n).map(|j| (0..n).map(|i| w[i + j] * a[i]).sum()).collect();
            let err = relative_error(&Fft::new(2 * n - 1).correlate(&w, &a), &exact);
            assert!(err < 1e-12, "n = {n}: {err:e}");
        }
    }

    #[test]
    fn a_plan_too_short_is_refused_plainly() {
        let result = std::panic::catch_unwind(|| Fft::new(4).convolve(&[1.0; 3], &[1.0; 3]));
        assert!(result.is_err());
        assert_eq!(Fft::new(5).len(), 8);
        assert_eq!(Fft::new(0).len(), 1);
    }
}
