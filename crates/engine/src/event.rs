//! The run's record: one [`Event`] per line of `events.jsonl`, written by the
//! engine (and the CLI's `error` line) and read back by reports, summaries and
//! tests through these types, never by string keys.
//!
//! The JSON is the one runs have always written (an internally tagged `type`),
//! so directories made before these types existed read back unchanged. A line
//! that does not parse is an error that names the file and the line.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Failure, StepReport};

/// One line of `events.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    /// An initial state of the buffer, before step 1.
    Initial(InitialEvent),
    /// One rollout of a step.
    Rollout(RolloutEvent),
    /// The end of a step: what it did, its advantages, the policy's update.
    Step(Box<StepEvent>),
    /// The step that failed; the run stopped and can be resumed.
    Error(ErrorEvent),
}

impl Event {
    /// The step the event belongs to (0 for initial states).
    pub fn step(&self) -> u32 {
        match self {
            Event::Initial(e) => e.step,
            Event::Rollout(e) => e.step,
            Event::Step(e) => e.report.step,
            Event::Error(e) => e.step,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InitialEvent {
    pub step: u32,
    pub seed: u64,
    pub score: f64,
    pub reward: f64,
    /// A state given to the run (`--init FILE`) rather than the problem's
    /// initial state for `seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Prompt and completion tokens, for policies that spend them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub prompt: u64,
    pub completion: u64,
}

impl std::ops::AddAssign for Tokens {
    fn add_assign(&mut self, other: Tokens) {
        self.prompt += other.prompt;
        self.completion += other.completion;
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolloutEvent {
    pub step: u32,
    pub group: usize,
    pub index: usize,
    /// The start state's id.
    pub start: u64,
    pub seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Tokens>,
    /// The verifier's score of a valid child.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// 0 for a failure.
    pub reward: f64,
    /// The child's id, when it entered the buffer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<u64>,
    /// The state the child duplicated, when it was rejected as a duplicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

/// Min, max, mean |A| and count of a step's advantages.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AdvantageSummary {
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean_abs: f64,
    pub count: usize,
}

impl AdvantageSummary {
    pub fn add(&mut self, a: f64) {
        self.min = Some(self.min.map_or(a, |m| m.min(a)));
        self.max = Some(self.max.map_or(a, |m| m.max(a)));
        // mean_abs holds the sum until `finish`.
        self.mean_abs += a.abs();
        self.count += 1;
    }

    pub fn finish(mut self) -> AdvantageSummary {
        self.mean_abs /= self.count.max(1) as f64;
        self
    }
}

/// The range of the adaptive beta over a step's groups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BetaRange {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepEvent {
    #[serde(flatten)]
    pub report: StepReport,
    /// States the flush evicted.
    pub evicted: usize,
    pub advantages: AdvantageSummary,
    pub beta: BetaRange,
    /// What the policy's update reported (its own figures; `null` when no group
    /// had an advantage to learn from).
    pub policy: Value,
    /// The folder the policy's files were written to this step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_files: Option<String>,
    /// What sampling cost (requests, retries), for policies that say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Tokens>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorEvent {
    pub step: u32,
    pub message: String,
}
