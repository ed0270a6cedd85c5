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

/// Writes one `--json` result, pretty-printed, to stdout. The value goes through
/// `serde_json::Value` so that every object's keys come out sorted, as they always have (the
/// outputs were built with `json!`); the typed structs only fix names and types in one place.
pub fn write_json(out: &mut dyn Write, value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_value(value)
        .and_then(|value| serde_json::to_string_pretty(&value))
        .map_err(|err| Error::failed(format!("cannot encode the result: {err}")))?;
    write_out(out, format!("{text}\n").as_bytes())
}
