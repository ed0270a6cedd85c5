//! Windows as it is in the field: real `netsh` outputs (tests/realworld/windows), update lists
//! that were cut short, UTF-16 and CP949 text, and BSR's own log wordings.
use super::*;

const CURRENT_PUBLIC: &str =
    include_str!("../../tests/realworld/windows/netsh-currentprofile-public.en.txt");
const APP_RULE: &str = include_str!("../../tests/realworld/windows/netsh-rules-app-rule.en.txt");
const BSR_MESSAGES: &str = include_str!("../../tests/realworld/windows/bsr-receiver-messages.txt");

const ALLPROFILES_ON: &str = include_str!("fixtures/allprofiles-on.txt");

fn findings_of(files: &Files, facts: &Facts) -> Vec<Finding> {
    evidence_from(files, facts).findings(Lang::En)
}

fn utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

fn detail_of<'a>(findings: &'a [Finding], rule: &str) -> Vec<&'a str> {
    findings
        .iter()
        .filter(|f| f.rule == rule)
        .filter_map(|f| f.detail.as_deref())
        .collect()
}

/// systeminfo of a 2012 R2 that stops before its hotfix section (timed out, cut short).
const SYSTEMINFO_CUT: &str = include_str!("fixtures/systeminfo-cut.txt");

#[test]
fn a_systeminfo_cut_short_is_no_update_list() {
    let findings = windows(&[("commands/systeminfo.txt", SYSTEMINFO_CUT)]);
    assert!(
        !fired(&findings, "INSTALL-KB2883200-MISSING"),
        "{findings:#?}"
    );
    let gaps = detail_of(&findings, "COLLECT-INCOMPLETE");
    assert!(
        gaps.iter()
            .any(|d| d.contains("commands/systeminfo.txt") && d.contains("KB2883200")),
        "{gaps:?}"
    );
}

#[test]
fn a_timed_out_systeminfo_is_named_once() {
    let mut facts = windows_facts();
    let mut item = Item::new(
        "systeminfo",
        ItemKind::Command,
        "systeminfo",
        Status::Timeout,
    );
    item.path = Some("commands/systeminfo.txt".to_string());
    facts.items = vec![item];
    // Even a list that looks whole is not trusted when the command was killed.
    let whole = include_str!("fixtures/windows/a-timed-out-systeminfo-is-named-once/whole.txt");
    let findings = findings_of(
        &with(HEALTHY_WINDOWS, &[("commands/systeminfo.txt", whole)]),
        &facts,
    );
    assert!(!fired(&findings, "INSTALL-KB2883200-MISSING"));
    assert_eq!(
        detail_of(&findings, "COLLECT-INCOMPLETE").len(),
        1,
        "{findings:#?}"
    );
}

#[test]
fn kb2919355_contains_kb2883200() {
    let with_update = include_str!("fixtures/windows/kb2919355-contains-kb2883200/with_update.txt");
    assert!(!fired(
        &windows(&[("commands/systeminfo.txt", with_update)]),
        "INSTALL-KB2883200-MISSING"
    ));
    let without = with_update.replace("KB2919355", "KB2999226");
    let findings = windows(&[("commands/systeminfo.txt", &without)]);
    assert!(fired(&findings, "INSTALL-KB2883200-MISSING"));
    assert!(detail_of(&findings, "INSTALL-KB2883200-MISSING")[0].contains("KB2919355"));
}

#[test]
fn utf16_wmic_qfe_without_bom_is_read() {
    // `wmic qfe > file` and some pipes: UTF-16LE, here without a byte-order mark.
    let qfe = include_str!("fixtures/windows/utf16-wmic-qfe-without-bom-is-read/qfe.txt");
    let mut files = with(
        HEALTHY_WINDOWS,
        &[("commands/systeminfo.txt", SYSTEMINFO_CUT)],
    );
    files.insert("commands/wmic-qfe.txt".to_string(), utf16le(qfe));
    let findings = findings_of(&files, &windows_facts());
    assert!(
        !fired(&findings, "INSTALL-KB2883200-MISSING"),
        "{findings:#?}"
    );
    assert!(
        !fired(&findings, "COLLECT-INCOMPLETE"),
        "wmic qfe is a whole list"
    );
    // The same list without the update: it is a list, so the absence counts.
    files.insert(
        "commands/wmic-qfe.txt".to_string(),
        utf16le(&qfe.replace("2883200", "2919442")),
    );
    assert!(fired(
        &findings_of(&files, &windows_facts()),
        "INSTALL-KB2883200-MISSING"
    ));
}

#[test]
fn real_app_rule_in_a_profile_that_is_not_current_does_not_open_the_ports() {
    // Windows' rule for an allowed application (inbound, Protocol Any, no port) applies to
    // Domain,Private; the machine's current profile is Public. The replication ports are closed.
    let files = with(
        HEALTHY_WINDOWS,
        &[
            ("commands/netsh-firewall-profiles.txt", ALLPROFILES_ON),
            ("commands/netsh-firewall-currentprofile.txt", CURRENT_PUBLIC),
            ("commands/netsh-firewall-rules.txt", APP_RULE),
        ],
    );
    let findings = findings_of(&files, &windows_facts());
    let details = detail_of(&findings, "FIREWALL-PORT-BLOCKED");
    assert!(!details.is_empty(), "{findings:#?}");
    assert!(details.iter().all(|d| d.contains("Public")), "{details:?}");
    // With the Domain profile current the same rule opens every port: silence.
    let domain = CURRENT_PUBLIC.replace("Public Profile", "Domain Profile");
    let files = with(
        HEALTHY_WINDOWS,
        &[
            ("commands/netsh-firewall-profiles.txt", ALLPROFILES_ON),
            ("commands/netsh-firewall-currentprofile.txt", &domain),
            ("commands/netsh-firewall-rules.txt", APP_RULE),
        ],
    );
    assert!(!fired(
        &findings_of(&files, &windows_facts()),
        "FIREWALL-PORT-BLOCKED"
    ));
}

#[test]
fn without_currentprofile_the_detail_says_so() {
    let files = with(
        HEALTHY_WINDOWS,
        &[
            ("commands/netsh-firewall-profiles.txt", ALLPROFILES_ON),
            ("commands/netsh-firewall-rules.txt", include_str!("fixtures/windows/without-currentprofile-the-detail-says-so/netsh-firewall-rules.txt")),
        ],
    );
    let findings = findings_of(&files, &windows_facts());
    let details = detail_of(&findings, "FIREWALL-PORT-BLOCKED");
    assert!(
        details
            .iter()
            .any(|d| d.contains("current profile unknown")),
        "{details:?}"
    );
}

#[test]
fn registry_rules_are_preferred_and_block_rules_win() {
    let reg =
        include_str!("fixtures/windows/registry-rules-are-preferred-and-block-rules-win/reg.txt");
    let files = with(
        HEALTHY_WINDOWS,
        &[
            ("commands/netsh-firewall-profiles.txt", ALLPROFILES_ON),
            ("commands/reg-firewall-rules.txt", reg),
        ],
    );
    let findings = findings_of(&files, &windows_facts());
    let blocked: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule == "FIREWALL-PORT-BLOCKED")
        .collect();
    assert_eq!(blocked.len(), 1, "{blocked:#?}");
    assert!(blocked[0]
        .detail
        .as_deref()
        .is_some_and(|d| d.contains("no peer proxy")));
    assert_eq!(
        blocked[0].path.as_deref(),
        Some("commands/reg-firewall-rules.txt")
    );
    assert_eq!(blocked[0].line, Some(4));
}

#[test]
fn cp949_log_lines_give_readable_excerpts() {
    // A DRX log written in the ANSI code page of Korean Windows: "연결 실패" in CP949.
    let mut line = b"E1120 16:37:05.000000 t42060 r0] ".to_vec();
    line.extend_from_slice(b"\xbf\xac\xb0\xe1 \xbd\xc7\xc6\xd0: connection refused\r\n");
    let mut files = with(HEALTHY_WINDOWS, &[]);
    files.insert("files/C/Program Files/DRX/logs/r0/r0.log".to_string(), line);
    let findings = findings_of(&files, &windows_facts());
    let refused = findings
        .iter()
        .find(|f| f.rule == "DRX-CONNECTION-REFUSED")
        .expect("fires");
    let excerpt = refused.excerpt.as_deref().unwrap_or("");
    assert!(excerpt.contains("연결 실패"), "{excerpt}");
    assert!(!excerpt.contains('\u{fffd}'));
}

/// A BSR engine log line on Windows (FACTS §1.4: sequence, local time, function, category,
/// level tag glued to the text, CRLF) carrying `message` as the BSR source writes it.
fn bsr_log_line(message: &str) -> String {
    format!(
        "00001234 11/20/2026 16:37:05.1234567 [bsr_connect] [CONNECTION:4] bsr_erro {message}\r\n"
    )
}

fn bsr_messages() -> Vec<String> {
    BSR_MESSAGES
        .lines()
        .filter_map(|l| {
            let start = l.find('"')? + 1;
            let end = l.rfind('"')?;
            Some(l[start..end].to_string())
        })
        .collect()
}

#[test]
fn bsr_engine_log_wordings_on_windows() {
    let messages = bsr_messages();
    assert_eq!(messages.len(), 5);
    let log = "files/C/Program Files/bsr/log/bsr.log";
    for (message, rule) in messages.iter().zip([
        "REPL-AUTH-FAILED",
        "REPL-AUTH-FAILED",
        "REPL-SPLIT-BRAIN",
        "REPL-SPLIT-BRAIN",
        "REPL-SPLIT-BRAIN",
    ]) {
        let findings = windows(&[(log, &bsr_log_line(message))]);
        assert!(fired(&findings, rule), "{message} → {rule}: {findings:#?}");
    }
    // The same log saved as UTF-16 (bsrsupport copies, Notepad "Unicode"): still read.
    let mut files = with(HEALTHY_WINDOWS, &[]);
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(utf16le(&bsr_log_line(&messages[1])));
    files.insert(log.to_string(), bytes);
    let findings = findings_of(&files, &windows_facts());
    let auth = findings
        .iter()
        .find(|f| f.rule == "REPL-AUTH-FAILED")
        .expect("fires on UTF-16");
    assert!(auth
        .excerpt
        .as_deref()
        .is_some_and(|e| e.contains("trying again") && !e.contains('\0')));
}
