//! Finding secret values in one line of text.
//!
//! A secret is found by its *key*, never by the look of the value: a line is first tested with a
//! cheap case-insensitive search for secret-ish words (`pass`, `secret`, `key`, ...); only then is
//! the token around the word examined. The key and the line stay, only the value span is reported.
//!
//! Forms recognised (the value may be `"double quoted"` with `\` escapes, `'single quoted'`, or a
//! bare word):
//! - `key = value`, `key=value`, `key: value`, JSON `"key": "value"`, XML `<key>value</key>`;
//! - the BSR/DRBD statement form `keyword value;` (the `;` is required, so prose does not match);
//! - the command-line form `--keyword value` (and `--keyword=value`);
//! - `Authorization: <scheme> <credentials>` headers, `Bearer <token>`;
//! - the password in a URL's user-info, `scheme://user:password@host`.
//!
//! The file kind (from the bundle path) changes three things:
//! - In configuration files a `key = value` line whose key starts the line takes the rest of the
//!   line as the value (drx.conf values may contain spaces); elsewhere a bare value ends at a blank
//!   or a delimiter.
//! - In logs, weak key words (`key`, `pass`, `pwd`, `token`) need `=`: `failed to load key: ...` or
//!   `PASS: test` in prose must stay readable. Strong words (`password`, `secret`, ...) also match
//!   with `:`, but such a value is redacted without being trusted as a secret for the leak scan.
//! - Shell files (ifcfg, sysconfig) end a bare value at a blank, as the shell does.
//!
//! Whether a key word names a secret is judged in `keys`; passwords given as program arguments
//! are found by `arguments`.
use regex::bytes::Regex;

mod arguments;
mod keys;

use arguments::program_arguments;
use keys::{classify_key, Strength};

pub(crate) const REDACTED: &[u8] = b"[REDACTED]";

/// What a file is, judged from its bundle path; decides which forms apply (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// Configuration: `.res`, `.conf`, anything under `etc/`.
    Config,
    /// Shell `KEY=value` files: ifcfg, sysconfig.
    Shell,
    /// Logs: `*.log`, `var/log/`, `logs/` folders, collector.log.
    Log,
    /// Command output (`commands/`).
    Command,
    /// Anything else, and free text.
    Text,
}

impl FileKind {
    pub(crate) fn of(bundle_path: &str) -> FileKind {
        let path = bundle_path.replace('\\', "/").to_ascii_lowercase();
        let name = path.rsplit('/').next().unwrap_or("");
        if path.starts_with("commands/") || path.contains("/commands/") {
            return FileKind::Command;
        }
        if name.starts_with("ifcfg-") || path.contains("/sysconfig/") || name.ends_with(".env") {
            return FileKind::Shell;
        }
        if crate::layout::is_log(&path) {
            return FileKind::Log;
        }
        const CONFIG_EXTENSIONS: [&str; 11] = [
            ".res",
            ".conf",
            ".cfg",
            ".ini",
            ".yaml",
            ".yml",
            ".json",
            ".xml",
            ".toml",
            ".properties",
            ".cnf",
        ];
        if CONFIG_EXTENSIONS.iter().any(|ext| name.ends_with(ext))
            || path.starts_with("files/etc/")
            || path.contains("/etc/")
        {
            return FileKind::Config;
        }
        FileKind::Text
    }
}

/// A secret value found in a line: `line[start..end]` is replaced by `[REDACTED]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
    /// The context makes it certain this is a secret, so the fail-closed scan may look for it.
    /// False for guesses (e.g. `secret: ...` in a log line), which are redacted but not searched
    /// for elsewhere: a common word mistaken for a secret would otherwise fail every bundle.
    pub trusted: bool,
}

/// Words that announce a secret nearby (lower case): key words, and programs that take a
/// password as an argument (`ps` shows it).
const HINT_WORDS: &str = "pass|pwd|secret|token|key|psk|credential|authorization|bearer|://\
                          |mysql|mariadb|curl|ipmitool|redis-cli|ldap|smbclient";

pub(crate) struct SecretRules {
    hint: Regex,
    /// The same words, lower case only, for text that was folded to lower case first: a
    /// case-sensitive search of literals is an order of magnitude faster than a case-folding one.
    hint_folded: Regex,
    pub(crate) pem_begin: Regex,
    pub(crate) pem_end: Regex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Separator {
    Equals,
    Colon,
    Blank,
    XmlTag,
}

impl SecretRules {
    pub(crate) fn new() -> SecretRules {
        // The patterns are constants; a failure here is a programming error caught by every test.
        let compile = |pattern: &str| Regex::new(pattern).expect("valid built-in pattern");
        SecretRules {
            hint: compile(&format!("(?i-u){HINT_WORDS}")),
            hint_folded: compile(&format!("(?-u){HINT_WORDS}")),
            pem_begin: compile(r"(?-u)-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"),
            pem_end: compile(r"(?-u)-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"),
        }
    }

    /// Where the next hint of a secret starts at or after `from`, in text already folded to
    /// ASCII lower case (the batch test; offsets are the same as in the original).
    pub(crate) fn next_hint_folded(&self, folded: &[u8], from: usize) -> Option<usize> {
        self.hint_folded
            .find_at(folded, from)
            .map(|hit| hit.start())
    }

    /// Where every hint of a secret starts in `text`.
    pub(crate) fn hint_starts(&self, text: &[u8]) -> Vec<usize> {
        self.hint.find_iter(text).map(|hit| hit.start()).collect()
    }

    /// Whether the line can contain a secret at all: the cheap test before `find`.
    pub(crate) fn might_contain(&self, line: &[u8]) -> bool {
        self.hint.is_match(line)
    }

    /// Appends the secret values of `line` (without its line ending) to `spans`, in order and
    /// non-overlapping. Linear in the line length: every byte is examined a bounded number of
    /// times because the search resumes after each examined token.
    pub(crate) fn find(&self, kind: FileKind, line: &[u8], spans: &mut Vec<Span>) {
        let first = spans.len();
        let mut pos = 0;
        while pos < line.len() {
            let Some(hit) = self.hint.find_at(line, pos) else {
                break;
            };
            let word = hit.as_bytes();
            let start = hit.start();
            let program = program_arguments(line, start, spans)
                || (start >= 3
                    && line[start - 3..start].eq_ignore_ascii_case(b"ssh")
                    && program_arguments(line, start - 3, spans));
            pos = if word == b"://" {
                url_password(line, hit.end(), spans)
            } else if word.eq_ignore_ascii_case(b"bearer") {
                bearer_token(line, pos, hit.start(), hit.end(), spans)
            } else if program {
                hit.end()
            } else {
                key_value(kind, line, pos, hit.start(), hit.end(), spans)
            };
        }
        // Argument forms and key forms can find the same value twice: keep spans ordered and
        // disjoint.
        let found = &mut spans[first..];
        if found.len() > 1 {
            found.sort_by_key(|s| (s.start, s.end));
            let mut merged: Vec<Span> = Vec::with_capacity(found.len());
            for span in found.iter() {
                match merged.last_mut() {
                    Some(last) if span.start <= last.end => {
                        last.end = last.end.max(span.end);
                        last.trusted &= span.trusted;
                    }
                    _ => merged.push(*span),
                }
            }
            spans.truncate(first);
            spans.extend(merged);
        }
    }
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn skip_blanks(line: &[u8], mut at: usize) -> usize {
    while at < line.len() && is_blank(line[at]) {
        at += 1;
    }
    at
}

fn trim_end(line: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && line[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    end
}

/// `scheme://user:password@host`: the password. Returns where to resume.
fn url_password(line: &[u8], after_scheme: usize, spans: &mut Vec<Span>) -> usize {
    let mut colon = None;
    let mut at = after_scheme;
    while at < line.len() {
        match line[at] {
            b'@' => {
                if let Some(c) = colon {
                    if at > c + 1 && &line[c + 1..at] != REDACTED {
                        spans.push(Span {
                            start: c + 1,
                            end: at,
                            trusted: true,
                        });
                    }
                }
                return at + 1;
            }
            b':' if colon.is_none() => colon = Some(at),
            b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' => return at,
            b if b.is_ascii_whitespace() => return at,
            _ => {}
        }
        at += 1;
    }
    at
}

/// `Bearer <token>` anywhere (an `Authorization:` header is handled as a key).
fn bearer_token(
    line: &[u8],
    floor: usize,
    start: usize,
    end: usize,
    spans: &mut Vec<Span>,
) -> usize {
    if start > floor && is_word_byte(line[start - 1]) {
        return end;
    }
    let value_start = skip_blanks(line, end);
    if value_start == end {
        return end;
    }
    let mut value_end = value_start;
    while value_end < line.len()
        && (line[value_end].is_ascii_alphanumeric()
            || matches!(
                line[value_end],
                b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'='
            ))
    {
        value_end += 1;
    }
    if value_end - value_start < 8 || &line[value_start..value_end] == REDACTED {
        // Too short to be a credential ("bearer of the news"); keep prose intact.
        return value_end.max(end);
    }
    spans.push(Span {
        start: value_start,
        end: value_end,
        trusted: true,
    });
    value_end
}

/// The general case: the hint word lies inside a key token; decide whether the token is a secret
/// key followed by a value. Returns where to resume.
fn key_value(
    kind: FileKind,
    line: &[u8],
    floor: usize,
    hit_start: usize,
    hit_end: usize,
    spans: &mut Vec<Span>,
) -> usize {
    let mut key_start = hit_start;
    while key_start > floor && is_key_byte(line[key_start - 1]) {
        key_start -= 1;
    }
    let mut key_end = hit_end;
    while key_end < line.len() && is_key_byte(line[key_end]) {
        key_end += 1;
    }
    let token = &line[key_start..key_end];
    let dashes = token.iter().take_while(|&&b| b == b'-').count();
    let is_flag = dashes > 0;
    let key = &token[dashes..];

    if is_authorization(key) {
        return authorization(line, key_end, spans);
    }
    let strength = classify_key(key);
    if strength == Strength::NotSecret {
        return key_end;
    }

    // Separator. A quoted key (JSON) has its closing quote first.
    let mut at = key_end;
    if key_start > 0
        && matches!(line[key_start - 1], b'"' | b'\'')
        && line.get(at) == Some(&line[key_start - 1])
    {
        at += 1;
    }
    let before_separator = at;
    at = skip_blanks(line, at);
    let separator = match line.get(at) {
        // Fullwidth `＝` / `：` (Korean and Japanese input methods).
        Some(0xEF) if line[at..].starts_with(FULLWIDTH_EQUALS) => {
            at += FULLWIDTH_EQUALS.len();
            Separator::Equals
        }
        Some(0xEF) if line[at..].starts_with(FULLWIDTH_COLON) => {
            at += FULLWIDTH_COLON.len();
            Separator::Colon
        }
        Some(b'=') if line.get(at + 1) != Some(&b'=') => {
            at += 1;
            Separator::Equals
        }
        // `key: value` needs the blank (YAML, headers, logs); `pkg-secret-1:amd64`, `host:port`
        // and URLs are not key-value pairs. A quoted JSON key may be followed directly.
        Some(b':')
            if line.get(at + 1) != Some(&b':')
                && (before_separator > key_end
                    || matches!(line.get(at + 1), None | Some(b' ' | b'\t' | b'\r' | b'\n'))) =>
        {
            at += 1;
            Separator::Colon
        }
        Some(b'>') if key_start > 0 && line[key_start - 1] == b'<' && at == key_end => {
            at += 1;
            Separator::XmlTag
        }
        Some(_) if at > before_separator => Separator::Blank,
        _ => return key_end,
    };
    if kind == FileKind::Log && strength == Strength::Weak && separator != Separator::Equals {
        return key_end;
    }
    let value_start = skip_blanks(line, at);
    if value_start >= line.len() {
        return value_start;
    }
    if line[value_start..].starts_with(REDACTED) {
        // Already redacted (the read-back check runs this again over the bundle).
        return value_start + REDACTED.len();
    }

    let prefix = &line[..key_start];
    let prefix = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
    let starts_line = prefix.trim_ascii().is_empty() || prefix.trim_ascii() == b"export";
    // `mail password = a b`, `smtp auth password: a b`: words before the key, then a spaced
    // `=` or `:` — the value is the rest of the line too.
    let spaced = before_separator < at - 1 || value_start > at;
    let words_before = !starts_line
        && spaced
        && !is_flag
        && prefix.len() <= 64
        && prefix.iter().all(|&b| is_key_byte(b) || is_blank(b));
    let smart = smart_quote(&line[value_start..]);
    let (start, end, resume) = match line[value_start] {
        quote @ (b'"' | b'\'') => {
            let (end, resume) = quoted_end(line, value_start + 1, quote);
            (value_start + 1, end, resume)
        }
        _ if smart.is_some() => {
            let (open_len, close) = smart.unwrap_or((0, b""));
            let from = value_start + open_len;
            match find(line, from, close) {
                Some(end) => (from, end, end + close.len()),
                None => {
                    let end = trim_end(line, from, line.len());
                    (from, end, line.len())
                }
            }
        }
        _ if separator == Separator::XmlTag => {
            let end = find(line, value_start, b"</").unwrap_or(line.len());
            (value_start, end, end)
        }
        _ if matches!(separator, Separator::Equals | Separator::Colon)
            && ((kind == FileKind::Config && starts_line)
                || (words_before
                    && matches!(kind, FileKind::Config | FileKind::Text | FileKind::Command))) =>
        {
            // drx.conf style: the value is the rest of the line.
            let end = trim_end(line, value_start, line.len());
            (value_start, end, end)
        }
        b'-' if separator == Separator::Blank => return key_end, // `--secret --next-flag`
        _ => {
            let end = bare_end(kind, line, value_start);
            (value_start, end, end)
        }
    };
    if separator == Separator::Blank {
        // `keyword value;` (configuration statement) or `--flag value`; anything else is prose.
        let semicolon = skip_blanks(line, resume);
        if !is_flag && line.get(semicolon) != Some(&b';') {
            return key_end;
        }
    }
    if end <= start || &line[start..end] == REDACTED {
        return resume.max(key_end);
    }
    let trusted = !(kind == FileKind::Log && separator == Separator::Colon);
    spans.push(Span {
        start,
        end,
        trusted,
    });
    resume.max(key_end)
}

const FULLWIDTH_EQUALS: &[u8] = "\u{FF1D}".as_bytes();
const FULLWIDTH_COLON: &[u8] = "\u{FF1A}".as_bytes();

/// A typographic opening quote at the start of `text`: (its length, the closing quote).
fn smart_quote(text: &[u8]) -> Option<(usize, &'static [u8])> {
    const PAIRS: [(&str, &str); 4] = [
        ("\u{201C}", "\u{201D}"),
        ("\u{2018}", "\u{2019}"),
        ("\u{201E}", "\u{201C}"),
        ("\u{300C}", "\u{300D}"),
    ];
    PAIRS
        .iter()
        .find(|(open, _)| text.starts_with(open.as_bytes()))
        .map(|(open, close)| (open.len(), close.as_bytes()))
}

/// End of a quoted value starting after the opening quote: (end of content, resume position).
/// A missing closing quote takes the rest of the line.
fn quoted_end(line: &[u8], from: usize, quote: u8) -> (usize, usize) {
    let mut at = from;
    while at < line.len() {
        let b = line[at];
        if b == b'\\' && quote == b'"' {
            at += 2;
            continue;
        }
        if b == quote {
            return (at, at + 1);
        }
        at += 1;
    }
    let end = trim_end(line, from, line.len());
    (end, line.len())
}

fn bare_end(kind: FileKind, line: &[u8], from: usize) -> usize {
    let mut at = from;
    while at < line.len() {
        let b = line[at];
        let stop = if kind == FileKind::Shell {
            b.is_ascii_whitespace() || b == b';'
        } else {
            b.is_ascii_whitespace()
                || matches!(
                    b,
                    b';' | b'&' | b',' | b'"' | b'\'' | b'<' | b'>' | b')' | b']' | b'}'
                )
        };
        if stop {
            break;
        }
        at += 1;
    }
    at
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn is_authorization(key: &[u8]) -> bool {
    key.len() >= 13 && key[key.len() - 13..].eq_ignore_ascii_case(b"authorization")
}

/// `Authorization: Basic xyz`, `Proxy-Authorization: Bearer xyz`: everything after the scheme.
fn authorization(line: &[u8], key_end: usize, spans: &mut Vec<Span>) -> usize {
    let mut at = key_end;
    if matches!(line.get(at), Some(b'"' | b'\'')) {
        at += 1;
    }
    at = skip_blanks(line, at);
    if !matches!(line.get(at), Some(b':' | b'=')) {
        return key_end;
    }
    let mut start = skip_blanks(line, at + 1);
    // A value ends at a quote (`-H "Authorization: ..."`) or at the end of the line.
    let mut end = start;
    while end < line.len() && !matches!(line[end], b'"' | b'\'' | b'\r' | b'\n') {
        end += 1;
    }
    let end = trim_end(line, start, end);
    // Keep a scheme word ("Basic", "Bearer", "Digest") when credentials follow it.
    let mut scheme_end = start;
    while scheme_end < end && line[scheme_end].is_ascii_alphabetic() {
        scheme_end += 1;
    }
    if scheme_end < end && is_blank(line[scheme_end]) {
        start = skip_blanks(line, scheme_end);
    }
    if end > start && &line[start..end] != REDACTED {
        spans.push(Span {
            start,
            end,
            trusted: true,
        });
    }
    end.max(key_end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(kind: FileKind, line: &str) -> String {
        let rules = SecretRules::new();
        let mut spans = Vec::new();
        rules.find(kind, line.as_bytes(), &mut spans);
        let mut out = String::new();
        let mut last = 0;
        for span in spans {
            out.push_str(&line[last..span.start]);
            out.push_str("[REDACTED]");
            last = span.end;
        }
        out.push_str(&line[last..]);
        out
    }

    #[test]
    fn bsr_statement_forms() {
        use FileKind::*;
        assert_eq!(
            redact(Config, "\t\tshared-secret \"s3cr3t\";"),
            "\t\tshared-secret \"[REDACTED]\";"
        );
        assert_eq!(
            redact(Config, "    shared-secret s3cr3t;"),
            "    shared-secret [REDACTED];"
        );
        assert_eq!(
            redact(Config, r#"shared-secret "a b\"c";"#),
            r#"shared-secret "[REDACTED]";"#
        );
        assert_eq!(
            redact(
                Command,
                "    net { shared-secret \"x y\"; cram-hmac-alg sha1; }"
            ),
            "    net { shared-secret \"[REDACTED]\"; cram-hmac-alg sha1; }"
        );
        assert_eq!(redact(Config, "cram-hmac-alg sha1;"), "cram-hmac-alg sha1;");
        assert_eq!(
            redact(Config, "meta-disk internal; disk /dev/sdb1;"),
            "meta-disk internal; disk /dev/sdb1;"
        );
        // A keyword followed by prose, not a statement.
        assert_eq!(
            redact(Log, "peer shared-secret mismatch detected"),
            "peer shared-secret mismatch detected"
        );
    }

    #[test]
    fn key_value_forms() {
        use FileKind::*;
        assert_eq!(
            redact(Config, "password = a b c  "),
            "password = [REDACTED]  "
        );
        assert_eq!(
            redact(Config, "db.password=hunter2"),
            "db.password=[REDACTED]"
        );
        assert_eq!(
            redact(Shell, "WPA_PSK=\"my psk\""),
            "WPA_PSK=\"[REDACTED]\""
        );
        assert_eq!(redact(Shell, "WPA_PSK=abc # x"), "WPA_PSK=[REDACTED] # x");
        assert_eq!(
            redact(Shell, "IPMI_PASSWORD='x\"y'"),
            "IPMI_PASSWORD='[REDACTED]'"
        );
        assert_eq!(redact(Shell, "KEY_MGMT=WPA-PSK"), "KEY_MGMT=WPA-PSK");
        assert_eq!(redact(Command, "PASS: hunter2"), "PASS: [REDACTED]");
        assert_eq!(redact(Command, "pass=hunter2 x"), "pass=[REDACTED] x");
        assert_eq!(
            redact(Text, r#"{"password": "p w", "user": "u"}"#),
            r#"{"password": "[REDACTED]", "user": "u"}"#
        );
        assert_eq!(
            redact(Config, "<password>abc</password>"),
            "<password>[REDACTED]</password>"
        );
        assert_eq!(
            redact(Log, "GET /api?user=a&password=s3cr3t&x=1 HTTP/1.1"),
            "GET /api?user=a&password=[REDACTED]&x=1 HTTP/1.1"
        );
        assert_eq!(
            redact(Text, "drx-collect --password hunter2 --since 2d"),
            "drx-collect --password [REDACTED] --since 2d"
        );
        assert_eq!(redact(Text, "--token=abc123"), "--token=[REDACTED]");
        assert_eq!(redact(Config, "password ="), "password =");
        assert_eq!(
            redact(Config, "password = [REDACTED]"),
            "password = [REDACTED]"
        );
    }

    #[test]
    fn headers_and_urls() {
        use FileKind::*;
        assert_eq!(
            redact(Log, "Authorization: Bearer eyJhbGciOi.x.y"),
            "Authorization: Bearer [REDACTED]"
        );
        assert_eq!(
            redact(Log, "> authorization: Basic dXNlcjpwYXNz"),
            "> authorization: Basic [REDACTED]"
        );
        assert_eq!(
            redact(Log, "curl -H \"Authorization: token abcdef\" http://x"),
            "curl -H \"Authorization: token [REDACTED]\" http://x"
        );
        assert_eq!(
            redact(Log, "fetch https://admin:pa55@repo.example.com/x"),
            "fetch https://admin:[REDACTED]@repo.example.com/x"
        );
        assert_eq!(
            redact(Log, "see http://example.com:8080/x"),
            "see http://example.com:8080/x"
        );
        assert_eq!(
            redact(Log, "using Bearer abcdefghijkl now"),
            "using Bearer [REDACTED] now"
        );
        assert_eq!(redact(Log, "the bearer of news"), "the bearer of news");
    }

    #[test]
    fn prose_in_logs_stays() {
        use FileKind::*;
        for line in [
            "I1120 16:37:02.690660 t42053 config] key not found in table",
            "E1120 16:37:02.690660 t42053 config] failed to load key: permission denied",
            "tcp keepalive enabled; monkey business",
            "passive mode on, bypass=off",
            "PASS: test_connect",
            "the token was refused",
        ] {
            assert_eq!(redact(Log, line), line, "{line}");
        }
        // A strong word with ':' in a log is redacted, but not trusted for the leak scan.
        let rules = SecretRules::new();
        let mut spans = Vec::new();
        rules.find(Log, b"password: hunter2", &mut spans);
        assert_eq!(spans.len(), 1);
        assert!(!spans[0].trusted);
    }

    #[test]
    fn path_kinds() {
        assert_eq!(FileKind::of("files/etc/bsr.d/r0.res"), FileKind::Config);
        assert_eq!(FileKind::of("files/opt/DRX/drx.conf"), FileKind::Config);
        assert_eq!(
            FileKind::of("files/etc/sysconfig/network-scripts/ifcfg-eth0"),
            FileKind::Shell
        );
        assert_eq!(FileKind::of("files/var/log/messages"), FileKind::Log);
        assert_eq!(FileKind::of("files/opt/DRX/logs/r0/r0.log"), FileKind::Log);
        assert_eq!(FileKind::of("commands/bsradm-dump.txt"), FileKind::Command);
        assert_eq!(FileKind::of("SUMMARY.txt"), FileKind::Text);
    }

    #[test]
    fn long_line_is_linear() {
        // Many hint words in one huge token must not make the scan quadratic.
        let line = "key".repeat(400_000);
        let started = std::time::Instant::now();
        assert_eq!(redact(FileKind::Log, &line), line);
        assert!(started.elapsed().as_secs() < 5);
    }
}
