//! What `inspect` prints: a summary for people, or one JSON object (SPEC §7).
use super::Inspected;
use crate::error::{Error, Result};
use crate::escape::field;
use crate::index::{Finding, Status};
use crate::lang::Lang;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

fn duration_of(index: &crate::index::Index) -> Option<f64> {
    if let Some(ms) = index.duration_ms {
        return Some(ms as f64 / 1000.0);
    }
    let start = chrono::DateTime::parse_from_rfc3339(index.started_at.as_deref()?).ok()?;
    let end = chrono::DateTime::parse_from_rfc3339(index.finished_at.as_deref()?).ok()?;
    Some((end - start).num_milliseconds() as f64 / 1000.0)
}

pub fn print_text(
    inspected: &[Inspected],
    findings: &[Finding],
    lang: Lang,
    quiet: bool,
) -> Result<()> {
    let mut out = String::new();
    for one in inspected {
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
            continue;
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
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for item in &index.items {
                *counts.entry(item.status.as_str()).or_default() += 1;
            }
            let counts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
            let _ = writeln!(out, "  items      {}", counts.join(", "));
            for item in index
                .items
                .iter()
                .filter(|i| i.status.is_gap() || i.status == Status::Truncated)
            {
                crate::summary::write_gap(&mut out, "    ", item);
            }
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
    }
    if !quiet {
        out.push('\n');
        crate::summary::write_findings(&mut out, findings, lang);
    }
    // Escaped first (a bundle's names are untrusted), then coloured.
    let out = crate::color::paint(&crate::escape::block(&out));
    crate::stdout::write_out(&mut std::io::stdout().lock(), out.as_bytes())
}

pub fn print_json(inspected: &[Inspected], findings: &[Finding]) -> Result<()> {
    let mut problems = Vec::new();
    let bundles: Vec<serde_json::Value> = inspected
        .iter()
        .map(|one| {
            let v = &one.verification;
            for problem in &v.problems {
                problems.push(serde_json::json!({
                    "bundle": one.path,
                    "kind": problem.kind.as_str(),
                    "path": problem.path,
                    "detail": problem.detail,
                }));
            }
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            if let Some(index) = one.index() {
                for item in &index.items {
                    *counts.entry(item.status.as_str()).or_default() += 1;
                }
            }
            serde_json::json!({
                "path": one.path,
                "size": one.size,
                "node": one.node,
                "top_dir": v.top_dir,
                "host": one.index().map(|i| &i.host),
                "case_id": one.index().and_then(|i| i.case_id.clone()),
                "label": one.index().and_then(|i| i.label.clone()),
                "tool": one.index().map(|i| &i.tool),
                "manifest": one.index().map(|i| &i.manifest),
                "started_at": one.index().and_then(|i| i.started_at.clone()),
                "finished_at": one.index().and_then(|i| i.finished_at.clone()),
                "partial": one.index().map(|i| i.partial),
                "drx_version": one.evidence.drx_version(),
                "items": counts,
                "files": v.files,
                "bytes": v.bytes,
                "integrity": {"ok": v.ok(), "problems": v.problems},
            })
        })
        .collect();
    let value = serde_json::json!({
        "bundles": bundles,
        "integrity": {"ok": problems.is_empty(), "problems": problems},
        "findings": findings,
    });
    let text = serde_json::to_string_pretty(&value)
        .map_err(|err| Error::failed(format!("cannot encode the result: {err}")))?;
    crate::stdout::write_out(
        &mut std::io::stdout().lock(),
        format!("{text}\n").as_bytes(),
    )
}

pub fn write_html(
    path: &Path,
    inspected: &[Inspected],
    findings: &[Finding],
    lang: Lang,
) -> Result<()> {
    super::html::write(path, inspected, findings, lang)
}
