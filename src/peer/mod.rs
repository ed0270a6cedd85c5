//! `--peer HOST`: the same collection on the other node of the pair, over the system's OpenSSH
//! client (SPEC §9). Nothing is installed on the peer: when it has no drx-collect of this
//! version, this binary sends itself into a private temporary directory there, which is removed
//! afterwards with the peer's bundle. The bundle is streamed back with a size cap, its SHA-256
//! checked against what the peer reported, and then it is read like any untrusted bundle.
pub mod pair;
pub mod ssh;

use crate::layout::is_bundle_name;
use sha2::{Digest, Sha256};
use ssh::{quote, Destination, Ssh};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// What the peer's run needs.
#[derive(Debug, Clone)]
pub struct Request {
    pub destination: Destination,
    pub ssh_config: Option<PathBuf>,
    /// A terminal is there for ssh's prompts.
    pub interactive: bool,
    /// Collect options passed on to the peer's `drx-collect collect`.
    pub forward: Vec<String>,
    /// The local directory the peer's bundle is fetched into (under a hidden temporary name).
    pub dir: PathBuf,
    /// Tells this peer's temporary files from another peer's of the same run.
    pub slot: usize,
    /// How long the peer's collect may take without `--total-timeout`.
    pub timeout: Duration,
    /// The run's `--total-timeout`: every step on the peer ends by then.
    pub deadline: Option<Instant>,
    /// `--obfuscate`: the peer collects with this node's pseudonym map (handed over through
    /// [`Link::map`]) and its extended map comes back in [`Fetched::map`].
    pub obfuscate: bool,
    /// A file of this run in this machine's /tmp: a peer that sees it is this node.
    pub self_marker: Option<PathBuf>,
}

/// How the pair run and a peer's thread talk while the peer is collected.
pub struct Link {
    /// Set when the run gives the peer up (this node's own collection failed): the current
    /// step is stopped and the peer cleaned up.
    pub stop: Arc<AtomicBool>,
    /// Told (or dropped) once the peer was reached: ssh's prompts are over, so an interactive
    /// run can start this node's progress display.
    pub ready: Option<mpsc::Sender<()>>,
    /// `--obfuscate`: this node's pseudonym map, sent when this node's own bundle is written
    /// (dropped when it failed).
    pub map: Option<mpsc::Receiver<Vec<u8>>>,
}

/// The peer's bundle, fetched and checked against the peer's own hash.
#[derive(Debug)]
pub struct Fetched {
    /// A hidden temporary file in `Request::dir`; the caller moves or deletes it.
    pub path: PathBuf,
    /// The bundle's file name on the peer.
    pub name: String,
    pub sha256: String,
    pub size: u64,
    /// `--obfuscate`: the pseudonym map the peer ended with (this node's, extended by what only
    /// the peer met), fetched beside the bundle under a hidden temporary name.
    pub map: Option<PathBuf>,
}

/// How long the first connection may take: it may wait for a password typed by a person.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);
const STEP_TIMEOUT: Duration = Duration::from_secs(60);
/// A peer's bundle larger than this is refused (a peer is untrusted).
const MAX_BUNDLE: u64 = 8 << 30;
/// A pseudonym map larger than this is neither sent nor taken back.
pub const MAX_MAP: u64 = 64 << 20;
/// The binary is sent only to peers of the same kind as the one it was built for.
const THIS_PLATFORM: &str = if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
    "Linux x86_64"
} else if cfg!(all(target_os = "linux", target_arch = "aarch64")) {
    "Linux aarch64"
} else {
    ""
};

/// Collects the peer. The error is one sentence for the user and the case's gap list.
pub fn collect(request: &Request, link: Link) -> Result<Fetched, String> {
    let host = request.destination.host().to_string();
    let ssh = Ssh::new(
        request.destination.clone(),
        request.ssh_config.clone(),
        request.interactive,
        link.stop.clone(),
        request.deadline,
    )
    .map_err(|err| {
        format!(
            "cannot make a private directory for the ssh connection: {}",
            crate::error::describe_io(&err)
        )
    })?;
    let result = collect_with(&ssh, request, link, &host);
    ssh.close();
    result
}

fn collect_with(ssh: &Ssh, request: &Request, link: Link, host: &str) -> Result<Fetched, String> {
    // 1. Who is there: OS and architecture, an installed drx-collect's version, and whether
    // this run's marker in /tmp is there (then ssh came back to this very node).
    let marker = request
        .self_marker
        .as_ref()
        .map(|path| {
            format!(
                "[ -e {} ] && echo self:yes; ",
                quote(&path.display().to_string())
            )
        })
        .unwrap_or_default();
    let hello = ssh.run(
        &format!("uname -sm; echo \"version:$( (drx-collect --version || /usr/local/sbin/drx-collect --version) 2>/dev/null | head -n 1)\"; {marker}exit 0"),
        None,
        None,
        64 * 1024,
        CONNECT_TIMEOUT,
    );
    // The prompts, if any, are over.
    drop(link.ready);
    let hello = hello?;
    if hello.code != Some(0) {
        return Err(ssh_failure(host, &hello));
    }
    let hello_text = String::from_utf8_lossy(&hello.stdout);
    let mut lines = hello_text.lines();
    let platform = lines.next().unwrap_or("").trim().to_string();
    let mut installed = String::new();
    for line in lines {
        if let Some(version) = line.strip_prefix("version:") {
            installed = version.trim().to_string();
        } else if line.trim() == "self:yes" {
            return Err(format!(
                "{host} is this node itself (ssh to it came back to this machine: an alias, or a virtual IP this node holds now); nothing was collected twice: give the other node's own address with --peer"
            ));
        }
    }
    let ours = format!("drx-collect {}", env!("CARGO_PKG_VERSION"));
    let use_installed = installed == ours;
    if !use_installed && (THIS_PLATFORM.is_empty() || platform != THIS_PLATFORM) {
        return Err(format!(
            "{host} is '{}' and has no drx-collect {}; this binary is built for {}: install drx-collect on {host} or run the matching build there",
            printable(&platform),
            env!("CARGO_PKG_VERSION"),
            if THIS_PLATFORM.is_empty() { "another system" } else { THIS_PLATFORM }
        ));
    }

    // 2. A private directory on the peer for the binary and the bundle. Its name is chosen
    // here, so that it is removed even when this step is cut off after mkdir ran.
    let work = format!("/tmp/drx-collect-peer.{}", random_token());
    let made = ssh.run(
        &format!("umask 077 && mkdir -- {} && echo made", quote(&work)),
        None,
        None,
        4096,
        STEP_TIMEOUT,
    );
    let result = match made {
        Ok(out) if out.code == Some(0) && out.stdout.starts_with(b"made") => {
            run_in(ssh, request, link.map, host, &work, use_installed, &ours)
        }
        // mkdir failed: nothing of ours is there.
        Ok(out) => {
            return Err(format!(
                "cannot make a temporary directory on {host}: {}",
                stderr_line(&out.stderr).unwrap_or_else(|| "mkdir failed".into())
            ))
        }
        Err(err) => Err(err),
    };
    // Whatever happened, nothing stays on the peer.
    let _ = ssh.run_cleanup(&format!("rm -rf -- {}", quote(&work)));
    result
}

fn run_in(
    ssh: &Ssh,
    request: &Request,
    map: Option<mpsc::Receiver<Vec<u8>>>,
    host: &str,
    work: &str,
    use_installed: bool,
    ours: &str,
) -> Result<Fetched, String> {
    // 3. This binary, sent over the channel when the peer has no drx-collect of this version.
    let program = if use_installed {
        "drx-collect".to_string()
    } else {
        let exe = std::env::current_exe().map_err(|err| {
            format!("cannot find this program's own file to send to {host}: {err}")
        })?;
        let file = std::fs::File::open(&exe).map_err(|err| {
            format!(
                "cannot read {} to send it to {host}: {}",
                exe.display(),
                crate::error::describe_io(&err)
            )
        })?;
        let remote = format!("{work}/drx-collect");
        let sent = ssh.run(
            &format!(
                "cat > {r} && chmod 700 {r} && {r} --version",
                r = quote(&remote)
            ),
            Some(Box::new(file)),
            None,
            4096,
            STEP_TIMEOUT * 5,
        )?;
        let answer = String::from_utf8_lossy(&sent.stdout).trim().to_string();
        if sent.code != Some(0) || answer != ours {
            return Err(format!(
                "{host} cannot run this drx-collect ({}); install drx-collect there or use the static build (scripts/dist.sh)",
                stderr_line(&sent.stderr).unwrap_or_else(|| format!("it answered '{}'", printable(&answer)))
            ));
        }
        remote
    };

    // 4. --obfuscate: this node's pseudonym map, once this node is collected, so that both
    // bundles share one table (the same address or name is the same pseudonym on both).
    let map_path = format!("{work}/map.json");
    if let Some(map) = map {
        let bytes = wait_for_map(ssh, &map)?;
        let sent = ssh.run(
            &format!("umask 077 && cat > {}", quote(&map_path)),
            Some(Box::new(io::Cursor::new(bytes))),
            None,
            4096,
            STEP_TIMEOUT,
        )?;
        if sent.code != Some(0) {
            return Err(format!(
                "cannot hand this node's pseudonym map to {host}: {}",
                stderr_line(&sent.stderr).unwrap_or_else(|| format!("exit status {:?}", sent.code))
            ));
        }
    }

    // 5. The collection itself, by the run's deadline with time left to fetch the bundle.
    let mut line = vec![
        quote(&program),
        "collect".into(),
        "--quiet".into(),
        "--json".into(),
        "--output".into(),
        quote(work),
    ];
    line.extend(request.forward.iter().map(|arg| quote(arg)));
    if request.obfuscate {
        line.push("--obfuscate".into());
        line.push("--map-file".into());
        line.push(quote(&map_path));
    }
    let step_timeout = match ssh.time_left() {
        Some(left) => {
            let peer_total = peer_total_timeout(left).ok_or_else(|| {
                format!("the run's --total-timeout left no time to collect {host}")
            })?;
            line.push("--total-timeout".into());
            line.push(format!("{}ms", peer_total.as_millis()));
            left
        }
        None => request.timeout + STEP_TIMEOUT,
    };
    let run = ssh.run(&line.join(" "), None, None, 4 << 20, step_timeout)?;
    if run.code != Some(0) {
        return Err(format!(
            "drx-collect on {host} failed: {}",
            stderr_line(&run.stderr).unwrap_or_else(|| format!("exit status {:?}", run.code))
        ));
    }
    let report: serde_json::Value = serde_json::from_slice(&run.stdout)
        .map_err(|_| format!("drx-collect on {host} printed no result; refused"))?;
    let remote_bundle = report["bundle"].as_str().unwrap_or_default().to_string();
    let sha256 = report["sha256"].as_str().unwrap_or_default().to_string();
    let size = report["size"].as_u64().unwrap_or(0);
    let name = remote_bundle
        .strip_prefix(work)
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or_default()
        .to_string();
    if !is_bundle_name(&name) || !is_sha256(&sha256) || size == 0 || size > MAX_BUNDLE {
        return Err(format!(
            "drx-collect on {host} reported a bundle that is not one of ours ('{}'); refused",
            printable(&remote_bundle)
        ));
    }

    // 6. The bundle, streamed into a private file and hashed on the way, if it fits.
    let space = crate::collect::space::available(&request.dir);
    if let Some(free) = space {
        let needed = size.saturating_add(crate::collect::space::MARGIN);
        if free < needed {
            return Err(format!(
                "the bundle from {host} ({}) was not fetched: only {} is free in {}, and it needs a {} margin beside it; free some space there or choose another place with --output, and run again",
                crate::units::human_size(size),
                crate::units::human_size(free),
                request.dir.display(),
                crate::units::human_size(crate::collect::space::MARGIN)
            ));
        }
    }
    let local = request.dir.join(format!(
        ".{name}.part-{}-{}",
        std::process::id(),
        request.slot
    ));
    let fetched = fetch(ssh, &format!("{work}/{name}"), &local, size, host)?;
    if fetched != sha256 {
        let _ = std::fs::remove_file(&local);
        return Err(format!(
            "the bundle from {host} arrived damaged (sha256 {fetched}, the peer said {sha256}); run again"
        ));
    }
    let map = if request.obfuscate {
        let path = request.dir.join(format!(
            ".{name}.map.part-{}-{}",
            std::process::id(),
            request.slot
        ));
        match fetch(ssh, &map_path, &path, MAX_MAP, host) {
            Ok(_) => Some(path),
            Err(_) => {
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    } else {
        None
    };
    Ok(Fetched {
        path: local,
        name,
        sha256,
        size,
        map,
    })
}

/// Waits for this node's pseudonym map, as long as the run goes on.
fn wait_for_map(ssh: &Ssh, map: &mpsc::Receiver<Vec<u8>>) -> Result<Vec<u8>, String> {
    loop {
        if ssh.stopped() {
            return Err(match crate::platform::interrupted() {
                Some(signal) => format!(
                    "stopped by {} before the peer was collected",
                    crate::platform::interruption_name(signal)
                ),
                None => "given up: this node's own collection failed".to_string(),
            });
        }
        let wait = match ssh.time_left() {
            Some(left) if left.is_zero() => {
                return Err(
                    "the run's --total-timeout was reached while this node was being collected, before the peer's turn (with --obfuscate the peer is collected after this node, with its pseudonyms)".into(),
                )
            }
            Some(left) => left.min(Duration::from_millis(200)),
            None => Duration::from_millis(200),
        };
        match map.recv_timeout(wait) {
            Ok(bytes) => return Ok(bytes),
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err("this node's pseudonym map could not be handed over, so the peer was not collected (its pseudonyms would contradict this node's)".into())
            }
        }
    }
}

/// The peer's own `--total-timeout` when `left` remains of the run's: a quarter (at least a
/// second) is kept for fetching its bundle. `None` when less than a second would remain.
fn peer_total_timeout(left: Duration) -> Option<Duration> {
    let reserve = (left / 4).max(Duration::from_secs(1));
    left.checked_sub(reserve)
        .filter(|total| *total >= Duration::from_secs(1))
}

/// 128 random bits as hex, for names nobody can guess or plant in advance.
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    let from_os = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| io::Read::read_exact(&mut f, &mut bytes))
        .is_ok();
    if !from_os {
        // No /dev/urandom (not a Unix): the clock, the process and an address, hashed.
        let mut hasher = Sha256::new();
        hasher.update(format!(
            "{:?} {} {:p}",
            std::time::SystemTime::now(),
            std::process::id(),
            &bytes
        ));
        bytes.copy_from_slice(&hasher.finalize()[..16]);
    }
    crate::digest::hex(&bytes)
}

/// Streams `remote` into a new private file `local` (at most `cap` bytes); returns its SHA-256.
fn fetch(ssh: &Ssh, remote: &str, local: &Path, cap: u64, host: &str) -> Result<String, String> {
    let file = crate::platform::create_new_private(local).map_err(|err| {
        format!(
            "cannot write {}: {}",
            local.display(),
            crate::error::describe_io(&err)
        )
    })?;
    let mut sink = HashingWriter {
        inner: io::BufWriter::new(file),
        hasher: Sha256::new(),
        len: 0,
    };
    let step = ssh.run(
        &format!("cat -- {}", quote(remote)),
        None,
        Some(&mut sink),
        cap,
        STEP_TIMEOUT * 10,
    );
    let flushed = sink.inner.flush();
    let outcome = match step {
        Ok(out) if out.code == Some(0) && flushed.is_ok() => Ok(crate::digest::hex(
            &std::mem::take(&mut sink.hasher).finalize(),
        )),
        Ok(out) => Err(format!(
            "cannot fetch the bundle from {host}: {}",
            stderr_line(&out.stderr).unwrap_or_else(|| "the transfer broke off".into())
        )),
        Err(err) => Err(err),
    };
    if outcome.is_err() {
        let _ = std::fs::remove_file(local);
    }
    outcome
}

struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// What ssh said when it could not connect (exit 255) or the remote shell failed.
fn ssh_failure(host: &str, out: &ssh::StepOutput) -> String {
    let said = stderr_line(&out.stderr).unwrap_or_else(|| format!("exit status {:?}", out.code));
    let hint = if said.contains("Host key verification failed") {
        "; add the peer's host key first (ssh to it once and check the fingerprint)"
    } else if said.contains("Permission denied") {
        "; check the user and key (ssh-add, or --ssh-config with IdentityFile)"
    } else if said.contains("Could not resolve") {
        "; check the name, or give the address"
    } else {
        ""
    };
    format!("cannot reach {host} over ssh: {said}{hint}")
}

/// The last meaningful line of a stderr (ssh puts the reason last), printable and short.
fn stderr_line(stderr: &[u8]) -> Option<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
        .map(printable)
}

/// At most 200 characters, no control characters: a peer's text reaches the terminal.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_we_make_are_accepted_from_a_peer() {
        assert!(is_bundle_name("drx-collect-node2-20261202T010203Z.tgz"));
        assert!(is_bundle_name(
            "drx-collect-node2-case-77-20261202T010203Z.zip"
        ));
        for bad in [
            "../../etc/passwd",
            "drx-collect-../x.tgz",
            "drx-collect-a/b.tgz",
            "drx-collect-x.tar",
            "other.tgz",
            "drx-collect-\u{1b}[2J.tgz",
        ] {
            assert!(!is_bundle_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_peer_keeps_time_to_send_its_bundle_back() {
        assert_eq!(
            peer_total_timeout(Duration::from_secs(20)),
            Some(Duration::from_secs(15))
        );
        assert_eq!(
            peer_total_timeout(Duration::from_secs(2)),
            Some(Duration::from_secs(1))
        );
        assert_eq!(peer_total_timeout(Duration::from_millis(1500)), None);
        assert_eq!(peer_total_timeout(Duration::ZERO), None);
    }

    #[test]
    fn random_tokens_differ() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn ssh_failures_say_what_to_do() {
        let out = ssh::StepOutput {
            code: Some(255),
            stdout: Vec::new(),
            stderr: b"Host key verification failed.\r\n".to_vec(),
        };
        let text = ssh_failure("node2", &out);
        assert!(text.contains("cannot reach node2"), "{text}");
        assert!(text.contains("host key"), "{text}");
        assert_eq!(printable("a\u{1b}[31mb"), "a[31mb");
    }
}
