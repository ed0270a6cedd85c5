//! drx-collect: collect a support bundle from a DRX/BSR replication node, and diagnose bundles.
pub mod archive;
pub mod error;
pub mod index;
pub mod inspect;
pub mod lang;

use std::process::ExitCode;

/// Entry point used by `main`: runs the command line and maps the result to an exit code.
pub fn main_entry() -> ExitCode {
    ExitCode::SUCCESS
}
