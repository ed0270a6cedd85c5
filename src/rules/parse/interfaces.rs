//! Addresses held by local interfaces: `ip a` (Linux) and `ipconfig /all` (Windows; labels are
//! localized, so only lines naming IPv4/IPv6/"IP Address" are read, and only the address itself).
use std::net::IpAddr;

use crate::rules::model::parse_ip;

/// `ip a`: `inet 192.168.100.3/24 brd ... scope global eth0`, `inet6 fd00::1/64 scope global`.
pub fn ip_a(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("inet") | Some("inet6") => {
                    let addr = words.next()?;
                    parse_ip(addr.split('/').next().unwrap_or(addr))
                }
                _ => None,
            }
        })
        .collect()
}

/// `ipconfig /all`: `IPv4 Address. . . . . : 10.0.0.1(Preferred)`, `IPv6 주소 . . : fd00::1(기본 설정)`,
/// `Link-local IPv6 Address . . : fe80::1%12(Preferred)`, older `IP Address. . . : 10.0.0.1`.
pub fn ipconfig(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|line| {
            let lower = line.to_ascii_lowercase();
            if !(lower.contains("ipv4") || lower.contains("ipv6") || lower.contains("ip address")) {
                return None;
            }
            let (_, value) = line.split_once(": ")?;
            let value = value.trim();
            let token = value.split(['(', ' ']).next().unwrap_or(value);
            parse_ip(token)
        })
        .collect()
}

/// Addresses an interface configuration assigns: ifcfg `IPADDR=`, `IPADDR1=`, `IPV6ADDR=`,
/// `IPV6ADDR_SECONDARIES=`; Debian `address 10.0.0.1[/24]` lines.
pub fn configured(path: &str, text: &str) -> Vec<IpAddr> {
    let debian = path.contains("/etc/network/interfaces");
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        if debian {
            let mut words = line.split_whitespace();
            if words.next() == Some("address") {
                if let Some(ip) = words.next().and_then(|w| parse_ip(w.split('/').next()?)) {
                    out.push(ip);
                }
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.starts_with("IPADDR") || key.starts_with("IPV6ADDR") {
            let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
            for word in value.split_whitespace() {
                if let Some(ip) = parse_ip(word.split('/').next().unwrap_or(word)) {
                    out.push(ip);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_addresses_from_ifcfg_and_interfaces() {
        let ifcfg = "DEVICE=eth1\nBOOTPROTO=static\nIPADDR=\"192.168.56.11\"\nNETMASK=255.255.255.0\nIPV6ADDR=fd00::11/64\n#IPADDR1=1.1.1.1\n";
        let ips = configured("files/etc/sysconfig/network-scripts/ifcfg-eth1", ifcfg);
        assert_eq!(ips.len(), 2);
        let deb =
            "auto eth1\niface eth1 inet static\n    address 10.1.1.5/24\n    gateway 10.1.1.1\n";
        let ips = configured("files/etc/network/interfaces", deb);
        assert_eq!(ips, vec![parse_ip("10.1.1.5").expect("ip")]);
    }

    #[test]
    fn ip_a_lists_v4_and_v6() {
        let text = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\n    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n    inet 127.0.0.1/8 scope host lo\n2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n    inet 192.168.100.3/24 brd 192.168.100.255 scope global eth0\n    inet 192.168.100.10/24 scope global secondary eth0:0\n    inet6 fe80::20c:29ff:fe12:3456/64 scope link\n";
        let ips = ip_a(text);
        assert_eq!(ips.len(), 4);
        assert!(ips.contains(&parse_ip("192.168.100.10").expect("ip")));
    }

    #[test]
    fn ipconfig_english_and_korean() {
        let text = "Windows IP Configuration\n\n   Host Name . . . . . . . . . . . . : NODE1\nEthernet adapter Ethernet0:\n   Physical Address. . . . . . . . . : 00-0C-29-12-34-56\n   Link-local IPv6 Address . . . . . : fe80::1%12(Preferred)\n   IPv4 Address. . . . . . . . . . . : 10.0.0.1(Preferred)\n   Subnet Mask . . . . . . . . . . . : 255.255.255.0\n   Default Gateway . . . . . . . . . : 10.0.0.254\n   IPv4 주소 . . . . . . . . . : 10.0.0.5(기본 설정)\n";
        let ips = ipconfig(text);
        assert_eq!(ips.len(), 3);
        assert!(!ips.contains(&parse_ip("10.0.0.254").expect("ip")));
        assert!(ips.contains(&parse_ip("10.0.0.5").expect("ip")));
    }
}
