//! `circle-packing-26`: 26 circles in the unit square, maximise the sum of radii.
//! The logic lives in the `circle-packing` crate; this crate only exports it.

pub use circle_packing::CirclePacking;

/// The problem this component exports.
pub type Problem = CirclePacking<26>;

discover_guest::export_problem!(CirclePacking<26>);
