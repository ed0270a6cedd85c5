//! `inspect --list`, `--cat PATH`, `--extract DIR` (SPEC §7). A bundle is untrusted: extraction
//! never writes outside DIR, never creates links or devices, never overwrites, creates what it
//! writes private to its user (files 0600, directories 0700), and stops at a cap (bytes and
//! files) that `--max-extract` raises.
//!
//! What is returned is verified, in the same pass as inspect verifies (the member's `SHA256SUMS`
//! line, the archive's own checks: gzip CRC and length, declared sizes):
//! - `--extract` writes as it reads, then removes every file that `SHA256SUMS` does not confirm; a
//!   failure on the way (damage, a full disk, the cap) removes everything it wrote.
//! - `--cat` holds the member back until the whole bundle is verified (up to [`CAT_HOLD`]); a
//!   larger member streams, and if it then fails its check, stderr says the bytes printed are not
//!   verified. It prints the member's raw bytes on purpose: that is its job (pipe it into a pager
//!   that escapes, such as `less`, to look at a suspicious file on a terminal).
//! - All three exit 3 (SPEC §8) when the bundle is not intact, after doing what is safe.
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::archive::reader::{BundleReader, EntryKind, EntryMeta};
use crate::error::{describe_io, Error, Result};
use crate::escape::field;
use crate::inspect::verify::{self, split_name, Verification};

/// The most of one member `--cat` holds back until the bundle is verified.
pub const CAT_HOLD: usize = 32 << 20;

/// How much `--extract` may write (a bundle is untrusted: a few megabytes can expand to gigabytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub bytes: u64,
    pub files: u64,
}

impl Caps {
    /// The default: more than any honest bundle holds (`--max-file-size` 64 MiB per file).
    pub const DEFAULT_BYTES: u64 = 2 << 30;
    /// Files: the collector keeps at most 10,000 files per glob; bundles hold far fewer.
    pub const MAX_FILES: u64 = 100_000;

    pub fn with_bytes(bytes: u64) -> Caps {
        Caps {
            bytes,
            files: Caps::MAX_FILES,
        }
    }
}

/// Every entry of the bundle in archive order as the container describes it, and the bundle's
/// verification (an `Err` when the bundle could not be read to its end).
pub fn list(reader: &mut BundleReader) -> (Vec<EntryMeta>, Result<Verification>) {
    let mut entries = Vec::new();
    let verified = verify::verify_entries(
        reader,
        &mut |meta| entries.push(meta.clone()),
        &mut |_, _| Ok(()),
    );
    (entries, verified)
}

/// The path `--cat` was given, as components; with or without the top directory.
fn wanted_parts(path: &str) -> Result<Vec<&str>> {
    split_name(path)
        .ok()
        .filter(|parts| !parts.is_empty())
        .ok_or_else(|| {
            Error::usage(format!(
                "{} is not a path inside a bundle; give it relative to the bundle's top directory",
                field(path)
            ))
        })
}

/// Writes the content of the file at `path` to `out`, once verified. `path` is relative to the
/// top directory (`files/etc/hosts`) or includes it (`drx-collect-node1-…/files/etc/hosts`).
pub fn cat(reader: &mut BundleReader, path: &str, out: &mut dyn Write) -> Result<()> {
    let wanted = wanted_parts(path)?;
    let label = reader.label().to_string();
    let shown = field(path).into_owned();
    let mut found: Option<String> = None;
    let mut held: Vec<u8> = Vec::new();
    let mut streamed = 0u64;
    let mut local: Option<Error> = None;
    let write_failed = |e: &io::Error| {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Error::failed("broken pipe")
        } else {
            Error::failed(format!(
                "cannot write the content of {shown}: {}",
                describe_io(e)
            ))
        }
    };
    let walked = verify::verify_files(reader, &mut |member, content| {
        let rel: Vec<&str> = member.rel.split('/').collect();
        let matches =
            rel == wanted || (wanted.first() == Some(&member.top) && wanted[1..] == rel[..]);
        if found.is_some() || !matches {
            return Ok(());
        }
        found = Some(member.rel.to_string());
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match content.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::failed(describe_io(&e))),
            };
            if streamed == 0 && held.len() + n <= CAT_HOLD {
                held.extend_from_slice(&buf[..n]);
                continue;
            }
            // Too big to hold back: from here on it streams, verified only at the end.
            let result = out.write_all(&held).and_then(|_| out.write_all(&buf[..n]));
            streamed += (held.len() + n) as u64;
            held = Vec::new();
            if let Err(e) = result {
                local = Some(write_failed(&e));
                return Err(Error::failed("stop"));
            }
        }
    });
    if let Some(err) = local {
        return Err(err);
    }
    let unverified = |why: &str| {
        if streamed > 0 {
            Error::integrity(format!(
                "the {streamed} bytes of {shown} printed above are NOT verified: {why}"
            ))
        } else {
            Error::integrity(format!("{shown} was not printed: {why}"))
        }
    };
    let verification = match walked {
        Ok(v) => v,
        Err(err) => return Err(unverified(err.message())),
    };
    let Some(rel) = found else {
        // A link, a device or a refused name there is an integrity problem, not a missing file.
        let names = [
            wanted.join("/"),
            wanted.get(1..).unwrap_or_default().join("/"),
        ];
        if let Some(problem) = verification
            .problems
            .iter()
            .find(|p| names.contains(&p.path) && p.kind == verify::ProblemKind::Unsafe)
        {
            return Err(Error::integrity(format!(
                "{shown} in bundle {label} is not a regular file ({}); nothing to print",
                problem.detail
            )));
        }
        return Err(Error::failed(format!(
            "bundle {label} has no file {shown}; list its files with `drx-collect inspect --list {label}`"
        )));
    };
    if !verification.confirmed()(&rel) {
        return Err(unverified(&format!(
            "{}; the bundle is not intact, see `drx-collect inspect {label}`",
            why_unconfirmed(&verification, &rel)
        )));
    }
    out.write_all(&held)
        .and_then(|_| out.flush())
        .map_err(|e| write_failed(&e))?;
    not_intact(&verification, &label, "the file printed is verified")
}

/// Why `rel` is not confirmed, in one phrase.
fn why_unconfirmed(verification: &Verification, rel: &str) -> String {
    let problem = verification
        .problems
        .iter()
        .find(|p| p.path == rel)
        .or_else(|| {
            verification
                .problems
                .iter()
                .find(|p| p.path == "SHA256SUMS")
        });
    match problem {
        Some(p) if p.path == rel => p.detail.clone(),
        Some(p) => format!("SHA256SUMS cannot confirm it ({})", p.detail),
        None => "it could not be verified".to_string(),
    }
}

/// Exit 3 with one sentence when the bundle has problems, after the safe part was done.
fn not_intact(verification: &Verification, label: &str, done: &str) -> Result<()> {
    if verification.ok() {
        return Ok(());
    }
    Err(Error::integrity(format!(
        "bundle {label} is not intact ({} problem(s)); {done}; see `drx-collect inspect {label}`",
        verification.problems.len()
    )))
}

/// What `extract` did.
#[derive(Debug, Clone, Default)]
pub struct Extracted {
    pub files: u64,
    pub bytes: u64,
    /// Files not written, or removed after the check, with the reason.
    pub skipped: Vec<Skipped>,
    /// The bundle's verification (its problems are what `inspect` would report).
    pub verification: Option<Verification>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The entry's name relative to the top directory (lossy UTF-8).
    pub name: String,
    pub reason: String,
}

/// What `extract` created, so that a failure can take it all back.
#[derive(Default)]
struct Made {
    /// Directories and files in the order they were created.
    paths: Vec<(PathBuf, bool)>,
}

impl Made {
    fn dir(&mut self, path: PathBuf) {
        self.paths.push((path, true));
    }

    fn file(&mut self, path: PathBuf) {
        self.paths.push((path, false));
    }

    /// Removes everything, newest first (a directory only once empty).
    fn undo(&mut self) {
        for (path, is_dir) in self.paths.drain(..).rev() {
            let _ = if is_dir {
                fs::remove_dir(&path)
            } else {
                fs::remove_file(&path)
            };
        }
    }
}

/// A reason to leave one member out, or a failure that ends the extraction.
enum Refusal {
    Skip(String),
    Fail(Error),
    Damage(io::Error),
}

/// Extracts the bundle's files into `dir` (created if absent), keeping the top directory, and
/// verifies them on the way. Unsafe entries, links, devices and names that already exist are
/// left out; a file that `SHA256SUMS` does not confirm is removed after the check; damage, a write
/// failure or the caps remove everything written and are an error (damage: exit 3).
pub fn extract(reader: &mut BundleReader, dir: &Path, caps: Caps) -> Result<Extracted> {
    let mut made = Made::default();
    make_root(dir, &mut made)?;
    let label = reader.label().to_string();
    let mut done = Extracted::default();
    let mut written: Vec<(String, PathBuf, u64)> = Vec::new();
    let mut local: Option<Error> = None;
    let walked = verify::verify_files(reader, &mut |member, content| match write_member(
        dir, member, content, caps, &done, &mut made, &label,
    ) {
        Ok((path, n)) => {
            done.files += 1;
            done.bytes += n;
            written.push((member.rel.to_string(), path, n));
            Ok(())
        }
        Err(Refusal::Skip(reason)) => {
            done.skipped.push(Skipped {
                name: member.rel.to_string(),
                reason,
            });
            Ok(())
        }
        Err(Refusal::Fail(err)) => {
            local = Some(err);
            Err(Error::failed("stop"))
        }
        Err(Refusal::Damage(e)) => Err(Error::integrity(describe_io(&e))),
    });
    let verification = match walked {
        Ok(v) => v,
        Err(err) => {
            made.undo();
            let undone = format!("nothing was left in {}", dir.display());
            return Err(match local {
                Some(err) => Error::failed(format!("{}; {undone}", err.message())),
                // The reader's error: the bundle is damaged or over a reading limit.
                None => Error::integrity(format!("{}; {undone}", err.message())),
            });
        }
    };
    let confirmed = verification.confirmed();
    for (rel, path, n) in written {
        if confirmed(&rel) {
            continue;
        }
        let why = why_unconfirmed(&verification, &rel);
        fs::remove_file(&path).map_err(|e| {
            Error::io(
                "remove unverified file",
                &path,
                &e,
                "delete it by hand: its content is not what the bundle's checksums say",
            )
        })?;
        done.files -= 1;
        done.bytes -= n;
        done.skipped.push(Skipped {
            name: rel,
            reason: format!("removed, not verified: {why}"),
        });
    }
    drop(confirmed);
    done.verification = Some(verification);
    Ok(done)
}

/// Creates `dir` and any missing parents (0700), remembering what it created.
fn make_root(dir: &Path, made: &mut Made) -> Result<()> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(path) = at {
        if path.as_os_str().is_empty() || fs::symlink_metadata(path).is_ok() {
            break;
        }
        missing.push(path.to_path_buf());
        at = path.parent();
    }
    for path in missing.into_iter().rev() {
        match private_dir(&path) {
            Ok(()) => made.dir(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                made.undo();
                return Err(Error::io(
                    "create directory",
                    &path,
                    &e,
                    "choose a directory you may write to",
                ));
            }
        }
    }
    if !fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Err(Error::failed(format!(
            "{} is not a directory; give --extract a directory",
            dir.display()
        )));
    }
    Ok(())
}

fn write_member(
    dir: &Path,
    member: &verify::Member,
    content: &mut dyn Read,
    caps: Caps,
    done: &Extracted,
    made: &mut Made,
    label: &str,
) -> std::result::Result<(PathBuf, u64), Refusal> {
    let mut parts = vec![member.top];
    parts.extend(member.rel.split('/'));
    if let Some(why) = parts.iter().find_map(|p| component_problem(p)) {
        return Err(Refusal::Skip(format!("refused: {why}")));
    }
    if done.files >= caps.files {
        return Err(Refusal::Fail(Error::failed(format!(
            "bundle {label} has more than {} files, the most --extract writes; it may be hostile",
            caps.files
        ))));
    }
    let (_, parents) = parts.split_last().unwrap_or((&"", &[]));
    make_dirs(dir, parents, made)?;
    let target: PathBuf = parts.iter().fold(dir.to_path_buf(), |p, c| p.join(c));
    let mut file = match crate::archive::split::create_private(&target) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let why = "it already exists (a duplicate name, or extracted before?); not overwritten";
            return Err(Refusal::Skip(why.into()));
        }
        Err(e) => {
            return Err(Refusal::Fail(Error::io(
                "create",
                &target,
                &e,
                "choose a directory you may write to",
            )))
        }
    };
    made.file(target.clone());
    let room = caps.bytes.saturating_sub(done.bytes);
    let n = match copy(&mut content.take(room.saturating_add(1)), &mut file) {
        Ok(n) => n,
        // The bundle's fault (damage, a reading limit): the walk reports it.
        Err(Side::Read(e)) => return Err(Refusal::Damage(e)),
        Err(Side::Write(e)) => {
            return Err(Refusal::Fail(Error::io(
                "write",
                &target,
                &e,
                "check the free space",
            )))
        }
    };
    if n > room {
        return Err(Refusal::Fail(Error::failed(format!(
            "extracting bundle {label} into {} stopped at the {}-byte limit; give --max-extract a larger SIZE (and a place with room for it) if you trust this bundle",
            dir.display(),
            caps.bytes
        ))));
    }
    Ok((target, n))
}

/// Creates `parts` under `root` one level at a time (0700). Anything already there must be a real
/// directory: a symbolic link (planted by an earlier entry or already present) is never followed.
fn make_dirs(root: &Path, parts: &[&str], made: &mut Made) -> std::result::Result<(), Refusal> {
    let not_a_dir = |path: &Path| {
        Refusal::Skip(format!(
            "{} exists and is not a directory; not followed",
            path.display()
        ))
    };
    let mut path = root.to_path_buf();
    for part in parts {
        path.push(part);
        match fs::symlink_metadata(&path) {
            Ok(md) if md.is_dir() => continue,
            Ok(_) => return Err(not_a_dir(&path)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Refusal::Fail(Error::io("inspect", &path, &e, ""))),
        }
        match private_dir(&path) {
            Ok(()) => made.dir(path.clone()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if !fs::symlink_metadata(&path).is_ok_and(|md| md.is_dir()) {
                    return Err(not_a_dir(&path));
                }
            }
            Err(e) => {
                return Err(Refusal::Fail(Error::io(
                    "create directory",
                    &path,
                    &e,
                    "choose a directory you may write to",
                )))
            }
        }
    }
    Ok(())
}

/// A new directory readable by its owner only: a bundle holds customer data.
fn private_dir(path: &Path) -> io::Result<()> {
    crate::platform::create_private_dir(path)
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

/// `--list`, `--cat PATH` or `--extract DIR`, as asked. Human output is escaped; `--cat` is not.
pub fn run_action(reader: &mut BundleReader, settings: &super::Settings) -> Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let label = reader.label().to_string();
    if settings.list {
        let (entries, verified) = list(reader);
        let mut text = String::new();
        for entry in entries {
            let kind = match &entry.kind {
                EntryKind::File => String::new(),
                EntryKind::Dir => " (directory)".into(),
                EntryKind::Symlink(target) => {
                    format!(" -> {} (link, never extracted)", field(target))
                }
                EntryKind::Hardlink(target) => {
                    format!(" => {} (hard link, never extracted)", field(target))
                }
                EntryKind::Other(what) => format!(" ({what}, never extracted)"),
            };
            text.push_str(&format!(
                "{:>12}  {}{kind}\n",
                entry.size,
                field(&entry.name)
            ));
        }
        crate::stdout::write_human(&mut out, &text)?;
        return match verified {
            Ok(verification) => not_intact(&verification, &label, "the list shows every entry"),
            Err(err) => Err(Error::integrity(format!(
                "{}; the list above stops there",
                err.message()
            ))),
        };
    }
    if let Some(path) = &settings.cat {
        return cat(reader, path, &mut out);
    }
    if let Some(dir) = &settings.extract {
        let caps = Caps::with_bytes(settings.max_extract);
        // The reader's own bound must not stop a larger extraction that the user asked for.
        let mut limits = reader.limits();
        limits.max_total_bytes = limits
            .max_total_bytes
            .max(caps.bytes.saturating_add(1 << 30));
        limits.max_entry_bytes = limits.max_entry_bytes.max(caps.bytes.saturating_add(1));
        reader.set_limits(limits);
        let done = extract(reader, dir, caps)?;
        let mut text = format!(
            "extracted {} files ({} bytes) into {}\n",
            done.files,
            done.bytes,
            field(&dir.display().to_string())
        );
        for skipped in &done.skipped {
            text.push_str(&format!(
                "  left out {}: {}\n",
                field(&skipped.name),
                field(&skipped.reason)
            ));
        }
        let problems = done.verification.as_ref().map(|v| &v.problems[..]);
        for problem in problems.unwrap_or_default() {
            text.push_str(&format!(
                "  {:<8} {}: {}\n",
                problem.kind.as_str(),
                field(&problem.path),
                field(&problem.detail)
            ));
        }
        crate::stdout::write_human(&mut out, &text)?;
        return match &done.verification {
            Some(verification) => not_intact(
                verification,
                &label,
                "what is verified was extracted, the rest left out",
            ),
            None => Ok(()),
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::testkit::*;
    use crate::error::ExitStatus;

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

    /// The regular files under `root`, relative.
    fn files_in(root: &Path) -> Vec<String> {
        let mut out: Vec<String> = walkdir::WalkDir::new(root)
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file())
            .map(|e| {
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

    fn honest_paths() -> Vec<String> {
        let mut out: Vec<String> = honest_files()
            .iter()
            .map(|(p, _)| format!("{TOP}/{p}"))
            .collect();
        out.sort();
        out
    }

    /// An honest bundle with every kind of attack added.
    fn hostile() -> Vec<u8> {
        let mut all = entries(&honest_files());
        all.extend([
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
            file(&format!("{TOP}/files/etc/hosts"), b"second copy"),
        ]);
        tgz(&all)
    }

    fn caps(bytes: u64) -> Caps {
        Caps::with_bytes(bytes)
    }

    #[test]
    fn hostile_bundle_writes_nothing_outside_dir_and_only_verified_files() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("a/b/out");
        let mut reader = BundleReader::from_bytes(hostile()).unwrap();
        let done = extract(&mut reader, &out, caps(1 << 20)).unwrap();
        // A name stored twice is ambiguous (tar would keep the second copy): neither is returned.
        let mut want = honest_paths();
        want.retain(|p| !p.ends_with("files/etc/hosts"));
        assert_eq!(files_in(&out), want);
        assert!(!tmp.path().join("escaped-inner").exists());
        assert!(!Path::new("/tmp/drx-collect-test-absolute").exists());
        let link = out.join(TOP).join("passwd");
        assert!(!fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        // `passwd/x` was written, then removed: SHA256SUMS does not list it.
        assert!(done
            .skipped
            .iter()
            .any(|s| s.name == "passwd/x" && s.reason.contains("not listed")));
        assert_eq!(done.files, honest_files().len() as u64 - 1);
        let verification = done.verification.unwrap();
        assert!(!verification.ok());
        assert!(verification.problems.iter().any(|p| p.path == "hard"));
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private_and_dirs_too() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("new/out");
        let mut reader = BundleReader::from_bytes(tgz(&entries(&honest_files()))).unwrap();
        extract(&mut reader, &out, caps(1 << 20)).unwrap();
        for entry in walkdir::WalkDir::new(tmp.path().join("new")) {
            let entry = entry.unwrap();
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            let want = if entry.file_type().is_dir() {
                0o700
            } else {
                0o600
            };
            assert_eq!(mode, want, "{}", entry.path().display());
        }
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
        let mut reader = BundleReader::from_bytes(tgz(&entries(&honest_files()))).unwrap();
        let done = extract(&mut reader, &out, caps(1 << 20)).unwrap();
        assert_eq!(done.files, 0);
        assert_eq!(done.skipped.len(), honest_files().len());
        assert!(tree(&elsewhere).is_empty());
        // A dangling link at a file's own name: never followed, never replaced.
        fs::remove_file(out.join(TOP)).unwrap();
        fs::create_dir_all(out.join(TOP).join("files/etc")).unwrap();
        std::os::unix::fs::symlink(elsewhere.join("f"), out.join(TOP).join("files/etc/hosts"))
            .unwrap();
        let mut reader = BundleReader::from_bytes(tgz(&entries(&honest_files()))).unwrap();
        let done = extract(&mut reader, &out, caps(1 << 20)).unwrap();
        assert!(done.skipped.iter().any(|s| s.name == "files/etc/hosts"));
        assert!(tree(&elsewhere).is_empty());
    }

    #[test]
    fn the_byte_cap_stops_extraction_and_removes_everything_written() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("x/out");
        let mut files = honest_files();
        files.push(("files/big".into(), vec![7u8; 5000]));
        let mut reader = BundleReader::from_bytes(tgz(&entries(&files))).unwrap();
        let err = extract(&mut reader, &out, caps(4000)).unwrap_err();
        assert!(err.message().contains("4000-byte limit"), "{err}");
        assert!(err.message().contains("--max-extract"), "{err}");
        assert_eq!(err.status(), ExitStatus::Failed);
        // Even the directories it made are gone.
        assert!(tree(tmp.path()).is_empty(), "{:?}", tree(tmp.path()));
    }

    #[test]
    fn the_file_cap_stops_extraction() {
        let tmp = tempfile::tempdir().unwrap();
        let mut reader = BundleReader::from_bytes(tgz(&entries(&honest_files()))).unwrap();
        let err = extract(
            &mut reader,
            tmp.path(),
            Caps {
                bytes: 1 << 20,
                files: 3,
            },
        )
        .unwrap_err();
        assert!(err.message().contains("more than 3 files"), "{err}");
        assert!(tree(tmp.path()).is_empty());
    }

    #[test]
    fn honest_bundle_extracts_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let files = honest_files();
        let mut reader = BundleReader::from_bytes(zip(&entries(&files))).unwrap();
        let done = extract(&mut reader, tmp.path(), caps(1 << 20)).unwrap();
        assert!(done.skipped.is_empty());
        assert!(done.verification.unwrap().ok());
        for (path, data) in &files {
            assert_eq!(&fs::read(tmp.path().join(TOP).join(path)).unwrap(), data);
        }
    }

    /// The honest bundle with one member's content changed after SHA256SUMS was made.
    fn bit_flipped() -> Vec<(String, Vec<u8>)> {
        let mut files = honest_files();
        for (path, data) in files.iter_mut() {
            if path == "files/etc/hosts" {
                data[0] ^= 0x01;
            }
        }
        files
    }

    #[test]
    fn a_changed_member_is_removed_the_rest_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let mut reader = BundleReader::from_bytes(tgz(&entries(&bit_flipped()))).unwrap();
        let done = extract(&mut reader, tmp.path(), caps(1 << 20)).unwrap();
        let mut want = honest_paths();
        want.retain(|p| !p.ends_with("files/etc/hosts"));
        assert_eq!(files_in(tmp.path()), want);
        assert!(
            done.skipped[0].reason.contains("SHA256SUMS says"),
            "{:?}",
            done.skipped
        );
        assert!(!done.verification.unwrap().ok());
    }

    #[test]
    fn without_sha256sums_nothing_is_confirmed() {
        let tmp = tempfile::tempdir().unwrap();
        let mut files = honest_files();
        files.retain(|(p, _)| p != "SHA256SUMS");
        let mut reader = BundleReader::from_bytes(tgz(&entries(&files))).unwrap();
        let done = extract(&mut reader, tmp.path(), caps(1 << 20)).unwrap();
        assert!(files_in(tmp.path()).is_empty());
        assert!(done
            .skipped
            .iter()
            .all(|s| s.reason.contains("SHA256SUMS cannot confirm")));
    }

    #[test]
    fn a_damaged_archive_leaves_nothing_and_is_an_integrity_failure() {
        let whole = tgz(&entries(&honest_files()));
        // Cut before the gzip trailer, and a bit flipped inside the compressed data.
        let cut = whole[..whole.len() - 6].to_vec();
        let mut flipped = whole.clone();
        let at = flipped.len() / 2;
        flipped[at] ^= 0x10;
        for bytes in [cut, flipped] {
            for background in [false, true] {
                let tmp = tempfile::tempdir().unwrap();
                let out = tmp.path().join("out");
                let mut reader = BundleReader::from_bytes(bytes.clone()).unwrap();
                reader.set_background(background);
                let err = extract(&mut reader, &out, caps(1 << 20)).unwrap_err();
                assert_eq!(err.status(), ExitStatus::Integrity, "{err}");
                assert!(tree(tmp.path()).is_empty(), "{:?}", tree(tmp.path()));

                let mut reader = BundleReader::from_bytes(bytes.clone()).unwrap();
                reader.set_background(background);
                let mut printed = Vec::new();
                let err = cat(&mut reader, "files/etc/hosts", &mut printed).unwrap_err();
                assert_eq!(err.status(), ExitStatus::Integrity, "{err}");
                assert!(printed.is_empty());
                assert!(err.message().contains("was not printed"), "{err}");
            }
        }
    }

    #[test]
    fn cat_prints_only_a_verified_member() {
        let mut reader = BundleReader::from_bytes(tgz(&entries(&bit_flipped()))).unwrap();
        let mut printed = Vec::new();
        let err = cat(&mut reader, "files/etc/hosts", &mut printed).unwrap_err();
        assert_eq!(err.status(), ExitStatus::Integrity);
        assert!(err.message().contains("SHA256SUMS says"), "{err}");
        assert!(printed.is_empty());
        // Another member of that bundle is verified and printed; the exit still says 3.
        let mut reader = BundleReader::from_bytes(tgz(&entries(&bit_flipped()))).unwrap();
        let mut printed = Vec::new();
        let err = cat(&mut reader, "commands/uname.txt", &mut printed).unwrap_err();
        assert_eq!(err.status(), ExitStatus::Integrity);
        assert!(err.message().contains("not intact"), "{err}");
        assert!(printed.starts_with(b"Linux node1"));
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
        assert_eq!(err.status(), ExitStatus::Integrity);
        let err = cat(&mut reader, "../x", &mut Vec::new()).unwrap_err();
        assert_eq!(err.status(), ExitStatus::Usage);
    }

    #[test]
    fn list_shows_every_entry_with_its_size() {
        let mut reader = BundleReader::from_bytes(hostile()).unwrap();
        let (listed, verified) = list(&mut reader);
        assert_eq!(listed.len(), entries(&honest_files()).len() + 8);
        let last = listed.last().unwrap();
        assert_eq!(last.name, format!("{TOP}/files/etc/hosts"));
        assert_eq!(last.size, 11);
        assert!(!verified.unwrap().ok());
    }
}
