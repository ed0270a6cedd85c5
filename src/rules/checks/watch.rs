//! What only a series shows (`watch/series.jsonl` of `drx-collect watch` / `record`): a
//! connection that tried (SYN_SENT) and never got through, one that flaps, a state that stays
//! `Connecting` or `bridging`, a connection that went StandAlone, and the series' own gaps.
use super::Raw;
use crate::rules::evidence::Evidence;
use crate::rules::model::Place;
use crate::series::{Record, Series};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// A waiting state that lasts this long is stuck: DRBD retries a connection every
/// `connect-int` (10 s by default), so by then at least one attempt failed.
pub const STUCK_AFTER_MS: u64 = 10_000;
/// Times a connection must drop from connected to count as flapping.
pub const FLAPS: usize = 3;

/// Replication connection states that wait for the peer.
const WAITING: [&str; 4] = [
    "Connecting",
    "Unconnected",
    "WFConnection",
    "NetworkFailure",
];

fn place(path: &str, series: &Series, index: usize) -> Place {
    let record = &series.records[index];
    Place::new(
        path,
        series.lines.get(index).copied().unwrap_or(0),
        &record.describe().unwrap_or_default(),
    )
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

pub fn check(evidence: &Evidence, out: &mut Vec<Raw>) {
    let Some((path, series)) = &evidence.series else {
        return;
    };
    if series.records.is_empty() {
        return;
    }
    let end = series.records.iter().map(Record::ms).max().unwrap_or(0);
    syn_sent(path, series, out);
    socket_flaps(path, series, out);
    replication(path, series, end, out);
    drx(path, series, end, out);
    gaps(path, series, out);
}

/// A remote endpoint seen in SYN_SENT and never ESTABLISHED with that address afterwards.
fn syn_sent(path: &str, series: &Series, out: &mut Vec<Raw>) {
    // remote → (first SYN_SENT index, SYN_SENT records seen)
    let mut tried: BTreeMap<SocketAddr, (usize, usize)> = BTreeMap::new();
    // remote ip → last ms it was ESTABLISHED
    let mut established: BTreeMap<std::net::IpAddr, u64> = BTreeMap::new();
    for (i, record) in series.records.iter().enumerate() {
        let Record::Socket {
            remote, state, ms, ..
        } = record
        else {
            continue;
        };
        let Ok(remote) = remote.parse::<SocketAddr>() else {
            continue;
        };
        match state.as_str() {
            "SYN_SENT" => tried.entry(remote).or_insert((i, 0)).1 += 1,
            "ESTABLISHED" => {
                established.insert(remote.ip(), *ms);
            }
            _ => {}
        }
    }
    for (remote, (first, attempts)) in tried {
        let first_ms = series.records[first].ms();
        if established
            .get(&remote.ip())
            .is_some_and(|last| *last >= first_ms)
        {
            continue;
        }
        out.push(Raw::new(
            "WATCH-SYN-SENT",
            Some(place(path, series, first)),
            Some(format!(
                "{remote}: {attempts} connection attempt(s) in SYN_SENT from {} on, none ESTABLISHED with {} while watched",
                seconds(first_ms),
                remote.ip()
            )),
        ));
    }
}

/// A socket pair that reached ESTABLISHED and dropped again, at least `FLAPS` times per peer
/// address (each reconnection uses a new local port, so the peer's address is what repeats).
fn socket_flaps(path: &str, series: &Series, out: &mut Vec<Raw>) {
    let mut state: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut drops: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, record) in series.records.iter().enumerate() {
        let Record::Socket {
            local,
            remote,
            state: now,
            ..
        } = record
        else {
            continue;
        };
        let key = (local.clone(), remote.clone());
        let before = state.insert(key, now.clone());
        if before.as_deref() == Some("ESTABLISHED") && now != "ESTABLISHED" {
            // The peer: the side that is not a listening port of ours is unknown here; the
            // remote address is the peer either way.
            let peer = remote
                .parse::<SocketAddr>()
                .map(|a| a.ip().to_string())
                .unwrap_or_else(|_| remote.clone());
            drops.entry(peer).or_default().push(i);
        }
    }
    for (peer, at) in drops {
        if at.len() >= FLAPS {
            out.push(Raw::new(
                "WATCH-FLAPPING",
                Some(place(path, series, at[0])),
                Some(format!(
                    "TCP connections with {peer} were established and dropped {} times between {} and {}",
                    at.len(),
                    seconds(series.records[at[0]].ms()),
                    seconds(series.records[*at.last().unwrap_or(&at[0])].ms())
                )),
            ));
        }
    }
}

/// The replication connections' states from events2: flapping, stuck waiting, StandAlone.
fn replication(path: &str, series: &Series, end: u64, out: &mut Vec<Raw>) {
    // (resource, peer) → the connection values in order: (index, value)
    let mut timelines: BTreeMap<(String, String), Vec<(usize, String)>> = BTreeMap::new();
    for (i, record) in series.records.iter().enumerate() {
        if let Record::Repl {
            resource,
            peer,
            object,
            field,
            value,
            ..
        } = record
        {
            if object == "connection" && (field == "connection" || field == "object") {
                timelines
                    .entry((resource.clone(), peer.clone().unwrap_or_default()))
                    .or_default()
                    .push((i, value.clone()));
            }
        }
    }
    for ((resource, peer), values) in timelines {
        let who = if peer.is_empty() {
            format!("resource {resource}")
        } else {
            format!("resource {resource}, connection to {peer}")
        };
        let drops: Vec<usize> = values
            .windows(2)
            .filter(|w| w[0].1 == "Connected" && w[1].1 != "Connected")
            .map(|w| w[1].0)
            .collect();
        if drops.len() >= FLAPS {
            out.push(Raw::new(
                "WATCH-FLAPPING",
                Some(place(path, series, drops[0])),
                Some(format!(
                    "{who}: Connected was lost {} times while watched",
                    drops.len()
                )),
            ));
        }
        for w in values.windows(2) {
            if w[1].1 == "StandAlone" && w[0].1 != "StandAlone" {
                out.push(Raw::new(
                    "WATCH-STANDALONE",
                    Some(place(path, series, w[1].0)),
                    Some(format!(
                        "{who}: {} -> StandAlone at {}; it no longer tries to connect",
                        w[0].1,
                        seconds(series.records[w[1].0].ms())
                    )),
                ));
            }
        }
        for (n, (i, value)) in values.iter().enumerate() {
            if !WAITING.contains(&value.as_str()) {
                continue;
            }
            let from = series.records[*i].ms();
            let until = values
                .get(n + 1)
                .map_or(end, |(j, _)| series.records[*j].ms());
            if until.saturating_sub(from) >= STUCK_AFTER_MS {
                let still = if n + 1 == values.len() {
                    " (still when the watch ended)"
                } else {
                    ""
                };
                out.push(Raw::new(
                    "WATCH-STUCK",
                    Some(place(path, series, *i)),
                    Some(format!(
                        "{who}: {value} for {}{still}",
                        seconds(until - from)
                    )),
                ));
            }
        }
    }
}

/// DRX staying `bridging`.
fn drx(path: &str, series: &Series, end: u64, out: &mut Vec<Raw>) {
    let mut timelines: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
    for (i, record) in series.records.iter().enumerate() {
        if let Record::Drx {
            resource, state, ..
        } = record
        {
            timelines
                .entry(resource.clone())
                .or_default()
                .push((i, state.clone()));
        }
    }
    for (resource, states) in timelines {
        for (n, (i, state)) in states.iter().enumerate() {
            if state != "bridging" {
                continue;
            }
            let from = series.records[*i].ms();
            let until = states
                .iter()
                .skip(n + 1)
                .find(|(_, s)| s != "bridging")
                .map_or(end, |(j, _)| series.records[*j].ms());
            if n > 0 && states[n - 1].1 == "bridging" {
                continue;
            }
            if until.saturating_sub(from) >= STUCK_AFTER_MS {
                out.push(Raw::new(
                    "WATCH-STUCK",
                    Some(place(path, series, *i)),
                    Some(format!(
                        "DRX {resource}: bridging for {}",
                        seconds(until - from)
                    )),
                ));
            }
        }
    }
}

/// The series' gaps and unreadable lines: what it cannot show.
fn gaps(path: &str, series: &Series, out: &mut Vec<Raw>) {
    let mut first = None;
    let mut by_sampler: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for (i, record) in series.records.iter().enumerate() {
        if let Record::Gap {
            sampler,
            for_ms,
            lost,
            ..
        } = record
        {
            first.get_or_insert(i);
            let entry = by_sampler.entry(sampler).or_default();
            entry.0 += 1;
            entry.1 += for_ms;
            entry.2 += lost;
        }
    }
    let mut parts: Vec<String> = by_sampler
        .iter()
        .map(|(sampler, (count, ms, lost))| {
            let mut part = format!("{sampler}: {count} gap(s), {}", seconds(*ms));
            if *lost > 0 {
                part.push_str(&format!(", {lost} line(s) lost"));
            }
            part
        })
        .collect();
    if series.bad_count > 0 {
        parts.push(format!("{} unreadable line(s)", series.bad_count));
    }
    if parts.is_empty() {
        return;
    }
    let place = match first {
        Some(i) => place(path, series, i),
        None => Place::file(path),
    };
    out.push(Raw::new("WATCH-GAP", Some(place), Some(parts.join("; "))));
}
