//! The sampled series of `drx-collect watch` / `record` (docs/watch.md): one JSON object a line,
//! in time order, stored in a bundle as `watch/series.jsonl`. The samplers write it, the rules
//! (`WATCH-*`) and the report's lanes read it. One home for the format: the records, their
//! encoding, and a reader that takes untrusted text (a bundle) without trusting it.
//!
//! Every record has `t` (RFC 3339 UTC, milliseconds) and `ms` (milliseconds since the series
//! began: what the rules compute with, so a clock step does not bend the series). Only changes
//! are recorded, never the same state twice; a sampler that could not sample records a `gap`.
use serde::{Deserialize, Serialize};

/// The `schema` of the first record.
pub const SCHEMA: &str = "drx-collect/watch/v1";

/// One line of the series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// The first line: what is sampled and how often.
    Start {
        t: String,
        ms: u64,
        schema: String,
        host: String,
        /// The socket sampler's period.
        interval_ms: u64,
        /// The ports whose sockets are sampled (empty: every TCP socket).
        ports: Vec<u16>,
        /// The samplers that run, and the source each reads (`sockets: /proc/net/tcp`).
        samplers: Vec<String>,
    },
    /// A TCP socket of a watched port appeared, changed state, or went away (`state: "gone"`).
    Socket {
        t: String,
        ms: u64,
        local: String,
        remote: String,
        state: String,
    },
    /// A replication state field changed (from `events2`): `object` is `resource`,
    /// `connection`, `device`, `peer-device` or `path`; `field` the key (`connection`, `role`,
    /// `disk`, `replication`, `established` ...).
    Repl {
        t: String,
        ms: u64,
        resource: String,
        /// The peer (`conn-name`, else `peer-node-id`), for connection-level objects.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        volume: Option<String>,
        object: String,
        field: String,
        value: String,
    },
    /// A kernel log line about the replication (drbd, bsr).
    Kernel { t: String, ms: u64, line: String },
    /// A DRX log line that names a state (`bridging`, `bridged`, ...).
    Drx {
        t: String,
        ms: u64,
        /// The DRX resource, from the log's directory; `main` for the process-wide log.
        resource: String,
        state: String,
        line: String,
    },
    /// A sampler could not sample from `ms` for `for_ms` milliseconds (or lost `lost` lines).
    Gap {
        t: String,
        ms: u64,
        sampler: String,
        for_ms: u64,
        #[serde(default)]
        lost: u64,
        reason: String,
    },
    /// A trigger of `record` fired here (or `--freeze`).
    Trigger { t: String, ms: u64, reason: String },
    /// The last line: why sampling stopped.
    End { t: String, ms: u64, reason: String },
}

impl Record {
    pub fn ms(&self) -> u64 {
        match self {
            Record::Start { ms, .. }
            | Record::Socket { ms, .. }
            | Record::Repl { ms, .. }
            | Record::Kernel { ms, .. }
            | Record::Drx { ms, .. }
            | Record::Gap { ms, .. }
            | Record::Trigger { ms, .. }
            | Record::End { ms, .. } => *ms,
        }
    }

    /// A replication record's object as people name it: `r0`, `r0 peer`, `r0 peer/0`, with
    /// `peer_separator` before the peer. `None` for other records.
    pub fn replication_object(&self, peer_separator: &str) -> Option<String> {
        let Record::Repl {
            resource,
            peer,
            volume,
            ..
        } = self
        else {
            return None;
        };
        let mut label = resource.clone();
        if let Some(peer) = peer {
            label.push_str(peer_separator);
            label.push_str(peer);
        }
        if let Some(volume) = volume {
            label.push('/');
            label.push_str(volume);
        }
        Some(label)
    }

    pub fn t(&self) -> &str {
        match self {
            Record::Start { t, .. }
            | Record::Socket { t, .. }
            | Record::Repl { t, .. }
            | Record::Kernel { t, .. }
            | Record::Drx { t, .. }
            | Record::Gap { t, .. }
            | Record::Trigger { t, .. }
            | Record::End { t, .. } => t,
        }
    }

    /// The record as one line for people (a log, a finding's excerpt): `+12.250s socket 10.0.0.1:40000 → 10.0.0.2:7788 SYN_SENT`.
    pub fn describe(&self) -> Option<String> {
        let at = |ms: &u64| format!("+{:.3}s", *ms as f64 / 1000.0);
        Some(match self {
            Record::Start { .. } => return None,
            Record::Socket {
                ms,
                local,
                remote,
                state,
                ..
            } => format!("{} tcp {local} → {remote} {state}", at(ms)),
            Record::Repl {
                ms,
                object,
                field,
                value,
                ..
            } => {
                let who = self.replication_object(" ").unwrap_or_default();
                format!("{} {object} {who} {field}:{value}", at(ms))
            }
            Record::Kernel { ms, line, .. } => format!("{} kernel {line}", at(ms)),
            Record::Drx {
                ms,
                resource,
                state,
                ..
            } => format!("{} drx {resource} {state}", at(ms)),
            Record::Gap {
                ms,
                sampler,
                for_ms,
                lost,
                reason,
                ..
            } => {
                let mut text = format!("{} gap {sampler} {:.1}s", at(ms), *for_ms as f64 / 1000.0);
                if *lost > 0 {
                    text.push_str(&format!(" lost {lost}"));
                }
                format!("{text}: {reason}")
            }
            Record::Trigger { ms, reason, .. } => format!("{} trigger {reason}", at(ms)),
            Record::End { ms, reason, .. } => format!("{} end {reason}", at(ms)),
        })
    }

    /// One JSON line with its newline.
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_default();
        line.push('\n');
        line
    }
}

/// A series read back, with what could not be read.
#[derive(Debug, Default, Clone)]
pub struct Series {
    pub records: Vec<Record>,
    /// The line of the file each record was read from (1-based), index for index.
    pub lines: Vec<u64>,
    /// Lines that were not records (1-based line numbers, the first few).
    pub bad_lines: Vec<u64>,
    pub bad_count: u64,
}

/// The most bytes a series holds (the writer stops there and records one gap); the readers of a
/// bundle give the rules a series up to this size whole, beyond the other files' budget.
pub const MAX_BYTES: usize = 32 << 20;

/// Longest line the reader takes: a longer one is counted bad, not parsed.
const MAX_LINE: usize = 64 * 1024;
/// Most records the reader keeps: a hostile bundle cannot make the rules' memory grow past this.
pub const MAX_RECORDS: usize = 2_000_000;

/// Reads a series from `text` (a bundle's `watch/series.jsonl`). Bad lines are counted, not
/// fatal; the records are put in `ms` order (a hand-edited or merged file may not be).
pub fn read(text: &str) -> Series {
    let mut series = Series::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if series.records.len() >= MAX_RECORDS {
            series.bad_count += 1;
            continue;
        }
        let parsed = (line.len() <= MAX_LINE)
            .then(|| serde_json::from_str::<Record>(line).ok())
            .flatten();
        match parsed {
            Some(record) => {
                series.records.push(record);
                series.lines.push(n as u64 + 1);
            }
            None => {
                series.bad_count += 1;
                if series.bad_lines.len() < 8 {
                    series.bad_lines.push(n as u64 + 1);
                }
            }
        }
    }
    // Stable: records of one instant keep the file's order.
    let mut order: Vec<usize> = (0..series.records.len()).collect();
    order.sort_by_key(|&i| series.records[i].ms());
    let mut records = Vec::with_capacity(order.len());
    let mut lines = Vec::with_capacity(order.len());
    for i in order {
        records.push(series.records[i].clone());
        lines.push(series.lines[i]);
    }
    series.records = records;
    series.lines = lines;
    series
}

/// What a series holds, for `inspect` (text and `--json`) and the report: its span, its records,
/// its gaps, and for a bundle `record` froze, the trigger and the window around it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Overview {
    /// The wall time the series began (its `start` record), as written.
    pub start: Option<String>,
    /// Milliseconds from the first to the last record.
    pub span_ms: u64,
    pub records: usize,
    /// Records per kind (`socket`, `repl`, ...).
    pub kinds: std::collections::BTreeMap<String, usize>,
    /// The samplers and their sources, from the `start` record.
    pub samplers: Vec<String>,
    pub gaps: usize,
    /// Milliseconds the gaps cover (summed; gaps of different samplers may overlap).
    pub gap_ms: u64,
    /// Lines the samplers lost (counted in gaps).
    pub lost: u64,
    /// Lines of the file that were not records.
    pub unreadable: u64,
    /// The first trigger (`record`), if any.
    pub trigger: Option<TriggerWindow>,
    /// Why sampling stopped (the `end` record); `None` when the series has no end (cut off).
    pub end: Option<String>,
}

/// A trigger and the window around it: what the series holds before it and after it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriggerWindow {
    pub t: String,
    pub ms: u64,
    pub reason: String,
    pub before_ms: u64,
    pub after_ms: u64,
}

impl Series {
    pub fn overview(&self) -> Overview {
        let mut o = Overview {
            records: self.records.len(),
            unreadable: self.bad_count,
            ..Overview::default()
        };
        let first = self.records.first().map_or(0, Record::ms);
        let last = self.records.last().map_or(0, Record::ms);
        o.span_ms = last.saturating_sub(first);
        for record in &self.records {
            let kind = match record {
                Record::Start { t, samplers, .. } => {
                    if o.start.is_none() {
                        o.start = Some(t.clone());
                        o.samplers = samplers.clone();
                    }
                    "start"
                }
                Record::Socket { .. } => "socket",
                Record::Repl { .. } => "repl",
                Record::Kernel { .. } => "kernel",
                Record::Drx { .. } => "drx",
                Record::Gap { for_ms, lost, .. } => {
                    o.gaps += 1;
                    o.gap_ms = o.gap_ms.saturating_add(*for_ms);
                    o.lost = o.lost.saturating_add(*lost);
                    "gap"
                }
                Record::Trigger { t, ms, reason } => {
                    o.trigger.get_or_insert_with(|| TriggerWindow {
                        t: t.clone(),
                        ms: *ms,
                        reason: reason.clone(),
                        before_ms: ms.saturating_sub(first),
                        after_ms: last.saturating_sub(*ms),
                    });
                    "trigger"
                }
                Record::End { reason, .. } => {
                    o.end = Some(reason.clone());
                    "end"
                }
            };
            *o.kinds.entry(kind.to_string()).or_default() += 1;
        }
        o
    }
}

/// Milliseconds as people read a span: `850ms`, `12.3s`, `4m05s`, `2h03m`.
pub fn span_text(ms: u64) -> String {
    let s = ms / 1000;
    match ms {
        0..=999 => format!("{ms}ms"),
        1000..=59_999 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s / 60 % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_as_one_line_each() {
        let records = vec![
            Record::Socket {
                t: "2026-12-07T10:00:00.250Z".into(),
                ms: 250,
                local: "10.0.0.1:40000".into(),
                remote: "10.0.0.2:7788".into(),
                state: "SYN_SENT".into(),
            },
            Record::Gap {
                t: "2026-12-07T10:00:01.000Z".into(),
                ms: 1000,
                sampler: "sockets".into(),
                for_ms: 750,
                lost: 0,
                reason: "late".into(),
            },
        ];
        let text: String = records.iter().map(Record::to_line).collect();
        assert_eq!(text.lines().count(), 2);
        let back = read(&text);
        assert_eq!(back.records, records);
        assert_eq!(back.bad_count, 0);
    }

    #[test]
    fn the_overview_names_span_gaps_and_the_window_around_the_trigger() {
        let text = concat!(
            "{\"kind\":\"start\",\"t\":\"2026-12-07T10:00:00.000Z\",\"ms\":0,\"schema\":\"s\",\"host\":\"h\",\"interval_ms\":1000,\"ports\":[],\"samplers\":[\"sockets: /proc/net/tcp\"]}\n",
            "{\"kind\":\"gap\",\"t\":\"x\",\"ms\":1000,\"sampler\":\"kernel\",\"for_ms\":500,\"lost\":3,\"reason\":\"r\"}\n",
            "{\"kind\":\"trigger\",\"t\":\"2026-12-07T10:00:04.000Z\",\"ms\":4000,\"reason\":\"StandAlone\"}\n",
            "{\"kind\":\"trigger\",\"t\":\"x\",\"ms\":5000,\"reason\":\"second\"}\n",
            "broken\n",
            "{\"kind\":\"end\",\"t\":\"x\",\"ms\":6500,\"reason\":\"frozen\"}\n",
        );
        let o = read(text).overview();
        assert_eq!(o.records, 5);
        assert_eq!(o.span_ms, 6500);
        assert_eq!((o.gaps, o.gap_ms, o.lost, o.unreadable), (1, 500, 3, 1));
        let trigger = o.trigger.unwrap();
        assert_eq!(
            (trigger.reason.as_str(), trigger.before_ms, trigger.after_ms),
            ("StandAlone", 4000, 2500)
        );
        assert_eq!(o.kinds["trigger"], 2);
        assert_eq!(o.end.as_deref(), Some("frozen"));
        assert_eq!(o.samplers, ["sockets: /proc/net/tcp"]);
        assert_eq!(span_text(125_000), "2m05s");
    }

    #[test]
    fn bad_lines_are_counted_and_order_restored() {
        let text = "not json\n{\"kind\":\"end\",\"t\":\"x\",\"ms\":9,\"reason\":\"r\"}\n{\"kind\":\"kernel\",\"t\":\"x\",\"ms\":3,\"line\":\"l\"}\n{\"kind\":\"martian\",\"t\":\"x\",\"ms\":1}\n";
        let series = read(text);
        assert_eq!(series.bad_count, 2);
        assert_eq!(series.bad_lines, [1, 4]);
        assert_eq!(
            series.records.iter().map(Record::ms).collect::<Vec<_>>(),
            [3, 9]
        );
        let long = format!(
            "{{\"kind\":\"kernel\",\"t\":\"x\",\"ms\":1,\"line\":\"{}\"}}",
            "a".repeat(MAX_LINE)
        );
        assert_eq!(read(&long).bad_count, 1);
    }
}
