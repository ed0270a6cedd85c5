//! Windows Firewall from `netsh advfirewall show allprofiles` and `netsh advfirewall firewall
//! show rule name=all verbose`. Labels and some values are localized; we recognise English and
//! Korean labels, and key on values that are never translated (`BlockInbound`, port numbers,
//! `TCP`). When a rule's fields cannot be recognised it is taken to allow (silence over a false
//! alarm).
use crate::rules::model::Place;

/// Block boundaries in both outputs are lines of dashes under a heading line.
fn is_rule_line(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 10 && t.chars().all(|c| c == '-')
}

/// True when some profile is ON and blocks inbound connections by default.
pub fn firewall_active(profiles: &str) -> Option<Place> {
    let lines: Vec<&str> = profiles.lines().collect();
    let mut blocks: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (i, line) in lines.iter().enumerate() {
        if is_rule_line(line) {
            if let Some(s) = start {
                blocks.push((s, i.saturating_sub(1)));
            }
            start = Some(i + 1);
        }
    }
    if let Some(s) = start {
        blocks.push((s, lines.len()));
    }
    for (from, to) in blocks {
        let mut on: Option<usize> = None;
        let mut policy_allows = false;
        for (i, line) in lines.iter().enumerate().take(to).skip(from) {
            let last = line.split_whitespace().last().unwrap_or("");
            let first = line.split_whitespace().next().unwrap_or("");
            let state_label = first.eq_ignore_ascii_case("State") || first == "상태";
            if state_label && matches!(last.to_ascii_uppercase().as_str(), "ON" | "켜기" | "사용")
            {
                on = Some(i);
            }
            if line.contains("AllowInbound") {
                policy_allows = true;
            }
        }
        if let Some(i) = on {
            if !policy_allows {
                return Some(Place::new("", i as u64 + 1, lines[i]));
            }
        }
    }
    None
}

#[derive(Debug, Clone, Default)]
pub struct FirewallRule {
    pub enabled: Option<bool>,
    pub inbound: Option<bool>,
    pub allow: Option<bool>,
    /// None = any protocol.
    pub tcp: Option<bool>,
    /// None = any port (or not recognised).
    pub local_ports: Option<Vec<(u16, u16)>>,
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

fn yes(value: &str) -> Option<bool> {
    match value.to_lowercase().as_str() {
        "yes" | "예" => Some(true),
        "no" | "아니요" => Some(false),
        _ => None,
    }
}

fn ports(value: &str) -> Option<Vec<(u16, u16)>> {
    if value.eq_ignore_ascii_case("any") || value == "모두" {
        return None;
    }
    let mut out = Vec::new();
    for part in value.split(',') {
        let part = part.trim();
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        // RPC, RPC-EPMap, IPHTTPS...: named port sets that never hold a replication port.
        if let (Ok(lo), Ok(hi)) = (lo.trim().parse::<u16>(), hi.trim().parse::<u16>()) {
            out.push((lo.min(hi), lo.max(hi)));
        }
    }
    Some(out)
}

pub fn parse_rules(text: &str) -> Vec<FirewallRule> {
    let mut rules = Vec::new();
    let mut current: Option<FirewallRule> = None;
    for line in text.lines() {
        if is_rule_line(line) {
            if let Some(rule) = current.take() {
                rules.push(rule);
            }
            current = Some(FirewallRule::default());
            continue;
        }
        let (Some(rule), Some((label, value))) = (current.as_mut(), label_and_value(line)) else {
            continue;
        };
        match label.as_str() {
            "enabled" | "사용" => rule.enabled = yes(value),
            "direction" | "방향" => {
                rule.inbound = match value.to_lowercase().as_str() {
                    "in" | "들어오기" | "인바운드" => Some(true),
                    "out" | "나가기" | "아웃바운드" => Some(false),
                    _ => None,
                }
            }
            "action" | "작업" | "동작" => {
                rule.allow = match value.to_lowercase().as_str() {
                    "allow" | "허용" => Some(true),
                    "block" | "차단" => Some(false),
                    _ => None,
                }
            }
            "protocol" | "프로토콜" => {
                rule.tcp = match value.to_lowercase().as_str() {
                    "tcp" | "6" => Some(true),
                    "any" | "모두" => None,
                    _ => Some(false),
                }
            }
            "localport" | "로컬포트" => rule.local_ports = ports(value),
            _ => {}
        }
    }
    if let Some(rule) = current {
        rules.push(rule);
    }
    rules
}

/// Some enabled inbound allow rule covers the TCP port (unrecognised fields count as covering).
pub fn allows(rules: &[FirewallRule], port: u16) -> bool {
    rules.iter().any(|r| {
        r.enabled != Some(false)
            && r.inbound != Some(false)
            && r.allow != Some(false)
            && r.tcp != Some(false)
            && r.local_ports
                .as_ref()
                .is_none_or(|ranges| ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&port)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILES: &str = "\nDomain Profile Settings:\n----------------------------------------------------------------------\nState                                 ON\nFirewall Policy                       BlockInbound,AllowOutbound\n\nPrivate Profile Settings:\n----------------------------------------------------------------------\nState                                 OFF\nFirewall Policy                       BlockInbound,AllowOutbound\n\nPublic Profile Settings:\n----------------------------------------------------------------------\nState                                 ON\nFirewall Policy                       BlockInbound,AllowOutbound\nOk.\n";

    #[test]
    fn profiles_on_and_off() {
        assert!(firewall_active(PROFILES).is_some());
        let off = PROFILES.replace("ON\n", "OFF\n");
        assert!(firewall_active(&off).is_none());
        let allow = PROFILES.replace("BlockInbound", "AllowInbound");
        assert!(firewall_active(&allow).is_none());
    }

    const RULES: &str = "\nRule Name:                            DRX\n----------------------------------------------------------------------\nEnabled:                              Yes\nDirection:                            In\nProfiles:                             Domain,Private,Public\nGrouping:                             \nLocalIP:                              Any\nRemoteIP:                             Any\nProtocol:                             TCP\nLocalPort:                            7789-7799,8000\nRemotePort:                           Any\nEdge traversal:                       No\nAction:                               Allow\n\nRule Name:                            Off rule\n----------------------------------------------------------------------\nEnabled:                              No\nDirection:                            In\nProtocol:                             TCP\nLocalPort:                            9000\nAction:                               Allow\n\nRule Name:                            Remote Desktop\n----------------------------------------------------------------------\nEnabled:                              Yes\nDirection:                            In\nProtocol:                             TCP\nLocalPort:                            3389\nAction:                               Allow\nOk.\n";

    #[test]
    fn rules_cover_ports() {
        let rules = parse_rules(RULES);
        assert_eq!(rules.len(), 3);
        assert!(allows(&rules, 7789));
        assert!(allows(&rules, 8000));
        assert!(!allows(&rules, 9000), "disabled");
        assert!(!allows(&rules, 7800));
    }

    #[test]
    fn korean_labels() {
        let ko = "\n규칙 이름:                            DRX\n----------------------------------------------------------------------\n사용:                                 예\n방향:                                 들어오기\n프로토콜:                             TCP\n로컬 포트:                            7789\n작업:                                 허용\n";
        let rules = parse_rules(ko);
        assert!(allows(&rules, 7789));
        assert!(!allows(&rules, 7790));
    }
}
