//! `--case-id` and `--label`: the file name, index.json, SUMMARY.txt, inspect, diff, --keep.
use crate::util::*;

#[test]
fn case_id_and_label_go_into_the_name_index_summary_and_inspect() {
    let fx = Fixture::new();
    let out = fx.collect(&["--case-id", "CS-2026-0042", "--label", "before the upgrade"]);
    assert_success(&out);
    let bundle = fx.bundle();
    let name = bundle.file_name();
    assert!(
        name.starts_with("drx-collect-node1-CS-2026-0042-") && name.ends_with("Z.tgz"),
        "{name}"
    );
    bundle.assert_verifies();
    assert_eq!(bundle.index["case_id"], "CS-2026-0042");
    assert_eq!(bundle.index["label"], "before the upgrade");
    let summary = bundle.read("SUMMARY.txt");
    assert!(
        summary.contains("case          CS-2026-0042\n"),
        "{summary}"
    );
    assert!(
        summary.contains("label         before the upgrade\n"),
        "{summary}"
    );

    let shown = inspect(&[bundle.path.as_os_str()]);
    assert_success(&shown);
    assert!(
        stdout(&shown).contains("  case       CS-2026-0042 (before the upgrade)\n"),
        "{}",
        stdout(&shown)
    );
    let json = inspect(&[bundle.path.as_os_str(), "--json".as_ref()]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["bundles"][0]["case_id"], "CS-2026-0042");
    assert_eq!(value["bundles"][0]["label"], "before the upgrade");
}

#[test]
fn without_a_case_id_nothing_changes() {
    let fx = Fixture::new();
    assert_success(&fx.collect(&[]));
    let bundle = fx.bundle();
    let name = bundle.file_name();
    assert!(name.starts_with("drx-collect-node1-2"), "{name}");
    assert!(bundle.index.get("case_id").is_none());
    assert!(!bundle.read("SUMMARY.txt").contains("case "));
}

#[test]
fn bad_case_ids_and_labels_are_usage_errors_naming_the_option() {
    let fx = Fixture::new();
    for (option, value) in [
        ("--case-id", "../../etc/x"),
        ("--case-id", "CS 1"),
        ("--case-id", "-x"),
        ("--label", "two\nlines"),
        ("--label", "bidi \u{202e}txt"),
    ] {
        // `--case-id=-x`: given separately, clap would take -x for an option.
        let out = fx.collect(&[&format!("{option}={value}")]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{option} {value:?}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains(option), "{}", stderr(&out));
        assert!(fx.bundles().is_empty());
    }
}

#[test]
fn keep_counts_this_hosts_bundles_of_the_same_case() {
    let fx = Fixture::new();
    // Another case's bundle and a case-less one of this host stay whatever --keep says.
    let other = fx
        .out
        .path()
        .join("drx-collect-node1-CS-9-20200101T000000Z.tgz");
    let plain = fx.out.path().join("drx-collect-node1-20200101T000000Z.tgz");
    std::fs::write(&other, b"x").unwrap();
    std::fs::write(&plain, b"x").unwrap();
    for _ in 0..3 {
        assert_success(&fx.collect(&["--case-id", "CS-1", "--keep", "2"]));
    }
    let ours: Vec<_> = fx
        .bundles()
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("-node1-CS-1-"))
        .collect();
    assert_eq!(ours.len(), 2, "{:?}", fx.bundles());
    assert!(other.exists() && plain.exists());
}

#[test]
fn diff_warns_when_the_snapshots_belong_to_different_cases() {
    let fx = Fixture::new();
    assert_success(&fx.collect(&["--case-id", "CS-1"]));
    assert_success(&fx.collect(&["--case-id", "CS-2"]));
    let bundles = fx.bundles();
    assert_eq!(bundles.len(), 2);
    let (old, new) = if bundles[0].to_string_lossy().contains("CS-1") {
        (&bundles[0], &bundles[1])
    } else {
        (&bundles[1], &bundles[0])
    };
    let out = fx.cmd().arg("diff").arg(old).arg(new).output().unwrap();
    assert_success(&out);
    assert!(
        stderr(&out).contains("different support cases (CS-1 and CS-2)"),
        "{}",
        stderr(&out)
    );
    let out = fx.cmd().arg("diff").arg(old).arg(old).output().unwrap();
    assert!(!stderr(&out).contains("support cases"), "{}", stderr(&out));
}
