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
    // The sections a person looks for (issue 28 item 4), each as man shows it, with what it
    // should say; groff has nothing to warn about.
    for (page, says) in [
        ("drx-collect.1", "drx-collect --peer node2"),
        (
            "drx-collect-inspect.1",
            "drx-collect inspect --lang ko B.tgz",
        ),
        ("drx-collect-cases.1", "drx-collect cases show 3"),
    ] {
        let shown = Command::new("man")
            .args(["--warnings", "-l"])
            .arg(dir.path().join(page))
            .env("MANWIDTH", "100")
            .env("MAN_KEEP_FORMATTING", "0")
            .output()
            .unwrap();
        assert!(shown.status.success(), "{}", stderr(&shown));
        assert_eq!(stderr(&shown), "", "{page}: groff warns");
        let text = without_overstrike(&String::from_utf8_lossy(&shown.stdout));
        let headings: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with(' ') && !l.is_empty())
            .collect();
        for section in [
            "EXAMPLES",
            "EXIT STATUS",
            "ENVIRONMENT",
            "FILES",
            "SEE ALSO",
        ] {
            assert!(
                headings.contains(&section),
                "{page}: no {section} in {headings:?}"
            );
        }
        assert!(text.contains(says), "{page}: {text}");
        for word in [
            "DRX_COLLECT_ENCRYPT_TO",
            "TMPDIR",
            "LANG",
            "/etc/cron.d/drx-collect",
        ] {
            assert!(text.contains(word), "{page} lacks {word}");
        }
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with("3") && l.contains("Integrity")),
            "{page}: exit status 3"
        );
        assert!(
            !text.contains("Examples:"),
            "{page}: the examples stay in EXAMPLES"
        );
        let see_also = &text[text.find("\nSEE ALSO").unwrap()..];
        let other = if page == "drx-collect.1" {
            "drx-collect-inspect(1)"
        } else {
            "drx-collect(1)"
        };
        assert!(see_also.contains(other), "{page}: {see_also}");
        assert!(see_also.contains("drbdadm(8)"), "{page}: {see_also}");
    }
    let stdout_page = fx.cmd().arg("man").output().unwrap();
    assert_success(&stdout_page);
    assert!(
        stdout(&stdout_page).starts_with(".ie"),
        "{}",
        stdout(&stdout_page)
    );
}

/// man's output to a pipe as plain text: `X\bX` (bold) and `_\bX` (underline) become `X`.
fn without_overstrike(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c == '\u{8}' {
            out.pop();
        } else {
            out.push(c);
        }
    }
    out
}

/// `help COMMAND` is `COMMAND --help`; each has examples, and the options sit under headings.
#[test]
fn help_subcommand_examples_and_headings() {
    let fx = Fixture::new();
    for (words, headings) in [
        (
            &["inspect"][..],
            &["Output:", "Files:", "Privacy:", "Examples:"][..],
        ),
        (&["cases", "search"][..], &["Options:"][..]),
        (
            &["collect"][..],
            &["Output:", "Collection:", "Privacy:", "Peer:", "Examples:"][..],
        ),
    ] {
        let help = fx.cmd().arg("help").args(words).output().unwrap();
        assert_success(&help);
        let flag = fx.cmd().args(words).arg("--help").output().unwrap();
        assert_success(&flag);
        assert_eq!(stdout(&help), stdout(&flag), "help {words:?}");
        for heading in headings {
            assert!(
                stdout(&help).lines().any(|l| l == *heading),
                "help {words:?}: no {heading}\n{}",
                stdout(&help)
            );
        }
    }
    let top = fx.cmd().arg("--help").output().unwrap();
    assert!(
        stdout(&top).contains("drx-collect help inspect"),
        "{}",
        stdout(&top)
    );
    let unknown = fx.cmd().args(["help", "nonsense"]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
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

/// What a person types, and what the shell must then show (issue 28 item 2): a subcommand's
/// subcommands, a subcommand's options, an option's values, and `help COMMAND`.
const COMPLETIONS: &[(&str, &[&str])] = &[
    ("drx-collect cases s", &["search", "set", "show", "stats"]),
    ("drx-collect inspect --j", &["--json"]),
    ("drx-collect inspect --lang ", &["en", "ko"]),
    ("drx-collect --lang ", &["en", "ko"]),
    ("drx-collect cases search --li", &["--limit"]),
    ("drx-collect help ins", &["inspect"]),
];

fn completion_file(dir: &std::path::Path, shell: &str) -> std::path::PathBuf {
    let out = Command::new(BIN)
        .args(["completions", shell])
        .output()
        .unwrap();
    assert_success(&out);
    let file = dir.join(format!("drx-collect.{shell}"));
    std::fs::write(&file, &out.stdout).unwrap();
    file
}

/// The words on a screen; zsh completes `--limit` as `--limit=`.
fn words(text: &str) -> std::collections::BTreeSet<String> {
    text.split_whitespace()
        .map(|w| w.trim_end_matches('=').to_string())
        .collect()
}

/// bash as `complete -F` calls it: COMP_WORDS/COMP_CWORD set, the registered function run.
#[test]
fn bash_completes_at_every_level() {
    let dir = tempfile::tempdir().unwrap();
    let file = completion_file(dir.path(), "bash");
    for (line, expected) in COMPLETIONS {
        let script = format!(
            r#"[ -r /usr/share/bash-completion/bash_completion ] && source /usr/share/bash-completion/bash_completion
source '{}'
fn=$(complete -p drx-collect | sed -n 's/.*-F \([^ ]*\).*/\1/p')
read -ra COMP_WORDS <<< "$LINE"
[[ "$LINE" == *' ' ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="$LINE"; COMP_POINT=${{#LINE}}
"$fn" drx-collect "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
            file.display()
        );
        let out = Command::new("timeout")
            .args(["20", "bash", "--norc", "--noprofile", "-c", &script])
            .env("LINE", line)
            .output()
            .unwrap();
        assert!(out.status.success(), "{line}: {}", stderr(&out));
        let got = words(&stdout(&out));
        let want = words(&expected.join(" "));
        assert_eq!(got, want, "bash: {line}<TAB>");
    }
}

/// fish's own completion engine: `complete -C LINE`.
#[test]
fn fish_completes_at_every_level() {
    let dir = tempfile::tempdir().unwrap();
    let file = completion_file(dir.path(), "fish");
    for (line, expected) in COMPLETIONS {
        let out = Command::new("timeout")
            .args(["20", "fish", "--no-config", "-c"])
            .arg(format!(
                "source '{}'; complete -C \"$LINE\"",
                file.display()
            ))
            .env("LINE", line)
            .current_dir(dir.path())
            .output()
            .expect("fish (Debian package fish) is needed");
        assert!(out.status.success(), "{line}: {}", stderr(&out));
        let got: std::collections::BTreeSet<String> = stdout(&out)
            .lines()
            .map(|l| l.split('\t').next().unwrap_or("").to_string())
            .collect();
        let want = words(&expected.join(" "));
        assert_eq!(got, want, "fish: {line}<TAB>");
    }
}

/// One interactive shell in a tmux of its own; killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(shell: &[&str], env: &[(&str, String)]) -> Tmux {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let socket = format!(
            "drx-e2e-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let mut command = Command::new("tmux");
        command.args([
            "-L",
            &socket,
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            "160",
            "-y",
            "40",
        ]);
        for (name, value) in env {
            command.args(["-e", &format!("{name}={value}")]);
        }
        command.args(shell);
        let out = command
            .output()
            .expect("tmux (Debian package tmux) is needed");
        assert!(out.status.success(), "tmux: {}", stderr(&out));
        Tmux { socket }
    }

    fn send(&self, keys: &[&str]) {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys"])
            .args(keys)
            .output()
            .unwrap();
        assert!(out.status.success(), "tmux send-keys: {}", stderr(&out));
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p"])
            .output()
            .unwrap();
        stdout(&out)
    }

    /// The screen once `done` holds, within 15 s (checked 300 times at most).
    fn wait_for(&self, done: impl Fn(&str) -> bool) -> Result<String, String> {
        let mut screen = String::new();
        for _ in 0..300 {
            screen = self.screen();
            if done(&screen) {
                return Ok(screen);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Err(screen)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// Type each line into a real interactive shell under tmux, press TAB (`tabs` times), and
/// read the screen: what a person would see.
fn drive(shell: &str, argv: &[&str], env: &[(&str, String)], tabs: usize) {
    const PROMPT: &str = "drx-test-ready> ";
    for (line, expected) in COMPLETIONS {
        let tmux = Tmux::start(argv, env);
        tmux.wait_for(|s| s.contains(PROMPT.trim_end()))
            .unwrap_or_else(|s| panic!("{shell} did not start:\n{s}"));
        tmux.send(&["-l", line]);
        for _ in 0..tabs {
            tmux.send(&["Tab"]);
        }
        let want = words(&expected.join(" "));
        let seen = tmux.wait_for(|screen| want.is_subset(&words(screen)));
        if let Err(screen) = seen {
            panic!("{shell}: {line}<TAB> shows no {want:?}:\n{screen}");
        }
    }
}

#[test]
fn bash_zsh_and_fish_complete_interactively_under_tmux() {
    let dir = tempfile::tempdir().unwrap();
    let bin_dir = std::path::Path::new(BIN).parent().unwrap();
    let path = format!("{}:/usr/bin:/bin", bin_dir.display());
    let home = dir.path().to_path_buf();
    let env = vec![
        ("PATH", path),
        ("HOME", home.display().to_string()),
        ("TERM", "xterm".to_string()),
    ];

    let bash = completion_file(dir.path(), "bash");
    let rc = dir.path().join("bashrc");
    std::fs::write(
        &rc,
        format!(
            "[ -r /usr/share/bash-completion/bash_completion ] && source /usr/share/bash-completion/bash_completion\nsource '{}'\nPS1='drx-test-ready> '\n",
            bash.display()
        ),
    )
    .unwrap();
    let rc_arg = rc.display().to_string();
    drive(
        "bash",
        &[
            "timeout",
            "60",
            "bash",
            "--noprofile",
            "--rcfile",
            &rc_arg,
            "-i",
        ],
        &env,
        2,
    );

    let zsh = completion_file(dir.path(), "zsh");
    let zdot = dir.path().join("zdot");
    std::fs::create_dir(&zdot).unwrap();
    std::fs::write(
        zdot.join(".zshrc"),
        format!(
            "autoload -U compinit && compinit -u -D\nsource '{}'\nPS1='drx-test-ready> '\n",
            zsh.display()
        ),
    )
    .unwrap();
    let mut zsh_env = env.clone();
    zsh_env.push(("ZDOTDIR", zdot.display().to_string()));
    drive("zsh", &["timeout", "60", "zsh", "-i"], &zsh_env, 1);

    let fish = completion_file(dir.path(), "fish");
    let init = format!(
        "source '{}'; function fish_prompt; echo -n 'drx-test-ready> '; end; set -g fish_greeting",
        fish.display()
    );
    drive(
        "fish",
        &[
            "timeout",
            "60",
            "fish",
            "--no-config",
            "--init-command",
            &init,
        ],
        &env,
        1,
    );
}
