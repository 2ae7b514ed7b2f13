//! C++ candidates for contest problems: model-written GNU++20 compiled with
//! clang to a wasm32-wasip1 command ([`compile`], sandboxed and cached) and run
//! under wasmtime with stdin = the case's input and stdout = its answer
//! ([`run`], deterministic program time, memory and output caps).
//!
//! [`Cpp`] ties the two: `prepare(source)` compiles (or takes from the cache)
//! and loads the module once; the [`run::Program`] it returns runs any number
//! of cases, in parallel, each in a fresh instance.

pub mod compile;
pub mod run;

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Result};
use wasmtime::{Engine, Module};

pub use compile::{CompileError, CompileLimits, Toolchain};
pub(crate) use compile::which;
pub use run::{CaseLimits, CaseOutcome, CaseRun, Program, FUEL_PER_SECOND};

use discover_contract::fs::write_atomic;
use discover_sandbox::Ticker;

/// The language's name, as in a Markdown code fence.
pub const LANGUAGE: &str = "cpp";

/// A language whose programs read stdin and write stdout: what a contest
/// problem's candidates are written in.
pub trait StdioRuntime: Send + Sync {
    /// The Markdown fence name (`cpp`).
    fn language(&self) -> &'static str;

    /// Compile (or load from the cache) one program. `Ok(Err(..))`: the
    /// program does not compile; `Err`: the host cannot compile anything.
    fn prepare(&self, source: &str) -> Result<Result<Prepared, CompileError>>;

    /// What a program must do, in words for a prompt and for `problems show`.
    fn contract(&self, seconds: f64, memory_mib: usize) -> String;
}

/// A program ready to run cases: each `run` is one case in a fresh instance.
pub trait StdioProgram: Send + Sync {
    /// Run one case: `stdin` in, the outcome and the output back. `Err` is the
    /// host's failure; whatever the program did is in the [`CaseRun`].
    fn run(&self, stdin: &[u8], limits: &CaseLimits) -> Result<CaseRun>;
}

impl StdioProgram for Program {
    fn run(&self, stdin: &[u8], limits: &CaseLimits) -> Result<CaseRun> {
        Program::run(self, stdin, limits)
    }
}

/// A program ready to run cases, and what preparing it cost.
#[derive(Clone)]
pub struct Prepared {
    pub program: Arc<dyn StdioProgram>,
    /// Compiling (0 when cached) plus loading the module.
    pub compile_seconds: f64,
    pub cached: bool,
}

/// The C++ runtime: the toolchain, the compiled-program cache and the engine.
pub struct Cpp {
    toolchain: Toolchain,
    cache_dir: PathBuf,
    engine: Engine,
    pub compile_limits: CompileLimits,
    _ticker: Arc<Ticker>,
}

impl Cpp {
    /// Find the toolchain and keep compiled programs under `cache_dir`
    /// (`<user cache>/cpp` by default).
    pub fn new(cache_dir: &Path) -> Result<Cpp> {
        let toolchain = Toolchain::detect()?;
        let engine = run::engine()?;
        let ticker = Ticker::start(engine.clone());
        Ok(Cpp {
            toolchain,
            cache_dir: cache_dir.to_path_buf(),
            engine,
            compile_limits: CompileLimits::default(),
            _ticker: Arc::new(ticker),
        })
    }

    /// [`Cpp::new`] with the user's cache folder.
    pub fn user_default() -> Result<Cpp> {
        let dir = discover_sandbox::cache_dir()
            .ok_or_else(|| anyhow!("no cache directory: set DISCOVER_CACHE_DIR or HOME"))?;
        Cpp::new(&dir.join("cpp"))
    }

    pub fn toolchain(&self) -> &Toolchain {
        &self.toolchain
    }

    /// The Wasm module of a compiled program, compiled for this engine once and
    /// kept beside it (`<key>-<engine>.cwasm`).
    fn load(&self, key: &str, wasm: &[u8]) -> Result<Module> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut hasher);
        let cwasm = self.cache_dir.join(format!("{key}-{:016x}.cwasm", hasher.finish()));
        if cwasm.exists() {
            // SAFETY: written below by `Module::serialize` for an engine with
            // this compatibility hash (in the file name), atomically, into the
            // user's own cache; wasmtime checks the header before use.
            if let Ok(module) = unsafe { Module::deserialize_file(&self.engine, &cwasm) } {
                return Ok(module);
            }
        }
        let module = Module::new(&self.engine, wasm).map_err(|e| anyhow!("the compiled program is not a valid module: {e:#}"))?;
        if let Ok(bytes) = module.serialize() {
            let _ = write_atomic(&cwasm, &bytes);
        }
        Ok(module)
    }
}

impl StdioRuntime for Cpp {
    fn language(&self) -> &'static str {
        LANGUAGE
    }

    fn prepare(&self, source: &str) -> Result<Result<Prepared, CompileError>> {
        let span = tracing::debug_span!("compile", language = LANGUAGE, cached = tracing::field::Empty);
        let _entered = span.enter();
        let start = Instant::now();
        let compiled = match compile::compile(&self.toolchain, &self.cache_dir, source, &self.compile_limits)? {
            Ok(compiled) => compiled,
            Err(e) => return Ok(Err(e)),
        };
        span.record("cached", compiled.cached);
        let module = self.load(&compiled.key, &compiled.wasm)?;
        let program = Program::new(&self.engine, module)?;
        Ok(Ok(Prepared {
            program: Arc::new(program),
            compile_seconds: start.elapsed().as_secs_f64(),
            cached: compiled.cached,
        }))
    }

    fn contract(&self, seconds: f64, memory_mib: usize) -> String {
        format!(
            "Write one complete C++ program (GNU++20, compiled with clang -O3 for WebAssembly; \
             `#include <bits/stdc++.h>` works; exceptions are disabled, so no `throw`/`try`; no threads). \
             It reads the input on stdin and prints the answer on stdout. Limits per case: {seconds:.1} s of \
             program time and {memory_mib} MiB of memory. Program time is deterministic: every clock the program \
             reads (std::chrono, clock_gettime, clock, time) advances with the work it has done, about as fast as \
             native code on the reference machine, so loop until your clock says a bit less than the limit (for \
             example {:.1} s) and stop. Random devices give a fixed stream: seed your generator as you like. \
             Put the program in one ```cpp block.",
            seconds * 0.95
        )
    }
}
