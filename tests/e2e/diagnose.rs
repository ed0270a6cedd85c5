//! The knowledge base through the real binary: a healthy node is silent, each broken thing is
//! named with its remedy, in English or Korean.
use crate::util::*;
use std::process::Command;

pub const RES_R0: &str = "resource r0 {
  protocol A;
  net { ping-timeout 30; }
  volume 0 { device /dev/drbd0; disk /dev/sdb1; meta-disk internal; }
  on node1 {
    address ipv4 10.0.0.1:7789;
    proxy on node1 { inside 127.0.0.1:7790; outside 10.0.0.1:7791; }
  }
  on node2 {
    address ipv4 10.0.0.2:7789;
    proxy on node2 { inside 127.0.0.1:7790; outside 10.0.0.2:7791; }
  }
}
";

/// A healthy DRBD 8.4.11 + DRX node: firewall open for the ports, names and addresses agree,
/// wfc-timeout and ping-timeout set, DRX bridged, module loaded.
pub fn healthy_node(host: &str, own_ip: &str, peer_ip: &str, drx_version: &str) -> Fixture {
    let f = Fixture::new();
    let res = RES_R0;
    f.file("/etc/hostname", format!("{host}\n"))
        .file("/etc/drbd.conf", "include \"drbd.d/global_common.conf\";\ninclude \"drbd.d/*.res\";\n")
        .file("/etc/drbd.d/global_common.conf", "global { usage-count no; }\ncommon {\n  startup { wfc-timeout 1; degr-wfc-timeout 1; }\n}\n")
        .file("/etc/drbd.d/r0.res", res)
        .file("/proc/drbd", "version: 8.4.11-1 (api:1/proto:86-101)\nGIT-hash: 66145a3 build by mockbuild@, 2018-04-26 12:10:42\n 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate A r-----\n")
        .file("/opt/DRX/drx.conf", "loglevel-file = info\nlogfile-max-size = 10MB\n")
        .file("/opt/DRX/logs/main.log", "Log file created at: 2026/11/20 16:30:00\nI1120 16:37:02.690660 t42053 config] Loaded configuration\n")
        .file("/opt/DRX/logs/r0/r0.log", "I1120 16:37:03.000000 t42060 r0] state: bridging\nI1120 16:37:05.000000 t42060 r0] state: bridged\n")
        .file("/var/log/messages", format!("Nov 20 10:00:01 {host} kernel: drbd r0: conn( WFConnection -> WFReportParams )\nNov 20 10:00:02 {host} kernel: drbd r0: conn( WFReportParams -> Connected )\n"))
        .prints_by_args("drbdadm", &[
            ("-V", "DRBDADM_BUILDTAG=GIT-hash:\\ 5e2b4ff\\ build\\ by\\ mockbuild@\\,\\ 2018-04-26\nDRBDADM_API_VERSION=1\nDRBD_KERNEL_VERSION_CODE=0x08040b\nDRBDADM_VERSION_CODE=0x08090a\nDRBDADM_VERSION=8.9.10\n"),
            ("dump", res),
        ])
        .prints("rpm", "bash-4.2.46-34.el7.x86_64\ndrbd84-utils-8.9.10-1.el7.elrepo.x86_64\nkmod-drbd84-8.4.11-1.el7_5.elrepo.x86_64\n")
        .prints("lsmod", "Module                  Size  Used by\ndrbd                  374888  3\nlibcrc32c              12644  2 xfs,drbd\n")
        .prints("modinfo", "filename:       /lib/modules/3.10.0/weak-updates/drbd84/drbd.ko\nversion:        8.4.11-1\nlicense:        GPL\n")
        .prints("iptables", &format!("-P INPUT DROP\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -i lo -j ACCEPT\n-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT\n-A INPUT -s {peer_ip}/32 -d {own_ip}/32 -p tcp -m tcp --dport 7789 -j ACCEPT\n-A INPUT -p tcp -m multiport --dports 7790:7791 -j ACCEPT\n"))
        .prints("netstat", &format!("Active Internet connections (servers and established)\nProto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name\ntcp        0      0 127.0.0.1:7790          0.0.0.0:*               LISTEN      8033/drx\ntcp        0      0 {own_ip}:7791           0.0.0.0:*               LISTEN      8033/drx\ntcp        0      0 {own_ip}:7791           {peer_ip}:50460          ESTABLISHED 8033/drx\ntcp        0      0 {own_ip}:45000          {peer_ip}:7789           ESTABLISHED -\n"))
        .prints("drbdsetup", &format!("resource r0 {{\n    net {{\n        ping-timeout 30;\n    }}\n    _remote_host {{\n        address ipv4 127.0.0.1:7790;\n    }}\n    _this_host {{\n        address ipv4 {own_ip}:7789;\n    }}\n}}\n"))
        .prints("ip", &format!("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\n    inet 127.0.0.1/8 scope host lo\n2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n    inet {own_ip}/24 brd 10.0.0.255 scope global eth0\n"))
        .prints("ps", "UID        PID  PPID  C STIME TTY          TIME CMD\nroot         1     0  0 10:00 ?        00:00:01 /usr/lib/systemd/systemd\nroot      8033     1  0 10:00 ?        00:00:05 /opt/DRX/drx\n")
        .prints("drx", &format!("drx {drx_version}\n"));
    f
}

fn rules_of(bundle: &Bundle, severity: &str) -> Vec<String> {
    bundle.index["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == severity)
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_healthy_node_yields_no_error_or_warning() {
    let f = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    assert_success(&f.collect(&[]));
    let bundle = f.bundle();
    bundle.assert_verifies();
    assert_eq!(rules_of(&bundle, "error"), Vec::<String>::new());
    assert_eq!(rules_of(&bundle, "warning"), Vec::<String>::new());
    // inspect agrees with what the collector found.
    let output = inspect(&[bundle.path.as_os_str()]);
    assert_success(&output);
    assert!(
        stdout(&output).contains("0 error(s), 0 warning(s)"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn broken_things_are_found_with_their_evidence_and_remedy() {
    let f = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    // An old module, a BOM in a resource file, and DRX stuck bridging with refused connections.
    f.file("/proc/drbd", "version: 8.4.5 (api:1/proto:86-101)\n")
        .prints("modinfo", "version:        8.4.5\n")
        .file("/etc/drbd.d/r1.res", format!("\u{feff}{}", RES_R0.replace("r0", "r1").replace("7789", "7792").replace("7790", "7793").replace("7791", "7794")))
        .file("/opt/DRX/logs/r0/r0.log", "I1120 16:37:03.000000 t42060 r0] state: bridging\nE1120 16:37:04.000000 t42060 r0] connect to 10.0.0.2:7791 failed: connection refused\n");
    assert_success(&f.collect(&[]));
    let bundle = f.bundle();
    let errors = rules_of(&bundle, "error");
    for rule in ["VERSION-DRBD-OLD", "CONFIG-BOM", "DRX-CONNECTION-REFUSED"] {
        assert!(
            errors.contains(&rule.to_string()),
            "{rule} not in {errors:?}"
        );
    }
    assert!(rules_of(&bundle, "warning").contains(&"DRX-BRIDGING".to_string()));
    let bom = bundle.index["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "CONFIG-BOM" && f["path"] == "files/etc/drbd.d/r1.res")
        .expect("CONFIG-BOM on r1.res");
    assert_eq!(bom["line"], 1);
    assert!(bom["remedy"].as_str().unwrap().contains("nobomb"));
    // Worst first.
    let severities: Vec<&str> = bundle.index["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["severity"].as_str().unwrap())
        .collect();
    let mut sorted = severities.clone();
    sorted.sort_by_key(|s| match *s {
        "error" => 0,
        "warning" => 1,
        _ => 2,
    });
    assert_eq!(severities, sorted);
    assert!(bundle.read("SUMMARY.txt").contains("[ERROR] CONFIG-BOM"));
}

#[test]
fn the_real_drbdadm_parse_error_for_a_bom_file_is_recognised() {
    let drbdadm = ["/usr/sbin/drbdadm", "/sbin/drbdadm"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let drbdadm = drbdadm.expect(
        "drbdadm from Debian's drbd-utils is needed: run scripts/test.sh, which installs it",
    );
    let f = Fixture::new();
    f.file("/etc/drbd.conf", "include \"/ROOT/etc/drbd.d/*.res\";\n");
    let conf = f.root.path().join("etc/drbd.conf");
    std::fs::write(
        &conf,
        format!(
            "include \"{}/etc/drbd.d/*.res\";\n",
            f.root.path().display()
        ),
    )
    .unwrap();
    f.file("/etc/drbd.d/r0.res", format!("\u{feff}{RES_R0}"));
    // The real drbdadm, pointed at the fixture's configuration.
    f.command(
        "drbdadm",
        &format!("exec {drbdadm} -c '{}' \"$@\"", conf.display()),
    );
    assert_success(&f.collect(&[]));
    let bundle = f.bundle();
    let stderr = bundle.read("commands/drbdadm-dump.stderr.txt");
    assert!(
        stderr.contains("Parse error"),
        "real drbdadm said: {stderr}"
    );
    let findings = bundle.index["findings"].as_array().unwrap();
    let invalid = findings
        .iter()
        .find(|f| {
            f["rule"] == "CONFIG-INVALID"
                || (f["rule"] == "CONFIG-BOM" && f["path"] == "commands/drbdadm-dump.stderr.txt")
        })
        .unwrap_or_else(|| panic!("the real parse error was not recognised: {findings:?}"));
    assert!(
        invalid["excerpt"].as_str().unwrap().contains("Parse error")
            || invalid["path"] == "commands/drbdadm-dump.stderr.txt"
    );
    assert!(findings
        .iter()
        .any(|f| f["rule"] == "CONFIG-BOM" && f["path"] == "files/etc/drbd.d/r0.res"));

    // The real `file` agrees that the fixture has a BOM, the way the guide checks it.
    let described = Command::new("file")
        .arg(f.root.path().join("etc/drbd.d/r0.res"))
        .output()
        .unwrap();
    assert!(
        stdout(&described).contains("with BOM"),
        "{}",
        stdout(&described)
    );
}

#[test]
fn korean_output_follows_lang() {
    let f = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    f.file("/proc/drbd", "version: 8.4.5 (api:1/proto:86-101)\n")
        .prints("modinfo", "version: 8.4.5\n");
    assert_success(&f.collect(&["--lang", "ko"]));
    let bundle = f.bundle();
    let old = bundle.index["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "VERSION-DRBD-OLD")
        .unwrap()
        .clone();
    assert!(
        old["remedy"]
            .as_str()
            .unwrap()
            .chars()
            .any(|c| ('\u{ac00}'..='\u{d7a3}').contains(&c)),
        "{old}"
    );
    let output = Command::new(BIN)
        .env_clear()
        .env("LANG", "ko_KR.UTF-8")
        .args(["rules", "explain", "config-bom"])
        .output()
        .unwrap();
    assert_success(&output);
    assert!(stdout(&output).contains("CONFIG-BOM"));
    assert!(stdout(&output)
        .chars()
        .any(|c| ('\u{ac00}'..='\u{d7a3}').contains(&c)));
}

#[test]
fn rules_list_shows_every_spec_rule() {
    let output = Command::new(BIN)
        .env_clear()
        .args(["rules", "list"])
        .output()
        .unwrap();
    assert_success(&output);
    let text = stdout(&output);
    for id in [
        "CONFIG-BOM",
        "INSTALL-0X800B010A",
        "INSTALL-KB2883200-MISSING",
        "INSTALL-DOTNET351-MISSING",
        "VERSION-DRBD-OLD",
        "VERSION-DRBD-UTILS-OLD",
        "MODULE-NOT-LOADED",
        "VERSION-DRX-MISMATCH",
        "CONFIG-DUPLICATE-PORT",
        "CONFIG-HOSTNAME-MISMATCH",
        "CONFIG-WFC-TIMEOUT-MISSING",
        "CONFIG-PING-TIMEOUT",
        "BSR-ADDRESS-MISMATCH",
        "FIREWALL-PORT-BLOCKED",
        "NET-SYN-SENT",
        "NET-NOT-LISTENING",
        "DRX-CONNECTION-REFUSED",
        "DRX-BRIDGING",
        "VIP-STANDBY-DRX-RUNNING",
        "CONFIG-INVALID",
        "REPL-SPLIT-BRAIN",
        "REPL-AUTH-FAILED",
        "COLLECT-INCOMPLETE",
    ] {
        assert!(text.contains(id), "{id} missing from rules list");
    }
    let unknown = Command::new(BIN)
        .env_clear()
        .args(["rules", "explain", "NO-SUCH-RULE"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("rules list"));
}
