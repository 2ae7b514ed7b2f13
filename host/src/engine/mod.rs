//! The discovery loop (`../shared/reference/algorithm.md`): a buffer of states
//! with PUCT reuse, entropic advantages, and the step that ties them to a policy
//! and an environment. Nothing here knows about wasmtime: the environment that
//! executes actions is a trait, implemented over the sandbox in `problem/`.

pub mod advantages;
pub mod buffer;

pub use advantages::{advantages, GroupAdvantages, Objective};
pub use buffer::{Buffer, BufferStats, NewState, Reuse, State};
