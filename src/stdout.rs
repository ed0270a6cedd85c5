//! Everything the tool prints to standard output goes through here: a closed pipe (`| head`) is
//! not an error, and human text has its control characters escaped.
use crate::error::{self, Error, Result};
use crate::escape;
use std::io::Write;

/// Writes human output to stdout with every control character but line breaks and tabs
/// escaped ([`escape::block`]): a bundle's names and log lines never reach a terminal raw.
pub fn write_human(out: &mut dyn Write, text: &str) -> Result<()> {
    write_out(out, escape::block(text).as_bytes())
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
pub fn write_out(out: &mut dyn Write, bytes: &[u8]) -> Result<()> {
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {
            Err(Error::failed("broken pipe"))
        }
        Err(err) => Err(Error::failed(format!(
            "cannot write to standard output: {}",
            error::describe_io(&err)
        ))),
    }
}
