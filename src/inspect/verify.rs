//! Integrity verification in one pass over the bundle (SPEC §3, §7): every file is hashed while
//! the caller (the rules) reads it, `SHA256SUMS` and `index.json` are read on the way, and the
//! comparison happens at the end, since those two may come anywhere in archive order.
use std::collections::{HashMap, HashSet};
use std::io::{self, Read};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::archive::reader::{BundleReader, EntryKind, EntryMeta};
use crate::error::{Error, Result};
use crate::index::{Index, Status};

/// What is wrong with one path of the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProblemKind {
    /// The content differs from its `SHA256SUMS` line.
    Changed,
    /// Listed in `SHA256SUMS` (or required by SPEC §3) but absent.
    Missing,
    /// Present but not listed in `SHA256SUMS`.
    Extra,
    /// An entry no honest bundle has: absolute path, `..`, link, device, duplicate, non-UTF-8 name.
    Unsafe,
    /// `index.json` is malformed, or disagrees with the files.
    Index,
    /// Not the SPEC §3 shape: entries outside the single top directory, a malformed `SHA256SUMS`.
    Layout,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Changed => "changed",
            ProblemKind::Missing => "missing",
            ProblemKind::Extra => "extra",
            ProblemKind::Unsafe => "unsafe",
            ProblemKind::Index => "index",
            ProblemKind::Layout => "layout",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    /// Relative to the top directory when the entry is inside it; else the name as stored.
    pub path: String,
    /// One sentence for people.
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct Verification {
    /// The top directory's name (`drx-collect-<host>-<stamp>`); empty for an empty bundle.
    pub top_dir: String,
    /// The parsed `index.json`, when present and well-formed.
    pub index: Option<Index>,
    /// Sorted by path, then kind.
    pub problems: Vec<Problem>,
    /// Files hashed, and their bytes.
    pub files: u64,
    pub bytes: u64,
    /// The archive is a case file (SPEC §9): `<top>/case.json` comes before any file but
    /// SHA256SUMS and `bundles/…` (`case::says_case`). It then has no index.json of its own (its
    /// bundles do); in a bundle, a top-level case.json is a problem.
    pub case: bool,
}

impl Verification {
    /// The bundle is intact (SPEC §8: exit 0 rather than 3).
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The paths whose content is confirmed: none if `SHA256SUMS` itself has a problem (absent,
    /// too big, malformed), else every file with no problem of its own (`SHA256SUMS` lists it
    /// with this very hash: a changed, unlisted, duplicate or index-contradicted file has one).
    /// `--cat` and `--extract` return only what passes this.
    pub fn confirmed(&self) -> impl Fn(&str) -> bool + '_ {
        let sums_broken = self.problems.iter().any(|p| p.path == SUMS);
        let troubled: HashSet<&str> = self.problems.iter().map(|p| p.path.as_str()).collect();
        move |rel: &str| !sums_broken && !troubled.contains(rel)
    }
}

/// A file of the bundle as `verify_files` hands it over.
pub struct Member<'a> {
    /// The bundle's top directory (`drx-collect-<host>-<stamp>`).
    pub top: &'a str,
    /// The path relative to it (`files/etc/hosts`).
    pub rel: &'a str,
}

/// `index.json` and `SHA256SUMS` are kept in memory; beyond this they are a problem, not a risk.
pub const MAX_INDEX_BYTES: usize = 64 * 1024 * 1024;
pub const MAX_SUMS_BYTES: usize = 64 * 1024 * 1024;

use crate::inspect::case::CASE_JSON;
use crate::layout::{INDEX, SUMS};

/// Verifies the bundle in one pass, handing every file (path relative to the top directory) to
/// `on_file` as it streams. `on_file` may read as little as it likes: the rest is hashed after it
/// returns. Damage or exceeded limits are an `Err`; anything else wrong is a `Problem`.
pub fn verify(
    reader: &mut BundleReader,
    on_file: &mut dyn FnMut(&str, &mut dyn Read) -> Result<()>,
) -> Result<Verification> {
    verify_files(reader, &mut |member, content| on_file(member.rel, content))
}

/// [`verify`], telling the callback the top directory too (`--extract` recreates it).
pub fn verify_files(
    reader: &mut BundleReader,
    on_file: &mut dyn FnMut(&Member, &mut dyn Read) -> Result<()>,
) -> Result<Verification> {
    verify_entries(reader, &mut |_| {}, on_file)
}

/// [`verify_files`], also showing every entry as the container describes it (`--list`).
pub fn verify_entries(
    reader: &mut BundleReader,
    on_entry: &mut dyn FnMut(&EntryMeta),
    on_file: &mut dyn FnMut(&Member, &mut dyn Read) -> Result<()>,
) -> Result<Verification> {
    let mut state = State::default();
    reader.for_each(&mut |meta, content| {
        on_entry(meta);
        state.entry(meta, content, on_file)
    })?;
    Ok(state.finish(reader.label()))
}

struct Seen {
    hash: [u8; 32],
    size: u64,
}

#[derive(Default)]
struct State {
    top: Option<String>,
    files: HashMap<String, Seen>,
    /// Paths inside the top directory seen as something other than a usable file (link,
    /// duplicate...), already reported: not reported missing again.
    rejected: HashSet<String>,
    problems: Vec<Problem>,
    sums: Option<Vec<u8>>,
    sums_too_big: bool,
    index: Option<Vec<u8>>,
    index_too_big: bool,
    bytes: u64,
    entries: u64,
    /// Whether this is a case file is decided by the first files (`case::says_case`).
    decided: bool,
    case: bool,
}

impl State {
    fn problem(&mut self, kind: ProblemKind, path: &str, detail: impl Into<String>) {
        self.problems.push(Problem {
            kind,
            path: path.to_string(),
            detail: detail.into(),
        });
    }

    fn entry(
        &mut self,
        meta: &EntryMeta,
        content: &mut dyn Read,
        on_file: &mut dyn FnMut(&Member, &mut dyn Read) -> Result<()>,
    ) -> Result<()> {
        self.entries += 1;
        let name = meta.name.as_str();
        if std::str::from_utf8(&meta.raw_name).is_err() {
            self.problem(ProblemKind::Unsafe, name, "its name is not valid UTF-8");
            return Ok(());
        }
        let parts = match split_name(name) {
            Ok(parts) => parts,
            Err(why) => {
                self.problem(ProblemKind::Unsafe, name, why);
                return Ok(());
            }
        };
        let Some((first, rest)) = parts.split_first() else {
            // `./` or similar: the archive's root itself.
            return Ok(());
        };
        if self.top.is_none() && (!rest.is_empty() || meta.kind == EntryKind::Dir) {
            self.top = Some(first.to_string());
        }
        let inside = self.top.as_deref() == Some(*first) && !rest.is_empty();
        let rel = rest.join("/");
        let shown = if inside { rel.as_str() } else { name };
        match &meta.kind {
            EntryKind::Dir => return Ok(()),
            EntryKind::File => {}
            EntryKind::Symlink(target) => {
                let detail = format!("a symbolic link to {target}");
                self.reject(inside, &rel, shown, detail);
                return Ok(());
            }
            EntryKind::Hardlink(target) => {
                let detail = format!("a hard link to {target}");
                self.reject(inside, &rel, shown, detail);
                return Ok(());
            }
            EntryKind::Other(what) => {
                let detail = format!("a {what}, not a regular file");
                self.reject(inside, &rel, shown, detail);
                return Ok(());
            }
        }
        if !self.decided {
            // The same test as `case::is_case`.
            if let Some(case) = crate::inspect::case::says_case(inside.then_some(rel.as_str())) {
                self.case = case;
                self.decided = true;
            }
        }
        if !inside {
            let detail = match &self.top {
                Some(top) => format!("outside the bundle's top directory {top}"),
                None => "not inside a top directory".to_string(),
            };
            self.problem(ProblemKind::Layout, name, detail);
            return Ok(());
        }
        if self.files.contains_key(&rel) || self.rejected.contains(&rel) {
            let detail = "appears more than once in the archive; only the first copy was checked";
            self.reject(true, &rel, &rel, detail.to_string());
            return Ok(());
        }

        let capture = if rel == INDEX && self.index.is_none() {
            Some(MAX_INDEX_BYTES)
        } else if rel == SUMS && self.sums.is_none() {
            Some(MAX_SUMS_BYTES)
        } else {
            None
        };
        let mut tee = Tee {
            inner: content,
            hasher: Sha256::new(),
            size: 0,
            capture: Vec::new(),
            capture_cap: capture.unwrap_or(0),
            overflow: false,
        };
        let top = self.top.clone().unwrap_or_default();
        on_file(
            &Member {
                top: &top,
                rel: &rel,
            },
            &mut tee,
        )?;
        // Hash what the consumer left unread, so every byte is hashed exactly once.
        io::copy(&mut tee, &mut io::sink())
            .map_err(|e| Error::failed(crate::error::describe_io(&e)))?;
        let hash: [u8; 32] = tee.hasher.finalize().into();
        self.bytes += tee.size;
        if capture.is_some() {
            if rel == INDEX {
                self.index_too_big = tee.overflow;
                self.index = Some(tee.capture);
            } else {
                self.sums_too_big = tee.overflow;
                self.sums = Some(tee.capture);
            }
        }
        self.files.insert(
            rel,
            Seen {
                hash,
                size: tee.size,
            },
        );
        Ok(())
    }

    fn reject(&mut self, inside: bool, rel: &str, shown: &str, detail: String) {
        if inside {
            self.rejected.insert(rel.to_string());
        }
        self.problem(ProblemKind::Unsafe, shown, detail);
    }

    fn finish(mut self, label: &str) -> Verification {
        let top_dir = self.top.clone().unwrap_or_default();
        if self.entries == 0 {
            self.problem(ProblemKind::Layout, "", format!("bundle {label} is empty"));
        }
        self.check_sums();
        let index = self.check_index();
        if !self.case && self.files.contains_key(CASE_JSON) {
            // A case file's index after a bundle's own files: a bundle with a planted case.json,
            // or a case file with a bundle's files planted first; neither passes as intact.
            self.problem(
                ProblemKind::Layout,
                CASE_JSON,
                "a case file's index among a bundle's files; ask the sender for the case file or the bundles themselves",
            );
        }
        let mut problems = std::mem::take(&mut self.problems);
        problems.sort_by(|a, b| (&a.path, a.kind).cmp(&(&b.path, b.kind)));
        problems.dedup();
        Verification {
            top_dir,
            index,
            problems,
            files: self.files.len() as u64,
            bytes: self.bytes,
            case: self.case,
        }
    }

    fn check_sums(&mut self) {
        let Some(sums) = self.sums.take() else {
            if !self.rejected.contains(SUMS) {
                self.problem(
                    ProblemKind::Missing,
                    SUMS,
                    "the bundle has no SHA256SUMS, so its files cannot be verified",
                );
            }
            return;
        };
        if self.sums_too_big {
            self.problem(
                ProblemKind::Layout,
                SUMS,
                format!("SHA256SUMS is larger than {MAX_SUMS_BYTES} bytes; it was not checked"),
            );
            return;
        }
        let mut listed: HashMap<String, [u8; 32]> = HashMap::new();
        for (number, line) in sums.split(|&b| b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let Some((hash, path)) = parse_sums_line(line) else {
                let detail = format!("line {} is not in sha256sum format", number + 1);
                self.problem(ProblemKind::Layout, SUMS, detail);
                continue;
            };
            let path = match split_name(&path) {
                Ok(parts) if !parts.is_empty() => parts.join("/"),
                _ => {
                    let detail = format!("line {} names an unsafe path {path}", number + 1);
                    self.problem(ProblemKind::Layout, SUMS, detail);
                    continue;
                }
            };
            if let Some(before) = listed.insert(path.clone(), hash) {
                if before != hash {
                    let detail = "SHA256SUMS lists it twice with different checksums";
                    self.problem(ProblemKind::Layout, &path, detail);
                }
            }
        }
        let mut problems = Vec::new();
        for (path, expected) in &listed {
            match self.files.get(path) {
                Some(seen) if seen.hash == *expected => {}
                Some(seen) => problems.push(Problem {
                    kind: ProblemKind::Changed,
                    path: path.clone(),
                    detail: format!(
                        "its sha256 is {}, SHA256SUMS says {}",
                        hex(&seen.hash),
                        hex(expected)
                    ),
                }),
                None if self.rejected.contains(path) => {}
                None => problems.push(Problem {
                    kind: ProblemKind::Missing,
                    path: path.clone(),
                    detail: "listed in SHA256SUMS but absent from the bundle".to_string(),
                }),
            }
        }
        for path in self.files.keys() {
            if path != SUMS && !listed.contains_key(path) {
                problems.push(Problem {
                    kind: ProblemKind::Extra,
                    path: path.clone(),
                    detail: "present in the bundle but not listed in SHA256SUMS".to_string(),
                });
            }
        }
        self.problems.extend(problems);
    }

    fn check_index(&mut self) -> Option<Index> {
        if self.case {
            // A case file has case.json instead: its bundles carry their own index (an
            // index.json beside them is a member a case file does not have: `case::open`).
            return None;
        }
        let Some(bytes) = self.index.take() else {
            if !self.rejected.contains(INDEX) {
                self.problem(ProblemKind::Missing, INDEX, "the bundle has no index.json");
            }
            return None;
        };
        if self.index_too_big {
            let detail =
                format!("index.json is larger than {MAX_INDEX_BYTES} bytes; it was not read");
            self.problem(ProblemKind::Index, INDEX, detail);
            return None;
        }
        let index: Index = match serde_json::from_slice(&bytes) {
            Ok(index) => index,
            Err(e) => {
                self.problem(
                    ProblemKind::Index,
                    INDEX,
                    format!("index.json is not valid: {e}"),
                );
                return None;
            }
        };
        if !index.schema.starts_with("drx-collect/index/") {
            let detail = format!("index.json has an unknown schema {:?}", index.schema);
            self.problem(ProblemKind::Index, INDEX, detail);
        }
        for item in &index.items {
            let exempt = matches!(
                item.status,
                Status::Missing | Status::Denied | Status::Skipped
            );
            if exempt {
                continue;
            }
            let Some(path) = &item.path else {
                if item.status != Status::Failed {
                    let detail = format!(
                        "index.json item {} has status {} but no path",
                        item.id,
                        item.status.as_str()
                    );
                    self.problem(ProblemKind::Index, INDEX, detail);
                }
                continue;
            };
            self.check_item_file(&item.id, path, item.bytes, item.sha256.as_deref());
            if let Some(stderr) = &item.stderr_path {
                self.check_item_file(&item.id, stderr, None, None);
            }
        }
        Some(index)
    }

    fn check_item_file(&mut self, id: &str, path: &str, bytes: Option<u64>, sha256: Option<&str>) {
        let rel = match split_name(path) {
            Ok(parts) if !parts.is_empty() => parts.join("/"),
            _ => {
                let detail = format!("index.json item {id} has an unsafe path");
                self.problem(ProblemKind::Index, path, detail);
                return;
            }
        };
        let Some(seen) = self.files.get(&rel) else {
            let detail = format!("index.json item {id} names this file, but it is absent");
            self.problem(ProblemKind::Index, &rel, detail);
            return;
        };
        let mut wrong = Vec::new();
        if let Some(bytes) = bytes {
            if bytes != seen.size {
                wrong.push(format!("{bytes} bytes (the file has {})", seen.size));
            }
        }
        if let Some(sha256) = sha256 {
            if !sha256.eq_ignore_ascii_case(&hex(&seen.hash)) {
                wrong.push(format!(
                    "sha256 {sha256} (the file has {})",
                    hex(&seen.hash)
                ));
            }
        }
        if !wrong.is_empty() {
            let detail = format!("index.json item {id} says {}", wrong.join(" and "));
            self.problem(ProblemKind::Index, &rel, detail);
        }
    }
}

/// Hashes what passes through, and keeps a copy of it when asked (index.json, SHA256SUMS).
struct Tee<'a> {
    inner: &'a mut dyn Read,
    hasher: Sha256,
    size: u64,
    capture: Vec<u8>,
    capture_cap: usize,
    overflow: bool,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let data = &buf[..n];
        self.hasher.update(data);
        self.size += n as u64;
        if self.capture_cap > 0 && !self.overflow {
            if self.capture.len() + n > self.capture_cap {
                self.overflow = true;
                self.capture = Vec::new();
            } else {
                self.capture.extend_from_slice(data);
            }
        }
        Ok(n)
    }
}

/// Splits an entry name into its components, refusing what could escape a directory.
/// `.` and empty components (`./x`, `a//b`, a trailing `/`) are dropped.
pub(crate) fn split_name(name: &str) -> std::result::Result<Vec<&str>, &'static str> {
    if name.contains('\0') {
        return Err("its name contains a NUL byte");
    }
    if name.starts_with('/') || name.starts_with("\\\\") {
        return Err("an absolute path");
    }
    let bytes = name.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Err("an absolute Windows path");
    }
    let mut parts = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("its path has a `..` component"),
            part => parts.push(part),
        }
    }
    Ok(parts)
}

/// `<64 hex>  <path>` (text mode) or `<64 hex> *<path>` (binary mode); a leading `\` means the
/// path has `\\` and `\n` escapes, as GNU sha256sum writes for awkward names.
fn parse_sums_line(line: &[u8]) -> Option<([u8; 32], String)> {
    let (escaped, line) = match line.strip_prefix(b"\\") {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    if line.len() < 67 || line[64] != b' ' || !(line[65] == b' ' || line[65] == b'*') {
        return None;
    }
    if !line[..64].iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut hash = [0u8; 32];
    for (i, pair) in line[..64].chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        hash[i] = u8::from_str_radix(text, 16).ok()?;
    }
    let path = std::str::from_utf8(&line[66..]).ok()?;
    let path = if escaped {
        let mut out = String::with_capacity(path.len());
        let mut chars = path.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next()? {
                    'n' => out.push('\n'),
                    '\\' => out.push('\\'),
                    'r' => out.push('\r'),
                    _ => return None,
                }
            } else {
                out.push(c);
            }
        }
        out
    } else {
        path.to_string()
    };
    Some((hash, path))
}

pub(crate) use crate::digest::hex;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::testkit::*;

    fn run(bytes: Vec<u8>) -> Verification {
        let mut reader = BundleReader::from_bytes(bytes).unwrap();
        verify(&mut reader, &mut |_, _| Ok(())).unwrap()
    }

    fn kinds(v: &Verification) -> Vec<(ProblemKind, &str)> {
        v.problems
            .iter()
            .map(|p| (p.kind, p.path.as_str()))
            .collect()
    }

    #[test]
    fn intact_bundle_verifies_in_every_container() {
        let files = honest_files();
        for bytes in [
            tgz(&entries(&files)),
            zip(&entries(&files)),
            tar(&entries(&files)),
        ] {
            let v = run(bytes);
            assert!(v.ok(), "{:?}", v.problems);
            assert_eq!(v.top_dir, TOP);
            assert_eq!(v.files, 6);
            assert_eq!(v.index.unwrap().items.len(), 4);
        }
    }

    #[test]
    fn directory_bundle_verifies() {
        let tmp = tempfile::tempdir().unwrap();
        for (path, data) in honest_files() {
            let path = tmp.path().join(TOP).join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, data).unwrap();
        }
        for path in [tmp.path().to_path_buf(), tmp.path().join(TOP)] {
            let mut reader = BundleReader::open(&path).unwrap();
            let v = verify(&mut reader, &mut |_, _| Ok(())).unwrap();
            assert!(v.ok(), "{:?}", v.problems);
            assert_eq!(v.top_dir, TOP);
        }
    }

    #[test]
    fn bundle_of_another_tool_with_minimal_index_verifies() {
        let mut files = vec![
            (
                "index.json".to_string(),
                br#"{"schema":"drx-collect/index/v1"}"#.to_vec(),
            ),
            (
                "commands/systeminfo.txt".to_string(),
                b"OS Name: Windows\r\n".to_vec(),
            ),
        ];
        // Binary-mode lines, `./` prefixes and CRLF, as other sha256sum writers produce.
        let sums: String = files
            .iter()
            .map(|(p, d)| format!("{} *./{p}\r\n", sha(d)))
            .collect();
        files.push(("SHA256SUMS".to_string(), sums.into_bytes()));
        let mut ents = vec![];
        for (p, d) in &files {
            ents.push(file(&format!("./other-tool-bundle/{p}"), d));
        }
        let v = run(zip(&ents));
        assert!(v.ok(), "{:?}", v.problems);
        assert_eq!(v.top_dir, "other-tool-bundle");
        assert!(v.index.is_some());
    }

    #[test]
    fn one_changed_byte_is_reported_by_path() {
        let mut files = honest_files();
        let hosts = files.iter_mut().find(|f| f.0 == "files/etc/hosts").unwrap();
        hosts.1[0] ^= 1;
        let v = run(tgz(&entries(&files)));
        // The index's own sha256 of the file disagrees too.
        assert_eq!(
            kinds(&v),
            [
                (ProblemKind::Changed, "files/etc/hosts"),
                (ProblemKind::Index, "files/etc/hosts")
            ]
        );
        assert!(v.problems[0].detail.contains("SHA256SUMS says"));
    }

    #[test]
    fn missing_and_extra_files_are_reported() {
        let mut files = honest_files();
        files.retain(|f| f.0 != "commands/uname.txt");
        files.push(("files/etc/added".to_string(), b"new".to_vec()));
        let v = run(tgz(&entries(&files)));
        assert_eq!(
            kinds(&v),
            [
                (ProblemKind::Missing, "commands/uname.txt"),
                (ProblemKind::Index, "commands/uname.txt"),
                (ProblemKind::Extra, "files/etc/added"),
            ]
        );
    }

    /// A case file is told by its content: case.json before any file but SHA256SUMS and
    /// bundles/; it then needs no index.json. A case.json after a bundle's own files is a
    /// problem, never a pass for a missing index.json.
    #[test]
    fn a_case_file_is_told_by_its_content_and_a_planted_case_json_is_a_problem() {
        let (name, bundle) = honest_bundle("node2");
        let json = case_json(&[("peer", "node2", &name, &bundle)]);
        let member = (format!("bundles/{name}"), bundle);
        for members in [
            vec![("case.json".to_string(), json.clone()), member.clone()],
            vec![member.clone(), ("case.json".to_string(), json.clone())],
        ] {
            let v = run(tgz(&case_entries(&members)));
            assert!(v.case);
            assert!(v.ok(), "{:?}", v.problems);
        }
        let planted = vec![
            ("files/etc/hosts".to_string(), b"x\n".to_vec()),
            ("case.json".to_string(), json),
            member,
        ];
        let v = run(tgz(&case_entries(&planted)));
        assert!(!v.case);
        assert_eq!(
            kinds(&v),
            [
                (ProblemKind::Layout, "case.json"),
                (ProblemKind::Missing, "index.json")
            ]
        );
    }

    #[test]
    fn missing_sums_and_index_are_reported() {
        let files = vec![("files/x".to_string(), b"x".to_vec())];
        let v = run(tgz(&entries(&files)));
        assert_eq!(
            kinds(&v),
            [
                (ProblemKind::Missing, "SHA256SUMS"),
                (ProblemKind::Missing, "index.json")
            ]
        );
    }

    fn with_index(index: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut files = vec![
            ("index.json".to_string(), index.to_vec()),
            ("files/a".to_string(), b"aaa".to_vec()),
        ];
        let sums = sums_for(&files);
        files.push(("SHA256SUMS".to_string(), sums));
        files
    }

    #[test]
    fn malformed_index_is_a_problem_not_a_panic() {
        for index in [
            &b"{not json"[..],
            b"[]",
            b"{\"schema\": 5}",
            b"{\"schema\":\"x\"}",
            b"",
        ] {
            let v = run(tgz(&entries(&with_index(index))));
            assert_eq!(kinds(&v), [(ProblemKind::Index, "index.json")], "{index:?}");
        }
    }

    #[test]
    fn index_disagreeing_with_files_is_reported() {
        let index = serde_json::json!({
            "schema": "drx-collect/index/v1",
            "items": [
                {"id": "a", "kind": "file", "source": "/a", "path": "files/a", "status": "ok",
                 "bytes": 4, "sha256": sha(b"aaa")},
                {"id": "b", "kind": "file", "source": "/b", "path": "files/b", "status": "truncated"},
                {"id": "c", "kind": "command", "source": "c", "status": "failed"},
                {"id": "d", "kind": "command", "source": "d", "status": "ok"},
                {"id": "e", "kind": "file", "source": "/e", "path": "../e", "status": "ok"},
                {"id": "f", "kind": "file", "source": "/f", "path": "files/f", "status": "skipped"}
            ]
        });
        let v = run(tgz(&entries(&with_index(index.to_string().as_bytes()))));
        assert_eq!(
            kinds(&v),
            [
                (ProblemKind::Index, "../e"),
                (ProblemKind::Index, "files/a"),
                (ProblemKind::Index, "files/b"),
                (ProblemKind::Index, "index.json"),
            ]
        );
        assert!(v.problems[1].detail.contains("4 bytes (the file has 3)"));
        assert!(v.problems[3].detail.contains("item d"));
    }

    #[test]
    fn hostile_entries_are_reported_as_unsafe() {
        let mut ents = entries(&honest_files());
        ents.push(file("../../etc/x", b"evil"));
        ents.push(file("/etc/passwd", b"evil"));
        ents.push(ent(
            format!("{TOP}/files/link").as_bytes(),
            Kind::Symlink("/etc/passwd".into()),
        ));
        ents.push(ent(
            format!("{TOP}/files/hard").as_bytes(),
            Kind::Hardlink("/etc/shadow".into()),
        ));
        ents.push(ent(format!("{TOP}/files/dev").as_bytes(), Kind::CharDevice));
        ents.push(file(&format!("{TOP}/files/etc/hosts"), b"second copy"));
        let mut bad = format!("{TOP}/files/").into_bytes();
        bad.extend_from_slice(b"\xff\xfe");
        ents.push(ent(&bad, Kind::File(b"x".to_vec())));
        let v = run(tgz(&ents));
        let got = kinds(&v);
        assert!(
            got.iter().all(|(k, _)| *k == ProblemKind::Unsafe),
            "{got:?}"
        );
        let paths: Vec<&str> = got.iter().map(|g| g.1).collect();
        assert_eq!(
            paths,
            [
                "../../etc/x",
                "/etc/passwd",
                &format!("{TOP}/files/\u{fffd}\u{fffd}"),
                "files/dev",
                "files/etc/hosts",
                "files/hard",
                "files/link",
            ]
        );
    }

    #[test]
    fn entries_outside_the_top_directory_are_reported() {
        let mut ents = entries(&honest_files());
        ents.push(file("second-top/x", b"x"));
        ents.push(file("loose-file", b"x"));
        let v = run(tgz(&ents));
        assert_eq!(
            kinds(&v),
            [
                (ProblemKind::Layout, "loose-file"),
                (ProblemKind::Layout, "second-top/x")
            ]
        );
    }

    #[test]
    fn sums_may_come_last_and_malformed_lines_are_reported() {
        let mut files = honest_files();
        let at = files.iter().position(|f| f.0 == "SHA256SUMS").unwrap();
        let mut sums = files.remove(at);
        sums.1.extend_from_slice(b"not a checksum line\n");
        files.push(sums);
        let v = run(tgz(&entries(&files)));
        assert_eq!(kinds(&v), [(ProblemKind::Layout, "SHA256SUMS")]);
        assert!(v.problems[0].detail.contains("line 6"));
    }

    #[test]
    fn every_file_reaches_the_caller_and_partial_reads_still_hash_everything() {
        let files = honest_files();
        for background in [false, true] {
            let mut reader = BundleReader::from_bytes(tgz(&entries(&files))).unwrap();
            reader.set_background(background);
            let mut seen = Vec::new();
            let v = verify(&mut reader, &mut |path, content| {
                let mut head = [0u8; 3];
                let n = content.read(&mut head).unwrap_or(0);
                seen.push((path.to_string(), head[..n].to_vec()));
                Ok(())
            })
            .unwrap();
            assert!(v.ok(), "{:?}", v.problems);
            let expected: Vec<(String, Vec<u8>)> = files
                .iter()
                .map(|(p, d)| (p.clone(), d[..3.min(d.len())].to_vec()))
                .collect();
            assert_eq!(seen, expected);
        }
    }

    #[test]
    fn a_failing_consumer_stops_verification() {
        let mut reader = BundleReader::from_bytes(tgz(&entries(&honest_files()))).unwrap();
        let err = verify(&mut reader, &mut |_, _| Err(Error::failed("rule broke"))).unwrap_err();
        assert_eq!(err.message(), "rule broke");
    }

    #[test]
    fn truncated_bundle_is_an_error() {
        let mut files = honest_files();
        files.push((
            "files/big".to_string(),
            (0..50_000u32).flat_map(|i| i.to_be_bytes()).collect(),
        ));
        let bytes = tgz(&entries(&files));
        let mut reader = BundleReader::from_bytes(bytes[..bytes.len() / 2].to_vec()).unwrap();
        let err = verify(&mut reader, &mut |_, _| Ok(())).unwrap_err();
        assert!(err.message().contains("is damaged"), "{err}");
    }

    #[test]
    fn sums_lines_parse_like_sha256sum() {
        let h = "ab".repeat(32);
        assert_eq!(
            parse_sums_line(format!("{h}  a b").as_bytes()).unwrap().1,
            "a b"
        );
        assert_eq!(
            parse_sums_line(format!("{h} *x").as_bytes()).unwrap().1,
            "x"
        );
        assert_eq!(
            parse_sums_line(format!("\\{h}  a\\nb").as_bytes())
                .unwrap()
                .1,
            "a\nb"
        );
        assert!(parse_sums_line(format!("{h} x").as_bytes()).is_none());
        assert!(parse_sums_line(format!("+{}  x", &h[1..]).as_bytes()).is_none());
        assert!(parse_sums_line(b"").is_none());
    }

    #[test]
    fn names_are_split_safely() {
        assert_eq!(split_name("./a//b/").unwrap(), ["a", "b"]);
        assert!(split_name("a/../b").is_err());
        assert!(split_name("/a").is_err());
        assert!(split_name("C:/a").is_err());
        assert!(split_name("\\\\server\\share").is_err());
        assert!(split_name("a\0b").is_err());
    }
}

/// Throughput of `verify` on a real bundle, inline and with the decoding thread:
/// `DRX_BENCH_BUNDLE=x.tgz cargo test --release --lib -- --ignored verify_throughput --nocapture`
#[cfg(test)]
#[test]
#[ignore]
fn verify_throughput() {
    let Some(path) = std::env::var_os("DRX_BENCH_BUNDLE") else {
        return;
    };
    for background in [false, true, false, true] {
        let mut reader = BundleReader::open(std::path::Path::new(&path)).unwrap();
        reader.set_background(background);
        let start = std::time::Instant::now();
        let v = verify(&mut reader, &mut |_, _| Ok(())).unwrap();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "background={background}: {} files, {} MB in {secs:.2}s = {:.0} MB/s",
            v.files,
            v.bytes / 1_000_000,
            v.bytes as f64 / 1e6 / secs
        );
    }
}
