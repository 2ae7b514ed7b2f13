//! The problems a front end can name: the built-ins, component paths, and the
//! problems of the packs it was given (`--pack DIR`), resolved to whatever
//! serves them (a Wasm component or a supervised native plugin).
//!
//! The command line and the leaderboard server both start here, so neither
//! depends on the other.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use discover_plugin::{Gpu, Pack, PluginConfig, PluginProblem, ProblemKind};
use discover_problem::{builtin, is_path, Loaded, Spec};
use discover_sandbox::Sandbox;

/// A problem by whatever serves it.
pub enum Resolved {
    /// A Wasm component (built-in, a path, or a pack's).
    Wasm(Loaded),
    /// A native plugin from a pack.
    Plugin(Arc<PluginProblem>),
}

impl Resolved {
    pub fn spec(&self) -> &Spec {
        match self {
            Resolved::Wasm(l) => l.spec(),
            Resolved::Plugin(p) => &p.spec.spec,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Resolved::Wasm(l) => l.world().name(),
            Resolved::Plugin(_) => "plugin",
        }
    }
}

/// The built-in problems and those of the packs named with `--pack`.
pub struct Catalog {
    pub sandbox: Sandbox,
    pub packs: Vec<Pack>,
    cache_root: PathBuf,
    pub unsafe_native: bool,
}

impl Catalog {
    pub fn open(sandbox: &Sandbox, dirs: &[PathBuf], cache_dir: Option<&Path>, unsafe_native: bool) -> Result<Catalog> {
        let cache_root = match cache_dir {
            Some(d) => d.to_path_buf(),
            None => discover_sandbox::cache_dir().ok_or_else(|| anyhow!("no cache directory: set DISCOVER_CACHE_DIR or HOME"))?,
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
        Ok(Catalog { sandbox: sandbox.clone(), packs, cache_root, unsafe_native })
    }

    /// The canonical folders of the packs (what a run's config records).
    pub fn pack_dirs(&self) -> Vec<PathBuf> {
        self.packs.iter().map(|p| p.root().to_path_buf()).collect()
    }

    /// Every problem id, built-ins first, with its pack.
    pub fn ids(&self) -> Vec<(String, Option<&Pack>)> {
        let mut ids: Vec<(String, Option<&Pack>)> = builtin::ids().map(|id| (id.to_string(), None)).collect();
        for pack in &self.packs {
            ids.extend(pack.manifest.problems.iter().map(|p| (p.id.clone(), Some(pack))));
        }
        ids
    }

    /// A built-in id, a pack's problem id, or a component path. A plugin's
    /// stderr goes to `log` (else to the cache's `logs/`).
    pub fn resolve(&self, name: &str, log: Option<PathBuf>) -> Result<Resolved> {
        if builtin::component(name).is_some() || (is_path(name) && !self.packs.iter().any(|p| p.problem(name).is_some())) {
            return Ok(Resolved::Wasm(Loaded::load(&self.sandbox, name)?));
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
                let loaded = Loaded::from_bytes(&self.sandbox, &bytes, starter, &context)?;
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

    /// A digest of what produces `name`'s scores: a component's bytes (and
    /// its starter), or every file of a plugin's pack (byte caches skipped).
    pub fn verifier_hash(&self, name: &str) -> Result<String> {
        if let Some(bytes) = builtin::component(name) {
            return Ok(crate::judge::digest([bytes]));
        }
        if let Some(pack) = self.packs.iter().find(|p| p.problem(name).is_some()) {
            return match &pack.problem(name).expect("found").kind {
                ProblemKind::Component { path, starter } => {
                    let bytes = pack.read(path)?;
                    let starter = starter.as_deref().map(|s| pack.read(s)).transpose()?.unwrap_or_default();
                    Ok(crate::judge::digest([&bytes[..], &starter[..]]))
                }
                ProblemKind::Plugin { .. } => {
                    let mut files = Vec::new();
                    pack_files(pack.root(), pack.root(), &mut files)?;
                    files.sort();
                    let mut parts = Vec::new();
                    for (rel, bytes) in &files {
                        parts.push(rel.as_bytes().to_vec());
                        parts.push(bytes.clone());
                    }
                    Ok(crate::judge::digest(parts.iter().map(|p| &p[..])))
                }
            };
        }
        let bytes = std::fs::read(name).with_context(|| format!("cannot read {name}"))?;
        Ok(crate::judge::digest([&bytes[..]]))
    }

    /// Where a pack's Python packages are installed (`discover pack install`):
    /// `$DISCOVER_PACK_RUNTIMES`, else the cache's `packs/`; but a root host
    /// runs candidates as `nobody`, who cannot reach root's private home, so
    /// there it is `/var/cache/discover/packs`.
    pub fn runtime_dir(&self, pack: &Pack) -> PathBuf {
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
        let helper = discover_plugin::install_python_helper(&self.cache_root)?;
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
        let scratch = plugin_scratch(&std::env::temp_dir(), id);
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

const SCRATCH_PREFIX: &str = "discover-plugin-";

/// A fresh scratch folder for one plugin's processes under `temp`:
/// `discover-plugin-PID-N-ID`, unique per plugin in this process (the plugin
/// removes it when it is dropped). First removes the folders that processes
/// which no longer exist left behind: a killed run cannot clean up after
/// itself, and a plugin's scratch holds its candidates' jobs and outputs
/// (140 MB a plugin for the biology pack).
fn plugin_scratch(temp: &Path, id: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    sweep_stale_scratch(temp);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    temp.join(format!("{SCRATCH_PREFIX}{}-{n}-{id}", std::process::id()))
}

/// Remove `discover-plugin-PID-...` folders under `temp` whose process is gone
/// (a live process, this one or a concurrent run, keeps its folders).
fn sweep_stale_scratch(temp: &Path) {
    let Ok(entries) = std::fs::read_dir(temp) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(SCRATCH_PREFIX)) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The interpreter for `.py` plugins: `$DISCOVER_PYTHON`, else the system's
/// (the one candidates get inside the sandbox, where only /usr is visible).
pub fn python_interpreter() -> String {
    if let Some(p) = std::env::var_os("DISCOVER_PYTHON").filter(|p| !p.is_empty()) {
        return p.to_string_lossy().into_owned();
    }
    if Path::new("/usr/bin/python3").exists() { "/usr/bin/python3".into() } else { "python3".into() }
}

/// Every file under `dir` (relative path, bytes), skipping what Python writes
/// beside its sources and hidden files.
fn pack_files(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("reading {}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "__pycache__" || name.ends_with(".pyc") {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            pack_files(root, &path, out)?;
        } else if kind.is_file() {
            let rel = path.strip_prefix(root).expect("under the root").display().to_string();
            out.push((rel, std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_folders_of_dead_processes_are_swept_and_live_ones_kept() {
        let temp = std::env::temp_dir().join(format!("discover-scratch-test-{}", std::process::id()));
        std::fs::create_dir_all(&temp).unwrap();
        // Above any pid_max, so no such process; pid 1 always exists.
        let dead = temp.join("discover-plugin-4294967000-0-trimul");
        let live = temp.join("discover-plugin-1-0-trimul");
        let ours = temp.join(format!("discover-plugin-{}-99-denoising", std::process::id()));
        let other = temp.join("discover-plugin-notapid");
        for dir in [&dead, &live, &ours, &other] {
            std::fs::create_dir_all(dir.join("job")).unwrap();
            std::fs::write(dir.join("job/out.bin"), b"x").unwrap();
        }
        let a = plugin_scratch(&temp, "trimul");
        let b = plugin_scratch(&temp, "trimul");
        assert!(!dead.exists(), "a dead process's scratch is removed");
        assert!(live.exists() && ours.exists() && other.exists());
        assert_ne!(a, b, "two plugins of one problem in one process get two folders");
        let name = a.file_name().unwrap().to_str().unwrap().to_string();
        assert!(name.starts_with(&format!("discover-plugin-{}-", std::process::id())) && name.ends_with("-trimul"), "{name}");
        std::fs::remove_dir_all(&temp).unwrap();
    }
}
