//! Conversions between the SDK's plain types and the types wit-bindgen generates.
//! Only [`export_problem!`](crate::export_problem) uses this module.

use std::sync::Once;

use crate::{Contest, Direction, Problem, Solution, Spec, Verdict};

pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "problem",
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "discover_guest::__glue::bindings",
    });
}

/// The `contest` world: a problem that generates inputs and scores a program's
/// outputs. Its own module, so both worlds' bindings live side by side.
pub mod contest_bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "contest",
        pub_export_macro: true,
        export_macro_name: "export_contest",
        default_bindings_module: "discover_guest::__glue::contest_bindings",
    });
}

pub use bindings::export;
pub use contest_bindings::export_contest;
pub use contest_bindings::exports::discover::problem::solver::Guest as SolverGuest;
pub use contest_bindings::discover::problem::types::ProblemSpec as WitContestSpec;
pub use bindings::exports::discover::problem::construction::Guest as ConstructionGuest;
use bindings::discover::problem::types as wit;
pub use wit::{ProblemSpec as WitSpec, Solution as WitSolution, Verdict as WitVerdict};

/// Route panic messages to the host before the component traps: with
/// `panic = "abort"` the message would otherwise be lost.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            bindings::discover::problem::diagnostics::report_panic(&info.to_string());
        }));
    });
}

fn install_contest_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            contest_bindings::discover::problem::diagnostics::report_panic(&info.to_string());
        }));
    });
}

fn from_wit(s: WitSolution) -> Solution {
    Solution { values: s.values, text: s.text }
}

fn to_wit(s: Solution) -> WitSolution {
    WitSolution { values: s.values, text: s.text }
}

pub fn spec<P: Problem>() -> WitSpec {
    install_panic_hook();
    let s: Spec = P::spec();
    WitSpec {
        id: s.id,
        title: s.title,
        statement: s.statement,
        direction: match s.direction {
            Direction::Minimize => wit::Direction::Minimize,
            Direction::Maximize => wit::Direction::Maximize,
        },
        best_known: s.best_known.map(|b| wit::BestKnown { value: b.value, source: b.source }),
        shape: wit::Shape {
            min_len: s.shape.min_len,
            max_len: s.shape.max_len,
            multiple_of: s.shape.multiple_of,
        },
        budgets: wit::Budgets {
            evaluate_fuel: s.budgets.evaluate_fuel,
            evaluate_millis: s.budgets.evaluate_millis,
            memory_mib: s.budgets.memory_mib,
            candidate_seconds: s.budgets.candidate_seconds,
        },
    }
}

pub fn contest_spec<C: Contest>() -> WitContestSpec {
    use contest_bindings::discover::problem::types as cw;
    install_contest_panic_hook();
    let s: Spec = C::spec();
    WitContestSpec {
        id: s.id,
        title: s.title,
        statement: s.statement,
        direction: match s.direction {
            Direction::Minimize => cw::Direction::Minimize,
            Direction::Maximize => cw::Direction::Maximize,
        },
        best_known: s.best_known.map(|b| cw::BestKnown { value: b.value, source: b.source }),
        shape: cw::Shape { min_len: s.shape.min_len, max_len: s.shape.max_len, multiple_of: s.shape.multiple_of },
        budgets: cw::Budgets {
            evaluate_fuel: s.budgets.evaluate_fuel,
            evaluate_millis: s.budgets.evaluate_millis,
            memory_mib: s.budgets.memory_mib,
            candidate_seconds: s.budgets.candidate_seconds,
        },
    }
}

pub fn generate<C: Contest>(seed: u64) -> String {
    install_contest_panic_hook();
    C::generate(seed)
}

pub fn score<C: Contest>(input: String, output: String) -> Result<f64, String> {
    install_contest_panic_hook();
    C::score(&input, &output)
}

pub fn initial<P: Problem>(seed: u64) -> WitSolution {
    install_panic_hook();
    to_wit(P::initial(seed))
}

pub fn evaluate<P: Problem>(solution: WitSolution) -> Result<WitVerdict, String> {
    install_panic_hook();
    P::evaluate(&from_wit(solution)).map(|v: Verdict| WitVerdict {
        valid: v.valid,
        // The wire form of an invalid verdict's score is NaN (the host ignores it).
        score: v.score.unwrap_or(f64::NAN),
        reason: v.reason,
        metrics: v.metrics.into_iter().map(|(name, value)| wit::Metric { name, value }).collect(),
    })
}

pub fn repair<P: Problem>(solution: WitSolution) -> Option<WitSolution> {
    install_panic_hook();
    P::repair(&from_wit(solution)).map(to_wit)
}

pub fn refine<P: Problem>(solution: WitSolution, effort: u32) -> Option<WitSolution> {
    install_panic_hook();
    P::refine(&from_wit(solution), effort).map(to_wit)
}

pub fn render_svg<P: Problem>(solution: WitSolution) -> Option<String> {
    install_panic_hook();
    P::render_svg(&from_wit(solution))
}
