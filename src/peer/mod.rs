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
use std::time::Duration;

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
    /// How long the peer's collect may take.
    pub timeout: Duration,
    /// Fetch the peer's obfuscation map too (`--obfuscate`).
    pub fetch_map: bool,
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
    /// The peer's obfuscation map, fetched beside it (hidden temporary name) when asked.
    pub map: Option<PathBuf>,
}

/// How long the first connection may take: it may wait for a password typed by a person.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);
const STEP_TIMEOUT: Duration = Duration::from_secs(60);
/// A peer's bundle larger than this is refused (a peer is untrusted).
const MAX_BUNDLE: u64 = 8 << 30;
/// The binary is sent only to peers of the same kind as the one it was built for.
const THIS_PLATFORM: &str = if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
    "Linux x86_64"
} else if cfg!(all(target_os = "linux", target_arch = "aarch64")) {
    "Linux aarch64"
} else {
    ""
};

/// Collects the peer. The error is one sentence for the user and the case's gap list.
pub fn collect(request: &Request) -> Result<Fetched, String> {
    let host = request.destination.host().to_string();
    let ssh = Ssh::new(
        request.destination.clone(),
        request.ssh_config.clone(),
        request.interactive,
    )
    .map_err(|err| {
        format!(
            "cannot make a private directory for the ssh connection: {}",
            crate::error::describe_io(&err)
        )
    })?;
    let result = collect_with(&ssh, request, &host);
    ssh.close();
    result
}

fn collect_with(ssh: &Ssh, request: &Request, host: &str) -> Result<Fetched, String> {
    // 1. Who is there: OS and architecture, and an installed drx-collect's version.
    let hello = ssh.run(
        "uname -sm; (drx-collect --version || /usr/local/sbin/drx-collect --version) 2>/dev/null | head -n 1; exit 0",
        None,
        None,
        64 * 1024,
        CONNECT_TIMEOUT,
    )?;
    if hello.code != Some(0) {
        return Err(ssh_failure(host, &hello));
    }
    let hello_text = String::from_utf8_lossy(&hello.stdout);
    let mut lines = hello_text.lines();
    let platform = lines.next().unwrap_or("").trim().to_string();
    let installed = lines.next().unwrap_or("").trim().to_string();
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

    // 2. A private directory on the peer for the binary and the bundle.
    let made = ssh.run(
        "umask 077 && mktemp -d /tmp/drx-collect-peer.XXXXXXXX",
        None,
        None,
        4096,
        STEP_TIMEOUT,
    )?;
    let work = String::from_utf8_lossy(&made.stdout).trim().to_string();
    if made.code != Some(0) || !is_private_dir_name(&work) {
        return Err(format!(
            "cannot make a temporary directory on {host}: {}",
            stderr_line(&made.stderr).unwrap_or_else(|| "mktemp failed".into())
        ));
    }
    let result = run_in(ssh, request, host, &work, use_installed, &ours);
    // Whatever happened, nothing stays on the peer.
    let _ = ssh.run(
        &format!("rm -rf -- {}", quote(&work)),
        None,
        None,
        4096,
        STEP_TIMEOUT,
    );
    result
}

fn run_in(
    ssh: &Ssh,
    request: &Request,
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

    // 4. The collection itself.
    let mut line = vec![
        quote(&program),
        "collect".into(),
        "--quiet".into(),
        "--json".into(),
        "--output".into(),
        quote(work),
    ];
    line.extend(request.forward.iter().map(|arg| quote(arg)));
    let run = ssh.run(
        &line.join(" "),
        None,
        None,
        4 << 20,
        request.timeout + STEP_TIMEOUT,
    )?;
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

    // 5. The bundle, streamed into a private file and hashed on the way.
    let local = request
        .dir
        .join(format!(".{name}.part-{}", std::process::id()));
    let fetched = fetch(ssh, &format!("{work}/{name}"), &local, size, host)?;
    if fetched != sha256 {
        let _ = std::fs::remove_file(&local);
        return Err(format!(
            "the bundle from {host} arrived damaged (sha256 {fetched}, the peer said {sha256}); run again"
        ));
    }
    let map = if request.fetch_map {
        let path = request
            .dir
            .join(format!(".{name}.map.part-{}", std::process::id()));
        match fetch(
            ssh,
            &format!("{work}/drx-collect-obfuscation-map.json"),
            &path,
            64 << 20,
            host,
        ) {
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

fn is_private_dir_name(path: &str) -> bool {
    path.strip_prefix("/tmp/drx-collect-peer.")
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()))
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
        assert!(is_private_dir_name("/tmp/drx-collect-peer.AbC123xy"));
        assert!(!is_private_dir_name("/tmp/drx-collect-peer."));
        assert!(!is_private_dir_name("/"));
        assert!(!is_private_dir_name("/tmp/drx-collect-peer.x/../../etc"));
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
