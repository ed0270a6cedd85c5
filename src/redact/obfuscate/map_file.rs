//! The map file (`--map-file`): original → pseudonym as JSON, kept by the user (never put into a
//! bundle) so that a later run, e.g. from cron, reuses the same pseudonyms and extends the map.
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv6Addr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::lexers::parse_mac;
use super::Obfuscator;
use crate::error::{Error, Result};

const MAP_SCHEMA: &str = "drx-collect/privacy-map/v1";

/// The map file (`--map-file`): original → pseudonym, JSON. Loaded at start so that a later run
/// reuses the same pseudonyms and extends the map.
#[derive(Debug, Default, Serialize, Deserialize)]
struct MapFile {
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

impl Obfuscator {
    fn load(&mut self, map: &MapFile) -> std::result::Result<(), String> {
        if map.schema != MAP_SCHEMA {
            return Err(format!(
                "unknown schema {:?} (expected {MAP_SCHEMA})",
                map.schema
            ));
        }
        for (original, pseudonym) in &map.ipv4_networks {
            let original = parse_v4_network(original).ok_or_else(|| bad("network", original))?;
            let pseudonym = parse_v4_network(pseudonym).ok_or_else(|| bad("network", pseudonym))?;
            self.tables.load_v4_network(original, pseudonym);
        }
        for (original, pseudonym) in &map.ipv6_prefixes {
            let original = parse_v6_prefix(original).ok_or_else(|| bad("prefix", original))?;
            let pseudonym = parse_v6_prefix(pseudonym).ok_or_else(|| bad("prefix", pseudonym))?;
            self.tables.load_v6_prefix(original, pseudonym);
        }
        for (original, pseudonym) in &map.ipv6_interface_ids {
            let original = parse_iid(original).ok_or_else(|| bad("interface id", original))?;
            let pseudonym = parse_iid(pseudonym).ok_or_else(|| bad("interface id", pseudonym))?;
            self.tables.load_v6_iid(original, pseudonym);
        }
        for (original, pseudonym) in &map.macs {
            let original = parse_mac(original.as_bytes()).ok_or_else(|| bad("MAC", original))?;
            let pseudonym = parse_mac(pseudonym.as_bytes()).ok_or_else(|| bad("MAC", pseudonym))?;
            self.tables.load_mac(original, pseudonym);
        }
        for (original, pseudonym) in &map.hosts {
            self.tables.load_host(original, pseudonym);
        }
        for (original, pseudonym) in &map.domains {
            self.tables.load_domain(original, pseudonym);
        }
        for name in &map.learned_names {
            self.learn_name(name);
        }
        Ok(())
    }

    fn to_map_file(&self) -> MapFile {
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

impl Obfuscator {
    /// Loads the map file when it exists (a first run has none). The error names the file.
    pub(crate) fn read_map_file(&mut self, path: &Path) -> Result<()> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let map: MapFile = serde_json::from_slice(&bytes).map_err(|e| {
                    Error::failed(format!(
                        "cannot use map file {}: not a drx-collect map ({e}); pass another \
                         --map-file or remove it",
                        path.display()
                    ))
                })?;
                self.load(&map).map_err(|e| {
                    Error::failed(format!(
                        "cannot use map file {}: {e}; pass another --map-file or remove it",
                        path.display()
                    ))
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(
                "read map file",
                path,
                &e,
                "check its permissions or pass another --map-file",
            )),
        }
    }

    /// Writes the map to `path`, mode 0600, atomically (a temporary file beside it, then rename).
    pub(crate) fn save_map_file(&self, path: &Path) -> Result<()> {
        let mut json = serde_json::to_vec_pretty(&self.to_map_file())
            .map_err(|e| Error::failed(format!("cannot encode the map file: {e}")))?;
        json.push(b'\n');
        // The platform's safe-create primitive: a new 0600 temporary file (never through a planted
        // link), then a rename over the map file.
        crate::platform::write_private_replacing(path, &json).map_err(|e| write_error(path, &e))
    }
}

/// Takes into the map file at `path` what another run's map (`theirs`: a peer's of the same
/// pair, untrusted) adds to it: a pair of theirs whose original the map already has, or whose
/// pseudonym the map gave to another original, is refused (the map's own stand). The result is
/// checked like any map file and written like one (0600, atomically). Returns how many pairs
/// were refused.
pub(crate) fn merge_into(path: &Path, theirs: &[u8]) -> Result<usize> {
    let mut ours: MapFile = match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| Error::failed(format!("cannot use map file {}: {e}", path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => MapFile {
            schema: MAP_SCHEMA.to_string(),
            ..MapFile::default()
        },
        Err(e) => return Err(Error::io("read map file", path, &e, "")),
    };
    let theirs: MapFile = serde_json::from_slice(theirs)
        .map_err(|e| Error::failed(format!("the peer's map is not a drx-collect map ({e})")))?;
    Obfuscator::new()
        .load(&theirs)
        .map_err(|e| Error::failed(format!("the peer's map is not valid: {e}")))?;
    let mut refused = 0;
    refused += merge_pairs(&mut ours.ipv4_networks, &theirs.ipv4_networks);
    refused += merge_pairs(&mut ours.ipv6_prefixes, &theirs.ipv6_prefixes);
    refused += merge_pairs(&mut ours.ipv6_interface_ids, &theirs.ipv6_interface_ids);
    refused += merge_pairs(&mut ours.macs, &theirs.macs);
    refused += merge_pairs(&mut ours.hosts, &theirs.hosts);
    refused += merge_pairs(&mut ours.domains, &theirs.domains);
    ours.learned_names
        .extend(theirs.learned_names.iter().cloned());
    // Through a table, so the file is written in the map's own form.
    let mut merged = Obfuscator::new();
    merged
        .load(&ours)
        .map_err(|e| Error::failed(format!("the merged map is not valid: {e}")))?;
    merged.save_map_file(path)?;
    Ok(refused)
}

/// Adds the pairs of `theirs` that contradict none of `ours`; returns how many did.
fn merge_pairs(ours: &mut BTreeMap<String, String>, theirs: &BTreeMap<String, String>) -> usize {
    let mut issued: BTreeSet<String> = ours.values().cloned().collect();
    let mut refused = 0;
    for (original, pseudonym) in theirs {
        match ours.get(original) {
            Some(known) if known == pseudonym => {}
            Some(_) => refused += 1,
            None if issued.contains(pseudonym) => refused += 1,
            None => {
                issued.insert(pseudonym.clone());
                ours.insert(original.clone(), pseudonym.clone());
            }
        }
    }
    refused
}

/// Fails early, before anything is collected, when the map file could not be written at the end:
/// a temporary file is created beside it and removed again, and an existing map must be writable.
pub(crate) fn check_writable(path: &Path) -> Result<()> {
    let probe = || -> std::io::Result<()> {
        if path.exists() {
            std::fs::OpenOptions::new().append(true).open(path)?;
        }
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "map".to_string());
        let temporary = path.with_file_name(format!(".{file_name}.probe-{}", std::process::id()));
        // Never through a planted link, never over an existing file.
        drop(crate::platform::create_new_private(&temporary)?);
        std::fs::remove_file(&temporary)
    };
    probe().map_err(|e| write_error(path, &e))
}

fn write_error(path: &Path, e: &std::io::Error) -> Error {
    Error::io(
        "write map file",
        path,
        e,
        "check that its folder exists and is writable, or pass another --map-file",
    )
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
