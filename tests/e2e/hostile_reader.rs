//! Hostile bundles against `inspect --extract`, `--cat`, `--list`, the split-set reader and the
//! human output: crafted byte by byte with the library's testkit, run through the real binary.
use crate::util::*;
use drx_collect::archive::testkit::{self, *};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A bundle written to a file in its own temporary directory.
struct Crafted {
    dir: tempfile::TempDir,
    path: PathBuf,
}

fn crafted(bytes: &[u8]) -> Crafted {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("drx-collect-node1-20261124T100000Z.tgz");
    std::fs::write(&path, bytes).unwrap();
    Crafted { dir, path }
}

/// A .tgz bundle of `files`.
fn crafted_tgz(files: &[(String, Vec<u8>)]) -> Crafted {
    crafted(&tgz(&entries(files)))
}

/// The honest test bundle, untouched.
fn honest() -> Crafted {
    crafted_tgz(&honest_files())
}

impl Crafted {
    /// `inspect BUNDLE args…`.
    fn inspect(&self, args: &[&OsStr]) -> Output {
        let mut all = vec![self.path.as_os_str()];
        all.extend_from_slice(args);
        run(&all)
    }

    /// `out` beside the bundle: where `--extract` goes.
    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// `inspect BUNDLE --extract OUT more…`.
    fn extract(&self, out: &Path, more: &[&str]) -> Output {
        let mut args = vec![OsStr::new("--extract"), out.as_os_str()];
        args.extend(more.iter().map(OsStr::new));
        self.inspect(&args)
    }

    /// `inspect BUNDLE --cat MEMBER`.
    fn cat(&self, member: &str) -> Output {
        self.inspect(&[OsStr::new("--cat"), OsStr::new(member)])
    }
}

fn run(args: &[&OsStr]) -> Output {
    inspect(args)
}

/// The honest test bundle's files after `edit`, with a SHA256SUMS made for what results (the
/// bundle verifies: its lies are in the contents).
fn honest_resummed(edit: impl FnOnce(&mut Vec<(String, Vec<u8>)>)) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = honest_files()
        .into_iter()
        .filter(|(p, _)| p != "SHA256SUMS")
        .collect();
    edit(&mut files);
    let sums = sums_for(&files);
    files.push(("SHA256SUMS".into(), sums));
    files
}

/// The honest test bundle with `extra` files added to it and to SHA256SUMS.
fn honest_with(extra: &[(&str, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    honest_resummed(|files| {
        for (path, data) in extra {
            files.push((path.to_string(), data.clone()));
        }
    })
}

fn bit_flipped() -> Vec<u8> {
    let mut files = honest_files();
    for (path, data) in files.iter_mut() {
        if path == "files/etc/hosts" {
            data[0] ^= 0x01;
        }
    }
    tgz(&entries(&files))
}

fn files_under(root: &Path) -> Vec<String> {
    let mut out: Vec<String> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_type().is_dir())
        .map(|e| {
            e.path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    out.sort();
    out
}

// ---- --extract: caps, cleanup, modes (issue 12 item 13) -------------------------------------

#[test]
fn extract_stops_at_max_extract_and_leaves_nothing() {
    // 4 MiB of zeros compress to a few kilobytes: the shape of a decompression bomb.
    let files = honest_with(&[("files/var/log/zeros", vec![0u8; 4 << 20])]);
    let bundle = crafted_tgz(&files);
    assert!(std::fs::metadata(&bundle.path).unwrap().len() < 64 << 10);
    let out = bundle.out();
    let output = bundle.extract(&out, &["--max-extract", "1MiB"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--max-extract"),
        "{}",
        stderr(&output)
    );
    assert!(!out.exists(), "{:?}", files_under(&out));
    // Raised, the same bundle extracts whole.
    let output = bundle.extract(&out, &["--max-extract", "8MiB"]);
    assert_success(&output);
    assert_eq!(
        std::fs::metadata(out.join(TOP).join("files/var/log/zeros"))
            .unwrap()
            .len(),
        4 << 20
    );
}

/// --max-extract takes a size; without --extract it is the cap on a case file's bundles in
/// TMPDIR (issue 24), so a plain inspect accepts it.
#[test]
fn max_extract_needs_a_size() {
    let bundle = honest();
    let output = bundle.inspect(&[OsStr::new("--max-extract"), OsStr::new("1MiB")]);
    assert_eq!(output.status.code(), Some(0));
    let output = bundle.extract(Path::new("x"), &["--max-extract", "lots"]);
    assert_eq!(output.status.code(), Some(2));
}

#[cfg(unix)]
#[test]
fn extracted_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let bundle = honest();
    let out = bundle.out();
    assert_success(&bundle.extract(&out, &[]));
    for entry in walkdir::WalkDir::new(&out) {
        let entry = entry.unwrap();
        let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
        let want = if entry.file_type().is_dir() {
            0o700
        } else {
            0o600
        };
        assert_eq!(mode, want, "{}", entry.path().display());
    }
}

/// A tmpfs of 256 KiB, unmounted when dropped.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn new() -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount(8) runs");
        assert!(status.success(), "this test mounts a tmpfs: run it as root");
        SmallDisk(dir)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn a_full_disk_leaves_no_partial_files() {
    // Incompressible content, larger than the disk.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let noise: Vec<u8> = (0..(512 << 10))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let files = honest_with(&[("files/var/log/noise", noise)]);
    let bundle = crafted_tgz(&files);
    let disk = SmallDisk::new();
    let out = disk.0.path().join("out");
    let output = bundle.extract(&out, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("no space left"), "{err}");
    assert!(err.contains("nothing was left in"), "{err}");
    assert!(!out.exists(), "{:?}", files_under(&out));
}

// ---- --extract / --cat / --list verify (issue 12 item 17, issue 13 item 8) ------------------

#[test]
fn extract_of_a_bit_flipped_bundle_keeps_the_verified_files_and_exits_3() {
    let bundle = crafted(&bit_flipped());
    let out = bundle.out();
    let output = bundle.extract(&out, &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(!out.join(TOP).join("files/etc/hosts").exists());
    assert!(out.join(TOP).join("commands/uname.txt").exists());
    let text = stdout(&output);
    assert!(
        text.contains("left out files/etc/hosts: removed, not verified"),
        "{text}"
    );
    assert!(
        stderr(&output).contains("not intact"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn extract_of_a_bundle_with_refused_members_exits_3_after_extracting_the_rest() {
    let mut all = entries(&honest_files());
    all.push(file("../../escaped", b"evil"));
    all.push(ent(
        format!("{TOP}/files/etc/passwd").as_bytes(),
        Kind::Symlink("/etc/passwd".into()),
    ));
    let bundle = crafted(&tgz(&all));
    let out = bundle.out();
    let output = bundle.extract(&out, &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let want: Vec<String> = {
        let mut v: Vec<String> = honest_files()
            .iter()
            .map(|(p, _)| format!("{TOP}/{p}"))
            .collect();
        v.sort();
        v
    };
    assert_eq!(files_under(&out), want);
    assert!(!bundle.dir.path().join("escaped").exists());
    assert!(stdout(&output).contains("unsafe"), "{}", stdout(&output));
}

#[test]
fn extract_and_cat_of_a_truncated_bundle_exit_3_and_return_nothing() {
    let whole = tgz(&entries(&honest_files()));
    let bundle = crafted(&whole[..whole.len() - 5]);
    let out = bundle.out();
    let output = bundle.extract(&out, &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(!out.exists(), "{:?}", files_under(&out));
    let output = bundle.cat("files/etc/hosts");
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(output.stdout.is_empty());
    assert!(stderr(&output).contains("damaged"), "{}", stderr(&output));
}

/// Damage is an integrity failure in every mode (SPEC §8): the verdict, --json and --list exit
/// 3 like --cat and --extract, naming the damage; --json still prints its report.
#[test]
fn inspect_and_list_of_a_truncated_bundle_exit_3() {
    let whole = tgz(&entries(&honest_files()));
    let bundle = crafted(&whole[..whole.len() - 5]);
    for args in [&[][..], &[OsStr::new("--list")][..]] {
        let output = bundle.inspect(args);
        assert_eq!(
            output.status.code(),
            Some(3),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(stderr(&output).contains("damaged"), "{}", stderr(&output));
    }
    let output = bundle.inspect(&[OsStr::new("--json")]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("--json prints a report ({e}): {}", stderr(&output)));
    assert_eq!(report["integrity"]["ok"], false, "{report}");
}

#[test]
fn cat_of_a_lying_member_prints_nothing_and_exits_3() {
    let bundle = crafted(&bit_flipped());
    let output = bundle.cat("files/etc/hosts");
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(output.stdout.is_empty());
    assert!(
        stderr(&output).contains("was not printed"),
        "{}",
        stderr(&output)
    );
    // An honest bundle: the bytes, exactly, and exit 0.
    let bundle = honest();
    let output = bundle.cat("files/etc/hosts");
    assert_success(&output);
    assert_eq!(output.stdout, b"127.0.0.1 localhost\n10.0.0.1 node1\n");
}

#[test]
fn a_member_larger_than_the_hold_streams_and_is_still_judged() {
    // Larger than what --cat holds back: printed as it streams, judged at the end.
    let big = vec![b'x'; drx_collect::inspect::extract::CAT_HOLD + 1000];
    let mut files = honest_with(&[("files/var/log/big", big.clone())]);
    for (path, data) in files.iter_mut() {
        if path == "files/var/log/big" {
            data[10] = b'y';
        }
    }
    let bundle = crafted_tgz(&files);
    let output = bundle.cat("files/var/log/big");
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert_eq!(output.stdout.len(), big.len());
    assert!(
        stderr(&output).contains("printed above are NOT verified"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn list_of_a_bundle_with_problems_exits_3() {
    let bundle = crafted(&bit_flipped());
    let output = bundle.inspect(&[OsStr::new("--list")]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stdout(&output).contains("files/etc/hosts"));
    let bundle = honest();
    assert_success(&bundle.inspect(&[OsStr::new("--list")]));
}

// ---- the split-set reader (issue 12 item 15) -------------------------------------------------

/// Runs inspect with a deadline: a hang is a failure, not a stuck test run.
fn inspect_within(args: &[&OsStr], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_drx-collect"))
        .env_clear()
        .env("LANG", "C")
        .arg("inspect")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("inspect {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn split_set(dir: &Path) -> PathBuf {
    let bytes = tgz(&entries(&honest_files()));
    let (a, b) = bytes.split_at(bytes.len() / 2);
    std::fs::write(dir.join("b.tgz.001"), a).unwrap();
    std::fs::write(dir.join("b.tgz.002"), b).unwrap();
    dir.join("b.tgz.001")
}

#[test]
fn a_sidecar_declaring_huge_part_counts_is_refused_quickly() {
    for count in ["1000000000000", "18446744073709551615"] {
        let dir = tempfile::tempdir().unwrap();
        let first = split_set(dir.path());
        std::fs::write(
            dir.path().join("b.tgz.sha256"),
            format!("# drx-collect split bundle: {count} parts of at most 65536 bytes; join\n"),
        )
        .unwrap();
        let output = inspect_within(&[first.as_os_str()], Duration::from_secs(20));
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        assert!(
            stderr(&output).contains(&format!("declares {count} parts")),
            "{}",
            stderr(&output)
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let first = split_set(dir.path());
    std::fs::write(dir.path().join("b.tgz.99999999999"), "stray").unwrap();
    let output = inspect_within(&[first.as_os_str()], Duration::from_secs(20));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("b.tgz.99999999999"),
        "{}",
        stderr(&output)
    );
    // Without the stray the set reads whole.
    std::fs::remove_file(dir.path().join("b.tgz.99999999999")).unwrap();
    assert_success(&inspect_within(
        &[first.as_os_str()],
        Duration::from_secs(20),
    ));
}

#[cfg(unix)]
#[test]
fn special_files_in_a_split_set_do_not_hang_the_reader() {
    let mkfifo = |path: &Path| {
        assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
    };
    // A FIFO sidecar, a /dev/zero sidecar, a FIFO part, a FIFO given as the bundle.
    let dir = tempfile::tempdir().unwrap();
    let first = split_set(dir.path());
    mkfifo(&dir.path().join("b.tgz.sha256"));
    let output = inspect_within(&[first.as_os_str()], Duration::from_secs(20));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("not a regular file"),
        "{}",
        stderr(&output)
    );

    let dir = tempfile::tempdir().unwrap();
    let first = split_set(dir.path());
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("b.tgz.sha256")).unwrap();
    let output = inspect_within(&[first.as_os_str()], Duration::from_secs(20));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));

    let dir = tempfile::tempdir().unwrap();
    let first = split_set(dir.path());
    std::fs::remove_file(dir.path().join("b.tgz.002")).unwrap();
    mkfifo(&dir.path().join("b.tgz.002"));
    let output = inspect_within(&[first.as_os_str()], Duration::from_secs(20));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("b.tgz.002"), "{}", stderr(&output));

    let fifo = dir.path().join("bundle.tgz");
    mkfifo(&fifo);
    let output = inspect_within(&[fifo.as_os_str()], Duration::from_secs(20));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let output = inspect_within(&[OsStr::new("/dev/zero")], Duration::from_secs(20));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
}

// ---- escaped human output (issue 12 item 16) -------------------------------------------------

/// Raw control characters, escape sequences or bidi overrides in `bytes`, if any.
fn raw_controls(bytes: &[u8]) -> Vec<char> {
    String::from_utf8_lossy(bytes)
        .chars()
        .filter(|&c| c != '\n' && c != '\t' && drx_collect::escape::is_unsafe(c))
        .collect()
}

/// A bundle whose member names and contents try to repaint the terminal.
fn painting() -> Vec<u8> {
    let paint = "\r\u{1b}[2K\u{1b}[1Gdrx-collect-node1.tgz: intact (5 files)\u{1b}[8m";
    let mut all = entries(&honest_files());
    all.push(file(&format!("{TOP}/files/x{paint}"), b"x"));
    all.push(file(&format!("{TOP}/files/\u{202e}gol.exe"), b"x"));
    all.push(ent(
        format!("{TOP}/files/l\u{9b}2J").as_bytes(),
        Kind::Symlink(format!("/etc/{paint}")),
    ));
    testkit::tgz(&all)
}

#[test]
fn no_raw_control_reaches_human_output() {
    let bundle = crafted(&painting());
    let out = bundle.out();
    let runs: Vec<Vec<&OsStr>> = vec![
        vec![bundle.path.as_os_str()],
        vec![bundle.path.as_os_str(), OsStr::new("--list")],
        vec![
            bundle.path.as_os_str(),
            OsStr::new("--extract"),
            out.as_os_str(),
        ],
        vec![
            bundle.path.as_os_str(),
            OsStr::new("--cat"),
            OsStr::new("files/\u{1b}[2Jx"),
        ],
    ];
    for args in runs {
        let output = run(&args);
        assert_eq!(
            output.status.code().map(|c| c == 3 || c == 1),
            Some(true),
            "{args:?}"
        );
        assert_eq!(raw_controls(&output.stdout), Vec::<char>::new(), "{args:?}");
        assert_eq!(raw_controls(&output.stderr), Vec::<char>::new(), "{args:?}");
    }
    let output = bundle.inspect(&[]);
    let text = stdout(&output);
    assert!(text.contains("INTEGRITY FAILURE"), "{text}");
    assert!(text.contains("\\r\\e[2K"), "{text}");
    assert!(text.contains("\\u{202e}gol.exe"), "{text}");
    // JSON keeps the names exact for programs.
    let output = bundle.inspect(&[OsStr::new("--json")]);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let problems = value["integrity"]["problems"].as_array().unwrap();
    assert!(problems
        .iter()
        .any(|p| p["path"].as_str() == Some("files/\u{202e}gol.exe")));
}

#[test]
fn diff_output_is_escaped() {
    let old = honest();
    let new = crafted(&painting());
    let output = Command::new(env!("CARGO_BIN_EXE_drx-collect"))
        .env_clear()
        .env("LANG", "C")
        .arg("diff")
        .arg(&old.path)
        .arg(&new.path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert_eq!(raw_controls(&output.stdout), Vec::<char>::new());
    assert_eq!(raw_controls(&output.stderr), Vec::<char>::new());
}

#[test]
fn a_host_name_cannot_forge_a_verdict_line() {
    let files = honest_resummed(|files| {
        for (path, data) in files.iter_mut() {
            if path == "index.json" {
                let mut index: serde_json::Value = serde_json::from_slice(data).unwrap();
                index["host"]["hostname"] = "node1\nforged.tgz: intact (9 files)".into();
                index["items"][0]["source"] = "/etc/hosts\n  ok forged".into();
                index["items"][0]["status"] = "failed".into();
                *data = serde_json::to_vec(&index).unwrap();
            }
        }
    });
    let bundle = crafted_tgz(&files);
    let output = bundle.inspect(&[]);
    let text = stdout(&output);
    assert!(text.lines().all(|l| !l.starts_with("forged")), "{text}");
    assert!(text.contains("node1\\nforged.tgz"), "{text}");
    assert!(text.contains("/etc/hosts\\n  ok forged"), "{text}");
}
