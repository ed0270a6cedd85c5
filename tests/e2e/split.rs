use crate::util::*;
use std::process::Command;

/// About 1 MiB of random-looking hex lines: gzip cannot shrink it much, so it needs many parts.
fn noisy_node() -> Fixture {
    let f = Fixture::new();
    let mut log = String::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while log.len() < 1 << 20 {
        for _ in 0..4 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            log.push_str(&format!("{x:016x}"));
        }
        log.push('\n');
    }
    f.file("/var/log/messages", log);
    f
}

fn parts(f: &Fixture) -> Vec<std::path::PathBuf> {
    let mut parts: Vec<_> = std::fs::read_dir(f.out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.contains(".tgz.0") && !name.ends_with(".sha256")
        })
        .collect();
    parts.sort();
    parts
}

#[test]
fn split_parts_are_under_the_size_join_with_cat_and_inspect_as_one() {
    let f = noisy_node();
    assert_success(&f.collect(&["--split", "64KiB"]));
    let parts = parts(&f);
    assert!(parts.len() >= 8, "expected many parts, got {parts:?}");
    assert!(parts[0].to_string_lossy().ends_with(".tgz.001"));
    for part in &parts {
        let size = std::fs::metadata(part).unwrap().len();
        assert!(size <= 64 << 10, "{} is {size} bytes", part.display());
    }
    assert!(
        f.bundles().is_empty(),
        "no whole bundle is left beside the parts"
    );
    let first = parts[0].to_string_lossy().into_owned();
    let joined = first.trim_end_matches(".001").to_string();
    // The sidecar checks every part as it arrived, before joining.
    let sums = std::fs::read_to_string(format!("{joined}.sha256")).unwrap();
    assert_eq!(
        sums.lines().filter(|l| !l.starts_with('#')).count(),
        parts.len() + 1
    );
    let check = Command::new("sha256sum")
        .args(["-c", "--strict", "--ignore-missing"])
        .arg(format!("{joined}.sha256"))
        .current_dir(f.out.path())
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", stdout(&check));
    assert_eq!(stdout(&check).matches(": OK").count(), parts.len());

    // cat of the parts (the glob the listing suggests) is the normal bundle: tar reads it and
    // the sidecar checks it whole.
    let cat = Command::new("sh")
        .arg("-c")
        .arg(format!("cat '{joined}'.0* > '{joined}'"))
        .status()
        .unwrap();
    assert!(cat.success());
    let tar = Command::new("tar")
        .arg("tzf")
        .arg(&joined)
        .output()
        .unwrap();
    assert!(tar.status.success(), "tar tzf: {}", stderr(&tar));
    assert!(stdout(&tar).contains("/files/var/log/messages"));
    let whole = Command::new("sha256sum")
        .args(["-c", "--strict"])
        .arg(format!("{joined}.sha256"))
        .current_dir(f.out.path())
        .output()
        .unwrap();
    assert!(whole.status.success(), "{}", stdout(&whole));
    Bundle::open(std::path::Path::new(&joined)).assert_verifies();
    std::fs::remove_file(&joined).unwrap();

    // inspect reads the set from its first part, or from the joined name, and reports the
    // whole set's size.
    let inspect = f
        .cmd()
        .args(["inspect", "--json"])
        .arg(&parts[0])
        .output()
        .unwrap();
    assert_success(&inspect);
    let value: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let total: u64 = parts
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(value["bundles"][0]["size"].as_u64().unwrap(), total);
    let inspect = f.cmd().arg("inspect").arg(&joined).output().unwrap();
    assert_success(&inspect);
}

#[test]
fn a_missing_middle_part_is_named_and_exits_1() {
    let f = noisy_node();
    assert_success(&f.collect(&["--split", "64KiB"]));
    let parts = parts(&f);
    assert!(parts.len() >= 3);
    let middle = &parts[parts.len() / 2];
    std::fs::remove_file(middle).unwrap();
    let output = f.cmd().arg("inspect").arg(&parts[0]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let name = middle.file_name().unwrap().to_string_lossy().into_owned();
    assert!(stderr(&output).contains(&name), "{}", stderr(&output));
}

#[test]
fn split_with_zip_is_a_usage_error() {
    let f = Fixture::new();
    let output = f.collect(&["--split", "1MiB", "--format", "zip"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--format tgz"),
        "{}",
        stderr(&output)
    );
}
