//! `--keep N`: after a run, delete the oldest bundles that drx-collect made for this host in the
//! output directory beyond N, with their sidecars. Nothing else is ever touched.
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// True for `drx-collect-<host>-<YYYYMMDDTHHMMSSZ>[-N].(tgz|zip)`.
fn stamp_of<'a>(name: &'a str, host: &str) -> Option<&'a str> {
    let rest = name
        .strip_prefix("drx-collect-")?
        .strip_prefix(host)?
        .strip_prefix('-')?;
    let stem = rest
        .strip_suffix(".tgz")
        .or_else(|| rest.strip_suffix(".zip"))?;
    let stamp = stem.get(0..16)?;
    let bytes = stamp.as_bytes();
    let well_formed = bytes[..8].iter().all(u8::is_ascii_digit)
        && bytes[8] == b'T'
        && bytes[9..15].iter().all(u8::is_ascii_digit)
        && bytes[15] == b'Z';
    let suffix_ok = stem[16..].is_empty()
        || stem[16..]
            .strip_prefix('-')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    (well_formed && suffix_ok).then_some(stem)
}

pub fn apply(dir: &Path, host: &str, keep: usize, just_written: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|err| {
        Error::io(
            "list",
            dir,
            &err,
            "--keep needs to read the output directory",
        )
    })?;
    let mut bundles: Vec<(String, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let stem = stamp_of(&name, host)?.to_string();
            Some((stem, e.path()))
        })
        .collect();
    bundles.sort();
    let mut removed = Vec::new();
    let excess = bundles.len().saturating_sub(keep.max(1));
    for (_, path) in bundles.into_iter().take(excess) {
        if path == just_written {
            continue;
        }
        std::fs::remove_file(&path).map_err(|err| {
            Error::io(
                "delete old bundle",
                &path,
                &err,
                "check the directory's permissions",
            )
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for extra in [format!("{name}.sha256"), format!("{name}.map.json")] {
            let _ = std::fs::remove_file(path.with_file_name(extra));
        }
        removed.push(path);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_our_bundles_for_this_host() {
        assert!(stamp_of("drx-collect-node1-20261124T100000Z.tgz", "node1").is_some());
        assert!(stamp_of("drx-collect-node1-20261124T100000Z-2.zip", "node1").is_some());
        assert!(stamp_of("drx-collect-node2-20261124T100000Z.tgz", "node1").is_none());
        assert!(stamp_of("drx-collect-node1-20261124T100000Z.tgz.sha256", "node1").is_none());
        assert!(stamp_of("drx-collect-node1-notes.tgz", "node1").is_none());
        assert!(stamp_of("drx-collect-node1-20261124T100000Z-x.tgz", "node1").is_none());
    }

    #[test]
    fn keeps_the_newest_and_leaves_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "drx-collect-n-20261124T100000Z.tgz",
            "drx-collect-n-20261124T110000Z.tgz",
            "drx-collect-n-20261124T120000Z.tgz",
            "drx-collect-other-20261124T090000Z.tgz",
            "notes.txt",
        ];
        for name in names {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        std::fs::write(
            dir.path().join("drx-collect-n-20261124T100000Z.tgz.sha256"),
            "x",
        )
        .unwrap();
        let last = dir.path().join(names[2]);
        let removed = apply(dir.path(), "n", 2, &last).unwrap();
        assert_eq!(removed, vec![dir.path().join(names[0])]);
        for name in &names[1..] {
            assert!(dir.path().join(name).exists(), "{name}");
        }
        assert!(!dir
            .path()
            .join("drx-collect-n-20261124T100000Z.tgz.sha256")
            .exists());
    }
}
