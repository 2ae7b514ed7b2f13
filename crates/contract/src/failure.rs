//! Why a rollout produced no state, as types: the kinds a run records in
//! `events.jsonl` and a leaderboard shows. Each layer names its own failures
//! (the problem sandbox in `discover-problem`, program outcomes in
//! `discover-candidate`) and maps them onto these; the JSON is the kebab-case name
//! alone (`"deadline"`, `"no-code"`), as runs have always written it.

use serde::{Deserialize, Serialize};

/// Why a rollout failed. Reading a name back takes the first layer that knows
/// it, so `out-of-memory` (a problem's and a program's) reads as the problem's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FailureKind {
    /// Decided by the rollout itself or the verifier's verdict.
    Rollout(RolloutFailure),
    /// A call into the problem component failed.
    Problem(ProblemFailure),
    /// The candidate program ended without a usable solution.
    Program(ProgramFailure),
}

/// Failures of the rollout as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RolloutFailure {
    /// The verifier judged the solution invalid (the message is its reason).
    Invalid,
    /// A minimised score <= 0, which has no reward 1/score.
    Unrewardable,
    /// The answer held no code block in the expected language.
    NoCode,
    /// No candidate runtime for the program's language in this run.
    NoRuntime,
    /// The host could not run the candidate (a broken runtime, a pool shut
    /// down): not the program's fault.
    #[serde(rename = "sandbox")]
    Host,
}

/// A call into a problem (a Wasm component or a native plugin) that produced no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemFailure {
    OutOfFuel,
    Deadline,
    OutOfMemory,
    GuestPanic,
    StackOverflow,
    Trap,
    Load,
    InvalidVerdict,
    Refused,
    /// A native plugin process exited during the call (it is restarted).
    PluginCrashed,
    /// A native plugin answered outside the protocol (it is restarted).
    PluginProtocol,
}

/// A candidate program that ended without a usable solution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProgramFailure {
    SyntaxError,
    Exception,
    Timeout,
    OutOfMemory,
    OutputTooLarge,
    NoResult,
    InvalidResult,
    /// A compiled language's compiler refused the program (or hit its limits).
    CompileError,
    /// A contest program used its whole time limit (deterministic program time).
    TimeLimit,
    /// A contest program crashed or exited with a non-zero status.
    RuntimeError,
    /// A contest program's output broke the problem's rules (the scorer's reason).
    WrongAnswer,
}

impl From<RolloutFailure> for FailureKind {
    fn from(k: RolloutFailure) -> FailureKind {
        FailureKind::Rollout(k)
    }
}

impl From<ProblemFailure> for FailureKind {
    fn from(k: ProblemFailure) -> FailureKind {
        FailureKind::Problem(k)
    }
}

impl From<ProgramFailure> for FailureKind {
    fn from(k: ProgramFailure) -> FailureKind {
        FailureKind::Program(k)
    }
}

impl FailureKind {
    /// The kebab-case name, as in `events.jsonl`.
    pub fn name(self) -> String {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(s)) => s,
            _ => unreachable!("every failure kind serialises to a string"),
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_their_names_in_json_and_read_back() {
        let cases: [(FailureKind, &str); 5] = [
            (RolloutFailure::NoCode.into(), "no-code"),
            (RolloutFailure::Host.into(), "sandbox"),
            (ProblemFailure::Deadline.into(), "deadline"),
            (ProblemFailure::InvalidVerdict.into(), "invalid-verdict"),
            (ProgramFailure::OutputTooLarge.into(), "output-too-large"),
        ];
        for (kind, name) in cases {
            assert_eq!(serde_json::to_value(kind).unwrap(), serde_json::json!(name));
            assert_eq!(serde_json::from_value::<FailureKind>(serde_json::json!(name)).unwrap(), kind);
            assert_eq!(kind.to_string(), name);
        }
        // A name no layer knows is refused, not guessed.
        assert!(serde_json::from_value::<FailureKind>(serde_json::json!("frobnicated")).is_err());
    }
}
