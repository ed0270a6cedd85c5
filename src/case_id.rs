//! `--case-id` and `--label`: which support case a bundle belongs to. The case id goes into the
//! bundle's file name (`drx-collect-<host>-<case>-<stamp>.tgz`), so its characters are the ones
//! every file system, mail system and shell takes without quoting; the label is a short note for
//! people (`before the upgrade`) and only goes into `index.json` and `SUMMARY.txt`.

/// Longest case id: ticket numbers are short, and the file name must stay readable.
const CASE_ID_MAX: usize = 64;
/// Longest label, in characters.
const LABEL_MAX: usize = 120;

/// A case id: 1 to 64 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit (a leading `-`
/// would read as an option, a leading `.` hides the file). `CS-2026-0042`, `SR12345`.
pub fn check_case_id(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("--case-id is empty; give the support case number, e.g. CS-12345".into());
    }
    if text.len() > CASE_ID_MAX {
        return Err(format!(
            "--case-id is {} characters long; at most {CASE_ID_MAX} are allowed",
            text.chars().count()
        ));
    }
    if let Some(bad) = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "--case-id '{}' contains {}; use only letters, digits, '.', '_' and '-' (it goes into the file name)",
            text.escape_debug(),
            describe(bad)
        ));
    }
    if !text.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "--case-id '{text}' must start with a letter or a digit"
        ));
    }
    Ok(text.to_string())
}

/// A label: 1 to 120 printable characters of any script (Korean included), no control
/// characters or line breaks (it is one line of SUMMARY.txt and of `inspect`), spaces trimmed.
pub fn check_label(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("--label is empty; give a short note such as \"before the upgrade\"".into());
    }
    let count = trimmed.chars().count();
    if count > LABEL_MAX {
        return Err(format!(
            "--label is {count} characters long; at most {LABEL_MAX} are allowed"
        ));
    }
    if let Some(bad) = trimmed.chars().find(|c| is_unprintable(*c)) {
        return Err(format!(
            "--label contains {}; use one line of printable text",
            describe(bad)
        ));
    }
    Ok(trimmed.to_string())
}

/// Control characters, and the format characters that reorder or hide text on a terminal
/// (bidirectional overrides, zero-width characters): a label must show what it says.
fn is_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

fn describe(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        '/' | '\\' => format!("a path separator '{c}'"),
        c if c.is_control() || is_unprintable(c) => format!("the character U+{:04X}", c as u32),
        c => format!("'{c}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_ids_are_file_name_safe() {
        for good in ["CS-12345", "SR.2026_01", "42", "a"] {
            assert_eq!(check_case_id(good).unwrap(), good);
        }
        for bad in [
            "",
            "-rf",
            ".hidden",
            "CS 1",
            "../x",
            "a/b",
            "a\\b",
            "케이스",
            "x\ny",
            "a*b",
            &"9".repeat(65),
        ] {
            assert!(check_case_id(bad).is_err(), "{bad:?} was accepted");
        }
        let err = check_case_id("CS 1").unwrap_err();
        assert!(err.contains("a space"), "{err}");
    }

    #[test]
    fn labels_are_one_printable_line() {
        assert_eq!(
            check_label("  before the upgrade ").unwrap(),
            "before the upgrade"
        );
        assert_eq!(check_label("업그레이드 전").unwrap(), "업그레이드 전");
        for bad in [
            "",
            "   ",
            "a\nb",
            "a\u{1b}[31mred",
            "a\u{202e}b",
            "a\u{200b}b",
            &"x".repeat(121),
        ] {
            assert!(check_label(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(check_label(&"가".repeat(120)).is_ok());
    }
}
