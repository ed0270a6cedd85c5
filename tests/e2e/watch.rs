//! `drx-collect watch`: the samplers against a sysroot whose /proc/net/tcp and logs change while
//! it watches, a stand-in `drbdsetup events2` replaying real events2 output
//! (tests/realworld/events2/), Ctrl-C, and the bundle with its series and WATCH-* findings.
use crate::util::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const REAL_STANDALONE: &str =
    include_str!("../realworld/events2/linstor-server-connection-standalone.txt");
const REAL_KERNEL: &str = include_str!("../realworld/events2/kernel-drbd-issue-106.txt");

const RES: &str = "resource r0 {\n  on node1 { device /dev/drbd0; disk /dev/sdb1; address 10.0.0.1:7789; meta-disk internal; }\n  on node2 { device /dev/drbd0; disk /dev/sdb1; address 10.0.0.2:7789; meta-disk internal; }\n}\n";
const TCP_HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
/// 10.0.0.1:7789 LISTEN, and 10.0.0.1:40000 → 10.0.0.2:7789 SYN_SENT (the kernel's layout).
const TCP_SYN_SENT: &str = "   0: 0100000A:1E6D 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0\n   1: 0100000A:9C40 0200000A:1E6D 02 00000001:00000000 01:00000100 00000002     0        0 1002 2 0000000000000000 200 0 0 1 7\n";
/// The same attempt from another local port, still SYN_SENT.
const TCP_SYN_SENT_AGAIN: &str = "   0: 0100000A:1E6D 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0\n   1: 0100000A:9C42 0200000A:1E6D 02 00000001:00000000 01:00000100 00000002     0        0 1003 2 0000000000000000 200 0 0 1 7\n";

/// A sysroot with one resource and its sockets, and a stand-in `drbdsetup events2` that prints
/// the initial dump of `events`, waits `pause`, prints the rest, then stays (like the real one)
/// until it is killed; it leaves its pid in `pid_file`.
fn fixture(events: &str, pause: &str, pid_file: &Path) -> Fixture {
    let fixture = Fixture::new();
    fixture
        .file("/etc/drbd.d/r0.res", RES)
        .file("/proc/net/tcp", format!("{TCP_HEADER}{TCP_SYN_SENT}"))
        .file(
            "/var/log/messages",
            "Dec  7 10:00:00 node1 kernel: old line drbd\n",
        );
    let data = fixture.bin.path().join(".events2");
    std::fs::write(&data, events).unwrap();
    fixture.command(
        "drbdsetup",
        &format!(
            "[ \"$1\" = events2 ] || exit 1\necho $$ > '{pid}'\nsed -n '1,/^exists -$/p' '{data}'\nsleep {pause}\nsed '1,/^exists -$/d' '{data}'\nexec sleep 60",
            pid = pid_file.display(),
            data = data.display()
        ),
    );
    fixture
}

fn watch_cmd(fixture: &Fixture, args: &[&str]) -> Command {
    let mut cmd = fixture.cmd();
    cmd.arg("watch")
        .arg("--root")
        .arg(fixture.root.path())
        .arg("-o")
        .arg(fixture.out.path())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn series_of(bundle: &Bundle) -> Vec<serde_json::Value> {
    bundle
        .read("watch/series.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn pid_gone(pid_file: &Path) -> bool {
    let pid = std::fs::read_to_string(pid_file).unwrap();
    !Path::new(&format!("/proc/{}", pid.trim())).exists()
}

#[test]
fn watch_records_the_series_and_finds_what_only_a_series_shows() {
    let pid_file = tempfile::NamedTempFile::new().unwrap();
    let fixture = fixture(REAL_STANDALONE, "1", pid_file.path());
    let child = watch_cmd(&fixture, &["--for", "3s"]).spawn().unwrap();
    // While it watches: the connection attempt is repeated from another port, and the kernel
    // log grows by real DRBD lines.
    std::thread::sleep(Duration::from_millis(1200));
    fixture.file("/proc/net/tcp", format!("{TCP_HEADER}{TCP_SYN_SENT_AGAIN}"));
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(fixture.root.path().join("var/log/messages"))
        .unwrap();
    std::io::Write::write_all(&mut log, REAL_KERNEL.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_success(&output);
    let err = stderr(&output);
    // Not a terminal: one plain line per change.
    assert!(
        err.contains("connection rsc0 node-b connection:StandAlone"),
        "{err}"
    );
    assert!(
        err.contains("tcp 10.0.0.1:40000 → 10.0.0.2:7789 SYN_SENT"),
        "{err}"
    );

    let bundle = fixture.bundle();
    bundle.assert_verifies();
    let series = series_of(&bundle);
    assert_eq!(series[0]["kind"], "start");
    assert_eq!(series[0]["schema"], "drx-collect/watch/v1");
    assert_eq!(series[0]["ports"], serde_json::json!([7789]));
    assert_eq!(series.last().unwrap()["kind"], "end");
    let has = |kind: &str, field: &str, value: &str| {
        series
            .iter()
            .any(|r| r["kind"] == kind && r[field].as_str().is_some_and(|v| v.contains(value)))
    };
    assert!(has("repl", "value", "Connected"));
    assert!(has("repl", "value", "StandAlone"));
    assert!(has("socket", "remote", "10.0.0.2:7789"));
    assert!(
        has("socket", "state", "gone"),
        "the first attempt went away"
    );
    assert!(has("kernel", "line", "conn( Unconnected -> Connecting )"));
    assert!(
        !has("kernel", "line", "old line"),
        "only what the log gained while watched"
    );
    // The StandAlone change came after the initial dump, a second later.
    let ms_of = |value: &str| {
        series
            .iter()
            .find(|r| r["kind"] == "repl" && r["value"] == value)
            .and_then(|r| r["ms"].as_u64())
            .unwrap()
    };
    assert!(ms_of("StandAlone") >= ms_of("Connected") + 800);

    let rules = rule_ids(&bundle.index["findings"]);
    assert!(rules.contains(&"WATCH-STANDALONE"), "{rules:?}");
    assert!(rules.contains(&"WATCH-SYN-SENT"), "{rules:?}");
    assert!(!rules.contains(&"WATCH-GAP"), "{rules:?}");
    let items = bundle.items("watch-series");
    assert_eq!(items[0]["path"], "watch/series.jsonl");

    // inspect reads the series again with its own rules.
    let inspected = Command::new(BIN)
        .env_clear()
        .env("LANG", "C")
        .args(["inspect", "--json"])
        .arg(&bundle.path)
        .output()
        .unwrap();
    assert_success(&inspected);
    let report: serde_json::Value = serde_json::from_slice(&inspected.stdout).unwrap();
    let rules = rule_ids(&report["findings"]);
    assert!(rules.contains(&"WATCH-STANDALONE"), "{rules:?}");
    // The events2 stream was killed with its process group.
    assert!(pid_gone(pid_file.path()));
}

#[test]
fn ctrl_c_ends_the_watch_and_the_bundle_is_still_written() {
    let pid_file = tempfile::NamedTempFile::new().unwrap();
    let fixture = fixture(REAL_STANDALONE, "30", pid_file.path());
    let child = watch_cmd(&fixture, &[]).spawn().unwrap();
    // Bounded wait for the stream to start, then Ctrl-C.
    let started = Instant::now();
    while std::fs::read_to_string(pid_file.path())
        .unwrap_or_default()
        .trim()
        .is_empty()
        && started.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert_success(&output);
    let bundle = fixture.bundle();
    bundle.assert_verifies();
    let series = series_of(&bundle);
    let end = series.last().unwrap();
    assert_eq!(end["kind"], "end");
    assert!(end["reason"].as_str().unwrap().contains("Ctrl-C"), "{end}");
    // Only the initial dump came before Ctrl-C: Connected, and no StandAlone.
    assert!(series.iter().any(|r| r["value"] == "Connected"));
    assert!(!series.iter().any(|r| r["value"] == "StandAlone"));
    assert!(pid_gone(pid_file.path()));
}

#[test]
fn without_events2_the_series_says_so_and_a_missing_proc_is_a_gap() {
    let fixture = Fixture::new();
    fixture.file("/etc/drbd.d/r0.res", RES);
    let output = watch_cmd(&fixture, &["--for", "1s", "-q"])
        .output()
        .unwrap();
    assert_success(&output);
    let bundle = fixture.bundle();
    let series = series_of(&bundle);
    let samplers = series[0]["samplers"].to_string();
    assert!(samplers.contains("replication: none"), "{samplers}");
    let gap = series
        .iter()
        .find(|r| r["kind"] == "gap" && r["sampler"] == "sockets")
        .expect("a gap for the unreadable socket tables");
    assert!(gap["reason"].as_str().unwrap().contains("proc/net/tcp"));
    assert!(gap["for_ms"].as_u64().unwrap() >= 900, "{gap}");
    assert!(rule_ids(&bundle.index["findings"]).contains(&"WATCH-GAP"));
}

#[test]
fn watch_usage_errors_exit_2() {
    let fixture = Fixture::new();
    for args in [
        &["--interval", "1ms"][..],
        &["--peer", "node2"][..],
        &["--dry-run"][..],
        &["--for", "soon"][..],
    ] {
        let output = watch_cmd(&fixture, args).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

/// For real, in two network namespaces of the test's own (TEST-NET-1 addresses that exist only
/// inside them): a real TCP listener in the peer's namespace, a client in ours that connects,
/// closes, and connects again three times (the peer comes and goes), then a DROP rule in the
/// peer's namespace that leaves the next attempt in SYN_SENT. `watch` runs in our namespace and
/// reads its /proc/net/tcp (the fixture's `proc/net` is a link to the live one). Needs root and
/// iptables: `#[ignore]`d here, run by scripts/test-watch.sh.
#[test]
#[ignore = "needs root and network namespaces: scripts/test-watch.sh"]
fn watch_in_network_namespaces_sees_the_flaps_and_the_dropped_syn() {
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::os::unix::io::AsRawFd;
    extern "C" {
        fn setns(fd: i32, nstype: i32) -> i32;
        fn geteuid() -> u32;
    }
    const CLONE_NEWNET: i32 = 0x4000_0000;
    assert_eq!(
        unsafe { geteuid() },
        0,
        "needs root: run scripts/test-watch.sh as root"
    );
    let tag = format!("dxw{}", std::process::id() % 100_000);
    let (a, b) = (format!("{tag}a"), format!("{tag}b"));
    let ip = |args: &[&str]| {
        let status = Command::new("ip").args(args).status().unwrap();
        assert!(status.success(), "ip {args:?}");
    };
    struct Namespaces(String, String);
    impl Drop for Namespaces {
        fn drop(&mut self) {
            for ns in [&self.0, &self.1] {
                let _ = Command::new("ip").args(["netns", "del", ns]).status();
            }
        }
    }
    ip(&["netns", "add", &a]);
    ip(&["netns", "add", &b]);
    let _cleanup = Namespaces(a.clone(), b.clone());
    let (va, vb) = (format!("{tag}va"), format!("{tag}vb"));
    ip(&[
        "link", "add", &va, "netns", &a, "type", "veth", "peer", "name", &vb, "netns", &b,
    ]);
    ip(&["-n", &a, "addr", "add", "192.0.2.1/30", "dev", &va]);
    ip(&["-n", &b, "addr", "add", "192.0.2.2/30", "dev", &vb]);
    for (ns, dev) in [(&a, &va), (&b, &vb)] {
        ip(&["-n", ns, "link", "set", "lo", "up"]);
        ip(&["-n", ns, "link", "set", dev, "up"]);
    }
    // A thread enters a namespace for the sockets it makes from then on.
    let enter = |ns: &str| {
        let file = std::fs::File::open(format!("/var/run/netns/{ns}")).unwrap();
        assert_eq!(
            unsafe { setns(file.as_raw_fd(), CLONE_NEWNET) },
            0,
            "setns {ns}"
        );
    };
    let peer: SocketAddr = "192.0.2.2:7789".parse().unwrap();
    let b_name = b.clone();
    let listener = std::thread::spawn(move || {
        enter(&b_name);
        let listener = TcpListener::bind(peer).unwrap();
        listener.set_nonblocking(true).unwrap();
        let until = Instant::now() + Duration::from_secs(20);
        let mut held = Vec::new();
        while Instant::now() < until {
            if let Ok((stream, _)) = listener.accept() {
                held.push(stream);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });

    let fixture = Fixture::new();
    fixture.file(
        "/etc/drbd.d/r0.res",
        "resource r0 {\n  on node1 { device /dev/drbd0; disk /dev/sdb1; address 192.0.2.1:7789; meta-disk internal; }\n  on node2 { device /dev/drbd0; disk /dev/sdb1; address 192.0.2.2:7789; meta-disk internal; }\n}\n",
    );
    std::fs::create_dir_all(fixture.root.path().join("proc")).unwrap();
    std::os::unix::fs::symlink("/proc/net", fixture.root.path().join("proc/net")).unwrap();
    let mut cmd = Command::new("ip");
    // The watch itself with a clean environment: PATH holds only the (empty) stand-ins.
    cmd.args(["netns", "exec", &a, "env", "-i", "LANG=C"])
        .arg(format!("PATH={}", fixture.bin.path().display()))
        .args([BIN, "watch", "--for", "7s", "--root"])
        .arg(fixture.root.path())
        .arg("-o")
        .arg(fixture.out.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let watcher = cmd.spawn().unwrap();

    let a_name = a.clone();
    let b_name = b.clone();
    let client = std::thread::spawn(move || {
        enter(&a_name);
        std::thread::sleep(Duration::from_millis(800));
        for _ in 0..3 {
            let stream = TcpStream::connect_timeout(&peer, Duration::from_secs(2)).unwrap();
            std::thread::sleep(Duration::from_millis(600));
            drop(stream);
            std::thread::sleep(Duration::from_millis(400));
        }
        let status = Command::new("ip")
            .args([
                "netns", "exec", &b_name, "iptables", "-A", "INPUT", "-p", "tcp",
            ])
            .args(["--dport", "7789", "-j", "DROP"])
            .status()
            .unwrap();
        assert!(status.success(), "iptables in the peer's namespace");
        // The SYN is dropped: the attempt stays in SYN_SENT until it gives up.
        assert!(TcpStream::connect_timeout(&peer, Duration::from_secs(2)).is_err());
    });
    client.join().unwrap();
    let output = watcher.wait_with_output().unwrap();
    assert_success(&output);
    drop(listener);

    let bundle = fixture.bundle();
    let series = series_of(&bundle);
    let states: Vec<String> = series
        .iter()
        .filter(|r| r["kind"] == "socket" && r["remote"] == "192.0.2.2:7789")
        .map(|r| r["state"].as_str().unwrap().to_string())
        .collect();
    assert!(
        states.iter().filter(|s| *s == "ESTABLISHED").count() >= 3,
        "{states:?}"
    );
    assert!(states.contains(&"SYN_SENT".to_string()), "{states:?}");
    let rules = rule_ids(&bundle.index["findings"]);
    assert!(rules.contains(&"WATCH-FLAPPING"), "{rules:?}");
    assert!(rules.contains(&"WATCH-SYN-SENT"), "{rules:?}");
}

fn record_cmd(fixture: &Fixture, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = fixture.cmd();
    cmd.arg("record")
        .arg("--dir")
        .arg(dir)
        .arg("--root")
        .arg(fixture.root.path())
        .arg("-o")
        .arg(fixture.out.path())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

#[test]
fn record_freezes_the_window_around_a_standalone_into_a_bundle() {
    let pid_file = tempfile::NamedTempFile::new().unwrap();
    let fixture = fixture(REAL_STANDALONE, "1", pid_file.path());
    let dir = tempfile::tempdir().unwrap();
    let output = record_cmd(
        &fixture,
        dir.path(),
        &["--for", "4s", "--after", "1s", "--ring", "1MiB"],
    )
    .output()
    .unwrap();
    assert_success(&output);
    let bundle = fixture.bundle();
    bundle.assert_verifies();
    let series = series_of(&bundle);
    assert_eq!(series[0]["kind"], "start");
    let trigger = series
        .iter()
        .find(|r| r["kind"] == "trigger")
        .expect("the trigger is in the frozen window");
    assert!(
        trigger["reason"].as_str().unwrap().contains("StandAlone"),
        "{trigger}"
    );
    assert!(
        series.iter().any(|r| r["value"] == "Connected"),
        "the time before"
    );
    assert!(series.last().unwrap()["reason"]
        .as_str()
        .unwrap()
        .contains("frozen"));
    assert!(rule_ids(&bundle.index["findings"]).contains(&"WATCH-STANDALONE"));
    assert!(pid_gone(pid_file.path()));
}

#[test]
fn record_killed_and_restarted_records_the_gap_and_freezes_on_request() {
    let pid_file = tempfile::NamedTempFile::new().unwrap();
    let fixture = fixture(REAL_STANDALONE, "30", pid_file.path());
    let dir = tempfile::tempdir().unwrap();
    let mut first = record_cmd(&fixture, dir.path(), &["--for", "60s"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    first.kill().unwrap(); // SIGKILL: nothing can be cleaned up
    first.wait().unwrap();
    // Its events2 stand-in outlived it (a kill -9 kills no group); the test ends it.
    let orphan = std::fs::read_to_string(pid_file.path()).unwrap();
    let _ = Command::new("kill").args(["-9", orphan.trim()]).status();
    let killed_at = Instant::now();
    std::thread::sleep(Duration::from_millis(700));
    let second = record_cmd(&fixture, dir.path(), &["--for", "3s", "--after", "0s"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let ask = record_cmd(&fixture, dir.path(), &["--freeze"])
        .output()
        .unwrap();
    assert_success(&ask);
    let output = second.wait_with_output().unwrap();
    assert_success(&output);
    assert!(killed_at.elapsed() < Duration::from_secs(30));
    let bundle = fixture.bundle();
    let series = series_of(&bundle);
    let gap = series
        .iter()
        .find(|r| r["kind"] == "gap" && r["sampler"] == "recorder")
        .expect("the time the recorder was dead is a gap");
    assert!(gap["for_ms"].as_u64().unwrap() >= 500, "{gap}");
    assert!(series
        .iter()
        .any(|r| r["kind"] == "trigger" && r["reason"] == "record --freeze"));
    assert!(rule_ids(&bundle.index["findings"]).contains(&"WATCH-GAP"));
}

#[test]
fn schedule_install_record_writes_the_recorders_service_and_remove_deletes_it() {
    let units = tempfile::tempdir().unwrap();
    let init = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .env_clear()
            .env("LANG", "C")
            .arg("schedule")
            .args(args)
            .arg("--unit-dir")
            .arg(units.path())
            .arg("--init-dir")
            .arg(init.path())
            .arg("--output")
            .arg(out.path())
            .output()
            .unwrap()
    };
    let installed = run(&["install", "--record", "--systemd", "--keep", "5"]);
    assert_success(&installed);
    let unit = std::fs::read_to_string(units.path().join("drx-collect-record.service")).unwrap();
    let exec = unit.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
    assert!(
        exec.contains(" record --quiet --keep 5 --output "),
        "{exec}"
    );
    assert!(unit.contains("Restart=always"));
    // The snapshots' units are not touched.
    assert!(!units.path().join("drx-collect.timer").exists());
    assert_success(&run(&["remove", "--record", "--systemd"]));
    assert!(!units.path().join("drx-collect-record.service").exists());

    // Without --systemd: a SysV init script (CentOS 6), executable, with chkconfig's header.
    let script_path = init.path().join("drx-collect-record");
    let status = run(&["status", "--record"]);
    assert_success(&status);
    assert!(
        stdout(&status).contains("recorder: not installed"),
        "{}",
        stdout(&status)
    );
    assert_success(&run(&["install", "--record", "--keep", "5"]));
    let script = std::fs::read_to_string(&script_path).unwrap();
    assert!(script.contains("\n# chkconfig: 2345 99 01\n"), "{script}");
    assert!(script.contains("PIDFILE=/var/run/drx-collect-record.pid"));
    let start = script
        .lines()
        .find(|l| l.contains("nice -n 19 $IDLE "))
        .unwrap();
    assert!(
        start.contains(" record --quiet --keep 5 --output "),
        "{start}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&script_path)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    // sh reads it, and `status` says "not running" with LSB's exit code 3.
    let syntax = Command::new("sh")
        .arg("-n")
        .arg(&script_path)
        .output()
        .unwrap();
    assert_success(&syntax);
    let not_running = Command::new("sh")
        .arg(&script_path)
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(
        not_running.status.code(),
        Some(3),
        "{}",
        stdout(&not_running)
    );
    let status = run(&["status", "--record"]);
    assert!(
        stdout(&status).contains("recorder: installed"),
        "{}",
        stdout(&status)
    );
    // A script of someone else's is left alone.
    std::fs::write(&script_path, "#!/bin/sh\n# theirs\n").unwrap();
    assert_eq!(run(&["install", "--record"]).status.code(), Some(1));
    assert_eq!(run(&["remove", "--record"]).status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(&script_path).unwrap(),
        "#!/bin/sh\n# theirs\n"
    );
    std::fs::remove_file(&script_path).unwrap();
    assert_success(&run(&["install", "--record"]));
    assert_success(&run(&["remove", "--record"]));
    assert!(!script_path.exists());
}

/// A full disk under the ring: a tmpfs of the test's own, filled while the recorder writes
/// (a stand-in events2 that changes state every 100 ms keeps records coming), then freed. The
/// records that could not be written are counted in one `ring` gap. Needs root (mount):
/// `#[ignore]`d here, run by scripts/test-watch.sh.
#[test]
#[ignore = "needs root to mount a small tmpfs: scripts/test-watch.sh"]
fn record_on_a_full_disk_records_the_loss_as_a_gap() {
    let fixture = Fixture::new();
    fixture.file("/etc/drbd.d/r0.res", RES);
    fixture.command(
        "drbdsetup",
        "[ \"$1\" = events2 ] || exit 1\ni=0\nwhile [ $i -lt 100 ]; do\n  echo \"change connection name:r0 peer-node-id:1 conn-name:node2 connection:Connecting\"\n  sleep 0.1\n  echo \"change connection name:r0 peer-node-id:1 conn-name:node2 connection:Unconnected\"\n  sleep 0.1\n  i=$((i+1))\ndone",
    );
    let mnt = tempfile::tempdir().unwrap();
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
        .arg(mnt.path())
        .status()
        .unwrap();
    assert!(status.success(), "mount a tmpfs (needs root)");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mnt.path().to_path_buf());
    let dir = mnt.path().join("rec");
    let child = record_cmd(
        &fixture,
        &dir,
        &[
            "--for",
            "5s",
            "--after",
            "10m",
            "--ring",
            "1MiB",
            "--interval",
            "100ms",
        ],
    )
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    // Fill what is left of the tmpfs (dd stops at ENOSPC).
    let filler = mnt.path().join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=4k"])
        .arg(format!("of={}", filler.display()))
        .stderr(Stdio::null())
        .status();
    // Long enough to need more than the page the segment already has (tmpfs allocates pages).
    std::thread::sleep(Duration::from_millis(3500));
    std::fs::remove_file(&filler).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_success(&output);
    let mut text = String::new();
    for entry in std::fs::read_dir(dir.join("ring")).unwrap() {
        text.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    let gap = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|r| r["kind"] == "gap" && r["sampler"] == "ring")
        .unwrap_or_else(|| panic!("no ring gap in:\n{text}"));
    assert!(gap["lost"].as_u64().unwrap() > 0, "{gap}");
    assert!(gap["reason"].as_str().unwrap().contains("disk full"));
}

/// Issue 27 item 3: `inspect` says what a frozen bundle's series holds (span, records, the
/// trigger and the window around it), the HTML report draws it as lanes per node with the
/// trigger and the windows, and `diff` of two frozen bundles compares them as any two bundles.
#[test]
fn inspect_html_and_diff_read_the_series_of_frozen_bundles() {
    let pid_file = tempfile::NamedTempFile::new().unwrap();
    let fixture = fixture(REAL_STANDALONE, "1", pid_file.path());
    let dir = tempfile::tempdir().unwrap();
    let mut bundles = Vec::new();
    for _ in 0..2 {
        let output = record_cmd(
            &fixture,
            dir.path(),
            &["--for", "3s", "--after", "1s", "--ring", "1MiB"],
        )
        .output()
        .unwrap();
        assert_success(&output);
        let new = fixture
            .bundles()
            .into_iter()
            .find(|p| !bundles.contains(p))
            .expect("a frozen bundle");
        bundles.push(new);
        std::thread::sleep(Duration::from_millis(1100));
    }
    let inspect = |args: &[&str]| {
        Command::new(BIN)
            .env_clear()
            .env("LANG", "C")
            .arg("inspect")
            .args(args)
            .arg(&bundles[0])
            .output()
            .unwrap()
    };
    let text = inspect(&[]);
    let out = stdout(&text);
    let series_line = out
        .lines()
        .find(|l| l.trim_start().starts_with("series "))
        .unwrap_or_else(|| panic!("no series line: {out}"));
    assert!(series_line.contains(" records ("), "{series_line}");
    assert!(series_line.contains(" repl"), "{series_line}");
    let trigger_line = out
        .lines()
        .find(|l| l.trim_start().starts_with("trigger "))
        .unwrap_or_else(|| panic!("no trigger line: {out}"));
    assert!(trigger_line.contains("StandAlone"), "{trigger_line}");
    assert!(trigger_line.contains(" before, "), "{trigger_line}");
    assert!(out.contains("ended      frozen by the recorder"), "{out}");

    let json = inspect(&["--json"]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let series = &report["bundles"][0]["series"];
    assert!(series["records"].as_u64().unwrap() >= 4, "{series}");
    assert!(series["kinds"]["repl"].as_u64().unwrap() >= 2, "{series}");
    let trigger = &series["trigger"];
    assert!(trigger["reason"].as_str().unwrap().contains("StandAlone"));
    // The window after the trigger is the --after second (and the trigger lies within the span).
    let after = trigger["after_ms"].as_u64().unwrap();
    assert!((900..=3000).contains(&after), "{trigger}");
    assert_eq!(
        trigger["before_ms"].as_u64().unwrap() + after,
        series["span_ms"].as_u64().unwrap()
    );

    // The HTML report of both nodes: lanes of the sampled states, the trigger, the windows.
    let html_dir = tempfile::tempdir().unwrap();
    let html = html_dir.path().join("report.html");
    let output = Command::new(BIN)
        .env_clear()
        .env("LANG", "C")
        .arg("inspect")
        .arg("--html")
        .arg(&html)
        .args(&bundles)
        .output()
        .unwrap();
    assert!(
        output.status.code().is_some_and(|c| c <= 1),
        "{}",
        stderr(&output)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("id=\"series\""), "the series section");
    assert_eq!(
        page.matches("class=\"series-node\"").count(),
        2,
        "one block per node"
    );
    assert!(
        page.contains("rsc0 · node-b · connection<"),
        "a connection lane"
    );
    assert!(
        page.contains("data-state=\"StandAlone\""),
        "its StandAlone stretch"
    );
    assert!(page.contains("seg t-bad"), "drawn as lost");
    assert!(
        page.contains("tcp 10.0.0.1:40000 → 10.0.0.2:7789"),
        "a socket lane"
    );
    assert!(page.contains("class=\"trig\""), "the trigger");
    assert!(page.contains("class=\"win before\"") && page.contains("class=\"win after\""));
    assert!(page.len() < 2_000_000);

    // diff of the two frozen bundles: as for any two bundles, the series is a changed file.
    let diff = fixture
        .cmd()
        .arg("diff")
        .arg(&bundles[0])
        .arg(&bundles[1])
        .output()
        .unwrap();
    assert_success(&diff);
    let text = stdout(&diff);
    assert!(text.contains("changed  watch/series.jsonl"), "{text}");
    let json = fixture
        .cmd()
        .args(["diff", "--json"])
        .arg(&bundles[0])
        .arg(&bundles[1])
        .output()
        .unwrap();
    assert_success(&json);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let still = value["findings"]["still"].as_array().unwrap();
    assert!(
        still.iter().any(|f| f["rule"] == "WATCH-STANDALONE"),
        "{value}"
    );
}

/// Issue 27 item 1 without events2: DRBD 8.4 (drbd-utils 8.4 has no events2; a drbdsetup that
/// cannot run it exits at once) is sampled by polling `/proc/drbd` at the sampling rate, the
/// series says so, and a change between two polls is recorded (real 8.4.6 outputs).
#[test]
fn without_events2_proc_drbd_is_polled_and_its_changes_recorded() {
    let fixture = Fixture::new();
    fixture
        .file("/etc/drbd.d/r0.res", RES)
        .file("/proc/net/tcp", TCP_HEADER)
        .file(
            "/proc/drbd",
            include_str!("../realworld/events2/proc-drbd-trinity-651-wfconnection.txt"),
        );
    // drbd-utils 8.4's drbdsetup: no events2 (a usage error at once).
    fixture.command("drbdsetup", "echo \"unknown command '$1'\" >&2; exit 20");
    let child = watch_cmd(&fixture, &["--for", "2s", "--interval", "100ms", "-q"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(900));
    fixture.file(
        "/proc/drbd",
        include_str!("../realworld/events2/proc-drbd-trinity-651-standalone.txt"),
    );
    let output = child.wait_with_output().unwrap();
    assert_success(&output);
    let bundle = fixture.bundle();
    let series = series_of(&bundle);
    let samplers = series[0]["samplers"].to_string();
    assert!(
        samplers.contains("proc/drbd polled every 100ms (no events2 stream)"),
        "{samplers}"
    );
    let values: Vec<(String, String)> = series
        .iter()
        .filter(|r| {
            r["kind"] == "repl" && r["object"] == "connection" && r["field"] == "connection"
        })
        .map(|r| {
            (
                r["resource"].as_str().unwrap().to_string(),
                r["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        values,
        [
            ("drbd1".to_string(), "WFConnection".to_string()),
            ("drbd1".to_string(), "StandAlone".to_string())
        ]
    );
    assert!(series
        .iter()
        .any(|r| r["kind"] == "repl" && r["field"] == "role" && r["value"] == "Primary"));
    let rules = rule_ids(&bundle.index["findings"]);
    assert!(rules.contains(&"WATCH-STANDALONE"), "{rules:?}");
    assert!(!rules.contains(&"WATCH-GAP"), "{rules:?}");
}
