//! Consistent pseudonyms for IP addresses, MAC addresses and hostnames (`--obfuscate`).
//!
//! # Scheme
//! Pseudonyms are handed out in the order originals are first met (learned names first), from
//! ranges that real networks do not use, so a pseudonym never reads as somebody's real address:
//!
//! - **IPv4**: the /24 network of an address gets the next network of `240.0.0.0/4` (reserved,
//!   "class E"): the first is `240.0.1.0/24`, then `240.0.2.0/24`, ... ; the host octet and any
//!   `:port` stay. So all hosts of one /24 stay in one /24 and keep their order. Relations across
//!   /24 boundaries (a /23 or /16 spanning several /24s) are *not* kept. After ~983,000 networks
//!   every further one collapses into `192.0.2.0/24` (TEST-NET-1).
//! - **IPv6**: the /64 prefix gets the next prefix of `2001:db8::/32` (documentation range):
//!   `2001:db8:0:1::/64`, ... Link-local `fe80::/10` prefixes stay. An interface identifier below
//!   `0x10000` (`::1`, `::a`: hand-assigned) stays; any other (SLAAC identifiers embed the MAC) gets
//!   the next of `ffff:0:0:1`, `ffff:0:0:2`, ... An IPv4-mapped `::ffff:a.b.c.d` maps its IPv4 part.
//! - **MAC**: the vendor part (first 3 octets, useful: it tells VMware from Intel) stays; the rest
//!   becomes `fe:00:01`, `fe:00:02`, ... Separator (`:` or `-`) and letter case follow the input.
//! - **Hostnames**: a short name becomes `host-1`, `host-2`, ...; a domain `domain-1.example`
//!   (`.example` is reserved, RFC 2606), so `node1.corp.example.com` becomes
//!   `host-1.domain-1.example`.
//!
//! Kept as they are: loopback (`127.0.0.0/8`, `::1`), unspecified (`0.0.0.0`, `::`), netmasks
//! (any contiguous mask such as `255.255.255.0`, including `255.255.255.255`), IPv4 multicast
//! (`224.0.0.0/4`, names protocols such as VRRP), IPv6 multicast (`ff00::/8`), MACs
//! `00:00:00:00:00:00` and `ff:ff:ff:ff:ff:ff`, prefix lengths (`/24`) and ports. A value that is
//! already one of our pseudonyms stays, so obfuscating twice changes nothing.
//!
//! A pseudonym is never one of the originals seen: allocation skips those. (An original met
//! *later* that equals a pseudonym already handed out is taken for the pseudonym and left alone;
//! the ranges above make that practically impossible.)
//!
//! # Version numbers
//! A four-part dotted number is not obfuscated when it reads as a version: after `v`
//! (`v1.7.8.1`), after `name-`/`name_` (`bsr-1.7.8.1`, `drbd-utils-9.1.2.3`), after an epoch
//! (` 1:1.2.3.4`), after the word `version`, `ver`, `release`, `build`, `firmware`, `kernel`, `rev`
//! (also as the last part of `BSR_KERNEL_VERSION=`, or after padding as in `modinfo`), followed by
//! `-release`, `_x`, `+`, `~`, `.el7`-like parts or a suffix such as `el7`/`rc1`, or followed by
//! ` (api:` / ` GIT-hash` (BSR and DRBD version banners); and in package lists and version outputs
//! (`rpm -qa`, `dpkg -l`, `modinfo`, `*-version` commands) always. An address glued to another
//! word (`inet10.0.0.1`, `10.0.0.1eth0`) or at either end of a range (`10.0.0.1-10.0.0.9`) is an
//! address. Runs of six or more dotted numbers (SNMP OIDs) are left alone; five parts are read as
//! `address.port` (tcpdump style). The leak check uses the same lexer (`ipv4_hits`, `mac_hits`,
//! `ipv6_hits`), so it never flags what was rightly left alone.
//!
//! IPv4 written with dashes inside a hostname (`dhcp-192-168-0-66`, `ip-10-0-0-1`) is obfuscated
//! in the same form when the dashes follow a letter-and-dash prefix.
//!
//! # Hostnames and common words
//! Only learned names are replaced, as whole words (ASCII letters, digits and `_` form a word), case-
//! insensitively. A short name is *specific* when it has at least 3 characters and contains a digit,
//! `-` or `_` (`node1`, `db-a`), or is made of 5+ letters and is not a common word. Device-like
//! names (`drbd1`, `sda1`, `eth0`, `bond0`, ...) are not specific: a host named `drbd1` must not
//! turn `/dev/drbd1` into `/dev/host-1`. Specific names and FQDNs are replaced everywhere. Other
//! names (`node`, `primary`) are replaced only in hostname contexts: `on <name> {`, `host <name>`,
//! `hostname <name>` / `HOSTNAME=<name>`, `node-name "<name>"`, `_peer_node_name "<name>"`,
//! `Running on machine: <name>`, `user@<name>`, `drx-collect-<name>`, a line that is only the
//! name, and anywhere in `/etc/hosts`, `/etc/hostname`, `/etc/sysconfig/network` and `hostname` /
//! `uname` command output. They are not part of the leak scan, since the word may rightly remain
//! in prose.
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::Hash;
use std::io::Write;
use std::net::{IpAddr, Ipv6Addr};

use regex::bytes::Regex;
use serde::{Deserialize, Serialize};

pub(crate) const MAP_SCHEMA: &str = "drx-collect/privacy-map/v1";

/// The map file (`--map-file`): original → pseudonym, JSON. Loaded at start so that a later run
/// reuses the same pseudonyms and extends the map.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct MapFile {
    pub schema: String,
    #[serde(default)]
    pub note: String,
    /// `"192.168.0.0/24": "240.0.1.0/24"`
    #[serde(default)]
    pub ipv4_networks: BTreeMap<String, String>,
    /// `"2001:db8:aa:bb::/64": "2001:db8:0:1::/64"`
    #[serde(default)]
    pub ipv6_prefixes: BTreeMap<String, String>,
    /// Interface identifiers, 4 groups: `"0211:22ff:fe33:4455": "ffff:0000:0000:0001"`
    #[serde(default)]
    pub ipv6_interface_ids: BTreeMap<String, String>,
    /// `"00:11:22:33:44:55": "00:11:22:fe:00:01"`
    #[serde(default)]
    pub macs: BTreeMap<String, String>,
    /// Short hostnames, lower case: `"node1": "host-1"`
    #[serde(default)]
    pub hosts: BTreeMap<String, String>,
    /// `"corp.example.com": "domain-1.example"`
    #[serde(default)]
    pub domains: BTreeMap<String, String>,
    /// Every name learned (lower case), so a later run replaces them even if it learns fewer.
    #[serde(default)]
    pub learned_names: BTreeSet<String>,
}

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

/// One kind of pseudonym: originals → pseudonyms, the pseudonyms handed out, and a counter.
struct Table<T> {
    forward: HashMap<T, T>,
    issued: HashSet<T>,
    next: u64,
}

impl<T: Hash + Eq + Clone> Table<T> {
    fn new() -> Self {
        Table {
            forward: HashMap::new(),
            issued: HashSet::new(),
            next: 0,
        }
    }

    /// The pseudonym of `original`, handing out the next one if needed. `make(n)` builds the n-th
    /// pseudonym (n ≥ 1), `None` when the range is exhausted, then `overflow` is used.
    fn lookup(&mut self, original: &T, make: impl Fn(u64) -> Option<T>, overflow: T) -> T {
        if let Some(pseudonym) = self.forward.get(original) {
            return pseudonym.clone();
        }
        loop {
            self.next += 1;
            let Some(candidate) = make(self.next) else {
                return overflow;
            };
            if &candidate == original
                || self.forward.contains_key(&candidate)
                || self.issued.contains(&candidate)
            {
                continue;
            }
            self.issued.insert(candidate.clone());
            self.forward.insert(original.clone(), candidate.clone());
            return candidate;
        }
    }

    fn insert_loaded(&mut self, original: T, pseudonym: T, index: Option<u64>) {
        if let Some(index) = index {
            self.next = self.next.max(index);
        }
        self.issued.insert(pseudonym.clone());
        self.forward.insert(original, pseudonym);
    }
}

const IPV4_PSEUDO_NETWORKS: u64 = 15 << 16;
const IPV4_OVERFLOW_NETWORK: u32 = (192 << 16) | 2; // 192.0.2.0/24
const IPV6_PSEUDO_PREFIX: u64 = 0x2001_0db8_0000_0000;
const IPV6_PSEUDO_IID: u64 = 0xffff_0000_0000_0000;
const MAC_PSEUDO_BASE: u64 = 0xfe_0000;

fn ipv4_network_pseudonym(n: u64) -> Option<u32> {
    (n < IPV4_PSEUDO_NETWORKS).then(|| (((240 + (n >> 16)) << 16) | (n & 0xffff)) as u32)
}

fn ipv4_network_index(network: u32) -> Option<u64> {
    let first = u64::from(network >> 16);
    (240..255)
        .contains(&first)
        .then(|| ((first - 240) << 16) | u64::from(network & 0xffff))
}

/// Pseudonym tables, and the originals actually replaced (for the leak scan).
pub(crate) struct Tables {
    v4: Table<u32>,
    v6_prefix: Table<u64>,
    v6_iid: Table<u64>,
    mac: Table<u64>,
    hosts: Table<String>,
    domains: Table<String>,
    pub seen_v4: HashMap<u32, u32>,
    pub seen_v6: HashMap<u128, u128>,
    pub seen_mac: HashMap<u64, u64>,
    /// Lower-case original name → pseudonym, specific names only.
    pub seen_names: BTreeMap<String, String>,
}

fn keep_ipv4(addr: u32) -> bool {
    let inverted = !addr;
    let contiguous_mask = inverted & inverted.wrapping_add(1) == 0;
    let first = addr >> 24;
    contiguous_mask || first == 127 || (224..240).contains(&first)
}

impl Tables {
    fn new() -> Tables {
        Tables {
            v4: Table::new(),
            v6_prefix: Table::new(),
            v6_iid: Table::new(),
            mac: Table::new(),
            hosts: Table::new(),
            domains: Table::new(),
            seen_v4: HashMap::new(),
            seen_v6: HashMap::new(),
            seen_mac: HashMap::new(),
            seen_names: BTreeMap::new(),
        }
    }

    /// The pseudonym of an IPv4 address, `None` when it stays.
    pub(crate) fn map_v4(&mut self, addr: u32) -> Option<u32> {
        if keep_ipv4(addr) || self.v4.issued.contains(&(addr >> 8)) {
            return None;
        }
        let network = self
            .v4
            .lookup(&(addr >> 8), ipv4_network_pseudonym, IPV4_OVERFLOW_NETWORK);
        let pseudonym = (network << 8) | (addr & 0xff);
        if pseudonym == addr {
            return None;
        }
        self.seen_v4.insert(addr, pseudonym);
        Some(pseudonym)
    }

    /// The pseudonym of an IPv6 address, `None` when it stays.
    pub(crate) fn map_v6(&mut self, addr: u128) -> Option<u128> {
        if addr <= 1 || addr >> 120 == 0xff {
            return None;
        }
        if addr >> 32 == 0xffff {
            let mapped = self.map_v4(addr as u32)?;
            return Some((0xffff << 32) | u128::from(mapped));
        }
        let prefix = (addr >> 64) as u64;
        let iid = addr as u64;
        if self.v6_prefix.issued.contains(&prefix) {
            return None;
        }
        let link_local = prefix >> 54 == 0xfe80 >> 6;
        let new_prefix = if link_local {
            prefix
        } else {
            self.v6_prefix.lookup(
                &prefix,
                |n| (n <= u64::from(u32::MAX)).then_some(IPV6_PSEUDO_PREFIX | n),
                IPV6_PSEUDO_PREFIX,
            )
        };
        let new_iid = if iid < 0x10000 || self.v6_iid.issued.contains(&iid) {
            iid
        } else {
            self.v6_iid.lookup(
                &iid,
                |n| (n < 1 << 48).then_some(IPV6_PSEUDO_IID | n),
                IPV6_PSEUDO_IID,
            )
        };
        let pseudonym = (u128::from(new_prefix) << 64) | u128::from(new_iid);
        if pseudonym == addr {
            return None;
        }
        self.seen_v6.insert(addr, pseudonym);
        Some(pseudonym)
    }

    /// The pseudonym of a MAC address (48 bits), `None` when it stays.
    pub(crate) fn map_mac(&mut self, mac: u64) -> Option<u64> {
        if mac == 0 || mac == 0xffff_ffff_ffff || self.mac.issued.contains(&mac) {
            return None;
        }
        let vendor = mac & 0xffff_ff00_0000;
        let pseudonym = self.mac.lookup(
            &mac,
            |n| (n < 0x2_0000).then_some(vendor | (MAC_PSEUDO_BASE + n)),
            vendor | 0xff_ffff,
        );
        self.seen_mac.insert(mac, pseudonym);
        Some(pseudonym)
    }

    /// The pseudonym of a learned name (lower case): a domain, a short name, or short.domain.
    fn name_pseudonym(&self, name: &str) -> Option<String> {
        if let Some(domain) = self.domains.forward.get(name) {
            return Some(domain.clone());
        }
        let (short, domain) = match name.split_once('.') {
            Some((short, domain)) => (short, Some(domain)),
            None => (name, None),
        };
        let host = self.hosts.forward.get(short)?;
        Some(match domain {
            None => host.clone(),
            Some(domain) => {
                let domain = self
                    .domains
                    .forward
                    .get(domain)
                    .map(String::as_str)
                    .unwrap_or(domain);
                format!("{host}.{domain}")
            }
        })
    }
}

/// The regular expressions that find candidates; shared with the leak checker. What a candidate
/// must look like around it to count (`ipv4_hits`, `mac_hits`, `ipv6_hits`) is decided in one place
/// for both, so the check never flags what obfuscation rightly left alone, nor the reverse.
#[derive(Clone)]
pub(crate) struct Detectors {
    /// Dotted or dashed runs of numbers: `10.0.0.1`, `192-168-0-66`.
    pub ipv4: Regex,
    /// Runs of hex digits, colons and dots with at least two colons.
    pub ipv6: Regex,
    /// `52:54:00:12:34:56`, `52-54-00-12-34-56`, Cisco `5254.0012.3456`, bare `525400123456`.
    pub mac: Regex,
    /// IPv4 written as one hex number: `0x0a000001`.
    pub hex4: Regex,
    learn: Regex,
}

impl Detectors {
    pub(crate) fn new() -> Detectors {
        let compile = |pattern: &str| Regex::new(pattern).expect("valid built-in pattern");
        Detectors {
            ipv4: compile(r"(?-u)[0-9]+(?:\.[0-9]+)+|[0-9]+(?:-[0-9]+)+"),
            ipv6: compile(r"(?i-u)[0-9a-f.]*:[0-9a-f.]*:[0-9a-f:.]*"),
            mac: compile(concat!(
                r"(?i-u)[0-9a-f]{2}(?::[0-9a-f]{2}){5}|[0-9a-f]{2}(?:-[0-9a-f]{2}){5}",
                r"|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}|[0-9a-f]{12}"
            )),
            hex4: compile(r"(?-u)0[xX][0-9a-fA-F]{8}"),
            learn: compile(concat!(
                r#"(?m-u)\bon[ \t]+([A-Za-z0-9][A-Za-z0-9_.-]*)[ \t]*\{"#,
                r#"|node[-_]name[ \t]+"([^"\r\n]+)""#,
                r#"|\bhostname[ \t]+"([^"\r\n]+)""#,
                r#"|^[ \t]*(?:DHCP_)?HOSTNAME[ \t]*=[ \t]*["']?([A-Za-z0-9][A-Za-z0-9_.-]*)"#,
                r#"|Running on machine:[ \t]*([A-Za-z0-9][A-Za-z0-9_.-]*)"#,
                r#"|\bhost[ \t]+([A-Za-z0-9][A-Za-z0-9_.-]*)[ \t]+address\b"#,
            )),
        }
    }
}

pub(crate) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Parses a run found by `Detectors::ipv4`: (address of the first four parts, number of parts,
/// offset where the fourth part ends, whether a part was zero-padded). Octets are 0–255 with at
/// most 3 digits (`192.168.001.010` is zero-padded decimal, as logs print it; the dashed form has no
/// padding); a fifth dotted part (a port) must have at most 5 digits.
pub(crate) fn parse_ipv4_run(run: &[u8]) -> Option<(u32, usize, usize, bool)> {
    let separator = if run.contains(&b'.') { b'.' } else { b'-' };
    let mut addr: u32 = 0;
    let mut parts = 0;
    let mut fourth_end = 0;
    let mut offset = 0;
    let mut padded = false;
    for part in run.split(|&b| b == separator) {
        parts += 1;
        if parts <= 4 {
            if part.is_empty() || part.len() > 3 {
                return None;
            }
            if part.len() > 1 && part[0] == b'0' {
                if separator == b'-' {
                    return None;
                }
                padded = true;
            }
            let value = part.iter().fold(0u32, |v, &d| v * 10 + u32::from(d - b'0'));
            if value > 255 {
                return None;
            }
            addr = (addr << 8) | value;
            if parts == 4 {
                fourth_end = offset + part.len();
            }
        } else if parts == 5 && separator == b'.' && part.len() <= 5 {
            // address.port
        } else {
            return None;
        }
        offset += part.len() + 1;
    }
    (parts >= 4).then_some((addr, parts, fourth_end, padded))
}

/// Parses a run found by `Detectors::ipv6`: the address and the length of the run it used. A
/// trailing `:port` (netstat's `:::22`, `::ffff:10.0.0.1:7789`) or trailing dots are left out.
pub(crate) fn parse_ipv6_run(run: &[u8]) -> Option<(u128, usize)> {
    let mut len = run.len();
    while len > 0 && run[len - 1] == b'.' {
        len -= 1;
    }
    let parse = |bytes: &[u8]| -> Option<u128> {
        let text = std::str::from_utf8(bytes).ok()?;
        text.parse::<Ipv6Addr>().ok().map(u128::from)
    };
    if let Some(addr) = parse(&run[..len]) {
        return Some((addr, len));
    }
    let colon = run[..len].iter().rposition(|&b| b == b':')?;
    let port = &run[colon + 1..len];
    if port.is_empty() || port.len() > 5 || !port.iter().all(u8::is_ascii_digit) {
        return None;
    }
    parse(&run[..colon]).map(|addr| (addr, colon))
}

pub(crate) fn parse_mac(run: &[u8]) -> Option<u64> {
    let mut mac = 0u64;
    let mut digits = 0;
    for &b in run {
        let value = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            b':' | b'-' | b'.' => continue,
            _ => return None,
        };
        mac = (mac << 4) | u64::from(value);
        digits += 1;
    }
    (digits == 12).then_some(mac)
}

/// How an IPv4 candidate was written, so its pseudonym is written the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum V4Form {
    /// `10.0.0.1` (`fourth_end`: where the fourth part ends in the run; zero-padded or not).
    Dotted { fourth_end: usize, padded: bool },
    /// `dhcp-10-0-0-1`.
    Dashed,
    /// `0x0a000001`: only a known address (a hex word is more often a flag or a pointer).
    Hex { upper: bool },
}

/// An address candidate accepted by the shared lexer: `input[start..end]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct V4Hit {
    pub start: usize,
    pub end: usize,
    pub addr: u32,
    pub form: V4Form,
}

/// The IPv4 addresses of `input` as obfuscation and the leak check both see them. `packages`:
/// the text is a package list (`rpm -qa`, `dpkg -l`), where a dotted number is a version.
pub(crate) fn ipv4_hits(
    detect: &Detectors,
    input: &[u8],
    packages: bool,
    f: &mut dyn FnMut(V4Hit),
) {
    if !has_hex_prefix(input) {
        return dotted_ipv4_hits(detect, input, packages, f);
    }
    // Both kinds, in order of position.
    let mut hits = Vec::new();
    dotted_ipv4_hits(detect, input, packages, &mut |hit| hits.push(hit));
    hex_ipv4_hits(detect, input, &mut |hit| hits.push(hit));
    hits.sort_by_key(|hit| hit.start);
    let mut last = 0;
    for hit in hits {
        if hit.start >= last {
            last = hit.end;
            f(hit);
        }
    }
}

fn dotted_ipv4_hits(detect: &Detectors, input: &[u8], packages: bool, f: &mut dyn FnMut(V4Hit)) {
    for hit in detect.ipv4.find_iter(input) {
        let (start, end) = (hit.start(), hit.end());
        let run = hit.as_bytes();
        let Some((addr, parts, fourth_end, padded)) = parse_ipv4_run(run) else {
            continue;
        };
        if run.contains(&b'.') {
            if packages
                || (start > 0 && input[start - 1] == b'.')
                || looks_like_version(input, start, end)
            {
                continue;
            }
            f(V4Hit {
                start,
                end,
                addr,
                form: V4Form::Dotted { fourth_end, padded },
            });
        } else {
            // Dashed form only inside a name: `dhcp-192-168-0-66`.
            let in_name =
                start >= 2 && input[start - 1] == b'-' && input[start - 2].is_ascii_alphabetic();
            if parts != 4 || !in_name || input.get(end).is_some_and(|&b| is_word_byte(b)) {
                continue;
            }
            f(V4Hit {
                start,
                end,
                addr,
                form: V4Form::Dashed,
            });
        }
    }
}

fn hex_ipv4_hits(detect: &Detectors, input: &[u8], f: &mut dyn FnMut(V4Hit)) {
    for hit in detect.hex4.find_iter(input) {
        let (start, end) = (hit.start(), hit.end());
        if (start > 0 && is_word_byte(input[start - 1]))
            || input.get(end).is_some_and(|&b| is_word_byte(b))
        {
            continue;
        }
        let digits = &hit.as_bytes()[2..];
        let Some(addr) = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| u32::from_str_radix(d, 16).ok())
        else {
            continue;
        };
        f(V4Hit {
            start,
            end,
            addr,
            form: V4Form::Hex {
                upper: digits.iter().any(u8::is_ascii_uppercase),
            },
        });
    }
}

fn has_hex_prefix(input: &[u8]) -> bool {
    memchr::memchr2_iter(b'x', b'X', input).any(|at| at > 0 && input[at - 1] == b'0')
}

/// How a MAC candidate was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MacForm {
    /// `52:54:00:12:34:56` / `52-54-00-12-34-56`.
    Pairs(u8),
    /// Cisco `5254.0012.3456`.
    Dotted,
    /// `525400123456`.
    Bare,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct MacHit {
    pub start: usize,
    pub end: usize,
    pub mac: u64,
    pub form: MacForm,
    pub upper: bool,
}

/// The MAC addresses of `input` as obfuscation and the leak check both see them. A bare form is a
/// whole word of 12 hex digits with both letters and digits, not a part of a UUID, a hash or a
/// dotted or dashed run.
pub(crate) fn mac_hits(detect: &Detectors, input: &[u8], f: &mut dyn FnMut(MacHit)) {
    for hit in detect.mac.find_iter(input) {
        let (start, end) = (hit.start(), hit.end());
        let run = hit.as_bytes();
        let form = match run[2] {
            b':' | b'-' => MacForm::Pairs(run[2]),
            _ if run.len() == 14 => MacForm::Dotted,
            _ => MacForm::Bare,
        };
        let joiners: &[u8] = match form {
            MacForm::Pairs(_) => b":-",
            MacForm::Dotted | MacForm::Bare => b":-.",
        };
        if start > 0 && (is_word_byte(input[start - 1]) || joiners.contains(&input[start - 1])) {
            continue;
        }
        if let Some(&next) = input.get(end) {
            let continues =
                joiners.contains(&next) && input.get(end + 1).is_some_and(u8::is_ascii_hexdigit);
            if is_word_byte(next) || continues {
                continue;
            }
        }
        if form == MacForm::Bare
            && !(run.iter().any(u8::is_ascii_digit) && run.iter().any(u8::is_ascii_alphabetic))
        {
            continue;
        }
        let Some(mac) = parse_mac(run) else {
            continue;
        };
        f(MacHit {
            start,
            end,
            mac,
            form,
            upper: run.iter().any(u8::is_ascii_uppercase),
        });
    }
}

/// The IPv6 addresses of `input` as obfuscation and the leak check both see them:
/// (start, end, address).
pub(crate) fn ipv6_hits(detect: &Detectors, input: &[u8], f: &mut dyn FnMut(usize, usize, u128)) {
    for hit in detect.ipv6.find_iter(input) {
        let start = hit.start();
        if start > 0 && is_word_byte(input[start - 1]) {
            continue;
        }
        let Some((addr, len)) = parse_ipv6_run(hit.as_bytes()) else {
            continue;
        };
        let end = start + len;
        if input.get(end).is_some_and(|&b| is_word_byte(b)) {
            continue;
        }
        f(start, end, addr);
    }
}

/// Letters written right after a version number: `1.2.3.4el7`, `2.0.0.1rc1`.
const VERSION_SUFFIXES: [&[u8]; 22] = [
    b"el",
    b"fc",
    b"rc",
    b"git",
    b"beta",
    b"alpha",
    b"dev",
    b"post",
    b"svn",
    b"ubuntu",
    b"deb",
    b"debian",
    b"mga",
    b"mdv",
    b"centos",
    b"rhel",
    b"amzn",
    b"b",
    b"a",
    b"p",
    b"pre",
    b"snapshot",
];
const VERSION_WORDS: [&[u8]; 9] = [
    b"version",
    b"ver",
    b"vers",
    b"release",
    b"build",
    b"firmware",
    b"kernel",
    b"rev",
    b"revision",
];

/// Whether `line[start..end]`, a dotted number, is a version rather than an address: see the
/// module doc. An address glued to other letters (`inet10.0.0.1`, `10.0.0.1eth0`) or at either
/// end of a range (`10.0.0.1-10.0.0.9`) stays an address.
fn looks_like_version(line: &[u8], start: usize, end: usize) -> bool {
    let is_address_run = |run: &[u8]| {
        parse_ipv4_run(run).is_some_and(|(_, parts, _, _)| parts == 4) && run.contains(&b'.')
    };
    if start > 0 {
        let before = line[start - 1];
        if before.is_ascii_alphabetic() {
            let mut at = start;
            while at > 0 && start - at < 16 && line[at - 1].is_ascii_alphabetic() {
                at -= 1;
            }
            let word = &line[at..start];
            return word.eq_ignore_ascii_case(b"v")
                || VERSION_WORDS.iter().any(|w| w.eq_ignore_ascii_case(word));
        }
        if matches!(before, b'-' | b'_' | b'+' | b'~')
            && start >= 2
            && line[start - 2].is_ascii_alphanumeric()
        {
            let mut at = start - 1;
            while at > 0 && (line[at - 1].is_ascii_digit() || line[at - 1] == b'.') {
                at -= 1;
            }
            // `10.0.0.1-10.0.0.9` is a range of addresses, not `name-version`.
            return !(before == b'-' && is_address_run(&line[at..start - 1]));
        }
        if before == b':' {
            // A package epoch: ` 1:1.2.3.4-1`.
            let mut at = start - 1;
            while at > 0 && line[at - 1].is_ascii_digit() {
                at -= 1;
            }
            if at < start - 1 && (at == 0 || matches!(line[at - 1], b' ' | b'\t')) {
                return true;
            }
        }
    }
    let mut at = start;
    while at > 0 && start - at < 24 && matches!(line[at - 1], b' ' | b'\t' | b':' | b'=' | b'"') {
        at -= 1;
    }
    let word_end = at;
    while at > 0 && word_end - at < 16 && line[at - 1].is_ascii_alphabetic() {
        at -= 1;
    }
    let word = &line[at..word_end];
    if VERSION_WORDS.iter().any(|w| w.eq_ignore_ascii_case(word)) {
        return true;
    }
    let rest = &line[end..];
    match rest.first() {
        Some(b'-') | Some(b'_') => {
            if rest.get(1).is_some_and(u8::is_ascii_alphanumeric) {
                let run_end = rest[1..]
                    .iter()
                    .position(|&b| !(b.is_ascii_digit() || b == b'.'))
                    .map_or(rest.len(), |p| p + 1);
                return !(rest[0] == b'-' && is_address_run(&rest[1..run_end]));
            }
            false
        }
        Some(b'+') | Some(b'~') => true,
        Some(b'.') => rest.get(1).is_some_and(u8::is_ascii_alphabetic),
        Some(b) if b.is_ascii_alphabetic() => {
            let letters = rest
                .iter()
                .position(|b| !b.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            let word = &rest[..letters];
            VERSION_SUFFIXES
                .iter()
                .any(|w| w.eq_ignore_ascii_case(word))
        }
        _ => rest.starts_with(b" (api:") || rest.starts_with(b" GIT-hash"),
    }
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

struct NameMatchers {
    /// Specific names (and FQDNs, multi-label domains): replaced anywhere.
    specific: Option<Regex>,
    /// Specific and common-word names: for hostname files.
    all: Option<Regex>,
    /// Common-word names as words: a quick test before the context search.
    common_any: Option<Regex>,
    /// Common-word names in a hostname context: group 1 = context, group 2 = name.
    common_context: Option<Regex>,
    common: HashSet<String>,
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
    fn build(learned: &BTreeSet<String>, tables: &Tables) -> NameMatchers {
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

/// The obfuscation state of one run: pseudonym tables, learned names, detectors.
pub(crate) struct Obfuscator {
    detect: Detectors,
    pub(crate) tables: Tables,
    learned: BTreeSet<String>,
    matchers: Option<NameMatchers>,
    matchers_stale: bool,
}

const DIGIT: u8 = 1;
const COLON: u8 = 2;
const DASH: u8 = 4;
const DOT: u8 = 8;

const fn byte_classes() -> [u8; 256] {
    let mut classes = [0u8; 256];
    let mut b = b'0';
    while b <= b'9' {
        classes[b as usize] = DIGIT;
        b += 1;
    }
    classes[b':' as usize] = COLON;
    classes[b'-' as usize] = DASH;
    classes[b'.' as usize] = DOT;
    classes
}

static BYTE_CLASSES: [u8; 256] = byte_classes();

impl Obfuscator {
    pub(crate) fn new() -> Obfuscator {
        Obfuscator {
            detect: Detectors::new(),
            tables: Tables::new(),
            learned: BTreeSet::new(),
            matchers: None,
            matchers_stale: false,
        }
    }

    pub(crate) fn detectors(&self) -> &Detectors {
        &self.detect
    }

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
        self.tables.hosts.lookup(
            &short.to_string(),
            |n| Some(format!("host-{n}")),
            String::from("host-0"),
        );
        if let Some(domain) = domain {
            if !GENERIC_DOMAINS.contains(&domain) {
                self.tables.domains.lookup(
                    &domain.to_string(),
                    |n| Some(format!("domain-{n}.example")),
                    String::from("domain-0.example"),
                );
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
        for captures in self.detect.learn.captures_iter(content) {
            let found = captures.iter().skip(1).flatten().next();
            if let Some(found) = found {
                names.push(String::from_utf8_lossy(found.as_bytes()).into_owned());
            }
        }
        for name in names {
            self.learn_name(&name);
        }
    }

    fn prepare(&mut self) {
        if self.matchers_stale || self.matchers.is_none() {
            self.matchers = Some(NameMatchers::build(&self.learned, &self.tables));
            self.matchers_stale = false;
        }
    }

    /// Obfuscates one line (without its ending). Returns true with the result in `a`, or false
    /// when nothing changed (then `a` and `b` hold scratch data).
    pub(crate) fn line(
        &mut self,
        mode: NameMode,
        packages: bool,
        input: &[u8],
        a: &mut Vec<u8>,
        b: &mut Vec<u8>,
    ) -> bool {
        self.prepare();
        let mut classes = 0u8;
        for &byte in input {
            classes |= BYTE_CLASSES[byte as usize];
        }
        let Obfuscator {
            detect,
            tables,
            matchers,
            ..
        } = self;
        let mut changed = false;
        let mut step = |pass: &mut dyn FnMut(&[u8], &mut Vec<u8>) -> bool| {
            let source: &[u8] = if changed { a.as_slice() } else { input };
            b.clear();
            if pass(source, b) {
                std::mem::swap(a, b);
                changed = true;
            }
        };
        if let Some(matchers) = matchers.as_ref() {
            step(&mut |s, o| replace_names(matchers, tables, mode, s, o));
            if mode == NameMode::Context && !matchers.common.is_empty() {
                step(&mut |s, o| replace_common_names(matchers, tables, s, o));
            }
        }
        // Exact but cheap tests first: most log lines (timestamps, counters) fail them, and a
        // regex search has a fixed cost per call that dominates on short lines.
        let hex_forms = may_contain_hex_forms(input);
        if hex_forms || classes & (COLON | DASH) != 0 && may_contain_mac(input) {
            step(&mut |s, o| replace_macs(detect, tables, s, o));
        }
        if classes & COLON != 0 && may_contain_ipv6(input) {
            step(&mut |s, o| replace_ipv6(detect, tables, s, o));
        }
        if hex_forms
            || classes & DIGIT != 0 && classes & (DOT | DASH) != 0 && may_contain_ipv4(input)
        {
            step(&mut |s, o| replace_ipv4(detect, tables, packages, s, o));
        }
        changed
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

    pub(crate) fn load(&mut self, map: MapFile) -> std::result::Result<(), String> {
        if map.schema != MAP_SCHEMA {
            return Err(format!(
                "unknown schema {:?} (expected {MAP_SCHEMA})",
                map.schema
            ));
        }
        for (original, pseudonym) in &map.ipv4_networks {
            let original = parse_v4_network(original).ok_or_else(|| bad("network", original))?;
            let pseudonym_net =
                parse_v4_network(pseudonym).ok_or_else(|| bad("network", pseudonym))?;
            self.tables.v4.insert_loaded(
                original,
                pseudonym_net,
                ipv4_network_index(pseudonym_net),
            );
        }
        for (original, pseudonym) in &map.ipv6_prefixes {
            let original = parse_v6_prefix(original).ok_or_else(|| bad("prefix", original))?;
            let pseudonym = parse_v6_prefix(pseudonym).ok_or_else(|| bad("prefix", pseudonym))?;
            let index =
                (pseudonym >> 32 == IPV6_PSEUDO_PREFIX >> 32).then_some(pseudonym & 0xffff_ffff);
            self.tables
                .v6_prefix
                .insert_loaded(original, pseudonym, index);
        }
        for (original, pseudonym) in &map.ipv6_interface_ids {
            let original = parse_iid(original).ok_or_else(|| bad("interface id", original))?;
            let pseudonym = parse_iid(pseudonym).ok_or_else(|| bad("interface id", pseudonym))?;
            let index = (pseudonym >> 48 == 0xffff).then_some(pseudonym & 0xffff_ffff_ffff);
            self.tables.v6_iid.insert_loaded(original, pseudonym, index);
        }
        for (original, pseudonym) in &map.macs {
            let original_mac =
                parse_mac(original.as_bytes()).ok_or_else(|| bad("MAC", original))?;
            let pseudonym_mac =
                parse_mac(pseudonym.as_bytes()).ok_or_else(|| bad("MAC", pseudonym))?;
            let low = pseudonym_mac & 0xff_ffff;
            let index = (low > MAC_PSEUDO_BASE).then(|| low - MAC_PSEUDO_BASE);
            self.tables
                .mac
                .insert_loaded(original_mac, pseudonym_mac, index);
        }
        for (original, pseudonym) in &map.hosts {
            let index = pseudonym.strip_prefix("host-").and_then(|n| n.parse().ok());
            self.tables.hosts.insert_loaded(
                original.to_ascii_lowercase(),
                pseudonym.clone(),
                index,
            );
        }
        for (original, pseudonym) in &map.domains {
            let index = pseudonym
                .strip_prefix("domain-")
                .and_then(|rest| rest.strip_suffix(".example"))
                .and_then(|n| n.parse().ok());
            self.tables.domains.insert_loaded(
                original.to_ascii_lowercase(),
                pseudonym.clone(),
                index,
            );
        }
        for name in &map.learned_names {
            self.learn_name(name);
        }
        Ok(())
    }

    pub(crate) fn to_map_file(&self) -> MapFile {
        let t = &self.tables;
        let v4 = |n: u32| format!("{}.{}.{}.0/24", n >> 16, (n >> 8) & 0xff, n & 0xff);
        let v6 = |p: u64| format!("{}/64", Ipv6Addr::from(u128::from(p) << 64));
        let iid = |i: u64| {
            format!(
                "{:04x}:{:04x}:{:04x}:{:04x}",
                i >> 48,
                (i >> 32) & 0xffff,
                (i >> 16) & 0xffff,
                i & 0xffff
            )
        };
        let mac = |m: u64| {
            let bytes = m.to_be_bytes();
            bytes[2..]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        };
        MapFile {
            schema: MAP_SCHEMA.to_string(),
            note: "drx-collect --obfuscate: original -> pseudonym. Keep this file private; it is \
                   never put into a bundle."
                .to_string(),
            ipv4_networks: t.v4.forward.iter().map(|(o, p)| (v4(*o), v4(*p))).collect(),
            ipv6_prefixes: t
                .v6_prefix
                .forward
                .iter()
                .map(|(o, p)| (v6(*o), v6(*p)))
                .collect(),
            ipv6_interface_ids: t
                .v6_iid
                .forward
                .iter()
                .map(|(o, p)| (iid(*o), iid(*p)))
                .collect(),
            macs: t
                .mac
                .forward
                .iter()
                .map(|(o, p)| (mac(*o), mac(*p)))
                .collect(),
            hosts: t
                .hosts
                .forward
                .iter()
                .map(|(o, p)| (o.clone(), p.clone()))
                .collect(),
            domains: t
                .domains
                .forward
                .iter()
                .map(|(o, p)| (o.clone(), p.clone()))
                .collect(),
            learned_names: self.learned.clone(),
        }
    }
}

fn bad(what: &str, value: &str) -> String {
    format!("invalid {what} {value:?}")
}

fn parse_v4_network(text: &str) -> Option<u32> {
    let addr: std::net::Ipv4Addr = text.strip_suffix("/24")?.parse().ok()?;
    Some(u32::from(addr) >> 8)
}

fn parse_v6_prefix(text: &str) -> Option<u64> {
    let addr: Ipv6Addr = text.strip_suffix("/64")?.parse().ok()?;
    Some((u128::from(addr) >> 64) as u64)
}

fn parse_iid(text: &str) -> Option<u64> {
    let groups: Vec<&str> = text.split(':').collect();
    if groups.len() != 4 {
        return None;
    }
    groups.iter().try_fold(0u64, |acc, g| {
        u16::from_str_radix(g, 16)
            .ok()
            .map(|v| (acc << 16) | u64::from(v))
    })
}

/// The shape of a MAC: six hex pairs joined by the same `:` or `-`.
fn may_contain_mac(line: &[u8]) -> bool {
    const LEN: usize = 17;
    (0..line.len().saturating_sub(LEN - 1)).any(|start| {
        let candidate = &line[start..start + LEN];
        let separator = candidate[2];
        matches!(separator, b':' | b'-')
            && candidate.iter().enumerate().all(|(i, &b)| {
                if i % 3 == 2 {
                    b == separator
                } else {
                    b.is_ascii_hexdigit()
                }
            })
    })
}

/// A run of 8+ hex digits (bare MAC, `0x` IPv4) or the Cisco `xxxx.xxxx.xxxx` shape.
fn may_contain_hex_forms(line: &[u8]) -> bool {
    let mut run = 0;
    let mut groups = 0;
    for &b in line {
        if b.is_ascii_hexdigit() {
            run += 1;
            if run >= 8 {
                return true;
            }
        } else {
            groups = if b == b'.' && run == 4 { groups + 1 } else { 0 };
            if groups == 2 {
                // Two `xxxx.` groups; the third is checked by the lexer.
                return true;
            }
            run = 0;
        }
    }
    false
}

/// Package lists (`rpm -qa`, `dpkg -l`, `yum list`): a dotted number there is a version.
pub(crate) fn is_package_list(bundle_path: &str) -> bool {
    crate::layout::is_package_list(bundle_path)
}

/// An IPv6 address has `::`, or at least 6 colons, within one run of hex digits, colons and dots.
fn may_contain_ipv6(line: &[u8]) -> bool {
    let mut colons = 0;
    let mut previous = 0u8;
    for &b in line {
        if b == b':' {
            if previous == b':' {
                return true;
            }
            colons += 1;
            if colons >= 6 {
                return true;
            }
        } else if !(b.is_ascii_hexdigit() || b == b'.') {
            colons = 0;
        }
        previous = b;
    }
    false
}

/// A dotted IPv4 has 3 dots, a dashed one 3 dashes, within one run of digits and that separator.
fn may_contain_ipv4(line: &[u8]) -> bool {
    let (mut dots, mut dashes) = (0, 0);
    for &b in line {
        match b {
            b'0'..=b'9' => {}
            b'.' => {
                dots += 1;
                dashes = 0;
                if dots >= 3 {
                    return true;
                }
            }
            b'-' => {
                dashes += 1;
                dots = 0;
                if dashes >= 3 {
                    return true;
                }
            }
            _ => {
                dots = 0;
                dashes = 0;
            }
        }
    }
    false
}

fn replace_names(
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
    let mut last = 0;
    let mut changed = false;
    for hit in regex.find_iter(input) {
        let lower = String::from_utf8_lossy(hit.as_bytes()).to_ascii_lowercase();
        let Some(pseudonym) = tables.name_pseudonym(&lower) else {
            continue;
        };
        if !matchers.common.contains(&lower) {
            tables.seen_names.insert(lower, pseudonym.clone());
        }
        out.extend_from_slice(&input[last..hit.start()]);
        out.extend_from_slice(pseudonym.as_bytes());
        last = hit.end();
        changed = true;
    }
    if changed {
        out.extend_from_slice(&input[last..]);
    }
    changed
}

fn replace_common_names(
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
    if matchers.common.contains(&whole) {
        if let Some(pseudonym) = tables.name_pseudonym(&whole) {
            let start = input.len() - input.trim_ascii_start().len();
            out.extend_from_slice(&input[..start]);
            out.extend_from_slice(pseudonym.as_bytes());
            out.extend_from_slice(&input[start + trimmed.len()..]);
            return true;
        }
    }
    let mut last = 0;
    let mut changed = false;
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
        out.extend_from_slice(&input[last..name.start()]);
        out.extend_from_slice(pseudonym.as_bytes());
        last = name.end();
        changed = true;
    }
    if changed {
        out.extend_from_slice(&input[last..]);
    }
    changed
}

fn replace_macs(detect: &Detectors, tables: &mut Tables, input: &[u8], out: &mut Vec<u8>) -> bool {
    let mut last = 0;
    let mut changed = false;
    mac_hits(detect, input, &mut |hit| {
        let Some(pseudonym) = tables.map_mac(hit.mac) else {
            return;
        };
        out.extend_from_slice(&input[last..hit.start]);
        let hex = |out: &mut Vec<u8>, byte: u8| {
            let _ = if hit.upper {
                write!(out, "{byte:02X}")
            } else {
                write!(out, "{byte:02x}")
            };
        };
        for (i, byte) in pseudonym.to_be_bytes()[2..].iter().enumerate() {
            match hit.form {
                MacForm::Pairs(separator) if i > 0 => out.push(separator),
                MacForm::Dotted if i == 2 || i == 4 => out.push(b'.'),
                _ => {}
            }
            hex(out, *byte);
        }
        last = hit.end;
        changed = true;
    });
    if changed {
        out.extend_from_slice(&input[last..]);
    }
    changed
}

fn replace_ipv6(detect: &Detectors, tables: &mut Tables, input: &[u8], out: &mut Vec<u8>) -> bool {
    let mut last = 0;
    let mut changed = false;
    ipv6_hits(detect, input, &mut |start, end, addr| {
        let Some(pseudonym) = tables.map_v6(addr) else {
            return;
        };
        out.extend_from_slice(&input[last..start]);
        let _ = write!(out, "{}", Ipv6Addr::from(pseudonym));
        last = end;
        changed = true;
    });
    if changed {
        out.extend_from_slice(&input[last..]);
    }
    changed
}

fn replace_ipv4(
    detect: &Detectors,
    tables: &mut Tables,
    packages: bool,
    input: &[u8],
    out: &mut Vec<u8>,
) -> bool {
    let mut last = 0;
    let mut changed = false;
    ipv4_hits(detect, input, packages, &mut |hit| {
        if matches!(hit.form, V4Form::Hex { .. }) && !tables.seen_v4.contains_key(&hit.addr) {
            return;
        }
        let Some(pseudonym) = tables.map_v4(hit.addr) else {
            return;
        };
        let [a, b, c, d] = pseudonym.to_be_bytes();
        out.extend_from_slice(&input[last..hit.start]);
        let _ = match hit.form {
            V4Form::Dotted {
                fourth_end,
                padded: false,
            } => {
                let _ = write!(out, "{a}.{b}.{c}.{d}");
                out.extend_from_slice(&input[hit.start + fourth_end..hit.end]);
                Ok(())
            }
            V4Form::Dotted {
                fourth_end,
                padded: true,
            } => {
                let _ = write!(out, "{a:03}.{b:03}.{c:03}.{d:03}");
                out.extend_from_slice(&input[hit.start + fourth_end..hit.end]);
                Ok(())
            }
            V4Form::Dashed => write!(out, "{a}-{b}-{c}-{d}"),
            V4Form::Hex { upper: true } => {
                write!(out, "0{}{pseudonym:08X}", input[hit.start + 1] as char)
            }
            V4Form::Hex { upper: false } => {
                write!(out, "0{}{pseudonym:08x}", input[hit.start + 1] as char)
            }
        };
        last = hit.end;
        changed = true;
    });
    if changed {
        out.extend_from_slice(&input[last..]);
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prechecks_never_reject_an_address() {
        for line in [
            "a 0:0:0:0:0:ffff:10.0.0.1 b",
            "2a01:4f8:1:2:0:0:0:6",
            "x ::1",
            "[::]:22",
        ] {
            assert!(may_contain_ipv6(line.as_bytes()), "{line}");
        }
        assert!(!may_contain_ipv6(b"I1120 16:37:02.690660 t42053 x] a:b"));
        for line in ["10.0.0.1", "dhcp-192-168-0-66", "x=1.2.3.4:5"] {
            assert!(may_contain_ipv4(line.as_bytes()), "{line}");
        }
        assert!(!may_contain_ipv4(b"16:37:02.690660 8.4.11 2024-01-15"));
        for line in ["52:54:00:12:34:56", "x 00-15-5D-0A-0B-0C"] {
            assert!(may_contain_mac(line.as_bytes()), "{line}");
        }
        assert!(!may_contain_mac(b"16:37:02 a-b"));
    }

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
