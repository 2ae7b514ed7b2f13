//! Problem packs on the command line: `--pack DIR` (problems beside the
//! built-ins), `discover pack check|new|install`, and `discover isolate` (how
//! plugins run native candidates).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use crate::candidate::native::{self, Isolation, NativeJob};
use crate::plugin::{Gpu, Pack, PluginConfig, PluginProblem, ProblemKind};
use crate::problem::{builtin, is_path, Loaded, Spec};
use crate::sandbox::Sandbox;

/// A problem by whatever serves it.
pub(crate) enum Resolved {
    /// A Wasm component (built-in, a path, or a pack's).
    Wasm(Loaded),
    /// A native plugin from a pack.
    Plugin(Arc<PluginProblem>),
}

impl Resolved {
    pub(crate) fn spec(&self) -> &Spec {
        match self {
            Resolved::Wasm(l) => l.spec(),
            Resolved::Plugin(p) => &p.spec.spec,
        }
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Resolved::Wasm(l) => l.world().name(),
            Resolved::Plugin(_) => "plugin",
        }
    }
}

/// The built-in problems and those of the packs named with `--pack`.
pub(crate) struct Catalog<'a> {
    pub sandbox: &'a Sandbox,
    pub packs: Vec<Pack>,
    cache_root: PathBuf,
    pub unsafe_native: bool,
}

impl<'a> Catalog<'a> {
    pub(crate) fn open(sandbox: &'a Sandbox, dirs: &[PathBuf], cache_dir: Option<&Path>, unsafe_native: bool) -> Result<Catalog<'a>> {
        let cache_root = match cache_dir {
            Some(d) => d.to_path_buf(),
            None => crate::cache_dir().ok_or_else(|| anyhow!("no cache directory: set DISCOVER_CACHE_DIR or HOME"))?,
        };
        let mut packs: Vec<Pack> = Vec::new();
        for dir in dirs {
            let pack = Pack::open(dir)?;
            for p in &pack.manifest.problems {
                if builtin::component(&p.id).is_some() {
                    bail!("pack {} names problem {}, which is a built-in; give it another id", pack.name(), p.id);
                }
                if let Some(other) = packs.iter().find(|o| o.problem(&p.id).is_some()) {
                    bail!("problem {} is in two packs: {} and {}", p.id, other.name(), pack.name());
                }
            }
            packs.push(pack);
        }
        Ok(Catalog { sandbox, packs, cache_root, unsafe_native })
    }

    /// The canonical folders of the packs (what a run's config records).
    pub(crate) fn pack_dirs(&self) -> Vec<PathBuf> {
        self.packs.iter().map(|p| p.root().to_path_buf()).collect()
    }

    /// Every problem id, built-ins first, with its pack.
    pub(crate) fn ids(&self) -> Vec<(String, Option<&Pack>)> {
        let mut ids: Vec<(String, Option<&Pack>)> = builtin::ids().map(|id| (id.to_string(), None)).collect();
        for pack in &self.packs {
            ids.extend(pack.manifest.problems.iter().map(|p| (p.id.clone(), Some(pack))));
        }
        ids
    }

    /// A built-in id, a pack's problem id, or a component path. A plugin's
    /// stderr goes to `log` (else to the cache's `logs/`).
    pub(crate) fn resolve(&self, name: &str, log: Option<PathBuf>) -> Result<Resolved> {
        if builtin::component(name).is_some() || (is_path(name) && !self.packs.iter().any(|p| p.problem(name).is_some())) {
            return Ok(Resolved::Wasm(Loaded::load(self.sandbox, name)?));
        }
        let Some(pack) = self.packs.iter().find(|p| p.problem(name).is_some()) else {
            let packs: Vec<String> =
                self.packs.iter().flat_map(|p| p.manifest.problems.iter().map(move |q| format!("{} ({})", q.id, p.name()))).collect();
            bail!(
                "unknown problem `{name}`; built-in problems: {}{} (or give a path to a .wasm component, or a pack with --pack DIR)",
                builtin::ids().collect::<Vec<_>>().join(", "),
                if packs.is_empty() { String::new() } else { format!("; from packs: {}", packs.join(", ")) }
            );
        };
        let problem = pack.problem(name).expect("found");
        match &problem.kind {
            ProblemKind::Component { path, starter } => {
                let bytes = pack.read(path)?;
                let starter = starter.as_deref().map(|s| pack.read_text(s)).transpose()?;
                let context = format!("loading {path} of pack {}", pack.name());
                let loaded = Loaded::from_bytes(self.sandbox, &bytes, starter, &context)?;
                if loaded.spec().id != name {
                    bail!(
                        "pack {} names its problem {name}, but the component {path} says its id is {:?}; make them equal",
                        pack.name(),
                        loaded.spec().id
                    );
                }
                Ok(Resolved::Wasm(loaded))
            }
            ProblemKind::Plugin { .. } => Ok(Resolved::Plugin(Arc::new(self.start_plugin(pack, name, log)?))),
        }
    }

    /// Where a pack's Python packages are installed (`discover pack install`):
    /// `$DISCOVER_PACK_RUNTIMES`, else the cache's `packs/`; but a root host
    /// runs candidates as `nobody`, who cannot reach root's private home, so
    /// there it is `/var/cache/discover/packs`.
    pub(crate) fn runtime_dir(&self, pack: &Pack) -> PathBuf {
        let base = match std::env::var_os("DISCOVER_PACK_RUNTIMES").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            // SAFETY: geteuid has no preconditions.
            None if unsafe { libc::geteuid() } == 0 => PathBuf::from("/var/cache/discover/packs"),
            None => self.cache_root.join("packs"),
        };
        base.join(format!("{}-{}", pack.name(), pack.manifest.version)).join("site-packages")
    }

    fn start_plugin(&self, pack: &Pack, id: &str, log: Option<PathBuf>) -> Result<PluginProblem> {
        let problem = pack.problem(id).expect("found");
        let ProblemKind::Plugin { run, args, workers, needs } = &problem.kind else { unreachable!("a plugin") };
        if needs.gpu == Gpu::Required && !Path::new("/dev/nvidiactl").exists() {
            bail!("{id} (pack {}) needs an NVIDIA GPU, and this machine has none (/dev/nvidiactl is missing)", pack.name());
        }
        let script = pack.path_of(run)?;
        let mut command = Vec::new();
        if run.ends_with(".py") {
            command.push(python_interpreter());
        }
        command.push(script.display().to_string());
        command.extend(args.iter().cloned());
        let helper = crate::plugin::install_python_helper(&self.cache_root)?;
        let runtime = self.runtime_dir(pack);
        let mut python_path = helper.display().to_string();
        let mut env = vec![("DISCOVER_PACK_DIR".to_string(), pack.root().display().to_string())];
        if runtime.is_dir() {
            python_path = format!("{python_path}:{}", runtime.display());
            env.push(("DISCOVER_PACK_RUNTIME".to_string(), runtime.display().to_string()));
        }
        env.push(("PYTHONPATH".to_string(), python_path));
        env.push(("PYTHONUNBUFFERED".to_string(), "1".to_string()));
        let log = match log {
            Some(l) => l,
            None => {
                let dir = self.cache_root.join("logs");
                std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
                dir.join(format!("{}-{id}.log", pack.name()))
            }
        };
        let exe = std::env::current_exe().context("cannot find the discover executable (for `discover isolate`)")?;
        let scratch = std::env::temp_dir().join(format!("discover-plugin-{}-{id}", std::process::id()));
        let config = PluginConfig {
            problem: id.to_string(),
            command,
            cwd: pack.root().to_path_buf(),
            env,
            log: Some(log.clone()),
            workers: *workers,
            start_timeout: Duration::from_secs(120),
            call_timeout: Duration::from_secs(120),
            isolate: vec![exe.display().to_string(), "isolate".to_string()],
            unsafe_native: self.unsafe_native,
            scratch,
        };
        let hint = match &needs.install {
            Some(install) if !needs.python.is_empty() => format!(
                " (it needs the Python packages {}: `discover pack install {}`, or {install}; its log: {})",
                needs.python.join(", "),
                pack.root().display(),
                log.display()
            ),
            _ => format!(" (its log: {})", log.display()),
        };
        PluginProblem::start(config, pack.name()).map_err(|e| anyhow!("{e:#}{hint}"))
    }
}

/// The interpreter for `.py` plugins: `$DISCOVER_PYTHON`, else the system's
/// (the one candidates get inside the sandbox, where only /usr is visible).
fn python_interpreter() -> String {
    if let Some(p) = std::env::var_os("DISCOVER_PYTHON").filter(|p| !p.is_empty()) {
        return p.to_string_lossy().into_owned();
    }
    if Path::new("/usr/bin/python3").exists() { "/usr/bin/python3".into() } else { "python3".into() }
}

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
    let status = Command::new(python_interpreter())
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
