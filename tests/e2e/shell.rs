//! Shell conventions: completions, manual pages, --color / NO_COLOR.
use crate::util::*;
use std::process::Command;

#[test]
fn bash_and_zsh_completions_know_the_commands_and_options() {
    let fx = Fixture::new();
    let bash = fx.cmd().args(["completions", "bash"]).output().unwrap();
    assert_success(&bash);
    let script = stdout(&bash);
    for word in [
        "inspect",
        "--encrypt-to",
        "--identity",
        "--case-id",
        "completions",
    ] {
        assert!(script.contains(word), "bash completion lacks {word}");
    }
    // The real bash parses it and defines the completion function.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("drx-collect.bash");
    std::fs::write(&file, &script).unwrap();
    let check = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}' && complete -p drx-collect",
            file.display()
        ))
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", stderr(&check));
    assert!(stdout(&check).contains("drx-collect"), "{}", stdout(&check));

    let zsh = fx.cmd().args(["completions", "zsh"]).output().unwrap();
    assert_success(&zsh);
    assert!(stdout(&zsh).starts_with("#compdef drx-collect"));
    let bad = fx.cmd().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn man_pages_render_with_the_real_man() {
    let fx = Fixture::new();
    let dir = tempfile::tempdir().unwrap();
    let out = fx
        .cmd()
        .args(["man", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_success(&out);
    for page in [
        "drx-collect.1",
        "drx-collect-collect.1",
        "drx-collect-inspect.1",
        "drx-collect-diff.1",
        "drx-collect-schedule.1",
    ] {
        assert!(dir.path().join(page).is_file(), "{page} missing");
    }
    let shown = Command::new("man")
        .arg("-l")
        .arg(dir.path().join("drx-collect.1"))
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "0")
        .output()
        .expect("man (Debian package man-db) is needed");
    assert!(shown.status.success(), "{}", stderr(&shown));
    let text = String::from_utf8_lossy(&shown.stdout).replace("\u{8}", "");
    assert!(text.contains("drx-collect"), "{text}");
    assert!(text.contains("encrypt"), "{text}");
    let stdout_page = fx.cmd().arg("man").output().unwrap();
    assert_success(&stdout_page);
    assert!(
        stdout(&stdout_page).starts_with(".ie"),
        "{}",
        stdout(&stdout_page)
    );
}

fn bom_bundle(fx: &Fixture) -> std::path::PathBuf {
    fx.file("/etc/bsr.d/r0.res", "\u{feff}resource r0 {\n}\n");
    assert_success(&fx.collect(&[]));
    fx.bundles().remove(0)
}

#[test]
fn colour_only_when_asked_or_on_a_terminal_and_never_with_no_color_auto() {
    let fx = Fixture::new();
    let bundle = bom_bundle(&fx);
    let run = |args: &[&str], no_color: bool| {
        let mut cmd = fx.cmd();
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        cmd.arg("inspect").arg(&bundle).args(args).output().unwrap()
    };
    // Not a terminal: no escape codes by default.
    let plain = run(&[], false);
    assert_success(&plain);
    assert!(!stdout(&plain).contains('\u{1b}'));
    assert!(stdout(&plain).contains("[ERROR] CONFIG-BOM"));
    let always = run(&["--color", "always"], false);
    assert!(
        stdout(&always).contains("\u{1b}[1;31m[ERROR]\u{1b}[0m CONFIG-BOM"),
        "{}",
        stdout(&always)
    );
    // --color goes anywhere on the line (global), and an explicit choice beats NO_COLOR.
    let never = run(&["--color=never"], true);
    assert!(!stdout(&never).contains('\u{1b}'));
    let forced = run(&["--color=always"], true);
    assert!(stdout(&forced).contains('\u{1b}'));
    // JSON never gets colour.
    let json = run(&["--json", "--color=always"], false);
    assert!(!stdout(&json).contains('\u{1b}'));
    // SUMMARY.txt inside a bundle written with --color always has none.
    let fx2 = Fixture::new();
    fx2.file("/etc/bsr.d/r0.res", "\u{feff}resource r0 {\n}\n");
    assert_success(&fx2.collect(&["--color", "always"]));
    assert!(!fx2.bundle().read("SUMMARY.txt").contains('\u{1b}'));
}

/// Validates `document` against docs/schema/`schema` with Python's jsonschema (Debian
/// python3-jsonschema), through docs/schema/validate.py.
pub(crate) fn assert_valid(schema: &str, document: &[u8]) {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doc.json");
    std::fs::write(&file, document).unwrap();
    let out = Command::new("python3")
        .arg(repo.join("docs/schema/validate.py"))
        .arg(repo.join("docs/schema").join(schema))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{schema}: {}\n{}",
        stderr(&out),
        String::from_utf8_lossy(document)
    );
}

#[test]
fn json_outputs_follow_the_published_schemas() {
    let fx = Fixture::new();
    fx.file(
        "/etc/bsr.d/r0.res",
        "\u{feff}resource r0 {\n  net { shared-secret \"s3\"; }\n}\n",
    );
    let out = fx.collect(&["--json", "--case-id", "CS-1", "--label", "before"]);
    assert_success(&out);
    assert_valid("collect.schema.json", &out.stdout);
    let bundle = fx.bundle();
    assert_valid(
        "index.schema.json",
        &std::fs::read(bundle.top.join("index.json")).unwrap(),
    );
    let out = inspect(&[bundle.path.as_os_str(), "--json".as_ref()]);
    assert_success(&out);
    assert_valid("inspect.schema.json", &out.stdout);
    // A pair, and a damaged bundle (problems present, exit 3).
    let out = inspect(&[
        bundle.path.as_os_str(),
        bundle.path.as_os_str(),
        "--json".as_ref(),
    ]);
    assert_valid("inspect.schema.json", &out.stdout);
    std::fs::write(bundle.top.join("files/etc/bsr.d/r0.res"), "changed\n").unwrap();
    let out = inspect(&[bundle.top.as_os_str(), "--json".as_ref()]);
    assert_eq!(out.status.code(), Some(3));
    assert_valid("inspect.schema.json", &out.stdout);
    // An input that is no bundle at all: still one report, the input in its problems, exit 1.
    let not_a_bundle = fx.out.path().join("mail-footer.tgz");
    std::fs::write(&not_a_bundle, "-- \nSent from my phone\n").unwrap();
    let out = inspect(&[not_a_bundle.as_os_str(), "--json".as_ref()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_valid("inspect.schema.json", &out.stdout);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["integrity"]["ok"], false);
    assert!(report["integrity"]["problems"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("not a bundle"));
    // The validator does reject what does not fit.
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        br#"{"bundles": [], "integrity": {"ok": true}, "findings": []}"#,
    )
    .unwrap();
    let rejected = Command::new("python3")
        .arg(repo.join("docs/schema/validate.py"))
        .arg(repo.join("docs/schema/inspect.schema.json"))
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!rejected.status.success());
}
