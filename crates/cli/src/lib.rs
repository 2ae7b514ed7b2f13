//! # discover
//!
//! Test-time discovery (TTT-Discover, arXiv 2601.16175) with every piece of
//! untrusted code inside a WebAssembly sandbox. This crate is the command line;
//! the work is done by the layer crates below it, re-exported here under the
//! module names the command line and the end-to-end tests use:
//!
//! - [`contract`] (`discover-contract`): spec, solution, verdict: plain types.
//! - [`sandbox`] (`discover-sandbox`): wasmtime engine, per-call limits, typed
//!   errors, compiled-component cache. Knows nothing about problems.
//! - [`problem`] (`discover-problem`): problem components seen from the host.
//! - [`candidate`] (`discover-candidate`): candidate runtimes behind one trait;
//!   [`python`] is the first.
//! - [`engine`] (`discover-engine`): the discovery loop, its `Policy` and
//!   `Environment` traits, the run directory. No wasmtime, no LLM, no HTTP.
//! - [`plugin`] (`discover-plugin`): problem packs and supervised native
//!   plugin processes (JSON-RPC over stdio).
//! - [`rollout`] (`discover-rollout`): the environment over a problem and a
//!   candidate runtime.
//! - [`policy`] (`discover-policy`): numeric, restarts, LLM policies; [`prompt`].
//! - [`report`] (`discover-report`): plots and summaries of a run directory.
//! - [`cli`]: the `discover` command line (this crate only).
//!
//! ARCHITECTURE.md states the dependency rule; `tests/layers.rs` checks it.

pub mod cli;

pub use discover_candidate as candidate;
pub use discover_candidate::python;
pub use discover_contract as contract;
pub use discover_engine as engine;
pub use discover_plugin as plugin;
pub use discover_policy as policy;
pub use discover_policy::prompt;
pub use discover_problem as problem;
pub use discover_report as report;
pub use discover_rollout as rollout;
pub use discover_sandbox as sandbox;
pub use discover_sandbox::cache_dir;
