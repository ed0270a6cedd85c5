//! The system's OpenSSH client as the transport to a peer: the customer's own keys, agent,
//! `known_hosts` and password prompt. One master connection (ControlMaster in a private
//! directory) carries every step, so a password is asked at most once. Each step has a deadline
//! after which ssh is killed, and none runs past the run's `--total-timeout`, an interruption
//! or the run giving up; only the final clean-up is sent even then, briefly. A peer's answer is
//! untrusted and read with a cap.
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// How long the clean-up on the peer may take, sent even after the deadline or an interruption.
pub const CLEANUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Where to reach the peer: what `ssh` takes as destination, and a port when given as `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `host`, `user@host` or an ssh config alias, as ssh takes it.
    pub target: String,
    pub port: Option<u16>,
}

impl Destination {
    /// `host`, `user@host`, `host:port`, `user@host:port`, `[v6]:port`, a bare IPv6 address or
    /// an ssh config alias.
    pub fn parse(text: &str) -> Result<Destination, String> {
        let text = text.trim();
        let bad = |why: &str| {
            Err(format!(
                "--peer '{text}' {why}; give host, user@host, host:port or an ssh config alias"
            ))
        };
        if text.is_empty() {
            return bad("is empty");
        }
        if text.starts_with('-') || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("is not a host name");
        }
        let (user, host_port) = match text.rsplit_once('@') {
            Some((user, rest)) if !user.is_empty() => (Some(user), rest),
            Some(_) => return bad("has an empty user name"),
            None => (None, text),
        };
        let (host, port) = if let Some(rest) = host_port.strip_prefix('[') {
            let Some((host, after)) = rest.split_once(']') else {
                return bad("has '[' without ']'");
            };
            match after.strip_prefix(':') {
                Some(port) => (host.to_string(), Some(port)),
                None if after.is_empty() => (host.to_string(), None),
                None => return bad("has text after ']'"),
            }
        } else if host_port.matches(':').count() == 1 {
            let (host, port) = host_port.split_once(':').expect("one colon");
            (host.to_string(), Some(port))
        } else {
            // No colon, or a bare IPv6 address.
            (host_port.to_string(), None)
        };
        if host.is_empty() {
            return bad("has no host");
        }
        let port = match port {
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => Some(n),
                _ => return bad("has a port that is not a number from 1 to 65535"),
            },
            None => None,
        };
        let target = match user {
            Some(user) => format!("{user}@{host}"),
            None => host,
        };
        Ok(Destination { target, port })
    }

    /// The host part, for file names and messages.
    pub fn host(&self) -> &str {
        self.target
            .rsplit_once('@')
            .map(|(_, h)| h)
            .unwrap_or(&self.target)
    }
}

/// What one ssh step produced.
#[derive(Debug)]
pub struct StepOutput {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// A connection to one peer.
pub struct Ssh {
    destination: Destination,
    config: Option<PathBuf>,
    control_dir: PathBuf,
    interactive: bool,
    /// Set when the run gives the peer up (this node's own collection failed).
    stop: Arc<AtomicBool>,
    /// The run's `--total-timeout`: no step runs past it.
    deadline: Option<Instant>,
}

/// Why a step ended before the peer's command did.
enum Cut {
    /// Its own time limit.
    Timeout,
    /// The run's `--total-timeout`.
    Deadline,
    /// A signal, or the run gave the peer up.
    Stopped,
}

/// Quotes `text` for the peer's POSIX shell.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

impl Ssh {
    /// `interactive`: a terminal is there for ssh's prompts (password, unknown host key);
    /// without one, ssh runs in BatchMode and fails instead of asking.
    pub fn new(
        destination: Destination,
        config: Option<PathBuf>,
        interactive: bool,
        stop: Arc<AtomicBool>,
        deadline: Option<Instant>,
    ) -> io::Result<Ssh> {
        let control_dir = private_temp_dir()?;
        Ok(Ssh {
            destination,
            config,
            control_dir,
            interactive,
            stop,
            deadline,
        })
    }

    /// The run was interrupted or gave the peer up.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || crate::platform::interrupted().is_some()
    }

    /// The time left before the run's `--total-timeout`, `None` without one.
    pub fn time_left(&self) -> Option<Duration> {
        self.deadline
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    fn command(&self, remote: &str) -> Command {
        let mut command = Command::new("ssh");
        if let Some(config) = &self.config {
            command.arg("-F").arg(config);
        }
        if let Some(port) = self.destination.port {
            command.arg("-p").arg(port.to_string());
        }
        command
            .arg("-o")
            .arg("ControlMaster=auto")
            .arg("-o")
            .arg(format!(
                "ControlPath={}",
                self.control_dir.join("cm").display()
            ))
            .arg("-o")
            .arg("ControlPersist=120")
            .arg("-o")
            .arg("ServerAliveInterval=5")
            .arg("-o")
            .arg("ServerAliveCountMax=3")
            .arg("-o")
            .arg("ConnectTimeout=15")
            .arg("-T");
        if !self.interactive {
            command.arg("-o").arg("BatchMode=yes");
        }
        command.arg("--").arg(&self.destination.target).arg(remote);
        command
    }

    /// Runs `remote` (a POSIX shell command line) on the peer within `timeout` and the run's
    /// deadline. `input` is copied to its stdin; its stdout goes to `sink` when given
    /// (streamed, at most `cap` bytes), else is kept (at most `cap` bytes).
    pub fn run(
        &self,
        remote: &str,
        input: Option<Box<dyn Read + Send>>,
        sink: Option<&mut dyn Write>,
        cap: u64,
        timeout: Duration,
    ) -> Result<StepOutput, String> {
        if self.stopped() {
            return Err(stopped_message(remote));
        }
        let (timeout, by_deadline) = match self.time_left() {
            Some(left) if left <= timeout => (left, true),
            _ => (timeout, false),
        };
        if timeout.is_zero() {
            return Err(format!(
                "the run's --total-timeout was reached before `{}` could be sent to the peer",
                step_name(remote)
            ));
        }
        self.step(remote, input, sink, cap, timeout, by_deadline, true)
    }

    /// The clean-up on the peer: sent even after the deadline, an interruption or the run
    /// giving up (nothing may stay there), for [`CLEANUP_TIMEOUT`] at most.
    pub fn run_cleanup(&self, remote: &str) -> Result<StepOutput, String> {
        self.step(remote, None, None, 4096, CLEANUP_TIMEOUT, false, false)
    }

    #[allow(clippy::too_many_arguments)]
    fn step(
        &self,
        remote: &str,
        input: Option<Box<dyn Read + Send>>,
        sink: Option<&mut dyn Write>,
        cap: u64,
        timeout: Duration,
        by_deadline: bool,
        stoppable: bool,
    ) -> Result<StepOutput, String> {
        let mut command = self.command(remote);
        command
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // The first connection may ask for a password on the terminal: it must stay in the
        // terminal's foreground process group. Later steps ride on the master connection.
        if !self.interactive {
            crate::platform::own_process_group(&mut command);
        }
        let mut child = command.spawn().map_err(|err| {
            if err.kind() == io::ErrorKind::NotFound {
                "the OpenSSH client (ssh) is not installed; install openssh-clients (CentOS) or openssh-client (Debian)".to_string()
            } else {
                format!("cannot start ssh: {}", crate::error::describe_io(&err))
            }
        })?;
        crate::platform::register_child(&child);
        let feeder = input.map(|mut input| {
            let mut stdin = child.stdin.take().expect("stdin is piped");
            thread::spawn(move || {
                let _ = io::copy(&mut input, &mut stdin);
            })
        });
        let stderr = child.stderr.take().expect("stderr is piped");
        let (stderr_sender, stderr_text) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let mut kept = Vec::new();
            let mut stderr = stderr;
            let _ = (&mut stderr).take(64 * 1024).read_to_end(&mut kept);
            // Drain the rest, so a chatty peer never blocks on a full pipe.
            let _ = io::copy(&mut stderr, &mut io::sink());
            let _ = stderr_sender.send(kept);
        });
        let stdout = child.stdout.take().expect("stdout is piped");
        // The reader thread hands chunks over a small bounded channel; this thread writes them
        // and watches the deadline, so a silent peer cannot hold the run.
        let (chunks, received) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let reader = thread::spawn(move || {
            let mut stdout = stdout;
            loop {
                let mut buf = vec![0u8; 256 * 1024];
                match stdout.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        if chunks.send(buf).is_err() {
                            break;
                        }
                    }
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
        });
        let deadline = Instant::now() + timeout;
        let mut kept = Vec::new();
        let mut total: u64 = 0;
        let mut sink = sink;
        let mut over_cap = false;
        let mut ended = false;
        let mut cut = None;
        let mut write_error = None;
        loop {
            let now = Instant::now();
            if stoppable && self.stopped() {
                cut = Some(Cut::Stopped);
                break;
            }
            if now >= deadline {
                cut = Some(if by_deadline {
                    Cut::Deadline
                } else {
                    Cut::Timeout
                });
                break;
            }
            let chunk =
                match received.recv_timeout((deadline - now).min(Duration::from_millis(200))) {
                    Ok(chunk) => chunk,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                        ended = true;
                        break;
                    }
                };
            total += chunk.len() as u64;
            if total > cap {
                over_cap = true;
                break;
            }
            match sink.as_deref_mut() {
                Some(out) => {
                    if let Err(err) = out.write_all(&chunk) {
                        write_error = Some(crate::error::describe_io(&err));
                        break;
                    }
                }
                None => kept.extend_from_slice(&chunk),
            }
        }
        if cut.is_some() || over_cap || write_error.is_some() {
            crate::platform::kill_tree(&mut child);
        }
        drop(received);
        // Wait for ssh itself, bounded: after stdout closed it exits at once. Under a deadline
        // or for the clean-up, briefly.
        let patience = if self.deadline.is_some() || !stoppable {
            Duration::from_secs(2)
        } else {
            Duration::from_secs(10)
        };
        let wait_until = Instant::now() + patience;
        while Instant::now() < wait_until {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        if !matches!(child.try_wait(), Ok(Some(_))) {
            crate::platform::kill_tree(&mut child);
        }
        let status = child.wait();
        crate::platform::unregister_child(&child);
        // A step cut off is not waited for: ssh hands a session's pipes to its master process,
        // which holds them open while the peer's command still runs (a stalled peer). The
        // threads end when the master goes (`close`).
        if ended {
            let _ = reader.join();
            if let Some(feeder) = feeder {
                let _ = feeder.join();
            }
        }
        let stderr = stderr_text
            .recv_timeout(if ended {
                patience
            } else {
                Duration::from_millis(200)
            })
            .unwrap_or_default();
        match cut {
            Some(Cut::Timeout) => {
                return Err(format!(
                    "the peer did not finish `{}` within {:.0} s; the connection was closed",
                    step_name(remote),
                    timeout.as_secs_f64()
                ))
            }
            Some(Cut::Deadline) => {
                return Err(format!(
                    "the peer did not finish `{}` by the run's --total-timeout; the connection was closed",
                    step_name(remote)
                ))
            }
            Some(Cut::Stopped) => return Err(stopped_message(remote)),
            None => {}
        }
        if over_cap {
            return Err(format!(
                "the peer sent more than {} for one step; refused",
                crate::units::human_size(cap)
            ));
        }
        if let Some(err) = write_error {
            return Err(format!("cannot store what the peer sent: {err}"));
        }
        Ok(StepOutput {
            code: status.ok().and_then(|s| s.code()),
            stdout: kept,
            stderr,
        })
    }

    /// Closes the master connection and removes the control directory.
    pub fn close(&self) {
        let mut command = Command::new("ssh");
        if let Some(config) = &self.config {
            command.arg("-F").arg(config);
        }
        command
            .arg("-o")
            .arg(format!(
                "ControlPath={}",
                self.control_dir.join("cm").display()
            ))
            .arg("-O")
            .arg("exit")
            .arg("--")
            .arg(&self.destination.target)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Ok(mut child) = command.spawn() {
            // ssh talks to its own master process here, which answers at once.
            let until = Instant::now() + Duration::from_secs(3);
            while Instant::now() < until {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.control_dir);
    }
}

impl Drop for Ssh {
    fn drop(&mut self) {
        if self.control_dir.exists() {
            self.close();
        }
    }
}

/// The first words of a step's command line, for messages.
fn step_name(remote: &str) -> String {
    remote
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(60)
        .collect()
}

fn stopped_message(remote: &str) -> String {
    match crate::platform::interrupted() {
        Some(signal) => format!(
            "stopped by {} during `{}`",
            crate::platform::interruption_name(signal),
            step_name(remote)
        ),
        None => format!(
            "given up during `{}`: this node's own collection failed",
            step_name(remote)
        ),
    }
}

/// A new directory only this user can enter, for the control socket (short path: socket paths
/// are limited to about 100 bytes).
fn private_temp_dir() -> io::Result<PathBuf> {
    let base = Path::new("/tmp");
    for attempt in 0..16u32 {
        let name = format!(
            "drx-ssh-{}-{}",
            std::process::id(),
            (Instant::now().elapsed().as_nanos() as u32) ^ attempt.wrapping_mul(0x9e37_79b9)
        );
        let path = base.join(name);
        match crate::platform::create_private_dir(&path) {
            Ok(()) => return Ok(path),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        }
    }
    Err(io::Error::other(
        "no free name for a private directory in /tmp",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(target: &str, port: Option<u16>) -> Result<Destination, String> {
        Ok(Destination {
            target: target.into(),
            port,
        })
    }

    #[test]
    fn destinations_as_ssh_takes_them() {
        assert_eq!(Destination::parse("node2"), dest("node2", None));
        assert_eq!(Destination::parse("root@node2"), dest("root@node2", None));
        assert_eq!(Destination::parse("node2:2222"), dest("node2", Some(2222)));
        assert_eq!(
            Destination::parse("admin@10.0.0.2:22"),
            dest("admin@10.0.0.2", Some(22))
        );
        assert_eq!(
            Destination::parse("[fe80::1]:2222"),
            dest("fe80::1", Some(2222))
        );
        assert_eq!(Destination::parse("fe80::1"), dest("fe80::1", None));
        assert_eq!(Destination::parse("u@[::1]"), dest("u@::1", None));
        assert_eq!(Destination::parse("root@node2").unwrap().host(), "node2");
    }

    #[test]
    fn hostile_destinations_are_refused() {
        for bad in [
            "",
            "-oProxyCommand=sh",
            "node 2",
            "node2:0",
            "node2:99999",
            "node2:x",
            "@node2",
            "[::1",
            "[::1]x",
            "a\nb",
        ] {
            assert!(Destination::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
    }
}
