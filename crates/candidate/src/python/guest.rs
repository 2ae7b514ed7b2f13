//! One CPython-for-WASI instance: what it may see (WASI context), what it may
//! use (store limits), and the `turn` entry point that runs code in it.
//!
//! The interpreter is a WASI preview-1 *reactor*. Its world is:
//! - `/usr/local/lib`: a read-only folder holding only the standard library zip;
//! - `$HOME`: an empty read-only folder;
//! - environment `TMPDIR=/tmp PYTHONTZPATH= HOME=/home` and nothing of the host's;
//! - no sockets (preview 1 has none to open, and TCP/UDP are denied regardless);
//! - stdin, stdout and stderr as the host gives them;
//! - the host's clocks, and sleeps that end at the candidate's deadline.
//!
//! The import `host::call` (the runtime's door to an embedder's tools) answers -1.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use wasmtime::{Caller, Engine, ExternType, Instance, Linker, Module, Store, Val};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::hostcalls;
use crate::output::Output;
use super::runtime::RuntimePaths;
use discover_sandbox::StoreLimiter;

/// The native stack of a thread that runs the interpreter. Cranelift code for a
/// deep Python stack needs more than the default 2 MiB (8 MiB of Wasm stack).
pub(crate) const THREAD_STACK: usize = 64 << 20;

/// The program name the interpreter was built to have.
const ARGV0: &str = "/usr/local/bin/python.wasm";

/// What one store holds: the WASI context, the memory limiter, and the
/// deadline a sleep may not pass.
pub(crate) struct GuestState {
    pub wasi: WasiP1Ctx,
    pub limiter: StoreLimiter,
    pub deadline: Instant,
}

impl hostcalls::Clocks for GuestState {
    /// The host's wall clocks: programs for construction problems are limited
    /// by wall time, so their clocks tell it (CPU-time clocks read as monotonic).
    fn now(_: &Caller<'_, GuestState>, id: u32) -> Option<u64> {
        match id {
            0 => Some(hostcalls::realtime_nanos()),
            1..=3 => Some(hostcalls::monotonic_nanos()),
            _ => None,
        }
    }

    /// A sleep waits, but never past the candidate's deadline: there it ends
    /// the program as a timeout (an epoch check cannot reach a sleeping thread).
    fn wait(caller: &mut Caller<'_, GuestState>, nanos: u64) -> wasmtime::Result<()> {
        hostcalls::wait_until_deadline(caller.data().deadline, nanos)
    }
}

impl AsMut<StoreLimiter> for GuestState {
    fn as_mut(&mut self) -> &mut StoreLimiter {
        &mut self.limiter
    }
}

/// A linker with WASI preview 1, its clocks and sleeps bounded by the
/// deadline (`crate::hostcalls`), and the `host` imports stubbed.
pub(crate) fn linker(engine: &Engine, module: &Module) -> Result<Linker<GuestState>> {
    let mut linker: Linker<GuestState> = Linker::new(engine);
    p1::add_to_linker_sync(&mut linker, |s: &mut GuestState| &mut s.wasi)?;
    hostcalls::add_clocks(&mut linker)?;
    stub_host_imports(&mut linker, module)?;
    Ok(linker)
}

/// The linker and store for pre-initialisation (under Wizer, in `setup`).
pub(crate) fn preinit_linker(engine: &Engine, module: &Module) -> Result<(Linker<GuestState>, Output)> {
    Ok((linker(engine, module)?, Output::new(64 << 10, 64 << 20)))
}

pub(crate) fn preinit_store(engine: &Engine, paths: &RuntimePaths, output: Output) -> Result<Store<GuestState>> {
    let wasi = context(paths, Vec::new(), output.clone(), output)?;
    let limits = discover_sandbox::Limits { fuel: None, deadline: std::time::Duration::from_secs(600), memory_bytes: 4 << 30, table_elements: 1 << 20 };
    let deadline = Instant::now() + limits.deadline;
    let mut store = Store::new(engine, GuestState { wasi, limiter: StoreLimiter::new(&limits), deadline });
    store.limiter(|s| &mut s.limiter);
    store.set_fuel(u64::MAX).expect("fuel is enabled");
    store.set_epoch_deadline(u64::MAX / 2);
    Ok(store)
}

/// The candidate's world; see the module docs.
pub(crate) fn context(paths: &RuntimePaths, stdin: Vec<u8>, stdout: Output, stderr: Output) -> Result<WasiP1Ctx> {
    let mut builder = WasiCtxBuilder::new();
    builder
        .args(&[ARGV0])
        .env("TMPDIR", "/tmp")
        .env("PYTHONTZPATH", "")
        .env("HOME", "/home")
        .stdin(MemoryInputPipe::new(stdin))
        .stdout(stdout)
        .stderr(stderr)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    // The order fixes the descriptor numbers (3, then 4); the snapshot remembers them.
    preopen(&mut builder, &paths.lib_dir(), "/usr/local/lib")?;
    preopen(&mut builder, &paths.home_dir(), "/home")?;
    Ok(builder.build_p1())
}

fn preopen(builder: &mut WasiCtxBuilder, host: &Path, guest: &str) -> Result<()> {
    builder
        .preopened_dir(host, guest, FsPerms::ReadOnly)
        .map_err(|e| anyhow::anyhow!("cannot open {} for the sandbox: {e}", host.display()))?;
    Ok(())
}

pub(crate) fn stub_host_imports<T: 'static>(linker: &mut Linker<T>, module: &Module) -> Result<()> {
    for import in module.imports() {
        if import.module() != "host" {
            continue;
        }
        if let ExternType::Func(ty) = import.ty() {
            let results = ty.results().len();
            linker.func_new("host", import.name(), ty.clone(), move |_, _, out| {
                // "No such tool": the runtime's door is closed.
                for (i, slot) in out.iter_mut().enumerate().take(results) {
                    *slot = if i == 0 { Val::I32(-1) } else { Val::I32(0) };
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// Run `code` in the live interpreter (the runtime's `turn` export): 0 when it
/// ran to the end, 1 when it raised.
pub(crate) fn turn<T>(store: &mut Store<T>, instance: &Instance, code: &[u8]) -> wasmtime::Result<i32> {
    let alloc = instance.get_typed_func::<i32, i32>(&mut *store, "host_alloc")?;
    let len = i32::try_from(code.len()).map_err(|_| wasmtime::format_err!("code too long"))?;
    let ptr = alloc.call(&mut *store, len)?;
    if ptr == 0 {
        wasmtime::bail!("the interpreter could not allocate {} bytes for the code", code.len());
    }
    let memory = instance
        .get_memory(&mut *store, "memory")
        .ok_or_else(|| wasmtime::format_err!("the runtime exports no memory"))?;
    memory.write(&mut *store, ptr as u32 as usize, code)?;
    instance.get_typed_func::<(i32, i32), i32>(&mut *store, "turn")?.call(&mut *store, (ptr, len))
}
