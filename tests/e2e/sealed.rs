//! `--encrypt-to` / `--identity`: NAME.tgz.age written in the stream, opened by the vendor's key
//! only, and checked with the real `age` (Debian's age 1.1) and `ssh-keygen` keys.
use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A vendor key pair made by the real age-keygen: (identity file, public key).
pub(crate) fn age_keygen(dir: &Path) -> (PathBuf, String) {
    let identity = dir.join("vendor.key");
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&identity)
        .output()
        .expect("age-keygen (Debian package age) is needed");
    assert!(out.status.success());
    let public = Command::new("age-keygen")
        .arg("-y")
        .arg(&identity)
        .output()
        .unwrap();
    (identity, stdout(&public).trim().to_string())
}

fn ssh_keygen(dir: &Path, kind: &str) -> (PathBuf, String) {
    let key = dir.join(format!("id_{kind}"));
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-q", "-t", kind, "-N", "", "-C", "vendor@example", "-f"])
        .arg(&key);
    if kind == "rsa" {
        cmd.args(["-b", "2048"]);
    }
    assert!(cmd.status().unwrap().success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    (key, public.trim().to_string())
}

fn sealed_files(fx: &Fixture) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(fx.out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    found.sort();
    found
}

/// A node whose config holds a secret, so the fail-closed read-back has something to look for.
fn node() -> Fixture {
    let fx = Fixture::new();
    fx.file(
        "/etc/bsr.d/r0.res",
        "resource r0 {\n  net {\n    shared-secret \"Sup3rS3cret\";\n  }\n}\n",
    );
    fx
}

#[test]
fn encrypted_bundle_opens_with_the_vendor_key_only_and_with_the_real_age() {
    let fx = node();
    let keys = tempfile::tempdir().unwrap();
    let (identity, public) = age_keygen(keys.path());
    let out = fx.collect(&["--encrypt-to", &public, "--case-id", "CS-7"]);
    assert_success(&out);
    // Only NAME.tgz.age and its sidecar: no clear bundle, no temporary file left.
    let files = sealed_files(&fx);
    assert_eq!(files.len(), 2, "{files:?}");
    let sealed = files
        .iter()
        .find(|p| p.to_string_lossy().ends_with(".tgz.age"))
        .unwrap();
    let name = sealed.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("drx-collect-node1-CS-7-"), "{name}");
    assert!(stdout(&out).contains(&name), "{}", stdout(&out));
    let bytes = std::fs::read(sealed).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1\n"));
    assert!(!contains(&bytes, "index.json") && !contains(&bytes, "node1\n"));
    // The sidecar is over the encrypted file.
    let check = Command::new("sha256sum")
        .args(["-c", "--strict", &format!("{name}.sha256")])
        .current_dir(fx.out.path())
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", stdout(&check));

    // The real age decrypts it to a tgz that tar reads, with the secret redacted.
    let clear = fx.out.path().join("clear.tgz");
    let dec = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&identity)
        .arg("-o")
        .arg(&clear)
        .arg(sealed)
        .output()
        .unwrap();
    assert!(dec.status.success(), "age -d: {}", stderr(&dec));
    let plain = tgz_bytes(&clear);
    assert!(contains(&plain, "[REDACTED]") && !contains(&plain, "Sup3rS3cret"));
    std::fs::remove_file(&clear).unwrap();

    // inspect with the identity: intact, case shown; --list and --cat decrypt in the stream.
    let shown = fx
        .cmd()
        .arg("inspect")
        .arg(sealed)
        .arg("--identity")
        .arg(&identity)
        .output()
        .unwrap();
    assert_success(&shown);
    assert!(stdout(&shown).contains(": intact ("), "{}", stdout(&shown));
    assert!(
        stdout(&shown).contains("case       CS-7"),
        "{}",
        stdout(&shown)
    );
    let cat = fx
        .cmd()
        .args(["inspect", "--cat", "files/etc/bsr.d/r0.res", "-i"])
        .arg(&identity)
        .arg(sealed)
        .output()
        .unwrap();
    assert_success(&cat);
    assert!(
        stdout(&cat).contains("shared-secret \"[REDACTED]\""),
        "{}",
        stdout(&cat)
    );

    // Without an identity: a usage error saying what to give.
    let bare = fx.cmd().arg("inspect").arg(sealed).output().unwrap();
    assert_eq!(bare.status.code(), Some(2), "{}", stderr(&bare));
    assert!(stderr(&bare).contains("--identity"), "{}", stderr(&bare));

    // Another key: exit 3, one sentence, --extract writes nothing.
    let elsewhere = tempfile::tempdir().unwrap();
    let (other, _) = age_keygen(elsewhere.path());
    let target = fx.out.path().join("unpacked");
    let wrong = fx
        .cmd()
        .arg("inspect")
        .arg(sealed)
        .arg("--identity")
        .arg(&other)
        .arg("--extract")
        .arg(&target)
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(3), "{}", stderr(&wrong));
    assert_eq!(stderr(&wrong).lines().count(), 1, "{}", stderr(&wrong));
    assert!(
        stderr(&wrong).contains("not encrypted to the key"),
        "{}",
        stderr(&wrong)
    );
    assert!(!target.exists());
}

#[test]
fn truncated_or_tampered_bundles_exit_3_and_write_nothing() {
    let fx = node();
    let keys = tempfile::tempdir().unwrap();
    let (identity, public) = age_keygen(keys.path());
    assert_success(&fx.collect(&["--encrypt-to", &public]));
    let sealed = sealed_files(&fx)
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(".age"))
        .unwrap();
    let whole = std::fs::read(&sealed).unwrap();
    let damaged = keys.path().join("damaged.tgz.age");
    let mut flipped = whole.clone();
    let at = whole.len() - 100;
    flipped[at] ^= 0x01;
    for (what, bytes) in [
        ("truncated", whole[..whole.len() - 17].to_vec()),
        ("altered", flipped),
    ] {
        std::fs::write(&damaged, &bytes).unwrap();
        let target = keys.path().join(format!("x-{what}"));
        let html = keys.path().join(format!("{what}.html"));
        for extra in [
            vec!["--extract".to_string(), target.display().to_string()],
            vec!["--html".to_string(), html.display().to_string()],
            vec!["--cat".to_string(), "index.json".to_string()],
        ] {
            let out = fx
                .cmd()
                .arg("inspect")
                .arg(&damaged)
                .arg("-i")
                .arg(&identity)
                .args(&extra)
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(3),
                "{what} {extra:?}: {}",
                stderr(&out)
            );
            assert!(out.stdout.is_empty(), "{what} {extra:?} printed something");
            assert!(!target.exists() && !html.exists());
        }
        let out = fx
            .cmd()
            .arg("diff")
            .arg(&sealed)
            .arg(&damaged)
            .arg("-i")
            .arg(&identity)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "diff {what}: {}", stderr(&out));
    }
}

#[test]
fn ssh_keys_recipient_files_the_environment_and_the_manifest_all_work() {
    let keys = tempfile::tempdir().unwrap();
    let (ed_key, ed_pub) = ssh_keygen(keys.path(), "ed25519");
    let (rsa_key, rsa_pub) = ssh_keygen(keys.path(), "rsa");
    let (age_key, age_pub) = age_keygen(keys.path());
    let list = keys.path().join("vendor.recipients");
    std::fs::write(&list, format!("# support team\n{ed_pub}\n\n{rsa_pub}\n")).unwrap();

    // @FILE + the environment variable: each key alone opens the bundle.
    let fx = node();
    let mut cmd = fx.cmd();
    cmd.env("DRX_COLLECT_ENCRYPT_TO", &age_pub)
        .arg("collect")
        .arg("--root")
        .arg(fx.root.path())
        .arg("-o")
        .arg(fx.out.path())
        .arg("--encrypt-to")
        .arg(format!("@{}", list.display()));
    assert_success(&cmd.output().unwrap());
    let sealed = sealed_files(&fx)
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(".age"))
        .unwrap();
    for key in [&ed_key, &rsa_key, &age_key] {
        let out = fx
            .cmd()
            .arg("inspect")
            .arg("-q")
            .arg(&sealed)
            .arg("-i")
            .arg(key)
            .output()
            .unwrap();
        assert_success(&out);
        // The real age opens it with the SSH key too.
        let dec = Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(key)
            .arg(&sealed)
            .output()
            .unwrap();
        assert!(
            dec.status.success(),
            "age -d -i {}: {}",
            key.display(),
            stderr(&dec)
        );
    }

    // A vendor manifest's encrypt_to.
    let fx = node();
    let manifest = keys.path().join("vendor.toml");
    std::fs::write(
        &manifest,
        format!(
            "name = \"vendor\"\nos = \"linux\"\nencrypt_to = [\"{age_pub}\"]\n\n[[item]]\nid = \"bsr-config\"\nfiles = [\"/etc/bsr.d/**\"]\n"
        ),
    )
    .unwrap();
    let out = fx.collect(&["-m", manifest.to_str().unwrap()]);
    assert_success(&out);
    let sealed = sealed_files(&fx)
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(".tgz.age"))
        .expect("the manifest's encrypt_to made a .tgz.age");
    let out = fx
        .cmd()
        .arg("inspect")
        .arg(&sealed)
        .arg("-i")
        .arg(&age_key)
        .output()
        .unwrap();
    assert_success(&out);
}

#[test]
fn encryption_usage_errors_are_clear() {
    let fx = node();
    let keys = tempfile::tempdir().unwrap();
    let (identity, public) = age_keygen(keys.path());
    let secret_line = std::fs::read_to_string(&identity)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_string();
    for (args, says) in [
        (
            vec!["--encrypt-to", "age1notakey"],
            "not a valid age public key",
        ),
        (vec!["--encrypt-to", &secret_line], "private key"),
        (vec!["--encrypt-to", &public, "--split", "1MiB"], "--split"),
        (vec!["--encrypt-to", &public, "--format", "zip"], "zip"),
        (
            vec!["--encrypt-to", "@/nonexistent/keys"],
            "/nonexistent/keys",
        ),
    ] {
        let out = fx.collect(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        // A private key given by mistake is never echoed.
        assert!(
            !stderr(&out).contains(&secret_line[20..]),
            "{}",
            stderr(&out)
        );
        assert!(sealed_files(&fx).is_empty());
    }
    // -o NAME.tgz.age names the encrypted file.
    let named = fx.out.path().join("case7.tgz.age");
    let out = fx
        .cmd()
        .arg("collect")
        .arg("--root")
        .arg(fx.root.path())
        .args(["--encrypt-to", &public, "-o"])
        .arg(&named)
        .output()
        .unwrap();
    assert_success(&out);
    assert!(named.is_file() && !fx.out.path().join("case7.tgz").exists());
}

#[test]
fn the_fail_closed_leak_check_reads_the_encrypted_bundle_back() {
    let fx = node();
    // The secret also appears in free text, where no key announces it: the read-back must find it
    // inside the encrypted stream (with the run's own key) and delete the .tgz.age.
    fx.file(
        "/var/log/messages",
        "Nov 20 10:00:00 node1 app: debug dump Sup3rS3cret end\n",
    );
    let keys = tempfile::tempdir().unwrap();
    let (_, public) = age_keygen(keys.path());
    let out = fx.collect(&["--encrypt-to", &public]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("leaked"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("Sup3rS3cret"));
    assert!(sealed_files(&fx).is_empty(), "{:?}", sealed_files(&fx));
}

/// `cmd` run to its end, or killed and the test failed after `limit`.
#[cfg(unix)]
fn within(mut cmd: Command, limit: std::time::Duration) -> std::process::Output {
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Issue 24 item 23: a key file that is a FIFO (nobody ever writes it) or a device is refused
/// at once, with a sentence naming it, for `--identity` and for `--encrypt-to @FILE`.
#[cfg(unix)]
#[test]
fn key_files_that_are_fifos_or_devices_are_refused_not_waited_on() {
    let fx = node();
    let keys = tempfile::tempdir().unwrap();
    let fifo = keys.path().join("vendor.key");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let limit = std::time::Duration::from_secs(20);
    for key in [fifo.as_path(), Path::new("/dev/zero")] {
        let mut cmd = fx.cmd();
        cmd.arg("inspect")
            .arg("--identity")
            .arg(key)
            .arg(fx.root.path());
        let out = within(cmd, limit);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&key.display().to_string()),
            "{}",
            stderr(&out)
        );
        assert!(stderr(&out).contains("not a key file"), "{}", stderr(&out));

        let mut cmd = fx.cmd();
        cmd.arg("collect")
            .arg("--root")
            .arg(fx.root.path())
            .arg("-o")
            .arg(fx.out.path())
            .arg("--encrypt-to")
            .arg(format!("@{}", key.display()));
        let out = within(cmd, limit);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&key.display().to_string()),
            "{}",
            stderr(&out)
        );
        assert!(stderr(&out).contains("not a key file"), "{}", stderr(&out));
        assert!(sealed_files(&fx).is_empty());
    }
}

/// `age -a` (ASCII armor, what a mail or a ticket system passes through) is read like the binary
/// form: the real age armors a bundle, inspect and diff open it, and damaged armor is an
/// integrity failure (3), not a read error.
#[test]
fn ascii_armored_age_files_made_by_the_real_age_are_read() {
    let fx = node();
    let keys = tempfile::tempdir().unwrap();
    let (identity, public) = age_keygen(keys.path());
    assert_success(&fx.collect(&["--quiet"]));
    let clear = fx.bundles()[0].clone();
    let armored = keys.path().join("bundle.tgz.age");
    let made = Command::new("age")
        .args(["-a", "-r", &public, "-o"])
        .arg(&armored)
        .arg(&clear)
        .output()
        .unwrap();
    assert!(made.status.success(), "age -a: {}", stderr(&made));
    let text = std::fs::read_to_string(&armored).unwrap();
    assert!(
        text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"),
        "{text}"
    );

    let inspect = |path: &Path| {
        fx.cmd()
            .arg("inspect")
            .arg(path)
            .arg("-i")
            .arg(&identity)
            .output()
            .unwrap()
    };
    let shown = inspect(&armored);
    assert_success(&shown);
    assert!(stdout(&shown).contains(": intact ("), "{}", stdout(&shown));
    let cat = fx
        .cmd()
        .arg("inspect")
        .arg(&armored)
        .args(["-i"])
        .arg(&identity)
        .args(["--cat", "files/etc/bsr.d/r0.res"])
        .output()
        .unwrap();
    assert_success(&cat);
    assert!(stdout(&cat).contains("[REDACTED]"), "{}", stdout(&cat));
    // diff: the armored snapshot against the clear one is the same snapshot.
    let diff = fx
        .cmd()
        .args(["diff", "--exit-code", "-i"])
        .arg(&identity)
        .arg(&clear)
        .arg(&armored)
        .output()
        .unwrap();
    assert_eq!(diff.status.code(), Some(0), "{}", stderr(&diff));

    // Damage: a base64 character changed in the body, the END line cut off, a begin line with
    // garbage after it.
    let lines: Vec<&str> = text.lines().collect();
    let middle = lines.len() / 2;
    let mut flipped: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let line = &mut flipped[middle];
    let swapped = if line.starts_with('A') { "B" } else { "A" };
    line.replace_range(0..1, swapped);
    let cut = lines[..lines.len() - 1].join("\n") + "\n";
    let bad_begin = text.replacen("-----\n", "-----x\n", 1);
    for (what, body) in [
        ("altered", flipped.join("\n") + "\n"),
        ("truncated", cut),
        ("bad begin line", bad_begin),
    ] {
        let damaged = keys.path().join("damaged.tgz.age");
        std::fs::write(&damaged, body).unwrap();
        let out = inspect(&damaged);
        assert_eq!(out.status.code(), Some(3), "{what}: {}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1, "{what}: {}", stderr(&out));
    }
}
