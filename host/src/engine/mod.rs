//! The discovery loop (`../shared/reference/algorithm.md`): a buffer of states
//! with PUCT reuse, entropic advantages, and the step that ties them to a policy
//! and an environment. Nothing here knows about wasmtime: the [`Environment`]
//! that executes actions is a trait, implemented over the sandbox in `problem/`.
//!
//! Data flows one way through a step: `buffer.select` -> `policy.sample` ->
//! `environment.execute` (concurrently) -> rewards -> `buffer.insert` ->
//! `buffer.flush` -> `advantages` -> `policy.update` -> checkpoint.

pub mod advantages;
pub mod buffer;
pub mod rng;
pub mod rundir;
pub mod run;

use serde::{Deserialize, Serialize};

use crate::problem::{Direction, Solution};

pub use advantages::{advantages, GroupAdvantages, Objective};
pub use buffer::{Buffer, BufferStats, NewState, Reuse, State};
pub use rng::Rng;
pub use run::{Run, Settings, StepReport};
pub use rundir::{Checkpoint, RunDir};

/// What a policy emits for one rollout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Action {
    /// A proposed solution vector, and the standard-normal draw that produced it
    /// (what the numeric policy's gradient needs).
    Proposal { values: Vec<f64>, noise: Vec<f64> },
    /// Ignore the start state: begin from the problem's initial state for `seed`
    /// (the random-restarts baseline).
    Restart { seed: u64 },
    /// An LLM policy's answer and the program in it.
    Completion(Box<Completion>),
}

impl Action {
    /// Prompt and completion tokens, for actions that cost tokens.
    pub fn tokens(&self) -> Option<(u64, u64)> {
        match self {
            Action::Completion(c) => Some((c.prompt_tokens, c.completion_tokens)),
            _ => None,
        }
    }
}

/// What an LLM policy wrote for one rollout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    pub text: String,
    /// The last fenced code block (see `prompt::extract_code`); `None` makes
    /// the rollout a failure with reward 0.
    pub code: Option<String>,
    /// Why sampling stopped: `stop` or `length`.
    pub finish: String,
    /// Tokens of the prompt (shared by the group) and of this completion.
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// The prompt's and the completion's token ids and the sampler's log-prob
    /// of each completion token, where the policy has them (a local model):
    /// what training needs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prompt_ids: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logprobs: Vec<f32>,
}

/// A solution the environment produced and the verifier accepted.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluated {
    pub solution: Solution,
    pub score: f64,
    pub code: Option<String>,
    pub stdout: Option<String>,
}

/// Why a rollout produced no state. `kind` is short and stable (`invalid`,
/// `deadline`, `out-of-fuel`, ...); `message` is for people.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: String,
    pub message: String,
}

/// Executes actions: the sandboxed side of a rollout.
pub trait Environment: Sync {
    /// The problem's own starting state for `seed`, scored.
    fn initial(&self, seed: u64) -> Result<Evaluated, Failure>;
    /// Execute `action` from `start` and score the result.
    fn execute(&self, start: &State, action: &Action) -> Result<Evaluated, Failure>;
}

/// The reward of a score: larger is better, failures get 0. Maximised scores
/// are rewards as they are; a minimised score s > 0 gets 1/s (so that a failure's
/// 0 stays below every success). A minimised score <= 0 cannot be rewarded.
pub fn reward(direction: Direction, score: f64) -> Result<f64, Failure> {
    match direction {
        Direction::Maximize => Ok(score),
        Direction::Minimize if score > 0.0 => Ok(1.0 / score),
        Direction::Minimize => Err(Failure {
            kind: "unrewardable".into(),
            message: format!("a minimised score must be positive to be rewarded as 1/score; got {score}"),
        }),
    }
}
