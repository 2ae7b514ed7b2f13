//! Native plugin problems: a state is a program (its source in
//! `solution.text`), scored by the plugin's `evaluate`, which runs it in
//! isolation (`discover_candidate::native`) and judges what came back.
//!
//! A plugin that crashes or hangs costs the rollout in flight a typed failure
//! (reward 0); the supervisor starts a fresh process for the next one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use discover_contract::failure::{ProgramFailure, RolloutFailure};
use discover_contract::{Solution, Verdict};
use discover_engine::{Action, Environment, Evaluated, Failure, Program, Provenance, State};
use discover_plugin::{PluginProblem, PluginVerdict};

pub struct PluginEnv {
    pub problem: Arc<PluginProblem>,
    /// Mixed into each evaluation's input seed.
    pub seed: u64,
    /// Verdicts by source: a program written twice is evaluated once, and the
    /// best state's verdict is at hand for `best/`.
    memo: Mutex<HashMap<String, (Verdict, PluginVerdict)>>,
}

impl PluginEnv {
    pub fn new(problem: Arc<PluginProblem>, seed: u64) -> PluginEnv {
        PluginEnv { problem, seed, memo: Mutex::new(HashMap::new()) }
    }

    /// Evaluate `source` (or recall its verdict); the input seed depends on
    /// the source and the run's seed, so the same program meets the same
    /// inputs within a run. A plugin failure is not remembered.
    pub fn evaluate(&self, language: &str, source: &str) -> Result<(Verdict, PluginVerdict), Failure> {
        if let Some(v) = self.memo.lock().unwrap().get(source) {
            return Ok(v.clone());
        }
        let program = discover_plugin::Program { language: language.to_string(), source: source.to_string() };
        let answer = self
            .problem
            .evaluate(&program, self.seed ^ fnv1a(source))
            .map_err(|e| Failure::new(e.failure(), e.to_string()))?;
        self.memo.lock().unwrap().insert(source.to_string(), answer.clone());
        Ok(answer)
    }

    fn evaluated(&self, language: &str, source: &str) -> Result<Evaluated, Failure> {
        let (verdict, answer) = self.evaluate(language, source)?;
        let summary = summary(&verdict, &answer);
        match verdict.score {
            Some(score) if verdict.valid => {
                let values = verdict.metrics.iter().map(|(_, v)| *v).collect();
                let mut evaluated = Evaluated::new(Solution { values, text: Some(source.to_string()) }, score);
                evaluated.provenance = Provenance { code: Some(source.to_string()), stdout: Some(summary), before: None };
                Ok(evaluated)
            }
            _ => {
                let reason = verdict.reason.unwrap_or_else(|| "invalid".into());
                let kind: Option<ProgramFailure> =
                    answer.failure.as_deref().and_then(|f| serde_json::from_value(serde_json::Value::String(f.into())).ok());
                Err(match kind {
                    Some(kind) => Failure::new(kind, reason),
                    None => Failure::new(RolloutFailure::Invalid, reason),
                })
            }
        }
    }
}

/// The verdict in a few lines: for the next prompt and for people.
pub fn summary(verdict: &Verdict, answer: &PluginVerdict) -> String {
    let mut s = match (verdict.valid, verdict.score) {
        (true, Some(score)) => format!("valid; score {score}"),
        _ => format!("invalid: {}", verdict.reason.as_deref().unwrap_or("no reason given")),
    };
    if !verdict.metrics.is_empty() {
        let figures: Vec<String> = verdict.metrics.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        s += &format!("\n{}", figures.join(", "));
    }
    if !answer.output.trim().is_empty() {
        s += &format!("\nOutput ended with:\n{}", answer.output.trim_end());
    }
    s
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

impl Environment for PluginEnv {
    fn initial(&self, seed: u64) -> Result<Evaluated, Failure> {
        let program = self.problem.plugin.initial(seed).map_err(|e| Failure::new(e.failure(), e.to_string()))?;
        self.evaluated(&program.language, &program.source)
    }

    fn execute(&self, _start: &State, action: &Action) -> Result<Evaluated, Failure> {
        match action {
            Action::Program(program) => self.run_program(program),
            Action::Restart { seed } => self.initial(*seed),
            Action::Values { .. } => Err(Failure::new(
                RolloutFailure::NoRuntime,
                "a plugin problem's solutions are programs, not vectors of numbers",
            )),
        }
    }
}

impl PluginEnv {
    fn run_program(&self, program: &Program) -> Result<Evaluated, Failure> {
        let Some(code) = &program.code else { return Err(crate::no_code(program)) };
        if program.language != self.problem.spec.language {
            return Err(Failure::new(
                RolloutFailure::NoRuntime,
                format!("{} takes {} programs, not {}", self.problem.spec.spec.id, self.problem.spec.language, program.language),
            ));
        }
        self.evaluated(&program.language, code)
    }
}
