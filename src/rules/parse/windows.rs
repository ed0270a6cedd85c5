//! Windows facts that keep their meaning across localized output: the OS version number
//! (`6.3.9600`), KB ids (`KB2883200`), and the .NET registry dump's `Install REG_DWORD 0x1`.
use std::collections::BTreeSet;

use crate::rules::model::Place;

/// Windows Server releases the install rules care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowsRelease {
    Server2008R2,
    Server2012R2,
}

/// From `systeminfo` or an OS release string: `6.3.9600` / "Server 2012 R2" → 2012 R2;
/// `6.1.7601` / "Server 2008 R2" → 2008 R2. Client versions with the same build number (8.1, 7)
/// are told apart by the name when there is one.
pub fn release(text: &str) -> Option<(WindowsRelease, Place)> {
    release_in(text, "")
}

pub fn release_in(text: &str, path: &str) -> Option<(WindowsRelease, Place)> {
    for (i, line) in text.lines().enumerate() {
        let lower = line.to_ascii_lowercase();
        let found = if lower.contains("server 2012 r2") {
            Some(WindowsRelease::Server2012R2)
        } else if lower.contains("server 2008 r2") {
            Some(WindowsRelease::Server2008R2)
        } else {
            None
        };
        if let Some(found) = found {
            return Some((found, Place::new(path, i as u64 + 1, line)));
        }
    }
    // No product name (localized, or absent): fall back to the build number, unless the name
    // says it is a client release.
    let lower = text.to_ascii_lowercase();
    let client = lower.contains("windows 8.1") || lower.contains("windows 7");
    if client {
        return None;
    }
    for (i, line) in text.lines().enumerate() {
        let found = if line.contains("6.3.9600") {
            Some(WindowsRelease::Server2012R2)
        } else if line.contains("6.1.7601") {
            Some(WindowsRelease::Server2008R2)
        } else {
            None
        };
        if let Some(found) = found {
            return Some((found, Place::new(path, i as u64 + 1, line)));
        }
    }
    None
}

/// Every `KB<digits>` in a text (wmic qfe, systeminfo's hotfix list), upper-cased.
pub fn kb_ids(text: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 2 < bytes.len() {
        if bytes[i].eq_ignore_ascii_case(&b'k')
            && bytes[i + 1].eq_ignore_ascii_case(&b'b')
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
        {
            let digits = bytes[i + 2..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits >= 6 {
                let id = &text[i + 2..i + 2 + digits];
                ids.insert(format!("KB{id}"));
                i += 2 + digits;
                continue;
            }
        }
        i += 1;
    }
    ids
}

/// A `[01]: KB2883200` entry of systeminfo's hotfix list (indented, numbered).
fn is_hotfix_entry(line: &str) -> bool {
    let t = line.trim_start();
    t.len() < line.len()
        && t.starts_with('[')
        && t.find("]:")
            .is_some_and(|end| t[1..end].chars().all(|c| c.is_ascii_digit()))
}

/// A top-level `Label:   value` line of systeminfo (not indented).
fn is_top_level(line: &str) -> bool {
    !line.starts_with([' ', '\t']) && line.contains(':')
}

/// Whether systeminfo's output holds its whole hotfix section. The header (English "Hotfix(s)",
/// Korean "핫픽스", or any label followed by `[01]:` entries) declares how many entries follow
/// ("2 Hotfix(s) Installed.", "3개 핫픽스가 설치되었습니다.", "Число установленных исправлений - 7.":
/// the first number of its value, in any language); when it does, that count decides: the
/// section is whole when as many entries were listed, the last one ending its line, whether or
/// not another section follows. Without a count, the next section (Network Card(s), 네트워크
/// 카드, ...) must follow. A systeminfo cut short (timed out, truncated) before the end of its
/// list is no update list at all: an absent KB there is not evidence.
pub fn systeminfo_hotfix_section_complete(text: &str) -> bool {
    let lines: Vec<&str> = text.lines().collect();
    let header = lines.iter().enumerate().position(|(i, line)| {
        if !is_top_level(line) {
            return false;
        }
        let label = line.split(':').next().unwrap_or("").to_lowercase();
        label.contains("hotfix")
            || label.contains("핫픽스")
            || lines.get(i + 1).is_some_and(|next| is_hotfix_entry(next))
    });
    let Some(header) = header else {
        return false;
    };
    let rest = &lines[header + 1..];
    let listed = rest.iter().take_while(|line| is_hotfix_entry(line)).count();
    let after = rest[listed..].iter().find(|line| !line.trim().is_empty());
    if let Some(declared) = declared_count(lines[header]) {
        // The last entry must end its line: one cut inside its KB number is not whole.
        let last_line_whole = after.is_some() || listed == 0 || text.ends_with('\n');
        return declared == listed && last_line_whole;
    }
    after.is_some_and(|line| is_top_level(line))
}

/// The number of hotfixes a systeminfo header line declares: the first number of its value
/// (after the label's colon), whatever the language; None when the value has none (`N/A`).
fn declared_count(header: &str) -> Option<usize> {
    let (_, value) = header.split_once(':')?;
    let start = value.find(|c: char| c.is_ascii_digit())?;
    let digits: String = value[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// `reg query "HKLM\SOFTWARE\Microsoft\NET Framework Setup\NDP" /s`: is there a `...\v3.5` key
/// with `Install REG_DWORD 0x1`?
pub fn dotnet35_installed(text: &str) -> bool {
    let mut in_v35 = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.to_ascii_uppercase().starts_with("HKEY_") {
            in_v35 = trimmed.to_ascii_lowercase().ends_with("\\v3.5");
            continue;
        }
        if in_v35 {
            let words: Vec<&str> = trimmed.split_whitespace().collect();
            if words.len() >= 3
                && words[0].eq_ignore_ascii_case("Install")
                && words[1].eq_ignore_ascii_case("REG_DWORD")
                && matches!(words[2], "0x1" | "0x00000001" | "1")
            {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_from_systeminfo() {
        let en = "Host Name:                 NODE1\nOS Name:                   Microsoft Windows Server 2012 R2 Standard\nOS Version:                6.3.9600 N/A Build 9600\n";
        assert_eq!(release(en).map(|r| r.0), Some(WindowsRelease::Server2012R2));
        let ko = "호스트 이름:               NODE1\nOS 이름:                   Microsoft Windows Server 2008 R2 Enterprise\nOS 버전:                   6.1.7601 Service Pack 1 빌드 7601\n";
        assert_eq!(release(ko).map(|r| r.0), Some(WindowsRelease::Server2008R2));
        let number_only = "OS 버전: 6.3.9600 N/A 빌드 9600\n";
        assert_eq!(
            release(number_only).map(|r| r.0),
            Some(WindowsRelease::Server2012R2)
        );
        assert!(release("OS Name: Microsoft Windows 8.1 Pro\nOS Version: 6.3.9600\n").is_none());
        assert!(release("OS Version: 10.0.17763 N/A Build 17763\n").is_none());
    }

    #[test]
    fn kb_ids_regardless_of_labels() {
        let systeminfo = "핫픽스:                    3개 핫픽스가 설치되었습니다.\n                           [01]: KB2883200\n                           [02]: KB2919355\n                           [03]: kb123\n";
        let ids = kb_ids(systeminfo);
        assert!(ids.contains("KB2883200") && ids.contains("KB2919355"));
        assert_eq!(ids.len(), 2);
        let qfe = "Caption=http://support.microsoft.com/?kbid=2883200\nHotFixID=KB2883200\nInstalledOn=10/1/2014\n";
        assert!(kb_ids(qfe).contains("KB2883200"));
    }

    #[test]
    fn hotfix_section_must_be_whole() {
        let whole = "OS Name:   Microsoft Windows Server 2012 R2 Standard\nHotfix(s):                 2 Hotfix(s) Installed.\n                           [01]: KB2919355\n                           [02]: KB2919442\nNetwork Card(s):           1 NIC(s) Installed.\n";
        assert!(systeminfo_hotfix_section_complete(whole));
        // Cut after its first entry: fewer than the two it declares.
        let cut = whole
            .split("                           [02]")
            .next()
            .unwrap_or("");
        assert!(
            !systeminfo_hotfix_section_complete(cut),
            "cut inside the list"
        );
        let no_section = "Host Name: N1\nOS Name: Microsoft Windows Server 2012 R2 Standard\nOS Version: 6.3.9600\n";
        assert!(!systeminfo_hotfix_section_complete(no_section));
        let ko = "핫픽스:                    1개 핫픽스가 설치되었습니다.\n                           [01]: KB2919355\n네트워크 카드:             1 NIC이(가) 설치되었습니다.\n";
        assert!(systeminfo_hotfix_section_complete(ko));
        // An unknown language: the entries themselves show the header.
        let other = "Correctifs:   1\n                 [01]: KB2919355\nCartes réseau: 1\n";
        assert!(systeminfo_hotfix_section_complete(other));
    }

    /// Issue 24.26: a hotfix section that is the last of the output is whole when its declared
    /// count equals the entries listed, in every language; a count not reached is cut.
    #[test]
    fn the_declared_count_decides_when_the_section_is_last() {
        let en = "OS Name:   Microsoft Windows Server 2012 R2 Standard\r\nHotfix(s):                 2 Hotfix(s) Installed.\r\n                           [01]: KB2919355\r\n                           [02]: KB2919442\r\n";
        assert!(systeminfo_hotfix_section_complete(en));
        let ru = "Название ОС:               Microsoft Windows Server 2012 R2 Standard\nИсправление(я):            Число установленных исправлений - 3.\n                           [01]: KB2919355\n                           [02]: KB2919442\n                           [03]: KB3000850\n";
        assert!(systeminfo_hotfix_section_complete(ru));
        let ko = "핫픽스:                    2개 핫픽스가 설치되었습니다.\n                           [01]: KB2919355\n                           [02]: KB2919442\n";
        assert!(systeminfo_hotfix_section_complete(ko));
        // Seven declared, two listed: cut, in any language, even with a section after it.
        let short = ru.replace("- 3.", "- 7.");
        assert!(!systeminfo_hotfix_section_complete(&short));
        let short_then_more = format!(
            "{}Сетевые адаптеры:          1\n",
            en.replace("2 Hotfix", "5 Hotfix")
        );
        assert!(!systeminfo_hotfix_section_complete(&short_then_more));
        // The count is reached but the last entry is cut inside its number.
        let cut_in_last = en.trim_end().trim_end_matches("442");
        assert!(!systeminfo_hotfix_section_complete(cut_in_last));
        // None installed, declared, nothing after.
        assert!(systeminfo_hotfix_section_complete(
            "Hotfix(s):                 0 Hotfix(s) Installed.\n"
        ));
        // No count (N/A): the next section must follow.
        assert!(!systeminfo_hotfix_section_complete("Hotfix(s):   N/A\n"));
    }

    #[test]
    fn dotnet35_from_reg_query() {
        let present = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v3.5\n    Install    REG_DWORD    0x1\n    SP    REG_DWORD    0x1\n\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v3.5\\1033\n    Install    REG_DWORD    0x1\n";
        assert!(dotnet35_installed(present));
        let absent = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v2.0.50727\n    Install    REG_DWORD    0x1\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v3.5\n    Install    REG_DWORD    0x0\n";
        assert!(!dotnet35_installed(absent));
    }
}
