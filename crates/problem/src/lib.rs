//! # discover-problem
//!
//! Problems: the `discover:problem` contract seen from the host.
//!
//! A [`Problem`] is a compiled component plus its spec. Each call instantiates the
//! component afresh inside the [`Sandbox`] under the limits the problem's budgets
//! suggest (capped by [`HostCaps`]), so no state leaks between calls and a hostile
//! problem costs at most one call's limits.

mod bindings;
pub mod builtin;
pub mod contest;
mod convert;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use wasmtime::component::{HasSelf, Linker};

use bindings::exports::discover::problem::construction as wit;
use bindings::ProblemPre;
use discover_sandbox::{Limits, Sandbox, SandboxError, StoreLimiter};

pub use contest::{ContestProblem, Loaded, Starter, World};
pub use convert::budget_limits;
pub use discover_contract::failure::ProblemFailure;
pub use discover_contract::{
    parse_solution_json, read_solution_file, solution_json, BestKnown, Budgets, Direction, Shape, Solution, Spec,
    Verdict,
};

/// Why a call into a problem produced no answer: the sandbox stopped it, or the
/// problem answered outside the contract.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProblemError {
    /// The call itself failed: fuel, deadline, memory, panic, trap, load.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),

    /// The guest returned, but what it returned breaks the contract.
    #[error("invalid verdict: {0}")]
    InvalidVerdict(String),

    /// The guest said it cannot judge (its `evaluate` returned `err`).
    #[error("the problem could not judge the solution: {0}")]
    Refused(String),
}

impl ProblemError {
    /// The failure kind a run records (its name: `FailureKind::from(..)`).
    pub fn failure(&self) -> ProblemFailure {
        match self {
            ProblemError::Sandbox(e) => match e {
                SandboxError::OutOfFuel { .. } => ProblemFailure::OutOfFuel,
                SandboxError::Deadline { .. } => ProblemFailure::Deadline,
                SandboxError::OutOfMemory { .. } => ProblemFailure::OutOfMemory,
                SandboxError::GuestPanic { .. } => ProblemFailure::GuestPanic,
                SandboxError::StackOverflow => ProblemFailure::StackOverflow,
                SandboxError::Trap { .. } => ProblemFailure::Trap,
                SandboxError::Load(_) => ProblemFailure::Load,
            },
            ProblemError::InvalidVerdict(_) => ProblemFailure::InvalidVerdict,
            ProblemError::Refused(_) => ProblemFailure::Refused,
        }
    }
}

/// What the layers above need of a problem, whatever runs it: the construction
/// world's Wasm components today ([`Problem`]); contest components and native
/// plugins implement the same trait. Every method is one call under the
/// problem's limits; the optional ones answer `None` when not offered.
pub trait Evaluator: Send + Sync {
    fn spec(&self) -> &Spec;

    /// The problem's own starting solution for `seed`.
    fn initial(&self, seed: u64) -> Result<Solution, ProblemError>;

    /// Judge a solution (the score is always recomputed here).
    fn evaluate(&self, solution: &Solution) -> Result<Verdict, ProblemError>;

    /// Projection onto the valid set, if offered.
    fn repair(&self, _solution: &Solution) -> Result<Option<Solution>, ProblemError> {
        Ok(None)
    }

    /// A local improvement with about `effort` units of work, if offered.
    fn refine(&self, _solution: &Solution, _effort: u32) -> Result<Option<Solution>, ProblemError> {
        Ok(None)
    }

    /// An SVG picture of a solution, if the problem draws.
    fn render_svg(&self, _solution: &Solution) -> Result<Option<String>, ProblemError> {
        Ok(None)
    }
}

impl Evaluator for Problem {
    fn spec(&self) -> &Spec {
        Problem::spec(self)
    }

    fn initial(&self, seed: u64) -> Result<Solution, ProblemError> {
        Ok(Problem::initial(self, seed)?)
    }

    fn evaluate(&self, solution: &Solution) -> Result<Verdict, ProblemError> {
        Problem::evaluate(self, solution)
    }

    fn repair(&self, solution: &Solution) -> Result<Option<Solution>, ProblemError> {
        Ok(Problem::repair(self, solution)?)
    }

    fn refine(&self, solution: &Solution, effort: u32) -> Result<Option<Solution>, ProblemError> {
        Ok(Problem::refine(self, solution, effort)?)
    }

    fn render_svg(&self, solution: &Solution) -> Result<Option<String>, ProblemError> {
        Ok(Problem::render_svg(self, solution)?)
    }
}

/// Upper bounds the host puts on whatever a problem's spec suggests.
#[derive(Clone, Copy, Debug)]
pub struct HostCaps {
    pub max_fuel: u64,
    pub max_deadline: Duration,
    pub max_memory_bytes: usize,
}

impl Default for HostCaps {
    fn default() -> HostCaps {
        HostCaps {
            max_fuel: 200_000_000_000,
            max_deadline: Duration::from_secs(120),
            max_memory_bytes: discover_sandbox::MAX_MEMORY_BYTES,
        }
    }
}

/// Limits for reading the spec: small, because a spec is a constant.
pub(crate) const SPEC_LIMITS: Limits = Limits {
    fuel: Some(100_000_000),
    deadline: Duration::from_secs(2),
    memory_bytes: 64 << 20,
    table_elements: 10_000,
};

/// Timing and fuel of one call, for reports and benchmarks.
#[derive(Clone, Copy, Debug, Default)]
pub struct CallStats {
    /// Creating the store and instantiating the component.
    pub instantiate: Duration,
    /// The exported function itself.
    pub run: Duration,
    pub fuel_used: u64,
}

/// A loaded construction problem. It owns a handle on its sandbox (cheap to
/// clone), so problems can live as long as the process that hosts them.
#[derive(Clone)]
pub struct Problem {
    sandbox: Sandbox,
    pre: ProblemPre<HostState>,
    spec: Spec,
    /// Limits for `evaluate`, `repair` and `render-svg`.
    pub limits: Limits,
    /// Limits for `refine`, a local optimiser: the same memory, but fuel and
    /// time for many evaluations (see [`refine_limits`]).
    pub refine_limits: Limits,
}

/// `refine` may run an optimiser for many iterations: it gets the host's fuel
/// cap and a minute, and keeps the evaluate memory limit.
pub fn refine_limits(evaluate: &Limits, caps: &HostCaps) -> Limits {
    Limits { fuel: Some(caps.max_fuel), deadline: caps.max_deadline.min(Duration::from_secs(60)), ..*evaluate }
}

/// The state each call's store holds: the limiter and what the guest reported.
pub struct HostState {
    limiter: StoreLimiter,
    panic_message: Option<String>,
}

impl AsMut<StoreLimiter> for HostState {
    fn as_mut(&mut self) -> &mut StoreLimiter {
        &mut self.limiter
    }
}

impl bindings::discover::problem::types::Host for HostState {}

impl bindings::discover::problem::diagnostics::Host for HostState {
    fn report_panic(&mut self, message: String) {
        // Keep the first message, bounded: a guest may not flood the host.
        if self.panic_message.is_none() {
            let mut message = message;
            if message.len() > 4096 {
                let cut = (0..=4096).rev().find(|&i| message.is_char_boundary(i)).unwrap_or(0);
                message.truncate(cut);
                message.push_str(" [truncated]");
            }
            self.panic_message = Some(message);
        }
    }
}

/// Whether `Problem::load` takes `name` as a component path rather than a
/// built-in id: it contains a path separator or ends in `.wasm`.
pub fn is_path(name: &str) -> bool {
    name.contains(std::path::MAIN_SEPARATOR) || name.contains('/') || name.ends_with(".wasm")
}

impl Problem {
    /// Load a built-in problem by id, or a component file by path (anything that
    /// contains a `/` or ends in `.wasm` is taken as a path).
    pub fn load(sandbox: &Sandbox, name: &str) -> Result<Problem> {
        if is_path(name) {
            return Problem::from_file(sandbox, Path::new(name));
        }
        let bytes = builtin::component(name).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown problem `{name}`; built-in problems: {} (or give a path to a .wasm component)",
                builtin::ids().collect::<Vec<_>>().join(", ")
            )
        })?;
        Ok(Problem::from_bytes(sandbox, bytes)?)
    }

    /// Load a third-party problem component from a file.
    pub fn from_file(sandbox: &Sandbox, path: &Path) -> Result<Problem> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Problem::from_bytes(sandbox, &bytes).with_context(|| format!("loading {}", path.display()))
    }

    /// Compile (or fetch from the cache) and read the spec.
    pub fn from_bytes(sandbox: &Sandbox, bytes: &[u8]) -> Result<Problem, ProblemError> {
        let component = sandbox.component(bytes)?;
        let mut linker = Linker::<HostState>::new(sandbox.engine());
        bindings::Problem::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(|e| SandboxError::Load(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(ProblemPre::new)
            .map_err(|e| SandboxError::Load(contract_mismatch(e)))?;
        let mut problem =
            Problem { sandbox: sandbox.clone(), pre, spec: placeholder_spec(), limits: SPEC_LIMITS, refine_limits: SPEC_LIMITS };
        let (spec, _) = problem.call("spec", |p, store| p.call_spec(store))?;
        let spec = convert::spec(spec);
        spec.check().map_err(SandboxError::Load)?;
        let caps = HostCaps::default();
        problem.limits = budget_limits(&spec.budgets, &caps);
        problem.refine_limits = refine_limits(&problem.limits, &caps);
        problem.spec = spec;
        Ok(problem)
    }

    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// Judge a solution. A solution of the wrong shape is an invalid verdict
    /// without entering the guest.
    pub fn evaluate(&self, solution: &Solution) -> Result<Verdict, ProblemError> {
        self.evaluate_with_stats(solution).map(|(v, _)| v)
    }

    /// [`Problem::evaluate`] with the call's timing and fuel.
    pub fn evaluate_with_stats(&self, solution: &Solution) -> Result<(Verdict, CallStats), ProblemError> {
        if let Some(reason) = self.spec.shape.violation(solution.values.len()) {
            return Ok((Verdict::invalid(reason), CallStats::default()));
        }
        let arg = convert::solution_to_wit(solution);
        let (result, stats) = self.call("evaluate", |p, store| p.call_evaluate(store, &arg))?;
        let verdict = convert::verdict(result.map_err(ProblemError::Refused)?);
        verdict.check().map_err(ProblemError::InvalidVerdict)?;
        Ok((verdict, stats))
    }

    /// The problem's starting solution for `seed`.
    pub fn initial(&self, seed: u64) -> Result<Solution, SandboxError> {
        let (s, _) = self.call("initial", |p, store| p.call_initial(store, seed))?;
        Ok(convert::solution(s))
    }

    /// Projection onto the valid set, if the problem offers one.
    pub fn repair(&self, solution: &Solution) -> Result<Option<Solution>, SandboxError> {
        let arg = convert::solution_to_wit(solution);
        let (s, _) = self.call("repair", |p, store| p.call_repair(store, &arg))?;
        Ok(s.map(convert::solution))
    }

    /// A local improvement with about `effort` units of work, if offered.
    pub fn refine(&self, solution: &Solution, effort: u32) -> Result<Option<Solution>, SandboxError> {
        let arg = convert::solution_to_wit(solution);
        let (s, _) = self.call_with("refine", self.refine_limits, |p, store| p.call_refine(store, &arg, effort))?;
        Ok(s.map(convert::solution))
    }

    /// An SVG picture of a solution, if the problem draws.
    pub fn render_svg(&self, solution: &Solution) -> Result<Option<String>, SandboxError> {
        let arg = convert::solution_to_wit(solution);
        Ok(self.call("render-svg", |p, store| p.call_render_svg(store, &arg))?.0)
    }

    /// Run one export in a fresh instance under `self.limits`.
    fn call<R>(
        &self,
        export: &'static str,
        f: impl FnOnce(&wit::Guest, &mut wasmtime::Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<(R, CallStats), SandboxError> {
        self.call_with(export, self.limits, f)
    }

    /// Run one export in a fresh instance under `limits`.
    fn call_with<R>(
        &self,
        export: &'static str,
        limits: Limits,
        f: impl FnOnce(&wit::Guest, &mut wasmtime::Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<(R, CallStats), SandboxError> {
        call_in(&self.sandbox, &self.spec.id, export, limits, |store| self.pre.instantiate(store), |instance, store| {
            f(instance.discover_problem_construction(), store)
        })
    }
}

/// Run one export of a fresh instance under `limits`: the store, the limiter,
/// the panic message and the timing every call of either world shares.
pub(crate) fn call_in<I, R>(
    sandbox: &Sandbox,
    problem: &str,
    export: &'static str,
    limits: Limits,
    instantiate: impl FnOnce(&mut wasmtime::Store<HostState>) -> wasmtime::Result<I>,
    f: impl FnOnce(&I, &mut wasmtime::Store<HostState>) -> wasmtime::Result<R>,
) -> Result<(R, CallStats), SandboxError> {
    let span = tracing::debug_span!("sandbox_call", problem = %problem, export, fuel_used = tracing::field::Empty);
    let _entered = span.enter();
    let state = HostState { limiter: StoreLimiter::new(&limits), panic_message: None };
    let start = Instant::now();
    let mut store = sandbox.store(state, &limits);
    let instance = match instantiate(&mut store) {
        Ok(instance) => instance,
        Err(e) => return Err(failure(e, store, &limits)),
    };
    let instantiated = Instant::now();
    match f(&instance, &mut store) {
        Ok(value) => {
            let stats = CallStats {
                instantiate: instantiated - start,
                run: instantiated.elapsed(),
                fuel_used: limits.fuel.unwrap_or(u64::MAX) - store.get_fuel().unwrap_or(0),
            };
            span.record("fuel_used", stats.fuel_used);
            Ok((value, stats))
        }
        Err(e) => {
            let error = failure(e, store, &limits);
            tracing::debug!(kind = error.kind(), "{error}");
            Err(error)
        }
    }
}

fn failure(e: wasmtime::Error, store: wasmtime::Store<HostState>, limits: &Limits) -> SandboxError {
    let state = store.into_data();
    SandboxError::from_call(e, limits, &state.limiter, state.panic_message)
}

pub(crate) fn placeholder_spec() -> Spec {
    Spec {
        id: String::new(),
        title: String::new(),
        statement: String::new(),
        direction: Direction::Maximize,
        best_known: None,
        shape: Shape { min_len: 0, max_len: u32::MAX, multiple_of: 1 },
        budgets: Budgets::default(),
    }
}

/// Explain a component that does not fit the contract.
fn contract_mismatch(e: wasmtime::Error) -> String {
    contract_mismatch_world(e, contest::World::Construction)
}

pub(crate) fn contract_mismatch_world(e: wasmtime::Error, world: contest::World) -> String {
    let (name, export) = match world {
        contest::World::Construction => ("problem", "construction"),
        contest::World::Contest => ("contest", "solver"),
    };
    format!(
        "the component does not implement the discover:problem@0.1.0 `{name}` world \
         (it must export `discover:problem/{export}@0.1.0`): {e:#}"
    )
}
