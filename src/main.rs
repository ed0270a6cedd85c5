//! The binary: parse the command line, run, turn the outcome into an exit code.
use std::process::ExitCode;

fn main() -> ExitCode {
    drx_collect::main_entry()
}
