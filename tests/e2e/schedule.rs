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
