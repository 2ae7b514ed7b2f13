//! Running a compiled stdin/stdout program: one case, one fresh instance.
//!
//! The program is a WASI preview-1 command. Its world: stdin is the case's
//! input, stdout and stderr are captured with caps, no files, no preopened
//! folders, no sockets, no environment, `argv = ["main"]`.
//!
//! **Deterministic time.** Every clock the program can read (`clock_time_get`
//! for any clock id: `std::chrono`, `clock_gettime`, `clock`, `time`) answers
//! with the fuel the program has consumed, converted at [`FUEL_PER_SECOND`],
//! from a fixed epoch; `random_get` is a fixed stream; `poll_oneoff` (sleeping)
//! spends program time and never waits; every host call costs program time
//! (`crate::hostcalls`). So a program that anneals
//! until its clock reads 1.9 s does the same work, prints the same answer and
//! gets the same score on an idle machine, a loaded one, alone or beside 149
//! other cases. The time limit is the same fuel; a wall-clock deadline well above
//! it guards against anything fuel does not count.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use wasmtime::{Caller, Config, Engine, Linker, Module, OptLevel, Trap, Val};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::{I32Exit, WasiCtxBuilder};

use crate::hostcalls::{self, ERRNO_INVAL};
use crate::output::{Captured, Output};
use discover_sandbox::{Limits, StoreLimiter};

/// Fuel per second of program time: calibrated so that one second of this clock
/// is about one second of the same work compiled natively (`g++ -O2`) on the
/// reference machine (`cargo xtask bench contest --calibrate`; `docs/contest.md`).
pub const FUEL_PER_SECOND: u64 = 7_500_000_000;

/// 2025-01-01T00:00:00Z: what `time(NULL)` reads when a program starts.
const EPOCH_NANOS: u64 = 1_735_689_600_000_000_000;

/// Wasm stack for a program (its C++ frames' native side; locals and arrays live
/// on the 64 MiB shadow stack in linear memory).
const MAX_WASM_STACK: usize = 16 << 20;

/// The shadow stack the linker reserves (`-z stack-size`, see `compile::LINK_FLAGS`).
pub const SHADOW_STACK_BYTES: u64 = 64 << 20;

/// The native stack of a thread that runs a case: room for the Wasm stack.
pub const THREAD_STACK: usize = 32 << 20;

/// What one case may use.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CaseLimits {
    /// Program time (deterministic: fuel).
    pub seconds: f64,
    /// Wall-clock guard, well above `seconds`.
    pub wall: Duration,
    pub memory_bytes: usize,
    /// Bytes of stdout kept in full (the scorer reads all of it); past this the
    /// program is stopped.
    pub stdout_max_bytes: u64,
    /// Bytes of stderr past which the program is stopped (only its tail is kept).
    pub stderr_max_bytes: u64,
}

impl CaseLimits {
    /// The contest defaults for a `seconds` time limit: 1 GiB, 32 MiB of output,
    /// a wall guard of 15x the limit (at least 10 s): memory-bound code runs
    /// several times slower per unit of fuel than the calibration's mean, and a
    /// loaded machine slows every case, yet neither may turn into a wall timeout.
    pub fn contest(seconds: f64) -> CaseLimits {
        CaseLimits {
            seconds,
            wall: Duration::from_secs_f64((15.0 * seconds).max(10.0)),
            memory_bytes: 1 << 30,
            stdout_max_bytes: 32 << 20,
            stderr_max_bytes: 32 << 20,
        }
    }

    pub fn fuel(&self) -> u64 {
        (self.seconds * FUEL_PER_SECOND as f64) as u64
    }
}

/// How a case's program ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum CaseOutcome {
    /// It returned from `main` (or exited with status 0).
    Exited,
    /// It used its whole program time.
    TimeLimit { seconds: f64 },
    /// It was still running at the wall-clock guard (fuel did not stop it).
    WallTimeout { seconds: f64 },
    OutOfMemory { limit_mib: usize },
    OutputTooLarge { bytes: u64 },
    StackOverflow,
    /// A non-zero exit status.
    ExitStatus { status: i32 },
    /// A trap: `abort()`, an out-of-bounds access, a division by zero...
    Crashed { trap: String },
}

impl CaseOutcome {
    pub fn is_exit(&self) -> bool {
        matches!(self, CaseOutcome::Exited)
    }

    /// One line for people.
    pub fn summary(&self) -> String {
        match self {
            CaseOutcome::Exited => "exited normally".into(),
            CaseOutcome::TimeLimit { seconds } => format!("time limit: used all its {seconds:.1} s of program time"),
            CaseOutcome::WallTimeout { seconds } => format!("stopped by the wall-clock guard after {seconds:.1} s"),
            CaseOutcome::OutOfMemory { limit_mib } => format!("out of memory: tried to use more than {limit_mib} MiB"),
            CaseOutcome::OutputTooLarge { bytes } => format!("output too large: stopped after {bytes} bytes"),
            CaseOutcome::StackOverflow => "stack overflow (recursion too deep)".into(),
            CaseOutcome::ExitStatus { status } => format!("exited with status {status}"),
            CaseOutcome::Crashed { trap } => format!("crashed: {trap}"),
        }
    }
}

/// One case's run: how it ended, what it printed, what it used.
#[derive(Clone, Debug)]
pub struct CaseRun {
    pub outcome: CaseOutcome,
    /// All of stdout (up to the cap).
    pub stdout: Vec<u8>,
    /// The last part of stderr.
    pub stderr_tail: String,
    /// Program time used (fuel / FUEL_PER_SECOND).
    pub program_seconds: f64,
    pub wall_seconds: f64,
    /// From the start of the call to the first instruction of the program.
    pub startup_seconds: f64,
    pub fuel_used: u64,
    pub memory_bytes: usize,
}

/// The engine stdin/stdout programs run in: fuel (the clock and the limit),
/// epoch interruption (the wall guard), explicit stack.
pub fn engine() -> Result<Engine> {
    let mut config = Config::new();
    config
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(MAX_WASM_STACK)
        // wasmtime-wasi turns on async support, whose fiber stacks must hold the Wasm stack.
        .async_stack_size(MAX_WASM_STACK + (1 << 20))
        .cranelift_opt_level(OptLevel::Speed);
    Engine::new(&config).map_err(anyhow::Error::from).context("configuring the C++ program engine")
}

/// What a store of a stdin/stdout program holds: its WASI context, the memory
/// limiter, and what program time needs.
pub(crate) struct State {
    pub wasi: WasiP1Ctx,
    pub limiter: StoreLimiter,
    /// The fuel the store started with: `start_fuel - fuel left` is work done.
    pub start_fuel: u64,
    /// The deterministic `random_get` stream.
    pub random: u64,
}

impl AsMut<StoreLimiter> for State {
    fn as_mut(&mut self) -> &mut StoreLimiter {
        &mut self.limiter
    }
}

/// Replace the WASI imports that could observe the outside world or block:
/// clocks answer program time, randomness is a fixed stream, and a sleep
/// spends program time instead of waiting (`crate::hostcalls`).
pub(crate) fn add_program_time(linker: &mut Linker<State>) -> Result<()> {
    hostcalls::add_clocks(linker)?;
    linker.func_wrap("wasi_snapshot_preview1", "random_get", random_get)?;
    Ok(())
}

impl hostcalls::Clocks for State {
    /// Every clock is program time: realtime from a fixed epoch, the others from 0.
    fn now(caller: &Caller<'_, State>, id: u32) -> Option<u64> {
        let nanos = program_nanos(caller);
        match id {
            0 => Some(EPOCH_NANOS + nanos),
            1..=3 => Some(nanos),
            _ => None,
        }
    }

    /// A sleep is program time: its fuel is spent at once, and a sleep longer
    /// than what is left ends the program at its time limit.
    fn wait(caller: &mut Caller<'_, State>, nanos: u64) -> wasmtime::Result<()> {
        hostcalls::charge(caller, (nanos as u128 * FUEL_PER_SECOND as u128 / 1_000_000_000).min(u64::MAX as u128) as u64)
    }
}

/// A store for one case: `limits` applied, program time starting at 0.
pub(crate) fn case_store(engine: &Engine, wasi: WasiP1Ctx, limits: &CaseLimits) -> wasmtime::Store<State> {
    let fuel = limits.fuel();
    let sandbox_limits =
        Limits { fuel: Some(fuel), deadline: limits.wall, memory_bytes: limits.memory_bytes, table_elements: 1 << 20 };
    let state = State { wasi, limiter: StoreLimiter::new(&sandbox_limits), start_fuel: fuel, random: 0x5eed };
    let mut store = discover_sandbox::limited_store(engine, state, &sandbox_limits);
    hostcalls::charge_host_calls(&mut store);
    store
}

/// A compiled program, ready to run cases.
pub struct Program {
    engine: Engine,
    module: Module,
    linker: Linker<State>,
}

impl Program {
    pub fn new(engine: &Engine, module: Module) -> Result<Program> {
        let mut linker: Linker<State> = Linker::new(engine);
        p1::add_to_linker_sync(&mut linker, |s: &mut State| &mut s.wasi)?;
        add_program_time(&mut linker)?;
        Ok(Program { engine: engine.clone(), module, linker })
    }

    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Run one case on the calling thread (which needs a [`THREAD_STACK`] stack).
    pub fn run_here(&self, stdin: &[u8], limits: &CaseLimits) -> Result<CaseRun> {
        let start = Instant::now();
        let stdout = Output::new(limits.stdout_max_bytes as usize, limits.stdout_max_bytes);
        let stderr = Output::new(64 << 10, limits.stderr_max_bytes);
        let wasi = WasiCtxBuilder::new()
            .args(&["main"])
            .stdin(MemoryInputPipe::new(stdin.to_vec()))
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build_p1();
        let fuel = limits.fuel();
        let mut store = case_store(&self.engine, wasi, limits);
        let mut started = None;
        let mut instance = None;
        let ended = self.linker.instantiate(&mut store, &self.module).and_then(|i| {
            let main = i.get_typed_func::<(), ()>(&mut store, "_start")?;
            instance = Some(i);
            started = Some(Instant::now());
            main.call(&mut store, ())
        });
        let wall = start.elapsed();
        let fuel_used = fuel - store.get_fuel().unwrap_or(0);
        let limiter = &store.data().limiter;
        let (refused, peak) = (limiter.memory_refused, limiter.peak_memory_bytes);
        // With `--stack-first` the shadow stack is [0, SHADOW_STACK_BYTES): a
        // frame that overflows it wraps its pointer to the top of the 32-bit
        // space, and the access traps out of bounds. Its pointer tells.
        let stack_overflowed = match (&ended, instance) {
            (Err(e), Some(instance)) if e.downcast_ref::<Trap>() == Some(&Trap::MemoryOutOfBounds) => {
                match instance.get_global(&mut store, "__stack_pointer").map(|g| g.get(&mut store)) {
                    Some(Val::I32(sp)) => sp as u32 as u64 > SHADOW_STACK_BYTES,
                    _ => false,
                }
            }
            _ => false,
        };
        drop(store);
        let usage = Usage { wall, startup: started.map_or(wall, |s| s - start), fuel_used, memory_refused: refused, peak_memory: peak };
        Ok(case_run(ended, &stdout, &stderr, usage, stack_overflowed, limits))
    }

    /// [`Program::run_here`] on a thread with the stack a case needs.
    pub fn run(&self, stdin: &[u8], limits: &CaseLimits) -> Result<CaseRun> {
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("discover-case".into())
                .stack_size(THREAD_STACK)
                .spawn_scoped(scope, || self.run_here(stdin, limits))
                .expect("spawning a case thread")
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("a case thread panicked")))
        })
    }
}

/// What a finished case used.
pub(crate) struct Usage {
    pub wall: Duration,
    /// From the start of the call to the program's first instruction.
    pub startup: Duration,
    pub fuel_used: u64,
    pub memory_refused: bool,
    pub peak_memory: usize,
}

/// The report of a finished case: its outcome from how it ended and what it
/// printed, and what it used.
pub(crate) fn case_run(
    ended: wasmtime::Result<()>,
    stdout: &Output,
    stderr: &Output,
    usage: Usage,
    stack_overflowed: bool,
    limits: &CaseLimits,
) -> CaseRun {
    let (out, err) = (stdout.captured(), stderr.captured());
    let outcome = classify(ended, &out, &err, usage.memory_refused, stack_overflowed, limits);
    CaseRun {
        outcome,
        stdout: out.tail,
        stderr_tail: crate::tail_chars(&err.tail),
        program_seconds: usage.fuel_used as f64 / FUEL_PER_SECOND as f64,
        wall_seconds: usage.wall.as_secs_f64(),
        startup_seconds: usage.startup.as_secs_f64(),
        fuel_used: usage.fuel_used,
        memory_bytes: usage.peak_memory,
    }
}

fn classify(
    ended: wasmtime::Result<()>,
    out: &Captured,
    err: &Captured,
    memory_refused: bool,
    stack_overflowed: bool,
    limits: &CaseLimits,
) -> CaseOutcome {
    if out.too_large || err.too_large {
        return CaseOutcome::OutputTooLarge { bytes: out.total + err.total };
    }
    let Err(e) = ended else { return CaseOutcome::Exited };
    if let Some(exit) = e.downcast_ref::<I32Exit>() {
        return match exit.0 {
            0 => CaseOutcome::Exited,
            _ if memory_refused => CaseOutcome::OutOfMemory { limit_mib: limits.memory_bytes >> 20 },
            status => CaseOutcome::ExitStatus { status },
        };
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => CaseOutcome::TimeLimit { seconds: limits.seconds },
        Some(Trap::Interrupt) => CaseOutcome::WallTimeout { seconds: limits.wall.as_secs_f64() },
        _ if memory_refused => CaseOutcome::OutOfMemory { limit_mib: limits.memory_bytes >> 20 },
        Some(Trap::StackOverflow) => CaseOutcome::StackOverflow,
        Some(Trap::MemoryOutOfBounds) if stack_overflowed => CaseOutcome::StackOverflow,
        Some(trap) => CaseOutcome::Crashed { trap: trap.to_string() },
        None => CaseOutcome::Crashed { trap: format!("{e:#}") },
    }
}

fn program_nanos(caller: &Caller<'_, State>) -> u64 {
    let used = caller.data().start_fuel - caller.get_fuel().unwrap_or(0);
    (used as u128 * 1_000_000_000 / FUEL_PER_SECOND as u128) as u64
}

/// A fixed stream (splitmix64): `std::random_device` and `getentropy` give the
/// same numbers on every run, so a rerun reproduces the program's choices.
/// Each byte costs [`hostcalls::HOST_BYTE_FUEL`] on top of the call.
fn random_get(mut caller: Caller<'_, State>, ptr: i32, len: i32) -> wasmtime::Result<i32> {
    let len = len as u32 as usize;
    if len > 1 << 20 {
        return Ok(ERRNO_INVAL);
    }
    hostcalls::charge(&mut caller, len as u64 * hostcalls::HOST_BYTE_FUEL)?;
    let mut bytes = Vec::with_capacity(len + 8);
    let state = &mut caller.data_mut().random;
    while bytes.len() < len {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        bytes.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    Ok(hostcalls::write_bytes(&mut caller, ptr, &bytes[..len]))
}

