//! `inspect`: the support engineer's side. Verification, diagnosis, pairs, and bundles as
//! untrusted input.
use crate::diagnose::healthy_node;
use crate::util::*;
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) fn collected(f: &Fixture) -> PathBuf {
    assert_success(&f.collect(&[]));
    f.bundle().path
}

/// Unpacks a .tgz with the real tar, lets `change` edit the tree, packs it again.
fn repack(bundle: &Path, change: impl FnOnce(&Path)) -> PathBuf {
    let work = tempfile::tempdir().unwrap().keep();
    assert!(Command::new("tar")
        .arg("xzf")
        .arg(bundle)
        .arg("-C")
        .arg(&work)
        .status()
        .unwrap()
        .success());
    let top = std::fs::read_dir(&work)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    change(&top);
    let out = work.join("repacked.tgz");
    let name = top.file_name().unwrap().to_owned();
    assert!(Command::new("tar")
        .arg("czf")
        .arg(&out)
        .arg("-C")
        .arg(&work)
        .arg(&name)
        .status()
        .unwrap()
        .success());
    out
}

#[test]
fn an_intact_bundle_verifies_and_is_diagnosed() {
    let f = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    let bundle = collected(&f);
    let output = inspect(&[bundle.as_os_str()]);
    assert_success(&output);
    let text = stdout(&output);
    assert!(text.contains("intact"), "{text}");
    assert!(
        text.contains("node1") && text.contains("CentOS Linux release 7.9.2009"),
        "{text}"
    );
    assert!(text.contains("DRX        1.2.3"), "{text}");
}

#[test]
fn one_changed_byte_is_an_integrity_failure_naming_the_file() {
    let f = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    let bundle = collected(&f);
    let tampered = repack(&bundle, |top| {
        let hosts = top.join("files/etc/hostname");
        let mut text = std::fs::read(&hosts).unwrap();
        text[0] ^= 1;
        std::fs::write(hosts, text).unwrap();
    });
    let output = inspect(&[tampered.as_os_str()]);
    assert_eq!(output.status.code(), Some(3), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(
        text.contains("INTEGRITY FAILURE") && text.contains("files/etc/hostname"),
        "{text}"
    );

    let json = inspect(&[tampered.as_os_str(), OsStr::new("--json")]);
    assert_eq!(json.status.code(), Some(3));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["integrity"]["ok"], false);
    let problems = value["integrity"]["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["kind"] == "changed" && p["path"] == "files/etc/hostname"),
        "{problems:?}"
    );
}

#[test]
fn a_removed_or_added_file_is_reported() {
    let f = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    let bundle = collected(&f);
    let tampered = repack(&bundle, |top| {
        std::fs::remove_file(top.join("commands/lsmod.txt")).unwrap();
        std::fs::write(top.join("files/extra.txt"), "planted").unwrap();
    });
    let output = inspect(&[tampered.as_os_str()]);
    assert_eq!(output.status.code(), Some(3));
    let text = stdout(&output);
    assert!(
        text.contains("commands/lsmod.txt") && text.contains("files/extra.txt"),
        "{text}"
    );
}

#[test]
fn a_truncated_bundle_is_a_clear_error_not_a_panic() {
    let f = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    let bundle = collected(&f);
    let bytes = std::fs::read(&bundle).unwrap();
    let cut = bundle.with_file_name("cut.tgz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let output = inspect(&[cut.as_os_str()]);
    assert!(
        matches!(output.status.code(), Some(1) | Some(3)),
        "{:?}",
        output.status
    );
    assert!(!stderr(&output).contains("panicked"));
    assert!(stderr(&output).contains("cut.tgz") || stdout(&output).contains("cut.tgz"));

    let garbage = bundle.with_file_name("garbage.tgz");
    std::fs::write(&garbage, b"this is not a bundle at all").unwrap();
    let output = inspect(&[garbage.as_os_str()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output).trim().lines().count(),
        1,
        "{}",
        stderr(&output)
    );
    let output = inspect(&[OsStr::new("/no/such/bundle.tgz")]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("/no/such/bundle.tgz"));
}

/// A raw tar header with any name (the tar crate refuses hostile names, as it should).
fn raw_entry(out: &mut Vec<u8>, name: &str, kind: u8, link: &str, data: &[u8]) {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    header[100..107].copy_from_slice(b"0000644");
    header[108..115].copy_from_slice(b"0000000");
    header[116..123].copy_from_slice(b"0000000");
    header[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
    header[136..147].copy_from_slice(b"00000000000");
    header[156] = kind;
    header[157..157 + link.len()].copy_from_slice(link.as_bytes());
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|&b| b as u32).sum();
    header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

fn gzip(tar: &[u8], path: &Path) {
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    encoder.write_all(tar).unwrap();
    encoder.write_all(&[0u8; 1024]).unwrap();
    encoder.finish().unwrap();
}

#[test]
fn hostile_archives_never_write_outside_the_extraction_directory() {
    let work = tempfile::tempdir().unwrap();
    let mut tar = Vec::new();
    raw_entry(&mut tar, "b/files/ok.txt", b'0', "", b"fine\n");
    raw_entry(&mut tar, "b/../../escaped.txt", b'0', "", b"escaped\n");
    raw_entry(&mut tar, "/tmp/absolute-drxc.txt", b'0', "", b"absolute\n");
    raw_entry(&mut tar, "b/files/passwd", b'2', "/etc/passwd", b"");
    raw_entry(&mut tar, "b/files/hard", b'1', "/etc/shadow", b"");
    raw_entry(&mut tar, "b/files/dev", b'3', "", b"");
    raw_entry(&mut tar, "b/files/ok.txt", b'0', "", b"duplicate\n");
    let hostile = work.path().join("hostile.tgz");
    gzip(&tar, &hostile);

    let output = inspect(&[hostile.as_os_str()]);
    assert!(
        matches!(output.status.code(), Some(1) | Some(3)),
        "{:?}",
        output.status
    );
    assert!(!stderr(&output).contains("panicked"));

    let target = work.path().join("deep/inside/out");
    let output = inspect(&[
        hostile.as_os_str(),
        OsStr::new("--extract"),
        target.as_os_str(),
    ]);
    assert!(!stderr(&output).contains("panicked"));
    assert!(!work.path().join("escaped.txt").exists());
    assert!(!work.path().join("deep/escaped.txt").exists());
    assert!(!Path::new("/tmp/absolute-drxc.txt").exists());
    for entry in walkdir::WalkDir::new(work.path()) {
        let entry = entry.unwrap();
        assert!(
            !entry.path_is_symlink(),
            "a link was created: {}",
            entry.path().display()
        );
        if entry.file_type().is_file() {
            assert!(
                entry.path() == hostile || entry.path().starts_with(&target),
                "written outside: {}",
                entry.path().display()
            );
        }
    }
    if target.join("b/files/ok.txt").exists() {
        assert_eq!(
            std::fs::read_to_string(target.join("b/files/ok.txt")).unwrap(),
            "fine\n",
            "a duplicate overwrote a file"
        );
    }
}

#[test]
fn a_gzip_bomb_stops_at_the_cap_with_a_clear_error() {
    // 5 GiB of zeros claimed by one entry compresses to a few MB; the reader's 4 GiB entry cap
    // must stop it long before the end, without holding it in memory.
    let work = tempfile::tempdir().unwrap();
    let bomb = work.path().join("bomb.tgz");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&bomb).unwrap(),
        flate2::Compression::fast(),
    );
    let mut header = Vec::new();
    raw_entry(&mut header, "b/files/zeros", b'0', "", b"");
    let size: u64 = 5 << 30;
    header[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header[..512].iter().map(|&b| b as u32).sum();
    header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    encoder.write_all(&header[..512]).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..(5 << 10) {
        encoder.write_all(&zeros).unwrap();
    }
    encoder.finish().unwrap();
    assert!(std::fs::metadata(&bomb).unwrap().len() < 64 << 20);
    let started = std::time::Instant::now();
    let output = inspect(&[bomb.as_os_str()]);
    assert!(
        matches!(output.status.code(), Some(1) | Some(3)),
        "{:?} {}",
        output.status,
        stderr(&output)
    );
    assert!(!stderr(&output).contains("panicked"));
    assert!(started.elapsed().as_secs() < 120);
}

#[test]
fn a_hand_made_bundle_of_another_tool_is_verified_and_diagnosed() {
    let work = tempfile::tempdir().unwrap();
    let top = work.path().join("support-node7");
    std::fs::create_dir_all(top.join("files/etc/bsr.d")).unwrap();
    std::fs::create_dir_all(top.join("files/C/Users/admin/AppData/Local/Temp")).unwrap();
    std::fs::write(
        top.join("files/etc/bsr.d/r0.res"),
        format!("\u{feff}{}", crate::diagnose::RES_R0),
    )
    .unwrap();
    std::fs::write(
        top.join("files/C/Users/admin/AppData/Local/Temp/dd_vcredist_amd64_20180726153304.log"),
        "[0AD8:05C0][2018-07-26T15:33:04]e000: Error 0x800b010a: Failed authenticode verification of payload: C:\\ProgramData\\Package Cache\\.unverified\\vcRuntimeMinimum_x64\r\n",
    )
    .unwrap();
    std::fs::write(
        top.join("index.json"),
        r#"{"schema":"drx-collect/index/v1"}"#,
    )
    .unwrap();
    let sums = Command::new("sh")
        .arg("-c")
        .arg("find . -type f ! -name SHA256SUMS | sed 's|^\\./||' | sort | xargs -d '\\n' sha256sum > SHA256SUMS")
        .current_dir(&top)
        .status()
        .unwrap();
    assert!(sums.success());
    let bundle = work.path().join("support-node7.tgz");
    assert!(Command::new("tar")
        .arg("czf")
        .arg(&bundle)
        .arg("-C")
        .arg(work.path())
        .arg("support-node7")
        .status()
        .unwrap()
        .success());

    let output = inspect(&[bundle.as_os_str(), OsStr::new("--json")]);
    assert_success(&output);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["integrity"]["ok"], true);
    let rules = rule_ids(&value["findings"]);
    assert!(rules.contains(&"CONFIG-BOM"), "{rules:?}");
    assert!(rules.contains(&"INSTALL-0X800B010A"), "{rules:?}");

    // The same tree unpacked is a bundle too.
    let output = inspect(&[top.as_os_str()]);
    assert_success(&output);
}

#[test]
fn the_two_nodes_of_a_pair_are_compared() {
    let a = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    let b = healthy_node("node2", "10.0.0.2", "10.0.0.1", "1.3.0");
    let bundle_a = collected(&a);
    let bundle_b = collected(&b);
    let output = inspect(&[
        bundle_a.as_os_str(),
        bundle_b.as_os_str(),
        OsStr::new("--json"),
    ]);
    assert_success(&output);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["bundles"].as_array().unwrap().len(), 2);
    let mismatch = value["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "VERSION-DRX-MISMATCH")
        .unwrap_or_else(|| panic!("no VERSION-DRX-MISMATCH in {}", value["findings"]));
    let text = mismatch.to_string();
    assert!(text.contains("1.2.3") && text.contains("1.3.0"), "{text}");

    // Same versions: no mismatch.
    let c = healthy_node("node2", "10.0.0.2", "10.0.0.1", "1.2.3");
    let bundle_c = collected(&c);
    let output = inspect(&[
        bundle_a.as_os_str(),
        bundle_c.as_os_str(),
        OsStr::new("--json"),
    ]);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(!value["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["rule"] == "VERSION-DRX-MISMATCH"));
}

#[test]
fn list_and_cat_read_inside_the_bundle() {
    let f = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    let bundle = collected(&f);
    let output = inspect(&[bundle.as_os_str(), OsStr::new("--list")]);
    assert_success(&output);
    assert!(stdout(&output).contains("files/etc/drbd.d/r0.res"));
    let output = inspect(&[
        bundle.as_os_str(),
        OsStr::new("--cat"),
        OsStr::new("files/etc/hostname"),
    ]);
    assert_success(&output);
    assert_eq!(stdout(&output), "node1\n");
    let output = inspect(&[
        bundle.as_os_str(),
        OsStr::new("--cat"),
        OsStr::new("../etc/passwd"),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let target = tempfile::tempdir().unwrap();
    let output = inspect(&[
        bundle.as_os_str(),
        OsStr::new("--extract"),
        target.path().as_os_str(),
    ]);
    assert_success(&output);
    let top = std::fs::read_dir(target.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let check = Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(&top)
        .status()
        .unwrap();
    assert!(check.success());
}

/// Many bundles in one run are a support queue: each is listed and diagnosed alone, and the
/// cross-node rules, meant for the nodes of one cluster (at most 32), stay out of it.
#[test]
fn more_bundles_than_a_cluster_holds_are_each_diagnosed_alone() {
    let a = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    let b = healthy_node("node2", "10.0.0.2", "10.0.0.1", "1.3.0");
    let bundle_a = collected(&a);
    let bundle_b = collected(&b);
    let mismatch = |args: &[&OsStr]| -> (serde_json::Value, bool) {
        let output = inspect(args);
        assert_success(&output);
        crate::shell::assert_valid("inspect.schema.json", &output.stdout);
        let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let found = value["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "VERSION-DRX-MISMATCH");
        (value, found)
    };
    // Three nodes of a cluster: still compared.
    let (_, found) = mismatch(&[
        bundle_a.as_os_str(),
        bundle_b.as_os_str(),
        bundle_a.as_os_str(),
        OsStr::new("--json"),
    ]);
    assert!(
        found,
        "three bundles are compared as the nodes of one cluster"
    );
    // Thirty-four: a queue.
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<PathBuf> = (0..33)
        .map(|n| {
            let copy = dir.path().join(format!("{n}.tgz"));
            std::fs::copy(&bundle_a, &copy).unwrap();
            copy
        })
        .collect();
    args.push(bundle_b.clone());
    let mut with_json: Vec<&OsStr> = args.iter().map(|p| p.as_os_str()).collect();
    with_json.push(OsStr::new("--json"));
    let (value, found) = mismatch(&with_json);
    assert!(!found, "{}", value["findings"]);
    assert_eq!(value["bundles"].as_array().unwrap().len(), 34);
    assert_eq!(value["integrity"]["ok"], true);
    // The HTML report is one page for one cluster.
    let mut with_html: Vec<&OsStr> = args.iter().map(|p| p.as_os_str()).collect();
    let page = dir.path().join("report.html");
    with_html.extend([OsStr::new("--html"), page.as_os_str()]);
    let output = inspect(&with_html);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--html"), "{}", stderr(&output));
    assert!(!page.exists());
}

/// A case file as `--peer` writes it (SPEC §9), made here from two collected bundles.
pub(crate) fn case_file(dir: &Path, stem: &str, local: &Path, peer: &Path) -> PathBuf {
    use sha2::{Digest, Sha256};
    let top = dir.join(stem);
    std::fs::create_dir_all(top.join("bundles")).unwrap();
    let mut bundles = Vec::new();
    let mut sums = String::new();
    for (role, bundle) in [("local", local), ("peer", peer)] {
        let name = bundle.file_name().unwrap().to_str().unwrap();
        let bytes = std::fs::read(bundle).unwrap();
        let sha = format!("{:x}", Sha256::digest(&bytes));
        std::fs::write(top.join("bundles").join(name), &bytes).unwrap();
        sums.push_str(&format!("{sha}  bundles/{name}\n"));
        bundles.push(serde_json::json!({
            // drx-collect-<host>-<stamp>.tgz (the fixtures' host names have no dash)
            "role": role, "host": name.split('-').nth(2).unwrap(), "path": format!("bundles/{name}"),
            "sha256": sha, "size": bytes.len(),
        }));
    }
    let case = serde_json::json!({
        "schema": "drx-collect/case/v1",
        "tool": {"name": "drx-collect", "version": "test"},
        "created_at": "2026-12-02T00:00:00Z",
        "bundles": bundles,
    });
    let case = serde_json::to_vec_pretty(&case).unwrap();
    std::fs::write(top.join("case.json"), &case).unwrap();
    sums.push_str(&format!("{:x}  case.json\n", Sha256::digest(&case)));
    std::fs::write(top.join("SHA256SUMS"), sums).unwrap();
    let file = dir.join(format!("{stem}.tgz"));
    assert!(Command::new("tar")
        .arg("czf")
        .arg(&file)
        .arg("-C")
        .arg(dir)
        .arg(stem)
        .status()
        .unwrap()
        .success());
    file
}

/// Each case file is a pair of its own: its two nodes are compared, never a node of one case
/// with a node of another (a support desk inspects many cases at once).
#[test]
fn each_case_file_is_a_pair_of_its_own() {
    let nodes = [
        healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3"),
        healthy_node("node2", "10.0.0.2", "10.0.0.1", "1.3.0"),
        healthy_node("node3", "10.0.0.2", "10.0.0.1", "1.2.3"),
    ];
    let [a, b, c] = [0, 1, 2].map(|n| collected(&nodes[n]));
    let dir = tempfile::tempdir().unwrap();
    let same = case_file(dir.path(), "drx-case-node1-node3-a", &a, &c);
    let differ = case_file(dir.path(), "drx-case-node1-node2-b", &a, &b);
    let mismatches = |args: &[&OsStr]| {
        let output = inspect(args);
        assert_success(&output);
        crate::shell::assert_valid("inspect.schema.json", &output.stdout);
        let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(value["bundles"].as_array().unwrap().len(), 4);
        value["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "VERSION-DRX-MISMATCH")
            .count()
    };
    // Two cases whose nodes all run 1.2.3 but one: the mismatch is found in that case only
    // (across the cases, node2 against the first case's nodes would add more).
    let json = OsStr::new("--json");
    assert_eq!(mismatches(&[same.as_os_str(), differ.as_os_str(), json]), 1);
    assert_eq!(mismatches(&[same.as_os_str(), same.as_os_str(), json]), 0);
}

/// In a queue, an input that is not a bundle at all is named and the others are still reported;
/// the exit status is the one that input alone gets.
#[test]
fn a_queue_goes_on_past_an_input_that_is_not_a_bundle() {
    let node = healthy_node("node1", "10.0.0.1", "10.0.0.2", "1.2.3");
    let bundle = collected(&node);
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("drx-collect-junk-20261202T000000Z.tgz");
    std::fs::write(&junk, b"this is not a gzip file\n").unwrap();
    let alone = inspect(&[junk.as_os_str(), OsStr::new("--json")]);
    assert!(!alone.status.success());
    let output = inspect(&[
        bundle.as_os_str(),
        junk.as_os_str(),
        bundle.as_os_str(),
        OsStr::new("--json"),
    ]);
    assert_eq!(output.status.code(), alone.status.code());
    crate::shell::assert_valid("inspect.schema.json", &output.stdout);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["bundles"].as_array().unwrap().len(), 2);
    assert_eq!(value["integrity"]["ok"], false);
    let problems = value["integrity"]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0]["bundle"]
        .as_str()
        .unwrap()
        .ends_with("drx-collect-junk-20261202T000000Z.tgz"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("drx-collect-junk"), "{stderr}");
}
