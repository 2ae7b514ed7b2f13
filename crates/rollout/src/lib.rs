//! # discover-rollout
//!
//! The engine's [`Environment`] over a sandboxed problem component: where a
//! policy's action becomes a scored state.
//!
//! A numeric proposal becomes a state by perturb -> `repair` -> `refine(effort)`
//! -> `evaluate`, each step used only where the problem offers it; a restart
//! starts from `initial(seed)` instead of a perturbation. An LLM's completion
//! becomes one by running its program in the candidate runtime of its language
//! (Python today, through the memory-budgeted pool) from the start state's
//! solution, then `evaluate` (no repair, no refine: the program is the whole
//! proposal). Every call runs in a fresh sandboxed instance.
//!
//! This crate is where the layers meet: it depends on the engine (for the
//! trait), the problem evaluator and the candidate runtimes; only front ends
//! (the CLI today) depend on it.

pub mod catalog;
pub mod contest;
pub mod judge;
pub mod plugin;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use discover_candidate::{Candidate, CandidateRuntime, ProgramLimits, Outcome};
use discover_contract::Solution;
use discover_engine::{Action, Environment, Evaluated, Failure, Program, Provenance, RolloutFailure, State};
use discover_problem::{Evaluator, ProblemError};

pub struct ProblemEnv {
    problem: Arc<dyn Evaluator>,
    /// `refine` effort per rollout (times the action's `effort_scale`); 0
    /// skips refining.
    effort: u32,
    /// Cleared the first time the problem answers `none` (then not asked again).
    offers_repair: AtomicBool,
    offers_refine: AtomicBool,
    /// Where programs run, for completions.
    programs: Option<Programs>,
}

/// A candidate runtime and the limits of one program.
#[derive(Clone)]
pub struct Programs {
    pub runtime: Arc<dyn CandidateRuntime>,
    pub limits: ProgramLimits,
    /// `BUDGET_SECONDS` of each program (the deadline adds slack).
    pub budget_seconds: f64,
}

impl ProblemEnv {
    pub fn new(problem: Arc<dyn Evaluator>, effort: u32) -> ProblemEnv {
        ProblemEnv {
            problem,
            effort,
            offers_repair: AtomicBool::new(true),
            offers_refine: AtomicBool::new(effort > 0),
            programs: None,
        }
    }

    /// Run completions' programs with `programs`.
    pub fn with_programs(mut self, programs: Programs) -> Self {
        self.programs = Some(programs);
        self
    }

    pub fn problem(&self) -> &dyn Evaluator {
        &*self.problem
    }

    fn run_program(&self, start: &State, program: &Program) -> Result<Evaluated, Failure> {
        let Some(code) = &program.code else { return Err(no_code(program)) };
        let Some(programs) = &self.programs else {
            return Err(Failure::new(RolloutFailure::NoRuntime, "this environment runs no programs"));
        };
        if programs.runtime.language() != program.language {
            return Err(Failure::new(
                RolloutFailure::NoRuntime,
                format!("this run executes {} programs, not {}", programs.runtime.language(), program.language),
            ));
        }
        let candidate = Candidate {
            program: code.clone(),
            parent: start.solution.values.clone(),
            max_len: self.problem.spec().shape.max_len as usize,
            budget_seconds: programs.budget_seconds,
        };
        let report = programs
            .runtime
            .run(candidate, programs.limits)
            .map_err(|e| Failure::new(RolloutFailure::Host, format!("{e:#}")))?;
        let values = match report.outcome.failure() {
            None => match report.outcome {
                Outcome::Ok { values } => values,
                _ => unreachable!("only `ok` is not a failure"),
            },
            Some(kind) => return Err(Failure::new(kind, report.outcome.summary())),
        };
        let solution = Solution { values, text: start.solution.text.clone() };
        let mut evaluated = self.score(solution)?;
        evaluated.provenance = Provenance { code: Some(code.clone()), stdout: Some(report.stdout_tail), before: None };
        Ok(evaluated)
    }

    fn score(&self, solution: Solution) -> Result<Evaluated, Failure> {
        let verdict = self.problem.evaluate(&solution).map_err(problem_failure)?;
        match verdict.score {
            Some(score) if verdict.valid => Ok(Evaluated::new(solution, score)),
            _ => Err(Failure::new(RolloutFailure::Invalid, verdict.reason.unwrap_or_else(|| "invalid".into()))),
        }
    }

    /// Apply an optional operation; remember when the problem does not offer it.
    fn optional(
        &self,
        offered: &AtomicBool,
        solution: Solution,
        op: impl FnOnce(&Solution) -> Result<Option<Solution>, ProblemError>,
    ) -> Result<Solution, Failure> {
        if !offered.load(Ordering::Relaxed) {
            return Ok(solution);
        }
        match op(&solution).map_err(problem_failure)? {
            Some(s) => Ok(s),
            None => {
                offered.store(false, Ordering::Relaxed);
                Ok(solution)
            }
        }
    }
}

/// A completion without a code block in its language: nothing to run.
pub(crate) fn no_code(program: &Program) -> Failure {
    let tokens = program.tokens.map_or(0, |t| t.completion);
    Failure::new(
        RolloutFailure::NoCode,
        format!("the completion has no ```{} code block ({tokens} tokens, finish: {})", program.language, program.finish),
    )
}

fn problem_failure(e: ProblemError) -> Failure {
    Failure::new(e.failure(), e.to_string())
}

impl Environment for ProblemEnv {
    fn initial(&self, seed: u64) -> Result<Evaluated, Failure> {
        let solution = self.problem.initial(seed).map_err(problem_failure)?;
        self.score(solution)
    }

    fn execute(&self, start: &State, action: &Action) -> Result<Evaluated, Failure> {
        let (proposal, effort_scale) = match action {
            Action::Values { values, effort_scale } => {
                (Solution { values: values.clone(), text: start.solution.text.clone() }, *effort_scale)
            }
            Action::Restart { seed } => (self.problem.initial(*seed).map_err(problem_failure)?, 1),
            Action::Program(program) => return self.run_program(start, program),
        };
        let effort = self.effort.saturating_mul(effort_scale.max(1));
        let repaired = self.optional(&self.offers_repair, proposal, |s| self.problem.repair(s))?;
        let refined = self.optional(&self.offers_refine, repaired, |s| self.problem.refine(s, effort))?;
        self.score(refined)
    }
}

/// Where the Python sandbox runtime (`discover setup`) lives: under
/// `cache_dir`, else the user's default cache.
pub fn python_paths(cache_dir: Option<&std::path::Path>) -> anyhow::Result<discover_candidate::python::RuntimePaths> {
    match cache_dir {
        Some(dir) => Ok(discover_candidate::python::RuntimePaths::new(dir)),
        None => discover_candidate::python::RuntimePaths::user_default(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use discover_contract::{Direction, Spec, Verdict};

    use super::*;

    /// A problem that records the effort of each refine: what is under test
    /// is the environment's arithmetic (the Wasm problems' own refines are
    /// tested with the problems, and a deepened run end to end in tests/run.rs).
    struct Recording {
        spec: Spec,
        efforts: Mutex<Vec<u32>>,
    }

    impl Evaluator for Recording {
        fn spec(&self) -> &Spec {
            &self.spec
        }
        fn initial(&self, _seed: u64) -> Result<Solution, ProblemError> {
            Ok(Solution::new(vec![1.0]))
        }
        fn evaluate(&self, solution: &Solution) -> Result<Verdict, ProblemError> {
            Ok(Verdict::valid(solution.values[0]))
        }
        fn refine(&self, solution: &Solution, effort: u32) -> Result<Option<Solution>, ProblemError> {
            self.efforts.lock().unwrap().push(effort);
            Ok(Some(solution.clone()))
        }
    }

    fn start() -> State {
        State {
            id: 0,
            parent: None,
            step: 0,
            solution: Solution::new(vec![1.0]),
            score: 1.0,
            value: 1.0,
            provenance: Default::default(),
            initial: true,
            visits: 0,
            best_child: None,
        }
    }

    #[test]
    fn a_proposal_is_refined_with_its_multiple_of_the_run_effort() {
        let problem = Arc::new(Recording { spec: Spec::new("t", "t", Direction::Maximize), efforts: Mutex::new(Vec::new()) });
        let env = ProblemEnv::new(problem.clone(), 300);
        let actions = [
            Action::values(vec![2.0]),
            Action::Values { values: vec![2.0], effort_scale: 4 },
            Action::Values { values: vec![2.0], effort_scale: 0 },
            Action::Restart { seed: 1 },
            Action::Values { values: vec![2.0], effort_scale: u32::MAX },
        ];
        for action in &actions {
            assert!(env.execute(&start(), action).is_ok());
        }
        assert_eq!(*problem.efforts.lock().unwrap(), vec![300, 1200, 300, 300, u32::MAX]);
        // Effort 0 turns refine off, whatever the multiple.
        let off = ProblemEnv::new(problem.clone(), 0);
        off.execute(&start(), &actions[1]).unwrap();
        assert_eq!(problem.efforts.lock().unwrap().len(), 5);
        // A scale of 1 is not written, so actions read as they did before it existed.
        let json = serde_json::to_value(&actions[0]).unwrap();
        assert_eq!(json, serde_json::json!({"kind": "values", "values": [2.0]}));
        let back: Action = serde_json::from_value(json).unwrap();
        assert_eq!(back, actions[0]);
    }
}
