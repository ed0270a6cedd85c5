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

/// Writes one `--json` result, pretty-printed, to stdout as it is serialized (a support queue's
/// result is megabytes: it is never held whole). Wrap what must keep the sorted keys every
/// `--json` output has had in [`Sorted`].
pub fn write_json(out: &mut dyn Write, value: &impl serde::Serialize) -> Result<()> {
    let mut buffered = std::io::BufWriter::with_capacity(64 << 10, &mut *out);
    let mut serializer = serde_json::Serializer::with_formatter(
        &mut buffered,
        serde_json::ser::PrettyFormatter::with_indent(b"  "),
    );
    let written = value
        .serialize(&mut serializer)
        .map_err(|err| match err.io_error_kind() {
            Some(kind) => std::io::Error::from(kind),
            None => std::io::Error::other(err),
        })
        .and_then(|_| buffered.write_all(b"\n"))
        .and_then(|_| buffered.flush());
    match written {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {
            Err(Error::failed("broken pipe"))
        }
        Err(err) if err.kind() == std::io::ErrorKind::Other => {
            Err(Error::failed(format!("cannot encode the result: {err}")))
        }
        Err(err) => Err(Error::failed(format!(
            "cannot write to standard output: {}",
            error::describe_io(&err)
        ))),
    }
}

/// Serializes `T` with every object's keys sorted, as the `--json` outputs have always been
/// (they were built with `json!`), through a `serde_json::Value`: the typed structs only fix
/// names and types in one place. Use it on small parts (one bundle, one finding).
pub struct Sorted<T>(pub T);

impl<T: serde::Serialize> serde::Serialize for Sorted<T> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serde_json::to_value(&self.0)
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }
}
