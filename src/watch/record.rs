//! `drx-collect record`: the samplers of `watch`, unattended, into the on-disk ring
//! (`ring.rs`); when a trigger fires (a connection leaves Connected or goes StandAlone, a kernel
//! line reports a split brain, or `record --freeze`), the window before and after it is frozen
//! into a normal bundle in the output directory (`--keep` applies).
use super::ring::Ring;
use super::{sampler, Clock, WorkDir};
use crate::collect;
use crate::error::{Error, Result};
use crate::platform;
use crate::series::{self, Record};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file `record --freeze` leaves in the ring's directory for the recorder to find.
pub const FREEZE_REQUEST: &str = "freeze.request";

#[derive(Debug, Clone)]
pub struct Settings {
    pub collect: collect::Settings,
    pub dir: PathBuf,
    pub ring: u64,
    pub interval: Duration,
    pub ports: Vec<u16>,
    pub before: Duration,
    pub after: Duration,
    pub duration: Option<Duration>,
    pub freeze: bool,
}

fn parse_t(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Why `record` (a record of one tick) triggers a freeze, if it does.
fn trigger_of(record: &Record, connected: &mut HashMap<String, bool>) -> Option<String> {
    match record {
        Record::Repl {
            resource,
            peer,
            object,
            field,
            value,
            ..
        } if object == "connection" && field == "connection" => {
            let key = format!("{resource} {}", peer.as_deref().unwrap_or(""));
            let was = connected.insert(key.clone(), value == "Connected");
            if value == "StandAlone" {
                Some(format!("{key}: StandAlone"))
            } else if was == Some(true) && value != "Connected" {
                Some(format!("{key}: Connected -> {value}"))
            } else {
                None
            }
        }
        Record::Kernel { line, .. } if line.to_ascii_lowercase().contains("split-brain") => {
            Some(format!("kernel: {line}"))
        }
        _ => None,
    }
}

pub fn run(settings: &Settings) -> Result<Vec<collect::Outcome>> {
    if settings.freeze {
        let path = settings.dir.join(FREEZE_REQUEST);
        platform::write_private_replacing(&path, b"freeze\n")
            .map_err(|err| Error::io("ask the recorder to freeze through", &path, &err, ""))?;
        return Ok(Vec::new());
    }
    platform::install_interrupt_handler();
    platform::be_nice();
    let ring_dir = settings.dir.join("ring");
    std::fs::create_dir_all(&settings.dir)
        .map_err(|err| Error::io("create the recorder's directory", &settings.dir, &err, ""))?;
    let last_t = series::read(&Ring::read_all(&ring_dir))
        .records
        .iter()
        .filter_map(|r| parse_t(r.t()))
        .max();
    let mut ring = Ring::open(&ring_dir, settings.ring)
        .map_err(|err| Error::io("open the ring in", &ring_dir, &err, ""))?;
    let clock = Clock::start();
    let stamp = |ms: u64| clock.stamp(ms);
    let ports = super::configured_ports(settings.collect.root.as_deref(), &settings.ports);
    let root = settings.collect.root.clone();
    let mut samplers = sampler::Samplers::new(sampler::Sources {
        root: root.clone(),
        ports: ports.clone(),
        sockets: !ports.is_empty(),
        interval: settings.interval,
        events: super::events::command(root.is_some()),
        origin: clock.origin(),
    });
    let start = Record::Start {
        t: stamp(0),
        ms: 0,
        schema: series::SCHEMA.into(),
        host: crate::host::facts(root.as_deref(), crate::manifest::Os::current()).hostname,
        interval_ms: settings.interval.as_millis() as u64,
        ports: ports.clone(),
        samplers: samplers.describe(),
    };
    let mut first = vec![start.clone()];
    if let Some(last) = last_t {
        // The time the recorder was not running is a gap, never silence.
        let now = parse_t(&stamp(0)).unwrap_or_else(Utc::now);
        first.push(Record::Gap {
            t: last.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ms: 0,
            sampler: "recorder".into(),
            for_ms: (now - last).num_milliseconds().max(0) as u64,
            lost: 0,
            reason: "the recorder was not running (stopped, killed, or the machine was down)"
                .into(),
        });
    }
    ring.write(&first);
    let request = settings.dir.join(FREEZE_REQUEST);
    let mut connected = HashMap::new();
    let mut pending: Option<(u64, String, String)> = None;
    let mut outcomes = Vec::new();
    let mut batch = Vec::new();
    let ended_by = loop {
        let ms = clock.ms();
        samplers.tick(ms, &stamp, &mut batch);
        let mut fired: Option<String> = None;
        for record in &batch {
            if let Some(reason) = trigger_of(record, &mut connected) {
                fired.get_or_insert(reason);
            }
        }
        if request.exists() {
            let _ = std::fs::remove_file(&request);
            fired.get_or_insert_with(|| "record --freeze".to_string());
        }
        if let (Some(reason), None) = (&fired, &pending) {
            batch.push(Record::Trigger {
                t: stamp(ms),
                ms,
                reason: reason.clone(),
            });
            pending = Some((
                ms + settings.after.as_millis() as u64,
                stamp(ms),
                reason.clone(),
            ));
        }
        ring.write(&batch);
        batch.clear();
        if let Some((due, at, reason)) = pending.clone() {
            if ms >= due {
                pending = None;
                outcomes.push(freeze(settings, &ring_dir, &at, &reason, &start)?);
            }
        }
        if let Some(signal) = platform::interrupted() {
            break format!("stopped by {}", platform::interruption_name(signal));
        }
        if settings
            .duration
            .is_some_and(|d| ms >= d.as_millis() as u64)
        {
            break "the recording time was over".to_string();
        }
        std::thread::sleep(
            settings
                .interval
                .saturating_sub(Duration::from_millis(clock.ms() - ms)),
        );
    };
    let ms = clock.ms();
    samplers.finish(ms, &stamp, &mut batch);
    batch.push(Record::End {
        t: stamp(ms),
        ms,
        reason: ended_by,
    });
    ring.write(&batch);
    Ok(outcomes)
}

/// The ring's records from `before` the trigger at `at` to `after` it, as one series (its `ms`
/// counted from the window's start), into a bundle.
fn freeze(
    settings: &Settings,
    ring_dir: &Path,
    at: &str,
    reason: &str,
    start: &Record,
) -> Result<collect::Outcome> {
    let at_t = parse_t(at).unwrap_or_else(Utc::now);
    let from = at_t - chrono::Duration::milliseconds(settings.before.as_millis() as i64);
    let until = at_t + chrono::Duration::milliseconds(settings.after.as_millis() as i64);
    let ring = series::read(&Ring::read_all(ring_dir));
    let mut window: Vec<(DateTime<Utc>, Record)> = ring
        .records
        .into_iter()
        .filter(|r| !matches!(r, Record::Start { .. } | Record::End { .. }))
        .filter_map(|r| parse_t(r.t()).map(|t| (t, r)))
        .filter(|(t, _)| *t >= from && *t <= until)
        .collect();
    window.sort_by_key(|(t, _)| *t);
    let begin = window.first().map_or(at_t, |(t, _)| *t);
    let ms_of = |t: DateTime<Utc>| (t - begin).num_milliseconds().max(0) as u64;
    let work = WorkDir::new("drx-collect-record")?;
    let path = work.0.join("series.jsonl");
    let mut writer = super::SeriesWriter::create(&path, super::MAX_SERIES_BYTES)?;
    let mut head = start.clone();
    if let Record::Start { t, ms, .. } = &mut head {
        *t = begin.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        *ms = 0;
    }
    writer.write(&head)?;
    for (t, mut record) in window {
        set_ms(&mut record, ms_of(t));
        writer.write(&record)?;
    }
    let end_ms = ms_of(until.min(Utc::now()));
    let end = Record::End {
        t: until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ms: end_ms,
        reason: format!("frozen by the recorder: {reason}"),
    };
    let records = writer.records + 1;
    writer.finish(end, &|_| at.to_string())?;
    let mut collect_settings = settings.collect.clone();
    collect_settings.extra.push(super::series_extra(
        &path,
        format!("drx-collect record ({records} records around: {reason})"),
    ));
    let outcome = collect::run(&collect_settings)?
        .ok_or_else(|| Error::failed("the frozen window's bundle was not written"))?;
    if settings.collect.verbosity != collect::Verbosity::Quiet {
        let _ = writeln!(
            std::io::stderr(),
            "froze {} ({reason})",
            outcome.bundle.display()
        );
    }
    Ok(outcome)
}

fn set_ms(record: &mut Record, value: u64) {
    match record {
        Record::Start { ms, .. }
        | Record::Socket { ms, .. }
        | Record::Repl { ms, .. }
        | Record::Kernel { ms, .. }
        | Record::Drx { ms, .. }
        | Record::Gap { ms, .. }
        | Record::Trigger { ms, .. }
        | Record::End { ms, .. } => *ms = value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(value: &str) -> Record {
        Record::Repl {
            t: String::new(),
            ms: 0,
            resource: "r0".into(),
            peer: Some("b".into()),
            volume: None,
            object: "connection".into(),
            field: "connection".into(),
            value: value.into(),
        }
    }

    #[test]
    fn triggers_are_standalone_a_lost_connection_and_split_brain() {
        let mut state = HashMap::new();
        assert_eq!(trigger_of(&conn("Connecting"), &mut state), None);
        assert_eq!(trigger_of(&conn("Connected"), &mut state), None);
        assert_eq!(
            trigger_of(&conn("NetworkFailure"), &mut state).as_deref(),
            Some("r0 b: Connected -> NetworkFailure")
        );
        assert_eq!(
            trigger_of(&conn("StandAlone"), &mut state).as_deref(),
            Some("r0 b: StandAlone")
        );
        let kernel = Record::Kernel {
            t: String::new(),
            ms: 0,
            line: "drbd r0: a line naming split-brain".into(),
        };
        assert!(trigger_of(&kernel, &mut state).is_some());
    }
}
