//! iptables filter rules from `iptables -S`, `/etc/sysconfig/iptables` (iptables-save) and
//! `service iptables status` (CentOS 6's `iptables -L -n` listing), and their evaluation for one
//! new inbound TCP connection. A condition we cannot decide (an interface other than `lo`, an
//! unknown match module, an unknown source) is read in favour of acceptance: an ACCEPT rule with
//! such a condition counts, a DROP rule does not — so the rule fires only when blocking is certain.
use std::collections::HashMap;
use std::net::IpAddr;

use crate::rules::model::{Net, Place};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    Yes,
    No,
    Unknown,
}

impl Match {
    fn and(self, other: Match) -> Match {
        match (self, other) {
            (Match::No, _) | (_, Match::No) => Match::No,
            (Match::Unknown, _) | (_, Match::Unknown) => Match::Unknown,
            _ => Match::Yes,
        }
    }

    fn negate(self, negated: bool) -> Match {
        match (self, negated) {
            (Match::Yes, true) => Match::No,
            (Match::No, true) => Match::Yes,
            (m, _) => m,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Accept,
    Drop,
    Return,
    Jump(String),
    /// LOG, MARK, ... : the packet continues.
    Other,
}

impl Target {
    fn parse(name: &str) -> Target {
        match name {
            "ACCEPT" => Target::Accept,
            "DROP" | "REJECT" => Target::Drop,
            "RETURN" => Target::Return,
            "" => Target::Other,
            // A user chain (any spelling, GATE or ufw-user-input) or an extension target (LOG,
            // MARK, ...): which one is decided when evaluating, by whether the chain exists.
            chain => Target::Jump(chain.to_string()),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Conditions {
    protocol: Option<(String, bool)>,
    source: Option<(Option<Net>, bool)>,
    destination: Option<(Option<Net>, bool)>,
    in_interface: Option<(String, bool)>,
    dports: Option<(Vec<(u16, u16)>, bool)>,
    states: Option<(Vec<String>, bool)>,
    /// `-m addrtype --dst-type T`: the packet is addressed to this host (LOCAL, UNICAST).
    dst_type: Option<(String, bool)>,
    unknown: bool,
}

#[derive(Debug, Clone)]
pub struct Rule {
    conditions: Conditions,
    pub target: Target,
    pub place: Place,
}

/// A new inbound TCP connection.
#[derive(Debug, Clone, Copy)]
pub struct Packet {
    pub dport: u16,
    pub destination: IpAddr,
    pub source: Option<IpAddr>,
}

impl Rule {
    fn matches(&self, packet: &Packet) -> Match {
        let c = &self.conditions;
        let mut m = if c.unknown {
            Match::Unknown
        } else {
            Match::Yes
        };
        if let Some((proto, neg)) = &c.protocol {
            let p = match proto.to_ascii_lowercase().as_str() {
                "tcp" | "6" | "all" | "0" => Match::Yes,
                _ => Match::No,
            };
            m = m.and(p.negate(*neg));
        }
        if let Some((net, neg)) = &c.source {
            let s = match (net, packet.source) {
                (Some(net), Some(ip)) => bool_match(net.contains(&ip)),
                _ => Match::Unknown,
            };
            m = m.and(s.negate(*neg));
        }
        if let Some((net, neg)) = &c.destination {
            let d = match net {
                Some(net) => bool_match(net.contains(&packet.destination)),
                None => Match::Unknown,
            };
            m = m.and(d.negate(*neg));
        }
        if let Some((iface, neg)) = &c.in_interface {
            // Traffic from the peer never arrives on loopback; any other name may be its NIC.
            let i = if iface == "lo" {
                Match::No
            } else {
                Match::Unknown
            };
            m = m.and(i.negate(*neg));
        }
        if let Some((ranges, neg)) = &c.dports {
            let hit = ranges
                .iter()
                .any(|(lo, hi)| (*lo..=*hi).contains(&packet.dport));
            m = m.and(bool_match(hit).negate(*neg));
        }
        if let Some((kind, neg)) = &c.dst_type {
            // The peer connects to an address of this host: LOCAL and UNICAST match, the
            // broadcast/multicast/other types do not; a list (`LOCAL,UNICAST`) matches if any does.
            let hit = kind
                .split(',')
                .any(|k| matches!(k.to_ascii_uppercase().as_str(), "LOCAL" | "UNICAST"));
            m = m.and(bool_match(hit).negate(*neg));
        }
        if let Some((states, neg)) = &c.states {
            // A new connection is in state NEW; RELATED,ESTABLISHED alone never opens a port.
            let hit = states.iter().any(|s| s.eq_ignore_ascii_case("NEW"));
            m = m.and(bool_match(hit).negate(*neg));
        }
        m
    }
}

fn bool_match(b: bool) -> Match {
    if b {
        Match::Yes
    } else {
        Match::No
    }
}

/// The filter table as far as INPUT is concerned.
#[derive(Debug, Clone, Default)]
pub struct Ruleset {
    pub policies: HashMap<String, (String, Place)>,
    pub chains: HashMap<String, Vec<Rule>>,
    /// `service iptables status` said the firewall is not running.
    pub stopped: bool,
}

impl Ruleset {
    /// The firewall filters inbound traffic at all (INPUT has rules or a non-ACCEPT policy).
    pub fn is_active(&self) -> bool {
        if self.stopped {
            return false;
        }
        let has_rules = self.chains.get("INPUT").is_some_and(|r| !r.is_empty());
        let policy_blocks = self
            .policies
            .get("INPUT")
            .is_some_and(|(p, _)| p != "ACCEPT");
        has_rules || policy_blocks
    }

    /// Whether the packet may be accepted, and the rule or policy that decided otherwise.
    /// Rules whose condition cannot be decided fork the path (it may match or not): the packet
    /// counts as refused only when every path ends in DROP/REJECT (or a refusing policy), so a
    /// doubtful RETURN (ufw's `--dst-type ...`, an unknown match) never makes a later DROP
    /// certain.
    pub fn verdict(&self, packet: &Packet) -> (bool, Option<Place>) {
        let outcomes = self.chain_outcomes("INPUT", packet, 0);
        if outcomes.accept {
            return (true, outcomes.accept_place);
        }
        if outcomes.falls_through {
            return match self.policies.get("INPUT") {
                Some((policy, place)) if policy != "ACCEPT" => (false, Some(place.clone())),
                Some((_, place)) => (true, Some(place.clone())),
                None => (true, None),
            };
        }
        (false, outcomes.drop_place)
    }

    fn chain_outcomes(&self, chain: &str, packet: &Packet, depth: usize) -> Outcomes {
        let mut out = Outcomes::default();
        if depth > 16 {
            // Too deep to follow: undecidable, read in favour of acceptance.
            out.accept = true;
            return out;
        }
        for rule in self.chains.get(chain).map(Vec::as_slice).unwrap_or(&[]) {
            let m = rule.matches(packet);
            if m == Match::No {
                continue;
            }
            let certain = m == Match::Yes;
            match &rule.target {
                Target::Accept => {
                    out.accept = true;
                    out.accept_place.get_or_insert_with(|| rule.place.clone());
                    if certain {
                        return out;
                    }
                }
                Target::Drop => {
                    out.drop_place.get_or_insert_with(|| rule.place.clone());
                    if certain {
                        return out;
                    }
                }
                Target::Return => {
                    out.falls_through = true;
                    if certain {
                        return out;
                    }
                }
                Target::Jump(sub) if !self.chains.contains_key(sub) => {
                    // An extension target. (N)FQUEUE hands the packet to a program that may
                    // accept it; the rest (LOG, MARK, ...) let it continue. An empty user
                    // chain returns at once, which is the same.
                    if sub == "NFQUEUE" || sub == "QUEUE" {
                        out.accept = true;
                    }
                }
                Target::Jump(sub) => {
                    let inner = self.chain_outcomes(sub, packet, depth + 1);
                    if inner.accept {
                        out.accept = true;
                        if out.accept_place.is_none() {
                            out.accept_place = inner.accept_place;
                        }
                    }
                    if out.drop_place.is_none() {
                        out.drop_place = inner.drop_place;
                    }
                    // The sub-chain decided on every path and the jump is certain: done.
                    if certain && !inner.falls_through {
                        return out;
                    }
                }
                Target::Other => {}
            }
        }
        out.falls_through = true;
        out
    }
}

/// What may happen to a packet in one chain: accepted on some path, dropped on some path
/// (where first), or back to the caller on some path.
#[derive(Debug, Default)]
struct Outcomes {
    accept: bool,
    accept_place: Option<Place>,
    drop_place: Option<Place>,
    falls_through: bool,
}

/// Splits a rule line into words, keeping `"quoted text"` together.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            c if c.is_whitespace() && !quoted => {
                if started {
                    out.push(std::mem::take(&mut current));
                    started = false;
                }
            }
            c => {
                current.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(current);
    }
    out
}

fn port_ranges(text: &str) -> Option<Vec<(u16, u16)>> {
    let mut ranges = Vec::new();
    for part in text.split(',') {
        let (lo, hi) = match part.split_once(':') {
            Some((lo, hi)) => (lo, hi),
            None => (part, part),
        };
        let lo: u16 = if lo.is_empty() { 0 } else { lo.parse().ok()? };
        let hi: u16 = if hi.is_empty() {
            u16::MAX
        } else {
            hi.parse().ok()?
        };
        ranges.push((lo.min(hi), lo.max(hi)));
    }
    Some(ranges)
}

/// Parses `iptables -S` or iptables-save text (only the filter table).
pub fn parse_rules(path: &str, text: &str) -> Ruleset {
    let mut set = Ruleset::default();
    let mut table_is_filter = true;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        let place = || Place::new(path, i as u64 + 1, line);
        if let Some(table) = trimmed.strip_prefix('*') {
            table_is_filter = table.trim() == "filter";
            continue;
        }
        if !table_is_filter || trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix(':') {
            // iptables-save chain header `:INPUT DROP [0:0]`.
            let mut w = rest.split_whitespace();
            if let (Some(chain), Some(policy)) = (w.next(), w.next()) {
                if policy != "-" {
                    set.policies
                        .insert(chain.to_string(), (policy.to_string(), place()));
                }
            }
            continue;
        }
        let w = words(trimmed);
        match w.first().map(String::as_str) {
            Some("-P") if w.len() >= 3 => {
                set.policies.insert(w[1].clone(), (w[2].clone(), place()));
            }
            Some("-A") | Some("-I") if w.len() >= 2 => {
                let mut rest = &w[2..];
                // `-I CHAIN N`: a position number may follow.
                if w[0] == "-I" && rest.first().is_some_and(|n| n.parse::<u32>().is_ok()) {
                    rest = &rest[1..];
                }
                let rule = parse_rule_words(rest, place());
                let chain = set.chains.entry(w[1].clone()).or_default();
                if w[0] == "-I" {
                    chain.insert(0, rule);
                } else {
                    chain.push(rule);
                }
            }
            _ => {}
        }
    }
    set
}

fn parse_rule_words(words: &[String], place: Place) -> Rule {
    let mut c = Conditions::default();
    let mut target = Target::Other;
    let mut negate = false;
    let mut i = 0;
    let value = |i: usize| words.get(i + 1).map(String::as_str).unwrap_or("");
    while i < words.len() {
        let word = words[i].as_str();
        let neg = std::mem::take(&mut negate);
        let mut consumed = 2;
        match word {
            "!" => {
                negate = true;
                consumed = 1;
            }
            "-p" | "--protocol" => c.protocol = Some((value(i).to_string(), neg)),
            "-s" | "--source" | "--src" => c.source = Some((Net::parse(value(i)), neg)),
            "-d" | "--destination" | "--dst" => c.destination = Some((Net::parse(value(i)), neg)),
            "-i" | "--in-interface" => c.in_interface = Some((value(i).to_string(), neg)),
            "--dport" | "--destination-port" | "--dports" | "--destination-ports" => {
                match port_ranges(value(i)) {
                    Some(r) => c.dports = Some((r, neg)),
                    None => c.unknown = true,
                }
            }
            "--dst-type" => c.dst_type = Some((value(i).to_string(), neg)),
            "--state" | "--ctstate" => {
                let states = value(i).split(',').map(str::to_string).collect();
                c.states = Some((states, neg));
            }
            "-j" | "--jump" | "-g" | "--goto" => target = Target::parse(value(i)),
            // Match modules whose own options are read above, and harmless annotations.
            "-m" | "--match" | "--comment" | "--reject-with" | "--log-prefix" | "-o"
            | "--out-interface" => {}
            other => {
                // An option we do not model: its condition is unknown; skip its values.
                if other.starts_with('-') {
                    c.unknown = true;
                }
                consumed = 1;
                while words
                    .get(i + consumed)
                    .is_some_and(|w| !w.starts_with('-') && w != "!")
                {
                    consumed += 1;
                }
            }
        }
        i += consumed;
    }
    Rule {
        conditions: c,
        target,
        place,
    }
}

/// Parses `service iptables status` (`iptables -L -n --line-numbers` per table). It shows no
/// interfaces: the usual `-i lo -j ACCEPT` rule reads as "accept all", which only errs towards
/// silence.
pub fn parse_status(path: &str, text: &str) -> Ruleset {
    let mut set = Ruleset::default();
    let mut table_is_filter = true;
    let mut chain: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        let place = || Place::new(path, i as u64 + 1, line);
        if trimmed.contains("not running") {
            set.stopped = true;
            continue;
        }
        if let Some(table) = trimmed.strip_prefix("Table:") {
            table_is_filter = table.trim() == "filter";
            chain = None;
            continue;
        }
        if !table_is_filter {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("Chain ") {
            let mut w = rest.split_whitespace();
            let name = w.next().unwrap_or("").to_string();
            if let Some(at) = rest.find("(policy ") {
                let policy = rest[at + 8..]
                    .trim_end_matches(')')
                    .split_whitespace()
                    .next();
                if let Some(policy) = policy {
                    set.policies
                        .insert(name.clone(), (policy.to_string(), place()));
                }
            }
            chain = Some(name);
            continue;
        }
        let Some(chain_name) = chain.clone() else {
            continue;
        };
        let w: Vec<&str> = trimmed.split_whitespace().collect();
        if w.first().is_none_or(|n| n.parse::<u32>().is_err()) {
            continue;
        }
        // `num target prot opt source destination extra...`; target may be blank.
        let (target, rest) = if w.len() > 3 && w[2] == "--" {
            ("", &w[1..])
        } else if w.len() > 4 {
            (w[1], &w[2..])
        } else {
            continue;
        };
        if rest.len() < 4 {
            continue;
        }
        let mut c = Conditions {
            protocol: Some((rest[0].to_string(), false)),
            ..Conditions::default()
        };
        let source = rest[2].trim_start_matches('!');
        if source != "0.0.0.0/0" && source != "::/0" {
            c.source = Some((Net::parse(source), rest[2].starts_with('!')));
        }
        let destination = rest[3].trim_start_matches('!');
        if destination != "0.0.0.0/0" && destination != "::/0" {
            c.destination = Some((Net::parse(destination), rest[3].starts_with('!')));
        }
        let extra = &rest[4..];
        let mut j = 0;
        while j < extra.len() {
            let word = extra[j];
            if let Some(ports) = word
                .strip_prefix("dpt:")
                .or_else(|| word.strip_prefix("dpts:"))
            {
                match port_ranges(ports) {
                    Some(r) => c.dports = Some((r, false)),
                    None => c.unknown = true,
                }
            } else if word == "dports" || word == "dpt" {
                match extra.get(j + 1).and_then(|p| port_ranges(p)) {
                    Some(r) => c.dports = Some((r, false)),
                    None => c.unknown = true,
                }
                j += 1;
            } else if word == "state" || word == "ctstate" {
                if let Some(states) = extra.get(j + 1) {
                    c.states = Some((states.split(',').map(str::to_string).collect(), false));
                }
                j += 1;
            } else if word == "/*" {
                while j < extra.len() && extra[j] != "*/" {
                    j += 1;
                }
            } else if matches!(
                word,
                "tcp"
                    | "udp"
                    | "multiport"
                    | "reject-with"
                    | "icmp-host-prohibited"
                    | "icmp-port-unreachable"
                    | "LOG"
                    | "flags"
                    | "level"
                    | "prefix"
            ) || word.starts_with("spt")
            {
                if word.starts_with("spt") {
                    c.unknown = true;
                }
            } else {
                c.unknown = true;
            }
            j += 1;
        }
        set.chains.entry(chain_name).or_default().push(Rule {
            conditions: c,
            target: Target::parse(target),
            place: place(),
        });
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::model::parse_ip;

    fn packet(port: u16, source: Option<&str>) -> Packet {
        Packet {
            dport: port,
            destination: parse_ip("10.0.0.1").expect("ip"),
            source: source.and_then(parse_ip),
        }
    }

    const CENTOS6_SAVE: &str = "# Generated by iptables-save\n*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp --dport 7789 -j DNAT --to 1.1.1.1\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p icmp -j ACCEPT\n-A INPUT -i lo -j ACCEPT\n-A INPUT -m state --state NEW -m tcp -p tcp --dport 22 -j ACCEPT\n-A INPUT -p tcp -s 10.0.0.2 -d 10.0.0.1 --dport 7789 -j ACCEPT\n-A INPUT -p tcp -m multiport --dports 7800,7810:7820 -j ACCEPT\n-A INPUT -j REJECT --reject-with icmp-host-prohibited\nCOMMIT\n";

    #[test]
    fn saved_rules_with_reject_at_the_end() {
        let set = parse_rules("files/etc/sysconfig/iptables", CENTOS6_SAVE);
        assert!(set.is_active());
        assert!(set.verdict(&packet(7789, Some("10.0.0.2"))).0);
        // From another source the -s rule does not apply.
        let (accepted, place) = set.verdict(&packet(7789, Some("10.9.9.9")));
        assert!(!accepted);
        assert_eq!(place.and_then(|p| p.line), Some(16));
        assert!(set.verdict(&packet(7815, None)).0);
        assert!(set.verdict(&packet(7800, None)).0);
        assert!(!set.verdict(&packet(7790, None)).0);
        // Unknown peer: the -s rule is given the benefit of the doubt.
        assert!(set.verdict(&packet(7789, None)).0);
    }

    #[test]
    fn iptables_s_policy_drop_and_user_chains() {
        let text = "-P INPUT DROP\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-N IN_public_allow\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -i lo -j ACCEPT\n-A INPUT -j IN_public_allow\n-A IN_public_allow -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j ACCEPT\n-A IN_public_allow -p tcp -m tcp --dport 7788:7799 -m conntrack --ctstate NEW -j ACCEPT\n";
        let set = parse_rules("commands/iptables-s.txt", text);
        assert!(set.verdict(&packet(7789, None)).0);
        let (accepted, place) = set.verdict(&packet(8000, None));
        assert!(!accepted);
        assert_eq!(place.and_then(|p| p.line), Some(1));
        // Only RELATED,ESTABLISHED and lo: a new connection is dropped.
        let only_state = parse_rules("x", "-P INPUT DROP\n-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -i lo -j ACCEPT\n");
        assert!(!only_state.verdict(&packet(7789, None)).0);
    }

    #[test]
    fn empty_accept_policy_is_inactive() {
        let set = parse_rules(
            "x",
            "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n",
        );
        assert!(!set.is_active());
    }

    #[test]
    fn service_status_listing() {
        let text = "Table: filter\nChain INPUT (policy ACCEPT)\nnum  target     prot opt source               destination         \n1    ACCEPT     all  --  0.0.0.0/0            0.0.0.0/0           state RELATED,ESTABLISHED \n2    ACCEPT     icmp --  0.0.0.0/0            0.0.0.0/0           \n3    ACCEPT     tcp  --  0.0.0.0/0            0.0.0.0/0           state NEW tcp dpt:22 \n4    ACCEPT     tcp  --  10.0.0.2             0.0.0.0/0           tcp dpts:7788:7790 \n5    REJECT     all  --  0.0.0.0/0            0.0.0.0/0           reject-with icmp-host-prohibited \n\nChain FORWARD (policy ACCEPT)\nnum  target     prot opt source               destination         \n1    REJECT     all  --  0.0.0.0/0            0.0.0.0/0           reject-with icmp-host-prohibited \n";
        let set = parse_status("commands/iptables-service-status.txt", text);
        assert!(set.is_active());
        assert!(set.verdict(&packet(7789, Some("10.0.0.2"))).0);
        let (accepted, place) = set.verdict(&packet(7789, Some("10.0.0.3")));
        assert!(!accepted);
        assert_eq!(place.and_then(|p| p.line), Some(8));
        let stopped = parse_status("x", "iptables: Firewall is not running.\n");
        assert!(!stopped.is_active());
    }

    #[test]
    fn garbage() {
        let set = parse_rules(
            "x",
            "-A\n-A INPUT ! ! -p\n-P INPUT\n-A INPUT --dport x:y -j ACCEPT\n-I INPUT 1 -j\n",
        );
        let _ = set.verdict(&packet(1, None));
        let _ = parse_status(
            "x",
            "Chain\n1\n1 2 3\nChain X (policy\n1 ACCEPT tcp -- a b dpt:\n",
        );
        // A chain jumping to itself terminates.
        let set = parse_rules("x", "-P INPUT DROP\n-A INPUT -j LOOP\n-A LOOP -j LOOP\n");
        let _ = set.verdict(&packet(1, None));
    }
}

#[cfg(test)]
mod outcome_tests {
    use super::*;
    use crate::rules::model::parse_ip;

    fn packet(port: u16) -> Packet {
        Packet {
            dport: port,
            destination: parse_ip("10.1.1.31").expect("ip"),
            source: parse_ip("10.1.1.32"),
        }
    }

    #[test]
    fn a_doubtful_return_forks_the_path() {
        let certain = "-P INPUT DROP\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-N GATE\n-A INPUT -i lo -j ACCEPT\n-A INPUT -j GATE\n-A INPUT -p tcp -m tcp --dport 7789 -j ACCEPT\n-A GATE -p tcp -m tcp --dport 22 -j RETURN\n-A GATE -j DROP\n";
        let set = parse_rules("commands/iptables-s.txt", certain);
        let (accepted, place) = set.verdict(&packet(7789));
        assert!(!accepted);
        assert_eq!(place.and_then(|p| p.line), Some(9));
        let doubtful = certain.replace(
            "-A GATE -p tcp",
            "-A GATE -i eth1 -j RETURN\n-A GATE -p tcp",
        );
        let set = parse_rules("x", &doubtful);
        assert!(set.verdict(&packet(7789)).0);
        // A doubtful DROP is not certain either; a doubtful ACCEPT is a way in.
        let drop = "-P INPUT ACCEPT\n-A INPUT -m recent --rcheck -j DROP\n";
        assert!(parse_rules("x", drop).verdict(&packet(7789)).0);
        let ufw_local = "-P INPUT DROP\n-N ufw-not-local\n-A INPUT -j ufw-not-local\n-A INPUT -p tcp --dport 7789 -j ACCEPT\n-A ufw-not-local -m addrtype --dst-type LOCAL -j RETURN\n-A ufw-not-local -j DROP\n";
        assert!(parse_rules("x", ufw_local).verdict(&packet(7789)).0);
        assert!(!parse_rules("x", ufw_local).verdict(&packet(7790)).0);
    }
}
