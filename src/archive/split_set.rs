//! Finding the parts of a split bundle from the name a user gives: the first part
//! (`NAME.tgz.001`) or the joined name (`NAME.tgz`) when only the parts exist. A missing part is
//! named in the error, so the sender knows what to send again.
use super::split::{declared_parts, part_name, split_part_name};
use crate::error::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The most parts a split bundle may have. A count from a file name or a listing is untrusted: it
/// only bounds a loop after this check, and never sizes an allocation. (`--split 1MiB` of the
/// largest bundle the reader accepts, 8 GiB, makes 8192 parts.)
pub const MAX_PARTS: usize = 100_000;

/// The most bytes of `NAME.tgz.sha256` read: only its first line (the part count) is needed.
const MAX_LISTING_BYTES: u64 = 64 * 1024;

/// `Ok(None)` when `path` is not a split bundle (read it as a normal one).
pub fn find(path: &Path) -> Result<Option<Vec<PathBuf>>> {
    let Some(file_name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Ok(None);
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = match split_part_name(&file_name) {
        Some((base, 1)) => base.to_string(),
        Some((base, n)) if path.is_file() => {
            // A later part alone is not a bundle: say which file to give instead.
            if dir.join(part_name(base, 1)).is_file() {
                return Err(Error::usage(format!(
                    "{} is part {n} of a split bundle; give the first part, {}",
                    path.display(),
                    dir.join(part_name(base, 1)).display()
                )));
            }
            return Ok(None);
        }
        _ if !path.exists() && dir.join(part_name(&file_name, 1)).is_file() => file_name,
        _ => return Ok(None),
    };
    let mut names = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            // Only names of this set matter; the metadata call follows a link, as opening would.
            let stem = name.strip_suffix(".sha256").unwrap_or(&name);
            if split_part_name(stem).is_some_and(|(b, _)| b == base) {
                let regular = std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file());
                names.push((name, regular));
            }
        }
    }
    let listing_path = dir.join(format!("{base}.sha256"));
    let listing = read_listing(&listing_path)?;
    let numbers = resolve(&base, &names, listing.as_deref(), &dir)?;
    Ok(Some(
        numbers
            .into_iter()
            .map(|n| dir.join(part_name(&base, n)))
            .collect(),
    ))
}

/// The first bytes of the listing `NAME.tgz.sha256`, if there is one. Only a regular file is
/// read (a FIFO or a device there would hang the reader or never end), and only its head.
fn read_listing(path: &Path) -> Result<Option<String>> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(_) => return Ok(None),
    };
    if !meta.is_file() {
        return Err(Error::failed(format!(
            "{} is not a regular file; a split bundle's listing must be one, move it away",
            path.display()
        )));
    }
    let file = crate::platform::open_regular(path)
        .map_err(|e| Error::io("read", path, &e, "check that you may read it"))?;
    let mut head = Vec::new();
    file.take(MAX_LISTING_BYTES)
        .read_to_end(&mut head)
        .map_err(|e| Error::io("read", path, &e, "check that you may read it"))?;
    Ok(Some(String::from_utf8_lossy(&head).into_owned()))
}

/// The part numbers `1..=N` of split bundle `base`, from the names found beside it (`true`: a
/// regular file) and its listing's head. Every number comes from untrusted names; nothing is
/// sized by them, and a count beyond [`MAX_PARTS`] is refused with the file that claims it.
pub fn resolve(
    base: &str,
    names: &[(String, bool)],
    listing: Option<&str>,
    dir: &Path,
) -> Result<Vec<usize>> {
    let mut highest = 0usize;
    let mut present = std::collections::BTreeSet::new();
    for (name, regular) in names {
        // A part's sidecar shows the part existed even when the part itself did not arrive.
        let (stem, is_sidecar) = match name.strip_suffix(".sha256") {
            Some(stem) => (stem, true),
            None => (name.as_str(), false),
        };
        let Some((b, n)) = split_part_name(stem) else {
            continue;
        };
        if b != base || n == 0 {
            continue;
        }
        if n > MAX_PARTS {
            return Err(Error::failed(format!(
                "{} claims to be part {n} of split bundle {base}, more than the {MAX_PARTS} parts drx-collect reads; move that file away",
                dir.join(name).display()
            )));
        }
        if !is_sidecar {
            if !regular {
                return Err(Error::failed(format!(
                    "part {} of split bundle {base} is not a regular file; ask the sender for that file",
                    dir.join(name).display()
                )));
            }
            present.insert(n);
        }
        highest = highest.max(n);
    }
    if let Some(declared) = listing.and_then(declared_parts) {
        if declared > MAX_PARTS {
            return Err(Error::failed(format!(
                "{} declares {declared} parts, more than the {MAX_PARTS} parts drx-collect reads; it is not a listing drx-collect wrote, move it away",
                dir.join(format!("{base}.sha256")).display()
            )));
        }
        highest = highest.max(declared);
    }
    let mut numbers = Vec::new();
    for n in 1..=highest {
        if !present.contains(&n) {
            return Err(Error::failed(format!(
                "part {} of split bundle {base} is missing ({n} of {highest} parts); ask the sender for that file",
                dir.join(part_name(base, n)).display(),
            )));
        }
        numbers.push(n);
    }
    Ok(numbers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_part_or_the_joined_name_finds_every_part() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["b.tgz.001", "b.tgz.002", "b.tgz.003", "other.tgz.004"] {
            std::fs::write(dir.path().join(n), "x").unwrap();
        }
        let parts = find(&dir.path().join("b.tgz.001")).unwrap().unwrap();
        assert_eq!(parts.len(), 3);
        assert!(parts[2].ends_with("b.tgz.003"));
        assert_eq!(find(&dir.path().join("b.tgz")).unwrap().unwrap().len(), 3);
        assert!(find(&dir.path().join("plain.tgz")).unwrap().is_none());
        let err = find(&dir.path().join("b.tgz.002")).unwrap_err();
        assert!(err.message().contains("give the first part"), "{err}");
    }

    #[test]
    fn a_missing_part_is_named_even_the_last_one() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["b.tgz.001", "b.tgz.003"] {
            std::fs::write(dir.path().join(n), "x").unwrap();
        }
        let err = find(&dir.path().join("b.tgz.001")).unwrap_err();
        assert!(err.message().contains("b.tgz.002 of split bundle"), "{err}");
        // Only the listing knows about a lost last part.
        std::fs::write(dir.path().join("b.tgz.002"), "x").unwrap();
        std::fs::write(
            dir.path().join("b.tgz.sha256"),
            "# drx-collect split bundle: 4 parts of at most 65536 bytes; join ...\n",
        )
        .unwrap();
        let err = find(&dir.path().join("b.tgz.001")).unwrap_err();
        assert!(err.message().contains("b.tgz.004"), "{err}");
    }

    /// A listing or a stray part claiming a huge count is refused by name, quickly, with no
    /// allocation sized by the count (10^12 and 2^64-1 parts used to abort the process).
    #[test]
    fn huge_part_counts_are_refused_without_allocating() {
        for count in ["1000000000000", "18446744073709551615", "100001"] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("b.tgz.001"), "x").unwrap();
            std::fs::write(
                dir.path().join("b.tgz.sha256"),
                format!("# drx-collect split bundle: {count} parts of at most 1 bytes; join\n"),
            )
            .unwrap();
            let started = std::time::Instant::now();
            let err = find(&dir.path().join("b.tgz.001")).unwrap_err();
            assert!(
                err.message().contains(&format!("declares {count} parts")),
                "{err}"
            );
            assert!(err.message().contains("b.tgz.sha256"), "{err}");
            assert!(started.elapsed() < std::time::Duration::from_secs(2));
        }
        for stray in [
            "b.tgz.99999999999",
            "b.tgz.18446744073709551615",
            "b.tgz.100001.sha256",
        ] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("b.tgz.001"), "x").unwrap();
            std::fs::write(dir.path().join(stray), "x").unwrap();
            for given in ["b.tgz.001", "b.tgz"] {
                let err = find(&dir.path().join(given)).unwrap_err();
                assert!(err.message().contains(stray), "{err}");
                assert!(err.message().contains("move that file away"), "{err}");
            }
        }
        // Too many digits for any count: not a part name at all, so not this set's business.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.tgz.001"), "x").unwrap();
        std::fs::write(dir.path().join("b.tgz.999999999999999999999999"), "x").unwrap();
        assert_eq!(
            find(&dir.path().join("b.tgz.001")).unwrap().unwrap().len(),
            1
        );
    }

    #[test]
    fn resolve_is_bounded_by_the_present_parts() {
        let names: Vec<(String, bool)> =
            vec![("b.tgz.001".into(), true), ("b.tgz.099999".into(), true)];
        let err = resolve("b.tgz", &names, None, Path::new("d")).unwrap_err();
        assert!(err.message().contains("b.tgz.002 of split bundle"), "{err}");
        let names: Vec<(String, bool)> =
            vec![("b.tgz.001".into(), true), ("b.tgz.002".into(), false)];
        let err = resolve("b.tgz", &names, None, Path::new("d")).unwrap_err();
        assert!(err.message().contains("not a regular file"), "{err}");
    }

    /// A FIFO or a device where the listing or a part should be is refused, never read: opening
    /// a FIFO for reading would wait for a writer forever, /dev/zero never ends.
    #[cfg(unix)]
    #[test]
    fn special_files_in_a_split_set_are_refused_not_read() {
        let fifo = |path: &Path| {
            let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.tgz.001"), "x").unwrap();
        fifo(&dir.path().join("b.tgz.sha256"));
        let err = find(&dir.path().join("b.tgz.001")).unwrap_err();
        assert!(err.message().contains("not a regular file"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.tgz.001"), "x").unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("b.tgz.sha256")).unwrap();
        let err = find(&dir.path().join("b.tgz.001")).unwrap_err();
        assert!(err.message().contains("not a regular file"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.tgz.001"), "x").unwrap();
        fifo(&dir.path().join("b.tgz.002"));
        let err = find(&dir.path().join("b.tgz.001")).unwrap_err();
        assert!(
            err.message()
                .contains("b.tgz.002 of split bundle b.tgz is not a regular"),
            "{err}"
        );

        // The opener itself refuses a FIFO without waiting for a writer.
        let started = std::time::Instant::now();
        assert!(crate::platform::open_regular(&dir.path().join("b.tgz.002")).is_err());
        assert!(crate::platform::open_regular(Path::new("/dev/zero")).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
