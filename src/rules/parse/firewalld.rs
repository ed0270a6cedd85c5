//! firewalld: `firewall-cmd --state`, and `--list-all` / `--list-all-zones` (runtime or
//! `--permanent`) listings: zones with target, ports, services, sources and rich rules; and the
//! permanent configuration itself (zone and service XML, firewalld.conf), read when firewalld
//! is not running.
use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::rules::model::{Net, Place};

#[derive(Debug, Clone, Default)]
pub struct Zone {
    pub name: String,
    pub active: bool,
    /// The default zone (`(default)` in a listing, DefaultZone= in firewalld.conf).
    pub default: bool,
    pub interfaces: Vec<String>,
    pub target: String,
    pub ports: Vec<(u16, u16)>,
    pub services: Vec<String>,
    pub sources: Vec<Net>,
    pub rich_accepts: Vec<RichAccept>,
    pub place: Place,
}

/// `rule [family=..] [source address=".."] port port="N[-M]" protocol="tcp" accept`.
#[derive(Debug, Clone)]
pub struct RichAccept {
    pub source: Option<Net>,
    pub ports: Vec<(u16, u16)>,
}

/// `firewall-cmd --state` prints `running` (or `not running` on stderr, exit 252).
pub fn is_running(state_output: &str) -> bool {
    state_output.lines().any(|l| l.trim() == "running")
}

/// TCP ports of firewalld services: from the bundle's service XML when it has them
/// (/etc/firewalld/services overrides /usr/lib/firewalld/services), else a few well-known ones.
/// A service known nowhere may open any port: it gets the benefit of the doubt.
#[derive(Debug, Clone, Default)]
pub struct Services {
    pub by_name: BTreeMap<String, Vec<(u16, u16)>>,
}

/// Stock firewalld service definitions (firewalld 1.x `/usr/lib/firewalld/services`), TCP only.
const SERVICES: &[(&str, &[(u16, u16)])] = &[
    ("ssh", &[(22, 22)]),
    ("http", &[(80, 80)]),
    ("https", &[(443, 443)]),
    ("dhcpv6-client", &[]),
    ("cockpit", &[(9090, 9090)]),
    ("mdns", &[]),
    ("samba-client", &[]),
    (
        "high-availability",
        &[
            (2224, 2224),
            (3121, 3121),
            (5403, 5403),
            (9929, 9929),
            (21064, 21064),
        ],
    ),
];

impl Services {
    /// Whether `service` opens tcp `port`: Some(answer), or None when the service is unknown.
    pub fn opens(&self, service: &str, port: u16) -> Option<bool> {
        let in_range = |(lo, hi): &(u16, u16)| (*lo..=*hi).contains(&port);
        if let Some(ranges) = self.by_name.get(service) {
            return Some(ranges.iter().any(in_range));
        }
        SERVICES
            .iter()
            .find(|(name, _)| *name == service)
            .map(|(_, ranges)| ranges.iter().any(in_range))
    }

    /// Adds a service XML (`<service><port protocol="tcp" port="7788-7799"/></service>`).
    pub fn add_xml(&mut self, name: &str, text: &str) {
        let mut ports = Vec::new();
        for tag in tags(text) {
            if tag.name == "port" && tag.attr("protocol").unwrap_or("tcp") == "tcp" {
                if let Some(range) = tag.attr("port").and_then(port_range) {
                    ports.push(range);
                }
            }
        }
        self.by_name.insert(name.to_string(), ports);
    }
}

/// One XML start tag: name and attributes. firewalld's files are flat and simple; a tag scanner
/// reads them without an XML library (comments and declarations are skipped).
#[derive(Debug)]
struct Tag<'a> {
    name: &'a str,
    closing: bool,
    body: &'a str,
}

impl<'a> Tag<'a> {
    fn attr(&self, name: &str) -> Option<&'a str> {
        let mut rest = self.body;
        while let Some(at) = rest.find(name) {
            let before_ok = at == 0 || rest.as_bytes()[at - 1].is_ascii_whitespace();
            let after = rest[at + name.len()..].trim_start();
            if before_ok {
                if let Some(after) = after.strip_prefix('=') {
                    let after = after.trim_start();
                    let quote = after.chars().next()?;
                    if quote == '"' || quote == '\'' {
                        let value = &after[1..];
                        return value.find(quote).map(|end| &value[..end]);
                    }
                }
            }
            rest = &rest[at + name.len()..];
        }
        None
    }
}

fn tags(text: &str) -> impl Iterator<Item = Tag<'_>> {
    text.split('<').skip(1).filter_map(|chunk| {
        let inner = chunk.split('>').next()?;
        if inner.starts_with('?') || inner.starts_with('!') {
            return None;
        }
        let closing = inner.starts_with('/');
        let inner = inner.trim_start_matches('/').trim_end_matches('/');
        let name_end = inner
            .find(|c: char| c.is_whitespace())
            .unwrap_or(inner.len());
        Some(Tag {
            name: &inner[..name_end],
            closing,
            body: &inner[name_end..],
        })
    })
}

/// A rich rule of a zone file being read: (source, tcp ports, accepts, names a service).
type RuleXml = (Option<Net>, Vec<(u16, u16)>, bool, bool);

/// A permanent zone file `/etc/firewalld/zones/NAME.xml`.
pub fn zone_xml(path: &str, name: &str, text: &str) -> Zone {
    let mut zone = Zone {
        name: name.to_string(),
        target: "default".to_string(),
        place: Place::file(path),
        ..Zone::default()
    };
    // Inside a `<rule>`: its source, ports and action, collected until `</rule>`.
    let mut rule: Option<RuleXml> = None;
    for tag in tags(text) {
        match (tag.name, tag.closing) {
            ("zone", false) => {
                if let Some(target) = tag.attr("target") {
                    zone.target = target.to_string();
                }
            }
            ("rule", false) => rule = Some((None, Vec::new(), false, false)),
            ("rule", true) => {
                if let Some((source, ports, accept, other)) = rule.take() {
                    if accept && !other && !ports.is_empty() {
                        zone.rich_accepts.push(RichAccept { source, ports });
                    }
                }
            }
            ("source", false) => {
                let net = tag.attr("address").and_then(Net::parse);
                match rule.as_mut() {
                    Some(r) => r.0 = net,
                    None => zone.sources.extend(net),
                }
            }
            ("interface", false) if rule.is_none() => {
                if let Some(name) = tag.attr("name") {
                    zone.interfaces.push(name.to_string());
                }
            }
            ("service", false) => match rule.as_mut() {
                // A rich rule for a service: its ports are the service's; not modelled.
                Some(r) => r.3 = true,
                None => zone.services.extend(tag.attr("name").map(str::to_string)),
            },
            ("port", false) => {
                let tcp = tag.attr("protocol").unwrap_or("tcp") == "tcp";
                let range = tag.attr("port").and_then(port_range).filter(|_| tcp);
                match rule.as_mut() {
                    Some(r) => r.1.extend(range),
                    None => zone.ports.extend(range),
                }
            }
            ("accept", false) => {
                if let Some(r) = rule.as_mut() {
                    r.2 = true;
                }
            }
            _ => {}
        }
    }
    zone
}

/// `DefaultZone=` of firewalld.conf.
pub fn default_zone(conf: &str) -> Option<String> {
    conf.lines().find_map(|l| {
        let (key, value) = l.trim().split_once('=')?;
        (key.trim() == "DefaultZone" && !l.trim_start().starts_with('#'))
            .then(|| value.trim().to_string())
            .filter(|v| !v.is_empty())
    })
}

fn port_range(text: &str) -> Option<(u16, u16)> {
    let (lo, hi) = text.split_once('-').unwrap_or((text, text));
    let lo: u16 = lo.trim().parse().ok()?;
    let hi: u16 = hi.trim().parse().ok()?;
    Some((lo.min(hi), lo.max(hi)))
}

fn attribute<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=\"");
    let at = text.find(&key)? + key.len();
    let end = text[at..].find('"')?;
    Some(&text[at..at + end])
}

fn rich_rule(text: &str) -> Option<RichAccept> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if !words.contains(&"accept") || text.contains(" service name=") {
        return None;
    }
    let port_at = text.find(" port port=\"")?;
    let port_text = attribute(&text[port_at..], "port")?;
    let protocol = attribute(&text[port_at..], "protocol").unwrap_or("tcp");
    if protocol != "tcp" {
        return None;
    }
    let source = text
        .find("source address=\"")
        .and_then(|at| attribute(&text[at..], "address"))
        .and_then(Net::parse);
    Some(RichAccept {
        source,
        ports: vec![port_range(port_text)?],
    })
}

/// Parses one or more zone blocks.
pub fn parse(path: &str, text: &str) -> Vec<Zone> {
    let mut zones: Vec<Zone> = Vec::new();
    let mut in_rich = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            in_rich = false;
            continue;
        }
        let indented = line.starts_with(' ') || line.starts_with('\t');
        if !indented {
            let mut words = line.split_whitespace();
            let name = words.next().unwrap_or("").to_string();
            // `public (active)`, `public (default, active)`, `(active, default)`, `(default)`.
            let flags: Vec<&str> = line
                .split_once('(')
                .map(|(_, f)| f.trim_end().trim_end_matches(')'))
                .map(|f| f.split(',').map(str::trim).collect())
                .unwrap_or_default();
            zones.push(Zone {
                name,
                active: flags.contains(&"active"),
                default: flags.contains(&"default"),
                target: "default".to_string(),
                place: Place::new(path, i as u64 + 1, line),
                ..Zone::default()
            });
            in_rich = false;
            continue;
        }
        let Some(zone) = zones.last_mut() else {
            continue;
        };
        let trimmed = line.trim();
        if in_rich && trimmed.starts_with("rule") {
            if let Some(rule) = rich_rule(trimmed) {
                zone.rich_accepts.push(rule);
            }
            continue;
        }
        let Some((key, value)) = trimmed.split_once(':') else {
            continue;
        };
        in_rich = false;
        match key.trim() {
            "target" => zone.target = value.trim().to_string(),
            "ports" => zone.ports.extend(value.split_whitespace().filter_map(|p| {
                let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
                (proto == "tcp").then(|| port_range(port)).flatten()
            })),
            "services" => zone
                .services
                .extend(value.split_whitespace().map(str::to_string)),
            "sources" => zone
                .sources
                .extend(value.split_whitespace().filter_map(Net::parse)),
            "interfaces" => zone
                .interfaces
                .extend(value.split_whitespace().map(str::to_string)),
            "rich rules" => {
                in_rich = true;
                if let Some(rule) = rich_rule(value.trim()) {
                    zone.rich_accepts.push(rule);
                }
            }
            _ => {}
        }
    }
    zones
}

/// Whether the zones accept a new TCP connection to `port` from `source` (unknown source:
/// source-bound rules get the benefit of the doubt).
///
/// Which zones count: those marked active or default. A listing without marks (`--list-all`
/// of one zone, `--permanent`) counts whole. A zone bound only to sources applies only to
/// packets from them. An inactive zone never counts.
pub fn accepts(zones: &[Zone], services: &Services, port: u16, source: Option<IpAddr>) -> bool {
    let marked = zones.iter().any(|z| z.active || z.default);
    zones
        .iter()
        .filter(|z| z.active || z.default || !marked)
        .filter(|z| {
            let source_only = !z.sources.is_empty() && z.interfaces.is_empty() && !z.default;
            match (source_only, source) {
                (true, Some(ip)) => z.sources.iter().any(|n| n.contains(&ip)),
                _ => true,
            }
        })
        .any(|zone| {
            if zone.target.eq_ignore_ascii_case("ACCEPT") {
                return true;
            }
            let in_range = |(lo, hi): &(u16, u16)| (*lo..=*hi).contains(&port);
            if zone.ports.iter().any(in_range) {
                return true;
            }
            if zone
                .services
                .iter()
                .any(|s| services.opens(s, port).unwrap_or(true))
            {
                return true;
            }
            zone.rich_accepts.iter().any(|rule| {
                rule.ports.iter().any(in_range)
                    && match (&rule.source, source) {
                        (Some(net), Some(ip)) => net.contains(&ip),
                        _ => true,
                    }
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::model::parse_ip;

    const LIST_ALL: &str = "public (active)\n  target: default\n  icmp-block-inversion: no\n  interfaces: eth0\n  sources: \n  services: ssh dhcpv6-client\n  ports: 7789/tcp 7790-7795/tcp 7800/udp\n  protocols: \n  masquerade: no\n  forward-ports: \n  source-ports: \n  icmp-blocks: \n  rich rules: \n\trule family=\"ipv4\" source address=\"10.0.0.2\" port port=\"7900\" protocol=\"tcp\" accept\n\trule family=\"ipv4\" source address=\"10.0.0.2\" port port=\"7901\" protocol=\"tcp\" reject\n";

    #[test]
    fn list_all_ports_ranges_services_rich_rules() {
        let zones = parse("commands/firewalld-list-all.txt", LIST_ALL);
        assert_eq!(zones.len(), 1);
        assert!(accepts(&zones, &Services::default(), 7789, None));
        assert!(accepts(&zones, &Services::default(), 7793, None));
        assert!(accepts(&zones, &Services::default(), 22, None));
        assert!(
            !accepts(&zones, &Services::default(), 7800, None),
            "udp only"
        );
        assert!(!accepts(&zones, &Services::default(), 7796, None));
        assert!(accepts(
            &zones,
            &Services::default(),
            7900,
            parse_ip("10.0.0.2")
        ));
        assert!(!accepts(
            &zones,
            &Services::default(),
            7900,
            parse_ip("10.0.0.3")
        ));
        assert!(!accepts(
            &zones,
            &Services::default(),
            7901,
            parse_ip("10.0.0.2")
        ));
    }

    #[test]
    fn list_all_zones_uses_active_ones_and_target() {
        let text = "block\n  target: %%REJECT%%\n  ports: 7789/tcp\n\npublic (active)\n  target: default\n  interfaces: eth0\n  services: ssh\n  ports: \n\ntrusted (active)\n  target: ACCEPT\n  sources: 10.0.0.2\n";
        let zones = parse("x", text);
        assert_eq!(zones.len(), 3);
        // `trusted` is active and accepts everything.
        assert!(accepts(&zones, &Services::default(), 7789, None));
        let without_trusted: Vec<Zone> =
            zones.into_iter().filter(|z| z.name != "trusted").collect();
        assert!(
            !accepts(&without_trusted, &Services::default(), 7789, None),
            "inactive block zone does not count"
        );
    }

    #[test]
    fn headers_in_either_order_and_inactive_zones() {
        let text = "block\n  target: %%REJECT%%\n  ports: 7789/tcp\n\ninternal (active, default)\n  target: default\n  interfaces: eth1\n  ports: 7789/tcp\n\nwork (default, active)\n  target: default\n  ports: 7790/tcp\n\ndmz\n  target: ACCEPT\n";
        let zones = parse("x", text);
        assert!(zones[1].active && zones[1].default);
        assert!(zones[2].active && zones[2].default);
        let none = Services::default();
        assert!(accepts(&zones, &none, 7789, None));
        assert!(accepts(&zones, &none, 7790, None));
        // dmz accepts everything but is not active: it does not count.
        assert!(!accepts(&zones, &none, 7791, None));
    }

    #[test]
    fn source_zones_apply_to_their_sources_only() {
        let text = "public (active)\n  target: default\n  interfaces: eth0\n  services: ssh\n\ntrusted (active)\n  target: ACCEPT\n  sources: 10.0.0.2\n";
        let zones = parse("x", text);
        let none = Services::default();
        assert!(accepts(&zones, &none, 7789, parse_ip("10.0.0.2")));
        assert!(!accepts(&zones, &none, 7789, parse_ip("10.0.0.3")));
        assert!(accepts(&zones, &none, 7789, None));
    }

    #[test]
    fn zone_and_service_xml() {
        let zone = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<zone>\n  <short>Public</short>\n  <service name=\"ssh\"/>\n  <service name=\"drbd-r0\"/>\n  <port port=\"7000-7010\" protocol=\"tcp\"/>\n  <port port=\"7788\" protocol=\"udp\"/>\n  <interface name=\"eth0\"/>\n  <rule family=\"ipv4\">\n    <source address=\"10.0.0.2/32\"/>\n    <port port=\"7900\" protocol=\"tcp\"/>\n    <accept/>\n  </rule>\n  <rule family=\"ipv4\">\n    <port port=\"7901\" protocol=\"tcp\"/>\n    <reject/>\n  </rule>\n</zone>\n";
        let z = zone_xml("files/etc/firewalld/zones/public.xml", "public", zone);
        assert_eq!(z.interfaces, ["eth0"]);
        assert_eq!(z.ports, [(7000, 7010)]);
        assert_eq!(z.rich_accepts.len(), 1);
        let zones = vec![z];
        let mut services = Services::default();
        // Unknown service: benefit of the doubt.
        assert!(accepts(&zones, &services, 7789, None));
        services.add_xml(
            "drbd-r0",
            "<service><port protocol=\"tcp\" port=\"7789\"/></service>",
        );
        assert!(accepts(&zones, &services, 7789, None));
        assert!(!accepts(&zones, &services, 7790, None));
        assert!(accepts(&zones, &services, 7900, parse_ip("10.0.0.2")));
        assert!(!accepts(&zones, &services, 7900, parse_ip("10.0.0.3")));
        assert!(!accepts(&zones, &services, 7901, None));
        let target = zone_xml(
            "p",
            "trusted",
            "<zone target=\"ACCEPT\"><short>T</short></zone>",
        );
        assert_eq!(target.target, "ACCEPT");
        assert_eq!(
            default_zone("# c\nDefaultZone=internal\n").as_deref(),
            Some("internal")
        );
    }

    #[test]
    fn state_and_garbage() {
        assert!(is_running("running\n"));
        assert!(!is_running("not running\n"));
        let _ = parse("x", "  ports: a-b/tcp\n\trule port port=\"\nz\n  rich rules: rule port port=\"1-\" accept\n");
        let _ = zone_xml(
            "x",
            "z",
            "<<<>>><rule><port port='1'/><accept/></rule></rule><source address=\"",
        );
        let _ = zone_xml("x", "z", "<zone target=");
    }
}
