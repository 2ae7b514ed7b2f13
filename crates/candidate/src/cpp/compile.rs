//! Compiling model-written C++ to a wasm32-wasip1 command, safely and once.
//!
//! The compiler is a native program reading untrusted source, so it runs in a
//! bubblewrap sandbox that sees only `/usr` (the toolchain) read-only and a
//! private work folder: no `/etc`, no `/dev`, no `/proc`, no home, no network,
//! new namespaces for everything, killed with its parent. `prlimit` bounds its
//! address space, CPU seconds and file sizes, and a wall-clock deadline kills it
//! regardless. `#include "/etc/passwd"` is then simply "file not found".
//!
//! Results are cached by a hash of the source, the flags, the shipped
//! `<bits/stdc++.h>` and the compiler's version: a program compiled once (or
//! refused once) is not compiled again.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use sha2::{Digest, Sha256};

use discover_contract::fs::write_atomic;

/// The GCC header contest programs include, which libc++ lacks.
pub const STDCXX_HEADER: &str = include_str!("include/bits/stdc++.h");

/// The compiler's language and code generation flags: the contest's GNU++20;
/// `-O3` where contests say `-O2`, because contest programs are written for
/// g++ -O2 run natively, and clang's -O2 Wasm ran the AHC058 baseline 3.6x
/// slower than that, its -O3 1.85x (BENCHMARKS.md; no fast-math either way, so
/// the program means the same). Exceptions are off: a `throw` or `try` is a
/// clear compile error. SIMD is on (wasmtime runs it).
pub const CXX_FLAGS: &[&str] = &[
    "--target=wasm32-wasi",
    "-std=gnu++20",
    "-O3",
    "-msimd128",
    "-fno-exceptions",
    "-fno-color-diagnostics",
    "-ferror-limit=20",
    "-D_WASI_EMULATED_SIGNAL",
    "-D_WASI_EMULATED_PROCESS_CLOCKS",
    "-D_WASI_EMULATED_GETPID",
];

/// Link flags: the shadow stack (64 MiB) sits at the bottom of memory, so a
/// recursion that overflows it leaves linear memory and traps instead of
/// silently overwriting data; its pointer is exported so the host can tell.
pub const LINK_FLAGS: &[&str] = &[
    "-Wl,--stack-first",
    "-Wl,-z,stack-size=67108864",
    "-Wl,--export=__stack_pointer",
    "-lwasi-emulated-signal",
    "-lwasi-emulated-process-clocks",
    "-lwasi-emulated-getpid",
];

/// What the compiler may use.
#[derive(Clone, Copy, Debug)]
pub struct CompileLimits {
    pub wall: Duration,
    pub cpu_seconds: u64,
    pub address_space_bytes: u64,
    /// Largest file the compiler may write (the module, temporaries).
    pub file_bytes: u64,
}

impl Default for CompileLimits {
    fn default() -> CompileLimits {
        CompileLimits {
            wall: Duration::from_secs(60),
            cpu_seconds: 40,
            address_space_bytes: 4 << 30,
            file_bytes: 256 << 20,
        }
    }
}

/// The compiler on this machine.
#[derive(Clone, Debug)]
pub struct Toolchain {
    pub clang: PathBuf,
    pub bwrap: PathBuf,
    pub prlimit: PathBuf,
    /// `clang --version`'s first line: part of the cache key.
    pub version: String,
}

/// How to install what is missing, for error messages.
pub const INSTALL_HINT: &str =
    "install it with `apt-get install clang-19 lld-19 wasi-libc libc++-19-dev-wasm32 libclang-rt-19-dev-wasm32 bubblewrap`";

impl Toolchain {
    /// Find clang (`$DISCOVER_CLANG`, else `clang++-19`, else `clang++`), with
    /// the wasm32-wasi sysroot, bubblewrap and prlimit.
    pub fn detect() -> Result<Toolchain> {
        let clang = match std::env::var_os("DISCOVER_CLANG") {
            Some(path) => PathBuf::from(path),
            None => ["clang++-19", "clang++"]
                .iter()
                .find_map(|name| which(name))
                .ok_or_else(|| anyhow!("no C++ compiler for WebAssembly (clang++-19); {INSTALL_HINT}"))?,
        };
        let out = Command::new(&clang)
            .arg("--version")
            .output()
            .with_context(|| format!("cannot run {}", clang.display()))?;
        let version = String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or("").trim().to_string();
        if !Path::new("/usr/lib/wasm32-wasi/crt1-command.o").exists() {
            bail!("the wasm32-wasi C library is missing (/usr/lib/wasm32-wasi); {INSTALL_HINT}");
        }
        let bwrap = which("bwrap").ok_or_else(|| {
            anyhow!("bubblewrap (`bwrap`) is needed to sandbox the C++ compiler; {INSTALL_HINT}")
        })?;
        let prlimit = which("prlimit").ok_or_else(|| anyhow!("`prlimit` (util-linux) is needed to limit the compiler"))?;
        Ok(Toolchain { clang, bwrap, prlimit, version })
    }

    /// The cache key of `source` compiled with this toolchain and these flags.
    pub fn key(&self, source: &str) -> String {
        let mut sha = Sha256::new();
        for part in [source, STDCXX_HEADER, &self.version, &CXX_FLAGS.join(" "), &LINK_FLAGS.join(" ")] {
            sha.update((part.len() as u64).to_le_bytes());
            sha.update(part.as_bytes());
        }
        sha.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
    }
}

pub(crate) fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// Why a program did not compile.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CompileError {
    /// The compiler's messages (the first [`MESSAGE_BYTES`]), or what stopped it.
    pub message: String,
}

/// How much of the compiler's messages is kept: the first errors are the ones
/// that matter.
pub const MESSAGE_BYTES: usize = 8 << 10;

/// The result of one compilation, cached or not.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub wasm: Vec<u8>,
    pub key: String,
    pub seconds: f64,
    pub cached: bool,
}

/// Compile `source` (or take it from `cache_dir`). `Ok(Err(..))` is the
/// program's fault, `Err` the host's (no toolchain, a sandbox that cannot start).
pub fn compile(
    toolchain: &Toolchain,
    cache_dir: &Path,
    source: &str,
    limits: &CompileLimits,
) -> Result<Result<Compiled, CompileError>> {
    let start = Instant::now();
    let key = toolchain.key(source);
    let (wasm_path, err_path) = (cache_dir.join(format!("{key}.wasm")), cache_dir.join(format!("{key}.err")));
    if let Ok(wasm) = std::fs::read(&wasm_path) {
        return Ok(Ok(Compiled { wasm, key, seconds: start.elapsed().as_secs_f64(), cached: true }));
    }
    if let Ok(message) = std::fs::read_to_string(&err_path) {
        return Ok(Err(CompileError { message }));
    }
    std::fs::create_dir_all(cache_dir).with_context(|| format!("creating {}", cache_dir.display()))?;
    let work = tempdir(cache_dir)?;
    let result = compile_in(toolchain, &work.0, source, limits);
    let result = result?;
    match &result {
        Ok(wasm) => write_atomic(&wasm_path, wasm)?,
        // Limits hit are not cached: a loaded machine may finish next time.
        Err(e) if !e.message.starts_with("the compiler") => write_atomic(&err_path, e.message.as_bytes())?,
        Err(_) => {}
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(result.map(|wasm| Compiled { wasm, key, seconds, cached: false }))
}

/// A private folder under the cache, removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir(cache_dir: &Path) -> Result<TempDir> {
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| anyhow!("no randomness for a temp folder: {e}"))?;
    let name: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
    let dir = cache_dir.join(format!(".build-{name}"));
    std::fs::create_dir_all(dir.join("include/bits")).with_context(|| format!("creating {}", dir.display()))?;
    Ok(TempDir(dir))
}

fn compile_in(
    toolchain: &Toolchain,
    work: &Path,
    source: &str,
    limits: &CompileLimits,
) -> Result<Result<Vec<u8>, CompileError>> {
    std::fs::write(work.join("include/bits/stdc++.h"), STDCXX_HEADER)?;
    std::fs::write(work.join("main.cpp"), source)?;
    let mut cmd = Command::new(&toolchain.bwrap);
    cmd.args(["--unshare-all", "--die-with-parent", "--new-session", "--clearenv"])
        .args(["--ro-bind", "/usr", "/usr"])
        .args(["--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin"])
        .arg("--bind")
        .arg(work)
        .arg("/work")
        .args(["--chdir", "/work", "--setenv", "PATH", "/usr/bin", "--setenv", "HOME", "/work"])
        .args(["--setenv", "TMPDIR", "/work", "--"])
        .arg(&toolchain.prlimit)
        .arg(format!("--as={}", limits.address_space_bytes))
        .arg(format!("--cpu={}", limits.cpu_seconds))
        .arg(format!("--fsize={}", limits.file_bytes))
        .arg("--core=0")
        .arg("--")
        .arg(&toolchain.clang)
        .args(CXX_FLAGS)
        .args(["-I/work/include", "main.cpp", "-o", "main.wasm"])
        .args(LINK_FLAGS)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().with_context(|| format!("cannot start {}", toolchain.bwrap.display()))?;
    // Read the messages on a thread (a flood of them must not block the child),
    // keeping the first MESSAGE_BYTES.
    let mut stderr = child.stderr.take().expect("piped");
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            let room = MESSAGE_BYTES.saturating_sub(kept.len());
            kept.extend_from_slice(&buf[..n.min(room)]);
        }
        kept
    });
    let drain = std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let deadline = Instant::now() + limits.wall;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let messages = String::from_utf8_lossy(&reader.join().unwrap_or_default()).into_owned();
    let _ = drain.join();
    let Some(status) = status else {
        return Ok(Err(CompileError {
            message: format!("the compiler ran longer than {} s and was stopped", limits.wall.as_secs()),
        }));
    };
    if status.success() {
        let wasm = std::fs::read(work.join("main.wasm")).context("the compiler left no main.wasm")?;
        return Ok(Ok(wasm));
    }
    use std::os::unix::process::ExitStatusExt;
    let message = match status.signal() {
        // prlimit's CPU limit ends clang with SIGXCPU (or SIGKILL past the hard limit).
        Some(24) | Some(9) => format!("the compiler used its {} s of CPU time and was stopped", limits.cpu_seconds),
        Some(sig) => format!("the compiler was killed by signal {sig} (likely its {} GiB memory limit)\n{messages}", limits.address_space_bytes >> 30),
        None if messages.contains("out of memory") || messages.contains("Allocation failed") || messages.contains("std::bad_alloc") => {
            format!("the compiler ran out of its {} GiB of memory\n{messages}", limits.address_space_bytes >> 30)
        }
        None if messages.trim().is_empty() => format!("the compiler failed ({status}) without a message"),
        None => messages,
    };
    if message.is_empty() {
        bail!("the compiler failed without a message");
    }
    Ok(Err(CompileError { message }))
}
