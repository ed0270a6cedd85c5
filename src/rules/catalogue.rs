//! The rule catalogue: every rule's identity, severity and texts, loaded from the embedded
//! `manifests/rules.toml`. Pattern rules carry their patterns here too; code rules are registered
//! by id in `checks::CHECKS` and must have an entry in the file, so `rules list` shows all.
use serde::Deserialize;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::index::Severity;
use crate::lang::Lang;

use super::checks::{code_rules, is_code_rule};
use super::patterns::{CompiledSet, Matcher};

const EMBEDDED: &str = include_str!("../../manifests/rules.toml");

/// A text in both output languages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    pub en: String,
    pub ko: String,
}

impl Texts {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Ko => &self.ko,
        }
    }
}

/// One rule as the catalogue describes it.
#[derive(Debug, Clone)]
pub struct RuleInfo {
    pub id: String,
    pub severity: Severity,
    pub title: Texts,
    pub remedy: Texts,
    pub evidence: Texts,
    /// Bundle-path globs the patterns apply to (case-insensitive, `**` crosses directories).
    pub paths: Vec<String>,
    /// Regular expressions (byte-oriented; `(?-u:\xEF)` matches a raw byte) of which any fires.
    pub patterns: Vec<String>,
    /// A later match of this pattern in the same file withdraws an earlier firing.
    pub cleared_by: Option<String>,
    /// True when code in `checks/` produces findings for this rule.
    pub code: bool,
}

impl RuleInfo {
    pub fn title(&self, lang: Lang) -> &str {
        self.title.get(lang)
    }

    pub fn remedy(&self, lang: Lang) -> &str {
        self.remedy.get(lang)
    }

    /// What the rule looks for, in words (for `rules explain`).
    pub fn evidence(&self, lang: Lang) -> &str {
        self.evidence.get(lang)
    }

    /// "pattern", "code" or "code+pattern": how the rule is evaluated.
    pub fn kind(&self) -> &'static str {
        match (self.code, self.patterns.is_empty()) {
            (true, true) => "code",
            (true, false) => "code+pattern",
            (false, _) => "pattern",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    rule: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    severity: Severity,
    title: Texts,
    remedy: Texts,
    evidence: Texts,
    #[serde(default)]
    code: bool,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    patterns: Vec<String>,
    #[serde(default)]
    cleared_by: Option<String>,
}

/// Every rule, pattern and code ones alike, sorted by id. Cheap to clone: the rules and the
/// compiled line patterns are shared.
#[derive(Debug, Clone)]
pub struct Catalogue {
    rules: Arc<[RuleInfo]>,
    /// The line patterns' sets, compiled when a scan first needs one and kept for every later
    /// scan (a support queue of a thousand bundles compiles them once).
    matcher: Arc<Mutex<Matcher>>,
}

impl Catalogue {
    /// Loads the embedded rules.toml. Err only if the embedded data is broken (a unit test
    /// guarantees it is not).
    pub fn embedded() -> Result<Catalogue> {
        Catalogue::from_toml(EMBEDDED, "embedded rules.toml")
    }

    /// Loads a catalogue from TOML text; `origin` names it in error messages.
    pub fn from_toml(text: &str, origin: &str) -> Result<Catalogue> {
        let file: RuleFile = toml::from_str(text)
            .map_err(|e| Error::failed(format!("{origin} is not a valid rule file: {e}")))?;
        let mut rules = Vec::with_capacity(file.rule.len());
        for raw in file.rule {
            let rule = validate(raw, origin)?;
            if rules
                .iter()
                .any(|r: &RuleInfo| r.id.eq_ignore_ascii_case(&rule.id))
            {
                return Err(Error::failed(format!(
                    "{origin}: rule {} is defined twice",
                    rule.id
                )));
            }
            rules.push(rule);
        }
        for id in code_rules() {
            match rules.iter().find(|r| r.id == id) {
                Some(rule) if rule.code => {}
                Some(_) => {
                    return Err(Error::failed(format!(
                        "{origin}: rule {id} is checked by code but lacks `code = true`"
                    )))
                }
                None => {
                    return Err(Error::failed(format!(
                        "{origin}: the code rule {id} has no entry (title, remedy, evidence)"
                    )))
                }
            }
        }
        rules.sort_by(|a, b| a.id.cmp(&b.id));
        let matcher = Arc::new(Mutex::new(Matcher::new(&rules)));
        Ok(Catalogue {
            rules: rules.into(),
            matcher,
        })
    }

    /// The compiled line patterns for a bundle path, or None when no pattern applies to it.
    pub(super) fn patterns_for(&self, bundle_path: &str) -> Option<Arc<CompiledSet>> {
        // A scan that panicked while holding the lock left the cache whole (it only inserts).
        let mut matcher = self.matcher.lock().unwrap_or_else(|p| p.into_inner());
        matcher.set_for(bundle_path)
    }

    pub fn rules(&self) -> &[RuleInfo] {
        &self.rules
    }

    /// The rule with this id, compared case-insensitively.
    pub fn get(&self, id: &str) -> Option<&RuleInfo> {
        self.rules.iter().find(|r| r.id.eq_ignore_ascii_case(id))
    }
}

fn validate(raw: RawRule, origin: &str) -> Result<RuleInfo> {
    let id = raw.id.trim().to_string();
    let bad = |what: &str| Error::failed(format!("{origin}: rule {id}: {what}"));
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(bad("the id must be upper-case letters, digits and '-'"));
    }
    for (name, texts) in [
        ("title", &raw.title),
        ("remedy", &raw.remedy),
        ("evidence", &raw.evidence),
    ] {
        if texts.en.trim().is_empty() || texts.ko.trim().is_empty() {
            return Err(bad(&format!("{name} needs both en and ko text")));
        }
    }
    if !raw.code && raw.patterns.is_empty() {
        return Err(bad("has neither patterns nor `code = true`"));
    }
    if !raw.patterns.is_empty() && raw.paths.is_empty() {
        return Err(bad("has patterns but no paths"));
    }
    if raw.code && !is_code_rule(&id) {
        return Err(bad("says `code = true` but no code check has this id"));
    }
    for pattern in raw.patterns.iter().chain(raw.cleared_by.iter()) {
        regex::bytes::Regex::new(pattern)
            .map_err(|e| bad(&format!("pattern {pattern:?} does not compile: {e}")))?;
    }
    for path in &raw.paths {
        glob::Pattern::new(path).map_err(|e| bad(&format!("path glob {path:?}: {e}")))?;
    }
    Ok(RuleInfo {
        id,
        severity: raw.severity,
        title: raw.title,
        remedy: raw.remedy,
        evidence: raw.evidence,
        paths: raw.paths,
        patterns: raw.patterns,
        cleared_by: raw.cleared_by,
        code: raw.code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SPEC §5 table: these ids and severities are fixed.
    const SPEC_RULES: &[(&str, Severity)] = &[
        ("CONFIG-BOM", Severity::Error),
        ("INSTALL-0X800B010A", Severity::Error),
        ("INSTALL-KB2883200-MISSING", Severity::Error),
        ("INSTALL-DOTNET351-MISSING", Severity::Warning),
        ("VERSION-DRBD-OLD", Severity::Error),
        ("VERSION-DRBD-UTILS-OLD", Severity::Error),
        ("MODULE-NOT-LOADED", Severity::Warning),
        ("VERSION-DRX-MISMATCH", Severity::Warning),
        ("CONFIG-DUPLICATE-PORT", Severity::Error),
        ("CONFIG-HOSTNAME-MISMATCH", Severity::Error),
        ("CONFIG-WFC-TIMEOUT-MISSING", Severity::Warning),
        ("CONFIG-PING-TIMEOUT", Severity::Warning),
        ("BSR-ADDRESS-MISMATCH", Severity::Error),
        ("FIREWALL-PORT-BLOCKED", Severity::Error),
        ("NET-SYN-SENT", Severity::Warning),
        ("NET-NOT-LISTENING", Severity::Warning),
        ("DRX-CONNECTION-REFUSED", Severity::Error),
        ("DRX-BRIDGING", Severity::Warning),
        ("VIP-STANDBY-DRX-RUNNING", Severity::Warning),
        ("CONFIG-INVALID", Severity::Error),
        ("REPL-SPLIT-BRAIN", Severity::Error),
        ("REPL-AUTH-FAILED", Severity::Error),
        ("COLLECT-INCOMPLETE", Severity::Info),
    ];

    #[test]
    fn embedded_catalogue_loads_with_every_spec_rule_and_severity() {
        let catalogue = Catalogue::embedded().expect("embedded rules.toml must load");
        for (id, severity) in SPEC_RULES {
            let rule = catalogue
                .get(id)
                .unwrap_or_else(|| panic!("{id} missing from the catalogue"));
            assert_eq!(rule.severity, *severity, "{id}");
        }
    }

    #[test]
    fn every_rule_has_english_and_korean_texts() {
        let catalogue = Catalogue::embedded().expect("loads");
        for rule in catalogue.rules() {
            for lang in [Lang::En, Lang::Ko] {
                assert!(!rule.title(lang).trim().is_empty(), "{} title", rule.id);
                assert!(!rule.remedy(lang).trim().is_empty(), "{} remedy", rule.id);
                assert!(
                    !rule.evidence(lang).trim().is_empty(),
                    "{} evidence",
                    rule.id
                );
            }
            assert!(
                rule.title(Lang::Ko)
                    .chars()
                    .any(|c| ('가'..='힣').contains(&c)),
                "{} Korean title has no Hangul",
                rule.id
            );
        }
    }

    #[test]
    fn rules_are_sorted_and_lookup_ignores_case() {
        let catalogue = Catalogue::embedded().expect("loads");
        let ids: Vec<&str> = catalogue.rules().iter().map(|r| r.id.as_str()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert_eq!(
            catalogue.get("config-bom").map(|r| r.id.as_str()),
            Some("CONFIG-BOM")
        );
        assert!(catalogue.get("NO-SUCH-RULE").is_none());
    }

    #[test]
    fn every_code_rule_is_in_the_catalogue() {
        let catalogue = Catalogue::embedded().expect("loads");
        for id in code_rules() {
            assert!(catalogue.get(id).is_some_and(|r| r.code), "{id}");
        }
        for rule in catalogue.rules().iter().filter(|r| r.code) {
            assert!(is_code_rule(&rule.id), "{} says code = true", rule.id);
        }
    }

    #[test]
    fn broken_rule_files_are_rejected_with_the_rule_named() {
        let base = |extra: &str| {
            format!(
                "[[rule]]\nid = \"X-ONE\"\nseverity = \"info\"\ntitle.en = \"t\"\ntitle.ko = \"제목\"\n\
                 remedy.en = \"r\"\nremedy.ko = \"조치\"\nevidence.en = \"e\"\nevidence.ko = \"증거\"\n{extra}"
            )
        };
        // Neither patterns nor code.
        assert!(Catalogue::from_toml(&base(""), "t").is_err());
        // A regex that does not compile.
        let err = Catalogue::from_toml(&base("paths = [\"x\"]\npatterns = [\"(\"]\n"), "t")
            .expect_err("bad regex");
        assert!(err.message().contains("X-ONE"), "{}", err.message());
        // Code rules missing from a file that is otherwise valid.
        let err = Catalogue::from_toml(&base("paths = [\"x\"]\npatterns = [\"a\"]\n"), "t")
            .expect_err("code rules lack entries");
        assert!(err.message().contains("code rule"), "{}", err.message());
        // Not TOML at all.
        assert!(Catalogue::from_toml("[[rule]\n", "t").is_err());
    }
}
