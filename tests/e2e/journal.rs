//! Issue 24.27: a host that keeps its logs only in the journal. The journal's outputs are logs:
//! `--since` keeps their newer lines, and the rules read them where they read /var/log/messages.
use crate::util::*;

fn journal_only_node() -> Fixture {
    let f = Fixture::new();
    f.file(
        "/etc/drbd.d/r0.res",
        "resource r0 {\n  on node1 { address 10.0.0.1:7789; }\n  on node2 { address 10.0.0.2:7789; }\n}\n",
    )
    .file("/proc/drbd", "version: 8.4.11-1 (api:1/proto:86-101)\n")
    // systemd 219 (CentOS 7) prints +0900, newer ones +09:00; under --root the zone is UTC.
    .prints_by_args(
        "journalctl",
        &[
            (
                "*--dmesg*",
                "2026-11-10T10:00:00+0000 node1 kernel: block drbd0: Split-Brain detected but unresolved, dropping connection!\n2026-11-24T10:00:00+00:00 node1 kernel: drbd r0: Authentication of peer failed\n",
            ),
            (
                "*--unit=drxsvc*",
                "2026-11-24T10:00:00+0000 node1 drx[812]: DRX 2.4.1 starting\n",
            ),
            ("*--unit=bsr*", "-- No entries --\n"),
        ],
    );
    f
}

#[test]
fn the_journal_is_collected_as_a_log_and_judged() {
    let f = journal_only_node();
    assert_success(&f.collect(&["--since", "2026-11-20"]));
    let bundle = f.bundle();
    bundle.assert_verifies();
    let kernel = bundle.read("commands/journalctl-kernel.txt");
    assert!(
        !kernel.contains("Split-Brain"),
        "--since keeps newer lines: {kernel}"
    );
    assert!(kernel.contains("Authentication of peer failed"), "{kernel}");
    let findings = bundle.index["findings"].as_array().unwrap();
    let auth = findings
        .iter()
        .find(|f| f["rule"] == "REPL-AUTH-FAILED")
        .expect("the journal's kernel lines are read");
    assert_eq!(auth["path"], "commands/journalctl-kernel.txt");
    assert!(
        !rule_ids(&bundle.index["findings"]).contains(&"REPL-SPLIT-BRAIN"),
        "the split brain was before --since"
    );
    for id in [
        "journalctl-kernel",
        "journalctl-drx",
        "journalctl-replication",
    ] {
        assert_eq!(bundle.items(id)[0]["status"], "ok", "{id}");
    }
}

#[test]
fn without_since_the_whole_journal_since_boot_is_kept() {
    let f = journal_only_node();
    assert_success(&f.collect(&[]));
    let bundle = f.bundle();
    assert!(bundle
        .read("commands/journalctl-kernel.txt")
        .contains("Split-Brain"));
    assert!(rule_ids(&bundle.index["findings"]).contains(&"REPL-SPLIT-BRAIN"));
}
