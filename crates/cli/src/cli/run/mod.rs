//! `discover run`, `discover resume` and `discover report`: a discovery run from
//! the command line. Flags resolve to settings (`settings`), the settings build
//! the policy and the sandboxes (`factory`), the run is driven here, and the
//! summary (`summary`) closes it.

mod factory;
mod settings;
pub(crate) mod slurm;
mod summary;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use serde_json::json;

use crate::engine::event::ErrorEvent;
use crate::engine::rundir::write_atomic;
use crate::engine::{Event, Run, RunDir, State};

use std::sync::Arc;

use crate::engine::Environment;
use crate::problem::{solution_json, Loaded, Problem};
use crate::report;
use crate::rollout::contest::ContestEnv;
use crate::rollout::plugin::PluginEnv;
use crate::rollout::ProblemEnv;
use crate::prompt::Language;
use factory::Prompt;
use super::pack::{Catalog, Resolved};

use super::contest;
use crate::sandbox::Sandbox;

use crate::cli::progress::{self, Progress};
pub use settings::{RunArgs, RunConfig};
pub use summary::{report, Summary};
use summary::print_summary;

pub(crate) fn run(catalog: &Catalog, cache_dir: Option<&Path>, args: RunArgs) -> Result<ExitCode> {
    let mut config = args.config()?;
    config.packs = catalog.pack_dirs();
    let problem = catalog.resolve(&config.problem, None)?;
    check_fits(&problem, &config)?;
    config.best_known = problem.spec().best_known.as_ref().map(|b| b.value);
    let out = args.out.clone().unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        PathBuf::from("runs").join(format!("{}-{}-{now}", problem.spec().id, config.settings.seed))
    });
    let dir = RunDir::create(&out)?;
    dir.write_config(&toml::to_string(&config).context("writing config.toml")?)?;
    drive(&problem, &config, &dir, cache_dir, None, args.json, args.submit.as_deref())
}

pub fn resume(
    sandbox: &Sandbox,
    cache_dir: Option<&Path>,
    unsafe_native: bool,
    root: &Path,
    json: bool,
    base_url: Option<String>,
) -> Result<ExitCode> {
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
    let catalog = Catalog::open(sandbox, &config.packs, cache_dir, unsafe_native)
        .with_context(|| format!("opening the packs {} recorded", dir.path("config.toml").display()))?;
    let problem = catalog.resolve(&config.problem, Some(dir.path("plugin.log")))?;
    drive(&problem, &config, &dir, cache_dir, checkpoint, json, None)
}

/// What a run's config builds for its problem: the environment (inside a
/// [`Subject`]), the language programs are written in, and the prompt. The
/// run and `discover evaluate-batch` build the same one.
pub(crate) fn build<'a>(
    problem: &'a Resolved,
    config: &RunConfig,
    cache_dir: Option<&Path>,
    plugin_log: &Path,
) -> Result<(Subject<'a>, Language, Prompt)> {
    let spec = problem.spec();
    let workers = config.settings.workers;
    Ok(match problem {
        Resolved::Wasm(Loaded::Construction(problem)) => {
            let mut env = ProblemEnv::new(Arc::new(problem.clone()), config.effort);
            if let Some(llm) = &config.llm {
                env = env.with_programs(llm.programs(spec, cache_dir, workers)?);
            }
            (Subject::Construction { problem, env }, factory::python_language(spec), Prompt::Construction)
        }
        Resolved::Wasm(Loaded::Contest(problem)) => {
            let cases = config.cases.clone().unwrap_or_else(|| contest::DEFAULT_CASES.collect());
            let runner = contest::runner(problem.clone(), cache_dir, cases, workers, false, false)?;
            let language = factory::contest_language(&runner);
            (Subject::Contest { env: ContestEnv { runner: Arc::new(runner) } }, language, Prompt::Contest)
        }
        Resolved::Plugin(problem) => {
            // The plugin's stderr belongs with the run from here on.
            problem.plugin.log_to(plugin_log).with_context(|| format!("opening {}", plugin_log.display()))?;
            let language = Language::new(&problem.spec.language, problem.spec.contract.clone());
            let prompt = Prompt::Plugin { environment: problem.spec.environment.clone() };
            (Subject::Plugin { env: PluginEnv::new(problem.clone(), config.settings.seed) }, language, prompt)
        }
    })
}

/// `discover evaluate-batch DIR --part K --parts N`: on a node, evaluate the
/// rollouts `i % N == K` of a batch that have no result yet, each result
/// written atomically as soon as it is known.
pub fn evaluate_batch(
    sandbox: &Sandbox,
    cache_dir: Option<&Path>,
    unsafe_native: bool,
    dir: &Path,
    part: usize,
    parts: usize,
) -> Result<ExitCode> {
    if parts == 0 || part >= parts {
        bail!("--part must be below --parts ({part} of {parts})");
    }
    let path = dir.join("batch.json");
    let batch: slurm::BatchFile = serde_json::from_slice(&std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?)
        .with_context(|| format!("{} is damaged", path.display()))?;
    let run_dir = RunDir::open(&batch.run_dir)?;
    let config = RunConfig::read(&run_dir)?;
    let catalog = Catalog::open(sandbox, &config.packs, cache_dir, unsafe_native)?;
    let log = dir.join(format!("plugin-{part}.log"));
    let problem = catalog.resolve(&config.problem, Some(log.clone()))?;
    let (subject, _, _) = build(&problem, &config, cache_dir, &log)?;
    let env = subject.env();
    let todo: Vec<&slurm::BatchRollout> =
        batch.rollouts.iter().filter(|r| r.index % parts == part && !slurm::result_path(dir, r.index).exists()).collect();
    let workers = std::env::var("SLURM_CPUS_PER_TASK").ok().and_then(|v| v.parse().ok()).unwrap_or(config.settings.workers).max(1);
    let node = std::env::var("SLURMD_NODENAME").ok();
    let written = crate::engine::parallel::map_ordered(&todo, workers, |_, r| -> Result<()> {
        let t = std::time::Instant::now();
        let outcome = env.execute(&r.start, &r.action);
        let result = slurm::BatchResult { outcome, seconds: t.elapsed().as_secs_f64(), node: node.clone() };
        write_atomic(&slurm::result_path(dir, r.index), serde_json::to_string(&result)?.as_bytes())
    });
    for w in written {
        w?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `--init FILE`: a valid solution of a construction problem, as a state the
/// buffer starts with.
fn init_seed(problem: &Resolved, path: &Path) -> Result<crate::engine::Seed> {
    let Resolved::Wasm(Loaded::Construction(problem)) = problem else {
        bail!("--init takes a solution file, for construction problems; {} takes programs", problem.spec().id);
    };
    let solution = crate::problem::read_solution_file(path)?;
    let verdict = problem.evaluate(&solution).with_context(|| format!("evaluating --init {}", path.display()))?;
    match verdict.score {
        Some(score) if verdict.valid => Ok(crate::engine::Seed {
            source: path.display().to_string(),
            state: crate::engine::Evaluated::new(solution, score),
        }),
        _ => bail!(
            "--init {} is not a valid solution of {}: {}",
            path.display(),
            problem.spec().id,
            verdict.reason.as_deref().unwrap_or("invalid")
        ),
    }
}

/// A contest or plugin problem takes programs: only LLM policies write them;
/// only a contest problem has cases.
fn check_fits(problem: &Resolved, config: &RunConfig) -> Result<()> {
    match problem {
        Resolved::Plugin(p) if !config.policy.writes_programs() => bail!(
            "--policy {} proposes vectors of numbers, but {} is a plugin problem whose solutions are programs; \
             use --policy openai or --policy local",
            config.policy.to_possible_value().map_or(String::new(), |v| v.get_name().to_string()),
            p.spec.spec.id
        ),
        Resolved::Plugin(p) if config.cases.is_some() => {
            bail!("--cases applies to contest problems; {} is a plugin problem", p.spec.spec.id)
        }
        Resolved::Plugin(_) => Ok(()),
        Resolved::Wasm(problem) => check_fits_wasm(problem, config),
    }
}

fn check_fits_wasm(problem: &Loaded, config: &RunConfig) -> Result<()> {
    match problem {
        Loaded::Contest(p) if !config.policy.writes_programs() => bail!(
            "--policy {} proposes vectors of numbers, but {} is a contest problem whose solutions are programs; \
             use --policy openai or --policy local",
            config.policy.to_possible_value().map_or(String::new(), |v| v.get_name().to_string()),
            p.spec().id
        ),
        Loaded::Construction(p) if config.cases.is_some() => {
            bail!("--cases applies to contest problems; {} is a construction problem", p.spec().id)
        }
        _ => Ok(()),
    }
}

/// What a run drives: the environment and how it records its best state.
pub(crate) enum Subject<'a> {
    Construction { problem: &'a Problem, env: ProblemEnv },
    Contest { env: ContestEnv },
    Plugin { env: PluginEnv },
}

impl Subject<'_> {
    pub(crate) fn env(&self) -> &dyn Environment {
        match self {
            Subject::Construction { env, .. } => env,
            Subject::Contest { env } => env,
            Subject::Plugin { env } => env,
        }
    }

    fn write_best(&self, dir: &RunDir, best: &State) -> Result<()> {
        match self {
            Subject::Construction { problem, .. } => write_best(problem, dir, best),
            Subject::Contest { env } => write_best_program(env, dir, best),
            Subject::Plugin { env } => write_best_plugin(env, dir, best),
        }
    }
}

/// Run steps until the run is finished, keeping `best/` and the progress line
/// up to date; then plots and the summary.
pub(crate) fn drive(
    problem: &Resolved,
    config: &RunConfig,
    dir: &RunDir,
    cache_dir: Option<&Path>,
    checkpoint: Option<crate::engine::Checkpoint>,
    json: bool,
    submit: Option<&str>,
) -> Result<ExitCode> {
    let spec = problem.spec();
    let (subject, language, prompt) = build(problem, config, cache_dir, &dir.path("plugin.log"))?;
    let env = subject.env();
    let mut policy = config.policy(spec, language, prompt)?;
    let trains = policy.trains();
    if !trains && config.policy.writes_programs() && !json {
        eprintln!("note: --policy {} samples only: a frozen policy searching with reuse (no test-time training)", policy.name());
    }
    let settings = config.settings.clone();
    let mut run = match checkpoint {
        Some(c) => Run::resume(settings, spec.direction, env, policy.as_mut(), Some(dir), c)?,
        None => {
            let seeds = match &config.init {
                Some(path) => vec![init_seed(problem, path)?],
                None => Vec::new(),
            };
            Run::start_seeded(settings, spec.direction, env, policy.as_mut(), Some(dir), seeds)?
        }
    };
    let executor = match &config.executor {
        Some(e) if e.kind == slurm::ExecutorKind::Slurm => Some(slurm::SlurmExecutor::new(dir.root(), e, cache_dir)?),
        _ => None,
    };
    if let Some(executor) = &executor {
        run = run.with_executor(executor);
    }
    subject.write_best(dir, run.buffer.best())?;
    let progress = Progress::steps(progress::enabled(json), config.settings.steps, run.step, config.best_known);
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
            subject.write_best(dir, run.buffer.best())?;
        }
        progress.step(&report);
    }
    progress.done();
    if run.stalled() && !json {
        eprintln!(
            "stopped: no new best state for {:.0} s of run time (--stall-limit)",
            run.seconds_since_best()
        );
    }
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
        best_solution: dir.path(&match problem {
            Resolved::Wasm(Loaded::Construction(_)) => "best/solution.json".to_string(),
            Resolved::Wasm(Loaded::Contest(_)) => "best/program.cpp".to_string(),
            Resolved::Plugin(p) => format!("best/program.{}", extension(&p.spec.language)),
        }),
        policy: Some(policy_name.to_string()),
        trained: Some(trains),
        policy_files: run.policy_files.as_ref().map(|f| dir.path(f)),
        model: config.llm.as_ref().and_then(|l| l.model_dir.clone()),
        curves: None,
        submission: None,
    };
    let mut summary = summary;
    if let Some(url) = submit {
        let id = crate::cli::board::submit_best(url, &spec.id, &summary.best_solution).with_context(|| {
            format!("the run finished ({}), but submitting its best state to {url} failed", dir.root().display())
        })?;
        summary.submission = Some(format!("{}/submissions/{id}", url.trim_end_matches('/')));
    }
    if json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print_summary(&summary);
    }
    Ok(ExitCode::SUCCESS)
}

/// `best/solution.json` (what `discover verify` reads), `best/verdict.json` (the
/// verifier's judgement, re-run now), `best/picture.svg` where the problem draws.
pub(crate) fn write_best(problem: &Problem, dir: &RunDir, best: &State) -> Result<()> {
    write_atomic(&dir.path("best/solution.json"), solution_json(&best.solution).as_bytes())?;
    let verdict = problem.evaluate(&best.solution).context("re-verifying the best state")?;
    let record = json!({
        "valid": verdict.valid,
        "score": verdict.score,
        "reason": verdict.reason,
        "metrics": crate::cli::output::metrics_list(&verdict),
        "state": {"id": best.id, "parent": best.parent, "step": best.step},
    });
    write_atomic(&dir.path("best/verdict.json"), serde_json::to_string_pretty(&record)?.as_bytes())?;
    if let Some(svg) = problem.render_svg(&best.solution)? {
        write_atomic(&dir.path("best/picture.svg"), svg.as_bytes())?;
    }
    Ok(())
}

/// A contest run's best state: `best/program.cpp` (or the program's language),
/// `best/report.json` (its evaluation: every case, re-read from the memo, so
/// not run again) and `best/solution.json` (the program and its case scores).
fn write_best_program(env: &ContestEnv, dir: &RunDir, best: &State) -> Result<()> {
    let source = best.solution.text.as_deref().context("a contest state holds its program")?;
    let language = env.runner.problem().starter.as_ref().map_or("cpp", |s| s.language.as_str());
    let report = env.runner.evaluate(language, source).context("re-evaluating the best program")?;
    write_atomic(&dir.path(&format!("best/program.{language}")), source.as_bytes())?;
    write_atomic(&dir.path("best/report.json"), serde_json::to_string_pretty(&*report)?.as_bytes())?;
    write_atomic(&dir.path("best/solution.json"), solution_json(&best.solution).as_bytes())?;
    Ok(())
}

/// A file extension for programs in `language`.
fn extension(language: &str) -> &str {
    match language {
        "python" => "py",
        "cpp" => "cpp",
        "cuda" => "cu",
        other => other,
    }
}

/// A plugin run's best state: `best/program.<ext>` and `best/verdict.json`
/// (the plugin's verdict on it: remembered from its evaluation, or measured
/// again after a resume).
fn write_best_plugin(env: &PluginEnv, dir: &RunDir, best: &State) -> Result<()> {
    let source = best.solution.text.as_deref().context("a plugin state holds its program")?;
    let language = env.problem.spec.language.clone();
    let (verdict, answer) = env.evaluate(&language, source).map_err(|f| anyhow::anyhow!("re-evaluating the best program: {}", f.message))?;
    write_atomic(&dir.path(&format!("best/program.{}", extension(&language))), source.as_bytes())?;
    let record = json!({
        "valid": verdict.valid,
        "score": verdict.score,
        "reason": verdict.reason,
        "metrics": crate::cli::output::metrics_list(&verdict),
        "output": answer.output,
        "state": {"id": best.id, "parent": best.parent, "step": best.step},
    });
    write_atomic(&dir.path("best/verdict.json"), serde_json::to_string_pretty(&record)?.as_bytes())?;
    Ok(())
}
