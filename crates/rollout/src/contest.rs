//! Contest problems: a program is compiled once, run on every case (seeds
//! 0..149 by default) in parallel, and each output scored by the problem.
//!
//! The reward is the mean case score with failed cases counted as 0 (the
//! paper's reference); the report also gives the contest's own total (AtCoder
//! zeroes a submission with any failed case), every case, the first failure with
//! its reason and the program's stderr tail, and the time spent.
//!
//! Evaluation is deterministic (program time is fuel, see
//! `discover_candidate::cpp::run`), so a program's report is memoised by its
//! source: a policy that writes the same program twice pays once.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, Result};
use serde::Serialize;

use discover_candidate::cpp::{CaseLimits, CaseOutcome, Cpp, Prepared, StdioRuntime};
use discover_contract::failure::{FailureKind, ProgramFailure, RolloutFailure};
use discover_contract::Solution;
use discover_engine::parallel::map_ordered;
use discover_engine::{Action, Environment, Evaluated, Failure, Program, Provenance, State};
use discover_problem::ContestProblem;

/// How a contest program is evaluated.
#[derive(Clone, Debug)]
pub struct ContestSettings {
    /// The seeds of the cases (0..150).
    pub cases: Vec<u64>,
    /// Cases run at once, across every evaluation in the process.
    pub workers: usize,
    pub limits: CaseLimits,
    /// Run no case after the first that fails (the rest count as failed
    /// too): a public board spends nothing more on a program that cannot
    /// reach the contest's total. Discovery runs every case (the reward is
    /// the mean case score, so later cases still count).
    pub stop_at_first_failure: bool,
}

/// One case's result.
#[derive(Clone, Debug, Serialize)]
pub struct CaseReport {
    pub seed: u64,
    /// The scorer's score; `None` when the case failed.
    pub score: Option<f64>,
    #[serde(flatten)]
    pub outcome: CaseOutcome,
    /// Why the case failed (the scorer's reason for a wrong answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub program_seconds: f64,
    pub wall_seconds: f64,
    pub startup_seconds: f64,
    pub memory_mib: f64,
}

impl CaseReport {
    pub fn failure(&self) -> Option<ProgramFailure> {
        if self.score.is_some() {
            return None;
        }
        Some(match self.outcome {
            CaseOutcome::Exited => ProgramFailure::WrongAnswer,
            CaseOutcome::TimeLimit { .. } => ProgramFailure::TimeLimit,
            CaseOutcome::WallTimeout { .. } => ProgramFailure::Timeout,
            CaseOutcome::OutOfMemory { .. } => ProgramFailure::OutOfMemory,
            CaseOutcome::OutputTooLarge { .. } => ProgramFailure::OutputTooLarge,
            CaseOutcome::StackOverflow | CaseOutcome::ExitStatus { .. } | CaseOutcome::Crashed { .. } => {
                ProgramFailure::RuntimeError
            }
        })
    }
}

/// The first failed case, for people and prompts.
#[derive(Clone, Debug, Serialize)]
pub struct FirstFailure {
    pub seed: u64,
    pub kind: ProgramFailure,
    pub reason: String,
    pub stderr_tail: String,
}

/// A whole evaluation of one program.
#[derive(Clone, Debug, Serialize)]
pub struct ContestReport {
    pub problem: String,
    pub language: String,
    /// The compiler's messages when the program did not compile (then no case ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compile_error: Option<String>,
    pub compile_seconds: f64,
    pub compile_cached: bool,
    /// Mean case score, failed cases counted as 0: the reward.
    pub reward: f64,
    /// The contest's total: the sum of case scores, or 0 if any case failed.
    pub contest_total: f64,
    /// The sum of the valid cases' scores.
    pub valid_total: f64,
    pub cases_valid: usize,
    /// Cases without a score, those not run included.
    pub cases_failed: usize,
    /// Cases not run after the first failure ([`ContestSettings::stop_at_first_failure`]).
    #[serde(skip_serializing_if = "is_zero")]
    pub cases_skipped: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failure: Option<FirstFailure>,
    /// Largest program time of a case.
    pub max_program_seconds: f64,
    /// Wall time of the whole evaluation (compile included).
    pub total_seconds: f64,
    pub cases: Vec<CaseReport>,
}

impl ContestReport {
    /// Every case valid (what `discover exec` exits 0 on).
    pub fn all_valid(&self) -> bool {
        self.compile_error.is_none() && self.cases_failed == 0
    }

    /// A few lines for a prompt or a terminal: totals, score spread, the first failure.
    pub fn summary(&self) -> String {
        if let Some(e) = &self.compile_error {
            return format!("The program did not compile:\n{}", e.trim_end());
        }
        let scores: Vec<f64> = self.cases.iter().filter_map(|c| c.score).collect();
        let (min, max) = scores.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &s| (a.min(s), b.max(s)));
        let mut s = format!(
            "{} of {} cases valid; mean case score {:.6} (failed cases count 0); contest total {} ({}); \
             longest case {:.2} s of program time.",
            self.cases_valid,
            self.cases.len(),
            self.reward,
            self.contest_total,
            if self.cases_failed == 0 { "all cases valid" } else { "0 because a case failed" },
            self.max_program_seconds
        );
        if !scores.is_empty() {
            s += &format!(" Case scores range from {min} to {max}.");
        }
        if self.cases_skipped > 0 {
            s += &format!(" {} cases were not run after the first failure.", self.cases_skipped);
        }
        if let Some(f) = &self.first_failure {
            s += &format!("\nFirst failed case: seed {} ({}): {}", f.seed, FailureKind::from(f.kind), f.reason);
            if !f.stderr_tail.trim().is_empty() {
                s += &format!("\nIts stderr ended with:\n{}", f.stderr_tail.trim_end());
            }
        }
        s
    }
}

/// At most `n` holders at once: cases of every evaluation share the cores.
struct Slots {
    free: Mutex<usize>,
    cv: Condvar,
}

impl Slots {
    fn acquire(&self) -> SlotGuard<'_> {
        let mut free = self.free.lock().unwrap();
        while *free == 0 {
            free = self.cv.wait(free).unwrap();
        }
        *free -= 1;
        SlotGuard(self)
    }
}

struct SlotGuard<'a>(&'a Slots);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap() += 1;
        self.0.cv.notify_one();
    }
}

/// Evaluates programs for one contest problem.
pub struct ContestRunner {
    problem: ContestProblem,
    runtimes: Vec<Arc<dyn StdioRuntime>>,
    pub settings: ContestSettings,
    inputs: OnceLock<Vec<Arc<String>>>,
    slots: Slots,
    memo: Mutex<HashMap<(String, String), Arc<ContestReport>>>,
}

impl ContestRunner {
    pub fn new(problem: ContestProblem, runtimes: Vec<Arc<dyn StdioRuntime>>, settings: ContestSettings) -> ContestRunner {
        let slots = Slots { free: Mutex::new(settings.workers.max(1)), cv: Condvar::new() };
        ContestRunner { problem, runtimes, settings, inputs: OnceLock::new(), slots, memo: Mutex::new(HashMap::new()) }
    }

    pub fn problem(&self) -> &ContestProblem {
        &self.problem
    }

    pub fn runtime(&self, language: &str) -> Option<&Arc<dyn StdioRuntime>> {
        self.runtimes.iter().find(|r| r.language() == language)
    }

    /// The case inputs, generated once (in parallel) and kept.
    pub fn inputs(&self) -> Result<&[Arc<String>]> {
        if let Some(inputs) = self.inputs.get() {
            return Ok(inputs);
        }
        let generated = map_ordered(&self.settings.cases, self.settings.workers.max(1), |_, &seed| {
            self.problem.generate(seed).map(Arc::new).map_err(|e| anyhow!("generating the input of case {seed}: {e}"))
        });
        let generated: Vec<Arc<String>> = generated.into_iter().collect::<Result<_>>()?;
        Ok(self.inputs.get_or_init(|| generated))
    }

    /// Compile and run `source` on every case. `Err` is the host's failure
    /// (no toolchain, a broken problem); whatever the program does is in the report.
    pub fn evaluate(&self, language: &str, source: &str) -> Result<Arc<ContestReport>> {
        let key = (language.to_string(), source.to_string());
        if let Some(report) = self.memo.lock().unwrap().get(&key) {
            return Ok(report.clone());
        }
        let report = Arc::new(self.evaluate_uncached(language, source)?);
        self.memo.lock().unwrap().insert(key, report.clone());
        Ok(report)
    }

    fn evaluate_uncached(&self, language: &str, source: &str) -> Result<ContestReport> {
        let start = Instant::now();
        let runtime = self.runtime(language).ok_or_else(|| {
            anyhow!(
                "no runtime for {language} programs here (available: {})",
                self.runtimes.iter().map(|r| r.language()).collect::<Vec<_>>().join(", ")
            )
        })?;
        let inputs = self.inputs()?;
        let mut report = ContestReport {
            problem: self.problem.spec().id.clone(),
            language: language.to_string(),
            compile_error: None,
            compile_seconds: 0.0,
            compile_cached: false,
            reward: 0.0,
            contest_total: 0.0,
            valid_total: 0.0,
            cases_valid: 0,
            cases_failed: self.settings.cases.len(),
            cases_skipped: 0,
            first_failure: None,
            max_program_seconds: 0.0,
            total_seconds: 0.0,
            cases: Vec::new(),
        };
        let prepared: Prepared = {
            let _slot = self.slots.acquire();
            match runtime.prepare(source)? {
                Ok(p) => p,
                Err(e) => {
                    report.compile_error = Some(e.message);
                    report.total_seconds = start.elapsed().as_secs_f64();
                    return Ok(report);
                }
            }
        };
        report.compile_seconds = prepared.compile_seconds;
        report.compile_cached = prepared.cached;
        let pairs: Vec<(u64, Arc<String>)> = self.settings.cases.iter().copied().zip(inputs.iter().cloned()).collect();
        let failed = std::sync::atomic::AtomicBool::new(false);
        let stop = self.settings.stop_at_first_failure;
        let results = map_ordered(&pairs, self.settings.workers.max(1), |_, (seed, input)| {
            if stop && failed.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok(None);
            }
            let run = {
                let _slot = self.slots.acquire();
                prepared.program.run(input.as_bytes(), &self.settings.limits)?
            };
            let (score, reason) = if run.outcome.is_exit() {
                let output = String::from_utf8_lossy(&run.stdout);
                match self.problem.score(input, &output).map_err(|e| anyhow!("scoring case {seed}: {e}"))? {
                    Ok(score) => (Some(score), None),
                    Err(reason) => (None, Some(reason)),
                }
            } else {
                (None, Some(run.outcome.summary()))
            };
            if score.is_none() {
                failed.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>(Some((
                CaseReport {
                    seed: *seed,
                    score,
                    outcome: run.outcome,
                    reason,
                    program_seconds: run.program_seconds,
                    wall_seconds: run.wall_seconds,
                    startup_seconds: run.startup_seconds,
                    memory_mib: run.memory_bytes as f64 / (1 << 20) as f64,
                },
                run.stderr_tail,
            )))
        });
        for result in results {
            let Some((case, stderr_tail)) = result? else { continue };
            if case.score.is_none() && report.first_failure.is_none() {
                report.first_failure = Some(FirstFailure {
                    seed: case.seed,
                    kind: case.failure().expect("a case without a score failed"),
                    reason: case.reason.clone().unwrap_or_default(),
                    stderr_tail,
                });
            }
            report.cases.push(case);
        }
        let n = self.settings.cases.len().max(1) as f64;
        report.valid_total = report.cases.iter().filter_map(|c| c.score).sum();
        report.cases_valid = report.cases.iter().filter(|c| c.score.is_some()).count();
        report.cases_skipped = self.settings.cases.len() - report.cases.len();
        report.cases_failed = self.settings.cases.len() - report.cases_valid;
        report.reward = report.valid_total / n;
        report.contest_total = if report.cases_failed == 0 { report.valid_total } else { 0.0 };
        report.max_program_seconds = report.cases.iter().map(|c| c.program_seconds).fold(0.0, f64::max);
        report.total_seconds = start.elapsed().as_secs_f64();
        Ok(report)
    }
}

/// The engine's environment over a contest problem: a state is a program (its
/// source in `solution.text`, its case scores in `solution.values`), its score
/// the mean case score.
pub struct ContestEnv {
    pub runner: Arc<ContestRunner>,
}

impl ContestEnv {
    fn evaluated(&self, language: &str, source: &str) -> Result<Evaluated, Failure> {
        let report = self.runner.evaluate(language, source).map_err(|e| Failure::new(RolloutFailure::Host, format!("{e:#}")))?;
        if let Some(e) = &report.compile_error {
            return Err(Failure::new(ProgramFailure::CompileError, e.clone()));
        }
        if report.cases_valid == 0 {
            let first = report.first_failure.as_ref().expect("every case failed");
            return Err(Failure::new(first.kind, format!("every case failed; the first (seed {}): {}", first.seed, first.reason)));
        }
        let values = report.cases.iter().map(|c| c.score.unwrap_or(0.0)).collect();
        let solution = Solution { values, text: Some(source.to_string()) };
        let mut evaluated = Evaluated::new(solution, report.reward);
        evaluated.provenance = Provenance { code: Some(source.to_string()), stdout: Some(report.summary()), before: None };
        Ok(evaluated)
    }

    /// The program a run starts from: the problem's starter.
    fn starter(&self) -> Result<(String, String), Failure> {
        match &self.runner.problem().starter {
            Some(s) => Ok((s.language.clone(), s.source.clone())),
            None => Err(Failure::new(
                RolloutFailure::NoCode,
                "this contest problem ships no starter program (put one beside the component as NAME.starter.cpp)",
            )),
        }
    }
}

impl Environment for ContestEnv {
    fn initial(&self, _seed: u64) -> Result<Evaluated, Failure> {
        let (language, source) = self.starter()?;
        self.evaluated(&language, &source)
    }

    fn execute(&self, _start: &State, action: &Action) -> Result<Evaluated, Failure> {
        match action {
            Action::Program(program) => self.run_program(program),
            Action::Restart { .. } => self.initial(0),
            Action::Values { .. } => Err(Failure::new(
                RolloutFailure::NoRuntime,
                "a contest problem's solutions are programs, not vectors of numbers",
            )),
        }
    }
}

impl ContestEnv {
    fn run_program(&self, program: &Program) -> Result<Evaluated, Failure> {
        let Some(code) = &program.code else { return Err(crate::no_code(program)) };
        if self.runner.runtime(&program.language).is_none() {
            return Err(Failure::new(RolloutFailure::NoRuntime, format!("no runtime for {} programs here", program.language)));
        }
        self.evaluated(&program.language, code)
    }
}

/// The official public cases: seeds 0..150.
pub const DEFAULT_CASES: std::ops::Range<u64> = 0..150;

/// The C++ runtime, caching compiled programs under `<cache>/cpp`.
pub fn cpp_runtime(cache_dir: Option<&Path>) -> Result<Cpp> {
    match cache_dir {
        Some(dir) => Cpp::new(&dir.join("cpp")),
        None => Cpp::user_default(),
    }
}

/// A runner for `problem` on `cases` with `workers` cases at once: C++
/// programs, and Python ones when `python` (the runtime of `discover setup`).
pub fn runner(
    problem: ContestProblem,
    cache_dir: Option<&Path>,
    cases: Vec<u64>,
    workers: usize,
    python: bool,
    stop_at_first_failure: bool,
) -> Result<ContestRunner> {
    let limits = CaseLimits::contest(problem.time_limit_seconds());
    let mut runtimes: Vec<Arc<dyn StdioRuntime>> = vec![Arc::new(cpp_runtime(cache_dir)?)];
    if python {
        let runtime = discover_candidate::python::Runtime::load(&crate::python_paths(cache_dir)?)?;
        runtimes.push(Arc::new(Arc::new(discover_candidate::python::stdio::PythonStdio::new(Arc::new(runtime))?)));
    }
    Ok(ContestRunner::new(problem, runtimes, ContestSettings { cases, workers, limits, stop_at_first_failure }))
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
