//! Hostile and damaged file systems: names that are not UTF-8, logs with NUL heads, FIFOs, links
//! out of `--root`, output directories other users can write, planted links and look-alike
//! bundles, commands that escape their session, leftovers of a killed run.
use crate::util::*;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A manifest file (outside the output directory) with `body` as its items.
fn manifest(f: &Fixture, body: &str) -> PathBuf {
    let path = f.bin.path().join("test-manifest.toml");
    std::fs::write(&path, format!("name = \"t\"\nos = \"linux\"\n{body}")).unwrap();
    path
}

fn collect_with(f: &Fixture, body: &str, extra: &[&str]) -> std::process::Output {
    let manifest = manifest(f, body);
    let mut args = vec!["-m", manifest.to_str().unwrap()];
    args.extend_from_slice(extra);
    let manifest_arg: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let refs: Vec<&str> = manifest_arg.iter().map(String::as_str).collect();
    f.collect(&refs)
}

/// `collect` into `out` instead of the fixture's output directory.
fn collect_into(f: &Fixture, body: &str, out: &Path) -> std::process::Output {
    let manifest = manifest(f, body);
    f.cmd()
        .arg("collect")
        .arg("--root")
        .arg(f.root.path())
        .arg("-m")
        .arg(manifest)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap()
}

/// The bytes `\xNN` / `\\` escaping stands for (the index's `source` of a non-UTF-8 name).
fn unescape(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && bytes[i + 1] == b'\\' {
            out.push(b'\\');
            i += 2;
        } else if bytes[i] == b'\\' && bytes[i + 1] == b'x' {
            out.push(u8::from_str_radix(&text[i + 2..i + 4], 16).unwrap());
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn korean_code_page_log_names_are_all_kept_under_distinct_names() {
    let f = Fixture::new();
    let logs = f.root.path().join("var/log/bsr");
    std::fs::create_dir_all(&logs).unwrap();
    let names: [&[u8]; 4] = [
        b"\xBF\xC0\xB7\xF9.log", // 오류.log, CP949
        b"\xC1\xA4\xBA\xB8.log", // 정보.log, CP949
        "오류.log".as_bytes(),   // the same text in UTF-8, beside it
        b"\xFF\xFE.log",         // neither UTF-8 nor CP949
    ];
    for (i, name) in names.iter().enumerate() {
        std::fs::write(
            logs.join(std::ffi::OsStr::from_bytes(name)),
            format!("log number {i}\n"),
        )
        .unwrap();
    }
    let output = collect_with(
        &f,
        "[[item]]\nid = \"bsr-logs\"\nfiles = [\"/var/log/bsr/**\"]\nlog = true\n",
        &[],
    );
    assert_success(&output);
    let bundle = f.bundle();
    // No two members share a name: `sha256sum -c` passes and lists every file.
    bundle.assert_verifies();
    let entries = bundle.items("bsr-logs");
    assert_eq!(entries.len(), 4, "{entries:?}");
    let mut seen = Vec::new();
    for entry in &entries {
        let path = entry["path"].as_str().unwrap();
        let content = bundle.read(path);
        seen.push(content.clone());
        // The index names the real file reversibly.
        let source = entry["source"].as_str().unwrap();
        let real = match entry.get("name_encoding").and_then(|e| e.as_str()) {
            Some(_) => unescape(source),
            None => source.as_bytes().to_vec(),
        };
        let on_disk = f.root.path().join(std::ffi::OsStr::from_bytes(&real[1..]));
        assert_eq!(
            std::fs::read_to_string(&on_disk).unwrap(),
            content,
            "{source} does not name the file stored at {path}"
        );
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 4, "a log was lost");
    assert!(bundle.exists("files/var/log/bsr/정보.log"));
}

#[test]
fn a_log_with_a_nul_head_keeps_its_text_tail() {
    let f = Fixture::new();
    let mut content = vec![0u8; 32 * 1024];
    content.extend_from_slice(
        b"Nov 24 10:00:00 node1 kernel: bsr r0: conn( Connecting -> Connected )\n",
    );
    f.file("/var/log/messages", &content);
    let output = collect_with(
        &f,
        "[[item]]\nid = \"messages\"\nfiles = [\"/var/log/messages*\"]\nlog = true\nskip_binary = true\n",
        &[],
    );
    assert_success(&output);
    let bundle = f.bundle();
    bundle.assert_verifies();
    let entry = &bundle.items("messages")[0];
    assert_eq!(entry["status"], "truncated", "{entry}");
    assert!(entry["flags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "nul-head-skipped"));
    assert_eq!(
        bundle.read("files/var/log/messages"),
        "Nov 24 10:00:00 node1 kernel: bsr r0: conn( Connecting -> Connected )\n"
    );
}

#[test]
fn a_fifo_where_a_log_should_be_is_named_and_never_blocks() {
    let f = Fixture::new();
    std::fs::create_dir_all(f.root.path().join("var/log")).unwrap();
    let fifo = f.root.path().join("var/log/messages");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let started = Instant::now();
    let output = collect_with(
        &f,
        "[[item]]\nid = \"messages\"\nfiles = [\"/var/log/messages\"]\nlog = true\n",
        &["--total-timeout", "60s"],
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_success(&output);
    let bundle = f.bundle();
    let entry = &bundle.items("messages")[0];
    assert_eq!(entry["status"], "skipped");
    let error = entry["error"].as_str().unwrap();
    assert!(error.contains("FIFO"), "{error}");
    assert!(!error.contains("no such file"), "{error}");
}

#[test]
fn root_links_never_reach_the_collecting_machine() {
    let f = Fixture::new();
    let host_secret_dir = tempfile::tempdir().unwrap();
    let host_file = host_secret_dir.path().join("host-only.conf");
    std::fs::write(&host_file, "HOST-MACHINE-CONTENT\n").unwrap();
    std::fs::create_dir_all(f.root.path().join("etc/bsr.d")).unwrap();
    f.file("/etc/passwd", "sysroot-passwd\n");
    // Absolute targets mean the sysroot's paths; `..` stops at its top.
    std::os::unix::fs::symlink("/etc/passwd", f.root.path().join("etc/bsr.d/x.res")).unwrap();
    std::os::unix::fs::symlink(&host_file, f.root.path().join("etc/bsr.d/host.res")).unwrap();
    std::os::unix::fs::symlink(
        format!("../../../../../../..{}", host_file.display()),
        f.root.path().join("etc/bsr.d/up.res"),
    )
    .unwrap();
    // A directory link to this machine's directory.
    std::os::unix::fs::symlink(host_secret_dir.path(), f.root.path().join("etc/drbd.d")).unwrap();
    let output = collect_with(
        &f,
        "[[item]]\nid = \"bsr\"\nfiles = [\"/etc/bsr.d/*.res\"]\n[[item]]\nid = \"bsr-walk\"\nfiles = [\"/etc/bsr.d/**\"]\n[[item]]\nid = \"drbd\"\nfiles = [\"/etc/drbd.d/*\", \"/etc/drbd.d/**\"]\n",
        &[],
    );
    assert_success(&output);
    let bundle = f.bundle();
    bundle.assert_verifies();
    let everything = tgz_bytes(&bundle.path);
    assert!(
        !contains(&everything, "HOST-MACHINE-CONTENT"),
        "a file of the collecting machine is in the bundle"
    );
    assert_eq!(bundle.read("files/etc/bsr.d/x.res"), "sysroot-passwd\n");
    assert!(!bundle.exists("files/etc/bsr.d/host.res"));
    assert!(!bundle.exists("files/etc/bsr.d/up.res"));
}

#[test]
fn an_output_directory_anyone_may_write_is_refused_unless_sticky() {
    let f = Fixture::new();
    let shared = f.out.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let body = "[[item]]\nid = \"hosts\"\nfiles = [\"/etc/hostname\"]\n";
    let output = collect_into(&f, body, &shared);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("sticky") && message.contains("shared"),
        "{message}"
    );
    assert_eq!(
        std::fs::read_dir(&shared).unwrap().count(),
        0,
        "wrote into it"
    );
    // /tmp-like: sticky, so names cannot be swapped under us.
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let output = collect_into(&f, body, &shared);
    assert_success(&output);
}

#[test]
fn planted_links_for_the_sidecar_and_the_lock_are_never_followed() {
    let f = Fixture::new();
    let elsewhere = tempfile::tempdir().unwrap();
    let victim = elsewhere.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    // The sidecar names of the next seconds all point at the victim.
    let now = chrono::Utc::now();
    for s in 0..20 {
        let stamp = (now + chrono::Duration::seconds(s)).format("%Y%m%dT%H%M%SZ");
        std::os::unix::fs::symlink(
            &victim,
            f.out
                .path()
                .join(format!("drx-collect-node1-{stamp}.tgz.sha256")),
        )
        .unwrap();
    }
    let body = "[[item]]\nid = \"hosts\"\nfiles = [\"/etc/hostname\"]\n";
    let output = collect_with(&f, body, &[]);
    assert_success(&output);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    f.bundle().assert_verifies();

    // A dangling lock link would create a file elsewhere (`/etc/nologin`): refused.
    let nologin = elsewhere.path().join("nologin");
    std::os::unix::fs::symlink(&nologin, f.out.path().join(".drx-collect.lock")).unwrap();
    let output = collect_with(&f, body, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(".drx-collect.lock"),
        "{}",
        stderr(&output)
    );
    assert!(!nologin.exists(), "created through the planted lock link");
}

fn sha256_line(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let sum = text.split_whitespace().next().unwrap().to_string();
    format!("{sum}  {}\n", path.file_name().unwrap().to_string_lossy())
}

#[test]
fn keep_deletes_only_bundles_it_can_prove_it_wrote() {
    let f = Fixture::new();
    let body = "[[item]]\nid = \"hosts\"\nfiles = [\"/etc/hostname\"]\n";
    let out = f.out.path();
    // Look-alikes: no sidecar, a sidecar that does not match, stray parts, a map-looking file.
    std::fs::write(
        out.join("drx-collect-node1-20200101T000000Z.tgz"),
        "mine, not yours",
    )
    .unwrap();
    std::fs::write(
        out.join("drx-collect-node1-20200102T000000Z.tgz"),
        "changed",
    )
    .unwrap();
    std::fs::write(
        out.join("drx-collect-node1-20200102T000000Z.tgz.sha256"),
        format!(
            "{}  drx-collect-node1-20200102T000000Z.tgz\n",
            "0".repeat(64)
        ),
    )
    .unwrap();
    std::fs::write(
        out.join("drx-collect-node1-20200103T000000Z.tgz.001"),
        "part",
    )
    .unwrap();
    std::fs::write(
        out.join("drx-collect-node1-20200104T000000Z.tgz.map.json"),
        "{}",
    )
    .unwrap();
    // A real old bundle: made by us, with its sidecar.
    let old = out.join("drx-collect-node1-20200105T000000Z.tgz");
    std::fs::write(&old, "an old bundle").unwrap();
    std::fs::write(
        out.join("drx-collect-node1-20200105T000000Z.tgz.sha256"),
        sha256_line(&old),
    )
    .unwrap();
    let output = collect_with(&f, body, &["--keep", "1"]);
    assert_success(&output);
    assert!(!old.exists(), "the proven old bundle was kept");
    assert!(!out
        .join("drx-collect-node1-20200105T000000Z.tgz.sha256")
        .exists());
    for survivor in [
        "drx-collect-node1-20200101T000000Z.tgz",
        "drx-collect-node1-20200102T000000Z.tgz",
        "drx-collect-node1-20200102T000000Z.tgz.sha256",
        "drx-collect-node1-20200103T000000Z.tgz.001",
        "drx-collect-node1-20200104T000000Z.tgz.map.json",
    ] {
        assert!(out.join(survivor).exists(), "{survivor} was deleted");
    }
}

#[test]
fn a_grandchild_in_its_own_session_dies_with_the_timeout() {
    let f = Fixture::new();
    let pid_file = f.bin.path().join("grandchild.pid");
    f.command(
        "hangs",
        &format!(
            "setsid sh -c 'echo $$ > {}; exec sleep 60' </dev/null >/dev/null 2>&1 &\nsleep 60",
            pid_file.display()
        ),
    );
    let output = collect_with(
        &f,
        "[[item]]\nid = \"hangs\"\ncommand = [\"hangs\"]\n",
        &["--timeout", "1s"],
    );
    assert_success(&output);
    assert_eq!(f.bundle().status("hangs"), "timeout");
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();
    let until = Instant::now() + Duration::from_secs(3);
    let alive = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            !stat
                .rsplit_once(')')
                .unwrap()
                .1
                .trim_start()
                .starts_with('Z')
        })
    };
    while alive() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(), "the setsid grandchild {pid} survived");
}

#[test]
fn a_killed_runs_leftovers_are_removed_by_the_next_run() {
    let f = Fixture::new();
    let out = f.out.path();
    let dead = std::process::Command::new("true")
        .spawn()
        .and_then(|mut c| c.wait().map(|_| c.id()))
        .unwrap();
    let stale = out.join(format!(
        ".drx-collect-node1-20200101T000000Z.tgz.part-{dead}"
    ));
    let stale_part = out.join(format!(
        ".drx-collect-node1-20200101T000000Z.tgz.part-{dead}.001"
    ));
    std::fs::write(&stale, "half a bundle").unwrap();
    std::fs::write(&stale_part, "half a part").unwrap();
    // Someone else's file with a similar name is left alone.
    std::fs::write(out.join("drx-collect-notes.part-1"), "notes").unwrap();
    let output = collect_with(
        &f,
        "[[item]]\nid = \"hosts\"\nfiles = [\"/etc/hostname\"]\n",
        &[],
    );
    assert_success(&output);
    assert!(!stale.exists() && !stale_part.exists(), "leftovers stayed");
    assert!(out.join("drx-collect-notes.part-1").exists());
}

#[test]
fn a_log_emptied_while_it_is_read_is_never_ok() {
    let f = Fixture::new();
    // Large enough that reading it takes a while; a watcher empties it (as logrotate's
    // copytruncate does) as soon as the collector is part-way through.
    let line =
        "Nov 24 10:00:00 node1 kernel: bsr r0: conn( Connecting -> Connected ) padding padding\n";
    let content = line.repeat((96 << 20) / line.len());
    f.file("/var/log/messages", &content);
    let log = f.root.path().join("var/log/messages");
    let done = f.bin.path().join("watcher.done");
    f.command(
        "rotate",
        &format!(
            r#"P=$PPID
(
  for i in $(seq 1 3000); do
    for fd in /proc/$P/fd/*; do
      if [ "$(readlink "$fd")" = "{log}" ]; then
        pos=$(sed -n 's/^pos:[[:space:]]*//p' "/proc/$P/fdinfo/${{fd##*/}}")
        if [ "${{pos:-0}}" -gt 1048576 ]; then
          : > "{log}"; echo "$pos" > "{done}"; exit 0
        fi
      fi
    done
    sleep 0.005
  done
) </dev/null >/dev/null 2>&1 &
exit 0"#,
            log = log.display(),
            done = done.display()
        ),
    );
    let output = collect_with(
        &f,
        "[[item]]\nid = \"rotate\"\ncommand = [\"rotate\"]\n[[item]]\nid = \"messages\"\nfiles = [\"/var/log/messages\"]\nlog = true\n",
        &["--max-file-size", "1GiB"],
    );
    assert_success(&output);
    assert!(done.exists(), "the watcher never saw the log being read");
    let bundle = f.bundle();
    bundle.assert_verifies();
    let entry = &bundle.items("messages")[0];
    assert_eq!(entry["status"], "truncated", "{entry}");
    assert!(
        entry["flags"]
            .as_array()
            .is_some_and(|flags| flags.iter().any(|f| f == "truncated-during-read")),
        "{entry}"
    );
    assert!(
        entry["error"].as_str().unwrap().contains("shrank"),
        "{entry}"
    );
    // What was read before the cut is kept (the watcher cut after at least 1 MiB).
    let kept = bundle.read("files/var/log/messages");
    assert!(kept.starts_with(line));
    assert!(
        kept.trim_end_matches('\n').len() > 1 << 20,
        "only {} bytes kept",
        kept.len()
    );
}

// ---- long lines and wide-looking heads (issue 24 item 20) -----------------------------------

/// The REPL-SPLIT-BRAIN finding (line, excerpt) of a bundle's index and of `inspect --json`
/// on it: the two must agree.
fn split_brain_at(bundle: &Bundle) -> Option<(u64, String)> {
    let of = |findings: &serde_json::Value| {
        findings.as_array().unwrap().iter().find_map(|f| {
            (f["rule"] == "REPL-SPLIT-BRAIN").then(|| {
                (
                    f["line"].as_u64().unwrap_or(0),
                    f["excerpt"].as_str().unwrap_or("").to_string(),
                )
            })
        })
    };
    let collected = of(&bundle.index["findings"]);
    let output = inspect(&[bundle.path.as_os_str(), std::ffi::OsStr::new("--json")]);
    assert_success(&output);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        of(&value["findings"]),
        collected,
        "collect and inspect disagree"
    );
    collected
}

/// A split brain logged far into a line, after a line longer than any buffer, across the
/// place where a long line is cut, or after a first line that only looks like UTF-16, is
/// found at its real line number by collect and by inspect (`grep -n` finds it there too).
#[test]
fn rules_see_whole_lines_at_their_real_numbers() {
    const MIB: usize = 1 << 20;
    let needle = "kernel: drbd r0: Split-Brain detected but unresolved, dropping connection!";
    let line = |prefix: usize| {
        let mut text = "Nov 24 10:00:00 node1 ".to_string();
        text.push_str(&"x".repeat(prefix));
        text.push(' ');
        text.push_str(needle);
        text
    };
    let cases: Vec<(&str, Vec<u8>, u64)> = vec![
        // At byte ~5,000 of a line.
        (
            "past 4 KiB",
            format!("first\n{}\nlast\n", line(5_000)).into_bytes(),
            2,
        ),
        // After lines over 1 MiB (3 MiB and 1 MiB + 1).
        (
            "after long lines",
            format!(
                "a\n{}\n{}\nb\n{}\n",
                "y".repeat(3 * MIB),
                "z".repeat(MIB + 1),
                line(10)
            )
            .into_bytes(),
            5,
        ),
        // Across the 1 MiB and the 2 MiB cut of a 3 MiB line.
        (
            "across a cut",
            format!("a\n{}\n", line(MIB - 40)).into_bytes(),
            2,
        ),
        (
            "across the second cut",
            format!("a\n{}{}\n", line(2 * MIB - 60), "w".repeat(MIB)).into_bytes(),
            2,
        ),
        // A first line that looks like UTF-16LE, then plain text.
        (
            "wide-looking head",
            [b"a\0b\0c\0d\0\n".as_slice(), line(0).as_bytes(), b"\n"].concat(),
            2,
        ),
    ];
    for (what, content, expected_line) in cases {
        let f = Fixture::new();
        f.file("/var/log/messages", &content);
        let output = collect_with(
            &f,
            "[[item]]\nid = \"messages\"\nfiles = [\"/var/log/messages\"]\nlog = true\n",
            &[],
        );
        assert_success(&output);
        let bundle = f.bundle();
        let found = split_brain_at(&bundle);
        let (line_no, excerpt) = found.unwrap_or_else(|| panic!("{what}: not found"));
        assert_eq!(line_no, expected_line, "{what}");
        assert!(
            excerpt.contains("Split-Brain detected"),
            "{what}: {excerpt:?}"
        );
        // grep -n agrees on the line.
        let grep = std::process::Command::new("grep")
            .args(["-n", "-a", "Split-Brain detected"])
            .arg(f.root.path().join("var/log/messages"))
            .output()
            .unwrap();
        let grep = String::from_utf8_lossy(&grep.stdout);
        assert!(
            grep.starts_with(&format!("{expected_line}:")),
            "{what}: grep"
        );
    }
}
