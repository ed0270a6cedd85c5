//! Text as Windows writes it, decoded to UTF-8: UTF-16LE with or without a byte-order mark (a
//! redirected `wmic`), UTF-8 with a BOM (Notepad), CP949 (the ANSI/OEM code page of Korean
//! Windows), and plain UTF-8. Rules read evidence through here, so a KB number in UTF-16 output
//! is found and an excerpt never shows mojibake.
use std::borrow::Cow;

const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// How a byte stream is encoded, judged from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf8Bom,
    Utf16Le { bom: bool },
    Utf16Be,
}

/// ASCII text in UTF-16LE has a NUL in every second byte, and text never holds NUL bytes
/// otherwise: the first two characters are ASCII and at least half of the first 32 are.
fn looks_utf16le(bytes: &[u8]) -> bool {
    let pairs: Vec<&[u8]> = bytes[..bytes.len().min(64)].chunks_exact(2).collect();
    let ascii = |pair: &[u8]| pair[1] == 0 && pair[0] != 0 && pair[0].is_ascii();
    pairs.len() >= 2
        && pairs[..2].iter().all(|pair| ascii(pair))
        && pairs.iter().filter(|pair| ascii(pair)).count() * 2 >= pairs.len()
}

pub fn sniff(bytes: &[u8]) -> Encoding {
    match bytes {
        [0xEF, 0xBB, 0xBF, ..] => Encoding::Utf8Bom,
        [0xFF, 0xFE, ..] => Encoding::Utf16Le { bom: true },
        [0xFE, 0xFF, ..] => Encoding::Utf16Be,
        _ if looks_utf16le(bytes) => Encoding::Utf16Le { bom: false },
        _ => Encoding::Utf8,
    }
}

fn utf16(body: &[u8], little: bool) -> String {
    let units: Vec<u16> = body
        .chunks(2)
        .map(|pair| {
            let (a, b) = (pair[0], *pair.get(1).unwrap_or(&0));
            if little {
                u16::from_le_bytes([a, b])
            } else {
                u16::from_be_bytes([a, b])
            }
        })
        .collect();
    String::from_utf16_lossy(&units)
}

/// Bytes that are not UTF-8: CP949 when they decode cleanly as such (Korean Windows), else
/// UTF-8 with replacement characters.
fn legacy(bytes: &[u8]) -> Cow<'_, str> {
    let (text, had_errors) = encoding_rs::EUC_KR.decode_without_bom_handling(bytes);
    if had_errors {
        String::from_utf8_lossy(bytes)
    } else {
        text
    }
}

/// A whole file or command output as text.
pub fn text(bytes: &[u8]) -> Cow<'_, str> {
    match sniff(bytes) {
        Encoding::Utf8Bom => line(&bytes[UTF8_BOM.len()..]),
        Encoding::Utf16Le { bom } => Cow::Owned(utf16le_text(bytes, bom)),
        Encoding::Utf16Be => Cow::Owned(utf16(&bytes[2..], false)),
        Encoding::Utf8 => line(bytes),
    }
}

/// One line of a file that is not UTF-16: UTF-8, else CP949, never mojibake.
pub fn line(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => legacy(bytes),
    }
}

/// One line of a UTF-16LE file split at its `0A` bytes: the line's own bytes start after the
/// `00` that completed the previous line's `0A 00`, and end with the `0D` of `0D 00 0A`.
pub fn utf16le_line(bytes: &[u8], first: bool) -> String {
    let mut text = utf16le_piece(bytes, first);
    while text.ends_with(['\r', '\0']) {
        text.pop();
    }
    text
}

/// A piece of UTF-16LE text cut at an `0A` byte (a line) or anywhere (a window of a long
/// line): the first without its BOM; the others start on the byte that makes their NUL bytes
/// the high halves of ASCII characters (after a line's `0A`, the `00` completing it is skipped).
fn utf16le_piece(bytes: &[u8], first: bool) -> String {
    let mut body = bytes;
    if first && body.starts_with(&[0xFF, 0xFE]) {
        body = &body[2..];
    } else if !first {
        let even = body.iter().step_by(2).filter(|&&b| b == 0).count();
        let odd = body.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
        if even > odd {
            body = &body[1..];
        }
    }
    utf16(body, true)
}

/// A whole text judged UTF-16LE by its start, decoded line by line as the scan reads a file: a
/// line (cut at its `0A` byte) that holds a NUL byte, or the first after a BOM, is UTF-16; a
/// line without one is not (UTF-16 puts a NUL in every line: the `00` of the `0A 00` before
/// it), so text that merely follows a beginning that looks wide is read as it is. An `0A` that
/// is the low byte of a character (U+C70A) rather than a line end joins the UTF-16 line to what
/// follows, when what follows is UTF-16 too.
fn utf16le_text(bytes: &[u8], bom: bool) -> String {
    let mut out = String::with_capacity(bytes.len() / 2);
    let wide_from = |at: usize| {
        // The piece starting at `at` holds a NUL, or ends in a real `0A 00`.
        let rest = &bytes[at..];
        let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |nl| nl + 1);
        rest[..end].contains(&0) || rest.get(end) == Some(&0)
    };
    let (mut start, mut first) = (0, true);
    while start < bytes.len() {
        let mut end =
            memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |nl| start + nl + 1);
        let wide = (first && bom) || bytes[start..end].contains(&0);
        if wide {
            // Inside a character: the byte after the `0A` is not the `00` of a line end.
            while end < bytes.len() && bytes[end] != 0 && bytes[end - 1] == b'\n' && wide_from(end)
            {
                end = memchr::memchr(b'\n', &bytes[end..]).map_or(bytes.len(), |nl| end + nl + 1);
            }
        }
        let piece = &bytes[start..end];
        let (body, newline) = match piece.strip_suffix(b"\n") {
            Some(body) => (body, true),
            None => (piece, false),
        };
        if wide {
            out.push_str(&utf16le_piece(body, first));
        } else {
            out.push_str(&line(body));
        }
        if newline {
            out.push('\n');
        }
        (start, first) = (end, false);
    }
    out
}

/// Command output as the collector stores it: UTF-8. UTF-16 (with or without a BOM) is
/// converted, a UTF-8 BOM dropped; `None` when the bytes are neither (the caller then decodes
/// them from the console code page).
pub fn command_output(bytes: &[u8]) -> Option<String> {
    match sniff(bytes) {
        Encoding::Utf16Le { .. } | Encoding::Utf16Be => Some(text(bytes).into_owned()),
        Encoding::Utf8Bom => std::str::from_utf8(&bytes[UTF8_BOM.len()..])
            .ok()
            .map(str::to_string),
        Encoding::Utf8 => std::str::from_utf8(bytes).ok().map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wide(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
    }

    #[test]
    fn utf16_without_bom_is_decoded_not_passed_through_with_nuls() {
        let qfe = "Caption  HotFixID\r\nhttp://support.microsoft.com/?kbid=2883200  KB2883200\r\n";
        let bytes = wide(qfe);
        // Pure-ASCII UTF-16 is valid UTF-8 (NUL is a valid character): it must not be kept.
        assert!(std::str::from_utf8(&bytes).is_ok());
        assert_eq!(text(&bytes), qfe);
        assert_eq!(command_output(&bytes).as_deref(), Some(qfe));
        let mut with_bom = vec![0xFF, 0xFE];
        with_bom.extend(wide("OS 이름: x"));
        assert_eq!(text(&with_bom), "OS 이름: x");
    }

    #[test]
    fn utf8_bom_and_cp949() {
        assert_eq!(text(b"\xEF\xBB\xBFHost Name: N1"), "Host Name: N1");
        assert_eq!(command_output(b"\xEF\xBB\xBFok").as_deref(), Some("ok"));
        // "호스트 이름:" in CP949.
        let cp949 = [
            0xC8, 0xA3, 0xBD, 0xBA, 0xC6, 0xAE, b' ', 0xC0, 0xCC, 0xB8, 0xA7, b':',
        ];
        assert_eq!(text(&cp949), "호스트 이름:");
        assert_eq!(line(&cp949), "호스트 이름:");
        assert_eq!(
            command_output(&cp949),
            None,
            "left to the console code page"
        );
        // Neither UTF-8 nor CP949: replacement characters, not a panic.
        assert!(line(&[0xFF, 0x41]).contains('A'));
    }

    #[test]
    fn utf16_lines_split_at_newline_bytes() {
        let bytes = wide("a\r\nKB2883200\r\n");
        let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        assert_eq!(utf16le_line(lines[0], true), "a");
        assert_eq!(utf16le_line(lines[1], false), "KB2883200");
    }

    /// Issue 24 item 20: a beginning that looks like UTF-16 (or a BOM) does not make the rest
    /// of a file unreadable: lines without a NUL byte are not UTF-16 and are read as they are.
    #[test]
    fn only_lines_with_nul_bytes_are_read_as_utf16() {
        let mut hostile = wide("abcdefghijklmnopqrstuvwxyz0123456789");
        hostile.extend_from_slice(b"\nresource r0 {\n  net { protocol C; }\n}\n");
        assert_eq!(sniff(&hostile), Encoding::Utf16Le { bom: false });
        let decoded = text(&hostile);
        assert!(
            decoded.ends_with("\nresource r0 {\n  net { protocol C; }\n}\n"),
            "{decoded:?}"
        );
        let mut with_bom = vec![0xFF, 0xFE];
        with_bom.extend_from_slice(b"x\nsplit-brain detected\n");
        assert!(text(&with_bom).contains("\nsplit-brain detected\n"));
        // Real UTF-16 keeps decoding, Korean lines and a final line without newline included.
        // U+C70A ("윊") is the bytes 0A C7: not a line end.
        let real = "OS 이름: x\r\n호스트 윊 a\r\n윊\r\nKB2883200";
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(wide(real));
        assert_eq!(text(&bytes), real);
        assert_eq!(text(&wide("a\nb\n")), "a\nb\n");
    }

    /// A window cut anywhere in a long UTF-16 line decodes from the byte that aligns it.
    #[test]
    fn utf16_windows_cut_at_odd_offsets_are_aligned() {
        let bytes = wide(&"split-brain ".repeat(10));
        for cut in [1, 2, 3, 7, 8] {
            let decoded = utf16le_line(&bytes[cut..], false);
            assert!(
                decoded.contains("split-brain split-brain"),
                "{cut}: {decoded:?}"
            );
        }
    }

    #[test]
    fn plain_ascii_is_not_taken_for_utf16() {
        assert_eq!(sniff(b"Windows IP Configuration"), Encoding::Utf8);
        assert_eq!(sniff(b""), Encoding::Utf8);
        assert_eq!(sniff(b"a"), Encoding::Utf8);
    }
}
