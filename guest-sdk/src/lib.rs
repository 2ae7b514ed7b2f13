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
pub mod text;
pub mod exact;
pub mod fft;
pub mod math;
pub mod minimax;
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

/// A contest problem (the `contest` world): the candidate is a whole program that
/// reads one generated input on stdin and writes its answer on stdout; the host
/// runs it on many seeds and asks [`Contest::score`] to judge each output.
///
/// ```
/// use discover_guest::{export_contest, Contest, Direction, Spec};
///
/// /// Print the sum of the two numbers; the score is 1 when right.
/// pub struct Sum;
///
/// impl Contest for Sum {
///     fn spec() -> Spec {
///         Spec::new("sum", "Sum of two numbers", Direction::Maximize)
///             .statement("Read `a b`, print `a + b`.")
///     }
///     fn generate(seed: u64) -> String {
///         format!("{} {}\n", seed, seed * 2)
///     }
///     fn score(input: &str, output: &str) -> Result<f64, String> {
///         let sum: u64 = input.split_whitespace().map(|t| t.parse::<u64>().unwrap()).sum();
///         let line = output.lines().next().ok_or("line 1: missing, expected the sum")?;
///         match line.trim().parse::<u64>() {
///             Ok(v) => Ok(if v == sum { 1.0 } else { 0.0 }),
///             Err(_) => Err(format!("line 1: `{line}` is not an integer")),
///         }
///     }
/// }
///
/// export_contest!(Sum);
/// # fn main() { assert_eq!(Sum::score("1 2", "3\n"), Ok(1.0)); }
/// ```
pub trait Contest {
    /// Identity, statement (input and output formats, limits, scoring), direction.
    fn spec() -> Spec;

    /// The test input for `seed`, byte for byte as the contest's generator writes it.
    fn generate(seed: u64) -> String;

    /// The score of `output` for `input`; `Err` names the first offending line
    /// and value when the output is not valid.
    fn score(input: &str, output: &str) -> Result<f64, String>;
}

/// Export a [`Contest`] implementation as this crate's component (the `contest`
/// world). Like [`export_problem!`], it expands to nothing off `wasm32`.
#[macro_export]
macro_rules! export_contest {
    ($contest:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        mod __discover_export_contest {
            use super::*;

            struct Export;

            impl $crate::__glue::SolverGuest for Export {
                fn spec() -> $crate::__glue::WitContestSpec {
                    $crate::__glue::contest_spec::<$contest>()
                }
                fn generate(seed: u64) -> ::std::string::String {
                    $crate::__glue::generate::<$contest>(seed)
                }
                fn score(
                    input: ::std::string::String,
                    output: ::std::string::String,
                ) -> ::core::result::Result<f64, ::std::string::String> {
                    $crate::__glue::score::<$contest>(input, output)
                }
            }

            $crate::__glue::export_contest!(Export with_types_in $crate::__glue::contest_bindings);
        }
    };
}

#[doc(hidden)]
pub mod __glue;
