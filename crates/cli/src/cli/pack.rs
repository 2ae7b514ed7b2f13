//! Problem packs on the command line: `--pack DIR` (problems beside the
//! built-ins), `discover pack check|new|install`, and `discover isolate` (how
//! plugins run native candidates).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use crate::candidate::native::{self, Isolation, NativeJob};
pub(crate) use crate::rollout::catalog::{Catalog, Resolved};
use crate::plugin::ProblemKind;
use crate::problem::Loaded;
use crate::sandbox::Sandbox;

#[derive(Subcommand, Debug)]
pub(crate) enum PackAction {
    /// Check a pack: its manifest, each problem's spec, and that each problem's
    /// starting state (or program) evaluates.
    Check {
        /// The pack's folder.
        dir: PathBuf,
        /// Print one JSON object per problem.
        #[arg(long)]
        json: bool,
    },
    /// Write a working pack skeleton to start from.
    New {
        /// The pack's name (lowercase letters, digits, dashes); also its folder.
        name: String,
        /// A native plugin (Python) or a Wasm component problem.
        #[arg(long, value_enum, default_value_t = NewKind::Plugin)]
        kind: NewKind,
        /// Where to write it [default: ./NAME].
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Install the Python packages a pack's plugins need (pip, into the pack's
    /// runtime folder; candidates see it read-only).
    Install {
        /// The pack's folder.
        dir: PathBuf,
        /// Reinstall even when the same packages are already installed.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum NewKind {
    Plugin,
    Component,
}

pub(crate) fn pack(sandbox: &Sandbox, cache_dir: Option<&Path>, unsafe_native: bool, action: PackAction) -> Result<ExitCode> {
    match action {
        PackAction::Check { dir, json } => check(sandbox, cache_dir, unsafe_native, &dir, json),
        PackAction::New { name, kind, dir } => new(&name, kind, dir),
        PackAction::Install { dir, force } => install(sandbox, cache_dir, &dir, force),
    }
}

fn check(sandbox: &Sandbox, cache_dir: Option<&Path>, unsafe_native: bool, dir: &Path, json: bool) -> Result<ExitCode> {
    let catalog = Catalog::open(sandbox, &[dir.to_path_buf()], cache_dir, unsafe_native)?;
    let pack = &catalog.packs[0];
    if !json {
        println!("pack {} {} ({} problems): manifest ok", pack.name(), pack.manifest.version, pack.manifest.problems.len());
    }
    let mut failed = 0;
    for problem in &pack.manifest.problems {
        let start = Instant::now();
        let result = check_problem(&catalog, &problem.id);
        let seconds = start.elapsed().as_secs_f64();
        match &result {
            Ok((kind, what)) if json => println!("{}", json!({"problem": problem.id, "kind": kind, "ok": true, "detail": what, "seconds": seconds})),
            Ok((kind, what)) => println!("ok    {}  {kind}  {what} ({seconds:.1} s)", problem.id),
            Err(e) if json => println!("{}", json!({"problem": problem.id, "ok": false, "error": format!("{e:#}"), "seconds": seconds})),
            Err(e) => println!("FAIL  {}  {e:#}", problem.id),
        }
        failed += result.is_err() as usize;
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Load a problem and evaluate its starting point.
fn check_problem(catalog: &Catalog, id: &str) -> Result<(&'static str, String)> {
    let resolved = catalog.resolve(id, None)?;
    let kind = resolved.kind();
    let what = match &resolved {
        Resolved::Wasm(Loaded::Construction(p)) => {
            let initial = p.initial(0).context("initial(0)")?;
            let verdict = p.evaluate(&initial).context("evaluating initial(0)")?;
            if !verdict.valid {
                bail!("initial(0) is invalid: {}", verdict.reason.unwrap_or_default());
            }
            format!("initial(0) valid, score {}", verdict.score.unwrap_or(f64::NAN))
        }
        Resolved::Wasm(Loaded::Contest(p)) => {
            let input = p.generate(0).context("generate(0)")?;
            format!("generate(0) gave {} bytes{}", input.len(), if p.starter.is_some() { "; starter program present" } else { "" })
        }
        Resolved::Plugin(p) => {
            let program = p.plugin.initial(0)?;
            let (verdict, answer) = p.evaluate(&program, 0)?;
            if !verdict.valid {
                bail!(
                    "the initial program is invalid: {}{}",
                    verdict.reason.unwrap_or_default(),
                    if answer.output.is_empty() { String::new() } else { format!(" (output: {})", answer.output.trim()) }
                );
            }
            format!("initial program valid, score {}", verdict.score.unwrap_or(f64::NAN))
        }
    };
    Ok((kind, what))
}

fn install(sandbox: &Sandbox, cache_dir: Option<&Path>, dir: &Path, force: bool) -> Result<ExitCode> {
    let catalog = Catalog::open(sandbox, &[dir.to_path_buf()], cache_dir, false)?;
    let pack = &catalog.packs[0];
    let mut wanted: Vec<String> = Vec::new();
    for p in &pack.manifest.problems {
        if let ProblemKind::Plugin { needs, .. } = &p.kind {
            for req in &needs.python {
                if !wanted.contains(req) {
                    wanted.push(req.clone());
                }
            }
        }
    }
    if wanted.is_empty() {
        eprintln!("pack {} needs no Python packages", pack.name());
        return Ok(ExitCode::SUCCESS);
    }
    let target = catalog.runtime_dir(pack);
    let marker = target.join(".discover-installed");
    let record = wanted.join("\n");
    if !force && std::fs::read_to_string(&marker).ok().as_deref() == Some(record.as_str()) {
        eprintln!("pack {}: {} already installed in {} (--force reinstalls)", pack.name(), wanted.join(" "), target.display());
        return Ok(ExitCode::SUCCESS);
    }
    std::fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
    // Candidates run as another user (nobody, on a root host): every folder
    // down to the packages must be readable and searchable by others.
    use std::os::unix::fs::PermissionsExt;
    for dir in target.ancestors().take(3) {
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
    }
    eprintln!("installing {} into {}", wanted.join(" "), target.display());
    let status = Command::new(crate::rollout::catalog::python_interpreter())
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade", "--target"])
        .arg(&target)
        .args(&wanted)
        .status()
        .context("cannot run pip (python3 -m pip)")?;
    if !status.success() {
        bail!("pip could not install {} ({status})", wanted.join(" "));
    }
    crate::contract::fs::write_atomic(&marker, record.as_bytes())?;
    eprintln!("installed; plugins of pack {} see them, and so do their candidates (read-only)", pack.name());
    Ok(ExitCode::SUCCESS)
}

fn new(name: &str, kind: NewKind, dir: Option<PathBuf>) -> Result<ExitCode> {
    if !crate::plugin::pack::is_id(name) {
        bail!("the pack name {name:?} must be lowercase letters, digits and dashes");
    }
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    if dir.exists() {
        bail!("{} already exists; choose another name or --dir", dir.display());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let files: Vec<(String, String)> = match kind {
        NewKind::Plugin => skeleton::plugin(name),
        NewKind::Component => skeleton::component(name),
    };
    for (rel, text) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some((rel, bytes)) = skeleton::component_binary(name, kind) {
        std::fs::write(dir.join(&rel), bytes).with_context(|| format!("writing {rel}"))?;
    }
    eprintln!("wrote pack {name} to {}; check it with `discover pack check {}`", dir.display(), dir.display());
    Ok(ExitCode::SUCCESS)
}

/// `discover isolate`: run one native job in the sandbox, relaying its stdout
/// and writing the launcher's report where the program cannot reach.
#[derive(Args, Debug)]
pub(crate) struct IsolateArgs {
    /// The job: JSON with argv, files, copy, read_only, devices, env, lock, limits.
    #[arg(long, value_name = "FILE")]
    job: PathBuf,
    /// Where the report goes (JSON) [default: the last line of stderr].
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

pub(crate) fn isolate(args: IsolateArgs, unsafe_native: bool) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.job).with_context(|| format!("reading the job {}", args.job.display()))?;
    let job: NativeJob = serde_json::from_str(&text).with_context(|| format!("{} is not a native job", args.job.display()))?;
    let isolation = if unsafe_native {
        Isolation::Unsafe
    } else {
        native::probe().map_err(|why| anyhow!(native::refusal(&why)))?;
        Isolation::Bubblewrap
    };
    let report = native::run(&job, isolation, std::process::Stdio::inherit(), Box::new(std::io::stdout()))?;
    let line = serde_json::to_string(&report)?;
    match &args.report {
        Some(path) => crate::contract::fs::write_atomic(path, line.as_bytes())?,
        None => {
            let mut err = std::io::stderr().lock();
            writeln!(err, "{line}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

mod skeleton {
    use super::NewKind;

    pub fn plugin(name: &str) -> Vec<(String, String)> {
        let manifest = format!(
            r#"# A problem pack: `discover problems --pack .` lists it, `discover pack check .` tests it.
name = "{name}"
version = "0.1.0"
description = "A native plugin problem written with the discover_plugin helper"

[[problems]]
id = "{name}"
kind = "plugin"
run = "plugin.py"
workers = 1
[problems.needs]
gpu = "none"
python = []
"#
        );
        let plugin = PLUGIN_TEMPLATE.replace("{name}", name);
        vec![("pack.toml".into(), manifest), ("plugin.py".into(), plugin)]
    }

    /// A pack with one Wasm component problem (`spread-points`): the compiled
    /// component, so the pack checks and runs at once, and its Rust source to
    /// edit and rebuild.
    pub fn component(name: &str) -> Vec<(String, String)> {
        let (_, source) = crate::problem::builtin::template();
        let manifest = format!(
            r#"# A problem pack: `discover problems --pack .` lists it, `discover pack check .` tests it.
name = "{name}"
version = "0.1.0"
description = "A Wasm component problem"

[[problems]]
# The id must be the one the component's spec gives (src/lib.rs).
id = "spread-points"
kind = "component"
path = "spread_points.wasm"
"#
        );
        // Where this binary was built from: the SDK the problem depends on.
        let sdk = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guest-sdk");
        let sdk = sdk.canonicalize().unwrap_or(sdk);
        let cargo = format!(
            "[package]\nname = \"spread-points\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [dependencies]\n# The discover guest SDK (guest-sdk/ in a checkout of discover).\n\
             discover-guest = {{ path = {:?} }}\n\n[workspace]\n",
            sdk.display().to_string()
        );
        let readme = format!(
            "# {name}\n\nA problem pack with one Wasm component problem, `spread-points` (`problem/src/lib.rs`).\n\n\
             ```sh\ndiscover pack check .\ndiscover run spread-points --pack . --steps 20\n```\n\n\
             After editing `problem/src/lib.rs` (keep the spec's id equal to the id in pack.toml), rebuild the \
             component from a checkout of discover:\n\n\
             ```sh\ncargo xtask build-problem path/to/this/pack/problem --out path/to/this/pack\n```\n"
        );
        vec![
            ("pack.toml".into(), manifest),
            ("problem/Cargo.toml".into(), cargo),
            ("problem/src/lib.rs".into(), source.to_string()),
            ("README.md".into(), readme),
        ]
    }

    /// The compiled component of a component skeleton.
    pub fn component_binary(_name: &str, kind: NewKind) -> Option<(String, Vec<u8>)> {
        match kind {
            NewKind::Component => Some(("spread_points.wasm".into(), crate::problem::builtin::template().0.to_vec())),
            NewKind::Plugin => None,
        }
    }

    const PLUGIN_TEMPLATE: &str = include_str!("pack_template_plugin.py");
}
