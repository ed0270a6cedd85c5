//! The system's OpenSSH client as the transport to a peer: the customer's own keys, agent,
//! `known_hosts` and password prompt. One master connection (ControlMaster in a private
//! directory) carries every step, so a password is asked at most once. Each step has a deadline
//! after which ssh is killed; a peer's answer is untrusted and read with a cap.
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

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
    ) -> io::Result<Ssh> {
        let control_dir = private_temp_dir()?;
        Ok(Ssh {
            destination,
            config,
            control_dir,
            interactive,
        })
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

    /// Runs `remote` (a POSIX shell command line) on the peer with a deadline. `input` is
    /// copied to its stdin; its stdout goes to `sink` when given (streamed, at most `cap` bytes),
    /// else is kept (at most `cap` bytes).
    pub fn run(
        &self,
        remote: &str,
        input: Option<Box<dyn Read + Send>>,
        sink: Option<&mut dyn Write>,
        cap: u64,
        timeout: Duration,
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
        let stderr_thread = thread::spawn(move || {
            let mut kept = Vec::new();
            let mut stderr = stderr;
            let _ = (&mut stderr).take(64 * 1024).read_to_end(&mut kept);
            // Drain the rest, so a chatty peer never blocks on a full pipe.
            let _ = io::copy(&mut stderr, &mut io::sink());
            kept
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
        let mut timed_out = false;
        let mut write_error = None;
        loop {
            let now = Instant::now();
            if now >= deadline || crate::platform::interrupted().is_some() {
                timed_out = true;
                break;
            }
            let chunk =
                match received.recv_timeout((deadline - now).min(Duration::from_millis(200))) {
                    Ok(chunk) => chunk,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
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
        if timed_out || over_cap || write_error.is_some() {
            crate::platform::kill_tree(&mut child);
        }
        drop(received);
        // Wait for ssh itself, bounded: after stdout closed it exits at once.
        let wait_until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < wait_until {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        if !matches!(child.try_wait(), Ok(Some(_))) {
            crate::platform::kill_tree(&mut child);
        }
        let _ = reader.join();
        let status = child.wait();
        crate::platform::unregister_child(&child);
        if let Some(feeder) = feeder {
            let _ = feeder.join();
        }
        let stderr = stderr_thread.join().unwrap_or_default();
        if timed_out {
            let step: String = remote
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .filter(|c| !c.is_control())
                .take(60)
                .collect();
            return Err(format!(
                "the peer did not finish `{step}` within {:.0} s; the connection was closed",
                timeout.as_secs_f64()
            ));
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
            let until = Instant::now() + Duration::from_secs(5);
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
