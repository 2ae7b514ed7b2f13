//! `cargo xtask`: developer tasks for the discover workspace.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};
use xtask::{GuestBuild, BUILTIN_PROBLEMS, TEST_GUESTS};

const HELP: &str = "\
cargo xtask <task>

Tasks:
  build-guests [--out DIR]        Build every built-in problem (and the test guests)
                                  into Wasm components in DIR [default: target/components]
  build-problem CRATE [--out DIR] Build a problem crate written with discover-guest into
                                  a component, DIR/<crate_name>.wasm [default: .]
  bench verify                    Time the Wasm verifiers against the same Rust compiled
                                  natively (circle-packing-26, AC1 with 30000 steps)
  bench ablation [--seeds N] [--scale F] [--problem ID]
                                  Median best score of entropic/mean x PUCT/none and
                                  random restarts at an equal rollout budget
  bench python [--workers N] [--trivial N] [--numpy N]
                                  Python candidates in the sandbox against native python3:
                                  start time, candidates/s, peak memory (after `setup`)
  bench llm [--tokens N] [--prompt N]
                                  Sampling throughput (tokens/s) of the local LLM runtime
                                  on random-weight models, 1/4/16 completions at once
  setup [--wheel FILE] [--force]  Fetch and compile the Python sandbox runtime into the
                                  cache (runs `discover setup`; once per machine)
  toolchain                       Say which wasm32 toolchain guests are built with

Guests build with the rustup target wasm32-unknown-unknown when it is installed,
otherwise with Debian's rustc-web + rust-web-src + lld-19 (-Zbuild-std).";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The value after `--out`, if given.
fn out_dir(args: &[String], default: PathBuf) -> Result<PathBuf> {
    match args.iter().position(|a| a == "--out") {
        Some(i) => args.get(i + 1).map(PathBuf::from).context("--out needs a directory"),
        None => Ok(default),
    }
}

fn run(args: &[String]) -> Result<()> {
    let root = workspace();
    match args.first().map(String::as_str) {
        Some("build-guests") => {
            let out = out_dir(args, root.join("target/components"))?;
            let build = GuestBuild::for_workspace(&root);
            for package in BUILTIN_PROBLEMS.iter().chain(TEST_GUESTS) {
                let path = build.build(package, &out)?;
                println!("{}", path.display());
            }
            Ok(())
        }
        Some("build-problem") => {
            let Some(krate) = args.get(1).filter(|a| !a.starts_with("--")) else {
                bail!("usage: cargo xtask build-problem CRATE_DIR [--out DIR]");
            };
            let krate = std::fs::canonicalize(krate).with_context(|| format!("no crate at {krate}"))?;
            let out = out_dir(args, std::env::current_dir()?)?;
            let path = GuestBuild::for_workspace(&root).build(krate.to_str().unwrap(), &out)?;
            println!("{}", path.display());
            Ok(())
        }
        Some("bench") if matches!(args.get(1).map(String::as_str), Some("verify" | "ablation" | "python" | "llm")) => {
            let status = Command::new(env!("CARGO"))
                .current_dir(&root)
                .args(["bench", "--quiet", "--package", "discover", "--bench", &args[1], "--"])
                .args(&args[2..])
                .status()?;
            if !status.success() {
                bail!("the benchmark failed ({status})");
            }
            Ok(())
        }
        Some("setup") => {
            // The debug profile: the same build `cargo test` uses, so CI compiles
            // wasmtime once. Dependencies are optimised even there (Cargo.toml).
            let status = Command::new(env!("CARGO"))
                .current_dir(&root)
                .args(["run", "--quiet", "--locked", "--package", "discover", "--", "setup"])
                .args(&args[1..])
                .status()?;
            if !status.success() {
                bail!("discover setup failed ({status})");
            }
            Ok(())
        }
        Some("toolchain") => {
            let toolchain = xtask::Toolchain::detect(Path::new(env!("CARGO")))?;
            println!("{toolchain:?}");
            Ok(())
        }
        Some("help" | "--help" | "-h") | None => {
            println!("{HELP}");
            Ok(())
        }
        Some(other) => bail!("unknown task `{other}`\n\n{HELP}"),
    }
}
