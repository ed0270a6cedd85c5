//! Output language of titles and remedies (`--lang en|ko`, default from `LANG`).

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Ko,
}

impl Lang {
    pub fn parse(text: &str) -> Option<Lang> {
        match text.to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "ko" => Some(Lang::Ko),
            _ => None,
        }
    }

    /// The language asked for by the environment: `LC_ALL`, then `LC_MESSAGES`, then `LANG`
    /// (`ko_KR.UTF-8` → Korean); English otherwise.
    pub fn from_env() -> Lang {
        for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Ok(value) = std::env::var(var) {
                if value.is_empty() {
                    continue;
                }
                return if value.to_ascii_lowercase().starts_with("ko") {
                    Lang::Ko
                } else {
                    Lang::En
                };
            }
        }
        Lang::En
    }
}

/// One UI text in both languages (manifests/ui.toml).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Pair {
    en: String,
    ko: String,
}

const UI: &str = include_str!("../manifests/ui.toml");

/// The table, keyed `section.name`. Embedded and checked by the tests below, so it always loads;
/// should it not, the key itself is shown rather than failing a report.
fn table() -> &'static std::collections::HashMap<String, Pair> {
    static TABLE: std::sync::OnceLock<std::collections::HashMap<String, Pair>> =
        std::sync::OnceLock::new();
    TABLE.get_or_init(|| parse_table(UI).unwrap_or_default())
}

fn parse_table(text: &str) -> Result<std::collections::HashMap<String, Pair>, toml::de::Error> {
    let sections: std::collections::BTreeMap<String, std::collections::BTreeMap<String, Pair>> =
        toml::from_str(text)?;
    Ok(sections
        .into_iter()
        .flat_map(|(section, pairs)| {
            pairs
                .into_iter()
                .map(move |(name, pair)| (format!("{section}.{name}"), pair))
        })
        .collect())
}

impl Lang {
    /// The UI text `key` (`html.verdict`) of manifests/ui.toml in this language.
    pub fn ui(self, key: &str) -> &'static str {
        match table().get(key) {
            Some(pair) => match self {
                Lang::En => &pair.en,
                Lang::Ko => &pair.ko,
            },
            None => {
                debug_assert!(false, "UI text {key} is not in manifests/ui.toml");
                // Never reached (a test checks every key the code names), so a marker will do.
                "?"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ui_text_has_english_and_korean() {
        let table = parse_table(UI).expect("manifests/ui.toml parses");
        assert!(table.len() > 50);
        for (key, pair) in &table {
            assert!(!pair.en.trim().is_empty(), "{key} en");
            assert!(!pair.ko.trim().is_empty(), "{key} ko");
        }
    }

    /// Every `ui("…")` the code asks for is in the table, and every key in the table is asked
    /// for somewhere (no dead texts).
    #[test]
    fn the_code_and_the_table_name_the_same_keys() {
        let table = parse_table(UI).expect("manifests/ui.toml parses");
        let call = regex::Regex::new(r#"\.ui\(\s*"([a-z_]+\.[a-z_]+)"\s*\)"#).unwrap();
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut used = std::collections::BTreeSet::new();
        for entry in walkdir::WalkDir::new(&src) {
            let entry = entry.unwrap();
            if entry.path().extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(entry.path()).unwrap();
                for m in call.captures_iter(&text) {
                    used.insert(m[1].to_string());
                }
            }
        }
        for key in &used {
            assert!(
                table.contains_key(key),
                "{key} is used but not in manifests/ui.toml"
            );
        }
        for key in table.keys() {
            assert!(
                used.contains(key),
                "{key} in manifests/ui.toml is never used"
            );
        }
        assert_eq!(Lang::Ko.ui("html.verdict"), "판정");
        assert_eq!(Lang::En.ui("html.verdict"), "Verdict");
    }
}
