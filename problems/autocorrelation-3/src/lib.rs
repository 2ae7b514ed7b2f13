//! `autocorrelation-3`: the third autocorrelation inequality. The logic lives
//! in the `autocorrelation` crate; this crate only exports it.

pub use autocorrelation::{Autocorrelation, Ac3};

/// The problem this component exports.
pub type Autocorrelation3 = Autocorrelation<Ac3>;

discover_guest::export_problem!(Autocorrelation<Ac3>);
