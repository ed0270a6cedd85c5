//! `inspect A B --html`: the case report of two fixture bundles, checked as text and rendered in
//! headless Chromium (Debian's `chromium`; scripts/test.sh installs it).
use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const RES: &str = "resource r0 {\n  on node1 {\n    device /dev/bsr0;\n    disk /dev/sdb1;\n    \
address 10.0.0.1:7788;\n    meta-disk internal;\n  }\n  on node2 {\n    device /dev/bsr0;\n    \
disk /dev/sdb1;\n    address 10.0.0.2:7788;\n    meta-disk internal;\n  }\n}\n";

fn node1() -> Fixture {
    let f = Fixture::new();
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(RES.as_bytes());
    f.file("/etc/bsr.d/r0.res", bom)
        .file(
            "/var/log/messages",
            "Nov 24 09:58:00 node1 kernel: bsr r0: conn( StandAlone -> Unconnected )\n\
             Nov 24 09:58:01 node1 kernel: bsr r0 node2: conn( Unconnected -> Connecting )\n\
             Nov 24 09:58:05 node1 systemd: Started Session 1 of user root.\n\
             Nov 24 09:59:00 node1 kernel: bsr r0 node2: conn( Connecting -> Connected ) pdsk( DUnknown -> UpToDate )\n\
             Nov 24 09:59:30 node1 kernel: bsr r0 node2: conn( Connected -> NetworkFailure )\n",
        )
        .file(
            "/opt/DRX/logs/main.log",
            "Log file created at: 2026/11/20 16:30:00\n\
             I1120 16:37:02.690660 t42053 main] started\n",
        )
        .file(
            "/opt/DRX/logs/r0/r0.log",
            "I1124 09:58:10.000000 t42054 r0] bridged\n\
             W1124 09:59:31.000000 t42054 r0] peer lost, bridging\n",
        )
        .command(
            "uname",
            "echo 'Linux node1 3.10.0-1160.el7.x86_64 #1 SMP x86_64 GNU/Linux'",
        )
        .command("bsradm", "echo 'BSRADM_VERSION=1.7.8.1'; echo 'BSR_KERNEL_VERSION_CODE=0x01070801'");
    f
}

fn node2() -> Fixture {
    let f = Fixture::new();
    f.file("/etc/hostname", "node2\n")
        .file("/etc/bsr.d/r0.res", RES)
        .file(
            "/var/log/messages",
            "Nov 24 09:59:29 node2 kernel: bsr r0 node1: conn( Connected -> BrokenPipe )\n\
             Nov 24 09:59:40 node2 kernel: <script>document.title='pwned'</script> error seen at http://evil.example/x\n",
        )
        .file(
            "/var/log/bsr/bsr.log",
            "00000001 11/24/2026 18:59:35.1234567 [f] [c:0] bsr_erro r0: split-brain since more primaries than allowed. dropping connection\n",
        )
        .file(
            "/opt/DRX/logs/r0/r0.log",
            "E1124 09:59:45.000000 t7 r0] connect 10.0.0.1:7789: Connection refused\n",
        )
        .command(
            "uname",
            "echo 'Linux node2 3.10.0-1160.el7.x86_64 #1 SMP x86_64 GNU/Linux'",
        );
    f
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The Chromium binary; the test fails (never skips) without it.
fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser"] {
        for dir in ["/usr/bin", "/usr/local/bin", "/snap/bin"] {
            let path = Path::new(dir).join(name);
            if path.exists() {
                return path;
            }
        }
    }
    panic!(
        "headless Chromium is needed to render the HTML report: run scripts/test.sh \
         (it installs Debian's `chromium` package), or `apt-get install -y chromium`"
    );
}

fn headless(args: &[&str], page: &Path) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .env("HOME", profile.path())
        .output()
        .unwrap()
}

#[test]
fn html_report_of_a_pair_renders_in_chromium_with_findings_and_both_timelines() {
    let (a, b) = (node1(), node2());
    assert_success(&a.collect(&[]));
    assert_success(&b.collect(&[]));
    let (a, b) = (a.bundles().remove(0), b.bundles().remove(0));
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.html");

    let output = Command::new(BIN)
        .arg("inspect")
        .arg(&a)
        .arg(&b)
        .arg("--html")
        .arg(&report)
        .args(["--lang", "en"])
        .output()
        .unwrap();
    assert_success(&output);
    let html = std::fs::read_to_string(&report).unwrap();
    std::fs::write(artifacts().join("html-report.html"), &html).unwrap();

    // Self-contained: nothing that could fetch.
    assert!(!html.contains("http://"), "http:// in the report");
    assert!(!html.contains("https://"), "https:// in the report");
    assert!(!html.contains("<link") && !html.contains(" src="));
    // Hostile bundle text stays text.
    assert!(!html.contains("<script>document.title"));
    assert!(html.len() < 4 << 20, "the report stays a few MB at most");

    // Every finding's rule is in the report.
    let json = Command::new(BIN)
        .arg("inspect")
        .arg(&a)
        .arg(&b)
        .arg("--json")
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let rules: Vec<String> = value["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect();
    for expected in [
        "CONFIG-BOM",
        "DRX-BRIDGING",
        "DRX-CONNECTION-REFUSED",
        "REPL-SPLIT-BRAIN",
    ] {
        assert!(
            rules.iter().any(|r| r == expected),
            "{expected} not in {rules:?}"
        );
    }
    for rule in &rules {
        assert!(
            html.contains(&format!("data-rule=\"{rule}\"")),
            "{rule} missing"
        );
    }
    // Context of the BOM finding is expandable.
    assert!(html.contains("<details>"));

    // Rendered: scripts ran, and the timeline holds events of both nodes.
    let dom = headless(&["--virtual-time-budget=5000", "--dump-dom"], &report);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom_text.contains("data-ready=\"1\""),
        "the report's script did not finish: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let marks = dom_text.matches("class=\"ev k-").count();
    assert!(marks >= 10, "too few timeline events: {marks}");
    for node in ["node1", "node2"] {
        assert!(
            dom_text.contains(&format!("data-node=\"{node}\" data-sev=")),
            "no timeline event of {node}"
        );
    }
    for kind in ["repl", "drx", "log", "collect"] {
        assert!(
            dom_text.contains(&format!("data-kind=\"{kind}\"")),
            "no {kind} event"
        );
    }
    for rule in &rules {
        assert!(dom_text.contains(rule.as_str()), "{rule} not in the DOM");
    }
    // The hostile line is an event shown as text, and it did not run.
    assert!(dom_text.contains("&lt;script&gt;document.title"));
    assert!(!dom_text.contains("<title>pwned"));

    let shot = artifacts().join("html-report.png");
    let _ = std::fs::remove_file(&shot);
    let output = headless(
        &[
            "--virtual-time-budget=5000",
            "--window-size=1400,1000",
            &format!("--screenshot={}", shot.display()),
        ],
        &report,
    );
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The whole page (timeline and hosts included), for people to look at.
    let full = artifacts().join("html-report-full.png");
    let _ = std::fs::remove_file(&full);
    headless(
        &[
            "--virtual-time-budget=5000",
            "--window-size=1400,3600",
            &format!("--screenshot={}", full.display()),
        ],
        &report,
    );
    assert!(full.exists(), "no full-page screenshot");
}

/// Bundle text meant to break out of the page: element and attribute breakouts, a closing style
/// and script, a URL. The marker `q0x` follows every `"` and `<` so an unescaped one is found.
const HOSTILE: &str = "</style></script><script>document.title='q0x'</script><img src=x onerror=alert(1) q0x=\"q0x\"> <!-- q0x --> http://evil.example/q0x";

#[test]
fn hostile_bundle_text_never_reaches_the_page_unescaped() {
    let f = Fixture::new();
    let hostile_res = RES.replace("resource r0", "resource q0x");
    f.file("/etc/hostname", "node<b>q0x\n")
        .file("/etc/bsr.d/r0.res", hostile_res)
        .file(
            "/var/log/messages",
            format!(
                "Nov 24 09:59:29 n kernel: bsr r0 node1: conn( Connected -> BrokenPipe ) {HOSTILE}\n\
                 Nov 24 09:59:40 n kernel: {HOSTILE} error\n"
            ),
        )
        .file(
            "/var/log/bsr/<script>q0x\".log",
            format!(
                "00000001 11/24/2026 18:59:35.1234567 [f] [c:0] bsr_erro r0: split-brain since more primaries than allowed. {HOSTILE}\n"
            ),
        )
        .file(
            "/opt/DRX/logs/r0/r0.log",
            format!("E1124 09:59:45.000000 t7 r0] connect 10.0.0.1:7789: Connection refused {HOSTILE}\n"),
        );
    assert_success(&f.collect(&[]));
    let bundle = f.bundles().remove(0);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.html");
    for lang in ["en", "ko"] {
        let output = Command::new(BIN)
            .arg("inspect")
            .arg(&bundle)
            .arg("--html")
            .arg(&report)
            .args(["--lang", lang])
            .output()
            .unwrap();
        assert_success(&output);
        let html = std::fs::read_to_string(&report).unwrap();
        std::fs::write(artifacts().join(format!("html-hostile-{lang}.html")), &html).unwrap();
        // The hostile text is there, as text (in the static sections and in the JSON island).
        assert!(
            html.contains("&lt;/style&gt;&lt;/script&gt;&lt;script&gt;"),
            "{lang}: no escaped excerpt"
        );
        assert!(html.contains("REPL-SPLIT-BRAIN"));
        // Only our own elements.
        assert_eq!(html.matches("<script").count(), 2, "{lang}");
        assert_eq!(html.matches("</script").count(), 2, "{lang}");
        assert_eq!(html.matches("<style").count(), 1, "{lang}");
        assert_eq!(html.matches("</style").count(), 1, "{lang}");
        assert!(!html.contains("<img") && !html.contains("<!--"), "{lang}");
        assert!(
            !html.contains("node<b>"),
            "{lang}: the host name became markup"
        );
        // No quote or angle bracket of the bundle's is left raw in the markup (the JSON island
        // holds `\"`, a JSON escape, and `\u003c` for `<`).
        let (markup, island) = html
            .split_once("<script type=\"application/json\"")
            .unwrap();
        assert!(
            !markup.contains("\"q0x") && !markup.contains("<q0x"),
            "{lang}"
        );
        assert!(
            !island.contains("<q0x") && !island.contains("<img"),
            "{lang}"
        );
        assert!(!html.contains("://"), "{lang}: a URL in the report");
    }
    // Rendered, nothing of it ran or became an element.
    let dom = headless(&["--virtual-time-budget=5000", "--dump-dom"], &report);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom_text.contains("data-ready=\"1\""),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    assert!(!dom_text.contains("<title>q0x"));
    assert!(!dom_text.contains("<img"));
}

#[test]
fn html_report_in_korean_labels_its_sections_in_korean() {
    let a = node1();
    assert_success(&a.collect(&[]));
    let bundle = a.bundles().remove(0);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("보고서.html");
    let output = Command::new(BIN)
        .arg("inspect")
        .arg(&bundle)
        .arg("--html")
        .arg(&report)
        .args(["--lang", "ko"])
        .output()
        .unwrap();
    assert_success(&output);
    let html = std::fs::read_to_string(&report).unwrap();
    for label in ["판정", "진단 결과", "타임라인", "호스트 비교"] {
        assert!(html.contains(label), "{label}");
    }
    assert!(html.contains("lang=\"ko\""));
}

/// The report quotes the bundles, so it is private like them: 0600, also when it replaces an
/// older report that was world-readable.
#[cfg(unix)]
#[test]
fn html_report_is_written_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let node = node1();
    assert_success(&node.collect(&[]));
    let bundle = node.bundles().remove(0);
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.html");
    let replaced = dir.path().join("replaced.html");
    std::fs::write(&replaced, "old report").unwrap();
    std::fs::set_permissions(&replaced, std::fs::Permissions::from_mode(0o644)).unwrap();
    for report in [&fresh, &replaced] {
        let output = Command::new(BIN)
            .arg("inspect")
            .arg(&bundle)
            .arg("--html")
            .arg(report)
            .output()
            .unwrap();
        assert_success(&output);
        let meta = std::fs::metadata(report).unwrap();
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o600,
            "{}",
            report.display()
        );
        assert!(std::fs::read_to_string(report).unwrap().contains("<html"));
    }
}

#[test]
fn html_report_to_an_unwritable_path_is_a_clear_error() {
    let a = node1();
    assert_success(&a.collect(&[]));
    let bundle = a.bundles().remove(0);
    let output = Command::new(BIN)
        .arg("inspect")
        .arg(&bundle)
        .arg("--html")
        .arg("/nonexistent-dir/report.html")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("/nonexistent-dir/report.html"), "{err}");
    assert!(!err.contains("panicked"));
}
