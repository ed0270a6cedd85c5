//! `--peer` for real: two network namespaces of the test's own joined by a veth pair (TEST-NET-1
//! addresses, 192.0.2.1 and 192.0.2.2, which exist only inside them), Debian's OpenSSH server in
//! the peer's namespace with keys made by the test, and a fixture sysroot on each side at the
//! same path (`--root` passes through `--peer`; the peer's sshd runs in a mount namespace of its
//! own where its fixture is bind-mounted over that path). Needs root, `ip`, `unshare` and sshd:
//! `#[ignore]`d here, run by `scripts/test-peer.sh` (part of `scripts/test.sh`), one at a time.
use crate::util::{assert_success, drx, rule_ids, BIN};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tempfile::TempDir;

static LABS: AtomicU32 = AtomicU32::new(0);

const LOCAL_IP: &str = "192.0.2.1";
const PEER_IP: &str = "192.0.2.2";

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e} (scripts/test-peer.sh installs it)"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn script(path: &Path, text: &str) {
    write(path, text);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

const RES: &str = "resource r0 {
  startup { wfc-timeout 1; }
  net { ping-timeout 30; }
  on node-a {
    device /dev/bsr0;
    disk /dev/sdb1;
    address 192.0.2.1:7789;
    meta-disk internal;
  }
  on node-b {
    device /dev/bsr0;
    disk /dev/sdb1;
    address 192.0.2.2:7789;
    meta-disk internal;
  }
}
resource r1 {
  startup { wfc-timeout 1; }
  net { ping-timeout 30; }
  on node-a {
    device /dev/bsr1;
    disk /dev/sdc1;
    address 192.0.2.1:7790;
    meta-disk internal;
  }
  on node-b {
    device /dev/bsr1;
    disk /dev/sdc1;
    address 192.0.2.2:7790;
    meta-disk internal;
  }
}
";

/// Two namespaces, sshd in the peer's, fixture sysroots; torn down on drop.
struct Lab {
    tag: String,
    dir: TempDir,
    sshd: Option<Child>,
    /// The peer is a machine of its own: its sshd sees its own /tmp (`peer-tmp` of the lab),
    /// as two real nodes do. Without it the peer shares this machine's /tmp: the "peer" is
    /// this node (an alias or a virtual IP that lands here).
    own_tmp: bool,
}

/// A directory outside /tmp (the peer's sshd gets a /tmp of its own, which hides the real one).
fn lab_dir(prefix: &str) -> TempDir {
    std::fs::create_dir_all("/var/tmp").unwrap();
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/var/tmp")
        .unwrap()
}

impl Lab {
    /// `peer_path`: extra directories first on the PATH of the peer's ssh sessions (stand-ins).
    fn new(peer_path: Option<&Path>) -> Lab {
        Lab::build(peer_path, true)
    }

    fn build(peer_path: Option<&Path>, own_tmp: bool) -> Lab {
        assert!(
            unsafe { libc_geteuid() } == 0,
            "the --peer tests need root (network namespaces, sshd): run scripts/test-peer.sh as root"
        );
        let n = LABS.fetch_add(1, Ordering::SeqCst);
        let tag = format!("dxp{}x{n}", std::process::id() % 100_000);
        let dir = lab_dir("drx-peer");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let lab = Lab {
            tag: tag.clone(),
            dir,
            sshd: None,
            own_tmp,
        };
        let (a, b) = (lab.ns("a"), lab.ns("b"));
        run("ip", &["netns", "add", &a]);
        run("ip", &["netns", "add", &b]);
        run("ip", &["-n", &a, "link", "set", "lo", "up"]);
        run("ip", &["-n", &b, "link", "set", "lo", "up"]);
        let (va, vb) = (format!("{tag}a"), format!("{tag}b"));
        run(
            "ip",
            &[
                "link", "add", &va, "netns", &a, "type", "veth", "peer", "name", &vb, "netns", &b,
            ],
        );
        run(
            "ip",
            &[
                "-n",
                &a,
                "addr",
                "add",
                &format!("{LOCAL_IP}/30"),
                "dev",
                &va,
            ],
        );
        run(
            "ip",
            &[
                "-n",
                &b,
                "addr",
                "add",
                &format!("{PEER_IP}/30"),
                "dev",
                &vb,
            ],
        );
        run("ip", &["-n", &a, "link", "set", &va, "up"]);
        run("ip", &["-n", &b, "link", "set", &vb, "up"]);
        let mut lab = lab;
        lab.start_sshd(peer_path);
        lab
    }

    fn ns(&self, side: &str) -> String {
        format!("{}-{side}", self.tag)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The sysroot path both sides use; the peer sees its own fixture there.
    fn shared_root(&self) -> PathBuf {
        self.path("root")
    }

    fn start_sshd(&mut self, peer_path: Option<&Path>) {
        let d = self.dir.path();
        // Fixtures: this node's at the shared path, the peer's bind-mounted over it in sshd's
        // mount namespace.
        write(&self.path("root/etc/hostname"), "node-a\n");
        write(&self.path("root/etc/bsr.d/r0.res"), RES);
        write(&self.path("root-b/etc/hostname"), "node-b\n");
        write(&self.path("root-b/etc/bsr.d/r0.res"), RES);
        for (key, comment) in [
            ("client_key", "client"),
            ("other_key", "other"),
            ("host_key", "host"),
        ] {
            run(
                "ssh-keygen",
                &[
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    comment,
                    "-f",
                    d.join(key).to_str().unwrap(),
                ],
            );
        }
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        let host_pub = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
        let host_pub: Vec<&str> = host_pub.split_whitespace().take(2).collect();
        write(
            &d.join("known_hosts"),
            &format!("{PEER_IP} {}\n", host_pub.join(" ")),
        );
        write(&d.join("empty_known_hosts"), "");
        let set_env = match peer_path {
            Some(dir) => format!(
                "SetEnv PATH={}:/usr/sbin:/usr/bin:/sbin:/bin\n",
                dir.display()
            ),
            None => String::new(),
        };
        write(
            &d.join("sshd_config"),
            &format!(
                "ListenAddress {PEER_IP}\nPort 22\nHostKey {hk}\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 StrictModes no\n{set_env}",
                hk = d.join("host_key").display(),
                d = d.display()
            ),
        );
        std::fs::create_dir_all("/run/sshd").unwrap();
        // This machine's root has a slow ~/.bashrc (pyenv), which bash reads for every ssh
        // command: the peer's sessions get an empty one, as on a plain server.
        write(&d.join("empty_bashrc"), "");
        std::fs::create_dir_all(self.path("peer-tmp")).unwrap();
        std::fs::set_permissions(
            self.path("peer-tmp"),
            std::fs::Permissions::from_mode(0o1777),
        )
        .unwrap();
        let own_tmp = if self.own_tmp {
            format!("mount --bind {} /tmp && ", self.path("peer-tmp").display())
        } else {
            String::new()
        };
        let inner = format!(
            "mount --bind {rb} {r} && {own_tmp}{{ [ ! -e /root/.bashrc ] || mount --bind {empty} /root/.bashrc; }} && exec /usr/sbin/sshd -D -e -f {cfg}",
            empty = d.join("empty_bashrc").display(),
            rb = self.path("root-b").display(),
            r = self.shared_root().display(),
            cfg = d.join("sshd_config").display()
        );
        let log = std::fs::File::create(d.join("sshd.log")).unwrap();
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns("b"),
                "unshare",
                "-m",
                "--propagation",
                "private",
            ])
            .args(["sh", "-c", &inner])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start sshd");
        self.sshd = Some(child);
        // Bounded wait for sshd to listen (50 × 100 ms).
        for _ in 0..50 {
            let probe = Command::new("ip")
                .args(["netns", "exec", &self.ns("a"), "bash", "-c"])
                .arg(format!("exec 3<>/dev/tcp/{PEER_IP}/22"))
                .stderr(Stdio::null())
                .status()
                .unwrap();
            if probe.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "sshd did not start: {}",
            std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
        );
    }

    /// An ssh config for the peer: `key` and `known_hosts` files of the lab.
    fn ssh_config(&self, key: &str, known_hosts: &str) -> PathBuf {
        let d = self.dir.path();
        let path = d.join(format!("ssh_config-{key}-{known_hosts}"));
        write(
            &path,
            &format!(
                "Host peer {PEER_IP}\n  HostName {PEER_IP}\n  User root\n  IdentityFile {d}/{key}\n  \
                 IdentitiesOnly yes\n  UserKnownHostsFile {d}/{known_hosts}\n  \
                 GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n",
                d = d.display()
            ),
        );
        path
    }

    /// `drx-collect collect --root SHARED --peer peer …` in this node's namespace.
    fn collect(&self, ssh_config: &Path, out: &Path, extra: &[&str]) -> Output {
        self.collect_from("peer", ssh_config, out, extra)
    }

    /// The same with the peer given as `destination`.
    fn collect_from(
        &self,
        destination: &str,
        ssh_config: &Path,
        out: &Path,
        extra: &[&str],
    ) -> Output {
        let started = Instant::now();
        let output = self
            .command(destination, ssh_config, out, extra)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "the run took {:?}",
            started.elapsed()
        );
        output
    }

    fn command(&self, destination: &str, ssh_config: &Path, out: &Path, extra: &[&str]) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.ns("a"), BIN, "collect", "--root"])
            .arg(self.shared_root())
            .args(["--peer", destination, "--ssh-config"])
            .arg(ssh_config)
            .arg("-o")
            .arg(out)
            .args(["--timeout", "5s"])
            .args(extra)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", self.dir.path())
            .env("LANG", "C");
        command
    }

    /// The private directories drx-collect made on the peer and left there.
    fn peer_temporaries(&self) -> Vec<PathBuf> {
        let tmp = if self.own_tmp {
            self.path("peer-tmp")
        } else {
            PathBuf::from("/tmp")
        };
        files_named(&tmp, "drx-collect-peer.", "")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut child) = self.sshd.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Ok(pid) = std::fs::read_to_string(self.path("sshd.pid")) {
            let _ = Command::new("kill")
                .arg(pid.trim())
                .stderr(Stdio::null())
                .status();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.ns("a")])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.ns("b")])
            .status();
    }
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

fn files_named(dir: &Path, prefix: &str, suffix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with(prefix) && name.ends_with(suffix)
        })
        .collect();
    found.sort();
    found
}

fn case_json(case: &Path) -> serde_json::Value {
    let out = Command::new("tar")
        .args(["-xzOf"])
        .arg(case)
        .arg("--wildcards")
        .arg("*/case.json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tar: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("case.json is JSON")
}

/// This run's ssh control directories left in /tmp.
fn control_dirs_of(pid: u32) -> Vec<PathBuf> {
    files_named(Path::new("/tmp"), &format!("drx-ssh-{pid}-"), "")
}

/// The local bundle and the case file with the gap; returns the gap's reason.
fn assert_local_bundle_and_gap(out: &Path, output: &Output) -> String {
    assert_local_bundle_and_gap_of(out, output, "drx-collect-node-a-")
}

fn assert_local_bundle_and_gap_of(out: &Path, output: &Output, local: &str) -> String {
    assert!(
        output.status.success(),
        "a failed peer must not fail the run: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(files_named(out, local, ".tgz").len(), 1);
    let cases = files_named(out, "drx-case-", ".tgz");
    assert_eq!(cases.len(), 1, "{cases:?}");
    let case = case_json(&cases[0]);
    assert_eq!(case["bundles"].as_array().unwrap().len(), 1);
    let gaps = case["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{case}");
    assert!(
        files_named(out, ".", "").is_empty(),
        "temporaries left in {out:?}"
    );
    gaps[0]["reason"].as_str().unwrap().to_string()
}

#[test]
#[ignore = "needs root, network namespaces and sshd: run scripts/test-peer.sh"]
fn peer_both_nodes_in_one_case_file() {
    let lab = Lab::new(None);
    // The peer drops r1's port; nothing listens on r0's anywhere.
    run(
        "ip",
        &[
            "netns",
            "exec",
            &lab.ns("b"),
            "iptables",
            "-A",
            "INPUT",
            "-p",
            "tcp",
            "--dport",
            "7790",
            "-j",
            "DROP",
        ],
    );
    let out = TempDir::new().unwrap();
    let output = lab.collect(
        &lab.ssh_config("client_key", "known_hosts"),
        out.path(),
        &[],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // The local bundle, and the case file with its sidecar that sha256sum -c accepts.
    assert_eq!(
        files_named(out.path(), "drx-collect-node-a-", ".tgz").len(),
        1
    );
    let cases = files_named(out.path(), "drx-case-node-a-node-b-", ".tgz");
    assert_eq!(cases.len(), 1, "{stderr}");
    let check = Command::new("sha256sum")
        .arg("-c")
        .arg(format!(
            "{}.sha256",
            cases[0].file_name().unwrap().to_string_lossy()
        ))
        .current_dir(out.path())
        .output()
        .unwrap();
    assert!(check.status.success());
    let mode = std::fs::metadata(&cases[0]).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let case = case_json(&cases[0]);
    assert_eq!(case["schema"], "drx-collect/case/v1");
    let bundles = case["bundles"].as_array().unwrap();
    let hosts: Vec<&str> = bundles
        .iter()
        .map(|b| b["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["node-a", "node-b"]);
    assert_eq!(bundles[1]["destination"], "peer");
    assert!(case["gaps"].as_array().unwrap().is_empty(), "{case}");
    // Both bundles inside, unchanged: each still verifies on its own.
    let unpacked = TempDir::new().unwrap();
    run(
        "tar",
        &[
            "-xzf",
            cases[0].to_str().unwrap(),
            "-C",
            unpacked.path().to_str().unwrap(),
        ],
    );
    let top = std::fs::read_dir(unpacked.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let sums = Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(&top)
        .output()
        .unwrap();
    assert!(
        sums.status.success(),
        "{}",
        String::from_utf8_lossy(&sums.stdout)
    );
    for bundle in bundles {
        let path = top.join(bundle["path"].as_str().unwrap());
        assert_success(&drx(&[&"inspect", &"--quiet", &path]));
    }
    // The peer's bundle is the peer's: its own host name and its own sysroot.
    let peer_bundle = top.join(bundles[1]["path"].as_str().unwrap());
    let listing = Command::new("tar")
        .arg("-tzf")
        .arg(&peer_bundle)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&listing.stdout).contains("drx-collect-node-b-"));
    // The probes, and the pair explaining them: r0's port is refused (nothing listens on the
    // peer), r1's times out because the peer's firewall drops it, which is named as the cause.
    let findings = case["findings"].as_array().unwrap();
    let has = |rule: &str, node: &str, needle: &str| {
        findings.iter().any(|f| {
            f["rule"] == rule
                && f["node"] == node
                && f["detail"].as_str().unwrap_or("").contains(needle)
        })
    };
    assert!(
        has("NET-PEER-REFUSED", "node-a", "192.0.2.2:7789"),
        "{case:#}"
    );
    assert!(
        has("NET-PEER-TIMEOUT", "node-a", "192.0.2.2:7790"),
        "{case:#}"
    );
    assert!(
        has(
            "FIREWALL-PORT-BLOCKED",
            "node-b",
            "this is why node-a's TCP probe to 192.0.2.2:7790"
        ),
        "{case:#}"
    );
    assert!(
        !findings.iter().any(|f| f["rule"] == "NET-LOCAL-IP-SILENT"),
        "{case:#}"
    );
    let local = Command::new("tar")
        .arg("-xzOf")
        .arg(top.join(bundles[0]["path"].as_str().unwrap()))
        .arg("--wildcards")
        .arg("*/commands/probe.txt")
        .output()
        .unwrap();
    let probe_txt = String::from_utf8_lossy(&local.stdout);
    assert!(
        probe_txt.contains("ping\tloopback\t127.0.0.1\tanswered"),
        "{probe_txt}"
    );
    assert!(
        probe_txt.contains("tcp\tpeer\t192.0.2.2:7790\ttimed-out"),
        "{probe_txt}"
    );
    // Every reader takes the case file: inspect (both bundles verified, single-node and pair
    // rules again), --json, --html, --list; a tampered case file is an integrity failure.
    let verdict = drx(&[&"inspect", &"--json", &cases[0]]);
    assert_success(&verdict);
    let report: serde_json::Value = serde_json::from_slice(&verdict.stdout).unwrap();
    assert_eq!(report["bundles"].as_array().unwrap().len(), 2);
    let rules = rule_ids(&report["findings"]);
    assert!(
        rules.contains(&"NET-PEER-TIMEOUT") && rules.contains(&"FIREWALL-PORT-BLOCKED"),
        "{rules:?}"
    );
    let html = out.path().join("case.html");
    assert_success(&drx(&[&"inspect", &"--html", &html, &cases[0]]));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("node-a") && page.contains("node-b"));
    std::fs::remove_file(&html).unwrap();
    let listed = drx(&[&"inspect", &"--list", &cases[0]]);
    assert_success(&listed);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("case.json"));
    let tampered = out.path().join("drx-case-tampered.tgz");
    let original = unpacked.path().join("tampered");
    std::fs::create_dir(&original).unwrap();
    run(
        "tar",
        &[
            "-xzf",
            cases[0].to_str().unwrap(),
            "-C",
            original.to_str().unwrap(),
        ],
    );
    let inner = std::fs::read_dir(&original)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let case_json = inner.join("case.json");
    let text = std::fs::read_to_string(&case_json)
        .unwrap()
        .replace("node-b", "node-x");
    std::fs::write(&case_json, text).unwrap();
    run(
        "tar",
        &[
            "-czf",
            tampered.to_str().unwrap(),
            "-C",
            original.to_str().unwrap(),
            inner.file_name().unwrap().to_str().unwrap(),
        ],
    );
    let verdict = drx(&[&"inspect", &tampered]);
    assert_eq!(
        verdict.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&verdict.stderr)
    );
    std::fs::remove_file(&tampered).unwrap();
    // diff takes case files: the same node's bundles of two cases (here the case and itself:
    // nothing changed), and another node with --node.
    assert_success(&drx(&[&"diff", &cases[0], &cases[0]]));
    assert_success(&drx(&[&"diff", &"--node", &"node-b", &cases[0], &cases[0]]));
    let unknown = drx(&[&"diff", &"--node", &"node-z", &cases[0], &cases[0]]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("node-a, node-b"));
    // The support desk's database takes the case file: both bundles, once each.
    let db = unpacked.path().join("cases.sqlite");
    let imported = drx(&[&"cases", &"import", &"--json", &"--db", &db, &cases[0]]);
    assert_success(&imported);
    let report: serde_json::Value = serde_json::from_slice(&imported.stdout).unwrap();
    assert_eq!(report["imported"], 2, "{report:#}");
    // Nothing is left on the peer, nothing hidden in the output directory.
    assert!(lab.peer_temporaries().is_empty());
    assert!(files_named(out.path(), ".", "").is_empty());
}

#[test]
#[ignore = "needs root, network namespaces and sshd: run scripts/test-peer.sh"]
fn peer_with_an_unknown_host_key_is_a_gap_not_a_failure() {
    let lab = Lab::new(None);
    let out = TempDir::new().unwrap();
    let output = lab.collect(
        &lab.ssh_config("client_key", "empty_known_hosts"),
        out.path(),
        &[],
    );
    let reason = assert_local_bundle_and_gap(out.path(), &output);
    assert!(reason.contains("Host key verification failed"), "{reason}");
    // inspect of the case names the gap.
    let case = files_named(out.path(), "drx-case-", ".tgz").remove(0);
    let verdict = drx(&[&"inspect", &case]);
    assert_success(&verdict);
    assert!(String::from_utf8_lossy(&verdict.stdout).contains("PEER-COLLECT-FAILED"));
    assert!(
        reason.contains("host key"),
        "the reason says what to do: {reason}"
    );
}

#[test]
#[ignore = "needs root, network namespaces and sshd: run scripts/test-peer.sh"]
fn peer_refusing_the_key_is_a_gap() {
    let lab = Lab::new(None);
    let out = TempDir::new().unwrap();
    let output = lab.collect(&lab.ssh_config("other_key", "known_hosts"), out.path(), &[]);
    let reason = assert_local_bundle_and_gap(out.path(), &output);
    assert!(reason.contains("Permission denied"), "{reason}");
}

/// A peer whose `drx-collect` (a stand-in of this version, first on its PATH) misbehaves.
fn hostile_peer(stand_in: &str) -> (Lab, TempDir, Output, TempDir) {
    let bin = lab_dir("drx-peer-bin");
    std::fs::set_permissions(bin.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    script(
        &bin.path().join("drx-collect"),
        &format!(
            "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'drx-collect {version}'; exit 0; fi\n\
             # collect --quiet --json --output DIR …\nout=$5\n{stand_in}\n"
        ),
    );
    let lab = Lab::new(Some(bin.path()));
    let out = TempDir::new().unwrap();
    let output = lab.collect(
        &lab.ssh_config("client_key", "known_hosts"),
        out.path(),
        &[],
    );
    // The peer's PATH points there: the caller keeps it while the lab runs.
    (lab, out, output, bin)
}

#[test]
#[ignore = "needs root, network namespaces and sshd: run scripts/test-peer.sh"]
fn peer_reporting_a_path_outside_its_directory_is_refused() {
    let (_lab, out, output, _bin) = hostile_peer(
        "echo '{\"bundle\": \"'$out'/../../../etc/passwd\", \"sha256\": \"'$(printf %064d 0)'\", \"size\": 10}'",
    );
    let reason = assert_local_bundle_and_gap(out.path(), &output);
    assert!(reason.contains("not one of ours"), "{reason}");
}

#[test]
#[ignore = "needs root, network namespaces and sshd: run scripts/test-peer.sh"]
fn peer_sending_a_malformed_bundle_is_refused() {
    let (_lab, out, output, _bin) = hostile_peer(
        "f=$out/drx-collect-node-b-20261202T000000Z.tgz; head -c 100000 /dev/urandom > $f\n\
         echo '{\"bundle\": \"'$f'\", \"sha256\": \"'$(sha256sum $f | cut -c1-64)'\", \"size\": 100000}'",
    );
    let reason = assert_local_bundle_and_gap(out.path(), &output);
    assert!(
        reason.contains("cannot be read") || reason.contains("failed verification"),
        "{reason}"
    );
}

#[test]
#[ignore = "needs root, network namespaces and sshd: run scripts/test-peer.sh"]
fn peer_without_space_is_a_gap_with_its_reason() {
    let (_lab, out, output, _bin) = hostile_peer(
        "echo 'drx-collect: cannot write the bundle in /tmp: No space left on device; free space or choose another place with --output' >&2; exit 1",
    );
    let reason = assert_local_bundle_and_gap(out.path(), &output);
    assert!(reason.contains("No space left on device"), "{reason}");
}

#[test]
#[ignore = "needs root, network namespaces and sshd: run scripts/test-peer.sh"]
fn peer_dying_mid_transfer_leaves_nothing_behind() {
    // The bundle's bytes stop half-way and the peer's session is killed.
    let (_lab, out, output, _bin) = hostile_peer(
        "f=$out/drx-collect-node-b-20261202T000000Z.tgz; head -c 4000000 /dev/urandom > $f\n\
         cat > $(dirname $0)/cat <<'EOF'\n#!/bin/sh\nhead -c 1000000 \"$2\"; kill -9 $PPID\nEOF\n\
         chmod 755 $(dirname $0)/cat\n\
         echo '{\"bundle\": \"'$f'\", \"sha256\": \"'$(sha256sum $f | cut -c1-64)'\", \"size\": 4000000}'",
    );
    let reason = assert_local_bundle_and_gap(out.path(), &output);
    assert!(
        reason.contains("transfer") || reason.contains("damaged"),
        "{reason}"
    );
}

#[test]
#[ignore = "needs root, network namespaces and sshd: run scripts/test-peer.sh"]
fn peer_case_file_split_for_the_mail_and_rotated_by_keep() {
    let lab = Lab::new(None);
    let out = TempDir::new().unwrap();
    let config = lab.ssh_config("client_key", "known_hosts");
    for _ in 0..2 {
        let output = lab.collect(&config, out.path(), &["--split", "64KiB", "--keep", "1"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(!stderr.contains("not written"), "{stderr}");
        // Two runs in one second get distinct names; let the second be newer.
        std::thread::sleep(Duration::from_millis(1100));
    }
    // --keep 1: one case file (its parts and listing) is left.
    let first_parts = files_named(out.path(), "drx-case-node-a-node-b-", ".tgz.001");
    assert_eq!(
        first_parts.len(),
        1,
        "{:?}",
        files_named(out.path(), "drx-case-", "")
    );
    let listings = files_named(out.path(), "drx-case-node-a-node-b-", ".tgz.sha256");
    assert_eq!(listings.len(), 1);
    let parts = files_named(out.path(), "drx-case-node-a-node-b-", "");
    assert!(
        parts.len() >= 3,
        "at least two parts and the listing: {parts:?}"
    );
    let check = Command::new("sha256sum")
        .args(["-c", "--ignore-missing"])
        .arg(listings[0].file_name().unwrap())
        .current_dir(out.path())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    // inspect reads the set from its first part.
    let verdict = drx(&[&"inspect", &"--json", &first_parts[0]]);
    assert_success(&verdict);
    let report: serde_json::Value = serde_json::from_slice(&verdict.stdout).unwrap();
    assert_eq!(report["bundles"].as_array().unwrap().len(), 2);
}

#[test]
#[ignore = "needs root, network namespaces and sshd: run scripts/test-peer.sh"]
fn peer_with_a_sealing_manifest_keeps_the_sealed_bundle_and_writes_no_clear_case() {
    let lab = Lab::new(None);
    let out = TempDir::new().unwrap();
    let key = lab.path("vendor.key");
    run("age-keygen", &["-o", key.to_str().unwrap()]);
    let recipient = std::fs::read_to_string(&key)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_string))
        .unwrap();
    let embedded = drx(&[&"manifest", &"show", &"--os", &"linux"]);
    let manifest = lab.path("sealing.toml");
    write(
        &manifest,
        &format!(
            "encrypt_to = [\"{recipient}\"]\n{}",
            String::from_utf8_lossy(&embedded.stdout)
        ),
    );
    let config = lab.ssh_config("client_key", "known_hosts");
    let output = lab.collect(&config, out.path(), &["-m", manifest.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        files_named(out.path(), "drx-collect-node-a-", ".tgz.age").len(),
        1
    );
    assert!(files_named(out.path(), "drx-case-", "").is_empty());
    assert!(stderr.contains("sealed"), "{stderr}");
    assert!(files_named(out.path(), ".", "").is_empty());
}

/// A lab whose peer has stand-ins first on its PATH: `(name, shell body)`; the drx-collect
/// stand-in answers `--version` with this version and has its output directory in `$out`.
fn lab_with_stand_ins(stand_ins: &[(&str, &str)]) -> (Lab, TempDir) {
    let bin = lab_dir("drx-peer-bin");
    std::fs::set_permissions(bin.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    for (name, body) in stand_ins {
        let text = if *name == "drx-collect" {
            format!(
                "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'drx-collect {version}'; exit 0; fi\n\
                 out=$5\n{body}\n"
            )
        } else {
            format!("#!/bin/sh\n{body}\n")
        };
        script(&bin.path().join(name), &text);
    }
    (Lab::new(Some(bin.path())), bin)
}

#[test]
#[ignore = "needs root, network namespaces and sshd: run scripts/test-peer.sh"]
fn peer_that_is_this_node_is_a_gap_not_a_second_copy() {
    // The "peer" shares this machine's /tmp: ssh reached this node again (an alias, or a virtual
    // IP this node holds). Its host name says nothing (here it is node-b, as on a clone).
    let lab = Lab::build(None, false);
    let out = TempDir::new().unwrap();
    let before = lab.peer_temporaries();
    let output = lab.collect(
        &lab.ssh_config("client_key", "known_hosts"),
        out.path(),
        &[],
    );
    let reason = assert_local_bundle_and_gap(out.path(), &output);
    assert!(reason.contains("this node"), "{reason}");
    assert_eq!(lab.peer_temporaries(), before);
    assert!(files_named(Path::new("/tmp"), ".drx-collect-self-", "").is_empty());
}

#[test]
#[ignore = "needs root, network namespaces and sshd: run scripts/test-peer.sh"]
fn peer_with_this_nodes_host_name_gives_a_case_that_verifies() {
    // Cloned VMs: two machines, one host name, and bundles of one name when both start in the
    // same second. To make that certain, the peer's drx-collect (a stand-in of this version)
    // runs the real one and gives its bundle the name of this node's, once that is written.
    let out = lab_dir("drx-peer-out");
    let body = format!(
        "for i in $(seq 300); do l=$(ls {o}/drx-collect-node-a-*.tgz 2>/dev/null | head -n 1); [ -n \"$l\" ] && break; sleep 0.1; done\n\
         n=$(basename \"$l\"); mkdir $out/real\n\
         {bin} collect --root {root} --quiet --no-probe --output $out/real > /dev/null || exit 1\n\
         mv $out/real/drx-collect-*.tgz $out/$n\n\
         echo '{{\"bundle\": \"'$out/$n'\", \"sha256\": \"'$(sha256sum $out/$n | cut -c1-64)'\", \"size\": '$(stat -c %s $out/$n)'}}'",
        o = out.path().display(),
        bin = BIN,
        root = "$ROOT_OF_LAB",
    );
    let (lab, _bin) = lab_with_stand_ins(&[("drx-collect", &body)]);
    let script = _bin.path().join("drx-collect");
    let text = std::fs::read_to_string(&script)
        .unwrap()
        .replace("$ROOT_OF_LAB", &lab.shared_root().display().to_string());
    std::fs::write(&script, text).unwrap();
    write(&lab.path("root-b/etc/hostname"), "node-a\n");
    let output = lab.collect(
        &lab.ssh_config("client_key", "known_hosts"),
        out.path(),
        &[],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let cases = files_named(out.path(), "drx-case-node-a-node-a-", ".tgz");
    assert_eq!(
        cases.len(),
        1,
        "{stderr} {:?}",
        files_named(out.path(), "", "")
    );
    let index = case_json(&cases[0]);
    let bundles = index["bundles"].as_array().unwrap();
    assert_eq!(bundles.len(), 2, "{index:#}");
    assert_ne!(bundles[0]["path"], bundles[1]["path"], "{index:#}");
    let verdict = drx(&[&"inspect", &"--json", &cases[0]]);
    assert_success(&verdict);
    let report: serde_json::Value = serde_json::from_slice(&verdict.stdout).unwrap();
    assert_eq!(report["bundles"].as_array().unwrap().len(), 2, "{report:#}");
    assert_eq!(report["integrity"]["ok"], true, "{report:#}");
    assert!(files_named(out.path(), ".", "").is_empty());
}

#[test]
#[ignore = "needs root, network namespaces and sshd: run scripts/test-peer.sh"]
fn peer_obfuscated_shares_one_pseudonym_table() {
    let lab = Lab::new(None);
    let out = TempDir::new().unwrap();
    let config = lab.ssh_config("client_key", "known_hosts");
    // The peer given by its address: the address must not name the case.
    let output = lab.collect_from(PEER_IP, &config, out.path(), &["--obfuscate"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let cases = files_named(out.path(), "drx-case-", ".tgz");
    assert_eq!(cases.len(), 1, "{stderr}");
    let name = cases[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("drx-case-host-1-host-2-"), "{name}");
    let case = case_json(&cases[0]);
    let text = case.to_string();
    let hosts: Vec<&str> = case["bundles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["host-1", "host-2"], "{case:#}");
    // The same configuration on both nodes reads the same once obfuscated.
    assert!(!text.contains("CONFIG-PEER-MISMATCH"), "{case:#}");
    assert!(!text.contains("192.0.2."), "{case:#}");
    assert!(
        !text.contains("node-a") && !text.contains("node-b"),
        "{case:#}"
    );
    let listing = Command::new("tar")
        .arg("-tzf")
        .arg(&cases[0])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(!listing.contains("192.0.2"), "{listing}");
    // One map for both nodes, outside the case: both host names and the pair's network.
    let maps = files_named(out.path(), "", ".json");
    assert_eq!(maps.len(), 1, "{maps:?}");
    let map: serde_json::Value = serde_json::from_slice(&std::fs::read(&maps[0]).unwrap()).unwrap();
    assert_eq!(map["hosts"]["node-a"], "host-1", "{map:#}");
    assert_eq!(map["hosts"]["node-b"], "host-2", "{map:#}");
    assert!(map["ipv4_networks"]["192.0.2.0/24"].is_string(), "{map:#}");
    let mode = std::fs::metadata(&maps[0]).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(lab.peer_temporaries().is_empty());
    assert!(files_named(out.path(), ".", "").is_empty());

    // A peer that fails under --obfuscate: neither the name nor case.json carries its address.
    let refused = TempDir::new().unwrap();
    let output = lab.collect_from(
        PEER_IP,
        &lab.ssh_config("other_key", "known_hosts"),
        refused.path(),
        &["--obfuscate"],
    );
    assert_local_bundle_and_gap_of(refused.path(), &output, "drx-collect-host-1-");
    let cases = files_named(refused.path(), "drx-case-", ".tgz");
    let name = cases[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("drx-case-host-1-"), "{name}");
    assert!(!name.contains("192.0.2"), "{name}");
    let text = case_json(&cases[0]).to_string();
    assert!(!text.contains("192.0.2."), "{text}");
}

/// A tmpfs mounted for a test, unmounted when dropped (also when the test fails).
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A tmpfs of `mib` MiB at a new directory of the lab.
fn small_disk(lab: &Lab, name: &str, mib: u64) -> Mounted {
    let dir = lab.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    run(
        "mount",
        &[
            "-t",
            "tmpfs",
            "-o",
            &format!("size={mib}m,mode=0755"),
            "tmpfs",
            dir.to_str().unwrap(),
        ],
    );
    Mounted(dir)
}

#[test]
#[ignore = "needs root, network namespaces and sshd: run scripts/test-peer.sh"]
fn peer_bundle_and_case_copy_check_the_free_space_first() {
    let lab = Lab::new(None);
    // The peer's bundle is large (incompressible log); this node's is small.
    let big = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "mkdir -p {d} && head -c 22000000 /dev/urandom | base64 > {d}/messages",
            d = lab.path("root-b/var/log").display()
        ))
        .status()
        .unwrap();
    assert!(big.success());
    let config = lab.ssh_config("client_key", "known_hosts");
    // 1. Room for this node's bundle, not for the peer's: the peer's is not fetched.
    let tiny = small_disk(&lab, "tiny", 80);
    let output = lab.collect(&config, &tiny.0, &[]);
    let reason = assert_local_bundle_and_gap(&tiny.0, &output);
    drop(tiny);
    assert!(reason.contains("free"), "{reason}");
    // 2. Room for the peer's bundle, not for the case's copy of both: no case, and nothing is
    // lost: the verified peer bundle stays beside the local one, with its sidecar; exit 1.
    let disk = small_disk(&lab, "small", 100);
    let small = disk.0.clone();
    let output = lab.collect(&config, &small, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let local = files_named(&small, "drx-collect-node-a-", ".tgz");
    let peer = files_named(&small, "drx-collect-node-b-", ".tgz");
    let cases = files_named(&small, "drx-case-", "");
    let hidden = files_named(&small, ".", "");
    let check = Command::new("sh")
        .arg("-c")
        .arg("sha256sum -c *.sha256")
        .current_dir(&small)
        .output()
        .unwrap();
    drop(disk);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("free"), "{stderr}");
    assert_eq!(local.len(), 1, "{stderr}");
    assert_eq!(peer.len(), 1, "{stderr}");
    assert!(cases.is_empty(), "{cases:?}");
    assert!(hidden.is_empty(), "{hidden:?}");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert!(stderr.contains(&peer[0].file_name().unwrap().to_string_lossy().into_owned()));
}

#[test]
#[ignore = "needs root, network namespaces and sshd: run scripts/test-peer.sh"]
fn peer_stalling_at_any_step_ends_by_the_total_timeout() {
    // The peer stalls at each step in turn: the greeting (uname), the collection itself, the
    // transfer (cat). `--total-timeout 6s` bounds the whole run.
    let stalls: [&[(&str, &str)]; 3] = [
        &[("uname", "sleep 100")],
        &[("drx-collect", "sleep 100")],
        &[
            (
                "drx-collect",
                "f=$out/drx-collect-node-b-20261202T000000Z.tgz; head -c 1000 /dev/urandom > $f\n\
                 echo '{\"bundle\": \"'$f'\", \"sha256\": \"'$(sha256sum $f | cut -c1-64)'\", \"size\": 1000}'",
            ),
            ("cat", "sleep 100"),
        ],
    ];
    for stand_ins in stalls {
        let (lab, _bin) = lab_with_stand_ins(stand_ins);
        let out = TempDir::new().unwrap();
        let started = Instant::now();
        let output = lab.collect(
            &lab.ssh_config("client_key", "known_hosts"),
            out.path(),
            &["--total-timeout", "6s"],
        );
        let took = started.elapsed();
        let reason = assert_local_bundle_and_gap(out.path(), &output);
        assert!(
            took < Duration::from_secs(6 + 12),
            "{stand_ins:?}: the run took {took:?} ({reason})"
        );
        assert!(reason.contains("total-timeout"), "{stand_ins:?}: {reason}");
        assert!(
            lab.peer_temporaries().is_empty(),
            "{stand_ins:?}: {:?}",
            lab.peer_temporaries()
        );
    }
}

#[test]
#[ignore = "needs root, network namespaces and sshd: run scripts/test-peer.sh"]
fn peer_interrupted_or_given_up_leaves_nothing_behind() {
    // The peer's collection hangs (and says so); the run is stopped by SIGTERM meanwhile.
    let (lab, _bin) = lab_with_stand_ins(&[("drx-collect", "touch $out/started; sleep 100")]);
    let out = TempDir::new().unwrap();
    let config = lab.ssh_config("client_key", "known_hosts");
    let mut child = lab
        .command("peer", &config, out.path(), &[])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let started = |lab: &Lab| {
        lab.peer_temporaries()
            .iter()
            .any(|dir| dir.join("started").exists())
    };
    // Bounded: 300 × 100 ms.
    for _ in 0..300 {
        if started(&lab) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(started(&lab), "the peer's collection never started");
    run("kill", &["-TERM", &pid.to_string()]);
    let until = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < until,
            "drx-collect did not end after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success());
    assert!(
        lab.peer_temporaries().is_empty(),
        "{:?}",
        lab.peer_temporaries()
    );
    assert!(
        control_dirs_of(pid).is_empty(),
        "{:?}",
        control_dirs_of(pid)
    );

    // This node's collection fails early (its map file cannot be written) while the peer is
    // being reached: the peer's work is given up and cleaned up too.
    let child = lab
        .command(
            "peer",
            &config,
            out.path(),
            &["--obfuscate", "--map-file", "/proc/no-such-dir/map.json"],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        lab.peer_temporaries().is_empty(),
        "{:?}",
        lab.peer_temporaries()
    );
    assert!(
        control_dirs_of(pid).is_empty(),
        "{:?}",
        control_dirs_of(pid)
    );
}
