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
//!
//! **Spread.** With one sigma for thousands of coordinates, every proposal's
//! `mean (z_i^2 - 1)` is within ~sqrt(2/m) of 0, so `d l_b` carries almost no
//! signal and sigma stays where it started (measured: 0.2 -> 0.199 over 9
//! AC1 steps). With a spread `tau > 0` each proposal draws its own log-scale
//! `u = l_b + tau eps`, `eps ~ N(0, 1)`, shared by its blocks, and the natural
//! gradient of `N(l_b, tau^2)` replaces the `z` term:
//!
//! ```text
//! sigma_b(a) = exp(l_b + tau eps_a),     d l_b = tau eps_a
//! ```
//!
//! so the group's advantages say directly which proposal size worked. Off
//! (`tau = 0`) unless set with [`Numeric::with_spread`]; `discover run` sets
//! [`DEFAULT_SPREAD`].
//!
//! **Resolution.** For step functions whose length is free (the
//! autocorrelation and Erdos problems), a proposal may first double the
//! resolution: each step split in two, which leaves the bound unchanged and
//! gives refine twice the freedom. Whether a rollout does so is a Bernoulli
//! draw `u ~ B(p)`, `p = sigmoid(lambda)`, and `lambda` is trained like the
//! rest (score function `d lambda = u - p`): if finer states earn larger
//! advantages, the policy upsamples more often. Off unless enabled with
//! [`Numeric::with_upsampling`].
//!
//! The other direction: with [`Numeric::with_downsampling`] a proposal that
//! does not upsample may halve the resolution of a long start, averaging
//! each pair of steps (`v ~ B(q)`, `q = sigmoid(mu)`, `d mu = v - q`), and
//! refine then polishes the coarser state. The record holders' notes say
//! "resolution is not monotonic": a fine record pooled down and polished
//! searched faster than the record itself. Off by default.
//!
//! **Deepening.** Late in a run the search stalls: sigma has collapsed, and
//! every rollout is one more short refine of nearly the same point (the Erdos
//! hour found nothing in its last 25 minutes). A long refine of the best state
//! then gains several times faster per second than many short ones (AC1:
//! three refines of 20 times the effort gained ten times the run's rate). With
//! [`Numeric::with_deepening`] proposals ask for longer refines as the run
//! stalls:
//!
//! ```text
//! stalled      = steps finished since the step that found the best state
//! effort_scale = min(2^floor(stalled / D), DEEPEST)
//! ```
//!
//! so every `D` steps without a new best double the refine effort, and a new
//! best resets it. A rule, not a learned choice: rewards do not charge for
//! compute, so a learned effort would always pick the longest refine.

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
/// Bounds on the upsampling logit: p stays within [0.25 %, 99.75 %], so the
/// policy can always change its mind.
const MAX_LOGIT: f64 = 6.0;
/// The starting upsampling probability: one proposal in four. From coarse
/// starts (40 to 99 steps) the resolution must climb; in 4-minute AC1 runs
/// (seed 0) 1/4 reached 1.51128, 1/8 1.51357, 1/16 1.51782 (AC2: 0.91370,
/// 0.91500, 0.91809: there finer states make steps slower). BENCHMARKS.md.
const INITIAL_UPSAMPLE: f64 = 0.25;
/// The default cap on upsampled lengths: past ~4096 steps a refine of the
/// default effort takes seconds per rollout on 2 cores (FFTs of 16384).
pub const DEFAULT_UPSAMPLE_TO: usize = 4096;
/// The spread `discover run` gives proposals' log-scales unless told
/// otherwise: a proposal is e times larger or smaller than sigma at one
/// standard deviation. Measured against no spread (8-minute runs, seed 0):
/// better on Erdos and both autocorrelation bounds, level on circle packing.
pub const DEFAULT_SPREAD: f64 = 1.0;

/// The largest multiple of the run's refine effort a deepened proposal asks
/// for: at 8 the slowest default rollouts measured (about 5 s on one core, AC1
/// at 1319 steps) stay inside the 60 s a refine may take.
pub const DEEPEST: u32 = 8;

/// Longer refines as a run stalls (module doc).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deepening {
    /// D: steps without a new best per doubling of the refine effort.
    pub per_doubling: u32,
    /// The step that found the run's best state, as last observed. Not part
    /// of the checkpoint: the engine tells it before every step.
    #[serde(skip)]
    best_step: u32,
}

impl Deepening {
    /// The effort multiple for proposals of `step`.
    pub fn effort_scale(&self, step: u32) -> u32 {
        let stalled = step.saturating_sub(self.best_step.saturating_add(1));
        let doublings = (stalled / self.per_doubling.max(1)).min(31);
        (1u32 << doublings).min(DEEPEST)
    }
}

/// Doubling the resolution of step-function proposals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Upsampling {
    /// No proposal longer than this.
    pub max_len: usize,
    /// lambda: the upsampling probability is sigmoid(lambda).
    pub logit: f64,
}

/// Halving the resolution of long step-function starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Downsampling {
    /// Only starts of at least this many steps are halved.
    pub min_len: usize,
    /// mu: the downsampling probability is sigmoid(mu).
    pub logit: f64,
}

/// The starting downsampling probability: one proposal in eight, so that
/// most of a run's rollouts still search at the start's resolution.
const INITIAL_DOWNSAMPLE: f64 = 0.125;

/// Each pair of steps replaced by its mean (a last odd step kept): the same
/// integral, half the resolution.
pub fn average_pool(values: &[f64]) -> Vec<f64> {
    values.chunks(2).map(|c| c.iter().sum::<f64>() / c.len() as f64).collect()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Numeric {
    /// Initial sigma, relative to the start solution's scale.
    pub init_sigma: f64,
    pub lr: f64,
    shift: Vec<f64>,
    log_sigma: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    upsampling: Option<Upsampling>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    downsampling: Option<Downsampling>,
    /// tau: the spread of each proposal's log-scale around `log_sigma` (0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    spread: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deepening: Option<Deepening>,
    /// What the gradient needs of each of the current step's proposals. Not
    /// part of the checkpoint (a step's rollouts never outlive it).
    #[serde(skip)]
    noise: HashMap<RolloutId, Draw>,
}

/// The random draws behind one proposal.
#[derive(Clone, Debug, PartialEq)]
struct Draw {
    /// The standard-normal draw per coordinate.
    z: Vec<f64>,
    /// Whether it upsampled (None: not a choice).
    up: Option<bool>,
    /// Whether it downsampled (None: not a choice).
    down: Option<bool>,
    /// eps, its log-scale draw (None: spread off).
    eps: Option<f64>,
    /// The refine effort multiple it asked for.
    effort_scale: u32,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl Numeric {
    /// A policy for solutions whose coordinates fall into `blocks` roles.
    pub fn new(blocks: usize, init_sigma: f64, lr: f64) -> Numeric {
        let blocks = blocks.max(1);
        Numeric {
            init_sigma,
            lr,
            shift: vec![0.0; blocks],
            log_sigma: vec![init_sigma.ln(); blocks],
            upsampling: None,
            downsampling: None,
            spread: 0.0,
            deepening: None,
            noise: HashMap::new(),
        }
    }

    /// Give every proposal its own log-scale, `N(log sigma, tau^2)` (see the
    /// module doc): sigma then learns from the group which size worked. 0
    /// leaves it off.
    pub fn with_spread(mut self, tau: f64) -> Numeric {
        self.spread = tau.max(0.0);
        self
    }

    /// Deepen the refines as the run stalls: twice the effort per
    /// `per_doubling` steps without a new best, up to [`DEEPEST`] times (see
    /// the module doc). 0 leaves it off.
    pub fn with_deepening(mut self, per_doubling: u32) -> Numeric {
        self.deepening = (per_doubling > 0).then_some(Deepening { per_doubling, best_step: 0 });
        self
    }

    /// The policy `discover run` uses for a problem of this shape: a block
    /// per coordinate role (`multiple_of`), and upsampling up to
    /// `upsample_to` steps ([`DEFAULT_UPSAMPLE_TO`] when `None`, within the
    /// shape's limit) where the length is free and there is one role.
    pub fn for_shape(shape: &discover_contract::Shape, sigma: f64, lr: f64, upsample_to: Option<usize>) -> Numeric {
        let numeric = Numeric::new(shape.multiple_of as usize, sigma, lr);
        // Only step functions of free length can change resolution.
        let resizable = shape.multiple_of == 1 && shape.min_len < shape.max_len;
        let cap = upsample_to.unwrap_or(DEFAULT_UPSAMPLE_TO).min(shape.max_len as usize);
        if resizable { numeric.with_upsampling(cap) } else { numeric }
    }

    /// Let proposals double the resolution of the start (see the module
    /// doc), up to `max_len` values; `max_len` 0 leaves it off.
    pub fn with_upsampling(mut self, max_len: usize) -> Numeric {
        let logit = (INITIAL_UPSAMPLE / (1.0 - INITIAL_UPSAMPLE)).ln();
        self.upsampling = (max_len > 0).then_some(Upsampling { max_len, logit });
        self
    }

    /// Let proposals that do not upsample halve the resolution of starts of
    /// at least `min_len` steps ([`average_pool`]; see the module doc);
    /// `min_len` 0 leaves it off.
    pub fn with_downsampling(mut self, min_len: usize) -> Numeric {
        let logit = (INITIAL_DOWNSAMPLE / (1.0 - INITIAL_DOWNSAMPLE)).ln();
        self.downsampling = (min_len > 0).then_some(Downsampling { min_len: min_len.max(2), logit });
        self
    }

    /// The current probability that a proposal downsamples (None: off).
    pub fn downsample_probability(&self) -> Option<f64> {
        self.downsampling.as_ref().map(|d| sigmoid(d.logit))
    }

    /// The current probability that a proposal upsamples (None: off).
    pub fn upsample_probability(&self) -> Option<f64> {
        self.upsampling.as_ref().map(|u| sigmoid(u.logit))
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
    /// The new sigma and shift of each block, relative to the solution's
    /// scale, and the probability of upsampling where that is on.
    Stepped {
        sigma: Vec<f64>,
        shift: Vec<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        upsample: Option<f64>,
        /// The probability of halving the resolution, where that is on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        downsample: Option<f64>,
        /// The largest refine effort multiple among the step's proposals,
        /// where deepening is on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deepest: Option<u32>,
    },
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
        let original = &start.solution.values;
        let scale = rms(original);
        let blocks = self.shift.len();
        // Upsampling is a choice only where the doubled state fits.
        let upsample = self.upsampling.as_ref().filter(|u| 2 * original.len() <= u.max_len).map(|u| sigmoid(u.logit));
        // Built only where a proposal may use it (never for circle packings).
        let doubled: Vec<f64> =
            if upsample.is_some() { original.iter().flat_map(|&v| [v, v]).collect() } else { Vec::new() };
        let downsample =
            self.downsampling.as_ref().filter(|d| original.len() >= d.min_len).map(|d| sigmoid(d.logit));
        let halved: Vec<f64> = if downsample.is_some() { average_pool(original) } else { Vec::new() };
        let effort_scale = self.deepening.as_ref().map_or(1, |d| d.effort_scale(step));
        Ok((0..k)
            .map(|rollout| {
                let up = upsample.map(|p| rng.next_f64() < p);
                // Drawn only where it is a choice, so runs without it see the same numbers as before.
                let down = downsample.filter(|_| up != Some(true)).map(|q| rng.next_f64() < q);
                // Drawn only with a spread, so runs without one see the same numbers as before.
                let eps = (self.spread > 0.0).then(|| rng.normal());
                let s = if up == Some(true) {
                    &doubled
                } else if down == Some(true) {
                    &halved
                } else {
                    original
                };
                let noise: Vec<f64> = s.iter().map(|_| rng.normal()).collect();
                let log_scale = self.spread * eps.unwrap_or(0.0);
                let values = s
                    .iter()
                    .zip(&noise)
                    .enumerate()
                    .map(|(i, (si, z))| {
                        let b = i % blocks;
                        si + scale * (self.shift[b] + (self.log_sigma[b] + log_scale).exp() * z)
                    })
                    .collect();
                self.noise.insert(RolloutId::new(step, group, rollout), Draw { z: noise, up, down, eps, effort_scale });
                Action::Values { values, effort_scale }
            })
            .collect())
    }

    fn observe_best(&mut self, best: &State) {
        if let Some(d) = self.deepening.as_mut() {
            d.best_step = best.step;
        }
    }

    fn update(&mut self, batch: &[(RolloutId, f64)]) -> Result<Value> {
        let blocks = self.shift.len();
        let norm: f64 = batch.iter().map(|(_, a)| a.abs()).filter(|a| a.is_finite()).sum();
        if norm == 0.0 {
            return Ok(serde_json::to_value(NumericUpdate::Skipped { skipped: "no advantage".into() })?);
        }
        let (mut d_shift, mut d_log_sigma, mut d_logit) = (vec![0.0; blocks], vec![0.0; blocks], 0.0);
        let p = self.upsample_probability().unwrap_or(0.0);
        let q = self.downsample_probability().unwrap_or(0.0);
        let mut d_down = 0.0;
        for (id, advantage) in batch {
            let Some(Draw { z: noise, up, down, eps, .. }) = self.noise.get(id) else { continue };
            if !advantage.is_finite() || noise.is_empty() {
                continue;
            }
            let log_scale = self.spread * eps.unwrap_or(0.0);
            if let Some(up) = up {
                // d log P(u) / d lambda = u - p.
                d_logit += advantage * (if *up { 1.0 } else { 0.0 } - p);
            }
            if let Some(down) = down {
                d_down += advantage * (if *down { 1.0 } else { 0.0 } - q);
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
                    d_shift[b] += advantage * (self.log_sigma[b] + log_scale).exp() * sum_z[b] / m;
                    d_log_sigma[b] += advantage * if eps.is_some() { log_scale } else { sum_z2[b] / m / 2.0 };
                }
            }
        }
        for b in 0..blocks {
            self.shift[b] = (self.shift[b] + self.lr * d_shift[b] / norm).clamp(-MAX_SHIFT, MAX_SHIFT);
            self.log_sigma[b] =
                (self.log_sigma[b] + self.lr * d_log_sigma[b] / norm).clamp(MIN_LOG_SIGMA, MAX_LOG_SIGMA);
        }
        if let Some(u) = self.upsampling.as_mut() {
            u.logit = (u.logit + self.lr * d_logit / norm).clamp(-MAX_LOGIT, MAX_LOGIT);
        }
        if let Some(d) = self.downsampling.as_mut() {
            d.logit = (d.logit + self.lr * d_down / norm).clamp(-MAX_LOGIT, MAX_LOGIT);
        }
        Ok(serde_json::to_value(NumericUpdate::Stepped {
            sigma: self.sigmas(),
            shift: self.shift.clone(),
            upsample: self.upsample_probability(),
            downsample: self.downsample_probability(),
            deepest: self.deepening.as_ref().and_then(|_| {
                batch.iter().filter_map(|(id, _)| self.noise.get(id).map(|d| d.effort_scale)).max()
            }),
        })?)
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

    /// One step of a group of `k` proposals from `s`, rewarded by `reward`
    /// (which sees the policy, for its noise) and trained on the entropic
    /// advantages. A group whose rewards are all equal has no advantage and
    /// trains nothing.
    fn train_step(
        p: &mut Numeric,
        step: u32,
        s: &State,
        k: usize,
        seed: u64,
        mut reward: impl FnMut(&Numeric, RolloutId, &[f64]) -> f64,
    ) {
        let actions = p.sample(step, 0, s, k, &mut Rng::derive(seed, &[step as u64])).unwrap();
        let ids: Vec<RolloutId> = (0..actions.len()).map(|i| RolloutId::new(step, 0, i)).collect();
        let rewards: Vec<f64> = ids
            .iter()
            .zip(&actions)
            .map(|(id, a)| {
                let Action::Values { values, .. } = a else { panic!("not a values action") };
                reward(p, *id, values)
            })
            .collect();
        if let Some(adv) = discover_engine::advantages(discover_engine::Objective::Entropic, &rewards) {
            p.update(&ids.into_iter().zip(adv.advantages).collect::<Vec<_>>()).unwrap();
        }
    }

    #[test]
    fn proposals_are_centred_on_the_start_with_the_policy_sigma() {
        let mut p = Numeric::new(1, 0.1, 0.2);
        let s = start(vec![1.0; 50]);
        let actions = p.sample(1, 0, &s, 200, &mut Rng::new(3)).unwrap();
        let mut devs = Vec::new();
        for (i, a) in actions.iter().enumerate() {
            let Action::Values { values, .. } = a else { panic!() };
            let noise = &p.noise[&RolloutId::new(1, 0, i)].z;
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
            for step in 1..=20 {
                // Reward: the spread of the noise (or its opposite).
                train_step(&mut p, step, &s, 16, 1, |p, id, _| {
                    let spread = p.noise[&id].z.iter().map(|z| z * z).sum::<f64>();
                    if reward_wide { spread } else { -spread }
                });
            }
            let sigma = p.sigmas()[0];
            assert_eq!(sigma > 0.05, grows, "sigma {sigma}");
        }
    }

    /// The case the spread is for: many coordinates, where `mean(z^2 - 1)` is
    /// nearly the same for every proposal. Rewarding small proposals must
    /// shrink sigma within a few steps with a spread, and barely without one.
    #[test]
    fn a_spread_lets_sigma_learn_from_the_group_in_high_dimension() {
        let run = |tau: f64| -> f64 {
            let mut p = Numeric::new(1, 0.2, 0.1).with_spread(tau);
            let s = start(vec![1.0; 2000]);
            for step in 1..=10 {
                // Reward: closeness to the start (a smaller proposal is better).
                train_step(&mut p, step, &s, 16, 5, |_, _, values| {
                    -values.iter().map(|v| (v - 1.0).powi(2)).sum::<f64>().sqrt()
                });
            }
            p.sigmas()[0]
        };
        let (without, with) = (run(0.0), run(1.0));
        assert!(without > 0.15, "without a spread sigma moved to {without}");
        assert!(with < 0.1, "with a spread sigma only reached {with}");
        // The spread survives a checkpoint; the spread-free checkpoint has no field.
        let p = Numeric::new(1, 0.2, 0.1).with_spread(0.7);
        let mut q = Numeric::new(1, 0.2, 0.1);
        assert!(q.checkpoint().get("spread").is_none());
        q.restore(&p.checkpoint()).unwrap();
        assert_eq!(q.spread, 0.7);
    }

    #[test]
    fn without_a_spread_the_draws_are_the_ones_runs_always_saw() {
        // One normal per coordinate and nothing else: a seeded run without
        // --sigma-spread proposes exactly what it did before the spread existed.
        let mut p = Numeric::new(1, 0.1, 0.2);
        let s = start(vec![1.0; 5]);
        let actions = p.sample(1, 0, &s, 2, &mut Rng::new(9)).unwrap();
        let mut rng = Rng::new(9);
        for a in actions {
            let Action::Values { values, .. } = a else { panic!() };
            for v in values {
                assert_eq!(v, 1.0 + 1.0 * (0.1f64.ln()).exp() * rng.normal());
            }
        }
    }

    #[test]
    fn downsampled_proposals_pool_pairs_and_rewarding_them_makes_them_likelier() {
        assert_eq!(average_pool(&[1.0, 3.0, 2.0, 2.0, 5.0]), vec![2.0, 2.0, 5.0]);
        let mut p = Numeric::new(1, 1e-9, 0.5).with_downsampling(8);
        let before = p.downsample_probability().unwrap();
        let s = start((0..16).map(|i| i as f64).collect());
        let mut rng = Rng::new(3);
        let actions = p.sample(1, 0, &s, 64, &mut rng).unwrap();
        let lengths: Vec<usize> = actions
            .iter()
            .map(|a| match a {
                Action::Values { values, .. } => values.len(),
                _ => unreachable!(),
            })
            .collect();
        assert!(lengths.iter().all(|&n| n == 16 || n == 8), "{lengths:?}");
        let halved = lengths.iter().filter(|&&n| n == 8).count();
        assert!(halved > 0 && halved < 64, "{halved} of 64 halved");
        // Reward the halved ones: the probability rises.
        let batch: Vec<(RolloutId, f64)> = lengths
            .iter()
            .enumerate()
            .map(|(i, &n)| (RolloutId::new(1, 0, i), if n == 8 { 1.0 } else { -0.2 }))
            .collect();
        p.update(&batch).unwrap();
        assert!(p.downsample_probability().unwrap() > before);
        // A start below the threshold is never halved, and off means off.
        let short = start(vec![1.0; 6]);
        for a in p.sample(2, 0, &short, 16, &mut rng).unwrap() {
            let Action::Values { values, .. } = a else { unreachable!() };
            assert_eq!(values.len(), 6);
        }
        assert_eq!(Numeric::new(1, 0.1, 0.1).with_downsampling(0).downsample_probability(), None);
        // It survives a checkpoint.
        let mut q = Numeric::new(1, 0.5, 0.5);
        q.restore(&p.checkpoint()).unwrap();
        assert_eq!(q.downsample_probability(), p.downsample_probability());
    }

    #[test]
    fn upsampled_proposals_repeat_each_step_and_rewarding_them_makes_them_likelier() {
        let mut p = Numeric::new(1, 1e-9, 0.3).with_upsampling(40);
        let s = start((0..10).map(|i| i as f64).collect());
        let before = p.upsample_probability().unwrap();
        assert!((before - INITIAL_UPSAMPLE).abs() < 1e-12);
        let mut seen = false;
        for step in 1..=30 {
            train_step(&mut p, step, &s, 16, 2, |_, _, values| {
                if values.len() == 20 {
                    seen = true;
                    // Each step split in two (up to the tiny noise).
                    for (i, v) in values.iter().enumerate() {
                        assert!((v - (i / 2) as f64).abs() < 1e-6, "{values:?}");
                    }
                    1.0
                } else {
                    assert_eq!(values.len(), 10);
                    0.0
                }
            });
        }
        assert!(seen);
        let after = p.upsample_probability().unwrap();
        assert!(after > 0.5, "{before} -> {after}");
        // A start that cannot double within the limit is never upsampled.
        let long = start(vec![1.0; 30]);
        for a in p.sample(31, 0, &long, 32, &mut Rng::new(4)).unwrap() {
            let Action::Values { values, .. } = a else { panic!() };
            assert_eq!(values.len(), 30);
        }
        // The probability survives a checkpoint; an old checkpoint without it loads.
        let mut q = Numeric::new(1, 0.5, 0.5);
        q.restore(&p.checkpoint()).unwrap();
        assert_eq!(q.upsample_probability(), p.upsample_probability());
        let mut old = p.checkpoint();
        old.as_object_mut().unwrap().remove("upsampling");
        q.restore(&old).unwrap();
        assert_eq!(q.upsample_probability(), None);
    }

    #[test]
    fn upsampling_is_on_only_for_free_length_step_functions() {
        use discover_contract::Shape;
        let step_functions = Shape::range(1, 100_000);
        let p = Numeric::for_shape(&step_functions, 0.2, 0.1, None);
        assert_eq!(p.upsampling.as_ref().unwrap().max_len, DEFAULT_UPSAMPLE_TO);
        assert_eq!(Numeric::for_shape(&Shape::range(2, 1000), 0.2, 0.1, None).upsampling.unwrap().max_len, 1000);
        assert_eq!(Numeric::for_shape(&step_functions, 0.2, 0.1, Some(0)).upsample_probability(), None);
        let circles = Shape { min_len: 78, max_len: 78, multiple_of: 3 };
        let p = Numeric::for_shape(&circles, 0.2, 0.1, None);
        assert_eq!((p.upsample_probability(), p.shift.len()), (None, 3));
    }

    #[test]
    fn refines_deepen_as_the_run_stalls_and_a_new_best_resets_them() {
        let mut d = Deepening { per_doubling: 10, best_step: 0 };
        // Best found at step 0 (an initial state): step 1 has stalled for 0 steps.
        assert_eq!([1, 10, 11, 21, 31, 1000].map(|step| d.effort_scale(step)), [1, 1, 2, 4, 8, DEEPEST]);
        d.best_step = 30;
        assert_eq!([31, 40, 41].map(|step| d.effort_scale(step)), [1, 1, 2]);
        assert_eq!(Deepening { per_doubling: 1, best_step: u32::MAX }.effort_scale(3), 1);

        // Proposals carry the multiple, the update reports the deepest, a checkpoint keeps the setting.
        let (s, mut best) = (start(vec![1.0; 4]), start(vec![1.0; 4]));
        best.step = 2;
        let batch = [(RolloutId::new(7, 0, 0), 1.0), (RolloutId::new(7, 0, 1), -1.0)];
        let mut p = Numeric::new(1, 0.1, 0.1).with_deepening(2);
        p.observe_best(&best);
        let actions = p.sample(7, 0, &s, 4, &mut Rng::new(1)).unwrap();
        assert!(actions.iter().all(|a| matches!(a, Action::Values { effort_scale: 4, .. })), "{actions:?}");
        assert_eq!(p.update(&batch).unwrap()["deepest"], 4);
        let mut q = Numeric::new(1, 0.1, 0.1);
        q.restore(&p.checkpoint()).unwrap();
        assert_eq!(q.deepening.as_ref().map(|d| d.per_doubling), Some(2));
        // Off (the default, and 0): the run's effort, the same draws, no report field.
        let mut off = Numeric::new(1, 0.1, 0.1).with_deepening(0);
        off.observe_best(&best);
        let plain = off.sample(7, 0, &s, 4, &mut Rng::new(1)).unwrap();
        for (a, b) in plain.iter().zip(&actions) {
            let (Action::Values { values: x, effort_scale: 1 }, Action::Values { values: y, .. }) = (a, b) else { panic!("{a:?}") };
            assert_eq!(x, y);
        }
        assert!(off.update(&batch).unwrap().get("deepest").is_none());
        assert!(off.checkpoint().get("deepening").is_none());
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
