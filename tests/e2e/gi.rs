//! Issue 26 through the real binary: two nodes' `drbdadm -v get-gi all` (outputs of the real
//! drbd-utils, tests/realworld/gi/tools) collected into two bundles, then `inspect A B` and
//! `inspect CASE`: the verdict names the node with the good data.
use crate::inspect::{case_file, collected};
use crate::util::*;
use std::ffi::OsStr;

fn node(host: &str, get_gi: &str) -> Fixture {
    let f = Fixture::new();
    f.file("/etc/hostname", format!("{host}\n"));
    f.prints_by_args("drbdadm", &[("*get-gi*", get_gi), ("*show-gi*", get_gi)]);
    f
}

/// The REPL-GI findings of `inspect --json` on `args`: (rule, severity, detail).
fn verdicts(args: &[&OsStr]) -> Vec<(String, String, String)> {
    let mut args = args.to_vec();
    args.push(OsStr::new("--json"));
    let output = inspect(&args);
    assert_success(&output);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    value["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"].as_str().unwrap().starts_with("REPL-GI-"))
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                f["detail"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

macro_rules! tool {
    ($file:literal) => {
        include_str!(concat!("../realworld/gi/tools/", $file))
    };
}

#[test]
fn each_outcome_from_two_bundles_and_from_a_case_file() {
    let cases = [
        (
            tool!("drbd9-sync-source.alpha.txt"),
            tool!("drbd9-sync-source.beta.txt"),
            "REPL-GI-SYNC-SOURCE",
            "r0/0: beta is the sync source, alpha the sync target",
        ),
        (
            tool!("drbd9-in-sync.alpha.txt"),
            tool!("drbd9-in-sync.beta.txt"),
            "REPL-GI-IN-SYNC",
            "r0/0: alpha and beta hold the same data generation",
        ),
        (
            tool!("drbd84-split-brain.alpha.txt"),
            tool!("drbd84-split-brain.beta.txt"),
            "REPL-GI-SPLIT-BRAIN",
            "alpha (current 49615ABF1622FC55) and beta (current 6116B0558277E470)",
        ),
        (
            tool!("drbd84-unrelated.alpha.txt"),
            tool!("drbd84-unrelated.beta.txt"),
            "REPL-GI-UNRELATED",
            "alpha and beta never shared a data generation",
        ),
    ];
    for (alpha, beta, rule, words) in cases {
        let (a, b) = (node("alpha", alpha), node("beta", beta));
        let (a, b) = (collected(&a), collected(&b));
        let found = verdicts(&[a.as_os_str(), b.as_os_str()]);
        assert_eq!(found.len(), 1, "{rule}: {found:?}");
        assert_eq!(found[0].0, rule);
        assert!(found[0].2.contains(words), "{rule}: {}", found[0].2);
        let dir = tempfile::tempdir().unwrap();
        let case = case_file(dir.path(), "drx-case-alpha-beta-a", &a, &b);
        let from_case = verdicts(&[case.as_os_str()]);
        assert_eq!(from_case.len(), 1, "{rule} case file: {from_case:?}");
        assert_eq!(from_case[0].0, rule);
    }
}

#[test]
fn one_bundle_alone_gives_no_verdict_and_a_missing_tool_is_a_gap() {
    let a = node("alpha", tool!("drbd84-split-brain.alpha.txt"));
    let a = collected(&a);
    assert!(verdicts(&[a.as_os_str()]).is_empty());
    // No drbdadm at all: the items are recorded, nothing fails, no verdict.
    let bare = Fixture::new();
    let output = bare.collect(&[]);
    assert_success(&output);
    let bundle = bare.bundle();
    assert!(verdicts(&[bundle.path.as_os_str()]).is_empty());
}

#[test]
fn the_html_report_shows_both_nodes_generations_with_the_verdict_first() {
    let (fa, fb) = (
        node("alpha", tool!("drbd84-split-brain.alpha.txt")),
        node("beta", tool!("drbd84-split-brain.beta.txt")),
    );
    let (a, b) = (collected(&fa), collected(&fb));
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let output = inspect(&[
        a.as_os_str(),
        b.as_os_str(),
        OsStr::new("--html"),
        page.as_os_str(),
    ]);
    assert_success(&output);
    let html = std::fs::read_to_string(&page).unwrap();
    let section = &html[html.find("id=\"generations\"").expect("the section")..];
    let section = &section[..section.find("</section>").unwrap()];
    let verdict = section.find("REPL-GI-SPLIT-BRAIN").expect("the verdict");
    let table = section.find("<table").unwrap();
    assert!(verdict < table, "verdict first");
    for uuid in [
        "49615ABF1622FC55",
        "6116B0558277E470",
        "643454BA1CA67140",
        "5625CFAB3DDD24A2",
    ] {
        assert!(section[table..].contains(uuid), "{uuid}");
    }
    assert!(section.contains("alpha") && section.contains("beta"));
}
