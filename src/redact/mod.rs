//! Privacy (SPEC §6): secrets are redacted while streaming, and with `--obfuscate` addresses,
//! hostnames and MAC addresses are replaced by pseudonyms that are the same everywhere.
//!
//! Skeleton: the interface the collector codes against. Behaviour follows in later commits.
use std::path::PathBuf;

use crate::error::Result;

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct PrivacyOptions {
    pub redact: bool,
    pub obfuscate: bool,
    pub map_file: Option<PathBuf>,
}

pub struct Privacy {
    options: PrivacyOptions,
    secrets_redacted: u64,
}

impl Privacy {
    pub fn new(options: PrivacyOptions) -> Result<Privacy> {
        Ok(Privacy {
            options,
            secrets_redacted: 0,
        })
    }

    pub fn learn(&mut self, _bundle_path: &str, _content: &[u8]) {}

    pub fn learn_hostname(&mut self, _name: &str) {}

    pub fn filter(&mut self, _bundle_path: &str) -> LineFilter<'_> {
        LineFilter {
            privacy: self,
            redactions: 0,
        }
    }

    pub fn obfuscate_text(&mut self, text: &str) -> String {
        text.to_string()
    }

    pub fn redact_text(&mut self, text: &str) -> String {
        text.to_string()
    }

    pub fn save_map(&self) -> Result<()> {
        let _ = &self.options;
        Ok(())
    }

    pub fn leak_check(&self) -> LeakChecker {
        LeakChecker {}
    }

    pub fn secrets_redacted(&self) -> u64 {
        self.secrets_redacted
    }
}

pub struct LineFilter<'p> {
    privacy: &'p mut Privacy,
    redactions: u64,
}

impl LineFilter<'_> {
    pub fn apply(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let _ = &self.privacy;
        out.extend_from_slice(line);
    }

    pub fn redactions(&self) -> u64 {
        self.redactions
    }
}

pub struct LeakChecker {}

impl LeakChecker {
    pub fn is_empty(&self) -> bool {
        true
    }

    pub fn scan(&mut self, _chunk: &[u8]) -> Option<String> {
        None
    }

    pub fn reset(&mut self) {}
}
