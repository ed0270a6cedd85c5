//! `inspect`: integrity verification of a bundle, and safe listing / extraction.
pub mod extract;
pub mod verify;
