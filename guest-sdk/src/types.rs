//! The contract's plain data types, shared with the host: `discover-contract`
//! built without its `host` feature (no serde, no I/O), with the builders
//! problem authors use (`Spec::new(..).statement(..)`, `Verdict::valid(score)`,
//! `Verdict::metric(..)`).

pub use discover_contract::{BestKnown, Budgets, Direction, Shape, Solution, Spec, Verdict};
