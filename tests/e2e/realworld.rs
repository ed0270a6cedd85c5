//! Real-world fidelity (issue 13): the rules on artefacts nobody on this project wrote.
//!
//! - Resource files of the drbd-utils test suite and BSR's samples (tests/realworld/linux,
//!   origins in SOURCES.md), judged with the real `drbdadm` of Debian's drbd-utils as the oracle
//!   of which resources are this node's (`drbdadm sh-resources`) and what it says when it
//!   rejects a file (`drbdadm dump`, replayed by the stand-in with its exit code).
//! - Firewall layouts made by the real tools: ufw and iptables inside a network namespace of
//!   the test's own, firewalld's permanent XML from `firewall-offline-cmd` inside a private
//!   mount namespace with a tmpfs over /etc/firewalld. The host's own firewall is never touched.
//!
//! A missing tool fails the test (scripts/test.sh installs them): nothing is skipped silently.
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::util::{assert_success, Bundle, Fixture};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/realworld/linux");

fn corpus(name: &str) -> String {
    std::fs::read_to_string(Path::new(CORPUS).join(name))
        .unwrap_or_else(|e| panic!("corpus file {name}: {e}"))
}

/// The absolute path of a tool, or a failing test that says how to get it.
fn require(tool: &str) -> String {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let path = format!("{dir}/{tool}");
        if Path::new(&path).exists() {
            return path;
        }
    }
    panic!("{tool} is not installed: run scripts/test.sh, which installs the Debian packages the realworld tests need (drbd-utils, iptables, ufw, firewalld, iproute2, util-linux)");
}

struct Run {
    stdout: String,
    stderr: String,
    code: i32,
}

fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(program);
    cmd.args(args).env("LC_ALL", "C");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{program} {args:?}: {e}"));
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

/// The real drbdadm on a configuration file, pretending to be `node` (drbd-utils' own test
/// suite does the same with `__DRBD_NODE__`).
fn drbdadm(config: &Path, node: &str, args: &[&str]) -> Run {
    let drbdadm = require("drbdadm");
    let config = config.to_string_lossy().into_owned();
    let mut all = vec!["-c", config.as_str()];
    all.extend_from_slice(args);
    run(&drbdadm, &all, &[("__DRBD_NODE__", node)])
}

/// Resources the real drbdadm considers this node's.
fn real_resources(config: &Path, node: &str) -> Vec<String> {
    let out = drbdadm(config, node, &["sh-resources"]);
    out.stdout.split_whitespace().map(str::to_string).collect()
}

/// A Linux node whose /etc/drbd.conf is `config`, with the given host name and addresses;
/// `drbdadm` replays what the real one printed for this file and node.
fn node(config_text: &str, hostname: &str, ips: &[&str]) -> Fixture {
    let f = Fixture::new();
    f.file("/etc/hostname", format!("{hostname}\n"))
        .file("/etc/drbd.conf", config_text);
    let conf = f.root.path().join("etc/drbd.conf");
    let dump = drbdadm(&conf, hostname, &["dump"]);
    let version = run(&require("drbdadm"), &["-V"], &[]);
    let dir = f.bin.path();
    std::fs::write(dir.join(".dump.out"), &dump.stdout).unwrap();
    std::fs::write(dir.join(".dump.err"), &dump.stderr).unwrap();
    std::fs::write(dir.join(".version.out"), &version.stdout).unwrap();
    f.command(
        "drbdadm",
        &format!(
            "case \"$*\" in\n  *-V*) cat '{d}/.version.out' ;;\n  *dump*) cat '{d}/.dump.out'; cat '{d}/.dump.err' >&2; exit {code} ;;\n  *) exit 1 ;;\nesac",
            d = dir.display(),
            code = dump.code
        ),
    );
    let mut ip_a = String::from("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\n    inet 127.0.0.1/8 scope host lo\n2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP\n");
    for ip in ips {
        if ip.contains(':') {
            ip_a.push_str(&format!("    inet6 {ip}/64 scope global\n"));
        } else {
            ip_a.push_str(&format!("    inet {ip}/24 scope global eth0\n"));
        }
    }
    f.prints("ip", &ip_a);
    // firewalld is installed here but never runs: the real firewall-cmd says so (exit 252).
    let firewall_cmd = require("firewall-cmd");
    f.command("firewall-cmd", &format!("exec {firewall_cmd} \"$@\""));
    f
}

#[derive(Debug)]
struct Seen {
    rule: String,
    severity: String,
    detail: String,
}

fn findings(f: &Fixture) -> Vec<Seen> {
    assert_success(&f.collect(&[]));
    let bundle: Bundle = f.bundle();
    bundle.index["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| Seen {
            rule: x["rule"].as_str().unwrap_or("").to_string(),
            severity: x["severity"].as_str().unwrap_or("").to_string(),
            detail: x["detail"].as_str().unwrap_or("").to_string(),
        })
        .collect()
}

fn serious(seen: &[Seen]) -> Vec<&Seen> {
    seen.iter()
        .filter(|s| s.severity == "error" || s.severity == "warning")
        .collect()
}

/// (corpus file, this node's name in it, this node's addresses).
const OURS: &[(&str, &str, &[&str])] = &[
    ("drbd-utils/v84-man.res", "undertest", &["10.1.1.31"]),
    ("drbd-utils/v9-man.res", "undertest", &["10.1.1.31"]),
    (
        "drbd-utils/v9-adjust_proxy.res",
        "undertest",
        &["10.0.0.1", "10.0.1.1", "10.0.2.1"],
    ),
    (
        "drbd-utils/v9-stacked_implicit_conn.res",
        "undertest",
        &["10.56.84.138"],
    ),
    (
        "drbd-utils/v9-proxy_2sites_3nodes.res",
        "alpha",
        &["192.168.31.1"],
    ),
];

#[test]
fn real_configs_on_their_own_node_raise_no_error_and_no_name_mismatch() {
    for (file, name, ips) in OURS {
        let text = corpus(file);
        let f = node(&text, name, ips);
        let conf = f.root.path().join("etc/drbd.conf");
        assert!(
            !real_resources(&conf, name).is_empty(),
            "{file}: the real drbdadm finds no resource of {name}: the expectation is wrong"
        );
        let seen = findings(&f);
        let errors: Vec<&Seen> = seen.iter().filter(|s| s.severity == "error").collect();
        assert!(errors.is_empty(), "{file} on {name}: {errors:#?}");
        assert!(
            !seen.iter().any(|s| s.rule == "CONFIG-HOSTNAME-MISMATCH"),
            "{file}: {seen:#?}"
        );
    }
}

#[test]
fn real_configs_on_a_node_they_do_not_belong_to_raise_nothing() {
    for (file, _, _) in OURS {
        let text = corpus(file);
        let f = node(&text, "elsewhere", &["172.31.255.7"]);
        let conf = f.root.path().join("etc/drbd.conf");
        assert!(
            real_resources(&conf, "elsewhere").is_empty(),
            "{file}: the real drbdadm says some resource is this node's"
        );
        let seen = findings(&f);
        assert!(
            serious(&seen).is_empty(),
            "{file} on a foreign node: {:#?}",
            serious(&seen)
        );
    }
}

#[test]
fn a_renamed_node_is_recognised_by_its_address_and_keeps_its_address_checks() {
    // drbdadm no longer finds the node's resources (the oracle), our rule says why, precisely.
    for (file, _, ips) in OURS.iter().take(4) {
        let text = corpus(file);
        let f = node(&text, "renamed-node", ips);
        let conf = f.root.path().join("etc/drbd.conf");
        assert!(real_resources(&conf, "renamed-node").is_empty(), "{file}");
        let seen = findings(&f);
        let mismatch = seen
            .iter()
            .find(|s| s.rule == "CONFIG-HOSTNAME-MISMATCH")
            .unwrap_or_else(|| panic!("{file}: no CONFIG-HOSTNAME-MISMATCH in {seen:#?}"));
        assert!(
            mismatch.detail.contains("this node's address")
                && mismatch.detail.contains("renamed-node"),
            "{file}: {}",
            mismatch.detail
        );
    }
    // The firewall check still runs for the renamed node: ufw's default denies 7789.
    let ruleset = ufw_ruleset(&["allow 22/tcp"]);
    let f = node(
        &corpus("drbd-utils/v84-man.res"),
        "renamed-node",
        &["10.1.1.31"],
    );
    f.prints("iptables", &ruleset);
    let seen = findings(&f);
    assert!(
        seen.iter()
            .any(|s| s.rule == "FIREWALL-PORT-BLOCKED" && s.detail.contains("10.1.1.31:7789")),
        "{seen:#?}"
    );
}

#[test]
fn names_compare_as_the_installed_drbd_9_utilities_compare() {
    // drbd-utils 9 `hostnames_equal`: a short `on` name matches any domain, any case.
    let text = corpus("drbd-utils/v84-man.res");
    for name in [
        "UNDERTEST",
        "undertest.example.com",
        "UnderTest.corp.example",
    ] {
        let f = node(&text, name, &["10.1.1.31"]);
        let conf = f.root.path().join("etc/drbd.conf");
        assert_eq!(real_resources(&conf, name), ["r0"], "oracle for {name}");
        let seen = findings(&f);
        assert!(
            !seen.iter().any(|s| s.rule == "CONFIG-HOSTNAME-MISMATCH"),
            "{name}: {seen:#?}"
        );
    }
}

#[test]
fn a_dump_the_real_drbdadm_rejects_is_config_invalid_quoting_its_first_error() {
    let text = corpus("drbd-utils/v9-node-id-missing.res");
    let f = node(&text, "undertest", &["192.168.1.17"]);
    let conf = f.root.path().join("etc/drbd.conf");
    let real = drbdadm(&conf, "undertest", &["dump"]);
    assert_ne!(real.code, 0, "the real drbdadm accepts it: {}", real.stderr);
    let seen = findings(&f);
    let invalid = seen
        .iter()
        .find(|s| s.rule == "CONFIG-INVALID")
        .unwrap_or_else(|| panic!("no CONFIG-INVALID: {seen:#?}"));
    assert!(
        invalid.detail.contains("'node-id' keyword missing"),
        "{}",
        invalid.detail
    );
    assert!(
        !seen
            .iter()
            .any(|s| s.rule == "COLLECT-INCOMPLETE" && s.detail.starts_with("drbdadm-dump")),
        "a rejection is not a collection gap: {seen:#?}"
    );
    assert_eq!(
        seen.iter().filter(|s| s.rule == "CONFIG-INVALID").count(),
        1,
        "one rejection, one finding: {seen:#?}"
    );

    // A DRBD 8.3-style `syncer {}` section, `via outside-address` and per-volume `tiebreaker`
    // (both newer than Debian's drbd-utils 9.22): the real parser rejects both in its own words, which are quoted as they are.
    for (file, ip) in [
        ("drbd-utils/v9-drbd_8.4.res", "172.16.6.211"),
        ("drbd-utils/v9-nat-address.res", "10.43.10.50"),
        ("drbd-utils/v9-tiebreaker.res", "192.168.1.10"),
    ] {
        let text = corpus(file);
        let f = node(&text, "undertest", &[ip]);
        let conf = f.root.path().join("etc/drbd.conf");
        let real = drbdadm(&conf, "undertest", &["dump"]);
        assert_ne!(real.code, 0, "{file}");
        let seen = findings(&f);
        let invalid: Vec<&Seen> = seen.iter().filter(|s| s.rule == "CONFIG-INVALID").collect();
        assert_eq!(invalid.len(), 1, "{file}: {seen:#?}");
        assert!(
            invalid[0].detail.contains("Parse error"),
            "{}",
            invalid[0].detail
        );
    }
}

// --- Firewalls made by the real tools -----------------------------------------------------------

static NETNS: AtomicUsize = AtomicUsize::new(0);

/// A network namespace of this test's own, deleted on drop.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let ip = require("ip");
        let name = format!(
            "drxrw-{}-{}",
            std::process::id(),
            NETNS.fetch_add(1, Ordering::SeqCst)
        );
        let out = run(&ip, &["netns", "add", &name], &[]);
        assert_eq!(out.code, 0, "ip netns add: {}", out.stderr);
        Netns(name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// `iptables -S` of a namespace after `script` ran in it. The script runs in a private mount
/// namespace where `private_dirs` are copies on a tmpfs, so the host's files stay untouched.
fn in_netns(script: &str, private_dirs: &[&str]) -> String {
    require("unshare");
    require("iptables");
    let ns = Netns::new();
    let saved = tempfile::tempdir().unwrap();
    let mut shell = String::from("set -e\nmount --make-rprivate /\n");
    for (i, dir) in private_dirs.iter().enumerate() {
        let copy = saved.path().join(i.to_string());
        shell.push_str(&format!(
            "cp -a {dir} {copy}\nmount -t tmpfs tmpfs {dir}\ncp -a {copy}/. {dir}/\n",
            copy = copy.display()
        ));
    }
    shell.push_str(&format!(
        "ip netns exec {ns} sh -ec '{script}\niptables -S'\n",
        ns = ns.0
    ));
    let out = run(&require("unshare"), &["-m", "sh", "-c", &shell], &[]);
    assert_eq!(out.code, 0, "{script}: {}", out.stderr);
    assert!(out.stdout.contains("-P INPUT"), "{}", out.stdout);
    out.stdout
}

/// The ruleset ufw makes from its defaults plus `rules` (ufw's own command lines).
fn ufw_ruleset(rules: &[&str]) -> String {
    require("ufw");
    let mut script = String::from("ufw --force enable >/dev/null");
    for rule in rules {
        script.push_str(&format!("\nufw {rule} >/dev/null"));
    }
    in_netns(&script, &["/etc/ufw"])
}

fn blocked(seen: &[Seen], endpoint: &str) -> bool {
    seen.iter()
        .any(|s| s.rule == "FIREWALL-PORT-BLOCKED" && s.detail.contains(endpoint))
}

fn with_iptables(ruleset: &str) -> Vec<Seen> {
    let f = node(
        &corpus("drbd-utils/v84-man.res"),
        "undertest",
        &["10.1.1.31"],
    );
    f.prints("iptables", ruleset);
    findings(&f)
}

#[test]
fn ufw_layouts_made_by_ufw() {
    // ufw's chains carry `--dst-type` RETURNs and limit-matched logging before the user rules.
    let closed = ufw_ruleset(&["allow 22/tcp"]);
    assert!(closed.contains("--dst-type LOCAL -j RETURN"), "{closed}");
    assert!(blocked(&with_iptables(&closed), "10.1.1.31:7789"));

    let open = ufw_ruleset(&["allow 22/tcp", "allow 7789/tcp"]);
    assert!(!blocked(&with_iptables(&open), "10.1.1.31:7789"));

    let from_peer = ufw_ruleset(&["allow from 10.1.1.32 to any port 7789 proto tcp"]);
    assert!(!blocked(&with_iptables(&from_peer), "10.1.1.31:7789"));

    let from_elsewhere = ufw_ruleset(&["allow from 10.9.9.9 to any port 7789 proto tcp"]);
    assert!(blocked(&with_iptables(&from_elsewhere), "10.1.1.31:7789"));
}

#[test]
fn an_undecidable_return_never_makes_a_later_drop_certain() {
    // Traffic from the replication NIC returns early to INPUT, which accepts 7789; anything
    // else is dropped. Whether the peer's packets arrive on eth1 cannot be told: not certain.
    let base = "iptables -P INPUT DROP\niptables -A INPUT -i lo -j ACCEPT\niptables -N GATE\n";
    let doubtful = in_netns(
        &format!("{base}iptables -A GATE -i eth1 -j RETURN\niptables -A GATE -p tcp --dport 22 -j RETURN\niptables -A GATE -j DROP\niptables -A INPUT -j GATE\niptables -A INPUT -p tcp --dport 7789 -j ACCEPT"),
        &[],
    );
    assert!(
        !blocked(&with_iptables(&doubtful), "10.1.1.31:7789"),
        "{doubtful}"
    );
    let certain = in_netns(
        &format!("{base}iptables -A GATE -p tcp --dport 22 -j RETURN\niptables -A GATE -j DROP\niptables -A INPUT -j GATE\niptables -A INPUT -p tcp --dport 7789 -j ACCEPT"),
        &[],
    );
    assert!(
        blocked(&with_iptables(&certain), "10.1.1.31:7789"),
        "{certain}"
    );
}

/// /etc/firewalld as `firewall-offline-cmd` leaves it after `commands`, made in a private mount
/// namespace over a tmpfs copy of the host's /etc/firewalld: (relative path, content) pairs.
fn firewalld_config(commands: &[&str]) -> Vec<(String, String)> {
    let offline = require("firewall-offline-cmd");
    require("unshare");
    let out_dir = tempfile::tempdir().unwrap();
    let saved = tempfile::tempdir().unwrap();
    let mut shell = format!(
        "set -e\nmount --make-rprivate /\ncp -a /etc/firewalld {s}/fw\nmount -t tmpfs tmpfs /etc/firewalld\ncp -a {s}/fw/. /etc/firewalld/\n",
        s = saved.path().display()
    );
    for c in commands {
        shell.push_str(&format!("{offline} {c} >/dev/null 2>&1\n"));
    }
    shell.push_str(&format!(
        "cp -a /etc/firewalld/. {}/\n",
        out_dir.path().display()
    ));
    let out = run(&require("unshare"), &["-m", "sh", "-c", &shell], &[]);
    assert_eq!(out.code, 0, "{commands:?}: {}", out.stderr);
    let mut files = Vec::new();
    for sub in ["zones", "services"] {
        let Ok(entries) = std::fs::read_dir(out_dir.path().join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".xml") {
                files.push((
                    format!("etc/firewalld/{sub}/{name}"),
                    std::fs::read_to_string(e.path()).unwrap(),
                ));
            }
        }
    }
    let conf = std::fs::read_to_string(out_dir.path().join("firewalld.conf")).unwrap();
    files.push(("etc/firewalld/firewalld.conf".to_string(), conf));
    files
}

fn with_firewalld(commands: &[&str]) -> Vec<Seen> {
    let f = node(
        &corpus("drbd-utils/v84-man.res"),
        "undertest",
        &["10.1.1.31"],
    );
    for (path, content) in firewalld_config(commands) {
        f.file(&path, content);
    }
    // The packaged zones and services, as installed.
    for sub in ["zones", "services"] {
        let dir = Path::new("/usr/lib/firewalld").join(sub);
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            f.file(
                &format!("usr/lib/firewalld/{sub}/{name}"),
                std::fs::read(e.path()).unwrap(),
            );
        }
    }
    findings(&f)
}

#[test]
fn firewalld_not_running_is_judged_by_its_permanent_zone_files() {
    let port = with_firewalld(&[
        "--zone=public --add-interface=eth0",
        "--zone=public --add-port=7789/tcp",
    ]);
    assert!(!blocked(&port, "10.1.1.31:7789"), "{port:#?}");

    let other_service = with_firewalld(&[
        "--zone=public --add-interface=eth0",
        "--zone=public --add-service=high-availability",
    ]);
    assert!(
        blocked(&other_service, "10.1.1.31:7789"),
        "{other_service:#?}"
    );

    let own_service = with_firewalld(&[
        "--new-service=drbd-r0",
        "--service=drbd-r0 --add-port=7789/tcp",
        "--zone=public --add-interface=eth0",
        "--zone=public --add-service=drbd-r0",
    ]);
    assert!(!blocked(&own_service, "10.1.1.31:7789"), "{own_service:#?}");

    // The port is opened in `public`, but the default zone is `internal` and public is bound
    // to nothing: public is inactive and does not count.
    let inactive = with_firewalld(&[
        "--zone=public --add-port=7789/tcp",
        "--set-default-zone=internal",
    ]);
    assert!(blocked(&inactive, "10.1.1.31:7789"), "{inactive:#?}");
}

/// BSR's own samples on a Linux BSR node (/etc/bsr.conf including bsr.d). No bsradm here: the
/// expectations follow bsr-utils' `hostnames_equal` (case-insensitive, short against full).
fn bsr_node(hostname: &str, ips: &[&str]) -> Fixture {
    let f = Fixture::new();
    f.file("/etc/hostname", format!("{hostname}\n"))
        .file("/etc/bsr.conf", corpus("bsr/bsr.conf.sample"))
        .file(
            "/etc/bsr.d/global_common.conf",
            corpus("bsr/global_common.conf.sample"),
        )
        .file("/etc/bsr.d/r0.res", corpus("bsr/r0.res.sample"));
    let mut ip_a = String::from("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\n    inet 127.0.0.1/8 scope host lo\n2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n");
    for ip in ips {
        ip_a.push_str(&format!("    inet {ip}/24 scope global eth0\n"));
    }
    f.prints("ip", &ip_a);
    f
}

#[test]
fn bsr_samples_follow_bsr_name_matching() {
    for name in [
        "WIN8_64_node1",
        "win8_64_node1",
        "Win8_64_Node1.corp.example",
    ] {
        let seen = findings(&bsr_node(name, &["192.168.75.137"]));
        assert!(
            !seen
                .iter()
                .any(|s| s.rule == "CONFIG-HOSTNAME-MISMATCH" || s.severity == "error"),
            "{name}: {seen:#?}"
        );
    }
    let foreign = findings(&bsr_node("elsewhere", &["172.31.255.7"]));
    assert!(serious(&foreign).is_empty(), "{:#?}", serious(&foreign));
    let renamed = findings(&bsr_node("win8-node1", &["192.168.75.137"]));
    assert!(
        renamed
            .iter()
            .any(|s| s.rule == "CONFIG-HOSTNAME-MISMATCH" && s.detail.contains("WIN8_64_node1")),
        "{renamed:#?}"
    );
}

/// Max RSS in KiB of a run of the binary, measured by GNU time.
fn max_rss_kib(args: &[&std::ffi::OsStr]) -> u64 {
    let time = require("time");
    let out = Command::new(time)
        .arg("-f")
        .arg("MAXRSS=%M")
        .arg(crate::util::BIN)
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "{args:?}: {stderr}"
    );
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("MAXRSS="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no MAXRSS in {stderr}"))
}

#[test]
fn large_resource_files_are_parsed_in_bounded_memory() {
    // Issue 12.11: 5 MB bundles of large .res files once took 24 GB. Eight 4 MiB files of one-line
    // resources: collect and inspect stay within a small multiple of the input.
    let f = Fixture::new();
    f.file("/etc/drbd.conf", "include \"drbd.d/*.res\";\n");
    for k in 0..8 {
        let mut text = String::new();
        let mut i = 0;
        while text.len() < 4 << 20 {
            text.push_str(&format!(
                "resource r{k}_{i} {{ on a{i} {{ address 10.{k}.{}.{}:{}; }} on b{i} {{ address 10.{}.{}.{}:{}; }} net {{ ping-timeout 30; }} }}\n",
                i / 250 % 250, i % 250, 7000 + i % 500, k + 8, i / 250 % 250, i % 250, 7000 + i % 500
            ));
            i += 1;
        }
        f.file(&format!("/etc/drbd.d/r{k}.res"), text);
    }
    let root = f.root.path().as_os_str().to_owned();
    let out = f.out.path().as_os_str().to_owned();
    let collect_rss = max_rss_kib(&[
        "collect".as_ref(),
        "--root".as_ref(),
        root.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    let bundle = f.bundles().pop().expect("a bundle");
    let inspect_rss = max_rss_kib(&["inspect".as_ref(), bundle.as_os_str()]);
    // 32 MiB of configuration: a bound of 320 MiB is ten times the input; unbounded parsing
    // needed over a gigabyte here.
    for (what, rss) in [("collect", collect_rss), ("inspect", inspect_rss)] {
        assert!(rss < 320 * 1024, "{what} used {rss} KiB");
    }
}
