//! # discover-guest: the SDK for problem authors
//!
//! A problem for `discover` is a WebAssembly component that implements the
//! `discover:problem` WIT contract (see `wit/problem.wit`). This crate hides that
//! contract: implement [`Problem`] on a type and invoke [`export_problem!`] once.
//!
//! ```
//! use discover_guest::{export_problem, Direction, Problem, Shape, Solution, Spec, Verdict};
//!
//! /// Maximise the sum of the values while keeping each in [0, 1].
//! pub struct SumInBox;
//!
//! impl Problem for SumInBox {
//!     fn spec() -> Spec {
//!         Spec::new("sum-in-box", "Sum in a box", Direction::Maximize)
//!             .statement("Return 4 numbers in [0, 1]; the score is their sum.")
//!             .shape(Shape::exact(4))
//!             .best_known(4.0, "trivial: all ones")
//!     }
//!
//!     fn initial(_seed: u64) -> Solution {
//!         Solution::new(vec![0.5; 4])
//!     }
//!
//!     fn evaluate(solution: &Solution) -> Result<Verdict, String> {
//!         for (i, &v) in solution.values.iter().enumerate() {
//!             if !(0.0..=1.0).contains(&v) {
//!                 return Ok(Verdict::invalid(format!("value {i} is {v:e}, outside [0, 1]")));
//!             }
//!         }
//!         Ok(Verdict::valid(solution.values.iter().sum()))
//!     }
//! }
//!
//! export_problem!(SumInBox);
//!
//! # fn main() {
//! // The same type is ordinary Rust on the host, which is how tests and
//! // native benchmarks call it.
//! let verdict = SumInBox::evaluate(&Solution::new(vec![1.0, 1.0, 0.5, 0.25])).unwrap();
//! assert!(verdict.valid);
//! assert_eq!(verdict.score, Some(2.75));
//! # }
//! ```
//!
//! Build it into a component (from a checkout of the discover workspace):
//!
//! ```text
//! rustup target add wasm32-unknown-unknown
//! cargo xtask build-problem path/to/your-crate      # writes your_crate.wasm
//! discover verify ./your_crate.wasm solution.json
//! ```
//!
//! Rules the host enforces and a problem may rely on:
//! - `evaluate` only sees solutions whose length satisfies [`Spec::shape`], and
//!   every call gets a fresh instance: no state survives between calls.
//! - Each call runs under a fuel, memory and wall-clock budget. A panic becomes a
//!   typed `guest panic` error on the host carrying the panic message.
//! - A valid verdict needs a finite score; an invalid one needs a reason. Say which
//!   index and which value broke which rule: the reason is shown to users and LLMs.

mod types;
pub mod math;
pub mod optimize;
pub mod svg;

pub use types::{BestKnown, Budgets, Direction, Shape, Solution, Spec, Verdict};

/// A construction problem. Every method is an associated function: a problem has
/// no state, and the host gives each call a fresh instance.
pub trait Problem {
    /// Identity, statement, direction, best known value, shape and budgets.
    fn spec() -> Spec;

    /// A valid starting solution. The same seed must give the same solution.
    fn initial(seed: u64) -> Solution;

    /// Judge a solution, recomputing the score from the solution alone.
    ///
    /// Return `Ok(Verdict::invalid(..))` for a bad solution; `Err` only when the
    /// problem itself cannot judge (which the host reports as a broken problem).
    fn evaluate(solution: &Solution) -> Result<Verdict, String>;

    /// Project a proposal onto the valid set. `None` (the default): no repair.
    fn repair(_solution: &Solution) -> Option<Solution> {
        None
    }

    /// Improve a solution locally with about `effort` units of work. Must be
    /// deterministic. `None` (the default): no refinement offered.
    fn refine(_solution: &Solution, _effort: u32) -> Option<Solution> {
        None
    }

    /// An SVG picture of the solution. `None` (the default): nothing to draw.
    fn render_svg(_solution: &Solution) -> Option<String> {
        None
    }
}

/// Export a [`Problem`] implementation as this crate's component.
///
/// Invoke it once, at the crate root, in a crate built as a `cdylib` for
/// `wasm32-unknown-unknown`. On other targets it expands to nothing, so the same
/// crate can be used as an ordinary library (for tests and native benchmarks).
#[macro_export]
macro_rules! export_problem {
    ($problem:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        mod __discover_export {
            use super::*;

            struct Export;

            impl $crate::__glue::ConstructionGuest for Export {
                fn spec() -> $crate::__glue::WitSpec {
                    $crate::__glue::spec::<$problem>()
                }
                fn initial(seed: u64) -> $crate::__glue::WitSolution {
                    $crate::__glue::initial::<$problem>(seed)
                }
                fn evaluate(
                    solution: $crate::__glue::WitSolution,
                ) -> ::core::result::Result<$crate::__glue::WitVerdict, ::std::string::String> {
                    $crate::__glue::evaluate::<$problem>(solution)
                }
                fn repair(
                    solution: $crate::__glue::WitSolution,
                ) -> ::core::option::Option<$crate::__glue::WitSolution> {
                    $crate::__glue::repair::<$problem>(solution)
                }
                fn refine(
                    solution: $crate::__glue::WitSolution,
                    effort: u32,
                ) -> ::core::option::Option<$crate::__glue::WitSolution> {
                    $crate::__glue::refine::<$problem>(solution, effort)
                }
                fn render_svg(
                    solution: $crate::__glue::WitSolution,
                ) -> ::core::option::Option<::std::string::String> {
                    $crate::__glue::render_svg::<$problem>(solution)
                }
            }

            $crate::__glue::export!(Export with_types_in $crate::__glue::bindings);
        }
    };
}

#[doc(hidden)]
pub mod __glue;
