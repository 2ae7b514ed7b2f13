//! How close the built-in policy gets to the best known value of each math
//! problem in a fixed time, with the default settings of `discover run`.
//!
//! Run with `cargo xtask bench records [--minutes M] [--problem ID] [--seed S]
//! [--init]` (or `cargo bench -p discover --bench records -- ...`). Each
//! problem runs through the real CLI, `discover run PROBLEM --time-limit
//! M*60 --seed S` (M = 60 by default) on every core, one problem after the
//! other, and the table gives the best score, the best known value, the gap
//! (positive: short of the record; negative: beyond it), when the best was
//! found, and the steps done. Below it, each run's curve of best score
//! against time (the steps that found a new best).
//!
//! `--init` starts every problem from each record construction the project
//! ships (`tests/data/fixtures/`, `discover run --init FILE`) instead of its
//! own initial states: can the run improve a published record?
//!
//! Run directories are kept under `target/records/` (their `best/` holds the
//! state and its picture).

use std::path::{Path, PathBuf};
use std::process::Command;

use discover::engine::{Event, RunDir};
use discover::problem::Direction;

const PROBLEMS: [(&str, Direction); 6] = [
    ("circle-packing-26", Direction::Maximize),
    ("circle-packing-32", Direction::Maximize),
    ("erdos-min-overlap", Direction::Minimize),
    ("autocorrelation-1", Direction::Minimize),
    ("autocorrelation-2", Direction::Maximize),
    ("autocorrelation-3", Direction::Minimize),
];

use xtask::RECORD_FIXTURES as FIXTURES;

#[path = "flags.rs"]
mod flags;

const USAGE: &str = "\
usage: cargo xtask bench records [--minutes M] [--problem ID] [--seed S] [--init] [--sigma S]

  --minutes M   minutes per run (default 60)
  --problem ID  only this problem (default: all six)
  --seed S      seed of every run (default 0)
  --init        start from the record constructions in tests/data/fixtures/
                instead of the problems' own initial states
  --sigma S     the numeric policy's starting sigma (discover run --sigma): a
                record needs proposals far smaller than the default 0.2";

struct Outcome {
    label: String,
    direction: Direction,
    best: Option<f64>,
    best_known: Option<f64>,
    best_at: f64,
    steps: u32,
    elapsed: f64,
    curve: Vec<(f64, f64)>,
}

fn root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

fn run(problem: &str, init: Option<&Path>, seed: u64, minutes: f64, sigma: Option<f64>, out: &Path) -> Outcome {
    let _ = std::fs::remove_dir_all(out);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_discover"));
    // --json: the summary on stdout instead of a progress bar.
    cmd.args(["run", problem, "--steps", "1000000", "--json", "--seed", &seed.to_string()])
        .args(["--time-limit", &format!("{}", minutes * 60.0), "--out", out.to_str().unwrap()]);
    if let Some(init) = init {
        cmd.arg("--init").arg(init);
    }
    if let Some(sigma) = sigma {
        cmd.args(["--sigma", &sigma.to_string()]);
    }
    let output = cmd.stderr(std::process::Stdio::inherit()).output().expect("running discover");
    assert!(output.status.success(), "discover run {problem} failed ({})", output.status);
    let label = match init {
        Some(init) => format!("{problem} from {}", init.file_name().unwrap().to_string_lossy()),
        None => problem.to_string(),
    };
    let config: toml::Value = toml::from_str(&std::fs::read_to_string(out.join("config.toml")).unwrap()).unwrap();
    let best_known = config.get("best_known").and_then(|v| v.as_float());
    let direction = PROBLEMS.iter().find(|(p, _)| *p == problem).expect("a listed problem").1;
    let mut outcome = Outcome { label, direction, best: None, best_known, best_at: 0.0, steps: 0, elapsed: 0.0, curve: Vec::new() };
    let events = RunDir::open(out).and_then(|d| d.events()).expect("the run's events");
    for event in events {
        match event {
            Event::Step(e) => {
                let r = &e.report;
                if r.new_best || outcome.curve.is_empty() {
                    outcome.curve.push((r.elapsed_seconds, r.best_score));
                }
                outcome.steps = r.step;
                outcome.elapsed = r.elapsed_seconds;
                outcome.best = Some(r.best_score);
                outcome.best_at = r.elapsed_seconds - r.seconds_since_best;
            }
            _ => {}
        }
    }
    outcome
}

fn gap(o: &Outcome) -> Option<f64> {
    let (best, known) = (o.best?, o.best_known?);
    // Positive: short of the record, in percent of it.
    Some(match o.direction {
        Direction::Minimize => (best - known) / known.abs() * 100.0,
        Direction::Maximize => (known - best) / known.abs() * 100.0,
    })
}

fn main() {
    let args = flags::Args::parse(USAGE, &["--minutes", "--problem", "--seed", "--sigma"], &["--init"]);
    let sigma: Option<f64> = args.value("--sigma");
    let minutes: f64 = args.value("--minutes").unwrap_or(60.0);
    let seed: u64 = args.value("--seed").unwrap_or(0);
    let only: Option<String> = args.value("--problem");
    let from_records = args.has("--init");
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let out_root = root().join("target/records");
    let mut jobs: Vec<(&str, Option<PathBuf>)> = Vec::new();
    if from_records {
        for (problem, file) in FIXTURES {
            jobs.push((problem, Some(root().join("tests/data/fixtures").join(file))));
        }
    } else {
        jobs.extend(PROBLEMS.iter().map(|(p, _)| (*p, None)));
    }
    jobs.retain(|(p, _)| only.as_deref().is_none_or(|o| o == *p));
    println!(
        "records: {} run(s) of {minutes} min each, default settings, seed {seed}, {workers} cores{}",
        jobs.len(),
        if from_records { ", from the shipped record constructions (--init)" } else { "" }
    );
    let mut outcomes = Vec::new();
    for (i, (problem, init)) in jobs.iter().enumerate() {
        let name = match init {
            Some(f) => format!("{problem}-{}", f.file_stem().unwrap().to_string_lossy()),
            None => format!("{problem}-{seed}"),
        };
        let out = out_root.join(name);
        eprintln!("[{}/{}] {problem}{} -> {}", i + 1, jobs.len(), init.as_ref().map_or(String::new(), |f| format!(" --init {}", f.display())), out.display());
        outcomes.push(run(problem, init.as_deref(), seed, minutes, sigma, &out));
    }
    println!();
    println!("| run | best | best known | gap | best found at | steps |");
    println!("|---|---:|---:|---:|---:|---:|");
    for o in &outcomes {
        let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.10}"));
        println!(
            "| {} | {} | {} | {} | {:.0} s of {:.0} s | {} |",
            o.label,
            show(o.best),
            show(o.best_known),
            gap(o).map_or("-".into(), |g| if g.abs() < 0.01 { format!("{g:+.2e} %") } else { format!("{g:+.4} %") }),
            o.best_at,
            o.elapsed,
            o.steps
        );
    }
    println!();
    println!("best score against time (the steps that found a new best):");
    for o in &outcomes {
        let points: Vec<String> = o.curve.iter().map(|(t, b)| format!("{t:.0}s {b:.7}")).collect();
        println!("  {}: {}", o.label, points.join(", "));
    }
}
