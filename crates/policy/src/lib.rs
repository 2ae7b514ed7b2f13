//! # discover-policy
//!
//! Policies: what proposes actions from a start state, and learns from their
//! advantages. The engine sees only its [`Policy`] trait; this crate holds the
//! implementations and the prompts the LLM policies write.
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
pub mod prompt;

use anyhow::Result;
use serde_json::Value;

use discover_engine::{Action, Rng, RolloutId, State};

pub use llm::{Completion, LlmPolicy, LocalSampler, LocalTrainer, Sampler, Trainer};
pub use discover_engine::Policy;
pub use numeric::Numeric;
pub use llm::LlmUpdate;
pub use numeric::NumericUpdate;
pub use openai::{OpenAiSampler, OpenAiSettings, SamplingStats};

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

    fn sample(&mut self, _step: u32, _group: usize, _start: &State, k: usize, rng: &mut Rng) -> Result<Vec<Action>> {
        Ok((0..k).map(|_| Action::Restart { seed: rng.next_u64() }).collect())
    }

    fn update(&mut self, _batch: &[(RolloutId, f64)]) -> Result<Value> {
        Ok(Value::Null)
    }

    fn checkpoint(&self) -> Value {
        Value::Null
    }

    fn restore(&mut self, _saved: &Value) -> Result<()> {
        Ok(())
    }
}
