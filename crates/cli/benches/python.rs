//! The Python candidate sandbox against native CPython, on this machine, in one run.
//!
//! Run with `cargo xtask bench python [--workers N] [--trivial N] [--numpy N]` (or
//! `cargo bench -p discover --bench python -- ...`) after `discover setup`. The
//! native side runs `python3` subprocesses (set DISCOVER_BENCH_PYTHON to pick
//! another interpreter); it needs numpy and scipy installed for the numpy rows.
//!
//! Prints:
//! - start: a trivial candidate end to end in the sandbox (fresh instance of the
//!   snapshot, harness, program, report) versus `python3 -c` importing numpy and
//!   scipy.optimize (what a native candidate pays before its first statement);
//! - throughput: candidates per second for a trivial and a numpy program, N at
//!   once (sandbox pool versus N native subprocesses);
//! - memory: the host's peak resident memory with N candidates of 200 MB each.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use discover::python::pool::PoolConfig;
use discover::python::{Candidate, ProgramLimits, Outcome, Pool, Runtime};

const TRIVIAL: &str = "def solve(parent, x):\n    return parent\n";
const NUMPY: &str = "import numpy as np\n\
def solve(parent, x):\n    a = np.random.default_rng(0).random((200, 200))\n    for _ in range(5):\n        a = np.tanh(a @ a / 200)\n    return list(x + a.mean())\n";
const HOG: &str = "import numpy as np, time\n\
def solve(parent, x):\n    a = np.ones(25_000_000)\n    time.sleep(0.5)\n    return list(x + a[:1].sum())\n";

#[path = "flags.rs"]
mod flags;
use flags::flag;

fn main() {
    let workers = flag("--workers", std::thread::available_parallelism().map_or(2, |n| n.get()));
    let trivial_n = flag("--trivial", 200);
    let numpy_n = flag("--numpy", 40);
    let python = std::env::var("DISCOVER_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    // The interpreter itself, not a launcher script (pyenv shims cost ~80 ms a start).
    let python = Command::new(&python)
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or(python);
    println!("native interpreter: {python}");

    let load = Instant::now();
    let runtime = Arc::new(Runtime::load_default().unwrap_or_else(|e| panic!("{e:#}")));
    println!("runtime load: {:.1} ms; rss after load {} MiB", ms(load.elapsed()), rss_mib("VmRSS"));
    let native_numpy = Command::new(&python)
        .args(["-c", "import numpy, scipy.optimize"])
        .status()
        .is_ok_and(|s| s.success());
    if !native_numpy {
        println!("note: `{python}` cannot import numpy and scipy; the native numpy rows are skipped");
    }

    // --- Start ---------------------------------------------------------------------
    let one = |program: &str| Candidate { program: program.into(), parent: vec![1.0; 78], max_len: 78, budget_seconds: 10.0 };
    let limits = ProgramLimits { deadline: Duration::from_secs(60), ..ProgramLimits::default() };
    let sandbox_start = median((0..30).map(|_| {
        let t = Instant::now();
        let report = runtime.run(&one(TRIVIAL), &limits).unwrap();
        assert!(matches!(report.outcome, Outcome::Ok { .. }), "{report:?}");
        t.elapsed()
    }));
    let native_bare = median((0..10).map(|_| time_native(&python, "pass")));
    println!("\nstart (median)                                  ms");
    println!("  sandbox: trivial candidate, end to end       {:>8.2}", ms(sandbox_start));
    println!("  native python3 -c pass                       {:>8.2}", ms(native_bare));
    if native_numpy {
        let native_imports = median((0..10).map(|_| time_native(&python, "import numpy, scipy.optimize")));
        println!("  native python3 -c 'import numpy, scipy.optimize' {:>5.2}", ms(native_imports));
        println!("  ratio native imports / sandbox start         {:>8.1}x", ms(native_imports) / ms(sandbox_start));
    }

    // --- Throughput ----------------------------------------------------------------
    let pool = Pool::new(runtime.clone(), PoolConfig { workers, queue: 2 * workers, ..PoolConfig::default() }).unwrap();
    println!("\nthroughput, {workers} at once                        candidates/s");
    for (name, program, n, native_prelude, call) in [
        ("trivial", TRIVIAL, trivial_n, "", "solve([1.0] * 78, None)"),
        ("numpy", NUMPY, numpy_n, "import numpy, scipy.optimize\n", "solve([1.0] * 78, numpy.ones(78))"),
    ] {
        let t = Instant::now();
        let reports = pool.run_all((0..n).map(|_| (one(program), limits)).collect());
        let sandbox_rate = n as f64 / t.elapsed().as_secs_f64();
        for r in &reports {
            assert!(matches!(r.as_ref().unwrap().outcome, Outcome::Ok { .. }), "{r:?}");
        }
        println!("  sandbox {name:<8}                              {sandbox_rate:>8.1}");
        if name == "numpy" && !native_numpy {
            continue;
        }
        let script = format!("{native_prelude}{program}\nprint({call} is not None)\n");
        let t = Instant::now();
        run_native_parallel(&python, &script, n, workers);
        let native_rate = n as f64 / t.elapsed().as_secs_f64();
        println!("  native  {name:<8} (python3 subprocess)        {native_rate:>8.1}");
        println!("  ratio sandbox / native                       {:>8.2}x", sandbox_rate / native_rate);
    }
    drop(pool);

    // --- Memory --------------------------------------------------------------------
    println!("\npeak host memory, candidates of 200 MB each    MiB (VmHWM)");
    println!("  before                                       {:>8}", rss_mib("VmHWM"));
    for n in [1, 2, 4, 8] {
        let pool = Pool::new(runtime.clone(), PoolConfig { workers: n, queue: n, ..PoolConfig::default() }).unwrap();
        let reports = pool.run_all((0..n).map(|_| (one(HOG), limits)).collect());
        for r in &reports {
            assert!(matches!(r.as_ref().unwrap().outcome, Outcome::Ok { .. }), "{r:?}");
        }
        println!("  {n} in parallel                                {:>8}", rss_mib("VmHWM"));
    }
}

fn time_native(python: &str, code: &str) -> Duration {
    let t = Instant::now();
    let status = Command::new(python).args(["-c", code]).status().expect("running python3");
    assert!(status.success());
    t.elapsed()
}

/// Run `n` copies of `script` with `python`, `workers` at a time.
fn run_native_parallel(python: &str, script: &str, n: usize, workers: usize) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                    let mut child = Command::new(python)
                        .arg("-")
                        .stdin(Stdio::piped())
                        .stdout(Stdio::null())
                        .spawn()
                        .expect("running python3");
                    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
                    assert!(child.wait().unwrap().success());
                }
            });
        }
    });
}

fn median(samples: impl Iterator<Item = Duration>) -> Duration {
    let mut v: Vec<Duration> = samples.collect();
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A line of /proc/self/status, in MiB.
fn rss_mib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or(0, |kib| kib >> 10)
}
