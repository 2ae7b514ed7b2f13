//! Plain data types of the contract, free of generated code.

/// Whether a larger or a smaller score is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Minimize,
    Maximize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BestKnown {
    pub value: f64,
    pub source: String,
}

/// Length rules for `Solution::values`, checked by the host before `evaluate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
        let m = self.multiple_of.max(1) as usize;
        len >= self.min_len as usize && len <= self.max_len as usize && len % m == 0
    }
}

/// Suggested resources for this problem (see `budgets` in `wit/problem.wit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budgets {
    pub evaluate_fuel: u64,
    pub evaluate_millis: u32,
    pub memory_mib: u32,
    pub candidate_seconds: u32,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets {
            evaluate_fuel: 1_000_000_000,
            evaluate_millis: 10_000,
            memory_mib: 256,
            candidate_seconds: 60,
        }
    }
}

/// What a problem says about itself. Build it with [`Spec::new`] and the setters.
#[derive(Clone, Debug, PartialEq)]
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
}

/// A candidate solution: numbers, plus optional text.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Solution {
    pub values: Vec<f64>,
    pub text: Option<String>,
}

impl Solution {
    pub fn new(values: Vec<f64>) -> Solution {
        Solution { values, text: None }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    pub name: String,
    pub value: f64,
}

/// The judgement of one solution.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub valid: bool,
    /// The score of a valid solution; `NaN` for an invalid one.
    pub score: f64,
    /// Why the solution is invalid; `None` for a valid one.
    pub reason: Option<String>,
    pub metrics: Vec<Metric>,
}

impl Verdict {
    pub fn valid(score: f64) -> Verdict {
        Verdict { valid: true, score, reason: None, metrics: Vec::new() }
    }

    pub fn invalid(reason: impl Into<String>) -> Verdict {
        Verdict { valid: false, score: f64::NAN, reason: Some(reason.into()), metrics: Vec::new() }
    }

    /// Attach a named figure (shown by `discover verify`, recorded in runs).
    pub fn metric(mut self, name: &str, value: f64) -> Verdict {
        self.metrics.push(Metric { name: name.to_string(), value });
        self
    }
}
