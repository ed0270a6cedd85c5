//! What differs between Unix and Windows, behind one small interface: process groups (Windows: job
//! objects) and killing them, interruption by signals (Windows: console events), private file
//! modes, opening files other processes hold open, decoding command output, host facts.
//!
//! Both `unix.rs` and `windows.rs` provide: `install_interrupt_handler`, `own_process_group`,
//! `register_child`, `unregister_child`, `kill_tree`, `kill_all_children`, `private_file`,
//! `set_public_mode`, `open_shared`, `decode_output`, `ansi_on_stderr`, `live_hostname`,
//! `live_os_release`, `live_kernel`, `be_nice`, `EXTRA_COMMAND_DIRS`, `EXECUTABLE_SUFFIXES`,
//! and the safe-create primitives every file drx-collect writes goes through: `create_new_private`
//! (new file, 0600, `O_EXCL | O_NOFOLLOW`), `open_lock_file`, `check_output_dir`, and
//! `write_private_replacing` here (temporary file + rename).
#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

use std::sync::atomic::{AtomicI32, Ordering};

/// The environment variable every command (and so every process it starts) carries, with a value
/// naming this run and the command: how a timeout finds a grandchild that left the process group.
pub const CHILD_MARKER: &str = "DRX_COLLECT_CHILD";

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

/// Forgets an interruption that was handled: `watch` ends its sampling at Ctrl-C and then still
/// writes its bundle (a second Ctrl-C stops that as usual).
pub fn clear_interrupted() {
    set_interrupted(0);
}

/// Interruptions on Windows, which has console events instead of signals. Ctrl-C keeps SIGINT's
/// number; the others are outside the signal range.
#[cfg_attr(not(windows), allow(dead_code))]
const INTERRUPTED_BY_CTRL_C: i32 = 2;
#[cfg_attr(not(windows), allow(dead_code))]
const INTERRUPTED_BY_BREAK: i32 = 1001;
#[cfg_attr(not(windows), allow(dead_code))]
const INTERRUPTED_BY_CLOSE: i32 = 1002;
#[cfg_attr(not(windows), allow(dead_code))]
const INTERRUPTED_BY_SHUTDOWN: i32 = 1003;

/// Names the interrupting signal for the error message.
pub fn interruption_name(signal: i32) -> &'static str {
    match signal {
        INTERRUPTED_BY_CTRL_C if cfg!(windows) => "Ctrl-C",
        2 => "Ctrl-C (SIGINT)",
        15 => "SIGTERM",
        1 => "SIGHUP",
        INTERRUPTED_BY_BREAK => "Ctrl-Break",
        INTERRUPTED_BY_CLOSE => "closing the console window",
        INTERRUPTED_BY_SHUTDOWN => "log-off or shutdown",
        _ => "an interruption",
    }
}

/// Opens `path` for reading only if it is a regular file: a FIFO put where a file (a bundle, a
/// process's `comm`) was expected would block the open or never end, a device (`/dev/zero`)
/// reads without end. The open does not wait (`O_NONBLOCK`, which regular files ignore), and the
/// opened file itself is checked, so a name swapped between a check and the open changes nothing.
pub fn open_regular(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    open_regular_file(path, false)
}

/// [`open_regular`], and `path` itself must not be a link: a file under `--root` (a process's
/// `comm` in the root's `proc/`) linked to one of the collecting machine's own is not read.
pub fn open_regular_not_linked(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    open_regular_file(path, true)
}

fn open_regular_file(path: &std::path::Path, not_linked: bool) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let no_follow = if not_linked { libc::O_NOFOLLOW } else { 0 };
        options.custom_flags(libc::O_NONBLOCK | no_follow);
    }
    // Without O_NOFOLLOW the name is checked first; the opened file is checked below either way.
    #[cfg(not(unix))]
    if not_linked && std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "it is a link",
        ));
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "it is not a regular file (a device, FIFO or socket)",
        ));
    }
    Ok(file)
}

/// Creates the directory `path` (not its parents) readable by its owner only (0700 on Unix).
pub fn create_private_dir(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// Writes `content` to `path`, replacing it atomically: a new private temporary file beside it
/// (`create_new_private`: never through a planted link, never an existing file), then a rename,
/// which replaces a link at `path` itself rather than the file it points to. Every file
/// drx-collect writes whole (sidecars, the map file) goes through here.
pub fn write_private_replacing(path: &std::path::Path, content: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_string());
    for attempt in 0..64 {
        let temporary = dir.join(format!(".{name}.tmp-{}-{attempt}", std::process::id()));
        let mut file = match create_new_private(&temporary) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        };
        let written = file
            .write_all(content)
            .and_then(|()| file.sync_all())
            .and_then(|()| {
                drop(file);
                std::fs::rename(&temporary, path)
            });
        if written.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        return written;
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        "too many temporary files of this name already exist beside it",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interruptions_have_names() {
        assert_eq!(interruption_name(15), "SIGTERM");
        assert_eq!(
            interruption_name(INTERRUPTED_BY_CLOSE),
            "closing the console window"
        );
        assert_eq!(interruption_name(-1), "an interruption");
    }

    #[test]
    fn plain_output_passes_through_unchanged() {
        let bytes = b"Ethernet adapter:\r\n   IPv4 Address: 10.0.0.1\r\n".to_vec();
        assert_eq!(decode_output(bytes.clone()), bytes);
    }
}
