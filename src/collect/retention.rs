//! `--keep N` and `--keep-size SIZE`: after a run, delete the oldest bundles that drx-collect made
//! for this host in the output directory, with their sidecars and split parts. A name is not
//! proof: a bundle counts as ours only when its files are regular files (not links, one name
//! each) owned by us and its `.sha256` sidecar, also ours, lists exactly those files; before one
//! is deleted, every file's checksum must match its sidecar. Anything else, however it is named,
//! is never touched (map files live where `--map-file` says and are never deleted here).
use crate::error::{Error, Result};
use crate::platform;
use sha2::{Digest, Sha256};
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
    /// What its sidecar says each file's SHA-256 is (in the order of `files`); empty when the
    /// sidecar is missing or does not list exactly these files.
    pub sums: Vec<String>,
    /// Its place in the order bundles were written, as its sidecar records it
    /// ([`WRITE_ORDER`]); 0 for a sidecar written before it was recorded.
    pub written: u64,
}

/// The sidecar's comment line that records when, among the files drx-collect wrote to its
/// directory, a bundle was written: the time in a name follows the clock, which may have
/// jumped (a snapshot stamped in the future must not outrank every later one), so `--keep`
/// and `status` order by this number first. `sha256sum -c` skips `#` lines.
pub const WRITE_ORDER: &str = "# drx-collect write order: ";

/// The most bytes of a sidecar read for its write order (a split bundle's listing has a line
/// a part; 1 MiB is far more than any has).
const SIDECAR_MAX: u64 = 1 << 20;

/// The write order recorded in a sidecar's text, if any.
fn write_order_of(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(WRITE_ORDER))
        .and_then(|n| n.trim().parse().ok())
}

/// The write order for a bundle or case file about to get its sidecar in `dir`: one more than
/// any our sidecars there record (a directory shared by several hosts still counts up).
pub fn next_write_order(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 1;
    };
    let mut highest = 0u64;
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with("drx-") && name.ends_with(".sha256")) {
            continue;
        }
        let path = entry.path();
        if !is_own_file(&path) {
            continue;
        }
        if let Some(order) = read_sidecar(&path).as_deref().and_then(write_order_of) {
            highest = highest.max(order);
        }
    }
    highest.saturating_add(1)
}

/// A sidecar's text: only a regular file that is not a link, at most [`SIDECAR_MAX`] bytes.
fn read_sidecar(path: &Path) -> Option<String> {
    use std::io::Read;
    let file = platform::open_regular_not_linked(path).ok()?;
    let mut bytes = Vec::new();
    file.take(SIDECAR_MAX + 1).read_to_end(&mut bytes).ok()?;
    if bytes.len() as u64 > SIDECAR_MAX {
        return None;
    }
    String::from_utf8(bytes).ok()
}

impl Snapshot {
    pub fn is_split(&self) -> bool {
        self.files.len() != 1 || !self.files[0].ends_with(&self.name)
    }
}

/// For `drx-collect-<host>-<YYYYMMDDTHHMMSSZ>[-N].(tgz|zip)[.NNN]`: the bundle name, its stamp,
/// N (1 without a suffix) and the part number. Anything else is not ours.
pub fn parse_name(name: &str, host: &str) -> Option<(String, String, u32, Option<u32>)> {
    parse_prefixed(name, &format!("drx-collect-{host}"))
}

/// `parse_name` for any kind of file drx-collect names `<prefix>-<stamp>…`: bundles
/// (`drx-collect-<host>`) and the case files of `--peer` (`drx-case-<hostA>-<hostB>`).
fn parse_prefixed(name: &str, prefix: &str) -> Option<(String, String, u32, Option<u32>)> {
    let (bundle, part) = match name.rsplit_once('.') {
        Some((head, digits)) if digits.len() == 3 && digits.bytes().all(|b| b.is_ascii_digit()) => {
            (head, Some(digits.parse().ok()?))
        }
        _ => (name, None),
    };
    let rest = bundle.strip_prefix(prefix)?.strip_prefix('-')?;
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

/// This host's bundles in `dir`, oldest first: in the order they were written, as their
/// sidecars record it ([`WRITE_ORDER`]), not by the clock's stamp in their names.
pub fn snapshots(dir: &Path, host: &str) -> Result<Vec<Snapshot>> {
    snapshots_prefixed(dir, &format!("drx-collect-{host}"))
}

fn snapshots_prefixed(dir: &Path, prefix: &str) -> Result<Vec<Snapshot>> {
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
        let Some((name, stamp, number, part)) = parse_prefixed(&file_name, prefix) else {
            continue;
        };
        let key = (stamp.clone(), number);
        let snapshot = found.entry(key.clone()).or_insert_with(|| Snapshot {
            name,
            stamp,
            number,
            files: Vec::new(),
            bytes: 0,
            sums: Vec::new(),
            written: 0,
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
    let mut all: Vec<Snapshot> = found.into_values().collect();
    for snapshot in &mut all {
        if let Some((sums, written)) = sidecar_sums(dir, snapshot) {
            snapshot.sums = sums;
            snapshot.written = written;
        }
    }
    // Write order first; the name's stamp only among bundles of the same order (sidecars from
    // before it was recorded, all 0, are older than any that records it).
    all.sort_by(|a, b| (a.written, &a.stamp, a.number).cmp(&(b.written, &b.stamp, b.number)));
    Ok(all)
}

/// A file we may have written: a regular file (not a link), with one name, owned by us.
fn is_own_file(path: &Path) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    let owner_ok = match (platform::file_owner(&meta), platform::current_owner()) {
        (Some(owner), Some(me)) => owner == me,
        _ => true,
    };
    meta.is_file() && owner_ok && platform::file_links(&meta).is_none_or(|n| n == 1)
}

/// The checksums the snapshot's sidecar gives its files, when the sidecar is ours and lists
/// exactly the snapshot's files: `SUM  NAME.tgz` for a whole bundle; for a split one, the
/// listing `collect --split` writes, declaring the part count, with parts 1..=n all present.
/// With them, the write order the sidecar records (0 when none).
fn sidecar_sums(dir: &Path, snapshot: &Snapshot) -> Option<(Vec<String>, u64)> {
    let sidecar = dir.join(format!("{}.sha256", snapshot.name));
    if !is_own_file(&sidecar) || !snapshot.files.iter().all(|f| is_own_file(f)) {
        return None;
    }
    let text = read_sidecar(&sidecar)?;
    let mut listed: BTreeMap<String, String> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (sum, name) = line.split_once("  ")?;
        if sum.len() != 64 || !sum.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        listed.insert(name.to_string(), sum.to_ascii_lowercase());
    }
    let names: Vec<String> = snapshot
        .files
        .iter()
        .map(|f| {
            f.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    if snapshot.is_split() {
        let declared = crate::archive::split::declared_parts(&text)?;
        let expected: Vec<String> = (1..=declared)
            .map(|n| crate::archive::split::part_name(&snapshot.name, n))
            .collect();
        // Parts plus the joined bundle's own line.
        if names != expected || listed.len() != declared + 1 {
            return None;
        }
    } else if listed.len() != 1 {
        return None;
    }
    let sums = names
        .iter()
        .map(|n| listed.get(n).cloned())
        .collect::<Option<Vec<_>>>()?;
    Some((sums, write_order_of(&text).unwrap_or(0)))
}

/// True when every file of the snapshot still has the checksum its sidecar gives.
fn checksums_match(snapshot: &Snapshot) -> bool {
    if snapshot.sums.len() != snapshot.files.len() || snapshot.files.is_empty() {
        return false;
    }
    snapshot
        .files
        .iter()
        .zip(&snapshot.sums)
        .all(|(file, sum)| {
            let Ok(mut handle) = std::fs::File::open(file) else {
                return false;
            };
            let mut hasher = Sha256::new();
            if std::io::copy(&mut handle, &mut hasher).is_err() {
                return false;
            }
            crate::digest::hex(&hasher.finalize()) == *sum
        })
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
    apply_prefixed(dir, &format!("drx-collect-{host}"), policy, just_written)
}

/// `--keep` for the case files of one pair (`drx-case-<hostA>-<hostB>-…`), with the same proof
/// as for bundles: only files their sidecar vouches for are deleted.
pub fn apply_to_cases(
    dir: &Path,
    pair: &str,
    policy: Policy,
    just_written: &Path,
) -> Result<Vec<PathBuf>> {
    apply_prefixed(dir, &format!("drx-case-{pair}"), policy, just_written)
}

fn apply_prefixed(
    dir: &Path,
    prefix: &str,
    policy: Policy,
    just_written: &Path,
) -> Result<Vec<PathBuf>> {
    if !policy.is_set() {
        return Ok(Vec::new());
    }
    // Only bundles whose sidecar vouches for them take part: the others are not ours.
    let all: Vec<Snapshot> = snapshots_prefixed(dir, prefix)?
        .into_iter()
        .filter(|s| !s.sums.is_empty())
        .collect();
    let written = just_written
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut removed = Vec::new();
    for position in doomed(&all, policy, &written) {
        let snapshot = &all[position];
        if !checksums_match(snapshot) {
            continue;
        }
        for file in &snapshot.files {
            std::fs::remove_file(file).map_err(|err| {
                Error::io(
                    "delete old bundle",
                    file,
                    &err,
                    "check the directory's permissions",
                )
            })?;
        }
        // The sidecar is named after the bundle, split or not.
        let _ = std::fs::remove_file(dir.join(format!("{}.sha256", snapshot.name)));
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

    #[test]
    fn case_files_of_one_pair_are_recognised_apart_from_bundles() {
        let ok = |n: &str| parse_prefixed(n, "drx-case-node1-node2").is_some();
        assert!(ok("drx-case-node1-node2-20261124T100000Z.tgz"));
        assert!(ok("drx-case-node1-node2-20261124T100000Z-2.tgz"));
        assert!(!ok("drx-case-node1-node3-20261124T100000Z.tgz"));
        assert!(!ok("drx-collect-node1-20261124T100000Z.tgz"));
        assert!(!ok("drx-case-node1-node2-20261124T100000Z.tgz.sha256"));
        // A bundle of host "node1" never matches a case of the pair, nor the reverse.
        assert!(parse_name("drx-case-node1-node2-20261124T100000Z.tgz", "node1").is_none());
    }

    #[test]
    fn keep_rotates_a_pairs_case_files_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "drx-case-a-b-20261124T100000Z.tgz",
            "drx-case-a-b-20261124T110000Z.tgz",
            "drx-case-a-b-20261124T120000Z.tgz",
        ];
        for name in names {
            write(dir.path(), name, 10);
            let sum = crate::digest::hex(&<sha2::Sha256 as sha2::Digest>::digest(vec![b'x'; 10]));
            std::fs::write(
                dir.path().join(format!("{name}.sha256")),
                format!("{sum}  {name}\n"),
            )
            .unwrap();
        }
        write(dir.path(), "drx-collect-a-20261124T090000Z.tgz", 10);
        let policy = Policy {
            keep: Some(1),
            keep_size: None,
        };
        let newest = dir.path().join(names[2]);
        let removed = apply_to_cases(dir.path(), "a-b", policy, &newest).unwrap();
        assert_eq!(removed.len(), 2, "{removed:?}");
        assert!(newest.exists());
        assert!(dir
            .path()
            .join("drx-collect-a-20261124T090000Z.tgz")
            .exists());
        assert!(!dir.path().join(names[0]).exists());
    }

    /// Issue 24 item 22: the write order a sidecar records outranks the stamp in the name.
    #[test]
    fn snapshots_go_in_write_order_not_by_their_stamps() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "drx-collect-n-20991231T235959Z.tgz",
            "drx-collect-n-20261124T100000Z.tgz",
            "drx-collect-n-20261124T090000Z.tgz",
        ];
        for name in names {
            bundle(dir.path(), name, 10);
            let sidecar = dir.path().join(format!("{name}.sha256"));
            let order = next_write_order(dir.path());
            let mut text = std::fs::read_to_string(&sidecar).unwrap();
            text.push_str(&format!("{WRITE_ORDER}{order}\n"));
            std::fs::write(&sidecar, text).unwrap();
        }
        let order: Vec<String> = snapshots(dir.path(), "n")
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(order, names);
        assert_eq!(next_write_order(dir.path()), 4);
        let policy = Policy {
            keep: Some(2),
            keep_size: None,
        };
        let removed = apply(dir.path(), "n", policy, &dir.path().join(names[2])).unwrap();
        assert_eq!(removed, [dir.path().join(names[0])]);
    }

    fn write(dir: &Path, name: &str, bytes: usize) {
        std::fs::write(dir.join(name), vec![b'x'; bytes]).unwrap();
    }

    fn sum(dir: &Path, name: &str) -> String {
        crate::digest::hex(&Sha256::digest(std::fs::read(dir.join(name)).unwrap()))
    }

    /// A bundle as `collect` leaves it: the file and its sidecar.
    fn bundle(dir: &Path, name: &str, bytes: usize) {
        write(dir, name, bytes);
        let line = format!("{}  {name}\n", sum(dir, name));
        std::fs::write(dir.join(format!("{name}.sha256")), line).unwrap();
    }

    /// A split bundle as `collect --split` leaves it: parts and one listing.
    fn split_bundle(dir: &Path, name: &str, parts: &[usize]) {
        let mut listing = format!(
            "# drx-collect split bundle: {} parts of at most 9 bytes\n",
            parts.len()
        );
        for (i, &bytes) in parts.iter().enumerate() {
            let part = crate::archive::split::part_name(name, i + 1);
            write(dir, &part, bytes);
            listing.push_str(&format!("{}  {part}\n", sum(dir, &part)));
        }
        listing.push_str(&format!("{}  {name}\n", "0".repeat(64)));
        std::fs::write(dir.join(format!("{name}.sha256")), listing).unwrap();
    }

    fn left(dir: &Path) -> Vec<String> {
        let mut left: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        left
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
            bundle(dir.path(), name, 1);
        }
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
            bundle(dir.path(), name, 1);
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
        split_bundle(d, "drx-collect-n-20261124T100000Z.tgz", &[600, 600]);
        bundle(d, "drx-collect-n-20261124T110000Z.tgz", 500);
        bundle(d, "drx-collect-n-20261124T120000Z.tgz", 500);
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
        assert_eq!(
            left(d),
            vec![
                "drx-collect-n-20261124T110000Z.tgz",
                "drx-collect-n-20261124T110000Z.tgz.sha256",
                "drx-collect-n-20261124T120000Z.tgz",
                "drx-collect-n-20261124T120000Z.tgz.sha256",
                "foreign.tgz.001"
            ]
        );
    }

    #[test]
    fn the_newest_bundle_is_kept_even_when_larger_than_keep_size() {
        let dir = tempfile::tempdir().unwrap();
        bundle(dir.path(), "drx-collect-n-20261124T100000Z.tgz", 100);
        bundle(dir.path(), "drx-collect-n-20261124T110000Z.tgz", 900);
        let last = dir.path().join("drx-collect-n-20261124T110000Z.tgz");
        let policy = Policy {
            keep: Some(5),
            keep_size: Some(500),
        };
        let removed = apply(dir.path(), "n", policy, &last).unwrap();
        assert_eq!(removed.len(), 1);
        assert!(last.exists());
    }

    #[test]
    fn files_only_named_like_bundles_are_never_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // Named like this host's bundles, but no sidecar vouches for them.
        write(d, "drx-collect-n-20261120T100000Z.tgz", 10);
        // A sidecar that names another file, and one whose checksum no longer matches.
        write(d, "drx-collect-n-20261121T100000Z.tgz", 10);
        std::fs::write(
            d.join("drx-collect-n-20261121T100000Z.tgz.sha256"),
            format!("{}  something-else.tgz\n", "a".repeat(64)),
        )
        .unwrap();
        bundle(d, "drx-collect-n-20261122T100000Z.tgz", 10);
        write(d, "drx-collect-n-20261122T100000Z.tgz", 11);
        // Stray parts without a listing, and a map file we never write there.
        write(d, "drx-collect-n-20261123T100000Z.tgz.001", 10);
        write(d, "drx-collect-n-20261123T100000Z.tgz.map.json", 10);
        bundle(d, "drx-collect-n-20261124T100000Z.tgz", 1);
        bundle(d, "drx-collect-n-20261125T100000Z.tgz", 1);
        let before = left(d);
        let last = d.join("drx-collect-n-20261125T100000Z.tgz");
        let policy = Policy {
            keep: Some(1),
            keep_size: None,
        };
        let removed = apply(d, "n", policy, &last).unwrap();
        assert_eq!(removed, vec![d.join("drx-collect-n-20261124T100000Z.tgz")]);
        let expected: Vec<String> = before
            .into_iter()
            .filter(|n| !n.starts_with("drx-collect-n-20261124T100000Z.tgz"))
            .collect();
        assert_eq!(left(d), expected);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_named_like_a_bundle_is_not_ours() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let victim = tempfile::tempdir().unwrap();
        bundle(victim.path(), "drx-collect-n-20261120T100000Z.tgz", 5);
        // A symbolic link and a hard link, each with a matching sidecar beside it.
        std::os::unix::fs::symlink(
            victim.path().join("drx-collect-n-20261120T100000Z.tgz"),
            d.join("drx-collect-n-20261120T100000Z.tgz"),
        )
        .unwrap();
        std::fs::copy(
            victim
                .path()
                .join("drx-collect-n-20261120T100000Z.tgz.sha256"),
            d.join("drx-collect-n-20261120T100000Z.tgz.sha256"),
        )
        .unwrap();
        write(d, "victim", 5);
        std::fs::hard_link(
            d.join("victim"),
            d.join("drx-collect-n-20261121T100000Z.tgz"),
        )
        .unwrap();
        std::fs::write(
            d.join("drx-collect-n-20261121T100000Z.tgz.sha256"),
            format!("{}  drx-collect-n-20261121T100000Z.tgz\n", sum(d, "victim")),
        )
        .unwrap();
        bundle(d, "drx-collect-n-20261125T100000Z.tgz", 1);
        let before = left(d);
        let last = d.join("drx-collect-n-20261125T100000Z.tgz");
        let policy = Policy {
            keep: Some(1),
            keep_size: None,
        };
        assert!(apply(d, "n", policy, &last).unwrap().is_empty());
        assert_eq!(left(d), before);
    }
}
