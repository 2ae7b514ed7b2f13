//! Advantages of one group of rollouts (`docs/algorithm.md`, "Entropic advantages
//! with adaptive beta").
//!
//! - `entropic`: `e_i = exp(beta (r_i - r*))`, beta chosen so that the tilted
//!   distribution `q = e / sum e` has `KL(q || uniform) = ln 2`; leave-one-out
//!   normalisation `A_i = e_i / (mean_{j != i} e_j + 1e-12) - 1`.
//! - `entropic-fixed`: the same with a given beta.
//! - `mean`: `A_i = r_i - mean r`, the expected-reward objective.
//!
//! A group whose rewards are all equal carries no signal and is dropped.

use serde::{Deserialize, Serialize};

/// The KL budget of the adaptive tilt.
pub const TARGET_KL: f64 = std::f64::consts::LN_2;
/// The largest beta the search tries; used as is when even it falls short.
pub const MAX_BETA: f64 = (1u64 << 20) as f64;
const BISECTIONS: usize = 60;

/// Which advantage estimator the policy update uses.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Objective {
    /// Entropic with beta solved from `KL = ln 2` per group (the paper's method).
    Entropic,
    /// Entropic with a fixed beta (ablation; reference default 2.0).
    EntropicFixed { beta: f64 },
    /// `r - mean r` (ablation: the expected-reward objective).
    Mean,
}

impl Objective {
    pub fn name(&self) -> &'static str {
        match self {
            Objective::Entropic => "entropic",
            Objective::EntropicFixed { .. } => "entropic-fixed",
            Objective::Mean => "mean",
        }
    }
}

/// The advantages of one group and the beta that produced them (entropic only).
#[derive(Clone, Debug, PartialEq)]
pub struct GroupAdvantages {
    pub advantages: Vec<f64>,
    pub beta: Option<f64>,
}

/// Advantages for one group's rewards; `None` when the group is dropped (all
/// rewards equal, which includes groups of one).
pub fn advantages(objective: Objective, rewards: &[f64]) -> Option<GroupAdvantages> {
    let first = *rewards.first()?;
    if rewards.iter().all(|&r| r == first) {
        return None;
    }
    Some(match objective {
        Objective::Entropic => {
            let beta = adaptive_beta(rewards);
            GroupAdvantages { advantages: entropic(rewards, beta), beta: Some(beta) }
        }
        Objective::EntropicFixed { beta } => {
            GroupAdvantages { advantages: entropic(rewards, beta), beta: Some(beta) }
        }
        Objective::Mean => {
            let mean = rewards.iter().sum::<f64>() / rewards.len() as f64;
            GroupAdvantages { advantages: rewards.iter().map(|r| r - mean).collect(), beta: None }
        }
    })
}

/// `e_i(beta) = exp(beta (r_i - r*))`, shifted by the maximum so that the largest is 1.
fn tilt(rewards: &[f64], beta: f64) -> Vec<f64> {
    let top = rewards.iter().fold(f64::NEG_INFINITY, |m, &r| m.max(r));
    rewards.iter().map(|r| (beta * (r - top)).exp()).collect()
}

/// `KL(q_beta || uniform_k) = sum_i q_i (ln q_i + ln k)`.
pub fn kl(rewards: &[f64], beta: f64) -> f64 {
    let e = tilt(rewards, beta);
    let z: f64 = e.iter().sum();
    let ln_k = (rewards.len() as f64).ln();
    e.iter()
        .map(|&ei| {
            let q = ei / z;
            if q > 0.0 { q * (q.ln() + ln_k) } else { 0.0 }
        })
        .sum()
}

/// The beta with `KL(beta) = ln 2`: double `hi` from 1 while short of the
/// target (up to 2^20, returned as is if still short), then bisect `[0, hi]`
/// 60 times and take the upper bracket.
pub fn adaptive_beta(rewards: &[f64]) -> f64 {
    let mut hi = 1.0;
    while kl(rewards, hi) < TARGET_KL {
        if hi >= MAX_BETA {
            return MAX_BETA;
        }
        hi *= 2.0;
    }
    let mut lo = 0.0;
    for _ in 0..BISECTIONS {
        let mid = 0.5 * (lo + hi);
        if kl(rewards, mid) < TARGET_KL {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// Leave-one-out entropic advantages `A_i = e_i / (Z_i + 1e-12) - 1` with
/// `Z_i = sum_{j != i} e_j / (k - 1)`. The sum over `j != i` is a prefix sum
/// plus a suffix sum, never `total - e_i`, which cancels catastrophically when
/// one sample dominates.
pub fn entropic(rewards: &[f64], beta: f64) -> Vec<f64> {
    let k = rewards.len();
    if k < 2 {
        return vec![0.0; k];
    }
    let e = tilt(rewards, beta);
    let mut suffix = vec![0.0; k + 1];
    for i in (0..k).rev() {
        suffix[i] = suffix[i + 1] + e[i];
    }
    let mut prefix = 0.0;
    let mut out = Vec::with_capacity(k);
    for i in 0..k {
        let others = (prefix + suffix[i + 1]) / (k - 1) as f64;
        out.push(e[i] / (others + 1e-12) - 1.0);
        prefix += e[i];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol * (1.0 + y.abs()))
    }

    const GROUP: [f64; 8] = [2.61, 2.63, 2.58, 2.635, 0.0, 2.62, 2.6355, 2.59];

    #[test]
    fn solved_beta_has_kl_ln_2() {
        for rewards in [&GROUP[..], &[1.0, 2.0, 3.0, 4.0], &[0.1, 0.1, 0.5, 0.2, 0.3]] {
            let beta = adaptive_beta(rewards);
            assert!(beta < MAX_BETA);
            assert!((kl(rewards, beta) - TARGET_KL).abs() < 1e-6, "{rewards:?}: {}", kl(rewards, beta));
        }
    }

    #[test]
    fn invariant_to_positive_affine_transforms() {
        let base = advantages(Objective::Entropic, &GROUP).unwrap().advantages;
        for (scale, shift) in [(3.0, 0.0), (0.001, 5.0), (250.0, -1e3), (1.0, 1e6)] {
            let moved: Vec<f64> = GROUP.iter().map(|r| scale * r + shift).collect();
            let a = advantages(Objective::Entropic, &moved).unwrap().advantages;
            assert!(close(&a, &base, 1e-6), "scale {scale} shift {shift}: {a:?} vs {base:?}");
        }
    }

    #[test]
    fn all_equal_group_is_dropped_with_zero_advantage() {
        for objective in [Objective::Entropic, Objective::EntropicFixed { beta: 2.0 }, Objective::Mean] {
            assert_eq!(advantages(objective, &[0.7; 6]), None);
            assert_eq!(advantages(objective, &[0.7]), None);
            assert_eq!(advantages(objective, &[]), None);
        }
        // The formula itself gives ~0 when all are equal.
        assert!(entropic(&[0.7; 6], 3.0).iter().all(|a| a.abs() < 1e-9));
    }

    #[test]
    fn more_than_half_tied_at_the_max_saturates_beta() {
        // m = 3 of k = 4 at the max: KL can reach only ln(4/3) < ln 2.
        let rewards = [1.0, 1.0, 1.0, 0.5];
        assert_eq!(adaptive_beta(&rewards), MAX_BETA);
        let a = advantages(Objective::Entropic, &rewards).unwrap();
        assert_eq!(a.beta, Some(MAX_BETA));
        assert!((a.advantages[3] + 1.0).abs() < 1e-12, "loser gets -1: {:?}", a.advantages);
        // Exactly half tied: KL tends to ln 2 from below; in floating point it
        // gets there once the losers' weights underflow against the winners'.
        let half = [1.0, 1.0, 0.0, 0.0];
        let a = advantages(Objective::Entropic, &half).unwrap().advantages;
        assert!(a.iter().all(|x| x.is_finite()) && (a[2] + 1.0).abs() < 1e-9, "{a:?}");
    }

    #[test]
    fn two_samples_do_not_blow_up() {
        let a = advantages(Objective::Entropic, &[1.0, 0.0]).unwrap();
        // k = 2: KL = ln 2 needs q = (1, 0), reached only in the limit (in floating
        // point, once e_1 is below the rounding of ln 2).
        let beta = a.beta.unwrap();
        assert!(beta > 30.0 && beta <= MAX_BETA, "{beta}");
        assert!(a.advantages.iter().all(|x| x.is_finite()));
        assert!((a.advantages[1] + 1.0).abs() < 1e-12);
        // The winner's advantage is large but bounded by 1/1e-12, not inf or NaN.
        assert!(a.advantages[0] > 1.0 && a.advantages[0] <= 1e12);
        // With a fixed, moderate beta both stay modest.
        let f = entropic(&[1.0, 0.0], 2.0);
        assert!((f[0] - (2f64.exp() - 1.0)).abs() < 1e-9 && (f[1] - ((-2f64).exp() - 1.0)).abs() < 1e-9);
    }

    #[test]
    fn leave_one_out_survives_one_dominant_sample() {
        // e = (1, 1e-300 ..): total - e_0 would be 0 (or noise); prefix + suffix is exact.
        let e = entropic(&[1.0, 0.0, 0.0, 0.0], 700.0);
        assert!(e[0].is_finite() && e[0] > 1e11);
        assert!(e[1..].iter().all(|&x| (x + 1.0).abs() < 1e-12));
    }

    #[test]
    fn mean_advantages_sum_to_zero_and_order_like_rewards() {
        let a = advantages(Objective::Mean, &GROUP).unwrap();
        assert_eq!(a.beta, None);
        assert!(a.advantages.iter().sum::<f64>().abs() < 1e-12);
        let e = advantages(Objective::Entropic, &GROUP).unwrap().advantages;
        // Entropic keeps the order of rewards: the best sample gets the largest advantage.
        let best = GROUP.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert!(e.iter().enumerate().all(|(i, &x)| i == best || x < e[best]));
    }
}
