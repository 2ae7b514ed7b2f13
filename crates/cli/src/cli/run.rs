//! `discover run`, `discover resume` and `discover report`: a discovery run from
//! the command line, its run directory, its progress line and its summary.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::engine::rundir::write_atomic;
use crate::engine::event::ErrorEvent;
use crate::engine::{Event, Objective, Reuse, Run, RunDir, Settings, State, StepReport};
use crate::policy::{LlmPolicy, LocalSampler, LocalTrainer, Numeric, OpenAiSampler, OpenAiSettings, Policy, Restarts};
use crate::candidate::PythonCandidates;
use crate::prompt::Language;
use crate::python;
use crate::rollout::{ProblemEnv, Programs};
use crate::problem::{is_path, solution_json, Problem, Spec};
use crate::report;
use crate::sandbox::Sandbox;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// A built-in problem id, or the path of a problem component (.wasm).
    problem: String,
    /// Who proposes: `numeric` (Gaussian proposals + refine, trained),
    /// `restarts` (fresh initial states + refine: the baseline), `openai` (an
    /// OpenAI-compatible server writes Python programs; sampling only) or
    /// `local` (a model directory in this process writes them, and LoRA
    /// adapters on it train as the run goes: test-time training).
    #[arg(long, value_enum, default_value_t = PolicyKind::Numeric)]
    policy: PolicyKind,
    /// Training steps.
    #[arg(long, default_value_t = 100)]
    steps: u32,
    /// Start states (groups) per step: B.
    #[arg(long, default_value_t = 8)]
    groups: usize,
    /// Rollouts per group: k.
    #[arg(long, default_value_t = 16)]
    group_size: usize,
    /// Advantage estimator.
    #[arg(long, value_enum, default_value_t = ObjectiveKind::Entropic)]
    objective: ObjectiveKind,
    /// The fixed beta of `--objective entropic-fixed` [default: 2.0].
    #[arg(long, allow_negative_numbers = true)]
    beta: Option<f64>,
    /// How start states are chosen [default: puct; none for restarts].
    #[arg(long, value_parser = reuse_parser())]
    reuse: Option<Reuse>,
    /// Seed of everything random in the run.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Run directory [default: runs/PROBLEM-SEED-UNIXTIME].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Work units of the problem's `refine` per rollout (optimiser iterations
    /// for the built-in problems); 0 turns refining off.
    #[arg(long, default_value_t = 1000)]
    effort: u32,
    /// Initial standard deviation of numeric proposals, relative to the size
    /// (root mean square) of the start solution.
    // Large enough to leave the start's basin: refine then settles into a
    // neighbouring one (0.05 rarely escaped on circle-packing-26; 0.15-0.4 did).
    #[arg(long, default_value_t = 0.2, allow_negative_numbers = true)]
    sigma: f64,
    /// Learning rate: of the numeric policy [default: 0.1], or Adam's on the
    /// LoRA adapters of `--policy local` [default: 4e-5, the paper's].
    #[arg(long, allow_negative_numbers = true)]
    lr: Option<f64>,
    /// Threads running rollouts [default: the number of cores].
    #[arg(long)]
    workers: Option<usize>,
    /// Stop after the step during which this many seconds of run time passed.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    time_limit: Option<f64>,
    /// Print the summary as JSON (and no progress line).
    #[arg(long)]
    json: bool,
    // Last: their help headings would otherwise also cover the flags after them.
    #[command(flatten)]
    llm: LlmArgs,
    #[command(flatten)]
    train: TrainArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    Numeric,
    Restarts,
    Openai,
    Local,
}

impl PolicyKind {
    fn writes_programs(self) -> bool {
        matches!(self, PolicyKind::Openai | PolicyKind::Local)
    }
}

/// Flags of the LLM policies (`--policy openai`, `--policy local`).
#[derive(Args, Debug)]
#[command(next_help_heading = "LLM policies (--policy openai | local)")]
pub struct LlmArgs {
    /// openai: the server's base URL, up to /v1.
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// openai: the model id [default: the first the server lists].
    /// local: the model directory (config.json, tokenizer.json, *.safetensors).
    #[arg(long, value_name = "ID|DIR")]
    model: Option<String>,
    /// openai: the environment variable that holds the API key.
    #[arg(long, value_name = "VAR", default_value = "OPENAI_API_KEY")]
    api_key_env: String,
    /// Sampling temperature (the paper samples at 1).
    #[arg(long, default_value_t = 1.0)]
    temperature: f64,
    /// Nucleus sampling: keep the most likely tokens up to this mass.
    #[arg(long, default_value_t = 1.0)]
    top_p: f64,
    /// Most tokens per completion.
    #[arg(long, default_value_t = 4096)]
    max_tokens: u32,
    /// openai: completions per request (`n`) [default: a group's k in one request].
    #[arg(long)]
    n_per_request: Option<usize>,
    /// openai: requests in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// openai: retries of a failing request (429, 5xx, time-outs, malformed replies).
    #[arg(long, default_value_t = 5)]
    retries: u32,
    /// openai: seconds one request may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 600.0)]
    request_timeout: f64,
    /// openai: seconds before the first retry (doubling each time).
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    retry_backoff: f64,
    /// Seconds each program has (BUDGET_SECONDS) [default: the problem's budget].
    #[arg(long, value_name = "SECONDS")]
    program_seconds: Option<f64>,
    /// Linear memory all running programs may reserve together, in MiB [default:
    /// half of this machine's memory]. Each program reserves --program-memory
    /// before it starts, so at most budget / program-memory run at once.
    #[arg(long, value_name = "MIB")]
    program_memory_budget: Option<u64>,
    /// Memory of each program, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 2048)]
    program_memory: usize,
}

/// How an LLM policy samples and its programs run. Stored in config.toml.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LlmConfig {
    /// `--policy openai`: the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openai: Option<OpenAiSettings>,
    /// `--policy local`: the model directory (absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_dir: Option<PathBuf>,
    pub temperature: f64,
    pub top_p: f64,
    pub max_tokens: u32,
    /// `None`: the problem's budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program_seconds: Option<f64>,
    pub program_memory_mib: usize,
    /// `None`: half of the machine's memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program_memory_budget_mib: Option<u64>,
}

impl LlmArgs {
    fn config(&self, policy: PolicyKind) -> Result<Option<LlmConfig>> {
        if !policy.writes_programs() {
            if self.base_url.is_some() || self.model.is_some() {
                bail!("--base-url and --model are for --policy openai or local");
            }
            return Ok(None);
        }
        // The sampler's own rules, worded with its parameter names.
        discover_llm::SamplingParams {
            temperature: self.temperature,
            top_p: self.top_p,
            max_tokens: self.max_tokens as usize,
            ..Default::default()
        }
        .check()
        .context("--temperature, --top-p or --max-tokens")?;
        if let Some(t) = self.program_seconds {
            if !(t.is_finite() && t > 0.0) {
                bail!("--program-seconds must be a positive number of seconds");
            }
        }
        if self.program_memory < 256 {
            bail!("--program-memory must be at least 256 MiB (the interpreter alone takes about 130)");
        }
        let (openai, model_dir) = match policy {
            PolicyKind::Openai => {
                let Some(base_url) = self.base_url.clone() else {
                    bail!("--policy openai needs --base-url (e.g. http://127.0.0.1:8000/v1, where `discover serve-model` listens)");
                };
                let settings = OpenAiSettings {
                    base_url,
                    model: self.model.clone(),
                    api_key_env: self.api_key_env.clone(),
                    temperature: self.temperature,
                    top_p: self.top_p,
                    max_tokens: self.max_tokens,
                    n_per_request: self.n_per_request.unwrap_or(0),
                    concurrency: self.concurrency,
                    retries: self.retries,
                    timeout_seconds: self.request_timeout,
                    backoff_seconds: self.retry_backoff,
                };
                (Some(settings), None)
            }
            _ => {
                let Some(dir) = &self.model else {
                    bail!("--policy local needs --model DIR (a model directory; `discover model new-tiny DIR` makes a small one)");
                };
                if self.base_url.is_some() {
                    bail!("--base-url is for --policy openai");
                }
                let dir = std::fs::canonicalize(dir).with_context(|| format!("model directory {dir}"))?;
                (None, Some(dir))
            }
        };
        Ok(Some(LlmConfig {
            openai,
            model_dir,
            temperature: self.temperature,
            top_p: self.top_p,
            max_tokens: self.max_tokens,
            program_seconds: self.program_seconds,
            program_memory_mib: self.program_memory,
            program_memory_budget_mib: self.program_memory_budget,
        }))
    }
}

/// Flags of test-time training (`--policy local`).
#[derive(Args, Debug)]
#[command(next_help_heading = "Test-time training (--policy local)")]
pub struct TrainArgs {
    /// Sample only: the frozen-policy ablation (the same sampler, no updates).
    #[arg(long)]
    no_train: bool,
    // The training flags are options so that `--no-train` and other policies
    // can refuse them; their defaults are `LoraConfig::default()` and
    // `TrainConfig::default()` (the paper's).
    /// Rank of the LoRA adapters [default: 32].
    #[arg(long)]
    lora_rank: Option<usize>,
    /// LoRA alpha: the adapters' output is scaled by alpha / rank [default: the rank].
    #[arg(long)]
    lora_alpha: Option<f64>,
    /// Projections that get adapters, comma-separated [default:
    /// q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj].
    #[arg(long, value_delimiter = ',')]
    lora_targets: Option<Vec<String>>,
    /// PPO-clip the importance ratio to [1 - EPS, 1 + EPS] (the paper trains
    /// without clipping; 0.2 is the usual value).
    #[arg(long, value_name = "EPS")]
    clip: Option<f64>,
    /// lambda of the KL shaping toward the base model, added to the token
    /// advantages as lambda (mean d - d_t), d = log q - log p_base [default: 0, off].
    #[arg(long, value_name = "LAMBDA")]
    kl_coef: Option<f64>,
    /// Tokens per forward/backward pass (prompt + rows x longest completion);
    /// gradients are summed over passes into one optimiser step [default: 8192].
    #[arg(long)]
    micro_batch_tokens: Option<usize>,
    /// Save the adapters and optimiser state every this many steps (and after
    /// the last) under the run's checkpoints/.
    #[arg(long, default_value_t = crate::engine::run::default_checkpoint_every())]
    checkpoint_every: u32,
}

/// What `--policy local` trains and how. Stored in config.toml.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    pub lora: discover_llm::LoraConfig,
    pub optimizer: discover_llm::TrainConfig,
}

impl TrainArgs {
    fn config(&self, policy: PolicyKind, lr: Option<f64>) -> Result<Option<TrainSettings>> {
        let touched = self.lora_rank.is_some()
            || self.lora_alpha.is_some()
            || self.lora_targets.is_some()
            || self.clip.is_some()
            || self.kl_coef.is_some()
            || self.micro_batch_tokens.is_some();
        if policy != PolicyKind::Local {
            if self.no_train {
                bail!("--no-train is for --policy local (the openai policy always samples only)");
            }
            if touched {
                bail!("the LoRA and training flags are for --policy local");
            }
            return Ok(None);
        }
        if self.no_train {
            if touched || lr.is_some() {
                bail!("--no-train samples only: drop the training flags (--lr, --lora-*, --clip, --kl-coef, --micro-batch-tokens)");
            }
            return Ok(None);
        }
        let (lora, optimizer) = (discover_llm::LoraConfig::default(), discover_llm::TrainConfig::default());
        let rank = self.lora_rank.unwrap_or(lora.rank);
        let lora = discover_llm::LoraConfig {
            rank,
            alpha: self.lora_alpha.unwrap_or(rank as f64),
            targets: self.lora_targets.as_ref().map_or(lora.targets, |t| t.iter().map(|t| t.trim().to_string()).collect()),
        };
        lora.check().context("--lora-rank, --lora-alpha or --lora-targets")?;
        let optimizer = discover_llm::TrainConfig {
            learning_rate: lr.unwrap_or(optimizer.learning_rate),
            clip: self.clip,
            kl_coef: self.kl_coef.unwrap_or(optimizer.kl_coef),
            micro_batch_tokens: self.micro_batch_tokens.unwrap_or(optimizer.micro_batch_tokens),
            ..optimizer
        };
        optimizer.check().context("--lr, --clip, --kl-coef or --micro-batch-tokens")?;
        Ok(Some(TrainSettings { lora, optimizer }))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ObjectiveKind {
    Entropic,
    EntropicFixed,
    Mean,
}

/// `--reuse` takes the engine's names (`Reuse::name`).
fn reuse_parser() -> impl clap::builder::TypedValueParser<Value = Reuse> {
    const ALL: [Reuse; 3] = [Reuse::Puct, Reuse::Greedy, Reuse::None];
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(ALL.map(|r| r.name()))
        .map(|name| ALL.into_iter().find(|r| r.name() == name).expect("clap admitted only these names"))
}

/// Everything needed to resume a run: written to `config.toml` once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub problem: String,
    pub policy: PolicyKind,
    pub effort: u32,
    pub sigma: f64,
    pub lr: f64,
    /// For reports only: the problem's best known value when the run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_known: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmConfig>,
    /// `--policy local` without `--no-train`: the adapters and their optimiser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<TrainSettings>,
    pub settings: Settings,
}

impl RunArgs {
    /// Check the flags together and turn them into a config.
    fn config(&self) -> Result<RunConfig> {
        let objective = match (self.objective, self.beta) {
            (ObjectiveKind::EntropicFixed, beta) => Objective::EntropicFixed { beta: beta.unwrap_or(2.0) },
            (_, Some(_)) => bail!("--beta is only used with --objective entropic-fixed"),
            (ObjectiveKind::Entropic, None) => Objective::Entropic,
            (ObjectiveKind::Mean, None) => Objective::Mean,
        };
        let reuse = match (self.policy, self.reuse) {
            (PolicyKind::Restarts, Some(r)) if r != Reuse::None => {
                bail!("--policy restarts ignores start states; --reuse {} has no effect (drop it)", r.name())
            }
            (PolicyKind::Restarts, _) => Reuse::None,
            (_, r) => r.unwrap_or(Reuse::Puct),
        };
        let llm = self.llm.config(self.policy)?;
        if !(self.sigma.is_finite() && self.sigma > 0.0 && self.sigma <= 1.0) {
            bail!("--sigma must be in (0, 1], got {}", self.sigma);
        }
        if let Some(lr) = self.lr {
            if !(lr.is_finite() && lr >= 0.0) {
                bail!("--lr must be a non-negative number, got {lr}");
            }
        }
        let train = self.train.config(self.policy, self.lr)?;
        if self.policy == PolicyKind::Openai && self.lr.is_some() {
            bail!("--lr has no effect with --policy openai: it samples only");
        }
        if self.steps == 0 {
            bail!("--steps must be at least 1");
        }
        if let Some(t) = self.time_limit {
            if !(t.is_finite() && t > 0.0) {
                bail!("--time-limit must be a positive number of seconds, got {t}");
            }
        }
        if self.workers == Some(0) {
            bail!("--workers must be at least 1");
        }
        // A path (as `Problem::load` tells paths from ids) is stored absolute, so
        // that `resume` works from any directory.
        let problem = if is_path(&self.problem) && Path::new(&self.problem).exists() {
            std::fs::canonicalize(&self.problem)?.display().to_string()
        } else {
            self.problem.clone()
        };
        let settings = Settings {
            steps: self.steps,
            groups: self.groups,
            group_size: self.group_size,
            objective,
            reuse,
            seed: self.seed,
            workers: self.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            time_limit_seconds: self.time_limit,
            checkpoint_every: self.train.checkpoint_every,
        };
        settings.check()?;
        let lr = if self.policy == PolicyKind::Local { 0.1 } else { self.lr.unwrap_or(0.1) };
        Ok(RunConfig { problem, policy: self.policy, effort: self.effort, sigma: self.sigma, lr, best_known: None, llm, train, settings })
    }
}

impl RunConfig {
    /// The config of an existing run directory.
    fn read(dir: &RunDir) -> Result<RunConfig> {
        toml::from_str(&dir.read_config()?)
            .with_context(|| format!("{} is damaged", dir.path("config.toml").display()))
    }

    fn policy(&self, spec: &Spec) -> Result<Box<dyn Policy>> {
        let llm = || self.llm.as_ref().context("config.toml has no [llm] table for an LLM policy");
        Ok(match self.policy {
            PolicyKind::Numeric => Box::new(Numeric::new(spec.shape.multiple_of as usize, self.sigma, self.lr)),
            PolicyKind::Restarts => Box::new(Restarts),
            PolicyKind::Openai => {
                let llm = llm()?;
                let settings = llm.openai.clone().context("config.toml has no [llm.openai] table")?;
                let sampler = OpenAiSampler::new(settings)?;
                Box::new(LlmPolicy::new("openai", Box::new(sampler), spec, python_language(spec), llm.program_seconds(spec)))
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
                let policy = LlmPolicy::new("local", Box::new(sampler), spec, python_language(spec), llm.program_seconds(spec));
                match &self.train {
                    Some(train) => Box::new(policy.with_trainer(Box::new(LocalTrainer::new(model, train.optimizer.clone())?))),
                    None => Box::new(policy),
                }
            }
        })
    }
}

/// What LLM policies write: Python programs, with the contract the Python
/// runtime states for `spec`.
fn python_language(spec: &Spec) -> Language {
    Language::new(python::LANGUAGE, python::contract(spec))
}

impl LlmConfig {
    fn program_seconds(&self, spec: &Spec) -> f64 {
        self.program_seconds.unwrap_or(spec.budgets.candidate_seconds as f64)
    }

    /// The sandbox for the programs: the runtime `discover setup` made, and
    /// each program's limits (the deadline leaves 10% + 5 s of slack for the
    /// interpreter and the result).
    ///
    /// Programs run through the memory-budgeted pool with one worker per rollout
    /// thread: each reserves its memory cap from the budget before it starts.
    fn programs(&self, spec: &Spec, cache_dir: Option<&Path>, workers: usize) -> Result<Programs> {
        let runtime = python::Runtime::load(&super::python::runtime_paths(cache_dir)?)?;
        let budget_seconds = self.program_seconds(spec);
        let limits = python::Limits {
            deadline: Duration::from_secs_f64(budget_seconds * 1.1 + 5.0),
            memory_bytes: self.program_memory_mib << 20,
            ..python::Limits::default()
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

pub fn run(sandbox: &Sandbox, cache_dir: Option<&Path>, args: RunArgs) -> Result<ExitCode> {
    let mut config = args.config()?;
    let problem = Problem::load(sandbox, &config.problem)?;
    config.best_known = problem.spec().best_known.as_ref().map(|b| b.value);
    let out = args.out.clone().unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        PathBuf::from("runs").join(format!("{}-{}-{now}", problem.spec().id, config.settings.seed))
    });
    let dir = RunDir::create(&out)?;
    dir.write_config(&toml::to_string(&config).context("writing config.toml")?)?;
    drive(&problem, &config, &dir, cache_dir, None, args.json)
}

pub fn resume(sandbox: &Sandbox, cache_dir: Option<&Path>, root: &Path, json: bool, base_url: Option<String>) -> Result<ExitCode> {
    let dir = RunDir::open(root)?;
    let mut config = RunConfig::read(&dir)?;
    if let Some(url) = base_url {
        match config.llm.as_mut().and_then(|l| l.openai.as_mut()) {
            Some(openai) => openai.base_url = url,
            None => bail!("--base-url only applies to runs with --policy openai"),
        }
        dir.write_config(&toml::to_string(&config).context("writing config.toml")?)?;
    }
    let checkpoint = dir.load_checkpoint()?;
    if let (Some(c), Some(_), false) = (&checkpoint, &config.train, json) {
        // Adapters are saved every --checkpoint-every steps, the buffer every step.
        match c.policy_files_step() {
            Some(s) if s < c.step => eprintln!(
                "note: resuming after step {}; the adapters and optimiser state are step {s}'s ({}), so the updates of steps {}-{} are not in them",
                c.step,
                c.policy_files.as_deref().unwrap_or_default(),
                s + 1,
                c.step
            ),
            None if c.step > 0 => eprintln!(
                "note: resuming after step {} with fresh adapters: none were saved yet (--checkpoint-every {})",
                c.step, config.settings.checkpoint_every
            ),
            _ => {}
        }
    }
    match &checkpoint {
        // Events after the checkpoint belong to a step that will run again.
        Some(c) => dir.truncate_events(c.step)?,
        // Not even one step finished: start over, initial states included.
        None => write_atomic(&dir.path("events.jsonl"), b"")?,
    }
    let problem = Problem::load(sandbox, &config.problem)?;
    drive(&problem, &config, &dir, cache_dir, checkpoint, json)
}

/// Run steps until the run is finished, keeping `best/` and the progress line
/// up to date; then plots and the summary.
fn drive(
    problem: &Problem,
    config: &RunConfig,
    dir: &RunDir,
    cache_dir: Option<&Path>,
    checkpoint: Option<crate::engine::Checkpoint>,
    json: bool,
) -> Result<ExitCode> {
    let spec = problem.spec();
    let mut env = ProblemEnv::new(problem.clone(), config.effort);
    if let Some(llm) = &config.llm {
        env = env.with_programs(llm.programs(spec, cache_dir, config.settings.workers)?);
    }
    let mut policy = config.policy(spec)?;
    let trains = policy.trains();
    if !trains && config.policy.writes_programs() && !json {
        eprintln!("note: --policy {} samples only: a frozen policy searching with reuse (no test-time training)", policy.name());
    }
    let settings = config.settings.clone();
    let mut run = match checkpoint {
        Some(c) => Run::resume(settings, spec.direction, &env, policy.as_mut(), Some(dir), c)?,
        None => Run::start(settings, spec.direction, &env, policy.as_mut(), Some(dir))?,
    };
    write_best(problem, dir, run.buffer.best())?;
    let mut progress = Progress::new(!json && std::io::stderr().is_terminal(), config);
    let mut rollouts = 0;
    while !run.finished() {
        let report = match run.step() {
            Ok(r) => r,
            Err(e) => {
                progress.done();
                // The failed step left nothing behind but this line; the
                // checkpoint is the last complete step's.
                let _ = dir.append_events(&[Event::Error(ErrorEvent { step: run.step + 1, message: format!("{e:#}") })]);
                return Err(e.context(format!(
                    "step {} failed; the run stopped after step {} and `discover resume {}` continues it",
                    run.step + 1,
                    run.step,
                    dir.root().display()
                )));
            }
        };
        rollouts += report.rollouts;
        if report.new_best {
            write_best(problem, dir, run.buffer.best())?;
        }
        progress.show(&report);
    }
    progress.done();
    let policy_name = run.policy_name();
    report::write_plots(dir, &spec.id, config.best_known)?;
    let best = run.buffer.best();
    let summary = Summary {
        problem: spec.id.clone(),
        run_dir: dir.root().to_path_buf(),
        steps: run.step,
        steps_planned: None,
        rollouts: run.buffer.total_rollouts(),
        rollouts_this_session: Some(rollouts),
        elapsed_seconds: run.elapsed_seconds,
        best_score: Some(best.score),
        best_step: Some(best.step),
        best_known: config.best_known,
        best_solution: dir.path("best/solution.json"),
        policy: Some(policy_name.to_string()),
        trained: Some(trains),
        policy_files: run.policy_files.as_ref().map(|f| dir.path(f)),
        model: config.llm.as_ref().and_then(|l| l.model_dir.clone()),
        curves: None,
    };
    if json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print_summary(&summary);
    }
    Ok(ExitCode::SUCCESS)
}

/// `best/solution.json` (what `discover verify` reads), `best/verdict.json` (the
/// verifier's judgement, re-run now), `best/picture.svg` where the problem draws.
fn write_best(problem: &Problem, dir: &RunDir, best: &State) -> Result<()> {
    write_atomic(&dir.path("best/solution.json"), solution_json(&best.solution).as_bytes())?;
    let verdict = problem.evaluate(&best.solution).context("re-verifying the best state")?;
    let record = json!({
        "valid": verdict.valid,
        "score": verdict.score,
        "reason": verdict.reason,
        "metrics": verdict.metrics.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
        "state": {"id": best.id, "parent": best.parent, "step": best.step},
    });
    write_atomic(&dir.path("best/verdict.json"), serde_json::to_string_pretty(&record)?.as_bytes())?;
    if let Some(svg) = problem.render_svg(&best.solution)? {
        write_atomic(&dir.path("best/picture.svg"), svg.as_bytes())?;
    }
    Ok(())
}

/// What `discover run`, `resume` and `report` print at the end (`--json`: this,
/// as one object).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub problem: String,
    pub run_dir: PathBuf,
    /// Completed steps.
    pub steps: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps_planned: Option<u32>,
    pub rollouts: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollouts_this_session: Option<usize>,
    pub elapsed_seconds: f64,
    pub best_score: Option<f64>,
    pub best_step: Option<u32>,
    pub best_known: Option<f64>,
    pub best_solution: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trained: Option<bool>,
    pub policy_files: Option<PathBuf>,
    pub model: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curves: Option<report::Curves>,
}

fn print_summary(s: &Summary) {
    let best = s.best_score.unwrap_or(f64::NAN);
    println!(
        "{}: best score {} (step {}) after {} steps, {} rollouts, {:.1} s",
        s.problem,
        best,
        s.best_step.map_or("-".to_string(), |b| b.to_string()),
        s.steps,
        s.rollouts,
        s.elapsed_seconds,
    );
    if let Some(known) = s.best_known {
        println!("best known {known} (difference {:+.3e})", best - known);
    }
    println!("best solution: {}", s.best_solution.display());
    if let (Some(policy), Some(false)) = (&s.policy, s.trained) {
        if matches!(policy.as_str(), "openai" | "local") {
            println!("policy {policy}: sampling only (a frozen policy searching with reuse; no training)");
        }
    }
    if let Some(files) = &s.policy_files {
        let model = s.model.as_ref().map_or("MODEL".to_string(), |m| m.display().to_string());
        println!(
            "trained adapters: {} (serve them with `discover serve-model {model} --adapter {}`)",
            files.display(),
            files.display()
        );
    }
}

/// `discover report DIR`: rebuild the plots and print the summary from the files.
pub fn report(root: &Path, json: bool) -> Result<ExitCode> {
    let dir = RunDir::open(root)?;
    let config = RunConfig::read(&dir)?;
    let title = config.problem.rsplit('/').next().unwrap_or(&config.problem).to_string();
    report::write_plots(&dir, &title, config.best_known)?;
    let events = dir.events()?;
    let curves = report::curves(&events);
    let checkpoint = dir.load_checkpoint()?;
    let best = checkpoint.as_ref().map(|c| c.buffer.best().clone());
    let summary = Summary {
        problem: title,
        run_dir: dir.root().to_path_buf(),
        steps: checkpoint.as_ref().map_or(0, |c| c.step),
        steps_planned: Some(config.settings.steps),
        rollouts: checkpoint.as_ref().map_or(0, |c| c.buffer.total_rollouts()),
        rollouts_this_session: None,
        elapsed_seconds: checkpoint.as_ref().map_or(0.0, |c| c.elapsed_seconds),
        best_score: best.as_ref().map(|b| b.score),
        best_step: best.as_ref().map(|b| b.step),
        best_known: config.best_known,
        best_solution: dir.path("best/solution.json"),
        policy: None,
        trained: None,
        policy_files: None,
        model: None,
        curves: Some(curves),
    };
    if json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print_summary(&summary);
        println!("plots: {} and {}", dir.path("plots/best.svg").display(), dir.path("plots/reward.svg").display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The progress line on a terminal: a bar, the step, the best score against the
/// best known, and throughput. Silent when stderr is not a terminal.
struct Progress {
    on: bool,
    steps: u32,
    best_known: Option<f64>,
}

impl Progress {
    fn new(on: bool, config: &RunConfig) -> Progress {
        Progress { on, steps: config.settings.steps, best_known: config.best_known }
    }

    fn show(&mut self, r: &StepReport) {
        if !self.on {
            return;
        }
        let width = 24;
        let filled = (r.step as usize * width / self.steps.max(1) as usize).min(width);
        let known = self.best_known.map_or(String::new(), |k| format!(" (known {k})"));
        let mut err = std::io::stderr();
        let _ = write!(
            err,
            "\r[{}{}] step {}/{}  best {}{}  {:.0} rollouts/s  {:.0} s ",
            "#".repeat(filled),
            ".".repeat(width - filled),
            r.step,
            self.steps,
            r.best_score,
            known,
            r.rollouts_per_second,
            r.elapsed_seconds
        );
        let _ = err.flush();
    }

    fn done(&self) {
        if self.on {
            eprintln!();
        }
    }
}
