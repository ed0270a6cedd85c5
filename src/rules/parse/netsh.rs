//! Windows Firewall: profiles from `netsh advfirewall show allprofiles` / `show currentprofile`,
//! rules from `netsh advfirewall firewall show rule name=all verbose` or, language-neutral, from
//! the registry values under `...\SharedAccess\Parameters\FirewallPolicy\FirewallRules`
//! (`v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=7789|...`, `reg query`).
//!
//! netsh labels are localized. English labels are read, and Korean ones where known (only
//! "규칙 이름" is confirmed from a public Korean output; see docs/windows.md). Values that are not
//! translated (`BlockInbound`, `TCP`, port numbers, addresses) are read in any language, and the
//! profile blocks of `show allprofiles` are recognised by their fixed order (Domain, Private,
//! Public). A field that cannot be read leaves the rule undecided, and an undecided rule is
//! given the benefit of the doubt: it may allow, it does not block.
use std::net::IpAddr;

use crate::rules::model::{Net, Place};

pub const DOMAIN: u8 = 1;
pub const PRIVATE: u8 = 2;
pub const PUBLIC: u8 = 4;
pub const ALL_PROFILES: u8 = DOMAIN | PRIVATE | PUBLIC;

pub fn profile_names(mask: u8) -> String {
    let names: Vec<&str> = [(DOMAIN, "Domain"), (PRIVATE, "Private"), (PUBLIC, "Public")]
        .iter()
        .filter(|(bit, _)| mask & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    names.join(",")
}

/// Block boundaries in both outputs are lines of dashes under a heading line.
fn is_rule_line(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 10 && t.chars().all(|c| c == '-')
}

/// One profile block of `show allprofiles` / `show currentprofile`.
#[derive(Debug, Clone)]
pub struct ProfileState {
    /// Which profile; `None` when the heading is in a language we do not read.
    pub mask: Option<u8>,
    /// `State ON/OFF`; `None` when not readable.
    pub on: Option<bool>,
    /// `Firewall Policy AllowInbound,...`: no inbound filtering at all.
    pub allows_inbound: bool,
    /// `BlockInboundAlways`: inbound allow rules are ignored.
    pub block_always: bool,
    pub place: Place,
}

fn heading_profile(heading: &str) -> Option<u8> {
    let lower = heading.to_lowercase();
    if lower.contains("domain") || lower.contains("도메인") {
        Some(DOMAIN)
    } else if lower.contains("private") || lower.contains("개인") || lower.contains("프라이빗")
    {
        Some(PRIVATE)
    } else if lower.contains("public") || lower.contains("공용") || lower.contains("퍼블릭") {
        Some(PUBLIC)
    } else {
        None
    }
}

fn on_off(value: &str) -> Option<bool> {
    match value.trim().to_uppercase().as_str() {
        "ON" | "켜기" | "켬" | "사용" => Some(true),
        "OFF" | "끄기" | "끔" | "사용 안 함" => Some(false),
        _ => None,
    }
}

/// Profile blocks. In `show allprofiles` the blocks come in a fixed order (Domain, Private,
/// Public), which names them when the heading is in an unknown language (`by_order`).
pub fn parse_profiles(path: &str, text: &str, by_order: bool) -> Vec<ProfileState> {
    let lines: Vec<&str> = text.lines().collect();
    let mut states: Vec<ProfileState> = Vec::new();
    let mut in_block = false;
    for (i, line) in lines.iter().enumerate() {
        if is_rule_line(line) {
            let heading = lines[..i]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .copied()
                .unwrap_or("");
            // Only the profile blocks: `Logging:` and the like have no dashes.
            let order = [DOMAIN, PRIVATE, PUBLIC];
            let mask = heading_profile(heading)
                .or_else(|| by_order.then(|| order.get(states.len()).copied()).flatten());
            states.push(ProfileState {
                mask,
                on: None,
                allows_inbound: false,
                block_always: false,
                place: Place::new(path, i as u64, heading),
            });
            in_block = true;
            continue;
        }
        let Some(state) = states.last_mut().filter(|_| in_block) else {
            continue;
        };
        let trimmed = line.trim();
        if trimmed.is_empty() {
            in_block = false;
            continue;
        }
        // The state is the block's first line whatever its label's language.
        if state.on.is_none() && state.place.line == Some(i as u64 - 1) {
            let value = trimmed.split_whitespace().last().unwrap_or("");
            state.on = on_off(value).or_else(|| {
                let (_, v) = trimmed.split_once(char::is_whitespace)?;
                on_off(v)
            });
            if state.on.is_some() {
                state.place = Place::new(path, i as u64 + 1, line);
            }
        }
        if trimmed.contains("AllowInbound") {
            state.allows_inbound = true;
        }
        if trimmed.contains("BlockInboundAlways") {
            state.block_always = true;
        }
    }
    states
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    Block,
    /// Allow when IPsec-authenticated: we cannot tell, so it may allow.
    Bypass,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protocol {
    Any,
    Tcp,
    Other(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Addr {
    Net(Net),
    Range(IpAddr, IpAddr),
    /// LocalSubnet, DNS, DHCP, WINS, DefaultGateway, Intranet...: not decidable from a bundle.
    Keyword(String),
}

#[derive(Debug, Clone)]
pub struct FirewallRule {
    pub name: String,
    pub place: Place,
    pub enabled: Option<bool>,
    pub inbound: Option<bool>,
    pub action: Option<Action>,
    /// Profile mask; `None` when not readable.
    pub profiles: Option<u8>,
    /// `None` when not readable.
    pub protocol: Option<Protocol>,
    /// `Some(empty)` = any port (none given); `None` = not readable.
    pub local_ports: Option<Vec<(u16, u16)>>,
    pub any_local_port: bool,
    /// Empty = any remote address; `None` = not readable.
    pub remote: Option<Vec<Addr>>,
    /// Program path, when the rule is restricted to one.
    pub program: Option<String>,
    /// Service short name, when the rule is restricted to one (`*`: any service).
    pub service: Option<String>,
    pub grouping: Option<String>,
    pub edge: Option<String>,
}

impl FirewallRule {
    fn new(name: &str, place: Place) -> FirewallRule {
        FirewallRule {
            name: name.to_string(),
            place,
            enabled: None,
            inbound: None,
            action: None,
            profiles: None,
            protocol: None,
            local_ports: Some(Vec::new()),
            any_local_port: true,
            remote: Some(Vec::new()),
            program: None,
            service: None,
            grouping: None,
            edge: None,
        }
    }
}

fn is_any(value: &str) -> bool {
    let v = value.trim();
    v.is_empty() || v.eq_ignore_ascii_case("any") || v == "모두"
}

fn yes(value: &str) -> Option<bool> {
    match value.trim().to_lowercase().as_str() {
        "yes" | "true" | "예" => Some(true),
        "no" | "false" | "아니요" => Some(false),
        _ => None,
    }
}

fn action(value: &str) -> Option<Action> {
    match value.trim().to_lowercase().as_str() {
        "allow" | "허용" => Some(Action::Allow),
        "block" | "차단" => Some(Action::Block),
        "bypass" | "우회" => Some(Action::Bypass),
        _ => None,
    }
}

fn direction(value: &str) -> Option<bool> {
    match value.trim().to_lowercase().as_str() {
        "in" | "들어오기" | "인바운드" => Some(true),
        "out" | "나가기" | "아웃바운드" => Some(false),
        _ => None,
    }
}

fn protocol(value: &str) -> Option<Protocol> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if is_any(v) || v == "256" {
        return Some(Protocol::Any);
    }
    if v.eq_ignore_ascii_case("tcp") || v == "6" {
        return Some(Protocol::Tcp);
    }
    Some(Protocol::Other(v.to_string()))
}

/// `Domain,Private,Public`, `Any`; registry `Profile=` values are the same English words.
fn profiles(value: &str) -> Option<u8> {
    if is_any(value) {
        return Some(ALL_PROFILES);
    }
    let mut mask = 0;
    for part in value.split(',') {
        mask |= heading_profile(part)?;
    }
    Some(mask)
}

/// Local ports: numbers and ranges; named sets (RPC, RPC-EPMap, IPHTTPS, Teredo...) never hold
/// a replication port and add nothing.
fn port_list(value: &str, into: &mut Vec<(u16, u16)>) {
    for part in value.split(',') {
        let part = part.trim();
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(lo), Ok(hi)) = (lo.trim().parse::<u16>(), hi.trim().parse::<u16>()) {
            into.push((lo.min(hi), lo.max(hi)));
        }
    }
}

fn parse_addr(part: &str) -> Option<Addr> {
    let part = part.trim();
    if part.is_empty() {
        return None;
    }
    if let Some((a, b)) = part.split_once('-') {
        if let (Some(a), Some(b)) = (Net::parse(a.trim()), Net::parse(b.trim())) {
            return Some(Addr::Range(a.ip, b.ip));
        }
    }
    Some(match Net::parse(part) {
        Some(net) => Addr::Net(net),
        None => Addr::Keyword(part.to_string()),
    })
}

fn label_and_value(line: &str) -> Option<(String, &str)> {
    let (label, value) = line.split_once(':')?;
    let label: String = label
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    Some((label, value.trim()))
}

/// `netsh advfirewall firewall show rule name=all verbose`.
pub fn parse_rules(path: &str, text: &str) -> Vec<FirewallRule> {
    let lines: Vec<&str> = text.lines().collect();
    let mut rules = Vec::new();
    let mut current: Option<FirewallRule> = None;
    for (i, line) in lines.iter().enumerate() {
        if is_rule_line(line) {
            if let Some(rule) = current.take() {
                rules.push(rule);
            }
            let heading = i
                .checked_sub(1)
                .and_then(|h| lines.get(h))
                .copied()
                .unwrap_or("");
            let name = heading.split_once(':').map(|(_, n)| n.trim()).unwrap_or("");
            current = Some(FirewallRule::new(name, Place::new(path, i as u64, heading)));
            continue;
        }
        let (Some(rule), Some((label, value))) = (current.as_mut(), label_and_value(line)) else {
            continue;
        };
        match label.as_str() {
            "enabled" | "사용" => rule.enabled = yes(value),
            "direction" | "방향" => rule.inbound = direction(value),
            "action" | "작업" | "동작" => rule.action = action(value),
            "profiles" | "프로필" => rule.profiles = profiles(value),
            "grouping" | "그룹화" | "그룹" => {
                rule.grouping = Some(value.to_string()).filter(|v| !v.is_empty())
            }
            "protocol" | "프로토콜" => rule.protocol = protocol(value),
            "localport" | "로컬포트" => {
                if is_any(value) {
                    rule.any_local_port = true;
                } else {
                    rule.any_local_port = false;
                    let mut ports = Vec::new();
                    port_list(value, &mut ports);
                    rule.local_ports = Some(ports);
                }
            }
            "remoteip" | "원격ip" => {
                rule.remote = if is_any(value) {
                    Some(Vec::new())
                } else {
                    value.split(',').map(parse_addr).collect()
                }
            }
            "program" | "프로그램" => {
                rule.program = Some(value.to_string()).filter(|v| !is_any(v))
            }
            "service" | "서비스" => {
                rule.service = Some(value.to_string()).filter(|v| !is_any(v))
            }
            "edgetraversal" | "에지통과" => rule.edge = Some(value.to_string()),
            _ => {}
        }
    }
    if let Some(rule) = current {
        rules.push(rule);
    }
    rules
}

/// `reg query "HKLM\...\FirewallPolicy\FirewallRules"`: `    <name>    REG_SZ    v2.10|...|`.
pub fn parse_registry_rules(path: &str, text: &str) -> Vec<FirewallRule> {
    let mut rules = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some((name, value)) = line.split_once("REG_SZ") else {
            continue;
        };
        let value = value.trim();
        if !value.starts_with("v2.") {
            continue;
        }
        let mut rule = FirewallRule::new(name.trim(), Place::new(path, i as u64 + 1, line));
        // Absent keys mean "any" in this format: every protocol, port, profile and address.
        rule.protocol = Some(Protocol::Any);
        rule.profiles = Some(ALL_PROFILES);
        let mut profile_mask = 0;
        let mut ports = Vec::new();
        let mut addrs = Vec::new();
        for field in value.split('|').skip(1) {
            let Some((key, v)) = field.split_once('=') else {
                continue;
            };
            match key {
                "Action" => rule.action = action(v),
                "Active" => rule.enabled = yes(v),
                "Dir" => rule.inbound = direction(v),
                "Protocol" => rule.protocol = protocol(v),
                "Profile" => profile_mask |= heading_profile(v).unwrap_or(0),
                k if k.starts_with("LPort") => {
                    rule.any_local_port = false;
                    port_list(v, &mut ports);
                }
                k if k.starts_with("RA4") || k.starts_with("RA6") => {
                    addrs.extend(parse_addr(v));
                }
                "App" => rule.program = Some(v.to_string()),
                "Svc" => rule.service = Some(v.to_string()),
                "Name" => rule.name = v.to_string(),
                "EmbedCtxt" => rule.grouping = Some(v.to_string()),
                "Edge" => rule.edge = Some(v.to_string()),
                _ => {}
            }
        }
        if profile_mask != 0 {
            rule.profiles = Some(profile_mask);
        }
        rule.local_ports = Some(ports);
        rule.remote = Some(addrs);
        rules.push(rule);
    }
    rules
}

/// Does a rule apply to a new TCP connection to `port` from `source`, in one of `profiles`?
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applies {
    Yes,
    No,
    /// Cannot be decided; the reason names the field.
    Unknown(String),
}

/// The program or service a rule is restricted to is the replication engine: BSR's kernel
/// driver accepts connections as `System`; DRX and the BSR service carry their names.
fn replication_program(path: &str) -> bool {
    let name = path
        .rsplit(['\\', '/'])
        .next()
        .unwrap_or(path)
        .to_lowercase();
    name == "system" || name.contains("drx") || name.contains("bsr")
}

pub fn applies(rule: &FirewallRule, port: u16, source: Option<IpAddr>, profiles: u8) -> Applies {
    // Every field is checked: one that excludes the connection decides even when another
    // field could not be read.
    let mut unknown: Option<String> = None;
    let mut unread = |field: &str| {
        unknown.get_or_insert_with(|| format!("rule '{}': {field} unreadable", rule.name));
    };
    match rule.enabled {
        Some(false) => return Applies::No,
        None => unread("Enabled"),
        Some(true) => {}
    }
    match rule.inbound {
        Some(false) => return Applies::No,
        None => unread("Direction"),
        Some(true) => {}
    }
    match rule.profiles {
        Some(mask) if mask & profiles == 0 => return Applies::No,
        None => unread("Profiles"),
        Some(_) => {}
    }
    match &rule.protocol {
        Some(Protocol::Other(_)) => return Applies::No,
        None => unread("Protocol"),
        Some(_) => {}
    }
    if !rule.any_local_port {
        match &rule.local_ports {
            Some(ranges) if !ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&port)) => {
                return Applies::No
            }
            None => unread("LocalPort"),
            Some(_) => {}
        }
    }
    if let Some(program) = &rule.program {
        if !replication_program(program) {
            return Applies::No;
        }
    }
    if let Some(service) = &rule.service {
        if service != "*" && !replication_program(service) {
            return Applies::No;
        }
    }
    match &rule.remote {
        None => unread("RemoteIP"),
        Some(remote) if remote.is_empty() => {}
        Some(remote) => match source {
            None => {
                unknown.get_or_insert_with(|| {
                    format!(
                        "rule '{}': RemoteIP is restricted and the peer's address is unknown",
                        rule.name
                    )
                });
            }
            Some(source) => {
                let mut keyword = None;
                let mut admitted = false;
                for addr in remote {
                    match addr {
                        Addr::Net(net) if net.contains(&source) => admitted = true,
                        Addr::Range(lo, hi) if lo <= &source && &source <= hi => admitted = true,
                        Addr::Keyword(k) => keyword = Some(k.clone()),
                        _ => {}
                    }
                }
                if !admitted {
                    match keyword {
                        Some(k) => {
                            unknown.get_or_insert_with(|| {
                                format!("rule '{}': RemoteIP {k} cannot be resolved", rule.name)
                            });
                        }
                        None => return Applies::No,
                    }
                }
            }
        },
    }
    match unknown {
        Some(why) => Applies::Unknown(why),
        None => Applies::Yes,
    }
}

/// How Windows decides a new inbound TCP connection.
#[derive(Debug, Clone)]
pub struct Decision {
    pub allowed: bool,
    /// The rule (or profile) that decided a refusal.
    pub by: Option<Place>,
    pub reason: String,
    /// What could not be read, for the finding's detail.
    pub notes: Vec<String>,
}

/// Block rules win over allow rules; an allow rule that applies, or might apply, lets the
/// connection in; `BlockInboundAlways` ignores allow rules.
pub fn decide(
    rules: &[FirewallRule],
    port: u16,
    source: Option<IpAddr>,
    profiles: u8,
    block_always: Option<&Place>,
) -> Decision {
    let mut notes = Vec::new();
    for rule in rules.iter().filter(|r| r.action == Some(Action::Block)) {
        match applies(rule, port, source, profiles) {
            Applies::Yes => {
                return Decision {
                    allowed: false,
                    by: Some(rule.place.clone()),
                    reason: format!("block rule '{}' applies", rule.name),
                    notes,
                }
            }
            Applies::Unknown(why) => notes.push(format!("{why} (block rule not counted)")),
            Applies::No => {}
        }
    }
    if let Some(place) = block_always {
        return Decision {
            allowed: false,
            by: Some(place.clone()),
            reason: "the profile blocks all inbound connections (BlockInboundAlways)".to_string(),
            notes,
        };
    }
    for rule in rules.iter().filter(|r| r.action != Some(Action::Block)) {
        if applies(rule, port, source, profiles) != Applies::No {
            return Decision {
                allowed: true,
                by: None,
                reason: String::new(),
                notes,
            };
        }
    }
    Decision {
        allowed: false,
        by: None,
        reason: format!(
            "no enabled inbound allow rule for tcp/{port} in profile {} without a program, service or address restriction that excludes the peer",
            profile_names(profiles)
        ),
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CURRENT_PUBLIC: &str =
        include_str!("../../../tests/realworld/windows/netsh-currentprofile-public.en.txt");
    const APP_RULE: &str =
        include_str!("../../../tests/realworld/windows/netsh-rules-app-rule.en.txt");
    const PORT_RULES: &str =
        include_str!("../../../tests/realworld/windows/netsh-rules-ports.en.txt");
    const REGISTRY_VALUES: &str =
        include_str!("../../../tests/realworld/windows/firewallrules-registry-values.txt");

    const ALLPROFILES: &str = "\nDomain Profile Settings:\n----------------------------------------------------------------------\nState                                 ON\nFirewall Policy                       BlockInbound,AllowOutbound\n\nPrivate Profile Settings:\n----------------------------------------------------------------------\nState                                 OFF\nFirewall Policy                       BlockInbound,AllowOutbound\n\nPublic Profile Settings:\n----------------------------------------------------------------------\nState                                 ON\nFirewall Policy                       BlockInbound,AllowOutbound\nOk.\n";

    fn peer() -> Option<IpAddr> {
        "10.0.0.2".parse().ok()
    }

    #[test]
    fn real_currentprofile_names_the_public_profile() {
        let states = parse_profiles("p", CURRENT_PUBLIC, false);
        assert_eq!(states.len(), 1, "{states:?}");
        assert_eq!(states[0].mask, Some(PUBLIC));
        assert_eq!(states[0].on, Some(true));
        assert!(!states[0].allows_inbound && !states[0].block_always);
        assert_eq!(states[0].place.line, Some(4));
    }

    #[test]
    fn allprofiles_by_label_and_by_order() {
        let states = parse_profiles("p", ALLPROFILES, true);
        let on: Vec<(Option<u8>, Option<bool>)> = states.iter().map(|s| (s.mask, s.on)).collect();
        assert_eq!(
            on,
            vec![
                (Some(DOMAIN), Some(true)),
                (Some(PRIVATE), Some(false)),
                (Some(PUBLIC), Some(true))
            ]
        );
        // Headings in a language we do not read: the fixed order of allprofiles names them,
        // the untranslated values still read.
        let foreign = ALLPROFILES
            .replace("Domain Profile Settings", "Paramètres du profil A")
            .replace("Private Profile Settings", "Paramètres du profil B")
            .replace("Public Profile Settings", "Paramètres du profil C");
        let states = parse_profiles("p", &foreign, true);
        assert_eq!(states[1].mask, Some(PRIVATE));
        assert_eq!(states[2].on, Some(true));
        // currentprofile in an unknown language: no profile named, not guessed.
        assert_eq!(parse_profiles("p", &foreign, false)[0].mask, None);
        let allow = ALLPROFILES.replace("BlockInbound", "AllowInbound");
        assert!(parse_profiles("p", &allow, true)
            .iter()
            .all(|s| s.allows_inbound));
    }

    #[test]
    fn real_app_rule_in_an_off_profile_opens_nothing() {
        // Windows' rule for an allowed application: inbound, Protocol Any, no port, but only in
        // Domain,Private. With Public current it must not count for any port.
        let rules = parse_rules("r", APP_RULE);
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[0].name, "Microsoft Solitaire Collection");
        assert_eq!(rules[0].profiles, Some(DOMAIN | PRIVATE));
        assert_eq!(
            rules[0].grouping.as_deref(),
            Some("Microsoft Solitaire Collection")
        );
        assert_eq!(rules[0].protocol, Some(Protocol::Any));
        let public = decide(&rules, 7789, peer(), PUBLIC, None);
        assert!(!public.allowed, "{public:?}");
        assert!(public.reason.contains("Public"), "{}", public.reason);
        // In the Domain profile the same rule does allow: Protocol Any and no port is every port.
        assert!(decide(&rules, 7789, peer(), DOMAIN, None).allowed);
    }

    #[test]
    fn real_port_rules() {
        let rules = parse_rules("r", PORT_RULES);
        assert_eq!(rules.len(), 3);
        assert!(rules[0].grouping.is_none(), "empty Grouping: is none");
        assert!(decide(&rules, 8080, peer(), ALL_PROFILES, None).allowed);
        assert!(decide(&rules, 80, peer(), PUBLIC, None).allowed);
        // 73 and 136 are outbound remote ports: they open nothing inbound.
        assert!(!decide(&rules, 73, peer(), ALL_PROFILES, None).allowed);
        assert!(!decide(&rules, 7789, peer(), ALL_PROFILES, None).allowed);
    }

    fn registry(values: &str) -> String {
        // `reg query` prints each value as `    <name>    REG_SZ    <data>`.
        values
            .lines()
            .enumerate()
            .map(|(i, v)| format!("    rule-{i}    REG_SZ    {v}\r\n"))
            .collect()
    }

    #[test]
    fn real_registry_values_read_without_labels() {
        let text = format!("\r\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\SharedAccess\\Parameters\\FirewallPolicy\\FirewallRules\r\n{}", registry(REGISTRY_VALUES));
        let rules = parse_registry_rules("reg", &text);
        assert_eq!(rules.len(), 4);
        let rdp = &rules[0];
        assert_eq!(rdp.action, Some(Action::Allow));
        assert_eq!((rdp.enabled, rdp.inbound), (Some(true), Some(true)));
        assert_eq!(rdp.profiles, Some(ALL_PROFILES));
        assert_eq!(rdp.local_ports, Some(vec![(3389, 3389)]));
        assert_eq!(rdp.service.as_deref(), Some("termservice"));
        // svchost for the termservice service: not the replication engine, even on 3389.
        assert_eq!(applies(rdp, 3389, peer(), PUBLIC), Applies::No);
        // RdpSa.exe, every port, Edge=TRUE: a program rule, not for BSR/DRX.
        assert_eq!(rules[1].edge.as_deref(), Some("TRUE"));
        assert_eq!(applies(&rules[1], 7789, peer(), PUBLIC), Applies::No);
        // App=System is kernel-mode listening, as BSR's driver does: counts for its port only.
        assert_eq!(applies(&rules[3], 5357, peer(), PUBLIC), Applies::Yes);
        assert_eq!(applies(&rules[3], 7789, peer(), PUBLIC), Applies::No);
    }

    #[test]
    fn block_rules_win_and_remote_addresses_count() {
        let text = registry(
            "v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=7789-7799|Name=BSR|\n\
             v2.10|Action=Block|Active=TRUE|Dir=In|Protocol=6|LPort=7790|RA4=10.0.0.2|Name=deny peer|\n\
             v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=8000|RA4=192.168.1.0/255.255.255.0|Name=lan only|\n\
             v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=9000|RA4=LocalSubnet|Name=subnet|\n\
             v2.10|Action=Allow|Active=FALSE|Dir=In|Protocol=6|LPort=9100|Name=off|\n\
             v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=17|LPort=9200|Name=udp|",
        );
        let rules = parse_registry_rules("reg", &text);
        assert!(decide(&rules, 7789, peer(), PUBLIC, None).allowed);
        let blocked = decide(&rules, 7790, peer(), PUBLIC, None);
        assert!(!blocked.allowed);
        assert!(blocked.reason.contains("deny peer"));
        assert_eq!(blocked.by.and_then(|p| p.line), Some(2));
        // The block rule names another address: the allow rule stands.
        assert!(decide(&rules, 7790, "10.0.0.3".parse().ok(), PUBLIC, None).allowed);
        assert!(
            !decide(&rules, 8000, peer(), PUBLIC, None).allowed,
            "peer outside 192.168.1.0/24"
        );
        assert!(decide(&rules, 8000, "192.168.1.7".parse().ok(), PUBLIC, None).allowed);
        // LocalSubnet cannot be resolved from a bundle: benefit of the doubt.
        assert!(decide(&rules, 9000, peer(), PUBLIC, None).allowed);
        assert!(
            !decide(&rules, 9100, peer(), PUBLIC, None).allowed,
            "disabled"
        );
        assert!(!decide(&rules, 9200, peer(), PUBLIC, None).allowed, "udp");
        // BlockInboundAlways ignores allow rules.
        let always = Place::file("profiles");
        assert!(!decide(&rules, 7789, peer(), PUBLIC, Some(&always)).allowed);
    }

    #[test]
    fn unreadable_fields_are_not_guessed() {
        // Labels in a language we do not read: the rule is undecided, which may allow...
        let foreign = "\nNom de la règle:                      BSR\n----------------------------------------------------------------------\nActivée:                              Oui\nSens:                                 Entrée\nProtocole:                            TCP\nPort local:                           7789\nAction:                               Autoriser\n";
        let rules = parse_rules("r", foreign);
        assert!(matches!(
            applies(&rules[0], 7789, peer(), PUBLIC),
            Applies::Unknown(_)
        ));
        assert!(decide(&rules, 7789, peer(), PUBLIC, None).allowed);
        // ...and a block rule that cannot be read does not block, but is named.
        let block = foreign.replace("Autoriser", "Block");
        let decision = decide(&parse_rules("r", &block), 7789, peer(), PUBLIC, None);
        assert!(!decision.allowed);
        assert!(
            decision
                .notes
                .iter()
                .any(|n| n.contains("Enabled unreadable")),
            "{decision:?}"
        );
    }

    #[test]
    fn korean_rule_labels() {
        let ko = "\n규칙 이름:                            DRX\n----------------------------------------------------------------------\n사용:                                 예\n방향:                                 들어오기\n프로필:                               도메인,개인,공용\n프로토콜:                             TCP\n로컬 포트:                            7789\n작업:                                 허용\n";
        let rules = parse_rules("r", ko);
        assert_eq!(rules[0].name, "DRX");
        assert!(decide(&rules, 7789, peer(), PUBLIC, None).allowed);
        assert!(!decide(&rules, 7790, peer(), PUBLIC, None).allowed);
    }
}
