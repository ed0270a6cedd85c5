//! What `collect` tells its user at the end: the bundle, its checksum, counts and findings — or,
//! with `--json`, the same as one JSON object on stdout.
use super::{Outcome, Settings, Verbosity};
use crate::error::Result;
use crate::index::{Finding, Host, Severity, Status};
use crate::stdout::Sorted;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `collect --json` (docs/schema/collect.schema.json).
#[derive(Serialize)]
struct CollectJson<'a> {
    bundle: &'a Path,
    parts: &'a [PathBuf],
    sha256: &'a str,
    size: u64,
    host: &'a Host,
    case_id: Option<&'a str>,
    label: Option<&'a str>,
    partial: bool,
    items: BTreeMap<&'a str, usize>,
    secrets_redacted: u64,
    findings: &'a [Finding],
    removed_by_keep: &'a [PathBuf],
}

/// A typical e-mail attachment limit: above it, say how to make the bundle smaller.
const MAIL_LIMIT: u64 = 20 << 20;

pub fn print(settings: &Settings, outcome: &Outcome) -> Result<()> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for item in &outcome.index.items {
        *counts.entry(item.status.as_str()).or_default() += 1;
    }
    if settings.json {
        let value = CollectJson {
            bundle: &outcome.bundle,
            parts: &outcome.parts,
            sha256: &outcome.sha256,
            size: outcome.size,
            host: &outcome.index.host,
            case_id: outcome.index.case_id.as_deref(),
            label: outcome.index.label.as_deref(),
            partial: outcome.index.partial,
            items: counts,
            secrets_redacted: outcome.index.redaction.secrets_redacted,
            findings: &outcome.index.findings,
            removed_by_keep: &outcome.removed_by_keep,
        };
        return crate::stdout::write_json(&mut std::io::stdout().lock(), &Sorted(value));
    }
    if settings.verbosity == Verbosity::Quiet {
        return Ok(());
    }
    let mut text = String::new();
    text.push_str(&format!(
        "Wrote {} ({})\n  sha256 {}\n",
        outcome.bundle.display(),
        crate::units::human_size(outcome.size),
        outcome.sha256
    ));
    if !outcome.parts.is_empty() {
        text.push_str(&format!(
            "  in {} parts (join them with: cat {}.0* > {})\n",
            outcome.parts.len(),
            outcome.bundle.display(),
            outcome.bundle.display()
        ));
        for part in &outcome.parts {
            let size = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
            text.push_str(&format!(
                "    {} ({})\n",
                part.display(),
                crate::units::human_size(size)
            ));
        }
    }
    let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    text.push_str(&format!(
        "  {} items: {}\n",
        outcome.index.items.len(),
        summary.join(", ")
    ));
    if settings.verbosity == Verbosity::Verbose {
        for item in &outcome.index.items {
            text.push_str(&format!(
                "    {:<9} {:<28} {}{}\n",
                item.status.as_str(),
                item.id,
                item.source,
                item.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ));
        }
    }
    let gaps = outcome
        .index
        .items
        .iter()
        .filter(|i| matches!(i.status, Status::Timeout | Status::Failed | Status::Denied))
        .count();
    let denied = outcome
        .index
        .items
        .iter()
        .filter(|i| i.status == Status::Denied)
        .count();
    if denied > 0 {
        text.push_str(&format!(
            "  {denied} item(s) were denied: run drx-collect as root (Administrator on Windows) to collect them\n"
        ));
    }
    if gaps > 0 {
        text.push_str(&format!(
            "  {gaps} item(s) failed, timed out or were denied: see SUMMARY.txt in the bundle\n"
        ));
    }
    let findings = &outcome.index.findings;
    if findings.is_empty() {
        text.push_str("  no problem detected\n");
    } else {
        let count = |s| findings.iter().filter(|f| f.severity == s).count();
        text.push_str(&format!(
            "  findings: {} error(s), {} warning(s), {} info\n",
            count(Severity::Error),
            count(Severity::Warning),
            count(Severity::Info)
        ));
        for finding in findings.iter().filter(|f| f.severity != Severity::Info) {
            text.push_str(&format!(
                "    [{}] {}: {}\n",
                finding.severity.as_str(),
                finding.rule,
                finding.title
            ));
        }
    }
    if outcome.index.partial {
        text.push_str("  the run hit --total-timeout: the bundle is partial\n");
    }
    // Split parts are sized for mail already.
    if outcome.size > MAIL_LIMIT && outcome.parts.is_empty() {
        text.push_str(&format!(
            "  note: {} may be too large to e-mail; shrink it with --since 3d or --max-file-size 16MiB, or use --split 10MiB\n",
            crate::units::human_size(outcome.size)
        ));
    }
    for removed in &outcome.removed_by_keep {
        text.push_str(&format!("  removed old bundle {}\n", removed.display()));
    }
    // Escaped first (a bundle's names are untrusted), then coloured.
    let text = crate::color::paint(&crate::escape::block(&text));
    crate::stdout::write_out(&mut std::io::stdout().lock(), text.as_bytes())
}
