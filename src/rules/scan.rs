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

    fn match_line(&mut self, bundle_path: &str, line_no: u64, line: &[u8]) {
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
        self.current_path.clear();
        self.current_path.push_str(path);
        self.current_set = self.matcher.set_for(path);
        self.current_bom_sensitive = inputs::is_bom_sensitive(path);
        self.current_utf16 = false;
    }

    pub fn finish(self, facts: &Facts) -> Evidence {
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
