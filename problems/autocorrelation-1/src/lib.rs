//! `autocorrelation-1`: the first autocorrelation inequality. The logic lives
//! in the `autocorrelation` crate; this crate only exports it.

pub use autocorrelation::{Autocorrelation, Ac1};

/// The problem this component exports.
pub type Autocorrelation1 = Autocorrelation<Ac1>;

discover_guest::export_problem!(Autocorrelation<Ac1>);
