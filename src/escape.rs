//! One way to put untrusted text (member names, paths, host facts, log lines) in front of a person.
//! A bundle is hostile input: a name holding `\r`, an escape sequence or a bidi override could
//! repaint a terminal line (`intact` over a failed verdict) or reorder what is read. Every human
//! output of the tool goes through here; JSON output does not (serde escapes what JSON must, and
//! the bytes stay exact for programs). `inspect --cat` writes a member's raw bytes on purpose.
//!
//! Escapes are visible and unambiguous enough to read: `\r`, `\n`, `\t`, `\e` (ESC) and `\u{…}`
//! for the rest. Backslashes are left alone (Windows paths stay readable).
use std::borrow::Cow;

/// True for a character that must never reach a terminal raw: C0 controls, DEL, C1 controls, and
/// the Unicode marks that reorder or break lines (bidi embeddings, overrides, isolates and marks,
/// the line and paragraph separators).
pub fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{061c}'
        | '\u{200e}' | '\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
    )
}

/// `text` with every unsafe character escaped, line breaks included: for a value that must stay
/// on one line (a name, a path, a host name).
pub fn field(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// `text` with every unsafe character escaped except `\n` and `\t`: for a whole block of human
/// output whose line breaks are the tool's own (the untrusted values in it went through
/// [`field`] already, or are log lines shown one per line).
pub fn block(text: &str) -> Cow<'_, str> {
    escape(text, true)
}

fn escape(text: &str, keep_layout: bool) -> Cow<'_, str> {
    let keep = |c: char| !is_unsafe(c) || (keep_layout && (c == '\n' || c == '\t'));
    if text.chars().all(keep) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if keep(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{1b}' => out.push_str("\\e"),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for text in [
            "files/etc/drbd.d/r0.res",
            "호스트 node1",
            "C:\\Windows\\x.log",
            "",
        ] {
            assert!(matches!(field(text), Cow::Borrowed(t) if t == text));
            assert!(matches!(block(text), Cow::Borrowed(t) if t == text));
        }
        assert!(matches!(block("a\n\tb\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn every_class_of_control_is_escaped() {
        let cases = [
            ("a\rintact", "a\\rintact"),
            ("\u{1b}[2K\u{1b}[1Gx", "\\e[2K\\e[1Gx"),
            ("del\u{7f}", "del\\u{7f}"),
            ("c1\u{9b}31m", "c1\\u{9b}31m"),
            ("nel\u{85}", "nel\\u{85}"),
            ("bell\u{7}nul\u{0}", "bell\\u{7}nul\\u{0}"),
            ("\u{202e}gnp.exe", "\\u{202e}gnp.exe"),
            (
                "\u{202a}\u{202b}\u{202c}\u{202d}",
                "\\u{202a}\\u{202b}\\u{202c}\\u{202d}",
            ),
            (
                "\u{2066}\u{2067}\u{2068}\u{2069}",
                "\\u{2066}\\u{2067}\\u{2068}\\u{2069}",
            ),
            ("\u{200f}\u{061c}\u{2028}", "\\u{200f}\\u{61c}\\u{2028}"),
        ];
        for (raw, want) in cases {
            assert_eq!(field(raw), want, "{raw:?}");
            assert_eq!(block(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn a_field_escapes_line_breaks_a_block_keeps_them() {
        assert_eq!(field("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(block("a\nb\tc\r\n"), "a\nb\tc\\r\n");
    }

    #[test]
    fn nothing_unsafe_survives_any_char() {
        // Every scalar value below U+3000 and the specials: the output never holds one raw.
        for c in (0u32..0x3000).filter_map(char::from_u32) {
            let text = format!("x{c}y");
            assert!(!field(&text).chars().any(is_unsafe), "{c:?}");
            assert!(!block(&text)
                .chars()
                .any(|c| is_unsafe(c) && c != '\n' && c != '\t'));
        }
    }
}
