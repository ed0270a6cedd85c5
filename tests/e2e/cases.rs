//! `cases`: bundles collected by the real binary from fixture sysroots, imported into a real
//! SQLite database (the bundled library) and queried through the command line.
use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cases(db: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .env_clear()
        .env("LANG", "C")
        .arg("cases")
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap()
}

fn json(output: &Output) -> Value {
    assert_success(output);
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(output)))
}

const RES: &str = "resource r0 {\n  on node1 { address 10.0.0.1:7788; }\n  on node2 { address 10.0.0.2:7788; }\n}\n";

/// node1 twice (first with a BOM in r0.res and DRBD 8.4.5, then fixed and upgraded to 8.4.11,
/// DRX 3.2.1 → 3.2.4), node2 once (DRBD 9.0.22).
fn three_bundles() -> (Fixture, Fixture, Vec<PathBuf>) {
    let one = Fixture::new();
    one.file(
        "/etc/drbd.d/r0.res",
        [&b"\xEF\xBB\xBF"[..], RES.as_bytes()].concat(),
    )
    .file("/proc/drbd", "version: 8.4.5 (api:1/proto:86-101)\n")
    .prints("drx", "DRX 3.2.1\n");
    assert_success(&one.collect(&["--quiet"]));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    one.file("/etc/drbd.d/r0.res", RES)
        .file(
            "/etc/drbd.d/r1.res",
            RES.replace("r0", "r1").replace("7788", "7789"),
        )
        .file("/proc/drbd", "version: 8.4.11 (api:1/proto:86-101)\n")
        .prints("drx", "DRX 3.2.4\n");
    assert_success(&one.collect(&["--quiet"]));
    // Collection times are whole seconds: node2's must be later for "newest first".
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let two = Fixture::new();
    two.file("/etc/hostname", "node2\n")
        .file("/etc/drbd.d/r0.res", RES)
        .file("/proc/drbd", "version: 9.0.22-1 (api:2/proto:86-117)\n")
        .prints("drx", "DRX 3.2.4\n");
    assert_success(&two.collect(&["--quiet"]));
    let mut all = one.bundles();
    all.extend(two.bundles());
    assert_eq!(all.len(), 3);
    (one, two, all)
}

#[test]
fn import_then_every_query() {
    let (one, two, bundles) = three_bundles();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cases.sqlite");

    // A directory imports its bundles and notes the sidecars; a file is imported by name.
    let out = cases(
        &db,
        &[
            "import",
            one.out.path().to_str().unwrap(),
            bundles[2].to_str().unwrap(),
            "--json",
        ],
    );
    let report = json(&out);
    assert_eq!(report["imported"], 3, "{report}");
    assert_eq!(report["refused"], 0);
    assert_eq!(report["skipped"], 2, "the two .sha256 sidecars: {report}");
    let skipped: Vec<&Value> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["outcome"] == "skipped")
        .collect();
    assert!(skipped
        .iter()
        .all(|r| r["reason"].as_str().unwrap().contains("sidecar")));

    // Idempotent: the same bundles again are "already imported", nothing is added.
    let again = cases(&db, &["import", two.out.path().to_str().unwrap()]);
    assert_success(&again);
    assert!(
        stderr(&again).contains("already imported"),
        "{}",
        stderr(&again)
    );
    assert!(stdout(&again).starts_with("0 imported, 1 already imported"));

    let list = json(&cases(&db, &["list", "--json"]));
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    // Newest first: node2 was collected last.
    assert_eq!(list[0]["host"], "node2");
    assert_eq!(list[0]["versions"]["drbd"], "9.0.22");
    assert_eq!(list[1]["host"], "node1");
    assert_eq!(list[1]["versions"]["drbd"], "8.4.11");
    assert_eq!(list[2]["versions"]["drbd"], "8.4.5");
    assert_eq!(list[2]["versions"]["drx"], "3.2.1");
    let limited = json(&cases(&db, &["list", "--limit", "1", "--json"]));
    assert_eq!(limited.as_array().unwrap().len(), 1);

    // show by sha256 prefix and by row id give the same bundle, with its findings.
    let old_sha = list[2]["sha256"].as_str().unwrap();
    let real_sha = sha256_of(&bundles[0]);
    assert_eq!(
        old_sha, real_sha,
        "the identity is the bundle file's sha256"
    );
    let shown = json(&cases(&db, &["show", &old_sha[..10], "--json"]));
    let by_id = json(&cases(&db, &["show", &list[2]["id"].to_string(), "--json"]));
    assert_eq!(shown, by_id);
    assert_eq!(shown["host"], "node1");
    assert_eq!(shown["resources"], serde_json::json!(["r0"]));
    let rules = rule_ids(&shown["finding_list"]);
    assert!(rules.contains(&"CONFIG-BOM"), "{rules:?}");
    let text = cases(&db, &["show", &old_sha[..10]]);
    assert_success(&text);
    assert!(
        stdout(&text).contains("[ERROR] CONFIG-BOM"),
        "{}",
        stdout(&text)
    );

    // search: each filter alone, and combined.
    let hosts = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|b| {
                format!(
                    "{}@{}",
                    b["host"].as_str().unwrap(),
                    b["versions"]["drbd"].as_str().unwrap_or("-")
                )
            })
            .collect()
    };
    let bom = json(&cases(&db, &["search", "--rule", "CONFIG-BOM", "--json"]));
    assert_eq!(hosts(&bom), ["node1@8.4.5"]);
    let old = json(&cases(
        &db,
        &["search", "--version", "drbd<8.4.8", "--json"],
    ));
    assert_eq!(hosts(&old), ["node1@8.4.5"]);
    let not_old = json(&cases(
        &db,
        &["search", "--version", "drbd>=8.4.8", "--json"],
    ));
    assert_eq!(hosts(&not_old), ["node2@9.0.22", "node1@8.4.11"]);
    let ne = json(&cases(
        &db,
        &["search", "--version", "drx!=3.2.4", "--json"],
    ));
    assert_eq!(hosts(&ne), ["node1@8.4.5"]);
    let host = json(&cases(&db, &["search", "--host", "NODE1", "--json"]));
    assert_eq!(hosts(&host), ["node1@8.4.11", "node1@8.4.5"]);
    let both = json(&cases(
        &db,
        &[
            "search",
            "--host",
            "node1",
            "--version",
            "drbd=8.4.11",
            "--json",
        ],
    ));
    assert_eq!(hosts(&both), ["node1@8.4.11"]);
    let none = json(&cases(
        &db,
        &[
            "search",
            "--rule",
            "CONFIG-BOM",
            "--version",
            "drbd>8.4.5",
            "--json",
        ],
    ));
    assert_eq!(hosts(&none), Vec::<String>::new());
    let bad = cases(&db, &["search", "--version", "drbd~8"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("no comparison"), "{}", stderr(&bad));

    // stats: CONFIG-BOM once, versions counted, one month.
    let stats = json(&cases(&db, &["stats", "--json"]));
    assert_eq!(stats["bundles"], 3);
    assert_eq!(stats["hosts"], 2);
    let bom = stats["by_rule"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "CONFIG-BOM")
        .expect("CONFIG-BOM counted");
    assert_eq!(bom["bundles"], 1);
    let drbd: Vec<(String, i64)> = stats["by_version"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["component"] == "drbd")
        .map(|v| {
            (
                v["version"].as_str().unwrap().to_string(),
                v["bundles"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        drbd,
        [
            ("9.0.22".to_string(), 1),
            ("8.4.11".into(), 1),
            ("8.4.5".into(), 1)
        ]
    );
    let months = stats["by_month"].as_array().unwrap();
    assert_eq!(
        months
            .iter()
            .map(|m| m["bundles"].as_i64().unwrap())
            .sum::<i64>(),
        3
    );

    // history: node1's two snapshots, oldest first, with what changed.
    let history = json(&cases(&db, &["history", "node1", "--json"]));
    let snaps = history.as_array().unwrap();
    assert_eq!(snaps.len(), 2);
    assert!(snaps[0]["changes"].is_null());
    let changes = &snaps[1]["changes"];
    let resolved = rule_ids(&changes["findings_resolved"]);
    assert!(resolved.contains(&"CONFIG-BOM"), "{changes}");
    let versions: Vec<(String, String, String)> = changes["versions_changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["component"].as_str().unwrap().into(),
                v["from"].as_str().unwrap_or("none").into(),
                v["to"].as_str().unwrap_or("none").into(),
            )
        })
        .collect();
    assert!(
        versions.contains(&("drbd".into(), "8.4.5".into(), "8.4.11".into())),
        "{versions:?}"
    );
    assert!(
        versions.contains(&("drx".into(), "3.2.1".into(), "3.2.4".into())),
        "{versions:?}"
    );
    assert_eq!(changes["resources_added"], serde_json::json!(["r1"]));
    let text = cases(&db, &["history", "node1"]);
    assert_success(&text);
    assert!(
        stdout(&text).contains("resolved [ERROR] CONFIG-BOM"),
        "{}",
        stdout(&text)
    );
    let unknown = cases(&db, &["history", "node9"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("no bundle of host 'node9'"));
}

fn sha256_of(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    stdout(&out).split_whitespace().next().unwrap().to_string()
}

#[test]
fn a_damaged_bundle_is_refused_with_its_reason_and_the_others_imported() {
    let f = Fixture::new();
    f.file("/etc/drbd.d/r0.res", RES);
    assert_success(&f.collect(&["--quiet"]));
    let good = f.bundles()[0].clone();
    // A copy whose SHA256SUMS no longer matches a file: rewrite one entry inside the archive.
    let work = tempfile::tempdir().unwrap();
    let status = Command::new("tar")
        .arg("xzf")
        .arg(&good)
        .arg("-C")
        .arg(work.path())
        .status()
        .unwrap();
    assert!(status.success());
    let top = std::fs::read_dir(work.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(
        top.join("files/etc/drbd.d/r0.res"),
        "resource r0 { tampered }\n",
    )
    .unwrap();
    let bad = f.out.path().join("drx-collect-node1-20200101T000000Z.tgz");
    let status = Command::new("tar")
        .arg("czf")
        .arg(&bad)
        .arg("-C")
        .arg(work.path())
        .arg(top.file_name().unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let junk = f.out.path().join("notes.txt");
    std::fs::write(&junk, "not a bundle\n").unwrap();

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cases.sqlite");
    let out = cases(&db, &["import", f.out.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("refused:")
            && err.contains("20200101T000000Z")
            && err.contains("files/etc/drbd.d/r0.res"),
        "{err}"
    );
    assert!(err.contains("notes.txt: not a bundle"), "{err}");
    assert!(
        stdout(&out).starts_with("1 imported, 0 already imported, 1 refused"),
        "{}",
        stdout(&out)
    );
    let list = json(&cases(&db, &["list", "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["sha256"], sha256_of(&good));

    // A file that is no archive at all, named on the command line: refused, not a crash.
    let text = dir.path().join("x.tgz");
    std::fs::write(&text, "hello\n").unwrap();
    let out = cases(&db, &["import", text.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("refused:"), "{}", stderr(&out));
}

#[test]
fn two_importers_at_once_leave_each_bundle_once() {
    // Eight bundles of four hosts.
    let f = Fixture::new();
    for n in 0..8 {
        f.file("/etc/hostname", format!("node{}\n", n % 4)).file(
            "/proc/drbd",
            format!("version: 8.4.{n} (api:1/proto:86-101)\n"),
        );
        assert_success(&f.collect(&["--quiet"]));
    }
    assert_eq!(f.bundles().len(), 8);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cases.sqlite");
    let spawn = || {
        Command::new(BIN)
            .env_clear()
            .args(["cases", "import", "--json", "--db"])
            .arg(&db)
            .arg(f.out.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (a, b) = (json(&a), json(&b));
    let imported = a["imported"].as_i64().unwrap() + b["imported"].as_i64().unwrap();
    let already = a["already"].as_i64().unwrap() + b["already"].as_i64().unwrap();
    assert_eq!((imported, already), (8, 8), "{a}\n{b}");
    let list = json(&cases(&db, &["list", "--json"]));
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 8);
    let mut shas: Vec<&str> = list.iter().map(|b| b["sha256"].as_str().unwrap()).collect();
    shas.sort();
    shas.dedup();
    assert_eq!(shas.len(), 8);
    let stats = json(&cases(&db, &["stats", "--json"]));
    assert_eq!(stats["hosts"], 4);
}

#[test]
fn a_database_that_is_not_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cases.sqlite");
    std::fs::write(&db, "plain text, not SQLite\n".repeat(100)).unwrap();
    let out = cases(&db, &["list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("cases.sqlite") && err.contains("--db"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn the_default_database_is_in_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .env_clear()
        .env("HOME", dir.path())
        .args(["cases", "list"])
        .output()
        .unwrap();
    assert_success(&out);
    assert!(dir
        .path()
        .join(".local/share/drx-collect/cases.sqlite")
        .is_file());
    let xdg = dir.path().join("xdg");
    let out = Command::new(BIN)
        .env_clear()
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", &xdg)
        .args(["cases", "stats", "--json"])
        .output()
        .unwrap();
    assert_success(&out);
    assert!(xdg.join("drx-collect/cases.sqlite").is_file());
}
