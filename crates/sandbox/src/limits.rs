//! Resource limits for one guest call.

use std::time::Duration;

use wasmtime::ResourceLimiter;

use super::TICK;

/// What one call into a guest may use. Every field is explicit; see
/// [`Limits::default`] for the values used when a problem suggests none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Fuel (about one unit per Wasm instruction); `None`: unbounded.
    pub fuel: Option<u64>,
    /// Wall-clock time for the call, including instantiation.
    pub deadline: Duration,
    /// Total linear memory across the instance's memories, in bytes.
    pub memory_bytes: usize,
    /// Elements per table.
    pub table_elements: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            fuel: Some(1_000_000_000),
            deadline: Duration::from_secs(10),
            memory_bytes: 256 << 20,
            table_elements: 100_000,
        }
    }
}

impl Limits {
    /// The deadline in epoch ticks, rounded up, plus one tick: the deadline is a
    /// lower bound on the time a call may run, never cut short by tick phase.
    pub fn deadline_ticks(&self) -> u64 {
        let tick = TICK.as_nanos();
        (self.deadline.as_nanos().div_ceil(tick) + 1).min(u64::MAX as u128) as u64
    }
}

/// The `ResourceLimiter` of one store. Records that it refused memory, so that the
/// trap that follows (Rust aborts on a failed allocation) can be reported as what it
/// is: an out-of-memory, not an anonymous `unreachable`.
#[derive(Debug)]
pub struct StoreLimiter {
    pub memory_bytes: usize,
    pub table_elements: usize,
    /// Set when a memory growth was refused.
    pub memory_refused: bool,
    /// The largest linear memory granted so far, in bytes.
    pub peak_memory_bytes: usize,
}

impl StoreLimiter {
    pub fn new(limits: &Limits) -> StoreLimiter {
        StoreLimiter {
            memory_bytes: limits.memory_bytes,
            table_elements: limits.table_elements,
            memory_refused: false,
            peak_memory_bytes: 0,
        }
    }
}

impl ResourceLimiter for StoreLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.memory_refused = true;
            return Ok(false);
        }
        self.peak_memory_bytes = self.peak_memory_bytes.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= self.table_elements)
    }
}
