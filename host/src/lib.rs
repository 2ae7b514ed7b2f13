//! # discover
//!
//! Test-time discovery with every piece of untrusted code inside a WebAssembly
//! sandbox. This crate is the host: it loads problems (Wasm components that
//! implement `wit/problem.wit`), runs them under hard limits, and drives the CLI.
//!
//! Modules, in the direction data flows:
//! - [`sandbox`]: wasmtime engine, per-call limits (fuel, deadline, memory),
//!   typed errors, compiled-component cache. Knows nothing about problems.
//! - [`problem`]: the contract seen from the host: built-in and third-party
//!   problem components, specs, solutions, verdicts.
//! - [`engine`]: the discovery loop: state buffer with PUCT reuse, entropic
//!   advantages, steps, the run directory. Knows nothing about wasmtime.
//! - [`python`]: the Python candidate sandbox: CPython-for-WASI with numpy and
//!   scipy pre-imported, typed outcomes, a pool. Knows nothing about discovery.
//! - [`prompt`]: states rendered into prompts; the code in completions.
//! - [`policy`]: the `Policy` trait; the built-in numeric policy, restarts,
//!   and LLM policies (an OpenAI-compatible server, a local model).
//! - [`report`]: plots and summaries of a run directory.
//! - [`cli`]: the `discover` command line.

pub mod cli;
pub mod engine;
pub mod policy;
pub mod problem;
pub mod prompt;
pub mod python;
pub mod report;
pub mod sandbox;

use std::path::PathBuf;

/// The user's cache directory for discover: `$DISCOVER_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/discover`, else `$HOME/.cache/discover`.
pub fn cache_dir() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("DISCOVER_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("discover")))
        .or_else(|| env("HOME").map(|d| d.join(".cache").join("discover")))
}
