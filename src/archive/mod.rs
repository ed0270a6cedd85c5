//! Bundle archives: writing (.tgz / .zip) and reading (.tgz / .zip / an unpacked directory).
pub mod pgzip;
pub mod reader;
pub mod seal;
pub mod split;
pub mod split_set;
pub mod writer;

#[cfg(test)]
pub(crate) mod testkit;
