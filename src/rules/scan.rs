//! `Scan`: takes a bundle file by file, streaming. Every line goes through the pattern matcher
//! (the hot path); files the structured checks need are kept whole and parsed in `finish`.
use std::collections::BTreeMap;

use super::catalogue::Catalogue;
use super::evidence::{Evidence, Facts, Hit};
use super::inputs;
use super::model::{excerpt, Located, Place, Version};
use super::parse::versions;
use super::patterns::{Matcher, Meaning};

const BOM: &[u8] = &[0xEF, 0xBB, 0xBF];
/// Lines are matched a block at a time: most blocks of a log match no rule, and one search over
/// a block costs far less than one per line (the set's literal prefilter starts once).
const BLOCK_BYTES: usize = 64 * 1024;
/// Blocks of fewer lines are matched line by line (a small file never needs the block set).
const BLOCK_MIN_LINES: usize = 32;

/// Gathers evidence from one bundle.
pub struct Scan<'c> {
    catalogue: &'c Catalogue,
    matcher: Matcher,
    /// Per-path state of the file being read, recomputed when the path changes.
    current_path: String,
    current_set: Option<usize>,
    current_bom_sensitive: bool,
    /// The current file is UTF-16LE (seen on its first line): lines are decoded before matching.
    current_utf16: bool,
    whole: BTreeMap<String, Vec<u8>>,
    /// (rule index, path) → the latest firing line; cleared entries are removed.
    hits: BTreeMap<(usize, String), Place>,
    bom_hits: Vec<Place>,
    kernel_log_version: Option<Located<Version>>,
    /// Lines of the current file waiting to be matched, joined by `\n`, and their numbers and
    /// ends in `pending`.
    pending: Vec<u8>,
    pending_lines: Vec<(u64, usize)>,
    /// [`BLOCK_MIN_LINES`]; tests set it out of reach to compare with the line-by-line match.
    block_min_lines: usize,
}

impl<'c> Scan<'c> {
    pub fn new(catalogue: &'c Catalogue) -> Self {
        Scan {
            catalogue,
            matcher: Matcher::new(catalogue),
            current_path: String::new(),
            current_set: None,
            current_bom_sensitive: false,
            current_utf16: false,
            whole: BTreeMap::new(),
            hits: BTreeMap::new(),
            bom_hits: Vec::new(),
            kernel_log_version: None,
            pending: Vec::with_capacity(BLOCK_BYTES + 4096),
            pending_lines: Vec::new(),
            block_min_lines: BLOCK_MIN_LINES,
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

    /// Called for every line of every file, in order (`line_no` 1-based, no trailing '\n').
    pub fn line(&mut self, bundle_path: &str, line_no: u64, line: &[u8]) {
        if bundle_path != self.current_path {
            self.switch_to(bundle_path);
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
        if self.current_utf16 {
            // A file Windows wrote in UTF-16 (a redirected wmic, a Unicode-saved log): match
            // the patterns on the decoded text, not on bytes with a NUL between letters.
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
        let worth_a_block = lines.len() >= self.block_min_lines;
        let may_match = match self.current_set.and_then(|i| self.matcher.set(i)) {
            Some(set) => !worth_a_block || set.block_may_match(&pending),
            None => false,
        };
        if may_match {
            let path = std::mem::take(&mut self.current_path);
            let mut start = 0;
            for &(line_no, end) in &lines {
                self.match_one(&path, line_no, &pending[start..end]);
                start = end + 1;
            }
            self.current_path = path;
        }
        self.pending = pending;
        self.pending.clear();
        self.pending_lines = lines;
        self.pending_lines.clear();
    }

    fn match_one(&mut self, bundle_path: &str, line_no: u64, line: &[u8]) {
        let Some(set) = self.current_set.and_then(|i| self.matcher.set(i)) else {
            return;
        };
        if !set.set.is_match(line) {
            return;
        }
        // Rare from here on: allocation is fine.
        // CP949 lines (Korean Windows) decode as such: an excerpt never shows mojibake.
        let text = super::decode::line(line);
        for index in set.set.matches(line).iter() {
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
                None => {}
            }
        }
    }

    fn switch_to(&mut self, path: &str) {
        self.flush();
        self.current_path.clear();
        self.current_path.push_str(path);
        self.current_set = self.matcher.set_for(path);
        self.current_bom_sensitive = inputs::is_bom_sensitive(path);
        self.current_utf16 = false;
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
        Evidence::gather(
            self.catalogue.clone(),
            facts,
            &self.whole,
            hits,
            self.kernel_log_version,
        )
    }
}

/// The scan reads every kept line of the line engine, before redaction.
impl crate::lines::LineSink for Scan<'_> {
    fn line(&mut self, bundle_path: &str, line_no: u64, line: &[u8]) {
        Scan::line(self, bundle_path, line_no, line)
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

    fn hits(lines: &[&[u8]], paths: &[&str], block_min_lines: usize) -> Vec<(String, String, u64)> {
        let catalogue = Catalogue::embedded().unwrap();
        let mut scan = Scan::new(&catalogue);
        scan.block_min_lines = block_min_lines;
        for path in paths {
            for (i, line) in lines.iter().enumerate() {
                scan.line(path, i as u64 + 1, line);
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

    /// Matching a block of lines at a time finds exactly what matching each line finds: every
    /// rule fixture's lines, among thousands of quiet lines, under log paths of both systems.
    #[test]
    fn block_matching_finds_what_line_matching_finds() {
        let mut texts = Vec::new();
        fixture_texts(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rules/fixtures"),
            &mut texts,
        );
        let quiet = b"Dec  2 07:00:00 node1 systemd[1]: Started Session 1 of user root.".to_vec();
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for text in &texts {
            for line in text.split(|&b| b == b'\n') {
                lines.push(line.to_vec());
                for _ in 0..20 {
                    lines.push(quiet.clone());
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
        let by_block = hits(&lines, &paths, BLOCK_MIN_LINES);
        let by_line = hits(&lines, &paths, usize::MAX);
        assert!(by_line.len() > 10, "the fixtures fire rules: {by_line:?}");
        assert_eq!(by_block, by_line);
    }
}
