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

/// The bundles of a `list` / `search --json` answer, checked to say its total.
fn page(output: &Output) -> Value {
    let answer = json(output);
    assert!(answer["total"].is_i64(), "no total: {answer}");
    answer["bundles"].clone()
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

    let list = page(&cases(&db, &["list", "--json"]));
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    // Newest first: node2 was collected last.
    assert_eq!(list[0]["host"], "node2");
    assert_eq!(list[0]["versions"]["drbd"], "9.0.22");
    assert_eq!(list[1]["host"], "node1");
    assert_eq!(list[1]["versions"]["drbd"], "8.4.11");
    assert_eq!(list[2]["versions"]["drbd"], "8.4.5");
    assert_eq!(list[2]["versions"]["drx"], "3.2.1");
    let limited = page(&cases(&db, &["list", "--limit", "1", "--json"]));
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
    let bom = page(&cases(&db, &["search", "--rule", "CONFIG-BOM", "--json"]));
    assert_eq!(hosts(&bom), ["node1@8.4.5"]);
    let old = page(&cases(
        &db,
        &["search", "--version", "drbd<8.4.8", "--json"],
    ));
    assert_eq!(hosts(&old), ["node1@8.4.5"]);
    let not_old = page(&cases(
        &db,
        &["search", "--version", "drbd>=8.4.8", "--json"],
    ));
    assert_eq!(hosts(&not_old), ["node2@9.0.22", "node1@8.4.11"]);
    let ne = page(&cases(
        &db,
        &["search", "--version", "drx!=3.2.4", "--json"],
    ));
    assert_eq!(hosts(&ne), ["node1@8.4.5"]);
    let host = page(&cases(&db, &["search", "--host", "NODE1", "--json"]));
    assert_eq!(hosts(&host), ["node1@8.4.11", "node1@8.4.5"]);
    let both = page(&cases(
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
    let none = page(&cases(
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
    let list = page(&cases(&db, &["list", "--json"]));
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
    let list = page(&cases(&db, &["list", "--json"]));
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
fn the_default_database_is_private_and_only_import_creates_it() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let run = |args: &[&str], xdg: Option<&Path>| {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("HOME", dir.path())
            .arg("cases")
            .args(args);
        if let Some(xdg) = xdg {
            cmd.env("XDG_DATA_HOME", xdg);
        }
        cmd.output().unwrap()
    };
    // A query never creates the database: it says there is none.
    let out = run(&["list"], None);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("no case database"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join(".local").exists());
    // The first import does, readable by this user only, like the bundles it describes.
    assert_success(&run(&["import", empty.to_str().unwrap()], None));
    let db = dir.path().join(".local/share/drx-collect/cases.sqlite");
    assert!(db.is_file());
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(db.parent().unwrap()), 0o700);
    let f = Fixture::new();
    f.file("/etc/drbd.d/r0.res", RES);
    assert_success(&f.collect(&["--quiet"]));
    assert_success(&run(&["import", f.out.path().to_str().unwrap()], None));
    // SQLite's own files beside it (WAL, shared memory) follow the database's mode.
    for entry in std::fs::read_dir(db.parent().unwrap()).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    assert_success(&run(&["list"], None));
    let xdg = dir.path().join("xdg");
    assert_success(&run(&["import", empty.to_str().unwrap()], Some(&xdg)));
    assert!(xdg.join("drx-collect/cases.sqlite").is_file());
    assert_success(&run(&["stats", "--json"], Some(&xdg)));
}

#[test]
fn a_mistyped_db_path_is_named_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    for query in [
        &["list"][..],
        &["search", "--rule", "CONFIG-BOM"],
        &["stats"],
    ] {
        for typo in ["typo.sqlite", "no/such/dir/cases.sqlite"] {
            let db = dir.path().join(typo);
            let out = cases(&db, query);
            assert_eq!(out.status.code(), Some(1), "{query:?} {typo}");
            assert!(
                stderr(&out).contains("no case database") && stderr(&out).contains(typo),
                "{}",
                stderr(&out)
            );
        }
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // Import creates the file, never the directories of a mistyped path.
    let empty = tempfile::tempdir().unwrap();
    let out = cases(
        &dir.path().join("no/such/dir/cases.sqlite"),
        &["import", empty.path().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_sealed_bundle_is_imported_with_its_identity() {
    let f = Fixture::new();
    f.file("/etc/drbd.d/r0.res", RES);
    let keys = tempfile::tempdir().unwrap();
    let (identity, public) = crate::sealed::age_keygen(keys.path());
    assert_success(&f.collect(&["--quiet", "--encrypt-to", &public]));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cases.sqlite");
    // Without the key: refused, and told how to give it to this very command.
    let out = cases(&db, &["import", f.out.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("--identity"), "{}", stderr(&out));
    let out = cases(
        &db,
        &[
            "import",
            f.out.path().to_str().unwrap(),
            "--identity",
            identity.to_str().unwrap(),
            "--json",
        ],
    );
    let report = json(&out);
    assert_eq!(report["imported"], 1, "{report}");
    let list = page(&cases(&db, &["list", "--json"]));
    assert_eq!(list[0]["host"], "node1");
}

/// Unpacks a collected bundle with the real tar, lets `edit` change its files and index.json,
/// then makes it honest again (each item's bytes and sha256, every SHA256SUMS line) and packs
/// it as `name` in `dir`: a bundle that verifies, holding what a hostile sender chose.
fn honest_repack(
    bundle: &Path,
    dir: &Path,
    name: &str,
    edit: impl FnOnce(&Path, &mut Value),
) -> PathBuf {
    use sha2::{Digest, Sha256};
    let work = tempfile::tempdir().unwrap();
    let status = Command::new("tar")
        .arg("xzf")
        .arg(bundle)
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
    let mut index: Value =
        serde_json::from_slice(&std::fs::read(top.join("index.json")).unwrap()).unwrap();
    edit(&top, &mut index);
    for item in index["items"].as_array_mut().unwrap() {
        let Some(path) = item["path"].as_str().map(str::to_string) else {
            continue;
        };
        if let Ok(bytes) = std::fs::read(top.join(&path)) {
            item["bytes"] = bytes.len().into();
            item["sha256"] = format!("{:x}", Sha256::digest(&bytes)).into();
        }
    }
    std::fs::write(
        top.join("index.json"),
        serde_json::to_vec_pretty(&index).unwrap(),
    )
    .unwrap();
    let mut sums = String::new();
    let mut files: Vec<PathBuf> = walk(&top);
    files.sort();
    for file in files {
        let rel = file
            .strip_prefix(&top)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        if rel == "SHA256SUMS" {
            continue;
        }
        let sha = format!("{:x}", Sha256::digest(std::fs::read(&file).unwrap()));
        sums.push_str(&format!("{sha}  {rel}\n"));
    }
    std::fs::write(top.join("SHA256SUMS"), sums).unwrap();
    let out = dir.join(name);
    let status = Command::new("tar")
        .arg("czf")
        .arg(&out)
        .arg("-C")
        .arg(work.path())
        .arg(top.file_name().unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// A raw control character or bidi mark a terminal would act on.
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

#[test]
fn what_a_bundle_says_is_shown_escaped_in_every_text_answer() {
    let f = Fixture::new();
    f.file("/etc/drbd.d/r0.res", RES);
    assert_success(&f.collect(&["--quiet"]));
    let dir = tempfile::tempdir().unwrap();
    // The host, the resource, the case id, the label and the file name all carry sequences that
    // would clear the screen, retitle the window, return the cursor or reverse the text.
    let host = "evil\u{1b}[2Jhost";
    let hostile = honest_repack(
        &f.bundles()[0],
        dir.path(),
        "drx-collect-x\u{1b}[1m-20261124T100000Z.tgz",
        |top, index| {
            std::fs::write(top.join("files/etc/hostname"), format!("{host}\n")).unwrap();
            std::fs::write(
                top.join("files/etc/drbd.d/r0.res"),
                RES.replace("resource r0", "resource r\u{1b}[31m\u{7}0\u{202e}"),
            )
            .unwrap();
            index["host"]["hostname"] = host.into();
            index["case_id"] = "CASE\u{1b}[31m-1".into();
            index["label"] = "before\rAFTER \u{202e}txet".into();
        },
    );
    let db = dir.path().join("cases.sqlite");
    let import = cases(&db, &["import", hostile.to_str().unwrap()]);
    assert_success(&import);
    let err = stderr(&import);
    assert!(raw_controls(&err).is_empty(), "import progress: {err:?}");
    assert!(err.contains("evil\\e[2Jhost"), "{err}");
    let show = cases(&db, &["show", "1"]);
    let history = cases(&db, &["history", host]);
    for output in [cases(&db, &["list"]), show.clone(), history] {
        assert_success(&output);
        let text = stdout(&output);
        assert!(raw_controls(&text).is_empty(), "{text:?}");
    }
    for output in [cases(&db, &["list"]), show.clone()] {
        assert!(
            stdout(&output).contains("evil\\e[2Jhost"),
            "{}",
            stdout(&output)
        );
    }
    let text = stdout(&show);
    for escaped in [
        "CASE\\e[31m-1",
        "before\\rAFTER \\u{202e}txet",
        "r\\e[31m\\u{7}0\\u{202e}",
        "drx-collect-x\\e[1m-",
    ] {
        assert!(text.contains(escaped), "{escaped} in {text}");
    }
    // --json keeps the exact values for programs (JSON escapes what it must).
    let value = json(&cases(&db, &["show", "1", "--json"]));
    assert_eq!(value["host"], host);
    assert_eq!(value["label"], "before\rAFTER \u{202e}txet");
}

#[test]
fn fifos_and_devices_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let bundles = dir.path().join("in");
    std::fs::create_dir(&bundles).unwrap();
    let fifo = bundles.join("drx-collect-n1-20261124T100000Z.tgz");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    std::os::unix::fs::symlink(
        "/dev/zero",
        bundles.join("drx-collect-n2-20261124T100000Z.tgz"),
    )
    .unwrap();
    let db = dir.path().join("cases.sqlite");
    // Bounded: without the check, each of these blocks on the FIFO or reads /dev/zero forever.
    let run = |args: &[&str]| {
        let mut child = Command::new(BIN)
            .env_clear()
            .arg("cases")
            .args(args)
            .arg("--db")
            .arg(&db)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                panic!("cases {args:?} did not finish");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        child.wait_with_output().unwrap()
    };
    // In a directory: skipped with a note, the import goes on.
    let out = run(&["import", bundles.to_str().unwrap()]);
    assert_success(&out);
    assert_eq!(
        stderr(&out).matches("not a regular file").count(),
        2,
        "{}",
        stderr(&out)
    );
    // Named: refused (exit 3), the reason given.
    for named in [fifo.to_str().unwrap(), "/dev/zero"] {
        let out = run(&["import", named]);
        assert_eq!(out.status.code(), Some(3), "{named}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("not a regular file"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn the_later_parts_of_a_split_case_file_are_not_refused() {
    let one = crate::diagnose::healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    let two = crate::diagnose::healthy_node("node2", "10.0.0.2", "10.0.0.1", "1.2.3");
    let [a, b] = [&one, &two].map(crate::inspect::collected);
    let dir = tempfile::tempdir().unwrap();
    let parts = dir.path().join("in");
    std::fs::create_dir(&parts).unwrap();
    let case =
        crate::inspect::case_file(dir.path(), "drx-case-node1-node2-20261124T100000Z", &a, &b);
    // Three parts, as `--split` names them.
    let size = std::fs::metadata(&case).unwrap().len();
    let status = Command::new("split")
        .arg("-b")
        .arg((size / 3 + 1).to_string())
        .args(["-d", "-a", "3", "--numeric-suffixes=1"])
        .arg(&case)
        .arg(parts.join(format!("{}.", case.file_name().unwrap().to_str().unwrap())))
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read_dir(&parts).unwrap().count(), 3);
    let db = dir.path().join("cases.sqlite");
    let out = cases(&db, &["import", parts.to_str().unwrap(), "--json"]);
    let report = json(&out);
    assert_eq!(
        (&report["imported"], &report["refused"], &report["skipped"]),
        (&2.into(), &0.into(), &2.into()),
        "{report}"
    );
    let hosts: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["host"].as_str())
        .collect();
    assert_eq!(hosts.len(), 2, "{report}");
}

/// Issue 28 item 5, the case database as a desk uses it: paths kept, per-case fields, search by
/// label / dates / severity / text, totals with --limit/--offset, CSV export, re-diagnosis of
/// stored bundles, one line for the skipped sidecars.
#[test]
fn the_desk_sets_cases_searches_exports_and_rediagnoses() {
    let one = Fixture::new();
    one.file(
        "/etc/drbd.d/r0.res",
        [&b"\xEF\xBB\xBF"[..], RES.as_bytes()].concat(),
    );
    // A label a spreadsheet would run as a formula, with a comma to quote.
    assert_success(&one.collect(&["--quiet", "--case-id", "CASE-7", "--label", "=cmd,x"]));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let two = Fixture::new();
    two.file("/etc/hostname", "node2\n")
        .file("/etc/drbd.d/r0.res", RES);
    assert_success(&two.collect(&["--quiet", "--case-id", "CASE-8", "--label", "nightly"]));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cases.sqlite");

    // Two directories with a bundle and its sidecar each: one summary line for the sidecars.
    let out = cases(
        &db,
        &[
            "import",
            one.out.path().to_str().unwrap(),
            two.out.path().to_str().unwrap(),
        ],
    );
    assert_success(&out);
    let err = stderr(&out);
    assert!(!err.contains("skipped: "), "{err}");
    assert_eq!(
        err.matches("skipped 2 checksum sidecar file(s)").count(),
        1,
        "{err}"
    );

    // Totals: a limit shows a page and says how many there are.
    let first = json(&cases(&db, &["list", "--limit", "1", "--json"]));
    assert_eq!(first["total"], 2, "{first}");
    assert_eq!(first["bundles"].as_array().unwrap().len(), 1);
    assert_eq!(first["bundles"][0]["host"], "node2");
    let next = json(&cases(
        &db,
        &["list", "--limit", "1", "--offset", "1", "--json"],
    ));
    assert_eq!(next["bundles"][0]["host"], "node1");
    assert_eq!(next["offset"], 1);
    let text = stdout(&cases(&db, &["list", "--limit", "1"]));
    assert!(
        text.contains("1-1 of 2 bundles shown; --offset 1 for the next ones"),
        "{text}"
    );
    let text = stdout(&cases(&db, &["list"]));
    assert!(text.trim_end().ends_with("2 of 2 bundles"), "{text}");
    let korean = Command::new(BIN)
        .env_clear()
        .env("LANG", "ko_KR.UTF-8")
        .args(["cases", "list", "--limit", "1", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        stdout(&korean).contains("번들 2개 중 1-1번째 표시; 다음은 --offset 1"),
        "{}",
        stdout(&korean)
    );
    // The path is stored, absolute.
    let path = first["bundles"][0]["path"].as_str().unwrap().to_string();
    assert_eq!(Path::new(&path), two.bundles()[0].as_path());

    let hosts = |args: &[&str]| -> Vec<String> {
        let mut full = vec!["search", "--json"];
        full.extend_from_slice(args);
        let answer = json(&cases(&db, &full));
        let list = answer["bundles"].as_array().unwrap();
        assert_eq!(answer["total"].as_u64().unwrap() as usize, list.len());
        list.iter()
            .map(|b| b["host"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(hosts(&["--label", "nightly"]), ["node2"]);
    assert_eq!(hosts(&["--label", "=cmd,x"]), ["node1"]);
    // Text: a finding's title (any case), the host, the label; % is a character, not a wildcard.
    assert_eq!(hosts(&["--text", "utf-8 bom"]), ["node1"]);
    assert_eq!(hosts(&["--text", "NODE2"]), ["node2"]);
    assert_eq!(hosts(&["--text", "cmd,"]), ["node1"]);
    assert_eq!(hosts(&["--text", "%"]), Vec::<String>::new());
    assert_eq!(hosts(&["--text", "_"]).len(), 0);
    assert_eq!(hosts(&["--severity", "error"]), ["node1"]);
    assert!(hosts(&["--severity", "info"]).contains(&"node1".to_string()));
    let today = chrono::Utc::now().date_naive();
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let (yesterday, tomorrow) = (
        day(today.pred_opt().unwrap()),
        day(today.succ_opt().unwrap()),
    );
    assert_eq!(
        hosts(&["--since", &yesterday, "--until", &tomorrow]).len(),
        2
    );
    assert_eq!(hosts(&["--since", &tomorrow]).len(), 0);
    assert_eq!(hosts(&["--until", &yesterday]).len(), 0);
    let bad = cases(&db, &["search", "--since", "last week"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("--since"), "{}", stderr(&bad));

    // The desk's fields of a case.
    let set = json(&cases(
        &db,
        &[
            "set",
            "CASE-7",
            "--status",
            "waiting",
            "--assignee",
            "김민수",
            "--ticket",
            "https://desk.example/T-1",
            "--note",
            "asked for dmesg",
            "--json",
        ],
    ));
    assert_eq!(set["status"], "waiting", "{set}");
    assert_eq!(set["assignee"], "김민수");
    assert_eq!(set["bundles"], 1);
    let set = json(&cases(&db, &["set", "CASE-7", "--note", "", "--json"]));
    assert!(set["note"].is_null(), "{set}");
    assert_eq!(
        set["ticket"], "https://desk.example/T-1",
        "a field not given is kept"
    );
    let shown = json(&cases(
        &db,
        &["show", &next["bundles"][0]["id"].to_string(), "--json"],
    ));
    assert_eq!(shown["case"]["status"], "waiting", "{shown}");
    assert_eq!(shown["status"], "waiting");
    // The desk's fields go through the same escaping as a bundle's values (a shared database
    // is written by others too).
    let set = cases(&db, &["set", "CASE-7", "--assignee", "kim\x1b[2J\rroot"]);
    assert_success(&set);
    assert!(
        stdout(&set).contains("kim\\e[2J\\rroot"),
        "{}",
        stdout(&set)
    );
    let show = cases(&db, &["show", &next["bundles"][0]["id"].to_string()]);
    assert!(!stdout(&show).contains('\x1b'), "{}", stdout(&show));
    assert!(stdout(&show).contains("waiting"), "{}", stdout(&show));
    let typo = cases(&db, &["set", "CASE-77", "--status", "closed"]);
    assert_eq!(typo.status.code(), Some(1));
    assert!(stderr(&typo).contains("CASE-77"), "{}", stderr(&typo));
    assert_eq!(cases(&db, &["set", "CASE-7"]).status.code(), Some(2));
    assert_eq!(
        cases(&db, &["set", "CASE-7", "--status", "done"])
            .status
            .code(),
        Some(2)
    );

    // CSV: RFC 4180, the formula defused, the desk's fields beside the bundle's.
    let csv = cases(&db, &["export", "--csv"]);
    assert_success(&csv);
    let csv = stdout(&csv);
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert!(
        lines[0].starts_with("id,sha256,host,case_id,label,"),
        "{csv}"
    );
    assert_eq!(lines.len(), 4, "header, two rows, the last CRLF: {csv}");
    let node1 = lines.iter().find(|l| l.contains(",node1,")).expect("node1");
    assert!(node1.contains(",CASE-7,\"'=cmd,x\","), "{node1}");
    assert!(
        node1.contains(",waiting,\"kim\x1b[2J\rroot\",https://desk.example/T-1,,"),
        "CSV keeps the exact value (quoted: it holds a CR): {node1:?}"
    );
    let rows = json(&cases(&db, &["export", "--label", "nightly", "--json"]));
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["host"], "node2");

    // Re-diagnosis: the same rules find the same; stored findings lost are found again; a bundle
    // moved away is reported, and the others are still done.
    let again = json(&cases(&db, &["rediagnose", "CASE-7", "--json"]));
    assert_eq!(
        (again["unchanged"].as_i64(), again["changed"].as_i64()),
        (Some(1), Some(0)),
        "{again}"
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("DELETE FROM findings", []).unwrap();
    drop(conn);
    std::fs::rename(&two.bundles()[0], dir.path().join("moved.tgz")).unwrap();
    let out = cases(&db, &["rediagnose", "--all"]);
    assert_success(&out);
    assert!(
        stderr(&out).contains("no bundle at") && stderr(&out).contains(&path),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out)
            .contains("1 re-diagnosed with changed findings, 0 unchanged, 1 not re-diagnosed"),
        "{}",
        stdout(&out)
    );
    assert_eq!(hosts(&["--rule", "CONFIG-BOM"]), ["node1"]);
    // A FIFO where the bundle was is not read (it would block): reported, not waited on.
    assert!(Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap()
        .success());
    let fifo = json(&cases(&db, &["rediagnose", "CASE-8", "--json"]));
    assert_eq!(fifo["results"][0]["outcome"], "unreadable", "{fifo}");
    assert_eq!(fifo["not_rediagnosed"], 1);
    let unknown = cases(&db, &["rediagnose", "CASE-99"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(cases(&db, &["rediagnose"]).status.code(), Some(2));
}
