//! # discover-engine
//!
//! The discovery loop of TTT-Discover (`docs/algorithm.md`): a buffer of states
//! with PUCT reuse, entropic advantages, and the step that ties them to a
//! [`Policy`] and an [`Environment`]. Both are traits defined here and
//! implemented above (`discover-policy`, `discover-rollout`), so this crate
//! depends on the contract types alone: no wasmtime, no LLM, no HTTP.
//!
//! Data flows one way through a step: `buffer.select` -> `policy.sample` ->
//! `environment.execute` (concurrently) -> rewards -> `buffer.insert` ->
//! `buffer.flush` -> `advantages` -> `policy.update` -> checkpoint.

pub mod advantages;
pub mod buffer;
pub mod event;
pub mod parallel;
pub mod policy;
pub mod rng;
pub mod rundir;
pub mod run;

use serde::{Deserialize, Serialize};

use discover_contract::{Direction, Solution};

pub use advantages::{advantages, GroupAdvantages, Objective};
pub use buffer::{Buffer, BufferStats, NewState, Reuse, State};
pub use discover_contract::failure::{FailureKind, ProblemFailure, ProgramFailure, RolloutFailure};
pub use event::{Event, Tokens};
pub use policy::{Policy, RolloutId};
pub use rng::Rng;
pub use run::{Run, Seed, Settings, StepReport};
pub use rundir::{Checkpoint, RunDir};

/// What a policy proposes for one rollout, and all the environment needs to
/// execute it. What a policy needs to learn from it (the numeric policy's noise,
/// an LLM's token ids and log-probs) stays inside the policy, keyed by
/// [`RolloutId`]: nothing private rides through the environment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Action {
    /// A proposed solution vector (repaired, refined and scored by the problem).
    Values {
        values: Vec<f64>,
        /// Refine it with this multiple of the run's effort (1: the run's).
        /// The numeric policy deepens the refines of starts whose children
        /// stopped beating them.
        #[serde(default = "one", skip_serializing_if = "is_one")]
        effort_scale: u32,
    },
    /// Ignore the start state: begin from the problem's initial state for `seed`
    /// (the random-restarts baseline).
    Restart { seed: u64 },
    /// A program to run from the start state, in the candidate runtime of its
    /// language.
    Program(Box<Program>),
}

fn one() -> u32 {
    1
}

fn is_one(x: &u32) -> bool {
    *x == 1
}

impl Action {
    /// A proposed vector refined with the run's effort.
    pub fn values(values: Vec<f64>) -> Action {
        Action::Values { values, effort_scale: 1 }
    }

    /// Prompt and completion tokens, for actions that cost tokens.
    pub fn tokens(&self) -> Option<Tokens> {
        match self {
            Action::Program(p) => p.tokens,
            _ => None,
        }
    }
}

/// A program a policy wrote, with the answer it came in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Program {
    /// The language (its fence name, `python`): which candidate runtime runs it.
    pub language: String,
    /// The program: the answer's last code block in `language`; `None` makes the
    /// rollout a failure (`no-code`) with reward 0.
    pub code: Option<String>,
    /// The whole answer the program was taken from.
    pub text: String,
    /// Why sampling stopped: `stop` or `length`.
    pub finish: String,
    /// What writing it cost: the group's prompt (counted on its first rollout)
    /// and this completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Tokens>,
}

/// Where a state came from, for policies that write programs: what a prompt
/// shows of the start state besides its solution and score.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The program that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The tail of that program's output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    /// The score of the state the rollout started from ("before -> after").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<f64>,
}

/// A solution the environment produced and the verifier accepted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluated {
    pub solution: Solution,
    pub score: f64,
    /// The program and its output; the engine adds `before`.
    pub provenance: Provenance,
}

impl Evaluated {
    pub fn new(solution: Solution, score: f64) -> Evaluated {
        Evaluated { solution, score, provenance: Provenance::default() }
    }
}

/// Why a rollout produced no state: a typed kind (stable, for machines) and a
/// message (for people).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: impl Into<FailureKind>, message: impl Into<String>) -> Failure {
        Failure { kind: kind.into(), message: message.into() }
    }
}

/// Executes actions: the sandboxed side of a rollout.
pub trait Environment: Sync {
    /// The problem's own starting state for `seed`, scored.
    fn initial(&self, seed: u64) -> Result<Evaluated, Failure>;
    /// Execute `action` from `start` and score the result.
    fn execute(&self, start: &State, action: &Action) -> Result<Evaluated, Failure>;
}

/// Where a step's rollouts run. Without one the engine runs them on its own
/// threads; an executor can put them elsewhere (SLURM job steps) as long as
/// it returns one outcome per rollout, in order, each from
/// `env.execute(start, action)` or an equivalent environment.
pub trait Executor: Sync {
    /// Each rollout's outcome and its wall time in seconds, in order.
    fn execute(&self, env: &dyn Environment, step: u32, rollouts: &[(&State, &Action)]) -> Vec<(Result<Evaluated, Failure>, f64)>;
}

/// The reward of a score: larger is better, failures get 0. Maximised scores
/// are rewards as they are; a minimised score s > 0 gets 1/s (so that a failure's
/// 0 stays below every success). A minimised score <= 0 cannot be rewarded.
pub fn reward(direction: Direction, score: f64) -> Result<f64, Failure> {
    match direction {
        Direction::Maximize => Ok(score),
        Direction::Minimize if score > 0.0 => Ok(1.0 / score),
        Direction::Minimize => Err(Failure::new(
            RolloutFailure::Unrewardable,
            format!("a minimised score must be positive to be rewarded as 1/score; got {score}"),
        )),
    }
}
