//! The seam between the loop and whatever proposes: the [`Policy`] trait. The
//! implementations (numeric, restarts, LLM) live in `discover-policy`.

use std::path::Path;

use anyhow::Result;
use serde_json::Value;

use serde::{Deserialize, Serialize};

use crate::{Action, Rng, State};

/// Names one rollout: the `index`-th action of group `group` in step `step`.
/// Policies key what they keep for learning (noise, token ids, log-probs) by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RolloutId {
    pub step: u32,
    pub group: u32,
    pub index: u32,
}

impl RolloutId {
    pub fn new(step: u32, group: usize, index: usize) -> RolloutId {
        RolloutId { step, group: group as u32, index: index as u32 }
    }
}

/// A policy: sample a group of actions for a start state; update from a batch of
/// (rollout, advantage) pairs. One `update` per training step.
///
/// The engine hands a policy back only the ids of its rollouts: whatever the
/// policy needs to learn from an action it keeps itself, keyed by [`RolloutId`]
/// (and may drop at the next step: ids of earlier steps never come back).
pub trait Policy: Send {
    fn name(&self) -> &'static str;

    /// `k` actions for rollouts from `start`, the `i`-th being rollout
    /// `RolloutId::new(step, group, i)`. Randomness comes only from `rng`. An
    /// error (a server that stays down) aborts the step, which the run can then
    /// resume.
    fn sample(&mut self, step: u32, group: usize, start: &State, k: usize, rng: &mut Rng) -> Result<Vec<Action>>;

    /// `k` actions for each start state, group `g` drawing on `rngs[g]`. Policies
    /// that sample remotely or in batches override this to do the groups at
    /// once.
    fn sample_groups(&mut self, step: u32, starts: &[State], k: usize, rngs: &mut [Rng]) -> Result<Vec<Vec<Action>>> {
        starts.iter().zip(rngs.iter_mut()).enumerate().map(|(g, (s, rng))| self.sample(step, g, s, k, rng)).collect()
    }

    /// Told before each step's sampling: the run's best state so far (its
    /// `step` says when it was found, so how long the run has stalled). The
    /// numeric policy deepens its refines as a run stalls; others ignore it.
    fn observe_best(&mut self, _best: &State) {}

    /// Figures about sampling since the last call (requests, retries), for the
    /// step's event line.
    fn sample_stats(&mut self) -> Value {
        Value::Null
    }

    /// Whether `update` trains (false: a frozen policy searching with reuse).
    fn trains(&self) -> bool {
        true
    }

    /// One optimiser step on the policy-gradient loss with these advantages;
    /// returns figures for the step's event line. An error (a trainer out of
    /// memory) aborts the step, which the run can then resume.
    fn update(&mut self, batch: &[(RolloutId, f64)]) -> Result<Value>;

    /// The learnable state small enough for the run's checkpoint (JSON).
    fn checkpoint(&self) -> Value;

    /// Restore what [`Policy::checkpoint`] saved.
    fn restore(&mut self, saved: &Value) -> Result<()>;

    /// Learnable state too large for JSON (adapter weights, optimiser
    /// moments), written as files into the empty directory `dir`. False: the
    /// policy has none (everything is in [`Policy::checkpoint`]).
    fn save_files(&self, _dir: &Path) -> Result<bool> {
        Ok(false)
    }

    /// Restore what [`Policy::save_files`] wrote into `dir`.
    fn restore_files(&mut self, dir: &Path) -> Result<()> {
        anyhow::bail!("policy {} keeps no files, but the checkpoint names {}", self.name(), dir.display())
    }
}

