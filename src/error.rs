//! One error type for the whole tool. Every error is one sentence a user can act on, and knows the
//! exit code it maps to (SPEC §8).
use std::fmt;
use std::path::Path;

/// Exit codes of SPEC §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success = 0,
    Failed = 1,
    Usage = 2,
    Integrity = 3,
}

#[derive(Debug)]
pub struct Error {
    status: ExitStatus,
    message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The job failed (exit 1).
    pub fn failed(message: impl Into<String>) -> Self {
        Error {
            status: ExitStatus::Failed,
            message: message.into(),
        }
    }

    /// The input is damaged, altered or not meant for us: an integrity failure (exit 3).
    pub fn integrity(message: impl Into<String>) -> Self {
        Error {
            status: ExitStatus::Integrity,
            message: message.into(),
        }
    }

    /// The command line was wrong (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Error {
            status: ExitStatus::Usage,
            message: message.into(),
        }
    }

    /// An I/O error on `path`, with what the user can do about it.
    pub fn io(action: &str, path: &Path, err: &std::io::Error, hint: &str) -> Self {
        let mut message = format!("cannot {action} {}: {}", path.display(), describe_io(err));
        if !hint.is_empty() {
            message.push_str("; ");
            message.push_str(hint);
        }
        Error::failed(message)
    }

    pub fn status(&self) -> ExitStatus {
        self.status
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The OS error text without Rust's "(os error N)" suffix, lower-cased at the start so it reads
/// as part of a sentence.
pub fn describe_io(err: &std::io::Error) -> String {
    let text = err.to_string();
    let text = match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
