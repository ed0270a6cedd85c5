//! `inspect --list`, `--cat PATH`, `--extract DIR` (SPEC §7). A bundle is untrusted: extraction
//! never writes outside DIR, never creates links or devices, never overwrites, and stops at a cap.
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::archive::reader::{BundleReader, EntryKind, EntryMeta};
use crate::error::{describe_io, Error, Result};
use crate::inspect::verify::split_name;

/// Every entry of the bundle in archive order, as the container describes it.
pub fn list(reader: &mut BundleReader) -> Result<Vec<EntryMeta>> {
    let mut entries = Vec::new();
    reader.for_each(&mut |meta, _| {
        entries.push(meta.clone());
        Ok(())
    })?;
    Ok(entries)
}

/// Writes the content of the file at `path` to `out`. `path` is relative to the top directory
/// (`files/etc/hosts`) or includes it (`drx-collect-node1-…/files/etc/hosts`).
pub fn cat(reader: &mut BundleReader, path: &str, out: &mut dyn Write) -> Result<()> {
    let wanted = split_name(path)
        .ok()
        .filter(|parts| !parts.is_empty())
        .ok_or_else(|| {
            Error::usage(format!(
                "{path} is not a path inside a bundle; give it relative to the bundle's top directory"
            ))
        })?;
    let label = reader.label().to_string();
    let mut top: Option<String> = None;
    let mut found = false;
    let mut failure: Option<Error> = None;
    let walked = reader.for_each(&mut |meta, content| {
        let Ok(parts) = split_name(&meta.name) else {
            return Ok(());
        };
        let Some((first, rest)) = parts.split_first() else {
            return Ok(());
        };
        if top.is_none() && (!rest.is_empty() || meta.kind == EntryKind::Dir) {
            top = Some(first.to_string());
        }
        let matches = parts == wanted || (top.as_deref() == Some(*first) && rest == wanted);
        if !matches {
            return Ok(());
        }
        if meta.kind != EntryKind::File {
            failure = Some(Error::failed(format!(
                "{path} in bundle {label} is not a regular file ({}); nothing to print",
                describe_kind(&meta.kind)
            )));
        } else {
            match copy(content, out) {
                Ok(_) => found = true,
                Err(Side::Read(e)) => return Err(Error::failed(describe_io(&e))),
                Err(Side::Write(e)) => {
                    failure = Some(Error::failed(format!(
                        "cannot write the content of {path}: {}",
                        describe_io(&e)
                    )))
                }
            }
        }
        // Stop the walk: the first match is the answer (a duplicate is an integrity problem).
        Err(Error::failed("stop"))
    });
    if let Some(err) = failure {
        return Err(err);
    }
    if found {
        return Ok(());
    }
    walked?;
    Err(Error::failed(format!(
        "bundle {label} has no file {path}; list its files with `drx-collect inspect --list {label}`"
    )))
}

/// What `extract` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    pub files: u64,
    pub dirs: u64,
    pub bytes: u64,
    /// Entries not written, with the reason.
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The entry's name as stored (lossy UTF-8).
    pub name: String,
    pub reason: String,
}

/// Extracts the bundle's regular files and directories into `dir` (created if absent), keeping
/// the top directory. Unsafe entries, links, devices and names that already exist are skipped and
/// reported; more than `cap` bytes of content is an error (files written so far stay).
pub fn extract(reader: &mut BundleReader, dir: &Path, cap: u64) -> Result<Extracted> {
    fs::create_dir_all(dir).map_err(|e| {
        Error::io(
            "create directory",
            dir,
            &e,
            "choose a directory you may write to",
        )
    })?;
    let label = reader.label().to_string();
    let mut done = Extracted::default();
    reader.for_each(&mut |meta, content| {
        let skip = |done: &mut Extracted, reason: String| {
            done.skipped.push(Skipped {
                name: meta.name.clone(),
                reason,
            });
            Ok(())
        };
        if std::str::from_utf8(&meta.raw_name).is_err() {
            return skip(&mut done, "its name is not valid UTF-8".into());
        }
        let parts = match split_name(&meta.name) {
            Ok(parts) => parts,
            Err(why) => return skip(&mut done, format!("refused: {why}")),
        };
        if parts.is_empty() {
            return Ok(());
        }
        if let Some(why) = parts.iter().find_map(|p| component_problem(p)) {
            return skip(&mut done, format!("refused: {why}"));
        }
        match &meta.kind {
            EntryKind::Dir => {
                if let Err(why) = make_dirs(dir, &parts)? {
                    return skip(&mut done, why);
                }
                done.dirs += 1;
                Ok(())
            }
            EntryKind::File => {
                let (_, parents) = parts.split_last().unwrap_or((&"", &[]));
                if let Err(why) = make_dirs(dir, parents)? {
                    return skip(&mut done, why);
                }
                let target: PathBuf = parts.iter().fold(dir.to_path_buf(), |p, c| p.join(c));
                // create_new: never overwrite, and never follow a link already at this name.
                let mut file = match OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&target)
                {
                    Ok(file) => file,
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        let why = "it already exists (a duplicate name?); not overwritten";
                        return skip(&mut done, why.into());
                    }
                    Err(e) => {
                        return Err(Error::io(
                            "create",
                            &target,
                            &e,
                            "choose a directory you may write to",
                        ))
                    }
                };
                let room = cap.saturating_sub(done.bytes);
                let copied = copy(&mut content.take(room.saturating_add(1)), &mut file);
                let n = match copied {
                    Ok(n) => n,
                    Err(Side::Read(e)) => return Err(Error::failed(describe_io(&e))),
                    Err(Side::Write(e)) => {
                        return Err(Error::io("write", &target, &e, "check the free space"))
                    }
                };
                if n > room {
                    drop(file);
                    // Leave no half-written file behind.
                    let _ = fs::remove_file(&target);
                    return Err(Error::failed(format!(
                        "extracting bundle {label} into {} stopped at the {cap}-byte limit; \
                         extract to a place with room for more and raise the limit",
                        dir.display()
                    )));
                }
                done.files += 1;
                done.bytes += n;
                Ok(())
            }
            kind => skip(
                &mut done,
                format!(
                    "{}; links and special files are never created",
                    describe_kind(kind)
                ),
            ),
        }
    })?;
    Ok(done)
}

fn describe_kind(kind: &EntryKind) -> String {
    match kind {
        EntryKind::File => "a regular file".into(),
        EntryKind::Dir => "a directory".into(),
        EntryKind::Symlink(target) => format!("a symbolic link to {target}"),
        EntryKind::Hardlink(target) => format!("a hard link to {target}"),
        EntryKind::Other(what) => format!("a {what}"),
    }
}

/// Creates `parts` under `root` one level at a time. Anything already there must be a real
/// directory: a symbolic link (planted by an earlier entry or already present) is never followed.
/// The inner `Err` is a reason to skip the entry; the outer one an I/O failure.
fn make_dirs(root: &Path, parts: &[&str]) -> Result<std::result::Result<(), String>> {
    let mut path = root.to_path_buf();
    for part in parts {
        path.push(part);
        match fs::symlink_metadata(&path) {
            Ok(md) if md.is_dir() => continue,
            Ok(_) => {
                return Ok(Err(format!(
                    "{} exists and is not a directory; not followed",
                    path.display()
                )))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("inspect", &path, &e, "")),
        }
        match fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if !fs::symlink_metadata(&path).is_ok_and(|md| md.is_dir()) {
                    return Ok(Err(format!(
                        "{} exists and is not a directory; not followed",
                        path.display()
                    )));
                }
            }
            Err(e) => {
                return Err(Error::io(
                    "create directory",
                    &path,
                    &e,
                    "choose a directory you may write to",
                ))
            }
        }
    }
    Ok(Ok(()))
}

/// Names that mean something else to Windows (devices, streams, separators) are refused there.
fn component_problem(part: &str) -> Option<&'static str> {
    if !cfg!(windows) {
        return None;
    }
    if part
        .chars()
        .any(|c| c.is_control() || "<>:\"|?*\\".contains(c))
    {
        return Some("its name has a character Windows reserves");
    }
    if part.ends_with('.') || part.ends_with(' ') {
        return Some("its name ends with a dot or space, which Windows drops");
    }
    let stem = part.split('.').next().unwrap_or(part).to_ascii_uppercase();
    let reserved = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"];
    let numbered = ["COM", "LPT"];
    let is_numbered = numbered
        .iter()
        .any(|p| stem.len() == 4 && stem.starts_with(p) && stem.as_bytes()[3].is_ascii_digit());
    if reserved.contains(&stem.as_str()) || is_numbered {
        return Some("its name is a Windows device name");
    }
    None
}

enum Side {
    Read(io::Error),
    Write(io::Error),
}

/// Copies, telling a failed read (damage, a limit) from a failed write (disk full, closed pipe).
fn copy(from: &mut dyn Read, to: &mut dyn Write) -> std::result::Result<u64, Side> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Side::Read(e)),
        };
        to.write_all(&buf[..n]).map_err(Side::Write)?;
        total += n as u64;
    }
}
