//! The fail-closed scan: after the bundle is written, its bytes (entry names and decompressed
//! contents) are streamed through a `LeakChecker`. What it guarantees (README, Privacy):
//!
//! 1. **Where redaction removed something, nothing is left.** The same secret detector that
//!    redacted the files runs again over every line (up to `RECHECK_LINE` bytes) of `files/` and
//!    `commands/`: a value in a secret position (after a secret key, in a URL's user-info, an
//!    `Authorization:` header, a PEM private-key block, a password argument) that is not
//!    `[REDACTED]` is a leak, whatever the value — `admin` included.
//! 2. **A distinctive secret appears nowhere.** A redacted value that is long and varied enough
//!    to identify a secret (`Secrets::distinctive`) must not occur anywhere in the bundle, names
//!    included. A short or common value (`admin`, `drbd`, `changeme`) is masked where it is a
//!    secret, but the same word in `ps` or `dpkg -l` is a coincidence, not a leak.
//! 3. **No original of a pseudonym survives.** Addresses are found by the same lexer as in
//!    obfuscation (`obfuscate::ipv4_hits`, ...), hostnames as whole words.
//!
//! Work is linear and memory bounded: distinctive values are kept as 64-bit hashes of at most
//! `MAX_HUNTED` bytes, found by a hash of each candidate's first 8 bytes tested against a
//! Bloom-style bit set, so 2,000,000 distinct secrets cost the same time per byte as one.
use std::collections::HashMap;
use std::net::Ipv6Addr;

use regex::bytes::Regex;

use super::obfuscate::{ipv4_hits, ipv6_hits, is_word_byte, mac_hits, Detectors};
use super::secrets::{FileKind, SecretRules, Span, REDACTED};

/// Values shorter than this are never hunted everywhere.
pub(crate) const MIN_HUNTED: usize = 8;
/// Longer values are hunted by their first `MAX_HUNTED` bytes.
pub(crate) const MAX_HUNTED: usize = 64;
/// At most this many distinct values are hunted everywhere (about 40 bytes each); further ones
/// are still redacted and rechecked where they were found (guarantee 1).
pub(crate) const MAX_VALUES: usize = 2_000_000;
/// Lines shorter than this are rechecked whole: the collector redacts them whole (its buffer is
/// this size); longer lines are cut at places that are safe for redaction, and re-parsing their
/// pieces could see keys where the whole line had none.
pub(crate) const RECHECK_LINE: usize = 1 << 20;
const BLOOM_BITS: usize = 1 << 23;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct ValueKey {
    prefix: u64,
    len: u8,
    hash: u64,
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn prefix_of(folded: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&folded[..8]);
    u64::from_le_bytes(bytes)
}

fn bloom_index(prefix: u64) -> usize {
    (prefix.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - 23)) as usize
}

/// The distinctive secret values redacted so far, compactly.
#[derive(Default)]
pub(crate) struct Secrets {
    values: HashMap<ValueKey, u32>,
    origins: Vec<String>,
    origin_ids: HashMap<String, u32>,
    /// Bit n: some value has length n (8..=64).
    lengths: u128,
    /// Values not kept because `MAX_VALUES` was reached.
    pub(crate) dropped: u64,
}

impl Secrets {
    /// Whether a redacted value identifies a secret well enough to be hunted everywhere: 8+
    /// bytes, not a placeholder, a variable reference or one repeated character; a number needs
    /// 12+ digits; a word (letters and `-`, `_`, `.` only) needs 16+ letters and no key word in it
    /// (`shared-secret` redacted as a value is a key word, found rightly in every `.res` file).
    /// `admin`, `drbd`, `changeme`, `password` are not: those words occur in innocent text.
    pub(crate) fn distinctive(value: &[u8]) -> bool {
        if value.len() < MIN_HUNTED || value.starts_with(b"$") || value == REDACTED {
            return false;
        }
        if value.iter().all(|&b| b == value[0]) {
            return false;
        }
        if value.iter().all(u8::is_ascii_digit) {
            return value.len() >= 12;
        }
        let word = value
            .iter()
            .all(|&b| b.is_ascii_alphabetic() || matches!(b, b'-' | b'_' | b'.'));
        if word {
            const KEY_WORDS: [&[u8]; 7] = [
                b"pass",
                b"pwd",
                b"secret",
                b"token",
                b"key",
                b"credential",
                b"auth",
            ];
            let lower = value.to_ascii_lowercase();
            let key_word = KEY_WORDS
                .iter()
                .any(|k| lower.windows(k.len()).any(|w| w == *k));
            return value.len() >= 16 && !key_word;
        }
        true
    }

    pub(crate) fn insert(&mut self, value: &[u8], origin: &str) {
        if !Secrets::distinctive(value) {
            return;
        }
        let folded: Vec<u8> = value[..value.len().min(MAX_HUNTED)]
            .iter()
            .map(u8::to_ascii_lowercase)
            .collect();
        let key = ValueKey {
            prefix: prefix_of(&folded),
            len: folded.len() as u8,
            hash: fnv(&folded),
        };
        if self.values.contains_key(&key) {
            return;
        }
        if self.values.len() >= MAX_VALUES {
            self.dropped += 1;
            return;
        }
        let id = match self.origin_ids.get(origin) {
            Some(&id) => id,
            None => {
                let id = self.origins.len() as u32;
                self.origins.push(origin.to_string());
                self.origin_ids.insert(origin.to_string(), id);
                id
            }
        };
        self.values.insert(key, id);
        self.lengths |= 1u128 << folded.len();
    }

    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }
}

/// What the checker looks for; built by `Privacy::leak_check`.
pub(crate) struct LeakSources<'p> {
    pub secrets: &'p Secrets,
    /// Lower-case hostname → its pseudonym.
    pub names: &'p std::collections::BTreeMap<String, String>,
    pub v4: &'p HashMap<u32, u32>,
    pub v6: &'p HashMap<u128, u128>,
    pub mac: &'p HashMap<u64, u64>,
    /// Run the secret detector again over the contents (something was redacted).
    pub recheck: Option<&'p SecretRules>,
}

pub struct LeakChecker<'p> {
    sources: LeakSources<'p>,
    detect: Detectors,
    names: Option<Regex>,
    bloom: Vec<u64>,
    /// The current entry's bytes not yet dropped, and the same folded to lower case.
    buffer: Vec<u8>,
    folded: Vec<u8>,
    /// Start positions below this were examined.
    examined: usize,
    /// Whether bytes of this entry were dropped before `buffer[0]`.
    dropped: bool,
    /// The current entry: how to recheck it, and its line so far.
    kind: Option<FileKind>,
    packages: bool,
    line: Vec<u8>,
    line_overlong: bool,
    in_private_key: bool,
    spans: Vec<Span>,
}

/// Right context a candidate needs before it is judged (a value or an address continuing).
const TAIL: usize = MAX_HUNTED + 64;
/// Left context kept before the first unexamined byte.
const LEFT: usize = 256;

impl<'p> LeakChecker<'p> {
    pub(crate) fn new(sources: LeakSources<'p>, detect: Detectors) -> LeakChecker<'p> {
        let names = if sources.names.is_empty() {
            None
        } else {
            let mut names: Vec<&String> = sources.names.keys().collect();
            names.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
            let alternatives: Vec<String> = names.iter().map(|n| regex::escape(n)).collect();
            regex::bytes::RegexBuilder::new(&format!("(?i-u){}", alternatives.join("|")))
                .size_limit(256 << 20)
                .build()
                .ok()
        };
        let mut bloom = Vec::new();
        if !sources.secrets.values.is_empty() {
            bloom = vec![0u64; BLOOM_BITS / 64];
            for key in sources.secrets.values.keys() {
                let bit = bloom_index(key.prefix);
                bloom[bit / 64] |= 1 << (bit % 64);
            }
        }
        LeakChecker {
            sources,
            detect,
            names,
            bloom,
            buffer: Vec::new(),
            folded: Vec::new(),
            examined: 0,
            dropped: false,
            kind: None,
            packages: false,
            line: Vec::new(),
            line_overlong: false,
            in_private_key: false,
            spans: Vec::new(),
        }
    }

    /// Nothing to look for: the read-back can be skipped.
    pub fn is_empty(&self) -> bool {
        self.sources.secrets.values.is_empty()
            && self.names.is_none()
            && self.sources.v4.is_empty()
            && self.sources.v6.is_empty()
            && self.sources.mac.is_empty()
            && self.sources.recheck.is_none()
    }

    /// Starts a new entry of text that is not rechecked (an entry's name, free text).
    pub fn reset(&mut self) {
        self.begin_entry(None);
    }

    /// Starts the contents of the bundle member `name` (`top/files/...`).
    pub fn begin(&mut self, name: &str) {
        let inner = crate::layout::strip_top(name);
        let rechecked = crate::layout::is_file(inner) || crate::layout::is_command(inner);
        self.begin_entry(rechecked.then(|| FileKind::of(inner)));
        self.packages = crate::layout::is_package_list(inner);
    }

    fn begin_entry(&mut self, kind: Option<FileKind>) {
        self.buffer.clear();
        self.folded.clear();
        self.examined = 0;
        self.dropped = false;
        self.kind = kind;
        self.packages = false;
        self.line.clear();
        self.line_overlong = false;
        self.in_private_key = false;
    }

    /// Feeds the next chunk of the current entry. Returns what leaked (a description, never the
    /// value) at the first leak found, matches across chunk boundaries included.
    pub fn scan(&mut self, chunk: &[u8]) -> Option<String> {
        if let Some(found) = self.recheck(chunk, false) {
            return Some(found);
        }
        self.buffer.extend_from_slice(chunk);
        self.folded.extend(chunk.iter().map(u8::to_ascii_lowercase));
        let limit = self.buffer.len().saturating_sub(TAIL);
        if limit > self.examined {
            if let Some(found) = self.examine(limit, false) {
                return Some(found);
            }
            self.examined = limit;
        }
        let keep_from = self.examined.saturating_sub(LEFT);
        if keep_from > 0 {
            self.buffer.drain(..keep_from);
            self.folded.drain(..keep_from);
            self.examined -= keep_from;
            self.dropped = true;
        }
        None
    }

    /// Ends the current entry: examines what was held back for context.
    pub fn finish(&mut self) -> Option<String> {
        if let Some(found) = self.recheck(&[], true) {
            return Some(found);
        }
        let end = self.buffer.len();
        let found = self.examine(end, true);
        self.examined = end;
        found
    }

    /// Guarantee 1 over the lines of `chunk`.
    fn recheck(&mut self, chunk: &[u8], at_end: bool) -> Option<String> {
        let (Some(kind), Some(rules)) = (self.kind, self.sources.recheck) else {
            return None;
        };
        let mut rest = chunk;
        loop {
            let (piece, complete) = match memchr::memchr(b'\n', rest) {
                Some(at) => (&rest[..at], true),
                None => (rest, false),
            };
            if !self.line_overlong {
                if self.line.len() + piece.len() >= RECHECK_LINE {
                    self.line_overlong = true;
                    self.line.clear();
                } else {
                    self.line.extend_from_slice(piece);
                }
            }
            if !complete && (!at_end || self.line.is_empty()) {
                return None;
            }
            let mut line = std::mem::take(&mut self.line);
            if !self.line_overlong {
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                let found = self.recheck_line(rules, kind, &line);
                if found.is_some() {
                    return found;
                }
            }
            line.clear();
            self.line = line;
            self.line_overlong = false;
            if !complete {
                return None;
            }
            rest = &rest[piece.len() + 1..];
        }
    }

    fn recheck_line(&mut self, rules: &SecretRules, kind: FileKind, line: &[u8]) -> Option<String> {
        const FOUND: &str =
            "a secret value in a secret position (the detector found it unredacted)";
        if self.in_private_key {
            if rules.pem_end.is_match(line) {
                self.in_private_key = false;
                return None;
            }
            let content = line.trim_ascii();
            if content.is_empty() || content == REDACTED {
                return None;
            }
            return Some("a line of a private key block".into());
        }
        if !rules.might_contain(line) {
            return None;
        }
        self.spans.clear();
        rules.find(kind, line, &mut self.spans);
        if !self.spans.is_empty() {
            return Some(FOUND.into());
        }
        if let Some(begin) = rules.pem_begin.find(line) {
            match rules.pem_end.find_at(line, begin.end()) {
                Some(end) => {
                    if line[begin.end()..end.start()].trim_ascii() != REDACTED {
                        return Some("a private key".into());
                    }
                }
                None => self.in_private_key = true,
            }
        }
        None
    }

    /// Guarantees 2 and 3 for candidates starting in `examined..limit`.
    fn examine(&self, limit: usize, at_end: bool) -> Option<String> {
        let from = self.examined;
        if from >= limit {
            return None;
        }
        let buffer = &self.buffer;
        let secrets = self.sources.secrets;
        if !self.bloom.is_empty() {
            let last_start = if at_end {
                buffer.len().saturating_sub(MIN_HUNTED - 1)
            } else {
                limit
            };
            for p in from..last_start.min(limit) {
                if p > 0 && is_word_byte(buffer[p]) && is_word_byte(buffer[p - 1]) {
                    continue;
                }
                if p == 0 && self.dropped {
                    continue;
                }
                let prefix = prefix_of(&self.folded[p..]);
                let bit = bloom_index(prefix);
                if self.bloom[bit / 64] & (1 << (bit % 64)) == 0 {
                    continue;
                }
                for len in MIN_HUNTED..=MAX_HUNTED.min(buffer.len() - p) {
                    if secrets.lengths & (1u128 << len) == 0 {
                        continue;
                    }
                    let end = p + len;
                    let key = ValueKey {
                        prefix,
                        len: len as u8,
                        hash: fnv(&self.folded[p..end]),
                    };
                    let Some(&origin) = secrets.values.get(&key) else {
                        continue;
                    };
                    let right_ok = len == MAX_HUNTED
                        || end == buffer.len()
                        || !(is_word_byte(buffer[end - 1]) && is_word_byte(buffer[end]));
                    if right_ok {
                        return Some(format!(
                            "a redacted secret value (first redacted in {})",
                            secrets.origins[origin as usize]
                        ));
                    }
                }
            }
        }
        let fresh = |start: usize| start >= from && start < limit && !(self.dropped && start == 0);
        if let Some(names) = &self.names {
            for hit in names.find_iter(&buffer[from..]) {
                let (start, end) = (from + hit.start(), from + hit.end());
                if start >= limit {
                    break;
                }
                if fresh(start) && whole_word(buffer, start, end) {
                    let name = String::from_utf8_lossy(hit.as_bytes()).to_ascii_lowercase();
                    if let Some(pseudonym) = self.sources.names.get(&name) {
                        return Some(format!("the original of pseudonym hostname {pseudonym}"));
                    }
                }
            }
        }
        let mut found = None;
        if !self.sources.v4.is_empty() {
            ipv4_hits(&self.detect, buffer, self.packages, &mut |hit| {
                if found.is_none() && fresh(hit.start) {
                    if let Some(pseudonym) = self.sources.v4.get(&hit.addr) {
                        found = Some(format!(
                            "the original of pseudonym address {}",
                            std::net::Ipv4Addr::from(*pseudonym)
                        ));
                    }
                }
            });
        }
        if found.is_none() && !self.sources.v6.is_empty() {
            ipv6_hits(&self.detect, buffer, &mut |start, _, addr| {
                if found.is_none() && fresh(start) {
                    if let Some(pseudonym) = self.sources.v6.get(&addr) {
                        found = Some(format!(
                            "the original of pseudonym address {}",
                            Ipv6Addr::from(*pseudonym)
                        ));
                    }
                }
            });
        }
        if found.is_none() && !self.sources.mac.is_empty() {
            mac_hits(&self.detect, buffer, &mut |hit| {
                if found.is_none() && fresh(hit.start) {
                    if let Some(pseudonym) = self.sources.mac.get(&hit.mac) {
                        let b = pseudonym.to_be_bytes();
                        found = Some(format!(
                            "the original of pseudonym MAC address {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                            b[2], b[3], b[4], b[5], b[6], b[7]
                        ));
                    }
                }
            });
        }
        found
    }
}

fn whole_word(buffer: &[u8], start: usize, end: usize) -> bool {
    let left_ok = !(is_word_byte(buffer[start]) && start > 0 && is_word_byte(buffer[start - 1]));
    let right_ok =
        !(is_word_byte(buffer[end - 1]) && end < buffer.len() && is_word_byte(buffer[end]));
    left_ok && right_ok
}
