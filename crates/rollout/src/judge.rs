//! Scoring one submission outside a run: a solution (numbers) or a program
//! for a problem, with the problem's own limits, in the same sandboxes a run
//! uses. The leaderboard server scores strangers' submissions through this.
//!
//! - a solution for a construction problem: the verifier's `evaluate`;
//! - a Python program for a construction problem: run from the problem's
//!   initial state (seed 0) in the Python sandbox, its returned solution
//!   evaluated;
//! - a C++ (or Python) program for a contest problem: every public case;
//! - a program for a plugin problem: the plugin's verdict.
//!
//! An `Err` is the host's failure (a broken runtime, a dead plugin that will
//! not restart), never the submission's: whatever the submission does is in
//! the [`Judgement`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use discover_candidate::python::{self, Candidate, ProgramLimits, Runtime};
use discover_contract::{Solution, Verdict};
use discover_problem::Loaded;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::{Catalog, Resolved};
use crate::contest::{self, ContestRunner};

/// What a submitter sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Submission {
    /// A solution's numbers, for construction problems.
    Solution { values: Vec<f64> },
    /// A program in `language` (`python` or `cpp`).
    Program { language: String, source: String },
}

impl Submission {
    pub fn kind(&self) -> &'static str {
        match self {
            Submission::Solution { .. } => "solution",
            Submission::Program { .. } => "program",
        }
    }
}

/// The outcome of scoring one submission.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    pub valid: bool,
    pub score: Option<f64>,
    /// Why it is invalid (the verifier's reason, the program's failure).
    pub reason: Option<String>,
    /// The typed failure kind (`timeout`, `wrong-answer`, ...), when invalid.
    pub failure: Option<String>,
    /// The tail of the program's output, when a program ran.
    pub output: String,
    pub metrics: Vec<(String, f64)>,
    /// The solution that was scored (a program's result, for construction
    /// problems): what a picture is drawn from.
    pub solution: Option<Vec<f64>>,
}

impl Judgement {
    fn invalid(failure: &str, reason: impl Into<String>, output: String) -> Judgement {
        Judgement { failure: Some(failure.to_string()), reason: Some(reason.into()), output, ..Judgement::default() }
    }

    fn of_verdict(verdict: &Verdict, output: String, solution: Option<Vec<f64>>) -> Judgement {
        Judgement {
            valid: verdict.valid,
            score: if verdict.valid { verdict.score } else { None },
            reason: verdict.reason.clone(),
            failure: (!verdict.valid).then(|| "invalid".to_string()),
            output,
            metrics: verdict.metrics.clone(),
            solution,
        }
    }
}

/// The kinds of submission a problem takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Accepts {
    pub solutions: bool,
    pub languages: Vec<String>,
}

impl Accepts {
    /// Why `submission` does not fit, if it does not.
    pub fn refusal(&self, id: &str, submission: &Submission) -> Option<String> {
        match submission {
            Submission::Solution { .. } if !self.solutions => {
                Some(format!("{id} takes programs ({}), not solutions", self.languages.join(", ")))
            }
            Submission::Program { language, .. } if !self.languages.contains(language) => Some(format!(
                "{id} takes {}programs in {}, not {language}",
                if self.solutions { "solutions or " } else { "" },
                self.languages.join(" or ")
            )),
            _ => None,
        }
    }
}

/// Most characters of a program's output kept in a judgement.
pub const OUTPUT_CHARS: usize = 2000;

fn tail(text: &str) -> String {
    discover_contract::text::tail_chars(text, OUTPUT_CHARS).to_string()
}

/// Scores submissions for the problems of a catalog; problems are resolved
/// (compiled, plugins started) once and kept.
pub struct Judge {
    catalog: Catalog,
    cache_dir: Option<PathBuf>,
    problems: Mutex<HashMap<String, Arc<Resolved>>>,
    contests: Mutex<HashMap<String, Arc<ContestRunner>>>,
    python: OnceLock<Arc<Runtime>>,
    /// Contest cases run at once.
    pub contest_workers: usize,
    /// A cap on a construction problem's program time (its budget otherwise):
    /// a public board may not want to give a stranger's loop 300 s.
    pub program_seconds: Option<f64>,
    /// A contest program's scoring ends at its first failing case (true by
    /// default: the board ranks by the contest's total, which one failed case
    /// makes 0).
    pub stop_at_first_failure: bool,
}

impl Judge {
    pub fn new(catalog: Catalog, cache_dir: Option<&Path>) -> Judge {
        Judge {
            catalog,
            cache_dir: cache_dir.map(Path::to_path_buf),
            problems: Mutex::new(HashMap::new()),
            contests: Mutex::new(HashMap::new()),
            python: OnceLock::new(),
            contest_workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            program_seconds: None,
            stop_at_first_failure: true,
        }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The problem `id`, resolved once.
    pub fn problem(&self, id: &str) -> Result<Arc<Resolved>> {
        if let Some(p) = self.problems.lock().unwrap().get(id) {
            return Ok(p.clone());
        }
        // Resolve outside the lock: a first compile takes seconds.
        let resolved = Arc::new(self.catalog.resolve(id, None)?);
        Ok(self.problems.lock().unwrap().entry(id.to_string()).or_insert(resolved).clone())
    }

    /// A digest of whatever produces `id`'s scores: the component's bytes,
    /// or every file of a plugin's pack. A changed verifier changes it.
    pub fn verifier_hash(&self, id: &str) -> Result<String> {
        self.catalog.verifier_hash(id)
    }

    fn python(&self) -> Result<Arc<Runtime>> {
        if let Some(r) = self.python.get() {
            return Ok(r.clone());
        }
        let runtime = Arc::new(Runtime::load(&crate::python_paths(self.cache_dir.as_deref())?).context(
            "the Python sandbox runtime is not set up (run `discover setup` once on this machine)",
        )?);
        Ok(self.python.get_or_init(|| runtime).clone())
    }

    fn contest(&self, id: &str, problem: &discover_problem::ContestProblem, language: &str) -> Result<Arc<ContestRunner>> {
        let key = format!("{id}/{language}");
        if let Some(r) = self.contests.lock().unwrap().get(&key) {
            return Ok(r.clone());
        }
        let runner = Arc::new(contest::runner(
            problem.clone(),
            self.cache_dir.as_deref(),
            contest::DEFAULT_CASES.collect(),
            self.contest_workers,
            language == python::LANGUAGE,
            self.stop_at_first_failure,
        )?);
        Ok(self.contests.lock().unwrap().entry(key).or_insert(runner).clone())
    }

    /// Score `submission` for problem `id`.
    pub fn judge(&self, id: &str, submission: &Submission) -> Result<Judgement> {
        let problem = self.problem(id)?;
        match (&*problem, submission) {
            (Resolved::Wasm(Loaded::Construction(p)), Submission::Solution { values }) => {
                let solution = Solution::new(values.clone());
                let verdict = p.evaluate(&solution).with_context(|| format!("{id}'s verifier failed"))?;
                Ok(Judgement::of_verdict(&verdict, String::new(), Some(values.clone())))
            }
            (Resolved::Wasm(Loaded::Construction(p)), Submission::Program { language, source }) => {
                if language != python::LANGUAGE {
                    return Ok(Judgement::invalid("no-runtime", format!("{id} takes Python programs, not {language}"), String::new()));
                }
                let spec = p.spec();
                let parent = p.initial(0).context("the problem's initial state")?;
                let budget = spec.budgets.candidate_seconds as f64;
                let seconds = self.program_seconds.map_or(budget, |cap| cap.min(budget));
                let limits = ProgramLimits { deadline: Duration::from_secs_f64(seconds + 1.0), ..ProgramLimits::default() };
                let candidate = Candidate {
                    program: source.clone(),
                    parent: parent.values,
                    max_len: spec.shape.max_len as usize,
                    budget_seconds: seconds,
                };
                let report = self.python()?.run(&candidate, &limits)?;
                // An exception's traceback is its author's best clue: kept with the output.
                let traceback = match &report.outcome {
                    python::Outcome::Exception { traceback, .. } => traceback.as_str(),
                    _ => "",
                };
                let output = tail(&format!("{}{}{traceback}", report.stdout_tail, report.stderr_tail));
                match report.outcome {
                    python::Outcome::Ok { values } => {
                        let solution = Solution::new(values.clone());
                        let verdict = p.evaluate(&solution).with_context(|| format!("{id}'s verifier failed"))?;
                        Ok(Judgement::of_verdict(&verdict, output, Some(values)))
                    }
                    ref outcome => {
                        let kind = outcome.failure().map_or_else(|| "invalid".to_string(), |k| discover_contract::failure::FailureKind::from(k).name());
                        Ok(Judgement::invalid(&kind, outcome.summary(), output))
                    }
                }
            }
            (Resolved::Wasm(Loaded::Contest(p)), Submission::Program { language, source }) => {
                if language != "cpp" && language != python::LANGUAGE {
                    return Ok(Judgement::invalid("no-runtime", format!("{id} takes cpp or python programs, not {language}"), String::new()));
                }
                let runner = self.contest(id, p, language)?;
                let report = runner.evaluate(language, source)?;
                let output = match (&report.compile_error, &report.first_failure) {
                    (Some(e), _) => tail(e),
                    (None, Some(f)) => tail(&f.stderr_tail),
                    (None, None) => String::new(),
                };
                let metrics = vec![
                    ("cases_valid".to_string(), report.cases_valid as f64),
                    ("cases_failed".to_string(), report.cases_failed as f64),
                    ("cases_skipped".to_string(), report.cases_skipped as f64),
                    ("contest_total".to_string(), report.contest_total),
                ];
                if report.compile_error.is_some() {
                    return Ok(Judgement { metrics, ..Judgement::invalid("compile-error", report.summary(), output) });
                }
                // The reward of a run: the mean case score, failed cases 0. A
                // program with no valid case has nothing to rank.
                if report.cases_valid == 0 {
                    let kind = report.first_failure.as_ref().map_or("invalid".to_string(), |f| discover_contract::failure::FailureKind::from(f.kind).name());
                    return Ok(Judgement { metrics, ..Judgement::invalid(&kind, report.summary(), output) });
                }
                Ok(Judgement {
                    valid: true,
                    score: Some(report.reward),
                    reason: (report.cases_failed > 0).then(|| report.summary()),
                    failure: None,
                    output,
                    metrics,
                    solution: None,
                })
            }
            (Resolved::Plugin(p), Submission::Program { language, source }) => {
                if *language != p.spec.language {
                    return Ok(Judgement::invalid(
                        "no-runtime",
                        format!("{id} takes {} programs, not {language}", p.spec.language),
                        String::new(),
                    ));
                }
                let program = discover_plugin::Program { language: language.clone(), source: source.clone() };
                match p.evaluate(&program, 0) {
                    Ok((verdict, answer)) => {
                        let mut j = Judgement::of_verdict(&verdict, tail(&answer.output), None);
                        if !verdict.valid {
                            j.failure = Some(answer.failure.clone().unwrap_or_else(|| "invalid".into()));
                        }
                        Ok(j)
                    }
                    // A crash, a deadline, a garbled answer: the plugin is
                    // restarted for the next call; this submission failed.
                    Err(e) => Ok(Judgement::invalid(&discover_contract::failure::FailureKind::from(e.failure()).name(), e.to_string(), String::new())),
                }
            }
            (Resolved::Wasm(Loaded::Contest(_)) | Resolved::Plugin(_), Submission::Solution { .. }) => {
                bail!("{id} takes programs, not solutions")
            }
        }
    }

    /// What problem `id` takes: solutions, and programs in which languages.
    pub fn accepts(&self, id: &str) -> Result<Accepts> {
        Ok(match &*self.problem(id)? {
            Resolved::Wasm(Loaded::Construction(_)) => Accepts { solutions: true, languages: vec![python::LANGUAGE.to_string()] },
            Resolved::Wasm(Loaded::Contest(_)) => {
                Accepts { solutions: false, languages: vec!["cpp".to_string(), python::LANGUAGE.to_string()] }
            }
            Resolved::Plugin(p) => Accepts { solutions: false, languages: vec![p.spec.language.clone()] },
        })
    }

    /// The problem's picture of `values`, where it draws one.
    pub fn picture(&self, id: &str, values: &[f64]) -> Result<Option<String>> {
        match &*self.problem(id)? {
            Resolved::Wasm(Loaded::Construction(p)) => Ok(p.render_svg(&Solution::new(values.to_vec()))?),
            _ => Ok(None),
        }
    }
}

/// SHA-256 of `parts` in order, as hex.
pub(crate) fn digest<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
