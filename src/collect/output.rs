//! Where the bundle goes and how it gets there: the output path, the temporary file renamed into
//! place only when complete, the `.sha256` sidecar, progress on a terminal, `--dry-run`.
use super::plan::Source;
use super::{Settings, Verbosity};
use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::platform;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

/// The endings that make `--output` a bundle's file name (`.age` is taken off before).
pub const FILE_EXTENSIONS: [&str; 3] = [".tgz", ".tar.gz", ".zip"];

/// Refuses an `--output` that names no existing thing and looks like a file name (a name with
/// an extension, no trailing `/`) without a bundle's extension: `-o out/x.tar` would otherwise
/// become a directory named `x.tar`. `dir_only`: only a directory is accepted (`--peer`).
pub fn check_output_name(path: &Path, dir_only: bool) -> Result<()> {
    let text = path.to_string_lossy();
    if path.symlink_metadata().is_ok()
        || text.ends_with('/')
        || text.ends_with(std::path::MAIN_SEPARATOR)
        || (!dir_only && FILE_EXTENSIONS.iter().any(|e| text.ends_with(e)))
    {
        return Ok(());
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let has_extension = name
        .rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && !ext.is_empty());
    if !has_extension {
        return Ok(());
    }
    Err(Error::usage(if dir_only {
        format!(
            "--output {} looks like a file name, but here it is the directory for the bundles; give a directory (end it with / if its name has a dot)",
            crate::escape::field(&text)
        )
    } else {
        format!(
            "--output {} looks like a file name but does not end in .tgz, .tar.gz or .zip (.tgz.age with --encrypt-to); use one of those, or end a directory's name with /",
            crate::escape::field(&text)
        )
    }))
}

/// Makes the output directory `dir`. Its parent must exist unless `mkdir` (`--mkdir`): a
/// mistyped path does not quietly become a new tree of directories.
pub fn make_output_dir(dir: &Path, mkdir: bool) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
    if !mkdir {
        if let Some(parent) = parent.filter(|p| !p.is_dir()) {
            return Err(Error::failed(format!(
                "the directory {} for the output does not exist; create it, or add --mkdir",
                crate::escape::field(&parent.to_string_lossy())
            )));
        }
    }
    let made = if mkdir {
        std::fs::create_dir_all(dir)
    } else {
        std::fs::create_dir(dir)
    };
    match made {
        Err(err) if !dir.is_dir() => Err(Error::io(
            "create the output directory",
            dir,
            &err,
            "choose another place with --output",
        )),
        _ => Ok(()),
    }
}

/// Splits `--output` into the directory and the bundle's file name. A path ending in `.tgz`,
/// `.tar.gz` or `.zip` names the file; a directory is created if missing (its parent only with
/// `--mkdir`); another file-like name is refused ([`check_output_name`]).
pub fn destination(settings: &Settings, host: &str, stamp: &str) -> Result<(PathBuf, String)> {
    let ext = settings.format.extension();
    let default_stem = format!("drx-collect-{host}-{stamp}");
    let (dir, stem) = match &settings.output {
        None => (PathBuf::from("."), default_stem),
        Some(path) => {
            check_output_name(path, false)?;
            let text = path.to_string_lossy();
            let names_file = FILE_EXTENSIONS.iter().any(|e| text.ends_with(e));
            if names_file {
                let dir = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("."));
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or(default_stem);
                (dir, strip_extension(&name).to_string())
            } else {
                (path.clone(), default_stem)
            }
        }
    };
    if !dir.is_dir() {
        if settings.output.as_deref().is_some_and(|o| o != dir) && !settings.mkdir {
            // `-o missing/x.tgz`: the file's directory is the missing parent.
            return Err(Error::failed(format!(
                "the directory {} for the output does not exist; create it, or add --mkdir",
                crate::escape::field(&dir.to_string_lossy())
            )));
        }
        make_output_dir(&dir, settings.mkdir)?;
    }
    // Never overwrite a bundle: two runs in the same second get -2, -3 ... always above the
    // highest number used (so the name order stays the run order for `--keep`, even after old
    // ones were deleted), and the parts or sidecar of a bundle claim its name too.
    let own_ext = format!(".{ext}");
    let mut highest = 0u64;
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.filter_map(|e| e.ok()) {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = file_name.strip_prefix(stem.as_str()) else {
                continue;
            };
            let number = if rest.starts_with(&own_ext) {
                1
            } else if let Some((digits, tail)) =
                rest.strip_prefix('-').and_then(|r| r.split_once('.'))
            {
                match digits.parse::<u64>() {
                    Ok(n) if tail.starts_with(ext) => n,
                    _ => continue,
                }
            } else {
                continue;
            };
            highest = highest.max(number);
        }
    }
    // A dangling link counts as taken too: the name is never written through.
    let exists = |path: PathBuf| path.symlink_metadata().is_ok();
    let taken = |name: &str| {
        exists(dir.join(name))
            || exists(dir.join(format!("{name}.001")))
            || exists(dir.join(format!("{name}.sha256")))
    };
    let mut n = highest + 1;
    let mut name = if n == 1 {
        format!("{stem}.{ext}")
    } else {
        format!("{stem}-{n}.{ext}")
    };
    while taken(&name) {
        n += 1;
        name = format!("{stem}-{n}.{ext}");
    }
    Ok((dir, name))
}

pub fn strip_extension(name: &str) -> &str {
    for ext in [".tar.gz", ".tgz", ".zip"] {
        if let Some(stem) = name.strip_suffix(ext) {
            return stem;
        }
    }
    name
}

/// The bundle while it is being written: a hidden name beside the final one, removed if the run
/// does not complete (error, interruption, panic).
pub struct TempFile {
    path: PathBuf,
    /// The handle it was created with: writing goes through it, never through the name again.
    file: Option<File>,
    persisted: bool,
}

impl TempFile {
    pub fn create(dir: &Path, name: &str) -> Result<TempFile> {
        let path = dir.join(format!(".{name}.part-{}", std::process::id()));
        let file = platform::create_new_private(&path).map_err(|err| {
            Error::io(
                "create the bundle in",
                dir,
                &err,
                "check that the directory is writable, or choose another with --output",
            )
        })?;
        Ok(TempFile {
            path,
            file: Some(file),
            persisted: false,
        })
    }

    /// Takes charge of a file already written (a part of a split bundle): removed on drop unless
    /// persisted.
    pub fn adopt(path: PathBuf) -> TempFile {
        TempFile {
            path,
            file: None,
            persisted: false,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self) -> Result<File> {
        let held = self.file.as_ref().ok_or_else(|| {
            Error::failed(format!(
                "internal error: {} has no open handle",
                self.path.display()
            ))
        })?;
        held.try_clone()
            .map_err(|err| Error::io("open", &self.path, &err, "check the output directory"))
    }

    /// Moves the finished bundle to its final name, never replacing an existing file.
    pub fn persist(&mut self, target: &Path) -> Result<()> {
        match std::fs::hard_link(&self.path, target) {
            Ok(()) => {
                let _ = std::fs::remove_file(&self.path);
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::failed(format!(
                    "{} appeared while the bundle was written; run again",
                    target.display()
                )));
            }
            // File systems without hard links (FAT, some network shares).
            Err(_) => {
                if target.exists() {
                    return Err(Error::failed(format!(
                        "{} appeared while the bundle was written; run again",
                        target.display()
                    )));
                }
                std::fs::rename(&self.path, target).map_err(|err| {
                    Error::io(
                        "move the bundle to",
                        target,
                        &err,
                        "check the output directory",
                    )
                })?;
            }
        }
        self.persisted = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The process id recorded in the name of one of our temporary files in an output directory:
/// `.drx-collect-….tgz.part-PID` (and its split parts `….part-PID.NNN`), or a sidecar's
/// `.drx-collect-….tgz.sha256.tmp-PID-N`; a case file's `.drx-case-….tgz.part-PID`; a peer's
/// bundle or map fetched by `--peer`, `.drx-collect-….tgz[.map].part-PID`. `None` for any other
/// name.
pub fn temporary_owner(name: &str) -> Option<u32> {
    let rest = name
        .strip_prefix(".drx-collect-")
        .or_else(|| name.strip_prefix(".drx-case-"))?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit());
    if let Some((head, tail)) = rest.rsplit_once(".part-") {
        if !(head.ends_with(".tgz") || head.ends_with(".zip") || head.ends_with(".tgz.map")) {
            return None;
        }
        let pid = match tail.split_once('.') {
            Some((pid, part)) if digits(part) => pid,
            Some(_) => return None,
            None => tail,
        };
        return digits(pid).then(|| pid.parse().ok()).flatten();
    }
    let (head, tail) = rest.rsplit_once(".tmp-")?;
    if !(head.ends_with(".tgz.sha256") || head.ends_with(".zip.sha256")) {
        return None;
    }
    let (pid, attempt) = tail.split_once('-')?;
    (digits(pid) && digits(attempt))
        .then(|| pid.parse().ok())
        .flatten()
}

/// Removes what runs that died without cleaning up (SIGKILL, power loss) left in `dir`: our
/// temporary files whose recorded process is gone. Called while holding the directory's lock, so
/// no live run of ours in this directory can be writing them; a file is removed only when its
/// name is one we make, it is a regular file (not a link) owned by us, and its process is dead.
pub fn remove_stale_temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return removed;
    };
    let me = std::process::id();
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = temporary_owner(&name) else {
            continue;
        };
        if pid == me || platform::process_alive(pid) {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        let ours = meta.is_file()
            && match (platform::file_owner(&meta), platform::current_owner()) {
                (Some(owner), Some(me)) => owner == me,
                _ => true,
            };
        if ours && std::fs::remove_file(entry.path()).is_ok() {
            removed.push(entry.path());
        }
    }
    removed.sort();
    removed
}

pub fn hash_file(path: &Path) -> Result<(String, u64)> {
    let mut file = File::open(path).map_err(|err| Error::io("read back", path, &err, ""))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|err| Error::io("read back", path, &err, ""))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((crate::digest::hex(&hasher.finalize()), size))
}

/// `<bundle>.sha256` in `sha256sum` format, so `sha256sum -c` works on what arrived by e-mail.
pub fn write_sidecar(bundle: &Path, sha256: &str) -> Result<PathBuf> {
    let name = bundle
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let path = bundle.with_file_name(format!("{name}.sha256"));
    let order = write_order_line(bundle);
    write_private(&path, &format!("{sha256}  {name}\n{order}"))?;
    Ok(path)
}

/// Moves the parts of a split bundle to `NAME.tgz.001`, ... and writes `NAME.tgz.sha256` with
/// the checksum of each part and of the joined bundle (see `archive::split`). On failure no part is left at its final
/// name. Returns the final part paths.
pub fn persist_parts(
    temps: Vec<TempFile>,
    parts: &crate::archive::split::Parts,
    bundle: &Path,
) -> Result<Vec<PathBuf>> {
    let name = bundle
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut done: Vec<PathBuf> = Vec::new();
    let undo = |done: &[PathBuf]| {
        for path in done {
            let _ = std::fs::remove_file(path);
        }
    };
    for (i, mut temp) in temps.into_iter().enumerate() {
        let target = bundle.with_file_name(crate::archive::split::part_name(&name, i + 1));
        if let Err(err) = temp.persist(&target) {
            undo(&done);
            return Err(err);
        }
        done.push(target);
    }
    let limit = parts.parts.iter().map(|p| p.size).max().unwrap_or(0);
    let mut listing = crate::archive::split::listing(&name, parts, limit);
    // Last: the listing's first line declares the part count.
    listing.push_str(&write_order_line(bundle));
    if let Err(err) = write_private(&sidecar_path(bundle), &listing) {
        undo(&done);
        return Err(err);
    }
    Ok(done)
}

/// The sidecar's last line: where this bundle comes in the order of what was written to its
/// directory (`retention::WRITE_ORDER`, what `--keep` orders by).
fn write_order_line(bundle: &Path) -> String {
    let dir = match bundle.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let order = super::retention::next_write_order(dir);
    format!("{}{order}\n", super::retention::WRITE_ORDER)
}

fn sidecar_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{name}.sha256"))
}

/// Sidecars replace what is at their name (a leftover of a failed run, or a planted link) without
/// ever writing through it.
fn write_private(path: &Path, text: &str) -> Result<()> {
    platform::write_private_replacing(path, text.as_bytes())
        .map_err(|err| Error::io("write", path, &err, "check the output directory"))
}

/// One status line on stderr while collecting, only on a terminal (never under cron).
pub struct Progress {
    enabled: bool,
    total: usize,
}

impl Progress {
    pub fn new(verbosity: Verbosity, total: usize) -> Progress {
        Progress {
            enabled: verbosity >= Verbosity::Normal
                && std::io::stderr().is_terminal()
                && platform::ansi_on_stderr(),
            total,
        }
    }

    pub fn show(&self, position: usize, what: &str) {
        if self.enabled {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K[{:>3}/{}] {what}", position + 1, self.total);
            let _ = err.flush();
        }
    }

    pub fn finish(&self) {
        if self.enabled {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
        }
    }
}

/// One planned item of `--dry-run` (`--json`: fields sorted by name).
#[derive(serde::Serialize)]
struct PlannedJson<'a> {
    /// A command's argument vector.
    argv: Option<&'a [String]>,
    id: &'a str,
    /// `file`, `command`, or the status an absent item will have (`missing`, `skipped`, ...).
    kind: &'a str,
    /// Why an absent item is absent.
    reason: Option<&'a str>,
    /// Bytes a file will contribute (capped at --max-file-size).
    size: Option<u64>,
    source: &'a str,
}

#[derive(serde::Serialize)]
struct DryRunJson<'a> {
    dry_run: bool,
    estimated_bytes: u64,
    estimated_compressed_bytes: u64,
    items: Vec<PlannedJson<'a>>,
    manifest: &'a str,
}

/// `--dry-run`: what would be collected, for people or (`--json`) as one JSON object.
pub fn print_dry_run(settings: &Settings, manifest: &Manifest, sources: &[Source]) -> Result<()> {
    let mut estimate = 0u64;
    let mut items = Vec::with_capacity(sources.len());
    for source in sources {
        items.push(match source {
            Source::File(file) => {
                let size = std::fs::metadata(&file.fs_path)
                    .map(|m| m.len())
                    .unwrap_or(0);
                let kept = size.min(settings.max_file_size);
                estimate += kept;
                PlannedJson {
                    argv: None,
                    id: &file.id,
                    kind: "file",
                    reason: None,
                    size: Some(kept),
                    source: &file.source,
                }
            }
            Source::Command(command) => {
                estimate += 16 << 10;
                PlannedJson {
                    argv: Some(&command.argv),
                    id: &command.id,
                    kind: "command",
                    reason: None,
                    size: None,
                    source: command.argv.first().map_or("", String::as_str),
                }
            }
            Source::Absent {
                id,
                source,
                status,
                reason,
                ..
            } => PlannedJson {
                argv: None,
                id,
                kind: status.as_str(),
                reason: Some(reason),
                size: None,
                source,
            },
        });
    }
    // Text logs compress about 8:1 with gzip -6.
    let compressed = estimate / 8;
    let mut out = std::io::stdout().lock();
    if settings.json {
        return crate::stdout::write_json(
            &mut out,
            &DryRunJson {
                dry_run: true,
                estimated_bytes: estimate,
                estimated_compressed_bytes: compressed,
                items,
                manifest: &manifest.name,
            },
        );
    }
    let mut text = format!(
        "manifest {} ({} items); nothing is written (--dry-run)\n",
        manifest.name,
        manifest.items.len()
    );
    for item in &items {
        let line = match (item.kind, item.argv, item.size) {
            ("command", Some(argv), _) => format!("command  {:<28} {}", item.id, argv.join(" ")),
            ("file", _, Some(size)) => format!(
                "file     {:<28} {} ({})",
                item.id,
                item.source,
                crate::units::human_size(size)
            ),
            (status, _, _) => format!(
                "{status:<8} {:<28} {} ({})",
                item.id,
                item.source,
                item.reason.unwrap_or("")
            ),
        };
        text.push_str(&line);
        text.push('\n');
    }
    text.push_str(&format!(
        "estimated: {} of data, about {} compressed\n",
        crate::units::human_size(estimate),
        crate::units::human_size(compressed)
    ));
    crate::stdout::write_human(&mut out, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_temporary_names_are_recognised() {
        assert_eq!(
            temporary_owner(".drx-collect-n-20261124T100000Z.tgz.part-4242"),
            Some(4242)
        );
        assert_eq!(
            temporary_owner(".drx-collect-n-20261124T100000Z.tgz.part-4242.003"),
            Some(4242)
        );
        assert_eq!(
            temporary_owner(".drx-case-a-b-20261124T100000Z.tgz.part-4242"),
            Some(4242)
        );
        assert_eq!(
            temporary_owner(".drx-collect-b-20261124T100000Z.tgz.map.part-4242"),
            Some(4242)
        );
        assert_eq!(
            temporary_owner(".drx-collect-n-20261124T100000Z.zip.sha256.tmp-77-0"),
            Some(77)
        );
        for foreign in [
            "drx-collect-n-20261124T100000Z.tgz.part-4242",
            ".drx-collect-n-20261124T100000Z.txt.part-4242",
            ".drx-collect-n-20261124T100000Z.tgz.part-x",
            ".drx-collect-n-20261124T100000Z.tgz.part-1.x",
            ".drx-collect.lock",
            ".other.tgz.part-1",
        ] {
            assert_eq!(temporary_owner(foreign), None, "{foreign}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn stale_temporaries_of_dead_runs_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // A process that has surely exited: a child we waited for.
        let dead = std::process::Command::new("true")
            .spawn()
            .and_then(|mut c| c.wait().map(|_| c.id()))
            .unwrap();
        let alive = std::process::id(); // our own pid: never removed
        let stale = format!(".drx-collect-n-20261124T100000Z.tgz.part-{dead}");
        let stale_part = format!(".drx-collect-n-20261124T100000Z.tgz.part-{dead}.002");
        let ours_now = format!(".drx-collect-n-20261124T110000Z.tgz.part-{alive}");
        let foreign = "notes.part-1";
        for name in [&stale, &stale_part, &ours_now, &foreign.to_string()] {
            std::fs::write(d.join(name), b"x").unwrap();
        }
        // A link with a stale name is not a file we wrote.
        let link = format!(".drx-collect-n-20261124T120000Z.tgz.part-{dead}");
        std::os::unix::fs::symlink("/etc/hostname", d.join(&link)).unwrap();
        let removed = remove_stale_temporaries(d);
        assert_eq!(removed, vec![d.join(&stale), d.join(&stale_part)]);
        assert!(d.join(&ours_now).exists());
        assert!(d.join(foreign).exists());
        assert!(d.join(&link).symlink_metadata().is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_sidecar_link_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        let bundle = dir.path().join("drx-collect-n-20261124T100000Z.tgz");
        std::os::unix::fs::symlink(
            &victim,
            dir.path().join("drx-collect-n-20261124T100000Z.tgz.sha256"),
        )
        .unwrap();
        let sidecar = write_sidecar(&bundle, &"a".repeat(64)).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        let meta = std::fs::symlink_metadata(&sidecar).unwrap();
        assert!(meta.is_file());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        // The temporary bundle is never created through a link either.
        let target = dir.path().join("created-through-link");
        std::os::unix::fs::symlink(
            &target,
            dir.path()
                .join(format!(".x.tgz.part-{}", std::process::id())),
        )
        .unwrap();
        assert!(TempFile::create(dir.path(), "x.tgz").is_err());
        assert!(!target.exists());
    }
}
