//! The guide's active connectivity tests as bounded, harmless probes (guide §3.1, §3.5): ping of
//! loopback, of each local replication address and of each peer address (the system `ping`, two
//! packets, one second each), and a TCP connect to each peer endpoint (two seconds, no data sent,
//! closed at once). Only addresses taken from the node's own configuration are ever probed; the
//! caller chooses them (see `Target`), this module only runs and records.
//!
//! Results are rendered as `commands/probe.txt` (one line per probe, parsed back by
//! [`parse`] for the rules) and as the index's `probes` list.
use crate::index::Status;
use crate::process;
use serde::{Deserialize, Serialize};
use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long one TCP connect may take.
pub const TCP_TIMEOUT: Duration = Duration::from_secs(2);
/// Packets per ping, and how long to wait for each answer.
pub const PING_COUNT: u32 = 2;
pub const PING_WAIT: Duration = Duration::from_secs(1);
/// A ping run is killed after this, whatever the system's ping does with its options.
const PING_DEADLINE: Duration = Duration::from_secs(5);
/// At most this many probes in one run: a configuration with thousands of resources is probed
/// in part, and the rest is recorded as not probed.
pub const MAX_PROBES: usize = 64;
/// Probes run at once.
const PARALLEL: usize = 8;

/// Why an address is probed: decides which rule reads the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// 127.0.0.1: the reference for a local address that does not answer.
    Loopback,
    /// This node's own replication address (a resource's `address`, a DRX `inside`).
    Local,
    /// The peer's address (ping) or endpoint (TCP).
    Peer,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Loopback => "loopback",
            Role::Local => "local",
            Role::Peer => "peer",
        }
    }

    fn parse(text: &str) -> Option<Role> {
        match text {
            "loopback" => Some(Role::Loopback),
            "local" => Some(Role::Local),
            "peer" => Some(Role::Peer),
            _ => None,
        }
    }
}

/// One probe to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Ping { ip: IpAddr, role: Role, why: String },
    Tcp { addr: SocketAddr, why: String },
}

impl Target {
    fn key(&self) -> String {
        match self {
            Target::Ping { ip, .. } => format!("ping {ip}"),
            Target::Tcp { addr, .. } => format!("tcp {addr}"),
        }
    }
}

/// What a probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// ping: at least one answer.
    Answered,
    /// ping: no answer within the wait.
    NoAnswer,
    /// TCP: the handshake completed (closed at once, no data sent).
    Connected,
    /// TCP: a reset came back (nothing listens, or a firewall rejects).
    Refused,
    /// TCP: no answer within the timeout (dropped on the way or at the peer).
    TimedOut,
    /// No route, network or host unreachable (ICMP error or local routing).
    Unreachable,
    /// The probe itself could not run (no `ping` installed, not permitted, …).
    NotRun,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::NoAnswer => "no-answer",
            Outcome::Connected => "connected",
            Outcome::Refused => "refused",
            Outcome::TimedOut => "timed-out",
            Outcome::Unreachable => "unreachable",
            Outcome::NotRun => "not-run",
        }
    }

    fn parse(text: &str) -> Option<Outcome> {
        [
            Outcome::Answered,
            Outcome::NoAnswer,
            Outcome::Connected,
            Outcome::Refused,
            Outcome::TimedOut,
            Outcome::Unreachable,
            Outcome::NotRun,
        ]
        .into_iter()
        .find(|o| o.as_str() == text)
    }
}

/// One probe's result: the index's `probes` entries and one line of `commands/probe.txt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// `ping` or `tcp`.
    pub kind: String,
    pub role: Role,
    /// An IP address (ping) or address:port (TCP).
    pub target: String,
    pub outcome: Outcome,
    pub ms: u64,
    /// Why this address was probed (which resource, which side).
    pub why: String,
    /// What the system said when the probe could not run or was unreachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Runs every target once (duplicates dropped, at most [`MAX_PROBES`]), eight at a time, so the
/// whole stays within a few seconds. `path_only`: find `ping` in PATH only (under `--root`).
pub fn run(targets: &[Target], path_only: bool) -> Vec<ProbeResult> {
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<Target> = targets
        .iter()
        .filter(|t| seen.insert(t.key()))
        .take(MAX_PROBES)
        .cloned()
        .collect();
    let mut results = Vec::with_capacity(unique.len());
    for batch in unique.chunks(PARALLEL) {
        let handles: Vec<_> = batch
            .iter()
            .cloned()
            .map(|target| {
                std::thread::spawn(move || match target {
                    Target::Ping { ip, role, why } => ping_probe(ip, role, &why, path_only),
                    Target::Tcp { addr, why } => tcp_probe(addr, &why),
                })
            })
            .collect();
        results.extend(handles.into_iter().filter_map(|h| h.join().ok()));
        if crate::platform::interrupted().is_some() {
            break;
        }
    }
    results
}

/// A TCP connect with a timeout; the stream is dropped (closed) at once and nothing is sent.
pub fn tcp_probe(addr: SocketAddr, why: &str) -> ProbeResult {
    let started = Instant::now();
    let (outcome, note) = match TcpStream::connect_timeout(&addr, TCP_TIMEOUT) {
        Ok(stream) => {
            drop(stream);
            (Outcome::Connected, None)
        }
        Err(err) => classify_connect_error(&err),
    };
    ProbeResult {
        kind: "tcp".into(),
        role: Role::Peer,
        target: addr.to_string(),
        outcome,
        ms: started.elapsed().as_millis() as u64,
        why: why.to_string(),
        note,
    }
}

fn classify_connect_error(err: &io::Error) -> (Outcome, Option<String>) {
    let note = Some(crate::error::describe_io(err));
    match err.kind() {
        io::ErrorKind::ConnectionRefused => (Outcome::Refused, None),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => (Outcome::TimedOut, None),
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            (Outcome::Unreachable, note)
        }
        _ => (Outcome::NotRun, note),
    }
}

/// The system's ping: two packets, one second each, killed with its process group at a deadline.
pub fn ping_probe(ip: IpAddr, role: Role, why: &str, path_only: bool) -> ProbeResult {
    let started = Instant::now();
    let argv = ping_argv(ip);
    let output = process::run(&argv, PING_DEADLINE, 64 * 1024, &[0, 1], path_only);
    let (outcome, note) = match (output.status, output.exit_code) {
        (Some(Status::Ok), Some(0)) => (Outcome::Answered, None),
        // iputils ping and Windows ping: 1 = no reply.
        (Some(Status::Ok), Some(1)) => {
            if ping_says_unreachable(&output.stdout) {
                (Outcome::Unreachable, first_line(&output.stdout))
            } else {
                (Outcome::NoAnswer, None)
            }
        }
        (Some(Status::Timeout), _) => (Outcome::NoAnswer, None),
        _ => (
            Outcome::NotRun,
            output
                .error
                .clone()
                .or_else(|| first_line(&output.stderr))
                .or_else(|| Some(format!("ping exited with status {:?}", output.exit_code))),
        ),
    };
    ProbeResult {
        kind: "ping".into(),
        role,
        target: ip.to_string(),
        outcome,
        ms: started.elapsed().as_millis() as u64,
        why: why.to_string(),
        note,
    }
}

fn ping_argv(ip: IpAddr) -> Vec<String> {
    let ip_text = ip.to_string();
    let mut argv: Vec<String> = if cfg!(windows) {
        // -n count, -w wait in milliseconds; Windows ping takes IPv6 addresses as they are.
        vec![
            "ping".into(),
            "-n".into(),
            PING_COUNT.to_string(),
            "-w".into(),
            PING_WAIT.as_millis().to_string(),
        ]
    } else {
        // iputils and busybox: -c count, -W seconds to wait for a reply; -n no name look-ups.
        vec![
            "ping".into(),
            "-n".into(),
            "-c".into(),
            PING_COUNT.to_string(),
            "-W".into(),
            PING_WAIT.as_secs().max(1).to_string(),
        ]
    };
    if ip.is_ipv6() && !cfg!(windows) {
        // Old iputils (CentOS 6) has a separate ping6 and no -6.
        if process::find_program("ping6", false).is_some() {
            argv[0] = "ping6".into();
        } else {
            argv.push("-6".into());
        }
    }
    argv.push(ip_text);
    argv
}

fn ping_says_unreachable(stdout: &[u8]) -> bool {
    let text = String::from_utf8_lossy(stdout).to_ascii_lowercase();
    text.contains("unreachable")
}

fn first_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| l.chars().take(200).collect())
}

/// The header of `commands/probe.txt`.
pub const HEADER: &str = "# drx-collect probes: ping = system ping, 2 packets, 1 s each; \
tcp = connect with a 2 s timeout, no data sent\n# kind role target outcome ms why\n";

/// `commands/probe.txt`: a header, then one tab-separated line per probe.
pub fn render(results: &[ProbeResult]) -> String {
    let mut text = String::from(HEADER);
    for r in results {
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            r.kind,
            r.role.as_str(),
            r.target,
            r.outcome.as_str(),
            r.ms,
            clean(&r.why)
        ));
        if let Some(note) = &r.note {
            text.push_str(&format!("\t{}", clean(note)));
        }
        text.push('\n');
    }
    text
}

fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Reads `commands/probe.txt` back (a bundle is untrusted: malformed lines are skipped).
pub fn parse(text: &str) -> Vec<ProbeResult> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let kind = fields.next()?;
            if kind != "ping" && kind != "tcp" {
                return None;
            }
            let role = Role::parse(fields.next()?)?;
            let target = fields.next()?.to_string();
            let outcome = Outcome::parse(fields.next()?)?;
            let ms = fields.next()?.parse().ok()?;
            let why = fields.next().unwrap_or_default().to_string();
            let note = fields.next().map(str::to_string);
            Some(ProbeResult {
                kind: kind.into(),
                role,
                target,
                outcome,
                ms,
                why,
                note,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn tcp_connects_to_a_listener_and_is_refused_by_a_closed_port() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listener.local_addr().unwrap();
        let result = tcp_probe(open, "test listener");
        assert_eq!(result.outcome, Outcome::Connected);

        // A port that was just free: bind, learn it, close.
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let result = tcp_probe(closed, "closed port");
        assert_eq!(result.outcome, Outcome::Refused);
    }

    #[test]
    fn probe_txt_round_trips_and_skips_garbage() {
        let results = vec![
            ProbeResult {
                kind: "ping".into(),
                role: Role::Loopback,
                target: "127.0.0.1".into(),
                outcome: Outcome::Answered,
                ms: 3,
                why: "loopback".into(),
                note: None,
            },
            ProbeResult {
                kind: "tcp".into(),
                role: Role::Peer,
                target: "[fe80::1%2]:7789".into(),
                outcome: Outcome::TimedOut,
                ms: 2000,
                why: "peer node2 of r0\twith a tab".into(),
                note: Some("line\nbreak".into()),
            },
        ];
        let text = render(&results);
        let mut back = parse(&text);
        assert_eq!(back.len(), 2);
        assert_eq!(back[0], results[0]);
        assert_eq!(back[1].why, "peer node2 of r0 with a tab");
        assert_eq!(back[1].note.as_deref(), Some("line break"));
        back.clear();
        let hostile = "tcp\tpeer\t1.2.3.4:1\tbogus\t1\tx\nping\tnobody\t1.1.1.1\tanswered\t1\t\n\
                       tcp\tpeer\t1.2.3.4:1\trefused\tNaN\tx\n\u{1b}[2J\n";
        assert!(parse(hostile).is_empty());
    }

    #[test]
    fn duplicates_are_probed_once_and_the_count_is_capped() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let targets: Vec<Target> = (0..MAX_PROBES * 2)
            .map(|i| Target::Tcp {
                addr,
                why: format!("copy {i}"),
            })
            .collect();
        let results = run(&targets, true);
        assert_eq!(results.len(), 1);
    }

    #[test]
    fn ping_argv_is_bounded() {
        let argv = ping_argv("192.0.2.1".parse().unwrap());
        assert_eq!(argv.last().unwrap(), "192.0.2.1");
        if !cfg!(windows) {
            assert!(argv.windows(2).any(|w| w == ["-c", "2"]));
            assert!(argv.windows(2).any(|w| w == ["-W", "1"]));
        }
    }
}
