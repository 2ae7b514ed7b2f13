//! The numeric policy: Gaussian proposals around the start state's solution.
//!
//! For a start solution `s` with root-mean-square size `scale`, coordinate `i`
//! in block `b` (its position modulo the problem's `multiple_of`: x, y, r for
//! circle packings; one block for step functions) is proposed as
//!
//! ```text
//! x_i = s_i + scale (mu_b + sigma_b z_i),   z_i ~ N(0, 1),   sigma_b = exp(l_b)
//! ```
//!
//! and `mu` (the mean shift) and `l` (the log standard deviations) are trained by
//! the policy gradient of the group advantages. The step is the natural gradient
//! of a Gaussian (the Fisher metric rescales it), averaged over the block:
//!
//! ```text
//! d mu_b = sigma_b mean_{i in b} z_i,     d l_b = mean_{i in b} (z_i^2 - 1) / 2
//! theta += lr sum_a A_a d theta(a) / sum_a |A_a|
//! ```
//!
//! Dividing by `sum |A|` makes the step size `lr` independent of the advantage
//! scale: entropic advantages reach 1e12 when one sample dominates a group of
//! two, and a raw step would then throw the parameters to infinity.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use std::collections::HashMap;

use discover_engine::{Action, Policy, Rng, RolloutId, State};

/// Bounds on sigma, relative to the solution's scale.
const MIN_LOG_SIGMA: f64 = -18.0; // ~1.5e-8
const MAX_LOG_SIGMA: f64 = 0.0;
/// Bound on |mu|, relative to the scale.
const MAX_SHIFT: f64 = 0.5;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Numeric {
    /// Initial sigma, relative to the start solution's scale.
    pub init_sigma: f64,
    pub lr: f64,
    shift: Vec<f64>,
    log_sigma: Vec<f64>,
    /// The standard-normal draw behind each of the current step's proposals:
    /// what the gradient needs. Not part of the checkpoint (a step's rollouts
    /// never outlive it).
    #[serde(skip)]
    noise: HashMap<RolloutId, Vec<f64>>,
}

impl Numeric {
    /// A policy for solutions whose coordinates fall into `blocks` roles.
    pub fn new(blocks: usize, init_sigma: f64, lr: f64) -> Numeric {
        let blocks = blocks.max(1);
        Numeric { init_sigma, lr, shift: vec![0.0; blocks], log_sigma: vec![init_sigma.ln(); blocks], noise: HashMap::new() }
    }

    /// The current sigma of each block (relative to the scale).
    pub fn sigmas(&self) -> Vec<f64> {
        self.log_sigma.iter().map(|l| l.exp()).collect()
    }

    pub fn shifts(&self) -> &[f64] {
        &self.shift
    }
}

/// What one update of the numeric policy reports (the step event's `policy`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NumericUpdate {
    /// The new sigma and shift of each block, relative to the solution's scale.
    Stepped { sigma: Vec<f64>, shift: Vec<f64> },
    /// Why nothing moved.
    Skipped { skipped: String },
}

fn rms(v: &[f64]) -> f64 {
    let s = (v.iter().map(|x| x * x).sum::<f64>() / v.len().max(1) as f64).sqrt();
    if s.is_finite() && s > 0.0 { s } else { 1.0 }
}

impl Policy for Numeric {
    fn name(&self) -> &'static str {
        "numeric"
    }

    fn sample(&mut self, step: u32, group: usize, start: &State, k: usize, rng: &mut Rng) -> Result<Vec<Action>> {
        // Draws of earlier steps are never asked for again.
        self.noise.retain(|id, _| id.step == step);
        let s = &start.solution.values;
        let scale = rms(s);
        let blocks = self.shift.len();
        Ok((0..k)
            .map(|rollout| {
                let noise: Vec<f64> = s.iter().map(|_| rng.normal()).collect();
                let values = s
                    .iter()
                    .zip(&noise)
                    .enumerate()
                    .map(|(i, (si, z))| {
                        let b = i % blocks;
                        si + scale * (self.shift[b] + self.log_sigma[b].exp() * z)
                    })
                    .collect();
                self.noise.insert(RolloutId::new(step, group, rollout), noise);
                Action::Values { values }
            })
            .collect())
    }

    fn update(&mut self, batch: &[(RolloutId, f64)]) -> Result<Value> {
        let blocks = self.shift.len();
        let norm: f64 = batch.iter().map(|(_, a)| a.abs()).filter(|a| a.is_finite()).sum();
        if norm == 0.0 {
            return Ok(serde_json::to_value(NumericUpdate::Skipped { skipped: "no advantage".into() })?);
        }
        let (mut d_shift, mut d_log_sigma) = (vec![0.0; blocks], vec![0.0; blocks]);
        for (id, advantage) in batch {
            let Some(noise) = self.noise.get(id) else { continue };
            if !advantage.is_finite() || noise.is_empty() {
                continue;
            }
            let (mut sum_z, mut sum_z2, mut count) = (vec![0.0; blocks], vec![0.0; blocks], vec![0usize; blocks]);
            for (i, z) in noise.iter().enumerate() {
                let b = i % blocks;
                sum_z[b] += z;
                sum_z2[b] += z * z - 1.0;
                count[b] += 1;
            }
            for b in 0..blocks {
                if count[b] > 0 {
                    let m = count[b] as f64;
                    d_shift[b] += advantage * self.log_sigma[b].exp() * sum_z[b] / m;
                    d_log_sigma[b] += advantage * sum_z2[b] / m / 2.0;
                }
            }
        }
        for b in 0..blocks {
            self.shift[b] = (self.shift[b] + self.lr * d_shift[b] / norm).clamp(-MAX_SHIFT, MAX_SHIFT);
            self.log_sigma[b] =
                (self.log_sigma[b] + self.lr * d_log_sigma[b] / norm).clamp(MIN_LOG_SIGMA, MAX_LOG_SIGMA);
        }
        Ok(serde_json::to_value(NumericUpdate::Stepped { sigma: self.sigmas(), shift: self.shift.clone() })?)
    }

    fn checkpoint(&self) -> Value {
        serde_json::to_value(self).expect("the numeric policy serialises")
    }

    fn restore(&mut self, saved: &Value) -> Result<()> {
        *self = serde_json::from_value(saved.clone()).context("the checkpoint's numeric policy is damaged")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use discover_contract::Solution;

    fn start(values: Vec<f64>) -> State {
        State {
            id: 0,
            parent: None,
            step: 0,
            solution: Solution::new(values),
            score: 0.0,
            value: 0.0,
            provenance: Default::default(),
            initial: true,
            visits: 0,
            best_child: None,
        }
    }

    #[test]
    fn proposals_are_centred_on_the_start_with_the_policy_sigma() {
        let mut p = Numeric::new(1, 0.1, 0.2);
        let s = start(vec![1.0; 50]);
        let actions = p.sample(1, 0, &s, 200, &mut Rng::new(3)).unwrap();
        let mut devs = Vec::new();
        for (i, a) in actions.iter().enumerate() {
            let Action::Values { values } = a else { panic!() };
            let noise = &p.noise[&RolloutId::new(1, 0, i)];
            for (v, z) in values.iter().zip(noise) {
                assert!((v - 1.0 - 0.1 * z).abs() < 1e-12);
                devs.push(v - 1.0);
            }
        }
        let sd = (devs.iter().map(|d| d * d).sum::<f64>() / devs.len() as f64).sqrt();
        assert!((sd - 0.1).abs() < 0.005, "{sd}");
    }

    #[test]
    fn rewarding_wide_proposals_widens_sigma_and_narrow_narrows_it() {
        for (reward_wide, grows) in [(true, true), (false, false)] {
            let mut p = Numeric::new(3, 0.05, 0.3);
            let s = start(vec![0.5; 30]);
            for step in 0..20 {
                let step = step as u32 + 1;
                let actions = p.sample(step, 0, &s, 16, &mut Rng::derive(1, &[step as u64])).unwrap();
                // Reward: the spread of the noise (or its opposite).
                let ids: Vec<RolloutId> = (0..actions.len()).map(|i| RolloutId::new(step, 0, i)).collect();
                let rewards: Vec<f64> = ids
                    .iter()
                    .map(|id| {
                        let spread = p.noise[id].iter().map(|z| z * z).sum::<f64>();
                        if reward_wide { spread } else { -spread }
                    })
                    .collect();
                let adv = discover_engine::advantages(discover_engine::Objective::Entropic, &rewards).unwrap();
                let batch: Vec<(RolloutId, f64)> = ids.into_iter().zip(adv.advantages).collect();
                p.update(&batch).unwrap();
            }
            let sigma = p.sigmas()[0];
            assert_eq!(sigma > 0.05, grows, "sigma {sigma}");
        }
    }

    #[test]
    fn huge_advantages_move_parameters_by_at_most_the_learning_rate() {
        let mut p = Numeric::new(1, 0.05, 0.1);
        p.sample(1, 0, &start(vec![1.0; 10]), 2, &mut Rng::new(9)).unwrap();
        let before = p.log_sigma[0];
        p.update(&[(RolloutId::new(1, 0, 0), 1e12), (RolloutId::new(1, 0, 1), -1.0)]).unwrap();
        assert!(p.log_sigma[0].is_finite() && p.shift[0].is_finite());
        // |d l| <= mean |z^2 - 1| / 2, which is a few units at most.
        assert!((p.log_sigma[0] - before).abs() < 0.1 * 5.0);
        // Checkpoint round trip.
        let mut q = Numeric::new(1, 0.5, 0.5);
        q.restore(&p.checkpoint()).unwrap();
        assert_eq!(p.checkpoint(), q.checkpoint());
        assert_eq!((p.sigmas(), p.shifts()), (q.sigmas(), q.shifts()));
    }
}
