//! # discover-candidate
//!
//! Candidate runtimes: where the programs a policy writes are run. A program is
//! untrusted text from a model; it runs inside WebAssembly with a deadline, a
//! memory cap and output caps, and comes back as a typed [`Outcome`], never as a
//! host error.
//!
//! Every language sits behind one trait, [`CandidateRuntime`]: its name (the
//! Markdown fence a model writes it in), the contract a prompt shows, and `run`.
//! Python ([`python`]: CPython for WASI with numpy and scipy pre-imported) is the
//! first implementation; [`PythonCandidates`] runs programs through the
//! memory-budgeted [`python::Pool`], which is the path `discover run` uses.
//!
//! Depends on `discover-contract` and `discover-sandbox` only: it knows what a
//! problem's spec says, nothing about discovery.

mod output;
pub mod hostcalls;
pub mod cpp;
pub mod native;
pub mod python;

use std::sync::Arc;

use anyhow::{anyhow, Result};
use discover_contract::Spec;

pub use python::{Candidate, ProgramLimits, Outcome, Report, TAIL_CHARS};

/// A language model-written programs come in, and where they run.
pub trait CandidateRuntime: Send + Sync {
    /// The language's name, as in a Markdown code fence (`python`).
    fn language(&self) -> &'static str;

    /// What a program must do for `spec`, in words for a prompt and for
    /// `discover problems show`.
    fn contract(&self, spec: &Spec) -> String;

    /// Run one program from its parent state under `limits`, blocking until it
    /// ends. `Err` is the host's failure (a broken runtime, a pool shut down);
    /// whatever the program did is in the report's outcome.
    fn run(&self, candidate: Candidate, limits: ProgramLimits) -> Result<Report>;
}

/// Python programs run through a [`python::Pool`]: at most `workers` at once,
/// and never more linear memory reserved than the pool's budget, however many
/// rollouts ask at the same time.
pub struct PythonCandidates {
    pool: python::Pool,
}

impl PythonCandidates {
    pub fn new(runtime: Arc<python::Runtime>, config: python::pool::PoolConfig) -> Result<PythonCandidates> {
        Ok(PythonCandidates { pool: python::Pool::new(runtime, config)? })
    }

    pub fn pool(&self) -> &python::Pool {
        &self.pool
    }
}

impl CandidateRuntime for PythonCandidates {
    fn language(&self) -> &'static str {
        python::LANGUAGE
    }

    fn contract(&self, spec: &Spec) -> String {
        python::contract(spec)
    }

    fn run(&self, candidate: Candidate, limits: ProgramLimits) -> Result<Report> {
        self.pool
            .submit(candidate, limits)?
            .blocking_recv()
            .map_err(|_| anyhow!("a pool worker stopped before reporting"))?
    }
}

/// The last [`TAIL_CHARS`] characters of `bytes`, as text.
pub(crate) fn tail_chars(bytes: &[u8]) -> String {
    discover_contract::text::tail_chars(&String::from_utf8_lossy(bytes), TAIL_CHARS).to_string()
}
