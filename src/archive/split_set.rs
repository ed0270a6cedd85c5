//! Finding the parts of a split bundle from the name a user gives: the first part
//! (`NAME.tgz.001`) or the joined name (`NAME.tgz`) when only the parts exist. A missing part is
//! named in the error, so the sender knows what to send again.
use super::split::{declared_parts, part_name, split_part_name};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

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
    let mut highest = 0usize;
    let mut present = std::collections::BTreeSet::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            // A part's sidecar shows the part existed even when the part itself did not arrive.
            let (name, is_sidecar) = match name.strip_suffix(".sha256") {
                Some(stem) => (stem.to_string(), true),
                None => (name, false),
            };
            if let Some((b, n)) = split_part_name(&name) {
                if b == base {
                    highest = highest.max(n);
                    if !is_sidecar {
                        present.insert(n);
                    }
                }
            }
        }
    }
    if let Ok(listing) = std::fs::read_to_string(dir.join(format!("{base}.sha256"))) {
        if let Some(declared) = declared_parts(&listing) {
            highest = highest.max(declared);
        }
    }
    let mut parts = Vec::with_capacity(highest);
    for n in 1..=highest {
        let part = dir.join(part_name(&base, n));
        if !present.contains(&n) {
            return Err(Error::failed(format!(
                "part {} of split bundle {base} is missing ({} of {highest} parts); ask the sender for that file",
                part.display(),
                n
            )));
        }
        parts.push(part);
    }
    Ok(Some(parts))
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
}
