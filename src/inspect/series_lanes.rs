//! The report's lanes of a `watch` / `record` series (docs/watch.md): per node, one lane per
//! replication object and field, socket and DRX log, each a row of the states it went through
//! over time; the gaps, the trigger and the window before and after it. The nodes share one
//! time axis (their series' wall-clock starts). Drawn on the server, bounded: a hostile series
//! of two million records still makes a page of a few hundred kilobytes.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use maud::{html, Markup};

use super::Inspected;
use crate::lang::Lang;
use crate::series::{span_text, Record, Series};

/// Lanes a node gets; further lanes are counted.
const LANE_CAP: usize = 40;
/// Segments a lane gets; a lane that changed more often is drawn as this many equal stretches,
/// each showing its last state and how many changes it holds.
const SEGMENT_CAP: usize = 300;
/// Gap marks and kernel-line ticks a node gets.
const MARK_CAP: usize = 300;

/// One state a lane held, from `from` to `to` (ms on the node's series), `changes` of them when
/// thinned.
struct Segment {
    from: u64,
    to: u64,
    state: String,
    changes: usize,
}

struct Lane {
    label: String,
    segments: Vec<Segment>,
}

/// What one node's series draws.
struct NodeLanes<'a> {
    node: &'a str,
    /// The series' start on the wall clock (its `start` record), when readable.
    start: Option<DateTime<Utc>>,
    end_ms: u64,
    lanes: Vec<Lane>,
    lanes_left_out: usize,
    /// (from, to) of each gap, ms.
    gaps: Vec<(u64, u64, String)>,
    kernel: Vec<u64>,
    marks_left_out: usize,
    trigger: Option<(u64, String)>,
}

/// How a state reads: `ok` (green), `warn` (amber), `bad` (red) or plain. `yes`/`no` depend
/// on the lane: not suspended is good, no quorum is not.
fn tone(label: &str, state: &str) -> &'static str {
    if label.ends_with(" suspended") {
        return if state == "no" { "ok" } else { "bad" };
    }
    match state {
        "Connected" | "ESTABLISHED" | "UpToDate" | "Established" | "yes" | "bridged"
        | "connected" | "Primary" | "Secondary" => "ok",
        "Connecting" | "Unconnected" | "WFConnection" | "SYN_SENT" | "SYN_RECV" | "bridging"
        | "connecting" | "waiting" | "SyncSource" | "SyncTarget" | "Inconsistent" | "Outdated"
        | "Negotiating" | "Attaching" | "TIME_WAIT" | "CLOSE_WAIT" | "FIN_WAIT1" | "FIN_WAIT2"
        | "LAST_ACK" | "CLOSING" => "warn",
        "StandAlone" | "NetworkFailure" | "BrokenPipe" | "Timeout" | "ProtocolError"
        | "TearDown" | "Disconnecting" | "Diskless" | "Failed" | "DUnknown" | "gone"
        | "destroyed" | "disconnected" | "no" => "bad",
        _ => "plain",
    }
}

fn parse_t(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The lane a record belongs to, and the state it sets there.
fn lane_of(record: &Record) -> Option<(String, &str)> {
    match record {
        Record::Repl {
            object,
            field,
            value,
            ..
        } => {
            let label = record.replication_object(" · ").unwrap_or_default();
            // `connection connection` says it twice: the field alone when it names the object.
            let what = if field == object || field == "destroy" {
                object.clone()
            } else {
                format!("{object} {field}")
            };
            Some((format!("{label} · {what}"), value.as_str()))
        }
        Record::Socket {
            local,
            remote,
            state,
            ..
        } => Some((format!("tcp {local} → {remote}"), state.as_str())),
        Record::Drx {
            resource, state, ..
        } => Some((format!("DRX {resource}"), state.as_str())),
        _ => None,
    }
}

fn node_lanes<'a>(node: &'a str, series: &Series) -> NodeLanes<'a> {
    let end_ms = series.records.iter().map(Record::ms).max().unwrap_or(0);
    let mut out = NodeLanes {
        node,
        start: None,
        end_ms,
        lanes: Vec::new(),
        lanes_left_out: 0,
        gaps: Vec::new(),
        kernel: Vec::new(),
        marks_left_out: 0,
        trigger: None,
    };
    // Lane label → (changes as (ms, state)); the labels in first-seen order.
    let mut order: Vec<String> = Vec::new();
    let mut changes: BTreeMap<String, Vec<(u64, &str)>> = BTreeMap::new();
    let mut left_out = std::collections::HashSet::new();
    for record in &series.records {
        match record {
            Record::Start { t, .. } if out.start.is_none() => out.start = parse_t(t),
            Record::Gap {
                ms,
                for_ms,
                sampler,
                ..
            } => {
                if out.gaps.len() < MARK_CAP {
                    out.gaps
                        .push((*ms, ms.saturating_add(*for_ms).min(end_ms), sampler.clone()));
                } else {
                    out.marks_left_out += 1;
                }
            }
            Record::Kernel { ms, .. } => {
                // Ticks closer than one pixel of a 1000-pixel lane are one tick.
                let grain = (end_ms / 1000).max(1);
                if out.kernel.last().is_some_and(|l| ms / grain == l / grain) {
                } else if out.kernel.len() < MARK_CAP {
                    out.kernel.push(*ms);
                } else {
                    out.marks_left_out += 1;
                }
            }
            Record::Trigger { ms, reason, .. } if out.trigger.is_none() => {
                out.trigger = Some((*ms, reason.clone()));
            }
            _ => {}
        }
        let Some((label, state)) = lane_of(record) else {
            continue;
        };
        if let Some(list) = changes.get_mut(&label) {
            list.push((record.ms(), state));
        } else if order.len() < LANE_CAP {
            order.push(label.clone());
            changes.insert(label, vec![(record.ms(), state)]);
        } else if left_out.len() < 100_000 && left_out.insert(label) {
            out.lanes_left_out += 1;
        }
    }
    for label in order {
        let list = changes.remove(&label).unwrap_or_default();
        out.lanes.push(Lane {
            label,
            segments: segments(&list, end_ms),
        });
    }
    out
}

/// The stretches of one lane: each change lasts until the next (the last until the end); more
/// than [`SEGMENT_CAP`] are folded into that many equal stretches.
fn segments(list: &[(u64, &str)], end_ms: u64) -> Vec<Segment> {
    let mut all: Vec<Segment> = list
        .iter()
        .enumerate()
        .map(|(i, (ms, state))| Segment {
            from: *ms,
            to: list.get(i + 1).map_or(end_ms, |n| n.0),
            state: state.to_string(),
            changes: 1,
        })
        .collect();
    if all.len() <= SEGMENT_CAP {
        return all;
    }
    let span = all.last().map_or(1, |s| s.to).max(1);
    let first = all[0].from;
    let width = (span - first) / SEGMENT_CAP as u64 + 1;
    let mut folded: Vec<Segment> = Vec::with_capacity(SEGMENT_CAP);
    for segment in all.drain(..) {
        let bucket = (segment.from - first) / width;
        match folded.last_mut() {
            Some(last) if (last.from - first) / width == bucket => {
                last.to = segment.to;
                last.state = segment.state;
                last.changes += 1;
            }
            _ => folded.push(segment),
        }
    }
    folded
}

/// The series section of the report: empty when no bundle has a series.
pub fn section(l: Lang, inspected: &[Inspected]) -> Markup {
    let nodes: Vec<NodeLanes> = inspected
        .iter()
        .filter_map(|one| {
            one.evidence
                .series
                .as_ref()
                .map(|(_, s)| node_lanes(&one.node, s))
        })
        .collect();
    if nodes.is_empty() {
        return html! {};
    }
    // One axis: each node's series placed by its wall-clock start (a node whose start cannot
    // be read starts at the axis' start).
    let from = nodes.iter().filter_map(|n| n.start).min();
    let offset = |n: &NodeLanes| -> u64 {
        match (from, n.start) {
            (Some(from), Some(start)) => (start - from).num_milliseconds().max(0) as u64,
            _ => 0,
        }
    };
    let total = nodes
        .iter()
        .map(|n| offset(n) + n.end_ms)
        .max()
        .unwrap_or(0)
        .max(1);
    let pct = |ms: u64| format!("{:.3}%", ms.min(total) as f64 * 100.0 / total as f64);
    let place = |a: u64, b: u64| {
        format!(
            "left:{};width:{}",
            pct(a),
            pct(b.saturating_sub(a).max(total / 1000))
        )
    };
    html! {
        section id="series" {
            h2 { (l.ui("html.series")) }
            p.legend {
                (l.ui("html.series_axis")) " "
                @match from {
                    Some(from) => { (from.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)) },
                    None => "?",
                }
                " + " (span_text(total)) " · "
                span.st.t-ok {} " " (l.ui("html.series_ok")) " "
                span.st.t-warn {} " " (l.ui("html.series_warn")) " "
                span.st.t-bad {} " " (l.ui("html.series_bad")) " "
                span.gapkey {} " " (l.ui("html.series_gap")) " "
                span.trigkey {} " " (l.ui("html.series_trigger"))
            }
            @for n in &nodes {
                @let off = offset(n);
                div.series-node {
                    h3 { (n.node) " " span.sub { (span_text(n.end_ms)) } }
                    @if let Some((at, reason)) = &n.trigger {
                        p.window {
                            (l.ui("html.series_trigger")) " +" (span_text(*at)) ": " (reason) " · "
                            (l.ui("html.series_before")) " " (span_text(*at)) " · "
                            (l.ui("html.series_after")) " " (span_text(n.end_ms.saturating_sub(*at)))
                        }
                    }
                    div.series-lanes {
                        @if let Some((at, _)) = &n.trigger {
                            div.win.before style=(place(off, off + at)) title=(l.ui("html.series_before")) {}
                            div.win.after style=(place(off + at, off + n.end_ms)) title=(l.ui("html.series_after")) {}
                        }
                        @for lane in &n.lanes {
                            div.slane {
                                span.slabel title=(lane.label) { (lane.label) }
                                div.strack {
                                    @for s in &lane.segments {
                                        @let title = if s.changes > 1 {
                                            format!("{} … {} ({} {})", span_text(s.from), s.state, s.changes, l.ui("html.series_changes"))
                                        } else {
                                            format!("+{} {} ({})", span_text(s.from), s.state, span_text(s.to.saturating_sub(s.from)))
                                        };
                                        div class=(format!("seg t-{}{}", tone(&lane.label, &s.state), if s.changes > 1 { " many" } else { "" }))
                                            style=(place(off + s.from, off + s.to)) title=(title) data-state=(s.state) {
                                            (s.state)
                                        }
                                    }
                                }
                            }
                        }
                        @if !n.kernel.is_empty() {
                            div.slane {
                                span.slabel { (l.ui("html.series_kernel")) }
                                div.strack {
                                    @for ms in &n.kernel {
                                        div.tick style=(format!("left:{}", pct(off + ms))) title=(format!("+{}", span_text(*ms))) {}
                                    }
                                }
                            }
                        }
                        @if !n.gaps.is_empty() {
                            div.slane {
                                span.slabel { (l.ui("html.series_gap")) }
                                div.strack {
                                    @for (a, b, sampler) in &n.gaps {
                                        div.gap style=(place(off + a, off + b)) title=(format!("+{} {sampler} {}", span_text(*a), span_text(b.saturating_sub(*a)))) {}
                                    }
                                }
                            }
                        }
                        @if let Some((at, reason)) = &n.trigger {
                            div.trig style=(format!("left:{}", pct(off + at))) title=(reason) {}
                        }
                    }
                    @if n.lanes.is_empty() {
                        p.notes { (l.ui("html.series_no_states")) }
                    }
                    @if n.lanes_left_out > 0 || n.marks_left_out > 0 {
                        p.notes { (n.lanes_left_out + n.marks_left_out) " " (l.ui("html.series_left_out")) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(ms: u64, value: &str) -> Record {
        Record::Repl {
            t: String::new(),
            ms,
            resource: "r0".into(),
            peer: Some("b".into()),
            volume: None,
            object: "connection".into(),
            field: "connection".into(),
            value: value.into(),
        }
    }

    #[test]
    fn a_lane_holds_each_state_until_the_next() {
        let series = Series {
            records: vec![
                conn(0, "Connected"),
                conn(4000, "StandAlone"),
                conn(5000, "Connected"),
            ],
            ..Series::default()
        };
        let n = node_lanes("a", &series);
        assert_eq!(n.lanes.len(), 1);
        let spans: Vec<(u64, u64, &str)> = n.lanes[0]
            .segments
            .iter()
            .map(|s| (s.from, s.to, s.state.as_str()))
            .collect();
        assert_eq!(
            spans,
            [
                (0, 4000, "Connected"),
                (4000, 5000, "StandAlone"),
                (5000, 5000, "Connected")
            ]
        );
    }

    /// Bounded work and output: many lanes and many changes are capped, and counted.
    #[test]
    fn a_hostile_series_draws_a_bounded_section() {
        let mut records: Vec<Record> = (0..100_000)
            .map(|i| {
                conn(
                    i,
                    if i % 2 == 0 {
                        "Connected"
                    } else {
                        "Connecting"
                    },
                )
            })
            .collect();
        records.extend((0..500).map(|i| Record::Socket {
            t: String::new(),
            ms: 100_000 + i,
            local: format!("10.0.0.1:{i}"),
            remote: "10.0.0.2:7789".into(),
            state: "SYN_SENT".into(),
        }));
        let series = Series {
            records,
            ..Series::default()
        };
        let n = node_lanes("a", &series);
        assert_eq!(n.lanes.len(), LANE_CAP);
        assert_eq!(n.lanes_left_out, 500 + 1 - LANE_CAP);
        assert!(n.lanes[0].segments.len() <= SEGMENT_CAP + 1);
        let changes: usize = n.lanes[0].segments.iter().map(|s| s.changes).sum();
        assert_eq!(changes, 100_000, "every change is counted in a stretch");
    }
}
