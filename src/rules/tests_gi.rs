//! The offline `uuid_compare` on real material: handshakes users pasted from their kernel logs
//! (tests/realworld/gi, origins in its SOURCES.md), each held against the kernel's own result
//! line; then, for the rules no public log shows, pairs derived from those real UUIDs the way
//! the kernel rotates them (named per case), covering every rule of the 8.4, 9 and BSR tables.
use crate::rules::parse::gi::{HandshakeScan, RuleName};
use crate::rules::uuid_compare::{
    compare, Amount, Gi, Kernel, Outcome, Side, Tie, Verdict, JUST_CREATED,
};

fn handshakes(text: &str) -> HandshakeScan {
    let mut scan = HandshakeScan::default();
    for (i, line) in text.lines().enumerate() {
        scan.line(i as u64 + 1, line);
    }
    scan
}

/// Our verdict on the logged GIs, and whether the kernel's line says the same.
fn judge(text: &str) -> (Verdict, bool) {
    let scan = handshakes(text);
    assert_eq!(scan.found.len(), 1, "one handshake in {text}");
    let h = &scan.found[0];
    let (local, peer) = (h.local.as_ref().unwrap(), h.peer.as_ref().unwrap());
    let verdict = compare(h.result.kernel, &local.gi, &peer.gi, Tie::default());
    let same_outcome = h
        .result
        .outcome
        .is_some_and(|k| verdict.outcome.agrees_with(k));
    let same_rule = match &h.result.rule {
        RuleName::Number(n) => verdict.rule.is(Some(*n), None),
        RuleName::Name(name) => verdict.rule.is(None, Some(name)),
    };
    (verdict, same_outcome && same_rule)
}

const SRC: &str = "../../tests/realworld/gi/";

#[test]
fn drbd_user_2011_split_brain_by_equal_bitmaps_rule_90() {
    let (v, agrees) = judge(include_str!(
        "../../tests/realworld/gi/drbd-user-2011-01-015463.log"
    ));
    assert_eq!(v.outcome, Outcome::SplitBrain { auto: true });
    assert_eq!(v.rule.number, 90);
    assert!(agrees);
}

#[test]
fn trinity_668_unrelated_data_rule_100() {
    let (v, agrees) = judge(include_str!("../../tests/realworld/gi/trinity-668.log"));
    assert_eq!(v.outcome, Outcome::Unrelated);
    assert!(agrees);
}

#[test]
fn drbd_109_target_use_bitmap_by_bitmap_peer() {
    let (v, agrees) = judge(include_str!("../../tests/realworld/gi/drbd-109.log"));
    assert_eq!(
        v.outcome,
        Outcome::Resync {
            source: Side::Peer,
            amount: Amount::Bitmap
        }
    );
    assert_eq!(v.rule.name, Some("bitmap-peer"));
    assert!(agrees);
}

#[test]
fn drbd_utils_11_reconnect_is_no_sync_under_the_quorum_label() {
    let (v, agrees) = judge(include_str!("../../tests/realworld/gi/drbd-utils-11.log"));
    assert_eq!(v.outcome, Outcome::NoSync);
    assert_eq!((v.rule.number, v.rule.alias), (38, Some("lost-quorum")));
    assert!(agrees, "protocol 121 logs rule=lost-quorum for it");
}

#[test]
fn linstor_450_retry_connect_is_not_a_gi_decision() {
    // The kernel retried because its own UUIDs moved during the handshake: the GIs alone
    // say no-sync, and the disagreement is about runtime state, not data.
    let (v, agrees) = judge(include_str!(
        "../../tests/realworld/gi/linstor-server-450.log"
    ));
    assert_eq!(v.outcome, Outcome::NoSync);
    assert!(!agrees);
    let scan = handshakes(include_str!(
        "../../tests/realworld/gi/linstor-server-450.log"
    ));
    assert_eq!(scan.found[0].result.outcome, Some(Outcome::RetryConnect));
}

#[test]
fn ganeti_846_equal_bitmaps_without_a_result_line() {
    // No `uuid_compare()` line was pasted; the kernel's `initial-split-brain` helper call
    // (made only for |hg| == 100) is the evidence.
    let scan = handshakes(include_str!("../../tests/realworld/gi/ganeti-846.log"));
    assert!(scan.found.is_empty());
    let text = include_str!("../../tests/realworld/gi/ganeti-846.log");
    let sides: Vec<_> = text
        .lines()
        .filter_map(crate::rules::parse::gi::handshake_side)
        .collect();
    let v = compare(
        Kernel::Drbd84,
        &sides[0].1.gi,
        &sides[1].1.gi,
        Tie::default(),
    );
    assert_eq!(
        (v.outcome, v.rule.number),
        (Outcome::SplitBrain { auto: true }, 90)
    );
}

// Real values reused below: R3 = LINBIT/drbd#109, R1 = drbd-user 2011-01 #015463.
const R3_A: u64 = 0xF245EDB55E4884C8;
const R3_B: u64 = 0xBCE93256922930CB;
const R3_H1: u64 = 0x0CB3D8A1D4F0B6B2;
const R3_H2: u64 = 0xFC83A145D1859A94;
const R1_A: u64 = 0x49615ABF1622FC55;
const R1_B: u64 = 0x6116B0558277E470;
const R1_BM: u64 = 0x643454BA1CA67140;

fn gi(current: u64, bitmap: u64, h1: u64, h2: u64) -> Gi {
    Gi {
        current,
        bitmap,
        history: vec![h1, h2],
        ..Gi::default()
    }
}

fn src(source: Side, amount: Amount) -> Outcome {
    Outcome::Resync { source, amount }
}

/// (case, local, peer, expected outcome, 8.4 rule, 9 rule number, 9 name, BSR rule)
#[allow(clippy::type_complexity)]
fn derived() -> Vec<(&'static str, Gi, Gi, Outcome, u32, u32, &'static str, u32)> {
    let up = gi(R3_A, 0, R3_H1, R3_H2);
    // A node that was Primary while its peer was away: new current, bitmap = old current.
    let moved_on = gi(R3_B, R3_A, R3_H1, R3_H2);
    // A node whose old current went to history without a bitmap (a full sync target's view).
    let older = gi(R3_H1, 0, R3_H2, 0);
    vec![
        (
            "fresh meta-data on both (drbdmeta create-md)",
            gi(JUST_CREATED, 0, 0, 0),
            gi(JUST_CREATED, 0, 0, 0),
            Outcome::NoSync,
            10,
            10,
            "just-created-both",
            10,
        ),
        (
            "fresh meta-data here, data on the peer",
            gi(JUST_CREATED, 0, 0, 0),
            up.clone(),
            src(Side::Peer, Amount::Full),
            20,
            20,
            "just-created-self",
            20,
        ),
        (
            "data here, fresh meta-data on the peer",
            up.clone(),
            gi(JUST_CREATED, 0, 0, 0),
            src(Side::Local, Amount::Full),
            30,
            30,
            "just-created-peer",
            30,
        ),
        (
            "healthy pair: same current, no bitmaps",
            up.clone(),
            up.clone(),
            Outcome::NoSync,
            40,
            40,
            "both-off",
            40,
        ),
        (
            "the peer was primary alone: its bitmap is our current",
            up.clone(),
            moved_on.clone(),
            src(Side::Peer, Amount::Bitmap),
            50,
            50,
            "bitmap-peer",
            50,
        ),
        (
            "we were primary alone",
            moved_on.clone(),
            up.clone(),
            src(Side::Local, Amount::Bitmap),
            70,
            70,
            "bitmap-self",
            70,
        ),
        (
            "our current is only in the peer's history",
            older.clone(),
            up.clone(),
            src(Side::Peer, Amount::Full),
            60,
            60,
            "history-peer",
            60,
        ),
        (
            "the peer's current is only in our history",
            up.clone(),
            older.clone(),
            src(Side::Local, Amount::Full),
            80,
            80,
            "history-self",
            80,
        ),
        (
            "both primary apart from the same base (R1)",
            gi(R1_A, R1_BM, R3_H1, R3_H2),
            gi(R1_B, R1_BM, R3_H1, R3_H2),
            Outcome::SplitBrain { auto: true },
            90,
            90,
            "bitmap-both",
            90,
        ),
        (
            "both moved on twice: only a history UUID in common",
            gi(R1_A, R3_B, R3_H1, R3_H2),
            gi(R1_B, R3_A, R3_H1, 0),
            Outcome::SplitBrain { auto: false },
            100,
            100,
            "history-both",
            100,
        ),
    ]
}

#[test]
fn every_rule_of_the_three_tables_on_derived_pairs() {
    for (case, local, peer, outcome, r84, r9, name, rbsr) in derived() {
        let v84 = compare(Kernel::Drbd84, &local, &peer, Tie::default());
        assert_eq!(
            (v84.outcome, v84.rule.number),
            (outcome, r84),
            "8.4: {case}"
        );
        let v9 = compare(Kernel::Drbd9, &local, &peer, Tie::default());
        assert_eq!(
            (v9.outcome, v9.rule.number, v9.rule.name),
            (outcome, r9, Some(name)),
            "9: {case}"
        );
        let vb = compare(Kernel::Bsr, &local, &peer, Tie::default());
        assert_eq!((vb.outcome, vb.rule.number), (outcome, rbsr), "BSR: {case}");
        // Seen from the other node, the same decision.
        let back = compare(Kernel::Drbd9, &peer, &local, Tie::default());
        assert_eq!(back.outcome, outcome.mirrored(), "9 mirrored: {case}");
    }
}

#[test]
fn the_84_resync_end_and_start_fixups_rules_34_to_37_51_71() {
    // A resync finished but one side did not record it (drbd_uuid_compare rules 34-37).
    let source = gi(R3_A, R3_H1, R3_H2, 0);
    let target_done = gi(R3_A, 0, R3_H1, R3_H2);
    let v = compare(Kernel::Drbd84, &source, &target_done, Tie::default());
    assert_eq!(
        (v.outcome, v.rule.number),
        (src(Side::Local, Amount::Bitmap), 34)
    );
    let v = compare(Kernel::Drbd84, &target_done, &source, Tie::default());
    assert_eq!(
        (v.outcome, v.rule.number),
        (src(Side::Peer, Amount::Bitmap), 35)
    );
    let odd = gi(R3_A, R3_B, 0, 0);
    let plain = gi(R3_A, 0, R3_H1, 0);
    assert_eq!(
        compare(Kernel::Drbd84, &odd, &plain, Tie::default())
            .rule
            .number,
        36
    );
    assert_eq!(
        compare(Kernel::Drbd84, &plain, &odd, Tie::default())
            .rule
            .number,
        37
    );
    // The sync UUID (bitmap + 0x0001000000000000) was lost on the way (rules 51, 71).
    let started = gi(R3_B, R3_H1 + 0x0001_0000_0000_0000, R3_H1, 0);
    let waiting = gi(R3_H1, 0, R3_H2, 0);
    let v = compare(Kernel::Drbd84, &waiting, &started, Tie::default());
    assert_eq!(
        (v.outcome, v.rule.number),
        (src(Side::Peer, Amount::Bitmap), 51)
    );
    let v = compare(Kernel::Drbd84, &started, &waiting, Tie::default());
    assert_eq!(
        (v.outcome, v.rule.number),
        (src(Side::Local, Amount::Bitmap), 71)
    );
}

#[test]
fn crashed_primaries_quorum_and_other_bitmaps() {
    let mut crashed = gi(R3_A, 0, R3_H1, R3_H2);
    crashed.crashed_primary = true;
    let survivor = gi(R3_A, 0, R3_H1, R3_H2);
    // 8.4 rule 40 and 9 both-off: the crashed primary is the source.
    let v = compare(Kernel::Drbd84, &crashed, &survivor, Tie::default());
    assert_eq!(
        (v.outcome, v.rule.number),
        (src(Side::Local, Amount::Bitmap), 40)
    );
    let v = compare(Kernel::Drbd9, &crashed, &survivor, Tie::default());
    assert_eq!(
        (v.outcome, v.rule.name),
        (src(Side::Local, Amount::IfBothFailed), Some("both-off"))
    );
    // The survivor kept the connection: it is the source (rule 38).
    let mut reconnecting = survivor.clone();
    reconnecting.reconnect = true;
    let v = compare(Kernel::Drbd9, &reconnecting, &crashed, Tie::default());
    assert_eq!(
        (v.outcome, v.rule.number),
        (src(Side::Local, Amount::IfBothFailed), 38)
    );
    // DRBD 9 lost quorum: the node that was primary when it lost quorum is the source
    // (`UUID_FLAG_PRIMARY_LOST_QUORUM` on the peer only: SYNC_TARGET_IF_BOTH_FAILED here).
    let mut lost = survivor.clone();
    lost.lost_quorum = true;
    let v = compare(Kernel::Drbd9, &survivor, &lost, Tie::default());
    assert_eq!(
        (v.outcome, v.rule.name),
        (src(Side::Peer, Amount::IfBothFailed), Some("lost-quorum"))
    );
    // BSR has no quorum rule: no sync.
    assert_eq!(
        compare(Kernel::Bsr, &survivor, &lost, Tie::default()).outcome,
        Outcome::NoSync
    );
    // Third-node bitmaps (9 rules 52 / 72).
    let mut third = gi(R3_B, 0, R3_H1, R3_H2);
    third.other_bitmaps = vec![R3_A];
    let v = compare(Kernel::Drbd9, &survivor, &third, Tie::default());
    assert_eq!(v.rule.name, Some("bitmap-peer-other"));
    let mut mine = gi(R3_A, 0, R3_H1, R3_H2);
    mine.other_bitmaps = vec![R3_B];
    let v = compare(Kernel::Drbd9, &mine, &gi(R3_B, 0, 0, 0), Tie::default());
    assert_eq!(
        (v.outcome, v.rule.name),
        (
            src(Side::Local, Amount::OtherBitmap),
            Some("bitmap-self-other")
        )
    );
}

#[test]
fn sources_name_every_file() {
    let sources = include_str!("../../tests/realworld/gi/SOURCES.md");
    for file in [
        "drbd-user-2011-01-015463.log",
        "trinity-668.log",
        "drbd-109.log",
        "drbd-utils-11.log",
        "linstor-server-450.log",
        "ganeti-846.log",
    ] {
        assert!(sources.contains(file), "{SRC}{file} has no origin");
    }
}

/// One node's evidence from (bundle path, content) pairs, fed as the collector feeds a bundle.
fn node(files: &[(&str, &str)]) -> crate::rules::Evidence {
    let catalogue = crate::rules::Catalogue::embedded().expect("embedded catalogue");
    let mut scan = crate::rules::Scan::new(&catalogue);
    for (path, content) in files {
        scan.add_file(path, content.as_bytes());
        for (i, line) in content.lines().enumerate() {
            scan.line(path, i as u64 + 1, line.as_bytes());
        }
    }
    scan.finish(&crate::rules::Facts::default())
}

fn gi_findings(alpha: &str, beta: &str) -> Vec<crate::index::Finding> {
    let a = node(&[("commands/drbdadm-get-gi.txt", alpha)]);
    let b = node(&[("commands/drbdadm-get-gi.txt", beta)]);
    crate::rules::cross_node(&[("alpha", &a), ("beta", &b)], crate::lang::Lang::En)
        .into_iter()
        .filter(|f| f.rule.starts_with("REPL-GI-"))
        .collect()
}

macro_rules! tool {
    ($file:literal) => {
        include_str!(concat!("../../tests/realworld/gi/tools/", $file))
    };
}

#[test]
fn pair_of_bundles_sync_source_names_the_node_with_the_newer_data() {
    let found = gi_findings(
        tool!("drbd9-sync-source.alpha.txt"),
        tool!("drbd9-sync-source.beta.txt"),
    );
    assert_eq!(found.len(), 1, "{found:?}");
    let detail = found[0].detail.as_deref().unwrap();
    assert_eq!(found[0].rule, "REPL-GI-SYNC-SOURCE");
    assert_eq!(
        found[0].severity,
        crate::index::Severity::Info,
        "bitmap-based"
    );
    assert!(
        detail.starts_with("r0/0: beta is the sync source, alpha the sync target; bitmap-based"),
        "{detail}"
    );
    assert!(
        detail.contains("bitmap-peer") && detail.contains("rule 50"),
        "{detail}"
    );
}

#[test]
fn pair_of_bundles_in_sync_is_only_the_info() {
    let found = gi_findings(
        tool!("drbd9-in-sync.alpha.txt"),
        tool!("drbd9-in-sync.beta.txt"),
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].rule, "REPL-GI-IN-SYNC");
    assert_eq!(found[0].severity, crate::index::Severity::Info);
}

#[test]
fn pair_of_bundles_split_brain_names_both_current_uuids() {
    let found = gi_findings(
        tool!("drbd84-split-brain.alpha.txt"),
        tool!("drbd84-split-brain.beta.txt"),
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].rule, "REPL-GI-SPLIT-BRAIN");
    let detail = found[0].detail.as_deref().unwrap();
    assert!(
        detail.contains("alpha (current 49615ABF1622FC55)"),
        "{detail}"
    );
    assert!(
        detail.contains("beta (current 6116B0558277E470)"),
        "{detail}"
    );
    assert!(detail.contains("DRBD 8.4 rule 90"), "{detail}");
}

/// The Primary transition named is the one of the resource in question (8.4: its minor, as
/// `drbdsetup get-gi 0` names it), not the node's last one of any resource.
#[test]
fn split_brain_names_when_each_node_became_primary() {
    let a = node(&[
        (
            "commands/drbdadm-get-gi.txt",
            tool!("drbd84-split-brain.alpha.txt"),
        ),
        (
            "files/var/log/messages",
            "Jan 23 21:02:11 alpha kernel: block drbd0: role( Secondary -> Primary ) \n\
             Jan 23 21:30:00 alpha kernel: block drbd9: role( Secondary -> Primary ) \n",
        ),
    ]);
    let b = node(&[
        ("commands/drbdadm-get-gi.txt", tool!("drbd84-split-brain.beta.txt")),
        ("files/var/log/messages", "Jan 23 21:40:05 beta kernel: block drbd0: role( Secondary -> Primary ) \nJan 23 21:50:00 beta kernel: block drbd0: role( Primary -> Secondary ) \n"),
    ]);
    let detail = |lang| {
        crate::rules::cross_node(&[("alpha", &a), ("beta", &b)], lang)
            .into_iter()
            .find(|f| f.rule == "REPL-GI-SPLIT-BRAIN")
            .and_then(|f| f.detail)
            .unwrap()
    };
    let en = detail(crate::lang::Lang::En);
    assert!(
        en.contains(
            "On alpha, minor 0 last became Primary at files/var/log/messages:1: `Jan 23 21:02:11"
        ),
        "{en}"
    );
    assert!(!en.contains("21:30:00"), "another minor's transition: {en}");
    assert!(
        en.contains(
            "On beta, minor 0 last became Primary at files/var/log/messages:1: `Jan 23 21:40:05"
        ),
        "{en}"
    );
    let ko = detail(crate::lang::Lang::Ko);
    assert!(
        ko.contains("스플릿 브레인") && ko.contains("희생 노드"),
        "{ko}"
    );
    assert!(
        ko.contains("alpha 에서 minor 0 이(가) 마지막으로 Primary"),
        "{ko}"
    );
    for english in [
        "split brain",
        "both changed",
        "Recovery",
        "decided by",
        "last became",
    ] {
        assert!(!ko.contains(english), "{english} in {ko}");
    }
}

/// With no Primary line for the resource, the finding says the logs do not show it.
#[test]
fn split_brain_without_primary_lines_says_the_logs_do_not_show_it() {
    let a = node(&[(
        "commands/drbdadm-get-gi.txt",
        tool!("drbd84-split-brain.alpha.txt"),
    )]);
    let b = node(&[(
        "commands/drbdadm-get-gi.txt",
        tool!("drbd84-split-brain.beta.txt"),
    )]);
    let found = crate::rules::cross_node(&[("alpha", &a), ("beta", &b)], crate::lang::Lang::En);
    let detail = found
        .iter()
        .find(|f| f.rule == "REPL-GI-SPLIT-BRAIN")
        .and_then(|f| f.detail.as_deref())
        .unwrap();
    assert!(
        detail.contains("alpha's logs do not show when minor 0 became Primary there"),
        "{detail}"
    );
}

#[test]
fn pair_of_bundles_unrelated() {
    let found = gi_findings(
        tool!("drbd84-unrelated.alpha.txt"),
        tool!("drbd84-unrelated.beta.txt"),
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].rule, "REPL-GI-UNRELATED");
}

#[test]
fn a_full_resync_is_a_warning() {
    // beta's meta-data is fresh (drbdmeta create-md: current 0000000000000004).
    let fresh = "drbdsetup get-gi r0 0 0\n0000000000000004:0000000000000000:0000000000000000:0000000000000000:0:0:0:0:1:0:0:0:0:0:0:0\n";
    let found = gi_findings(tool!("drbd9-sync-source.alpha.txt"), fresh);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].rule, "REPL-GI-SYNC-SOURCE");
    assert_eq!(found[0].severity, crate::index::Severity::Warning);
    assert!(found[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("alpha is the sync source"));
}

#[test]
fn one_bundle_or_other_resources_give_no_verdict() {
    let a = node(&[(
        "commands/drbdadm-get-gi.txt",
        tool!("drbd9-in-sync.alpha.txt"),
    )]);
    let b = node(&[(
        "commands/drbdadm-get-gi.txt",
        "drbdsetup get-gi r9 0 0\nA0E9DACF6B43BCF2:0000000000000000:0000000000000000:0000000000000000:1:1:0:0:0:0:0:0:0:0:0:0\n",
    )]);
    let found: Vec<_> =
        crate::rules::cross_node(&[("alpha", &a), ("beta", &b)], crate::lang::Lang::En)
            .into_iter()
            .filter(|f| f.rule.starts_with("REPL-GI-"))
            .collect();
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn kernel_log_handshakes_are_cross_checked() {
    let findings = |log: &str| {
        let evidence = node(&[("files/var/log/messages", log)]);
        evidence
            .findings(crate::lang::Lang::En)
            .into_iter()
            .filter(|f| f.rule == "REPL-GI-DISAGREES-WITH-KERNEL")
            .collect::<Vec<_>>()
    };
    // Every real handshake agrees (the retry is not a GI decision).
    for log in [
        include_str!("../../tests/realworld/gi/drbd-user-2011-01-015463.log"),
        include_str!("../../tests/realworld/gi/trinity-668.log"),
        include_str!("../../tests/realworld/gi/drbd-109.log"),
        include_str!("../../tests/realworld/gi/drbd-utils-11.log"),
        include_str!("../../tests/realworld/gi/linstor-server-450.log"),
    ] {
        assert!(findings(log).is_empty(), "{log}");
    }
    // The same drbd#109 UUIDs with another result: the kernel and the table disagree.
    let changed = include_str!("../../tests/realworld/gi/drbd-109.log").replace(
        "target-use-bitmap by rule=bitmap-peer",
        "source-use-bitmap by rule=bitmap-self",
    );
    let found = findings(&changed);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].path.as_deref(), Some("files/var/log/messages"));
    assert_eq!(found[0].line, Some(4));
    // Our outcome in words (drbd#109: the peer is the bitmap-based source), not a Rust value.
    let en = found[0].detail.as_deref().unwrap();
    assert!(
        en.contains("gives a resync from the peer (bitmap-based"),
        "{en}"
    );
    assert!(!en.contains("Resync {") && !en.contains("source:"), "{en}");
    // In Korean the sentence is Korean; the quoted kernel words stay as logged.
    let ko = node(&[("files/var/log/messages", &changed)])
        .findings(crate::lang::Lang::Ko)
        .into_iter()
        .find(|f| f.rule == "REPL-GI-DISAGREES-WITH-KERNEL")
        .and_then(|f| f.detail)
        .unwrap();
    assert!(
        ko.contains("커널 기록은 uuid_compare()=source-use-bitmap by rule=bitmap-self"),
        "{ko}"
    );
    assert!(
        !ko.contains("the kernel logged") && !ko.contains("trust its line"),
        "{ko}"
    );
    assert!(ko.contains("상대 노드(peer) 에서의 동기화"), "{ko}");
}

/// DRBD 9: the Primary transition is matched by resource (`drbd r0:`, printed by
/// `drbd_info(resource, …)`); r1's later one is not r0's. The pair is derived from the real
/// drbd9-in-sync outputs: both nodes moved on from the same bitmap UUID (rule `bitmap-both`).
#[test]
fn drbd9_split_brain_names_the_resource_s_primary_transitions() {
    let alpha = tool!("drbd9-in-sync.alpha.txt");
    // The GI line: the current UUID (16 digits and `:`) replaced, bitmap and history kept.
    let gi = alpha.lines().last().unwrap();
    let rest = &gi[17..];
    let alpha_gi = alpha.replace(gi, &format!("1111111111111110:{rest}"));
    let beta_gi = alpha.replace(gi, &format!("2222222222222220:{rest}"));
    let a = node(&[
        ("commands/drbdadm-get-gi.txt", alpha_gi.as_str()),
        (
            "files/var/log/messages",
            "Nov 24 10:00:00 alpha kernel: drbd r0: role( Secondary -> Primary )\n\
             Nov 24 10:05:00 alpha kernel: drbd r1: role( Secondary -> Primary )\n",
        ),
    ]);
    let b = node(&[
        ("commands/drbdadm-get-gi.txt", beta_gi.as_str()),
        (
            "files/var/log/messages",
            "Nov 24 10:02:00 beta kernel: drbd r0: role( Secondary -> Primary )\n",
        ),
    ]);
    let found = crate::rules::cross_node(&[("alpha", &a), ("beta", &b)], crate::lang::Lang::En);
    let split = found
        .iter()
        .find(|f| f.rule == "REPL-GI-SPLIT-BRAIN")
        .unwrap_or_else(|| panic!("{found:#?}"));
    let detail = split.detail.as_deref().unwrap();
    assert!(detail.contains("bitmap-both"), "{detail}");
    assert!(
        detail.contains(
            "On alpha, r0/0 last became Primary at files/var/log/messages:1: `Nov 24 10:00:00"
        ),
        "{detail}"
    );
    assert!(!detail.contains("drbd r1:"), "{detail}");
    assert!(
        detail.contains(
            "On beta, r0/0 last became Primary at files/var/log/messages:1: `Nov 24 10:02:00"
        ),
        "{detail}"
    );
}
