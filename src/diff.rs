//! `drx-collect diff OLD NEW`: what changed between two snapshots of one node. Findings are
//! compared with this binary's rules (new / resolved / still present, by rule and path); files by
//! SHA-256; small text files (configs, command outputs) get a unified diff, logs the lines added
//! since OLD. Each bundle is read once, streaming; only small text files (up to 256 KiB each, a
//! bounded total) and hashes stay in memory.
use crate::error::{Error, ExitStatus, Result};
use crate::index::Finding;
use crate::inspect::verify::Problem;
use crate::inspect::{self, Inspected, Rules, Visit};
use crate::lang::Lang;
use crate::rules::Catalogue;
use crate::stdout::Sorted;
use serde::Serialize;
use sha2::{Digest, Sha256};
use similar::{capture_diff_slices_deadline, group_diff_ops, Algorithm, DiffOp};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct Settings {
    pub old: PathBuf,
    pub new: PathBuf,
    /// With case files: which node's bundles to compare (host name).
    pub node: Option<String>,
    pub json: bool,
    pub lang: Lang,
    /// Per-file line counts instead of the diffs.
    pub stat: bool,
    /// Only bundle paths matching one of these (all when empty).
    pub paths: Vec<glob::Pattern>,
    /// Exit 1 when the snapshots differ.
    pub exit_code: bool,
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

use crate::layout::{is_log, is_meta, volatility};

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
    inspected: Inspected,
    files: BTreeMap<String, FileInfo>,
    growth: BTreeMap<String, Growth>,
}

impl Snapshot {
    fn host(&self) -> &str {
        self.inspected
            .index()
            .map(|i| i.host.hostname.as_str())
            .unwrap_or("")
    }

    fn case_id(&self) -> Option<&str> {
        self.inspected.index().and_then(|i| i.case_id.as_deref())
    }

    fn started(&self) -> &str {
        self.inspected
            .index()
            .and_then(|i| i.started_at.as_deref())
            .unwrap_or("")
    }
}

/// What `diff` takes of each file in `inspect`'s pass: hashes, small texts; with `old` given,
/// logs are followed against OLD's and only texts that differ from OLD's are kept.
struct Files<'o> {
    old: Option<&'o Snapshot>,
    files: BTreeMap<String, FileInfo>,
    growth: BTreeMap<String, Growth>,
    kept_total: usize,
}

impl Visit for Files<'_> {
    fn file(&mut self, name: &str, content: &mut dyn Read, rules: &mut Rules) -> io::Result<()> {
        let old = self.old;
        let before = old.and_then(|o| o.files.get(name));
        let log = is_log(name);
        let follower = match before {
            Some(b) if log => Some(Follower::new(b.size, &b.sha256, b.last_line.clone())),
            _ => None,
        };
        let wants_text = !is_meta(name)
            && self.kept_total < KEPT_TOTAL
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
        // The rules read the file through the tap, then the tap reads what they left: one pass.
        rules.read(&mut tap)?;
        io::copy(&mut tap, &mut io::sink())?;
        let sha256 = crate::digest::hex(&tap.hasher.finalize());
        let mut text = tap.keep;
        if before.is_some_and(|b| b.sha256 == sha256) {
            text = None;
        }
        self.kept_total += text.as_ref().map_or(0, Vec::len);
        if let Some(follower) = tap.follower {
            if before.is_some_and(|b| b.sha256 != sha256) {
                self.growth.insert(name.to_string(), follower.finish());
            }
        }
        self.files.insert(
            name.to_string(),
            FileInfo {
                sha256,
                size: tap.size,
                text,
                last_line: tap.last.and_then(LastLine::finish),
            },
        );
        Ok(())
    }
}

/// One pass over a bundle: `inspect`'s (verification, the rules), and [`Files`]'s look.
fn read(path: &Path, catalogue: &Catalogue, old: Option<&Snapshot>) -> Result<Snapshot> {
    let mut files = Files {
        old,
        files: BTreeMap::new(),
        growth: BTreeMap::new(),
        kept_total: 0,
    };
    let options = inspect::Options {
        visit: Some(&mut files),
        ..Default::default()
    };
    let inspected = inspect::open(path, catalogue, options)?;
    Ok(Snapshot {
        inspected,
        files: files.files,
        growth: files.growth,
    })
}

// ---- line diff ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Same(usize, usize),
    Delete(usize),
    Insert(usize),
}

/// Lines of context around a change.
const CONTEXT: usize = 3;

/// The time all line diffs of one `diff` run may take: Myers' algorithm grows with the product
/// of the file length and the number of differences, so two unrelated 256 KiB files could take
/// long. Past it, the rest of a file's differences are shown as removed, then added: still a
/// correct diff, only not the shortest.
pub const DIFF_BUDGET: Duration = Duration::from_secs(5);

/// The edit script from `a` to `b` ([`similar`]'s Myers), within `deadline`.
#[cfg(test)]
fn diff_lines<T: Eq + std::hash::Hash + Ord>(a: &[T], b: &[T], deadline: Instant) -> Vec<Op> {
    let mut ops = Vec::new();
    for op in capture_diff_slices_deadline(Algorithm::Myers, a, b, Some(deadline)) {
        push_ops(&mut ops, &op);
    }
    ops
}

/// One of [`similar`]'s ranges as our line-by-line ops: what was removed before what was added.
fn push_ops(out: &mut Vec<Op>, op: &DiffOp) {
    let (old, new) = (op.old_range(), op.new_range());
    if let DiffOp::Equal { .. } = op {
        out.extend(old.zip(new).map(|(i, j)| Op::Same(i, j)));
    } else {
        out.extend(old.map(Op::Delete));
        out.extend(new.map(Op::Insert));
    }
}

/// A unified diff (3 lines of context) of two texts; empty when they are equal line by line.
/// Hunk headers always carry both numbers (`-1,1`); an empty side is `0,0`.
pub fn unified(old_name: &str, new_name: &str, a: &str, b: &str, deadline: Instant) -> String {
    let la: Vec<&str> = a.lines().collect();
    let lb: Vec<&str> = b.lines().collect();
    let ops = capture_diff_slices_deadline(Algorithm::Myers, &la, &lb, Some(deadline));
    if ops.iter().all(|op| matches!(op, DiffOp::Equal { .. })) {
        return String::new();
    }
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    for hunk in group_diff_ops(ops, CONTEXT) {
        let (Some(first), Some(last)) = (hunk.first(), hunk.last()) else {
            continue;
        };
        let number = |start: usize, end: usize| match end - start {
            0 => "0,0".to_string(),
            count => format!("{},{count}", start + 1),
        };
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            number(first.old_range().start, last.old_range().end),
            number(first.new_range().start, last.new_range().end)
        ));
        let mut lines = Vec::new();
        for op in &hunk {
            push_ops(&mut lines, op);
        }
        for op in lines {
            let line = match op {
                Op::Same(i, _) => format!(" {}", show(la[i])),
                Op::Delete(i) => format!("-{}", show(la[i])),
                Op::Insert(j) => format!("+{}", show(lb[j])),
            };
            out.push_str(&line);
            out.push('\n');
        }
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

/// Whether a bundle path is one `--path` asked for (every path when none was given).
fn wanted(path: &str, paths: &[glob::Pattern]) -> bool {
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: false,
        require_literal_leading_dot: false,
    };
    paths.is_empty() || paths.iter().any(|p| p.matches_with(path, options))
}

fn compare(old: &Snapshot, new: &Snapshot, lang: Lang, paths: &[glob::Pattern]) -> Report {
    let deadline = Instant::now() + DIFF_BUDGET;
    // With --path, a finding counts when it is about a path asked for.
    let in_scope =
        |f: &Finding| paths.is_empty() || f.path.as_deref().is_some_and(|p| wanted(p, paths));
    let mut before = old.inspected.evidence.findings(lang);
    let mut after = new.inspected.evidence.findings(lang);
    before.retain(in_scope);
    after.retain(in_scope);
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
    // Configuration changes first, what moves with time (ps, uptime, logs) last.
    let mut all: Vec<&String> = old
        .files
        .keys()
        .chain(new.files.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    all.sort_by_key(|path| (volatility(path), path.as_str()));
    for path in all {
        if is_meta(path) || !wanted(path, paths) {
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
                                deadline,
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
    /// The node, as the case file names it (none for a bundle given alone).
    host: Option<String>,
    _case: Option<crate::inspect::case::Opened>,
}

/// The bundle of `node` in a case file (default: the case's local bundle), or `path` itself.
fn snapshot(path: &Path, node: Option<&str>) -> Result<Given> {
    if !crate::inspect::case::is_case(path) {
        return Ok(Given {
            path: path.to_path_buf(),
            host: None,
            _case: None,
        });
    }
    let opened = crate::inspect::case::open(path, crate::inspect::case::DEFAULT_MEMBER_CAP)?;
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
            let name = b.path.strip_prefix(crate::inspect::case::BUNDLES_DIR)?;
            let path = opened
                .bundles
                .iter()
                .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy() == name))
                .cloned()?;
            Some((path, b.host.clone()))
        });
    match chosen {
        Some((path, host)) => Ok(Given {
            path,
            host: Some(host),
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
    // A case file's bundles go to a temporary directory: a signal stops the run, which removes
    // them as it unwinds (as `inspect` does).
    crate::platform::install_interrupt_handler();
    // The node: as asked, else the node that ran the newer case file (its local bundle).
    let new_snapshot = snapshot(&settings.new, settings.node.as_deref())?;
    // Named by the case file, else by the bundle's recorded index: no second reading with rules.
    let node = match (&settings.node, &new_snapshot.host) {
        (Some(node), _) | (None, Some(node)) => Some(node.clone()),
        (None, None) if crate::inspect::case::is_case(&settings.old) => {
            crate::archive::reader::BundleReader::open(&new_snapshot.path)
                .and_then(|mut reader| inspect::recorded_index(&mut reader))
                .ok()
                .flatten()
                .map(|index| index.host.hostname)
                .filter(|host| !host.is_empty())
        }
        (None, None) => None,
    };
    let old_snapshot = snapshot(&settings.old, node.as_deref())?;
    let old = read(&old_snapshot.path, &catalogue, None)?;
    let new = read(&new_snapshot.path, &catalogue, Some(&old))?;
    let report = compare(&old, &new, settings.lang, &settings.paths);
    let intact = old.inspected.verification.ok() && new.inspected.verification.ok();
    let mut out = std::io::stdout().lock();
    if settings.json {
        crate::stdout::write_json(&mut out, &Sorted(to_json(&old, &new, &report)))?;
    } else {
        for warning in &report.warnings {
            eprintln!("drx-collect: warning: {}", crate::escape::field(warning));
        }
        // Escaped first (a bundle's lines are untrusted), then coloured (--color, NO_COLOR).
        let text = to_text(&old, &new, &report, settings.stat, settings.lang);
        let text = crate::color::paint_diff(&crate::escape::block(&text));
        crate::stdout::write_out(&mut out, text.as_bytes())?;
    }
    let different =
        !report.files.is_empty() || !report.new.is_empty() || !report.resolved.is_empty();
    Ok(if !intact {
        ExitStatus::Integrity
    } else if settings.exit_code && different {
        ExitStatus::Failed
    } else {
        ExitStatus::Success
    })
}

/// `diff --json` (fields sorted by name, as written).
#[derive(Serialize)]
struct DiffJson<'a> {
    files: FilesJson<'a>,
    findings: FindingsJson<'a>,
    new: BundleJson<'a>,
    old: BundleJson<'a>,
    warnings: &'a [String],
}

#[derive(Serialize)]
struct BundleJson<'a> {
    case_id: Option<&'a str>,
    host: &'a str,
    integrity: Integrity<'a>,
    path: &'a Path,
    started_at: &'a str,
}

#[derive(Serialize)]
struct Integrity<'a> {
    ok: bool,
    problems: &'a [Problem],
}

#[derive(Serialize)]
struct FindingsJson<'a> {
    new: &'a [Finding],
    resolved: &'a [Finding],
    still: &'a [Finding],
}

#[derive(Serialize)]
struct FilesJson<'a> {
    added: Vec<FileJson<'a>>,
    changed: Vec<ChangedJson<'a>>,
    removed: Vec<FileJson<'a>>,
}

#[derive(Serialize)]
struct FileJson<'a> {
    path: &'a str,
    sha256: &'a str,
}

#[derive(Serialize)]
struct ChangedJson<'a> {
    diff: Option<&'a str>,
    log: Option<GrowthJson<'a>>,
    new_sha256: &'a str,
    note: Option<&'a str>,
    old_sha256: &'a str,
    path: &'a str,
}

#[derive(Serialize)]
struct GrowthJson<'a> {
    /// `None` when the log was replaced: nothing of OLD's end is in NEW.
    added_lines: Option<usize>,
    how: &'static str,
    lines: &'a [String],
}

impl<'a> GrowthJson<'a> {
    fn of(growth: &'a Growth) -> GrowthJson<'a> {
        let (how, lines) = match growth {
            Growth::Appended(lines) => ("appended", Some(lines)),
            Growth::AfterLastLine(lines) => ("after_old_last_line", Some(lines)),
            Growth::Replaced => ("replaced", None),
        };
        GrowthJson {
            added_lines: lines.map(|l| l.total),
            how,
            lines: lines.map_or(&[], |l| &l.shown),
        }
    }
}

impl<'a> BundleJson<'a> {
    fn of(one: &'a Snapshot) -> BundleJson<'a> {
        BundleJson {
            case_id: one.case_id(),
            host: one.host(),
            integrity: Integrity {
                ok: one.inspected.verification.ok(),
                problems: &one.inspected.verification.problems,
            },
            path: &one.inspected.path,
            started_at: one.started(),
        }
    }
}

fn to_json<'a>(old: &'a Snapshot, new: &'a Snapshot, report: &'a Report) -> DiffJson<'a> {
    let mut files = FilesJson {
        added: Vec::new(),
        changed: Vec::new(),
        removed: Vec::new(),
    };
    for (path, change) in &report.files {
        match change {
            Change::Added => files.added.push(FileJson {
                path,
                sha256: &new.files[path].sha256,
            }),
            Change::Removed => files.removed.push(FileJson {
                path,
                sha256: &old.files[path].sha256,
            }),
            Change::Changed { diff, growth, note } => files.changed.push(ChangedJson {
                diff: diff.as_deref(),
                log: growth.as_ref().map(GrowthJson::of),
                new_sha256: &new.files[path].sha256,
                note: *note,
                old_sha256: &old.files[path].sha256,
                path,
            }),
        }
    }
    DiffJson {
        files,
        findings: FindingsJson {
            new: &report.new,
            resolved: &report.resolved,
            still: &report.still,
        },
        new: BundleJson::of(new),
        old: BundleJson::of(old),
        warnings: &report.warnings,
    }
}

/// Lines added and removed by a change (`--stat`); `None` when not counted (binary, too large,
/// a replaced log).
fn line_counts(change: &Change) -> Option<(usize, usize)> {
    match change {
        Change::Changed {
            growth: Some(Growth::Appended(l) | Growth::AfterLastLine(l)),
            ..
        } => Some((l.total, 0)),
        // The two header lines (--- OLD, +++ NEW) first; every other line is a hunk header
        // (@@), context (space), or one added (+) or removed (-) line.
        Change::Changed {
            diff: Some(diff), ..
        } => Some(diff.lines().skip(2).fold(
            (0, 0),
            |(add, del), line| match line.as_bytes().first() {
                Some(b'+') => (add + 1, del),
                Some(b'-') => (add, del + 1),
                _ => (add, del),
            },
        )),
        _ => None,
    }
}

fn to_text(old: &Snapshot, new: &Snapshot, report: &Report, stat: bool, lang: Lang) -> String {
    let mut out = String::new();
    for (label, one) in [("old", old), ("new", new)] {
        out.push_str(&format!(
            "{label}: {} ({}, {})\n",
            one.inspected.path.display(),
            or_unknown(one.host()),
            if one.started().is_empty() {
                "time unknown"
            } else {
                one.started()
            }
        ));
    }
    for (label, one) in [("OLD", old), ("NEW", new)] {
        let verification = &one.inspected.verification;
        if !verification.ok() {
            out.push_str(&format!(
                "integrity: {label} is NOT intact ({} problem(s)):\n",
                verification.problems.len()
            ));
            for problem in &verification.problems {
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
                let counts = match line_counts(change) {
                    Some((add, del)) if stat => {
                        format!(" | +{add} -{del}")
                    }
                    _ => String::new(),
                };
                format!("  changed  {path}{counts}{extra}\n")
            }
        };
        out.push_str(&line);
    }
    if stat {
        let (add, del) = report
            .files
            .iter()
            .filter_map(|(_, c)| line_counts(c))
            .fold((0, 0), |(a, d), (x, y)| (a + x, d + y));
        out.push_str(&format!("{} +{add} -{del}\n", lang.ui("diff.stat_total")));
        return out;
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
            let ops = diff_lines(a, b, Instant::now() + DIFF_BUDGET);
            assert_eq!(apply(a, b, &ops), b.to_vec(), "{a:?} -> {b:?}");
            let n = ops.iter().filter(|op| !matches!(op, Op::Same(..))).count();
            assert_eq!(n, edits, "{a:?} -> {b:?}: {ops:?}");
        }
    }

    /// Past the deadline the diff is no longer the shortest, but it is still a correct one, and
    /// it comes at once: two large unrelated files never hang `diff`.
    #[test]
    fn past_the_deadline_the_diff_stays_correct_and_quick() {
        let a: Vec<String> = (0..20_000)
            .map(|i| format!("a{}", i * 7 % 20_000))
            .collect();
        let b: Vec<String> = (0..20_000)
            .map(|i| format!("a{}", i * 13 % 20_000))
            .collect();
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let b: Vec<&str> = b.iter().map(String::as_str).collect();
        let started = Instant::now();
        let ops = diff_lines(&a, &b, Instant::now());
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(apply(&a, &b, &ops), b);
        let text = unified("a", "b", &a.join("\n"), &b.join("\n"), Instant::now());
        assert!(text.starts_with("--- a\n+++ b\n@@ -1,"), "{}", &text[..100]);
    }

    fn soon() -> Instant {
        Instant::now() + DIFF_BUDGET
    }

    #[test]
    fn unified_diff_has_hunks_with_context_and_shows_a_bom() {
        let old = "\u{feff}resource r0 {\n  on a {}\n}\n";
        let new = "resource r0 {\n  on a {}\n}\n";
        let diff = unified("OLD/r0.res", "NEW/r0.res", old, new, soon());
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
        let diff = unified("a", "b", &a, &b, soon());
        assert_eq!(diff.matches("@@ ").count(), 2, "{diff}");
        assert!(
            diff.contains("@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n"),
            "{diff}"
        );
        assert!(diff.contains("@@ -15,6 +15,6 @@\n"), "{diff}");
        assert_eq!(unified("a", "b", "x\n", "x\n", soon()), "");
        assert!(unified("a", "b", "", "new\n", soon()).contains("@@ -0,0 +1,1 @@\n+new\n"));
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
