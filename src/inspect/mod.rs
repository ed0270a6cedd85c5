//! `inspect`: verify a bundle's integrity and diagnose it with this binary's rule catalogue, in one
//! streaming pass with no unpacking; two bundles are the two nodes of a pair.
pub mod case;
pub mod extract;
pub mod html;
pub mod report;
pub mod series_lanes;
pub mod timeline;
pub mod verify;

use crate::archive::reader::BundleReader;
use crate::error::{Error, ExitStatus, Result};
use crate::index::{self, Finding, Index};
use crate::lang::Lang;
use crate::lines::{LineSink, Pipeline};
use crate::rules::{Catalogue, Evidence, Facts, Scan};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use verify::Verification;

/// The rules get a file whole only up to this size: configurations and the command outputs they
/// parse whole are kilobytes; a larger one is hostile or not what the rule expects, and its lines
/// still go to the line rules.
const RULES_WHOLE_CAP: usize = 8 << 20;
/// Nor more than this in all per bundle: the rules keep what they get whole until the end of the
/// pass, so without it a bundle of many large `.res` files would hold them all in memory.
const RULES_WHOLE_TOTAL: usize = 32 << 20;

pub struct Settings {
    pub bundles: Vec<PathBuf>,
    pub json: bool,
    pub html: Option<PathBuf>,
    pub list: bool,
    pub cat: Option<String>,
    pub extract: Option<PathBuf>,
    /// The most bytes `--extract` writes.
    pub max_extract: u64,
    pub lang: Lang,
    pub quiet: bool,
}

/// One inspected bundle.
pub struct Inspected {
    pub path: PathBuf,
    pub size: u64,
    pub verification: Verification,
    pub evidence: Evidence,
    /// The name findings use for this node: its host name, or the file name.
    pub node: String,
    /// Timeline events and context lines, gathered in the same pass for the HTML report.
    pub gathered: Option<timeline::Gathered>,
}

impl Inspected {
    pub fn index(&self) -> Option<&Index> {
        self.verification.index.as_ref()
    }
}

use crate::layout::is_meta;

/// Feeds the files of one bundle to the rules, holding a bounded amount per file and per bundle:
/// every line goes to the line rules as it streams; the whole content only when the rules ask
/// for it and it fits [`RULES_WHOLE_CAP`] and what is left of [`RULES_WHOLE_TOTAL`].
struct Feed {
    whole_left: usize,
}

impl Default for Feed {
    fn default() -> Self {
        Feed {
            whole_left: RULES_WHOLE_TOTAL,
        }
    }
}

impl Feed {
    /// Feeds one file of a bundle to the rules.
    #[cfg(test)]
    fn file(&mut self, scan: &mut Scan, path: &str, content: &mut dyn Read) -> io::Result<()> {
        self.file_with(scan, None, path, content)
    }

    fn file_with(
        &mut self,
        scan: &mut Scan,
        also: Option<&mut dyn LineSink>,
        path: &str,
        content: &mut dyn Read,
    ) -> io::Result<()> {
        // A watch series is read whole up to the most a series holds, on a budget of its own
        // (one a bundle): a series over the other files' cap would otherwise give no lanes
        // and no WATCH findings at all.
        let series = path == crate::layout::WATCH_SERIES;
        let cap = if series {
            crate::series::MAX_BYTES
        } else {
            RULES_WHOLE_CAP.min(self.whole_left)
        };
        let mut head = Vec::new();
        if scan.wants_whole(path) {
            content.take(cap as u64 + 1).read_to_end(&mut head)?;
            if head.len() <= cap {
                if !series {
                    self.whole_left -= head.len();
                }
                scan.add_file(path, &head);
            }
        }
        // The lines of the whole file: what was read ahead for the rules, then the rest.
        let mut rest = (&head[..]).chain(content);
        scan_lines(scan, also, path, &mut rest)
    }
}

/// The rules and a second reader of every line (the HTML report's timeline), in one pass.
struct Both<'a, 'c> {
    scan: &'a mut Scan<'c>,
    also: &'a mut dyn LineSink,
}

impl LineSink for Both<'_, '_> {
    fn line(&mut self, bundle_path: &str, line_no: u64, line: &[u8]) {
        self.scan.line(bundle_path, line_no, line);
        self.also.line(bundle_path, line_no, line);
    }

    fn lines(&mut self, bundle_path: &str, first_line_no: u64, block: &[u8]) {
        self.scan.lines(bundle_path, first_line_no, block);
        self.also.lines(bundle_path, first_line_no, block);
    }
}

fn scan_lines(
    scan: &mut Scan,
    also: Option<&mut dyn LineSink>,
    path: &str,
    content: &mut dyn Read,
) -> io::Result<()> {
    let mut both;
    let sink: &mut dyn LineSink = match also {
        Some(also) => {
            both = Both { scan, also };
            &mut both
        }
        None => scan,
    };
    Pipeline::new(content).scan(Some(sink), path).drain()
}

/// A caller's look at every file of a bundle during `open`'s single pass: `diff` hashes and
/// keeps small texts, `cases import` keeps version outputs the rules do not.
pub trait Visit {
    /// Called for every file (path relative to the top directory, the collector's own meta
    /// files included). Hand the content, or a reader wrapping it, to `rules.read` for the rules
    /// to see it; what is left unread when this returns is still hashed by the verification.
    fn file(&mut self, name: &str, content: &mut dyn Read, rules: &mut Rules) -> io::Result<()>;
}

/// The rules' side of one file, given to a [`Visit`].
pub struct Rules<'a, 'c> {
    scan: &'a mut Scan<'c>,
    feed: &'a mut Feed,
    also: Option<&'a mut dyn LineSink>,
    name: &'a str,
    fed: bool,
}

impl Rules<'_, '_> {
    /// Feeds the file's content to the rules (and the timeline); once per file, later calls and
    /// the collector's meta files are not evidence and are ignored.
    pub fn read(&mut self, content: &mut dyn Read) -> io::Result<()> {
        if is_meta(self.name) || self.fed {
            return Ok(());
        }
        self.fed = true;
        self.feed
            .file_with(self.scan, self.also.take(), self.name, content)
    }
}

/// No visitor: the rules read every file.
struct RulesOnly;

impl Visit for RulesOnly {
    fn file(&mut self, _: &str, content: &mut dyn Read, rules: &mut Rules) -> io::Result<()> {
        rules.read(content)
    }
}

/// How [`open`] reads a bundle.
#[derive(Default)]
pub struct Options<'v> {
    /// Also gather the timeline and context lines (the HTML report).
    pub gather: bool,
    /// The nodes gathered for the same report (each holds its share beyond a pair).
    pub nodes: usize,
    /// A look at every file in the same pass.
    pub visit: Option<&'v mut dyn Visit>,
}

/// The one way into a bundle for every output and subcommand: opens it (any format the reader
/// knows), verifies it and runs the rules in a single streaming pass.
pub fn open(path: &Path, catalogue: &Catalogue, options: Options) -> Result<Inspected> {
    let mut reader = BundleReader::open(path)?;
    let mut scan = Scan::new(catalogue);
    let mut gatherer = options
        .gather
        .then(|| timeline::Gather::new(catalogue).sharing(options.nodes));
    let mut feed = Feed::default();
    let mut rules_only = RulesOnly;
    let visit: &mut dyn Visit = match options.visit {
        Some(visit) => visit,
        None => &mut rules_only,
    };
    let verification = verify::verify(&mut reader, &mut |name, content| {
        let mut rules = Rules {
            scan: &mut scan,
            feed: &mut feed,
            also: gatherer.as_mut().map(|g| g as &mut dyn LineSink),
            name,
            fed: false,
        };
        visit.file(name, content, &mut rules).map_err(|err| {
            Error::failed(format!(
                "cannot read {name} in bundle {}: {}",
                path.display(),
                crate::error::describe_io(&err)
            ))
        })
    })?;
    let mut verification = verification;
    if verification.case {
        // Only `case::open` reads a case file's members; read as one bundle, its bundles
        // would be opaque files and it would pass as intact.
        verification.problems.push(verify::Problem {
            kind: verify::ProblemKind::Layout,
            path: case::CASE_JSON.to_string(),
            detail: "this is a case file, not a bundle; inspect it as a case file".to_string(),
        });
    }
    let index = verification.index.clone().unwrap_or_default();
    let facts = facts_of(&index);
    let evidence = scan.finish(&facts);
    let windows = facts.host.os.eq_ignore_ascii_case("windows");
    let gathered = gatherer.map(|g| g.finish(facts.collected_at, windows));
    let node = if index.host.hostname.is_empty() {
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "bundle".into())
    } else {
        index.host.hostname.clone()
    };
    // A split bundle's size is the sum of its parts.
    let files = crate::archive::split_set::find(path)
        .ok()
        .flatten()
        .unwrap_or_else(|| vec![path.to_path_buf()]);
    let size = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    Ok(Inspected {
        path: path.to_path_buf(),
        size,
        verification,
        evidence,
        node,
        gathered,
    })
}

/// The index a bundle records, read without verifying the bundle (`schedule status` shows a
/// snapshot's recorded result quickly; `open` re-runs the rules). `None` when it has no
/// readable top-level index.json.
pub fn recorded_index(reader: &mut BundleReader) -> Result<Option<Index>> {
    let mut index: Option<Index> = None;
    reader.for_each(&mut |meta, content| {
        if index.is_none()
            && meta.name.ends_with("/index.json")
            && meta.name.matches('/').count() == 1
        {
            let mut bytes = Vec::new();
            content
                .take(verify::MAX_INDEX_BYTES as u64)
                .read_to_end(&mut bytes)
                .map_err(|err| Error::failed(crate::error::describe_io(&err)))?;
            index = serde_json::from_slice(&bytes).ok();
        }
        Ok(())
    })?;
    Ok(index)
}

/// What the rules need to know of a bundle besides its files, from its index.
fn facts_of(index: &Index) -> Facts {
    Facts {
        host: index.host.clone(),
        items: index.items.clone(),
        collected_at: index
            .started_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc)),
    }
}

/// The most bundles judged together as the nodes of one cluster: DRBD 9 and BSR number their
/// nodes 0..31. More bundles than that are a support queue (many unrelated nodes, or snapshots
/// of one node over time), not a cluster: each is judged alone, so `inspect` of a thousand
/// bundles keeps no bundle's evidence after its own findings and its time stays linear.
pub const CLUSTER_MAX: usize = 32;

/// Findings of a run's bundles, gathered one bundle at a time: each node's own, then the
/// cross-node rules when the bundles are the nodes of a pair or cluster (2 to [`CLUSTER_MAX`]).
/// A finding's node is named when it is settled, at the end: its host name, and the bundle's
/// file name too when another bundle of the run has the same host (cloned VMs, an
/// active/standby pair behind one name).
struct Judge<E> {
    lang: Lang,
    pair: bool,
    /// The nodes kept for the cross-node rules (index into `names`); none outside a cluster.
    nodes: Vec<(usize, E)>,
    /// Each node added: its host name and its bundle's file name.
    names: Vec<(String, String)>,
    /// Each node's place in the run's summaries (which then name it as its findings do).
    summaries: Vec<usize>,
    cross: bool,
    /// The findings, each with the node it is to be labelled with.
    all: Vec<(Option<usize>, Finding)>,
}

impl<E: std::borrow::Borrow<Evidence>> Judge<E> {
    /// `bundles` is the number of nodes judged together; `label` says each finding's node (more
    /// than one bundle in the run).
    fn new(bundles: usize, label: bool, lang: Lang) -> Self {
        Judge {
            lang,
            pair: label,
            nodes: Vec::new(),
            names: Vec::new(),
            summaries: Vec::new(),
            cross: bundles > 1 && bundles <= CLUSTER_MAX,
            all: Vec::new(),
        }
    }

    /// One node: `node` is its host name, `bundle` its bundle's path, `summary` its place in
    /// the run's summaries.
    fn add(&mut self, node: &str, bundle: &Path, summary: usize, evidence: E) {
        let at = self.names.len();
        self.names.push((node.to_string(), file_name(bundle)));
        self.summaries.push(summary);
        for finding in evidence.borrow().findings(self.lang) {
            let label = (self.pair && finding.node.is_none()).then_some(at);
            self.all.push((label, finding));
        }
        if self.cross {
            self.nodes.push((at, evidence));
        }
    }

    /// The findings, and each node's name in them with its place in the run's summaries.
    fn finish(self) -> (Vec<Finding>, Vec<(usize, String)>) {
        let labels = node_labels(&self.names);
        let mut all: Vec<Finding> = self
            .all
            .into_iter()
            .map(|(label, mut finding)| {
                if let Some(at) = label {
                    finding.node = Some(labels[at].clone());
                }
                finding
            })
            .collect();
        if self.cross {
            let nodes: Vec<(&str, &Evidence)> = self
                .nodes
                .iter()
                .map(|(at, evidence)| (labels[*at].as_str(), evidence.borrow()))
                .collect();
            all.extend(crate::rules::cross_node(&nodes, self.lang));
        }
        index::sort_findings(&mut all);
        (all, self.summaries.into_iter().zip(labels).collect())
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The name of each node in findings and reports, one per (host, bundle file name): the host
/// alone where it is the only bundle of that host, `host (bundle file)` where hosts repeat, and
/// a number after that should the file names repeat too (one path given twice).
pub fn node_labels(names: &[(String, String)]) -> Vec<String> {
    use std::collections::HashMap;
    let mut hosts: HashMap<&str, usize> = HashMap::new();
    for (host, _) in names {
        *hosts.entry(host).or_default() += 1;
    }
    let base: Vec<String> = names
        .iter()
        .map(|(host, file)| {
            if hosts[host.as_str()] > 1 && host != file {
                format!("{host} ({file})")
            } else {
                host.clone()
            }
        })
        .collect();
    let mut total: HashMap<&str, usize> = HashMap::new();
    for label in &base {
        *total.entry(label).or_default() += 1;
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    base.iter()
        .map(|label| {
            if total[label.as_str()] == 1 {
                return label.clone();
            }
            let n = seen.entry(label).or_default();
            *n += 1;
            format!("{label} #{n}")
        })
        .collect()
}

/// Findings of all bundles: each node's own, then the cross-node rules for a pair.
pub fn findings(inspected: &[Inspected], lang: Lang) -> Vec<Finding> {
    let mut judge = Judge::new(inspected.len(), inspected.len() > 1, lang);
    for (at, one) in inspected.iter().enumerate() {
        judge.add(&one.node, &one.path, at, &one.evidence);
    }
    judge.finish().0
}

pub fn run(settings: &Settings) -> Result<ExitStatus> {
    let first = &settings.bundles[0];
    if settings.list || settings.cat.is_some() || settings.extract.is_some() {
        if settings.bundles.len() > 1 {
            return Err(Error::usage(
                "--list, --cat and --extract take one bundle; give them one at a time",
            ));
        }
        let mut reader = BundleReader::open(first)?;
        return extract::run_action(&mut reader, settings).map(|_| ExitStatus::Success);
    }
    let catalogue = Catalogue::embedded()?;
    // A case file's bundles go to a temporary directory: a signal must not leave them there.
    crate::platform::install_interrupt_handler();
    let max_case = settings.max_extract;
    let gather = settings.html.is_some();
    // The bundles given bare are judged together as the nodes of one pair or cluster; a case
    // file (`--peer`, recognised by its content) is a pair of its own, whatever else is on the
    // command line.
    let is_case: Vec<bool> = settings
        .bundles
        .iter()
        .map(|p| crate::inspect::case::is_case(p))
        .collect();
    let bare = is_case.iter().filter(|case| !**case).count();
    let several = settings.bundles.len() > 1 || bare < settings.bundles.len();
    if bare > CLUSTER_MAX && !settings.quiet {
        eprintln!(
            "drx-collect: {bare} bundles are more nodes than one cluster has ({CLUSTER_MAX} at most): each is diagnosed alone, without the cross-node rules"
        );
    }
    // The HTML report holds every node whole: at most one cluster's. A case file counts as the
    // bundles it holds, known once it is opened (below); here, at least one each.
    let too_many_for_html = |nodes: usize| {
        Error::usage(format!(
            "--html makes one report of a pair or cluster, at most {CLUSTER_MAX} bundles, and these inputs hold {nodes}; give it the bundles of one cluster"
        ))
    };
    if gather && settings.bundles.len() > CLUSTER_MAX {
        return Err(too_many_for_html(settings.bundles.len()));
    }
    // The nodes of the report, counted before any is read: the bundles each case file holds.
    let report_nodes = if gather {
        let in_cases: usize = settings
            .bundles
            .iter()
            .zip(&is_case)
            .filter(|(_, case)| **case)
            .map(|(path, _)| crate::inspect::case::count_bundles(path))
            .sum();
        bare + in_cases
    } else {
        0
    };
    if report_nodes > CLUSTER_MAX {
        return Err(too_many_for_html(report_nodes));
    }
    let mut html_nodes = bare;
    let mut intact = true;
    let mut summaries = Vec::new();
    let mut findings = Vec::new();
    let mut case_problems = Vec::new();
    // Only the HTML report needs every bundle whole until the end (it is made for one pair or
    // cluster); otherwise a bundle is reduced to its summary and findings before the next is
    // read, and a case file's bundles are taken out only while it is judged.
    let mut kept = Vec::new();
    let mut bare_judge = Judge::new(bare, several, settings.lang);
    // In a queue, an input that cannot be read at all (not a bundle, unreadable, sealed to
    // another key) is named on stderr and the others are still read and reported; the exit
    // status says so. One input alone fails as before, except that --json still prints its
    // report (a script reading it always gets one).
    let queue = settings.bundles.len() > 1 || settings.json;
    let mut unread: Option<ExitStatus> = None;
    // Problems of the run beyond each bundle's own: inputs not read, case file containers.
    let mut run_problems: Vec<(PathBuf, verify::Problem)> = Vec::new();
    let mut skip = |input: &Path, err: Error| -> Result<()> {
        if let Some(signal) = crate::platform::interrupted() {
            return Err(stopped(signal));
        }
        if !queue {
            return Err(err);
        }
        eprintln!("drx-collect: {}", crate::escape::block(err.message()));
        run_problems.push((input.to_path_buf(), not_read(err.message())));
        let status = err.status();
        if unread.is_none_or(|seen| (seen as i32) < (status as i32)) {
            unread = Some(status);
        }
        Ok(())
    };
    for (path, case) in settings.bundles.iter().zip(&is_case) {
        // One bundle read: its summary kept, then whole (HTML) or only for its judge; the
        // host it was read as returned.
        let mut read = |bundle: &Path, judge: &mut Judge<Evidence>| -> Result<Option<String>> {
            let options = Options {
                gather,
                nodes: report_nodes,
                ..Options::default()
            };
            let one = match open(bundle, &catalogue, options) {
                Ok(one) => one,
                Err(err) => return skip(bundle, err).map(|()| None),
            };
            intact &= one.verification.ok();
            summaries.push(report::Summary::of(&one, settings.json, settings.quiet));
            // As case.json names a node (`peer::pair`): its host name, else its file name.
            let host = Some(one.node.clone());
            if gather {
                kept.push(one);
            } else {
                judge.add(&one.node, &one.path, summaries.len() - 1, one.evidence);
            }
            Ok(host)
        };
        if !case {
            read(path, &mut bare_judge)?;
            continue;
        }
        let case = match crate::inspect::case::open(path, max_case) {
            Ok(case) => case,
            Err(err) => {
                skip(path, err)?;
                continue;
            }
        };
        if gather {
            html_nodes += case.bundles.len();
            if html_nodes > CLUSTER_MAX {
                return Err(too_many_for_html(html_nodes));
            }
        }
        let mut problems = case.problems.clone();
        let mut judge = Judge::new(case.bundles.len(), true, settings.lang);
        for (bundle, listed) in case.bundles.iter().zip(&case.hosts) {
            let host = read(bundle, &mut judge)?;
            // case.json names each bundle's node: it must be the node the bundle says it is.
            if let (Some(listed), Some(host)) = (listed, host) {
                if !listed.eq_ignore_ascii_case(&host) {
                    problems.push(format!(
                        "case.json names the node of {} {}, the bundle says {}",
                        file_name(bundle),
                        crate::escape::field(listed),
                        crate::escape::field(&host)
                    ));
                }
            }
        }
        let (found, labels) = judge.finish();
        findings.extend(found);
        for (at, label) in labels {
            summaries[at].set_node(label);
        }
        findings.extend(crate::inspect::case::gap_findings(
            &case.index.gaps,
            &catalogue,
            settings.lang,
        ));
        for problem in problems {
            case_problems.push((case.path.clone(), problem));
        }
        // Dropped here: its temporary directory goes before the next input is read (the HTML
        // report needs only what was gathered).
    }
    if let Some(signal) = crate::platform::interrupted() {
        return Err(stopped(signal));
    }
    if gather {
        // Named as the findings name them (the report matches the two).
        let names: Vec<(String, String)> = kept
            .iter()
            .map(|one| (one.node.clone(), file_name(&one.path)))
            .collect();
        for ((one, label), summary) in kept.iter_mut().zip(node_labels(&names)).zip(&mut summaries)
        {
            summary.set_node(label.clone());
            one.node = label;
        }
        findings.extend(self::findings(&kept, settings.lang));
    } else {
        let (found, labels) = bare_judge.finish();
        findings.extend(found);
        for (at, label) in labels {
            summaries[at].set_node(label);
        }
    }
    index::sort_findings(&mut findings);
    for (case, problem) in &case_problems {
        eprintln!(
            "drx-collect: case file not intact: {}",
            crate::escape::field(&format!("{}: {problem}", case.display()))
        );
    }
    run_problems.extend(
        case_problems
            .iter()
            .map(|(case, problem)| (case.clone(), not_read(problem))),
    );
    if let Some(html) = &settings.html {
        report::write_html(html, &kept, &findings, settings.lang)?;
    }
    let intact = intact && case_problems.is_empty();
    report::print(
        summaries,
        &findings,
        run_problems,
        settings.json,
        settings.lang,
        settings.quiet,
    )?;
    if let Some(status) = unread {
        // Integrity (3) outranks a read failure (1) and a usage error (2), as SPEC §8 orders them.
        return Ok(if intact {
            status
        } else {
            ExitStatus::Integrity
        });
    }
    Ok(if intact {
        ExitStatus::Success
    } else {
        ExitStatus::Integrity
    })
}

/// The run was interrupted (SIGINT, SIGTERM, SIGHUP): what it took out of case files is removed
/// as it unwinds.
fn stopped(signal: i32) -> Error {
    Error::failed(format!(
        "inspect was stopped by {}; nothing it took out of a case file was left behind",
        crate::platform::interruption_name(signal)
    ))
}

/// A problem of an input as a whole: not a bundle that could be read, or a case file's container.
fn not_read(detail: &str) -> verify::Problem {
    verify::Problem {
        kind: verify::ProblemKind::Layout,
        path: String::new(),
        detail: detail.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Count(u64);

    impl LineSink for Count {
        fn line(&mut self, _: &str, _: u64, _: &[u8]) {
            self.0 += 1;
        }
    }

    /// A config larger than the whole-file cap is not given whole, but every one of its lines
    /// still reaches the line rules (they used to stop at the cap).
    #[test]
    fn a_file_over_the_whole_cap_is_still_scanned_to_its_end() {
        let catalogue = Catalogue::embedded().unwrap();
        let mut scan = Scan::new(&catalogue);
        let path = "files/etc/drbd.d/r0.res";
        assert!(scan.wants_whole(path));
        let line = b"# a comment line of a config that goes on and on\n";
        let lines = (RULES_WHOLE_CAP / line.len() + 1000) as u64;
        let big: Vec<u8> = line.repeat(lines as usize);
        let mut feed = Feed::default();
        let mut count = Count(0);
        feed.file_with(&mut scan, Some(&mut count), path, &mut &big[..])
            .unwrap();
        assert_eq!(count.0, lines);
        // Not given whole: the budget is untouched.
        assert_eq!(feed.whole_left, RULES_WHOLE_TOTAL);
        // A small one is given whole, and its lines are seen once.
        let mut count = Count(0);
        feed.file_with(&mut scan, Some(&mut count), path, &mut &line[..])
            .unwrap();
        assert_eq!(count.0, 1);
        assert_eq!(feed.whole_left, RULES_WHOLE_TOTAL - line.len());
    }

    /// A series larger than the other files' whole cap (up to the 32 MiB a series holds) still
    /// reaches the rules whole, without using the other files' budget.
    #[test]
    fn a_series_over_the_whole_cap_is_given_whole() {
        let catalogue = Catalogue::embedded().unwrap();
        let mut scan = Scan::new(&catalogue);
        let record = crate::series::Record::Kernel {
            t: "2026-12-07T10:00:00.000Z".into(),
            ms: 1,
            line: "drbd r0: conn( Connected -> NetworkFailure )".into(),
        }
        .to_line();
        let copies = RULES_WHOLE_CAP / record.len() + 1000;
        let big = record.repeat(copies);
        assert!(big.len() > RULES_WHOLE_CAP && big.len() < crate::series::MAX_BYTES);
        let mut feed = Feed::default();
        feed.file(&mut scan, crate::layout::WATCH_SERIES, &mut big.as_bytes())
            .unwrap();
        assert_eq!(feed.whole_left, RULES_WHOLE_TOTAL);
        let evidence = scan.finish(&Facts::default());
        let (_, series) = evidence
            .series
            .as_ref()
            .expect("the series reached the rules");
        assert_eq!(series.records.len(), copies);
    }

    fn evidence(catalogue: &Catalogue) -> Evidence {
        Scan::new(catalogue).finish(&Facts::default())
    }

    /// The nodes of a pair or cluster are kept for the cross-node rules; beyond what a cluster
    /// can hold, no bundle's evidence outlives its own findings (a support queue stays flat).
    #[test]
    fn evidence_is_kept_for_a_cluster_only() {
        let catalogue = Catalogue::embedded().unwrap();
        let mut pair = Judge::new(2, true, Lang::En);
        pair.add("a", Path::new("a.tgz"), 0, evidence(&catalogue));
        pair.add("b", Path::new("b.tgz"), 1, evidence(&catalogue));
        assert_eq!(pair.nodes.len(), 2);
        let mut cluster = Judge::new(CLUSTER_MAX, true, Lang::En);
        for n in 0..CLUSTER_MAX {
            cluster.add(
                &format!("n{n}"),
                Path::new("n.tgz"),
                n,
                evidence(&catalogue),
            );
        }
        assert_eq!(cluster.nodes.len(), CLUSTER_MAX);
        let mut queue = Judge::new(CLUSTER_MAX + 1, true, Lang::En);
        for n in 0..=CLUSTER_MAX {
            queue.add(
                &format!("n{n}"),
                Path::new("n.tgz"),
                n,
                evidence(&catalogue),
            );
        }
        assert!(queue.nodes.is_empty());
        let mut one = Judge::new(1, false, Lang::En);
        one.add("a", Path::new("a.tgz"), 0, evidence(&catalogue));
        assert!(one.nodes.is_empty());
        // Each node's own findings are still there, named by node when there are several.
        let own = evidence(&catalogue).findings(Lang::En).len();
        let (found, _) = queue.finish();
        assert_eq!(found.len(), own * (CLUSTER_MAX + 1));
        assert!(found.iter().all(|f| f.node.is_some()));
    }

    /// Bundles of one host name are told apart by their file; the same file twice by a number;
    /// a host alone in the run keeps its plain name.
    #[test]
    fn nodes_of_one_host_name_get_distinct_labels() {
        let names = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(h, f)| (h.to_string(), f.to_string()))
                .collect()
        };
        assert_eq!(
            node_labels(&names(&[("alice", "a.tgz"), ("bob", "b.tgz")])),
            ["alice", "bob"]
        );
        assert_eq!(
            node_labels(&names(&[
                ("alice", "a.tgz"),
                ("alice", "b.tgz"),
                ("bob", "c.tgz")
            ])),
            ["alice (a.tgz)", "alice (b.tgz)", "bob"]
        );
        assert_eq!(
            node_labels(&names(&[("alice", "a.tgz"), ("alice", "a.tgz")])),
            ["alice (a.tgz) #1", "alice (a.tgz) #2"]
        );
        // A bundle without a host name is named by its file already.
        assert_eq!(
            node_labels(&names(&[("x.tgz", "x.tgz"), ("x.tgz", "x.tgz")])),
            ["x.tgz #1", "x.tgz #2"]
        );
        // The cross-node rules and each node's findings use the same names.
        let catalogue = Catalogue::embedded().unwrap();
        let mut pair = Judge::new(2, true, Lang::En);
        pair.add("alice", Path::new("a.tgz"), 0, evidence(&catalogue));
        pair.add("alice", Path::new("b.tgz"), 1, evidence(&catalogue));
        let (found, labels) = pair.finish();
        assert_eq!(
            labels,
            [
                (0, "alice (a.tgz)".to_string()),
                (1, "alice (b.tgz)".to_string())
            ]
        );
        assert!(found.iter().all(|f| f.node.as_deref() != Some("alice")));
    }

    /// What the rules hold whole is bounded per bundle, however many large configs it has.
    #[test]
    fn what_the_rules_hold_whole_is_bounded_per_bundle() {
        let catalogue = Catalogue::embedded().unwrap();
        let mut scan = Scan::new(&catalogue);
        let mut feed = Feed::default();
        let file = vec![b'#'; RULES_WHOLE_CAP];
        let mut given = 0;
        for n in 0..(RULES_WHOLE_TOTAL / RULES_WHOLE_CAP + 3) {
            let before = feed.whole_left;
            let path = format!("files/etc/drbd.d/r{n}.res");
            feed.file(&mut scan, &path, &mut &file[..]).unwrap();
            if feed.whole_left < before {
                given += before - feed.whole_left;
            }
        }
        assert_eq!(given, RULES_WHOLE_TOTAL);
        assert_eq!(feed.whole_left, 0);
    }
}
