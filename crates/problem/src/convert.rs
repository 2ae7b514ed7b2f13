//! Between the generated WIT types and the plain contract types, and from a
//! problem's suggested budgets to the limits the host grants.

use std::time::Duration;

use discover_contract::{BestKnown, Budgets, Direction, Shape, Solution, Spec, Verdict};
use discover_sandbox::Limits;

use crate::bindings::discover::problem::types as wit;
use crate::HostCaps;

/// The limits the host grants for `budgets`: what the problem suggests, capped by `caps`.
pub fn budget_limits(budgets: &Budgets, caps: &HostCaps) -> Limits {
    Limits {
        fuel: Some(budgets.evaluate_fuel.min(caps.max_fuel)),
        deadline: Duration::from_millis(budgets.evaluate_millis as u64).min(caps.max_deadline),
        memory_bytes: ((budgets.memory_mib as usize) << 20).min(caps.max_memory_bytes),
        ..Limits::default()
    }
}

pub(crate) fn spec(s: wit::ProblemSpec) -> Spec {
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

pub(crate) fn solution_to_wit(s: &Solution) -> wit::Solution {
    wit::Solution { values: s.values.clone(), text: s.text.clone() }
}

pub(crate) fn solution(s: wit::Solution) -> Solution {
    Solution { values: s.values, text: s.text }
}

pub(crate) fn verdict(v: wit::Verdict) -> Verdict {
    Verdict {
        valid: v.valid,
        score: v.valid.then_some(v.score),
        reason: if v.valid { None } else { v.reason },
        metrics: v.metrics.into_iter().map(|m| (m.name, m.value)).collect(),
    }
}
