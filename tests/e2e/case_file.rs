//! Case files (SPEC §9) are untrusted input: recognised by their content, their case.json checked
//! against what they hold, every bundle in them judged, their members bounded in the temporary
//! directory and removed whatever stops the run.
use crate::diagnose::healthy_node;
use crate::inspect::collected;
use crate::util::*;
use sha2::{Digest, Sha256};
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};

const TOP: &str = "drx-case-node1-node2-20261207T000000Z";

/// DRBD 8.4's kernel message when the peers cannot resolve a split brain (drbd_receiver.c).
const SPLIT_BRAIN: &str =
    "Dec  7 10:00:03 node2 kernel: block drbd0: Split-Brain detected but unresolved, dropping connection!\n";

/// A quiet node1 and a node2 that saw a split brain, collected by the real binary.
fn pair() -> (Fixture, Fixture) {
    let quiet = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    let split = healthy_node("node2", "10.0.0.2", "10.0.0.1", "1.2.3");
    split.file("/var/log/messages", SPLIT_BRAIN);
    (quiet, split)
}

/// A case file at `path`: `members` (paths in its top directory) in this order, then a
/// SHA256SUMS of them all.
fn case_file(path: &Path, members: &[(String, Vec<u8>)]) {
    let mut builder = tar::Builder::new(Vec::new());
    let mut sums = String::new();
    let add = |builder: &mut tar::Builder<Vec<u8>>, rel: &str, data: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o600);
        header.set_cksum();
        builder
            .append_data(&mut header, format!("{TOP}/{rel}"), data)
            .unwrap();
    };
    for (rel, data) in members {
        add(&mut builder, rel, data);
        sums.push_str(&format!("{:x}  {rel}\n", Sha256::digest(data)));
    }
    add(&mut builder, "SHA256SUMS", sums.as_bytes());
    let tar = builder.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    std::fs::write(path, gz.finish().unwrap()).unwrap();
}

/// case.json listing `bundles`: (role, host, bundle path, its bytes).
fn case_json(bundles: &[(&str, &str, &Path, &[u8])]) -> (String, Vec<u8>) {
    let listed: Vec<serde_json::Value> = bundles
        .iter()
        .map(|(role, host, path, data)| {
            serde_json::json!({
                "role": role, "host": host, "path": bundle_rel(path),
                "sha256": format!("{:x}", Sha256::digest(data)), "size": data.len(),
            })
        })
        .collect();
    let case = serde_json::json!({
        "schema": "drx-collect/case/v1",
        "tool": {"name": "drx-collect", "version": "test"},
        "created_at": "2026-12-07T00:00:00Z",
        "bundles": listed,
    });
    (
        "case.json".into(),
        serde_json::to_vec_pretty(&case).unwrap(),
    )
}

fn bundle_rel(path: &Path) -> String {
    format!("bundles/{}", path.file_name().unwrap().to_string_lossy())
}

fn member(path: &Path) -> (String, Vec<u8>) {
    (bundle_rel(path), std::fs::read(path).unwrap())
}

/// `inspect --json` with `TMPDIR` set to `tmp`: the exit code and the report.
fn inspect_json(
    case: &Path,
    tmp: &Path,
    more: &[&str],
) -> (Option<i32>, serde_json::Value, String) {
    let out = Command::new(BIN)
        .env_clear()
        .env("LANG", "C")
        .env("TMPDIR", tmp)
        .arg("inspect")
        .arg("--json")
        .args(more)
        .arg(case)
        .output()
        .unwrap();
    crate::shell::assert_valid("inspect.schema.json", &out.stdout);
    let value = serde_json::from_slice(&out.stdout).unwrap();
    (out.status.code(), value, stderr(&out))
}

fn findings_of<'a>(report: &'a serde_json::Value, rule: &str) -> Vec<&'a serde_json::Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

fn problems(report: &serde_json::Value) -> String {
    report["integrity"]["problems"].to_string()
}

fn assert_empty(tmp: &Path) {
    let left: Vec<_> = std::fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
}

/// Mail clients rename attachments: a case file named ATT00001.tgz, its case.json first as
/// drx-collect writes it or last as `tar` of an unpacked copy may put it, is still a pair, and
/// its split brain is found. A bundle with a case.json planted after its own files is not intact.
#[test]
fn a_renamed_case_file_is_recognised_by_its_content() {
    let (quiet, split) = pair();
    let (a, b) = (collected(&quiet), collected(&split));
    let (ab, bb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let json = case_json(&[("local", "node1", &a, &ab), ("peer", "node2", &b, &bb)]);
    for (name, members) in [
        ("ATT00001.tgz", vec![json.clone(), member(&a), member(&b)]),
        ("ATT00002.tgz", vec![member(&a), member(&b), json.clone()]),
    ] {
        let case = dir.path().join(name);
        case_file(&case, &members);
        let (code, report, err) = inspect_json(&case, tmp.path(), &[]);
        assert_eq!(code, Some(0), "{name}: {err}");
        assert_eq!(report["bundles"].as_array().unwrap().len(), 2, "{name}");
        let found = findings_of(&report, "REPL-SPLIT-BRAIN");
        assert!(!found.is_empty(), "{name}: {}", report["findings"]);
        assert!(found.iter().all(|f| f["node"] == "node2"), "{found:?}");
        assert_empty(tmp.path());
    }
    // A case.json after a file no case file has: neither an intact case nor an intact bundle.
    let planted = dir.path().join("ATT00003.tgz");
    let hosts = (
        "files/etc/hosts".to_string(),
        b"127.0.0.1 localhost\n".to_vec(),
    );
    case_file(&planted, &[hosts, json, member(&a), member(&b)]);
    let shown = inspect(&[planted.as_os_str()]);
    assert_eq!(shown.status.code(), Some(3), "{}", stdout(&shown));
    assert!(
        stdout(&shown).contains("INTEGRITY FAILURE"),
        "{}",
        stdout(&shown)
    );
    assert!(stdout(&shown).contains("case.json"), "{}", stdout(&shown));
}

/// case.json only describes the archive: every bundle in it is judged, and where case.json
/// disagrees (a bundle left out, one listed twice, a wrong size or hash, one content under two
/// names) that is an integrity failure.
#[test]
fn every_bundle_in_a_case_file_is_judged_whatever_case_json_says() {
    let (quiet, split) = pair();
    let (a, b) = (collected(&quiet), collected(&split));
    let (ab, bb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // The other name of node1's bundle: same content.
    let again = dir.path().join(
        a.file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".tgz", "-2.tgz"),
    );
    std::fs::copy(&a, &again).unwrap();
    let mut wrong = ab.clone();
    wrong.push(0);
    let cases = [
        (
            "only the quiet node listed",
            case_json(&[("local", "node1", &a, &ab)]),
            vec![member(&a), member(&b)],
            "not listed in case.json",
        ),
        (
            "one bundle listed twice",
            case_json(&[("local", "node1", &a, &ab), ("peer", "node1", &a, &ab)]),
            vec![member(&a), member(&b)],
            "more than once",
        ),
        (
            "a wrong size and hash",
            case_json(&[("local", "node1", &a, &wrong), ("peer", "node2", &b, &bb)]),
            vec![member(&a), member(&b)],
            "case.json says",
        ),
        (
            "one bundle under two names",
            case_json(&[
                ("local", "node1", &a, &ab),
                ("peer", "node1", &again, &ab),
                ("peer", "node2", &b, &bb),
            ]),
            vec![member(&a), member(&again), member(&b)],
            "the same bundle",
        ),
        (
            "a host that is not the bundle's",
            case_json(&[("local", "node1", &a, &ab), ("peer", "node9", &b, &bb)]),
            vec![member(&a), member(&b)],
            "the bundle says",
        ),
    ];
    for (what, json, mut members, problem) in cases {
        members.insert(0, json);
        let case = dir.path().join("drx-case-node1-node2-20261207T000000Z.tgz");
        case_file(&case, &members);
        let (code, report, err) = inspect_json(&case, tmp.path(), &[]);
        assert_eq!(code, Some(3), "{what}: {err}");
        assert_eq!(report["integrity"]["ok"], false, "{what}");
        assert!(
            problems(&report).contains(problem),
            "{what}: {}",
            problems(&report)
        );
        // Both nodes judged, each once, as a pair of two.
        let hosts: Vec<&str> = report["bundles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["host"]["hostname"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(hosts, ["node1", "node2"], "{what}");
        assert!(
            !findings_of(&report, "REPL-SPLIT-BRAIN").is_empty(),
            "{what}: {}",
            report["findings"]
        );
        assert_empty(tmp.path());
    }
}

/// `--html` counts the bundles a case file holds, not two per case file: a case of 33 bundles is
/// more than one cluster, refused before any is read, and nothing is left in TMPDIR.
#[test]
fn html_counts_the_bundles_a_case_file_holds() {
    let node = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    let a = collected(&node);
    let bytes = std::fs::read(&a).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // 33 distinct members (what is in them is read only after the count).
    let members: Vec<(String, Vec<u8>)> = (0..33)
        .map(|n| {
            let mut data = bytes.clone();
            data.extend(std::iter::repeat_n(0u8, n));
            (
                format!("bundles/drx-collect-node{n}-20261207T000000Z.tgz"),
                data,
            )
        })
        .collect();
    let mut all = vec![case_json(&[])];
    all.extend(members);
    let case = dir.path().join("ATT00001.tgz");
    case_file(&case, &all);
    let page = dir.path().join("report.html");
    let out = Command::new(BIN)
        .env_clear()
        .env("LANG", "C")
        .env("TMPDIR", tmp.path())
        .arg("inspect")
        .arg("--html")
        .arg(&page)
        .arg(&case)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--html") && stderr(&out).contains("33"),
        "{}",
        stderr(&out)
    );
    assert!(!page.exists());
    assert_empty(tmp.path());
}

/// What a case file's bundles take in TMPDIR is capped by --max-extract: a small case file of
/// a bundle expanding far beyond it writes nothing and says which cap to raise.
#[test]
fn a_case_file_takes_no_more_than_max_extract_in_tmpdir() {
    let (quiet, split) = pair();
    let (a, b) = (collected(&quiet), collected(&split));
    let (ab, bb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // A "bundle" of 64 MiB of zeros: a few tens of KiB in the case file.
    let big = dir.path().join("drx-collect-node3-20261207T000000Z.tgz");
    let zeros = vec![0u8; 64 << 20];
    std::fs::write(&big, &zeros).unwrap();
    let json = case_json(&[
        ("local", "node1", &a, &ab),
        ("peer", "node2", &b, &bb),
        ("peer", "node3", &big, &zeros),
    ]);
    let case = dir.path().join("drx-case-node1-node2-20261207T000000Z.tgz");
    case_file(&case, &[json, member(&a), member(&b), member(&big)]);
    assert!(std::fs::metadata(&case).unwrap().len() < (1 << 20));
    let (code, report, err) = inspect_json(&case, tmp.path(), &["--max-extract", "16MiB"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(
        problems(&report).contains("--max-extract"),
        "{}",
        problems(&report)
    );
    // The two bundles within the cap are still judged.
    assert_eq!(report["bundles"].as_array().unwrap().len(), 2);
    assert_empty(tmp.path());
    // Under the default cap (2 GiB) the same case file is read whole.
    let (_, report, err) = inspect_json(&case, tmp.path(), &[]);
    assert!(!problems(&report).contains("--max-extract"), "{err}");
    assert_empty(tmp.path());
}

/// SIGINT, SIGTERM and SIGHUP while a case file is inspected: the bundles taken out of it into
/// TMPDIR are removed before the process ends, and the message says it was stopped.
#[test]
fn a_signal_during_inspect_of_a_case_file_leaves_nothing_in_tmpdir() {
    // A node with a large log, so that reading it takes long enough to be interrupted.
    let (quiet, split) = pair();
    let line = "Dec  7 10:00:01 node2 kernel: e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx\n";
    split.file("/var/log/messages", line.repeat((48 << 20) / line.len()));
    let (a, b) = (collected(&quiet), collected(&split));
    let (ab, bb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let json = case_json(&[("local", "node1", &a, &ab), ("peer", "node2", &b, &bb)]);
    let case = dir.path().join("ATT00001.tgz");
    case_file(&case, &[json, member(&a), member(&b)]);
    for (signal, name) in [
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGHUP, "SIGHUP"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let child = Command::new(BIN)
            .env_clear()
            .env("LANG", "C")
            .env("TMPDIR", tmp.path())
            .arg("inspect")
            .arg(&case)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait (bounded) until the case's bundles are in TMPDIR.
        let taken_out = || -> bool {
            std::fs::read_dir(tmp.path())
                .unwrap()
                .filter_map(|e| e.ok())
                .any(|e| std::fs::read_dir(e.path()).is_ok_and(|mut d| d.next().is_some()))
        };
        let mut waited = 0;
        while !taken_out() && waited < 3000 {
            std::thread::sleep(std::time::Duration::from_millis(10));
            waited += 1;
        }
        assert!(
            taken_out(),
            "{name}: nothing was taken out of the case file"
        );
        // SAFETY: sending a signal to our own child.
        unsafe {
            libc::kill(child.id() as i32, signal);
        }
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        assert!(
            err.contains("stopped by") && err.contains(name),
            "{name}: the run ended before the signal ({:?}): {err}",
            out.status
        );
        // As shells report a signal: 128 + its number (Ctrl-C: 130).
        assert_eq!(out.status.code(), Some(128 + signal), "{name}: {err}");
        assert_empty(tmp.path());
    }
}

/// Two bundles of one host name (cloned VMs, an active/standby pair behind one name) inspected
/// as a pair: each finding names its node by host and bundle, never by the shared host alone.
#[test]
fn two_bundles_of_one_host_are_told_apart_in_findings() {
    let first = healthy_node("alice", "10.0.0.1", "10.0.0.2", "1.2.3");
    first.file("/var/log/messages", SPLIT_BRAIN.replace("node2", "alice"));
    let second = healthy_node("alice", "10.0.0.2", "10.0.0.1", "1.3.0");
    assert_success(&first.collect(&["--case-id", "CS-1"]));
    assert_success(&second.collect(&["--case-id", "CS-2"]));
    let (a, b) = (first.bundle().path, second.bundle().path);
    let out = inspect(&[a.as_os_str(), b.as_os_str(), OsStr::new("--json")]);
    assert_success(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let nodes: std::collections::BTreeSet<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["node"].as_str())
        .collect();
    assert!(!nodes.contains("alice"), "{nodes:?}");
    let split: Vec<&str> = findings_of(&report, "REPL-SPLIT-BRAIN")
        .iter()
        .filter_map(|f| f["node"].as_str())
        .collect();
    let a_name = a.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        !split.is_empty() && split.iter().all(|n| *n == format!("alice ({a_name})")),
        "{split:?}"
    );
    // The text report and the HTML page name them the same way.
    let text = inspect(&[a.as_os_str(), b.as_os_str()]);
    assert!(
        stdout(&text).contains(&format!("[alice ({a_name})]")),
        "{}",
        stdout(&text)
    );
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("r.html");
    let html = inspect(&[
        a.as_os_str(),
        b.as_os_str(),
        OsStr::new("--html"),
        page.as_os_str(),
    ]);
    assert_success(&html);
    let page = std::fs::read_to_string(&page).unwrap();
    assert!(page.contains(&format!("alice ({a_name})")));
}

/// A small tmpfs, unmounted (and its mount point removed) when dropped.
struct SmallTmpfs(tempfile::TempDir);

impl SmallTmpfs {
    fn new(size: &str) -> SmallTmpfs {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(
            status.success(),
            "mount tmpfs (run as root: scripts/test-root.sh)"
        );
        SmallTmpfs(dir)
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

/// A temporary directory with too little room for a case file's bundles: the run stops before
/// the member that would leave less than the reserve, with one sentence naming the directory and
/// TMPDIR, and nothing of the customer's bundles stays there.
#[test]
#[ignore = "needs root: mounts a small tmpfs as TMPDIR (scripts/test-root.sh)"]
fn a_case_file_stops_before_the_temporary_directory_fills() {
    let (quiet, split) = pair();
    let (a, b) = (collected(&quiet), collected(&split));
    let (ab, bb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("drx-collect-node3-20261207T000000Z.tgz");
    let zeros = vec![0u8; 64 << 20];
    std::fs::write(&big, &zeros).unwrap();
    let json = case_json(&[
        ("local", "node1", &a, &ab),
        ("peer", "node2", &b, &bb),
        ("peer", "node3", &big, &zeros),
    ]);
    let case = dir.path().join("ATT00001.tgz");
    case_file(&case, &[json, member(&a), member(&b), member(&big)]);
    // 72 MiB: room for the two real bundles, not for 64 MiB more and the 64 MiB reserve.
    let tmp = SmallTmpfs::new("72m");
    let out = Command::new(BIN)
        .env_clear()
        .env("LANG", "C")
        .env("TMPDIR", tmp.0.path())
        .arg("inspect")
        .arg(&case)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("set TMPDIR"), "{err}");
    assert!(err.contains("too little"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one sentence: {err}");
    assert_empty(tmp.0.path());
}
