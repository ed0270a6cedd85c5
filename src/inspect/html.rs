//! `inspect --html`: one self-contained case report (SPEC §7). The page is a `maud` template:
//! every value interpolated into it is HTML-escaped by the template itself, so no bundle text can
//! become markup; the only unescaped pieces are our own CSS and script and the JSON island, which
//! `json_island` escapes for its element. The timeline is drawn by the inline script from that
//! island. Nothing refers outside the file: no URLs at all, so it opens offline from an e-mail
//! attachment or a share; `defang` breaks up any `://` a bundle text brought (it would read as an
//! external reference) and replaces control characters. The words are in manifests/ui.toml.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::timeline::{self, Event, Gathered, Kind, Lane, Level};
use super::Inspected;
use crate::error::{Error, Result};
use crate::index::{Finding, Severity, Status};
use crate::lang::Lang;

const CSS: &str = include_str!("html/report.css");
const JS: &str = include_str!("html/report.js");

/// Buckets a lane's time span is cut into for thinning.
const BUCKETS: usize = 400;

pub fn write(path: &Path, inspected: &[Inspected], findings: &[Finding], lang: Lang) -> Result<()> {
    let page = render(inspected, findings, lang, Utc::now());
    // The report quotes the customer's bundles: readable by its owner only, like them (0600),
    // also when it replaces an older report that was not.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    crate::platform::private_file(&mut options);
    let written = options.open(path).and_then(|mut file| {
        crate::platform::make_private(&file)?;
        std::io::Write::write_all(&mut file, page.as_bytes())
    });
    written.map_err(|err| {
        Error::failed(format!(
            "cannot write the HTML report {}: {}; choose a writable path",
            path.display(),
            crate::error::describe_io(&err)
        ))
    })
}

/// The last pass over the rendered page, whose text is already HTML-escaped: `://` is broken up
/// with an entity (it renders the same, in text and in attribute values) so no bundle text reads
/// as a URL, and control characters other than tab and newline become U+FFFD. Our own CSS,
/// script and JSON island hold neither (tested), so they pass unchanged.
fn defang(page: String) -> String {
    if !page.contains("://")
        && !page
            .chars()
            .any(|c| c.is_control() && c != '\t' && c != '\n')
    {
        return page;
    }
    let mut out = String::with_capacity(page.len() + 64);
    let mut rest = page.as_str();
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("://") {
            out.push_str(":&#47;&#47;");
            rest = &rest[3..];
            continue;
        }
        match c {
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

fn severity_label(l: Lang, s: Severity) -> &'static str {
    match s {
        Severity::Error => l.ui("html.sev_error"),
        Severity::Warning => l.ui("html.sev_warning"),
        Severity::Info => l.ui("html.sev_info"),
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

/// Events and event text of all lanes together: a pair's lanes get the full per-lane caps, a
/// larger cluster shares this (the page stays a few megabytes, however many nodes).
const PAGE_EVENTS: usize = 2 * timeline::EVENT_CAP;
const PAGE_EVENT_BYTES: usize = 2 * timeline::EVENT_BYTES;

/// One lane's share of the page: (events, bytes).
fn lane_caps(nodes: usize) -> (usize, usize) {
    let nodes = nodes.max(1);
    (
        timeline::EVENT_CAP.min(PAGE_EVENTS / nodes),
        timeline::EVENT_BYTES.min(PAGE_EVENT_BYTES / nodes),
    )
}

fn lanes(inspected: &[Inspected], findings: &[Finding]) -> Vec<Lane> {
    let (event_cap, event_bytes) = lane_caps(inspected.len());
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
            let (counted, events) = match &one.gathered {
                Some(g) => (g.counted.as_slice(), g.events.as_slice()),
                None => (&[][..], &[][..]),
            };
            all.extend(events.iter().cloned());
            timeline::thin(&all, counted, &pinned, event_cap, event_bytes, BUCKETS)
        })
        .collect()
}

pub fn render(
    inspected: &[Inspected],
    findings: &[Finding],
    lang: Lang,
    now: DateTime<Utc>,
) -> String {
    let l = lang;
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
    let mut thinned_json = Vec::new();
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
        for bar in &lane.thinned {
            thinned_json.push(serde_json::json!([
                n,
                bar.from.timestamp_millis(),
                bar.to.timestamp_millis(),
                bar.count,
                bar.worst.as_str(),
            ]));
        }
    }
    let data = serde_json::json!({
        "nodes": inspected.iter().map(|one| serde_json::json!({"name": one.node})).collect::<Vec<_>>(),
        "paths": paths,
        "events": events_json,
        "thinned": thinned_json,
        "findings": findings
            .iter()
            .map(|f| serde_json::json!({"rule": f.rule, "sev": f.severity.as_str(), "title": f.title}))
            .collect::<Vec<_>>(),
        "labels": {
            "node": l.ui("html.js_node"),
            "time": l.ui("html.js_time"),
            "source": l.ui("html.js_source"),
            "line": l.ui("html.js_line"),
            "finding": l.ui("html.js_finding"),
            "guessed": l.ui("html.js_guessed"),
            "none": l.ui("html.js_none"),
            "shown": l.ui("html.js_shown"),
            "more": l.ui("html.js_more"),
            "thinned": l.ui("html.js_thinned"),
            "bar": l.ui("html.js_bar"),
            "sev": {
                "error": l.ui("html.sev_error"),
                "warning": l.ui("html.sev_warning"),
                "info": l.ui("html.sev_info"),
            },
            "kind": {
                "repl": l.ui("html.kind_repl"),
                "drx": l.ui("html.kind_drx"),
                "log": l.ui("html.kind_log"),
                "collect": l.ui("html.kind_collect"),
            },
        },
    });

    let title = l.ui("html.title");
    let names: Vec<&str> = inspected.iter().map(|one| one.node.as_str()).collect();
    let page = html! {
        (DOCTYPE)
        html lang=(if l == Lang::Ko { "ko" } else { "en" }) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="Content-Security-Policy"
                    content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";
                title { (title) " — " (names.join(" / ")) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { (title) }
                    p.sub {
                        (names.join(" · ")) " · " (l.ui("html.report_made")) " " (time_text(&now))
                        " · drx-collect " (env!("CARGO_PKG_VERSION"))
                    }
                    nav {
                        a href="#verdict" { (l.ui("html.verdict")) } " "
                        a href="#findings" { (l.ui("html.findings")) } " "
                        a href="#generations" { (l.ui("html.gi")) } " "
                        a href="#timeline" { (l.ui("html.timeline")) } " "
                        @if inspected.iter().any(|one| one.evidence.series.is_some()) {
                            a href="#series" { (l.ui("html.series")) } " "
                        }
                        a href="#hosts" { (l.ui("html.hosts")) } " "
                        a href="#items" { (l.ui("html.gaps")) }
                    }
                }
                main {
                    (verdict(l, inspected, findings))
                    (generations(l, inspected, findings))
                    (findings_section(l, inspected, findings, &event_of_finding))
                    (timeline_section(l, inspected, &lanes))
                    (super::series_lanes::section(l, inspected))
                    (hosts(l, inspected))
                    (items(l, inspected))
                }
                footer { (l.ui("html.footer")) }
                script type="application/json" id="report-data" { (PreEscaped(json_island(&data))) }
                script { (PreEscaped(JS)) }
            }
        }
    };
    defang(page.into_string())
}

/// Issue 26: each node's generation identifiers side by side (current, bitmap, history per
/// resource, volume and peer), the pair's GI verdicts first. Empty when no bundle has get-gi.
fn generations(l: Lang, inspected: &[Inspected], findings: &[Finding]) -> Markup {
    let verdicts: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule.starts_with("REPL-GI-"))
        .collect();
    let any = inspected.iter().any(|o| !o.evidence.gi.records.is_empty());
    let uuid = |u: u64| format!("{u:016X}");
    html! {
        section id="generations" {
            h2 { (l.ui("html.gi")) }
            @if !any {
                p { (l.ui("html.gi_none")) }
            } @else {
                p.sub { (l.ui("html.gi_intro")) }
                @for f in &verdicts {
                    div class={ "headline sev-" (f.severity.as_str()) } {
                        b { (f.rule) } " " (f.title)
                        @if let Some(detail) = &f.detail { p { (detail) } }
                    }
                }
                (gi_now(l, inspected))
                table {
                    tr {
                        th { (l.ui("html.js_node")) }
                        th { (l.ui("html.gi_resource")) }
                        th { (l.ui("html.gi_volume")) }
                        th { (l.ui("html.gi_peer")) }
                        th { (l.ui("html.gi_current")) }
                        th { (l.ui("html.gi_bitmap")) }
                        th { (l.ui("html.gi_history")) }
                    }
                    @for one in inspected {
                        @for (_, _, r) in one.evidence.gi.records.iter().take(256) {
                            tr {
                                td { (one.node) }
                                td { (r.resource.clone().or(r.minor.map(|m| format!("minor {m}"))).unwrap_or_default()) }
                                td { (r.volume.map(|v| v.to_string()).unwrap_or_default()) }
                                td { (r.peer_node_id.map(|v| v.to_string()).unwrap_or_default()) }
                                td { code { (uuid(r.gi.current)) } }
                                td { code { (uuid(r.gi.bitmap)) } }
                                td { code { (r.gi.history.iter().map(|h| uuid(*h)).collect::<Vec<_>>().join(" ")) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Beside the GI verdict: which node is Primary and connected now, by each node's
/// `events2 --now` snapshot (the GIs say who has the good data, this says who serves now).
fn gi_now(l: Lang, inspected: &[Inspected]) -> Markup {
    html! {
        p.now { b { (l.ui("html.gi_now")) } }
        ul.now {
            @for one in inspected {
                @match &one.evidence.gi.now {
                    Some((path, resources)) => {
                        @for r in resources.iter().take(64) {
                            li {
                                b { (one.node) } ": " code { (r.resource) } " "
                                (l.ui("html.gi_role")) " " b { (r.role.as_deref().unwrap_or("?")) }
                                @for (peer, state, role) in &r.connections {
                                    " · " (l.ui("html.gi_connection_to")) " " (peer) ": " b { (state) }
                                    @if let Some(role) = role {
                                        " (" (l.ui("html.gi_peer_role")) " " (role) ")"
                                    }
                                }
                                " " span.sub { "(" (path) ")" }
                            }
                        }
                    }
                    None => li { b { (one.node) } ": " (l.ui("html.gi_now_none")) }
                }
            }
        }
    }
}

fn sev_counts(findings: &[Finding]) -> [usize; 3] {
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    [
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info),
    ]
}

fn verdict(l: Lang, inspected: &[Inspected], findings: &[Finding]) -> Markup {
    let [errors, warnings, infos] = sev_counts(findings);
    let worst = findings.iter().map(|f| f.severity).min();
    let intact = inspected.iter().all(|one| one.verification.ok());
    let (class, headline) = match (intact, worst) {
        (false, _) => ("error", l.ui("html.integrity_failed")),
        (true, Some(Severity::Error)) => ("error", l.ui("html.errors_found")),
        (true, Some(Severity::Warning)) => ("warning", l.ui("html.warnings_found")),
        _ => ("ok", l.ui("html.no_problem")),
    };
    html! {
        section id="verdict" {
            h2 { (l.ui("html.verdict")) }
            div class={ "headline sev-" (class) } {
                (headline)
                span.counts {
                    b.n-error { (errors) } " " (l.ui("html.n_errors")) " · "
                    b.n-warning { (warnings) } " " (l.ui("html.n_warnings")) " · "
                    b.n-info { (infos) } " " (l.ui("html.n_infos"))
                }
            }
            div.cards {
                @for one in inspected {
                    (card(l, one, findings))
                }
            }
        }
    }
}

fn card(l: Lang, one: &Inspected, findings: &[Finding]) -> Markup {
    let v = &one.verification;
    let own = findings
        .iter()
        .filter(|f| f.node.as_deref().is_none_or(|n| n == one.node))
        .map(|f| f.severity)
        .min();
    let file = one
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    html! {
        div.card {
            h3 { (one.node) }
            p.file { (file) }
            @if v.ok() {
                p.integrity.ok {
                    "✔ " (l.ui("html.intact")) " — " (v.files) " " (l.ui("html.files_verified")) ", "
                    (crate::units::human_size(v.bytes))
                }
            } @else {
                p.integrity.bad {
                    "✘ " (l.ui("html.integrity_failure")) " — " (v.problems.len()) " " (l.ui("html.problems"))
                }
                ul.problems {
                    @for p in v.problems.iter().take(50) {
                        li { code { (p.kind.as_str()) } " " (p.path) ": " (p.detail) }
                    }
                    @if v.problems.len() > 50 {
                        li { "… " (v.problems.len() - 50) }
                    }
                }
            }
            p {
                (l.ui("html.worst_finding")) " "
                @match own {
                    Some(s) => span class={ "badge sev-" (s.as_str()) } { (severity_label(l, s)) },
                    None => span.badge.sev-ok { (l.ui("html.none")) },
                }
            }
            @if let Some(index) = one.index() {
                p.muted {
                    (l.ui("html.collected")) " " (index.started_at.as_deref().unwrap_or("?"))
                    @if index.partial { (l.ui("html.partial")) }
                }
            }
        }
    }
}

fn findings_section(
    l: Lang,
    inspected: &[Inspected],
    findings: &[Finding],
    event_of_finding: &BTreeMap<usize, String>,
) -> Markup {
    html! {
        section id="findings" {
            h2 { (l.ui("html.findings")) " " span.muted { "(" (findings.len()) ")" } }
            @if findings.is_empty() {
                p { (l.ui("html.no_problem")) }
            }
            @for (i, f) in findings.iter().enumerate() {
                (finding(l, inspected, i, f, event_of_finding.get(&i)))
            }
        }
    }
}

fn finding(
    l: Lang,
    inspected: &[Inspected],
    i: usize,
    f: &Finding,
    event: Option<&String>,
) -> Markup {
    let sev = f.severity.as_str();
    let around = match (&f.path, f.line, finding_node(f, inspected)) {
        (Some(path), Some(line), Some(n)) => inspected[n]
            .gathered
            .as_ref()
            .map(|g| g.around(path, line))
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    html! {
        article class={ "finding sev-" (sev) } id={ "f" (i) } data-rule=(f.rule) {
            h3 {
                span class={ "badge sev-" (sev) } { (severity_label(l, f.severity)) } " "
                code.rule { (f.rule) } " " (f.title)
                @if let Some(node) = &f.node {
                    " " span.node { "[" (node) "]" }
                }
            }
            @if let Some(path) = &f.path {
                p.where {
                    (l.ui("html.at")) " "
                    code { (path) @if let Some(line) = f.line { ":" (line) } }
                    @if let Some(event) = event {
                        " " button type="button" class="goto" data-event=(event) { (l.ui("html.show_on_timeline")) }
                    }
                }
            }
            @if let Some(excerpt) = &f.excerpt {
                pre.excerpt { (excerpt) }
            }
            @if around.len() > 1 {
                details {
                    summary { (l.ui("html.surrounding_lines")) }
                    pre.context {
                        @for (n, text) in &around {
                            span.hit[Some(*n) == f.line] { i { (format!("{n:>6}")) } " " (text) } "\n"
                        }
                    }
                }
            }
            @if let Some(detail) = &f.detail {
                p.detail { (detail) }
            }
            div.remedy { b { (l.ui("html.remedy")) } pre { (f.remedy) } }
        }
    }
}

fn timeline_section(l: Lang, inspected: &[Inspected], lanes: &[Lane]) -> Markup {
    let default = Gathered::default();
    html! {
        section id="timeline" {
            h2 { (l.ui("html.timeline_utc")) }
            div.controls {
                button type="button" id="zoom-in" { "+ " (l.ui("html.zoom_in")) } " "
                button type="button" id="zoom-out" { "− " (l.ui("html.zoom_out")) } " "
                button type="button" id="zoom-reset" { (l.ui("html.zoom_all")) } " "
                span.sep {} " " span id="filters" {}
            }
            div id="axis" {}
            div id="lanes" {}
            p.legend {
                span.dot.k-repl {} " " (l.ui("html.kind_repl")) " "
                span.dot.k-drx {} " " (l.ui("html.kind_drx")) " "
                span.dot.k-log {} " " (l.ui("html.kind_log")) " "
                span.dot.k-collect {} " " (l.ui("html.kind_collect")) " · "
                span.shape.s-error {} " " (severity_label(l, Severity::Error)) " "
                span.shape.s-warning {} " " (severity_label(l, Severity::Warning)) " "
                span.shape.s-info {} " " (severity_label(l, Severity::Info)) " · "
                span.thin-key {} " " (l.ui("html.thinned_legend")) " · "
                "≈ " (l.ui("html.guessed_legend")) " · " (l.ui("html.how_to"))
            }
            div id="event-detail" class="detail-panel" hidden {}
            div id="event-list" {}
            ul.notes {
                @for (one, lane) in inspected.iter().zip(lanes) {
                    @let g = one.gathered.as_ref().unwrap_or(&default);
                    li data-lane-total=(lane.total) data-lane-shown=(lane.events.len()) data-lane-thinned=(lane.thinned_count()) {
                        b { (one.node) } ": "
                        (lane.total) " " (l.ui("html.events_total")) ": "
                        (lane.events.len()) " " (l.ui("html.events_shown"))
                        @if !lane.thinned.is_empty() {
                            ", " (lane.thinned_count()) " " (l.ui("html.events_thinned"))
                            " (" (lane.thinned.len()) " " (l.ui("html.events_thinned_buckets")) ")"
                        }
                        "; "
                        @match &g.extra.zone {
                            Some((zone, _)) => { (l.ui("html.host_zone")) " " (zone) },
                            None => (l.ui("html.host_zone_unknown")),
                        }
                        @if g.unplaced > 0 {
                            "; " (g.unplaced) " " (l.ui("html.events_unplaced"))
                        }
                        @if g.untimed > 0 {
                            "; " (g.untimed) " " (l.ui("html.untimed"))
                        }
                        @if g.context_dropped > 0 {
                            "; " (g.context_dropped) " " (l.ui("html.context_dropped"))
                        }
                    }
                }
            }
        }
    }
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

/// The firewall cell: one line per firewall seen.
fn firewall(l: Lang, one: &Inspected) -> Markup {
    let e = &one.evidence;
    let mut parts: Vec<String> = Vec::new();
    if let Some(rules) = &e.iptables {
        if rules.is_active() {
            let policy = rules
                .policies
                .get("INPUT")
                .map(|(p, _)| p.as_str())
                .unwrap_or("?");
            let count = rules.chains.get("INPUT").map(Vec::len).unwrap_or(0);
            parts.push(format!(
                "iptables {} (INPUT policy {policy}, {count} {})",
                l.ui("html.fw_active"),
                l.ui("html.fw_rules")
            ));
        } else {
            parts.push(format!("iptables {}", l.ui("html.fw_not_filtering")));
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
                        format!("{} [{}]", z.name, ports.join(" "))
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        parts.push(format!("firewalld {} {zones}", l.ui("html.fw_running")));
    }
    if let Some(win) = &e.windows_firewall {
        let rules = win.rules.as_ref().map(|(_, r)| r.len()).unwrap_or(0);
        parts.push(format!(
            "Windows Firewall {} ({rules} {})",
            l.ui("html.fw_on"),
            l.ui("html.fw_rules")
        ));
    }
    html! {
        @if parts.is_empty() {
            (l.ui("html.fw_none"))
        }
        @for (i, part) in parts.iter().enumerate() {
            @if i > 0 { br; }
            (part)
        }
    }
}

/// One row of the hosts table; highlighted when the nodes differ.
fn row(label: &str, cells: Vec<Markup>) -> Markup {
    let differ = cells.len() > 1 && cells.iter().any(|c| c.0 != cells[0].0);
    html! {
        tr.differs[differ] {
            th { (label) }
            @for c in cells { td { (c) } }
        }
    }
}

/// The text, or a dash when it is blank.
fn or_dash(text: &str) -> Markup {
    html! {
        @if text.trim().is_empty() { "—" } @else { (text) }
    }
}

fn hosts(l: Lang, inspected: &[Inspected]) -> Markup {
    let host = |one: &Inspected| {
        one.index()
            .map(|i| i.host.clone())
            .unwrap_or_else(|| one.evidence.host.clone())
    };
    let extra = |o: &Inspected| {
        o.gathered
            .as_ref()
            .map(|g| g.extra.clone())
            .unwrap_or_default()
    };
    let cells = |f: &dyn Fn(&Inspected) -> Markup| inspected.iter().map(f).collect::<Vec<_>>();
    html! {
        section id="hosts" {
            h2 { (l.ui("html.hosts_side_by_side")) }
            table.hosts {
                thead { tr { th {} @for one in inspected { th { (one.node) } } } }
                tbody {
                    (row(l.ui("html.host_name"), cells(&|o| or_dash(&host(o).hostname))))
                    (row("OS", cells(&|o| {
                        let h = host(o);
                        or_dash(format!("{} {}", h.os, h.os_release).trim())
                    })))
                    (row(l.ui("html.kernel"), cells(&|o| or_dash(&host(o).kernel))))
                    (row("BSR", cells(&|o| {
                        let x = extra(o);
                        html! {
                            @match (&x.bsr_version, &x.bsr_kernel) {
                                (None, None) => "—",
                                (v, k) => {
                                    (v.as_deref().unwrap_or("?"))
                                    @if let Some(k) = k { " (" (l.ui("html.driver")) " " (k) ")" }
                                }
                            }
                        }
                    })))
                    (row(l.ui("html.drbd_versions"), cells(&|o| {
                        let e = &o.evidence;
                        html! {
                            @match (&e.drbd_kernel, &e.drbd_utils) {
                                (None, None) => "—",
                                (k, u) => {
                                    (k.as_ref().map(|v| v.value.as_str()).unwrap_or("—"))
                                    " / "
                                    (u.as_ref().map(|v| v.value.as_str()).unwrap_or("—"))
                                }
                            }
                        }
                    })))
                    (row("DRX", cells(&|o| or_dash(o.evidence.drx_version().unwrap_or("")))))
                    (row(l.ui("html.resources"), cells(&resources)))
                    (row(l.ui("html.firewall"), cells(&|o| firewall(l, o))))
                    (row(l.ui("html.time_zone"), cells(&|o| html! {
                        @match extra(o).zone {
                            Some((z, _)) => (z),
                            None => (l.ui("html.unknown")),
                        }
                    })))
                    (row(l.ui("html.collected_at"), cells(&|o| html! {
                        @match o.index() {
                            Some(i) => {
                                (i.started_at.as_deref().unwrap_or("?")) " → "
                                (i.finished_at.as_deref().unwrap_or("?"))
                                @if i.partial { (l.ui("html.partial")) }
                            },
                            None => "—",
                        }
                    })))
                    (row(l.ui("html.collector"), cells(&|o| match o.index() {
                        Some(i) => or_dash(
                            format!("{} {} · {}", i.tool.name, i.tool.version, i.manifest.name).trim(),
                        ),
                        None => or_dash(""),
                    })))
                }
            }
            p.muted { (l.ui("html.hosts_note")) }
        }
    }
}

/// The resources a node's configuration defines, each host section with its endpoint; the one
/// naming this host is marked.
fn resources(o: &Inspected) -> Markup {
    let e = &o.evidence;
    html! {
        @if e.resources.is_empty() {
            "—"
        } @else {
            ul.res {
                @for r in &e.resources {
                    @let this = e.this_host(r).map(|h| h.place.line);
                    li {
                        b { (r.resource.name) }
                        ul {
                            @for h in &r.resource.hosts {
                                li.me[this.is_some() && this == Some(h.place.line)] {
                                    (if h.floating { "floating" } else { "on" }) " "
                                    (h.names.join(" ")) ": " (endpoint(h))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn items(l: Lang, inspected: &[Inspected]) -> Markup {
    html! {
        section id="items" {
            h2 { (l.ui("html.items_heading")) }
            @for one in inspected {
                h3 { (one.node) }
                @match one.index() {
                    None => p { (l.ui("html.no_index")) },
                    Some(index) => {
                        @let gaps: Vec<_> = index
                            .items
                            .iter()
                            .filter(|i| i.status.is_gap() || i.status == Status::Truncated)
                            .collect();
                        @if gaps.is_empty() {
                            p { (l.ui("html.none_sentence")) " (" (index.items.len()) " " (l.ui("html.items")) ")" }
                        } @else {
                            table.items {
                                thead { tr {
                                    th { (l.ui("html.status")) } th { "id" }
                                    th { (l.ui("html.source")) } th { (l.ui("html.why")) }
                                } }
                                tbody {
                                    @for item in gaps {
                                        tr {
                                            td { span class={ "badge st-" (item.status.as_str()) } { (item.status.as_str()) } }
                                            td { code { (item.id) } }
                                            td { code { (item.source) } }
                                            td { (item.error.as_deref().unwrap_or("")) }
                                        }
                                    }
                                }
                            }
                        }
                    },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pair's lanes keep the full per-lane caps; a cluster's share the page's.
    #[test]
    fn lanes_share_a_bounded_page() {
        assert_eq!(lane_caps(2), (timeline::EVENT_CAP, timeline::EVENT_BYTES));
        for nodes in 1..=crate::inspect::CLUSTER_MAX {
            let (events, bytes) = lane_caps(nodes);
            assert!(events * nodes <= PAGE_EVENTS.max(timeline::EVENT_CAP));
            assert!(bytes * nodes <= PAGE_EVENT_BYTES.max(timeline::EVENT_BYTES));
        }
    }

    #[test]
    fn the_last_pass_breaks_urls_and_control_characters_only() {
        let page = "<p title=\"http://evil.example/a\">see https://x.example\u{0}\r\tok\n</p>";
        assert_eq!(
            defang(page.to_string()),
            "<p title=\"http:&#47;&#47;evil.example/a\">see https:&#47;&#47;x.example\u{fffd}\u{fffd}\tok\n</p>"
        );
        assert_eq!(defang("<b>plain</b>".to_string()), "<b>plain</b>");
    }

    #[test]
    fn the_template_escapes_what_it_interpolates() {
        let hostile = "</style><script>alert('x')</script> & \"q0x";
        let markup = html! { p title=(hostile) { (hostile) } };
        let text = markup.into_string();
        assert!(!text.contains("<script") && !text.contains("</style"));
        assert!(
            !text.contains("\"q0x"),
            "an attribute cannot be closed: {text}"
        );
        assert!(text.contains("&lt;script&gt;") && text.contains("&quot;q0x"));
    }

    #[test]
    fn the_json_island_cannot_close_its_element() {
        let island = json_island(&serde_json::json!({"x": "</script><b>https://cdn.example"}));
        assert!(!island.contains("</script") && !island.contains('<'));
        assert!(!island.contains("https://"));
        // Still the same JSON once parsed.
        let back: serde_json::Value = serde_json::from_str(&island).unwrap();
        assert_eq!(back["x"], "</script><b>https://cdn.example");
    }

    #[test]
    fn the_static_assets_refer_to_nothing_outside_and_pass_the_last_pass_unchanged() {
        for asset in [CSS, JS] {
            assert!(!asset.contains("http:") && !asset.contains("https:"));
            assert!(!asset.contains("@import") && !asset.contains("url("));
            assert!(!asset.contains("</script") && !asset.contains("</style"));
            assert_eq!(defang(asset.to_string()), asset);
        }
    }

    #[test]
    fn an_empty_report_renders_in_both_languages() {
        let now = Utc::now();
        for lang in [Lang::En, Lang::Ko] {
            let page = render(&[], &[], lang, now);
            assert!(page.starts_with("<!DOCTYPE html>"));
            assert_eq!(page.matches("<script").count(), 2);
            assert!(page.contains(lang.ui("html.verdict")));
        }
    }
}
