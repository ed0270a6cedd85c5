//! Manifests: what to collect, as data (`manifests/*.toml`, embedded at build time; format in
//! `manifests/README.md`). A manifest is a list of items, each a set of files or one command.
use crate::digest::hex;
use crate::error::{Error, Result};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

const LINUX: &str = include_str!("../manifests/linux.toml");
const WINDOWS: &str = include_str!("../manifests/windows.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    Windows,
}

impl Os {
    pub fn current() -> Os {
        if cfg!(windows) {
            Os::Windows
        } else {
            Os::Linux
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Os::Linux => "linux",
            Os::Windows => "windows",
        }
    }

    fn parse(text: &str) -> Option<Os> {
        match text {
            "linux" => Some(Os::Linux),
            "windows" => Some(Os::Windows),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Manifest {
    pub name: String,
    pub os: Os,
    /// SHA-256 of the manifest text(s), recorded in index.json.
    pub sha256: String,
    pub items: Vec<Item>,
    /// Public keys every bundle made with this manifest is encrypted to (`encrypt_to`), as
    /// written; checked when the manifest is read.
    pub encrypt_to: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    pub description: String,
    pub what: What,
    /// Only on this OS (default: the manifest's).
    pub os: Os,
    /// Collect only when one of these paths exists (globs allowed; under `--root`).
    pub when_exists: Vec<String>,
    /// Collect only when a process of one of these names runs (Linux, from `/proc`).
    pub when_running: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum What {
    Files {
        /// Paths or globs. A final `/**` (or `\**`) means everything below, dotfiles included.
        paths: Vec<String>,
        /// File-name globs left out.
        exclude: Vec<String>,
        /// A log: `--since` and the tail cut of `--max-file-size` apply.
        log: bool,
        /// Leave out files that look binary (a NUL byte in the first 8 KiB).
        skip_binary: bool,
    },
    Command {
        argv: Vec<String>,
        timeout: Option<Duration>,
        /// Exit codes that still mean success (`systemctl status` exits 3 for a stopped unit).
        ok_exit_codes: Vec<i32>,
        /// The output is a log (`journalctl`): `--since` keeps its newer lines only.
        log: bool,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: String,
    os: String,
    #[serde(default)]
    description: String,
    #[serde(default, rename = "item")]
    items: Vec<toml::Spanned<RawItem>>,
    #[serde(default)]
    encrypt_to: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    id: String,
    #[serde(default)]
    description: String,
    files: Option<Vec<String>>,
    command: Option<Vec<String>>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    log: bool,
    #[serde(default)]
    skip_binary: bool,
    timeout: Option<String>,
    ok_exit_codes: Option<Vec<i32>>,
    os: Option<String>,
    #[serde(default)]
    when_exists: Vec<String>,
    #[serde(default)]
    when_running: Vec<String>,
}

/// The manifest compiled into the binary for `os`.
pub fn embedded(os: Os) -> Manifest {
    let text = match os {
        Os::Linux => LINUX,
        Os::Windows => WINDOWS,
    };
    // The embedded manifests are checked by a unit test; failing here is a build defect.
    parse(text, &format!("embedded {} manifest", os.as_str()))
        .unwrap_or_else(|err| panic!("the embedded manifest is invalid: {err}"))
}

pub fn embedded_text(os: Os) -> &'static str {
    match os {
        Os::Linux => LINUX,
        Os::Windows => WINDOWS,
    }
}

/// Reads and validates a manifest file; errors name the file and line.
pub fn load(path: &Path) -> Result<Manifest> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| Error::io("read manifest", path, &err, "check the manifest's path"))?;
    parse(&text, &path.display().to_string())
}

/// Later manifests add items to earlier ones (`-m A -m B`); an id may not repeat.
pub fn merge(manifests: Vec<Manifest>) -> Result<Manifest> {
    let mut iter = manifests.into_iter();
    let mut merged = match iter.next() {
        Some(first) => first,
        None => return Err(Error::failed("no manifest to collect with")),
    };
    let mut hasher = Sha256::new();
    hasher.update(merged.sha256.as_bytes());
    for next in iter {
        for item in next.items {
            if merged.items.iter().any(|known| known.id == item.id) {
                return Err(Error::failed(format!(
                    "manifest {} repeats item id '{}' of an earlier manifest; give it another id",
                    next.name, item.id
                )));
            }
            merged.items.push(item);
        }
        merged.encrypt_to.extend(next.encrypt_to);
        merged.name = format!("{}+{}", merged.name, next.name);
        hasher.update(next.sha256.as_bytes());
    }
    if merged.name.contains('+') {
        merged.sha256 = hex(&hasher.finalize());
    }
    Ok(merged)
}

pub fn parse(text: &str, origin: &str) -> Result<Manifest> {
    let raw: RawManifest = toml::from_str(text).map_err(|err| {
        let line = err
            .span()
            .map(|span| format!(" line {}", line_of(text, span.start)))
            .unwrap_or_default();
        Error::failed(format!(
            "manifest {origin}{line} is invalid: {}; fix it (see manifests/README.md for the format)",
            err.message().trim_end_matches('\n')
        ))
    })?;
    let os = Os::parse(&raw.os).ok_or_else(|| {
        Error::failed(format!(
            "manifest {origin}: os = '{}' is unknown; use \"linux\" or \"windows\"",
            raw.os
        ))
    })?;
    let mut seen = HashSet::new();
    let mut items = Vec::new();
    for spanned in raw.items {
        let line = line_of(text, spanned.span().start);
        let at = format!("manifest {origin} line {line}");
        let raw_item = spanned.into_inner();
        items.push(check_item(raw_item, os, &at, &mut seen)?);
    }
    let _ = raw.description;
    for key in &raw.encrypt_to {
        crate::archive::seal::Recipient::parse(key)
            .map_err(|err| Error::failed(format!("manifest {origin}: encrypt_to: {err}")))?;
    }
    Ok(Manifest {
        name: raw.name,
        os,
        sha256: hex(&Sha256::digest(text.as_bytes())),
        items,
        encrypt_to: raw.encrypt_to,
    })
}

fn check_item(raw: RawItem, default_os: Os, at: &str, seen: &mut HashSet<String>) -> Result<Item> {
    let bad = |what: String| Error::failed(format!("{at}: {what}"));
    if raw.id.is_empty()
        || !raw
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        || raw.id.starts_with('.')
    {
        return Err(bad(format!(
            "item id '{}' must be letters, digits, '-', '_' or '.', since it names a file in the bundle",
            raw.id
        )));
    }
    if !seen.insert(raw.id.clone()) {
        return Err(bad(format!(
            "item id '{}' is used twice; each item needs its own id",
            raw.id
        )));
    }
    let os = match &raw.os {
        None => default_os,
        Some(name) => Os::parse(name).ok_or_else(|| {
            bad(format!(
                "item '{}' has os = '{name}'; use \"linux\" or \"windows\"",
                raw.id
            ))
        })?,
    };
    let what = match (raw.files, raw.command) {
        (Some(_), Some(_)) => {
            return Err(bad(format!(
                "item '{}' has both files and command; split it into two items",
                raw.id
            )))
        }
        (None, None) => {
            return Err(bad(format!(
                "item '{}' has neither files nor command; give it one",
                raw.id
            )))
        }
        (Some(paths), None) => {
            if paths.is_empty() || paths.iter().any(|p| p.trim().is_empty()) {
                return Err(bad(format!("item '{}' has an empty path", raw.id)));
            }
            if raw.timeout.is_some() || raw.ok_exit_codes.is_some() {
                return Err(bad(format!(
                    "item '{}' sets timeout or ok_exit_codes, which only commands take",
                    raw.id
                )));
            }
            for pattern in paths.iter().chain(&raw.exclude) {
                let body = pattern.trim_end_matches("/**").trim_end_matches("\\**");
                if body.contains("**") {
                    return Err(bad(format!(
                        "item '{}': '**' may only end a path (\"dir/**\" = everything below dir)",
                        raw.id
                    )));
                }
                glob::Pattern::new(body).map_err(|err| {
                    bad(format!(
                        "item '{}': '{pattern}' is not a valid glob ({err})",
                        raw.id
                    ))
                })?;
            }
            What::Files {
                paths,
                exclude: raw.exclude,
                log: raw.log,
                skip_binary: raw.skip_binary,
            }
        }
        (None, Some(argv)) => {
            if argv.is_empty() || argv[0].trim().is_empty() {
                return Err(bad(format!("item '{}' has an empty command", raw.id)));
            }
            if raw.skip_binary || !raw.exclude.is_empty() {
                return Err(bad(format!(
                    "item '{}' sets skip_binary or exclude, which only files take",
                    raw.id
                )));
            }
            let timeout = match raw.timeout {
                None => None,
                Some(text) => Some(
                    crate::units::parse_duration(&text)
                        .map_err(|err| bad(format!("item '{}': timeout {err}", raw.id)))?,
                ),
            };
            What::Command {
                argv,
                timeout,
                ok_exit_codes: raw.ok_exit_codes.unwrap_or_else(|| vec![0]),
                log: raw.log,
            }
        }
    };
    if !raw.when_running.is_empty() && os != Os::Linux {
        return Err(bad(format!(
            "item '{}': when_running reads Linux's /proc; remove it from this {} item",
            raw.id,
            os.as_str()
        )));
    }
    if let Some(name) = raw
        .when_running
        .iter()
        .find(|n| n.is_empty() || n.contains(['/', '\0']))
    {
        return Err(bad(format!(
            "item '{}': when_running takes process names (like \"firewalld\"), not {name:?}",
            raw.id
        )));
    }
    Ok(Item {
        id: raw.id,
        description: raw.description,
        what,
        os,
        when_exists: raw.when_exists,
        when_running: raw.when_running,
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_manifests_are_valid() {
        for os in [Os::Linux, Os::Windows] {
            let manifest = parse(embedded_text(os), "embedded").unwrap();
            assert_eq!(manifest.os, os);
            assert!(!manifest.items.is_empty());
        }
    }

    #[test]
    fn linux_manifest_collects_what_the_guide_asks_for() {
        let manifest = embedded(Os::Linux);
        let ids: Vec<&str> = manifest.items.iter().map(|i| i.id.as_str()).collect();
        for id in [
            "ifcfg",
            "messages",
            "ip-a",
            "lsmod",
            "iptables-s",
            "bsrsetup-show",
            "drx-conf",
            "drx-logs",
            "proc-drbd",
        ] {
            assert!(ids.contains(&id), "missing item {id}");
        }
    }

    fn error_of(text: &str) -> String {
        parse(text, "m.toml").unwrap_err().to_string()
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = error_of("name = \"x\"\nos = \"linux\"\n[[item]]\nid = \n");
        assert!(err.contains("m.toml line 4"), "{err}");
    }

    #[test]
    fn unknown_fields_are_rejected_with_their_line() {
        let err = error_of(
            "name = \"x\"\nos = \"linux\"\n\n[[item]]\nid = \"a\"\nfiles = [\"/x\"]\ncolour = 1\n",
        );
        assert!(err.contains("line 7"), "{err}");
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn semantic_errors_name_the_item_line() {
        let base = "name = \"x\"\nos = \"linux\"\n";
        let err = error_of(&format!(
            "{base}[[item]]\nid = \"a\"\nfiles = [\"/x\"]\n[[item]]\nid = \"a\"\nfiles = [\"/y\"]\n"
        ));
        assert!(
            err.contains("line 6") && err.contains("used twice"),
            "{err}"
        );
        let err = error_of(&format!(
            "{base}[[item]]\nid = \"a\"\nfiles = [\"/x\"]\ncommand = [\"ls\"]\n"
        ));
        assert!(err.contains("both files and command"), "{err}");
        let err = error_of(&format!("{base}[[item]]\nid = \"a\"\n"));
        assert!(err.contains("neither"), "{err}");
        let err = error_of(&format!(
            "{base}[[item]]\nid = \"../a\"\nfiles = [\"/x\"]\n"
        ));
        assert!(err.contains("must be letters"), "{err}");
        let err = error_of(&format!(
            "{base}[[item]]\nid = \"a\"\ncommand = [\"ls\"]\ntimeout = \"soon\"\n"
        ));
        assert!(err.contains("timeout"), "{err}");
        let err = error_of(&format!(
            "{base}[[item]]\nid = \"a\"\nfiles = [\"/x/**/y\"]\n"
        ));
        assert!(err.contains("'**' may only end"), "{err}");
        let err = error_of("name = \"x\"\nos = \"beos\"\n");
        assert!(err.contains("beos"), "{err}");
        let err = error_of(&format!(
            "{base}[[item]]\nid = \"a\"\ncommand = [\"ls\"]\nwhen_running = [\"/usr/sbin/firewalld\"]\n"
        ));
        assert!(
            err.contains("process names") && err.contains("line 3"),
            "{err}"
        );
        let err = error_of(&format!(
            "{base}[[item]]\nid = \"a\"\ncommand = [\"ls\"]\nos = \"windows\"\nwhen_running = [\"x\"]\n"
        ));
        assert!(err.contains("Linux's /proc"), "{err}");
    }

    #[test]
    fn later_manifests_add_items() {
        let a = parse(
            "name = \"a\"\nos = \"linux\"\n[[item]]\nid = \"x\"\nfiles = [\"/x\"]\n",
            "a",
        )
        .unwrap();
        let b = parse(
            "name = \"b\"\nos = \"linux\"\n[[item]]\nid = \"y\"\ncommand = [\"true\"]\n",
            "b",
        )
        .unwrap();
        let merged = merge(vec![a.clone(), b]).unwrap();
        assert_eq!(merged.items.len(), 2);
        assert_eq!(merged.name, "a+b");
        assert!(merge(vec![a.clone(), a]).is_err());
    }
}
