//! The fail-closed scan: after the bundle is written, its bytes (entry names and decompressed
//! contents) are streamed through a `LeakChecker` that knows every secret actually redacted and
//! every original actually replaced by a pseudonym.
//!
//! Secrets and hostnames are literal strings, searched together by one case-insensitive regex
//! (an Aho-Corasick style prefilter does the work). Addresses are not listed as literals: the same
//! detectors as in obfuscation find every IPv4/IPv6/MAC candidate and a hash lookup decides, so
//! 100,000 distinct addresses from a big log cost no more than ten, and every textual form of an
//! IPv6 address is caught.
//!
//! Matching follows the replacement rules: a literal that starts (ends) with a letter, digit or `_`
//! must not be preceded (followed) by one, since `node1` inside `node10` was rightly left alone.
//! At the end of a chunk the next byte is unknown, and the match counts (fail closed).
use std::collections::HashMap;
use std::net::Ipv6Addr;

use regex::bytes::Regex;

use super::obfuscate::{is_word_byte, parse_ipv4_run, parse_ipv6_run, parse_mac, Detectors};

pub struct LeakChecker {
    literals: Option<Regex>,
    literal_lengths: Vec<usize>,
    descriptions: HashMap<Vec<u8>, String>,
    v4: HashMap<u32, u32>,
    v6: HashMap<u128, u128>,
    mac: HashMap<u64, u64>,
    detect: Detectors,
    /// The tail of the previous chunks (so matches across chunk boundaries are found) + this chunk.
    buffer: Vec<u8>,
    /// Whether bytes of this entry were dropped before `buffer[0]`.
    dropped: bool,
    keep: usize,
}

/// What the checker looks for; built by `Privacy::leak_check`.
pub(crate) struct LeakSources {
    /// Lower-case literal → description of what it is (never the literal itself).
    pub literals: HashMap<Vec<u8>, String>,
    pub v4: HashMap<u32, u32>,
    pub v6: HashMap<u128, u128>,
    pub mac: HashMap<u64, u64>,
}

/// A regex source matching `literal` byte for byte (ASCII case-insensitive by the caller's flag),
/// also for bytes that are not UTF-8.
fn escape_bytes(literal: &[u8]) -> String {
    let mut pattern = String::with_capacity(literal.len() * 2);
    for &b in literal {
        if b.is_ascii_alphanumeric() {
            pattern.push(char::from(b));
        } else {
            pattern.push_str(&format!(r"\x{b:02x}"));
        }
    }
    pattern
}

impl LeakChecker {
    pub(crate) fn new(sources: LeakSources, detect: Detectors) -> LeakChecker {
        let mut literals: Vec<&Vec<u8>> = sources.literals.keys().collect();
        literals.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        let mut literal_lengths: Vec<usize> = literals.iter().map(|l| l.len()).collect();
        literal_lengths.dedup();
        let longest = literal_lengths.first().copied().unwrap_or(0);
        let regex = if literals.is_empty() {
            None
        } else {
            let alternatives: Vec<String> = literals.iter().map(|l| escape_bytes(l)).collect();
            let pattern = format!("(?i-u){}", alternatives.join("|"));
            // Many literals make a big automaton; the default limits are for hand-written patterns.
            regex::bytes::RegexBuilder::new(&pattern)
                .size_limit(1 << 30)
                .dfa_size_limit(64 << 20)
                .build()
                .ok()
        };
        LeakChecker {
            literals: regex,
            literal_lengths,
            descriptions: sources.literals,
            v4: sources.v4,
            v6: sources.v6,
            mac: sources.mac,
            detect,
            buffer: Vec::new(),
            dropped: false,
            keep: longest.max(64) + 2,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.descriptions.is_empty()
            && self.v4.is_empty()
            && self.v6.is_empty()
            && self.mac.is_empty()
    }

    /// Feeds the next chunk of the current entry. Returns what leaked (a description, never the
    /// value) at the first leak found, matches across chunk boundaries included.
    pub fn scan(&mut self, chunk: &[u8]) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        self.buffer.extend_from_slice(chunk);
        let found = self.search();
        if self.buffer.len() > self.keep {
            let cut = self.buffer.len() - self.keep;
            self.buffer.drain(..cut);
            self.dropped = true;
        }
        found
    }

    /// Starts a new entry.
    pub fn reset(&mut self) {
        self.buffer.clear();
        self.dropped = false;
    }

    fn search(&self) -> Option<String> {
        let buffer = &self.buffer;
        // A match at offset 0 of a carried-over tail lies wholly in bytes already examined with
        // their context; seen from here, its left context is missing.
        let fresh = |start: usize| !(self.dropped && start == 0);
        if let Some(regex) = &self.literals {
            let mut at = 0;
            while let Some(hit) = regex.find_at(buffer, at) {
                let start = hit.start();
                if fresh(start) {
                    for &len in self.literal_lengths.iter().filter(|&&l| l <= hit.len()) {
                        let candidate = buffer[start..start + len].to_ascii_lowercase();
                        if let Some(description) = self.descriptions.get(&candidate) {
                            if whole_word(buffer, start, start + len) {
                                return Some(description.clone());
                            }
                        }
                    }
                }
                at = start + 1;
            }
        }
        if !self.v4.is_empty() {
            for hit in self.detect.ipv4.find_iter(buffer) {
                if !fresh(hit.start()) {
                    continue;
                }
                if let Some((addr, parts, _)) = parse_ipv4_run(hit.as_bytes()) {
                    let dashed = !hit.as_bytes().contains(&b'.');
                    if dashed && parts != 4 {
                        continue;
                    }
                    if let Some(pseudonym) = self.v4.get(&addr) {
                        return Some(format!(
                            "the original of pseudonym address {}",
                            std::net::Ipv4Addr::from(*pseudonym)
                        ));
                    }
                }
            }
        }
        if !self.v6.is_empty() {
            for hit in self.detect.ipv6.find_iter(buffer) {
                if !fresh(hit.start()) {
                    continue;
                }
                if let Some((addr, _)) = parse_ipv6_run(hit.as_bytes()) {
                    if let Some(pseudonym) = self.v6.get(&addr) {
                        return Some(format!(
                            "the original of pseudonym address {}",
                            Ipv6Addr::from(*pseudonym)
                        ));
                    }
                }
            }
        }
        if !self.mac.is_empty() {
            for hit in self.detect.mac.find_iter(buffer) {
                if !fresh(hit.start()) {
                    continue;
                }
                if let Some(pseudonym) = parse_mac(hit.as_bytes()).and_then(|m| self.mac.get(&m)) {
                    let bytes = pseudonym.to_be_bytes();
                    return Some(format!(
                        "the original of pseudonym MAC address {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                        bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]
                    ));
                }
            }
        }
        None
    }
}

fn whole_word(buffer: &[u8], start: usize, end: usize) -> bool {
    let left_ok = !(is_word_byte(buffer[start]) && start > 0 && is_word_byte(buffer[start - 1]));
    let right_ok =
        !(is_word_byte(buffer[end - 1]) && end < buffer.len() && is_word_byte(buffer[end]));
    left_ok && right_ok
}
