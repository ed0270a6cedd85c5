//! The address lexers: where an IPv4 (dotted, dashed, hex), IPv6 or MAC address stands in a line,
//! and when a dotted number is a version instead (see the parent module's doc). Obfuscation and the
//! leak check both use them, so they agree on what is an address.
use std::net::Ipv6Addr;

use regex::bytes::Regex;

/// The regular expressions that find candidates; shared with the leak checker. What a candidate
/// must look like around it to count (`ipv4_hits`, `mac_hits`, `ipv6_hits`) is decided in one place
/// for both, so the check never flags what obfuscation rightly left alone, nor the reverse.
#[derive(Clone)]
pub(crate) struct Detectors {
    /// Dotted or dashed runs of numbers: `10.0.0.1`, `192-168-0-66`.
    pub ipv4: Regex,
    /// Runs of hex digits, colons and dots with at least two colons.
    pub ipv6: Regex,
    /// `52:54:00:12:34:56`, `52-54-00-12-34-56`, Cisco `5254.0012.3456`, bare `525400123456`.
    pub mac: Regex,
    /// IPv4 written as one hex number: `0x0a000001`.
    pub hex4: Regex,
}

impl Detectors {
    pub(crate) fn new() -> Detectors {
        let compile = |pattern: &str| Regex::new(pattern).expect("valid built-in pattern");
        Detectors {
            ipv4: compile(r"(?-u)[0-9]+(?:\.[0-9]+)+|[0-9]+(?:-[0-9]+)+"),
            ipv6: compile(r"(?i-u)[0-9a-f.]*:[0-9a-f.]*:[0-9a-f:.]*"),
            mac: compile(concat!(
                r"(?i-u)[0-9a-f]{2}(?::[0-9a-f]{2}){5}|[0-9a-f]{2}(?:-[0-9a-f]{2}){5}",
                r"|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}|[0-9a-f]{12}"
            )),
            hex4: compile(r"(?-u)0[xX][0-9a-fA-F]{8}"),
        }
    }
}

pub(crate) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Parses a run found by `Detectors::ipv4`: (address of the first four parts, number of parts,
/// offset where the fourth part ends, whether a part was zero-padded). Octets are 0–255 with at
/// most 3 digits (`192.168.001.010` is zero-padded decimal, as logs print it; the dashed form has no
/// padding); a fifth dotted part (a port) must have at most 5 digits.
pub(crate) fn parse_ipv4_run(run: &[u8]) -> Option<(u32, usize, usize, bool)> {
    let separator = if run.contains(&b'.') { b'.' } else { b'-' };
    let mut addr: u32 = 0;
    let mut parts = 0;
    let mut fourth_end = 0;
    let mut offset = 0;
    let mut padded = false;
    for part in run.split(|&b| b == separator) {
        parts += 1;
        if parts <= 4 {
            if part.is_empty() || part.len() > 3 {
                return None;
            }
            if part.len() > 1 && part[0] == b'0' {
                if separator == b'-' {
                    return None;
                }
                padded = true;
            }
            let value = part.iter().fold(0u32, |v, &d| v * 10 + u32::from(d - b'0'));
            if value > 255 {
                return None;
            }
            addr = (addr << 8) | value;
            if parts == 4 {
                fourth_end = offset + part.len();
            }
        } else if parts == 5 && separator == b'.' && part.len() <= 5 {
            // address.port
        } else {
            return None;
        }
        offset += part.len() + 1;
    }
    (parts >= 4).then_some((addr, parts, fourth_end, padded))
}

/// Parses a run found by `Detectors::ipv6`: the address and the length of the run it used. A
/// trailing `:port` (netstat's `:::22`, `::ffff:10.0.0.1:7789`) or trailing dots are left out.
pub(crate) fn parse_ipv6_run(run: &[u8]) -> Option<(u128, usize)> {
    let mut len = run.len();
    while len > 0 && run[len - 1] == b'.' {
        len -= 1;
    }
    let parse = |bytes: &[u8]| -> Option<u128> {
        let text = std::str::from_utf8(bytes).ok()?;
        text.parse::<Ipv6Addr>().ok().map(u128::from)
    };
    if let Some(addr) = parse(&run[..len]) {
        return Some((addr, len));
    }
    let colon = run[..len].iter().rposition(|&b| b == b':')?;
    let port = &run[colon + 1..len];
    if port.is_empty() || port.len() > 5 || !port.iter().all(u8::is_ascii_digit) {
        return None;
    }
    parse(&run[..colon]).map(|addr| (addr, colon))
}

pub(crate) fn parse_mac(run: &[u8]) -> Option<u64> {
    let mut mac = 0u64;
    let mut digits = 0;
    for &b in run {
        let value = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            b':' | b'-' | b'.' => continue,
            _ => return None,
        };
        mac = (mac << 4) | u64::from(value);
        digits += 1;
    }
    (digits == 12).then_some(mac)
}

/// How an IPv4 candidate was written, so its pseudonym is written the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum V4Form {
    /// `10.0.0.1` (`fourth_end`: where the fourth part ends in the run; zero-padded or not).
    Dotted { fourth_end: usize, padded: bool },
    /// `dhcp-10-0-0-1`.
    Dashed,
    /// `0x0a000001`: only a known address (a hex word is more often a flag or a pointer).
    Hex { upper: bool },
}

/// An address candidate accepted by the shared lexer: `input[start..end]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct V4Hit {
    pub start: usize,
    pub end: usize,
    pub addr: u32,
    pub form: V4Form,
}

/// The IPv4 addresses of `input` as obfuscation and the leak check both see them. `packages`:
/// the text is a package list (`rpm -qa`, `dpkg -l`), where a dotted number is a version.
pub(crate) fn ipv4_hits(
    detect: &Detectors,
    input: &[u8],
    packages: bool,
    f: &mut dyn FnMut(V4Hit),
) {
    if !has_hex_prefix(input) {
        return dotted_ipv4_hits(detect, input, packages, f);
    }
    // Both kinds, in order of position.
    let mut hits = Vec::new();
    dotted_ipv4_hits(detect, input, packages, &mut |hit| hits.push(hit));
    hex_ipv4_hits(detect, input, &mut |hit| hits.push(hit));
    hits.sort_by_key(|hit| hit.start);
    let mut last = 0;
    for hit in hits {
        if hit.start >= last {
            last = hit.end;
            f(hit);
        }
    }
}

fn dotted_ipv4_hits(detect: &Detectors, input: &[u8], packages: bool, f: &mut dyn FnMut(V4Hit)) {
    for hit in detect.ipv4.find_iter(input) {
        let (start, end) = (hit.start(), hit.end());
        let run = hit.as_bytes();
        let Some((addr, parts, fourth_end, padded)) = parse_ipv4_run(run) else {
            continue;
        };
        if run.contains(&b'.') {
            if packages
                || (start > 0 && input[start - 1] == b'.')
                || looks_like_version(input, start, end)
            {
                continue;
            }
            f(V4Hit {
                start,
                end,
                addr,
                form: V4Form::Dotted { fourth_end, padded },
            });
        } else {
            // Dashed form only inside a name: `dhcp-192-168-0-66`.
            let in_name =
                start >= 2 && input[start - 1] == b'-' && input[start - 2].is_ascii_alphabetic();
            if parts != 4 || !in_name || input.get(end).is_some_and(|&b| is_word_byte(b)) {
                continue;
            }
            f(V4Hit {
                start,
                end,
                addr,
                form: V4Form::Dashed,
            });
        }
    }
}

fn hex_ipv4_hits(detect: &Detectors, input: &[u8], f: &mut dyn FnMut(V4Hit)) {
    for hit in detect.hex4.find_iter(input) {
        let (start, end) = (hit.start(), hit.end());
        if (start > 0 && is_word_byte(input[start - 1]))
            || input.get(end).is_some_and(|&b| is_word_byte(b))
        {
            continue;
        }
        let digits = &hit.as_bytes()[2..];
        let Some(addr) = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| u32::from_str_radix(d, 16).ok())
        else {
            continue;
        };
        f(V4Hit {
            start,
            end,
            addr,
            form: V4Form::Hex {
                upper: digits.iter().any(u8::is_ascii_uppercase),
            },
        });
    }
}

fn has_hex_prefix(input: &[u8]) -> bool {
    memchr::memchr2_iter(b'x', b'X', input).any(|at| at > 0 && input[at - 1] == b'0')
}

/// How a MAC candidate was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MacForm {
    /// `52:54:00:12:34:56` / `52-54-00-12-34-56`.
    Pairs(u8),
    /// Cisco `5254.0012.3456`.
    Dotted,
    /// `525400123456`.
    Bare,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct MacHit {
    pub start: usize,
    pub end: usize,
    pub mac: u64,
    pub form: MacForm,
    pub upper: bool,
}

/// The MAC addresses of `input` as obfuscation and the leak check both see them. A bare form is a
/// whole word of 12 hex digits with both letters and digits, not a part of a UUID, a hash or a
/// dotted or dashed run.
pub(crate) fn mac_hits(detect: &Detectors, input: &[u8], f: &mut dyn FnMut(MacHit)) {
    for hit in detect.mac.find_iter(input) {
        let (start, end) = (hit.start(), hit.end());
        let run = hit.as_bytes();
        let form = match run[2] {
            b':' | b'-' => MacForm::Pairs(run[2]),
            _ if run.len() == 14 => MacForm::Dotted,
            _ => MacForm::Bare,
        };
        let joiners: &[u8] = match form {
            MacForm::Pairs(_) => b":-",
            MacForm::Dotted | MacForm::Bare => b":-.",
        };
        if start > 0 && (is_word_byte(input[start - 1]) || joiners.contains(&input[start - 1])) {
            continue;
        }
        if let Some(&next) = input.get(end) {
            let continues =
                joiners.contains(&next) && input.get(end + 1).is_some_and(u8::is_ascii_hexdigit);
            if is_word_byte(next) || continues {
                continue;
            }
        }
        if form == MacForm::Bare
            && !(run.iter().any(u8::is_ascii_digit) && run.iter().any(u8::is_ascii_alphabetic))
        {
            continue;
        }
        let Some(mac) = parse_mac(run) else {
            continue;
        };
        f(MacHit {
            start,
            end,
            mac,
            form,
            upper: run.iter().any(u8::is_ascii_uppercase),
        });
    }
}

/// The IPv6 addresses of `input` as obfuscation and the leak check both see them:
/// (start, end, address).
pub(crate) fn ipv6_hits(detect: &Detectors, input: &[u8], f: &mut dyn FnMut(usize, usize, u128)) {
    for hit in detect.ipv6.find_iter(input) {
        let start = hit.start();
        if start > 0 && is_word_byte(input[start - 1]) {
            continue;
        }
        let Some((addr, len)) = parse_ipv6_run(hit.as_bytes()) else {
            continue;
        };
        let end = start + len;
        if input.get(end).is_some_and(|&b| is_word_byte(b)) {
            continue;
        }
        f(start, end, addr);
    }
}

/// Letters written right after a version number: `1.2.3.4el7`, `2.0.0.1rc1`.
const VERSION_SUFFIXES: [&[u8]; 22] = [
    b"el",
    b"fc",
    b"rc",
    b"git",
    b"beta",
    b"alpha",
    b"dev",
    b"post",
    b"svn",
    b"ubuntu",
    b"deb",
    b"debian",
    b"mga",
    b"mdv",
    b"centos",
    b"rhel",
    b"amzn",
    b"b",
    b"a",
    b"p",
    b"pre",
    b"snapshot",
];
const VERSION_WORDS: [&[u8]; 9] = [
    b"version",
    b"ver",
    b"vers",
    b"release",
    b"build",
    b"firmware",
    b"kernel",
    b"rev",
    b"revision",
];

/// Whether `line[start..end]`, a dotted number, is a version rather than an address: see the
/// module doc. An address glued to other letters (`inet10.0.0.1`, `10.0.0.1eth0`) or at either
/// end of a range (`10.0.0.1-10.0.0.9`) stays an address.
fn looks_like_version(line: &[u8], start: usize, end: usize) -> bool {
    let is_address_run = |run: &[u8]| {
        parse_ipv4_run(run).is_some_and(|(_, parts, _, _)| parts == 4) && run.contains(&b'.')
    };
    if start > 0 {
        let before = line[start - 1];
        if before.is_ascii_alphabetic() {
            let mut at = start;
            while at > 0 && start - at < 16 && line[at - 1].is_ascii_alphabetic() {
                at -= 1;
            }
            let word = &line[at..start];
            return word.eq_ignore_ascii_case(b"v")
                || VERSION_WORDS.iter().any(|w| w.eq_ignore_ascii_case(word));
        }
        if matches!(before, b'-' | b'_' | b'+' | b'~')
            && start >= 2
            && line[start - 2].is_ascii_alphanumeric()
        {
            let mut at = start - 1;
            while at > 0 && (line[at - 1].is_ascii_digit() || line[at - 1] == b'.') {
                at -= 1;
            }
            // `10.0.0.1-10.0.0.9` is a range of addresses, not `name-version`.
            return !(before == b'-' && is_address_run(&line[at..start - 1]));
        }
        if before == b':' {
            // A package epoch: ` 1:1.2.3.4-1`.
            let mut at = start - 1;
            while at > 0 && line[at - 1].is_ascii_digit() {
                at -= 1;
            }
            if at < start - 1 && (at == 0 || matches!(line[at - 1], b' ' | b'\t')) {
                return true;
            }
        }
    }
    let mut at = start;
    while at > 0 && start - at < 24 && matches!(line[at - 1], b' ' | b'\t' | b':' | b'=' | b'"') {
        at -= 1;
    }
    let word_end = at;
    while at > 0 && word_end - at < 16 && line[at - 1].is_ascii_alphabetic() {
        at -= 1;
    }
    let word = &line[at..word_end];
    if VERSION_WORDS.iter().any(|w| w.eq_ignore_ascii_case(word)) {
        return true;
    }
    let rest = &line[end..];
    match rest.first() {
        Some(b'-') | Some(b'_') => {
            if rest.get(1).is_some_and(u8::is_ascii_alphanumeric) {
                let run_end = rest[1..]
                    .iter()
                    .position(|&b| !(b.is_ascii_digit() || b == b'.'))
                    .map_or(rest.len(), |p| p + 1);
                return !(rest[0] == b'-' && is_address_run(&rest[1..run_end]));
            }
            false
        }
        Some(b'+') | Some(b'~') => true,
        Some(b'.') => rest.get(1).is_some_and(u8::is_ascii_alphabetic),
        Some(b) if b.is_ascii_alphabetic() => {
            let letters = rest
                .iter()
                .position(|b| !b.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            let word = &rest[..letters];
            VERSION_SUFFIXES
                .iter()
                .any(|w| w.eq_ignore_ascii_case(word))
        }
        _ => rest.starts_with(b" (api:") || rest.starts_with(b" GIT-hash"),
    }
}

pub(super) fn may_contain_mac(line: &[u8]) -> bool {
    const LEN: usize = 17;
    (0..line.len().saturating_sub(LEN - 1)).any(|start| {
        let candidate = &line[start..start + LEN];
        let separator = candidate[2];
        matches!(separator, b':' | b'-')
            && candidate.iter().enumerate().all(|(i, &b)| {
                if i % 3 == 2 {
                    b == separator
                } else {
                    b.is_ascii_hexdigit()
                }
            })
    })
}

/// A run of 8+ hex digits (bare MAC, `0x` IPv4) or the Cisco `xxxx.xxxx.xxxx` shape.
pub(super) fn may_contain_hex_forms(line: &[u8]) -> bool {
    let mut run = 0;
    let mut groups = 0;
    for &b in line {
        if b.is_ascii_hexdigit() {
            run += 1;
            if run >= 8 {
                return true;
            }
        } else {
            groups = if b == b'.' && run == 4 { groups + 1 } else { 0 };
            if groups == 2 {
                // Two `xxxx.` groups; the third is checked by the lexer.
                return true;
            }
            run = 0;
        }
    }
    false
}

/// An IPv6 address has `::`, or at least 6 colons, within one run of hex digits, colons and dots.
pub(super) fn may_contain_ipv6(line: &[u8]) -> bool {
    let mut colons = 0;
    let mut previous = 0u8;
    for &b in line {
        if b == b':' {
            if previous == b':' {
                return true;
            }
            colons += 1;
            if colons >= 6 {
                return true;
            }
        } else if !(b.is_ascii_hexdigit() || b == b'.') {
            colons = 0;
        }
        previous = b;
    }
    false
}

/// A dotted IPv4 has 3 dots, a dashed one 3 dashes, within one run of digits and that separator.
pub(super) fn may_contain_ipv4(line: &[u8]) -> bool {
    let (mut dots, mut dashes) = (0, 0);
    for &b in line {
        match b {
            b'0'..=b'9' => {}
            b'.' => {
                dots += 1;
                dashes = 0;
                if dots >= 3 {
                    return true;
                }
            }
            b'-' => {
                dashes += 1;
                dots = 0;
                if dashes >= 3 {
                    return true;
                }
            }
            _ => {
                dots = 0;
                dashes = 0;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prechecks_never_reject_an_address() {
        for line in [
            "a 0:0:0:0:0:ffff:10.0.0.1 b",
            "2a01:4f8:1:2:0:0:0:6",
            "x ::1",
            "[::]:22",
        ] {
            assert!(may_contain_ipv6(line.as_bytes()), "{line}");
        }
        assert!(!may_contain_ipv6(b"I1120 16:37:02.690660 t42053 x] a:b"));
        for line in ["10.0.0.1", "dhcp-192-168-0-66", "x=1.2.3.4:5"] {
            assert!(may_contain_ipv4(line.as_bytes()), "{line}");
        }
        assert!(!may_contain_ipv4(b"16:37:02.690660 8.4.11 2024-01-15"));
        for line in ["52:54:00:12:34:56", "x 00-15-5D-0A-0B-0C"] {
            assert!(may_contain_mac(line.as_bytes()), "{line}");
        }
        assert!(!may_contain_mac(b"16:37:02 a-b"));
    }
}
