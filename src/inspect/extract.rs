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

/// `--list`, `--cat PATH` or `--extract DIR`, as asked.
pub fn run_action(reader: &mut BundleReader, settings: &super::Settings) -> Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if settings.list {
        let mut text = String::new();
        for entry in list(reader)? {
            let kind = match &entry.kind {
                EntryKind::File => String::new(),
                EntryKind::Dir => " (directory)".into(),
                EntryKind::Symlink(target) => format!(" -> {target} (link, never extracted)"),
                EntryKind::Hardlink(target) => format!(" => {target} (hard link, never extracted)"),
                EntryKind::Other(what) => format!(" ({what}, never extracted)"),
            };
            text.push_str(&format!("{:>12}  {}{kind}\n", entry.size, entry.name));
        }
        return crate::write_out(&mut out, text.as_bytes());
    }
    if let Some(path) = &settings.cat {
        return cat(reader, path, &mut out);
    }
    if let Some(dir) = &settings.extract {
        let done = extract(reader, dir, super::EXTRACT_CAP)?;
        let mut text = format!(
            "extracted {} files ({} bytes) into {}\n",
            done.files,
            done.bytes,
            dir.display()
        );
        for skipped in &done.skipped {
            text.push_str(&format!(
                "  left out {}: {}\n",
                skipped.name, skipped.reason
            ));
        }
        return crate::write_out(&mut out, text.as_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::testkit::*;

    /// Every path under `root`, relative, sorted; symlinks are listed, never followed.
    fn tree(root: &Path) -> Vec<String> {
        let mut out: Vec<String> = walkdir::WalkDir::new(root)
            .min_depth(1)
            .into_iter()
            .map(|e| {
                let e = e.unwrap();
                e.path()
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        out.sort();
        out
    }

    fn hostile() -> Vec<u8> {
        tgz(&[
            dir(&format!("{TOP}/")),
            file("../../escaped-dotdot", b"evil"),
            file(&format!("{TOP}/../../escaped-inner"), b"evil"),
            file("/tmp/drx-collect-test-absolute", b"evil"),
            ent(
                format!("{TOP}/passwd").as_bytes(),
                Kind::Symlink("/etc/passwd".into()),
            ),
            // Written "through" the link above, had it been created.
            file(&format!("{TOP}/passwd/x"), b"through the link"),
            ent(
                format!("{TOP}/hard").as_bytes(),
                Kind::Hardlink("/etc/shadow".into()),
            ),
            ent(format!("{TOP}/dev").as_bytes(), Kind::CharDevice),
            file(&format!("{TOP}/ok.txt"), b"first"),
            file(&format!("{TOP}/ok.txt"), b"second"),
        ])
    }

    #[test]
    fn hostile_bundle_writes_nothing_outside_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("a/b/out");
        let mut reader = BundleReader::from_bytes(hostile()).unwrap();
        let done = extract(&mut reader, &out, 1 << 20).unwrap();
        assert_eq!(
            tree(tmp.path()),
            [
                "a".to_string(),
                "a/b".into(),
                "a/b/out".into(),
                format!("a/b/out/{TOP}"),
                format!("a/b/out/{TOP}/ok.txt"),
                format!("a/b/out/{TOP}/passwd"),
                format!("a/b/out/{TOP}/passwd/x"),
            ]
        );
        assert!(!Path::new("/tmp/drx-collect-test-absolute").exists());
        // The duplicate did not overwrite the first copy.
        assert_eq!(fs::read(out.join(TOP).join("ok.txt")).unwrap(), b"first");
        let skipped: Vec<&str> = done.skipped.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(skipped.len(), 7, "{skipped:?}");
        assert_eq!(done.files, 2);
        let link = out.join(TOP).join("passwd");
        assert!(fs::symlink_metadata(link).unwrap().is_dir());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_already_in_dir_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let elsewhere = tmp.path().join("elsewhere");
        fs::create_dir_all(&out).unwrap();
        fs::create_dir_all(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, out.join(TOP)).unwrap();
        std::os::unix::fs::symlink(elsewhere.join("f"), out.join("loose")).unwrap();
        let bytes = tgz(&[file(&format!("{TOP}/files/x"), b"x"), file("loose", b"x")]);
        let mut reader = BundleReader::from_bytes(bytes).unwrap();
        let done = extract(&mut reader, &out, 1 << 20).unwrap();
        assert_eq!(done.files, 0);
        assert_eq!(done.skipped.len(), 2);
        assert!(tree(&elsewhere).is_empty());
    }

    #[test]
    fn extraction_stops_at_the_cap_and_removes_the_partial_file() {
        let tmp = tempfile::tempdir().unwrap();
        let bytes = tgz(&[
            file(&format!("{TOP}/a"), &[1u8; 600]),
            file(&format!("{TOP}/b"), &[2u8; 600]),
        ]);
        let mut reader = BundleReader::from_bytes(bytes).unwrap();
        let err = extract(&mut reader, tmp.path(), 1000).unwrap_err();
        assert!(err.message().contains("1000-byte limit"), "{err}");
        assert_eq!(tree(tmp.path()), [TOP.to_string(), format!("{TOP}/a")]);
    }

    #[test]
    fn honest_bundle_extracts_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let files = honest_files();
        let mut reader = BundleReader::from_bytes(zip(&entries(&files))).unwrap();
        let done = extract(&mut reader, tmp.path(), 1 << 20).unwrap();
        assert!(done.skipped.is_empty());
        for (path, data) in &files {
            assert_eq!(&fs::read(tmp.path().join(TOP).join(path)).unwrap(), data);
        }
    }

    #[test]
    fn cat_finds_a_file_with_or_without_the_top_directory() {
        for background in [false, true] {
            for path in [
                "files/etc/hosts",
                &format!("{TOP}/files/etc/hosts"),
                "./files/etc/hosts",
            ] {
                let mut reader = BundleReader::from_bytes(tgz(&entries(&honest_files()))).unwrap();
                reader.set_background(background);
                let mut out = Vec::new();
                cat(&mut reader, path, &mut out).unwrap();
                assert!(out.starts_with(b"127.0.0.1 localhost"));
            }
        }
        let mut reader = BundleReader::from_bytes(tgz(&entries(&honest_files()))).unwrap();
        let err = cat(&mut reader, "files/nope", &mut Vec::new()).unwrap_err();
        assert!(err.message().contains("has no file files/nope"), "{err}");
        let mut reader = BundleReader::from_bytes(hostile()).unwrap();
        let err = cat(&mut reader, "passwd", &mut Vec::new()).unwrap_err();
        assert!(err.message().contains("symbolic link"), "{err}");
        let err = cat(&mut reader, "../x", &mut Vec::new()).unwrap_err();
        assert_eq!(err.status(), crate::error::ExitStatus::Usage);
    }

    #[test]
    fn list_shows_every_entry_with_its_size() {
        let mut reader = BundleReader::from_bytes(hostile()).unwrap();
        let listed = list(&mut reader).unwrap();
        assert_eq!(listed.len(), 10);
        assert_eq!(listed[8].name, format!("{TOP}/ok.txt"));
        assert_eq!(listed[8].size, 5);
    }
}
