//! C++ contest programs in the Wasm sandbox against the same programs compiled
//! natively, on this machine, in one run.
//!
//! Run with `cargo xtask bench contest [--cases N]` (needs g++ and the C++ to
//! Wasm toolchain `.ci/run` installs). Prints:
//! - calibration: for four workloads (integer search, floating point, random
//!   memory access, sort + map), fuel per second of native `g++ -O2` time; their
//!   geometric mean is what `FUEL_PER_SECOND` should be on this machine;
//! - per case: the AHC058 baseline (real work, about 0.3 s a case) and the
//!   AHC039 starter (fast) on N cases, one at a time: native process per case
//!   (spawn, stdin, wait) against the Wasm path (instantiate, run), the ratio of
//!   their run times, start-up cost, and compile times (g++ and clang to Wasm);
//!   the scores of both sides must agree case by case;
//! - full evaluations: every case on all cores for a program that anneals until
//!   its clock says 1.9 s, and for the fast one, against N x 2 s / workers.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use discover::candidate::cpp::{CaseLimits, Cpp, StdioRuntime, FUEL_PER_SECOND};
use discover::problem::{ContestProblem, Loaded};
use discover::rollout::contest::{ContestRunner, ContestSettings};
use discover::sandbox::{ComponentCache, Sandbox};

#[path = "flags.rs"]
mod flags;
use flags::flag;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/contest/programs").join(name)
}

fn native(source: &Path, dir: &Path) -> (PathBuf, f64) {
    let exe = dir.join(source.file_stem().unwrap());
    let start = Instant::now();
    let status = Command::new("g++")
        .args(["-O2", "-std=gnu++20", "-o"])
        .arg(&exe)
        .arg(source)
        .status()
        .expect("g++ runs");
    assert!(status.success(), "g++ failed on {}", source.display());
    (exe, start.elapsed().as_secs_f64())
}

/// One native run: (seconds, stdout).
fn run_native(exe: &Path, input: &[u8]) -> (f64, Vec<u8>) {
    let start = Instant::now();
    let mut child = Command::new(exe).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (start.elapsed().as_secs_f64(), out.stdout)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn contest(sandbox: &Sandbox, id: &str) -> ContestProblem {
    match Loaded::load(sandbox, id).unwrap() {
        Loaded::Contest(p) => p,
        _ => unreachable!(),
    }
}

fn main() {
    let cases = flag("--cases", 150usize) as u64;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let tmp = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::new(ComponentCache::disabled()).unwrap();
    let cpp = Arc::new(Cpp::new(&tmp.path().join("cpp")).expect("the C++ toolchain"));

    println!("== calibration: fuel per second of native g++ -O2 time (FUEL_PER_SECOND is {:.2e})", FUEL_PER_SECOND as f64);
    let mut logs = Vec::new();
    for (name, input) in [("anneal", "200000000"), ("floaty", "200000000"), ("mem", "50000000"), ("sortmap", "60")] {
        let source = data(&format!("calibration/{name}.cpp"));
        let (exe, _) = native(&source, tmp.path());
        let native_s = (0..3).map(|_| run_native(&exe, input.as_bytes()).0).fold(f64::INFINITY, f64::min);
        let prepared = cpp.prepare(&std::fs::read_to_string(&source).unwrap()).unwrap().unwrap();
        let mut limits = CaseLimits::contest(100.0);
        limits.wall = std::time::Duration::from_secs(300);
        let run = prepared.program.run(input.as_bytes(), &limits).unwrap();
        assert!(run.outcome.is_exit(), "{name}: {:?}", run.outcome);
        let rate = run.fuel_used as f64 / native_s;
        logs.push(rate.ln());
        println!(
            "{name:<8} native {native_s:.3} s  wasm {:.3} s wall ({:.2}x)  fuel {:.3e}  -> {rate:.3e} fuel/s  program time {:.3} s",
            run.wall_seconds,
            run.wall_seconds / native_s,
            run.fuel_used as f64,
            run.program_seconds
        );
    }
    let mean = (logs.iter().sum::<f64>() / logs.len() as f64).exp();
    println!("geometric mean {mean:.3e} fuel/s (the constant: {:.3e}, {:+.1}%)", FUEL_PER_SECOND as f64, 100.0 * (FUEL_PER_SECOND as f64 / mean - 1.0));

    println!("\n== per case, one at a time, {cases} cases");
    let runtimes: Vec<Arc<dyn StdioRuntime>> = vec![cpp.clone()];
    for (id, file) in [("ahc058", data("ahc058_baseline.cpp")), ("ahc039", Path::new(env!("CARGO_MANIFEST_DIR")).join("../../problems/ahc039/starter.cpp"))] {
        let problem = contest(&sandbox, id);
        let source = std::fs::read_to_string(&file).unwrap();
        let (exe, gxx_seconds) = native(&file, tmp.path());
        let settings = ContestSettings { cases: (0..cases).collect(), workers: 1, limits: CaseLimits::contest(2.0), stop_at_first_failure: false };
        let runner = ContestRunner::new(problem.clone(), runtimes.clone(), settings);
        let inputs = runner.inputs().unwrap().to_vec();
        let report = runner.evaluate("cpp", &source).unwrap();
        let cached = cpp.prepare(&source).unwrap().unwrap();
        let (mut ratios, mut native_times, mut wasm_times, mut startups) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (case, input) in report.cases.iter().zip(&inputs) {
            let (native_s, out) = run_native(&exe, input.as_bytes());
            let native_score = problem.score(input, &String::from_utf8_lossy(&out)).unwrap().ok();
            assert_eq!(native_score, case.score, "{id} case {}: native and Wasm disagree", case.seed);
            ratios.push(case.wall_seconds / native_s);
            native_times.push(native_s);
            wasm_times.push(case.wall_seconds);
            startups.push(case.startup_seconds);
        }
        println!(
            "{id} {}: native {:.4} s/case median, wasm {:.4} s/case median; per-case ratio median {:.2}x (total {:.2}x); \
             wasm start-up {:.0} us median; compile g++ {gxx_seconds:.2} s, clang->wasm {:.2} s ({:.3} s cached); contest total {}",
            file.file_name().unwrap().to_string_lossy(),
            median(native_times.clone()),
            median(wasm_times.clone()),
            median(ratios),
            wasm_times.iter().sum::<f64>() / native_times.iter().sum::<f64>(),
            1e6 * median(startups),
            report.compile_seconds,
            cached.compile_seconds,
            report.contest_total
        );
    }
    // What a native process costs before its first instruction: a program that does nothing.
    let empty = tmp.path().join("empty.cpp");
    std::fs::write(&empty, "int main() { return 0; }").unwrap();
    let (exe, _) = native(&empty, tmp.path());
    let spawn = median((0..50).map(|_| run_native(&exe, b"").0).collect());
    println!("native process start (empty program, spawn + wait): {:.0} us median", 1e6 * spawn);

    println!("\n== full evaluations: {cases} cases on {workers} workers");
    for (name, file) in [("anneal until 1.9 s", data("anneal_until_clock.cpp")), ("ahc039 starter (fast)", Path::new(env!("CARGO_MANIFEST_DIR")).join("../../problems/ahc039/starter.cpp"))] {
        let problem = contest(&sandbox, "ahc039");
        let settings = ContestSettings { cases: (0..cases).collect(), workers, limits: CaseLimits::contest(2.0), stop_at_first_failure: false };
        let runner = ContestRunner::new(problem, runtimes.clone(), settings);
        runner.inputs().unwrap();
        let source = std::fs::read_to_string(&file).unwrap();
        cpp.prepare(&source).unwrap().unwrap();
        let start = Instant::now();
        let report = runner.evaluate("cpp", &source).unwrap();
        let wall = start.elapsed().as_secs_f64();
        let program: f64 = report.cases.iter().map(|c| c.program_seconds).sum();
        let budget = cases as f64 * 2.0 / workers as f64;
        println!(
            "{name:<22} wall {wall:.1} s for {:.1} s of program time ({:.2} program-s per wall-s per worker); \
             {cases} x 2 s / {workers} = {budget:.0} s -> {:.2}x of it; {} of {cases} valid",
            program,
            program / wall / workers as f64,
            wall / budget,
            report.cases_valid
        );
    }
}
