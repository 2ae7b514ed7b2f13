//! # discover-sandbox
//!
//! The Wasm sandbox: one wasmtime engine, explicit limits on every call, typed
//! errors, and a disk cache of compiled components.
//!
//! Every call into a guest gets a fresh `Store` (so a fresh instance) with:
//! - **fuel**: a bound on executed instructions, deterministic across machines;
//! - **deadline**: a wall-clock bound, enforced by epoch interruption (a ticker
//!   thread advances the engine's epoch every [`TICK`]);
//! - **memory**: a cap on linear memory and tables, via a `ResourceLimiter`.
//!
//! Nothing here knows about problems or discovery: `discover-problem` builds the
//! contract on top, and `discover-candidate` reuses the limits and the store.

mod cache;
mod error;
mod limits;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig, Store};

pub use cache::ComponentCache;
pub use error::SandboxError;
pub use limits::{Limits, StoreLimiter};

/// How often the epoch advances: the resolution of wall-clock deadlines.
pub const TICK: Duration = Duration::from_millis(5);

/// Largest Wasm stack a guest may use. Guests that recurse deeper trap with a
/// stack overflow instead of taking the host thread down.
const MAX_WASM_STACK: usize = 1 << 20;

/// How many guest instances may be alive at once in one sandbox (calls beyond
/// that fail to instantiate, with a `Trap` error saying so).
pub const MAX_CONCURRENT_INSTANCES: u32 = 64;

/// The largest linear memory any guest may have; `Limits::memory_bytes` is
/// capped by it.
pub const MAX_MEMORY_BYTES: usize = 2 << 30;

/// An engine configured for untrusted code, with its epoch ticker and cache.
/// Cloning is cheap and shares the engine, so a long-lived process (a server
/// hosting many problems) hands out owned handles instead of borrows.
#[derive(Clone)]
pub struct Sandbox {
    engine: Engine,
    cache: ComponentCache,
    _ticker: Arc<Ticker>,
}

impl Sandbox {
    /// A sandbox whose compiled components are cached in `cache` (or not cached).
    pub fn new(cache: ComponentCache) -> Result<Sandbox> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            .max_wasm_stack(MAX_WASM_STACK)
            .cranelift_opt_level(OptLevel::Speed);
        // A pool of pre-reserved instance slots whose first pages stay resident
        // between calls: a fresh instance then costs no mmap and few page faults.
        // Measured (BENCHMARKS.md): the fixed cost of a call fell from 13 to 3.5 us.
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(MAX_CONCURRENT_INSTANCES)
            .total_core_instances(MAX_CONCURRENT_INSTANCES * 4)
            .total_memories(MAX_CONCURRENT_INSTANCES)
            .total_tables(MAX_CONCURRENT_INSTANCES * 2)
            .max_memory_size(MAX_MEMORY_BYTES)
            .linear_memory_keep_resident(2 << 20)
            .table_keep_resident(64 << 10);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("configuring the wasmtime engine")?;
        let ticker = Ticker::start(engine.clone());
        Ok(Sandbox { engine, cache, _ticker: Arc::new(ticker) })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compile (or load from the cache) a component from its bytes.
    pub fn component(&self, bytes: &[u8]) -> Result<wasmtime::component::Component, SandboxError> {
        self.cache.load(&self.engine, bytes)
    }

    /// A store for one call, with `limits` applied. `data` is the host state the
    /// guest's imports see.
    pub fn store<T: AsMut<StoreLimiter> + Send>(&self, data: T, limits: &Limits) -> Store<T> {
        limited_store(&self.engine, data, limits)
    }
}

/// A store in `engine` (which must meter fuel and use epoch interruption) with
/// `limits` applied: fuel, a deadline that traps, and `data`'s memory limiter.
/// Also used by the Python sandbox, whose engine differs but whose limits do not.
pub fn limited_store<T: AsMut<StoreLimiter> + Send>(engine: &Engine, data: T, limits: &Limits) -> Store<T> {
    let mut store = Store::new(engine, data);
    store.limiter(|data| data.as_mut());
    // Fuel is always on in these engines; "no fuel limit" means all of it.
    store.set_fuel(limits.fuel.unwrap_or(u64::MAX)).expect("fuel is enabled");
    store.set_epoch_deadline(limits.deadline_ticks());
    store.epoch_deadline_trap();
    store
}

/// Advances the engine's epoch every [`TICK`] until dropped.
pub struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    pub fn start(engine: Engine) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("discover-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch ticker thread");
        Ticker { stop, thread: Some(thread) }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The user's cache directory for discover: `$DISCOVER_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/discover`, else `$HOME/.cache/discover`.
pub fn cache_dir() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("DISCOVER_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("discover")))
        .or_else(|| env("HOME").map(|d| d.join(".cache").join("discover")))
}
