//! STAND-IN until the rule catalogue lands: same interface, no rules.
use crate::index::Finding;
use crate::lang::Lang;

pub struct Catalogue {
    rules: Vec<RuleInfo>,
}
pub struct RuleInfo {
    pub id: String,
    pub severity: crate::index::Severity,
}
impl RuleInfo {
    pub fn title(&self, _lang: Lang) -> &str {
        ""
    }
    pub fn remedy(&self, _lang: Lang) -> &str {
        ""
    }
    pub fn evidence(&self, _lang: Lang) -> &str {
        ""
    }
}
impl Catalogue {
    pub fn embedded() -> crate::error::Result<Catalogue> {
        Ok(Catalogue { rules: Vec::new() })
    }
    pub fn rules(&self) -> &[RuleInfo] {
        &self.rules
    }
    pub fn get(&self, id: &str) -> Option<&RuleInfo> {
        self.rules.iter().find(|r| r.id.eq_ignore_ascii_case(id))
    }
}
pub struct Scan<'c> {
    _c: &'c Catalogue,
}
impl<'c> Scan<'c> {
    pub fn new(catalogue: &'c Catalogue) -> Self {
        Scan { _c: catalogue }
    }
    pub fn wants_whole(&self, _bundle_path: &str) -> bool {
        false
    }
    pub fn add_file(&mut self, _bundle_path: &str, _content: &[u8]) {}
    pub fn line(&mut self, _bundle_path: &str, _line_no: u64, _line: &[u8]) {}
    pub fn finish(self, _facts: &Facts) -> Evidence {
        Evidence
    }
}
pub struct Facts {
    pub host: crate::index::Host,
    pub items: Vec<crate::index::Item>,
    pub collected_at: Option<chrono::DateTime<chrono::Utc>>,
}
#[derive(Clone, Debug)]
pub struct Evidence;
impl Evidence {
    pub fn findings(&self, _lang: Lang) -> Vec<Finding> {
        Vec::new()
    }
    pub fn drx_version(&self) -> Option<&str> {
        None
    }
}
pub fn cross_node(_nodes: &[(&str, &Evidence)], _lang: Lang) -> Vec<Finding> {
    Vec::new()
}
