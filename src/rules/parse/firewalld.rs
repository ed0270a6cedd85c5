//! firewalld: `firewall-cmd --state`, and `--list-all` / `--list-all-zones` (runtime or
//! `--permanent`) listings: zones with target, ports, services, sources and rich rules.
use std::net::IpAddr;

use crate::rules::model::{Net, Place};

#[derive(Debug, Clone, Default)]
pub struct Zone {
    pub name: String,
    pub active: bool,
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

/// Well-known firewalld services and their TCP ports. A service not listed is not taken to open
/// any port (we cannot know what a custom service contains).
const SERVICES: &[(&str, u16, u16)] = &[("ssh", 22, 22), ("http", 80, 80), ("https", 443, 443)];

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
            let active = line.contains("active)");
            zones.push(Zone {
                name,
                active,
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
/// source-bound rules get the benefit of the doubt). Zones marked active are used; a listing of
/// a single zone (`--list-all`) counts as active.
pub fn accepts(zones: &[Zone], port: u16, source: Option<IpAddr>) -> bool {
    let any_active = zones.iter().any(|z| z.active);
    zones
        .iter()
        .filter(|z| z.active || !any_active)
        .any(|zone| {
            if zone.target.eq_ignore_ascii_case("ACCEPT") {
                return true;
            }
            let in_range = |(lo, hi): &(u16, u16)| (*lo..=*hi).contains(&port);
            if zone.ports.iter().any(in_range) {
                return true;
            }
            if zone.services.iter().any(|s| {
                SERVICES
                    .iter()
                    .any(|(name, lo, hi)| s == name && (*lo..=*hi).contains(&port))
            }) {
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
        assert!(accepts(&zones, 7789, None));
        assert!(accepts(&zones, 7793, None));
        assert!(accepts(&zones, 22, None));
        assert!(!accepts(&zones, 7800, None), "udp only");
        assert!(!accepts(&zones, 7796, None));
        assert!(accepts(&zones, 7900, parse_ip("10.0.0.2")));
        assert!(!accepts(&zones, 7900, parse_ip("10.0.0.3")));
        assert!(!accepts(&zones, 7901, parse_ip("10.0.0.2")));
    }

    #[test]
    fn list_all_zones_uses_active_ones_and_target() {
        let text = "block\n  target: %%REJECT%%\n  ports: 7789/tcp\n\npublic (active)\n  target: default\n  interfaces: eth0\n  services: ssh\n  ports: \n\ntrusted (active)\n  target: ACCEPT\n  sources: 10.0.0.2\n";
        let zones = parse("x", text);
        assert_eq!(zones.len(), 3);
        // `trusted` is active and accepts everything.
        assert!(accepts(&zones, 7789, None));
        let without_trusted: Vec<Zone> =
            zones.into_iter().filter(|z| z.name != "trusted").collect();
        assert!(
            !accepts(&without_trusted, 7789, None),
            "inactive block zone does not count"
        );
    }

    #[test]
    fn state_and_garbage() {
        assert!(is_running("running\n"));
        assert!(!is_running("not running\n"));
        let _ = parse("x", "  ports: a-b/tcp\n\trule port port=\"\nz\n  rich rules: rule port port=\"1-\" accept\n");
    }
}
