//! `discover run`'s flags, and the settings they resolve to: `RunConfig`, the
//! schema of the run directory's `config.toml` (everything `resume` needs).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

use crate::engine::{Objective, Reuse, Settings};
use crate::policy::OpenAiSettings;
use crate::problem::is_path;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// A built-in problem id, or the path of a problem component (.wasm).
    pub(crate) problem: String,
    /// Who proposes: `numeric` (Gaussian proposals + refine, trained),
    /// `restarts` (fresh initial states + refine: the baseline), `openai` (an
    /// OpenAI-compatible server writes Python programs; sampling only) or
    /// `local` (a model directory in this process writes them, and LoRA
    /// adapters on it train as the run goes: test-time training).
    #[arg(long, value_enum, default_value_t = PolicyKind::Numeric)]
    pub(crate) policy: PolicyKind,
    /// Training steps.
    #[arg(long, default_value_t = 100)]
    pub(crate) steps: u32,
    /// Start states (groups) per step: B.
    #[arg(long, default_value_t = 8)]
    pub(crate) groups: usize,
    /// Rollouts per group: k.
    #[arg(long, default_value_t = 16)]
    pub(crate) group_size: usize,
    /// Advantage estimator.
    #[arg(long, value_enum, default_value_t = ObjectiveKind::Entropic)]
    pub(crate) objective: ObjectiveKind,
    /// The fixed beta of `--objective entropic-fixed` [default: 2.0].
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) beta: Option<f64>,
    /// How start states are chosen [default: puct; none for restarts].
    #[arg(long, value_parser = reuse_parser())]
    pub(crate) reuse: Option<Reuse>,
    /// Seed of everything random in the run.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Run directory [default: runs/PROBLEM-SEED-UNIXTIME].
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    /// Work units of the problem's `refine` per rollout (optimiser iterations
    /// for the built-in problems; the autocorrelation bounds do proportionally
    /// fewer above 1024 steps, so a rollout costs the same at any length); 0
    /// turns refining off.
    #[arg(long, default_value_t = 1000)]
    pub(crate) effort: u32,
    /// Contest problems: the cases each program runs on, as seeds: `0..150`
    /// (the default: the 150 official public cases), `0..=9`, or `3,5,8`.
    #[arg(long, value_name = "SEEDS")]
    pub(crate) cases: Option<String>,
    /// Initial standard deviation of numeric proposals, relative to the size
    /// (root mean square) of the start solution.
    // Large enough to leave the start's basin: refine then settles into a
    // neighbouring one (0.05 rarely escaped on circle-packing-26; 0.15-0.4 did).
    #[arg(long, default_value_t = 0.2, allow_negative_numbers = true)]
    pub(crate) sigma: f64,
    /// Numeric policy: each proposal draws its own sigma, exp(N(log sigma,
    /// TAU^2)), and sigma learns from the group which size scored best (with
    /// thousands of coordinates and one sigma it barely moves). 1 lets a
    /// proposal be e times larger or smaller than sigma at one standard
    /// deviation; 0 turns it off (one sigma for all proposals) [default: 1].
    #[arg(long, value_name = "TAU", allow_negative_numbers = true)]
    pub(crate) sigma_spread: Option<f64>,
    /// Learning rate: of the numeric policy [default: 0.1], or Adam's on the
    /// LoRA adapters of `--policy local` [default: 4e-5, the paper's].
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) lr: Option<f64>,
    /// Threads running rollouts [default: the number of cores].
    #[arg(long)]
    pub(crate) workers: Option<usize>,
    /// Stop once this many seconds of run time passed: the step it passes in
    /// starts no further rollouts and ends with those that ran (so a run
    /// overruns by about one rollout; with --executor slurm, by the step).
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub(crate) time_limit: Option<f64>,
    /// Stop once this many seconds of run time passed without a new best state.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub(crate) stall_limit: Option<f64>,
    /// Where rollouts run: threads here, or SLURM job steps (srun inside an
    /// allocation, sbatch --wait outside one). With slurm, --out must be on a
    /// file system every node mounts (checked at start by a job step).
    #[arg(long, value_enum, default_value_t = super::slurm::ExecutorKind::Local, help_heading = "SLURM")]
    pub(crate) executor: super::slurm::ExecutorKind,
    /// SLURM partition (sbatch --partition).
    #[arg(long, value_name = "NAME", help_heading = "SLURM")]
    pub(crate) slurm_partition: Option<String>,
    /// SLURM account (sbatch --account).
    #[arg(long, value_name = "NAME", help_heading = "SLURM")]
    pub(crate) slurm_account: Option<String>,
    /// A batch job's time limit, in SLURM's format (sbatch --time).
    #[arg(long, value_name = "TIME", help_heading = "SLURM")]
    pub(crate) slurm_time: Option<String>,
    /// CPUs per batch (--cpus-per-task); a batch's rollouts run on that many threads.
    #[arg(long, value_name = "N", default_value_t = 1, help_heading = "SLURM")]
    pub(crate) slurm_cpus: u32,
    /// GPUs per batch (--gpus-per-task).
    #[arg(long, value_name = "N", help_heading = "SLURM")]
    pub(crate) slurm_gpus: Option<u32>,
    /// Generic resources per batch (--gres), e.g. gpu:a100:1.
    #[arg(long, value_name = "GRES", help_heading = "SLURM")]
    pub(crate) slurm_gres: Option<String>,
    /// Another option for srun/sbatch, passed as it is; repeat for several.
    #[arg(long, value_name = "OPTION", allow_hyphen_values = true, help_heading = "SLURM")]
    pub(crate) slurm_extra: Vec<String>,
    /// Job steps per training step (rollouts dealt round-robin).
    #[arg(long, value_name = "N", default_value_t = 1, help_heading = "SLURM")]
    pub(crate) slurm_batches: usize,
    /// Relaunches of a job step that left rollouts unevaluated (failed, timed
    /// out, preempted, lost its node) before they count as failures.
    #[arg(long, value_name = "N", default_value_t = 2, help_heading = "SLURM")]
    pub(crate) slurm_retries: u32,
    /// Also start from this solution (a solution file or a record fixture:
    /// JSON with "values"), so the run tries to improve it. Construction
    /// problems; the file must be a valid solution.
    #[arg(long, value_name = "FILE")]
    pub(crate) init: Option<PathBuf>,
    /// Numeric policy on step functions of free length (autocorrelation,
    /// Erdos): proposals may double the start's resolution (a learned
    /// probability) up to this many steps; 0 turns it off [default: 4096, or
    /// the problem's limit if lower].
    #[arg(long, value_name = "N")]
    pub(crate) upsample_to: Option<usize>,
    /// Numeric policy on step functions of free length: proposals from
    /// starts of at least N steps may instead halve the resolution (each pair
    /// of steps averaged; a learned probability, 1/8 at first), which refine
    /// then polishes: a fine record searched from coarser states. Useful with
    /// `--init` on a record of 100,000+ steps [default: off].
    #[arg(long, value_name = "N")]
    pub(crate) downsample_from: Option<usize>,
    /// Numeric policy: after N steps without a new best, refine proposals
    /// with twice the --effort, four times after 2N, up to 8 times, until a
    /// new best is found (a stalled run then spends its time on longer
    /// refines instead of more short ones); 0 turns it off [default: 0].
    #[arg(long, value_name = "N")]
    pub(crate) deepen: Option<u32>,
    /// Print the summary as JSON (and no progress line).
    #[arg(long)]
    pub(crate) json: bool,
    /// At the end, submit the best state to the leaderboard at URL (token:
    /// $DISCOVER_BOARD_TOKEN); the summary gains `submission`.
    #[arg(long, value_name = "URL")]
    pub(crate) submit: Option<String>,
    // Last: their help headings would otherwise also cover the flags after them.
    #[command(flatten)]
    pub(crate) llm: LlmArgs,
    #[command(flatten)]
    pub(crate) train: TrainArgs,
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
    pub(crate) fn writes_programs(self) -> bool {
        matches!(self, PolicyKind::Openai | PolicyKind::Local)
    }
}

/// Flags of the LLM policies (`--policy openai`, `--policy local`).
#[derive(Args, Debug)]
#[command(next_help_heading = "LLM policies (--policy openai | local)")]
pub struct LlmArgs {
    /// openai: the server's base URL, up to /v1.
    #[arg(long, value_name = "URL")]
    pub(crate) base_url: Option<String>,
    /// openai: the model id [default: the first the server lists].
    /// local: the model directory (config.json, tokenizer.json, *.safetensors).
    #[arg(long, value_name = "ID|DIR")]
    pub(crate) model: Option<String>,
    /// openai: the environment variable that holds the API key.
    #[arg(long, value_name = "VAR", default_value = "OPENAI_API_KEY")]
    pub(crate) api_key_env: String,
    /// Sampling temperature (the paper samples at 1).
    #[arg(long, default_value_t = 1.0)]
    pub(crate) temperature: f64,
    /// Nucleus sampling: keep the most likely tokens up to this mass.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) top_p: f64,
    /// Most tokens per completion.
    #[arg(long, default_value_t = 4096)]
    pub(crate) max_tokens: u32,
    /// openai: completions per request (`n`) [default: a group's k in one request].
    #[arg(long)]
    pub(crate) n_per_request: Option<usize>,
    /// openai: requests in flight at once.
    #[arg(long, default_value_t = 8)]
    pub(crate) concurrency: usize,
    /// openai: retries of a failing request (429, 5xx, time-outs, malformed replies).
    #[arg(long, default_value_t = 5)]
    pub(crate) retries: u32,
    /// openai: seconds one request may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 600.0)]
    pub(crate) request_timeout: f64,
    /// openai: seconds before the first retry (doubling each time).
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub(crate) retry_backoff: f64,
    /// Seconds each program has (BUDGET_SECONDS) [default: the problem's budget].
    #[arg(long, value_name = "SECONDS")]
    pub(crate) program_seconds: Option<f64>,
    /// Linear memory all running programs may reserve together, in MiB [default:
    /// half of this machine's memory]. Each program reserves --program-memory
    /// before it starts, so at most budget / program-memory run at once.
    #[arg(long, value_name = "MIB")]
    pub(crate) program_memory_budget: Option<u64>,
    /// Memory of each program, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 2048)]
    pub(crate) program_memory: usize,
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
    pub(crate) fn config(&self, policy: PolicyKind) -> Result<Option<LlmConfig>> {
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
    pub(crate) no_train: bool,
    // The training flags are options so that `--no-train` and other policies
    // can refuse them; their defaults are `LoraConfig::default()` and
    // `TrainConfig::default()` (the paper's).
    /// Rank of the LoRA adapters [default: 32].
    #[arg(long)]
    pub(crate) lora_rank: Option<usize>,
    /// LoRA alpha: the adapters' output is scaled by alpha / rank [default: the rank].
    #[arg(long)]
    pub(crate) lora_alpha: Option<f64>,
    /// Projections that get adapters, comma-separated [default:
    /// q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj].
    #[arg(long, value_delimiter = ',')]
    pub(crate) lora_targets: Option<Vec<String>>,
    /// PPO-clip the importance ratio to [1 - EPS, 1 + EPS] (the paper trains
    /// without clipping; 0.2 is the usual value).
    #[arg(long, value_name = "EPS")]
    pub(crate) clip: Option<f64>,
    /// lambda of the KL shaping toward the base model, added to the token
    /// advantages as lambda (mean d - d_t), d = log q - log p_base [default: 0, off].
    #[arg(long, value_name = "LAMBDA")]
    pub(crate) kl_coef: Option<f64>,
    /// Tokens per forward/backward pass (prompt + rows x longest completion);
    /// gradients are summed over passes into one optimiser step [default: 8192].
    #[arg(long)]
    pub(crate) micro_batch_tokens: Option<usize>,
    /// Save the adapters and optimiser state every this many steps (and after
    /// the last) under the run's checkpoints/.
    #[arg(long, default_value_t = crate::engine::run::default_checkpoint_every())]
    pub(crate) checkpoint_every: u32,
}

/// What `--policy local` trains and how. Stored in config.toml.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    pub lora: discover_llm::LoraConfig,
    pub optimizer: discover_llm::TrainConfig,
}

impl TrainArgs {
    pub(crate) fn config(&self, policy: PolicyKind, lr: Option<f64>) -> Result<Option<TrainSettings>> {
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
pub(crate) fn reuse_parser() -> impl clap::builder::TypedValueParser<Value = Reuse> {
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
    /// `--sigma-spread`; absent: 0 (off: a run started before the spread
    /// existed resumes as it began).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sigma_spread: f64,
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
    /// Contest problems: the case seeds (`--cases`); absent means 0..150.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cases: Option<Vec<u64>>,
    /// The packs (`--pack`) the problem may come from, as absolute paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packs: Vec<std::path::PathBuf>,
    /// `--init FILE`, as an absolute path (the run's buffer holds it from the start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<std::path::PathBuf>,
    /// Where rollouts run (`--executor`); absent: threads here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<super::slurm::ExecutorConfig>,
    /// `--upsample-to`; absent: the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upsample_to: Option<usize>,
    /// `--downsample-from`; absent or 0: off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downsample_from: Option<usize>,
    /// `--deepen`; absent or 0: off.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub deepen: u32,
}

impl RunArgs {
    fn executor_config(&self) -> Result<Option<super::slurm::ExecutorConfig>> {
        use super::slurm::{ExecutorConfig, ExecutorKind};
        let slurm_flags = self.slurm_partition.is_some()
            || self.slurm_account.is_some()
            || self.slurm_time.is_some()
            || self.slurm_gpus.is_some()
            || self.slurm_gres.is_some()
            || !self.slurm_extra.is_empty();
        if self.executor == ExecutorKind::Local {
            if slurm_flags {
                bail!("the --slurm-* options need --executor slurm");
            }
            return Ok(None);
        }
        if self.slurm_batches == 0 || self.slurm_cpus == 0 {
            bail!("--slurm-batches and --slurm-cpus must be at least 1");
        }
        Ok(Some(ExecutorConfig {
            kind: self.executor,
            partition: self.slurm_partition.clone(),
            account: self.slurm_account.clone(),
            time: self.slurm_time.clone(),
            cpus: self.slurm_cpus,
            gpus: self.slurm_gpus,
            gres: self.slurm_gres.clone(),
            extra: self.slurm_extra.clone(),
            batches: self.slurm_batches,
            retries: self.slurm_retries,
        }))
    }

    /// Check the flags together and turn them into a config.
    pub(crate) fn config(&self) -> Result<RunConfig> {
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
        if let Some(tau) = self.sigma_spread {
            if !(tau.is_finite() && (0.0..=5.0).contains(&tau)) {
                bail!("--sigma-spread must be in [0, 5], got {tau}");
            }
            if self.policy != PolicyKind::Numeric {
                bail!("--sigma-spread is a setting of the numeric policy, not of --policy {:?}", self.policy);
            }
        }
        if self.downsample_from.is_some_and(|n| n > 0) && self.policy != PolicyKind::Numeric {
            bail!("--downsample-from is a setting of the numeric policy, not of --policy {:?}", self.policy);
        }
        if self.deepen.is_some_and(|n| n > 0) && self.policy != PolicyKind::Numeric {
            bail!("--deepen is a setting of the numeric policy, not of --policy {:?}", self.policy);
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
            stall_limit_seconds: self.stall_limit,
            checkpoint_every: self.train.checkpoint_every,
        };
        settings.check()?;
        let lr = if self.policy == PolicyKind::Local { 0.1 } else { self.lr.unwrap_or(0.1) };
        let cases = self.cases.as_deref().map(crate::cli::contest::parse_cases).transpose()?;
        Ok(RunConfig {
            problem,
            policy: self.policy,
            effort: self.effort,
            sigma: self.sigma,
            sigma_spread: match self.policy {
                PolicyKind::Numeric => self.sigma_spread.unwrap_or(crate::policy::numeric::DEFAULT_SPREAD),
                _ => 0.0,
            },
            lr,
            best_known: None,
            llm,
            train,
            settings,
            cases,
            init: self.init.as_deref().map(|p| std::fs::canonicalize(p).with_context(|| format!("--init {}", p.display()))).transpose()?,
            executor: self.executor_config()?,
            packs: Vec::new(),
            upsample_to: self.upsample_to,
            downsample_from: self.downsample_from,
            deepen: self.deepen.unwrap_or(0),
        })
    }
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

fn is_zero_u32(x: &u32) -> bool {
    *x == 0
}
