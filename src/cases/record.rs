//! What the database keeps of one bundle: its identity, its facts and its findings, taken from
//! `inspect`'s single verify-and-scan pass.
use crate::index::Finding;
use crate::inspect::{Inspected, Rules, Visit};
use serde::{Deserialize, Serialize};
use std::io::{self, Read};

/// Files read besides what the rules keep: BSR's own version outputs.
const CAPTURE: &[&str] = &["commands/bsradm-version.txt", "files/proc/bsr"];

/// The most of one captured file kept.
const CAPTURE_CAP: u64 = 1 << 20;

/// Keeps the first bytes of the [`CAPTURE`] files while the rules read them, in `inspect`'s
/// single pass: (path in the bundle, its first bytes).
#[derive(Default)]
pub struct Capture(pub Vec<(String, Vec<u8>)>);

impl Visit for Capture {
    fn file(&mut self, name: &str, content: &mut dyn Read, rules: &mut Rules) -> io::Result<()> {
        if !CAPTURE.contains(&name) {
            return rules.read(content);
        }
        let mut kept = Vec::new();
        content.take(CAPTURE_CAP).read_to_end(&mut kept)?;
        let result = rules.read(&mut (&kept[..]).chain(content));
        if !kept.is_empty() {
            self.0.push((name.to_string(), kept));
        }
        result
    }
}

/// Versions of the replication stack, as the bundle shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versions {
    /// The DRBD kernel module (`/proc/drbd`, `drbdadm -V`, `modinfo`, packages, kernel log).
    pub drbd: Option<String>,
    pub drbd_utils: Option<String>,
    /// The BSR driver (`/proc/bsr`).
    pub bsr: Option<String>,
    /// `bsradm -V`'s `BSRADM_VERSION`.
    pub bsr_utils: Option<String>,
    pub drx: Option<String>,
}

/// The components `--version` and `stats` know, with their columns.
pub const COMPONENTS: &[(&str, &str)] = &[
    ("drbd", "drbd"),
    ("drbd-utils", "drbd_utils"),
    ("bsr", "bsr"),
    ("bsr-utils", "bsr_utils"),
    ("drx", "drx"),
];

impl Versions {
    pub fn get(&self, component: &str) -> Option<&str> {
        match component {
            "drbd" => self.drbd.as_deref(),
            "drbd-utils" => self.drbd_utils.as_deref(),
            "bsr" => self.bsr.as_deref(),
            "bsr-utils" => self.bsr_utils.as_deref(),
            "drx" => self.drx.as_deref(),
            _ => None,
        }
    }
}

/// The leading `N(.N)*` of a version text (after an optional `v`), as the rules read versions:
/// `8.4.12-1` → 8.4.12. None when there is no number.
pub fn version_text(text: &str) -> Option<String> {
    let text = text.trim();
    let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let numeric = text[..end].trim_end_matches('.');
    let valid = !numeric.is_empty()
        && numeric
            .split('.')
            .all(|p| !p.is_empty() && p.parse::<u64>().is_ok());
    valid.then(|| numeric.to_string())
}

/// A version's sort key: four numeric parts, zero-padded, so text order is version order and
/// missing parts count as 0 (8.4 = 8.4.0), as the rules compare. Parts beyond four are ignored.
pub fn version_key(version: &str) -> Option<String> {
    let numeric = version_text(version)?;
    let mut parts: Vec<u64> = numeric.split('.').filter_map(|p| p.parse().ok()).collect();
    parts.resize(parts.len().max(4), 0);
    Some(
        parts
            .iter()
            .take(4)
            .map(|p| format!("{:010}", p.min(&9_999_999_999)))
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// The most bytes kept of a name the database indexes (host, case id, resource; also the other
/// identity fields): PostgreSQL refuses a B-tree index entry above about 2.7 kB, which would
/// abort the import, and no real host or resource name comes near it.
pub const MAX_NAME_BYTES: usize = 1024;

/// The most bytes kept of a free text (label, a finding's title, path or detail).
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// `text` as both engines store it alike: a NUL (which PostgreSQL text cannot hold, while
/// SQLite can) becomes U+FFFD, and a text above `max` bytes is cut at a character boundary and
/// ends in `…`. A bundle is untrusted input: what it says must never abort an import on one
/// engine and pass on the other, and the same bundle gives the same answers on both.
pub fn storable(text: &str, max: usize) -> String {
    let mut out: String = text.replace('\0', "\u{fffd}");
    if out.len() > max {
        let mut end = max.saturating_sub('…'.len_utf8());
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push('…');
    }
    out
}

fn name(text: &str) -> String {
    storable(text, MAX_NAME_BYTES)
}

fn free_text(text: &str) -> String {
    storable(text, MAX_TEXT_BYTES)
}

/// One bundle, ready to store.
#[derive(Debug, Clone)]
pub struct Record {
    pub sha256: String,
    pub file_name: String,
    pub host: String,
    pub case_id: Option<String>,
    pub label: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub tool_name: String,
    pub tool_version: String,
    pub size_bytes: u64,
    pub files: u64,
    pub os: String,
    pub os_release: String,
    pub kernel: String,
    pub versions: Versions,
    pub resources: Vec<String>,
    pub findings: Vec<Finding>,
}

/// RFC 3339 in UTC with whole seconds (`2026-11-24T10:00:00Z`): one form sorts as time in both
/// engines. A time that does not parse is left out rather than stored unsortable.
pub fn utc_text(text: Option<&str>) -> Option<String> {
    let time = chrono::DateTime::parse_from_rfc3339(text?.trim()).ok()?;
    Some(
        time.with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
    )
}

fn bsr_kernel(proc_bsr: &str) -> Option<String> {
    // `BSR:<version> GIT-hash: ...`; the build tag is empty in unstamped builds (FACTS §1.5).
    proc_bsr.lines().find_map(|line| {
        let rest = line.trim_start().strip_prefix("BSR:")?;
        version_text(rest)
    })
}

fn bsradm_utils(text: &str) -> Option<String> {
    // Only BSRADM_VERSION: `BSR_KERNEL_VERSION` prints the utilities' version too (FACTS §1.2).
    text.lines().find_map(|line| {
        let (key, value) = line.trim().split_once('=')?;
        if key.trim() == "BSRADM_VERSION" {
            version_text(value.trim().trim_matches('"'))
        } else {
            None
        }
    })
}

impl Record {
    /// The record of an intact bundle; `findings` are `inspect`'s for it alone.
    pub fn new(
        sha256: String,
        inspected: &Inspected,
        findings: Vec<Finding>,
        captured: &[(String, Vec<u8>)],
    ) -> Record {
        let index = inspected.index().cloned().unwrap_or_default();
        let evidence = &inspected.evidence;
        let captured_text = |name: &str| {
            captured
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
        };
        let host = if evidence.host.hostname.trim().is_empty() {
            inspected.node.clone()
        } else {
            evidence.host.hostname.trim().to_string()
        };
        let resources: Vec<String> = evidence
            .resources
            .iter()
            .map(|r| r.resource.name.clone())
            .chain(evidence.loaded.iter().map(|r| r.name.clone()))
            .filter(|n| !n.is_empty())
            .collect();
        let versions = Versions {
            drbd: evidence
                .drbd_kernel
                .as_ref()
                .map(|v| v.value.as_str().to_string()),
            drbd_utils: evidence
                .drbd_utils
                .as_ref()
                .map(|v| v.value.as_str().to_string()),
            bsr: captured_text("files/proc/bsr")
                .as_deref()
                .and_then(bsr_kernel),
            bsr_utils: captured_text("commands/bsradm-version.txt")
                .as_deref()
                .and_then(bsradm_utils),
            drx: evidence.drx_version().map(str::to_string),
        };
        let findings = findings
            .into_iter()
            .map(|f| Finding {
                rule: name(&f.rule),
                title: free_text(&f.title),
                path: f.path.as_deref().map(free_text),
                detail: f.detail.as_deref().map(free_text),
                excerpt: f.excerpt.as_deref().map(free_text),
                ..f
            })
            .collect();
        let versions = Versions {
            drbd: versions.drbd.as_deref().map(name),
            drbd_utils: versions.drbd_utils.as_deref().map(name),
            bsr: versions.bsr.as_deref().map(name),
            bsr_utils: versions.bsr_utils.as_deref().map(name),
            drx: versions.drx.as_deref().map(name),
        };
        let mut resources: Vec<String> = resources.iter().map(|r| name(r)).collect();
        // Sorted and unique after the cut too: the resource table keys on (bundle, name).
        resources.sort();
        resources.dedup();
        Record {
            sha256,
            file_name: name(
                &inspected
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            host: name(&host),
            case_id: index.case_id.as_deref().filter(|c| !c.is_empty()).map(name),
            label: index
                .label
                .as_deref()
                .filter(|c| !c.is_empty())
                .map(free_text),
            started_at: utc_text(index.started_at.as_deref()),
            finished_at: utc_text(index.finished_at.as_deref()),
            tool_name: name(&index.tool.name),
            tool_version: name(&index.tool.version),
            size_bytes: inspected.size,
            files: inspected.verification.files,
            os: name(&index.host.os),
            os_release: name(&index.host.os_release),
            kernel: name(&index.host.kernel),
            versions,
            resources,
            findings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_keys_sort_as_versions() {
        let key = |t: &str| version_key(t).unwrap();
        assert!(key("8.4.10") > key("8.4.9"));
        assert!(key("9.0") > key("8.4.11"));
        assert_eq!(key("8.4"), key("8.4.0"));
        assert!(key("1.6.1") < key("1.10"));
        assert_eq!(key("v8.4.12-1"), key("8.4.12"));
        assert_eq!(version_key("eight"), None);
    }

    #[test]
    fn bsr_versions() {
        assert_eq!(
            bsr_kernel(
                "BSR:1.6.3 GIT-hash: abc build by root@b, 2024-01-01\n(api:2/proto:86-117)\n"
            ),
            Some("1.6.3".into())
        );
        assert_eq!(bsr_kernel("BSR: GIT-hash: abc\n"), None);
        let adm = "BSRADM_BUILDTAG=GIT-hash:\\ x\nBSRADM_API_VERSION=2\nBSR_KERNEL_VERSION_CODE=0x00000000\nBSR_KERNEL_VERSION=1.6.2\nBSRADM_VERSION_CODE=0x010602\nBSRADM_VERSION=1.6.2\n";
        assert_eq!(bsradm_utils(adm), Some("1.6.2".into()));
    }

    #[test]
    fn what_one_engine_cannot_store_is_stored_alike_on_both() {
        assert_eq!(storable("node\0one", 100), "node\u{fffd}one");
        assert_eq!(storable("plain", 100), "plain");
        // Cut at a character boundary, within the bound, with a visible mark.
        let long = "노드".repeat(1000);
        let cut = storable(&long, MAX_NAME_BYTES);
        assert!(cut.len() <= MAX_NAME_BYTES, "{}", cut.len());
        assert!(cut.ends_with('…') && long.starts_with(cut.trim_end_matches('…')));
        for max in 0..12 {
            assert!(storable("ab\0cdéfg", max).len() <= max.max('…'.len_utf8()));
        }
    }

    #[test]
    fn times_are_normalised_to_utc() {
        assert_eq!(
            utc_text(Some("2026-11-24T19:00:00+09:00")).as_deref(),
            Some("2026-11-24T10:00:00Z")
        );
        assert_eq!(utc_text(Some("yesterday")), None);
    }
}
