//! Bundle archives: writing (.tgz / .zip) and reading (.tgz / .zip / an unpacked directory).
pub mod pgunzip;
pub mod pgzip;
pub mod reader;
pub mod seal;
pub mod split;
pub mod split_set;
pub mod writer;

/// Builders of honest and hostile bundles, for the unit tests, the end-to-end tests and fuzzing.
/// Not part of the tool's interface.
#[doc(hidden)]
pub mod testkit;
