//! Table-driven tests: for every rule, a fixture bundle that makes it fire and a near miss that
//! must not, fed through `Scan` exactly as the collector does (`line` for every line, `add_file`
//! where `wants_whole`). Fixtures start from a healthy node and change one thing.
use std::collections::BTreeMap;

use super::*;
use crate::index::{Finding, Host, Item, ItemKind, Severity, Status};
use crate::lang::Lang;

type Files = BTreeMap<String, Vec<u8>>;

/// Builds Evidence from (bundle path, content) pairs, the way the collector feeds a bundle.
fn evidence_from(files: &Files, facts: &Facts) -> Evidence {
    let catalogue = Catalogue::embedded().expect("embedded catalogue");
    let mut scan = Scan::new(&catalogue);
    for (path, content) in files {
        if scan.wants_whole(path) {
            scan.add_file(path, content);
        }
        // A final '\n' ends the last line; it does not start another.
        let body = content.strip_suffix(b"\n").unwrap_or(content);
        if body.is_empty() && content.is_empty() {
            continue;
        }
        for (i, line) in body.split(|&b| b == b'\n').enumerate() {
            scan.line(path, i as u64 + 1, line);
        }
    }
    scan.finish(facts)
}

fn evidence(pairs: &[(&str, &str)], facts: &Facts) -> Evidence {
    evidence_from(&files(pairs), facts)
}

fn files(pairs: &[(&str, &str)]) -> Files {
    pairs
        .iter()
        .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
        .collect()
}

/// Marks a path to remove from the base fixture.
const DELETE: &str = "\u{0}delete";

fn with(base: &[(&str, &str)], changes: &[(&str, &str)]) -> Files {
    let mut files = files(base);
    for (path, content) in changes {
        if *content == DELETE {
            files.remove(*path);
        } else {
            files.insert(path.to_string(), content.as_bytes().to_vec());
        }
    }
    files
}

fn linux_facts(hostname: &str) -> Facts {
    Facts {
        host: Host {
            hostname: hostname.to_string(),
            os: "linux".to_string(),
            os_release: "CentOS Linux release 7.9.2009 (Core)".to_string(),
            kernel: "3.10.0-1160.el7.x86_64".to_string(),
        },
        items: Vec::new(),
        collected_at: None,
    }
}

fn windows_facts() -> Facts {
    Facts {
        host: Host {
            hostname: "WNODE1".to_string(),
            os: "windows".to_string(),
            os_release: "Microsoft Windows Server 2012 R2 Standard".to_string(),
            kernel: "6.3.9600".to_string(),
        },
        items: Vec::new(),
        collected_at: None,
    }
}

fn fired(findings: &[Finding], rule: &str) -> bool {
    findings.iter().any(|f| f.rule == rule)
}

const RES_R0: &str = "resource r0 {\n  protocol A;\n  volume 0 { device /dev/drbd0; disk /dev/sdb1; meta-disk internal; }\n  handlers { split-brain \"/usr/lib/drbd/notify-split-brain.sh root\"; }\n  on node1 {\n    address ipv4 10.0.0.1:7789;\n    proxy on node1 { inside 127.0.0.1:7790; outside 10.0.0.1:7791; }\n  }\n  on node2 {\n    address ipv4 10.0.0.2:7789;\n    proxy on node2 { inside 127.0.0.1:7790; outside 10.0.0.2:7791; }\n  }\n}\n";

const HEALTHY_LINUX: &[(&str, &str)] = &[
    ("files/etc/drbd.conf", "# DRBD configuration\ninclude \"drbd.d/global_common.conf\";\ninclude \"drbd.d/*.res\";\n"),
    ("files/etc/drbd.d/global_common.conf", "global { usage-count no; }\ncommon {\n  startup { wfc-timeout 1; degr-wfc-timeout 1; }\n  net { ping-timeout 30; }\n}\n"),
    ("files/etc/drbd.d/r0.res", RES_R0),
    ("files/proc/drbd", "version: 8.4.11-1 (api:1/proto:86-101)\nGIT-hash: 66145a308421e9c124ec391a7848ac20203bb03c build by mockbuild@, 2018-04-26 12:10:42\n 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate A r-----\n    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0\n"),
    ("commands/drbdadm-version.txt", "DRBDADM_BUILDTAG=GIT-hash:\\ 5e2b4ff\\ build\\ by\\ mockbuild@\\,\\ 2018-04-26\nDRBDADM_API_VERSION=1\nDRBD_KERNEL_VERSION_CODE=0x08040b\nDRBDADM_VERSION_CODE=0x08090a\nDRBDADM_VERSION=8.9.10\n"),
    ("commands/rpm-qa.txt", "bash-4.2.46-34.el7.x86_64\ndrbd84-utils-8.9.10-1.el7.elrepo.x86_64\nkmod-drbd84-8.4.11-1.el7_5.elrepo.x86_64\n"),
    ("commands/lsmod.txt", "Module                  Size  Used by\ndrbd                  374888  3\nlibcrc32c              12644  2 xfs,drbd\n"),
    ("commands/modinfo-drbd.txt", "filename:       /lib/modules/3.10.0/weak-updates/drbd84/drbd.ko\nversion:        8.4.11-1\nlicense:        GPL\n"),
    ("commands/iptables-s.txt", "-P INPUT DROP\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -i lo -j ACCEPT\n-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT\n-A INPUT -s 10.0.0.2/32 -d 10.0.0.1/32 -p tcp -m tcp --dport 7789 -j ACCEPT\n-A INPUT -p tcp -m multiport --dports 7790:7791 -j ACCEPT\n"),
    ("commands/firewalld-state.txt", ""),
    ("commands/firewalld-state.stderr.txt", "not running\n"),
    ("commands/netstat-nap.txt", "Active Internet connections (servers and established)\nProto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name\ntcp        0      0 127.0.0.1:7790          0.0.0.0:*               LISTEN      8033/drx\ntcp        0      0 10.0.0.1:7791           0.0.0.0:*               LISTEN      8033/drx\ntcp        0      0 10.0.0.1:7791           10.0.0.2:50460          ESTABLISHED 8033/drx\ntcp        0      0 10.0.0.1:45000          10.0.0.2:7789           ESTABLISHED -\ntcp        0      0 10.0.0.1:22             10.0.0.9:50000          ESTABLISHED 999/sshd\n"),
    ("commands/drbdsetup-show.txt", "resource r0 {\n    options {\n    }\n    net {\n        ping-timeout 30;\n    }\n    _remote_host {\n        address ipv4 127.0.0.1:7790;\n    }\n    _this_host {\n        address ipv4 10.0.0.1:7789;\n        volume 0 {\n            device minor 0;\n        }\n    }\n}\n"),
    ("commands/ip-a.txt", "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\n    inet 127.0.0.1/8 scope host lo\n2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n    inet 10.0.0.1/24 brd 10.0.0.255 scope global eth0\n"),
    ("commands/ps.txt", "UID        PID  PPID  C STIME TTY          TIME CMD\nroot         1     0  0 10:00 ?        00:00:01 /usr/lib/systemd/systemd\nroot      8033     1  0 10:00 ?        00:00:05 /opt/DRX/drx\n"),
    ("commands/drx-version.txt", "drx 1.2.3\n"),
    ("files/opt/DRX/drx.conf", "loglevel-file = info\nlogfile-max-size = 10MB\n"),
    ("files/opt/DRX/logs/main.log", "Log file created at: 2018/11/20 16:30:00\nI1120 16:37:02.690660 t42053 config] Loaded configuration\n"),
    ("files/opt/DRX/logs/r0/r0.log", "I1120 16:37:03.000000 t42060 r0] state: bridging\nI1120 16:37:05.000000 t42060 r0] state: bridged\n"),
    ("files/var/log/messages", "Nov 19 10:00:00 node1 kernel: drbd: initialized. Version: 8.4.5 (api:1/proto:86-101)\nNov 20 10:00:00 node1 kernel: drbd r0: Peer authenticated using 20 bytes HMAC\nNov 20 10:00:01 node1 kernel: drbd r0: conn( WFConnection -> WFReportParams )\n"),
];

const RES_BSR_WIN: &str = "resource r0 {\r\n  on WNODE1 {\r\n    address ipv4 10.1.0.1:7789;\r\n    proxy on WNODE1 { inside 127.0.0.1:7790; outside 10.1.0.1:7791; }\r\n  }\r\n  on wnode2 {\r\n    address ipv4 10.1.0.2:7789;\r\n    proxy on wnode2 { inside 127.0.0.1:7790; outside 10.1.0.2:7791; }\r\n  }\r\n}\r\n";

const HEALTHY_WINDOWS: &[(&str, &str)] = &[
    ("files/C/Program Files/bsr/etc/bsr.conf", "include \"bsr.d/*.res\";\r\n"),
    ("files/C/Program Files/bsr/etc/bsr.d/global_common.conf", "common {\r\n startup { wfc-timeout 1; }\r\n}\r\n"),
    ("files/C/Program Files/bsr/etc/bsr.d/r0.res", RES_BSR_WIN),
    ("commands/systeminfo.txt", "Host Name:                 WNODE1\r\nOS Name:                   Microsoft Windows Server 2012 R2 Standard\r\nOS Version:                6.3.9600 N/A Build 9600\r\nHotfix(s):                 2 Hotfix(s) Installed.\r\n                           [01]: KB2883200\r\n                           [02]: KB2919355\r\n"),
    ("commands/netsh-firewall-profiles.txt", "\r\nDomain Profile Settings:\r\n----------------------------------------------------------------------\r\nState                                 ON\r\nFirewall Policy                       BlockInbound,AllowOutbound\r\n\r\nOk.\r\n"),
    ("commands/netsh-firewall-rules.txt", "\r\nRule Name:                            DRX\r\n----------------------------------------------------------------------\r\nEnabled:                              Yes\r\nDirection:                            In\r\nProtocol:                             TCP\r\nLocalPort:                            7789-7791\r\nAction:                               Allow\r\n\r\nOk.\r\n"),
    ("commands/netstat-ano.txt", "\r\nActive Connections\r\n\r\n  Proto  Local Address          Foreign Address        State           PID\r\n  TCP    10.1.0.1:7789          0.0.0.0:0              LISTENING       4\r\n  TCP    10.1.0.1:7791          0.0.0.0:0              LISTENING       1234\r\n"),
    ("commands/ipconfig-all.txt", "Windows IP Configuration\r\n   IPv4 Address. . . . . . . . . . . : 10.1.0.1(Preferred)\r\n"),
    ("commands/sc-query-drx.txt", "SERVICE_NAME: drx\r\n        TYPE               : 10  WIN32_OWN_PROCESS\r\n        STATE              : 4  RUNNING\r\n"),
];

fn linux(changes: &[(&str, &str)]) -> Vec<Finding> {
    evidence_from(&with(HEALTHY_LINUX, changes), &linux_facts("node1")).findings(Lang::En)
}

fn linux_as(hostname: &str, changes: &[(&str, &str)]) -> Vec<Finding> {
    evidence_from(&with(HEALTHY_LINUX, changes), &linux_facts(hostname)).findings(Lang::En)
}

fn windows(changes: &[(&str, &str)]) -> Vec<Finding> {
    evidence_from(&with(HEALTHY_WINDOWS, changes), &windows_facts()).findings(Lang::En)
}

fn no_errors_or_warnings(findings: &[Finding]) {
    let bad: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .collect();
    assert!(bad.is_empty(), "healthy node has findings: {bad:#?}");
}

#[test]
fn healthy_linux_node_yields_no_error_or_warning() {
    no_errors_or_warnings(&linux(&[]));
}

#[test]
fn healthy_windows_node_yields_no_error_or_warning() {
    no_errors_or_warnings(&windows(&[]));
}

const BSR_CONF_DIR: &str = "files/etc/bsr.d/r0.res";

/// (name, rule, fixture findings, should fire)
type Case = (&'static str, &'static str, Vec<Finding>, bool);

fn cases() -> Vec<Case> {
    let bom_res = format!("\u{feff}{RES_R0}");
    let no_startup = "global { usage-count no; }\ncommon {\n  net { ping-timeout 30; }\n}\n";
    let r1_dup = "resource r1 {\n  on node1 { address 10.0.0.1:7789; }\n  on node2 { address 10.0.0.2:7792; }\n}\n";
    let r1_ok = "resource r1 {\n  on node1 { address 10.0.0.1:7792; }\n  on node2 { address 10.0.0.2:7792; }\n}\n";
    let common_ping = |value: &str| {
        format!(
            "common {{\n  startup {{ wfc-timeout 1; }}\n  net {{ ping-timeout {value}; }}\n}}\n"
        )
    };
    let ping5 = common_ping("5");
    let no_ping = "common {\n  startup { wfc-timeout 1; }\n}\n";
    let vip_res = RES_R0.replace("outside 10.0.0.1:7791", "outside 10.0.0.100:7791");
    let bsr_res_upper = RES_R0.replace("on node1", "on NODE1.example.com");
    let probe_line = |kind: &str, role: &str, target: &str, outcome: &str| {
        format!(
            "{}{kind}\t{role}\t{target}\t{outcome}\t12\taddress of node2 in resource r0\n",
            crate::probe::HEADER
        )
    };
    let refused = probe_line("tcp", "peer", "10.0.0.2:7789", "refused");
    let connected = probe_line("tcp", "peer", "10.0.0.2:7789", "connected");
    let timed_out = probe_line("tcp", "peer", "10.0.0.2:7789", "timed-out");
    let icmp_blocked = probe_line("ping", "peer", "10.0.0.2", "no-answer");
    let loopback_ok = probe_line("ping", "loopback", "127.0.0.1", "answered");
    let local_silent = format!("{loopback_ok}ping\tlocal\t10.0.0.1\tno-answer\t2004\taddress of resource r0 on this node\n");
    let all_silent = local_silent.replace("answered", "no-answer");
    vec![
        ("probe: a peer endpoint refuses TCP", "NET-PEER-REFUSED", linux(&[("commands/probe.txt", &refused)]), true),
        ("probe: a peer endpoint connects", "NET-PEER-REFUSED", linux(&[("commands/probe.txt", &connected)]), false),
        ("probe: a peer endpoint does not answer TCP", "NET-PEER-TIMEOUT", linux(&[("commands/probe.txt", &timed_out)]), true),
        ("probe: only ICMP to the peer is unanswered (often blocked)", "NET-PEER-TIMEOUT", linux(&[("commands/probe.txt", &icmp_blocked)]), false),
        ("probe: local address silent while loopback answers", "NET-LOCAL-IP-SILENT", linux(&[("commands/probe.txt", &local_silent)]), true),
        ("probe: nothing answers ping, not even loopback", "NET-LOCAL-IP-SILENT", linux(&[("commands/probe.txt", &all_silent)]), false),
        ("BOM in a resource file", "CONFIG-BOM", linux(&[("files/etc/drbd.d/r0.res", &bom_res)]), true),
        ("BOM in drx.conf", "CONFIG-BOM", linux(&[("files/opt/DRX/drx.conf", "\u{feff}loglevel-file = info\n")]), true),
        ("BOM in a DRX log is not a config problem", "CONFIG-BOM", linux(&[("files/opt/DRX/logs/main.log", "\u{feff}I1120 16:37:02.690660 t42053 config] started\n")]), false),
        ("DRX log: '=' not found at line 1", "CONFIG-BOM", linux(&[("files/opt/DRX/logs/main.log", "E1120 16:37:02.690660 t42053 config] Failed to load [/opt/DRX/drx.conf]. /opt/DRX/drx.conf(1): '=' character not found in line\n")]), true),
        ("DRX log: '=' not found at line 7 is not a BOM", "CONFIG-BOM", linux(&[("files/opt/DRX/logs/main.log", "E1120 16:37:02.690660 t42053 config] Failed to load [/opt/DRX/drx.conf]. /opt/DRX/drx.conf(7): '=' character not found in line\n")]), false),
        ("installer 0x800b010a", "INSTALL-0X800B010A", windows(&[("files/C/Users/admin/AppData/Local/Temp/dd_vcredist_amd64_20180726153304.log", "[0AD8:05C0][2018-07-26T15:33:04]e000: Error 0x800b010a: Failed authenticode verification of payload: C:\\ProgramData\\Package Cache\\.unverified\\vcRuntimeMinimum_x64\r\n[0AD8:05C0][2018-07-26T15:33:04]e310: Failed to verify payload: vcRuntimeMinimum_x64 at path: C:\\ProgramData\\Package Cache\\.unverified\\vcRuntimeMinimum_x64, error: 0x800B010A. Deleting file.\r\n")]), true),
        ("installer decimal -2146762486", "INSTALL-0X800B010A", windows(&[("files/C/Windows/Temp/dd_vcredist_x86_1.log", "[0AD8:05C0][2018-07-26T15:33:04]i000: MUX:  Error: -2146762486\r\n")]), true),
        ("installer success", "INSTALL-0X800B010A", windows(&[("files/C/Windows/Temp/dd_vcredist_x86_1.log", "[0AD8:05C0][2018-07-26T15:33:09]i399: Apply complete, result: 0x0, restart: None, ba requested restart:  No\r\n")]), false),
        ("newer vcredist present", "INSTALL-VCREDIST-NEWER", windows(&[("files/C/Windows/Temp/dd_vcredist_x86_1.log", "[0AD8:05C0][2018-07-26T15:33:09]e000: Error 0x80070666: Cannot install a product when a newer version is installed.\r\n")]), true),
        ("msu not applicable", "INSTALL-MSU-NOT-APPLICABLE", windows(&[("files/C/Windows/Temp/dd_vcredist_x86_1.log", "[0AD8:05C0][2018-07-26T15:33:09]e000: Error 0x80240017: Failed to execute MSU package.\r\n")]), true),
        ("2012 R2 without KB2883200", "INSTALL-KB2883200-MISSING", windows(&[("commands/systeminfo.txt", "Host Name: WNODE1\r\nOS Name: Microsoft Windows Server 2012 R2 Standard\r\nOS Version: 6.3.9600 N/A Build 9600\r\nHotfix(s): 1 Hotfix(s) Installed.\r\n [01]: KB2919442\r\nNetwork Card(s): 1 NIC(s) Installed.\r\n")]), true),
        ("2012 R2 with KB2883200 only as servicing package", "INSTALL-KB2883200-MISSING", windows(&[("commands/systeminfo.txt", "OS Version: 6.3.9600 N/A Build 9600\r\n [01]: KB2919442\r\nNetwork Card(s): 1 NIC(s) Installed.\r\n"), ("files/C/Windows/servicing/Packages/Package_for_KB2883200~31bf3856ad364e35~amd64~~6.3.1.0.mum", "<?xml version=\"1.0\"?>\r\n")]), false),
        ("2012 R2 without any update list", "INSTALL-KB2883200-MISSING", windows(&[("commands/systeminfo.txt", DELETE)]), false),
        ("2008 R2 without .NET 3.5", "INSTALL-DOTNET351-MISSING", windows(&[("commands/systeminfo.txt", "OS Name: Microsoft Windows Server 2008 R2 Enterprise\r\nOS Version: 6.1.7601 Service Pack 1 Build 7601\r\n"), ("commands/dotnet-versions.txt", "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v2.0.50727\r\n    Install    REG_DWORD    0x1\r\n")]), true),
        ("2008 R2 with .NET 3.5", "INSTALL-DOTNET351-MISSING", windows(&[("commands/systeminfo.txt", "OS Name: Microsoft Windows Server 2008 R2 Enterprise\r\nOS Version: 6.1.7601 Service Pack 1 Build 7601\r\n"), ("commands/dotnet-versions.txt", "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v3.5\r\n    Install    REG_DWORD    0x1\r\n    SP    REG_DWORD    0x1\r\n")]), false),
        ("drbd 8.4.5 in /proc/drbd", "VERSION-DRBD-OLD", linux(&[("files/proc/drbd", "version: 8.4.5 (api:1/proto:86-101)\n")]), true),
        ("drbd 8.4.5 from drbdadm -V only", "VERSION-DRBD-OLD", linux(&[("files/proc/drbd", DELETE), ("commands/drbdadm-version.txt", "DRBD_KERNEL_VERSION_CODE=0x080405\nDRBDADM_VERSION=8.9.10\n")]), true),
        ("drbd 8.4.11 loaded, old version only in an old log", "VERSION-DRBD-OLD", linux(&[]), false),
        ("DRBD 8.3 known only from its kernel log (\"initialised\")", "VERSION-DRBD-OLD", linux(&[("files/proc/drbd", DELETE), ("commands/drbdadm-version.txt", DELETE), ("commands/modinfo-drbd.txt", DELETE), ("commands/rpm-qa.txt", DELETE), ("files/var/log/messages", "Jun  1 10:00:00 node1 kernel: drbd: initialised. Version: 8.3.16 (api:88/proto:86-97)\n")]), true),
        ("BSR's version is not DRBD's", "VERSION-DRBD-OLD", linux(&[("files/proc/drbd", DELETE), ("commands/drbdadm-version.txt", DELETE), ("commands/modinfo-drbd.txt", DELETE), ("commands/rpm-qa.txt", "bsr-1.6.3-1.el7.x86_64\n"), ("files/proc/bsr", "BSR:1.6.3 (api:2/proto:86-113)\n"), ("commands/bsradm-version.txt", "BSR_KERNEL_VERSION=1.6.3\nBSRADM_VERSION=1.6.3\n"), ("files/var/log/messages", "Jun  1 10:00:00 node1 kernel: bsr: initialized. Version: 1.6.3\n")]), false),
        ("DRBD 9 kernel from rpm kmod-drbd90", "VERSION-DRBD-OLD", linux(&[("files/proc/drbd", DELETE), ("commands/drbdadm-version.txt", DELETE), ("commands/modinfo-drbd.txt", DELETE), ("commands/rpm-qa.txt", "kmod-drbd90-9.0.22-2.el8_2.elrepo.x86_64\ndrbd90-utils-9.13.1-1.el8.elrepo.x86_64\n")]), false),
        ("drbd84-utils 8.9.5 in dpkg -l", "VERSION-DRBD-UTILS-OLD", linux(&[("commands/drbdadm-version.txt", DELETE), ("commands/rpm-qa.txt", DELETE), ("commands/dpkg-l.txt", "ii  drbd8-utils   2:8.9.5-1   amd64   RAID 1 over TCP/IP for Linux (user utilities)\n")]), true),
        ("drbd-utils 8.9.5", "VERSION-DRBD-UTILS-OLD", linux(&[("commands/drbdadm-version.txt", "DRBD_KERNEL_VERSION_CODE=0x08040b\nDRBDADM_VERSION=8.9.5\n")]), true),
        ("drbd-utils 8.9.5 from rpm only", "VERSION-DRBD-UTILS-OLD", linux(&[("commands/drbdadm-version.txt", DELETE), ("commands/rpm-qa.txt", "drbd84-utils-8.9.5-1.el7.elrepo.x86_64\n")]), true),
        ("module missing from lsmod", "MODULE-NOT-LOADED", linux(&[("files/proc/drbd", DELETE), ("commands/lsmod.txt", "Module                  Size  Used by\nxfs                   997127  1\n")]), true),
        ("module missing but nothing configured", "MODULE-NOT-LOADED", linux(&[("files/proc/drbd", DELETE), ("commands/lsmod.txt", "Module                  Size  Used by\nxfs                   997127  1\n"), ("files/etc/drbd.d/r0.res", DELETE)]), false),
        ("same address:port in two resources", "CONFIG-DUPLICATE-PORT", linux(&[("files/etc/drbd.d/r1.res", r1_dup)]), true),
        ("own port per resource", "CONFIG-DUPLICATE-PORT", linux(&[("files/etc/drbd.d/r1.res", r1_ok)]), false),
        ("hostname not in any on section", "CONFIG-HOSTNAME-MISMATCH", linux_as("node3", &[]), true),
        ("DRBD compares host names exactly", "CONFIG-HOSTNAME-MISMATCH", linux_as("NODE1", &[]), true),
        ("BSR ignores case and domain", "CONFIG-HOSTNAME-MISMATCH", linux_as("node1", &[("files/etc/drbd.d/r0.res", DELETE), (BSR_CONF_DIR, &bsr_res_upper), ("files/proc/drbd", DELETE), ("commands/lsmod.txt", "Module Size Used by\nbsr 1 0\n")]), false),
        ("no wfc-timeout", "CONFIG-WFC-TIMEOUT-MISSING", linux(&[("files/etc/drbd.d/global_common.conf", no_startup)]), true),
        ("wfc-timeout in global does not count", "CONFIG-WFC-TIMEOUT-MISSING", linux(&[("files/etc/drbd.d/global_common.conf", "global { wfc-timeout 1; }\ncommon { net { ping-timeout 30; } }\n")]), true),
        ("ping-timeout 5 on DRBD", "CONFIG-PING-TIMEOUT", linux(&[("files/etc/drbd.d/global_common.conf", &ping5)]), true),
        ("ping-timeout unset on DRBD (default 5)", "CONFIG-PING-TIMEOUT", linux(&[("files/etc/drbd.d/global_common.conf", no_ping)]), true),
        ("ping-timeout unset on BSR (default 30)", "CONFIG-PING-TIMEOUT", linux(&[("files/etc/drbd.d/r0.res", DELETE), ("files/etc/drbd.conf", DELETE), ("files/etc/drbd.d/global_common.conf", DELETE), ("files/etc/bsr.d/global_common.conf", no_ping), (BSR_CONF_DIR, RES_R0), ("files/proc/drbd", DELETE), ("commands/drbdadm-version.txt", DELETE), ("commands/modinfo-drbd.txt", DELETE), ("commands/lsmod.txt", "Module Size Used by\nbsr 1 0\n")]), false),
        ("proxied, but the kernel still talks to the peer directly (file changed, not applied)", "BSR-ADDRESS-MISMATCH", linux(&[("commands/drbdsetup-show.txt", "resource r0 {\n    _remote_host {\n        address ipv4 10.0.0.2:7789;\n    }\n    _this_host {\n        address ipv4 10.0.0.1:7789;\n    }\n}\n")]), true),
        ("loaded address differs", "BSR-ADDRESS-MISMATCH", linux(&[("commands/drbdsetup-show.txt", "resource r0 {\n    _remote_host {\n        address ipv4 10.0.0.2:7789;\n    }\n    _this_host {\n        address ipv4 10.0.0.9:7789;\n    }\n}\n")]), true),
        ("loaded address differs (BSR/9 path form)", "BSR-ADDRESS-MISMATCH", linux(&[("commands/bsrsetup-show.txt", "resource r0 {\n    connection {\n        path {\n            _this_host ipv4 10.0.0.1:7789;\n            _remote_host ipv4 10.0.0.2:7700;\n        }\n    }\n}\n")]), true),
        ("loaded address equal (BSR/9 path form, proxied: the peer is the own proxy inside)", "BSR-ADDRESS-MISMATCH", linux(&[("commands/bsrsetup-show.txt", "resource r0 {\n    connection {\n        path {\n            _this_host ipv4 10.0.0.1:7789;\n            _remote_host ipv4 127.0.0.1:7790;\n        }\n    }\n}\n")]), false),
        ("iptables drops the replication port", "FIREWALL-PORT-BLOCKED", linux(&[("commands/iptables-s.txt", "-P INPUT ACCEPT\n-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p tcp --dport 22 -j ACCEPT\n-A INPUT -p tcp -m multiport --dports 7790:7791 -j ACCEPT\n-A INPUT -j REJECT --reject-with icmp-host-prohibited\n")]), true),
        ("iptables accepts only another source", "FIREWALL-PORT-BLOCKED", linux(&[("commands/iptables-s.txt", "-P INPUT DROP\n-A INPUT -s 10.0.0.3/32 -p tcp --dport 7789 -j ACCEPT\n-A INPUT -p tcp --dports 7790,7791 -j ACCEPT\n")]), true),
        ("iptables accepts a port range", "FIREWALL-PORT-BLOCKED", linux(&[("commands/iptables-s.txt", "-P INPUT DROP\n-A INPUT -p tcp --dport 7780:7799 -j ACCEPT\n")]), false),
        ("no firewall at all", "FIREWALL-PORT-BLOCKED", linux(&[("commands/iptables-s.txt", "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n")]), false),
        ("firewalld running without the port", "FIREWALL-PORT-BLOCKED", linux(&[("commands/iptables-s.txt", DELETE), ("commands/firewalld-state.txt", "running\n"), ("commands/firewalld-list-all.txt", "public (active)\n  target: default\n  services: ssh dhcpv6-client\n  ports: 7791/tcp\n")]), true),
        ("firewalld permanent lacks the port", "FIREWALL-PORT-BLOCKED", linux(&[("commands/iptables-s.txt", DELETE), ("commands/firewalld-state.txt", "running\n"), ("commands/firewalld-list-all.txt", "public (active)\n  ports: 7789/tcp 7791/tcp\n"), ("commands/firewalld-permanent-list-all.txt", "public\n  ports: 7791/tcp\n")]), true),
        ("firewalld opens the ports", "FIREWALL-PORT-BLOCKED", linux(&[("commands/iptables-s.txt", DELETE), ("commands/firewalld-state.txt", "running\n"), ("commands/firewalld-list-all.txt", "public (active)\n  ports: 7789/tcp 7791/tcp\n  rich rules: \n"), ("commands/firewalld-permanent-list-all.txt", "public\n  ports: 7789-7791/tcp\n")]), false),
        ("firewalld not running", "FIREWALL-PORT-BLOCKED", linux(&[("commands/iptables-s.txt", DELETE), ("commands/firewalld-list-all.txt", "public (active)\n  ports: \n")]), false),
        ("Windows firewall without a rule for the port", "FIREWALL-PORT-BLOCKED", windows(&[("commands/netsh-firewall-rules.txt", "\r\nRule Name:                            DRX\r\n----------------------------------------------------------------------\r\nEnabled:                              Yes\r\nDirection:                            In\r\nProfiles:                             Domain,Private,Public\r\nProtocol:                             TCP\r\nLocalPort:                            7791\r\nAction:                               Allow\r\n")]), true),
        ("Windows firewall off", "FIREWALL-PORT-BLOCKED", windows(&[("commands/netsh-firewall-rules.txt", "Ok.\r\n"), ("commands/netsh-firewall-profiles.txt", "Domain Profile Settings:\r\n----------------------------------------------------------------------\r\nState                                 OFF\r\n")]), false),
        ("SYN_SENT to the peer's DRX port", "NET-SYN-SENT", linux(&[("commands/netstat-nap.txt", "tcp 0 1 10.0.0.1:50460 10.0.0.2:7791 SYN_SENT 8033/drx\ntcp 0 0 10.0.0.1:7789 0.0.0.0:* LISTEN -\ntcp 0 0 10.0.0.1:7791 0.0.0.0:* LISTEN 8033/drx\ntcp 0 0 127.0.0.1:7790 0.0.0.0:* LISTEN 8033/drx\n")]), true),
        ("SYN_SENT to ssh", "NET-SYN-SENT", linux(&[("commands/netstat-nap.txt", "tcp 0 1 10.0.0.1:50460 10.0.0.2:22 SYN_SENT 1/ssh\ntcp 0 0 10.0.0.1:7789 0.0.0.0:* LISTEN -\ntcp 0 0 10.0.0.1:7791 0.0.0.0:* LISTEN 8033/drx\ntcp 0 0 127.0.0.1:7790 0.0.0.0:* LISTEN 8033/drx\n")]), false),
        ("replication port not listening", "NET-NOT-LISTENING", linux(&[("commands/netstat-nap.txt", "tcp 0 0 10.0.0.1:7791 0.0.0.0:* LISTEN 8033/drx\ntcp 0 0 127.0.0.1:7790 0.0.0.0:* LISTEN 8033/drx\n")]), true),
        ("listening on any address (ss, IPv6)", "NET-NOT-LISTENING", linux(&[("commands/netstat-nap.txt", DELETE), ("commands/ss-tanp.txt", "State Recv-Q Send-Q Local Address:Port Peer Address:Port\nLISTEN 0 5 [::]:7789 [::]:*\nLISTEN 0 5 *:7791 *:*\nLISTEN 0 5 127.0.0.1:7790 0.0.0.0:*\n")]), false),
        ("DRX log: connection refused", "DRX-CONNECTION-REFUSED", linux(&[("files/opt/DRX/logs/r0/r0.log", "E1120 16:40:00.000000 t42060 r0] connect to 10.0.0.2:7791 failed: Connection refused\n")]), true),
        ("connection refused outside DRX logs", "DRX-CONNECTION-REFUSED", linux(&[("files/var/log/messages", "Nov 20 sshd[1]: error: connect to 10.0.0.5 port 22: Connection refused\n")]), false),
        ("DRX stays bridging", "DRX-BRIDGING", linux(&[("files/opt/DRX/logs/r0/r0.log", "I1120 16:37:05.000000 t42060 r0] state: bridged\nW1120 17:00:00.000000 t42060 r0] state: bridging\n")]), true),
        ("DRX bridged after bridging", "DRX-BRIDGING", linux(&[]), false),
        ("DRX runs, proxy address not local", "VIP-STANDBY-DRX-RUNNING", linux(&[("files/etc/drbd.d/r0.res", &vip_res)]), true),
        ("proxy address not local, DRX stopped", "VIP-STANDBY-DRX-RUNNING", linux(&[("files/etc/drbd.d/r0.res", &vip_res), ("commands/ps.txt", "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 /usr/lib/systemd/systemd\n")]), false),
        ("DRX: config invalid (exit 2560)", "CONFIG-INVALID", linux(&[("files/opt/DRX/logs/main.log", "E1120 16:37:52.810044 t42132 config] Failed to get drbd configuration: Can't get drbd configuration. (exit_code: 2560)\n")]), true),
        ("DRX: configuration loaded", "CONFIG-INVALID", linux(&[("files/opt/DRX/logs/main.log", "I1120 16:37:52.810044 t42132 config] Got drbd configuration\n")]), false),
        ("DRBD split brain", "REPL-SPLIT-BRAIN", linux(&[("files/var/log/messages", "Nov 20 10:00:00 node1 kernel: block drbd0: Split-Brain detected but unresolved, dropping connection!\n")]), true),
        ("BSR status error field", "REPL-SPLIT-BRAIN", linux(&[("commands/bsrsetup-status.txt", "r0 node-id:0 role:Primary suspended:no\n  node2 node-id:1 connection:StandAlone error:split-brain role:Unknown\n")]), true),
        ("split-brain handler in the config only", "REPL-SPLIT-BRAIN", linux(&[]), false),
        ("split-brain handler called", "REPL-SPLIT-BRAIN", linux(&[("files/var/log/messages", "Nov 20 10:00:00 node1 kernel: block drbd0: helper command: /sbin/drbdadm split-brain minor-0\n")]), true),
        ("initial-split-brain handler only", "REPL-SPLIT-BRAIN", linux(&[("files/var/log/messages", "Nov 20 10:00:00 node1 kernel: block drbd0: helper command: /sbin/drbdadm initial-split-brain minor-0\nNov 20 10:00:00 node1 kernel: block drbd0: Split-Brain detected, 1 primaries, automatically solved. Sync from this node\n")]), false),
        ("DRBD 8.3 unresolved", "REPL-SPLIT-BRAIN", linux(&[("files/var/log/messages", "Nov 20 10:00:00 node1 kernel: block drbd0: Split-Brain detected, dropping connection!\n")]), true),
        ("BSR unresolved", "REPL-SPLIT-BRAIN", linux(&[("files/var/log/bsr/bsr.log", "[2026-11-20] bsr_alert r0: split-brain detected but unresolved, dropping connection\n")]), true),
        ("resolved automatically", "REPL-SPLIT-BRAIN-RESOLVED", linux(&[("files/var/log/messages", "Nov 20 10:00:00 node1 kernel: block drbd0: Split-Brain detected, 1 primaries, automatically solved. Sync from this node\n")]), true),
        ("resolved during attach (DRBD 9)", "REPL-SPLIT-BRAIN-RESOLVED", linux(&[("files/var/log/messages", "Nov 20 10:00:00 node1 kernel: drbd r0/0 drbd0 n2: Split-Brain detected during attach, 0 primary(ies), automatically resolved. Sync from peer node\n")]), true),
        ("resolved manually (BSR)", "REPL-SPLIT-BRAIN-RESOLVED", linux(&[("files/var/log/bsr/bsr.log", "[2026-11-20] bsr_warn r0: split-brain detected, manually solved. Sync from peer node\n")]), true),
        ("unresolved is not resolved", "REPL-SPLIT-BRAIN-RESOLVED", linux(&[("files/var/log/messages", "Nov 20 10:00:00 node1 kernel: block drbd0: Split-Brain detected but unresolved, dropping connection!\n")]), false),
        ("DRBD auth failed", "REPL-AUTH-FAILED", linux(&[("files/var/log/messages", "Nov 20 10:00:00 node1 kernel: drbd r0: Authentication of peer failed\n")]), true),
        ("peer authenticated", "REPL-AUTH-FAILED", linux(&[]), false),
        ("watchdog restart", "DRX-WATCHDOG-RESTART", linux(&[("files/opt/DRX/logs/main.log", "W1120 16:37:52.810044 t1 main] watchdog: drx exited abnormally, restarting\n")]), true),
    ]
}

#[test]
fn every_rule_fires_on_its_fixture_and_not_on_its_near_miss() {
    let mut failures = Vec::new();
    for (name, rule, findings, should_fire) in cases() {
        if fired(&findings, rule) != should_fire {
            failures.push(format!(
                "{name}: {rule} expected {} — findings: {:?}",
                if should_fire { "to fire" } else { "silent" },
                findings
                    .iter()
                    .map(|f| (&f.rule, &f.path, &f.detail))
                    .collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_rule_has_a_firing_fixture() {
    let catalogue = Catalogue::embedded().expect("loads");
    let firing: Vec<&str> = cases()
        .into_iter()
        .filter(|c| c.3)
        .map(|c| c.1)
        .chain([
            "COLLECT-INCOMPLETE",
            "VERSION-DRX-MISMATCH",
            "CONFIG-PEER-MISMATCH",
            // A gap of a --peer run's case file (tests/e2e/peer.rs).
            "PEER-COLLECT-FAILED",
        ])
        .collect();
    for rule in catalogue.rules() {
        assert!(
            firing.contains(&rule.id.as_str()),
            "{} has no firing fixture",
            rule.id
        );
    }
}

#[test]
fn findings_carry_place_and_excerpt() {
    let bom_res = format!("\u{feff}{RES_R0}");
    let findings = linux(&[("files/etc/drbd.d/r0.res", &bom_res)]);
    let bom = findings
        .iter()
        .find(|f| f.rule == "CONFIG-BOM")
        .expect("fires");
    assert_eq!(bom.path.as_deref(), Some("files/etc/drbd.d/r0.res"));
    assert_eq!(bom.line, Some(1));
    assert!(bom
        .excerpt
        .as_deref()
        .is_some_and(|e| e.contains("resource r0")));
    assert_eq!(bom.severity, Severity::Error);

    let findings = linux(&[("files/proc/drbd", "version: 8.4.5 (api:1/proto:86-101)\n")]);
    let old = findings
        .iter()
        .find(|f| f.rule == "VERSION-DRBD-OLD")
        .expect("fires");
    assert_eq!(old.path.as_deref(), Some("files/proc/drbd"));
    assert_eq!(
        old.excerpt.as_deref(),
        Some("version: 8.4.5 (api:1/proto:86-101)")
    );
}

#[test]
fn korean_texts_are_chosen_by_lang() {
    let ev = evidence_from(
        &with(
            HEALTHY_LINUX,
            &[("files/proc/drbd", "version: 8.4.5 (api:1/proto:86-101)\n")],
        ),
        &linux_facts("node1"),
    );
    let ko = ev.findings(Lang::Ko);
    let old = ko
        .iter()
        .find(|f| f.rule == "VERSION-DRBD-OLD")
        .expect("fires");
    assert!(old.remedy.contains("8.4.8 이상"), "{}", old.remedy);
}

#[test]
fn findings_are_sorted_worst_first() {
    let findings = linux(&[
        ("files/proc/drbd", "version: 8.4.5 (api:1/proto:86-101)\n"),
        (
            "files/etc/drbd.d/global_common.conf",
            "common { net { ping-timeout 30; } }\n",
        ),
    ]);
    let severities: Vec<Severity> = findings.iter().map(|f| f.severity).collect();
    let mut sorted = severities.clone();
    sorted.sort();
    assert_eq!(severities, sorted);
    assert!(severities.contains(&Severity::Error) && severities.contains(&Severity::Warning));
}

#[test]
fn collect_incomplete_names_each_gap() {
    let mut facts = linux_facts("node1");
    let mut timed_out = Item::new(
        "bsrsetup-status",
        ItemKind::Command,
        "bsrsetup status",
        Status::Timeout,
    );
    timed_out.path = Some("commands/bsrsetup-status.txt".to_string());
    facts.items = vec![
        timed_out,
        Item::new(
            "messages",
            ItemKind::File,
            "/var/log/messages",
            Status::Denied,
        ),
        Item::new("proc-bsr", ItemKind::File, "/proc/bsr", Status::Missing),
        Item::new("ip-a", ItemKind::Command, "ip a", Status::Ok),
    ];
    let findings = evidence(HEALTHY_LINUX, &facts).findings(Lang::En);
    let gaps: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule == "COLLECT-INCOMPLETE")
        .collect();
    assert_eq!(gaps.len(), 2, "{gaps:#?}");
    assert!(gaps.iter().all(|g| g.severity == Severity::Info));
    assert!(gaps.iter().any(|g| g
        .detail
        .as_deref()
        .is_some_and(|d| d.contains("bsrsetup-status"))));
}

fn pair(a_changes: &[(&str, &str)], b_changes: &[(&str, &str)]) -> Vec<Finding> {
    let a = evidence_from(&with(HEALTHY_LINUX, a_changes), &linux_facts("node1"));
    let b_res = RES_R0.to_string();
    let mut b_files = with(HEALTHY_LINUX, &[("files/etc/drbd.d/r0.res", &b_res)]);
    b_files.insert(
        "commands/ip-a.txt".to_string(),
        b"    inet 10.0.0.2/24 scope global eth0\n".to_vec(),
    );
    for (path, content) in b_changes {
        b_files.insert(path.to_string(), content.as_bytes().to_vec());
    }
    let b = evidence_from(&b_files, &linux_facts("node2"));
    cross_node(&[("node1", &a), ("node2", &b)], Lang::En)
}

#[test]
fn cross_node_drx_versions() {
    let findings = pair(&[], &[("commands/drx-version.txt", "drx 1.2.4\n")]);
    assert!(fired(&findings, "VERSION-DRX-MISMATCH"), "{findings:#?}");
    let findings = pair(&[], &[]);
    assert!(findings.is_empty(), "healthy pair: {findings:#?}");
}

#[test]
fn cross_node_peer_config_and_hostnames() {
    let other_port = RES_R0.replace("address ipv4 10.0.0.1:7789", "address ipv4 10.0.0.1:7700");
    let findings = pair(&[], &[("files/etc/drbd.d/r0.res", &other_port)]);
    let mismatch = findings
        .iter()
        .find(|f| f.rule == "CONFIG-PEER-MISMATCH")
        .expect("peer mismatch");
    assert_eq!(mismatch.node.as_deref(), Some("node2"));
    // node1's firewall accepts 7789 but not 7700, which node2 will connect to.
    let blocked = findings
        .iter()
        .find(|f| f.rule == "FIREWALL-PORT-BLOCKED")
        .expect("peer port blocked");
    assert_eq!(blocked.node.as_deref(), Some("node1"));

    let renamed = RES_R0.replace("on node1", "on node1-old");
    let findings = pair(&[], &[("files/etc/drbd.d/r0.res", &renamed)]);
    assert!(
        fired(&findings, "CONFIG-HOSTNAME-MISMATCH"),
        "{findings:#?}"
    );
}

/// Real output of Debian's drbdadm (drbd-utils 9.22.0) for `drbdadm -c drbd.conf dump` with a
/// BOM at the start of `drbd.d/r0.res` (exit code 10). The got-token is the raw byte 0xEF.
const REAL_DRBDADM_BOM_ERROR: &[u8] = b"drbd.d/r0.res:1: Parse error: 'global | common | resource | skip | include |\n\trequire-drbd-module-version-{eq,ne,gt,ge,lt,le}' expected,\n\tbut got '\xef'\n";

/// Same drbdadm, two resources with the same local address:port.
const REAL_DRBDADM_DUPLICATE: &str = "/tmp/rx/drbd.d/r0.res:0: in resource r1\n    ipv4:10.0.0.1:7789 is also used /tmp/rx/drbd.d/r0.res:0 (resource r0)\n";

#[test]
fn real_drbdadm_error_texts_match_the_patterns() {
    let mut files = with(HEALTHY_LINUX, &[]);
    files.insert(
        "commands/drbdadm-dump.stderr.txt".to_string(),
        REAL_DRBDADM_BOM_ERROR.to_vec(),
    );
    let findings = evidence_from(&files, &linux_facts("node1")).findings(Lang::En);
    assert!(fired(&findings, "CONFIG-BOM"), "{findings:#?}");
    assert!(fired(&findings, "CONFIG-INVALID"), "{findings:#?}");

    let findings = linux(&[("commands/drbdadm-dump.stderr.txt", REAL_DRBDADM_DUPLICATE)]);
    assert!(fired(&findings, "CONFIG-DUPLICATE-PORT"), "{findings:#?}");
}

#[test]
fn drx_log_relaying_the_bsr_parse_error() {
    let log = "E1120 16:37:52.810044 t42132 config] Failed to get drbd configuration: Can't get drbd configuration. (exit_code: 2560)\nE1120 16:37:52.810068 t42132 config] Output: drbd.d/1/r0.res:1: Parse error: 'global | common | resource | skip | include' expected,\nE1120 16:37:52.810070 t42132 config] Output: but got '\u{2592}'\n";
    let findings = linux(&[("files/opt/DRX/logs/main.log", log)]);
    assert!(fired(&findings, "CONFIG-BOM"));
    assert!(fired(&findings, "CONFIG-INVALID"));
}

#[test]
fn non_utf8_and_huge_lines_do_not_break_the_scan() {
    let mut files = with(HEALTHY_LINUX, &[]);
    let mut junk = vec![0xffu8, 0xfe, 0x00, b'\r'];
    junk.extend(std::iter::repeat_n(b'x', 100_000));
    junk.extend_from_slice(b" connection refused \xff\n");
    files.insert("files/opt/DRX/logs/r0/r0.log".to_string(), junk);
    let findings = evidence_from(&files, &linux_facts("node1")).findings(Lang::En);
    let refused = findings
        .iter()
        .find(|f| f.rule == "DRX-CONNECTION-REFUSED")
        .expect("fires");
    assert!(refused
        .excerpt
        .as_deref()
        .is_some_and(|e| e.chars().count() <= 300));
}

/// Issue 13.1: the section is found as the installed tool finds it, else by address.
#[test]
fn host_names_compare_by_the_engine_version_and_fall_back_to_addresses() {
    let mismatch = |f: &[Finding]| {
        f.iter()
            .find(|x| x.rule == "CONFIG-HOSTNAME-MISMATCH")
            .and_then(|x| x.detail.clone())
    };
    // DRBD 8.4 (the healthy node's /proc/drbd): exact. "NODE1" is not "node1".
    let upper = linux_as("NODE1", &[]);
    let detail = mismatch(&upper).expect("8.4 compares exactly");
    assert!(detail.contains("this node's address 10.0.0.1"), "{detail}");
    // The address checks still run for the renamed node: its firewall is judged.
    let closed = linux_as(
        "NODE1",
        &[(
            "commands/iptables-s.txt",
            "-P INPUT DROP\n-A INPUT -p tcp --dport 22 -j ACCEPT\n",
        )],
    );
    assert!(fired(&closed, "FIREWALL-PORT-BLOCKED"), "{closed:#?}");
    // DRBD 9 (kernel 9.x): hostnames_equal, short name against any domain, any case.
    let nine = [
        ("files/proc/drbd", "version: 9.2.8 (api:2/proto:86-122)\n"),
        (
            "commands/drbdadm-version.txt",
            "DRBD_KERNEL_VERSION_CODE=0x090208\nDRBDADM_VERSION=9.27.0\n",
        ),
        ("commands/modinfo-drbd.txt", "version:        9.2.8\n"),
        ("commands/rpm-qa.txt", "drbd-utils-9.27.0-1.el9.x86_64\n"),
    ];
    for name in ["NODE1", "node1.example.com", "Node1.Corp.Example"] {
        let f = linux_as(name, &nine);
        assert!(mismatch(&f).is_none(), "{name}: {f:#?}");
    }
    // BSR: the same comparison.
    let bsr = linux_as(
        "Node1.example.com",
        &[
            ("files/etc/bsr.d/r0.res", RES_R0),
            ("files/etc/drbd.d/r0.res", DELETE),
        ],
    );
    assert!(mismatch(&bsr).is_none(), "{bsr:#?}");
    // Neither name nor address: another cluster's resource, nothing at all.
    let foreign = linux_as(
        "other",
        &[
            (
                "commands/ip-a.txt",
                "2: eth0: <UP>\n    inet 172.31.0.9/24 scope global eth0\n",
            ),
            ("commands/drbdsetup-show.txt", DELETE),
            ("commands/netstat-nap.txt", DELETE),
        ],
    );
    no_errors_or_warnings(&foreign);
    // The address from an ifcfg file when `ip a` was not collected.
    let ifcfg = linux_as(
        "renamed",
        &[
            ("commands/ip-a.txt", DELETE),
            (
                "files/etc/sysconfig/network-scripts/ifcfg-eth0",
                "DEVICE=eth0\nIPADDR=10.0.0.1\nPREFIX=24\n",
            ),
        ],
    );
    assert!(
        mismatch(&ifcfg).is_some_and(|d| d.contains("10.0.0.1")),
        "{ifcfg:#?}"
    );
}

/// Issue 13.3: a dump that exited non-zero with a message is CONFIG-INVALID, not a gap.
#[test]
fn a_rejected_dump_is_config_invalid_not_collect_incomplete() {
    let mut facts = linux_facts("node1");
    let mut item = crate::index::Item::new(
        "bsradm-dump",
        crate::index::ItemKind::Command,
        "bsradm dump",
        crate::index::Status::Failed,
    );
    item.exit_code = Some(10);
    item.stderr_path = Some("commands/bsradm-dump.stderr.txt".to_string());
    item.error = Some("exited with status 10".to_string());
    facts.items.push(item);
    let files = with(
        HEALTHY_LINUX,
        &[(
            "commands/bsradm-dump.stderr.txt",
            "sh: 1: modinfo: not found\n/etc/bsr.d/r0.res:3: in resource r0:\n\tIP 10.0.0.9 not found on this host.\n",
        )],
    );
    let findings = evidence_from(&files, &facts).findings(Lang::En);
    let invalid: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule == "CONFIG-INVALID")
        .collect();
    assert_eq!(invalid.len(), 1, "{findings:#?}");
    assert_eq!(invalid[0].line, Some(2));
    assert!(invalid[0]
        .detail
        .as_deref()
        .is_some_and(|d| d.contains("exited 10") && d.contains("in resource r0")));
    assert!(!fired(&findings, "COLLECT-INCOMPLETE"), "{findings:#?}");
    // Not run at all (127) or killed: still a gap, no verdict on the configuration.
    let mut facts = linux_facts("node1");
    let mut item = crate::index::Item::new(
        "drbdadm-dump",
        crate::index::ItemKind::Command,
        "drbdadm dump",
        crate::index::Status::Failed,
    );
    item.exit_code = Some(127);
    facts.items.push(item);
    let findings = evidence_from(&with(HEALTHY_LINUX, &[]), &facts).findings(Lang::En);
    assert!(fired(&findings, "COLLECT-INCOMPLETE"));
    assert!(!fired(&findings, "CONFIG-INVALID"));
}

/// Issue 13.2: proxy addresses of DRBD 9 `via proxy` feed the duplicate-port check.
#[test]
fn drbd9_proxy_addresses_are_checked_for_duplicates() {
    let two = "resource a {\n  on node1 { node-id 0; }\n  on node2 { node-id 1; }\n  connection {\n    host node1 address 10.0.0.1:7789 via proxy on node1 { inside 127.0.0.1:7790; outside 10.0.0.1:7791; }\n    host node2 address 10.0.0.2:7789 via proxy on node2 { inside 127.0.0.1:7790; outside 10.0.0.2:7791; }\n  }\n}\nresource b {\n  on node1 { node-id 0; }\n  on node2 { node-id 1; }\n  connection {\n    host node1 address 10.0.0.1:7800 via proxy on node1 { inside 127.0.0.1:7801; outside 10.0.0.1:7791; }\n    host node2 address 10.0.0.2:7800 via proxy on node2 { inside 127.0.0.1:7801; outside 10.0.0.2:7802; }\n  }\n}\n";
    let findings = linux(&[("files/etc/drbd.d/r0.res", two)]);
    let dup = findings
        .iter()
        .find(|f| f.rule == "CONFIG-DUPLICATE-PORT")
        .expect("outside 10.0.0.1:7791 used twice");
    assert!(dup
        .detail
        .as_deref()
        .is_some_and(|d| d.contains("10.0.0.1:7791")));
}

/// Issue 12.11: checks across many resources and files stay near-linear.
#[test]
fn many_resources_across_files_are_judged_quickly() {
    let mut changes: Vec<(String, String)> = Vec::new();
    for file in 0..8 {
        let mut text = String::new();
        for i in 0..1000 {
            let n = file * 1000 + i;
            // Every resource stacks on the previous one: the worst case for section lookups.
            let lower = if n == 0 {
                "r0".to_string()
            } else {
                format!("s{}", n - 1)
            };
            text.push_str(&format!(
                "resource s{n} {{ stacked-on-top-of {lower} {{ address 10.9.{}.{}:{}; }} on far{n} {{ address 10.8.{}.{}:7000; }} }}\n",
                n / 250,
                n % 250,
                7000 + n % 1000,
                n / 250,
                n % 250
            ));
        }
        changes.push((format!("files/etc/drbd.d/s{file}.res"), text));
    }
    let refs: Vec<(&str, &str)> = changes
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let started = std::time::Instant::now();
    let evidence = evidence_from(&with(HEALTHY_LINUX, &refs), &linux_facts("node1"));
    let findings = evidence.findings(Lang::En);
    let pair = crate::rules::cross_node(&[("a", &evidence), ("b", &evidence)], Lang::En);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(
        !fired(&findings, "CONFIG-HOSTNAME-MISMATCH"),
        "stacked chain is this node's"
    );
    let _ = pair;
}

// Windows as it is in the field (issue 19): real outputs, partial update lists, encodings.
#[path = "tests_windows.rs"]
mod windows_field;
