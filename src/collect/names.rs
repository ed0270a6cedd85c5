//! File names that are not UTF-8. Older Korean Linux systems (and files copied from Korean
//! Windows) name logs in EUC-KR/CP949 (`오류.log` is `BF C0 B7 F9 2E 6C 6F 67`). A lossy
//! conversion turns every such name into `����.log`, so two logs collide into one bundle member.
//! Here every name stays distinct and reversible:
//!
//! - the bundle path decodes each non-UTF-8 component from CP949 where it decodes (readable in the
//!   bundle), else escapes it byte by byte;
//! - the index's `source` keeps the real name reversibly: UTF-8 as it is, every other byte as
//!   `\xNN` and a backslash as `\\` (only for names that are not UTF-8; the item's
//!   `name_encoding` says so), so `unescape` gives back the exact bytes.

/// How one logical path (`/var/log/...`) is named in the bundle and the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// For the index's `source`: the path itself, or its reversible escape.
    pub source: String,
    /// The logical path the bundle path is made of (`files` + this).
    pub bundle: String,
    /// `None` for UTF-8 names; `cp949` or `bytes` otherwise.
    pub encoding: Option<&'static str>,
}

pub fn name_of(raw: &[u8]) -> Name {
    if let Ok(text) = std::str::from_utf8(raw) {
        return Name {
            source: text.to_string(),
            bundle: text.to_string(),
            encoding: None,
        };
    }
    let mut all_decoded = true;
    let components: Vec<String> = raw
        .split(|&b| b == b'/')
        .map(|component| match std::str::from_utf8(component) {
            Ok(text) => text.to_string(),
            Err(_) => match decode_cp949(component) {
                Some(text) => text,
                None => {
                    all_decoded = false;
                    escape(component)
                }
            },
        })
        .collect();
    Name {
        source: escape(raw),
        bundle: components.join("/"),
        encoding: Some(if all_decoded { "cp949" } else { "bytes" }),
    }
}

/// UTF-8 runs as they are (a backslash doubled), every other byte as `\xNN`.
pub fn escape(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len() + 8);
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02X}"));
        }
    }
    out
}

/// The bytes `escape` was given; `None` for text `escape` cannot have written.
pub fn unescape(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        match bytes.get(i + 1)? {
            b'\\' => {
                out.push(b'\\');
                i += 2;
            }
            b'x' => {
                let hex = text.get(i + 2..i + 4)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 4;
            }
            _ => return None,
        }
    }
    Some(out)
}

/// A name component decoded from CP949 (a superset of EUC-KR), when every byte decodes and the
/// result is a plausible name (no control characters, no separators).
fn decode_cp949(component: &[u8]) -> Option<String> {
    let text =
        encoding_rs::EUC_KR.decode_without_bom_handling_and_without_replacement(component)?;
    let plausible = !text.is_empty()
        && !text
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\' || c == '\u{FFFD}');
    plausible.then(|| text.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `오류.log` and `정보.log` in CP949.
    const ERROR_LOG: &[u8] = b"/var/log/drx/\xBF\xC0\xB7\xF9.log";
    const INFO_LOG: &[u8] = b"/var/log/drx/\xC1\xA4\xBA\xB8.log";

    #[test]
    fn korean_code_page_names_decode_and_stay_distinct() {
        let error = name_of(ERROR_LOG);
        let info = name_of(INFO_LOG);
        assert_eq!(error.bundle, "/var/log/drx/오류.log");
        assert_eq!(info.bundle, "/var/log/drx/정보.log");
        assert_eq!(error.encoding, Some("cp949"));
        assert_eq!(error.source, "/var/log/drx/\\xBF\\xC0\\xB7\\xF9.log");
        assert_ne!(error.source, info.source);
    }

    #[test]
    fn undecodable_bytes_are_escaped_and_every_escape_reverses() {
        // 0xFF is neither UTF-8 nor CP949.
        let raw = b"/var/log/a\xFFb\\c.log";
        let name = name_of(raw);
        assert_eq!(name.encoding, Some("bytes"));
        assert_eq!(name.source, "/var/log/a\\xFFb\\\\c.log");
        assert_eq!(unescape(&name.source).unwrap(), raw);
        for raw in [ERROR_LOG, INFO_LOG, b"/x/\\xBF-literal\xBF".as_slice()] {
            assert_eq!(unescape(&name_of(raw).source).unwrap(), raw);
        }
        // A UTF-8 name that only looks escaped is told apart by `encoding` (the index's
        // `name_encoding`); their bundle paths are made distinct by the plan.
        let literal = name_of(b"/x/\\xBF");
        let byte = name_of(b"/x/\xBF");
        assert_ne!(
            (literal.source, literal.encoding),
            (byte.source, byte.encoding)
        );
    }

    #[test]
    fn utf8_names_are_unchanged() {
        let name = name_of("/var/log/오류.log".as_bytes());
        assert_eq!(name.source, "/var/log/오류.log");
        assert_eq!(name.bundle, name.source);
        assert_eq!(name.encoding, None);
        assert_eq!(name_of(b"/a\\b").source, "/a\\b");
    }
}
