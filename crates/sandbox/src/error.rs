//! What can go wrong when a guest runs, as values a caller can match on.

use std::time::Duration;

use wasmtime::Trap;

use super::{Limits, StoreLimiter};

/// Why a call into a guest produced no result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SandboxError {
    #[error("out of fuel: the guest used its whole budget of {fuel} fuel")]
    OutOfFuel { fuel: u64 },

    #[error("deadline exceeded: the guest ran longer than {}", show_duration(*.deadline))]
    Deadline { deadline: Duration },

    #[error("memory limit: the guest tried to grow its memory past {} MiB", .limit_bytes >> 20)]
    OutOfMemory { limit_bytes: usize },

    #[error("guest panic: {message}")]
    GuestPanic { message: String },

    #[error("stack overflow in the guest")]
    StackOverflow,

    #[error("guest trapped: {message}")]
    Trap { message: String },

    /// The bytes are not a component that implements the contract.
    #[error("cannot load the component: {0}")]
    Load(String),
}

fn show_duration(d: Duration) -> String {
    if d.as_secs() >= 1 { format!("{:.1} s", d.as_secs_f64()) } else { format!("{} ms", d.as_millis()) }
}

impl SandboxError {
    /// Turn a failed call into the error that says what happened. `panic_message`
    /// is what the guest reported through `diagnostics.report-panic`, if anything.
    pub fn from_call(
        err: wasmtime::Error,
        limits: &Limits,
        limiter: &StoreLimiter,
        panic_message: Option<String>,
    ) -> SandboxError {
        // Rust guests abort (trap `unreachable`) when an allocation fails; the
        // limiter's record tells that apart from a real panic.
        if limiter.memory_refused {
            return SandboxError::OutOfMemory { limit_bytes: limits.memory_bytes };
        }
        if let Some(message) = panic_message {
            return SandboxError::GuestPanic { message };
        }
        match err.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => SandboxError::OutOfFuel { fuel: limits.fuel.unwrap_or(u64::MAX) },
            Some(Trap::Interrupt) => SandboxError::Deadline { deadline: limits.deadline },
            Some(Trap::StackOverflow) => SandboxError::StackOverflow,
            Some(trap) => SandboxError::Trap { message: trap.to_string() },
            None => SandboxError::Trap { message: format!("{err:#}") },
        }
    }

    /// A short machine-readable name for the kind of failure (for `--json`).
    pub fn kind(&self) -> &'static str {
        match self {
            SandboxError::OutOfFuel { .. } => "out-of-fuel",
            SandboxError::Deadline { .. } => "deadline",
            SandboxError::OutOfMemory { .. } => "out-of-memory",
            SandboxError::GuestPanic { .. } => "guest-panic",
            SandboxError::StackOverflow => "stack-overflow",
            SandboxError::Trap { .. } => "trap",
            SandboxError::Load(_) => "load",
        }
    }
}
