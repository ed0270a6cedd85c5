//! Bundle containers: reading (and, later, writing) .tgz, .zip and unpacked directories.
pub mod reader;

#[cfg(test)]
pub(crate) mod testkit;
