//! `SUMMARY.txt`: the index for people. Host, OS, versions, findings by severity with their
//! remedies, and the items that failed, timed out or were cut.
use crate::escape::field;
use crate::index::{Finding, Index, Item, Severity, Status};
use crate::lang::Lang;
use std::fmt::Write;

pub fn render(index: &Index, lang: Lang) -> String {
    let ko = lang == Lang::Ko;
    let mut out = String::new();
    let _ = writeln!(out, "drx-collect {} support bundle", index.tool.version);
    let _ = writeln!(out, "==============================");
    let _ = writeln!(
        out,
        "{:<14}{}",
        if ko { "호스트" } else { "host" },
        index.host.hostname
    );
    let _ = writeln!(
        out,
        "{:<14}{} {}",
        "os", index.host.os, index.host.os_release
    );
    if !index.host.kernel.is_empty() {
        let _ = writeln!(out, "{:<14}{}", "kernel", index.host.kernel);
    }
    if let Some(case) = &index.case_id {
        let _ = writeln!(out, "{:<14}{case}", if ko { "케이스" } else { "case" });
    }
    if let Some(label) = &index.label {
        let _ = writeln!(out, "{:<14}{label}", if ko { "메모" } else { "label" });
    }
    let _ = writeln!(
        out,
        "{:<14}{} .. {}{}",
        if ko { "수집 시각" } else { "collected" },
        index.started_at.as_deref().unwrap_or("?"),
        index.finished_at.as_deref().unwrap_or("?"),
        if index.partial {
            " (partial: --total-timeout reached)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "{:<14}{} ({})",
        "manifest",
        index.manifest.name,
        short(&index.manifest.sha256)
    );
    let _ = writeln!(
        out,
        "{:<14}redacted {} secret(s){}{}",
        "privacy",
        index.redaction.secrets_redacted,
        if index.options.redact {
            ""
        } else {
            "; REDACTION WAS TURNED OFF (--no-redact)"
        },
        if index.redaction.obfuscated {
            "; addresses and host names obfuscated"
        } else {
            ""
        }
    );
    let _ = writeln!(out);

    write_findings(&mut out, &index.findings, lang);

    let gaps: Vec<_> = index
        .items
        .iter()
        .filter(|i| i.status.is_gap() || i.status == Status::Truncated)
        .collect();
    let _ = writeln!(out);
    let ok = index
        .items
        .iter()
        .filter(|i| i.status == Status::Ok)
        .count();
    let missing = index
        .items
        .iter()
        .filter(|i| i.status == Status::Missing)
        .count();
    let _ = writeln!(
        out,
        "Items: {} collected, {} not present on this host, {} with problems",
        ok,
        missing,
        gaps.len()
    );
    for item in gaps {
        write_gap(&mut out, "  ", item);
    }
    out
}

/// The findings for people: counts by severity, then each finding worst first.
pub fn write_findings(out: &mut String, findings: &[Finding], lang: Lang) {
    let ko = lang == Lang::Ko;
    let count = |severity| findings.iter().filter(|f| f.severity == severity).count();
    let _ = writeln!(
        out,
        "{}: {} error(s), {} warning(s), {} info",
        lang.ui("text.findings"),
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info)
    );
    if findings.is_empty() {
        let none = if ko {
            "발견된 문제가 없습니다."
        } else {
            "No problem was detected."
        };
        let _ = writeln!(out, "  {none}");
    }
    for finding in findings {
        out.push('\n');
        write_finding(out, finding, lang);
    }
}

/// One finding for people: what, where, the evidence line, the detail, the remedy.
pub fn write_finding(out: &mut String, finding: &Finding, lang: Lang) {
    // Paths, nodes, excerpts and item sources come from the host or the bundle: one line each.
    let node = finding
        .node
        .as_deref()
        .map(|n| format!(" [{}]", field(n)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "[{}] {}{node}: {}",
        finding.severity.as_str().to_uppercase(),
        finding.rule,
        finding.title
    );
    if let Some(path) = &finding.path {
        let line = finding.line.map(|l| format!(":{l}")).unwrap_or_default();
        let _ = writeln!(out, "    at {}{line}", field(path));
    }
    if let Some(excerpt) = &finding.excerpt {
        let _ = writeln!(out, "    | {}", field(excerpt));
    }
    if let Some(detail) = &finding.detail {
        let _ = writeln!(out, "    {detail}");
    }
    let fix = lang.ui("text.fix");
    for line in finding.remedy.lines() {
        let _ = writeln!(out, "    {fix} {line}");
    }
}

/// One item that failed, timed out, was denied or cut.
pub fn write_gap(out: &mut String, indent: &str, item: &Item) {
    let _ = writeln!(
        out,
        "{indent}{:<9} {} {}{}",
        item.status.as_str(),
        field(&item.id),
        field(&item.source),
        item.error
            .as_deref()
            .map(|e| format!(": {}", field(e)))
            .unwrap_or_default()
    );
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
