//! `drx-collect watch`: the guide's live monitoring, attended. For a given time (or until
//! Ctrl-C) the samplers record the sockets of the replication and DRX ports, the replication
//! state stream, the kernel log and the DRX logs' state lines as a series (`crate::series`,
//! docs/watch.md); then a normal bundle is collected whose `watch/series.jsonl` holds it, so the
//! rules read the series like any other evidence (the `WATCH-*` rules).
mod display;
pub mod events;
pub mod follow;
pub mod record;
pub mod ring;
pub mod sampler;
pub mod sockets;

use crate::collect;
use crate::error::{Error, Result};
use crate::layout;
use crate::platform;
use crate::series::{self, Record};
use chrono::{DateTime, Utc};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The most bytes of series one `watch` keeps (the rest is recorded as one gap).
pub const MAX_SERIES_BYTES: u64 = crate::series::MAX_BYTES as u64;

/// Checked settings of one `watch` run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The bundle written at the end (its `--root` is also the samplers' root).
    pub collect: collect::Settings,
    /// `--for`; `None`: until Ctrl-C.
    pub duration: Option<Duration>,
    /// `--interval`: the socket sampler's period.
    pub interval: Duration,
    /// `--port`: watched in addition to the configuration's ports.
    pub ports: Vec<u16>,
}

/// The series as it is written: to a file, within `MAX_SERIES_BYTES`.
pub struct SeriesWriter {
    file: std::io::BufWriter<std::fs::File>,
    pub path: PathBuf,
    written: u64,
    cap: u64,
    /// Records not written since the cap was reached (recorded as one gap at the end).
    over_cap: u64,
    over_cap_since: Option<u64>,
    pub records: u64,
}

impl SeriesWriter {
    pub fn create(path: &Path, cap: u64) -> Result<SeriesWriter> {
        let file = platform::create_new_private(path)
            .map_err(|err| Error::io("create the series file", path, &err, ""))?;
        Ok(SeriesWriter {
            file: std::io::BufWriter::new(file),
            path: path.to_path_buf(),
            written: 0,
            cap,
            over_cap: 0,
            over_cap_since: None,
            records: 0,
        })
    }

    pub fn write(&mut self, record: &Record) -> Result<()> {
        let line = record.to_line();
        // The end record always fits: the cap keeps room for it.
        let room = if matches!(record, Record::End { .. }) {
            self.cap + 4096
        } else {
            self.cap
        };
        if self.written + line.len() as u64 > room {
            self.over_cap += 1;
            self.over_cap_since.get_or_insert(record.ms());
            return Ok(());
        }
        self.file
            .write_all(line.as_bytes())
            .map_err(|err| Error::io("write the series file", &self.path, &err, ""))?;
        self.written += line.len() as u64;
        self.records += 1;
        Ok(())
    }

    /// Writes the gap of what the cap left out, then `end`, and flushes.
    pub fn finish(mut self, end: Record, stamp: &dyn Fn(u64) -> String) -> Result<u64> {
        if let Some(since) = self.over_cap_since {
            let gap = Record::Gap {
                t: stamp(since),
                ms: since,
                sampler: "series".into(),
                for_ms: end.ms().saturating_sub(since),
                lost: self.over_cap,
                reason: format!(
                    "the series reached its size limit ({}); later records were not kept",
                    crate::units::human_size(self.cap)
                ),
            };
            self.cap += 8192;
            self.write(&gap)?;
        }
        self.write(&end)?;
        self.file
            .flush()
            .map_err(|err| Error::io("write the series file", &self.path, &err, ""))?;
        Ok(self.written)
    }
}

/// The clock of one series: `ms` since the start on a monotonic clock, and `t` the start's wall
/// time plus that, so a clock step during the series does not bend it.
#[derive(Clone, Copy)]
pub struct Clock {
    wall: DateTime<Utc>,
    mono: Instant,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            wall: Utc::now(),
            mono: Instant::now(),
        }
    }

    pub fn ms(&self) -> u64 {
        self.mono.elapsed().as_millis() as u64
    }

    pub fn origin(&self) -> Instant {
        self.mono
    }

    pub fn stamp(&self, ms: u64) -> String {
        (self.wall + chrono::Duration::milliseconds(ms as i64))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}

/// Paths for a human line: `a, b`.
pub(crate) fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The replication and DRX ports of this node's configuration (every endpoint of every
/// resource file under the root), with `extra`.
pub fn configured_ports(root: Option<&Path>, extra: &[u16]) -> Vec<u16> {
    let base = root.map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
    let mut files = Vec::new();
    for pattern in [
        "etc/drbd.conf",
        "etc/drbd.d/*.res",
        "etc/bsr.conf",
        "etc/bsr.d/*.res",
        "opt/DRX/drbd.d/*.res",
        "C/Program Files/bsr/etc/*.res",
        "C/Program Files/bsr/etc/bsr.d/*.res",
    ] {
        let Some(base) = base.to_str() else { break };
        let full = format!(
            "{}/{pattern}",
            glob::Pattern::escape(base.trim_end_matches('/'))
        );
        if let Ok(paths) = glob::glob(&full) {
            files.extend(paths.flatten().take(256));
        }
    }
    let mut ports: Vec<u16> = extra.to_vec();
    for file in files {
        let Ok(content) = std::fs::read(&file) else {
            continue;
        };
        let config = crate::rules::parse::resfile::parse(&file.display().to_string(), &content);
        for resource in &config.resources {
            for host in &resource.hosts {
                for (_, endpoint) in host.endpoints() {
                    ports.push(endpoint.value.port);
                }
            }
        }
    }
    ports.retain(|p| *p != 0);
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// What one sampling session produced.
pub struct Sampled {
    pub series: PathBuf,
    pub records: u64,
    pub bytes: u64,
    pub ended_by: String,
}

/// Samples until `until` (or an interruption), writing the series to `path`; what is seen is
/// shown through `display`.
fn sample(
    settings: &Settings,
    path: &Path,
    display: &mut display::Display,
    ports: &[u16],
) -> Result<Sampled> {
    let clock = Clock::start();
    let stamp = |ms: u64| clock.stamp(ms);
    let root = settings.collect.root.clone();
    let events = events::command(root.is_some());
    let mut samplers = sampler::Samplers::new(sampler::Sources {
        root,
        ports: ports.to_vec(),
        sockets: true,
        interval: settings.interval,
        events,
        origin: clock.origin(),
    });
    let mut writer = SeriesWriter::create(path, MAX_SERIES_BYTES)?;
    let start = Record::Start {
        t: stamp(0),
        ms: 0,
        schema: series::SCHEMA.into(),
        host: crate::host::facts(
            settings.collect.root.as_deref(),
            crate::manifest::Os::current(),
        )
        .hostname,
        interval_ms: settings.interval.as_millis() as u64,
        ports: ports.to_vec(),
        samplers: samplers.describe(),
    };
    writer.write(&start)?;
    let lang = settings.collect.lang;
    let header = match settings.duration {
        Some(d) => format!(
            "{} {:.0}s; {}",
            lang.ui("watch.watching_for"),
            d.as_secs_f64(),
            lang.ui("watch.ctrl_c")
        ),
        None => format!("{}; {}", lang.ui("watch.watching"), lang.ui("watch.ctrl_c")),
    };
    if let display::Mode::Lines = display_mode(settings) {
        let _ = writeln!(std::io::stderr(), "{header}");
    }
    let mut batch = Vec::new();
    let ended_by;
    loop {
        let ms = clock.ms();
        samplers.tick(ms, &stamp, &mut batch);
        for record in batch.drain(..) {
            display.record(&record);
            writer.write(&record)?;
        }
        display.draw(ms, &header);
        if let Some(signal) = platform::interrupted() {
            ended_by = format!("stopped by {}", platform::interruption_name(signal));
            break;
        }
        if settings
            .duration
            .is_some_and(|d| ms >= d.as_millis() as u64)
        {
            ended_by = "the watch time was over".to_string();
            break;
        }
        let next = settings
            .interval
            .saturating_sub(Duration::from_millis(clock.ms() - ms));
        std::thread::sleep(next);
    }
    let ms = clock.ms();
    samplers.finish(ms, &stamp, &mut batch);
    for record in batch.drain(..) {
        display.record(&record);
        writer.write(&record)?;
    }
    let end = Record::End {
        t: stamp(ms),
        ms,
        reason: ended_by.clone(),
    };
    display.record(&end);
    let records = writer.records + 1;
    let bytes = writer.finish(end, &stamp)?;
    Ok(Sampled {
        series: path.to_path_buf(),
        records,
        bytes,
        ended_by,
    })
}

fn display_mode(settings: &Settings) -> display::Mode {
    if settings.collect.verbosity == collect::Verbosity::Quiet {
        display::Mode::Quiet
    } else if std::io::stderr().is_terminal() {
        display::Mode::Live
    } else {
        display::Mode::Lines
    }
}

/// A private directory for the series while it is taken; removed when dropped.
pub struct WorkDir(pub PathBuf);

impl WorkDir {
    pub fn new(prefix: &str) -> Result<WorkDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{nanos:09}", std::process::id()));
        platform::create_private_dir(&dir)
            .map_err(|err| Error::io("create the working directory", &dir, &err, ""))?;
        Ok(WorkDir(dir))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The bundle entry of a series file.
pub fn series_extra(path: &Path, description: String) -> collect::Extra {
    collect::Extra {
        id: "watch-series".into(),
        source: description,
        fs_path: path.to_path_buf(),
        bundle_path: layout::WATCH_SERIES.into(),
    }
}

pub fn run(settings: &Settings) -> Result<Option<collect::Outcome>> {
    platform::install_interrupt_handler();
    if !settings.collect.peers.is_empty() {
        return Err(Error::usage(
            "watch --peer is not available yet: run `drx-collect watch` on each node at the same time, then `drx-collect inspect` both bundles",
        ));
    }
    if let Some(root) = &settings.collect.root {
        if !root.is_dir() {
            return Err(Error::usage(format!(
                "--root {} is not a directory; give the directory that holds the system's files",
                root.display()
            )));
        }
    }
    let ports = configured_ports(settings.collect.root.as_deref(), &settings.ports);
    let work = WorkDir::new("drx-collect-watch")?;
    let mut display = display::Display::new(display_mode(settings), settings.collect.lang);
    let sampled = sample(settings, &work.0.join("series.jsonl"), &mut display, &ports)?;
    // Ctrl-C ended the sampling, not the run: the bundle is still written.
    platform::clear_interrupted();
    if settings.collect.verbosity != collect::Verbosity::Quiet {
        let _ = writeln!(
            std::io::stderr(),
            "{} ({}; {} {}, {})",
            settings.collect.lang.ui("watch.writing"),
            sampled.ended_by,
            sampled.records,
            settings.collect.lang.ui("watch.records"),
            crate::units::human_size(sampled.bytes)
        );
    }
    let mut collect_settings = settings.collect.clone();
    collect_settings.extra.push(series_extra(
        &sampled.series,
        format!(
            "drx-collect watch ({} records, {})",
            sampled.records, sampled.ended_by
        ),
    ));
    collect::run(&collect_settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_keeps_within_its_cap_and_records_the_rest_as_a_gap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let mut writer = SeriesWriter::create(&path, 2000).unwrap();
        for ms in 0..100 {
            writer
                .write(&Record::Kernel {
                    t: "t".into(),
                    ms,
                    line: "x".repeat(50),
                })
                .unwrap();
        }
        let end = Record::End {
            t: "t".into(),
            ms: 100,
            reason: "done".into(),
        };
        writer.finish(end, &|_| "t".into()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.len() < 2000 + 8192);
        let series = series::read(&text);
        assert_eq!(series.bad_count, 0);
        let gap = series
            .records
            .iter()
            .find_map(|r| match r {
                Record::Gap { lost, sampler, .. } => Some((sampler.clone(), *lost)),
                _ => None,
            })
            .unwrap();
        assert_eq!(gap.0, "series");
        let kept = series
            .records
            .iter()
            .filter(|r| matches!(r, Record::Kernel { .. }))
            .count() as u64;
        assert_eq!(kept + gap.1, 100);
        assert!(matches!(series.records.last(), Some(Record::End { .. })));
    }

    #[test]
    fn ports_come_from_the_resource_files_under_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/drbd.d")).unwrap();
        std::fs::write(
            dir.path().join("etc/drbd.d/r0.res"),
            "resource r0 {\n  on a { device /dev/drbd0; disk /dev/sdb; address 10.0.0.1:7788; meta-disk internal; }\n  on b { device /dev/drbd0; disk /dev/sdb; address 10.0.0.2:7789; meta-disk internal; }\n}\n",
        )
        .unwrap();
        assert_eq!(
            configured_ports(Some(dir.path()), &[9000]),
            [7788, 7789, 9000]
        );
        assert_eq!(
            configured_ports(Some(&dir.path().join("none")), &[]),
            Vec::<u16>::new()
        );
    }
}
