//! Policies: what proposes actions from a start state, and learns from their
//! advantages. The engine sees only the [`Policy`] trait.
//!
//! - [`numeric::Numeric`]: Gaussian proposals around the start solution with a
//!   learnable mean shift and scale, trained by the entropic policy gradient.
//! - [`Restarts`]: the baseline a user would run without us: the problem's
//!   initial state for a fresh seed each time, then the same `refine`.

pub mod numeric;

use anyhow::Result;
use serde_json::Value;

use crate::engine::{Action, Rng, State};

pub use numeric::Numeric;

/// A policy: sample a group of actions for a start state; update from a batch of
/// (action, advantage) pairs. One `update` per training step.
pub trait Policy: Send {
    fn name(&self) -> &'static str;

    /// `k` actions for rollouts from `start`. Randomness comes only from `rng`.
    fn sample(&mut self, start: &State, k: usize, rng: &mut Rng) -> Vec<Action>;

    /// One optimiser step on the policy-gradient loss with these advantages;
    /// returns figures for the step's event line.
    fn update(&mut self, batch: &[(&Action, f64)]) -> Value;

    /// The learnable state, for the run's checkpoint.
    fn checkpoint(&self) -> Value;

    /// Restore what [`Policy::checkpoint`] saved.
    fn restore(&mut self, saved: &Value) -> Result<()>;
}

/// Random restarts: ignores the start state and never learns.
#[derive(Debug, Default)]
pub struct Restarts;

impl Policy for Restarts {
    fn name(&self) -> &'static str {
        "restarts"
    }

    fn sample(&mut self, _start: &State, k: usize, rng: &mut Rng) -> Vec<Action> {
        (0..k).map(|_| Action::Restart { seed: rng.next_u64() }).collect()
    }

    fn update(&mut self, _batch: &[(&Action, f64)]) -> Value {
        Value::Null
    }

    fn checkpoint(&self) -> Value {
        Value::Null
    }

    fn restore(&mut self, _saved: &Value) -> Result<()> {
        Ok(())
    }
}
