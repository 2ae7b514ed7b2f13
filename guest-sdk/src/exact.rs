//! Exact arithmetic on the doubles a solution is made of.
//!
//! Every finite double is a dyadic rational `m * 2^e`. A vector of them, put on
//! one grid `2^E` (`E` the lowest set bit among its entries), is a vector of
//! integers times `2^E`; every bound the step-function problems compute
//! (sums, the self-convolution, correlations, their maxima and norms) is then a
//! ratio of integers in which `2^E` cancels. This module computes those
//! integers exactly and fast:
//!
//! - [`Grid`]: the integer form of a vector, refused (with the index and why)
//!   when its entries span more than [`MAX_GRID_BITS`] bits, because the cost
//!   grows with the span and no record needs more than 110.
//! - [`convolve`]: the exact (signed) convolution of two grids by
//!   number-theoretic transforms modulo up to [`PRIMES`]`.len()` primes below
//!   2^31, as many as the result's size needs, then Chinese remaindering
//!   (Garner) lag by lag. O(k n log n) for k primes; no rounding anywhere.
//! - [`Ratio`]: a score as `num / den`, rounded once, correctly, to the
//!   nearest double ([`Ratio::to_f64`]), with its decimal expansion to any
//!   number of digits ([`Ratio::decimal`]) and the two doubles that bracket it
//!   ([`Ratio::bracket`]).
//!
//! Why exact: a verifier that rounds can be farmed. Published records have
//! been accepted with overlaps of 9e-10 under a 1e-9 tolerance, and with sums
//! 6e-16 short of the target that passed only because a float sum rounded up.

use num_bigint::{BigInt, BigUint, Sign};

/// The widest span, in bits, of the entries of a [`Grid`]: from the top bit of
/// the largest magnitude to the lowest set bit of any entry. The record states
/// need at most 110 (the 90,000-step AC1 record); 160 keeps every result
/// within [`PRIMES`] at 2^21 steps.
pub const MAX_GRID_BITS: u32 = 160;

/// The longest convolution [`convolve`] computes: the transform length, 2^22.
pub const MAX_TRANSFORM: usize = 1 << 22;

/// Primes `p = c 2^22 + 1 < 2^31` with a primitive root: each supports a
/// transform of length up to 2^22. Twelve of them hold a signed result of
/// 2 * 160 + 21 + 1 bits. (A unit test checks primality and the roots.)
pub const PRIMES: [(u32, u32); 12] = [
    (2130706433, 3),
    (2113929217, 5),
    (2088763393, 5),
    (2025848833, 10),
    (2013265921, 31),
    (1866465281, 3),
    (1811939329, 13),
    (1790967809, 13),
    (1711276033, 29),
    (1572864001, 13),
    (1484783617, 5),
    (1438646273, 3),
];

/// Why a vector has no exact grid.
#[derive(Debug, Clone, PartialEq)]
pub enum GridError {
    /// An entry is NaN or infinite.
    NotFinite { index: usize, value: f64 },
    /// A nonzero entry is so much smaller than the largest that the span
    /// exceeds [`MAX_GRID_BITS`].
    TooFine { index: usize, value: f64, largest: f64 },
}

impl std::fmt::Display for GridError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GridError::NotFinite { index, value } => write!(f, "entry {index} = {value} is not a finite number"),
            GridError::TooFine { index, value, largest } => write!(
                f,
                "entry {index} = {value:e} is nonzero but more than 2^-{} below the largest magnitude {largest:e}, \
                 finer than exact scoring resolves: set it to 0 or raise it",
                MAX_GRID_BITS - 53
            ),
        }
    }
}

/// A vector of doubles as integers on one grid: `values[i] = int(i) * 2^exponent`.
#[derive(Debug, Clone)]
pub struct Grid {
    /// The grid: every entry is an integer multiple of `2^exponent`.
    pub exponent: i32,
    /// From the grid to the top bit of the largest magnitude.
    pub bits: u32,
    /// `int(i) = mantissa[i] << shift[i]` (the mantissa signed, at most 53 bits).
    mantissa: Vec<i64>,
    shift: Vec<u16>,
}

/// `v = m * 2^e` with `m` odd (or `v = 0`, returned as `(0, 0)`).
fn decompose(v: f64) -> (i64, i32) {
    if v == 0.0 {
        return (0, 0);
    }
    let bits = v.to_bits();
    let sign = if bits >> 63 == 1 { -1 } else { 1 };
    let raw_exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (mut m, mut e) = if raw_exp == 0 { (frac, -1074) } else { (frac | (1u64 << 52), raw_exp - 1075) };
    let tz = m.trailing_zeros();
    m >>= tz;
    e += tz as i32;
    (sign * m as i64, e)
}

impl Grid {
    /// The exact integer form of `values`, or why there is none.
    pub fn new(values: &[f64]) -> Result<Grid, GridError> {
        if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(GridError::NotFinite { index, value });
        }
        let parts: Vec<(i64, i32)> = values.iter().map(|&v| decompose(v)).collect();
        let nonzero = || parts.iter().filter(|(m, _)| *m != 0);
        let Some(low) = nonzero().map(|&(_, e)| e).min() else {
            return Ok(Grid { exponent: 0, bits: 0, mantissa: vec![0; values.len()], shift: vec![0; values.len()] });
        };
        // The top bit of m * 2^e is at e + bitlength(m) - 1.
        let top = |&(m, e): &(i64, i32)| e + (64 - m.unsigned_abs().leading_zeros()) as i32;
        let high = nonzero().map(top).max().unwrap();
        let bits = (high - low) as u32;
        if bits > MAX_GRID_BITS {
            // Name the entry that breaks the rule: the smallest-grid one.
            let largest = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let floor = high - MAX_GRID_BITS as i32;
            let index = parts.iter().position(|&(m, e)| m != 0 && e < floor).unwrap();
            return Err(GridError::TooFine { index, value: values[index], largest });
        }
        let shift = parts.iter().map(|&(m, e)| if m == 0 { 0 } else { (e - low) as u16 }).collect();
        Ok(Grid { exponent: low, bits, mantissa: parts.iter().map(|p| p.0).collect(), shift })
    }

    pub fn len(&self) -> usize {
        self.mantissa.len()
    }

    pub fn is_empty(&self) -> bool {
        self.mantissa.is_empty()
    }

    /// Entry `i` as an integer on the grid.
    pub fn int(&self, i: usize) -> BigInt {
        BigInt::from(self.mantissa[i]) << self.shift[i] as usize
    }

    /// The exact sum of the entries, on the grid.
    pub fn sum(&self) -> BigInt {
        // Sum the mantissas per shift in i128 (53 + 22 bits cannot overflow),
        // then combine the (at most MAX_GRID_BITS + 1) buckets.
        let mut buckets = vec![0i128; MAX_GRID_BITS as usize + 1];
        for (&m, &s) in self.mantissa.iter().zip(&self.shift) {
            buckets[s as usize] += m as i128;
        }
        buckets.iter().enumerate().rev().fold(BigInt::from(0), |acc, (s, &b)| acc + (BigInt::from(b) << s))
    }

    /// Prefix sums `P_0 = 0, P_j = sum of the first j entries`, on the grid.
    pub fn prefix_sums(&self) -> Vec<BigInt> {
        let mut out = Vec::with_capacity(self.len() + 1);
        let mut acc = BigInt::from(0);
        out.push(acc.clone());
        for i in 0..self.len() {
            acc += self.int(i);
            out.push(acc.clone());
        }
        out
    }

    /// The index of an entry of largest value (not magnitude); the first on ties.
    pub fn argmax(&self) -> Option<usize> {
        (0..self.len()).reduce(|best, i| if self.int(i) > self.int(best) { i } else { best })
    }

    /// The same entries in reverse order.
    pub fn reversed(&self) -> Grid {
        let mut g = self.clone();
        g.mantissa.reverse();
        g.shift.reverse();
        g
    }

    /// The entries modulo `field.p`, in Montgomery form, zero-padded to `len`.
    fn residues(&self, field: &Field, len: usize) -> Vec<u32> {
        let mut pow2 = Vec::with_capacity(MAX_GRID_BITS as usize + 1);
        let (two, mut x) = (field.to_mont(2), field.to_mont(1));
        for _ in 0..=MAX_GRID_BITS {
            pow2.push(x);
            x = field.mul(x, two);
        }
        let mut out = vec![0u32; len];
        for (i, (&m, &s)) in self.mantissa.iter().zip(&self.shift).enumerate() {
            let r = m.rem_euclid(field.p as i64) as u32;
            out[i] = field.mul(field.to_mont(r), pow2[s as usize]);
        }
        out
    }
}

/// Arithmetic modulo a prime below 2^31 in Montgomery form (R = 2^32): a
/// multiplication is two 32x32 -> 64 products and a shift, no division.
struct Field {
    p: u32,
    /// -p^-1 mod 2^32.
    neg_inv: u32,
    /// R^2 mod p.
    r2: u32,
    generator: u32,
}

impl Field {
    fn new(p: u32, generator: u32) -> Field {
        // Newton's iteration for p^-1 mod 2^32 (p odd): five steps double the bits.
        let mut inv: u32 = p;
        for _ in 0..5 {
            inv = inv.wrapping_mul(2u32.wrapping_sub(p.wrapping_mul(inv)));
        }
        let r = ((1u64 << 32) % p as u64) as u128;
        let r2 = ((r * r) % p as u128) as u32;
        Field { p, neg_inv: inv.wrapping_neg(), r2, generator }
    }

    #[inline]
    fn reduce(&self, t: u64) -> u32 {
        let m = (t as u32).wrapping_mul(self.neg_inv);
        let t = ((t + m as u64 * self.p as u64) >> 32) as u32;
        if t >= self.p { t - self.p } else { t }
    }

    #[inline]
    fn mul(&self, a: u32, b: u32) -> u32 {
        self.reduce(a as u64 * b as u64)
    }

    #[inline]
    fn add(&self, a: u32, b: u32) -> u32 {
        let s = a + b;
        if s >= self.p { s - self.p } else { s }
    }

    #[inline]
    fn sub(&self, a: u32, b: u32) -> u32 {
        if a >= b { a - b } else { a + self.p - b }
    }

    fn to_mont(&self, a: u32) -> u32 {
        self.mul(a, self.r2)
    }

    fn from_mont(&self, a: u32) -> u32 {
        self.reduce(a as u64)
    }

    fn pow(&self, base: u32, mut e: u64) -> u32 {
        let (mut acc, mut b) = (self.to_mont(1), base);
        while e > 0 {
            if e & 1 == 1 {
                acc = self.mul(acc, b);
            }
            b = self.mul(b, b);
            e >>= 1;
        }
        acc
    }

    /// In place, Montgomery form in and out; `a.len()` a power of two dividing 2^22.
    fn transform(&self, a: &mut [u32], inverse: bool) {
        let n = a.len();
        let mut j = 0;
        for i in 1..n {
            let mut bit = n >> 1;
            while j & bit != 0 {
                j ^= bit;
                bit >>= 1;
            }
            j |= bit;
            if i < j {
                a.swap(i, j);
            }
        }
        let g = self.to_mont(self.generator);
        let root = if inverse { self.pow(g, self.p as u64 - 2) } else { g };
        let mut twiddles = Vec::with_capacity(n / 2);
        let mut len = 2;
        while len <= n {
            let w = self.pow(root, (self.p as u64 - 1) / len as u64);
            let half = len / 2;
            twiddles.clear();
            let mut x = self.to_mont(1);
            for _ in 0..half {
                twiddles.push(x);
                x = self.mul(x, w);
            }
            for block in a.chunks_exact_mut(len) {
                let (lo, hi) = block.split_at_mut(half);
                for ((u, v), &t) in lo.iter_mut().zip(hi.iter_mut()).zip(&twiddles) {
                    let x = *u;
                    let y = self.mul(*v, t);
                    *u = self.add(x, y);
                    *v = self.sub(x, y);
                }
            }
            len <<= 1;
        }
        if inverse {
            let scale = self.pow(self.to_mont(n as u32), self.p as u64 - 2);
            a.iter_mut().for_each(|v| *v = self.mul(*v, scale));
        }
    }
}

/// How many of [`PRIMES`] a signed result below `2^bits` in magnitude needs.
fn primes_for(bits: u32) -> usize {
    // Each prime is above 2^30; the product must exceed 2^(bits + 1).
    (bits as usize + 1).div_ceil(30).max(1)
}

/// Why [`convolve`] cannot run.
#[derive(Debug, Clone, PartialEq)]
pub enum ConvolveError {
    TooLong { len: usize },
}

impl std::fmt::Display for ConvolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConvolveError::TooLong { len } => {
                write!(f, "an exact convolution of length {len} is longer than the supported {MAX_TRANSFORM}")
            }
        }
    }
}

/// The exact convolution `(x * y)_k = sum_i x_i y_{k-i}` of two grids, lag by
/// lag in increasing `k` (`0 .. x.len() + y.len() - 1`), as integers on the
/// grid `2^(x.exponent + y.exponent)`. `y = None` convolves `x` with itself
/// (one forward transform fewer). Streams instead of returning a vector:
/// a 2^22-lag result of 340-bit integers would not fit a problem's memory.
pub fn convolve(x: &Grid, y: Option<&Grid>, mut each: impl FnMut(usize, &BigInt)) -> Result<(), ConvolveError> {
    let other = y.unwrap_or(x);
    if x.is_empty() || other.is_empty() {
        return Ok(());
    }
    let out_len = x.len() + other.len() - 1;
    let size = out_len.next_power_of_two();
    if size > MAX_TRANSFORM {
        return Err(ConvolveError::TooLong { len: out_len });
    }
    // |(x * y)_k| <= min(len) * 2^(bits_x + bits_y): one bit of sign on top.
    let terms = x.len().min(other.len()) as u64;
    let bits = x.bits + other.bits + (64 - terms.leading_zeros()) + 1;
    let k = primes_for(bits);
    let fields: Vec<Field> = PRIMES[..k].iter().map(|&(p, g)| Field::new(p, g)).collect();
    let mut residues: Vec<Vec<u32>> = Vec::with_capacity(k);
    for field in &fields {
        let mut a = x.residues(field, size);
        field.transform(&mut a, false);
        if let Some(y) = y {
            let mut b = y.residues(field, size);
            field.transform(&mut b, false);
            a.iter_mut().zip(&b).for_each(|(u, v)| *u = field.mul(*u, *v));
        } else {
            a.iter_mut().for_each(|u| *u = field.mul(*u, *u));
        }
        field.transform(&mut a, true);
        a.truncate(out_len);
        a.iter_mut().for_each(|u| *u = field.from_mont(*u));
        residues.push(a);
    }
    let crt = Garner::new(&fields);
    for lag in 0..out_len {
        let r: Vec<u32> = residues.iter().map(|res| res[lag]).collect();
        each(lag, &crt.reconstruct(&r));
    }
    Ok(())
}

/// The exact cross-correlation `sum_i x_i y_{i+k}` for shifts `k` from
/// `-(x.len() - 1)` to `y.len() - 1`, by [`convolve`] with `y` reversed; the
/// callback gets `k` and the value.
pub fn correlate(x: &Grid, y: &Grid, mut each: impl FnMut(isize, &BigInt)) -> Result<(), ConvolveError> {
    // With r = rev(x), conv(r, y)_j = sum_a x_{n-1-a} y_{j-a}; setting
    // i = n-1-a gives sum_i x_i y_{i + (j - (n-1))}.
    let n = x.len() as isize;
    convolve(&x.reversed(), Some(y), |j, v| each(j as isize - (n - 1), v))
}

/// Chinese remaindering by Garner's mixed-radix form, to the signed value of
/// least magnitude.
struct Garner {
    primes: Vec<u64>,
    /// `inverse[i][j] = p_j^-1 mod p_i` for `j < i`.
    inverse: Vec<Vec<u64>>,
    modulus: BigUint,
    half: BigUint,
}

fn pow_mod(mut b: u64, mut e: u64, m: u64) -> u64 {
    let mut acc = 1u64;
    b %= m;
    while e > 0 {
        if e & 1 == 1 {
            acc = acc * b % m;
        }
        b = b * b % m;
        e >>= 1;
    }
    acc
}

impl Garner {
    fn new(fields: &[Field]) -> Garner {
        let primes: Vec<u64> = fields.iter().map(|f| f.p as u64).collect();
        let inverse = (0..primes.len())
            .map(|i| (0..i).map(|j| pow_mod(primes[j] % primes[i], primes[i] - 2, primes[i])).collect())
            .collect();
        let modulus = primes.iter().fold(BigUint::from(1u32), |acc, &p| acc * p);
        let half = &modulus >> 1;
        Garner { primes, inverse, modulus, half }
    }

    fn reconstruct(&self, residues: &[u32]) -> BigInt {
        let k = self.primes.len();
        let mut digits = [0u64; PRIMES.len()];
        for i in 0..k {
            let p = self.primes[i];
            let mut t = residues[i] as u64;
            for j in 0..i {
                t = (t + p - digits[j] % p) % p * self.inverse[i][j] % p;
            }
            digits[i] = t;
        }
        // value = d_0 + p_0 (d_1 + p_1 (d_2 + ...)).
        let value = if k <= 4 {
            let mut v: u128 = 0;
            for i in (0..k).rev() {
                v = v * self.primes[i] as u128 + digits[i] as u128;
            }
            BigUint::from(v)
        } else {
            let mut v = BigUint::from(digits[k - 1]);
            for i in (0..k - 1).rev() {
                v *= self.primes[i];
                v += digits[i];
            }
            v
        };
        if value > self.half {
            BigInt::from_biguint(Sign::Minus, &self.modulus - value)
        } else {
            BigInt::from(value)
        }
    }
}

/// Zero the entries more than 2^-(MAX_GRID_BITS - 54) below the largest
/// magnitude, so that the vector has an exact grid ([`Grid::new`]): what a
/// repair or a refine does with heights too fine to matter.
pub fn snap_to_grid(mut values: Vec<f64>) -> Vec<f64> {
    let largest = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let floor = largest * 2f64.powi(-(MAX_GRID_BITS as i32 - 54));
    values.iter_mut().filter(|v| v.abs() < floor).for_each(|v| *v = 0.0);
    values
}

/// An exact score `num / den` (`den > 0`).
#[derive(Debug, Clone, PartialEq)]
pub struct Ratio {
    pub num: BigInt,
    pub den: BigInt,
}

impl Ratio {
    /// `num / den`; the sign of `den` is moved to `num`.
    pub fn new(num: BigInt, den: BigInt) -> Ratio {
        assert!(den.sign() != Sign::NoSign, "a ratio with a zero denominator");
        if den.sign() == Sign::Minus { Ratio { num: -num, den: -den } } else { Ratio { num, den } }
    }

    /// The nearest double (ties to even): the one rounding of the whole
    /// computation. For finite, normal results (every score here).
    pub fn to_f64(&self) -> f64 {
        self.rounded().0
    }

    /// The nearest double and whether it equals the exact value.
    fn rounded(&self) -> (f64, bool) {
        let negative = self.num.sign() == Sign::Minus;
        let (p, q) = (self.num.magnitude().clone(), self.den.magnitude().clone());
        if p.bits() == 0 {
            return (0.0, true);
        }
        // Scale so that the integer quotient has 54 or 55 bits: 53 kept, one
        // to round on, one spare; the remainder is the sticky bit.
        let shift = 55 + q.bits() as i64 - p.bits() as i64;
        let (p, q) = if shift >= 0 { (p << shift as usize, q) } else { (p, q << (-shift) as usize) };
        let (quotient, remainder) = (&p / &q, &p % &q);
        let mut m: u64 = quotient.iter_u64_digits().next().unwrap_or(0);
        let mut exact = remainder.bits() == 0;
        let extra = 64 - m.leading_zeros() as i64 - 53;
        let mut exponent = -shift + extra;
        let dropped = m & ((1u64 << extra) - 1);
        m >>= extra;
        let half = 1u64 << (extra - 1);
        if dropped != 0 {
            exact = false;
        }
        if dropped > half || (dropped == half && (remainder.bits() != 0 || m & 1 == 1)) {
            m += 1;
            if m == 1 << 53 {
                m >>= 1;
                exponent += 1;
            }
        }
        let magnitude = ldexp(m as f64, exponent as i32);
        (if negative { -magnitude } else { magnitude }, exact)
    }

    /// The doubles just below and just above the exact value (both the value
    /// itself where it is a double): a certified interval for reports.
    pub fn bracket(&self) -> (f64, f64) {
        let (v, exact) = self.rounded();
        if exact {
            (v, v)
        } else if self.cmp_f64(v).is_lt() {
            (next_down(v), v)
        } else {
            (v, next_up(v))
        }
    }

    /// The value truncated (towards zero) to `digits` decimals: `"1.50285030207100787"`.
    pub fn decimal(&self, digits: usize) -> String {
        let negative = self.num.sign() == Sign::Minus;
        let scaled = self.num.magnitude() * num_bigint::BigUint::from(10u32).pow(digits as u32) / self.den.magnitude();
        let text = scaled.to_string();
        let text = if text.len() <= digits { format!("{}{text}", "0".repeat(digits + 1 - text.len())) } else { text };
        let (int, frac) = text.split_at(text.len() - digits);
        format!("{}{int}.{frac}", if negative { "-" } else { "" })
    }

    /// `self < other`, exactly.
    pub fn lt(&self, other: &Ratio) -> bool {
        &self.num * &other.den < &other.num * &self.den
    }

    /// `self` against a double, exactly.
    pub fn cmp_f64(&self, v: f64) -> std::cmp::Ordering {
        let o = float_to_ratio(v);
        (&self.num * &o.den).cmp(&(&o.num * &self.den))
    }
}

/// The sum of finite doubles, exactly, rounded once to the nearest double
/// (any span of magnitudes: the integers grow with it, the count stays small).
pub fn sum(values: &[f64]) -> f64 {
    let parts: Vec<(i64, i32)> = values.iter().map(|&v| decompose(v)).filter(|(m, _)| *m != 0).collect();
    let Some(low) = parts.iter().map(|p| p.1).min() else { return 0.0 };
    let total: BigInt = parts.iter().map(|&(m, e)| BigInt::from(m) << (e - low) as usize).sum();
    if low >= 0 {
        Ratio::new(total << low as usize, BigInt::from(1)).to_f64()
    } else {
        Ratio::new(total, BigInt::from(1) << (-low) as usize).to_f64()
    }
}

/// A finite double as an exact ratio.
pub fn float_to_ratio(v: f64) -> Ratio {
    let (m, e) = decompose(v);
    if e >= 0 {
        Ratio::new(BigInt::from(m) << e as usize, BigInt::from(1))
    } else {
        Ratio::new(BigInt::from(m), BigInt::from(1) << (-e) as usize)
    }
}

fn ldexp(mut v: f64, mut e: i32) -> f64 {
    while e > 1000 {
        v *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        v *= 2f64.powi(-1000);
        e += 1000;
    }
    v * 2f64.powi(e)
}

/// The next double towards +inf (finite, positive or negative input).
pub fn next_up(v: f64) -> f64 {
    if v == 0.0 {
        return f64::from_bits(1);
    }
    let b = v.to_bits();
    f64::from_bits(if v > 0.0 { b + 1 } else { b - 1 })
}

/// The next double towards -inf.
pub fn next_down(v: f64) -> f64 {
    -next_up(-v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::Rng;

    fn direct(x: &[BigInt], y: &[BigInt]) -> Vec<BigInt> {
        let mut out = vec![BigInt::from(0); x.len() + y.len() - 1];
        for (i, a) in x.iter().enumerate() {
            for (j, b) in y.iter().enumerate() {
                out[i + j] += a * b;
            }
        }
        out
    }

    fn ints(g: &Grid) -> Vec<BigInt> {
        (0..g.len()).map(|i| g.int(i)).collect()
    }

    #[test]
    fn the_primes_are_primes_with_primitive_roots_and_long_enough_transforms() {
        for &(p, g) in &PRIMES {
            let p = p as u64;
            assert!((2..).take_while(|d| d * d <= p).all(|d| p % d != 0), "{p} is not prime");
            assert_eq!((p - 1) % MAX_TRANSFORM as u64, 0, "{p}");
            let mut m = p - 1;
            let mut factors = vec![];
            let mut d = 2;
            while d * d <= m {
                if m % d == 0 {
                    factors.push(d);
                    while m % d == 0 {
                        m /= d;
                    }
                }
                d += 1;
            }
            if m > 1 {
                factors.push(m);
            }
            for q in factors {
                assert_ne!(pow_mod(g as u64, (p - 1) / q, p), 1, "{g} is not a primitive root of {p}");
            }
        }
        // Twelve primes above 2^30 hold the largest signed result.
        assert!(primes_for(2 * MAX_GRID_BITS + 22 + 1) <= PRIMES.len());
    }

    #[test]
    fn grids_are_exact_integer_forms() {
        let v = [0.75, -3.0, 0.0, 1e-10, 1.0];
        let g = Grid::new(&v).unwrap();
        for (i, &x) in v.iter().enumerate() {
            let on_grid = if g.exponent >= 0 {
                Ratio::new(g.int(i) << g.exponent as usize, BigInt::from(1))
            } else {
                Ratio::new(g.int(i), BigInt::from(1) << (-g.exponent) as usize)
            };
            assert_eq!(on_grid.cmp_f64(x), std::cmp::Ordering::Equal, "entry {i}");
        }
        assert_eq!(g.sum(), (0..v.len()).map(|i| g.int(i)).sum::<BigInt>());
        assert!(matches!(Grid::new(&[1.0, f64::NAN]), Err(GridError::NotFinite { index: 1, .. })));
        let err = Grid::new(&[1.0, 1e-300]).unwrap_err();
        assert!(matches!(err, GridError::TooFine { index: 1, .. }), "{err:?}");
        assert!(err.to_string().contains("entry 1 = 1e-300"), "{err}");
        assert!(Grid::new(&[]).unwrap().is_empty());
        assert_eq!(Grid::new(&[0.0, 0.0]).unwrap().sum(), BigInt::from(0));
    }

    #[test]
    fn transforms_match_the_direct_sum_at_every_width() {
        let mut rng = Rng::new(7);
        for (n, spread) in [(1usize, 0.0), (2, 1.0), (17, 10.0), (64, 40.0), (300, 60.0), (129, 105.0)] {
            let v: Vec<f64> = (0..n)
                .map(|_| {
                    let sign = if rng.next_f64() < 0.3 { -1.0 } else { 1.0 };
                    sign * rng.next_f64() * 2f64.powf(-rng.next_f64() * spread)
                })
                .collect();
            let g = Grid::new(&v).unwrap();
            let expected = direct(&ints(&g), &ints(&g));
            let mut got = vec![];
            convolve(&g, None, |k, c| {
                assert_eq!(k, got.len());
                got.push(c.clone())
            })
            .unwrap();
            assert_eq!(got, expected, "n = {n}, spread {spread}, {} bits", g.bits);
            // Two different grids, and the correlation.
            let w: Vec<f64> = (0..n + 3).map(|i| (i as f64 * 0.37).sin()).collect();
            let h = Grid::new(&w).unwrap();
            let expected = direct(&ints(&g), &ints(&h));
            let mut got = vec![];
            convolve(&g, Some(&h), |_, c| got.push(c.clone())).unwrap();
            assert_eq!(got, expected);
            correlate(&g, &h, |k, c| {
                let want: BigInt = (0..g.len() as isize)
                    .filter(|i| (0..h.len() as isize).contains(&(i + k)))
                    .map(|i| g.int(i as usize) * h.int((i + k) as usize))
                    .sum();
                assert_eq!(*c, want, "shift {k}");
            })
            .unwrap();
        }
    }

    #[test]
    fn ratios_round_once_to_the_nearest_double() {
        let r = |a: i64, b: i64| Ratio::new(BigInt::from(a), BigInt::from(b));
        for (a, b) in [(1, 3), (2, 3), (-5, 7), (22, 7), (1, 10), (123456789, 1000), (3, 1), (0, 5)] {
            assert_eq!(r(a, b).to_f64(), a as f64 / b as f64, "{a}/{b}");
        }
        // A tie: 1 + 2^-53 is halfway between 1 and its successor; even wins.
        let tie = Ratio::new((BigInt::from(1) << 53) + 1, BigInt::from(1) << 53);
        assert_eq!(tie.to_f64(), 1.0);
        let just_above = Ratio::new((BigInt::from(1) << 54) + 3, BigInt::from(1) << 54);
        assert_eq!(just_above.to_f64(), next_up(1.0));
        assert_eq!(r(1, 3).decimal(20), "0.33333333333333333333");
        assert_eq!(r(-22, 7).decimal(5), "-3.14285");
        assert_eq!(r(1, 1000).decimal(2), "0.00");
        let (lo, hi) = r(1, 3).bracket();
        assert!(lo < hi && r(1, 3).cmp_f64(lo).is_gt() && r(1, 3).cmp_f64(hi).is_lt());
        assert_eq!(r(3, 4).bracket(), (0.75, 0.75));
        assert!(r(1, 3).lt(&r(1, 2)) && !r(1, 2).lt(&r(1, 3)));
        // An exact sum rounds once: float addition drops each 2^-54 in turn.
        let tiny = 2f64.powi(-54);
        assert_eq!([1.0, tiny, tiny, tiny].iter().sum::<f64>(), 1.0);
        assert_eq!(sum(&[1.0, tiny, tiny, tiny]), next_up(1.0));
        assert_eq!(sum(&[1.0, tiny, tiny]), 1.0, "a tie, to even");
        // 0.1 + 0.2 - 0.3 over the doubles' real values is 2^-55; in floats, twice that.
        assert_eq!(sum(&[0.1, 0.2, -0.3]), 2f64.powi(-55));
        assert_eq!(0.1 + 0.2 - 0.3, 2f64.powi(-54));
        assert_eq!(sum(&[]), 0.0);
        assert_eq!(sum(&[1e-300, 1e300, -1e300]), 1e-300);
    }
}
