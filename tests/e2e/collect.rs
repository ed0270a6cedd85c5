use crate::util::*;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

fn centos7_node() -> Fixture {
    let f = Fixture::new();
    f.file("/etc/sysconfig/network-scripts/ifcfg-eth0", "DEVICE=eth0\nIPADDR=10.0.0.1\nPREFIX=24\n")
        .file("/etc/sysconfig/network-scripts/ifcfg-eth1", "DEVICE=eth1\nIPADDR=192.168.100.3\n")
        .file("/etc/hosts", "127.0.0.1 localhost\n10.0.0.1 node1\n10.0.0.2 node2\n")
        .file("/var/log/messages", "Nov 24 10:00:00 node1 kernel: drbd r0: conn( Unconnected -> WFConnection )\n")
        .file("/var/log/messages-20261101", "Nov  1 10:00:00 node1 kernel: old\n")
        .file("/etc/bsr.d/r0.res", "resource r0 {\n}\n")
        .file("/etc/bsr.d/.log_level", "6\n")
        .file("/opt/DRX/drx.conf", "loglevel-file = info\n")
        .file("/opt/DRX/logs/main.log", "I1120 16:37:02.690660 t42053 main] started\n")
        .file("/opt/DRX/logs/r0/r0.log", "I1120 16:37:03.000000 t42054 r0] bridged\n")
        .file("/opt/DRX/logs/core.bin", b"\x7fELF\x00\x00binary")
        .file("/proc/drbd", "version: 8.4.11-1 (api:1/proto:86-101)\n")
        .command("ip", "echo \"1: lo: <LOOPBACK,UP> mtu 65536\"; echo \"    inet 10.0.0.1/24 brd 10.0.0.255 scope global eth0\"")
        .command("lsmod", "echo 'Module Size Used by'; echo 'drbd 374888 3'")
        .command("uname", "echo 'Linux node1 3.10.0-1160.el7.x86_64 #1 SMP x86_64 GNU/Linux'")
        .command("drbdadm", "echo 'Parse error: oops' >&2; exit 10");
    f
}

#[test]
fn collects_a_node_into_a_bundle_that_real_tools_verify() {
    let f = centos7_node();
    let output = f.collect(&[]);
    assert_success(&output);
    let bundle = f.bundle();
    bundle.assert_verifies();

    let name = bundle.file_name();
    assert!(
        name.starts_with("drx-collect-node1-") && name.ends_with("Z.tgz"),
        "{name}"
    );
    assert_eq!(bundle.index["schema"], "drx-collect/index/v1");
    assert_eq!(bundle.index["host"]["hostname"], "node1");
    assert_eq!(
        bundle.index["host"]["os_release"],
        "CentOS Linux release 7.9.2009 (Core)"
    );

    // Files land at their absolute path under files/, dotfiles and globs included.
    assert!(bundle
        .read("files/etc/sysconfig/network-scripts/ifcfg-eth1")
        .contains("192.168.100.3"));
    assert!(bundle.exists("files/etc/bsr.d/.log_level"));
    assert!(bundle.exists("files/var/log/messages-20261101"));
    assert!(bundle.exists("files/opt/DRX/logs/r0/r0.log"));
    assert_eq!(bundle.items("ifcfg").len(), 2);
    // /proc files report size 0 but are read to EOF.
    assert_eq!(
        bundle.read("files/proc/drbd"),
        "version: 8.4.11-1 (api:1/proto:86-101)\n"
    );
    // Binaries in the log directory are left out.
    assert!(!bundle.exists("files/opt/DRX/logs/core.bin"));
    let core = bundle.items("drx-logs");
    assert!(core
        .iter()
        .any(|i| i["source"] == "/opt/DRX/logs/core.bin" && i["status"] == "skipped"));

    // Commands: stdout, stderr beside it, statuses.
    assert_eq!(bundle.status("lsmod"), "ok");
    assert!(bundle.read("commands/lsmod.txt").contains("drbd 374888 3"));
    assert_eq!(bundle.status("drbdadm-dump"), "failed");
    assert_eq!(bundle.items("drbdadm-dump")[0]["exit_code"], 10);
    assert!(bundle
        .read("commands/drbdadm-dump.stderr.txt")
        .contains("Parse error"));
    assert_eq!(bundle.status("bsrsetup-show"), "missing");
    assert_eq!(bundle.status("firewalld-zones"), "missing");

    // Every stored item's hash and size agree with the file.
    for item in bundle.index["items"].as_array().unwrap() {
        if let Some(path) = item["path"].as_str() {
            let data = std::fs::read(bundle.top.join(path)).unwrap();
            assert_eq!(item["bytes"].as_u64().unwrap(), data.len() as u64, "{path}");
            let sum = Command::new("sha256sum")
                .arg(bundle.top.join(path))
                .output()
                .unwrap();
            assert!(
                stdout(&sum).starts_with(item["sha256"].as_str().unwrap()),
                "{path}"
            );
        }
    }
    for path in ["index.json", "SUMMARY.txt", "collector.log", "SHA256SUMS"] {
        assert!(bundle.exists(path), "{path}");
    }
    assert!(bundle.read("SUMMARY.txt").contains("node1"));
    assert!(bundle.read("collector.log").contains("lsmod"));

    // The bundle and its sidecar are private.
    let mode = std::fs::metadata(&bundle.path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let sidecar = bundle.path.with_file_name(format!("{name}.sha256"));
    assert_eq!(
        std::fs::metadata(sidecar).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(stdout(&output).contains(&name));
}

#[test]
fn hung_commands_are_killed_with_their_group_and_the_bundle_is_still_written() {
    let f = centos7_node();
    // A sleep length no other process uses marks our children for pgrep.
    let marker = format!("sleep 7{}.5", std::process::id());
    // Each hung tool starts a child that would outlive a kill of the shell alone.
    let hang = format!("{marker} & {marker}");
    f.command("lsmod", &hang)
        .command("ss", &hang)
        .command("netstat", &hang);
    let started = Instant::now();
    let output = f.collect(&["--timeout", "1s"]);
    let took = started.elapsed();
    assert_success(&output);
    assert!(
        took < Duration::from_secs(6),
        "three hung tools took {took:?}: they must run in parallel"
    );
    let bundle = f.bundle();
    bundle.assert_verifies();
    for id in ["lsmod", "ss-tanp", "netstat-nap"] {
        assert_eq!(bundle.status(id), "timeout", "{id}");
        assert!(bundle.items(id)[0]["error"]
            .as_str()
            .unwrap()
            .contains("killed"));
    }
    std::thread::sleep(Duration::from_millis(200));
    let survivors = Command::new("pgrep")
        .args(["-f", &marker])
        .output()
        .unwrap();
    assert!(
        stdout(&survivors).trim().is_empty(),
        "processes survived: {}",
        stdout(&survivors)
    );
}

#[test]
fn a_command_printing_megabytes_is_kept_whole_up_to_the_cap() {
    let f = centos7_node();
    f.command("dmesg", "seq 1 1000000");
    assert_success(&f.collect(&[]));
    let bundle = f.bundle();
    bundle.assert_verifies();
    let dmesg = bundle.read("commands/dmesg.txt");
    assert_eq!(dmesg.lines().count(), 1_000_000);
    assert!(dmesg.ends_with("999999\n1000000\n"));
    assert_eq!(bundle.status("dmesg"), "ok");
}

#[test]
fn a_long_log_keeps_its_newest_part_and_is_marked_truncated() {
    let f = centos7_node();
    let mut log = String::new();
    for n in 0..20_000 {
        log.push_str(&format!("Nov 24 10:00:00 node1 app: line {n:05}\n"));
    }
    f.file("/var/log/messages", &log);
    assert_success(&f.collect(&["--max-file-size", "64KiB"]));
    let bundle = f.bundle();
    bundle.assert_verifies();
    let item = bundle
        .items("messages")
        .into_iter()
        .find(|i| i["source"] == "/var/log/messages")
        .unwrap();
    assert_eq!(item["status"], "truncated");
    assert_eq!(item["original_bytes"].as_u64().unwrap(), log.len() as u64);
    let kept = bundle.read("files/var/log/messages");
    assert!(kept.len() <= 64 * 1024);
    assert!(kept.ends_with("line 19999\n"));
    // The cut starts at a whole line.
    assert!(
        kept.starts_with("Nov 24 10:00:00 node1 app: line "),
        "{}",
        &kept[..60]
    );
}

#[test]
fn a_large_log_streams_through_both_passes_intact() {
    let f = centos7_node();
    let mut log = String::with_capacity(12 << 20);
    let mut n = 0u64;
    while log.len() < 12 << 20 {
        log.push_str(&format!(
            "Nov 24 10:{:02}:00 node1 kernel: message number {n}\n",
            n % 60
        ));
        n += 1;
    }
    f.file("/var/log/messages", &log);
    assert_success(&f.collect(&[]));
    let bundle = f.bundle();
    bundle.assert_verifies();
    assert_eq!(bundle.read("files/var/log/messages"), log);
}

#[test]
fn since_keeps_only_newer_log_lines_and_skips_old_rotations() {
    let f = centos7_node();
    f.file(
        "/var/log/messages",
        "Nov 10 10:00:00 node1 kernel: old event\nNov 24 10:00:00 node1 kernel: new event\n",
    );
    // The rotated file's mtime is set into the past.
    let old = f.root.path().join("var/log/messages-20261101");
    let status = Command::new("touch")
        .args(["-d", "2026-11-01 00:00:00"])
        .arg(&old)
        .status()
        .unwrap();
    assert!(status.success());
    Command::new("touch")
        .args(["-d", "2026-11-24 12:00:00"])
        .arg(f.root.path().join("var/log/messages"))
        .status()
        .unwrap();
    assert_success(&f.collect(&["--since", "2026-11-20"]));
    let bundle = f.bundle();
    bundle.assert_verifies();
    assert_eq!(
        bundle.read("files/var/log/messages"),
        "Nov 24 10:00:00 node1 kernel: new event\n"
    );
    let rotated = bundle
        .items("messages")
        .into_iter()
        .find(|i| i["source"] == "/var/log/messages-20261101")
        .unwrap();
    assert_eq!(rotated["status"], "skipped");
    assert_eq!(bundle.index["options"]["since"], "2026-11-20T00:00:00Z");
    // Configuration files are not logs: --since leaves them whole.
    assert!(bundle.exists("files/opt/DRX/drx.conf"));
}

#[test]
fn zip_bundles_pass_unzip_and_sha256sum() {
    let f = centos7_node();
    assert_success(&f.collect(&["--format", "zip"]));
    let bundle = f.bundle();
    assert!(bundle.path.to_string_lossy().ends_with(".zip"));
    let test = Command::new("unzip")
        .arg("-t")
        .arg(&bundle.path)
        .output()
        .unwrap();
    assert!(test.status.success(), "{}", stdout(&test));
    bundle.assert_verifies();
    assert!(bundle.read("commands/lsmod.txt").contains("drbd"));
}

#[test]
fn an_output_file_path_names_the_bundle_and_its_top_directory() {
    let f = centos7_node();
    let target = f.out.path().join("case-1234.tgz");
    let output = f
        .cmd()
        .arg("--root")
        .arg(f.root.path())
        .arg("-o")
        .arg(&target)
        .output()
        .unwrap();
    assert_success(&output);
    assert!(target.exists());
    let bundle = Bundle::open(&target);
    assert!(bundle.top.ends_with("case-1234"));
    bundle.assert_verifies();
}

#[test]
fn dry_run_lists_items_and_writes_nothing() {
    let f = centos7_node();
    let output = f.collect(&["--dry-run"]);
    assert_success(&output);
    let text = stdout(&output);
    assert!(text.contains("/var/log/messages"), "{text}");
    assert!(text.contains("ip a"), "{text}");
    assert!(text.contains("estimated"), "{text}");
    assert_eq!(std::fs::read_dir(f.out.path()).unwrap().count(), 0);
}

/// `--dry-run --json` prints one JSON object (not the text), and still writes nothing.
#[test]
fn dry_run_json_prints_the_plan_as_json() {
    let f = centos7_node();
    let output = f.collect(&["--dry-run", "--json"]);
    assert_success(&output);
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", stdout(&output)));
    assert_eq!(plan["dry_run"], true);
    let items = plan["items"].as_array().unwrap();
    let messages = items
        .iter()
        .find(|i| i["kind"] == "file" && i["source"] == "/var/log/messages")
        .unwrap_or_else(|| panic!("{plan}"));
    assert!(messages["size"].as_u64().unwrap() > 0, "{plan}");
    let ip = items.iter().find(|i| i["id"] == "ip-a").unwrap();
    assert_eq!(ip["kind"], "command");
    assert_eq!(ip["argv"][0], "ip");
    assert!(plan["estimated_bytes"].as_u64().unwrap() > 0);
    assert_eq!(std::fs::read_dir(f.out.path()).unwrap().count(), 0);
}

#[test]
fn json_prints_the_result_object() {
    let f = centos7_node();
    let output = f.collect(&["--json"]);
    assert_success(&output);
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let bundle = f.bundle();
    assert_eq!(
        result["bundle"].as_str().unwrap(),
        bundle.path.to_str().unwrap()
    );
    assert_eq!(result["sha256"].as_str().unwrap().len(), 64);
    assert!(result["items"]["ok"].as_u64().unwrap() > 5);
    assert!(result["findings"].is_array());
}

#[test]
fn quiet_prints_nothing_on_success() {
    let f = centos7_node();
    let output = f.collect(&["--quiet"]);
    assert_success(&output);
    assert!(output.stdout.is_empty() && output.stderr.is_empty());
}

/// Issue 24 item 22: after the clock ran ahead (snapshots stamped in 2099) and was set right,
/// `--keep 3` keeps the three bundles written last, not the future-stamped ones: each run
/// deleted the previous present-day bundle while the clock's leftovers outranked it.
#[test]
fn keep_orders_by_write_order_not_by_the_clock_in_the_names() {
    let f = centos7_node();
    let x_sum = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";
    let future = ["20991231T230000Z", "20991231T235959Z"];
    for stamp in future {
        let name = format!("drx-collect-node1-{stamp}.tgz");
        std::fs::write(f.out.path().join(&name), "x").unwrap();
        std::fs::write(
            f.out.path().join(format!("{name}.sha256")),
            format!("{x_sum}  {name}\n"),
        )
        .unwrap();
    }
    let mut written = Vec::new();
    for _ in 0..4 {
        let output = f.collect(&["--keep", "3"]);
        assert_success(&output);
        let mut new: Vec<String> = f
            .bundles()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .filter(|n| !written.contains(n) && !future.iter().any(|s| n.contains(s)))
            .collect();
        assert_eq!(new.len(), 1, "{new:?}");
        written.push(new.remove(0));
    }
    let mut left: Vec<String> = f
        .bundles()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let mut expected = written[1..].to_vec();
    expected.sort();
    assert_eq!(left, expected, "the three written last are kept");
}

#[test]
fn keep_deletes_only_this_hosts_oldest_bundles() {
    let f = centos7_node();
    let foreign = [
        "drx-collect-node2-20200101T000000Z.tgz",
        "drx-collect-node1-notes.txt",
        "unrelated.tgz",
    ];
    for name in foreign {
        std::fs::write(f.out.path().join(name), "x").unwrap();
    }
    for old in ["20200101T000000Z", "20200102T000000Z", "20200103T000000Z"] {
        let name = format!("drx-collect-node1-{old}.tgz");
        std::fs::write(f.out.path().join(&name), "x").unwrap();
        // Bundles of ours have a sidecar that vouches for them (sha256 of "x").
        std::fs::write(
            f.out.path().join(format!("{name}.sha256")),
            format!("2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881  {name}\n"),
        )
        .unwrap();
    }
    assert_success(&f.collect(&["--keep", "2"]));
    let mut left: Vec<String> = std::fs::read_dir(f.out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("drx-collect-node1-2"))
        .collect();
    left.sort();
    assert_eq!(left.len(), 4, "{left:?}"); // two bundles with their sidecars
    assert!(left[0].starts_with("drx-collect-node1-20200103T000000Z.tgz"));
    for name in foreign {
        assert!(f.out.path().join(name).exists(), "{name} was deleted");
    }
}

#[test]
fn a_full_disk_fails_cleanly_without_a_partial_bundle() {
    let f = centos7_node();
    f.command("dmesg", "seq 1 3000000");
    // A file size limit makes writes fail like a full disk (EFBIG instead of ENOSPC).
    let script = format!(
        "trap '' XFSZ; ulimit -f 64; exec '{}' collect --root '{}' -o '{}'",
        BIN,
        f.root.path().display(),
        f.out.path().display()
    );
    let output = Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .env_clear()
        .env("PATH", f.bin.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("cannot write the bundle in"), "{message}");
    assert_eq!(message.trim().lines().count(), 1, "one line: {message}");
    assert_eq!(
        std::fs::read_dir(f.out.path()).unwrap().count(),
        0,
        "left files behind"
    );
}

#[test]
fn sigterm_stops_the_run_removes_the_temporary_file_and_kills_children() {
    let f = centos7_node();
    let marker = format!("sleep 8{}.5", std::process::id());
    f.command("lsmod", &format!("{marker} & {marker}"));
    let child = f
        .cmd()
        .arg("--root")
        .arg(f.root.path())
        .arg("-o")
        .arg(f.out.path())
        .args(["--timeout", "60s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the hung command runs, then stop the collector as cron or systemd would.
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        let found = Command::new("pgrep")
            .args(["-f", &marker])
            .output()
            .unwrap();
        if !found.stdout.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let started = Instant::now();
    let output = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        output.status.code(),
        Some(143),
        "SIGTERM exits 128 + 15, as a shell reports it"
    );
    let message = stderr(&output);
    assert!(
        message.contains("SIGTERM") && message.contains("no bundle was written"),
        "{message}"
    );
    assert_eq!(
        std::fs::read_dir(f.out.path()).unwrap().count(),
        0,
        "left files behind"
    );
    std::thread::sleep(Duration::from_millis(200));
    let survivors = Command::new("pgrep")
        .args(["-f", &marker])
        .output()
        .unwrap();
    assert!(survivors.stdout.is_empty(), "the hung command survived");
}

#[test]
fn a_bad_manifest_is_one_clear_error_naming_the_line() {
    let f = centos7_node();
    let manifest = f.out.path().join("bad.toml");
    std::fs::write(&manifest, "name = \"x\"\nos = \"linux\"\n[[item]]\nid = \"a\"\nfiles = [\"/x\"]\ncommand = [\"ls\"]\n").unwrap();
    let output = f.collect(&["-m", manifest.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("bad.toml line 3") && message.contains("both files and command"),
        "{message}"
    );
    assert_eq!(message.trim().lines().count(), 1);
    assert!(!message.contains("panicked"));

    let check = f
        .cmd()
        .args(["manifest", "check"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1));
    let check = f.cmd().args(["manifest", "check"]).output().unwrap();
    assert_success(&check);
    assert!(stdout(&check).contains("embedded linux: ok"));
}

#[test]
fn a_custom_manifest_replaces_the_embedded_one() {
    let f = centos7_node();
    let manifest = f.out.path().join("small.toml");
    std::fs::write(
        &manifest,
        "name = \"small\"\nos = \"linux\"\n[[item]]\nid = \"hosts\"\nfiles = [\"/etc/hosts\"]\n[[item]]\nid = \"kernel-modules\"\ncommand = [\"lsmod\"]\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = f
        .cmd()
        .arg("--root")
        .arg(f.root.path())
        .arg("-o")
        .arg(out.path())
        .arg("-m")
        .arg(&manifest)
        .output()
        .unwrap();
    assert_success(&output);
    let path = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "tgz"))
        .unwrap();
    let bundle = Bundle::open(&path);
    assert_eq!(bundle.index["manifest"]["name"], "small");
    assert_eq!(bundle.index["items"].as_array().unwrap().len(), 2);
    assert!(bundle.read("commands/kernel-modules.txt").contains("drbd"));
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    let f = Fixture::new();
    for args in [
        vec!["--max-file-size", "huge"],
        vec!["--timeout", "soon"],
        vec!["--since", "last tuesday"],
        vec!["--frobnicate"],
        vec!["--keep", "0"],
    ] {
        let output = f.cmd().args(&args).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(!stderr(&output).contains("panicked"));
    }
    let output = f.cmd().args(["--root", "/no/such/dir"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("/no/such/dir"));
}

#[test]
fn an_unwritable_output_directory_is_a_clear_error() {
    let f = centos7_node();
    let output = f
        .cmd()
        .arg("--root")
        .arg(f.root.path())
        .args(["-o", "/proc/drx-collect-test/"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("/proc/drx-collect-test"), "{message}");
}

#[test]
fn a_parallel_gzip_bundle_is_one_standard_tgz_for_gzip_and_python() {
    // Several MiB of log: many independent gzip members, which every reader must take as one.
    let f = centos7_node();
    let mut log = String::new();
    let mut n = 0u64;
    while log.len() < 5 << 20 {
        log.push_str(&format!(
            "Nov 24 10:00:00 node1 app[{n}]: {:x}\n",
            n.wrapping_mul(0x9e3779b97f4a7c15)
        ));
        n += 1;
    }
    f.file("/var/log/messages", &log);
    assert_success(&f.collect(&[]));
    let bundle = f.bundle();
    let gzip = Command::new("gzip")
        .arg("-t")
        .arg(&bundle.path)
        .output()
        .unwrap();
    assert!(gzip.status.success(), "gzip -t: {}", stderr(&gzip));
    let python = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg("import sys, tarfile\nwith tarfile.open(sys.argv[1], 'r:gz') as t:\n    m = t.getmember([n for n in t.getnames() if n.endswith('/files/var/log/messages')][0])\n    print(len(t.extractfile(m).read()))")
        .arg(&bundle.path)
        .output()
        .unwrap();
    assert!(
        python.status.success(),
        "python tarfile: {}",
        stderr(&python)
    );
    assert_eq!(stdout(&python).trim(), log.len().to_string());
    bundle.assert_verifies();
}

#[test]
fn total_timeout_writes_what_was_collected_and_marks_the_bundle_partial() {
    let f = centos7_node();
    let marker = format!("sleep 9{}.5", std::process::id());
    f.command("lsmod", &marker);
    let started = Instant::now();
    assert_success(&f.collect(&["--timeout", "60s", "--total-timeout", "1s"]));
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    let bundle = f.bundle();
    bundle.assert_verifies();
    assert_eq!(bundle.index["partial"], true);
    assert_eq!(bundle.status("lsmod"), "timeout");
    assert!(bundle.exists("files/etc/hostname"));
    assert!(bundle.read("SUMMARY.txt").contains("partial"));
}

#[test]
fn a_command_that_leaves_a_daemon_holding_its_output_does_not_hang_the_run() {
    // The daemon escapes the process group (setsid), so killing the group cannot reach it and
    // its copy of stdout never closes: the run must take what it has and move on.
    let f = centos7_node();
    let marker = format!("sleep 6{}.5", std::process::id());
    f.command(
        "uptime",
        &format!("echo up 3 days; setsid {marker} & exit 0"),
    );
    let started = Instant::now();
    let output = f.collect(&["--timeout", "30s"]);
    let took = started.elapsed();
    let _ = Command::new("pkill").args(["-f", &marker]).status();
    assert_success(&output);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let bundle = f.bundle();
    bundle.assert_verifies();
    assert!(bundle.read("commands/uptime.txt").contains("up 3 days"));
}

#[test]
fn unreadable_files_are_denied_and_the_run_says_to_use_root() {
    // Run as an unprivileged user (root reads everything), with a file only root may read.
    let f = centos7_node();
    f.file("/var/log/secure", "root only\n");
    // Sticky, as /tmp: an output directory anyone may write without it is refused.
    for dir in [f.root.path(), f.bin.path(), f.out.path()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    }
    let manifest = f.bin.path().join("m.toml");
    std::fs::write(
        &manifest,
        "name = \"m\"\nos = \"linux\"\n[[item]]\nid = \"secure\"\nfiles = [\"/var/log/secure\"]\n[[item]]\nid = \"hosts\"\nfiles = [\"/etc/hostname\"]\n",
    )
    .unwrap();
    std::fs::set_permissions(&manifest, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(
        f.root.path().join("var/log/secure"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    // A copy of the binary the unprivileged user can reach whatever the checkout's permissions.
    let bin = f.bin.path().join("drx-collect-copy");
    std::fs::copy(BIN, &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Another test thread that forks while the copy is still open for writing holds that fd until
    // its exec, and exec of the copy then fails with "Text file busy": try again, a bounded number
    // of times.
    let run = || {
        Command::new("/usr/bin/setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .arg("--root")
            .arg(f.root.path())
            .arg("-o")
            .arg(f.out.path())
            .arg("-m")
            .arg(&manifest)
            .env_clear()
            .env("PATH", f.bin.path())
            .output()
            .unwrap()
    };
    let mut output = run();
    for _ in 0..20 {
        if !String::from_utf8_lossy(&output.stderr).contains("Text file busy") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        output = run();
    }
    assert_success(&output);
    assert!(
        stdout(&output).contains("denied: run drx-collect as root"),
        "{}",
        stdout(&output)
    );
    let bundle = f.bundle();
    assert_eq!(bundle.status("secure"), "denied");
    assert_eq!(bundle.status("hosts"), "ok");
    let incomplete = bundle.index["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["rule"] == "COLLECT-INCOMPLETE");
    assert!(incomplete, "the gap is a finding");
}

#[test]
fn odd_file_names_still_pass_sha256sum_and_inspect() {
    let f = centos7_node();
    f.file("/etc/bsr.d/back\\slash.res", "resource odd {}\n")
        .file("/etc/bsr.d/new\nline.res", "resource odder {}\n")
        .file("/etc/bsr.d/with space.res", "resource spaced {}\n");
    assert_success(&f.collect(&[]));
    let bundle = f.bundle();
    bundle.assert_verifies();
    assert!(
        bundle.read("SHA256SUMS").contains("\\\\"),
        "escaped names use sha256sum's form"
    );
    let output = inspect(&[bundle.path.as_os_str()]);
    assert_success(&output);
}

/// Issue 17: a run is never longer than its slowest command's timeout plus a little. Shown
/// without a clock: a command hung past its own item timeout (1 s, far below `--timeout`) is
/// recorded as `timeout`; one that exits at once but leaves a child holding its output open
/// is recorded `ok` with what it printed (the pipes get a short grace, not the child's life);
/// and the run completes with both and every other item in the bundle.
#[test]
fn a_hung_command_ends_at_its_own_timeout_and_the_run_completes() {
    let f = Fixture::new();
    f.file("/etc/hosts", "127.0.0.1 localhost\n")
        .command("hangs", "sleep 300")
        .command("leaves-a-child", "echo printed; sleep 300 &");
    let manifest = f.bin.path().join("timeouts.toml");
    std::fs::write(
        &manifest,
        "name = \"t\"\nos = \"linux\"\n\
         [[item]]\nid = \"hangs\"\ncommand = [\"hangs\"]\ntimeout = \"1s\"\n\
         [[item]]\nid = \"leaves-a-child\"\ncommand = [\"leaves-a-child\"]\ntimeout = \"1s\"\n\
         [[item]]\nid = \"hosts\"\nfiles = [\"/etc/hosts\"]\n",
    )
    .unwrap();
    let output = f.collect(&["-m", manifest.to_str().unwrap(), "--timeout", "600s"]);
    assert_success(&output);
    let bundle = f.bundle();
    bundle.assert_verifies();
    assert_eq!(bundle.status("hangs"), "timeout");
    assert!(bundle.items("hangs")[0]["error"]
        .as_str()
        .unwrap()
        .contains("killed"));
    assert_eq!(bundle.status("leaves-a-child"), "ok");
    assert!(bundle
        .read("commands/leaves-a-child.txt")
        .contains("printed"));
    assert_eq!(bundle.status("hosts"), "ok");
    assert_eq!(bundle.index["partial"], false);
}

/// Regression: procfs files say size 0. They were streamed with the cap (`--max-file-size`, 64
/// MiB) as their announced length and, "shrunk" below it, padded with newlines to 64 MiB each:
/// a live node's bundle held 192 MiB of newlines, and the leak check read them all back. Live
/// /proc (no `--root`): the stored file is what /proc says, and the item is plain `ok`.
#[test]
fn a_live_procfs_file_longer_than_the_cap_is_truncated_not_ok() {
    let f = Fixture::new();
    let manifest = f.bin.path().join("proc.toml");
    std::fs::write(
        &manifest,
        "name = \"t\"\nos = \"linux\"\n[[item]]\nid = \"cpuinfo\"\nfiles = [\"/proc/cpuinfo\"]\n",
    )
    .unwrap();
    let output = f
        .cmd()
        .args(["collect", "--max-file-size", "64", "-m"])
        .arg(&manifest)
        .arg("-o")
        .arg(f.out.path())
        .output()
        .unwrap();
    assert_success(&output);
    let bundle = f.bundle();
    bundle.assert_verifies();
    assert_eq!(bundle.read("files/proc/cpuinfo").len(), 64);
    let item = &bundle.items("cpuinfo")[0];
    assert_eq!(item["status"], "truncated", "{item}");
}

#[test]
fn regression_a_live_procfs_file_is_stored_as_it_reads_not_padded_to_the_cap() {
    let f = Fixture::new();
    let manifest = f.bin.path().join("proc.toml");
    std::fs::write(
        &manifest,
        "name = \"t\"\nos = \"linux\"\n[[item]]\nid = \"proc-version\"\nfiles = [\"/proc/version\"]\n",
    )
    .unwrap();
    let output = f
        .cmd()
        .arg("collect")
        .arg("-m")
        .arg(&manifest)
        .arg("-o")
        .arg(f.out.path())
        .output()
        .unwrap();
    assert_success(&output);
    let live = std::fs::read_to_string("/proc/version").unwrap();
    let bundle = f.bundle();
    bundle.assert_verifies();
    let stored = bundle.read("files/proc/version");
    assert_eq!(stored.len(), live.len(), "stored {} bytes", stored.len());
    assert_eq!(stored.trim_end(), live.trim_end());
    let item = &bundle.items("proc-version")[0];
    assert_eq!(item["status"], "ok");
    assert!(item["error"].is_null(), "{}", item["error"]);
}

/// `when_running` through the binary and the embedded manifest: the `firewall-cmd --list-*`
/// items run only when the root's `proc/` shows a firewalld process (here the Python script as
/// CentOS 7 runs it); `--state`, the rules' evidence of a stopped daemon, runs either way.
#[test]
fn firewalld_lists_are_collected_only_while_firewalld_runs() {
    let f = centos7_node();
    f.command(
        "firewall-cmd",
        "case \"$*\" in --state) echo running ;; *) echo \"public (active)\"; echo \"  ports: 7789/tcp\" ;; esac",
    );
    assert_success(&f.collect(&[]));
    let stopped = f.bundle();
    assert_eq!(stopped.items("firewalld-state")[0]["status"], "ok");
    for id in [
        "firewalld-list-all",
        "firewalld-list-all-zones",
        "firewalld-permanent-list-all",
    ] {
        let item = &stopped.items(id)[0];
        assert_eq!(item["status"], "skipped", "{item}");
        assert!(
            item["error"]
                .as_str()
                .unwrap()
                .contains("firewalld is not running"),
            "{item}"
        );
    }
    std::fs::remove_file(&stopped.path).unwrap();
    std::fs::remove_file(
        stopped
            .path
            .with_file_name(format!("{}.sha256", stopped.file_name())),
    )
    .unwrap();

    f.file("/proc/812/comm", "python\n").file(
        "/proc/812/cmdline",
        b"/usr/bin/python\0-Es\0/usr/sbin/firewalld\0--nofork\0--nopid\0".as_slice(),
    );
    assert_success(&f.collect(&[]));
    let running = f.bundle();
    running.assert_verifies();
    assert_eq!(running.items("firewalld-list-all")[0]["status"], "ok");
    assert!(running
        .read("commands/firewalld-list-all.txt")
        .contains("7789/tcp"));
}

/// `-o` is a directory or a bundle's file name (SPEC §2): a file-like name without a bundle's
/// extension is refused (exit 2) instead of becoming a directory, and a missing parent is an
/// error (exit 1) unless --mkdir; --peer's directory gets the same checks.
#[test]
fn output_paths_that_look_like_files_and_missing_parents_are_refused() {
    let f = Fixture::new();
    let run = |output: &std::path::Path, extra: &[&str]| {
        f.cmd()
            .arg("collect")
            .arg("--root")
            .arg(f.root.path())
            .arg("--quiet")
            .arg("-o")
            .arg(output)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = f.out.path();
    for name in ["x.tar", "bundle.tar.bz2", "x.gz"] {
        let output = run(&out.join(name), &[]);
        assert_eq!(output.status.code(), Some(2), "{name}: {}", stderr(&output));
        let err = stderr(&output);
        assert!(
            err.contains(name) && err.contains(".tgz, .tar.gz or .zip"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!out.join(name).exists(), "{name} was created");
    }
    // A missing parent: one sentence, exit 1, nothing made.
    for target in [out.join("no/such/x.tgz"), out.join("no/such/dir")] {
        let output = run(&target, &[]);
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let err = stderr(&output);
        assert!(
            err.contains("does not exist") && err.contains("--mkdir"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!out.join("no").exists());
    }
    // --mkdir makes them; a directory whose parent exists is made without it; a dotted
    // directory name is a directory when it exists or ends with /.
    assert_success(&run(&out.join("made/deep/x.tgz"), &["--mkdir"]));
    assert!(out.join("made/deep/x.tgz").is_file());
    assert_success(&run(&out.join("made/deeper/dir"), &["--mkdir"]));
    assert!(out.join("made/deeper/dir").is_dir());
    assert_success(&run(&out.join("fresh"), &[]));
    assert!(out.join("fresh").is_dir());
    std::fs::create_dir(out.join("v1.2")).unwrap();
    assert_success(&run(&out.join("v1.2"), &[]));
    let slash = format!("{}/v2.0/", out.display());
    assert_success(&run(std::path::Path::new(&slash), &[]));
    assert!(out.join("v2.0").is_dir());
    // --peer: its --output is a directory, with the same checks (refused before any peer is
    // asked).
    let output = run(&out.join("case.tar"), &["--peer", "root@127.0.0.1"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let output = run(&out.join("none/dir"), &["--peer", "root@127.0.0.1"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("--mkdir"), "{}", stderr(&output));
}

/// A command that fails says why in its first stderr line: the item's error carries it, and
/// inspect shows it; a refusal for lack of privilege (EACCES/EPERM's words) is `denied`.
#[test]
fn a_failed_commands_first_stderr_line_is_shown_and_privilege_refusals_are_denied() {
    let f = centos7_node();
    f.command(
        "lsmod",
        "echo '' >&2; echo 'lsmod: ERROR: could not open /proc/modules: bad thing' >&2; echo 'second line' >&2; exit 1",
    )
    .command(
        "uptime",
        "echo 'uptime: cannot read /proc/uptime: Operation not permitted' >&2; exit 1",
    );
    assert_success(&f.collect(&["--quiet"]));
    let bundle = f.bundle();
    assert_eq!(bundle.status("lsmod"), "failed");
    assert_eq!(bundle.status("uptime"), "denied");
    let lsmod = &bundle.items("lsmod")[0];
    assert_eq!(
        lsmod["error"],
        "exited with status 1: lsmod: ERROR: could not open /proc/modules: bad thing"
    );
    let shown = f.cmd().arg("inspect").arg(&bundle.path).output().unwrap();
    let text = stdout(&shown);
    assert!(
        text.contains(
            "exited with status 1: lsmod: ERROR: could not open /proc/modules: bad thing"
        ),
        "{text}"
    );
    assert!(!text.contains("second line"), "{text}");
    assert!(text.contains("denied"), "{text}");
}

/// A run without root warns once on stderr (en and ko), not with --root (a copy) or --quiet;
/// a file the user may not read is `denied`. As root, the test runs the binary as nobody.
#[cfg(unix)]
#[test]
fn a_run_without_root_warns_once_and_unreadable_items_are_denied() {
    let f = centos7_node();
    f.file("/etc/bsr.d/secret.res", "resource r9 {\n}\n");
    let secret = f.root.path().join("etc/bsr.d/secret.res");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    // Everyone may enter the fixture and write the output (sticky, as /tmp).
    for dir in [f.root.path(), f.out.path()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    }
    let as_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap();
    let run = |args: &[&str], lang: &str| {
        let mut cmd = if as_root {
            let mut c = std::process::Command::new("/usr/bin/setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
            c
        } else {
            std::process::Command::new(BIN)
        };
        cmd.env_clear()
            .env("PATH", f.bin.path())
            .env("LANG", lang)
            .stdin(std::process::Stdio::null())
            .arg("collect")
            .args(args)
            .output()
            .unwrap()
    };
    let out = f.out.path().to_str().unwrap();
    let warned = |o: &std::process::Output| {
        stderr(o)
            .lines()
            .filter(|l| l.starts_with("drx-collect: warning: ") && l.contains("root"))
            .count()
    };
    let plain = run(&["--dry-run", "-o", out], "C");
    assert_success(&plain);
    assert_eq!(warned(&plain), 1, "{}", stderr(&plain));
    let ko = run(&["--dry-run", "-o", out], "ko_KR.UTF-8");
    assert!(stderr(&ko).contains("root 권한 없이"), "{}", stderr(&ko));
    let quiet = run(&["--dry-run", "--quiet", "-o", out], "C");
    assert_eq!(warned(&quiet), 0, "{}", stderr(&quiet));
    let root = f.root.path().to_str().unwrap();
    let copy = run(&["--root", root, "--quiet", "-o", out], "C");
    assert_success(&copy);
    assert_eq!(warned(&copy), 0, "{}", stderr(&copy));
    if as_root {
        let bundle = f.bundle();
        let items = bundle.items("bsr-d");
        let denied = items
            .iter()
            .find(|i| {
                i["source"]
                    .as_str()
                    .is_some_and(|s| s.ends_with("secret.res"))
            })
            .unwrap_or_else(|| panic!("{items:?}"));
        assert_eq!(denied["status"], "denied", "{denied}");
    }
}

/// Ctrl-C during collect: one sentence, exit 130 (as a shell reports SIGINT), no bundle.
#[cfg(unix)]
#[test]
fn ctrl_c_during_collect_exits_130() {
    let f = centos7_node();
    f.command("lsmod", "sleep 30");
    let child = f
        .cmd()
        .arg("collect")
        .arg("--root")
        .arg(f.root.path())
        .arg("-o")
        .arg(f.out.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded wait until the slow command runs (its process exists).
    let mut waited = 0;
    let running = || {
        std::process::Command::new("pgrep")
            .args(["-f", "sleep 30"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    while !running() && waited < 300 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        waited += 1;
    }
    // SAFETY: sending a signal to our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("stopped by Ctrl-C (SIGINT)"), "{err}");
    assert_eq!(
        err.lines().filter(|l| !l.trim().is_empty()).count(),
        1,
        "{err}"
    );
    assert!(f.bundles().is_empty());
}
