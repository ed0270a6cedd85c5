//! `--keep N` and `--keep-size SIZE`: after a run, delete the oldest bundles that drx-collect made
//! for this host in the output directory, with their sidecars, map files and split parts. A file is
//! ours only if its name is exactly what `collect` writes; nothing else is ever touched.
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What to keep; `None` means no limit of that kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policy {
    pub keep: Option<usize>,
    pub keep_size: Option<u64>,
}

impl Policy {
    pub fn is_set(&self) -> bool {
        self.keep.is_some() || self.keep_size.is_some()
    }
}

/// One bundle on disk: a whole `NAME.tgz`, or the parts `NAME.tgz.001`... of a `--split` run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// `NAME.tgz` (for a split bundle: the name the parts join into).
    pub name: String,
    /// `YYYYMMDDTHHMMSSZ` and the `-N` suffix of same-second runs, for ordering.
    pub stamp: String,
    pub number: u32,
    /// The data files: the bundle, or its parts in order.
    pub files: Vec<PathBuf>,
    pub bytes: u64,
}

impl Snapshot {
    pub fn is_split(&self) -> bool {
        self.files.len() != 1 || !self.files[0].ends_with(&self.name)
    }
}

/// For `drx-collect-<host>-<YYYYMMDDTHHMMSSZ>[-N].(tgz|zip)[.NNN]`: the bundle name, its stamp,
/// N (1 without a suffix) and the part number. Anything else is not ours.
pub fn parse_name(name: &str, host: &str) -> Option<(String, String, u32, Option<u32>)> {
    let (bundle, part) = match name.rsplit_once('.') {
        Some((head, digits)) if digits.len() == 3 && digits.bytes().all(|b| b.is_ascii_digit()) => {
            (head, Some(digits.parse().ok()?))
        }
        _ => (name, None),
    };
    let rest = bundle
        .strip_prefix("drx-collect-")?
        .strip_prefix(host)?
        .strip_prefix('-')?;
    let stem = rest
        .strip_suffix(".tgz")
        .or_else(|| rest.strip_suffix(".tgz.age"))
        .or_else(|| rest.strip_suffix(".zip"))?;
    let stamp = stem.get(0..16)?;
    let bytes = stamp.as_bytes();
    let well_formed = bytes[..8].iter().all(u8::is_ascii_digit)
        && bytes[8] == b'T'
        && bytes[9..15].iter().all(u8::is_ascii_digit)
        && bytes[15] == b'Z';
    if !well_formed {
        return None;
    }
    let number = match &stem[16..] {
        "" => 1,
        suffix => {
            let n = suffix.strip_prefix('-')?;
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            n.parse().ok()?
        }
    };
    Some((bundle.to_string(), stamp.to_string(), number, part))
}

/// This host's bundles in `dir`, oldest first.
pub fn snapshots(dir: &Path, host: &str) -> Result<Vec<Snapshot>> {
    let entries = std::fs::read_dir(dir).map_err(|err| {
        Error::io(
            "list",
            dir,
            &err,
            "check that the directory exists and that you may read it",
        )
    })?;
    let mut found: BTreeMap<(String, u32), Snapshot> = BTreeMap::new();
    let mut parts: BTreeMap<(String, u32), Vec<(u32, PathBuf)>> = BTreeMap::new();
    for entry in entries.filter_map(|e| e.ok()) {
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some((name, stamp, number, part)) = parse_name(&file_name, host) else {
            continue;
        };
        let key = (stamp.clone(), number);
        let snapshot = found.entry(key.clone()).or_insert_with(|| Snapshot {
            name,
            stamp,
            number,
            files: Vec::new(),
            bytes: 0,
        });
        snapshot.bytes += meta.len();
        match part {
            None => snapshot.files.insert(0, entry.path()),
            Some(n) => parts.entry(key).or_default().push((n, entry.path())),
        }
    }
    for (key, mut list) in parts {
        list.sort();
        if let Some(snapshot) = found.get_mut(&key) {
            snapshot
                .files
                .extend(list.into_iter().map(|(_, path)| path));
        }
    }
    Ok(found.into_values().collect())
}

/// Which snapshots (oldest first) the policy drops; the newest is always kept.
fn doomed(snapshots: &[Snapshot], policy: Policy, just_written: &str) -> Vec<usize> {
    let mut doomed = Vec::new();
    let mut kept = 0usize;
    let mut kept_bytes = 0u64;
    // Once one bundle goes, every older one goes too: a smaller old bundle that would still fit
    // must not outlive newer ones.
    let mut full = false;
    for (position, snapshot) in snapshots.iter().enumerate().rev() {
        let newest = position + 1 == snapshots.len() || snapshot.name == just_written;
        let over_count = policy.keep.is_some_and(|n| kept >= n.max(1));
        let over_size = policy
            .keep_size
            .is_some_and(|limit| kept_bytes.saturating_add(snapshot.bytes) > limit);
        if !newest && (full || over_count || over_size) {
            full = true;
            doomed.push(position);
        } else {
            kept += 1;
            kept_bytes = kept_bytes.saturating_add(snapshot.bytes);
        }
    }
    doomed.reverse();
    doomed
}

/// Applies the policy in `dir` for `host`; returns the bundles removed.
pub fn apply(dir: &Path, host: &str, policy: Policy, just_written: &Path) -> Result<Vec<PathBuf>> {
    if !policy.is_set() {
        return Ok(Vec::new());
    }
    let all = snapshots(dir, host)?;
    let written = just_written
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut removed = Vec::new();
    for position in doomed(&all, policy, &written) {
        let snapshot = &all[position];
        for file in &snapshot.files {
            std::fs::remove_file(file).map_err(|err| {
                Error::io(
                    "delete old bundle",
                    file,
                    &err,
                    "check the directory's permissions",
                )
            })?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let _ = std::fs::remove_file(file.with_file_name(format!("{name}.sha256")));
        }
        // The whole bundle's sidecar and map file are named after the bundle, split or not.
        for extra in [
            format!("{}.sha256", snapshot.name),
            format!("{}.map.json", snapshot.name),
        ] {
            let _ = std::fs::remove_file(dir.join(extra));
        }
        removed.push(dir.join(&snapshot.name));
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_our_bundles_for_this_host() {
        let ok = |n: &str| parse_name(n, "node1").is_some();
        assert!(ok("drx-collect-node1-20261124T100000Z.tgz"));
        assert!(ok("drx-collect-node1-20261124T100000Z-2.zip"));
        assert!(ok("drx-collect-node1-20261124T100000Z.tgz.001"));
        assert!(ok("drx-collect-node1-20261124T100000Z.tgz.age"));
        assert!(!ok("drx-collect-node1-20261124T100000Z.tgz.age.sha256"));
        assert!(!ok("drx-collect-node1-20261124T100000Z.zip.age"));
        assert!(!ok("drx-collect-node2-20261124T100000Z.tgz"));
        assert!(!ok("drx-collect-node1-20261124T100000Z.tgz.sha256"));
        assert!(!ok("drx-collect-node1-20261124T100000Z.tgz.001.sha256"));
        assert!(!ok("drx-collect-node1-20261124T100000Z.tgz.01"));
        assert!(!ok("drx-collect-node1-notes.tgz"));
        assert!(!ok("drx-collect-node1-20261124T100000Z-x.tgz"));
        let (name, _, number, part) =
            parse_name("drx-collect-node1-20261124T100000Z-12.tgz.002", "node1").unwrap();
        assert_eq!(
            (name.as_str(), number, part),
            ("drx-collect-node1-20261124T100000Z-12.tgz", 12, Some(2))
        );
    }

    fn write(dir: &Path, name: &str, bytes: usize) {
        std::fs::write(dir.join(name), vec![b'x'; bytes]).unwrap();
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
            write(dir.path(), name, 1);
        }
        write(dir.path(), "drx-collect-n-20261124T100000Z.tgz.sha256", 1);
        let last = dir.path().join(names[2]);
        let policy = Policy {
            keep: Some(2),
            keep_size: None,
        };
        let removed = apply(dir.path(), "n", policy, &last).unwrap();
        assert_eq!(removed, vec![dir.path().join(names[0])]);
        for name in &names[1..] {
            assert!(dir.path().join(name).exists(), "{name}");
        }
        assert!(!dir
            .path()
            .join("drx-collect-n-20261124T100000Z.tgz.sha256")
            .exists());
    }

    #[test]
    fn same_second_runs_sort_by_their_number() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "drx-collect-n-20261124T100000Z-10.tgz",
            "drx-collect-n-20261124T100000Z-2.tgz",
            "drx-collect-n-20261124T100000Z.tgz",
        ] {
            write(dir.path(), name, 1);
        }
        let all = snapshots(dir.path(), "n").unwrap();
        let numbers: Vec<u32> = all.iter().map(|s| s.number).collect();
        assert_eq!(numbers, vec![1, 2, 10]);
    }

    #[test]
    fn keep_size_counts_split_parts_and_removes_them_with_their_sidecars() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // Oldest: split into two parts of 600 bytes.
        write(d, "drx-collect-n-20261124T100000Z.tgz.001", 600);
        write(d, "drx-collect-n-20261124T100000Z.tgz.001.sha256", 10);
        write(d, "drx-collect-n-20261124T100000Z.tgz.002", 600);
        write(d, "drx-collect-n-20261124T100000Z.tgz.002.sha256", 10);
        write(d, "drx-collect-n-20261124T100000Z.tgz.sha256", 10);
        write(d, "drx-collect-n-20261124T110000Z.tgz", 500);
        write(d, "drx-collect-n-20261124T120000Z.tgz", 500);
        write(d, "foreign.tgz.001", 5000);
        let all = snapshots(d, "n").unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].bytes, 1200);
        assert!(all[0].is_split() && !all[1].is_split());
        let policy = Policy {
            keep: None,
            keep_size: Some(1500),
        };
        let last = d.join("drx-collect-n-20261124T120000Z.tgz");
        let removed = apply(d, "n", policy, &last).unwrap();
        assert_eq!(removed, vec![d.join("drx-collect-n-20261124T100000Z.tgz")]);
        let mut left: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            vec![
                "drx-collect-n-20261124T110000Z.tgz",
                "drx-collect-n-20261124T120000Z.tgz",
                "foreign.tgz.001"
            ]
        );
    }

    #[test]
    fn the_newest_bundle_is_kept_even_when_larger_than_keep_size() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "drx-collect-n-20261124T100000Z.tgz", 100);
        write(dir.path(), "drx-collect-n-20261124T110000Z.tgz", 900);
        let last = dir.path().join("drx-collect-n-20261124T110000Z.tgz");
        let policy = Policy {
            keep: Some(5),
            keep_size: Some(500),
        };
        let removed = apply(dir.path(), "n", policy, &last).unwrap();
        assert_eq!(removed.len(), 1);
        assert!(last.exists());
    }
}
