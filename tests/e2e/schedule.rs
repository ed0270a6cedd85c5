use crate::util::*;
use std::time::Duration;

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn five_runs_with_keep_3_leave_three_bundles_and_foreign_files() {
    let f = Fixture::new();
    f.file("/etc/bsr.d/r0.res", "resource r0 {\n}\n");
    let foreign = [
        "drx-collect-node2-20200101T000000Z.tgz",
        "drx-collect-node1-notes.txt",
        "drx-collect-node1-20200101T000000Z.tgz.bak",
        "unrelated.tgz",
    ];
    for name in foreign {
        std::fs::write(f.out.path().join(name), "x").unwrap();
    }
    for _ in 0..5 {
        assert_success(&f.collect(&["--quiet", "--keep", "3"]));
    }
    let bundles = f.bundles();
    let ours: Vec<_> = bundles
        .iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("drx-collect-node1-2026")
                || p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("drx-collect-node1-20")
        })
        .filter(|p| {
            !p.file_name()
                .unwrap()
                .to_string_lossy()
                .contains("20200101")
        })
        .collect();
    assert_eq!(ours.len(), 3, "{:?}", names(f.out.path()));
    for bundle in ours {
        Bundle::open(bundle).assert_verifies();
    }
    for name in foreign {
        assert!(f.out.path().join(name).exists(), "{name} was deleted");
    }
    let sidecars = names(f.out.path())
        .into_iter()
        .filter(|n| n.ends_with(".tgz.sha256"))
        .count();
    assert_eq!(sidecars, 3, "{:?}", names(f.out.path()));
    assert!(!f.out.path().join(".drx-collect.lock").exists());
}

#[test]
fn overlapping_runs_leave_only_verifiable_bundles() {
    let f = Fixture::new();
    f.file("/etc/bsr.d/r0.res", "resource r0 {\n}\n");
    // A slow stand-in keeps the first run inside its lock for a while.
    f.command("lsmod", "sleep 2; echo 'Module Size Used by'");
    let start = |f: &Fixture| {
        f.cmd()
            .arg("collect")
            .arg("--root")
            .arg(f.root.path())
            .arg("-o")
            .arg(f.out.path())
            .args(["--quiet", "--timeout", "30s"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = start(&f);
    std::thread::sleep(Duration::from_millis(200));
    let second = start(&f);
    let first = first.wait_with_output().unwrap();
    let second = second.wait_with_output().unwrap();
    assert_success(&first);
    match second.status.code() {
        Some(0) => assert_eq!(f.bundles().len(), 2),
        Some(1) => {
            assert!(
                stderr(&second).contains("another drx-collect run holds"),
                "{}",
                stderr(&second)
            );
            assert_eq!(f.bundles().len(), 1);
        }
        other => panic!("second run: exit {other:?}: {}", stderr(&second)),
    }
    for bundle in f.bundles() {
        Bundle::open(&bundle).assert_verifies();
    }
    let leftovers: Vec<String> = names(f.out.path())
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_run_that_cannot_get_the_lock_in_time_exits_1_with_the_message() {
    let f = Fixture::new();
    f.command("lsmod", "sleep 9; echo 'Module Size Used by'");
    let first = f
        .cmd()
        .arg("collect")
        .arg("--root")
        .arg(f.root.path())
        .arg("-o")
        .arg(f.out.path())
        .args(["--quiet", "--timeout", "30s"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let started = std::time::Instant::now();
    let second = f.collect(&["--quiet"]);
    let mut first = first;
    assert!(first.wait().unwrap().success());
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "it should wait a few seconds first"
    );
    let message = stderr(&second);
    assert!(
        message.contains("another drx-collect run holds"),
        "{message}"
    );
    assert!(
        message.contains(&f.out.path().display().to_string()),
        "{message}"
    );
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    assert_eq!(f.bundles().len(), 1);
}

fn schedule(f: &Fixture, args: &[&str]) -> std::process::Output {
    f.cmd().arg("schedule").args(args).output().unwrap()
}

#[test]
fn install_status_remove_a_cron_entry_in_a_temporary_file() {
    let f = Fixture::new();
    let etc = tempfile::tempdir().unwrap();
    let cron = etc.path().join("drx-collect");
    let units = etc.path().join("units");
    std::fs::create_dir(&units).unwrap();
    let out = f.out.path().display().to_string();
    let cron_arg = cron.display().to_string();
    let units_arg = units.display().to_string();
    let common = ["--cron-file", &cron_arg, "--unit-dir", &units_arg];

    let status = schedule(&f, &[&["status", "--output", &out][..], &common].concat());
    assert_success(&status);
    assert!(
        stdout(&status).contains("not installed"),
        "{}",
        stdout(&status)
    );

    // Someone else's lines in the same file stay.
    std::fs::write(&cron, "MAILTO=ops\n").unwrap();
    let install = [
        &["install", "--every", "6h", "--keep", "3", "--output", &out][..],
        &common,
    ]
    .concat();
    assert_success(&schedule(&f, &install));
    let text = std::fs::read_to_string(&cron).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&cron).unwrap().permissions().mode() & 0o777,
        0o644
    );
    assert!(text.starts_with("MAILTO=ops\n"), "{text}");
    let line = text
        .lines()
        .find(|l| !l.starts_with('#') && l.contains(" root "))
        .unwrap()
        .to_string();
    let fields: Vec<&str> = line.split_whitespace().collect();
    let minute: u32 = fields[0].parse().expect("one minute");
    assert!(minute < 60);
    assert_eq!(
        fields[1].split(',').count(),
        4,
        "every 6h: four hours: {line}"
    );
    assert_eq!(&fields[2..6], ["*", "*", "*", "root"]);
    assert!(
        line.contains(&format!("{BIN} --quiet --keep 3 --output {out}")),
        "{line}"
    );
    assert!(line.contains("nice -n 19"), "{line}");
    if std::path::Path::new("/usr/bin/ionice").exists() {
        assert!(line.contains("ionice -c3"), "{line}");
    }

    // Installing again replaces our entry instead of adding a second one.
    let again = [
        &["install", "--every", "15m", "--keep", "3", "--output", &out][..],
        &common,
    ]
    .concat();
    assert_success(&schedule(&f, &again));
    let text = std::fs::read_to_string(&cron).unwrap();
    assert_eq!(text.matches(" root ").count(), 1, "{text}");
    assert_eq!(text.matches("# BEGIN drx-collect").count(), 1, "{text}");

    // status: the entry, and the newest snapshot with its checksum and findings.
    assert_success(&f.collect(&["--quiet"]));
    let status = schedule(&f, &[&["status"][..], &common].concat());
    assert_success(&status);
    let shown = stdout(&status);
    assert!(shown.contains(&cron_arg), "{shown}");
    assert!(shown.contains("--keep 3"), "{shown}");
    // The output directory is read from the installed entry; the hostname is the live host's,
    // so the fixture's node1 bundle is found only where they agree.
    assert!(shown.contains(&out), "{shown}");

    let bad = schedule(
        &f,
        &[
            &["install", "--every", "45m", "--output", &out][..],
            &common,
        ]
        .concat(),
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("divide 60"), "{}", stderr(&bad));

    assert_success(&schedule(&f, &[&["remove"][..], &common].concat()));
    assert_eq!(std::fs::read_to_string(&cron).unwrap(), "MAILTO=ops\n");
    let status = schedule(&f, &[&["status", "--output", &out][..], &common].concat());
    assert!(stdout(&status).contains("not installed"));
    // Removing twice is fine, and a file that is only ours is deleted.
    assert_success(&schedule(&f, &[&["remove"][..], &common].concat()));
    std::fs::remove_file(&cron).unwrap();
    assert_success(&schedule(&f, &install));
    assert_success(&schedule(&f, &[&["remove"][..], &common].concat()));
    assert!(!cron.exists());
}

#[test]
fn status_shows_the_newest_snapshot_of_this_host() {
    let f = Fixture::new();
    // The live host's name, so that status (which looks for this host's bundles) finds them.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    f.file("/etc/hostname", format!("{host}\n"));
    f.file(
        "/etc/bsr.d/r0.res",
        b"\xEF\xBB\xBFresource r0 {\n}\n".as_slice(),
    );
    assert_success(&f.collect(&["--quiet"]));
    let etc = tempfile::tempdir().unwrap();
    let cron = etc.path().join("none").display().to_string();
    let out = f.out.path().display().to_string();
    let status_args = [
        "status",
        "--cron-file",
        &cron,
        "--unit-dir",
        &cron,
        "--output",
        &out,
    ];
    let status = schedule(&f, &status_args);
    assert_success(&status);
    let shown = stdout(&status);
    assert!(shown.contains("not installed"), "{shown}");
    assert!(shown.contains("1 snapshot(s)"), "{shown}");
    assert!(shown.contains("checksum: ok"), "{shown}");
    assert!(shown.contains("findings: 1 error(s)"), "{shown}");
    // A damaged bundle shows as such.
    let bundle = &f.bundles()[0];
    let mut bytes = std::fs::read(bundle).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(bundle, bytes).unwrap();
    let shown = stdout(&schedule(&f, &status_args));
    assert!(shown.contains("MISMATCH"), "{shown}");
}

#[test]
fn systemd_units_are_written_and_removed_in_a_unit_dir() {
    let f = Fixture::new();
    let units = tempfile::tempdir().unwrap();
    let dir = units.path().display().to_string();
    let out = f.out.path().display().to_string();
    let install = schedule(
        &f,
        &[
            "install",
            "--systemd",
            "--unit-dir",
            &dir,
            "--every",
            "1d",
            "--keep",
            "7",
            "--output",
            &out,
        ],
    );
    assert_success(&install);
    assert!(stdout(&install)
        .contains("systemctl daemon-reload && systemctl enable --now drx-collect.timer"));
    let service = std::fs::read_to_string(units.path().join("drx-collect.service")).unwrap();
    let timer = std::fs::read_to_string(units.path().join("drx-collect.timer")).unwrap();
    assert!(
        service.contains(&format!("ExecStart={BIN} --quiet --keep 7 --output {out}")),
        "{service}"
    );
    assert!(service.contains("Nice=19") && service.contains("IOSchedulingClass=idle"));
    let calendar = timer
        .lines()
        .find(|l| l.starts_with("OnCalendar="))
        .unwrap();
    assert!(
        calendar.starts_with("OnCalendar=*-*-* ") && calendar.ends_with(":00"),
        "{calendar}"
    );
    assert!(timer.contains("RandomizedDelaySec="));
    let status = schedule(
        &f,
        &[
            "status",
            "--unit-dir",
            &dir,
            "--cron-file",
            &format!("{dir}/none"),
        ],
    );
    assert!(
        stdout(&status).contains("drx-collect.timer"),
        "{}",
        stdout(&status)
    );
    // A foreign unit of the same name is never replaced or removed.
    std::fs::write(units.path().join("drx-collect.service"), "[Service]\n").unwrap();
    let refused = schedule(&f, &["install", "--systemd", "--unit-dir", &dir]);
    assert_eq!(refused.status.code(), Some(1));
    std::fs::remove_file(units.path().join("drx-collect.service")).unwrap();
    assert_success(&schedule(&f, &["remove", "--systemd", "--unit-dir", &dir]));
    assert_eq!(std::fs::read_dir(units.path()).unwrap().count(), 0);
}

/// The words the real /bin/sh makes of the command of an installed cron line, after cron's own
/// reading of `%` (crontab(5): `\%` is a `%`, a bare `%` ends the command).
fn words_cron_runs(line: &str) -> Vec<String> {
    let mut rest = line.trim_start();
    for _ in 0..6 {
        let end = rest.find(char::is_whitespace).unwrap();
        rest = rest[end..].trim_start();
    }
    let mut command = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('%') => command.push('%'),
                Some(other) => {
                    command.push('\\');
                    command.push(other);
                }
                None => command.push('\\'),
            },
            '%' => break,
            c => command.push(c),
        }
    }
    let out = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("set -- {command}; printf '%s\\0' \"$@\""))
        .output()
        .unwrap();
    assert!(out.status.success(), "{command}");
    out.stdout
        .split(|&b| b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8(w.to_vec()).unwrap())
        .collect()
}

fn installed_line(cron: &std::path::Path) -> String {
    let text = std::fs::read_to_string(cron).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    lines[0].to_string()
}

#[test]
fn an_output_path_that_would_break_the_entry_is_refused() {
    let f = Fixture::new();
    let etc = tempfile::tempdir().unwrap();
    let cron = etc.path().join("drx-collect");
    let units = etc.path().join("units");
    std::fs::create_dir(&units).unwrap();
    for bad in [
        "/var/lib/x\n* * * * * root /bin/sh -c id",
        "/var/lib/x\rsnap",
        "/var/lib/x\u{1b}[2Jsnap",
        "/var/lib/x\tsnap",
    ] {
        let out = schedule(
            &f,
            &[
                "install",
                "--output",
                bad,
                "--cron-file",
                cron.to_str().unwrap(),
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("--output"), "{}", stderr(&out));
        assert!(!cron.exists(), "{bad:?} wrote {}", cron.display());
        let out = schedule(
            &f,
            &[
                "install",
                "--systemd",
                "--output",
                bad,
                "--unit-dir",
                units.to_str().unwrap(),
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
        assert_eq!(std::fs::read_dir(&units).unwrap().count(), 0);
    }
}

#[test]
fn hostile_but_valid_output_paths_are_run_and_read_back_exactly() {
    let f = Fixture::new();
    let etc = tempfile::tempdir().unwrap();
    let cron = etc.path().join("drx-collect");
    let units = etc.path().join("units");
    std::fs::create_dir(&units).unwrap();
    let base = tempfile::tempdir().unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let systemd_analyze = std::path::Path::new("/usr/bin/systemd-analyze").exists()
        || std::path::Path::new("/bin/systemd-analyze").exists();
    for name in [
        "snap%",
        "100% full",
        "a\\%b",
        "a\\\\%b%%c",
        "it's \"here\"",
        "$HOME and `id` and $(id)",
        "back\\slash\\",
        "semi;colon &amp",
        "%n%H%%",
    ] {
        let out_dir = base.path().join(name);
        std::fs::create_dir(&out_dir).unwrap();
        let out = out_dir.to_str().unwrap();
        let install = schedule(
            &f,
            &[
                "install",
                "--output",
                out,
                "--cron-file",
                cron.to_str().unwrap(),
            ],
        );
        assert_success(&install);
        let words = words_cron_runs(&installed_line(&cron));
        let at = words.iter().position(|w| w == "--output").unwrap();
        assert_eq!(words[at + 1], out, "{name}: {words:?}");
        assert!(words.iter().any(|w| w == BIN), "{words:?}");
        // status reads the directory back from the entry: the exact one.
        let status = schedule(
            &f,
            &[
                "status",
                "--cron-file",
                cron.to_str().unwrap(),
                "--unit-dir",
                units.to_str().unwrap(),
            ],
        );
        let shown = stdout(&status);
        assert!(
            shown.contains(&format!("no snapshots of {host} in {out} yet")),
            "{name}: {shown}"
        );
        std::fs::remove_file(&cron).unwrap();

        // The same directory in a systemd unit: verified on install, read back by status.
        let install = schedule(
            &f,
            &[
                "install",
                "--systemd",
                "--output",
                out,
                "--unit-dir",
                units.to_str().unwrap(),
            ],
        );
        assert_success(&install);
        if systemd_analyze {
            let verify = std::process::Command::new("systemd-analyze")
                .args(["verify", "--man=no"])
                .arg(units.join("drx-collect.service"))
                .arg(units.join("drx-collect.timer"))
                .output()
                .unwrap();
            assert!(verify.status.success(), "{name}: {}", stderr(&verify));
        }
        let status = schedule(
            &f,
            &[
                "status",
                "--cron-file",
                cron.to_str().unwrap(),
                "--unit-dir",
                units.to_str().unwrap(),
            ],
        );
        let shown = stdout(&status);
        assert!(
            shown.contains(&format!("no snapshots of {host} in {out} yet")),
            "{name}: {shown}"
        );
        assert_success(&schedule(
            &f,
            &["remove", "--systemd", "--unit-dir", units.to_str().unwrap()],
        ));
    }
}

/// Whether a process of one of these names runs on this host (as the test sees /proc).
fn running(names: &[&str]) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| names.contains(&c.trim()))
    })
}

#[test]
fn install_warns_when_nothing_will_run_the_entry_or_the_binary_may_vanish() {
    let f = Fixture::new();
    let etc = tempfile::tempdir().unwrap();
    let cron = etc.path().join("drx-collect");
    let out = f.out.path().display().to_string();
    let install = |bin: &str| {
        std::process::Command::new(bin)
            .env_clear()
            .env("LANG", "C")
            .args(["schedule", "install", "--output", &out, "--cron-file"])
            .arg(&cron)
            .output()
            .unwrap()
    };
    let daemons = ["cron", "crond", "cronie", "fcron", "dcron", "bcron-sched"];
    // A file cron does not read, on a host where no cron may run: both said, and still done.
    let first = install(BIN);
    assert_success(&first);
    let warned = stderr(&first);
    assert!(warned.contains("cron will not run this file"), "{warned}");
    if !running(&daemons) {
        assert!(warned.contains("no cron daemon is running"), "{warned}");
    }
    // With a cron daemon running, that warning goes.
    let fake = tempfile::tempdir().unwrap();
    let cron_daemon = fake.path().join("cron");
    std::fs::copy("/bin/sleep", &cron_daemon).unwrap();
    let mut daemon = std::process::Command::new(&cron_daemon)
        .arg("60")
        .spawn()
        .unwrap();
    let second = install(BIN);
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    assert_success(&second);
    assert!(
        !stderr(&second).contains("no cron daemon"),
        "{}",
        stderr(&second)
    );
    assert!(
        !stderr(&second).contains("temporary directory"),
        "{}",
        stderr(&second)
    );
    // A binary under /tmp: the entry would run a file that tmp cleaners remove.
    let tmp = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
    let copy = tmp.path().join("drx-collect");
    std::fs::copy(BIN, &copy).unwrap();
    let third = install(copy.to_str().unwrap());
    assert_success(&third);
    assert!(
        stderr(&third).contains("temporary directory"),
        "{}",
        stderr(&third)
    );
    assert!(
        std::fs::read_to_string(&cron)
            .unwrap()
            .contains(copy.to_str().unwrap()),
        "the entry names the binary that ran install"
    );
}
