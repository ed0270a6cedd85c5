//! Bundle archives: writing (.tgz / .zip) and reading (.tgz / .zip / a directory).
pub mod writer;
