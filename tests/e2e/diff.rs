use crate::util::*;
use std::path::PathBuf;

/// Two snapshots of node1, an hour of changes apart: the BOM in r0.res was fixed, the log grew,
/// the peer connected, a file appeared and one went away.
fn two_snapshots() -> (Fixture, PathBuf, PathBuf) {
    let f = Fixture::new();
    let res = "resource r0 {\n  on node1 { address 10.0.0.1:7788; }\n  on node2 { address 10.0.0.2:7788; }\n}\n";
    f.file(
        "/etc/bsr.d/r0.res",
        [&b"\xEF\xBB\xBF"[..], res.as_bytes()].concat(),
    )
    .file(
        "/var/log/messages",
        "Nov 24 10:00:00 node1 kernel: bsr r0: started\n",
    )
    .file("/etc/bsr.d/old.res.bak", "gone soon\n")
    .command(
        "bsrsetup",
        "echo 'r0 role:Primary'; echo '  node2 connection:Connecting'",
    );
    assert_success(&f.collect(&["--quiet"]));
    let old = f.bundles()[0].clone();
    f.file("/etc/bsr.d/r0.res", res)
        .file(
            "/var/log/messages",
            "Nov 24 10:00:00 node1 kernel: bsr r0: started\nNov 24 10:30:00 node1 kernel: bsr r0: conn( Connecting -> Connected )\n",
        )
        .file("/etc/bsr.d/r1.res", "resource r1 {\n}\n")
        .command("bsrsetup", "echo 'r0 role:Primary'; echo '  node2 connection:Connected'");
    std::fs::remove_file(f.root.path().join("etc/bsr.d/old.res.bak")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_success(&f.collect(&["--quiet"]));
    let new = f
        .bundles()
        .into_iter()
        .find(|p| *p != old)
        .expect("a second bundle");
    (f, old, new)
}

#[test]
fn diff_reports_the_fixed_bom_as_resolved_and_the_changed_files() {
    let (f, old, new) = two_snapshots();
    let output = f.cmd().arg("diff").arg(&old).arg(&new).output().unwrap();
    assert_success(&output);
    let text = stdout(&output);
    assert!(
        text.lines().any(|l| l.contains("resolved")
            && l.contains("CONFIG-BOM")
            && l.contains("files/etc/bsr.d/r0.res")),
        "{text}"
    );
    assert!(!text
        .lines()
        .any(|l| l.trim_start().starts_with("new ") && l.contains("CONFIG-BOM")));
    assert!(text.contains("  changed  files/etc/bsr.d/r0.res"), "{text}");
    assert!(text.contains("  added    files/etc/bsr.d/r1.res"), "{text}");
    assert!(
        text.contains("  removed  files/etc/bsr.d/old.res.bak"),
        "{text}"
    );
    // The unified diff of the config names the BOM.
    assert!(
        text.contains("--- OLD/files/etc/bsr.d/r0.res\n+++ NEW/files/etc/bsr.d/r0.res\n@@ -1,"),
        "{text}"
    );
    assert!(
        text.contains("-<BOM>resource r0 {\n+resource r0 {\n"),
        "{text}"
    );
    // The command output's changed connection state.
    assert!(
        text.contains("-  node2 connection:Connecting\n+  node2 connection:Connected\n"),
        "{text}"
    );
    // The log: only the line added since OLD.
    assert!(
        text.contains("files/var/log/messages: 1 line(s) added since OLD\n+Nov 24 10:30:00"),
        "{text}"
    );
    assert!(stderr(&output).is_empty(), "{}", stderr(&output));

    let json = f
        .cmd()
        .arg("diff")
        .arg("--json")
        .arg(&old)
        .arg(&new)
        .output()
        .unwrap();
    assert_success(&json);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let resolved = value["findings"]["resolved"].as_array().unwrap();
    assert!(
        resolved.iter().any(|f| f["rule"] == "CONFIG-BOM"),
        "{value}"
    );
    let changed = value["files"]["changed"].as_array().unwrap();
    let res = changed
        .iter()
        .find(|c| c["path"] == "files/etc/bsr.d/r0.res")
        .unwrap();
    assert_ne!(res["old_sha256"], res["new_sha256"]);
    assert!(res["diff"].as_str().unwrap().contains("+resource r0 {"));
    let log = changed
        .iter()
        .find(|c| c["path"] == "files/var/log/messages")
        .unwrap();
    assert_eq!(log["log"]["how"], "appended");
    assert_eq!(log["log"]["added_lines"], 1);
    assert_eq!(value["files"]["added"][0]["path"], "files/etc/bsr.d/r1.res");
    assert_eq!(value["old"]["integrity"]["ok"], true);
}

#[test]
fn a_damaged_snapshot_exits_3_and_an_unreadable_one_exits_1() {
    let (f, old, new) = two_snapshots();
    // Tamper with a file inside NEW, keeping the archive readable.
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("tar")
        .arg("xzf")
        .arg(&new)
        .arg("-C")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let top = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(top.join("files/etc/bsr.d/r1.res"), "tampered\n").unwrap();
    let output = f.cmd().arg("diff").arg(&old).arg(&top).output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("NEW is NOT intact"),
        "{}",
        stdout(&output)
    );
    // --exit-code's 1 for "different" does not hide an integrity failure.
    let output = f
        .cmd()
        .args(["diff", "--exit-code"])
        .arg(&old)
        .arg(&top)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));

    let garbage = f.out.path().join("garbage.tgz");
    std::fs::write(&garbage, "not a bundle").unwrap();
    let output = f
        .cmd()
        .arg("diff")
        .arg(&old)
        .arg(&garbage)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("garbage.tgz"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bundles_of_different_hosts_get_a_warning() {
    let (f, old, _) = two_snapshots();
    let other = Fixture::new();
    other.file("/etc/hostname", "node2\n");
    assert_success(&other.collect(&["--quiet"]));
    let output = f
        .cmd()
        .arg("diff")
        .arg(&old)
        .arg(&other.bundles()[0])
        .output()
        .unwrap();
    assert_success(&output);
    assert!(
        stderr(&output).contains("different hosts (node1 and node2)"),
        "{}",
        stderr(&output)
    );
}

/// A case file given to diff stands for one node's bundle: by default the node that ran it, and
/// for an older case file against a newer bundle, the node that bundle is of.
#[test]
fn a_case_file_is_diffed_as_the_node_asked_for() {
    use crate::diagnose::healthy_node;
    use crate::inspect::{case_file, collected};
    let nodes = [
        healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3"),
        healthy_node("node2", "10.0.0.2", "10.0.0.1", "1.2.3"),
    ];
    let [a, b] = [0, 1].map(|n| collected(&nodes[n]));
    let dir = tempfile::tempdir().unwrap();
    let case = case_file(dir.path(), "drx-case-node1-node2-a", &a, &b);
    let host_of = |args: &[&std::ffi::OsStr]| {
        let output = nodes[0]
            .cmd()
            .arg("diff")
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        assert_success(&output);
        let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        (
            value["old"]["host"].as_str().unwrap().to_string(),
            value["new"]["host"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(
        host_of(&[case.as_os_str(), case.as_os_str()]),
        ("node1".into(), "node1".into())
    );
    assert_eq!(
        host_of(&[case.as_os_str(), b.as_os_str()]),
        ("node2".into(), "node2".into())
    );
}

#[test]
fn diff_stat_path_filter_exit_code_and_configuration_first() {
    let (f, old, new) = two_snapshots();
    let run = |args: &[&str]| {
        f.cmd()
            .arg("diff")
            .args(args)
            .arg(&old)
            .arg(&new)
            .output()
            .unwrap()
    };
    // Configuration before state before what moves with time, in the list and in the diffs.
    let text = stdout(&run(&[]));
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle}: {text}"))
    };
    assert!(at("  changed  files/etc/bsr.d/r0.res") < at("  changed  commands/bsrsetup"));
    assert!(at("  changed  commands/bsrsetup") < at("  changed  files/var/log/messages"));
    assert!(at("--- OLD/files/etc/bsr.d/r0.res") < at("--- OLD/commands/bsrsetup"));

    // --stat: counts per file and in all, no diff bodies.
    let stat = run(&["--stat"]);
    assert_success(&stat);
    let text = stdout(&stat);
    assert!(
        text.contains("  changed  files/etc/bsr.d/r0.res | +1 -1\n"),
        "{text}"
    );
    assert!(
        text.contains("  changed  files/var/log/messages | +1 -0 (log: 1 line(s) added)"),
        "{text}"
    );
    assert!(!text.contains("--- OLD/"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("lines in all: +")),
        "{text}"
    );
    let ko = stdout(&run(&["--stat", "--lang", "ko"]));
    assert!(ko.lines().any(|l| l.starts_with("전체 줄 수: +")), "{ko}");

    // --path: only the paths asked for, files and findings alike.
    let only = stdout(&run(&["--path", "files/etc/*", "--path", "nothing/*"]));
    assert!(only.contains("  changed  files/etc/bsr.d/r0.res"), "{only}");
    assert!(only.contains("  added    files/etc/bsr.d/r1.res"), "{only}");
    assert!(!only.contains("commands/"), "{only}");
    assert!(!only.contains("files/var/log"), "{only}");
    let logs = stdout(&run(&["--path", "files/var/log/*"]));
    assert!(
        logs.contains("Files: 0 added, 0 removed, 1 changed"),
        "{logs}"
    );
    assert!(!logs.contains("CONFIG-BOM"), "{logs}");

    // --exit-code: 1 when different, 0 when the same (a snapshot against itself, or a filter
    // that leaves nothing), 0 without it.
    assert_eq!(run(&["--exit-code"]).status.code(), Some(1));
    assert_eq!(run(&[]).status.code(), Some(0));
    assert_eq!(
        run(&["--exit-code", "--path", "nothing/*"]).status.code(),
        Some(0)
    );
    let same = f
        .cmd()
        .args(["diff", "--exit-code", "--json"])
        .arg(&new)
        .arg(&new)
        .output()
        .unwrap();
    assert_eq!(same.status.code(), Some(0), "{}", stderr(&same));
    // --color always colours the diff lines as git does; never, a pipe (auto) and NO_COLOR do not.
    let colored = stdout(&run(&["--color", "always"]));
    assert!(
        colored.contains("\x1b[1;31m-<BOM>resource r0 {\x1b[0m\n\x1b[32m+resource r0 {\x1b[0m\n"),
        "{colored:?}"
    );
    for plain in [
        stdout(&run(&["--color", "never"])),
        stdout(&run(&[])),
        stdout(
            &f.cmd()
                .env("NO_COLOR", "1")
                .args(["diff", "--color", "auto"])
                .arg(&old)
                .arg(&new)
                .output()
                .unwrap(),
        ),
    ] {
        assert!(!plain.contains('\x1b'), "{plain:?}");
        assert!(plain.contains("+resource r0 {"), "{plain}");
    }
    // A bad glob is a usage error.
    assert_eq!(run(&["--path", "a[b"]).status.code(), Some(2));
}
