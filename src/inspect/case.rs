//! The case file of a `--peer` run (SPEC §9): `drx-case-<hostA>-<hostB>-<stamp>.tgz` with
//! `case.json`, both bundles unchanged under `bundles/`, and `SHA256SUMS`. The layout and its
//! schema live here; `peer::pair` writes it, and every command that reads a bundle opens a case
//! file through [`open`]: the container is verified and its bundles are taken out into a private
//! temporary directory (only members its SHA256SUMS confirms), then read like any bundle.
//!
//! A case file is untrusted input like a bundle: it is recognised by its content, not its name;
//! case.json only describes the archive, and where it disagrees with what is there that is an
//! integrity problem, while every bundle present is read; what is written to the temporary
//! directory is capped (`--max-extract`) and checked against the free space.
use crate::archive::reader::{BundleReader, EntryKind};
use crate::error::{Error, Result};
use crate::index::{self, Finding};
use crate::inspect::verify;
use crate::lang::Lang;
use crate::rules::Catalogue;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The case file's own index.
pub const CASE_JSON: &str = "case.json";
/// Bundles inside a case file.
pub const BUNDLES_DIR: &str = "bundles/";
/// case.json larger than this is not read (a case file is untrusted).
const MAX_CASE_JSON: u64 = 16 << 20;

pub const CASE_SCHEMA: &str = "drx-collect/case/v1";

/// `case.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseIndex {
    pub schema: String,
    pub tool: index::Tool,
    pub created_at: String,
    pub bundles: Vec<CaseBundle>,
    /// Peers whose bundle could not be taken, with the reason.
    #[serde(default)]
    pub gaps: Vec<Gap>,
    /// The pair's findings: each node's own and those between the nodes, labelled by node.
    #[serde(default)]
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseBundle {
    /// `local` (the node that ran the command) or `peer`.
    pub role: String,
    pub host: String,
    /// Inside the case file: `bundles/<file name>`.
    pub path: String,
    pub sha256: String,
    pub size: u64,
    /// How the peer was reached (`--peer` as given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Gap {
    pub peer: String,
    pub reason: String,
}

/// `PEER-COLLECT-FAILED` for each peer whose bundle the case lacks.
pub fn gap_findings(gaps: &[Gap], catalogue: &Catalogue, lang: Lang) -> Vec<Finding> {
    let Some(rule) = catalogue.get(crate::rules::PEER_COLLECT_FAILED) else {
        return Vec::new();
    };
    gaps.iter()
        .map(|gap| Finding {
            rule: rule.id.clone(),
            severity: rule.severity,
            title: rule.title(lang).to_string(),
            path: Some(CASE_JSON.into()),
            line: None,
            excerpt: None,
            remedy: rule.remedy(lang).to_string(),
            node: Some(gap.peer.clone()),
            detail: Some(gap.reason.clone()),
        })
        .collect()
}

/// A case file opened for reading: its index, its bundles in a private temporary directory
/// (removed when this is dropped), and what was wrong with the container.
pub struct Opened {
    pub path: PathBuf,
    pub index: CaseIndex,
    /// Every bundle the archive holds under `bundles/` that its SHA256SUMS confirms (whatever
    /// case.json lists), once each: local first, then as case.json lists them, then the unlisted.
    pub bundles: Vec<PathBuf>,
    /// For each of `bundles`, the host case.json names for it (none: not listed).
    pub hosts: Vec<Option<String>>,
    /// Container problems (a member its SHA256SUMS does not confirm, an unsafe name, a bundle
    /// case.json names that is absent, case.json disagreeing with the archive), one sentence each.
    pub problems: Vec<String>,
    dir: PathBuf,
}

impl Drop for Opened {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The most bytes of a case file's bundles written to the temporary directory when no
/// `--max-extract` says otherwise (`diff`, `cases import`): `--max-extract`'s default.
pub const DEFAULT_MEMBER_CAP: u64 = 2 << 30;
/// Free space left in the temporary directory after a bundle of the case is written there.
const SPACE_MARGIN: u64 = 64 << 20;

/// Whether `path` is a case file, by its content (mail clients rename attachments, so the name
/// says nothing): its top directory's case.json comes before any file a case file does not
/// have ([`says_case`]). A bundle is told at its first file or two; a case file is read up to
/// its case.json (`peer::pair` writes it first). A path that cannot be read at all is judged by
/// its name (`drx-case-…`), so the error names it as the case file it claims to be.
pub fn is_case(path: &Path) -> bool {
    match sniff(path) {
        Some(case) => case,
        None => path
            .file_name()
            .map(|n| n.to_string_lossy().starts_with("drx-case-"))
            .unwrap_or(false),
    }
}

/// What one file of the archive, in order, says about it being a case file: `rel` is its path
/// in the top directory (`None`: outside it). case.json: a case file; SHA256SUMS and
/// `bundles/…`, which a case file has and a bundle does not put first: not yet decided (`None`);
/// anything else: not a case file. `verify` and [`is_case`] decide the same way.
pub fn says_case(rel: Option<&str>) -> Option<bool> {
    match rel {
        Some(CASE_JSON) => Some(true),
        Some(rel) if rel == crate::layout::SUMS || rel.starts_with(BUNDLES_DIR) => None,
        _ => Some(false),
    }
}

/// [`is_case`] on a readable archive (`None`: not one). A sealed bundle is never a case file
/// (they are not sealed) and is not decrypted here.
fn sniff(path: &Path) -> Option<bool> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_file() {
        let mut head = Vec::with_capacity(512);
        crate::platform::open_regular(path)
            .and_then(|f| f.take(512).read_to_end(&mut head))
            .ok()?;
        if crate::archive::seal::is_sealed(&head) {
            return Some(false);
        }
    }
    let mut reader = BundleReader::open(path).ok()?;
    // The head only: no second thread, one decoder.
    reader.set_background(false);
    reader.set_decoders(1);
    let mut top: Option<String> = None;
    let mut decided = None;
    let walked = reader.for_each(&mut |meta, _| {
        let Ok(parts) = verify::split_name(&meta.name) else {
            decided = Some(false);
            return Err(Error::failed(""));
        };
        let Some((first, rest)) = parts.split_first() else {
            return Ok(());
        };
        if top.is_none() && (!rest.is_empty() || meta.kind == EntryKind::Dir) {
            top = Some(first.to_string());
        }
        if meta.kind == EntryKind::Dir {
            return Ok(());
        }
        let inside = top.as_deref() == Some(*first) && !rest.is_empty();
        let rel = rest.join("/");
        decided = says_case(inside.then_some(rel.as_str()));
        match decided {
            // Enough read: stop the walk.
            Some(_) => Err(Error::failed("")),
            None => Ok(()),
        }
    });
    match (decided, walked) {
        (Some(case), _) => Some(case),
        // Only SHA256SUMS and bundles: not a case file without its case.json.
        (None, Ok(())) => Some(false),
        (None, Err(_)) => None,
    }
}

/// The bundles a case file holds (`bundles/drx-collect-…` files), counted by name in one pass
/// over the container without writing anything: `--html` refuses more than a cluster before
/// reading any. An unreadable case file counts none (opening it then says why).
pub fn count_bundles(path: &Path) -> usize {
    let Ok(mut reader) = BundleReader::open(path) else {
        return 0;
    };
    let mut count = 0;
    let _ = reader.for_each(&mut |meta, _| {
        let in_bundles = verify::split_name(&meta.name).is_ok_and(|parts| {
            matches!(parts.as_slice(), [_, "bundles", name] if crate::layout::is_bundle_name(name))
        });
        if meta.kind == EntryKind::File && in_bundles {
            count += 1;
        }
        Ok(())
    });
    count
}

/// A bundle of the case written to the temporary directory.
struct Taken {
    rel: String,
    file: PathBuf,
    size: u64,
    sha256: String,
}

/// Verifies the case file and takes its bundles out (each one still to be verified by its
/// reader). Only `bundles/<bundle name>` members are written, into a private temporary
/// directory, at most [`crate::inspect::CLUSTER_MAX`] of them and `max_bytes` in all and never leaving the file system with less
/// than [`SPACE_MARGIN`] free; an interruption (SIGINT, SIGTERM, SIGHUP once the handler is
/// installed) stops the copy, and dropping the result removes what was written.
pub fn open(path: &Path, max_bytes: u64) -> Result<Opened> {
    let dir = private_temp_dir()?;
    let mut opened = Opened {
        path: path.to_path_buf(),
        index: CaseIndex {
            schema: String::new(),
            tool: index::Tool::default(),
            created_at: String::new(),
            bundles: Vec::new(),
            gaps: Vec::new(),
            findings: Vec::new(),
        },
        bundles: Vec::new(),
        hosts: Vec::new(),
        problems: Vec::new(),
        dir: dir.clone(),
    };
    let mut reader = BundleReader::open(path)?;
    let mut case_json: Option<Vec<u8>> = None;
    let mut members: Vec<Taken> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    // The size the container declares for the member at hand (told before its content).
    let declared = std::cell::Cell::new(0u64);
    let mut written = 0u64;
    let mut stop: Option<Error> = None;
    let walked = verify::verify_entries(
        &mut reader,
        &mut |meta| declared.set(meta.size),
        &mut |member, content| {
            let rel = member.rel;
            if rel == CASE_JSON {
                let mut bytes = Vec::new();
                content
                    .take(MAX_CASE_JSON + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|err| Error::failed(crate::error::describe_io(&err)))?;
                case_json = Some(bytes);
                return Ok(());
            }
            if rel == crate::layout::SUMS {
                return Ok(());
            }
            let Some(name) = rel
                .strip_prefix(BUNDLES_DIR)
                .filter(|n| crate::layout::is_bundle_name(n))
            else {
                problems.push(format!(
                    "{}: not a member of a case file (case.json, SHA256SUMS and bundles/drx-collect-… only); not read",
                    crate::escape::field(rel)
                ));
                return Ok(());
            };
            if members.len() >= crate::inspect::CLUSTER_MAX {
                // A case file holds one pair's or cluster's nodes; past that it is not one.
                problems.push(format!(
                    "{rel}: more bundles than one cluster has ({} at most); not read",
                    crate::inspect::CLUSTER_MAX
                ));
                return Ok(());
            }
            let declared = declared.get();
            let left = max_bytes.saturating_sub(written);
            if declared > left {
                problems.push(format!(
                    "{rel}: {declared} bytes, more than the {left} bytes left of the {max_bytes}-byte cap on a case file's bundles; not read (raise --max-extract)"
                ));
                return Ok(());
            }
            let free = crate::platform::available_space(&dir);
            if free.is_some_and(|free| free < declared.saturating_add(SPACE_MARGIN)) {
                stop = Some(Error::failed(format!(
                    "the temporary directory {} has {} free, too little for {rel} of {} ({} kept free); set TMPDIR to a directory with more space",
                    dir.display(),
                    crate::units::human_size(free.unwrap_or(0)),
                    crate::units::human_size(declared),
                    crate::units::human_size(SPACE_MARGIN)
                )));
                return Err(Error::failed("stop"));
            }
            match write_member(&dir.join(name), content, left) {
                Ok((size, sha256)) => {
                    written += size;
                    members.push(Taken {
                        rel: rel.to_string(),
                        file: dir.join(name),
                        size,
                        sha256,
                    });
                    Ok(())
                }
                Err(err) => {
                    stop = Some(err);
                    Err(Error::failed("stop"))
                }
            }
        },
    );
    let verification = match (walked, stop) {
        (_, Some(err)) => return Err(err),
        (Err(err), None) => return Err(err),
        (Ok(verification), None) => verification,
    };
    if !verification.case {
        return Err(Error::integrity(format!(
            "{} is not an intact drx-collect case file: it has no case.json before other files than SHA256SUMS and bundles/",
            path.display()
        )));
    }
    for problem in &verification.problems {
        opened.problems.push(format!(
            "{} {}: {}",
            problem.kind.as_str(),
            problem.path,
            problem.detail
        ));
    }
    opened.problems.extend(problems);
    // Only what SHA256SUMS confirms is read (its problem is already said).
    let confirmed = verification.confirmed();
    members.retain(|m| {
        let keep = confirmed(&m.rel);
        if !keep {
            let _ = std::fs::remove_file(&m.file);
        }
        keep
    });
    drop(confirmed);
    let text = case_json.unwrap_or_default();
    if text.is_empty() || text.len() as u64 > MAX_CASE_JSON {
        return Err(Error::integrity(format!(
            "{} has no readable case.json; it is not an intact drx-collect case file",
            path.display()
        )));
    }
    let index: CaseIndex = serde_json::from_slice(&text).map_err(|err| {
        Error::integrity(format!(
            "the case.json of {} is not valid ({err}); the case file is damaged",
            path.display()
        ))
    })?;
    if index.schema != CASE_SCHEMA {
        return Err(Error::integrity(format!(
            "{} has case schema {:?}; this drx-collect reads {CASE_SCHEMA}",
            path.display(),
            crate::escape::field(&index.schema)
        )));
    }
    let (order, disagreements) = agree(&index, &members);
    opened.problems.extend(disagreements);
    for (at, host) in order {
        opened.bundles.push(members[at].file.clone());
        opened.hosts.push(host);
    }
    opened.index = index;
    Ok(opened)
}

/// case.json against the bundles the archive holds: every listed bundle present once with its
/// size and sha256, every bundle listed, no bundle twice. Returns the bundles to read (index
/// into `members`, with the host case.json names) and one sentence per disagreement. Each
/// bundle present is read, listed or not; one content is read once, whatever its names.
fn agree(index: &CaseIndex, members: &[Taken]) -> (Vec<(usize, Option<String>)>, Vec<String>) {
    use std::collections::{HashMap, HashSet};
    // Maps, not scans: a hostile case.json may list many bundles, an archive hold many members.
    let by_rel: HashMap<&str, usize> = members
        .iter()
        .enumerate()
        .map(|(at, m)| (m.rel.as_str(), at))
        .collect();
    let mut problems = Vec::new();
    let mut seen_paths: HashSet<&str> = HashSet::new();
    let mut listed: Vec<(usize, &CaseBundle)> = Vec::new();
    for bundle in &index.bundles {
        let shown = crate::escape::field(&bundle.path);
        if !seen_paths.insert(bundle.path.as_str()) {
            problems.push(format!("case.json lists {shown} more than once"));
            continue;
        }
        let Some(&at) = by_rel.get(bundle.path.as_str()) else {
            problems.push(format!(
                "{shown}: named in case.json, but absent or not confirmed"
            ));
            continue;
        };
        let member = &members[at];
        if member.size != bundle.size {
            problems.push(format!(
                "{shown}: {} bytes, case.json says {}",
                member.size, bundle.size
            ));
        }
        if !member.sha256.eq_ignore_ascii_case(&bundle.sha256) {
            problems.push(format!(
                "{shown}: its sha256 is {}, case.json says {}",
                member.sha256,
                crate::escape::field(&bundle.sha256)
            ));
        }
        listed.push((at, bundle));
    }
    // Local first, then as listed, then what case.json does not list (by name).
    listed.sort_by_key(|(_, b)| b.role != "local");
    let listed_at: HashSet<usize> = listed.iter().map(|(at, _)| *at).collect();
    let mut order: Vec<(usize, Option<String>)> = listed
        .iter()
        .map(|(at, b)| (*at, Some(b.host.clone())))
        .collect();
    let mut unlisted: Vec<usize> = (0..members.len())
        .filter(|at| !listed_at.contains(at))
        .collect();
    unlisted.sort_by(|a, b| members[*a].rel.cmp(&members[*b].rel));
    for at in unlisted {
        problems.push(format!(
            "{}: in the case file but not listed in case.json; read all the same",
            members[at].rel
        ));
        order.push((at, None));
    }
    let mut first_of: HashMap<&str, usize> = HashMap::new();
    let mut read: Vec<(usize, Option<String>)> = Vec::new();
    for (at, host) in order {
        if let Some(&first) = first_of.get(members[at].sha256.as_str()) {
            problems.push(format!(
                "{} and {} are the same bundle (identical content); read once",
                members[first].rel, members[at].rel
            ));
            continue;
        }
        first_of.insert(members[at].sha256.as_str(), at);
        read.push((at, host));
    }
    (read, problems)
}

/// Copies one bundle of the case to `file` (new, private), at most `cap` bytes, checking for an
/// interruption between blocks. Returns its size and sha256; removes it on failure.
fn write_member(file: &Path, content: &mut dyn Read, cap: u64) -> Result<(u64, String)> {
    use sha2::Digest;
    let mut out = crate::platform::create_new_private(file)
        .map_err(|err| Error::io("write", file, &err, "set TMPDIR to a writable directory"))?;
    let mut hasher = sha2::Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    let result = loop {
        if let Some(signal) = crate::platform::interrupted() {
            break Err(Error::failed(format!(
                "stopped by {}",
                crate::platform::interruption_name(signal)
            )));
        }
        let n = match content.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => break Err(Error::integrity(crate::error::describe_io(&err))),
        };
        size += n as u64;
        if size > cap {
            break Err(Error::failed(format!(
                "the bundles of the case file hold more than the cap on a case file's bundles ({cap} bytes left); raise --max-extract"
            )));
        }
        hasher.update(&buf[..n]);
        if let Err(err) = std::io::Write::write_all(&mut out, &buf[..n]) {
            break Err(Error::io(
                "write",
                file,
                &err,
                "free some space there or set TMPDIR to a directory with more space",
            ));
        }
    };
    drop(out);
    match result {
        Ok(()) => Ok((size, crate::digest::hex(&hasher.finalize()))),
        Err(err) => {
            let _ = std::fs::remove_file(file);
            Err(err)
        }
    }
}

/// A directory only this user can enter, under the system's temporary directory.
fn private_temp_dir() -> Result<PathBuf> {
    let base = std::env::temp_dir();
    for attempt in 0..32u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = base.join(format!(
            "drx-case-{}-{:x}",
            std::process::id(),
            nanos ^ attempt.wrapping_mul(0x9e37_79b9)
        ));
        match crate::platform::create_private_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => {
                return Err(Error::io(
                    "make a temporary directory in",
                    &base,
                    &err,
                    "set TMPDIR to a writable directory",
                ))
            }
        }
    }
    Err(Error::failed(format!(
        "cannot make a private temporary directory in {}; set TMPDIR to a writable directory",
        base.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::testkit::*;

    fn write(dir: &Path, name: &str, members: &[(String, Vec<u8>)]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, tgz(&case_entries(members))).unwrap();
        path
    }

    /// Only bundles are written to the temporary directory, within the cap; a member a case
    /// file does not have is a problem and is not written; the directory goes with the result.
    #[test]
    fn only_bundles_within_the_cap_are_taken_out() {
        let dir = tempfile::tempdir().unwrap();
        let (a, ab) = honest_bundle("node1");
        let (b, bb) = honest_bundle("node2");
        let json = case_json(&[("local", "node1", &a, &ab), ("peer", "node2", &b, &bb)]);
        let members = vec![
            ("case.json".to_string(), json),
            (format!("bundles/{a}"), ab.clone()),
            ("notes.txt".to_string(), b"planted".to_vec()),
            (format!("bundles/{b}"), bb.clone()),
        ];
        let path = write(dir.path(), "ATT00001.tgz", &members);
        assert!(is_case(&path));
        let opened = open(&path, (ab.len() + bb.len()) as u64).unwrap();
        assert_eq!(opened.bundles.len(), 2);
        assert_eq!(opened.hosts, [Some("node1".into()), Some("node2".into())]);
        assert_eq!(opened.problems.len(), 1, "{:?}", opened.problems);
        assert!(opened.problems[0].contains("notes.txt"));
        let taken = opened.dir.clone();
        let names: Vec<_> = std::fs::read_dir(&taken).unwrap().collect();
        assert_eq!(names.len(), 2);
        drop(opened);
        assert!(!taken.exists());
        // One byte less than both: the second is not written, and the problem says so.
        let opened = open(&path, (ab.len() + bb.len()) as u64 - 1).unwrap();
        assert_eq!(opened.bundles.len(), 1);
        assert!(
            opened.problems.iter().any(|p| p.contains("--max-extract")),
            "{:?}",
            opened.problems
        );
    }

    /// A case file holds one cluster's bundles at most: past that they are a problem and are
    /// not written (a hostile case of thousands of tiny members writes 32 files, not thousands).
    #[test]
    fn no_more_than_a_cluster_is_taken_out() {
        let dir = tempfile::tempdir().unwrap();
        let members: Vec<(String, Vec<u8>)> = std::iter::once(("case.json".into(), case_json(&[])))
            .chain((0..40).map(|n| {
                (
                    format!("bundles/drx-collect-n{n}-20261124T100000Z.tgz"),
                    format!("{n}").into_bytes(),
                )
            }))
            .collect();
        let path = write(dir.path(), "c.tgz", &members);
        let opened = open(&path, DEFAULT_MEMBER_CAP).unwrap();
        assert_eq!(opened.bundles.len(), crate::inspect::CLUSTER_MAX);
        let refused = opened
            .problems
            .iter()
            .filter(|p| p.contains("more bundles than one cluster"))
            .count();
        assert_eq!(refused, 40 - crate::inspect::CLUSTER_MAX);
        assert_eq!(std::fs::read_dir(&opened.dir).unwrap().count(), 32);
    }

    /// A bundle is not a case file, whatever its name; a case file is one, whatever its name.
    #[test]
    fn a_case_file_is_told_by_content_not_name() {
        let dir = tempfile::tempdir().unwrap();
        let (a, ab) = honest_bundle("node1");
        let bundle = dir.path().join("drx-case-node1-node2-20261124T100000Z.tgz");
        std::fs::write(&bundle, &ab).unwrap();
        assert!(!is_case(&bundle));
        let json = case_json(&[("local", "node1", &a, &ab)]);
        let case = write(
            dir.path(),
            "x.bin",
            &[
                (format!("bundles/{a}"), ab.clone()),
                ("case.json".into(), json),
            ],
        );
        assert!(is_case(&case));
        // Unreadable: judged by its name, so the error names it as a case file.
        assert!(is_case(&dir.path().join("drx-case-gone.tgz")));
        assert!(!is_case(&dir.path().join("gone.tgz")));
    }
}
