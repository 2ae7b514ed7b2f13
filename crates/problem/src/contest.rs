//! Contest problems: components of the `contest` world seen from the host.
//!
//! A contest problem does not judge a vector of numbers: it writes test inputs
//! (`generate(seed)`) and scores a program's output for one input
//! (`score(input, output)`). Running the program is not its business (that is
//! the candidate runtimes'); both calls run in a fresh instance under the same
//! limits, errors and diagnostics as construction problems.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use wasmtime::component::{HasSelf, Linker};

use crate::bindings::contest::{Contest as ContestWorld, ContestPre};
use crate::{
    builtin, budget_limits, call_in, contract_mismatch_world, convert, is_path, CallStats, HostCaps, HostState,
    Problem, ProblemError, Spec, SPEC_LIMITS,
};
use discover_sandbox::{Limits, Sandbox, SandboxError};

/// Which world a component implements, told from its exports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum World {
    /// `discover:problem/construction`: a solution is a vector of numbers.
    Construction,
    /// `discover:problem/solver`: a solution is a program run on generated inputs.
    Contest,
}

impl World {
    pub fn name(self) -> &'static str {
        match self {
            World::Construction => "construction",
            World::Contest => "contest",
        }
    }
}

/// A loaded contest problem. Cheap to clone; calls are independent.
#[derive(Clone)]
pub struct ContestProblem {
    sandbox: Sandbox,
    pre: ContestPre<HostState>,
    spec: Spec,
    /// Limits for `generate` and `score`.
    pub limits: Limits,
    /// The program a run starts from, when the problem ships one (built-ins do;
    /// a component file `x.wasm` may have one beside it as `x.starter.cpp`).
    pub starter: Option<Starter>,
}

/// A starting program and its language (the Markdown fence name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Starter {
    pub language: String,
    pub source: String,
}

impl ContestProblem {
    /// Compile (or fetch from the cache) and read the spec.
    pub fn from_bytes(sandbox: &Sandbox, bytes: &[u8]) -> Result<ContestProblem, ProblemError> {
        let component = sandbox.component(bytes)?;
        let mut linker = Linker::<HostState>::new(sandbox.engine());
        ContestWorld::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(|e| SandboxError::Load(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(ContestPre::new)
            .map_err(|e| SandboxError::Load(contract_mismatch_world(e, World::Contest)))?;
        let mut problem =
            ContestProblem { sandbox: sandbox.clone(), pre, spec: crate::placeholder_spec(), limits: SPEC_LIMITS, starter: None };
        let (spec, _) = problem.call("spec", |p, store| p.call_spec(store))?;
        let spec = convert::spec(spec);
        spec.check().map_err(SandboxError::Load)?;
        problem.limits = budget_limits(&spec.budgets, &HostCaps::default());
        problem.spec = spec;
        Ok(problem)
    }

    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// The seconds of program time one case may use (the spec's `candidate-seconds`).
    pub fn time_limit_seconds(&self) -> f64 {
        f64::from(self.spec.budgets.candidate_seconds.max(1))
    }

    /// The input of case `seed`.
    pub fn generate(&self, seed: u64) -> Result<String, ProblemError> {
        Ok(self.call("generate", |p, store| p.call_generate(store, seed))?.0)
    }

    /// The score of `output` on `input`: `Ok(Err(reason))` when the output is
    /// invalid, `Err` when the problem itself failed.
    pub fn score(&self, input: &str, output: &str) -> Result<Result<f64, String>, ProblemError> {
        self.score_with_stats(input, output).map(|(s, _)| s)
    }

    /// [`ContestProblem::score`] with the call's timing and fuel.
    pub fn score_with_stats(&self, input: &str, output: &str) -> Result<(Result<f64, String>, CallStats), ProblemError> {
        let (result, stats) = self.call("score", |p, store| p.call_score(store, input, output))?;
        if let Ok(score) = result {
            if !score.is_finite() {
                return Err(ProblemError::InvalidVerdict(format!("the score {score} is not finite")));
            }
        }
        Ok((result, stats))
    }

    fn call<R>(
        &self,
        export: &'static str,
        f: impl FnOnce(
            &crate::bindings::contest::exports::discover::problem::solver::Guest,
            &mut wasmtime::Store<HostState>,
        ) -> wasmtime::Result<R>,
    ) -> Result<(R, CallStats), SandboxError> {
        call_in(&self.sandbox, &self.spec.id, export, self.limits, |store| self.pre.instantiate(store), |i, store| {
            f(i.discover_problem_solver(), store)
        })
    }
}

/// A problem of either world.
#[derive(Clone)]
pub enum Loaded {
    Construction(Problem),
    Contest(ContestProblem),
}

impl Loaded {
    /// Load a built-in problem by id or a component file by path, whichever
    /// world it implements.
    pub fn load(sandbox: &Sandbox, name: &str) -> Result<Loaded> {
        let (bytes, starter_path) = if is_path(name) {
            let path = Path::new(name);
            let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            (bytes, Some(starter_beside(path)))
        } else {
            let bytes = builtin::component(name).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown problem `{name}`; built-in problems: {} (or give a path to a .wasm component)",
                    builtin::ids().collect::<Vec<_>>().join(", ")
                )
            })?;
            (bytes.to_vec(), None)
        };
        let context = if is_path(name) { format!("loading {name}") } else { format!("loading the built-in `{name}`") };
        let starter = match starter_path {
            Some(path) => std::fs::read_to_string(&path).ok(),
            None => builtin::starter(name).map(str::to_string),
        };
        Loaded::from_bytes(sandbox, &bytes, starter, &context)
    }

    /// Load a component of either world from its bytes (a pack's file);
    /// `starter` is a contest problem's C++ starter program. `context` names
    /// the component in errors.
    pub fn from_bytes(sandbox: &Sandbox, bytes: &[u8], starter: Option<String>, context: &str) -> Result<Loaded> {
        let world = world_of(sandbox, bytes).with_context(|| context.to_string())?;
        Ok(match world {
            World::Construction => Loaded::Construction(Problem::from_bytes(sandbox, bytes).with_context(|| context.to_string())?),
            World::Contest => {
                let mut problem = ContestProblem::from_bytes(sandbox, bytes).with_context(|| context.to_string())?;
                problem.starter = starter.map(|source| Starter { language: "cpp".into(), source });
                Loaded::Contest(problem)
            }
        })
    }

    pub fn spec(&self) -> &Spec {
        match self {
            Loaded::Construction(p) => p.spec(),
            Loaded::Contest(p) => p.spec(),
        }
    }

    pub fn world(&self) -> World {
        match self {
            Loaded::Construction(_) => World::Construction,
            Loaded::Contest(_) => World::Contest,
        }
    }
}

/// `x.wasm` -> `x.starter.cpp`.
fn starter_beside(path: &Path) -> PathBuf {
    path.with_extension("starter.cpp")
}

/// Which world `bytes` implements, from the component's exports.
pub fn world_of(sandbox: &Sandbox, bytes: &[u8]) -> Result<World, SandboxError> {
    let component = sandbox.component(bytes)?;
    let ty = component.component_type();
    let mut exports = ty.exports(sandbox.engine()).map(|(name, _)| name.to_string());
    let names: Vec<String> = exports.by_ref().collect();
    if names.iter().any(|n| n.starts_with("discover:problem/solver@")) {
        Ok(World::Contest)
    } else if names.iter().any(|n| n.starts_with("discover:problem/construction@")) {
        Ok(World::Construction)
    } else {
        Err(SandboxError::Load(format!(
            "the component exports neither `discover:problem/construction` nor `discover:problem/solver` \
             (it exports: {})",
            if names.is_empty() { "nothing".to_string() } else { names.join(", ") }
        )))
    }
}
