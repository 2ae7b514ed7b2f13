//! Policies: what proposes actions from a start state, and learns from their
//! advantages. The engine sees only the [`Policy`] trait.
//!
//! - [`numeric::Numeric`]: Gaussian proposals around the start solution with a
//!   learnable mean shift and scale, trained by the entropic policy gradient.
//! - [`Restarts`]: the baseline a user would run without us: the problem's
//!   initial state for a fresh seed each time, then the same `refine`.
//! - [`LlmPolicy`]: prompts from start states, completions from a [`Sampler`]
//!   (an OpenAI-compatible server, or a local model), programs run in the
//!   Python sandbox; trained by a [`Trainer`] (LoRA on a local model) or
//!   sampling only (the frozen baseline).

pub mod llm;
pub mod numeric;
pub mod openai;

use std::path::Path;

use anyhow::Result;
use serde_json::Value;

use crate::engine::{Action, Rng, State};

pub use llm::{LlmPolicy, LocalSampler, LocalTrainer, Sampler, Trainer};
pub use numeric::Numeric;
pub use openai::{OpenAiSampler, OpenAiSettings};

/// A policy: sample a group of actions for a start state; update from a batch of
/// (action, advantage) pairs. One `update` per training step.
pub trait Policy: Send {
    fn name(&self) -> &'static str;

    /// `k` actions for rollouts from `start`. Randomness comes only from `rng`.
    fn sample(&mut self, start: &State, k: usize, rng: &mut Rng) -> Vec<Action>;

    /// `k` actions for each start state, group `g` drawing on `rngs[g]`. Policies
    /// that sample remotely or in batches override this to do the groups at
    /// once; an error (a server that stays down) aborts the step, which the run
    /// can then resume.
    fn sample_groups(&mut self, starts: &[State], k: usize, rngs: &mut [Rng]) -> Result<Vec<Vec<Action>>> {
        Ok(starts.iter().zip(rngs.iter_mut()).map(|(s, rng)| self.sample(s, k, rng)).collect())
    }

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
    fn update(&mut self, batch: &[(&Action, f64)]) -> Result<Value>;

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

/// Random restarts: ignores the start state and never learns.
#[derive(Debug, Default)]
pub struct Restarts;

impl Policy for Restarts {
    fn name(&self) -> &'static str {
        "restarts"
    }

    fn trains(&self) -> bool {
        false
    }

    fn sample(&mut self, _start: &State, k: usize, rng: &mut Rng) -> Vec<Action> {
        (0..k).map(|_| Action::Restart { seed: rng.next_u64() }).collect()
    }

    fn update(&mut self, _batch: &[(&Action, f64)]) -> Result<Value> {
        Ok(Value::Null)
    }

    fn checkpoint(&self) -> Value {
        Value::Null
    }

    fn restore(&mut self, _saved: &Value) -> Result<()> {
        Ok(())
    }
}
