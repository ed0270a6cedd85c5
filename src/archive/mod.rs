//! Bundle archives: writing (.tgz / .zip) and reading (.tgz / .zip / an unpacked directory).
pub mod pgzip;
pub mod reader;
pub mod writer;

#[cfg(test)]
pub(crate) mod testkit;
