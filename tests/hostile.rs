//! Deliberately hostile problem components: each misbehaviour ends in its typed
//! error within a bounded time, and the host goes on serving.
//!
//! The hostile component is built from `tests/guests/hostile-problem` by the host's
//! build script; `values[0]` picks the misbehaviour.

mod common;

use std::time::{Duration, Instant};

use common::{hostile, sandbox, solution};
use discover::contract::failure::FailureKind;
use discover::problem::{Problem, ProblemError};
use discover::sandbox::{ComponentCache, Sandbox, SandboxError};

fn mode(m: f64) -> discover::problem::Solution {
    solution(vec![m, 0.0, 0.0])
}

/// After any failure the same loaded problem still answers correctly.
fn still_serves(p: &Problem) {
    let v = p.evaluate(&mode(0.0)).expect("a well-behaved call succeeds");
    assert_eq!(v.score, Some(3.0));
}

#[test]
fn infinite_loop_hits_the_deadline() {
    let sandbox = sandbox();
    let mut p = hostile(&sandbox);
    p.limits.fuel = None;
    p.limits.deadline = Duration::from_millis(300);
    let start = Instant::now();
    let err = p.evaluate(&mode(1.0)).unwrap_err();
    let took = start.elapsed();
    assert_eq!(err, ProblemError::Sandbox(SandboxError::Deadline { deadline: Duration::from_millis(300) }));
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(3), "{took:?}");
    assert_eq!(err.to_string(), "deadline exceeded: the guest ran longer than 300 ms");
    still_serves(&p);
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let sandbox = sandbox();
    let mut p = hostile(&sandbox);
    p.limits.fuel = Some(20_000_000);
    p.limits.deadline = Duration::from_secs(60);
    let start = Instant::now();
    let err = p.evaluate(&mode(1.0)).unwrap_err();
    assert_eq!(err, ProblemError::Sandbox(SandboxError::OutOfFuel { fuel: 20_000_000 }));
    assert!(start.elapsed() < Duration::from_secs(5));
    still_serves(&p);
}

#[test]
fn allocating_8_gib_hits_the_memory_cap() {
    let sandbox = sandbox();
    let mut p = hostile(&sandbox);
    p.limits.memory_bytes = 256 << 20;
    p.limits.fuel = None;
    p.limits.deadline = Duration::from_secs(30);
    let start = Instant::now();
    let err = p.evaluate(&mode(2.0)).unwrap_err();
    assert_eq!(err, ProblemError::Sandbox(SandboxError::OutOfMemory { limit_bytes: 256 << 20 }));
    assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
    assert_eq!(err.to_string(), "memory limit: the guest tried to grow its memory past 256 MiB");
    still_serves(&p);
}

#[test]
fn a_panic_reports_its_message() {
    let sandbox = sandbox();
    let p = hostile(&sandbox);
    let err = p.evaluate(&mode(3.0)).unwrap_err();
    let ProblemError::Sandbox(SandboxError::GuestPanic { message }) = &err else { panic!("{err:?}") };
    assert!(message.contains("the hostile problem panics on purpose (mode 3)"), "{message}");
    assert!(message.contains("hostile-problem/src/lib.rs"), "the location is kept: {message}");
    still_serves(&p);
}

#[test]
fn unbounded_recursion_is_a_stack_overflow() {
    let sandbox = sandbox();
    let p = hostile(&sandbox);
    assert_eq!(p.evaluate(&mode(5.0)).unwrap_err(), ProblemError::Sandbox(SandboxError::StackOverflow));
    still_serves(&p);
}

#[test]
fn contract_breaking_verdicts_are_typed_errors() {
    let sandbox = sandbox();
    let p = hostile(&sandbox);
    let nan = p.evaluate(&mode(4.0)).unwrap_err();
    assert_eq!(
        nan,
        ProblemError::InvalidVerdict(
            "the problem called a solution valid with a non-finite score (NaN)".into()
        )
    );
    let no_reason = p.evaluate(&mode(7.0)).unwrap_err();
    assert!(matches!(no_reason, ProblemError::InvalidVerdict(ref m) if m.contains("without a reason")));
    let refused = p.evaluate(&mode(6.0)).unwrap_err();
    assert_eq!(refused, ProblemError::Refused("this problem cannot judge anything".into()));
    still_serves(&p);
}

/// Hostile calls and good calls at the same time, on several threads: each good
/// call still gets its right answer.
#[test]
fn hostile_calls_do_not_disturb_concurrent_good_ones() {
    let sandbox = sandbox();
    let mut p = hostile(&sandbox);
    p.limits.deadline = Duration::from_millis(500);
    p.limits.fuel = None;
    p.limits.memory_bytes = 128 << 20;
    let p = &p;
    std::thread::scope(|scope| {
        let bad: Vec<_> = [1.0, 2.0, 3.0, 5.0]
            .into_iter()
            .map(|m| scope.spawn(move || p.evaluate(&mode(m)).unwrap_err()))
            .collect();
        let good: Vec<_> = (0..4).map(|_| scope.spawn(move || (0..20).all(|_| p.evaluate(&mode(0.0)).is_ok()))).collect();
        let kinds: Vec<String> =
            bad.into_iter().map(|h| FailureKind::from(h.join().unwrap().failure()).name()).collect();
        assert_eq!(kinds, ["deadline", "out-of-memory", "guest-panic", "stack-overflow"]);
        assert!(good.into_iter().all(|h| h.join().unwrap()));
    });
}

#[test]
fn things_that_are_not_problem_components_are_load_errors() {
    let sandbox = sandbox();
    let cases: [(&[u8], &str); 4] = [
        (b"definitely not wasm", "cannot load the component"),
        // The smallest core module: magic and version 1.
        (b"\0asm\x01\0\0\0", "core Wasm module, not a component"),
        // An empty component, in text form (the sandbox accepts WAT).
        (b"(component)", "does not implement the discover:problem@0.1.0"),
        (b"", "cannot load the component"),
    ];
    for (bytes, expected) in cases {
        let err = Problem::from_bytes(&sandbox, bytes).err().expect("load fails");
        assert!(matches!(err, ProblemError::Sandbox(SandboxError::Load(_))), "{err:?}");
        assert!(err.to_string().contains(expected), "{err}");
    }
}

/// A corrupt cache entry is recompiled and replaced, not trusted and not fatal.
#[test]
fn corrupt_cache_entries_are_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let load = || {
        let sandbox = Sandbox::new(ComponentCache::at(dir.path())).unwrap();
        let p = Problem::load(&sandbox, "erdos-min-overlap").unwrap();
        p.evaluate(&solution(vec![0.5; 10])).unwrap().score
    };
    assert_eq!(load(), Some(0.5));
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    std::fs::write(&entries[0], b"garbage").unwrap();
    assert_eq!(load(), Some(0.5));
    assert!(std::fs::metadata(&entries[0]).unwrap().len() > 1000, "the entry was rewritten");
}
