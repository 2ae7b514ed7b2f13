//! `autocorrelation-2`: the second autocorrelation inequality. The logic lives
//! in the `autocorrelation` crate; this crate only exports it.

pub use autocorrelation::{Autocorrelation, Ac2};

/// The problem this component exports.
pub type Autocorrelation2 = Autocorrelation<Ac2>;

discover_guest::export_problem!(Autocorrelation<Ac2>);
