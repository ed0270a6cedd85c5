//! `inspect --html`: one self-contained case report (SPEC §7). Static sections are written here
//! with every bundle-supplied text HTML-escaped; the timeline is drawn by a small inline script
//! from a JSON island. Nothing refers outside the file: no URLs at all, so it opens offline from
//! an e-mail attachment or a share. Bundles are untrusted: a log line holding `<script>` must
//! stay text, and so must a URL (it would read as an external reference).
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::timeline::{self, Event, Gathered, Kind, Level};
use super::Inspected;
use crate::error::{Error, Result};
use crate::index::{Finding, Severity, Status};
use crate::lang::Lang;

const CSS: &str = include_str!("html/report.css");
const JS: &str = include_str!("html/report.js");

pub fn write(path: &Path, inspected: &[Inspected], findings: &[Finding], lang: Lang) -> Result<()> {
    let page = render(inspected, findings, lang, Utc::now());
    std::fs::write(path, page).map_err(|err| {
        Error::failed(format!(
            "cannot write the HTML report {}: {}; choose a writable path",
            path.display(),
            crate::error::describe_io(&err)
        ))
    })
}

/// Text for HTML content or a quoted attribute. Beyond the five special characters, `://` is
/// broken up with an entity (it renders the same) so no bundle text reads as a URL, and control
/// characters become U+FFFD.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("://") {
            out.push_str(":&#47;&#47;");
            rest = &rest[3..];
            continue;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// JSON for a `<script type="application/json">` island: `<`, `>` and `&` as `\u` escapes so no
/// text can close the element, and `/` after `:` escaped so no URL appears literally.
pub fn json_island(value: &serde_json::Value) -> String {
    let text = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_string());
    text.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace("://", ":\\/\\/")
}

struct Labels {
    ko: bool,
}

impl Labels {
    fn t<'a>(&self, en: &'a str, ko: &'a str) -> &'a str {
        if self.ko {
            ko
        } else {
            en
        }
    }
}

fn severity_label(l: &Labels, s: Severity) -> &'static str {
    match (s, l.ko) {
        (Severity::Error, false) => "error",
        (Severity::Warning, false) => "warning",
        (Severity::Info, false) => "info",
        (Severity::Error, true) => "오류",
        (Severity::Warning, true) => "경고",
        (Severity::Info, true) => "정보",
    }
}

fn time_text(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn parse_time(text: Option<&str>) -> Option<DateTime<Utc>> {
    chrono::DateTime::parse_from_rfc3339(text?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Which lane a finding belongs to: its node, or the only one.
fn finding_node(finding: &Finding, inspected: &[Inspected]) -> Option<usize> {
    match &finding.node {
        Some(name) => inspected.iter().position(|one| &one.node == name),
        None if inspected.len() == 1 => Some(0),
        None => None,
    }
}

/// One lane's events as shown, and what was left out.
struct Lane {
    events: Vec<Event>,
    left_out: usize,
}

fn lanes(inspected: &[Inspected], findings: &[Finding]) -> Vec<Lane> {
    inspected
        .iter()
        .enumerate()
        .map(|(n, one)| {
            let pinned: HashSet<(String, u64)> = findings
                .iter()
                .filter(|f| finding_node(f, inspected).is_none_or(|i| i == n))
                .filter_map(|f| Some((f.path.clone()?, f.line?)))
                .collect();
            let mut all: Vec<Event> = Vec::new();
            if let Some(index) = one.index() {
                let tool = format!("{} {}", index.tool.name, index.tool.version);
                for (at, what) in [
                    (&index.started_at, "collection started"),
                    (&index.finished_at, "collection finished"),
                ] {
                    if let Some(at) = parse_time(at.as_deref()) {
                        all.push(Event {
                            at,
                            guessed: false,
                            kind: Kind::Collect,
                            level: Level::Info,
                            path: "index.json".to_string(),
                            line: 0,
                            text: format!("{what} ({})", tool.trim()),
                        });
                    }
                }
            }
            let empty = Vec::new();
            let events = one.gathered.as_ref().map(|g| &g.events).unwrap_or(&empty);
            all.extend(events.iter().cloned());
            let (events, left_out) =
                timeline::select(&all, &pinned, timeline::EVENT_CAP, timeline::EVENT_BYTES);
            Lane { events, left_out }
        })
        .collect()
}

pub fn render(
    inspected: &[Inspected],
    findings: &[Finding],
    lang: Lang,
    now: DateTime<Utc>,
) -> String {
    let l = Labels {
        ko: lang == Lang::Ko,
    };
    let lanes = lanes(inspected, findings);
    // Finding ↔ event links: same node, path and line.
    let mut by_place: HashMap<(usize, &str, u64), Vec<usize>> = HashMap::new();
    for (i, f) in findings.iter().enumerate() {
        if let (Some(path), Some(line)) = (&f.path, f.line) {
            match finding_node(f, inspected) {
                Some(n) => by_place.entry((n, path, line)).or_default().push(i),
                None => {
                    for n in 0..inspected.len() {
                        by_place.entry((n, path, line)).or_default().push(i);
                    }
                }
            }
        }
    }
    let mut event_of_finding: BTreeMap<usize, String> = BTreeMap::new();
    let mut paths: Vec<&str> = Vec::new();
    let mut path_ids: HashMap<&str, usize> = HashMap::new();
    let mut events_json = Vec::new();
    for (n, lane) in lanes.iter().enumerate() {
        for (e, event) in lane.events.iter().enumerate() {
            let linked = by_place
                .get(&(n, event.path.as_str(), event.line))
                .cloned()
                .unwrap_or_default();
            for f in &linked {
                event_of_finding
                    .entry(*f)
                    .or_insert_with(|| format!("e{n}-{e}"));
            }
            let path_id = *path_ids.entry(event.path.as_str()).or_insert_with(|| {
                paths.push(event.path.as_str());
                paths.len() - 1
            });
            events_json.push(serde_json::json!([
                n,
                event.at.timestamp_millis(),
                event.kind.as_str(),
                event.level.as_str(),
                u8::from(event.guessed),
                path_id,
                event.line,
                event.text,
                linked,
                e
            ]));
        }
    }
    let nodes_json: Vec<serde_json::Value> = inspected
        .iter()
        .map(|one| serde_json::json!({"name": one.node}))
        .collect();
    let findings_json: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            serde_json::json!({
                "rule": f.rule,
                "sev": f.severity.as_str(),
                "title": f.title,
            })
        })
        .collect();
    let data = serde_json::json!({
        "nodes": nodes_json,
        "paths": paths,
        "events": events_json,
        "findings": findings_json,
        "labels": {
            "node": l.t("Node", "노드"),
            "time": l.t("Time (UTC)", "시각 (UTC)"),
            "source": l.t("Source", "출처"),
            "line": l.t("Log line", "로그 줄"),
            "finding": l.t("Supports finding", "관련 진단"),
            "guessed": l.t("≈ year or zone assumed", "≈ 연도 또는 시간대 추정"),
            "none": l.t("No event in this range.", "이 구간에 이벤트가 없습니다."),
            "shown": l.t("events in view", "개 이벤트 표시 중"),
            "more": l.t("more in view; zoom in to list them", "개 더 있음; 확대하면 목록에 나타납니다"),
        },
    });

    let mut out = String::with_capacity(256 * 1024);
    let title = l.t("DRX/BSR case report", "DRX/BSR 진단 보고서");
    let names: Vec<String> = inspected.iter().map(|one| esc(&one.node)).collect();
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n\
         <title>{title} — {names}</title>\n<style>\n{CSS}</style>\n</head>\n<body>",
        lang = if l.ko { "ko" } else { "en" },
        names = names.join(" / "),
    );
    let _ = writeln!(
        out,
        "<header><h1>{title}</h1><p class=\"sub\">{names} · {made} {when} · drx-collect {version}</p>\
         <nav><a href=\"#verdict\">{v}</a> <a href=\"#findings\">{f}</a> <a href=\"#timeline\">{t}</a> \
         <a href=\"#hosts\">{h}</a> <a href=\"#items\">{i}</a></nav></header>\n<main>",
        names = names.join(" · "),
        made = l.t("report made", "작성"),
        when = time_text(&now),
        version = env!("CARGO_PKG_VERSION"),
        v = l.t("Verdict", "판정"),
        f = l.t("Findings", "진단 결과"),
        t = l.t("Timeline", "타임라인"),
        h = l.t("Hosts", "호스트"),
        i = l.t("Gaps", "수집 누락"),
    );
    verdict(&mut out, &l, inspected, findings);
    findings_section(&mut out, &l, inspected, findings, &event_of_finding);
    timeline_section(&mut out, &l, inspected, &lanes);
    hosts(&mut out, &l, inspected);
    items(&mut out, &l, inspected);
    let _ = writeln!(
        out,
        "</main>\n<footer>{}</footer>\n<script type=\"application/json\" id=\"report-data\">{}</script>\n\
         <script>\n{JS}</script>\n</body>\n</html>",
        l.t(
            "Made by drx-collect inspect from the bundles named above; it reads them, it does not change them. \
             Times are UTC; ≈ marks times whose year or zone was assumed.",
            "drx-collect inspect가 위 번들에서 만든 보고서입니다(번들은 바꾸지 않습니다). \
             시각은 UTC이며, ≈ 표시는 연도나 시간대를 추정한 시각입니다."
        ),
        json_island(&data),
    );
    out
}

fn sev_counts(findings: &[Finding]) -> [usize; 3] {
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    [
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info),
    ]
}

fn verdict(out: &mut String, l: &Labels, inspected: &[Inspected], findings: &[Finding]) {
    let [errors, warnings, infos] = sev_counts(findings);
    let worst = findings.iter().map(|f| f.severity).min();
    let intact = inspected.iter().all(|one| one.verification.ok());
    let (class, headline) = match (intact, worst) {
        (false, _) => (
            "error",
            l.t(
                "A bundle failed its integrity check: its contents cannot be trusted as collected.",
                "무결성 검사에 실패한 번들이 있습니다: 수집된 그대로라고 믿을 수 없습니다.",
            ),
        ),
        (true, Some(Severity::Error)) => (
            "error",
            l.t(
                "Errors found: see the findings below, worst first.",
                "오류가 발견되었습니다: 아래 진단 결과를 심각한 순서로 확인하세요.",
            ),
        ),
        (true, Some(Severity::Warning)) => {
            ("warning", l.t("Warnings found.", "경고가 발견되었습니다."))
        }
        _ => (
            "ok",
            l.t("No problem was detected.", "발견된 문제가 없습니다."),
        ),
    };
    let _ = write!(
        out,
        "<section id=\"verdict\"><h2>{}</h2>\n<div class=\"headline sev-{class}\">{headline}\
         <span class=\"counts\"><b class=\"n-error\">{errors}</b> {} · <b class=\"n-warning\">{warnings}</b> {} · \
         <b class=\"n-info\">{infos}</b> {}</span></div>\n<div class=\"cards\">",
        l.t("Verdict", "판정"),
        l.t("error(s)", "오류"),
        l.t("warning(s)", "경고"),
        l.t("info", "정보"),
    );
    for one in inspected {
        let v = &one.verification;
        let own = findings
            .iter()
            .filter(|f| f.node.as_deref().is_none_or(|n| n == one.node))
            .map(|f| f.severity)
            .min();
        let _ = write!(
            out,
            "<div class=\"card\"><h3>{}</h3><p class=\"file\">{}</p>",
            esc(&one.node),
            esc(&one
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()),
        );
        if v.ok() {
            let _ = write!(
                out,
                "<p class=\"integrity ok\">✔ {} — {} {}, {}</p>",
                l.t("intact", "무결성 확인"),
                v.files,
                l.t("files verified", "개 파일 검증"),
                crate::units::human_size(v.bytes),
            );
        } else {
            let _ = write!(
                out,
                "<p class=\"integrity bad\">✘ {} — {} {}</p><ul class=\"problems\">",
                l.t("INTEGRITY FAILURE", "무결성 실패"),
                v.problems.len(),
                l.t("problem(s)", "개 문제"),
            );
            for p in v.problems.iter().take(50) {
                let _ = write!(
                    out,
                    "<li><code>{}</code> {}: {}</li>",
                    esc(p.kind.as_str()),
                    esc(&p.path),
                    esc(&p.detail)
                );
            }
            if v.problems.len() > 50 {
                let _ = write!(out, "<li>… {}</li>", v.problems.len() - 50);
            }
            out.push_str("</ul>");
        }
        let worst = match own {
            Some(s) => format!(
                "<span class=\"badge sev-{}\">{}</span>",
                s.as_str(),
                severity_label(l, s)
            ),
            None => format!(
                "<span class=\"badge sev-ok\">{}</span>",
                l.t("none", "없음")
            ),
        };
        let _ = write!(
            out,
            "<p>{} {worst}</p>",
            l.t("Worst finding:", "가장 심각한 진단:")
        );
        if let Some(index) = one.index() {
            let _ = write!(
                out,
                "<p class=\"muted\">{} {}{}</p>",
                l.t("collected", "수집"),
                esc(index.started_at.as_deref().unwrap_or("?")),
                if index.partial {
                    l.t(" (partial)", " (일부만 수집)")
                } else {
                    ""
                }
            );
        }
        out.push_str("</div>");
    }
    out.push_str("</div></section>\n");
}

fn findings_section(
    out: &mut String,
    l: &Labels,
    inspected: &[Inspected],
    findings: &[Finding],
    event_of_finding: &BTreeMap<usize, String>,
) {
    let _ = writeln!(
        out,
        "<section id=\"findings\"><h2>{} <span class=\"muted\">({})</span></h2>",
        l.t("Findings", "진단 결과"),
        findings.len()
    );
    if findings.is_empty() {
        let _ = write!(
            out,
            "<p>{}</p>",
            l.t("No problem was detected.", "발견된 문제가 없습니다.")
        );
    }
    for (i, f) in findings.iter().enumerate() {
        let sev = f.severity.as_str();
        let _ = writeln!(
            out,
            "<article class=\"finding sev-{sev}\" id=\"f{i}\" data-rule=\"{rule}\">\n<h3><span class=\"badge sev-{sev}\">{}</span> \
             <code class=\"rule\">{rule}</code> {}{}</h3>",
            severity_label(l, f.severity),
            esc(&f.title),
            f.node
                .as_deref()
                .map(|n| format!(" <span class=\"node\">[{}]</span>", esc(n)))
                .unwrap_or_default(),
            rule = esc(&f.rule),
        );
        if let Some(path) = &f.path {
            let line = f.line.map(|n| format!(":{n}")).unwrap_or_default();
            let _ = write!(
                out,
                "<p class=\"where\">{} <code>{}{line}</code>",
                l.t("at", "위치"),
                esc(path)
            );
            if let Some(event) = event_of_finding.get(&i) {
                let _ = write!(
                    out,
                    " <button type=\"button\" class=\"goto\" data-event=\"{event}\">{}</button>",
                    l.t("show on timeline", "타임라인에서 보기")
                );
            }
            out.push_str("</p>\n");
        }
        if let Some(excerpt) = &f.excerpt {
            let _ = writeln!(out, "<pre class=\"excerpt\">{}</pre>", esc(excerpt));
        }
        let around = match (&f.path, f.line, finding_node(f, inspected)) {
            (Some(path), Some(line), Some(n)) => inspected[n]
                .gathered
                .as_ref()
                .map(|g| g.around(path, line))
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        if around.len() > 1 {
            let _ = write!(
                out,
                "<details><summary>{}</summary><pre class=\"context\">",
                l.t("surrounding lines", "주변 줄 보기")
            );
            for (n, text) in around {
                let mark = if Some(n) == f.line {
                    " class=\"hit\""
                } else {
                    ""
                };
                let _ = writeln!(out, "<span{mark}><i>{n:>6}</i> {}</span>", esc(text));
            }
            out.push_str("</pre></details>\n");
        }
        if let Some(detail) = &f.detail {
            let _ = writeln!(out, "<p class=\"detail\">{}</p>", esc(detail));
        }
        let _ = writeln!(
            out,
            "<div class=\"remedy\"><b>{}</b><pre>{}</pre></div>\n</article>",
            l.t("Remedy", "조치"),
            esc(&f.remedy)
        );
    }
    out.push_str("</section>\n");
}

fn timeline_section(out: &mut String, l: &Labels, inspected: &[Inspected], lanes: &[Lane]) {
    let _ = writeln!(
        out,
        "<section id=\"timeline\"><h2>{}</h2>\n<div class=\"controls\">\
         <button type=\"button\" id=\"zoom-in\">+ {}</button> <button type=\"button\" id=\"zoom-out\">− {}</button> \
         <button type=\"button\" id=\"zoom-reset\">{}</button> <span class=\"sep\"></span> <span id=\"filters\"></span></div>\n\
         <div id=\"axis\"></div><div id=\"lanes\"></div>\n\
         <p class=\"legend\"><span class=\"dot k-repl\"></span> {} <span class=\"dot k-drx\"></span> DRX \
         <span class=\"dot k-log\"></span> {} <span class=\"dot k-collect\"></span> {} · \
         <span class=\"shape s-error\"></span> {} <span class=\"shape s-warning\"></span> {} <span class=\"shape s-info\"></span> {} · \
         ≈ {} · {}</p>\n<div id=\"event-detail\" class=\"detail-panel\" hidden></div>\n<div id=\"event-list\"></div>",
        l.t("Timeline (UTC)", "타임라인 (UTC)"),
        l.t("zoom in", "확대"),
        l.t("zoom out", "축소"),
        l.t("all", "전체"),
        l.t("replication state", "복제 상태"),
        l.t("log error/warning", "로그 오류/경고"),
        l.t("collection", "수집"),
        severity_label(l, Severity::Error),
        severity_label(l, Severity::Warning),
        severity_label(l, Severity::Info),
        l.t(
            "year or time zone not in the line: year from the collection time, zone-less local times read as UTC unless the bundle names the zone",
            "줄에 연도나 시간대가 없음: 연도는 수집 시각에서, 시간대가 없는 현지 시각은 번들에 시간대 정보가 없으면 UTC로 읽음",
        ),
        l.t(
            "wheel to zoom, drag to move, click an event for its log line",
            "휠로 확대/축소, 끌어서 이동, 이벤트를 누르면 로그 줄 표시",
        ),
    );
    out.push_str("<ul class=\"notes\">");
    for (one, lane) in inspected.iter().zip(lanes) {
        let g = one.gathered.as_ref();
        let default = Gathered::default();
        let g = g.unwrap_or(&default);
        let zone = match &g.extra.zone {
            Some((zone, _)) => format!("{} {}", l.t("host zone", "호스트 시간대"), esc(zone)),
            None => l
                .t(
                    "host zone unknown: zone-less times read as UTC (≈)",
                    "호스트 시간대 모름: 시간대 없는 시각은 UTC로 읽음 (≈)",
                )
                .to_string(),
        };
        let mut left = Vec::new();
        if lane.left_out > 0 {
            left.push(format!(
                "{} {}",
                lane.left_out,
                l.t(
                    "less relevant events left out (the report keeps a share of errors, state changes, warnings and the rest, latest first)",
                    "개의 덜 중요한 이벤트 생략 (오류·상태 변경·경고·기타를 나누어 최신 순으로 유지)"
                )
            ));
        }
        if g.dropped_in_pass > 0 {
            left.push(format!(
                "{} {}",
                g.dropped_in_pass,
                l.t("more left out while reading", "개는 읽는 중에 생략")
            ));
        }
        if g.untimed > 0 {
            left.push(format!(
                "{} {}",
                g.untimed,
                l.t(
                    "event lines without a readable time (e.g. dmesg uptime) not placed",
                    "개의 이벤트 줄은 시각을 읽을 수 없어 표시하지 않음 (예: dmesg 가동 시간)"
                )
            ));
        }
        if g.context_dropped > 0 {
            left.push(format!(
                "{} {}",
                g.context_dropped,
                l.t("context lines not kept", "개의 주변 줄은 보관하지 않음")
            ));
        }
        let _ = write!(
            out,
            "<li><b>{}</b>: {} {}; {zone}{}{}</li>",
            esc(&one.node),
            lane.events.len(),
            l.t("events shown", "개 이벤트 표시"),
            if left.is_empty() { "" } else { "; " },
            left.join("; "),
        );
    }
    out.push_str("</ul></section>\n");
}

fn endpoint(e: &crate::rules::parse::resfile::HostSection) -> String {
    let mut parts = Vec::new();
    if let Some(a) = &e.address {
        parts.push(a.value.to_string());
    }
    if let Some(a) = &e.proxy_inside {
        parts.push(format!("proxy inside {}", a.value));
    }
    if let Some(a) = &e.proxy_outside {
        parts.push(format!("proxy outside {}", a.value));
    }
    parts.join(", ")
}

fn firewall(l: &Labels, one: &Inspected) -> String {
    let e = &one.evidence;
    let mut parts = Vec::new();
    if let Some(rules) = &e.iptables {
        if rules.is_active() {
            let policy = rules
                .policies
                .get("INPUT")
                .map(|(p, _)| p.as_str())
                .unwrap_or("?");
            let count = rules.chains.get("INPUT").map(Vec::len).unwrap_or(0);
            parts.push(format!(
                "iptables {} (INPUT policy {}, {count} {})",
                l.t("active", "활성"),
                esc(policy),
                l.t("rules", "규칙")
            ));
        } else {
            parts.push(format!("iptables {}", l.t("not filtering", "필터링 안 함")));
        }
    }
    if let Some(fw) = &e.firewalld {
        let zones = fw
            .runtime
            .as_ref()
            .map(|(_, zones)| {
                zones
                    .iter()
                    .filter(|z| z.active)
                    .map(|z| {
                        let ports: Vec<String> = z
                            .ports
                            .iter()
                            .map(|(a, b)| {
                                if a == b {
                                    a.to_string()
                                } else {
                                    format!("{a}-{b}")
                                }
                            })
                            .collect();
                        format!("{} [{}]", esc(&z.name), ports.join(" "))
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        parts.push(format!("firewalld {} {zones}", l.t("running", "실행 중")));
    }
    if let Some(win) = &e.windows_firewall {
        let rules = win.rules.as_ref().map(|(_, r)| r.len()).unwrap_or(0);
        parts.push(format!(
            "Windows Firewall {} ({rules} {})",
            l.t("on", "켜짐"),
            l.t("rules", "규칙")
        ));
    }
    if parts.is_empty() {
        l.t(
            "no active firewall seen (or not collected)",
            "활성 방화벽 없음 (또는 수집 안 됨)",
        )
        .to_string()
    } else {
        parts.join("<br>")
    }
}

fn hosts(out: &mut String, l: &Labels, inspected: &[Inspected]) {
    let _ = write!(
        out,
        "<section id=\"hosts\"><h2>{}</h2>\n<table class=\"hosts\"><thead><tr><th></th>",
        l.t("Hosts side by side", "호스트 비교")
    );
    for one in inspected {
        let _ = write!(out, "<th>{}</th>", esc(&one.node));
    }
    out.push_str("</tr></thead><tbody>\n");
    let dash = || "—".to_string();
    let row = |out: &mut String, label: &str, cells: Vec<String>| {
        let differ = cells.len() > 1 && cells.iter().any(|c| *c != cells[0]);
        let _ = write!(
            out,
            "<tr{}><th>{label}</th>",
            if differ { " class=\"differs\"" } else { "" }
        );
        for c in cells {
            let _ = write!(out, "<td>{c}</td>");
        }
        out.push_str("</tr>\n");
    };
    let host = |one: &Inspected| {
        one.index()
            .map(|i| i.host.clone())
            .unwrap_or_else(|| one.evidence.host.clone())
    };
    let or_dash = |s: &str| if s.trim().is_empty() { dash() } else { esc(s) };
    row(
        out,
        l.t("Host name", "호스트 이름"),
        inspected
            .iter()
            .map(|o| or_dash(&host(o).hostname))
            .collect(),
    );
    row(
        out,
        "OS",
        inspected
            .iter()
            .map(|o| {
                let h = host(o);
                or_dash(format!("{} {}", h.os, h.os_release).trim())
            })
            .collect(),
    );
    row(
        out,
        l.t("Kernel", "커널"),
        inspected.iter().map(|o| or_dash(&host(o).kernel)).collect(),
    );
    let extra = |o: &Inspected| {
        o.gathered
            .as_ref()
            .map(|g| g.extra.clone())
            .unwrap_or_default()
    };
    row(
        out,
        "BSR",
        inspected
            .iter()
            .map(|o| {
                let x = extra(o);
                match (x.bsr_version, x.bsr_kernel) {
                    (None, None) => dash(),
                    (v, k) => {
                        let mut s = esc(v.as_deref().unwrap_or("?"));
                        if let Some(k) = k {
                            let _ = write!(s, " ({} {})", l.t("driver", "드라이버"), esc(&k));
                        }
                        s
                    }
                }
            })
            .collect(),
    );
    row(
        out,
        l.t("DRBD kernel / utils", "DRBD 커널 / 유틸"),
        inspected
            .iter()
            .map(|o| {
                let e = &o.evidence;
                match (&e.drbd_kernel, &e.drbd_utils) {
                    (None, None) => dash(),
                    (k, u) => format!(
                        "{} / {}",
                        k.as_ref()
                            .map(|v| esc(v.value.as_str()))
                            .unwrap_or_else(dash),
                        u.as_ref()
                            .map(|v| esc(v.value.as_str()))
                            .unwrap_or_else(dash)
                    ),
                }
            })
            .collect(),
    );
    row(
        out,
        "DRX",
        inspected
            .iter()
            .map(|o| o.evidence.drx_version().map(esc).unwrap_or_else(dash))
            .collect(),
    );
    row(
        out,
        l.t("Resources", "리소스"),
        inspected
            .iter()
            .map(|o| {
                let e = &o.evidence;
                if e.resources.is_empty() {
                    return dash();
                }
                let mut s = String::from("<ul class=\"res\">");
                for r in &e.resources {
                    let this = e.this_host(r).map(|h| h.place.line);
                    let _ = write!(s, "<li><b>{}</b><ul>", esc(&r.resource.name));
                    for h in &r.resource.hosts {
                        let me = this.is_some() && this == Some(h.place.line);
                        let _ = write!(
                            s,
                            "<li{}>{} {}: {}</li>",
                            if me { " class=\"me\"" } else { "" },
                            if h.floating { "floating" } else { "on" },
                            esc(&h.names.join(" ")),
                            esc(&endpoint(h))
                        );
                    }
                    s.push_str("</ul></li>");
                }
                s.push_str("</ul>");
                s
            })
            .collect(),
    );
    row(
        out,
        l.t("Firewall", "방화벽"),
        inspected.iter().map(|o| firewall(l, o)).collect(),
    );
    row(
        out,
        l.t("Time zone", "시간대"),
        inspected
            .iter()
            .map(|o| {
                extra(o)
                    .zone
                    .map(|(z, _)| esc(&z))
                    .unwrap_or_else(|| l.t("unknown", "알 수 없음").to_string())
            })
            .collect(),
    );
    row(
        out,
        l.t("Collected", "수집 시각"),
        inspected
            .iter()
            .map(|o| {
                o.index()
                    .map(|i| {
                        format!(
                            "{} → {}{}",
                            esc(i.started_at.as_deref().unwrap_or("?")),
                            esc(i.finished_at.as_deref().unwrap_or("?")),
                            if i.partial {
                                l.t(" (partial)", " (일부만 수집)")
                            } else {
                                ""
                            }
                        )
                    })
                    .unwrap_or_else(dash)
            })
            .collect(),
    );
    row(
        out,
        l.t("Collector", "수집 도구"),
        inspected
            .iter()
            .map(|o| {
                o.index()
                    .map(|i| {
                        or_dash(
                            format!("{} {} · {}", i.tool.name, i.tool.version, i.manifest.name)
                                .trim(),
                        )
                    })
                    .unwrap_or_else(dash)
            })
            .collect(),
    );
    out.push_str("</tbody></table>\n<p class=\"muted\">");
    out.push_str(l.t(
        "Rows that differ between the nodes are highlighted; ★ marks the section of a resource that names this host.",
        "노드 간에 다른 행은 강조 표시됩니다; ★는 이 호스트를 가리키는 리소스 섹션입니다.",
    ));
    out.push_str("</p></section>\n");
}

fn items(out: &mut String, l: &Labels, inspected: &[Inspected]) {
    let _ = writeln!(
        out,
        "<section id=\"items\"><h2>{}</h2>",
        l.t(
            "Items that failed, timed out or were truncated",
            "실패·시간 초과·잘린 수집 항목"
        )
    );
    for one in inspected {
        let _ = write!(out, "<h3>{}</h3>", esc(&one.node));
        let Some(index) = one.index() else {
            let _ = write!(
                out,
                "<p>{}</p>",
                l.t(
                    "No readable index.json: item statuses unknown.",
                    "index.json을 읽을 수 없어 항목 상태를 알 수 없습니다."
                )
            );
            continue;
        };
        let gaps: Vec<_> = index
            .items
            .iter()
            .filter(|i| i.status.is_gap() || i.status == Status::Truncated)
            .collect();
        if gaps.is_empty() {
            let _ = write!(
                out,
                "<p>{} ({} {})</p>",
                l.t("None.", "없음."),
                index.items.len(),
                l.t("items", "개 항목")
            );
            continue;
        }
        let _ = write!(
            out,
            "<table class=\"items\"><thead><tr><th>{}</th><th>id</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            l.t("status", "상태"),
            l.t("source", "대상"),
            l.t("why", "이유")
        );
        for item in gaps {
            let _ = write!(
                out,
                "<tr><td><span class=\"badge st-{s}\">{s}</span></td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
                esc(&item.id),
                esc(&item.source),
                esc(item.error.as_deref().unwrap_or("")),
                s = item.status.as_str(),
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_stays_text() {
        let hostile = "<script>alert('x')</script> & \"q\" http://evil.example/a\u{0}";
        let e = esc(hostile);
        assert!(!e.contains('<') && !e.contains('>'));
        assert!(!e.contains("://"));
        assert!(!e.contains('\u{0}'));
        assert_eq!(
            e,
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot; http:&#47;&#47;evil.example/a\u{fffd}"
        );
        let island = json_island(&serde_json::json!({"x": "</script><b>https://cdn.example"}));
        assert!(!island.contains("</script") && !island.contains('<'));
        assert!(!island.contains("https://"));
        // Still the same JSON once parsed.
        let back: serde_json::Value = serde_json::from_str(&island).unwrap();
        assert_eq!(back["x"], "</script><b>https://cdn.example");
    }

    #[test]
    fn the_static_assets_refer_to_nothing_outside() {
        for asset in [CSS, JS] {
            assert!(!asset.contains("http:") && !asset.contains("https:"));
            assert!(!asset.contains("@import") && !asset.contains("url("));
            assert!(!asset.contains("</script"));
        }
    }
}
