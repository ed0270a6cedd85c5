//! What `inspect` prints: a summary for people, or one JSON object (SPEC §7).
use super::verify::Problem;
use super::Inspected;
use crate::error::Result;
use crate::escape::field;
use crate::index::{Finding, Host, ManifestRef, Status, Tool};
use crate::lang::Lang;
use crate::stdout::Sorted;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn duration_of(index: &crate::index::Index) -> Option<f64> {
    if let Some(ms) = index.duration_ms {
        return Some(ms as f64 / 1000.0);
    }
    let start = chrono::DateTime::parse_from_rfc3339(index.started_at.as_deref()?).ok()?;
    let end = chrono::DateTime::parse_from_rfc3339(index.finished_at.as_deref()?).ok()?;
    Some((end - start).num_milliseconds() as f64 / 1000.0)
}

/// What `inspect` keeps of one bundle to print at the end, once the bundle itself (its evidence,
/// its index) is dropped: the text lines, or the JSON entry and its problems.
pub enum Summary {
    Text(String),
    Json(Box<BundleJson>),
}

impl Summary {
    /// Names the bundle's node as the findings name it (`inspect::node_labels`).
    pub fn set_node(&mut self, node: String) {
        if let Summary::Json(json) = self {
            json.node = node;
        }
    }

    pub fn of(one: &Inspected, json: bool, quiet: bool) -> Summary {
        if json {
            Summary::Json(Box::new(BundleJson::of(one)))
        } else {
            Summary::Text(bundle_text(one, quiet))
        }
    }
}

/// The lines of one bundle in the text summary.
fn bundle_text(one: &Inspected, quiet: bool) -> String {
    let mut out = String::new();
    let v = &one.verification;
    let verdict = if v.ok() {
        format!(
            "intact ({} files, {} verified)",
            v.files,
            crate::units::human_size(v.bytes)
        )
    } else {
        format!("INTEGRITY FAILURE ({} problem(s))", v.problems.len())
    };
    let _ = writeln!(out, "{}: {verdict}", field(&one.path.display().to_string()));
    if quiet {
        return out;
    }
    if let Some(index) = one.index() {
        let host = &index.host;
        let _ = writeln!(
            out,
            "  host       {} ({} {}{})",
            if host.hostname.is_empty() {
                "?".into()
            } else {
                field(&host.hostname)
            },
            field(&host.os),
            field(&host.os_release),
            if host.kernel.is_empty() {
                String::new()
            } else {
                format!(", kernel {}", field(&host.kernel))
            }
        );
        let _ = writeln!(
            out,
            "  collected  {}{} by {} {}, manifest {}{}",
            field(index.started_at.as_deref().unwrap_or("?")),
            duration_of(index)
                .map(|d| format!(" in {d:.1} s"))
                .unwrap_or_default(),
            if index.tool.name.is_empty() {
                "?".into()
            } else {
                field(&index.tool.name)
            },
            field(&index.tool.version),
            if index.manifest.name.is_empty() {
                "?".into()
            } else {
                field(&index.manifest.name)
            },
            if index.partial { " (partial)" } else { "" }
        );
        match (&index.case_id, &index.label) {
            (Some(case), Some(label)) => {
                let _ = writeln!(out, "  case       {case} ({label})");
            }
            (Some(case), None) => {
                let _ = writeln!(out, "  case       {case}");
            }
            (None, Some(label)) => {
                let _ = writeln!(out, "  label      {label}");
            }
            (None, None) => {}
        }
        if let Some(drx) = one.evidence.drx_version() {
            let _ = writeln!(out, "  DRX        {}", field(drx));
        }
        let counts: Vec<String> = item_counts(one)
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        let _ = writeln!(out, "  items      {}", counts.join(", "));
        for item in index
            .items
            .iter()
            .filter(|i| i.status.is_gap() || i.status == Status::Truncated)
        {
            crate::summary::write_gap(&mut out, "    ", item);
        }
        series_text(&mut out, one);
    } else {
        let _ = writeln!(out, "  no readable index.json: host facts unknown");
    }
    for problem in &v.problems {
        let _ = writeln!(
            out,
            "  {:<8} {}: {}",
            problem.kind.as_str(),
            field(&problem.path),
            field(&problem.detail)
        );
    }
    out
}

/// What the bundle's `watch/series.jsonl` holds (a `watch` / `record` bundle): its span and
/// records, its gaps, and the trigger with the window around it.
fn series_text(out: &mut String, one: &Inspected) {
    let Some(o) = series_overview(one) else {
        return;
    };
    use crate::series::span_text;
    let kinds: Vec<String> = o
        .kinds
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "start" | "end"))
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    let mut line = format!(
        "  series     {} from {}, {} records ({})",
        span_text(o.span_ms),
        field(o.start.as_deref().unwrap_or("?")),
        o.records,
        kinds.join(", ")
    );
    if o.gaps > 0 {
        line.push_str(&format!(", {} gap(s) over {}", o.gaps, span_text(o.gap_ms)));
        if o.lost > 0 {
            line.push_str(&format!(", {} lines lost", o.lost));
        }
    }
    if o.unreadable > 0 {
        line.push_str(&format!(", {} unreadable line(s)", o.unreadable));
    }
    let _ = writeln!(out, "{line}");
    if let Some(trigger) = &o.trigger {
        let _ = writeln!(
            out,
            "  trigger    {} {}: window {} before, {} after",
            field(&trigger.t),
            field(&trigger.reason),
            span_text(trigger.before_ms),
            span_text(trigger.after_ms)
        );
    }
    let _ = writeln!(
        out,
        "  ended      {}",
        field(
            o.end
                .as_deref()
                .unwrap_or("no end record: the series was cut off")
        )
    );
}

fn series_overview(one: &Inspected) -> Option<crate::series::Overview> {
    one.evidence.series.as_ref().map(|(_, s)| s.overview())
}

/// How many items of the bundle's index ended in each status.
fn item_counts(one: &Inspected) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    if let Some(index) = one.index() {
        for item in &index.items {
            *counts.entry(item.status.as_str()).or_default() += 1;
        }
    }
    counts
}

/// Prints the bundles' summaries and the findings, as text or as one JSON object.
/// `run_problems`: problems of inputs as a whole (not read, a case file's container); in text
/// they were already said on stderr.
/// The report of one run: JSON when `json` (also when no input could be read: a script reading
/// it always gets its object), else text.
pub fn print(
    summaries: Vec<Summary>,
    findings: &[Finding],
    run_problems: Vec<(PathBuf, Problem)>,
    json: bool,
    lang: Lang,
    quiet: bool,
) -> Result<()> {
    let mut text = String::new();
    let mut bundles = Vec::new();
    for summary in summaries {
        match summary {
            Summary::Text(lines) => text.push_str(&lines),
            Summary::Json(bundle) => bundles.push(*bundle),
        }
    }
    if json {
        return print_json(bundles, findings, run_problems);
    }
    print_text(text, findings, lang, quiet)
}

fn print_text(mut out: String, findings: &[Finding], lang: Lang, quiet: bool) -> Result<()> {
    if !quiet {
        out.push('\n');
        crate::summary::write_findings(&mut out, findings, lang);
    }
    // Escaped first (a bundle's names are untrusted), then coloured.
    let out = crate::color::paint(&crate::escape::block(&out));
    crate::stdout::write_out(&mut std::io::stdout().lock(), out.as_bytes())
}

/// `inspect --json` (SPEC §7; docs/schema/inspect.schema.json).
/// Its fields are in sorted order, and each part is [`Sorted`]: the keys come out sorted while
/// the whole is written as it is serialized, never held as one value.
#[derive(Serialize)]
struct InspectJson<'a> {
    bundles: Vec<Sorted<BundleJson>>,
    findings: Vec<Sorted<&'a Finding>>,
    integrity: Sorted<RunIntegrity>,
}

/// The integrity of all bundles together: every problem, with the bundle it is in.
#[derive(Serialize)]
struct RunIntegrity {
    ok: bool,
    problems: Vec<RunProblem>,
}

#[derive(Serialize)]
struct RunProblem {
    bundle: PathBuf,
    #[serde(flatten)]
    problem: Problem,
}

/// One bundle in `inspect --json`: a few facts of its index, its verification; owned, so it
/// outlives the bundle's evidence.
#[derive(Serialize)]
pub struct BundleJson {
    bytes: u64,
    case_id: Option<String>,
    drx_version: Option<String>,
    files: u64,
    finished_at: Option<String>,
    host: Option<Host>,
    integrity: BundleIntegrity,
    items: BTreeMap<&'static str, usize>,
    label: Option<String>,
    manifest: Option<ManifestRef>,
    node: String,
    partial: Option<bool>,
    path: PathBuf,
    /// What `watch/series.jsonl` holds, when the bundle has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    series: Option<crate::series::Overview>,
    size: u64,
    started_at: Option<String>,
    tool: Option<Tool>,
    top_dir: String,
}

#[derive(Serialize)]
struct BundleIntegrity {
    ok: bool,
    problems: Vec<Problem>,
}

impl BundleJson {
    fn of(one: &Inspected) -> BundleJson {
        let v = &one.verification;
        let index = one.index();
        BundleJson {
            bytes: v.bytes,
            case_id: index.and_then(|i| i.case_id.clone()),
            drx_version: one.evidence.drx_version().map(str::to_string),
            files: v.files,
            finished_at: index.and_then(|i| i.finished_at.clone()),
            host: index.map(|i| i.host.clone()),
            integrity: BundleIntegrity {
                ok: v.ok(),
                problems: v.problems.clone(),
            },
            items: item_counts(one),
            label: index.and_then(|i| i.label.clone()),
            manifest: index.map(|i| i.manifest.clone()),
            node: one.node.clone(),
            partial: index.map(|i| i.partial),
            path: one.path.clone(),
            series: series_overview(one),
            size: one.size,
            started_at: index.and_then(|i| i.started_at.clone()),
            tool: index.map(|i| i.tool.clone()),
            top_dir: v.top_dir.clone(),
        }
    }
}

fn print_json(
    bundles: Vec<BundleJson>,
    findings: &[Finding],
    run_problems: Vec<(PathBuf, Problem)>,
) -> Result<()> {
    let problems: Vec<RunProblem> = run_problems
        .into_iter()
        .map(|(bundle, problem)| RunProblem { bundle, problem })
        .chain(bundles.iter().flat_map(|one| {
            one.integrity.problems.iter().map(|problem| RunProblem {
                bundle: one.path.clone(),
                problem: problem.clone(),
            })
        }))
        .collect();
    let value = InspectJson {
        bundles: bundles.into_iter().map(Sorted).collect(),
        findings: findings.iter().map(Sorted).collect(),
        integrity: Sorted(RunIntegrity {
            ok: problems.is_empty(),
            problems,
        }),
    };
    crate::stdout::write_json(&mut std::io::stdout().lock(), &value)
}

pub fn write_html(
    path: &Path,
    inspected: &[Inspected],
    findings: &[Finding],
    lang: Lang,
) -> Result<()> {
    super::html::write(path, inspected, findings, lang)
}
