//! Small value types the parsers produce and the checks compare: endpoints, versions, and a value
//! with the place in the bundle it was read from.
use std::cmp::Ordering;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A place in the bundle: path, 1-based line, and the trimmed line itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Place {
    pub path: String,
    pub line: Option<u64>,
    pub excerpt: Option<String>,
}

/// Longest excerpt a finding carries (SPEC: the evidence line, trimmed, ≤ 300 chars).
pub const EXCERPT_CHARS: usize = 300;

impl Place {
    pub fn new(path: &str, line: u64, text: &str) -> Place {
        Place {
            path: path.to_string(),
            line: Some(line),
            excerpt: Some(excerpt(text)),
        }
    }

    pub fn file(path: &str) -> Place {
        Place {
            path: path.to_string(),
            line: None,
            excerpt: None,
        }
    }
}

/// The line trimmed (also of a trailing '\r') and cut to `EXCERPT_CHARS` characters.
pub fn excerpt(text: &str) -> String {
    let trimmed = text.trim();
    match trimmed.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => trimmed[..cut].to_string(),
        None => trimmed.to_string(),
    }
}

/// An IP address and TCP port. IPv4-mapped IPv6 addresses are stored as IPv4 so that
/// `::ffff:10.0.0.1` and `10.0.0.1` compare equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl Endpoint {
    /// Parses `1.2.3.4:7789`, `[fd00::1]:7789`, `*:7789`, `:::7789` (netstat's IPv6 any),
    /// `fe80::1%eth0:7789`. None for anything else (host names, missing port, `*:*`).
    pub fn parse(text: &str) -> Option<Endpoint> {
        let text = text.trim();
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest.split_once(']')?;
            (host, after.strip_prefix(':')?)
        } else {
            text.rsplit_once(':')?
        };
        let port: u16 = port.parse().ok()?;
        let ip = parse_ip(host)?;
        Some(Endpoint { ip, port })
    }

    /// True for 0.0.0.0 / :: (a listener there covers every local address).
    pub fn is_unspecified(&self) -> bool {
        self.ip.is_unspecified()
    }

    pub fn is_loopback(&self) -> bool {
        self.ip.is_loopback()
    }

    /// A listener at `self` accepts connections to `target` (same port, same or any address).
    pub fn covers(&self, target: &Endpoint) -> bool {
        self.port == target.port && (self.is_unspecified() || self.ip == target.ip)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

/// Parses an IP address the way tools print it: `*` means any, IPv6 zone ids are dropped,
/// IPv4-mapped IPv6 becomes IPv4.
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches(|c| c == '[' || c == ']');
    if text == "*" {
        return Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    }
    let text = text.split('%').next().unwrap_or(text);
    let ip: IpAddr = text.parse().ok()?;
    Some(canonical_ip(ip))
}

pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None if v6 == Ipv6Addr::UNSPECIFIED => IpAddr::V6(v6),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// A dotted version compared numerically part by part (8.4.11 > 8.4.8; 8.4 == 8.4.0).
#[derive(Debug, Clone, Eq)]
pub struct Version {
    parts: Vec<u64>,
    text: String,
}

impl Version {
    /// Reads the leading `N(.N)*` of `text` (after an optional `v`); `8.4.12-1` → 8.4.12.
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim();
        let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
        let end = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let numeric = text[..end].trim_end_matches('.');
        if numeric.is_empty() {
            return None;
        }
        let mut parts = Vec::new();
        for part in numeric.split('.') {
            parts.push(part.parse::<u64>().ok()?);
        }
        Some(Version {
            parts,
            text: numeric.to_string(),
        })
    }

    /// From DRBD's `0xMMmmpp` version code (0x080405 = 8.4.5). Zero means "not loaded": None.
    pub fn from_code(code: u64) -> Option<Version> {
        if code == 0 {
            return None;
        }
        let parts = vec![(code >> 16) & 0xff, (code >> 8) & 0xff, code & 0xff];
        let text = format!("{}.{}.{}", parts[0], parts[1], parts[2]);
        Some(Version { parts, text })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first number (8 of 8.4.11).
    pub fn major(&self) -> Option<u64> {
        self.parts.first().copied()
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let len = self.parts.len().max(other.parts.len());
        for i in 0..len {
            let a = self.parts.get(i).copied().unwrap_or(0);
            let b = other.parts.get(i).copied().unwrap_or(0);
            match a.cmp(&b) {
                Ordering::Equal => {}
                unequal => return unequal,
            }
        }
        Ordering::Equal
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A value and where it was read.
#[derive(Debug, Clone)]
pub struct Located<T> {
    pub value: T,
    pub place: Place,
}

/// An IPv4/IPv6 network in CIDR form (`10.0.0.0/8`, `fd00::/64`, a bare address = /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Net {
    pub ip: IpAddr,
    pub prefix: u8,
}

impl Net {
    pub fn parse(text: &str) -> Option<Net> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let ip = parse_ip(addr)?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            // A dotted netmask (`255.255.255.0`) as iptables-save and service status may print.
            Some(p) if p.contains('.') => {
                let mask: Ipv4Addr = p.parse().ok()?;
                u32::from(mask).count_ones() as u8
            }
            Some(p) => p.parse::<u8>().ok()?.min(max),
        };
        Some(Net { ip, prefix })
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        match (self.ip, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let shift = 32 - u32::from(self.prefix.min(32));
                let mask = if shift == 32 { 0 } else { u32::MAX << shift };
                u32::from(net) & mask == u32::from(*ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let shift = 128 - u32::from(self.prefix.min(128));
                let mask = if shift == 128 { 0 } else { u128::MAX << shift };
                u128::from(net) & mask == u128::from(*ip) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically_not_as_text() {
        let v = |s: &str| Version::parse(s).expect(s);
        assert!(v("8.4.11") > v("8.4.8"));
        assert!(v("8.4.5") < v("8.4.8"));
        assert!(v("8.4.12-1") > v("8.4.8"));
        assert_eq!(v("8.4"), v("8.4.0"));
        assert!(v("9.22.0") > v("8.9.10"));
        assert!(v("8.9.5") < v("8.9.10"));
        assert_eq!(
            Version::from_code(0x080405)
                .map(|v| v.to_string())
                .as_deref(),
            Some("8.4.5")
        );
        assert!(Version::from_code(0).is_none());
        assert!(Version::parse("abc").is_none());
        assert!(Version::parse("").is_none());
        assert!(Version::parse("99999999999999999999999.1").is_none());
    }

    #[test]
    fn endpoints_parse_every_tool_spelling() {
        let e = |s: &str| Endpoint::parse(s);
        assert_eq!(e("10.0.0.1:7789").map(|x| x.port), Some(7789));
        assert_eq!(
            e("[fd00::1]:7789").map(|x| x.ip.to_string()).as_deref(),
            Some("fd00::1")
        );
        assert!(e(":::7789").is_some_and(|x| x.is_unspecified()));
        assert!(e("*:7789").is_some_and(|x| x.is_unspecified()));
        assert!(e("[::]:7789").is_some_and(|x| x.is_unspecified()));
        assert_eq!(e("::ffff:10.0.0.1:7789"), e("10.0.0.1:7789"));
        assert_eq!(e("[::ffff:10.0.0.1]:7789"), e("10.0.0.1:7789"));
        assert!(e("fe80::1%eth0:7789").is_some());
        assert!(e("0.0.0.0:*").is_none());
        assert!(e("host:7789").is_none());
        assert!(e("").is_none());
        let any = e("0.0.0.0:7789").expect("any");
        assert!(any.covers(&e("10.0.0.1:7789").expect("x")));
        assert!(!any.covers(&e("10.0.0.1:7790").expect("x")));
    }

    #[test]
    fn nets_contain_addresses() {
        let ip = |s: &str| parse_ip(s).expect(s);
        assert!(Net::parse("10.0.0.0/8")
            .expect("n")
            .contains(&ip("10.2.3.4")));
        assert!(!Net::parse("10.0.0.0/8")
            .expect("n")
            .contains(&ip("11.2.3.4")));
        assert!(Net::parse("0.0.0.0/0").expect("n").contains(&ip("1.2.3.4")));
        assert!(Net::parse("10.0.0.2").expect("n").contains(&ip("10.0.0.2")));
        assert!(Net::parse("10.0.0.0/255.255.255.0")
            .expect("n")
            .contains(&ip("10.0.0.9")));
        assert!(Net::parse("fd00::/64").expect("n").contains(&ip("fd00::5")));
        assert!(!Net::parse("fd00::/64")
            .expect("n")
            .contains(&ip("10.0.0.1")));
    }

    #[test]
    fn excerpts_are_trimmed_and_capped() {
        assert_eq!(excerpt("  a b \r"), "a b");
        assert_eq!(excerpt(&"가".repeat(400)).chars().count(), EXCERPT_CHARS);
    }
}
