//! # discover-contract
//!
//! The plain data types of the problem contract (`wit/problem.wit`), shared by
//! every layer of the host: a problem's [`Spec`] (with its [`Shape`], [`Budgets`]
//! and [`Direction`]), a [`Solution`], and the [`Verdict`] on it. No wasmtime, no
//! I/O: just values, their checks, and the JSON form of a solution.
//!
//! The same types serve the host and the Wasm guest SDK (`discover-guest`
//! re-exports them, with their builders, to problem authors). Guests build the
//! crate without its default `host` feature: no serde, no I/O.

#[cfg(feature = "host")]
pub mod failure;
#[cfg(feature = "host")]
pub mod fs;
#[cfg(feature = "host")]
mod solution;
pub mod text;

#[cfg(feature = "host")]
use serde::{Deserialize, Serialize};

#[cfg(feature = "host")]
pub use solution::{parse_solution_json, read_solution_file, solution_json};

/// How many characters of a candidate program's output (stdout, stderr) are kept
/// for reports and shown back to the policy in the next prompt.
pub const OUTPUT_TAIL_CHARS: usize = 500;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "host", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "host", serde(rename_all = "lowercase"))]
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

#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "host", derive(Serialize, Deserialize))]
pub struct BestKnown {
    pub value: f64,
    pub source: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "host", derive(Serialize, Deserialize))]
pub struct Shape {
    pub min_len: u32,
    pub max_len: u32,
    pub multiple_of: u32,
}

impl Shape {
    /// Exactly `len` values.
    pub fn exact(len: u32) -> Shape {
        Shape { min_len: len, max_len: len, multiple_of: 1 }
    }

    /// Between `min_len` and `max_len` values, inclusive.
    pub fn range(min_len: u32, max_len: u32) -> Shape {
        Shape { min_len, max_len, multiple_of: 1 }
    }

    /// Whether `len` satisfies these rules.
    pub fn admits(&self, len: usize) -> bool {
        self.violation(len).is_none()
    }

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "host", derive(Serialize, Deserialize))]
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

/// What a problem says about itself.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "host", derive(Serialize, Deserialize))]
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
    /// A spec with defaults (any length, default budgets); the setters below
    /// fill in the rest. What problem authors start from.
    pub fn new(id: &str, title: &str, direction: Direction) -> Spec {
        Spec {
            id: id.to_string(),
            title: title.to_string(),
            statement: String::new(),
            direction,
            best_known: None,
            shape: Shape::range(1, u32::MAX),
            budgets: Budgets::default(),
        }
    }

    pub fn statement(mut self, text: &str) -> Spec {
        self.statement = text.to_string();
        self
    }

    pub fn best_known(mut self, value: f64, source: &str) -> Spec {
        self.best_known = Some(BestKnown { value, source: source.to_string() });
        self
    }

    pub fn shape(mut self, shape: Shape) -> Spec {
        self.shape = shape;
        self
    }

    pub fn budgets(mut self, budgets: Budgets) -> Spec {
        self.budgets = budgets;
        self
    }

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

/// A candidate solution.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "host", derive(Serialize, Deserialize))]
pub struct Solution {
    pub values: Vec<f64>,
    #[cfg_attr(feature = "host", serde(default, skip_serializing_if = "Option::is_none"))]
    pub text: Option<String>,
}

impl Solution {
    pub fn new(values: Vec<f64>) -> Solution {
        Solution { values, text: None }
    }
}

/// The judgement of one solution.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "host", derive(Serialize))]
pub struct Verdict {
    pub valid: bool,
    /// The score of a valid solution; `None` for an invalid one.
    pub score: Option<f64>,
    pub reason: Option<String>,
    /// Named figures, in the order the problem gave them.
    pub metrics: Vec<(String, f64)>,
}

impl Verdict {
    /// A valid solution with this score.
    pub fn valid(score: f64) -> Verdict {
        Verdict { valid: true, score: Some(score), reason: None, metrics: Vec::new() }
    }

    /// Attach a named figure (shown by `discover verify`, recorded in runs).
    pub fn metric(mut self, name: &str, value: f64) -> Verdict {
        self.metrics.push((name.to_string(), value));
        self
    }

    /// An invalid solution, and why.
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
