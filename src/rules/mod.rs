//! The rule catalogue (knowledge base, SPEC §5): which problems of a DRX/BSR/DRBD node a bundle
//! shows, with remedies in English and Korean.
//!
//! Use: `Catalogue::embedded()`, then per bundle a `Scan` fed file by file (`line` for every line,
//! `add_file` for paths where `wants_whole`), `finish` → `Evidence`, `Evidence::findings`; for the
//! two bundles of a pair also `cross_node`.
mod catalogue;
mod checks;
pub mod decode;
mod evidence;
mod inputs;
mod model;
pub mod parse;
mod patterns;
mod prefilter;
mod scan;
pub mod uuid_compare;

pub use catalogue::{Catalogue, RuleInfo, Texts};
pub use checks::cross::cross_node;
pub use checks::PEER_COLLECT_FAILED;
pub use evidence::{Evidence, Facts};
pub use scan::Scan;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_gi;
