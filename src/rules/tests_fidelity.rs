//! Issue 24, items 24–29: the rules read every source of a fact (DRX's version, the journal) and
//! judge what the evidence can decide, connection by connection and path by path. Real inputs
//! are from tests/realworld (drbd-utils' own `drbdsetup show` / resource pairs).
use super::*;

const SWITCH_RES: &str =
    include_str!("../../tests/realworld/linux/drbd-utils/v9-adjust_switch_interface_r0.res");
const SWITCH_SHOW: &str = include_str!(
    "../../tests/realworld/linux/drbd-utils/v9-drbdsetup_show_switch_interface_r0.txt"
);
const PROXY_RES: &str = include_str!("../../tests/realworld/linux/drbd-utils/v9-adjust_proxy.res");
const PROXY_SHOW: &str =
    include_str!("../../tests/realworld/linux/drbd-utils/v9-drbdsetup_show_adjust_proxy.txt");
const PROXY_SHOW_NO_PATH: &str = include_str!(
    "../../tests/realworld/linux/drbd-utils/v9-drbdsetup_show_adjust_proxy_no_path.txt"
);
const FLOATING_RES: &str =
    include_str!("../../tests/realworld/linux/drbd-utils/v9-floating-ipv4.res");

fn details<'a>(findings: &'a [Finding], rule: &str) -> Vec<&'a str> {
    findings
        .iter()
        .filter(|f| f.rule == rule)
        .map(|f| f.detail.as_deref().unwrap_or(""))
        .collect()
}

/// A DRBD 9 node: the kernel and utilities say 9, the healthy node's 8.4 evidence removed.
const DRBD9: &[(&str, &str)] = &[
    ("files/proc/drbd", "version: 9.2.8 (api:2/proto:86-122)\n"),
    (
        "commands/drbdadm-version.txt",
        "DRBD_KERNEL_VERSION_CODE=0x090208\nDRBDADM_VERSION=9.27.0\n",
    ),
    ("commands/modinfo-drbd.txt", "version:        9.2.8\n"),
    ("commands/rpm-qa.txt", "drbd-utils-9.27.0-1.el9.x86_64\n"),
];

fn drbd9_node(hostname: &str, changes: &[(&str, &str)]) -> Vec<Finding> {
    let all: Vec<(&str, &str)> = DRBD9.iter().chain(changes).copied().collect();
    linux_as(hostname, &all)
}

// --- 24.24: DRX's version from every source ----------------------------------------------------

/// Both nodes of a pair, each from the healthy node with its own changes.
fn pair_of(a: &[(&str, &str)], b: &[(&str, &str)]) -> Vec<Finding> {
    let a = evidence_from(&with(HEALTHY_LINUX, a), &linux_facts("node1"));
    let b_ip: &[(&str, &str)] = &[(
        "commands/ip-a.txt",
        "    inet 10.0.0.2/24 scope global eth0\n",
    )];
    let b_changes: Vec<(&str, &str)> = b_ip.iter().chain(b).copied().collect();
    let b = evidence_from(&with(HEALTHY_LINUX, &b_changes), &linux_facts("node2"));
    cross_node(&[("node1", &a), ("node2", &b)], Lang::En)
}

#[test]
fn drx_versions_from_packages_and_logs_are_compared() {
    let node = |version: &str| {
        (
            format!("bash-4.2.46-34.el7.x86_64\ndrx-{version}-1.el7.x86_64\n"),
            format!("I1207 10:00:00.000000 t1 main] DRX {version} starting\n"),
        )
    };
    let (rpm_a, log_a) = node("2.4.1");
    let (rpm_b, log_b) = node("2.3.0");
    let a = [
        ("commands/drx-version.txt", DELETE),
        ("commands/rpm-qa.txt", rpm_a.as_str()),
        ("files/opt/DRX/logs/main.log", log_a.as_str()),
    ];
    let b = [
        ("commands/drx-version.txt", DELETE),
        ("commands/rpm-qa.txt", rpm_b.as_str()),
        ("files/opt/DRX/logs/main.log", log_b.as_str()),
    ];
    let findings = pair_of(&a, &b);
    let mismatch = details(&findings, "VERSION-DRX-MISMATCH");
    assert_eq!(mismatch.len(), 1, "{findings:#?}");
    assert!(
        mismatch[0].contains("2.4.1") && mismatch[0].contains("2.3.0"),
        "{mismatch:?}"
    );
    // Each source alone: the log on one node, the package on the other.
    let log_only = [
        ("commands/drx-version.txt", DELETE),
        ("files/opt/DRX/logs/main.log", log_b.as_str()),
    ];
    let rpm_only = [
        ("commands/drx-version.txt", DELETE),
        ("commands/rpm-qa.txt", rpm_a.as_str()),
    ];
    assert!(fired(
        &pair_of(&rpm_only, &log_only),
        "VERSION-DRX-MISMATCH"
    ));
    // The same version from different sources is no mismatch (2.4.1 is 2.4.1.0).
    let same = [
        ("commands/drx-version.txt", DELETE),
        (
            "files/opt/DRX/logs/main.log",
            "I1207 10:00:00.000000 t1 main] DRX version 2.4.1.0\n",
        ),
    ];
    assert!(!fired(&pair_of(&rpm_only, &same), "VERSION-DRX-MISMATCH"));
    // Newest wins: an upgraded node's old start line and the old `drx --version` of a stale
    // output do not make a mismatch with a node on the new version.
    let upgraded = [
        ("commands/drx-version.txt", "drx 2.3.0\n"),
        (
            "files/opt/DRX/logs/main.log",
            "I1201 10:00:00.000000 t1 main] DRX 2.3.0 starting\nI1207 10:00:00.000000 t1 main] DRX 2.4.1 starting\n",
        ),
    ];
    let findings = pair_of(&upgraded, &rpm_only);
    assert!(!fired(&findings, "VERSION-DRX-MISMATCH"), "{findings:#?}");
}

#[test]
fn drx_version_from_windows_installed_programs() {
    let reg = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\DRX\r\n    DisplayName    REG_SZ    DRX\r\n    DisplayVersion    REG_SZ    2.3.0\r\n";
    let win = evidence_from(
        &with(HEALTHY_WINDOWS, &[("commands/reg-uninstall.txt", reg)]),
        &windows_facts(),
    );
    assert_eq!(win.drx_version(), Some("2.3.0"));
    let linux = evidence_from(&with(HEALTHY_LINUX, &[]), &linux_facts("node1"));
    let findings = cross_node(&[("wnode1", &win), ("node1", &linux)], Lang::En);
    assert!(fired(&findings, "VERSION-DRX-MISMATCH"), "{findings:#?}");
}

// --- 24.25: no verdict on a floating resource without addresses ------------------------------

#[test]
fn a_floating_resource_without_addresses_has_no_hostname_verdict() {
    let findings = drbd9_node(
        "undertest",
        &[
            ("files/etc/drbd.d/r0.res", FLOATING_RES),
            ("commands/ip-a.txt", DELETE),
            ("commands/drbdsetup-show.txt", DELETE),
        ],
    );
    assert!(
        !fired(&findings, "CONFIG-HOSTNAME-MISMATCH"),
        "{findings:#?}"
    );
    // A floating section beside named ones: still undecided without addresses.
    let mixed = "resource r0 {\n  floating 10.0.0.1:7789 { node-id 0; }\n  on far { node-id 1; address 10.9.0.2:7789; }\n}\n";
    let findings = drbd9_node(
        "undertest",
        &[
            ("files/etc/drbd.d/r0.res", mixed),
            ("commands/ip-a.txt", DELETE),
            ("commands/drbdsetup-show.txt", DELETE),
        ],
    );
    assert!(
        !fired(&findings, "CONFIG-HOSTNAME-MISMATCH"),
        "{findings:#?}"
    );
    // Named sections only, none of them this node: the rule still speaks, naming them.
    let findings = linux_as("node3", &[("commands/ip-a.txt", DELETE)]);
    let said = details(&findings, "CONFIG-HOSTNAME-MISMATCH");
    assert_eq!(said.len(), 1, "{findings:#?}");
    assert!(said[0].contains("names node1, node2"), "{said:?}");
    for finding in &findings {
        let detail = finding.detail.as_deref().unwrap_or("");
        assert!(
            !detail.contains("names ;") && !detail.contains("names )") && !detail.contains("`on `"),
            "an empty list in {detail:?}"
        );
    }
}

// --- 24.26: the declared hotfix count decides --------------------------------------------------

fn systeminfo_2012r2(hotfix_header: &str, kbs: &[&str]) -> String {
    let mut text = String::from(
        "Host Name:                 WNODE1\r\nOS Name:                   Microsoft Windows Server 2012 R2 Standard\r\nOS Version:                6.3.9600 N/A Build 9600\r\n",
    );
    text.push_str(&format!("{hotfix_header}\r\n"));
    for (i, kb) in kbs.iter().enumerate() {
        text.push_str(&format!(
            "                           [{:02}]: {kb}\r\n",
            i + 1
        ));
    }
    text
}

#[test]
fn a_last_hotfix_section_with_its_declared_count_is_a_whole_list() {
    let kbs = ["KB2919442", "KB2999226"];
    let en = systeminfo_2012r2("Hotfix(s):                 2 Hotfix(s) Installed.", &kbs);
    let findings = windows(&[("commands/systeminfo.txt", &en)]);
    assert!(
        fired(&findings, "INSTALL-KB2883200-MISSING"),
        "{findings:#?}"
    );
    let seven = [
        "KB2919442",
        "KB2999226",
        "KB3000850",
        "KB3003057",
        "KB3014442",
        "KB3172614",
        "KB4054566",
    ];
    let ru = systeminfo_2012r2(
        "Исправление(я):            Число установленных исправлений - 7.",
        &seven,
    );
    let findings = windows(&[("commands/systeminfo.txt", &ru)]);
    assert!(
        fired(&findings, "INSTALL-KB2883200-MISSING"),
        "{findings:#?}"
    );
    // More declared than listed: cut short, no verdict, and the gap is named.
    let cut = systeminfo_2012r2("Hotfix(s):                 9 Hotfix(s) Installed.", &seven);
    let findings = windows(&[("commands/systeminfo.txt", &cut)]);
    assert!(
        !fired(&findings, "INSTALL-KB2883200-MISSING"),
        "{findings:#?}"
    );
    assert!(details(&findings, "COLLECT-INCOMPLETE")
        .iter()
        .any(|d| d.contains("commands/systeminfo.txt")));
}

// --- 24.27: the journal is a log -------------------------------------------------------------

#[test]
fn journal_only_hosts_are_judged_from_the_journal() {
    let journal = "2026-12-07T10:00:00+0900 node1 kernel: drbd: initialized. Version: 8.4.5 (api:1/proto:86-101)\n2026-12-07T10:05:00+0900 node1 kernel: block drbd0: Split-Brain detected but unresolved, dropping connection!\n2026-12-07T10:06:00+0900 node1 kernel: drbd r0: Authentication of peer failed\n";
    let findings = linux(&[
        ("files/var/log/messages", DELETE),
        ("files/proc/drbd", DELETE),
        ("commands/drbdadm-version.txt", DELETE),
        ("commands/modinfo-drbd.txt", DELETE),
        ("commands/rpm-qa.txt", DELETE),
        ("commands/journalctl-kernel.txt", journal),
    ]);
    for rule in ["REPL-SPLIT-BRAIN", "REPL-AUTH-FAILED", "VERSION-DRBD-OLD"] {
        let found = findings.iter().find(|f| f.rule == rule);
        assert_eq!(
            found.and_then(|f| f.path.as_deref()),
            Some("commands/journalctl-kernel.txt"),
            "{rule}: {findings:#?}"
        );
    }
    // The DRX service's journal counts as a DRX log; the start-up services' as the tools'.
    let findings = linux(&[
        (
            "commands/journalctl-drx.txt",
            "2026-12-07T10:00:00+0900 node1 drx[812]: watchdog: drx exited abnormally, restarting\n",
        ),
        (
            "commands/journalctl-replication.txt",
            "2026-12-07T10:00:00+0900 node1 bsr[700]: /etc/bsr.d/r0.res:3: Parse error: 'global | common | resource | skip | include' expected,\n",
        ),
    ]);
    assert!(fired(&findings, "DRX-WATCHDOG-RESTART"), "{findings:#?}");
    assert!(fired(&findings, "CONFIG-INVALID"), "{findings:#?}");
    // A quiet journal says nothing.
    no_errors_or_warnings(&linux(&[(
        "commands/journalctl-kernel.txt",
        "2026-12-07T10:00:00+0900 node1 kernel: drbd r0: conn( WFConnection -> WFReportParams )\n",
    )]));
}

#[test]
fn the_journal_items_are_logs_of_the_linux_manifest() {
    let manifest = crate::manifest::embedded(crate::manifest::Os::Linux);
    for id in [
        "journalctl-kernel",
        "journalctl-drx",
        "journalctl-replication",
    ] {
        let item = manifest
            .items
            .iter()
            .find(|i| i.id == id)
            .unwrap_or_else(|| panic!("{id} missing"));
        match &item.what {
            crate::manifest::What::Command { argv, log, .. } => {
                assert!(*log, "{id}: --since must apply");
                assert_eq!(argv[0], "journalctl");
                assert!(argv.iter().any(|a| a == "--boot"), "{id}: since boot");
            }
            _ => panic!("{id} is not a command"),
        }
    }
}

// --- 24.28: a closed connection is not a listener --------------------------------------------

#[test]
fn time_wait_alone_is_not_listening() {
    let listeners = "tcp 0 0 127.0.0.1:7790 0.0.0.0:* LISTEN 8033/drx\ntcp 0 0 10.0.0.1:7791 0.0.0.0:* LISTEN 8033/drx\n";
    let closed = format!("{listeners}tcp 0 0 10.0.0.1:7789 10.0.0.2:45000 TIME_WAIT -\ntcp 0 0 10.0.0.1:7789 10.0.0.2:45002 CLOSE_WAIT -\n");
    let findings = linux(&[("commands/netstat-nap.txt", &closed)]);
    let said = details(&findings, "NET-NOT-LISTENING");
    assert!(
        said.iter().any(|d| d.contains("10.0.0.1:7789")),
        "{findings:#?}"
    );
    let ss = "State     Recv-Q Send-Q Local Address:Port Peer Address:Port\nLISTEN    0      5      127.0.0.1:7790     0.0.0.0:*\nLISTEN    0      5      10.0.0.1:7791      0.0.0.0:*\nTIME-WAIT 0      0      10.0.0.1:7789      10.0.0.2:45000\nFIN-WAIT-2 0     0      10.0.0.1:7789      10.0.0.2:45001\n";
    let findings = linux(&[
        ("commands/netstat-nap.txt", DELETE),
        ("commands/ss-tanp.txt", ss),
    ]);
    assert!(fired(&findings, "NET-NOT-LISTENING"), "{findings:#?}");
    // A listener beside the closed connections, or a half-open one (only a listener gets
    // SYN_RECV), is in use.
    for extra in [
        "tcp 0 0 0.0.0.0:7789 0.0.0.0:* LISTEN -\n",
        "tcp 0 0 10.0.0.1:7789 10.0.0.2:45003 SYN_RECV -\n",
        "tcp 0 0 10.0.0.1:7789 10.0.0.2:45004 ESTABLISHED -\n",
    ] {
        let findings = linux(&[("commands/netstat-nap.txt", &format!("{closed}{extra}"))]);
        assert!(
            !details(&findings, "NET-NOT-LISTENING")
                .iter()
                .any(|d| d.contains("10.0.0.1:7789")),
            "{extra}: {findings:#?}"
        );
    }
}

// --- 24.29: per connection, per path ------------------------------------------------------------

/// drbd-utils' own test: the file moved both connections of `undertest` to new paths (:7001),
/// keeping the old ones inside `skip {}`; the kernel still runs the old ones. drbdadm adjust
/// answers with del-path of each old path and new-path of each new one.
#[test]
fn loaded_paths_are_compared_per_connection_with_drbd_utils_own_case() {
    let findings = drbd9_node(
        "undertest",
        &[
            ("files/etc/drbd.d/r0.res", SWITCH_RES),
            ("commands/drbdsetup-show.txt", SWITCH_SHOW),
            ("commands/ip-a.txt", DELETE),
            ("commands/netstat-nap.txt", DELETE),
        ],
    );
    let said = details(&findings, "BSR-ADDRESS-MISMATCH");
    assert_eq!(said.len(), 2, "{findings:#?}");
    for (old_peer, new_peer, name) in [
        (
            "192.168.122.47:7000",
            "192.168.123.1:7001",
            "n1.ryzen9.home",
        ),
        (
            "192.168.122.48:7000",
            "192.168.123.2:7001",
            "n2.ryzen9.home",
        ),
    ] {
        assert!(
            said.iter().any(
                |d| d.contains(&format!("192.168.122.49:7000 -> {old_peer}"))
                    && d.contains(&format!(
                        "192.168.123.3:7001 -> {new_peer}, which is not loaded"
                    ))
                    && d.contains(name)
            ),
            "{name}: {said:?}"
        );
    }
}

#[test]
fn drbd_utils_proxy_case_loaded_as_configured_and_without_its_path() {
    let node = |show: &str| {
        drbd9_node(
            "undertest",
            &[
                ("files/etc/drbd.d/r0.res", PROXY_RES),
                ("commands/drbdsetup-show.txt", show),
                ("commands/ip-a.txt", DELETE),
            ],
        )
    };
    // drbdadm adjust has nothing to do: the kernel's peer is the own proxy's inside.
    let findings = node(PROXY_SHOW);
    assert!(!fired(&findings, "BSR-ADDRESS-MISMATCH"), "{findings:#?}");
    // The connection is there but its path is not (drbdadm adjust: new-path).
    let findings = node(PROXY_SHOW_NO_PATH);
    let said = details(&findings, "BSR-ADDRESS-MISMATCH");
    assert_eq!(said.len(), 1, "{findings:#?}");
    assert!(
        said[0].contains("configured path 10.0.0.1:7789 -> 10.0.1.1:7789 to peer")
            && said[0].contains("not loaded"),
        "{said:?}"
    );
}

const BSR_THREE: &str = "resource r0 {\n  on node1 { node-id 0; address 10.0.0.1:7789; }\n  on node2 { node-id 1; address 10.0.0.2:7789; }\n  skip {\n    on node3 { node-id 2; address 10.0.0.3:7789; }\n  }\n  connection-mesh { hosts node1 node2; }\n}\n";

fn bsr_node(res: &str, show: &str) -> Vec<Finding> {
    linux(&[
        ("files/etc/drbd.d/r0.res", DELETE),
        ("files/etc/bsr.d/r0.res", res),
        ("commands/drbdsetup-show.txt", DELETE),
        ("commands/bsrsetup-show.txt", show),
        ("files/proc/drbd", DELETE),
        ("commands/drbdadm-version.txt", DELETE),
        ("commands/modinfo-drbd.txt", DELETE),
        ("commands/lsmod.txt", "Module Size Used by\nbsr 1 0\n"),
    ])
}

fn bsr_connection(id: u32, name: &str, paths: &[(&str, &str)]) -> String {
    let mut text = format!(
        "    connection {{\n        _peer_node_id {id};\n        _peer_node_name \"{name}\";\n"
    );
    for (local, remote) in paths {
        text.push_str(&format!(
            "        path {{\n            _this_host ipv4 {local};\n            _remote_host ipv4 {remote};\n        }}\n"
        ));
    }
    text.push_str("    }\n");
    text
}

#[test]
fn a_loaded_connection_to_a_peer_left_in_skip_is_named() {
    let show = format!(
        "resource r0 {{\n    _this_host {{\n        node-id 0;\n        node-name \"node1\";\n    }}\n{}{}}}\n",
        bsr_connection(1, "node2", &[("10.0.0.1:7789", "10.0.0.2:7789")]),
        bsr_connection(2, "node3", &[("10.0.0.1:7789", "10.0.0.3:7789")]),
    );
    let findings = bsr_node(BSR_THREE, &show);
    let said = details(&findings, "BSR-ADDRESS-MISMATCH");
    assert_eq!(said.len(), 1, "{findings:#?}");
    assert!(
        said[0].contains("loaded connection to node3 (10.0.0.1:7789 -> 10.0.0.3:7789) is not in the resource file")
            && said[0].contains("node2"),
        "{said:?}"
    );
}

#[test]
fn a_second_path_is_its_own_path() {
    let two_paths = "resource r0 {\n  on node1 { node-id 0; }\n  on node2 { node-id 1; }\n  connection {\n    path { host node1 address 10.0.0.1:7789; host node2 address 10.0.0.2:7789; }\n    path { host node1 address 192.168.1.1:7001; host node2 address 192.168.1.2:7001; }\n  }\n}\n";
    let both = format!(
        "resource r0 {{\n{}}}\n",
        bsr_connection(
            1,
            "node2",
            &[
                ("10.0.0.1:7789", "10.0.0.2:7789"),
                ("192.168.1.1:7001", "192.168.1.2:7001")
            ]
        )
    );
    let findings = bsr_node(two_paths, &both);
    assert!(!fired(&findings, "BSR-ADDRESS-MISMATCH"), "{findings:#?}");
    // The second path configured, not loaded: that path is named, not a wrong pair.
    let first_only = format!(
        "resource r0 {{\n{}}}\n",
        bsr_connection(1, "node2", &[("10.0.0.1:7789", "10.0.0.2:7789")])
    );
    let said_findings = bsr_node(two_paths, &first_only);
    let said = details(&said_findings, "BSR-ADDRESS-MISMATCH");
    assert_eq!(said.len(), 1, "{said_findings:#?}");
    assert!(
        said[0].contains("configured path 192.168.1.1:7001 -> 192.168.1.2:7001 to node2")
            && said[0].contains("not loaded"),
        "{said:?}"
    );
    // A configured connection the kernel does not run at all.
    let mesh = "resource r0 {\n  on node1 { node-id 0; address 10.0.0.1:7789; }\n  on node2 { node-id 1; address 10.0.0.2:7789; }\n  on node3 { node-id 2; address 10.0.0.3:7789; }\n}\n";
    let findings = bsr_node(mesh, &first_only);
    let said = details(&findings, "BSR-ADDRESS-MISMATCH");
    assert_eq!(said.len(), 1, "{findings:#?}");
    assert!(
        said[0].contains("configured connection to node3 (10.0.0.1:7789 -> 10.0.0.3:7789")
            && said[0].contains("not loaded"),
        "{said:?}"
    );
}
