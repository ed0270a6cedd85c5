//! A literal prefilter for a set of line patterns: for every pattern, a string that each of its
//! matches must contain (up to ASCII case), found by walking the pattern's syntax tree; a block of
//! lines is lowered to ASCII lower case once and searched for all those strings together with a
//! SIMD multi-literal searcher. Only the lines holding one are given to the `RegexSet`.
//!
//! Why not the set's own prefilter: under `(?i)` the regex crate expands every letter into its
//! case variants, gives up on long literals and keeps two-byte prefixes ("sp", "Sp", "he", …) that
//! occur everywhere in a log, so it stepped through nearly every byte.
//!
//! Exactness: a line that matches a pattern contains that pattern's required string, so it is
//! among the candidates. The only way around it is Unicode case folding: `(?i)s` also matches
//! `ſ` (U+017F) and `(?i)k` the Kelvin sign, which ASCII lowering does not map; a block holding
//! such a character is matched line by line instead.
use aho_corasick::{AhoCorasick, MatchKind};
use memchr::memmem;
use regex_syntax::hir::{Class, Hir, HirKind};
use std::sync::OnceLock;

/// Shorter required strings occur too often to be worth a prefilter.
const MIN_LITERAL: usize = 3;
/// A class with more members is never "one letter up to case".
const MAX_CLASS_MEMBERS: u32 = 4;
/// Fixed repetitions of a literal longer than this are not expanded.
const MAX_REPEAT: u32 = 16;

#[derive(Debug)]
pub struct Prefilter {
    finder: AhoCorasick,
}

impl Prefilter {
    /// The prefilter for these patterns, or None when one of them has no required string of
    /// [`MIN_LITERAL`] bytes (its set is then matched without one).
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Option<Prefilter> {
        let mut literals: Vec<Vec<u8>> = Vec::new();
        for pattern in patterns {
            let hir = parse(pattern.as_ref())?;
            let required = required(&hir)?;
            if required.iter().any(|l| l.len() < MIN_LITERAL) {
                return None;
            }
            literals.extend(required);
        }
        literals.sort();
        literals.dedup();
        let finder = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(&literals)
            .ok()?;
        Some(Prefilter { finder })
    }

    /// The lines of `block` (whole lines, each ending in `\n`, the last one may lack it) that
    /// hold a required string, as byte ranges `start..end` with `end` at the line's `\n` (or the
    /// block's end), in order, into `lines`; `lowered` is scratch space. False when the block
    /// holds a character an ASCII letter matches under Unicode case folding (ſ, K): then every
    /// line must be matched, and `lines` is left empty.
    pub fn lines_to_match(
        &self,
        block: &[u8],
        lowered: &mut Vec<u8>,
        lines: &mut Vec<(usize, usize)>,
    ) -> bool {
        lines.clear();
        if !block.is_ascii() && exotic_folds().iter().any(|f| f.find(block).is_some()) {
            return false;
        }
        lowered.clear();
        lowered.extend(block.iter().map(u8::to_ascii_lowercase));
        let mut from = 0;
        while from < lowered.len() {
            let input = aho_corasick::Input::new(&lowered[..]).span(from..lowered.len());
            let Some(hit) = self.finder.find(input) else {
                break;
            };
            let at = hit.start();
            let start = memchr::memrchr(b'\n', &block[..at]).map_or(0, |nl| nl + 1);
            let end = memchr::memchr(b'\n', &block[at..]).map_or(block.len(), |nl| at + nl);
            lines.push((start, end));
            // The search goes on after this line: each line is chosen once, and the whole
            // search stays linear in the block.
            from = end + 1;
        }
        true
    }
}

/// The pattern as `regex::bytes` reads it (a match need not be UTF-8).
fn parse(pattern: &str) -> Option<Hir> {
    regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()
}

/// Finders for the UTF-8 of every non-ASCII character that a case-insensitive ASCII letter
/// matches (taken from regex-syntax's own folding, so it follows the regex crate's tables).
fn exotic_folds() -> &'static [memmem::Finder<'static>] {
    static FOLDS: OnceLock<Vec<memmem::Finder<'static>>> = OnceLock::new();
    FOLDS.get_or_init(|| {
        let mut chars: Vec<char> = Vec::new();
        for letter in b'a'..=b'z' {
            let pattern = format!("(?i){}", letter as char);
            if let Ok(hir) = regex_syntax::Parser::new().parse(&pattern) {
                if let HirKind::Class(Class::Unicode(class)) = hir.kind() {
                    chars.extend(
                        class
                            .iter()
                            .flat_map(|r| r.start()..=r.end())
                            .filter(|c| !c.is_ascii()),
                    );
                }
            }
        }
        chars.sort();
        chars.dedup();
        chars
            .into_iter()
            .map(|c| memmem::Finder::new(c.to_string().as_bytes()).into_owned())
            .collect()
    })
}

fn is_exotic_fold(c: char) -> bool {
    let mut buf = [0; 4];
    let bytes = c.encode_utf8(&mut buf).as_bytes();
    exotic_folds().iter().any(|f| f.needle() == bytes)
}

/// The bytes (ASCII-lowered) that `hir` matches when it matches one string up to ASCII case and
/// the exotic folds; `Some(empty)` for assertions and the empty pattern.
fn exact(hir: &Hir) -> Option<Vec<u8>> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(Vec::new()),
        HirKind::Literal(literal) => Some(literal.0.to_ascii_lowercase()),
        HirKind::Class(class) => class_byte_string(class),
        HirKind::Capture(capture) => exact(&capture.sub),
        HirKind::Repetition(rep) if rep.max == Some(rep.min) && rep.min <= MAX_REPEAT => {
            exact(&rep.sub).map(|s| s.repeat(rep.min as usize))
        }
        HirKind::Concat(children) => {
            let mut all = Vec::new();
            for child in children {
                all.extend(exact(child)?);
            }
            Some(all)
        }
        _ => None,
    }
}

/// A class that is one character up to case: its ASCII members all lower to one byte and its
/// other members are exotic folds, or it is one non-ASCII character.
fn class_byte_string(class: &Class) -> Option<Vec<u8>> {
    match class {
        Class::Unicode(class) => {
            let count: u32 = class
                .iter()
                .map(|r| u32::from(r.end()) - u32::from(r.start()) + 1)
                .sum();
            if count > MAX_CLASS_MEMBERS {
                return None;
            }
            let members: Vec<char> = class.iter().flat_map(|r| r.start()..=r.end()).collect();
            let ascii: Vec<u8> = members
                .iter()
                .filter(|c| c.is_ascii())
                .map(|&c| (c as u8).to_ascii_lowercase())
                .collect();
            match (ascii.first(), members.len()) {
                (None, 1) => Some(members[0].to_string().into_bytes()),
                (Some(&first), _)
                    if ascii.iter().all(|&b| b == first)
                        && members.iter().all(|&c| c.is_ascii() || is_exotic_fold(c)) =>
                {
                    Some(vec![first])
                }
                _ => None,
            }
        }
        Class::Bytes(class) => {
            let count: usize = class
                .iter()
                .map(|r| usize::from(r.end()) - usize::from(r.start()) + 1)
                .sum();
            if count > MAX_CLASS_MEMBERS as usize {
                return None;
            }
            let mut lowered = class
                .iter()
                .flat_map(|r| r.start()..=r.end())
                .map(|b| b.to_ascii_lowercase());
            let first = lowered.next()?;
            lowered.all(|b| b == first).then(|| vec![first])
        }
    }
}

/// Strings of which every match of `hir` contains at least one (ASCII-lowered), or None when no
/// such set is known.
fn required(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    if let Some(s) = exact(hir) {
        return (!s.is_empty()).then(|| vec![s]);
    }
    match hir.kind() {
        HirKind::Capture(capture) => required(&capture.sub),
        HirKind::Repetition(rep) if rep.min >= 1 => required(&rep.sub),
        HirKind::Alternation(alternatives) => {
            let mut all = Vec::new();
            for alternative in alternatives {
                all.extend(required(alternative)?);
            }
            Some(all)
        }
        HirKind::Concat(children) => {
            // Adjacent exact children form one contiguous string; any other child may still
            // require a string of its own. The most selective candidate wins.
            let mut candidates: Vec<Vec<Vec<u8>>> = Vec::new();
            let mut run: Vec<u8> = Vec::new();
            for child in children {
                match exact(child) {
                    Some(s) => run.extend(s),
                    None => {
                        if !run.is_empty() {
                            candidates.push(vec![std::mem::take(&mut run)]);
                        }
                        candidates.extend(required(child));
                    }
                }
            }
            if !run.is_empty() {
                candidates.push(vec![run]);
            }
            candidates.into_iter().max_by_key(|set| {
                let shortest = set.iter().map(Vec::len).min().unwrap_or(0);
                (shortest, std::cmp::Reverse(set.len()))
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn required_of(pattern: &str) -> Option<Vec<String>> {
        let hir = parse(pattern).unwrap();
        required(&hir).map(|set| {
            set.into_iter()
                .map(|s| String::from_utf8(s).unwrap())
                .collect()
        })
    }

    #[test]
    fn required_strings_are_the_longest_fixed_runs() {
        let cases: &[(&str, Option<&[&str]>)] = &[
            (
                r"(?i)failure (to )?authentication of peer",
                Some(&["authentication of peer"]),
            ),
            (
                r"drbd: (?:module )?initiali[sz]ed\. Version: ",
                Some(&["ed. version: "]),
            ),
            (
                r"(?i)helper command: \S+ split-brain\b",
                Some(&["helper command: "]),
            ),
            (r"(?i)\bbridging\b", Some(&["bridging"])),
            (
                r"address\(port\) already in use",
                Some(&["address(port) already in use"]),
            ),
            (r"(?i)0x800b010a", Some(&["0x800b010a"])),
            (
                r"(?i)split-brain detected.{0,80}automatically (?:re)?solved",
                Some(&["split-brain detected"]),
            ),
            (
                r"(?:connection refused|timed out)",
                Some(&["connection refused", "timed out"]),
            ),
            (r"(?:connection refused|.*)", None),
            (r"\d+\s+\w+", None),
            (r"(?:abc){2}", Some(&["abcabc"])),
            (r"(?:xyz)+ok", Some(&["xyz"])),
            (r"(?i)설정 파일", Some(&["설정 파일"])),
            (r"but got '(?:(?-u:\xEF)|▒|ï»¿)", Some(&["but got '"])),
        ];
        for (pattern, expected) in cases {
            let expected = expected.map(|e| e.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(required_of(pattern), expected, "{pattern}");
        }
    }

    #[test]
    fn sets_without_a_selective_string_get_no_prefilter() {
        assert!(Prefilter::new(&["(?i)connection refused", r"\bok\b"]).is_none());
        assert!(Prefilter::new(&["(?i)connection refused", r".*"]).is_none());
        assert!(Prefilter::new(&["(?i)connection refused", "split-brain"]).is_some());
    }

    #[test]
    fn unicode_folds_of_ascii_letters_make_the_block_exhaustive() {
        // `(?i)s` matches U+017F and `(?i)k` U+212A: lowering cannot see them.
        let prefilter = Prefilter::new(&["(?i)split-brain", "(?i)kernel"]).unwrap();
        let (mut lowered, mut lines) = (Vec::new(), Vec::new());
        let mut chosen = |block: &str| {
            prefilter
                .lines_to_match(block.as_bytes(), &mut lowered, &mut lines)
                .then(|| lines.clone())
        };
        assert_eq!(chosen("x\nſplit-brain\n"), None);
        assert_eq!(chosen("\u{212A}ernel"), None);
        let block = "Split-Brain é ▒\nquiet\nKERNEL kernel split-brain\nlast split-brain";
        let lines = chosen(block).unwrap();
        let texts: Vec<&str> = lines.iter().map(|&(s, e)| &block[s..e]).collect();
        assert_eq!(
            texts,
            [
                "Split-Brain é ▒",
                "KERNEL kernel split-brain",
                "last split-brain"
            ]
        );
        let regex = regex::Regex::new("(?i)split-brain").unwrap();
        assert!(
            regex.is_match("ſplit-brain"),
            "the fold the check guards against"
        );
    }
}
