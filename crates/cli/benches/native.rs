//! What isolation costs a native candidate, and what one TriMul evaluation
//! costs end to end.
//!
//! `cargo xtask bench native [--runs N]` prints, as medians over N runs
//! (default 20):
//! - a trivial program (`/usr/bin/true`, then `python3 -c pass`) started
//!   directly and through `discover_candidate::native::run` (bubblewrap,
//!   prlimit, the deadline watcher), and their ratio;
//! - `discover exec trimul` of the starter kernel (plugin start, sandboxed
//!   harness, every shape checked), when the gpu-kernels pack is installed
//!   (`discover pack install packs/gpu-kernels`): CPU mode here.

use std::process::{Command, Stdio};
use std::time::Instant;

use discover::candidate::native::{self, Isolation, NativeJob, NativeLimits};

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn time_direct(argv: &[&str], runs: usize) -> f64 {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                let status = Command::new(argv[0]).args(&argv[1..]).stdout(Stdio::null()).status().unwrap();
                assert!(status.success());
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn time_isolated(argv: &[&str], isolation: Isolation, runs: usize) -> f64 {
    let job = NativeJob {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        limits: NativeLimits { wall_seconds: 30.0, ..NativeLimits::default() },
        ..Default::default()
    };
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                let report = native::run(&job, isolation, Stdio::null(), Box::new(std::io::sink())).unwrap();
                assert!(report.outcome.success(), "{:?}", report.outcome);
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .map_or(20, |v| v.parse().expect("--runs N"));
    native::probe().expect("bubblewrap is needed (apt-get install bubblewrap)");
    println!("native candidate start-up, median of {runs} runs (ms)");
    println!("{:<24} {:>10} {:>12} {:>12} {:>8}", "program", "direct", "bubblewrap", "unsafe", "ratio");
    for argv in [&["/usr/bin/true"][..], &["/usr/bin/python3", "-c", "pass"][..]] {
        let direct = time_direct(argv, runs);
        let sandboxed = time_isolated(argv, Isolation::Bubblewrap, runs);
        let unsafe_ = time_isolated(argv, Isolation::Unsafe, runs);
        println!(
            "{:<24} {:>10.2} {:>12.2} {:>12.2} {:>7.1}x",
            argv.join(" "),
            direct * 1e3,
            sandboxed * 1e3,
            unsafe_ * 1e3,
            sandboxed / direct
        );
    }

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let pack = root.join("packs/gpu-kernels");
    let starter = pack.join("trimul/starter.py");
    let exe = env!("CARGO_BIN_EXE_discover");
    let evals = runs.min(5);
    let mut walls = Vec::new();
    let mut scores = Vec::new();
    for _ in 0..evals {
        let t = Instant::now();
        let out = Command::new(exe)
            .args(["exec", "trimul"])
            .arg(&starter)
            .arg("--pack")
            .arg(&pack)
            .arg("--json")
            .output()
            .unwrap();
        if !out.status.success() {
            println!("\ntrimul: not measured ({})", String::from_utf8_lossy(&out.stderr).trim());
            return;
        }
        walls.push(t.elapsed().as_secs_f64());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        scores.push(v["score"].as_f64().unwrap());
    }
    println!("\ndiscover exec trimul starter.py (CPU mode unless a GPU is visible), median of {evals}");
    println!("  wall time of one evaluation (plugin start + sandboxed harness + checks): {:.2} s", median(walls));
    println!("  its score (geometric mean of the benchmark shapes): {:.0} us", median(scores));
}
