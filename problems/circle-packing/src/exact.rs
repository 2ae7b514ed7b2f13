//! Exact geometric predicates on doubles.
//!
//! "Exact" means: decided over the real numbers the doubles denote. Inputs here are
//! finite and, for pair tests, already inside the unit square (callers check the
//! walls first), so every value is a multiple of 2^-1074 below 2 in magnitude and
//! fits a 1076-bit integer.

use num_bigint::BigInt;

/// `c + r <= 1` exactly, using an error-free sum (TwoSum).
pub fn sum_at_most_one(c: f64, r: f64) -> bool {
    let (s, e) = two_sum(c, r);
    s < 1.0 || (s == 1.0 && e <= 0.0)
}

/// How far `c + r` exceeds 1, for messages (rounded); infinite when `c + r`
/// overflows (TwoSum's error term is NaN then, and means nothing).
pub fn excess_over_one(c: f64, r: f64) -> f64 {
    let (s, e) = two_sum(c, r);
    if !s.is_finite() {
        return f64::INFINITY;
    }
    (s - 1.0) + e
}

fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}

/// The gap `|c_a - c_b| - (r_a + r_b)` in floating point (for messages and slack).
pub fn float_gap(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt() - (a[2] + b[2])
}

/// Whether two circles do not overlap: `|c_a - c_b| >= r_a + r_b`, exactly.
/// Touching counts as disjoint.
pub fn disjoint(a: [f64; 3], b: [f64; 3]) -> bool {
    // Both sides are non-negative, so compare squares: dx^2 + dy^2 - s^2 >= 0.
    let (dx, dy, s) = (a[0] - b[0], a[1] - b[1], a[2] + b[2]);
    let m = dx * dx + dy * dy - s * s;
    // Each of dx, dy, s carries a relative error of at most eps, each square and the
    // two sums add a few more; 16 eps of the magnitude bounds it all generously. The
    // absolute term covers underflow of tiny squares.
    let bound = 16.0 * f64::EPSILON * (dx * dx + dy * dy + s * s) + 1e-300;
    if m > bound {
        return true;
    }
    if m < -bound {
        return false;
    }
    let big = |v: f64| to_fixed(v);
    let dx = big(a[0]) - big(b[0]);
    let dy = big(a[1]) - big(b[1]);
    let s = big(a[2]) + big(b[2]);
    &dx * &dx + &dy * &dy >= &s * &s
}

/// `v * 2^1074` as an integer: exact for every finite double.
fn to_fixed(v: f64) -> BigInt {
    let bits = v.to_bits();
    let negative = bits >> 63 == 1;
    let exp = ((bits >> 52) & 0x7ff) as i64;
    let frac = bits & ((1u64 << 52) - 1);
    // Subnormals: frac * 2^-1074; normals: (2^52 + frac) * 2^(exp - 1075).
    let (mantissa, shift) = if exp == 0 { (frac, 0) } else { (frac | 1 << 52, exp - 1) };
    let magnitude = BigInt::from(mantissa) << shift as usize;
    if negative { -magnitude } else { magnitude }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_conversion_is_exact() {
        assert_eq!(to_fixed(1.0), BigInt::from(1) << 1074usize);
        assert_eq!(to_fixed(-0.5), -(BigInt::from(1) << 1073usize));
        assert_eq!(to_fixed(f64::from_bits(1)), BigInt::from(1));
        assert_eq!(to_fixed(0.0), BigInt::from(0));
    }

    #[test]
    fn wall_sum_is_exact_where_floats_round() {
        // 0.9 + 0.1 rounds to exactly 1.0, but the real sum of these doubles is above 1.
        let (c, r) = (0.9, 0.1);
        assert_eq!(c + r, 1.0);
        let exact_above = {
            let big = to_fixed(c) + to_fixed(r);
            big > (BigInt::from(1) << 1074usize)
        };
        assert_eq!(sum_at_most_one(c, r), !exact_above);
        assert!(sum_at_most_one(0.5, 0.5));
        assert!(!sum_at_most_one(0.5, 0.5 + f64::EPSILON));
    }

    #[test]
    fn touching_is_disjoint_and_one_ulp_more_is_not() {
        assert!(disjoint([0.25, 0.5, 0.25], [0.75, 0.5, 0.25]));
        let bigger = f64::from_bits(0.25f64.to_bits() + 1);
        assert!(!disjoint([0.25, 0.5, 0.25], [0.75, 0.5, bigger]));
    }

    /// The filter never disagrees with pure big-integer arithmetic, also on pairs
    /// built to touch up to rounding.
    #[test]
    fn filter_agrees_with_big_integers_near_contact() {
        let mut rng = discover_guest::math::Rng::new(5);
        for _ in 0..20_000 {
            let a = [rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.0, 0.2)];
            let angle = rng.uniform(0.0, std::f64::consts::TAU);
            let rb = rng.uniform(0.0, 0.2);
            let d = (a[2] + rb) * (1.0 + rng.uniform(-4e-16, 4e-16));
            let b = [a[0] + d * angle.cos(), a[1] + d * angle.sin(), rb];
            let (dx, dy, s) = (
                to_fixed(a[0]) - to_fixed(b[0]),
                to_fixed(a[1]) - to_fixed(b[1]),
                to_fixed(a[2]) + to_fixed(b[2]),
            );
            let reference = &dx * &dx + &dy * &dy >= &s * &s;
            assert_eq!(disjoint(a, b), reference, "{a:?} {b:?}");
        }
    }
}
