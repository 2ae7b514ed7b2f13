//! Host-side data types of the contract: plain, serialisable, checked.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::bindings::discover::problem::types as wit;
use super::HostCaps;
use crate::sandbox::Limits;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Minimize,
    Maximize,
}

impl Direction {
    /// Whether `a` is strictly better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Direction::Minimize => a < b,
            Direction::Maximize => a > b,
        }
    }
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Direction::Minimize => "minimize",
            Direction::Maximize => "maximize",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestKnown {
    pub value: f64,
    pub source: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    pub min_len: u32,
    pub max_len: u32,
    pub multiple_of: u32,
}

impl Shape {
    /// Why a solution of `len` values breaks these rules, if it does.
    pub fn violation(&self, len: usize) -> Option<String> {
        let m = self.multiple_of.max(1) as usize;
        if len < self.min_len as usize || len > self.max_len as usize {
            let wanted = if self.min_len == self.max_len {
                format!("exactly {}", self.min_len)
            } else {
                format!("between {} and {}", self.min_len, self.max_len)
            };
            return Some(format!("expected {wanted} values, got {len}"));
        }
        if len % m != 0 {
            return Some(format!("expected a multiple of {m} values, got {len}"));
        }
        None
    }

    pub fn describe(&self) -> String {
        let base = if self.min_len == self.max_len {
            format!("exactly {} values", self.min_len)
        } else {
            format!("{} to {} values", self.min_len, self.max_len)
        };
        if self.multiple_of > 1 { format!("{base}, a multiple of {}", self.multiple_of) } else { base }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budgets {
    pub evaluate_fuel: u64,
    pub evaluate_millis: u32,
    pub memory_mib: u32,
    pub candidate_seconds: u32,
}

impl Default for Budgets {
    fn default() -> Budgets {
        Budgets { evaluate_fuel: 1_000_000_000, evaluate_millis: 10_000, memory_mib: 256, candidate_seconds: 60 }
    }
}

impl Budgets {
    /// The limits the host grants: what the problem suggests, capped by `caps`.
    pub fn limits(&self, caps: &HostCaps) -> Limits {
        Limits {
            fuel: Some(self.evaluate_fuel.min(caps.max_fuel)),
            deadline: Duration::from_millis(self.evaluate_millis as u64).min(caps.max_deadline),
            memory_bytes: ((self.memory_mib as usize) << 20).min(caps.max_memory_bytes),
            ..Limits::default()
        }
    }
}

/// What a problem says about itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    pub id: String,
    pub title: String,
    pub statement: String,
    pub direction: Direction,
    pub best_known: Option<BestKnown>,
    pub shape: Shape,
    pub budgets: Budgets,
}

impl Spec {
    /// Reject specs the host cannot work with.
    pub fn check(&self) -> Result<(), String> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 64
            && self.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !id_ok {
            return Err(format!(
                "problem id {:?} must be 1-64 characters of a-z, 0-9 and '-'",
                self.id
            ));
        }
        if self.shape.min_len > self.shape.max_len {
            return Err(format!(
                "shape has min-len {} above max-len {}",
                self.shape.min_len, self.shape.max_len
            ));
        }
        if let Some(b) = &self.best_known {
            if !b.value.is_finite() {
                return Err(format!("best known value {} is not finite", b.value));
            }
        }
        Ok(())
    }
}

impl From<wit::ProblemSpec> for Spec {
    fn from(s: wit::ProblemSpec) -> Spec {
        Spec {
            id: s.id,
            title: s.title,
            statement: s.statement,
            direction: match s.direction {
                wit::Direction::Minimize => Direction::Minimize,
                wit::Direction::Maximize => Direction::Maximize,
            },
            best_known: s.best_known.map(|b| BestKnown { value: b.value, source: b.source }),
            shape: Shape { min_len: s.shape.min_len, max_len: s.shape.max_len, multiple_of: s.shape.multiple_of },
            budgets: Budgets {
                evaluate_fuel: s.budgets.evaluate_fuel,
                evaluate_millis: s.budgets.evaluate_millis,
                memory_mib: s.budgets.memory_mib,
                candidate_seconds: s.budgets.candidate_seconds,
            },
        }
    }
}

/// A candidate solution.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Solution {
    pub values: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl Solution {
    pub fn new(values: Vec<f64>) -> Solution {
        Solution { values, text: None }
    }

    pub(super) fn to_wit(&self) -> wit::Solution {
        wit::Solution { values: self.values.clone(), text: self.text.clone() }
    }
}

impl From<wit::Solution> for Solution {
    fn from(s: wit::Solution) -> Solution {
        Solution { values: s.values, text: s.text }
    }
}

/// The judgement of one solution.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    pub valid: bool,
    /// The score of a valid solution; `None` for an invalid one.
    pub score: Option<f64>,
    pub reason: Option<String>,
    /// Named figures, in the order the problem gave them.
    pub metrics: Vec<(String, f64)>,
}

impl Verdict {
    pub fn invalid(reason: impl Into<String>) -> Verdict {
        Verdict { valid: false, score: None, reason: Some(reason.into()), metrics: Vec::new() }
    }

    /// The contract: a valid verdict has a finite score; an invalid one a reason.
    pub fn check(&self) -> Result<(), String> {
        match (self.valid, self.score, &self.reason) {
            (true, Some(s), _) if s.is_finite() => Ok(()),
            (true, s, _) => Err(format!(
                "the problem called a solution valid with a non-finite score ({})",
                s.map_or("none".into(), |s| s.to_string())
            )),
            (false, _, Some(r)) if !r.trim().is_empty() => Ok(()),
            (false, _, _) => Err("the problem called a solution invalid without a reason".into()),
        }
    }
}

impl From<wit::Verdict> for Verdict {
    fn from(v: wit::Verdict) -> Verdict {
        Verdict {
            valid: v.valid,
            score: v.valid.then_some(v.score),
            reason: if v.valid { None } else { v.reason },
            metrics: v.metrics.into_iter().map(|m| (m.name, m.value)).collect(),
        }
    }
}
