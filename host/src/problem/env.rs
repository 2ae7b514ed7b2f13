//! The engine's [`Environment`] over a sandboxed problem component.
//!
//! A numeric proposal becomes a state by perturb -> `repair` -> `refine(effort)`
//! -> `evaluate`, each step used only where the problem offers it; a restart
//! starts from `initial(seed)` instead of a perturbation. An LLM's completion
//! becomes one by running its program in the Python sandbox from the start
//! state's solution, then `evaluate` (no repair, no refine: the program is the
//! whole proposal). Every call runs in a fresh sandboxed instance.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::engine::{Action, Completion, Environment, Evaluated, Failure, State};
use crate::python::{self, Candidate, Outcome};

use super::{Problem, SandboxError, Solution};

pub struct ProblemEnv<'p, 's> {
    problem: &'p Problem<'s>,
    /// `refine` effort per rollout; 0 skips refining.
    effort: u32,
    /// Cleared the first time the problem answers `none` (then not asked again).
    offers_repair: AtomicBool,
    offers_refine: AtomicBool,
    /// Where programs run, for completions.
    python: Option<PythonCandidates>,
}

/// The Python sandbox and the limits of one program.
#[derive(Clone)]
pub struct PythonCandidates {
    pub runtime: Arc<python::Runtime>,
    pub limits: python::Limits,
    /// `BUDGET_SECONDS` of each program (the deadline adds slack).
    pub budget_seconds: f64,
}

impl<'p, 's> ProblemEnv<'p, 's> {
    pub fn new(problem: &'p Problem<'s>, effort: u32) -> ProblemEnv<'p, 's> {
        ProblemEnv {
            problem,
            effort,
            offers_repair: AtomicBool::new(true),
            offers_refine: AtomicBool::new(effort > 0),
            python: None,
        }
    }

    /// Run completions' programs with `python`.
    pub fn with_python(mut self, python: PythonCandidates) -> Self {
        self.python = Some(python);
        self
    }

    fn run_program(&self, start: &State, completion: &Completion) -> Result<Evaluated, Failure> {
        let Some(code) = &completion.code else {
            return Err(Failure {
                kind: "no-code".into(),
                message: format!(
                    "the completion has no ```{} code block ({} tokens, finish: {})",
                    crate::prompt::LANGUAGE,
                    completion.completion_tokens,
                    completion.finish
                ),
            });
        };
        let Some(py) = &self.python else {
            return Err(Failure { kind: "no-runtime".into(), message: "this environment runs no programs".into() });
        };
        let candidate = Candidate {
            program: code.clone(),
            parent: start.solution.values.clone(),
            max_len: self.problem.spec().shape.max_len as usize,
            budget_seconds: py.budget_seconds,
        };
        let report = py
            .runtime
            .run(&candidate, &py.limits)
            .map_err(|e| Failure { kind: "sandbox".into(), message: format!("{e:#}") })?;
        let values = match report.outcome {
            Outcome::Ok { values } => values,
            other => return Err(Failure { kind: other.name().into(), message: other.summary() }),
        };
        let solution = Solution { values, text: start.solution.text.clone() };
        let mut evaluated = self.score(solution)?;
        evaluated.code = Some(code.clone());
        evaluated.stdout = Some(report.stdout_tail);
        Ok(evaluated)
    }

    fn score(&self, solution: Solution) -> Result<Evaluated, Failure> {
        let verdict = self.problem.evaluate(&solution).map_err(sandbox_failure)?;
        match verdict.score {
            Some(score) if verdict.valid => Ok(Evaluated { solution, score, code: None, stdout: None }),
            _ => Err(Failure {
                kind: "invalid".into(),
                message: verdict.reason.unwrap_or_else(|| "invalid".into()),
            }),
        }
    }

    /// Apply an optional operation; remember when the problem does not offer it.
    fn optional(
        &self,
        offered: &AtomicBool,
        solution: Solution,
        op: impl FnOnce(&Solution) -> Result<Option<Solution>, SandboxError>,
    ) -> Result<Solution, Failure> {
        if !offered.load(Ordering::Relaxed) {
            return Ok(solution);
        }
        match op(&solution).map_err(sandbox_failure)? {
            Some(s) => Ok(s),
            None => {
                offered.store(false, Ordering::Relaxed);
                Ok(solution)
            }
        }
    }
}

fn sandbox_failure(e: SandboxError) -> Failure {
    Failure { kind: e.kind().to_string(), message: e.to_string() }
}

impl Environment for ProblemEnv<'_, '_> {
    fn initial(&self, seed: u64) -> Result<Evaluated, Failure> {
        let solution = self.problem.initial(seed).map_err(sandbox_failure)?;
        self.score(solution)
    }

    fn execute(&self, start: &State, action: &Action) -> Result<Evaluated, Failure> {
        let proposal = match action {
            Action::Proposal { values, .. } => {
                Solution { values: values.clone(), text: start.solution.text.clone() }
            }
            Action::Restart { seed } => self.problem.initial(*seed).map_err(sandbox_failure)?,
            Action::Completion(completion) => return self.run_program(start, completion),
        };
        let repaired = self.optional(&self.offers_repair, proposal, |s| self.problem.repair(s))?;
        let refined = self.optional(&self.offers_refine, repaired, |s| self.problem.refine(s, self.effort))?;
        self.score(refined)
    }
}
