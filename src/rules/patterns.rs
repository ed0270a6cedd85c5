//! The line matcher for pattern rules. Every file is matched only against the patterns whose path
//! globs fit it: the fitting subset is compiled once into one `RegexSet` per distinct subset
//! (a handful per bundle), so a gigabyte log costs one `is_match` per line and no allocation.
use std::collections::HashMap;

use glob::{MatchOptions, Pattern};
use regex::bytes::{Regex, RegexSet, RegexSetBuilder};
use std::sync::{Arc, OnceLock};

use super::catalogue::RuleInfo;
use super::prefilter::Prefilter;

/// What a matching line means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// The rule (index into the catalogue's rules) fires.
    Fire(usize),
    /// A later line withdraws the rule's firing in this file.
    Clear(usize),
    /// The kernel's "drbd: initialized. Version:" line (read by code, not a rule).
    KernelVersion,
    /// A DRX log line naming DRX's version ("DRX 2.4.1 starting"; read by code).
    DrxVersion,
    /// A line of the kernel's sync handshake (`self …`, `peer …`, `uuid_compare()=…`), read
    /// by `parse::gi::HandshakeScan`.
    Handshake,
    /// A role change to Primary (`role( Secondary -> Primary )`), for the split-brain story.
    BecamePrimary,
}

#[derive(Debug)]
struct Entry {
    regex: String,
    meaning: Meaning,
    /// Empty: any path (used by code probes that choose paths themselves).
    globs: Vec<Pattern>,
    scope: Scope,
}

/// Which files an entry reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Globs,
    SystemLogs,
    /// Where the kernel's handshake lines land: system logs and BSR's engine logs.
    HandshakeLogs,
}

/// A compiled subset: `set` index i means `entries[i]`.
#[derive(Debug)]
pub struct CompiledSet {
    pub set: RegexSet,
    pub meanings: Vec<Meaning>,
    /// The same patterns over a block of lines joined by `\n`, `^`/`$` at every line: made on
    /// first use (only files with many lines need it).
    block: OnceLock<Option<RegexSet>>,
    /// Each pattern alone, made on first use: only a hit in a long line needs to know where
    /// it matched.
    alone: OnceLock<Vec<Option<Regex>>>,
    patterns: Vec<String>,
    /// Required strings of every pattern; None when one pattern has none (rare).
    pub prefilter: Option<Prefilter>,
}

impl CompiledSet {
    /// Where in `line` (searched from `from`) the set's pattern `index` first matches.
    pub fn match_start(&self, index: usize, line: &[u8], from: usize) -> Option<usize> {
        let alone = self
            .alone
            .get_or_init(|| self.patterns.iter().map(|p| Regex::new(p).ok()).collect());
        let regex = alone.get(index)?.as_ref()?;
        regex.find_at(line, from).map(|found| found.start())
    }

    /// False only when no line of `block` (lines joined by `\n`) can match: one search over the
    /// block instead of one per line. With `^`/`$` at line ends and `.` never crossing a line,
    /// a pattern that matches a line matches the block; the reverse may be true across lines
    /// (`\s` or `[^x]` reaching the next line), which only costs the per-line look.
    pub fn block_may_match(&self, block: &[u8]) -> bool {
        let set = self.block.get_or_init(|| {
            RegexSetBuilder::new(&self.patterns)
                .multi_line(true)
                .build()
                .ok()
        });
        match set {
            Some(set) => set.is_match(block),
            None => true,
        }
    }
}

/// The patterns of a catalogue and the sets compiled so far (the catalogue keeps one, shared by
/// every scan, so a queue of bundles compiles each set once).
#[derive(Debug)]
pub struct Matcher {
    entries: Vec<Entry>,
    by_subset: HashMap<Vec<usize>, Option<Arc<CompiledSet>>>,
}

/// Where DRX writes its logs (Linux /opt/DRX/logs, Windows <install>\\logs), and the journal of
/// its service.
const DRX_LOGS: &[&str] = &[
    "files/**/DRX/logs/**",
    "files/**/drx/logs/**",
    "commands/journalctl-drx.txt",
];

const GLOB_OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: false,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

impl Matcher {
    pub fn new(rules: &[RuleInfo]) -> Matcher {
        let mut entries = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            // The catalogue validated these globs and regexes when it loaded.
            let globs: Vec<Pattern> = rule
                .paths
                .iter()
                .filter_map(|p| Pattern::new(p).ok())
                .collect();
            for regex in &rule.patterns {
                entries.push(Entry {
                    regex: regex.clone(),
                    meaning: Meaning::Fire(index),
                    globs: globs.clone(),
                    scope: Scope::Globs,
                });
            }
            if let Some(regex) = &rule.cleared_by {
                entries.push(Entry {
                    regex: regex.clone(),
                    meaning: Meaning::Clear(index),
                    globs: globs.clone(),
                    scope: Scope::Globs,
                });
            }
        }
        entries.push(Entry {
            // DRBD 8.4/9 write "initialized", 8.3 and older "initialised".
            regex: r"drbd: (?:module )?initiali[sz]ed\. Version: ".to_string(),
            meaning: Meaning::KernelVersion,
            globs: Vec::new(),
            scope: Scope::SystemLogs,
        });
        entries.push(Entry {
            // drbd_uuid_dump's `self`/`peer` lines and the result (8.4, 9, BSR's `(N)` form).
            regex: r"(?:self|peer) [0-9A-F]{16}:[0-9A-F]{16}:|uuid_compare\(".to_string(),
            meaning: Meaning::Handshake,
            globs: Vec::new(),
            scope: Scope::HandshakeLogs,
        });
        entries.push(Entry {
            // drbd_state.c / bsr_state.c print state changes as `role( Secondary -> Primary )`.
            regex: r"\brole\( ?\w+ -> Primary ?\)".to_string(),
            meaning: Meaning::BecamePrimary,
            globs: Vec::new(),
            scope: Scope::HandshakeLogs,
        });
        entries.push(Entry {
            regex: crate::rules::parse::versions::DRX_LOG_VERSION.to_string(),
            meaning: Meaning::DrxVersion,
            globs: DRX_LOGS
                .iter()
                .filter_map(|p| Pattern::new(p).ok())
                .collect(),
            scope: Scope::Globs,
        });
        Matcher {
            entries,
            by_subset: HashMap::new(),
        }
    }

    /// The compiled set for a bundle path, or None when no pattern applies to it.
    pub fn set_for(&mut self, path: &str) -> Option<Arc<CompiledSet>> {
        let system_log = crate::layout::is_system_log(path);
        let subset: Vec<usize> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| match e.scope {
                Scope::SystemLogs => system_log,
                Scope::HandshakeLogs => crate::layout::may_hold_handshakes(path),
                Scope::Globs => e.globs.iter().any(|g| g.matches_with(path, GLOB_OPTIONS)),
            })
            .map(|(i, _)| i)
            .collect();
        if subset.is_empty() {
            return None;
        }
        if let Some(known) = self.by_subset.get(&subset) {
            return known.clone();
        }
        let patterns: Vec<String> = subset
            .iter()
            .map(|&i| self.entries[i].regex.clone())
            .collect();
        let compiled = RegexSet::new(&patterns).ok().map(|set| {
            Arc::new(CompiledSet {
                set,
                meanings: subset.iter().map(|&i| self.entries[i].meaning).collect(),
                block: OnceLock::new(),
                alone: OnceLock::new(),
                prefilter: Prefilter::new(&patterns),
                patterns,
            })
        });
        self.by_subset.insert(subset, compiled.clone());
        compiled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_select_patterns_per_path() {
        let catalogue = super::super::Catalogue::embedded().expect("loads");
        let mut matcher = Matcher::new(catalogue.rules());
        let drx_log = matcher
            .set_for("files/opt/DRX/logs/r0/r0.log")
            .expect("drx log has rules");
        let set = &drx_log;
        assert!(set
            .set
            .is_match(b"I1120 16:37:02.690660 t42053 r0] state: bridging"));
        assert!(!set
            .set
            .is_match(b"I1120 16:37:02.690660 t42053 r0] state: bridged now"[..25].as_ref()));
        // Windows path, different case.
        assert!(matcher
            .set_for("files/C/Program Files/drx/logs/main.log")
            .is_some());
        // Same subset → same compiled set.
        assert!(Arc::ptr_eq(
            &matcher.set_for("files/opt/DRX/logs/main.log").unwrap(),
            &drx_log
        ));
        assert!(matcher.set_for("files/etc/passwd").is_none());
        let set = matcher
            .set_for("files/var/log/messages")
            .expect("system log");
        assert!(set
            .set
            .is_match(b"kernel: drbd: initialized. Version: 8.4.5 (api:1/proto:86-101)"));
    }
}
