//! Python programs for contest problems: the same stdin/stdout contract as C++.
//!
//! A program runs as `__main__` in a fresh instance of the pre-initialised
//! interpreter (numpy and scipy already imported), with the case's input on
//! stdin and its answer on stdout, under the contest's program time (the C++
//! runtime's deterministic clocks, fixed randomness and refused sleeps, see
//! `crate::cpp::run`), memory and output caps. "Compiling" is Python's own
//! `compile()`, run once, so a syntax error is reported like a C++ compile error.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Result};
use wasmtime::{InstancePre, Linker};
use wasmtime_wasi::p1;

use super::guest::{self, THREAD_STACK};
use super::Runtime;
use crate::cpp::run::{self, add_program_time, case_store, CaseLimits, CaseRun, State, Usage};
use crate::cpp::{CompileError, Prepared, StdioProgram, StdioRuntime};
use crate::output::Output;

/// The Python runtime, serving stdin/stdout programs.
pub struct PythonStdio {
    runtime: Arc<Runtime>,
    pre: InstancePre<State>,
}

impl PythonStdio {
    pub fn new(runtime: Arc<Runtime>) -> Result<PythonStdio> {
        let module = runtime.pre.module().clone();
        let mut linker: Linker<State> = Linker::new(&runtime.engine);
        p1::add_to_linker_sync(&mut linker, |s: &mut State| &mut s.wasi)?;
        guest::stub_host_imports(&mut linker, &module)?;
        add_program_time(&mut linker)?;
        let pre = linker.instantiate_pre(&module).map_err(|e| anyhow!("the Python runtime's imports: {e}"))?;
        Ok(PythonStdio { runtime, pre })
    }

    /// Run `code` in a fresh interpreter with `stdin`, on a thread with the
    /// stack the interpreter needs.
    fn turn(&self, code: &str, stdin: &[u8], limits: &CaseLimits) -> Result<CaseRun> {
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("discover-python-case".into())
                .stack_size(THREAD_STACK)
                .spawn_scoped(scope, || self.turn_here(code, stdin, limits))
                .expect("spawning a case thread")
                .join()
                .unwrap_or_else(|_| Err(anyhow!("a case thread panicked")))
        })
    }

    fn turn_here(&self, code: &str, stdin: &[u8], limits: &CaseLimits) -> Result<CaseRun> {
        let start = Instant::now();
        let stdout = Output::new(limits.stdout_max_bytes as usize, limits.stdout_max_bytes);
        let stderr = Output::new(64 << 10, limits.stderr_max_bytes);
        let wasi = guest::context(&self.runtime.paths, stdin.to_vec(), stdout.clone(), stderr.clone())?;
        let fuel = limits.fuel();
        let mut store = case_store(&self.runtime.engine, wasi, limits);
        let mut started = None;
        let ended = self.pre.instantiate(&mut store).and_then(|instance| {
            started = Some(Instant::now());
            guest::turn(&mut store, &instance, code.as_bytes())
        });
        let wall = start.elapsed();
        let fuel_used = fuel - store.get_fuel().unwrap_or(0);
        let (refused, peak) = (store.data().limiter.memory_refused, store.data().limiter.peak_memory_bytes);
        drop(store);
        // An uncaught exception ends `turn` with status 1 (the traceback is on stderr).
        let ended = ended.and_then(|status| match status {
            0 => Ok(()),
            status => Err(wasmtime_wasi::I32Exit(status).into()),
        });
        let usage = Usage { wall, startup: started.map_or(wall, |s| s - start), fuel_used, memory_refused: refused, peak_memory: peak };
        Ok(run::case_run(ended, &stdout, &stderr, usage, false, limits))
    }
}

/// One Python program, run as `__main__`.
struct PythonProgram {
    runtime: Arc<PythonStdio>,
    /// The line `turn` runs: the source as a literal, compiled and executed.
    code: String,
}

impl StdioProgram for PythonProgram {
    fn run(&self, stdin: &[u8], limits: &CaseLimits) -> Result<CaseRun> {
        self.runtime.turn(&self.code, stdin, limits)
    }
}

/// `exec(compile(SOURCE, "main.py", "exec"), {"__name__": "__main__"})`, with
/// the source as a JSON string literal (which Python reads as its own).
fn wrapped(source: &str, run: bool) -> String {
    let literal = serde_json::to_string(source).expect("a string serialises");
    let compiled = format!("compile({literal}, 'main.py', 'exec')");
    if run {
        format!("exec({compiled}, {{'__name__': '__main__', '__builtins__': __builtins__}})\n")
    } else {
        format!("{compiled}\n")
    }
}

impl StdioRuntime for Arc<PythonStdio> {
    fn language(&self) -> &'static str {
        super::LANGUAGE
    }

    fn prepare(&self, source: &str) -> Result<Result<Prepared, CompileError>> {
        let start = Instant::now();
        let check = self.turn(&wrapped(source, false), b"", &CaseLimits::contest(10.0))?;
        if !check.outcome.is_exit() {
            let message = match check.stderr_tail.trim() {
                "" => check.outcome.summary(),
                tail => tail.to_string(),
            };
            return Ok(Err(CompileError { message }));
        }
        let program = PythonProgram { runtime: self.clone(), code: wrapped(source, true) };
        Ok(Ok(Prepared { program: Arc::new(program), compile_seconds: start.elapsed().as_secs_f64(), cached: false }))
    }

    fn contract(&self, seconds: f64, memory_mib: usize) -> String {
        format!(
            "Write one complete Python 3 program (CPython in WebAssembly; numpy and scipy are available, \
             there is no network and no file system). It reads the input on stdin (sys.stdin) and prints \
             the answer on stdout. Limits per case: {seconds:.1} s of program time and {memory_mib} MiB of \
             memory. Program time is deterministic: the clocks (time.time, time.perf_counter) advance with \
             the work the interpreter has done, so loop until your clock says a bit less than the limit and \
             stop. Put the program in one ```python block."
        )
    }
}
