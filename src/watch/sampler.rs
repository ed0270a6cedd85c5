//! The samplers together, one `tick` at a time: sockets every tick, the events2 stream, the
//! kernel log and the DRX logs drained as they grew. Only changes become records; a sampler that
//! could not sample for a while, or lost lines, becomes a `gap` record. Used by `watch` (attended)
//! and `record` (unattended) alike.
use super::events;
use super::follow::{self, Follower, KernelMsg};
use super::sockets;
use crate::series::Record;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::TryRecvError;
use std::time::Duration;

/// Most events2 lines taken per tick (the rest wait for the next tick in the stream's backlog).
const MAX_EVENT_LINES_PER_TICK: usize = 2000;
/// Most kernel log lines kept per tick; more are counted as lost (a kernel message storm).
const MAX_KERNEL_LINES_PER_TICK: usize = 200;
/// A tick later than this many periods is a gap in the socket series.
const LATE_FACTOR: u64 = 4;
/// How long a stream that ended waits before it is started again; doubled after each start
/// that ended again, up to `RESTART_MAX` (a drbdsetup without its kernel module exits at once:
/// starting it every few seconds would be most of an idle recorder's work).
const RESTART_AFTER: Duration = Duration::from_secs(5);
const RESTART_MAX: Duration = Duration::from_secs(300);
/// How often the DRX log directories are looked at again for new files.
const RESCAN_EVERY: Duration = Duration::from_secs(5);
/// Most DRX log files followed.
const MAX_DRX_LOGS: usize = 64;

/// What the samplers read; from the command line (or a test).
#[derive(Debug, Clone)]
pub struct Sources {
    pub root: Option<PathBuf>,
    pub ports: Vec<u16>,
    /// Whether sockets are sampled at all (`record` without a known port does not).
    pub sockets: bool,
    pub interval: Duration,
    /// The events2 command (`None`: none found; the series says so).
    pub events: Option<Vec<String>>,
    /// The instant the series' `ms` counts from: a streamed line gets the `ms` it arrived at,
    /// not the tick's that took it.
    pub origin: std::time::Instant,
}

/// Where a sampler is failing since (`ms`) and why, until it samples again.
struct Failing {
    since: u64,
    reason: String,
}

struct KernelSource {
    describe: String,
    kind: KernelKind,
}

enum KernelKind {
    Kmsg(std::sync::mpsc::Receiver<KernelMsg>),
    Files(Vec<Follower>),
    None,
}

pub struct Samplers {
    sources: Sources,
    sockets: sockets::Sampler,
    last_sockets: Option<sockets::Sample>,
    last_tick: Option<u64>,
    sockets_failing: Option<Failing>,
    stream: Option<crate::process::Stream>,
    stream_down_since: Option<(u64, String)>,
    stream_started: Option<u64>,
    restart_after: Duration,
    repl_values: HashMap<String, String>,
    kernel: KernelSource,
    drx: Vec<(String, Follower)>,
    drx_scanned: Option<u64>,
    drx_states: HashMap<String, String>,
    /// `/proc/drbd` (under the sysroot), polled every tick instead of the events2 stream when
    /// the kernel is DRBD 8.4 (no events2) or the stream exits at once.
    proc_drbd: PathBuf,
    polling: bool,
}

/// A stream that ends this soon after it started "exited at once": events2 does not work here.
const AT_ONCE_MS: u64 = 2000;
/// Most bytes of `/proc/drbd` read per poll.
const PROC_DRBD_CAP: u64 = 1 << 20;

fn read_proc_drbd(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(PROC_DRBD_CAP).read_to_string(&mut text))
        .map_err(|e| format!("{} cannot be read: {e}", path.display()))?;
    Ok(text)
}

/// Whether `/proc/drbd` is DRBD 8.4's, whose states are polled (8.4 has no events2).
fn is_drbd84(path: &Path) -> bool {
    read_proc_drbd(path).is_ok_and(|t| t.starts_with("version: 8."))
}

/// A replication- or DRX-related kernel line.
fn is_replication_line(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.contains("drbd") || lower.contains("bsr") || lower.contains("drx")
}

/// The state a DRX log line names, if any (the guide's words: bridging, bridged, connecting,
/// connected, disconnected, waiting).
pub fn drx_state(line: &str) -> Option<&'static str> {
    const STATES: [&str; 6] = [
        "bridging",
        "bridged",
        "disconnected",
        "connecting",
        "connected",
        "waiting",
    ];
    let lower = line.to_ascii_lowercase();
    STATES.into_iter().find(|state| {
        lower.match_indices(state).any(|(at, _)| {
            let before = lower[..at].chars().next_back();
            let after = lower[at + state.len()..].chars().next();
            !before.is_some_and(|c| c.is_ascii_alphanumeric())
                && !after.is_some_and(|c| c.is_ascii_alphanumeric())
        })
    })
}

impl Samplers {
    pub fn new(sources: Sources) -> Samplers {
        let root = sources.root.clone();
        let kernel = kernel_source(root.as_deref());
        let proc_drbd = root.as_deref().unwrap_or(Path::new("/")).join("proc/drbd");
        let polling = is_drbd84(&proc_drbd)
            || (sources.events.is_none() && read_proc_drbd(&proc_drbd).is_ok());
        Samplers {
            proc_drbd,
            polling,
            sockets: sockets::Sampler::new(root.as_deref(), sources.ports.clone()),
            sources,
            last_sockets: None,
            last_tick: None,
            sockets_failing: None,
            stream: None,
            stream_down_since: None,
            stream_started: None,
            restart_after: RESTART_AFTER,
            repl_values: HashMap::new(),
            kernel,
            drx: Vec::new(),
            drx_scanned: None,
            drx_states: HashMap::new(),
        }
    }

    /// The sources, for the start record.
    pub fn describe(&self) -> Vec<String> {
        vec![
            if self.sources.sockets {
                self.sockets.describe()
            } else {
                "sockets: none (no replication or DRX port configured or given)".into()
            },
            match &self.sources.events {
                _ if self.polling => self.polling_described(),
                Some(argv) => format!("replication: {}", argv.join(" ")),
                None => "replication: none (neither drbdsetup nor bsrsetup is installed)".into(),
            },
            format!("kernel log: {}", self.kernel.describe),
            format!("drx log: {}", self.drx_dirs_described()),
        ]
    }

    fn polling_described(&self) -> String {
        format!(
            "replication: {} polled every {}ms (no events2 stream)",
            self.proc_drbd.display(),
            self.sources.interval.as_millis()
        )
    }

    fn drx_dirs_described(&self) -> String {
        super::display_paths(&drx_dirs(self.sources.root.as_deref()))
    }

    /// One tick at `ms` (milliseconds since the series began): every record it finds goes to
    /// `out` (with `t` filled in by `stamp`).
    pub fn tick(&mut self, ms: u64, stamp: &dyn Fn(u64) -> String, out: &mut Vec<Record>) {
        self.tick_sockets(ms, stamp, out);
        self.tick_events(ms, stamp, out);
        self.tick_kernel(ms, stamp, out);
        self.tick_drx(ms, stamp, out);
        self.last_tick = Some(ms);
    }

    /// Closes what is still open at the end (a failing sampler's gap).
    pub fn finish(&mut self, ms: u64, stamp: &dyn Fn(u64) -> String, out: &mut Vec<Record>) {
        if let Some(failing) = self.sockets_failing.take() {
            out.push(gap(stamp, failing.since, ms, "sockets", 0, failing.reason));
        }
        if let Some((since, reason)) = self.stream_down_since.take() {
            out.push(gap(stamp, since, ms, "replication", 0, reason));
        }
        self.stream = None;
    }

    fn tick_sockets(&mut self, ms: u64, stamp: &dyn Fn(u64) -> String, out: &mut Vec<Record>) {
        if !self.sources.sockets {
            return;
        }
        let period = self.sources.interval.as_millis() as u64;
        if let Some(last) = self.last_tick {
            if ms.saturating_sub(last) > period * LATE_FACTOR {
                out.push(gap(
                    stamp,
                    last + period,
                    ms,
                    "sockets",
                    0,
                    "no sample was taken (the process was stopped, suspended or starved)".into(),
                ));
            }
        }
        match self.sockets.sample() {
            Ok(sample) => {
                if let Some(failing) = self.sockets_failing.take() {
                    out.push(gap(stamp, failing.since, ms, "sockets", 0, failing.reason));
                }
                let empty = sockets::Sample::new();
                let before = self.last_sockets.as_ref().unwrap_or(&empty);
                for (key, state) in &sample {
                    if before.get(key) != Some(state) {
                        out.push(socket(stamp, ms, key, state));
                    }
                }
                for key in before.keys() {
                    if !sample.contains_key(key) {
                        out.push(socket(stamp, ms, key, "gone"));
                    }
                }
                self.last_sockets = Some(sample);
            }
            Err(reason) => {
                self.sockets_failing
                    .get_or_insert(Failing { since: ms, reason });
            }
        }
    }

    /// One poll of `/proc/drbd`: its state fields that changed since the last poll.
    fn poll_proc_drbd(&mut self, ms: u64, stamp: &dyn Fn(u64) -> String, out: &mut Vec<Record>) {
        match read_proc_drbd(&self.proc_drbd) {
            Ok(text) => {
                if let Some((since, reason)) = self.stream_down_since.take() {
                    out.push(gap(stamp, since, ms, "replication", 0, reason));
                }
                for change in events::parse_proc_drbd(&text) {
                    self.repl_change(ms, stamp, change, out);
                }
            }
            Err(reason) => {
                self.stream_down_since.get_or_insert((ms, reason));
            }
        }
    }

    fn repl_change(
        &mut self,
        ms: u64,
        stamp: &dyn Fn(u64) -> String,
        change: events::Change,
        out: &mut Vec<Record>,
    ) {
        let key = change.key();
        if self.repl_values.get(&key) == Some(&change.value) {
            return;
        }
        self.repl_values.insert(key, change.value.clone());
        out.push(Record::Repl {
            t: stamp(ms),
            ms,
            resource: change.resource,
            peer: change.peer,
            volume: change.volume,
            object: change.object,
            field: change.field,
            value: change.value,
        });
    }

    fn tick_events(&mut self, ms: u64, stamp: &dyn Fn(u64) -> String, out: &mut Vec<Record>) {
        if self.polling {
            return self.poll_proc_drbd(ms, stamp, out);
        }
        let Some(argv) = self.sources.events.clone() else {
            return;
        };
        if self.stream.is_none() {
            let due = self
                .stream_started
                .is_none_or(|at| ms >= at + self.restart_after.as_millis() as u64);
            if !due {
                return;
            }
            if self.stream_started.is_some() {
                self.restart_after = (self.restart_after * 2).min(RESTART_MAX);
            }
            self.stream_started = Some(ms);
            match crate::process::Stream::start(
                &argv,
                follow::MAX_LINE,
                self.sources.root.is_some(),
            ) {
                Ok(stream) => {
                    if let Some((since, reason)) = self.stream_down_since.take() {
                        out.push(gap(stamp, since, ms, "replication", 0, reason));
                    }
                    self.stream = Some(stream);
                }
                Err(reason) => {
                    self.stream_down_since.get_or_insert((ms, reason));
                    return;
                }
            }
        }
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        let mut ended = false;
        let mut got = Vec::new();
        for _ in 0..MAX_EVENT_LINES_PER_TICK {
            match stream.lines.try_recv() {
                Ok((arrived, line)) => {
                    let ms = (arrived
                        .saturating_duration_since(self.sources.origin)
                        .as_millis() as u64)
                        .min(ms);
                    for change in events::parse_line(&String::from_utf8_lossy(&line)) {
                        got.push((ms, change));
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    ended = true;
                    break;
                }
            }
        }
        let how = ended.then(|| stream.ended().unwrap_or_else(|| "closed its output".into()));
        for (at, change) in got {
            self.repl_change(at, stamp, change, out);
        }
        if let Some(how) = how {
            self.stream = None;
            let at_once = self
                .stream_started
                .is_some_and(|at| ms.saturating_sub(at) < AT_ONCE_MS);
            if at_once
                && read_proc_drbd(&self.proc_drbd)
                    .is_ok_and(|t| !events::parse_proc_drbd(&t).is_empty())
            {
                // No events2 here (drbd-utils without it, a tool that does not match the
                // kernel): poll from now on, and say so in the series.
                self.polling = true;
                out.push(gap(
                    stamp,
                    ms,
                    ms,
                    "replication",
                    0,
                    format!(
                        "{} {how} at once; from here {}",
                        argv.join(" "),
                        self.polling_described()
                    ),
                ));
                return self.poll_proc_drbd(ms, stamp, out);
            }
            self.stream_down_since = Some((ms, format!("{} {how}", argv.join(" "))));
        }
    }

    fn tick_kernel(&mut self, ms: u64, stamp: &dyn Fn(u64) -> String, out: &mut Vec<Record>) {
        let mut lines = Vec::new();
        let mut lost = 0u64;
        let mut failed = None;
        match &mut self.kernel.kind {
            KernelKind::None => return,
            KernelKind::Kmsg(receive) => loop {
                match receive.try_recv() {
                    Ok(KernelMsg::Line(line)) => lines.push(line),
                    Ok(KernelMsg::Lost(_)) => lost += 1,
                    Ok(KernelMsg::Failed(reason)) => {
                        failed = Some(reason);
                        break;
                    }
                    Err(_) => break,
                }
                if lines.len() >= 50_000 {
                    break;
                }
            },
            KernelKind::Files(followers) => {
                for follower in followers.iter_mut() {
                    let polled = follower.poll();
                    if polled.restarted {
                        out.push(gap(
                            stamp,
                            ms,
                            ms,
                            "kernel log",
                            0,
                            format!(
                                "{} was rotated or truncated; lines written to the old file after the last read may be missing",
                                follower.path.display()
                            ),
                        ));
                    }
                    lines.extend(polled.lines);
                }
            }
        }
        let mut kept = 0;
        for line in lines.into_iter().filter(|l| is_replication_line(l)) {
            if kept >= MAX_KERNEL_LINES_PER_TICK {
                lost += 1;
                continue;
            }
            kept += 1;
            out.push(Record::Kernel {
                t: stamp(ms),
                ms,
                line,
            });
        }
        if lost > 0 {
            out.push(gap(
                stamp,
                ms,
                ms,
                "kernel log",
                lost,
                "more replication lines than the sampler keeps per tick, or records the kernel overwrote".into(),
            ));
        }
        if let Some(reason) = failed {
            out.push(gap(stamp, ms, ms, "kernel log", 0, reason));
            self.kernel.kind = KernelKind::None;
        }
    }

    fn tick_drx(&mut self, ms: u64, stamp: &dyn Fn(u64) -> String, out: &mut Vec<Record>) {
        let rescan = self
            .drx_scanned
            .is_none_or(|at| ms >= at + RESCAN_EVERY.as_millis() as u64);
        if rescan {
            let first = self.drx_scanned.is_none();
            self.drx_scanned = Some(ms);
            for (resource, path) in drx_logs(self.sources.root.as_deref()) {
                if self.drx.len() >= MAX_DRX_LOGS {
                    break;
                }
                if self.drx.iter().any(|(_, f)| f.path == path) {
                    continue;
                }
                let mut follower = Follower::new(path);
                if first {
                    follower.start_at_end();
                }
                self.drx.push((resource, follower));
            }
        }
        for (resource, follower) in &mut self.drx {
            let polled = follower.poll();
            for line in polled.lines {
                let Some(state) = drx_state(&line) else {
                    continue;
                };
                // Only changes: DRX repeats its state while it stays in it.
                if self.drx_states.get(resource.as_str()).map(String::as_str) == Some(state) {
                    continue;
                }
                self.drx_states.insert(resource.clone(), state.to_string());
                out.push(Record::Drx {
                    t: stamp(ms),
                    ms,
                    resource: resource.clone(),
                    state: state.to_string(),
                    line,
                });
            }
        }
    }
}

fn socket(
    stamp: &dyn Fn(u64) -> String,
    ms: u64,
    (local, remote): &(std::net::SocketAddr, std::net::SocketAddr),
    state: &str,
) -> Record {
    Record::Socket {
        t: stamp(ms),
        ms,
        local: local.to_string(),
        remote: remote.to_string(),
        state: state.to_string(),
    }
}

fn gap(
    stamp: &dyn Fn(u64) -> String,
    from: u64,
    to: u64,
    sampler: &str,
    lost: u64,
    reason: String,
) -> Record {
    Record::Gap {
        t: stamp(from),
        ms: from,
        sampler: sampler.into(),
        for_ms: to.saturating_sub(from),
        lost,
        reason,
    }
}

/// The live kernel log is `/dev/kmsg`; under `--root` (or where it cannot be read) the
/// syslog files that receive kernel lines are followed.
fn kernel_source(root: Option<&Path>) -> KernelSource {
    if root.is_none() {
        if let Ok(receive) = follow::kmsg(Path::new("/dev/kmsg")) {
            return KernelSource {
                describe: "/dev/kmsg".into(),
                kind: KernelKind::Kmsg(receive),
            };
        }
    }
    let base = root.map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
    let files: Vec<PathBuf> = ["var/log/kern.log", "var/log/messages", "var/log/syslog"]
        .iter()
        .map(|p| base.join(p))
        .filter(|p| p.is_file())
        .collect();
    if files.is_empty() {
        return KernelSource {
            describe: "none (no /dev/kmsg, kern.log, messages or syslog to follow)".into(),
            kind: KernelKind::None,
        };
    }
    let describe = super::display_paths(&files);
    let followers = files
        .into_iter()
        .map(|path| {
            let mut follower = Follower::new(path);
            follower.start_at_end();
            follower
        })
        .collect();
    KernelSource {
        describe,
        kind: KernelKind::Files(followers),
    }
}

/// Where DRX keeps its logs: `{install}/logs/main.log` and `{install}/logs/<res>/<res>.log`.
fn drx_dirs(root: Option<&Path>) -> Vec<PathBuf> {
    let base = root.map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
    ["opt/DRX/logs", "C/Program Files/DRX/logs"]
        .iter()
        .map(|p| base.join(p))
        .collect()
}

/// The DRX log files now present: (resource, path), `main` for the process-wide log.
fn drx_logs(root: Option<&Path>) -> Vec<(String, PathBuf)> {
    let mut logs = Vec::new();
    for dir in drx_dirs(root) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten().take(MAX_DRX_LOGS * 4) {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_file() && name.ends_with(".log") {
                logs.push(("main".to_string(), path));
            } else if path.is_dir() {
                let log = path.join(format!("{name}.log"));
                if log.is_file() {
                    logs.push((name, log));
                }
            }
        }
    }
    logs.sort();
    logs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drx_states_are_whole_words() {
        assert_eq!(
            drx_state("I0101 resource r0 state: bridging"),
            Some("bridging")
        );
        assert_eq!(drx_state("state changed to Bridged"), Some("bridged"));
        assert_eq!(drx_state("peer disconnected"), Some("disconnected"));
        assert_eq!(drx_state("reconnecting soon"), None);
        assert_eq!(drx_state("nothing here"), None);
    }

    #[test]
    fn socket_changes_and_failures_become_records_and_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("proc/net");
        std::fs::create_dir_all(&net).unwrap();
        let header = "  sl  local_address rem_address   st\n";
        let syn = " 1: 0100A8C0:9C40 0200A8C0:1E6C 02 0 0 0 0 0 0\n";
        let est = " 1: 0100A8C0:9C40 0200A8C0:1E6C 01 0 0 0 0 0 0\n";
        std::fs::write(net.join("tcp"), format!("{header}{syn}")).unwrap();
        let mut samplers = Samplers::new(Sources {
            root: Some(dir.path().to_path_buf()),
            ports: vec![7788],
            sockets: true,
            interval: Duration::from_millis(250),
            events: None,
            origin: std::time::Instant::now(),
        });
        let stamp = |ms: u64| format!("t{ms}");
        let mut out = Vec::new();
        samplers.tick(0, &stamp, &mut out);
        samplers.tick(250, &stamp, &mut out);
        std::fs::write(net.join("tcp"), format!("{header}{est}")).unwrap();
        samplers.tick(500, &stamp, &mut out);
        std::fs::remove_file(net.join("tcp")).unwrap();
        samplers.tick(750, &stamp, &mut out);
        samplers.tick(1000, &stamp, &mut out);
        std::fs::write(net.join("tcp"), header).unwrap();
        // Late: 2 s after the last tick.
        samplers.tick(3000, &stamp, &mut out);
        let got: Vec<String> = out
            .iter()
            .map(|r| match r {
                Record::Socket { ms, state, .. } => format!("{ms} {state}"),
                Record::Gap {
                    ms,
                    for_ms,
                    sampler,
                    ..
                } => format!("{ms} gap {sampler} {for_ms}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            got,
            [
                "0 SYN_SENT",
                "500 ESTABLISHED",
                "1250 gap sockets 1750",
                "750 gap sockets 2250",
                "3000 gone"
            ]
        );
    }
}
