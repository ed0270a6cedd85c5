//! Hostname heuristics: which names are learned (and from where), which are specific enough to
//! replace anywhere, and the hostname contexts where a common-word name is replaced (see
//! "Hostnames and common words" in the parent module's doc).
use std::collections::{BTreeSet, HashSet};
use std::net::IpAddr;

use regex::bytes::Regex;

use super::table::Tables;
use super::{Obfuscator, Splice};

/// Where hostnames that are common words may be replaced (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameMode {
    /// Files made of hostnames: replace every learned name.
    Anywhere,
    /// Everything else: common-word names only in hostname contexts.
    Context,
}

impl NameMode {
    pub(crate) fn of(bundle_path: &str) -> NameMode {
        let path = bundle_path.replace('\\', "/").to_ascii_lowercase();
        let name = path.rsplit('/').next().unwrap_or("");
        let hosts_file = path.ends_with("etc/hosts")
            || path.ends_with("etc/hostname")
            || path.ends_with("sysconfig/network");
        let hostname_command = path.contains("commands/")
            && (name.starts_with("hostname") || name.starts_with("uname"));
        if hosts_file || hostname_command {
            NameMode::Anywhere
        } else {
            NameMode::Context
        }
    }
}

/// Where a hostname is declared: `on <name> {`, `node-name "<name>"`, `hostname "<name>"`,
/// `HOSTNAME=<name>`, `Running on machine: <name>`, `host <name> address`; the name is the first
/// group that matched.
pub(super) fn learn_pattern() -> Regex {
    Regex::new(concat!(
        r#"(?m-u)\bon[ \t]+([A-Za-z0-9][A-Za-z0-9_.-]*)[ \t]*\{"#,
        r#"|node[-_]name[ \t]+"([^"\r\n]+)""#,
        r#"|\bhostname[ \t]+"([^"\r\n]+)""#,
        r#"|^[ \t]*(?:DHCP_)?HOSTNAME[ \t]*=[ \t]*["']?([A-Za-z0-9][A-Za-z0-9_.-]*)"#,
        r#"|Running on machine:[ \t]*([A-Za-z0-9][A-Za-z0-9_.-]*)"#,
        r#"|\bhost[ \t]+([A-Za-z0-9][A-Za-z0-9_.-]*)[ \t]+address\b"#,
    ))
    .expect("valid built-in pattern")
}

/// Names that are never learned: they identify nobody.
const LOCAL_NAMES: [&str; 12] = [
    "localhost",
    "localhost4",
    "localhost6",
    "localdomain",
    "localdomain4",
    "localdomain6",
    "ip6-localhost",
    "ip6-loopback",
    "ip6-allnodes",
    "ip6-allrouters",
    "ip6-localnet",
    "ip6-mcastprefix",
];
/// Domains too generic to hide (and too common as words to replace).
const GENERIC_DOMAINS: [&str; 10] = [
    "localdomain",
    "localdomain4",
    "localdomain6",
    "local",
    "lan",
    "home",
    "internal",
    "intranet",
    "localhost",
    "example",
];
/// Letters-only names that are ordinary words in our logs and documents.
const COMMON_WORDS: [&str; 58] = [
    "primary",
    "secondary",
    "master",
    "slave",
    "server",
    "client",
    "backup",
    "standby",
    "active",
    "passive",
    "source",
    "target",
    "local",
    "remote",
    "cluster",
    "default",
    "storage",
    "linux",
    "windows",
    "centos",
    "ubuntu",
    "debian",
    "redhat",
    "database",
    "proxy",
    "gateway",
    "router",
    "firewall",
    "network",
    "system",
    "kernel",
    "resource",
    "device",
    "volume",
    "connection",
    "error",
    "warning",
    "alpha",
    "bravo",
    "delta",
    "gamma",
    "sigma",
    "omega",
    "first",
    "second",
    "third",
    "north",
    "south",
    "admin",
    "manager",
    "service",
    "machine",
    "nodes",
    "peers",
    "replica",
    "mirror",
    "disaster",
    "recovery",
];
/// Prefixes of device and interface names: `drbd1`, `sda1`, `eth0`, `bond0`.
const DEVICE_PREFIXES: [&str; 22] = [
    "drbd", "bsr", "sd", "hd", "vd", "xvd", "nvme", "eth", "ens", "enp", "eno", "em", "bond", "br",
    "lo", "dm", "md", "loop", "sr", "tty", "cpu", "vol",
];

/// Whether a short name is specific enough to be replaced wherever it occurs as a word.
pub(crate) fn is_specific_label(label: &str) -> bool {
    if DEVICE_PREFIXES.iter().any(|p| {
        label.len() > p.len()
            && label.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            && device_suffix(&label.as_bytes()[p.len()..])
    }) {
        return false;
    }
    let marked = label
        .bytes()
        .any(|b| b.is_ascii_digit() || b == b'-' || b == b'_');
    if marked {
        return label.len() >= 3;
    }
    label.len() >= 5 && !COMMON_WORDS.contains(&label)
}

/// What follows a device prefix: an optional letter and dash, then a digit and a few more
/// (`a1` of sda1, `0s3` of enp0s3, `-0` of dm-0, `0n1` of nvme0n1).
fn device_suffix(rest: &[u8]) -> bool {
    let mut at = 0;
    if rest.get(at).is_some_and(u8::is_ascii_alphabetic) {
        at += 1;
    }
    if rest.get(at) == Some(&b'-') {
        at += 1;
    }
    rest.get(at).is_some_and(u8::is_ascii_digit)
        && rest.len() - at <= 6
        && rest[at..].iter().all(u8::is_ascii_alphanumeric)
}

fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 253
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes.iter().any(u8::is_ascii_alphabetic)
        && !name.contains("..")
        && name.parse::<IpAddr>().is_err()
}

pub(super) struct NameMatchers {
    /// Specific names (and FQDNs, multi-label domains): replaced anywhere.
    specific: Option<Regex>,
    /// Specific and common-word names: for hostname files.
    all: Option<Regex>,
    /// Common-word names as words: a quick test before the context search.
    common_any: Option<Regex>,
    /// Common-word names in a hostname context: group 1 = context, group 2 = name.
    common_context: Option<Regex>,
    pub(super) common: HashSet<String>,
}

fn alternation(names: &[String]) -> Option<String> {
    if names.is_empty() {
        return None;
    }
    let escaped: Vec<String> = names.iter().map(|n| regex::escape(n)).collect();
    Some(escaped.join("|"))
}

fn words_regex(names: &[String]) -> Option<Regex> {
    let alternatives = alternation(names)?;
    Regex::new(&format!(r"(?i-u)\b(?:{alternatives})\b")).ok()
}

impl NameMatchers {
    pub(super) fn build(learned: &BTreeSet<String>, tables: &Tables) -> NameMatchers {
        let mut specific = BTreeSet::new();
        let mut common = BTreeSet::new();
        for name in learned {
            let (short, domain) = match name.split_once('.') {
                Some((short, domain)) => (short, Some(domain)),
                None => (name.as_str(), None),
            };
            if LOCAL_NAMES.contains(&short) || !tables.hosts.forward.contains_key(short) {
                continue;
            }
            if let Some(domain) = domain {
                specific.insert(name.clone());
                if domain.contains('.') && tables.domains.forward.contains_key(domain) {
                    specific.insert(domain.to_string());
                }
            }
            if is_specific_label(short) {
                specific.insert(short.to_string());
            } else {
                common.insert(short.to_string());
            }
        }
        // Longest first: at one position the FQDN wins over its short name.
        let by_length = |set: &BTreeSet<String>| {
            let mut names: Vec<String> = set.iter().cloned().collect();
            names.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
            names
        };
        let specific_names = by_length(&specific);
        let common_names = by_length(&common);
        let mut all_names: Vec<String> = specific_names
            .iter()
            .chain(common_names.iter())
            .cloned()
            .collect();
        all_names.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        let common_context = alternation(&common_names).and_then(|alternatives| {
            Regex::new(&format!(
                concat!(
                    r#"(?i-u)(\bon[ \t]+|\bhost[ \t]+|hostname"?[ \t]*[=:]?[ \t]*"?"#,
                    r#"|node[-_]name[ \t]+"|\bmachine:[ \t]*|@|drx-collect-)"#,
                    r"({})\b"
                ),
                alternatives
            ))
            .ok()
        });
        NameMatchers {
            specific: words_regex(&specific_names),
            all: words_regex(&all_names),
            common_any: words_regex(&common_names),
            common_context,
            common: common.into_iter().collect(),
        }
    }
}

impl Obfuscator {
    /// Learns one hostname (short or FQDN); hands out its pseudonyms now, so that names learned
    /// first (this host) get the first numbers.
    pub(crate) fn learn_name(&mut self, raw: &str) {
        let name = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        if !valid_name(&name) {
            return;
        }
        let (short, domain) = match name.split_once('.') {
            Some((short, domain)) => (short, Some(domain)),
            None => (name.as_str(), None),
        };
        if LOCAL_NAMES.contains(&short) || LOCAL_NAMES.contains(&name.as_str()) {
            return;
        }
        // Our own pseudonyms (from a map file or re-obfuscated text) are not names to hide.
        if self.tables.hosts.issued.contains(short)
            || self.tables.domains.issued.contains(name.as_str())
        {
            return;
        }
        self.tables.issue_host(short);
        if let Some(domain) = domain {
            if !GENERIC_DOMAINS.contains(&domain) {
                self.tables.issue_domain(domain);
            }
        }
        if self.learned.insert(name.clone()) {
            self.matchers_stale = true;
        }
    }

    /// Learns names from a small file read before streaming (see `Privacy::learn`).
    pub(crate) fn learn_content(&mut self, bundle_path: &str, content: &[u8]) {
        let path = bundle_path.replace('\\', "/").to_ascii_lowercase();
        let text = String::from_utf8_lossy(content);
        let mut names: Vec<String> = Vec::new();
        let uncommented = |line: &str| line.split('#').next().unwrap_or("").trim().to_string();
        if path.ends_with("etc/hostname") {
            if let Some(first) = text.lines().map(uncommented).find(|l| !l.is_empty()) {
                names.extend(first.split_whitespace().next().map(str::to_string));
            }
        }
        if path.ends_with("etc/hosts") {
            for line in text.lines().map(uncommented) {
                let mut fields = line.split_whitespace();
                if fields.next().is_some_and(|f| f.parse::<IpAddr>().is_ok()) {
                    names.extend(fields.map(str::to_string));
                }
            }
        }
        for captures in self.learn.captures_iter(content) {
            let found = captures.iter().skip(1).flatten().next();
            if let Some(found) = found {
                names.push(String::from_utf8_lossy(found.as_bytes()).into_owned());
            }
        }
        for name in names {
            self.learn_name(&name);
        }
    }

    pub(super) fn prepare(&mut self) {
        if self.matchers_stale || self.matchers.is_none() {
            self.matchers = Some(NameMatchers::build(&self.learned, &self.tables));
            self.matchers_stale = false;
        }
    }

    /// An explicit hostname (e.g. the host's own name for the bundle file name): its pseudonym,
    /// learning it if needed.
    pub(crate) fn hostname_pseudonym(&mut self, name: &str) -> String {
        self.learn_name(name);
        let lower = name.trim().trim_end_matches('.').to_ascii_lowercase();
        match self.tables.name_pseudonym(&lower) {
            Some(pseudonym) => {
                if is_specific_label(lower.split('.').next().unwrap_or("")) || lower.contains('.') {
                    self.tables
                        .seen_names
                        .insert(lower.clone(), pseudonym.clone());
                }
                pseudonym
            }
            // Never hand back an unmapped real name: only local names (`localhost`) stay.
            None if LOCAL_NAMES.contains(&lower.as_str()) => name.to_string(),
            None => String::from("host-0"),
        }
    }
}

pub(super) fn replace_names(
    matchers: &NameMatchers,
    tables: &mut Tables,
    mode: NameMode,
    input: &[u8],
    out: &mut Vec<u8>,
) -> bool {
    let regex = match mode {
        NameMode::Anywhere => matchers.all.as_ref(),
        NameMode::Context => matchers.specific.as_ref(),
    };
    let Some(regex) = regex else {
        return false;
    };
    let mut splice = Splice::new(input, out);
    for hit in regex.find_iter(input) {
        let lower = String::from_utf8_lossy(hit.as_bytes()).to_ascii_lowercase();
        let Some(pseudonym) = tables.name_pseudonym(&lower) else {
            continue;
        };
        splice
            .replace(hit.start(), hit.end())
            .extend_from_slice(pseudonym.as_bytes());
        if !matchers.common.contains(&lower) {
            tables.seen_names.insert(lower, pseudonym);
        }
    }
    splice.finish()
}

pub(super) fn replace_common_names(
    matchers: &NameMatchers,
    tables: &Tables,
    input: &[u8],
    out: &mut Vec<u8>,
) -> bool {
    let (Some(any), Some(context)) = (&matchers.common_any, &matchers.common_context) else {
        return false;
    };
    if !any.is_match(input) {
        return false;
    }
    let trimmed = input.trim_ascii();
    let whole = String::from_utf8_lossy(trimmed).to_ascii_lowercase();
    let mut splice = Splice::new(input, out);
    if matchers.common.contains(&whole) {
        if let Some(pseudonym) = tables.name_pseudonym(&whole) {
            let start = input.len() - input.trim_ascii_start().len();
            splice
                .replace(start, start + trimmed.len())
                .extend_from_slice(pseudonym.as_bytes());
            return splice.finish();
        }
    }
    for captures in context.captures_iter(input) {
        let (Some(prefix), Some(name)) = (captures.get(1), captures.get(2)) else {
            continue;
        };
        let prefix = prefix.as_bytes();
        if prefix.len() >= 2 && prefix[..2].eq_ignore_ascii_case(b"on") {
            // `on <name> {` only: "on node" in prose stays.
            let mut at = name.end();
            while at < input.len() && matches!(input[at], b' ' | b'\t') {
                at += 1;
            }
            if input.get(at) != Some(&b'{') {
                continue;
            }
        }
        let lower = String::from_utf8_lossy(name.as_bytes()).to_ascii_lowercase();
        let Some(pseudonym) = tables.name_pseudonym(&lower) else {
            continue;
        };
        splice
            .replace(name.start(), name.end())
            .extend_from_slice(pseudonym.as_bytes());
    }
    splice.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specific_labels() {
        for name in [
            "node1",
            "db-a",
            "alpha-node1",
            "seoul",
            "web_01",
            "bristol1",
            "email01",
        ] {
            assert!(is_specific_label(name), "{name}");
        }
        for name in [
            "node", "primary", "drbd1", "sda1", "eth0", "bond0", "enp0s3", "r0", "db",
        ] {
            assert!(!is_specific_label(name), "{name}");
        }
    }
}
