//! One candidate program: its request, its limits, and how it ended.

use std::time::{Duration, Instant};

use discover_contract::failure::ProgramFailure;
use serde::Serialize;
use wasmtime::Trap;
use wasmtime_wasi::I32Exit;

use super::guest::{self, GuestState};
use crate::output::{Captured, Output};
use super::Runtime;
use discover_sandbox::StoreLimiter;

/// The entry function every candidate defines.
pub const ENTRY: &str = "solve";

/// How many characters of stdout (and stderr) a report keeps for the next prompt.
pub const TAIL_CHARS: usize = discover_contract::OUTPUT_TAIL_CHARS;

/// What a candidate may use. Every limit is explicit; see [`ProgramLimits::default`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramLimits {
    /// Wall-clock time, from instantiation to the report.
    pub deadline: Duration,
    /// Fuel (about one unit per Wasm instruction); `None`: unmetered.
    pub fuel: Option<u64>,
    /// Linear memory, in bytes (the interpreter itself starts with about 130 MiB).
    pub memory_bytes: usize,
    /// Bytes of each output stream kept (the tail).
    pub output_keep_bytes: usize,
    /// Bytes of output (per stream) past which the candidate is stopped.
    pub output_max_bytes: u64,
}

impl Default for ProgramLimits {
    fn default() -> ProgramLimits {
        ProgramLimits {
            deadline: Duration::from_secs(60),
            fuel: None,
            memory_bytes: 2 << 30,
            output_keep_bytes: 64 << 10,
            output_max_bytes: 16 << 20,
        }
    }
}

/// One program to run, with the parent state it starts from.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Python source that defines `solve(parent, x)`.
    pub program: String,
    /// The parent's solution values.
    pub parent: Vec<f64>,
    /// The most numbers `solve` may return (the problem's `shape.max_len`).
    pub max_len: usize,
    /// Seconds the program is told it has (`BUDGET_SECONDS`); the deadline
    /// enforces it with some slack.
    pub budget_seconds: f64,
}

/// How a candidate ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// `solve` returned this many finite numbers (the verifier has not judged them yet).
    Ok { values: Vec<f64> },
    SyntaxError { message: String },
    /// An uncaught exception: its type and the end of its traceback.
    Exception { kind: String, traceback: String },
    Timeout { reason: String },
    OutOfMemory { detail: String },
    /// More than `output_max_bytes` on stdout or stderr.
    OutputTooLarge { bytes: u64 },
    /// The program ended (or never defined `solve`) without returning a solution.
    NoResult { reason: String },
    /// `solve` returned something that is not a solution.
    InvalidResult { reason: String },
}

impl Outcome {
    /// The outcome's name, as in `--json` output.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Ok { .. } => "ok",
            Outcome::SyntaxError { .. } => "syntax-error",
            Outcome::Exception { .. } => "exception",
            Outcome::Timeout { .. } => "timeout",
            Outcome::OutOfMemory { .. } => "out-of-memory",
            Outcome::OutputTooLarge { .. } => "output-too-large",
            Outcome::NoResult { .. } => "no-result",
            Outcome::InvalidResult { .. } => "invalid-result",
        }
    }

    /// The failure kind a run records; `None` for `ok`.
    pub fn failure(&self) -> Option<ProgramFailure> {
        Some(match self {
            Outcome::Ok { .. } => return None,
            Outcome::SyntaxError { .. } => ProgramFailure::SyntaxError,
            Outcome::Exception { .. } => ProgramFailure::Exception,
            Outcome::Timeout { .. } => ProgramFailure::Timeout,
            Outcome::OutOfMemory { .. } => ProgramFailure::OutOfMemory,
            Outcome::OutputTooLarge { .. } => ProgramFailure::OutputTooLarge,
            Outcome::NoResult { .. } => ProgramFailure::NoResult,
            Outcome::InvalidResult { .. } => ProgramFailure::InvalidResult,
        })
    }

    /// One line for people: the name and what happened.
    pub fn summary(&self) -> String {
        let detail = match self {
            Outcome::Ok { values } => format!("{} numbers", values.len()),
            Outcome::SyntaxError { message } => message.clone(),
            Outcome::Exception { kind, traceback } => {
                let last = traceback.trim_end().lines().last().unwrap_or(kind);
                last.to_string()
            }
            Outcome::Timeout { reason } => reason.clone(),
            Outcome::OutOfMemory { detail } => detail.clone(),
            Outcome::OutputTooLarge { bytes } => format!("stopped after {bytes} bytes of output"),
            Outcome::NoResult { reason } => reason.clone(),
            Outcome::InvalidResult { reason } => reason.clone(),
        };
        format!("{}: {detail}", self.name())
    }
}

/// A candidate's outcome with what it printed and used.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The last [`TAIL_CHARS`] characters of stdout (the result line excluded).
    pub stdout_tail: String,
    pub stderr_tail: String,
    pub stdout_bytes: u64,
    pub stderr_bytes: u64,
    /// Some output was dropped (only the tail was kept).
    pub output_truncated: bool,
    pub seconds: f64,
    /// The largest linear memory the instance had, in bytes.
    pub memory_bytes: usize,
    /// Fuel used, when the candidate was metered.
    pub fuel_used: Option<u64>,
}

impl Runtime {
    /// Run one candidate in a fresh instance, on a thread with the native stack
    /// the interpreter needs. Errors are the host's (a broken runtime); whatever
    /// the candidate does is in the report.
    pub fn run(&self, candidate: &Candidate, limits: &ProgramLimits) -> anyhow::Result<Report> {
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("discover-python".into())
                .stack_size(guest::THREAD_STACK)
                .spawn_scoped(scope, || self.run_here(candidate, limits))
                .expect("spawning a candidate thread")
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("a candidate thread panicked")))
        })
    }

    /// [`Runtime::run`] on the calling thread, which must have a
    /// [`guest::THREAD_STACK`]-sized stack.
    pub(crate) fn run_here(&self, candidate: &Candidate, limits: &ProgramLimits) -> anyhow::Result<Report> {
        let span = tracing::debug_span!("program", language = super::LANGUAGE, outcome = tracing::field::Empty);
        let _entered = span.enter();
        let start = Instant::now();
        let nonce = nonce();
        let request = serde_json::json!({
            "nonce": nonce,
            "program": candidate.program,
            "parent": candidate.parent,
            "max_len": candidate.max_len,
            "budget_seconds": candidate.budget_seconds,
            "entry": ENTRY,
        });
        let prefix = format!("\x1ediscover-result {nonce} ").into_bytes();
        // Room for max_len numbers of up to 24 characters each.
        let result_cap = candidate.max_len.saturating_mul(25).saturating_add(64 << 10);
        let stdout = Output::with_marker(limits.output_keep_bytes, limits.output_max_bytes, prefix, result_cap);
        let stderr = Output::new(limits.output_keep_bytes, limits.output_max_bytes);
        let wasi = guest::context(&self.paths, request.to_string().into_bytes(), stdout.clone(), stderr.clone())?;

        let sandbox_limits = discover_sandbox::Limits {
            fuel: limits.fuel,
            deadline: limits.deadline,
            memory_bytes: limits.memory_bytes,
            table_elements: 1 << 20,
        };
        let data = GuestState { wasi, limiter: StoreLimiter::new(&sandbox_limits), deadline: start + limits.deadline };
        let mut store = discover_sandbox::limited_store(&self.engine, data, &sandbox_limits);
        if limits.fuel.is_some() {
            // Metered: host calls cost fuel too, as in the contest runtimes.
            crate::hostcalls::charge_host_calls(&mut store);
        }

        let ended = match self.pre.instantiate(&mut store) {
            Ok(instance) => guest::turn(&mut store, &instance, b"_discover_run()\n"),
            Err(e) => Err(e),
        };
        let fuel_used = limits.fuel.map(|fuel| fuel - store.get_fuel().unwrap_or(0));
        let limiter = &store.data().limiter;
        let (refused, peak) = (limiter.memory_refused, limiter.peak_memory_bytes);
        drop(store);

        let (out, err) = (stdout.captured(), stderr.captured());
        let outcome = classify(ended, &out, &err, refused, limits);
        span.record("outcome", outcome.name());
        Ok(Report {
            outcome,
            stdout_tail: crate::tail_chars(&out.tail),
            stderr_tail: crate::tail_chars(&err.tail),
            stdout_bytes: out.total,
            stderr_bytes: err.total,
            output_truncated: out.total > out.tail.len() as u64 || err.total > err.tail.len() as u64,
            seconds: start.elapsed().as_secs_f64(),
            memory_bytes: peak,
            fuel_used,
        })
    }
}

/// Decide the outcome from how the call ended and what the harness reported.
fn classify(
    ended: wasmtime::Result<i32>,
    out: &Captured,
    err: &Captured,
    memory_refused: bool,
    limits: &ProgramLimits,
) -> Outcome {
    let out_of_memory = || Outcome::OutOfMemory {
        detail: format!("the candidate tried to use more than {} MiB of memory", limits.memory_bytes >> 20),
    };
    if out.too_large || err.too_large {
        return Outcome::OutputTooLarge { bytes: out.total + err.total };
    }
    match ended {
        Err(e) => {
            if let Some(exit) = e.downcast_ref::<I32Exit>() {
                return Outcome::NoResult {
                    reason: format!("the program exited with status {} before `{ENTRY}` returned", exit.0),
                };
            }
            match e.downcast_ref::<Trap>() {
                Some(Trap::Interrupt) => Outcome::Timeout {
                    reason: format!("still running after {:.1} s", limits.deadline.as_secs_f64()),
                },
                Some(Trap::OutOfFuel) => Outcome::Timeout {
                    reason: format!("used all its {} fuel", limits.fuel.unwrap_or(0)),
                },
                _ if memory_refused => out_of_memory(),
                Some(Trap::StackOverflow) => Outcome::Exception {
                    kind: "StackOverflow".into(),
                    traceback: "the interpreter overflowed its Wasm stack (deep recursion)".into(),
                },
                Some(trap) => Outcome::NoResult { reason: format!("the interpreter crashed: {trap}") },
                None => Outcome::NoResult { reason: format!("the interpreter stopped: {e:#}") },
            }
        }
        Ok(status) => match out.results.as_slice() {
            [] if out.oversized => Outcome::InvalidResult {
                reason: "the returned solution is too large to report".into(),
            },
            [] if status != 0 => Outcome::NoResult {
                reason: "the harness failed before the program ran (see stderr)".into(),
            },
            [] => Outcome::NoResult { reason: format!("the program ended before `{ENTRY}` returned") },
            [line] => parse_report(line, memory_refused).unwrap_or_else(|| {
                if memory_refused { out_of_memory() } else {
                    Outcome::InvalidResult { reason: "the harness's report could not be read".into() }
                }
            }),
            _ => Outcome::InvalidResult { reason: "the result channel was written more than once".into() },
        },
    }
}

/// Read one harness report: `STATUS BODY`.
fn parse_report(line: &[u8], memory_refused: bool) -> Option<Outcome> {
    let line = std::str::from_utf8(line).ok()?;
    let (status, body) = line.split_once(' ').unwrap_or((line, ""));
    let mut strings = serde_json::Deserializer::from_str(body).into_iter::<String>();
    let mut next = || strings.next().and_then(|s| s.ok());
    Some(match status {
        "ok" => {
            let values = if body.is_empty() {
                Vec::new()
            } else {
                body.split(',').map(|v| v.parse::<f64>().ok()).collect::<Option<Vec<f64>>>()?
            };
            if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Some(Outcome::InvalidResult { reason: format!("value {i} of the solution is {v}") });
            }
            Outcome::Ok { values }
        }
        "syntax-error" => Outcome::SyntaxError { message: next()? },
        "exception" => {
            let (kind, traceback) = (next()?, next()?);
            // numpy refuses arrays larger than the 32-bit address space with a
            // ValueError before asking for memory: the same failure to the user.
            let too_big = kind == "ValueError" && traceback.contains("array is too big");
            if kind == "MemoryError" || too_big {
                let why = if memory_refused { "the memory limit refused it" } else { "larger than a 32-bit address space" };
                Outcome::OutOfMemory { detail: format!("{kind}: an allocation failed ({why})") }
            } else {
                Outcome::Exception { kind, traceback }
            }
        }
        "no-result" => Outcome::NoResult { reason: next()? },
        "invalid-result" => Outcome::InvalidResult { reason: next()? },
        _ => return None,
    })
}

/// 128 bits the candidate cannot predict: the keys of a fresh SipHash state.
fn nonce() -> String {
    let mut bytes = [0u8; 16];
    // The operating system's generator: a candidate cannot predict it.
    getrandom::fill(&mut bytes).expect("the operating system's random generator works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_parse_into_outcomes() {
        assert_eq!(parse_report(b"ok 1.5,-2.0,1e-05", false), Some(Outcome::Ok { values: vec![1.5, -2.0, 1e-5] }));
        assert_eq!(parse_report(b"ok ", false), Some(Outcome::Ok { values: vec![] }));
        assert!(matches!(parse_report(b"ok 1.0,nan", false), Some(Outcome::InvalidResult { .. })));
        assert!(matches!(parse_report(b"ok 1.0,inf", false), Some(Outcome::InvalidResult { .. })));
        assert_eq!(parse_report(b"ok 1.0,x", false), None);
        assert_eq!(
            parse_report(br#"exception "ValueError" "Traceback\nValueError: x""#, false),
            Some(Outcome::Exception { kind: "ValueError".into(), traceback: "Traceback\nValueError: x".into() })
        );
        assert!(matches!(parse_report(br#"exception "MemoryError" """#, true), Some(Outcome::OutOfMemory { .. })));
        assert_eq!(parse_report(b"forged stuff", false), None);
    }

    #[test]
    fn tails_keep_the_last_characters() {
        let text = "é".repeat(600);
        assert_eq!(crate::tail_chars(text.as_bytes()).chars().count(), TAIL_CHARS);
        assert_eq!(crate::tail_chars(b"short"), "short");
    }
}
