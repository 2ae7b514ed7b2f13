//! What a resolved `RunConfig` builds: the policy, and where programs run.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::candidate::PythonCandidates;
use crate::engine::RunDir;
use crate::policy::{LlmPolicy, LocalSampler, LocalTrainer, Numeric, OpenAiSampler, Policy, Restarts};
use crate::problem::Spec;
use crate::prompt::Language;
use crate::python;
use crate::rollout::contest::ContestRunner;
use crate::rollout::Programs;
use super::settings::*;

impl RunConfig {
    /// The config of an existing run directory.
    pub(crate) fn read(dir: &RunDir) -> Result<RunConfig> {
        toml::from_str(&dir.read_config()?)
            .with_context(|| format!("{} is damaged", dir.path("config.toml").display()))
    }

    /// The policy; LLM policies write programs in `language`, with the
    /// prompt for the kind of problem.
    pub(crate) fn policy(&self, spec: &Spec, language: Language, prompt: Prompt) -> Result<Box<dyn Policy>> {
        let llm = || self.llm.as_ref().context("config.toml has no [llm] table for an LLM policy");
        let prompted = |policy: LlmPolicy| -> LlmPolicy {
            let (spec, language) = (spec.clone(), language.clone());
            match prompt.clone() {
                Prompt::Construction => policy,
                Prompt::Contest => {
                    policy.with_prompt(Box::new(move |start| crate::prompt::render_contest(&spec, &language, start)))
                }
                Prompt::Plugin { environment } => policy.with_prompt(Box::new(move |start| {
                    crate::prompt::render_plugin(&spec, &environment, &language, start)
                })),
            }
        };
        Ok(match self.policy {
            PolicyKind::Numeric => Box::new(
                Numeric::for_shape(&spec.shape, self.sigma, self.lr, self.upsample_to)
                    .with_downsampling(if resizable(&spec.shape) { self.downsample_from.unwrap_or(0) } else { 0 })
                    .with_spread(self.sigma_spread)
                    .with_deepening(self.deepen),
            ),
            PolicyKind::Restarts => Box::new(Restarts),
            PolicyKind::Openai => {
                let llm = llm()?;
                let settings = llm.openai.clone().context("config.toml has no [llm.openai] table")?;
                let sampler = OpenAiSampler::new(settings)?;
                Box::new(prompted(LlmPolicy::new("openai", Box::new(sampler), spec, language.clone(), llm.program_seconds(spec))))
            }
            PolicyKind::Local => {
                let llm = llm()?;
                let dir = llm.model_dir.as_ref().context("config.toml names no model directory")?;
                let mut model = discover_llm::LocalModel::load(dir, &discover_llm::default_device())?;
                if let Some(train) = &self.train {
                    // Seeded by the run, so a run restarted from scratch starts alike.
                    model.model.add_adapters(&train.lora, self.settings.seed)?;
                }
                let model = Arc::new(model);
                let sampler = LocalSampler { model: model.clone(), temperature: llm.temperature, top_p: llm.top_p, max_tokens: llm.max_tokens as usize };
                let policy = prompted(LlmPolicy::new("local", Box::new(sampler), spec, language.clone(), llm.program_seconds(spec)));
                match &self.train {
                    Some(train) => Box::new(policy.with_trainer(Box::new(LocalTrainer::new(model, train.optimizer.clone())?))),
                    None => Box::new(policy),
                }
            }
        })
    }
}

/// Which prompt an LLM policy gets.
#[derive(Clone, Debug)]
pub(crate) enum Prompt {
    /// A Python program from a parent solution (`prompt::render`).
    Construction,
    /// A contest program run on every case.
    Contest,
    /// A native plugin's program; `environment` says where it runs.
    Plugin { environment: String },
}

/// What LLM policies write for a contest problem: C++ programs, with the
/// contract the runtime states for the problem's limits.
pub(crate) fn contest_language(runner: &ContestRunner) -> Language {
    let limits = &runner.settings.limits;
    let runtime = runner.runtime(crate::candidate::cpp::LANGUAGE).expect("contest runners carry the C++ runtime");
    Language::new(runtime.language(), runtime.contract(limits.seconds, limits.memory_bytes >> 20))
}

/// What LLM policies write: Python programs, with the contract the Python
/// runtime states for `spec`.
pub(crate) fn python_language(spec: &Spec) -> Language {
    Language::new(python::LANGUAGE, python::contract(spec))
}

impl LlmConfig {
    pub(crate) fn program_seconds(&self, spec: &Spec) -> f64 {
        self.program_seconds.unwrap_or(spec.budgets.candidate_seconds as f64)
    }

    /// The sandbox for the programs: the runtime `discover setup` made, and
    /// each program's limits (the deadline leaves 10% + 5 s of slack for the
    /// interpreter and the result).
    ///
    /// Programs run through the memory-budgeted pool with one worker per rollout
    /// thread: each reserves its memory cap from the budget before it starts.
    pub(crate) fn programs(&self, spec: &Spec, cache_dir: Option<&Path>, workers: usize) -> Result<Programs> {
        let runtime = python::Runtime::load(&crate::cli::python::runtime_paths(cache_dir)?)?;
        let budget_seconds = self.program_seconds(spec);
        let limits = python::ProgramLimits {
            deadline: Duration::from_secs_f64(budget_seconds * 1.1 + 5.0),
            memory_bytes: self.program_memory_mib << 20,
            ..python::ProgramLimits::default()
        };
        let mut pool = python::pool::PoolConfig { workers, queue: 2 * workers, ..Default::default() };
        if let Some(mib) = self.program_memory_budget_mib {
            pool.memory_budget_bytes = mib << 20;
        }
        if (limits.memory_bytes as u64) > pool.memory_budget_bytes {
            bail!(
                "--program-memory {} MiB is more than the whole --program-memory-budget of {} MiB",
                limits.memory_bytes >> 20,
                pool.memory_budget_bytes >> 20
            );
        }
        let runtime = PythonCandidates::new(Arc::new(runtime), pool)?;
        Ok(Programs { runtime: Arc::new(runtime), limits, budget_seconds })
    }
}

/// Whether a problem's solutions are step functions of free length, the
/// only ones whose resolution a proposal may change.
fn resizable(shape: &crate::problem::Shape) -> bool {
    shape.multiple_of == 1 && shape.min_len < shape.max_len
}
