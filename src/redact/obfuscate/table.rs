//! The pseudonym tables: for each kind (IPv4 network, IPv6 prefix and interface identifier, MAC,
//! short hostname, domain) the originals met, the pseudonyms handed out, and the ranges they come
//! from (see the scheme in the parent module's doc).
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;

/// One kind of pseudonym: originals → pseudonyms, the pseudonyms handed out, and a counter.
pub(super) struct Table<T> {
    pub(super) forward: HashMap<T, T>,
    pub(super) issued: HashSet<T>,
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
    pub(super) v4: Table<u32>,
    pub(super) v6_prefix: Table<u64>,
    pub(super) v6_iid: Table<u64>,
    pub(super) mac: Table<u64>,
    pub(super) hosts: Table<String>,
    pub(super) domains: Table<String>,
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
    pub(super) fn new() -> Tables {
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

    /// Hands out the pseudonym of a short hostname (lower case) unless it has one.
    pub(super) fn issue_host(&mut self, short: &str) {
        self.hosts.lookup(
            &short.to_string(),
            |n| Some(format!("host-{n}")),
            String::from("host-0"),
        );
    }

    /// Hands out the pseudonym of a domain (lower case) unless it has one.
    pub(super) fn issue_domain(&mut self, domain: &str) {
        self.domains.lookup(
            &domain.to_string(),
            |n| Some(format!("domain-{n}.example")),
            String::from("domain-0.example"),
        );
    }

    // Loading a map file: each pair counts as handed out, and numbering goes on after the
    // highest pseudonym of our ranges.

    /// A /24 network, both as the address >> 8.
    pub(super) fn load_v4_network(&mut self, original: u32, pseudonym: u32) {
        self.v4
            .insert_loaded(original, pseudonym, ipv4_network_index(pseudonym));
    }

    /// A /64 prefix, both as the upper 64 bits.
    pub(super) fn load_v6_prefix(&mut self, original: u64, pseudonym: u64) {
        let index =
            (pseudonym >> 32 == IPV6_PSEUDO_PREFIX >> 32).then_some(pseudonym & 0xffff_ffff);
        self.v6_prefix.insert_loaded(original, pseudonym, index);
    }

    /// An interface identifier (the lower 64 bits).
    pub(super) fn load_v6_iid(&mut self, original: u64, pseudonym: u64) {
        let index = (pseudonym >> 48 == 0xffff).then_some(pseudonym & 0xffff_ffff_ffff);
        self.v6_iid.insert_loaded(original, pseudonym, index);
    }

    pub(super) fn load_mac(&mut self, original: u64, pseudonym: u64) {
        let low = pseudonym & 0xff_ffff;
        let index = (low > MAC_PSEUDO_BASE).then(|| low - MAC_PSEUDO_BASE);
        self.mac.insert_loaded(original, pseudonym, index);
    }

    pub(super) fn load_host(&mut self, original: &str, pseudonym: &str) {
        let index = pseudonym.strip_prefix("host-").and_then(|n| n.parse().ok());
        self.hosts
            .insert_loaded(original.to_ascii_lowercase(), pseudonym.to_string(), index);
    }

    pub(super) fn load_domain(&mut self, original: &str, pseudonym: &str) {
        let index = pseudonym
            .strip_prefix("domain-")
            .and_then(|rest| rest.strip_suffix(".example"))
            .and_then(|n| n.parse().ok());
        self.domains
            .insert_loaded(original.to_ascii_lowercase(), pseudonym.to_string(), index);
    }

    /// The pseudonym of a learned name (lower case): a domain, a short name, or short.domain.
    pub(super) fn name_pseudonym(&self, name: &str) -> Option<String> {
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
