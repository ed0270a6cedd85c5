//! `Scan`: takes a bundle file by file, streaming. Every line goes through the pattern matcher
//! (the hot path); files the structured checks need are kept whole and parsed in `finish`.
use std::collections::BTreeMap;

use super::catalogue::Catalogue;
use super::evidence::{Evidence, Facts, Hit};
use super::inputs;
use super::model::{excerpt, Located, Place, Version};
use super::parse::versions;
use super::patterns::{CompiledSet, Meaning};
use crate::lines::{each_line, for_rules};
use std::sync::Arc;

const BOM: &[u8] = &[0xEF, 0xBB, 0xBF];
/// Lines are matched a block at a time: most blocks of a log match no rule, and one search over
/// a block costs far less than one per line (the set's literal prefilter starts once).
const BLOCK_BYTES: usize = 64 * 1024;
/// Of a hit in a line longer than this, the excerpt (and the text read for it) starts where
/// the first matching pattern does.
const LONG_EXCERPT_LINE: usize = 4096;
/// How much of a long line before its match the excerpt shows.
const EXCERPT_BEFORE: usize = 64;
/// Without a prefilter, blocks of fewer lines are matched line by line (a small file never needs
/// the block set).
const BLOCK_MIN_LINES: usize = 32;

/// Gathers evidence from one bundle.
pub struct Scan<'c> {
    catalogue: &'c Catalogue,
    /// Per-path state of the file being read, recomputed when the path changes.
    current_path: String,
    current_set: Option<Arc<CompiledSet>>,
    current_bom_sensitive: bool,
    /// The current file is UTF-16LE (seen on its first line): its lines that hold a NUL byte
    /// are decoded before matching (a line without one is not UTF-16 text).
    current_utf16: bool,
    /// The number of the line given last in the current file: given again, the call is the
    /// next window of a long line (`lines::LineSink`).
    last_line_no: u64,
    whole: BTreeMap<String, Vec<u8>>,
    /// (rule index, path) → the latest firing line; cleared entries are removed.
    hits: BTreeMap<(usize, String), Place>,
    bom_hits: Vec<Place>,
    kernel_log_version: Option<Located<Version>>,
    /// The newest DRX version a DRX log names.
    drx_log_version: Option<Located<Version>>,
    /// The sync handshakes of the current log, and those of the logs read before it.
    handshake_scan: crate::rules::parse::gi::HandshakeScan,
    handshake_path: String,
    handshakes: Vec<(Place, crate::rules::parse::gi::Handshake)>,
    /// Per resource or minor, the last line of the logs where the node became Primary.
    became_primary: Vec<(crate::rules::parse::gi::RoleOwner, Place)>,
    /// Lines of the current file waiting to be matched, joined by `\n`, and their numbers and
    /// ends in `pending`.
    pending: Vec<u8>,
    pending_lines: Vec<(u64, usize)>,
    /// The prefilter's scratch space (a block in lower case) and its choice of lines.
    lowered: Vec<u8>,
    ranges: Vec<(usize, usize)>,
    /// How lines are chosen for the set; tests compare the three.
    strategy: Strategy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// Only the tests choose the other two.
#[cfg_attr(not(test), allow(dead_code))]
enum Strategy {
    /// The set's required-string prefilter, where it has one; else `Blocks`.
    Prefilter,
    /// One search of the whole block first, then every line when it may match.
    Blocks,
    /// Every line alone.
    EveryLine,
}

impl<'c> Scan<'c> {
    pub fn new(catalogue: &'c Catalogue) -> Self {
        Scan {
            catalogue,
            current_path: String::new(),
            current_set: None,
            current_bom_sensitive: false,
            current_utf16: false,
            last_line_no: 0,
            whole: BTreeMap::new(),
            hits: BTreeMap::new(),
            bom_hits: Vec::new(),
            kernel_log_version: None,
            drx_log_version: None,
            handshake_scan: Default::default(),
            handshake_path: String::new(),
            handshakes: Vec::new(),
            became_primary: Vec::new(),
            pending: Vec::with_capacity(BLOCK_BYTES + 4096),
            pending_lines: Vec::new(),
            lowered: Vec::with_capacity(BLOCK_BYTES + 4096),
            ranges: Vec::new(),
            strategy: Strategy::Prefilter,
        }
    }

    /// True for bundle paths whose whole content the structured rules need (configs, command
    /// outputs, /proc files; not big logs).
    pub fn wants_whole(&self, bundle_path: &str) -> bool {
        inputs::wants_whole(bundle_path)
    }

    /// Whole content of a file for which `wants_whole` was true.
    pub fn add_file(&mut self, bundle_path: &str, content: &[u8]) {
        if self.wants_whole(bundle_path) {
            self.whole.insert(bundle_path.to_string(), content.to_vec());
        }
    }

    /// Called for every line of every file, in order (`line_no` 1-based, no trailing '\n'); a
    /// line longer than `lines::MAX_LINE` as overlapping windows with the same number.
    pub fn line(&mut self, bundle_path: &str, line_no: u64, line: &[u8]) {
        if bundle_path != self.current_path {
            self.switch_to(bundle_path);
        }
        let continued = line_no == self.last_line_no;
        self.last_line_no = line_no;
        if continued {
            self.match_window(bundle_path, line_no, line);
            return;
        }
        if line_no == 1 {
            // A first line of UTF-16 split at its `0A` byte has an even length and NUL bytes;
            // bytes that merely start with FF FE (hostile or binary) are not taken for it.
            self.current_utf16 = match super::decode::sniff(line) {
                super::decode::Encoding::Utf16Le { bom: false } => true,
                super::decode::Encoding::Utf16Le { bom: true } => {
                    line.len().is_multiple_of(2) && line[2..].contains(&0)
                }
                _ => false,
            };
        }
        if self.current_utf16 && (line_no == 1 || line.contains(&0)) {
            // A file Windows wrote in UTF-16 (a redirected wmic, a Unicode-saved log): match
            // the patterns on the decoded text, not on bytes with a NUL between letters. Every
            // line of such a file but the first starts with the 00 of the `0A 00` before it; a
            // line without a NUL is plain text that followed a first line only looking wide.
            let decoded = super::decode::utf16le_line(line, line_no == 1);
            self.match_line(bundle_path, line_no, decoded.as_bytes());
            return;
        }
        if line_no == 1 && self.current_bom_sensitive && line.starts_with(BOM) {
            let rest = String::from_utf8_lossy(&line[BOM.len()..]);
            self.bom_hits
                .push(Place::new(bundle_path, 1, &format!("[EF BB BF] {rest}")));
        }
        self.match_line(bundle_path, line_no, line);
    }

    /// Whole lines, each ending in `\n`, the first numbered `first_line_no`: searched in place
    /// by the prefilter, so only the lines it chooses are cut out and numbered.
    pub fn lines(&mut self, bundle_path: &str, first_line_no: u64, block: &[u8]) {
        let (mut block, mut first_line_no) = (block, first_line_no);
        if first_line_no == 1 && !block.is_empty() {
            // The first line decides the encoding and carries a BOM.
            let end = memchr::memchr(b'\n', block).map_or(block.len(), |at| at + 1);
            self.line(bundle_path, 1, for_rules(&block[..end]));
            (block, first_line_no) = (&block[end..], 2);
        }
        if bundle_path != self.current_path {
            self.switch_to(bundle_path);
        }
        // Lines given one by one before this block go first: fire and clear keep their order.
        self.flush();
        if self.current_set.is_none() {
            return;
        }
        let choice = if self.current_utf16 {
            None
        } else {
            self.prefilter_ranges(block)
        };
        match choice {
            // One by one, as the line engine would give them (decoding, the block search).
            None => each_line(block, first_line_no, |line_no, line| {
                self.line(bundle_path, line_no, line)
            }),
            Some(false) => each_line(block, first_line_no, |line_no, line| {
                self.match_one(bundle_path, line_no, line)
            }),
            Some(true) => {
                let ranges = std::mem::take(&mut self.ranges);
                let (mut counted_to, mut line_no) = (0, first_line_no);
                for &(start, end) in &ranges {
                    line_no += memchr::memchr_iter(b'\n', &block[counted_to..start]).count() as u64;
                    counted_to = start;
                    self.match_one(bundle_path, line_no, for_rules(&block[start..end]));
                }
                self.ranges = ranges;
            }
        }
    }

    /// A window of a long line after its first (`lines::LineSink`): it starts with the end of
    /// the window before, so a match that starts at its first byte was already looked for
    /// there; that byte is only the context of `\b` and keeps `^` from matching mid-line.
    fn match_window(&mut self, bundle_path: &str, line_no: u64, window: &[u8]) {
        self.flush();
        if self.current_utf16 && window.contains(&0) {
            let decoded = super::decode::utf16le_line(window, false);
            self.match_one_from(bundle_path, line_no, decoded.as_bytes(), 0);
        } else if self.prefilter_ranges(window) != Some(true) || !self.ranges.is_empty() {
            // The prefilter sees a window as one line: none of its strings, no match.
            self.match_one_from(bundle_path, line_no, window, 1);
        }
    }

    fn match_line(&mut self, _bundle_path: &str, line_no: u64, line: &[u8]) {
        if self.current_set.is_none() {
            return;
        }
        self.pending.extend_from_slice(line);
        self.pending.push(b'\n');
        self.pending_lines.push((line_no, self.pending.len() - 1));
        if self.pending.len() >= BLOCK_BYTES {
            self.flush();
        }
    }

    /// Matches the waiting lines of the current file, in order.
    fn flush(&mut self) {
        if self.pending_lines.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let lines = std::mem::take(&mut self.pending_lines);
        let path = std::mem::take(&mut self.current_path);
        let every_line = match self.prefilter_ranges(&pending) {
            Some(true) => {
                let ranges = std::mem::take(&mut self.ranges);
                for &(start, end) in &ranges {
                    // The waiting line that ends where the chosen one does.
                    let i = lines.partition_point(|&(_, line_end)| line_end < end);
                    if let Some(&(line_no, _)) = lines.get(i) {
                        self.match_one(&path, line_no, &pending[start..end]);
                    }
                }
                self.ranges = ranges;
                false
            }
            Some(false) => true,
            None => self.current_set.as_deref().is_some_and(|set| {
                self.strategy == Strategy::EveryLine
                    || lines.len() < BLOCK_MIN_LINES
                    || set.block_may_match(&pending)
            }),
        };
        if every_line {
            let mut start = 0;
            for &(line_no, end) in &lines {
                self.match_one(&path, line_no, &pending[start..end]);
                start = end + 1;
            }
        }
        self.current_path = path;
        self.pending = pending;
        self.pending.clear();
        self.pending_lines = lines;
        self.pending_lines.clear();
    }

    /// The prefilter's choice among the lines of `block`, in `self.ranges`: None when the
    /// current file's set has none (or a test turned it off), Some(false) when every line must
    /// be matched.
    fn prefilter_ranges(&mut self, block: &[u8]) -> Option<bool> {
        if self.strategy != Strategy::Prefilter {
            return None;
        }
        let prefilter = self.current_set.as_deref()?.prefilter.as_ref()?;
        Some(prefilter.lines_to_match(block, &mut self.lowered, &mut self.ranges))
    }

    fn match_one(&mut self, bundle_path: &str, line_no: u64, line: &[u8]) {
        self.match_one_from(bundle_path, line_no, line, 0);
    }

    /// Matches `line` from byte `from` on (the bytes before are context only).
    fn match_one_from(&mut self, bundle_path: &str, line_no: u64, line: &[u8], from: usize) {
        let Some(set) = self.current_set.clone() else {
            return;
        };
        if from > line.len() || !set.set.is_match_at(line, from) {
            return;
        }
        // Rare from here on: allocation is fine.
        let matches = set.set.matches_at(line, from);
        // A long line's excerpt starts near its first match, not at its start.
        let shown = match matches.iter().next() {
            Some(first) if line.len() > LONG_EXCERPT_LINE => {
                let at = set.match_start(first, line, from).unwrap_or(from);
                char_bounded(line, at.saturating_sub(EXCERPT_BEFORE), LONG_EXCERPT_LINE)
            }
            _ => line,
        };
        // CP949 lines (Korean Windows) decode as such: an excerpt never shows mojibake.
        let text = super::decode::line(shown);
        for index in matches.iter() {
            match set.meanings.get(index) {
                Some(Meaning::Fire(rule)) => {
                    self.hits.insert(
                        (*rule, bundle_path.to_string()),
                        Place {
                            path: bundle_path.to_string(),
                            line: Some(line_no),
                            excerpt: Some(excerpt(&text)),
                        },
                    );
                }
                Some(Meaning::Clear(rule)) => {
                    self.hits.remove(&(*rule, bundle_path.to_string()));
                }
                Some(Meaning::KernelVersion) => {
                    if let Some(version) = versions::kernel_log_line(&text) {
                        self.kernel_log_version = Some(Located {
                            value: version,
                            place: Place::new(bundle_path, line_no, &text),
                        });
                    }
                }
                Some(Meaning::DrxVersion) => {
                    if let Some(version) = versions::drx_log_line(&text) {
                        versions::keep_newest(
                            &mut self.drx_log_version,
                            Located {
                                value: version,
                                place: Place::new(bundle_path, line_no, &text),
                            },
                        );
                    }
                }
                Some(Meaning::Handshake) => self.handshake_line(bundle_path, line_no, &text),
                Some(Meaning::BecamePrimary) => {
                    self.became_primary_line(bundle_path, line_no, &text)
                }
                None => {}
            }
        }
    }

    /// Keeps the latest Primary transition per owner, for a bounded number of owners (a real
    /// node has tens of resources; a hostile log cannot grow the list past the bound).
    fn became_primary_line(&mut self, bundle_path: &str, line_no: u64, text: &str) {
        const MAX_OWNERS: usize = 1024;
        let Some(owner) = crate::rules::parse::gi::role_owner(text) else {
            return;
        };
        let place = Place::new(bundle_path, line_no, text);
        if let Some(kept) = self.became_primary.iter_mut().find(|(o, _)| *o == owner) {
            kept.1 = place;
        } else if self.became_primary.len() < MAX_OWNERS {
            self.became_primary.push((owner, place));
        }
    }

    fn handshake_line(&mut self, bundle_path: &str, line_no: u64, text: &str) {
        use crate::rules::parse::gi::HandshakeScan;
        if self.handshake_path != bundle_path {
            self.handshake_scan = HandshakeScan::default();
            self.handshake_path = bundle_path.to_string();
        }
        self.handshake_scan.line(line_no, text);
        for handshake in self.handshake_scan.found.drain(..) {
            if self.handshakes.len() == HandshakeScan::MAX {
                self.handshakes.remove(0);
            }
            self.handshakes
                .push((Place::new(bundle_path, handshake.line, text), handshake));
        }
    }

    fn switch_to(&mut self, path: &str) {
        self.flush();
        self.current_path.clear();
        self.current_path.push_str(path);
        self.current_set = self.catalogue.patterns_for(path);
        self.current_bom_sensitive = inputs::is_bom_sensitive(path);
        self.current_utf16 = false;
        self.last_line_no = 0;
    }

    pub fn finish(mut self, facts: &Facts) -> Evidence {
        self.flush();
        let mut hits: Vec<Hit> = self
            .hits
            .into_iter()
            .filter_map(|((rule, _), place)| {
                self.catalogue.rules().get(rule).map(|r| Hit {
                    rule: r.id.clone(),
                    place,
                })
            })
            .collect();
        hits.extend(self.bom_hits.into_iter().map(|place| Hit {
            rule: super::checks::CONFIG_BOM.to_string(),
            place,
        }));
        let mut evidence = Evidence::gather(
            self.catalogue.clone(),
            facts,
            &self.whole,
            hits,
            super::evidence::LogVersions {
                drbd_kernel: self.kernel_log_version,
                drx: self.drx_log_version,
            },
        );
        evidence.gi.handshakes = self.handshakes;
        evidence.gi.became_primary = self.became_primary;
        evidence
    }
}

/// At most `len` bytes of `line` from `start`, both ends moved off the middle of a UTF-8
/// character.
fn char_bounded(line: &[u8], start: usize, len: usize) -> &[u8] {
    let inside = |at: usize| line.get(at).is_some_and(|b| (0x80..0xC0).contains(b));
    let mut start = start.min(line.len());
    // A character has at most three continuation bytes; bytes that are not UTF-8 are cut
    // anywhere.
    for _ in 0..3 {
        if inside(start) {
            start += 1;
        }
    }
    let mut end = (start + len).min(line.len());
    for _ in 0..3 {
        if end > start && inside(end) {
            end -= 1;
        }
    }
    &line[start..end]
}

/// The scan reads every kept line of the line engine, before redaction.
impl crate::lines::LineSink for Scan<'_> {
    fn line(&mut self, bundle_path: &str, line_no: u64, line: &[u8]) {
        Scan::line(self, bundle_path, line_no, line)
    }

    fn lines(&mut self, bundle_path: &str, first_line_no: u64, block: &[u8]) {
        Scan::lines(self, bundle_path, first_line_no, block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every text file under `dir`, recursively.
    fn fixture_texts(dir: &Path, out: &mut Vec<Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                fixture_texts(&path, out);
            } else {
                out.push(std::fs::read(&path).unwrap());
            }
        }
    }

    /// The hits of `lines` under each of `paths`, given line by line, or (`block` > 0) as the
    /// line engine gives them: blocks of `block` lines, the first line alone.
    fn hits(
        lines: &[&[u8]],
        paths: &[&str],
        strategy: Strategy,
        block: usize,
    ) -> Vec<(String, String, u64)> {
        let catalogue = Catalogue::embedded().unwrap();
        let mut scan = Scan::new(&catalogue);
        scan.strategy = strategy;
        for path in paths {
            if block == 0 {
                for (i, line) in lines.iter().enumerate() {
                    scan.line(path, i as u64 + 1, line);
                }
                continue;
            }
            for (n, chunk) in lines.chunks(block).enumerate() {
                let mut joined = Vec::new();
                for line in chunk {
                    joined.extend_from_slice(line);
                    joined.push(b'\n');
                }
                scan.lines(path, (n * block) as u64 + 1, &joined);
            }
        }
        let evidence = scan.finish(&Facts::default());
        let mut found: Vec<_> = evidence
            .hits
            .iter()
            .map(|h| {
                (
                    h.rule.clone(),
                    h.place.path.clone(),
                    h.place.line.unwrap_or(0),
                )
            })
            .collect();
        found.sort();
        found
    }

    /// Choosing lines by the prefilter or by a block search finds exactly what matching each
    /// line finds: every rule fixture's lines, also with their letters' case changed and an ASCII
    /// letter replaced by its Unicode case fold (ſ for s, the Kelvin sign for k), among thousands
    /// of quiet lines, under log paths of both systems.
    #[test]
    fn chosen_lines_find_what_every_line_finds() {
        let mut texts = Vec::new();
        fixture_texts(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rules/fixtures"),
            &mut texts,
        );
        let quiet = b"Dec  2 07:00:00 node1 systemd[1]: Started Session 1 of user root.".to_vec();
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for text in &texts {
            for line in text.split(|&b| b == b'\n') {
                let upper = line.to_ascii_uppercase();
                let folded = String::from_utf8_lossy(line)
                    .replacen('s', "\u{17F}", 1)
                    .replacen('k', "\u{212A}", 1)
                    .into_bytes();
                for variant in [line.to_vec(), upper, folded] {
                    lines.push(variant);
                    for _ in 0..20 {
                        lines.push(quiet.clone());
                    }
                }
            }
        }
        let lines: Vec<&[u8]> = lines.iter().map(|l| l.as_slice()).collect();
        let paths = [
            "files/var/log/messages",
            "files/opt/DRX/logs/main.log",
            "files/C/Program Files/bsr/log/bsr.log",
            "files/etc/drbd.d/r0.res",
        ];
        let by_line = hits(&lines, &paths, Strategy::EveryLine, 0);
        assert!(by_line.len() > 10, "the fixtures fire rules: {by_line:?}");
        assert_eq!(hits(&lines, &paths, Strategy::Blocks, 0), by_line);
        assert_eq!(hits(&lines, &paths, Strategy::Prefilter, 0), by_line);
        for block in [1, 7, 500] {
            assert_eq!(hits(&lines, &paths, Strategy::Prefilter, block), by_line);
            assert_eq!(hits(&lines, &paths, Strategy::EveryLine, block), by_line);
        }
    }

    /// Issue 24 item 20: a long line's windows (the same number again) are matched with the
    /// byte before as context, so `\b` does not fire at a window's start; the excerpt shows the
    /// match, not the line's start; a first line that only looks like UTF-16 hides no later line.
    #[test]
    fn windows_keep_their_context_and_wide_heads_hide_nothing() {
        let catalogue = Catalogue::embedded().unwrap();
        let path = "files/var/log/messages";
        let fired = |calls: &[(u64, Vec<u8>)]| {
            let mut scan = Scan::new(&catalogue);
            for (line_no, line) in calls {
                scan.line(path, *line_no, line);
            }
            let evidence = scan.finish(&Facts::default());
            evidence
                .hits
                .iter()
                .find(|h| h.rule == "REPL-SPLIT-BRAIN")
                .map(|h| (h.place.line, h.place.excerpt.clone().unwrap_or_default()))
        };
        let filler = vec![b'q'; 8192];
        // A window that starts right at "error:split-brain": the line before it went on with
        // "x" ("xerror:split-brain", no word boundary), and that start was already matched with
        // its context in the window before. One byte later it is a real match.
        let mut previous = filler.clone();
        previous.push(b'x');
        let window = b"error:split-brain here".to_vec();
        assert_eq!(fired(&[(1, previous), (1, window)]), None);
        let window = b" error:split-brain here".to_vec();
        let (line, excerpt) = fired(&[(1, filler.clone()), (1, window)]).unwrap();
        assert_eq!(line, Some(1));
        assert!(excerpt.contains("error:split-brain"), "{excerpt}");
        // Far into one long line: the excerpt starts near the match.
        let mut long = filler.clone();
        long.extend_from_slice(b" Split-Brain detected, dropping connection!");
        let (_, excerpt) = fired(&[(3, long)]).unwrap();
        assert!(excerpt.contains("Split-Brain detected"), "{excerpt}");
        // A wide-looking first line, then plain text.
        let head = b"a\0b\0c\0d\0".to_vec();
        let text =
            b"kernel: drbd r0: Split-Brain detected but unresolved, dropping connection".to_vec();
        assert_eq!(fired(&[(1, head), (2, text)]).unwrap().0, Some(2));
    }

    /// Every set the catalogue's log paths get has a prefilter: a pattern without a required
    /// string of three bytes would silently make every log line go through the whole set.
    #[test]
    fn every_log_path_set_has_a_prefilter() {
        let catalogue = Catalogue::embedded().unwrap();
        for path in [
            "files/var/log/messages",
            "files/var/log/syslog.1",
            "files/opt/DRX/logs/main.log",
            "files/C/Program Files/bsr/log/bsr.log",
            "files/var/log/bsr/bsr.log",
            "commands/dmesg.txt",
            "commands/wevtutil-system.txt",
            "files/C/Windows/Temp/dd_vcredist_amd64_1.log",
        ] {
            let set = catalogue.patterns_for(path).expect(path);
            assert!(
                set.prefilter.is_some(),
                "{path}: a pattern of its rules has no required string"
            );
        }
    }
}
