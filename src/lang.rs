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
