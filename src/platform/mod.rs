//! What differs between Unix and Windows, behind one small interface: process groups and killing
//! them, interruption by signals, private file modes, host names.
#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

use std::sync::atomic::{AtomicI32, Ordering};

/// The signal that interrupted the run (0: none). Set from the signal handler, read everywhere
/// work can stop early.
static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

pub fn interrupted() -> Option<i32> {
    match INTERRUPTED.load(Ordering::Relaxed) {
        0 => None,
        signal => Some(signal),
    }
}

fn set_interrupted(signal: i32) {
    INTERRUPTED.store(signal, Ordering::Relaxed);
}

/// For tests and for `--total-timeout`-like callers that want to stop work as an interrupt would.
pub fn request_stop() {
    set_interrupted(-1);
}

/// Names the interrupting signal for the error message.
pub fn interruption_name(signal: i32) -> &'static str {
    match signal {
        2 => "Ctrl-C (SIGINT)",
        15 => "SIGTERM",
        1 => "SIGHUP",
        _ => "an interruption",
    }
}
