//! STAND-IN until the privacy module lands: same interface, copies everything unchanged.
use crate::error::Result;
use std::path::PathBuf;

pub struct PrivacyOptions {
    pub redact: bool,
    pub obfuscate: bool,
    pub map_file: Option<PathBuf>,
}
pub struct Privacy;
impl Privacy {
    pub fn new(_options: PrivacyOptions) -> Result<Privacy> {
        Ok(Privacy)
    }
    pub fn learn(&mut self, _bundle_path: &str, _content: &[u8]) {}
    pub fn learn_hostname(&mut self, _name: &str) {}
    pub fn filter(&mut self, _bundle_path: &str) -> LineFilter<'_> {
        LineFilter { _p: self }
    }
    pub fn obfuscate_text(&mut self, text: &str) -> String {
        text.to_string()
    }
    pub fn redact_text(&mut self, text: &str) -> String {
        text.to_string()
    }
    pub fn save_map(&self) -> Result<()> {
        Ok(())
    }
    pub fn leak_check(&self) -> LeakChecker {
        LeakChecker
    }
    pub fn secrets_redacted(&self) -> u64 {
        0
    }
}
pub struct LineFilter<'p> {
    _p: &'p mut Privacy,
}
impl LineFilter<'_> {
    pub fn apply(&mut self, line: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(line);
    }
    pub fn redactions(&self) -> u64 {
        0
    }
}
pub struct LeakChecker;
impl LeakChecker {
    pub fn is_empty(&self) -> bool {
        true
    }
    pub fn scan(&mut self, _chunk: &[u8]) -> Option<String> {
        None
    }
    pub fn reset(&mut self) {}
}
