//! Contest problems end to end: the `contest` world's components (generators
//! pinned to the official inputs, scorers judging hand-built outputs), C++
//! candidates compiled in bubblewrap and run in Wasm (hostile programs get
//! typed outcomes, the host is unharmed), deterministic program time, and a
//! discovery run whose programs come from a scripted OpenAI-compatible server.
//!
//! Needs the C++ toolchain `.ci/run` installs (clang-19, wasi-libc, libc++ for
//! wasm32, bubblewrap).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, OnceLock};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use discover::candidate::cpp::{CaseLimits, CaseOutcome, CompileLimits, Cpp, StdioRuntime};
use discover::problem::{ContestProblem, Loaded};

fn discover_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_discover"));
    cmd.args(args).stdin(Stdio::null()).env("DISCOVER_CACHE_DIR", cache());
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One cache for every test: compiled components and compiled C++ programs.
fn cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("contest-cache")
}

fn program(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/contest/programs").join(name)
}

fn contest(id: &str) -> ContestProblem {
    match Loaded::load(&common::sandbox(), id).unwrap() {
        Loaded::Contest(p) => p,
        Loaded::Construction(_) => panic!("{id} is a contest problem"),
    }
}

fn cpp() -> &'static Cpp {
    static CPP: OnceLock<Cpp> = OnceLock::new();
    CPP.get_or_init(|| Cpp::new(&cache().join("cpp")).expect("the C++ toolchain is installed (see .ci/run)"))
}

/// Compile `source` and run it once on `input` under the contest limits.
fn run_cpp(source: &str, input: &str) -> discover::candidate::cpp::CaseRun {
    let prepared = cpp().prepare(source).unwrap().unwrap_or_else(|e| panic!("compile error:\n{}", e.message));
    prepared.program.run(input.as_bytes(), &CaseLimits::contest(2.0)).unwrap()
}

fn compile_error(source: &str) -> String {
    cpp().prepare(source).unwrap().err().expect("the program must not compile").message
}

// ---------------------------------------------------------------- generators

fn official_digests(id: &str) -> Vec<(u64, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../tests/data/contest/{id}-inputs.sha256"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (seed, digest) = l.split_once(' ').unwrap();
            (seed.parse().unwrap(), digest.to_string())
        })
        .collect()
}

#[test]
fn generators_reproduce_the_150_official_inputs_of_both_problems_byte_for_byte() {
    for id in ["ahc039", "ahc058"] {
        let problem = contest(id);
        let digests = official_digests(id);
        assert_eq!(digests.len(), 150);
        for (seed, digest) in digests {
            let input = problem.generate(seed).unwrap();
            let got: String = Sha256::digest(input.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(got, digest, "{id} seed {seed} differs from the official input");
        }
    }
}

// ------------------------------------------------------------------- scorers

#[test]
fn the_components_score_hand_built_outputs_by_the_statements() {
    let fish = contest("ahc039");
    // Two mackerels (one on a corner), one sardine inside, one outside.
    let input = "2\n10 10\n15 15\n12 12\n50 50\n";
    let square = "4\n10 10\n20 10\n20 20\n10 20\n";
    assert_eq!(fish.score(input, square).unwrap(), Ok(2.0)); // 1 + 2 - 1
    let too_many: String = format!("1001\n{}", (0..1001).map(|i| format!("{i} 0\n")).collect::<String>());
    assert_eq!(fish.score(input, &too_many).unwrap().unwrap_err(), "line 1: the vertex count m 1001 is outside [4, 1000]");
    let touching = "8\n0 0\n10 0\n10 10\n20 10\n20 20\n10 20\n10 10\n0 10\n";
    assert!(fish.score(input, touching).unwrap().unwrap_err().contains("not simple"));

    let apples = contest("ahc058");
    let case = apples.generate(0).unwrap();
    let wait = "-1\n".repeat(500);
    assert_eq!(apples.score(&case, &wait).unwrap(), Ok(0.0));
    // Seed 0: A_9 = 92, C_{0,9} = 410 > the one apple there is.
    let unaffordable = format!("0 9\n{}", "-1\n".repeat(499));
    assert_eq!(
        apples.score(&case, &unaffordable).unwrap().unwrap_err(),
        "line 1 (turn 0): strengthening machine 9^0 costs 410 apples, only 1 are left"
    );
}

// ------------------------------------------------------------ hostile C++

#[test]
fn an_infinite_loop_ends_at_exactly_two_seconds_of_program_time() {
    let run = run_cpp("int main() { volatile unsigned x = 0; for (;;) x++; }", "");
    assert_eq!(run.outcome, CaseOutcome::TimeLimit { seconds: 2.0 });
    assert!((run.program_seconds - 2.0).abs() < 1e-6, "{}", run.program_seconds);
}

#[test]
fn four_gib_of_allocation_is_out_of_memory() {
    let source = "#include <bits/stdc++.h>\nint main() { std::vector<char*> v; for (int i = 0; i < 16; i++) { \
                  char* p = new char[256u << 20]; memset(p, 1, 256u << 20); v.push_back(p); } printf(\"%d\\n\", (int)v.size()); }";
    let run = run_cpp(source, "");
    assert_eq!(run.outcome, CaseOutcome::OutOfMemory { limit_mib: 1024 });
    assert!(run.memory_bytes <= 1 << 30);
}

#[test]
fn a_gib_of_output_is_stopped_at_the_cap() {
    let source = "#include <bits/stdc++.h>\nint main() { std::string s(1 << 20, 'x'); for (int i = 0; i < 1024; i++) fwrite(s.data(), 1, s.size(), stdout); }";
    let run = run_cpp(source, "");
    assert!(matches!(run.outcome, CaseOutcome::OutputTooLarge { bytes } if bytes <= 40 << 20), "{:?}", run.outcome);
}

#[test]
fn a_sleep_spends_program_time_and_never_blocks_the_host() {
    // 100 s asked with 2 s allowed: the time limit, at once.
    let source = "#include <bits/stdc++.h>\n#include <unistd.h>\nint main() { int r = usleep(100000000); printf(\"%d\\n\", r); }";
    let run = run_cpp(source, "");
    assert_eq!(run.outcome, CaseOutcome::TimeLimit { seconds: 2.0 });
    assert!(run.wall_seconds < 1.0, "a 100 s sleep blocked the host for {} s", run.wall_seconds);
    // A short sleep moves the program's clock by what it asked and waits for nothing.
    let source = "#include <bits/stdc++.h>\n#include <unistd.h>\nint main() { auto t0 = std::chrono::steady_clock::now(); \
                  usleep(500000); auto t1 = std::chrono::steady_clock::now(); \
                  printf(\"%lld\\n\", (long long)std::chrono::duration_cast<std::chrono::milliseconds>(t1 - t0).count()); }";
    let run = run_cpp(source, "");
    assert!(run.outcome.is_exit(), "{:?}", run.outcome);
    let slept: i64 = text(&run.stdout).trim().parse().unwrap();
    assert!((500..510).contains(&slept), "the clock moved {slept} ms");
    assert!(run.wall_seconds < 0.4, "a 0.5 s sleep took {} s of wall time", run.wall_seconds);
}

/// Fuel counts Wasm instructions, not the time spent crossing into the host:
/// each host call is charged as program time, so a loop of them ends at its
/// limit (fuel, not the 30 s wall guard) in about the wall time plain Wasm
/// code takes for the same program time (it took 15x before). The baseline is
/// measured in the same test, so a loaded machine slows both alike.
#[test]
fn a_loop_of_host_calls_ends_at_its_time_limit_within_twice_its_wall_time() {
    let baseline = run_cpp("int main() { volatile unsigned x = 0; for (;;) x++; }", "");
    assert_eq!(baseline.outcome, CaseOutcome::TimeLimit { seconds: 2.0 });
    let loops = [
        ("random_device", "#include <bits/stdc++.h>\nint main() { std::random_device rd; volatile unsigned x = 0; for (;;) x += rd(); }"),
        ("clock()", "#include <bits/stdc++.h>\nint main() { volatile long x = 0; for (;;) x += clock(); }"),
        ("steady_clock", "#include <bits/stdc++.h>\nint main() { volatile long x = 0; for (;;) x += std::chrono::steady_clock::now().time_since_epoch().count(); }"),
        ("getentropy of 256 bytes", "#include <bits/stdc++.h>\n#include <unistd.h>\nint main() { char b[256]; volatile int x = 0; for (;;) { getentropy(b, 256); x += b[7]; } }"),
    ];
    for (name, source) in loops {
        let run = run_cpp(source, "");
        let wall = run.wall_seconds;
        eprintln!("{name}: {:?} in {wall:.2} s of wall time (a plain loop: {:.2} s)", run.outcome, baseline.wall_seconds);
        assert_eq!(run.outcome, CaseOutcome::TimeLimit { seconds: 2.0 }, "{name}");
        assert!(
            wall < 2.0 * baseline.wall_seconds && wall < 15.0,
            "{name}: 2 s of program time took {wall:.2} s, a plain loop's {:.2} s",
            baseline.wall_seconds
        );
    }
}

#[test]
fn deep_recursion_is_a_stack_overflow() {
    let source = "#include <bits/stdc++.h>\nint f(int n) { volatile char buf[256]; buf[0] = n; return n == 0 ? 0 : f(n + 1) + buf[0]; }\n\
                  int main() { printf(\"%d\\n\", f(1)); }";
    assert_eq!(run_cpp(source, "").outcome, CaseOutcome::StackOverflow);
}

#[test]
fn files_of_the_host_cannot_be_read_at_run_time_or_included_at_compile_time() {
    let source = "#include <bits/stdc++.h>\nint main() { FILE* f = fopen(\"/etc/passwd\", \"r\"); \
                  if (!f) { perror(\"open\"); return 3; } char b[256]; while (fgets(b, 256, f)) fputs(b, stdout); }";
    let run = run_cpp(source, "");
    assert_eq!(run.outcome, CaseOutcome::ExitStatus { status: 3 });
    assert!(!text(&run.stdout).contains("root:"));

    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let first = passwd.lines().next().unwrap_or("root:x:0:0");
    for escape in ["#include \"/etc/passwd\"\nint main() {}", "#include </etc/passwd>\nint main() {}", "#include </dev/zero>\nint main() {}",
        "#include \"../../../../../../etc/passwd\"\nint main() {}", "#include </proc/self/environ>\nint main() {}"] {
        let message = compile_error(escape);
        assert!(message.contains("file not found"), "{escape}: {message}");
        assert!(!message.contains(first) && !message.contains("root:"), "{escape} leaked: {message}");
    }
}

#[test]
fn compile_time_bombs_end_at_the_compilers_limits() {
    // Exponential template instantiation: 2^40 distinct instantiations.
    let templates = "template <int N, long M> struct E { static constexpr long v = E<N - 1, 2 * M>::v + E<N - 1, 2 * M + 1>::v; };\n\
                     template <long M> struct E<0, M> { static constexpr long v = 1; };\nint main() { return (int)E<40, 0>::v; }";
    let constexpr_loop = "constexpr long f() { long s = 0; for (long i = 0; i < (1L << 40); i++) s += i; return s; }\n\
                          constexpr long v = f();\nint main() { return (int)v; }";
    let recursion = "template <int N> struct R { static constexpr int v = R<N + 1>::v; };\nint main() { return R<0>::v; }";
    // Small limits keep the test short; the defaults are 40 s of CPU and 4 GiB.
    let mut quick = Cpp::new(&cache().join("cpp-bombs")).unwrap();
    quick.compile_limits = CompileLimits { cpu_seconds: 5, wall: std::time::Duration::from_secs(10), ..CompileLimits::default() };
    for bomb in [templates, constexpr_loop, recursion] {
        let start = std::time::Instant::now();
        let message = quick.prepare(bomb).unwrap().err().expect("a bomb does not compile").message;
        assert!(start.elapsed().as_secs() < 15, "{bomb}");
        assert!(!message.is_empty());
    }
}

#[test]
fn exceptions_are_a_clear_compile_error() {
    let message = compile_error("int main() { try { throw 1; } catch (int) {} }");
    assert!(message.contains("cannot use 'throw' with exceptions disabled"), "{message}");
}

#[test]
fn exec_reports_programs_that_ignore_the_input_or_print_nonsense() {
    let dir = tempfile::tempdir().unwrap();
    // Never reads its input: a valid (tiny) square, scored.
    let lazy = dir.path().join("lazy.cpp");
    std::fs::write(&lazy, "#include <bits/stdc++.h>\nint main() { puts(\"4\\n0 0\\n1 0\\n1 1\\n0 1\"); }").unwrap();
    let out = discover_cmd(&["exec", "ahc039", lazy.to_str().unwrap(), "--cases", "0..3", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(report["cases_valid"], 3);
    // Malformed answers: invalid, with the offending line and value.
    let bad = dir.path().join("bad.cpp");
    std::fs::write(&bad, "#include <bits/stdc++.h>\nint main() { puts(\"4\\n0 0\\n1 0\\n1 1\\n0 100001\"); }").unwrap();
    let out = discover_cmd(&["exec", "ahc039", bad.to_str().unwrap(), "--cases", "0..3", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(report["cases_failed"], 3);
    assert_eq!(report["reward"], 0.0);
    assert_eq!(report["first_failure"]["kind"], "wrong-answer");
    assert_eq!(report["first_failure"]["reason"], "line 5: y of vertex 3 100001 is outside [0, 100000]");
    // Not compiling: exit 1 with the compiler's message.
    let broken = dir.path().join("broken.cpp");
    std::fs::write(&broken, "int main() { return undefined_name; }").unwrap();
    let out = discover_cmd(&["exec", "ahc058", broken.to_str().unwrap(), "--cases", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("use of undeclared identifier 'undefined_name'"), "{}", text(&out.stdout));
}

// ------------------------------------------------------- baselines and exec

/// The shipped starters and the hand-written baselines are valid on every
/// case, and the baselines beat the starters (scores recorded in BENCHMARKS.md).
#[test]
fn starters_and_baselines_are_valid_on_all_150_cases() {
    let mut totals = Vec::new();
    for (id, baseline) in [("ahc039", "ahc039_baseline.cpp"), ("ahc058", "ahc058_baseline.cpp")] {
        let starter = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../problems/{id}/starter.cpp"));
        for path in [starter, program(baseline)] {
            let out = discover_cmd(&["exec", id, path.to_str().unwrap(), "--json"]).output().unwrap();
            assert_eq!(out.status.code(), Some(0), "{}: {}", path.display(), text(&out.stdout));
            let report: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
            assert_eq!(report["cases"].as_array().unwrap().len(), 150);
            totals.push(report["contest_total"].as_f64().unwrap());
        }
    }
    // Measured on 2026-11-30 (deterministic: the same on every machine).
    assert_eq!(totals, vec![80157.0, 288910.0, 299271375.0, 730382416.0]);
}

/// Python programs need the runtime `discover setup` put in the user's cache
/// (`cargo xtask test` runs it), so these commands use the default cache.
fn python_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_discover"));
    cmd.args(args).stdin(Stdio::null());
    cmd
}

#[test]
fn python_programs_take_the_same_stdin_stdout_contract() {
    // The Python version of the C++ starter scores what the starter scores.
    let py = program("ahc039_starter.py");
    let starter = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../problems/ahc039/starter.cpp");
    let totals: Vec<Value> = [py.as_path(), starter.as_path()]
        .iter()
        .map(|p| {
            let out = python_cmd(&["exec", "ahc039", p.to_str().unwrap(), "--cases", "0..5", "--json"]).output().unwrap();
            assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
            let report: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
            report["contest_total"].clone()
        })
        .collect();
    assert_eq!(totals[0], totals[1]);
    let dir = tempfile::tempdir().unwrap();
    // A syntax error is reported like a compile error; an exception fails the case.
    let bad = dir.path().join("bad.py");
    std::fs::write(&bad, "def broken(:\n    pass\n").unwrap();
    let out = python_cmd(&["exec", "ahc039", bad.to_str().unwrap(), "--cases", "0", "--json"]).output().unwrap();
    let report: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert!(report["compile_error"].as_str().unwrap().contains("SyntaxError"), "{report}");
    let raises = dir.path().join("raises.py");
    std::fs::write(&raises, "import sys\nsys.stdin.read()\nraise ValueError('no idea')\n").unwrap();
    let out = python_cmd(&["exec", "ahc039", raises.to_str().unwrap(), "--cases", "0", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(report["first_failure"]["kind"], "runtime-error", "{report}");
    assert!(report["first_failure"]["stderr_tail"].as_str().unwrap().contains("ValueError: no idea"), "{report}");
    // An endless loop ends at the program-time limit, as in C++.
    let spins = dir.path().join("spins.py");
    std::fs::write(&spins, "while True:\n    pass\n").unwrap();
    let out = python_cmd(&["exec", "ahc039", spins.to_str().unwrap(), "--cases", "0", "--json"]).output().unwrap();
    let report: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(report["first_failure"]["kind"], "time-limit", "{report}");
    // So does a sleep, at once: sleeping spends program time.
    let sleeps = dir.path().join("sleeps.py");
    std::fs::write(&sleeps, "import time\ntime.sleep(10**6)\n").unwrap();
    let start = std::time::Instant::now();
    let out = python_cmd(&["exec", "ahc039", sleeps.to_str().unwrap(), "--cases", "0", "--json"]).output().unwrap();
    let report: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(report["first_failure"]["kind"], "time-limit", "{report}");
    assert!(start.elapsed() < std::time::Duration::from_secs(30), "the sleep blocked for {:?}", start.elapsed());
}

// -------------------------------------------------------------- determinism

#[test]
fn an_annealer_that_watches_its_clock_gives_identical_results_alone_in_parallel_and_under_load() {
    let source = std::fs::read_to_string(program("anneal_until_clock.cpp")).unwrap();
    let problem = contest("ahc039");
    let input = problem.generate(7).unwrap();
    let alone = run_cpp(&source, &input);
    assert!(alone.outcome.is_exit(), "{:?}", alone.outcome);
    assert!(alone.program_seconds > 1.85 && alone.program_seconds < 2.0, "{}", alone.program_seconds);

    // Under load: two busy threads per core on top of two cases at a time.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let burners: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            })
        })
        .collect();
    let prepared = cpp().prepare(&source).unwrap().unwrap();
    let loaded: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| s.spawn(|| prepared.program.run(input.as_bytes(), &CaseLimits::contest(2.0)).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    burners.into_iter().for_each(|b| b.join().unwrap());
    for run in &loaded {
        assert_eq!(run.stdout, alone.stdout, "the output changed under load");
        assert_eq!(run.fuel_used, alone.fuel_used);
    }
    let alone_score = problem.score(&input, &text(&alone.stdout)).unwrap().unwrap();

    // All 150 cases on 2 workers: case 7 scores as it did alone, and a rerun
    // reproduces every case.
    let path = program("anneal_until_clock.cpp");
    let out = discover_cmd(&["exec", "ahc039", path.to_str().unwrap(), "--workers", "2", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let first: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    let case7 = &first["cases"][7];
    assert_eq!(case7["score"].as_f64(), Some(alone_score));
    assert_eq!(case7["program_seconds"].as_f64(), Some(alone.program_seconds));
    // A rerun in a fresh process (no memo), on 2 workers again: the same numbers.
    let out = discover_cmd(&["exec", "ahc039", path.to_str().unwrap(), "--workers", "2", "--cases", "0..6", "--json"]).output().unwrap();
    let second: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    let scores = |r: &Value, n: usize| {
        r["cases"].as_array().unwrap()[..n].iter().map(|c| (c["score"].clone(), c["program_seconds"].clone())).collect::<Vec<_>>()
    };
    assert_eq!(scores(&first, 6), scores(&second, 6));
}

// -------------------------------------------------------------- discovery run

const NOT_COMPILING: &str = "Try this.\n\n```cpp\nint main() { return not_declared; }\n```\n";
const INVALID: &str = "A triangle.\n\n```cpp\n#include <cstdio>\nint main() { puts(\"3\\n0 0\\n1 0\\n0 1\"); }\n```\n";

fn contest_run(out: &Path, url: &str, policy: &str) -> Output {
    discover_cmd(&[
        "run", "ahc039", "--policy", policy, "--base-url", url, "--steps", "1", "--groups", "1", "--group-size", "3",
        "--cases", "0..4", "--retry-backoff", "0.01", "--json", "--out", out.to_str().unwrap(),
    ])
    .output()
    .unwrap()
}

#[test]
fn a_run_against_a_scripted_server_records_each_outcome_and_keeps_the_valid_program() {
    // The good answer is the hand-written baseline, which beats the starter.
    let baseline = std::fs::read_to_string(program("ahc039_baseline.cpp")).unwrap();
    let good: &'static str = Box::leak(format!("Use a finer grid and the best sub-rectangle.\n\n```cpp\n{baseline}```\n").into_boxed_str());
    let (url, _stop) = common::scripted_server([good, NOT_COMPILING, INVALID]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let out = contest_run(&dir, &url, "openai");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events: Vec<Value> =
        std::fs::read_to_string(dir.join("events.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let rollouts: Vec<&Value> = events.iter().filter(|e| e["type"] == "rollout").collect();
    assert_eq!(rollouts.len(), 3);
    let initial = events.iter().find(|e| e["type"] == "initial").unwrap()["score"].as_f64().unwrap();
    let good = rollouts.iter().find(|r| r["failure"].is_null()).expect("the good program scored");
    assert!(good["score"].as_f64().unwrap() > initial, "{good} vs the starter's {initial}");
    let kinds: Vec<&str> = rollouts.iter().filter_map(|r| r["failure"]["kind"].as_str()).collect();
    assert!(kinds.contains(&"compile-error") && kinds.contains(&"wrong-answer"), "{kinds:?}");
    let best = std::fs::read_to_string(dir.join("best/program.cpp")).unwrap();
    assert_eq!(best.trim_end(), baseline.trim_end());
    let report: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("best/report.json")).unwrap()).unwrap();
    assert_eq!(report["cases_valid"], 4);

    // The numeric policy refuses a contest problem in one line.
    let out = discover_cmd(&["run", "ahc039", "--steps", "1", "--out", tmp.path().join("n").to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("contest problem whose solutions are programs"), "{}", text(&out.stderr));
}

#[test]
fn problems_lists_both_kinds_and_shows_a_contest_statement_with_its_contract() {
    let out = discover_cmd(&["problems", "--json"]).output().unwrap();
    let rows: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    let kind = |id: &str| rows.as_array().unwrap().iter().find(|r| r["id"] == id).unwrap()["kind"].clone();
    assert_eq!((kind("ahc039"), kind("circle-packing-26")), (json!("contest"), json!("construction")));
    let out = discover_cmd(&["problems", "show", "ahc039"]).output().unwrap();
    let shown = text(&out.stdout);
    for needle in ["Purse Seine", "Input (stdin)", "Output (stdout)", "2.0 s of program time", "1024 MiB", "bits/stdc++.h"] {
        assert!(shown.contains(needle), "missing {needle:?}:\n{shown}");
    }
    // A contest component loads from a path like a construction one (here the
    // prebuilt copy of the built-in), with a starter beside it when there is one.
    let tmp = tempfile::tempdir().unwrap();
    let component = tmp.path().join("fishing.wasm");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/problem/prebuilt/ahc039.wasm"), &component).unwrap();
    let starter = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../problems/ahc039/starter.cpp");
    let out = discover_cmd(&["exec", component.to_str().unwrap(), starter.to_str().unwrap(), "--cases", "0..2", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    std::fs::copy(&starter, tmp.path().join("fishing.starter.cpp")).unwrap();
    let out = discover_cmd(&["problems", "show", component.to_str().unwrap(), "--json"]).output().unwrap();
    let shown: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(shown["world"], "contest");
    assert_eq!(shown["starter"].as_str(), Some(std::fs::read_to_string(&starter).unwrap().as_str()));
}
