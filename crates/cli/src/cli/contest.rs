//! Contest problems on the command line: `discover exec` of a C++ program on
//! the cases, `problems show` of a contest statement, and the runner a
//! discovery run evaluates programs with.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use crate::candidate::cpp::{self, CaseLimits, StdioRuntime};
use crate::python;
use crate::problem::ContestProblem;
use crate::rollout::contest::ContestReport;
pub use crate::rollout::contest::{cpp_runtime, runner, DEFAULT_CASES};

/// `0..150`, `0..=9`, `7`, or `3,5,8` (mixable: `0..3,10`).
pub fn parse_cases(text: &str) -> Result<Vec<u64>> {
    let mut seeds = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let number = |s: &str| {
            s.trim().parse::<u64>().with_context(|| format!("--cases: `{s}` is not a seed (a non-negative integer)"))
        };
        if let Some((a, b)) = part.split_once("..=") {
            seeds.extend(number(a)?..=number(b)?);
        } else if let Some((a, b)) = part.split_once("..") {
            seeds.extend(number(a)?..number(b)?);
        } else {
            seeds.push(number(part)?);
        }
    }
    if seeds.is_empty() {
        bail!("--cases `{text}` names no case; write a range like 0..150 or a list like 0,1,2");
    }
    if seeds.len() > 100_000 {
        bail!("--cases `{text}` names {} cases; at most 100000", seeds.len());
    }
    Ok(seeds)
}

/// The language of a program file, from its extension.
fn language_of(path: &Path) -> Result<&'static str> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("cpp" | "cc" | "cxx" | "c++") => Ok(cpp::LANGUAGE),
        Some("py") => Ok(python::LANGUAGE),
        _ => bail!("{}: name a C++ program `*.cpp` or a Python one `*.py` (the language is told by the extension)", path.display()),
    }
}

/// `discover exec CONTEST PROGRAM.cpp`: every case, a summary, exit 0 only if
/// every case is valid.
pub fn exec(
    problem: ContestProblem,
    cache_dir: Option<&Path>,
    program: &PathBuf,
    cases: Option<&str>,
    workers: Option<usize>,
    json: bool,
) -> Result<ExitCode> {
    let language = language_of(program)?;
    let source =
        std::fs::read_to_string(program).with_context(|| format!("cannot read {}", program.display()))?;
    let cases = match cases {
        Some(text) => parse_cases(text)?,
        None => DEFAULT_CASES.collect(),
    };
    let workers = workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if workers == 0 {
        bail!("--workers must be at least 1");
    }
    let runner = runner(problem, cache_dir, cases, workers, language == python::LANGUAGE, false)?;
    let report = runner.evaluate(language, &source)?;
    if json {
        println!("{}", serde_json::to_string(&*report)?);
    } else {
        print_report(&report);
    }
    Ok(if report.all_valid() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn print_report(r: &ContestReport) {
    if let Some(e) = &r.compile_error {
        println!("{}: the program did not compile", r.problem);
        for line in e.trim_end().lines() {
            println!("  {line}");
        }
        return;
    }
    println!("{}: {} of {} cases valid", r.problem, r.cases_valid, r.cases.len());
    println!("reward        {} (mean case score, failed cases count 0)", r.reward);
    println!(
        "contest total {}{}",
        r.contest_total,
        if r.cases_failed > 0 { " (a case failed, so the contest counts 0)" } else { "" }
    );
    if r.cases_failed > 0 {
        println!("valid total   {}", r.valid_total);
    }
    if let Some(f) = &r.first_failure {
        println!("first failure seed {}: {}", f.seed, f.reason);
        if !f.stderr_tail.trim().is_empty() {
            println!("  stderr (last characters):");
            for line in f.stderr_tail.trim_end().lines() {
                println!("    {line}");
            }
        }
    }
    let cached = if r.compile_cached { " (cached)" } else { "" };
    println!(
        "time          compile {:.2} s{cached}, longest case {:.2} s of program time, {:.1} s in all",
        r.compile_seconds, r.max_program_seconds, r.total_seconds
    );
}

/// `problems show` for a contest problem: statement, formats, limits and the
/// candidate contract.
pub fn show(problem: &ContestProblem, cache_dir: Option<&Path>, json: bool) {
    let spec = problem.spec();
    let limits = CaseLimits::contest(problem.time_limit_seconds());
    // The contract is the runtime's words; without a toolchain, say so instead.
    let contract = match cpp_runtime(cache_dir) {
        Ok(cpp) => cpp.contract(limits.seconds, limits.memory_bytes >> 20),
        Err(e) => format!("(C++ candidates cannot run on this machine: {e:#})"),
    };
    if json {
        let mut value = serde_json::to_value(spec).expect("a spec serialises");
        value["world"] = "contest".into();
        value["cases"] = format!("{}..{}", DEFAULT_CASES.start, DEFAULT_CASES.end).into();
        value["time_limit_seconds"] = limits.seconds.into();
        value["memory_mib"] = (limits.memory_bytes >> 20).into();
        value["cpp_contract"] = contract.into();
        value["starter"] = problem.starter.as_ref().map(|s| s.source.clone()).into();
        println!("{}", serde_json::to_string_pretty(&value).expect("a spec serialises"));
        return;
    }
    println!("{}: {}", spec.id, spec.title);
    println!("kind        contest: a program reads one input on stdin and prints its answer");
    println!("direction   {}", spec.direction);
    if let Some(b) = &spec.best_known {
        println!("best known  {} per case ({})", b.value, b.source);
    }
    println!(
        "limits      {:.1} s of program time and {} MiB per case; cases {}..{} (seeds)",
        limits.seconds,
        limits.memory_bytes >> 20,
        DEFAULT_CASES.start,
        DEFAULT_CASES.end
    );
    println!("reward      the mean case score, failed cases counted as 0");
    println!("\n{}", spec.statement.trim_end());
    println!("\nC++ candidates (`discover exec {} prog.cpp`):\n{contract}", spec.id);
    println!(
        "\nPython candidates (`discover exec {} prog.py`, after `discover setup`) take the same stdin/stdout \
         contract, limits and clock; numpy and scipy are available.",
        spec.id
    );
    if problem.starter.is_some() {
        println!("\nA run starts from the problem's starter program (`problems show {} --json` prints it).", spec.id);
    }
}
