//! The engine's [`Environment`] over a sandboxed problem component.
//!
//! A numeric proposal becomes a state by perturb -> `repair` -> `refine(effort)`
//! -> `evaluate`, each step used only where the problem offers it; a restart
//! starts from `initial(seed)` instead of a perturbation. Every call runs in a
//! fresh sandboxed instance under the problem's limits.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::engine::{Action, Environment, Evaluated, Failure, State};

use super::{Problem, SandboxError, Solution};

pub struct ProblemEnv<'p, 's> {
    problem: &'p Problem<'s>,
    /// `refine` effort per rollout; 0 skips refining.
    effort: u32,
    /// Cleared the first time the problem answers `none` (then not asked again).
    offers_repair: AtomicBool,
    offers_refine: AtomicBool,
}

impl<'p, 's> ProblemEnv<'p, 's> {
    pub fn new(problem: &'p Problem<'s>, effort: u32) -> ProblemEnv<'p, 's> {
        ProblemEnv { problem, effort, offers_repair: AtomicBool::new(true), offers_refine: AtomicBool::new(effort > 0) }
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
        };
        let repaired = self.optional(&self.offers_repair, proposal, |s| self.problem.repair(s))?;
        let refined = self.optional(&self.offers_refine, repaired, |s| self.problem.refine(s, self.effort))?;
        self.score(refined)
    }
}
