//! `drx-collect diff OLD NEW`: what changed between two snapshots of one node. Findings are
//! compared with this binary's rules (new / resolved / still present, by rule and path); files by
//! SHA-256; small text files (configs, command outputs) get a unified diff, logs the lines added
//! since OLD. Each bundle is read once, streaming; only small text files (up to 256 KiB each, a
//! bounded total) and hashes stay in memory.
use crate::archive::reader::BundleReader;
use crate::error::{Error, ExitStatus, Result};
use crate::index::Finding;
use crate::inspect::verify::{self, Verification};
use crate::lang::Lang;
use crate::rules::{Catalogue, Evidence, Scan};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

pub struct Settings {
    pub old: PathBuf,
    pub new: PathBuf,
    /// With case files: which node's bundles to compare (host name).
    pub node: Option<String>,
    pub json: bool,
    pub lang: Lang,
}

/// Text files up to this size are kept to be diffed.
const TEXT_CAP: usize = 256 << 10;
/// All kept texts of one bundle together: beyond this, changes are listed without their diff.
const KEPT_TOTAL: usize = 64 << 20;
/// Lines shown of what a log gained (all are counted).
const SHOWN_LINES: usize = 200;
/// Characters shown of one line.
const LINE_CHARS: usize = 500;
/// Bytes of a line compared when looking for OLD's last line in NEW.
const LINE_CAP: usize = 4096;

use crate::layout::{is_log, is_meta};

struct FileInfo {
    sha256: String,
    size: u64,
    /// The content, when it is small text (no NUL byte) and the memory budget allowed.
    text: Option<Vec<u8>>,
    /// For logs: the last line, so NEW can be searched for it.
    last_line: Option<Vec<u8>>,
}

/// What a log gained from OLD to NEW.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Growth {
    /// OLD's content is NEW's beginning: these lines came after.
    Appended(Lines),
    /// OLD is not a prefix (rotated, or truncated to its tail), but OLD's last line is in NEW:
    /// these lines came after its last occurrence.
    AfterLastLine(Lines),
    /// Nothing of OLD's end is in NEW (rotated away, or rewritten).
    Replaced,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lines {
    pub shown: Vec<String>,
    pub total: usize,
}

impl Lines {
    fn push(&mut self, line: &[u8]) {
        self.total += 1;
        if self.shown.len() < SHOWN_LINES {
            let text = String::from_utf8_lossy(line);
            self.shown.push(text.chars().take(LINE_CHARS).collect());
        }
    }
}

/// Follows a NEW log against what OLD had: a hash of NEW's first `old_len` bytes (is OLD a
/// prefix?) and, in the same pass, the lines after OLD's last line.
pub struct Follower {
    old_len: u64,
    old_sha256: String,
    old_last: Option<Vec<u8>>,
    prefix: Sha256,
    pos: u64,
    line: Vec<u8>,
    line_start: u64,
    after_prefix: Lines,
    after_match: Lines,
    matched: bool,
}

impl Follower {
    pub fn new(old_len: u64, old_sha256: &str, old_last: Option<Vec<u8>>) -> Follower {
        Follower {
            old_len,
            old_sha256: old_sha256.to_string(),
            old_last,
            prefix: Sha256::new(),
            pos: 0,
            line: Vec::new(),
            line_start: 0,
            after_prefix: Lines::default(),
            after_match: Lines::default(),
            matched: false,
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        if self.pos < self.old_len {
            let take = ((self.old_len - self.pos) as usize).min(chunk.len());
            self.prefix.update(&chunk[..take]);
        }
        let mut start = 0;
        for (i, &b) in chunk.iter().enumerate() {
            if b == b'\n' {
                self.take(&chunk[start..i]);
                self.end_line();
                self.line_start = self.pos + i as u64 + 1;
                start = i + 1;
            }
        }
        self.take(&chunk[start..]);
        self.pos += chunk.len() as u64;
    }

    fn take(&mut self, bytes: &[u8]) {
        let room = LINE_CAP.saturating_sub(self.line.len());
        self.line.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn end_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if self.line_start >= self.old_len {
            self.after_prefix.push(line);
        }
        if self.old_last.as_deref() == Some(line) {
            self.after_match = Lines::default();
            self.matched = true;
        } else if self.matched {
            self.after_match.push(line);
        }
    }

    pub fn finish(mut self) -> Growth {
        if !self.line.is_empty() {
            self.end_line();
        }
        let prefix = crate::digest::hex(&self.prefix.finalize());
        if self.pos >= self.old_len && prefix == self.old_sha256 {
            Growth::Appended(self.after_prefix)
        } else if self.matched {
            Growth::AfterLastLine(self.after_match)
        } else {
            Growth::Replaced
        }
    }
}

/// The last line of a stream (bounded), for OLD's logs.
#[derive(Default)]
struct LastLine {
    current: Vec<u8>,
    last: Option<Vec<u8>>,
}

impl LastLine {
    fn feed(&mut self, chunk: &[u8]) {
        for part in chunk.split_inclusive(|&b| b == b'\n') {
            let (body, ended) = match part.strip_suffix(b"\n") {
                Some(body) => (body, true),
                None => (part, false),
            };
            let room = LINE_CAP.saturating_sub(self.current.len());
            self.current
                .extend_from_slice(&body[..body.len().min(room)]);
            if ended {
                let line = std::mem::take(&mut self.current);
                let line = line.strip_suffix(b"\r").map(<[u8]>::to_vec).unwrap_or(line);
                if !line.is_empty() {
                    self.last = Some(line);
                }
            }
        }
    }

    fn finish(self) -> Option<Vec<u8>> {
        if self.current.is_empty() {
            self.last
        } else {
            Some(self.current)
        }
    }
}

/// Reads a file's content once: hashes it, keeps it if small text, and feeds the log helpers.
struct Tap<'a> {
    inner: &'a mut dyn Read,
    hasher: Sha256,
    size: u64,
    keep: Option<Vec<u8>>,
    last: Option<LastLine>,
    follower: Option<Follower>,
}

impl Read for Tap<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk = &buf[..n];
        self.hasher.update(chunk);
        self.size += n as u64;
        if let Some(kept) = &mut self.keep {
            if kept.len() + n > TEXT_CAP || chunk.contains(&0) {
                self.keep = None;
            } else {
                kept.extend_from_slice(chunk);
            }
        }
        if let Some(last) = &mut self.last {
            last.feed(chunk);
        }
        if let Some(follower) = &mut self.follower {
            follower.feed(chunk);
        }
        Ok(n)
    }
}

struct Snapshot {
    path: PathBuf,
    verification: Verification,
    evidence: Evidence,
    files: BTreeMap<String, FileInfo>,
    growth: BTreeMap<String, Growth>,
}

impl Snapshot {
    fn host(&self) -> &str {
        self.verification
            .index
            .as_ref()
            .map(|i| i.host.hostname.as_str())
            .unwrap_or("")
    }

    fn case_id(&self) -> Option<&str> {
        self.verification
            .index
            .as_ref()
            .and_then(|i| i.case_id.as_deref())
    }

    fn started(&self) -> &str {
        self.verification
            .index
            .as_ref()
            .and_then(|i| i.started_at.as_deref())
            .unwrap_or("")
    }
}

/// One pass over a bundle: verification, the rules, hashes, small texts; with `old` given, logs
/// are followed against OLD's and only texts that differ from OLD's are kept.
fn read(path: &Path, catalogue: &Catalogue, old: Option<&Snapshot>) -> Result<Snapshot> {
    let mut reader = BundleReader::open(path)?;
    let mut scan = Scan::new(catalogue);
    let mut files = BTreeMap::new();
    let mut growth = BTreeMap::new();
    let mut kept_total = 0usize;
    let mut feed = crate::inspect::Feed::default();
    let verification = verify::verify(&mut reader, &mut |name, content| {
        let before = old.and_then(|o| o.files.get(name));
        let log = is_log(name);
        let follower = match before {
            Some(b) if log => Some(Follower::new(b.size, &b.sha256, b.last_line.clone())),
            _ => None,
        };
        let wants_text = !is_meta(name)
            && kept_total < KEPT_TOTAL
            && match old {
                None => true,
                Some(_) => before.is_some_and(|b| b.text.is_some()),
            };
        let mut tap = Tap {
            inner: content,
            hasher: Sha256::new(),
            size: 0,
            keep: wants_text.then(Vec::new),
            last: (old.is_none() && log).then(LastLine::default),
            follower,
        };
        let fail = |err: io::Error| {
            Error::failed(format!(
                "cannot read {name} in bundle {}: {}",
                path.display(),
                crate::error::describe_io(&err)
            ))
        };
        if !is_meta(name) {
            feed.file(&mut scan, name, &mut tap).map_err(fail)?;
        }
        io::copy(&mut tap, &mut io::sink()).map_err(fail)?;
        let sha256 = crate::digest::hex(&tap.hasher.finalize());
        let mut text = tap.keep;
        if before.is_some_and(|b| b.sha256 == sha256) {
            text = None;
        }
        kept_total += text.as_ref().map_or(0, Vec::len);
        if let Some(follower) = tap.follower {
            if before.is_some_and(|b| b.sha256 != sha256) {
                growth.insert(name.to_string(), follower.finish());
            }
        }
        files.insert(
            name.to_string(),
            FileInfo {
                sha256,
                size: tap.size,
                text,
                last_line: tap.last.and_then(LastLine::finish),
            },
        );
        Ok(())
    })?;
    let index = verification.index.clone().unwrap_or_default();
    let facts = crate::inspect::facts_of(&index);
    let evidence = scan.finish(&facts);
    Ok(Snapshot {
        path: path.to_path_buf(),
        verification,
        evidence,
        files,
        growth,
    })
}

// ---- line diff ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Same(usize, usize),
    Delete(usize),
    Insert(usize),
}

/// Beyond this many differences the middle is shown as all removed, then all added: Myers'
/// trace grows with the square of the differences.
const MAX_EDITS: usize = 1000;

/// The edit script from `a` to `b` (Myers' O(ND) algorithm), common ends trimmed first.
pub fn diff_lines<T: PartialEq>(a: &[T], b: &[T]) -> Vec<Op> {
    let head = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let mut ops: Vec<Op> = (0..head).map(|i| Op::Same(i, i)).collect();
    match myers(ma, mb) {
        Some(middle) => ops.extend(middle.into_iter().map(|op| match op {
            Op::Same(i, j) => Op::Same(i + head, j + head),
            Op::Delete(i) => Op::Delete(i + head),
            Op::Insert(j) => Op::Insert(j + head),
        })),
        None => {
            ops.extend((0..ma.len()).map(|i| Op::Delete(i + head)));
            ops.extend((0..mb.len()).map(|j| Op::Insert(j + head)));
        }
    }
    ops.extend((0..tail).map(|k| Op::Same(a.len() - tail + k, b.len() - tail + k)));
    ops
}

fn myers<T: PartialEq>(a: &[T], b: &[T]) -> Option<Vec<Op>> {
    let (n, m) = (a.len() as isize, b.len() as isize);
    let max = (n + m) as usize;
    let offset = max as isize + 1;
    let mut v = vec![0isize; 2 * max + 3];
    // trace[d] holds V for k in -(d-1)..=(d-1) as it was before step d.
    let mut trace: Vec<Vec<isize>> = Vec::new();
    let mut end = None;
    for d in 0..=(max as isize) {
        if d as usize > MAX_EDITS {
            return None;
        }
        let lo = (offset - (d - 1).max(0)) as usize;
        let hi = (offset + (d - 1).max(0)) as usize;
        trace.push(if d == 0 {
            Vec::new()
        } else {
            v[lo..=hi].to_vec()
        });
        let mut k = -d;
        while k <= d {
            let at = |k: isize| (offset + k) as usize;
            let mut x = if k == -d || (k != d && v[at(k - 1)] < v[at(k + 1)]) {
                v[at(k + 1)]
            } else {
                v[at(k - 1)] + 1
            };
            let mut y = x - k;
            while x < n && y < m && a[x as usize] == b[y as usize] {
                x += 1;
                y += 1;
            }
            v[at(k)] = x;
            if x >= n && y >= m {
                end = Some(d);
                break;
            }
            k += 2;
        }
        if end.is_some() {
            break;
        }
    }
    let depth = end?;
    let mut ops = Vec::new();
    let (mut x, mut y) = (n, m);
    for d in (1..=depth).rev() {
        let saved = &trace[d as usize];
        let get = |k: isize| saved[(k + d - 1) as usize];
        let k = x - y;
        let prev_k = if k == -d || (k != d && get(k - 1) < get(k + 1)) {
            k + 1
        } else {
            k - 1
        };
        let prev_x = get(prev_k);
        let prev_y = prev_x - prev_k;
        while x > prev_x && y > prev_y {
            ops.push(Op::Same((x - 1) as usize, (y - 1) as usize));
            x -= 1;
            y -= 1;
        }
        if x == prev_x {
            ops.push(Op::Insert((y - 1) as usize));
        } else {
            ops.push(Op::Delete((x - 1) as usize));
        }
        x = prev_x;
        y = prev_y;
    }
    while x > 0 && y > 0 {
        ops.push(Op::Same((x - 1) as usize, (y - 1) as usize));
        x -= 1;
        y -= 1;
    }
    ops.reverse();
    Some(ops)
}

/// A unified diff (3 lines of context) of two texts; empty when they are equal line by line.
pub fn unified(old_name: &str, new_name: &str, a: &str, b: &str) -> String {
    let la: Vec<&str> = a.lines().collect();
    let lb: Vec<&str> = b.lines().collect();
    let ops = diff_lines(&la, &lb);
    if ops.iter().all(|op| matches!(op, Op::Same(..))) {
        return String::new();
    }
    const CONTEXT: usize = 3;
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| !matches!(op, Op::Same(..)))
        .map(|(i, _)| i)
        .collect();
    let mut i = 0;
    while i < changed.len() {
        let start = changed[i].saturating_sub(CONTEXT);
        let mut last = changed[i];
        while i + 1 < changed.len() && changed[i + 1] <= last + 2 * CONTEXT + 1 {
            i += 1;
            last = changed[i];
        }
        let stop = (last + CONTEXT + 1).min(ops.len());
        let hunk = &ops[start..stop];
        let old_start = hunk.iter().find_map(|op| match op {
            Op::Same(i, _) | Op::Delete(i) => Some(*i),
            Op::Insert(_) => None,
        });
        let new_start = hunk.iter().find_map(|op| match op {
            Op::Same(_, j) | Op::Insert(j) => Some(*j),
            Op::Delete(_) => None,
        });
        let old_count = hunk
            .iter()
            .filter(|op| !matches!(op, Op::Insert(_)))
            .count();
        let new_count = hunk
            .iter()
            .filter(|op| !matches!(op, Op::Delete(_)))
            .count();
        // An empty side (a file that was empty) is written 0,0.
        let number = |start: Option<usize>, count: usize| match (start, count) {
            (Some(s), c) if c > 0 => format!("{},{c}", s + 1),
            _ => "0,0".to_string(),
        };
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            number(old_start, old_count),
            number(new_start, new_count)
        ));
        for op in hunk {
            let line = match op {
                Op::Same(i, _) => format!(" {}", show(la[*i])),
                Op::Delete(i) => format!("-{}", show(la[*i])),
                Op::Insert(j) => format!("+{}", show(lb[*j])),
            };
            out.push_str(&line);
            out.push('\n');
        }
        i += 1;
    }
    out
}

/// A BOM is invisible on a terminal, and it is exactly what CONFIG-BOM is about: name it.
fn show(line: &str) -> String {
    line.replace('\u{feff}', "<BOM>")
}

// ---- comparison ----

#[derive(Debug)]
enum Change {
    Added,
    Removed,
    Changed {
        diff: Option<String>,
        growth: Option<Growth>,
        note: Option<&'static str>,
    },
}

struct Report {
    new: Vec<Finding>,
    resolved: Vec<Finding>,
    still: Vec<Finding>,
    files: Vec<(String, Change)>,
    warnings: Vec<String>,
}

fn key(finding: &Finding) -> (String, String) {
    (
        finding.rule.clone(),
        finding.path.clone().unwrap_or_default(),
    )
}

fn compare(old: &Snapshot, new: &Snapshot, lang: Lang) -> Report {
    let before = old.evidence.findings(lang);
    let after = new.evidence.findings(lang);
    let before_keys: BTreeSet<_> = before.iter().map(key).collect();
    let after_keys: BTreeSet<_> = after.iter().map(key).collect();
    let resolved = before
        .iter()
        .filter(|f| !after_keys.contains(&key(f)))
        .cloned()
        .collect();
    let (still, new_findings): (Vec<Finding>, Vec<Finding>) = after
        .into_iter()
        .partition(|f| before_keys.contains(&key(f)));

    let mut files = Vec::new();
    let paths: BTreeSet<&String> = old.files.keys().chain(new.files.keys()).collect();
    for path in paths {
        if is_meta(path) {
            continue;
        }
        let change = match (old.files.get(path), new.files.get(path)) {
            (None, Some(_)) => Change::Added,
            (Some(_), None) => Change::Removed,
            (Some(a), Some(b)) if a.sha256 != b.sha256 => {
                if let Some(growth) = new.growth.get(path) {
                    Change::Changed {
                        diff: None,
                        growth: Some(growth.clone()),
                        note: None,
                    }
                } else {
                    match (&a.text, &b.text) {
                        (Some(ta), Some(tb)) => Change::Changed {
                            diff: Some(unified(
                                &format!("OLD/{path}"),
                                &format!("NEW/{path}"),
                                &String::from_utf8_lossy(ta),
                                &String::from_utf8_lossy(tb),
                            )),
                            growth: None,
                            note: None,
                        },
                        _ => Change::Changed {
                            diff: None,
                            growth: None,
                            note: Some("binary or larger than 256 KiB: no diff shown"),
                        },
                    }
                }
            }
            _ => continue,
        };
        files.push((path.clone(), change));
    }

    let mut warnings = Vec::new();
    if old.host() != new.host() {
        warnings.push(format!(
            "the bundles are of different hosts ({} and {}); diff compares two snapshots of one node",
            or_unknown(old.host()),
            or_unknown(new.host())
        ));
    }
    // Two cases' snapshots are usually a mix-up; a case id on one side only is not (the case
    // was opened between the two snapshots).
    if let (Some(a), Some(b)) = (old.case_id(), new.case_id()) {
        if a != b {
            warnings.push(format!(
                "the bundles belong to different support cases ({a} and {b}); check that you compare the right snapshots"
            ));
        }
    }
    if !old.started().is_empty() && old.started() > new.started() && !new.started().is_empty() {
        warnings.push(format!(
            "OLD ({}) was taken after NEW ({}); did you mean to swap them?",
            old.started(),
            new.started()
        ));
    }
    Report {
        new: new_findings,
        resolved,
        still,
        files,
        warnings,
    }
}

fn or_unknown(host: &str) -> &str {
    if host.is_empty() {
        "unknown"
    } else {
        host
    }
}

/// A snapshot given to `diff`: a bundle, or one node's bundle out of a case file (kept open, its
/// bundles in a private temporary directory, until the comparison is done).
struct Given {
    path: PathBuf,
    _case: Option<crate::case::Opened>,
}

/// The bundle of `node` in a case file (default: the case's local bundle), or `path` itself.
fn snapshot(path: &Path, node: Option<&str>) -> Result<Given> {
    if !crate::case::is_case(path) {
        return Ok(Given {
            path: path.to_path_buf(),
            _case: None,
        });
    }
    let opened = crate::case::open(path, 8 << 30)?;
    if let Some(problem) = opened.problems.first() {
        return Err(Error::integrity(format!(
            "the case file {} is not intact: {}",
            path.display(),
            crate::escape::field(problem)
        )));
    }
    let wanted = node.or_else(|| opened.index.bundles.first().map(|b| b.host.as_str()));
    let chosen = opened
        .index
        .bundles
        .iter()
        .position(|b| wanted.is_some_and(|w| b.host.eq_ignore_ascii_case(w)))
        .and_then(|i| opened.index.bundles.get(i))
        .and_then(|b| {
            let name = b.path.strip_prefix(crate::case::BUNDLES_DIR)?;
            opened
                .bundles
                .iter()
                .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy() == name))
                .cloned()
        });
    match chosen {
        Some(path) => Ok(Given {
            path,
            _case: Some(opened),
        }),
        None => {
            let hosts: Vec<&str> = opened
                .index
                .bundles
                .iter()
                .map(|b| b.host.as_str())
                .collect();
            Err(Error::usage(format!(
                "the case file {} has no bundle of {}; its nodes are {}: choose one with --node",
                path.display(),
                crate::escape::field(wanted.unwrap_or("?")),
                crate::escape::field(&hosts.join(", "))
            )))
        }
    }
}

pub fn run(settings: &Settings) -> Result<ExitStatus> {
    let catalogue = Catalogue::embedded()?;
    // The node: as asked, else the node that ran the newer case file (its local bundle).
    let new_snapshot = snapshot(&settings.new, settings.node.as_deref())?;
    let node = match &settings.node {
        Some(node) => Some(node.clone()),
        None if crate::case::is_case(&settings.old) => {
            crate::inspect::inspect_one(&new_snapshot.path, &catalogue, false)
                .ok()
                .map(|one| one.node)
        }
        None => None,
    };
    let old_snapshot = snapshot(&settings.old, node.as_deref())?;
    let old = read(&old_snapshot.path, &catalogue, None)?;
    let new = read(&new_snapshot.path, &catalogue, Some(&old))?;
    let report = compare(&old, &new, settings.lang);
    let intact = old.verification.ok() && new.verification.ok();
    let text = if settings.json {
        let value = to_json(&old, &new, &report);
        format!(
            "{}\n",
            serde_json::to_string_pretty(&value).map_err(|e| Error::failed(e.to_string()))?
        )
    } else {
        for warning in &report.warnings {
            eprintln!("drx-collect: warning: {}", crate::escape::field(warning));
        }
        to_text(&old, &new, &report)
    };
    if settings.json {
        crate::stdout::write_out(&mut std::io::stdout().lock(), text.as_bytes())?;
    } else {
        crate::stdout::write_human(&mut std::io::stdout().lock(), &text)?;
    }
    Ok(if intact {
        ExitStatus::Success
    } else {
        ExitStatus::Integrity
    })
}

fn growth_json(growth: &Growth) -> serde_json::Value {
    match growth {
        Growth::Appended(lines) => {
            json!({"how": "appended", "added_lines": lines.total, "lines": lines.shown})
        }
        Growth::AfterLastLine(lines) => {
            json!({"how": "after_old_last_line", "added_lines": lines.total, "lines": lines.shown})
        }
        Growth::Replaced => json!({"how": "replaced", "added_lines": null, "lines": []}),
    }
}

fn bundle_json(one: &Snapshot) -> serde_json::Value {
    json!({
        "path": one.path,
        "host": one.host(),
        "case_id": one.case_id(),
        "started_at": one.started(),
        "integrity": {"ok": one.verification.ok(), "problems": one.verification.problems},
    })
}

fn to_json(old: &Snapshot, new: &Snapshot, report: &Report) -> serde_json::Value {
    let mut added = Vec::new();
    let mut removed = Vec::new();
    let mut changed = Vec::new();
    for (path, change) in &report.files {
        match change {
            Change::Added => added.push(json!({"path": path, "sha256": new.files[path].sha256})),
            Change::Removed => {
                removed.push(json!({"path": path, "sha256": old.files[path].sha256}))
            }
            Change::Changed { diff, growth, note } => changed.push(json!({
                "path": path,
                "old_sha256": old.files[path].sha256,
                "new_sha256": new.files[path].sha256,
                "diff": diff,
                "log": growth.as_ref().map(growth_json),
                "note": note,
            })),
        }
    }
    json!({
        "old": bundle_json(old),
        "new": bundle_json(new),
        "warnings": report.warnings,
        "findings": {"new": report.new, "resolved": report.resolved, "still": report.still},
        "files": {"added": added, "removed": removed, "changed": changed},
    })
}

fn to_text(old: &Snapshot, new: &Snapshot, report: &Report) -> String {
    let mut out = String::new();
    for (label, one) in [("old", old), ("new", new)] {
        out.push_str(&format!(
            "{label}: {} ({}, {})\n",
            one.path.display(),
            or_unknown(one.host()),
            if one.started().is_empty() {
                "time unknown"
            } else {
                one.started()
            }
        ));
    }
    for (label, one) in [("OLD", old), ("NEW", new)] {
        if !one.verification.ok() {
            out.push_str(&format!(
                "integrity: {label} is NOT intact ({} problem(s)):\n",
                one.verification.problems.len()
            ));
            for problem in &one.verification.problems {
                out.push_str(&format!(
                    "  {} {}: {}\n",
                    problem.kind.as_str(),
                    crate::escape::field(&problem.path),
                    crate::escape::field(&problem.detail)
                ));
            }
        }
    }
    out.push_str(&format!(
        "\nFindings: {} new, {} resolved, {} still present\n",
        report.new.len(),
        report.resolved.len(),
        report.still.len()
    ));
    for (label, list) in [
        ("new", &report.new),
        ("resolved", &report.resolved),
        ("still", &report.still),
    ] {
        for finding in list.iter() {
            out.push_str(&format!(
                "  {label:<9}{:<8} {} {}: {}\n",
                finding.severity.as_str(),
                finding.rule,
                finding.path.as_deref().unwrap_or("-"),
                finding.title
            ));
        }
    }
    let count = |f: fn(&Change) -> bool| report.files.iter().filter(|(_, c)| f(c)).count();
    out.push_str(&format!(
        "\nFiles: {} added, {} removed, {} changed\n",
        count(|c| matches!(c, Change::Added)),
        count(|c| matches!(c, Change::Removed)),
        count(|c| matches!(c, Change::Changed { .. }))
    ));
    for (path, change) in &report.files {
        let path = crate::escape::field(path);
        let line = match change {
            Change::Added => format!("  added    {path}\n"),
            Change::Removed => format!("  removed  {path}\n"),
            Change::Changed { growth, note, .. } => {
                let extra = match (growth, note) {
                    (Some(Growth::Appended(l)), _) | (Some(Growth::AfterLastLine(l)), _) => {
                        format!(" (log: {} line(s) added)", l.total)
                    }
                    (Some(Growth::Replaced), _) => " (log: rotated or rewritten)".to_string(),
                    (None, Some(note)) => format!(" ({note})"),
                    (None, None) => String::new(),
                };
                format!("  changed  {path}{extra}\n")
            }
        };
        out.push_str(&line);
    }
    for (path, change) in &report.files {
        let Change::Changed { diff, growth, .. } = change else {
            continue;
        };
        if let Some(diff) = diff.as_ref().filter(|d| !d.is_empty()) {
            out.push('\n');
            out.push_str(diff);
        }
        match growth {
            Some(Growth::Appended(lines)) | Some(Growth::AfterLastLine(lines)) => {
                out.push_str(&format!(
                    "\n==> {path}: {} line(s) added since OLD{}\n",
                    lines.total,
                    if lines.total > lines.shown.len() {
                        format!(" (the first {} shown)", lines.shown.len())
                    } else {
                        String::new()
                    }
                ));
                for line in &lines.shown {
                    out.push_str(&format!("+{}\n", show(line)));
                }
            }
            Some(Growth::Replaced) => out.push_str(&format!(
                "\n==> {path}: OLD's lines are no longer in NEW (rotated or rewritten)\n"
            )),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(a: &[&str], b: &[&str], ops: &[Op]) -> Vec<String> {
        let mut out = Vec::new();
        let (mut ia, mut ib) = (0, 0);
        for op in ops {
            match *op {
                Op::Same(i, j) => {
                    assert_eq!((i, j), (ia, ib), "Same out of order");
                    assert_eq!(a[i], b[j]);
                    out.push(a[i].to_string());
                    ia += 1;
                    ib += 1;
                }
                Op::Delete(i) => {
                    assert_eq!(i, ia);
                    ia += 1;
                }
                Op::Insert(j) => {
                    assert_eq!(j, ib);
                    out.push(b[j].to_string());
                    ib += 1;
                }
            }
        }
        assert_eq!((ia, ib), (a.len(), b.len()));
        out
    }

    #[test]
    fn the_edit_script_turns_old_into_new_with_few_edits() {
        let cases: [(&[&str], &[&str], usize); 6] = [
            (&["a", "b", "c"], &["a", "b", "c"], 0),
            (&[], &["x", "y"], 2),
            (&["x", "y"], &[], 2),
            (
                &["a", "b", "c", "a", "b", "b", "a"],
                &["c", "b", "a", "b", "a", "c"],
                5,
            ),
            (&["h", "x", "m", "y", "t"], &["h", "m", "z", "t"], 3),
            (&["1", "2", "3", "4"], &["0", "1", "2", "3", "4", "5"], 2),
        ];
        for (a, b, edits) in cases {
            let ops = diff_lines(a, b);
            assert_eq!(apply(a, b, &ops), b.to_vec(), "{a:?} -> {b:?}");
            let n = ops.iter().filter(|op| !matches!(op, Op::Same(..))).count();
            assert_eq!(n, edits, "{a:?} -> {b:?}: {ops:?}");
        }
    }

    #[test]
    fn many_differences_fall_back_to_replace_and_stay_correct() {
        let a: Vec<String> = (0..3000).map(|i| format!("a{i}")).collect();
        let b: Vec<String> = (0..3000).map(|i| format!("b{i}")).collect();
        let ops = diff_lines(&a, &b);
        assert_eq!(ops.len(), 6000);
    }

    #[test]
    fn unified_diff_has_hunks_with_context_and_shows_a_bom() {
        let old = "\u{feff}resource r0 {\n  on a {}\n}\n";
        let new = "resource r0 {\n  on a {}\n}\n";
        let diff = unified("OLD/r0.res", "NEW/r0.res", old, new);
        assert_eq!(
            diff,
            "--- OLD/r0.res\n+++ NEW/r0.res\n@@ -1,3 +1,3 @@\n-<BOM>resource r0 {\n+resource r0 {\n   on a {}\n }\n"
        );
        let a: String = (1..=20).map(|i| format!("{i}\n")).collect();
        let b: String = (1..=20)
            .map(|i| match i {
                2 => "two\n".to_string(),
                18 => "eighteen\n".to_string(),
                i => format!("{i}\n"),
            })
            .collect();
        let diff = unified("a", "b", &a, &b);
        assert_eq!(diff.matches("@@ ").count(), 2, "{diff}");
        assert!(
            diff.contains("@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n"),
            "{diff}"
        );
        assert!(diff.contains("@@ -15,6 +15,6 @@\n"), "{diff}");
        assert_eq!(unified("a", "b", "x\n", "x\n"), "");
        assert!(unified("a", "b", "", "new\n").contains("@@ -0,0 +1,1 @@\n+new\n"));
    }

    fn follow(old: &[u8], new: &[u8], chunk: usize) -> Growth {
        let mut last = LastLine::default();
        for part in old.chunks(chunk.max(1)) {
            last.feed(part);
        }
        let sha = crate::digest::hex(&Sha256::digest(old));
        let mut follower = Follower::new(old.len() as u64, &sha, last.finish());
        for part in new.chunks(chunk.max(1)) {
            follower.feed(part);
        }
        follower.finish()
    }

    #[test]
    fn log_growth_is_the_lines_after_old_content() {
        let old = b"one\ntwo\n";
        let new = b"one\ntwo\nthree\nfour\n";
        for chunk in [1, 3, 100] {
            let Growth::Appended(lines) = follow(old, new, chunk) else {
                panic!("chunk {chunk}")
            };
            assert_eq!(lines.shown, vec!["three", "four"]);
            assert_eq!(lines.total, 2);
        }
        // A log cut to its tail (--max-file-size) is not a prefix: OLD's last line anchors it.
        let old = b"a\nb\nc\nlast-of-old\n";
        let new = b"c\nlast-of-old\nd\ne\n";
        assert_eq!(
            follow(old, new, 2),
            Growth::AfterLastLine(Lines {
                shown: vec!["d".into(), "e".into()],
                total: 2
            })
        );
        // Rotated away entirely.
        assert_eq!(follow(b"x\ny\n", b"p\nq\n", 4), Growth::Replaced);
        // A partial last line completed later counts from OLD's end.
        let Growth::Appended(lines) = follow(b"one\ntw", b"one\ntwo\nthree\n", 5) else {
            panic!()
        };
        assert_eq!(lines.shown, vec!["three"]);
    }
}
